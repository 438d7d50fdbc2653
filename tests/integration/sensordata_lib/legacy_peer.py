"""slixmpp's own XEP-0323 plugin (2013 format) as a peer, in its own process.

Run by test_slixmpp_interop.py. A separate process because slixmpp registers stanza plugins globally
per element name: its ``req``/``fields`` classes would replace ours in the test process.

    python legacy_peer.py device HOST PORT JID PASSWORD          # prints READY <full jid>, serves 20 s
    python legacy_peer.py client HOST PORT JID PASSWORD TARGET [WAIT]  # prints one JSON line with the events
    python legacy_peer.py control-device HOST PORT JID PASSWORD  # xep_0325 device; prints SET name=value
    python legacy_peer.py control-client HOST PORT JID PASSWORD TARGET  # one iq set + one message set
"""

from __future__ import annotations

import asyncio
import json
import sys

from slixmpp.plugins.xep_0323.device import Device
from slixmpp.plugins.xep_0325.device import Device as ControlledDevice

from xmpp_iot.client import IotClient
from xmpp_iot.connection import Endpoint, Security


async def device(client: IotClient) -> None:
    xmpp = client.xmpp
    xmpp.register_plugin("xep_0323", pconfig={"threaded": False})
    dev = Device("Device01")
    dev._add_field(name="Temperature", typename="numeric", unit="°C")
    dev._add_field(name="Relay", typename="boolean")
    dev._add_field(name="Label", typename="string")
    dev._add_field(name="Mode", typename="enum", dataType="PumpMode")
    dev._add_field(name="Uptime", typename="timeSpan")
    dev._set_momentary_timestamp("2013-03-07T16:24:30")
    dev._add_field_momentary_data("Temperature", "23.4", flags={"automaticReadout": "true"})
    dev._add_field_momentary_data("Relay", "true")
    dev._add_field_momentary_data("Label", "Kitchen")
    dev._add_field_momentary_data("Mode", "eco")
    dev._add_field_momentary_data("Uptime", "PT3H")
    xmpp.plugin["xep_0323"].register_node("Device01", dev, commTimeout=5)
    print("READY", xmpp.boundjid, flush=True)
    await asyncio.sleep(20)


async def client(client: IotClient, target: str, patience: float) -> None:
    xmpp = client.xmpp
    xmpp.register_plugin("xep_0323", pconfig={"threaded": False})
    events: list[dict] = []
    finished = asyncio.Event()

    def callback(from_jid, result, nodeId=None, timestamp=None, fields=None, error_msg=None):
        events.append({"result": result, "nodeId": nodeId, "timestamp": timestamp, "fields": fields,
                       "error": error_msg})
        if result in ("done", "rejected", "failure"):
            finished.set()

    xmpp.plugin["xep_0323"].request_data(xmpp.boundjid, target, callback, flags={"momentary": "true"})
    try:
        await asyncio.wait_for(finished.wait(), patience)
    except TimeoutError:
        events.append({"result": "timeout"})
    print(json.dumps(events), flush=True)


async def control_device(client: IotClient) -> None:
    xmpp = client.xmpp
    xmpp.register_plugin("xep_0325")
    dev = ControlledDevice("Device01")
    dev._add_control_field("Output", "boolean", "false")
    dev._add_control_field("Level", "int", "0")
    dev._add_control_field("Colour", "color", "000000")
    original = dev._set_field_value

    def report(name: str, value: str) -> None:
        original(name, value)
        print("SET", f"{name}={value}", flush=True)

    dev._set_field_value = report
    xmpp.plugin["xep_0325"].register_node("Device01", dev, commTimeout=5)
    print("READY", xmpp.boundjid, flush=True)
    await asyncio.sleep(20)


async def control_client(client: IotClient, target: str) -> None:
    xmpp = client.xmpp
    xmpp.register_plugin("xep_0325")
    events: list[dict] = []
    answered = asyncio.Event()

    def callback(from_jid, result, nodeIds=None, fields=None, error_msg=None):
        events.append({"result": result, "nodeIds": nodeIds, "fields": fields, "error": error_msg})
        answered.set()

    plugin = xmpp.plugin["xep_0325"]
    plugin.set_request(xmpp.boundjid, target, callback, [("Output", "boolean", "true"), ("Level", "int", "42")])
    try:
        await asyncio.wait_for(answered.wait(), 5)
    except TimeoutError:
        events.append({"result": "timeout"})
    plugin.set_command(xmpp.boundjid, target, [("Colour", "color", "3399FF")])
    await asyncio.sleep(1)
    print(json.dumps(events), flush=True)


async def main() -> None:
    mode, host, port, jid, password = sys.argv[1:6]
    c = IotClient(jid, password, Endpoint(host, int(port), Security.insecure_plaintext()), create_account=True)
    await c.connect()
    try:
        if mode == "device":
            await device(c)
        elif mode == "control-device":
            await control_device(c)
        elif mode == "control-client":
            await control_client(c, sys.argv[6])
        else:
            await client(c, sys.argv[6], float(sys.argv[7]) if len(sys.argv) > 7 else 8.0)
    finally:
        await c.close()


if __name__ == "__main__":
    asyncio.run(main())
