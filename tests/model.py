# tests/model.py - randomized, model-based test of certpin's write path.
#
# Random sequences of writes (adds of entries with 0-3 certificates, modifies
# with several add/delete/replace mods, certpinUser class removal and re-add,
# renames, entry deletes, re-adds of revoked certificates, Relax Rules deletes
# of revocation records by the administrator and by the user, bad values,
# look-alike certificates, writes of maintained attributes, RDN tricks, LDAP
# transactions) against a live slapd, each also applied to an in-memory model
# of what slapo-certpin(5) promises.  After every step:
#   - the live entries (certificates, certpinThumbprint, certpinCertInfo
#     fields, certpinRevoked records, certpinRevokedThumbprint, classes) equal
#     the model's;
#   - slapd is alive;
#   - each pool certificate logs on (SASL EXTERNAL over TLS) exactly when the
#     model says it is on file for the entry its subject maps to;
#   - each session bound earlier keeps its identity only while nothing revoked
#     it (certificate removed, class removed, entry renamed or deleted).
# A refused write must change nothing.  Where the man page allows either of
# two outcomes (a transaction the overlay refuses to check, a delete and
# re-add of one certificate in one modify) either is accepted.
#
# usage: model.py LDAPI LDAPS PKIDIR WORKDIR ROOTDN ROOTPW PIDFILE SEED STEPS MAXCERTS
# Prints TAP lines (one per step and a few more) and "# checks N failed M".
# On the first failing step it prints the seed, the step and the operations
# so far (a replay recipe) and stops.

import copy
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import *		# noqa: F401,F403

LDAPI, LDAPS, PKIDIR, WORK, ROOTDN, ROOTPW, PIDFILE = sys.argv[1:8]
SEED, STEPS, MAXCERTS = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
SUFFIX = "dc=example,dc=com"
PEOPLE = "ou=people," + SUFFIX
UIDS = ["u%d" % i for i in range(7)]	# u5, u6 start absent (rename targets)
CERTS_PER_UID = 2
CERTATTR = "certpinCertificate;binary"
USERPW = "pw-model"

tap = Tap()
rnd = random.Random(SEED)
pki = Pki(PKIDIR, WORK)
POOL = []
for u in UIDS:
	for k in range(CERTS_PER_UID):
		POOL.append(pki.cert("%s-%d" % (u, k), u))
BYSHA = {c.sha256: c for c in POOL}

def dn_of(uid):
	return "uid=%s,%s" % (uid, PEOPLE)

def alive():
	try:
		pid = int(open(PIDFILE).read())
		os.kill(pid, 0)
		return True
	except (OSError, ValueError):
		return False

# ---- the model -------------------------------------------------------------

class Entry:
	def __init__(self, uid, user=True):
		self.uid = uid
		self.user = user		# has class certpinUser
		self.certs = {}			# sha -> (Cert, published window (t0, t1))
		self.records = []		# dicts: sha256 by reason entry t0 t1
		self.history_class = False

class Model:
	def __init__(self):
		self.entries = {}		# uid -> Entry
		self.people = Entry(None, user=False)	# the history entry (ou=people)
		self.sessions = {}		# cert name -> [dn, valid]

	def all_records(self):
		out = list(self.people.records)
		for e in self.entries.values():
			out += e.records
		return out

	def revoked(self, sha):
		return any(r["sha256"] == sha for r in self.all_records())

	def holder(self, sha):
		for e in self.entries.values():
			if sha in e.certs:
				return e
		return None

	def end_sessions(self, dn, shas=None):
		for s in self.sessions.values():
			if s[0].lower() == dn.lower() and (shas is None or s[2] in shas):
				s[1] = False

	def revoke(self, e, shas, actor, t0, t1, reasons=None):
		for sha in shas:
			c = e.certs.pop(sha)[0]
			r = {"sha256": sha, "by": actor, "cert": c, "t0": t0, "t1": t1, "entry": None}
			if reasons and sha in reasons:
				r["reason"] = reasons[sha]
			e.records.append(r)
			e.history_class = True
		if shas:
			self.end_sessions(dn_of(e.uid), set(shas))

