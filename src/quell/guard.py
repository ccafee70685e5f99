"""``quell.guard``: an agent asks quell before each tool call and reports what it did.

::

    from quell.guard import Guard

    guard = Guard("refund-agent", "http://127.0.0.1:8000", token)

    @guard.tool("issue_refund", undo=lambda result, args: {"kind": "tool", "tool": "cancel_refund",
                                                           "arguments": {"id": result["id"]}})
    def issue_refund(order_id: str, amount: float) -> dict: ...

Answers are cached for a couple of seconds (never longer than the server's ``ttl_s``), so a
revoke reaches a running agent within that time. When quell cannot be reached the guard fails
open or closed as the system's policy says (learned from the server's answers); before it has
heard from the server at all it fails closed unless ``fail_mode`` is given.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from quell.sdk_errors import ActionDenied, ApprovalRequired, GuardError, SDKConfigError
from quell.sdk_transport import BackgroundSender, http_poster

__all__ = ["ActionDenied", "ApprovalRequired", "Decision", "Guard", "GuardError"]

FailMode = Literal["open", "closed"]
F = TypeVar("F", bound=Callable[..., Any])

# Longest text of a tool's result kept in the action record.
MAX_RESULT_CHARS = 4000


@dataclass(frozen=True)
class Decision:
    """The guard's answer to one proposed tool call, and where it came from."""

    decision: Literal["allow", "deny", "needs_approval"]
    reasons: tuple[str, ...] = ()
    ttl_s: float = 0.0
    policy_version: int | None = None
    action_id: int | None = None
    revoked: bool = False
    # server | cache | fail_open | fail_closed
    source: str = "server"
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"


@dataclass
class _Cached:
    decision: Decision
    expires: float


