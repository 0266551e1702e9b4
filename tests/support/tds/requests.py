"""One client connection: PRELOGIN (and TLS), LOGIN7, then requests until the client leaves.

The connection thread reads messages; each request runs on a worker thread, so an ATTENTION that
arrives mid-statement cancels it (MS-TDS 3.3.5.5: the server answers with DONE carrying DONE_ATTN).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from typing import TYPE_CHECKING, Any

from tests.support.tds import login as lg
from tests.support.tds import wire
from tests.support.tds.engine import Cancelled, DropConnection, Session
from tests.support.tds.params import Param, RpcCall, parse_rpc
from tests.support.tds.tls import PlainTransport, TlsTransport

if TYPE_CHECKING:
    from tests.support.tds.server import TdsServer

_DECLARED = re.compile(r"@(\w+)")


class Writer:
    """Streams a response: full packets go out as tokens accumulate; `finish` sends the last with EOM."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.buf = bytearray()
        self.number = 0

    def write(self, data: bytes) -> None:
        self.buf += data
        room = self.conn.packet_size - wire.HEADER.size
        while len(self.buf) > room:
            self._packet(bytes(self.buf[:room]), eom=False)
            del self.buf[:room]

    def flush_one(self) -> None:
        """Send what is buffered without ending the message (used to drop a connection mid-result)."""
        if self.buf:
            self._packet(bytes(self.buf), eom=False)
            self.buf.clear()

    def finish(self) -> None:
        self._packet(bytes(self.buf), eom=True)
        self.buf.clear()

    def _packet(self, chunk: bytes, *, eom: bool) -> None:
        self.number += 1
        header = wire.HEADER.pack(
            wire.TABULAR_RESULT, wire.STATUS_EOM if eom else 0, len(chunk) + 8, self.conn.spid, self.number % 256, 0
        )
        self.conn.send(header + chunk)


