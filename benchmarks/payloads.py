#!/usr/bin/env python3
"""Throughput of the EFI and measurement payload codecs on one core, next to xmlschema's.

    python benchmarks/payloads.py           # about 1 minute
    python benchmarks/payloads.py --quick   # a few seconds

For four typical payloads (EFI StorageStatus, ShiftableUpdate, Measurement; our 3-phase meter
readout) it measures decode+validate (bytes → object, schema and semantic checks), decode from an
``xml.etree`` element (what the XMPP binding gets from slixmpp), encode (object → validated bytes) and
``xmlschema``'s ``XMLSchema.decode`` (validating decode to dicts) of the same bytes against the same
XSD. It prints a table, then as its LAST line one JSON object with the figures, the ratios
(ours / xmlschema) and whether the targets are met (decode >= 20,000 msg/s and >= 10x xmlschema).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xmlschema  # noqa: E402

import xmpp_iot.efi as efi  # noqa: E402
import xmpp_iot.measurement as meas  # noqa: E402
from xmpp_iot.efi.xmldoc import SCHEMA_DIR  # noqa: E402

TARGET_RATE = 20_000
TARGET_RATIO = 10.0
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def storage_status() -> efi.StorageStatus:
    return efi.StorageStatus(
        efi_resource_id="boiler-0042",
        timestamp=T0,
        flexibility_update_id="status-000981",
        valid_from=T0,
        current_fill_level=61.25,
        actuator_statuses=(
            efi.ActuatorStatus(
                actuator_id=0,
                current_running_mode=1,
                running_mode_factor=0.4,
                previous_running_mode_id=0,
                transition_timestamp=T0 - timedelta(minutes=3),
                timer_updates=(efi.TimerUpdate(timer_id=0, finished_at=T0 + timedelta(minutes=12)),),
            ),
        ),
    )


def shiftable_update() -> efi.ShiftableUpdate:
    def phase(nr: int, powers: list[float]) -> efi.SequentialProfile:
        profile = efi.ElectricityProfile(
            elements=tuple(
                efi.ElectricityProfileElement(duration=timedelta(minutes=15), power=p) for p in powers
            )
        )
        return efi.SequentialProfile(
            sequence_nr=nr,
            max_interval_before=timedelta(minutes=30 if nr else 0),
            alternatives=(
                efi.SequentialProfileAlternative(
                    alternative_nr=0, profiles=efi.ProfileContainer(electricity=profile)
                ),
            ),
        )

    return efi.ShiftableUpdate(
        efi_resource_id="washer-17",
        timestamp=T0,
        flexibility_update_id="wash-2024-05-01",
        valid_from=T0,
        end_before=T0 + timedelta(hours=8),
        sequential_profiles=(phase(0, [2000.0, 2000.0, 150.0, 150.0]), phase(1, [500.0, 800.0])),
    )


def efi_measurement() -> efi.Measurement:
    return efi.Measurement(
        efi_resource_id="heatpump-3",
        timestamp=T0,
        measurement_timestamp=T0 - timedelta(seconds=1),
        electricity=efi.ElectricityMeasurement(power=1830.5),
        heat=efi.HeatValues(temperature=52.5, thermal_power=-6100.0),
    )


def meter_readout() -> meas.MeterReadout:
    readings = []
    for phase, p, q, v, i in (
        (meas.Phase.L1, 1450.0, -120.5, 229.8, 6.31),
        (meas.Phase.L2, 310.0, 12.0, 231.2, 1.4),
        (meas.Phase.L3, 2204.0, -300.0, 230.4, 9.6),
    ):
        readings += [
            meas.Reading.of(meas.Quantity.ACTIVE_POWER, p, T0, phase),
            meas.Reading.of(meas.Quantity.REACTIVE_POWER, q, T0, phase),
            meas.Reading.of(meas.Quantity.VOLTAGE, v, T0, phase),
            meas.Reading.of(meas.Quantity.CURRENT, i, T0, phase),
        ]
    flags = frozenset({meas.QualityFlag.AUTOMATIC_READOUT})
    readings += [
        meas.Reading.of(meas.Quantity.ENERGY_IMPORT, 12_345_678.0, T0, meas.Phase.TOTAL, flags=flags),
        meas.Reading.of(meas.Quantity.ENERGY_EXPORT, 2_345_001.0, T0, meas.Phase.TOTAL, flags=flags),
    ]
    return meas.MeterReadout(device="meter-0042", timestamp=T0, readings=tuple(readings))


CASES = [
    ("EFI StorageStatus", storage_status(), efi, "efi-2.0.xsd"),
    ("EFI ShiftableUpdate", shiftable_update(), efi, "efi-2.0.xsd"),
    ("EFI Measurement", efi_measurement(), efi, "efi-2.0.xsd"),
    ("meter readout (14 readings)", meter_readout(), meas, "measurement-1.0.xsd"),
]


def rate(fn, seconds: float) -> float:
    """Calls per CPU-second of ``fn`` over at least ``seconds`` of CPU time (after a short warm-up).

    CPU time of this process (pinned to one core), not wall time: on a shared 2-core machine other
    processes' load would otherwise count against us (and against xmlschema alike)."""
    for _ in range(50):
        fn()
    n, batch = 0, 64
    start = time.process_time()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return n / elapsed
        batch = min(batch * 2, 4096)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs (a few seconds in all)")
    args = ap.parse_args()
    seconds = 0.3 if args.quick else 2.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    results = []
    for name, msg, module, xsd in CASES:
        data = module.encode(msg)
        assert module.decode(data) == msg
        element = ET.fromstring(data)
        reference = xmlschema.XMLSchema(str(SCHEMA_DIR / xsd))
        text = data.decode()
        reference.decode(text)  # must be valid for the reference too
        decode = rate(lambda: module.decode(data), seconds)  # noqa: B023
        decode_el = rate(lambda: module.decode_element(element), seconds)  # noqa: B023
        encode = rate(lambda: module.encode(msg), seconds)  # noqa: B023
        ref = rate(lambda: reference.decode(text), max(seconds / 2, 0.2))  # noqa: B023
        results.append(
            {
                "payload": name,
                "bytes": len(data),
                "decode_per_s": round(decode),
                "decode_element_per_s": round(decode_el),
                "encode_per_s": round(encode),
                "xmlschema_decode_per_s": round(ref),
                "ratio_decode": round(decode / ref, 1),
            }
        )

    header = f"{'payload':<30}{'bytes':>7}{'decode/s':>11}{'from etree/s':>14}{'encode/s':>11}{'xmlschema/s':>13}{'ratio':>8}"
    print(
        f"payload codecs, one core, Python {platform.python_version()}, {'quick' if args.quick else 'full'} run"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['payload']:<30}{r['bytes']:>7}{r['decode_per_s']:>11,}{r['decode_element_per_s']:>14,}"
            f"{r['encode_per_s']:>11,}{r['xmlschema_decode_per_s']:>13,}{r['ratio_decode']:>7.1f}x"
        )
    efi_rows = [r for r in results if r["payload"].startswith("EFI")]
    summary = {
        "benchmark": "payloads",
        "mode": "quick" if args.quick else "full",
        "python": platform.python_version(),
        "results": results,
        "targets": {"decode_per_s": TARGET_RATE, "ratio_vs_xmlschema": TARGET_RATIO},
        "efi_decode_rate_met": all(r["decode_per_s"] >= TARGET_RATE for r in efi_rows),
        "decode_rate_met_all": all(r["decode_per_s"] >= TARGET_RATE for r in results),
        "ratio_met_all": all(r["ratio_decode"] >= TARGET_RATIO for r in results),
        "min_ratio": min(r["ratio_decode"] for r in results),
    }
    print()
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
