# tests/catalogue.py - the attack catalogue of test056, by promise.
#
# usage: catalogue.py LDAPI LDAPS LDAP PKIDIR WORKDIR ROOTDN ROOTPW PIDFILE PINHASH [SECTION...]
# SECTION: dse logon revocation pin maintained unique alive (default: all)
# Prints TAP lines and "# checks N failed M".  Each section attacks one
# promise of slapo-certpin(5) along every path we could enumerate; tests/README
# lists the paths.  The state it starts from (test056 sets it up):
#   uid=kenmyer  holds kenmyer.crt, kenmyer2.crt revoked, PIN 135790
#   uid=pilar, uid=jdoe  users without certificates; uid=certadm in
#   cn=certadmins (certpin-admin-group); spare.crt has CN=kenmyer, not on file.

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import *		# noqa: F401,F403

LDAPI, LDAPS, LDAP, PKIDIR, WORK, ROOTDN, ROOTPW, PIDFILE, PINHASH = sys.argv[1:10]
SECTIONS = sys.argv[10:] or ["all"]

def want(name):
	"""test056 runs each section in its own process: a slapd that dies in
	one is restarted for the next"""
	return "all" in SECTIONS or name in SECTIONS
SUFFIX = "dc=example,dc=com"
PEOPLE = "ou=people," + SUFFIX
KEN = "uid=kenmyer," + PEOPLE
PILAR = "uid=pilar," + PEOPLE
JDOE = "uid=jdoe," + PEOPLE
CERTADM = "uid=certadm," + PEOPLE
PEERCRED = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"
CA = PKIDIR + "/ca.crt"
CERTATTR = "certpinCertificate;binary"
MAINTAINED = ["certpinThumbprint", "certpinCertInfo", "certpinRevoked",
	"certpinRevokedThumbprint", "certpinPINFailure"]

tap = Tap()
pki = Pki(PKIDIR, WORK)

def pem_cert(name, cn):
	"""a certificate of the suite's standard PKI (openssl, tests/lib.sh)"""
	der = open("%s/%s.der" % (PKIDIR, name), "rb").read()
	from cryptography import x509
	return Cert(name, cn, der, "%s/%s.crt" % (PKIDIR, name), "%s/%s.key" % (PKIDIR, name),
		x509.load_der_x509_certificate(der))

KENCERT = pem_cert("kenmyer", "kenmyer")
KEN2 = pem_cert("kenmyer2", "kenmyer")		# revoked
SPARE = pem_cert("spare", "kenmyer")		# never on file
MALLORY = pem_cert("mallory", "mallory")	# no such user

def alive():
	try:
		os.kill(int(open(PIDFILE).read()), 0)
		return True
	except (OSError, ValueError):
		return False

def root():
	c = Conn(LDAPI)
	assert c.bind(ROOTDN, ROOTPW).code == 0
	return c

def peercred():
	c = Conn(LDAPI)
	r = c.call(op_bind_sasl(b"EXTERNAL", b""))
	assert r.code == 0, r
	return c

def user(dn):
	c = Conn(LDAPI)
	uid = dn.split(",")[0].split("=")[1]
	r = c.bind(dn, "pw-" + uid)
	assert r.code == 0, (dn, r)
	return c

def anon():
	return Conn(LDAPI)

def device(cert, starttls=False):
	"""(conn, whoami) of an EXTERNAL logon with cert"""
	if starttls:
		c, r = tls_conn(LDAP, cert, CA, starttls=True)
	else:
		c, r = tls_conn(LDAPS, cert, CA)
	return c, (c.whoami() if r.code == 0 else "")

def who(cert, **kw):
	return logon(LDAPS, cert, CA, **kw)

ADMIN = root()

def record(dn, cert, conn=None):
	return (conn or ADMIN).call(op_modify(dn, [(MOD_ADD, CERTATTR, [cert.der])])).code

def unrecord(dn, cert, conn=None):
	return (conn or ADMIN).call(op_modify(dn, [(MOD_DELETE, CERTATTR, [cert.der])])).code

SNAPATTRS = ["objectClass", "uid", CERTATTR, "certpinThumbprint", "certpinCertInfo",
	"certpinRevoked", "certpinRevokedThumbprint", "certpinPINFailure", "description"]

def snapshot(dn):
	r, ents = ADMIN.search(dn, SCOPE_BASE, "(objectClass=*)", SNAPATTRS)
	if not ents:
		return "no entry (%d)" % r.code
	return sorted((k.lower(), sorted(v)) for k, v in ents[0].attrs.items() if k.lower() != "description")

def holders(cert):
	"""DNs of the entries (both subtrees) holding cert's bytes or thumbprint"""
	out = set()
	r, ents = ADMIN.search(SUFFIX, SCOPE_SUB, "(objectClass=*)", [CERTATTR, "certpinThumbprint"])
	for e in ents:
		if cert.der in attrs_get(e.attrs, "certpinCertificate") or \
		   cert.sha256.encode() in attrs_get(e.attrs, "certpinThumbprint"):
			out.add(e.dn.lower())
	return out

def attr_oids():
	_, ents = ADMIN.search("cn=Subschema", SCOPE_BASE, "(objectClass=subschema)", ["attributeTypes"])
	out = {}
	for v in attrs_get(ents[0].attrs, "attributeTypes"):
		s = v.decode()
		if "NAME '" in s:
			out[s.split("NAME '")[1].split("'")[0].lower()] = s.split()[1]
	return out

OIDS = attr_oids()

def spellings(name, options=True):
	"""every spelling of an attribute description we try"""
	base, _, opt = name.partition(";")
	o = ";" + opt if opt else ""
	out = [base + o, base.lower() + o.lower(), base.upper() + o.upper()]
	if base.lower() in OIDS:
		out.append(OIDS[base.lower()] + o)
	if options:
		out += [base + ";x-attack" + o, base + ";lang-en" + o]
		if not opt:
			out.append(base + ";binary")
	return out

USERNO = [0]
def fresh(cn, tag="f"):
	USERNO[0] += 1
	return pki.cert("%s-%d" % (tag, USERNO[0]), cn)

def new_user(uid, extra=()):
	dn = "uid=%s,%s" % (uid, PEOPLE)
	r = ADMIN.call(op_add(dn, [("objectClass", ["inetOrgPerson", "certpinUser"]), ("uid", [uid]),
		("cn", [uid]), ("sn", [uid]), ("userPassword", ["pw-" + uid])] + list(extra)))
	assert r.code == 0, (dn, r)
	return dn

def txn(conn, ops, commit=True):
	"""run [(op, controls)] in one transaction; (start, [queued], end) codes"""
	r = conn.call(op_extended(TXN_START))
	if r.code != 0:
		return r.code, [], None
	tid = r.value
	codes = [conn.call(op, [control(TXN_SPEC, tid)] + list(ctl)).code for op, ctl in ops]
	e = conn.call(op_extended(TXN_END, b_seq(b_bool(False), b_str(tid)) if not commit else b_seq(b_str(tid))))
	return 0, codes, e.code


def make_csr():
	x509, hashes, ser, ec = load_crypto()
	b = x509.CertificateSigningRequestBuilder().subject_name(
		x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "device")]))
	return b.sign(pki.key, hashes.SHA256()).public_bytes(ser.Encoding.DER)


import subprocess

def current_hash():
	"""ken's PIN hash as slapcat shows it (a piece of its base64 body)"""
	conf = os.path.join(os.path.dirname(PIDFILE), "slapd.conf")
	out = subprocess.run(["/usr/sbin/slapcat", "-f", conf, "-b", SUFFIX, "-a", "(uid=kenmyer)"],
		capture_output=True).stdout
	for line in out.splitlines():
		if line.lower().startswith(b"certpinpin:"):
			return line.split(b"}", 1)[-1][:16]
	return b"no PIN hash found by slapcat"

