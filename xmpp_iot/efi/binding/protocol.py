"""The rules of EFI over XMPP (docs/efi-binding.md), with no sockets in them.

* which pub/sub item id each message is published under (one per message kind, so a node holds the
  current picture and a late subscriber catches up by fetching the items);
* which instruction class answers which registration;
* how an incoming instruction or revoke is checked against what the driver published, and how each
  failure maps to a stanza error (:func:`stanza_error`);
* the disco features a driver advertises.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

from ...errors import (
    BadRequest,
    Conflict,
    Forbidden,
    ItemNotFound,
    NotAcceptable,
    ProtocolError,
)
from ...trust import Tokens
from ..adjustable import AdjustableInstruction, AdjustableRegistration, AdjustableSystemDescription
from ..codec import EFI_NS
from ..enums import InstructionStatus
from ..errors import (
    EfiValidationError,
    IllegalStatusTransition,
    PayloadError,
    UnknownFlexibilityUpdate,
    UnknownInstruction,
)
from ..inflexible import InflexibleInstruction, InflexibleRegistration
from ..messages import (
    EfiMessage,
    FlexibilityRegistration,
    FlexibilityRevoke,
    FlexibilityUpdate,
    Instruction,
    InstructionRevoke,
    InstructionStatusUpdate,
    Measurement,
)
from ..shiftable import ShiftableInstruction, ShiftableRegistration, ShiftableUpdate
from ..status import FINAL_STATUSES
from ..storage import StorageInstruction, StorageRegistration, StorageSystemDescription

__all__ = [
    "BINDING_NS",
    "DEFAULT_MAX_PAYLOAD",
    "FEATURES",
    "DuplicateInstruction",
    "PayloadTooLarge",
    "RevokeOfFinishedInstruction",
    "WrongResource",
    "category_feature",
    "check_against_flexibility",
    "instruction_class",
    "instruction_tokens",
    "item_id",
    "stanza_error",
    "strip_tokens",
    "with_tokens",
]

#: our binding's namespace: a disco feature, and the namespace of binding-specific error details
BINDING_NS = "urn:xmpp-iot:efi-binding:1"

#: instructions larger than this are refused before parsing (not-acceptable with <payload-too-big/>, as
#: XEP-0060 does); below both servers' stanza limit (256 KiB), so the sender gets a stanza error
#: instead of a closed stream
DEFAULT_MAX_PAYLOAD = 64 * 1024

#: advertised by every appliance driver (XEP-0030): EFI 2.0 itself and our binding of it
FEATURES = (EFI_NS, BINDING_NS)

_CATEGORY = {
    InflexibleRegistration: ("inflexible", InflexibleInstruction),
    ShiftableRegistration: ("shiftable", ShiftableInstruction),
    StorageRegistration: ("storage", StorageInstruction),
    AdjustableRegistration: ("adjustable", AdjustableInstruction),
}

#: messages that travel as IQ set from the energy app to the driver; everything else is published
IQ_MESSAGES = frozenset({"InflexibleInstruction", "ShiftableInstruction", "StorageInstruction",
                         "AdjustableInstruction", "InstructionRevoke"})


#: XEP-0324 tokens on an instruction or revoke: attributes in our binding's namespace on the EFI root
#: element (the IQ's only child), stripped before the EFI schema sees the document
TOKEN_ATTRIBUTES = {"service": f"{{{BINDING_NS}}}serviceToken", "device": f"{{{BINDING_NS}}}deviceToken",
                    "user": f"{{{BINDING_NS}}}userToken"}


def with_tokens(element: ET.Element, tokens: Tokens | None) -> ET.Element:
    """``element`` carrying ``tokens`` (in place; unchanged when there are none)."""
    if tokens:
        for kind, attribute in TOKEN_ATTRIBUTES.items():
            value = getattr(tokens, kind)
            if value:
                element.set(attribute, value)
    return element


def instruction_tokens(element: ET.Element) -> Tokens:
    """The tokens an incoming instruction or revoke carries (empty Tokens when none)."""
    return Tokens(**{kind: element.get(attribute, "") for kind, attribute in TOKEN_ATTRIBUTES.items()})


def strip_tokens(element: ET.Element) -> ET.Element:
    """The EFI document without our token attributes (a copy when there were any)."""
    if not any(attribute in element.attrib for attribute in TOKEN_ATTRIBUTES.values()):
        return element
    clean = copy.copy(element)  # shallow: the children are shared, only the root's attributes change
    clean.attrib = {k: v for k, v in element.attrib.items() if k not in TOKEN_ATTRIBUTES.values()}
    return clean


class PayloadTooLarge(EfiValidationError):
    """An instruction larger than the driver accepts."""


class WrongResource(EfiValidationError):
    """An instruction for an efiResourceId this driver does not manage."""


class RevokeOfFinishedInstruction(EfiValidationError):
    """An InstructionRevoke for an instruction that already reached a final status."""


class DuplicateInstruction(EfiValidationError):
    """An instructionId the driver has already received."""


def category_feature(registration: FlexibilityRegistration) -> str:
    """Disco feature naming the driver's category, e.g. ``urn:xmpp-iot:efi-binding:1#storage``."""
    return f"{BINDING_NS}#{_CATEGORY[type(registration)][0]}"


def instruction_class(registration: FlexibilityRegistration) -> type[Instruction]:
    """The only Instruction class a driver of this category accepts."""
    return _CATEGORY[type(registration)][1]


