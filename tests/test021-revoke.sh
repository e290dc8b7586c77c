#!/bin/bash
# test021-revoke: certpin-revoke revokes all of a user's certificates or the
# one named by thumbprint, with a reason; -n (WhatIf) changes nothing at all;
# refusals (unknown, ambiguous, wildcard, injection, not held) change
# nothing; --force, -c, --confirm behave as documented; it is idempotent;
# bulk pipelines (certpin-get --output=ldif | certpin-revoke, ldapsearch dn |
# certpin-revoke) work on one connection with pipelined modifies; an
# ordinary user can revoke only their own certificates, an auditor none.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tools.sh"
. "$(dirname "$0")/lib-logon.sh"

pki_standard
for n in 1 2 3 4 5 6; do pki_cert ca "extra$n" kenmyer client; done
tools_server 1
ok "slapd with certpin, msuser.schema and the tools' ACLs started"
for c in kenmyer kenmyer2; do record_cert kenmyer "$PKI/$c.der" >/dev/null || die "record $c"; done
record_cert pilar "$PKI/pilar.der" >/dev/null || die "record pilar"
record_cert jdoe "$PKI/jdoe.der" >/dev/null || die "record jdoe"
for c in expired future; do record_cert jdoe2 "$PKI/$c.der" >/dev/null || die "record $c"; done
TP_K1=$(der_sha256 "$PKI/kenmyer.der")
TP_K2=$(der_sha256 "$PKI/kenmyer2.der")
TP_P=$(der_sha256 "$PKI/pilar.der")
TP_J=$(der_sha256 "$PKI/jdoe.der")
TP_EXP=$(der_sha256 "$PKI/expired.der")
TP_FUT=$(der_sha256 "$PKI/future.der")
tps_of() { jq -r '.[].Thumbprint' | sort; }
held() { as_root "$GET" --output=json "$@" | tps_of | tr '\n' ' ' | sed 's/ $//'; }
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
mods() { grep -c " MOD dn=" "$TESTDIR/srv1/slapd.log"; }

# ---- WhatIf ---------------------------------------------------------------------------
d0=$(tools_dump)
m0=$(mods)
out=$(as_admin "$REVOKE" -n "Ken Myer" 2>"$TESTDIR/err") && rc=0 || rc=$?
check_eq "-n exits 0" 0 "$rc"
check_eq "-n prints each certificate that would be revoked, prefixed '!'" 2 \
	"$(printf '%s\n' "$out" | grep -cE "^!revoking certificate ($TP_K1|$TP_K2) \(serial [0-9A-F]+, expires [0-9T:Z-]{20}\) of \"$KEN\"$")"
check_out "-n: the summary says what would be done" "WhatIf: 2 certificates would be revoked for 1 user" cat "$TESTDIR/err"
check_out "-n -v also shows the reason" "^!	reason: lost phone$" as_admin "$REVOKE" -n -v --reason "lost phone" "Ken Myer"
check_eq "-n over a bulk pipeline lists every certificate" 6 \
	"$(as_root "$GET" --all --output=ldif | as_admin "$REVOKE" -n 2>/dev/null | grep -c '^!revoking certificate')"
check_eq "-n: the directory is exactly as before" "$d0" "$(tools_dump)"
check_eq "-n: slapd received no modify at all" "$m0" "$(mods)"
check_rc_out 2 "--confirm with -n is refused (a usage error: 2)" "nothing would be done to confirm" as_admin "$REVOKE" -n --confirm "Ken Myer"

# ---- refusals change nothing -------------------------------------------------------------
refused() {	# RC DESC REGEX ARGS...: certpin-revoke as admin fails so, directory unchanged
	local rc=$1 desc=$2 re=$3 before
	shift 3
	before=$(tools_dump)
	check_rc_out "$rc" "$desc" "$re" as_admin "$REVOKE" "$@"
	check_eq "... and changes nothing" "$before" "$(tools_dump)"
}
refused 1 "an ambiguous display name" '"John Doe" matches 2 users' "John Doe"
refused 32 "an unknown user" '"Nobody Here": no such user' "Nobody Here"
refused 1 "a wildcard" "wildcards are not allowed" "Ken*"
refused 1 "the injection *)(uid=*" "wildcards are not allowed" '*)(uid=*'
refused 32 "the injection x)(uid=kenmyer finds nobody" "no such user" 'x)(uid=kenmyer'
refused 32 "the injection Ken Myer)(uid=kenmyer finds nobody" "no such user" 'Ken Myer)(uid=kenmyer'
refused 16 "a thumbprint the user does not hold" "holds no certificate with thumbprint $TP_P" \
	--thumbprint "$TP_P" "Ken Myer"
