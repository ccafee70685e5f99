"""Labelled replays: a realistic signal generator, and the correlation-quality evaluation.

`generate(seed)` writes a day-part of signals from a small estate of AI systems with
dependencies: alert storms, cascades across dependencies (in either order), flapping alerts,
attacks seen by detectors, lone leaks, misinformation with user reports, monitoring alerts that
resolve when the incident is over, and unrelated noise (some of it lookalikes of the
incidents). Each signal carries `truth`: the id of the
incident it belongs to, or `noise`.

`evaluate(lines)` replays them through the real write path (intake's `store_envelopes` into a
temporary SQLite store, the real `Correlator`), on a simulated clock taken from the signals'
receipt times, and measures what a responder would feel (definitions in docs/correlation.md).
"""

from __future__ import annotations

import random
import statistics
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from quell.errors import InvalidInput
from quell.timeutil import parse_time

BASE_TIME = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NOISE = "noise"

# The estate the replay runs against; the first line of every replay file carries it.
INVENTORY: list[dict[str, Any]] = [
    {"name": "embeddings", "kind": "predictive", "criticality": "high"},
    {"name": "retriever", "kind": "generative", "depends_on": ["embeddings"]},
    {"name": "support-chat", "kind": "generative", "depends_on": ["retriever"],
     "criticality": "high"},
    {"name": "fraud-scorer", "kind": "predictive", "criticality": "critical"},
    {"name": "refunds-agent", "kind": "agent", "depends_on": ["fraud-scorer"],
     "criticality": "high"},
    {"name": "voice-agent", "kind": "generative", "criticality": "critical"},
    {"name": "search-summary", "kind": "generative", "criticality": "low"},
]  # fmt: skip


@dataclass(slots=True)
class _Script:
    """Accumulates labelled signals for one replay."""

    rng: random.Random
    lines: list[dict[str, Any]] = field(default_factory=list)
    incidents: int = 0
    # Alerts each true incident left firing: identity -> (last firing time, the signal fields).
    firing: dict[str, dict[str, tuple[datetime, dict[str, Any]]]] = field(default_factory=dict)

    def new_incident(self) -> str:
        self.incidents += 1
        return f"inc-{self.incidents}"

    def emit(self, at: datetime, truth: str, **signal: Any) -> None:
        delay = timedelta(seconds=self.rng.uniform(0.05, 2.0))  # sender-to-quell latency
        signal.setdefault("occurred_at", at.isoformat())
        self.lines.append(
            {"received_at": (at + delay).isoformat(), "truth": truth, "signal": signal}
        )
        identity = orjson.dumps(
            [signal.get("source"), signal["system"], signal["kind"], signal.get("labels")],
            option=orjson.OPT_SORT_KEYS,
        ).decode()
        alerts = self.firing.setdefault(truth, {})
        if signal.get("status") == "resolved":
            alerts.pop(identity, None)
        else:
            alerts[identity] = (at, signal)

    def resolve(self, truth: str, after: tuple[float, float]) -> None:
        """Send the resolves a monitoring tool sends once the problem is fixed."""
        for last, signal in list(self.firing.get(truth, {}).values()):
            at = last + timedelta(seconds=self.rng.uniform(*after))
            fields = {k: signal[k] for k in ("source", "system", "kind", "labels") if k in signal}
            self.emit(
                at, truth, **fields, status="resolved", summary=f"resolved: {signal['summary']}"
            )


def _session(s: _Script) -> str:
    """A random id: detector findings and tickets are events, each its own alert."""
    return f"s{s.rng.randrange(10**8)}"


def _storm(s: _Script, start: datetime) -> None:
    """One system, many replicas alerting at once: tens to hundreds of signals in minutes."""
    truth = s.new_incident()
    system = s.rng.choice(["support-chat", "search-summary", "retriever", "voice-agent"])
    kind = s.rng.choice(["error_rate", "latency"])
    pods = s.rng.randint(8, 40)
    for i in range(s.rng.randint(40, 160)):
        pod = s.rng.randrange(pods)
        at = start + timedelta(seconds=s.rng.uniform(0, 180) * (i / 160 + 0.2))
        metrics = {"p90_latency_s": round(s.rng.uniform(4, 12), 1)} if kind == "latency" else {}
        s.emit(at, truth, system=system, kind=kind, severity=s.rng.choice(["warning", "high"]),
               summary=f"{kind.replace('_', ' ')} high on {system}", metrics=metrics,
               labels={"pod": f"{system}-{pod}", "alertname": f"{kind}_high"})  # fmt: skip
    s.resolve(truth, after=(300, 1500))


