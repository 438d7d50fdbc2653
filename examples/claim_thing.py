"""An owner claims a thing from its IoTDisco (QR code) string, privately or publicly.

    python examples/claim_thing.py --server-info .../server-info.json 'IoTDisco;SN:...;KEY:...'
"""

from __future__ import annotations

import asyncio
import secrets

from _devserver import client, parser

from xmpp_iot.discovery import decode_iotdisco


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("iotdisco", help="the string from the thing's QR code")
    p.add_argument("--private", action="store_true", help="keep the thing out of other people's searches")
    args = p.parse_args()
    async with client(args.server_info, f"owner-{secrets.token_hex(3)}", secrets.token_urlsafe(12)) as owner:
        await owner.discovery.find_registry()
        claim = await owner.discovery.claim(decode_iotdisco(args.iotdisco), public=not args.private)
        print("now owning", claim.jid, claim.node.attributes() or "")


if __name__ == "__main__":
    asyncio.run(main())
