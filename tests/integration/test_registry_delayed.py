"""Delayed notifications: a thing that was offline when claimed, removed or disowned is told
when it comes back (directed presence to the registry), in order."""

from __future__ import annotations

import pytest

from tests.helpers import EventRecorder, error_of
from xmpp_iot.discovery import KEY, eq, str_tag
from xmpp_iot.errors import ItemNotFound

pytestmark = pytest.mark.integration


async def offline_thing(make_client):
    thing = await make_client("sleepy")
    await thing.discovery.find_registry()
    tags = [
        str_tag("SN", thing.jid.user),
        str_tag("CLASS", "HeatPump"),
        str_tag(KEY, "key-" + thing.jid.user),
    ]
    await thing.discovery.register(tags)
    user, password = thing.jid.user, thing.xmpp.password
    await thing.close()
    return user, password, tags


async def come_back(make_client, user, password, *events):
    thing = await make_client("sleepy", user=user, password=password, connect=False)
    recorders = [EventRecorder(thing, e) for e in events]
    await thing.connect()
    await thing.discovery.find_registry()
    return thing, recorders


async def test_thing_offline_when_claimed_is_told_when_back(registry_process, make_client):
    user, password, tags = await offline_thing(make_client)
    owner = await make_client("owner")
    await owner.discovery.find_registry()
    claim = await owner.discovery.claim(tags)
    assert claim.jid.startswith(user + "@")
    _thing, (claimed,) = await come_back(make_client, user, password, "iot_claimed")
    (change,) = await claimed.wait_for(1)
    assert change.owner == owner.jid.bare


async def test_thing_offline_when_removed_is_told_when_back(registry_process, make_client):
    user, password, tags = await offline_thing(make_client)
    owner = await make_client("owner")
    await owner.discovery.find_registry()
    claim = await owner.discovery.claim(tags)
    await owner.discovery.remove(claim.jid)
    thing, (claimed, removed) = await come_back(make_client, user, password, "iot_claimed", "iot_removed")
    await removed.wait_for(1)
    await claimed.wait_for(1)  # the earlier claim notification is delivered too
    assert isinstance(await error_of(thing.discovery.update([str_tag("ROOM", "x")])), ItemNotFound)


async def test_thing_offline_when_disowned_is_told_when_back(registry_process, make_client):
    user, password, tags = await offline_thing(make_client)
    owner = await make_client("owner")
    await owner.discovery.find_registry()
    claim = await owner.discovery.claim(tags)
    await owner.discovery.disown(claim.jid)  # accepted: the notification waits for the thing
    thing, (disowned,) = await come_back(make_client, user, password, "iot_disowned")
    await disowned.wait_for(1)
    app = await make_client("app")
    await app.discovery.find_registry()
    assert (await app.discovery.search([eq("SN", user)])).things == []
    # the thing re-registers and can be claimed again
    new_tags = [*tags[:-1], str_tag(KEY, "new-key-" + user)]
    assert await thing.discovery.register(new_tags) is None
    assert (await owner.discovery.claim(new_tags)).jid == claim.jid
