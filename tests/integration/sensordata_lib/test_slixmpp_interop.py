"""Our XEP-0323 against slixmpp's own xep_0323 plugin (written in 2013), and against aioxmpp.

What interoperates (asserted here):
- namespace ``urn:xmpp:iot:sensordata``, ``req``/``accepted``/``fields``/``done='true'``/``cancel``;
- the value types both know: numeric (with unit), boolean, string, enum (with dataType), dateTime;
  slixmpp's device reports momentary values with ``momentary='true'``.
What cannot (asserted as the documented gaps, see docs/xep-interpretation.md):
- slixmpp's device sends ``timeSpan`` (renamed ``duration`` in v0.3): our reader skips the unknown element;
- our int, long, date, time and duration fields (v0.3 types) are invisible to slixmpp's client;
- refusals: v0.3 replaced ``<rejected/>`` by RFC 6120 errors; slixmpp's client waits for ``rejected``
  and never reports our ``forbidden``.
XEP-0325: the typed ``set`` is the same in both; slixmpp's device answers with ``responseCode='OK'`` (ignored
by us) and refuses without an RFC 6120 condition; slixmpp's client reads our empty ``<setResponse/>`` as
result "" (no responseCode) and sends the message form with the invalid type 'set', which both servers
deliver as a normal message, so it still works.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from tests.helpers import error_of
from xmpp_iot.control import Color
from xmpp_iot.sensordata import EnumValue

pytestmark = pytest.mark.integration

PEER = Path(__file__).with_name("legacy_peer.py")
ROOT = Path(__file__).resolve().parents[3]


async def start_peer(server_info, *args: str) -> asyncio.subprocess.Process:
    name = f"legacy-{uuid.uuid4().hex[:8]}"
    return await asyncio.create_subprocess_exec(
        sys.executable, str(PEER), args[0], server_info.host, str(server_info.c2s_port),
        f"{name}@{server_info.domain}/legacy", f"pw-{name}", *args[1:],
        stdout=asyncio.subprocess.PIPE, cwd=str(ROOT))


async def test_our_app_reads_a_slixmpp_device(pair, server_info):
    peer = await start_peer(server_info, "device")
    try:
        line = await asyncio.wait_for(peer.stdout.readline(), 20)
        assert line.startswith(b"READY "), line
        legacy_jid = line.split()[1].decode()
        readout = await pair.sd.read(legacy_jid, types=["momentary"], timeout=10)
    finally:
        peer.kill()
        await peer.wait()
    got = readout.by_name()
    assert got["Temperature"].value == 23.4 and got["Temperature"].unit == "°C"
    assert got["Temperature"].nr_decimals == 1
    assert got["Relay"].value is True
    assert got["Label"].value == "Kitchen"
    assert got["Mode"].value == EnumValue("eco", "PumpMode")
    assert all(f.node.node_id == "Device01" for f in readout.fields)
    assert got["Temperature"].timestamp == datetime(2013, 3, 7, 16, 24, 30)  # no zone: "undefined" (naive)
    assert "Uptime" not in got  # timeSpan is the pre-v0.3 name of duration: not understood


async def test_slixmpp_client_reads_our_device(pair, server_info):
    values = {
        "Temperature": 21.5, "Relay": True, "Label": "Kitchen", "Mode": EnumValue("eco", "PumpMode"),
        "Serviced": datetime(2025, 6, 30, 12, 0, tzinfo=UTC),
        # v0.3 types, unknown to the 2013 client:
        "Pulses": 12, "Counter": 2**40, "Installed": date(2024, 1, 1), "WakeUp": time(6, 30),
        "Runtime": timedelta(hours=3),
    }
    for name, value in values.items():
        pair.source.add_field(name, lambda v=value: v, unit="°C" if name == "Temperature" else "",
                              type="enum" if isinstance(value, EnumValue) else None,
                              data_type="PumpMode" if isinstance(value, EnumValue) else "")
    original = pair.gate.is_friend

    async def friend_or_legacy(jid: str) -> bool:  # the legacy client's account name is random
        return jid.startswith("legacy-") or await original(jid)

    pair.gate.is_friend = friend_or_legacy  # type: ignore[method-assign]
    peer = await start_peer(server_info, "client", pair.target)
    out, _ = await asyncio.wait_for(peer.communicate(), 30)
    events = json.loads(out.decode().strip().splitlines()[-1])
    results = [e["result"] for e in events]
    assert results[0] == "accepted" and results[-1] == "done", results
    fields = {f["name"]: f for e in events if e["result"] == "fields" for f in e["fields"]}
    assert fields["Temperature"]["value"] == "21.5" and fields["Temperature"]["unit"] == "°C"
    assert fields["Relay"]["value"] == "true"
    assert fields["Label"]["value"] == "Kitchen"
    assert fields["Mode"]["value"] == "eco" and fields["Mode"]["dataType"] == "PumpMode"
    assert fields["Serviced"]["typename"] == "dateTime"
    assert not {"Pulses", "Counter", "Installed", "WakeUp", "Runtime"} & set(fields)  # v0.3 types: invisible


async def test_slixmpp_client_sees_no_rejection(pair, server_info):
    """Our refusal is an RFC 6120 <forbidden/> (v0.3+); the 2013 client only knows <rejected/>."""
    pair.source.add_field("Power", lambda: 1.0, unit="W")
    peer = await start_peer(server_info, "client", pair.target, "2")
    out, _ = await asyncio.wait_for(peer.communicate(), 30)
    events = json.loads(out.decode().strip().splitlines()[-1])
    assert [e["result"] for e in events] == ["timeout"]


# -- XEP-0325 -------------------------------------------------------------------------------------
async def test_our_app_controls_a_slixmpp_device(pair, server_info):
    """Typed <set/> is the same in both formats; the 2013 reply carries responseCode='OK'."""
    peer = await start_peer(server_info, "control-device")
    try:
        line = await asyncio.wait_for(peer.stdout.readline(), 20)
        assert line.startswith(b"READY "), line
        legacy_jid = line.split()[1].decode()
        result = await pair.ctl.set(legacy_jid, {"Output": True, "Level": 42}, timeout=10)
        assert not result.restricted
        applied = [(await asyncio.wait_for(peer.stdout.readline(), 5)).decode().strip() for _ in range(2)]
        assert applied == ["SET Output=true", "SET Level=42"]
        # the 2013 device answers an unknown parameter with type='error' but no RFC 6120 condition
        err = await error_of(pair.ctl.set(legacy_jid, {"Nope": 1}, timeout=10))
        assert err.condition != "item-not-found"
    finally:
        peer.kill()
        await peer.wait()


async def test_slixmpp_client_controls_our_device(pair, server_info):
    """Their iq set is applied and answered; their message set uses type='set', which is not a message type:
    servers treat it as 'normal' and our device applies it too."""
    state = {"Output": False, "Level": 0, "Colour": None}
    for name, kind in (("Output", "boolean"), ("Level", "int"), ("Colour", "color")):
        pair.controls.add_parameter(name, kind, write=lambda v, n=name: state.__setitem__(n, v))
    original = pair.gate.is_friend

    async def friend_or_legacy(jid: str) -> bool:
        return jid.startswith("legacy-") or await original(jid)

    pair.gate.is_friend = friend_or_legacy  # type: ignore[method-assign]
    peer = await start_peer(server_info, "control-client", pair.target)
    out, _ = await asyncio.wait_for(peer.communicate(), 30)
    events = json.loads(out.decode().strip().splitlines()[-1])
    assert len(events) == 1 and events[0]["result"] == ""  # answered, but our <setResponse/> has no responseCode
    assert state["Output"] is True and state["Level"] == 42
    assert state["Colour"] == Color(0x33, 0x99, 0xFF)  # the message form (type='set') arrived as 'normal'
