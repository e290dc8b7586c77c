#!/bin/bash
# test073-tools-fixes: what a new administrator ran into with the tools.
# An empty pipe into certpin-revoke is success with nothing done (cron and
# set -e go on); -n counts a user once; JSON has one spelling in every tool
# (--output=json, -j; the old -o json still works with a note), and an
# unknown option exits 2 everywhere as the man pages say; certpin-get and
# certpin-revoke never hang on a server that accepts and never answers
# (-o nettimeout, and a 30 s default); "insufficient access" instead of
# "no certificates" when the server hides them; the man pages render
# without groff warnings, carry the version, keep examples in 80 columns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tools.sh"
. "$(dirname "$0")/lib-toolfix.sh"

pki_standard
tools_server 1
ok "slapd with certpin and the tools' ACLs started"
for c in kenmyer kenmyer2; do record_cert kenmyer "$PKI/$c.der" >/dev/null || die "record $c"; done
record_cert pilar "$PKI/pilar.der" >/dev/null || die "record pilar"

# the default timeout is 30 s: measured in the background while the rest runs
fake_server bindok
DEFAULT_URI=$FAKE_URI
DEFAULT_PID=$FAKE_PID
( t0=$(date +%s); timeout -k 5 90 "$GET" -x -D cn=x -w y -H "$DEFAULT_URI" "Ken Myer" >"$TESTDIR/default.out" 2>&1
  echo "$? $(( $(date +%s) - t0 ))" > "$TESTDIR/default.rc" ) &
DEFAULT_JOB=$!

# ---- an empty pipe is success --------------------------------------------------------------
d0=$(tools_dump)
empty() { as_root "$GET" --all --expires-before 1990-01-01 --output=ldif | as_admin "$REVOKE"; }
check_rc_out 0 "certpin-get (nothing matches) | certpin-revoke: exit 0" "no identities given: nothing to do" empty
set_e() { bash -ec "$(declare -f empty as_root as_admin srv_uri); TESTDIR='$TESTDIR' SRV=1 \
	GET='$GET' REVOKE='$REVOKE' ADMIN='$ADMIN'; empty; echo reached"; }
check_out "... a set -e script goes on" "^reached$" set_e
check_rc 0 "... -n too" sh -c "'$REVOKE' -n -x -D '$ADMIN' -w pw-admin -H '$(srv_uri 1 ldapi)' </dev/null"
check_eq "... -j prints an empty array" "[]" "$(as_admin "$REVOKE" -j </dev/null 2>/dev/null)"
check_eq "... and nothing changed" "$d0" "$(tools_dump)"

# ---- -n counts users once -------------------------------------------------------------------
ldif_ken() { as_root "$GET" --output=ldif "Ken Myer" | as_admin "$REVOKE" -n; }
check_out "certpin-get --output=ldif (2 records of 1 user) | certpin-revoke -n: for 1 user" \
	"^certpin-revoke: WhatIf: 2 certificates would be revoked for 1 user$" ldif_ken
check_out "the same user named three ways, -n: 2 certificates, 1 user" \
	"^certpin-revoke: WhatIf: 2 certificates would be revoked for 1 user$" \
	as_admin "$REVOKE" -n "Ken Myer" kenmyer@example.com 'EXAMPLE\kenmyer'
check_out "two users: 3 certificates for 2 users" \
	"^certpin-revoke: WhatIf: 3 certificates would be revoked for 2 users$" \
	as_admin "$REVOKE" -n "Ken Myer" "Pilar Ackerman" sip:kenmyer@example.com
check_eq "... -n changed nothing" "$d0" "$(tools_dump)"

# ---- one JSON spelling everywhere -------------------------------------------------------------
tps() { jq -r '.[].Thumbprint' | sort | tr '\n' ' '; }
want=$(as_root "$GET" --output=json "Ken Myer" | tps)
check_eq "certpin-get -j = --output=json" "$want" "$(as_root "$GET" -j "Ken Myer" | tps)"
check_eq "certpin-get --output json (separate argument)" "$want" "$(as_root "$GET" --output json "Ken Myer" | tps)"
check_eq "certpin-get -o json still works: the same JSON on standard output" "$want" \
	"$(as_root "$GET" -o json "Ken Myer" 2>/dev/null | tps)"
check_out "... with a deprecation note on standard error" \
	"certpin-get: -o json is deprecated: use --output=json or -j" as_root "$GET" -o json "Ken Myer"
