"""Group commit and the token cache, on SQLite and PostgreSQL, through a real HTTP server.

Concurrent single-signal requests share transactions; each must be answered 2xx only after
the commit that holds it (checked from a second connection the moment the answer arrives),
stored exactly once, and a bad or failing request must not cost the others their signals.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import DBAPIError

from quell.api.app import create_app
from quell.auth.models import ApiToken
from quell.auth.service import create_token, revoke_token
from quell.config import apply_config, load_config, parse_config
from quell.ingest import tokens as token_cache
from quell.ingest.committer import Committer
from quell.ingest.native import parse_native
from quell.ingest.normalise import Context
from quell.ingest.service import Envelope, IngestResult, write_lock
from quell.settings import Settings
from quell.store.db import session_scope
from quell.timeutil import utcnow
from tests.conftest import auth


@pytest.fixture()
def inventory(db: Engine, demo_yaml: Path) -> None:
    from quell.detection.pipeline import Correlator

    Correlator.forget(db)
    config, extras = load_config(demo_yaml)
    with session_scope(db) as s:
        apply_config(s, config, extras)


@contextmanager
def live_server(engine: Engine) -> Iterator[str]:
    """quell's app under uvicorn on a free 127.0.0.1 port, in a thread of this process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(Settings(database_url="sqlite://", scheduler=False), engine=engine)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def stored(engine: Engine, signal_ids: list[int]) -> int:
    """How many of `signal_ids` a fresh connection sees (committed rows only)."""
    with engine.connect() as conn:
        ids = ", ".join(str(int(i)) for i in signal_ids)
        return int(
            conn.execute(text(f"SELECT count(*) FROM signals WHERE id IN ({ids})")).scalar() or 0
        )


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def sig(n: int, **over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "latency",
        "summary": f"p90 up #{n}",
        "system": "chat",
        "fingerprint": f"gc-{n % 7}",
    }
    body.update(over)
    return body


def test_concurrent_single_requests_are_each_committed_before_their_answer(
    db: Engine, tokens: dict[str, str], inventory: None
) -> None:
    requests = 120
    seen_at_answer: list[tuple[int, int]] = []  # (signal id, rows a second connection saw)

    def send(client: httpx.Client, base: str, n: int) -> int:
        answer = client.post(
            f"{base}/api/v1/signals", json=sig(n), headers=auth(tokens["reporter"])
        )
        assert answer.status_code == 202, answer.text
        (signal_id,) = answer.json()["signals"]
        # Right after the answer, from another connection: the signal is there, committed.
        seen_at_answer.append((signal_id, stored(db, [signal_id])))
        return signal_id

    with (
        live_server(db) as base,
        httpx.Client(timeout=60) as client,
        ThreadPoolExecutor(max_workers=24) as pool,
    ):
        ids = list(pool.map(lambda n: send(client, base, n), range(requests)))

    assert all(seen == 1 for _, seen in seen_at_answer)
    assert len(set(ids)) == requests  # one signal per request, none shared or lost
    assert count(db, "SELECT count(*) FROM signals") == requests
    assert count(db, "SELECT count(*) FROM payloads") == requests
    summaries = count(db, "SELECT count(DISTINCT summary) FROM signals")
    assert summaries == requests  # each request's signal stored exactly once
    # Seven fingerprints: repeats counted on their open alert, whatever the grouping was.
    assert count(db, "SELECT count(*) FROM alerts") == 7
    assert count(db, "SELECT sum(count) FROM alerts") == requests


def test_a_bad_request_among_concurrent_good_ones_gets_its_4xx_alone(
    db: Engine, tokens: dict[str, str], inventory: None
) -> None:
    bodies: list[dict[str, object]] = [sig(n) for n in range(40)]
    bodies[17] = sig(17, severity="sevre")  # refused by validation, before the writer
    bodies[29] = sig(29, kind="")
    with (
        live_server(db) as base,
        httpx.Client(timeout=60) as client,
        ThreadPoolExecutor(max_workers=16) as pool,
    ):
        answers = list(
            pool.map(
                lambda b: client.post(
                    f"{base}/api/v1/signals", json=b, headers=auth(tokens["reporter"])
                ),
                bodies,
            )
        )
    assert answers[17].status_code == 422 and answers[17].json()["field"] == "severity"
    assert answers[29].status_code == 422 and answers[29].json()["field"] == "kind"
    good = [a for i, a in enumerate(answers) if i not in (17, 29)]
    assert all(a.status_code == 202 for a in good)
    assert stored(db, [a.json()["signals"][0] for a in good]) == 38
    assert count(db, "SELECT count(*) FROM payloads") == 38  # nothing of the bad two


