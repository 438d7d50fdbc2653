"""PV inverter (EFI inflexible, curtailable): produces what the sun gives, or less when told."""

from __future__ import annotations

from datetime import datetime, timedelta

import xmpp_iot.efi as efi

from .base import InstructionRejected, SimDevice

PEAK_W = 4_000.0


class PvInverter(SimDevice):
    kind = "pv"
    thing_class = "PVInverter"
    efi_category = "inflexible"

    def __init__(self, name: str, bus: int, feeder: str, seed: int = 0, hold_s: float = 60.0,
                 sun: float = 0.6) -> None:
        super().__init__(name, bus, feeder, seed)
        self.hold_s = hold_s
        self.sun = sun
        self.limit_w: float | None = None  # curtailment: at most this much production
        self.instructed: tuple[str, float] | None = None
        self.t = 0.0

    def available_w(self) -> float:
        return PEAK_W * self.sun

    def power_w(self) -> float:
        produced = self.available_w() if self.limit_w is None else min(self.available_w(), self.limit_w)
        return -produced

    def start_peak(self) -> None:
        self.sun = 0.1  # evening
        self.flexibility_changed = True

    def step(self, t: float, dt: float, now: datetime) -> None:
        self.t = t
        if self.instructed is not None and t >= self.instructed[1]:
            self.report(self.instructed[0], efi.InstructionStatus.SUCCEEDED, "curtailment over")
            self.instructed, self.limit_w = None, None

    def registration(self, now: datetime) -> efi.InflexibleRegistration:
        return efi.InflexibleRegistration(
            efi_resource_id=self.name, timestamp=now, instruction_processing_delay=self.processing_delay(),
            device_description=self.description(efi.DeviceClass.PV_PANEL),
            supported_commodities=(efi.Commodity.ELECTRICITY,),
        )

    def flexibility(self, now: datetime) -> list[efi.FlexibilityUpdate]:
        forecast = efi.InflexibleForecast(
            efi_resource_id=self.name, timestamp=now, flexibility_update_id=self.next_update_id(), valid_from=now,
            forecast_profiles=efi.ProfileContainer(electricity=efi.ElectricityProfile(elements=(
                efi.ElectricityProfileElement(duration=timedelta(minutes=15), power=self.power_w()),))),
        )
        options = efi.InflexibleCurtailmentOptions(
            efi_resource_id=self.name, timestamp=now, flexibility_update_id=self.next_update_id(), valid_from=now,
            curtailment_options=(efi.CurtailmentOption(
                curtailment_quantity=efi.CurtailmentQuantity.ELECTRICITY_POWER,
                curtailment_ranges=(efi.CurtailmentRange(lower_bound=0.0, upper_bound=PEAK_W),)),),
        )
        return [forecast, options]

    def apply(self, instruction: efi.Instruction, now: datetime) -> None:
        if not isinstance(instruction, efi.InflexibleInstruction):
            raise InstructionRejected(f"a PV inverter takes InflexibleInstruction, not {type(instruction).__name__}")
        profile = instruction.curtailment_profile
        if profile.curtailment_quantity is not efi.CurtailmentQuantity.ELECTRICITY_POWER or not profile.elements:
            raise InstructionRejected("only ELECTRICITY.POWER curtailment is supported")
        value = profile.elements[0].value
        if not 0.0 <= value <= PEAK_W:
            raise InstructionRejected(f"curtailment to {value} W is outside 0..{PEAK_W} W")
        self.report(instruction.instruction_id, efi.InstructionStatus.ACCEPTED)
        self.limit_w = value
        self.instructed = (instruction.instruction_id, self.t + self.hold_s)
        self.flexibility_changed = True
        self.report(instruction.instruction_id, efi.InstructionStatus.STARTED, f"limited to {value:.0f} W")
