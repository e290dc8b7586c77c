#!/bin/bash
# test004-modes: certpin-mode audit (allow, log what would be refused) and off;
# changing the mode at run time over cn=config; the local root's ldapi access
# in every mode; strong mapping (the certificate, not its subject, names the
# user; two holders of one thumbprint fail).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"

pki_standard
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
CFG() { ldapmodify -Q -Y EXTERNAL -H "$(srv_uri "$1" ldapi)"; }
ov="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
set_cfg() {	# N ATTR VALUE
	printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n' "$ov" "$2" "$2" "$3" | CFG "$1" >/dev/null
}

# ---- a bad value is refused by the configuration -----------------------------------
srv_conf 9 "certpin-mode bogus"
check_rc_out 1 "slaptest refuses certpin-mode bogus with a message" "must be enforce, audit or off" \
	"$SLAPTEST" -u -d config -f "$TESTDIR/srv9/slapd.conf"

# ---- every directive in slapd.conf converts to cn=config (slaptest) -------------
srv_conf 8 "certpin-mode audit
certpin-strong-mapping on
certpin-session-recheck 30
certpin-history \"cn=certpin history,$SUFFIX\""
srv_start 8 config
out=$(ldapsearch -LLL -Q -Y EXTERNAL -H "$(srv_uri 8 ldapi)" -b "olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config" -s base \
	olcCertpinMode olcCertpinStrongMapping olcCertpinHistory olcCertpinSessionRecheck 2>&1)
check_out "slapd.conf to cn=config: olcCertpinMode" "^olcCertpinMode: audit$" printf '%s\n' "$out"
check_out "slapd.conf to cn=config: olcCertpinStrongMapping" "^olcCertpinStrongMapping: TRUE$" printf '%s\n' "$out"
check_out "slapd.conf to cn=config: olcCertpinSessionRecheck" "^olcCertpinSessionRecheck: 30$" printf '%s\n' "$out"
check_out "slapd.conf to cn=config: olcCertpinHistory" "^olcCertpinHistory: cn=certpin history,$SUFFIX$" printf '%s\n' "$out"
srv_stop 8

# ---- audit (slapd.conf) ------------------------------------------------------------
srv_conf 1 "certpin-mode audit"
srv_start 1
srv_base 1
record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record"
record_cert pilar "$PKI/pilar.der" >/dev/null || die "cannot record"
root_ldapi_ok "audit: root ldapi works" 1
logon_as "audit: a certificate on file logs on" 1 kenmyer "$KEN"
logon_as "audit: a certificate never recorded is allowed" 1 kenmyer2 "$KEN"
py_logon_as "audit: python3-ldap, StartTLS, never recorded is allowed" 1 spare "$KEN" starttls
srv_log_has "audit: the log says what would have been refused, and why" 1 \
	"certpin: audit: would refuse logon as \"$KEN\" with certificate $(der_sha256 "$PKI/kenmyer2.der"): not issued to this user"
check_eq "audit: nothing was refused" 0 "$(srv_log_count 1 'certpin: refused logon')"
mod_cert delete pilar "$PKI/pilar.der" > "$TESTDIR/m.ldif"
out=$(session_after 1 pilar ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -f "$TESTDIR/m.ldif" 2>&1)
check_out "audit: a session whose certificate is revoked keeps its identity" "^whoami=dn:$PILAR$" printf '%s\n' "$out"
srv_log_has "audit: and the log says it would have become anonymous" 1 \
	"audit: session of \"$PILAR\" would continue as anonymous: certificate $(der_sha256 "$PKI/pilar.der"): revoked"
logon_as "audit: the revoked certificate is allowed" 1 pilar "$PILAR"
srv_log_has "audit: logged as revoked" 1 \
	"audit: would refuse logon as \"$PILAR\" with certificate $(der_sha256 "$PKI/pilar.der"): revoked"

# ---- run-time changes over cn=config -------------------------------------------------
srv_stop 1
srv_start 1 config
check_out "cn=config shows olcCertpinMode: audit" "^olcCertpinMode: audit$" \
	ldapsearch -LLL -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" -b "$ov" -s base olcCertpinMode
check "olcCertpinMode set to off" set_cfg 1 olcCertpinMode off
root_ldapi_ok "off: root ldapi works" 1
n0=$(srv_log_count 1 "certpin: .*logon")
logon_as "off: a certificate never recorded logs on" 1 kenmyer2 "$KEN"
logon_as "off: a revoked certificate logs on" 1 pilar "$PILAR" starttls
check_eq "off: the overlay did not look at the binds" "$n0" "$(srv_log_count 1 "certpin: .*logon")"
check "olcCertpinMode set to enforce" set_cfg 1 olcCertpinMode enforce
root_ldapi_ok "enforce: root ldapi works" 1
logon_refused "enforce: the never-recorded certificate is refused at once" 1 kenmyer2
logon_refused "enforce: the revoked certificate is refused" 1 pilar starttls
logon_as "enforce: ken's certificate logs on" 1 kenmyer "$KEN"
check_rc_out 80 "an invalid olcCertpinMode is refused" "must be enforce, audit or off" set_cfg 1 olcCertpinMode sometimes
check "olcCertpinMode removed: back to the default" ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" <<LDIF
dn: $ov
changetype: modify
delete: olcCertpinMode
LDIF
logon_refused "default after removal: enforce" 1 kenmyer2
root_ldapi_ok "root ldapi works after removal" 1

