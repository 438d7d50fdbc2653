"""Rule decisions: the most forgiving answer of all matching rules, subsets intersected with the request."""

from __future__ import annotations

import pytest

from provisioning.rules import Rule, Subset, decide_friend, decide_subset, normalize_subject, subjects_of
from xmpp_iot.discovery.model import NodeRef
from xmpp_iot.errors import BadRequest

T = "meter@grid.example"
APP = "app@grid.example"


def subjects(requester: str = APP, *certs: str) -> set[str]:
    return subjects_of(requester, certs)


def test_no_rule_is_undecided_and_deny_is_remembered() -> None:
    assert decide_subset([], "read", subjects(), (), ()) is None
    assert decide_friend([], subjects()) is None
    deny = [Rule(T, "*", "read", allow=False)]
    assert decide_subset(deny, "read", subjects(), (), ()) is False
    assert decide_friend(deny, subjects()) is False


def test_subsets_are_united_across_rules_and_intersected_with_the_request() -> None:
    rules = [
        Rule(T, APP, "read", names=("Energy",)),
        Rule(T, "grid.example", "read", names=("Power",)),
        Rule(T, "*", "read", allow=False),
    ]
    assert decide_subset(rules, "read", subjects(), (), ()) == Subset(None, ("Energy", "Power"))
    assert decide_subset(rules, "read", subjects(), (), ("Energy", "Voltage")) == Subset(None, ("Energy",))
    assert decide_subset(rules, "read", subjects(), (), ("Power", "Energy")) == Subset(None, None)  # as asked
    assert decide_subset(rules, "read", subjects(), (), ("Voltage",)) is False
    # an unrestricted rule wins over restricted ones (most forgiving)
    assert decide_subset([*rules, Rule(T, APP, "read")], "read", subjects(), (), ("Voltage",)) == Subset()


def test_nodes_and_certificates() -> None:
    cert = "ab" * 32
    rules = [Rule(T, "cert:" + cert, "control", nodes=(NodeRef("Out2"),))]
    asked = (NodeRef("Out1"), NodeRef("Out2", "src"))
    assert decide_subset(rules, "control", subjects(APP), asked, ()) is None  # no token: undecided
    assert decide_subset(rules, "control", subjects(APP, cert), asked, ()) == Subset(
        (NodeRef("Out2", "src"),), None
    )
    assert decide_subset(rules, "read", subjects(APP, cert), (), ()) is None  # other action


def test_friend_by_any_allowing_rule() -> None:
    assert decide_friend([Rule(T, APP, "control", names=("X",))], subjects()) is True
    assert decide_friend([Rule(T, "other@grid.example", "read")], subjects()) is None


@pytest.mark.parametrize(
    "text,expected",
    [
        ("*", "*"),
        ("App@Grid.Example/res", "app@grid.example"),
        ("grid.example", "grid.example"),
        ("cert:" + "AB" * 32, "cert:" + "ab" * 32),
    ],
)
def test_subjects_are_normalized(text: str, expected: str) -> None:
    assert normalize_subject(text) == expected


@pytest.mark.parametrize("text", ["cert:xyz", "cert:" + "a" * 63, "a@b@c", ""])
def test_bad_subjects(text: str) -> None:
    with pytest.raises(BadRequest):
        normalize_subject(text)


# -- security review: rules are not mixed, and the most specific subject wins ---------------------------
N1, N2 = NodeRef("n1"), NodeRef("n2")


@pytest.mark.parametrize("action", ["read", "control"])
@pytest.mark.parametrize("subject_a,subject_b", [(APP, APP), (APP, "*"), ("grid.example", APP)])
def test_two_rules_never_combine_into_access_neither_gives(action, subject_a, subject_b) -> None:
    """Rule A: node n1, every name. Rule B: name f1, every node. Node n2's `secret` is neither's."""
    rules = [Rule(T, subject_a, action, nodes=(N1,)), Rule(T, subject_b, action, names=("f1",))]
    assert decide_subset(rules, action, subjects(), (N2,), ("secret",)) is False
    assert decide_subset(rules, action, subjects(), (N1,), ("secret",)) == Subset()  # rule A alone
    assert decide_subset(rules, action, subjects(), (N2,), ("f1",)) == Subset()  # rule B alone
    # asked n1+n2 and f1+secret: one rule's part, never the whole request
    answer = decide_subset(rules, action, subjects(), (N1, N2), ("f1", "secret"))
    assert answer in (Subset((N1,), None), Subset(None, ("f1",)))
    # asked everything: never "as asked"
    assert decide_subset(rules, action, subjects(), (), ()) in (Subset((N1,), None), Subset(None, ("f1",)))


def test_rules_on_the_same_nodes_still_add_up() -> None:
    rules = [Rule(T, APP, "read", nodes=(N1,), names=("a",)), Rule(T, "*", "read", nodes=(N1,), names=("b",))]
    assert decide_subset(rules, "read", subjects(), (N1,), ("a", "b")) == Subset()
    assert decide_subset(rules, "read", subjects(), (N1, N2), ("a", "b")) == Subset((N1,), None)
    rules.append(Rule(T, APP, "read", nodes=(N2,), names=("a", "b")))
    assert decide_subset(rules, "read", subjects(), (N1, N2), ("a", "b")) == Subset()


@pytest.mark.parametrize("action", ["read", "control"])
def test_a_specific_deny_beats_a_broader_allow(action) -> None:
    bob = "bob@grid.example"
    for broad in ("grid.example", "*"):
        rules = [Rule(T, broad, action), Rule(T, bob, action, allow=False)]
        assert decide_subset(rules, action, subjects(bob), (), ()) is False
        assert decide_subset(rules, action, subjects(APP), (), ()) == Subset()  # others still get in
    # a domain deny beats *, a JID allow beats a domain deny, and equal specificity is forgiving
    rules = [Rule(T, "*", action), Rule(T, "grid.example", action, allow=False)]
    assert decide_subset(rules, action, subjects(bob), (), ()) is False
    assert decide_subset([*rules, Rule(T, bob, action)], action, subjects(bob), (), ()) == Subset()
    assert decide_subset(
        [Rule(T, bob, action), Rule(T, bob, action, allow=False)], action, subjects(bob), (), ()
    ) == Subset()


def test_a_specific_friend_deny_beats_a_broader_allow() -> None:
    bob = "bob@grid.example"
    rules = [Rule(T, "grid.example", "friend"), Rule(T, bob, "friend", allow=False)]
    assert decide_friend(rules, subjects(bob)) is False
    assert decide_friend(rules, subjects(APP)) is True
