"""Washing machine (EFI shiftable): a program is requested at the evening peak and starts on its
own after a short delay, unless demand response tells it when to start (a ShiftableInstruction)."""

from __future__ import annotations

from datetime import datetime, timedelta

import xmpp_iot.efi as efi

from .base import InstructionRejected, SimDevice

PROGRAM_W = 2_000.0
PROGRAM_S = 90.0
AUTO_START_S = 8.0


class WashingMachine(SimDevice):
    kind = "washing_machine"
    thing_class = "WashingMachine"
    efi_category = "shiftable"

    def __init__(self, name: str, bus: int, feeder: str, seed: int = 0, hold_s: float = 60.0) -> None:
        super().__init__(name, bus, feeder, seed)
        self.hold_s = hold_s
        self.t = 0.0
        self.requested_at: float | None = None
        self.start_at: float | None = None
        self.running_since: float | None = None
        self.instruction_id = ""
        self.done = False

    def power_w(self) -> float:
        return PROGRAM_W if self.running_since is not None else 0.0

    def start_peak(self) -> None:
        if self.requested_at is None:
            self.requested_at = self.t
            self.start_at = self.t + AUTO_START_S
            self.flexibility_changed = True

    def step(self, t: float, dt: float, now: datetime) -> None:
        self.t = t
        if self.running_since is None and self.start_at is not None and t >= self.start_at:
            self.running_since, self.start_at = t, None
            self.flexibility_changed = True
            if self.instruction_id:
                self.report(self.instruction_id, efi.InstructionStatus.STARTED)
        elif self.running_since is not None and t - self.running_since >= PROGRAM_S:
            self.running_since, self.done = None, True
            if self.instruction_id:
                self.report(self.instruction_id, efi.InstructionStatus.SUCCEEDED)

    def registration(self, now: datetime) -> efi.ShiftableRegistration:
        return efi.ShiftableRegistration(
            efi_resource_id=self.name, timestamp=now, instruction_processing_delay=self.processing_delay(),
            device_description=self.description(efi.DeviceClass.WASHING_MACHINE),
            supported_commodities=(efi.Commodity.ELECTRICITY,),
        )

    def flexibility(self, now: datetime) -> list[efi.FlexibilityUpdate]:
        if self.start_at is None:  # nothing to shift: no program waiting
            return []
        profile = efi.ProfileContainer(electricity=efi.ElectricityProfile(elements=(
            efi.ElectricityProfileElement(duration=timedelta(seconds=PROGRAM_S), power=PROGRAM_W),)))
        return [efi.ShiftableUpdate(
            efi_resource_id=self.name, timestamp=now, flexibility_update_id=self.next_update_id(), valid_from=now,
            end_before=now + timedelta(hours=4),
            sequential_profiles=(efi.SequentialProfile(
                sequence_nr=0, max_interval_before=timedelta(0),
                alternatives=(efi.SequentialProfileAlternative(alternative_nr=0, profiles=profile),)),),
        )]

    def apply(self, instruction: efi.Instruction, now: datetime) -> None:
        if not isinstance(instruction, efi.ShiftableInstruction):
            raise InstructionRejected(f"a washing machine takes ShiftableInstruction, not {type(instruction).__name__}")
        if self.start_at is None:
            raise InstructionRejected("already running" if self.running_since is not None else "no program waiting")
        (step,) = instruction.sequential_profile_instructions or (None,)
        if step is None:
            raise InstructionRejected("no sequential profile instruction")
        delay = (step.start_time - now).total_seconds()
        self.report(instruction.instruction_id, efi.InstructionStatus.ACCEPTED, f"starts in {delay:.0f} s")
        self.instruction_id = instruction.instruction_id
        self.start_at = self.t + max(0.0, delay)
