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
becomes a rule; a question nobody answers within the timeout is a refusal, and is forgotten.
Questions asked while the same one is open share its answer.
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
        self, send: Callable[[Message], None], make_message: Callable[[], Message], timeout: float
    ) -> None:
        self.send = send
        self.make_message = make_message
        self.timeout = timeout
        self._open: dict[tuple[str, str, str], tuple[Question, asyncio.Future[bool]]] = {}
        self._by_id: dict[str, tuple[str, str, str]] = {}
        self._ids = itertools.count(1)

    async def ask(self, owner: str, thing: str, requester: str, action: str) -> bool | None:
        """True/False as the owner answered; None when the owner did not answer in time."""
        key = (thing, requester, action)
        if key not in self._open:
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
            return None
        finally:
            self._forget(key, question.id)

    def _forget(self, key: tuple[str, str, str], qid: str) -> None:
        entry = self._open.get(key)
        if entry and entry[0].id == qid:
            del self._open[key]
            self._by_id.pop(qid, None)

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
