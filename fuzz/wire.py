#!/usr/bin/python3
# fuzz/wire.py - certpin's over-the-wire fuzzer.
#
# Sends generated and mutated LDAP PDUs at a live slapd with the certpin
# module loaded, over ldaps (with a device's client certificate) and ldapi
# (as the root DN and anonymously), in pipelined batches: binds with odd SASL
# mechanisms and credentials, modifies with many mods on certpin's attributes
# and controls attached, adds, modrdns, deletes, compares, searches with
# filters on certpin's attributes, certpinIssue and certpinIssueBulk (real,
# altered and random CSRs, for users named in them or not) and other
# extended operations with trailing or nested BER, abandons, half-written
# PDUs.  After every batch
# slapd must be alive and answer a root DSE search; every --check-every
# batches the write-path invariants of slapo-certpin(5) must hold on every
# entry, certpinPIN must not be readable, and logons must match what is on
# file.  Bounded in operations and seconds; 127.0.0.1 and ldapi only.
#
# usage: wire.py --ldaps URI --ldapi URI --pidfile F --pki DIR --suffix DN
#                --rootdn DN --rootpw PW [--count N] [--seconds S] [--seed N]
#                [--check-every K] [--artifacts DIR]
# Exit status 0 when every check held; 1 with the failing batch saved.
import argparse
import hashlib
import os
import random
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse

import ldap
import ldap.sasl

CERTPIN_OID = "2.25.200588203507426345906909541611622616575"
ISSUE_OID = CERTPIN_OID + ".3.1"
BULK_OID = CERTPIN_OID + ".3.2"	# certpinIssueBulk
ATTRS = ["certpinCertificate;binary", "certpinCertificate", "certpinThumbprint",
         "certpinCertInfo", "certpinRevoked", "certpinRevokedThumbprint",
         "certpinPIN", "certpinPINFailure", "objectClass", "uid", "cn",
         "userCertificate;binary", "mail", "certpinCertificate;binary;x-y",
         "CERTPINCERTIFICATE;BINARY", "telephoneNumber", "description"]
CONTROLS = ["1.3.6.1.1.13.1", "1.3.6.1.1.13.2", "1.3.6.1.1.12",
            "1.3.6.1.4.1.4203.666.5.12", "2.16.840.1.113730.3.4.2",
            "2.16.840.1.113730.3.4.18", "1.3.6.1.4.1.4203.1.10.1",
            "1.3.6.1.4.1.4203.1.9.1.1", "1.3.6.1.1.21.2", "1.2.826.0.1.3344810.2.3",
            "1.3.6.1.4.1.42.2.27.8.5.1", "1.2.840.113556.1.4.319",
            "1.2.840.113556.1.4.473", "1.3.6.1.4.1.4203.1.10.2",
            "1.3.6.1.4.1.1466.20037"]
EXOPS = [ISSUE_OID, "1.3.6.1.4.1.4203.1.11.3", "1.3.6.1.4.1.4203.1.11.1",
         "1.3.6.1.1.21.1", "1.3.6.1.1.21.3", "1.3.6.1.4.1.1466.20037",
         "1.3.6.1.4.1.4203.1.11.3\x00", ISSUE_OID + ".9", "1.3.6.1.1.8", BULK_OID]
MECHS = [b"EXTERNAL", b"EXTERNAL\x00", b"external", b"EXTERNAL-PLUS",
         b"EXTERNAL\x00PLAIN", b"EXTERNALX", b" EXTERNAL", b"PLAIN", b"",
         b"SCRAM-SHA-1", b"DIGEST-MD5", b"GSSAPI", b"E" * 300, b"EXTERNAL\n"]


# ---- BER ---------------------------------------------------------------------

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


def octets(v, tag=0x04):
    return tlv(tag, v if isinstance(v, bytes) else v.encode())


def boolean(v):
    return tlv(0x01, b"\xff" if v else b"\x00")


