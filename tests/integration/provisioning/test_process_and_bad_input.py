"""The process: rules and tokens survive SIGKILL; bad input gets the right error and changes no rule."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from xml.etree.ElementTree import Element

import pytest
from slixmpp.exceptions import IqError, IqTimeout

from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.errors import BadRequest, Forbidden, ItemNotFound, ProtocolError, from_iq_error
from xmpp_iot.provisioning import client as prov
from xmpp_iot.trust import ControlRequest, ReadRequest, Tokens

from ...helpers import error_of, send_raw

NS = "urn:xmpp:iot:provisioning"


async def test_rules_and_tokens_survive_sigkill(
    own_provisioning, make_device, make_client, ownership_feed
) -> None:
    server = own_provisioning.jid
    device = await make_device(server=server)
    owner, app, amr = await make_client("owner"), await make_client("app"), await make_client("amr")
    thing = device.jid.bare
    await ownership_feed.push(thing, owner.jid.bare, to=server)
    await prov.add_rule(owner.xmpp, server, thing, app.jid.bare, "read", names=["Energy"])
    cert, key = prov.self_signed_certificate("amr.example.org")
    await prov.add_rule(owner.xmpp, server, thing, "cert:" + hashlib.sha256(cert).hexdigest(), "control")
    token = await prov.get_token(amr.xmpp, server, cert, key)

    own_provisioning.kill()
    own_provisioning.start()

    gate = device.xmpp.plugin["iot_provisioning"]
    gate.cache.clear()
    read = await gate.can_read(ReadRequest(str(app.jid)))
    assert read.allowed and read.field_names == ("Energy",)
    control = await gate.can_control(
        ControlRequest(str(amr.jid), parameter_names=("Output",), tokens=Tokens(service=token))
    )
    assert control.allowed
    subjects = [r["subject"] for r in await prov.list_rules(owner.xmpp, server, thing)]
    assert subjects[0] == app.jid.bare


async def test_bad_input_gets_errors_and_changes_no_rule(
    make_device, make_client, ownership_feed, provisioning_jid
) -> None:
    device = await make_device()
    owner, mallory = await make_client("owner"), await make_client("mallory")
    thing = device.jid.bare
    await ownership_feed.push(thing, owner.jid.bare)
    await prov.add_rule(owner.xmpp, provisioning_jid, thing, "*", "read", allow=False)
    before = await prov.list_rules(owner.xmpp, provisioning_jid, thing)

    async def raw(client, payload: str, itype: str = "get") -> ProtocolError:
        return await error_of(send_raw(client, provisioning_jid, payload, itype=itype))

    cases: list[tuple[str, type[ProtocolError], ProtocolError]] = [
        ("isFriend without jid", BadRequest, await raw(device, f"<isFriend xmlns='{NS}'/>")),
        (
            "canRead with an invalid jid",
            BadRequest,
            await raw(device, f"<canRead xmlns='{NS}' jid='a@b@c'/>"),
        ),
        (
            "canRead node without nodeId",
            BadRequest,
            await raw(device, f"<canRead xmlns='{NS}' jid='x@localhost'><node/></canRead>"),
        ),
        (
            "canControl parameter without name",
            BadRequest,
            await raw(device, f"<canControl xmlns='{NS}' jid='x@localhost'><parameter/></canControl>"),
        ),
        (
            "canRead with a bad boolean",
            BadRequest,
            await raw(device, f"<canRead xmlns='{NS}' jid='x@localhost' momentary='perhaps'/>"),
        ),
        (
            "challenge response with a bad seqnr",
            BadRequest,
            await raw(
                device, f"<getTokenChallengeResponse xmlns='{NS}' seqnr='x'>AA==</getTokenChallengeResponse>"
            ),
        ),
        (
            "ownership push from a non-registry",
            Forbidden,
            await raw(
                mallory,
                f"<owner xmlns='urn:xmpp-iot:ownership:0' thing='{thing}' owner='{mallory.jid.bare}' "
                "seq='99999999999999999999'/>",
                itype="set",
            ),
        ),
        (
            "rule from a non-owner",
            Forbidden,
            await error_of(prov.add_rule(mallory.xmpp, provisioning_jid, thing, mallory.jid.bare, "control")),
        ),
        (
            "rule removal from a non-owner",
            Forbidden,
            await error_of(prov.remove_rule(mallory.xmpp, provisioning_jid, thing, int(before[0]["id"]))),
        ),
        (
            "rules of an unknown thing",
            ItemNotFound,
            await error_of(
                prov.add_rule(owner.xmpp, provisioning_jid, "nobody@localhost", "x@localhost", "read")
            ),
        ),
        (
            "a rule with an unknown action",
            BadRequest,
            await error_of(prov.add_rule(owner.xmpp, provisioning_jid, thing, "x@localhost", "dance")),
        ),
        (
            "a rule with a malformed subject",
            BadRequest,
            await error_of(prov.add_rule(owner.xmpp, provisioning_jid, thing, "cert:zz", "read")),
        ),
        (
            "removing a rule that does not exist",
            ItemNotFound,
            await error_of(prov.remove_rule(owner.xmpp, provisioning_jid, thing, 10**9)),
        ),
    ]
    wrong = [(name, type(err).__name__) for name, expected, err in cases if not isinstance(err, expected)]
    assert wrong == []
    assert await prov.list_rules(owner.xmpp, provisioning_jid, thing) == before
    # the push from mallory did not make mallory the owner
    assert not (await device.xmpp.plugin["iot_provisioning"].can_read(ReadRequest(str(mallory.jid)))).allowed


@pytest.mark.parametrize("stanza", ["clearCache", "unfriend"])
async def test_device_obeys_only_its_server(stanza, make_device, make_client) -> None:
    device = await make_device()
    mallory = await make_client("mallory")
    gate = device.xmpp.plugin["iot_provisioning"]
    gate.cache.put(("friend", "x@localhost"), True)
    if stanza == "clearCache":
        iq = mallory.xmpp.make_iq_set(ito=device.jid)
        iq.xml.append(Element(f"{{{NS}}}clearCache"))
        err = await error_of(_send(iq))
        assert isinstance(err, Forbidden)
    else:
        msg = mallory.xmpp.make_message(mto=device.jid)
        msg.xml.append(Element(f"{{{NS}}}unfriend", jid="x@localhost"))
        msg.send()
        await mallory.xmpp.plugin["xep_0199"].ping(device.jid, timeout=5)  # it has been processed by now
    assert len(gate.cache) == 1


async def _send(iq):
    try:
        return await iq.send(timeout=10)
    except (IqError, IqTimeout) as exc:
        raise from_iq_error(exc) from None


def test_process_conventions(server_info, tmp_path) -> None:
    """Like every component: --help, exit 2 on a refused secret, exit 0 on SIGTERM."""
    helped = subprocess.run([sys.executable, "-m", "xmpp_iot.cli", "provisioning", "--help"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert helped.returncode == 0 and "--trusted-service" in helped.stdout and "--registry" in helped.stdout
    jid = server_info.component_jid("scratch5")
    wrong = ComponentProcess("provisioning", server_info, jid=jid, db=tmp_path / "w.sqlite3",
                             log_path=tmp_path / "w.log", secret="not-the-secret").start(wait=False)  # fmt: skip
    assert wrong.wait(30) == 2
    right = ComponentProcess("provisioning", server_info, jid=jid, db=tmp_path / "r.sqlite3",
                             log_path=tmp_path / "r.log").start()  # fmt: skip
    assert right.stop() == 0
    assert "not-the-secret" not in wrong.log()
