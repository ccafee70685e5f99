"""CLI doors onto the response phases: triage pack, checklist, updates, postmortem, metrics."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table

from quell.errors import InvalidInput
from quell.timeutil import parse_time

console = Console()


def _json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


def _time(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise InvalidInput(f"{field}: not an ISO 8601 time: {value!r}", field=field) from None


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}m"


def register(main: click.Group) -> None:
    """Add the response commands to the `quell` group."""
    # Any quell process started from the CLI (`quell worker` included) must know the update
    # reminder jobs, or the scheduler would find no handler for them.
    import quell.communication.cadence  # noqa: F401

    main.add_command(triage)
    main.add_command(checklist)
    main.add_command(update)
    main.add_command(postmortem)
    main.add_command(metrics)


# ---------------------------------------------------------------- triage


@click.command()
@click.argument("incident_id", type=int)
@click.option("--window-hours", default=24.0, show_default=True, help="Change window.")
@click.option("--json", "as_json", is_flag=True, help="Print the pack as JSON.")
def triage(incident_id: int, window_hours: float, as_json: bool) -> None:
    """Show the triage pack of an incident."""
    from quell.cli import store
    from quell.triage.pack import triage_pack

    with store() as session:
        pack = triage_pack(session, incident_id, window_hours=window_hours)
    if as_json:
        _json(pack)
        return
    inc = pack["incident"]
    console.print(
        f"[bold]#{inc['id']} {inc['title']}[/bold]  {inc['severity']} · {inc['archetype']} · "
        f"{', '.join(inc['systems']) or 'no systems'}  ({pack['assembly_ms']} ms)"
    )
    snap = pack["change_snapshot"]
    table = Table("when", "system", "relation", "kind", "change", title="Change snapshot")
    for c in snap["changes"]:
        flag = "[bold red]model[/bold red] " if c["model_version_change"] else ""
        versions = f" {c['from_version']} -> {c['to_version']}" if c["to_version"] else ""
        table.add_row(
            str(c["occurred_at"])[:16],
            c["system"],
            c.get("relation", ""),
            flag + c["kind"],
            c["summary"] + versions,
        )
    console.print(table if snap["changes"] else f"Change snapshot: {snap['note'] or 'none'}")
    anomalies = pack["top_anomalies"]
    if anomalies["items"]:
        table = Table(
            "score", "first seen", "system", "kind", "count", "summary", title="Top anomalies"
        )
        for a in anomalies["items"]:
            table.add_row(
                str(a["score"]),
                a["first_seen_at"][:16],
                str(a["system"]),
                a["kind"],
                str(a["count"]),
                a["summary"],
            )
        console.print(table)
        started = anomalies["started"]
        console.print(f"started: {started['kind']} on {started['system']} at {started['at'][:19]}")
    else:
        console.print(f"Top anomalies: {anomalies['note']}")
    graph = pack["dependency_graph"]
    console.print(
        "Dependencies: "
        + ", ".join(
            f"{n['name']} ({n['relation']}{', symptomatic' if n['symptomatic'] else ''})"
            for n in graph["nodes"]
        )
    )
    table = Table(
        "id", "score", "sev", "archetype", "resolved in", "what worked", title="Similar incidents"
    )
    for s in pack["similar_incidents"]:
        worked = "; ".join(m["text"] for m in s["mitigations"][:3]) or "-"
        table.add_row(
            str(s["id"]),
            str(s["score"]),
            s["severity"],
            s["archetype"],
            _minutes(s["outcome"]["time_to_resolve_s"]),
            worked,
        )
    console.print(table)
    table = Table("step", "action", "text", title="Known mitigations")
    for m in pack["known_mitigations"]:
        table.add_row(m["id"], m["action"] or "", m["text"])
    console.print(table)


# ---------------------------------------------------------------- checklist


@click.command()
@click.argument("incident_id", type=int)
@click.option("--done", "done_step", default=None, help="Tick this step id.")
@click.option("--undo", "undo_step", default=None, help="Untick this step id.")
@click.option("--as", "actor", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def checklist(
    incident_id: int, done_step: str | None, undo_step: str | None, actor: str, as_json: bool
) -> None:
    """Show an incident's playbook checklist, or tick/untick a step."""
    from quell.cli import store
    from quell.incidents.service import get_incident
    from quell.remediation import playbooks

    with store() as session:
        incident = get_incident(session, incident_id)
        if done_step or undo_step:
            data = playbooks.mark_step(
                session, incident, str(done_step or undo_step), done=bool(done_step), actor=actor
            )
        else:
            data = playbooks.checklist(session, incident)
    if as_json:
        _json(data)
        return
    table = Table("", "step", "action", "text", title=f"{data['done']}/{data['total']} done")
    for s in data["steps"]:
        mark = "x" if s["done"] else ("n/a" if s["applies"] is False else " ")
        action = s["action"] or ""
        if s["action_status"]:
            action += f" ({s['action_status']})"
        table.add_row(mark, s["id"], action, s["text"])
    console.print(table)


# ---------------------------------------------------------------- updates


@click.group()
def update() -> None:
    """What We Know updates: draft, publish, list."""


@update.command("draft")
@click.argument("incident_id", type=int)
@click.option("--audience", default="internal", show_default=True)
@click.option("--backend", default=None, help="template or model (default: as configured).")
@click.option("--json", "as_json", is_flag=True)
def update_draft(incident_id: int, audience: str, backend: str | None, as_json: bool) -> None:
    """Draft an update for an audience (nothing is stored or sent)."""
    from quell.cli import store
    from quell.communication.what_we_know import draft_update

    with store() as session:
        data = draft_update(session, incident_id, audience, backend=backend)
    if as_json:
        _json(data)
        return
    if data["warning"]:
        console.print(f"[yellow]{data['warning']}[/yellow]")
    console.print(f"[dim]DRAFT by {data['drafted_by']}: not published[/dim]")
    click.echo(data["text"])


