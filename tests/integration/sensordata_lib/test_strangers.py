"""Strangers get nowhere and cost the device little (security review findings 2 and 10)."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import error_of
from xmpp_iot.sensordata import NodeRef
from xmpp_iot.trust import ControlDecision, ControlRequest, ReadDecision, ReadRequest

from .conftest import enable

pytestmark = pytest.mark.integration


class CountingGate:
    """Refuses everyone and counts how often it was asked; `hold` keeps answers back."""

    def __init__(self) -> None:
        self.asked = 0
        self.hold = asyncio.Event()
        self.hold.set()

    async def is_friend(self, jid: str) -> bool:
        return False

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        self.asked += 1
        await self.hold.wait()
        return ReadDecision(allowed=False)

    async def can_control(self, request: ControlRequest) -> ControlDecision:
        return ControlDecision(allowed=False)


@pytest.fixture
def power(pair):
    pair.source.add_field("Power", lambda: 5.0, unit="W", node=NodeRef("M1"))


async def test_subscribing_to_presence_does_not_make_a_stranger_a_friend(pair, power, make_client) -> None:
    stranger = enable(await make_client("stranger", registry=None))
    stranger.xmpp.send_presence_subscription(pto=pair.device.jid.bare)
    await asyncio.sleep(1.0)  # slixmpp's default would have approved it by now
    roster = pair.device.xmpp.client_roster
    assert stranger.jid.bare not in roster or roster[stranger.jid.bare]["subscription"] not in ("from", "both")
    error = await error_of(stranger.xmpp.plugin["iot_sensordata"].read(pair.target, timeout=10))
    assert error.condition == "forbidden"


async def test_a_refused_requester_repeating_itself_is_refused_without_asking_again(pair, power, make_client):
    gate = CountingGate()
    pair.device.xmpp.plugin["iot_sensordata"].serve(pair.source, gate)
    stranger = enable(await make_client("stranger", registry=None))
    for _ in range(5):
        error = await error_of(stranger.xmpp.plugin["iot_sensordata"].read(pair.target, timeout=10))
        assert error.condition == "forbidden"
    assert gate.asked == 1


async def test_parallel_requests_of_one_account_are_capped_before_the_gate_answers(pair, power, make_client):
    gate = CountingGate()
    gate.hold.clear()  # the provisioning server is slow (an owner question is pending)
    plugin = pair.device.xmpp.plugin["iot_sensordata"]
    plugin.serve(pair.source, gate)
    stranger = enable(await make_client("stranger", registry=None))
    reads = [asyncio.ensure_future(error_of(stranger.xmpp.plugin["iot_sensordata"].read(pair.target, timeout=20)))
             for _ in range(plugin.max_active_per_requester + 8)]
    await asyncio.sleep(2.0)
    assert gate.asked == plugin.max_active_per_requester  # the rest never reached the gate
    gate.hold.set()
    conditions = sorted(e.condition for e in await asyncio.gather(*reads))
    assert conditions.count("resource-constraint") == 8
    assert conditions.count("forbidden") == plugin.max_active_per_requester
