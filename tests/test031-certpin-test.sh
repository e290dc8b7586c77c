#!/bin/bash
# test031-certpin-test: certpin-test answers "can this user log on with a
# client certificate, and if not, why?" as Test-CsClientAuth does: Target,
# Result, Latency, Error, Diagnosis (or JSON); success by each credential,
# the test certificate revoked afterwards (or kept), and one failure per
# diagnosis, each with exit status 1; usage errors exit 2.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/lib-clienttools.sh"

pki_standard
client_server 1
cd "$TESTDIR" || die "cd"

LAT='^Latency   : [0-9]{2}:[0-5][0-9]:[0-5][0-9]\.[0-9]{7}$'

# result FIELD OUTPUT: the value of one field of the text output
result() { printf '%s\n' "$2" | sed -n "s/^$1 *: \{0,1\}//p"; }

# ct_run ARGS...: run certpin-test, set OUT (stdout+stderr) and RC
# OUT: everything it printed; REPORT: standard output alone (the report;
# notes and warnings go to standard error)
ct_run() {
	OUT=$("$CTEST" "$@" 2>"$TESTDIR/ct.err") && RC=0 || RC=$?
	REPORT=$OUT
	OUT=$(cat "$TESTDIR/ct.err"; printf '%s\n' "$REPORT")
}

# fails DESC DIAG-REGEX ARGS...: certpin-test exits 1 with Result Failure and
# a Diagnosis (or Error) matching DIAG-REGEX
fails() {
	local desc=$1 re=$2
	shift 2
	ct_run "$@"
	if [ "$RC" -eq 1 ] && [ "$(result Result "$OUT")" = Failure ] &&
	   printf '%s\n' "$OUT" | grep -E '^(Error|Diagnosis) ' | grep -Eq -- "$re"; then
		ok "$desc"
	else
		notok "$desc (exit $RC, wanted 1, Failure and /$re/)"
		printf '%s\n' "$OUT" | sed 's/^/#   /' | head -n 20
	fi
}

# ---- success: the user's own password ------------------------------------------------
n0=$(nthumbs "$KEN")
r0=$(root_search -b "$KEN" -s base certpinRevoked | grep -c '^certpinRevoked:' || true)
printf 'pw-kenmyer' > "$TESTDIR/pw.ken"
chmod 600 "$TESTDIR/pw.ken"
ct_run $TRUST -H "$URI_S" -y "$TESTDIR/pw.ken" "$KEN"
check_eq "Ken's password (-y): exit 0" 0 "$RC"
check_eq "the five fields, in order, as the original" "Target|Result|Latency|Error|Diagnosis" \
	"$(printf '%s\n' "$REPORT" | sed 's/ *:.*//' | paste -sd '|')"
check_eq "Target is the URI" "$URI_S" "$(result Target "$OUT")"
check_eq "Result: Success" Success "$(result Result "$OUT")"
check_out "Latency as hh:mm:ss.fffffff" "$LAT" printf '%s\n' "$OUT"
check_eq "empty Error and Diagnosis" "|" "$(result Error "$OUT")|$(result Diagnosis "$OUT")"
check_eq "the test certificate is gone from the entry" "$n0" "$(nthumbs "$KEN")"
# the record of its revocation is removed again when the bind may (Relax
# Rules: an administrator, or here where the ACL still lets users write
# certpinRevoked), else it stays with reason certpin-test and the run says so
r1=$(root_search -b "$KEN" -s base certpinRevoked | grep -c 'reason=certpin-test' || true)
if printf '%s\n' "$OUT" | grep -q "note: the revocation record of the test certificate .* stays"; then
	check_eq "its revocation record stays with reason certpin-test, as the run says" "$((r0 + 1))" "$r1"
else
	check_eq "its revocation record is gone too: nothing of the test stays" "$r0" "$r1"
fi

