"""One exception family for every protocol error, mapped to XMPP stanza errors in one place.

Services raise these; protocol handlers turn them into `<error/>` replies with
`reply_error`. Clients get the same family back from `from_iq_error`, so application code
catches `ItemNotFound` instead of parsing condition strings.
"""

from __future__ import annotations

from typing import ClassVar

from slixmpp import Iq
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Error as _ErrorStanza

# RFC 6120 §8.3.3.12: slixmpp 1.17 lacks it and would send feature-not-implemented instead.
_ErrorStanza.conditions.add("policy-violation")


class XmppIotError(Exception):
    """Base of all xmpp-iot errors."""


class ProtocolError(XmppIotError):
    """An error that travels as an XMPP stanza error: condition, type and a human-readable text."""

    condition: ClassVar[str] = "undefined-condition"
    etype: ClassVar[str] = "cancel"

    def __init__(self, text: str = "", *, extra=None) -> None:
        super().__init__(text or self.condition)
        self.text = text
        self.extra = extra  # an optional application-specific child of <error/>


class BadRequest(ProtocolError):
    condition, etype = "bad-request", "modify"


class ItemNotFound(ProtocolError):
    condition, etype = "item-not-found", "cancel"


class Forbidden(ProtocolError):
    condition, etype = "forbidden", "auth"


class NotAllowed(ProtocolError):
    condition, etype = "not-allowed", "cancel"


class NotAcceptable(ProtocolError):
    condition, etype = "not-acceptable", "modify"


class Conflict(ProtocolError):
    condition, etype = "conflict", "cancel"


class FeatureNotImplemented(ProtocolError):
    condition, etype = "feature-not-implemented", "cancel"


class ServiceUnavailable(ProtocolError):
    condition, etype = "service-unavailable", "cancel"


class ResourceConstraint(ProtocolError):
    condition, etype = "resource-constraint", "wait"


class PolicyViolation(ProtocolError):
    condition, etype = "policy-violation", "modify"


class InternalServerError(ProtocolError):
    condition, etype = "internal-server-error", "wait"


class RemoteServerTimeout(ProtocolError):
    condition, etype = "remote-server-timeout", "wait"


_BY_CONDITION: dict[str, type[ProtocolError]] = {
    cls.condition: cls
    for cls in (
        BadRequest,
        ItemNotFound,
        Forbidden,
        NotAllowed,
        NotAcceptable,
        Conflict,
        FeatureNotImplemented,
        ServiceUnavailable,
        ResourceConstraint,
        PolicyViolation,
        InternalServerError,
        RemoteServerTimeout,
    )
}


def reply_error(iq: Iq, error: ProtocolError) -> Iq:
    """Build the error reply to `iq` for a protocol error (not sent yet)."""
    reply = iq.reply(clear=True)
    reply["type"] = "error"
    reply["error"]["condition"] = error.condition
    reply["error"]["type"] = error.etype
    if error.text:
        reply["error"]["text"] = error.text
    if error.extra is not None:
        reply["error"].append(error.extra)
    return reply


async def send_iq(iq: Iq, timeout: float) -> Iq:
    """Send an IQ and return its result; an error or no answer raises our ProtocolError family."""
    try:
        return await iq.send(timeout=timeout)
    except (IqError, IqTimeout) as exc:
        raise from_iq_error(exc) from None


def from_iq_error(exc: IqError | IqTimeout) -> ProtocolError:
    """Translate slixmpp's IqError/IqTimeout into our exception family."""
    if isinstance(exc, IqTimeout):
        return RemoteServerTimeout("no answer before the timeout")
    err = exc.iq["error"]
    cls = _BY_CONDITION.get(err["condition"], ProtocolError)
    instance = cls(err["text"] or "")
    if cls is ProtocolError:
        instance.text = f"{err['condition']}: {err['text']}"
    return instance
