"""Paging evidence: weights by hint and kind, coherence, flapping, breaches, the serve loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, select

from quell.config import apply_config, parse_config
from quell.detection.correlation import CorrelationIndex
from quell.detection.correlation_groups import DependencyGraph, SystemInfo
from quell.detection.pipeline import Correlator
from quell.detection.rules import CorrelationRules
from quell.incidents import service as incidents
from quell.ingest.models import Alert
from quell.ingest.native import native_signal
from quell.ingest.normalise import Context, Item
from quell.ingest.service import Envelope, known_systems, store_envelopes
from quell.ingest.signal import Signal
from quell.scheduler import Worker
from quell.store.db import session_scope

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
GRAPH = DependencyGraph({"scorer": set(), "agent": {"scorer"}, "chat": set(), "voice": set()})
SYSTEMS = {
    "scorer": SystemInfo("predictive", "critical"),
    "agent": SystemInfo("agent", "high"),
    "chat": SystemInfo("generative", "high"),
    "voice": SystemInfo("generative", "critical"),
}


def sig(system: str, kind: str, at: float, fp: str, **kw: Any) -> Signal:
    when = T0 + timedelta(seconds=at)
    summary = kw.pop("summary", f"{kind} on {system}")
    return Signal(source="native", kind=kind, summary=summary, system=system, fingerprint=fp,
                  occurred_at=when, received_at=when, **kw)  # fmt: skip


def index(**rules: Any) -> CorrelationIndex:
    ix = CorrelationIndex(CorrelationRules(**rules), GRAPH, dict(SYSTEMS))
    # The store-bound correlator's breach check, with the shipped severity rules.
    ix.configure(ix.rules, GRAPH, Correlator()._breach_check(ix))
    return ix


class Feed:
    """Routes signals with the alert bookkeeping intake does (one alert per firing fingerprint)."""

    def __init__(self, ix: CorrelationIndex) -> None:
        self.ix = ix
        self.open: dict[str, int] = {}
        self.next = 1

    def __call__(self, signal: Signal) -> Any:
        alert = self.open.get(signal.fingerprint)
        new = alert is None
        if signal.status == "resolved":
            self.open.pop(signal.fingerprint, None)
        elif alert is None:
            alert = self.open[signal.fingerprint] = self.next
            self.next += 1
        return self.ix.route(signal, alert or 0, new and signal.status == "firing")


def opened(ix: CorrelationIndex, at: float) -> list[str]:
    return [reason for _, reason in ix.due(T0 + timedelta(seconds=at))]


def test_a_lone_critical_finding_pages_and_a_canary_needs_no_company() -> None:
    ix = index()
    feed = Feed(ix)
    feed(sig("chat", "pii", 0, "p1", severity_hint="critical", archetype_hint="data_exfiltration"))
    assert opened(ix, 0) == ["a critical signal pages at once (page_immediately)"]
    ix2 = index()
    Feed(ix2)(sig("chat", "canary", 0, "c1", severity_hint="high"))
    assert opened(ix2, 10) == []  # still inside group_wait
    reasons = opened(ix2, 31)
    assert len(reasons) == 1 and "weighing 4.5" in reasons[0]  # high 1.5 x canary 3


def test_scattered_info_noise_does_not_page() -> None:
    ix = index()
    feed = Feed(ix)
    groups = {
        feed(sig("chat", kind, at, f"n{at}", severity_hint="info")).group.gid
        for at, kind in ((0, "cost"), (40, "user_report"), (80, "latency"), (120, "latency"))
    }
    assert len(groups) == 3  # cost and complaints stay out of the latency candidate
    assert all(opened(ix, t) == [] for t in (31, 90, 150, 400))
    # Three warnings of one kind on one system do add up.
    ix2 = index()
    feed2 = Feed(ix2)
    for at in (500, 510, 520):
        feed2(sig("chat", "error_rate", at, f"e{at}", severity_hint="warning"))
    assert len(opened(ix2, 551)) == 1


def test_noise_does_not_swallow_a_later_incident() -> None:
    ix = index()
    feed = Feed(ix)
    blip = feed(sig("chat", "cost", 0, "cost-1", severity_hint="warning")).group
    finding = {"severity_hint": "high", "archetype_hint": "prompt_injection"}
    attack = [
        feed(sig("chat", "prompt_injection", 60 + 10 * i, f"inj-{i}", **finding)).group
        for i in range(3)
    ]
    assert attack[0] is attack[1] is attack[2] and attack[0] is not blip
    assert {k for k in attack[0].kinds} == {"prompt_injection"}
    # A leak from the same attack joins it: injection and exfiltration are related archetypes.
    leak = feed(sig("chat", "pii", 95, "pii-1", severity_hint="high",
                    archetype_hint="data_exfiltration")).group  # fmt: skip
    assert leak is attack[0]
    due = ix.due(T0 + timedelta(seconds=100))
    assert [g for g, _ in due] == [attack[0]]  # the blip stays held, alone, and never pages
    # An open incident does not take an unrelated complaint on its own system either.
    ix.mark_open(attack[0], 1)
    later = feed(sig("chat", "user_report", 130, "u1", severity_hint="warning"))
    assert later.group is not attack[0] and "unrelated" in later.reason


def test_flapping_counts_once_and_resolved_alerts_do_not_count() -> None:
    ix = index()
    feed = Feed(ix)
    for cycle in range(6):  # one alert firing and resolving again and again
        at = cycle * 20
        feed(sig("chat", "latency", at, "flappy", severity_hint="warning"))
        feed(sig("chat", "latency", at + 10, "flappy", status="resolved"))
    feed(sig("chat", "latency", 125, "flappy", severity_hint="warning"))
    group = ix.groups[1]
    assert group.alert_count == 7 and group.evidence_weight() == 1.0
    assert opened(ix, 130) == []
    # Three different alerts that all cleared before the wait was over do not page either.
    ix2 = index()
    feed2 = Feed(ix2)
    for n in range(3):
        feed2(sig("scorer", "drift", n, f"d{n}", severity_hint="warning"))
    for n in range(3):
        feed2(sig("scorer", "drift", 10 + n, f"d{n}", status="resolved"))
    assert opened(ix2, 40) == []


def test_a_breached_slo_pages_with_one_alert() -> None:
    ix = index()
    feed = Feed(ix)
    feed(sig("voice", "latency", 0, "v1", severity_hint="high", metrics={"p90_latency_s": 8.2}))
    reasons = opened(ix, 31)
    assert len(reasons) == 1 and "voice-sev2" in reasons[0] and "p90_latency_s > 7" in reasons[0]
    below = index()
    Feed(below)(sig("voice", "latency", 0, "v2", severity_hint="high",
                    metrics={"p90_latency_s": 5.0}))  # fmt: skip
    assert opened(below, 31) == []
    off = index(page_on_breach=None)
    Feed(off)(sig("voice", "latency", 0, "v3", severity_hint="high",
                  metrics={"p90_latency_s": 8.2}))  # fmt: skip
    assert opened(off, 31) == []


def test_weights_and_coherence_come_from_quell_yaml() -> None:
    rules = CorrelationRules.model_validate(
        {"kind_weights": {"cost": 3}, "hint_weights": {"info": 1}, "min_signals": 2.5}
    )
    assert rules.kind_weights["cost"] == 3 and rules.kind_weights["canary"] == 3.0
    assert rules.hint_weights["info"] == 1 and rules.hint_weights["high"] == 1.5
    ix = CorrelationIndex(rules, GRAPH, dict(SYSTEMS))
    Feed(ix)(sig("chat", "cost", 0, "c", severity_hint="info"))
    assert len(opened(ix, 31)) == 1  # weighed 3 against min_signals 2.5


def test_the_serve_worker_opens_a_held_candidate_without_further_signals(db: Engine) -> None:
    Correlator.forget(db)
    with session_scope(db) as s:
        config, extras = parse_config(
            {"systems": [{"name": "scorer", "kind": "predictive"}],
             "correlation": {"min_signals": 2, "group_wait": "30s"}}
        )  # fmt: skip
        apply_config(s, config, extras)
    # Two warnings received a minute ago (wall clock): held, since nothing flushed since.
    start = datetime.now(UTC) - timedelta(seconds=60)
    for n in range(2):
        raw = {"system": "scorer", "kind": "drift", "summary": f"PSI {n}", "severity": "warning",
               "fingerprint": f"drift-{n}"}  # fmt: skip
        when = start + timedelta(seconds=n)
        with session_scope(db) as s:
            signal = native_signal(raw, Context(received_at=when, known_systems=known_systems(s)))
            envelope = Envelope("native", orjson.dumps(raw).decode(), "t", when, [Item(signal, "")])
            result = store_envelopes(s, [envelope], Correlator.for_engine(db))
        assert [o.action for o in result.outcomes] == ["held"]
    Correlator.forget(db)  # as after a restart: the worker rebuilds the index from the store
    Worker(db).tick()  # one round of the serve process's scheduler, periodic tasks included
    with session_scope(db) as s:
        found = incidents.list_incidents(s)
        assert len(found) == 1 and found[0].source == "correlation"
        linked = {a.incident_id for a in s.scalars(select(Alert))}
    assert linked == {found[0].id}
