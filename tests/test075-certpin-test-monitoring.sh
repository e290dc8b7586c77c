#!/bin/bash
# test075-certpin-test-monitoring: certpin-test as a synthetic transaction
# for Nagios/Icinga/monitoring-plugins (--nagios): one line "CERTPIN OK -
# logon as DN in N ms | latency=Ss;W;C", exit 0 OK, 1 WARNING above
# --warning, 2 CRITICAL on failure or above --critical, 3 UNKNOWN on usage
# and set-up errors; run after run it leaves nothing behind (the test
# certificate revoked and its record removed) when bound as an
# administrator, and says so (WARNING) when something stays; records left
# by users' own runs are pruned with certpin-revoke --prune --reason
# certpin-test.  Also: certpin-test and certpin-issue speak --output=json.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/lib-clienttools.sh"
. "$SRCDIR/tests/lib-toolfix.sh"

pki_standard
client_server 1
cd "$TESTDIR" || die "cd"
printf 'pw-kenmyer' > "$TESTDIR/pw.ken"
printf 'pw-certadmin' > "$TESTDIR/pw.adm"
chmod 600 "$TESTDIR/pw.ken" "$TESTDIR/pw.adm"
ADM="-D $CERTADMIN -y $TESTDIR/pw.adm"
nrec() { root_search -b "$KEN" -s base certpinRevoked | grep -c '^certpinRevoked:' || true; }
nrthumb() { root_search -b "$KEN" -s base certpinRevokedThumbprint | grep -c '^certpinRevokedThumbprint:' || true; }
# nag ARGS...: certpin-test --nagios; sets OUT (stdout), ERR, RC
nag() { OUT=$(timeout -k 5 60 "$CTEST" --nagios "$@" 2>"$TESTDIR/nag.err") && RC=0 || RC=$?; ERR=$(cat "$TESTDIR/nag.err"); }
LINE_RE='^CERTPIN (OK|WARNING|CRITICAL|UNKNOWN) - [^|]*( \| latency=[0-9]+\.[0-9]{3}s;[0-9.]+;[0-9.]+)?$'

# ---- OK, and nothing left behind ---------------------------------------------------------
snap=$(snapshot "$KEN")
n0=$(nthumbs "$KEN")
r0=$(nrec)
nag $TRUST -H "$URI_S" $ADM kenmyer@example.com
check_eq "as an administrator: exit 0 (OK)" 0 "$RC"
check_out "one OK line: logon as the user's DN, in ms, latency with the default thresholds" \
	"^CERTPIN OK - logon as $KEN in [0-9]+ ms \| latency=[0-9]+\.[0-9]{3}s;0\.5;2$" printf '%s\n' "$OUT"
check_eq "... exactly one line on standard output" 1 "$(printf '%s\n' "$OUT" | wc -l)"
check_eq "... nothing on standard error" "" "$ERR"
check_eq "... the test certificate is gone" "$n0" "$(nthumbs "$KEN")"
check_eq "... and no revocation record is left" "$r0" "$(nrec)"
check_eq "... nor a certpinRevokedThumbprint" "0" "$(nrthumb)"
# (the first record gave the entry the class certpinHistory, which stays)
snap=$(snapshot "$KEN")
for i in 1 2 3; do nag $TRUST -H "$URI_S" $ADM kenmyer@example.com; done
check_eq "three more runs: still OK" 0 "$RC"
strip() { grep -v -i '^modifyTimestamp\|^entryCSN\|^modifiersName'; }
check_eq "... and the entry is as after the first run (nothing per run)" "$(printf '%s\n' "$snap" | strip)" \
	"$(snapshot "$KEN" | strip)"
ms=$(printf '%s\n' "$OUT" | sed -n 's/.* in \([0-9]*\) ms .*/\1/p')
lat=$(printf '%s\n' "$OUT" | sed -n 's/.*latency=\([0-9.]*\)s;.*/\1/p')
check "the ms of the text and the seconds of the performance data agree ($ms ms, ${lat}s)" \
	"$PY" -c "import sys; sys.exit(abs($ms/1000.0 - $lat) > 0.002)"

# ---- WARNING and CRITICAL by latency -----------------------------------------------------
nag --warning 0.001 --critical 60 $TRUST -H "$URI_S" $ADM kenmyer@example.com
check_eq "--warning 0.001: exit 1 (WARNING)" 1 "$RC"
check_out "... WARNING line, saying above what, thresholds in the data" \
	"^CERTPIN WARNING - logon as $KEN in [0-9]+ ms \(above 0\.001 s\) \| latency=[0-9.]+s;0\.001;60$" printf '%s\n' "$OUT"
