"""Tokens (getToken certificate challenge, signed JWTs) and the attack matrix: every attacker fails."""

from __future__ import annotations

import asyncio
import hashlib
import time
from xml.etree.ElementTree import Element

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from xmpp_iot.errors import BadRequest, Forbidden, ItemNotFound, from_iq_error
from xmpp_iot.provisioning import client as prov
from xmpp_iot.provisioning.stanza import get_token_label, q
from xmpp_iot.trust import ControlRequest, Tokens

from ...helpers import EventRecorder, error_of


async def _owned_device(make_device, make_client, ownership_feed, server: str):
    device = await make_device(server=server)
    owner = await make_client("owner")
    await ownership_feed.push(device.jid.bare, owner.jid.bare, to=server)
    return device, owner


async def test_get_token_and_control_by_certificate(
    own_provisioning, make_device, make_client, ownership_feed
) -> None:
    server = own_provisioning.jid
    device, owner = await _owned_device(make_device, make_client, ownership_feed, server)
    app = await make_client("amr")
    cert, key = prov.self_signed_certificate("amr.example.org")
    thing = device.jid.bare
    await prov.add_rule(
        owner.xmpp, server, thing, "cert:" + hashlib.sha256(cert).hexdigest(), "control", names=["Output"]
    )
    token = await prov.get_token(app.xmpp, server, cert, key)
    assert " " not in token  # the XEP forbids white space in tokens
    gate = device.xmpp.plugin["iot_provisioning"]
    allowed = await gate.can_control(
        ControlRequest(str(app.jid), parameter_names=("Output",), tokens=Tokens(service="bogus " + token))
    )
    assert allowed.allowed  # several tokens: the most forgiving answer
    assert not (await gate.can_control(ControlRequest(str(app.jid), parameter_names=("Output",)))).allowed


async def test_attack_matrix(
    own_provisioning, make_device, make_client, ownership_feed, signing_key_pem
) -> None:
    server = own_provisioning.jid
    device, owner = await _owned_device(make_device, make_client, ownership_feed, server)
    gate = device.xmpp.plugin["iot_provisioning"]
    thing = device.jid.bare
    app, friend, stranger, mallory = [await make_client(p) for p in ("amr", "friend", "stranger", "mallory")]
    cert, key = prov.self_signed_certificate("amr.example.org")
    subject = "cert:" + hashlib.sha256(cert).hexdigest()
    await prov.add_rule(owner.xmpp, server, thing, subject, "control", names=["Output"])
    for action in ("friend", "control"):  # the owner said no to everybody else: no questions asked
        await prov.add_rule(owner.xmpp, server, thing, "*", action, allow=False)
    friend_rule = await prov.add_rule(owner.xmpp, server, thing, friend.jid.bare, "control")
    token = await prov.get_token(app.xmpp, server, cert, key)
    token2 = await prov.get_token(app.xmpp, server, cert, key)

    async def control(who, tokens: str = "") -> bool:
        request = ControlRequest(str(who.jid), parameter_names=("Output",), tokens=Tokens(service=tokens))
        return (await gate.can_control(request)).allowed

    # the legitimate requests work
    assert await control(app, token) and await control(app, token2) and await control(friend)
    claims = jwt.decode(token, options={"verify_signature": False})
    other_key = ed25519.Ed25519PrivateKey.generate()
    forged = jwt.encode(claims, other_key, algorithm="EdDSA")
    wrong_audience = jwt.encode(
        {**claims, "aud": "provisioning.elsewhere.example"}, signing_key_pem[1], algorithm="EdDSA"
    )
    cleared = EventRecorder(device, "iotp_cache_cleared")
    await prov.remove_rule(owner.xmpp, server, thing, friend_rule)  # the friend is revoked
    assert await prov.revoke_token(app.xmpp, server, token=token2) == 1
    await cleared.wait_for(2)

    results = {
        "stranger": await control(stranger),
        "non-friend": await gate.is_friend(mallory.jid.bare),
        "revoked friend": await control(friend),
        "forged token": await control(app, forged),
        "replayed token (someone else's)": await control(mallory, token),
        "wrong-audience token": await control(app, wrong_audience),
        "revoked token": await control(app, token2),
    }
    assert await control(app, token)  # the honest holder still gets in
    await asyncio.sleep(max(0.0, claims["exp"] - time.time()) + 1.1)
    results["expired token"] = await control(app, token)
    assert results == dict.fromkeys(results, False)


