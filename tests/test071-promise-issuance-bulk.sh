#!/bin/bash
# test071-promise-issuance-bulk: attacks on what certpinIssueBulk promises
# (issue 14 item 3: many certificates in one request, each item checked as
# certpinIssue checks an administrator's request).
#
# (a) "Every certificate issued is on file for its user and logs on": an
#     administrator issues for 120 users in one run of certpin-issue --bulk
#     (several requests); each certificate is recorded on its user's entry
#     (thumbprint and metadata), a sample logs on with TLS SASL EXTERNAL as
#     its user.
# (b) "Only administrators issue for others": a user's bulk request is
#     refused and changes nothing.
# (c) "A bad item is refused with its reason, the others are issued": a
#     garbage CSR, a weak key, an unknown user, a PIN item, an item without
#     a user, a validity outside the policy, each in one request with good
#     items (an independent client, python3-ldap, reads the results).
# (d) "One certificate, one user": the same CSR (the same key) twice in one
#     request, for two users and for one: issued once; the limit of
#     certificates per user holds across the items of one request.
# (e) "slapd keeps running": an oversized request (more items than the
#     limit; more bytes than the limit) is refused cleanly, nothing is
#     issued, and the server goes on issuing.
# (f) "A revocation takes effect at once": while a bulk run issues for 60
#     users, an administrator revokes the certificates of half of them in a
#     loop (until the run has its answer); when
#     both are done, every certificate the run got back is either on file
#     (and logs on) or revoked (and refused), and nothing is on file that
#     the run was not told about.  An administrator whose certificate
#     session's certificate is revoked gets nothing issued afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-provision.sh"

BULK_OID="2.25.200588203507426345906909541611622616575.3.2"
pki_standard

# bulk.py: certpinIssueBulk with an encoder of its own.  Lines of LIST:
# "CSRFILE|IDENTITY|FIELDS" (FIELDS: p=PHONE,P=PIN,V=HOURS; CSRFILE "-":
# garbage).  Prints "item N issued SHA256" or "item N refused CODE TEXT";
# with -o DIR writes DIR/N.crt.  Exit status: the operation's result code.
cat > "$TESTDIR/bulk.py" <<'PY'
import sys, getopt, ssl, hashlib, ldap, ldap.extop
OID = sys.argv[1]
opts, rest = getopt.getopt(sys.argv[2:], "H:D:w:l:o:n:x:C:K:A:W:")
o = dict(opts)
def tlv(tag, body):
    n = len(body)
    if n < 0x80: l = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        l = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + l + body
def parse(b):
    tag, n, i = b[0], b[1], 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[2:2 + k], "big"); i = 2 + k
    return tag, b[i:i + n], b[i + n:]
