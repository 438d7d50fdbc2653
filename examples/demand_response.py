"""Demand response: relieve feeder congestion with the appliances' EFI flexibility.

    python examples/demand_response.py --server-info /tmp/xmpp-iot-*/server-info.json [--feeder feeder1]

1. Discovers the feeder's flexible appliances in the Thing registry (meta tag EFI = storage,
   shiftable or inflexible; FEEDER), subscribes to their EFI nodes (``efi/<jid>``) and reads what
   they hold (registration, newest flexibility), and to their presence (to reach them and to notice
   when one is gone).
2. Subscribes to the state-estimation alarms (``alarms/<feeder>``). While congestion is raised it
   picks the gentlest steps that cover the excess — shift a waiting washing machine, throttle an
   EV charger, turn a heat pump down, discharge a battery (curtail PV when the feeder exports) —
   and sends them as EFI instructions. It reads the EV chargers' XEP-0325 control form, and once
   the congestion is relieved it caps their current (``MaxCurrent``) for the evening.
   With ``--certificate``/``--key`` it first gets a token for that certificate from the
   provisioning server (XEP-0324 getToken) and shows it with every control request: the
   chargers' owner may allow control only to the holder of that certificate.
3. Follows each instruction's status (ACCEPTED, STARTED, SUCCEEDED, REJECTED, ABORTED) and reports
   when the congestion is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization

import xmpp_iot.control  # noqa: F401  (registers the iot_control plugin)
import xmpp_iot.efi as efi
from xmpp_iot.demo.alarms import Alarm, AlarmCodec
from xmpp_iot.demo.app_main import app_parser, run_until_stopped
from xmpp_iot.demo.events import emit
from xmpp_iot.demo.roles import DEMAND_RESPONSE_USER
from xmpp_iot.demo.session import load_access
from xmpp_iot.discovery import eq
from xmpp_iot.efi.binding import DeviceView, EnergyApp, FlexibilityEvent
from xmpp_iot.errors import Forbidden, ProtocolError
from xmpp_iot.nodes import alarm_node
from xmpp_iot.provisioning.client import TokenHolder, get_token
from xmpp_iot.pubsub import PayloadItem, PubSub
from xmpp_iot.trust import Tokens

log = logging.getLogger("demand_response")

CATEGORIES = ("storage", "shiftable", "inflexible")
ACT_GAP_S = 4.0  # measurements need a few seconds to show the effect of the last instructions
MARGIN = 1.15
#: who gives way first: a waiting wash, then EV charging speed, heat-pump comfort, battery reserve, PV yield
PRIORITY = {efi.DeviceClass.WASHING_MACHINE: 0, efi.DeviceClass.ELECTRICAL_VEHICLE: 1,
            efi.DeviceClass.HEATPUMP: 2, efi.DeviceClass.STATIONARY_BATTERY: 3, efi.DeviceClass.PV_PANEL: 4}


@dataclass
class Appliance:
    """A followed appliance: the EFI binding's view of it plus what this app did to it."""

    jid: str
    category: str
    view: DeviceView = field(default_factory=lambda: DeviceView(""))
    online: bool = True
    present: bool = False  # its presence was seen at least once
    active: str = ""  # instruction still in force

    @property
    def registration(self) -> efi.FlexibilityRegistration | None:
        return self.view.registration

    @property
    def updates(self) -> dict[str, efi.FlexibilityUpdate]:
        return self.view.updates

    @property
    def label(self) -> str:
        return self.registration.efi_resource_id if self.registration else self.jid


@dataclass(frozen=True)
class Step:
    appliance: Appliance
    saving_w: float
    instruction: efi.Instruction
    what: str


_ids = itertools.count(1)


def plan_steps(appliances: list[Appliance], alarm: Alarm, hold: timedelta, now: datetime) -> list[Step]:
    """The gentlest steps that together cover the alarm's excess (with a margin)."""
    options = [s for a in appliances if a.online and not a.active and a.registration
               for s in [_step(a, alarm.direction, hold, now)] if s is not None]
    options.sort(key=lambda s: (PRIORITY.get(s.appliance.registration.device_description.device_class, 9),
                                -s.saving_w))
    chosen, covered = [], 0.0
    for step in options:
        if covered >= alarm.excess_w * MARGIN:
            break
        chosen.append(step)
        covered += step.saving_w
    return chosen


