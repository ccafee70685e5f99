"""Ingest benchmark: sustained intake through HTTP on a real uvicorn server, SQLite and PostgreSQL.

For each store and each pre-filled size (10k, 100k, 1M signals already stored) it measures:

- batched: POST /api/v1/signals with 1,000 signals per request, 2 connections;
- single: one signal per request, 8 keep-alive connections;
- receipt to incident: critical single signals sent one at a time; the 202 is sent after the
  transaction that links the alert to its incident committed, so send -> 202 bounds the time
  until the incident is visible (each answer is checked to name the incident);
- raw: the same signal rows inserted with the driver's executemany into the same store, and
  the batched HTTP rate as a share of it.

The server is `uvicorn` on 127.0.0.1 in its own process (access log off, as in production
behind a proxy); the client is a minimal asyncio HTTP/1.1 client with pre-built requests, so
that the client's own cost stays small beside the server's on this 2-core machine.

    .venv/bin/python bench/ingest.py                      # SQLite and PostgreSQL, 10k/100k/1M
    .venv/bin/python bench/ingest.py --backends sqlite --prefill 10000 --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, insert, text

HERE = Path(__file__).resolve().parent
SYSTEMS = ["voice-agent", "support-chatbot", "fraud-scorer", "search-rag", "coding-agent"]
PG_URL = os.environ.get("QUELL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


# --- stores --------------------------------------------------------------------------------


def make_store(backend: str, workdir: Path) -> tuple[str, Engine, Any]:
    """A fresh, migrated store; returns (url for the server, engine, cleanup)."""
    from quell.store.db import _sqlite_pragmas, upgrade

    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        upgrade(engine)
        return url, engine, lambda: engine.dispose()
    schema = f"quell_bench_{uuid.uuid4().hex[:8]}"
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}?options=-csearch_path%3D{schema}"
    engine = create_engine(url)
    upgrade(engine)

    def cleanup() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url, engine, cleanup


def seed(engine: Engine) -> str:
    """Inventory and a responder token; returns the token."""
    from quell.auth.service import create_token
    from quell.config import apply_config, parse_config
    from quell.store.db import session_scope

    config, extras = parse_config({"systems": [{"name": n, "kind": "generative"} for n in SYSTEMS]})
    with session_scope(engine) as s:
        apply_config(s, config, extras)
        token, _ = create_token(s, name="bench", role="responder")
    return token


def signal_rows(count: int, payload_id: int, start: int = 0) -> list[dict[str, Any]]:
    """Rows shaped like intake writes them (resolved-alert history, no alert link)."""
    now = datetime.now(UTC)
    return [
        {
            "payload_id": payload_id,
            "item_path": f"/signals/{i % 1000}",
            "source": "native",
            "system": SYSTEMS[i % len(SYSTEMS)],
            "kind": "latency",
            "summary": f"p90 latency high #{i}",
            "status": "firing",
            "severity_hint": "warning",
            "fingerprint": f"hist-{i % 50_000}",
            "labels": {"region": "eu-west-1", "route": f"/v1/chat/{i % 7}"},
            "metrics": {"p90_latency_s": 8.5},
            "archetype_hint": None,
            "evidence": {},
            "occurred_at": now,
            "received_at": now,
            "alert_id": None,
        }
        for i in range(start, start + count)
    ]


def prefill(engine: Engine, target: int) -> float:
    """Bring the store to `target` stored signals with bulk inserts; returns seconds taken."""
    from quell.ingest.models import Payload, SignalRow

    t0 = time.perf_counter()
    with engine.begin() as conn:
        payload_id = conn.execute(
            insert(Payload.__table__).returning(Payload.__table__.c.id),  # type: ignore[arg-type]
            {
                "source": "native",
                "received_at": datetime.now(UTC),
                "received_by": "prefill",
                "body": "{}",
            },
        ).scalar_one()
    have = 0
    chunk = 50_000
    while have < target:
        n = min(chunk, target - have)
        with engine.begin() as conn:
            conn.execute(insert(SignalRow.__table__), signal_rows(n, payload_id, have))  # type: ignore[arg-type]
        have += n
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - t0


def raw_executemany(engine: Engine, count: int) -> float:
    """Signals/s of the driver's executemany for the same rows intake writes (no HTTP, no logic)."""
    rows = signal_rows(count, 1, 0)
    cols = list(rows[0])
    is_pg = engine.dialect.name == "postgresql"
    ph = ", ".join(["%s" if is_pg else "?"] * len(cols))
    sql = f"INSERT INTO signals ({', '.join(cols)}) VALUES ({ph})"
    tuples = [
        tuple(
            orjson.dumps(r[c]).decode()
            if isinstance(r[c], dict)
            else (
                r[c].replace(tzinfo=None).isoformat(" ")
                if isinstance(r[c], datetime) and not is_pg
                else r[c]
            )
            for c in cols
        )
        for r in rows
    ]
    raw = engine.raw_connection()
    try:
        t0 = time.perf_counter()
        for start in range(0, count, 1000):  # one transaction per 1,000, as the batched test
            cur = raw.cursor()
            cur.executemany(sql, tuples[start : start + 1000])
            raw.commit()
        elapsed = time.perf_counter() - t0
    finally:
        raw.close()
    return count / elapsed


