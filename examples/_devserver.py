"""Shared by the examples: connect to a running `xmpp-iot devserver` (reads its server-info.json).

The dev server uses a self-signed certificate; the examples trust exactly that certificate
(TLS and verification stay on).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xmpp_iot.client import IotClient
from xmpp_iot.connection import Endpoint, Security


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--server-info", type=Path, required=True, help="server-info.json written by xmpp-iot devserver")
    return p


def client(info_path: Path, user: str, password: str) -> IotClient:
    info = json.loads(info_path.read_text())
    endpoint = Endpoint(info["host"], info["c2s_port"], Security(tls="starttls", ca_cert=Path(info["ca_cert"])))
    return IotClient(
        f"{user}@{info['domain']}/example",
        password,
        endpoint,
        create_account=True,
        registry=f"registry.{info['domain']}",
    )
