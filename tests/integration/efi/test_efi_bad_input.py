"""Bad input over XMPP gets the right stanza error, and nothing is half-applied.

(Not well-formed XML is the server's job: it closes the stream before a stanza exists.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from xmpp_iot.efi import (
    EFI_NS,
    FlexibilityRevoke,
    IllegalStatusTransition,
    InstructionRevoke,
    InstructionStatus,
    UnknownInstruction,
    encode_element,
)
from xmpp_iot.efi import samples as s
from xmpp_iot.efi.binding import EnergyApp
from xmpp_iot.errors import BadRequest, Conflict, Forbidden, ItemNotFound, NotAcceptable

from .helpers import driver_and_app

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


async def refused(coro) -> Exception:
    try:
        await coro
    except Exception as exc:
        return exc
    raise AssertionError("the driver accepted it")


def raw(xml: str) -> ET.Element:
    return ET.fromstring(xml)


async def test_bad_instructions_get_stanza_errors_and_change_nothing(make_client, node_admin):
    driver, app = await driver_and_app(make_client, node_admin, s.heat_pump_registration("hp-9", NOW),
                                       s.heat_pump_system("hp-9", NOW, "sys-1"),
                                       s.heat_pump_status("hp-9", NOW, "st-1", 44.0))
    received = []
    driver.on_instruction(lambda i: (received.append(i), InstructionStatus.ACCEPTED)[1])
    to = await app.driver_jid(driver.xmpp.boundjid)
    good = s.heat_pump_instruction("hp-9", NOW, "i-1", "st-1")

    # wrong namespace: named, refused as bad-request
    err = await refused(app.send_raw(raw("<StorageInstruction xmlns='urn:example:efi-1'/>"), to=to))
    assert isinstance(err, BadRequest) and "urn:example:efi-1" in err.text and EFI_NS in err.text

    # schema violation: the element and the reason
    broken = encode_element(good)
    broken.remove(broken.find(f"{{{EFI_NS}}}actuatorInstructions"))
    err = await refused(app.send_raw(broken, to=to))
    assert isinstance(err, BadRequest) and "schema violation" in err.text and "StorageInstruction" in err.text

    # a rule the schema cannot express: unknown flexibilityUpdateId
    err = await refused(app.instruct(s.heat_pump_instruction("hp-9", NOW, "i-2", "no-such-update"), check=False))
    assert isinstance(err, ItemNotFound) and "no-such-update" in err.text

    # ... a running mode the system description does not have
    err = await refused(app.instruct(s.heat_pump_instruction("hp-9", NOW, "i-3", "st-1", mode=7)))
    assert isinstance(err, BadRequest) and "running mode 7" in err.text

    # ... a resource this driver does not manage, an instruction of another category
    err = await refused(app.instruct(s.heat_pump_instruction("hp-other", NOW, "i-4", "st-1"), to=to, check=False))
    assert isinstance(err, ItemNotFound) and "hp-other" in err.text
    err = await refused(app.send_raw(encode_element(s.washer_start("hp-9", NOW, "i-5", "st-1", NOW)), to=to))
    assert isinstance(err, BadRequest) and "takes StorageInstruction" in err.text

    # ... a message the driver publishes, sent to it by IQ
    err = await refused(app.send_raw(encode_element(s.heat_pump_status("hp-9", NOW, "st-x", 40.0)), to=to))
    assert isinstance(err, BadRequest) and "published by the appliance driver" in err.text

    # oversized: refused before parsing, below the servers' stanza limit
    big = encode_element(good)
    big.append(ET.Element(f"{{{EFI_NS}}}padding"))
    big[-1].text = "x" * 100_000
    err = await refused(app.send_raw(big, to=to))
    assert isinstance(err, NotAcceptable) and "more than the limit" in err.text

    # revoking an instruction that was never sent
    err = await refused(app.revoke(InstructionRevoke(efi_resource_id="hp-9", timestamp=NOW, instruction_id="nope")))
    assert isinstance(err, ItemNotFound)

    # nothing of the above was applied: no instruction known, none delivered, no status published
    assert received == []
    for iid in ("i-1", "i-2", "i-3", "i-4", "i-5", "st-x"):
        with pytest.raises(UnknownInstruction):
            driver.status_of(iid)
    assert app.view(driver.xmpp.boundjid).statuses == {}

    # the driver still works, and a second instruction with the same id is a conflict
    await app.instruct(good)
    await app.wait_status(driver.xmpp.boundjid, "i-1", InstructionStatus.ACCEPTED)
    err = await refused(app.instruct(good))
    assert isinstance(err, Conflict)
    assert len(received) == 1

    # status transitions: an illegal report raises locally and publishes nothing ...
    with pytest.raises(IllegalStatusTransition):
        await driver.report("i-1", InstructionStatus.ACCEPTED)
    await driver.report("i-1", InstructionStatus.SUCCEEDED)
    await app.wait_status(driver.xmpp.boundjid, "i-1", InstructionStatus.SUCCEEDED)
    # ... and revoking a finished instruction is not-acceptable over XMPP, its status unchanged
    err = await refused(app.revoke(InstructionRevoke(efi_resource_id="hp-9", timestamp=NOW, instruction_id="i-1")))
    assert isinstance(err, NotAcceptable) and "SUCCEEDED" in err.text
    assert driver.status_of("i-1") is InstructionStatus.SUCCEEDED


async def test_shiftable_start_outside_the_window_is_refused(make_client, node_admin):
    driver, app = await driver_and_app(make_client, node_admin, s.washer_registration("washer-9", NOW),
                                       s.washer_update("washer-9", NOW, "wash-1", deadline=timedelta(hours=4)))
    err = await refused(app.instruct(s.washer_start("washer-9", NOW, "late", "wash-1", NOW + timedelta(hours=5))))
    assert isinstance(err, BadRequest) and "outside" in err.text
    with pytest.raises(UnknownInstruction):
        driver.status_of("late")


async def test_senders_the_driver_does_not_trust_are_forbidden(make_client, node_admin):
    driver, app = await driver_and_app(make_client, node_admin, s.pv_registration("pv-9", NOW),
                                       s.pv_options("pv-9", NOW, "curt-1"),
                                       authorize=lambda sender: not sender.user.startswith("app-"))
    err = await refused(app.instruct(s.pv_curtailment("pv-9", NOW, "c-1", "curt-1")))
    assert isinstance(err, Forbidden)
    with pytest.raises(UnknownInstruction):
        driver.status_of("c-1")


async def test_unknown_payloads_are_not_taken_for_efi(make_client, node_admin):
    driver, app = await driver_and_app(make_client, node_admin, s.pv_registration("pv-8", NOW))
    to = await app.driver_jid(driver.xmpp.boundjid)
    err = await refused(app.send_raw(raw("<query xmlns='urn:example:other'/>"), to=to))
    assert err.condition in ("feature-not-implemented", "service-unavailable")


async def test_a_revoked_flexibility_cannot_be_instructed(make_client, node_admin):
    """FlexibilityRevoke invalidates earlier updates for the driver and for a late subscriber."""
    driver, app = await driver_and_app(make_client, node_admin, s.pv_registration("pv-7", NOW),
                                       s.pv_options("pv-7", NOW, "curt-old"),
                                       authorize=lambda sender: sender.user.startswith(("app-", "late-app-")))
    await driver.publish(FlexibilityRevoke(efi_resource_id="pv-7", timestamp=NOW + timedelta(seconds=1)))
    await driver.publish(s.pv_options("pv-7", NOW + timedelta(seconds=2), "curt-new"))
    err = await refused(app.instruct(s.pv_curtailment("pv-7", NOW, "c-old", "curt-old"), check=False))
    assert isinstance(err, ItemNotFound) and "curt-old" in err.text
    late = EnergyApp(await make_client("late-app"))
    view = await late.follow(driver.xmpp.boundjid)  # catches up: registration, revoke, newest options
    assert view.updates["InflexibleCurtailmentOptions"].flexibility_update_id == "curt-new"
    assert late.ledger.knows_update("pv-7", "curt-new") and not late.ledger.knows_update("pv-7", "curt-old")
    await late.instruct(s.pv_curtailment("pv-7", NOW, "c-new", "curt-new"))


async def test_invalid_items_on_the_node_are_dropped_by_the_app(make_client, node_admin):
    """A notification cannot be answered with an error: the app logs and ignores what does not decode,
    and keeps following the device."""
    driver, app = await driver_and_app(make_client, node_admin, s.heat_pump_registration("hp-6", NOW),
                                       s.heat_pump_status("hp-6", NOW, "st-1", 44.0))
    view = app.view(driver.xmpp.boundjid)
    events = []
    app.on_event(events.append)
    broken = encode_element(s.heat_pump_status("hp-6", NOW, "st-2", 43.0))
    broken.find(f"{{{EFI_NS}}}currentFillLevel").text = "lukewarm"  # schema violation
    await driver.pubsub.publish(driver.node, broken, "StorageStatus")  # bypasses the driver's checks
    await driver.pubsub.publish(driver.node, raw("<StorageStatus xmlns='urn:example:efi-1'/>"), "StorageStatus")
    await driver.publish(s.heat_pump_status("hp-6", NOW + timedelta(seconds=1), "st-3", 42.0))
    await app.wait_until(lambda: view.updates["StorageStatus"].flexibility_update_id == "st-3")
    assert [e.message.flexibility_update_id for e in events] == ["st-3"]
