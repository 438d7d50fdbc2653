"""The simulated neighbourhood as one process: every device its own XMPP session, one feeder model.

    python -m xmpp_iot.demo.fleet --server-info DIR/server-info.json [--config FILE] [--wait-start]

Each device connects with an account of its own (in-band registration), registers its meta tags
at the Thing registry and is claimed by the DSO's account from its IoTDisco string. The DSO gives
it its pub/sub nodes; it then publishes measurements (PMUs every step, meters every
``meter_period_s``) and, for appliances, its EFI flexibility through the EFI driver, and obeys
instructions. One device's failure is logged and reported, never fatal to the others; the
scenario's ``crash_device`` drops its TCP connection without a goodbye, as a crash would.

Events (JSON lines on stdout, :mod:`.events`) tell the orchestrator what happens.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import xmpp_iot.efi as efi
from xmpp_iot.efi.binding.driver import EfiDriver

from ..client import IotClient
from ..connection import stop_session
from ..control import ControlDevice
from ..discovery import KEY, Tag, decode_iotdisco, encode_iotdisco, str_tag
from ..errors import ItemNotFound
from ..measurement import MeasurementCodec, to_xep0323_fields
from ..nodes import alarm_node, flexibility_node, measurement_node
from ..provisioning.client import add_rule
from ..pubsub import PubSub
from ..sensordata import DeviceSource, LocalPolicyGate
from .config import DemoConfig, load_config
from .devices import InstructionRejected, SimDevice, build_neighbourhood
from .devices.ev_charger import EvCharger
from .events import emit
from .grid import FeederState, solve_feeder
from .roles import DEMAND_RESPONSE_USER, DSO_USER, STATE_ESTIMATION_USER
from .session import ServerAccess, load_access
from .transport import create_node

log = logging.getLogger("xmpp_iot.demo.fleet")

MEASUREMENT_CODEC = MeasurementCodec()
SECRET_ENV = "XMPP_IOT_DEMO_SECRET"  # accounts' passwords derive from it: a second run can log in again


def account_password(secret: bytes, user: str) -> str:
    return hmac.new(secret, user.encode(), hashlib.sha256).hexdigest()[:24]


class DeviceRunner:
    """One device's XMPP session: registration, publishing, instructions."""

    def __init__(self, device: SimDevice, access: ServerAccess, secret: bytes) -> None:
        self.device = device
        self.access = access
        self.client: IotClient = access.client(device.name, account_password(secret, device.name), resource="device")
        self.pubsub = PubSub(self.client.xmpp, access.pubsub_jid)
        self.driver: EfiDriver | None = None
        self.key = secrets.token_hex(16)
        self.alive = False
        self.busy = False  # a publish round is in flight: skip rather than pile up
        self.published = 0
        self.last_meter_t = -1e9
        self.latest: dict[str, float] = {}  # what a readout returns: the last published values

    @property
    def jid(self) -> str:
        return self.access.jid(self.device.name)

    def tags(self) -> list[Tag]:
        return [*self.device.tags(), str_tag(KEY, self.key)]

    async def connect(self) -> None:
        await self.client.connect()
        await self.client.discovery.find_registry()
        self.alive = True

    def serve_readout_and_control(self, state: FeederState, readers: list[str], controllers: list[str]) -> None:
        """XEP-0323 readouts of the latest measurement (PMUs, meters) and XEP-0325 control
        (EV charger's ``MaxCurrent``), each decided by a local allow-list gate.

        WIRING POINT (provisioning): with delegated trust the gate becomes the device's
        provisioning client (``xmpp_iot.provisioning.device``) instead of the allow list.
        """
        sample = self.device.measurement(datetime.now(UTC), state)
        if sample is not None:
            self.client.xmpp.register_plugin("iot_sensordata")
            source = DeviceSource()
            self.latest = {f.name: f.value for r in sample.readings for f in to_xep0323_fields(r)}
            for reading in sample.readings:
                for f in to_xep0323_fields(reading):
                    source.add_field(f.name, lambda name=f.name: self.latest.get(name, 0.0), unit=f.unit)
            self.client.xmpp.plugin["iot_sensordata"].serve(
                source, LocalPolicyGate(self.client.xmpp, read_only=readers, roster=False))
        if isinstance(self.device, EvCharger):
            self.client.xmpp.register_plugin("iot_control")
            controls = ControlDevice(title="EV charger")
            ev = self.device
            controls.add_parameter("MaxCurrent", "int", write=ev.set_max_current, read=lambda: ev.max_current_a,
                                   minimum=6, maximum=16, label="Maximum charging current (A)")
            self.client.xmpp.plugin["iot_control"].serve(
                controls, LocalPolicyGate(self.client.xmpp, allow=controllers, roster=False))

    async def start_efi(self, now: datetime) -> None:
        registration = self.device.registration(now)
        if registration is None:
            return
        self.driver = EfiDriver(self.client, registration, pubsub=self.pubsub)
        self.driver.on_instruction(self._on_instruction)
        await self.driver.start()

    async def _on_instruction(self, instruction: efi.Instruction) -> None:
        now = datetime.now(UTC)
        emit("instruction_received", device=self.device.name, instruction=instruction.instruction_id,
             kind=instruction.TAG)
        try:
            self.device.apply(instruction, now)
        except InstructionRejected as exc:
            self.device.report(instruction.instruction_id, efi.InstructionStatus.REJECTED, str(exc))
        await self.publish_round(None, now, measure=False)

    async def publish_round(self, state: FeederState | None, now: datetime, measure: bool) -> None:
        """Publish what is due: a measurement, changed flexibility, instruction statuses."""
        device = self.device
        if measure and state is not None:
            payload = device.measurement(now, state)
            if payload is not None:
                self.latest = {f.name: f.value for r in payload.readings for f in to_xep0323_fields(r)}
                await self.pubsub.publish(measurement_node(self.jid), MEASUREMENT_CODEC.encode_element(payload))
                self.published += 1
        if self.driver is None:
            return
        if device.flexibility_changed:
            device.flexibility_changed = False
            for update in device.flexibility(now):
                await self.driver.publish(update)
                self.published += 1
        while device.statuses:
            change = device.statuses.pop(0)
            await self.driver.report(change.instruction_id, change.status, change.info or None)
            self.published += 1
            emit("instruction_status", device=device.name, instruction=change.instruction_id,
                 status=change.status.value, info=change.info)

    def crash(self) -> None:
        """Drop the connection without closing the stream: the server sees the device vanish."""
        self.alive = False
        self.client.xmpp.abort()


