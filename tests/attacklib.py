# tests/attacklib.py - a small LDAP client written from RFC 4511 for the
# attack tests (test056-059): every byte of every request is ours, so that
# odd encodings (NUL bytes in a SASL mechanism, attribute options, controls
# with garbage values) and pipelining (many requests in one write, answers
# read later) are easy.  Also: TAP output, certificates (python3-cryptography)
# and a scanner that remembers every byte slapd sent (the PIN secrecy checks
# look for the hash in all of them).
#
# Run with /usr/bin/python3 (Debian's, which has python3-cryptography).

import datetime
import hashlib
import os
import select
import socket
import ssl
import sys
import time

# tests/sanitize runs slapd under valgrind/ASan: every wait grows with it
SLOW = max(1, int(os.environ.get("CERTPIN_SLAPD_SLOW", "1") or 1))

# ---- TAP ---------------------------------------------------------------

class Tap:
	def __init__(self):
		self.n = 0
		self.failed = 0
		self.failures = []

	def ok(self, cond, desc, detail=None):
		self.n += 1
		if cond:
			print("ok - %s" % desc, flush=True)
		else:
			self.failed += 1
			self.failures.append(desc)
			print("not ok - %s" % desc, flush=True)
			if detail is not None:
				for line in str(detail).splitlines()[:15]:
					print("#   %s" % line, flush=True)
		return cond

	def note(self, msg):
		for line in str(msg).splitlines():
			print("# %s" % line, flush=True)

	def done(self):
		print("# checks %d failed %d" % (self.n, self.failed), flush=True)

# ---- BER -----------------------------------------------------------------

def tlv(tag, body):
	n = len(body)
	if n < 0x80:
		ln = bytes([n])
	else:
		b = n.to_bytes((n.bit_length() + 7) // 8, "big")
		ln = bytes([0x80 | len(b)]) + b
	return bytes([tag]) + ln + body

def b_int(v, tag=0x02):
	return tlv(tag, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))

def b_enum(v):
	return b_int(v, 0x0a)

def b_str(s, tag=0x04):
	if isinstance(s, str):
		s = s.encode()
	return tlv(tag, s)

def b_bool(v, tag=0x01):
	return tlv(tag, b"\xff" if v else b"\x00")

def b_seq(*items, tag=0x30):
	return tlv(tag, b"".join(items))

def b_set(*items):
	return tlv(0x31, b"".join(items))

def ber_read(buf, pos=0):
	"""(tag, body, next) of the TLV at buf[pos]."""
	tag = buf[pos]
	ln = buf[pos + 1]
	p = pos + 2
	if ln & 0x80:
		k = ln & 0x7f
		ln = int.from_bytes(buf[p:p + k], "big")
		p += k
	return tag, buf[p:p + ln], p + ln

def ber_items(body):
	out = []
	p = 0
	while p < len(body):
		t, v, p = ber_read(body, p)
		out.append((t, v))
	return out

def ber_int(v):
	return int.from_bytes(v, "big", signed=True) if v else 0

# ---- filters (RFC 4515 string -> BER), enough for the tests ---------------

def _unescape(s):
	out = bytearray()
	i = 0
	b = s.encode() if isinstance(s, str) else s
	while i < len(b):
		if b[i:i + 1] == b"\\" and i + 2 < len(b) + 1:
			out.append(int(b[i + 1:i + 3], 16))
			i += 3
		else:
			out.append(b[i])
			i += 1
	return bytes(out)

def b_filter(f):
	f = f.strip()
	assert f[0] == "(" and f[-1] == ")", f
	inner = f[1:-1]
	if inner[0] in "&|":
		parts, depth, start = [], 0, None
		for i, c in enumerate(inner[1:], 1):
			if c == "(":
				if depth == 0:
					start = i
				depth += 1
			elif c == ")":
				depth -= 1
				if depth == 0:
					parts.append(inner[start:i + 1])
		return tlv(0xa0 if inner[0] == "&" else 0xa1, b"".join(b_filter(p) for p in parts))
	if inner[0] == "!":
		return tlv(0xa2, b_filter(inner[1:]))
	for op, tag in ((">=", 0xa5), ("<=", 0xa6), ("~=", 0xa8)):
		if op in inner:
			a, v = inner.split(op, 1)
			return tlv(tag, b_str(a) + b_str(_unescape(v)))
	a, v = inner.split("=", 1)
	if v == "*":
		return b_str(a, 0x87)
	if "*" in v:
		pieces = v.split("*")
		subs = b""
		for i, p in enumerate(pieces):
			if not p:
				continue
			t = 0x80 if i == 0 else (0x82 if i == len(pieces) - 1 else 0x81)
			subs += b_str(_unescape(p), t)
		return tlv(0xa4, b_str(a) + b_seq(subs))
	return tlv(0xa3, b_str(a) + b_str(_unescape(v)))

