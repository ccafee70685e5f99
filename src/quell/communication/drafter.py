"""Opt-in drafting through an OpenAI-compatible chat-completions endpoint.

The model only rewords: it is given the template draft (which holds every fact quell knows)
and asked to return the same four parts as JSON. Its output is marked as a machine draft and,
like any draft, is sent nowhere until a person publishes it.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import orjson

from quell.communication.cadence import DrafterConfig

FIELDS = ("what_happened", "what_we_are_testing", "what_we_are_doing", "what_we_do_not_know")
AUDIENCE_GUIDANCE = {
    "internal": "engineers responding to the incident; keep every technical detail",
    "executive": "executives; lead with impact and decisions, no jargon",
    "customer": "customers; no internal system names, versions, people or internal details",
    "regulator": "a regulator; factual, precise times, data classes and regimes, no speculation",
}


class DrafterError(Exception):
    """The endpoint could not be reached or did not answer in the expected shape."""


def model_draft(config: DrafterConfig, audience: str, template: dict[str, str]) -> dict[str, str]:
    """Ask the endpoint to reword the template draft for `audience`; returns the four parts."""
    headers = {"Content-Type": "application/json"}
    if config.api_key_env:
        key = os.environ.get(config.api_key_env, "")
        if not key:
            raise DrafterError(f"environment variable {config.api_key_env} is not set")
        headers["Authorization"] = f"Bearer {key}"
    prompt = (
        "Rewrite this incident update for "
        f"{AUDIENCE_GUIDANCE[audience]}. Do not add facts that are not in it; keep explicit "
        "unknowns. Answer with one JSON object with exactly the keys "
        f"{', '.join(FIELDS)}, each a short paragraph.\n\n"
        + orjson.dumps(template, option=orjson.OPT_INDENT_2).decode()
    )
    body = {
        "model": config.model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": "You draft incident status updates. JSON only."},
            {"role": "user", "content": prompt},
        ],
    }
    try:
        response = httpx.post(
            f"{config.url}/chat/completions", json=body, headers=headers, timeout=config.timeout_s
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise DrafterError(str(exc) or type(exc).__name__) from None
    return _parse(str(content))


def _parse(content: str) -> dict[str, str]:
    text = content.strip()
    if text.startswith("```"):
        # Models often fence JSON in a code block; keep what is inside.
        text = text.strip("`")
        text = text[text.find("{") :] if "{" in text else text
    try:
        data: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise DrafterError("the answer is not JSON") from None
    if not isinstance(data, dict):
        raise DrafterError("the answer is not a JSON object")
    missing = [f for f in FIELDS if not isinstance(data.get(f), str) or not data[f].strip()]
    if missing:
        raise DrafterError(f"the answer lacks {', '.join(missing)}")
    return {f: data[f].strip() for f in FIELDS}
