"""XEP-0324 for services, users and owners: tokens, token challenges, rule management, answers.

    cert, key = self_signed_certificate("amr.example.org")
    token = await get_token(client.xmpp, "provisioning.example.org", cert, key)
    holder = TokenHolder(client.xmpp, key); holder.sent(token, "meter1@example.org")
    rule_id = await add_rule(owner.xmpp, "provisioning.example.org", "meter1@example.org",
                             "amr@example.org", "read", names=["Energy"])

A holder answers a ``tokenChallenge`` only from a JID it sent that token to within the last
minute (XEP-0324 §7); any other challenge gets ``forbidden``: it may be somebody trying to
borrow the token's privileges.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import time
from collections.abc import Iterable
from xml.etree.ElementTree import SubElement

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from slixmpp import Iq, Message
from slixmpp.jid import JID
from slixmpp.plugins.xep_0004 import Form
from slixmpp.plugins.xep_0050.stanza import Command
from slixmpp.xmlstream import register_stanza_plugin
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from ..errors import BadRequest, Forbidden, ItemNotFound, ProtocolError, reply_error, send_iq
from . import stanza as wire
from .stanza import get_token_label, q, token_challenge_label

RULES_FORM_TYPE = "urn:xmpp-iot:provisioning:rules"
QUESTION_FORM_TYPE = "urn:xmpp-iot:provisioning:question"
CHALLENGE_WINDOW = 60.0


def self_signed_certificate(name: str, days: int = 365) -> tuple[bytes, rsa.RSAPrivateKey]:
    """A fresh RSA key and a self-signed certificate (DER) naming it, for getToken."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER), key


def decrypt_challenge(key: rsa.RSAPrivateKey, challenge_b64: str, label: bytes) -> str:
    """The base64 answer to a challenge; `label` is what we expect it to be for
    (:func:`get_token_label` or :func:`token_challenge_label`): a challenge made for
    anything else does not decrypt, so it cannot be relayed to us to answer."""
    padding_ = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    try:
        return base64.b64encode(key.decrypt(base64.b64decode(challenge_b64), padding_)).decode()
    except ValueError:
        raise BadRequest("the challenge cannot be decrypted with this key for this purpose") from None


# -- tokens --------------------------------------------------------------------------------------------
async def request_challenge(xmpp, server: str, cert_der: bytes, timeout: float = 15.0) -> tuple[int, str]:
    """Step one of getToken: (seqnr, base64 challenge)."""
    iq = xmpp.make_iq_get(ito=server)
    SubElement(iq.xml, q("getToken")).text = base64.b64encode(cert_der).decode()
    el = (await send_iq(iq, timeout)).xml.find(q("getTokenChallenge"))
    if el is None:
        raise ProtocolError("getToken: the server answered without a challenge")
    return int(el.get("seqnr", "0")), el.text or ""


async def answer_challenge(xmpp, server: str, seqnr: int, response_b64: str, timeout: float = 15.0) -> str:
    """Step two of getToken: the token."""
    iq = xmpp.make_iq_get(ito=server)
    SubElement(iq.xml, q("getTokenChallengeResponse"), seqnr=str(seqnr)).text = response_b64
    el = (await send_iq(iq, timeout)).xml.find(q("getTokenResponse"))
    if el is None or not el.get("token"):
        raise ProtocolError("getTokenChallengeResponse: the server answered without a token")
    return el.get("token", "")


async def get_token(xmpp, server: str, cert_der: bytes, key: rsa.RSAPrivateKey, timeout: float = 15.0) -> str:
    """The whole getToken exchange: prove we hold `key`, receive a token for `cert_der`."""
    seqnr, challenge = await request_challenge(xmpp, server, cert_der, timeout)
    answer = decrypt_challenge(key, challenge, get_token_label(xmpp.boundjid.bare))
    return await answer_challenge(xmpp, server, seqnr, answer, timeout)