SECRETS = [PINHASH.encode().split(b"}", 1)[-1][:16], current_hash()]

def secret_in(raw):
	return any(x in raw for x in SECRETS)

def leaks(msgs):
	return [m for m in msgs if secret_in(m.raw) or (m.tag == 0x64 and attrs_get(m.attrs, "certpinPIN"))]


_, ents = anon().search("", SCOPE_BASE, "(objectClass=*)",
	["supportedControl", "supportedExtension", "supportedSASLMechanisms"])
DSE = ents[0].attrs
ADV_CONTROLS = [v.decode() for v in attrs_get(DSE, "supportedControl")]
ADV_EXT = [v.decode() for v in attrs_get(DSE, "supportedExtension")]
ADV_MECHS = [v.decode() for v in attrs_get(DSE, "supportedSASLMechanisms")]

T0 = [time.monotonic()]
def section(name):
	tap.note("---- %s (%.1f s so far)" % (name, time.monotonic() - T0[0]))

# ---- 0. the root DSE: every advertised control and extension is listed ------

CONTROLS = {
	C_SYNC: "sync: persistent search of a certificate session after revocation (revocation); "
		"PIN hashes to non-replication identities (pin); odd values (never dies)",
	C_PROXY: "proxied authorization: a revoked session asks for its old identity (revocation); "
		"root writes maintained attributes as a user (maintained); PIN reads (pin)",
	C_MANAGEDSAIT: "manageDSAit on writes of maintained attributes (maintained) and PIN reads (pin)",
	C_SUBENTRIES: "subentries on PIN reads (pin)",
	C_DONTUSECOPY: "dontUseCopy on PIN reads and compares (pin)",
	C_PAGED: "paged results with PIN filters (pin)",
	C_MATCHEDVALUES: "matched values naming certpinPIN (pin)",
	C_POSTREAD: "post-read on every write, asking for certpinPIN, * and + (pin)",
	C_PREREAD: "pre-read on every write, asking for certpinPIN, * and + (pin)",
	C_ASSERT: "assertion with certpinPIN filters as an oracle on every operation (pin)",
}
# honoured by slapd though not advertised: attacked as well
HIDDEN_CONTROLS = {
	C_RELAX: "Relax Rules: writes of maintained attributes (maintained), record deletes by "
		"non-administrators (revocation)",
	TXN_SPEC: "transaction specification: queued writes (one user, unrecorded logon, "
		"revocation, aborted transactions)",
	C_NOOP: "no-op", C_PERMISSIVE: "permissive modify", C_MANAGEDIT: "manageDIT",
	C_TREEDELETE: "tree delete",
}
EXTENSIONS = {
	STARTTLS: "StartTLS: logons over StartTLS (unrecorded logon)",
	ISSUE: "certpinIssue: pipelined after revocation (revocation), malformed (never dies)",
	ISSUE_BULK: "certpinIssueBulk: by a revoked session (revocation), an item with a phone "
		"and PIN (PIN secrecy), malformed and truncated (never dies)",
	PASSWD: "password modify by a revoked session (revocation)",
	WHOAMI: "WhoAmI: the identity probe of every logon and session check",
	CANCEL: "cancel of revoking writes and of pipelined requests (never dies, revocation)",
	TXN_START: "transactions (one user, unrecorded logon, revocation)",
	TXN_END: "transactions: commit and abort (revocation: no trace of aborted work)",
}
KNOWN_MECHS = {"EXTERNAL", "PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "NTLM", "GSSAPI",
	"GSS-SPNEGO", "OTP", "ANONYMOUS", "SCRAM-SHA-1", "SCRAM-SHA-224", "SCRAM-SHA-256",
	"SCRAM-SHA-384", "SCRAM-SHA-512",
	# libsasl2-modules-gssapi-mit (pulled in by 389-ds-base for the bench peer)
	"GS2-KRB5", "GS2-IAKERB"}

if want("dse"):
	for oid in ADV_CONTROLS:
		ALL = dict(HIDDEN_CONTROLS, **CONTROLS)
		tap.ok(oid in ALL, "root DSE control %s is in the attack catalogue%s" % (oid,
			": " + ALL[oid].split(":")[0] if oid in ALL else
			" -- NEW: add its attacks to tests/catalogue.py"))
	for oid in ADV_EXT:
		tap.ok(oid in EXTENSIONS, "root DSE extension %s is in the attack catalogue%s" % (oid,
			": " + EXTENSIONS[oid].split(":")[0] if oid in EXTENSIONS else
			" -- NEW: add its attacks to tests/catalogue.py"))
	for m in ADV_MECHS:
		tap.ok(m in KNOWN_MECHS, "SASL mechanism %s is in the attack catalogue (spellings with a "
			"client certificate)" % m)
	tap.ok(C_SYNC in ADV_CONTROLS and TXN_START in ADV_EXT and ISSUE in ADV_EXT,
		"the paths under attack are there: sync (syncprov), transactions, certpinIssue",
		"controls %s extensions %s" % (ADV_CONTROLS, ADV_EXT))

