"""Start real servers as subprocesses on loopback, wait until they answer, and stop them by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    base_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.base_url = f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_pid(self.proc)


def stop_pid(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process by PID, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


def wait_http(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.05)
    stop_pid(proc)
    raise RuntimeError(f"server did not answer {url} within {timeout} s:\n{log_path.read_text(errors='replace')}")


def start_server(
    env: Mapping[str, str],
    tmp: Path,
    *,
    face: str = "claude",
    port: int | None = None,
    extra_args: tuple[str, ...] = (),
    health_path: str = "/health",
    timeout: float = 30.0,
) -> ServerProcess:
    """`python -m mssql_mcp serve --face FACE` with exactly `env` layered over a clean environment."""
    port = port or free_port()
    log_path = tmp / f"server-{face}-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MSSQL_", "SQLITE_", "OAUTH_"))}
    full_env.update({"HOST": "127.0.0.1", "PORT": str(port), "PYTHONUNBUFFERED": "1", **env})
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mssql_mcp",
                "--env-file",
                str(tmp / "no.env"),
                "serve",
                "--face",
                face,
                *extra_args,
            ],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(proc, port, log_path)
    try:
        wait_http(server.base_url + health_path, proc, log_path, timeout=timeout)
    except BaseException:
        stop_pid(proc)
        raise
    return server


@contextlib.contextmanager
def running_server(env: Mapping[str, str], tmp: Path, **kwargs: object) -> Iterator[ServerProcess]:
    server = start_server(env, tmp, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