def seq(*items, tag=0x30):
    return tlv(tag, b"".join(items))


def message(msgid, op, controls=None):
    body = integer(msgid) + op
    if controls:
        body += seq(*controls, tag=0xa0)
    return seq(body)


def control(oid, critical=None, value=None):
    body = octets(oid)
    if critical is not None:
        body += boolean(critical)
    if value is not None:
        body += octets(value)
    return seq(body)


# ---- the generator -------------------------------------------------------------

class Gen:
    def __init__(self, rnd, ders, suffix, people, csrs):
        self.r = rnd
        self.ders = ders
        self.csrs = csrs	# real PKCS#10 requests (DER): issuance goes deep
        self.suffix = suffix
        self.people = people
        self.dns = ["uid=%s,%s" % (u, people) for u in
                    ("kenmyer", "pilar", "jdoe", "fuzz0", "fuzz1", "fuzz2", "fuzz3")]

    def pick(self, seqn):
        return seqn[self.r.randrange(len(seqn))]

    def blob(self, n=None):
        n = self.r.randrange(64) if n is None else n
        return bytes(self.r.randrange(256) for _ in range(n))

    def cert(self):
        d = self.pick(self.ders)
        k = self.r.randrange(10)
        if k < 6:
            return d
        if k == 6:	# look-alike: same serial and issuer, one signature byte changed
            b = bytearray(d)
            b[-1 - self.r.randrange(8)] ^= 1 << self.r.randrange(8)
            return bytes(b)
        if k == 7:
            return d[:self.r.randrange(1, len(d))]
        if k == 8:
            return d + self.blob(self.r.randrange(1, 8))
        return self.blob()

    def dn(self):
        k = self.r.randrange(12)
        if k < 8:
            return self.pick(self.dns)
        if k == 8:
            return "uid=%s+certpinThumbprint=%s,%s" % (self.pick(("kenmyer", "fuzz1")),
                                                      hashlib.sha256(self.pick(self.ders)).hexdigest(),
                                                      self.people)
        if k == 9:
            return self.pick(self.dns).upper()
        if k == 10:
            return self.people
        return self.pick(self.dns) + "\x00x"

    def value(self, attr):
        a = attr.lower()
        if a.startswith("certpincertificate"):
            return self.cert()
        if a in ("certpinthumbprint", "certpinrevokedthumbprint"):
            return hashlib.sha256(self.pick(self.ders)).hexdigest().encode()
        if a == "certpinrevoked":
            h = hashlib.sha256(self.pick(self.ders)).hexdigest()
            return self.pick([("sha256=%s$reason=fuzz" % h).encode(),
                              ("sha256=%s$reason=a\\00b" % h).encode(),
                              ("sha256=%s" % h).encode(), b"sha256=", self.blob()])
        if a == "certpinpin":
            return self.pick([b"123456", b"739201", b"", b"\x00\x00", b"9" * 300, self.blob(8)])
        if a == "objectclass":
            return self.pick([b"certpinUser", b"certpinHistory", b"inetOrgPerson", b"top"])
        return self.pick([b"x", self.blob(), b"fuzz"])

    def filt(self, depth=0):
        k = self.r.randrange(9 if depth < 3 else 5)
        a = self.pick(ATTRS).encode()
        if k == 0:
            return tlv(0x87, a)
        if k == 1:
            return seq(octets(a), octets(self.value(a.decode())), tag=0xa3)
        if k == 2:
            return seq(octets(a), seq(octets(self.blob(3), tag=0x80), tag=0x30), tag=0xa4)
        if k == 3:
            return seq(octets(a), octets(self.value(a.decode())), tag=self.pick([0xa5, 0xa6, 0xa8]))
        if k == 4:
            return self.blob(self.r.randrange(1, 12))
        if k in (5, 6):
            return seq(*[self.filt(depth + 1) for _ in range(self.r.randrange(4))],
                       tag=0xa0 if k == 5 else 0xa1)
        if k == 7:
            return seq(self.filt(depth + 1), tag=0xa2)
        return seq(octets(b"2.5.13.2", tag=0x81), octets(a, tag=0x82),
                   octets(self.value(a.decode()), tag=0x83), tag=0xa9)

    def controls(self):
        out = []
        for _ in range(self.r.randrange(4)):
            oid = self.pick(CONTROLS)
            val = None
            if self.r.randrange(3):
                val = self.pick([seq(octets(self.pick(ATTRS))), seq(seq(octets(b"*"))),
                                 self.blob(), octets(b"(certpinPIN=*)"), b""])
            out.append(control(oid, self.pick([None, True, False]), val))
        return out

    def issue_value(self):
        if self.r.randrange(2) == 0:	# a request the server may grant
            body = octets(self.pick(self.csrs))
            if self.r.randrange(4):
                body += octets(self.pick(self.dns[:3]) if self.r.randrange(3) else self.dn(), tag=0x80)
            if self.r.randrange(3) == 0:
                body += integer(self.pick([8, 24, 8760, 1, 0, 10 ** 6]), tag=0x83)
            if self.r.randrange(3) == 0:
                body += octets(self.pick(["desk-phone", "", "x" * 300, "a\x00b"]), tag=0x84)
            return seq(body)
        if self.r.randrange(2):
            csr = self.pick(self.csrs)
            if self.r.randrange(4) == 0:	# one byte changed
                b = bytearray(csr)
                b[self.r.randrange(len(b))] ^= 1 << self.r.randrange(8)
                csr = bytes(b)
        else:
            csr = self.blob(self.r.randrange(200))
        body = octets(csr)
        for tag in sorted(self.r.sample(range(0x80, 0x86), self.r.randrange(5))):
            body += tlv(tag, self.pick([b"kenmyer@example.com", b"+1 555 0100", b"123456",
                                        b"\x00\x10", b"\xff" * 5, self.blob(),
                                        self.dn().encode(), b"739201", b"24"]))
        return self.mangle(seq(body))

    def bulk_value(self):
        return self.mangle(seq(*[self.issue_value()
                                 for _ in range(self.pick([0, 1, 1, 2, 3, 5, 20]))]))

    def mangle(self, v):
        """An extended request's value as is, or with trailing bytes, or nested."""
        k = self.r.randrange(5)
        if k == 0:
            v += self.blob(3)		# trailing bytes
        elif k == 1:
            v = seq(v)		# nested
        return v

    def op(self):
        k = self.r.randrange(100)
        if k < 10:	# bind
            if self.r.randrange(3):
                auth = seq(octets(self.pick(MECHS)),
                           *([octets(self.pick([b"", b"dn:" + self.dn().encode(), self.blob()]))]
                             if self.r.randrange(2) else []), tag=0xa3)
            else:
                auth = octets(self.pick([b"", b"secret", b"pw-kenmyer", self.blob()]), tag=0x80)
            return seq(integer(self.pick([3, 3, 3, 2, 127])), octets(self.pick(["", self.dn()])),
                       auth, tag=0x60)
        if k < 35:	# modify
            mods = []
            for _ in range(self.r.randrange(1, 6)):
                attr = self.pick(ATTRS)
                vals = [octets(self.value(attr)) for _ in range(self.r.randrange(4))]
                mods.append(seq(integer(self.pick([0, 1, 2, 2, 3, 7]), tag=0x0a),
                                seq(octets(attr), seq(*vals, tag=0x31))))
            return seq(octets(self.dn()), seq(*mods), tag=0x66)
        if k < 45:	# add
            dn = self.dn()
            attrs = [seq(octets("objectClass"),
                         seq(octets("inetOrgPerson"), octets("certpinUser"), tag=0x31)),
                     seq(octets("sn"), seq(octets("fuzz"), tag=0x31)),
                     seq(octets("cn"), seq(octets("fuzz"), tag=0x31))]
            if dn.startswith("uid=") and "," in dn:
                attrs.append(seq(octets("uid"), seq(octets(dn[4:dn.index(",")].split("+")[0]), tag=0x31)))
            for _ in range(self.r.randrange(4)):
                attr = self.pick(ATTRS)
                attrs.append(seq(octets(attr),
                                 seq(*[octets(self.value(attr)) for _ in range(self.r.randrange(1, 4))],
                                     tag=0x31)))
            return seq(octets(dn), seq(*attrs), tag=0x68)
        if k < 50:
            return octets(self.dn(), tag=0x4a)
        if k < 56:	# modrdn
            rdn = self.pick(["uid=fuzz%d" % self.r.randrange(4),
                             "uid=kenmyer+certpinThumbprint=%s" % hashlib.sha256(self.pick(self.ders)).hexdigest(),
                             "certpinPIN=123456", "uid=fuzz1+certpinCertificate;binary=#3000"])
            body = octets(self.dn()) + octets(rdn) + boolean(self.r.randrange(2))
            if self.r.randrange(4) == 0:
                body += octets(self.pick([self.people, self.suffix, "cn=x"]), tag=0x80)
            return tlv(0x6c, body)
        if k < 62:	# compare
            attr = self.pick(ATTRS)
            return seq(octets(self.dn()), seq(octets(attr), octets(self.value(attr))), tag=0x6e)
        if k < 80:	# search
            return seq(octets(self.pick([self.suffix, self.people, self.dn(), ""])),
                       integer(self.pick([0, 1, 2, 3, 9]), tag=0x0a), integer(0, tag=0x0a),
                       integer(self.pick([0, 5])), integer(0), boolean(False), self.filt(),
                       seq(*[octets(self.pick(ATTRS + ["*", "+", "1.1"])) for _ in range(self.r.randrange(4))]),
                       tag=0x63)
        if k < 92:	# extended
            oid = self.pick(EXOPS) if self.r.randrange(2) else self.pick([ISSUE_OID, BULK_OID])
            body = octets(oid, tag=0x80)
            if self.r.randrange(4):
                body += octets(self.issue_value() if oid.startswith(ISSUE_OID) else
                               self.bulk_value() if oid == BULK_OID else self.blob(), tag=0x81)
            return tlv(0x77, body)
        if k < 95:
            return integer(self.r.randrange(20), tag=0x50)	# abandon
        return self.blob(self.r.randrange(1, 40))	# not a protocolOp at all

    def pdu(self, msgid):
        m = message(msgid, self.op(), self.controls() if self.r.randrange(3) == 0 else None)
        k = self.r.randrange(20)
        if k == 0:	# flip a byte
            b = bytearray(m)
            b[self.r.randrange(len(b))] ^= 1 << self.r.randrange(8)
            m = bytes(b)
        elif k == 1:	# claim a longer outer length
            m = m[:1] + b"\x84\x00\x10\x00\x00" + m[2:] if len(m) > 2 else m
        elif k == 2:	# truncate (the rest of the batch then reads as its body)
            m = m[:self.r.randrange(1, len(m))]
        return m


