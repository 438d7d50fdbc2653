"""The simulated neighbourhood as one process: every device its own XMPP session, one feeder model.

    python -m xmpp_iot.demo.fleet --server-info DIR/server-info.json [--config FILE] [--wait-start]

Each device connects with an account of its own (in-band registration), delegates trust to the
provisioning server (XEP-0324: presence subscriptions, readouts and control are decided by its
``isFriend``/``canRead``/``canControl`` answers), registers its meta tags at the Thing registry and
is claimed by the DSO's account from its IoTDisco string. The registry tells provisioning who owns
it; provisioning creates its ``meas/`` and ``efi/`` nodes and makes it their publisher, and the
DSO adds the apps' rules (friend, read, control). The device then publishes measurements (PMUs
every step, meters every ``meter_period_s``) and, for appliances, its EFI flexibility through the
EFI driver, and obeys instructions. One device's failure is logged and reported, never fatal to the others; the
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

from slixmpp.exceptions import IqError, IqTimeout

import xmpp_iot.efi as efi
import xmpp_iot.provisioning.device  # noqa: F401 - registers the iot_provisioning plugin
from xmpp_iot.efi.binding.driver import EfiDriver

from ..client import IotClient
from ..connection import stop_session
from ..control import ControlDevice
from ..discovery import KEY, Tag, decode_iotdisco, encode_iotdisco, str_tag
from ..errors import ItemNotFound
from ..measurement import MeasurementCodec, to_xep0323_fields
from ..nodes import flexibility_node, measurement_node
from ..provisioning.client import add_rule, answer_question, create_area_node, question_of
from ..pubsub import PubSub
from ..sensordata import DeviceSource
from ..trust import ControlDecision, ControlRequest, ReadDecision, ReadRequest, TrustGate
from .config import DemoConfig, load_config
from .devices import InstructionRejected, SimDevice, build_neighbourhood
from .devices.ev_charger import EvCharger
from .events import emit
from .grid import FeederState, solve_feeder
from .roles import DEMAND_RESPONSE_USER, DSO_USER, STATE_ESTIMATION_USER
from .session import ServerAccess, load_access

log = logging.getLogger("xmpp_iot.demo.fleet")

MEASUREMENT_CODEC = MeasurementCodec()
SECRET_ENV = "XMPP_IOT_DEMO_SECRET"  # accounts' passwords derive from it: a second run can log in again


#: the pseudo-parameter a device asks canControl for before it accepts an EFI instruction
EFI_PARAMETER = "EfiInstruction"
Grant = tuple[str, str, tuple[str, ...] | None]  # (subject, action, names or None for all)


def account_password(secret: bytes, user: str) -> str:
    return hmac.new(secret, user.encode(), hashlib.sha256).hexdigest()[:24]


class ReportingGate:
    """The device's provisioning plugin, reporting each decision as a ``trust`` event so that the
    demo can show (and its test assert) that readouts and control went through provisioning."""

    def __init__(self, device: str, gate: TrustGate) -> None:
        self.device, self.gate = device, gate

    async def is_friend(self, jid: str) -> bool:
        return await self.gate.is_friend(jid)

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        decision = await self.gate.can_read(request)
        emit("trust", device=self.device, action="read", requester=request.requester, allowed=decision.allowed)
        return decision

    async def can_control(self, request: ControlRequest) -> ControlDecision:
        decision = await self.gate.can_control(request)
        emit("trust", device=self.device, action="control", requester=request.requester,
             allowed=decision.allowed)
        return decision


class DeviceRunner:
    """One device's XMPP session: registration, publishing, instructions."""

    def __init__(self, device: SimDevice, access: ServerAccess, secret: bytes) -> None:
        self.device = device
        self.access = access
        self.client: IotClient = access.client(device.name, account_password(secret, device.name), resource="device")
        # delegated trust from the first stanza on: presence subscriptions are decided by isFriend
        self.client.xmpp.register_plugin("iot_provisioning", pconfig={"server": access.provisioning_jid})
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

    @property
    def gate(self) -> TrustGate:
        return self.client.xmpp.plugin["iot_provisioning"]

    async def connect(self) -> None:
        await self.client.connect()
        await self.client.discovery.find_registry()
        await self.client.xmpp.plugin["iot_provisioning"].find_server()  # checks it answers as one
        self.alive = True

    def serve_readout_and_control(self, state: FeederState) -> None:
        """XEP-0323 readouts of the latest measurement (PMUs, meters) and XEP-0325 control
        (EV charger's ``MaxCurrent``), each decided by the provisioning server (canRead/canControl)."""
        gate = ReportingGate(self.device.name, self.gate)
        sample = self.device.measurement(datetime.now(UTC), state)
        if sample is not None:
            self.client.xmpp.register_plugin("iot_sensordata")
            source = DeviceSource()
            self.latest = {f.name: f.value for r in sample.readings for f in to_xep0323_fields(r)}
            for reading in sample.readings:
                for f in to_xep0323_fields(reading):
                    source.add_field(f.name, lambda name=f.name: self.latest.get(name, 0.0), unit=f.unit)
            self.client.xmpp.plugin["iot_sensordata"].serve(
                source, gate)
        if isinstance(self.device, EvCharger):
            self.client.xmpp.register_plugin("iot_control")
            controls = ControlDevice(title="EV charger")
            ev = self.device
            controls.add_parameter("MaxCurrent", "int", write=ev.set_max_current, read=lambda: ev.max_current_a,
                                   minimum=6, maximum=16, label="Maximum charging current (A)")
            self.client.xmpp.plugin["iot_control"].serve(
                controls, gate)

    async def wait_for_nodes(self, timeout: float = 20.0) -> None:
        """Wait until provisioning made this device the publisher of its nodes (it creates them
        when it learns the owner). Publishing earlier would let ejabberd auto-create the node,
        owned by the device instead of provisioning.

        The device asks for its own affiliations (XEP-0060 §5.7, ejabberd); a service without
        that (Prosody 0.12: service-unavailable) is probed by retracting an item that does not
        exist, which only a publisher may try (item-not-found) and anybody else is refused."""
        ps = self.client.xmpp.plugin["xep_0060"]
        service = self.access.pubsub_jid
        nodes = {n for n, needed in ((measurement_node(self.jid), self.device.measures),
                                     (flexibility_node(self.jid), bool(self.device.efi_category))) if needed}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        listing = True
        while True:
            if listing:
                try:
                    reply = await ps.get_affiliations(service, timeout=10)
                    mine = {a["node"] for a in reply["pubsub"]["affiliations"] if a["affiliation"] == "publisher"}
                    if nodes <= mine:
                        return
                except IqError as exc:
                    listing = exc.iq["error"]["condition"] not in ("service-unavailable", "feature-not-implemented")
            if not listing and all([await self._may_publish(node) for node in sorted(nodes)]):
                return
            if loop.time() > deadline:
                raise TimeoutError(f"provisioning did not make {self.jid} the publisher of {sorted(nodes)} "
                                   f"within {timeout:.0f} s")
            await asyncio.sleep(0.25)

    async def _may_publish(self, node: str) -> bool:
        try:
            await self.client.xmpp.plugin["xep_0060"].retract(self.access.pubsub_jid, node, "no-such-item",
                                                              timeout=10)
            return True
        except IqError as exc:
            return exc.iq["error"]["condition"] == "item-not-found" and \
                exc.iq.xml.find(".//{http://jabber.org/protocol/pubsub#errors}*") is None
        except IqTimeout:
            return False

    async def start_efi(self, now: datetime) -> None:
        registration = self.device.registration(now)
        if registration is None:
            return
        self.driver = EfiDriver(self.client, registration, pubsub=self.pubsub, authorize=self._may_instruct)
        self.driver.on_instruction(self._on_instruction)
        await self.driver.start()

    async def _may_instruct(self, requester) -> bool:
        """EFI instructions are control too: provisioning decides who may send them (canControl
        for the pseudo-parameter ``EfiInstruction``)."""
        decision = await self.gate.can_control(ControlRequest(str(requester), (), (EFI_PARAMETER,)))
        allowed = decision.allowed and (decision.parameter_names is None or EFI_PARAMETER in decision.parameter_names)
        emit("trust", device=self.device.name, action="efi", requester=str(requester), allowed=allowed)
        return allowed

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

    def __init__(self, config: DemoConfig, access: ServerAccess, concurrency: int = 8,
                 control_cert: str = "") -> None:
        self.config = config
        self.access = access
        self.concurrency = concurrency
        self.neighbourhood = build_neighbourhood(config)
        secret = os.environ.get(SECRET_ENV, "").encode() or secrets.token_bytes(16)
        self.runners = [DeviceRunner(d, access, secret) for d in self.neighbourhood.devices]
        self.dso = access.client(DSO_USER, account_password(secret, DSO_USER), resource="dso")
        self.tasks: set[asyncio.Task] = set()
        self.errors = 0
        self.control_cert = control_cert  # SHA-256 of the certificate whose token controls EV chargers
        self.grants = self._policy()

    def _policy(self) -> dict[str, set[Grant]]:
        """The DSO's rules, device by device: state estimation befriends and reads the measuring
        units, demand response befriends, reads and controls the flexible appliances. With
        ``control_cert`` an EV charger's ``MaxCurrent`` may be set only by whoever shows a token
        for that certificate (XEP-0324 getToken), not by the app's JID alone."""
        se, dr = self.access.jid(STATE_ESTIMATION_USER), self.access.jid(DEMAND_RESPONSE_USER)
        grants: dict[str, set[Grant]] = {}
        for runner in self.runners:
            wanted: set[Grant] = set()
            if runner.device.measures:
                wanted |= {(se, "friend", None), (se, "read", None)}
            if runner.device.efi_category:
                wanted |= {(dr, "friend", None), (dr, "read", None)}
                if isinstance(runner.device, EvCharger) and self.control_cert:
                    wanted |= {(dr, "control", (EFI_PARAMETER,)),
                               (f"cert:{self.control_cert}", "control", ("MaxCurrent",))}
                else:
                    wanted.add((dr, "control", None))
            grants[runner.jid] = wanted
        return grants

    def _on_question(self, msg) -> None:
        """Provisioning asks the owner when no rule decides yet (an app may find a device between
        the claim and the DSO's rules): answer from the same policy, so nobody waits."""
        values = question_of(msg)
        if values is None or msg["from"].bare != self.access.provisioning_jid:
            return
        asked = (values.get("requester", ""), values.get("action", ""))
        allow = any(g[:2] == asked for g in self.grants.get(values.get("thing", ""), ()))
        answer_question(self.dso.xmpp, msg, allow)
        emit("owner_answered", device=values.get("thing", ""), requester=values.get("requester", ""),
             action=values.get("action", ""), allow=allow)

    async def bring_up(self) -> int:
        """Connect, register, claim and provision every device; returns how many made it."""
        self.dso.xmpp.add_event_handler("message", self._on_question)
        await self.dso.connect()
        await self.dso.discovery.find_registry()
        emit("starting", devices=len(self.runners))
        gate = asyncio.Semaphore(self.concurrency)
        # the feeder's alarm node, made by provisioning too: state estimation publishes, demand response reads
        await create_area_node(self.dso.xmpp, self.access.provisioning_jid, self.config.feeder.name,
                               publishers=[self.access.jid(STATE_ESTIMATION_USER)],
                               readers=[self.access.jid(DEMAND_RESPONSE_USER)])

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
        nominal = solve_feeder(self.config.feeder, [0.0] * len(self.neighbourhood.households))
        runner.serve_readout_and_control(nominal)  # before anyone finds it
        emit("online", device=name)
        tags = runner.tags()
        owner = await runner.client.discovery.register(tags)
        emit("registered", device=name)
        if not owner:
            # The owner scans the QR sticker: the claim is made from the IoTDisco string alone.
            await self.dso.discovery.claim(decode_iotdisco(encode_iotdisco(tags)), public=True)
            await runner.client.discovery.update([str_tag(KEY, "")])  # XEP-0347 §6.7: forget the key
        emit("claimed", device=name, owner=self.dso.jid.bare)
        await self._add_rules(runner)  # waits until provisioning knows the owner
        await runner.wait_for_nodes()
        emit("nodes_ready", device=name)
        await runner.start_efi(datetime.now(UTC))
        await runner.publish_round(None, datetime.now(UTC), measure=False)
        emit("provisioned", device=name)

    async def _add_rules(self, runner: DeviceRunner) -> None:
        """The owner tells provisioning (XEP-0050 ``add-rule``) who may befriend, read and control
        the device. The registry's ownership push reaches provisioning asynchronously, so a first
        ``item-not-found`` (no owner known yet) is retried."""
        grants = sorted(self.grants[runner.jid], key=lambda g: g[:2])
        for subject, action, names in grants:
            for attempt in range(40):
                try:
                    await add_rule(self.dso.xmpp, self.access.provisioning_jid, runner.jid, subject, action,
                                   names=names)
                    break
                except ItemNotFound:
                    if attempt == 39:
                        raise
                    await asyncio.sleep(0.25)
        emit("rules", device=runner.device.name, count=len(grants))

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


async def run(config: DemoConfig, access: ServerAccess, wait_start: bool, control_cert: str = "") -> int:
    stop, start = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    fleet = Fleet(config, access, control_cert=control_cert)
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
    parser.add_argument("--control-cert", type=Path, metavar="DER",
                        help="certificate whose token (and only that) may control the EV chargers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("slixmpp").setLevel(logging.WARNING)
    config = load_config(args.config)
    access = load_access(args.server_info, plaintext=args.plaintext)
    thumbprint = hashlib.sha256(args.control_cert.read_bytes()).hexdigest() if args.control_cert else ""
    return asyncio.run(run(config, access, args.wait_start, thumbprint))


if __name__ == "__main__":
    sys.exit(main())
