"""Every XEP-0347 flow against a real server: things, owners and applications as real clients.

Runs once on Prosody and once on ejabberd; the registry is the `xmpp-iot registry` process.
"""

from __future__ import annotations

import pytest

from tests.helpers import EventRecorder, error_of
from xmpp_iot.discovery import KEY, NodeRef, compare, eq, in_range, mask, num_tag, str_tag
from xmpp_iot.discovery.model import Condition, Tag, decode_iotdisco, encode_iotdisco
from xmpp_iot.errors import ItemNotFound

pytestmark = pytest.mark.integration


def meter_tags(serial: str, key: str = "k3y-0123456789abcdef", **extra) -> list[Tag]:
    tags = [
        str_tag("SN", serial),
        str_tag("MAN", "grid.example"),
        str_tag("CLASS", "Meter"),
        num_tag("V", 2.1),
    ]
    tags += [num_tag(k, v) if isinstance(v, float | int) else str_tag(k, v) for k, v in extra.items()]
    return [*tags, str_tag(KEY, key)]


async def registered(make_client, prefix="thing", **tag_extra):
    thing = await make_client(prefix)
    await thing.discovery.find_registry()
    tags = meter_tags(thing.jid.user, **tag_extra)
    assert await thing.discovery.register(tags) is None
    return thing, tags


async def test_find_registry_by_disco_items(registry_process, make_client):
    """XEP-0347 §3.4 step 5: with nothing preconfigured, the client walks the server's components."""
    client = await make_client("finder", registry=None)
    jid = await client.discovery.find_registry()
    assert jid.bare == registry_process.jid


async def test_find_registry_by_subdomain(registry_process, make_client):
    client = await make_client("finder", registry=None)
    jid = await client.discovery.find_registry("registry")
    assert jid.bare == registry_process.jid


async def test_unclaimed_thing_is_not_searchable(registry_process, make_client):
    thing, _ = await registered(make_client)
    app = await make_client("app")
    page = await app.discovery.search([eq("SN", thing.jid.user)])
    assert page.things == []


async def test_claim_needs_the_exact_tag_set_including_key(registry_process, make_client):
    thing, tags = await registered(make_client)
    owner = await make_client("owner")
    wrong_key = [t if t.name != KEY else str_tag(KEY, "guess") for t in tags]
    assert isinstance(await error_of(owner.discovery.claim(wrong_key)), ItemNotFound)
    partial = [t for t in tags if t.name != "V"]
    assert isinstance(await error_of(owner.discovery.claim(partial)), ItemNotFound)
    # order does not matter, and tag names are case-insensitive
    shuffled = [Tag(t.name.lower(), t.value) for t in reversed(tags)]
    claim = await owner.discovery.claim(shuffled)
    assert claim.jid == thing.jid.bare
    # a second owner cannot claim it, the same owner can (idempotent)
    thief = await make_client("thief")
    assert isinstance(await error_of(thief.discovery.claim(tags)), ItemNotFound)
    assert (await owner.discovery.claim(tags)).jid == thing.jid.bare


async def test_claim_from_iotdisco_string(registry_process, make_client):
    thing, tags = await registered(make_client)
    qr_text = encode_iotdisco(tags)
    assert qr_text.startswith("IoTDisco;SN:")
    owner = await make_client("owner")
    claim = await owner.discovery.claim(decode_iotdisco(qr_text))
    assert claim.jid == thing.jid.bare


async def test_registration_after_claim_returns_owner_and_keeps_tags(registry_process, make_client):
    thing, tags = await registered(make_client)
    owner = await make_client("owner")
    await owner.discovery.claim(tags)
    # re-registering a claimed thing changes nothing and tells it who owns it
    assert await thing.discovery.register([str_tag("SN", "hijacked")]) == owner.jid.bare
    app = await make_client("app")
    page = await app.discovery.search([eq("SN", thing.jid.user)])
    assert [t.jid for t in page.things] == [thing.jid.bare]


