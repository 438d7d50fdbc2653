"""From pub/sub items to committed samples: decode, batch, commit, count what was refused.

A measurement item is decoded with the shared codec (:mod:`xmpp_iot.measurement`); every reading
becomes one or two samples (a phasor is a magnitude and an ``.angle`` field, as in
:func:`~xmpp_iot.measurement.to_xep0323_fields`). The device is the one the node belongs to
(``meas/<bare jid>``), not whatever the payload claims, so a device can only fill its own series.

Items are buffered and written in batches (one transaction each, in one worker thread): many small
commits would cap the ingest rate at the disk's fsync rate. :meth:`Ingestor.flush` waits until
everything received so far is committed; readouts call it first, so they see every value the
component has received. Invalid items are logged (rate-limited) and counted, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import Executor
from datetime import datetime

from xmpp_iot.measurement import MeasurementCodec, PayloadError, to_xep0323_fields
from xmpp_iot.measurement.model import MeterReadout, PmuFrame

from .resolution import to_us
from .store import Sample, SeriesStore

__all__ = ["Ingestor", "samples_of"]

log = logging.getLogger(__name__)

CUMULATIVE_UNITS = frozenset({"Wh", "varh"})  # registers: a bucket is summarised by its last value
LOG_EVERY = 100  # after the first few, log one invalid item in this many


def samples_of(node: str, payload: PmuFrame | MeterReadout) -> list[Sample]:
    """The samples of one decoded measurement payload published on ``node``'s measurement node."""
    out = []
    stamps: dict[datetime, int] = {}  # readings of one payload mostly share one timestamp
    for reading in payload.readings:
        for f in to_xep0323_fields(reading):
            ts = stamps.get(f.timestamp)
            if ts is None:
                ts = stamps[f.timestamp] = to_us(f.timestamp)
            out.append(
                Sample(
                    node,
                    f.name,
                    f.field_type,
                    f.unit,
                    ts,
                    float(f.value),
                    " ".join(sorted(f.qos)) if f.qos else "",
                    "last" if f.unit in CUMULATIVE_UNITS else "mean",
                )
            )
    return out


class Ingestor:
    """Buffers decoded samples and commits them in batches through ``executor`` (one thread)."""

    def __init__(
        self,
        store: SeriesStore,
        executor: Executor,
        *,
        codec: MeasurementCodec | None = None,
        max_batch: int = 2000,
        max_delay: float = 0.05,
        raw_retention: float | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.codec = codec or MeasurementCodec()
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.raw_retention = raw_retention  # samples older than this are refused (see SeriesStore.horizon_us)
        self.received = 0  # items accepted (decoded)
        self.refused = 0  # items that could not be decoded
        self.committed = 0  # samples committed (new ones)
        self._buffer: list[Sample] = []
        self._items: Counter[str] = Counter()
        self._invalid: Counter[str] = Counter()
        # progress, for flush(): samples ever queued / committed, and versions of the node counters
        self._queued = 0
        self._written = 0
        self._counters = 0
        self._counters_written = 0
        self._progress = asyncio.Condition()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None

    # -- input ------------------------------------------------------------------------------
    def accept(self, node: str, payload: ET.Element | None, item_id: str = "") -> bool:
        """Decode one item of ``node``'s measurement node and queue its samples; False if refused."""
        try:
            if payload is None:
                raise PayloadError("item has no payload")
            samples = samples_of(node, self.codec.decode_element(payload))
        except (PayloadError, ValueError, TypeError) as exc:
            self.refused += 1
            self._invalid[node] += 1
            self._counters += 1
            if self.refused <= 10 or self.refused % LOG_EVERY == 0:
                log.warning(
                    "refused item %r on meas/%s (%d refused so far): %s", item_id, node, self.refused, exc
                )
            self._kick()
            return False
        self.received += 1
        self._items[node] += 1
        self._counters += 1
        self._buffer.extend(samples)
        self._queued += len(samples)
        self._kick()
        return True

    def add_nodes(self, nodes: list[str]) -> None:
        """Make nodes known before their first item (queued like samples, committed with them)."""
        for node in nodes:
            self._items[node] += 0
        self._counters += 1
        self._kick()

    # -- commit loop ------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sensordata-ingest")

    async def stop(self) -> None:
        """Commit what is buffered, then stop."""
        if self._task is not None:
            await self.flush()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def flush(self) -> None:
        """Return when everything accepted before the call is committed (later arrivals do not
        delay it, so a readout is not starved by a steady stream)."""
        samples, counters = self._queued, self._counters
        async with self._progress:
            while self._written < samples or self._counters_written < counters:
                if self._failed is not None:
                    raise RuntimeError("the store failed; see the log") from self._failed
                self._kick()
                await self._progress.wait()

    def _pending(self) -> bool:
        return bool(self._buffer or self._items or self._invalid)

    def _kick(self) -> None:
        self._wake.set()

    async def _notify(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if len(self._buffer) < self.max_batch:
                await asyncio.sleep(self.max_delay)  # let a burst gather into one transaction
            while self._pending():
                batch, self._buffer = self._buffer[: self.max_batch], self._buffer[self.max_batch :]
                items, invalid = dict(self._items), dict(self._invalid)
                self._items.clear()
                self._invalid.clear()
                counters = self._counters
                now_us = int(time.time() * 1_000_000)
                oldest = None if self.raw_retention is None else now_us - int(self.raw_retention * 1_000_000)
                try:
                    stale = self.store.stale
                    self.committed += await loop.run_in_executor(
                        self.executor,
                        lambda b=batch, i=items, v=invalid, n=now_us, o=oldest: self.store.add(
                            b, items=i, invalid=v, now_us=n, min_ts_us=o
                        ),
                    )
                    if self.store.stale > stale:
                        log.warning(
                            "refused %d samples older than the raw retention (%d so far)",
                            self.store.stale - stale, self.store.stale,
                        )  # fmt: skip
                except Exception as exc:  # the disk is full or gone: keep the data, retry later
                    log.exception("cannot commit %d samples; retrying in 1 s", len(batch))
                    self._buffer[:0] = batch
                    self._items.update(items)
                    self._invalid.update(invalid)
                    self._failed = exc
                    await self._notify()
                    await asyncio.sleep(1.0)
                    continue
                self._failed = None
                self._written += len(batch)
                self._counters_written = counters
                await self._notify()
