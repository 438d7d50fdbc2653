"""`xmpp-iot server-config`: what a DSO pastes into its ejabberd or Prosody, and systemd units.

    xmpp-iot server-config --kind ejabberd --domain dso.example --component registry --component provisioning
    xmpp-iot server-config --kind prosody --domain dso.example --component registry --secrets-dir /etc/xmpp-iot
    xmpp-iot server-config --systemd registry --domain dso.example --server 127.0.0.1:5347

The snippets carry the settings the test servers were measured with (docs/deployment.md): one
XEP-0114 listener per component on ejabberd (it routes every host of a listener to every
component connected to it), the components allowed to create pub/sub nodes (ejabberd:
``access_createnode``; Prosody: ``admins`` of the pub/sub service, whose owners alone may create
nodes). Secrets are generated into 0600 environment files only with ``--secrets-dir``; otherwise
the snippet holds a placeholder. A systemd unit reads the secret from its EnvironmentFile, never
from the command line (which every local user can read in /proc).
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from .component import SECRET_ENV
from .devserver.wiring import wiring_flags

__all__ = ["Component", "ejabberd_snippet", "prosody_snippet", "systemd_unit"]

KNOWN = ("registry", "provisioning", "sensordata")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


@dataclass(frozen=True, slots=True)
class Component:
    name: str  # short name: registry, provisioning, sensordata
    domain: str
    port: int
    secret: str

    @property
    def jid(self) -> str:
        return f"{self.name}.{self.domain}"


def ejabberd_snippet(domain: str, components: list[Component], pubsub_host: str | None = None,
                     listen_ip: str = "127.0.0.1") -> str:
    """YAML for ejabberd.yml (23.01): component listeners, the ACL, and pub/sub node creation."""
    pubsub_host = pubsub_host or f"pubsub.{domain}"
    listeners = "".join(
        f"""  - port: {c.port}
    ip: "{listen_ip}"
    module: ejabberd_service
    backlog: 128
    hosts:
      "{c.jid}":
        password: "{c.secret}"
"""
        for c in components
    )
    jids = ", ".join(f'"{c.jid}"' for c in components)
    return f"""# --- xmpp-iot components for ejabberd 23.01: merge into /etc/ejabberd/ejabberd.yml ---
# One XEP-0114 listener per component: ejabberd routes every host of a listener to every
# component connected to it. Keep them on loopback (or a private interface) only.
listen:
{listeners}
acl:
  iot_components:
    server: [{jids}]

access_rules:
  # only the components create nodes (meas/, efi/, alarms/): a user could otherwise squat a
  # device's node, and ejabberd auto-creates a node, owned by the publisher, on first publish
  pubsub_createnode:
    - allow: admin
    - allow: iot_components

modules:
  mod_pubsub:
    hosts: ["{pubsub_host}"]
    access_createnode: pubsub_createnode
    plugins: ["flat", "pep"]
    max_items_node: 1000
  mod_register:          # only if devices create their accounts in-band (XEP-0077)
    access: register
# Also check: no c2s shaper for devices (the sample config limits c2s to 3000 B/s),
# 'registration_timeout: infinity' (top level) if many devices register from one address,
# and '+sbwt none' in ERL_OPTIONS on small machines (schedulers otherwise busy-wait).
"""


def prosody_snippet(domain: str, components: list[Component], pubsub_host: str | None = None,
                    listen_ip: str = "127.0.0.1") -> str:
    """Lua for prosody.cfg.lua (0.12): the component port, Component sections, pub/sub owners."""
    pubsub_host = pubsub_host or f"pubsub.{domain}"
    port = components[0].port if components else 5347
    sections = "".join(
        f"""Component "{c.jid}"
  component_secret = "{c.secret}"

"""
        for c in components
    )
    admins = "; ".join(f'"{c.jid}"' for c in components)
    return f"""-- --- xmpp-iot components for Prosody 0.12: add to /etc/prosody/prosody.cfg.lua ---
-- global section (before the first VirtualHost):
component_ports = {{ {port} }}
component_interface = "{listen_ip}"   -- XEP-0114 on loopback (or a private interface) only
network_settings = {{ nagle = false }} -- otherwise ~40 ms stalls on small stanzas

-- the pub/sub service; only its owners may create nodes, so the components are its admins
Component "{pubsub_host}" "pubsub"
  admins = {{ {admins} }}
  pubsub_max_items = 1000
  expose_publisher = true  -- items say who published them: the sensor-data component checks it

{sections}-- Use a fast storage for pub/sub items (sql or memory), not the default file store, which
-- rewrites the item archive on every publish (about 13x slower).
"""


def systemd_unit(name: str, domain: str, server: str, *, user: str = "xmpp-iot",
                 executable: str = "/opt/xmpp-iot/.venv/bin/xmpp-iot", env_dir: str = "/etc/xmpp-iot",
                 server_kind: str = "prosody", extra_args: list[str] | None = None) -> str:
    """A unit for one component; the secret comes from ``EnvironmentFile`` only.

    `extra_args` wires it to its siblings (see ``xmpp_iot.devserver.wiring.wiring_flags``)."""
    jid = f"{name}.{domain}"
    wiring = "".join(f" {arg}" for arg in extra_args or [])
    return f"""# /etc/systemd/system/xmpp-iot-{name}.service
