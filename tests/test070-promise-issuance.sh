#!/bin/bash
# test070-promise-issuance: attacks on what certpinIssue promises.
#
# (a) "A CA-signed certificate names only what administrators decided"
#     (issue 12 item 9): the certificate's CN and sip: URI come from the
#     user's entry (uid, mail); when the user (or a requester who is not an
#     administrator) may change them, by an ACL such as "by self write" or
#     by renaming the entry, nothing is issued, whoever asks.  Under ACLs
#     that leave them to administrators, issuance works.
# (b) "A revocation takes effect at once" for issuance (issue 12 item 3): a
#     device bound with its certificate pipelines many certpinIssue
#     requests for itself while an administrator revokes that certificate:
#     no certificate is recorded after the revocation's result, each
#     request either issued before it or says why it did not, and a session
#     whose certificate is gone gets nothing.
# (c) "An inconsistent validity policy is refused at configuration time"
#     (issue 13): slapd.conf (slaptest) and cn=config, where a change of one
#     of min, default, max is checked against the other two, whatever the
#     order of the modifications, and a refused change leaves the policy
#     as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
for r in 1 2 3; do pki_cert ca "kenr$r" kenmyer client; done
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
JDOE="uid=jdoe,$PEOPLE"
csr dev

# ---- (a) names the user may change ---------------------------------------------
# Server 1: the suite's standard ACLs ("access to * by self write"): every
# user may change her own uid and mail.
srv_conf 1 "certpin-ca-cert $PKI/ca.crt
certpin-ca-key $PKI/ca.key"
srv_start 1
prov_base 1
LDAP1=$(srv_uri 1 ldap)
set_phone_pin "$KEN" "+1 (425) 555-0100" 461937 || die "cannot set ken's phone and PIN"
before=$(dir_dump 1)
check_rc_out 53 "self-writable uid: pilar gets no certificate for herself" \
	"the user may change uid, which names the certificate: refused" \
	issue -H "$LDAP1" -D "$PILAR" -w pw-pilar -r "$PKI/dev.csr.der" -V 24
check_rc_out 53 "nor does the root DN get one issued for her" "the user may change uid" \
	issue -H "$LDAP1" -D "$ROOTDN" -w "$ROOTPW" -r "$PKI/dev.csr.der" -i "$PILAR"
check_rc_out 53 "nor a device with ken's phone and PIN" "the user may change uid" \
	issue -H "$LDAP1" -Z -r "$PKI/dev.csr.der" -p "+1 (425) 555-0100" -P 461937
check_eq "the refusals leave the directory unchanged" "$before" "$(dir_dump 1)"
# The attack itself: pilar names herself as ken for outside relying parties.
check "pilar may put ken's address in her own mail (the ACL allows it)" \
	ldapmodify -x -H "$LDAP1" -D "$PILAR" -w pw-pilar <<LDIF
dn: $PILAR
changetype: modify
replace: mail
mail: kenmyer@example.com
LDIF
check_rc_out 53 "and then gets no certificate naming sip:kenmyer@example.com" \
	"may change uid|may change mail" \
	issue -H "$LDAP1" -D "$PILAR" -w pw-pilar -r "$PKI/dev.csr.der" -o "$PKI/pilar-as-ken.crt"
check "no such certificate exists" test ! -s "$PKI/pilar-as-ken.crt"
check_eq "nothing is on file for pilar" "" \
	"$(SRV=1 root_search -b "$PILAR" -s base certpinThumbprint | sed -n 's/^certpinThumbprint: //p')"
srv_stop 1

# Server 2: uid is left to administrators, mail is still self-writable.
SRV_ACL="access to attrs=uid by group.exact=\"$ADMINS\" write by users read by * none" \
	srv_conf 2 "certpin-ca-cert $PKI/ca.crt
certpin-ca-key $PKI/ca.key
certpin-admin-group \"$ADMINS\""
srv_start 2
prov_base 2
LDAP2=$(srv_uri 2 ldap)
check_rc_out 53 "self-writable mail (the sip: attribute) alone is enough to refuse" \
	"the user may change mail, which names the certificate" \
	issue -H "$LDAP2" -D "$PILAR" -w pw-pilar -r "$PKI/dev.csr.der"
check_rc_out 53 "also for a member of certpin-admin-group asking for her" "the user may change mail" \
	issue -H "$LDAP2" -D "uid=certadmin,$PEOPLE" -w pw-certadmin -r "$PKI/dev.csr.der" -i "$PILAR"
