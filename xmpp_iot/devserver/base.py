"""What every throwaway XMPP server has in common: ports, secrets, process lifetime.

A `DevServer` owns one temporary directory and one server process bound to 127.0.0.1.
`ServerInfo` is the part that clients and components need to connect; it is plain data so
that it can be printed, written to JSON and handed to another process.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .certs import CertificatePair, make_self_signed
from .ports import free_ports, port_is_taken, wait_for_stream

log = logging.getLogger(__name__)

DEFAULT_COMPONENTS = ("registry", "provisioning", "sensordata")


class DevServerError(RuntimeError):
    """A throwaway server could not be installed, configured or started."""


@dataclass(slots=True)
class ServerInfo:
    """Everything a client or component needs to reach a running dev server."""

    kind: str
    domain: str
    host: str
    c2s_port: int
    c2s_tls_port: int
    component_port: int
    pubsub_jid: str
    ca_cert: str
    components: dict[str, str] = field(default_factory=dict)  # component JID -> secret
    workdir: str = ""
    component_ports: dict[str, int] = field(default_factory=dict)  # component JID -> its port

    def port_for(self, jid: str) -> int:
        """The component port to use for this component (ejabberd: one listener each)."""
        return self.component_ports.get(jid, self.component_port)

    def component_jid(self, name: str) -> str:
        """JID of a configured component by its short name (`registry` -> `registry.localhost`)."""
        return f"{name}.{self.domain}"

    def secret(self, name: str) -> str:
        """Shared secret of a configured component by short name or full JID."""
        jid = name if "." in name else self.component_jid(name)
        return self.components[jid]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ServerInfo:
        return cls(**json.loads(text))


@dataclass(slots=True)
class Ports:
    """The loopback ports one server instance listens on."""

    c2s: int
    c2s_tls: int
    component: int
    extra: int  # ejabberd's Erlang distribution port; unused by Prosody

    @classmethod
    def pick(cls) -> Ports:
        return cls(*free_ports(4))

    def taken(self) -> list[int]:
        return [p for p in (self.c2s, self.c2s_tls, self.component) if port_is_taken(p)]


class DevServer(ABC):
    """A real Prosody or ejabberd, configured in a temp directory and run on loopback."""

    kind: str = ""
    debian_package: str = ""
    binary: str = ""

    def __init__(
        self,
        workdir: Path,
        *,
        domain: str = "localhost",
        components: tuple[str, ...] = DEFAULT_COMPONENTS,
        ports: Ports | None = None,
        persistent_pubsub: bool = False,
        component_secrets: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.domain = domain
        self.ports = ports or Ports.pick()
        self.persistent_pubsub = persistent_pubsub
        given = component_secrets or {}
        self.component_secrets = {
            f"{name}.{domain}": given.get(name) or secrets.token_urlsafe(24) for name in components
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.cert: CertificatePair | None = None
        self.component_ports = self.assign_component_ports()

    def assign_component_ports(self) -> dict[str, int]:
        """Which port each component connects to; by default they share one listener."""
        return dict.fromkeys(self.component_secrets, self.ports.component)

    # -- public API ---------------------------------------------------------------------------
    @property
    def info(self) -> ServerInfo:
        return ServerInfo(
            kind=self.kind,
            domain=self.domain,
            host="127.0.0.1",
            c2s_port=self.ports.c2s,
            c2s_tls_port=self.ports.c2s_tls,
            component_port=self.ports.component,
            pubsub_jid=f"pubsub.{self.domain}",
            ca_cert=str(self.cert.cert if self.cert else ""),
            components=dict(self.component_secrets),
            workdir=str(self.workdir),
            component_ports=dict(self.component_ports),
        )

    def start(self, timeout: float = 30.0) -> ServerInfo:
        """Install if needed, write the configuration, launch, and wait until ready."""
        self.check_installed()
        taken = self.ports.taken() + [p for p in set(self.component_ports.values()) if port_is_taken(p)]
        if taken:
            raise DevServerError(f"{self.kind}: port(s) {taken} on 127.0.0.1 are already in use")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.cert is None:
            self.cert = make_self_signed(self.workdir / "certs", self.domain)
        self.write_config()
        self._launch()
        try:
            self.wait_ready(timeout)
        except Exception:
            self.stop()
            raise
        log.info("%s ready on c2s %d, component %d", self.kind, self.ports.c2s, self.ports.component)
        return self.info

    def stop(self, timeout: float = 15.0) -> None:
        """Stop gracefully (SIGTERM), then forcefully; leaves no process behind."""
        proc = self.process
        if proc is None:
            return
        self.signal_server(signal.SIGTERM)
        self.process = None
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", self.kind, timeout)
        self._kill_group(proc)
        self.after_stop()

    def restart(self, timeout: float = 30.0) -> ServerInfo:
        """Stop and start again on the same ports, keeping the on-disk state."""
        self.stop()
        return self.start(timeout)

    def kill(self) -> None:
        """SIGKILL the whole server process group, as a crash would."""
        proc, self.process = self.process, None
        if proc is not None:
            self._kill_group(proc)
            self.after_stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for subclasses -----------------------------------------------------------------------
    @abstractmethod
    def write_config(self) -> None: ...

    @abstractmethod
    def command(self) -> list[str]: ...

    @abstractmethod
    def add_user(self, user: str, password: str) -> None:
        """Create an account with the server's own admin tool."""

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def process_group(self) -> int | None:
        """The process group the server's work runs in, for measuring its CPU time."""
        return self.process.pid if self.process is not None else None

    def signal_server(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def after_stop(self) -> None:  # noqa: B027 - optional hook, most servers need none
        """Hook for cleanup after the process is gone."""

    def check_installed(self) -> None:
        if shutil.which(self.binary) is None:
            raise DevServerError(
                f"{self.kind} is not installed (no '{self.binary}' on PATH). "
                f"Install the Debian package: apt-get install -y {self.debian_package} "
                f"(./run does this for you)."
            )

    def wait_ready(self, timeout: float) -> None:
        alive = lambda: self.process is not None and self.process.poll() is None  # noqa: E731
        try:
            wait_for_stream(self.ports.c2s, "jabber:client", self.domain, timeout, alive)
            any_component = next(iter(self.component_secrets), f"x.{self.domain}")
            wait_for_stream(self.ports.component, "jabber:component:accept", any_component, timeout, alive)
        except (TimeoutError, RuntimeError) as exc:
            raise DevServerError(f"{self.kind} did not become ready: {exc}\n{self.log_tail()}") from exc

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in sorted(self.workdir.glob("**/*.log")):
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    # -- helpers ------------------------------------------------------------------------------
    def _launch(self) -> None:
        out = open(self.workdir / "stdout.log", "ab")
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=self.workdir,
                start_new_session=True,
            )
        finally:
            out.close()

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0)  # let the kernel reap the group before ports are reused
