"""Instruction status transitions (spec 3.6, figure 10) and the history-dependent rules of the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import xmpp_iot.efi as efi
from xmpp_iot.efi import (
    FlexibilityLedger,
    IllegalStatusTransition,
    InstructionStatus,
    UnknownFlexibilityUpdate,
)
from xmpp_iot.efi.errors import UnknownInstruction
from xmpp_iot.efi.status import check_transition, is_allowed

S = InstructionStatus
T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)

LEGAL = [
    (None, S.ACCEPTED),
    (None, S.REJECTED),
    (S.ACCEPTED, S.STARTED),
    (S.ACCEPTED, S.SUCCEEDED),
    (S.ACCEPTED, S.ABORTED),
    (S.STARTED, S.SUCCEEDED),
    (S.STARTED, S.ABORTED),
]


@pytest.mark.parametrize(("before", "after"), LEGAL)
def test_legal_transitions(before, after) -> None:
    check_transition(before, after)
    assert is_allowed(before, after)


ILLEGAL = [(b, a) for b in [None, *S] for a in S if (b, a) not in LEGAL]


@pytest.mark.parametrize(("before", "after"), ILLEGAL)
def test_illegal_transitions_raise(before, after) -> None:
    with pytest.raises(IllegalStatusTransition) as err:
        check_transition(before, after, "instr-1")
    assert err.value.element == "InstructionStatusUpdate/status"
    assert f"to {after.value}" in err.value.reason and "instr-1" in err.value.reason


def test_final_states_allow_nothing() -> None:
    assert len(ILLEGAL) == 6 * 5 - len(LEGAL)
    assert efi.status.FINAL_STATUSES == {S.SUCCEEDED, S.REJECTED, S.ABORTED}


def status_update(instruction_id: str, status: InstructionStatus) -> efi.InstructionStatusUpdate:
    return efi.InstructionStatusUpdate(
        efi_resource_id="battery-1", timestamp=T0, instruction_id=instruction_id, status=status
    )


def storage_status(update_id: str, resource: str = "battery-1") -> efi.StorageStatus:
    return efi.StorageStatus(
        efi_resource_id=resource,
        timestamp=T0,
        flexibility_update_id=update_id,
        valid_from=T0,
        current_fill_level=40.0,
    )


def instruction(instruction_id: str, update_id: str, resource: str = "battery-1") -> efi.StorageInstruction:
    return efi.StorageInstruction(
        efi_resource_id=resource,
        timestamp=T0,
        instruction_id=instruction_id,
        flexibility_update_id=update_id,
        actuator_instructions=(
            efi.ActuatorInstruction(actuator_id=0, running_mode_id=1, start_time=T0 + timedelta(minutes=5)),
        ),
    )


def test_instruction_for_unknown_update_is_refused() -> None:
    ledger = FlexibilityLedger()
    ledger.record(storage_status("upd-1"))
    ledger.record(instruction("i-1", "upd-1"))
    with pytest.raises(UnknownFlexibilityUpdate) as err:
        ledger.record(instruction("i-2", "upd-9"))
    assert err.value.element == "StorageInstruction/flexibilityUpdateId"
    assert "upd-9" in err.value.reason
    assert isinstance(err.value, efi.EfiValidationError)


def test_updates_are_per_resource() -> None:
    ledger = FlexibilityLedger()
    ledger.record(storage_status("upd-1", resource="battery-1"))
    with pytest.raises(UnknownFlexibilityUpdate):
        ledger.check(instruction("i-1", "upd-1", resource="battery-2"))


def test_flexibility_revoke_forgets_earlier_updates() -> None:
    ledger = FlexibilityLedger()
    ledger.record(storage_status("upd-1"))
    ledger.record(efi.FlexibilityRevoke(efi_resource_id="battery-1", timestamp=T0))
    assert not ledger.knows_update("battery-1", "upd-1")
    with pytest.raises(UnknownFlexibilityUpdate):
        ledger.record(instruction("i-1", "upd-1"))
    ledger.record(storage_status("upd-2"))
    ledger.record(instruction("i-1", "upd-2"))


def test_status_updates_follow_the_table() -> None:
    ledger = FlexibilityLedger()
    ledger.record(storage_status("upd-1"))
    ledger.record(instruction("i-1", "upd-1"))
    assert ledger.status_of("battery-1", "i-1") is None
    with pytest.raises(IllegalStatusTransition, match="from \\(no status yet\\) to STARTED"):
        ledger.record(status_update("i-1", S.STARTED))
    ledger.record(status_update("i-1", S.ACCEPTED))
    ledger.record(status_update("i-1", S.STARTED))
    with pytest.raises(IllegalStatusTransition, match="from STARTED to ACCEPTED"):
        ledger.record(status_update("i-1", S.ACCEPTED))
    ledger.record(status_update("i-1", S.SUCCEEDED))
    assert ledger.status_of("battery-1", "i-1") is S.SUCCEEDED
    with pytest.raises(IllegalStatusTransition, match="allowed next: nothing"):
        ledger.record(status_update("i-1", S.ABORTED))


def test_status_for_unknown_instruction() -> None:
    with pytest.raises(UnknownInstruction) as err:
        FlexibilityLedger().record(status_update("nope", S.ACCEPTED))
    assert err.value.element == "InstructionStatusUpdate/instructionId"


def test_ledger_memory_is_bounded() -> None:
    ledger = FlexibilityLedger(max_per_resource=3)
    for i in range(5):
        ledger.record(storage_status(f"upd-{i}"))
    assert not ledger.knows_update("battery-1", "upd-1")
    assert ledger.knows_update("battery-1", "upd-4")


def test_ledger_works_on_decoded_messages() -> None:
    ledger = FlexibilityLedger()
    ledger.record(efi.decode(efi.encode(storage_status("upd-1"))))
    ledger.record(efi.decode(efi.encode(instruction("i-1", "upd-1"))))
    ledger.record(efi.decode(efi.encode(status_update("i-1", S.REJECTED))))
    assert ledger.status_of("battery-1", "i-1") is S.REJECTED
