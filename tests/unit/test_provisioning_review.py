"""Security review of the provisioning server: each test shows one finding can no longer be exploited."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import stat
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from provisioning.manage import build_parser, token_of
from provisioning.pubsub_manager import PubSubManager
from provisioning.questions import QuestionBroker
from provisioning.rules import Rule
from provisioning.service import ProvisioningService
from provisioning.sqlite_store import SqliteProvisioningStore
from provisioning.store import Ownership
from provisioning.tokens import MAX_OPEN_CHALLENGES, TokenAuthority
from xmpp_iot.errors import BadRequest, ItemNotFound
from xmpp_iot.provisioning.client import decrypt_challenge, self_signed_certificate
from xmpp_iot.provisioning.device import _tokens_expire
from xmpp_iot.provisioning.stanza import get_token_label, token_challenge_label
from xmpp_iot.trust import Tokens

ISSUER = "provisioning.grid.example"
THING, OWNER = "meter@grid.example", "alice@grid.example"
APP, DEVICE = "app@grid.example", "rogue-device@grid.example"


@pytest.fixture
def store(tmp_path):
    s = SqliteProvisioningStore(tmp_path / "p.sqlite3")
    yield s
    s.close()


def owned_service(store) -> ProvisioningService:
    service = ProvisioningService(store, TokenAuthority(store, ISSUER))
    service.set_ownership(Ownership(THING, OWNER, True, 1))
    return service


# -- finding 2: a reader of some fields does not get the whole pub/sub stream ---------------------------------
async def test_only_readers_of_everything_may_subscribe_to_the_stream(store) -> None:
    service = owned_service(store)
    service.add_rule(OWNER, Rule(THING, APP, "read", names=("voltage",)))
    service.add_rule(OWNER, Rule(THING, "full@grid.example", "read"))
    asked: list[str] = []

    async def ask_owner(thing: str, requester: str, action: str) -> bool:
        asked.append(requester)
        return False

    manager = PubSubManager(None, service, "pubsub.grid.example", ask_owner)
    assert not await manager.may_subscribe(f"meas/{THING}", APP)
    assert not await manager.may_subscribe(f"efi/{THING}", APP)
    assert await manager.may_subscribe(f"meas/{THING}", "full@grid.example")
    assert manager.readers(THING) == {"full@grid.example"}  # whitelist mode: members
    assert asked == []  # a restricted rule decides: the owner is not asked


# -- finding 3: a getToken challenge cannot be relayed to a holder as a tokenChallenge -------------------------
def test_get_token_challenge_does_not_decrypt_as_a_token_challenge(store) -> None:
    authority = TokenAuthority(store, ISSUER)
    cert, key = self_signed_certificate("app")
    token = authority.issue(APP, cert)
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    # the rogue device asks for a token for the app's certificate and passes the challenge to the app
    seqnr, relayed = authority.challenge(DEVICE, base64.b64encode(cert).decode())
    with pytest.raises(BadRequest):  # what the app's TokenHolder does with a tokenChallenge
        decrypt_challenge(key, relayed, token_challenge_label(jti))
    # and a real token challenge cannot be answered as a getToken challenge either
    _, challenge = authority.token_challenge(token)
    with pytest.raises(BadRequest):
        decrypt_challenge(key, challenge, get_token_label(DEVICE))
    decrypt_challenge(key, challenge, token_challenge_label(jti))  # its own purpose works
    with pytest.raises(BadRequest):  # a getToken challenge for another holder does not decrypt either
        decrypt_challenge(key, relayed, get_token_label(APP))
    authority.answer(DEVICE, seqnr, decrypt_challenge(key, relayed, get_token_label(DEVICE)))


# -- finding 4: unanswered questions are remembered, and a requester's open questions capped ------------------
class _Outbox:
    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, msg) -> None:
        self.sent.append(msg)

    @staticmethod
    def make():
        from slixmpp import Message
        from slixmpp.plugins.xep_0004 import Form
        from slixmpp.xmlstream import register_stanza_plugin

        register_stanza_plugin(Message, Form)
        return Message()


async def test_an_unanswered_question_is_not_asked_again_at_once() -> None:
    out = _Outbox()
    broker = QuestionBroker(out.send, out.make, timeout=0.05, refusal_ttl=30)
    assert await broker.ask(OWNER, THING, "stranger@evil.example/a", "read") is None
    assert len(out.sent) == 1
    started = time.monotonic()
    assert await broker.ask(OWNER, THING, "stranger@evil.example/b", "read") is None  # other resource
    assert time.monotonic() - started < 0.04 and len(out.sent) == 1  # refused at once, owner not asked
    assert await broker.ask(OWNER, THING, "stranger@evil.example", "control") is None
    assert len(out.sent) == 2  # another question is asked


async def test_one_requester_has_few_questions_open() -> None:
    out = _Outbox()
    broker = QuestionBroker(out.send, out.make, timeout=0.2, max_open=3)
    things = [f"meter{i}@grid.example" for i in range(10)]
    answers = await asyncio.gather(
        *(broker.ask(OWNER, t, f"stranger@evil.example/r{i}", "read") for i, t in enumerate(things))
    )
    assert answers == [None] * 10
    assert len(out.sent) == 3  # the other seven were refused without a question
    await broker.ask(OWNER, THING, "other@grid.example", "read")  # others are not affected
    assert len(out.sent) == 4


# -- finding 5: a revocation clears caches after a restart; devices cache token answers briefly -------------
def test_revocation_after_a_restart_clears_the_caches_of_devices_that_saw_the_token(tmp_path) -> None:
    path = tmp_path / "p.sqlite3"
    first = SqliteProvisioningStore(path)
    service = owned_service(first)
    cert, _ = self_signed_certificate("app")
    token = service.tokens.issue(APP, cert)
    service.add_rule(OWNER, Rule(THING, "cert:" + service.tokens.verify(token, APP).thumbprint, "read"))
    assert service.can_read(THING, APP, (), (), Tokens(service=token)) is not None
    jti = service.tokens.verify(token, APP).jti
    first.close()

    second = SqliteProvisioningStore(path)  # the server restarted
    restarted = ProvisioningService(second, TokenAuthority(second, ISSUER))
    cleared: list[str] = []
    restarted.on_rules_changed = lambda change: cleared.append(change.thing)
    second.revoke_token(jti)
    restarted.revoked([jti])
    assert cleared == [THING]
    second.close()


def test_device_caches_token_answers_only_briefly() -> None:
    signing = ed25519.Ed25519PrivateKey.generate()
    long_lived = jwt.encode({"exp": int(time.time()) + 24 * 3600}, signing, algorithm="EdDSA")
    assert _tokens_expire(Tokens(service=long_lived), 300) <= time.time() + 300
    assert _tokens_expire(Tokens(service="opaque"), 300) <= time.time() + 300  # not a JWT: bounded too
    assert _tokens_expire(Tokens(), 300) == float("inf")  # no token: until clearCache


# -- finding 7: open challenges per holder are capped ---------------------------------------------------------
def test_open_challenges_per_holder_are_capped(store) -> None:
    authority = TokenAuthority(store, ISSUER)
    cert, key = self_signed_certificate("app")
    b64 = base64.b64encode(cert).decode()
    opened = [authority.challenge(APP, b64) for _ in range(MAX_OPEN_CHALLENGES + 2)]
    other = authority.challenge("other@grid.example", b64)
    rows = store.db.execute("SELECT holder, COUNT(*) FROM challenges GROUP BY holder").fetchall()
    assert dict(rows) == {APP: MAX_OPEN_CHALLENGES, "other@grid.example": 1}
    seqnr, challenge = opened[0]  # the oldest was replaced
    with pytest.raises(ItemNotFound):
        authority.answer(APP, seqnr, decrypt_challenge(key, challenge, get_token_label(APP)))
    seqnr, challenge = opened[-1]
    assert authority.answer(APP, seqnr, decrypt_challenge(key, challenge, get_token_label(APP)))
    seqnr, challenge = other
    authority.answer("other@grid.example", seqnr, decrypt_challenge(key, challenge, get_token_label(
        "other@grid.example")))  # fmt: skip


# -- finding 8: the database holding the signing key is readable by its owner only ----------------------------
def test_database_files_are_owner_only(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "p.sqlite3"
        s = SqliteProvisioningStore(path)
        TokenAuthority(s, ISSUER)  # generates and stores the signing key
        for name in ("p.sqlite3", "p.sqlite3-wal", "p.sqlite3-shm"):
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name
        s.close()
        loose = tmp_path / "old.sqlite3"  # made by an older version with the default umask
        loose.touch(mode=0o644)
        SqliteProvisioningStore(loose).close()
        assert stat.S_IMODE(os.stat(loose).st_mode) == 0o600
    finally:
        os.umask(old)


# -- finding 9: the token to revoke need not be on the command line ----------------------------------------
def test_token_to_revoke_from_stdin_file_or_environment(tmp_path) -> None:
    base = ["--jid", OWNER, "--provisioning", ISSUER, "revoke"]
    args = build_parser().parse_args([*base, "--token-file", "-"])
    assert token_of(args, {}, io.StringIO("tok-from-stdin\n")) == "tok-from-stdin"
    path = tmp_path / "token"
    path.write_text("tok-from-file\n")
    assert token_of(build_parser().parse_args([*base, "--token-file", str(path)]), {}) == "tok-from-file"
    assert token_of(build_parser().parse_args(base), {"XMPP_IOT_TOKEN": "tok-from-env"}) == "tok-from-env"
    assert token_of(build_parser().parse_args([*base, "--token", "t"]), {}) == "t"  # still documented
