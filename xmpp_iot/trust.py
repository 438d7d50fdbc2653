"""The contract between a device's request handlers and whoever decides who may do what.

A device answers XEP-0323 readouts and XEP-0325 control requests. Before acting it asks a
:class:`TrustGate`. With delegated trust (XEP-0324) the gate is the provisioning client, which
asks the provisioning server ``canRead``/``canControl`` and caches the answers; without it, the
gate is a local policy. Keeping the question and the answer as plain values lets the sensor-data
and control code stay ignorant of how the decision is made, and lets tests swap the gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .discovery.model import NodeRef

__all__ = [
    "ControlDecision",
    "ControlRequest",
    "ReadDecision",
    "ReadRequest",
    "Tokens",
    "TrustGate",
]


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens a requester attached (XEP-0324 §3.4): each may hold several, space-separated."""

    service: str = ""
    device: str = ""
    user: str = ""

    def __bool__(self) -> bool:
        return bool(self.service or self.device or self.user)


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """Who wants to read what: the requester's full JID, nodes (empty = the device itself),
    field names (empty = all) and the XEP-0323 field-type flags asked for."""

    requester: str
    nodes: tuple[NodeRef, ...] = ()
    field_names: tuple[str, ...] = ()
    field_types: frozenset[str] = field(default_factory=frozenset)
    tokens: Tokens = Tokens()


@dataclass(frozen=True, slots=True)
class ReadDecision:
    """The answer. ``None`` in a subset means "as asked"; a tuple restricts the request to it.
    An allowed decision whose restriction leaves nothing to read is treated as a refusal."""

    allowed: bool
    nodes: tuple[NodeRef, ...] | None = None
    field_names: tuple[str, ...] | None = None
    field_types: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """Who wants to set which parameters on which nodes (empty nodes = the device itself)."""

    requester: str
    nodes: tuple[NodeRef, ...] = ()
    parameter_names: tuple[str, ...] = ()
    tokens: Tokens = Tokens()


@dataclass(frozen=True, slots=True)
class ControlDecision:
    """``None`` in a subset means "as asked"; a tuple restricts what may be set."""

    allowed: bool
    nodes: tuple[NodeRef, ...] | None = None
    parameter_names: tuple[str, ...] | None = None


@runtime_checkable
class TrustGate(Protocol):
    """Decides readouts and control for one device. Implementations must not raise for a
    refusal (return ``allowed=False``); they raise only when they cannot decide at all
    (for example :class:`xmpp_iot.errors.ServiceUnavailable`), which callers turn into an error."""

    async def is_friend(self, jid: str) -> bool: ...

    async def can_read(self, request: ReadRequest) -> ReadDecision: ...

    async def can_control(self, request: ControlRequest) -> ControlDecision: ...
