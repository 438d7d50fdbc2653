"""XEP-0347 data model without XMPP: meta tags, thing addresses, search conditions, IoTDisco URIs.

Rules from XEP-0347 §3 and §6.2 enforced here, once, for client and registry alike:
tag names are case-insensitive (we keep them upper-case), at most 32 characters, without
colon, hash sign or white space; string values at most 128 characters; KEY is never
searchable and never returned.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from ..errors import BadRequest, NotAcceptable

NS = "urn:xmpp:iot:discovery"
KEY = "KEY"
MAX_TAG_NAME_LENGTH = 32
MAX_STR_VALUE_LENGTH = 128

_BAD_NAME = re.compile(r"[:#\s]")

TagValue = str | float


@dataclass(frozen=True, slots=True)
class Tag:
    """One meta tag. A float value makes it a numeric tag (`<num/>`), a str a string tag (`<str/>`)."""

    name: str
    value: TagValue

    @property
    def numeric(self) -> bool:
        return isinstance(self.value, float)


def str_tag(name: str, value: str) -> Tag:
    """A validated string tag."""
    name = canonical_tag_name(name)
    if not isinstance(value, str):
        raise BadRequest(f"tag {name}: string value expected")
    if len(value) > MAX_STR_VALUE_LENGTH:
        raise NotAcceptable(f"tag {name}: string values are limited to {MAX_STR_VALUE_LENGTH} characters")
    return Tag(name, value)


def num_tag(name: str, value: float | int | str) -> Tag:
    """A validated numeric tag; accepts the xs:double lexical form."""
    name = canonical_tag_name(name)
    number = parse_double(value, f"tag {name}")
    return Tag(name, number)


def canonical_tag_name(name: str) -> str:
    """Validate a tag name and return its canonical (upper-case) spelling."""
    if not name:
        raise BadRequest("a tag needs a name")
    if len(name) > MAX_TAG_NAME_LENGTH:
        raise NotAcceptable(f"tag name {name[:40]!r}: at most {MAX_TAG_NAME_LENGTH} characters")
    if _BAD_NAME.search(name):
        raise NotAcceptable(f"tag name {name!r}: colon, hash sign and white space are not allowed")
    return name.upper()


def parse_double(value: float | int | str, what: str) -> float:
    """Parse an xs:double; NaN and infinities are refused because they cannot be compared."""
    if isinstance(value, bool):
        raise BadRequest(f"{what}: number expected")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{what}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise BadRequest(f"{what}: {value!r} is not a finite number")
    return number


def format_number(value: float) -> str:
    """xs:double text without a needless '.0' (1.0 -> '1', 1.25 -> '1.25')."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


@dataclass(frozen=True, slots=True)
class NodeRef:
    """Which thing behind a concentrator (XEP-0326): empty strings for a thing that is its JID."""

    node_id: str = ""
    source_id: str = ""
    cache_type: str = ""

    def __bool__(self) -> bool:
        return bool(self.node_id or self.source_id or self.cache_type)

    def attributes(self) -> dict[str, str]:
        """The XML attributes to write (only the non-empty ones, as the XEP asks)."""
        attrs = {}
        if self.node_id:
            attrs["nodeId"] = self.node_id
        if self.source_id:
            attrs["sourceId"] = self.source_id
        if self.cache_type:
            attrs["cacheType"] = self.cache_type
        return attrs


ThingState = Literal["unclaimed", "claimed"]


@dataclass(slots=True)
class Thing:
    """A registered thing as the registry knows it."""

    jid: str
    node: NodeRef = field(default_factory=NodeRef)
    tags: dict[str, Tag] = field(default_factory=dict)
    owner: str | None = None
    public: bool = False

    @property
    def claimed(self) -> bool:
        return self.owner is not None

    def public_tags(self) -> list[Tag]:
        """Tags that may be shown to others: everything except KEY."""
        return [t for n, t in self.tags.items() if n != KEY]


Operator = Literal["eq", "neq", "gt", "gte", "lt", "lte", "range", "nrange", "mask"]

# element name -> (operator, numeric)
OPERATOR_ELEMENTS: dict[str, tuple[Operator, bool]] = {
    f"{kind}{suffix}": (op, kind == "num")
    for kind in ("str", "num")
    for suffix, op in (
        ("Eq", "eq"),
        ("NEq", "neq"),
        ("Gt", "gt"),
        ("GtEq", "gte"),
        ("Lt", "lt"),
        ("LtEq", "lte"),
        ("Range", "range"),
        ("NRange", "nrange"),
        ("Mask", "mask"),
    )
    if not (kind == "num" and op == "mask")
}
ELEMENT_FOR_OPERATOR = {v: k for k, v in OPERATOR_ELEMENTS.items()}


