"""Framework mappings of the six archetypes (OWASP LLM Top 10, MITRE ATLAS, NIST AI 600-1).

The mapping is data (`data/frameworks.yaml`); this module reads it once, checks that every id
an archetype names is defined by its framework, and answers `mappings_for(archetype)`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from quell.phases import warm_up


class FrameworkDataError(ValueError):
    """The shipped frameworks.yaml refers to an id its framework does not define."""


@warm_up
@cache
def framework_data() -> dict[str, Any]:
    """The parsed and cross-checked frameworks.yaml."""
    text = (resources.files("quell.compliance") / "data" / "frameworks.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    frameworks = data["frameworks"]
    for archetype, per_framework in data["archetypes"].items():
        for key, groups in per_framework.items():
            if key not in frameworks:
                raise FrameworkDataError(f"{archetype}: unknown framework {key!r}")
            defined = frameworks[key]["entries"]
            for group in ("primary", "related"):
                for entry_id in groups.get(group, []):
                    if entry_id not in defined:
                        raise FrameworkDataError(f"{archetype}.{key}.{group}: {entry_id!r}")
    return data


def mappings_for(archetype: str | None) -> dict[str, Any]:
    """The framework entries of an archetype: {framework: {title, edition, primary, related}}.

    `unclassified` (or an unknown archetype) maps to nothing: an empty dict, never a guess.
    """
    data = framework_data()
    per_framework = data["archetypes"].get(archetype or "")
    if not per_framework:
        return {}
    out: dict[str, Any] = {}
    for key, groups in per_framework.items():
        framework = data["frameworks"][key]
        entries = framework["entries"]
        out[key] = {
            "title": framework["title"],
            "edition": str(framework["edition"]),
            "primary": [{"id": i, "name": entries[i]} for i in groups.get("primary", [])],
            "related": [{"id": i, "name": entries[i]} for i in groups.get("related", [])],
        }
    return out
