"""Durable time-series store of the historian: raw samples, rollups per resolution, latest values.

SQLite in WAL mode, one file. A batch of samples is one transaction: when :meth:`SeriesStore.add`
returns, the batch is on disk (``synchronous=FULL`` survives power loss, ``NORMAL`` process crashes).
A sample is identified by (series, timestamp), so the same pub/sub item delivered twice (a
re-subscription, a catch-up fetch after a restart) is stored once and counted once in the rollups.

Rollups hold count, sum, min, max and the last value per bucket, so that a bucket's mean (for
momentary quantities) and its last value (for energy registers, which only grow) are both exact and
survive the pruning of raw samples. Retention is per resolution (see :class:`Retention`).

Once raw samples older than some instant have been pruned, a sample from before that instant can no
longer be told apart from one already counted, so it is refused (:attr:`SeriesStore.stale`): the
*horizon* is kept in the file, and the ingestor also refuses samples older than the raw retention.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .resolution import RAW, US, Resolution, bucket_start

__all__ = ["DEFAULT_RAW_RETENTION", "HistoryValue", "Retention", "Sample", "SeriesStore", "SeriesValue"]

DEFAULT_RAW_RETENTION = 7 * 86_400.0

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id          INTEGER PRIMARY KEY,
    node        TEXT NOT NULL,
    field       TEXT NOT NULL,
    field_type  TEXT NOT NULL,
    unit        TEXT NOT NULL,
    aggregate   TEXT NOT NULL,
    UNIQUE (node, field, field_type)
);
CREATE TABLE IF NOT EXISTS samples (
    series_id  INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    value      REAL NOT NULL,
    qos        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS samples_ts ON samples (ts);
CREATE TABLE IF NOT EXISTS latest (
    series_id  INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    value      REAL NOT NULL,
    qos        TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS rollups (
    series_id   INTEGER NOT NULL,
    resolution  INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    sum         REAL NOT NULL,
    min         REAL NOT NULL,
    max         REAL NOT NULL,
    last_ts     INTEGER NOT NULL,
    last        REAL NOT NULL,
    PRIMARY KEY (series_id, resolution, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
    node        TEXT PRIMARY KEY,
    items       INTEGER NOT NULL DEFAULT 0,
    invalid     INTEGER NOT NULL DEFAULT 0,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
PRAGMA user_version = 1;
"""

