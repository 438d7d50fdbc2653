"""Home battery (EFI storage): idles, charges from PV surplus, can be told to discharge."""

from __future__ import annotations

import xmpp_iot.efi as efi

from .storage import Mode, StorageDevice

CAPACITY_WH = 10_000.0
POWER_W = 5_000.0
RATE = POWER_W / CAPACITY_WH * 100 / 3600  # % per second at full power


class Battery(StorageDevice):
    kind = "battery"
    thing_class = "Battery"
    device_class = efi.DeviceClass.STATIONARY_BATTERY
    modes = (Mode(0, "idle", 0.0, 0.0), Mode(1, "charge", POWER_W, RATE), Mode(2, "discharge", -POWER_W, -RATE))

    def initial_fill(self) -> float:
        return 60.0 + self.random.uniform(-10, 10)

    def own_choice(self, peak: bool) -> Mode:
        return self.modes[0]  # keeps its charge for the evening unless asked
