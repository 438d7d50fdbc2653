"""The historian's readout rules: which values a XEP-0323 request to the component gets.

No XMPP here (the protocol layer turns requests and fields into stanzas). The component is a
concentrator in the sense of XEP-0326: every device that publishes measurements is one node,
``nodeId`` = the device's bare JID, ``sourceId`` = ``meas`` (optional in requests), no cacheType.

What a request gets (see docs/sensordata-component.md for the reasoning):

* current values (momentary, peak, status, computed asked): the latest value of every series;
* explicit historical resolutions (``historicalHour='true'`` ...): one value per bucket in
  [from, to] (the mean; the last value for energy registers), plus ``<name>, Min`` / ``<name>, Max``
  when ``peak`` is asked too;
* ``historicalOther``, or every historical type at once (``historical='true'``/``all``) *with* a
  from/to window: the raw samples in that window. Without a window, ``all`` means current values only,
  so that a plain readout never drags a year of samples along.

Errors: no node named → bad-request (XEP-0323 §3.3, a concentrator needs node information);
unknown node or source → item-not-found; a readout larger than ``max_values`` → bad-request;
refused by the trust gate → forbidden.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from slixmpp import JID

from xmpp_iot.errors import BadRequest, Forbidden, ItemNotFound
from xmpp_iot.sensordata.model import HISTORICAL_TYPES, Field, NodeRef, ReadoutRequest, ValueType
from xmpp_iot.trust import ReadRequest, TrustGate

from .ingest import Ingestor
from .resolution import RAW, Resolution, from_us, to_us
from .store import SeriesStore

__all__ = ["SOURCE_ID", "Historian", "Limits"]

SOURCE_ID = "meas"
CURRENT_TYPES = frozenset({"momentary", "peak", "status", "computed"})
ALL_HISTORICAL = frozenset(HISTORICAL_TYPES)
RESOLUTION_OF = {r.value: r for r in Resolution}

GateFor = Callable[[str], TrustGate | None]


@dataclass(frozen=True, slots=True)
class Limits:
    max_nodes: int = 100  # nodes in one request
    max_values: int = 10_000  # fields in one readout


class Historian:
    """Answers readouts from the store; asks ``gate_for(device)`` (if any) whether the requester may read."""

    def __init__(
        self,
        store: SeriesStore,
        executor: Executor,
        ingestor: Ingestor | None = None,
        *,
        gate_for: GateFor | None = None,
        limits: Limits = Limits(),
        allowed_domains: frozenset[str] | None = None,
    ) -> None:
        self.store = store
        self.allowed_domains = allowed_domains
        self.executor = executor
        self.ingestor = ingestor
        self.gate_for = gate_for
        self.limits = limits

    async def read(self, request: ReadoutRequest) -> list[Field]:
        """Every field the request gets, or a ProtocolError (raised before anything is sent)."""
        if self.allowed_domains is not None and not _in_domains(request.requester, self.allowed_domains):
            raise Forbidden("this service is for local accounts only")
        if not request.nodes:
            raise BadRequest(
                "this is a concentrator: name the nodes to read (nodeId = the device's bare JID)"
            )
        if len(request.nodes) > self.limits.max_nodes:
            raise BadRequest(f"at most {self.limits.max_nodes} nodes per readout")
        for node in request.nodes:
            if node.source_id not in ("", SOURCE_ID) or node.cache_type:
                raise ItemNotFound(
                    f"no data source {node.source_id!r}/{node.cache_type!r}; use sourceId {SOURCE_ID!r}"
                )
        if self.ingestor is not None:
            await self.ingestor.flush()  # everything received so far is visible
        known = await self._run(lambda: [n for n in request.nodes if self.store.has_node(n.node_id)])
        if len(known) < len(request.nodes):
            missing = next(n for n in request.nodes if n not in known)
            raise ItemNotFound(f"no measurements known for node {missing.node_id!r}")
        fields: list[Field] = []
        for node in request.nodes:
            asked = await self._allowed(request, node)
            if asked is None:
                continue
            fields.extend(await self._run(lambda n=node, a=asked: self._fields(n, a, len(fields))))
        return fields

    # -- trust ------------------------------------------------------------------------------
    async def _allowed(self, request: ReadoutRequest, node: NodeRef) -> ReadoutRequest | None:
        """The request narrowed to what the gate allows for this node's device (forbidden if nothing)."""
        gate = self.gate_for(node.node_id) if self.gate_for else None
        if gate is None:
            return request
        decision = await gate.can_read(
            ReadRequest(
                requester=request.requester,
                nodes=(),  # the device itself: the component asks on the device's behalf
                field_names=request.field_names,
                field_types=request.types,
                tokens=request.tokens,
            )
        )
        if not decision.allowed:
            raise Forbidden(f"{request.requester} may not read {node.node_id}")
        if decision.nodes is not None and not any(n.node_id == node.node_id for n in decision.nodes):
            # A rule restricted to some of the device's own nodes: the historian holds the device's
            # data as one whole (nodeId = its bare JID) and cannot tell those nodes apart, so it
            # must not hand out everything; only a rule naming the device's JID as a node allows it.
            raise Forbidden(f"{request.requester} may read only some nodes of {node.node_id}; "
                            "the historian serves the device as a whole")
        narrowed = request
        if decision.field_names is not None:
            names = tuple(
                n for n in decision.field_names if not request.field_names or n in request.field_names
            )
            if not names:
                raise Forbidden(f"{request.requester} may read none of the asked fields of {node.node_id}")
            narrowed = replace(narrowed, field_names=names)
        if decision.field_types is not None:
            types = frozenset(request.types & decision.field_types)
            if not types:
                raise Forbidden(
                    f"{request.requester} may read none of the asked field types of {node.node_id}"
                )
            narrowed = replace(narrowed, types=types)
        return narrowed

    # -- values (in the store's thread) -----------------------------------------------------
    def _fields(self, node: NodeRef, request: ReadoutRequest, already: int) -> list[Field]:
        budget = self.limits.max_values - already
        device = node.node_id
        out: list[Field] = []
        current_types = request.types & CURRENT_TYPES
        if current_types:
            for v in self.store.current(device, request.field_names, current_types):
                out.append(_field(node, v.field, v.value, v.unit, v.ts_us, frozenset({v.field_type}), v.qos))
        historical = request.types & ALL_HISTORICAL
        window = request.from_ is not None or request.to is not None
        lo = None if request.from_ is None else to_us(_aware(request.from_))
        hi = None if request.to is None else to_us(_aware(request.to))
        if historical == ALL_HISTORICAL:
            historical = frozenset({"historicalOther"}) if window else frozenset()
        for kind in sorted(historical, key=HISTORICAL_TYPES.index):
            resolution = RESOLUTION_OF.get(kind, RAW)
            rows = self.store.history(device, resolution, lo, hi, request.field_names, budget - len(out) + 1)
            for h in rows:
                types = frozenset({kind})
                out.append(_field(node, h.field, h.value, h.unit, h.ts_us, types, h.qos))
                if resolution != RAW and "peak" in request.types and h.min is not None and h.max is not None:
                    peak = types | {"peak"}
                    out.append(_field(node, f"{h.field}, Min", h.min, h.unit, h.ts_us, peak, ""))
                    out.append(_field(node, f"{h.field}, Max", h.max, h.unit, h.ts_us, peak, ""))
            if len(out) > budget:
                break
        if len(out) > budget:
            raise BadRequest(
                f"the readout would return more than {self.limits.max_values} values: narrow from/to, "
                "the fields or the resolutions"
            )
        return out

    async def _run(self, fn):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)


def _field(
    node: NodeRef, name: str, value: float, unit: str, ts_us: int, types: frozenset[str], qos: str
) -> Field:
    return Field(
        name=name,
        type=ValueType.NUMERIC,
        value=value,
        timestamp=from_us(ts_us),
        node=node,
        unit=unit,
        types=types,
        qos=frozenset(qos.split()),
    )


def _in_domains(jid: str, domains: frozenset[str]) -> bool:
    domain = JID(jid).domain
    return domain in domains or domain.endswith(tuple("." + d for d in domains))


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
