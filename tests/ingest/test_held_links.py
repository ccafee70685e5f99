"""When a held candidate opens, every alert it gathered, from any batch, names the incident."""

from __future__ import annotations

from sqlalchemy import Engine, select

from quell.config import apply_config, parse_config
from quell.ingest.models import Alert
from quell.ingest.service import receive_native
from quell.store.db import session_scope


def test_alerts_from_earlier_batches_and_this_one_are_all_linked(db: Engine) -> None:
    config, extras = parse_config(
        {
            "systems": [{"name": "bot", "kind": "generative"}],
            # Warnings gather without paging; a critical signal pages at once.
            "correlation": {"group_wait": 3600, "min_signals": 100},
        }
    )
    with session_scope(db) as s:
        apply_config(s, config, extras)

    def latency(i: int, severity: str) -> dict[str, object]:
        return {
            "system": "bot",
            "kind": "latency",
            "severity": severity,
            "summary": f"slow {i}",
            "fingerprint": f"lat-{i}",
            "metrics": {"p90_latency_s": 8.0},
        }

    for start in (0, 5):  # two earlier batches of held warnings
        held = receive_native(
            db, [latency(i, "warning") for i in range(start, start + 5)], actor="t"
        )
        assert held.incident_ids == []
    opened = receive_native(db, [latency(10, "warning"), latency(11, "critical")], actor="t")
    assert len(set(opened.incident_ids)) == 1
    incident_id = opened.incident_ids[0]
    with session_scope(db) as s:
        linked = {a.fingerprint: a.incident_id for a in s.scalars(select(Alert))}
    assert len(linked) == 12
    assert set(linked.values()) == {incident_id}, linked
