"""A minimal application: find every public smart meter in the registry, page by page.

    python examples/minimal_app.py --server-info .../server-info.json
"""

from __future__ import annotations

import asyncio
import secrets

from _devserver import client, parser

from xmpp_iot.discovery import eq


async def main() -> None:
    args = parser(__doc__).parse_args()
    async with client(args.server_info, f"app-{secrets.token_hex(3)}", secrets.token_urlsafe(12)) as app:
        await app.discovery.find_registry()
        async for thing in app.discovery.search_all([eq("CLASS", "SmartMeter")]):
            tags = {name: tag.value for name, tag in thing.tags.items()}
            print(thing.jid, "owned by", thing.owner, tags)


if __name__ == "__main__":
    asyncio.run(main())
