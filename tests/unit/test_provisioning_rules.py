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
