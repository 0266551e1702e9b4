"""A throwaway certificate authority made with the openssl command, for nginx and pebble on loopback."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def make_ca(folder: Path, name: str = "mssql-mcp test CA") -> Pair:
    folder.mkdir(parents=True, exist_ok=True)
    ca = Pair(folder / "ca.pem", folder / "ca.key")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        str(ca.key),
        "-out",
        str(ca.cert),
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    return ca


def issue(ca: Pair, folder: Path, names: list[str], stem: str = "server") -> Pair:
    """A leaf certificate for `names` (DNS names, or IPs), signed by `ca`."""
    folder.mkdir(parents=True, exist_ok=True)
    leaf = Pair(folder / f"{stem}.pem", folder / f"{stem}.key")
    csr = folder / f"{stem}.csr"
    ext = folder / f"{stem}.ext"
    sans = ",".join(f"IP:{n}" if n.replace(".", "").isdigit() else f"DNS:{n}" for n in names)
    ext.write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    _openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        str(leaf.key),
        "-out",
        str(csr),
        "-subj",
        f"/CN={names[0]}",
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca.cert),
        "-CAkey",
        str(ca.key),
        "-CAcreateserial",
        "-out",
        str(leaf.cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return leaf