class Connection:
    def __init__(self, server: TdsServer, sock: socket.socket, spid: int) -> None:
        self.server, self.spid = server, spid
        self.transport: PlainTransport = PlainTransport(sock)
        self.packet_size = 4096
        self.session: Session | None = None
        self._send_lock = threading.Lock()
        self._state = threading.Lock()
        self._worker: threading.Thread | None = None
        self._attention = False
        self._dead = False

    def send(self, data: bytes) -> None:
        with self._send_lock:
            self.transport.send(data)

    def kill(self) -> None:
        if not self._dead:
            self._dead = True
            self.transport.close()
            if self.session is not None:
                self.session.cancel()

    # -- handshake -------------------------------------------------------------------------

    def serve(self) -> None:
        self.server.record(self.spid, "connect", "")
        strict = self.server.strict_context
        if strict is not None and self.transport.sock.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS ClientHello
            tls = TlsTransport(self.transport.sock, strict)
            tls.handshake_raw()
            self.transport = tls
            self.server.record(self.spid, "tls", f"strict {tls.version()}")
        msg = wire.read_message(self.transport.recv)
        if msg.type != wire.PRELOGIN:
            raise ConnectionError(f"expected PRELOGIN, got packet type {msg.type}")
        offered = lg.parse_prelogin(msg.payload).get(lg.OPT_ENCRYPTION, bytes([lg.ENCRYPT_NOT_SUP]))[0]
        self.server.record(self.spid, "prelogin", f"encryption={offered}")
        already = isinstance(self.transport, TlsTransport)
        answer = lg.ENCRYPT_NOT_SUP if already else lg.answer_encryption(offered, self.server.tls_context is not None)
        for packet in wire.packets(wire.TABULAR_RESULT, lg.build_prelogin(answer), 4096, self.spid):
            self.send(packet)
        if answer == lg.ENCRYPT_ON:
            assert self.server.tls_context is not None
            tls = TlsTransport(self.transport.sock, self.server.tls_context)
            tls.handshake_in_prelogin()
            self.transport = tls
            self.server.record(self.spid, "tls", tls.version())
        msg = wire.read_message(self.transport.recv)
        if msg.type != wire.LOGIN7:
            raise ConnectionError(f"expected LOGIN7, got packet type {msg.type}")
        login = lg.parse_login7(msg.payload)
        problem = self.server.check_login(login)
        if problem is not None:
            self.server.record(self.spid, "login_failed", f"{login.user} {login.password!r} db={login.database!r}")
            self._reply(lg.login_failed(login.user, *problem))
            return
        self.packet_size = max(512, min(login.packet_size or 4096, 32767))
        self.session = Session(self.server, self.spid, login.user)
        self.server.record(self.spid, "login", f"{login.user} app={login.app}")
        self._reply(lg.login_ok(login, self.server.database, self.packet_size))
        self._requests()

    def _reply(self, payload: bytes) -> None:
        for packet in wire.packets(wire.TABULAR_RESULT, payload, self.packet_size, self.spid):
            self.send(packet)

    # -- requests --------------------------------------------------------------------------

    def _requests(self) -> None:
        while not self._dead:
            msg = wire.read_message(self.transport.recv)
            if msg.type == wire.ATTENTION:
                self.server.record(self.spid, "attention", "")
                with self._state:
                    if self._worker is not None:
                        self._attention = True
                        assert self.session is not None
                        self.session.cancel()
                        continue
                self._reply(wire.done(wire.DONE_ATTN))
                continue
            worker = self._worker
            if worker is not None:
                worker.join()
            thread = threading.Thread(target=self._run, args=(msg,), name=f"tds-req-{self.spid}", daemon=True)
            with self._state:
                self._worker = thread
            thread.start()

    def _run(self, msg: wire.Message) -> None:
        assert self.session is not None
        session = self.session
        session.reset_cancel()
        out = Writer(self)
        try:
            try:
                if msg.type == wire.SQL_BATCH:
                    r = wire.Reader(msg.payload)
                    r.skip_all_headers()
                    sql = msg.payload[r.pos :].decode("utf-16-le")
                    self.server.record(self.spid, "batch", sql)
                    session.execute(sql, {}, out.write)
                elif msg.type == wire.RPC:
                    self._rpc(parse_rpc(msg.payload), out)
                elif msg.type == wire.TRANSACTION_MANAGER:
                    self._transaction(msg.payload, out)
                else:
                    out.write(wire.message(16, f"unsupported packet type {msg.type}") + wire.done(wire.DONE_ERROR))
            except Cancelled:
                pass
            except DropConnection:
                out.flush_one()
                self.server.record(self.spid, "dropped", "")
                self.kill()
                return
            with self._state:
                if self._attention:
                    out.write(wire.done(wire.DONE_ATTN))
                    self._attention = False
                out.finish()
                self._worker = None
        except OSError:
            self.kill()
        except Exception as exc:  # a bug in this server: fail the connection loudly rather than hang the client
            self.server.record(self.spid, "server_error", f"{type(exc).__name__}: {exc}")
            self.kill()

    def _rpc(self, calls: list[RpcCall], out: Writer) -> None:
        assert self.session is not None
        session = self.session
        for n, call in enumerate(calls):
            proc = call.proc.lower().split(".")[-1]
            self.server.record(self.spid, "rpc", proc)
            params = call.params
            handle: int | None = None
            if proc == "sp_executesql":
                sql, bound = params[0].value, _bind(params[1].value if len(params) > 1 else "", params[2:])
            elif proc in ("sp_prepexec", "sp_prepare"):
                handle = max(session.prepared, default=0) + 1  # never a live handle, after unprepares too
                session.prepared[handle] = (params[2].value, _declared(params[1].value))
                sql, bound = params[2].value, _bind(params[1].value, params[3:])
            elif proc == "sp_execute":
                sql, names = session.prepared[int(params[0].value)]
                bound = _bind_names(names, params[1:])
            elif proc == "sp_unprepare":
                session.prepared.pop(int(params[0].value), None)
                sql, bound = "", {}
            else:
                out.write(wire.message(2812, f"Could not find stored procedure '{call.proc}'."))
                out.write(
                    wire.done(
                        wire.DONE_ERROR | (wire.DONE_MORE if n < len(calls) - 1 else 0), token=wire.TOKEN_DONEPROC
                    )
                )
                continue
            ok = True
            if proc != "sp_prepare" and sql:
                ok = session.execute(sql, bound, out.write, in_proc=True)
            out.write(struct.pack("<Bi", wire.TOKEN_RETURNSTATUS, 0 if ok else 1))
            if handle is not None:  # the @handle OUTPUT parameter (RETURNVALUE, MS-TDS 2.2.7.18)
                out.write(
                    bytes([0xAC])
                    + struct.pack("<H", 0)
                    + wire.b_varchar(params[0].name)
                    + b"\x01"
                    + struct.pack("<IH", 0, 0x0001)
                    + bytes([0x26, 4])
                    + b"\x04"
                    + struct.pack("<i", handle)
                )
            status = (0 if ok else wire.DONE_ERROR) | (wire.DONE_MORE if n < len(calls) - 1 else 0)
            out.write(wire.done(status, token=wire.TOKEN_DONEPROC))

    def _transaction(self, payload: bytes, out: Writer) -> None:
        """Transaction manager requests (MS-TDS 2.2.6.9), which Driver 18 uses for commit and rollback."""
        assert self.session is not None
        r = wire.Reader(payload)
        r.skip_all_headers()
        kind = r.u16()
        if kind == 5:  # TM_BEGIN_XACT
            self.session.begin(out.write)
        elif kind in (7, 8):  # TM_COMMIT_XACT, TM_ROLLBACK_XACT
            r.b_varchar()
            again = bool(r.u8() & 0x01) if not r.done else False
            self.session.end(kind == 7, out.write, "transaction manager request")
            if again:
                self.session.begin(out.write)
        out.write(wire.done())


def _declared(decl: Any) -> list[str]:
    return _DECLARED.findall(str(decl or ""))


def _bind(decl: Any, values: list[Param]) -> dict[str, Any]:
    return _bind_names(_declared(decl), values)


def _bind_names(names: list[str], values: list[Param]) -> dict[str, Any]:
    bound: dict[str, Any] = {}
    for i, p in enumerate(values):
        name = p.name.lstrip("@") if p.name else (names[i] if i < len(names) else f"P{i + 1}")
        bound[name] = p.value
    return bound
