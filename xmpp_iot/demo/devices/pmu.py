"""PMU-style measurement unit on the feeder: voltage and current phasors, frequency and ROCOF,
every second. At bus 0 it sees the feeder head current (what congestion is measured by)."""

from __future__ import annotations

from datetime import datetime

from ...discovery import Tag, num_tag
from ...measurement import Phase, Phasor, PmuFrame, Quantity, Reading
from ..grid import FeederState
from .base import SimDevice

ANGLES = {Phase.L1: 0.0, Phase.L2: -120.0, Phase.L3: 120.0}


class Pmu(SimDevice):
    kind = "pmu"
    thing_class = "PMU"
    measures = True

    def __init__(self, name: str, bus: int, feeder: str, rated_current_a: float, seed: int = 0) -> None:
        super().__init__(name, bus, feeder, seed)
        self.rated_current_a = rated_current_a
        self.frequency = 50.0

    def tags(self) -> list[Tag]:
        # the current rating of the cable it measures: apps compute loading without a grid database
        return [*super().tags(), num_tag("IRATED", self.rated_current_a)]

    def step(self, t: float, dt: float, now: datetime) -> None:
        self.previous = self.frequency
        self.frequency = 50.0 + self.random.gauss(0, 0.01)

    def measurement(self, now: datetime, state: FeederState) -> PmuFrame:
        v = state.voltages[self.bus]
        segment = min(self.bus, len(state.currents) - 1)
        i = abs(state.currents[segment]) if state.currents else 0.0
        readings = [Reading.of(Quantity.FREQUENCY, round(self.frequency, 4), now),
                    Reading.of(Quantity.ROCOF, round(self.frequency - getattr(self, "previous", 50.0), 4), now)]
        for phase, angle in ANGLES.items():
            readings.append(Reading.of(Quantity.VOLTAGE, Phasor(round(v, 2), angle), now, phase))
            readings.append(Reading.of(Quantity.CURRENT, Phasor(round(i, 2), angle - 14.0), now, phase))
        return PmuFrame(device=self.name, timestamp=now, readings=tuple(readings))
