"""Measurement payloads (PMU frame, smart meter) published to ``meas/<bare jid>`` and received typed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from xmpp_iot.measurement import (
    MeasurementCodec,
    MeasurementValidationError,
    MeterReadout,
    Phase,
    Phasor,
    PmuFrame,
    QualityFlag,
    Quantity,
    Reading,
)
from xmpp_iot.nodes import MEASUREMENT_PREFIX, measurement_node
from xmpp_iot.pubsub import PayloadItem, PubSub

pytestmark = pytest.mark.integration


async def test_pmu_frame_and_meter_readout_arrive_typed(make_client, node_admin, server_info):
    codec = MeasurementCodec()
    t = datetime.now(UTC).replace(microsecond=0)
    pmu, meter = await make_client("pmu"), await make_client("meter")
    for device in (pmu, meter):
        await node_admin.create(measurement_node(device.jid), device)
    app = await make_client("estimator")
    app_ps = PubSub(app.xmpp)
    assert await app_ps.service() == server_info.pubsub_jid  # found by disco, not configured
    got: asyncio.Queue[PayloadItem] = asyncio.Queue()
    app_ps.on_payload(MEASUREMENT_PREFIX, codec, got.put_nowait)
    for device in (pmu, meter):
        await app_ps.subscribe(measurement_node(device.jid))

    frame = PmuFrame(device="pmu-12", timestamp=t, readings=(
        Reading.of(Quantity.VOLTAGE, Phasor(230.2, -120.0), t, Phase.L2),
        Reading.of(Quantity.CURRENT, Phasor(12.5, -150.5), t, Phase.L2),
        Reading.of(Quantity.FREQUENCY, 49.987, t),
        Reading.of(Quantity.ROCOF, -0.012, t),
    ))
    readout = MeterReadout(device="meter-0042", timestamp=t, readings=(
        Reading.of(Quantity.ACTIVE_POWER, 1450.0, t, Phase.L1),
        Reading.of(Quantity.REACTIVE_POWER, -120.5, t, Phase.L1),
        Reading.of(Quantity.ENERGY_IMPORT, 12_345_678.0, t, Phase.TOTAL,
                   flags=frozenset({QualityFlag.AUTOMATIC_READOUT})),
    ))
    await PubSub(pmu.xmpp).publish_payload(measurement_node(pmu.jid), frame, codec)
    await PubSub(meter.xmpp).publish_payload(measurement_node(meter.jid), readout, codec)

    received = {}
    async with asyncio.timeout(10):
        while len(received) < 2:
            item = await got.get()
            received[item.node] = item.payload
    assert received[measurement_node(pmu.jid)] == frame
    assert received[measurement_node(meter.jid)] == readout
    assert received[measurement_node(pmu.jid)].readings[0].unit.value == "V"

    # a late reader fetches the current item, decoded
    [item] = await app_ps.fetch_payloads(measurement_node(meter.jid), codec)
    assert item.payload == readout

    # an invalid payload is refused before it leaves the device
    bad = MeterReadout(device="meter-0042", timestamp=t,
                       readings=(Reading.of(Quantity.ROCOF, 0.1, t),))  # ROCOF is not a meter quantity
    with pytest.raises(MeasurementValidationError):
        await PubSub(meter.xmpp).publish_payload(measurement_node(meter.jid), bad, codec)
