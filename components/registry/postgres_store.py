"""PostgreSQL implementation of the registry store (`--db postgresql://...`), same interface as SQLite.

For deployments that keep their state in a managed PostgreSQL (backups, replication). The
component searches its in-memory index either way; this store answers searches itself too
(tests, tools), with one EXISTS per condition. Strings compare in code-point order
(`COLLATE "C"`), as in SQLite and the reference semantics. Every write is a transaction that
is committed when the call returns, or, in group-commit mode, a savepoint in the batch's
transaction that `commit()` makes durable.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import psycopg

from xmpp_iot.discovery.model import Condition, NodeRef, Tag, Thing
from xmpp_iot.ownership import OwnershipRecord

from .store import PendingNotification, StoredThing, condition_sql, tag_digest

SCHEMA = """
CREATE TABLE IF NOT EXISTS things (
    id          BIGSERIAL PRIMARY KEY,
    jid         TEXT NOT NULL,
    node_id     TEXT NOT NULL DEFAULT '',
    source_id   TEXT NOT NULL DEFAULT '',
    cache_type  TEXT NOT NULL DEFAULT '',
    owner       TEXT,
    public      BOOLEAN NOT NULL DEFAULT FALSE,
    digest      TEXT NOT NULL,
    full_jid    TEXT,
    updated     DOUBLE PRECISION NOT NULL,
    UNIQUE (jid, node_id, source_id, cache_type)
);
CREATE INDEX IF NOT EXISTS things_unclaimed ON things (digest) WHERE owner IS NULL;
CREATE INDEX IF NOT EXISTS things_owner ON things (owner);
CREATE TABLE IF NOT EXISTS tags (
    thing_id   BIGINT NOT NULL REFERENCES things (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    str_value  TEXT COLLATE "C",
    num_value  DOUBLE PRECISION,
    PRIMARY KEY (thing_id, name)
);
CREATE INDEX IF NOT EXISTS tags_str ON tags (name, str_value) WHERE str_value IS NOT NULL;
CREATE INDEX IF NOT EXISTS tags_num ON tags (name, num_value) WHERE num_value IS NOT NULL;
CREATE TABLE IF NOT EXISTS pending (
    id         BIGSERIAL PRIMARY KEY,
    jid        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    node_id    TEXT NOT NULL DEFAULT '',
    source_id  TEXT NOT NULL DEFAULT '',
    cache_type TEXT NOT NULL DEFAULT '',
    owner      TEXT NOT NULL DEFAULT '',
    public     BOOLEAN NOT NULL DEFAULT FALSE,
    created    DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_jid ON pending (jid);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ownership_state (
    jid TEXT NOT NULL, node_id TEXT NOT NULL, source_id TEXT NOT NULL, cache_type TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (jid, node_id, source_id, cache_type)
);
CREATE TABLE IF NOT EXISTS ownership_outbox (
    id BIGSERIAL PRIMARY KEY, peer TEXT NOT NULL, seq BIGINT NOT NULL,
    jid TEXT NOT NULL, node_id TEXT NOT NULL, source_id TEXT NOT NULL, cache_type TEXT NOT NULL,
    owner TEXT NOT NULL, public BOOLEAN NOT NULL, removed BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS ownership_outbox_peer ON ownership_outbox (peer, seq);
"""

_THING_COLUMNS = "t.id, t.jid, t.node_id, t.source_id, t.cache_type, t.owner, t.public"
_ADDRESS = "jid=%s AND node_id=%s AND source_id=%s AND cache_type=%s"


class PostgresRegistryStore:
    """Registry state in a PostgreSQL database given by a `postgresql://` URL."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(347)")  # two registries starting at once
            self.conn.execute(SCHEMA)
        self.group_commit = False  # see SqliteRegistryStore.group_commit

    # -- reads ----------------------------------------------------------------------------
    def get(self, jid: str, node: NodeRef) -> Thing | None:
        rows = self._rows(f"SELECT {_THING_COLUMNS} FROM things t WHERE {_ADDRESS}", (jid, *_node(node)))
        things = self._things(rows)
        return things[0] if things else None

    def find_unclaimed(self, digest: str) -> list[Thing]:
        return self._things(
            self._rows(f"SELECT {_THING_COLUMNS} FROM things t WHERE digest=%s AND owner IS NULL", (digest,))
        )

    def find_claimed(self, digest: str, owner: str) -> list[Thing]:
        return self._things(
            self._rows(f"SELECT {_THING_COLUMNS} FROM things t WHERE digest=%s AND owner=%s", (digest, owner))
        )

    def last_full_jid(self, jid: str) -> str | None:
        rows = self._rows(
            "SELECT full_jid FROM things WHERE jid=%s AND full_jid IS NOT NULL ORDER BY updated DESC LIMIT 1",
            (jid,),
        )
        return rows[0][0] if rows else None

    def count(self) -> int:
        return self._rows("SELECT count(*) FROM things", ())[0][0]

    def search(
        self, conditions: list[Condition], requester: str, offset: int, limit: int
    ) -> tuple[list[Thing], bool]:
        clauses, params = [], []
        for c in conditions:
            sql, args = _condition_sql(c)
            clauses.append(f"EXISTS (SELECT 1 FROM tags g WHERE g.thing_id = t.id AND {sql})")
            params.extend(args)
        params.extend((requester, limit + 1, offset))
        rows = self._rows(
            f"SELECT {_THING_COLUMNS} FROM things t WHERE {' AND '.join(clauses)} "
            "AND t.owner IS NOT NULL AND (t.public OR t.owner = %s) ORDER BY t.id LIMIT %s OFFSET %s",
            params,
        )
        return self._things(rows[:limit]), len(rows) > limit

    def all_things(self) -> Iterator[StoredThing]:
        tags: dict[int, dict[str, Tag]] = {}
        for thing_id, name, s, n in self._rows("SELECT thing_id, name, str_value, num_value FROM tags", ()):
            tags.setdefault(thing_id, {})[name] = Tag(name, s if s is not None else float(n))
        for r in self._rows(
            "SELECT id, jid, node_id, source_id, cache_type, owner, public, digest, full_jid, updated "
            "FROM things ORDER BY id",
            (),
        ):
            thing = Thing(r[1], NodeRef(r[2], r[3], r[4]), tags.get(r[0], {}), r[5], r[6])
            yield StoredThing(thing, r[7], r[8], r[9])

    def pending_for(self, jid: str) -> list[PendingNotification]:
        rows = self._rows(
            "SELECT id, jid, kind, node_id, source_id, cache_type, owner, public FROM pending "
            "WHERE jid=%s ORDER BY id",
            (jid,),
        )
        return [PendingNotification(r[0], r[1], r[2], NodeRef(r[3], r[4], r[5]), r[6], r[7]) for r in rows]

    def has_pending(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT DISTINCT jid FROM pending", ())}

    # -- writes ---------------------------------------------------------------------------
    def save(self, thing: Thing, full_jid: str | None = None, *, feed: Sequence[str] = ()) -> None:
        with self._write():
            if feed:
                self._record_ownership(feed, thing.jid, thing.node, thing.owner or "", thing.public, False)
            self.conn.execute(f"DELETE FROM things WHERE {_ADDRESS}", (thing.jid, *_node(thing.node)))
            self._insert(thing, full_jid)

    def set_owner(
        self, jid: str, node: NodeRef, owner: str | None, public: bool, *, feed: Sequence[str] = ()
    ) -> None:
        with self._write():
            if feed:
                self._record_ownership(feed, jid, node, owner or "", public, False)
            self.conn.execute(
                f"UPDATE things SET owner=%s, public=%s, updated=%s WHERE {_ADDRESS}",
                (owner, public, time.time(), jid, *_node(node)),
            )

    def update_tags(self, jid: str, node: NodeRef, tags: list[Tag]) -> None:
        with self._write():
            rows = self._rows(f"SELECT id FROM things WHERE {_ADDRESS}", (jid, *_node(node)))
            if not rows:
                return
            thing_id = rows[0][0]
            for tag in tags:
                self.conn.execute("DELETE FROM tags WHERE thing_id=%s AND name=%s", (thing_id, tag.name))
            self._insert_tags(thing_id, [t for t in tags if t.numeric or t.value != ""])
            remaining = [
                Tag(name, s if s is not None else float(n))
                for name, s, n in self._rows(
                    "SELECT name, str_value, num_value FROM tags WHERE thing_id=%s", (thing_id,)
                )
            ]
            self.conn.execute(
                "UPDATE things SET digest=%s, updated=%s WHERE id=%s",
                (tag_digest(remaining), time.time(), thing_id),
            )

    def delete(self, jid: str, node: NodeRef, *, feed: Sequence[str] = ()) -> bool:
        with self._write():
            cur = self.conn.execute(f"DELETE FROM things WHERE {_ADDRESS}", (jid, *_node(node)))
            deleted = cur.rowcount > 0
            if feed and deleted:
                self._record_ownership(feed, jid, node, "", False, True)
        return deleted

    def touch(self, jid: str, full_jid: str) -> None:
        with self._write():
            self.conn.execute("UPDATE things SET full_jid=%s WHERE jid=%s", (full_jid, jid))

    def add_pending(self, jid: str, kind: str, node: NodeRef, owner: str = "", public: bool = False) -> None:
        with self._write():
            self.conn.execute(
                "INSERT INTO pending (jid, kind, node_id, source_id, cache_type, owner, public, created) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                (jid, kind, *_node(node), owner, public, time.time()),
            )

    def drop_pending(self, notification_id: int) -> None:
        with self._write():
            self.conn.execute("DELETE FROM pending WHERE id=%s", (notification_id,))

    def bulk_load(self, things: Iterable[Thing]) -> int:
        count = 0
        with self._write():
            for thing in things:
                self._insert(thing, None)
                count += 1
        return count

    # -- the ownership feed ---------------------------------------------------------------
    def _record_ownership(
        self, peers: Sequence[str], jid: str, node: NodeRef, owner: str, public: bool, removed: bool
    ) -> int:
        (seq,) = self._rows(
            "INSERT INTO counters (name, value) VALUES ('ownership_seq', 1) "
            "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            (),
        )[0]
        address = (jid, *_node(node))
        if removed:
            self.conn.execute(f"DELETE FROM ownership_state WHERE {_ADDRESS}", address)
        else:
            self.conn.execute(
                "INSERT INTO ownership_state VALUES (%s,%s,%s,%s,%s) "
                "ON CONFLICT (jid, node_id, source_id, cache_type) DO UPDATE SET seq = EXCLUDED.seq",
                (*address, seq),
            )
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ownership_outbox (peer, seq, jid, node_id, source_id, cache_type, owner, public, removed) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                [(peer, seq, *address, owner, public, removed) for peer in peers],
            )
        return seq

    def ownership_outbox(self, peer: str, limit: int = 100) -> list[OwnershipRecord]:
        rows = self._rows(
            "SELECT seq, jid, node_id, source_id, cache_type, owner, public, removed FROM ownership_outbox "
            "WHERE peer=%s ORDER BY seq LIMIT %s",
            (peer, limit),
        )
        return [OwnershipRecord(r[1], NodeRef(r[2], r[3], r[4]), r[5], r[6], r[7], r[0]) for r in rows]

    def ownership_peers_waiting(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT DISTINCT peer FROM ownership_outbox", ())}

    def ack_ownership(self, peer: str, seq: int) -> None:
        with self._write():
            self.conn.execute("DELETE FROM ownership_outbox WHERE peer=%s AND seq<=%s", (peer, seq))

    def ownership_of(self, jid: str, node: NodeRef) -> OwnershipRecord | None:
        rows = self._rows(
            "SELECT t.owner, t.public, coalesce(s.seq, 0) FROM things t LEFT JOIN ownership_state s "
            "ON s.jid=t.jid AND s.node_id=t.node_id AND s.source_id=t.source_id AND s.cache_type=t.cache_type "
            "WHERE t.jid=%s AND t.node_id=%s AND t.source_id=%s AND t.cache_type=%s",
            (jid, *_node(node)),
        )
        if not rows:
            return None
        owner, public, seq = rows[0]
        return OwnershipRecord(jid, node, owner or "", bool(public) and owner is not None, False, seq)

    # -- transactions ---------------------------------------------------------------------
    def uncommitted(self) -> bool:
        return self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def commit(self) -> None:
        if self.uncommitted():
            self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.uncommitted():
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.commit()
        self.conn.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A transaction (committed on exit), or in group-commit mode a savepoint in the batch."""
        if self.group_commit and not self.uncommitted():
            self.conn.execute("BEGIN")
        with self.conn.transaction():
            yield

    # -- helpers --------------------------------------------------------------------------
    def _rows(self, sql: str, params) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def _insert(self, thing: Thing, full_jid: str | None) -> None:
        (thing_id,) = self._rows(
            "INSERT INTO things (jid, node_id, source_id, cache_type, owner, public, digest, full_jid, updated) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (thing.jid, *_node(thing.node), thing.owner, thing.public, tag_digest(list(thing.tags.values())),
             full_jid, time.time()),
        )[0]  # fmt: skip
        self._insert_tags(thing_id, thing.tags.values())

    def _insert_tags(self, thing_id: int, tags: Iterable[Tag]) -> None:
        rows = [
            (thing_id, t.name, None, t.value) if t.numeric else (thing_id, t.name, t.value, None)
            for t in tags
        ]
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO tags (thing_id, name, str_value, num_value) VALUES (%s,%s,%s,%s)", rows
                )

    def _things(self, rows: list[tuple]) -> list[Thing]:
        if not rows:
            return []
        tags: dict[int, dict[str, Tag]] = {r[0]: {} for r in rows}
        for thing_id, name, s, n in self._rows(
            "SELECT thing_id, name, str_value, num_value FROM tags WHERE thing_id = ANY(%s)", (list(tags),)
        ):
            tags[thing_id][name] = Tag(name, s if s is not None else float(n))
        return [Thing(r[1], NodeRef(r[2], r[3], r[4]), tags[r[0]], r[5], r[6]) for r in rows]


def _node(node: NodeRef) -> tuple[str, str, str]:
    return (node.node_id, node.source_id, node.cache_type)


def _condition_sql(c: Condition) -> tuple[str, list[object]]:
    return condition_sql(c, "g", "%s", "~", _mask_regex)


def _mask_regex(pattern: str, wildcard: str) -> str:
    """strMask -> an anchored PostgreSQL regular expression; every other character is literal."""
    parts = pattern.split(wildcard) if wildcard else [pattern]
    return "^" + ".*".join(re.sub(r"([^A-Za-z0-9_])", r"\\\1", part) for part in parts) + "$"
