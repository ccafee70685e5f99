"""Intake's CPU per signal and per request, in-process: the figure a busy machine disturbs least.

The same app as bench/ingest.py's server (``create_app`` + ``tune_for_serving``) on a temp
SQLite (or PostgreSQL) store pre-filled the same way, driven through its ASGI interface with
no network: each request goes through Starlette/FastAPI (middleware, routing, the handler),
intake's parse and validation, the group-commit writer thread and its commit, and the 202.

* *batched*: ``--batches`` requests of 1,000 native signals (fingerprints drawn from 20,000)
  with 2 in flight, as wrk's 2 connections;
* *single*: ``--singles`` one-signal requests with 32 in flight.

Reported: this process's CPU time (user + system, all threads; ``time.process_time``) per
signal and per request, after ``--warm`` requests of each kind. Not reported: uvicorn's HTTP
parsing and socket work, which the HTTP bench's server also spends. ``--profile`` prints
cProfile of the event loop's thread and of the writer thread separately (the writer's own
transactions only).

    .venv/bin/python bench/ingest_cpu.py
    .venv/bin/python bench/ingest_cpu.py --profile batched
    valgrind --tool=callgrind .venv/bin/python bench/ingest_cpu.py --prefill 2000 \
        --batches 6 --singles 300 --warm 1 --callgrind    # callgrind.out.<pid>.1 / .2: "summary"

Under group commit the writer takes whatever requests are queued, so how many single requests
share a transaction depends on the two threads' speeds (it is printed); instruction counts of
the single phase compare well only at similar transaction counts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import SYSTEMS, make_store, native, prefill, seed


def asgi_request(app: Any, token: str, body: bytes) -> Any:
    """One POST /api/v1/signals through the app's ASGI interface; returns (status, body)."""
    headers = [
        (b"host", b"127.0.0.1"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/signals",
        "raw_path": b"/api/v1/signals",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def call() -> tuple[int, bytes]:
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        return status, b"".join(chunks)

    return call()


async def drive(app: Any, token: str, bodies: list[bytes], in_flight: int) -> None:
    queue = list(reversed(bodies))

    async def worker() -> None:
        while queue:
            status, answer = await asgi_request(app, token, queue.pop())
            if status != 202:
                raise SystemExit(f"answer {status}: {answer[:300]!r}")

    await asyncio.gather(*(worker() for _ in range(in_flight)))


def bodies(kind: str, count: int, rnd: random.Random, start: int) -> list[bytes]:
    if kind == "batched":
        out = []
        for b in range(count):
            sigs = [
                native(start + b * 1000 + i, f"fp-{rnd.randrange(20_000)}") for i in range(1000)
            ]
            out.append(orjson.dumps({"signals": sigs}))
        return out
    return [orjson.dumps(native(start + i, f"one-{rnd.randrange(5_000)}")) for i in range(count)]


def slow_clock(engine: Any) -> None:
    """Under valgrind each phase takes minutes: keep the held candidates held throughout, as
    they are in the HTTP bench's 10-second phases (otherwise they open, at a point that depends
    on the run's speed, and the counts include incidents being created)."""
    from quell.config import apply_config, parse_config
    from quell.store.db import session_scope

    config, extras = parse_config(
        {
            "systems": [{"name": n, "kind": "generative"} for n in SYSTEMS],
            "correlation": {"group_wait": "1h", "window": "2h"},
        }
    )
    with session_scope(engine) as s:
        apply_config(s, config, extras)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--prefill", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--singles", type=int, default=4_000)
    parser.add_argument("--warm", type=int, default=5, help="batches (x40 singles) before timing")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each kind")
    parser.add_argument("--profile", choices=("batched", "single"), default=None)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="run under valgrind --tool=callgrind: zero the counts before each timed phase and"
        " dump them after it (instruction counts, repeatable on a busy machine)",
    )
    args = parser.parse_args()

    from quell.api.app import create_app, tune_for_serving
    from quell.ingest.committer import Committer
    from quell.settings import Settings
    from quell.store.db import get_engine

    with tempfile.TemporaryDirectory() as tmp:
        url, engine, cleanup = make_store(args.backend, Path(tmp))
        try:
            token = seed(engine)
            if args.callgrind:
                slow_clock(engine)
            prefill(engine, args.prefill)
            engine.dispose()
            engine = get_engine(url)
            app = create_app(Settings(database_url=url, scheduler=False), engine=engine)
            tune_for_serving()
            rnd = random.Random(7)
            loop = asyncio.new_event_loop()
            writer_profile = cProfile.Profile(time.thread_time) if args.profile else None
            if writer_profile is not None:
                plain = Committer._transaction

                def profiled(self: Committer, envelopes: list[Any]) -> Any:
                    if not profiling:
                        return plain(self, envelopes)
                    writer_profile.enable()
                    try:
                        return plain(self, envelopes)
                    finally:
                        writer_profile.disable()

                Committer._transaction = profiled  # type: ignore[method-assign]
            profiling = False
            serial = 0
            for kind, count, in_flight, per in (
                ("batched", args.batches, 2, 1000),
                ("single", args.singles, 32, 1),
            ):
                warm = bodies(kind, args.warm * (1 if kind == "batched" else 40), rnd, serial)
                serial += 10_000_000
                loop.run_until_complete(drive(app, token, warm, in_flight))
                for _ in range(args.repeat):
                    timed = bodies(kind, count, rnd, serial)
                    serial += 10_000_000
                    main_profile = (
                        cProfile.Profile(time.thread_time) if args.profile == kind else None
                    )
                    profiling = main_profile is not None
                    if args.callgrind:  # under valgrind: count only this phase
                        subprocess.run(["callgrind_control", "-z", str(os.getpid())], check=True)
                    committer = Committer.for_engine(engine)
                    t0 = committer.transactions
                    c0, w0 = time.process_time(), time.perf_counter()
                    if main_profile is not None:
                        main_profile.enable()
                    loop.run_until_complete(drive(app, token, timed, in_flight))
                    if main_profile is not None:
                        main_profile.disable()
                    cpu = time.process_time() - c0
                    if args.callgrind:
                        subprocess.run(
                            ["callgrind_control", "-d", f"{kind}", str(os.getpid())], check=True
                        )
                    wall = time.perf_counter() - w0
                    profiling = False
                    n = count * per
                    unit = "signal" if per > 1 else "request"
                    print(
                        f"{kind:8s} {count:6d} requests  CPU {cpu * 1e6 / n:7.1f} µs/{unit}"
                        f"  (wall {wall:.2f} s, {n / wall:,.0f} {unit}s/s in-process;"
                        f" {committer.transactions - t0} transactions)",
                        flush=True,
                    )
                    if main_profile is not None:
                        print("--- event loop thread")
                        pstats.Stats(main_profile).sort_stats("cumulative").print_stats(args.top)
                        assert writer_profile is not None
                        print("--- writer thread")
                        pstats.Stats(writer_profile).sort_stats("cumulative").print_stats(args.top)
            loop.close()
        finally:
            cleanup()


if __name__ == "__main__":
    main()
