"""`IotClient`: a slixmpp client with the xmpp-iot plugins, as an async context manager.

    async with IotClient("meter1@example.org", password, Endpoint(host, 5222)) as client:
        await client.discovery.find_registry()

TLS with certificate verification unless the Endpoint says otherwise. With
`create_account=True` the account is created by in-band registration (XEP-0077) first,
which is how a dev server or a provisioning line brings a new device online.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from slixmpp.exceptions import IqError, IqTimeout

from .connection import ConnectError, Endpoint, new_client, start_session, stop_session
from .control import plugin as control_plugin
from .discovery import plugin as discovery_plugin
from .sensordata import plugin as sensordata_plugin

log = logging.getLogger(__name__)

DEFAULT_PLUGINS = ("xep_0030", "xep_0004", "xep_0060", "xep_0199")


class IotClient:
    """One XMPP session of a device, an owner or an application."""

    def __init__(
        self,
        jid: str,
        password: str,
        endpoint: Endpoint,
        *,
        create_account: bool = False,
        registry: str | None = None,
        connect_timeout: float = 15.0,
    ) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.xmpp = new_client(jid, password, endpoint.security)
        for name in DEFAULT_PLUGINS:
            self.xmpp.register_plugin(name)
        self.xmpp.register_plugin("iot_discovery", pconfig={"registry": registry})
        if create_account:
            self._enable_inband_registration(password)

    @property
    def jid(self):
        return self.xmpp.boundjid

    @property
    def discovery(self) -> discovery_plugin.XEP_0347:
        return self.xmpp.plugin["iot_discovery"]

    @property
    def sensordata(self) -> sensordata_plugin.XEP_0323:
        """XEP-0323 readouts: serve them as a device, request them as an application."""
        return self._plugin("iot_sensordata")

    @property
    def control(self) -> control_plugin.XEP_0325:
        """XEP-0325 control: serve parameters as a device, set them as an application."""
        return self._plugin("iot_control")

    def _plugin(self, name: str):
        """Register a plugin on first use: a meter that never controls anything pays nothing."""
        if name not in self.xmpp.plugin:
            self.xmpp.register_plugin(name)
        return self.xmpp.plugin[name]

    async def connect(self, send_presence: bool = True) -> IotClient:
        await start_session(self.xmpp, self.endpoint, self.connect_timeout)
        if getattr(self, "_registration_error", None):
            await stop_session(self.xmpp)
            raise ConnectError(
                f"{self.xmpp.boundjid.bare}: account registration failed: {self._registration_error}"
            )
        if send_presence:
            self.xmpp.send_presence()  # pub/sub delivers to bare-JID subscribers only when available
        return self

    async def close(self) -> None:
        await stop_session(self.xmpp)

    async def __aenter__(self) -> IotClient:
        return await self.connect()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _enable_inband_registration(self, password: str) -> None:
        self.xmpp.register_plugin("xep_0077")
        self.xmpp.plugin["xep_0077"].force_registration = True
        self._registration_error: str | None = None

        async def on_register(_form: object) -> None:
            iq = self.xmpp.Iq()
            iq["type"] = "set"
            iq["register"]["username"] = self.xmpp.boundjid.user
            iq["register"]["password"] = password
            try:
                await iq.send(timeout=self.connect_timeout)
            except IqError as exc:
                if exc.iq["error"]["condition"] != "conflict":  # exists already: just log in
                    self._registration_error = exc.iq["error"]["condition"]
            except IqTimeout:
                self._registration_error = "timeout"

        self.xmpp.add_event_handler("register", on_register)


async def connect_all(clients: list[IotClient]) -> list[IotClient]:
    """Connect many clients concurrently (tests, demos)."""
    return list(await asyncio.gather(*(c.connect() for c in clients)))