M = Model()

class Refused(Exception):
	pass

# Apply one operation to a model (a copy): raises Refused when the
# promised outcome is a refusal; returns nothing.  The op dicts are built
# by the generators below; "t0"/"t1" bracket the live operation.

def cert_add_ok(m, e, after, before):
	for sha in set(after) - set(before):
		if m.revoked(sha):
			raise Refused("revoked")
		h = m.holder(sha)
		if h is not None and h is not e:
			raise Refused("on file elsewhere")
	if len(after) > MAXCERTS:
		raise Refused("too many")

def apply(m, op):
	kind = op["kind"]
	t0, t1, actor = op["t0"], op["t1"], op["actor"]
	if op.get("bad"):
		raise Refused(op["bad"])
	if kind == "add":
		if op["uid"] in m.entries:
			raise Refused("exists")
		certs = op["certs"]
		if len({c.sha256 for c in certs}) != len(certs):
			raise Refused("duplicate value")
		if certs and not op["user"]:
			raise Refused("no certpinUser class")
		e = Entry(op["uid"], op["user"])
		after = {c.sha256: c for c in certs}
		cert_add_ok(m, e, after, {})
		for c in certs:
			e.certs[c.sha256] = (c, (t0, t1))
		m.entries[op["uid"]] = e
	elif kind == "modify":
		e = m.entries.get(op["uid"])
		if e is None:
			raise Refused("no such entry")
		if actor != ROOTDN and actor.lower() != dn_of(op["uid"]).lower():
			raise Refused("access")
		vals = {sha: c for sha, (c, _) in e.certs.items()}
		user = e.user
		reasons = {}
		for mod, what, certs in op["mods"]:
			if what == "cert":
				if mod == MOD_ADD:
					for c in certs:
						if c.sha256 in vals:
							raise Refused("value exists")
						vals[c.sha256] = c
				elif mod == MOD_DELETE:
					if not certs:
						if not vals:
							raise Refused("no such attribute")
						vals = {}
					for c in certs:
						# certificateExactMatch: serial + issuer
						hit = [s for s, v in vals.items() if v.obj.serial_number == c.obj.serial_number]
						if not hit:
							raise Refused("no such value")
						del vals[hit[0]]
				else:
					if len({c.sha256 for c in certs}) != len(certs):
						raise Refused("duplicate value")
					vals = {c.sha256: c for c in certs}
			elif what == "class":
				if mod == MOD_DELETE:
					if not user:
						raise Refused("no such value")
					user = False
					vals = {}		# the class goes with every certificate
				else:
					if user:
						raise Refused("value exists")
					user = True
			elif what == "reason":
				for c in certs:
					reasons[c.sha256] = "model"
			elif what == "desc":
				pass
		if vals and not user:
			raise Refused("no certpinUser class")
		before = {sha for sha in e.certs}
		removed = before - set(vals)
		for sha in reasons:
			if sha not in removed:
				raise Refused("reason for a certificate not removed")
		cert_add_ok(m, e, vals, before)
		m.revoke(e, sorted(removed), actor, t0, t1, reasons)
		for sha, c in vals.items():
			if sha not in e.certs:
				e.certs[sha] = (c, (t0, t1))
		if not user and e.user:
			m.end_sessions(dn_of(e.uid))
		e.user = user
	elif kind == "rename":
		e = m.entries.get(op["uid"])
		if e is None:
			raise Refused("no such entry")
		if op.get("trick"):
			raise Refused("maintained attribute in the RDN")
		if op["new"] in m.entries:
			raise Refused("exists")
		m.end_sessions(dn_of(e.uid))
		del m.entries[e.uid]
		e.uid = op["new"]
		m.entries[e.uid] = e
	elif kind == "delete":
		e = m.entries.get(op["uid"])
		if e is None:
			raise Refused("no such entry")
		m.revoke(e, sorted(e.certs), actor, t0, t1)
		for r in e.records:
			r = dict(r)
			r["entry"] = dn_of(e.uid)
			m.people.records.append(r)
			m.people.history_class = True
		m.end_sessions(dn_of(e.uid))
		del m.entries[e.uid]
	elif kind == "clear":		# Relax Rules delete of one record
		if actor != ROOTDN:
			raise Refused("not an administrator")
		holder = m.people if op["uid"] is None else m.entries.get(op["uid"])
		if holder is None:
			raise Refused("no such entry")
		idx = [i for i, r in enumerate(holder.records) if r is op["record"] or r.get("live") == op["value"]]
		if not idx:
			raise Refused("no such record")
		del holder.records[idx[0]]
	elif kind == "txn":
		for sub in op["ops"]:
			sub = dict(sub, t0=t0, t1=t1)
			apply(m, sub)
	else:
		raise AssertionError(kind)

