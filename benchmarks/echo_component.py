"""Baselines for the component benchmarks: raw slixmpp components that do no work.

* echo (the default): answers every IQ with a copy of its payload;
* replay (``--replay FILE``): answers IQ ``q<N>-…`` with recorded payload N of a JSON list, the
  bytes the real component sends for request N, rendered before the run and written as text. It is
  the cheapest component that sends those answers: it shows what the protocol's answers cost the
  server and the clients, apart from any work the component does.

Run as its own process, like the real components, so that the comparison is fair:
    XMPP_IOT_COMPONENT_SECRET=... python benchmarks/echo_component.py HOST:PORT JID [--replay FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
from xml.sax.saxutils import quoteattr

from slixmpp import ComponentXMPP, Iq
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath


class EchoComponent(ComponentXMPP):
    def __init__(self, jid: str, secret: str, host: str, port: int, replies: list[str] | None = None) -> None:
        super().__init__(jid, secret, host, port, fix_error_ns=True)
        self.replies = replies
        handler = self.on_iq if replies is None else self.on_iq_replay
        self.register_handler(Callback("echo", MatchXPath("{jabber:component:accept}iq"), handler))

    def on_iq(self, iq: Iq) -> None:
        if iq["type"] not in ("get", "set"):
            return
        payload = [copy.deepcopy(child) for child in iq.xml]
        reply = iq.reply(clear=True)
        for child in payload:
            reply.xml.append(child)
        reply.send()

    def on_iq_replay(self, iq: Iq) -> None:
        if iq["type"] not in ("get", "set"):
            return
        assert self.replies is not None
        iq_id = iq["id"]
        index = int(iq_id[1:].partition("-")[0])  # ids are q<N>-…
        self.send_raw(
            f"<iq type='result' id={quoteattr(iq_id)} from={quoteattr(iq['to'].full)} "
            f"to={quoteattr(iq['from'].full)}>{self.replies[index]}</iq>"
        )


def load_replies(path: str) -> list[str]:
    """The recorded payloads as XML text ("" for an empty result)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("address", help="HOST:PORT of the server's component listener")
    parser.add_argument("jid")
    parser.add_argument("--replay", metavar="FILE", help="JSON list of recorded payloads to answer with")
    args = parser.parse_args()
    host, _, port = args.address.rpartition(":")
    replies = load_replies(args.replay) if args.replay else None
    component = EchoComponent(args.jid, os.environ["XMPP_IOT_COMPONENT_SECRET"], host, int(port), replies)
    connected = asyncio.Event()
    component.add_event_handler("session_start", lambda _e: connected.set())
    component.connect()
    await connected.wait()
    print("echo connected to", args.address, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
