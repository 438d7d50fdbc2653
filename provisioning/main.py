"""`xmpp-iot provisioning`: run the provisioning server component (XEP-0324) in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from xmpp_iot.component import run_forever, secret_from_environment
from xmpp_iot.component_cli import add_component_arguments, add_sync_argument, setup_logging

from .adhoc import register_commands
from .protocol import ProvisioningComponent
from .service import ProvisioningService
from .sqlite_store import SqliteProvisioningStore
from .tokens import TokenAuthority

log = logging.getLogger("xmpp_iot.provisioning")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_component_arguments(parser, default_db="provisioning.sqlite3")
    parser.add_argument(
        "--registry",
        action="append",
        default=[],
        metavar="JID",
        help="Thing registry whose ownership pushes are accepted (repeatable); owners come only from there",
    )
    parser.add_argument(
        "--pubsub",
        metavar="JID",
        help="the pub/sub service on which this server creates and owns the meas/ and efi/ nodes",
    )
    parser.add_argument(
        "--trusted-service",
        action="append",
        default=[],
        metavar="JID",
        help="a service (e.g. the sensor-data component) that may read every thing and subscribe to every "
        "node (repeatable)",
    )
    parser.add_argument(
        "--admin",
        action="append",
        default=[],
        metavar="JID",
        help="an operator account that may manage every thing's rules and revoke any token (repeatable)",
    )
    parser.add_argument(
        "--signing-key",
        type=Path,
        metavar="PEM",
        help="Ed25519 private key (PKCS#8 PEM) that signs tokens; default: one generated and kept in the database",
    )
    parser.add_argument("--token-lifetime", type=float, default=24 * 3600.0, help="token lifetime in seconds")
    parser.add_argument(
        "--challenge-ttl",
        type=float,
        default=300.0,
        help="how long a getToken challenge stays open (>= 60 s)",
    )
    parser.add_argument(
        "--question-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for an owner's answer before refusing a request no rule decides",
    )
    parser.add_argument(
        "--challenge-tokens",
        action="store_true",
        help="challenge every certificate token once (tokenChallenge through the device that shows it) "
        "before honouring it",
    )
    add_sync_argument(parser)


def load_signing_key(path: Path | None) -> ed25519.Ed25519PrivateKey | None:
    if path is None:
        return None
    if path.stat().st_mode & 0o077:
        log.warning("%s (the token signing key) is readable by other users: chmod 600 it", path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SystemExit(f"error: {path} is not an Ed25519 private key")
    return key


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    secret = secret_from_environment()
    store = SqliteProvisioningStore(args.db, synchronous=args.sync.upper())
    authority = TokenAuthority(
        store,
        args.jid,
        key=load_signing_key(args.signing_key),
        lifetime=args.token_lifetime,
        challenge_ttl=args.challenge_ttl,
    )
    service = ProvisioningService(store, authority, trusted_services=args.trusted_service, admins=args.admin)
    host, port = args.server

    async def main() -> int:
        component = ProvisioningComponent(
            args.jid,
            secret,
            host,
            port,
            service,
            registries=args.registry,
            question_timeout=args.question_timeout,
            allowed_domains=args.allowed_domains,
            pubsub=args.pubsub,
            challenge_tokens=args.challenge_tokens,
        )
        component.register_plugin("xep_0050")
        # xep_0050 empties the command list at every session_bind: (re)announce after each connect
        component.add_event_handler(
            "session_start", lambda _event: register_commands(component, service, component.pubsub)
        )
        things, rules = service.count()
        log.info("provisioning %s: %d owned things, %d rules in %s", args.jid, things, rules, args.db)
        return await run_forever(component)

    try:
        return asyncio.run(main())
    finally:
        store.close()