@contextmanager
def poison_trigger(db: Engine) -> Iterator[None]:
    """A real database failure for one signal: a trigger refuses the summary 'poison'."""
    with db.begin() as conn:
        if db.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.summary = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON signals "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON signals "
                    "WHEN NEW.summary = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
                )
            )
    try:
        yield
    finally:
        with db.begin() as conn:
            conn.execute(
                text(
                    "DROP TRIGGER refuse_poison"
                    + (" ON signals" if db.dialect.name == "postgresql" else "")
                )
            )
            if db.dialect.name == "postgresql":
                conn.execute(text("DROP FUNCTION refuse_poison()"))


def envelope(n: int, summary: str | None = None) -> Envelope:
    now = utcnow()
    body: dict[str, Any] = {"kind": "latency", "summary": summary or f"queued #{n}"}
    items = parse_native(body, Context(now, frozenset()), max_batch=10)
    return Envelope("native", "{}", "test", now, items)


def test_queued_requests_share_a_transaction_and_a_failing_one_does_not_sink_them(
    db: Engine, inventory: None
) -> None:
    committer = Committer.for_engine(db)
    before = committer.transactions
    futures: list[Future[IngestResult]] = []
    with poison_trigger(db):
        # Holding the write lock keeps the writer from committing while requests queue up,
        # as they do behind a long transaction.
        with write_lock(db):
            for n in range(10):
                futures.append(committer.submit(envelope(n, "poison" if n == 6 else None)))
        results: list[IngestResult | BaseException] = []
        for future in futures:
            try:
                results.append(future.result(timeout=60))
            except DBAPIError as exc:
                results.append(exc)
    assert isinstance(results[6], DBAPIError) and "poisoned" in str(results[6])
    good = [r for r in results if isinstance(r, IngestResult)]
    assert len(good) == 9
    assert stored(db, [r.signal_ids[0] for r in good]) == 9
    assert count(db, "SELECT count(*) FROM payloads") == 9  # the failing one left nothing
    # The nine were stored on their own after their shared transaction failed; without the
    # poison the queue is committed in at most two transactions (the first request may be
    # taken alone before the others arrive).
    before = committer.transactions
    with write_lock(db):
        futures = [committer.submit(envelope(n)) for n in range(20, 30)]
    assert all(len(f.result(timeout=60).signal_ids) == 1 for f in futures)
    assert committer.transactions - before <= 2


def test_a_failing_request_over_http_gets_a_5xx_and_the_others_are_stored(
    db: Engine, tokens: dict[str, str], inventory: None
) -> None:
    bodies = [sig(n) for n in range(24)]
    bodies[5] = sig(5, summary="poison")
    with (
        poison_trigger(db),
        live_server(db) as base,
        httpx.Client(timeout=60) as client,
        ThreadPoolExecutor(max_workers=12) as pool,
    ):
        answers = list(
            pool.map(
                lambda b: client.post(
                    f"{base}/api/v1/signals", json=b, headers=auth(tokens["reporter"])
                ),
                bodies,
            )
        )
    assert answers[5].status_code == 503
    assert answers[5].json()["error"] == "not_stored"
    good = [a for i, a in enumerate(answers) if i != 5]
    assert all(a.status_code == 202 for a in good)
    assert stored(db, [a.json()["signals"][0] for a in good]) == 23
    assert count(db, "SELECT count(*) FROM signals WHERE summary = 'poison'") == 0


def test_systems_added_after_the_writer_read_the_inventory_are_mapped(
    db: Engine, tokens: dict[str, str], inventory: None
) -> None:
    with live_server(db) as base, httpx.Client(timeout=60) as client:
        url, h = f"{base}/api/v1/signals", auth(tokens["reporter"])
        first = client.post(url, json=sig(1, system="ledger"), headers=h)
        assert first.json()["unmapped"] == 1
        config, extras = parse_config({"systems": [{"name": "ledger", "kind": "predictive"}]})
        with session_scope(db) as s:
            apply_config(s, config, extras)
        # The request maps with the names the writer saw last; the writer maps it again.
        second = client.post(url, json=sig(2, system="ledger"), headers=h)
        assert second.json()["unmapped"] == 0
    with db.connect() as conn:
        systems = conn.execute(text("SELECT system FROM signals ORDER BY id")).scalars().all()
    assert systems == [None, "ledger"]


# --- the token cache ------------------------------------------------------------------------


