"""The historian's readout rules over a real store: what a request gets, and trust narrowing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from components.sensordata.resolution import to_us
from components.sensordata.service import Historian, Limits
from components.sensordata.store import Sample, SeriesStore
from xmpp_iot.errors import BadRequest, Forbidden, ItemNotFound
from xmpp_iot.sensordata.model import FIELD_TYPES, HISTORICAL_TYPES, NodeRef, ReadoutRequest
from xmpp_iot.trust import ReadDecision, ReadRequest

DEV = "meter@example.org"
APP = "app@example.org/x"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class FakeGate:
    def __init__(self, decision: ReadDecision) -> None:
        self.decision = decision
        self.asked: list[ReadRequest] = []

    async def is_friend(self, jid: str) -> bool:
        return self.decision.allowed

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        self.asked.append(request)
        return self.decision

    async def can_control(self, request):  # pragma: no cover - not used by the historian
        raise NotImplementedError


@pytest.fixture
def store(tmp_path):
    s = SeriesStore(tmp_path / "h.sqlite3")
    samples = []
    for i in range(10):
        t = to_us(T0 + timedelta(seconds=i))
        samples.append(Sample(DEV, "active_power.total", "momentary", "W", t, float(i)))
        samples.append(Sample(DEV, "energy_import", "momentary", "Wh", t, 100.0 + i, aggregate="last"))
    s.add(samples, items={DEV: 10})
    yield s
    s.close()


@pytest.fixture
def executor():
    with ThreadPoolExecutor(1) as ex:
        yield ex


THE_METER = (NodeRef(DEV),)


def req(types=FIELD_TYPES, nodes=THE_METER, **kw) -> ReadoutRequest:
    return ReadoutRequest(requester=APP, seqnr=1, nodes=tuple(nodes), types=frozenset(types), **kw)


async def test_all_without_window_is_current_values_only(store, executor) -> None:
    fields = await Historian(store, executor).read(req())
    assert sorted((f.name, f.value) for f in fields) == [
        ("active_power.total", 9.0),
        ("energy_import", 109.0),
    ]


async def test_all_with_window_adds_the_raw_samples(store, executor) -> None:
    fields = await Historian(store, executor).read(req(from_=T0, to=T0 + timedelta(seconds=4)))
    raw = [f for f in fields if f.types == {"historicalOther"}]
    assert len(raw) == 10 and min(f.timestamp for f in raw) == T0


async def test_errors_before_anything_is_read(store, executor) -> None:
    h = Historian(store, executor, limits=Limits(max_values=5))
    with pytest.raises(BadRequest):
        await h.read(req(nodes=()))
    with pytest.raises(ItemNotFound):
        await h.read(req(nodes=[NodeRef("other@example.org")]))
    with pytest.raises(ItemNotFound):
        await h.read(req(nodes=[NodeRef(DEV, "efi")]))
    with pytest.raises(BadRequest, match="more than 5"):
        await h.read(req(types=HISTORICAL_TYPES, from_=T0))


async def test_gate_refusal_and_restrictions(store, executor) -> None:
    refuse = FakeGate(ReadDecision(allowed=False))
    with pytest.raises(Forbidden):
        await Historian(store, executor, gate_for=lambda _d: refuse).read(req())
    assert refuse.asked[0].requester == APP

    only_energy = FakeGate(ReadDecision(allowed=True, field_names=("energy_import",)))
    fields = await Historian(store, executor, gate_for=lambda _d: only_energy).read(req(types=["momentary"]))
    assert [f.name for f in fields] == ["energy_import"]

    only_momentary = FakeGate(ReadDecision(allowed=True, field_types=frozenset({"momentary"})))
    h = Historian(store, executor, gate_for=lambda _d: only_momentary)
    fields = await h.read(req(types=["momentary", "historicalMinute"], from_=T0))
    assert {tuple(f.types) for f in fields} == {("momentary",)}
    with pytest.raises(Forbidden):
        await h.read(req(types=["historicalMinute"], from_=T0))

    nothing_asked = FakeGate(ReadDecision(allowed=True, field_names=("voltage.L1",)))
    with pytest.raises(Forbidden):
        await Historian(store, executor, gate_for=lambda _d: nothing_asked).read(
            req(types=["momentary"], field_names=("energy_import",))
        )


async def test_a_node_restricted_decision_does_not_yield_the_whole_history(store, executor) -> None:
    """A canRead restricted to some of the device's nodes must not give the device's whole history."""
    other_nodes = FakeGate(ReadDecision(allowed=True, nodes=(NodeRef("relay-1"), NodeRef("meter-2"))))
    h = Historian(store, executor, gate_for=lambda _d: other_nodes)
    with pytest.raises(Forbidden, match="some nodes"):
        await h.read(req(types=["momentary"]))
    with pytest.raises(Forbidden):
        await Historian(store, executor, gate_for=lambda _d: FakeGate(ReadDecision(True, nodes=()))).read(
            req(types=["momentary"])
        )
    # a rule that names the device itself (its bare JID as nodeId) is honoured
    this_one = FakeGate(ReadDecision(allowed=True, nodes=(NodeRef(DEV),)))
    fields = await Historian(store, executor, gate_for=lambda _d: this_one).read(req(types=["momentary"]))
    assert {f.name for f in fields} == {"active_power.total", "energy_import"}


async def test_accounts_of_other_domains_are_refused(store, executor) -> None:
    h = Historian(store, executor, allowed_domains=frozenset({"example.org"}))
    assert await h.read(req(types=["momentary"]))  # app@example.org
    foreign = ReadoutRequest(
        requester="eve@evil.example/x", seqnr=2, nodes=THE_METER, types=frozenset({"momentary"})
    )
    with pytest.raises(Forbidden, match="local accounts"):
        await h.read(foreign)
