#!/bin/bash
# test080-monitor-counters: the live counters in cn=monitor count exactly
# what happened.  slapd runs with "database monitor"; the counters are read
# (ldapsearch, as the user the monitor ACLs allow), known events are caused
# with real clients (logons accepted and refused for every reason this build
# can produce, in enforce, strong-mapping and audit modes; revocations by
# value delete, entry delete and a refused one; a session ended by a
# revocation; certificates issued by PIN, by the user and by an
# administrator; issuance refused for each reason; wrong PINs and a
# lockout), then read again: every counter's delta must be exactly the
# number of its events, every other counter unchanged.  Each refusal also
# leaves its machine-readable "event=... reason=..." log line, one line
# even for a certificate subject holding a quote and a newline (an attempt
# to forge a log line), and no PIN reaches the log.  After a restart the counters start from zero.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
pki_cert ca ghost ghost client		# maps to uid=ghost: no such entry
pki_cert ca two1 twocert client
pki_cert ca two2 twocert client
# A subject that tries to forge a log line: a quote and a newline in its CN.
"$PY" - "$PKI" <<'PY' || die "cannot make the evil certificate"
import sys, datetime
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
pki = sys.argv[1]
ca = x509.load_pem_x509_certificate(open(pki + '/ca.crt', 'rb').read())
cak = serialization.load_pem_private_key(open(pki + '/ca.key', 'rb').read(), None)
k = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.utcnow()
c = (x509.CertificateBuilder()
     .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'ev"il\nevent=logon-accepted')]))
     .issuer_name(ca.subject).public_key(k.public_key()).serial_number(x509.random_serial_number())
     .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
     .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
     .sign(cak, hashes.SHA256()))
open(pki + '/evil.crt', 'wb').write(c.public_bytes(serialization.Encoding.PEM))
open(pki + '/evil.der', 'wb').write(c.public_bytes(serialization.Encoding.DER))
open(pki + '/evil.key', 'wb').write(k.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
chmod 600 "$PKI/evil.key"
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
JDOE="uid=jdoe,$PEOPLE"
ADMIN="uid=certadmin,$PEOPLE"
MON="cn=certpin,cn=Overlays,cn=Monitor"
PEER="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"

prov_conf 1 "certpin-pin-max-failures 3"
# TLSVerifyClient allow: expired and not-yet-valid certificates reach the
# overlay, whose own checks must refuse (and count) them.
sed -i 's/^TLSVerifyClient .*/TLSVerifyClient allow/' "$TESTDIR/srv1/slapd.conf"
cat >> "$TESTDIR/srv1/slapd.conf" <<CONF

database monitor
access to dn.subtree="cn=Monitor" by dn.exact="$ADMIN" read by dn.exact="$PEER" read by * none
CONF
srv_start 1
prov_base 1
LDAP=$(srv_uri 1 ldap)
LDAPS=$(srv_uri 1 ldaps)
LDAPI=$(srv_uri 1 ldapi)
add_user twocert "Two Cert" || die "cannot add twocert"
for c in kenmyer:kenmyer kenmyer:expired kenmyer:future pilar:pilar jdoe:jdoe twocert:two1 twocert:two2; do
	record_cert "${c%%:*}" "$PKI/${c#*:}.der" >/dev/null || die "cannot record ${c#*:}"
done
set_phone_pin "$KEN" "+1 425 555 0100" 864209 || die "cannot set ken's PIN"
set_phone_pin "$PILAR" "+1 425 555 0101" 975318 || die "cannot set pilar's PIN"
for n in ken ken2 jdoe1 jdoe2 x; do csr "$n"; done

# mon_snap FILE: every counter as "name value", sorted, read by the user the
# monitor database's ACLs allow.
mon_snap() {
	ldapsearch -LLL -o ldif-wrap=no -x -D "$ADMIN" -w pw-certadmin -H "$LDAPI" \
		-b "$MON" -s one monitorCounter >"$1.raw" 2>&1 || { cat "$1.raw"; return 1; }
	awk '/^dn: cn=/ { n = $2; sub(/^cn=/, "", n); sub(/,.*/, "", n) }
	     /^monitorCounter: / { print n, $2 }' "$1.raw" | LC_ALL=C sort >"$1"
}

# Expected increments, by counter name; the totals (logon-refused,
# logon-audit, issued, issue-refused) are the sums of their families.
declare -A WANT
want() { WANT[$1]=$(( ${WANT[$1]:-0} + $2 )); }

# check_deltas BEFORE AFTER: one check per counter expected to move, one for
# all the others.
check_deltas() {
	local b=$1 a=$2 name v0 v1 w fam others="" n=0
	declare -A tot=()
	for name in "${!WANT[@]}"; do
		for fam in logon-refused logon-audit issue-refused issued; do
			case "$name" in "$fam"-*) tot[$fam]=$(( ${tot[$fam]:-0} + WANT[$name] )) ;; esac
		done
	done
	while read -r name v1; do
		n=$((n + 1))
		v0=$(awk -v n="$name" '$1 == n { print $2 }' "$b")
		w=${WANT[$name]:-${tot[$name]:-0}}
		# the re-bind cache's use (test078), not events: not counted here
		case "$name" in bind-cache-*) continue ;; esac
		if [ "$w" -ne 0 ]; then
			check_eq "counter $name went up by exactly $w" "$w" "$(( v1 - ${v0:-0} ))"
		elif [ "$(( v1 - ${v0:-0} ))" -ne 0 ]; then
			others="$others $name:+$(( v1 - ${v0:-0} ))"
		fi
	done <"$a"
	check_eq "every other counter is unchanged" "" "$others"
	check_eq "all $n counters were read" 50 "$n"
}

