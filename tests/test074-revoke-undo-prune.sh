#!/bin/bash
# test074-revoke-undo-prune: the revocation records.  certpin-revoke --undo
# removes the record of a certificate revoked by mistake (the Relax Rules
# delete of its certpinRevoked value, certpinRevokedThumbprint with it), so
# that the certificate may be recorded again; -n shows and changes nothing;
# a thumbprint not revoked, or unknown, is refused.  --prune removes the
# records older than an age, of expired certificates, or with a reason
# (certpin-test's), for users named or --all (history entries included);
# records that match not every condition stay.  Ordinary users can do
# neither: nothing changes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tools.sh"
. "$(dirname "$0")/lib-toolfix.sh"

pki_standard
pki_cert ca gone gone client
# tools_server, with the administrators' group as certpin's
# (certpin-admin-group: clearing records is for administrators)
SRV_ACL=$TOOLS_ACL srv_conf 1 "certpin-admin-group cn=certadmins,$GROUPOU"
srv_start 1
srv_base 1
export SRV=1
add_user jdoe2 "John Doe" || die "jdoe2"
add_user admin "Cert Admin" || die "admin"
add_user auditor "Cert Auditor" || die "auditor"
add_user gone "Gone User" || die "gone"
ad_names kenmyer sip:kenmyer@example.com kenmyer@example.com kenmyer || die "ad names"
root_add >/dev/null <<LDIF || die "cannot add groups"
dn: $GROUPOU
objectClass: organizationalUnit
ou: groups

dn: cn=certadmins,$GROUPOU
objectClass: groupOfNames
cn: certadmins
member: $ADMIN

dn: cn=auditors,$GROUPOU
objectClass: groupOfNames
cn: auditors
member: $AUDITOR
LDIF
ok "slapd with certpin (certpin-admin-group) and the tools' ACLs started"
for c in kenmyer kenmyer2; do record_cert kenmyer "$PKI/$c.der" >/dev/null || die "record $c"; done
record_cert pilar "$PKI/pilar.der" >/dev/null || die "record pilar"
for c in expired future; do record_cert jdoe "$PKI/$c.der" >/dev/null || die "record $c"; done
record_cert gone "$PKI/gone.der" >/dev/null || die "record gone"
TP_K1=$(der_sha256 "$PKI/kenmyer.der")
TP_K2=$(der_sha256 "$PKI/kenmyer2.der")
TP_P=$(der_sha256 "$PKI/pilar.der")
TP_EXP=$(der_sha256 "$PKI/expired.der")
TP_FUT=$(der_sha256 "$PKI/future.der")
TP_G=$(der_sha256 "$PKI/gone.der")
records() { root_search -b "$1" -s base certpinRevoked | sed -n 's/^certpinRevoked: .*sha256=\([0-9a-f]*\).*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//'; }
rthumbs() { root_search -b "$1" -s base certpinRevokedThumbprint | sed -n 's/^certpinRevokedThumbprint: //p' | sort | tr '\n' ' ' | sed 's/ $//'; }
held() { as_root "$GET" -j "$@" | jq -r '.[].Thumbprint' | sort | tr '\n' ' ' | sed 's/ $//'; }

# ---- a revocation by mistake, and its undo -----------------------------------------------
check_rc 0 "the administrator revokes Ken's first certificate (by mistake)" \
	as_admin "$REVOKE" --reason mistake --thumbprint "$TP_K1" "Ken Myer"
check_eq "... it has a record" "$TP_K1" "$(records "$KEN")"
check_rc_out 19 "... which keeps it from being recorded again" "revoked" record_cert kenmyer "$PKI/kenmyer.der"
d0=$(tools_dump)
check_rc_out 0 "--undo -n shows the record that would be removed" \
	"^!removing the revocation record of certificate $TP_K1 \(revoked [0-9T:Z-]{20}, reason mistake, expires [0-9T:Z-]{20}\) of \"$KEN\"$" \
	as_admin "$REVOKE" --undo -n --thumbprint "$TP_K1" "Ken Myer"
check_out "... and says so in the summary" \
	"^certpin-revoke: WhatIf: 1 revocation record would be removed for 1 user$" \
	as_admin "$REVOKE" --undo -n --thumbprint "$TP_K1" "Ken Myer"
