"""Find the ODBC driver for SQL Server, registering Microsoft's from PyPI when the system has none.

Order of preference for MSSQL_DRIVER="ODBC Driver 18 for SQL Server":
  1. a system-wide registration (Microsoft's apt/yum package writes one in /etc/odbcinst.ini);
  2. the driver shipped in the PyPI package `mssql-python-odbc` (a dependency of ours): we write an
     odbcinst.ini naming it, in a private folder, and point unixODBC's ODBCSYSINI at that folder. The
     system's other drivers (FreeTDS) are copied into it, so they stay usable.
FreeTDS (Debian `tdsodbc`) is the supported second driver: MSSQL_DRIVER=FreeTDS.

ODBCSYSINI must be set before pyodbc's first use: unixODBC reads it when the first environment handle is
made. `ensure_driver` is called when the backend is built, before any connection.
"""

from __future__ import annotations

import configparser
import glob
import logging
import os
import platform
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from mssql_mcp.errors import ConfigError

log = logging.getLogger("mssql_mcp.db.drivers")

MS_DRIVER = "ODBC Driver 18 for SQL Server"
FREETDS = "FreeTDS"
_FREETDS_LIBS = (
    "/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so",
    "/usr/lib/aarch64-linux-gnu/odbc/libtdsodbc.so",
    "/usr/lib64/libtdsodbc.so.0",
    "/usr/local/lib/libtdsodbc.so",
    "/opt/homebrew/lib/libtdsodbc.so",
)
_lock = threading.Lock()
_registered: dict[str, Path] = {}


@dataclass(frozen=True)
class DriverInfo:
    name: str  # what goes in Driver={...}
    library: Path
    source: str  # "system" | "mssql-python-odbc" | "FreeTDS library"

    @property
    def is_freetds(self) -> bool:
        return "tds" in self.library.name.lower() or self.name.lower() == FREETDS.lower()


def missing_driver_message(name: str) -> str:
    return (
        f"MSSQL_DRIVER: the ODBC driver {name!r} is not installed. Either install Microsoft's ODBC Driver 18 "
        f"(`pip install mssql-python-odbc`, a dependency of mssql-mcp, or the msodbcsql18 package from "
        f"Microsoft's repository) and set MSSQL_DRIVER='{MS_DRIVER}', or install FreeTDS "
        f"(`apt-get install unixodbc tdsodbc`) and set MSSQL_DRIVER=FreeTDS."
    )


def system_ini() -> Path:
    """The odbcinst.ini unixODBC reads now (ODBCSYSINI if set, else /etc)."""
    folder = os.environ.get("ODBCSYSINI") or "/etc"
    return Path(folder) / (os.environ.get("ODBCINSTINI") or "odbcinst.ini")


def _read_ini(path: Path) -> configparser.ConfigParser:
    ini = configparser.ConfigParser(interpolation=None, strict=False)
    ini.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case: Driver, Setup
    try:
        ini.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        log.warning("cannot read %s: %s", path, exc)
    return ini


def _library(ini: configparser.ConfigParser, name: str) -> Path | None:
    for section in ini.sections():
        if section.lower() == name.lower():
            driver = ini[section].get("Driver", "")
            if not driver:
                return None
            path = Path(driver)
            if path.is_absolute():
                return path if path.exists() else None
            found = [
                p for p in (Path("/usr/lib/x86_64-linux-gnu/odbc") / driver, Path("/usr/lib") / driver) if p.exists()
            ]
            return found[0] if found else path  # a bare name unixODBC resolves itself
    return None


def pypi_driver_library() -> Path | None:
    """libmsodbcsql-18.*.so from `mssql-python-odbc`, for this distribution family and CPU."""
    try:
        import mssql_python_odbc
    except ImportError:
        return None
    base = Path(mssql_python_odbc.get_libs_dir()) / "linux"
    machine = {"amd64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    families = [_distro_family(), "debian_ubuntu", "rhel", "suse"]
    for family in dict.fromkeys(families):
        hits = sorted(glob.glob(str(base / family / machine / "lib" / "libmsodbcsql-18.*.so*")))
        if hits:
            return Path(hits[-1])
    return None


def _distro_family() -> str:
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8").lower()
    except OSError:
        return "debian_ubuntu"
    ids = " ".join(line.split("=", 1)[1] for line in text.splitlines() if line.startswith(("id=", "id_like=")))
    if any(word in ids for word in ("rhel", "fedora", "centos", "rocky", "alma")):
        return "rhel"
    if "suse" in ids:
        return "suse"
    return "debian_ubuntu"


def ensure_driver(name: str) -> DriverInfo:
    """Make ODBC driver `name` usable by pyodbc in this process, or raise ConfigError naming both options.

    The PyPI Driver 18 is registered whichever driver is asked for (when the system has no Driver 18):
    unixODBC reads ODBCSYSINI once, so a later request in the same process could not add it.
    """
    with _lock:
        ini = _read_ini(system_ini())
        if _library(ini, MS_DRIVER) is None and MS_DRIVER not in _registered:
            shipped = pypi_driver_library()
            if shipped is not None:
                _register(ini, MS_DRIVER, shipped)
                ini = _read_ini(system_ini())
        library = _library(ini, name)
        if library is not None:
            source = "mssql-python-odbc" if _registered.get(name) == library else "system"
            return DriverInfo(name, library, source)
        if name.lower() == FREETDS.lower():
            for candidate in _FREETDS_LIBS:
                if Path(candidate).exists():
                    _register(ini, FREETDS, Path(candidate))
                    return DriverInfo(FREETDS, Path(candidate), "FreeTDS library")
        raise ConfigError(missing_driver_message(name))


def _register(current: configparser.ConfigParser, name: str, library: Path) -> None:
    """Write an odbcinst.ini holding the system's drivers plus `name`, and point ODBCSYSINI at it."""
    _registered[name] = library
    folder = Path(tempfile.mkdtemp(prefix="mssql-mcp-odbc-"))  # private (0700): nobody else can plant a driver
    out = configparser.ConfigParser(interpolation=None)
    out.optionxform = str  # type: ignore[assignment,method-assign]
    for section in current.sections():
        out[section] = dict(current[section])
    for registered, path in _registered.items():
        out[registered] = {
            "Description": f"{registered} (registered by mssql-mcp)",
            "Driver": str(path),
            "UsageCount": "1",
        }
    with open(folder / "odbcinst.ini", "w", encoding="utf-8") as fh:
        out.write(fh)
    os.environ["ODBCSYSINI"] = str(folder)
    os.environ.pop("ODBCINSTINI", None)
    log.info("registered ODBC driver %r from %s (ODBCSYSINI=%s)", name, library, folder)
