"""Command-line doors onto the detectors: ``quell scan`` and ``quell eval detector``."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson

from quell.detection.base import (
    DEFAULT_TEXT_DETECTORS,
    MAX_SCAN_CHARS,
    DetectorInputError,
    Finding,
    TextDetector,
    coerce_text,
    finding_to_signal,
    get_detector,
    scan_text,
)
from quell.errors import QuellError

SEND_BATCH = 200  # signals per intake request (intake accepts up to QUELL_MAX_BATCH)


class DetectionCliError(click.ClickException):
    """A one-line CLI error that exits with status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"quell: error: {self.format_message()}", err=True)


def _detectors(names: str | None) -> list[TextDetector]:
    chosen = [n.strip() for n in names.split(",") if n.strip()] if names else list(
        DEFAULT_TEXT_DETECTORS)  # fmt: skip
    return [_detector(n) for n in chosen]


def _detector(name: str) -> TextDetector:
    """A registered detector or a model folder, or a one-line error (exit 2)."""
    try:
        return get_detector(name)
    except QuellError as exc:
        raise DetectionCliError(exc.message) from None


def _iter_texts(path: Path, field: str) -> Iterator[tuple[int, str | None, str | None]]:
    """Yield (line number, text, error) for each non-blank line of a JSONL file."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                try:
                    raw.decode("utf-8")
                    yield number, None, "invalid JSON"
                except UnicodeDecodeError:
                    yield number, None, "not valid UTF-8"
                continue
            value = obj if isinstance(obj, str) else obj.get(field) if isinstance(
                obj, dict) else None  # fmt: skip
            if not isinstance(value, str):
                yield number, None, f'no string field "{field}"'
                continue
            yield number, value, None


def _finding_dict(line: int, f: Finding) -> dict[str, Any]:
    return {"line": line, "detector": f.detector, "category": f.category, "score": f.score,
            "archetype": f.archetype, "span": list(f.span) if f.span else None,
            "evidence": f.evidence, "details": f.details}  # fmt: skip


def _send(url: str, token: str | None, signals: list[dict[str, Any]]) -> int:
    """Post signals to intake in batches; return how many were accepted."""
    import httpx

    endpoint = url.rstrip("/") + "/api/v1/signals"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    sent = 0
    try:
        with httpx.Client(timeout=30.0) as client:
            for start in range(0, len(signals), SEND_BATCH):
                batch = signals[start : start + SEND_BATCH]
                resp = client.post(
                    endpoint,
                    content=orjson.dumps({"signals": batch}),
                    headers={**headers, "Content-Type": "application/json"},
                )
                if resp.status_code >= 400:
                    raise DetectionCliError(
                        f"{endpoint} answered {resp.status_code}: {resp.text[:200]!r}"
                        f" after {sent} signals were sent"
                    )
                sent += len(batch)
    except httpx.HTTPError as exc:
        raise DetectionCliError(f"could not send to {endpoint}: {exc}") from None
    return sent


@click.command("scan")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--detectors", "names",
              help="Comma-separated detector names or model folders (default: all).")
@click.option("--field", default="text", show_default=True, help="JSON field holding the text.")
@click.option("--system", default=None, help="AI system name to put on sent signals.")
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
@click.option("--send", "send_url", default=None, help="quell server URL to post signals to.")
@click.option("--token", default=None, envvar="QUELL_TOKEN", help="API token for --send.")
def scan_command(file: Path, names: str | None, field: str, system: str | None, as_json: bool,
                 send_url: str | None, token: str | None) -> None:  # fmt: skip
    """Scan each line of a JSONL file with the offline detectors."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    detectors = _detectors(names)
    err = Console(stderr=True)
    total = sum(1 for _ in file.open("rb"))
    found: list[dict[str, Any]] = []
    signals: list[dict[str, Any]] = []
    malformed: list[dict[str, Any]] = []
    scanned = flagged = truncated = 0
    counts: Counter[tuple[str, str]] = Counter()
    with Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=as_json or not err.is_terminal,
    ) as progress:
        task = progress.add_task("scan", total=total)
        for line, text, problem in _iter_texts(file, field):
            progress.update(task, completed=line)
            if problem is None and text is not None:
                try:
                    coerce_text(text)
                except DetectorInputError as exc:
                    problem = exc.message
            if problem is not None or text is None:
                malformed.append({"line": line, "error": problem})
                continue
            scanned += 1
            truncated += len(text) > MAX_SCAN_CHARS
            findings = scan_text(text, detectors)
            flagged += bool(findings)
            for f in findings:
                counts[(f.detector, f.category)] += 1
                found.append(_finding_dict(line, f))
                if send_url:
                    signal = finding_to_signal(f, system)
                    signal["evidence"]["line"] = line
                    signals.append(signal)  # fmt: skip
    sent = _send(send_url, token, signals) if send_url and signals else 0
    summary = {"lines_scanned": scanned, "lines_flagged": flagged, "findings": len(found),
               "malformed": len(malformed), "truncated": truncated,
               "detectors": [d.name for d in detectors], "signals_sent": sent,
               "by_category": {f"{d}/{c}": n for (d, c), n in sorted(counts.items())}}  # fmt: skip
    if as_json:
        click.echo(orjson.dumps({"summary": summary, "findings": found,
                                 "malformed": malformed}).decode())  # fmt: skip
        return
    for m in malformed:
        err.print(f"line {m['line']}: skipped ({m['error']})", highlight=False)
    out = Console()
    table = Table(title=f"{file.name}: {scanned} lines scanned, {flagged} flagged")
    table.add_column("detector")
    table.add_column("category")
    table.add_column("findings", justify="right")
    for (d, c), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        table.add_row(d, c, str(n))
    out.print(table)
    if truncated:
        out.print(f"{truncated} line(s) longer than {MAX_SCAN_CHARS} characters were "
                  "scanned only up to that length")  # fmt: skip
    if send_url:
        out.print(f"sent {sent} signal(s) to {send_url}")


@click.group("eval")
def eval_group() -> None:
    """Measure detectors on labelled data."""


@eval_group.command("detector")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def eval_detector(name: str, file: Path, as_json: bool) -> None:
    """Score detector NAME on FILE ({"text", "label"} or {"full_text", "spans"} lines).

    NAME is a built-in detector or a model folder holding quell-detector.json.
    """
    from quell.detection.evaluate import evaluate

    result = evaluate(_detector(name), file)
    if as_json:
        click.echo(orjson.dumps(result).decode())
        return
    for m in result["malformed"]:
        click.echo(f"line {m['line']}: skipped ({m['error']})", err=True)
    click.echo(f"{name} on {file.name}: n={result['n']}")
    for key in ("precision", "recall", "f1", "balanced_accuracy", "texts_per_second"):
        click.echo(f"  {key:<18} {result[key]}")
    if "span" in result:
        span = result["span"]
        click.echo(f"  span precision     {span['precision']}")
        click.echo(f"  span recall        {span['recall']}")


def register(main: click.Group) -> None:
    """Add ``scan`` and ``eval detector`` to the main ``quell`` command."""
    main.add_command(scan_command)
    existing = main.commands.get("eval")
    if isinstance(existing, click.Group):
        existing.add_command(eval_detector)
    else:
        main.add_command(eval_group)


if __name__ == "__main__":  # pragma: no cover - handy during development
    group = click.Group("quell")
    register(group)
    group.main(sys.argv[1:])
