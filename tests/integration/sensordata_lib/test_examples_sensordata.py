"""examples/readout.py and examples/control.py run against a real server, over verified STARTTLS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def run_example(name: str, info_file: Path) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / name), "--server-info", str(info_file)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def info_file(server_info, tmp_path) -> Path:
    path = tmp_path / "server-info.json"
    path.write_text(server_info.to_json())
    return path


def test_readout_example(info_file):
    out = run_example("readout.py", info_file)
    assert "momentary SerialNumber = MTR-0042" in out
    assert "momentary voltage.L1 = 2" in out and " V" in out
    assert "historical active_power.total: 3 values" in out
    assert "as measurement readings: voltage.L1=" in out


def test_control_example(info_file):
    out = run_example("control.py", info_file)
    assert "parameter OutputPercent: int [0..100] = 100" in out
    assert "[dimmer] fade_ms -> 500" in out and "[dimmer] percent -> 10" in out
    assert "refused, nothing changed: OutputPercent" in out
    assert "[dimmer] on -> False" not in out
    assert "dimmer now: on=True percent=10 colour=3399FF" in out
