"""Start a coroutine at once, in the caller's stack frame; a task only if it has to wait.

A device answers most readouts without waiting for anything (the trust gate decides from memory,
the sensors answer at once). Handing each request to a new task costs a task and a trip round the
event loop before any work starts; :func:`start_eagerly` runs the handler straight from the
incoming-stanza filter and lets a task take over only when the handler really awaits something
(Python 3.12's eager tasks, for 3.11).

Before its first real suspension the coroutine runs outside any task: ``asyncio.current_task()``
is None there and ``asyncio.timeout()`` cannot be used (``asyncio.wait_for`` and plain awaits can).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["start_eagerly"]


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task | None:
    """Run ``coro`` until it finishes (None) or first waits: the rest then runs in the returned task.
    Exceptions of the first step propagate to the caller."""
    try:
        first = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(_Resume(coro, first)))


class _Resume:
    """Awaitable that continues a started coroutine exactly as ``await`` would have."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, None], first: object) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, None]:
        coro, value = self.coro, self.first
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and errors go into the coroutine
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(resume: _Resume) -> None:
    await resume
