"""Who may speak for a device and who may instruct it, over a real server.

* a pub/sub notification is believed only from the pub/sub service: a stranger cannot plant a
  FlexibilityRevoke or a finished status in the energy app;
* a driver trusts nobody by default; with a trust gate it asks canControl with the instruction's
  element name as the parameter and the XEP-0324 tokens the IQ carries.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from xmpp_iot.efi import (
    FlexibilityRevoke,
    InstructionRevoke,
    InstructionStatus,
    InstructionStatusUpdate,
    UnknownInstruction,
)
from xmpp_iot.efi import samples as s
from xmpp_iot.efi.codec import EfiCodec
from xmpp_iot.errors import Forbidden
from xmpp_iot.nodes import flexibility_node
from xmpp_iot.pubsub import stream_safe
from xmpp_iot.trust import ControlDecision, ControlRequest, ReadDecision, ReadRequest, Tokens

from .helpers import driver_and_app

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
EVENT_NS = "http://jabber.org/protocol/pubsub#event"


async def refused(coro) -> Exception:
    try:
        await coro
    except Exception as exc:
        return exc
    raise AssertionError("the driver accepted it")


def forged_event(stranger, to: str, node: str, item_id: str, payload: ET.Element):
    msg = stranger.xmpp.make_message(mto=to, mtype="headline")
    event = ET.SubElement(msg.xml, f"{{{EVENT_NS}}}event")
    items = ET.SubElement(event, f"{{{EVENT_NS}}}items", node=node)
    ET.SubElement(items, f"{{{EVENT_NS}}}item", id=item_id).append(stream_safe(payload))
    return msg


async def test_forged_pubsub_events_from_a_stranger_are_ignored(make_client, node_admin):
    driver, app = await driver_and_app(make_client, node_admin, s.pv_registration("pv-s", NOW),
                                       s.pv_options("pv-s", NOW, "curt-1"))
    await app.instruct(s.pv_curtailment("pv-s", NOW, "c-1", "curt-1"))
    device = driver.xmpp.boundjid.bare
    view = app.view(device)
    stranger = await make_client("mallory")
    codec, node, to = EfiCodec(), flexibility_node(device), str(app.xmpp.boundjid)
    revoke = FlexibilityRevoke(efi_resource_id="pv-s", timestamp=NOW + timedelta(hours=1))
    finished = InstructionStatusUpdate(efi_resource_id="pv-s", timestamp=NOW + timedelta(hours=1),
                                       instruction_id="c-1", status=InstructionStatus.SUCCEEDED)
    bogus = s.pv_options("pv-s", NOW + timedelta(hours=1), "curt-evil")
    for item_id, msg in (("FlexibilityRevoke", revoke), ("InstructionStatusUpdate", finished),
                         ("InflexibleCurtailmentOptions", bogus)):
        forged_event(stranger, to, node, item_id, codec.encode_element(msg)).send()
    # a marker from the same sender arrives after the forgeries (one sender's stanzas keep their order)
    marker = asyncio.get_running_loop().create_future()
    app.xmpp.add_event_handler("message", lambda m: marker.done() or m["body"] != "marker" or marker.set_result(1))
    stranger.xmpp.make_message(mto=to, mbody="marker").send()
    await asyncio.wait_for(marker, 10)
    # and a genuine update, through the pub/sub service, still gets through
    await driver.publish(s.pv_options("pv-s", NOW + timedelta(seconds=1), "curt-2"))
    await app.wait_until(lambda: view.updates["InflexibleCurtailmentOptions"].flexibility_update_id == "curt-2")
    assert view.revoked_at is None
    assert app.ledger.knows_update("pv-s", "curt-1") and not app.ledger.knows_update("pv-s", "curt-evil")
    assert view.statuses.get("c-1") is not InstructionStatus.SUCCEEDED


async def test_a_driver_without_a_trust_policy_refuses_every_instruction(make_client, node_admin):
    driver, app = await driver_and_app(make_client, node_admin, s.pv_registration("pv-n", NOW),
                                       s.pv_options("pv-n", NOW, "curt-1"), trust=None)
    err = await refused(app.instruct(s.pv_curtailment("pv-n", NOW, "c-1", "curt-1")))
    assert isinstance(err, Forbidden)
    with pytest.raises(UnknownInstruction):
        driver.status_of("c-1")


class RecordingGate:
    """canControl: only with service token ``tok-1`` and only for the parameters in ``parameters``."""

    def __init__(self, parameters: tuple[str, ...] | None) -> None:
        self.parameters = parameters
        self.asked: list[ControlRequest] = []

    async def is_friend(self, jid: str) -> bool:
        return False

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        return ReadDecision(False)

    async def can_control(self, request: ControlRequest) -> ControlDecision:
        self.asked.append(request)
        return ControlDecision(request.tokens.service == "tok-1", parameter_names=self.parameters)


async def test_the_trust_gate_decides_with_the_instruction_name_and_tokens(make_client, node_admin):
    gate = RecordingGate(("InflexibleInstruction",))
    driver, app = await driver_and_app(make_client, node_admin, s.pv_registration("pv-t", NOW),
                                       s.pv_options("pv-t", NOW, "curt-1"), trust=gate)
    err = await refused(app.instruct(s.pv_curtailment("pv-t", NOW, "c-0", "curt-1")))  # no token
    assert isinstance(err, Forbidden)
    await app.instruct(s.pv_curtailment("pv-t", NOW, "c-1", "curt-1"), tokens=Tokens(service="tok-1", user="u 2"))
    asked = gate.asked[-1]
    assert asked.requester == str(app.xmpp.boundjid)
    assert asked.parameter_names == ("InflexibleInstruction",)
    assert asked.tokens == Tokens(service="tok-1", user="u 2")
    assert gate.asked[0].tokens == Tokens()
    # a revoke is asked as the category's instruction
    await app.revoke(InstructionRevoke(efi_resource_id="pv-t", timestamp=NOW, instruction_id="c-1"),
                     tokens=Tokens(service="tok-1"))
    assert gate.asked[-1].parameter_names == ("InflexibleInstruction",)
    await app.wait_until(lambda: app.status_of(driver.xmpp.boundjid, "c-1") in (InstructionStatus.REJECTED,
                                                                                InstructionStatus.ABORTED))


async def test_a_parameter_restriction_without_the_instruction_is_forbidden(make_client, node_admin):
    gate = RecordingGate(("MaxCurrent",))
    _driver, app = await driver_and_app(make_client, node_admin, s.pv_registration("pv-r", NOW),
                                       s.pv_options("pv-r", NOW, "curt-1"), trust=gate)
    err = await refused(app.instruct(s.pv_curtailment("pv-r", NOW, "c-1", "curt-1"), tokens=Tokens(service="tok-1")))
    assert isinstance(err, Forbidden)
    assert len(gate.asked) == 1
