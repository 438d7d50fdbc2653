"""Which InstructionStatus may follow which (EFI 2.0 specification, section 3.6, figure 10).

An Instruction is first ACCEPTED or REJECTED. REJECTED is final. From ACCEPTED it may go to STARTED
(execution takes time, e.g. following a profile), SUCCEEDED or ABORTED; from STARTED to SUCCEEDED or
ABORTED. SUCCEEDED and ABORTED are final. Repeating the current status is not a transition and is
refused too, so a CEM can tell a duplicate from progress.
"""

from __future__ import annotations

from .enums import InstructionStatus
from .errors import IllegalStatusTransition

__all__ = ["ALLOWED_TRANSITIONS", "FINAL_STATUSES", "check_transition", "is_allowed"]

_S = InstructionStatus

#: previous status (None = no status reported yet) → statuses that may follow it
ALLOWED_TRANSITIONS: dict[InstructionStatus | None, frozenset[InstructionStatus]] = {
    None: frozenset({_S.ACCEPTED, _S.REJECTED}),
    _S.ACCEPTED: frozenset({_S.STARTED, _S.SUCCEEDED, _S.ABORTED}),
    _S.STARTED: frozenset({_S.SUCCEEDED, _S.ABORTED}),
    _S.SUCCEEDED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.ABORTED: frozenset(),
}

FINAL_STATUSES = frozenset(s for s, nxt in ALLOWED_TRANSITIONS.items() if s is not None and not nxt)


def is_allowed(previous: InstructionStatus | None, new: InstructionStatus) -> bool:
    """True when ``new`` may follow ``previous``."""
    return new in ALLOWED_TRANSITIONS[previous]


def check_transition(
    previous: InstructionStatus | None, new: InstructionStatus, instruction_id: str = ""
) -> None:
    """Raise :class:`IllegalStatusTransition` unless ``new`` may follow ``previous``."""
    if new in ALLOWED_TRANSITIONS[previous]:
        return
    before = previous.value if previous is not None else "(no status yet)"
    allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[previous])) or "nothing (final)"
    which = f" of instruction {instruction_id!r}" if instruction_id else ""
    raise IllegalStatusTransition(
        "InstructionStatusUpdate/status",
        f"illegal transition{which} from {before} to {new.value}; allowed next: {allowed}",
    )