undo_ldif() { as_root "$GET" --revoked --output=ldif "Ken Myer" | as_admin "$REVOKE" --undo -n; }
check_out "certpin-get --revoked --output=ldif | certpin-revoke --undo -n: the Thumbprint lines name it" \
	"^!removing the revocation record of certificate $TP_K1 " undo_ldif
check_eq "--undo -n -j: one object, Action Undo, WhatIf" "$TP_K1 Undo true mistake" \
	"$(as_admin "$REVOKE" --undo -n -j --thumbprint "$TP_K1" "Ken Myer" 2>/dev/null |
		jq -r '.[] | "\(.Thumbprint) \(.Action) \(.WhatIf) \(.Reason)"')"
check_rc_out 2 "--undo without a thumbprint is a usage error" "--undo needs the certificate's thumbprint" \
	as_admin "$REVOKE" --undo "Ken Myer"
check_rc_out 16 "--undo of a certificate the user still holds: it is not revoked" \
	"certificate $TP_K2 is not revoked" as_admin "$REVOKE" --undo --thumbprint "$TP_K2" "Ken Myer"
check_rc_out 16 "--undo of a thumbprint the user has no record of" "holds no revocation record with thumbprint $TP_P" \
	as_admin "$REVOKE" --undo --thumbprint "$TP_P" "Ken Myer"
check_rc 0 "... with --force: no error" as_admin "$REVOKE" --undo --force --thumbprint "$TP_P" "Ken Myer"
check_rc_out 2 "--undo takes no --reason" "--undo takes no --reason" \
	as_admin "$REVOKE" --undo --reason x --thumbprint "$TP_K1" "Ken Myer"
check_eq "-n and the refusals changed nothing" "$d0" "$(tools_dump)"
as_user kenmyer "$REVOKE" --undo --thumbprint "$TP_K1" "Ken Myer" >"$TESTDIR/out" 2>&1 && rc=0 || rc=$?
check "the user cannot undo a revocation of their own certificate (exit $rc)" test "$rc" -ne 0
check_eq "... nothing changed" "$d0" "$(tools_dump)"
as_user auditor "$REVOKE" --undo --thumbprint "$TP_K1" "Ken Myer" >"$TESTDIR/out" 2>&1 && rc=0 || rc=$?
check "an auditor (read access) cannot either (exit $rc)" test "$rc" -ne 0
check_eq "... nothing changed" "$d0" "$(tools_dump)"
check_rc_out 0 "the administrator undoes it" "^certpin-revoke: 1 revocation record removed for 1 user$" \
	as_admin "$REVOKE" --undo --thumbprint "$TP_K1" "Ken Myer"
check_eq "... the record is gone" "" "$(records "$KEN")"
check_eq "... and its certpinRevokedThumbprint" "" "$(rthumbs "$KEN")"
check_rc 0 "... the certificate may be recorded again" record_cert kenmyer "$PKI/kenmyer.der"
check_eq "... Ken holds both again" "$(printf '%s\n' "$TP_K1" "$TP_K2" | sort | tr '\n' ' ' | sed 's/ $//')" "$(held "Ken Myer")"
check_rc 0 "undoing it again: nothing to do, no error with --force" \
	as_admin "$REVOKE" --undo --force --thumbprint "$TP_K1" "Ken Myer"

# ---- a deleted user's records, on the history entry ------------------------------------------
root_modify >/dev/null <<LDIF || die "cannot delete gone"
dn: uid=gone,$PEOPLE
changetype: delete
LDIF
check_eq "the deleted user's record is kept on the history entry (ou=people)" "$TP_G" "$(records "$PEOPLE")"
check_rc_out 0 "--undo names the history entry by DN" "1 revocation record removed" \
	as_admin "$REVOKE" --undo --thumbprint "$TP_G" "$PEOPLE"
check_eq "... the record is gone" "" "$(records "$PEOPLE")"

# ---- pruning ----------------------------------------------------------------------------------
check_rc 0 "revoke jdoe's expired and future certificates" as_admin "$REVOKE" --reason cleanup "$JDOE"
check_rc 0 "revoke Pilar's certificate as certpin-test does (reason certpin-test)" \
	as_admin "$REVOKE" --reason certpin-test "Pilar Ackerman"
