"""quell.yaml: the whole configuration as code, validated and applied idempotently.

Each phase contributes a section. Applying a file upserts what it names and leaves alone what
it does not (a system missing from the file is not deleted); applying it twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from quell.errors import InvalidInput
from quell.inventory import service as inventory
from quell.inventory.schemas import RiskIn, Strict, SystemIn, TeamIn
from quell.validation import describe, field_path


class QuellConfig(Strict):
    """The root of quell.yaml. Unknown top-level keys are refused, to catch typos."""

    version: int = 1
    teams: list[TeamIn] = Field(default_factory=list)
    systems: list[SystemIn] = Field(default_factory=list)
    risks: list[RiskIn] = Field(default_factory=list)
    # Sections of other phases are declared in EXTRA_SECTIONS below.
    model_config = Strict.model_config | {"extra": "allow"}


# Other phases register their quell.yaml sections here: key -> (pydantic model, apply function).
# The apply function takes (session, validated section) and returns {name: outcome}.
EXTRA_SECTIONS: dict[str, tuple[type[Any], Any]] = {}


def register_section(key: str, model: type[Any], apply: Any) -> None:
    """Declare a top-level quell.yaml section of another phase."""
    EXTRA_SECTIONS[key] = (model, apply)


def _load_sections() -> None:
    from quell import phases

    phases.load()


class ConfigError(InvalidInput):
    """quell.yaml could not be read or validated; the message names the file and the field."""


def load_config(path: Path) -> tuple[QuellConfig, dict[str, Any]]:
    """Read and validate a quell.yaml; returns the root model and the validated extra sections."""
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: {problem}{where}") from None
    return parse_config(raw if raw is not None else {}, source=str(path))


def parse_config(raw: Any, *, source: str = "quell.yaml") -> tuple[QuellConfig, dict[str, Any]]:
    _load_sections()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    unknown = [k for k in raw if k not in QuellConfig.model_fields and k not in EXTRA_SECTIONS]
    if unknown:
        known = sorted([*QuellConfig.model_fields, *EXTRA_SECTIONS])
        raise ConfigError(
            f"{source}: {unknown[0]}: unknown section; expected one of {', '.join(known)}",
            field=unknown[0],
        )
    base = {k: v for k, v in raw.items() if k in QuellConfig.model_fields}
    try:
        config = QuellConfig.model_validate(base)
    except ValidationError as exc:
        raise _config_error(source, exc, ()) from None
    extras: dict[str, Any] = {}
    for key, (model, _apply) in EXTRA_SECTIONS.items():
        if key in raw:
            try:
                extras[key] = model.model_validate(raw[key])
            except ValidationError as exc:
                raise _config_error(source, exc, (key,)) from None
    _check_names_unique(config, source)
    return config, extras


def _config_error(source: str, exc: ValidationError, prefix: tuple[str, ...]) -> ConfigError:
    error: dict[str, Any] = dict(exc.errors()[0])
    loc: tuple[Any, ...] = (*prefix, *error.get("loc", ()))
    error["loc"] = loc
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more)" if more else ""
    return ConfigError(f"{source}: {describe(error)}{suffix}", field=field_path(loc))


def _check_names_unique(config: QuellConfig, source: str) -> None:
    for section, items, attr in (
        ("teams", config.teams, "name"),
        ("systems", config.systems, "name"),
        ("risks", config.risks, "key"),
    ):
        seen: set[str] = set()
        for index, item in enumerate(items):
            value = getattr(item, attr)
            if value in seen:
                raise ConfigError(
                    f"{source}: {section}[{index}].{attr}: {value!r} appears twice",
                    field=f"{section}[{index}].{attr}",
                )
            seen.add(value)


def _dependency_order(systems: list[SystemIn], source: str) -> list[tuple[int, SystemIn]]:
    """Order systems so that each comes after the upstream systems it names in the same file."""
    by_name = {s.name: (i, s) for i, s in enumerate(systems)}
    ordered: list[tuple[int, SystemIn]] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        index, spec = by_name[name]
        if state.get(name) == 1:
            raise ConfigError(
                f"{source}: systems[{index}].depends_on: dependency cycle through {name!r}",
                field=f"systems[{index}].depends_on",
            )
        state[name] = 1
        for upstream in spec.depends_on:
            if upstream in by_name:
                visit(upstream)
        state[name] = 2
        ordered.append((index, spec))

    for name in by_name:
        visit(name)
    return ordered


def apply_config(
    session: Session,
    config: QuellConfig,
    extras: dict[str, Any] | None = None,
    *,
    source: str = "quell.yaml",
) -> dict[str, dict[str, str]]:
    """Upsert everything in the file inside the caller's transaction; returns what happened."""
    report: dict[str, dict[str, str]] = {"teams": {}, "systems": {}, "risks": {}}
    try:
        for team in config.teams:
            report["teams"][team.name] = inventory.upsert_team(session, team)
        for index, system in _dependency_order(config.systems, source):
            report["systems"][system.name] = inventory.upsert_system(
                session, system, field=f"systems[{index}]"
            )
        for index, risk in enumerate(config.risks):
            report["risks"][risk.key] = inventory.upsert_risk(
                session, risk, field=f"risks[{index}]"
            )
        for key, section in (extras or {}).items():
            _model, apply = EXTRA_SECTIONS[key]
            report[key] = apply(session, section)
    except ConfigError:
        raise
    except InvalidInput as exc:
        raise ConfigError(f"{source}: {exc.field}: {exc.message}", field=exc.field) from None
    return report