def _step(a: Appliance, direction: str, hold: timedelta, now: datetime) -> Step | None:
    rid, iid = a.registration.efi_resource_id, f"dr-{next(_ids)}"
    if isinstance(a.registration, efi.ShiftableRegistration) and direction == "import":
        update = a.updates.get("ShiftableUpdate")
        if not isinstance(update, efi.ShiftableUpdate) or update.valid_from > now:
            return None
        seq = update.sequential_profiles[0]
        alt = seq.alternatives[0]
        power = max((e.power for e in alt.profiles.electricity.elements), default=0.0) if alt.profiles.electricity else 0.0
        start = min(now + hold, update.end_before)
        return Step(a, power, efi.ShiftableInstruction(
            efi_resource_id=rid, timestamp=now, instruction_id=iid, flexibility_update_id=update.flexibility_update_id,
            sequential_profile_instructions=(efi.SequentialProfileInstruction(
                sequence_nr=seq.sequence_nr, alternative_nr=alt.alternative_nr, start_time=start),)),
            f"shift start by {hold.total_seconds():.0f} s")
    if isinstance(a.registration, efi.StorageRegistration):
        system, status = a.updates.get("StorageSystemDescription"), a.updates.get("StorageStatus")
        if not isinstance(system, efi.StorageSystemDescription) or not isinstance(status, efi.StorageStatus):
            return None
        behaviour = system.actuator_behaviours[0]
        powers = {m.id: m.elements[0].electrical_power or 0.0 for m in behaviour.running_modes
                  if isinstance(m, efi.StorageDiscreteRunningMode) and m.elements}
        current = next((s.current_running_mode for s in status.actuator_statuses
                        if s.actuator_id == behaviour.actuator_id), None)
        if current not in powers:
            return None
        if direction == "import":
            lower = [(p, i) for i, p in powers.items() if p < powers[current]]
            target = max(lower, default=None)
        else:
            higher = [(p, i) for i, p in powers.items() if p > powers[current]]
            target = min(higher, default=None)
        if target is None:
            return None
        label = next(m.label for m in behaviour.running_modes if m.id == target[1])
        return Step(a, abs(powers[current] - target[0]), efi.StorageInstruction(
            efi_resource_id=rid, timestamp=now, instruction_id=iid, flexibility_update_id=status.flexibility_update_id,
            actuator_instructions=(efi.ActuatorInstruction(actuator_id=behaviour.actuator_id,
                                                           running_mode_id=target[1], start_time=now),)),
            f"running mode -> {label}")
    if isinstance(a.registration, efi.InflexibleRegistration) and direction == "export":
        options, forecast = a.updates.get("InflexibleCurtailmentOptions"), a.updates.get("InflexibleForecast")
        if not isinstance(options, efi.InflexibleCurtailmentOptions) or not isinstance(forecast, efi.InflexibleForecast):
            return None
        electricity = forecast.forecast_profiles.electricity
        produced = -min((e.power for e in electricity.elements), default=0.0) if electricity else 0.0
        if produced <= 0:
            return None
        return Step(a, produced, efi.InflexibleInstruction(
            efi_resource_id=rid, timestamp=now, instruction_id=iid, flexibility_update_id=options.flexibility_update_id,
            curtailment_profile=efi.CurtailmentProfile(
                curtailment_quantity=efi.CurtailmentQuantity.ELECTRICITY_POWER, start_time=now,
                elements=(efi.CurtailmentProfileElement(duration=hold, value=0.0),))),
            "curtail to 0 W")
    return None