# ---- 1. no unrecorded logon ---------------------------------------------------
if want("logon"):


	section("promise: a certificate not on file never logs on")
	tap.ok(who(KENCERT).lower() == "dn:" + KEN.lower(), "the recorded certificate logs on (the baseline)")
	tap.ok(who(SPARE) == "", "a certificate never recorded does not log on")
	tap.ok(who(KEN2) == "", "a revoked certificate does not log on")
	tap.ok(who(SPARE, starttls=True) == "", "a certificate never recorded does not log on over StartTLS")

	MECH_SPELLINGS = [b"EXTERNAL", b"external", b"External", b"EXTERNAL\x00", b"EXTERNAL\x00PLAIN",
		b"EXTERNAL\x00\x00", b"EXTERNAL-PLUS", b"EXTERNAL ", b" EXTERNAL", b"EXTERNAL\t", b"EXTERNAL\r\n",
		b"EXTERNALX", b"XEXTERNAL", b"EXTERNAL;", b"EXTERNA", b"\x00EXTERNAL", b"EXTERNAL\xff",
		b"EXTERNAL" + b"\x00" * 40]
	MECH_SPELLINGS += [m.encode() for m in ADV_MECHS if m != "EXTERNAL"]
	CRED_VARIANTS = [("empty credentials", b""), ("no credentials", None),
		("authzid of jdoe", ("dn:" + JDOE).encode()), ("authzid u:jdoe", b"u:jdoe")]

	def mech_attack(mech, cert, creds, starttls):
		"""the identity a bind with mech ends with ('' if none); two binds when the
		first says saslBindInProgress"""
		try:
			if starttls:
				c = Conn(LDAP, cert.path, cert.keyfile, CA, starttls=True)
			else:
				c = Conn(LDAPS, cert.path, cert.keyfile, CA)
		except (OSError, LdapError) as e:
			return "tls-error %s" % e
		try:
			r = c.call(op_bind_sasl(mech, creds))
			if r.code == 14:
				r = c.call(op_bind_sasl(mech, b""))
			w = c.whoami()
			return w
		except (OSError, LdapError) as e:
			return ""
		finally:
			c.close()

	for mech in MECH_SPELLINGS:
		bad = []
		cases = [(c, v, False) for c in (SPARE, KEN2, MALLORY) for v in CRED_VARIANTS[:2]]
		cases.append((SPARE, CRED_VARIANTS[0], True))
		if mech.upper().startswith(b"EXTERNAL"):
			cases += [(SPARE, v, False) for v in CRED_VARIANTS[2:]]
		for cert, (cname, creds), st in cases:
			w = mech_attack(mech, cert, creds, st)
			if w.startswith("dn:") or w.startswith("u:"):
				bad.append("%s, %s, %s: %r" % (cert.name, cname, "StartTLS" if st else "ldaps", w))
		tap.ok(not bad and alive(), "SASL mechanism %r with an unrecorded, a revoked and a "
			"user-less certificate: no identity (%d binds)" % (mech, len(cases)), "\n".join(bad))

	# the recorded certificate with an authorization identity of someone else
	bad = []
	for cname, creds in CRED_VARIANTS[2:]:
		for mech in (b"EXTERNAL", b"EXTERNAL\x00"):
			w = mech_attack(mech, KENCERT, creds, False)
			if "jdoe" in w.lower():
				bad.append("%r %s: %r" % (mech, cname, w))
	tap.ok(not bad, "ken's certificate with jdoe's authorization identity does not log on as jdoe",
		"\n".join(bad))

	# pipelined: bind and operations in one write
	c = Conn(LDAPS, SPARE.path, SPARE.keyfile, CA)
	ids = []
	data = b""
	for i in range(5):
		data += c.encode(c.next_id, op_bind_sasl(b"EXTERNAL\x00", b"")); ids.append(c.next_id); c.next_id += 1
		data += c.encode(c.next_id, op_extended(WHOAMI)); ids.append(c.next_id); c.next_id += 1
	c.send_raw(data)
	got = []
	for i in ids:
		try:
			got.append(c.result(i)[0])
		except (OSError, LdapError):
			break
	leak = [m for m in got if m.tag == 0x78 and (m.value or b"")]
	tap.ok(not leak, "pipelined binds (EXTERNAL\\0) and WhoAmIs in one write: no identity",
		repr([(m.value) for m in leak]))
	c.close()

	# re-bind on a connection after the revocation
	f = fresh("jdoe")
	record(JDOE, f)
	c, w = device(f)
	tap.ok(w.lower() == "dn:" + JDOE.lower(), "a fresh certificate of jdoe logs on")
	unrecord(JDOE, f)
	r = c.call(op_bind_sasl(b"EXTERNAL", b""))
	tap.ok(c.whoami() == "", "a re-bind on that connection after its revocation gets no identity (%d)" % r.code)
	r = c.call(op_bind_sasl(b"external\x00", b""))
	tap.ok(c.whoami() == "", "nor a re-bind spelled external\\0")
	c.close()

	# RDN tricks: a thumbprint, a revoked thumbprint or a PIN through modrdn
	for who_, conn in (("root", ADMIN), ("ken himself", user(KEN))):
		for attr, val in (("certpinThumbprint", SPARE.sha256), ("certpinCertInfo", "sha256=" + SPARE.sha256),
				  ("certpinRevokedThumbprint", KEN2.sha256), ("certpinPIN", "123456"),
				  ("certpinPINFailure", "20260101000000.000000Z")):
			for sp in spellings(attr, options=False):
				before = snapshot(KEN)
				r = conn.call(op_modrdn(KEN, "uid=kenmyer+%s=%s" % (sp, val), False))
				back = None
				if r.code == 0:
					back = ADMIN.call(op_modrdn("uid=kenmyer+%s=%s,%s" % (sp, val, PEOPLE), "uid=kenmyer", True))
				after = snapshot(KEN)
				tap.ok(r.code != 0 and after == before, "modrdn by %s to uid=kenmyer+%s=...: refused, "
					"nothing changed" % (who_, sp), "rename %d%s" % (r.code, ", back %d" % back.code if back else ""))
	tap.ok(who(SPARE) == "" and who(KEN2) == "", "after the RDN tricks the unrecorded and the revoked "
		"certificate still do not log on")
	tap.ok(who(KENCERT).lower() == "dn:" + KEN.lower(), "and ken's own still does")

	# a transaction that adds and deletes a certificate: nothing may stay behind
	f = fresh("pilar")
	st, q, end = txn(ADMIN, [(op_modify(PILAR, [(MOD_ADD, CERTATTR, [f.der])]), []),
		(op_modify(PILAR, [(MOD_DELETE, CERTATTR, [f.der])]), [])])
	s = snapshot(PILAR)
	tap.ok(who(f) == "", "transaction {add certificate; delete it}: the certificate does not log on",
		"txn %s %s %s" % (st, q, end))
	tap.ok(f.sha256.encode() not in dict(s).get("certpinthumbprint", []) if isinstance(s, list) else False,
		"and leaves no thumbprint behind", repr(s))

	# a look-alike delete removes the real certificate: it must be revoked
	f = fresh("pilar")
	record(PILAR, f)
	tap.ok(who(f).lower() == "dn:" + PILAR.lower(), "pilar's fresh certificate logs on")
	r = ADMIN.call(op_modify(PILAR, [(MOD_DELETE, CERTATTR, [f.lookalike().der])]))
	s = dict(snapshot(PILAR))
	gone = f.der not in s.get("certpincertificate;binary", [])
	tap.ok(not gone or who(f) == "", "delete of a look-alike (one signature byte changed, code %d): if "
		"slapd removed the certificate, it no longer logs on" % r.code)
	if gone:
		tap.ok(f.sha256.encode() in s.get("certpinrevokedthumbprint", []) and
			f.sha256.encode() not in s.get("certpinthumbprint", []),
			"and it is revoked: a record, no thumbprint left", repr(s))
		tap.ok(record(JDOE, f) != 0, "and cannot be added again elsewhere")