refused 2 "a malformed thumbprint (a usage error: 2)" "is not a SHA-256 or SHA-1 thumbprint" --thumbprint 1234 "Ken Myer"
refused 32 "without -c the run stops at the first error" "stopped after 1 of 2 identities" \
	"Nobody Here" "Pilar Ackerman"
d_empty=$(tools_dump)
check_rc_out 0 "no identities at all (an empty pipe) is success with nothing done" \
	"no identities given: nothing to do" as_admin "$REVOKE" < /dev/null
check_eq "... and changes nothing" "$d_empty" "$(tools_dump)"
d1=$(tools_dump)
check_rc_out 0 "--force: an unknown user is no error" "0 certificates revoked for 0 users" \
	as_admin "$REVOKE" --force "Nobody Here"
check_rc_out 0 "--force: a certificate not held is no error" "0 certificates revoked" \
	as_admin "$REVOKE" --force --thumbprint "$TP_P" "Ken Myer"
check_eq "--force printed no error message" "" \
	"$(as_admin "$REVOKE" --force "Nobody Here" 2>&1 | grep -v 'certificates revoked')"
check_eq "... and changed nothing" "$d1" "$(tools_dump)"

# ---- revoking ------------------------------------------------------------------------------
check_eq "certpin-get --all --expires-before 2022-01-01 --output=ldif | certpin-revoke: only that certificate" \
	"0 $TP_FUT" \
	"$(as_root "$GET" --all --expires-before 2022-01-01 --output=ldif | as_admin "$REVOKE" >/dev/null 2>&1; echo "$? $(held sip:john.doe@example.com)")"
check_rc_out 0 "--thumbprint revokes one certificate, with a reason" "1 certificate revoked for 1 user" \
	as_admin "$REVOKE" --thumbprint "$TP_K1" --reason 'lost phone $1 \ taxi' "Ken Myer"
check_eq "... the other stays" "$TP_K2" "$(held "Ken Myer")"
rev=$(as_root "$GET" --revoked --output=json "Ken Myer")
check_eq "... the history records it" "$TP_K1" "$(printf '%s' "$rev" | jq -r '.[].Thumbprint')"
check_eq "... with the reason (\$ and \\ kept)" 'lost phone $1 \ taxi' "$(printf '%s' "$rev" | jq -r '.[].Reason')"
check_eq "... and who revoked it" "$ADMIN" "$(printf '%s' "$rev" | jq -r '.[].RevokedBy')"
d2=$(tools_dump)
check_rc_out 0 "idempotent: the same revocation again succeeds" "0 certificates revoked" \
	as_admin "$REVOKE" --thumbprint "$TP_K1" "Ken Myer"
check_out "... saying it was already revoked (-v)" "certificate $TP_K1 already revoked" \
	as_admin "$REVOKE" -v --thumbprint "$TP_K1" "Ken Myer"
check_eq "... and changing nothing" "$d2" "$(tools_dump)"
sha1=$(openssl x509 -inform DER -in "$PKI/kenmyer2.der" -noout -fingerprint -sha1 | sed 's/.*=//')
check_out "a SHA-1 thumbprint as Windows shows it (colons) names a certificate" \
	"^!revoking certificate $TP_K2 " as_admin "$REVOKE" -n --thumbprint "$sha1" "Ken Myer"
check_rc_out 0 "-v prints each revocation (no '!')" "^revoking certificate $TP_J .* of \"$JDOE\"$" \
	as_admin "$REVOKE" -v sip:jdoe@example.com
check_eq "jdoe holds nothing now" "" "$(held sip:jdoe@example.com)"
check_rc_out 0 "a user without certificates: nothing to do, no error" "1 with nothing to revoke" \
	as_admin "$REVOKE" sip:jdoe@example.com
# -c: continue past errors, exit with the last one
out=$(as_admin "$REVOKE" -c "Nobody Here" "Pilar Ackerman" 2>&1) && rc=0 || rc=$?
check_eq "-c continues after an unknown user and exits 32" 32 "$rc"
check_eq "... Pilar's certificate was revoked" "" "$(held "Pilar Ackerman")"
check_out "... the summary counts the error" "1 certificate revoked for 1 user, 1 error" printf '%s\n' "$out"

# the same user named three times, modifies pipelined: the later ones find
# the certificate gone (noSuchAttribute), re-read the entry, and are done
record_cert jdoe2 "$PKI/extra3.der" >/dev/null || die "record extra3"
check_rc_out 0 "one user named three ways in one -c run: revoked once, no error" \
	"^certpin-revoke: 2 certificates revoked for 1 user$" \
	as_admin "$REVOKE" -c sip:john.doe@example.com john.doe@example.com 'EXAMPLE\jdoe2'