check_eq "jdoe has two records" "$(printf '%s\n' "$TP_EXP" "$TP_FUT" | sort | tr '\n' ' ' | sed 's/ $//')" "$(records "$JDOE")"
d1=$(tools_dump)
check_rc_out 2 "--prune without a condition is a usage error" "--prune needs --older-than AGE, --expired or --reason" \
	as_admin "$REVOKE" --prune --all
check_rc_out 2 "--older-than without --prune is a usage error" "select records for --prune" \
	as_admin "$REVOKE" --older-than 1d "Ken Myer"
check_rc_out 2 "a bad age is a usage error" "invalid age" as_admin "$REVOKE" --prune --older-than 3x --all
check_rc_out 2 "--all with --undo is a usage error" "--all does not work with --undo" as_admin "$REVOKE" --undo --thumbprint "$TP_K1" --all
check_rc_out 2 "--prune --all with identities is a usage error" "--all takes no identities" \
	as_admin "$REVOKE" --prune --expired --all "Ken Myer"
out=$(as_admin "$REVOKE" --prune --expired -n --all 2>&1)
check_out "--prune --expired -n --all lists the record of the expired certificate" \
	"^!removing the revocation record of certificate $TP_EXP .* of \"$JDOE\"$" printf '%s\n' "$out"
check_eq "... and only that one" 1 "$(printf '%s\n' "$out" | grep -c '^!removing')"
check_out "... summary: 2 users hold records, 1 with nothing to remove" \
	"WhatIf: 1 revocation record would be removed for 2 users, 1 with nothing to remove$" printf '%s\n' "$out"
check_eq "... changing nothing" "$d1" "$(tools_dump)"
as_user jdoe "$REVOKE" --prune --expired "$JDOE" >/dev/null 2>&1 && rc=0 || rc=$?
check "an ordinary user cannot prune their own records (exit $rc)" test "$rc" -ne 0
check_eq "... nothing changed" "$d1" "$(tools_dump)"
check_rc_out 0 "--prune --expired --all removes it" "^certpin-revoke: 1 revocation record removed for 2 users, 1 with nothing to remove$" \
	as_admin "$REVOKE" --prune --expired --all
check_eq "... the record of the unexpired certificate stays" "$TP_FUT" "$(records "$JDOE")"
check_eq "... and its certpinRevokedThumbprint" "$TP_FUT" "$(rthumbs "$JDOE")"
check_rc_out 19 "... which still keeps the future certificate from being recorded again" "revoked" \
	record_cert jdoe2 "$PKI/future.der"
check_rc_out 0 "--prune --older-than 1d: the records are fresh, nothing to remove" "0 revocation records removed" \
	as_admin "$REVOKE" --prune --older-than 1d --all
check_eq "--prune --reason certpin-test --older-than 1d: both must match, nothing" "$TP_P" \
	"$(as_admin "$REVOKE" --prune --reason certpin-test --older-than 1d "Pilar Ackerman" >/dev/null 2>&1; records "$PILAR")"
check_rc_out 0 "--prune --reason certpin-test removes the records certpin-test left" \
	"1 revocation record removed for 2 users, 1 with nothing to remove" \
	as_admin "$REVOKE" --prune --reason certpin-test --all
check_eq "... Pilar's is gone" "" "$(records "$PILAR")"
check_eq "... jdoe's (reason cleanup) stays" "$TP_FUT" "$(records "$JDOE")"
sleep 2
check_eq "--prune --older-than 1s -n -j: jdoe's record is older than 1 s now" "$TP_FUT Prune true" \
	"$(as_admin "$REVOKE" --prune --older-than 1s -n -j "$JDOE" 2>/dev/null |
		jq -r '.[] | "\(.Thumbprint) \(.Action) \(.WhatIf)"')"
check_rc_out 0 "--prune --older-than 1s as the root DN" "1 revocation record removed" \
	"$REVOKE" -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" --prune --older-than 1s "$JDOE"
check_eq "... no record left anywhere" "" \
	"$(root_search -b "$SUFFIX" '(certpinRevoked=*)' dn)"
check_rc_out 0 "pruning an empty directory: nothing to do, no error" "0 revocation records removed" \
	as_admin "$REVOKE" --prune --expired --all

check "slapd is still running" srv_alive 1
done_testing
