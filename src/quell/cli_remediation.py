"""Command-line doors onto containment actions and decision gates.

``quell actions list|propose|approve|reject|cancel``, ``quell actions kill-switch``,
``quell gates ID`` and ``quell gate answer ID KEY yes|no``. Who is acting: the API token in
``--token`` / ``$QUELL_TOKEN`` (its name and role, as over HTTP), or else ``--as NAME`` with the
admin role, since whoever runs the CLI on the server already holds the whole database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from quell.auth.service import Principal, authenticate_token

if TYPE_CHECKING:
    from quell.remediation.action_models import ContainmentAction

console = Console()

_as = click.option("--as", "actor", default=None, help="Who is acting (without a token).")
_token = click.option("--token", default=None, help="Act as this API token ($QUELL_TOKEN).")
_reason = click.option("--reason", default="", help="Why, for the timeline.")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _who(session: Session, actor: str | None, token: str | None) -> Principal:
    token = token or os.environ.get("QUELL_TOKEN")
    if token:
        return authenticate_token(session, token)
    return Principal(name=actor or os.environ.get("USER") or "cli", role="admin")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _action_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("id", "type", "system", "status", "proposed by", "approved by")
    table.add_column("result / note", ratio=1)
    for row in rows:
        approved = row["approved_by"] or ""
        if row["policy"]:
            approved = f"policy {row['policy']}"
        note = row.get("note") or row["error"] or row["result"].get("detail", "")
        if row["status"] == "proposed":
            note = note or f"needs {row['approval']['why']}"
        table.add_row(
            str(row["id"]),
            row["type"],
            row["system"],
            row["status"],
            row["proposed_by"],
            approved,
            note,
        )
    return table


def register(main: click.Group) -> None:
    """Add the remediation commands to `quell`."""
    # Imported for their hooks: the gates' transition guard and the policies' change listener
    # must be in place for every command that changes an incident, not only these.
    import quell.remediation.gates
    import quell.remediation.policies  # noqa: F401
    from quell.cli import store

    @main.group()
    def actions() -> None:
        """Containment actions: propose, approve, reject, cancel, and the agent kill switch."""

    @actions.command("list")
    @click.argument("incident_id", type=int)
    @_json
    def actions_list(incident_id: int, as_json: bool) -> None:
        """List the containment actions of an incident."""
        from quell.remediation.actions import action_to_dict, list_actions

        with store() as session:
            rows = [action_to_dict(a) for a in list_actions(session, incident_id)]
        if as_json:
            _echo_json(rows)
            return
        console.print(_action_table(rows))

    @actions.command("propose")
    @click.argument("incident_id", type=int)
    @click.argument("action_type")
    @click.option("--system", default=None, help="The affected system (if several could).")
    @click.option("--param", "params", multiple=True, help="KEY=VALUE (VALUE read as JSON).")
    @_reason
    @_as
    @_token
    @_json
    def actions_propose(
        incident_id: int,
        action_type: str,
        system: str | None,
        params: tuple[str, ...],
        reason: str,
        actor: str | None,
        token: str | None,
        as_json: bool,
    ) -> None:
        """Propose a containment action (e.g. rate_limit --param requests_per_minute=60)."""
        from quell.errors import InvalidInput
        from quell.remediation.actions import action_to_dict, propose_action

        parsed: dict[str, Any] = {}
        for item in params:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise InvalidInput(f"--param {item!r} is not KEY=VALUE", field="param")
            try:
                parsed[key] = json.loads(value)
            except json.JSONDecodeError:
                parsed[key] = value
        with store() as session:
            action = propose_action(
                session,
                incident_id,
                action_type,
                who=_who(session, actor, token),
                system=system,
                params=parsed,
                reason=reason,
            )
            row = action_to_dict(action)
        if as_json:
            _echo_json(row)
            return
        console.print(
            f"action {row['id']} proposed: {row['type']} on {row['system']} "
            f"(approval: {row['approval']['why']})"
        )

    def _decide(
        verb: str, action_id: int, reason: str, actor: str | None, token: str | None
    ) -> None:
        from quell.remediation import actions as service

        verbs: dict[str, Callable[..., ContainmentAction]] = {
            "approve": service.approve_action,
            "reject": service.reject_action,
            "cancel": service.cancel_action,
        }
        do = verbs[verb]
        with store() as session:
            row = service.action_to_dict(
                do(session, action_id, who=_who(session, actor, token), reason=reason)
            )
        console.print(_action_table([row]))

    @actions.command("approve")
    @click.argument("action_id", type=int)
    @_reason
    @_as
    @_token
    def actions_approve(action_id: int, reason: str, actor: str | None, token: str | None) -> None:
        """Approve a proposed action; its connector carries it out at once."""
        _decide("approve", action_id, reason, actor, token)

    @actions.command("reject")
    @click.argument("action_id", type=int)
    @click.option("--reason", required=True, help="Why it is rejected (required).")
    @_as
    @_token
    def actions_reject(action_id: int, reason: str, actor: str | None, token: str | None) -> None:
        """Reject a proposed action."""
        _decide("reject", action_id, reason, actor, token)

    @actions.command("cancel")
    @click.argument("action_id", type=int)
    @_reason
    @_as
    @_token
    def actions_cancel(action_id: int, reason: str, actor: str | None, token: str | None) -> None:
        """Withdraw a proposed action."""
        _decide("cancel", action_id, reason, actor, token)

    @actions.command("kill-switch")
    @click.argument("incident_id", type=int)
    @_reason
    @_as
    @_token
    @_json
    def actions_kill_switch(
        incident_id: int, reason: str, actor: str | None, token: str | None, as_json: bool
    ) -> None:
        """Revoke the incident's agent(s) now (or propose it, if a second approver is needed)."""
        from quell.remediation.kill_switch import kill_switch

        with store() as session:
            result = kill_switch(
                session, incident_id, who=_who(session, actor, token), reason=reason
            )
        if as_json:
            _echo_json(result)
            return
        console.print(result["message"])
        console.print(_action_table(result["actions"]))

    @main.command("gates")
    @click.argument("incident_id", type=int)
    @_json
    def gates_list(incident_id: int, as_json: bool) -> None:
        """Show the decision gates of an incident, answered and open."""
        from quell.incidents.service import get_incident
        from quell.remediation.gates import incident_gates

        with store() as session:
            rows = incident_gates(session, get_incident(session, incident_id))
        if as_json:
            _echo_json(rows)
            return
        table = Table("key", "required", "answer", "by")
        table.add_column("question", ratio=1)
        for row in rows:
            required = f"before {row['required_before']}" if row["required"] else "no"
            answer = "open" if not row["answered"] else ("yes" if row["answer"] else "no")
            table.add_row(row["key"], required, answer, row["answered_by"] or "", row["question"])
        console.print(table)

    @main.group()
    def gate() -> None:
        """Answer a decision gate."""

    @gate.command("answer")
    @click.argument("incident_id", type=int)
    @click.argument("key")
    @click.argument("answer", type=click.Choice(["yes", "no"]))
    @click.option("--note", default="", help="What the answer rests on.")
    @_as
    @_token
    @_json
    def gate_answer(
        incident_id: int,
        key: str,
        answer: str,
        note: str,
        actor: str | None,
        token: str | None,
        as_json: bool,
    ) -> None:
        """Answer a decision gate yes or no; the answer becomes the incident fact KEY."""
        from quell.remediation.gates import answer_gate

        with store() as session:
            result = answer_gate(
                session, incident_id, key, answer, who=_who(session, actor, token), note=note
            )
        if as_json:
            _echo_json(result)
            return
        console.print(f"{key} = {answer} on incident {incident_id}")
        calls = result["gate"]["calls_for"] or {}
        for role in calls.get("roles", []):
            held = role["assigned_to"] or "unassigned"
            console.print(f"  role to assign: {role['title']} ({held})")
        for step in calls.get("steps", []):
            console.print(f"  step: {step['text'] or step['id']}")
        for action in result["proposed_actions"]:
            console.print(
                f"  proposed action {action['id']}: {action['type']} on {action['system']}"
            )
