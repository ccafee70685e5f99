"""Correlation benchmark: `Correlator.handle` per batch size, alone and inside intake's write path.

A migrated SQLite store (or PostgreSQL with --backends postgresql) holds the seven-system estate
of the replay generator. A stream of firing signals is sent through `store_envelopes` (intake's
one write path: payloads, signals, dedup into alerts, correlation, incident links) in batches of
1, 10, 100 and 1,000, on a simulated clock 2 ms per signal apart, so candidates open, grow,
cascade and expire as they would under a storm. The mix: 60% repeats of alerts already seen
(dedup), 40% new alerts (new pods, new findings), across all systems and kinds.

For each batch size it reports the signals per second of the whole write path (one transaction
per batch), the CPU time per signal spent inside `Correlator.handle`, and its p50/p99 per batch.
`--profile` prints a cProfile of `handle` for the 1,000 batches.

    .venv/bin/python bench/correlation.py                    # SQLite, 20,000 signals per size
    .venv/bin/python bench/correlation.py --signals 5000 --sizes 1000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text

PG_URL = os.environ.get("QUELL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
KINDS = {
    "embeddings": ["drift"],
    "retriever": ["error_rate", "latency"],
    "support-chat": ["prompt_injection", "task_completion", "latency", "pii"],
    "fraud-scorer": ["drift", "latency"],
    "refunds-agent": ["agent_action", "error_rate"],
    "voice-agent": ["latency", "task_completion"],
    "search-summary": ["error_rate", "output_pattern", "cost"],
}


def make_engine(backend: str, folder: Path) -> tuple[Engine, Any]:
    from quell.store.db import _sqlite_pragmas, upgrade

    if backend == "sqlite":
        engine = create_engine(f"sqlite:///{folder / 'bench-correlation.db'}")
        event.listen(engine, "connect", _sqlite_pragmas)
        upgrade(engine)
        return engine, engine.dispose
    schema = f"quell_bench_{uuid.uuid4().hex[:8]}"
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(base, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(engine)

    def cleanup() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, cleanup


def signal_stream(seed: int, count: int, start: datetime) -> list[dict[str, Any]]:
    """Raw native signals: 60% repeats of earlier alerts, 40% new ones, 2 ms apart."""
    from quell.detection.replay import INVENTORY

    rng = random.Random(seed)
    systems = [s["name"] for s in INVENTORY]
    seen: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i in range(count):
        if seen and rng.random() < 0.6:
            raw = dict(rng.choice(seen[-500:]))
        else:
            system = rng.choice(systems)
            kind = rng.choice(KINDS[system])
            raw = {
                "system": system,
                "kind": kind,
                "summary": f"{kind} on {system}",
                "severity": rng.choice(["info", "warning", "warning", "high"]),
                "labels": {"alertname": kind, "pod": f"{system}-{rng.randrange(50)}"},
                "metrics": {"p90_latency_s": round(rng.uniform(1, 9), 1)}
                if kind == "latency"
                else {},
            }
            seen.append(raw)
        raw["occurred_at"] = (start + timedelta(milliseconds=2 * i)).isoformat()
        out.append(raw)
    return out


def run_size(engine: Engine, raws: list[dict[str, Any]], size: int, start: datetime,
             profile: cProfile.Profile | None) -> dict[str, Any]:  # fmt: skip
    import orjson

    from quell.detection.pipeline import Correlator
    from quell.ingest.native import native_signal
    from quell.ingest.normalise import Context, Item
    from quell.ingest.service import Envelope, known_systems, store_envelopes, write_lock
    from quell.store.db import session_scope

    correlator = Correlator.for_engine(engine)
    handle = correlator.handle
    handle_cpu: list[float] = []

    def timed(session: Any, items: Any) -> Any:
        began = time.process_time()
        if profile is not None:
            profile.enable()
        try:
            return handle(session, items)
        finally:
            if profile is not None:
                profile.disable()
            handle_cpu.append(time.process_time() - began)

    correlator.handle = timed  # type: ignore[method-assign,assignment]
    with session_scope(engine) as s:
        systems = known_systems(s)
    wall = time.perf_counter()
    try:
        for first in range(0, len(raws), size):
            chunk = raws[first : first + size]
            with write_lock(engine), session_scope(engine) as session:
                items = []
                for n, raw in enumerate(chunk):
                    when = start + timedelta(milliseconds=2 * (first + n))
                    ctx = Context(received_at=when, known_systems=systems)
                    items.append(Item(native_signal(raw, ctx, "signal"), ""))
                envelope = Envelope("native", orjson.dumps(chunk).decode(), "bench", when, items)
                store_envelopes(session, [envelope], correlator)
    finally:
        del correlator.handle
    elapsed = time.perf_counter() - wall
    per_batch_ms = sorted(t * 1000 for t in handle_cpu)
    return {
        "batch": size,
        "signals": len(raws),
        "write_path_signals_per_s": round(len(raws) / elapsed),
        "handle_us_per_signal": round(sum(handle_cpu) / len(raws) * 1e6, 1),
        "handle_ms_per_batch_p50": round(statistics.median(per_batch_ms), 3),
        "handle_ms_per_batch_p99": round(per_batch_ms[int(0.99 * (len(per_batch_ms) - 1))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite", help="sqlite,postgresql")
    parser.add_argument("--signals", type=int, default=20000, help="signals per batch size")
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--profile", action="store_true", help="cProfile handle (largest size)")
    args = parser.parse_args()

    from quell.config import apply_config, parse_config
    from quell.detection.pipeline import Correlator
    from quell.detection.replay import INVENTORY
    from quell.store.db import session_scope

    sizes = [int(x) for x in args.sizes.split(",")]
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="quell-bench-corr-") as folder:
            engine, cleanup = make_engine(backend, Path(folder))
            try:
                with session_scope(engine) as s:
                    config, extras = parse_config({"systems": INVENTORY}, source="bench")
                    apply_config(s, config, extras, source="bench")
                start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
                for n, size in enumerate(sizes):
                    # Each size continues the clock an hour later, on the same store.
                    at = start + timedelta(hours=n)
                    raws = signal_stream(n, args.signals, at)
                    prof = cProfile.Profile() if args.profile and size == max(sizes) else None
                    row = run_size(engine, raws, size, at, prof)
                    print(backend, row, flush=True)
                    if prof is not None:
                        order = os.environ.get("SORT", "cumulative")
                        pstats.Stats(prof).sort_stats(order).print_stats(25)
            finally:
                Correlator.forget(engine)
                cleanup()


if __name__ == "__main__":
    main()
