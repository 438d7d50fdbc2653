"""The dev server harness and TLS: clients verify the server certificate unless told otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xmpp_iot.client import IotClient
from xmpp_iot.connection import ConnectError, Endpoint, Security
from xmpp_iot.discovery import eq, str_tag

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", ["starttls", "direct"])
async def test_tls_with_verified_certificate(registry_process, server_info, mode):
    port = server_info.c2s_port if mode == "starttls" else server_info.c2s_tls_port
    endpoint = Endpoint(server_info.host, port, Security(tls=mode, ca_cert=Path(server_info.ca_cert)))
    name = f"tls-{mode}-{time.time_ns()}"
    client = IotClient(f"{name}@{server_info.domain}/dev", "pw", endpoint, create_account=True)
    async with client:
        assert client.xmpp.socket.version().startswith("TLSv1.")
        await client.discovery.find_registry()
        await client.discovery.register([str_tag("SN", name)], self_owned=True)
        assert len((await client.discovery.search([eq("SN", name)])).things) == 1


async def test_unverifiable_certificate_is_refused(server_info):
    """Without the dev server's CA the self-signed certificate must not be accepted."""
    endpoint = Endpoint(server_info.host, server_info.c2s_tls_port, Security(tls="direct"))
    client = IotClient(
        f"nocert-{time.time_ns()}@{server_info.domain}/dev", "pw", endpoint, create_account=True
    )
    with pytest.raises(ConnectError):
        await client.connect()
    await client.close()


def test_devserver_command_runs_server_and_registry(tmp_path):
    kind = "prosody"
    proc = subprocess.Popen(
        [sys.executable, "-m", "xmpp_iot.cli", "devserver", "--kind", kind, "--workdir", str(tmp_path),
         "--component", "registry", "--user", "alice:secret-pw", "--duration", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "is running on 127.0.0.1" in out and "stopped" in out
    info = json.loads((tmp_path / "server-info.json").read_text())
    assert (tmp_path / "server-info.json").stat().st_mode & 0o077 == 0  # secrets file is private
    for secret in info["components"].values():
        assert secret not in out and secret not in err  # never printed
    assert "connected to" in (tmp_path / "registry.log").read_text()
    # nothing left behind
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(tmp_path) not in ps
