"""How the SDK reports without making its host wait: a bounded queue drained by a daemon thread
into a batch sender (a quell server over HTTP, a local JSONL file, or a quell database through
intake). Used by ``quell.Monitor`` and ``quell.guard``."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quell.sdk_errors import SDKConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("quell.sdk")  # one logger for the whole SDK


class BackgroundSender:
    """A bounded queue drained in batches by one daemon thread; ``put`` never blocks."""

    def __init__(
        self,
        send_batch: Callable[[list[dict[str, Any]]], None],
        *,
        max_queue: int = 10_000,
        batch_size: int = 100,
        flush_interval_s: float = 1.0,
        name: str = "quell-sender",
    ) -> None:
        if max_queue < 1 or batch_size < 1:
            raise SDKConfigError("max_queue and batch_size must be at least 1")
        self._send_batch = send_batch
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.counts = {"queued": 0, "sent": 0, "dropped": 0, "send_failures": 0}
        self.last_error: str | None = None  # the most recent sending problem, for diagnosis

    def _count(self, key: str, n: int = 1) -> None:
        with self._count_lock:
            self.counts[key] += n

    def put(self, item: dict[str, Any]) -> bool:
        """Queue one item; when the buffer is full the item is dropped and counted."""
        if self._stop.is_set():
            self._count("dropped")
            return False
        self._ensure_thread()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._count("dropped")
            return False
        self._count("queued")
        return True

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                first = self._queue.get(timeout=self._interval)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._send_batch(batch)
                self._count("sent", len(batch))
            except Exception as exc:  # reporting must never take the host down
                self._count("send_failures")
                self._count("dropped", len(batch))
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.debug("quell: could not send %d item(s): %s", len(batch), exc)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait (at most ``timeout_s``) until everything queued was sent or dropped."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline or self._thread is None:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued (at most ``timeout_s``), then stop the thread."""
        self.flush(timeout_s)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(0.1, timeout_s))


def http_poster(
    url: str, token: str | None, path: str, *, timeout_s: float, wrap: str | None
) -> Callable[[list[dict[str, Any]]], None]:
    """A batch sender that POSTs JSON to a quell server (one client, reused)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)

    def send(batch: list[dict[str, Any]]) -> None:
        if wrap is None:
            for item in batch:
                client.post(path, json=item).raise_for_status()
        else:
            client.post(path, json={wrap: batch}).raise_for_status()

    return send


def jsonl_writer(path: Path) -> Callable[[list[dict[str, Any]]], None]:
    """A batch sender that appends one signal per line to a local file."""
    lock = threading.Lock()

    def send(batch: list[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(item, default=str) + "\n" for item in batch)
        with lock, path.open("a", encoding="utf-8") as out:
            out.write(lines)

    return send


def store_native_signals(
    engine: Engine, signals: list[dict[str, Any]], *, received_by: str = "sdk"
) -> list[int]:
    """Store native signal dicts in a quell database through intake (dedup and correlation)."""
    from quell.ingest import service as ingest
    from quell.ingest.native import parse_native
    from quell.ingest.normalise import Context
    from quell.timeutil import utcnow

    body = {"signals": signals}
    text = json.dumps(body, default=str)

    def build(session: Any) -> tuple[None, list[Any]]:
        now = utcnow()
        ctx = Context(now, ingest.known_systems(session))
        items = parse_native(body, ctx, max_batch=max(1, len(signals)))
        return None, [ingest.Envelope("native", text, received_by, now, items)]

    _, result = ingest.receive(engine, build)
    return list(result.signal_ids)


def store_writer(url: str) -> Callable[[list[dict[str, Any]]], None]:
    """A batch sender into a quell store named by its database URL (migrated first)."""
    from quell.store.db import get_engine, upgrade

    engine = get_engine(url)
    upgrade(engine)

    def send(batch: list[dict[str, Any]]) -> None:
        store_native_signals(engine, batch, received_by="sdk")

    return send
