"""XEP-0347 model rules: tag validation, IoTDisco strings, search semantics."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmpp_iot.discovery.model import (
    Tag,
    WildcardMask,
    canonical_tag_name,
    decode_iotdisco,
    encode_iotdisco,
    in_range,
    mask,
    num_tag,
    str_tag,
)
from xmpp_iot.errors import BadRequest, NotAcceptable


def test_tag_names_are_case_insensitive_and_limited():
    assert canonical_tag_name("Sn") == "SN"
    with pytest.raises(NotAcceptable):
        canonical_tag_name("X" * 33)
    for bad in ("A:B", "A#B", "A B", "A\tB"):
        with pytest.raises(NotAcceptable):
            canonical_tag_name(bad)
    with pytest.raises(NotAcceptable):
        str_tag("A", "v" * 129)
    with pytest.raises(BadRequest):
        num_tag("A", "abc")
    with pytest.raises(BadRequest):
        num_tag("A", "inf")


def test_iotdisco_example_from_the_xep():
    tags = decode_iotdisco(
        "IoTDisco;SN:394872348732948723;MAN:www.ktc.se;MODEL:IMC;#V:1.2;KEY:4857402340298342"
    )
    assert tags == [
        Tag("SN", "394872348732948723"),
        Tag("MAN", "www.ktc.se"),
        Tag("MODEL", "IMC"),
        Tag("V", 1.2),
        Tag("KEY", "4857402340298342"),
    ]
    assert (
        encode_iotdisco(tags)
        == "IoTDisco;SN:394872348732948723;MAN:www.ktc.se;MODEL:IMC;#V:1.2;KEY:4857402340298342"
    )


names = st.from_regex(r"[A-Z][A-Z0-9_]{0,15}", fullmatch=True)
str_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
num_values = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(st.dictionaries(names, st.one_of(str_values, num_values), min_size=1, max_size=8))
def test_iotdisco_round_trip(tag_values):
    tags = [num_tag(n, v) if isinstance(v, float) else str_tag(n, v) for n, v in tag_values.items()]
    assert decode_iotdisco(encode_iotdisco(tags)) == tags


def test_nrange_inclusion_flags_invert():
    """strNRange: minIncluded=true puts min inside the excluded range, so min itself does not match."""
    c = in_range("V", 1.0, 3.0, negate=True)
    assert [c.matches(Tag("V", v)) for v in (0.5, 1.0, 2.0, 3.0, 3.5)] == [True, False, False, False, True]
    c = in_range("V", 1.0, 3.0, low_included=False, high_included=False, negate=True)
    assert [c.matches(Tag("V", v)) for v in (0.5, 1.0, 2.0, 3.0, 3.5)] == [True, True, False, True, True]


def test_mask_wildcard_is_configurable_and_other_characters_are_literal():
    assert mask("SN", "394*", "*").matches(Tag("SN", "39487"))
    assert not mask("SN", "394*", "%").matches(Tag("SN", "39487"))
    assert mask("SN", "a.c%", "%").matches(Tag("SN", "a.cdef"))
    assert not mask("SN", "a.c%", "%").matches(Tag("SN", "abcdef"))
    assert not mask("SN", "x*", "*").matches(Tag("SN", 1.0))  # type mismatch never matches


@given(
    st.text(alphabet="ab*", max_size=12),
    st.text(alphabet="ab", max_size=16),
)
def test_mask_matches_exactly_what_the_glob_regular_expression_matches(pattern: str, value: str) -> None:
    reference = re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.DOTALL)
    assert bool(WildcardMask(pattern, "*").fullmatch(value)) == (reference.fullmatch(value) is not None)


@pytest.mark.timeout(10)
def test_a_mask_built_to_backtrack_does_not_hang_the_registry() -> None:
    """`*a*a*a*a*a*a*a*b` against 200 a's runs for hours with a backtracking regular expression."""
    assert WildcardMask("*a*a*a*a*a*a*a*b", "*").fullmatch("a" * 200) is None
    assert WildcardMask("*a*a*a*a*a*a*a*b", "*").fullmatch("a" * 200 + "b")
