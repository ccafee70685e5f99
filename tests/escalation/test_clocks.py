"""Regulatory clocks: GDPR from the personal-data gate, the EU AI Act by case, overdue, anchor
edits (never in the future), filings, reminders, and the not-legal-advice statement."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from quell import scheduler
from quell.compliance import clocks
from quell.compliance.models import ClockAnchor
from quell.errors import Conflict, InvalidInput
from quell.incidents.service import create_incident
from quell.incidents.timeline import append_event, events
from quell.inventory.schemas import SystemIn
from quell.inventory.service import upsert_system
from quell.store.db import session_scope
from quell.timeutil import utcnow
from tests.conftest import auth


def _systems(db: Engine) -> None:
    with session_scope(db) as s:
        upsert_system(s, SystemIn(name="chat", kind="generative", regimes=["gdpr_art33"]))
        upsert_system(
            s,
            SystemIn(
                name="scorer",
                kind="predictive",
                regimes=["eu_ai_act_art73", "gdpr_art33", "nis2_art23"],
            ),
        )
        upsert_system(s, SystemIn(name="plain", kind="generative"))


def _clock(view: dict[str, Any], regime: str, stage: str) -> dict[str, Any]:
    [found] = [c for c in view["clocks"] if c["regime"] == regime and c["stage"] == stage]
    return found


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_gdpr_starts_when_the_gate_says_personal_data_was_exposed(
    db: Engine, app_client: TestClient, tokens: dict[str, str]
) -> None:
    _systems(db)
    with session_scope(db) as s:
        iid = create_incident(s, actor="rui", title="leak", severity="SEV-2", systems=["chat"]).id
    view = app_client.get(f"/api/v1/incidents/{iid}/clocks", headers=auth(tokens["viewer"])).json()
    assert view["clocks"] == [] and view["regimes"] == ["gdpr_art33"]
    assert "not legal advice" in view["disclaimer"]

    r = app_client.post(
        f"/api/v1/incidents/{iid}/gates/personal_data_exposed",
        json={"answer": "yes"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 200, r.text
    with session_scope(db) as s:
        answered = [e for e in events(s, iid) if e.kind == "gate.answered"][-1].at
    view = app_client.get(f"/api/v1/incidents/{iid}/clocks", headers=auth(tokens["viewer"])).json()
    gdpr = _clock(view, "gdpr_art33", "notification")
    assert gdpr["anchor"]["kind"] == "aware" and _at(gdpr["anchor"]["at"]) == answered
    assert _at(gdpr["deadline"]) == answered + timedelta(hours=72)
    assert gdpr["status"] == "due" and 0 < gdpr["remaining_s"] <= 72 * 3600
    assert gdpr["started_by"] == ["personal_data_exposed"]
    assert "not legal advice" in gdpr["disclaimer"]

    with session_scope(db) as s:
        late = clocks.clocks(s, iid, now=answered + timedelta(hours=73))
    overdue = _clock(late, "gdpr_art33", "notification")
    assert overdue["status"] == "overdue" and overdue["remaining_s"] == -3600
    assert overdue["remaining"] == "-1h 00m"

    # The fact answered "no" later: the clock no longer applies.
    r = app_client.post(
        f"/api/v1/incidents/{iid}/gates/personal_data_exposed",
        json={"answer": "no"},
        headers=auth(tokens["responder"]),
    )
    view = app_client.get(f"/api/v1/incidents/{iid}/clocks", headers=auth(tokens["viewer"])).json()
    assert view["clocks"] == []


def test_a_system_without_the_regime_starts_no_clock(db: Engine) -> None:
    _systems(db)
    with session_scope(db) as s:
        iid = create_incident(
            s,
            actor="rui",
            title="x",
            severity="SEV-2",
            systems=["plain"],
            facts={"personal_data_exposed": True},
        ).id
        assert clocks.clocks(s, iid)["clocks"] == []


def test_eu_ai_act_deadlines_by_case(db: Engine) -> None:
    _systems(db)
    with session_scope(db) as s:
        incident = create_incident(
            s,
            actor="rui",
            title="harm",
            severity="SEV-1",
            systems=["scorer"],
            facts={"serious_incident": True},
            detected_at=utcnow() - timedelta(days=2),
        )
        iid = incident.id
        # Created with the fact: the clock runs from detection, two days before creation.
        created = incident.detected_at
        assert created < incident.created_at - timedelta(days=1)
        view = clocks.clocks(s, iid)
        assert [c["stage"] for c in view["clocks"] if c["regime"] == "eu_ai_act_art73"] == [
            "general"
        ]
        general = _clock(view, "eu_ai_act_art73", "general")
        assert _at(general["deadline"]) == created + timedelta(days=15)
        assert general["ref"] == "73(2)"
        # A death, learned a day later, adds the 10-day clock from that moment.
        learned = append_event(
            s, incident, actor="rui", kind="gate.answered", data={"key": "death", "answer": True}
        )
        widespread = append_event(
            s,
            incident,
            actor="rui",
            kind="gate.answered",
            data={"key": "widespread_infringement", "answer": "yes"},
        )
        view = clocks.clocks(s, iid)
        death = _clock(view, "eu_ai_act_art73", "death")
        assert _at(death["deadline"]) == learned.at + timedelta(days=10)
        wide = _clock(view, "eu_ai_act_art73", "widespread")
        assert _at(wide["deadline"]) == widespread.at + timedelta(days=2)
        # Soonest deadline first.
        stages = [c["stage"] for c in view["clocks"]]
        assert stages.index("widespread") < stages.index("death") < stages.index("general")
        # GDPR and NIS2 are on the system but their facts are not: no clock.
        assert {c["regime"] for c in view["clocks"]} == {"eu_ai_act_art73"}


def test_nis2_final_report_waits_for_the_incident_notification(db: Engine) -> None:
    _systems(db)
    with session_scope(db) as s:
        iid = create_incident(
            s,
            actor="rui",
            title="outage",
            severity="SEV-1",
            systems=["scorer"],
            facts={"significant_incident": True},
        ).id
        view = clocks.clocks(s, iid)
        assert _clock(view, "nis2_art23", "early_warning")["within"] == {
            "value": 24,
            "unit": "hours",
        }
        final = _clock(view, "nis2_art23", "final_report")
        assert final["status"] == "waiting" and final["deadline"] is None
        filed = utcnow() - timedelta(hours=1)
        clocks.mark_met(
            s,
            iid,
            "nis2_art23",
            "incident_notification",
            actor="rui",
            reference="CSIRT-123",
            at=filed,
        )
        final = _clock(clocks.clocks(s, iid), "nis2_art23", "final_report")
        assert final["status"] == "due" and _at(final["anchor"]["at"]) == filed
        assert _at(final["deadline"]).month == (filed.month % 12) + 1


def test_anchor_edits_and_filings_through_the_api(
    db: Engine, app_client: TestClient, tokens: dict[str, str]
) -> None:
    _systems(db)
    with session_scope(db) as s:
        iid = create_incident(
            s,
            actor="rui",
            title="leak",
            severity="SEV-2",
            systems=["chat"],
            facts={"personal_data_exposed": True},
        ).id
    url = f"/api/v1/incidents/{iid}/clocks/gdpr_art33/notification"
    h = auth(tokens["responder"])

    def timeline_len() -> int:
        with session_scope(db) as s:
            return len(events(s, iid))

    before = timeline_len()
    future = (utcnow() + timedelta(hours=2)).isoformat()
    r = app_client.put(f"{url}/anchor", json={"at": future, "reason": "typo"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "at"
    assert "lies in the future" in r.json()["message"]
    r = app_client.put(f"{url}/anchor", json={"at": utcnow().isoformat(), "reason": " "}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = app_client.put(
        f"/api/v1/incidents/{iid}/clocks/dora_art19/initial/anchor",
        json={"at": utcnow().isoformat(), "reason": "x"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "regime"
    r = app_client.put(
        f"/api/v1/incidents/{iid}/clocks/gdpr_art33/nope/anchor",
        json={"at": utcnow().isoformat(), "reason": "x"},
        headers=h,
    )
    assert r.status_code == 404
    assert (
        app_client.put(
            f"{url}/anchor",
            json={"at": utcnow().isoformat(), "reason": "x"},
            headers=auth(tokens["viewer"]),
        ).status_code
        == 403
    )
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(ClockAnchor)) == 0
    assert timeline_len() == before  # nothing changed

    earlier = utcnow() - timedelta(hours=80)
    r = app_client.put(
        f"{url}/anchor",
        headers=h,
        json={"at": earlier.isoformat(), "reason": "the DPO was told by phone on Monday"},
    )
    assert r.status_code == 200, r.text
    clock = r.json()
    assert clock["status"] == "overdue" and clock["anchor"]["source"] == "override"
    assert clock["anchor"]["reason"] == "the DPO was told by phone on Monday"
    assert _at(clock["deadline"]) == earlier + timedelta(hours=72)
    with session_scope(db) as s:
        last = events(s, iid)[-1]
        assert last.kind == "clock.anchor_set" and last.reason.startswith("the DPO")
        assert last.data["to"] == clock["anchor"]["at"] and last.data["from"] is not None

    r = app_client.post(f"{url}/met", json={"reference": "CNIL-2026-0042"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "met"
    assert r.json()["remaining_s"] is None
    r = app_client.post(f"{url}/met", json={}, headers=h)
    assert r.status_code == 409


def test_filing_a_clock_that_has_not_started_is_refused(db: Engine) -> None:
    _systems(db)
    with session_scope(db) as s:
        iid = create_incident(s, actor="rui", title="x", severity="SEV-2", systems=["chat"]).id
        with pytest.raises(Conflict, match="has not started"):
            clocks.mark_met(s, iid, "gdpr_art33", "notification", actor="rui")
        with pytest.raises(InvalidInput, match="future"):
            clocks.mark_met(
                s, iid, "gdpr_art33", "notification", actor="rui", at=utcnow() + timedelta(days=1)
            )


def test_reminders_at_half_ninety_percent_and_the_deadline(db: Engine) -> None:
    _systems(db)
    with session_scope(db) as s:
        incident = create_incident(s, actor="rui", title="leak", severity="SEV-2", systems=["chat"])
        iid = incident.id
        event = append_event(
            s,
            incident,
            actor="rui",
            kind="gate.answered",
            data={"key": "personal_data_exposed", "answer": True},
        )
        anchor = event.at
        assert clocks.schedule_reminders(s, iid) == 3
        assert clocks.schedule_reminders(s, iid) == 3  # idempotent: still three jobs
        mine = [j for j in scheduler.pending(s, incident_id=iid) if j.kind == "clock.reminder"]
        assert sorted(j.due_at for j in mine) == [
            anchor + timedelta(hours=36),
            anchor + timedelta(hours=64.8),
            anchor + timedelta(hours=72),
        ]

    def reminders() -> list[tuple[str, int]]:
        with session_scope(db) as s:
            return [
                (e.kind, e.data["percent"])
                for e in events(s, iid)
                if e.kind in ("clock.reminder", "clock.overdue")
            ]

    scheduler.run_due(db, now=anchor + timedelta(hours=35))
    assert reminders() == []
    scheduler.run_due(db, now=anchor + timedelta(hours=37))
    assert reminders() == [("clock.reminder", 50)]
    with session_scope(db) as s:
        clocks.schedule_reminders(s, iid)  # a sweep does not plan the 50% one again
    scheduler.run_due(db, now=anchor + timedelta(hours=80))
    assert reminders() == [("clock.reminder", 50), ("clock.reminder", 90), ("clock.overdue", 100)]


def test_cli_shows_clocks_and_records_a_filing(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"QUELL_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "quell.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    assert cli("demo", "--no-serve").returncode == 0
    listing = json.loads(cli("incidents", "list", "--json").stdout)
    # The demo's old chatbot incident exposed personal data on a GDPR system.
    leak = next(i for i in listing if i["facts"].get("personal_data_exposed"))
    out = cli("clocks", str(leak["id"]))
    assert out.returncode == 0, out.stderr
    assert "gdpr_art33" in out.stdout and "not legal advice" in out.stdout
    out = cli("clocks", str(leak["id"]), "--met", "gdpr_art33/notification", "--json")
    assert out.returncode == 0, out.stderr
    clock = _clock(json.loads(out.stdout), "gdpr_art33", "notification")
    assert clock["status"] == "met"
    out = cli("clocks", str(leak["id"]), "--met", "gdpr_art33")
    assert out.returncode == 2 and "REGIME/STAGE" in out.stderr
    out = cli("clocks", "99999")
    assert out.returncode == 2 and "does not exist" in out.stderr
    # Paging from the shell: the demo's open incident goes to its owning team.
    fresh = next(i for i in listing if i["status"] == "triggered")
    out = cli("page", str(fresh["id"]), "--as", "ana", "--json")
    assert out.returncode == 0, out.stderr
    view = json.loads(out.stdout)
    assert view["status"] == "paging" and view["history"][-1]["actor"] == "ana"
    out = cli("page", str(leak["id"]))
    assert out.returncode == 2 and "nobody to page" in out.stderr


def test_period_arithmetic_from_the_data_file() -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=utcnow().tzinfo)
    # SEC 8-K: four business days skip the weekend.
    assert clocks.add_period(friday, 4, "business_days") == friday + timedelta(days=6)
    # NIS2 final report: one calendar month, clamped to the month's last day.
    jan31 = datetime(2026, 1, 31, 12, 0, tzinfo=friday.tzinfo)
    assert clocks.add_period(jan31, 1, "months") == datetime(
        2026, 2, 28, 12, 0, tzinfo=friday.tzinfo
    )
    assert clocks.add_period(friday, 1, "weeks") == friday + timedelta(days=7)


def test_dora_initial_report_is_capped_at_24_hours_from_awareness(db: Engine) -> None:
    with session_scope(db) as s:
        upsert_system(s, SystemIn(name="pay", kind="predictive", regimes=["dora_art19"]))
        detected = utcnow() - timedelta(hours=22)
        incident = create_incident(
            s,
            actor="rui",
            title="ICT outage",
            severity="SEV-1",
            systems=["pay"],
            detected_at=detected,
        )
        classified = append_event(
            s,
            incident,
            actor="rui",
            kind="gate.answered",
            data={"key": "major_ict_incident", "answer": True},
        )
        initial = _clock(clocks.clocks(s, incident.id), "dora_art19", "initial")
    # Classified major now: 4 hours from now would pass the 24 hours from detection.
    assert _at(initial["deadline"]) == detected + timedelta(hours=24)
    assert _at(initial["anchor"]["at"]) == classified.at
    assert initial["anchor"]["kind"] == "classified_major"
