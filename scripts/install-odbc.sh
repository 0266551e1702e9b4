#!/usr/bin/env bash
# The one way this project installs its SQL Server ODBC drivers. Used by scripts/bootstrap.sh (developer
# machines and CI) and by both Dockerfiles, so the image runs with exactly what the tests ran with.
#
#   1. Debian: unixodbc (the driver manager; libltdl7 is what Microsoft's driver dlopens) and tdsodbc (FreeTDS).
#   2. PyPI: mssql-python-odbc, Microsoft ODBC Driver 18 as a wheel (no Microsoft apt repository needed);
#      mssql_mcp/db/drivers.py registers it with unixODBC at start. Its binaries are under Microsoft's
#      licence: it is installed as a package, never copied into this repository.
#
# Usage: scripts/install-odbc.sh [PYTHON]     PYTHON: the interpreter whose environment gets the wheel
#                                             (default: python3). Safe to run again: it installs only what is missing.
# As root the Debian packages are installed; otherwise the exact command is printed and it exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${1:-python3}"
apt_packages=(unixodbc tdsodbc libltdl7)
# The pin: requirements.txt's line when it has one (a single lock), else this default.
default_pin="mssql-python-odbc==18.6.2.2"
pin="$(grep -Eis '^mssql-python-odbc==' requirements.txt || true)"
pin="${pin:-$default_pin}"

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-odbc: missing Debian packages. Run this, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "install-odbc: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # In an image build the package lists are dead weight; on a workstation they are harmless to keep.
  if [ "${INSTALL_ODBC_CLEAN_APT:-0}" = 1 ]; then rm -rf /var/lib/apt/lists/*; fi
fi

want="${pin#*==}"
have="$("$python" -c 'import importlib.metadata as m; print(m.version("mssql-python-odbc"))' 2>/dev/null || true)"
if [ "$have" != "$want" ]; then
  echo "install-odbc: installing $pin"
  "$python" -m pip install -q --disable-pip-version-check --no-cache-dir "$pin"
fi
