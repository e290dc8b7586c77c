# tests/inflight-revoke.py - test066's in-flight read: a device bound with
# its certificate starts a search of many large entries and stops reading
# after the first one (more than the sockets' buffers hold, so that
# slapd's writes block); an administrator deletes its certificate meanwhile, on another
# connection; then the device reads on.  Prints what the search returned.
#
# usage: inflight-revoke.py LDAPS LDAPI CA CRT KEY USERDN DERFILE ROOTDN
#            ROOTPW BASE
import sys
import threading
import time

import rawldap as R

ldaps, ldapi, ca, crt, key, userdn, der, rootdn, rootpw, base = sys.argv[1:11]

d, a, bound = R.device_and_root(ldaps, ldapi, ca, crt, key, rootdn, rootpw)
print(bound)

mid = d.next_id()
d.send(R.search(mid, base.encode(), 2, [b"description"]))
entries = 0
m = d.recv(10)
if m is not None and m.tag == 0x64:
    entries = 1
print("first=%s" % ("entry" if entries else "none"))

revoke = {}


def revoker():
    t0 = time.monotonic()
    _, resp = a.call(lambda rid: R.modify(rid, userdn.encode(),
                                          [(1, b"certpinCertificate;binary", [open(der, "rb").read()])]),
                     timeout=30)
    revoke["code"] = resp.code if resp else "none"
    revoke["ms"] = int((time.monotonic() - t0) * 1000)
    revoke["entries_then"] = entries


t = threading.Thread(target=revoker)
t.start()
time.sleep(0.5)			# the revocation is waiting for the search
code = "none"
while True:
    m = d.recv(30)
    if m is None:
        code = "eof"
        break
    if m.tag == 0x64:
        entries += 1
    elif m.tag == 0x65 and m.msgid == mid:
        code = m.code
        break
t.join(30)
print("revoke=%s ms=%s" % (revoke.get("code"), revoke.get("ms")))
print("entries=%d code=%s" % (entries, code))
print("whoami_end=%s" % (d.whoami() or "anonymous"))
