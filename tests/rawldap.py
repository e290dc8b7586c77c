# tests/rawldap.py - a minimal LDAPv3 client on raw sockets, for certpin's
# attack tests; imported by /usr/bin/python3 scripts, not run.
#
# libldap and python3-ldap pass SASL mechanism names as C strings and send
# one request at a time; these tests need what they cannot send: mechanism
# names with NUL bytes, and many requests written to the socket at once
# (pipelining).  Requests are BER encoded by hand (RFC 4511), responses
# decoded just enough to read result codes, entries and extended values.

import socket
import ssl
import time
import urllib.parse

WHOAMI = b"1.3.6.1.4.1.4203.1.11.3"
STARTTLS = b"1.3.6.1.4.1.1466.20037"
SYNC = b"1.3.6.1.4.1.4203.1.9.1.1"

# ---- BER ------------------------------------------------------------------


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + body


def integer(v, tag=0x02):
    return tlv(tag, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def octets(b, tag=0x04):
    return tlv(tag, b if isinstance(b, bytes) else b.encode())


def seq(*parts, tag=0x30):
    return tlv(tag, b"".join(parts))


def parse(b, i=0):
    """One TLV at b[i:]: (tag, body, index after it)."""
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, b[i:i + n], i + n


def children(body):
    out, i = [], 0
    while i < len(body):
        t, v, i = parse(body, i)
        out.append((t, v))
    return out


# ---- requests -----------------------------------------------------------


def message(msgid, op, controls=b""):
    return seq(integer(msgid), op, controls)


def bind_sasl(msgid, mech, cred=None):
    auth = octets(mech) + (octets(cred) if cred is not None else b"")
    return message(msgid, seq(integer(3), octets(b""), tlv(0xA3, auth), tag=0x60))


def bind_simple(msgid, dn, pw):
    return message(msgid, seq(integer(3), octets(dn), octets(pw, 0x80), tag=0x60))


def extended(msgid, oid, value=None):
    body = octets(oid, 0x80) + (octets(value, 0x81) if value is not None else b"")
    return message(msgid, tlv(0x77, body))


def whoami(msgid):
    return extended(msgid, WHOAMI)


def search(msgid, base, scope=0, attrs=(), controls=b""):
    """(objectClass=*) under base; scope 0 base, 1 one, 2 subtree."""
    op = seq(octets(base), integer(scope, 0x0A), integer(0, 0x0A), integer(0),
             integer(0), tlv(0x01, b"\x00"), octets(b"objectClass", 0x87),
             seq(*[octets(a) for a in attrs]), tag=0x63)
    return message(msgid, op, controls)


def sync_control(mode=3):
    """The LDAP Content Synchronization control: 1 refreshOnly, 3 refreshAndPersist."""
    return tlv(0xA0, seq(octets(SYNC), tlv(0x01, b"\xff"), octets(seq(integer(mode, 0x0A)))))


def modify(msgid, dn, mods, controls=b""):
    """mods: (op, type, [values]); op 0 add, 1 delete, 2 replace."""
    changes = [seq(integer(op, 0x0A), seq(octets(t), seq(*[octets(v) for v in vals], tag=0x31)))
               for op, t, vals in mods]
    return message(msgid, seq(octets(dn), seq(*changes), tag=0x66), controls)


def control(oid, value=None, critical=True):
    """One control, in a Controls sequence ([0])."""
    body = octets(oid) + (tlv(0x01, b"\xff") if critical else b"")
    if value is not None:
        body += octets(value)
    return tlv(0xA0, seq(body))


def delete(msgid, dn):
    return message(msgid, octets(dn, 0x4A))


def modrdn(msgid, dn, newrdn, deleteold=True):
    return message(msgid, seq(octets(dn), octets(newrdn),
                              tlv(0x01, b"\xff" if deleteold else b"\x00"), tag=0x6C))


# ---- responses ----------------------------------------------------------


class Response:
    """msgid, tag (the protocolOp's), code/matched/diag for results, dn and
    values (lower-case type: [bytes]) for entries, value for extended
    responses, t: when it was read."""

    def __init__(self, data, t):
        tag, body, _ = parse(data)
        kids = children(body)
        self.msgid = int.from_bytes(kids[0][1], "big", signed=True)
        self.tag, op = kids[1]
        self.t = t
        self.code = self.matched = self.diag = self.dn = self.value = None
        self.values = {}
        parts = children(op)
        if self.tag == 0x64:
            self.dn = parts[0][1].decode(errors="replace")
            for _, attr in children(parts[1][1]):
                (_, t), (_, vals) = children(attr)
                self.values[t.decode().lower()] = [v for _, v in children(vals)]
        elif self.tag in (0x61, 0x65, 0x67, 0x69, 0x6B, 0x6D, 0x6F, 0x78):
            self.code = int.from_bytes(parts[0][1], "big")
            self.matched = parts[1][1].decode(errors="replace")
            self.diag = parts[2][1].decode(errors="replace")
            for t, v in parts[3:]:
                if t == 0x8B:
                    self.value = v

    def __repr__(self):
        return "<msg %d tag %#x code %s dn %s value %r diag %r>" % (
            self.msgid, self.tag, self.code, self.dn, self.value, self.diag)


class Conn:
    """One LDAP connection: sock is a socket or an ssl.SSLSocket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.msgid = 0
        self.error = None	# why recv last returned None

    def next_id(self):
        self.msgid += 1
        return self.msgid

    def send(self, data):
        self.sock.sendall(data)

    def _frame(self):
        """A complete message from the buffer, or None."""
        if len(self.buf) < 2:
            return None
        n, i = self.buf[1], 2
        if n & 0x80:
            k = n & 0x7F
            if len(self.buf) < 2 + k:
                return None
            n = int.from_bytes(self.buf[2:2 + k], "big")
            i += k
        if len(self.buf) < i + n:
            return None
        data, self.buf = self.buf[:i + n], self.buf[i + n:]
        return data

    def recv(self, timeout=10.0):
        """The next message (a Response), or None at the timeout or EOF."""
        end = time.monotonic() + timeout
        while True:
            data = self._frame()
            if data is not None:
                return Response(data, time.monotonic())
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                self.error = "timeout"
                return None
            except (ConnectionError, ssl.SSLError, OSError) as e:
                self.error = repr(e)
                return None
            if not chunk:
                self.error = "EOF"
                return None
            self.buf += chunk

    def poll(self, reads=64):
        """The complete messages readable now (at most reads socket reads),
        without waiting; None last at EOF."""
        out = []
        self.sock.setblocking(False)
        try:
            for _ in range(reads):
                try:
                    chunk = self.sock.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError):
                    break
                except (ConnectionError, ssl.SSLError, OSError):
                    chunk = b""
                if not chunk:
                    out.append(None)
                    break
                self.buf += chunk
        finally:
            self.sock.setblocking(True)
        t = time.monotonic()
        while True:
            data = self._frame()
            if data is None:
                break
            out.insert(len(out) - (1 if out and out[-1] is None else 0), Response(data, t))
        return out

    def result(self, msgid, timeout=10.0):
        """Read until the final response to msgid; (entries, final)."""
        entries = []
        while True:
            r = self.recv(timeout)
            if r is None:
                return entries, None
            if r.msgid != msgid:
                continue
            if r.tag == 0x64:
                entries.append(r)
            elif r.tag in (0x73, 0x79):
                continue
            else:
                return entries, r

    def call(self, build, *args, timeout=10.0):
        """Send build(msgid, *args) and return (entries, final response)."""
        msgid = self.next_id()
        self.send(build(msgid, *args))
        return self.result(msgid, timeout)

    def bind_sasl(self, mech, cred=b""):
        return self.call(bind_sasl, mech, cred)[1]

    def bind_simple(self, dn, pw):
        return self.call(bind_simple, dn, pw)[1]

    def whoami(self):
        r = self.call(whoami)[1]
        if r is None or r.code != 0:
            return None
        return (r.value or b"").decode()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _tls_context(ca, crt=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(ca)
    if crt:
        ctx.load_cert_chain(crt, key)
    return ctx


def connect(uri, ca=None, crt=None, key=None, starttls=False):
    """A Conn to an ldap://, ldaps:// or ldapi:// URI; TLS with the client
    certificate crt/key when given (ldaps, or ldap with starttls)."""
    u = urllib.parse.urlparse(uri)
    if u.scheme == "ldapi":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(urllib.parse.unquote(u.netloc))
        return Conn(s)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    if u.scheme == "ldaps":
        s = _tls_context(ca, crt, key).wrap_socket(s, server_hostname=u.hostname)
        return Conn(s)
    c = Conn(s)
    if starttls:
        r = c.call(extended, STARTTLS)[1]
        if r is None or r.code != 0:
            raise RuntimeError("StartTLS refused: %r" % r)
        c.sock = _tls_context(ca, crt, key).wrap_socket(s, server_hostname=u.hostname)
    return c


def device_and_root(ldaps, ldapi, ca, crt, key, rootdn, rootpw):
    """A device's connection bound with its certificate (SASL EXTERNAL over
    ldaps) and the root DN's over ldapi: (device, root, "bound=..." line)."""
    d = connect(ldaps, ca, crt, key)
    r = d.bind_sasl(b"EXTERNAL")
    bound = "bound=%s" % (d.whoami() if r and r.code == 0 else "error %s" % (r and r.code))
    a = connect(ldapi)
    r = a.bind_simple(rootdn.encode(), rootpw.encode())
    assert r.code == 0, r
    return d, a, bound
