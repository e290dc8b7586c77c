#!/bin/bash
# test001-records: the module loads into Debian's slapd, its schema agrees
# with the shipped files, and certificates written to user entries get their
# metadata in the same operation; every refusal leaves the entry unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-revoked.sh"

pki_standard
srv_conf 1
srv_start 1
ok "slapd with certpin on the frontend started (slapd.conf)"
srv_base 1
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"

# ---- schema: built-in definitions equal the shipped files ------------------
schema_of() {	# URI [bind args]: our definitions as the server publishes them
	local uri=$1
	shift
	ldapsearch -LLL -o ldif-wrap=no "$@" -H "$uri" -b cn=Subschema -s base \
		attributeTypes objectClasses |
		grep -i "NAME 'certpin" | sed 's/^[a-zA-Z]*: //' | sort
}
builtin=$(schema_of "$(srv_uri 1 ldapi)" -x)
check_eq "the module registers 12 attribute types and 2 classes" 14 "$(printf '%s\n' "$builtin" | grep -c .)"

mkdir -p "$TESTDIR/srv2/db"
sed -e "/moduleload .*certpin/d" -e "/^overlay certpin/d" \
    -e "s|^include /etc/ldap/schema/inetorgperson.schema|&\ninclude $SRCDIR/schema/certpin.schema|" \
    -e "s|$TESTDIR/srv1|$TESTDIR/srv2|g" -e "/^index certpin/d" \
    "$TESTDIR/srv1/slapd.conf" > "$TESTDIR/srv2/slapd.conf"
for k in ldap ldaps; do echo "ldap://127.0.0.1:$(free_port)/" > "$TESTDIR/srv2/uri.$k"; done
echo "ldapi://$(printf '%s' "$TESTDIR/srv2/ldapi" | sed 's|/|%2F|g')/" > "$TESTDIR/srv2/uri.ldapi"
sed -i "s|^ldap://\(.*\)|ldaps://\1|" "$TESTDIR/srv2/uri.ldaps"
srv_start 2
check_eq "certpin.schema defines exactly what the module registers" \
	"$builtin" "$(schema_of "$(srv_uri 2 ldapi)" -x)"

# srv3: no module, no certpin schema, cn=config; load certpin.ldif over ldapi
mkdir -p "$TESTDIR/srv3/db"
sed -e "/certpin.schema/d" -e "s|$TESTDIR/srv2|$TESTDIR/srv3|g" \
    "$TESTDIR/srv2/slapd.conf" > "$TESTDIR/srv3/slapd.conf"
for k in ldap ldaps; do echo "ldap://127.0.0.1:$(free_port)/" > "$TESTDIR/srv3/uri.$k"; done
echo "ldapi://$(printf '%s' "$TESTDIR/srv3/ldapi" | sed 's|/|%2F|g')/" > "$TESTDIR/srv3/uri.ldapi"
sed -i "s|^ldap://\(.*\)|ldaps://\1|" "$TESTDIR/srv3/uri.ldaps"
srv_start 3 config
check "certpin.ldif loads into cn=config with ldapadd -Y EXTERNAL" \
	ldapadd -Q -Y EXTERNAL -H "$(srv_uri 3 ldapi)" -f "$SRCDIR/schema/certpin.ldif"
check_eq "certpin.ldif defines exactly what the module registers" \
	"$builtin" "$(schema_of "$(srv_uri 3 ldapi)" -x)"
srv_stop 2
srv_stop 3

# ---- recording a certificate -------------------------------------------------
check "ldapmodify adds a certificate to a user" record_cert kenmyer "$PKI/kenmyer.der"
rec=$(root_search -b "$KEN" -s base certpinCertInfo | sed -n 's/^certpinCertInfo: //p')
tp=$(root_search -b "$KEN" -s base certpinThumbprint | sed -n 's/^certpinThumbprint: //p')
field() { printf '%s' "$rec" | tr '$' '\n' | sed -n "s/^$1=//p" | sed 's/\\24/$/g; s/\\5c/\\/g'; }
check_eq "certpinThumbprint is openssl's SHA-256 of the certificate" "$(der_sha256 "$PKI/kenmyer.der")" "$tp"
check_eq "record: sha256" "$tp" "$(field sha256)"
check_eq "record: sha1 as openssl prints it" \
	"$(openssl x509 -inform DER -in "$PKI/kenmyer.der" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')" \
	"$(field sha1)"
check_eq "record: serial as openssl prints it" \
	"$(openssl x509 -inform DER -in "$PKI/kenmyer.der" -noout -serial | sed 's/.*=//')" "$(field serial)"