async def test_new_registration_replaces_old_tags(registry_process, make_client):
    thing, _ = await registered(make_client, ROOM="kitchen")
    tags2 = meter_tags(thing.jid.user, key="second-key-abcdef")
    await thing.discovery.register(tags2)  # ROOM is gone
    owner = await make_client("owner")
    await owner.discovery.claim(tags2)
    app = await make_client("app")
    page = await app.discovery.search([eq("SN", thing.jid.user)])
    assert "ROOM" not in page.things[0].tags


async def test_claimed_event_reaches_thing_with_public_flag(registry_process, make_client):
    thing, tags = await registered(make_client)
    events = EventRecorder(thing, "iot_claimed")
    owner = await make_client("owner")
    await owner.discovery.claim(tags, public=False)
    (change,) = await events.wait_for(1)
    assert change.owner == owner.jid.bare
    assert change.public is False


async def test_private_things_are_visible_only_to_their_owner(registry_process, make_client):
    thing, tags = await registered(make_client)
    owner = await make_client("owner")
    await owner.discovery.claim(tags, public=False)
    app = await make_client("app")
    assert (await app.discovery.search([eq("SN", thing.jid.user)])).things == []
    mine = await owner.discovery.search([eq("SN", thing.jid.user)])
    assert [t.jid for t in mine.things] == [thing.jid.bare]


async def test_self_owned_thing_is_public_at_once(registry_process, make_client):
    thing = await make_client("selfowned")
    await thing.discovery.find_registry()
    await thing.discovery.register(meter_tags(thing.jid.user), self_owned=True)
    app = await make_client("app")
    page = await app.discovery.search([eq("SN", thing.jid.user)])
    assert [(t.jid, t.owner) for t in page.things] == [(thing.jid.bare, thing.jid.bare)]
    assert "KEY" not in page.things[0].tags


async def test_thing_updates_tags_and_empty_value_removes_one(registry_process, make_client):
    thing, tags = await registered(make_client, ROOM="kitchen")
    owner = await make_client("owner")
    await owner.discovery.claim(tags)
    assert await thing.discovery.update([str_tag(KEY, ""), str_tag("ROOM", ""), num_tag("LAT", 57.7)]) is True
    app = await make_client("app")
    (found,) = (await app.discovery.search([eq("SN", thing.jid.user)])).things
    assert "ROOM" not in found.tags
    assert found.tags["LAT"].value == 57.7
    assert found.tags["MAN"].value == "grid.example"  # untouched tags stay


async def test_owner_updates_tags_of_its_thing_but_not_of_others(registry_process, make_client):
    thing, tags = await registered(make_client)
    owner = await make_client("owner")
    await owner.discovery.claim(tags)
    await owner.discovery.update([str_tag("STREET", "Main St")], jid=thing.jid.bare)
    stranger = await make_client("stranger")
    await stranger.discovery.find_registry()
    err = await error_of(stranger.discovery.update([str_tag("STREET", "Evil St")], jid=thing.jid.bare))
    assert isinstance(err, ItemNotFound)
    app = await make_client("app")
    (found,) = (await app.discovery.search([eq("SN", thing.jid.user)])).things
    assert found.tags["STREET"].value == "Main St"


async def test_update_of_unclaimed_thing_says_disowned(registry_process, make_client):
    thing, _ = await registered(make_client)
    assert await thing.discovery.update([str_tag("ROOM", "attic")]) is False


async def test_update_of_unknown_thing_is_item_not_found(registry_process, make_client):
    thing = await make_client("ghost")
    await thing.discovery.find_registry()
    assert isinstance(await error_of(thing.discovery.update([str_tag("ROOM", "x")])), ItemNotFound)


