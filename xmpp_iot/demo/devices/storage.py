"""Shared model of the EFI *storage* appliances: battery, EV charger, heat pump with a buffer.

Each has one actuator with a few discrete running modes (power and filling rate) and a fill
level (state of charge, buffer temperature). Demand response switches the running mode; the
appliance returns to its own choice when the instruction's hold time has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import xmpp_iot.efi as efi

from .base import InstructionRejected, SimDevice

__all__ = ["Mode", "StorageDevice"]


@dataclass(frozen=True, slots=True)
class Mode:
    id: int
    label: str
    power_w: float
    filling_rate: float  # fill-level unit per second


class StorageDevice(SimDevice):
    efi_category = "storage"
    device_class = efi.DeviceClass.MISCELLANEOUS
    fill_label, fill_unit = "State of charge", "%"
    fill_min, fill_max = 0.0, 100.0
    modes: tuple[Mode, ...] = ()

    def __init__(self, name: str, bus: int, feeder: str, seed: int = 0, hold_s: float = 60.0) -> None:
        super().__init__(name, bus, feeder, seed)
        self.hold_s = hold_s
        self.fill = self.initial_fill()
        self.mode = self.own_choice(peak=False)
        self.peak = False
        self.instructed: tuple[str, float] | None = None  # (instruction id, until t)
        self.t = 0.0

    # subclasses decide what they do when nobody instructs them
    def initial_fill(self) -> float:
        return 50.0

    def own_choice(self, peak: bool) -> Mode:
        return self.modes[0]

    def mode_by_id(self, mode_id: int) -> Mode:
        for m in self.modes:
            if m.id == mode_id:
                return m
        raise InstructionRejected(f"no running mode {mode_id}")

    def power_w(self) -> float:
        return self.mode.power_w

    def start_peak(self) -> None:
        self.peak = True
        if self.instructed is None:
            self._switch(self.own_choice(peak=True))

    def step(self, t: float, dt: float, now: datetime) -> None:
        self.t = t
        self.fill = min(self.fill_max, max(self.fill_min, self.fill + self.mode.filling_rate * dt))
        if self.instructed is not None and t >= self.instructed[1]:
            self.report(self.instructed[0], efi.InstructionStatus.SUCCEEDED, "hold time over")
            self.instructed = None
            self._switch(self.own_choice(self.peak))
        elif self.instructed is None:
            self._switch(self.own_choice(self.peak))

    def _switch(self, mode: Mode) -> None:
        if mode is not self.mode:
            self.mode = mode
            self.flexibility_changed = True

    def registration(self, now: datetime) -> efi.StorageRegistration:
        return efi.StorageRegistration(
            efi_resource_id=self.name, timestamp=now, instruction_processing_delay=self.processing_delay(),
            device_description=self.description(self.device_class),
            fill_level_label=self.fill_label, fill_level_unit=self.fill_unit,
            actuators=(efi.Actuator(id=0, supported_commodities=(efi.Commodity.ELECTRICITY,), label=self.kind),),
        )

    def flexibility(self, now: datetime) -> list[efi.FlexibilityUpdate]:
        modes = tuple(
            efi.StorageDiscreteRunningMode(id=m.id, label=m.label, elements=(efi.StorageDiscreteRunningModeElement(
                fill_level_lower_bound=self.fill_min, fill_level_upper_bound=self.fill_max,
                electrical_power=m.power_w, filling_rate=m.filling_rate),))
            for m in self.modes
        )
        transitions = tuple(efi.Transition(from_running_mode_id=a.id, to_running_mode_id=b.id)
                            for a in self.modes for b in self.modes if a is not b)
        description = efi.StorageSystemDescription(
            efi_resource_id=self.name, timestamp=now, flexibility_update_id=self.next_update_id(), valid_from=now,
            actuator_behaviours=(efi.ActuatorBehaviour(actuator_id=0, running_modes=modes, transitions=transitions),),
        )
        status = efi.StorageStatus(
            efi_resource_id=self.name, timestamp=now, flexibility_update_id=self.next_update_id(), valid_from=now,
            current_fill_level=round(self.fill, 3),
            actuator_statuses=(efi.ActuatorStatus(actuator_id=0, current_running_mode=self.mode.id),),
        )
        return [description, status]

    def apply(self, instruction: efi.Instruction, now: datetime) -> None:
        if not isinstance(instruction, efi.StorageInstruction):
            raise InstructionRejected(f"a {self.kind} takes StorageInstruction, not {type(instruction).__name__}")
        if len(instruction.actuator_instructions) != 1 or instruction.actuator_instructions[0].actuator_id != 0:
            raise InstructionRejected("exactly one instruction for actuator 0 expected")
        mode = self.mode_by_id(instruction.actuator_instructions[0].running_mode_id)
        if self.instructed is not None:  # a newer instruction replaces the running one
            self.report(self.instructed[0], efi.InstructionStatus.ABORTED, "replaced by " + instruction.instruction_id)
        self.report(instruction.instruction_id, efi.InstructionStatus.ACCEPTED)
        self.instructed = (instruction.instruction_id, self.t + self.hold_s)
        self._switch(mode)
        self.report(instruction.instruction_id, efi.InstructionStatus.STARTED, mode.label)
