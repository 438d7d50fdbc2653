"""How our components find each other on one server: the flags each one is started with.

The registry pushes ownership to provisioning; provisioning trusts that registry, owns the
pub/sub nodes and lets the sensor-data component read on devices' behalf; the sensor-data
component follows the measurement nodes and asks provisioning. The dev server, the demo and
the test fixtures all start components with these flags, so they are wired the same way an
operator's deployment is (see docs/deployment.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from .base import ServerInfo

COMPONENT_ORDER = ("provisioning", "registry", "sensordata")


def component_args(
    name: str, info: ServerInfo, running: set[str] | frozenset[str], *, admins: Iterable[str] = ()
) -> list[str]:
    """Extra command-line flags for component `name` on a dev server, given which of ours run beside it.

    `admins`: operator accounts that may manage every thing's rules and create area nodes at
    provisioning (the demo's DSO account creates ``alarms/<feeder>`` that way)."""
    return wiring_flags(name, info.domain, info.pubsub_jid, running, admins=admins)


def wiring_flags(
    name: str, domain: str, pubsub_jid: str, running: set[str] | frozenset[str], *, admins: Iterable[str] = ()
) -> list[str]:
    """The same flags for any deployment: components are ``<name>.<domain>``."""

    def jid(short: str) -> str:
        return f"{short}.{domain}"

    args: list[str] = []
    if name == "registry" and "provisioning" in running:
        args += ["--provisioning", jid("provisioning")]
    elif name == "provisioning":
        args += ["--pubsub", pubsub_jid]
        if "registry" in running:
            args += ["--registry", jid("registry")]
        if "sensordata" in running:
            args += ["--trusted-service", jid("sensordata")]
        for admin in admins:
            args += ["--admin", admin]
    elif name == "sensordata":
        args += ["--pubsub", pubsub_jid]
        if "provisioning" in running:
            args += ["--provisioning", jid("provisioning")]
        else:  # no one to ask: every account of the domain may read (said so at start-up)
            args += ["--open-to-domain"]
    return args


def start_order(names: list[str] | tuple[str, ...]) -> list[str]:
    """Provisioning first (the others send to it at once), then registry, then sensor data."""
    return sorted(set(names), key=lambda n: COMPONENT_ORDER.index(n) if n in COMPONENT_ORDER else 99)