async def test_remove_takes_thing_out_and_tells_it(registry_process, make_client):
    thing, tags = await registered(make_client)
    removed = EventRecorder(thing, "iot_removed")
    owner = await make_client("owner")
    await owner.discovery.claim(tags)
    stranger = await make_client("stranger")
    await stranger.discovery.find_registry()
    assert isinstance(await error_of(stranger.discovery.remove(thing.jid.bare)), ItemNotFound)
    await owner.discovery.remove(thing.jid.bare)
    await removed.wait_for(1)
    app = await make_client("app")
    assert (await app.discovery.search([eq("SN", thing.jid.user)])).things == []
    assert isinstance(await error_of(thing.discovery.update([str_tag("ROOM", "x")])), ItemNotFound)


async def test_disown_online_thing_then_reclaim(registry_process, make_client):
    thing, tags = await registered(make_client)
    disowned = EventRecorder(thing, "iot_disowned")
    owner = await make_client("owner")
    await owner.discovery.claim(tags)
    stranger = await make_client("stranger")
    await stranger.discovery.find_registry()
    assert isinstance(await error_of(stranger.discovery.disown(thing.jid.bare)), ItemNotFound)
    await owner.discovery.disown(thing.jid.bare)
    await disowned.wait_for(1)
    app = await make_client("app")
    assert (await app.discovery.search([eq("SN", thing.jid.user)])).things == []
    # the old key no longer claims it: the registry replaced the tags with a random KEY
    assert isinstance(await error_of(owner.discovery.claim(tags)), ItemNotFound)
    new_tags = meter_tags(thing.jid.user, key="fresh-key-after-disown")
    assert await thing.discovery.register(new_tags) is None
    new_owner = await make_client("owner2")
    assert (await new_owner.discovery.claim(new_tags)).jid == thing.jid.bare


async def test_unregister_removes_the_thing(registry_process, make_client):
    thing, tags = await registered(make_client)
    await thing.discovery.unregister()
    owner = await make_client("owner")
    assert isinstance(await error_of(owner.discovery.claim(tags)), ItemNotFound)


async def test_concentrator_nodes_are_separate_things(registry_process, make_client):
    rack = await make_client("rack")
    await rack.discovery.find_registry()
    pmu1, pmu2 = NodeRef("pmu1", "Feeder7"), NodeRef("pmu2", "Feeder7", "PMU")
    tags1 = meter_tags(rack.jid.user + "-1", key="node-key-1")
    tags2 = meter_tags(rack.jid.user + "-2", key="node-key-2")
    await rack.discovery.register(tags1, node=pmu1)
    await rack.discovery.register(tags2, node=pmu2)
    claimed = EventRecorder(rack, "iot_claimed")
    owner = await make_client("owner")
    claim = await owner.discovery.claim(tags2)
    assert (claim.jid, claim.node) == (rack.jid.bare, pmu2)
    (change,) = await claimed.wait_for(1)
    assert change.node == pmu2
    await owner.discovery.claim(tags1)
    app = await make_client("app")
    page = await app.discovery.search([mask("SN", rack.jid.user + "-*")])
    assert sorted((t.node.node_id, t.node.source_id, t.node.cache_type) for t in page.things) == [
        ("pmu1", "Feeder7", ""),
        ("pmu2", "Feeder7", "PMU"),
    ]
    await owner.discovery.update([str_tag("ROOM", "substation")], jid=rack.jid.bare, node=pmu1)
    await rack.discovery.unregister(node=pmu2)
    page = await app.discovery.search([mask("SN", rack.jid.user + "-*")])
    assert [(t.node.node_id, t.tags["ROOM"].value) for t in page.things] == [("pmu1", "substation")]