async def test_get_token_bad_input(own_provisioning, make_client) -> None:
    server = own_provisioning.jid
    app, mallory = await make_client("amr"), await make_client("mallory")
    cert, key = prov.self_signed_certificate("amr.example.org")
    seqnr, challenge = await prov.request_challenge(app.xmpp, server, cert)
    wrong = await error_of(prov.answer_challenge(app.xmpp, server, seqnr, "AAAA"))
    assert isinstance(wrong, BadRequest)
    # a challenge is answered once: the right answer after a wrong one, or a replayed one, finds nothing
    assert isinstance(
        await error_of(
            prov.answer_challenge(
                app.xmpp, server, seqnr, prov.decrypt_challenge(key, challenge, get_token_label(app.jid.bare))
            )
        ),
        ItemNotFound,
    )
    assert isinstance(await error_of(prov.answer_challenge(app.xmpp, server, 999999, "AAAA")), ItemNotFound)
    seqnr, challenge = await prov.request_challenge(app.xmpp, server, cert)
    answer = prov.decrypt_challenge(key, challenge, get_token_label(app.jid.bare))
    # somebody else cannot collect the token for the holder's challenge
    assert isinstance(
        await error_of(prov.answer_challenge(mallory.xmpp, server, seqnr, answer)), ItemNotFound
    )
    for junk in (b"not a certificate", b""):
        assert isinstance(await error_of(prov.request_challenge(app.xmpp, server, junk)), BadRequest)


async def test_unsolicited_token_challenge_is_forbidden(own_provisioning, make_client) -> None:
    server = own_provisioning.jid
    app, mallory = await make_client("amr"), await make_client("mallory")
    cert, key = prov.self_signed_certificate("amr.example.org")
    token = await prov.get_token(app.xmpp, server, cert, key)
    holder = prov.TokenHolder(app.xmpp, key)
    holder.sent(token, "meter@example.org")
    iq = mallory.xmpp.make_iq_get(ito=app.jid)
    el = Element(q("tokenChallenge"), token=token)
    el.text = "AAAA"
    iq.xml.append(el)
    with pytest.raises(Exception) as caught:
        await iq.send(timeout=10)
    assert isinstance(from_iq_error(caught.value), Forbidden)


async def test_token_challenge_through_the_device(
    challenging_provisioning, make_device, make_client, ownership_feed
) -> None:
    """With --challenge-tokens the server challenges a token through the device that showed it;
    the device passes the challenge to the app that sent it the token; only a holder that really
    sent that token to that device (and has the key) answers."""
    import xmpp_iot.control.plugin  # noqa: F401 - registers iot_control
    from xmpp_iot.control.device import ControlDevice

    server = challenging_provisioning.jid
    device, owner = await _owned_device(make_device, make_client, ownership_feed, server)
    thing = device.jid.bare
    written: list[object] = []
    controls = ControlDevice()
    controls.add_parameter("Output", "boolean", written.append, lambda: False)
    device.xmpp.register_plugin("iot_control")
    device.xmpp.plugin["iot_control"].serve(controls, device.xmpp.plugin["iot_provisioning"])
    honest, careless = await make_client("amr"), await make_client("careless")
    certs = {}
    for app in (honest, careless):
        app.xmpp.register_plugin("iot_control")
        cert, key = prov.self_signed_certificate(app.jid.user)
        certs[app.jid.bare] = (cert, key, await prov.get_token(app.xmpp, server, cert, key))
        await prov.add_rule(owner.xmpp, server, thing, "cert:" + hashlib.sha256(cert).hexdigest(), "control")
    await prov.add_rule(owner.xmpp, server, thing, "*", "control", allow=False)

    _, key, token = certs[honest.jid.bare]
    prov.TokenHolder(honest.xmpp, key).sent(token, thing)
    await honest.xmpp.plugin["iot_control"].set(device.jid, {"Output": True}, tokens=Tokens(service=token))
    assert written == [True]
    # a holder that never said it sent the token to this device refuses the challenge: no control
    _, key, token = certs[careless.jid.bare]
    prov.TokenHolder(careless.xmpp, key)
    refused = await error_of(
        careless.xmpp.plugin["iot_control"].set(device.jid, {"Output": False}, tokens=Tokens(service=token))
    )
    assert isinstance(refused, Forbidden) and written == [True]
