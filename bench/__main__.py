"""`python -m bench`: run the benchmark (`make bench`), the nginx load test (`make loadtest`), or install peers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench import peers
from bench.loadtest import PEOPLE
from bench.report import summary
from bench.run import Config, run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="side-by-side benchmark of our server and the peers")
    r.add_argument("--sessions", default="1,16", help="comma-separated concurrency levels (default 1,16)")
    r.add_argument(
        "--era",
        choices=("2025", "2026", "both"),
        default="both",
        help="protocol revision the client speaks: 2025 (initialize), 2026 (2026-07-28 envelope), both (default)",
    )
    r.add_argument("--rounds", type=int, default=3, help="rounds per level, in rotated order (default 3)")
    r.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per window (default 2)")
    r.add_argument("--window", type=float, default=5.0, help="seconds measured per window (default 5)")
    r.add_argument(
        "--only",
        default="ours,ours-mssql,dbhub,toolbox,health",
        help="what to run: ours, ours-mssql, dbhub, toolbox, health (/health under 8 slow queries)",
    )
    r.add_argument("--people", type=int, default=16, help="signed-in people our sessions are spread over (default 16)")
    r.add_argument("--no-pin", action="store_true", help="do not pin servers and client to CPUs")
    r.add_argument("--json", type=Path, help="also write the raw report as JSON here")
    r.add_argument("--markdown", type=Path, help="also write the summary as Markdown here")
    lt = sub.add_parser("loadtest", help="500 sessions x 20 calls through nginx over TLS; fails on any error")
    lt.add_argument("--sessions", type=int, default=500)
    lt.add_argument("--calls", type=int, default=20)
    lt.add_argument(
        "--people", type=int, default=PEOPLE, help=f"signed-in people the sessions are spread over (default {PEOPLE})"
    )
    lt.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="N replicas of each face on Redis behind nginx (default: one, on SQLite)",
    )
    lt.add_argument("--workers", type=int, default=1, help="worker processes per replica (WEB_CONCURRENCY)")
    pr = sub.add_parser("profile", help="py-spy our server under 16 sessions; time per component")
    pr.add_argument("--seconds", type=float, default=10.0)
    pr.add_argument("--mssql", action="store_true", help="our SQL Server path, through the TDS test server")
    pr.add_argument("--era", choices=("2025", "2026"), default="2026", help="protocol revision (default 2026)")
    pc = sub.add_parser("percall", help="our CPU per call, in-process through the ASGI app (no network)")
    pc.add_argument("--calls", type=int, default=2000)
    pc.add_argument("--era", choices=("2025", "2026"), default="2026", help="protocol revision (default 2026)")
    pc.add_argument("--profile", action="store_true", help="add a cProfile of the event-loop thread")
    sub.add_parser("install", help="install the peers from npm into bench/.scratch/npm")
    args = p.parse_args(argv)

    if args.command == "install":
        print(peers.install())
        return 0
    if args.command == "percall":
        from bench import percall

        print(percall.run(args.calls, era=args.era, profile=args.profile))
        return 0
    if args.command == "profile":
        from bench import profile

        print(profile.run(args.seconds, mssql=args.mssql, era=args.era))
        return 0
    if args.command == "loadtest":
        from bench import loadtest

        if args.replicas:
            from bench import replicas

            result, note = replicas.run(
                args.sessions, args.calls, replicas=args.replicas, workers=args.workers, people=args.people
            )
        else:
            result, note = loadtest.run(args.sessions, args.calls, people=args.people, workers=args.workers), ""
        print(result.summary())
        if note:
            print(note)
        for error in result.errors[:10]:
            print(f"  error: {error}")
        return 0 if not result.errors and result.ok == args.sessions * args.calls else 1
    cfg = Config(
        sessions=tuple(int(s) for s in args.sessions.split(",")),
        eras=("2025", "2026") if args.era == "both" else (args.era,),
        rounds=args.rounds,
        warmup_s=args.warmup,
        window_s=args.window,
        include=tuple(args.only.split(",")),
        people=args.people,
    )
    if args.no_pin:
        cfg.server_cpu = cfg.client_cpu = None
    report = run(cfg)
    text = summary(report, high=max(cfg.sessions), low=min(cfg.sessions))
    print(text)
    if args.json:
        args.json.write_text(report.to_json())
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
