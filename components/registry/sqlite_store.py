"""SQLite implementation of the registry store: one file, WAL, durable commits.

Tags live in their own table with one index per value type, so that every search operator
is an index range scan. A search is answered by intersecting, per condition, the things
that satisfy it; the most selective condition drives (SQLite's planner picks it, helped by
`ANALYZE` statistics).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from xmpp_iot.discovery.model import Condition, NodeRef, Tag, Thing
from xmpp_iot.ownership import OwnershipRecord

from .store import PendingNotification, StoredThing, condition_sql, tag_digest

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS things (
    id           INTEGER PRIMARY KEY,
    jid          TEXT NOT NULL,
    node_id      TEXT NOT NULL DEFAULT '',
    source_id    TEXT NOT NULL DEFAULT '',
    cache_type   TEXT NOT NULL DEFAULT '',
    owner        TEXT,
    public       INTEGER NOT NULL DEFAULT 0,
    digest       TEXT NOT NULL,
    full_jid     TEXT,
    updated      REAL NOT NULL,
    UNIQUE (jid, node_id, source_id, cache_type)
);
CREATE TABLE IF NOT EXISTS tags (
    thing_id   INTEGER NOT NULL REFERENCES things (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    str_value  TEXT,
    num_value  REAL,
    PRIMARY KEY (thing_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    id       INTEGER PRIMARY KEY,
    jid      TEXT NOT NULL,
    kind     TEXT NOT NULL,
    node_id  TEXT NOT NULL DEFAULT '',
    source_id TEXT NOT NULL DEFAULT '',
    cache_type TEXT NOT NULL DEFAULT '',
    owner    TEXT NOT NULL DEFAULT '',
    public   INTEGER NOT NULL DEFAULT 0,
    created  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_jid ON pending (jid);
CREATE TABLE IF NOT EXISTS counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ownership_state (
    jid        TEXT NOT NULL,
    node_id    TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    cache_type TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (jid, node_id, source_id, cache_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ownership_outbox (
    id         INTEGER PRIMARY KEY,
    peer       TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    jid        TEXT NOT NULL,
    node_id    TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    cache_type TEXT NOT NULL,
    owner      TEXT NOT NULL,
    public     INTEGER NOT NULL,
    removed    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ownership_outbox_peer ON ownership_outbox (peer, seq);
PRAGMA user_version = 1;
"""

# Only SQLite's own searches and claim look-ups need these. Behind the in-memory index
# (IndexedRegistryStore) they are dropped: four fewer b-trees to update on every write.
SEARCH_INDEXES = """
CREATE INDEX IF NOT EXISTS things_unclaimed ON things (digest) WHERE owner IS NULL;
CREATE INDEX IF NOT EXISTS things_owner ON things (owner);
CREATE INDEX IF NOT EXISTS tags_str ON tags (name, str_value) WHERE str_value IS NOT NULL;
CREATE INDEX IF NOT EXISTS tags_num ON tags (name, num_value) WHERE num_value IS NOT NULL;
"""
DROP_SEARCH_INDEXES = """
DROP INDEX IF EXISTS things_unclaimed;
DROP INDEX IF EXISTS things_owner;
DROP INDEX IF EXISTS tags_str;
DROP INDEX IF EXISTS tags_num;
"""

SELECTIVITY_CAP = 5000
ESTIMATE_TTL = 30.0  # seconds


