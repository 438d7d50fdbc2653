"""Ownership feed, registry side: `xmpp-iot registry --provisioning JID` against a stand-in peer.

The registry runs as a subprocess on scratch1; the provisioning side is an in-process
component on scratch2 (scratch3 plays a peer that was not configured).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import error_of, send_raw
from xmpp_iot.connection import stop_session
from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.discovery import KEY, str_tag
from xmpp_iot.errors import Forbidden, ItemNotFound, ProtocolError, from_iq_error

pytestmark = pytest.mark.integration


async def registered_thing(make_client, serial: str):
    thing = await make_client("thing", registry="scratch1")
    await thing.discovery.find_registry()
    tags = [
        str_tag("SN", f"{serial}-{thing.jid.user}"),
        str_tag("CLASS", "Meter"),
        str_tag(KEY, f"k-{serial}"),
    ]
    assert await thing.discovery.register(tags) is None
    return thing, tags


async def wait_for_log(process: ComponentProcess, text: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while text not in process.log():  # a log file has nothing to wait on but time
        assert asyncio.get_running_loop().time() < deadline, f"{text!r} not in the log"
        await asyncio.sleep(0.1)


async def query_error(fake, registry: str, thing: str) -> ProtocolError:
    from slixmpp.exceptions import IqError

    try:
        await fake.query(registry, thing)
    except IqError as exc:
        return from_iq_error(exc)
    raise AssertionError("expected an error")


async def test_pushes_arrive_in_order_across_outage_and_kill(
    server_info, make_client, fake_provisioning, tmp_path
):
    registry_jid = server_info.component_jid("scratch1")
    peer_jid = server_info.component_jid("scratch2")
    registry = ComponentProcess(
        "registry", server_info, jid=registry_jid, db=tmp_path / "reg.sqlite3", log_path=tmp_path / "reg.log",
        extra_args=["--provisioning", peer_jid],
    )  # fmt: skip
    peer = await fake_provisioning("scratch2")
    registry.start()
    try:
        owner = await make_client("owner", registry="scratch1")
        await owner.discovery.find_registry()
        thing_a, tags_a = await registered_thing(make_client, "A")
        await owner.discovery.claim(tags_a, public=True)
        (claimed_a,) = await peer.wait_pushes(1)
        assert (claimed_a.thing, claimed_a.owner, claimed_a.public, claimed_a.removed) == (
            thing_a.jid.bare, owner.jid.bare, True, False,
        )  # fmt: skip
        await owner.discovery.disown(thing_a.jid.bare)
        disowned_a = (await peer.wait_pushes(2))[1]
        assert (disowned_a.thing, disowned_a.owner, disowned_a.removed) == (thing_a.jid.bare, "", False)

        # provisioning goes away; a claim made meanwhile is kept, across a registry crash
        await stop_session(peer)
        peer.abort()  # the TCP connection is gone: nothing can reach this peer any more
        thing_b, tags_b = await registered_thing(make_client, "B")
        await owner.discovery.claim(tags_b, public=False)
        await asyncio.sleep(0.5)
        registry.kill()
        registry.start()
        peer = await fake_provisioning("scratch2")
        claimed_b = (await peer.wait_pushes(1, timeout=20))[0]
        assert (claimed_b.thing, claimed_b.owner, claimed_b.public) == (
            thing_b.jid.bare,
            owner.jid.bare,
            False,
        )
        await owner.discovery.remove(thing_b.jid.bare)
        removed_b = await peer.wait_record(lambda r: r.removed)
        assert (removed_b.thing, removed_b.removed, removed_b.owner) == (thing_b.jid.bare, True, "")
        seqs = [claimed_a.seq, disowned_a.seq, claimed_b.seq, removed_b.seq]
        assert seqs == sorted(set(seqs)), seqs
        arrived = [p.seq for p in peer.pushes]  # at least once: a retry may repeat, never go back
        assert arrived == sorted(arrived) and set(arrived) == {claimed_b.seq, removed_b.seq}

        # acknowledged pushes are not sent again after a restart (once the registry has the ack)
        await wait_for_log(registry, f"has seq {removed_b.seq} ")
        delivered = len(peer.pushes)
        assert registry.stop() == 0
        registry.start()
        await asyncio.sleep(2.5)
        assert len(peer.pushes) == delivered

        # queries: the current record for the configured peer, refused for anyone else
        record = await peer.query(registry_jid, thing_a.jid.bare)
        assert (record.thing, record.owner, record.seq) == (thing_a.jid.bare, "", disowned_a.seq)
        assert isinstance(await query_error(peer, registry_jid, thing_b.jid.bare), ItemNotFound)  # removed
        assert isinstance(await query_error(peer, registry_jid, "nobody@" + server_info.domain), ItemNotFound)
        stranger = await fake_provisioning("scratch3")
        assert isinstance(await query_error(stranger, registry_jid, thing_a.jid.bare), Forbidden)
        payload = f"<owner xmlns='urn:xmpp-iot:ownership:0' thing='{thing_a.jid.bare}'/>"
        assert isinstance(await error_of(send_raw(owner, registry_jid, payload, itype="get")), Forbidden)
    finally:
        registry.stop()


async def test_query_answers_the_live_owner(server_info, make_client, fake_provisioning, tmp_path):
    """A registry started with a peer that is already there answers its query with the live owner."""
    registry_jid = server_info.component_jid("scratch1")
    peer = await fake_provisioning("scratch2")
    registry = ComponentProcess(
        "registry", server_info, jid=registry_jid, db=tmp_path / "reg.sqlite3", log_path=tmp_path / "reg.log",
        extra_args=["--provisioning", peer.boundjid.bare],
    ).start()  # fmt: skip
    try:
        owner = await make_client("owner", registry="scratch1")
        await owner.discovery.find_registry()
        thing, tags = await registered_thing(make_client, "C")
        await owner.discovery.claim(tags, public=True)
        (push,) = await peer.wait_pushes(1)
        record = await peer.query(registry_jid, thing.jid.bare)
        assert (record.owner, record.public, record.seq) == (owner.jid.bare, True, push.seq)
    finally:
        registry.stop()