check_eq "record: issuer (RFC 4514)" \
	"$(openssl x509 -inform DER -in "$PKI/kenmyer.der" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')" \
	"$(field issuer)"
check_eq "record: subject (RFC 4514)" \
	"$(openssl x509 -inform DER -in "$PKI/kenmyer.der" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')" \
	"$(field subject)"
gt() { date -u -d "$(openssl x509 -inform DER -in "$PKI/kenmyer.der" -noout "-$1" | sed 's/^[a-zA-Z]*=//')" +%Y%m%d%H%M%SZ; }
check_eq "record: expires = notAfter" "$(gt enddate)" "$(field expires)"
check_eq "record: notbefore = notBefore" "$(gt startdate)" "$(field notbefore)"
pub=$(date -u -d "$(field published | sed -E 's/(....)(..)(..)(..)(..)(..)Z/\1-\2-\3 \4:\5:\6Z/')" +%s)
now=$(date -u +%s)
check "record: published is the time of the write" test $((now - pub)) -le 60 -a $((now - pub)) -ge 0
check_eq "record: endpoint empty for a plain ldapmodify" "" "$(field endpoint)"

# ---- refusals: each leaves the entry exactly as it was ------------------------
refused() {	# DESC REGEX LDIF-on-stdin: ldapmodify fails, message matches, entry unchanged
	local desc=$1 re=$2 before after out rc
	before=$(snapshot "$KEN")
	out=$(root_modify 2>&1) && rc=0 || rc=$?
	after=$(snapshot "$KEN")
	if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -Eq -- "$re" && [ "$before" = "$after" ]; then
		ok "refused and unchanged: $desc"
	else
		notok "refused and unchanged: $desc (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/#   /'
		[ "$before" = "$after" ] || echo "#   the entry changed"
	fi
}
head -c 700 /dev/urandom > "$TESTDIR/garbage"; printf '\x30' | cat - "$TESTDIR/garbage" > "$TESTDIR/garbage30"
head -c 200 "$PKI/kenmyer2.der" > "$TESTDIR/truncated"
cat "$PKI/kenmyer2.der" > "$TESTDIR/trailing"; printf '\x00\x00' >> "$TESTDIR/trailing"
mod_add() { printf 'dn: %s\nchangetype: modify\nadd: %s\n%s:< file://%s\n' "$KEN" "$1" "$1" "$2"; }
mod_add certpinCertificate\;binary "$TESTDIR/garbage" | refused "random bytes" "(Invalid syntax|not a well-formed|not DER)"
mod_add certpinCertificate\;binary "$TESTDIR/garbage30" | refused "random bytes after a SEQUENCE tag" "(Invalid syntax|not a well-formed)"
mod_add certpinCertificate\;binary "$PKI/kenmyer2.crt" | refused "PEM text" "(Invalid syntax|PEM|not DER)"
mod_add certpinCertificate\;binary "$TESTDIR/truncated" | refused "truncated DER" "(Invalid syntax|not a well-formed)"
mod_add certpinCertificate\;binary "$TESTDIR/trailing" | refused "trailing bytes" "(Invalid syntax|trailing)"
printf 'dn: %s\nchangetype: modify\nadd: certpinThumbprint\ncertpinThumbprint: %s\n' "$KEN" \
	"$(der_sha256 "$PKI/kenmyer2.der")" | refused "direct write of certpinThumbprint" "maintained by the certpin overlay"
printf 'dn: %s\nchangetype: modify\nreplace: certpinCertInfo\ncertpinCertInfo: sha256=00\n' "$KEN" |
	refused "direct write of certpinCertInfo" "maintained by the certpin overlay"
printf 'dn: %s\nchangetype: modify\nreplace: certpinRevoked\ncertpinRevoked: x\n' "$KEN" |
	refused "direct write of certpinRevoked" "maintained by the certpin overlay"
printf 'dn: %s\nchangetype: modify\nadd: certpinRevoked\ncertpinRevoked: sha256=%s$reason=x\n' "$KEN" \
	"$(der_sha256 "$PKI/pilar.der")" | refused "a reason for a certificate not being deleted" "may only give the reason"
printf 'dn: %s\nchangetype: modify\nadd: objectClass\nobjectClass: certpinHistory\n-\nadd: certpinRevokedThumbprint\ncertpinRevokedThumbprint: %s\n' \
	"$KEN" "$(der_sha256 "$PKI/pilar.der")" | refused "direct write of certpinRevokedThumbprint" "maintained by the certpin overlay"