class SqliteRegistryStore:
    """Registry state in one SQLite file. `synchronous='FULL'` survives power loss too."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", search_indexes: bool = True) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.execute("PRAGMA analysis_limit=1000")
        self.db.executescript(SCHEMA)
        self.db.executescript(SEARCH_INDEXES if search_indexes else DROP_SEARCH_INDEXES)
        self.db.execute("PRAGMA optimize=0x10002")  # refresh planner statistics if they are stale
        self._writes = 0
        # False: every write is committed before it returns. True: writes accumulate in one
        # transaction until commit() (the component commits once per event-loop tick and
        # sends its replies only after that, so acknowledgements still follow durability).
        self.group_commit = False
        self._estimates: dict[tuple, tuple[int, float]] = {}

    # -- reads ----------------------------------------------------------------------------
    def get(self, jid: str, node: NodeRef) -> Thing | None:
        row = self.db.execute(
            "SELECT id, jid, node_id, source_id, cache_type, owner, public FROM things "
            "WHERE jid=? AND node_id=? AND source_id=? AND cache_type=?",
            (jid, node.node_id, node.source_id, node.cache_type),
        ).fetchone()
        return self._things([row])[0] if row else None

    def find_unclaimed(self, digest: str) -> list[Thing]:
        rows = self.db.execute(
            "SELECT id, jid, node_id, source_id, cache_type, owner, public FROM things "
            "WHERE digest=? AND owner IS NULL",
            (digest,),
        ).fetchall()
        return self._things(rows)

    def find_claimed(self, digest: str, owner: str) -> list[Thing]:
        rows = self.db.execute(
            "SELECT id, jid, node_id, source_id, cache_type, owner, public FROM things "
            "WHERE digest=? AND owner=?",
            (digest, owner),
        ).fetchall()
        return self._things(rows)

    def last_full_jid(self, jid: str) -> str | None:
        row = self.db.execute(
            "SELECT full_jid FROM things WHERE jid=? AND full_jid IS NOT NULL ORDER BY updated DESC LIMIT 1",
            (jid,),
        ).fetchone()
        return row[0] if row else None

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM things").fetchone()[0]

    def search(
        self, conditions: list[Condition], requester: str, offset: int, limit: int
    ) -> tuple[list[Thing], bool]:
        """Claimed things that are public or owned by `requester`, matching every condition.

        The most selective condition drives an index scan in thing-id order; every other
        condition is one primary-key probe per candidate. With LIMIT this stops early, so a
        page costs about the same at 10k and at 100k things.
        """
        driver = self._most_selective(conditions)
        driver_sql, params = _condition_sql(driver, "d")
        clauses = [driver_sql]
        for c in conditions:
            if c is not driver:
                sql, args = _condition_sql(c, "g")
                clauses.append(f"EXISTS (SELECT 1 FROM tags g WHERE g.thing_id = t.id AND {sql})")
                params.extend(args)
        params.extend((requester, limit + 1, offset))
        rows = self.db.execute(
            "SELECT t.id, t.jid, t.node_id, t.source_id, t.cache_type, t.owner, t.public "
            "FROM tags d CROSS JOIN things t ON t.id = d.thing_id "
            f"WHERE {' AND '.join(clauses)} AND t.owner IS NOT NULL AND (t.public = 1 OR t.owner = ?) "
            "ORDER BY d.thing_id LIMIT ? OFFSET ?",
            params,
        ).fetchall()
        more = len(rows) > limit
        return self._things(rows[:limit]), more

    def _most_selective(self, conditions: list[Condition]) -> Condition:
        """The condition with the fewest matching tags (counted up to a cap); equality wins ties."""
        if len(conditions) == 1:
            return conditions[0]
        return min(conditions, key=lambda c: (self._estimate(c), c.op != "eq"))

    def _estimate(self, c: Condition) -> int:
        """How many tags match `c`, up to SELECTIVITY_CAP. Equality counts are cached briefly:
        apps repeat the same class/area queries, and a slightly stale count only picks a
        slower plan, never a wrong answer."""
        key = (c.name, c.numeric, c.value) if c.op == "eq" else None
        now = time.monotonic()
        if key is not None:
            cached = self._estimates.get(key)
            if cached is not None and now - cached[1] < ESTIMATE_TTL:
                return cached[0]
        sql, args = _condition_sql(c, "s")
        (n,) = self.db.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM tags s WHERE {sql} LIMIT {SELECTIVITY_CAP})", args
        ).fetchone()
        if key is not None:
            if len(self._estimates) > 10_000:
                self._estimates.clear()
            self._estimates[key] = (n, now)
        return n

    def all_things(self) -> Iterator[StoredThing]:
        """Every thing in id (registration) order, to fill an in-memory index at start."""
        tag_rows = self.db.execute("SELECT thing_id, name, str_value, num_value FROM tags ORDER BY thing_id")
        pending_tag = next(tag_rows, None)
        for (
            thing_id,
            jid,
            node_id,
            source_id,
            cache_type,
            owner,
            public,
            digest,
            full_jid,
            updated,
        ) in self.db.execute(
            "SELECT id, jid, node_id, source_id, cache_type, owner, public, digest, full_jid, updated "
            "FROM things ORDER BY id"
        ).fetchall():
            tags: dict[str, Tag] = {}
            while pending_tag is not None and pending_tag[0] <= thing_id:
                if pending_tag[0] == thing_id:
                    _, name, s, n = pending_tag
                    tags[name] = Tag(name, s if s is not None else float(n))
                pending_tag = next(tag_rows, None)
            thing = Thing(jid, NodeRef(node_id, source_id, cache_type), tags, owner, bool(public))
            yield StoredThing(thing, digest, full_jid, updated)

    def pending_for(self, jid: str) -> list[PendingNotification]:
        rows = self.db.execute(
            "SELECT id, jid, kind, node_id, source_id, cache_type, owner, public FROM pending "
            "WHERE jid=? ORDER BY id",
            (jid,),
        ).fetchall()
        return [
            PendingNotification(r[0], r[1], r[2], NodeRef(r[3], r[4], r[5]), r[6], bool(r[7])) for r in rows
        ]

    def has_pending(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT DISTINCT jid FROM pending")}

    # -- writes (each one a committed transaction) ----------------------------------------
    def save(self, thing: Thing, full_jid: str | None = None, *, feed: Sequence[str] = ()) -> None:
        n = thing.node
        with _transaction(self):
            if feed:
                self._record_ownership(feed, thing.jid, n, thing.owner or "", thing.public, False)
            self.db.execute(
                "DELETE FROM things WHERE jid=? AND node_id=? AND source_id=? AND cache_type=?",
                (thing.jid, n.node_id, n.source_id, n.cache_type),
            )
            cur = self.db.execute(
                "INSERT INTO things (jid, node_id, source_id, cache_type, owner, public, digest, full_jid, updated) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    thing.jid, n.node_id, n.source_id, n.cache_type, thing.owner, int(thing.public),
                    tag_digest(list(thing.tags.values())), full_jid, time.time(),
                ),
            )  # fmt: skip
            self._insert_tags(cur.lastrowid, thing.tags.values())
        self._after_write()

    def set_owner(
        self, jid: str, node: NodeRef, owner: str | None, public: bool, *, feed: Sequence[str] = ()
    ) -> None:
        with _transaction(self):
            if feed:
                self._record_ownership(feed, jid, node, owner or "", public, False)
            self.db.execute(
                "UPDATE things SET owner=?, public=?, updated=? "
                "WHERE jid=? AND node_id=? AND source_id=? AND cache_type=?",
                (owner, int(public), time.time(), jid, node.node_id, node.source_id, node.cache_type),
            )

    def update_tags(self, jid: str, node: NodeRef, tags: list[Tag]) -> None:
        with _transaction(self):
            thing_id = self._id(jid, node)
            if thing_id is None:
                return
            for tag in tags:
                self.db.execute("DELETE FROM tags WHERE thing_id=? AND name=?", (thing_id, tag.name))
            self._insert_tags(thing_id, [t for t in tags if t.numeric or t.value != ""])
            remaining = self._tags_of([thing_id])[thing_id]
            self.db.execute(
                "UPDATE things SET digest=?, updated=? WHERE id=?",
                (tag_digest(list(remaining.values())), time.time(), thing_id),
            )

    def delete(self, jid: str, node: NodeRef, *, feed: Sequence[str] = ()) -> bool:
        with _transaction(self):
            cur = self.db.execute(
                "DELETE FROM things WHERE jid=? AND node_id=? AND source_id=? AND cache_type=?",
                (jid, node.node_id, node.source_id, node.cache_type),
            )
            if feed and cur.rowcount > 0:
                self._record_ownership(feed, jid, node, "", False, True)
        return cur.rowcount > 0

    def touch(self, jid: str, full_jid: str) -> None:
        """Remember where the thing was last seen, to address notifications."""
        with _transaction(self):
            self.db.execute("UPDATE things SET full_jid=? WHERE jid=?", (full_jid, jid))

    def add_pending(self, jid: str, kind: str, node: NodeRef, owner: str = "", public: bool = False) -> None:
        with _transaction(self):
            self.db.execute(
                "INSERT INTO pending (jid, kind, node_id, source_id, cache_type, owner, public, created) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (jid, kind, node.node_id, node.source_id, node.cache_type, owner, int(public), time.time()),
            )

    def drop_pending(self, notification_id: int) -> None:
        with _transaction(self):
            self.db.execute("DELETE FROM pending WHERE id=?", (notification_id,))

    def bulk_load(self, things: Iterable[Thing]) -> int:
        """Insert many things in one transaction (benchmarks, imports); returns the count."""
        count = 0
        with _transaction(self):
            for thing in things:
                n = thing.node
                cur = self.db.execute(
                    "INSERT INTO things (jid, node_id, source_id, cache_type, owner, public, digest, updated) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (
                        thing.jid, n.node_id, n.source_id, n.cache_type, thing.owner, int(thing.public),
                        tag_digest(list(thing.tags.values())), time.time(),
                    ),
                )  # fmt: skip
                self._insert_tags(cur.lastrowid, thing.tags.values())
                count += 1
        self.db.execute("ANALYZE")
        return count

    # -- the ownership feed (xmpp_iot.ownership): an outbox per provisioning peer -------------
    def _record_ownership(
        self, peers: Sequence[str], jid: str, node: NodeRef, owner: str, public: bool, removed: bool
    ) -> int:
        """Within the caller's transaction: the next seq, the thing's state, one outbox row per peer."""
        (seq,) = self.db.execute(
            "INSERT INTO counters (name, value) VALUES ('ownership_seq', 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value"
        ).fetchone()
        address = (jid, node.node_id, node.source_id, node.cache_type)
        if removed:
            self.db.execute(
                "DELETE FROM ownership_state WHERE jid=? AND node_id=? AND source_id=? AND cache_type=?",
                address,
            )
        else:
            self.db.execute("INSERT OR REPLACE INTO ownership_state VALUES (?,?,?,?,?)", (*address, seq))
        self.db.executemany(
            "INSERT INTO ownership_outbox (peer, seq, jid, node_id, source_id, cache_type, owner, public, removed) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [(peer, seq, *address, owner, int(public), int(removed)) for peer in peers],
        )
        return seq

    def ownership_outbox(self, peer: str, limit: int = 100) -> list[OwnershipRecord]:
        """The changes `peer` has not acknowledged yet, oldest first."""
        rows = self.db.execute(
            "SELECT seq, jid, node_id, source_id, cache_type, owner, public, removed FROM ownership_outbox "
            "WHERE peer=? ORDER BY seq LIMIT ?",
            (peer, limit),
        ).fetchall()
        return [
            OwnershipRecord(r[1], NodeRef(r[2], r[3], r[4]), r[5], bool(r[6]), bool(r[7]), r[0]) for r in rows
        ]

    def ownership_peers_waiting(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT DISTINCT peer FROM ownership_outbox")}

    def ack_ownership(self, peer: str, seq: int) -> None:
        """`peer` has change `seq` (and so every earlier one): never send those again."""
        with _transaction(self):
            self.db.execute("DELETE FROM ownership_outbox WHERE peer=? AND seq<=?", (peer, seq))

    def ownership_of(self, jid: str, node: NodeRef) -> OwnershipRecord | None:
        """The current record of a registered thing (seq of its last ownership change, or 0)."""
        row = self.db.execute(
            "SELECT t.owner, t.public, coalesce(s.seq, 0) FROM things t LEFT JOIN ownership_state s "
            "ON s.jid=t.jid AND s.node_id=t.node_id AND s.source_id=t.source_id AND s.cache_type=t.cache_type "
            "WHERE t.jid=? AND t.node_id=? AND t.source_id=? AND t.cache_type=?",
            (jid, node.node_id, node.source_id, node.cache_type),
        ).fetchone()
        if row is None:
            return None
        return OwnershipRecord(jid, node, row[0] or "", bool(row[1]) and row[0] is not None, False, row[2])

    def uncommitted(self) -> bool:
        """True when group-commit writes are waiting for commit()."""
        return self.db.in_transaction

    def commit(self) -> None:
        """Make every write since the last commit durable (group-commit mode; else a no-op)."""
        if self.db.in_transaction:
            self.db.execute("COMMIT")

    def rollback(self) -> None:
        """Drop the uncommitted writes of a failed group commit."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        self.commit()
        self.db.close()

    # -- helpers --------------------------------------------------------------------------
    def _id(self, jid: str, node: NodeRef) -> int | None:
        row = self.db.execute(
            "SELECT id FROM things WHERE jid=? AND node_id=? AND source_id=? AND cache_type=?",
            (jid, node.node_id, node.source_id, node.cache_type),
        ).fetchone()
        return row[0] if row else None

    def _insert_tags(self, thing_id: int | None, tags: Iterable[Tag]) -> None:
        self.db.executemany(
            "INSERT INTO tags (thing_id, name, str_value, num_value) VALUES (?,?,?,?)",
            [
                (thing_id, t.name, None, t.value) if t.numeric else (thing_id, t.name, t.value, None)
                for t in tags
            ],
        )

    def _tags_of(self, ids: list[int]) -> dict[int, dict[str, Tag]]:
        result: dict[int, dict[str, Tag]] = {i: {} for i in ids}
        if not ids:
            return result
        marks = ",".join("?" * len(ids))
        for thing_id, name, s, n in self.db.execute(
            f"SELECT thing_id, name, str_value, num_value FROM tags WHERE thing_id IN ({marks})", ids
        ):
            result[thing_id][name] = Tag(name, s if s is not None else float(n))
        return result

    def _things(self, rows: list[tuple]) -> list[Thing]:
        tags = self._tags_of([r[0] for r in rows])
        return [Thing(r[1], NodeRef(r[2], r[3], r[4]), tags[r[0]], r[5], bool(r[6])) for r in rows]

    def _after_write(self) -> None:
        """Every few thousand registrations, let SQLite refresh its statistics (bounded work)."""
        self._writes += 1
        if self._writes % 5000 == 0:
            self.db.execute("PRAGMA optimize")


