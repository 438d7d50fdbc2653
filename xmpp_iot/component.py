"""The common shape of every xmpp-iot server component (XEP-0114).

`IotComponent` is a slixmpp ComponentXMPP that maps our exception family to stanza errors in
one place, refuses senders from foreign domains, and advertises its disco features.
`run_forever` keeps it connected: reconnect with capped exponential backoff when the server
goes away, exit non-zero when the server refuses the secret, stop cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterable

from slixmpp import ComponentXMPP, Iq, Presence
from slixmpp.jid import JID
from slixmpp.xmlstream.handler import Callback, CoroutineCallback
from slixmpp.xmlstream.matcher import StanzaPath

from .connection import ConnectError, start_session, stop_session
from .errors import Forbidden, InternalServerError, ProtocolError, reply_error

log = logging.getLogger(__name__)

SECRET_ENV = "XMPP_IOT_COMPONENT_SECRET"
FATAL_STREAM_ERRORS = ("not-authorized", "host-unknown")

IqHandler = Callable[[Iq], Awaitable[Iq | None] | Iq | None]


class SecretRefused(ConnectError):
    """The XMPP server refused the component's name or secret: retrying cannot help."""


def secret_from_environment(env: str = SECRET_ENV) -> str:
    """Read the component secret from the environment; never from the command line."""
    secret = os.environ.get(env, "")
    if not secret:
        raise SystemExit(f"error: set the component secret in the environment variable {env}")
    return secret


class IotComponent(ComponentXMPP):
    """A component with error mapping, sender policy and disco, for our services to build on."""

    identity_category = "component"
    identity_type = "generic"
    identity_name = "xmpp-iot component"
    features: tuple[str, ...] = ()

    def __init__(
        self,
        jid: str,
        secret: str,
        host: str,
        port: int,
        *,
        allowed_domains: Iterable[str] | None = None,
    ) -> None:
        super().__init__(jid, secret, host, port, fix_error_ns=True)
        parent = self.boundjid.domain.partition(".")[2] or self.boundjid.domain
        self.allowed_domains = frozenset(allowed_domains or (parent,)) | {self.boundjid.domain}
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")  # answer pings: monitoring checks the component is alive
        self.add_event_handler("session_start", self._announce)
        disco = self.plugin["xep_0030"]
        disco.add_identity(self.identity_category, self.identity_type, self.identity_name, jid=self.boundjid)
        for feature in self.features:
            disco.add_feature(feature, jid=self.boundjid)

    def _announce(self, _event: object) -> None:
        log.info("%s connected to %s:%s", self.boundjid, self.server_host, self.server_port)

    # -- handler registration ---------------------------------------------------------------
    def handle_iq(self, name: str, path: str, handler: IqHandler) -> None:
        """Route IQs matching a StanzaPath to `handler`, which returns the reply or raises.

        The handler returns an Iq (sent as the reply), None (it answered itself), or raises a
        ProtocolError (sent as a stanza error). Anything else is a bug: logged, and the sender
        gets internal-server-error instead of silence.
        """
        if inspect.iscoroutinefunction(handler):

            async def run_async(iq: Iq) -> None:
                if self._sender_allowed(iq):
                    await self.answer_async(handler, iq)

            self.register_handler(CoroutineCallback(name, StanzaPath(path), run_async))
            return

        def run(iq: Iq) -> None:
            if self._sender_allowed(iq):
                self.answer(handler, iq)

        self.register_handler(Callback(name, StanzaPath(path), run))

    def answer(self, handler: IqHandler, iq: Iq) -> None:
        """Run a handler and send its reply, or the error its failure maps to."""
        try:
            reply = handler(iq)
        except Exception as exc:
            reply = self.failure_reply(iq, exc)
        if reply is not None:
            self.send_reply(reply)

    async def answer_async(self, handler: IqHandler, iq: Iq) -> None:
        """`answer` for a coroutine handler."""
        try:
            reply = await handler(iq)  # type: ignore[misc]
        except Exception as exc:
            reply = self.failure_reply(iq, exc)
        if reply is not None:
            self.send_reply(reply)

    def send_reply(self, reply: Iq) -> None:
        """Send a handler's reply; a component may write it faster (see the registry)."""
        reply.send()

    def failure_reply(self, iq: Iq, exc: Exception) -> Iq:
        """The error answering a request whose handler raised: the ProtocolError's own condition,
        or internal-server-error (logged with its traceback) for anything unexpected."""
        if isinstance(exc, ProtocolError):
            log.info("%s -> %s: %s %s", iq["from"], iq["id"], exc.condition, exc.text)
            return reply_error(iq, exc)
        log.error("%s: failed on %s from %s", self.boundjid, iq["id"], iq["from"], exc_info=exc)
        return reply_error(iq, InternalServerError("unexpected failure"))

    def _sender_allowed(self, stanza: Iq | Presence) -> bool:
        sender: JID = stanza["from"]
        if sender.domain in self.allowed_domains or sender.domain.endswith(
            tuple("." + d for d in self.allowed_domains)
        ):
            return True
        log.warning("%s: refusing %s from foreign domain %s", self.boundjid, stanza.name, sender.domain)
        if isinstance(stanza, Iq) and stanza["type"] in ("get", "set"):
            reply_error(stanza, Forbidden("this service is for local accounts only")).send()
        return False


async def run_forever(
    component: ComponentXMPP,
    *,
    stop: asyncio.Event | None = None,
    connect_timeout: float = 10.0,
    max_backoff: float = 30.0,
    install_signal_handlers: bool = True,
) -> int:
    """Keep the component connected until `stop` is set or a signal arrives; return an exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if install_signal_handlers:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    fatal: list[str] = []

    def on_stream_error(error: object) -> None:
        condition = error["condition"] if hasattr(error, "get") else str(error)
        if condition in FATAL_STREAM_ERRORS:
            fatal.append(condition)

    component.add_event_handler("stream_error", on_stream_error)
    backoff = 0.5
    try:
        while not stop.is_set():
            disconnected = asyncio.Event()

            def on_disconnect(_event: object, disconnected: asyncio.Event = disconnected) -> None:
                disconnected.set()

            component.add_event_handler("disconnected", on_disconnect)
            try:
                await start_session(component, timeout=connect_timeout)
            except ConnectError as exc:
                component.del_event_handler("disconnected", on_disconnect)
                if fatal:
                    log.error(
                        "%s: the server refused the component (%s): check the JID and the secret in %s",
                        component.boundjid,
                        fatal[0],
                        SECRET_ENV,
                    )
                    return 2
                log.warning("%s: cannot connect (%s); retrying in %.1f s", component.boundjid, exc, backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(max_backoff, backoff * 2)
                continue
            backoff = 0.5
            await _first(stop.wait(), disconnected.wait())
            component.del_event_handler("disconnected", on_disconnect)
            if fatal:
                log.error("%s: stream closed by the server (%s)", component.boundjid, fatal[0])
                return 2
            if not stop.is_set():
                log.warning("%s: disconnected from the server; reconnecting", component.boundjid)
    finally:
        await stop_session(component)
        if install_signal_handlers:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
    log.info("%s stopped", component.boundjid)
    return 0


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _first(*aws: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
