"""The command-line shell both demo apps share: common options, logging, signals.

The apps themselves (``examples/state_estimation.py``, ``examples/demand_response.py``) only
add their own options and their ``run(stop)``; how they start and stop is the same.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from .events import use_json


def app_parser(description: str, default_user: str) -> argparse.ArgumentParser:
    """A parser with the options every app has; the app adds its own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--server-info", type=Path, required=True, help="server-info.json of xmpp-iot devserver/demo")
    p.add_argument("--feeder", default="feeder1")
    p.add_argument("--user", default=default_user)
    p.add_argument("--password", default=os.environ.get("XMPP_IOT_APP_PASSWORD") or secrets.token_urlsafe(12),
                   help="default: $XMPP_IOT_APP_PASSWORD (keeps it out of the process list)")
    p.add_argument("--discovery-period", type=float, default=3.0)
    p.add_argument("--plaintext", action="store_true", help="no TLS (loopback benchmarks only)")
    p.add_argument("--events", action="store_true", help="JSON event lines on stdout")
    return p


async def run_until_stopped(run: Callable[[asyncio.Event], Awaitable[object]], events: bool) -> int:
    """Log to stderr, emit events as JSON if asked, and run until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("slixmpp").setLevel(logging.WARNING)
    use_json(events)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await run(stop)
    return 0
