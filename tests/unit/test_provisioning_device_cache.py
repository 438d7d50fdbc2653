"""The device's answer cache: least recently used out first; answers resting on tokens expire with them."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519

from xmpp_iot.provisioning.device import LruCache, _tokens_expire
from xmpp_iot.trust import Tokens


def test_lru_evicts_the_least_recently_used() -> None:
    cache = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    cache.put("old", 4, expires=time.time() - 1)
    assert cache.get("old") is None
    cache.clear()
    assert len(cache) == 0


def test_token_answers_expire_with_the_earliest_token() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    soon, later = (jwt.encode({"exp": int(time.time()) + s}, key, algorithm="EdDSA") for s in (10, 1000))
    assert _tokens_expire(Tokens()) == float("inf")
    assert (
        _tokens_expire(Tokens(service=f"{later} not-a-jwt", user=soon))
        == jwt.decode(soon, options={"verify_signature": False})["exp"]
    )
