"""The registry's storage interface: the few operations the XEP-0347 rules need.

The service talks only to this Protocol; `SqliteRegistryStore` implements it (and a
PostgreSQL store can, for deployments that outgrow one machine). Every mutating method is
durable when it returns: the service acknowledges a request only after that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from xmpp_iot.discovery.model import Condition, NodeRef, Tag, Thing, format_number
from xmpp_iot.ownership import OwnershipRecord


@dataclass(frozen=True, slots=True)
class PendingNotification:
    """A notification for a thing that was offline; delivered when it comes back."""

    id: int
    jid: str
    kind: str  # "claimed" | "removed" | "disowned"
    node: NodeRef
    owner: str  # for "claimed": the new owner
    public: bool


@dataclass(frozen=True, slots=True)
class StoredThing:
    """A thing with the bookkeeping a store keeps beside it (for warming an index)."""

    thing: Thing
    digest: str
    full_jid: str | None
    updated: float


class RegistryStore(Protocol):
    def get(self, jid: str, node: NodeRef) -> Thing | None: ...

    def find_unclaimed(self, digest: str) -> list[Thing]: ...

    def find_claimed(self, digest: str, owner: str) -> list[Thing]: ...

    def save(self, thing: Thing, full_jid: str | None = None, *, feed: Sequence[str] = ()) -> None:
        """Insert or replace a thing with all its tags.

        `feed`: provisioning peers to queue this ownership change for, in the same transaction
        (see `ownership_outbox`); the same on `set_owner` and `delete`.
        """

    def set_owner(
        self, jid: str, node: NodeRef, owner: str | None, public: bool, *, feed: Sequence[str] = ()
    ) -> None: ...

    def update_tags(self, jid: str, node: NodeRef, tags: list[Tag]) -> None:
        """Set the given tags; an empty string value deletes that string tag (XEP-0347 §3.13)."""

    def delete(self, jid: str, node: NodeRef, *, feed: Sequence[str] = ()) -> bool: ...

    def search(
        self, conditions: list[Condition], requester: str, offset: int, limit: int
    ) -> tuple[list[Thing], bool]: ...

    def last_full_jid(self, jid: str) -> str | None: ...

    def touch(self, jid: str, full_jid: str) -> None:
        """Remember the full JID a thing was last seen at (notifications go there)."""

    def has_pending(self) -> set[str]: ...

    def add_pending(
        self, jid: str, kind: str, node: NodeRef, owner: str = "", public: bool = False
    ) -> None: ...

    def pending_for(self, jid: str) -> list[PendingNotification]: ...

    def drop_pending(self, notification_id: int) -> None: ...

    def count(self) -> int: ...

    def ownership_outbox(self, peer: str, limit: int = 100) -> list[OwnershipRecord]:
        """Ownership changes `peer` has not acknowledged, oldest first."""

    def ownership_peers_waiting(self) -> set[str]: ...

    def ack_ownership(self, peer: str, seq: int) -> None:
        """`peer` acknowledged change `seq` and every earlier one."""

    def ownership_of(self, jid: str, node: NodeRef) -> OwnershipRecord | None: ...

    def all_things(self) -> Iterator[StoredThing]:
        """Every thing in registration order (to fill the in-memory search index at start)."""

    def close(self) -> None: ...


def tag_digest(tags: list[Tag]) -> str:
    """A fingerprint of a tag set, order-insensitive: claims look things up by it.

    Numbers are normalised (1 == 1.0) so that `<num value='1'/>` claims `<num value='1.0'/>`.
    """
    h = hashlib.sha256()
    for tag in sorted(tags, key=lambda t: t.name):
        value = format_number(tag.value) if tag.numeric else tag.value  # type: ignore[arg-type]
        h.update(f"{tag.name}\x00{'n' if tag.numeric else 's'}\x00{value}\x01".encode())
    return h.hexdigest()


_COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def condition_sql(
    c: Condition, alias: str, placeholder: str, mask_operator: str, mask_pattern: Callable[[str, str], str]
) -> tuple[str, list[object]]:
    """SQL for one search condition on the tags table aliased `alias`, with its parameters.

    The SQL stores differ only in the placeholder (`?`, `%s`) and in how strMask is matched
    (SQLite GLOB, PostgreSQL `~`): `mask_pattern(pattern, wildcard)` writes their pattern.
    """
    col = f"{alias}.num_value" if c.numeric else f"{alias}.str_value"
    p = placeholder
    name = f"{alias}.name = {p} AND {col} IS NOT NULL"
    if c.op in _COMPARISONS:
        return f"{name} AND {col} {_COMPARISONS[c.op]} {p}", [c.name, c.value]
    if c.op == "range":
        lo = ">=" if c.min_included else ">"
        hi = "<=" if c.max_included else "<"
        return f"{name} AND {col} {lo} {p} AND {col} {hi} {p}", [c.name, c.min, c.max]
    if c.op == "nrange":
        lo = "<" if c.min_included else "<="
        hi = ">" if c.max_included else ">="
        return f"{name} AND ({col} {lo} {p} OR {col} {hi} {p})", [c.name, c.min, c.max]
    if c.op == "mask":
        return f"{name} AND {col} {mask_operator} {p}", [c.name, mask_pattern(str(c.value), c.wildcard)]
    raise ValueError(f"unknown operator {c.op}")
