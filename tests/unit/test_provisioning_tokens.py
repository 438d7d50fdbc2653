"""Tokens and the certificate challenge, without XMPP: every refusal has its reason."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from provisioning.sqlite_store import SqliteProvisioningStore
from provisioning.store import Ownership
from provisioning.tokens import TokenAuthority, TokenRefused
from xmpp_iot.errors import BadRequest, ItemNotFound
from xmpp_iot.provisioning.client import decrypt_challenge, self_signed_certificate
from xmpp_iot.provisioning.stanza import get_token_label

HOLDER = "amr@grid.example"


@pytest.fixture
def store(tmp_path):
    s = SqliteProvisioningStore(tmp_path / "p.sqlite3")
    yield s
    s.close()


def test_challenge_issue_verify_and_refusals(store) -> None:
    authority = TokenAuthority(store, "provisioning.grid.example", lifetime=60)
    cert, key = self_signed_certificate("amr")
    seqnr, challenge = authority.challenge(HOLDER, base64.b64encode(cert).decode())
    with pytest.raises(BadRequest):
        authority.answer(HOLDER, seqnr, base64.b64encode(b"wrong").decode())
    with pytest.raises(ItemNotFound):  # one try per challenge
        authority.answer(HOLDER, seqnr, decrypt_challenge(key, challenge, get_token_label(HOLDER)))
    seqnr, challenge = authority.challenge(HOLDER, base64.b64encode(cert).decode())
    token = authority.answer(HOLDER, seqnr, decrypt_challenge(key, challenge, get_token_label(HOLDER)))
    assert authority.verify(token, HOLDER).holder == HOLDER

    reasons = {}
    for name, tok, presenter in [
        ("copied", token, "mallory@grid.example"),
        (
            "forged",
            jwt.encode(
                jwt.decode(token, options={"verify_signature": False}),
                ed25519.Ed25519PrivateKey.generate(),
                algorithm="EdDSA",
            ),
            HOLDER,
        ),
        ("garbage", "not.a.token", HOLDER),
    ]:
        with pytest.raises(TokenRefused) as refused:
            authority.verify(tok, presenter)
        reasons[name] = str(refused.value)
    assert "held by" in reasons["copied"]
    store.revoke_token(authority.verify(token, HOLDER).jti)
    with pytest.raises(TokenRefused, match="revoked"):
        authority.verify(token, HOLDER)


def test_expiry_audience_and_key_survive_restart(store, tmp_path) -> None:
    authority = TokenAuthority(store, "provisioning.grid.example", lifetime=1)
    cert, _ = self_signed_certificate("amr")
    token = authority.issue(HOLDER, cert)
    claims = jwt.decode(token, options={"verify_signature": False})
    other = jwt.encode({**claims, "aud": "provisioning.other.example"}, authority.key, algorithm="EdDSA")
    with pytest.raises(TokenRefused, match="audience"):
        authority.verify(other, HOLDER)
    again = TokenAuthority(SqliteProvisioningStore(tmp_path / "p.sqlite3"), "provisioning.grid.example")
    assert again.verify(token, HOLDER).holder == HOLDER  # same key from the store after a restart
    time.sleep(max(0.0, claims["exp"] - time.time()) + 1.05)
    with pytest.raises(TokenRefused, match="expired"):
        authority.verify(token, HOLDER)


def test_bad_certificates(store) -> None:
    authority = TokenAuthority(store, "provisioning.grid.example")
    for junk in ("", "%%%", base64.b64encode(b"not der").decode()):
        with pytest.raises(BadRequest):
            authority.challenge(HOLDER, junk)


def test_ownership_keeps_the_highest_seq(store) -> None:
    assert store.set_ownership(Ownership("m@g", "alice@g", True, 5))
    assert not store.set_ownership(Ownership("m@g", "mallory@g", True, 4))  # a stale retry
    assert store.set_ownership(Ownership("m@g", "", False, 6))
    assert [(o.owner, o.seq) for o in store.ownerships()] == [("", 6)]
