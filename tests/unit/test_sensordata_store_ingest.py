"""The ingestor: decode, refuse and count bad items, batch commits, flush without starvation."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from components.sensordata.ingest import Ingestor, samples_of
from components.sensordata.store import SeriesStore
from xmpp_iot.measurement import MeterReadout, Phase, Phasor, PmuFrame, Quantity, Reading, encode_element

DEV = "meter@example.org"
NOW = datetime.now(UTC).replace(microsecond=0)


def readout(i: int) -> ET.Element:
    t = NOW + timedelta(milliseconds=i)
    return encode_element(MeterReadout(device="whoever", timestamp=t, readings=(
        Reading.of(Quantity.ACTIVE_POWER, float(i), t, Phase.TOTAL),
        Reading.of(Quantity.ENERGY_IMPORT, 1000.0 + i, t),
    )))  # fmt: skip


@pytest.fixture
async def ingestor(tmp_path):
    store = SeriesStore(tmp_path / "i.sqlite3")
    with ThreadPoolExecutor(1) as ex:
        ing = Ingestor(store, ex, max_delay=0.01, max_batch=50)
        ing.start()
        yield ing
        await ing.stop()
    store.close()


def test_a_phasor_is_a_magnitude_and_an_angle_and_registers_keep_their_last_value() -> None:
    frame = PmuFrame(device=DEV, timestamp=NOW, readings=(
        Reading.of(Quantity.VOLTAGE, Phasor(230.5, -12.0), NOW, Phase.L1),
        Reading.of(Quantity.FREQUENCY, 50.01, NOW),
    ))  # fmt: skip
    samples = {s.field: s for s in samples_of(DEV, frame)}
    assert (samples["voltage.L1"].value, samples["voltage.L1.angle"].value) == (230.5, -12.0)
    assert samples["voltage.L1.angle"].unit == "deg" and samples["frequency"].aggregate == "mean"
    meter = samples_of(DEV, MeterReadout(device=DEV, timestamp=NOW, readings=(
        Reading.of(Quantity.ENERGY_IMPORT, 5.0, NOW),)))  # fmt: skip
    assert meter[0].aggregate == "last"


async def test_bad_items_are_counted_not_raised(ingestor: Ingestor) -> None:
    assert ingestor.accept(DEV, readout(1), "ok")
    assert not ingestor.accept(DEV, ET.Element("{urn:example}junk"), "junk")
    assert not ingestor.accept(DEV, None, "empty")
    await ingestor.flush()
    assert ingestor.store.node_stats(DEV) == (1, 2)
    assert ingestor.store.sample_count() == 2  # the payload's own device attribute is ignored
    assert ingestor.store.current(DEV)[0].node == DEV


async def test_flush_is_not_starved_by_a_steady_stream(ingestor: Ingestor) -> None:
    stop = asyncio.Event()

    async def stream() -> None:
        i = 0
        while not stop.is_set():
            ingestor.accept(DEV, readout(i))
            i += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(stream())
    await asyncio.sleep(0.1)
    before = ingestor.received
    await asyncio.wait_for(ingestor.flush(), 5)
    assert ingestor.store.sample_count() >= 2 * before  # everything accepted before the call is stored
    stop.set()
    await task