class TokenHolder:
    """Answers token challenges for the tokens we hold, only from those we recently showed them to."""

    def __init__(self, xmpp, key: rsa.RSAPrivateKey, window: float = CHALLENGE_WINDOW) -> None:
        wire.register_stanzas()
        self.xmpp = xmpp
        self.key = key
        self.window = window
        self._sent: dict[tuple[str, str], float] = {}
        xmpp.register_handler(
            Callback(
                "iotp tokenChallenge", StanzaPath("iq@type=get/iotp_token_challenge"), self._on_challenge
            )
        )

    def sent(self, tokens: str, to: str) -> None:
        """Record that we showed these (space-separated) tokens to `to` (bare JID) just now."""
        for token in tokens.split():
            self._sent[(token, JID(to).bare)] = time.monotonic()

    def _on_challenge(self, iq: Iq) -> None:
        el = iq["iotp_token_challenge"].xml
        token = el.get("token", "")
        shown = self._sent.get((token, iq["from"].bare))
        if shown is None or time.monotonic() - shown > self.window:
            reply_error(iq, Forbidden("I did not send you that token in the last minute")).send()
            return
        try:
            jti = str(jwt.decode(token, options={"verify_signature": False}).get("jti", ""))
        except jwt.PyJWTError:
            jti = ""
        if not jti:
            reply_error(iq, BadRequest("not a token with an id")).send()
            return
        try:
            answer = decrypt_challenge(self.key, el.text or "", token_challenge_label(jti))
        except BadRequest as exc:
            reply_error(iq, exc).send()
            return
        reply = iq.reply()
        SubElement(reply.xml, q("tokenChallengeResponse")).text = answer
        reply.send()


# -- owners: rules through ad-hoc commands ----------------------------------------------------------------
async def run_command(xmpp, server: str, node: str, values: dict, timeout: float = 15.0) -> Form:
    """Execute an ad-hoc command in one step with a submitted form; return the result form."""
    form = Form()
    form["type"] = "submit"
    form.add_field("FORM_TYPE", ftype="hidden", value=RULES_FORM_TYPE)
    for var, value in values.items():
        if isinstance(value, bool):
            form.add_field(var, ftype="boolean", value=value)
        elif isinstance(value, (list, tuple)):
            form.add_field(var, ftype="text-multi", value=list(value))
        else:
            form.add_field(var, value=str(value))
    register_stanza_plugin(Iq, Command)
    register_stanza_plugin(Command, Form, iterable=True)
    iq = xmpp.Iq()
    iq["type"] = "set"
    iq["to"] = server
    iq["command"]["node"] = node
    iq["command"]["action"] = "execute"
    iq["command"].append(form)
    reply = await send_iq(iq, timeout)
    return reply["command"]["form"]


async def add_rule(
    xmpp,
    server: str,
    thing: str,
    subject: str,
    action: str,
    *,
    allow: bool = True,
    names: Iterable[str] | None = None,
    nodes: Iterable[str] | None = None,
) -> int:
    values: dict = {"thing": thing, "subject": subject, "action": action, "allow": allow}
    if names is not None:
        values["names"] = list(names)
    if nodes is not None:
        values["nodes"] = list(nodes)
    form = await run_command(xmpp, server, "add-rule", values)
    return int(form.get_values()["rule"])


async def remove_rule(xmpp, server: str, thing: str, rule_id: int) -> None:
    await run_command(xmpp, server, "remove-rule", {"thing": thing, "rule": rule_id})


async def list_rules(xmpp, server: str, thing: str) -> list[dict[str, str]]:
    form = await run_command(xmpp, server, "list-rules", {"thing": thing})
    return [dict(item) for item in form.get_items()]


async def wait_until_owned(xmpp, server: str, thing: str, timeout: float = 15.0) -> list[dict[str, str]]:
    """Wait until the provisioning server knows us as the owner of `thing`; return its rules.

    A claim at the registry reaches the provisioning server asynchronously (the ownership
    feed), so an owner that manages rules right after claiming waits for it here.
    """
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await list_rules(xmpp, server, thing)
            except ItemNotFound:
                await asyncio.sleep(0.2)


