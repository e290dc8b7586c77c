#!/bin/bash
# test052-faults: slapd is killed with SIGKILL (by its pidfile PID) in the
# middle of bulk jobs: recording certificates and revoking them with
# ldapmodify, issuing certificates with the certpinIssue extended operation,
# and revoking them with certpin-revoke.
# After a restart no entry holds a certificate without its metadata or
# metadata without its certificate (every entry: thumbprints are the SHA-256
# of each certpinCertificate value, one certpinCertInfo per certificate),
# every revoked certificate has exactly one revocation record, and running
# the same job again completes it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-hardening.sh"
. "$(dirname "$0")/lib-provision.sh"

N=${CERTPIN_FAULT_USERS:-400}
pki_standard
prov_conf 1
srv_start 1
prov_base 1

# N users, each with a certificate of its own (one key, N serials: fast).
mkdir -p "$TESTDIR/certs"
for i in $(seq 1 "$N"); do
	openssl x509 -req -in "$PKI/spare.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-set_serial $((50000 + i)) -days 30 -outform DER -out "$TESTDIR/certs/u$i.der" 2>/dev/null ||
		die "cannot sign certificate $i"
done
for i in $(seq 1 "$N"); do
	printf 'dn: uid=u%d,%s\nobjectClass: inetOrgPerson\nobjectClass: certpinUser\nuid: u%d\ncn: U %d\nsn: U\n\n' \
		"$i" "$PEOPLE" "$i" "$i"
done > "$TESTDIR/users.ldif"
check "$N users added" root_add -f "$TESTDIR/users.ldif"

# job FILE: the LDIF of one bulk job, one modify per user
record_job() {
	for i in $(seq 1 "$N"); do
		printf 'dn: uid=u%d,%s\nchangetype: modify\nadd: certpinCertificate;binary\ncertpinCertificate;binary:< file://%s\n\n' \
			"$i" "$PEOPLE" "$TESTDIR/certs/u$i.der"
	done
}
revoke_job() {
	for i in $(seq 1 "$N"); do
		printf 'dn: uid=u%d,%s\nchangetype: modify\ndelete: certpinCertificate;binary\ncertpinCertificate;binary:< file://%s\n-\nadd: certpinRevoked\ncertpinRevoked: sha256=%s$reason=bulk revocation\n\n' \
			"$i" "$PEOPLE" "$TESTDIR/certs/u$i.der" "$(sha256sum < "$TESTDIR/certs/u$i.der" | cut -c1-64)"
	done
}
record_job > "$TESTDIR/record.ldif"
revoke_job > "$TESTDIR/revoke.ldif"

# crash_during PATTERN CMD...: run the job CMD in the background and SIGKILL
# slapd once its log shows 25 more results matching PATTERN.  Prints how
# many it had answered at the kill.
crash_during() {
	local log=$TESTDIR/srv1/slapd.log pat=$1 before pid i n=0
	shift
	before=$(grep -c "$pat" "$log")
	"$@" >"$TESTDIR/job.out" 2>&1 &
	for i in $(seq 1 400); do
		n=$(( $(grep -c "$pat" "$log") - before ))
		[ "$n" -ge 25 ] && break
		sleep 0.02
	done
	pid=$(srv_pid 1)
	kill -9 "$pid"
	wait $! 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	rm -f "$TESTDIR/srv1/slapd.pid"
	echo "$n"
}
MODS='RESULT tag=103'

count() { root_search -b "$PEOPLE" "$1" dn | grep -c '^dn:'; }

# ---- recording, interrupted -----------------------------------------------------
n=$(crash_during "$MODS" root_modify -c -f "$TESTDIR/record.ldif")
check "slapd was killed by its PID while recording" test -n "$n"
srv_start 1
ok "slapd restarts after SIGKILL during the recording"
held=$(count '(certpinThumbprint=*)')
echo "# recording: $n modifies answered at the kill; $held of $N users hold a certificate after restart"
check "the kill came in the middle of the job (0 < $held < $N)" test "$held" -gt 0 -a "$held" -lt "$N"
check "every entry consistent after the crash" certs_consistent
root_modify -c -f "$TESTDIR/record.ldif" >"$TESTDIR/rerun.out" 2>&1
check_eq "re-running the job completes it: every user holds one certificate" "$N" "$(count '(certpinThumbprint=*)')"
check "every entry consistent after the re-run" certs_consistent

