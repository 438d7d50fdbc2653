"""When no rule answers, the owner is asked with a data form; the answer becomes a rule."""

from __future__ import annotations

import asyncio

from xmpp_iot.provisioning import client as prov
from xmpp_iot.trust import ReadRequest

from ...helpers import EventRecorder


async def test_owner_question_answer_rule_cycle(
    make_device, make_client, ownership_feed, provisioning_jid
) -> None:
    device = await make_device()
    gate = device.xmpp.plugin["iot_provisioning"]
    owner, app = await make_client("owner"), await make_client("app")
    thing = device.jid.bare
    await ownership_feed.push(thing, owner.jid.bare)
    questions = EventRecorder(owner, "message")

    pending = asyncio.ensure_future(gate.can_read(ReadRequest(str(app.jid), field_names=("Energy",))))
    (msg,) = await questions.wait_for(1)
    asked = prov.question_of(msg)
    assert asked is not None
    assert (asked["thing"], asked["requester"], asked["action"]) == (thing, app.jid.bare, "read")
    assert app.jid.bare in msg["body"]
    prov.answer_question(owner.xmpp, msg, allow=True)

    decision = await asyncio.wait_for(pending, 10)
    assert decision.allowed and decision.field_names is None
    rules = await prov.list_rules(owner.xmpp, provisioning_jid, thing)
    assert [(r["subject"], r["action"], r["allow"]) for r in rules] == [(app.jid.bare, "read", "true")]
    gate.cache.clear()
    assert (await gate.can_read(ReadRequest(str(app.jid)))).allowed
    assert len(questions.items) == 1  # the rule answered: no second question


async def test_unanswered_question_is_a_refusal_without_rule(
    make_device, make_client, ownership_feed, provisioning_jid
) -> None:
    device = await make_device()
    owner, app = await make_client("owner"), await make_client("app")
    thing = device.jid.bare
    await ownership_feed.push(thing, owner.jid.bare)
    questions = EventRecorder(owner, "message")
    decision = await device.xmpp.plugin["iot_provisioning"].can_read(ReadRequest(str(app.jid)))
    assert not decision.allowed
    assert len(questions.items) == 1  # it was asked, the 3 s timeout refused
    assert await prov.list_rules(owner.xmpp, provisioning_jid, thing) == []


async def test_denied_answer_is_remembered(
    make_device, make_client, ownership_feed, provisioning_jid
) -> None:
    device = await make_device()
    owner, app = await make_client("owner"), await make_client("app")
    await ownership_feed.push(device.jid.bare, owner.jid.bare)
    questions = EventRecorder(owner, "message")
    answered: list[bool] = []

    async def answer_no() -> None:
        (msg,) = await questions.wait_for(1)
        prov.answer_question(owner.xmpp, msg, allow=False)
        answered.append(True)

    answering = asyncio.ensure_future(answer_no())
    assert not await device.xmpp.plugin["iot_provisioning"].is_friend(app.jid.bare)
    await answering
    rules = await prov.list_rules(owner.xmpp, provisioning_jid, device.jid.bare)
    assert [(r["subject"], r["action"], r["allow"]) for r in rules] == [(app.jid.bare, "friend", "false")]
