"""The registry's search index, in memory: every XEP-0347 operator answered with set algebra.

SQLite answered a two-condition search at 100k things in 1-3 ms, most of the registry's CPU
time under load. Here each tag name has, per value type, a dict value -> thing ids and a
sorted list of its distinct values, so that

* strEq/numEq is one dict lookup;
* the ordered operators (Gt, GtEq, Lt, LtEq, Range, NRange, NEq) are a bisect on the sorted
  values and a union of their id sets;
* strMask scans only the distinct values that start with the pattern's literal prefix;
* conditions are combined by set intersection, smallest first (a numeric range's ids are a
  slice of a sorted list, iterated against the other set rather than made into a set);
* the survivors are walked in id order and visibility (public, or owned by the requester) is
  checked per thing only until the page is full.

Results come in thing-id order, ids growing with every (re-)registration, so paging is stable
as it was with SQLite. The index holds no durable state: `IndexedRegistryStore` fills it
from the durable store at start and changes it only after a write has committed.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass

from xmpp_iot.discovery.model import KEY, Condition, NodeRef, Tag, TagValue, Thing, WildcardMask

ThingKey = tuple[str, str, str, str]  # jid, nodeId, sourceId, cacheType

EMPTY: frozenset[int] = frozenset()
# a condition whose candidates are this many times more than the current ones is checked
# per candidate instead of being materialised and intersected
FILTER_FACTOR = 8


def thing_key(jid: str, node: NodeRef) -> ThingKey:
    return (jid, node.node_id, node.source_id, node.cache_type)


@dataclass(slots=True)
class Entry:
    """One thing as the index keeps it (the durable store has the same, plus history).

    The KEY is kept apart from the other tags: it is never searched and never shown, so it is
    not indexed, and a search result can share `tags` instead of copying it without the KEY.
    """

    jid: str
    node: NodeRef
    tags: dict[str, Tag]  # without KEY
    owner: str | None
    public: bool
    digest: str
    full_jid: str | None
    updated: float
    xml: str | None = None  # the thing as a search result, rendered once (see protocol.thing_xml)
    key: Tag | None = None

    @classmethod
    def of(cls, thing: Thing, digest: str, full_jid: str | None, updated: float) -> Entry:
        tags = dict(thing.tags)
        key = tags.pop(KEY, None)
        return cls(thing.jid, thing.node, tags, thing.owner, thing.public, digest, full_jid, updated, key=key)

    def thing(self) -> Thing:
        """A copy the caller may change, KEY included."""
        tags = dict(self.tags)
        if self.key is not None:
            tags[KEY] = self.key
        return Thing(self.jid, self.node, tags, self.owner, self.public)

    def found(self) -> IndexedThing:
        """A search result: no KEY, and `tags` is the entry's own (read it, never change it);
        it remembers this entry so the protocol can reuse its rendered XML."""
        thing = IndexedThing(self.jid, self.node, self.tags, self.owner, self.public)
        thing.entry = self
        return thing


class IndexedThing(Thing):
    """A search result that knows its index entry (which caches the result's XML)."""

    __slots__ = ("entry",)


class ValueIndex:
    """Thing ids by value for one tag name and one value type (str or float).

    `ids` answers equality; `keys` (the distinct values, sorted) turns an ordered condition
    into a bisect and a union of the matching values' id sets. Keeping only distinct values
    sorted keeps writes cheap: a new value costs one insort, a known one nothing.
    """

    __slots__ = ("count", "ids", "keys")

    def __init__(self) -> None:
        self.ids: dict[TagValue, set[int]] = {}
        self.keys: list[TagValue] = []
        self.count = 0

    def add(self, value: TagValue, thing_id: int, *, ordered: bool = True) -> None:
        bucket = self.ids.get(value)
        if bucket is None:
            bucket = self.ids[value] = set()
            if ordered:
                insort(self.keys, value)
        bucket.add(thing_id)
        self.count += 1

    def discard(self, value: TagValue, thing_id: int) -> None:
        bucket = self.ids.get(value)
        if bucket is None or thing_id not in bucket:
            return
        bucket.remove(thing_id)
        self.count -= 1
        if not bucket:
            del self.ids[value]
            pos = bisect_left(self.keys, value)
            if pos < len(self.keys) and self.keys[pos] == value:  # absent while loading unordered
                del self.keys[pos]

    def sort(self) -> None:
        """Build the sorted distinct values in one go (after adding with ordered=False)."""
        self.keys = sorted(self.ids)

    # -- conditions -------------------------------------------------------------------------
    def span(self, c: Condition) -> list[tuple[int, int]]:
        """The slices of `keys` whose values satisfy an ordered condition."""
        return _span(c, self.keys)

    def estimate(self, c: Condition) -> int:
        """About how many things satisfy `c`: exact for eq, by the share of distinct values otherwise."""
        if c.op == "eq":
            return len(self.ids.get(c.value, EMPTY))
        if not self.keys:
            return 0
        distinct = sum(hi - lo for lo, hi in self.span(c))
        return -(-distinct * self.count // len(self.keys))

    def matching(self, c: Condition) -> set[int] | frozenset[int] | list[int]:
        """The ids of every thing satisfying `c`, each once (do not change the returned set)."""
        if c.op == "eq":
            return self.ids.get(c.value, EMPTY)
        keys, bucket = self.keys, self.ids.__getitem__
        if c.op != "mask":
            return set().union(*(set().union(*map(bucket, keys[lo:hi])) for lo, hi in self.span(c)))
        prefix = _literal_prefix(c)
        if c.wildcard and str(c.value) == prefix + c.wildcard:  # 'SN0012*': the whole prefix range
            return set().union(*map(bucket, keys[slice(*self.span(c)[0])]))
        pattern = WildcardMask(str(c.value), c.wildcard)
        found: set[int] = set()
        for i in range(bisect_left(keys, prefix), len(keys)):
            value = keys[i]
            if not value.startswith(prefix):  # type: ignore[union-attr]
                break
            if pattern.fullmatch(value) is not None:  # type: ignore[arg-type]
                found |= bucket(value)
        return found


class NumericValueIndex(ValueIndex):
    """For numbers, where ranges are the usual question (numRange on LAT, LON, ...): every
    (value, thing id) pair is also kept sorted, as two parallel lists, so a range is a
    bisect and `set(order[lo:hi])`, in C, however many distinct values it spans."""

    __slots__ = ("order", "values")

    def __init__(self) -> None:
        super().__init__()
        self.values: list[TagValue] = []
        self.order: list[int] = []

    def add(self, value: TagValue, thing_id: int, *, ordered: bool = True) -> None:
        super().add(value, thing_id, ordered=ordered)
        if ordered:
            lo, hi = bisect_left(self.values, value), bisect_right(self.values, value)
            pos = bisect_left(self.order, thing_id, lo, hi)
            self.values.insert(pos, value)
            self.order.insert(pos, thing_id)

    def discard(self, value: TagValue, thing_id: int) -> None:
        super().discard(value, thing_id)
        lo, hi = bisect_left(self.values, value), bisect_right(self.values, value)
        pos = bisect_left(self.order, thing_id, lo, hi)
        if pos < hi and self.order[pos] == thing_id:
            del self.values[pos]
            del self.order[pos]

    def sort(self) -> None:
        super().sort()
        pairs = sorted((v, i) for v, bucket in self.ids.items() for i in bucket)
        self.values = [p[0] for p in pairs]
        self.order = [p[1] for p in pairs]

    def estimate(self, c: Condition) -> int:
        if c.op == "eq":
            return len(self.ids.get(c.value, EMPTY))
        return sum(hi - lo for lo, hi in self._pair_span(c))

    def matching(self, c: Condition) -> set[int] | frozenset[int] | list[int]:
        """For a range, the ids as a list: each thing has one value per tag, so each id comes
        once, and intersecting a set with a list skips building a set of the whole range."""
        if c.op == "eq":
            return self.ids.get(c.value, EMPTY)
        spans = self._pair_span(c)
        if len(spans) == 1:
            return self.order[spans[0][0] : spans[0][1]]
        return [i for lo, hi in spans for i in self.order[lo:hi]]

    def _pair_span(self, c: Condition) -> list[tuple[int, int]]:
        return _span(c, self.values)  # the same bisects, on every pair instead of every distinct value


def _span(c: Condition, keys: list[TagValue]) -> list[tuple[int, int]]:
    """The slices of the sorted `keys` whose values satisfy an ordered condition."""
    n = len(keys)
    match c.op:
        case "gt":
            return [(bisect_right(keys, c.value), n)]
        case "gte":
            return [(bisect_left(keys, c.value), n)]
        case "lt":
            return [(0, bisect_left(keys, c.value))]
        case "lte":
            return [(0, bisect_right(keys, c.value))]
        case "neq":
            return [(0, bisect_left(keys, c.value)), (bisect_right(keys, c.value), n)]
        case "range" | "nrange":
            lo = (bisect_left if c.min_included else bisect_right)(keys, c.min)
            hi = max(lo, (bisect_right if c.max_included else bisect_left)(keys, c.max))
            return [(lo, hi)] if c.op == "range" else [(0, lo), (hi, n)]
        case "mask":  # the values that start with the pattern's literal prefix
            prefix = _literal_prefix(c)
            lo = bisect_left(keys, prefix)
            stem = prefix.rstrip("\U0010ffff")
            if not stem:
                return [(lo, n)]
            return [(lo, bisect_left(keys, stem[:-1] + chr(ord(stem[-1]) + 1), lo))]
    raise ValueError(f"unknown operator {c.op}")


def _literal_prefix(c: Condition) -> str:
    pattern = str(c.value)
    return pattern.split(c.wildcard, 1)[0] if c.wildcard else pattern


class ThingIndex:
    """All registered things, searchable with every XEP-0347 operator."""

    def __init__(self) -> None:
        self.entries: dict[int, Entry] = {}
        self.by_key: dict[ThingKey, int] = {}
        self.by_jid: dict[str, set[int]] = {}
        self.by_digest: dict[str, set[int]] = {}
        self.public: set[int] = set()  # claimed and public
        self.owned: dict[str, set[int]] = {}
        self.values: dict[tuple[str, bool], ValueIndex] = {}
        self._next_id = 1
        # Group commit (see group_commit.py): the versions of things changed by writes not yet
        # committed, so a search can tell whether its answer could differ from the committed
        # state. (batch generation, thing id, the thing before the change or None if new)
        self.tracking = False
        self.generation = 0
        self.touched: list[tuple[int, int, Entry | None]] = []

    def __len__(self) -> int:
        return len(self.entries)

    # -- changes ----------------------------------------------------------------------------
    def put(self, entry: Entry, *, ordered: bool = True) -> int:
        """Add a thing, replacing the one with the same address; it gets a new (last) id.

        Loading many at start: put(ordered=False) each, then sort() once.
        """
        key = thing_key(entry.jid, entry.node)
        old = self.by_key.get(key)
        if old is not None:
            self.remove(old)
        thing_id = self._next_id
        self._next_id += 1
        self.entries[thing_id] = entry
        self.by_key[key] = thing_id
        self.by_jid.setdefault(entry.jid, set()).add(thing_id)
        self.by_digest.setdefault(entry.digest, set()).add(thing_id)
        for tag in entry.tags.values():
            self._value_index(tag).add(tag.value, thing_id, ordered=ordered)
        self._add_visibility(thing_id, entry)
        if self.tracking:
            self.touched.append((self.generation, thing_id, None))
        return thing_id

    def sort(self) -> None:
        for index in self.values.values():
            index.sort()

    def remove(self, thing_id: int) -> Entry | None:
        entry = self.entries.pop(thing_id, None)
        if entry is None:
            return None
        del self.by_key[thing_key(entry.jid, entry.node)]
        _discard(self.by_jid, entry.jid, thing_id)
        _discard(self.by_digest, entry.digest, thing_id)
        for tag in entry.tags.values():
            self._value_index(tag).discard(tag.value, thing_id)
        self._drop_visibility(thing_id, entry)
        if self.tracking:
            self.touched.append((self.generation, thing_id, entry))
        return entry

    def set_owner(self, thing_id: int, owner: str | None, public: bool, updated: float) -> None:
        entry = self.entries[thing_id]
        self._remember(thing_id, entry)
        self._drop_visibility(thing_id, entry)
        entry.owner, entry.public, entry.updated, entry.xml = owner, public, updated, None
        self._add_visibility(thing_id, entry)

    def set_tags(self, thing_id: int, tags: Iterable[Tag], digest: str, updated: float) -> None:
        """Replace the named tags; an empty string value deletes that tag (XEP-0347 §3.13)."""
        entry = self.entries[thing_id]
        self._remember(thing_id, entry)
        for tag in tags:
            if tag.name == KEY:
                entry.key = None if not tag.numeric and tag.value == "" else tag
                continue
            old = entry.tags.pop(tag.name, None)
            if old is not None:
                self._value_index(old).discard(old.value, thing_id)
            if tag.numeric or tag.value != "":
                entry.tags[tag.name] = tag
                self._value_index(tag).add(tag.value, thing_id)
        _discard(self.by_digest, entry.digest, thing_id)
        entry.digest, entry.updated, entry.xml = digest, updated, None
        self.by_digest.setdefault(digest, set()).add(thing_id)

    # -- what is not committed yet ---------------------------------------------------------
    def _remember(self, thing_id: int, entry: Entry) -> None:
        if self.tracking:
            before = Entry(entry.jid, entry.node, dict(entry.tags), entry.owner, entry.public, entry.digest,
                           entry.full_jid, entry.updated, key=entry.key)  # fmt: skip
            self.touched.append((self.generation, thing_id, before))

    def seal(self) -> int:
        """The writes so far form a batch that is being committed; later ones belong to the next."""
        self.generation += 1
        return self.generation - 1

    def committed(self, generation: int) -> None:
        """Every batch up to `generation` is durable: its versions need no watching any more."""
        self.touched = [t for t in self.touched if t[0] > generation]

    def affects(self, conditions: list[Condition], requester: str) -> bool:
        """Could uncommitted writes change this search's answer (a thing in, out, or `more`)?

        True when the thing before or after any uncommitted change is visible to the requester
        and matches every condition. A few checks per write in flight, never a scan.
        """
        entries = self.entries
        for _, thing_id, before in self.touched:
            for version in (before, entries.get(thing_id)):
                if version is None or version.owner is None:
                    continue
                if not version.public and version.owner != requester:
                    continue
                tags = version.tags
                for c in conditions:
                    if not c.matches(tags.get(c.name)):
                        break
                else:
                    return True
        return False

    # -- reads ------------------------------------------------------------------------------
    def find(self, jid: str, node: NodeRef) -> int | None:
        return self.by_key.get(thing_key(jid, node))

    def with_digest(self, digest: str) -> list[Entry]:
        return [self.entries[i] for i in sorted(self.by_digest.get(digest, EMPTY))]

    def search(
        self, conditions: list[Condition], requester: str, offset: int, limit: int
    ) -> tuple[list[Entry], bool]:
        """Claimed things that are public or owned by `requester`, matching every condition."""
        plans = []
        for c in conditions:
            index = self.values.get((c.name, c.numeric))
            if index is None:
                return [], False  # nobody has this tag with this type of value
            plans.append((index.estimate(c), c.op != "eq", c, index))
        plans.sort(key=lambda p: (p[0], p[1]))
        first = plans[0]
        candidates: set[int] | frozenset[int] | list[int] = first[3].matching(first[2])
        checks: list[Condition] = []
        for estimate, _, c, index in plans[1:]:
            if not candidates:
                return [], False
            if c.op == "eq" or estimate <= FILTER_FACTOR * len(candidates):
                other = index.matching(c)
                if isinstance(other, list):  # a range: iterate it, probe the set
                    other, candidates = candidates, other
                if isinstance(other, list):  # two ranges
                    other = set(other)
                candidates = other.intersection(candidates)
            else:
                checks.append(c)
        return self._page(candidates, checks, requester, offset, limit)

    def _page(
        self,
        candidates: Iterable[int],
        checks: list[Condition],
        requester: str,
        offset: int,
        limit: int,
    ) -> tuple[list[Entry], bool]:
        """Walk the candidates in id order, keeping the visible ones that pass the per-thing
        checks, until the page (and one more, for `more`) is full: visibility and the checks
        cost a probe per thing walked, not per candidate."""
        public, mine, entries = self.public, self.owned.get(requester, EMPTY), self.entries
        patterns = [WildcardMask(str(c.value), c.wildcard) if c.op == "mask" else None for c in checks]
        wanted = offset + limit + 1
        page: list[int] = []
        for i in sorted(candidates):
            if (i in public or i in mine) and (not checks or self._satisfies(entries[i], checks, patterns)):
                page.append(i)
                if len(page) == wanted:
                    break
        return [entries[i] for i in page[offset : offset + limit]], len(page) == wanted

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _satisfies(entry: Entry, checks: list[Condition], patterns: list[re.Pattern[str] | None]) -> bool:
        for c, pattern in zip(checks, patterns, strict=True):
            tag = entry.tags.get(c.name)
            if pattern is None:
                if not c.matches(tag):
                    return False
            elif tag is None or tag.numeric or pattern.fullmatch(tag.value) is None:  # type: ignore[arg-type]
                return False
        return True

    def _value_index(self, tag: Tag) -> ValueIndex:
        key = (tag.name, tag.numeric)
        index = self.values.get(key)
        if index is None:
            index = self.values[key] = NumericValueIndex() if tag.numeric else ValueIndex()
        return index

    def _add_visibility(self, thing_id: int, entry: Entry) -> None:
        if entry.owner is not None:
            self.owned.setdefault(entry.owner, set()).add(thing_id)
            if entry.public:
                self.public.add(thing_id)

    def _drop_visibility(self, thing_id: int, entry: Entry) -> None:
        if entry.owner is not None:
            _discard(self.owned, entry.owner, thing_id)
        self.public.discard(thing_id)


def _discard(groups: dict[str, set[int]], key: str, thing_id: int) -> None:
    group = groups.get(key)
    if group is not None:
        group.discard(thing_id)
        if not group:
            del groups[key]
