# tests/pipeline-revoke.py - test066's attack: a device bound with its
# certificate writes many requests to its connection at once; an
# administrator revokes meanwhile, on another connection.  Prints what ran
# as the user before and after the revocation's result came back.
#
# usage: pipeline-revoke.py LDAPS LDAPI CA CRT KEY USERDN ROOTDN ROOTPW SLAPDLOG
#            N KIND [ARG] [CSR]
#   KIND certdel DERFILE | revokeall | delete | modrdn NEWRDN
#   CSR: a DER PKCS#10 file: one request in sixteen is a certpinIssue for self
#   environment PIPELINE_PROXY=AUTHZID: the searches act for that identity
#   (proxied authorization), which the user may assume (authzTo)
#
# The order that counts is the server's: slapd's stats log (SLAPDLOG, -d
# stats) has one RESULT line per operation, written once its result was
# sent.  late_user counts the device's operations that ran as the user
# (judged by their responses: WhoAmI names the user, the search returns
# entries, the modify or certpinIssue succeeds) whose RESULT line comes after
# the revocation's; late_all all of the device's operations after it (the
# attack only means something when there are some).  The entry's
# description (every pipelined modify writes its own value) is also read
# right after the revocation's result and once everything is over: equal
# values mean no modify of the user ran in between.  before_/after_ counts
# are what this client saw arrive (only indicative: TCP buffers).
import os
import sys
import threading
import time

import rawldap as R

ISSUE_OID = b"2.25.200588203507426345906909541611622616575.3.1"
ldaps, ldapi, ca, crt, key, userdn, rootdn, rootpw, log, n, kind = sys.argv[1:12]
rest = sys.argv[12:]
arg = rest.pop(0) if kind in ("certdel", "modrdn") else None
csr = open(rest[0], "rb").read() if rest else None
n = int(n)
FIRST = 12	# responses read before the revocation is sent
# PIPELINE_PROXY=AUTHZID: every search carries a critical proxied
# authorization control (RFC 4370) for that identity
PROXY = os.environ.get("PIPELINE_PROXY", "")
proxy_ctl = R.control(b"2.16.840.1.113730.3.4.18", PROXY.encode()) if PROXY else b""
userdn_b = userdn.encode()

d, a, bound = R.device_and_root(ldaps, ldapi, ca, crt, key, rootdn, rootpw)
print(bound)

newdn = userdn
if kind == "modrdn":
    newdn = arg + userdn[userdn.index(","):]


def desc_value(dn):
    """description of dn, read as the root DN, by a raw search."""
    mid = a.next_id()
    a.send(R.search(mid, dn.encode(), 0, [b"description"]))
    vals = []
    while True:
        m = a.recv(10)
        if m is None:
            return "timeout"
        if m.msgid != mid:
            continue
        if m.tag == 0x64:
            vals = m.values.get("description", [])
        elif m.tag == 0x65:
            return ",".join(v.decode() for v in vals) if m.code == 0 else "error %d" % m.code


kinds = {}
batch = []
# writes are slow (one writer, a sync per commit): few of them, so that the
# stream outlasts the revocation
cycle = ["whoami", "search"] * 7 + ["modify"] + (["issue"] if csr else ["whoami"])
for i in range(n):
    mid = d.next_id()
    k = cycle[i % len(cycle)]
    kinds[mid] = k
    if k == "whoami":
        batch.append(R.whoami(mid))
    elif k == "search":
        # the user's branch: as the user, every entry in it (slower)
        batch.append(R.search(mid, userdn_b[userdn_b.index(b",") + 1:], 2, [b"cn"],
                              proxy_ctl))
    elif k == "modify":
        batch.append(R.modify(mid, userdn_b, [(2, b"description", [b"p%d" % i])]))
    else:
        batch.append(R.extended(mid, ISSUE_OID, R.seq(R.octets(csr))))



def revoke_for(rid):
    if kind == "certdel":
        return R.modify(rid, userdn_b, [(1, b"certpinCertificate;binary", [open(arg, "rb").read()])])
    if kind == "revokeall":
        return R.modify(rid, userdn_b, [(2, b"certpinCertificate;binary", [])])
    if kind == "delete":
        return R.delete(rid, userdn_b)
    if kind == "modrdn":
        return R.modrdn(rid, userdn_b, arg.encode())
    sys.exit("unknown kind " + kind)


nentries = {}
ran_as = {}
stats = {}
phase = "before"
done = 0
eof = False
lock = threading.Lock()


