"""A durable registry store with an in-memory index in front: reads from memory, writes through.

Every write goes to the durable store first (SQLite or PostgreSQL, committed when the call
returns) and only then to the index, so the index never shows anything that is not durable
and a failed write leaves both unchanged. Reads (search, get, claim look-ups) never touch
the database. At start the index is filled from the durable store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from xmpp_iot.discovery.model import Condition, NodeRef, Tag, Thing

from .memory_index import Entry, ThingIndex
from .store import PendingNotification, RegistryStore, StoredThing, tag_digest

log = logging.getLogger(__name__)


class IndexedRegistryStore:
    """`RegistryStore` over another one, answering reads from a `ThingIndex`."""

    def __init__(self, durable: RegistryStore) -> None:
        self.durable = durable
        self.index = ThingIndex()
        # The COMMIT of a batch runs in a worker thread; SQLite refuses it while a statement of
        # this thread is in progress, so every use of the durable store holds this lock.
        self.lock = threading.RLock()
        self.on_write: Callable[[], None] = _nothing  # the component schedules its group commit here
        started = time.perf_counter()
        self._load()
        log.info("search index: %d things loaded in %.1f s", len(self.index), time.perf_counter() - started)

    @property
    def group_commit(self) -> bool:
        return getattr(self.durable, "group_commit", False)

    @group_commit.setter
    def group_commit(self, on: bool) -> None:
        self.durable.group_commit = on  # type: ignore[attr-defined]
        self.index.tracking = on

    def seal(self) -> int:
        return self.index.seal()

    def committed(self, generation: int) -> None:
        self.index.committed(generation)

    def affects(self, conditions: list[Condition], requester: str) -> bool:
        """Whether a search's answer may depend on writes that are not committed yet."""
        return bool(self.index.touched) and self.index.affects(conditions, requester)

    def uncommitted(self) -> bool:
        return self.durable.uncommitted()  # type: ignore[attr-defined]

    def commit_durable(self) -> None:
        """COMMIT the batch; safe to run in a worker thread (it touches no memory state)."""
        with self.lock:
            self.durable.commit()  # type: ignore[attr-defined]

    def recover(self) -> None:
        """After a failed commit: drop the batch and rebuild the index from what is durable."""
        log.error("dropping the uncommitted writes and reloading the search index")
        with self.lock:
            self.durable.rollback()  # type: ignore[attr-defined]
        self._load()

    def commit(self) -> None:
        try:
            self.commit_durable()
        except Exception:
            self.recover()
            raise

    def __getattr__(self, name: str):
        """Everything the index does not cover (the ownership feed), under the lock."""
        target = getattr(self.durable, name)
        if not callable(target):
            return target

        def locked(*args, **kw):
            with self.lock:
                return target(*args, **kw)

        return locked

    # -- reads ----------------------------------------------------------------------------
    def get(self, jid: str, node: NodeRef) -> Thing | None:
        thing_id = self.index.find(jid, node)
        return None if thing_id is None else self.index.entries[thing_id].thing()

    def find_unclaimed(self, digest: str) -> list[Thing]:
        return [e.thing() for e in self.index.with_digest(digest) if e.owner is None]

    def find_claimed(self, digest: str, owner: str) -> list[Thing]:
        return [e.thing() for e in self.index.with_digest(digest) if e.owner == owner]

    def search(
        self, conditions: list[Condition], requester: str, offset: int, limit: int
    ) -> tuple[list[Thing], bool]:
        """Results share the index's tag dicts: read them, never change them."""
        entries, more = self.index.search(conditions, requester, offset, limit)
        return [e.found() for e in entries], more

    def last_full_jid(self, jid: str) -> str | None:
        seen = [e for i in self.index.by_jid.get(jid, ()) if (e := self.index.entries[i]).full_jid]
        return max(seen, key=lambda e: e.updated).full_jid if seen else None

    def count(self) -> int:
        return len(self.index)

    def all_things(self) -> Iterator[StoredThing]:
        for e in list(self.index.entries.values()):
            yield StoredThing(e.thing(), e.digest, e.full_jid, e.updated)

    def pending_for(self, jid: str) -> list[PendingNotification]:
        with self.lock:
            return self.durable.pending_for(jid)

    def has_pending(self) -> set[str]:
        with self.lock:
            return self.durable.has_pending()

    # -- writes: durable first, then the index ---------------------------------------------
    def save(self, thing: Thing, full_jid: str | None = None, **kw) -> None:
        with self.lock:
            self.durable.save(thing, full_jid, **kw)
        self.on_write()
        self._put(thing, tag_digest(list(thing.tags.values())), full_jid, time.time())

    def set_owner(self, jid: str, node: NodeRef, owner: str | None, public: bool, **kw) -> None:
        with self.lock:
            self.durable.set_owner(jid, node, owner, public, **kw)
        self.on_write()
        thing_id = self.index.find(jid, node)
        if thing_id is not None:
            self.index.set_owner(thing_id, owner, public, time.time())

    def update_tags(self, jid: str, node: NodeRef, tags: list[Tag]) -> None:
        with self.lock:
            self.durable.update_tags(jid, node, tags)
        self.on_write()
        thing_id = self.index.find(jid, node)
        if thing_id is None:
            return
        merged = self.index.entries[thing_id].thing().tags
        for tag in tags:
            if not tag.numeric and tag.value == "":
                merged.pop(tag.name, None)
            else:
                merged[tag.name] = tag
        self.index.set_tags(thing_id, tags, tag_digest(list(merged.values())), time.time())

    def delete(self, jid: str, node: NodeRef, **kw) -> bool:
        with self.lock:
            deleted = self.durable.delete(jid, node, **kw)
        self.on_write()
        thing_id = self.index.find(jid, node)
        if thing_id is not None:
            self.index.remove(thing_id)
        return deleted

    def touch(self, jid: str, full_jid: str) -> None:
        with self.lock:
            self.durable.touch(jid, full_jid)
        self.on_write()
        for thing_id in self.index.by_jid.get(jid, ()):
            self.index.entries[thing_id].full_jid = full_jid

    def add_pending(self, jid: str, kind: str, node: NodeRef, owner: str = "", public: bool = False) -> None:
        with self.lock:
            self.durable.add_pending(jid, kind, node, owner, public)
        self.on_write()

    def drop_pending(self, notification_id: int) -> None:
        with self.lock:
            self.durable.drop_pending(notification_id)
        self.on_write()

    def ack_ownership(self, peer: str, seq: int) -> None:
        with self.lock:
            self.durable.ack_ownership(peer, seq)  # type: ignore[attr-defined]
        self.on_write()

    def bulk_load(self, things: Iterable[Thing]) -> int:
        things = list(things)
        with self.lock:
            count = self.durable.bulk_load(things)
        now = time.time()
        for thing in things:
            self._put(thing, tag_digest(list(thing.tags.values())), None, now)
        return count

    def close(self) -> None:
        with self.lock:
            self.durable.close()

    # -- helpers --------------------------------------------------------------------------
    def _load(self) -> None:
        self.index = ThingIndex()
        with self.lock:
            for stored in self.durable.all_things():
                self._put(stored.thing, stored.digest, stored.full_jid, stored.updated, ordered=False)
        self.index.sort()
        self.index.tracking = self.group_commit

    def _put(
        self, thing: Thing, digest: str, full_jid: str | None, updated: float, *, ordered: bool = True
    ) -> None:
        self.index.put(Entry.of(thing, digest, full_jid, updated), ordered=ordered)


def _nothing() -> None:
    pass
