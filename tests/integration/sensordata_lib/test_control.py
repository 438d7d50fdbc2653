"""XEP-0325 control between a real device and a real application, on Prosody and ejabberd."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.helpers import error_of
from xmpp_iot.control import Color, ParameterValue
from xmpp_iot.errors import BadRequest, Forbidden, ItemNotFound
from xmpp_iot.sensordata import NodeRef

pytestmark = pytest.mark.integration

EVERY_TYPE = {
    "Output": ("boolean", False, True),
    "Colour": ("color", Color(0, 0, 0), Color(0x33, 0x99, 0xFF, 0x80)),
    "TariffStartDate": ("date", date(2020, 1, 1), date(2026, 5, 1)),
    "AlarmAt": ("dateTime", datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 4, 2, 8, 0, tzinfo=UTC)),
    "Setpoint": ("double", 20.0, 21.5),
    "AlarmDuration": ("duration", timedelta(0), timedelta(minutes=3, seconds=30)),
    "OutputPercent": ("int", 0, 10),
    "EnergyLimit": ("long", 0, 500_000_000_000_000),
    "Row1": ("string", "", "Temperature: 21.4 °C"),
    "WakeUp": ("time", time(0, 0), time(8, 0)),
}


def declare(controls, state: dict, **limits) -> None:
    for name, (kind, initial, _) in EVERY_TYPE.items():
        state[name] = initial
        controls.add_parameter(name, kind, write=lambda v, n=name: state.__setitem__(n, v),
                               read=lambda n=name: state[n], **limits.get(name, {}))


async def test_every_parameter_type_is_set(pair):
    state: dict = {}
    declare(pair.controls, state)
    wanted = {name: new for name, (_, _, new) in EVERY_TYPE.items()}
    values = [ParameterValue(name, kind, new) for name, (kind, _, new) in EVERY_TYPE.items()]
    result = await pair.ctl.set(pair.target, values)
    assert not result.restricted
    assert state == wanted


async def test_message_form_set(pair):
    state: dict = {}
    declare(pair.controls, state)
    changed = asyncio.Event()
    pair.controls.add_parameter("OutputPercent", "int", read=lambda: state["OutputPercent"],
                                write=lambda v: (state.__setitem__("OutputPercent", v), changed.set()))
    result = await pair.ctl.set(pair.target, {"Output": True, "OutputPercent": 42}, message=True)
    assert not result.restricted  # the message form has no answer
    await asyncio.wait_for(changed.wait(), 5)
    assert state["Output"] is True and state["OutputPercent"] == 42


async def test_multi_parameter_set_that_fails_validation_changes_nothing(pair):
    state: dict = {}
    declare(pair.controls, state, OutputPercent={"minimum": 0, "maximum": 100})
    before = dict(state)
    err = await error_of(pair.ctl.set(pair.target, {"Output": True, "Setpoint": 22.0, "OutputPercent": 200}))
    assert isinstance(err, BadRequest)
    assert err.text.startswith("OutputPercent")
    assert state == before


async def test_get_form_carries_types_ranges_and_not_same(pair):
    state: dict = {}
    declare(pair.controls, state, OutputPercent={"minimum": 0, "maximum": 100, "label": "Output (%)"})
    form = await pair.ctl.get_form(pair.target)
    assert list(form) == list(EVERY_TYPE)
    for name, (kind, initial, _) in EVERY_TYPE.items():
        assert form[name].type == kind, name
        assert form[name].value == initial, name
        assert form[name].not_same, name
    assert (form["OutputPercent"].minimum, form["OutputPercent"].maximum) == (0, 100)
    assert form["OutputPercent"].label == "Output (%)"


async def test_form_submission_sets_only_what_is_sent(pair):
    state: dict = {}
    declare(pair.controls, state)
    await pair.ctl.set(pair.target, {"OutputPercent": 55, "Colour": Color(1, 2, 3)}, as_form=True)
    assert state["OutputPercent"] == 55 and state["Colour"] == Color(1, 2, 3)
    assert state["Output"] is False


async def test_nodes_behind_a_concentrator(pair):
    outputs = {}
    for node_id in ("DO1", "DO2", "AO1"):
        outputs[node_id] = False
        pair.controls.add_parameter("Output", "boolean" if node_id.startswith("DO") else "double",
                                    write=lambda v, n=node_id: outputs.__setitem__(n, v), node=NodeRef(node_id))
    await pair.ctl.set(pair.target, {"Output": True}, nodes=["DO1", "DO2"])
    assert outputs == {"DO1": True, "DO2": True, "AO1": False}
    # Output is boolean on DO*, double on AO1: validated on every node before any is touched
    err = await error_of(pair.ctl.set(pair.target, {"Output": False}, nodes=["DO1", "DO2", "AO1"]))
    assert isinstance(err, BadRequest)
    assert outputs == {"DO1": True, "DO2": True, "AO1": False}
    form = await pair.ctl.get_form(pair.target, nodes=["DO1", "DO2"])
    assert list(form) == ["Output"] and form["Output"].not_same


async def test_stranger_cannot_control(pair, make_client):
    from tests.integration.sensordata_lib.conftest import enable

    state: dict = {}
    declare(pair.controls, state)
    stranger = enable(await make_client("stranger", registry=None))
    ctl = stranger.xmpp.plugin["iot_control"]
    assert isinstance(await error_of(ctl.set(pair.target, {"Output": True})), Forbidden)
    assert isinstance(await error_of(ctl.get_form(pair.target)), Forbidden)
    assert state["Output"] is False


async def test_unknown_parameter_is_item_not_found(pair):
    state: dict = {}
    declare(pair.controls, state)
    err = await error_of(pair.ctl.set(pair.target, {"Output": True, "Nope": 1}))
    assert isinstance(err, ItemNotFound)
    assert state["Output"] is False
