"""The historian's store: rollups per resolution, idempotent ingest, retention, durability."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from components.sensordata.resolution import RAW, Resolution, bucket_start, from_us, parse_duration, to_us
from components.sensordata.store import Retention, Sample, SeriesStore

DEV = "meter-1@example.org"


def ts(*args: int) -> int:
    return to_us(datetime(*args, tzinfo=UTC))


def sample(
    t: int, value: float, field: str = "active_power.total", unit: str = "W", agg: str = "mean"
) -> Sample:
    return Sample(DEV, field, "momentary", unit, t, value, aggregate=agg)


@pytest.fixture
def store(tmp_path):
    s = SeriesStore(tmp_path / "h.sqlite3")
    yield s
    s.close()


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [
        (Resolution.SECOND, datetime(2026, 11, 18, 13, 45, 7, tzinfo=UTC)),
        (Resolution.MINUTE, datetime(2026, 11, 18, 13, 45, tzinfo=UTC)),
        (Resolution.HOUR, datetime(2026, 11, 18, 13, tzinfo=UTC)),
        (Resolution.DAY, datetime(2026, 11, 18, tzinfo=UTC)),
        (Resolution.WEEK, datetime(2026, 11, 16, tzinfo=UTC)),  # a Monday
        (Resolution.MONTH, datetime(2026, 11, 1, tzinfo=UTC)),
        (Resolution.QUARTER, datetime(2026, 10, 1, tzinfo=UTC)),
        (Resolution.YEAR, datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_bucket_start_of_each_resolution(resolution: Resolution, expected: datetime) -> None:
    t = to_us(datetime(2026, 11, 18, 13, 45, 7, 250_000, tzinfo=UTC))
    assert from_us(bucket_start(t, resolution)) == expected


def test_week_bucket_before_1970_also_starts_on_monday() -> None:
    assert from_us(bucket_start(ts(1969, 12, 31, 12), Resolution.WEEK)).weekday() == 0


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("36h") == 36 * 3600
    assert parse_duration("forever") is None
    with pytest.raises(ValueError):
        parse_duration("3 fortnights")


def test_rollups_mean_min_max_and_last_for_registers(store: SeriesStore) -> None:
    base = ts(2026, 11, 18, 13, 0)
    store.add([sample(base + i * 10_000_000, float(i)) for i in range(12)])  # 12 samples over 2 minutes
    store.add([sample(base + i * 60_000_000, 1000.0 + i, "energy_import", "Wh", "last") for i in range(3)])
    minutes = store.history(DEV, Resolution.MINUTE, None, None, ["active_power.total"])
    assert [(from_us(h.ts_us).minute, h.value, h.count, h.min, h.max) for h in minutes] == [
        (1, 8.5, 6, 6.0, 11.0),
        (0, 2.5, 6, 0.0, 5.0),
    ]
    hour = store.history(DEV, Resolution.HOUR, None, None, ["energy_import"])
    assert [(h.value, h.count) for h in hour] == [(1002.0, 3)]  # the register's last value, not its mean


def test_same_sample_twice_is_stored_and_counted_once(store: SeriesStore) -> None:
    t = ts(2026, 1, 1)
    assert store.add([sample(t, 5.0)]) == 1
    assert store.add([sample(t, 5.0), sample(t + 1, 7.0)]) == 1
    (day,) = store.history(DEV, Resolution.DAY, None, None)
    assert (day.count, day.value) == (2, 6.0)


def test_current_is_the_newest_even_if_older_samples_arrive_later(store: SeriesStore) -> None:
    store.add([sample(ts(2026, 1, 1, 12), 2.0)])
    store.add([sample(ts(2026, 1, 1, 11), 1.0)])
    (cur,) = store.current(DEV)
    assert cur.value == 2.0 and cur.field == "active_power.total"


def test_history_range_filter_and_limit(store: SeriesStore) -> None:
    base = ts(2026, 3, 1)
    store.add([sample(base + i * 1_000_000, float(i)) for i in range(100)])
    raw = store.history(DEV, RAW, base + 10_000_000, base + 19_000_000)
    assert [h.value for h in raw] == [float(i) for i in range(19, 9, -1)]
    assert len(store.history(DEV, Resolution.SECOND, None, None, limit=7)) == 7


def test_retention_prunes_each_resolution_by_its_own_limit(store: SeriesStore) -> None:
    now = ts(2026, 6, 1)
    old = ts(2026, 4, 1)
    store.add([sample(old, 1.0), sample(now - 1_000_000, 3.0)])
    deleted = store.prune(now, Retention(raw=86_400, by_resolution={Resolution.MINUTE: 86_400}))
    assert deleted[RAW] == 1 and deleted["minute"] == 1 and deleted["second"] == 1
    assert [h.value for h in store.history(DEV, RAW, None, None)] == [3.0]
    assert len(store.history(DEV, Resolution.MONTH, None, None)) == 2  # months are kept forever
    assert store.current(DEV)[0].value == 3.0  # the current value survives pruning


def test_committed_batch_survives_an_abandoned_connection(tmp_path) -> None:
    path = tmp_path / "k.sqlite3"
    s = SeriesStore(path)
    s.add([sample(ts(2026, 1, 1), 1.0)], items={DEV: 1})
    # no close(): like a SIGKILL. A second process opens the same file.
    again = SeriesStore(path)
    assert again.sample_count() == 1 and again.has_node(DEV) and again.node_stats(DEV) == (1, 0)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()
    s.close()


def test_failed_batch_leaves_nothing_behind(store: SeriesStore) -> None:
    bad = Sample(DEV, "x", "momentary", "W", ts(2026, 1, 1), object())  # type: ignore[arg-type]
    with pytest.raises(sqlite3.Error):
        store.add([sample(ts(2026, 1, 1), 1.0), bad])
    assert store.sample_count() == 0 and store.current(DEV) == []


def test_samples_older_than_the_pruned_horizon_are_refused_not_double_counted(tmp_path) -> None:
    path = tmp_path / "h.sqlite3"
    s = SeriesStore(path)
    old, now = ts(2026, 1, 1), ts(2026, 1, 10)
    s.add([sample(old, 1.0)])
    s.prune(now, Retention(raw=86_400))
    s.close()
    again = SeriesStore(path)  # the horizon is kept in the file
    assert again.add([sample(old, 1.0), sample(now, 2.0)]) == 1  # the re-delivered old sample is refused
    assert again.stale == 1
    (month,) = again.history(DEV, Resolution.MONTH, None, None)
    assert (month.count, month.value) == (2, 1.5)
    assert again.add([sample(now - 1, 3.0)], min_ts_us=now) == 0  # older than the caller's limit
    again.close()


def test_prune_in_chunks_reaches_the_same_result(store: SeriesStore) -> None:
    now = ts(2026, 6, 1)
    store.add([sample(now - 10 * 86_400_000_000 + i * 1_000_000, float(i)) for i in range(25)])
    retention = Retention(raw=86_400, by_resolution={Resolution.SECOND: 86_400})
    rounds = []
    while True:
        deleted = store.prune(now, retention, limit=10)
        rounds.append(deleted[RAW])
        if deleted[RAW] < 10 and deleted["second"] < 10:
            break
    assert rounds == [10, 10, 5] and store.sample_count() == 0
    assert store.history(DEV, Resolution.SECOND, None, None) == []
    assert len(store.history(DEV, Resolution.DAY, None, None)) == 1


def test_retention_options_parse() -> None:
    from argparse import ArgumentTypeError

    from components.sensordata.main import retention_rule

    assert retention_rule("raw=2d") == ("raw", 2 * 86_400)
    assert retention_rule("hour=forever") == ("hour", None)
    for bad in ("raw", "decade=1y", "minute=soon"):
        with pytest.raises(ArgumentTypeError):
            retention_rule(bad)