printf 'dn: %s\nchangetype: modify\ndelete: certpinRevokedThumbprint\n' "$KEN" |
	refused "direct delete of certpinRevokedThumbprint" "maintained by the certpin overlay"
printf 'dn: %s\nchangetype: modify\ndelete: certpinRevokedThumbprint\n' "$KEN" > "$TESTDIR/rtp.ldif"
check_rc_out 19 "nor with the Relax Rules control" "maintained by the certpin overlay" root_modify -e relax -f "$TESTDIR/rtp.ldif"
check_rc_out 19 "an add of an entry with certpinRevokedThumbprint is refused" "maintained by the certpin overlay" root_add <<LDIF
dn: uid=forged,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinHistory
uid: forged
cn: forged
sn: forged
certpinRevokedThumbprint: $(der_sha256 "$PKI/pilar.der")
LDIF
check_rc 32 "and nothing was added" root_search -b "uid=forged,$PEOPLE" -s base dn
printf 'dn: %s\nchangetype: modify\nadd: certpinCertificate;binary\ncertpinCertificate;binary:< file://%s\n-\nreplace: certpinThumbprint\ncertpinThumbprint: %s\n' \
	"$KEN" "$PKI/kenmyer2.der" "$(der_sha256 "$PKI/kenmyer2.der")" | refused "certificate plus a forged thumbprint" "maintained by the certpin overlay"

# one certificate, one user
check "pilar gets her own certificate" record_cert pilar "$PKI/pilar.der"
pilar_before=$(snapshot "$PILAR")
mod_add certpinCertificate\;binary "$PKI/pilar.der" | refused "pilar's certificate on ken's entry" "already on file for another entry"
check_eq "pilar's entry unchanged too" "$pilar_before" "$(snapshot "$PILAR")"

# ---- a whole new entry with a certificate -------------------------------------
check "a new entry added with a certificate" root_add <<LDIF
dn: uid=newbie,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinUser
uid: newbie
cn: New Bie
sn: Bie
certpinCertificate;binary:< file://$PKI/jdoe.der
LDIF
check_eq "the new entry got its thumbprint in the same add" "$(der_sha256 "$PKI/jdoe.der")" \
	"$(root_search -b "uid=newbie,$PEOPLE" -s base certpinThumbprint | sed -n 's/^certpinThumbprint: //p')"
check_rc_out 19 "a new entry with a certificate held by another is refused" "already on file" root_add <<LDIF
dn: uid=thief,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinUser
uid: thief
cn: T
sn: T
certpinCertificate;binary:< file://$PKI/kenmyer.der
LDIF
check_rc 32 "and was not created" root_search -b "uid=thief,$PEOPLE" -s base dn
check_rc_out 19 "a new entry with a forged thumbprint is refused" "maintained by" root_add <<LDIF
dn: uid=forger,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinUser
uid: forger
cn: F
sn: F
certpinThumbprint: $(der_sha256 "$PKI/mallory.der")
LDIF

# ---- python3-ldap as an independent client -------------------------------------
check "python3-ldap adds a certificate; metadata appears in the same write" "$PY" - \
	"$(srv_uri 1 ldapi)" "$ROOTDN" "$ROOTPW" "uid=jdoe,$PEOPLE" "$PKI/kenmyer2.der" "$(der_sha256 "$PKI/kenmyer2.der")" <<'PY'
import sys, ldap
uri, dn, pw, target, der, tp = sys.argv[1:]
l = ldap.initialize(uri)
l.simple_bind_s(dn, pw)
l.modify_s(target, [(ldap.MOD_ADD, 'certpinCertificate;binary', [open(der, 'rb').read()])])
e = l.search_s(target, ldap.SCOPE_BASE, attrlist=['certpinThumbprint', 'certpinCertInfo'])[0][1]
assert e['certpinThumbprint'] == [tp.encode()], e
assert e['certpinCertInfo'][0].startswith(b'sha256=' + tp.encode() + b'$'), e
PY

# ---- replace and delete revoke, with records ------------------------------------
check "replace ken's certificates with one new one" root_modify <<LDIF
dn: $KEN
changetype: modify
replace: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/mallory.der
LDIF
revs=$(root_search -b "$KEN" -s base certpinRevoked | sed -n 's/^certpinRevoked: //p')
check_out "the replaced certificate has a revocation record" \
	"^sha256=$(der_sha256 "$PKI/kenmyer.der")\\\$revoked=[0-9]{14}Z\\\$by=cn=admin,dc=example,dc=com\\\$" \
	printf '%s\n' "$revs"