check_eq "certpin-revoke -n -j: one object per certificate, WhatIf true" "2 true Revoke" \
	"$(as_admin "$REVOKE" -n -j "Ken Myer" 2>/dev/null | jq -r '"\(length) \(.[0].WhatIf) \(.[0].Action)"')"
check_eq "certpin-revoke -o json (was: Invalid general option name) works, with the note" "2" \
	"$(as_admin "$REVOKE" -n -o json "Ken Myer" 2>/dev/null | jq length)"
check_out "... and says so" "-o json is deprecated" as_admin "$REVOKE" -n -o json "Ken Myer"
check_rc_out 0 "certpin-issue -o json: no longer 'Invalid general option name'" \
	"-o json is deprecated" "$ISSUE" -o json --help
check_rc_out 0 "certpin-test -o json: the same" "-o json is deprecated" "$CTEST" -o json --help
for t in "$GET" "$REVOKE" "$ISSUE" "$CTEST"; do
	n=$(basename "$t")
	check_rc_out 2 "$n --output=xml is a usage error (2)" "unknown output format" "$t" --output=xml x
	check_rc_out 2 "$n: an unknown long option exits 2" "unrecognized option|Try .$n --help" "$t" --bogus x
	check_rc_out 2 "$n: an unknown short option exits 2" "invalid option|Try .$n --help" "$t" -q x
	check_rc_out 2 "$n: an unknown -o name exits 2, without a 45-line usage" "^$n: invalid general option name: bogus$" \
		"$t" -o bogus=1 x
	check "... the message is short (2 lines)" test "$("$t" -o bogus=1 x 2>&1 | wc -l)" -le 2
	check_rc_out 0 "$n --help exits 0 and names -j" "-j +JSON output" "$t" --help
done
for p in certpin-get certpin-revoke certpin-issue certpin-test; do
	check_out "$p(1) documents exit status 2 for usage errors" "2 .*usage|usage errors.*: 2|^ *2 +usage" \
		env MANWIDTH=200 man -l "$SRCDIR/tools/$p.1"
done

# ---- never hang on a server that accepts and never answers -----------------------------------
fake_server silent
elapsed "$GET" -o nettimeout=2 -x -D cn=x -w y -H "$FAKE_URI" "Ken Myer"
check_eq "certpin-get -o nettimeout=2, server silent: ends with an error" "1" "$([ "$RC" -ne 0 ] && echo 1)"
check "... within 6 s (took ${SECS}s)" test "$SECS" -le 6
check_out "... saying it timed out" "Timed out \(-5\)" printf '%s\n' "$OUT"
elapsed "$REVOKE" -o nettimeout=2 -x -D cn=x -w y -H "$FAKE_URI" "Ken Myer"
check "certpin-revoke -o nettimeout=2, server silent: ends with an error within 6 s (${SECS}s)" \
	test "$RC" -ne 0 -a "$SECS" -le 6
port=$FAKE_PORT
elapsed "$GET" -o nettimeout=2 -x -D cn=x -w y -H "ldaps://127.0.0.1:$port/" "Ken Myer"
check "certpin-get over ldaps:// to a silent server (no TLS handshake): ends within 6 s (${SECS}s)" \
	test "$RC" -ne 0 -a "$SECS" -le 6
# (libldap 2.5 says "Timed out", 2.6 "Can't contact LDAP server" for a TLS
# handshake that never comes)
check_out "... saying it timed out while connecting" "Timed out \(-5\)|Can't contact LDAP server \(-1\)" printf '%s\n' "$OUT"
elapsed "$REVOKE" -ZZ -o nettimeout=2 -x -D cn=x -w y -H "$FAKE_URI" "Ken Myer"
check "certpin-revoke -ZZ (StartTLS never answered): ends within 6 s (${SECS}s)" \
	test "$RC" -ne 0 -a "$SECS" -le 6
fake_stop
fake_server bindok
elapsed "$GET" -o nettimeout=2 -x -D cn=x -w y -H "$FAKE_URI" "Ken Myer" "Pilar Ackerman"
check "certpin-get: the bind is answered, the searches never: ends within 6 s (${SECS}s)" \
	test "$RC" -ne 0 -a "$SECS" -le 6
check_out "... ldap_result: Timed out" "Timed out \(-5\)" printf '%s\n' "$OUT"
elapsed "$REVOKE" -c -o nettimeout=2 -x -D cn=x -w y -H "$FAKE_URI" "Ken Myer" "Pilar Ackerman"
check "certpin-revoke -c: the same, within 6 s (${SECS}s)" test "$RC" -ne 0 -a "$SECS" -le 6
elapsed "$GET" -o nettimeout=2 --all -x -D cn=x -w y -H "$FAKE_URI"
check "certpin-get --all (paged search never answered): within 6 s (${SECS}s)" test "$RC" -ne 0 -a "$SECS" -le 6
fake_stop
elapsed "$GET" -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" -o nettimeout=2 --output=json "Ken Myer"
check_eq "a server that answers: a short timeout changes nothing" "0 $want" "$RC $(printf '%s' "$OUT" | tps)"

