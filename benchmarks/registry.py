"""Benchmark: the Thing registry under a mixed load, against a raw echo component.

Both run as separate processes on the same throwaway XMPP server and are driven by the same
clients with the same number of requests in flight:
  * registry: 80% searches, 20% writes (10% concentrator registrations, 10% owner updates),
    at 10k and at 100k registered things (seeded straight into the database, then the
    component is started on it);
  * echo: the same stanzas answered by a raw slixmpp component that copies the payload,
measured in alternating rounds with the registry so that both see the same background load.
Prints throughput, p50/p99 latency and the ratio registry/echo (the median of the rounds' ratios,
and the ratio of the totals); the last line is JSON.

    python benchmarks/registry.py [--quick] [--server-kind prosody|ejabberd]
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

from components.registry.sqlite_store import SqliteRegistryStore
from xmpp_iot.client import IotClient
from xmpp_iot.connection import Endpoint, Security
from xmpp_iot.devserver import make_devserver
from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.discovery.model import KEY, NS, NodeRef, Tag, Thing

CLASSES = ["PMU", "Meter", "HeatPump", "Battery", "EVCharger", "PV", "Washer", "Inverter", "Boiler", "Sensor"]
AREAS = 200
LOAD_CLIENTS = 4
ROUNDS = 6  # registry and echo measured in alternating turns


def seed_things(count: int, owners: list[str]) -> list[Thing]:
    rnd = random.Random(42)
    things = []
    for i in range(count):
        tags = {
            "SN": Tag("SN", f"SN{i:08d}"),
            "CLASS": Tag("CLASS", CLASSES[i % len(CLASSES)]),
            "AREA": Tag("AREA", f"area{i % AREAS:03d}"),
            "MAN": Tag("MAN", "grid.example"),
            "LAT": Tag("LAT", 55.0 + rnd.random() * 5),
            "LON": Tag("LON", 10.0 + rnd.random() * 5),
            "V": Tag("V", float(1 + i % 3)),
            KEY: Tag(KEY, f"key{i}"),
        }
        owner = owners[i % len(owners)]
        things.append(Thing(f"dev{i}@localhost", NodeRef(), tags, owner, True))
    return things


def search_payload(rnd: random.Random, count: int) -> Element:
    el = Element(f"{{{NS}}}search", offset="0", maxCount="10")
    kind = rnd.random()
    if kind < 0.4:  # an app looks for one class of device in one area
        SubElement(el, f"{{{NS}}}strEq", name="CLASS", value=rnd.choice(CLASSES))
        SubElement(el, f"{{{NS}}}strEq", name="AREA", value=f"area{rnd.randrange(AREAS):03d}")
    elif kind < 0.7:  # exact serial number
        SubElement(el, f"{{{NS}}}strEq", name="SN", value=f"SN{rnd.randrange(count):08d}")
    elif kind < 0.9:  # geographic box for one class
        lat = 55.0 + rnd.random() * 4.9
        SubElement(el, f"{{{NS}}}strEq", name="CLASS", value=rnd.choice(CLASSES))
        SubElement(el, f"{{{NS}}}numRange", name="LAT", min=str(lat), max=str(lat + 0.05))
    else:  # serial-number prefix
        SubElement(
            el, f"{{{NS}}}strMask", name="SN", value=f"SN{rnd.randrange(count // 100):06d}*", wildcard="*"
        )
    return el


def write_payload(rnd: random.Random, client_index: int, count: int) -> Element:
    if rnd.random() < 0.5:  # a concentrator registers (or re-registers) one of its nodes
        el = Element(f"{{{NS}}}register", nodeId=f"n{rnd.randrange(1000)}", sourceId="bench")
        for name, value in (
            ("SN", f"C{client_index}-{rnd.randrange(10**6)}"),
            ("CLASS", "Sensor"),
            (KEY, "k"),
        ):
            SubElement(el, f"{{{NS}}}str", name=name, value=value)
        return el
    # an owner updates the tags of one of its things (seeded owners are the load clients)
    i = rnd.randrange(count // LOAD_CLIENTS) * LOAD_CLIENTS + client_index
    el = Element(f"{{{NS}}}update", jid=f"dev{i}@localhost")
    SubElement(el, f"{{{NS}}}str", name="ROOM", value=f"room{rnd.randrange(100)}")
    return el


def make_plan(requests: int, count: int, clients: int, seed: int = 7) -> list[tuple[int, str, Element]]:
    """The mixed load: (client index, IQ type, payload) for each request, 80% searches."""
    rnd = random.Random(seed)
    plan = []
    for i in range(requests):
        c = i % clients
        if rnd.random() < 0.8:
            plan.append((c, "get", search_payload(rnd, count)))
        else:
            plan.append((c, "set", write_payload(rnd, c, count)))
    return plan


async def run_plan(
    clients: list[IotClient], target: str, plan: list, window: int
) -> tuple[list[float], float, int]:
    """Send the plan with `window` requests in flight; return latencies, elapsed seconds, errors."""
    latencies: list[float] = []
    errors = 0
    queue = iter(plan)

    async def worker() -> None:
        nonlocal errors
        for c, itype, payload in queue:
            iq = clients[c].xmpp.make_iq(ito=target, itype=itype)
            iq.xml.append(payload)  # an ElementTree element may sit in several trees
            t0 = time.perf_counter()
            try:
                await iq.send(timeout=30)
            except Exception:
                errors += 1
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(window)))
    return latencies, time.perf_counter() - start, errors


def summarize(latencies: list[float], elapsed: float, errors: int) -> dict:
    latencies = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
    }


async def drive(clients: list[IotClient], target: str, requests: int, window: int, count: int) -> dict:
    """Send `requests` IQs (80% search) with `window` in flight; return throughput and latency."""
    return summarize(*await run_plan(clients, target, make_plan(requests, count, len(clients)), window))


async def drive_interleaved(
    clients: list[IotClient],
    targets: list[str],
    requests: int,
    window: int,
    count: int,
    rounds: int = ROUNDS,
    pids: dict[str, int] | None = None,
) -> dict[str, dict]:
    """The same plan against each target, in alternating rounds.

    The machine is shared, so load from elsewhere comes and goes; measuring the targets in
    turns of a few seconds each lets both see the same background, which keeps the ratio
    meaningful even when the absolute numbers wander.
    """
    pids = pids or {}
    plan = make_plan(requests, count, len(clients))
    size = -(-len(plan) // rounds)
    totals = {t: ([], 0.0, 0) for t in targets}
    cpu = dict.fromkeys(targets, 0.0)
    per_round: list[dict[str, float]] = []
    for r in range(rounds):
        chunk = plan[r * size : (r + 1) * size]
        per_round.append({})
        for target in targets if r % 2 == 0 else reversed(targets):
            before = cpu_seconds(pids.get(target))
            lat, elapsed, errors = await run_plan(clients, target, chunk, window)
            cpu[target] += cpu_seconds(pids.get(target)) - before
            acc = totals[target]
            totals[target] = (acc[0] + lat, acc[1] + elapsed, acc[2] + errors)
            per_round[-1][target] = len(lat) / elapsed
    result = {t: summarize(*totals[t]) for t in targets}
    # the first target against each other one, round by round: the median ignores a round that
    # a burst of load from elsewhere hit on one side only
    for t in targets[1:]:
        ratios = [rnd[targets[0]] / rnd[t] for rnd in per_round]
        result[t]["round_ratios"] = [round(x, 3) for x in ratios]
        result[t]["median_ratio"] = round(statistics.median(ratios), 3)
    for t in targets:
        if t in pids:  # CPU the component itself spent per request: what the optimisations aim at
            result[t]["cpu_ms_per_request"] = round(1000 * cpu[t] / len(plan), 3)
    return result


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_level(
    info, workdir: Path, count: int, requests: int, window: int, echo_pid: int, registry_args: list[str]
) -> dict:
    db = workdir / f"registry-{count}.sqlite3"
    owners = [f"load{i}@localhost" for i in range(LOAD_CLIENTS)]
    t0 = time.perf_counter()
    store = SqliteRegistryStore(db)
    store.bulk_load(seed_things(count, owners))
    store.close()
    seed_s = time.perf_counter() - t0
    registry = ComponentProcess(
        "registry", info, jid=info.component_jid("registry"), db=db, log_path=workdir / f"registry-{count}.log",
        extra_args=["--log-level", "WARNING", *registry_args],
    ).start(wait=False)  # fmt: skip
    await asyncio.sleep(0)
    deadline = time.monotonic() + 60
    endpoint = Endpoint(info.host, info.c2s_port, Security.insecure_plaintext())
    clients = [
        IotClient(f"load{i}@localhost/bench", "loadpw", endpoint, create_account=True)
        for i in range(LOAD_CLIENTS)
    ]
    await asyncio.gather(*(c.connect(send_presence=False) for c in clients))
    # wait until the registry answers
    while True:
        try:
            await clients[0].discovery.find_registry(info.component_jid("registry"))
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    await drive(clients, info.component_jid("registry"), min(500, requests), window, count)  # warm-up
    targets = [info.component_jid("registry"), info.component_jid("echo")]
    pids = {targets[0]: registry.process.pid, targets[1]: echo_pid}
    measured = await drive_interleaved(clients, targets, requests, window, count, pids=pids)
    result, echo = measured[info.component_jid("registry")], measured[info.component_jid("echo")]
    await asyncio.gather(*(c.close() for c in clients))
    registry.stop()
    return {
        "things": count,
        "seed_s": round(seed_s, 1),
        "registry": result,
        "echo": echo,
        "ratio": echo["median_ratio"],  # median of the alternating rounds' ratios
        "ratio_of_totals": round(result["throughput_per_s"] / echo["throughput_per_s"], 3),
    }


async def main() -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, finishes in under a minute")
    parser.add_argument("--server-kind", choices=["prosody", "ejabberd"], default="prosody")
    parser.add_argument("--window", type=int, default=8, help="requests in flight")
    parser.add_argument(
        "--registry-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra option for the registry, e.g. --registry-arg=--sync=normal (repeatable)",
    )
    args = parser.parse_args()
    levels = [(2_000, 1_500), (10_000, 2_000)] if args.quick else [(10_000, 10_000), (100_000, 10_000)]
    workdir = Path(tempfile.mkdtemp(prefix="xmpp-iot-bench-registry-"))
    server = make_devserver(args.server_kind, workdir, components=("registry", "echo"))
    info = server.start(timeout=60)
    echo_proc = subprocess.Popen(  # noqa: ASYNC220 - set-up, before anything is measured
        [sys.executable, str(Path(__file__).with_name("echo_component.py")), f"127.0.0.1:{info.port_for(info.component_jid('echo'))}",
         info.component_jid("echo")],
        env=dict(os.environ, XMPP_IOT_COMPONENT_SECRET=info.components[info.component_jid("echo")]),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        echo_proc.stdout.readline()
        results = [
            await run_level(info, workdir, count, n, args.window, echo_proc.pid, args.registry_arg)
            for count, n in levels
        ]
    finally:
        echo_proc.terminate()
        echo_proc.wait(10)
        server.stop()
    extra = f", registry {' '.join(args.registry_arg)}" if args.registry_arg else ""
    print(
        f"\nThing registry on {args.server_kind}, {args.window} requests in flight, {LOAD_CLIENTS} clients{extra}"
    )
    print(
        f"{'things':>8} {'target':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'cpu ms/req':>10}"
    )
    for r in results:
        for target in ("registry", "echo"):
            m = r[target]
            print(
                f"{r['things']:>8} {target:>9} {m['throughput_per_s']:>9} {m['p50_ms']:>8} {m['p99_ms']:>8} "
                f"{m['errors']:>7} {m.get('cpu_ms_per_request', ''):>10}"
            )
        rounds = r["echo"]["round_ratios"]
        print(
            f"{'':>8} {'ratio':>9} {r['ratio']:>9}  (median of rounds {rounds}; of totals {r['ratio_of_totals']})"
        )
    top = results[-1]
    summary = {
        "benchmark": "registry",
        "server": args.server_kind,
        "quick": args.quick,
        "window": args.window,
        "registry_args": args.registry_arg,
        "levels": results,
        "ratio_at_largest": top["ratio"],
        "p99_ms_at_largest": top["registry"]["p99_ms"],
        "target_ratio_met": top["ratio"] >= 0.8,
        "target_p99_met": top["registry"]["p99_ms"] <= 25.0,
    }
    return summary


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
