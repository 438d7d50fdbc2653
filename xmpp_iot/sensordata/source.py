"""Where readout fields come from: the :class:`ReadoutSource` protocol and the device's own source.

The responder in :mod:`xmpp_iot.sensordata.plugin` speaks XEP-0323 (accepted, queued, started,
fields, failure, done, cancel, trust checks, limits); a ``ReadoutSource`` only knows its data.
A small device uses :class:`DeviceSource` (declared fields read from hardware callbacks, plus a bounded
local history); the sensor-data component plugs its time-series store in instead::

    from xmpp_iot.sensordata import Field, ReadoutRequest, ReadoutError, ReadoutSource, NodeRef
    from xmpp_iot.errors import ItemNotFound

    class StoreSource:                                   # satisfies ReadoutSource
        def __init__(self, store): self.store = store

        async def check(self, request: ReadoutRequest) -> None:
            # before <accepted/>: refuse what cannot be answered at all
            for node in request.nodes:
                if not self.store.knows(node.node_id):
                    raise ItemNotFound(f"unknown node {node.node_id}")

        async def readout(self, request: ReadoutRequest):
            for node in request.nodes or self.store.all_nodes():
                rows = await self.store.query(node, request.field_names, request.from_, request.to)
                yield [Field.of(r.name, r.value, r.ts, node=node, unit=r.unit,
                                types=frozenset({"historicalHour"})) for r in rows]   # one <fields/> each
                # a node that cannot be read: yield ReadoutError(node, "timeout")

    component = IotComponent(jid, secret, host, port)
    component.register_plugin("iot_sensordata")
    component.plugin["iot_sensordata"].serve(StoreSource(store), gate=MyGate())

Order per request: the gate decides (``forbidden`` if it refuses); ``check`` gets the request *as asked*
(so unknown nodes/fields are ``item-not-found`` whatever the gate allows); ``readout`` gets it *narrowed*
to what the gate allows; every yielded field is filtered with :meth:`ReadoutRequest.wants` against the
narrowed request (so a source may over-deliver, never leak); each batch becomes one ``<fields/>``
message, the last one marked ``done``.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from ..errors import ItemNotFound
from .model import (
    HISTORICAL_TYPES,
    THIS_DEVICE,
    EnumValue,
    Field,
    NodeRef,
    ReadoutError,
    ReadoutRequest,
    ValueType,
    same_node,
    value_type_of,
)

__all__ = ["DeviceSource", "FieldSpec", "LocalHistory", "ReadoutSource"]

Reader = Callable[[], object | Awaitable[object]]


@runtime_checkable
class ReadoutSource(Protocol):
    """The data behind a XEP-0323 responder."""

    async def check(self, request: ReadoutRequest) -> None:
        """Raise :class:`~xmpp_iot.errors.ItemNotFound` (unknown node/field) or
        :class:`~xmpp_iot.errors.BadRequest` before the request is accepted; return None to accept."""
        ...

    def readout(self, request: ReadoutRequest) -> AsyncIterator[Sequence[Field] | ReadoutError]:
        """Yield batches of fields (one ``<fields/>`` message each) and failures, then stop.
        The responder cancels the iteration when the client cancels the readout."""
        ...


@dataclass(slots=True)
class FieldSpec:
    """A field a device declares: how to read it and how to label it."""

    name: str
    read: Reader
    type: ValueType | None = None  # None: from the Python value read
    unit: str = ""
    nr_decimals: int | None = None
    types: frozenset[str] = frozenset({"momentary"})
    writable: bool | None = None
    data_type: str = ""  # enum fields: the enumeration's type name

    def field(self, value: object, node: NodeRef, timestamp: datetime,
              qos: frozenset[str] = frozenset({"automaticReadout"})) -> Field:
        if self.type is ValueType.ENUM and not isinstance(value, EnumValue):
            value = EnumValue(str(value), self.data_type)
        if self.type is ValueType.NUMERIC and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        kind = self.type or value_type_of(value)
        return Field(name=self.name, type=kind, value=value, timestamp=timestamp, node=node, unit=self.unit,
                     nr_decimals=self.nr_decimals, types=self.types, qos=qos, writable=self.writable)


class LocalHistory:
    """A bounded in-memory history per (node, field): the newest ``max_per_field`` values are kept.

    A small device keeps what it can afford; older values fall off. Recorded fields are marked with
    the device's history ``period`` (a ``historical*`` field type) in place of their current types.
    """

    def __init__(self, max_per_field: int = 1000, period: str = "historicalOther") -> None:
        if period not in HISTORICAL_TYPES:
            raise ValueError(f"{period!r} is not a historical field type")
        self.max_per_field = max_per_field
        self.period = period
        self._values: dict[tuple[NodeRef, str], deque[Field]] = {}

    def record(self, f: Field) -> None:
        key = (f.node, f.name)
        queue = self._values.get(key)
        if queue is None:
            queue = self._values[key] = deque(maxlen=self.max_per_field)
        queue.append(replace(f, types=frozenset({self.period})))

    def query(self, request: ReadoutRequest) -> list[Field]:
        """Stored values matching the request (names, nodes, time window), oldest first."""
        out = [f for values in self._values.values() for f in values if request.wants(f)]
        out.sort(key=lambda f: f.timestamp if f.timestamp.tzinfo else f.timestamp.replace(tzinfo=UTC))
        return out

    def __len__(self) -> int:
        return sum(len(v) for v in self._values.values())


@dataclass
class DeviceSource:
    """The device's own fields: declared with :meth:`add_field`, read through callbacks at readout time.

    ``nodes`` is keyed by node (``NodeRef()`` for a device that is its own JID). Historical requests are
    answered from :attr:`history`; call :meth:`sample` on a timer to fill it.
    """

    history: LocalHistory = field(default_factory=LocalHistory)
    batch_size: int = 50
    nodes: dict[NodeRef, dict[str, FieldSpec]] = field(default_factory=dict)

    def add_field(self, name: str, read: Reader, *, node: NodeRef = THIS_DEVICE, type: ValueType | str | None = None,
                  unit: str = "", nr_decimals: int | None = None, types: Iterable[str] = ("momentary",),
                  writable: bool | None = None, data_type: str = "") -> FieldSpec:
        spec = FieldSpec(name, read, ValueType(type) if type else None, unit, nr_decimals, frozenset(types),
                         writable, data_type)
        self.nodes.setdefault(node, {})[name] = spec
        return spec

    async def check(self, request: ReadoutRequest) -> None:
        selected = self._selected_nodes(request)
        known = {name for node in selected for name in self.nodes[node]}
        known |= {name for (n, name) in self.history._values if any(same_node(n, s) for s in selected)}
        unknown = [n for n in request.field_names if n not in known]
        if unknown:
            raise ItemNotFound(f"unknown field(s): {', '.join(unknown)}")

    async def readout(self, request: ReadoutRequest) -> AsyncIterator[Sequence[Field] | ReadoutError]:
        if request.wants_current:
            for node in self._selected_nodes(request):
                batch: list[Field] = []
                now = datetime.now(UTC)  # one readout instant per node: one <timestamp/> element
                try:
                    for spec in self.nodes[node].values():
                        if request.field_names and spec.name not in request.field_names:
                            continue
                        if not (spec.types & request.types):
                            continue
                        value = spec.read()
                        if type(value) not in _PLAIN and inspect.isawaitable(value):  # most sensors answer at once
                            value = await value
                        batch.append(spec.field(value, node, now))
                        if len(batch) >= self.batch_size:
                            yield batch
                            batch = []
                except Exception as exc:  # a sensor that fails is reported, not fatal
                    if batch:
                        yield batch
                    yield ReadoutError(node, f"{type(exc).__name__}: {exc}")
                    continue
                if batch:
                    yield batch
        if request.wants_historical:
            stored = self.history.query(request)
            for i in range(0, len(stored), self.batch_size):
                yield stored[i : i + self.batch_size]

    async def sample(self) -> list[Field]:
        """Read every momentary field now and record it in the history (for a periodic task)."""
        now = datetime.now(UTC)
        out = []
        for node, specs in self.nodes.items():
            for spec in specs.values():
                if "momentary" in spec.types:
                    f = spec.field(await _call(spec.read), node, now)
                    self.history.record(f)
                    out.append(f)
        return out

    def _selected_nodes(self, request: ReadoutRequest) -> list[NodeRef]:
        if not request.nodes:
            return list(self.nodes)
        selected = []
        for asked in request.nodes:
            matches = [n for n in self.nodes if same_node(n, asked)]
            if not matches:
                raise ItemNotFound(f"unknown node {asked.node_id!r}")
            selected.extend(m for m in matches if m not in selected)
        return selected


_PLAIN = frozenset({float, int, str, bool})


async def _call(read: Reader) -> object:
    value = read()
    if type(value) not in _PLAIN and inspect.isawaitable(value):  # most sensors answer at once
        value = await value
    return value