# ---- LDAP messages ---------------------------------------------------------

SCOPE_BASE, SCOPE_ONE, SCOPE_SUB = 0, 1, 2
MOD_ADD, MOD_DELETE, MOD_REPLACE = 0, 1, 2

WHOAMI = "1.3.6.1.4.1.4203.1.11.3"
PASSWD = "1.3.6.1.4.1.4203.1.11.1"
CANCEL = "1.3.6.1.1.8"
STARTTLS = "1.3.6.1.4.1.1466.20037"
TXN_START = "1.3.6.1.1.21.1"
TXN_END = "1.3.6.1.1.21.3"
TXN_SPEC = "1.3.6.1.1.21.2"
ISSUE = "2.25.200588203507426345906909541611622616575.3.1"
ISSUE_BULK = "2.25.200588203507426345906909541611622616575.3.2"

C_SYNC = "1.3.6.1.4.1.4203.1.9.1.1"
C_PROXY = "2.16.840.1.113730.3.4.18"
C_MANAGEDSAIT = "2.16.840.1.113730.3.4.2"
C_SUBENTRIES = "1.3.6.1.4.1.4203.1.10.1"
C_DONTUSECOPY = "1.3.6.1.1.22"
C_PAGED = "1.2.840.113556.1.4.319"
C_MATCHEDVALUES = "1.2.826.0.1.3344810.2.3"
C_POSTREAD = "1.3.6.1.1.13.2"
C_PREREAD = "1.3.6.1.1.13.1"
C_ASSERT = "1.3.6.1.1.12"
C_RELAX = "1.3.6.1.4.1.4203.666.5.12"
C_NOOP = "1.3.6.1.4.1.4203.1.10.2"
C_PERMISSIVE = "1.2.840.113556.1.4.1413"
C_TREEDELETE = "1.2.840.113556.1.4.805"
C_MANAGEDIT = "1.3.6.1.4.1.4203.666.5.2"

def control(oid, value=None, critical=True):
	body = b_str(oid)
	if critical:
		body += b_bool(True)
	if value is not None:
		body += b_str(value)
	return b_seq(body)

def c_read(attrs):		# pre/post-read value
	return b_seq(*[b_str(a) for a in attrs])

def c_sync(mode=3, cookie=None):	# 1 refreshOnly, 3 refreshAndPersist
	body = b_enum(mode)
	if cookie is not None:
		body += b_str(cookie)
	return b_seq(body)

def c_paged(size, cookie=b""):
	return b_seq(b_int(size), b_str(cookie))

def op_bind_simple(dn, pw):
	return tlv(0x60, b_int(3) + b_str(dn) + b_str(pw, 0x80))

def op_bind_sasl(mech, creds=None, dn=""):
	sasl = b_str(mech)
	if creds is not None:
		sasl += b_str(creds)
	return tlv(0x60, b_int(3) + b_str(dn) + tlv(0xa3, sasl))

def op_search(base, scope=SCOPE_BASE, filt="(objectClass=*)", attrs=(), deref=0, types_only=False):
	fb = filt if isinstance(filt, bytes) else b_filter(filt)
	return tlv(0x63, b_str(base) + b_enum(scope) + b_enum(deref) + b_int(0) + b_int(0)
		+ b_bool(types_only) + fb + b_seq(*[b_str(a) for a in attrs]))

def b_attr(name, vals):
	return b_seq(b_str(name), b_set(*[b_str(v) for v in vals]))

def op_modify(dn, mods):
	"""mods: [(MOD_*, attr, [values])]"""
	return tlv(0x66, b_str(dn) + b_seq(*[b_seq(b_enum(m), b_attr(a, v)) for m, a, v in mods]))