# ---- 2. revocation at once ------------------------------------------------------
if want("revocation"):

	section("promise: a revocation takes effect at once")

	def recreate(dn):
		uid = dn.split(",")[0].split("=")[1]
		r = ADMIN.call(op_add(dn, [("objectClass", ["inetOrgPerson", "certpinUser"]), ("uid", [uid]),
			("cn", [uid]), ("sn", [uid]), ("userPassword", ["pw-" + uid]), ("description", ["new " + uid])]))
		return r.code

	REVOKES = ["delete value", "delete attribute", "replace", "class removal", "entry delete",
		"rename", "look-alike delete", "transaction", "self delete"]

	def revoke(how, dn, cert):
		if how == "delete value":
			return ADMIN.call(op_modify(dn, [(MOD_DELETE, CERTATTR, [cert.der])])).code
		if how == "delete attribute":
			return ADMIN.call(op_modify(dn, [(MOD_DELETE, CERTATTR, [])])).code
		if how == "replace":
			return ADMIN.call(op_modify(dn, [(MOD_REPLACE, CERTATTR, [fresh("other").der])])).code
		if how == "class removal":
			return ADMIN.call(op_modify(dn, [(MOD_DELETE, "objectClass", ["certpinUser"])])).code
		if how == "entry delete":
			r = ADMIN.call(op_delete(dn)).code
			recreate(dn)		# a new entry at the old DN: the session must not act as it
			return r
		if how == "rename":
			uid = dn.split(",")[0].split("=")[1]
			r = ADMIN.call(op_modrdn(dn, "uid=%s-renamed" % uid, True)).code
			recreate(dn)
			return r
		if how == "look-alike delete":
			return ADMIN.call(op_modify(dn, [(MOD_DELETE, CERTATTR, [cert.lookalike().der])])).code
		if how == "transaction":
			st, q, end = txn(ADMIN, [(op_modify(dn, [(MOD_DELETE, CERTATTR, [cert.der])]), [])])
			return end if end is not None else st
		if how == "self delete":
			return user(dn).call(op_modify(dn, [(MOD_DELETE, CERTATTR, [cert.der])])).code

	def as_identity(conn, dn):
		"""operations of a session after its revocation; names of those that ran
		as dn"""
		ran = []
		w = conn.whoami()
		if w.lower() == "dn:" + dn.lower():
			ran.append("whoami")
		r, e = conn.search(dn, SCOPE_BASE, "(objectClass=*)", ["userPassword"])
		if e and attrs_get(e[0].attrs, "userPassword"):
			ran.append("search (read own userPassword)")
		r = conn.call(op_compare(dn, "description", "new " + dn.split(",")[0].split("=")[1]))
		r2 = conn.call(op_compare(dn, "userPassword", "pw-" + dn.split(",")[0].split("=")[1]))
		if r2.code in (5, 6):
			ran.append("compare own userPassword (%d)" % r2.code)
		r = conn.call(op_modify(dn, [(MOD_REPLACE, "description", ["written by the revoked session"])]))
		if r.code == 0:
			ran.append("modify own entry")
		r = conn.call(op_extended(PASSWD, b_seq(b_str("pw-x", 0x82))))
		if r.code == 0:
			ran.append("password modify")
		r = conn.call(op_extended(WHOAMI), [control(C_PROXY, ("dn:" + dn).encode())])
		if r.code == 0 and (r.value or b"").decode().lower() == "dn:" + dn.lower():
			ran.append("whoami with proxied authorization")
		csr = make_csr()
		r = conn.call(op_extended(ISSUE, b_seq(b_str(csr))))
		if r.code == 0:
			ran.append("certpinIssue for itself")
		# the bulk form is refused as a whole to anyone not an administrator
		r = conn.call(op_extended(ISSUE_BULK, b_seq(b_seq(b_str(make_csr()), b_str(dn, 0x80)))))
		if r.code == 0:
			ran.append("certpinIssueBulk for itself")
		return ran

	n = 0
	for how in REVOKES:
		for transport in (False, True):
			n += 1
			uid = "rv%d" % n
			dn = new_user(uid)
			f = fresh(uid)
			record(dn, f)
			c, w = device(f, starttls=transport)
			if not tap.ok(w.lower() == "dn:" + dn.lower(), "%s: the session of %s is bound" % (how, uid)):
				continue
			code = revoke(how, dn, f)
			ran = as_identity(c, dn)
			c.close()
			tap.ok(code == 0 and not ran, "revocation by %s (%s): no later operation of the session "
				"runs as the user" % (how, "StartTLS" if transport else "ldaps"),
				"revoking write %s; ran as the user: %s" % (code, ", ".join(ran)))
			tap.ok(who(f) == "", "and a new logon with the certificate fails (%s)" % how)

	# revocation pipelined behind a burst of the session's own requests
	def pipelined_round(k, delay):
		uid = "pipe%d" % k
		dn = new_user(uid)
		f = fresh(uid)
		record(dn, f)
		c, w = device(f)
		if w.lower() != "dn:" + dn.lower():
			return ["no session"]
		burst, ids, issue_ids = b"", [], []
		for i in range(240):
			if i % 60 == 30:
				op = op_extended(ISSUE, b_seq(b_str(make_csr())))
				issue_ids.append(c.next_id)
			elif i % 2:
				op = op_extended(WHOAMI)
			else:
				op = op_modify(dn, [(MOD_REPLACE, "description", ["burst %d" % i])])
			burst += c.encode(c.next_id, op)
			ids.append(c.next_id)
			c.next_id += 1
		c.send_raw(burst)
		time.sleep(delay)
		r = ADMIN.call(op_modify(dn, [(MOD_DELETE, CERTATTR, [])]))	# revoke all
		_, e = ADMIN.search(dn, SCOPE_BASE, "(objectClass=*)", ["description"])
		d_at = attrs_get(e[0].attrs, "description")
		results = []
		for i in ids:
			try:
				results.append(c.result(i, timeout=20)[0])
			except (OSError, LdapError):
				break
		c.close()
		time.sleep(0.2)
		_, e = ADMIN.search(dn, SCOPE_BASE, "(objectClass=*)", ["description", CERTATTR])
		d_end = attrs_get(e[0].attrs, "description")
		certs = attrs_get(e[0].attrs, "certpinCertificate")
		errs = []
		if r.code != 0:
			errs.append("revoke failed %d" % r.code)
		if d_end != d_at:
			errs.append("the session modified its entry after the revocation returned: %s then %s" % (d_at, d_end))
		if certs:
			errs.append("%d certificate(s) on the entry after 'revoke all': a pipelined certpinIssue "
				"ran after it" % len(certs))
		ok_whoami = sum(1 for m in results if m.tag == 0x78 and (m.value or b"").startswith(b"dn:"))
		tap.note("pipelined round %d: %d answers, %d whoami as the user, issue results %s" % (k, len(results),
			ok_whoami, [m.code for m in results if m.msgid in issue_ids]))
		return errs

	# CERTPIN_CAT_PIPE_REPEAT=N repeats the four rounds N times (long runs)
	DELAYS = (0.0, 0.002, 0.01, 0.03) * int(os.environ.get("CERTPIN_CAT_PIPE_REPEAT", "1"))
	for k, delay in enumerate(DELAYS):
		errs = pipelined_round(k, delay)
		tap.ok(not errs, "240 requests pipelined in one write, revoke all after %g s: nothing runs as "
			"the user after the revoke returned" % delay, "\n".join(errs))

	# a persistent sync search of a session survives its revocation?
	uid = "psearch"
	dn = new_user(uid)
	f = fresh(uid)
	record(dn, f)
	c, w = device(f)
	tap.ok(w.lower() == "dn:" + dn.lower(), "a session opens a refreshAndPersist sync search")
	mid = c.send(op_search(PEOPLE, SCOPE_SUB, "(objectClass=inetOrgPerson)", ["description"]),
		[control(C_SYNC, c_sync(3))])
	t_end = time.monotonic() + 3
	while time.monotonic() < t_end:		# the refresh phase
		m = c.read_any(0.5)
		if m is None or (m.tag == 0x79):
			break
	ADMIN.call(op_modify(dn, [(MOD_DELETE, CERTATTR, [])]))
	ADMIN.call(op_modify(PILAR, [(MOD_REPLACE, "description", ["changed after the revocation"])]))
	leaked, ended = [], False
	t_end = time.monotonic() + 2
	while time.monotonic() < t_end:
		try:
			m = c.read_any(0.3)
		except LdapError:
			ended = True
			break
		if m is None:
			continue
		if m.tag == 0x64 and "pilar" in m.dn:
			leaked.append(m.dn)
		if m.tag == 0x65:
			ended = True
			break
	tap.ok(not leaked, "after the revocation the persistent search delivers no more changes "
		"(%s)" % ("ended" if ended else "still open"), "delivered: %s" % leaked)
	c.close()

	# transactions: a revocation counts at commit; an aborted one leaves no trace
	uid = "txnrv"
	dn = new_user(uid)
	f = fresh(uid)
	record(dn, f)
	c, w = device(f)
	st, q, end = txn(ADMIN, [(op_modify(dn, [(MOD_DELETE, CERTATTR, [f.der])]), [])], commit=False)
	s = dict(snapshot(dn))
	tap.ok(f.der in s.get("certpincertificate;binary", []) and not s.get("certpinrevoked"),
		"an aborted transaction that deleted a certificate: the certificate stays, no record", repr(s))
	tap.ok(c.whoami().lower() == "dn:" + dn.lower(), "and the session keeps its identity")
	tap.ok(who(f).lower() == "dn:" + dn.lower(), "and the certificate still logs on")
	c.close()

	# a non-administrator cannot clear a record (Relax Rules) and re-add
	uid = "selfclear"
	dn = new_user(uid)
	f = fresh(uid)
	record(dn, f)
	unrecord(dn, f)
	s = dict(snapshot(dn))
	rec = s.get("certpinrevoked", [])
	me = user(dn)
	r = me.call(op_modify(dn, [(MOD_DELETE, "certpinRevoked", rec)]), [control(C_RELAX)])
	r2 = me.call(op_modify(dn, [(MOD_ADD, CERTATTR, [f.der])]))
	tap.ok(bool(rec) and r.code != 0,
		"a user clears the record of her revoked certificate with Relax Rules: refused (%d)" % r.code)
	tap.ok(who(f) == "", "and the certificate does not log on again (re-add %d)" % r2.code)
	r = me.call(op_modify(dn, [(MOD_DELETE, "certpinRevoked", [])]), [control(C_RELAX)])
	tap.ok(r.code != 0, "nor may she delete all her records with Relax Rules (%d)" % r.code)
	r = ADMIN.call(op_modify(dn, [(MOD_DELETE, "certpinRevoked", rec)]), [control(C_RELAX)])
	tap.ok(r.code == 0, "the root DN may (%d: the documented way back)" % r.code)
	tap.ok(record(dn, f) == 0 and who(f).lower() == "dn:" + dn.lower(), "after which it is added and logs on")