class DemandResponseApp:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.access = load_access(args.server_info, plaintext=args.plaintext)
        self.client = self.access.client(args.user, args.password, resource="app")
        self.pubsub = PubSub(self.client.xmpp, self.access.pubsub_jid)
        self.energy = EnergyApp(self.client, pubsub=self.pubsub)
        self.appliances: dict[str, Appliance] = {}
        self.instructions: dict[str, Appliance] = {}  # instruction id -> appliance
        self.congested = False
        self.last_action = 0.0
        self.sent_this_event = 0
        self.seen_available: set[str] = set()
        self.background: set[asyncio.Task] = set()
        self.chargers: set[str] = set()
        self.client.xmpp.register_plugin("iot_control")
        self.tokens = Tokens()  # shown with control requests once we hold one
        self.holder: TokenHolder | None = None

    async def get_token(self) -> None:
        """Prove we hold the certificate's key to the provisioning server and keep its token."""
        cert = self.args.certificate.read_bytes()
        key = serialization.load_pem_private_key(self.args.key.read_bytes(), password=None)
        token = await get_token(self.client.xmpp, self.access.provisioning_jid, cert, key)
        self.holder = TokenHolder(self.client.xmpp, key)  # answers token challenges passed on by devices
        self.tokens = Tokens(service=token)
        emit("token", app="demand-response", provisioning=self.access.provisioning_jid)

    def _show_token(self, jid: str) -> Tokens:
        if self.holder is not None:
            self.holder.sent(self.tokens.service, jid)
        return self.tokens

    async def run(self, stop: asyncio.Event) -> None:
        await self.client.connect()
        await self.client.discovery.find_registry()
        if self.args.certificate and self.args.key:
            try:
                await self.get_token()
            except ProtocolError as exc:  # carry on: EFI needs no token, only the chargers' control does
                emit("token_failed", app="demand-response", error=f"{exc.condition}: {exc}")
        self.energy.on_event(self.on_efi)
        self.pubsub.on_payload(alarm_node(self.args.feeder), AlarmCodec(), self.on_alarm)
        self.client.xmpp.add_event_handler("presence_available", self._on_available)
        self.client.xmpp.add_event_handler("presence_unavailable", self._on_unavailable)
        emit("app_started", app="demand-response", jid=self.client.jid.bare)
        subscribed_alarms = False
        next_discovery = 0.0
        while not stop.is_set():
            if not subscribed_alarms:
                subscribed_alarms = await self._try(self.pubsub.subscribe(alarm_node(self.args.feeder)))
            if time.monotonic() >= next_discovery:
                await self.discover()
                next_discovery = time.monotonic() + self.args.discovery_period
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        await self.client.close()

    async def _try(self, coro) -> bool:
        try:
            await coro
            return True
        except ProtocolError as exc:
            log.info("not yet: %s", exc)
            return False

    async def discover(self) -> None:
        new = 0
        for category in CATEGORIES:
            async for thing in self.client.discovery.search_all([eq("EFI", category), eq("FEEDER", self.args.feeder)]):
                if thing.jid in self.appliances:
                    continue
                try:  # subscribe, catch up with what the node holds, ask for presence
                    view = await self.energy.follow(thing.jid)
                except ProtocolError as exc:  # not provisioned yet: next time
                    log.info("cannot follow %s yet: %s", thing.jid, exc)
                    continue
                appliance = self.appliances[thing.jid] = Appliance(thing.jid, category, view)
                new += 1
                if thing.tags.get("CLASS") and thing.tags["CLASS"].value == "EVCharger":
                    self.chargers.add(thing.jid)
                    self._spawn(self.read_controls(thing.jid))
                log.info("watching %s (%s)", appliance.jid, category)
        if new:
            emit("watching", app="demand-response", devices=len(self.appliances), new=new)

    async def read_controls(self, jid: str) -> None:
        """What the charger lets us set beyond EFI (XEP-0325), e.g. its current limit.

        The owner's rules may reach provisioning a moment after the charger shows up in the
        registry: a refusal is retried a few times before it counts as a failure."""
        try:
            for attempt in range(4):
                try:
                    form = await self.client.xmpp.plugin["iot_control"].get_form(
                        f"{jid}/device", tokens=self._show_token(jid), timeout=15)
                    break
                except Forbidden:
                    if attempt == 3:
                        raise
                    await asyncio.sleep(1.5)
            emit("control_form", app="demand-response", device=jid,
                 parameters={p.name: f"{p.minimum}..{p.maximum}" for p in form.values()})
        except Exception as exc:
            emit("control_failed", app="demand-response", device=jid, error=f"{type(exc).__name__}: {exc}")

    async def cap_charger(self, jid: str) -> None:
        try:
            await self.client.xmpp.plugin["iot_control"].set(f"{jid}/device", {"MaxCurrent": self.args.ev_cap_a},
                                                              tokens=self._show_token(jid), timeout=15)
            emit("control_set", app="demand-response", device=jid, parameter="MaxCurrent", value=self.args.ev_cap_a)
        except Exception as exc:
            emit("control_failed", app="demand-response", device=jid, error=f"{type(exc).__name__}: {exc}")

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def _on_available(self, presence) -> None:
        self.seen_available.add(presence["from"].bare)  # may arrive while follow() is still running
        a = self.appliances.get(presence["from"].bare)
        if a is not None:
            if not a.online:
                emit("device_online", app="demand-response", device=a.jid)
            a.online = a.present = True

    def _on_unavailable(self, presence) -> None:
        # only a device seen available can go: the answer to our subscription may come first
        a = self.appliances.get(presence["from"].bare)
        if a is not None and a.online and (a.present or a.jid in self.seen_available):
            a.online, a.view.driver = False, None  # a new session may have a new resource
            emit("device_offline", app="demand-response", device=a.jid)

    def on_efi(self, event: FlexibilityEvent) -> None:
        """Follow the status of our instructions (the binding keeps registration and updates)."""
        a, msg = self.appliances.get(event.device), event.message
        if a is not None and isinstance(msg, efi.InstructionStatusUpdate) and msg.instruction_id in self.instructions:
            if msg.status in (efi.InstructionStatus.SUCCEEDED, efi.InstructionStatus.REJECTED,
                              efi.InstructionStatus.ABORTED) and a.active == msg.instruction_id:
                a.active = ""
            emit("instruction_outcome", app="demand-response", device=a.label, instruction=msg.instruction_id,
                     status=msg.status.value, info=msg.debug_information or "")

    async def on_alarm(self, item: PayloadItem) -> None:
        alarm: Alarm = item.payload
        if alarm.kind != "congestion":
            return
        if alarm.state == "cleared":
            if self.congested:
                emit("congestion_relieved", app="demand-response", instructions=self.sent_this_event)
                # so that the chargers do not congest the feeder again when the instructions end,
                # cap them for the evening through their XEP-0325 control parameter
                for a in self.appliances.values():
                    if a.online and a.jid in self.chargers:
                        self._spawn(self.cap_charger(a.jid))
            self.congested, self.sent_this_event = False, 0
            return
        if not self.congested:
            emit("congestion_seen", app="demand-response", excess_w=round(alarm.excess_w), direction=alarm.direction)
        self.congested = True
        if time.monotonic() - self.last_action < ACT_GAP_S:
            return
        self.last_action = time.monotonic()
        now = datetime.now(UTC)
        steps = plan_steps(list(self.appliances.values()), alarm, timedelta(seconds=self.args.hold_s), now)
        if not steps:
            emit("no_flexibility_left", app="demand-response", excess_w=round(alarm.excess_w))
        await asyncio.gather(*(self.send(step) for step in steps))

    async def send(self, step: Step) -> None:
        a = step.appliance
        a.active = step.instruction.instruction_id
        self.instructions[a.active] = a
        try:
            await self.energy.instruct(step.instruction, device=a.jid)
        except ProtocolError as exc:
            a.active = ""
            emit("instruction_failed", app="demand-response", device=a.label, error=f"{exc.condition}: {exc}")
            return
        self.sent_this_event += 1
        emit("instruction_sent", app="demand-response", device=a.label, instruction=step.instruction.instruction_id,
             kind=step.instruction.TAG, what=step.what, saving_w=round(step.saving_w))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = app_parser(__doc__.split("\n\n")[0], DEMAND_RESPONSE_USER)
    p.add_argument("--hold-s", type=float, default=60.0, help="how long an instruction holds")
    p.add_argument("--ev-cap-a", type=int, default=10, help="EV charger current cap after a congestion (A)")
    p.add_argument("--certificate", type=Path, help="X.509 certificate (DER) to get a provisioning token for")
    p.add_argument("--key", type=Path, help="the certificate's RSA private key (PEM)")
    return p.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return await run_until_stopped(DemandResponseApp(args).run, args.events)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
