"""Heat pump with a buffer tank (EFI storage): the fill level is the buffer temperature; it runs
at full power at the evening peak and can be turned down to eco or off while the buffer lasts."""

from __future__ import annotations

import xmpp_iot.efi as efi

from .storage import Mode, StorageDevice


class HeatPump(StorageDevice):
    kind = "heat_pump"
    thing_class = "HeatPump"
    device_class = efi.DeviceClass.HEATPUMP
    fill_label, fill_unit = "Buffer temperature", "Degrees Celsius"
    fill_min, fill_max = 30.0, 60.0
    modes = (Mode(0, "off", 0.0, -0.01), Mode(1, "eco", 800.0, 0.0), Mode(2, "full", 2_500.0, 0.02))

    def initial_fill(self) -> float:
        return 45.0 + self.random.uniform(-3, 3)

    def own_choice(self, peak: bool) -> Mode:
        if self.fill < 38.0:
            return self.modes[2]
        return self.modes[2] if peak else self.modes[1]