# ---- the live side ---------------------------------------------------------

admin = Conn(LDAPI)
assert admin.bind(ROOTDN, ROOTPW).code == 0
_, ents = admin.search("cn=Subschema", SCOPE_BASE, "(objectClass=subschema)", ["attributeTypes"])
OIDS = {}
for v in attrs_get(ents[0].attrs, "attributeTypes"):
	s = v.decode()
	if "certpin" in s.lower():
		OIDS[s.split("NAME '")[1].split("'")[0].lower()] = s.split()[1]

def spelling(name):
	"""a random spelling of an attribute description"""
	k = rnd.randrange(4)
	base, _, opt = name.partition(";")
	if k == 1:
		base = base.lower()
	elif k == 2:
		base = base.upper()
		opt = opt.upper()
	elif k == 3 and base.lower() in OIDS:
		base = OIDS[base.lower()]
	return base + (";" + opt if opt else "")

user_conns = {}
def conn_for(actor):
	if actor == ROOTDN:
		return admin
	# a fresh simple bind for each write by a user: an old connection keeps
	# its DN across renames (plain LDAP, not certpin's business)
	old = user_conns.pop("last", None)
	if old is not None:
		old.close()
	c = Conn(LDAPI)
	r = c.bind(actor, USERPW)
	if r.code != 0:
		c.close()
		return None
	user_conns["last"] = c
	return c

LAST = [""]
def result(r):
	LAST[0] = "%d %s" % (r.code, r.diag)
	return r.code

def live_write(op):
	"""perform op on slapd; returns result code (0 success)"""
	kind = op["kind"]
	c = conn_for(op["actor"])
	if c is None:
		return -1
	ctrls = op.get("controls", [])
	if kind == "add":
		attrs = [("objectClass", [b"inetOrgPerson"] + ([b"certpinUser"] if op["user"] else [])),
			("uid", [op["uid"]]), ("cn", [op["uid"]]), ("sn", [op["uid"]]),
			("userPassword", [USERPW])]
		if op["certs"] or op.get("raw"):
			attrs.append((spelling(CERTATTR), [x.der for x in op["certs"]] + op.get("raw", [])))
		attrs += op.get("extra", [])
		return result(c.call(op_add(dn_of(op["uid"]), attrs), ctrls))
	if kind == "modify":
		mods = []
		for mod, what, certs in op["mods"]:
			if what == "cert":
				mods.append((mod, spelling(CERTATTR), [x.der for x in certs]))
			elif what == "class":
				mods.append((mod, "objectClass", ["certpinUser"]))
			elif what == "reason":
				mods.append((MOD_ADD, "certpinRevoked", ["sha256=%s$reason=model" % x.sha256 for x in certs]))
			elif what == "desc":
				mods.append((MOD_REPLACE, "description", ["step %d" % op["step"]]))
			elif what == "raw":
				mods.append(certs)
		return result(c.call(op_modify(dn_of(op["uid"]), mods), ctrls))
	if kind == "rename":
		new = op.get("trick") or "uid=" + op["new"]
		return result(c.call(op_modrdn(dn_of(op["uid"]), new, not op.get("trick")), ctrls))
	if kind == "delete":
		return result(c.call(op_delete(dn_of(op["uid"])), ctrls))
	if kind == "clear":
		dn = PEOPLE if op["uid"] is None else dn_of(op["uid"])
		return result(c.call(op_modify(dn, [(MOD_DELETE, "certpinRevoked", [op["value"]])]),
			[control(C_RELAX, None, True)]))
	if kind == "txn":
		r = c.call(op_extended(TXN_START))
		if r.code != 0:
			return r.code
		tid = r.value
		commit = True
		for sub in op["ops"]:
			sub = dict(sub, controls=[control(TXN_SPEC, tid, True)])
			code = live_write(sub)
			if code not in (0, 0x4120):
				commit = False		# a client aborts when a queued write fails
		r = c.call(op_extended(TXN_END, b_seq(b_bool(False), b_str(tid)) if not commit
			else b_seq(b_str(tid))))
		return result(r) if commit else "aborted (%d)" % r.code
	raise AssertionError(kind)

