"""start_eagerly: the synchronous part runs at once, the rest in a task that can be cancelled."""

from __future__ import annotations

import asyncio

import pytest

from xmpp_iot.sensordata.eager import start_eagerly


async def test_a_coroutine_that_never_waits_runs_to_the_end_at_once():
    seen = []

    async def work() -> None:
        seen.append(asyncio.current_task())

    assert start_eagerly(work()) is None
    assert seen == [asyncio.current_task()]  # ran in the caller's frame


async def test_a_coroutine_that_waits_continues_in_a_task():
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen = []

    async def work() -> None:
        seen.append("before")
        seen.append(await gate)
        await asyncio.sleep(0)
        seen.append("after")

    task = start_eagerly(work())
    assert task is not None and seen == ["before"]
    gate.set_result(7)
    await task
    assert seen == ["before", 7, "after"]


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits():
    cleaned = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.set()

    task = start_eagerly(work())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set()


async def test_errors_of_the_first_step_reach_the_caller_and_later_ones_the_task():
    async def fails_now() -> None:
        raise ValueError("now")

    with pytest.raises(ValueError, match="now"):
        start_eagerly(fails_now())

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise KeyError("later")

    task = start_eagerly(fails_later())
    with pytest.raises(KeyError):
        await task
