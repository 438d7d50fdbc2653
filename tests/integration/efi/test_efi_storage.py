"""A heat pump with a buffer tank (EFI storage) and an energy app, over a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from xmpp_iot.efi import EFI_NS, InstructionStatus, StorageStatus
from xmpp_iot.efi import samples as s
from xmpp_iot.efi.binding import BINDING_NS, EfiDriver, EnergyApp, FlexibilityEvent
from xmpp_iot.nodes import flexibility_node

pytestmark = pytest.mark.integration


async def test_heat_pump_and_energy_app(make_client, node_admin):
    now = datetime.now(UTC)
    device = await make_client("heatpump")
    await node_admin.create(flexibility_node(device.jid), device)
    app_client = await make_client("energyapp")
    driver = EfiDriver(device, s.heat_pump_registration("hp-1", now), allow=[app_client.jid.bare])
    received = []
    driver.on_instruction(lambda instruction: (received.append(instruction), InstructionStatus.ACCEPTED)[1])
    await driver.start()
    system = s.heat_pump_system("hp-1", now, "sys-1")
    await driver.publish(system)
    await driver.publish(s.heat_pump_status("hp-1", now, "st-1", 41.0))

    # the app comes later: it catches up with the registration, system description and state
    app = EnergyApp(app_client)
    events: list[FlexibilityEvent] = []
    app.on_event(events.append)
    view = await app.follow(device.jid)
    assert view.registration == driver.registration
    assert view.updates["StorageSystemDescription"] == system
    assert view.updates["StorageStatus"].current_fill_level == 41.0

    # disco: the driver's session says it speaks EFI, as a storage device
    driver_jid = await app.driver_jid(device.jid)
    assert driver_jid == str(device.jid)
    info = await app.xmpp.plugin["xep_0030"].get_info(jid=driver_jid, timeout=10)
    assert {EFI_NS, BINDING_NS, BINDING_NS + "#storage"} <= set(info["disco_info"]["features"])

    # live state update
    await driver.publish(s.heat_pump_status("hp-1", now + timedelta(seconds=1), "st-2", 39.5))
    await app.wait_until(lambda: view.updates["StorageStatus"].flexibility_update_id == "st-2")

    # instruction answering the newest state: acknowledged, then ACCEPTED, STARTED, SUCCEEDED
    instruction = s.heat_pump_instruction("hp-1", now, "i-1", "st-2", mode=s.HEAT_PUMP_ON)
    await app.instruct(instruction)
    await app.wait_status(device.jid, "i-1", InstructionStatus.ACCEPTED)
    assert received == [instruction]
    await driver.report("i-1", InstructionStatus.STARTED)
    await driver.publish(s.heat_pump_status("hp-1", now + timedelta(seconds=2), "st-3", 39.6, running=True))
    await driver.publish(s.heat_pump_measurement("hp-1", now + timedelta(seconds=2), 1790.0, 39.6))
    await driver.report("i-1", InstructionStatus.SUCCEEDED)
    await app.wait_status(device.jid, "i-1", InstructionStatus.SUCCEEDED)

    statuses = [e.message.status for e in events if e.message.TAG == "InstructionStatusUpdate"]
    assert statuses == [InstructionStatus.ACCEPTED, InstructionStatus.STARTED, InstructionStatus.SUCCEEDED]
    assert isinstance(view.updates["StorageStatus"], StorageStatus)
    assert view.updates["StorageStatus"].actuator_statuses[0].current_running_mode == s.HEAT_PUMP_ON
    assert view.measurement is not None and view.measurement.electricity.power == 1790.0
    assert driver.status_of("i-1") is InstructionStatus.SUCCEEDED


async def test_follow_waits_for_the_node_owner_to_approve(make_client, node_admin, server_info):
    """With the `authorize` access model (how provisioning runs on ejabberd) the subscription is pending
    until the owner approves; follow() waits for that and then catches up."""
    if server_info.kind != "ejabberd":
        pytest.skip("Prosody 0.12's mod_pubsub has no authorize access model")
    now = datetime.now(UTC)
    device = await make_client("heatpump")
    await node_admin.create(flexibility_node(device.jid), device, access_model="authorize")
    node_admin.approve_subscriptions()
    driver = EfiDriver(device, s.heat_pump_registration("hp-2", now))
    await driver.start()
    await driver.publish(s.heat_pump_system("hp-2", now, "sys-1"))
    app = EnergyApp(await make_client("energyapp"))
    view = await app.follow(device.jid)
    assert node_admin.approved == [app.xmpp.boundjid.bare]
    assert view.registration == driver.registration
    assert view.updates["StorageSystemDescription"].flexibility_update_id == "sys-1"
