"""Benchmark: how many simulated device sessions one machine carries, end to end.

Grows a neighbourhood of device sessions (IotClient, one XMPP session each, spread over several
worker processes) against a throwaway Prosody until something saturates. Every device publishes
real measurement payloads (``MeterReadout``, validated by the codec) to its own ``meas/<jid>``
node; 1 % are PMUs publishing every second, the rest meters every ``--meter-period`` seconds. One
application session subscribes to every node and decodes every item, which gives measurements/s
end to end and device->app latency. Per level it reports sessions, offered and received
measurements/s, p50/p99 latency, server and client memory per session, and CPU per process
(to name the bottleneck). Saturation: less than 90 % received, p99 above 2 s, or more than 1 %
of sessions failing to connect.

Logins: slixmpp computes SCRAM's PBKDF2 in pure Python (about 0.1 s of CPU at Prosody's default
10,000 iterations), which would measure the simulator, not the platform. Accounts are therefore
pre-created in Prosody's account store with a low iteration count; the benchmark also times a few
logins at the default count and reports that cost separately.

    python benchmarks/neighbourhood.py [--quick] [--levels 500,1000,...]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slixmpp.exceptions import IqError, IqTimeout

from xmpp_iot.client import IotClient
from xmpp_iot.connection import Endpoint, Security, stop_session
from xmpp_iot.devserver import make_devserver
from xmpp_iot.measurement import MeasurementCodec, MeterReadout, Phase, Quantity, Reading
from xmpp_iot.nodes import measurement_node
from xmpp_iot.pubsub import PubSub

PASSWORD = "bench-device-pw"
LOW_ITERATIONS = 16
WORKER_CHUNK = 1250
PMU_SHARE = 100  # one device in 100 publishes every second
CODEC = MeasurementCodec()


def device_name(i: int) -> str:
    return f"d{i:06d}"


# -- accounts, straight into Prosody's store --------------------------------------------------------
def scram_record(password: str, iterations: int) -> str:
    """Prosody 0.12 internal_hashed account record (SCRAM-SHA-1)."""
    salt = secrets.token_hex(8)
    salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt.encode(), iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
    stored_key = hashlib.sha1(client_key).hexdigest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha1).hexdigest()
    return (
        f'return {{\n\t["iteration_count"] = {iterations};\n\t["server_key"] = "{server_key}";\n'
        f'\t["stored_key"] = "{stored_key}";\n\t["salt"] = "{salt}";\n}};\n'
    )


def precreate_accounts(
    workdir: Path, domain: str, names: list[str], iterations: int = LOW_ITERATIONS
) -> None:
    accounts = workdir / "data" / domain.replace(".", "%2e") / "accounts"
    accounts.mkdir(parents=True, exist_ok=True)
    record = scram_record(PASSWORD, iterations)  # same password and salt: computed once
    for name in names:
        (accounts / f"{name}.dat").write_text(record)


# -- worker: a chunk of device sessions ----------------------------------------------------------------
def measurement(name: str) -> MeterReadout:
    now = datetime.now(UTC)
    return MeterReadout(
        device=name,
        timestamp=now,
        readings=(
            Reading.of(Quantity.ACTIVE_POWER, 1234.5, now, Phase.L1),
            Reading.of(Quantity.VOLTAGE, 229.7, now, Phase.L1),
            Reading.of(Quantity.ENERGY_IMPORT, 1.2e7, now, Phase.TOTAL),
        ),
    )


def self_rss() -> int:
    return proc_rss(os.getpid())


async def worker(args: argparse.Namespace) -> None:
    info = read_json(args.server_info)
    endpoint = Endpoint(info["host"], info["c2s_port"], Security.insecure_plaintext())
    names = [device_name(i) for i in range(args.first, args.first + args.count)]
    clients: dict[str, IotClient] = {}
    stats = {"connected": 0, "failed": 0, "published": 0, "publish_errors": 0}
    gate = asyncio.Semaphore(args.concurrency)

    async def connect(name: str) -> None:
        async with gate:
            client = IotClient(f"{name}@{info['domain']}/bench", PASSWORD, endpoint, connect_timeout=60)
            try:
                await client.connect()
            except Exception:
                stats["failed"] += 1
                return
            clients[name] = client
            stats["connected"] += 1

    async def publish_loop(name: str, index: int) -> None:
        client = clients[name]
        pubsub = PubSub(client.xmpp, info["pubsub_jid"], timeout=30)
        period = 1.0 if index % PMU_SHARE == 0 else args.meter_period
        await asyncio.sleep((index * 0.6180339) % 1.0 * period)  # spread the phases
        node = measurement_node(f"{name}@{info['domain']}")
        while True:
            started = time.monotonic()
            try:
                await pubsub.publish(node, CODEC.encode_element(measurement(name)))
                stats["published"] += 1
            except Exception:
                stats["publish_errors"] += 1
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))

    async def report() -> None:
        while True:
            rss = self_rss()
            print(json.dumps({**stats, "rss": rss}), flush=True)
            await asyncio.sleep(1.0)

    stats["rss_base"] = self_rss()
    reporter = asyncio.ensure_future(report())
    await asyncio.gather(*(connect(n) for n in names))
    print(json.dumps({"phase": "connected", **stats}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "publish"
    loops = [
        asyncio.ensure_future(publish_loop(n, args.first + i)) for i, n in enumerate(names) if n in clients
    ]
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # EOF / "stop"
    for task in [*loops, reporter]:
        task.cancel()
    await asyncio.gather(*loops, reporter, return_exceptions=True)
    await asyncio.wait_for(stop_session(*(c.xmpp for c in clients.values()), wait=0.2), 60)


# -- coordinator ------------------------------------------------------------------------------------
class Worker:
    def __init__(self, server_info: Path, first: int, count: int, meter_period: float) -> None:
        self.first, self.count = first, count
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                "--server-info",
                str(server_info),
                "--first",
                str(first),
                "--count",
                str(count),
                "--meter-period",
                str(meter_period),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.last: dict = {}
        self.connected_phase = False

    def poll_lines(self) -> None:
        os.set_blocking(self.proc.stdout.fileno(), False)
        while True:
            line = self.proc.stdout.readline()
            if not line:
                return
            data = json.loads(line)
            if data.get("phase") == "connected":
                self.connected_phase = True
            self.last.update(data)

    def send(self, text: str) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(text + "\n")
            self.proc.stdin.flush()

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def stop(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    hz = os.sysconf("SC_CLK_TCK")
    return (total - idle) / hz, total / hz


def proc_rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


class App:
    """The application session: subscribes to every device node, decodes, measures latency."""

    def __init__(self, info: dict) -> None:
        endpoint = Endpoint(info["host"], info["c2s_port"], Security.insecure_plaintext())
        self.info = info
        self.client = IotClient(f"admin@{info['domain']}/app", PASSWORD, endpoint)
        self.pubsub = PubSub(self.client.xmpp, info["pubsub_jid"], timeout=60)
        self.received = 0
        self.latencies: list[float] = []
        self.pubsub.on_payload("meas/", CODEC, self._on_item)

    def _on_item(self, item) -> None:
        self.received += 1
        self.latencies.append(time.time() - item.payload.timestamp.timestamp())

    async def provision(self, first: int, count: int) -> None:
        """Create the devices' nodes, make them publishers, subscribe (what provisioning does)."""
        xep = self.client.xmpp.plugin["xep_0060"]
        gate = asyncio.Semaphore(64)
        service = self.info["pubsub_jid"]

        async def one(i: int) -> None:
            jid = f"{device_name(i)}@{self.info['domain']}"
            node = measurement_node(jid)
            async with gate:
                await xep.create_node(service, node, timeout=60)
                await xep.modify_affiliations(service, node, affiliations=[(jid, "publisher")], timeout=60)
                await self.pubsub.subscribe(node)

        await asyncio.gather(*(one(i) for i in range(first, first + count)))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1)))]


