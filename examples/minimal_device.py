"""A minimal thing: register meta tags with the registry, print the IoTDisco string an owner
scans, and wait until it is claimed.

    python examples/minimal_device.py --server-info /tmp/xmpp-iot-*/server-info.json
"""

from __future__ import annotations

import asyncio
import secrets

from _devserver import client, parser

from xmpp_iot.discovery import KEY, encode_iotdisco, num_tag, str_tag


async def main() -> None:
    args = parser(__doc__).parse_args()
    serial = secrets.token_hex(4)
    async with client(args.server_info, f"meter-{serial}", secrets.token_urlsafe(12)) as device:
        claimed = asyncio.Event()
        device.xmpp.add_event_handler("iot_claimed", lambda change: (print("claimed by", change.owner), claimed.set()))
        await device.discovery.find_registry()
        tags = [
            str_tag("SN", serial),
            str_tag("MAN", "grid.example"),
            str_tag("CLASS", "SmartMeter"),
            num_tag("V", 1.0),
            str_tag(KEY, secrets.token_hex(16)),
        ]
        owner = await device.discovery.register(tags)
        if owner:
            print("already claimed by", owner)
            return
        print("registered; claim me with:\n  " + encode_iotdisco(tags))
        await claimed.wait()
        await device.discovery.update([str_tag(KEY, "")])  # XEP-0347 §6.7: forget the key after the claim


if __name__ == "__main__":
    asyncio.run(main())
