"""A radial low-voltage feeder, simple enough to compute every second for thousands of loads.

Households sit at buses 1..N along one cable from the transformer (bus 0). Each cable segment
carries the net load of every household behind it; its voltage drop is the linearised
``ΔV = (P·R + Q·X) / V`` per phase. That is what a DSO means by "voltage drops with net load
along the feeder", and it is enough to make congestion (head current above its rating) and
voltage limits real for the apps, which only ever see it through measurements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import FeederConfig

__all__ = ["FeederState", "solve_feeder"]


@dataclass(frozen=True, slots=True)
class FeederState:
    """One solution: per-bus voltages (V, phase-to-neutral) and per-segment currents (A per phase)."""

    voltages: tuple[float, ...]  # bus 0 (transformer) .. bus N
    currents: tuple[float, ...]  # segment k feeds bus k+1 (k = 0..N-1); negative = reverse flow
    head_power_w: float  # three-phase active power through the transformer
    config: FeederConfig

    @property
    def head_current_a(self) -> float:
        return abs(self.currents[0]) if self.currents else 0.0

    @property
    def loading(self) -> float:
        """Head current as a fraction of the rated current."""
        return self.head_current_a / self.config.rated_current_a

    @property
    def congested(self) -> bool:
        return self.loading > self.config.loading_limit

    def voltage_pu(self, bus: int) -> float:
        return self.voltages[bus] / self.config.nominal_voltage_v

    def voltage_violations(self) -> list[int]:
        """Buses outside the voltage band."""
        lo, hi = self.config.voltage_min_pu, self.config.voltage_max_pu
        return [i for i in range(len(self.voltages)) if not lo <= self.voltage_pu(i) <= hi]


def solve_feeder(config: FeederConfig, loads_w: list[float], reactive_var: list[float] | None = None,
                 head_voltage_v: float | None = None) -> FeederState:
    """Voltages and currents for three-phase balanced net loads (W, import positive) at buses 1..N."""
    n = len(loads_w)
    q = reactive_var if reactive_var is not None else [0.0] * n
    if len(q) != n:
        raise ValueError("loads_w and reactive_var must have one value per household")
    for value in (*loads_w, *q):
        if not math.isfinite(value):
            raise ValueError(f"load {value!r} is not a finite number")
    # power flowing through each segment = everything downstream (per phase)
    p_down, q_down = [0.0] * n, [0.0] * n
    acc_p = acc_q = 0.0
    for k in range(n - 1, -1, -1):
        acc_p += loads_w[k] / 3
        acc_q += q[k] / 3
        p_down[k], q_down[k] = acc_p, acc_q
    v = head_voltage_v if head_voltage_v is not None else config.nominal_voltage_v
    voltages, currents = [v], []
    r, x = config.segment_resistance_ohm, config.segment_reactance_ohm
    for k in range(n):
        s = math.hypot(p_down[k], q_down[k])
        currents.append(math.copysign(s / v, p_down[k]))
        v = max(v - (p_down[k] * r + q_down[k] * x) / v, 1.0)
        voltages.append(v)
    return FeederState(tuple(voltages), tuple(currents), sum(loads_w), config)
