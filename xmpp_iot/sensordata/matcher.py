"""A cheap stanza matcher: "a <message/> or <iq/> whose child is one of these elements".

slixmpp tests every incoming stanza against every handler; StanzaPath builds substanza objects to
answer. One handler per XEP with this matcher (a dict lookup per child) keeps a busy device's
per-stanza cost flat, which the readout round-trip benchmark shows.
"""

from __future__ import annotations

from collections.abc import Iterable

from slixmpp.xmlstream.matcher.base import MatcherBase

__all__ = ["ChildMatcher"]


class ChildMatcher(MatcherBase):
    """Matches stanzas named ``stanza`` (``iq``/``message``) of one of ``types`` with a child in ``tags``."""

    def __init__(self, stanza: str, types: Iterable[str], namespace: str, names: Iterable[str]) -> None:
        super().__init__((stanza, frozenset(types), frozenset(f"{{{namespace}}}{n}" for n in names)))
        self.stanza_name = stanza
        self.types = frozenset(types)
        self.tags = frozenset(f"{{{namespace}}}{n}" for n in names)

    def match(self, xml) -> bool:
        if xml.name != self.stanza_name or xml.xml.get("type", "normal") not in self.types:
            return False
        return any(child.tag in self.tags for child in xml.xml)
