# The two commands: `make run` serves the demo, `make test` runs every check.
# Both bootstrap what they need (apt packages when root, the venv, pip packages) and are safe to re-run.
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: run run-chatgpt test lint typecheck pytest demo docs bootstrap bootstrap-test clean

run: bootstrap
	$(PY) -m mssql_mcp serve --face claude --demo

run-chatgpt: bootstrap
	$(PY) -m mssql_mcp serve --face chatgpt --demo

test: bootstrap-test lint typecheck pytest

lint:
	$(PY) -m ruff check .

typecheck:
	$(PY) -m mypy

pytest:
	$(PY) -m pytest -q

# Regenerates the README's configuration table from mssql_mcp/settings.py.
docs: bootstrap
	$(PY) -m mssql_mcp config --markdown-table --write README.md
	$(PY) -m mssql_mcp config --env-example --write .env.example

bootstrap:
	@scripts/bootstrap.sh run

bootstrap-test:
	@scripts/bootstrap.sh test

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
