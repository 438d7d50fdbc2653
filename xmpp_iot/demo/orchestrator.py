"""Bring the whole platform up in order, watch it, and take it down leaving nothing behind.

Order: pre-flight checks (nothing is started if one fails) → throwaway XMPP server → components
(provisioning, then registry and sensor data) as subprocesses, wired to each other with the same
flags as an operator's deployment (:mod:`xmpp_iot.devserver.wiring`) → the fleet of devices
(one subprocess) → the two apps from ``examples/`` (one subprocess each) → the scenario starts
once both apps watch every device. Every child writes its log to the work directory and its
events on stdout, which feed the display. A child that dies is reported, the rest carry on.
Ctrl-C / SIGTERM (or ``--duration``) stop the apps, the fleet, the components and the server,
in that order, each with a deadline and then SIGKILL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import os
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from ..devserver import DevServer, DevServerError, Ports, ServerInfo, make_devserver
from ..devserver.ports import free_ports, port_is_taken
from ..devserver.processes import ComponentProcess
from ..devserver.wiring import component_args, start_order
from ..provisioning.client import self_signed_certificate
from .config import DemoConfig
from .display import Display, Stats
from .events import parse
from .provisioning_log import read_component_logs
from .roles import DSO_USER

__all__ = ["DemoOptions", "Orchestrator", "PreflightError", "examples_dir"]

#: component name -> module that must exist for it to be started
COMPONENT_MODULES = {"registry": "components.registry.main", "provisioning": "provisioning.main",
                     "sensordata": "components.sensordata.main"}
APPS = {"state-estimation": "state_estimation.py", "demand-response": "demand_response.py"}
STOP_TIMEOUT = 10.0


class PreflightError(RuntimeError):
    """Something that would make the demo fail, found before anything was started."""


@dataclass
class DemoOptions:
    kind: str = "prosody"
    workdir: Path | None = None
    duration: float | None = None
    c2s_port: int | None = None
    component_port: int | None = None
    components: tuple[str, ...] = ("registry", "provisioning", "sensordata")
    ready_timeout: float = 60.0


def examples_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "examples"


class Child:
    """One subprocess with its event stream (stdout) and log file (stderr)."""

    def __init__(self, name: str, args: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name, self.args, self.log_path, self.env = name, args, log_path, env
        self.process: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task | None = None

    async def start(self, on_event) -> None:
        with open(self.log_path, "ab") as log:  # noqa: ASYNC230 - a local log file, opened once
            self.process = await asyncio.create_subprocess_exec(
                *self.args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                env=self.env, start_new_session=True)
        self.reader = asyncio.ensure_future(self._read(on_event))

    async def _read(self, on_event) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            event = parse(line)
            if event is not None:
                on_event(event, self.name)

    def send(self, line: str) -> None:
        if self.process is not None and self.process.stdin is not None and self.running:
            self.process.stdin.write(line.encode() + b"\n")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self) -> int | None:
        proc = self.process
        if proc is None:
            return None
        if proc.returncode is None:
            try:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            except ProcessLookupError:
                pass
        if proc.stdin is not None:
            proc.stdin.close()
        if self.reader is not None:
            try:
                await asyncio.wait_for(self.reader, 5)
            except TimeoutError:
                self.reader.cancel()
        return proc.returncode


class Orchestrator:
    def __init__(self, config: DemoConfig, options: DemoOptions, display: Display | None = None) -> None:
        self.config = config
        self.options = options
        self.workdir = (options.workdir or Path(tempfile.mkdtemp(prefix=f"xmpp-iot-demo-{options.kind}-"))).resolve()
        self.stats = Stats(devices=len(config.device_names()))
        self.display = display or Display(self.stats)
        self.server: DevServer | None = None
        self.components: list[ComponentProcess] = []
        self.children: dict[str, Child] = {}
        self.stop_event = asyncio.Event()
        self.app_watching: dict[str, int] = {}

    # -- pre-flight --------------------------------------------------------------------------
    def preflight(self) -> DevServer:
        """Every check that can fail before anything runs; returns the (unstarted) server."""
        opts = self.options
        for port, what in ((opts.c2s_port, "c2s"), (opts.component_port, "component")):
            if port is not None and port_is_taken(port):
                raise PreflightError(f"port {port} ({what}) on 127.0.0.1 is already in use; choose another "
                                     f"with --{what}-port or stop what is listening there")
        if opts.c2s_port is not None or opts.component_port is not None:
            picked = free_ports(4)
            ports = Ports(opts.c2s_port or picked[0], picked[1], opts.component_port or picked[2], picked[3])
        else:
            ports = None
        components = tuple(c for c in opts.components if c in COMPONENT_MODULES)
        try:
            server = make_devserver(opts.kind, self.workdir, components=components, ports=ports)
            server.check_installed()
        except DevServerError as exc:
            raise PreflightError(str(exc)) from None
        for needed in ("registry", "provisioning"):
            if needed not in components or _module_missing(COMPONENT_MODULES[needed]):
                raise PreflightError(f"the demo needs the {needed} component")
        for name, script in APPS.items():
            if not (examples_dir() / script).exists():
                raise PreflightError(f"the {name} app ({examples_dir() / script}) is missing: run from a clone "
                                     "of the repository")
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            (self.workdir / ".write-test").touch()
            (self.workdir / ".write-test").unlink()
        except OSError as exc:
            raise PreflightError(f"cannot write to the work directory {self.workdir}: {exc}") from None
        return server

    # -- the run -----------------------------------------------------------------------------
    async def run(self) -> int:
        """Returns 0 after a clean run (Ctrl-C or the duration), 1 when the platform could not start."""
        loop = asyncio.get_running_loop()
        # SIGHUP too: a closed terminal must not orphan the server (it runs in a session of its own)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.stop_event.set)
        server = self.preflight()
        self.server = server
        try:
            info = await self._start_platform(server)
            if info is None:
                return 1
            await self._supervise()
            return 0
        except (DevServerError, RuntimeError, TimeoutError) as exc:
            self.display.say(f"error: {exc}")
            return 1
        finally:
            await self.shutdown()
            self.display.print_summary()

    async def _start_platform(self, server: DevServer) -> ServerInfo | None:
        say = self.display.say
        say(f"starting {self.options.kind} (work directory {self.workdir})")
        info = await asyncio.to_thread(server.start, 60.0)
        info_file = self.workdir / "server-info.json"
        info_file.write_text(info.to_json())
        info_file.chmod(0o600)
        say(f"  {info.kind} on 127.0.0.1: c2s {info.c2s_port}, domain {info.domain}; secrets in {info_file}")
        # provisioning first (the registry pushes ownership to it at once), then the others in parallel
        names = [jid.split(".")[0] for jid in info.components]
        available = [n for n in start_order(names) if not _module_missing(COMPONENT_MODULES[n])]
        running = frozenset(available)
        first, rest = available[:1], available[1:]
        for batch in (first, rest):
            await asyncio.gather(*(self._start_component(info, name, running) for name in batch))
        if self.stop_event.is_set():
            return None
        config_path = self.workdir / "neighbourhood.toml"
        config_path.write_text(dump_toml(self.config))
        env = dict(os.environ, XMPP_IOT_DEMO_SECRET=secrets.token_hex(16), XMPP_IOT_APP_PASSWORD=secrets.token_urlsafe(16),
                   PYTHONUNBUFFERED="1")
        py = sys.executable
        server_info = str(info_file)
        cert_path, key_path = self._app_certificate(info.domain)
        self.children["fleet"] = Child(
            "fleet", [py, "-m", "xmpp_iot.demo.fleet", "--server-info", server_info, "--config", str(config_path),
                      "--wait-start", "--control-cert", str(cert_path)], self.workdir / "fleet.log", env)
        feeder = self.config.feeder
        self.children["state-estimation"] = Child("state-estimation", [
            py, str(examples_dir() / APPS["state-estimation"]), "--server-info", server_info, "--events",
            "--feeder", feeder.name, "--nominal-v", str(feeder.nominal_voltage_v),
            "--loading-limit", str(feeder.loading_limit), "--v-min-pu", str(feeder.voltage_min_pu),
            "--v-max-pu", str(feeder.voltage_max_pu), "--discovery-period", "2"],
            self.workdir / "state-estimation.log", env)
        self.children["demand-response"] = Child("demand-response", [
            py, str(examples_dir() / APPS["demand-response"]), "--server-info", server_info, "--events",
            "--feeder", feeder.name, "--hold-s", str(self.config.scenario.hold_s), "--discovery-period", "2",
            "--certificate", str(cert_path), "--key", str(key_path)],
            self.workdir / "demand-response.log", env)
        say(f"  starting {self.stats.devices} devices and the apps (logs in {self.workdir})")
        for child in self.children.values():
            await child.start(self._on_event)
        await self._wait_until_watching()
        return info

    def _app_certificate(self, domain: str) -> tuple[Path, Path]:
        """The demand-response app's certificate and key: the DSO allows EV-charger control only
        to the holder of a provisioning token for it. The key file is private (0600)."""
        cert, key = self_signed_certificate(f"demand-response.{domain}")
        cert_path, key_path = self.workdir / "demand-response.crt.der", self.workdir / "demand-response.key.pem"
        cert_path.write_bytes(cert)
        key_path.touch(0o600)
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path

    async def _start_component(self, info: ServerInfo, short: str, running: frozenset[str]) -> None:
        say = self.display.say
        jid = info.component_jid(short)
        extra = component_args(short, info, running, admins=[f"{DSO_USER}@{info.domain}"])
        if short == "sensordata":  # demo tuning: find the devices' new measurement nodes within seconds
            extra += ["--discover-interval", "2"]
        process = ComponentProcess(short, info, jid=jid, db=self.workdir / f"{short}.sqlite3",
                                   log_path=self.workdir / f"{short}.log", extra_args=extra)
        try:
            await asyncio.to_thread(process.start, True, 30.0)
        except (RuntimeError, TimeoutError) as exc:
            process.kill()
            if short in ("registry", "provisioning"):
                raise
            say(f"  component {short}: did not start ({str(exc).splitlines()[0]}); carrying on without it")
            return
        self.components.append(process)
        say(f"  component {short}: connected as {jid}")

    async def _wait_until_watching(self) -> None:
        """Start the scenario once both apps watch every device the fleet brought online."""
        deadline = time.monotonic() + self.options.ready_timeout
        measuring = self.config.pmus.count + self.config.households.count * ("meter" in self.config.households.devices)
        flexible = self.config.households.count * len([d for d in self.config.households.devices if d != "meter"])
        while not self.stop_event.is_set():
            self.display.refresh()
            ready = self.stats.counts["ready"] > 0
            missing = self.stats.devices - self.stats.counts["provisioned"]
            if ready and self.app_watching.get("state-estimation", 0) >= measuring - missing and \
                    self.app_watching.get("demand-response", 0) >= flexible - missing:
                break
            if time.monotonic() > deadline:
                self.display.say("warning: the apps do not see every device yet; starting the scenario anyway")
                break
            if not self.children["fleet"].running:
                raise RuntimeError(f"the device fleet exited; see {self.workdir / 'fleet.log'}")
            await asyncio.sleep(0.2)
        self.stats.phase = "running"
        self.children["fleet"].send("start")
        self.display.say("platform running: all devices registered and claimed, apps watching"
                         + ("" if self.options.duration else "; press Ctrl-C to stop"))

    async def _supervise(self) -> None:
        deadline = time.monotonic() + self.options.duration if self.options.duration else None
        reported: set[str] = set()
        while not self.stop_event.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            for name, child in self.children.items():
                if not child.running and name not in reported:
                    reported.add(name)
                    self._on_event({"ev": "app_error", "app": name,
                                    "error": f"exited with {child.process.returncode}; see {child.log_path}"}, name)
            if self.server is not None and not self.server.running:
                self.display.say(f"error: the XMPP server exited; see {self.workdir}")
                self.stats.errors += 1
                break
            self.display.refresh()
            try:
                await asyncio.wait_for(self.stop_event.wait(), 0.5)
            except TimeoutError:
                pass

    def _on_event(self, event: dict, source: str) -> None:
        if event["ev"] == "watching":
            self.app_watching[event.get("app", source)] = int(event.get("devices", 0))
        self.display.event_line(self.stats.feed(event, source))

    async def shutdown(self) -> None:
        """Apps first (they depend on the rest), then devices, components, server."""
        self.stats.phase = "stopping"
        self.display.say("stopping ...")
        for name in ("demand-response", "state-estimation", "fleet"):
            child = self.children.get(name)
            if child is not None:
                await child.stop()
        for process in reversed(self.components):
            await asyncio.to_thread(process.stop)
        self.stats.platform = read_component_logs(self.workdir)
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)
        self.display.say("stopped: server, components, devices and apps")


def _module_missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True


def dump_toml(config: DemoConfig) -> str:
    """The effective configuration as TOML (the fleet process reads it back)."""
    lines = []
    for section in dataclasses.fields(config):
        lines.append(f"[{section.name}]")
        for key, value in dataclasses.asdict(getattr(config, section.name)).items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")
