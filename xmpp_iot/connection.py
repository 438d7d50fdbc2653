"""Connecting clients and components: TLS settings, start with a deadline, clean stop.

TLS with certificate verification is the default. Turning it off is an explicit
`Security.insecure_plaintext()` (tests on loopback may opt out; production must not).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from slixmpp import ClientXMPP, ComponentXMPP
from slixmpp.basexmpp import BaseXMPP

log = logging.getLogger(__name__)

TlsMode = Literal["starttls", "direct", "plaintext"]

CONNECT_FAILURE_EVENTS = ("failed_all_auth", "ssl_invalid_chain", "stream_error", "session_end")


class ConnectError(ConnectionError):
    """The client or component could not establish a session."""


@dataclass(frozen=True, slots=True)
class Security:
    """How a client protects its stream.

    `ca_cert` adds a trust anchor (for a private CA or a dev server's self-signed
    certificate); verification and hostname checks stay on.
    """

    tls: TlsMode = "starttls"
    ca_cert: Path | None = None
    verify: bool = True

    @classmethod
    def insecure_plaintext(cls) -> Security:
        """No TLS at all: only for tests on loopback, never across a network."""
        return cls(tls="plaintext", verify=False)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to connect: the server's address (the JID's domain may differ, e.g. in tests)."""

    host: str
    port: int
    security: Security = field(default_factory=Security)


@functools.lru_cache(maxsize=32)
def ssl_context_for(security: Security) -> ssl.SSLContext:
    """One TLS context per policy, shared by every client that uses it.

    slixmpp builds a context (and loads the system CA store) per client object: about 70 ms of
    CPU and 0.5 MB each, which a gateway or simulator with thousands of sessions cannot afford.
    """
    context = ssl.create_default_context()
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if security.ca_cert is not None:
        context.load_verify_locations(cafile=str(security.ca_cert))
    if not security.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def new_client(jid: str, password: str, security: Security) -> ClientXMPP:
    """A slixmpp client with the shared TLS context of its policy, configured by configure_client."""
    client = ClientXMPP(jid, password, ssl_context=ssl_context_for(security))
    configure_client(client, security)
    return client


def configure_client(client: ClientXMPP, security: Security) -> None:
    """Apply a Security policy to a slixmpp client before it connects."""
    if security.tls == "plaintext":
        client.enable_direct_tls = False
        client.enable_starttls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_scram = True
        return
    client.enable_plaintext = False
    client.enable_direct_tls = security.tls == "direct"
    client.enable_starttls = security.tls == "starttls"
    shared = client.ssl_context is ssl_context_for(security)
    if security.ca_cert is not None and not shared:
        client.ca_certs = Path(security.ca_cert)
    if not security.verify:
        log.warning("TLS certificate verification is OFF for %s", client.boundjid.bare)
        if not shared:
            client.ssl_context.check_hostname = False
            client.ssl_context.verify_mode = ssl.CERT_NONE


async def start_session(xmpp: BaseXMPP, endpoint: Endpoint | None = None, timeout: float = 15.0) -> None:
    """Connect and wait for `session_start`; raise ConnectError on failure or timeout.

    slixmpp itself retries forever; a caller usually wants to know within seconds.
    """
    loop = asyncio.get_running_loop()
    started: asyncio.Future[None] = loop.create_future()

    def ok(_event: object) -> None:
        if not started.done():
            started.set_result(None)

    def failed(name: str):
        def handler(event: object) -> None:
            if not started.done():
                started.set_exception(ConnectError(f"{xmpp.boundjid}: {name}: {_describe(event)}"))

        return handler

    def connection_failed(event: object) -> None:
        # A certificate that does not verify will not verify on the next attempt either.
        if isinstance(event, ssl.SSLError) and not started.done():
            started.set_exception(ConnectError(f"{xmpp.boundjid}: TLS failed: {event}"))

    handlers = [("session_start", ok), ("connection_failed", connection_failed)]
    handlers += [(ev, failed(ev)) for ev in CONNECT_FAILURE_EVENTS]
    for name, handler in handlers:
        xmpp.add_event_handler(name, handler)
    try:
        if isinstance(xmpp, ComponentXMPP) or endpoint is None:
            xmpp.connect()
        else:
            xmpp.connect(endpoint.host, endpoint.port)
        await asyncio.wait_for(started, timeout)
    except TimeoutError as exc:
        xmpp.cancel_connection_attempt()
        xmpp.abort()
        raise ConnectError(f"{xmpp.boundjid}: no session within {timeout:.0f} s") from exc
    except ConnectError:
        xmpp.cancel_connection_attempt()
        xmpp.abort()
        raise
    finally:
        for name, handler in handlers:
            xmpp.del_event_handler(name, handler)


async def stop_session(*streams: BaseXMPP, wait: float = 1.0) -> None:
    """Disconnect streams and finish slixmpp's background tasks (no 'Task was destroyed')."""
    await asyncio.gather(*(x.disconnect(wait=wait) for x in streams), return_exceptions=True)
    tasks = [t for x in streams if (t := getattr(x, "_run_out_filters", None)) and not t.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _describe(event: object) -> str:
    try:
        if hasattr(event, "get") and event.get("condition"):
            return f"{event['condition']} {event['text']}".strip()
    except Exception:
        pass
    return str(event)
