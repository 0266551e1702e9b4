#!/usr/bin/env bash
# Bootstraps everything `make run` and `make test` need, and is safe to run again:
#   1. Debian packages (only the missing ones; installed when root, otherwise the exact command is printed);
#   2. a virtualenv at $VENV (default .venv);
#   3. the pinned pip packages (skipped when the lock files have not changed since the last install).
# Usage: scripts/bootstrap.sh run|test
set -euo pipefail
cd "$(dirname "$0")/.."

purpose="${1:-run}"
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

# What each purpose needs from Debian (the ODBC manager and drivers are scripts/install-odbc.sh's job).
# The test extras are the real programs the suite drives: nginx, certbot + pebble, openssl, Chromium, Node.
apt_run=(python3-venv)  # the ODBC drivers come from scripts/install-odbc.sh, at the end
apt_test=(nginx certbot pebble openssl chromium curl nodejs npm)

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
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing Debian packages. Run this, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.installed-$purpose"
locks=(requirements.txt pyproject.toml)
[ "$purpose" = test ] && locks+=(requirements-dev.txt)
if [ ! -f "$stamp" ] || [ -n "$(find "${locks[@]}" -newer "$stamp" 2>/dev/null)" ]; then
  echo "bootstrap: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
  [ "$purpose" = test ] && "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi

# The SQL Server ODBC drivers (unixODBC, FreeTDS, Driver 18), by the same script the Dockerfiles run.
scripts/install-odbc.sh "$VENV/bin/python"
