"""Turn measured windows into the report: a table per era with ratios to the best peer, then one verdict per target.

Ratios compare against the best *peer* in the same run, era and concurrency, metric by metric: the
highest calls/s, the lowest p50, p99, peak RSS, CPU per call and text bytes. So a peer's own best figure
reads 1.00x, and ours reads as a multiple. Calls/s, p50 and p99 are the median over the rounds (each
round's window gives one figure); CPU per call pools every round.

The targets (docs/performance.md), each a ratio in the same run:

    calls/s at 16 sessions, 2026-07-28       >= 1.1x the best peer
    p50 at 1 session, 2026-07-28             <= 1.05x the best peer's
    p99 at 16 sessions, 2026-07-28           within 10% of the lowest peer's, or lower
    calls/s at 16 sessions, 2025 revision    >= 0.85x the best peer
    text bytes of the 100-row answer         <= 0.7x the best peer's (what a model reads)
    peak RSS                                 <= 0.5x dbhub's
    SQL Server path's server CPU per call    <= 1.5x the SQLite path's
    errors                                   none
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.load import PhaseResult

MODERN, LEGACY = "2026", "2025"
ERA_NAMES = {LEGACY: "2025 (initialize)", MODERN: "2026-07-28"}
# (era, measure, goal): the targets as numbers, so a verdict line and its test read the same figure.
GOAL_CALLS_MODERN = 1.1
GOAL_P50_MODERN = 1.05
GOAL_P99_MODERN = 1.1
GOAL_CALLS_LEGACY = 0.85
GOAL_TEXT_BYTES = 0.7
GOAL_RSS_VS_DBHUB = 0.5
GOAL_MSSQL_CPU = 1.5


@dataclass
class Row:
    target: str
    peer: bool
    sessions: int
    calls: int  # successful calls in all measured windows
    errors: int
    window_s: float  # all windows together
    p50_ms: float  # median over the rounds
    p99_ms: float  # median over the rounds
    peak_rss_mb: float
    cpu_ms_per_call: float = 0.0
    first_error: str | None = None
    capped: bool = False  # its throughput is limited by something outside the server (the TDS test server)
    era: str = LEGACY
    calls_per_s: float = 0.0  # median over the rounds
    text_bytes: int = 0  # the text content of one answer
    rounds: int = 1


@dataclass
class Report:
    rows: list[Row]
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra_verdicts: list[str] = field(default_factory=list)  # goals measured outside the table (/health)

    def to_json(self) -> str:
        return json.dumps(
            {
                "meta": self.meta,
                "notes": self.notes,
                "verdicts": self.extra_verdicts,
                "rows": [asdict(r) for r in self.rows],
            },
            indent=2,
        )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def make_row(
    target: str,
    peer: bool,
    sessions: int,
    phases: list[PhaseResult],
    peak_rss_mb: float,
    capped: bool = False,
    era: str = LEGACY,
) -> Row:
    """One row from the rounds' windows: the median round for calls/s and latency; CPU and counts pooled."""
    measured = [p for p in phases if p.calls]
    first_error = next((p.first_error for p in phases if p.first_error), None)
    all_calls = sum(p.all_calls for p in phases)
    cpu_ms = sum(p.server_cpu_s for p in phases) * 1000 / all_calls if all_calls else 0.0
    return Row(
        target,
        peer,
        sessions,
        sum(p.calls for p in phases),
        sum(p.errors for p in phases),
        sum(p.window_s for p in phases),
        _median([percentile(p.latencies_ms, 50) for p in measured]),
        _median([percentile(p.latencies_ms, 99) for p in measured]),
        peak_rss_mb,
        cpu_ms,
        first_error,
        capped,
        era,
        _median([p.calls_per_s for p in phases]),
        max((p.text_bytes for p in phases), default=0),
        len(phases),
    )


def _best(rows: list[Row], sessions: int, era: str) -> dict[str, float]:
    peers = [r for r in rows if r.peer and r.sessions == sessions and r.era == era and r.calls]
    if not peers:
        return {}
    return {
        "calls_per_s": max(r.calls_per_s for r in peers),
        "p50_ms": min(r.p50_ms for r in peers),
        "p99_ms": min(r.p99_ms for r in peers),
        "peak_rss_mb": min(r.peak_rss_mb for r in peers),
        "cpu_ms_per_call": min(r.cpu_ms_per_call for r in peers),
        "text_bytes": min((r.text_bytes for r in peers if r.text_bytes), default=0),
    }


def _cell(value: float, best: float | None, fmt: str) -> str:
    text = format(value, fmt)
    if best:
        text += f" ({value / best:.2f}x)"
    return text


