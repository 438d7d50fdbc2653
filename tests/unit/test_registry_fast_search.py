"""The search fast path (raw XML in, text out) answers exactly as the slixmpp stanza path does.

`RegistryComponent._spawn_event` answers well-formed searches without building slixmpp stanza
objects; anything it cannot answer (errors, foreign senders) must fall through to the normal
path. Both paths run here on the same component, its socket replaced by a list of writes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from xml.etree.ElementTree import fromstring

import pytest
from slixmpp import ComponentXMPP

from components.registry.open_store import open_store
from components.registry.protocol import RegistryComponent, prerender
from components.registry.service import Limits, ThingRegistry
from xmpp_iot.discovery.model import KEY, NS, NodeRef, Tag, Thing


class _Socket:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False


@pytest.fixture
async def component(tmp_path: Path):
    store = open_store(str(tmp_path / "r.sqlite3"))
    things = [
        Thing("lamp@example.org", NodeRef(), {"CLASS": Tag("CLASS", "Lamp"), "W": Tag("W", 60.0),
              "NOTE": Tag("NOTE", "a <b> & 'c'"), KEY: Tag(KEY, "secret")}, "alice@example.org", True),
        Thing("fan@example.org", NodeRef("n1", "s"), {"CLASS": Tag("CLASS", "Fan"), "W": Tag("W", 12.5)},
              "alice@example.org", False),
        Thing("pump@example.org", NodeRef(), {"CLASS": Tag("CLASS", "Pump")}, None, False),
    ]  # fmt: skip
    store.bulk_load(things)
    comp = RegistryComponent("registry.example.org", "x", "127.0.0.1", 1, ThingRegistry(store, Limits()))
    comp.transport = _Socket()
    yield comp
    store.close()


def _search(sender: str, body: str, iq_id: str = "q1") -> str:
    return (
        f"<iq xmlns='jabber:component:accept' type='get' id='{iq_id}' from='{sender}' "
        f"to='registry.example.org'><search xmlns='{NS}' {body}</search></iq>"
    )


async def _answers(comp: RegistryComponent, xml: str, *, fast: bool) -> list[bytes]:
    comp.transport.writes.clear()
    if fast:
        comp._spawn_event(fromstring(xml))
    else:  # the slixmpp stanza path only
        ComponentXMPP._spawn_event(comp, fromstring(xml))
    for _ in range(3):
        await asyncio.sleep(0)
    return list(comp.transport.writes)


@pytest.mark.parametrize(
    "sender, body",
    [
        ("bob@example.org/app", "offset='0' maxCount='10'><numGtEq name='W' value='0'/>"),
        ("alice@example.org/owner", "offset='0' maxCount='10'><numGtEq name='W' value='0'/>"),
        ("alice@example.org/owner", "offset='1' maxCount='1'><strMask name='CLASS' value='*' wildcard='*'/>"),
        ("bob@example.org/app", "maxCount='5'><strEq name='NOTE' value=\"a &lt;b> &amp; 'c'\"/>"),
        ("bob@example.org/app", "maxCount='5'><strEq name='KEY' value='secret'/>"),
    ],
)
async def test_fast_path_answers_like_the_stanza_path(component, sender: str, body: str) -> None:
    xml = _search(sender, body)
    fast = await _answers(component, xml, fast=True)
    slow = await _answers(component, xml, fast=False)
    assert len(fast) == 1 and fast == slow
    reply = fromstring(fast[0])
    assert reply.tag == "iq" and reply.get("type") == "result" and reply.get("id") == "q1"
    assert reply.get("to") == sender and reply.get("from") == "registry.example.org"
    assert b"secret" not in fast[0]  # KEY is never returned


async def test_private_things_only_for_their_owner(component) -> None:
    body = "maxCount='10'><strEq name='CLASS' value='Fan'/>"
    stranger = fromstring((await _answers(component, _search("bob@example.org/a", body), fast=True))[0])
    owner = fromstring((await _answers(component, _search("alice@example.org/a", body), fast=True))[0])
    assert len(stranger.find(f"{{{NS}}}found")) == 0
    [thing] = owner.find(f"{{{NS}}}found")
    assert thing.get("jid") == "fan@example.org" and thing.get("nodeId") == "n1"


@pytest.mark.parametrize(
    "sender, body",
    [
        ("bob@example.org/app", "offset='0'><strEq name='CLASS' value='Lamp'/>"),  # no maxCount
        ("bob@example.org/app", "maxCount='x'><strEq name='CLASS' value='Lamp'/>"),
        ("bob@example.org/app", "maxCount='5'><bogus name='CLASS' value='Lamp'/>"),
        ("eve@elsewhere.net/x", "maxCount='5'><strEq name='CLASS' value='Lamp'/>"),  # foreign domain
    ],
)
async def test_what_the_fast_path_cannot_answer_goes_the_normal_way(
    component, sender: str, body: str
) -> None:
    """It answers nothing itself; the stanza path sends the error (see test_registry_bad_input)."""
    assert component._search_fast(fromstring(_search(sender, body))) is False
    for _ in range(3):
        await asyncio.sleep(0)
    assert component.transport.writes == []


async def test_prerendered_results_read_as_fresh_ones_and_follow_writes(component) -> None:
    """The background rendering after start caches exactly what a first search would render,
    only for things a search can find, and a write replaces the cached text."""
    body = "maxCount='10'><numGtEq name='W' value='0'/>"
    owner = "alice@example.org/owner"
    entries = component.store.index.entries
    fresh = await _answers(component, _search(owner, body), fast=True)
    for entry in entries.values():
        entry.xml = None
    await prerender(entries)
    assert {e.jid for e in entries.values() if e.xml is not None} == {"lamp@example.org", "fan@example.org"}
    assert await _answers(component, _search(owner, body), fast=True) == fresh

    component.registry.update("alice@example.org", "lamp@example.org", NodeRef(), [Tag("W", 75.0)])
    for _ in range(5):  # the search waits for the write's commit
        await asyncio.sleep(0)
    answer = fromstring((await _answers(component, _search(owner, body), fast=True))[0])
    lamp = next(t for t in answer.find(f"{{{NS}}}found") if t.get("jid") == "lamp@example.org")
    assert {n.get("name"): n.get("value") for n in lamp}["W"] == "75"
