#!/bin/bash
# test002-logon: SASL EXTERNAL binds over ldaps and StartTLS, from
# ldapwhoami and python3-ldap, succeed only with a certificate on file for
# the mapped user and inside its validity period; every refusal is
# invalidCredentials with a generic diagnostic, the log says why, and the
# directory is unchanged.  Binds without a client certificate are not
# touched.  Then the same from cn=config.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"

pki_standard
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"

# srv1: the standard server (TLSVerifyClient try), overlay with no directive;
# logging stats and stats2 (768), where successful logons are logged.
srv_conf 1
SLAPD_DEBUG=768 srv_start 1
srv_base 1
record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record ken's certificate"
record_cert pilar "$PKI/pilar.der" >/dev/null || die "cannot record pilar's certificate"
# spare says CN=kenmyer but is recorded on pilar; kenmyer2 is in ken's
# userCertificate only.
record_cert pilar "$PKI/spare.der" >/dev/null || die "cannot record spare on pilar"
root_modify >/dev/null <<LDIF || die "cannot set userCertificate"
dn: $KEN
changetype: modify
add: userCertificate;binary
userCertificate;binary:< file://$PKI/kenmyer2.der
LDIF

# ---- certificate on file ---------------------------------------------------
logon_as "ldaps: ken's certificate logs on as ken" 1 kenmyer "$KEN"
logon_as "StartTLS: ken's certificate logs on as ken" 1 kenmyer "$KEN" starttls
logon_as "ldaps: pilar's certificate logs on as pilar" 1 pilar "$PILAR"
py_logon_as "python3-ldap ldaps: ken logs on as ken" 1 kenmyer "$KEN"
py_logon_as "python3-ldap StartTLS: pilar logs on as pilar" 1 pilar "$PILAR" starttls
srv_log_has "the log names the identity and the thumbprint" 1 \
	"certpin: logon as \"uid=kenmyer,$PEOPLE\" with certificate $(der_sha256 "$PKI/kenmyer.der")"

# ---- refusals ----------------------------------------------------------------
before=$(dir_dump 1)
for how in ldaps starttls; do
	logon_refused "$how: a certificate never recorded is refused (49)" 1 kenmyer2 "$how"
	logon_refused "$how: a certificate recorded on another user is refused" 1 spare "$how"
	logon_refused "$how: a certificate for a user with no entry is refused" 1 mallory "$how"
done
py_logon_refused "python3-ldap: a certificate never recorded is refused" 1 jdoe
py_logon_refused "python3-ldap StartTLS: recorded on another user is refused" 1 spare starttls
srv_log_has "log: never recorded / only in userCertificate: not issued to this user" 1 \
	"refused logon as \"uid=kenmyer,$PEOPLE\" with certificate $(der_sha256 "$PKI/kenmyer2.der"): not issued to this user"
srv_log_has "log: recorded on pilar, mapped to ken: not issued to this user" 1 \
	"refused logon as \"uid=kenmyer,$PEOPLE\" with certificate $(der_sha256 "$PKI/spare.der"): not issued to this user"
srv_log_has "log: no entry for the mapped identity: no such entry" 1 \
	"refused logon as \"uid=mallory,$PEOPLE\" with certificate $(der_sha256 "$PKI/mallory.der"): no such entry"
check_eq "the directory is unchanged by the refused logons" "$before" "$(dir_dump 1)"
# The TLS layer itself (TLSVerifyClient try) rejects these before any bind;
# the foreign certificate is not even offered by the client, as its CA is not
# among those the server names (see srv3 for a server that trusts it).
for c in expired future; do
	check_out "TLSVerifyClient try: the TLS layer already rejects the $c certificate" \
		"Can't contact LDAP server|Connect error|Local error" device_whoami 1 "$c"
done

# ---- binds without a client certificate are not touched ----------------------
root_ldapi_ok "the local root's ldapi EXTERNAL bind works" 1
check_out "a simple bind over ldapi works" "^dn:uid=pilar" \
	ldapwhoami -x -D "$PILAR" -w pw-pilar -H "$(srv_uri 1 ldapi)"
check_out "a simple bind over ldaps with a client certificate not on file works" "^dn:uid=pilar" \
	env -u LDAPNOINIT HOME="$TESTDIR" LDAPTLS_CACERT="$PKI/ca.crt" LDAPTLS_CERT="$PKI/kenmyer2.crt" \
	LDAPTLS_KEY="$PKI/kenmyer2.key" ldapwhoami -x -D "$PILAR" -w pw-pilar -H "$(srv_uri 1 ldaps)"
check_rc 49 "a wrong password is still refused by slapd" \
	ldapwhoami -x -D "$PILAR" -w wrong -H "$(srv_uri 1 ldapi)"

