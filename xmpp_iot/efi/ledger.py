"""Context for the rules that need history: which flexibility updates an instruction may answer and
which status an instruction has reached.

A CEM feeds every message it receives or sends for a resource into :meth:`FlexibilityLedger.record`
(a Resource Manager can do the same). The ledger then refuses an Instruction for a
flexibilityUpdateId it has not seen (or that a FlexibilityRevoke invalidated), and an
InstructionStatusUpdate that breaks the transition table of :mod:`.status`. It holds plain values and
no XMPP, so the binding and tests can use it directly.
"""

from __future__ import annotations

from collections import OrderedDict

from .enums import InstructionStatus
from .errors import UnknownFlexibilityUpdate, UnknownInstruction
from .messages import (
    EfiMessage,
    FlexibilityRevoke,
    FlexibilityUpdate,
    Instruction,
    InstructionRevoke,
    InstructionStatusUpdate,
)
from .status import check_transition

__all__ = ["FlexibilityLedger"]


class _Resource:
    __slots__ = ("instructions", "updates")

    def __init__(self) -> None:
        self.updates: OrderedDict[str, None] = OrderedDict()
        self.instructions: OrderedDict[str, InstructionStatus | None] = OrderedDict()


class FlexibilityLedger:
    """Known flexibility updates and instruction statuses per resource (``efi_resource_id``).

    ``max_per_resource`` bounds memory: the oldest updates and instructions are forgotten first.
    """

    def __init__(self, max_per_resource: int = 1024) -> None:
        self.max_per_resource = max_per_resource
        self._resources: dict[str, _Resource] = {}

    def _resource(self, resource_id: str) -> _Resource:
        r = self._resources.get(resource_id)
        if r is None:
            r = self._resources[resource_id] = _Resource()
        return r

    # -- queries ------------------------------------------------------------------------------

    def knows_update(self, resource_id: str, flexibility_update_id: str) -> bool:
        """True when the resource sent this update and did not revoke it."""
        r = self._resources.get(resource_id)
        return r is not None and flexibility_update_id in r.updates

    def status_of(self, resource_id: str, instruction_id: str) -> InstructionStatus | None:
        """Last reported status of an instruction (None: none reported yet)."""
        r = self._resources.get(resource_id)
        if r is None or instruction_id not in r.instructions:
            raise UnknownInstruction("instructionId", f"instruction {instruction_id!r} of {resource_id!r} is unknown")
        return r.instructions[instruction_id]

    # -- checks (no side effects) -------------------------------------------------------------

    def check(self, msg: EfiMessage) -> None:
        """Raise if ``msg`` is not acceptable given the history; change nothing."""
        if isinstance(msg, Instruction):
            if not self.knows_update(msg.efi_resource_id, msg.flexibility_update_id):
                raise UnknownFlexibilityUpdate(
                    f"{msg.TAG}/flexibilityUpdateId",
                    f"instruction {msg.instruction_id!r} answers flexibility update "
                    f"{msg.flexibility_update_id!r}, which resource {msg.efi_resource_id!r} never sent or revoked",
                )
        elif isinstance(msg, InstructionStatusUpdate):
            previous = self._previous_status(msg.efi_resource_id, msg.instruction_id, msg.TAG)
            check_transition(previous, msg.status, msg.instruction_id)
        elif isinstance(msg, InstructionRevoke):
            self._previous_status(msg.efi_resource_id, msg.instruction_id, msg.TAG)

    def _previous_status(self, resource_id: str, instruction_id: str, tag: str) -> InstructionStatus | None:
        r = self._resources.get(resource_id)
        if r is None or instruction_id not in r.instructions:
            raise UnknownInstruction(
                f"{tag}/instructionId", f"instruction {instruction_id!r} of resource {resource_id!r} is unknown"
            )
        return r.instructions[instruction_id]

    # -- recording ----------------------------------------------------------------------------

    def record(self, msg: EfiMessage) -> None:
        """Check ``msg`` against the history, then remember what it changes."""
        self.check(msg)
        r = self._resource(msg.efi_resource_id)
        if isinstance(msg, FlexibilityUpdate):
            r.updates[msg.flexibility_update_id] = None
            r.updates.move_to_end(msg.flexibility_update_id)
            while len(r.updates) > self.max_per_resource:
                r.updates.popitem(last=False)
        elif isinstance(msg, FlexibilityRevoke):
            r.updates.clear()
        elif isinstance(msg, Instruction):
            r.instructions[msg.instruction_id] = None
            while len(r.instructions) > self.max_per_resource:
                r.instructions.popitem(last=False)
        elif isinstance(msg, InstructionStatusUpdate):
            r.instructions[msg.instruction_id] = msg.status
        elif isinstance(msg, InstructionRevoke):
            r.instructions.pop(msg.instruction_id, None)