def op_add(dn, attrs):
	"""attrs: [(attr, [values])]"""
	return tlv(0x68, b_str(dn) + b_seq(*[b_attr(a, v) for a, v in attrs]))

def op_delete(dn):
	return b_str(dn, 0x4a)

def op_modrdn(dn, newrdn, deleteold=True, newsuperior=None):
	body = b_str(dn) + b_str(newrdn) + b_bool(deleteold)
	if newsuperior is not None:
		body += b_str(newsuperior, 0x80)
	return tlv(0x6c, body)

def op_compare(dn, attr, value):
	return tlv(0x6e, b_str(dn) + b_seq(b_str(attr), b_str(value)))

def op_extended(oid, value=None):
	body = b_str(oid, 0x80)
	if value is not None:
		body += b_str(value, 0x81)
	return tlv(0x77, body)

def op_abandon(msgid):
	return b_int(msgid, 0x50)

RESULT_TAGS = {0x61: "bind", 0x65: "search", 0x67: "modify", 0x69: "add", 0x6b: "delete",
	0x6d: "modrdn", 0x6f: "compare", 0x78: "extended", 0x79: "intermediate"}

class Msg:
	def __init__(self, raw):
		self.raw = raw
		_, body, _ = ber_read(raw)
		items = ber_items(body)
		self.msgid = ber_int(items[0][1])
		self.tag, op = items[1]
		self.controls = []
		for t, v in items[2:]:
			if t == 0xa0:
				for _, c in ber_items(v):
					ci = ber_items(c)
					oid = ci[0][1].decode()
					val = [x[1] for x in ci[1:] if x[0] == 0x04]
					self.controls.append((oid, val[0] if val else None))
		self.code = None
		self.diag = ""
		self.dn = None
		self.attrs = {}
		self.name = None
		self.value = None
		if self.tag == 0x64:		# search entry
			e = ber_items(op)
			self.dn = e[0][1].decode("utf-8", "replace")
			self.attrs = parse_attrs(e[1][1])
		elif self.tag == 0x73:		# reference
			pass
		elif self.tag == 0x79:		# intermediate
			for t, v in ber_items(op):
				if t == 0x80:
					self.name = v.decode()
				elif t == 0x81:
					self.value = v
		elif self.tag in RESULT_TAGS:
			r = ber_items(op)
			self.code = ber_int(r[0][1])
			self.dn = r[1][1].decode("utf-8", "replace")
			self.diag = r[2][1].decode("utf-8", "replace")
			for t, v in r[3:]:
				if t == 0x8a:
					self.name = v.decode()
				elif t == 0x8b:
					self.value = v
				elif t == 0x87:		# bind: serverSaslCreds
					self.value = v

	def control(self, oid):
		for o, v in self.controls:
			if o == oid:
				return v
		return None

	def __repr__(self):
		return "<msg %d tag %#x code %s diag %r dn %r>" % (self.msgid, self.tag, self.code, self.diag, self.dn)

def parse_attrs(body):
	out = {}
	for _, a in ber_items(body):
		ai = ber_items(a)
		name = ai[0][1].decode("utf-8", "replace")
		out[name] = [v for _, v in ber_items(ai[1][1])] if len(ai) > 1 else []
	return out

def attrs_get(attrs, name):
	"""values of an attribute, any spelling of its name (case, options)"""
	out = []
	for k, v in attrs.items():
		if k.split(";")[0].lower() == name.lower():
			out += v
	return out

class LdapError(Exception):
	pass

SEEN = []		# every message slapd sent (Msg), for the secrecy scans