srv_stop 2

# Server 3: uid and mail are left to administrators, but users may rename
# entries under ou=people (write on its children): the RDN is uid=...
SRV_ACL="access to dn.exact=\"$PEOPLE\" attrs=children by users write by * break" prov_conf 3
srv_start 3
prov_base 3
LDAP3=$(srv_uri 3 ldap)
check_rc_out 53 "a user who may rename her entry (uid in the RDN) gets nothing" \
	"the user may change uid, which names the certificate" \
	issue -H "$LDAP3" -D "$JDOE" -w pw-jdoe -r "$PKI/dev.csr.der"
# (slapd adds the new RDN value without checking the attribute's ACL)
check "and she may indeed rename it, keeping the old value (the ACLs allow it)" \
	ldapmodrdn -x -H "$LDAP3" -D "$JDOE" -w pw-jdoe "$JDOE" uid=jdoe2
check_eq "which adds a uid value no administrator chose" "jdoe jdoe2" \
	"$(SRV=3 root_search -b "uid=jdoe2,$PEOPLE" -s base uid | sed -n 's/^uid: //p' | sort | tr '\n' ' ' | sed 's/ $//')"
srv_stop 3

# ---- (b) issuance racing the revocation of the requester's certificate --------
# Server 4: names left to administrators (prov_conf), room for many
# certificates on one entry.
prov_conf 4 "certpin-max-certificates 1000"
srv_start 4
prov_base 4
export SRV=4
LDAP4=$(srv_uri 4 ldap)
LDAPS4=$(srv_uri 4 ldaps)
check_rc_out 0 "under administrator-only names, pilar gets her certificate (baseline)" "^issued" \
	issue -H "$LDAP4" -D "$PILAR" -w pw-pilar -r "$PKI/dev.csr.der" -V 24 -o "$PKI/pilar-ok.crt"
