"""The energy app's side of EFI over XMPP (an EFI CEM on an IotClient).

    app = EnergyApp(client)
    view = await app.follow("heatpump-1@dso.example")    # subscribe, catch up, find the driver
    async for event in app.events():                      # typed messages of every followed device
        ...
    await app.instruct(StorageInstruction(...))           # IQ set; stanza errors raise ProtocolError
    await app.wait_status("heatpump-1@dso.example", "i-1", InstructionStatus.SUCCEEDED)

Following a device means: subscribe to its node ``efi/<bare jid>``, fetch the items it holds (the
registration and the newest message of each kind) and replay them in time order, and ask for the
device's presence, because instructions go to the driver's *full* JID and presence is how XMPP tells
it (the driver's session that advertises the EFI feature).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from slixmpp import JID
from slixmpp.basexmpp import BaseXMPP
from slixmpp.exceptions import IqError, IqTimeout

from ...errors import ItemNotFound, send_iq
from ...nodes import FLEXIBILITY_PREFIX, device_of, flexibility_node
from ...pubsub import PayloadItem, PubSub, stream_safe
from ...trust import Tokens
from ..codec import EFI_NS, EfiCodec
from ..enums import InstructionStatus
from ..errors import PayloadError
from ..ledger import FlexibilityLedger
from ..messages import (
    EfiMessage,
    FlexibilityRegistration,
    FlexibilityRevoke,
    FlexibilityUpdate,
    Instruction,
    InstructionRevoke,
    InstructionStatusUpdate,
    Measurement,
)
from ..status import is_allowed
from .protocol import replay_order, with_tokens

__all__ = ["DeviceView", "EnergyApp", "FlexibilityEvent"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FlexibilityEvent:
    """One message a followed device published (``device``: its bare JID)."""

    device: str
    message: EfiMessage


@dataclass(slots=True)
class DeviceView:
    """What the app knows about one device: its registration, the valid updates by kind, the
    newest measurement and the last status of each instruction."""

    device: str
    registration: FlexibilityRegistration | None = None
    updates: dict[str, FlexibilityUpdate] = field(default_factory=dict)
    measurement: Measurement | None = None
    statuses: dict[str, InstructionStatus] = field(default_factory=dict)
    driver: str | None = None  # full JID instructions go to, once known
    revoked_at: datetime | None = None  # time of the newest FlexibilityRevoke seen

    @property
    def resource_id(self) -> str | None:
        return self.registration.efi_resource_id if self.registration else None


class EnergyApp:
    """Subscribe to flexibility, send instructions, follow their status."""

    def __init__(self, client, *, pubsub: PubSub | None = None, codec: EfiCodec | None = None,
                 timeout: float = 10.0) -> None:
        self.xmpp: BaseXMPP = getattr(client, "xmpp", client)
        self.codec = codec or EfiCodec()
        self.pubsub = pubsub or PubSub(self.xmpp, timeout=timeout)
        self.timeout = timeout
        self.ledger = FlexibilityLedger()
        self.views: dict[str, DeviceView] = {}
        self._latest: dict[tuple[str, str], EfiMessage] = {}
        self._listeners: list[asyncio.Queue[FlexibilityEvent]] = []
        self._callbacks: list[Callable[[FlexibilityEvent], object]] = []
        self._changed = asyncio.Event()
        self.pubsub.on_payload(FLEXIBILITY_PREFIX, self.codec, self._on_item)

    # -- following ----------------------------------------------------------------------------
    async def follow(self, device: str | JID) -> DeviceView:
        """Subscribe to a device's flexibility and catch up with what its node holds.

        Where the node owner approves subscriptions (``authorize``), waits up to ``timeout`` for it."""
        bare = JID(str(device)).bare
        view = self.views.setdefault(bare, DeviceView(bare))
        node = flexibility_node(bare)
        self.xmpp.send_presence_subscription(pto=bare)  # the driver's full JID comes with its presence
        state = await self.pubsub.subscribe(node, wait_approval=self.timeout)
        if state != "subscribed":  # not decided in time (or refused): no catch-up now
            log.warning("%s: subscription to %s is %s; call catch_up() once approved", self.xmpp.boundjid, node,
                        state)
            return view
        await self.catch_up(bare)
        return view

    async def catch_up(self, device: str | JID) -> None:
        """Fetch the items a followed device's node holds and replay them in time order."""
        bare = JID(str(device)).bare
        items = await self.pubsub.fetch_payloads(flexibility_node(bare), self.codec)
        for item in sorted(items, key=lambda i: replay_order(i.payload)):
            self._apply(bare, item.item_id, item.payload)

    async def unfollow(self, device: str | JID) -> None:
        bare = JID(str(device)).bare
        await self.pubsub.unsubscribe(flexibility_node(bare))
        self.views.pop(bare, None)

    def view(self, device: str | JID) -> DeviceView:
        return self.views[JID(str(device)).bare]

    def on_event(self, callback: Callable[[FlexibilityEvent], object]) -> None:
        """Call ``callback(event)`` for every new message of a followed device."""
        self._callbacks.append(callback)

    async def events(self) -> AsyncIterator[FlexibilityEvent]:
        """New messages of followed devices, as they arrive."""
        queue: asyncio.Queue[FlexibilityEvent] = asyncio.Queue()
        self._listeners.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners.remove(queue)

    # -- instructing --------------------------------------------------------------------------
    async def instruct(self, instruction: Instruction, *, device: str | None = None, to: str | None = None,
                       check: bool = True, tokens: Tokens | None = None) -> None:
        """Send an instruction; returns when the driver acknowledged it, raises ProtocolError
        (BadRequest, ItemNotFound, ...) when it refused it.

        ``device`` (bare JID) is found from ``efi_resource_id`` among followed devices when omitted;
        ``to`` overrides the driver's full JID. ``check=False`` skips the local check that the
        flexibilityUpdateId is one the device published (to let the driver decide). ``tokens``
        (XEP-0324) travel with the instruction for the driver's canControl check.
        """
        if check:
            try:
                self.ledger.check(instruction)
            except PayloadError as exc:
                raise ItemNotFound(str(exc)) from None
        await self._send(instruction, device, to, tokens)
        view = self._view_for(instruction.efi_resource_id, device)
        if view is not None:
            view.statuses.pop(instruction.instruction_id, None)

    async def revoke(self, revoke: InstructionRevoke, *, device: str | None = None, to: str | None = None,
                     tokens: Tokens | None = None) -> None:
        """Withdraw an instruction; the driver then reports it REJECTED or ABORTED."""
        await self._send(revoke, device, to, tokens)

    async def send_raw(self, element, *, to: str) -> None:
        """Send any element as an EFI IQ set (tests of bad input; no local validation)."""
        iq = self.xmpp.make_iq_set(ito=to)
        iq.xml.append(stream_safe(element))
        await send_iq(iq, self.timeout)

    async def driver_jid(self, device: str | JID, timeout: float | None = None) -> str:
        """The full JID of the device's session that advertises EFI (waits for its presence)."""
        bare = JID(str(device)).bare
        view = self.views.setdefault(bare, DeviceView(bare))
        if view.driver:
            return view.driver
        disco = self.xmpp.plugin["xep_0030"]
        async with asyncio.timeout(timeout or self.timeout):
            while True:
                for resource in list(self.xmpp.client_roster[bare].resources):
                    full = f"{bare}/{resource}"
                    try:
                        info = await disco.get_info(jid=full, timeout=self.timeout)
                    except (IqError, IqTimeout):
                        continue
                    if EFI_NS in info["disco_info"]["features"]:
                        view.driver = full
                        return full
                await asyncio.sleep(0.05)

    # -- status -------------------------------------------------------------------------------
    def status_of(self, device: str | JID, instruction_id: str) -> InstructionStatus | None:
        return self.view(device).statuses.get(instruction_id)

    async def wait_status(self, device: str | JID, instruction_id: str, status: InstructionStatus,
                          timeout: float | None = None) -> None:
        """Wait until the device reported ``status`` for the instruction."""
        await self.wait_until(lambda: self.status_of(device, instruction_id) == status, timeout)

    async def wait_until(self, condition: Callable[[], bool], timeout: float | None = None) -> None:
        """Wait until ``condition()`` holds (checked after every message received)."""
        async with asyncio.timeout(timeout or self.timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    # -- receiving ----------------------------------------------------------------------------
    def _on_item(self, item: PayloadItem[EfiMessage]) -> None:
        device = device_of(item.node)
        if device is None or device not in self.views:
            return
        self._apply(device, item.item_id, item.payload)

    def _apply(self, device: str, item_id: str, msg: EfiMessage) -> None:
        key = (device, item_id)
        if self._latest.get(key) == msg:  # ejabberd resends the last item on subscription
            return
        self._latest[key] = msg
        view = self.views[device]
        if isinstance(msg, FlexibilityRegistration):
            view.registration = msg
        elif isinstance(msg, FlexibilityRevoke):
            # Notifications and the catch-up fetch may arrive in any order: a revoke invalidates only
            # the updates made before it, whenever it arrives.
            if view.revoked_at is None or msg.timestamp > view.revoked_at:
                view.revoked_at = msg.timestamp
            view.updates = {k: u for k, u in view.updates.items() if u.timestamp >= view.revoked_at}
            self.ledger.record(msg)
            for update in view.updates.values():
                self.ledger.record(update)
        elif isinstance(msg, FlexibilityUpdate):
            if view.revoked_at is not None and msg.timestamp < view.revoked_at:
                log.info("%s: ignoring %s %s, made before a revoke", device, msg.TAG, msg.flexibility_update_id)
                return
            self.ledger.record(msg)
            current = view.updates.get(msg.TAG)
            if current is None or msg.timestamp >= current.timestamp:  # a late, older copy stays known
                view.updates[msg.TAG] = msg
        elif isinstance(msg, Measurement):
            view.measurement = msg
        elif isinstance(msg, InstructionStatusUpdate):
            previous = view.statuses.get(msg.instruction_id)
            if not is_allowed(previous, msg.status):
                log.warning("%s: instruction %s went from %s to %s, which EFI does not allow", device,
                            msg.instruction_id, previous, msg.status.value)
            view.statuses[msg.instruction_id] = msg.status
        event = FlexibilityEvent(device, msg)
        for queue in self._listeners:
            queue.put_nowait(event)
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception:
                log.exception("EFI event callback failed")
        self._changed.set()

    # -- helpers ------------------------------------------------------------------------------
    def _view_for(self, resource_id: str, device: str | None) -> DeviceView | None:
        if device is not None:
            return self.views.get(JID(device).bare)
        for view in self.views.values():
            if view.resource_id == resource_id:
                return view
        return None

    async def _send(self, msg: Instruction | InstructionRevoke, device: str | None, to: str | None,
                    tokens: Tokens | None = None) -> None:
        if to is None:
            view = self._view_for(msg.efi_resource_id, device)
            if view is None:
                raise ItemNotFound(f"no followed device has EFI resource {msg.efi_resource_id!r}")
            to = await self.driver_jid(view.device)
        iq = self.xmpp.make_iq_set(ito=to)
        iq.xml.append(stream_safe(with_tokens(self.codec.encode_element(msg), tokens)))
        await send_iq(iq, self.timeout)

