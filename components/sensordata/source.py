"""The historian as a :class:`xmpp_iot.sensordata.ReadoutSource` for the library's XEP-0323 responder.

The responder speaks the protocol (accepted, fields, done, cancel); this adapter only answers with
data. Every value is computed in :meth:`check`, before ``<accepted/>``, so that an unknown node, a
refusal by the trust gate or an oversized readout is an IQ error and never half a readout; the
values are kept until :meth:`readout` sends them (or for ``ttl`` seconds if it never does).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

from xmpp_iot.sensordata.model import Field, ReadoutError, ReadoutRequest

from .service import Historian

__all__ = ["HistorianSource"]


class HistorianSource:
    """Satisfies ``ReadoutSource``: ``check`` computes the answer, ``readout`` yields it in batches."""

    def __init__(self, historian: Historian, *, batch_size: int = 100, ttl: float = 60.0) -> None:
        self.historian = historian
        self.batch_size = batch_size
        self.ttl = ttl
        self._answers: dict[tuple[str, int], tuple[float, list[Field]]] = {}

    async def check(self, request: ReadoutRequest) -> None:
        fields = await self.historian.read(request)
        now = time.monotonic()
        for key in [k for k, (t, _) in self._answers.items() if now - t > self.ttl]:
            del self._answers[key]
        self._answers[(request.requester, request.seqnr)] = (now, fields)

    async def readout(self, request: ReadoutRequest) -> AsyncIterator[Sequence[Field] | ReadoutError]:
        entry = self._answers.pop((request.requester, request.seqnr), None)
        fields = entry[1] if entry is not None else await self.historian.read(request)
        for i in range(0, len(fields), self.batch_size):
            yield fields[i : i + self.batch_size]
