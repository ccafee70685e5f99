"""The `quell` command: thin doors onto the same functions the API uses."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quell import __version__
from quell.auth.service import ROLES
from quell.errors import QuellError
from quell.settings import Settings
from quell.store import db

console = Console()
err_console = Console(stderr=True)


class CliError(QuellError):
    """A problem with what was asked on the command line."""


def _engine(*, migrate: bool = False) -> Engine:
    settings = Settings.from_env()
    engine = db.get_engine(settings.database_url)
    if migrate:
        db.upgrade(engine)
    elif not db.current_revisions(engine):
        raise CliError(
            f"the database at {settings.database_url} has no quell schema yet; "
            "run `quell db upgrade` (or `quell demo`) first"
        )
    return engine


@contextmanager
def store(*, migrate: bool = False) -> Iterator[Session]:
    with db.session_scope(_engine(migrate=migrate)) as session:
        yield session


def _print_json(data: Any) -> None:
    import orjson

    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


@click.group()
@click.version_option(__version__, prog_name="quell")
def cli() -> None:
    """quell: incident response for AI systems."""


# ---------------------------------------------------------------- database


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    engine = _engine(migrate=True)
    console.print(f"schema at {', '.join(sorted(db.current_revisions(engine)))}")


# ---------------------------------------------------------------- serve / demo


def _serve(host: str, port: int, engine: Engine) -> None:
    import uvicorn

    from quell.api.app import create_app, tune_for_serving

    app = create_app(engine=engine)
    tune_for_serving()
    uvicorn.run(app, host=host, port=port, log_level="info")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A quell.yaml to apply before serving (default: $QUELL_CONFIG, if set).",
)
def serve(host: str, port: int, config_path: Path | None) -> None:
    """Run the API and the console on one port (migrates the database first)."""
    from quell.config import apply_config, load_config

    engine = _engine(migrate=True)
    config_path = config_path or Settings.from_env().config_path
    if config_path:
        config, extras = load_config(config_path)
        with db.session_scope(engine) as session:
            apply_config(session, config, extras, source=str(config_path))
        console.print(f"applied {config_path}")
    _serve(host, port, engine)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Populate the store and exit.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Populate a demo instance (three AI systems, a team, risks, incidents) and serve it."""
    from quell.demo import DEMO_PASSWORD, seed

    engine = _engine(migrate=True)
    result = seed(engine)
    console.print(f"[bold]quell demo[/bold] on {Settings.from_env().database_url}")
    console.print(f"  incidents created: {result['incidents_created']}")
    console.print(f"  admin API token:   [bold]{result['admin_token']}[/bold]")
    console.print(f"  console logins:    admin / responder / viewer, password {DEMO_PASSWORD}")
    if no_serve:
        return
    console.print(f"  console and API:   http://{host}:{port}/  (OpenAPI at /docs)")
    _serve(host, port, engine)


# ---------------------------------------------------------------- config


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
def apply(file: Path, as_json: bool) -> None:
    """Apply a quell.yaml (idempotent: applying it twice changes nothing)."""
    from quell.config import apply_config, load_config

    config, extras = load_config(file)
    with store() as session:
        report = apply_config(session, config, extras, source=str(file))
    if as_json:
        _print_json(report)
        return
    table = Table("section", "name", "outcome")
    for section, items in report.items():
        for name, outcome in items.items():
            table.add_row(section, name, outcome)
    console.print(table)


@cli.command("systems")
@click.option("--json", "as_json", is_flag=True)
def systems_list(as_json: bool) -> None:
    """List the AI systems of the inventory with their owners and dependencies."""
    from quell.inventory.service import list_systems, system_to_dict

    with store() as session:
        rows = [system_to_dict(s) for s in list_systems(session)]
    if as_json:
        _print_json(rows)
        return
    table = Table("name", "kind", "owner", "criticality", "depends on", "model", "fallback")
    for r in rows:
        table.add_row(
            r["name"],
            r["kind"],
            r["owner_team"] or "-",
            r["criticality"],
            ", ".join(r["depends_on"]) or "-",
            r["current_model_version"] or "-",
            r["safe_fallback"] or "-",
        )
    console.print(table)


@cli.command("risks")
@click.option("--system", default=None)
@click.option("--json", "as_json", is_flag=True)
def risks_list(system: str | None, as_json: bool) -> None:
    """List the AI risk register, highest score first."""
    from quell.inventory.service import list_risks, risk_to_dict

    with store() as session:
        rows = [risk_to_dict(session, r) for r in list_risks(session, system=system)]
    rows.sort(key=lambda r: -r["score"])
    if as_json:
        _print_json(rows)
        return
    table = Table("key", "score", "system", "owner", "status", "incidents")
    table.add_column("risk", ratio=1)
    for r in rows:
        table.add_row(
            r["key"],
            f"{r['score']} ({r['likelihood']}x{r['impact']})",
            r["system"] or "-",
            r["owner"] or "-",
            r["status"],
            ", ".join(str(i) for i in r["incidents"]) or "-",
            r["title"],
        )
    console.print(table)


# ---------------------------------------------------------------- incidents


@cli.group()
def incidents() -> None:
    """List, show and move incidents."""


