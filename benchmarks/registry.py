"""Benchmark: the Thing registry under a mixed load, against a raw echo component.

Both run as separate processes on the same throwaway XMPP server and are driven by the same
clients with the same number of requests in flight:
  * registry: 80% searches, 20% writes (10% concentrator registrations, 10% owner updates),
    at 10k and at 100k registered things (seeded straight into the database, then the
    component is started on it);
  * echo: the same stanzas answered by a raw slixmpp component that copies the payload (the
    baseline of the target ratio registry/echo);
  * replay: a raw slixmpp component that answers each request with the bytes the registry sends
    for it (rendered from the seeded data before the run, written as text, no work at all). It
    splits the gap: replay/echo is what the protocol's answers (a page of things is 8x the
    request) cost the server and the clients; registry/replay is what the registry's own work
    (search, durable writes) costs on top,
measured in alternating rounds so that all see the same background load. Prints throughput,
p50/p99 latency (searches and writes apart), the CPU per request of the component, the XMPP server
and the load clients, and the ratios (the median of the rounds' ratios, and of the totals); the
last line is JSON.

    python benchmarks/registry.py [--quick] [--server-kind prosody|ejabberd]
    python benchmarks/registry.py --things 100000 --requests 6000   # one size, fewer requests
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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

from benchmarks.proc_cpu import cpu_seconds, group_cpu_seconds
from components.registry.open_store import open_store
from components.registry.protocol import found_xml
from components.registry.sqlite_store import SqliteRegistryStore
from xmpp_iot.client import IotClient
from xmpp_iot.connection import Endpoint, Security
from xmpp_iot.devserver import make_devserver
from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.discovery.model import KEY, NS, NodeRef, Tag, Thing
from xmpp_iot.discovery.stanza import read_conditions

CLASSES = ["PMU", "Meter", "HeatPump", "Battery", "EVCharger", "PV", "Washer", "Inverter", "Boiler", "Sensor"]
AREAS = 200
LOAD_CLIENTS = 4
_IQ_SERIAL = itertools.count()  # request number first: the replay baseline finds its answer by it
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


def make_plan(requests: int, count: int, clients: int, seed: int = 7) -> list[tuple[int, int, str, Element]]:
    """The mixed load: (request number, client index, IQ type, payload) for each request, 80% searches."""
    rnd = random.Random(seed)
    plan = []
    for i in range(requests):
        c = i % clients
        if rnd.random() < 0.8:
            plan.append((i, c, "get", search_payload(rnd, count)))
        else:
            plan.append((i, c, "set", write_payload(rnd, c, count)))
    return plan


def record_replies(db: Path, plan: list[tuple[int, int, str, Element]], path: Path) -> float:
    """Render, before the run, the `<found/>` the registry sends for each search of the plan (on the
    seeded data; writes get an empty result) into a JSON list for the replay baseline. Returns the
    mean size of a search answer in bytes."""
    store = open_store(str(db))
    replies, sizes = [], []
    for _, c, itype, payload in plan:
        if itype != "get":
            replies.append("")
            continue
        limit = int(payload.get("maxCount", "10"))
        things, more = store.search(read_conditions(payload), f"load{c}@localhost", 0, limit)
        for thing in things:
            thing.tags.pop(KEY, None)
        replies.append(found_xml(things, more))
        sizes.append(len(replies[-1].encode()))
    store.close()
    path.write_text(json.dumps(replies))
    return statistics.mean(sizes)


async def run_plan(
    clients: list[IotClient], target: str, plan: list, window: int
) -> tuple[list[float], float, int]:
    """Send the plan with `window` requests in flight; return (IQ type, latency) pairs, elapsed
    seconds and the number of errors."""
    latencies: list[tuple[str, float]] = []
    errors = 0
    queue = iter(plan)

    async def worker() -> None:
        nonlocal errors
        for index, c, itype, payload in queue:
            iq = clients[c].xmpp.make_iq(ito=target, itype=itype, id=f"q{index}-{next(_IQ_SERIAL)}")
            iq.xml.append(payload)  # an ElementTree element may sit in several trees
            t0 = time.perf_counter()
            try:
                await iq.send(timeout=30)
            except Exception:
                errors += 1
            latencies.append((itype, time.perf_counter() - t0))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(window)))
    return latencies, time.perf_counter() - start, errors


def summarize(typed_latencies: list[tuple[str, float]], elapsed: float, errors: int) -> dict:
    latencies = sorted(seconds for _, seconds in typed_latencies)
    searches = [seconds for itype, seconds in typed_latencies if itype == "get"]
    writes = [seconds for itype, seconds in typed_latencies if itype == "set"]
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
        # writes wait for their commit to be durable; searches do not
        "search_p50_ms": round(1000 * statistics.median(searches), 2) if searches else None,
        "write_p50_ms": round(1000 * statistics.median(writes), 2) if writes else None,
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
    server_pgid: int | None = None,
) -> tuple[dict[str, dict], list[dict[str, float]]]:
    """The same plan against each target, in alternating rounds.

    The machine is shared, so load from elsewhere comes and goes; measuring the targets in
    turns of a few seconds each lets both see the same background, which keeps the ratio
    meaningful even when the absolute numbers wander. Returns each target's figures and each
    round's throughput per target (see :func:`round_ratio`).
    """
    pids = pids or {}
    plan = make_plan(requests, count, len(clients))
    size = -(-len(plan) // rounds)
    totals = {t: ([], 0.0, 0) for t in targets}
    cpu = dict.fromkeys(targets, 0.0)
    server_cpu = dict.fromkeys(targets, 0.0)
    client_cpu = dict.fromkeys(targets, 0.0)
    per_round: list[dict[str, float]] = []
    for r in range(rounds):
        chunk = plan[r * size : (r + 1) * size]
        per_round.append({})
        for target in targets if r % 2 == 0 else reversed(targets):
            before = cpu_seconds(pids.get(target))
            server_before, client_before = group_cpu_seconds(server_pgid), time.process_time()
            lat, elapsed, errors = await run_plan(clients, target, chunk, window)
            cpu[target] += cpu_seconds(pids.get(target)) - before
            server_cpu[target] += group_cpu_seconds(server_pgid) - server_before
            client_cpu[target] += time.process_time() - client_before
            acc = totals[target]
            totals[target] = (acc[0] + lat, acc[1] + elapsed, acc[2] + errors)
            per_round[-1][target] = len(lat) / elapsed
    result = {t: summarize(*totals[t]) for t in targets}
    for t in targets:
        if t in pids:  # CPU the component itself spent per request: what the optimisations aim at
            result[t]["cpu_ms_per_request"] = round(1000 * cpu[t] / len(plan), 3)
        # where the rest of the machine's two cores go: the XMPP server and the load clients
        if server_pgid is not None:
            result[t]["server_cpu_ms_per_request"] = round(1000 * server_cpu[t] / len(plan), 3)
        result[t]["client_cpu_ms_per_request"] = round(1000 * client_cpu[t] / len(plan), 3)
    return result, per_round


def round_ratio(per_round: list[dict[str, float]], target: str, baseline: str) -> dict:
    """Throughput of target / baseline, round by round, and their median: the median ignores a
    round that a burst of load from elsewhere hit on one side only."""
    ratios = [r[target] / r[baseline] for r in per_round]
    return {"median": round(statistics.median(ratios), 3), "rounds": [round(x, 3) for x in ratios]}


async def run_level(
    info,
    workdir: Path,
    count: int,
    requests: int,
    window: int,
    echo_pid: int,
    registry_args: list[str],
    server_pgid: int | None = None,
) -> dict:
    db = workdir / f"registry-{count}.sqlite3"
    owners = [f"load{i}@localhost" for i in range(LOAD_CLIENTS)]
    t0 = time.perf_counter()
    store = SqliteRegistryStore(db)
    store.bulk_load(seed_things(count, owners))
    store.close()
    seed_s = time.perf_counter() - t0
    recorded = workdir / f"replies-{count}.json"
    answer_bytes = record_replies(db, make_plan(requests, count, LOAD_CLIENTS), recorded)
    replay = start_baseline(info, "replay", "--replay", str(recorded))
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
    names = {"registry": info.component_jid("registry"), "echo": info.component_jid("echo"),
             "replay": info.component_jid("replay")}  # fmt: skip
    pids = {names["registry"]: registry.process.pid, names["echo"]: echo_pid, names["replay"]: replay.pid}
    measured, per_round = await drive_interleaved(
        clients, list(names.values()), requests, window, count, pids=pids, server_pgid=server_pgid
    )
    await asyncio.gather(*(c.close() for c in clients))
    registry.stop()
    replay.terminate()
    replay.wait(10)
    by_name = {name: measured[jid] for name, jid in names.items()}
    vs_echo = round_ratio(per_round, names["registry"], names["echo"])
    return {
        "things": count,
        "seed_s": round(seed_s, 1),
        "mean_search_answer_bytes": round(answer_bytes),
        **by_name,
        "ratio": vs_echo["median"],  # the target: registry / echo, median of the alternating rounds
        "round_ratios": vs_echo["rounds"],
        "ratio_of_totals": round(
            by_name["registry"]["throughput_per_s"] / by_name["echo"]["throughput_per_s"], 3
        ),
        # the decomposition: what answering with the registry's bytes costs the server and the
        # clients (a component doing no work), and what the registry's own work costs on top
        "replay_vs_echo": round_ratio(per_round, names["replay"], names["echo"])["median"],
        "registry_vs_replay": round_ratio(per_round, names["registry"], names["replay"])["median"],
    }


def start_baseline(info, name: str, *extra: str) -> subprocess.Popen[str]:
    """Start benchmarks/echo_component.py as component `name` and wait until it is connected."""
    jid = info.component_jid(name)
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("echo_component.py")), f"127.0.0.1:{info.port_for(jid)}", jid,
         *extra],
        env=dict(os.environ, XMPP_IOT_COMPONENT_SECRET=info.components[jid]), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    if not proc.stdout.readline():
        raise RuntimeError(f"the {name} baseline component did not connect")
    return proc


async def main() -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, finishes in under a minute")
    parser.add_argument("--server-kind", choices=["prosody", "ejabberd"], default="prosody")
    parser.add_argument("--window", type=int, default=8, help="requests in flight")
    parser.add_argument(
        "--things", type=int, action="append", metavar="N",
        help="measure only at this many registered things (repeatable; default 10k and 100k, --quick 2k and 10k)",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, help="requests per level and target (default 10k, --quick 1.5-2k)")
    parser.add_argument(
        "--registry-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra option for the registry, e.g. --registry-arg=--sync=normal (repeatable)",
    )
    args = parser.parse_args()
    levels = [(2_000, 1_500), (10_000, 2_000)] if args.quick else [(10_000, 10_000), (100_000, 10_000)]
    if args.things:
        levels = [(n, levels[-1][1]) for n in args.things]
    if args.requests:
        levels = [(n, args.requests) for n, _ in levels]
    workdir = Path(tempfile.mkdtemp(prefix="xmpp-iot-bench-registry-"))
    server = make_devserver(args.server_kind, workdir, components=("registry", "echo", "replay"))
    info = server.start(timeout=60)
    echo_proc = start_baseline(info, "echo")
    try:
        results = [
            await run_level(
                info,
                workdir,
                count,
                n,
                args.window,
                echo_proc.pid,
                args.registry_arg,
                server_pgid=server.process_group(),
            )
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
        f"{'things':>8} {'target':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
        f" {'search p50':>10} {'write p50':>9} {'CPU ms/req: component':>22} {'server':>7} {'clients':>8}"
    )
    for r in results:
        for target in ("registry", "echo", "replay"):
            m = r[target]
            print(
                f"{r['things']:>8} {target:>9} {m['throughput_per_s']:>9} {m['p50_ms']:>8} {m['p99_ms']:>8} "
                f"{m['errors']:>7} {m['search_p50_ms']:>10} {m['write_p50_ms']:>9} "
                f"{m.get('cpu_ms_per_request', ''):>22} "
                f"{m.get('server_cpu_ms_per_request', ''):>7} {m['client_cpu_ms_per_request']:>8}"
            )
        rounds = r["round_ratios"]
        print(
            f"{'':>8} {'ratio':>9} {r['ratio']:>9}  (median of rounds {rounds}; of totals {r['ratio_of_totals']})"
        )
        print(
            f"{'':>8} {'':>9} replay/echo {r['replay_vs_echo']} (the protocol's answers, no work), "
            f"registry/replay {r['registry_vs_replay']} (the registry's own work); "
            f"a search answer is {r['mean_search_answer_bytes']} bytes on average"
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
        "replay_vs_echo_at_largest": top["replay_vs_echo"],
        "registry_vs_replay_at_largest": top["registry_vs_replay"],
        "p99_ms_at_largest": top["registry"]["p99_ms"],
        "target_ratio_met": top["ratio"] >= 0.8,
        "target_p99_met": top["registry"]["p99_ms"] <= 25.0,
    }
    return summary


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
