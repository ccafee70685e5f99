"""On-call schedules: rotation, hand-off, overrides, time zones, and refusing gaps and overlaps."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from quell.errors import InvalidInput
from quell.escalation.models import OnCallSchedule
from quell.escalation.oncall import check_coverage, on_call
from quell.escalation.schemas import ScheduleIn
from quell.store.db import session_scope
from tests.conftest import auth

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def spec(**over: Any) -> ScheduleIn:
    data: dict[str, Any] = {
        "name": "ml-primary",
        "timezone": "Europe/Paris",
        "rotations": [
            {
                "name": "weekly",
                "members": ["Ana", "Ben", "Chen"],
                "length": {"value": 1, "unit": "weeks"},
                "handoff": "09:00",
                "start": "2026-11-02",  # a Monday
            }
        ],
    }
    data.update(over)
    return ScheduleIn.model_validate(data)


def test_weekly_rotation_hands_off_at_local_time() -> None:
    s = spec()
    assert on_call(s, paris(2026, 11, 2, 9, 0)).person == "Ana"
    assert on_call(s, paris(2026, 11, 9, 8, 59)).person == "Ana"
    hand_off = on_call(s, paris(2026, 11, 9, 9, 0))
    assert hand_off.person == "Ben" and hand_off.source == "rotation"
    assert hand_off.since == paris(2026, 11, 9, 9, 0) and hand_off.until == paris(
        2026, 11, 16, 9, 0
    )
    assert on_call(s, paris(2026, 11, 16, 9, 0)).person == "Chen"
    assert on_call(s, paris(2026, 11, 23, 9, 0)).person == "Ana"  # wraps around
    # Before the start the rotation runs backwards in the same order.
    assert on_call(s, paris(2026, 11, 2, 8, 0)).person == "Chen"


def test_the_same_instant_in_another_zone_hands_off_at_its_own_local_time() -> None:
    tokyo = spec(timezone="Asia/Tokyo")
    at = datetime(2026, 11, 9, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo, 02:00 in Paris
    assert on_call(tokyo, at).person == "Ben"
    assert on_call(spec(), at).person == "Ana"


def test_daily_hand_off_keeps_wall_clock_time_across_dst() -> None:
    s = spec(
        rotations=[
            {
                "name": "daily",
                "members": ["Ana", "Ben"],
                "start": "2026-03-27",
                "length": {"value": 1, "unit": "days"},
                "handoff": "09:00",
            }
        ]
    )
    # Paris moves from UTC+1 to UTC+2 on 29 March 2026.
    assert on_call(s, paris(2026, 3, 29, 8, 59)).person == "Ben"
    sunday = on_call(s, paris(2026, 3, 29, 9, 0))
    assert sunday.person == "Ana"
    assert sunday.since == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert sunday.until == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_hourly_rotation_counts_real_hours() -> None:
    s = spec(
        timezone="UTC",
        rotations=[
            {
                "members": ["A", "B", "C"],
                "start": "2026-01-01",
                "length": {"value": 12, "unit": "hours"},
                "handoff": "00:00",
            }
        ],
    )
    assert on_call(s, datetime(2026, 1, 1, 11, 59, tzinfo=UTC)).person == "A"
    assert on_call(s, datetime(2026, 1, 1, 12, 0, tzinfo=UTC)).person == "B"
    assert on_call(s, datetime(2026, 1, 2, 0, 0, tzinfo=UTC)).person == "C"


def test_an_override_wins_for_its_period_only() -> None:
    s = spec(
        overrides=[
            {
                "person": "Dana",
                "start": "2026-11-10T18:00:00+01:00",
                "end": "2026-11-11T09:00:00+01:00",
                "reason": "Ben at a wedding",
            }
        ]
    )
    assert on_call(s, paris(2026, 11, 10, 17, 59)).person == "Ben"
    during = on_call(s, paris(2026, 11, 10, 18, 0))
    assert (during.person, during.source, during.reason) == ("Dana", "override", "Ben at a wedding")
    assert on_call(s, paris(2026, 11, 11, 9, 0)).person == "Ben"


BUSINESS = {
    "name": "day",
    "members": ["Ana", "Ben"],
    "start": "2026-11-02",
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"}],
}
AFTER_HOURS = {
    "name": "night",
    "members": ["Chen"],
    "start": "2026-11-02",
    "windows": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "18:00", "to": "09:00"},
        {"days": ["sat", "sun"], "from": "09:00", "to": "09:00"},
    ],
}


def test_layered_rotations_that_cover_the_week_exactly_once() -> None:
    s = spec(rotations=[BUSINESS, AFTER_HOURS])
    check_coverage(s)
    assert on_call(s, paris(2026, 11, 4, 12, 0)).rotation == "day"
    assert on_call(s, paris(2026, 11, 4, 20, 0)).person == "Chen"
    assert on_call(s, paris(2026, 11, 8, 3, 0)).person == "Chen"  # Sunday night
    assert on_call(s, paris(2026, 11, 9, 8, 59)).person == "Chen"  # Monday before nine


def test_a_gap_is_refused_naming_the_schedule_and_the_gap() -> None:
    with pytest.raises(InvalidInput) as info:
        check_coverage(spec(rotations=[BUSINESS]))
    message = info.value.message
    assert "schedule 'ml-primary' has a gap" in message
    assert "from Friday 18:00 to Monday 09:00 (Europe/Paris)" in message
    weekend_gap = dict(AFTER_HOURS, windows=AFTER_HOURS["windows"][:1])
    with pytest.raises(InvalidInput, match="from Saturday 09:00 to Monday 09:00"):
        check_coverage(spec(rotations=[BUSINESS, weekend_gap]))


def test_an_overlap_is_refused_naming_the_rotations_and_the_time() -> None:
    wide = dict(
        BUSINESS,
        windows=[{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}],
    )
    with pytest.raises(InvalidInput) as info:
        check_coverage(spec(rotations=[wide, AFTER_HOURS]))
    assert (
        "rotations 'day' and 'night' overlap from Monday 08:00 to Monday 09:00"
        in info.value.message
    )
    with pytest.raises(InvalidInput, match="overlap"):
        check_coverage(spec(rotations=[spec().rotations[0], BUSINESS]))


def test_overlapping_overrides_are_refused() -> None:
    with pytest.raises(InvalidInput, match="overrides for 'Dana' and 'Eli' overlap"):
        check_coverage(
            spec(
                overrides=[
                    {
                        "person": "Dana",
                        "start": "2026-11-10T18:00:00Z",
                        "end": "2026-11-11T09:00:00Z",
                    },
                    {
                        "person": "Eli",
                        "start": "2026-11-11T08:00:00Z",
                        "end": "2026-11-11T12:00:00Z",
                    },
                ]
            )
        )


def _schedule_body(**over: Any) -> dict[str, Any]:
    body = spec().model_dump(mode="json", by_alias=True)
    body.update(over)
    return body


def test_schedules_through_the_api(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    r = app_client.put(
        "/api/v1/schedules/ml-primary", json=_schedule_body(), headers=auth(tokens["admin"])
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "created"
    r = app_client.get(
        "/api/v1/oncall",
        params={"schedule": "ml-primary", "at": "2026-11-09T08:30:00Z"},
        headers=auth(tokens["viewer"]),
    )
    assert r.status_code == 200 and r.json()[0]["person"] == "Ben"  # 09:30 in Paris
    assert (
        app_client.get("/api/v1/schedules/ml-primary", headers=auth(tokens["viewer"])).json()[
            "timezone"
        ]
        == "Europe/Paris"
    )
    # A responder may read but not change schedules.
    r = app_client.put(
        "/api/v1/schedules/ml-primary", json=_schedule_body(), headers=auth(tokens["responder"])
    )
    assert r.status_code == 403


def test_a_schedule_with_a_gap_is_refused_by_the_api_and_nothing_is_written(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    body = _schedule_body(rotations=[BUSINESS])
    r = app_client.put("/api/v1/schedules/ml-primary", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 422
    assert "has a gap" in r.json()["message"] and r.json()["field"] == "rotations"
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(OnCallSchedule)) == 0
    r = app_client.put(
        "/api/v1/schedules/other", json=_schedule_body(), headers=auth(tokens["admin"])
    )
    assert r.status_code == 422 and r.json()["field"] == "name"
    r = app_client.put(
        "/api/v1/schedules/ml-primary",
        json=_schedule_body(timezone="Mars/Base"),
        headers=auth(tokens["admin"]),
    )
    assert r.status_code == 422 and "unknown time zone" in r.text
    assert (
        app_client.get("/api/v1/schedules/nope", headers=auth(tokens["viewer"])).status_code == 404
    )


def _cli(args: list[str], db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quell.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"QUELL_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def test_cli_apply_oncall_and_refusal(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    good = tmp_path / "good.yaml"
    good.write_text(
        """
