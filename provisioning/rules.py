"""Owner rules and the decisions they give: plain values, no XMPP, no storage.

A rule says that a *subject* may (or may not) be a friend of, read from, or control one thing.
A subject is who the requester proves to be:

* a bare JID (``app@example.org``), a domain (``example.org``) or ``*`` (anyone), matched
  against the requester's JID;
* ``cert:<sha256 hex>``: whoever presents a valid token issued for that certificate.

Several rules can match one request (the requester's JID and each token): as XEP-0324 asks,
the most forgiving answer wins, so allowed subsets are united. A deny rule only says "the
owner has answered no", so the owner is not asked again.
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


def decide_friend(rules: Iterable[Rule], subjects: set[str]) -> bool | None:
    """Friend if any rule allows anything; None = nobody decided yet (ask the owner)."""
    allowed = [r for r in rules if r.subject in subjects]
    if any(r.allow for r in allowed):
        return True
    return False if allowed else None


def decide_subset(
    rules: Iterable[Rule], action: str, subjects: set[str], nodes: Sequence[NodeRef], names: Sequence[str]
) -> Subset | bool | None:
    """Subset allowed for a read/control request; False = refused; None = undecided."""
    allow, deny = matching(rules, action, subjects)
    if not allow:
        return False if deny else None
    node_subset = _restrict(nodes, [r.nodes for r in allow])
    name_subset = _restrict(names, [r.names for r in allow])
    if node_subset == () or name_subset == ():
        return False
    return Subset(node_subset, name_subset)


def _restrict(asked: Sequence, allowed_lists: list[tuple | None]) -> tuple | None:
    """Intersect what was asked with the union of what the rules allow; None = as asked."""
    if any(a is None for a in allowed_lists):
        return None
    union: list = []
    for lst in allowed_lists:
        for item in lst or ():
            if item not in union:
                union.append(item)
    if not asked:
        return tuple(union)
    kept = tuple(item for item in asked if _contains(union, item))
    return None if len(kept) == len(asked) else kept


def _contains(allowed: list, item: object) -> bool:
    if isinstance(item, NodeRef):  # a rule naming only nodeId covers every source/cache type
        return any(a == item or (a.node_id == item.node_id and not a.source_id) for a in allowed)
    return item in allowed
