"""`xmpp-iot demo`: the whole platform on this machine, until Ctrl-C or for ``--duration`` seconds.

    xmpp-iot demo                          # Prosody, the shipped neighbourhood
    xmpp-iot demo --kind ejabberd --households 20 --duration 60
    xmpp-iot demo --config my-feeder.toml
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from ..devserver import SERVER_KINDS
from .config import ConfigError, load_config
from .orchestrator import DemoOptions, Orchestrator, PreflightError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", "--server-kind", dest="kind", choices=sorted(SERVER_KINDS), default="prosody",
                        help="which XMPP server to run (default: prosody)")
    parser.add_argument("--config", type=Path, help="neighbourhood TOML (default: the shipped one)")
    parser.add_argument("--households", type=int, help="override households.count")
    parser.add_argument("--duration", type=float, help="run this many seconds, print a summary, exit 0")
    parser.add_argument("--workdir", type=Path, help="directory for config, logs and data (default: a temp dir)")
    parser.add_argument("--c2s-port", type=int, help="client port (default: a free one)")
    parser.add_argument("--component-port", type=int, help="component port (default: a free one)")
    parser.add_argument("--without", action="append", default=[], choices=["provisioning", "sensordata"],
                        help="do not start this component (repeatable)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        if args.households is not None:
            config = config.replace(households={"count": args.households})
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.duration is not None and args.duration <= 0:
        print("error: --duration must be > 0", file=sys.stderr)
        return 2
    options = DemoOptions(
        kind=args.kind, workdir=args.workdir, duration=args.duration, c2s_port=args.c2s_port,
        component_port=args.component_port,
        components=tuple(c for c in ("registry", "provisioning", "sensordata") if c not in args.without),
    )
    orchestrator = Orchestrator(config, options)
    try:
        return asyncio.run(orchestrator.run())
    except PreflightError as exc:
        print(f"error: {exc}\nnothing was started.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
