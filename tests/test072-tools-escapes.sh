#!/bin/bash
# test072-tools-escapes: what the directory (or a server) holds never
# rewrites the administrator's terminal.  Entries named with ESC sequences
# (an OSC title change, a screen clear), BEL, DEL and a C1 CSI, a reason
# and a server diagnostic message with invalid UTF-8: every human-readable
# output of every tool (certpin-get's table, certpin-revoke's -n/-v lines
# and messages, certpin-issue's report, certpin-test's report, the shared
# error messages) prints them escaped (\1B in DNs, as RFC 4514 allows, \x1b
# elsewhere); JSON escapes them and stays valid, and gives back the exact
# value; LDIF base64-encodes them; an escaped DN still names the entry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tools.sh"
. "$(dirname "$0")/lib-toolfix.sh"

pki_standard
tools_server 1
ok "slapd with certpin and the tools' ACLs started"

# uid: evil ESC[2J (clear screen) BEL ESC[31m DEL CSI(U+009B)31m
EVIL_UID='evil\033[2J\007\033[31m\177\302\23331m'
EVIL_DN_B64=$(b64 "uid=$EVIL_UID,$PEOPLE")
EVIL_NAME='Evil \033[31mRed\033[0m'
root_add >/dev/null <<LDIF || die "cannot add the hostile entries"
dn:: $EVIL_DN_B64
objectClass: inetOrgPerson
objectClass: certpinUser
uid:: $(b64 "$EVIL_UID")
cn: evil
sn: evil
displayName:: $(b64 "$EVIL_NAME")

dn: uid=evil2,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinUser
uid: evil2
cn: evil2
sn: evil2
displayName:: $(b64 "$EVIL_NAME")
LDIF
root_modify >/dev/null <<LDIF || die "cannot record the hostile entry's certificate"
dn:: $EVIL_DN_B64
changetype: modify
add: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/mallory.der
LDIF
record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "record kenmyer"
TP_M=$(der_sha256 "$PKI/mallory.der")
EVIL_DN=$(printf "uid=$EVIL_UID,$PEOPLE")
# what the table shows: RFC 4514 hex escapes of every control byte
EVIL_SHOWN='uid=evil\1B[2J\07\1B[31m\7F\C2\9B31m,'$PEOPLE

# ---- certpin-get -------------------------------------------------------------------------
dns() { root_search -b "$PEOPLE" '(uid=evil*)' dn; }
check_out "ldapsearch gives the hostile DN base64-encoded (dn::)" "^dn:: " dns
get_evil() { dns | as_root "$GET"; }
clean "certpin-get's table of the hostile entry (ldapsearch dn | certpin-get) prints no control character" get_evil
table=$(dns | as_root "$GET" 2>&1)
check_out "... it shows the DN with RFC 4514 escapes (\\1B, \\07, \\7F, \\C2\\9B)" \
	"$TP_M - +$(printf '%s' "$EVIL_SHOWN" | sed 's/[][\\.^$*]/\\&/g')\$" printf '%s\n' "$table"
clean "certpin-get --all (table) prints no control character" as_root "$GET" --all
clean "certpin-get -v --all: the summary and verbose lines too" as_root "$GET" -vv --all
escaped=$(printf '%s\n' "$table" | grep " $TP_M " | sed -E 's/^([^ ]+ +){4}//')
check_eq "the escaped DN still names the entry (certpin-get it back)" "$TP_M" \
	"$(as_root "$GET" --output=json "$escaped" | jq -r '.[].Thumbprint')"
json=$(as_root "$GET" --output=json --all)
json_ok() { printf '%s' "$json" | jq . >/dev/null; }
check "JSON is valid (jq)" json_ok
check_eq "JSON gives back the exact DN" "$(printf '%s' "$EVIL_DN" | base64 -w0)" \
	"$(printf '%s' "$json" | jq -j --arg t "$TP_M" '.[] | select(.Thumbprint == $t) | .Identity' | base64 -w0)"
clean "JSON escapes every control character (\\u001b, \\u009b, \\u007f)" as_root "$GET" --output=json --all
check_out "... as \\u escapes" '\\u001b\[2J\\u0007\\u001b\[31m\\u007f\\u009b31m' printf '%s\n' "$json"
clean "LDIF output has no raw control character" as_root "$GET" --output=ldif --all
check_out "... it base64-encodes the DN (dn::)" "^dn:: $EVIL_DN_B64$" as_root "$GET" --output=ldif -o ldif_wrap=no --all
clean "an ambiguous display name with ESC sequences: the message and the DNs listed are escaped" \
	as_root "$GET" "$(printf "$EVIL_NAME")"
check_out "... it still names both users" "matches 2 users" as_root "$GET" "$(printf "$EVIL_NAME")"
clean "an unknown identity with ESC sequences: 'no such user' escaped" \
	as_root "$GET" "$(printf 'Nobody \033]0;x\007 Here')"
check_out "... shown as \\x1b" '"Nobody \\x1b\]0;x\\x07 Here": no such user' \
	as_root "$GET" "$(printf 'Nobody \033]0;x\007 Here')"
