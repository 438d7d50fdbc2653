"""Tokens: the XEP-0324 certificate challenge, then a signed, holder-bound, expiring JWT.

XEP-0324 leaves a token's form and lifetime open. Ours is a JWT (EdDSA, Ed25519 key kept in
the store or given as a PEM file) with:

* ``iss`` and ``aud``: this provisioning server's JID (a token minted for another server,
  even with a shared key, is refused: wrong audience);
* ``sub``: the holder's bare JID, the one that answered the challenge; the token is only
  honoured when the request names that JID as the requester, so a copied token is useless
  to anybody else (replay by a third party);
* ``x5t#S256``: the SHA-256 thumbprint of the holder's certificate; rules name
  ``cert:<thumbprint>``;
* ``exp`` and ``jti``: expiry and an id that can be revoked.

The challenge is a random nonce encrypted with the certificate's RSA key (OAEP, SHA-256); the
holder proves it has the private key by returning it decrypted. The OAEP label says what the
challenge is for (``getToken:<holder>`` or ``tokenChallenge:<token id>``), so a challenge of
one kind cannot be relayed to a holder as the other kind. Each challenge is answered at
most once (a replayed answer finds nothing) and is kept for ``challenge_ttl`` (>= 60 s).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import time
import uuid
from dataclasses import dataclass

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from xmpp_iot.errors import BadRequest, ItemNotFound
from xmpp_iot.provisioning.stanza import get_token_label, token_challenge_label

from .store import IssuedToken, ProvisioningStore

log = logging.getLogger(__name__)

KEY_SETTING = "signing_key"
ALGORITHM = "EdDSA"
MAX_OPEN_CHALLENGES = 5  # per holder: a newer getToken replaces the oldest open challenge


def oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    jti: str
    holder: str
    thumbprint: str
    expires: float


class TokenRefused(Exception):
    """Why a token is not honoured (forged, expired, revoked, wrong audience or holder)."""


def thumbprint(cert_der: bytes) -> str:
    return hashlib.sha256(cert_der).hexdigest()


def load_certificate(b64: str) -> tuple[bytes, rsa.RSAPublicKey]:
    """Decode the base64 DER certificate of getToken; BadRequest unless it is an RSA certificate."""
    try:
        der = base64.b64decode("".join(b64.split()), validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, binascii.Error):
        raise BadRequest("getToken: expected the base64-encoded DER of an X.509 certificate") from None
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadRequest(
            "getToken: the certificate must carry an RSA key (the challenge is encrypted with it)"
        )
    if cert.not_valid_after_utc.timestamp() < time.time():
        raise BadRequest("getToken: the certificate has expired")
    return der, key


class TokenAuthority:
    """Issues and checks tokens for one provisioning server."""

    def __init__(
        self,
        store: ProvisioningStore,
        issuer: str,
        *,
        key: ed25519.Ed25519PrivateKey | None = None,
        lifetime: float = 24 * 3600.0,
        challenge_ttl: float = 300.0,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.lifetime = lifetime
        self.challenge_ttl = max(60.0, challenge_ttl)
        self.key = key or self._stored_key()
        self.public_key = self.key.public_key()

    def _stored_key(self) -> ed25519.Ed25519PrivateKey:
        pem = self.store.setting(KEY_SETTING)
        if pem is None:
            key = ed25519.Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            self.store.set_setting(KEY_SETTING, pem)
            log.info("generated a new token signing key (kept in the store)")
        loaded = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(loaded, ed25519.Ed25519PrivateKey)
        return loaded

    # -- the getToken challenge ---------------------------------------------------------------
    def challenge(self, holder: str, cert_b64: str) -> tuple[int, str]:
        """Start getToken: (seqnr, base64 challenge)."""
        der, public_key = load_certificate(cert_b64)
        nonce = os.urandom(32)
        seqnr = self.store.add_challenge(holder, der, nonce, keep=MAX_OPEN_CHALLENGES)
        return seqnr, base64.b64encode(public_key.encrypt(nonce, oaep(get_token_label(holder)))).decode()

    def answer(self, holder: str, seqnr: int, response_b64: str) -> str:
        """Finish getToken: the token, or ItemNotFound (unknown seqnr) / BadRequest (wrong answer)."""
        challenge = self.store.take_challenge(seqnr, self.challenge_ttl)
        if challenge is None or challenge.holder != holder:
            raise ItemNotFound(f"no open challenge {seqnr} for {holder}")
        try:
            response = base64.b64decode("".join(response_b64.split()), validate=True)
        except (ValueError, binascii.Error):
            raise BadRequest("getTokenChallengeResponse: not base64") from None
        if not hmac.compare_digest(response, challenge.nonce):
            raise BadRequest("the challenge response is wrong")
        return self.issue(holder, challenge.cert_der)

    def issue(self, holder: str, cert_der: bytes, *, party: str = "") -> str:
        """A token for `holder`; `party` (user tokens) is the service allowed to present it too."""
        now = time.time()
        claims = TokenClaims(
            uuid.uuid4().hex, holder, thumbprint(cert_der) if cert_der else "", now + self.lifetime
        )
        self.store.add_token(
            IssuedToken(claims.jti, holder, claims.thumbprint, claims.expires, False, cert_der)
        )
        payload = {
            "iss": self.issuer,
            "aud": self.issuer,
            "sub": holder,
            "jti": claims.jti,
            "iat": int(now),
            "exp": int(claims.expires),
            "x5t#S256": claims.thumbprint,
        }
        if party:
            payload["azp"] = party
        return jwt.encode(payload, self.key, algorithm=ALGORITHM)

    # -- checking tokens --------------------------------------------------------------------------
    def verify(self, token: str, presenter: str) -> TokenClaims:
        """The claims of a token the requester `presenter` (bare JID) may use, or TokenRefused."""
        try:
            payload = jwt.decode(
                token,
                self.public_key,
                algorithms=[ALGORITHM],
                audience=self.issuer,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "jti", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused("wrong audience") from None
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"invalid ({exc.__class__.__name__})") from None
        issued = self.store.token(str(payload["jti"]))
        if issued is None:
            raise TokenRefused("unknown token id")
        if issued.revoked:
            raise TokenRefused("revoked")
        if presenter not in (payload["sub"], payload.get("azp")):
            raise TokenRefused(f"held by {payload['sub']}, presented for {presenter}")
        return TokenClaims(issued.jti, issued.holder, issued.thumbprint, issued.expires)

    # -- token challenges (XEP-0324 §3.2): prove the presenter reaches the certificate's key --------
    def token_challenge(self, token: str) -> tuple[bytes, str] | None:
        """(nonce, base64 challenge) for a certificate token of ours; None when it cannot be challenged."""
        jti = self.jti_of(token)
        issued = self.store.token(jti) if jti else None
        if issued is None or not issued.cert_der:
            return None
        key = x509.load_der_x509_certificate(issued.cert_der).public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        nonce = os.urandom(32)
        return nonce, base64.b64encode(key.encrypt(nonce, oaep(token_challenge_label(issued.jti)))).decode()

    @staticmethod
    def challenge_answered(nonce: bytes, response_b64: str) -> bool:
        try:
            response = base64.b64decode("".join(response_b64.split()), validate=True)
        except (ValueError, binascii.Error):
            return False
        return hmac.compare_digest(response, nonce)

    def jti_of(self, token: str) -> str | None:
        """The id of a token this server signed (signature checked, expiry not)."""
        try:
            payload = jwt.decode(
                token, self.public_key, algorithms=[ALGORITHM], audience=self.issuer,
                options={"verify_exp": False},
            )  # fmt: skip
        except jwt.PyJWTError:
            return None
        return str(payload.get("jti", "")) or None
