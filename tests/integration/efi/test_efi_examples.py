"""examples/efi_driver.py and examples/energy_app.py work together against a real server."""

from __future__ import annotations

import asyncio
import sys
import uuid
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest

from xmpp_iot.nodes import flexibility_node

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


async def test_driver_and_energy_app_examples(server_info, node_admin, tmp_path):
    info_file = tmp_path / "server-info.json"
    info_file.write_text(server_info.to_json())
    user = f"heatpump-{uuid.uuid4().hex[:8]}"
    device = f"{user}@{server_info.domain}"
    app_user = f"energyapp-{uuid.uuid4().hex[:8]}"
    await node_admin.create(flexibility_node(device), device)  # provisioning's job in production
    driver = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "efi_driver.py"), "--server-info", str(info_file), "--user", user,
        "--instructions", "1", "--allow", f"{app_user}@{server_info.domain}", stdout=PIPE, stderr=PIPE,
    )
    try:
        async with asyncio.timeout(60):
            first = (await driver.stdout.readline()).decode()
            assert first.startswith(f"driver {device}/"), first + (await driver.stderr.read()).decode()
            app = await asyncio.create_subprocess_exec(
                sys.executable, str(EXAMPLES / "energy_app.py"), "--server-info", str(info_file), "--user", app_user,
                device, stdout=PIPE, stderr=PIPE,
            )
            out, err = (b.decode() for b in await app.communicate())
            assert app.returncode == 0, err
            assert "heat pump + buffer: buffer at 38.5 Degrees Celsius" in out
            assert "acknowledged by " + device in out
            assert out.rstrip().endswith("SUCCEEDED")
            out, err = (b.decode() for b in await driver.communicate())
            assert driver.returncode == 0, err
            assert "SUCCEEDED, buffer at 39.0" in out
    finally:
        if driver.returncode is None:
            driver.kill()
            await driver.wait()
