# tests/databases.py - the attacks of test058 (several databases, a relay
# view, slapadd'ed data).
#
# usage: databases.py online  LDAPI LDAPS PKIDIR WORKDIR ROOTDN ROOTPW PIDFILE
#        databases.py slapadd-ldif PKIDIR WORKDIR       (prints the LDIF)
#        databases.py slapadd LDAPI LDAPS PKIDIR WORKDIR ROOTDN ROOTPW PIDFILE

import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import *		# noqa: F401,F403

SUFFIX = "dc=example,dc=com"
PEOPLE = "ou=people," + SUFFIX
S2 = "dc=example,dc=org"
ORG = "uid=orguser,ou=people," + S2
RELAY = "dc=relay,dc=com"
CERTATTR = "certpinCertificate;binary"

mode = sys.argv[1]
if mode == "slapadd-ldif":
	pki = Pki(sys.argv[2], sys.argv[3])
	S = [pki.cert("sa%d" % i, "sa%d" % i) for i in (1, 2, 3)]
	def b64(b):
		return base64.b64encode(b).decode()
	def user(uid, lines):
		print("dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: certpinUser\n"
			"objectClass: certpinHistory\nuid: %s\ncn: %s\nsn: %s\n%s\n" % (uid, PEOPLE, uid, uid, uid, lines))
	rec = lambda c: "sha256=%s$revoked=20260101000000Z$by=cn=admin,dc=example,dc=com$reason=loaded" % c.sha256
	user("sa1", "certpinThumbprint: %s" % S[0].sha256)
	user("sa2", "certpinCertificate;binary:: %s\ncertpinThumbprint: %s\ncertpinRevoked: %s\n"
		"certpinRevokedThumbprint: %s" % (b64(S[1].der), S[1].sha256, rec(S[1]), S[1].sha256))
	user("sa3", "certpinRevoked: %s" % rec(S[2]))
	sys.exit(0)

LDAPI, LDAPS, PKIDIR, WORK, ROOTDN, ROOTPW, PIDFILE = sys.argv[2:9]
CA = PKIDIR + "/ca.crt"
tap = Tap()
pki = Pki(PKIDIR, WORK)

def alive():
	try:
		os.kill(int(open(PIDFILE).read()), 0)
		return True
	except (OSError, ValueError):
		return False

def bind(dn, pw):
	c = Conn(LDAPI)
	r = c.bind(dn, pw)
	assert r.code == 0, (dn, r)
	return c

def pem_cert(name, cn):
	from cryptography import x509
	der = open("%s/%s.der" % (PKIDIR, name), "rb").read()
	return Cert(name, cn, der, "%s/%s.crt" % (PKIDIR, name), "%s/%s.key" % (PKIDIR, name),
		x509.load_der_x509_certificate(der))

ADMIN = bind(ROOTDN, ROOTPW)
ADMIN2 = bind("cn=admin," + S2, ROOTPW)

def holders(cert):
	out = set()
	for base, conn in ((SUFFIX, ADMIN), (S2, ADMIN2)):
		_, ents = conn.search(base, SCOPE_SUB, "(objectClass=*)", [CERTATTR, "certpinThumbprint"])
		for e in ents:
			if cert.der in attrs_get(e.attrs, "certpinCertificate") or \
			   cert.sha256.encode() in attrs_get(e.attrs, "certpinThumbprint"):
				out.add(e.dn.lower())
	return out

def who(cert):
	return logon(LDAPS, cert, CA)

