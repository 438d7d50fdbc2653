"""Outgoing stanzas as XML text, for the responder's hot path.

A readout answer built with slixmpp stanza objects costs an ``Iq``/``Message`` object (with a uuid4
id), an Element tree and slixmpp's pure-Python serialiser per stanza, plus a trip through the send
queue for each. The device answers every ``req`` and ``set`` this way, so the responders write the
text directly (as the registry does for its search reply) and hand everything one request produces
to the socket in one write: the ``<accepted/>`` result and the ``<fields done='true'/>`` message of
a momentary readout leave in one TCP segment.

:class:`Outbox` falls back to ordinary stanza objects and the send queue when the stream has XEP-0198
stream management, whose outgoing filter must count every stanza.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Callable
from xml.etree.ElementTree import fromstring

from slixmpp import Iq, Message
from slixmpp.xmlstream import ElementBase

log = logging.getLogger(__name__)

__all__ = ["Outbox", "Replies", "attr", "text"]


def attr(value: str) -> str:
    """``value`` escaped for a double-quoted XML attribute."""
    if "&" in value or "<" in value or ">" in value or '"' in value or "\n" in value or "\r" in value or (
            "\t" in value):
        value = (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
                 .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))
    return value


def text(value: str) -> str:
    """``value`` escaped as XML character data."""
    if "&" in value or "<" in value or ">" in value:
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


class Outbox:
    """Writes stanza text for one slixmpp stream, batched per event-loop step (one ``send`` syscall
    for what a handler produces at once), in the order given."""

    def __init__(self, xmpp) -> None:
        self.xmpp = xmpp
        self._buffer: list[str] | None = None
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex() + "-"

    def new_id(self) -> str:
        """A stanza id unique for this stream (cheaper than slixmpp's uuid4)."""
        return f"{self._id_prefix}{next(self._ids)}"

    def iq_result(self, iq: Iq, payload: str) -> str:
        """The text of the ``result`` answering ``iq``, carrying ``payload`` (XML text)."""
        return self.stanza("iq", payload, ours=iq["to"].full, theirs=iq["from"].full, id=iq["id"], type="result")

    def stanza(self, name: str, payload: str, *, ours: str, theirs: str, id: str = "", type: str = "") -> str:
        """``<name type='…' id='…' to='theirs' from='ours'>payload</name>`` (empty attributes left out)."""
        head = f"<{name}"
        if type:
            head += f' type="{type}"'
        if id:
            head += f' id="{attr(id)}"'
        if theirs:
            head += f' to="{attr(theirs)}"'
        if ours:
            head += f' from="{attr(ours)}"'
        return f"{head}>{payload}</{name}>"

    def send(self, stanza_text: str) -> None:
        """Queue the text of one stanza; it is written at the end of this event-loop step."""
        if "xep_0198" in self.xmpp.plugin:  # stream management counts stanza objects in an outgoing filter
            self.xmpp.send(self._as_stanza(stanza_text))
            return
        if self._buffer is None:
            self._buffer = []
            asyncio.get_running_loop().call_soon(self._flush)
        self._buffer.append(stanza_text)

    def flush(self) -> None:
        """Write what is queued now (a handler that is done calls this instead of waiting for the
        end of the loop step)."""
        self._flush()

    def _flush(self) -> None:
        out, self._buffer = self._buffer, None
        if not out:
            return
        if self.xmpp.transport is None:  # not connected: dropped, as slixmpp drops a stanza then
            log.info("%s: not connected, %d stanza(s) not sent", self.xmpp.boundjid, len(out))
            return
        self.xmpp.send_raw("".join(out))

    def _as_stanza(self, stanza_text: str) -> ElementBase:
        xml = fromstring(f'<w xmlns="{self.xmpp.default_ns}">{stanza_text}</w>')[0]
        cls = Iq if xml.tag.endswith("}iq") else Message
        return cls(self.xmpp, xml=xml)


class Replies:
    """Answers to the IQs a plugin sent itself, taken off the stream in an incoming filter.

    slixmpp's ``Iq.send`` adds a handler per request and every incoming stanza is matched against
    every handler; for the plugins' own round trips a dict lookup by id does the same job.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, Callable[[Iq], None]] = {}

    def expect(self, iq_id: str, callback: Callable[[Iq], None]) -> None:
        """Call ``callback`` with the ``result`` or ``error`` IQ that has this id."""
        self._waiting[iq_id] = callback

    def forget(self, iq_id: str) -> None:
        self._waiting.pop(iq_id, None)

    def take(self, iq: Iq) -> bool:
        """Whether ``iq`` (a result or an error) was one of ours; it was then handled."""
        callback = self._waiting.pop(iq.xml.get("id", ""), None) if self._waiting else None
        if callback is None:
            return False
        callback(iq)
        return True
