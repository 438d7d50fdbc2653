"""XEP-0323 readout: a smart meter answers an application's readouts, current and historical.

Both run in this one process (two XMPP accounts) so the example is self-contained:

    python examples/readout.py --server-info /tmp/xmpp-iot-*/server-info.json
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from datetime import UTC, datetime, timedelta

from _devserver import client, parser

import xmpp_iot.sensordata  # noqa: F401  (registers the iot_sensordata plugin)
from xmpp_iot.sensordata import DeviceSource, LocalHistory, LocalPolicyGate, readings_from_fields


class SimulatedMeter:
    """Stands in for the hardware: a three-phase meter with a slowly varying load."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.energy_wh = 12_345.0

    def voltage(self, phase: int) -> float:
        return 230.0 + 2.0 * math.sin(time.monotonic() + phase)

    def power(self) -> float:
        self.energy_wh += 0.5
        return 1_500.0 + 300.0 * math.sin(time.monotonic() / 3)


def declare_fields(source: DeviceSource, meter: SimulatedMeter) -> None:
    """Field names follow our measurement model (quantity[.phase]) so readouts and pub/sub agree."""
    for i, phase in enumerate(("L1", "L2", "L3")):
        source.add_field(f"voltage.{phase}", lambda i=i: meter.voltage(i), unit="V", nr_decimals=1)
    source.add_field("active_power.total", meter.power, unit="W", nr_decimals=0)
    source.add_field("energy_import", lambda: meter.energy_wh, unit="Wh", nr_decimals=1)
    source.add_field("SerialNumber", lambda: "MTR-0042", types=("identity",))
    source.add_field("RelayClosed", lambda: True, types=("status",), writable=True)


async def main() -> None:
    args = parser(__doc__).parse_args()
    tag = secrets.token_hex(3)
    device = client(args.server_info, f"meter-{tag}", secrets.token_urlsafe(12))
    app = client(args.server_info, f"app-{tag}", secrets.token_urlsafe(12))
    async with device, app:
        for c in (device, app):
            c.xmpp.register_plugin("iot_sensordata")
        # device side: fields, a bounded local history, and who may read (only the app, nobody else)
        source = DeviceSource(history=LocalHistory(max_per_field=100, period="historicalSecond"))
        declare_fields(source, SimulatedMeter())
        device.xmpp.plugin["iot_sensordata"].serve(source, LocalPolicyGate(device.xmpp, allow=[app.jid.bare]))
        start = datetime.now(UTC)
        for _ in range(3):  # a real device samples on a timer
            await source.sample()
            await asyncio.sleep(0.2)

        # application side
        sd = app.xmpp.plugin["iot_sensordata"]
        now = await sd.read(device.jid, types=["momentary", "identity", "status"], timeout=10)
        for name, f in sorted(now.by_name().items()):
            print(f"momentary {name} = {f.lexical} {f.unit}".rstrip())
        history = await sd.read(device.jid, fields=["active_power.total"], types=["historical"],
                                from_=start - timedelta(seconds=1), timeout=10)
        print(f"historical active_power.total: {len(history.fields)} values")
        readings = readings_from_fields(now.fields)
        print("as measurement readings:", ", ".join(f"{r.field_name}={r.value:.1f}{r.unit.value}" for r in readings))


if __name__ == "__main__":
    asyncio.run(main())
