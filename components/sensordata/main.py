"""`xmpp-iot sensordata`: run the sensor-data component (historian/concentrator) in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from slixmpp import JID

from xmpp_iot.component import run_forever, secret_from_environment
from xmpp_iot.component_cli import add_component_arguments, add_sync_argument, setup_logging

from .policy import local_gate_for
from .protocol import SensorDataComponent
from .resolution import RAW, Resolution, parse_duration
from .service import Limits
from .store import DEFAULT_RAW_RETENTION, Retention, SeriesStore

log = logging.getLogger("xmpp_iot.sensordata")

_RETAIN_NAMES = [RAW, *(r.short for r in Resolution)]


def retention_rule(text: str) -> tuple[str, float | None]:
    name, sep, duration = text.partition("=")
    if not sep or name not in _RETAIN_NAMES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(_RETAIN_NAMES)}=DURATION, got {text!r}")
    try:
        return name, parse_duration(duration)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_component_arguments(parser, default_db="sensordata.sqlite3")
    for action in parser._actions:
        if action.dest == "db":
            action.help = (
                "SQLite file of the time series (default: sensordata.sqlite3); WAL files sit next to it"
            )
    parser.add_argument(
        "--pubsub", metavar="JID",
        help="the pub/sub service holding the meas/<bare jid> nodes (default: pubsub.<parent domain>)",
    )  # fmt: skip
    parser.add_argument(
        "--node", action="append", default=[], metavar="NODE",
        help="a measurement node to follow, e.g. meas/meter-1@example.org (repeatable; added to discovery)",
    )  # fmt: skip
    parser.add_argument(
        "--no-discover", action="store_true",
        help="follow only the --node nodes; do not list the pub/sub service's nodes (disco#items)",
    )  # fmt: skip
    parser.add_argument(
        "--discover-interval", type=float, default=60.0, metavar="SECONDS",
        help="how often to look for new measurement nodes on the pub/sub service (default 60)",
    )  # fmt: skip
    parser.add_argument(
        "--catch-up", type=int, default=1000, metavar="ITEMS",
        help="items fetched from each node when following it, to fill gaps while the component was down "
        "(default 1000; 0 = none). Items already stored are ignored.",
    )  # fmt: skip
    parser.add_argument(
        "--retain", type=retention_rule, action="append", default=[], metavar="RES=DURATION",
        help="how long to keep each resolution: RES is one of " + ", ".join(_RETAIN_NAMES)
        + "; DURATION like 90s, 15m, 36h, 30d, 8w, 10y or 'forever' (repeatable). Defaults: raw=7d, second=1d, "
        "minute=30d, hour=1y, day and coarser forever.",
    )  # fmt: skip
    parser.add_argument(
        "--prune-interval", type=float, default=300.0, metavar="SECONDS",
        help="how often expired values are deleted (default 300)",
    )  # fmt: skip
    parser.add_argument(
        "--max-nodes", type=int, default=100, help="most nodes in one readout request (default 100)"
    )
    parser.add_argument(
        "--max-values", type=int, default=10_000,
        help="most values in one readout; larger readouts are refused with bad-request (default 10000)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, default=2000, metavar="SAMPLES",
        help="most samples committed in one transaction (default 2000)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-delay", type=float, default=0.05, metavar="SECONDS",
        help="how long received items may wait to be committed together (default 0.05)",
    )  # fmt: skip
    add_sync_argument(parser)
    parser.add_argument(
        "--provisioning", metavar="JID",
        help="provisioning server (XEP-0324) that decides canRead for each device, asked on the device's behalf "
        "(the server must list this component as --trusted-service); without it the local policy applies "
        "(--reader, or with --open-to-domain every account of the allowed domains)",
    )  # fmt: skip
    parser.add_argument(
        "--reader", action="append", default=[], metavar="JID",
        help="local policy: an account that may read every device's data (repeatable; ignored with --provisioning)",
    )  # fmt: skip
    parser.add_argument(
        "--open-to-domain", action="store_true",
        help="without --provisioning or --reader: let EVERY account of the allowed domains read EVERY device's "
        "history. Required to start with neither: the historian refuses to start open by accident.",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    if not (args.provisioning or args.reader or args.open_to_domain):
        log.error(
            "refusing to start: who may read the history is not configured. Give --provisioning JID, or "
            "--reader JID (repeatable), or --open-to-domain to let every account of the allowed domains read "
            "every device's history"
        )
        return 2
    secret = secret_from_environment()
    retention = Retention(
        raw=dict(args.retain).get(RAW, DEFAULT_RAW_RETENTION),
        by_resolution={Resolution.from_short(n): d for n, d in args.retain if n != RAW},
    )
    store = SeriesStore(args.db, synchronous=args.sync.upper())
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sensordata-store")
    host, port = args.server
    pubsub = args.pubsub or "pubsub." + (JID(args.jid).domain.partition(".")[2] or JID(args.jid).domain)

    async def main() -> int:
        gate_for = None if args.provisioning else local_gate_for(args.reader)
        component = SensorDataComponent(
            args.jid, secret, host, port, store, executor,
            pubsub=pubsub, nodes=args.node, discover=not args.no_discover,
            discover_interval=args.discover_interval, catch_up=args.catch_up, gate_for=gate_for,
            provisioning=args.provisioning,
            limits=Limits(max_nodes=args.max_nodes, max_values=args.max_values),
            max_batch=args.batch_size, batch_delay=args.batch_delay, raw_retention=retention.raw,
            allowed_domains=args.allowed_domains,
        )  # fmt: skip
        log.info(
            "sensordata %s: %d nodes in %s; following meas/* on %s",
            args.jid,
            len(store.nodes()),
            args.db,
            pubsub,
        )
        pruner = asyncio.create_task(_prune_forever(store, executor, retention, args.prune_interval))
        try:
            return await run_forever(component)
        finally:
            pruner.cancel()
            await asyncio.gather(pruner, return_exceptions=True)
            try:
                await component.ingestor.stop()  # commit what was received
            except RuntimeError:
                log.exception("could not commit the last received items")
            log.info(
                "sensordata %s: %d items stored, %d refused", args.jid, component.ingestor.received,
                component.ingestor.refused,
            )  # fmt: skip

    try:
        return asyncio.run(main())
    finally:
        executor.shutdown(wait=True)
        store.close()


PRUNE_CHUNK = 20_000  # rows per transaction: ingest batches get the store in between


async def _prune_forever(
    store: SeriesStore, executor: ThreadPoolExecutor, retention: Retention, every: float
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            total: dict[str, int] = {}
            while True:
                now_us = int(time.time() * 1_000_000)
                deleted = await loop.run_in_executor(executor, store.prune, now_us, retention, PRUNE_CHUNK)
                for kind, n in deleted.items():
                    total[kind] = total.get(kind, 0) + n
                if not any(n >= PRUNE_CHUNK for n in deleted.values()):
                    break
            if any(total.values()):
                log.info("pruned expired values: %s", ", ".join(f"{k} {v}" for k, v in total.items() if v))
        except Exception:
            log.exception("pruning failed; retrying later")
        await asyncio.sleep(every)
