"""Owner questions: when no rule answers, the owner gets a message with a data form (XEP-0004).

The message carries a form of type ``form``::

    <message to='owner@example.org' type='normal'>
      <body>app@example.org wants to read meter1@example.org. Allow?</body>
      <x xmlns='jabber:x:data' type='form'>
        <field var='FORM_TYPE' type='hidden'><value>urn:xmpp-iot:provisioning:question</value></field>
        <field var='question' type='hidden'><value>q-1</value></field>
        <field var='thing' type='jid-single'>...</field> <field var='requester' .../>
        <field var='action' type='text-single'>...</field>
        <field var='allow' type='boolean' label='Allow'/>
      </x>
    </message>

The owner answers with the same form submitted (``type='submit'``) in a message. The answer
becomes a rule; a question nobody answers within the timeout is a refusal, and is remembered
for ``refusal_ttl`` seconds (the same requester asking again is refused at once, without a new
message to the owner). Questions asked while the same one is open share its answer. One
requester (bare JID, whatever its resources) has at most ``max_open`` questions open; more are
refused at once, so a stranger cannot flood an owner with questions or the server with waiting
requests.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from slixmpp import Message
from slixmpp.jid import JID

log = logging.getLogger(__name__)

FORM_TYPE = "urn:xmpp-iot:provisioning:question"
REFUSAL_TTL = 60.0
MAX_OPEN_PER_REQUESTER = 3
MAX_REMEMBERED = 10_000
VERBS = {"friend": "become a friend of", "read": "read", "control": "control"}


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    owner: str
    thing: str
    requester: str
    action: str


class QuestionBroker:
    """Sends questions to owners and waits for their answers."""

    def __init__(
        self,
        send: Callable[[Message], None],
        make_message: Callable[[], Message],
        timeout: float,
        *,
        refusal_ttl: float = REFUSAL_TTL,
        max_open: int = MAX_OPEN_PER_REQUESTER,
    ) -> None:
        self.send = send
        self.make_message = make_message
        self.timeout = timeout
        self.refusal_ttl = refusal_ttl
        self.max_open = max_open
        self._open: dict[tuple[str, str, str], tuple[Question, asyncio.Future[bool]]] = {}
        self._by_id: dict[str, tuple[str, str, str]] = {}
        self._ids = itertools.count(1)
        self._unanswered: dict[tuple[str, str, str], float] = {}  # key -> until when refused at once
        self._open_by: dict[str, int] = {}  # requester bare JID -> questions open

    async def ask(self, owner: str, thing: str, requester: str, action: str) -> bool | None:
        """True/False as the owner answered; None when the owner did not answer in time (or was
        not asked: an unanswered question is remembered, and one requester's open questions capped)."""
        requester = JID(requester).bare
        key = (thing, requester, action)
        now = asyncio.get_running_loop().time()
        if self._unanswered.get(key, 0.0) > now:
            log.info("%s may not %s %s: its question went unanswered recently", requester, action, thing)
            return None
        if key not in self._open:
            if self._open_by.get(requester, 0) >= self.max_open:
                log.info("%s has %d questions open: %s %s refused", requester, self.max_open, action, thing)
                return None
            self._open_by[requester] = self._open_by.get(requester, 0) + 1
            question = Question(f"q-{next(self._ids)}", owner, thing, requester, action)
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._open[key] = (question, future)
            self._by_id[question.id] = key
            self.send(self._message(question))
            log.info("asked %s whether %s may %s %s (%s)", owner, requester, action, thing, question.id)
        question, future = self._open[key]
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            log.info("%s did not answer %s in %.0f s: refused", owner, question.id, self.timeout)
            self._remember_unanswered(key)
            return None
        finally:
            self._forget(key, question.id)

    def _remember_unanswered(self, key: tuple[str, str, str]) -> None:
        now = asyncio.get_running_loop().time()
        if len(self._unanswered) >= MAX_REMEMBERED:
            self._unanswered = {k: t for k, t in self._unanswered.items() if t > now}
            if len(self._unanswered) >= MAX_REMEMBERED:
                self._unanswered.clear()
        self._unanswered[key] = now + self.refusal_ttl

    def _forget(self, key: tuple[str, str, str], qid: str) -> None:
        entry = self._open.get(key)
        if entry and entry[0].id == qid:
            del self._open[key]
            self._by_id.pop(qid, None)
            left = self._open_by.get(key[1], 1) - 1
            if left > 0:
                self._open_by[key[1]] = left
            else:
                self._open_by.pop(key[1], None)

    def answer(self, msg: Message) -> Question | None:
        """Apply a submitted answer form; returns the question it answered (sender must be its owner)."""
        form = msg["form"]
        if form["type"] != "submit":
            return None
        values = {k: _single(v) for k, v in form.get_values().items()}
        if values.get("FORM_TYPE") != FORM_TYPE:
            return None
        key = self._by_id.get(str(values.get("question", "")))
        if key is None:
            log.info("answer from %s to an unknown or closed question", msg["from"])
            return None
        question, future = self._open[key]
        if JID(msg["from"]).bare != question.owner:
            log.warning(
                "%s answered %s, which was asked of %s: ignored", msg["from"], question.id, question.owner
            )
            return None
        allow = values.get("allow") in (True, "1", "true")
        if not future.done():
            future.set_result(allow)
        return question

    def _message(self, question: Question) -> Message:
        msg = self.make_message()
        msg["to"] = question.owner
        msg["type"] = "normal"
        text = f"{question.requester} wants to {VERBS[question.action]} {question.thing}. Allow?"
        msg["body"] = text
        form = msg["form"]
        form["type"] = "form"
        form["title"] = "Provisioning question"
        form["instructions"] = text
        form.add_field("FORM_TYPE", ftype="hidden", value=FORM_TYPE)
        form.add_field("question", ftype="hidden", value=question.id)
        form.add_field("thing", ftype="jid-single", label="Thing", value=question.thing)
        form.add_field("requester", ftype="jid-single", label="Requester", value=question.requester)
        form.add_field("action", ftype="text-single", label="Action", value=question.action)
        form.add_field("allow", ftype="boolean", label="Allow", required=True)
        return msg


def _single(value: object) -> object:
    """slixmpp returns hidden fields as lists; a question's fields are single values."""
    if isinstance(value, list):
        return value[0] if value else ""
    return value
