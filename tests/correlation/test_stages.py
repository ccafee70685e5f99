"""The pure correlation stages, with plain signals in and decisions out (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from quell.detection.classify import classify
from quell.detection.correlation import CorrelationIndex
from quell.detection.correlation_groups import DependencyGraph, Group
from quell.detection.rules import CorrelationRules, SeverityPolicies
from quell.detection.severity import DEFAULT_RULES, Impact, evaluate
from quell.ingest.signal import Signal

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
GRAPH = DependencyGraph({"scorer": set(), "agent": {"scorer"}, "chat": {"agent"}, "other": set()})


def sig(system: str | None, kind: str = "error_rate", at: float = 0.0, **kw: Any) -> Signal:
    when = T0 + timedelta(seconds=at)
    return Signal(
        source="native", kind=kind, summary=kw.pop("summary", f"{kind} on {system}"),
        system=system, fingerprint=kw.pop("fingerprint", f"{system}-{kind}-{at}"),
        occurred_at=when, received_at=when, **kw,
    )  # fmt: skip


def index(**rules: Any) -> CorrelationIndex:
    return CorrelationIndex(CorrelationRules(**rules), GRAPH)


def open_group(ix: CorrelationIndex, group: Group, incident_id: int) -> None:
    ix.mark_open(group, incident_id)


def test_same_system_signals_group_and_wait_for_min_signals() -> None:
    ix = index(min_signals=3, group_wait=30)
    decisions = [
        ix.route(sig("chat", at=t), alert_id=i, new_alert=True) for i, t in enumerate((0, 5, 10))
    ]
    assert {d.group.gid for d in decisions if d.group} == {1}
    assert all(d.action == "held" for d in decisions)
    assert ix.due(T0 + timedelta(seconds=20)) == []  # group_wait not over yet
    due = ix.due(T0 + timedelta(seconds=31))
    assert [g.gid for g, _ in due] == [1] and "min_signals 3" in due[0][1]


def test_a_lone_signal_never_pages_and_expires_after_the_window() -> None:
    ix = index(min_signals=2, window=60)
    ix.route(sig("chat"), alert_id=1, new_alert=True)
    assert ix.due(T0 + timedelta(seconds=45)) == []
    assert ix.due(T0 + timedelta(seconds=61)) == [] and ix.groups == {}


def test_critical_hint_pages_without_waiting() -> None:
    ix = index(min_signals=5)
    ix.route(sig("chat", severity_hint="critical"), alert_id=1, new_alert=True)
    assert [reason for _, reason in ix.due(T0)] == [
        "a critical signal pages at once (page_immediately)"
    ]


def test_downstream_symptom_joins_the_upstream_incident() -> None:
    ix = index()
    first = ix.route(sig("scorer", "drift"), alert_id=1, new_alert=True)
    assert first.group is not None
    open_group(ix, first.group, 7)
    later = ix.route(sig("chat", "latency", at=60), alert_id=2, new_alert=True)
    assert later.action == "attached" and later.group is first.group
    assert "cascade: chat depends on" in later.reason
    unrelated = ix.route(sig("other", "latency", at=61), alert_id=3, new_alert=True)
    assert unrelated.group is not first.group


def test_without_follow_dependencies_cascades_split() -> None:
    ix = index(follow_dependencies=False)
    first = ix.route(sig("scorer"), alert_id=1, new_alert=True)
    second = ix.route(sig("chat", at=5), alert_id=2, new_alert=True)
    assert first.group is not second.group


def test_a_slow_trickle_cannot_keep_an_incident_open_forever() -> None:
    ix = index(window=300, max_age=900)
    d = ix.route(sig("chat"), alert_id=1, new_alert=True)
    assert d.group is not None
    open_group(ix, d.group, 3)
    at, alert = 0.0, 2
    while at < 900:
        at += 240  # always inside the window
        last = ix.route(sig("chat", at=at), alert_id=alert, new_alert=True)
        alert += 1
    assert last.group is not d.group  # past max_age: a new candidate ...
    assert last.group is not None and last.group.previous_incident == 3  # ... linked to the old


def test_reopen_within_the_limit_else_new_incident_linked() -> None:
    ix = index(reopen_within=600)
    d = ix.route(sig("chat"), alert_id=1, new_alert=True)
    assert d.group is not None
    open_group(ix, d.group, 4)
    ix.mark_resolved(4, T0 + timedelta(seconds=100), closed=False)
    soon = ix.route(sig("chat", at=400), alert_id=2, new_alert=True)
    assert (
        soon.action == "reopened" and soon.group is d.group and "reopened incident 4" in soon.reason
    )
    ix.mark_resolved(4, T0 + timedelta(seconds=500), closed=False)
    late = ix.route(sig("chat", at=2000), alert_id=3, new_alert=True)
    assert late.action == "held" and late.group is not d.group
    assert late.group is not None and late.group.previous_incident == 4
    assert "recurrence of incident 4" in late.reason


def test_a_closed_incident_is_never_reopened() -> None:
    ix = index(reopen_within=600)
    d = ix.route(sig("chat"), alert_id=1, new_alert=True)
    assert d.group is not None
    open_group(ix, d.group, 4)
    ix.mark_resolved(4, T0 + timedelta(seconds=10), closed=True)
    again = ix.route(sig("chat", at=60), alert_id=2, new_alert=True)
    assert again.action == "held" and again.group is not d.group


def test_different_archetypes_on_one_system_stay_apart() -> None:
    ix = index()
    inj = ix.route(sig("chat", "prompt_injection"), alert_id=1, new_alert=True)
    tox = ix.route(sig("chat", "toxicity", at=5), alert_id=2, new_alert=True)
    lat = ix.route(sig("chat", "latency", at=6), alert_id=3, new_alert=True)
    assert inj.group is not tox.group
    # A latency symptom names no cause and shares no family with detector findings: it waits
    # in its own candidate rather than padding an attack's evidence.
    assert lat.group not in (inj.group, tox.group) and "unrelated" in lat.reason
    loose = index(require_coherence=False)
    first = loose.route(sig("chat", "prompt_injection"), alert_id=1, new_alert=True)
    joined = loose.route(sig("chat", "latency", at=6), alert_id=3, new_alert=True)
    assert joined.group is first.group  # without coherence an unclassified symptom joins


def test_duplicates_count_but_do_not_regroup_and_resolves_leave_incidents_alone() -> None:
    ix = index()
    d = ix.route(sig("chat", metrics={"p90_latency_s": 4.0}), alert_id=1, new_alert=True)
    dup = ix.route(sig("chat", at=10, metrics={"p90_latency_s": 16.0}), alert_id=1, new_alert=False)
    assert dup.action == "duplicate" and dup.group is d.group
    assert d.group is not None and d.group.signal_count == 2 and d.group.alert_count == 1
    assert d.group.metrics_max["p90_latency_s"] == 16.0
    res = ix.route(sig("chat", at=20, status="resolved"), alert_id=1, new_alert=False)
    assert res.action == "resolved_alert" and d.group.status == "held"


def test_unmapped_and_change_signals_are_not_grouped() -> None:
    ix = index()
    assert ix.route(sig(None), alert_id=1, new_alert=True).action == "unmapped"
    assert ix.route(sig("chat", "change"), alert_id=2, new_alert=True).action == "not_correlated"
    assert ix.groups == {}


def test_classifier_says_unclassified_rather_than_guess() -> None:
    assert classify([sig("chat", "latency")]).archetype == "unclassified"
    weak = classify([sig("chat", "alert", summary="answers look hallucinated")])
    assert weak.archetype == "unclassified" and weak.confidence > 0
    assert classify([sig("chat", "pii"), sig("chat", "canary")]).archetype == "data_exfiltration"
    hinted = classify([sig("chat", "alert", archetype_hint="agentic_misalignment")])
    assert hinted.archetype == "agentic_misalignment"
    torn = classify([sig("chat", "toxicity"), sig("chat", "prompt_injection")])
    assert torn.archetype == "unclassified"


def test_voice_agent_defaults_follow_the_playbook() -> None:
    def sev(**metrics: float) -> str:
        impact = Impact(systems={"voice"}, metrics_max=metrics, metrics_min=metrics)
        return evaluate(DEFAULT_RULES, impact).severity

    assert sev(p90_latency_s=16) == "SEV-1"
    assert sev(task_completion=0.05) == "SEV-1"
    assert sev(p90_latency_s=8) == "SEV-2"
    assert sev(task_completion=0.4) == "SEV-2"
    assert sev(p90_latency_s=6, task_completion=0.9) == "SEV-4"


def test_severity_policy_language_and_its_errors() -> None:
    policies = SeverityPolicies.model_validate(
        {"include_defaults": False, "default": "SEV-3",
         "rules": [{"name": "big", "severity": "SEV-1",
                    "all": ["criticality >= high", "systems_affected >= 2"]}]}
    )  # fmt: skip
    rules = policies.effective_rules()
    assert evaluate(rules, Impact(systems={"a", "b"}, criticality="high")).rule == "big"
    assert evaluate(rules, Impact(systems={"a"}, criticality="high"), "SEV-3").rule == "default"
    for bad in ("criticality >= huge", "p90 ~ 3", "archetype > x", "latency > fast"):
        with pytest.raises(ValidationError) as err:
            SeverityPolicies.model_validate(
                {"rules": [{"name": "r", "severity": "SEV-2", "all": [bad]}]}
            )
        assert "condition" in str(err.value)


def test_correlation_rules_validate_durations_and_keys() -> None:
    assert CorrelationRules.model_validate({"window": "2m", "max_age": "1h"}).window == 120
    for bad in ({"window": "soon"}, {"group_by": ["colour"]}, {"window": "2h", "max_age": "1h"}):
        with pytest.raises(ValidationError):
            CorrelationRules.model_validate(bad)