ATTRS = ["objectClass", "uid", CERTATTR, "certpinThumbprint", "certpinCertInfo",
	"certpinRevoked", "certpinRevokedThumbprint"]

def live_state():
	r, ents = admin.search(PEOPLE, SCOPE_SUB, "(objectClass=*)", ATTRS)
	assert r.code == 0, r
	out = {}
	for e in ents:
		out[e.dn.lower()] = e.attrs
	return out

def ts(v):
	import calendar
	return calendar.timegm(time.strptime(v, "%Y%m%d%H%M%SZ"))

def compare_entry(dn, me, la, errs):
	"""model entry me vs live attrs la; appends differences to errs"""
	oc = {v.decode().lower() for v in attrs_get(la, "objectClass")}
	if me.user != ("certpinuser" in oc):
		errs.append("%s: certpinUser class %s, model %s" % (dn, "certpinuser" in oc, me.user))
	certs = attrs_get(la, "certpinCertificate")
	live_shas = sorted(hashlib.sha256(v).hexdigest() for v in certs)
	want = sorted(me.certs)
	if live_shas != want:
		errs.append("%s: certificates %s, model %s" % (dn, names(live_shas), names(want)))
	tp = sorted(v.decode() for v in attrs_get(la, "certpinThumbprint"))
	if tp != want:
		errs.append("%s: certpinThumbprint %s, model %s" % (dn, names(tp), names(want)))
	infos = attrs_get(la, "certpinCertInfo")
	seen = []
	for v in infos:
		fn, d = parse_record(v)
		sha = d.get("sha256")
		seen.append(sha)
		if fn[0] != "sha256":
			errs.append("%s: certpinCertInfo does not start with sha256: %r" % (dn, v))
		if sha not in me.certs:
			continue
		c, (t0, t1) = me.certs[sha]
		for k, w in c.info().items():
			if d.get(k) != w:
				errs.append("%s: certpinCertInfo of %s: %s=%r, want %r" % (dn, c.name, k, d.get(k), w))
		try:
			p = ts(d["published"])
			# a replace of all certificates may rewrite the metadata
			if not (t0 - 2 <= p <= time.time() + 2):
				errs.append("%s: %s published %s outside the write" % (dn, c.name, d["published"]))
		except (KeyError, ValueError):
			errs.append("%s: %s: bad published field %r" % (dn, c.name, d.get("published")))
	if sorted(seen) != want:
		errs.append("%s: certpinCertInfo for %s, model %s" % (dn, names(sorted(seen)), names(want)))
	# revocation records: a multiset of (sha256, by, entry, reason)
	live = []
	for v in attrs_get(la, "certpinRevoked"):
		fn, d = parse_record(v)
		if fn[0] != "sha256":
			errs.append("%s: certpinRevoked does not start with sha256: %r" % (dn, v))
		live.append((d, v))
	unmatched = list(live)
	for r in me.records:
		cands = [(d, v) for d, v in unmatched if d.get("sha256") == r["sha256"]
			and (d.get("entry") or "").lower() == (r["entry"] or "").lower()]
		cands.sort(key=lambda dv: (dv[0].get("by", "").lower() != r["by"].lower(),
			dv[0].get("revoked", "") < gentime(r["t0"] - 2)))
		hit = cands[0] if cands else None
		if hit is None:
			errs.append("%s: no record of %s (by %s%s)" % (dn, names([r["sha256"]]), r["by"],
				", entry " + r["entry"] if r["entry"] else ""))
			continue
		unmatched.remove(hit)
		d, v = hit
		r["live"] = v.decode("utf-8", "replace")
		c = r["cert"]
		info = c.info()
		if d.get("by", "").lower() != r["by"].lower():
			errs.append("%s: record of %s by=%r, want %r" % (dn, c.name, d.get("by"), r["by"]))
		for k in ("serial", "expires", "issuer", "subject"):
			if d.get(k) != info[k]:
				errs.append("%s: record of %s: %s=%r, want %r" % (dn, c.name, k, d.get(k), info[k]))
		if "reason" in r and d.get("reason") != r["reason"]:
			errs.append("%s: record of %s: reason=%r, want %r" % (dn, c.name, d.get("reason"), r["reason"]))
		try:
			t = ts(d["revoked"])
			if not (r["t0"] - 2 <= t <= r["t1"] + 2):
				errs.append("%s: record of %s: revoked %s outside the write" % (dn, c.name, d["revoked"]))
		except (KeyError, ValueError):
			errs.append("%s: record of %s: bad revoked field %r" % (dn, c.name, d.get("revoked")))
	for d, v in unmatched:
		errs.append("%s: record the model does not have: %r" % (dn, v[:120]))
	rtp = sorted(v.decode() for v in attrs_get(la, "certpinRevokedThumbprint"))
	wrtp = sorted({r["sha256"] for r in me.records})
	if rtp != wrtp:
		errs.append("%s: certpinRevokedThumbprint %s, model %s" % (dn, names(rtp), names(wrtp)))
	if me.records and "certpinhistory" not in oc:
		errs.append("%s: records without class certpinHistory" % dn)

