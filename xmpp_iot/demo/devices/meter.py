"""Smart meter at a household's connection: per-phase P, Q, V, I and the energy registers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ...measurement import MeterReadout, Phase, Quantity, Reading
from ..grid import FeederState
from .base import SimDevice

PHASES = (Phase.L1, Phase.L2, Phase.L3)
POWER_FACTOR = 0.97


class SmartMeter(SimDevice):
    kind = "meter"
    thing_class = "SmartMeter"
    measures = True

    def __init__(self, name: str, bus: int, feeder: str, household_power: Callable[[], float], seed: int = 0) -> None:
        super().__init__(name, bus, feeder, seed)
        self.household_power = household_power
        self.import_wh = self.random.uniform(1e6, 2e7)
        self.export_wh = self.random.uniform(0, 5e6)
        self.last_t: float | None = None

    def step(self, t: float, dt: float, now: datetime) -> None:
        p = self.household_power()
        if p >= 0:
            self.import_wh += p * dt / 3600
        else:
            self.export_wh -= p * dt / 3600

    def measurement(self, now: datetime, state: FeederState) -> MeterReadout:
        p = self.household_power()
        v = state.voltages[self.bus]
        q = abs(p) * (1 / POWER_FACTOR**2 - 1) ** 0.5
        readings = [Reading.of(Quantity.FREQUENCY, 50.0, now)]
        for phase in PHASES:
            readings += [
                Reading.of(Quantity.ACTIVE_POWER, round(p / 3, 1), now, phase),
                Reading.of(Quantity.REACTIVE_POWER, round(q / 3, 1), now, phase),
                Reading.of(Quantity.VOLTAGE, round(v, 2), now, phase),
                Reading.of(Quantity.CURRENT, round(abs(p) / 3 / v, 2), now, phase),
            ]
        readings += [
            Reading.of(Quantity.ENERGY_IMPORT, round(self.import_wh, 1), now, Phase.TOTAL),
            Reading.of(Quantity.ENERGY_EXPORT, round(self.export_wh, 1), now, Phase.TOTAL),
        ]
        return MeterReadout(device=self.name, timestamp=now, readings=tuple(readings))