class Guard:
    """The policy decision point of one agent system, as seen from the agent."""

    def __init__(
        self,
        system: str,
        url: str,
        token: str,
        *,
        cache_ttl_s: float = 2.0,
        fail_mode: FailMode | None = None,
        timeout_s: float = 1.0,
        agent_id: str | None = None,
        run_id: str | None = None,
        max_queue: int = 1000,
    ) -> None:
        if not system:
            raise SDKConfigError("system: name the agent system this guard speaks for")
        if not url.startswith(("http://", "https://")):
            raise SDKConfigError(f"url must start with http:// or https://, not {url!r}")
        if fail_mode not in (None, "open", "closed"):
            raise SDKConfigError(f"fail_mode must be 'open' or 'closed', not {fail_mode!r}")
        if cache_ttl_s < 0:
            raise SDKConfigError("cache_ttl_s cannot be negative")
        import httpx

        self.system = system
        self.cache_ttl_s = cache_ttl_s
        self.agent_id = agent_id
        self.run_id = run_id
        self._fail_mode_set = fail_mode
        self._fail_mode_learned: FailMode | None = None
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )
        self._cache: dict[str, _Cached] = {}
        self._revoked_until = 0.0
        self._revoked_decision: Decision | None = None
        self._lock = threading.Lock()
        self._records = BackgroundSender(
            http_poster(
                url, token, "/api/v1/guard/actions", timeout_s=max(timeout_s, 2.0), wrap=None
            ),
            max_queue=max_queue,
            batch_size=50,
            flush_interval_s=0.5,
            name="quell-guard",
        )
        self.unreachable = 0  # how many times quell could not be asked

    @property
    def fail_mode(self) -> FailMode:
        """What happens when quell is unreachable: as set, as the server said, else closed."""
        return self._fail_mode_set or self._fail_mode_learned or "closed"

    # -- asking --

    def check(
        self,
        tool: str,
        arguments: dict[str, Any] | None = None,
        *,
        cost: float | None = None,
        data_classes: Sequence[str] = (),
        approval_id: int | None = None,
    ) -> Decision:
        """Ask whether ``tool`` may run with ``arguments`` (answered from cache when fresh)."""
        arguments = _jsonable(arguments or {})
        key = json.dumps([tool, arguments, cost, sorted(data_classes)], sort_keys=True)
        now = time.monotonic()
        with self._lock:
            if self._revoked_decision is not None and now < self._revoked_until:
                return _from_cache(self._revoked_decision)
            cached = self._cache.get(key)
            if approval_id is None and cached is not None and now < cached.expires:
                return _from_cache(cached.decision)
        body: dict[str, Any] = {"system": self.system, "tool": tool, "arguments": arguments}
        for name, value in (
            ("agent_id", self.agent_id),
            ("run_id", self.run_id),
            ("cost", cost),
            ("approval_id", approval_id),
        ):
            if value is not None:
                body[name] = value
        if data_classes:
            body["data_classes"] = list(data_classes)
        try:
            response = self._client.post("/api/v1/guard/decide", json=body)
        except Exception as exc:  # connection refused, timeout, DNS: quell is unreachable
            return self._unreachable(f"{type(exc).__name__}: {exc}")
        if response.status_code >= 500:
            return self._unreachable(f"quell answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise GuardError(f"quell refused the question: {_message(response)}")
        data = response.json()
        ttl = min(self.cache_ttl_s, float(data.get("ttl_s", 0.0)))
        decision = Decision(
            decision=data["decision"],
            reasons=tuple(data.get("reasons", ())),
            ttl_s=ttl,
            policy_version=data.get("policy_version"),
            action_id=data.get("action_id"),
            revoked=bool(data.get("revoked", False)),
            raw=data,
        )
        with self._lock:
            if data.get("fail_mode") in ("open", "closed"):
                self._fail_mode_learned = data["fail_mode"]
            if decision.revoked:
                # A revoke covers every tool: answer all of them locally for a while.
                self._revoked_decision = decision
                self._revoked_until = now + self.cache_ttl_s
                self._cache.clear()
            else:
                self._revoked_decision = None
                if ttl > 0 and decision.decision in ("allow", "deny") and approval_id is None:
                    self._cache[key] = _Cached(decision, now + ttl)
        return decision

    def _unreachable(self, why: str) -> Decision:
        self.unreachable += 1
        mode = self.fail_mode
        return Decision(
            decision="allow" if mode == "open" else "deny",
            reasons=(f"quell unreachable ({why}); failing {mode}",),
            source=f"fail_{mode}",
        )

    def require(self, tool: str, arguments: dict[str, Any] | None = None, **kw: Any) -> Decision:
        """Like ``check``, but raise ``ActionDenied`` or ``ApprovalRequired`` unless allowed."""
        decision = self.check(tool, arguments, **kw)
        _raise_unless_allowed(tool, decision)
        return decision

    # -- recording --

    def record(
        self,
        tool: str,
        arguments: dict[str, Any] | None = None,
        *,
        result: Any = None,
        outcome: Literal["ok", "error"] = "ok",
        undo: dict[str, Any] | None = None,
        cost: float | None = None,
        decision: Decision | None = None,
    ) -> bool:
        """Queue a record of what the agent did; sent in the background (False: buffer full)."""
        body: dict[str, Any] = {
            "system": self.system,
            "tool": tool,
            "arguments": _jsonable(arguments or {}),
            "outcome": outcome,
            "result": _small_result(result),
            "at": _utc_iso(),
        }
        for name, value in (
            ("undo", _jsonable(undo) if undo is not None else None),
            ("agent_id", self.agent_id),
            ("run_id", self.run_id),
            ("cost", cost),
            ("decision_id", decision.action_id if decision is not None else None),
        ):
            if value is not None:
                body[name] = value
        return self._records.put(body)

    @contextmanager
    def action(
        self,
        tool: str,
        arguments: dict[str, Any] | None = None,
        *,
        cost: float | None = None,
        undo: dict[str, Any] | None = None,
    ) -> Iterator[ActionRecord]:
        """Ask before the block runs (raising if refused); record it with its result after."""
        decision = self.require(tool, arguments, cost=cost)
        act = ActionRecord(decision=decision, undo=undo)
        try:
            yield act
        except Exception as exc:
            self.record(
                tool, arguments, result={"error": repr(exc)}, outcome="error", cost=cost,
                decision=decision,
            )  # fmt: skip
            raise
        self.record(tool, arguments, result=act.result, undo=act.undo, cost=cost, decision=decision)

    def tool(
        self,
        name: str | None = None,
        *,
        undo: dict[str, Any] | Callable[[Any, dict[str, Any]], dict[str, Any] | None] | None = None,
        cost: Callable[[dict[str, Any]], float | None] | None = None,
    ) -> Callable[[F], F]:
        """Decorator: guard a tool function (sync or async); ``undo`` may use its result."""

        def decorate(func: F) -> F:
            tool_name = name or func.__name__

            def before(
                args: tuple[Any, ...], kwargs: dict[str, Any]
            ) -> tuple[dict[str, Any], float | None]:
                arguments = _arguments_of(func, args, kwargs)
                return arguments, cost(arguments) if cost is not None else None

            def after(
                arguments: dict[str, Any], spent: float | None, decision: Decision, result: Any
            ) -> None:
                undo_desc = undo(result, arguments) if callable(undo) else undo
                self.record(
                    tool_name,
                    arguments,
                    result=result,
                    undo=undo_desc,
                    cost=spent,
                    decision=decision,
                )

            def failed(
                arguments: dict[str, Any],
                spent: float | None,
                decision: Decision,
                exc: BaseException,
            ) -> None:
                self.record(
                    tool_name, arguments, result={"error": repr(exc)}, outcome="error", cost=spent,
                    decision=decision,
                )  # fmt: skip

            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def awrapper(*args: Any, **kwargs: Any) -> Any:
                    arguments, spent = before(args, kwargs)
                    decision = await asyncio.to_thread(self.check, tool_name, arguments, cost=spent)
                    _raise_unless_allowed(tool_name, decision)
                    try:
                        result = await func(*args, **kwargs)
                    except Exception as exc:
                        failed(arguments, spent, decision, exc)
                        raise
                    after(arguments, spent, decision, result)
                    return result

                return awrapper  # type: ignore[return-value]

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                arguments, spent = before(args, kwargs)
                decision = self.check(tool_name, arguments, cost=spent)
                _raise_unless_allowed(tool_name, decision)
                try:
                    result = func(*args, **kwargs)
                except Exception as exc:
                    failed(arguments, spent, decision, exc)
                    raise
                after(arguments, spent, decision, result)
                return result

            return wrapper  # type: ignore[return-value]

        return decorate

    # -- housekeeping --

    def stats(self) -> dict[str, int]:
        """Records queued, sent and dropped, and how often quell was unreachable."""
        return {**self._records.counts, "pending": self._records.pending(),
                "unreachable": self.unreachable}  # fmt: skip

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait (at most ``timeout_s``) until the queued records were sent or dropped."""
        return self._records.flush(timeout_s)

    def close(self) -> None:
        self._records.close(timeout_s=2.0)
        self._client.close()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ActionRecord:
    """What ``Guard.action`` yields: set ``result`` (and ``undo``) inside the block."""

    decision: Decision
    result: Any = None
    undo: dict[str, Any] | None = None


def _raise_unless_allowed(tool: str, decision: Decision) -> None:
    if decision.decision == "deny":
        raise ActionDenied(f"{tool}: denied: {'; '.join(decision.reasons)}", decision)
    if decision.decision == "needs_approval":
        raise ApprovalRequired(
            f"{tool}: needs a person's approval (approval id {decision.action_id})", decision
        )


def _from_cache(decision: Decision) -> Decision:
    return Decision(
        decision=decision.decision,
        reasons=decision.reasons,
        ttl_s=decision.ttl_s,
        policy_version=decision.policy_version,
        action_id=None,
        revoked=decision.revoked,
        source="cache",
    )


def _arguments_of(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    try:
        bound = inspect.signature(func).bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return {**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs}
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    return _jsonable(arguments)


def _jsonable(value: Any) -> Any:
    """A JSON-safe copy (anything unusual becomes its string form)."""
    return json.loads(json.dumps(value, default=str))


def _small_result(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    safe = _jsonable(result)
    text = json.dumps(safe)
    if len(text) > MAX_RESULT_CHARS:
        return {"value": text[:MAX_RESULT_CHARS], "truncated": True}
    return safe if isinstance(safe, dict) else {"value": safe}


def _utc_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def _message(response: Any) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return f"HTTP {response.status_code}"