# ---- strong mapping: no authz-regexp --------------------------------------------------
srv_conf 2 "certpin-strong-mapping on"
sed -i '/^authz-regexp/d' "$TESTDIR/srv2/slapd.conf"
srv_start 2
srv_base 2
SRV=2 record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record"
SRV=2 record_cert pilar "$PKI/spare.der" >/dev/null || die "cannot record"	# says CN=kenmyer
SRV=2 record_cert jdoe "$PKI/jdoe.der" >/dev/null || die "cannot record"
root_ldapi_ok "strong: root ldapi works" 2
logon_as "strong: ken's certificate logs on as ken, with no authz-regexp" 2 kenmyer "$KEN"
logon_as "strong: a certificate whose subject says kenmyer logs on as its holder, pilar" 2 spare "$PILAR" starttls
py_logon_as "strong: python3-ldap, the same" 2 spare "$PILAR"
srv_log_has "strong: the log notes the subject mapping was overridden" 2 \
	"strong mapping: certificate $(der_sha256 "$PKI/spare.der") maps to \"$PILAR\", not \"cn=kenmyer\""
logon_refused "strong: a certificate nobody holds is refused" 2 kenmyer2
srv_log_has "strong: log says no entry holds it" 2 \
	"with certificate $(der_sha256 "$PKI/kenmyer2.der"): no entry holds it"
SRV=2 py_root_modify 2 delete jdoe "$PKI/jdoe.der" || die "cannot revoke"
logon_refused "strong: a revoked certificate is refused" 2 jdoe
srv_log_has "strong: log says revoked" 2 "with certificate $(der_sha256 "$PKI/jdoe.der"): revoked"
# Data that breaks "one certificate, one user" (written around the overlay by
# slapadd): the bind fails rather than choose.
srv_stop 2
/usr/sbin/slapadd -f "$TESTDIR/srv2/slapd.conf" >"$TESTDIR/slapadd.log" 2>&1 <<LDIF || die "slapadd failed: $(cat "$TESTDIR/slapadd.log")"
dn: uid=twin,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinUser
uid: twin
cn: Twin
sn: Twin
certpinThumbprint: $(der_sha256 "$PKI/kenmyer.der")
LDIF
srv_start 2
before=$(dir_dump 2)
logon_refused "strong: a thumbprint held by two entries is refused" 2 kenmyer
srv_log_has "strong: log says more than one entry holds it" 2 \
	"with certificate $(der_sha256 "$PKI/kenmyer.der"): more than one entry holds it"
check_eq "strong: the directory is unchanged by the refusals" "$before" "$(dir_dump 2)"
logon_as "strong: pilar (via spare) still logs on" 2 spare "$PILAR"

# ---- strong mapping in audit mode (and TLSVerifyClient allow) ---------------------
SRV=2 record_cert jdoe "$PKI/expired.der" >/dev/null || die "cannot record expired"	# says CN=kenmyer
srv_stop 2
sed -i -e 's/^certpin-strong-mapping on/&\ncertpin-mode audit/' -e 's/^TLSVerifyClient .*/TLSVerifyClient allow/' \
	"$TESTDIR/srv2/slapd.conf"
srv_start 2
root_ldapi_ok "strong+audit: root ldapi works" 2
if [ "$SLAPD_TLS_DATES" = yes ]; then	# slapd refuses it before certpin: audit cannot allow it
	logon_refused_dates "strong+audit: an expired certificate is refused by slapd's TLS layer" 2 expired
	srv_log_dates "strong+audit: and logged as expired" 2 "" "has expired"
else
	logon_as "strong+audit: an expired certificate is allowed, as its holder jdoe" 2 expired "uid=jdoe,$PEOPLE"
	srv_log_has "strong+audit: and logged as expired" 2 \
		"audit: would refuse logon as \"uid=jdoe,$PEOPLE\" with certificate $(der_sha256 "$PKI/expired.der"): expired"
fi
logon_as "strong+audit: a thumbprint held twice keeps the subject's own name" 2 kenmyer "cn=kenmyer"
check "slapd 1 is alive" srv_alive 1
check "slapd 2 is alive" srv_alive 2
done_testing