# ---- revocation, interrupted ------------------------------------------------------
n=$(crash_during "$MODS" root_modify -c -f "$TESTDIR/revoke.ldif")
srv_start 1
ok "slapd restarts after SIGKILL during the bulk revocation"
held=$(count '(certpinThumbprint=*)')
revoked=$(count '(certpinRevoked=*)')
echo "# revocation: $n modifies answered at the kill; $revoked revoked, $held still held after restart"
check "the kill came in the middle of the job (0 < $revoked < $N)" test "$revoked" -gt 0 -a "$revoked" -lt "$N"
check_eq "every user is either revoked or still holds the certificate, never both or neither" "$N" "$((held + revoked))"
check "every entry consistent after the crash" certs_consistent
root_modify -c -f "$TESTDIR/revoke.ldif" >"$TESTDIR/rerun.out" 2>&1
check_eq "re-running the job completes it: nobody holds a certificate" 0 "$(count '(certpinThumbprint=*)')"
check_eq "every user has a revocation record" "$N" "$(count '(certpinRevoked=*)')"
check_eq "exactly one record each (the re-run did not duplicate any)" "$N" \
	"$(root_search -b "$PEOPLE" '(certpinRevoked=*)' certpinRevoked | grep -c '^certpinRevoked: ')"
check_eq "each record keeps the reason" "$N" \
	"$(root_search -b "$PEOPLE" '(certpinRevoked=*)' certpinRevoked | grep -c 'reason=bulk revocation')"
check "every entry consistent" certs_consistent

# ---- issuance, interrupted ----------------------------------------------------------
# One administrator connection issuing a certificate to every user who holds
# none (the CSR is the same for all: allowed, each gets its own serial).
csr bulk
cat > "$TESTDIR/bulkissue.py" <<'PY'
import sys, ldap, ldap.extop
uri, oid, rootdn, rootpw, csrfile, people, n = sys.argv[1:]
def tlv(tag, body):
    k = len(body)
    l = bytes([k]) if k < 0x80 else bytes([0x82]) + k.to_bytes(2, "big")
    return bytes([tag]) + l + body
csr = open(csrfile, "rb").read()
l = ldap.initialize(uri)
l.simple_bind_s(rootdn, rootpw)
holders = {dn.lower() for dn, e in l.search_s(people, ldap.SCOPE_ONELEVEL, "(certpinThumbprint=*)", ["1.1"])}
done = 0
for i in range(1, int(n) + 1):
    dn = "uid=u%d,%s" % (i, people)
    if dn.lower() in holders:
        continue
    value = tlv(0x30, tlv(0x04, csr) + tlv(0x80, dn.encode()) + tlv(0x83, bytes([24])))
    l.extop_s(ldap.extop.ExtendedRequest(oid, value))
    done += 1
print("issued %d" % done)
PY
bulk_issue() { "$PY" "$TESTDIR/bulkissue.py" "$LDAPI" "$ISSUE_OID" "$ROOTDN" "$ROOTPW" "$PKI/bulk.csr.der" "$PEOPLE" "$N"; }
LDAPI=$(srv_uri 1 ldapi)
n=$(crash_during 'RESULT oid=' bulk_issue)
srv_start 1
ok "slapd restarts after SIGKILL during the bulk issuance"
held=$(count '(certpinThumbprint=*)')
echo "# issuance: $n issued at the kill; $held of $N users hold a certificate after restart"
check "the kill came in the middle of the job (0 < $held < $N)" test "$held" -gt 0 -a "$held" -lt "$N"
check "every entry consistent after the crash" certs_consistent
check_out "re-running the job completes it" "^issued $((N - held))\$" bulk_issue
check_eq "every user holds one certificate" "$N" "$(count '(certpinThumbprint=*)')"
check_eq "exactly one each" "$N" "$(root_search -b "$PEOPLE" '(certpinThumbprint=*)' certpinThumbprint | grep -c '^certpinThumbprint: ')"
check "every entry consistent after the re-run" certs_consistent

# ---- certpin-revoke, interrupted ------------------------------------------------------
for i in $(seq 1 "$N"); do echo "uid=u$i,$PEOPLE"; done > "$TESTDIR/users.dns"
tool_revoke() { "$BUILDDIR/tools/certpin-revoke" -H "$LDAPI" -x -D "$ROOTDN" -w "$ROOTPW" -c \
	--reason "bulk tool" -f "$TESTDIR/users.dns"; }
n=$(crash_during "$MODS" tool_revoke)
srv_start 1
ok "slapd restarts after SIGKILL during certpin-revoke"
held=$(count '(certpinThumbprint=*)')
echo "# certpin-revoke: $n modifies answered at the kill; $held of $N still hold a certificate"
check "the kill came in the middle of the job (0 < $held < $N)" test "$held" -gt 0 -a "$held" -lt "$N"
check "every entry consistent after the crash" certs_consistent
tool_revoke >"$TESTDIR/rerun.out" 2>&1
check_eq "re-running certpin-revoke completes it: nobody holds a certificate" 0 "$(count '(certpinThumbprint=*)')"
check_eq "every user has exactly one record with the tool's reason" "$N" \
	"$(root_search -b "$PEOPLE" '(certpinRevoked=*)' certpinRevoked | grep -c 'reason=bulk tool')"
check "every entry consistent at the end" certs_consistent
check "slapd is alive" srv_alive 1
done_testing