# ---- srv2: TLSVerifyClient allow, so the overlay's own checks decide ----------
srv_conf_tls 2 allow
srv_start 2
srv_base 2
SRV=2 record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record on srv2"
# An administrator may record an expired certificate: logon must still fail.
SRV=2 record_cert kenmyer "$PKI/expired.der" >/dev/null || die "cannot record expired"
SRV=2 record_cert kenmyer "$PKI/future.der" >/dev/null || die "cannot record future"
before=$(dir_dump 2)
logon_as "TLSVerifyClient allow: ken's certificate still logs on" 2 kenmyer "$KEN"
for how in ldaps starttls; do
	logon_refused_dates "$how: an expired certificate, though on file, is refused" 2 expired "$how"
	logon_refused_dates "$how: a not-yet-valid certificate, though on file, is refused" 2 future "$how"
done
py_logon_refused_dates "python3-ldap: expired is refused" 2 expired
py_logon_refused_dates "python3-ldap: not yet valid is refused" 2 future
srv_log_dates "log: expired" 2 "refused logon as \"uid=kenmyer,$PEOPLE\" with certificate $(der_sha256 "$PKI/expired.der"): expired" "has expired"
srv_log_dates "log: not yet valid" 2 "refused logon as \"uid=kenmyer,$PEOPLE\" with certificate $(der_sha256 "$PKI/future.der"): not yet valid" "is not yet valid"
check_eq "srv2's directory is unchanged by the refused logons" "$before" "$(dir_dump 2)"
check_eq "the client sees one generic diagnostic for every reason" 1 \
	"$(for c in $([ "$SLAPD_TLS_DATES" = yes ] || echo expired future) kenmyer2 mallory; do device_whoami 2 "$c" | grep 'additional info'; done | sort -u | wc -l)"
# Entries written around the overlay (slapadd) may hold a certificate with no
# metadata record: validity then comes from the certificate itself.
pki_cert ca oldtimer oldtimer client 20200101000000Z 20210101000000Z
pki_cert ca bare bare client
srv_stop 2
for u in oldtimer bare; do
	printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: certpinUser\nuid: %s\ncn: %s\nsn: %s\ncertpinCertificate;binary:< file://%s\ncertpinThumbprint: %s\n\n' \
		"$u" "$PEOPLE" "$u" "$u" "$u" "$PKI/$u.der" "$(der_sha256 "$PKI/$u.der")"
done > "$TESTDIR/bare.ldif"
/usr/sbin/slapadd -f "$TESTDIR/srv2/slapd.conf" -l "$TESTDIR/bare.ldif" >"$TESTDIR/slapadd.log" 2>&1 ||
	die "slapadd failed: $(cat "$TESTDIR/slapadd.log")"
srv_start 2
check_eq "slapadd wrote no metadata record" "" \
	"$(SRV=2 root_search -b "uid=bare,$PEOPLE" -s base certpinCertInfo | grep -v '^dn:' | grep .)"
logon_as "no metadata: a valid certificate on file logs on" 2 bare "uid=bare,$PEOPLE"
logon_refused_dates "no metadata: an expired certificate on file is refused" 2 oldtimer
srv_log_dates "no metadata: log says expired" 2 \
	"refused logon as \"uid=oldtimer,$PEOPLE\" with certificate $(der_sha256 "$PKI/oldtimer.der"): expired" "has expired"
srv_stop 2

# ---- srv3: TLSVerifyClient try, trusting both CAs ------------------------------
cat "$PKI/ca.crt" "$PKI/foreignca.crt" > "$PKI/both.crt"
srv_conf_tls 3 try "$PKI/both.crt"
srv_start 3
srv_base 3
SRV=3 record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record on srv3"
logon_as "a server trusting both CAs: ken logs on" 3 kenmyer "$KEN"
logon_refused "a server trusting both CAs: the foreign certificate passes TLS, the overlay refuses it" 3 foreign
logon_refused "a server trusting both CAs, StartTLS: the same" 3 foreign starttls
py_logon_refused "python3-ldap: the same refusal" 3 foreign starttls
srv_log_has "log: foreign, not issued to this user" 3 \
	"refused logon as \"uid=kenmyer,$PEOPLE\" with certificate $(der_sha256 "$PKI/foreign.der"): not issued to this user"
srv_stop 3

# ---- the same server from cn=config --------------------------------------------
srv_stop 1
srv_start 1 config
ok "srv1 restarted from cn=config"
logon_as "cn=config: ken logs on" 1 kenmyer "$KEN"
logon_as "cn=config StartTLS: pilar logs on" 1 pilar "$PILAR" starttls
logon_refused "cn=config: never recorded is refused" 1 kenmyer2
py_logon_refused "cn=config python3-ldap: recorded on another user is refused" 1 spare
root_ldapi_ok "cn=config: root ldapi still works" 1
ov="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
check_out "with no directive, cn=config shows olcCertpinMode: enforce" "^olcCertpinMode: enforce$" \
	ldapsearch -LLL -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" -b "$ov" -s base olcCertpinMode
check "slapd is alive after everything" srv_alive 1
done_testing
