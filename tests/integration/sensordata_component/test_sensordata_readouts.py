"""End to end: a device publishes measurements, the component stores them, an app reads them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from xmpp_iot.errors import BadRequest, ItemNotFound
from xmpp_iot.sensordata import NodeRef

from .conftest import eventually, meter_readout, publish

T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)  # within raw retention
WEEK = (T0 - timedelta(days=T0.weekday())).replace(hour=0)
N = 30  # one readout every 10 s: 5 minutes


async def _reader(make_client):
    app = await make_client("app", registry=None)
    app.xmpp.register_plugin("iot_sensordata")
    return app


async def _stream(make_client, node_admin, server_info, count: int = N, prefix: str = "meter"):
    device = await make_client(prefix, registry=None)
    await node_admin.create_measurement_node(device.jid.bare)
    for i in range(count):
        t = T0 + timedelta(seconds=10 * i)
        await publish(
            device, server_info.pubsub_jid, meter_readout(device.jid.bare, t, float(i), 1000.0 + i), f"i{i}"
        )
    return device


async def test_current_and_historical_readouts_after_a_stream(
    sensordata_default, node_admin, make_client, server_info
) -> None:
    device = await _stream(make_client, node_admin, server_info)
    app = await _reader(make_client)
    sd = app.xmpp.plugin["iot_sensordata"]
    target = sensordata_default.jid
    node = device.jid.bare

    async def all_there():
        r = await sd.read(
            target, nodes=[node], types=["historicalOther"], from_=T0, to=T0 + timedelta(hours=1)
        )
        assert len(r.fields) == 2 * N
        return r

    raw = await eventually(all_there)
    assert {f.node for f in raw.fields} == {NodeRef(node)}

    current = await sd.read(target, nodes=[node], types=["momentary"])
    by_name = current.by_name()
    assert by_name["active_power.total"].value == float(N - 1)
    assert by_name["active_power.total"].unit == "W"
    assert by_name["energy_import"].value == 1000.0 + N - 1
    assert by_name["energy_import"].timestamp == T0 + timedelta(seconds=10 * (N - 1))
    assert all(f.types == {"momentary"} for f in current.fields)

    minutes = await sd.read(
        target, nodes=[node], fields=["active_power.total"], types=["historicalMinute"],
        from_=T0, to=T0 + timedelta(hours=1),
    )  # fmt: skip
    means = sorted((f.timestamp, f.value) for f in minutes.fields)
    assert means == [(T0 + timedelta(minutes=m), 6 * m + 2.5) for m in range(5)]
    assert all(f.types == {"historicalMinute"} for f in minutes.fields)

    hour = await sd.read(target, nodes=[node], types=["historicalHour", "peak"], from_=T0)
    values = {f.name: f.value for f in hour.fields if "historicalHour" in f.types}
    assert values["active_power.total"] == (N - 1) / 2  # the mean of 0..29
    assert values["energy_import"] == 1000.0 + N - 1  # a register: the hour's last value
    assert values["active_power.total, Min"] == 0.0 and values["active_power.total, Max"] == N - 1.0

    week = await sd.read(target, nodes=[NodeRef(node, "meas")], types=["historicalWeek", "historicalYear"])
    assert {(f.timestamp, tuple(f.types)) for f in week.fields if f.name == "energy_import"} == {
        (WEEK, ("historicalWeek",)),
        (datetime(T0.year, 1, 1, tzinfo=UTC), ("historicalYear",)),
    }


async def test_bad_requests_get_errors(sensordata_default, node_admin, make_client, server_info) -> None:
    device = await _stream(make_client, node_admin, server_info, count=3, prefix="meter-bad")
    app = await _reader(make_client)
    sd = app.xmpp.plugin["iot_sensordata"]
    target = sensordata_default.jid
    node = device.jid.bare
    await eventually(lambda: sd.read(target, nodes=[node], types=["momentary"]))

    with pytest.raises(BadRequest, match="concentrator"):
        await sd.read(target, types=["momentary"])  # no node named
    with pytest.raises(ItemNotFound):
        await sd.read(target, nodes=["nobody@" + server_info.domain], types=["momentary"])
    with pytest.raises(ItemNotFound):
        await sd.read(target, nodes=[NodeRef(node, "efi")], types=["momentary"])
    with pytest.raises(BadRequest):
        await sd.read(target, nodes=[node], types=["momentary"], from_=T0, to=T0 - timedelta(days=1))
    window = {"from_": T0 - timedelta(days=1), "to": T0 + timedelta(days=1)}
    with pytest.raises(BadRequest, match="more than 500"):  # the test component runs with --max-values 500
        await sd.read(target, nodes=[node] * 100, types=["historicalOther"], **window)  # 600 values
    with pytest.raises(BadRequest):
        await sd.read(target, nodes=[node] * 101, types=["momentary"])  # too many nodes
    still = await sd.read(target, nodes=[node], types=["historicalOther"], **window)
    assert len(still.fields) == 6
    assert sensordata_default.process.running