async def revoke_token(xmpp, server: str, *, token: str = "", holder: str = "") -> int:
    form = await run_command(xmpp, server, "revoke-token", {"token": token, "holder": holder})
    return int(form.get_values()["count"])


# -- owners: questions -------------------------------------------------------------------------------------
def question_of(msg: Message) -> dict[str, str] | None:
    """The fields of an owner question (None if the message is none)."""
    x = msg.xml.find("{jabber:x:data}x")
    if x is None:
        return None
    values = {
        k: (v[0] if v else "") if isinstance(v, list) else v for k, v in msg["form"].get_values().items()
    }
    return values if values.get("FORM_TYPE") == QUESTION_FORM_TYPE else None


def answer_question(xmpp, msg: Message, allow: bool) -> None:
    """Submit the owner's answer to a question message."""
    values = question_of(msg)
    if values is None:
        raise BadRequest("not a provisioning question")
    reply = xmpp.make_message(mto=msg["from"], mtype="normal")
    form = reply["form"]
    form["type"] = "submit"
    form.add_field("FORM_TYPE", ftype="hidden", value=QUESTION_FORM_TYPE)
    form.add_field("question", value=str(values["question"]))
    form.add_field("allow", ftype="boolean", value=allow)
    reply.send()


# -- services: user access and privileges (XEP-0324 §3.9) ---------------------------------------------------
async def can_access(xmpp, server: str, service_token: str, user: str, timeout: float = 15.0) -> str | None:
    """The user token if `user` may use the service (None if not)."""
    iq = xmpp.make_iq_get(ito=server)
    el = SubElement(iq.xml, q("canAccess"), serviceToken=service_token)
    SubElement(el, q("jid"), value=user)
    out = (await send_iq(iq, timeout)).xml.find(q("canAccessResponse"))
    if out is None or out.get("result") not in ("true", "1"):
        return None
    return out.get("userToken") or None


async def has_privilege(xmpp, server: str, service_token: str, user_token: str, privilege: str,
                        timeout: float = 15.0) -> bool:  # fmt: skip
    iq = xmpp.make_iq_get(ito=server)
    SubElement(
        iq.xml, q("hasPrivilege"), serviceToken=service_token, userToken=user_token, privilegeId=privilege
    )
    out = (await send_iq(iq, timeout)).xml.find(q("hasPrivilegeResponse"))
    return out is not None and out.get("result") in ("true", "1")


async def download_privileges(xmpp, server: str, service_token: str, user_token: str,
                              timeout: float = 15.0) -> list[tuple[bool, str]]:  # fmt: skip
    """The ordered include/exclude list: (True, id) includes, (False, id) excludes; first match wins."""
    iq = xmpp.make_iq_get(ito=server)
    SubElement(iq.xml, q("downloadPrivileges"), serviceToken=service_token, userToken=user_token)
    out = (await send_iq(iq, timeout)).xml.find(q("downloadPrivilegesResponse"))
    if out is None:
        return []
    return [(child.tag == q("include"), child.get("id", "")) for child in out]


async def set_privileges(xmpp, server: str, service: str, user: str, entries: Iterable[str]) -> int:
    """Administrators: set a user's privileges, lines like '+Sensors' and '-Sensors.Delete'."""
    form = await run_command(xmpp, server, "set-privileges",
                             {"service": service, "user": user, "privileges": list(entries)})  # fmt: skip
    return int(form.get_values()["count"])


async def create_area_node(xmpp, server: str, area: str, publishers: Iterable[str] = (),
                           readers: Iterable[str] = ()) -> str:  # fmt: skip
    """Administrators: have the provisioning server create ``alarms/<area>``; returns the node name."""
    form = await run_command(xmpp, server, "area-node",
                             {"area": area, "publishers": list(publishers), "readers": list(readers)})  # fmt: skip
    return str(form.get_values()["node"])
