"""The SQLite store answers searches exactly like the reference semantics, and survives reopening."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.registry.service import Limits, ThingRegistry
from components.registry.sqlite_store import SqliteRegistryStore
from xmpp_iot.discovery.model import KEY, Condition, NodeRef, Tag, Thing, compare, eq, in_range, mask
from xmpp_iot.errors import BadRequest, ItemNotFound, NotAcceptable

NAMES = ["A", "B", "C"]
str_vals = st.sampled_from(["", "a", "ab", "b", "ba", "a*b", "z", "Ä", "a_b"])
num_vals = st.sampled_from([-2.5, -1.0, 0.0, 1.0, 1.5, 2.0, 1e6])


@st.composite
def things(draw) -> list[Thing]:
    result = []
    for i in range(draw(st.integers(1, 12))):
        tags = {}
        for name in draw(st.lists(st.sampled_from(NAMES), unique=True)):
            value = draw(st.one_of(str_vals, num_vals))
            tags[name] = Tag(name, value)
        owner = draw(st.sampled_from([None, "o1@x", "o2@x"]))
        result.append(Thing(f"t{i}@x", NodeRef(), tags, owner, draw(st.booleans())))
    return result


@st.composite
def conditions(draw) -> Condition:
    name = draw(st.sampled_from(NAMES))
    kind = draw(st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte", "range", "nrange", "mask"]))
    if kind == "mask":
        return mask(
            name, draw(st.sampled_from(["a*", "*b", "a%b", "*", "ab"])), draw(st.sampled_from(["*", "%"]))
        )
    values = str_vals if draw(st.booleans()) else num_vals
    if kind in ("range", "nrange"):
        lo, hi = sorted([draw(values), draw(values)])
        return in_range(name, lo, hi, low_included=draw(st.booleans()), high_included=draw(st.booleans()),
                        negate=kind == "nrange")  # fmt: skip
    return compare(kind, name, draw(values))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    population=things(),
    query=st.lists(conditions(), min_size=1, max_size=3),
    requester=st.sampled_from(["o1@x", "app@x"]),
)
def test_search_matches_reference_semantics(tmp_path_factory, population, query, requester):
    store = SqliteRegistryStore(tmp_path_factory.mktemp("db") / "r.sqlite3", synchronous="OFF")
    store.bulk_load(population)
    found, more = store.search(query, requester, 0, 1000)
    expected = sorted(
        t.jid
        for t in population
        if t.owner is not None
        and (t.public or t.owner == requester)
        and all(c.matches(t.tags.get(c.name)) for c in query)
    )
    assert sorted(t.jid for t in found) == expected
    assert more is False
    store.close()


def test_paging_is_stable(tmp_path: Path):
    store = SqliteRegistryStore(tmp_path / "r.sqlite3")
    store.bulk_load(Thing(f"t{i}@x", NodeRef(), {"A": Tag("A", "x")}, "o@x", True) for i in range(25))
    pages = [store.search([eq("A", "x")], "app@x", offset, 10) for offset in (0, 10, 20)]
    assert [(len(p[0]), p[1]) for p in pages] == [(10, True), (10, True), (5, False)]
    assert len({t.jid for p in pages for t in p[0]}) == 25


def test_service_rules_and_limits(tmp_path: Path):
    registry = ThingRegistry(SqliteRegistryStore(tmp_path / "r.sqlite3"), Limits(max_tags=3, max_results=2))
    key = Tag(KEY, "k")
    with pytest.raises(NotAcceptable):
        registry.register(
            "t@x", "t@x/r", NodeRef(), [Tag("A", "1"), Tag("B", "2"), Tag("C", "3"), key], False
        )
    registry.register("t@x", "t@x/r", NodeRef(), [Tag("A", "1"), key], False)
    with pytest.raises(ItemNotFound):
        registry.claim("o@x", NodeRef(), [Tag("A", "1")], True)  # KEY missing
    thing, note = registry.claim("o@x", NodeRef(), [key, Tag("A", "1")], True)
    assert (thing.jid, note.kind, note.owner) == ("t@x", "claimed", "o@x")
    with pytest.raises(BadRequest):
        registry.search("app@x", [eq("A", "1")], 0, None)  # maxCount required
    with pytest.raises(BadRequest):
        registry.search("app@x", [], 0, 5)
    assert registry.search("app@x", [eq(KEY, "k")], 0, 5) == ([], False)
    for i in range(4):
        registry.register(f"s{i}@x", f"s{i}@x/r", NodeRef(), [Tag("A", "1")], True)
    page, more = registry.search("app@x", [eq("A", "1")], 0, 100)
    assert len(page) == 2 and more  # capped by max_results
    assert all(KEY not in t.tags for t in page)


def test_data_survives_reopen(tmp_path: Path):
    path = tmp_path / "r.sqlite3"
    store = SqliteRegistryStore(path)
    registry = ThingRegistry(store)
    registry.register("t@x", "t@x/r", NodeRef("n1"), [Tag("A", "1"), Tag(KEY, "k")], False)
    registry.claim("o@x", NodeRef(), [Tag("A", "1"), Tag(KEY, "k")], False)
    store.add_pending("t@x", "claimed", NodeRef("n1"), "o@x", False)
    store.close()
    reopened = SqliteRegistryStore(path)
    thing = reopened.get("t@x", NodeRef("n1"))
    assert (thing.owner, thing.public, thing.tags["A"].value) == ("o@x", False, "1")
    assert [p.kind for p in reopened.pending_for("t@x")] == ["claimed"]