@incidents.command("list")
@click.option("--status", multiple=True)
@click.option("--severity", multiple=True)
@click.option("--system", default=None)
@click.option("--archetype", multiple=True)
@click.option("--open", "open_only", is_flag=True, help="Only triggered, acknowledged, mitigated.")
@click.option("--json", "as_json", is_flag=True)
def incidents_list(
    status: tuple[str, ...],
    severity: tuple[str, ...],
    system: str | None,
    archetype: tuple[str, ...],
    open_only: bool,
    as_json: bool,
) -> None:
    """List incidents, newest first."""
    from quell.incidents.service import list_incidents
    from quell.incidents.views import incident_to_dict

    with store() as session:
        rows = [
            incident_to_dict(i)
            for i in list_incidents(
                session,
                status=status,
                severity=severity,
                system=system,
                archetype=archetype,
                open_only=open_only,
            )
        ]
    if as_json:
        _print_json(rows)
        return
    table = Table("id", "sev", "status", "archetype", "systems", "detected")
    table.add_column("title", ratio=1)
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["severity"],
            row["status"],
            row["archetype"],
            ", ".join(row["systems"]),
            row["detected_at"][:16],
            row["title"],
        )
    console.print(table)


@incidents.command("show")
@click.argument("incident_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def incidents_show(incident_id: int, as_json: bool) -> None:
    """Show one incident with its roles and timeline."""
    from quell.incidents.service import get_incident
    from quell.incidents.timeline import events
    from quell.incidents.views import event_to_dict, incident_to_dict

    with store() as session:
        data = incident_to_dict(get_incident(session, incident_id))
        data["timeline"] = [event_to_dict(e) for e in events(session, incident_id)]
    if as_json:
        _print_json(data)
        return
    console.print(f"[bold]#{data['id']} {data['title']}[/bold]")
    console.print(
        f"{data['severity']} · {data['status']} · {data['archetype']} · "
        f"systems: {', '.join(data['systems']) or '-'}"
    )
    roles = ", ".join(f"{k}: {v}" for k, v in data["roles"].items()) or "none assigned"
    console.print(f"roles: {roles}")
    table = Table("#", "at", "actor", "kind", "reason / data")
    for e in data["timeline"]:
        table.add_row(
            str(e["seq"]), e["at"][:19], e["actor"], e["kind"], e["reason"] or str(e["data"])
        )
    console.print(table)


def _move(incident_id: int, target: str, actor: str, reason: str) -> None:
    from quell.incidents.service import transition

    with store() as session:
        incident = transition(session, incident_id, target, actor=actor, reason=reason)
        console.print(f"incident {incident.id} is now {incident.status}")


_actor = click.option("--as", "actor", default="cli", show_default=True, help="Who is acting.")
_reason = click.option("--reason", default="", help="Why, for the timeline.")


@incidents.command("ack")
@click.argument("incident_id", type=int)
@_actor
@_reason
def incidents_ack(incident_id: int, actor: str, reason: str) -> None:
    """Acknowledge an incident."""
    _move(incident_id, "acknowledged", actor, reason)


@incidents.command("mitigate")
@click.argument("incident_id", type=int)
@_actor
@_reason
def incidents_mitigate(incident_id: int, actor: str, reason: str) -> None:
    """Mark an incident mitigated."""
    _move(incident_id, "mitigated", actor, reason)


@incidents.command("resolve")
@click.argument("incident_id", type=int)
@_actor
@_reason
def incidents_resolve(incident_id: int, actor: str, reason: str) -> None:
    """Resolve an incident."""
    _move(incident_id, "resolved", actor, reason)


@incidents.command("assign")
@click.argument("incident_id", type=int)
@click.argument("role")
@click.argument("person")
@_actor
def incidents_assign(incident_id: int, role: str, person: str, actor: str) -> None:
    """Assign a playbook role (see `quell.incidents.lifecycle.ROLES`)."""
    from quell.incidents.service import assign_role

    with store() as session:
        assign_role(session, incident_id, role, person, actor=actor)
    console.print(f"{person} is {role} of incident {incident_id}")


# ---------------------------------------------------------------- access


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--name", required=True, help="Who the token acts as (shown on the timeline).")
@click.option("--role", required=True, type=click.Choice(ROLES))
def token_create(name: str, role: str) -> None:
    """Create an API token and print it (it is shown only once)."""
    from quell.auth.service import create_token

    with store() as session:
        plain, _ = create_token(session, name=name, role=role)
    click.echo(plain)


@cli.group()
def user() -> None:
    """Console users (password login)."""


@user.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.password_option()
def user_create(username: str, role: str, password: str) -> None:
    """Create a console user; the password is stored argon2-hashed."""
    from quell.auth.service import create_user

    with store() as session:
        create_user(session, username=username, password=password, role=role)
    console.print(f"user {username} created with role {role}")


# ---------------------------------------------------------------- verify


@cli.command()
@click.option("--incident", "incident_id", type=int, default=None)
def verify(incident_id: int | None) -> None:
    """Walk the timeline hash chains and report the first broken link of each incident."""
    from quell.incidents.timeline import verify_chain

    with store() as session:
        report = verify_chain(session, incident_id)
    if report.ok:
        console.print(f"timeline intact: {report.events} events in {report.incidents} incidents")
        return
    for b in report.breaks:
        err_console.print(
            f"incident {b.incident_id}, event {b.seq} (row {b.event_id}): {b.problem}"
        )
    sys.exit(1)


# Other phases register their commands here.
def _register_extensions() -> None:
    import importlib

    for module_name in (
        "quell.cli_detection",
        "quell.cli_ingest",
        "quell.cli_escalation",
        "quell.cli_correlation",
        "quell.cli_remediation",
        "quell.cli_response",
        "quell.cli_drills",
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(cli)


_register_extensions()


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage and input errors print one line and exit with code 2."""
    try:
        cli.main(args=argv, prog_name="quell", standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except click.UsageError as exc:
        click.echo(f"quell: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"quell: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except QuellError as exc:
        click.echo(f"quell: error: {exc.message}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
