"""Owner rules and the decisions they give: plain values, no XMPP, no storage.

A rule says that a *subject* may (or may not) be a friend of, read from, or control one thing.
A subject is who the requester proves to be:

* a bare JID (``app@example.org``), a domain (``example.org``) or ``*`` (anyone), matched
  against the requester's JID;
* ``cert:<sha256 hex>``: whoever presents a valid token issued for that certificate.

Several rules can match one request (the requester's JID and each token). Precedence:

1. The most specific subject wins: a deny for a bare JID (or a certificate) beats an allow for
   its domain or ``*``; a domain deny beats a ``*`` allow. Allows less specific than the most
   specific matching deny are ignored.
2. Among the remaining allows the most forgiving answer wins (XEP-0324: several tokens get the
   most forgiving answer), so an allow beats a deny of the same specificity.
3. Each allow rule grants the pairs (node, field) of its own nodes x its own names. Rules are
   never mixed into node-union x name-union: the answer is "as asked" only when one rule (or
   several rules covering the same nodes) covers the whole request, otherwise the largest
   node x name subset that the rules really grant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from slixmpp.jid import JID, InvalidJID

from xmpp_iot.discovery.model import NodeRef
from xmpp_iot.errors import BadRequest

ACTIONS = ("friend", "read", "control")
CERT_PREFIX = "cert:"


@dataclass(frozen=True, slots=True)
class Rule:
    """One owner decision. ``names``: fields (read) or parameters (control); None = all."""

    thing: str
    subject: str
    action: str
    allow: bool = True
    names: tuple[str, ...] | None = None
    nodes: tuple[NodeRef, ...] | None = None
    id: int = 0

    def describe(self) -> str:
        what = "all" if self.names is None else ",".join(self.names)
        verb = "may" if self.allow else "may not"
        return f"#{self.id} {self.subject} {verb} {self.action} {self.thing} ({what})"


@dataclass(frozen=True, slots=True)
class Subset:
    """An allowed answer: None = as asked; a tuple restricts the request to it."""

    nodes: tuple[NodeRef, ...] | None = None
    names: tuple[str, ...] | None = None


def normalize_subject(text: str) -> str:
    """Check and canonicalise a rule subject (BadRequest when it is none of the kinds)."""
    text = text.strip()
    if text == "*":
        return text
    if text.startswith(CERT_PREFIX):
        digest = text[len(CERT_PREFIX) :].lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise BadRequest(f"subject {text!r}: expected cert:<64 hex digits of the SHA-256 thumbprint>")
        return CERT_PREFIX + digest
    return bare_jid(text, "subject")


def bare_jid(text: str, what: str = "jid") -> str:
    try:
        jid = JID(text.strip())
    except InvalidJID:
        raise BadRequest(f"{what}: {text!r} is not a JID") from None
    if not jid.bare:
        raise BadRequest(f"{what}: {text!r} is not a JID")
    return jid.bare


def subjects_of(requester: str, certs: Iterable[str] = ()) -> set[str]:
    """Every subject a requester matches: its bare JID, its domain, anyone, its proven certs."""
    jid = JID(requester)
    return {jid.bare, jid.domain, "*", *(CERT_PREFIX + c for c in certs)}


def matching(rules: Iterable[Rule], action: str, subjects: set[str]) -> tuple[list[Rule], list[Rule]]:
    allow, deny = [], []
    for rule in rules:
        if rule.action == action and rule.subject in subjects:
            (allow if rule.allow else deny).append(rule)
    return allow, deny


def specificity(subject: str) -> int:
    """2: a bare JID or a certificate; 1: a domain; 0: ``*``. The most specific rule wins."""
    if subject == "*":
        return 0
    if "@" in subject or subject.startswith(CERT_PREFIX):
        return 2
    return 1


def _not_overridden(allow: list[Rule], deny: Iterable[Rule]) -> list[Rule]:
    """The allows that no more specific deny overrides."""
    floor = max((specificity(r.subject) for r in deny), default=0)
    return [r for r in allow if specificity(r.subject) >= floor]


def decide_friend(rules: Iterable[Rule], subjects: set[str]) -> bool | None:
    """Friend if a rule allows anything and no more specific friend deny says no; None = ask the owner."""
    matched = [r for r in rules if r.subject in subjects]
    if not matched:
        return None
    allow = [r for r in matched if r.allow]
    deny = [r for r in matched if not r.allow and r.action == "friend"]
    return bool(_not_overridden(allow, deny))


def decide_subset(
    rules: Iterable[Rule], action: str, subjects: set[str], nodes: Sequence[NodeRef], names: Sequence[str]
) -> Subset | bool | None:
    """Subset allowed for a read/control request; False = refused; None = undecided."""
    allow, deny = matching(rules, action, subjects)
    if not allow:
        return False if deny else None
    grants = []  # (nodes, names) each rule grants of the request; None = all asked (or all)
    for rule in _not_overridden(allow, deny):
        node_part, name_part = _restrict(nodes, rule.nodes), _restrict(names, rule.names)
        if node_part != () and name_part != ():
            grants.append((node_part, name_part))
    if not grants:
        return False
    best = max(_combinations(grants, nodes, names), key=lambda g: _size(g[0], nodes) * _size(g[1], names))
    return Subset(*best)


def _restrict(asked: Sequence, allowed: tuple | None) -> tuple | None:
    """What one rule grants of what was asked; None = as asked (or everything when nothing was)."""
    if allowed is None:
        return None
    if not asked:
        return tuple(allowed)
    kept = tuple(item for item in asked if _contains(allowed, item))
    return None if len(kept) == len(asked) else kept


def _combinations(grants: list[tuple], nodes: Sequence, names: Sequence) -> list[tuple]:
    """Every grant, widened only where that stays true pair by pair.

    A node set gets the names of every grant covering all its nodes; then a name set gets the
    nodes of every widened grant covering all its names. Each result is a node x name product
    inside the union of the rules' own products, never the product of the unions.
    """
    widened = []
    for node_part, _ in grants:
        covering = [n for p, n in grants if _covers(p, node_part)]
        widened.append((node_part, _union(covering, names)))
    result = []
    for _, name_part in widened:
        covering = [p for p, n in widened if _covers(n, name_part)]
        result.append((_union(covering, nodes), name_part))
    return widened + result


def _covers(wide: tuple | None, narrow: tuple | None) -> bool:
    if wide is None:
        return True
    return narrow is not None and all(_contains(wide, item) for item in narrow)


def _union(parts: list[tuple | None], asked: Sequence) -> tuple | None:
    if any(p is None for p in parts):
        return None
    union: list = []
    for part in parts:
        union.extend(item for item in part or () if item not in union)
    if asked:
        kept = tuple(item for item in asked if _contains(union, item))
        return None if len(kept) == len(asked) else kept
    return tuple(union)


def _size(part: tuple | None, asked: Sequence) -> int:
    if part is None:
        return len(asked) if asked else 1_000_000
    return len(part)


def _contains(allowed: Sequence, item: object) -> bool:
    if isinstance(item, NodeRef):  # a rule naming only nodeId covers every source/cache type
        return any(a == item or (a.node_id == item.node_id and not a.source_id) for a in allowed)
    return item in allowed