class Conn:
	"""uri: ldapi://path (unescaped path), ldap://h:p, ldaps://h:p"""
	def __init__(self, uri, cert=None, key=None, ca=None, starttls=False, timeout=10):
		timeout *= SLOW
		self.timeout = timeout
		self.buf = b""
		self.next_id = 1
		self.pending = {}
		self.closed = False
		if uri.startswith("ldapi://"):
			path = uri[len("ldapi://"):].rstrip("/").replace("%2F", "/").replace("%2f", "/")
			self.sock = socket.socket(socket.AF_UNIX)
			self.sock.settimeout(timeout)
			self.sock.connect(path)
		else:
			hp = uri.split("://", 1)[1].rstrip("/")
			host, port = hp.rsplit(":", 1)
			self.sock = socket.create_connection((host, int(port)), timeout=timeout)
			# no Nagle: a TLS request in two segments waited for a delayed ACK (40 ms)
			self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
			if uri.startswith("ldaps://"):
				self._tls(cert, key, ca)
			elif starttls:
				r = self.call(op_extended(STARTTLS))
				if r.code != 0:
					raise LdapError("StartTLS: %r" % r)
				self._tls(cert, key, ca)

	_ctx = {}

	def _tls(self, cert, key, ca):
		ctx = Conn._ctx.get((cert, key, ca))
		if ctx is None:
			ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
			ctx.check_hostname = False
			ctx.load_verify_locations(ca)
			if cert:
				ctx.load_cert_chain(cert, key)
			Conn._ctx[(cert, key, ca)] = ctx
		self.sock = ctx.wrap_socket(self.sock)

	def send(self, op, controls=()):
		mid = self.next_id
		self.next_id += 1
		self.sock.sendall(self.encode(mid, op, controls))
		return mid

	def encode(self, mid, op, controls=()):
		body = b_int(mid) + op
		if controls:
			body += tlv(0xa0, b"".join(controls))
		return b_seq(body)

	def send_raw(self, data):
		self.sock.sendall(data)

	def _read_msg(self, timeout=None):
		end = time.monotonic() + (timeout * SLOW if timeout is not None else self.timeout)
		while True:
			if len(self.buf) >= 2:
				try:
					_, _, nxt = ber_read(self.buf)
					if nxt <= len(self.buf):
						raw, self.buf = self.buf[:nxt], self.buf[nxt:]
						m = Msg(raw)
						SEEN.append(m)
						return m
				except IndexError:
					pass
			left = end - time.monotonic()
			if left <= 0:
				raise socket.timeout("no answer")
			if not (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
				r, _, _ = select.select([self.sock], [], [], left)
				if not r:
					raise socket.timeout("no answer")
			try:
				data = self.sock.recv(65536)
			except ssl.SSLWantReadError:
				continue
			if not data:
				self.closed = True
				raise LdapError("connection closed by slapd")
			self.buf += data

	def result(self, mid, timeout=None):
		"""(final message, [entries], [other messages]) of request mid"""
		got = self.pending.pop(mid, [])
		while not got or got[-1].tag not in RESULT_TAGS or got[-1].tag == 0x79:
			m = self._read_msg(timeout)
			if m.msgid == mid:
				got.append(m)
			else:
				self.pending.setdefault(m.msgid, []).append(m)
		final = got[-1]
		entries = [m for m in got if m.tag == 0x64]
		return final, entries, got[:-1]

	def read_any(self, timeout):
		"""next message of any request, or None after timeout"""
		try:
			return self._read_msg(timeout)
		except socket.timeout:
			return None

	def call(self, op, controls=(), timeout=None):
		return self.result(self.send(op, controls), timeout)[0]

	def search(self, base, scope=SCOPE_BASE, filt="(objectClass=*)", attrs=(), controls=()):
		final, entries, _ = self.result(self.send(op_search(base, scope, filt, attrs), controls))
		return final, entries

	def whoami(self):
		r = self.call(op_extended(WHOAMI))
		return (r.value or b"").decode("utf-8", "replace") if r.code == 0 else "error %d" % r.code

	def bind(self, dn, pw):
		return self.call(op_bind_simple(dn, pw))

	def close(self):
		try:
			self.sock.sendall(self.encode(self.next_id, b"\x42\x00"))
			self.sock.close()
		except OSError:
			pass

# ---- certificates ----------------------------------------------------------

def load_crypto():
	from cryptography import x509
	from cryptography.hazmat.primitives import hashes, serialization
	from cryptography.hazmat.primitives.asymmetric import ec
	return x509, hashes, serialization, ec

class Pki:
	"""Signs client certificates with an existing CA ($PKI/ca.{crt,key})."""
	def __init__(self, pkidir, outdir):
		x509, hashes, serialization, ec = load_crypto()
		self.x509, self.hashes, self.ser, self.ec = x509, hashes, serialization, ec
		self.dir = outdir
		os.makedirs(outdir, exist_ok=True)
		self.ca_cert = x509.load_pem_x509_certificate(open(pkidir + "/ca.crt", "rb").read())
		self.ca_key = serialization.load_pem_private_key(open(pkidir + "/ca.key", "rb").read(), None)
		self.cafile = pkidir + "/ca.crt"
		self.keyfile = outdir + "/client.key"
		if os.path.exists(self.keyfile):	# a later process of the same test
			self.key = serialization.load_pem_private_key(open(self.keyfile, "rb").read(), None)
			return
		self.key = ec.generate_private_key(ec.SECP256R1())	# one key for all: fast
		with open(self.keyfile, "wb") as f:
			f.write(self.key.private_bytes(serialization.Encoding.PEM,
				serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

	def cert(self, name, cn, days=365):
		"""a client certificate for CN=cn; files NAME.crt (PEM); returns Cert"""
		x509 = self.x509
		now = datetime.datetime.utcnow().replace(microsecond=0)
		b = (x509.CertificateBuilder()
			.subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)]))
			.issuer_name(self.ca_cert.subject)
			.public_key(self.key.public_key())
			.serial_number(x509.random_serial_number())
			.not_valid_before(now - datetime.timedelta(minutes=5))
			.not_valid_after(now + datetime.timedelta(days=days))
			.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
			.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
		path = "%s/%s.crt" % (self.dir, name)
		if os.path.exists(path) and getattr(self, "reuse", False):
			c = x509.load_pem_x509_certificate(open(path, "rb").read())
			return Cert(name, cn, c.public_bytes(self.ser.Encoding.DER), path, self.keyfile, c)
		c = b.sign(self.ca_key, self.hashes.SHA256())
		der = c.public_bytes(self.ser.Encoding.DER)
		with open(path, "wb") as f:
			f.write(c.public_bytes(self.ser.Encoding.PEM))
		return Cert(name, cn, der, path, self.keyfile, c)

