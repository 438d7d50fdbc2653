"""Bad input to `xmpp-iot demo` is explained before anything starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xmpp_iot.cli", "demo", *args], capture_output=True, text=True,
                          timeout=60)


def test_port_taken_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_demo("--c2s-port", str(port), "--workdir", str(tmp_path / "run"), "--duration", "5")
    assert result.returncode == 2
    assert f"port {port} (c2s) on 127.0.0.1 is already in use" in result.stderr
    assert "nothing was started" in result.stderr
    assert not (tmp_path / "run" / "server-info.json").exists()


def test_wrong_toml_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[households]\ncount = 'many'\n")
    result = run_demo("--config", str(config), "--duration", "5")
    assert result.returncode == 2
    assert "households.count: must be an integer, not a string ('many')" in result.stderr


def test_missing_server_package_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = subprocess.run([sys.executable, "-m", "xmpp_iot.cli", "demo", "--duration", "5", "--workdir",
                             str(tmp_path / "run")], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/nonexistent", "HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "apt-get install -y prosody" in result.stderr
    assert not (tmp_path / "run" / "server-info.json").exists()