check_eq "... nothing left" "" "$(held sip:john.doe@example.com)"

# ---- --confirm, on the terminal --------------------------------------------------------
record_cert pilar "$PKI/extra1.der" >/dev/null || die "record extra1"
record_cert jdoe "$PKI/extra2.der" >/dev/null || die "record extra2"
ttyrun() { script -qec "$1" /dev/null; }
cmd="$REVOKE --confirm -x -D '$ADMIN' -w pw-admin -H '$(srv_uri 1 ldapi)' 'Pilar Ackerman' sip:jdoe@example.com"
out=$(printf 'n\ny\n' | ttyrun "$cmd" 2>&1)
check_out "--confirm asks per user on the terminal" "Revoke 1 certificate of \"$PILAR\"\? \[y/N\]" printf '%s\n' "$out"
check_eq "... 'n' keeps Pilar's certificate" "$(der_sha256 "$PKI/extra1.der")" "$(held "Pilar Ackerman")"
check_eq "... 'y' revokes jdoe's" "" "$(held sip:jdoe@example.com)"
check_out "... the summary counts the declined user" "1 certificate revoked for 2 users, 1 declined" printf '%s\n' "$out"
d3=$(tools_dump)
check_rc_out 1 "--confirm without a terminal is an error" "needs a terminal" \
	setsid -w sh -c "exec $cmd" < /dev/null
check_eq "... and changes nothing" "$d3" "$(tools_dump)"

# ---- access control ------------------------------------------------------------------------
record_cert jdoe "$PKI/extra6.der" >/dev/null || die "record extra6"
d4=$(tools_dump)
check_rc_out 50 "an ordinary user cannot revoke another user's certificates: insufficient access, not 'nothing to revoke'" \
	"^certpin-revoke: \"$KEN\": Insufficient access \(50\)$" as_user pilar "$REVOKE" "Ken Myer"
check_eq "... and nothing changed" "$d4" "$(tools_dump)"
check_rc_out 50 "... not even with ldapmodify" "Insufficient access" as_user pilar ldapmodify <<LDIF
dn: $KEN
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/kenmyer2.der
LDIF
check_rc_out 50 "an auditor (read access) is refused: ldapsearch-style message" \
	"^certpin-revoke: \"$KEN\": Insufficient access \(50\)$" as_user auditor "$REVOKE" "Ken Myer"
check_eq "... nothing changed" "$d4" "$(tools_dump)"
check_rc_out 0 "a user revokes their own certificate (a lost phone)" "1 certificate revoked for 1 user" \
	as_user kenmyer "$REVOKE" --reason "phone lost" kenmyer@example.com
check_eq "... it is gone" "" "$(held "Ken Myer")"
check_eq "... recorded as revoked by the user" "$KEN" \
	"$(as_root "$GET" --revoked --output=json "Ken Myer" | jq -r --arg t "$TP_K2" '.[] | select(.Thumbprint == $t) | .RevokedBy')"
check_rc_out 50 "... but a user cannot add a certificate to their entry" "Insufficient access" \
	as_user kenmyer ldapmodify <<LDIF
dn: $KEN
changetype: modify
add: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/extra4.der
LDIF

# ---- remote and local -------------------------------------------------------------------------
record_cert kenmyer "$PKI/extra4.der" >/dev/null || die "record extra4"
record_cert kenmyer "$PKI/extra5.der" >/dev/null || die "record extra5"
check_rc_out 0 "remote over ldaps" "1 certificate revoked" \
	tls "$REVOKE" -x -D "$ADMIN" -w pw-admin -H "$(srv_uri 1 ldaps)" \
	--thumbprint "$(der_sha256 "$PKI/extra4.der")" "Ken Myer"
logon_as "end to end: the phone with certificate extra5 logs on as Ken" 1 extra5 "$KEN"
check_rc_out 0 "remote with StartTLS (-ZZ)" "1 certificate revoked" \
	tls "$REVOKE" -ZZ -x -D "$ADMIN" -w pw-admin -H "$(srv_uri 1 ldap)" "Ken Myer"
logon_refused "end to end: after certpin-revoke the phone's logon is refused" 1 extra5
logon_refused "... over StartTLS too" 1 extra5 starttls
check_rc_out 0 "local root over ldapi with SASL EXTERNAL" "1 certificate revoked" \
	as_root "$REVOKE" 'EXAMPLE\jdoe'
check_eq "nobody holds a certificate but Pilar" \
	"$(der_sha256 "$PKI/extra1.der")" \
	"$(as_root "$GET" --all --output=json | tps_of | tr '\n' ' ' | sed 's/ $//')"