# -v: every step as it happens
ct_run -v $TRUST -H "$URI_L" -ZZ -y "$TESTDIR/pw.ken" -k rsa "$KEN"
check_eq "StartTLS, RSA test key: exit 0" 0 "$RC"
for step in "Connecting to $URI_L" "TLS established, server certificate trusted" \
	"Simple bind as $KEN" "enabled for certificates \(certpinUser\)" \
	"Generating an RSA key" "Requesting a certificate for $KEN" "Issued: subject CN=kenmyer" \
	"presenting the certificate" "SASL EXTERNAL bind" "WhoAmI: dn:$KEN" \
	"The certificate logs on as the user" "Unbind" "Revoking the test certificate"; do
	check_out "-v shows: $step" "^VERBOSE: .*$step" printf '%s\n' "$OUT"
done

out=$(on_tty pw-kenmyer "Enter LDAP Password: " "$CTEST" $TRUST -H "$URI_S" -W "$KEN" 2>&1) && rc=0 || rc=$?
check_eq "Ken's password typed on a terminal (-W): exit 0" 0 "$rc"
if printf '%s' "$out" | grep -q "pw-kenmyer"; then notok "the password is not echoed"; else ok "the password is not echoed"; fi

# --keep, and the endpoint id of the test certificate
ct_run $TRUST -H "$URI_S" -y "$TESTDIR/pw.ken" --keep "$KEN"
check_eq "--keep: exit 0" 0 "$RC"
check_eq "--keep leaves the test certificate on the entry" "$((n0 + 1))" "$(nthumbs "$KEN")"
rec=$(root_search -b "$KEN" -s base certpinCertInfo | grep -c 'endpoint=certpin-test\$' || true)
check_eq "the kept certificate has the endpoint id certpin-test" 1 "$rec"

# --output=json
ct_run --output=json $TRUST -H "$URI_S" -y "$TESTDIR/pw.ken" "$KEN"
check_eq "--output=json: exit 0" 0 "$RC"
check_eq "--output=json: one object with the five fields" \
	"$URI_S|Success|null|null" \
	"$(printf '%s' "$REPORT" | jq -r '[.Target, .Result, (.Error|tostring), (.Diagnosis|tostring)] | join("|")')"
check_out "--output=json: Latency" '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}$' \
	printf '%s\n' "$(printf '%s' "$REPORT" | jq -r .Latency)"

# ---- success: an administrator, the user named by UPN --------------------------------
ct_run $TRUST -H "$URI_S" -D "$CERTADMIN" -w pw-certadmin kenmyer@example.com
check_eq "administrator for kenmyer@example.com: Success" "0 Success" "$RC $(result Result "$OUT")"
check_eq "the administrator revoked the test certificate" "$((n0 + 1))" "$(nthumbs "$KEN")"

# ---- success: phone number and PIN --------------------------------------------------------
ct_run -v $TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.good" "$KEN"
check_eq "phone and PIN from a file: Success" "0 Success" "$RC $(result Result "$OUT")"
check_out "-v: not binding for the PIN" "VERBOSE: Not binding: the phone number and PIN prove the user" \
	printf '%s\n' "$OUT"
check_eq "the user revoked the PIN path's test certificate" "$((n0 + 1))" "$(nthumbs "$KEN")"
ct_run $TRUST -H "$URI_L" --phone "$PHONE" --pin-file "$TESTDIR/pin.good" sip:kenmyer@example.com
check_eq "phone and PIN on ldap:// (StartTLS), the user named by SIP address: Success" \
	"0 Success" "$RC $(result Result "$OUT")"
out=$(on_tty "$GOODPIN" "Enter PIN: " "$CTEST" $TRUST -H "$URI_S" --phone "$PHONE" "$KEN" 2>&1) && rc=0 || rc=$?
check_eq "PIN typed on a terminal: exit 0" 0 "$rc"
check_out "PIN typed on a terminal: Success" "^Result +: Success" printf '%s\n' "$out"
if printf '%s' "$out" | grep -q "$GOODPIN"; then notok "the PIN is not echoed"; else ok "the PIN is not echoed"; fi

