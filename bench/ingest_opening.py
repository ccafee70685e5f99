"""Receipt -> incident in-process: where the slow probes of bench/ingest.py spend their time.

The same data as the HTTP bench's phases, without HTTP: a temp SQLite (or PostgreSQL) store
pre-filled like bench/ingest.py's, then, through intake's group-commit writer
(`quell.ingest.committer`, what the route uses):

1. batched: `--batches` requests of 1,000 `warning` latency signals (fingerprints drawn from
   20,000, systems round-robin), which gather in held candidates (group_wait is 30 s);
2. single: `--singles` one-signal requests;
3. probes: `--probes` `critical` signals one at a time; each is timed from hand-over to the
   writer until its answer (after the commit), with this process's CPU time beside it.

The first probe per system opens the candidate holding thousands of warnings: those are the
"opening" probes. Prints the latency distribution, the opening probes' wall and CPU, and with
``--profile`` a cProfile of the opening probes only (cumulative, top entries).

    .venv/bin/python bench/ingest_opening.py
    .venv/bin/python bench/ingest_opening.py --profile
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import make_store, native, pct, prefill, seed
from quell.ingest.committer import Committer
from quell.ingest.native import parse_native
from quell.ingest.normalise import Context
from quell.ingest.service import Envelope, IngestResult, known_systems
from quell.store.db import session_scope
from quell.timeutil import utcnow


def envelope(body: Any, known: frozenset[str]) -> Envelope:
    received = utcnow()
    items = parse_native(body, Context(received, known), max_batch=1000)
    return Envelope("native", orjson.dumps(body).decode(), "bench", received, items, known=known)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--prefill", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--singles", type=int, default=2_000)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="cProfile the opening probes")
    parser.add_argument(
        "--profile-after",
        type=int,
        default=0,
        metavar="N",
        help="cProfile probes N to N+49 instead of the opening ones",
    )
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no incident before the probes (as in the HTTP bench: the opening probe is also"
        " the process's first incident, so it pays first-use costs too)",
    )
    args = parser.parse_args()

    from quell.api.app import tune_for_serving
    from quell.phases import load

    load()
    step_ms: list[float] = []
    try:
        from quell.detection.pipeline import HeldLinks

        plain_step = HeldLinks.step

        def timed_step(self: HeldLinks, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return plain_step(self, *args, **kwargs)
            finally:
                step_ms.append((time.perf_counter() - t) * 1000)

        HeldLinks.step = timed_step  # type: ignore[method-assign]
    except ImportError:  # a tree without deferred links
        pass
    with tempfile.TemporaryDirectory() as tmp:
        _url, engine, cleanup = make_store(args.backend, Path(tmp))
        try:
            seed(engine)
            prefill(engine, args.prefill)
            tune_for_serving()
            with session_scope(engine) as s:
                known = known_systems(s)
            committer = Committer.for_engine(engine)
            if not args.cold:
                # An unrelated incident first (a security finding does not join latency
                # candidates), so the opening probe is not the process's first incident.
                warm = native(4, "warm-injection", "critical")
                warm.update(kind="prompt_injection", summary="injection found in a prompt")
                committer.submit(envelope(warm, known)).result()
            rnd = random.Random(1000)
            t0 = time.perf_counter()
            futures = []
            for b in range(args.batches):
                sigs = [native(b * 1000 + i, f"fp-{rnd.randrange(20_000)}") for i in range(1000)]
                futures.append(committer.submit(envelope({"signals": sigs}, known)))
            for f in futures:
                f.result()
            batched_s = time.perf_counter() - t0
            futures = [
                committer.submit(envelope(native(i, f"one-{rnd.randrange(5_000)}"), known))
                for i in range(args.singles)
            ]
            for f in futures:
                f.result()
            print(
                f"batched {args.batches}x1000 in {batched_s:.1f} s, then {args.singles} singles",
                flush=True,
            )

            profiler = cProfile.Profile() if args.profile else None
            walls: list[float] = []
            cpus: list[float] = []
            opening: list[tuple[int, float, float]] = []
            seen: set[int] = set()
            profiled = range(args.profile_after, args.profile_after + 50)
            if not args.profile_after:
                profiled = range(5)
            if args.profile_after:
                profiler = cProfile.Profile()
            for i in range(args.probes):
                env = envelope(native(i, f"crit-{i}", "critical"), known)
                c0, w0 = time.process_time(), time.perf_counter()
                result: IngestResult
                if profiler is not None and i in profiled:
                    # The writer thread's transaction, run here so that cProfile sees it.
                    profiler.enable()
                    result = committer._transaction([env])[0]
                    profiler.disable()
                else:
                    result = committer.submit(env).result()
                wall = (time.perf_counter() - w0) * 1000
                cpu = (time.process_time() - c0) * 1000
                assert result.incident_ids, "an answer without its incident"
                walls.append(wall)
                cpus.append(cpu)
                new = set(result.incident_ids) - seen
                seen |= set(result.incident_ids)
                if new:
                    opening.append((i, wall, cpu))
            print(
                f"probes: {len(walls)}  p50 {pct(walls, 0.5):.2f} ms  p90 {pct(walls, 0.9):.2f}"
                f"  p99 {pct(walls, 0.99):.2f}  max {max(walls):.2f} ms;"
                f"  CPU p50 {pct(cpus, 0.5):.2f} ms"
            )
            late = cpus[20:]
            print(f"CPU mean of probes 20+: {sum(late) / max(len(late), 1):.2f} ms")
            print(
                "CPU mean per 25 probes:",
                ", ".join(
                    f"{sum(cpus[i : i + 25]) / len(cpus[i : i + 25]):.1f}"
                    for i in range(0, len(cpus), 25)
                ),
            )
            print("opening probes (index, wall ms, CPU ms):")
            for i, wall, cpu in opening:
                print(f"  {i:4d}  {wall:8.2f}  {cpu:8.2f}")
            slow = sorted(walls)[-5:]
            print("slowest five:", ", ".join(f"{w:.1f}" for w in slow))
            if opening:
                after = walls[opening[0][0] + 1 : opening[0][0] + 9]
                print("the eight probes after it:", ", ".join(f"{w:.1f}" for w in after))
            deadline = time.monotonic() + 30
            while committer.deferred and time.monotonic() < deadline:
                time.sleep(0.05)
            with engine.connect() as conn:
                unlinked, linked = conn.execute(
                    text(
                        "SELECT count(*) FILTER (WHERE incident_id IS NULL),"
                        " count(*) FILTER (WHERE incident_id IS NOT NULL)"
                        " FROM alerts WHERE status = 'firing'"
                    )
                ).one()
                state_bytes = conn.execute(
                    text("SELECT max(length(CAST(state AS TEXT))) FROM correlation_groups")
                ).scalar()
                jobs = conn.execute(
                    text("SELECT status, count(*) FROM scheduled_jobs GROUP BY status")
                ).all()
            print(f"firing alerts linked {linked}, unlinked {unlinked}; jobs {dict(jobs)}")
            print(f"largest correlation state rewritten per transaction: {state_bytes} bytes")
            if step_ms:
                print(
                    "link chunks after the answer (ms, statements only):",
                    ", ".join(f"{v:.1f}" for v in step_ms),
                )
            if profiler is not None:
                stats = pstats.Stats(profiler)
                stats.sort_stats("cumulative").print_stats(args.top)
        finally:
            cleanup()


if __name__ == "__main__":
    main()
