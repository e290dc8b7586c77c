#!/bin/bash
# test092-demo: the README's main command (scripts/demo) tells the whole
# story and stops its slapd; --keep leaves it running for exploration.
. "$(dirname "$0")/lib.sh"

[ -f "$BUILDDIR/Makefile" ] && [ "$BUILDDIR" = "$SRCDIR" ] ||
	die "the demo builds in the source tree; run this test from an in-tree build"
out=$("$SRCDIR/scripts/demo" --no-install 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" > "$TESTDIR/demo.out"
check_eq "scripts/demo exits 0" 0 "$rc"
has() { check_out "demo: $1" "$2" cat "$TESTDIR/demo.out"; }
has "a phone gets a certificate by phone number and PIN" "^  Thumbprint: [0-9a-f]{64}$"
has "a wrong PIN gets nothing" "unknown phone number or wrong PIN"
has "certpin-get lists it with its endpoint" '"Endpoint": "desk-phone-1"'
has "the phone logs on as Ken" "^  dn:uid=kenmyer,ou=people,dc=example,dc=com$"
has "a certificate not on file is refused" "not issued to this user"
has "wildcards are refused" "wildcards are not allowed"
has "certpin-test succeeds" "^  Result    : Success$"
has "WhatIf shows the revocation" "WhatIf: 1 certificate would be revoked"
has "certpin-revoke revokes" "1 certificate revoked for 1 user"
has "the next logon is refused as revoked" "server log: certpin: refused logon .*: revoked$"
has "it says how to trust its CA to paste the commands" "^  export LDAPTLS_CACERT=/.*/ca\.crt$"
has "it explains certpin-test's revocation record" 'reason "certpin-test"'
has "certpin-pin info shows Ken's PIN set, not locked" "^  uid=kenmyer,ou=people,dc=example,dc=com	set	.*	no	"
has "an administrator's lock shows in info" "	administrator	"
has "a locked PIN proves nothing" "PIN locked by an administrator"
has "a generated PIN is shown once" "^  uid=pilar,ou=people,dc=example,dc=com	[0-9]{6,}$"
has "the counters after the story: the refused revoked logon" "^  logon-refused-revoked +1$"
has "the counters: the locked-PIN issuance refusal" "^  issue-refused-locked +1$"
check_eq "no build chatter (autoreconf, libtool, ar, make)" "" \
	"$(grep -E "^(ar:|libtool|autoreconf|  CC |  CCLD |configure:|make)" "$TESTDIR/demo.out")"
pid=$(printf '%s\n' "$out" | sed -n 's/^Stopping the demo slapd (pid \([0-9]*\))\.$/\1/p')
check "the demo named the slapd it stopped" test -n "$pid"
check_rc 1 "and that slapd is gone" kill -0 "${pid:-0}"

out=$("$SRCDIR/scripts/demo" --no-install --keep 2>&1) && rc=0 || rc=$?
check_eq "scripts/demo --keep exits 0" 0 "$rc"
pid=$(printf '%s\n' "$out" | sed -n 's/^The demo slapd keeps running (pid \([0-9]*\))\.$/\1/p')
dir=$(printf '%s\n' "$out" | sed -n 's/.*(then rm -rf \(.*\))$/\1/p')
check "--keep leaves its slapd running" kill -0 "${pid:-0}"
uri=$(printf '%s\n' "$out" | sed -n 's/^  URIs: *[^ ]* [^ ]* \(ldapi:.*\)$/\1/p')
check_out "and it answers" "certpinUser" ldapsearch -x -H "$uri" -D "$ROOTDN" -w "$ROOTPW" \
	-b "uid=kenmyer,$PEOPLE" -s base objectClass
if [ -n "$pid" ]; then
	kill "$pid"
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
case $dir in /tmp/certpin-demo.*) rm -rf "$dir" ;; esac
done_testing
