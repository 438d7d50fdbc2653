"""The PostgreSQL store behaves like the SQLite one: same property tests, against a throwaway server.

A PostgreSQL server is started for the session from the `initdb`/`postgres` binaries found on
the machine (Debian's postgresql package puts them in /usr/lib/postgresql/*/bin), as the
`postgres` user when the tests run as root. Without the binaries these tests are skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.registry.indexed_store import IndexedRegistryStore
from components.registry.open_store import open_store
from xmpp_iot.discovery.model import KEY, NodeRef, Tag, Thing, compare, eq, in_range, mask

from .test_registry_index import apply, conditions, expected, found, operations, saves

psycopg = pytest.importorskip("psycopg")


def _binary(name: str) -> str | None:
    candidates = [shutil.which(name), *sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL on a Unix socket in a temp dir; yields a URL template (database: {db})."""
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if not initdb or not postgres:
        pytest.skip("no PostgreSQL server binaries (initdb, postgres) on this machine")
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if (
            shutil.which("runuser") is None
            or subprocess.run(["id", "postgres"], capture_output=True).returncode
        ):
            pytest.skip("running as root without a 'postgres' user to start PostgreSQL as")
        run_as = ["runuser", "-u", "postgres", "--"]
    # not under pytest's basetemp: that is private to root, and the server runs as postgres
    base = Path(tempfile.mkdtemp(prefix="xmpp-iot-test-pg-"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    if run_as:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run([*run_as, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*run_as, postgres, "-D", str(data), "-k", str(sockets), "-p", str(port), "-c", "listen_addresses=",
         "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"postgresql://postgres@/{{db}}?host={sockets}&port={port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(url.format(db="postgres")).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.2)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def new_database(postgres_server: str):
    """A function that creates an empty database and returns its URL."""

    def create() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_server.format(db="postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return postgres_server.format(db=name)

    return create


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    population=st.lists(saves, min_size=3, max_size=10),
    ops=st.lists(operations, max_size=15),
    queries=st.lists(st.lists(conditions(), min_size=1, max_size=3), min_size=1, max_size=4),
    requester=st.sampled_from(["o1@x", "app@x"]),
)
def test_postgres_store_matches_reference_semantics(new_database, population, ops, queries, requester):
    url = new_database()
    store = open_store(url)
    assert isinstance(store, IndexedRegistryStore)
    model: dict = {}
    for op in population + ops:
        apply(store, model, op)
    for query in queries:
        assert found(store.durable, query, requester) == expected(model, query, requester)
        assert found(store, query, requester) == expected(model, query, requester)
    store.close()
    reopened = open_store(url)
    for query in queries:
        assert found(reopened, query, requester) == expected(model, query, requester)
    assert reopened.count() == len(model)
    reopened.close()


def test_postgres_group_commit_ownership_feed_and_pending(new_database):
    url = new_database()
    store = open_store(url)
    store.group_commit = True
    tags = {"A": Tag("A", "1"), KEY: Tag(KEY, "k")}
    store.save(Thing("t@x", NodeRef("n1"), tags, None, False), "t@x/r")
    store.set_owner("t@x", NodeRef("n1"), "o@x", True, feed=["prov@x"])
    assert store.uncommitted()
    store.commit()
    assert not store.uncommitted()
    store.set_owner("t@x", NodeRef("n1"), None, False, feed=["prov@x"])
    store.rollback()  # a failed batch: never happened
    store.add_pending("t@x", "claimed", NodeRef("n1"), "o@x", True)
    store.commit()
    store.close()
    reopened = open_store(url)
    thing = reopened.get("t@x", NodeRef("n1"))
    assert (thing.owner, thing.public) == ("o@x", True)
    outbox = reopened.ownership_outbox("prov@x")
    assert [(r.thing, r.owner, r.public, r.removed) for r in outbox] == [("t@x", "o@x", True, False)]
    record = reopened.ownership_of("t@x", NodeRef("n1"))
    assert (record.owner, record.seq) == ("o@x", outbox[0].seq)
    reopened.ack_ownership("prov@x", outbox[0].seq)
    assert reopened.ownership_outbox("prov@x") == []
    assert [p.kind for p in reopened.pending_for("t@x")] == ["claimed"]
    assert reopened.durable.search([eq("A", "1")], "app@x", 0, 10)[0][0].jid == "t@x"
    reopened.close()


def test_postgres_unreachable_is_a_clear_error(tmp_path: Path):
    with pytest.raises(psycopg.OperationalError):
        open_store(f"postgresql://nobody@/none?host={tmp_path}&port=1")


def test_postgres_masks_and_string_order_match_the_reference(new_database):
    values = ["ab", "ba", "a*b", "a_b", "a.b", "a\\b", "a%b", "Äb", "b", "a\nb", "A"]
    store = open_store(new_database(), indexed=False)
    things = [Thing(f"t{i}@x", NodeRef(), {"S": Tag("S", v)}, "o@x", True) for i, v in enumerate(values)]
    store.bulk_load(things)
    model = {(t.jid, t.node): t for t in things}
    queries = [
        [mask("S", "*b")], [mask("S", "a*")], [mask("S", "a.b")], [mask("S", "a_b")], [mask("S", "a%b", "%")],
        [mask("S", "a\\b")], [mask("S", "*")], [mask("S", "b")], [compare("gt", "S", "a")],
        [compare("lt", "S", "b")], [in_range("S", "a", "b", high_included=False)], [compare("gte", "S", "Ä")],
    ]  # fmt: skip
    for query in queries:
        assert found(store, query, "app@x") == expected(model, query, "app@x"), query
    store.close()