# ---- success: an existing device certificate ------------------------------------------------
record_cert pilar "$PKI/pilar.der" >/dev/null || die "cannot record Pilar's certificate"
snap=$(snapshot "$PILAR")
ct_run $TRUST -H "$URI_S" --cert "$PKI/pilar.crt" --key "$PKI/pilar.key" pilar@example.com
check_eq "--cert/--key tests Pilar's device certificate" "0 Success" "$RC $(result Result "$OUT")"
check_eq "--cert: nothing issued, nothing revoked" "$snap" "$(snapshot "$PILAR")"
{ cat "$PKI/pilar.der"; printf 'x'; } > "$TESTDIR/trail.der"
ct_run $TRUST -H "$URI_S" --cert "$TESTDIR/trail.der" --key "$PKI/pilar.key" pilar@example.com
check_eq "--cert: a DER certificate followed by other bytes is refused (exit 2)" 2 "$RC"
check_out "... saying so" "trail.der: not an X.509 certificate \(PEM or DER\)" printf '%s\n' "$OUT"

# ---- each failure, with what to fix ----------------------------------------------------------
fails "unknown user" "Unknown user .*|No such user" \
	$TRUST -H "$URI_S" -D "$CERTADMIN" -w pw-certadmin nobody@example.com
fails "user not enabled for certificates" "not enabled .*certpinUser" \
	$TRUST -H "$URI_S" -D "$CERTADMIN" -w pw-certadmin "$NOCERT"
snap=$(snapshot "$KEN")
fails "wrong password" "wrong password" $TRUST -H "$URI_S" -w not-the-password "$KEN"
check_eq "nothing issued after the wrong password" "$snap" "$(snapshot "$KEN")"
fails "wrong PIN" "wrong phone number or PIN" \
	$TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.bad" "$KEN"
fails "unknown phone number: the same answer as a wrong PIN" "wrong phone number or PIN" \
	$TRUST -H "$URI_S" --phone "+1 555 9999" --pin-file "$TESTDIR/pin.good" "$KEN"
for i in 1 2 3 4 5; do
	"$CTEST" $TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.bad" "$KEN" >/dev/null 2>&1
done
fails "PIN locked out (the right PIN after too many wrong ones)" "PIN locked out.*|unlocks it" \
	$TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.good" "$KEN"
root_modify >/dev/null <<LDIF
dn: $KEN
changetype: modify
delete: certpinPINFailure
LDIF
ct_run $TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.good" "$KEN"
check_eq "unlocked by the administrator: Success again" "0 Success" "$RC $(result Result "$OUT")"
fails "provisioning refused, with the server's message" \
	"provisioning refused: .*outside the policy" \
	$TRUST -H "$URI_S" -y "$TESTDIR/pw.ken" --validity 2 "$KEN"
fails "TLS: server certificate not trusted" "server certificate not trusted" \
	-o TLS_CACERT="$PKI/foreignca.crt" -H "$URI_S" -y "$TESTDIR/pw.ken" "$KEN"
fails "TLS: client certificate from a foreign CA not accepted" "client certificate not accepted" \
	$TRUST -H "$URI_S" --cert "$PKI/foreign.crt" --key "$PKI/foreign.key" "$KEN"
fails "bind refused with the server's reason (certificate not on the entry)" \
	"refused: Invalid credentials \(49\): certificate not accepted" \
	$TRUST -H "$URI_S" --cert "$PKI/kenmyer2.crt" --key "$PKI/kenmyer2.key" "$KEN"
fails "an expired certificate: refused, and the diagnosis says it expired" "expired on 2021" \
	$TRUST -H "$URI_S" --cert "$PKI/expired.crt" --key "$PKI/expired.key" "$KEN"
fails "identity mismatch after the bind" \
	"Identity mismatch .*bound as dn:$PILAR, expected dn:$KEN" \
	$TRUST -H "$URI_S" --cert "$PKI/pilar.crt" --key "$PKI/pilar.key" "$KEN"
fails "a key that does not belong to the certificate" "does not belong" \
	$TRUST -H "$URI_S" --cert "$PKI/pilar.crt" --key "$PKI/kenmyer.key" "$PILAR"
