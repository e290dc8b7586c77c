#!/bin/bash
# test056-promise-catalogue: the attack catalogue.  For each promise of
# slapo-certpin(5) -- no unrecorded logon, revocation at once, the PIN never
# readable, maintained attributes never written by clients, one certificate
# one user, slapd never dies -- every path that could reach it: each LDAP
# operation, each control and extension the root DSE advertises (the test
# fails when slapd advertises one the catalogue does not list), the hidden
# controls slapd honours (Relax Rules, transactions, ...), SASL mechanism
# spellings, odd encodings (NUL bytes, case, OIDs, attribute options,
# look-alike certificates, oversized values), pipelining on one connection,
# persistent and sync searches, transactions and concurrency.  The attacks
# are in tests/catalogue.py (a raw LDAP client: tests/attacklib.py); the
# paths and which check covers each are listed in tests/README.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-attack.sh"

pki_standard
attack_conf 1 "certpin-session-recheck 3600"
srv_start 1
srv_base 1
attack_has_db_overlay 1 && ok "certpin on the frontend and on the database" ||
	notok "the configuration has no database instance of certpin"

SRV=1 root_add >/dev/null <<LDIF || die "cannot add the groups"
dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: uid=certadm,$PEOPLE
objectClass: inetOrgPerson
uid: certadm
cn: Cert Admin
sn: Admin
userPassword: pw-certadm

dn: cn=certadmins,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: certadmins
member: uid=certadm,$PEOPLE
LDIF
check "ken's certificate on file" record_cert kenmyer "$PKI/kenmyer.der"
check "ken's second certificate on file" root_modify <<LDIF
dn: uid=kenmyer,$PEOPLE
changetype: modify
add: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/kenmyer2.der
LDIF
check "and revoked" root_modify <<LDIF
dn: uid=kenmyer,$PEOPLE
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/kenmyer2.der
LDIF
check "ken's PIN set" root_modify <<LDIF
dn: uid=kenmyer,$PEOPLE
changetype: modify
replace: certpinPIN
certpinPIN: 135790
LDIF
PINHASH=$(/usr/sbin/slapcat -f "$TESTDIR/srv1/slapd.conf" -b "$SUFFIX" -a "(uid=kenmyer)" 2>/dev/null |
	sed -n 's/^certpinPIN:: *//p; s/^certpinPIN: *//p' | head -n 1)
check_out "slapcat shows ken's PIN hash (the secret the catalogue looks for)" '^\{' echo "$PINHASH"

# one process per promise: when slapd dies in one (a finding), it is restarted
# for the next, so that every promise is attacked in every run
for section in dse logon revocation pin maintained unique alive; do
	run_py "$SRCDIR/tests/catalogue.py" "$(srv_uri 1 ldapi)" "$(srv_uri 1 ldaps)" "$(srv_uri 1 ldap)" \
		"$PKI" "$TESTDIR/cat" "$ROOTDN" "$ROOTPW" "$TESTDIR/srv1/slapd.pid" "$PINHASH" "$section"
	if srv_alive 1; then
		ok "slapd still running after the $section attacks"
	else
		notok "slapd died during the $section attacks"
		grep -m1 'Assertion .* failed' "$TESTDIR/srv1/slapd.log" | sed 's/^/#   /'
		srv_start 1
	fi
done
# the guard is live: a slapd advertising one more control (server-side sorting,
# sssvlv) makes the catalogue fail until its attacks are added
[ -f /usr/lib/ldap/sssvlv.la ] || die "sssvlv overlay module is missing (slapd package)"
srv_conf 2
sed -i "s|^moduleload back_mdb|&\nmoduleload sssvlv|" "$TESTDIR/srv2/slapd.conf"
sed -i '/^database mdb/,$ { /^overlay certpin/d }' "$TESTDIR/srv2/slapd.conf"
printf 'overlay sssvlv\n' >> "$TESTDIR/srv2/slapd.conf"
attack_db_overlay "$TESTDIR/srv2/slapd.conf"
srv_start 2
out=$("$PY" "$SRCDIR/tests/catalogue.py" "$(srv_uri 2 ldapi)" "$(srv_uri 2 ldaps)" "$(srv_uri 2 ldap)" \
	"$PKI" "$TESTDIR/cat2" "$ROOTDN" "$ROOTPW" "$TESTDIR/srv2/slapd.pid" "$PINHASH" dse 2>&1)
check_out "a slapd advertising a control the catalogue does not list fails the catalogue" \
	"^not ok - root DSE control 1\.2\.840\.113556\.1\.4\.473 .*NEW" printf '%s\n' "$out"
srv_stop 2
grep -q 'Assertion .* failed' "$TESTDIR/srv1/slapd.log" && notok "slapd log shows an assertion failure" ||
	ok "no assertion failure in slapd's log"
done_testing