class Fleet:
    """All devices of the neighbourhood, the DSO account that owns them, and the feeder model."""

    def __init__(self, config: DemoConfig, access: ServerAccess, concurrency: int = 8) -> None:
        self.config = config
        self.access = access
        self.concurrency = concurrency
        self.neighbourhood = build_neighbourhood(config)
        secret = os.environ.get(SECRET_ENV, "").encode() or secrets.token_bytes(16)
        self.runners = [DeviceRunner(d, access, secret) for d in self.neighbourhood.devices]
        self.dso = access.client(DSO_USER, account_password(secret, DSO_USER), resource="dso")
        self.tasks: set[asyncio.Task] = set()
        self.errors = 0
        self.rules_enabled = True

    async def bring_up(self) -> int:
        """Connect, register, claim and provision every device; returns how many made it."""
        await self.dso.connect()
        await self.dso.discovery.find_registry()
        emit("starting", devices=len(self.runners))
        gate = asyncio.Semaphore(self.concurrency)
        await create_node(self.dso, self.access.pubsub_jid, alarm_node(self.config.feeder.name),
                          publishers=(self.access.jid(STATE_ESTIMATION_USER),))

        async def one(runner: DeviceRunner) -> None:
            async with gate:
                try:
                    await self._bring_up(runner)
                except Exception as exc:  # one device failing must not stop the neighbourhood
                    self.errors += 1
                    runner.alive = False
                    log.exception("%s: could not come online", runner.device.name)
                    emit("error", device=runner.device.name, error=f"{type(exc).__name__}: {exc}")

        await asyncio.gather(*(one(r) for r in self.runners))
        online = sum(r.alive for r in self.runners)
        emit("ready", devices=online)
        return online

    async def _bring_up(self, runner: DeviceRunner) -> None:
        name = runner.device.name
        await runner.connect()
        dso, se, dr = self.dso.jid.bare, self.access.jid(STATE_ESTIMATION_USER), self.access.jid(DEMAND_RESPONSE_USER)
        nominal = solve_feeder(self.config.feeder, [0.0] * len(self.neighbourhood.households))
        runner.serve_readout_and_control(nominal, readers=[dso, se], controllers=[dso, dr])  # before anyone finds it
        emit("online", device=name)
        tags = runner.tags()
        owner = await runner.client.discovery.register(tags)
        emit("registered", device=name)
        if not owner:
            # The owner scans the QR sticker: the claim is made from the IoTDisco string alone.
            await self.dso.discovery.claim(decode_iotdisco(encode_iotdisco(tags)), public=True)
            await runner.client.discovery.update([str_tag(KEY, "")])  # XEP-0347 §6.7: forget the key
        emit("claimed", device=name, owner=self.dso.jid.bare)
        # WIRING POINT (provisioning): the provisioning server will create these nodes on claim.
        service = self.access.pubsub_jid
        if runner.device.measures:
            await create_node(self.dso, service, measurement_node(runner.jid), publishers=(runner.jid,))
        if runner.device.efi_category:
            await create_node(self.dso, service, flexibility_node(runner.jid), publishers=(runner.jid,))
        await self._delegate_rules(runner)
        await runner.start_efi(datetime.now(UTC))
        await runner.publish_round(None, datetime.now(UTC), measure=False)
        emit("provisioned", device=name)

    async def _delegate_rules(self, runner: DeviceRunner) -> None:
        """WIRING POINT (provisioning, XEP-0324): the owner tells the provisioning server who may
        read and control the device: state estimation reads the measurement units, demand
        response reads and controls the appliances. Best effort: the first refusal (no
        provisioning server, or it does not know the owner yet) turns it off for the run."""
        if not self.rules_enabled:
            return
        provisioning = f"provisioning.{self.access.domain}"
        device = runner.device
        grants = []
        if device.measures:
            grants.append((self.access.jid(STATE_ESTIMATION_USER), "read"))
        if device.efi_category:
            grants += [(self.access.jid(DEMAND_RESPONSE_USER), "read"), (self.access.jid(DEMAND_RESPONSE_USER), "control")]
        try:
            for subject, action in grants:
                for attempt in range(12):  # the registry's ownership feed reaches provisioning asynchronously
                    try:
                        await asyncio.wait_for(add_rule(self.dso.xmpp, provisioning, runner.jid, subject, action), 5)
                        break
                    except ItemNotFound:
                        if attempt == 11 or not self.rules_enabled:
                            raise
                        await asyncio.sleep(0.25)
        except Exception as exc:
            if self.rules_enabled:
                self.rules_enabled = False
                log.warning("no read/control rules at %s (%s: %s); the apps rely on the nodes' defaults",
                            provisioning, type(exc).__name__, exc)
                emit("rules_skipped", reason=f"{type(exc).__name__}: {exc}")
            return
        emit("rules", device=device.name, count=len(grants))

    async def simulate(self, stop: asyncio.Event, start: asyncio.Event) -> None:
        """Step the feeder model and publish until ``stop``; the scenario clock starts at ``start``."""
        loop = asyncio.get_running_loop()
        scenario = self.config.scenario
        dt = scenario.step_s
        t0: float | None = None
        peak = crashed = False
        next_step = loop.time()
        while not stop.is_set():
            now = datetime.now(UTC)
            if t0 is None and start.is_set():
                t0 = loop.time()
                emit("scenario_started")
            t = loop.time() - t0 if t0 is not None else 0.0
            if t0 is not None and not peak and t >= scenario.peak_at_s:
                peak = True
                for device in self.neighbourhood.devices:
                    device.start_peak()
                emit("peak_started", t=round(t, 1))
            if t0 is not None and scenario.crash_device and not crashed and t >= scenario.crash_at_s:
                crashed = True
                self._crash(scenario.crash_device)
            for device in self.neighbourhood.devices:
                device.step(t, dt, now)
            state = solve_feeder(self.config.feeder, self.neighbourhood.loads_w())
            published_before = sum(r.published for r in self.runners)
            meter_due = []
            for runner in self.runners:
                if not runner.alive or runner.busy:
                    continue
                measure = runner.device.kind == "pmu"
                if runner.device.kind == "meter" and t - runner.last_meter_t >= scenario.meter_period_s - 1e-6:
                    measure = True
                    runner.last_meter_t = t
                    meter_due.append(runner)
                self._spawn(runner, state, now, measure)
            emit("grid", t=round(t, 1), loading=round(state.loading, 3),
                 v_min_pu=round(min(state.voltage_pu(i) for i in range(len(state.voltages))), 4),
                 head_kw=round(state.head_power_w / 1000, 2), online=sum(r.alive for r in self.runners),
                 published=published_before)
            next_step += dt
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, next_step - loop.time()))
            except TimeoutError:
                pass

    def _spawn(self, runner: DeviceRunner, state: FeederState, now: datetime, measure: bool) -> None:
        async def round_() -> None:
            runner.busy = True
            try:
                await runner.publish_round(state, now, measure)
            except Exception as exc:
                if runner.alive:
                    self.errors += 1
                    emit("error", device=runner.device.name, error=f"{type(exc).__name__}: {exc}")
            finally:
                runner.busy = False

        task = asyncio.ensure_future(round_())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _crash(self, name: str) -> None:
        for runner in self.runners:
            if runner.device.name == name and runner.alive:
                runner.crash()
                emit("crashed", device=name)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        streams = [r.client.xmpp for r in self.runners if r.alive] + [self.dso.xmpp]
        await asyncio.wait_for(stop_session(*streams, wait=0.5), 15)