# ---- 3. the PIN is never readable ------------------------------------------------
if want("pin"):

	section("promise: PINs never leave the server")
	IDENTITIES = [("the root DN", root), ("the local root (ldapi EXTERNAL, manage)", peercred),
		("ken himself", lambda: user(KEN)), ("an administrator of certpin-admin-group", lambda: user(CERTADM)),
		("another user", lambda: user(PILAR)), ("anonymous", anon),
		("ken's certificate session", lambda: device(KENCERT)[0])]
	PIN_ATTRS = spellings("certpinPIN") + ["*", "+", "@certpinUser", "certpinPIN;binary"]
	SEARCH_CONTROLS = [("no control", []), ("manageDSAit", [control(C_MANAGEDSAIT)]),
		("dontUseCopy", [control(C_DONTUSECOPY)]), ("subentries", [control(C_SUBENTRIES, b_bool(False), False)]),
		("paged", [control(C_PAGED, c_paged(10))]),
		("matchedValues", [control(C_MATCHEDVALUES, b_seq(tlv(0x87, b"certpinPIN")))]),
		("proxied authz as ken", [control(C_PROXY, ("dn:" + KEN).encode())]),
		("sync refreshOnly", [control(C_SYNC, c_sync(1))])]

	for iname, mk in IDENTITIES:
		conn = mk()
		bad = []
		for cname, ctl in SEARCH_CONTROLS:
			if iname == "the root DN" and cname == "sync refreshOnly":
				continue	# replication: the documented exemption
			for a in PIN_ATTRS:
				mark = len(SEEN)
				try:
					conn.result(conn.send(op_search(KEN, SCOPE_BASE, "(objectClass=*)", [a]), ctl))
				except (OSError, LdapError) as e:
					bad.append("%s %s: %s" % (cname, a, e))
					conn = mk()
					continue
				for m in SEEN[mark:]:
					if m.tag == 0x64 and (attrs_get(m.attrs, "certpinPIN") or secret_in(m.raw)):
						bad.append("%s, attributes %s: %s" % (cname, a, attrs_get(m.attrs, "certpinPIN")))
		tap.ok(not bad, "search by %s with every spelling of certpinPIN, *, +, @certpinUser and every "
			"search control: no PIN" % iname, "\n".join(bad[:10]))
		conn.close()

	# filters as an oracle: a filter on the hash must not tell a right guess from a wrong one
	PREFIX = PINHASH[:PINHASH.index("}") + 3]
	PINF = [("(%s=%s*)" % (a, PREFIX), "(%s=%s*)" % (a, "{NOPE}xx")) for a in spellings("certpinPIN")[:4]]
	PINF += [("(certpinPIN>=%s)" % PREFIX, "(certpinPIN>=~)"),
		("(certpinPIN=%s)" % PINHASH.replace("(", "\\28").replace(")", "\\29").replace("*", "\\2a"), "(certpinPIN=wrong)"),
		("(certpinPIN~=%s)" % PREFIX, "(certpinPIN~=zzzz)"), ("(certpinPIN=135790)", "(certpinPIN=999999)"),
		("(certpinPIN;x-a=%s*)" % PREFIX, "(certpinPIN;x-a={NOPE}*)")]
	def outcome(conn, filt, base=PEOPLE, scope=SCOPE_SUB):
		try:
			r, e = conn.search(base, scope, filt, ["uid"])
			return (r.code, sorted(x.dn for x in e))
		except (OSError, LdapError) as e:
			return ("error", str(e))

	for iname, mk in IDENTITIES[:5]:
		conn = mk()
		bad = []
		for ft, ff in PINF:
			for wrap in ("%s", "(&(uid=kenmyer)%s)", "(|(uid=nobody)%s)", "(!%s)", "(&(objectClass=*)(!%s))"):
				a, b = outcome(conn, wrap % ft), outcome(conn, wrap % ff)
				if a != b:
					bad.append("%s gives %s, %s gives %s" % (wrap % ft, a, wrap % ff, b))
			# the same as an assertion on every operation
			for op in (op_modify(KEN, [(MOD_REPLACE, "description", ["assert"])]),
				   op_search(KEN, SCOPE_BASE, "(objectClass=*)", ["uid"]),
				   op_compare(KEN, "uid", "kenmyer"), op_delete("uid=nobody," + PEOPLE),
				   op_modrdn("uid=nobody," + PEOPLE, "uid=nobody2")):
				a = conn.call(op, [control(C_ASSERT, b_filter(ft))]).code
				b = conn.call(op, [control(C_ASSERT, b_filter(ff))]).code
				if a != b:
					bad.append("assertion %s -> %d, %s -> %d on op %#x" % (ft, a, ff, b, op[0]))
		# presence: ken has a PIN, jdoe has none; both entries readable alike
		for pf in ("(certpinPIN=*)", "(CERTPINPIN=*)", "(certpinPIN;x-a=*)", OIDS.get("certpinpin") and
			   "(%s=*)" % OIDS["certpinpin"]):
			if not pf:
				continue
			for wrap in ("%s", "(!%s)", "(|(uid=nobody)%s)", "(&(objectClass=*)%s)"):
				a = outcome(conn, wrap % pf, KEN, SCOPE_BASE)
				b = outcome(conn, wrap % pf, JDOE, SCOPE_BASE)
				if a[0] != b[0] or len(a[1]) != len(b[1]):
					bad.append("%s on ken gives %s, on jdoe %s" % (wrap % pf, a, b))
			for ok_, oj in ((op_search(KEN, SCOPE_BASE, "(objectClass=*)", ["uid"]),
					 op_search(JDOE, SCOPE_BASE, "(objectClass=*)", ["uid"])),
					(op_compare(KEN, "uid", "kenmyer"), op_compare(JDOE, "uid", "jdoe"))):
				a = conn.call(ok_, [control(C_ASSERT, b_filter(pf))]).code
				b = conn.call(oj, [control(C_ASSERT, b_filter(pf))]).code
				if a != b:
					bad.append("assertion %s on ken -> %d, on jdoe -> %d (op %#x)" % (pf, a, b, ok_[0]))
		tap.ok(not bad, "filters and assertions on certpinPIN by %s: a right guess and a wrong one "
			"get the same answer" % iname, "\n".join(bad[:10]))
		# compare
		bad = []
		for a in spellings("certpinPIN"):
			codes = {v: conn.call(op_compare(KEN, a, v)).code for v in (PINHASH, "135790", "wrong")}
			if codes[PINHASH] == 6 or codes["135790"] == 6 or len(set(codes.values())) > 1:
				bad.append("compare %s: %s" % (a, codes))
			codes = {v: conn.call(op_compare(KEN, a, v), [control(C_DONTUSECOPY)]).code for v in (PINHASH, "wrong")}
			if len(set(codes.values())) > 1:
				bad.append("compare %s with dontUseCopy: %s" % (a, codes))
		tap.ok(not bad, "compare of certpinPIN by %s: nothing to learn" % iname, "\n".join(bad))
		conn.close()

	# pre/post-read on every write
	READS = [["certpinPIN"], ["*"], ["+"], ["*", "+"], ["certpinpin;x-a"], [OIDS.get("certpinpin", "certpinPIN")]]
	def read_ctls(attrs):
		return [control(C_PREREAD, c_read(attrs)), control(C_POSTREAD, c_read(attrs))]
	for iname, mk in (("the root DN", root), ("ken himself", lambda: user(KEN)),
			  ("the local root", peercred), ("ken's certificate session", lambda: device(KENCERT)[0])):
		conn = mk()
		mark = len(SEEN)
		codes = []
		for attrs in READS:
			for ctl in ([c] for c in read_ctls(attrs)):
				codes.append(conn.call(op_modify(KEN, [(MOD_REPLACE, "description", ["read"])]), ctl).code)
				codes.append(conn.call(op_modify(KEN, [(MOD_ADD, "certpinPIN", ["24680"])]), ctl).code)
		bad = leaks(SEEN[mark:])
		tap.ok(not bad, "pre-/post-read on modifies of ken's entry by %s: no PIN" % iname,
			"%d answers carry it (codes %s)" % (len(bad), codes))
		conn.close()
	mark = len(SEEN)
	for attrs in READS[:4]:
		dn = new_user("pinread%d" % len(SEEN))
		ADMIN.call(op_modify(dn, [(MOD_REPLACE, "certpinPIN", ["975310"])]))
		ADMIN.call(op_modrdn(dn, "uid=pinread-r%d" % len(SEEN), True), read_ctls(attrs))
	for attrs in READS[:4]:
		u = "pinadd%d" % len(SEEN)
		dn = "uid=%s,%s" % (u, PEOPLE)
		ADMIN.call(op_add(dn, [("objectClass", ["inetOrgPerson", "certpinUser"]), ("uid", [u]), ("cn", ["x"]),
			("sn", ["x"]), ("certpinPIN", ["135790"])]), [control(C_POSTREAD, c_read(attrs))])
		ADMIN.call(op_delete(dn), [control(C_PREREAD, c_read(attrs))])
	dn = new_user("pindel")
	ADMIN.call(op_modify(dn, [(MOD_REPLACE, "certpinPIN", ["135790"])]))
	ADMIN.call(op_delete(dn), [control(C_PREREAD, c_read(["*", "+", "certpinPIN"]))])
	tap.ok(not leaks(SEEN[mark:]), "pre-/post-read on modrdn, add and delete of entries with a PIN: no PIN")

	# PINs through persistent sync searches of non-replication identities
	for iname, mk in (("ken himself", lambda: user(KEN)), ("another user", lambda: user(PILAR)),
			  ("the local root", peercred), ("ken's certificate session", lambda: device(KENCERT)[0])):
		conn = mk()
		mark = len(SEEN)
		conn.send(op_search(PEOPLE, SCOPE_SUB, "(objectClass=*)", ["*", "+", "certpinPIN"]),
			[control(C_SYNC, c_sync(3))])
		time.sleep(0.3)
		ADMIN.call(op_modify(KEN, [(MOD_REPLACE, "certpinPIN", ["135790"])]))
		ADMIN.call(op_modify(KEN, [(MOD_REPLACE, "description", ["pin changed"])]))
		t_end = time.monotonic() + 1.0
		while time.monotonic() < t_end:
			try:
				if conn.read_any(0.2) is None:
					continue
			except LdapError:
				break
		got = [m for m in SEEN[mark:] if m.tag == 0x64 and attrs_get(m.attrs, "certpinPIN")]
		tap.ok(not got, "a persistent sync search by %s receives no PIN hash when the PIN changes" % iname,
			"%d entries with certpinPIN" % len(got))
		conn.close()
	SECRETS.append(current_hash())	# the PIN was set again: a new salt

	# modrdn with a PIN in the RDN was attacked above; a PIN in error messages:
	mark = len(SEEN)
	for v in ["1", "12a", "x" * 70, "135790\x00", "\x00", "135790"]:
		user(KEN).call(op_modify(KEN, [(MOD_REPLACE, "certpinPIN", [v])]))
		user(CERTADM).call(op_modify(KEN, [(MOD_ADD, "certpinPIN", [v, v + "1"])]))
	tap.ok(not [m for m in SEEN[mark:] if b"{SSHA" in m.raw], "bad PIN writes: no hash in any answer")