# ---- before -----------------------------------------------------------------
check "the counters are readable by the user the monitor ACLs allow" mon_snap "$TESTDIR/s0"
check_eq "every counter starts at 0" "" "$(awk '$2 != 0' "$TESTDIR/s0")"
check_out "the container says what it is" "^description: certpin overlay" \
	ldapsearch -LLL -o ldif-wrap=no -x -D "$ADMIN" -w pw-certadmin -H "$LDAPI" -b "$MON" -s base description
check_out "each counter is a monitorCounterObject" "^objectClass: monitorCounterObject$" \
	ldapsearch -LLL -x -D "$ADMIN" -w pw-certadmin -H "$LDAPI" -b "cn=revoked,$MON" -s base objectClass

# ---- logons, enforce ------------------------------------------------------------
logon_as "accepted: ken over ldaps" 1 kenmyer "$KEN"
logon_as "accepted: ken over StartTLS" 1 kenmyer "$KEN" starttls
want logon-accepted 2
logon_refused "refused: no such entry (uid=ghost)" 1 ghost
logon_refused "refused: no such entry (a subject with a quote and a newline)" 1 evil
want logon-refused-no-such-entry 2
logon_refused "refused: not issued to this user (kenmyer2)" 1 kenmyer2
py_logon_refused "refused: not issued to this user (spare, python3-ldap)" 1 spare
want logon-refused-not-issued 2
# (Debian 13's slapd refuses these itself, before the overlay: nothing to
# count there; lib-logon.sh SLAPD_TLS_DATES)
logon_refused_dates "refused: expired" 1 expired
logon_refused_dates "refused: not yet valid" 1 future
if [ "$SLAPD_TLS_DATES" = no ]; then
	want logon-refused-expired 1
	want logon-refused-not-yet-valid 1
fi

# ---- revocations ------------------------------------------------------------------
check "revoke pilar's certificate (value delete, root)" root_modify -f <(mod_cert delete pilar "$PKI/pilar.der")
want revoked 1
logon_refused "refused: revoked (pilar)" 1 pilar
want logon-refused-revoked 1
check_rc 50 "pilar may not delete ken's certificate (refused by the ACLs)" \
	ldapmodify -x -D "$PILAR" -w pw-pilar -H "$LDAPI" -f <(mod_cert delete kenmyer "$PKI/kenmyer.der")
logon_as "so ken's certificate still logs on" 1 kenmyer "$KEN"
want logon-accepted 1
check "deleting twocert's entry revokes both its certificates" \
	ldapdelete -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" "uid=twocert,$PEOPLE"
want revoked 2
mod_cert delete jdoe "$PKI/jdoe.der" >"$TESTDIR/jdoe.ldif"
out=$(session_after 1 jdoe ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" -f "$TESTDIR/jdoe.ldif" 2>&1)
check_out "jdoe's session continues as anonymous once its certificate is revoked" "^whoami=$" printf '%s\n' "$out"
want logon-accepted 1
want revoked 1
want session-ended 1
# in an LDAP transaction (RFC 5805: the write runs at the commit, through
# the database instance, not through the frontend); an aborted one counts
# nothing
check "a transaction revokes ken's expired certificate" root_modify -E txn=commit \
	-f <(mod_cert delete kenmyer "$PKI/expired.der")
want revoked 1
check "an aborted transaction revoking ken's not-yet-valid certificate" root_modify -E txn=abort \
	-f <(mod_cert delete kenmyer "$PKI/future.der")
check "... which ken still holds" test "$(root_search -b "$KEN" -s base certpinThumbprint |
	grep -c "^certpinThumbprint: $(der_sha256 "$PKI/future.der")$")" -eq 1

