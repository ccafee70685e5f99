"""`quell ingest FILE.jsonl`: replay signals from a shell through the same write path as the API.

Each line is one body in the chosen format (a native signal, an Alertmanager notification or
a PagerDuty event) and is stored verbatim as its own payload. Malformed lines are reported
with their line number and skipped; the rest are stored in transactions of up to --batch
signals. Exit 0 when every line was stored, 1 when some were skipped, 2 when the input is
unusable (missing file, nothing valid in it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.orm import Session

from quell.errors import QuellError
from quell.ingest import service
from quell.ingest.alertmanager import parse_alertmanager
from quell.ingest.integrations import by_routing_key
from quell.ingest.native import parse_native
from quell.ingest.normalise import Context, Item
from quell.ingest.pagerduty import parse_pagerduty, routing_key_of
from quell.timeutil import utcnow

FORMATS = ("native", "alertmanager", "pagerduty")
MAX_REPORTED = 20  # malformed lines printed one by one; the rest are counted


class UnusableInput(QuellError):
    """The file cannot be replayed at all."""


def parse_line(
    fmt: str, body: Any, ctx: Context, session: Session, *, max_batch: int
) -> list[Item]:
    """Items of one line in format `fmt` (raises InvalidInput naming the field)."""
    if fmt == "native":
        return parse_native(body, ctx, max_batch=max_batch)
    if fmt == "alertmanager":
        return parse_alertmanager(body, ctx, max_batch=max_batch)
    key = routing_key_of(body)
    integration = by_routing_key(session, key)
    ctx.routing_system = integration.system if integration else None
    item, _dedup_key = parse_pagerduty(body, ctx, key)
    return [item]


def _read_lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnusableInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnusableInput(f"{path}: is a directory") from None
    except PermissionError:
        raise UnusableInput(f"{path}: permission denied") from None
    return data.splitlines()


def register(main: click.Group) -> None:
    @main.command("ingest")
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="native",
        show_default=True,
        help="What each line is.",
    )
    @click.option(
        "--batch",
        default=1000,
        show_default=True,
        type=click.IntRange(1, 100_000),
        help="Signals per transaction.",
    )
    @click.option("--as", "actor", default="cli", show_default=True, help="Recorded as sender.")
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    def ingest(fmt: str, file: Path, batch: int, actor: str, as_json: bool) -> None:
        """Replay signals from a JSON-lines file (one body per line) into the store."""
        from quell.cli import console, err_console, store

        lines = _read_lines(file)
        numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
        if not numbered:
            raise UnusableInput(f"{file}: no lines to ingest")
        totals = service.IngestResult()
        incidents: set[int] = set()
        bad: list[tuple[int, str]] = []
        stored_lines = 0
        progress = Progress(
            TextColumn("ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=as_json or not err_console.is_terminal,
        )
        with progress:
            task = progress.add_task("lines", total=len(numbered))
            start = 0
            while start < len(numbered):
                with store() as session:
                    engine = session.get_bind()
                    with service.write_lock(engine):  # type: ignore[arg-type]
                        known = service.known_systems(session)
                        envelopes: list[service.Envelope] = []
                        count = 0
                        while start < len(numbered) and count < batch:
                            number, raw = numbered[start]
                            start += 1
                            now = utcnow()
                            try:
                                body = orjson.loads(raw)
                                ctx = Context(now, known)
                                items = parse_line(fmt, body, ctx, session, max_batch=batch)
                            except orjson.JSONDecodeError as exc:
                                bad.append((number, f"not valid JSON: {exc}"))
                                continue
                            except QuellError as exc:
                                bad.append((number, exc.message))
                                continue
                            text = raw.decode("utf-8")
                            envelopes.append(service.Envelope(fmt, text, actor, now, items))
                            count += len(items)
                        result = service.store_envelopes(
                            session,
                            envelopes,
                            service.correlator_for(engine),  # type: ignore[arg-type]
                        )
                        session.commit()
                stored_lines += len(envelopes)
                totals.add(result)
                incidents.update(result.incident_ids)
                progress.update(task, completed=start)
        for number, message in bad[:MAX_REPORTED]:
            click.echo(f"{file}:{number}: {message}", err=True)
        if len(bad) > MAX_REPORTED:
            click.echo(f"... and {len(bad) - MAX_REPORTED} more malformed lines", err=True)
        if not stored_lines:
            raise UnusableInput(f"{file}: none of its {len(numbered)} lines could be ingested")
        summary = totals.to_dict()
        summary.pop("signals")
        summary["incidents"] = sorted(incidents)
        summary["lines"] = {"stored": stored_lines, "skipped": len(bad)}
        if as_json:
            click.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
        else:
            table = Table("", "count")
            for label, value in (
                ("lines stored", stored_lines),
                ("lines skipped", len(bad)),
                ("signals", summary["accepted"]),
                ("new alerts", totals.new_alerts),
                ("deduplicated", totals.deduplicated),
                ("resolved", totals.resolved),
                ("unmapped", totals.unmapped),
            ):
                table.add_row(label, str(value))
            table.add_row("incidents", ", ".join(map(str, summary["incidents"])) or "-")
            console.print(table)
        if bad:
            sys.exit(1)
