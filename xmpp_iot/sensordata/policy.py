"""The trust gate a device uses when it has not delegated trust to a provisioning server.

XEP-0323 §9 and XEP-0325 §9: "communication should be restricted to friends". So the local policy is:
a requester may read and control when its bare JID is in the explicit ``allow`` list, or when it is a
roster friend of the device (subscription ``from`` or ``both``: the device shares its presence with it).
Because friendship grants access, the gate turns off slixmpp's ``auto_authorize``: a subscription
request is no longer approved just because it arrived (the device's code, or its installer, decides).
Everyone else is refused with ``forbidden``. ``read_only`` JIDs may read but not control.
``read_fields`` and ``control_parameters`` restrict a JID to a subset (field names it may read,
parameters it may set); the responders then answer with that subset only, as with provisioning.
There is no "allow everyone" default; a caller who really wants that must write ``OpenGate()``
and live with the name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from slixmpp import JID
from slixmpp.basexmpp import BaseXMPP

from ..trust import ControlDecision, ControlRequest, ReadDecision, ReadRequest

__all__ = ["LocalPolicyGate", "OpenGate"]


class LocalPolicyGate:
    """Friends (roster) and an explicit allow list; nobody else. Satisfies :class:`xmpp_iot.trust.TrustGate`."""

    def __init__(self, xmpp: BaseXMPP | None = None, allow: Iterable[str] = (), read_only: Iterable[str] = (),
                 roster: bool = True, read_fields: Mapping[str, Iterable[str]] | None = None,
                 control_parameters: Mapping[str, Iterable[str]] | None = None) -> None:
        self.xmpp = xmpp
        self.allow = {JID(j).bare for j in allow}
        self.read_only = {JID(j).bare for j in read_only}
        self.read_fields = {JID(j).bare: tuple(v) for j, v in (read_fields or {}).items()}
        self.control_parameters = {JID(j).bare: tuple(v) for j, v in (control_parameters or {}).items()}
        self.roster = roster and xmpp is not None and hasattr(xmpp, "client_roster")
        if self.roster:
            # slixmpp accepts every presence subscription by default, which would make anyone who
            # asks a "friend". With friendship deciding access, the device approves subscribers itself.
            xmpp.auto_authorize = False  # type: ignore[union-attr]

    async def is_friend(self, jid: str) -> bool:
        bare = JID(jid).bare
        if bare in self.allow:
            return True
        if not self.roster:
            return False
        roster = self.xmpp.client_roster  # type: ignore[union-attr]
        return bare in roster and roster[bare]["subscription"] in ("from", "both")

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        bare = JID(request.requester).bare
        allowed = await self.is_friend(bare) or bare in self.read_only
        return ReadDecision(allowed=allowed, field_names=self.read_fields.get(bare))

    async def can_control(self, request: ControlRequest) -> ControlDecision:
        bare = JID(request.requester).bare
        allowed = await self.is_friend(bare) and bare not in self.read_only
        return ControlDecision(allowed=allowed, parameter_names=self.control_parameters.get(bare))


class OpenGate:
    """Allows everything. For closed lab networks only; never a default."""

    async def is_friend(self, jid: str) -> bool:
        return True

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        return ReadDecision(allowed=True)

    async def can_control(self, request: ControlRequest) -> ControlDecision:
        return ControlDecision(allowed=True)
