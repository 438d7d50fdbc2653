"""The examples in examples/ work against a real server, as the README's tour shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *args: str, timeout: float = 60) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_device_owner_and_app_examples(registry_process, server_info, tmp_path):
    info_file = tmp_path / "server-info.json"
    info_file.write_text(server_info.to_json())
    device = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "minimal_device.py"), "--server-info", str(info_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert device.stdout.readline().startswith("registered")
        iotdisco = device.stdout.readline().strip()
        assert iotdisco.startswith("IoTDisco;SN:")
        out = run_example("claim_thing.py", "--server-info", str(info_file), iotdisco)
        assert out.startswith("now owning meter-")
        rest, _ = device.communicate(timeout=30)
        assert "claimed by owner-" in rest
        serial = iotdisco.split(";")[1].removeprefix("SN:")
        listing = run_example("minimal_app.py", "--server-info", str(info_file))
        assert f"'SN': '{serial}'" in listing
        assert "KEY" not in listing
    finally:
        device.kill()