items = []
if "-l" in o:
    for line in open(o["-l"]):
        line = line.rstrip("\n")
        if not line: continue
        f, ident, fields = (line.split("|") + ["", ""])[:3]
        body = tlv(0x04, b"\x30\x03\x02\x01\x00" if f == "-" else open(f, "rb").read())
        kv = dict(x.split("=", 1) for x in fields.split(",") if x)
        if ident: body += tlv(0x80, ident.encode())
        if "p" in kv: body += tlv(0x81, kv["p"].encode())
        if "P" in kv: body += tlv(0x82, kv["P"].encode())
        if "V" in kv:
            v = int(kv["V"]); body += tlv(0x83, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big"))
        items.append(tlv(0x30, body))
if "-n" in o:   # -n COUNT: COUNT copies of the first item
    items = items[:1] * int(o["-n"])
if "-x" in o:   # -x BYTES: one item whose identity has BYTES bytes
    items = [tlv(0x30, tlv(0x04, b"\x30\x00") + tlv(0x80, b"x" * int(o["-x"])))]
value = tlv(0x30, b"".join(items))
l = ldap.initialize(o["-H"])
l.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
if "-C" in o:   # -C CERT -K KEY -A CA: a TLS client certificate, SASL EXTERNAL
    l.set_option(ldap.OPT_X_TLS_CACERTFILE, o["-A"])
    l.set_option(ldap.OPT_X_TLS_CERTFILE, o["-C"])
    l.set_option(ldap.OPT_X_TLS_KEYFILE, o["-K"])
    l.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
    l.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
try:
    if "-D" in o: l.simple_bind_s(o["-D"], o["-w"])
    if "-C" in o:
        import ldap.sasl, os, time
        l.sasl_interactive_bind_s("", ldap.sasl.external())
        print("bound as %s" % l.whoami_s(), flush=True)
        while "-W" in o and not os.path.exists(o["-W"]):   # -W FLAG: wait for it
            time.sleep(0.05)
    roid, rval = l.extop_s(ldap.extop.ExtendedRequest(OID, value))
except ldap.LDAPError as e:
    d = e.args[0] if e.args and isinstance(e.args[0], dict) else {"result": 80, "desc": str(e)}
    print("result %s: %s %s" % (d.get("result"), d.get("desc", ""), d.get("info", "")))
    sys.exit(d.get("result", 80) or 80)
assert roid == OID, roid
tag, body, tail = parse(rval)
assert tag == 0x30 and tail == b""
t, ca, body = parse(body)
assert t == 0x04
t, res, body = parse(body)
assert t == 0x30 and body == b""
n = 0
while res:
    n += 1
    t, v, res = parse(res)
    if t == 0x80:
        print("item %d issued %s" % (n, hashlib.sha256(v).hexdigest()))
        if "-o" in o: open("%s/%d.crt" % (o["-o"], n), "w").write(ssl.DER_cert_to_PEM_cert(v))
    else:
        assert t == 0xa1, hex(t)
        tc, code, v = parse(v); tt, text, v = parse(v)
        assert tc == 0x02 and tt == 0x04 and v == b""
        print("item %d refused %d %s" % (n, int.from_bytes(code, "big"), text.decode()))
assert n == len(items), "%d results for %d items" % (n, len(items))
PY
bulk() { "$PY" "$TESTDIR/bulk.py" "$BULK_OID" "$@"; }

prov_conf 1
MON="cn=certpin,cn=Overlays,cn=Monitor"
cat >> "$TESTDIR/srv1/slapd.conf" <<CONF

database monitor
access to dn.subtree="cn=Monitor" by dn.exact="uid=certadmin,$PEOPLE" read by * none
CONF
srv_start 1
prov_base 1
SRV=1
LDAPI=$(srv_uri 1 ldapi)
ADMIN=(-D "uid=certadmin,$PEOPLE" -w pw-certadmin)

# 200 users, 150 CSRs (distinct keys)
{
	for i in $(seq -w 1 200); do
		printf 'dn: uid=u%s,%s\nobjectClass: inetOrgPerson\nobjectClass: certpinUser\nuid: u%s\ncn: User %s\nsn: %s\nmail: u%s@example.com\nuserPassword: pw-u%s\n\n' \
			"$i" "$PEOPLE" "$i" "$i" "$i" "$i" "$i"
	done
} | SRV=1 root_add >/dev/null || die "cannot add the users"
mkdir -p "$PKI/b"
for i in $(seq -w 1 150); do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$PKI/b/$i.key" -out "$PKI/b/$i.csr" -outform DER \
		-subj "/CN=ignored" 2>/dev/null || die "cannot make CSR $i"
done

# ---- (a) bulk over many users, with the product's client -------------------------
: > "$TESTDIR/bulk-a.lst"
for i in $(seq -w 1 120); do
	echo "$PKI/b/$i.csr $PKI/b/$i.crt uid=u$i,$PEOPLE" >> "$TESTDIR/bulk-a.lst"
done
out=$("$TOOLS/certpin-issue" -H "$LDAPI" -x "${ADMIN[@]}" --bulk "$TESTDIR/bulk-a.lst" \
	--bulk-size 50 --ca "$PKI/b/ca.crt" 2>&1) && rc=0 || rc=$?
check_eq "certpin-issue --bulk: 120 lines, exit 0" "0" "$rc"
check_eq "one 'issued' line per user" "120" "$(grep -c '^line [0-9]*: issued ' <<< "$out")"
check_out "and the summary says so" "120 issued, 0 refused" echo "$out"
check "the CA certificate was written" openssl x509 -in "$PKI/b/ca.crt" -noout
recorded=0 named=0
for i in $(seq -w 1 120); do
	tp=$(pem_sha256 "$PKI/b/$i.crt")
	got=$(SRV=1 root_search -b "uid=u$i,$PEOPLE" -s base certpinThumbprint certpinCertInfo)
	grep -qi "^certpinThumbprint: $tp\$" <<< "$got" && recorded=$((recorded + 1))
	[ "$(openssl x509 -in "$PKI/b/$i.crt" -noout -subject -nameopt RFC2253)" = "subject=CN=u$i" ] &&
		named=$((named + 1))
done
check_eq "each certificate is recorded on its user's entry" 120 "$recorded"
check_eq "each names its user (CN from uid), not the CSR" 120 "$named"
check_eq "every user has exactly one metadata record" 120 \
	"$(SRV=1 root_search -b "$PEOPLE" '(uid=u*)' certpinCertInfo | grep -c '^certpinCertInfo:')"
for i in 001 017 050 051 099 120; do
	cp "$PKI/b/$i.crt" "$PKI/bu$i.crt"; cp "$PKI/b/$i.key" "$PKI/bu$i.key"
	check_eq "a bulk-issued certificate logs on as its user (u$i, TLS SASL EXTERNAL)" \
		"dn:uid=u$i,$PEOPLE" "$(device_whoami 1 "bu$i" | grep "^dn:")"
done
check_out "slapd logged each issuance" 'issued certificate serial=.*bulk item' \
	cat "$TESTDIR/srv1/slapd.log"

# ---- (b) not an administrator -------------------------------------------------------
echo "$PKI/b/121.csr|uid=u121,$PEOPLE" > "$TESTDIR/one.lst"
before=$(dir_dump 1)
check_rc_out 50 "a user's bulk request is refused" "only administrators" \
	bulk -H "$LDAPI" -D "uid=pilar,$PEOPLE" -w pw-pilar -l "$TESTDIR/one.lst"
check_rc_out 50 "so is an anonymous one" "only administrators" \
	bulk -H "$LDAPI" -l "$TESTDIR/one.lst"
check_eq "and nothing changed" "$before" "$(dir_dump 1)"

# ---- (c) bad items refused with their reasons, the others issued ---------------------
# counter CN: a cn=monitor counter of the overlay
counter() {
	ldapsearch -LLL -o ldif-wrap=no -x "${ADMIN[@]}" -H "$LDAPI" -b "cn=$1,$MON" -s base \
		monitorCounter | sed -n 's/^monitorCounter: //p'
}
adm0=$(counter issued-admin) ref0=$(counter issue-refused)
csr weak rsa:1024
cat > "$TESTDIR/bad.lst" <<EOF
$PKI/b/121.csr|uid=u121,$PEOPLE
-|uid=u122,$PEOPLE
$PKI/weak.csr.der|uid=u123,$PEOPLE
$PKI/b/124.csr|uid=nobody,$PEOPLE
$PKI/b/125.csr|uid=u125,$PEOPLE|p=+15550100,P=1234
$PKI/b/126.csr|
$PKI/b/127.csr|uid=u127,$PEOPLE|V=1
$PKI/b/128.csr|not a dn
$PKI/b/129.csr|uid=u129,$PEOPLE
EOF
out=$(bulk -H "$LDAPI" "${ADMIN[@]}" -l "$TESTDIR/bad.lst" 2>&1) && rc=0 || rc=$?
check_eq "a request with bad items succeeds as a whole" 0 "$rc"
check_out "item 1 (good) issued" "^item 1 issued " echo "$out"
check_out "item 2: not a CSR" "^item 2 refused 53 .*not a DER PKCS#10" echo "$out"
check_out "item 3: RSA-1024 refused" "^item 3 refused 53 .*weak or unsupported key" echo "$out"
check_out "item 4: no such user" "^item 4 refused 32 .*no such user" echo "$out"
check_out "item 5: no PIN in a bulk request" "^item 5 refused 53 .*phone and PIN are not accepted" echo "$out"
check_out "item 6: no user named" "^item 6 refused 53 .*names its user" echo "$out"
check_out "item 7: validity outside the policy" "^item 7 refused 53 .*outside the policy" echo "$out"
check_out "item 8: identity not a DN" "^item 8 refused 34 .*not a DN" echo "$out"
check_out "item 9 (good) issued" "^item 9 issued " echo "$out"
check_eq "cn=monitor: issued-admin counts the 2 issued items" 2 $(( $(counter issued-admin) - adm0 ))
check_eq "cn=monitor: issue-refused counts the 7 refused items" 7 $(( $(counter issue-refused) - ref0 ))
check_out "slapd logged each refused item with its reason" \
	"certpinIssueBulk item 3 refused: 53 certpinIssue: weak or unsupported key" cat "$TESTDIR/srv1/slapd.log"
check_eq "the refused items' users got nothing" "" \
	"$(SRV=1 root_search -b "$PEOPLE" '(|(uid=u122)(uid=u123)(uid=u125)(uid=u127))' certpinThumbprint | grep '^certpinThumbprint')"
for k in 1 9; do
	tp=$(sed -n "s/^item $k issued //p" <<< "$out")
	u=$([ "$k" = 1 ] && echo u121 || echo u129)
	check_out "item $k's certificate is on file for $u" "^certpinThumbprint: $tp" \
		root_search -b "uid=$u,$PEOPLE" -s base certpinThumbprint
done

# ---- (d) one certificate, one user ----------------------------------------------------
cat > "$TESTDIR/dup.lst" <<EOF
$PKI/b/130.csr|uid=u130,$PEOPLE
$PKI/b/130.csr|uid=u131,$PEOPLE
$PKI/b/132.csr|uid=u132,$PEOPLE
$PKI/b/132.csr|uid=u132,$PEOPLE
EOF
out=$(bulk -H "$LDAPI" "${ADMIN[@]}" -l "$TESTDIR/dup.lst" 2>&1)
check_out "the first of two items with one key is issued" "^item 1 issued " echo "$out"
check_out "the second, for another user, refused" "^item 2 refused 19 .*key of item 1" echo "$out"
check_out "a key once per request for one user too" "^item 4 refused 19 .*key of item 3" echo "$out"
check_eq "u131 got nothing" "" \
	"$(SRV=1 root_search -b "uid=u131,$PEOPLE" -s base certpinThumbprint | grep '^certpinThumbprint')"
check_eq "u132 holds one certificate" 1 \
	"$(SRV=1 root_search -b "uid=u132,$PEOPLE" -s base certpinThumbprint | grep -c '^certpinThumbprint')"
# certpin-max-certificates (default 20) across the items of one request
: > "$TESTDIR/many.lst"
for i in $(seq -w 1 22); do echo "$PKI/b/0$i.csr|uid=jdoe,$PEOPLE" >> "$TESTDIR/many.lst"; done
out=$(bulk -H "$LDAPI" "${ADMIN[@]}" -l "$TESTDIR/many.lst" 2>&1)
check_eq "22 items for one user: 20 issued" 20 "$(grep -c ' issued ' <<< "$out")"
check_out "the others refused by the limit" "^item 21 refused 19 .*as many certificates as it may" echo "$out"
check_eq "jdoe holds 20 certificates, one modify for all" 20 \
	"$(SRV=1 root_search -b "uid=jdoe,$PEOPLE" -s base certpinThumbprint | grep -c '^certpinThumbprint')"

# ---- (e) oversized requests -------------------------------------------------------------
before=$(dir_dump 1)
check_rc_out 11 "1,001 items: refused (adminLimitExceeded)" "more than 1000 items" \
	bulk -H "$LDAPI" "${ADMIN[@]}" -l "$TESTDIR/one.lst" -n 1001
check_rc_out 11 "more than 2 MiB: refused" "more than 2097152 bytes" \
	bulk -H "$LDAPI" "${ADMIN[@]}" -x 2200000
check_eq "nothing issued" "$before" "$(dir_dump 1)"
check "slapd is alive" srv_alive 1
check_rc_out 0 "and issues again" "^item 1 issued " \
	bulk -H "$LDAPI" "${ADMIN[@]}" -l "$TESTDIR/one.lst" -n 1

# ---- (f) a revocation racing the bulk issuance -----------------------------------------
: > "$TESTDIR/race.lst"
for i in $(seq 140 199); do
	k=$(printf '%03d' $((i - 139)))
	echo "$PKI/b/$k.csr|uid=u$i,$PEOPLE" >> "$TESTDIR/race.lst"
done
( while [ ! -e "$TESTDIR/race.done" ]; do
	for i in $(seq 140 2 198); do
		printf 'dn: uid=u%s,%s\nchangetype: modify\ndelete: certpinCertificate;binary\n\n' "$i" "$PEOPLE"
	done | ldapmodify -c -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" >/dev/null 2>&1
  done ) &
racer=$!
mkdir -p "$TESTDIR/race"
sleep 0.2
out=$(bulk -H "$LDAPI" "${ADMIN[@]}" -l "$TESTDIR/race.lst" -o "$TESTDIR/race" 2>&1) && rc=0 || rc=$?
touch "$TESTDIR/race.done"
wait "$racer"
check_eq "the bulk request ran beside the revocations" 0 "$rc"
onfile=0 gone=0 bad=0 sampled=0
for k in $(seq 1 60); do
	u=u$((139 + k))
	line=$(grep "^item $k " <<< "$out")
	case $line in
	*" issued "*) ;;
	*) continue ;;
	esac
	tp=${line##* }
	if SRV=1 root_search -b "uid=$u,$PEOPLE" -s base certpinThumbprint | grep -qi "^certpinThumbprint: $tp"; then
		onfile=$((onfile + 1)); want="dn:uid=$u,$PEOPLE"
	else
		gone=$((gone + 1)); want=refused
	fi
	if [ $((k % 3)) -eq 0 ]; then
		sampled=$((sampled + 1))
		cp "$TESTDIR/race/$k.crt" "$PKI/race$k.crt"
		cp "$PKI/b/$(printf '%03d' "$k").key" "$PKI/race$k.key"
		got=$(device_whoami 1 "race$k" | grep "^dn:")
		[ "$got" = "${want#refused}" ] || bad=$((bad + 1))
	fi
done
check_eq "every certificate issued is accounted for ($onfile on file, $gone revoked)" 60 $((onfile + gone))
check "the users nobody revoked hold theirs" test "$onfile" -ge 30
check_eq "on file logs on, revoked is refused ($sampled sampled)" 0 "$bad"
stray=0
for i in $(seq 140 199); do
	for tp in $(SRV=1 root_search -b "uid=u$i,$PEOPLE" -s base certpinThumbprint | sed -n 's/^certpinThumbprint: //p'); do
		grep -qi " issued $tp\$" <<< "$out" || stray=$((stray + 1))
	done
done
check_eq "nothing on file that the run was not told about" 0 "$stray"
check "slapd is alive after the race" srv_alive 1

# ---- (g) an administrator's certificate revoked before its bulk request -------------
# certadmin logs on with a certificate, then (its session open) the root DN
# revokes that certificate; the request sent after the revocation's result
# issues nothing.
pki_cert ca certadmin certadmin client
root_modify >/dev/null <<LDIF || die "cannot record certadmin's certificate"
dn: uid=certadmin,$PEOPLE
changetype: modify
add: objectClass
objectClass: certpinUser
-
add: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/certadmin.der
LDIF
echo "$PKI/b/141.csr|uid=u200,$PEOPLE" > "$TESTDIR/g.lst"
before=$(root_search -b "uid=u200,$PEOPLE" -s base certpinThumbprint)
bulk -H "$(srv_uri 1 ldaps)" -C "$PKI/certadmin.crt" -K "$PKI/certadmin.key" -A "$PKI/ca.crt" \
	-W "$TESTDIR/g.go" -l "$TESTDIR/g.lst" > "$TESTDIR/g.out" 2>&1 &
gpid=$!
for i in $(seq 1 100); do grep -q "^bound as" "$TESTDIR/g.out" && break; sleep 0.1; done
check_out "certadmin's certificate session is open" "bound as dn:uid=certadmin" cat "$TESTDIR/g.out"
check "the root DN revokes certadmin's certificate" root_modify <<LDIF
dn: uid=certadmin,$PEOPLE
changetype: modify
delete: certpinCertificate;binary
LDIF
touch "$TESTDIR/g.go"
wait "$gpid" && grc=0 || grc=$?
check_eq "the request after the revocation is refused (insufficientAccess)" 50 "$grc"
check_eq "and issues nothing" "$before" "$(root_search -b "uid=u200,$PEOPLE" -s base certpinThumbprint)"
check "slapd is alive" srv_alive 1

srv_stop 1
done_testing