def _cascade(s: _Script, start: datetime, *, reverse: bool) -> None:
    """An upstream failure whose symptoms reach the systems downstream (or show up first)."""
    truth = s.new_incident()
    chain = s.rng.choice(
        [["embeddings", "retriever", "support-chat"], ["fraud-scorer", "refunds-agent"]]
    )
    offsets = [0.0, *sorted(s.rng.uniform(20, 120) for _ in chain[1:])]
    if reverse:  # the symptoms are noticed before their cause
        offsets = [offsets[-1] * 0.4, *[o * 0.2 for o in offsets[1:]]]
    kinds = {
        "embeddings": ("drift", "embedding drift: PSI {v} on query vectors"),
        "retriever": ("error_rate", "retrieval errors at {v}%"),
        "support-chat": ("task_completion", "answers without sources, completion {v}"),
        "fraud-scorer": ("drift", "fraud score drift: PSI {v} on amount"),
        "refunds-agent": ("agent_action", "refund tool call denied by guard ({v} in 5m)"),
    }
    for system, offset in zip(chain, offsets, strict=True):
        kind, text = kinds[system]
        for j in range(s.rng.randint(2, 6)):
            at = start + timedelta(seconds=offset + j * s.rng.uniform(5, 40))
            value = round(s.rng.uniform(0.2, 0.6), 2)
            metrics = {"task_completion": value} if kind == "task_completion" else {}
            s.emit(at, truth, system=system, kind=kind, summary=text.format(v=value),
                   severity=s.rng.choice(["warning", "high"]), metrics=metrics,
                   labels={"alertname": f"{kind}_{system}", "check": str(j % 2)})  # fmt: skip
    s.resolve(truth, after=(600, 2400))


def _flapping(s: _Script, start: datetime) -> None:
    """A latency alert on the voice agent that fires and resolves again and again."""
    truth = s.new_incident()
    at = start
    for _ in range(s.rng.randint(4, 9)):
        p90 = round(s.rng.uniform(6, 17), 1)
        labels = {"alertname": "VoiceP90LatencyHigh"}
        done = round(s.rng.uniform(0.3, 0.8), 2)
        s.emit(at, truth, system="voice-agent", kind="latency", severity="high", labels=labels,
               summary=f"voice agent p90 latency {p90}s", fingerprint="voice-p90",
               metrics={"p90_latency_s": p90, "task_completion": done})  # fmt: skip
        at += timedelta(seconds=s.rng.uniform(40, 150))
        s.emit(at, truth, system="voice-agent", kind="latency", status="resolved",
               summary="voice agent p90 latency back to normal", fingerprint="voice-p90",
               labels=labels)  # fmt: skip
        at += timedelta(seconds=s.rng.uniform(30, 120))


def _attack(s: _Script, start: datetime) -> None:
    """Detector findings on the chatbot: an injection campaign, sometimes leaking data."""
    truth = s.new_incident()
    leak = s.rng.random() < 0.5
    for i in range(s.rng.randint(3, 10)):
        at = start + timedelta(seconds=i * s.rng.uniform(10, 60))
        s.emit(at, truth, source="detector", system="support-chat", kind="prompt_injection",
               archetype="prompt_injection", severity=s.rng.choice(["high", "warning"]),
               summary="prompt_injection: direct injection (score 0.9)",
               labels={"detector": "prompt_injection", "category": "direct_injection",
                       "session": _session(s)})  # fmt: skip
        if leak and i >= 2:
            s.emit(at + timedelta(seconds=3), truth, source="detector", system="support-chat",
                   kind="pii", archetype="data_exfiltration", severity="critical",
                   summary="pii: email address in output (score 0.95)",
                   labels={"detector": "pii", "category": "email",
                           "session": _session(s)})  # fmt: skip
    # Detector findings are events, not states: nothing resolves them.