port=$(free_port)
fails "nothing listening" "cannot contact ldap://127.0.0.1:$port" \
	$TRUST -H "ldap://127.0.0.1:$port" -y "$TESTDIR/pw.ken" "$KEN"
fails "the user's password with a UPN the anonymous session cannot find" \
	"Could not find kenmyer@example.com anonymously.*|Give the user's DN, or -D" \
	$TRUST -H "$URI_S" -y "$TESTDIR/pw.ken" kenmyer@example.com
port=$(free_port)
"$PY" -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(30)' "$port" &
HANG=$!
for i in $(seq 1 50); do
	"$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
		"$port" 2>/dev/null && break
	sleep 0.1
done
start=$(date +%s)
fails "a server that accepts and never answers: timed out (the watchdog)" \
	"did not answer within 3 seconds" -o nettimeout=1 $TRUST -H "ldaps://127.0.0.1:$port/" \
	--cert "$PKI/pilar.crt" --key "$PKI/pilar.key" "$PILAR"
check "the test ended in time" test $(( $(date +%s) - start )) -le 10
kill "$HANG" 2>/dev/null
wait "$HANG" 2>/dev/null
ct_run -j $TRUST -H "$URI_S" -w not-the-password "$KEN"
check_eq "-j failure: Result, Error and Diagnosis set" "1|Failure|true|true" \
	"$RC|$(printf '%s' "$OUT" | jq -r '[.Result, (.Error|test("wrong password")), (.Diagnosis|length > 0)] | map(tostring) | join("|")')"

# ---- usage errors: exit 2, nothing done --------------------------------------------------------
snap=$(snapshot "$KEN")
check_rc_out 2 "no -H" "-H URI is required" "$CTEST" -y "$TESTDIR/pw.ken" "$KEN"
check_rc_out 2 "no identity" "identity is required" "$CTEST" -H "$URI_S" -y "$TESTDIR/pw.ken"
check_rc_out 2 "no credential" "a credential is required" "$CTEST" -H "$URI_S" "$KEN"
check_rc_out 2 "--cert without --key" "go together" "$CTEST" -H "$URI_S" --cert "$PKI/pilar.crt" "$KEN"
check_rc_out 2 "an option of the common parser given twice" "-D previously specified" \
	"$CTEST" -H "$URI_S" -D a -D b -w x "$KEN"
check_rc_out 2 "an unknown option" "unrecognized|invalid option" "$CTEST" --bogus -H "$URI_S" "$KEN"
check_rc_out 2 "ldapi:// cannot carry a certificate" "ldapi" \
	"$CTEST" -H "$(srv_uri 1 ldapi)" -y "$TESTDIR/pw.ken" "$KEN"
check_rc_out 2 "no terminal for -W" "no terminal" no_tty "$CTEST" $TRUST -H "$URI_S" -W "$KEN"
check_eq "usage errors changed nothing" "$snap" "$(snapshot "$KEN")"

# ---- a user who already holds as many certificates as allowed ------------------------------
# constraintViolation (19) is a PIN lockout only when the server says so
srv_stop 1
srv_start 1 config
ov="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
held=$(nthumbs "$KEN")
[ "$held" -ge 1 ] || die "Ken holds no certificate for the limit test"
cfg_set "$ov" olcCertpinMaxCertificates "$held" >/dev/null || die "cannot set olcCertpinMaxCertificates"
snap=$(snapshot "$KEN")
for how in password PIN; do
	if [ $how = password ]; then set -- -y "$TESTDIR/pw.ken"
	else set -- --phone "$PHONE" --pin-file "$TESTDIR/pin.good"; fi
	fails "at certpin-max-certificates ($how): the server's message" \
		"constraint violated: .*certpin-max-certificates" $TRUST -H "$URI_S" "$@" "$KEN"
	check_eq "at certpin-max-certificates ($how): not diagnosed as a PIN lockout" "" \
		"$(printf '%s\n' "$OUT" | grep -i 'PIN locked')"
done
check_eq "the refusals changed nothing" "$snap" "$(snapshot "$KEN")"

check "slapd is still running" srv_alive 1
done_testing