# ---- transport -----------------------------------------------------------------

def ldapi_path(uri):
    return urllib.parse.unquote(uri[len("ldapi://"):].rstrip("/"))


def hostport(uri):
    u = urllib.parse.urlparse(uri)
    return u.hostname, u.port


def connect(kind, args):
    if kind == "ldapi":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(ldapi_path(args.ldapi))
        return s
    host, port = hostport(args.ldaps)
    assert host == "127.0.0.1", "the fuzzer talks to 127.0.0.1 only"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(args.pki, "ca.crt"))
    ctx.check_hostname = False
    if kind == "device":
        ctx.load_cert_chain(os.path.join(args.pki, "kenmyer.crt"), os.path.join(args.pki, "kenmyer.key"))
    raw = socket.create_connection((host, port), timeout=5)
    return ctx.wrap_socket(raw)


def send_batch(kind, pdus, args):
    try:
        s = connect(kind, args)
    except OSError as e:
        return "connect: %s" % e
    try:
        s.sendall(b"".join(pdus))
        s.settimeout(0.05)
        end = time.time() + 0.5
        while time.time() < end:
            try:
                if not s.recv(65536):
                    break
            except (socket.timeout, ssl.SSLError, OSError):
                break
    except OSError:
        pass	# slapd may close a connection that sent garbage
    finally:
        try:
            s.close()
        except OSError:
            pass
    return None