def test_a_token_revoked_through_quell_is_refused_at_once(
    app_client: Any, db: Engine, inventory: None
) -> None:
    with session_scope(db) as s:
        token, row = create_token(s, name="am", role="reporter")
        token_id = row.id
    h = auth(token)
    assert app_client.post("/api/v1/signals", json=sig(1), headers=h).status_code == 202
    assert token_cache.cached(db, token) is not None  # remembered after the first request
    with session_scope(db) as s:
        revoke_token(s, token_id)
    answer = app_client.post("/api/v1/signals", json=sig(2), headers=h)
    assert answer.status_code == 401
    assert count(db, "SELECT count(*) FROM signals") == 1


def test_a_token_revoked_by_another_process_is_refused_once_its_entry_expires(
    app_client: Any, db: Engine, inventory: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(db) as s:
        token, _row = create_token(s, name="am", role="reporter")
    h = auth(token)
    assert app_client.post("/api/v1/signals", json=sig(1), headers=h).status_code == 202

    def revoke_elsewhere() -> None:
        # What `quell token revoke` in another process does: this process hears nothing.
        with db.begin() as conn:
            conn.execute(update(ApiToken).where(ApiToken.name == "am").values(revoked_at=utcnow()))

    revoke_elsewhere()
    # Within the cache's lifetime the cached entry still answers (the documented window)...
    assert app_client.post("/api/v1/signals", json=sig(2), headers=h).status_code == 202
    # ...and once it expired the store is asked again and the token is refused.
    later = time.monotonic() + token_cache.TOKEN_TTL_S + 1
    monkeypatch.setattr(token_cache, "_clock", lambda: later)
    assert app_client.post("/api/v1/signals", json=sig(3), headers=h).status_code == 401


def test_unknown_tokens_are_not_cached_so_a_new_token_works_at_once(
    app_client: Any, db: Engine, inventory: None
) -> None:
    bogus = "qk_" + "x" * 40
    assert app_client.post("/api/v1/signals", json=sig(1), headers=auth(bogus)).status_code == 401
    assert token_cache.cached(db, bogus) is None
    with session_scope(db) as s:
        token, _ = create_token(s, name="new", role="reporter")
    assert app_client.post("/api/v1/signals", json=sig(2), headers=auth(token)).status_code == 202
    viewer_only = app_client.post("/api/v1/signals", json=sig(3), headers=auth(_viewer(db)))
    assert viewer_only.status_code == 403  # cached or not, the role is checked every time


def _viewer(db: Engine) -> str:
    with session_scope(db) as s:
        token, _ = create_token(s, name="eye", role="viewer")
    return token


def test_many_row_statements_keep_each_signal_on_its_alert(
    app_client: Any, db: Engine, tokens: dict[str, str], inventory: None
) -> None:
    """The one-statement many-row paths: ids, alert links, counts and resolves line up."""
    h = auth(tokens["reporter"])
    first = app_client.post(
        "/api/v1/signals", json=[sig(n, fingerprint=f"m-{n}") for n in range(5)], headers=h
    )
    assert first.status_code == 202 and first.json()["alerts"]["new"] == 5
    batch = [sig(10 + n, fingerprint=f"m-{n % 5}") for n in range(15)]  # 3 repeats of each
    batch += [sig(30, fingerprint="m-new-a"), sig(31, fingerprint="m-new-b")]
    batch += [sig(32, fingerprint="m-4", status="resolved")]
    second = app_client.post("/api/v1/signals", json={"signals": batch}, headers=h)
    body = second.json()
    assert second.status_code == 202, second.text
    assert body["alerts"] == {"new": 2, "deduplicated": 15, "resolved": 1, "unmatched": 0}
    ids = body["signals"]
    assert len(set(ids)) == len(batch) and min(ids) > max(first.json()["signals"])
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.id, s.summary, a.fingerprint FROM signals s JOIN alerts a"
                " ON a.id = s.alert_id"
            )
        ).all()
        alerts = {
            fp: (n, status)
            for fp, n, status in conn.execute(text("SELECT fingerprint, count, status FROM alerts"))
        }
    landed = {summary: fp for _id, summary, fp in rows}
    for item in batch:  # every signal sits on the alert of its own fingerprint
        assert landed[item["summary"]] == item["fingerprint"]
    by_id = {signal_id: summary for signal_id, summary, _fp in rows}
    assert [by_id[i] for i in ids] == [item["summary"] for item in batch]  # ids in body order
    assert alerts["m-0"] == (4, "firing") and alerts["m-3"] == (4, "firing")
    assert alerts["m-4"] == (4, "resolved")
    assert alerts["m-new-a"] == (1, "firing")
