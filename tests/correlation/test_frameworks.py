"""Framework mappings: shipped as data, complete for every archetype, empty for unclassified."""

from __future__ import annotations

from typing import Any

from quell.compliance.frameworks import framework_data, mappings_for
from quell.incidents.lifecycle import ARCHETYPES
from quell.incidents.service import create_incident
from quell.incidents.views import incident_to_dict


def test_every_archetype_maps_to_owasp_atlas_and_nist() -> None:
    for archetype in ARCHETYPES:
        if archetype == "unclassified":
            continue
        mapping = mappings_for(archetype)
        for framework in ("owasp_llm_top10", "mitre_atlas", "nist_ai_600_1"):
            assert framework in mapping, (archetype, framework)
            ids = [e["id"] for e in mapping[framework]["primary"] + mapping[framework]["related"]]
            assert ids, (archetype, framework)
        assert mapping["owasp_llm_top10"]["edition"] == "2025"


def test_ids_carry_the_names_of_their_framework() -> None:
    entries: dict[str, Any] = framework_data()["frameworks"]["mitre_atlas"]["entries"]
    for entry in mappings_for("prompt_injection")["mitre_atlas"]["primary"]:
        assert entry["name"] == entries[entry["id"]]
    owasp = mappings_for("prompt_injection")["owasp_llm_top10"]["primary"]
    assert owasp == [{"id": "LLM01:2025", "name": "Prompt Injection"}]
    assert mappings_for("agentic_misalignment")["owasp_llm_top10"]["primary"][0]["id"] == (
        "LLM06:2025"
    )


def test_unclassified_and_unknown_map_to_nothing() -> None:
    assert mappings_for("unclassified") == {}
    assert mappings_for("no_such_archetype") == {}
    assert mappings_for(None) == {}


def test_incident_view_carries_its_mappings(session: Any) -> None:
    incident = create_incident(
        session, actor="t", title="leak", severity="SEV-2", archetype="data_exfiltration"
    )
    view = incident_to_dict(incident)
    assert view["frameworks"]["owasp_llm_top10"]["primary"][0]["id"] == "LLM02:2025"
    assert {"id": "2.4", "name": "Data Privacy"} in view["frameworks"]["nist_ai_600_1"]["primary"]
