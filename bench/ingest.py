"""Ingest benchmark: sustained intake through HTTP on a real uvicorn server, SQLite and PostgreSQL.

For each store and each pre-filled size (10k, 100k, 1M signals already stored) it measures:

- batched: POST /api/v1/signals with 1,000 signals per request, 2 connections;
- single: one signal per request, 32 keep-alive connections (group commit shares their
  transactions), with the answer's p50/p99;
- receipt to incident: critical single signals sent one at a time; the 202 is sent after the
  transaction that links the alert to its incident committed, so send -> 202 bounds the time
  until the incident is visible (each answer is checked to name the incident);
- raw: the same signal rows inserted with the driver's executemany into the same store, and
  the batched HTTP rate as a share of it;
- the server's CPU time per signal (user + system, from /proc), which a busy machine disturbs
  far less than the rates, and the load average during the row.

The server is `uvicorn` on 127.0.0.1 in its own process (access log off, as in production
behind a proxy; ``--workers 2`` for two processes). The load comes from `wrk` (Debian package
``wrk``, one thread, a Lua script building the bodies) when it is installed, else from a
minimal asyncio HTTP/1.1 client; each phase runs for ``--seconds``. The store is pre-filled
with the driver's bulk insert (COPY on PostgreSQL), so the 1M rows take seconds.

    .venv/bin/python bench/ingest.py                      # SQLite and PostgreSQL, 10k/100k/1M
    .venv/bin/python bench/ingest.py --backends sqlite --prefill 10000 --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, text

from quell.ingest.service import SIGNAL_COLUMNS  # the columns intake writes: same rows

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


def signal_tuples(count: int, payload_id: int, start: int, *, pg: bool) -> list[tuple[Any, ...]]:
    """Rows shaped like intake writes them (a resolved alert's history), as driver tuples."""
    now = datetime.now(UTC)
    when: Any = now if pg else now.replace(tzinfo=None).isoformat(" ")
    metrics = orjson.dumps({"p90_latency_s": 8.5}).decode()
    return [
        (
            payload_id,
            f"/signals/{i % 1000}",
            "native",
            SYSTEMS[i % len(SYSTEMS)],
            "latency",
            f"p90 latency high #{i}",
            "firing",
            "warning",
            f"hist-{i // 20}",
            orjson.dumps({"region": "eu-west-1", "route": f"/v1/chat/{i % 7}"}).decode(),
            metrics,
            None,
            "{}",
            when,
            when,
            None,
        )
        for i in range(start, start + count)
    ]


def prefill(engine: Engine, target: int) -> float:
    """Bring the store to `target` stored signals and target/20 resolved alerts; returns seconds.

    The driver's bulk paths (executemany on SQLite, COPY on PostgreSQL), so 1M rows take
    seconds rather than the minutes SQLAlchemy's per-row processing would.
    """
    pg = engine.dialect.name == "postgresql"
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    when: Any = now if pg else now.replace(tzinfo=None).isoformat(" ")
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        mark = "%s" if pg else "?"
        cur.execute(
            f"INSERT INTO payloads (source, received_at, received_by, body) "
            f"VALUES ({mark}, {mark}, {mark}, {mark})",
            ("native", when, "prefill", "{}"),
        )
        payload_id = cur.execute("SELECT max(id) FROM payloads").fetchone()[0]
        alerts = [
            (
                f"hist-{a}",
                "native",
                SYSTEMS[a % len(SYSTEMS)],
                "latency",
                "history",
                "warning",
                "resolved",
                20,
                when,
                when,
                when,
            )
            for a in range(target // 20)
        ]
        alert_cols = (
            "fingerprint, source, system, kind, summary, severity_hint, status, count,"
            " first_seen_at, last_seen_at, resolved_at"
        )
        chunk = 50_000
        for start in range(0, max(target, 1), chunk):
            n = min(chunk, target - start)
            if n <= 0:
                break
            rows = signal_tuples(n, payload_id, start, pg=pg)
            if pg:
                with cur.copy(f"COPY signals ({', '.join(SIGNAL_COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                ph = ", ".join("?" * len(SIGNAL_COLUMNS))
                cur.executemany(
                    f"INSERT INTO signals ({', '.join(SIGNAL_COLUMNS)}) VALUES ({ph})", rows
                )
        if pg:
            with cur.copy(f"COPY alerts ({alert_cols}) FROM STDIN") as copy:
                for row in alerts:
                    copy.write_row(row)
        else:
            cur.executemany(
                f"INSERT INTO alerts ({alert_cols}) VALUES ({', '.join('?' * 11)})", alerts
            )
        raw.commit()
    finally:
        raw.close()
    if pg:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - t0


def raw_executemany(engine: Engine, count: int) -> float:
    """Signals/s of the driver's executemany for the same rows intake writes (no HTTP, no logic)."""
    pg = engine.dialect.name == "postgresql"
    tuples = signal_tuples(count, 1, 0, pg=pg)
    mark = "%s" if pg else "?"
    values = ", ".join(
        f"{mark}::jsonb" if pg and c in ("labels", "metrics", "evidence") else mark
        for c in SIGNAL_COLUMNS
    )
    sql = f"INSERT INTO signals ({', '.join(SIGNAL_COLUMNS)}) VALUES ({values})"
    raw: Any = engine.raw_connection()
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


def app_from_env() -> Any:
    """The app for uvicorn's workers (``--workers 2``): the store comes from the environment."""
    from quell.api.app import create_app, tune_for_serving
    from quell.settings import Settings
    from quell.store.db import get_engine

    url = os.environ["QUELL_BENCH_URL"]
    app = create_app(Settings(database_url=url), engine=get_engine(url))
    tune_for_serving()  # as `quell serve` does
    return app


def serve(url: str, port: int, workers: int) -> None:
    """Run quell's app under uvicorn (called in the child process)."""
    import uvicorn

    os.environ["QUELL_BENCH_URL"] = url
    uvicorn.run(
        "ingest:app_from_env",
        factory=True,
        app_dir=str(HERE),
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, str(port), str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its live children (uvicorn's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is the parent pid, [11] utime, [12] stime (after the command name)
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


# --- load generators -----------------------------------------------------------------------


def request_bytes(token: str, body: bytes) -> bytes:
    head = (
        "POST /api/v1/signals HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _worker(
    port: int, requests: list[bytes], out: list[tuple[float, int, bytes]], until: float
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for req in requests:
            if time.perf_counter() > until:
                break
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
    port: int, requests: list[bytes], connections: int, seconds: float = 1e9
) -> tuple[float, list[tuple[float, int, bytes]]]:
    """Send `requests` over `connections` keep-alive connections (at most `seconds`)."""
    out: list[tuple[float, int, bytes]] = []
    shares = [requests[i::connections] for i in range(connections)]
    until = time.perf_counter() + seconds

    async def main() -> None:
        await asyncio.gather(*(_worker(port, share, out, until) for share in shares if share))

    t0 = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - t0, out


WRK_SCRIPT = """
local systems = {"voice-agent", "support-chatbot", "fraud-scorer", "search-rag", "coding-agent"}
local batch = %(batch)d
local bodies = {}
local n = 0
local function one(i, fp)
  return string.format('{"system":"%%s","kind":"latency",'
    .. '"summary":"p90 latency above SLO on route %%d",'
    .. '"severity":"warning","labels":{"region":"eu-west-1","route":"/v1/chat/%%d"},'
    .. '"metrics":{"p90_latency_s":%%.1f},"fingerprint":"%%s"}',
    systems[i %% 5 + 1], i %% 13, i %% 13, 8.0 + (i %% 10) / 10, fp)
end
function init(args)
  math.randomseed(%(seed)d)
  for b = 1, 16 do
    local parts = {}
    for i = 1, batch do
      parts[i] = one(b * batch + i, string.format("%(prefix)s-%%d", math.random(0, %(spread)d)))
    end
    if batch == 1 then bodies[b] = parts[1]
    else bodies[b] = '{"signals":[' .. table.concat(parts, ",") .. ']}' end
  end
end
function request()
  n = n + 1
  local body = bodies[n %% 16 + 1]
  if batch == 1 then
    body = one(n, string.format("%(prefix)s-%%d", math.random(0, %(spread)d)))
  end
  return wrk.format("POST", "/api/v1/signals", {
    ["Authorization"] = "Bearer %(token)s", ["Content-Type"] = "application/json"}, body)
end
"""


def run_wrk(
    port: int, token: str, *, batch: int, connections: int, seconds: float, workdir: Path
) -> dict[str, float]:
    """Drive the server with wrk for `seconds`; requests/s, non-2xx count and latencies."""
    script = workdir / f"wrk-{batch}.lua"
    spread = 19_999 if batch > 1 else 4_999
    prefix = "fp" if batch > 1 else "one"
    script.write_text(
        WRK_SCRIPT
        % {"batch": batch, "seed": batch, "prefix": prefix, "spread": spread, "token": token}
    )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    result: dict[str, float] = {"non_2xx": 0.0, "errors": 0.0}
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            result["requests_per_s"] = float(words[1])
        elif " requests in " in line:
            result["requests"] = float(words[0])
        elif line.startswith("  Non-2xx"):
            result["non_2xx"] = float(words[-1])
        elif line.startswith("  Socket errors"):
            result["errors"] = sum(float(w.strip(",")) for w in words[3::2])
        elif len(words) == 2 and words[0] in ("50%", "99%"):
            result[f"p{words[0][:-1]}_ms"] = _ms(words[1])
    if result["non_2xx"] or result["errors"]:
        raise RuntimeError(f"wrk saw failures:\n{out}")
    return result


def _ms(text_value: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text_value.endswith(unit):
            return float(text_value[: -len(unit)]) * factor
    return float(text_value)


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


def stored_signals(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM signals")).scalar_one())


def load(
    port: int, token: str, *, batch: int, connections: int, args: argparse.Namespace, workdir: Path
) -> dict[str, float]:
    """One throughput phase with wrk, or the asyncio client when wrk is missing."""
    if shutil.which("wrk") and not args.no_wrk:
        return run_wrk(
            port, token, batch=batch, connections=connections, seconds=args.seconds, workdir=workdir
        )
    rnd = random.Random(batch)
    count = args.batches if batch > 1 else args.singles
    prefix, spread = ("fp", 20_000) if batch > 1 else ("one", 5_000)
    reqs = []
    for r in range(count):
        sigs = [native(r * batch + i, f"{prefix}-{rnd.randrange(spread)}") for i in range(batch)]
        reqs.append(request_bytes(token, orjson.dumps({"signals": sigs} if batch > 1 else sigs[0])))
    wall, res = run_requests(port, reqs, connections, args.seconds)
    check(res)
    lat = [r[0] * 1000 for r in res]
    return {
        "requests_per_s": len(res) / wall,
        "requests": float(len(res)),
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
    }


def source_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes (a shared working tree)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{'+uncommitted' if dirty else ''}"


def bench_one(
    backend: str, size: int, workers: int, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    url, engine, cleanup = make_store(backend, workdir)
    try:
        token = seed(engine)
        fill_s = prefill(engine, size)
        proc, port = start_server(url, workers)
        loads = [os.getloadavg()[0]]
        try:
            # warm-up: the correlation index is built and the code paths are hot
            warm = [request_bytes(token, orjson.dumps(native(i, f"warm-{i}"))) for i in range(50)]
            check(run_requests(port, warm, 2)[1])

            before, cpu0 = stored_signals(engine), cpu_seconds(proc.pid)
            batched = load(port, token, batch=1000, connections=2, args=args, workdir=workdir)
            cpu1 = cpu_seconds(proc.pid)
            stored_batched = stored_signals(engine) - before
            loads.append(os.getloadavg()[0])

            before = stored_signals(engine)
            single = load(
                port, token, batch=1, connections=args.connections, args=args, workdir=workdir
            )
            cpu2 = cpu_seconds(proc.pid)
            stored_single = stored_signals(engine) - before
            loads.append(os.getloadavg()[0])

            crit = [
                request_bytes(token, orjson.dumps(native(i, f"crit-{i}", "critical")))
                for i in range(args.latency)
            ]
            _wall, res = run_requests(port, crit, 1)
            check(res)
            missing = sum(1 for _, _, body in res if not orjson.loads(body)["incidents"])
            lat = [r[0] * 1000 for r in res]
            loads.append(os.getloadavg()[0])
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        raw_rate = raw_executemany(engine, 40_000)
    finally:
        cleanup()
    batched_rate = batched["requests_per_s"] * 1000
    # Every answered request's signals must be in the store (requests cut off when the phase
    # ended may add a few more, never fewer).
    assert stored_batched >= batched["requests"] * 1000, (stored_batched, batched)
    assert stored_single >= single["requests"], (stored_single, single)
    return {
        "backend": backend,
        "workers": workers,
        "prefilled": size,
        "prefill_s": round(fill_s, 1),
        "batched_signals_per_s": round(batched_rate),
        "batched_cpu_us_per_signal": round((cpu1 - cpu0) / max(stored_batched, 1) * 1e6, 1),
        "single_requests_per_s": round(single["requests_per_s"]),
        "single_p50_ms": round(single.get("p50_ms", 0.0), 2),
        "single_p99_ms": round(single.get("p99_ms", 0.0), 2),
        "single_cpu_us_per_request": round((cpu2 - cpu1) / max(stored_single, 1) * 1e6),
        "incident_p50_ms": round(pct(lat, 0.50), 2),
        "incident_p99_ms": round(pct(lat, 0.99), 2),
        "incident_max_ms": round(max(lat), 2),
        # the opening probe: the first, which opens the candidate the load phases left held
        "incident_first_ms": round(lat[0], 2),
        "incident_missing": missing,
        "raw_executemany_per_s": round(raw_rate),
        "batched_vs_raw": round(batched_rate / raw_rate, 2),
        "load_avg": round(max(loads), 1),
        "source": source_state(),
    }


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--prefill", default="10000,100000,1000000")
    parser.add_argument("--workers", default="1", help="uvicorn workers, e.g. 1,2")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load phase")
    parser.add_argument("--connections", type=int, default=32, help="for single requests")
    parser.add_argument("--batches", type=int, default=200, help="without wrk: most batches")
    parser.add_argument("--singles", type=int, default=20000, help="without wrk: most singles")
    parser.add_argument("--latency", type=int, default=1000, help="critical signals, one at a time")
    parser.add_argument("--no-wrk", action="store_true", help="use the asyncio client")
    parser.add_argument("--quick", action="store_true", help="3-second phases, 100 latency probes")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.latency = 3.0, 100
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            for size in (int(s) for s in args.prefill.split(",")):
                for workers in (int(w) for w in args.workers.split(",")):
                    row = bench_one(backend, size, workers, args, Path(tmp))
                    results.append(row)
                    print(orjson.dumps(row).decode(), flush=True)
    print()
    print(
        "| store | workers | stored before | batched signals/s (CPU µs/signal) | single req/s"
        " (p50 / p99 ms, CPU µs/req) | receipt→incident p50 / p99 ms | raw executemany rows/s"
        " | batched / raw | load avg |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['backend']} | {r['workers']} | {r['prefilled']:,} |"
            f" {r['batched_signals_per_s']:,} ({r['batched_cpu_us_per_signal']}) |"
            f" {r['single_requests_per_s']:,} ({r['single_p50_ms']} / {r['single_p99_ms']},"
            f" {r['single_cpu_us_per_request']}) |"
            f" {r['incident_p50_ms']} / {r['incident_p99_ms']} |"
            f" {r['raw_executemany_per_s']:,} | {r['batched_vs_raw']} | {r['load_avg']} |"
        )
    if args.json:
        args.json.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
