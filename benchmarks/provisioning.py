"""Benchmark: canRead/canControl decisions of the provisioning server, against a raw echo component.

Both run as separate processes on the same throwaway XMPP server and are driven by the same
device clients with the same number of requests in flight:
  * provisioning: 10k owned things with 10 rules each (seeded into its database, then the
    component is started on it); half canRead (with a field subset), half canControl, asked by
    devices that are among the seeded things, about requesters their rules name (and some they don't);
  * echo: the same stanzas answered by a raw slixmpp component that copies the payload.
Prints throughput, p50/p99 latency and the ratio provisioning/echo; the last line is JSON.

    python benchmarks/provisioning.py [--quick] [--server-kind prosody|ejabberd]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provisioning.rules import Rule
from provisioning.sqlite_store import SqliteProvisioningStore
from xmpp_iot.client import IotClient
from xmpp_iot.connection import Endpoint, Security
from xmpp_iot.devserver import make_devserver
from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.provisioning.stanza import NS

DEVICES = 8
RULES_PER_THING = 10
FIELDS = ("Energy", "Power", "Voltage", "Current", "Frequency")
PARAMETERS = ("OutputPercent", "Mode", "Reset")


def device_jid(i: int) -> str:
    return f"dev{i}@localhost"


def thing_jid(i: int) -> str:
    return device_jid(i) if i < DEVICES else f"thing{i}@localhost"


def app_jid(i: int) -> str:
    return f"app{i % 50}@localhost"


def seed(db: Path, things: int) -> float:
    """Ownership and RULES_PER_THING rules per thing, straight into the database."""
    t0 = time.perf_counter()
    store = SqliteProvisioningStore(db, synchronous="NORMAL")
    with store.db:
        store.db.execute("BEGIN")
        store.db.executemany(
            "INSERT INTO ownership (thing, owner, public, seq) VALUES (?, ?, 1, 1)",
            [(thing_jid(i), f"owner{i % 100}@localhost") for i in range(things)],
        )
    rules = []
    for i in range(things):
        # the owner's "nobody else" for both actions (so no request waits for an owner's answer) ...
        rules += [
            Rule(thing_jid(i), "*", "read", allow=False),
            Rule(thing_jid(i), "*", "control", allow=False),
        ]
        for r in range(RULES_PER_THING - 2):  # ... and eight named apps
            subject = app_jid(i + r)
            if r % 2 == 0:
                rules.append(Rule(thing_jid(i), subject, "read", names=FIELDS[: 2 + r % 3]))
            else:
                rules.append(Rule(thing_jid(i), subject, "control", names=PARAMETERS[: 1 + r % 2]))
    store.add_rules(rules)
    store.close()
    return time.perf_counter() - t0


def plan(requests: int, rnd: random.Random) -> list[tuple[int, Element]]:
    out = []
    for n in range(requests):
        device = n % DEVICES
        requester = app_jid(device + rnd.randrange(10))  # mostly named by a rule, some not
        if n % 2 == 0:
            el = Element(f"{{{NS}}}canRead", jid=requester, momentary="true")
            for name in rnd.sample(FIELDS, 2):
                SubElement(el, f"{{{NS}}}field", name=name)
        else:
            el = Element(f"{{{NS}}}canControl", jid=requester)
            SubElement(el, f"{{{NS}}}parameter", name=rnd.choice(PARAMETERS))
        out.append((device, el))
    return out


async def drive(clients: list[IotClient], target: str, work: list[tuple[int, Element]], window: int) -> dict:
    latencies: list[float] = []
    errors = 0
    allowed = 0
    queue = iter(work)

    async def worker() -> None:
        nonlocal errors, allowed
        for c, payload in queue:
            iq = clients[c].xmpp.make_iq(ito=target, itype="get")
            iq.xml.append(payload)
            t0 = time.perf_counter()
            try:
                reply = await iq.send(timeout=30)
                allowed += any(child.get("result") == "true" for child in reply.xml)
            except Exception:
                errors += 1
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(window)))
    return {
        "elapsed": time.perf_counter() - start,
        "latencies": latencies,
        "errors": errors,
        "allowed": allowed,
    }


def summary(parts: list[dict]) -> dict:
    latencies = sorted(x for p in parts for x in p["latencies"])
    elapsed = sum(p["elapsed"] for p in parts)
    return {
        "requests": len(latencies),
        "errors": sum(p["errors"] for p in parts),
        "allowed": sum(p["allowed"] for p in parts),
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
    }


async def compare(
    clients: list[IotClient], targets: dict[str, str], work: list, window: int, rounds: int
) -> dict:
    """Alternate the targets in `rounds` slices of the same work, so that background load on a
    shared machine falls on both alike."""
    parts: dict[str, list[dict]] = {name: [] for name in targets}
    size = -(-len(work) // rounds)
    for r in range(rounds):
        chunk = work[r * size : (r + 1) * size]
        for name, jid in targets.items() if r % 2 == 0 else reversed(targets.items()):
            parts[name].append(await drive(clients, jid, chunk, window))
    return {name: summary(p) for name, p in parts.items()}


async def run(info, workdir: Path, things: int, requests: int, window: int) -> dict:
    db = workdir / f"provisioning-{things}.sqlite3"
    seed_s = seed(db, things)
    provisioning = ComponentProcess(
        "provisioning", info, jid=info.component_jid("provisioning"), db=db,
        log_path=workdir / f"provisioning-{things}.log", extra_args=["--log-level", "WARNING"],
    ).start(wait=False)  # fmt: skip
    endpoint = Endpoint(info.host, info.c2s_port, Security.insecure_plaintext())
    clients = [
        IotClient(f"{device_jid(i)}/bench", "loadpw", endpoint, create_account=True) for i in range(DEVICES)
    ]
    await asyncio.gather(*(c.connect(send_presence=False) for c in clients))
    target = info.component_jid("provisioning")
    deadline = time.monotonic() + 60
    while True:  # wait until the component answers
        probe = clients[0].xmpp.make_iq(ito=target, itype="get")
        probe.xml.append(Element(f"{{{NS}}}isFriend", jid=app_jid(0)))
        try:
            await probe.send(timeout=5)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    rnd = random.Random(11)
    await drive(clients, target, plan(min(500, requests), rnd), window)  # warm-up
    measured = await compare(clients, {"provisioning": target, "echo": info.component_jid("echo")},
                             plan(requests, rnd), window, rounds=10)  # fmt: skip
    result, echo = measured["provisioning"], measured["echo"]
    await asyncio.gather(*(c.close() for c in clients))
    provisioning.stop()
    return {
        "things": things,
        "rules": things * RULES_PER_THING,
        "seed_s": round(seed_s, 1),
        "provisioning": result,
        "echo": echo,
        "ratio": round(result["throughput_per_s"] / echo["throughput_per_s"], 3),
    }


async def main() -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests, finishes in under a minute")
    parser.add_argument("--server-kind", choices=["prosody", "ejabberd"], default="prosody")
    parser.add_argument("--window", type=int, default=8, help="requests in flight")
    args = parser.parse_args()
    things, requests = (10_000, 2_000) if args.quick else (10_000, 10_000)
    workdir = Path(tempfile.mkdtemp(prefix="xmpp-iot-bench-provisioning-"))
    server = make_devserver(args.server_kind, workdir, components=("provisioning", "echo"))
    info = server.start(timeout=60)
    echo_jid = info.component_jid("echo")
    echo_proc = subprocess.Popen(  # noqa: ASYNC220 - set-up, before anything is measured
        [sys.executable, str(Path(__file__).with_name("echo_component.py")), f"127.0.0.1:{info.port_for(echo_jid)}",
         echo_jid],
        env=dict(os.environ, XMPP_IOT_COMPONENT_SECRET=info.components[echo_jid]),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert echo_proc.stdout is not None
        echo_proc.stdout.readline()
        r = await run(info, workdir, things, requests, args.window)
    finally:
        echo_proc.terminate()
        echo_proc.wait(10)
        server.stop()
    print(
        f"\nProvisioning decisions on {args.server_kind}: {r['things']} things x {RULES_PER_THING} rules, "
        f"{args.window} in flight, {DEVICES} devices"
    )
    print(f"{'target':>13} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'allowed':>8}")
    for name in ("provisioning", "echo"):
        m = r[name]
        print(
            f"{name:>13} {m['throughput_per_s']:>9} {m['p50_ms']:>8} {m['p99_ms']:>8} {m['errors']:>7} "
            f"{m.get('allowed', '')!s:>8}"
        )
    print(f"{'ratio':>13} {r['ratio']:>9}")
    return {
        "benchmark": "provisioning",
        "server": args.server_kind,
        "quick": args.quick,
        "window": args.window,
        **r,
        "decisions_per_s": r["provisioning"]["throughput_per_s"],
        "p99_ms": r["provisioning"]["p99_ms"],
        "target_ratio_met": r["ratio"] >= 0.8,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
