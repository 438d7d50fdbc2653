"""`xmpp-iot registry`: run the Thing registry component in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
from urllib.parse import urlsplit, urlunsplit

from slixmpp.jid import JID

from xmpp_iot.component import run_forever, secret_from_environment
from xmpp_iot.component_cli import add_component_arguments, add_sync_argument, setup_logging

from .open_store import open_store
from .protocol import RegistryComponent
from .service import DEFAULT_MAX_RESULTS, DEFAULT_MAX_TAGS, Limits, ThingRegistry

log = logging.getLogger("xmpp_iot.registry")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_component_arguments(parser, default_db="registry.sqlite3")
    parser.add_argument("--max-tags", type=int, default=DEFAULT_MAX_TAGS, help="most meta tags per thing")
    parser.add_argument(
        "--max-results",
        type=int,
        default=DEFAULT_MAX_RESULTS,
        help="largest search page (maxCount is capped)",
    )
    add_sync_argument(parser)
    parser.add_argument(
        "--disown-offline",
        choices=["queue", "refuse"],
        default="queue",
        help="disowning an offline thing: queue the notification until it is back (default), "
        "or refuse with not-allowed as XEP-0347 0.5.1 says",
    )

    parser.add_argument(
        "--provisioning",
        action="append",
        default=[],
        metavar="JID",
        help="provisioning server (XEP-0324) to tell of every claim, disown and remove, over the "
        "ownership feed (repeatable); only these may query ownership records",
    )


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    secret = secret_from_environment()
    store = open_store(args.db, synchronous=args.sync.upper())
    # The search index is a few million objects that live as long as the process: keep the
    # garbage collector from walking them again on every full collection (~10% of the CPU
    # per request at 100k things).
    gc.freeze()
    peers = tuple(JID(p).bare for p in args.provisioning)
    registry = ThingRegistry(store, Limits(max_tags=args.max_tags, max_results=args.max_results), peers)
    host, port = args.server

    async def main() -> int:
        component = RegistryComponent(
            args.jid,
            secret,
            host,
            port,
            registry,
            allowed_domains=args.allowed_domains,
            disown_offline=args.disown_offline,
            provisioning=peers,
        )
        log.info("registry %s: %d things in %s", args.jid, store.count(), _without_password(args.db))
        return await run_forever(component)

    try:
        return asyncio.run(main())
    finally:
        store.close()


def _without_password(db: str) -> str:
    """The --db value fit for a log line: a PostgreSQL URL's password replaced by ***."""
    parts = urlsplit(db)
    if not parts.scheme.startswith("postgres") or parts.password is None:
        return db
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