def names(shas):
	return "[" + " ".join(BYSHA[s].name if s in BYSHA else s[:8] for s in shas) + "]"

def compare(m, live):
	errs = []
	want = {dn_of(u).lower(): e for u, e in m.entries.items()}
	for dn in live:
		if dn == PEOPLE.lower():
			continue
		if dn not in want:
			errs.append("%s exists, the model has no such entry" % dn)
	for dn, e in want.items():
		if dn not in live:
			errs.append("%s missing" % dn)
		else:
			compare_entry(dn, e, live[dn], errs)
	compare_entry(PEOPLE, m.people, live.get(PEOPLE.lower(), {}), errs)
	return errs

# the certpinUser class of ou=people is not ours to check
def _people_fix(m):
	m.people.user = False

# ---- logons and sessions ---------------------------------------------------

def expected_logon(m, c):
	e = m.entries.get(c.cn)
	if e is not None and e.user and c.sha256 in e.certs:
		return dn_of(c.cn)
	return ""

sessions = {}		# cert name -> Conn

def check_logons(m, step):
	errs = []
	# sessions bound earlier
	for name, conn in list(sessions.items()):
		dn, valid, sha = m.sessions[name]
		try:
			who = conn.whoami()
		except (OSError, LdapError) as e:
			who = "error %s" % e
		if valid:
			if who.lower() != "dn:" + dn.lower():
				errs.append("session of %s: whoami %r, model: still %s" % (name, who, dn))
		else:
			if who.lower() == "dn:" + dn.lower():
				errs.append("session of %s still acts as %s after its revocation" % (name, dn))
			conn.close()
			del sessions[name]
			del m.sessions[name]
	# fresh logons with every pool certificate
	for c in POOL:
		want = expected_logon(m, c)
		try:
			conn, r = tls_conn(LDAPS, c, pki.cafile)
			who = conn.whoami() if r.code == 0 else ""
		except (OSError, LdapError) as e:
			errs.append("logon with %s: %s" % (c.name, e))
			continue
		got = who[3:] if who.startswith("dn:") else who
		if got.lower() != want.lower():
			errs.append("logon with %s (CN=%s): %r, model %r" % (c.name, c.cn, got, want))
			conn.close()
		elif want and c.name not in sessions and len(sessions) < 6:
			sessions[c.name] = conn		# keep it: a session for later steps
			m.sessions[c.name] = [want, True, c.sha256]
		else:
			conn.close()
	return errs