check_eq "named from her uid" "subject=CN=pilar" "$(openssl x509 -in "$PKI/pilar-ok.crt" -noout -subject -nameopt RFC2253)"
# LDAP's BER allows long-form lengths (liblber writes 4 octets by default)
lber=$("$PY" -c 'import sys
c = open(sys.argv[1], "rb").read()
t = lambda tag, b: bytes([tag, 0x84]) + len(b).to_bytes(4, "big") + b
print(t(0x30, t(4, c) + t(0x83, bytes([24]))).hex())' "$PKI/dev.csr.der")
check_rc_out 0 "a request with 4-octet lengths (liblber's default form) is accepted" "^issued" \
	issue -H "$LDAP4" -D "$PILAR" -w pw-pilar -x "$lber"

cat > "$TESTDIR/race.py" <<'PY'
# One device session (SASL EXTERNAL with CERT) pipelines N certpinIssue
# requests for itself; once K answers are in, another connection (the root
# DN) deletes CERT from the entry; its result is followed at once by a
# snapshot of the entry's thumbprints.  Prints counts, and any thumbprint
# recorded after the revocation's result ("late").
import sys, hashlib, ldap, ldap.sasl, ldap.extop
(oid, ldaps, ldapi, ca, crt, key, der_file, csr_file, ken, rootdn, rootpw,
 n, k) = sys.argv[1:]
n, k = int(n), int(k)
def tlv(tag, body):
    m = len(body)
    if m < 0x80:
        l = bytes([m])
    else:
        b = m.to_bytes((m.bit_length() + 7) // 8, "big")
        l = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + l + body
def parse(b):
    tag, m, i = b[0], b[1], 2
    if m & 0x80:
        j = m & 0x7f
        m = int.from_bytes(b[2:2 + j], "big")
        i = 2 + j
    return tag, b[i:i + m], b[i + m:]
req = tlv(0x30, tlv(0x04, open(csr_file, "rb").read()) + tlv(0x83, bytes([24])))
der = open(der_file, "rb").read()
def thumbs(l):
    r = l.search_s(ken, ldap.SCOPE_BASE, "(objectClass=*)", ["certpinThumbprint"])
    return set(v.decode() for v in r[0][1].get("certpinThumbprint", []))

d = ldap.initialize(ldaps)
d.set_option(ldap.OPT_X_TLS_CACERTFILE, ca)
d.set_option(ldap.OPT_X_TLS_CERTFILE, crt)
d.set_option(ldap.OPT_X_TLS_KEYFILE, key)
d.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
d.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
d.sasl_interactive_bind_s("", ldap.sasl.external())
print("bound=" + d.whoami_s())
a = ldap.initialize(ldapi)
a.simple_bind_s(rootdn, rootpw)

msgids = [d.extop(ldap.extop.ExtendedRequest(oid, req)) for _ in range(n)]
issued, refused, reasons = [], 0, {}
def collect(mid):
    global refused
    try:
        _, _, _, _, roid, rval = d.result4(mid, all=1, timeout=60, add_extop=1)
        _, body, _ = parse(rval)
        _, cert, _ = parse(body)
        issued.append(hashlib.sha256(cert).hexdigest())
    except ldap.LDAPError as e:
        info = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
        refused += 1
        why = "%s %s" % (info.get("result"), info.get("info", ""))
        reasons[why] = reasons.get(why, 0) + 1
for mid in msgids[:k]:
    collect(mid)
a.modify_s(ken, [(ldap.MOD_DELETE, "certpinCertificate;binary", [der])])
at_revoke = thumbs(a)
for mid in msgids[k:]:
    collect(mid)
final = thumbs(a)
own = hashlib.sha256(der).hexdigest()
late = sorted(final - at_revoke)
print("issued=%d" % len(issued))
print("refused=%d" % refused)
print("late=%d" % len(late))
print("own_on_file=%d" % (own in final))
print("unrecorded=%d" % len(set(issued) - final - (at_revoke - final)))
for why, c in sorted(reasons.items()):
    print("reason %d: %s" % (c, why))
for t in late:
    print("late_thumbprint " + t)
# the same session, now: nothing more
try:
    d.extop_s(ldap.extop.ExtendedRequest(oid, req))
    print("after=issued")
except ldap.LDAPError as e:
    info = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
    print("after=%s %s" % (info.get("result"), info.get("info", "")))
PY

N=${CERTPIN_RACE_N:-60}
for r in 1 2 3; do
	check "round $r: ken's device certificate kenr$r is on file" record_cert kenmyer "$PKI/kenr$r.der"
	out=$("$PY" "$TESTDIR/race.py" "$ISSUE_OID" "$LDAPS4" "$(srv_uri 4 ldapi)" "$PKI/ca.crt" \
		"$PKI/kenr$r.crt" "$PKI/kenr$r.key" "$PKI/kenr$r.der" "$PKI/dev.csr.der" "$KEN" \
		"$ROOTDN" "$ROOTPW" "$N" $((r * 2)) 2>&1)
	printf '%s\n' "$out" | sed 's/^/#   /'
	check_out "round $r: the device session is bound as ken" "^bound=dn:$KEN\$" printf '%s\n' "$out"
	check_eq "round $r: every one of the $N requests was answered" "$N" \
		$(( $(printf '%s\n' "$out" | sed -n 's/^issued=//p') + $(printf '%s\n' "$out" | sed -n 's/^refused=//p') ))
	check_eq "round $r: no certificate was recorded after the revocation's result" 0 \
		"$(printf '%s\n' "$out" | sed -n 's/^late=//p')"
	check_eq "round $r: the revoked certificate is off file" 0 \
		"$(printf '%s\n' "$out" | sed -n 's/^own_on_file=//p')"
	check_eq "round $r: every certificate issued is recorded" 0 \
		"$(printf '%s\n' "$out" | sed -n 's/^unrecorded=//p')"
	check_out "round $r: the session gets nothing once its certificate is gone" \
		"^after=(50|53) " printf '%s\n' "$out"
	bad=$(printf '%s\n' "$out" | sed -n 's/^reason [0-9]*: //p' |
		grep -Ev "^(50 certpinIssue: the certificate this session is bound with is no longer on file|50 certpinIssue: bind first.*)\$" || true)
	check_eq "round $r: each refusal says the certificate is gone (or the session is anonymous)" "" "$bad"
done
logon_refused "a revoked device certificate no longer logs on" 4 kenr1
echo "# issuances stopped inside the record write by the assertion:" \
	"$(srv_log_count 4 'revoked while the request ran: nothing issued')"
check "slapd 4 is alive after the races" srv_alive 4
unset SRV

# ---- (c) the validity policy -------------------------------------------------
conf5() {	# extra frontend lines
	mkdir -p "$TESTDIR/cf"
	# after the first "overlay certpin" (the frontend's)
	sed -e "0,/^overlay certpin\$/s//&\n$1/" "$TESTDIR/srv4/slapd.conf" > "$TESTDIR/cf/slapd.conf"
	"$SLAPTEST" -f "$TESTDIR/cf/slapd.conf" 2>&1
}
check_rc_out 1 "slapd.conf: certpin-validity-max 2 (min 8) is refused" \
	"inconsistent validity policy: need certpin-validity-min \\(8\\) <= certpin-validity \\(4320\\) <= certpin-validity-max \\(2\\)" \
	conf5 'certpin-validity-max 2'
check_rc_out 1 "slapd.conf: a default above the maximum is refused" "inconsistent validity policy" \
	conf5 'certpin-validity 100\ncertpin-validity-max 50'
check_rc_out 1 "slapd.conf: a minimum above the default is refused" "inconsistent validity policy" \
	conf5 'certpin-validity-min 5000'
check_rc_out 0 "slapd.conf: the order of the three directives does not matter" "" \
	conf5 'certpin-validity-max 20\ncertpin-validity 10\ncertpin-validity-min 9'

srv_stop 4
srv_start 4 config
export SRV=4
ov="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
pol() { ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H "$(srv_uri 4 ldapi)" -b "$ov" -s base \
	olcCertpinValidity olcCertpinValidityMin olcCertpinValidityMax | grep -v '^dn:' | sort | tr '\n' ' '; }
policy=$(pol)
check_rc_out 19 "cn=config: olcCertpinValidityMax 2 (min 8) is refused" \
	"inconsistent validity policy: need certpin-validity-min \\(8\\) <= certpin-validity \\(4320\\) <= certpin-validity-max \\(2\\)" \
	cfg_set "$ov" olcCertpinValidityMax 2
check_eq "and the policy is as it was" "$policy" "$(pol)"
check_rc_out 19 "cn=config: olcCertpinValidityMin 5000 (default 4320) is refused" "inconsistent validity policy" \
	cfg_set "$ov" olcCertpinValidityMin 5000
check_rc_out 19 "cn=config: olcCertpinValidity 9000 (max 8760) is refused" "inconsistent validity policy" \
	cfg_set "$ov" olcCertpinValidity 9000
check_eq "the policy is still as it was" "$policy" "$(pol)"
check_rc_out 0 "the policy still applies: 8760 hours issued" "^issued" \
	issue -H "$LDAP4" -D "$PILAR" -w pw-pilar -r "$PKI/dev.csr.der" -V 8760 -o "$PKI/p8760.crt"
check_eq "for 8760 hours" 8760 "$(cert_hours "$PKI/p8760.crt")"
check "cn=config: max, default and min changed in one request, max first" \
	ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 4 ldapi)" <<LDIF
dn: $ov
changetype: modify
replace: olcCertpinValidityMax
olcCertpinValidityMax: 48
-
replace: olcCertpinValidity
olcCertpinValidity: 24
-
replace: olcCertpinValidityMin
olcCertpinValidityMin: 12
LDIF
check_rc_out 53 "the new policy applies (49 hours refused)" "outside the policy \\(12 to 48 hours\\)" \
	issue -H "$LDAP4" -D "$PILAR" -w pw-pilar -r "$PKI/dev.csr.der" -V 49
check_rc_out 19 "cn=config: a minimum of 100 above the default 24 is refused" "inconsistent validity policy" \
	cfg_set "$ov" olcCertpinValidityMin 100
check_rc_out 19 "cn=config: a request inconsistent as a whole (min 30, default 100, max 48) is refused" \
	"inconsistent validity policy" \
	ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 4 ldapi)" <<LDIF
dn: $ov
changetype: modify
replace: olcCertpinValidityMin
olcCertpinValidityMin: 30
-
replace: olcCertpinValidity
olcCertpinValidity: 100
LDIF
check_out "and changes nothing (still 12, 24, 48)" "olcCertpinValidity: 24 olcCertpinValidityMax: 48 olcCertpinValidityMin: 12" pol
check "cn=config: deleting olcCertpinValidityMax (default 8760) is consistent" \
	ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 4 ldapi)" <<LDIF
dn: $ov
changetype: modify
delete: olcCertpinValidityMax
LDIF
check_rc_out 0 "and 49 hours is issued again" "^issued" \
	issue -H "$LDAP4" -D "$PILAR" -w pw-pilar -r "$PKI/dev.csr.der" -V 49
check "slapd 4 is alive after everything" srv_alive 4
done_testing
