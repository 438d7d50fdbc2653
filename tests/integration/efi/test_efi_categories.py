"""Shiftable and inflexible appliances over a real server: a washing machine gets a start time, a PV
inverter is curtailed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from xmpp_iot.efi import InflexibleInstruction, InstructionRevoke, InstructionStatus, ShiftableInstruction
from xmpp_iot.efi import samples as s

from .helpers import driver_and_app

pytestmark = pytest.mark.integration


async def test_washing_machine_gets_a_start_time(make_client, node_admin):
    now = datetime.now(UTC).replace(microsecond=0)
    driver, app = await driver_and_app(make_client, node_admin, s.washer_registration("washer-1", now),
                                       s.washer_update("washer-1", now, "wash-1", deadline=timedelta(hours=8)))
    view = app.view(driver.xmpp.boundjid)
    program = view.updates["ShiftableUpdate"]
    assert program.end_before == now + timedelta(hours=8)
    assert [p.sequence_nr for p in program.sequential_profiles] == [0, 1]

    async def run_driver() -> ShiftableInstruction:
        async for instruction in driver.instructions():  # the driver's loop, as firmware writes it
            await driver.report(instruction.instruction_id, InstructionStatus.ACCEPTED)
            return instruction
        raise AssertionError("no instruction")

    loop = asyncio.create_task(run_driver())
    start = now + timedelta(hours=3)  # cheap hours
    await app.instruct(s.washer_start("washer-1", now, "start-1", "wash-1", start))
    got = await asyncio.wait_for(loop, 10)
    assert [step.start_time for step in got.sequential_profile_instructions] == [start, start + timedelta(minutes=30)]
    await app.wait_status(view.device, "start-1", InstructionStatus.ACCEPTED)


async def test_pv_is_curtailed_and_the_curtailment_revoked(make_client, node_admin):
    now = datetime.now(UTC).replace(microsecond=0)
    driver, app = await driver_and_app(
        make_client, node_admin, s.pv_registration("pv-1", now),
        s.pv_forecast("pv-1", now, "fc-1"), s.pv_options("pv-1", now, "curt-1"),
    )
    limits: list[float] = []

    def curtail(instruction: InflexibleInstruction) -> InstructionStatus:
        limits.extend(e.value for e in instruction.curtailment_profile.elements)
        return InstructionStatus.ACCEPTED

    driver.on_instruction(curtail)
    view = app.view(driver.xmpp.boundjid)
    forecast = view.updates["InflexibleForecast"].forecast_profiles.electricity
    assert sum(slot.element.power for slot in forecast.timeslots(now)) < 0  # production is negative
    option = view.updates["InflexibleCurtailmentOptions"].curtailment_options[0]
    assert option.curtailment_ranges[0].lower_bound == -5000.0

    await app.instruct(s.pv_curtailment("pv-1", now, "curtail-1", "curt-1", limit=-2000.0))
    await app.wait_status(view.device, "curtail-1", InstructionStatus.ACCEPTED)
    assert limits == [-2000.0]
    await driver.report("curtail-1", InstructionStatus.STARTED)
    await app.wait_status(view.device, "curtail-1", InstructionStatus.STARTED)

    # the app lifts the curtailment: the driver reports it ABORTED
    await app.revoke(InstructionRevoke(efi_resource_id="pv-1", timestamp=now, instruction_id="curtail-1"))
    await app.wait_status(view.device, "curtail-1", InstructionStatus.ABORTED)
    assert driver.status_of("curtail-1") is InstructionStatus.ABORTED
