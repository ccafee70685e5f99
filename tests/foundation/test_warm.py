"""A server parses the phases' bundled data at start, not inside the first incident's request."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json
from quell import phases
phases.load()
before = {f.__qualname__: f.cache_info().currsize for f in phases._WARMERS}
phases.warm()
after = {f.__qualname__: f.cache_info().currsize for f in phases._WARMERS}
print(json.dumps({"before": before, "after": after}))
"""


def test_warm_parses_every_bundled_file_once_phases_are_loaded() -> None:
    # A fresh interpreter, so no other test has filled the caches already.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    seen = json.loads(out.stdout)
    expected = {
        "default_policies",
        "builtin_gates",
        "builtin_catalogue",
        "framework_data",
        "regulations",
    }
    assert expected <= set(seen["after"])
    assert all(size == 0 for size in seen["before"].values()), seen["before"]
    assert all(size == 1 for size in seen["after"].values()), seen["after"]
