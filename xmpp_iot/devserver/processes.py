"""Run our components as real subprocesses (`xmpp-iot registry ...`), the way operators do.

Tests, benchmarks, the dev server and the demo all start components through this, so the
command line, the environment-only secret and the log output are exercised everywhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .base import ServerInfo

READY_MARK = "connected to"


class ComponentProcess:
    """One component process with its log file; knows when it has connected."""

    def __init__(
        self,
        command: str,
        info: ServerInfo,
        *,
        jid: str,
        db: str | Path,
        log_path: Path,
        extra_args: list[str] | None = None,
        secret: str | None = None,
    ) -> None:
        self.command = command
        self.jid = jid
        self.db = str(db)
        self.log_path = log_path
        self.args = [
            sys.executable, "-m", "xmpp_iot.cli", command,
            "--server", f"{info.host}:{info.port_for(jid)}",
            "--jid", jid,
            "--db", self.db,
            *(extra_args or []),
        ]  # fmt: skip
        self.env = dict(
            os.environ, XMPP_IOT_COMPONENT_SECRET=secret if secret is not None else info.components[jid]
        )
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self, wait: bool = True, timeout: float = 20.0) -> ComponentProcess:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        if wait:
            self.wait_connected(timeout)
        return self

    def wait_connected(self, timeout: float = 20.0, occurrence: int = 1) -> None:
        """Wait until the log shows the component connected `occurrence` times since start()."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(READY_MARK) >= occurrence:
                return
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.command} did not connect within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait: the component should exit 0 after a clean shutdown."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        return self._signal(signal.SIGKILL, 5.0)

    def wait(self, timeout: float) -> int | None:
        assert self.process is not None
        return self.process.wait(timeout)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal(self, signum: int, timeout: float) -> int | None:
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signum)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return proc.returncode