@dataclass(frozen=True, slots=True)
class Condition:
    """One search operator of XEP-0347 §3.9; a search is the AND of its conditions."""

    op: Operator
    name: str
    numeric: bool
    value: TagValue | None = None
    min: TagValue | None = None
    max: TagValue | None = None
    min_included: bool = True
    max_included: bool = True
    wildcard: str = "*"

    @property
    def element(self) -> str:
        return ELEMENT_FOR_OPERATOR[(self.op, self.numeric)]

    def matches(self, tag: Tag | None) -> bool:
        """Reference semantics (used by tests and small in-memory registries)."""
        if tag is None or tag.numeric != self.numeric:
            return False
        v = tag.value
        match self.op:
            case "eq":
                return v == self.value
            case "neq":
                return v != self.value
            case "gt":
                return v > self.value  # type: ignore[operator]
            case "gte":
                return v >= self.value  # type: ignore[operator]
            case "lt":
                return v < self.value  # type: ignore[operator]
            case "lte":
                return v <= self.value  # type: ignore[operator]
            case "range":
                return self._in_range(v)
            case "nrange":
                return not self._in_range(v)
            case "mask":
                return bool(WildcardMask(str(self.value), self.wildcard).fullmatch(str(v)))
        return False

    def _in_range(self, v: TagValue) -> bool:
        low = v > self.min or (self.min_included and v == self.min)  # type: ignore[operator]
        high = v < self.max or (self.max_included and v == self.max)  # type: ignore[operator]
        return low and high


class WildcardMask:
    """strMask matching in linear time: the wildcard matches any run of characters.

    A regular expression with one ``.*`` per wildcard backtracks exponentially on patterns
    such as ``*a*a*a*a*b``; one such search would stall the registry. With only one kind of
    wildcard, matching the parts leftmost-first in order is exact and needs no backtracking.
    """

    __slots__ = ("_first", "_last", "_middle", "_parts")

    def __init__(self, pattern: str, wildcard: str) -> None:
        self._parts = pattern.split(wildcard) if wildcard else [pattern]
        self._first, self._last = self._parts[0], self._parts[-1]
        self._middle = [p for p in self._parts[1:-1] if p]

    def fullmatch(self, text: str) -> bool | None:
        """True on a match, None otherwise (the contract of ``re.Pattern.fullmatch``)."""
        return True if self._matches(text) else None

    def _matches(self, text: str) -> bool:
        if len(self._parts) == 1:
            return text == self._first
        first, last = self._first, self._last
        if len(text) < len(first) + len(last) or not text.startswith(first) or not text.endswith(last):
            return False
        pos, end = len(first), len(text) - len(last)
        for part in self._middle:
            found = text.find(part, pos, end)
            if found < 0:
                return False
            pos = found + len(part)
        return True


def eq(name: str, value: TagValue) -> Condition:
    """strEq / numEq, by the type of `value`."""
    numeric = not isinstance(value, str)
    return Condition("eq", canonical_tag_name(name), numeric, float(value) if numeric else value)


def compare(op: Operator, name: str, value: TagValue) -> Condition:
    """strNEq/strGt/... or numNEq/numGt/..., by the type of `value`."""
    numeric = not isinstance(value, str)
    return Condition(op, canonical_tag_name(name), numeric, float(value) if numeric else value)


def in_range(
    name: str,
    low: TagValue,
    high: TagValue,
    *,
    low_included: bool = True,
    high_included: bool = True,
    negate: bool = False,
) -> Condition:
    """strRange/numRange (or the NRange forms with negate=True)."""
    numeric = not isinstance(low, str)
    conv = float if numeric else str
    return Condition(
        "nrange" if negate else "range", canonical_tag_name(name), numeric, None,
        conv(low), conv(high), low_included, high_included,
    )  # fmt: skip


def mask(name: str, pattern: str, wildcard: str = "*") -> Condition:
    """strMask: `pattern` with `wildcard` standing for any run of characters."""
    return Condition("mask", canonical_tag_name(name), False, pattern, wildcard=wildcard)


# -- IoTDisco strings (XEP-0347 §3.6, the text of the QR code) ---------------------------------
IOTDISCO_PREFIX = "IoTDisco"


def encode_iotdisco(tags: list[Tag]) -> str:
    """The IoTDisco string an owner scans to claim a thing: `IoTDisco;SN:123;#V:1.2;KEY:...`."""
    parts = [IOTDISCO_PREFIX]
    for tag in tags:
        value = format_number(tag.value) if tag.numeric else str(tag.value)
        value = value.replace("\\", "\\\\").replace(";", "\\;")
        parts.append(f"{'#' if tag.numeric else ''}{tag.name}:{value}")
    return ";".join(parts)


def decode_iotdisco(text: str) -> list[Tag]:
    """Parse an IoTDisco string back into tags; raises BadRequest when it is not one."""
    if not text.startswith(IOTDISCO_PREFIX):
        raise BadRequest("not an IoTDisco string")
    body = text[len(IOTDISCO_PREFIX) :]
    fields: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            current.append(body[i + 1])
            i += 2
            continue
        if ch == ";":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    fields.append("".join(current))
    if fields and fields[0] == "":
        fields = fields[1:]
    tags = []
    for item in fields:
        name, sep, value = item.partition(":")
        if not sep:
            raise BadRequest(f"IoTDisco field {item!r} has no ':'")
        tags.append(num_tag(name[1:], value) if name.startswith("#") else str_tag(name, value))
    return tags
