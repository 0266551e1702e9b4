# The two commands: `make run` serves the demo, `make test` runs every check but the slow suites.
# Both bootstrap what they need (apt packages when root, the venv, pip packages) and are safe to re-run.
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: run run-chatgpt test test-slow test-all lint typecheck pytest demo docs bootstrap bootstrap-test clean bench loadtest deploy-check

# The local demo lets local tools register loopback sign-in callbacks (Claude Desktop's mcp-remote bridge,
# MCP Inspector): the server listens on 127.0.0.1 only. ALLOW_LOOPBACK_REDIRECTS=false make run refuses them.
run run-chatgpt: export ALLOW_LOOPBACK_REDIRECTS ?= true

run: bootstrap
	$(PY) -m mssql_mcp serve --face claude --demo

run-chatgpt: bootstrap
	$(PY) -m mssql_mcp serve --face chatgpt --demo

# `make test` stays lean (under 15 minutes on 2 cores): lint, types, and every test not marked `slow`,
# the MCP conformance suite included. `make test-slow` runs the slow end-to-end suites (the deployment kit
# with nginx, certbot and pebble; the OpenID Provider flows in Chromium; external mode; replicas behind
# nginx; the hostile tenant; 20,000 tables; ...), and CI runs it after `make test`. `make test-all`: both.
test: bootstrap-test lint typecheck pytest

test-slow: bootstrap-test
	$(PY) -m pytest -q -m slow

test-all: bootstrap-test lint typecheck
	$(PY) -m pytest -q

# The deployment kit alone: Compose and Dockerfile validators, then nginx, certbot and pebble on loopback.
deploy-check: bootstrap-test
	$(PY) -m pytest -q tests/test_deploy_*.py

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m vulture mssql_mcp vulture_whitelist.py --min-confidence 80

typecheck:
	$(PY) -m mypy

pytest:
	$(PY) -m pytest -q -m "not slow"

# Regenerates the README's configuration table and .env.example from mssql_mcp/settings/, and
# docs/connect.md from mssql_mcp/connect.py.
docs: bootstrap
	$(PY) -m mssql_mcp config --markdown-table --write README.md
	$(PY) -m mssql_mcp config --env-example --write .env.example
	$(PY) -m mssql_mcp.connect_docs --write docs/connect.md

# Side by side with dbhub and MCP Toolbox (installed from npm into bench/.scratch); not part of `make test`.
# See docs/performance.md. Both protocol revisions by default; BENCH_ARGS passes options, e.g.
# BENCH_ARGS="--era 2026 --rounds 5 --window 10".
bench: bootstrap-test
	$(PY) -m bench run $(BENCH_ARGS)

# 500 concurrent sessions x 20 calls through nginx, 0 errors expected.
loadtest: bootstrap-test
	$(PY) -m bench loadtest $(LOADTEST_ARGS)

bootstrap:
	@scripts/bootstrap.sh run

bootstrap-test:
	@scripts/bootstrap.sh test

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
