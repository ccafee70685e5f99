"""CLI for escalation and regulatory clocks: `quell oncall`, `quell page`, `quell clocks`,
`quell worker`."""

from __future__ import annotations

from datetime import datetime

import click
from rich.table import Table

from quell.errors import InvalidInput
from quell.timeutil import parse_time


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise InvalidInput(f"--at: {text!r} is not an ISO 8601 time", field="at") from None


def register(main: click.Group) -> None:
    """Add the escalation commands to `quell`."""
    from quell.cli import _print_json, console, store

    @main.command("oncall")
    @click.option("--schedule", default=None, help="One schedule (default: all).")
    @click.option("--at", "at", default=None, help="ISO 8601 time (default: now).")
    @click.option("--json", "as_json", is_flag=True)
    def oncall_cmd(schedule: str | None, at: str | None, as_json: bool) -> None:
        """Who is on call, now or at a given time."""
        from quell.escalation import oncall

        when = _when(at)
        with store() as session:
            rows = (
                [oncall.get_schedule(session, schedule)]
                if schedule
                else oncall.list_schedules(session)
            )
            result = [oncall.who_is_on_call(session, row, when).to_dict() for row in rows]
        if as_json:
            _print_json(result)
            return
        if not result:
            console.print("no on-call schedules; add `schedules:` to quell.yaml")
            return
        table = Table("schedule", "on call", "rotation", "source", "until")
        for r in result:
            table.add_row(
                r["schedule"],
                r["person"] or "[red]nobody[/red]",
                r["rotation"] or "-",
                r["source"],
                (r["until"] or "-")[:16],
            )
        console.print(table)

    @main.command("page")
    @click.argument("incident_id", type=int)
    @click.option("--level", default=1, show_default=True, type=click.IntRange(1, 20))
    @click.option("--as", "actor", default="cli", show_default=True)
    @click.option("--reason", default="")
    @click.option("--json", "as_json", is_flag=True)
    def page_cmd(incident_id: int, level: int, actor: str, reason: str, as_json: bool) -> None:
        """Page an incident's owning team now and start its escalation timer."""
        from quell.escalation import service

        with store() as session:
            service.page(session, incident_id, actor=actor, reason=reason, level=level)
            view = service.escalation_view(session, incident_id)
        if as_json:
            _print_json(view)
            return
        last = view["history"][-1] if view["history"] else {}
        console.print(
            f"incident {incident_id}: paged level {view['level']} of policy {view['policy']} "
            f"({', '.join(last.get('people', [])) or 'nobody reachable'}); "
            f"escalates at {view['next_due_at'] or '-'}"
        )
        for d in last.get("deliveries", []):
            console.print(f"  {d['channel']}: {d['status']}")

    @main.command("clocks")
    @click.argument("incident_id", type=int)
    @click.option(
        "--met",
        "met",
        default=None,
        metavar="REGIME/STAGE",
        help="Record that this notification was filed.",
    )
    @click.option("--reference", default="", help="With --met: the filing's reference.")
    @click.option("--as", "actor", default="cli", show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    def clocks_cmd(
        incident_id: int, met: str | None, reference: str, actor: str, as_json: bool
    ) -> None:
        """Regulatory clocks of an incident (a tracking aid, not legal advice)."""
        from quell.compliance import clocks

        with store() as session:
            if met:
                regime, _, stage = met.partition("/")
                if not stage:
                    raise InvalidInput("--met takes REGIME/STAGE, e.g. gdpr_art33/notification")
                clocks.mark_met(
                    session, incident_id, regime, stage, actor=actor, reference=reference
                )
            view = clocks.clocks(session, incident_id)
        if as_json:
            _print_json(view)
            return
        if not view["clocks"]:
            console.print(
                f"incident {incident_id}: no regulatory clock has started "
                f"(regimes of its systems: {', '.join(view['regimes']) or 'none'})"
            )
        else:
            table = Table("regime", "stage", "anchor", "deadline", "status", "remaining")
            colour = {"overdue": "red", "due": "yellow", "met": "green", "waiting": "dim"}
            for c in view["clocks"]:
                table.add_row(
                    c["regime"],
                    c["stage"],
                    f"{c['anchor']['kind']} {(c['anchor']['at'] or '-')[:16]}",
                    (c["deadline"] or "-")[:16],
                    f"[{colour[c['status']]}]{c['status']}[/]",
                    c["remaining"] or "-",
                )
            console.print(table)
        console.print(f"[dim]{view['disclaimer']}[/dim]")

    @main.command("worker")
    @click.option("--once", is_flag=True, help="Run the due jobs once and exit.")
    def worker_cmd(once: bool) -> None:
        """Run the scheduler's worker in the foreground (escalations, retries, reminders);
        migrates the database first, like `quell serve`."""
        import time

        import quell.compliance.clocks
        import quell.escalation  # noqa: F401
        from quell.cli import _engine
        from quell.scheduler import Worker

        worker = Worker(_engine(migrate=True))  # like `quell serve`
        if once:
            console.print(f"ran {worker.tick()} job(s)")
            return
        worker.start()
        console.print("scheduler worker running; Ctrl-C to stop")
        try:
            while worker.running:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            worker.stop()