# The secret lives in {env_dir}/{name}.env (mode 0600, owner root):
#   {SECRET_ENV}=...
[Unit]
Description=xmpp-iot {name} component ({jid})
After=network-online.target {server_kind}.service
Wants=network-online.target

[Service]
Type=simple
User={user}
Group={user}
EnvironmentFile={env_dir}/{name}.env
ExecStart={executable} {name} --server {server} --jid {jid} --db /var/lib/xmpp-iot/{name}/{name}.sqlite3{wiring}
StateDirectory=xmpp-iot/{name}
StateDirectoryMode=0700
# exit status 2: the server refused the JID or secret; restarting will not fix that
Restart=on-failure
RestartPreventExitStatus=2
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=20
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX

[Install]
WantedBy=multi-user.target
"""


def write_secret(env_dir: Path, name: str) -> str:
    """Read the component's secret from ``env_dir/NAME.env``, creating it (0600) if missing."""
    path = env_dir / f"{name}.env"
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == SECRET_ENV and value.strip():
                return value.strip()
        raise ValueError(f"{path} exists but has no {SECRET_ENV}= line")
    env_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(f"{SECRET_ENV}={secret}\n")
    return secret


# -- command line -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=["ejabberd", "prosody"], help="print the server configuration snippet")
    parser.add_argument("--systemd", metavar="NAME", help="print a systemd unit for this component instead")
    parser.add_argument("--domain", required=True, help="the XMPP domain, e.g. dso.example")
    parser.add_argument("--component", action="append", default=[], metavar="NAME",
                        help=f"component short name (repeatable; default: {', '.join(KNOWN)})")
    parser.add_argument("--port", type=int, default=5347, help="first component port (ejabberd: one each)")
    parser.add_argument("--listen-ip", default="127.0.0.1", help="address the component listener binds")
    parser.add_argument("--pubsub-host", help="pub/sub service JID (default: pubsub.DOMAIN)")
    parser.add_argument("--secrets-dir", type=Path,
                        help="create (or reuse) NAME.env secret files here (0600) and put the secrets in the "
                             "snippet; without it the snippet holds placeholders")
    parser.add_argument("--server", default="127.0.0.1:5347", help="--systemd: the component port HOST:PORT")
    parser.add_argument("--server-kind", choices=["ejabberd", "prosody"], default="prosody",
                        help="--systemd: which server unit to start after")
    parser.add_argument("--user", default="xmpp-iot", help="--systemd: system user to run as")
    parser.add_argument("--executable", default="/opt/xmpp-iot/.venv/bin/xmpp-iot",
                        help="--systemd: path of the xmpp-iot command")
    parser.add_argument("--env-dir", default="/etc/xmpp-iot", help="--systemd: where NAME.env lives")
    parser.add_argument("--admin", action="append", default=[], metavar="JID",
                        help="--systemd provisioning: an operator account that may manage every thing (repeatable)")


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.systemd:
        deployed = set(args.component or KNOWN) | {args.systemd}
        pubsub = args.pubsub_host or f"pubsub.{args.domain}"
        flags = wiring_flags(args.systemd, args.domain, pubsub, deployed, admins=args.admin)
        sys.stdout.write(systemd_unit(args.systemd, args.domain, args.server, user=args.user,
                                      executable=args.executable, env_dir=args.env_dir, server_kind=args.server_kind,
                                      extra_args=flags))
        return 0
    names = args.component or list(KNOWN)
    components = []
    for i, name in enumerate(names):
        if args.secrets_dir is not None:
            try:
                secret = write_secret(args.secrets_dir, name)
            except (OSError, ValueError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
        else:
            secret = f"REPLACE-WITH-SECRET-OF-{name.upper()}"
        port = args.port + i if args.kind == "ejabberd" else args.port
        components.append(Component(name, args.domain, port, secret))
    make = ejabberd_snippet if args.kind == "ejabberd" else prosody_snippet
    sys.stdout.write(make(args.domain, components, args.pubsub_host, args.listen_ip))
    return 0


def _check(args: argparse.Namespace) -> str | None:
    if bool(args.kind) == bool(args.systemd):
        return "give either --kind ejabberd|prosody (server snippet) or --systemd NAME (unit)"
    if not _DOMAIN.match(args.domain):
        return f"--domain {args.domain!r} is not a domain name"
    for name in [*args.component, *([args.systemd] if args.systemd else [])]:
        if not _NAME.match(name):
            return f"component name {name!r}: use lower-case letters, digits and '-'"
    if len(set(args.component)) != len(args.component):
        return "a component is listed twice"
    if not 0 < args.port < 65536 - len(args.component):
        return f"--port {args.port} is not a usable port"
    host, sep, port = args.server.rpartition(":")
    if not sep or not host or not port.isdigit():
        return f"--server {args.server!r}: expected HOST:PORT"
    return None
