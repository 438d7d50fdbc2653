"""Bad input gets the right stanza error, never a crash or a change to stored data."""

from __future__ import annotations

import pytest

from tests.helpers import error_of, send_raw
from xmpp_iot.discovery import KEY, NS, eq, str_tag
from xmpp_iot.errors import BadRequest, FeatureNotImplemented, Forbidden, ItemNotFound, NotAcceptable

pytestmark = pytest.mark.integration


@pytest.fixture
async def setup(registry_process, make_client):
    """A claimed public thing, its owner, and a stranger."""
    thing = await make_client("thing")
    await thing.discovery.find_registry()
    tags = [str_tag("SN", thing.jid.user), str_tag("CLASS", "PV"), str_tag(KEY, "key-" + thing.jid.user)]
    await thing.discovery.register(tags)
    owner = await make_client("owner")
    await owner.discovery.find_registry()
    await owner.discovery.claim(tags)
    stranger = await make_client("stranger")
    await stranger.discovery.find_registry()
    return registry_process.jid, thing, owner, stranger, tags


async def assert_unchanged(stranger, thing, owner):
    (found,) = (await stranger.discovery.search([eq("SN", thing.jid.user)])).things
    assert found.owner == owner.jid.bare
    assert found.tags["CLASS"].value == "PV"


RAW_CASES = [
    # (payload, iq type, expected error)
    (f"<frobnicate xmlns='{NS}'/>", "set", FeatureNotImplemented),  # unknown element
    ("<register xmlns='urn:xmpp:iot:discovery:WRONG'/>", "set", FeatureNotImplemented),  # wrong namespace
    (f"<register xmlns='{NS}'/>", "get", FeatureNotImplemented),  # wrong IQ type
    (f"<register xmlns='{NS}'><str value='x'/></register>", "set", BadRequest),  # missing name
    (f"<register xmlns='{NS}'><str name='SN'/></register>", "set", BadRequest),  # missing value
    (f"<register xmlns='{NS}'><num name='V' value='high'/></register>", "set", BadRequest),
    (f"<register xmlns='{NS}'><num name='V' value='NaN'/></register>", "set", BadRequest),
    (f"<register xmlns='{NS}'><blob name='V' value='1'/></register>", "set", BadRequest),
    (f"<register xmlns='{NS}' selfOwned='maybe'><str name='A' value='1'/></register>", "set", BadRequest),
    (f"<register xmlns='{NS}'><str name='{'N' * 33}' value='1'/></register>", "set", NotAcceptable),
    (f"<register xmlns='{NS}'><str name='A:B' value='1'/></register>", "set", NotAcceptable),
    (f"<register xmlns='{NS}'><str name='A' value='{'v' * 129}'/></register>", "set", NotAcceptable),
    (
        f"<register xmlns='{NS}'><str name='A' value='1'/><str name='a' value='2'/></register>",
        "set",
        BadRequest,
    ),
    (f"<search xmlns='{NS}'><strEq name='CLASS' value='PV'/></search>", "get", BadRequest),  # no maxCount
    (f"<search xmlns='{NS}' maxCount='0'><strEq name='CLASS' value='PV'/></search>", "get", BadRequest),
    (f"<search xmlns='{NS}' maxCount='ten'><strEq name='CLASS' value='PV'/></search>", "get", BadRequest),
    (f"<search xmlns='{NS}' maxCount='5'/>", "get", BadRequest),  # no operator
    (f"<search xmlns='{NS}' maxCount='5'><strFoo name='CLASS' value='PV'/></search>", "get", BadRequest),
    (f"<search xmlns='{NS}' maxCount='5'><numRange name='V' min='1'/></search>", "get", BadRequest),
    (f"<search xmlns='{NS}' maxCount='5'><strMask name='V' value='a*'/></search>", "get", BadRequest),
    (f"<remove xmlns='{NS}'/>", "set", BadRequest),  # missing jid
    (f"<disown xmlns='{NS}' jid='not a jid@@'/>", "set", BadRequest),
    (
        f"<claimed xmlns='{NS}' jid='me@localhost'/>",
        "set",
        FeatureNotImplemented,
    ),  # only the registry sends it
]


@pytest.mark.parametrize(("payload", "itype", "expected"), RAW_CASES)
async def test_malformed_requests_get_stanza_errors(setup, payload, itype, expected):
    registry, thing, owner, stranger, _ = setup
    err = await error_of(send_raw(stranger, registry, payload, itype))
    assert isinstance(err, expected), (payload, err)
    await assert_unchanged(stranger, thing, owner)


async def test_oversized_tag_set_is_refused(setup):
    registry, thing, owner, stranger, _ = setup
    tags = "".join(f"<str name='T{i}' value='{i}'/>" for i in range(65))
    err = await error_of(send_raw(stranger, registry, f"<register xmlns='{NS}'>{tags}</register>"))
    assert isinstance(err, NotAcceptable)
    owner_err = await error_of(
        send_raw(owner, registry, f"<update xmlns='{NS}' jid='{thing.jid.bare}'>{tags}</update>")
    )
    assert isinstance(owner_err, NotAcceptable)
    await assert_unchanged(stranger, thing, owner)


async def test_claim_with_wrong_key_changes_nothing(setup):
    _, thing, owner, stranger, tags = setup
    forged = [t if t.name != KEY else str_tag(KEY, "wrong") for t in tags]
    assert isinstance(await error_of(stranger.discovery.claim(forged)), ItemNotFound)
    assert isinstance(await error_of(stranger.discovery.claim(tags)), ItemNotFound)  # owned by another
    await assert_unchanged(stranger, thing, owner)


async def test_non_owner_cannot_remove_disown_or_update(setup):
    _, thing, owner, stranger, _ = setup
    assert isinstance(await error_of(stranger.discovery.remove(thing.jid.bare)), ItemNotFound)
    assert isinstance(await error_of(stranger.discovery.disown(thing.jid.bare)), ItemNotFound)
    err = await error_of(stranger.discovery.update([str_tag("CLASS", "Hacked")], jid=thing.jid.bare))
    assert isinstance(err, ItemNotFound)
    assert isinstance(await error_of(stranger.discovery.remove("nobody@localhost")), ItemNotFound)
    await assert_unchanged(stranger, thing, owner)


async def test_thing_refuses_ownership_notifications_from_anyone_but_its_registry(setup):
    _registry, thing, owner, stranger, _ = setup
    err = await error_of(send_raw(stranger, thing.jid.full, f"<disowned xmlns='{NS}'/>"))
    assert isinstance(err, Forbidden)
    err = await error_of(
        send_raw(stranger, thing.jid.full, f"<claimed xmlns='{NS}' jid='{stranger.jid.bare}'/>")
    )
    assert isinstance(err, Forbidden)
    await assert_unchanged(stranger, thing, owner)


async def test_key_never_leaks_in_search_results(setup):
    registry, thing, _owner, stranger, _ = setup
    reply = await send_raw(
        stranger,
        registry,
        f"<search xmlns='{NS}' maxCount='100000'><strEq name='SN' value='{thing.jid.user}'/></search>",
        "get",
    )
    xml = str(reply)
    assert thing.jid.bare in xml
    assert "KEY" not in xml and "key-" not in xml