async def scram_login_cost(info: dict, workdir: Path, n: int = 3) -> float:
    """CPU seconds one slixmpp SCRAM login costs at Prosody's default 10,000 iterations."""
    names = [f"scram{i}" for i in range(n)]
    precreate_accounts(workdir, info["domain"], names, iterations=10_000)
    endpoint = Endpoint(info["host"], info["c2s_port"], Security.insecure_plaintext())
    start = time.process_time()
    for name in names:
        client = IotClient(f"{name}@{info['domain']}/x", PASSWORD, endpoint)
        await client.connect()
        await client.close()
    return (time.process_time() - start) / n


async def coordinator(args: argparse.Namespace) -> dict:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    levels = (
        [int(x) for x in args.levels.split(",")]
        if args.levels
        else ([50, 200, 500] if args.quick else [500, 1000, 2500, 5000, 7500, 10000])
    )
    window = 4.0 if args.quick else 12.0
    workdir = Path(tempfile.mkdtemp(prefix="xmpp-iot-bench-neighbourhood-"))
    server = make_devserver("prosody", workdir, components=("bench",))  # one, so the component port is up
    precreate_accounts(workdir, "localhost", ["admin"] + [device_name(i) for i in range(levels[-1])])
    info_obj = server.start(60)
    info = json.loads(info_obj.to_json())
    info_path = workdir / "server-info.json"
    info_path.write_text(info_obj.to_json())
    server_pid = server.process.pid
    print(f"prosody on 127.0.0.1:{info['c2s_port']} (workdir {workdir}); nofile limit {hard}", flush=True)
    app = App(info)
    await app.client.connect()
    results, workers, saturation = [], [], None
    scram_cpu = await scram_login_cost(info, workdir)
    print(
        f"one SCRAM-SHA-1 login at 10000 iterations costs {scram_cpu * 1000:.0f} ms of client CPU "
        f"(accounts below use {LOW_ITERATIONS} iterations)",
        flush=True,
    )
    base_server_rss = proc_rss(server_pid)
    try:
        total = 0
        for level in levels:
            t0 = time.monotonic()
            try:
                await app.provision(total, level - total)
            except (IqError, IqTimeout) as exc:  # the server no longer keeps up: that is the answer
                condition = "timeout" if isinstance(exc, IqTimeout) else exc.iq["error"]["condition"]
                saturation = saturation or (
                    f"at {total} sessions: the pub/sub service did not create the nodes for {level} ({condition})"
                )
                print(f"{level:>6} sessions: {saturation}", flush=True)
                break
            new_workers = []
            first = total
            while first < level:
                count = min(WORKER_CHUNK, level - first)
                new_workers.append(Worker(info_path, first, count, args.meter_period))
                first += count
            deadline = time.monotonic() + max(60.0, level * 0.05)
            while not all(w.connected_phase for w in new_workers) and time.monotonic() < deadline:
                for w in new_workers:
                    w.poll_lines()
                    if w.proc.poll() is not None and not w.connected_phase:
                        raise RuntimeError(f"worker {w.first} exited with {w.proc.returncode}")
                await asyncio.sleep(0.2)
            workers += new_workers
            total = level
            connect_s = time.monotonic() - t0
            for w in new_workers:
                w.send("publish")
            await asyncio.sleep(min(3.0, window / 2))  # settle: phases spread over one meter period
            for w in workers:
                w.poll_lines()
            pub0 = sum(w.last.get("published", 0) for w in workers)
            rec0 = app.received
            app.latencies.clear()
            cpu0 = {
                "server": proc_cpu(server_pid),
                "workers": sum(w.cpu() for w in workers),
                "app": time.process_time(),
            }
            machine0 = machine_cpu()
            t_start = time.monotonic()
            await asyncio.sleep(window)
            elapsed = time.monotonic() - t_start
            for w in workers:
                w.poll_lines()
            cpu = {
                "server": proc_cpu(server_pid) - cpu0["server"],
                "workers": sum(w.cpu() for w in workers) - cpu0["workers"],
                "app": time.process_time() - cpu0["app"],
            }
            machine1 = machine_cpu()
            cpu["other processes"] = max(0.0, machine1[0] - machine0[0] - sum(cpu.values()))
            cpu["idle"] = max(0.0, (machine1[1] - machine0[1]) - (machine1[0] - machine0[0]))
            connected = sum(w.last.get("connected", 0) for w in workers)
            failed = sum(w.last.get("failed", 0) for w in workers)
            offered = (sum(w.last.get("published", 0) for w in workers) - pub0) / elapsed
            received = (app.received - rec0) / elapsed
            p50, p99 = percentile(app.latencies, 0.5), percentile(app.latencies, 0.99)
            client_rss = sum(w.last.get("rss", 0) - w.last.get("rss_base", 0) for w in workers)
            row = {
                "sessions": connected,
                "failed": failed,
                "connect_s": round(connect_s, 1),
                "offered_per_s": round(offered, 1),
                "received_per_s": round(received, 1),
                "p50_ms": round(p50 * 1000, 1) if p50 is not None else None,
                "p99_ms": round(p99 * 1000, 1) if p99 is not None else None,
                "server_rss_mb": round(proc_rss(server_pid) / 2**20, 1),
                "server_kb_per_session": round(
                    (proc_rss(server_pid) - base_server_rss) / max(1, connected) / 1024, 1
                ),
                "client_kb_per_session": round(client_rss / max(1, connected) / 1024, 1),
                "cpu_share": {k: round(v / elapsed, 2) for k, v in cpu.items()},
            }
            results.append(row)
            print(
                f"{row['sessions']:>6} sessions ({failed} failed, connected in {row['connect_s']} s): "
                f"{row['offered_per_s']:.0f} msg/s offered, {row['received_per_s']:.0f} received, "
                f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, server {row['server_rss_mb']} MB "
                f"({row['server_kb_per_session']} KB/session), client {row['client_kb_per_session']} KB/session, "
                f"CPU cores used {row['cpu_share']}",
                flush=True,
            )
            if cpu["other processes"] / elapsed > 0.5:
                print(
                    f"       note: other processes used {cpu['other processes'] / elapsed:.1f} of the "
                    f"{os.cpu_count()} cores during this level; the numbers above are limited by that",
                    flush=True,
                )
            reason = None
            if failed > 0.01 * level:
                reason = f"{failed} of {level} sessions failed to connect"
            elif offered and received < 0.9 * offered:
                reason = f"the app received only {received:.0f} of {offered:.0f} msg/s"
            elif p99 is not None and p99 > 2.0:
                reason = f"p99 latency {p99 * 1000:.0f} ms > 2 s"
            if reason:
                saturation = saturation or f"at {connected} sessions: {reason}"
                if not args.keep_going:
                    break
    finally:
        for w in workers:
            w.send("stop")
        for w in workers:
            w.stop()
        await app.client.close()
        server.stop()
    last = results[-1] if results else {}
    shares = {k: v for k, v in last.get("cpu_share", {}).items() if k != "idle"}
    busiest = max(shares.items(), key=lambda kv: kv[1])[0] if shares else "none"
    contended = bool(shares) and shares.get("other processes", 0) > 0.5
    return {
        "benchmark": "neighbourhood",
        "machine_contended": contended,
        "quick": args.quick,
        "max_sessions": max((r["sessions"] for r in results), default=0),
        "target_sessions": 10_000,
        "saturated": saturation,
        "bottleneck": f"{busiest} CPU" if saturation else f"not reached (busiest: {busiest} CPU)",
        "measurements_per_s": last.get("received_per_s"),
        "p99_ms": last.get("p99_ms"),
        "client_kb_per_session": last.get("client_kb_per_session"),
        "server_kb_per_session": last.get("server_kb_per_session"),
        "scram_login_cpu_ms": round(scram_cpu * 1000, 1),
        "levels": results,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small levels, short windows (< 1 min)")
    parser.add_argument("--levels", help="comma-separated session counts to grow through")
    parser.add_argument("--meter-period", type=float, default=10.0, help="seconds between meter readings")
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="grow through every level even after saturation (how many sessions are held)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server-info", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=50, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(args))
        return 0
    result = asyncio.run(coordinator(args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