def item_id(msg: EfiMessage) -> str:
    """Pub/sub item id of a published message: its EFI root element name.

    One item per kind means republishing replaces the previous one: the node always holds the
    registration, the newest update of each kind, the newest revoke, status update and measurement,
    never more than a dozen items (within every server's default ``max_items``), and a late subscriber
    replays them in ``timestamp`` order (:func:`replay_order`).
    """
    if type(msg).__name__ in IQ_MESSAGES or not msg.TAG:
        raise ValueError(f"{type(msg).__name__} is not published (instructions travel as IQ)")
    return msg.TAG


_RANK = {FlexibilityRegistration: 0, FlexibilityRevoke: 1, FlexibilityUpdate: 2, InstructionStatusUpdate: 3,
         Measurement: 4}


def replay_order(msg: EfiMessage) -> tuple:
    """Sort key for a late subscriber's replay: by timestamp; at the same instant the registration
    first, then a revoke, then updates (so an update made together with a revoke survives it)."""
    rank = next((r for cls, r in _RANK.items() if isinstance(msg, cls)), 5)
    return (msg.timestamp, rank)


def check_against_flexibility(instruction: Instruction, update: FlexibilityUpdate | None,
                              system: FlexibilityUpdate | None) -> None:
    """Rules only the driver can check: the instruction fits the flexibility it answers.

    ``update`` is the update named by flexibilityUpdateId (None when unknown), ``system`` the newest
    system description of the device (storage, adjustable) if any.
    """
    where = instruction.TAG
    if isinstance(instruction, ShiftableInstruction) and isinstance(update, ShiftableUpdate):
        offered = {(p.sequence_nr, a.alternative_nr): p for p in update.sequential_profiles for a in p.alternatives}
        for i, step in enumerate(instruction.sequential_profile_instructions, 1):
            if (step.sequence_nr, step.alternative_nr) not in offered:
                raise EfiValidationError(
                    f"/efi:{where}/efi:sequentialProfileInstructions/efi:sequentialProfileInstruction[{i}]",
                    f"sequence {step.sequence_nr} alternative {step.alternative_nr} is not in update "
                    f"{update.flexibility_update_id!r}",
                )
            if step.start_time < update.valid_from or step.start_time > update.end_before:
                raise EfiValidationError(
                    f"/efi:{where}/efi:sequentialProfileInstructions/efi:sequentialProfileInstruction[{i}]"
                    "/efi:startTime",
                    f"start {step.start_time.isoformat()} is outside {update.valid_from.isoformat()} .. "
                    f"{update.end_before.isoformat()}",
                )
    elif isinstance(instruction, StorageInstruction) and isinstance(system, StorageSystemDescription):
        modes = {b.actuator_id: {m.id for m in b.running_modes} for b in system.actuator_behaviours}
        for i, step in enumerate(instruction.actuator_instructions, 1):
            path = f"/efi:{where}/efi:actuatorInstructions/efi:actuatorInstruction[{i}]"
            if step.actuator_id not in modes:
                raise EfiValidationError(path + "/efi:actuatorId", f"actuator {step.actuator_id} is not described")
            if step.running_mode_id not in modes[step.actuator_id]:
                raise EfiValidationError(
                    path + "/efi:runningModeId",
                    f"actuator {step.actuator_id} has no running mode {step.running_mode_id}",
                )
    elif isinstance(instruction, AdjustableInstruction) and isinstance(system, AdjustableSystemDescription):
        if instruction.running_mode_id not in {m.id for m in system.running_modes}:
            raise EfiValidationError(f"/efi:{where}/efi:runningModeId",
                                     f"no running mode {instruction.running_mode_id} is described")


def check_revoke(revoke: InstructionRevoke, status: InstructionStatus | None) -> None:
    """A revoke of an instruction that already finished is a status transition that cannot happen."""
    if status in FINAL_STATUSES:
        raise RevokeOfFinishedInstruction(
            "/efi:InstructionRevoke/efi:instructionId",
            f"instruction {revoke.instruction_id!r} is already {status.value}; it cannot be revoked",
        )


def revoke_status(status: InstructionStatus | None) -> InstructionStatus:
    """The status a revoked instruction ends in: REJECTED before acceptance, else ABORTED."""
    return InstructionStatus.REJECTED if status is None else InstructionStatus.ABORTED


#: the payload error -> stanza error table (most specific class first)
_ERRORS: tuple[tuple[type[PayloadError], type[ProtocolError]], ...] = (
    (PayloadTooLarge, NotAcceptable),
    (WrongResource, ItemNotFound),
    (UnknownFlexibilityUpdate, ItemNotFound),
    (UnknownInstruction, ItemNotFound),
    (DuplicateInstruction, Conflict),
    (RevokeOfFinishedInstruction, NotAcceptable),
    (IllegalStatusTransition, NotAcceptable),
    (PayloadError, BadRequest),
)


def stanza_error(exc: PayloadError) -> ProtocolError:
    """The stanza error for a payload that cannot be accepted; its text is ``<element>: <reason>``."""
    for payload_cls, error_cls in _ERRORS:
        if isinstance(exc, payload_cls):
            extra = ET.Element(f"{{{BINDING_NS}}}payload-too-big") if isinstance(exc, PayloadTooLarge) else None
            return error_cls(str(exc), extra=extra)
    return BadRequest(str(exc))


def forbidden(sender: str) -> ProtocolError:
    return Forbidden(f"{sender} may not instruct this device")
