"""The registry as operators run it: CLI, secret handling, signals, restarts, reconnects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import plaintext_endpoint
from tests.helpers import error_of
from xmpp_iot.client import IotClient
from xmpp_iot.devserver import make_devserver
from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.discovery import KEY, eq, str_tag
from xmpp_iot.errors import Forbidden

pytestmark = pytest.mark.integration


def scratch_registry(server_info, tmp_path: Path, name: str, **kw) -> ComponentProcess:
    jid = server_info.component_jid(name)
    return ComponentProcess(
        "registry", server_info, jid=jid, db=tmp_path / "reg.sqlite3", log_path=tmp_path / "reg.log", **kw
    )


def test_help_documents_every_option():
    out = subprocess.run(
        [sys.executable, "-m", "xmpp_iot.cli", "registry", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in (
        "--server",
        "--jid",
        "--db",
        "--allowed-domain",
        "--max-tags",
        "--sync",
        "XMPP_IOT_COMPONENT_SECRET",
    ):
        assert option in out


def test_missing_secret_is_a_clear_error(server_info, tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k != "XMPP_IOT_COMPONENT_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "xmpp_iot.cli", "registry", "--server", f"127.0.0.1:{server_info.component_port}",
         "--jid", server_info.component_jid("scratch1"), "--db", str(tmp_path / "r.sqlite3")],
        capture_output=True, text=True, env=env, timeout=30,
    )  # fmt: skip
    assert result.returncode != 0
    assert "XMPP_IOT_COMPONENT_SECRET" in result.stderr


def test_refused_secret_exits_non_zero_and_says_so(server_info, tmp_path):
    process = scratch_registry(server_info, tmp_path, "scratch1", secret="not-the-secret").start(wait=False)
    assert process.wait(30) == 2
    log = process.log()
    assert "refused" in log and "XMPP_IOT_COMPONENT_SECRET" in log
    assert "not-the-secret" not in log  # secrets never land in logs


def test_sigterm_stops_cleanly(server_info, tmp_path):
    process = scratch_registry(server_info, tmp_path, "scratch1").start()
    assert process.stop() == 0
    assert "stopped" in process.log()


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
async def test_state_survives_component_restart(server_info, tmp_path, make_client, how):
    process = scratch_registry(server_info, tmp_path, "scratch2").start()
    try:
        registry = server_info.component_jid("scratch2")
        thing = await make_client("thing", registry="scratch2")
        await thing.discovery.find_registry(registry)
        tags = [str_tag("SN", thing.jid.user), str_tag(KEY, "k-" + thing.jid.user)]
        await thing.discovery.register(tags)
        owner = await make_client("owner", registry="scratch2")
        await owner.discovery.find_registry(registry)
        await owner.discovery.claim(tags, public=False)
        await owner.discovery.update([str_tag("ROOM", "garage")], jid=thing.jid.bare)
        # acknowledged: now crash or stop the component and start it again on the same database
        if how == "SIGKILL":
            process.kill()
        else:
            assert process.stop() == 0
        process.start()
        page = await owner.discovery.search([eq("SN", thing.jid.user)])
        assert [(t.jid, t.owner, t.tags["ROOM"].value) for t in page.things] == [
            (thing.jid.bare, owner.jid.bare, "garage")
        ]
        stranger = await make_client("stranger", registry="scratch2")
        await stranger.discovery.find_registry(registry)
        assert (await stranger.discovery.search([eq("SN", thing.jid.user)])).things == []  # still private
        assert await thing.discovery.register(tags) == owner.jid.bare  # still claimed
    finally:
        process.stop()


async def test_foreign_domains_are_refused(server_info, tmp_path, make_client):
    process = scratch_registry(
        server_info, tmp_path, "scratch3", extra_args=["--allowed-domain", "other.example"]
    ).start()
    try:
        client = await make_client("local", registry="scratch3")
        await client.discovery.find_registry(server_info.component_jid("scratch3"))
        err = await error_of(client.discovery.register([str_tag("SN", "1")]))
        assert isinstance(err, Forbidden)
    finally:
        process.stop()


async def test_component_reconnects_after_server_restart(xmpp_server, tmp_path_factory):
    """A private server instance: restart it under a running registry and keep working."""
    workdir = tmp_path_factory.mktemp(f"{xmpp_server.kind}-restart")
    server = make_devserver(xmpp_server.kind, workdir, components=("registry",))
    info = server.start(timeout=60)
    process = ComponentProcess(
        "registry",
        info,
        jid=info.component_jid("registry"),
        db=workdir / "r.sqlite3",
        log_path=workdir / "r.log",
    ).start()
    try:
        server.add_user("dev", "devpw")
        server.restart(timeout=60)
        process.wait_connected(timeout=60, occurrence=2)
        async with IotClient("dev@localhost/x", "devpw", plaintext_endpoint(info)) as client:
            await client.discovery.find_registry()
            assert await client.discovery.register([str_tag("SN", "after-restart")], self_owned=True) is None
            page = await client.discovery.search([eq("SN", "after-restart")])
            assert len(page.things) == 1
    finally:
        process.stop()
        server.stop()
