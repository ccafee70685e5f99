"""Scheduler throughput: how many durable jobs per second `run_due` claims and runs, with one
worker and with four concurrent workers, on SQLite and PostgreSQL.

    .venv/bin/python bench/scheduler.py                      # SQLite in a temp dir
    .venv/bin/python bench/scheduler.py --postgres postgresql://postgres@127.0.0.1:5432/test

Each job's handler does one small write (like an escalation timer that finds the incident
acknowledged), so the figure is the scheduler's own cost: claim, per-job transaction, done mark.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

import quell.models  # noqa: F401  (registers every table)
from quell import scheduler
from quell.store.db import _sqlite_pragmas, session_scope, upgrade
from quell.timeutil import utcnow


def _touch(session: Session, payload: dict[str, Any]) -> None:
    session.execute(text("SELECT 1"))


scheduler.register("bench.touch", _touch)


def _engine(postgres: str | None, tmp: Path) -> tuple[Engine, str | None]:
    if not postgres:
        engine = create_engine(
            f"sqlite:///{tmp / 'bench.db'}",
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine, None
    schema = f"quell_bench_{uuid.uuid4().hex[:8]}"
    url = postgres.replace("postgresql://", "postgresql+psycopg://", 1)
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=10)
    return engine, schema


def _fill(engine: Engine, n: int) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        for i in range(n):
            scheduler.schedule(s, "bench.touch", now, {"n": i})


def _run(engine: Engine, workers: int) -> float:
    start = time.perf_counter()

    def work() -> None:
        while scheduler.run_due(engine, limit=50):
            pass

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine, schema = _engine(args.postgres, Path(tmp))
        upgrade(engine)
        backend = engine.dialect.name
        for workers in (1, 4):
            _fill(engine, args.jobs)
            seconds = _run(engine, workers)
            with engine.connect() as conn:
                left = conn.execute(
                    text("SELECT count(*) FROM scheduled_jobs WHERE status != 'done'")
                ).scalar()
            print(
                f"{backend}: {args.jobs} jobs, {workers} worker(s): {seconds:.2f} s, "
                f"{args.jobs / seconds:.0f} jobs/s, not done: {left}"
            )
        engine.dispose()
        if schema and args.postgres:
            url = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
            with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
