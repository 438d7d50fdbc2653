"""Group commit for a component: one fsync per batch of writes, replies after it.

A synchronous SQLite commit costs one fsync, 0.3 ms on an idle disk and 4-8 ms on a busy
one, and it stalls the event loop while it lasts. Here the writes of one event-loop tick
run in one open transaction; at the end of the tick the COMMIT runs (on the loop while
commits are fast, else in a worker thread: see INLINE_COMMIT_S), and everything the
component sent meanwhile (replies, notifications) is held and written to the socket, in one
system call, only once the commit is done. So an acknowledgement
still never precedes durability, and a search reply never shows a write that could still
be lost: a search whose answer no uncommitted write can change (the index keeps the before
and after versions of what the batch touched) is sent at the end of the event-loop turn (with
the turn's other such replies, in one system call), any other waits for the commit. While a
commit is in flight, requests that write are queued and run right after it (searches go on,
from memory).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

# A COMMIT that usually takes less than this (fsync on an idle SSD: ~0.4 ms) runs on the event
# loop: waking the worker thread and getting the answer back costs more than that on a loaded
# machine (at 100k things: write p50 8-10 -> 5-7 ms, 10-20% less CPU per request). When commits
# are slower (a busy disk, a remote PostgreSQL), they run in the worker and searches go on.
INLINE_COMMIT_S = 0.001


class CommitThenSend:
    """Mixin for a slixmpp component whose `store` has `group_commit` (see IndexedRegistryStore)."""

    store: object
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport | None

    def init_group_commit(self) -> None:
        self._out: list[bytes] = []
        self._free: list[bytes] = []  # replies no uncommitted write can change: not held for the commit
        self._flush_scheduled = False
        self._committing = False
        self._waiting: list[Callable[[], None]] = []
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit")
        self._commit_time = 0.0  # moving average of a COMMIT's duration, seconds
        self._grouped = hasattr(self.store, "commit_durable")
        if self._grouped:
            self.store.group_commit = True  # type: ignore[attr-defined]
            self.store.on_write = self.schedule_flush  # type: ignore[attr-defined]

    def send_raw(self, data: str | bytes) -> None:
        self._out.append(data.encode() if isinstance(data, str) else data)
        self.schedule_flush()

    def when_committed(self, action: Callable[[], None]) -> bool:
        """Run `action` after the commit in flight; False (and nothing queued) when there is none."""
        if not self._committing:
            return False
        self._waiting.append(action)
        return True

    def schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._free:  # one system call for all of this turn's free replies
            free, self._free = b"".join(self._free), []
            self._write(free)
        if self._committing:
            return  # _committed() flushes what accumulated
        data, self._out = b"".join(self._out), []
        if self._grouped and self.store.uncommitted():  # type: ignore[attr-defined]
            self._committing = True
            batch = self.store.seal()  # type: ignore[attr-defined]
            if self._commit_time < INLINE_COMMIT_S:  # a fast disk: no thread hand-offs
                done = self.loop.create_future()
                try:
                    self._timed_commit()
                    done.set_result(None)
                except Exception as exc:
                    done.set_exception(exc)
                self._committed(done, data, batch)
                return
            done = self.loop.run_in_executor(self._committer, self._timed_commit)
            done.add_done_callback(lambda f: self._committed(f, data, batch))
            return
        self._write(data)

    def _timed_commit(self) -> None:
        """COMMIT the batch (on the loop or in the worker), keeping a moving average of its cost."""
        started = time.perf_counter()
        try:
            self.store.commit_durable()  # type: ignore[attr-defined]
        finally:
            self._commit_time += 0.2 * (time.perf_counter() - started - self._commit_time)

    def send_committed(self, data: str) -> None:
        """Send, at the end of this turn and without waiting for any commit, what depends on no
        uncommitted write (a search the batch in flight cannot change)."""
        self._free.append(data.encode())
        self.schedule_flush()

    def _committed(self, done: asyncio.Future[None], data: bytes, batch: int) -> None:
        self._committing = False
        if done.exception() is not None:
            log.error("commit failed (%s): the requests of this batch stay unanswered", done.exception())
            self.store.recover()  # type: ignore[attr-defined]
        else:
            self.store.committed(batch)  # type: ignore[attr-defined]
            self._write(data)
        waiting, self._waiting = self._waiting, []
        for action in waiting:
            action()
        if self._out or self.store.uncommitted():  # type: ignore[attr-defined]
            self.schedule_flush()

    def _write(self, data: bytes) -> None:
        if data and self.transport is not None:
            self.transport.write(data)
