"""EV charger (EFI storage): charges at 11 kW when a car plugs in at the evening peak; can be
throttled to the 6 A minimum that IEC 61851 allows (about 4.1 kW on three phases)."""

from __future__ import annotations

import xmpp_iot.efi as efi

from .storage import Mode, StorageDevice

CAPACITY_WH = 60_000.0


def _rate(power_w: float) -> float:
    return power_w / CAPACITY_WH * 100 / 3600


class EvCharger(StorageDevice):
    kind = "ev_charger"
    thing_class = "EVCharger"
    device_class = efi.DeviceClass.ELECTRICAL_VEHICLE
    modes = (Mode(0, "idle", 0.0, 0.0), Mode(1, "charge 16A", 11_000.0, _rate(11_000.0)),
             Mode(2, "charge 6A", 4_140.0, _rate(4_140.0)))

    def initial_fill(self) -> float:
        return 30.0 + self.random.uniform(-10, 10)

    max_current_a = 16

    def own_choice(self, peak: bool) -> Mode:
        if not (peak and self.fill < 95.0):
            return self.modes[0]
        return self.modes[1] if self.max_current_a >= 16 else self.modes[2]

    def set_max_current(self, amps: int) -> None:
        """XEP-0325 parameter ``MaxCurrent`` (6..16 A): the owner's limit, kept until changed."""
        if not 6 <= amps <= 16:
            raise ValueError(f"MaxCurrent must be 6..16 A, not {amps}")
        self.max_current_a = amps
        if self.instructed is None:
            self._switch(self.own_choice(self.peak))
