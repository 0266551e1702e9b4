#!/usr/bin/env bash
# Bootstraps everything `make run` and `make test` need, and is safe to run again:
#   1. Debian packages (only the missing ones; installed when root, otherwise the exact command is printed);
#   2. a virtualenv at $VENV (default .venv);
#   3. the pinned pip packages (skipped when the lock files have not changed since the last install);
#   4. for tests, the MCP conformance suite and Node 22, and oidc-provider, from npm (skipped once installed).
# It prints one line per thing it does and nothing when there is nothing to do; what apt and pip say goes to
# a log file ($VENV/bootstrap.log), whose end is shown if a step fails.
# Usage: scripts/bootstrap.sh run|test
set -euo pipefail
cd "$(dirname "$0")/.."

purpose="${1:-run}"
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
log="$VENV/bootstrap.log"
mkdir -p "$VENV"
: >"$log"

# quietly WHAT CMD...: run CMD with its output in the log; if it fails, say so and show the log's end.
quietly() {
  local what="$1"
  shift
  echo "== $what: $*" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    echo "bootstrap: $what failed. The end of $log:" >&2
    tail -n 25 "$log" | sed 's/^/  /' >&2
    exit 1
  fi
}

# What each purpose needs from Debian (the ODBC manager and drivers are scripts/install-odbc.sh's job).
# The test extras are the real programs the suite drives: nginx, certbot + pebble, openssl, Chromium, Node,
# and redis-server + redis-sentinel (the Redis store's tests start their own on loopback ports).
apt_run=(python3-venv)  # the ODBC drivers come from scripts/install-odbc.sh, at the end
apt_test=(nginx certbot pebble openssl chromium curl nodejs npm redis-server redis-sentinel)

want=("${apt_run[@]}")
[ "$purpose" = test ] && want+=("${apt_test[@]}")

missing=()
for pkg in "${want[@]}"; do
  # nodejs/npm may come from elsewhere (nvm, a Node image): a working binary on PATH is enough.
  case "$pkg" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    python3-venv) "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]} (log: $log)"
    export DEBIAN_FRONTEND=noninteractive
    quietly "apt-get update" apt-get update -qq
    quietly "apt-get install" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "bootstrap: missing Debian packages. Run this, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating virtualenv $VENV"
  quietly "creating the virtualenv" "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.installed-$purpose"
locks=(requirements.txt pyproject.toml)
[ "$purpose" = test ] && locks+=(requirements-dev.txt)
if [ ! -f "$stamp" ] || [ -n "$(find "${locks[@]}" -newer "$stamp" 2>/dev/null)" ]; then
  echo "bootstrap: installing Python packages into $VENV (log: $log)"
  pip=("$VENV/bin/python" -m pip install --disable-pip-version-check)
  quietly "pip install pip" "${pip[@]}" --upgrade pip
  quietly "pip install -r requirements.txt" "${pip[@]}" -r requirements.txt
  if [ "$purpose" = test ]; then
    quietly "pip install -r requirements-dev.txt" "${pip[@]}" -r requirements-dev.txt
  fi
  quietly "pip install -e ." "${pip[@]}" --no-deps -e .
  touch "$stamp"
fi

# The MCP conformance suite and the Node 22 it runs on, from npm at the versions tests/support/conformance.py
# pins, cached outside the repo (~/.cache/mssql-mcp-test) like the Inspector: nothing to do once installed.
if [ "$purpose" = test ] && ! "$VENV/bin/python" -m tests.support.conformance --check; then
  echo "bootstrap: installing the MCP conformance suite and Node 22 from npm (log: $log)"
  quietly "npm install (the MCP conformance suite)" "$VENV/bin/python" -m tests.support.conformance --install
fi

# The OpenID Provider the sign-in tests run on loopback (npm oidc-provider, at the version
# tests/support/oidc_provider.py pins), cached the same way.
if [ "$purpose" = test ] && ! "$VENV/bin/python" -m tests.support.oidc_provider --check; then
  echo "bootstrap: installing oidc-provider from npm (log: $log)"
  quietly "npm install (oidc-provider)" "$VENV/bin/python" -m tests.support.oidc_provider --install
fi

# The SQL Server ODBC drivers (unixODBC, FreeTDS, Driver 18), by the same script the Dockerfiles run.
# Its own messages (what it installs, or the apt command to run when not root) go to the log too; a failure
# shows them.
quietly "the ODBC drivers (scripts/install-odbc.sh)" scripts/install-odbc.sh "$VENV/bin/python"
grep '^install-odbc: installing' "$log" | sed 's/^install-odbc:/bootstrap:/' || true