async def test_every_search_operator_matches_reference_semantics(registry_process, make_client):
    """Claim a small population, then check each of the 17 operators (and an AND) against the
    reference implementation of XEP-0347's comparison rules."""
    owner = await make_client("owner")
    await owner.discovery.find_registry()
    batch = owner.jid.user  # unique per test run: isolates this population
    population = []
    for i, (cls, v, room) in enumerate(
        [
            ("PMU", 1.0, "a1"),
            ("PMU", 2.5, "b2"),
            ("Meter", 2.0, "c3"),
            ("Meter", 3.5, "a*4"),
            ("EV", 5.0, "zz"),
        ]
    ):
        thing = await make_client(f"t{i}")
        await thing.discovery.find_registry()
        tags = [
            str_tag("BATCH", batch), str_tag("CLASS", cls), num_tag("V", v), str_tag("ROOM", room),
            str_tag(KEY, f"key-{i}-{batch}"),
        ]  # fmt: skip
        await thing.discovery.register(tags)
        await owner.discovery.claim(tags)
        population.append((thing.jid.bare, {t.name: t for t in tags}))
    conditions: list[Condition] = [
        eq("CLASS", "PMU"),
        compare("neq", "CLASS", "PMU"),
        compare("gt", "CLASS", "Meter"),
        compare("gte", "CLASS", "Meter"),
        compare("lt", "CLASS", "Meter"),
        compare("lte", "CLASS", "Meter"),
        in_range("ROOM", "a1", "c3", low_included=False),
        in_range("ROOM", "a1", "c3", negate=True),
        in_range("ROOM", "a1", "c3", low_included=False, high_included=False, negate=True),
        mask("ROOM", "a*", "*"),
        mask("ROOM", "a%4", "%"),  # '*' inside the value is literal when another wildcard is used
        eq("V", 2.0),
        compare("neq", "V", 2.0),
        compare("gt", "V", 2.0),
        compare("gte", "V", 2.0),
        compare("lt", "V", 2.5),
        compare("lte", "V", 2.5),
        in_range("V", 2.0, 5.0, high_included=False),
        in_range("V", 2.0, 3.5, negate=True),
        in_range("V", 2.0, 3.5, low_included=False, high_included=False, negate=True),
    ]
    ops_seen = {c.element for c in conditions}
    assert len(ops_seen) == 17, ops_seen
    app = await make_client("app")
    for condition in conditions:
        page = await app.discovery.search([eq("BATCH", batch), condition], max_count=50)
        expected = sorted(jid for jid, tags in population if condition.matches(tags.get(condition.name)))
        assert sorted(t.jid for t in page.things) == expected, condition
    combined = [eq("BATCH", batch), eq("CLASS", "PMU"), compare("gt", "V", 1.5)]
    page = await app.discovery.search(combined)
    assert [t.jid for t in page.things] == [population[1][0]]
    # unknown tag names and KEY never match
    assert (await app.discovery.search([eq("BATCH", batch), eq("NOSUCHTAG", "x")])).things == []
    assert (await app.discovery.search([eq("BATCH", batch), mask(KEY, "*")])).things == []


async def test_search_paging_with_offset_and_more(registry_process, make_client):
    thing_owner = await make_client("owner")
    await thing_owner.discovery.find_registry()
    batch = thing_owner.jid.user
    for i in range(7):
        thing = await make_client(f"p{i}")
        await thing.discovery.find_registry()
        await thing.discovery.register([str_tag("BATCH", batch), num_tag("I", i)], self_owned=True)
    app = await make_client("app")
    await app.discovery.find_registry()
    first = await app.discovery.search([eq("BATCH", batch)], offset=0, max_count=3)
    second = await app.discovery.search([eq("BATCH", batch)], offset=3, max_count=3)
    third = await app.discovery.search([eq("BATCH", batch)], offset=6, max_count=3)
    assert (len(first.things), first.more) == (3, True)
    assert (len(second.things), second.more) == (3, True)
    assert (len(third.things), third.more) == (1, False)
    seen = [t.tags["I"].value for page in (first, second, third) for t in page.things]
    assert sorted(seen) == [float(i) for i in range(7)]
    every = [t async for t in app.discovery.search_all([eq("BATCH", batch)], page_size=2)]
    assert len(every) == 7
