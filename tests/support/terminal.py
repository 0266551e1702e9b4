"""Run a command on a pseudo-terminal, as a person at a terminal would, answering its prompts."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.procs import stop_pid


def run_on_pty(
    argv: Sequence[str] | str,
    *,
    env: Mapping[str, str],
    cwd: Path,
    answers: Sequence[tuple[str, str]] = (),
    timeout: float = 120.0,
) -> tuple[int, str]:
    """Run `argv` (a string: through bash) with stdin, stdout and stderr on a new pty, in a new session
    (so getpass uses that pty, never the terminal running the tests). Each (prompt, reply) is answered in
    order once `prompt` has appeared. Returns the exit status and everything it wrote."""
    master, slave = os.openpty()
    args = ["bash", "-c", argv] if isinstance(argv, str) else list(argv)
    proc = subprocess.Popen(
        args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=dict(env), start_new_session=True
    )
    os.close(slave)
    out, pending, seen = b"", list(answers), 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every slave end is closed, the program is done
                    break
                if not chunk:
                    break
                out += chunk
            if pending and pending[0][0].encode() in out[seen:]:
                prompt, reply = pending.pop(0)
                seen = out.index(prompt.encode(), seen) + len(prompt)
                os.write(master, reply.encode() + b"\n")
        else:
            raise AssertionError(f"{argv} did not finish within {timeout} s:\n{out.decode(errors='replace')}")
        return proc.wait(timeout=30), out.decode(errors="replace")
    finally:
        stop_pid(proc)
        with contextlib.suppress(OSError):
            os.close(master)
