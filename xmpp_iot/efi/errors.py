"""One exception family for every payload that cannot be accepted.

The EFI-over-XMPP binding (and the XEP-0323 readout later) turns a payload error into one stanza error,
so every way a document can be wrong (not XML, wrong namespace, schema violation, semantic rule,
oversized, illegal status transition) raises a subclass of :class:`PayloadError` whose message names the
element and the reason.
"""

from __future__ import annotations

__all__ = [
    "EfiValidationError",
    "IllegalStatusTransition",
    "PayloadError",
    "PayloadValidationError",
    "UnknownFlexibilityUpdate",
    "UnknownInstruction",
]


class PayloadError(Exception):
    """Base of all payload errors (EFI and measurement)."""


class PayloadValidationError(PayloadError, ValueError):
    """A document or message that breaks the wire format or one of its rules.

    ``element`` is where: an XPath-like path (``/efi:StorageStatus/efi:currentFillLevel``) or a tag;
    ``reason`` says what is wrong in words a device developer understands.
    """

    def __init__(self, element: str, reason: str) -> None:
        self.element = element
        self.reason = reason
        super().__init__(f"{element}: {reason}")


class EfiValidationError(PayloadValidationError):
    """An EFI 2.0 document or message that cannot be accepted."""


class UnknownFlexibilityUpdate(EfiValidationError):
    """An Instruction answers a flexibilityUpdateId this device never sent (or revoked)."""


class UnknownInstruction(EfiValidationError):
    """An InstructionStatusUpdate or InstructionRevoke names an instruction that was never sent."""


class IllegalStatusTransition(EfiValidationError):
    """An InstructionStatusUpdate moves an instruction along an edge the specification forbids."""