def _lone_leak(s: _Script, start: datetime) -> None:
    """One finding that is an incident on its own: a planted canary or a card number leaked."""
    truth = s.new_incident()
    system = s.rng.choice(["support-chat", "search-summary", "voice-agent"])
    if s.rng.random() < 0.5:
        s.emit(start, truth, source="detector", system=system, kind="canary",
               severity=s.rng.choice(["high", "critical"]),
               summary="canary: system prompt canary token in output",
               labels={"detector": "canary", "category": "canary_leak",
                       "session": _session(s)})  # fmt: skip
    else:
        s.emit(start, truth, source="detector", system=system, kind="pii",
               archetype="data_exfiltration", severity="critical",
               summary="pii: Luhn-valid card number of another customer in output (score 0.97)",
               labels={"detector": "pii", "category": "credit_card",
                       "session": _session(s)})  # fmt: skip


def _misinformation(s: _Script, start: datetime) -> None:
    """A bad prompt change: hallucination findings, then users complaining about wrong answers."""
    truth = s.new_incident()
    system = s.rng.choice(["support-chat", "search-summary"])
    for i in range(s.rng.randint(2, 4)):
        at = start + timedelta(seconds=i * s.rng.uniform(20, 90))
        s.emit(at, truth, source="detector", system=system, kind="hallucination",
               severity="warning", summary="hallucination: answer cites a policy not in sources",
               labels={"detector": "hallucination", "session": _session(s)})  # fmt: skip
    for _ in range(s.rng.randint(2, 6)):
        at = start + timedelta(seconds=s.rng.uniform(30, 400))
        s.emit(at, truth, system=system, kind="user_report", severity="warning",
               summary="user report: incorrect policy quoted in the answer",
               labels={"alertname": "user_report", "ticket": _session(s)})  # fmt: skip


# Unrelated one-offs. Most are plainly different from the incidents above; the lookalikes have
# the kinds and systems of real incidents but come alone (a blocked injection attempt, a drift
# blip, a latency bump under the SLO, a weak PII match, one denied tool call).
_NOISE: list[tuple[str, str, str, list[str] | None, str | None, dict[str, float]]] = [
    # (kind, summary, severity hint, systems (None: any), archetype hint, metrics)
    ("cost", "token spend 30% above forecast", "info", None, None, {}),
    ("user_report", "user says the answer was unhelpful", "info", None, None, {}),
    ("latency", "p90 latency briefly above 3s", "warning", None, None, {}),
    ("output_pattern", "answer length shifted", "warning", None, None, {}),
    ("error_rate", "5xx rate 1.2% for one minute", "warning", None, None, {}),
    ("prompt_injection", "prompt_injection: direct injection (score 0.7)", "warning",
     ["support-chat", "search-summary"], "prompt_injection", {}),
    ("drift", "drift: PSI 0.21 on one feature", "warning", ["embeddings", "fraud-scorer"],
     None, {}),
    ("latency", "voice agent p90 latency 5.1s", "high", ["voice-agent"], None,
     {"p90_latency_s": 5.1}),
    ("pii", "pii: phone-like number in output (score 0.55)", "warning",
     ["support-chat", "search-summary"], "data_exfiltration", {}),
    ("agent_action", "refund tool call denied by guard (1 in 5m)", "warning",
     ["refunds-agent"], None, {}),
]  # fmt: skip


def _noise(s: _Script, start: datetime, end: datetime, count: int) -> None:
    """Unrelated one-off alerts: a cost blip, a user report, a brief slowdown, lookalikes."""
    span = (end - start).total_seconds()
    for i in range(count):
        at = start + timedelta(seconds=s.rng.uniform(0, span))
        # Plain one-offs three times as often as each lookalike: about 30% lookalikes.
        kind, text, severity, systems, archetype, metrics = s.rng.choices(
            _NOISE, weights=[3 if n < 5 else 1 for n in range(len(_NOISE))]
        )[0]
        system = s.rng.choice(systems or [x["name"] for x in INVENTORY])
        fingerprint = f"noise-{i}"
        fields: dict[str, Any] = {
            "system": system, "kind": kind, "summary": text, "severity": severity,
            "fingerprint": fingerprint, "labels": {"alertname": kind}, "metrics": metrics,
        }  # fmt: skip
        if archetype:
            fields.update(source="detector", archetype=archetype)
        s.emit(at, NOISE, **fields)
        if s.rng.random() < 0.15:  # some noise repeats once: a harder case for paging rules
            s.emit(at + timedelta(seconds=s.rng.uniform(20, 90)), NOISE, **fields)
        if not archetype and s.rng.random() < 0.6:  # monitoring blips clear by themselves
            s.emit(at + timedelta(seconds=s.rng.uniform(60, 900)), NOISE, system=system,
                   kind=kind, summary=f"resolved: {text}", fingerprint=fingerprint,
                   status="resolved", labels={"alertname": kind})  # fmt: skip