# ---- the checks ------------------------------------------------------------------

def alive(args):
    try:
        pid = int(open(args.pidfile).read().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError) as e:
        return "slapd is not running (%s)" % e
    try:
        lc = ldap.initialize(args.ldapi)
        lc.set_option(ldap.OPT_NETWORK_TIMEOUT, 5)
        lc.set_option(ldap.OPT_TIMEOUT, 5)
        lc.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
        lc.unbind_s()
    except ldap.LDAPError as e:
        return "slapd does not answer a root DSE search: %s" % e
    return None


def sha(b):
    return hashlib.sha256(b).hexdigest()


def invariants(args):
    """The write-path promises of slapo-certpin(5) on every entry."""
    bad = []
    lc = ldap.initialize(args.ldapi)
    lc.set_option(ldap.OPT_TIMEOUT, 10)
    lc.simple_bind_s(args.rootdn, args.rootpw)
    res = lc.search_s(args.suffix, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["*", "+"])
    held = {}
    revoked = set()
    for dn, e in res:
        low = {k.lower(): v for k, v in e.items()}
        certs = low.get("certpincertificate;binary", []) + low.get("certpincertificate", [])
        tps = {v.decode().lower() for v in low.get("certpinthumbprint", [])}
        infos = [v.decode("utf-8", "replace") for v in low.get("certpincertinfo", [])]
        want = {sha(c) for c in certs}
        if want != tps:
            bad.append("%s: certpinThumbprint %s but certificates %s" % (dn, sorted(tps), sorted(want)))
        for h in want:
            n = sum(1 for i in infos if i.startswith("sha256=%s$" % h))
            if n != 1:
                bad.append("%s: %d certpinCertInfo records for %s" % (dn, n, h[:16]))
        if len(infos) != len(want):
            bad.append("%s: %d certpinCertInfo for %d certificates" % (dn, len(infos), len(want)))
        for h in want:
            if h in held:
                bad.append("%s: certificate %s also held by %s" % (dn, h[:16], held[h]))
            held[h] = dn
        recs = {v.decode("utf-8", "replace")[7:71].lower() for v in low.get("certpinrevoked", [])}
        rtps = {v.decode().lower() for v in low.get("certpinrevokedthumbprint", [])}
        if recs != rtps:
            bad.append("%s: certpinRevokedThumbprint %s but records name %s" % (dn, sorted(rtps), sorted(recs)))
        revoked |= rtps
        if "certpinpin" in low:
            bad.append("%s: certpinPIN readable by the root DN" % dn)
    for h in held:
        if h in revoked:
            bad.append("certificate %s is held by %s and revoked" % (h[:16], held[h]))
    lc.unbind_s()
    return bad, held


