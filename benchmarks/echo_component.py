"""Baseline for the component benchmarks: a raw slixmpp component that echoes every IQ payload.

Run as its own process, like the real components, so that the comparison is fair:
    XMPP_IOT_COMPONENT_SECRET=... python benchmarks/echo_component.py HOST:PORT JID
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import sys

from slixmpp import ComponentXMPP, Iq
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath


class EchoComponent(ComponentXMPP):
    def __init__(self, jid: str, secret: str, host: str, port: int) -> None:
        super().__init__(jid, secret, host, port, fix_error_ns=True)
        self.register_handler(Callback("echo", MatchXPath("{jabber:component:accept}iq"), self.on_iq))

    def on_iq(self, iq: Iq) -> None:
        if iq["type"] not in ("get", "set"):
            return
        payload = [copy.deepcopy(child) for child in iq.xml]
        reply = iq.reply(clear=True)
        for child in payload:
            reply.xml.append(child)
        reply.send()


async def main() -> None:
    host, _, port = sys.argv[1].rpartition(":")
    component = EchoComponent(sys.argv[2], os.environ["XMPP_IOT_COMPONENT_SECRET"], host, int(port))
    connected = asyncio.Event()
    component.add_event_handler("session_start", lambda _e: connected.set())
    component.connect()
    await connected.wait()
    print("echo connected to", sys.argv[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