def account(m):
    """Count one of the device's messages (None: EOF)."""
    global done, eof
    if m is None:
        eof = True
        return
    if m.tag == 0x64:
        nentries[m.msgid] = nentries.get(m.msgid, 0) + 1
        return
    if m.msgid not in kinds:
        return
    k = kinds[m.msgid]
    if k == "whoami":
        user = m.code == 0 and bool(m.value)
    elif k == "search":
        user = m.code == 0 and nentries.get(m.msgid, 0) > 0
    else:
        user = m.code == 0
    ran_as[m.msgid] = user
    key_ = "%s_%s_%s" % (phase, k, "user" if user else "anon")
    stats[key_] = stats.get(key_, 0) + 1
    done += 1


def reader():
    """Read the device's connection as fast as it comes (a slow reader
    would hold slapd's writes back)."""
    while done < n and not eof:
        m = d.recv(60)
        with lock:
            account(m)


d.send(b"".join(batch))		# all of them in one write
t = threading.Thread(target=reader)
t.start()
# the revocation goes out once the device's first responses are back: its
# requests are then being read and run
deadline = time.monotonic() + 60
while done < FIRST and not eof and time.monotonic() < deadline:
    time.sleep(0.001)
t0 = time.monotonic()
_, revoke_resp = a.call(lambda mid: revoke_for(mid))
with lock:
    phase = "after"
print("revoke=%s ms=%d" % (revoke_resp.code if revoke_resp else "none",
                           (time.monotonic() - t0) * 1000))
desc_at = desc_value(newdn) if kind != "delete" else "-"
t.join(120)
print("responses=%d eof=%d" % (done, eof))
if eof:
    print("eof_why=%s" % d.error)
for k in sorted(stats):
    print("%s=%d" % (k, stats[k]))
for ph in ("before", "after"):
    print("%s_user=%d" % (ph, sum(v for k, v in stats.items() if k.startswith(ph) and k.endswith("_user"))))
    print("%s_all=%d" % (ph, sum(v for k, v in stats.items() if k.startswith(ph))))
if kind != "delete":
    time.sleep(0.2)
    print("desc_at_revoke=%s" % desc_at)
    print("desc_final=%s" % desc_value(newdn))
if not eof:
    print("whoami_end=%s" % (d.whoami() or "anonymous"))

# ---- the server's order ---------------------------------------------------
import re

verb = {"certdel": "MOD", "revokeall": "MOD", "delete": "DEL", "modrdn": "MODRDN"}[kind]


def read_log():
    """The server's order, from its log: (dev, adm, rev_at, res)."""
    global lines
    lines = open(log, errors="replace").read().split("\n")
    dev = adm = None
    for l in lines:
        m = re.search(r"conn=(\d+) op=0 BIND dn=\"([^\"]*)\" mech=EXTERNAL", l)
        if m and m.group(2).lower() == userdn.lower():
            dev = m.group(1)
    for l in lines:
        m = re.search(r"conn=(\d+) op=1 %s dn=\"([^\"]*)\"" % verb, l)
        if m and m.group(2).lower() == userdn.lower() and m.group(1) != dev:
            adm = m.group(1)
    res = {}
    rev_at = None
    for i, l in enumerate(lines):
        m = re.search(r"conn=(\d+) op=(\d+) (SEARCH )?RESULT", l)
        if not m:
            continue
        if m.group(1) == adm and m.group(2) == "1":
            rev_at = i
        elif m.group(1) == dev:
            res[int(m.group(2)) + 1] = i	# op numbers from 0, message ids from 1
    return dev, adm, rev_at, res


# slapd writes an operation's RESULT line after it sent the result: the
# client can be ahead of the log.  Wait (bounded) until the log has the
# revocation's line and one for every response this client received.
deadline = time.monotonic() + 15
while True:
    dev, adm, rev_at, res = read_log()
    if (dev is not None and adm is not None and rev_at is not None and
            all(mid in res for mid in ran_as)) or time.monotonic() > deadline:
        break
    time.sleep(0.05)
if dev is None or adm is None or rev_at is None:
    print("log=unreadable dev=%s adm=%s rev=%s" % (dev, adm, rev_at))
else:
    late = [mid for mid in kinds if mid in res and res[mid] > rev_at]
    print("late_all=%d" % len(late))
    print("late_user=%d" % sum(1 for mid in late if ran_as.get(mid)))
    print("late_user_kinds=%s" % ",".join(sorted(set(kinds[mid] for mid in late if ran_as.get(mid)))))
    print("late_user_ops=%s" % ",".join("%s/%d" % (dev, mid - 1) for mid in sorted(late) if ran_as.get(mid)))
    # what the server logged of the first late ones, and of the revocation
    # (a failure then says what happened, not only that it did)
    for mid in [m for m in sorted(late) if ran_as.get(m)][:2]:
        tag = "conn=%s op=%d " % (dev, mid - 1)
        for l in lines:
            if tag in l:
                print("late_log=%s" % l[:220])
    for l in lines:
        if "conn=%s op=1 " % adm in l or ("conn=%s " % adm in l and "certpin" in l):
            print("revocation_log=%s" % l[:220])