# ---- issuance ------------------------------------------------------------------
check_rc_out 0 "issued: ken by phone and PIN over ldaps" "^issued" \
	issue -H "$LDAPS" -r "$PKI/ken.csr.der" -p "+1 425 555 0100" -P 864209
want issued-pin 1
check_rc_out 0 "issued: jdoe for himself (password bind)" "^issued" \
	issue -H "$LDAP" -D "$JDOE" -w pw-jdoe -r "$PKI/jdoe1.csr.der"
want issued-self 1
check_rc_out 0 "issued: by the administrator for jdoe" "^issued" \
	issue -H "$LDAP" -D "$ADMIN" -w pw-certadmin -i "$JDOE" -r "$PKI/jdoe2.csr.der"
want issued-admin 1
# one request at a time: each record its own database commit, none grouped
want record-commits 3
for i in 1 2 3; do
	check_rc 49 "wrong PIN $i for pilar" issue -H "$LDAPS" -r "$PKI/x.csr.der" -p "+1 425 555 0101" -P 111111
done
want pin-wrong 3
want pin-lockout 1
want issue-refused-bad-credentials 3
check_rc_out 19 "pilar's right PIN, now locked" "PIN locked" \
	issue -H "$LDAPS" -r "$PKI/x.csr.der" -p "+1 425 555 0101" -P 975318
want issue-refused-locked 1
check_rc 49 "an unknown phone number (not a wrong PIN of anyone's)" \
	issue -H "$LDAPS" -r "$PKI/x.csr.der" -p "+1 425 555 0999" -P 111111
want issue-refused-bad-credentials 1
check_rc 13 "a PIN without TLS" issue -H "$LDAP" -r "$PKI/x.csr.der" -p "+1 425 555 0100" -P 864209
want issue-refused-tls-required 1
check_rc 50 "ken may not issue for pilar" issue -H "$LDAP" -D "$KEN" -w pw-kenmyer -i "$PILAR" -r "$PKI/x.csr.der"
want issue-refused-not-authorized 1
check_rc 32 "the administrator for a user who does not exist" \
	issue -H "$LDAP" -D "$ADMIN" -w pw-certadmin -i "uid=nobody,$PEOPLE" -r "$PKI/x.csr.der"
want issue-refused-no-such-user 1
check_rc 53 "the administrator for an entry that is no certpinUser" \
	issue -H "$LDAP" -D "$ROOTDN" -w "$ROOTPW" -i "$ADMIN" -r "$PKI/x.csr.der"
want issue-refused-not-eligible 1
check_rc 2 "a malformed request" issue -H "$LDAP" -D "$KEN" -w pw-kenmyer -x 00
check_rc 53 "a validity outside the policy" issue -H "$LDAP" -D "$KEN" -w pw-kenmyer -r "$PKI/x.csr.der" -V 0
want issue-refused-bad-request 2

# ---- strong mapping (switched on over cn=config) ----------------------------------
ov="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
check "strong mapping on, over cn=config" cfg_set "$ov" olcCertpinStrongMapping TRUE
logon_refused "strong: a certificate no entry holds (mallory)" 1 mallory
want logon-refused-strong-mapping-none 1
logon_as "strong: ken's certificate" 1 kenmyer "$KEN"
want logon-accepted 1
check "strong mapping off" cfg_set "$ov" olcCertpinStrongMapping FALSE

