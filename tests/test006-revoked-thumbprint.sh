#!/bin/bash
# test006-revoked-thumbprint: an entry may keep two revocation records of one
# certificate (e.g. two providers revoked it at once, or loaded with
# slapadd): clearing one record keeps certpinRevokedThumbprint and the
# refusal; clearing the last one removes the thumbprint and lets the
# certificate back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-revoked.sh"

pki_standard
srv_conf 1
srv_start 1
srv_base 1
srv_stop 1
TP=$(der_sha256 "$PKI/mallory.der")
HIST="uid=hist,$PEOPLE"
R1="sha256=$TP\$revoked=20260101000000Z\$by=cn=admin,dc=example,dc=com\$reason=first"
R2="sha256=$TP\$revoked=20260102000000Z\$by=cn=admin,dc=example,dc=com\$reason=second"
/usr/sbin/slapadd -q -f "$TESTDIR/srv1/slapd.conf" -b "$SUFFIX" >"$TESTDIR/slapadd.log" 2>&1 <<LDIF ||
dn: $HIST
objectClass: inetOrgPerson
objectClass: certpinHistory
uid: hist
cn: hist
sn: hist
certpinRevoked: $R1
certpinRevoked: $R2
certpinRevokedThumbprint: $TP
LDIF
	die "slapadd failed: $(cat "$TESTDIR/slapadd.log")"
srv_start 1
revoked_tps_agree "two records of one certificate" "$HIST" "$TP"

readd() { record_cert kenmyer "$PKI/mallory.der"; }
clear_rec() { printf 'dn: %s\nchangetype: modify\ndelete: certpinRevoked\ncertpinRevoked: %s\n' "$HIST" "$1" |
	root_modify -e relax; }

before=$(snapshot "uid=kenmyer,$PEOPLE")
check_rc_out 19 "the certificate is refused" "revoked" readd
check "an administrator clears the first record (Relax Rules)" clear_rec "$R1"
revoked_tps_agree "one record left: its thumbprint stays" "$HIST" "$TP"
check_rc_out 19 "the certificate is still refused" "revoked" readd
check_eq "ken's entry is unchanged by the refusals" "$before" "$(snapshot "uid=kenmyer,$PEOPLE")"
check "the administrator clears the second record" clear_rec "$R2"
revoked_tps_agree "no record left: no thumbprint" "$HIST" ""
check "the certificate can be added again" readd
check "slapd is still running" srv_alive 1
done_testing
