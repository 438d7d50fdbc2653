"""Command-line conventions shared by every component (`xmpp-iot registry|provisioning|sensordata`).

Same options everywhere: `--server HOST:PORT`, `--jid`, `--db`, `--allowed-domain`,
`--log-level`; the secret only from XMPP_IOT_COMPONENT_SECRET; logs to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .component import SECRET_ENV


def server_address(text: str) -> tuple[str, int]:
    """Parse HOST:PORT (the server's component port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def add_component_arguments(parser: argparse.ArgumentParser, *, default_db: str) -> None:
    parser.add_argument(
        "--server",
        type=server_address,
        required=True,
        metavar="HOST:PORT",
        help="address of the XMPP server's component port (XEP-0114), e.g. 127.0.0.1:5347",
    )
    parser.add_argument(
        "--jid",
        required=True,
        help="the component's JID as configured on the server, e.g. registry.example.org",
    )
    parser.add_argument(
        "--db",
        default=default_db,
        help=f"SQLite file path, or a postgresql:// URL (default: {default_db})",
    )
    parser.add_argument(
        "--allowed-domain",
        action="append",
        dest="allowed_domains",
        metavar="DOMAIN",
        help="XMPP domain whose users may use this service (repeatable; default: the component's parent domain)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (stanzas are never logged at any level: set XMPP_IOT_LOG_STANZAS=1 to log them while debugging the protocol)",
    )
    parser.epilog = (
        f"The component secret is read from the environment variable {SECRET_ENV}, never from the command line. "
        "The process runs in the foreground, logs to stderr, reconnects with backoff when the server goes away, "
        "and stops cleanly on SIGTERM or SIGINT. Exit status 2 means the server refused the JID or secret."
    )


#: set to 1 to log every stanza (slixmpp's DEBUG output) for protocol debugging
LOG_STANZAS_ENV = "XMPP_IOT_LOG_STANZAS"


def add_sync_argument(parser: argparse.ArgumentParser) -> None:
    """``--sync`` for components that keep their state in SQLite (all of ours)."""
    parser.add_argument(
        "--sync",
        choices=["full", "normal"],
        default="full",
        help="SQLite durability: 'full' survives power loss, 'normal' survives process crashes only",
    )


def setup_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # slixmpp logs every stanza at DEBUG (tokens, the handshake digest) and connection chatter at
    # INFO. Stanzas reach the log only when an operator asks for them by name, never by --log-level.
    slixmpp_log = logging.getLogger("slixmpp")
    if os.environ.get(LOG_STANZAS_ENV) == "1":
        slixmpp_log.setLevel(logging.DEBUG)
        logging.getLogger(__name__).warning(
            "%s=1: every stanza is logged, including tokens; do not keep such logs", LOG_STANZAS_ENV
        )
    else:
        slixmpp_log.setLevel(logging.WARNING)
