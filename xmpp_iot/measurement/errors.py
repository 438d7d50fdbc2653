"""Errors of the measurement payload: the same family as EFI's (:class:`PayloadError`)."""

from __future__ import annotations

from ..efi.errors import PayloadError, PayloadValidationError

__all__ = ["MeasurementValidationError", "PayloadError", "PayloadValidationError"]


class MeasurementValidationError(PayloadValidationError):
    """A measurement document or payload object that cannot be accepted."""
