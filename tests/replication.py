# tests/replication.py - the attacks of test059: revocations that arrive by
# replication end the sessions they revoke.
#
# usage: replication.py LDAPI1 LDAPI2 LDAPS1 LDAPS2 PKIDIR WORKDIR ROOTDN ROOTPW

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import *		# noqa: F401,F403

LDAPI1, LDAPI2, LDAPS1, LDAPS2, PKIDIR, WORK, ROOTDN, ROOTPW = sys.argv[1:9]
SUFFIX = "dc=example,dc=com"
PEOPLE = "ou=people," + SUFFIX
CERTATTR = "certpinCertificate;binary"
CA = PKIDIR + "/ca.crt"
GRACE = 1.5 * SLOW	# seconds from "applied on provider 2" to "the session has lost its identity"
REPL = 15 * SLOW	# seconds replication may take

tap = Tap()
pki = Pki(PKIDIR, WORK)

def root(uri):
	c = Conn(uri)
	assert c.bind(ROOTDN, ROOTPW).code == 0
	return c

A1, A2 = root(LDAPI1), root(LDAPI2)

def thumbprints(conn, dn):
	_, e = conn.search(dn, SCOPE_BASE, "(objectClass=*)", ["certpinThumbprint"])
	return [v.decode() for v in attrs_get(e[0].attrs, "certpinThumbprint")] if e else None

def wait(pred, secs):
	end = time.monotonic() + secs
	while time.monotonic() < end:
		if pred():
			return True
		time.sleep(0.05)
	return False

def new_user(conn, uid):
	dn = "uid=%s,%s" % (uid, PEOPLE)
	r = conn.call(op_add(dn, [("objectClass", ["inetOrgPerson", "certpinUser"]), ("uid", [uid]),
		("cn", [uid]), ("sn", [uid]), ("userPassword", ["pw-" + uid])]))
	assert r.code == 0, r
	return dn

HOWS = {
	"value delete": lambda dn, f: A1.call(op_modify(dn, [(MOD_DELETE, CERTATTR, [f.der])])).code,
	"replace": lambda dn, f: A1.call(op_modify(dn, [(MOD_REPLACE, CERTATTR, [pki.cert("o" + f.name, "x").der])])).code,
	"class removal": lambda dn, f: A1.call(op_modify(dn, [(MOD_DELETE, "objectClass", ["certpinUser"])])).code,
	"entry delete": lambda dn, f: A1.call(op_delete(dn)).code,
}

for k, (how, act) in enumerate(HOWS.items()):
	uid = "repl%d" % k
	dn = new_user(A1, uid)
	f = pki.cert(uid, uid)
	tap.ok(A1.call(op_modify(dn, [(MOD_ADD, CERTATTR, [f.der])])).code == 0, "%s: a certificate on file "
		"on provider 1" % how)
	tap.ok(wait(lambda: f.sha256 in (thumbprints(A2, dn) or []), REPL), "and replicated to provider 2")
	c, r = tls_conn(LDAPS2, f, CA)
	tap.ok(r.code == 0 and c.whoami().lower() == "dn:" + dn.lower(), "a device logs on to provider 2 with it")
	# a persistent search of the session on provider 2
	p, r = tls_conn(LDAPS2, f, CA)
	p.send(op_search(PEOPLE, SCOPE_SUB, "(objectClass=inetOrgPerson)", ["description"]), [control(C_SYNC, c_sync(3))])
	while p.read_any(0.3) is not None:
		pass
	t0 = time.monotonic()
	code = act(dn, f)
	applied = wait(lambda: f.sha256 not in (thumbprints(A2, dn) or []), REPL)
	t1 = time.monotonic()
	tap.ok(code == 0 and applied, "the %s on provider 1 replicates to provider 2 (%.2f s)" % (how, t1 - t0))
	lost = wait(lambda: c.whoami().lower() != "dn:" + dn.lower(), GRACE)
	tap.ok(lost, "the session on provider 2 has lost its identity within %g s of the replicated %s "
		"(not certpin-session-recheck later)" % (GRACE, how))
	c.close()
	# the persistent search: after the revocation, changes to other entries
	A1.call(op_modify("uid=jdoe," + PEOPLE, [(MOD_REPLACE, "description", ["after %s" % how])]))
	wait(lambda: False, 1.0)
	got = []
	while True:
		try:
			m = p.read_any(0.2)
		except LdapError:
			break
		if m is None:
			break
		if m.tag == 0x64 and "jdoe" in m.dn:
			got.append(m.dn)
	tap.ok(not got, "and its persistent search on provider 2 delivers nothing after it", repr(got))
	p.close()
	for uri, name in ((LDAPS1, "provider 1"), (LDAPS2, "provider 2")):
		tap.ok(logon(uri, f, CA) == "", "a new logon with the certificate fails on %s" % name)
tap.done()