# ---- 4. maintained attributes are never written by clients ---------------------
if want("maintained"):

	section("promise: maintained attributes are never written by clients")
	TGT = new_user("target")

	def existing(attr):
		s = dict(snapshot(TGT))
		return s.get(attr.lower(), [])

	TCERT = fresh("target")
	TREV = fresh("target")
	record(TGT, TCERT)
	record(TGT, TREV)
	unrecord(TGT, TREV)
	SP = fresh("target")		# never on file: must never log on
	ADMIN.call(op_modify(TGT, [(MOD_REPLACE, "telephoneNumber", ["+1 425 555 0199"]),
		(MOD_REPLACE, "certpinPIN", ["246810"])]))
	c = Conn(LDAPS, None, None, CA)
	r = c.call(op_extended(ISSUE, b_seq(b_str(make_csr()), b_str("+14255550199", 0x81), b_str("999999", 0x82))))
	c.close()
	tap.ok(r.code == 49 and existing("certpinPINFailure"), "a wrong PIN for the target user: a failure "
		"recorded (%d), to attack too" % r.code)
	# the bulk form takes no phone and PIN: no PIN oracle for administrators
	before = snapshot(TGT)
	for pin in ("246810", "999999"):
		c = user(CERTADM)
		r = c.call(op_extended(ISSUE_BULK, b_seq(b_seq(b_str(make_csr()), b_str(TGT, 0x80),
			b_str("+14255550199", 0x81), b_str(pin, 0x82)))))
		c.close()
		tap.ok(snapshot(TGT) == before,
			"certpinIssueBulk with the %s PIN of the target user: nothing issued, nothing "
			"recorded" % ("right" if pin == "246810" else "a wrong"), "%d %r" % (r.code, snapshot(TGT)))
	me = user(TGT)
	WRITERS = [("the root DN", ADMIN), ("the local root", peercred()), ("the user herself", me),
		("an administrator", user(CERTADM))]
	CTLS = [("", []), (" +relax", [control(C_RELAX)]), (" +manageDSAit", [control(C_MANAGEDSAIT)]),
		(" +proxied authz as the user", [control(C_PROXY, ("dn:" + TGT).encode())]),
		(" +permissive", [control(C_PERMISSIVE, None, False)]), (" +noop", [control(C_NOOP, None, False)])]
	def forged(attr):
		a = attr.lower()
		if a == "certpinthumbprint":
			return SP.sha256
		if a == "certpinrevokedthumbprint":
			return TREV.sha256
		if a == "certpinpinfailure":
			return gentime() .replace("Z", ".000000Z")
		return "sha256=%s$sha1=%s$serial=01$published=20260101000000Z$notbefore=20200101000000Z$" \
			"expires=20990101000000Z$endpoint=$issuer=CN=ca$subject=CN=target" % (SP.sha256, SP.sha1)


	for attr in MAINTAINED:
		bad = []
		nreq = 0
		before = snapshot(TGT)
		cur = existing(attr)
		for sp in spellings(attr):
			for wname, conn in WRITERS:
				for cname, ctl in CTLS:
					reqs = [("modify add", op_modify(TGT, [(MOD_ADD, sp, [forged(attr)])])),
						("modify replace", op_modify(TGT, [(MOD_REPLACE, sp, [forged(attr)])])),
						("modify replace empty", op_modify(TGT, [(MOD_REPLACE, sp, [])])),
						("modify add with another change", op_modify(TGT, [(MOD_ADD, sp, [forged(attr)]),
							(MOD_REPLACE, "description", ["x"])]))]
					if cur:
						reqs.append(("modify delete value", op_modify(TGT, [(MOD_DELETE, sp, cur[:1])])))
					reqs.append(("modify delete all", op_modify(TGT, [(MOD_DELETE, sp, [])])))
					admin = wname in ("the root DN", "an administrator")
					for rname, op in reqs:
						# the documented exceptions: an administrator's Relax Rules
						# delete of records, an administrator's unlock of a PIN
						if attr == "certpinRevoked" and admin and cname == " +relax" and "delete" in rname:
							continue
						if attr == "certpinPINFailure" and admin and rname == "modify delete all":
							continue
						nreq += 1
						try:
							r = conn.call(op, ctl)
						except (OSError, LdapError) as e:
							bad.append("%s %s by %s%s: %s" % (rname, sp, wname, cname, e))
							continue
						after = snapshot(TGT)
						if after != before:
							bad.append("%s %s by %s%s: changed the entry (%d)" % (rname, sp, wname, cname, r.code))
							cur = existing(attr)
						before = after
		# add of a new entry carrying the attribute, and inside a transaction
		for sp in spellings(attr, options=False):
			for wname, conn in WRITERS[:2]:
				u = "forge%d" % nreq
				dn = "uid=%s,%s" % (u, PEOPLE)
				nreq += 1
				r = conn.call(op_add(dn, [("objectClass", ["inetOrgPerson", "certpinUser", "certpinHistory"]),
					("uid", [u]), ("cn", ["f"]), ("sn", ["f"]), (sp, [forged(attr)])]))
				if r.code == 0:
					_, e = ADMIN.search(dn, SCOPE_BASE, "(objectClass=*)", [attr])
					vals = attrs_get(e[0].attrs, attr) if e else []
					if forged(attr).encode() in vals:
						bad.append("add of an entry with %s by %s: stored" % (sp, wname))
					ADMIN.call(op_delete(dn))
			before = snapshot(TGT)
			st, q, end = txn(ADMIN, [(op_modify(TGT, [(MOD_ADD, sp, [forged(attr)])]), [])])
			if snapshot(TGT) != before:
				bad.append("modify add of %s inside a transaction: changed the entry (%s %s)" % (sp, q, end))
		tap.ok(not bad and alive(), "%s: %d writes (add, replace, delete; every spelling and option; root DN, "
			"local root, the user, an administrator; Relax Rules, manageDSAit, proxied authz, permissive, "
			"no-op; entry adds; transactions): none changed anything" % (attr, nreq), "\n".join(bad[:12]))
	tap.ok(who(SP) == "", "the certificate whose thumbprint was forged never logs on")
	tap.ok(record(JDOE, TREV) != 0, "the revoked certificate whose record was attacked stays revoked")

