"""`xmpp-iot devserver`: a throwaway Prosody or ejabberd on loopback, in one line.

Prints where to connect; the component secrets go to a 0600 JSON file, never to the
terminal. With `--component registry` (repeatable) it also runs our components against the
server, as subprocesses, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import time
from pathlib import Path

from . import SERVER_KINDS, DevServerError, make_devserver
from .base import DEFAULT_COMPONENTS
from .processes import ComponentProcess
from .wiring import component_args, start_order

log = logging.getLogger("xmpp_iot.devserver")

KNOWN_COMPONENTS = ("registry", "provisioning", "sensordata")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind", choices=sorted(SERVER_KINDS), default="prosody", help="which XMPP server to run"
    )
    parser.add_argument(
        "--workdir", type=Path, help="directory for config, data and logs (default: a temp dir)"
    )
    parser.add_argument("--domain", default="localhost", help="XMPP domain (default: localhost)")
    parser.add_argument(
        "--user", action="append", default=[], metavar="NAME:PASSWORD", help="create an account (repeatable)"
    )
    parser.add_argument(
        "--component",
        action="append",
        default=[],
        choices=KNOWN_COMPONENTS,
        help="also run this xmpp-iot component against the server (repeatable)",
    )
    parser.add_argument(
        "--admin", action="append", default=[], metavar="JID",
        help="with --component provisioning: an operator account that may manage every thing's rules (repeatable)",
    )
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"xmpp-iot-{args.kind}-"))
    server = make_devserver(args.kind, workdir, domain=args.domain, components=DEFAULT_COMPONENTS)
    children: list[ComponentProcess] = []
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        info = server.start()
        for spec in args.user:
            name, _, password = spec.partition(":")
            server.add_user(name, password)
        info_file = workdir / "server-info.json"
        info_file.write_text(info.to_json())
        info_file.chmod(0o600)
        running = set(args.component)
        for name in start_order(args.component):
            children.append(_start_component(name, info, workdir, component_args(name, info, running, admins=args.admin)))
        print(
            f"{args.kind} is running on 127.0.0.1\n"
            f"  domain          {info.domain}\n"
            f"  c2s (STARTTLS)  {info.c2s_port}\n"
            f"  c2s (direct TLS){info.c2s_tls_port:>6}\n"
            + "".join(f"  component       {jid} on port {info.port_for(jid)}\n" for jid in info.components)
            + f"  pub/sub         {info.pubsub_jid}\n"
            f"  CA certificate  {info.ca_cert}\n"
            f"  secrets, ports  {info_file} (mode 0600)\n"
            f"  running         {', '.join(args.component) or 'no components'}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stopping and (deadline is None or time.monotonic() < deadline):
            if not server.running:
                print("error: the XMPP server exited; see " + str(workdir), file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    except DevServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in children:
            child.stop()
        server.stop()
        print("stopped", flush=True)


def _start_component(name: str, info, workdir: Path, extra_args: list[str]) -> ComponentProcess:
    jid = info.component_jid(name)
    process = ComponentProcess(
        name, info, jid=jid, db=workdir / f"{name}.sqlite3", log_path=workdir / f"{name}.log",
        extra_args=extra_args,
    )
    return process.start(wait=True)
