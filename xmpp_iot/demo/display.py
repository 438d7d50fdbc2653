"""What the person at the terminal sees: a live status block on a TTY, plain lines otherwise.

Everything shown comes from :class:`Stats`, which is built only from the events the fleet and
the apps report (:mod:`.events`), so the screen and the ``--duration`` summary tell the same story.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["Display", "Stats"]

NOTABLE = {
    "crashed": "device {device} crashed",
    "device_offline": "{app}: {device} went offline",
    "alarm_raised": "state estimation: {kind} RAISED ({value} > limit {limit}, excess {excess_w} W)",
    "alarm_cleared": "state estimation: {kind} cleared ({value})",
    "congestion_seen": "demand response: congestion, {excess_w} W to shed",
    "instruction_sent": "demand response: {device}: {what} ({kind}, ~{saving_w} W)",
    "instruction_failed": "demand response: {device}: instruction refused: {error}",
    "instruction_outcome": "demand response: {device}: {instruction} {status} {info}",
    "congestion_relieved": "demand response: congestion relieved with {instructions} instruction(s)",
    "no_flexibility_left": "demand response: no flexibility left for {excess_w} W",
    "peak_started": "scenario: the evening peak starts (EV chargers plug in, heat pumps run)",
    "error": "error: {device}: {error}",
    "readout": "state estimation: XEP-0323 readout of {device}: energy {energy_import_wh} Wh",
    "readout_failed": "state estimation: readout of {device} failed: {error}",
    "control_form": "demand response: XEP-0325 control form of {device}: {parameters}",
    "control_set": "demand response: XEP-0325 {device}: {parameter} = {value}",
    "control_failed": "demand response: control of {device} failed: {error}",
    "app_error": "error: {app}: {error}",
    "token_failed": "demand response: no provisioning token: {error}",
    "token": "demand response: proved its certificate to {provisioning}, got a token for EV-charger control",
}


@dataclass
class Stats:
    """Counters of the whole platform, fed one event at a time."""

    phase: str = "starting"
    devices: int = 0
    counts: Counter = field(default_factory=Counter)
    online: int = 0
    published: int = 0
    received: int = 0
    loading: float | None = None
    v_min_pu: float | None = None
    p99_ms: float | None = None
    outcomes: Counter = field(default_factory=Counter)
    offline_noticed: set[str] = field(default_factory=set)
    trust: Counter = field(default_factory=Counter)  # devices' canRead/canControl answers from provisioning
    platform: dict[str, Any] = field(default_factory=dict)  # the components' own record (their logs)
    errors: int = 0
    recent: deque = field(default_factory=lambda: deque(maxlen=8))
    rate_window: deque = field(default_factory=lambda: deque(maxlen=6))
    started_at: float = field(default_factory=time.monotonic)

    def feed(self, event: dict[str, Any], source: str) -> str | None:
        """Account for one event; returns its human-readable line if it is worth showing."""
        ev = event["ev"]
        self.counts[ev] += 1
        if ev == "starting":
            self.devices = int(event.get("devices", 0))
        elif ev == "grid":
            self.online = int(event.get("online", 0))
            self.published = int(event.get("published", 0))
            self.loading = event.get("loading")
            self.v_min_pu = event.get("v_min_pu")
            self.rate_window.append((time.monotonic(), self.published))
        elif ev == "estimate":
            self.received = int(event.get("received", 0))
            if event.get("p99_ms") is not None:
                self.p99_ms = event["p99_ms"]
        elif ev == "instruction_outcome":
            self.outcomes[event.get("status", "?")] += 1
        elif ev == "trust":
            self.trust[f"{event.get('action', '?')}_{'allowed' if event.get('allowed') else 'refused'}"] += 1
        elif ev == "device_offline":
            self.offline_noticed.add(event.get("device", ""))
        elif ev in ("error", "app_error", "instruction_failed", "readout_failed", "control_failed", "token_failed"):
            self.errors += 1
        template = NOTABLE.get(ev)
        if template is None:
            return None
        try:
            line = template.format(**{k: ("" if v is None else v) for k, v in event.items()})
        except (KeyError, IndexError, ValueError):
            line = f"{ev} {event}"
        self.recent.append(time.strftime("%H:%M:%S ") + line)
        return line

    @property
    def rate(self) -> float:
        """Measurements (and EFI items) published per second, over the last few seconds."""
        if len(self.rate_window) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.rate_window[0], self.rate_window[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def summary(self) -> dict[str, Any]:
        c = self.counts
        return {
            "devices": self.devices,
            "registered": c["registered"],
            "claimed": c["claimed"],
            "provisioned": c["provisioned"],
            "nodes_ready": c["nodes_ready"],
            "devices_with_rules": c["rules"],
            "owner_questions_answered": c["owner_answered"],
            "device_trust_decisions": dict(self.trust),
            "messages_published": self.published,
            "measurements_received_by_apps": self.received,
            "violations_detected": c["alarm_raised"],
            "violations_relieved": c["alarm_cleared"],
            "congestions_relieved_by_dr": c["congestion_relieved"],
            "instructions_sent": c["instruction_sent"],
            "instruction_outcomes": dict(self.outcomes),
            "devices_crashed": c["crashed"],
            "devices_noticed_offline": len(self.offline_noticed),
            "readouts": c["readout"],
            "control_forms": c["control_form"],
            "control_sets": c["control_set"],
            "tokens_obtained": c["token"],
            "p99_latency_ms": self.p99_ms,
            "errors": self.errors,
            **self.platform,
        }


class Display:
    """Renders :class:`Stats`; on a TTY it redraws a block in place, else prints lines."""

    def __init__(self, stats: Stats, out: TextIO | None = None, tty: bool | None = None) -> None:
        self.stats = stats
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self._drawn = 0
        self._last_plain = 0.0

    def say(self, line: str) -> None:
        """A line that stays (startup steps, errors)."""
        self._clear()
        self._write(line + "\n")

    def _write(self, text: str) -> None:
        """Write, ignoring a terminal that went away: shutting down cleanly matters more."""
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):
            pass

    def event_line(self, line: str | None) -> None:
        if line is not None and not self.tty:
            self.say(time.strftime("%H:%M:%S ") + line)

    def refresh(self) -> None:
        s = self.stats
        if not self.tty:
            if time.monotonic() - self._last_plain >= 5.0 and s.phase == "running":
                self._last_plain = time.monotonic()
                self.say(self.status_line())
            return
        width = shutil.get_terminal_size((100, 20)).columns
        lines = [line[:width] for line in self.status_lines()] + [self._bar_line()[:width], ""]
        lines += [r[:width] for r in s.recent]
        self._clear()
        self._write("\n".join(lines) + "\n")
        self._drawn = len(lines)

    def status_line(self) -> str:
        s = self.stats
        c = s.counts
        if s.phase == "starting":
            return (f"starting: {c['online']}/{s.devices} online, {c['registered']} registered, "
                    f"{c['claimed']} claimed, {c['provisioned']} provisioned")
        loading = f"{s.loading:.0%}" if s.loading is not None else "?"
        vmin = f"{s.v_min_pu:.3f}" if s.v_min_pu is not None else "?"
        outcomes = ", ".join(f"{k.lower()} {v}" for k, v in sorted(s.outcomes.items())) or "none"
        return (f"{s.phase}: devices online {s.online}/{s.devices} | {s.rate:.0f} msg/s published, "
                f"{s.received} received by apps (p99 {s.p99_ms or 0:.0f} ms) | feeder loading {loading}, "
                f"V min {vmin} pu | alarms {c['alarm_raised']} raised, {c['alarm_cleared']} cleared | "
                f"instructions {c['instruction_sent']} sent ({outcomes}) | errors {s.errors}")

    def status_lines(self) -> list[str]:
        """The status as a few short lines (for the TTY block)."""
        s, c = self.stats, self.stats.counts
        if s.phase == "starting":
            return [self.status_line()]
        outcomes = ", ".join(f"{k.lower()} {v}" for k, v in sorted(s.outcomes.items())) or "none yet"
        return [
            f"{s.phase}  devices online {s.online}/{s.devices}   crashed {c['crashed']}   "
            f"noticed offline by apps {len(s.offline_noticed)}   errors {s.errors}",
            f"traffic  {s.rate:.0f} msg/s published   {s.received} measurements received by state estimation   "
            f"p99 device->app {s.p99_ms or 0:.0f} ms",
            f"grid     feeder loading {s.loading or 0:.0%}   V min {s.v_min_pu or 0:.3f} pu   "
            f"alarms {c['alarm_raised']} raised, {c['alarm_cleared']} cleared",
            f"demand response  {c['instruction_sent']} instructions sent ({outcomes}), "
            f"{c['congestion_relieved']} congestion(s) relieved",
        ]

    def _bar_line(self) -> str:
        s = self.stats
        if s.phase == "starting":
            done = s.counts["provisioned"] / s.devices if s.devices else 0.0
            return "[" + "#" * int(40 * done) + "." * (40 - int(40 * done)) + f"] {done:.0%}"
        load = min(2.0, s.loading or 0.0)
        mark = "!" if (s.loading or 0) > 1.0 else "#"
        return "loading [" + (mark * int(20 * load)).ljust(40, ".")[:20] + "|" + \
            (mark * int(20 * load))[20:].ljust(20, ".") + "] (| = limit)"

    @staticmethod
    def _provisioning_lines(s: dict[str, Any]) -> str:
        p = s.get("provisioning")
        if not p:
            return ""
        return (f"  provisioning       {p['owned_things']} owned, nodes of {p['things_with_nodes']} created "
                f"({p['node_access_model']}), {p['rules_added']} rules; canRead {p['can_read']}, "
                f"canControl {p['can_control']}, isFriend {p['is_friend']}, subscriptions {p['subscriptions']}\n"
                f"  sensor data        {s.get('sensordata', {}).get('measurement_nodes_followed', 0)} "
                f"measurement nodes followed, {s.get('sensordata', {}).get('samples_stored')} samples stored\n")

    def print_summary(self) -> None:
        self._clear()
        summary = self.stats.summary()
        s = summary
        self._write(
            "summary:\n"
            f"  devices            {s['devices']} ({s['registered']} registered, {s['claimed']} claimed, "
            f"{s['devices_crashed']} crashed, {s['devices_noticed_offline']} noticed offline by the apps)\n"
            f"  messages           {s['messages_published']} published by devices, "
            f"{s['measurements_received_by_apps']} measurements received by state estimation\n"
            f"  violations         {s['violations_detected']} detected, {s['violations_relieved']} relieved\n"
            f"  instructions       {s['instructions_sent']} sent, outcomes {s['instruction_outcomes']}\n"
            + self._provisioning_lines(s) +
            f"  errors             {s['errors']}\n"
            "SUMMARY " + json.dumps(summary) + "\n"
        )

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self._write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0