async def run(config: DemoConfig, access: ServerAccess, wait_start: bool) -> int:
    stop, start = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    fleet = Fleet(config, access)
    try:
        await fleet.bring_up()
        if wait_start:
            fleet.tasks.add(loop.create_task(_wait_for_start_line(start, stop)))
        else:
            start.set()
        await fleet.simulate(stop, start)
    finally:
        try:
            await fleet.close()
        except Exception:
            log.exception("closing the fleet")
        emit("stopped", errors=fleet.errors)
    return 0


async def _wait_for_start_line(start: asyncio.Event, stop: asyncio.Event) -> None:
    """The orchestrator writes ``start`` on stdin once the apps are watching; EOF means stop.

    Read without a thread: a thread blocked on stdin would keep the process from exiting.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            stop.set()
            return
        if line.strip() == b"start":
            start.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-info", type=Path, required=True)
    parser.add_argument("--config", type=Path, help="neighbourhood TOML (default: the shipped one)")
    parser.add_argument("--wait-start", action="store_true", help="start the scenario on a 'start' line on stdin")
    parser.add_argument("--plaintext", action="store_true", help="no TLS (loopback benchmarks only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("slixmpp").setLevel(logging.WARNING)
    config = load_config(args.config)
    access = load_access(args.server_info, plaintext=args.plaintext)
    return asyncio.run(run(config, access, args.wait_start))


if __name__ == "__main__":
    sys.exit(main())