teams:
  - name: ml
    members: [{name: Ana}, {name: Ben}]
schedules:
  - name: ml-primary
    team: ml
    timezone: Europe/Paris
    rotations:
      - {name: weekly, members: [Ana, Ben], start: 2026-11-02, handoff: "09:00"}
""",
        encoding="utf-8",
    )
    assert _cli(["db", "upgrade"], db_url).returncode == 0
    out = _cli(["apply", str(good)], db_url)
    assert out.returncode == 0, out.stderr
    out = _cli(["oncall", "--at", "2026-11-09T08:30:00Z", "--json"], db_url)
    assert out.returncode == 0, out.stderr
    assert '"person": "Ben"' in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        good.read_text().replace(
            "start: 2026-11-02,",
            "start: 2026-11-02, windows: [{days: [mon], from: '09:00', to: '17:00'}],",
        ),
        encoding="utf-8",
    )
    out = _cli(["apply", str(bad)], db_url)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "schedules[0]" in out.stderr and "has a gap" in out.stderr
    stranger = tmp_path / "stranger.yaml"
    stranger.write_text(good.read_text().replace("[Ana, Ben]", "[Ana, Zed]"), encoding="utf-8")
    out = _cli(["apply", str(stranger)], db_url)
    assert out.returncode == 2 and "'Zed', who is not a member of team 'ml'" in out.stderr
    out = _cli(["oncall", "--at", "yesterday"], db_url)
    assert out.returncode == 2 and "--at" in out.stderr
