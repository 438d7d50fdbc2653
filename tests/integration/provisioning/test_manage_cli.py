"""Owners manage rules from the command line (python -m provisioning.manage), through the server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from xmpp_iot.provisioning import client as prov
from xmpp_iot.trust import ReadRequest


async def test_cli_adds_lists_and_removes_rules(
    make_device, make_client, ownership_feed, provisioning_jid, server_info
) -> None:
    device = await make_device()
    owner, app = await make_client("owner"), await make_client("app")
    thing = device.jid.bare
    await ownership_feed.push(thing, owner.jid.bare)
    env = dict(os.environ, XMPP_IOT_PASSWORD=f"pw-{owner.jid.user}")
    base = [
        sys.executable,
        "-m",
        "provisioning.manage",
        "--jid",
        owner.jid.bare,
        "--provisioning",
        provisioning_jid,
        "--server",
        f"{server_info.host}:{server_info.c2s_port}",
        "--insecure-plaintext",
    ]

    async def cli(*args: str) -> subprocess.CompletedProcess:
        return await asyncio.to_thread(
            subprocess.run, [*base, *args], env=env, capture_output=True, text=True, timeout=60
        )

    added = await cli("add", thing, app.jid.bare, "read", "--names", "Energy")
    assert added.returncode == 0, added.stderr
    rule_id = int(added.stdout.split()[1])
    listed = await cli("list", thing)
    assert app.jid.bare in listed.stdout and "names=Energy" in listed.stdout
    gate = device.xmpp.plugin["iot_provisioning"]
    assert (await gate.can_read(ReadRequest(str(app.jid)))).field_names == ("Energy",)

    refused = await cli("add", "someone-else@localhost", app.jid.bare, "read")
    assert refused.returncode == 1 and "item-not-found" in refused.stderr
    removed = await cli("remove", thing, str(rule_id))
    assert removed.returncode == 0, removed.stderr
    assert "no rules" in (await cli("list", thing)).stdout


async def test_adhoc_two_step_like_an_xmpp_client(make_client, ownership_feed, provisioning_jid) -> None:
    """A generic client: list commands, execute one, get the blank form, fill it in, complete."""
    owner, app, thing = await make_client("owner"), await make_client("app"), await make_client("meter")
    await ownership_feed.push(thing.jid.bare, owner.jid.bare)
    owner.xmpp.register_plugin("xep_0050")
    adhoc = owner.xmpp.plugin["xep_0050"]
    listed = await adhoc.get_commands(provisioning_jid, timeout=10)
    nodes = {item[1] for item in listed["disco_items"]["items"]}
    assert {"add-rule", "remove-rule", "list-rules", "revoke-token"} <= nodes

    first = await adhoc.send_command(provisioning_jid, "add-rule", timeout=10)
    blank = first["command"]["form"]
    assert first["command"]["status"] == "executing" and "subject" in blank.get_fields()
    filled = blank.__class__()
    filled["type"] = "submit"
    for var, value in {"thing": thing.jid.bare, "subject": app.jid.bare, "action": "control"}.items():
        filled.add_field(var, value=value)
    filled.add_field("names", ftype="text-multi", value=["OutputPercent"])
    done = await adhoc.send_command(provisioning_jid, "add-rule", action="complete", payload=filled,
                                    sessionid=first["command"]["sessionid"], timeout=10)  # fmt: skip
    assert done["command"]["status"] == "completed"
    rules = await prov.list_rules(owner.xmpp, provisioning_jid, thing.jid.bare)
    assert [(r["subject"], r["action"], r["names"]) for r in rules] == [
        (app.jid.bare, "control", "OutputPercent")
    ]