_ROLLUP_UPSERT = (
    "INSERT INTO rollups (series_id, resolution, bucket, count, sum, min, max, last_ts, last) "
    "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET "
    "count = count + excluded.count, sum = sum + excluded.sum, "
    "min = min(min, excluded.min), max = max(max, excluded.max), "
    "last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END, "
    "last_ts = max(last_ts, excluded.last_ts)"
)
_LATEST_UPSERT = (
    "INSERT INTO latest (series_id, ts, value, qos) VALUES (?,?,?,?) ON CONFLICT (series_id) DO UPDATE SET "
    "ts = excluded.ts, value = excluded.value, qos = excluded.qos WHERE excluded.ts >= latest.ts"
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One numeric value of one field of one node at one instant (µs since the epoch, UTC)."""

    node: str
    field: str
    field_type: str
    unit: str
    ts_us: int
    value: float
    qos: str = ""
    aggregate: str = "mean"  # how buckets summarise it: "mean", or "last" for cumulative registers


@dataclass(frozen=True, slots=True)
class SeriesValue:
    """The latest value of one series."""

    node: str
    field: str
    field_type: str
    unit: str
    ts_us: int
    value: float
    qos: str


@dataclass(frozen=True, slots=True)
class HistoryValue:
    """One historical value: a raw sample, or a bucket's summary (value = mean or last)."""

    node: str
    field: str
    unit: str
    ts_us: int
    value: float
    qos: str
    count: int = 1
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each resolution is kept, in seconds; None keeps it forever."""

    raw: float | None = DEFAULT_RAW_RETENTION
    by_resolution: dict[Resolution, float | None] = field(default_factory=dict)

    DEFAULTS = {
        Resolution.SECOND: 86_400.0,
        Resolution.MINUTE: 30 * 86_400.0,
        Resolution.HOUR: 365 * 86_400.0,
        Resolution.DAY: None,
        Resolution.WEEK: None,
        Resolution.MONTH: None,
        Resolution.QUARTER: None,
        Resolution.YEAR: None,
    }

    def keep(self, resolution: Resolution) -> float | None:
        return self.by_resolution.get(resolution, self.DEFAULTS[resolution])


class SeriesStore:
    """Time series in one SQLite file. All methods are synchronous and thread-safe (one lock);
    the component calls them from one worker thread so the event loop never waits on a commit."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        resolutions: Iterable[Resolution] = tuple(Resolution),
    ) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self.resolutions = tuple(resolutions)
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, str], int] = {
            (n, f, t): i for i, n, f, t in self.db.execute("SELECT id, node, field, field_type FROM series")
        }
        row = self.db.execute("SELECT value FROM meta WHERE name = 'raw_horizon'").fetchone()
        self.horizon_us: int = row[0] if row else -(2**62)  # raw samples before this may have been pruned
        self.stale = 0  # samples refused because they are older than the horizon

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # -- writes -----------------------------------------------------------------------------
    def add(
        self,
        samples: Sequence[Sample],
        *,
        items: dict[str, int] | None = None,
        invalid: dict[str, int] | None = None,
        now_us: int = 0,
        min_ts_us: int | None = None,
    ) -> int:
        """Store a batch in one committed transaction; return how many samples were new.

        Samples older than the horizon (or ``min_ts_us``) are refused and counted in :attr:`stale`.
        ``items``/``invalid`` count pub/sub items per node (accepted / refused) for the statistics.
        """
        with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                new = []
                insert = db.execute
                oldest = self.horizon_us if min_ts_us is None else max(self.horizon_us, min_ts_us)
                for s in samples:
                    if s.ts_us < oldest:
                        self.stale += 1
                        continue
                    sid = self._series_id(s)
                    if insert(
                        "INSERT OR IGNORE INTO samples (series_id, ts, value, qos) VALUES (?,?,?,?)",
                        (sid, s.ts_us, s.value, s.qos),
                    ).rowcount:
                        new.append((sid, s))
                if new:
                    db.executemany(_LATEST_UPSERT, [(sid, s.ts_us, s.value, s.qos) for sid, s in new])
                    db.executemany(_ROLLUP_UPSERT, self._rollup_rows(new))
                for node, n in (items or {}).items():
                    self._count_node(node, n, 0, now_us)
                for node, n in (invalid or {}).items():
                    self._count_node(node, 0, n, now_us)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return len(new)

    def add_node(self, node: str, now_us: int) -> None:
        """Remember a node (before any sample arrives), so readouts know it exists."""
        with self._lock:
            self._count_node(node, 0, 0, now_us)

    def prune(self, now_us: int, retention: Retention, limit: int | None = None) -> dict[str, int]:
        """Delete what is older than each resolution's retention; return rows deleted per kind.

        With ``limit``, at most that many rows of each kind go in this transaction: call again while
        any count equals the limit, so that a large first prune does not hold up ingest for long."""
        deleted: dict[str, int] = {}
        horizon = self.horizon_us
        with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                if retention.raw is not None:
                    cut = max(self.horizon_us, now_us - int(retention.raw * US))
                    deleted[RAW] = db.execute(
                        "DELETE FROM samples WHERE ts < ?"
                        if limit is None
                        else "DELETE FROM samples WHERE (series_id, ts) IN "
                        "(SELECT series_id, ts FROM samples WHERE ts < ? LIMIT ?)",
                        (cut,) if limit is None else (cut, limit),
                    ).rowcount
                    db.execute(
                        "INSERT INTO meta (name, value) VALUES ('raw_horizon', ?) "
                        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        (cut,),
                    )
                    horizon = cut
                for r in self.resolutions:
                    keep = retention.keep(r)
                    if keep is not None:
                        cut = now_us - int(keep * US)
                        deleted[r.short] = db.execute(
                            "DELETE FROM rollups WHERE resolution = ? AND bucket < ?"
                            if limit is None
                            else "DELETE FROM rollups WHERE (series_id, resolution, bucket) IN (SELECT series_id, "
                            "resolution, bucket FROM rollups WHERE resolution = ? AND bucket < ? LIMIT ?)",
                            (r.code, cut) if limit is None else (r.code, cut, limit),
                        ).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self.horizon_us = horizon
        return deleted

    # -- reads ------------------------------------------------------------------------------
    def nodes(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self.db.execute("SELECT node FROM nodes ORDER BY node")]

    def has_node(self, node: str) -> bool:
        with self._lock:
            return self.db.execute("SELECT 1 FROM nodes WHERE node = ?", (node,)).fetchone() is not None

    def node_stats(self, node: str) -> tuple[int, int] | None:
        """(items accepted, items refused) for a node, or None if unknown."""
        with self._lock:
            row = self.db.execute("SELECT items, invalid FROM nodes WHERE node = ?", (node,)).fetchone()
        return (row[0], row[1]) if row else None

    def sample_count(self) -> int:
        with self._lock:
            return self.db.execute("SELECT count(*) FROM samples").fetchone()[0]

    def current(
        self, node: str, fields: Iterable[str] = (), field_types: Iterable[str] = ()
    ) -> list[SeriesValue]:
        """The latest value of every series of ``node`` (optionally only these fields / types)."""
        sql, params = _series_filter(node, fields, field_types)
        with self._lock:
            rows = self.db.execute(
                "SELECT s.node, s.field, s.field_type, s.unit, l.ts, l.value, l.qos "
                f"FROM series s JOIN latest l ON l.series_id = s.id WHERE {sql} ORDER BY s.field, s.field_type",
                params,
            ).fetchall()
        return [SeriesValue(*r) for r in rows]

    def history(
        self,
        node: str,
        resolution: Resolution | str,
        from_us: int | None,
        to_us: int | None,
        fields: Iterable[str] = (),
        limit: int = 10_000,
    ) -> list[HistoryValue]:
        """Raw samples (``resolution=RAW``) or bucket summaries in [from, to], newest first,
        at most ``limit`` (ask for limit+1 to find out that there are more)."""
        sql, params = _series_filter(node, fields, ())
        lo = -(2**62) if from_us is None else from_us
        hi = 2**62 if to_us is None else to_us
        with self._lock:
            if resolution == RAW:
                rows = self.db.execute(
                    "SELECT s.node, s.field, s.unit, x.ts, x.value, x.qos FROM series s "
                    f"JOIN samples x ON x.series_id = s.id AND x.ts BETWEEN ? AND ? WHERE {sql} "
                    "ORDER BY x.ts DESC, s.field LIMIT ?",
                    (lo, hi, *params, limit),
                ).fetchall()
                return [HistoryValue(*r) for r in rows]
            assert isinstance(resolution, Resolution)
            rows = self.db.execute(
                "SELECT s.node, s.field, s.unit, r.bucket, "
                "CASE s.aggregate WHEN 'last' THEN r.last ELSE r.sum / r.count END, '', r.count, r.min, r.max "
                "FROM series s JOIN rollups r ON r.series_id = s.id AND r.resolution = ? "
                f"AND r.bucket BETWEEN ? AND ? WHERE {sql} ORDER BY r.bucket DESC, s.field LIMIT ?",
                (resolution.code, lo, hi, *params, limit),
            ).fetchall()
        return [HistoryValue(*r) for r in rows]

    # -- helpers ----------------------------------------------------------------------------
    def _series_id(self, s: Sample) -> int:
        key = (s.node, s.field, s.field_type)
        sid = self._series.get(key)
        if sid is None:
            sid = self.db.execute(
                "INSERT INTO series (node, field, field_type, unit, aggregate) VALUES (?,?,?,?,?)",
                (s.node, s.field, s.field_type, s.unit, s.aggregate),
            ).lastrowid
            assert sid is not None
            self._series[key] = sid
        return sid

    def _rollup_rows(self, new: list[tuple[int, Sample]]) -> list[tuple]:
        """Pre-aggregate the batch per (series, resolution, bucket): one upsert per bucket, not per sample."""
        acc: dict[tuple[int, int, int], list] = {}
        for sid, s in new:
            v, ts = s.value, s.ts_us
            for r in self.resolutions:
                key = (sid, r.code, bucket_start(ts, r))
                a = acc.get(key)
                if a is None:
                    acc[key] = [1, v, v, v, ts, v]
                else:
                    a[0] += 1
                    a[1] += v
                    if v < a[2]:
                        a[2] = v
                    if v > a[3]:
                        a[3] = v
                    if ts >= a[4]:
                        a[4], a[5] = ts, v
        return [(*k, *a) for k, a in acc.items()]

    def _count_node(self, node: str, items: int, invalid: int, now_us: int) -> None:
        self.db.execute(
            "INSERT INTO nodes (node, items, invalid, first_seen, last_seen) VALUES (?,?,?,?,?) "
            "ON CONFLICT (node) DO UPDATE SET items = items + excluded.items, invalid = invalid + excluded.invalid, "
            "last_seen = max(last_seen, excluded.last_seen)",
            (node, items, invalid, now_us, now_us),
        )


def _series_filter(node: str, fields: Iterable[str], field_types: Iterable[str]) -> tuple[str, list]:
    clauses, params = ["s.node = ?"], [node]
    fields, field_types = list(fields), list(field_types)
    if fields:
        clauses.append(f"s.field IN ({','.join('?' * len(fields))})")
        params.extend(fields)
    if field_types:
        clauses.append(f"s.field_type IN ({','.join('?' * len(field_types))})")
        params.extend(field_types)
    return " AND ".join(clauses), params
