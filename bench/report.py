"""Turn measured windows into the report: a table with ratios to the best peer, then one verdict line per goal.

Ratios compare against the best *peer* in the same run, metric by metric: the highest calls/s, the
lowest p50, p99 and peak RSS. So a peer's own best figure reads 1.00x, and ours reads as a multiple.
The goals (docs/performance.md): at 16 sessions at least 2x the best peer's calls/s; p50 at 1 session no worse
than the best peer's; peak RSS at most half of dbhub's; and no errors.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.load import PhaseResult


@dataclass
class Row:
    target: str
    peer: bool
    sessions: int
    calls: int
    errors: int
    window_s: float
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    cpu_ms_per_call: float = 0.0
    first_error: str | None = None
    capped: bool = False  # its throughput is limited by something outside the server (the TDS test server)

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.window_s if self.window_s else 0.0


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
                "rows": [asdict(r) | {"calls_per_s": r.calls_per_s} for r in self.rows],
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


def make_row(
    target: str, peer: bool, sessions: int, phases: list[PhaseResult], peak_rss_mb: float, capped: bool = False
) -> Row:
    """Pool the windows of every round: calls and time add up, percentiles come from all latencies."""
    latencies = [lat for p in phases for lat in p.latencies_ms]
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
        percentile(latencies, 50),
        percentile(latencies, 99),
        peak_rss_mb,
        cpu_ms,
        first_error,
        capped,
    )


def _best(rows: list[Row], sessions: int) -> dict[str, float]:
    peers = [r for r in rows if r.peer and r.sessions == sessions and r.calls]
    if not peers:
        return {}
    return {
        "calls_per_s": max(r.calls_per_s for r in peers),
        "p50_ms": min(r.p50_ms for r in peers),
        "p99_ms": min(r.p99_ms for r in peers),
        "peak_rss_mb": min(r.peak_rss_mb for r in peers),
        "cpu_ms_per_call": min(r.cpu_ms_per_call for r in peers),
    }


def _cell(value: float, best: float | None, fmt: str) -> str:
    text = format(value, fmt)
    if best:
        text += f" ({value / best:.2f}x)"
    return text


def markdown(report: Report) -> str:
    lines = [
        "| server | sessions | calls/s | p50 ms | p99 ms | errors | peak RSS MB | server CPU ms/call |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report.rows:
        best = _best(report.rows, row.sessions)
        lines.append(
            f"| {row.target} | {row.sessions} | {_cell(row.calls_per_s, best.get('calls_per_s'), ',.0f')} | "
            f"{_cell(row.p50_ms, best.get('p50_ms'), '.2f')} | {_cell(row.p99_ms, best.get('p99_ms'), '.2f')} | "
            f"{row.errors} | {_cell(row.peak_rss_mb, best.get('peak_rss_mb'), '.0f')} | "
            f"{_cell(row.cpu_ms_per_call, best.get('cpu_ms_per_call'), '.2f')} |"
        )
    lines.append("")
    lines.append(
        "Ratios in brackets are to the best peer in the same run (calls/s: highest; the others: lowest). "
        "Server CPU per call counts every thread of the server, warm-up included."
    )
    return "\n".join(lines)


def verdicts(report: Report, high: int, low: int) -> list[str]:
    """One line per goal for each of our targets: PASS or FAIL with the figures behind it."""
    out: list[str] = []
    ours = sorted({r.target for r in report.rows if not r.peer})
    dbhub = [r for r in report.rows if r.peer and r.target.startswith("dbhub")]
    for name in ours:
        mine = {r.sessions: r for r in report.rows if r.target == name}
        if any(r.capped for r in mine.values()):
            cpu = ", ".join(f"{r.cpu_ms_per_call:.2f} ms at {n}" for n, r in sorted(mine.items()))
            out.append(
                f"INFO {name}: calls/s and latency are capped by the TDS test server, not goals here; "
                f"server CPU per call {cpu} sessions"
            )
        elif high in mine and (best := _best(report.rows, high)):
            ratio = mine[high].calls_per_s / best["calls_per_s"]
            out.append(
                f"{_mark(ratio >= 2.0)} {name}: throughput at {high} sessions {mine[high].calls_per_s:,.0f} "
                f"calls/s = {ratio:.2f}x the best peer (goal >= 2x)"
            )
        if low in mine and not mine[low].capped and (best := _best(report.rows, low)):
            ratio = mine[low].p50_ms / best["p50_ms"]
            out.append(
                f"{_mark(ratio <= 1.0)} {name}: p50 at {low} session {mine[low].p50_ms:.2f} ms = {ratio:.2f}x "
                f"the best peer's {best['p50_ms']:.2f} ms (goal <= 1x)"
            )
        if dbhub:
            peak = max(r.peak_rss_mb for r in mine.values())
            theirs = max(r.peak_rss_mb for r in dbhub)
            out.append(
                f"{_mark(peak <= theirs / 2)} {name}: peak RSS {peak:.0f} MB = {peak / theirs:.2f}x dbhub's "
                f"{theirs:.0f} MB (goal <= 0.5x)"
            )
        errors = sum(r.errors for r in mine.values())
        out.append(f"{_mark(errors == 0)} {name}: {errors} errors in {sum(r.calls for r in mine.values()):,} calls")
    return out


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def summary(report: Report, high: int, low: int) -> str:
    parts = [markdown(report), ""]
    parts += [f"- {note}" for note in report.notes]
    errors = [f"- first error, {r.target} at {r.sessions}: {r.first_error}" for r in report.rows if r.first_error]
    parts += errors
    parts += ["", "Verdicts:", *verdicts(report, high, low), *report.extra_verdicts]
    return "\n".join(parts)