# --- the server ----------------------------------------------------------------------------


def serve(url: str, port: int) -> None:
    """Run quell's app under uvicorn (called in the child process)."""
    import uvicorn

    from quell.api.app import create_app
    from quell.settings import Settings
    from quell.store.db import get_engine

    app = create_app(Settings(database_url=url), engine=get_engine(url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(url: str) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


# --- a minimal HTTP/1.1 client -------------------------------------------------------------


def request_bytes(token: str, body: bytes) -> bytes:
    head = (
        "POST /api/v1/signals HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _worker(port: int, requests: list[bytes], out: list[tuple[float, int, bytes]]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for req in requests:
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            out.append((time.perf_counter() - t0, status, body))
    finally:
        writer.close()


def run_requests(
    port: int, requests: list[bytes], connections: int
) -> tuple[float, list[tuple[float, int, bytes]]]:
    """Send `requests` over `connections` keep-alive connections; returns (wall s, results)."""
    out: list[tuple[float, int, bytes]] = []
    shares = [requests[i::connections] for i in range(connections)]

    async def main() -> None:
        await asyncio.gather(*(_worker(port, share, out) for share in shares if share))

    t0 = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - t0, out


def native(i: int, fingerprint: str, severity: str = "warning") -> dict[str, Any]:
    return {
        "system": SYSTEMS[i % len(SYSTEMS)],
        "kind": "latency",
        "summary": f"p90 latency above SLO on route {i % 13}",
        "severity": severity,
        "labels": {"region": "eu-west-1", "route": f"/v1/chat/{i % 13}"},
        "metrics": {"p90_latency_s": 8.0 + (i % 10) / 10},
        "fingerprint": fingerprint,
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def check(results: list[tuple[float, int, bytes]]) -> None:
    bad = [(s, b[:200]) for _, s, b in results if s != 202]
    if bad:
        raise RuntimeError(f"{len(bad)} requests failed, first: {bad[0]}")


def bench_one(backend: str, size: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    url, engine, cleanup = make_store(backend, workdir)
    try:
        token = seed(engine)
        fill_s = prefill(engine, size)
        proc, port = start_server(url)
        rnd = random.Random(size)
        try:
            # warm-up: the correlation index is built and the code paths are hot
            run_requests(port, [request_bytes(token, orjson.dumps(native(0, "warm")))] * 20, 1)

            batches = []
            for b in range(args.batches):
                sigs = [native(b * 1000 + i, f"fp-{rnd.randrange(20_000)}") for i in range(1000)]
                batches.append(request_bytes(token, orjson.dumps({"signals": sigs})))
            wall, res = run_requests(port, batches, 2)
            check(res)
            batched_rate = args.batches * 1000 / wall

            singles = [
                request_bytes(token, orjson.dumps(native(i, f"one-{rnd.randrange(5_000)}")))
                for i in range(args.singles)
            ]
            wall, res = run_requests(port, singles, 8)
            check(res)
            single_rate = args.singles / wall
            single_p50 = statistics.median(r[0] for r in res) * 1000

            crit = [
                request_bytes(token, orjson.dumps(native(i, f"crit-{i}", "critical")))
                for i in range(args.latency)
            ]
            _wall, res = run_requests(port, crit, 1)
            check(res)
            missing = sum(1 for _, _, body in res if not orjson.loads(body)["incidents"])
            lat = [r[0] * 1000 for r in res]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        raw_rate = raw_executemany(engine, args.batches * 1000)
    finally:
        cleanup()
    return {
        "backend": backend,
        "prefilled": size,
        "prefill_s": round(fill_s, 1),
        "batched_signals_per_s": round(batched_rate),
        "single_requests_per_s": round(single_rate),
        "single_p50_ms": round(single_p50, 2),
        "incident_p50_ms": round(pct(lat, 0.50), 2),
        "incident_p99_ms": round(pct(lat, 0.99), 2),
        "incident_missing": missing,
        "raw_executemany_per_s": round(raw_rate),
        "batched_vs_raw": round(batched_rate / raw_rate, 2),
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--prefill", default="10000,100000,1000000")
    parser.add_argument("--batches", type=int, default=40, help="1,000-signal batches")
    parser.add_argument("--singles", type=int, default=4000, help="single-signal requests")
    parser.add_argument("--latency", type=int, default=1000, help="critical signals, one at a time")
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.singles, args.latency = 4, 400, 100
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            for size in (int(s) for s in args.prefill.split(",")):
                row = bench_one(backend, size, args, Path(tmp))
                results.append(row)
                print(orjson.dumps(row).decode(), flush=True)
    header = (
        "| store | stored before | batched signals/s | single req/s | receipt→incident p50 / p99 ms"
        " | raw executemany rows/s | batched / raw |"
    )
    print()
    print(header)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['backend']} | {r['prefilled']:,} | {r['batched_signals_per_s']:,} |"
            f" {r['single_requests_per_s']:,} | {r['incident_p50_ms']} / {r['incident_p99_ms']} |"
            f" {r['raw_executemany_per_s']:,} | {r['batched_vs_raw']} |"
        )
    if args.json:
        args.json.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
