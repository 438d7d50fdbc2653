"""Connecting the demo's processes to the running server, from its ``server-info.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..client import IotClient
from ..connection import Endpoint, Security

__all__ = ["ServerAccess", "load_access"]


@dataclass(frozen=True, slots=True)
class ServerAccess:
    domain: str
    host: str
    c2s_port: int
    ca_cert: str
    pubsub_jid: str
    registry_jid: str
    plaintext: bool = False
    provisioning_jid: str = ""  # the provisioning server (XEP-0324) devices delegate trust to

    def endpoint(self) -> Endpoint:
        if self.plaintext:  # benchmarks on loopback only: TLS setup would dominate what is measured
            return Endpoint(self.host, self.c2s_port, Security.insecure_plaintext())
        return Endpoint(self.host, self.c2s_port, Security(tls="starttls", ca_cert=Path(self.ca_cert)))

    def client(self, user: str, password: str, resource: str = "demo", create_account: bool = True) -> IotClient:
        return IotClient(f"{user}@{self.domain}/{resource}", password, self.endpoint(),
                         create_account=create_account, registry=self.registry_jid)

    def jid(self, user: str) -> str:
        return f"{user}@{self.domain}"


def load_access(path: Path | str, plaintext: bool = False) -> ServerAccess:
    info = json.loads(Path(path).read_text())
    domain = info["domain"]
    return ServerAccess(domain=domain, host=info["host"], c2s_port=info["c2s_port"],
                        ca_cert=info.get("ca_cert", ""), pubsub_jid=info.get("pubsub_jid") or f"pubsub.{domain}",
                        registry_jid=f"registry.{domain}", plaintext=plaintext,
                        provisioning_jid=f"provisioning.{domain}")
