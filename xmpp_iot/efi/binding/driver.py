"""The appliance driver's side of EFI over XMPP (an EFI Resource Manager on an IotClient).

    driver = EfiDriver(client, registration)
    await driver.start()                          # disco features, IQ handler, registration published
    await driver.publish(system_description)      # flexibility updates, revokes, EFI measurements
    async for instruction in driver.instructions():
        await driver.report(instruction.instruction_id, InstructionStatus.ACCEPTED)

Instructions and revokes arrive as IQ set. Each is checked completely (sender, size, namespace,
schema, semantics, resource, category, flexibilityUpdateId, instruction state) *before* anything
changes; only then is it recorded and acknowledged with a result, and handed to the application.
A failure changes nothing and is answered with one stanza error (table in docs/efi-binding.md).

Who may instruct is never assumed: the driver asks a :class:`~xmpp_iot.trust.TrustGate` (``trust=``,
e.g. the device's provisioning client: canControl with the instruction's element name as the
parameter and the tokens the IQ carries), or an explicit allow list of JIDs (``allow=``), or an
explicit ``authorize`` callable. A driver given none of them refuses every instruction (forbidden).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime

from slixmpp import Iq
from slixmpp.basexmpp import BaseXMPP
from slixmpp.jid import JID
from slixmpp.xmlstream.handler import CoroutineCallback
from slixmpp.xmlstream.matcher.base import MatcherBase

from ...errors import InternalServerError, reply_error
from ...nodes import flexibility_node
from ...pubsub import PubSub
from ...trust import ControlRequest, TrustGate
from ...xmlcodec import etree_size
from .. import MESSAGE_CLASSES
from ..codec import EFI_NS, EfiCodec
from ..enums import InstructionStatus
from ..errors import EfiValidationError, PayloadError, UnknownInstruction
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
from .protocol import (
    DEFAULT_MAX_PAYLOAD,
    FEATURES,
    DuplicateInstruction,
    PayloadTooLarge,
    WrongResource,
    category_feature,
    check_against_flexibility,
    check_revoke,
    forbidden,
    instruction_class,
    instruction_tokens,
    item_id,
    revoke_status,
    stanza_error,
    strip_tokens,
)

__all__ = ["EfiDriver"]

log = logging.getLogger(__name__)

Authorize = Callable[[JID], bool | Awaitable[bool]]
InstructionHandler = Callable[[Instruction], InstructionStatus | Awaitable[InstructionStatus | None] | None]
RevokeHandler = Callable[[InstructionRevoke], Awaitable[None] | None]

_MAX_REMEMBERED_UPDATES = 64


class EfiIqMatcher(MatcherBase):
    """IQ set whose payload is an EFI element, or has an EFI message's name in another namespace
    (so a wrong namespace gets a precise bad-request rather than feature-not-implemented)."""

    def __init__(self) -> None:
        super().__init__(None)

    def match(self, stanza) -> bool:
        if stanza.name != "iq" or stanza["type"] != "set":
            return False
        for child in stanza.xml:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
            return namespace == EFI_NS or local in MESSAGE_CLASSES
        return False


class EfiDriver:
    """Publish my flexibility, receive instructions, report their status."""

    def __init__(
        self,
        client,
        registration: FlexibilityRegistration,
        *,
        pubsub: PubSub | None = None,
        codec: EfiCodec | None = None,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        authorize: Authorize | None = None,
        trust: TrustGate | None = None,
        allow: Iterable[str] = (),
        node: str | None = None,
    ) -> None:
        """``trust``: the gate that decides canControl for each instruction (with delegated trust, the
        provisioning client). ``allow``: bare JIDs that may instruct, a documented local policy for a
        device without provisioning. ``authorize(sender_jid) -> bool``: any other explicit rule. They
        combine: a sender is accepted if ``allow`` lists it or ``authorize``/``trust`` say yes. With
        none of them every instruction is refused with forbidden."""
        self.xmpp: BaseXMPP = getattr(client, "xmpp", client)
        self.registration = registration
        self.resource_id = registration.efi_resource_id
        self.codec = codec or EfiCodec()
        self.max_payload = max_payload
        self.pubsub = pubsub or PubSub(self.xmpp)
        self.node = node or flexibility_node(self.xmpp.boundjid)
        self.ledger = FlexibilityLedger()
        self._authorize = authorize
        self.trust = trust
        self.allow = frozenset(JID(j).bare for j in allow)
        if authorize is None and trust is None and not self.allow:
            log.warning("%s: EFI driver for %s has no trust gate, allow list or authorize rule: every instruction "
                        "will be refused", self.xmpp.boundjid, self.resource_id)
        self._updates: OrderedDict[str, FlexibilityUpdate] = OrderedDict()
        self._system: FlexibilityUpdate | None = None
        self._instruction_handlers: list[InstructionHandler] = []
        self._revoke_handlers: list[RevokeHandler] = []
        self._queue: asyncio.Queue[Instruction] = asyncio.Queue()
        self._tasks: set[asyncio.Task] = set()
        self._handler_name = f"efi-driver-{id(self)}"
        self.codec.encode(registration)  # a registration we could not send is a bug: fail now

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Advertise the EFI features, accept instructions, publish the registration."""
        disco = self.xmpp.plugin["xep_0030"]
        for feature in (*FEATURES, category_feature(self.registration)):
            disco.add_feature(feature)
        self.xmpp.register_handler(CoroutineCallback(self._handler_name, EfiIqMatcher(), self._on_iq))
        await self._publish(self.registration)

    async def stop(self) -> None:
        """Stop accepting instructions (the session itself stays up)."""
        self.xmpp.remove_handler(self._handler_name)
        disco = self.xmpp.plugin["xep_0030"]
        for feature in (*FEATURES, category_feature(self.registration)):
            disco.del_feature(feature=feature)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> EfiDriver:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # -- publishing ---------------------------------------------------------------------------
    async def publish(self, msg: FlexibilityUpdate | FlexibilityRevoke | Measurement | FlexibilityRegistration) -> None:
        """Validate and publish one message to my node (item id: its root element name).

        Updates are known (instructions may answer them) from the moment this is called, so an
        energy app that reacts to the notification at once is never refused.
        """
        if not isinstance(msg, FlexibilityUpdate | FlexibilityRevoke | Measurement | FlexibilityRegistration):
            raise TypeError(f"{type(msg).__name__} is not published by a driver")
        self._own(msg)
        element = self.codec.encode_element(msg)
        if isinstance(msg, FlexibilityUpdate | FlexibilityRevoke):
            self._remember(msg)
        await self.pubsub.publish(self.node, element, item_id(msg))

    async def report(self, instruction_id: str, status: InstructionStatus,
                     debug_information: str | None = None) -> InstructionStatusUpdate:
        """Publish a status of an instruction; an illegal transition raises IllegalStatusTransition
        (and nothing is published)."""
        update = InstructionStatusUpdate(
            efi_resource_id=self.resource_id, timestamp=_now(), instruction_id=instruction_id, status=status,
            debug_information=debug_information,
        )
        self.ledger.record(update)
        await self._publish(update)
        return update

    def status_of(self, instruction_id: str) -> InstructionStatus | None:
        """The status last reported for an instruction (None: none yet)."""
        return self.ledger.status_of(self.resource_id, instruction_id)

    # -- receiving ----------------------------------------------------------------------------
    def on_instruction(self, handler: InstructionHandler) -> None:
        """Call ``handler(instruction)`` for each accepted instruction; if it returns a status
        (ACCEPTED, REJECTED, ...) that status is reported for it."""
        self._instruction_handlers.append(handler)

    def on_revoke(self, handler: RevokeHandler) -> None:
        """Call ``handler(revoke)`` after an instruction was revoked (its final status is reported)."""
        self._revoke_handlers.append(handler)

    async def instructions(self) -> AsyncIterator[Instruction]:
        """Every accepted instruction, in arrival order."""
        while True:
            yield await self._queue.get()

    async def _on_iq(self, iq: Iq) -> None:
        try:
            msg = await self._accept(iq)
        except PayloadError as exc:
            error = stanza_error(exc)
            log.info("%s: refused EFI IQ %s from %s: %s %s", self.xmpp.boundjid, iq["id"], iq["from"],
                     error.condition, error.text)
            reply_error(iq, error).send()
            return
        except _Refused as exc:
            reply_error(iq, exc.error).send()
            return
        except Exception:  # a bug: the sender still gets an answer, not silence
            log.exception("%s: EFI IQ %s from %s failed", self.xmpp.boundjid, iq["id"], iq["from"])
            reply_error(iq, InternalServerError("unexpected failure")).send()
            return
        iq.reply(clear=True).send()
        log.info("%s: %s %s from %s", self.xmpp.boundjid, msg.TAG, getattr(msg, "instruction_id", ""), iq["from"])
        self._spawn(self._deliver(msg))

    async def _accept(self, iq: Iq) -> Instruction | InstructionRevoke:
        """Check everything, then record: raises before any change, changes nothing after."""
        element = next(child for child in iq.xml if isinstance(child.tag, str))
        if not await self._permitted(iq["from"], element):
            raise _Refused(forbidden(str(iq["from"])))
        size = etree_size(element)
        if size > self.max_payload:
            raise PayloadTooLarge("(document)", f"payload is about {size} bytes, more than the limit of "
                                                f"{self.max_payload} bytes")
        msg = self.codec.decode_element(strip_tokens(element))
        if isinstance(msg, Instruction | InstructionRevoke) and msg.efi_resource_id != self.resource_id:
            raise WrongResource(f"/efi:{msg.TAG}/efi:efiResourceId",
                                f"resource {msg.efi_resource_id!r} is not managed here ({self.resource_id!r} is)")
        if isinstance(msg, Instruction):
            expected = instruction_class(self.registration)
            if type(msg) is not expected:
                raise EfiValidationError(f"/efi:{msg.TAG}",
                                         f"this {self.registration.TAG} device takes {expected.TAG}, not {msg.TAG}")
            self.ledger.check(msg)  # unknown or revoked flexibilityUpdateId
            if self._knows_instruction(msg.instruction_id):
                raise DuplicateInstruction(f"/efi:{msg.TAG}/efi:instructionId",
                                           f"instruction {msg.instruction_id!r} was received before")
            check_against_flexibility(msg, self._updates.get(msg.flexibility_update_id), self._system)
            self.ledger.record(msg)
            return msg
        if isinstance(msg, InstructionRevoke):
            previous = self.ledger.status_of(self.resource_id, msg.instruction_id)  # UnknownInstruction
            check_revoke(msg, previous)
            final = InstructionStatusUpdate(
                efi_resource_id=self.resource_id, timestamp=_now(), instruction_id=msg.instruction_id,
                status=revoke_status(previous), debug_information="revoked by the energy app",
            )
            self.ledger.record(final)
            self._spawn(self._publish(final))
            return msg
        raise EfiValidationError(f"/efi:{msg.TAG}",
                                 f"{msg.TAG} is published by the appliance driver, not sent to it by IQ")

    async def _deliver(self, msg: Instruction | InstructionRevoke) -> None:
        if isinstance(msg, InstructionRevoke):
            for revoke_handler in self._revoke_handlers:
                await _maybe_await(revoke_handler(msg))
            return
        self._queue.put_nowait(msg)
        for handler in self._instruction_handlers:
            status = await _maybe_await(handler(msg))
            if status is not None:
                await self.report(msg.instruction_id, status)

    # -- helpers ------------------------------------------------------------------------------
    def _knows_instruction(self, instruction_id: str) -> bool:
        try:
            self.ledger.status_of(self.resource_id, instruction_id)
        except UnknownInstruction:
            return False
        return True

    def _own(self, msg: EfiMessage) -> None:
        if msg.efi_resource_id != self.resource_id:
            raise EfiValidationError(f"/efi:{msg.TAG}/efi:efiResourceId",
                                     f"this driver publishes for {self.resource_id!r}, not {msg.efi_resource_id!r}")

    def _remember(self, msg: FlexibilityUpdate | FlexibilityRevoke) -> None:
        self.ledger.record(msg)
        if isinstance(msg, FlexibilityRevoke):
            self._updates.clear()
            self._system = None
            return
        self._updates[msg.flexibility_update_id] = msg
        while len(self._updates) > _MAX_REMEMBERED_UPDATES:
            self._updates.popitem(last=False)
        if msg.TAG.endswith("SystemDescription"):
            self._system = msg

    async def _publish(self, msg: EfiMessage) -> None:
        await self.pubsub.publish(self.node, self.codec.encode_element(msg), item_id(msg))

    async def _permitted(self, sender: JID, element) -> bool:
        """Whether ``sender`` may send this instruction or revoke: explicit allow list, explicit rule,
        or the trust gate's canControl (parameter: the instruction's element name; a revoke counts as
        the category's instruction, since it controls the same thing). Nothing configured: no."""
        if sender.bare in self.allow:
            return True
        if self._authorize is not None and await _maybe_await(self._authorize(sender)):
            return True
        if self.trust is None:
            return False
        local = element.tag.rpartition("}")[2]
        parameter = instruction_class(self.registration).TAG if local == "InstructionRevoke" else local
        decision = await self.trust.can_control(ControlRequest(
            requester=str(sender), parameter_names=(parameter,), tokens=instruction_tokens(element)))
        if not decision.allowed:
            return False
        if decision.nodes is not None:  # restricted to named nodes: the EFI resource is the device itself
            return False
        return decision.parameter_names is None or parameter in decision.parameter_names

    def _spawn(self, coro: Awaitable[object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: EFI background task failed: %s", self.xmpp.boundjid, task.exception())


class _Refused(Exception):
    def __init__(self, error) -> None:
        super().__init__(error.text)
        self.error = error


async def _maybe_await(value):
    return await value if inspect.isawaitable(value) else value


def _now() -> datetime:
    return datetime.now(UTC)
