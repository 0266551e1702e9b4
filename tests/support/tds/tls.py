"""TLS inside TDS (MS-TDS 2.2.6.5 and 3.3.5.3): the handshake travels in PRELOGIN packets, then records flow raw.

Python's `ssl` with memory BIOs lets the server feed handshake bytes in and out of TDS packets itself.
After the handshake the whole connection is TLS (the client asked for ENCRYPT_ON).
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path

from tests.support.tds import wire


def make_certificate(folder: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key for 127.0.0.1 / localhost."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tds-cert.pem", folder / "tds-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    # TLS 1.2: a TLS 1.3 server sends session tickets after its last handshake flight, which a TDS 7.x
    # client would then read as stray bytes outside the PRELOGIN wrapping.
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def strict_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TDS 8.0 (`Encrypt=strict`): TLS first, before any TDS packet, negotiated with ALPN "tds/8.0"."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["tds/8.0"])
    return ctx


class PlainTransport(wire.Transport):
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def recv(self, n: int) -> bytes:
        return self.sock.recv(n)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class TlsTransport(PlainTransport):
    """TLS records over the socket, driven through memory BIOs; safe for one reader and one writer thread."""

    def __init__(self, sock: socket.socket, ctx: ssl.SSLContext) -> None:
        super().__init__(sock)
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = ctx.wrap_bio(self._in, self._out, server_side=True)
        self._lock = threading.Lock()

    def handshake_in_prelogin(self) -> None:
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush_prelogin()
                msg = wire.read_message(self.sock.recv)
                self._in.write(msg.payload)
        self._flush_prelogin()

    def handshake_raw(self) -> None:
        """TDS 8.0: the handshake comes straight over TCP, not wrapped in PRELOGIN packets."""
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = self._out.read()
                if pending:
                    self.sock.sendall(pending)
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("client closed the connection during the TLS handshake") from None
                self._in.write(data)
        pending = self._out.read()
        if pending:
            self.sock.sendall(pending)

    def _flush_prelogin(self) -> None:
        pending = self._out.read()
        if pending:
            for packet in wire.packets(wire.PRELOGIN, pending, 4096):
                self.sock.sendall(packet)

    def recv(self, n: int) -> bytes:
        while True:
            with self._lock:
                try:
                    return self._tls.read(n)
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLZeroReturnError:
                    return b""
            data = self.sock.recv(65536)
            if not data:
                return b""
            with self._lock:
                self._in.write(data)

    def version(self) -> str:
        return str(self._tls.version())

    def send(self, data: bytes) -> None:
        with self._lock:
            self._tls.write(data)
            pending = self._out.read()
        self.sock.sendall(pending)
