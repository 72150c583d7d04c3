"""CPU the web process spends per clean reading: single-detector posts and gateway batches, in process.

    python bench/reading_cpu.py [--detectors 100] [--gateway-size 100] [--posts 300] [--profile 25] [--served]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python bench/reading_cpu.py

Counts `time.process_time()` (this process's CPU, not wall time: it holds on a busy machine) around
Flask's test client posting signed clean readings, so it covers the view, verification, the cached
detector map, the bulk insert and the database driver's share, but not gunicorn's socket handling.
With --profile N it prints cProfile's N costliest functions of each kind. No alarm is raised, so no
worker, sandbox or Redis job is involved.

With --served the same posts go over one kept-alive HTTP connection to `python app.py serve` (one
gunicorn process of 4 threads), and the figure is the CPU of that process tree: what a deployment's
web tier spends per reading, gunicorn's HTTP parsing included, without the client's own. Drops and recreates the tables of DATABASE_URL (so it
refuses a database not named test or bench unless --force); SQLite in a temporary folder otherwise.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import support  # noqa: E402

CLEAN = {"O2": 20.9, "EX": 0.0, "H2S": 0.0, "CO": 0.0}


def _signed(secret: str, items: list[dict], at: int, gateway: str | None = None) -> tuple[bytes, dict]:
    from sensors.intake import sign
    body = json.dumps(items).encode()
    headers = {"Content-Type": "application/json", "X-Timestamp": str(at),
               "X-Signature": sign(secret, str(at), body)}
    if gateway:
        headers["X-Gateway"] = gateway
    return body, headers


class _Served:
    """Flask's test client's post(), over one kept-alive connection to a served app."""

    def __init__(self, base: str):
        import http.client
        from urllib.parse import urlparse
        where = urlparse(base)
        self.http = http.client.HTTPConnection(where.hostname, where.port, timeout=30)

    def post(self, url: str, data: bytes, headers: dict):
        self.http.request("POST", url, body=data, headers=headers)
        answer = self.http.getresponse()
        body = answer.read()
        answer.status_code = answer.status
        answer.get_data = lambda as_text=False: body.decode() if as_text else body
        return answer


def _measure(client, posts: list[tuple[str, bytes, dict]], readings_each: int, profile: int, label: str,
             clock=time.process_time) -> float:
    """Post every body; return CPU ms per reading (of clock) and print the profile when asked."""
    # CPU, not wall time: the machine may be shared, and waiting on a lock or a socket costs no CPU.
    profiler = cProfile.Profile(time.process_time) if profile else None
    start = clock()
    if profiler:
        profiler.enable()
    for url, body, headers in posts:
        answer = client.post(url, data=body, headers=headers)
        if answer.status_code != 200:
            sys.exit(f"{label}: {answer.status_code} {answer.get_data(as_text=True)}")
    if profiler:
        profiler.disable()
    spent = clock() - start
    per = spent * 1000 / (len(posts) * readings_each)
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(profile)
        print(f"--- {label}: cProfile, by own time ---\n{out.getvalue()}")
    return per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", type=int, default=100)
    parser.add_argument("--gateway-size", type=int, default=100, help="readings in one gateway batch")
    parser.add_argument("--posts", type=int, default=300, help="single-detector posts to time")
    parser.add_argument("--batches", type=int, default=30, help="gateway batches to time")
    parser.add_argument("--profile", type=int, default=0, help="print cProfile's N costliest functions")
    parser.add_argument("--alarms", type=int, default=0,
                        help="also time N alarms: an alarming post and the clean post that clears it "
                             "(enqueues to REDIS_URL, which must be set)")
    parser.add_argument("--served", action="store_true", help="post to `python app.py serve` over HTTP")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    url = support.database_url(args.force)
    instance = Path(tempfile.mkdtemp(prefix="bench-reading-cpu-"))
    os.environ.update({"INSTANCE_PATH": str(instance), "DATABASE_URL": url or f"sqlite:///{instance / 'permit.db'}"})
    try:
        return _run(args)
    finally:
        support.stop_embedded_redis()
        shutil.rmtree(instance, ignore_errors=True)


def _run(args) -> int:
    import alarm_relay
    import settings
    from app import create_app
    from exports.org_import import load_org
    settings.configure()
    alarm_relay._fresh_schema(settings.current().database_url)
    load_org(alarm_relay.SAMPLE_ORG)
    size = max(1, min(args.gateway_size, args.detectors))
    detectors = alarm_relay._detectors(args.detectors)
    gateway = alarm_relay._senders(detectors[:size], 1)[0]
    if args.served:
        from models import database
        # Clean readings never enqueue; a server's Redis only spares serve from starting an embedded one.
        os.environ.setdefault("REDIS_URL", support.redis_url()[0])
        database.close_all()
        server, base = alarm_relay._serve(Path(os.environ["INSTANCE_PATH"]),
                                          argparse.Namespace(web_workers=1, web_threads=4))
        client = _Served(base)
        clock = lambda: support.tree_cpu([server.pid])  # noqa: E731
    else:
        server, client, clock = None, create_app().test_client(), time.process_time
    try:
        return _post_all(args, client, clock, detectors, gateway, size)
    finally:
        if server is not None:
            support.stop_process(server)


def _post_all(args, client, clock, detectors, gateway, size) -> int:
    import settings
    now = int(time.time())
    # Each post a second of its own, in the past, so no two share a detector and a time.
    first = now - 3000

    def when(k: int) -> tuple[int, str]:
        return first + k, datetime.fromtimestamp(first + k, timezone.utc).isoformat()

    singles = []
    for k in range(args.posts + 20):
        d = detectors[k % len(detectors)]
        _, ts = when(k // len(detectors))
        singles.append(("/sensors/readings", *_signed(d["secret"], [{"device": d["code"], "ts": ts,
                                                                       "values": CLEAN}], now)))
    batches = []
    offset = (args.posts + 20) // len(detectors) + 1
    for k in range(args.batches + 3):
        _, ts = when(offset + k)
        items = [{"device": d["code"], "ts": ts, "values": CLEAN} for d in gateway["detectors"]]
        batches.append(("/sensors/gateway", *_signed(gateway["secret"], items, now, gateway["gateway"])))
    # Warm-up: the first posts build the detector map and the connection.
    _measure(client, singles[:20], 1, 0, "warm-up", clock)
    _measure(client, batches[:3], size, 0, "warm-up", clock)
    profile = 0 if args.served else args.profile
    single = _measure(client, singles[20:], 1, profile, "single-detector posts", clock)
    batch = _measure(client, batches[3:], size, profile, f"gateway batches of {size}", clock)
    pairs = []
    for k in range(args.alarms):
        d = detectors[k % len(detectors)]
        _, ts = when(offset + args.batches + 4 + 2 * (k // len(detectors)))
        _, later = when(offset + args.batches + 5 + 2 * (k // len(detectors)))
        pairs.append(("/sensors/readings", *_signed(d["secret"], [{"device": d["code"], "ts": ts,
                                                                     "values": {**CLEAN, "H2S": 12.0}}], now)))
        pairs.append(("/sensors/readings", *_signed(d["secret"], [{"device": d["code"], "ts": later,
                                                                     "values": CLEAN}], now)))
    alarm = _measure(client, pairs, 1, profile, "an alarm raised and cleared", clock) * 2 if pairs else 0
    engine = settings.current().database_url.split(":", 1)[0]
    print(f"engine={engine} detectors={args.detectors} "
          + ("served (gunicorn, 1 process x 4 threads, one kept-alive connection)" if args.served else "in process"))
    print(f"single-detector post: {single:.2f} CPU ms per reading ({args.posts} posts)")
    print(f"gateway batch of {size}: {batch:.3f} CPU ms per reading ({args.batches} batches)")
    if pairs:
        print(f"an alarm raised and cleared (two single posts): {alarm:.2f} CPU ms ({args.alarms} alarms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
