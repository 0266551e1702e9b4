"""A `docker` for setup-letsencrypt.sh's default (Compose) mode on a machine without a Docker engine.

It understands only the `docker compose` commands the script runs, and reads the real Compose model (the
docker-compose binary's `config --format json`) to carry them out:

    compose version                                  answered
    compose -f F [--profile P] up -d nginx           SHIM_NGINX_START (nginx with the project's config)
    compose -f F exec -T nginx nginx -s reload       SHIM_NGINX_RELOAD
    compose -f F [--profile P] run --rm certbot ARGS certbot ARGS, in a private mount namespace where each
                                                     of the service's volumes is bind-mounted at its target,
                                                     as the container would see it (/etc/letsencrypt,
                                                     /var/www/certbot), and /var/lib, /var/log are scratch

Anything else fails loudly. Every call is appended to SHIM_LOG. Needs root (mount namespaces).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

COMPOSE = Path(sys.executable).parent / "docker-compose"


def _model(files: list[str], profiles: list[str]) -> dict[str, Any]:
    cmd = [str(COMPOSE)] + [x for f in files for x in ("-f", f)] + [x for p in profiles for x in ("--profile", p)]
    out = subprocess.run(
        [*cmd, "config", "--format", "json"], capture_output=True, text=True, timeout=60, cwd=Path(files[0]).parent
    )
    if out.returncode != 0:
        raise SystemExit(f"docker-shim: compose config failed:\n{out.stderr}")
    value: dict[str, Any] = json.loads(out.stdout)
    return value


def _host_path(model: dict[str, Any], mount: dict[str, Any]) -> str:
    if mount["type"] == "bind":
        return str(mount["source"])
    opts = model["volumes"][mount["source"]].get("driver_opts", {})
    if opts.get("o") != "bind":
        raise SystemExit(f"docker-shim: volume {mount['source']} is not bound to a host folder")
    return str(opts["device"])


def _run_in_container_view(model: dict[str, Any], service: str, argv: list[str]) -> int:
    lines = ["set -e", "mount --make-rprivate /", "mount -t tmpfs scratch /var/lib", "mount -t tmpfs scratch /var/log"]
    for mount in model["services"][service].get("volumes", []):
        source, target = _host_path(model, mount), mount["target"]
        if not os.path.isdir(source):
            raise SystemExit(f"docker-shim: {source} does not exist (Docker would refuse the bind volume)")
        if not os.path.isdir(target):  # cover the parent so the host file system is left alone
            lines.append(f"mount -t tmpfs scratch {shlex.quote(os.path.dirname(target))}")
            lines.append(f"mkdir -p {shlex.quote(target)}")
        lines.append(f"mount --bind {shlex.quote(source)} {shlex.quote(target)}")
    lines.append('exec certbot "$@"')  # the certbot/certbot image's ENTRYPOINT
    return subprocess.call(["unshare", "--mount", "sh", "-c", "\n".join(lines), "sh", *argv])


def main(argv: list[str]) -> int:
    with open(os.environ["SHIM_LOG"], "a") as log:
        log.write(shlex.join(["docker", *argv]) + "\n")
    if argv[:1] != ["compose"]:
        raise SystemExit(f"docker-shim: unsupported: {argv}")
    args, files, profiles = argv[1:], [], []
    while args and args[0] in ("-f", "--profile"):
        (files if args[0] == "-f" else profiles).append(args[1])
        args = args[2:]
    if args == ["version"]:
        print("Docker Compose version v5 (docker-shim)")
        return 0
    model = _model(files, profiles)
    command, rest = args[0], args[1:]
    if command == "up" and rest[:1] == ["-d"] and set(rest[1:]) <= set(model["services"]) and rest[1:] == ["nginx"]:
        return subprocess.call(os.environ["SHIM_NGINX_START"], shell=True)
    if command == "exec" and rest == ["-T", "nginx", "nginx", "-s", "reload"] and "nginx" in model["services"]:
        return subprocess.call(os.environ["SHIM_NGINX_RELOAD"], shell=True)
    if command == "run" and rest[:1] == ["--rm"] and rest[1:2] == ["certbot"] and "certbot" in model["services"]:
        return _run_in_container_view(model, "certbot", rest[2:])
    raise SystemExit(f"docker-shim: unsupported: {argv}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
