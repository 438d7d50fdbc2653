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
from collections.abc import Iterable
from pathlib import Path

from xmpp_iot.discovery.model import Condition, NodeRef, Tag, Thing

from .store import PendingNotification, tag_digest

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
CREATE INDEX IF NOT EXISTS things_unclaimed ON things (digest) WHERE owner IS NULL;
CREATE INDEX IF NOT EXISTS things_owner ON things (owner);
CREATE TABLE IF NOT EXISTS tags (
    thing_id   INTEGER NOT NULL REFERENCES things (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    str_value  TEXT,
    num_value  REAL,
    PRIMARY KEY (thing_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_str ON tags (name, str_value) WHERE str_value IS NOT NULL;
CREATE INDEX IF NOT EXISTS tags_num ON tags (name, num_value) WHERE num_value IS NOT NULL;
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
PRAGMA user_version = 1;
"""

SELECTIVITY_CAP = 5000
ESTIMATE_TTL = 30.0  # seconds
_COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class SqliteRegistryStore:
    """Registry state in one SQLite file. `synchronous='FULL'` survives power loss too."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.execute("PRAGMA analysis_limit=1000")
        self.db.executescript(SCHEMA)
        self.db.execute("PRAGMA optimize=0x10002")  # refresh planner statistics if they are stale
        self._writes = 0
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
    def save(self, thing: Thing, full_jid: str | None = None) -> None:
        n = thing.node
        with _transaction(self.db):
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

    def set_owner(self, jid: str, node: NodeRef, owner: str | None, public: bool) -> None:
        with _transaction(self.db):
            self.db.execute(
                "UPDATE things SET owner=?, public=?, updated=? "
                "WHERE jid=? AND node_id=? AND source_id=? AND cache_type=?",
                (owner, int(public), time.time(), jid, node.node_id, node.source_id, node.cache_type),
            )

    def update_tags(self, jid: str, node: NodeRef, tags: list[Tag]) -> None:
        with _transaction(self.db):
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

    def delete(self, jid: str, node: NodeRef) -> bool:
        with _transaction(self.db):
            cur = self.db.execute(
                "DELETE FROM things WHERE jid=? AND node_id=? AND source_id=? AND cache_type=?",
                (jid, node.node_id, node.source_id, node.cache_type),
            )
        return cur.rowcount > 0

    def touch(self, jid: str, full_jid: str) -> None:
        """Remember where the thing was last seen, to address notifications."""
        with _transaction(self.db):
            self.db.execute("UPDATE things SET full_jid=? WHERE jid=?", (full_jid, jid))

    def add_pending(self, jid: str, kind: str, node: NodeRef, owner: str = "", public: bool = False) -> None:
        with _transaction(self.db):
            self.db.execute(
                "INSERT INTO pending (jid, kind, node_id, source_id, cache_type, owner, public, created) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (jid, kind, node.node_id, node.source_id, node.cache_type, owner, int(public), time.time()),
            )

    def drop_pending(self, notification_id: int) -> None:
        with _transaction(self.db):
            self.db.execute("DELETE FROM pending WHERE id=?", (notification_id,))

    def bulk_load(self, things: Iterable[Thing]) -> int:
        """Insert many things in one transaction (benchmarks, imports); returns the count."""
        count = 0
        with _transaction(self.db):
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

    def close(self) -> None:
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
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error: nothing is half-applied."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _condition_sql(c: Condition, alias: str) -> tuple[str, list[object]]:
    """SQL for one condition on the tags table aliased `alias`, with its parameters."""
    col = f"{alias}.num_value" if c.numeric else f"{alias}.str_value"
    name = f"{alias}.name = ? AND {col} IS NOT NULL"
    if c.op in _COMPARISONS:
        return f"{name} AND {col} {_COMPARISONS[c.op]} ?", [c.name, c.value]
    if c.op == "range":
        lo = ">=" if c.min_included else ">"
        hi = "<=" if c.max_included else "<"
        return f"{name} AND {col} {lo} ? AND {col} {hi} ?", [c.name, c.min, c.max]
    if c.op == "nrange":
        lo = "<" if c.min_included else "<="
        hi = ">" if c.max_included else ">="
        return f"{name} AND ({col} {lo} ? OR {col} {hi} ?)", [c.name, c.min, c.max]
    if c.op == "mask":
        return f"{name} AND {col} GLOB ?", [c.name, _glob(str(c.value), c.wildcard)]
    raise ValueError(f"unknown operator {c.op}")


def _glob(pattern: str, wildcard: str) -> str:
    """strMask pattern -> SQLite GLOB (case-sensitive); GLOB's own specials are escaped."""
    parts = pattern.split(wildcard) if wildcard else [pattern]
    escaped = ["".join(f"[{ch}]" if ch in "*?[" else ch for ch in part) for part in parts]
    return "*".join(escaped)
