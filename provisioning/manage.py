"""`python -m provisioning.manage`: owners and operators manage rules from the command line.

It logs in as the owner (or an administrator) and runs the provisioning server's ad-hoc
commands, so the running server applies the change at once (clearCache, unfriend, pub/sub
subscriptions) exactly as when the owner uses an XMPP client:

    export XMPP_IOT_PASSWORD=...
    python -m provisioning.manage --jid alice@example.org --provisioning provisioning.example.org \\
        add meter1@example.org app@example.org read --names Energy Power
    python -m provisioning.manage ... list meter1@example.org
    python -m provisioning.manage ... remove meter1@example.org 12
    python -m provisioning.manage ... revoke --holder app@example.org
    python -m provisioning.manage ... revoke --token-file - < token.jwt   # or XMPP_IOT_TOKEN=...
    python -m provisioning.manage ... privileges svc@example.org kermit@example.org +Sensors -Sensors.Delete

TLS with certificate verification is used unless --insecure-plaintext (loopback tests only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from xmpp_iot.client import IotClient
from xmpp_iot.component_cli import server_address
from xmpp_iot.connection import Endpoint, Security
from xmpp_iot.errors import ProtocolError
from xmpp_iot.provisioning import client as prov

PASSWORD_ENV = "XMPP_IOT_PASSWORD"
TOKEN_ENV = "XMPP_IOT_TOKEN"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m provisioning.manage", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--jid", required=True, help="your account (the thing's owner, or an administrator)")
    p.add_argument("--provisioning", required=True, help="the provisioning server's JID")
    p.add_argument(
        "--server", type=server_address, help="HOST:PORT of the c2s port (default: the JID's domain:5222)"
    )
    p.add_argument(
        "--ca-cert", type=Path, help="extra trust anchor (private CA or a dev server's certificate)"
    )
    p.add_argument("--insecure-plaintext", action="store_true", help="no TLS (loopback tests only)")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("add", help="add a rule")
    a.add_argument("thing")
    a.add_argument("subject", help="JID, domain, * or cert:<sha256>")
    a.add_argument("action", choices=["friend", "read", "control"])
    a.add_argument("--deny", action="store_true", help="a refusal (the owner is not asked again)")
    a.add_argument("--names", nargs="*", help="only these fields (read) or parameters (control)")
    a.add_argument("--nodes", nargs="*", help="only these nodeIds")
    ls = sub.add_parser("list", help="list a thing's rules")
    ls.add_argument("thing")
    rm = sub.add_parser("remove", help="remove a rule")
    rm.add_argument("thing")
    rm.add_argument("rule", type=int)
    rv = sub.add_parser("revoke", help="revoke a token, or every token of a holder")
    rv.add_argument(
        "--token",
        default="",
        help=f"the token itself (visible to other users in ps: prefer --token-file or ${TOKEN_ENV})",
    )
    rv.add_argument(
        "--token-file", type=Path, metavar="FILE", help="read the token from FILE ('-' for standard input)"
    )
    rv.add_argument("--holder", default="")
    pv = sub.add_parser("privileges", help="set a user's privileges in a service (administrators)")
    pv.add_argument("service")
    pv.add_argument("user")
    pv.add_argument(
        "entries", nargs="*", help="+Privilege.Id to include, -Privilege.Id to exclude; first match wins"
    )
    return p


def token_of(args: argparse.Namespace, environ=os.environ, stdin=None) -> str:
    """The token to revoke: --token-file (or stdin), else $XMPP_IOT_TOKEN, else --token.

    A token on the command line is visible to every local user in ``ps``; a file or the
    environment is not.
    """
    if getattr(args, "token_file", None) is not None:
        if str(args.token_file) == "-":
            return (stdin or sys.stdin).read().strip()
        return args.token_file.read_text().strip()
    return environ.get(TOKEN_ENV, "").strip() or args.token


async def execute(args: argparse.Namespace, password: str) -> str:
    from slixmpp import JID

    if args.insecure_plaintext:
        security = Security.insecure_plaintext()
    else:
        security = Security(ca_cert=args.ca_cert)
    host, port = args.server or (JID(args.jid).domain, 5222)
    async with IotClient(f"{JID(args.jid).bare}/manage", password, Endpoint(host, port, security)) as client:
        x, server = client.xmpp, args.provisioning
        x.register_plugin("xep_0050")
        if args.command == "add":
            rule = await prov.add_rule(x, server, args.thing, args.subject, args.action, allow=not args.deny,
                                       names=args.names or None, nodes=args.nodes or None)  # fmt: skip
            return f"rule {rule} added"
        if args.command == "list":
            rows = await prov.list_rules(x, server, args.thing)
            lines = [f"{r['id']:>6} {r['subject']:<40} {'allow' if r['allow'] == 'true' else 'deny':<5} "
                     f"{r['action']:<8} names={r['names']} nodes={r['nodes']}" for r in rows]  # fmt: skip
            return "\n".join(lines) or "no rules"
        if args.command == "remove":
            await prov.remove_rule(x, server, args.thing, args.rule)
            return f"rule {args.rule} removed"
        if args.command == "revoke":
            return (
                f"{await prov.revoke_token(x, server, token=args.token, holder=args.holder)} token(s) revoked"
            )
        count = await prov.set_privileges(x, server, args.service, args.user, args.entries)
        return f"{count} privilege entries set"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "revoke":
        try:
            args.token = token_of(args)
        except OSError as exc:
            print(f"error: cannot read the token: {exc}", file=sys.stderr)
            return 2
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        print(f"error: set the account's password in {PASSWORD_ENV}", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(execute(args, password)))
    except ProtocolError as exc:
        print(f"error: {exc.condition}: {exc.text}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
