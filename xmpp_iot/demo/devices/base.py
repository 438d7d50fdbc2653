"""What every simulated device is: a physical model plus the payloads it publishes.

A device knows nothing about sockets: :mod:`xmpp_iot.demo.fleet` gives each one its own XMPP
session (a real client account), registers its meta tags, publishes what these methods return
and hands it the EFI instructions it receives. Keeping the physics apart makes each kind a
small module that can be unit-tested without a server.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import xmpp_iot.efi as efi

from ...discovery import Tag, num_tag, str_tag
from ...measurement import MeterReadout, PmuFrame
from ..grid import FeederState

__all__ = ["InstructionRejected", "SimDevice", "StatusChange"]

MANUFACTURER = "demo.xmpp-iot"


class InstructionRejected(Exception):
    """The appliance cannot follow an instruction; the reason goes into the REJECTED status."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    """An instruction's new status, to be published as an EFI InstructionStatusUpdate."""

    instruction_id: str
    status: efi.InstructionStatus
    info: str = ""


class SimDevice:
    """One field device on bus ``bus`` of the feeder (0 = transformer, 1..N = households)."""

    kind = ""  # the config's name for the kind
    thing_class = ""  # the registry's CLASS meta tag
    efi_category = ""  # "", "storage", "shiftable" or "inflexible": what EFI flexibility it offers
    measures = False  # publishes measurements to its meas/ node

    def __init__(self, name: str, bus: int, feeder: str, seed: int = 0) -> None:
        self.name = name
        self.bus = bus
        self.feeder = feeder
        self.random = random.Random(f"{name}/{seed}")
        self.serial = f"{self.random.getrandbits(48):012x}"
        self.statuses: list[StatusChange] = []  # produced by step()/apply(), drained by the fleet
        self.update_seq = 0
        self.flexibility_changed = True  # publish the flexibility once at start

    # -- registry --------------------------------------------------------------------------
    def tags(self) -> list[Tag]:
        """Public meta tags: what apps search for (the fleet adds the secret KEY)."""
        tags = [str_tag("SN", self.serial), str_tag("MAN", MANUFACTURER), str_tag("CLASS", self.thing_class),
                str_tag("FEEDER", self.feeder), num_tag("BUS", float(self.bus)), str_tag("NAME", self.name)]
        if self.efi_category:
            tags.append(str_tag("EFI", self.efi_category))
        return tags

    # -- physics ---------------------------------------------------------------------------
    def power_w(self) -> float:
        """Net active power drawn from the grid now (W, import positive)."""
        return 0.0

    def step(self, t: float, dt: float, now: datetime) -> None:
        """Advance the model by ``dt`` seconds; ``t`` is seconds since the scenario started."""

    def start_peak(self) -> None:
        """The evening peak begins: appliances that react to it switch on."""

    # -- payloads --------------------------------------------------------------------------
    def measurement(self, now: datetime, state: FeederState) -> PmuFrame | MeterReadout | None:
        return None

    def registration(self, now: datetime) -> efi.FlexibilityRegistration | None:
        return None

    def flexibility(self, now: datetime) -> list[efi.FlexibilityUpdate]:
        """The current flexibility description (published when :attr:`flexibility_changed`)."""
        return []

    def apply(self, instruction: efi.Instruction, now: datetime) -> None:
        """Carry out an instruction; raise InstructionRejected to refuse it."""
        raise InstructionRejected(f"{self.kind} offers no flexibility")

    # -- helpers for subclasses --------------------------------------------------------------
    def next_update_id(self) -> str:
        self.update_seq += 1
        return f"{self.name}-u{self.update_seq}"

    def description(self, device_class: efi.DeviceClass) -> efi.DeviceDescription:
        return efi.DeviceDescription(device_class=device_class, serial_number=self.serial, label=self.name)

    def report(self, instruction_id: str, status: efi.InstructionStatus, info: str = "") -> None:
        self.statuses.append(StatusChange(instruction_id, status, info))

    @staticmethod
    def processing_delay() -> timedelta:
        return timedelta(seconds=1)