if mode == "online":
	KEN = pem_cert("kenmyer", "kenmyer")
	PIL = pem_cert("pilar", "pilar")		# revoked in the first database
	tap.ok(who(KEN).lower() == "dn:uid=kenmyer," + PEOPLE.lower(), "ken logs on (the baseline)")
	me2 = bind(ORG, "pw-orguser")
	for cert, what in ((KEN, "on file in the first database"), (PIL, "revoked in the first database")):
		for wname, conn in (("the second database's root DN", ADMIN2), ("its user herself", me2)):
			r = conn.call(op_modify(ORG, [(MOD_ADD, CERTATTR, [cert.der])]))
			tap.ok(r.code != 0 and ORG.lower() not in holders(cert), "a certificate %s, added in the "
				"second database by %s: refused (%d)" % (what, wname, r.code))
	# the other way round: revoked in the second, added in the first
	f = pki.cert("org-1", "orguser")
	tap.ok(ADMIN2.call(op_modify(ORG, [(MOD_ADD, CERTATTR, [f.der])])).code == 0, "a certificate on file in the second database")
	tap.ok(ADMIN2.call(op_modify(ORG, [(MOD_DELETE, CERTATTR, [f.der])])).code == 0, "and revoked there")
	r = ADMIN.call(op_modify("uid=jdoe," + PEOPLE, [(MOD_ADD, CERTATTR, [f.der])]))
	tap.ok(r.code != 0 and not holders(f), "that revoked certificate added in the first database: refused (%d)" % r.code)
	g = pki.cert("org-2", "orguser")
	ADMIN2.call(op_modify(ORG, [(MOD_ADD, CERTATTR, [g.der])]))
	r = ADMIN.call(op_modify("uid=jdoe," + PEOPLE, [(MOD_ADD, CERTATTR, [g.der])]))
	tap.ok(r.code != 0 and holders(g) == {ORG.lower()}, "one on file in the second database, added in the "
		"first: refused (%d)" % r.code)

	# through the relay view (back-relay + rwm) of the first database
	RJ = "uid=jdoe,ou=people," + RELAY
	for wname, conn in (("jdoe herself, through the relay", bind("uid=jdoe," + PEOPLE, "pw-jdoe")),
			    ("the root DN, through the relay", ADMIN)):
		for cert, what in ((KEN, "ken's"), (PIL, "a revoked"), (g, "another database's")):
			r = conn.call(op_modify(RJ, [(MOD_ADD, CERTATTR, [cert.der])]))
			h = holders(cert)
			tap.ok(r.code != 0 and not any("jdoe" in x for x in h), "%s certificate added to jdoe by %s: "
				"refused (%d)" % (what, wname, r.code), "holders %s" % h)
		for attr, val in (("certpinThumbprint", pki.cert("relay-x", "jdoe").sha256),
				  ("certpinRevokedThumbprint", KEN.sha256), ("certpinCertInfo", "sha256=" + KEN.sha256)):
			before = ADMIN.search("uid=jdoe," + PEOPLE, SCOPE_BASE, "(objectClass=*)", [attr])[1][0].attrs
			r = conn.call(op_modify(RJ, [(MOD_ADD, attr, [val])]), [control(C_RELAX)])
			after = ADMIN.search("uid=jdoe," + PEOPLE, SCOPE_BASE, "(objectClass=*)", [attr])[1][0].attrs
			tap.ok(before == after, "%s written through the relay by %s (with Relax Rules): nothing "
				"changed (%d)" % (attr, wname, r.code))
		r = conn.call(op_modrdn(RJ, "uid=jdoe+certpinThumbprint=%s" % KEN.sha256, False))
		if r.code == 0:
			conn.call(op_modrdn("uid=jdoe+certpinThumbprint=%s,ou=people,%s" % (KEN.sha256, RELAY), "uid=jdoe", True))
		tap.ok(r.code != 0, "a thumbprint in the RDN by %s: refused (%d)" % (wname, r.code))
	tap.ok(who(KEN).lower() == "dn:uid=kenmyer," + PEOPLE.lower(), "ken still logs on")
	tap.ok(who(PIL) == "", "the revoked certificate still does not")
	# the PIN through the relay view
	mark = len(SEEN)
	for conn in (ADMIN, bind("uid=kenmyer," + PEOPLE, "pw-kenmyer")):
		conn.search("uid=kenmyer,ou=people," + RELAY, SCOPE_BASE, "(objectClass=*)", ["*", "+", "certpinPIN"])
		conn.search(RELAY, SCOPE_SUB, "(objectClass=*)", ["certpinPIN"], [control(C_SYNC, c_sync(1), False)])
		conn.call(op_modify("uid=kenmyer,ou=people," + RELAY, [(MOD_REPLACE, "description", ["x"])]),
			[control(C_POSTREAD, c_read(["*", "certpinPIN"])), control(C_PREREAD, c_read(["certpinPIN"]))])
	pins = [m for m in SEEN[mark:] if attrs_get(m.attrs, "certpinPIN") or b"{SSHA}" in m.raw]
	tap.ok(not pins, "searches, sync searches and read controls through the relay view: no PIN",
		"%d answers carry one" % len(pins))
	# the PIN through a dynamic list (dynlist copies the named attributes)
	mark = len(SEEN)
	for conn in (ADMIN, bind("uid=kenmyer," + PEOPLE, "pw-kenmyer"), Conn(LDAPI)):
		r, e = conn.search("cn=pinlist," + SUFFIX, SCOPE_BASE, "(objectClass=*)", ["*", "certpinPIN"])
		conn.search(SUFFIX, SCOPE_SUB, "(cn=pinlist)", ["*"], [control(C_SYNC, c_sync(1), False)])
	expanded = [m for m in SEEN[mark:] if m.tag == 0x64 and attrs_get(m.attrs, "uid")]
	pins = [m for m in SEEN[mark:] if attrs_get(m.attrs, "certpinPIN") or b"{SSHA}" in m.raw]
	tap.ok(expanded and not pins, "a dynlist list whose memberURL names certpinPIN, read by the root DN, "
		"ken and anonymous: expanded (%d), no PIN" % len(expanded), "%d answers carry one" % len(pins))
	a = ADMIN.call(op_compare("uid=kenmyer,ou=people," + RELAY, "certpinPIN", "135790")).code
	tap.ok(a not in (5, 6), "compare of certpinPIN through the relay view: refused (%d)" % a)
	tap.ok(alive(), "slapd alive")

elif mode == "slapadd":
	pki.reuse = True
	S = [pki.cert("sa%d" % i, "sa%d" % i) for i in (1, 2, 3)]
	tap.note("logons: %s" % [who(s) for s in S])
	tap.ok(who(S[0]) == "", "slapadd'ed entry with the thumbprint of a certificate it does not hold: "
		"that certificate does not log on")
	tap.ok(who(S[1]) == "", "slapadd'ed entry holding a certificate and a revocation record for it: "
		"the certificate does not log on")
	dn3 = "uid=sa3," + PEOPLE
	r = ADMIN.call(op_modify(dn3, [(MOD_ADD, CERTATTR, [S[2].der])]))
	tap.note("adding S3 next to its slapadd'ed record without certpinRevokedThumbprint: %d "
		"(slapo-certpin(5): such records no longer block re-additions)" % r.code)
	tap.ok(who(S[2]) == "", "and the certificate added next to its own revocation record does not "
		"log on (%d)" % r.code)
	tap.ok(alive(), "slapd alive")
tap.done()