nag --warning 0.0005 --critical 0.001 $TRUST -H "$URI_S" $ADM kenmyer@example.com
check_eq "--critical 0.001: exit 2 (CRITICAL)" 2 "$RC"
check_out "... CRITICAL line" "^CERTPIN CRITICAL - logon as $KEN in [0-9]+ ms \(above 0\.001 s\) \| latency=[0-9.]+s;0\.0005;0\.001$" \
	printf '%s\n' "$OUT"
nag --critical 120 --warning 60 $TRUST -H "$URI_S" $ADM kenmyer@example.com
check_eq "generous thresholds: OK" "0" "$RC"
check_out "... the thresholds given are in the data" ";60;120$" printf '%s\n' "$OUT"
check_eq "none of these left a record" "$r0" "$(nrec)"

# ---- CRITICAL on failure ----------------------------------------------------------------------
nag $TRUST -H "$URI_S" -D "$CERTADMIN" -w wrong kenmyer@example.com
check_eq "a wrong password: exit 2 (CRITICAL)" 2 "$RC"
check_out "... one CRITICAL line with the error" "^CERTPIN CRITICAL - Bind as $CERTADMIN failed: wrong password" printf '%s\n' "$OUT"
check_out "... a well-formed line" "$LINE_RE" printf '%s\n' "$OUT"
nag $TRUST -H "$URI_S" $ADM "$NOCERT"
check_eq "a user not enabled for certificates: CRITICAL" 2 "$RC"
nag $TRUST -H "ldaps://127.0.0.1:$(free_port)/" $ADM kenmyer@example.com
check_eq "no server: CRITICAL" 2 "$RC"
check_out "... cannot connect" "^CERTPIN CRITICAL - .*connect" printf '%s\n' "$OUT"
nag $TRUST -H "$URI_S" $ADM 'no|body@example.com'
check_eq "an unknown user whose name holds '|': CRITICAL" 2 "$RC"
check_eq "... the text holds no '|' (it would start the performance data)" 1 \
	"$(printf '%s\n' "$OUT" | tr -cd '|' | wc -c)"
fake_server silent
t0=$(date +%s)
nag -o nettimeout=1 $TRUST -H "ldaps://127.0.0.1:$FAKE_PORT/" $ADM kenmyer@example.com
t1=$(date +%s)
fake_stop
check_eq "a server that never answers: CRITICAL" 2 "$RC"
check "... within the watchdog (3 x nettimeout; took $((t1 - t0)) s)" test $((t1 - t0)) -le 6
check_out "... timed out" "^CERTPIN CRITICAL - .*timed out" printf '%s\n' "$OUT"

# ---- UNKNOWN on usage and set-up errors ------------------------------------------------------------
unknown() {	# DESC REGEX ARGS...
	local desc=$1 re=$2
	shift 2
	nag "$@"
	if [ "$RC" -eq 3 ] && printf '%s\n' "$OUT" | grep -Eq "^CERTPIN UNKNOWN - .*$re"; then ok "$desc"; else
		notok "$desc (exit $RC, wanted 3 and /$re/)"; printf '%s\n%s\n' "$OUT" "$ERR" | sed 's/^/#   /' | head -5; fi
}
unknown "no -H: UNKNOWN (3)" "-H URI is required" $ADM kenmyer@example.com
unknown "an unknown option: UNKNOWN" "unrecognized option|invalid option" --bogus -H "$URI_S" kenmyer@example.com
unknown "a bad threshold: UNKNOWN" "not a latency" --warning abc -H "$URI_S" $ADM kenmyer@example.com
unknown "--warning above --critical: UNKNOWN" "above --critical" --warning 5 --critical 1 -H "$URI_S" $ADM kenmyer@example.com
unknown "--keep: UNKNOWN (a check cleans up)" "no --keep" --keep -H "$URI_S" $ADM kenmyer@example.com
unknown "-j: UNKNOWN (its own line)" "no --output" -j -H "$URI_S" $ADM kenmyer@example.com
unknown "an unreadable --cert: UNKNOWN" "missing.crt" --cert "$TESTDIR/missing.crt" --key "$TESTDIR/missing.key" \
	-H "$URI_S" kenmyer@example.com
check_rc_out 2 "without --nagios, --warning is a usage error (2)" "thresholds of --nagios" \
	"$CTEST" --warning 1 -H "$URI_S" $ADM kenmyer@example.com

