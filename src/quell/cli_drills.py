"""`quell drill`: list scenarios and run one through the real pipeline."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import Progress
from rich.table import Table


def register(main: click.Group) -> None:
    main.add_command(drill)


@click.group()
def drill() -> None:
    """Rehearse incidents: replay a scenario's signals through the real pipeline."""


@drill.command("list")
@click.option("--scenarios", "path", type=click.Path(path_type=Path), default=None)
def drill_list(path: Path | None) -> None:
    """The drill scenarios, one per archetype."""
    from quell.cli import console
    from quell.drills import load_scenarios

    table = Table("name", "hits", "expects", "steps")
    table.add_column("title", ratio=1)
    for name, s in load_scenarios(path).items():
        expects = ", ".join(f"{k}={v}" for k, v in s.expect.model_dump().items() if v) or "-"
        table.add_row(name, s.target, expects, str(len(s.steps)), s.title)
    console.print(table)


@drill.command("run")
@click.argument("name")
@click.option(
    "--system", default=None, help="The AI system to hit (default: by the scenario's kind)."
)
@click.option(
    "--speed", default=1.0, show_default=True, help="Time compression: 10 = ten times faster."
)
@click.option(
    "--wait", "wait_s", default=60.0, show_default=True, help="Seconds to wait for an incident."
)
@click.option("--scenarios", "path", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
def drill_run(
    name: str, system: str | None, speed: float, wait_s: float, path: Path | None, as_json: bool
) -> None:
    """Run a drill against this store and report what the pipeline made of it."""
    import sys

    from quell.cli import _engine, _print_json, console
    from quell.drills import load_scenarios, run_drill

    scenarios = load_scenarios(path)
    engine = _engine()
    with Progress(console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task(f"drill {name}", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = run_drill(
            engine,
            name,
            system=system,
            speed=speed,
            wait_s=wait_s,
            scenarios=scenarios,
            progress=step,
        )
    if as_json:
        _print_json(report.to_dict())
    else:
        console.print(
            f"drill {report.drill_id}: {report.scenario} on {report.system}, "
            f"{report.signals_sent} signals -> incidents {report.incident_ids or 'none'}"
        )
        if report.joined_existing:
            console.print("the signals joined an incident that was already open")
        elif report.time_to_candidate_s is not None:
            console.print(f"time to coherent candidate: {report.time_to_candidate_s:.1f} s")
        for check in report.checks:
            mark = "[green]pass[/green]" if check.passed else "[red]FAIL[/red]"
            console.print(f"  {mark} {check.name}: {check.detail}")
        if report.playbook_steps:
            console.print("response steps the playbook offers:")
            for text in report.playbook_steps:
                console.print(f"  - {text}")
    if not report.passed:
        sys.exit(1)