clean "a wildcard identity with ESC sequences: refused, escaped" as_root "$GET" "$(printf '\033[2J*')"
clean "an invalid -o name with ESC sequences: the usage error is escaped" \
	"$GET" -o "$(printf 'x\033[2Jy')=1" "Ken Myer"

# ---- certpin-revoke ------------------------------------------------------------------------
revoke_n_evil() { dns | as_root "$REVOKE" -n; }
clean "certpin-revoke -n (the '!revoking' lines) prints no control character" revoke_n_evil
check_out "... and shows the DN escaped" "^!revoking certificate $TP_M .* of \"uid=evil\\\\1B" revoke_n_evil
REASON='lost\033[2J\033]0;pwned\007'
clean "certpin-revoke -v with a reason holding ESC sequences: the lines and the overlay's refusal are clean" \
	as_root "$REVOKE" -v --reason "$(printf "$REASON")" --thumbprint "$TP_M" "$escaped"
check_rc 19 "... (the overlay refuses control characters in reasons: constraintViolation)" \
	as_root "$REVOKE" --reason "$(printf "$REASON")" --thumbprint "$TP_M" "$escaped"
# the hostile user revokes their own certificate: RevokedBy is their DN
root_modify >/dev/null <<LDIF || die "cannot give the hostile entry a password"
dn:: $EVIL_DN_B64
changetype: modify
add: userPassword
userPassword: pw-evil
LDIF
check_rc 0 "the hostile user revokes their own certificate" \
	"$REVOKE" -x -D "$EVIL_DN" -w pw-evil -H "$(srv_uri 1 ldapi)" --reason "lost phone" "$escaped"
check_eq "... the certificate is revoked" "" "$(as_root "$GET" --output=json "$escaped" 2>&1 | jq -r '.[].Thumbprint')"
check_eq "... RevokedBy is the hostile DN (JSON; normalized: lower case)" \
	"$(printf '%s' "$EVIL_DN" | tr 'A-Z' 'a-z' | base64 -w0)" \
	"$(as_root "$GET" --revoked --output=json "$escaped" | jq -j '.[].RevokedBy' | tr 'A-Z' 'a-z' | base64 -w0)"
clean "certpin-get --revoked: the table (Reason, RevokedBy, Identity) is escaped" as_root "$GET" --revoked --all
check_out "... RevokedBy shown with RFC 4514 escapes" " +lost phone +uid=evil\\\\1B\\[2[jJ]\\\\07" \
	as_root "$GET" --revoked --all
clean "certpin-revoke --undo -n: the record lines are escaped too" \
	as_root "$REVOKE" --undo -n --thumbprint "$TP_M" "$escaped"

# ---- a hostile server's messages --------------------------------------------------------------
# invalidCredentials with "ESC]0;owned BEL ESC[2J bad: FF FE CSI"
fake_server bindfail "$(printf '\033]0;owned\007\033[2J bad: \377\376 \302\233' | od -An -tx1 | tr -d ' \n')"
for tool in "$GET" "$REVOKE"; do
	clean "$(basename "$tool"): a server's diagnostic message with ESC and invalid UTF-8 is escaped" \
		"$tool" -x -D cn=x -w y -H "$FAKE_URI" "Ken Myer"
done
check_out "... as \\x escapes (invalid bytes too)" \
	'additional info: \\x1b\]0;owned\\x07\\x1b\[2J bad: \\xff\\xfe \\xc2\\x9b' \
	"$GET" -x -D cn=x -w y -H "$FAKE_URI" "Ken Myer"
clean "certpin-issue: the same message escaped" \
	"$ISSUE" -x -D cn=x -w y -H "$FAKE_URI" --out "$TESTDIR/i" kenmyer@example.com
clean "certpin-test: the Error line escaped" "$CTEST" -x -D cn=x -w y -H "$FAKE_URI" "$KEN"
clean "certpin-test -j: the JSON escaped and valid" "$CTEST" -j -x -D cn=x -w y -H "$FAKE_URI" "$KEN"
check "... valid JSON (jq), invalid bytes as U+FFFD" sh -c \
	"'$CTEST' -j -x -D cn=x -w y -H '$FAKE_URI' '$KEN' 2>/dev/null | jq -e '.Error | test(\"\\ufffd\")' >/dev/null"
clean "certpin-test --nagios: the status line escaped" "$CTEST" --nagios -x -D cn=x -w y -H "$FAKE_URI" "$KEN"
fake_stop

# ---- certpin-test: an identity with ESC sequences ------------------------------------------------
clean "certpin-test's report for an identity with ESC sequences prints none" \
	tls "$CTEST" -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldaps)" "$(printf 'Nobody\033[2J\033]0;x\007')"
clean "... nor with -v (every step)" \
	tls "$CTEST" -v -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldaps)" "$(printf 'Nobody\033[2J\033]0;x\007')"

check "slapd is still running" srv_alive 1
done_testing