# ---- a device certificate: nothing issued, nothing recorded -----------------------------------------
record_cert pilar "$PKI/pilar.crt" >/dev/null 2>&1 || record_cert pilar "$PKI/pilar.der" >/dev/null || die "record pilar"
psnap=$(snapshot "$PILAR")
nag $TRUST -H "$URI_S" --cert "$PKI/pilar.crt" --key "$PKI/pilar.key" pilar@example.com
check_eq "--cert/--key (a monitoring device's certificate): OK" 0 "$RC"
check_out "... logon as Pilar" "^CERTPIN OK - logon as $PILAR in " printf '%s\n' "$OUT"
check_eq "... the entry did not change at all" "$psnap" "$(snapshot "$PILAR")"

# ---- the user's own runs: the record is removed when the bind may, else it stays and is said ------
check_rc 0 "(the user's own password, text mode)" "$CTEST" $TRUST -H "$URI_S" -y "$TESTDIR/pw.ken" "$KEN"
"$CTEST" $TRUST -H "$URI_S" -y "$TESTDIR/pw.ken" "$KEN" > "$TESTDIR/self.out" 2>&1
r1=$(nrec)
if grep -q "note: the revocation record of the test certificate .* stays" "$TESTDIR/self.out"; then
	check "... the record stays with reason certpin-test, as the run says ($r1 records)" test "$r1" -gt "$r0"
	check_out "... the note names the prune command" "certpin-revoke --prune --reason certpin-test --all" \
		cat "$TESTDIR/self.out"
else
	check_eq "... the bind may clear the record (this ACL): nothing stays, nothing said" "$r0" "$r1"
	ok "... (no note needed)"
fi
nag $TRUST -H "$URI_S" -y "$TESTDIR/pw.ken" "$KEN"
r2=$(nrec)
if [ "$r2" -gt "$r1" ]; then
	check_eq "--nagios as the user, its record stays: WARNING, not OK" 1 "$RC"
	check_out "... saying what stays and what to do" "^CERTPIN WARNING - logon as $KEN in [0-9]+ ms( \(above [0-9.]+ s\))?; the revocation record of the test certificate stays" \
		printf '%s\n' "$OUT"
else
	check_eq "--nagios as the user, the bind may clear its record: OK" 0 "$RC"
	check_eq "... and nothing stays" "$r1" "$r2"
fi
nag $TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.good" "$KEN"
r3=$(nrec)
check "--nagios by phone and PIN: OK, or WARNING when its record stays (exit $RC)" \
	test "$RC" -eq 0 -a "$r3" -eq "$r2" -o "$RC" -eq 1 -a "$r3" -gt "$r2"
# the records of certpin-test, whoever left them: one prune, as the man page says
check_rc 0 "certpin-revoke --prune --reason certpin-test --all (as the administrator)" \
	"$REVOKE" -x -D "$CERTADMIN" -w pw-certadmin -H "$(srv_uri 1 ldapi)" --prune --reason certpin-test --all
check_eq "... no record of certpin-test is left" 0 \
	"$(root_search -b "$SUFFIX" '(certpinRevoked=*)' certpinRevoked | grep -c 'reason=certpin-test' || true)"

# ---- text and JSON as the administrator: the record is removed -------------------------------------
out=$("$CTEST" -v $TRUST -H "$URI_S" $ADM kenmyer@example.com 2>&1) && rc=0 || rc=$?
check_eq "text mode as the administrator: Success" "0" "$rc"
check_out "-v: the record is removed" "^VERBOSE: Record removed: nothing of the test stays on the entry$" printf '%s\n' "$out"
check_eq "-j: LeftBehind null" "Success null" \
	"$("$CTEST" -j $TRUST -H "$URI_S" $ADM kenmyer@example.com 2>/dev/null | jq -r '"\(.Result) \(.LeftBehind)"')"

# ---- certpin-issue --output=json --------------------------------------------------------------------
json=$("$ISSUE" -j $TRUST -H "$URI_S" -x $ADM --out "$TESTDIR/j" kenmyer@example.com 2>/dev/null) && rc=0 || rc=$?
check_eq "certpin-issue -j: exit 0" 0 "$rc"
check_eq "... Thumbprint as openssl computes it" "$(openssl x509 -in "$TESTDIR/j.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)" \
	"$(printf '%s' "$json" | jq -r .Thumbprint)"
check_eq "... the files named" "$TESTDIR/j.crt $TESTDIR/j.key $TESTDIR/j-ca.crt" \
	"$(printf '%s' "$json" | jq -r '"\(.Certificate) \(.Key) \(.CA)"')"
check_out "... Subject, Issuer, SerialNumber, NotAfter" '^Subject Issuer SerialNumber Thumbprint NotAfter Certificate Key CA$' \
	sh -c "printf '%s' '$(printf '%s' "$json" | base64 -w0)' | base64 -d | jq -r 'keys_unsorted | join(\" \")'"

check "slapd is still running" srv_alive 1
done_testing
