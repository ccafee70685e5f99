"""The regulatory regimes quell knows, read from the shipped data file."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from quell.phases import warm_up


@warm_up
@cache
def regulations() -> dict[str, Any]:
    text = (resources.files("quell.compliance") / "data" / "regulations.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)["regimes"]
    return data


def regime_keys() -> list[str]:
    return sorted(regulations())
