"""The in-memory search index answers exactly like the reference semantics, after any writes.

Each example applies a random sequence of registry writes (save, owner changes, tag updates
with deletions, deletes) to the indexed store, replays it on a plain dict model, and
compares searches with every operator, paging included; then the store is reopened (the
index is rebuilt from SQLite) and must still agree.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import astuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.registry.indexed_store import IndexedRegistryStore
from components.registry.memory_index import ThingIndex
from components.registry.sqlite_store import SqliteRegistryStore
from xmpp_iot.discovery.model import KEY, Condition, NodeRef, Tag, Thing, compare, eq, in_range, mask

from .test_registry_store import NAMES, conditions, num_vals, str_vals

JIDS = [f"t{i}@x" for i in range(6)]
NODES = [NodeRef(), NodeRef("n1"), NodeRef("n2", "s")]
OWNERS = [None, "o1@x", "o2@x"]

tag_sets = st.dictionaries(st.sampled_from(NAMES), st.one_of(str_vals, num_vals), max_size=3).map(
    lambda d: {k: Tag(k, v) for k, v in d.items()}
)
# the KEY is kept apart from the other tags in the index: writes must carry it along
tag_sets_with_key = st.tuples(tag_sets, st.one_of(st.none(), str_vals)).map(
    lambda p: p[0] if p[1] is None else {**p[0], KEY: Tag(KEY, p[1])}
)
saves = st.tuples(st.just("save"), st.sampled_from(JIDS), st.sampled_from(NODES), tag_sets_with_key,
                  st.sampled_from(OWNERS[1:]), st.booleans())  # fmt: skip
operations = st.one_of(
    saves,
    st.tuples(
        st.just("owner"),
        st.sampled_from(JIDS),
        st.sampled_from(NODES),
        st.sampled_from(OWNERS),
        st.booleans(),
    ),
    st.tuples(
        st.just("update"),
        st.sampled_from(JIDS),
        st.sampled_from(NODES),
        st.lists(st.tuples(st.sampled_from([*NAMES, KEY]), st.one_of(str_vals, num_vals)), max_size=3),
    ),
    st.tuples(st.just("delete"), st.sampled_from(JIDS), st.sampled_from(NODES)),
)


def apply(store: IndexedRegistryStore, model: dict, op: tuple) -> None:
    kind, jid, node = op[0], op[1], op[2]
    key = (jid, node)
    if kind == "save":
        thing = Thing(jid, node, dict(op[3]), op[4], op[5])
        store.save(thing, f"{jid}/r")
        model[key] = Thing(jid, node, dict(op[3]), op[4], op[5])
    elif kind == "owner":
        store.set_owner(jid, node, op[3], op[4])
        if key in model:
            model[key].owner, model[key].public = op[3], op[4]
    elif kind == "update":
        tags = [Tag(name, value) for name, value in dict(op[3]).items()]
        store.update_tags(jid, node, tags)
        if key in model:
            for tag in tags:
                if not tag.numeric and tag.value == "":
                    model[key].tags.pop(tag.name, None)
                else:
                    model[key].tags[tag.name] = tag
    else:
        store.delete(jid, node)
        model.pop(key, None)


def expected(model: dict, query: list[Condition], requester: str) -> list[tuple[str, ...]]:
    return sorted(
        (t.jid, *astuple(t.node))
        for t in model.values()
        if t.owner is not None
        and (t.public or t.owner == requester)
        and all(c.matches(t.tags.get(c.name)) for c in query)
    )


def found(store, query: list[Condition], requester: str) -> list[tuple[str, ...]]:
    things, more = store.search(query, requester, 0, 1000)
    assert more is False
    if isinstance(store, IndexedRegistryStore):  # the index keeps the KEY out of its results
        assert not any(KEY in t.tags for t in things)
    return sorted((t.jid, *astuple(t.node)) for t in things)


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    population=st.lists(saves, min_size=3, max_size=12),
    ops=st.lists(operations, max_size=20),
    queries=st.lists(st.lists(conditions(), min_size=1, max_size=3), min_size=1, max_size=4),
    requester=st.sampled_from(["o1@x", "app@x"]),
)
def test_index_matches_reference_after_writes_and_reopen(
    tmp_path_factory, population, ops, queries, requester
):
    path = tmp_path_factory.mktemp("db") / "r.sqlite3"
    store = IndexedRegistryStore(SqliteRegistryStore(path, synchronous="OFF"))
    model: dict = {}
    for op in population + ops:
        apply(store, model, op)
    for query in queries:
        assert found(store, query, requester) == expected(model, query, requester)
        assert found(store.durable, query, requester) == expected(model, query, requester)
    for key, thing in model.items():
        got = store.get(*key)
        assert (got.tags, got.owner, got.public) == (thing.tags, thing.owner, thing.public)
    store.close()
    reopened = IndexedRegistryStore(SqliteRegistryStore(path, synchronous="OFF"))
    for query in queries:
        assert found(reopened, query, requester) == expected(model, query, requester)
    assert reopened.count() == len(model)
    reopened.close()


@settings(max_examples=60, deadline=None)
@given(
    population=st.lists(st.tuples(tag_sets, st.sampled_from(OWNERS[1:]), st.booleans()), max_size=30),
    query=st.lists(conditions(), min_size=1, max_size=2),
    page=st.integers(1, 7),
)
def test_pages_concatenate_to_the_full_answer(population, query, page):
    index_store = ThingIndex()
    from components.registry.memory_index import Entry

    for i, (tags, owner, public) in enumerate(population):
        index_store.put(Entry(f"t{i}@x", NodeRef(), tags, owner, public, "", None, 0.0))
    everything, _ = index_store.search(query, "o1@x", 0, 10_000)
    pages, offset = [], 0
    while True:
        entries, more = index_store.search(query, "o1@x", offset, page)
        pages.extend(entries)
        offset += page
        assert more == (offset < len(everything))
        if not more:
            break
    assert [e.jid for e in pages] == [e.jid for e in everything]


def test_every_operator_on_a_larger_population(tmp_path):
    """The paths that only matter at size: set intersection vs per-candidate checks, mask prefixes."""
    store = IndexedRegistryStore(SqliteRegistryStore(tmp_path / "r.sqlite3", synchronous="OFF"))
    things = [
        Thing(
            f"d{i}@x",
            NodeRef(),
            {
                "CLASS": Tag("CLASS", f"c{i % 10}"),
                "SN": Tag("SN", f"SN{i:05d}"),
                "LAT": Tag("LAT", i / 100),
                KEY: Tag(KEY, f"k{i}"),
            },
            "o@x" if i % 7 else None,
            i % 3 != 0,
        )
        for i in range(3000)
    ]
    store.bulk_load(things)
    model = {(t.jid, t.node): t for t in things}
    queries = [
        [eq("CLASS", "c3"), in_range("LAT", 1.0, 5.0)],
        [eq("CLASS", "c3"), in_range("LAT", 1.0, 5.0, negate=True, low_included=False)],
        [mask("SN", "SN001*"), compare("neq", "CLASS", "c1")],
        [mask("SN", "*5"), compare("gte", "LAT", 29.0)],
        [compare("lt", "SN", "SN00100"), compare("gt", "LAT", 0.5), eq("CLASS", "c2")],
        [mask("SN", "SN02%5", "%"), eq("CLASS", "c5")],
        [eq("CLASS", "c3"), eq("MISSING", "x")],
        [eq("LAT", "1")],  # a string condition on a numeric tag matches nothing
    ]
    for query in queries:
        for requester in ("o@x", "app@x"):
            assert found(store, query, requester) == expected(model, query, requester)
    store.close()


def test_group_commit_makes_a_batch_durable_at_once(tmp_path):
    """Writes of a batch are invisible to other connections until commit(); a rollback drops them all."""
    path = tmp_path / "r.sqlite3"
    store = IndexedRegistryStore(SqliteRegistryStore(path))
    store.group_commit = True
    for i in range(3):
        store.save(Thing(f"t{i}@x", NodeRef(), {"A": Tag("A", "1")}, "o@x", True))
    assert store.uncommitted() and store.count() == 3

    def durable_count() -> int:  # what another process would see
        with closing(sqlite3.connect(path)) as db:
            return db.execute("SELECT count(*) FROM things").fetchone()[0]

    assert durable_count() == 0
    store.commit_durable()
    assert not store.uncommitted()
    assert durable_count() == 3
    store.delete("t0@x", NodeRef())
    store.recover()  # a failed commit: the batch is gone, in memory too
    assert store.count() == 3 and found(store, [eq("A", "1")], "app@x")[0][0] == "t0@x"
    store.close()


def test_searches_know_when_uncommitted_writes_could_change_their_answer(tmp_path):
    store = IndexedRegistryStore(SqliteRegistryStore(tmp_path / "r.sqlite3"))
    store.bulk_load([Thing("old@x", NodeRef(), {"A": Tag("A", "1")}, "o@x", True)])
    store.group_commit = True
    assert not store.affects([eq("A", "1")], "app@x")  # nothing in flight
    store.save(Thing("new@x", NodeRef(), {"A": Tag("A", "2")}, "o@x", True))
    assert store.affects([eq("A", "2")], "app@x")  # the new thing would be in the answer
    assert not store.affects([eq("A", "1")], "app@x")  # an answer it cannot change
    batch = store.seal()
    store.commit_durable()
    store.committed(batch)
    assert not store.affects([eq("A", "2")], "app@x")
    store.set_owner("old@x", NodeRef(), "o@x", False)  # made private: it would drop out of the answer
    assert store.affects([eq("A", "1")], "app@x")
    assert not store.affects([eq("A", "2")], "app@x")
    store.close()
