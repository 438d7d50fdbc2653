"""`xmpp-iot demo` end to end: the whole platform against a real Prosody and a real ejabberd.

A small neighbourhood whose feeder is rated so that the evening peak congests it; one device
crashes on purpose. The run must show every device registered and claimed, the whole provisioning
chain (ownership pushed by the registry, each device's nodes created and owned by provisioning,
the DSO's rules, readouts and control decided by provisioning's canRead/canControl, control with
a token), measurements reaching the apps and the sensor-data component, the congestion detected
and relieved through EFI instructions, the crash noticed, and nothing left running afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xmpp_iot.devserver.ports import port_is_taken

pytestmark = pytest.mark.integration

SERVER_KINDS = [k for k in os.environ.get("XMPP_IOT_TEST_SERVERS", "prosody,ejabberd").split(",") if k]

NEIGHBOURHOOD = """
[feeder]
rated_current_a = 40.0
[households]
count = 3
[pmus]
count = 2
[scenario]
peak_at_s = 2.0
crash_device = "h02-ev_charger"
crash_at_s = 1.0
"""


def demo_command(kind: str, workdir: Path, config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "xmpp_iot.cli", "demo", "--kind", kind, "--config", str(config),
            "--workdir", str(workdir), *extra]


def leftovers(workdir: Path) -> list[str]:
    """Processes whose command line mentions the run's work directory (server, components, children)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(workdir) in cmdline and state != "Z":
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def ports_in_use(workdir: Path) -> list[int]:
    info = json.loads((workdir / "server-info.json").read_text())
    ports = {info["c2s_port"], info["c2s_tls_port"], *info["component_ports"].values()}
    return sorted(p for p in ports if port_is_taken(p))


def summary_of(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith("SUMMARY ")]
    assert lines, f"no summary in the output:\n{stdout[-3000:]}"
    return json.loads(lines[-1].removeprefix("SUMMARY "))


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_demo_runs_detects_and_relieves_congestion(kind: str, tmp_path: Path) -> None:
    config = tmp_path / "neighbourhood.toml"
    config.write_text(NEIGHBOURHOOD)
    workdir = tmp_path / "run"
    result = subprocess.run(demo_command(kind, workdir, config, "--duration", "22"), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    s = summary_of(result.stdout)
    devices = 2 + 3 * 6
    assert s["devices"] == devices
    assert s["registered"] == devices and s["claimed"] == devices, s
    # the provisioning chain: the registry told provisioning the owner of every device, provisioning
    # created and owns each device's nodes and made the device their publisher, the DSO added rules
    p = s["provisioning"]
    assert p["owned_things"] == devices and p["things_with_nodes"] == devices, s
    assert s["nodes_ready"] == devices and s["devices_with_rules"] == devices, s
    assert p["node_access_model"] == ("whitelist" if kind == "prosody" else "authorize"), s
    if p["node_access_model"] == "authorize":  # ejabberd asks provisioning to approve each subscription
        assert p["subscriptions"]["approved"] >= devices and p["subscriptions"]["denied"] == 0, s
    # devices delegate trust: friendships, readouts and control were decided by provisioning
    assert p["is_friend"]["allowed"] >= devices - 2, s
    assert p["can_read"]["allowed"] >= 1 and p["can_control"]["allowed"] >= 1, s
    assert s["device_trust_decisions"].get("read_allowed", 0) >= 1, s
    assert s["device_trust_decisions"].get("control_allowed", 0) >= 1, s
    assert s["device_trust_decisions"].get("efi_allowed", 0) >= 1, s  # EFI instructions: canControl too
    assert s["tokens_obtained"] == 1, s  # EV-charger control needs the app's certificate token
    assert s["sensordata"]["measurement_nodes_followed"] >= 2 and s["sensordata"]["samples_stored"] >= 1, s
    assert s["measurements_received_by_apps"] >= 20, s
    assert s["messages_published"] > s["measurements_received_by_apps"] / 2, s
    assert s["violations_detected"] >= 1 and s["violations_relieved"] >= 1, s
    assert s["congestions_relieved_by_dr"] >= 1, s
    assert s["instructions_sent"] >= 1 and s["instruction_outcomes"].get("ACCEPTED", 0) >= 1, s
    assert s["devices_crashed"] == 1 and s["devices_noticed_offline"] >= 1, s
    assert s["readouts"] >= 1 and s["control_forms"] >= 1 and s["control_sets"] >= 1, s  # XEP-0323/0325
    assert s["errors"] == 0, s
    assert "congestion RAISED" in result.stdout and "congestion cleared" in result.stdout
    assert leftovers(workdir) == []
    assert ports_in_use(workdir) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "terminal-closed"])
def test_ctrl_c_stops_everything(tmp_path: Path, signum: int) -> None:
    config = tmp_path / "neighbourhood.toml"
    config.write_text(NEIGHBOURHOOD.replace("count = 3", "count = 1").replace("h02-", "h01-"))
    workdir = tmp_path / "run"
    proc = subprocess.Popen(demo_command(SERVER_KINDS[0], workdir, config), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if line.startswith("platform running") or not line:
                break
        assert any(line.startswith("platform running") for line in seen), "".join(seen)
        assert leftovers(workdir), "the platform should be running now"
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopped: server, components, devices and apps" in out
    assert leftovers(workdir) == []
    assert ports_in_use(workdir) == []