# ---- audit mode ---------------------------------------------------------------------
check "audit mode, over cn=config" cfg_set "$ov" olcCertpinMode audit
logon_as "audit: kenmyer2 (not issued) gets through" 1 kenmyer2 "$KEN"
want logon-audit-not-issued 1
check_rc 0 "audit: ghost (no such entry) gets through" device_whoami 1 ghost
want logon-audit-no-such-entry 1
mod_cert delete kenmyer "$PKI/kenmyer.der" >"$TESTDIR/ken.ldif"
out=$(session_after 1 kenmyer ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" -f "$TESTDIR/ken.ldif" 2>&1)
check_out "audit: ken's session keeps its identity after the revocation" "^whoami=dn:$KEN$" printf '%s\n' "$out"
want logon-accepted 1
want revoked 1
want session-audit 1
check "enforce again" cfg_set "$ov" olcCertpinMode enforce

# ---- after ------------------------------------------------------------------------
check "the counters are read again" mon_snap "$TESTDIR/s1"
check_deltas "$TESTDIR/s0" "$TESTDIR/s1"

# ---- the machine-readable log lines -----------------------------------------------
log_has() { srv_log_has "log: $1" 1 "certpin: $1"; }
log_has "event=logon-refused reason=no-such-entry dn=\"uid=ghost,$PEOPLE\" cert=$(der_sha256 "$PKI/ghost.der")"
log_has "event=logon-refused reason=not-issued dn=\"$KEN\" cert=$(der_sha256 "$PKI/kenmyer2.der")"
srv_log_has "log: a subject's quote and newline are escaped, on one line" 1 \
	"certpin: event=logon-refused reason=no-such-entry dn=\"uid=ev\\\\5C22il\\\\0Aevent\\\\5C3Dlogon-accepted,$PEOPLE\" cert=$(der_sha256 "$PKI/evil.der")$"
log_has "event=logon-refused reason=revoked dn=\"$PILAR\" cert=$(der_sha256 "$PKI/pilar.der")"
if [ "$SLAPD_TLS_DATES" = no ]; then
	log_has "event=logon-refused reason=expired dn=\"$KEN\" cert=$(der_sha256 "$PKI/expired.der")"
	log_has "event=logon-refused reason=not-yet-valid dn=\"$KEN\" cert=$(der_sha256 "$PKI/future.der")"
fi
log_has "event=logon-refused reason=strong-mapping-none dn=\"[^\"]*\" cert=$(der_sha256 "$PKI/mallory.der")"
log_has "event=logon-audit reason=not-issued dn=\"$KEN\" cert=$(der_sha256 "$PKI/kenmyer2.der")"
log_has "event=session-ended reason=revoked dn=\"$JDOE\" cert=$(der_sha256 "$PKI/jdoe.der")"
log_has "event=session-audit reason=revoked dn=\"$KEN\" cert=$(der_sha256 "$PKI/kenmyer.der")"
log_has "event=pin-wrong dn=\"$PILAR\" failures=3 max=3"
log_has "event=pin-lockout dn=\"$PILAR\" failures=3"
log_has "event=issue-refused reason=locked code=19 by=\"\""
log_has "event=issue-refused reason=not-authorized code=50 by=\"$KEN\""
check_eq "one event= line per refusal counted (logon, issuance, session)" \
	"$(( $(awk '$1 == "logon-refused" || $1 == "logon-audit" || $1 == "issue-refused" || $1 == "session-ended" || $1 == "session-audit" { s += $2 } END { print s }' "$TESTDIR/s1") ))" \
	"$(srv_log_count 1 'certpin: event=(logon-refused|logon-audit|issue-refused|session-ended|session-audit) ')"
check_eq "no PIN reaches the log" 0 "$(grep -cwE '864209|975318|111111' "$TESTDIR/srv1/slapd.log" || true)"

# ---- a restart: counting starts again; a thumbprint on two entries --------------
check "record spare on pilar" record_cert pilar "$PKI/spare.der"
srv_stop 1
/usr/sbin/slapadd -f "$TESTDIR/srv1/slapd.conf" -b "$SUFFIX" >"$TESTDIR/slapadd.log" 2>&1 <<LDIF || die "slapadd failed: $(cat "$TESTDIR/slapadd.log")"
dn: uid=twin,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinUser
uid: twin
cn: Twin
sn: Twin
certpinThumbprint: $(der_sha256 "$PKI/spare.der")
LDIF
sed -i "0,/^overlay certpin$/s//&\ncertpin-strong-mapping on/" "$TESTDIR/srv1/slapd.conf"
srv_start 1
check "the counters are readable after the restart" mon_snap "$TESTDIR/s2"
check_eq "after a restart every counter starts at 0 again" "" "$(awk '$2 != 0' "$TESTDIR/s2")"
logon_refused "strong: a thumbprint two entries hold" 1 spare
unset WANT
declare -A WANT
want logon-refused-strong-mapping-ambiguous 1
check "the counters are read once more" mon_snap "$TESTDIR/s3"
check_deltas "$TESTDIR/s2" "$TESTDIR/s3"
log_has "event=logon-refused reason=strong-mapping-ambiguous dn=\"[^\"]*\" cert=$(der_sha256 "$PKI/spare.der")"

srv_stop 1
check_out "slapd stops cleanly with the counters registered" "slapd stopped\\." tail -n 3 "$TESTDIR/srv1/slapd.log"
done_testing
