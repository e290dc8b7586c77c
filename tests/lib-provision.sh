# tests/lib-provision.sh - helpers for the provisioning tests; sourced after lib.sh.
#
# issue ...: drives the certpinIssue extended operation with python3-ldap and
# a request encoded by hand (BER, see slapo-certpin(5)), independently of the
# project's own client tool.

ISSUE_OID="2.25.200588203507426345906909541611622616575.3.1"
GROUPS_DN="ou=groups,$SUFFIX"
ADMINS="cn=certadmins,$GROUPS_DN"

# The client side of certpinIssue.  Exit status: the LDAP result code (0 on
# success); the diagnostic message is printed.  Options:
#   -H URI  -Z (StartTLS)  -D DN -w PW (simple bind)
#   -r CSRFILE (DER)  -i IDENTITY  -p PHONE  -P PIN  -V HOURS  -e ENDPOINT
#   -o CERTOUT (PEM)  -c CAOUT (PEM)  -x HEX (send this request value instead)
cat > "$TESTDIR/issue.py" <<'PY'
import sys, getopt, ssl, ldap, ldap.extop
OID = sys.argv[1]
opts, rest = getopt.getopt(sys.argv[2:], "H:ZD:w:r:i:p:P:V:e:o:c:x:")
o = dict(opts)
def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        l = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        l = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + l + body
def integer(v):
    return v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True)
if "-x" in o:
    value = bytes.fromhex(o["-x"])
else:
    body = tlv(0x04, open(o["-r"], "rb").read())
    if "-i" in o: body += tlv(0x80, o["-i"].encode())
    if "-p" in o: body += tlv(0x81, o["-p"].encode())
    if "-P" in o: body += tlv(0x82, o["-P"].encode())
    if "-V" in o: body += tlv(0x83, integer(int(o["-V"])))
    if "-e" in o: body += tlv(0x84, o["-e"].encode())
    value = tlv(0x30, body)
l = ldap.initialize(o["-H"])
l.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
l.set_option(ldap.OPT_X_TLS_CACERTFILE, rest[0] if rest else "/dev/null")
l.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
l.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
try:
    if "-Z" in o:
        l.start_tls_s()
    if "-D" in o:
        l.simple_bind_s(o["-D"], o["-w"])
    roid, rval = l.extop_s(ldap.extop.ExtendedRequest(OID, value))
except ldap.LDAPError as e:
    d = e.args[0] if e.args and isinstance(e.args[0], dict) else {"result": 80, "desc": str(e)}
    print("result %s: %s %s" % (d.get("result"), d.get("desc", ""), d.get("info", "")))
    sys.exit(d.get("result", 80) or 80)
def parse(b):
    # one TLV: (tag, body, rest)
    tag, n, i = b[0], b[1], 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[2:2 + k], "big")
        i = 2 + k
    return tag, b[i:i + n], b[i + n:]
assert roid == OID, roid
tag, body, tail = parse(rval)
assert tag == 0x30 and tail == b"", "response is not one SEQUENCE"
t1, cert, body = parse(body)
t2, ca, body = parse(body)
assert t1 == 0x04 and t2 == 0x04 and body == b"", "response fields"
if "-o" in o:
    open(o["-o"], "w").write(ssl.DER_cert_to_PEM_cert(cert))
if "-c" in o:
    open(o["-c"], "w").write(ssl.DER_cert_to_PEM_cert(ca))
print("issued %d bytes" % len(cert))
PY

issue() { "$PY" "$TESTDIR/issue.py" "$ISSUE_OID" "$@" "$PKI/ca.crt"; }

# csr NAME [openssl -newkey args]: key $PKI/NAME.key and DER CSR $PKI/NAME.csr.der
csr() {
	local n=$1
	shift
	[ $# -gt 0 ] || set -- ec -pkeyopt ec_paramgen_curve:P-256
	openssl req -new -newkey "$@" -nodes -keyout "$PKI/$n.key" \
		-out "$PKI/$n.csr.der" -outform DER -subj "/CN=ignored-$n" 2>/dev/null ||
		die "cannot make CSR $n"
	chmod 600 "$PKI/$n.key"
}

# The CA, the administrators' group and its ACLs, phone numbers.
prov_conf() {	# N [extra frontend lines]
	srv_conf "$1" "certpin-ca-cert $PKI/ca.crt
certpin-ca-key $PKI/ca.key
certpin-admin-group \"$ADMINS\"
${2:-}"
	# certificates are named from uid and mail (certpin-cn-attribute,
	# certpin-sip-attribute): only administrators may change them, or the
	# overlay refuses to issue (slapo-certpin(5), ISSUANCE)
	sed -i "s|^access to \\* by self write|access to attrs=certpinPIN,certpinPINFailure,certpinPINLock by group.exact=\"$ADMINS\" write by * none\\n\
access to attrs=uid,mail by group.exact=\"$ADMINS\" write by users read by * none\\n&|" \
		"$TESTDIR/srv$1/slapd.conf"
}

prov_base() {	# N
	srv_base "$1"
	SRV=$1 root_add >/dev/null <<LDIF || die "cannot add groups"
dn: $GROUPS_DN
objectClass: organizationalUnit
ou: groups

dn: uid=certadmin,$PEOPLE
objectClass: inetOrgPerson
uid: certadmin
cn: Cert Admin
sn: Admin
userPassword: pw-certadmin

dn: $ADMINS
objectClass: groupOfNames
cn: certadmins
member: uid=certadmin,$PEOPLE
LDIF
}

# field REC NAME: one field of a metadata record
field() { printf '%s' "$1" | tr '$' '\n' | sed -n "s/^$2=//p" | sed 's/\\24/$/g; s/\\5c/\\/g'; }

# cert_hours PEM: notAfter - notBefore in hours
cert_hours() {
	local s e
	s=$(date -u -d "$(openssl x509 -in "$1" -noout -startdate | sed 's/^notBefore=//')" +%s)
	e=$(date -u -d "$(openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//')" +%s)
	echo $(( (e - s) / 3600 ))
}

pem_sha256() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# set_phone_pin DN PHONE PIN: add a telephoneNumber to DN and set its PIN, as
# the root DN of server ${SRV:-1}.
set_phone_pin() {
	root_modify >/dev/null <<LDIF
dn: $1
changetype: modify
add: telephoneNumber
telephoneNumber: $2
-
replace: certpinPIN
certpinPIN: $3
LDIF
}