check_eq "and no metadata any more; the new one has its own" "$(der_sha256 "$PKI/mallory.der")" \
	"$(root_search -b "$KEN" -s base certpinCertInfo | sed -n 's/^certpinCertInfo: sha256=\([0-9a-f]*\).*/\1/p')"
check "delete with a reason" root_modify <<LDIF
dn: $KEN
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/mallory.der
-
add: certpinRevoked
certpinRevoked: sha256=$(der_sha256 "$PKI/mallory.der")\$reason=lost phone
LDIF
check_out "the record keeps the reason" "^certpinRevoked: sha256=$(der_sha256 "$PKI/mallory.der").*reason=lost phone" \
	root_search -b "$KEN" -s base certpinRevoked
revoked_tps_agree "replace, then delete with a reason" "$KEN" \
	"$(der_sha256 "$PKI/kenmyer.der") $(der_sha256 "$PKI/mallory.der")"
check_eq "no thumbprint left on ken" "" "$(root_search -b "$KEN" -s base certpinThumbprint certpinCertInfo | grep -v '^dn:' | grep .)"
mod_add certpinCertificate\;binary "$PKI/mallory.der" | refused "re-adding a revoked certificate" "was revoked"
printf 'dn: uid=pilar,%s\nchangetype: modify\nadd: certpinCertificate;binary\ncertpinCertificate;binary:< file://%s\n' \
	"$PEOPLE" "$PKI/kenmyer.der" > "$TESTDIR/re.ldif"
check_rc_out 19 "a certificate revoked on ken cannot move to pilar" "revoked" root_modify -f "$TESTDIR/re.ldif"
rec=$(root_search -b "$KEN" -s base certpinRevoked | sed -n "s/^certpinRevoked: \(sha256=$(der_sha256 "$PKI/mallory.der").*\)/\1/p")
check_rc 19 "clearing a revocation record without the Relax control is refused" root_modify <<LDIF
dn: $KEN
changetype: modify
delete: certpinRevoked
certpinRevoked: $rec
LDIF
check "an administrator clears the record with the Relax control" root_modify -e relax <<LDIF
dn: $KEN
changetype: modify
delete: certpinRevoked
certpinRevoked: $rec
LDIF
revoked_tps_agree "the cleared record's thumbprint went with it, the other stays" "$KEN" \
	"$(der_sha256 "$PKI/kenmyer.der")"
check "then the certificate can be added again" record_cert kenmyer "$PKI/mallory.der"

# ---- removing the class revokes everything ---------------------------------------
check "removing certpinUser from pilar" root_modify <<LDIF
dn: $PILAR
changetype: modify
delete: objectClass
objectClass: certpinUser
LDIF
check_eq "pilar holds no certificate or metadata" "" \
	"$(root_search -b "$PILAR" -s base certpinCertificate certpinThumbprint certpinCertInfo | grep -v '^dn:' | grep .)"
check_out "and keeps a revocation record" "^certpinRevoked: sha256=$(der_sha256 "$PKI/pilar.der")" \
	root_search -b "$PILAR" -s base certpinRevoked
revoked_tps_agree "class removal" "$PILAR" "$(der_sha256 "$PKI/pilar.der")"
printf 'dn: %s\nchangetype: modify\nadd: objectClass\nobjectClass: certpinUser\n-\nadd: certpinCertificate;binary\ncertpinCertificate;binary:< file://%s\n' \
	"$PILAR" "$PKI/pilar.der" > "$TESTDIR/re.ldif"
before=$(snapshot "$PILAR")
check_rc_out 19 "pilar's certificate cannot come back after the class removal" "revoked" root_modify -f "$TESTDIR/re.ldif"
check_eq "and pilar's entry is unchanged" "$before" "$(snapshot "$PILAR")"

# ---- limits and cn=config ---------------------------------------------------------
srv_stop 1
srv_start 1 config
ok "the same server restarted from cn=config (slaptest conversion)"
ov="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
check_out "the overlay's config entry is an olcCertpinConfig" "objectClass: olcCertpinConfig" \
	ldapsearch -LLL -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" -b "$ov" -s base
check "olcCertpinMaxCertificates can be set over ldapi" cfg_set "$ov" olcCertpinMaxCertificates 1
check_rc_out 80 "an out-of-range value is refused with a message" "between 1 and 1000" \
	cfg_set "$ov" olcCertpinMaxCertificates 0
mod_add certpinCertificate\;binary "$PKI/spare.der" | refused "a second certificate over the limit of 1" "at most 1 certificates"
check "slapd is alive after everything" srv_alive 1
done_testing