class Cert:
	def __init__(self, name, cn, der, path, keyfile, obj=None):
		self.name, self.cn, self.der, self.path, self.keyfile = name, cn, der, path, keyfile
		self.sha256 = hashlib.sha256(der).hexdigest()
		self.sha1 = hashlib.sha1(der).hexdigest().upper()
		self.obj = obj

	def info(self):
		"""the certpinCertInfo fields slapo-certpin(5) promises (but published)"""
		c = self.obj
		fmt = "%Y%m%d%H%M%SZ"
		serial = c.serial_number.to_bytes(max(1, (c.serial_number.bit_length() + 7) // 8), "big")
		return {"sha256": self.sha256, "sha1": self.sha1, "serial": serial.hex().upper(),
			"notbefore": c.not_valid_before.strftime(fmt), "expires": c.not_valid_after.strftime(fmt),
			"issuer": c.issuer.rfc4514_string(), "subject": c.subject.rfc4514_string()}

	def lookalike(self):
		"""the same certificate with one signature byte changed: same serial and
		issuer (certificateExactMatch finds them equal), other bytes"""
		d = bytearray(self.der)
		d[-3] ^= 0x01
		return Cert(self.name + "-lookalike", self.cn, bytes(d), None, None, self.obj)

def parse_record(v):
	"""certpinCertInfo / certpinRevoked value -> (ordered field names, dict)"""
	if isinstance(v, bytes):
		v = v.decode("utf-8", "replace")
	names, d = [], {}
	for part in v.split("$"):
		k, _, val = part.partition("=")
		val = val.replace("\\24", "$").replace("\\5c", "\\").replace("\\5C", "\\")
		names.append(k)
		d[k] = val
	return names, d

def gentime(t=None):
	return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))

def tls_conn(uri, cert, ca, starttls=False, mech=b"EXTERNAL", creds=b"", timeout=10):
	"""a TLS connection with the certificate; SASL bind with mech (bytes);
	returns (conn, bind result)"""
	if starttls:
		c = Conn(uri, cert.path, cert.keyfile, ca, starttls=True, timeout=timeout)
	else:
		c = Conn(uri, cert.path, cert.keyfile, ca, timeout=timeout)
	r = c.call(op_bind_sasl(mech, creds))
	return c, r

def logon(uri, cert, ca, **kw):
	"""who the connection is after an EXTERNAL bind with cert ('' when refused)"""
	try:
		c, r = tls_conn(uri, cert, ca, **kw)
	except (OSError, LdapError, ssl.SSLError) as e:
		return "tls-error %s" % e
	try:
		return c.whoami() if r.code == 0 else ""
	finally:
		c.close()
