"""Ownership feed between the Thing registry and the provisioning server (our own protocol).

XEP-0347 records who claimed a thing; XEP-0324 needs to know it to let owners decide. The two
XEPs do not say how that knowledge travels, so we define a small IQ protocol
(``urn:xmpp-iot:ownership:0``), documented in ``docs/xep-interpretation.md``:

* push, registry -> provisioning, after every claim, disown and remove (durably queued by the
  registry and retried until acknowledged)::

    <iq type='set' from='registry.example.org' to='provisioning.example.org' id='1'>
      <owner xmlns='urn:xmpp-iot:ownership:0' seq='42' thing='meter1@example.org'
             owner='alice@example.org' public='true'/>
    </iq>

  ``owner`` absent (or empty) means the thing has no owner any more (disowned or removed);
  ``removed='true'`` marks a removal. ``seq`` grows with every change the registry makes, so a
  receiver keeps the highest one per thing and ignores stale retries.
  ``nodeId``/``sourceId``/``cacheType`` identify a thing behind a concentrator.

* query, provisioning -> registry, to resynchronise one thing (answer as above, or
  ``item-not-found`` for an unknown thing)::

    <iq type='get' to='registry.example.org' id='2'>
      <owner xmlns='urn:xmpp-iot:ownership:0' thing='meter1@example.org'/>
    </iq>

Both sides accept these only from the peers they are configured with; anyone else gets
``forbidden``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slixmpp import Iq
from slixmpp.xmlstream import ElementBase, register_stanza_plugin

from .discovery.model import NodeRef
from .errors import BadRequest

NS = "urn:xmpp-iot:ownership:0"

__all__ = ["NS", "OwnerElement", "OwnershipRecord"]


@dataclass(frozen=True, slots=True)
class OwnershipRecord:
    """The registry's view of one thing's ownership at change number ``seq``."""

    thing: str
    node: NodeRef = field(default_factory=NodeRef)
    owner: str = ""
    public: bool = False
    removed: bool = False
    seq: int = 0


class OwnerElement(ElementBase):
    """``<owner xmlns='urn:xmpp-iot:ownership:0'/>`` in an IQ."""

    name = "owner"
    namespace = NS
    plugin_attrib = "iot_owner"
    interfaces = {"record"}

    def get_record(self) -> OwnershipRecord:
        x = self.xml
        thing = x.get("thing", "")
        if not thing:
            raise BadRequest("owner: the thing attribute is required")
        try:
            seq = int(x.get("seq", "0"))
        except ValueError:
            raise BadRequest(f"owner: seq {x.get('seq')!r} is not an integer") from None
        return OwnershipRecord(
            thing=thing,
            node=NodeRef(x.get("nodeId", ""), x.get("sourceId", ""), x.get("cacheType", "")),
            owner=x.get("owner", ""),
            public=x.get("public", "false") in ("true", "1"),
            removed=x.get("removed", "false") in ("true", "1"),
            seq=seq,
        )

    def set_record(self, record: OwnershipRecord) -> None:
        x = self.xml
        x.attrib.clear()
        x.set("thing", record.thing)
        for key, value in record.node.attributes().items():
            x.set(key, value)
        if record.owner:
            x.set("owner", record.owner)
        x.set("public", "true" if record.public else "false")
        if record.removed:
            x.set("removed", "true")
        x.set("seq", str(record.seq))


register_stanza_plugin(Iq, OwnerElement)