# ---- insufficient access, not "no certificates" -----------------------------------------------
check_rc_out 50 "an ordinary user asking for another user's certificates: insufficient access" \
	"^certpin-get: \"$KEN\": Insufficient access \(50\)$" as_user jdoe "$GET" "Ken Myer"
check_out "... saying the server hides them" "additional info: the server hides this user's certificates" \
	as_user jdoe "$GET" "Ken Myer"
check_rc 0 "(the root DN revokes Pilar's certificate: she has a record now)" \
	as_root "$REVOKE" "Pilar Ackerman"
check_rc_out 50 "... --revoked: the same for the records" "^certpin-get: \"$PILAR\": Insufficient access \(50\)$" \
	as_user jdoe "$GET" --revoked "Pilar Ackerman"
check_rc_out 50 "... certpin-revoke --undo by an ordinary user: insufficient access" "Insufficient access \(50\)" \
	as_user jdoe "$REVOKE" --undo --thumbprint "$(der_sha256 "$PKI/pilar.der")" "Pilar Ackerman"
check_rc_out 50 "... --all with nothing visible: insufficient access" "Insufficient access \(50\)" \
	as_user jdoe "$GET" --all
check_rc 0 "the auditors' group sees them: no error" as_user auditor "$GET" "Ken Myer"
check_rc_out 0 "a user with no certificates (visible): no error, an empty list" "^\[\]$" \
	as_root "$GET" -j "Cert Admin"
check_rc 0 "a user's own (no) certificates: no error" as_user jdoe "$GET" sip:jdoe@example.com
d1=$(tools_dump)
check_rc_out 50 "certpin-revoke by an ordinary user: insufficient access, not 'nothing to revoke'" \
	"^certpin-revoke: \"$KEN\": Insufficient access \(50\)$" as_user jdoe "$REVOKE" "Ken Myer"
check_rc_out 50 "... -n too" "Insufficient access \(50\)" as_user jdoe "$REVOKE" -n "Ken Myer"
check_eq "... nothing changed" "$d1" "$(tools_dump)"

# ---- the default timeout ---------------------------------------------------------------------
wait "$DEFAULT_JOB"
read -r drc dsecs < "$TESTDIR/default.rc"
check "without -o nettimeout a search never answered ends after the 30 s default (${dsecs}s, exit $drc)" \
	test "$drc" -ne 0 -a "$dsecs" -ge 29 -a "$dsecs" -le 40
check_out "... Timed out" "Timed out \(-5\)" cat "$TESTDIR/default.out"
kill "$DEFAULT_PID" 2>/dev/null; wait "$DEFAULT_PID" 2>/dev/null

# ---- man pages -------------------------------------------------------------------------------
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$BUILDDIR/config.h")
check "configure's PACKAGE_VERSION is known ($version)" test -n "$version"
for page in tools/certpin-get.1 tools/certpin-revoke.1 tools/certpin-issue.1 tools/certpin-test.1 \
	    slapo-certpin/slapo-certpin.5; do
	f=$SRCDIR/$page
	check_eq "$page: no .ft tt (groff: can't find font 'tt')" "" "$(grep -n '^\.ft tt\|\\f(tt' "$f")"
	check_eq "$page: groff -ww -man -Tps prints no warning" "" "$(groff -ww -man -Tps "$f" 2>&1 >/dev/null)"
	check_eq "$page: groff -ww -man -Tutf8 prints no warning" "" "$(groff -ww -man -Tutf8 "$f" 2>&1 >/dev/null)"
	check_eq "$page: man --warnings -l prints no warning" "" "$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)"
done
for page in certpin-get certpin-revoke certpin-issue certpin-test; do
	f=$SRCDIR/tools/$page.1
	check_out "$page(1): the version in .TH is configure's ($version)" \
		"^\.TH [A-Z-]+ 1 \"[^\"]*\" \"certpin $version\"" cat "$f"
	check_eq "$page(1): every line fits 80 columns when rendered" "" \
		"$(MANWIDTH=80 LC_ALL=C man -l "$f" 2>/dev/null | awk 'length > 80')"
done

check "slapd is still running" srv_alive 1
done_testing
