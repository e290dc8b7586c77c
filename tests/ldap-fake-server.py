#!/usr/bin/python3
"""ldap-fake-server: a misbehaving LDAP server on 127.0.0.1 for the tools'
tests (a real client talks to it; nothing here is certpin).

usage: ldap-fake-server.py PORT MODE [HEXMSG]
  silent    accept connections and read, never answer anything (also no
            TLS handshake: an ldaps:// client waits for ever)
  bindok    answer every bind with success, never answer anything else
  bindfail  answer every bind with invalidCredentials (49) and the
            diagnostic message HEXMSG (bytes in hex: control characters,
            escape sequences, invalid UTF-8 as a hostile server may send)
Writes "ready" to standard output once listening; runs until killed or
until the process that started it is gone.
"""
import os, selectors, socket, sys

port, mode = int(sys.argv[1]), sys.argv[2]
message = bytes.fromhex(sys.argv[3]) if len(sys.argv) > 3 else b''


def ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + ber_len(len(body)) + body


def bind_response(msgid, code, diag):
    result = tlv(0x0a, bytes([code])) + tlv(0x04, b'') + tlv(0x04, diag)
    idb = msgid.to_bytes(max(1, (msgid.bit_length() + 8) // 8), 'big')
    return tlv(0x30, tlv(0x02, idb) + tlv(0x61, result))


def messages(buf):
    """Split complete LDAPMessages off buf: [(msgid, op tag)], rest."""
    out = []
    while len(buf) >= 2:
        if buf[0] != 0x30:
            raise ValueError('not an LDAPMessage')
        n, i = buf[1], 2
        if n & 0x80:
            k = n & 0x7f
            if len(buf) < 2 + k:
                break
            n = int.from_bytes(buf[2:2 + k], 'big')
            i = 2 + k
        if len(buf) < i + n:
            break
        body = buf[i:i + n]
        idlen = body[1]
        out.append((int.from_bytes(body[2:2 + idlen], 'big'), body[2 + idlen]))
        buf = buf[i + n:]
    return out, buf


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('127.0.0.1', port))
ls.listen(16)
sel = selectors.DefaultSelector()
sel.register(ls, selectors.EVENT_READ, None)
bufs = {}
print('ready', flush=True)
parent = os.getppid()
while os.getppid() == parent:
    for key, _ in sel.select(1.0):
        if key.data is None:
            c, _ = ls.accept()
            bufs[c] = b''
            sel.register(c, selectors.EVENT_READ, 'c')
            continue
        c = key.fileobj
        try:
            data = c.recv(65536)
        except OSError:
            data = b''
        if not data:
            sel.unregister(c)
            c.close()
            bufs.pop(c, None)
            continue
        if mode == 'silent':
            continue
        try:
            msgs, bufs[c] = messages(bufs[c] + data)
        except ValueError:
            continue
        for msgid, tag in msgs:
            if tag != 0x60:     # only binds are answered
                continue
            if mode == 'bindok':
                c.sendall(bind_response(msgid, 0, b''))
            else:
                c.sendall(bind_response(msgid, 49, message))