def generate(seed: int, *, hours: float = 6.0) -> list[dict[str, Any]]:
    """A labelled replay: the inventory line first, then signals in receipt order."""
    rng = random.Random(seed)
    script = _Script(rng)
    end = BASE_TIME + timedelta(hours=hours)
    scenarios: list[Callable[[_Script, datetime], None]] = [
        _storm,
        lambda s, t: _cascade(s, t, reverse=False),
        lambda s, t: _cascade(s, t, reverse=True),
        _flapping,
        _attack,
        _lone_leak,
        _misinformation,
    ]
    # Incidents start at least 45 minutes apart, so that each is one incident by any honest rule.
    at = BASE_TIME + timedelta(minutes=rng.uniform(5, 20))
    while at < end - timedelta(minutes=30):
        rng.choice(scenarios)(script, at)
        at += timedelta(minutes=rng.uniform(45, 75))
    _noise(script, BASE_TIME, end, count=int(hours * 12))
    script.lines.sort(key=lambda line: line["received_at"])
    return [{"inventory": {"systems": INVENTORY}, "seed": seed}, *script.lines]


def write_jsonl(lines: Iterable[dict[str, Any]], path: Path) -> int:
    count = 0
    with path.open("wb") as out:
        for line in lines:
            out.write(orjson.dumps(line) + b"\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a replay file; an unreadable line is refused with its line number."""
    lines: list[dict[str, Any]] = []
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise InvalidInput(f"{path}:{number}: not valid JSON", field="line") from None
            if not isinstance(value, dict):
                raise InvalidInput(f"{path}:{number}: expected a JSON object", field="line")
            lines.append(value)
    return lines


# --- evaluation -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Replayed:
    received_at: datetime
    truth: str
    signal: dict[str, Any]


def _signals(lines: list[dict[str, Any]]) -> tuple[dict[str, Any], list[_Replayed]]:
    inventory: dict[str, Any] = {}
    out: list[_Replayed] = []
    for number, line in enumerate(lines, 1):
        if "inventory" in line:
            inventory = line["inventory"]
            continue
        try:
            when = parse_time(str(line["received_at"]))
            truth = str(line["truth"])
            signal = line["signal"]
        except (KeyError, ValueError):
            raise InvalidInput(
                f"line {number}: expected received_at (ISO time), truth and signal", field="line"
            ) from None
        if not isinstance(signal, dict):
            raise InvalidInput(f"line {number}: signal must be an object", field="signal")
        out.append(_Replayed(when, truth, signal))
    if not out:
        raise InvalidInput("the replay holds no signals", field="line")
    out.sort(key=lambda r: r.received_at)
    return inventory, out


def evaluate(
    lines: list[dict[str, Any]],
    *,
    config: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Replay labelled signals through intake and the correlator; return the quality figures."""
    from sqlalchemy import create_engine, event

    from quell.config import apply_config, parse_config
    from quell.detection.pipeline import Correlator
    from quell.ingest.native import native_signal
    from quell.ingest.normalise import Context, Item
    from quell.ingest.service import Envelope, known_systems, store_envelopes
    from quell.store.db import _sqlite_pragmas, session_scope, upgrade

    inventory, replayed = _signals(lines)
    with tempfile.TemporaryDirectory(prefix="quell-eval-") as folder:
        # A private engine (not the process-wide cache): it dies with the temporary folder.
        engine = create_engine(f"sqlite:///{Path(folder) / 'eval.db'}")
        event.listen(engine, "connect", _sqlite_pragmas)
        try:
            upgrade(engine)
            with session_scope(engine) as session:
                parsed, extras = parse_config({**inventory, **(config or {})}, source="replay")
                apply_config(session, parsed, extras, source="replay")
                systems = known_systems(session)
            correlator = Correlator.for_engine(engine)
            opened_at: dict[int, datetime] = {}
            signal_alert: list[int | None] = []

            def note(outcomes: Iterable[Any], at: datetime) -> None:
                for outcome in outcomes:
                    if outcome.incident_id is not None:
                        opened_at.setdefault(outcome.incident_id, at)

            def tick(until: datetime) -> None:
                # The serve process flushes every second; replay those ticks where one is due.
                while True:
                    index = correlator.index
                    due = _next_due(index) if index is not None else None
                    if due is None or due > until:
                        return
                    with session_scope(engine) as session:
                        note(correlator.flush_due(session, due), due)

            done = 0
            for batch in _slices(replayed):
                tick(batch[0][1].received_at)
                with session_scope(engine) as session:
                    envelopes = []
                    for number, item in batch:
                        ctx = Context(received_at=item.received_at, known_systems=systems)
                        signal = native_signal(item.signal, ctx, f"signal[{number}]")
                        envelopes.append(
                            Envelope(
                                source="native",
                                body=orjson.dumps(item.signal).decode(),
                                received_by="replay",
                                received_at=item.received_at,
                                items=[Item(signal, "")],
                            )
                        )
                    result = store_envelopes(session, envelopes, correlator)
                note(result.outcomes, batch[-1][1].received_at)
                signal_alert.extend(result.alert_ids)
                done += len(batch)
                if progress:
                    progress(done)
            tick(replayed[-1].received_at + timedelta(days=1))
            with session_scope(engine) as session:
                alert_incident = _alert_incidents(session)
        finally:
            Correlator.forget(engine)
            engine.dispose()
    truths = [r.truth for r in replayed]
    incident_of = [alert_incident.get(a) if a is not None else None for a in signal_alert]
    return score(truths, incident_of, [r.received_at for r in replayed], opened_at)


def _slices(replayed: list[_Replayed]) -> Iterator[list[tuple[int, _Replayed]]]:
    """Signals grouped by the whole second they arrived in: one intake batch per second, as a
    busy sender's batches would come, instead of one transaction per signal."""
    batch: list[tuple[int, _Replayed]] = []
    second: datetime | None = None
    for number, item in enumerate(replayed):
        this = item.received_at.replace(microsecond=0)
        if batch and this != second:
            yield batch
            batch = []
        second = this
        batch.append((number, item))
    if batch:
        yield batch


def _next_due(index: Any) -> datetime | None:
    # Ticks fall on whole seconds, as the serve loop's do.
    due: datetime | None = index.next_due()
    return due


def _alert_incidents(session: Any) -> dict[int, int | None]:
    from sqlalchemy import select

    from quell.ingest.models import Alert

    return {a: i for a, i in session.execute(select(Alert.id, Alert.incident_id))}


def score(
    truths: list[str],
    incident_of: list[int | None],
    times: list[datetime],
    opened_at: dict[int, datetime],
) -> dict[str, Any]:
    """The quality figures of one replay, from each signal's truth and its final incident."""
    members: dict[int, list[str]] = defaultdict(list)
    for truth, incident in zip(truths, incident_of, strict=True):
        if incident is not None:
            members[incident].append(truth)
    first_seen: dict[str, datetime] = {}
    for truth, at in zip(truths, times, strict=True):
        if truth != NOISE:
            first_seen.setdefault(truth, at)
    majority: dict[int, str] = {}
    purity: list[float] = []
    for incident, labels in members.items():
        label, count = Counter(labels).most_common(1)[0]
        majority[incident] = label
        purity.append(0.0 if label == NOISE else count / len(labels))
    real = [i for i, label in majority.items() if label != NOISE]
    covered = {majority[i] for i in real}
    coherent: list[float] = []
    for label in covered:
        when = min(opened_at.get(i, times[-1]) for i in real if majority[i] == label)
        coherent.append(max(0.0, (when - first_seen[label]).total_seconds()))
    opened = len(members)
    return {
        "signals": len(truths),
        "true_incidents": len(first_seen),
        "noise_signals": sum(1 for t in truths if t == NOISE),
        "incidents_opened": opened,
        "candidate_precision": round(statistics.fmean(purity), 4) if purity else None,
        "duplicate_ratio": round((len(real) - len(covered)) / len(real), 4) if real else 0.0,
        "false_page_rate": round((opened - len(real)) / opened, 4) if opened else 0.0,
        "time_to_coherent_candidate_p50_s": (
            round(statistics.median(coherent), 1) if coherent else None
        ),
        "missed_incidents": len(first_seen) - len(covered),
        "noise_reduction": round(1 - opened / len(truths), 4) if truths else 0.0,
    }


def iter_lines(seed: int, hours: float = 6.0) -> Iterator[dict[str, Any]]:
    yield from generate(seed, hours=hours)