# ---- 5. one certificate, one user -------------------------------------------------
if want("unique"):

	section("promise: one certificate, one user")
	bad = []
	for sp in spellings(CERTATTR) + ["certpinCertificate", "certpinCertificate;x-attack;binary",
					 "certpinCertificate;lang-en;binary", "certpinCertificate;binary;x-attack"]:
		for cert, what in ((KENCERT, "on file for ken"), (KEN2, "revoked")):
			for wname, conn in (("the root DN", ADMIN), ("jdoe herself", user(JDOE))):
				for cname, ctl in (("", []), (" +relax", [control(C_RELAX)]), (" +manageDSAit", [control(C_MANAGEDSAIT)])):
					r = conn.call(op_modify(JDOE, [(MOD_ADD, sp, [cert.der])]), ctl)
					if JDOE.lower() in holders(cert) or r.code == 0:
						bad.append("%s (%s) added to jdoe as %s by %s%s (%d)" % (cert.name, what, sp, wname, cname, r.code))
						ADMIN.call(op_modify(JDOE, [(MOD_DELETE, sp, [cert.der])]), [control(C_RELAX)])
			USERNO[0] += 1
			u = "dup%d" % USERNO[0]
			dn = "uid=%s,%s" % (u, PEOPLE)
			r = ADMIN.call(op_add(dn, [("objectClass", ["inetOrgPerson", "certpinUser"]), ("uid", [u]),
				("cn", ["d"]), ("sn", ["d"]), (sp, [cert.der])]))
			if r.code == 0:
				bad.append("new entry with %s (%s) as %s" % (cert.name, what, sp))
				ADMIN.call(op_delete(dn))
	tap.ok(not bad, "ken's certificate and the revoked one, added to jdoe in every spelling (;binary "
		"case, OID, options, without ;binary) and with controls: refused", "\n".join(bad[:12]))
	tap.ok(who(KENCERT).lower() == "dn:" + KEN.lower(), "ken still logs on")
	f = fresh("x")
	r = ADMIN.call(op_modify(JDOE, [(MOD_ADD, CERTATTR, [f.der, f.der])]))
	tap.ok(r.code != 0 and not holders(f), "one certificate twice in one modify: refused (%d)" % r.code)
	st, q, end = txn(ADMIN, [(op_modify(JDOE, [(MOD_ADD, CERTATTR, [f.der])]), []),
		(op_modify(PILAR, [(MOD_ADD, CERTATTR, [f.der])]), [])])
	tap.ok(len(holders(f)) <= 1, "one certificate on jdoe and pilar in one transaction: at most one holds it",
		"holders %s (queued %s end %s)" % (holders(f), q, end))
	# pipelined on one connection
	bad = []
	for k in range(6):
		f = fresh("x")
		data = b""
		ids = []
		for dn in (JDOE, PILAR, KEN):
			data += ADMIN.encode(ADMIN.next_id, op_modify(dn, [(MOD_ADD, CERTATTR, [f.der])]))
			ids.append(ADMIN.next_id)
			ADMIN.next_id += 1
		ADMIN.send_raw(data)
		codes = [ADMIN.result(i)[0].code for i in ids]
		h = holders(f)
		if len(h) > 1 or codes.count(0) > 1:
			bad.append("%s: codes %s, holders %s" % (f.name, codes, h))
	tap.ok(not bad, "one certificate added to three entries by three pipelined modifies: at most one "
		"holds it", "\n".join(bad))
	# concurrently from several connections
	bad = []
	conns = [root() for _ in range(3)]
	for k in range(12):
		f = fresh("x")
		bar = threading.Barrier(3)
		codes = [None] * 3
		def go(i, dn):
			bar.wait()
			codes[i] = conns[i].call(op_modify(dn, [(MOD_ADD, CERTATTR, [f.der])])).code
		ts = [threading.Thread(target=go, args=(i, dn)) for i, dn in enumerate((JDOE, PILAR, CERTADM))]
		if k == 0:
			ADMIN.call(op_modify(CERTADM, [(MOD_ADD, "objectClass", ["certpinUser"])]))
		for t in ts:
			t.start()
		for t in ts:
			t.join()
		h = holders(f)
		if len(h) > 1 or codes.count(0) > 1:
			bad.append("%s: codes %s, holders %s" % (f.name, codes, h))
	tap.ok(not bad, "one certificate added to three entries at the same moment from three "
		"connections, 12 rounds: at most one holds it", "\n".join(bad))
	for c in conns:
		c.close()