def logon(args, cert):
    env = dict(os.environ)
    env.pop("LDAPNOINIT", None)
    env.update(HOME=args.artifacts, LDAPTLS_CACERT=os.path.join(args.pki, "ca.crt"),
               LDAPTLS_CERT=os.path.join(args.pki, cert + ".crt"),
               LDAPTLS_KEY=os.path.join(args.pki, cert + ".key"))
    p = subprocess.run(["ldapwhoami", "-Y", "EXTERNAL", "-H", args.ldaps], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    return p.returncode == 0


def make_csrs(d):
    """Three real certificate requests (P-256, P-384, RSA 2048), DER."""
    out = []
    for i, key in enumerate((["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                             ["ec", "-pkeyopt", "ec_paramgen_curve:P-384"], ["rsa:2048"])):
        path = os.path.join(d, "fuzz%d.csr" % i)
        subprocess.run(["openssl", "req", "-new", "-newkey"] + key +
                       ["-nodes", "-keyout", os.devnull, "-outform", "DER", "-out", path,
                        "-subj", "/CN=fuzz%d" % i], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(path, "rb") as f:
            out.append(f.read())
    return out


def main():
    ap = argparse.ArgumentParser()
    for o in ("ldaps", "ldapi", "pidfile", "pki", "suffix", "rootdn", "rootpw"):
        ap.add_argument("--" + o, required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check-every", type=int, default=10)
    ap.add_argument("--artifacts", default=".")
    args = ap.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    rnd = random.Random(args.seed)
    ders = [open(os.path.join(args.pki, n + ".der"), "rb").read()
            for n in ("kenmyer", "pilar", "jdoe", "kenmyer2", "spare", "expired", "foreign")]
    gen = Gen(rnd, ders, args.suffix, "ou=people," + args.suffix, make_csrs(args.artifacts))
    start = time.time()
    ops = batches = 0
    failure = None
    while ops < args.count and time.time() - start < args.seconds and failure is None:
        kind = rnd.choice(["root", "root", "device", "anon-tls", "ldapi"])
        n = rnd.randrange(1, 12)
        pdus = []
        msgid = 1
        if kind == "root":	# the root DN over ldapi, so that writes go deep
            pdus.append(message(msgid, seq(integer(3), octets(args.rootdn),
                                           octets(args.rootpw, tag=0x80), tag=0x60)))
            msgid += 1
        elif kind == "device":	# SASL EXTERNAL first, then the fuzz
            pdus.append(message(msgid, seq(integer(3), octets(""), seq(octets("EXTERNAL"), tag=0xa3),
                                           tag=0x60)))
            msgid += 1
        for _ in range(n):
            pdus.append(gen.pdu(msgid))
            msgid += 1
        if rnd.randrange(4) == 0:
            pdus.append(message(msgid, tlv(0x42, b"")))
        err = send_batch("ldapi" if kind in ("root", "ldapi") else kind, pdus, args)
        ops += n
        batches += 1
        failure = alive(args)
        if failure is None and batches % args.check_every == 0:
            bad, held = invariants(args)
            if bad:
                failure = "write-path invariant broken: " + "; ".join(bad[:5])
            else:
                k = sha(ders[0])
                on_file = held.get(k, "").lower() == ("uid=kenmyer," + gen.people).lower()
                if logon(args, "kenmyer") != on_file:
                    failure = "ken's certificate %s log on while it is %son file" % (
                        "did not" if on_file else "did", "" if on_file else "not ")
                elif sha(ders[3]) not in held and logon(args, "kenmyer2"):
                    failure = "a certificate not on file (kenmyer2) logged on"
        if failure:
            path = os.path.join(args.artifacts, "wire-seed%d-batch%d.bin" % (args.seed, batches))
            with open(path, "wb") as f:
                f.write(b"".join(pdus))
            print("FAIL after %d operations in %d batches (%s batch): %s; batch saved in %s"
                  % (ops, batches, kind, failure, path))
            if err:
                print("  (the batch's connection: %s)" % err)
            return 1
    el = time.time() - start
    if failure is None:
        bad, _ = invariants(args)
        if bad:
            print("FAIL at the end: " + "; ".join(bad[:5]))
            return 1
    print("wire: %d operations in %d batches, %.1f s (%.0f ops/s), seed %d: slapd alive, invariants held"
          % (ops, batches, el, ops / el if el else 0, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