def markdown(report: Report) -> str:
    lines = [
        "| revision | server | sessions | calls/s | p50 ms | p99 ms | errors | peak RSS MB | server CPU ms/call "
        "| text bytes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report.rows:
        best = _best(report.rows, row.sessions, row.era)
        lines.append(
            f"| {ERA_NAMES.get(row.era, row.era)} | {row.target} | {row.sessions} | "
            f"{_cell(row.calls_per_s, best.get('calls_per_s'), ',.0f')} | "
            f"{_cell(row.p50_ms, best.get('p50_ms'), '.2f')} | {_cell(row.p99_ms, best.get('p99_ms'), '.2f')} | "
            f"{row.errors} | {_cell(row.peak_rss_mb, best.get('peak_rss_mb'), '.0f')} | "
            f"{_cell(row.cpu_ms_per_call, best.get('cpu_ms_per_call'), '.2f')} | "
            f"{_cell(row.text_bytes, best.get('text_bytes'), ',')} |"
        )
    lines.append("")
    lines.append(
        "Ratios in brackets are to the best peer in the same run, revision and sessions (calls/s: highest; the "
        "others: lowest). Calls/s, p50 and p99 are the median of the rounds. Server CPU per call counts every "
        "thread of the server, warm-up included. Text bytes: the text content of one 100-row answer."
    )
    return "\n".join(lines)


def _ratio_line(ok: bool, name: str, what: str, value: str, ratio: float, goal: str) -> str:
    return f"{_mark(ok)} {name}: {what} {value} = {ratio:.2f}x {goal}"


def verdicts(report: Report, high: int, low: int) -> list[str]:
    """One line per target for each of our servers: PASS, FAIL or INFO, with the figures behind it."""
    out: list[str] = []
    ours = sorted({r.target for r in report.rows if not r.peer})
    dbhub = [r for r in report.rows if r.peer and r.target.startswith("dbhub")]
    for name in ours:
        mine = {(r.era, r.sessions): r for r in report.rows if r.target == name}
        if any(r.capped for r in mine.values()):
            out += _capped_lines(report, name, mine)
        else:
            out += _speed_lines(report, name, mine, high, low)
        if dbhub:
            peak = max(r.peak_rss_mb for r in mine.values())
            theirs = max(r.peak_rss_mb for r in dbhub)
            out.append(
                _ratio_line(
                    peak <= theirs * GOAL_RSS_VS_DBHUB,
                    name,
                    "peak RSS",
                    f"{peak:.0f} MB",
                    peak / theirs,
                    f"dbhub's {theirs:.0f} MB (goal <= {GOAL_RSS_VS_DBHUB}x)",
                )
            )
        errors = sum(r.errors for r in mine.values())
        out.append(f"{_mark(errors == 0)} {name}: {errors} errors in {sum(r.calls for r in mine.values()):,} calls")
    return out


def _speed_lines(report: Report, name: str, mine: dict[tuple[str, int], Row], high: int, low: int) -> list[str]:
    out: list[str] = []
    checks = [
        (MODERN, high, "calls_per_s", GOAL_CALLS_MODERN, ">=", "calls/s"),
        (MODERN, low, "p50_ms", GOAL_P50_MODERN, "<=", "p50"),
        (MODERN, high, "p99_ms", GOAL_P99_MODERN, "<=", "p99"),
        (LEGACY, high, "calls_per_s", GOAL_CALLS_LEGACY, ">=", "calls/s"),
    ]
    for era, sessions, measure, goal, sense, label in checks:
        row, best = mine.get((era, sessions)), _best(report.rows, sessions, era)
        if row is None or not best.get(measure):
            continue
        value: float = getattr(row, measure)
        ratio = value / best[measure]
        ok = ratio >= goal if sense == ">=" else ratio <= goal
        shown = f"{value:,.0f}" if measure == "calls_per_s" else f"{value:.2f} ms"
        word = "session" if sessions == 1 else "sessions"
        out.append(
            _ratio_line(
                ok,
                name,
                f"{label} at {sessions} {word}, {ERA_NAMES[era]},",
                shown,
                ratio,
                f"the best peer's (goal {sense} {goal}x)",
            )
        )
    texts = [r.text_bytes for r in mine.values() if r.text_bytes]
    theirs = [r.text_bytes for r in report.rows if r.peer and r.text_bytes]
    if texts and theirs:
        ratio = max(texts) / min(theirs)
        out.append(
            _ratio_line(
                ratio <= GOAL_TEXT_BYTES,
                name,
                "text of the 100-row answer",
                f"{max(texts):,} B",
                ratio,
                f"the best peer's {min(theirs):,} B (goal <= {GOAL_TEXT_BYTES}x)",
            )
        )
    return out


def _capped_lines(report: Report, name: str, mine: dict[tuple[str, int], Row]) -> list[str]:
    """The SQL Server path through the TDS test server: its CPU per call against our SQLite path's."""
    cpu = ", ".join(f"{r.cpu_ms_per_call:.2f} ms at {s} ({ERA_NAMES[e]})" for (e, s), r in sorted(mine.items()))
    out = [f"INFO {name}: calls/s and latency are capped by the TDS test server, not goals; server CPU per call {cpu}"]
    sqlite = {
        (r.era, r.sessions): r for r in report.rows if not r.peer and not r.capped and r.target != name and r.calls
    }
    ratios = [
        (key, row.cpu_ms_per_call / sqlite[key].cpu_ms_per_call)
        for key, row in sorted(mine.items())
        if key in sqlite and sqlite[key].cpu_ms_per_call
    ]
    if ratios:
        shown = ", ".join(f"{ratio:.2f}x at {s} ({ERA_NAMES[e]})" for (e, s), ratio in ratios)
        worst = max(ratio for _key, ratio in ratios)
        out.append(
            f"{_mark(worst <= GOAL_MSSQL_CPU)} {name}: server CPU per call {shown} the SQLite path's "
            f"(goal <= {GOAL_MSSQL_CPU}x)"
        )
    return out


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def summary(report: Report, high: int, low: int) -> str:
    parts = [markdown(report), ""]
    parts += [f"- {note}" for note in report.notes]
    errors = [
        f"- first error, {r.target} at {r.sessions} ({ERA_NAMES.get(r.era, r.era)}): {r.first_error}"
        for r in report.rows
        if r.first_error
    ]
    parts += errors
    parts += ["", "Verdicts:", *verdicts(report, high, low), *report.extra_verdicts]
    return "\n".join(parts)