# ---- 6. slapd never dies -------------------------------------------------------------
if want("alive"):

	section("promise: slapd keeps running")

	# certpinIssueBulk from an administrator, cut short at every length and
	# with bytes flipped: each answered, slapd alive
	BULKREQ = b_seq(*[b_seq(b_str(make_csr()), b_str(JDOE, 0x80)) for _ in range(3)])
	c = user(CERTADM)
	answered, sent = 0, 0
	rnd = __import__("random").Random(56)
	cuts = [BULKREQ[:k] for k in range(0, len(BULKREQ), 7)]
	flips = []
	for _ in range(60):
		b = bytearray(BULKREQ)
		b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
		flips.append(bytes(b))
	for v in cuts + flips:
		sent += 1
		try:
			c.call(op_extended(ISSUE_BULK, v), timeout=10)
			answered += 1
		except (OSError, LdapError):
			c = user(CERTADM)
	c.close()
	tap.ok(answered == sent and alive(), "certpinIssueBulk truncated at every 7th byte and with "
		"flipped bits: %d of %d answered, slapd alive" % (answered, sent))
	ADMIN.call(op_modify(JDOE, [(MOD_DELETE, CERTATTR, [])]))

	# every advertised and hidden control, with odd values, on every operation
	ops = lambda i: [op_add("uid=odd%d,%s" % (i, PEOPLE), [("objectClass", ["inetOrgPerson", "certpinUser"]),
			("uid", ["odd%d" % i]), ("cn", ["o"]), ("sn", ["o"]), (CERTATTR, [fresh("odd").der])]),
		op_modify(JDOE, [(MOD_REPLACE, "description", ["odd"]), (MOD_ADD, CERTATTR, [fresh("odd").der])]),
		op_modify(JDOE, [(MOD_DELETE, CERTATTR, [])]),
		op_modrdn("uid=odd%d,%s" % (i, PEOPLE), "uid=odd%d-r" % i), op_delete("uid=odd%d-r,%s" % (i, PEOPLE)),
		op_compare(KEN, "certpinPIN", "135790"), op_search(KEN, SCOPE_BASE, "(certpinPIN=*)", ["*"]),
		op_extended(WHOAMI), op_extended(ISSUE, b"\x30\x00"), op_extended(ISSUE_BULK, b"\x30\x00"),
		op_extended(PASSWD, b"")]
	VALUES = [None, b"", b"\x30\x80\x00\x00", b"\x30\x03\x04\x01", b"\xff" * 3, b"\x30\x84\x7f\xff\xff\xff",
		b"\x30" + b"\x00" * 4000]
	i = 0
	for oid in ADV_CONTROLS + list(HIDDEN_CONTROLS):
		conn = root()
		sent = 0
		for v in VALUES:
			for crit in (True, False):
				i += 1
				for op in ops(i):
					try:
						conn.call(op, [control(oid, v, crit)], timeout=2)
						sent += 1
					except (OSError, LdapError):
						conn = root()
		tap.ok(alive(), "control %s with %d odd values on every operation: slapd alive" % (oid, sent))
		tap.note("%.1f s" % (time.monotonic() - T0[0]))
		conn.close()
	for oid in ADV_EXT + [TXN_SPEC]:
		for mk in (anon, root, lambda: device(KENCERT)[0]):
			conn = mk()
			for v in [None, b"", b"\x00", b"\x30\x80", b"\x30\x00", b"\x30\x03\x04\x01\x00\x00", b"x" * 70000,
				  b"\x30\x06\x04\x04\x00\x00\x00\x00"]:
				try:
					conn.call(op_extended(oid, v), timeout=10)
				except (OSError, LdapError):
					conn = mk()
			conn.close()
		tap.ok(alive(), "extension %s with odd request values, as anonymous, root and a certificate "
			"session: slapd alive" % oid)
		tap.note("%.1f s" % (time.monotonic() - T0[0]))
	# transactions out of order, cancel and abandon of pipelined writes
	conn = root()
	for v in (b"\x30\x03\x04\x01x", b"\x30\x00", b_seq(b_bool(True), b_str(b"\x00" * 8))):
		conn.call(op_extended(TXN_END, v))
	conn.call(op_extended(TXN_START))
	r = conn.call(op_extended(TXN_START))
	conn.close()
	conn = root()
	f = fresh("jdoe")
	mids = [conn.send(op_modify(JDOE, [(MOD_ADD, CERTATTR, [f.der])])), conn.send(op_modify(JDOE, [(MOD_DELETE, CERTATTR, [f.der])]))]
	conn.send(op_extended(CANCEL, b_seq(b_int(mids[0]))))
	conn.send(op_abandon(mids[1]))
	conn.send(op_extended(CANCEL, b_seq(b_int(999))))
	time.sleep(0.5)
	conn.close()
	tap.ok(alive(), "transaction end without start, a second start, cancel and abandon of certificate "
		"writes: slapd alive")
	# oversized values and a connection closed in the middle of a burst
	for size in (16385, 70000, 1 << 20):
		r = ADMIN.call(op_modify(JDOE, [(MOD_ADD, CERTATTR, [b"\x30\x82\xff\xff" + b"\x00" * (size - 4)])]))
		tap.ok(alive() and r.code != 0, "a %d-byte certificate value: refused (%d), slapd alive" % (size, r.code))
	for size in (1000, 70000):
		r = ADMIN.call(op_modify(KEN, [(MOD_REPLACE, "certpinPIN", ["1" * size])]))
		tap.ok(alive() and r.code != 0, "a %d-byte PIN: refused (%d)" % (size, r.code))
	c, _ = device(KENCERT)
	burst = b"".join(c.encode(1000 + i, op_modify(KEN, [(MOD_REPLACE, "description", ["x"]),
		(MOD_ADD, CERTATTR, [fresh("kenmyer").der])])) for i in range(30))
	c.send_raw(burst + burst[:len(burst) // 2])
	c.sock.close()
	time.sleep(0.5)
	tap.ok(alive(), "a certificate session sends a burst of writes and closes mid-request: slapd alive")

	# transactions whose queued writes the gate refuses only at commit
	for name, mk in (("a revoked certificate", lambda: [(op_modify(JDOE, [(MOD_ADD, CERTATTR, [KEN2.der])]), [])]),
			 ("a fresh one, then a revoked one", lambda: [(op_modify(JDOE, [(MOD_REPLACE, CERTATTR, [fresh("jdoe").der])]), []),
				(op_modify(JDOE, [(MOD_ADD, CERTATTR, [KEN2.der])]), [])]),
			 ("ken's certificate on file", lambda: [(op_modify(PILAR, [(MOD_ADD, CERTATTR, [KENCERT.der])]), [])])):
		try:
			st, q, end = txn(ADMIN, mk())
			res = "queued %s, end %s" % (q, end)
		except (OSError, LdapError) as e:
			res = "%s" % e
		tap.ok(alive(), "a transaction adding %s (refused at queue time or at commit): slapd alive (%s)" % (name, res))
		if not alive():
			break
		tap.ok(KEN2.der not in dict(snapshot(JDOE)).get("certpincertificate;binary", []) and
			PILAR.lower() not in holders(KENCERT), "and nothing of it was stored")

	# two-step certificate writes (last: on old main they abort slapd)
	try:
		dn = new_user("twostep", [(CERTATTR, [fresh("twostep").der])])
		r = record(dn, fresh("twostep"))
		tap.ok(alive() and r == 0, "an entry added with a certificate gets a second one by modify (%d)" % r)
		dn = new_user("twostep2", [(CERTATTR, [fresh("twostep2").der, fresh("twostep2").der])])
		r = record(dn, fresh("twostep2"))
		tap.ok(alive() and r == 0, "an entry added with two certificates gets a third (%d)" % r)
		f = fresh("twostep2")
		record(dn, f)
		unrecord(dn, f)
		r = record(dn, fresh("twostep2"))
		tap.ok(alive() and r == 0, "after a value delete, another add (%d)" % r)
		s = dict(snapshot(dn))
		ADMIN.call(op_modify(dn, [(MOD_DELETE, "certpinRevoked", s.get("certpinrevoked", [])[:1])]), [control(C_RELAX)])
		r = record(dn, f)
		tap.ok(alive() and r == 0, "the Relax Rules re-add path (%d)" % r)
	except (OSError, LdapError) as e:
		tap.ok(False, "two-step certificate writes: %s (slapd %s)" % (e, "alive" if alive() else "died"))

# ---- the secret never crossed the wire --------------------------------------------
tap.ok(not [m for m in SEEN if secret_in(m.raw)], "in all %d answers of this catalogue, not one "
	"byte sequence of ken's PIN hash" % len(SEEN))
tap.ok(alive(), "slapd alive at the end of the catalogue")
section("end")
tap.done()
