"""The registry's main path, end to end: a thing registers, its owner claims it, an app finds it."""

from __future__ import annotations

import asyncio

from xmpp_iot.discovery import eq, num_tag, str_tag


async def test_register_claim_search(registry_process, make_client):
    thing = await make_client("meter")
    owner = await make_client("owner")
    app = await make_client("app")
    claimed = asyncio.get_running_loop().create_future()
    thing.xmpp.add_event_handler("iot_claimed", lambda change: claimed.set_result(change))

    await thing.discovery.find_registry()
    serial = thing.jid.user
    tags = [
        str_tag("SN", serial),
        str_tag("MAN", "example.org"),
        num_tag("V", 1.2),
        str_tag("KEY", "s3cr3t-key"),
    ]
    assert await thing.discovery.register(tags) is None

    await owner.discovery.find_registry()
    result = await owner.discovery.claim(tags)
    assert result.jid == thing.jid.bare
    change = await asyncio.wait_for(claimed, 10)
    assert change.owner == owner.jid.bare

    await app.discovery.find_registry()
    page = await app.discovery.search([eq("SN", serial)])
    assert [t.jid for t in page.things] == [thing.jid.bare]
    found = page.things[0]
    assert found.owner == owner.jid.bare
    assert "KEY" not in found.tags
    assert found.tags["V"].value == 1.2
