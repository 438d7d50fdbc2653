"""Simulated field devices, one module per kind; :func:`build_neighbourhood` places them on the feeder."""

from __future__ import annotations

from collections.abc import Callable

from ..config import DemoConfig
from .base import InstructionRejected, SimDevice, StatusChange
from .battery import Battery
from .ev_charger import EvCharger
from .heat_pump import HeatPump
from .meter import SmartMeter
from .pmu import Pmu
from .pv import PvInverter
from .washing_machine import WashingMachine

__all__ = ["Household", "InstructionRejected", "Neighbourhood", "SimDevice", "StatusChange", "build_neighbourhood"]

APPLIANCES: dict[str, Callable[..., SimDevice]] = {
    "pv": PvInverter, "heat_pump": HeatPump, "battery": Battery, "ev_charger": EvCharger,
    "washing_machine": WashingMachine,
}


class Household:
    """The devices behind one connection; its net load is what the meter and the grid see."""

    def __init__(self, name: str, bus: int, base_load_w: float) -> None:
        self.name, self.bus, self.base_load_w = name, bus, base_load_w
        self.devices: list[SimDevice] = []

    def power_w(self) -> float:
        return self.base_load_w + sum(d.power_w() for d in self.devices)


class Neighbourhood:
    def __init__(self, households: list[Household], pmus: list[Pmu]) -> None:
        self.households, self.pmus = households, pmus

    @property
    def devices(self) -> list[SimDevice]:
        return [*self.pmus, *(d for h in self.households for d in h.devices)]

    def loads_w(self) -> list[float]:
        return [h.power_w() for h in self.households]


def build_neighbourhood(config: DemoConfig, seed: int = 0) -> Neighbourhood:
    feeder, hold = config.feeder.name, config.scenario.hold_s
    households = []
    for bus, name in enumerate(config.household_names(), start=1):
        house = Household(name, bus, config.households.base_load_w)
        for kind in config.households.devices:
            device_name = f"{name}-{kind}"
            if kind == "meter":
                house.devices.append(SmartMeter(device_name, bus, feeder, house.power_w, seed))
            else:
                house.devices.append(APPLIANCES[kind](device_name, bus, feeder, seed, hold_s=hold))
        households.append(house)
    n = len(households)
    count = config.pmus.count
    buses = [round(i * n / (count - 1)) for i in range(count)] if count > 1 else [0] * count
    pmus = [Pmu(f"pmu{i + 1}", bus, feeder, config.feeder.rated_current_a, seed) for i, bus in enumerate(buses)]
    return Neighbourhood(households, pmus)