class _transaction:
    """One write: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error, so nothing is half-applied.

    In group-commit mode (`store.group_commit`) the write is a savepoint inside the batch's
    open transaction instead, and `SqliteRegistryStore.commit()` makes the batch durable.
    """

    def __init__(self, store_or_db) -> None:
        self.store = store_or_db if isinstance(store_or_db, SqliteRegistryStore) else None
        self.db = store_or_db.db if self.store is not None else store_or_db
        self.grouped = self.store is not None and self.store.group_commit

    def __enter__(self) -> None:
        if not self.grouped:
            self.db.execute("BEGIN IMMEDIATE")
            return
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("SAVEPOINT write")

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.grouped:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        elif exc_type:
            self.db.execute("ROLLBACK TO write")
            self.db.execute("RELEASE write")
        else:
            self.db.execute("RELEASE write")


def _condition_sql(c: Condition, alias: str) -> tuple[str, list[object]]:
    return condition_sql(c, alias, "?", "GLOB", _glob)


def _glob(pattern: str, wildcard: str) -> str:
    """strMask pattern -> SQLite GLOB (case-sensitive); GLOB's own specials are escaped."""
    parts = pattern.split(wildcard) if wildcard else [pattern]
    escaped = ["".join(f"[{ch}]" if ch in "*?[" else ch for ch in part) for part in parts]
    return "*".join(escaped)
