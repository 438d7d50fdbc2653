"""The historian refuses to start open to every local account unless told so explicitly."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(tmp_path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XMPP_IOT_COMPONENT_SECRET": "not-used"}
    return subprocess.run(
        [sys.executable, "-m", "xmpp_iot.cli", "sensordata", "--server", "127.0.0.1:9", "--jid",
         "sensordata.example.org", "--db", str(tmp_path / "sd.sqlite3"), *extra],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_refuses_to_start_without_a_read_policy(tmp_path) -> None:
    done = _run(tmp_path)
    assert done.returncode == 2
    assert "--open-to-domain" in done.stderr and "--provisioning" in done.stderr
    assert not (tmp_path / "sd.sqlite3").exists()  # nothing was opened


def test_open_to_domain_is_an_explicit_choice(tmp_path) -> None:
    parser_help = _run(tmp_path, "--help")
    assert "--open-to-domain" in parser_help.stdout
