"""examples/control_with_token.py runs against a real server with the registry and provisioning."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "control_with_token.py"


async def test_control_with_token_example(
    registry_process, provisioning_process, server_info, tmp_path
) -> None:
    info_file = tmp_path / "server-info.json"
    info_file.write_text(server_info.to_json())
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(EXAMPLE), "--server-info", str(info_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "output is now 40" in done.stdout
    assert "without the token: forbidden - output is still 40" in done.stdout