# ---- generators --------------------------------------------------------------

BAD_VALUES = [
	("garbage", b"\x30\x03\x02\x01"),
	("PEM text", b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
	("truncated DER", None),
	("trailing bytes", None),
	("oversized value", b"\x30\x82\x40\x01" + b"\x00" * 16385),
	("NUL bytes", b"\x00" * 40),
]

def gen(m, step):
	r = rnd.random()
	live_uids = list(m.entries)
	uid = rnd.choice(live_uids) if live_uids and rnd.random() < 0.85 else rnd.choice(UIDS)
	actor = ROOTDN
	free = [c for c in POOL if m.holder(c.sha256) is None and not m.revoked(c.sha256)]
	def some(k):
		# mostly certificates that may be added, so that most writes succeed
		src = free if len(free) >= k and rnd.random() < 0.7 else POOL
		return rnd.sample(src, k)
	absent = [u for u in UIDS if u not in m.entries]
	if r < 0.14 or (len(live_uids) < 3 and rnd.random() < 0.6):
		return {"kind": "add", "uid": rnd.choice(absent if absent and rnd.random() < 0.9 else UIDS), "certs": some(rnd.randrange(4)),
			"user": rnd.random() < 0.93, "actor": actor}
	if r < 0.50:
		mods = []
		e = m.entries.get(uid)
		held = [c for c, _ in e.certs.values()] if e else []
		for _ in range(rnd.choice([1, 1, 2, 3])):
			k = rnd.random()
			if k < 0.35:
				mods.append((MOD_ADD, "cert", some(rnd.choice([1, 1, 2]))))
			elif k < 0.60 and held:
				pick = rnd.sample(held, rnd.randrange(1, len(held) + 1))
				if rnd.random() < 0.15:
					pick = [p.lookalike() for p in pick[:1]]
				mods.append((MOD_DELETE, "cert", pick))
				if rnd.random() < 0.2 and not any("lookalike" in p.name for p in pick):
					mods.append((MOD_ADD, "reason", pick))
			elif k < 0.70:
				mods.append((MOD_DELETE, "cert", []))
			elif k < 0.85:
				mods.append((MOD_REPLACE, "cert", some(rnd.randrange(3))))
			else:
				mods.append((MOD_REPLACE, "desc", []))
		if rnd.random() < 0.25 and uid in m.entries:
			actor = dn_of(uid)		# the user herself (by self write)
		return {"kind": "modify", "uid": uid, "mods": mods, "actor": actor}
	if r < 0.56:
		return {"kind": "modify", "uid": uid, "mods": [(MOD_DELETE, "class", [])], "actor": actor}
	if r < 0.60:
		return {"kind": "modify", "uid": uid, "mods": [(MOD_ADD, "class", [])], "actor": actor}
	if r < 0.67:
		new = rnd.choice([u for u in UIDS if u != uid])
		op = {"kind": "rename", "uid": uid, "new": new, "actor": actor}
		if rnd.random() < 0.3 and uid in m.entries:
			c = rnd.choice(POOL)
			op["trick"] = rnd.choice(["uid=%s+certpinThumbprint=%s" % (uid, c.sha256),
				"uid=%s+certpinRevokedThumbprint=%s" % (uid, c.sha256),
				"uid=%s+certpinCertInfo=sha256=%s" % (uid, c.sha256)])
		return op
	if r < 0.72:
		return {"kind": "delete", "uid": uid, "actor": actor}
	if r < 0.78:
		revoked = [BYSHA[x["sha256"]] for x in m.all_records() if x["sha256"] in BYSHA]
		if revoked:
			return {"kind": "modify", "uid": uid, "mods": [(MOD_ADD, "cert", [rnd.choice(revoked)])], "actor": actor}
		return {"kind": "modify", "uid": uid, "mods": [(MOD_REPLACE, "desc", [])], "actor": actor}
	if r < 0.86:
		holders = [(None, m.people)] + [(u, e) for u, e in m.entries.items()]
		holders = [(u, e) for u, e in holders if any("live" in x for x in e.records)]
		if holders:
			u, e = rnd.choice(holders)
			rec = rnd.choice([x for x in e.records if "live" in x])
			who = actor
			if u is not None and rnd.random() < 0.3:
				who = dn_of(u)			# the user clears her own record
			return {"kind": "clear", "uid": u, "value": rec["live"], "record": rec, "actor": who}
		return {"kind": "modify", "uid": uid, "mods": [(MOD_REPLACE, "desc", [])], "actor": actor}
	if r < 0.93:
		name, val = rnd.choice(BAD_VALUES)
		c = rnd.choice(POOL)
		if name == "truncated DER":
			val = c.der[:-10]
		elif name == "trailing bytes":
			val = c.der + b"\x00\x01"
		k = rnd.random()
		if k < 0.5:
			op = {"kind": "modify", "uid": uid, "actor": actor, "bad": name,
				"mods": [(MOD_ADD, "raw", (MOD_ADD, spelling(CERTATTR), [val]))]}
		else:
			attr = rnd.choice(["certpinThumbprint", "certpinCertInfo", "certpinRevoked",
				"certpinRevokedThumbprint", "certpinThumbprint;x-model", "certpinthumbprint;lang-en"])
			v = c.sha256 if "thumbprint" in attr.lower() else "sha256=%s$serial=01" % c.sha256
			mod = rnd.choice([MOD_ADD, MOD_REPLACE])
			name = "write of " + attr
			op = {"kind": "modify", "uid": uid, "actor": actor, "bad": name,
				"mods": [(MOD_ADD, "raw", (mod, spelling(attr), [v]))]}
			if rnd.random() < 0.3:
				op["controls"] = [control(C_RELAX, None, True)]
				op["bad"] += " with Relax Rules"
		return op
	# a transaction of 2-3 writes on existing entries
	subs = []
	for _ in range(rnd.choice([2, 3])):
		u = rnd.choice(live_uids or UIDS)
		k = rnd.random()
		if k < 0.4:
			subs.append({"kind": "modify", "uid": u, "actor": actor,
				"mods": [(MOD_ADD, "cert", some(1))]})
		elif k < 0.8 and m.entries.get(u) and m.entries[u].certs:
			held = [c for c, _ in m.entries[u].certs.values()]
			subs.append({"kind": "modify", "uid": u, "actor": actor,
				"mods": [(MOD_DELETE, "cert", [rnd.choice(held)])]})
		else:
			subs.append({"kind": "modify", "uid": u, "actor": actor,
				"mods": [(MOD_REPLACE, "cert", some(rnd.randrange(2)))]})
	return {"kind": "txn", "ops": subs, "actor": actor}

def describe(op):
	k = op["kind"]
	def cn(cs):
		return "[" + " ".join(c.name for c in cs) + "]"
	if k == "add":
		return "add %s%s certs %s" % (op["uid"], "" if op["user"] else " (no certpinUser)", cn(op["certs"]))
	if k == "modify":
		ms = []
		for mod, what, certs in op["mods"]:
			if what == "raw":
				ms.append("%s %s (%s)" % ({0: "add", 1: "delete", 2: "replace"}[certs[0]], certs[1], op.get("bad")))
			else:
				ms.append("%s %s %s" % ({0: "add", 1: "delete", 2: "replace"}[mod], what,
					cn(certs) if what in ("cert", "reason") else ""))
		return "modify %s by %s: %s%s" % (op["uid"], "root" if op["actor"] == ROOTDN else "self",
			"; ".join(ms), " +relax" if op.get("controls") else "")
	if k == "rename":
		return "rename %s -> %s" % (op["uid"], op.get("trick") or op["new"])
	if k == "delete":
		return "delete %s" % op["uid"]
	if k == "clear":
		return "relax delete of a record on %s by %s" % (op["uid"] or "ou=people",
			"root" if op["actor"] == ROOTDN else "self")
	if k == "txn":
		return "transaction { " + " | ".join(describe(s) for s in op["ops"]) + " }"
	return k

def ambiguous(op):
	"""outcomes the man page leaves open: refusal is also fine"""
	if op["kind"] == "txn":
		return True
	if op["kind"] == "modify":
		dels = {c.obj.serial_number for mod, w, cs in op["mods"] if w == "cert" and mod == MOD_DELETE for c in cs}
		adds = {c.obj.serial_number for mod, w, cs in op["mods"] if w == "cert" and mod != MOD_DELETE for c in cs}
		return bool(dels & adds) or any(mod == MOD_DELETE and w == "cert" and not cs for mod, w, cs in op["mods"]) and bool(adds)
	return False

# ---- main loop --------------------------------------------------------------

history = []
live = live_state()
_people_fix(M)
base_errs = compare(M, live)
tap.ok(not base_errs, "seed %d: the starting state matches the model" % SEED, "\n".join(base_errs))
failed_step = None
for step in range(1, STEPS + 1):
	op = gen(M, step)
	op["step"] = step
	for s in op.get("ops", []):
		s["step"] = step
	history.append(describe(op))
	op["t0"] = time.time()
	try:
		code = live_write(op)
	except (OSError, LdapError) as e:
		code = "exception %s" % e
	op["t1"] = time.time()
	want = copy.deepcopy(M)
	try:
		apply(want, op)
		promised = "success"
	except Refused as e:
		want = copy.deepcopy(M)
		promised = "refusal (%s)" % e
	errs = []
	live = None
	if not alive():
		errs.append("slapd died")
	else:
		try:
			live = live_state()
			errs = compare(want, live)
		except (OSError, LdapError) as e:
			live = None
			errs = ["cannot read the entries (%s): slapd %s" % (e, "alive" if alive() else "died")]
	if live is not None:
		ok_code = (code == 0) if promised == "success" else (code != 0)
		if ambiguous(op) and (errs or not ok_code):
			alt = copy.deepcopy(M)
			alt_errs = compare(alt, live)
			if not alt_errs and code != 0:
				want, errs, promised, ok_code = alt, [], "refusal (allowed)", True
		if not ok_code:
			errs.insert(0, "result %s (%s), the model promises %s" % (code, LAST[0], promised))
		if not errs:
			errs = check_logons(want, step)
	desc = "seed %d step %d: %s -> %s" % (SEED, step, history[-1], promised.split(" (")[0])
	if not tap.ok(not errs, desc, "\n".join(errs)):
		failed_step = step
		break
	# carry over the live record strings, then adopt the new state
	M = want
tap.ok(alive(), "seed %d: slapd alive at the end" % SEED)
if failed_step is not None:
	tap.note("replay: CERTPIN_MODEL_SEEDS=%d CERTPIN_MODEL_STEPS=%d tests/run test057; operations so far:" % (SEED, failed_step))
	for i, h in enumerate(history, 1):
		tap.note("  %3d %s" % (i, h))
for c in list(sessions.values()) + list(user_conns.values()):
	c.close()
admin.close()
tap.done()
