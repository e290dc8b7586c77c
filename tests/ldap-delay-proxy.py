#!/usr/bin/python3
"""ldap-delay-proxy: a TCP proxy between an LDAP client and slapd that holds
every server response back for DELAY seconds and records, per LDAP operation
type, how many requests the client had in flight at most (sent, not yet
answered).  A client that waits for each answer before the next request
never has more than one in flight; a pipelining client has many.

usage: ldap-delay-proxy.py LISTEN_PORT SERVER_PORT DELAY STATSFILE
Runs until killed or until the process that started it is gone; rewrites STATSFILE ("search N", "modify N", ...) after
every message.  Used by tests/test020-get.sh and tests/test021-revoke.sh.

With CERTPIN_PROXY_HOLD=K:HELDFILE:RELEASEFILE in the environment, the K-th
modify response (and everything after it) is held back until RELEASEFILE
exists; HELDFILE is created once it is held (tests/test077: a client
interrupted while waiting for exactly that answer).
"""
import os, selectors, socket, sys, time

listen_port, server_port, delay, statsfile = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
REQ = {0x60: 'bind', 0x63: 'search', 0x66: 'modify', 0x68: 'add', 0x4a: 'delete', 0x77: 'extended'}
DONE = {0x61, 0x65, 0x67, 0x69, 0x6b, 0x78}  # bind, searchDone, modify, add, delete, extended responses
inflight = {}   # msgid -> op name
peak = {}


def messages(buf):
    """Split complete BER LDAPMessages off buf: yields (msgid, op tag), returns rest."""
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
        msgid = int.from_bytes(body[2:2 + idlen], 'big')
        out.append((msgid, body[2 + idlen]))
        buf = buf[i + n:]
    return out, buf


def save():
    with open(statsfile + '.tmp', 'w') as f:
        for k in sorted(peak):
            f.write('%s %d\n' % (k, peak[k]))
    os.replace(statsfile + '.tmp', statsfile)


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('127.0.0.1', listen_port))
ls.listen(8)
sel = selectors.DefaultSelector()
sel.register(ls, selectors.EVENT_READ, 'accept')
pairs = {}      # sock -> state dict
held = []       # (due time, client sock, data)
hold = os.environ.get('CERTPIN_PROXY_HOLD')
if hold:
    hold_k, hold_file, release_file = hold.split(':', 2)
    hold_k = int(hold_k)
modifies = 0    # modify responses passed on


def must_hold(st, data):
    """Whether this chunk holds the K-th modify response, not yet released."""
    if not hold or os.path.exists(release_file):
        return False
    msgs, _ = messages(st['sbuf'] + data)
    if modifies + sum(1 for _, tag in msgs if tag == 0x67) < hold_k:
        return False
    if not os.path.exists(hold_file):
        open(hold_file, 'w').close()
    return True


save()
parent = os.getppid()
while os.getppid() == parent:
    timeout = min(1.0, max(0.0, held[0][0] - time.time())) if held else 1.0
    if hold and held:
        timeout = min(timeout, 0.02)
    for key, _ in sel.select(timeout):
        if key.data == 'accept':
            c, _ = ls.accept()
            s = socket.create_connection(('127.0.0.1', server_port))
            st = {'c': c, 's': s, 'cbuf': b'', 'sbuf': b''}
            pairs[c] = pairs[s] = st
            sel.register(c, selectors.EVENT_READ, 'client')
            sel.register(s, selectors.EVENT_READ, 'server')
            continue
        sock = key.fileobj
        st = pairs.get(sock)
        if st is None:
            continue
        data = sock.recv(65536)
        if not data:
            for x in (st['c'], st['s']):
                try:
                    sel.unregister(x)
                except Exception:
                    pass
                x.close()
                pairs.pop(x, None)
            continue
        if key.data == 'client':
            msgs, st['cbuf'] = messages(st['cbuf'] + data)
            for msgid, tag in msgs:
                if tag in REQ:
                    inflight[msgid] = REQ[tag]
                    n = sum(1 for v in inflight.values() if v == REQ[tag])
                    peak[REQ[tag]] = max(peak.get(REQ[tag], 0), n)
            st['s'].sendall(data)
            save()
        else:
            held.append((time.time() + delay, st['c'], data, st))
    now = time.time()
    while held and held[0][0] <= now:
        if must_hold(held[0][3], held[0][2]):
            break
        _, c, data, st = held.pop(0)
        msgs, st['sbuf'] = messages(st['sbuf'] + data)
        for msgid, tag in msgs:
            if tag in DONE:
                inflight.pop(msgid, None)
            if tag == 0x67:
                modifies += 1
        try:
            c.sendall(data)
        except OSError:
            pass
