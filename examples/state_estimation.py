"""State estimation: watch a feeder through its measurement units and raise alarms.

    python examples/state_estimation.py --server-info /tmp/xmpp-iot-*/server-info.json [--feeder feeder1]

1. Discovers the PMUs and smart meters of the feeder in the Thing registry by their meta tags
   (CLASS, FEEDER), again every few seconds, so devices that come later are picked up.
2. Subscribes to their measurement nodes (``meas/<jid>``) and to their presence, so a device that
   vanishes is noticed (its values are then left out of the estimate).
3. Keeps a live estimate: feeder-head loading from the PMU at bus 0 (current / the IRATED tag) and
   the lowest and highest voltage seen on any bus. It also reads each meter's energy register
   once, by an XEP-0323 readout.
4. Publishes alarms (congestion, undervoltage, overvoltage; raised and cleared) to ``alarms/<feeder>``.

With ``--events`` it writes one JSON line per event on stdout (the demo's display reads them).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import xmpp_iot.sensordata  # noqa: F401  (registers the iot_sensordata plugin)
from xmpp_iot.demo.alarms import Alarm, AlarmCodec
from xmpp_iot.demo.app_main import app_parser, run_until_stopped
from xmpp_iot.demo.events import emit
from xmpp_iot.demo.roles import STATE_ESTIMATION_USER
from xmpp_iot.demo.session import load_access
from xmpp_iot.discovery import eq
from xmpp_iot.measurement import MeasurementCodec, Phasor, PmuFrame, Quantity
from xmpp_iot.nodes import MEASUREMENT_PREFIX, alarm_node, device_of, measurement_node
from xmpp_iot.pubsub import PayloadItem, PubSub

log = logging.getLogger("state_estimation")

RAISE_AFTER, CLEAR_AFTER, REPEAT_S = 2, 3, 3.0


@dataclass
class Unit:
    """A measurement unit the app watches."""

    jid: str
    kind: str
    bus: int
    rated_current_a: float = 0.0
    online: bool = True
    present: bool = False  # its presence was seen at least once
    voltage: float | None = None
    current: float | None = None
    seen: float = 0.0


@dataclass
class Limits:
    nominal_v: float = 230.0
    loading: float = 1.0
    v_min_pu: float = 0.9
    v_max_pu: float = 1.1


@dataclass
class AlarmState:
    raised: bool = False
    streak: int = 0  # consecutive evaluations disagreeing with `raised`
    last_sent: float = 0.0


@dataclass
class Estimator:
    feeder: str
    limits: Limits
    units: dict[str, Unit] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    received: int = 0

    def on_measurement(self, item: PayloadItem) -> None:
        unit = self.units.get(device_of(item.node) or "")
        if unit is None:
            return
        payload = item.payload
        self.received += 1
        self.latencies.append(time.time() - payload.timestamp.timestamp())
        unit.seen = time.monotonic()
        volts = [r.value for r in payload.readings if r.quantity is Quantity.VOLTAGE]
        amps = [r.value for r in payload.readings if r.quantity is Quantity.CURRENT]
        unit.voltage = statistics.fmean(_magnitude(v) for v in volts) if volts else unit.voltage
        if isinstance(payload, PmuFrame) and amps:
            unit.current = statistics.fmean(_magnitude(a) for a in amps)

    def estimate(self) -> dict[str, float | None]:
        live = [u for u in self.units.values() if u.online and u.voltage is not None]
        head = [u for u in live if u.kind == "PMU" and u.bus == 0 and u.current is not None and u.rated_current_a]
        loading = max((u.current / u.rated_current_a for u in head), default=None)  # type: ignore[operator]
        volts = [u.voltage / self.limits.nominal_v for u in live]  # type: ignore[operator]
        return {"loading": loading, "v_min_pu": min(volts, default=None), "v_max_pu": max(volts, default=None),
                "head_v": next((u.voltage for u in head), None)}


def _magnitude(value: float | Phasor) -> float:
    return value.magnitude if isinstance(value, Phasor) else abs(value)


class StateEstimationApp:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.access = load_access(args.server_info, plaintext=args.plaintext)
        self.client = self.access.client(args.user, args.password, resource="app")
        self.pubsub = PubSub(self.client.xmpp, self.access.pubsub_jid)
        self.estimator = Estimator(args.feeder, Limits(args.nominal_v, args.loading_limit, args.v_min_pu,
                                                       args.v_max_pu))
        self.alarms = {kind: AlarmState() for kind in ("congestion", "undervoltage", "overvoltage")}
        self.codec = AlarmCodec()
        self.background: set[asyncio.Task] = set()
        self.client.xmpp.register_plugin("iot_sensordata")

    async def run(self, stop: asyncio.Event) -> None:
        await self.client.connect()
        await self.client.discovery.find_registry()
        self.pubsub.on_payload(MEASUREMENT_PREFIX, MeasurementCodec(), self.estimator.on_measurement)
        self.client.xmpp.add_event_handler("presence_unavailable", self._on_unavailable)
        self.client.xmpp.add_event_handler("presence_available", self._on_available)
        emit("app_started", app="state-estimation", jid=self.client.jid.bare)
        next_discovery = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_discovery:
                await self.discover()
                next_discovery = time.monotonic() + self.args.discovery_period
            await self.evaluate()
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        await self.client.close()

    async def discover(self) -> None:
        new = 0
        for thing_class in ("PMU", "SmartMeter"):
            async for thing in self.client.discovery.search_all([eq("CLASS", thing_class), eq("FEEDER", self.args.feeder)]):
                if thing.jid in self.estimator.units:
                    continue
                tags = thing.tags
                unit = Unit(thing.jid, thing_class, int(tags["BUS"].value) if "BUS" in tags else -1,
                            float(tags["IRATED"].value) if "IRATED" in tags else 0.0)
                try:
                    await self.pubsub.subscribe(measurement_node(thing.jid))
                except Exception as exc:  # not provisioned yet: try again at the next discovery
                    log.info("cannot subscribe to %s yet: %s", thing.jid, exc)
                    continue
                self.estimator.units[thing.jid] = unit
                self.client.xmpp.send_presence_subscription(pto=thing.jid)
                new += 1
                if thing_class == "SmartMeter":  # the energy register, once, by an XEP-0323 readout
                    self._spawn(self.read_energy(thing.jid))
        if new:
            emit("watching", app="state-estimation", devices=len(self.estimator.units), new=new)

    async def read_energy(self, jid: str) -> None:
        try:
            readout = await self.client.xmpp.plugin["iot_sensordata"].read(
                f"{jid}/device", fields=["energy_import.total"], timeout=15)
            emit("readout", app="state-estimation", device=jid, energy_import_wh=readout.value("energy_import.total"))
        except Exception as exc:  # a readout is a bonus here; the estimate runs on pub/sub
            emit("readout_failed", app="state-estimation", device=jid, error=f"{type(exc).__name__}: {exc}")

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def _on_unavailable(self, presence) -> None:
        # Only a device we saw available can go offline: the server's answer to our presence
        # subscription may be an "unavailable" before the device's own presence arrives.
        unit = self.estimator.units.get(presence["from"].bare)
        if unit is not None and unit.online and unit.present:
            unit.online = False
            emit("device_offline", app="state-estimation", device=unit.jid)

    def _on_available(self, presence) -> None:
        unit = self.estimator.units.get(presence["from"].bare)
        if unit is not None:
            if not unit.online:
                emit("device_online", app="state-estimation", device=unit.jid)
            unit.online = unit.present = True

    async def evaluate(self) -> None:
        est = self.estimator.estimate()
        lat = sorted(self.estimator.latencies)
        self.estimator.latencies.clear()
        emit("estimate", app="state-estimation", received=self.estimator.received,
             loading=est["loading"], v_min_pu=est["v_min_pu"], v_max_pu=est["v_max_pu"],
             p99_ms=round(lat[int(0.99 * (len(lat) - 1))] * 1000, 1) if lat else None)
        limits = self.estimator.limits
        loading, head_v = est["loading"], est["head_v"] or limits.nominal_v
        if loading is not None:
            excess_a = (loading - limits.loading) * self._rated()
            await self.check("congestion", loading > limits.loading, loading, limits.loading,
                             excess_w=max(0.0, excess_a * 3 * head_v))
        if est["v_min_pu"] is not None:
            await self.check("undervoltage", est["v_min_pu"] < limits.v_min_pu, est["v_min_pu"], limits.v_min_pu)
            await self.check("overvoltage", est["v_max_pu"] > limits.v_max_pu, est["v_max_pu"], limits.v_max_pu)

    def _rated(self) -> float:
        return max((u.rated_current_a for u in self.estimator.units.values() if u.bus == 0), default=0.0)

    async def check(self, kind: str, violated: bool, value: float, limit: float, excess_w: float = 0.0) -> None:
        state = self.alarms[kind]
        state.streak = state.streak + 1 if violated != state.raised else 0
        changed = state.streak >= (RAISE_AFTER if violated else CLEAR_AFTER)
        if changed:
            state.raised, state.streak = violated, 0
        repeat = state.raised and time.monotonic() - state.last_sent >= REPEAT_S
        if not (changed or repeat):
            return
        alarm = Alarm(area=self.args.feeder, kind=kind, state="raised" if state.raised else "cleared", value=value,
                      limit=limit, at=datetime.now(UTC), excess_w=excess_w)
        await self.pubsub.publish_payload(alarm_node(self.args.feeder), alarm, self.codec, item_id=kind)
        state.last_sent = time.monotonic()
        if changed:
            log.warning("%s %s: %.3f (limit %.3f)", kind, alarm.state, value, limit)
            emit(f"alarm_{alarm.state}", app="state-estimation", kind=kind, value=round(value, 3), limit=limit,
                 excess_w=round(excess_w))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = app_parser(__doc__.split("\n\n")[0], STATE_ESTIMATION_USER)
    p.add_argument("--nominal-v", type=float, default=230.0)
    p.add_argument("--loading-limit", type=float, default=1.0)
    p.add_argument("--v-min-pu", type=float, default=0.9)
    p.add_argument("--v-max-pu", type=float, default=1.1)
    return p.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return await run_until_stopped(StateEstimationApp(args).run, args.events)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