@update.command("publish")
@click.argument("incident_id", type=int)
@click.option("--audience", default="internal", show_default=True)
@click.option("--from-draft", is_flag=True, help="Publish the template draft as it stands.")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON with what_happened, what_we_are_testing, what_we_are_doing, "
    "what_we_do_not_know (and optionally next_update_at).",
)
@click.option("--as", "actor", default="cli", show_default=True)
def update_publish(
    incident_id: int, audience: str, from_draft: bool, path: Path | None, actor: str
) -> None:
    """Publish an update: record it on the timeline and send it through the notifiers."""
    from quell.cli import store
    from quell.communication.what_we_know import FIELDS, draft_update, publish_update

    if not from_draft and path is None:
        raise click.UsageError("give --file FILE with the update, or --from-draft")
    with store() as session:
        next_at = None
        if path is not None:
            try:
                body = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise InvalidInput(f"{path}: cannot read JSON ({exc})", field="file") from None
            if not isinstance(body, dict):
                raise InvalidInput(f"{path}: expected a JSON object", field="file")
            next_at = _time(body.get("next_update_at"), "next_update_at")
        else:
            body = draft_update(session, incident_id, audience)
        fields = {name: str(body.get(name) or "") for name in FIELDS}
        published = publish_update(
            session,
            incident_id,
            audience=audience,
            fields=fields,
            actor=actor,
            next_update_at=next_at,
            machine_draft=bool(body.get("machine_draft")),
        )
    console.print(
        f"update #{published['number']} to {audience} published; next update "
        f"{published['next_update_at'] or 'not scheduled'}; "
        f"{len(published['deliveries'])} deliveries"
        + (f" ({published['delivery_note']})" if published["delivery_note"] else "")
    )


@update.command("list")
@click.argument("incident_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def update_list(incident_id: int, as_json: bool) -> None:
    """List published updates and whether the next one is due or overdue."""
    from quell.cli import store
    from quell.communication.what_we_know import updates_overview

    with store() as session:
        data = updates_overview(session, incident_id)
    if as_json:
        _json(data)
        return
    cad = data["cadence"]
    console.print(
        f"next update due {cad['next_update_due_at'] or '-'}: [bold]{cad['state']}[/bold]"
    )
    table = Table("#", "published", "by", "audience", "what happened")
    for u in data["updates"]:
        table.add_row(
            str(u["number"]),
            u["published_at"][:16],
            u["published_by"],
            u["audience"],
            u["what_happened"],
        )
    console.print(table)


# ---------------------------------------------------------------- postmortem


@click.command()
@click.argument("incident_id", type=int)
@click.option(
    "--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True
)
@click.option(
    "--edit",
    "path",
    type=click.Path(path_type=Path),
    default=None,
    help="Save the postmortem from a JSON file (same shape as the API's PUT).",
)
@click.option("--as", "actor", default="cli", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None)
def postmortem(
    incident_id: int, fmt: str, path: Path | None, actor: str, output: Path | None
) -> None:
    """Export an incident's postmortem (or save one with --edit FILE)."""
    from quell.cli import store
    from quell.postmortem.export import render_postmortem
    from quell.postmortem.service import get_postmortem, parse_postmortem, save_postmortem

    with store() as session:
        if path is not None:
            try:
                raw = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise InvalidInput(f"{path}: cannot read JSON ({exc})", field="file") from None
            save_postmortem(session, incident_id, parse_postmortem(raw), actor=actor)
        if fmt == "json":
            text = orjson.dumps(
                get_postmortem(session, incident_id), option=orjson.OPT_INDENT_2, default=str
            ).decode()
        else:
            text = render_postmortem(session, incident_id, "html" if fmt == "html" else "md")
    if output is not None:
        output.write_text(text, "utf-8")
        console.print(f"wrote {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


# ---------------------------------------------------------------- metrics


@click.command()
@click.option("--since", default=None, help="ISO time; default 30 days before --until.")
@click.option("--until", default=None, help="ISO time; default now.")
@click.option(
    "--by",
    type=click.Choice(["system", "archetype", "severity"]),
    default="severity",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True)
def metrics(since: str | None, until: str | None, by: str, as_json: bool) -> None:
    """Mean, p50 and p90 time to detect, acknowledge, mitigate and resolve."""
    from quell.cli import store
    from quell.metrics import MEASURES, response_metrics

    with store() as session:
        data = response_metrics(
            session, since=_time(since, "since"), until=_time(until, "until"), by=by
        )
    if as_json:
        _json(data)
        return
    table = Table(
        by,
        "incidents",
        *(m.replace("time_to_", "") for m in MEASURES),
        title=f"{data['since'][:16]} .. {data['until'][:16]}  (mean / p50 / p90)",
    )
    for group in [{by: "all", "incidents": data["incidents"], **data["overall"]}, *data["groups"]]:
        cells = [
            f"{_minutes(group[m]['mean_s'])} / {_minutes(group[m]['p50_s'])} / "
            f"{_minutes(group[m]['p90_s'])}"
            for m in MEASURES
        ]
        table.add_row(str(group[by]), str(group["incidents"]), *cells)
    console.print(table)
