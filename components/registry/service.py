"""The Thing registry's rules (XEP-0347 §3), with no XMPP in them.

Each method takes plain values (bare JIDs, NodeRefs, Tags), changes the store durably and
returns what the protocol layer needs to answer, or raises one of our ProtocolErrors. The
interpretation choices are written down in docs/xep-interpretation.md.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from xmpp_iot.discovery.model import KEY, Condition, NodeRef, Tag, Thing
from xmpp_iot.errors import BadRequest, ItemNotFound, NotAcceptable

from .store import RegistryStore, tag_digest

DEFAULT_MAX_TAGS = 64
DEFAULT_MAX_RESULTS = 100


@dataclass(frozen=True, slots=True)
class Limits:
    """Abuse limits (XEP-0347 §6.9, tag spam) and the cap on one search page."""

    max_tags: int = DEFAULT_MAX_TAGS
    max_results: int = DEFAULT_MAX_RESULTS
    max_conditions: int = 32


@dataclass(frozen=True, slots=True)
class Registered:
    """Outcome of `register`: owner is set when the thing was claimed already."""

    owner: str | None


@dataclass(frozen=True, slots=True)
class Notification:
    """Something the registry must tell a thing (`claimed`, `removed`, `disowned`)."""

    kind: str
    jid: str
    node: NodeRef
    owner: str = ""
    public: bool = False
    address: str | None = None  # the full JID to notify, when the thing's record is already gone


class ThingRegistry:
    """Registration, claims, visibility and search, as the XEP describes them."""

    def __init__(
        self, store: RegistryStore, limits: Limits | None = None, feed_peers: tuple[str, ...] = ()
    ) -> None:
        self.store = store
        self.limits = limits or Limits()
        # provisioning servers told of every ownership change (xmpp_iot.ownership), durably
        # queued by the store in the same transaction as the change
        self.feed_peers = feed_peers

    # -- things ---------------------------------------------------------------------------
    def register(
        self, jid: str, full_jid: str, node: NodeRef, tags: list[Tag], self_owned: bool
    ) -> Registered:
        """Register (or re-register) a thing. A claimed thing is not changed: its owner is returned."""
        self._check_tag_count(tags)
        existing = self.store.get(jid, node)
        if existing is not None and existing.claimed:
            return Registered(existing.owner)
        owner = jid if self_owned else None
        thing = Thing(jid, node, {t.name: t for t in tags}, owner, public=self_owned)
        self.store.save(thing, full_jid)
        return Registered(owner)

    def update(self, sender: str, target: str | None, node: NodeRef, tags: list[Tag]) -> bool:
        """Update meta tags; returns False when the thing is not claimed (it was disowned)."""
        self._check_tag_count(tags)
        jid = target or sender
        thing = self.store.get(jid, node)
        if thing is None:
            raise ItemNotFound("no such thing in the registry")
        if target is not None and target != sender and thing.owner != sender:
            raise ItemNotFound("no such thing among your things")
        if not thing.claimed:
            if target is not None and target != sender:
                raise ItemNotFound("no such thing among your things")
            return False
        merged = dict(thing.tags)
        for tag in tags:
            if not tag.numeric and tag.value == "":
                merged.pop(tag.name, None)
            else:
                merged[tag.name] = tag
        self._check_tag_count(list(merged.values()))
        self.store.update_tags(jid, node, tags)
        return True

    def unregister(self, jid: str, node: NodeRef) -> None:
        """The thing leaves the registry (uninstall); always succeeds."""
        existing = self.store.get(jid, node) if self.feed_peers else None
        feed = self.feed_peers if existing is not None and existing.claimed else ()
        self.store.delete(jid, node, feed=feed)

    # -- owners ---------------------------------------------------------------------------
    def claim(
        self, claimer: str, node: NodeRef, tags: list[Tag], public: bool
    ) -> tuple[Thing, Notification | None]:
        """Claim the unclaimed thing with exactly these tags; idempotent for its owner.

        Failure is always item-not-found, without saying why (XEP-0347 §3.6).
        """
        digest = tag_digest(tags)
        candidates = [t for t in self.store.find_unclaimed(digest) if not node or t.node == node]
        if len(candidates) == 1:
            thing = candidates[0]
            self.store.set_owner(thing.jid, thing.node, claimer, public, feed=self.feed_peers)
            thing.owner, thing.public = claimer, public
            return thing, Notification("claimed", thing.jid, thing.node, claimer, public)
        if not candidates:
            mine = [t for t in self.store.find_claimed(digest, claimer) if not node or t.node == node]
            if len(mine) == 1:
                return mine[0], None
        raise ItemNotFound("no matching unclaimed thing")

    def remove(self, owner: str, jid: str, node: NodeRef) -> Notification:
        """The owner takes its thing out of the registry (no longer searchable)."""
        thing = self._owned(owner, jid, node)
        address = self.store.last_full_jid(thing.jid)
        self.store.delete(thing.jid, thing.node, feed=self.feed_peers)
        return Notification("removed", thing.jid, thing.node, address=address)

    def check_disown(self, owner: str, jid: str, node: NodeRef) -> Thing:
        """Validate a disown request before the thing is asked to acknowledge it."""
        return self._owned(owner, jid, node)

    def disown(self, thing: Thing) -> None:
        """Return a thing to the unclaimed state: tags wiped, an unguessable KEY added."""
        key = Tag(KEY, secrets.token_hex(32))
        self.store.save(
            Thing(thing.jid, thing.node, {KEY: key}, None, False),
            self.store.last_full_jid(thing.jid),
            feed=self.feed_peers,
        )

    # -- applications ---------------------------------------------------------------------
    def search(
        self, requester: str, conditions: list[Condition], offset: int, max_count: int | None
    ) -> tuple[list[Thing], bool]:
        """Public claimed things (and the requester's private ones) matching all conditions."""
        if not conditions:
            raise BadRequest("a search needs at least one operator")
        if len(conditions) > self.limits.max_conditions:
            raise NotAcceptable(f"at most {self.limits.max_conditions} operators per search")
        if max_count is None:
            raise BadRequest("maxCount is required")
        if max_count < 1 or offset < 0:
            raise BadRequest("maxCount must be positive and offset non-negative")
        if any(c.name == KEY for c in conditions):
            return [], False  # KEY is never searchable (XEP-0347 §3.9)
        limit = min(max_count, self.limits.max_results)
        things, more = self.store.search(conditions, requester, offset, limit)
        # never change a result in place: the in-memory index shares its tag dicts (without KEY)
        return [t if KEY not in t.tags else _without_key(t) for t in things], more

    # -- helpers --------------------------------------------------------------------------
    def _owned(self, owner: str, jid: str, node: NodeRef) -> Thing:
        thing = self.store.get(jid, node)
        if thing is None or thing.owner != owner:
            raise ItemNotFound("no such thing among your things")
        return thing

    def _check_tag_count(self, tags: list[Tag]) -> None:
        if len(tags) > self.limits.max_tags:
            raise NotAcceptable(f"at most {self.limits.max_tags} tags per thing")


def _without_key(thing: Thing) -> Thing:
    return Thing(thing.jid, thing.node, {t.name: t for t in thing.public_tags()}, thing.owner, thing.public)