# ---- bulk: ldapsearch dn | certpin-revoke, one connection, pipelined -----------------------
N=120
mkdir -p "$PKI/bulk"
openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/bulk/key" 2>/dev/null || die "bulk key"
{
	echo "dn: ou=bulk,$SUFFIX"; echo "objectClass: organizationalUnit"; echo "ou: bulk"; echo
	for i in $(seq 1 $N); do
		openssl req -new -key "$PKI/bulk/key" -subj "/CN=bulk$i" 2>/dev/null |
			openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "$((1000 + i))" \
				-days 30 -outform DER -out "$PKI/bulk/$i.der" 2>/dev/null || die "bulk cert $i"
		echo "dn: uid=bulk$i,ou=bulk,$SUFFIX"; echo "objectClass: inetOrgPerson"
		echo "objectClass: certpinUser"; echo "uid: bulk$i"; echo "cn: Bulk $i"; echo "sn: $i"
		echo "certpinCertificate;binary:< file://$PKI/bulk/$i.der"; echo
	done
} > "$TESTDIR/bulk.ldif"
root_add -f "$TESTDIR/bulk.ldif" >/dev/null || die "cannot add bulk users"
check_eq "$N bulk users hold a certificate each" "$N" \
	"$(as_root "$GET" --all --output=json | jq '[.[] | select(.Identity | test("ou=bulk"))] | length')"
root_search -b "ou=bulk,$SUFFIX" '(uid=*)' dn > "$TESTDIR/bulk.dns"
# ten of them without -c, through a proxy holding every answer 0.1 s back:
# each modify waits for its answer
delay_proxy 1 0.1
grep -E '^dn: uid=bulk([1-9]|10),' "$TESTDIR/bulk.dns" > "$TESTDIR/bulk10.dns"
check_eq "ldapsearch ... dn | certpin-revoke (10 users, no -c)" "0" \
	"$("$REVOKE" --no-transactions -x -D "$ADMIN" -w pw-admin -H "$PROXY_URI" -f "$TESTDIR/bulk10.dns" >/dev/null 2>&1; echo $?)"
check_eq "... without -c one modify at a time (stops at the first error)" 1 "$(proxy_peak modify)"
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
delay_proxy 1 0.1
conns=$(grep -c "ACCEPT from" "$TESTDIR/srv1/slapd.log")
t0=$(date +%s%N)
out=$("$REVOKE" -c -x -D "$ADMIN" -w pw-admin -H "$PROXY_URI" -f "$TESTDIR/bulk.dns" 2>&1) && rc=0 || rc=$?
t1=$(date +%s%N)
conns=$(( $(grep -c "ACCEPT from" "$TESTDIR/srv1/slapd.log") - conns ))
echo "# $N users (10 done before) with 0.1 s latency: $(( (t1 - t0) / 1000000 )) ms"
check_eq "ldapsearch ... dn | certpin-revoke -c: all revoked" "0" "$rc"
check_out "... the summary" "^certpin-revoke: $((N - 10)) certificates revoked for $N users, 10 with nothing to revoke$" printf '%s\n' "$out"
check_eq "... none left" "0" \
	"$(as_root "$GET" --all --output=json | jq '[.[] | select(.Identity | test("ou=bulk"))] | length')"
check_eq "... each has its revocation record" "$N" \
	"$(as_root "$GET" --revoked --all --output=json | jq '[.[] | select(.Identity | test("ou=bulk"))] | length')"
check_eq "... over exactly one connection" 1 "$conns"
check "... with -c many modifies in flight at once (pipelined)" test "$(proxy_peak modify)" -gt 1
check_eq "... and 64 searches" 64 "$(proxy_peak search)"
echo "# modifies in flight at most: $(proxy_peak modify)"
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
d5=$(tools_dump)
check_rc_out 0 "idempotent in bulk: the same pipeline again" "0 certificates revoked for $N users, $N with nothing to revoke" \
	as_admin "$REVOKE" -c -f "$TESTDIR/bulk.dns"
check_eq "... changes nothing" "$d5" "$(tools_dump)"
# progress on a terminal only
check_out "a bulk run on a terminal reports progress" "[0-9]+/$N users" \
	ttyrun "$REVOKE -c -x -D '$ADMIN' -w pw-admin -H '$(srv_uri 1 ldapi)' -f '$TESTDIR/bulk.dns'"
check_eq "... but not when standard error is no terminal" "" \
	"$(as_admin "$REVOKE" -c -f "$TESTDIR/bulk.dns" 2>&1 | grep "/$N users")"

check "slapd is still running" srv_alive 1
done_testing
