#!/bin/bash
# test003-revoke: every way of revoking (value delete, replace, entry delete,
# removal of certpinUser), from ldapmodify and python3-ldap, refuses the very
# next logon over ldaps, StartTLS and python3-ldap; sessions already bound
# with the certificate continue as anonymous; the records of deleted entries
# are kept on the parent, or on the certpin-history entry, so the
# certificate cannot come back until an administrator clears the record.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-revoked.sh"

pki_standard
USERS="u1 u2 u3 u4 u5 u6 u7 u8 s1 s2"
for u in $USERS; do pki_cert ca "$u" "$u" client; done
pki_cert ca u3new u3 client

srv_conf 1
srv_start 1
srv_base 1
for u in $USERS; do
	add_user "$u" "User $u" || die "cannot add $u"
	record_cert "$u" "$PKI/$u.der" >/dev/null || die "cannot record $u's certificate"
done
dn() { echo "uid=$1,$PEOPLE"; }
for u in $USERS; do
	out=$(device_whoami 1 "$u" | grep '^dn:')
	[ "$out" = "dn:$(dn "$u")" ] || die "$u cannot log on before revocation: $out"
done
ok "all ten users log on before any revocation"

# revoked_everywhere DESC UID REASON: refused by every client, log gives REASON
revoked_everywhere() {
	local desc=$1 u=$2 reason=$3
	logon_refused "$desc: next ldaps logon refused" 1 "$u"
	logon_refused "$desc: next StartTLS logon refused" 1 "$u" starttls
	py_logon_refused "$desc: next python3-ldap logon refused" 1 "$u"
	srv_log_has "$desc: the log says $reason" 1 \
		"refused logon as \"uid=$u,$PEOPLE\" with certificate $(der_sha256 "$PKI/$u.der"): $reason"
}

# ---- each revocation path, each client ---------------------------------------
mod_cert delete u1 "$PKI/u1.der" > "$TESTDIR/m.ldif"
check "ldapmodify: delete u1's certificate value" root_modify -f "$TESTDIR/m.ldif"
revoked_everywhere "value delete (ldapmodify)" u1 revoked
check "python3-ldap: delete u2's certificate value" py_root_modify 1 delete u2 "$PKI/u2.der"
revoked_everywhere "value delete (python3-ldap)" u2 revoked

check "ldapmodify: replace u3's certificate with a new one" root_modify <<LDIF
dn: $(dn u3)
changetype: modify
replace: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/u3new.der
LDIF
revoked_everywhere "replace (ldapmodify)" u3 revoked
logon_as "replace: the new certificate logs on" 1 u3new "$(dn u3)"
check "python3-ldap: replace u4's certificates with none" py_root_modify 1 replace u4
revoked_everywhere "replace (python3-ldap)" u4 revoked
tp() { der_sha256 "$PKI/$1.der"; }
revoked_tps_agree "value delete" "$(dn u2)" "$(tp u2)"
revoked_tps_agree "replace" "$(dn u3)" "$(tp u3)"

check "ldapmodify: remove certpinUser from u5" root_modify <<LDIF
dn: $(dn u5)
changetype: modify
delete: objectClass
objectClass: certpinUser
LDIF
revoked_everywhere "class removal (ldapmodify)" u5 revoked
check "python3-ldap: remove certpinUser from u6" py_root_modify 1 declass u6
revoked_everywhere "class removal (python3-ldap)" u6 revoked
revoked_tps_agree "class removal" "$(dn u6)" "$(tp u6)"

check "ldapmodify: delete u7's entry" root_modify <<LDIF
dn: $(dn u7)
changetype: delete
LDIF
revoked_everywhere "entry delete (ldapmodify)" u7 "no such entry"
check "python3-ldap: delete u8's entry" py_root_modify 1 entry u8
revoked_everywhere "entry delete (python3-ldap)" u8 "no such entry"

# ---- the records of deleted entries -------------------------------------------
recs=$(root_search -b "$PEOPLE" -s base certpinRevoked objectClass)
for u in u7 u8; do
	check_out "the record of $u's certificate is kept on the parent, naming the entry" \
		"^certpinRevoked: sha256=$(der_sha256 "$PKI/$u.der")\\\$revoked=[0-9]{14}Z\\\$by=cn=admin,dc=example,dc=com\\\$.*\\\$entry=uid=$u,ou=people,dc=example,dc=com$" \
		printf '%s\n' "$recs"
done
check_out "the parent got the certpinHistory class" "^objectClass: certpinHistory$" printf '%s\n' "$recs"

# A deleted entry's earlier records move too: u1 (revoked above) is deleted now.
check "delete u1's entry, which holds a revocation record" py_root_modify 1 entry u1
check_out "u1's earlier record now lives on the parent" \
	"^certpinRevoked: sha256=$(der_sha256 "$PKI/u1.der")\\\$revoked=.*\\\$entry=uid=u1,ou=people" \
	root_search -b "$PEOPLE" -s base certpinRevoked
revoked_tps_agree "entry deletes: the parent" "$PEOPLE" "$(tp u1) $(tp u7) $(tp u8)"

# re-adding is refused anywhere, and changes nothing
before=$(dir_dump 1)
mod_cert add jdoe "$PKI/u7.der" > "$TESTDIR/m.ldif"
check_rc_out 19 "u7's certificate cannot be recorded on another user" "revoked" root_modify -f "$TESTDIR/m.ldif"
check_rc_out 19 "nor on a re-created entry of the same name" "revoked" root_add <<LDIF
dn: $(dn u7)
objectClass: inetOrgPerson
objectClass: certpinUser
uid: u7
cn: User u7
sn: u7
certpinCertificate;binary:< file://$PKI/u7.der
LDIF
mod_cert add jdoe "$PKI/u1.der" > "$TESTDIR/m.ldif"
check_rc_out 19 "u1's older revocation still holds after its entry was deleted" "revoked" root_modify -f "$TESTDIR/m.ldif"
check_eq "the directory is unchanged by the refused re-additions" "$before" "$(dir_dump 1)"

# an administrator clears the record with the Relax Rules control
rec=$(root_search -b "$PEOPLE" -s base certpinRevoked | sed -n "s/^certpinRevoked: \(sha256=$(der_sha256 "$PKI/u7.der").*\)/\1/p")
check "the administrator clears u7's record on the parent (Relax Rules)" root_modify -e relax <<LDIF
dn: $PEOPLE
changetype: modify
delete: certpinRevoked
certpinRevoked: $rec
LDIF
revoked_tps_agree "a cleared record's thumbprint goes with it" "$PEOPLE" "$(tp u1) $(tp u8)"
check "then u7 can be re-created with the certificate" root_add <<LDIF
dn: $(dn u7)
objectClass: inetOrgPerson
objectClass: certpinUser
uid: u7
cn: User u7
sn: u7
certpinCertificate;binary:< file://$PKI/u7.der
LDIF
logon_as "and logs on again" 1 u7 "$(dn u7)"

# a delete that fails keeps the certificate valid and leaves no copies
root_add >/dev/null <<LDIF || die "cannot add a child"
dn: cn=phone,$(dn jdoe)
objectClass: device
cn: phone
LDIF
record_cert jdoe "$PKI/jdoe.der" >/dev/null || die "cannot record jdoe"
before=$(dir_dump 1)
check_rc 66 "deleting an entry with a child fails (notAllowedOnNonLeaf)" root_modify <<LDIF
dn: $(dn jdoe)
changetype: delete
LDIF
check_eq "the failed delete left the directory unchanged (no record copies)" "$before" "$(dir_dump 1)"
logon_as "jdoe still logs on" 1 jdoe "$(dn jdoe)"
# pilar may write her own entry but not delete it from ou=people
record_cert pilar "$PKI/pilar.der" >/dev/null || die "cannot record pilar"
before=$(dir_dump 1)
check_rc 50 "pilar cannot delete her own entry (insufficientAccess)" \
	ldapdelete -x -D "uid=pilar,$PEOPLE" -w pw-pilar -H "$(srv_uri 1 ldapi)" "uid=pilar,$PEOPLE"
check_eq "the refused delete left the directory unchanged" "$before" "$(dir_dump 1)"
logon_as "pilar still logs on" 1 pilar "uid=pilar,$PEOPLE"

# a delete slapd refuses after the records were copied (here: the database
# demands more security for updates than ldapi gives) takes the copies back
SRVCFG() { ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)"; }
recs_of() { root_search -b "$1" -s base certpinRevoked | grep '^certpinRevoked:' | sort; }
before=$(recs_of "$PEOPLE")
check "cn=config: the database demands update_ssf=200" SRVCFG <<LDIF
dn: olcDatabase={1}mdb,cn=config
changetype: modify
replace: olcSecurity
olcSecurity: update_ssf=200
LDIF
check_rc 13 "the root's delete of pilar over ldapi is refused (confidentialityRequired)" root_modify <<LDIF
dn: uid=pilar,$PEOPLE
changetype: delete
LDIF
check "the security requirement is dropped again" SRVCFG <<LDIF
dn: olcDatabase={1}mdb,cn=config
changetype: modify
replace: olcSecurity
olcSecurity: update_ssf=0
LDIF
check_eq "the parent holds exactly the records it held before" "$before" "$(recs_of "$PEOPLE")"
logon_as "pilar still logs on" 1 pilar "uid=pilar,$PEOPLE"
# the frontend refuses it before the database's write gate runs: nothing
# was copied at all
check_eq "no records were copied for the refused delete" 0 \
	"$(grep -c "revocation records of \"uid=pilar,$PEOPLE\"" "$TESTDIR/srv1/slapd.log")"

# the client's controls on the delete concern the deleted entry only
pki_cert ca c1 c1 client
add_user c1 "User c1" || die "cannot add c1"
record_cert c1 "$PKI/c1.der" >/dev/null || die "cannot record c1"
before=$(recs_of "$PEOPLE")
check "a delete with an assertion on the entry (uid=c1) succeeds" \
	ldapdelete -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -e 'assert=(uid=c1)' "uid=c1,$PEOPLE"
check_out "and c1's record is on the parent" "^certpinRevoked: sha256=$(der_sha256 "$PKI/c1.der")\\\$" \
	printf '%s\n' "$(recs_of "$PEOPLE")"
logon_refused "c1 is refused" 1 c1

# ---- sessions bound before the revocation --------------------------------------
mod_cert delete s1 "$PKI/s1.der" > "$TESTDIR/m.ldif"
out=$(session_after 1 s1 ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -f "$TESTDIR/m.ldif" 2>&1)
check_out "open session: bound as s1 before the revocation" "^before=dn:uid=s1,$PEOPLE$" printf '%s\n' "$out"
check_out "open session: s1 could read the directory before" "^entries_before=[1-9]" printf '%s\n' "$out"
check_out "open session: after the value delete its next operation is anonymous" "^whoami=$" printf '%s\n' "$out"
check_out "open session: and it reads nothing any more" "^entries=0$" printf '%s\n' "$out"
srv_log_has "the log says the session continues as anonymous" 1 \
	"session of \"uid=s1,$PEOPLE\" continues as anonymous: certificate $(der_sha256 "$PKI/s1.der"): revoked"
out=$(session_after 1 s2 "$PY" -c "
import ldap; l = ldap.initialize('$(srv_uri 1 ldapi)'); l.simple_bind_s('$ROOTDN', '$ROOTPW'); l.delete_s('$(dn s2)')" 2>&1)
check_out "open session: after python3-ldap deleted its entry, next operation is anonymous" \
	"^whoami=$" printf '%s\n' "$out"
pki_cert ca s3 s3 client
add_user s3 "User s3" || die "cannot add s3"
record_cert s3 "$PKI/s3.der" >/dev/null || die "cannot record s3"
out=$(SESSION_FIRST=modify session_after 1 s3 true 2>&1)
check_out "open session: s3 may modify its own entry while its certificate is on file" "^first=ok$" \
	printf '%s\n' "$out"
mod_cert delete s3 "$PKI/s3.der" > "$TESTDIR/m.ldif"
out=$(SESSION_FIRST=modify session_after 1 s3 ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -f "$TESTDIR/m.ldif" 2>&1)
check_out "open session: the first operation after revocation, a modify of its own entry, runs as anonymous (8: anonymous may not write)" \
	"^first=error 8$" printf '%s\n' "$out"
out=$(session_after 1 u3new "$PY" -c "
import ldap; l = ldap.initialize('$(srv_uri 1 ldapi)'); l.simple_bind_s('$ROOTDN', '$ROOTPW')
l.modify_s('$(dn jdoe)', [(ldap.MOD_DELETE, 'certpinCertificate;binary', None)])" 2>&1)
check_out "open session: another user's revocation leaves the session as it was" \
	"^whoami=dn:uid=u3,$PEOPLE$" printf '%s\n' "$out"

srv_stop 1
srv_start 1 config
ok "srv1 restarted from cn=config"

# ---- re-binds on one connection: each one looks the certificate up again ----------
pki_cert ca rb rb client
add_user rb "User rb" || die "cannot add rb"
record_cert rb "$PKI/rb.der" >/dev/null || die "cannot record rb"
mod_cert delete rb "$PKI/rb.der" > "$TESTDIR/m.ldif"
out=$("$PY" - "$(srv_uri 1 ldaps)" "$PKI/ca.crt" "$PKI/rb.crt" "$PKI/rb.key" \
	ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -f "$TESTDIR/m.ldif" <<'PY' 2>&1
import sys, subprocess, ldap, ldap.sasl
uri, ca, crt, key = sys.argv[1:5]
l = ldap.initialize(uri)
for o, v in ((ldap.OPT_X_TLS_CACERTFILE, ca), (ldap.OPT_X_TLS_CERTFILE, crt),
             (ldap.OPT_X_TLS_KEYFILE, key), (ldap.OPT_X_TLS_NEWCTX, 0)):
    l.set_option(o, v)
for i in range(3):
    l.sasl_interactive_bind_s('', ldap.sasl.external())
print('rebinds=' + l.whoami_s())
subprocess.run(sys.argv[5:], check=True, stdout=subprocess.DEVNULL)
try:
    l.sasl_interactive_bind_s('', ldap.sasl.external())
    print('after=' + l.whoami_s())
except ldap.INVALID_CREDENTIALS:
    print('after=refused whoami=' + l.whoami_s())
PY
)
check_out "three re-binds on one connection succeed" "^rebinds=dn:uid=rb,$PEOPLE$" printf '%s\n' "$out"
check_out "the re-bind right after the revocation, same connection, is refused; the connection is anonymous" \
	"^after=refused whoami=$" printf '%s\n' "$out"

# ---- the periodic re-check (for revocations that bypass this frontend) -----------
# A rename of an entry holding certificates ends their sessions at once (the
# database's write gate reports it, whatever the re-check period).
pki_cert ca r1 r1 client
pki_cert ca r2 r2 client
for u in r1 r2; do
	add_user "$u" "User $u" || die "cannot add $u"
	record_cert "$u" "$PKI/$u.der" >/dev/null || die "cannot record $u"
done
ov="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
check "olcCertpinSessionRecheck set to 0 (only local revocations)" \
	cfg_set "$ov" olcCertpinSessionRecheck 0
out=$(session_after 1 r1 sh -c "ldapmodrdn -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' 'uid=r1,$PEOPLE' uid=r1x && sleep 2" 2>&1)
check_out "recheck 0: a rename of its entry ends the session at once (the write gate reports it)" "^whoami=$" \
	printf '%s\n' "$out"
check "olcCertpinSessionRecheck set to 1 second" \
	cfg_set "$ov" olcCertpinSessionRecheck 1
out=$(session_after 1 r2 sh -c "ldapmodrdn -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' 'uid=r2,$PEOPLE' uid=r2x && sleep 2" 2>&1)
check_out "recheck 1: the next operation more than a second later runs as anonymous" "^whoami=$" \
	printf '%s\n' "$out"
srv_log_has "the log says why" 1 "session of \"uid=r2,$PEOPLE\" continues as anonymous: certificate $(der_sha256 "$PKI/r2.der"): no such entry"
check_rc_out 80 "a negative olcCertpinSessionRecheck is refused" "between 0 and 86400" \
	cfg_set "$ov" olcCertpinSessionRecheck -1

# ---- certpin-history, from cn=config -----------------------------------------------
HIST="cn=certpin history,$SUFFIX"
check "olcCertpinHistory set over ldapi to an entry that does not exist yet" \
	cfg_set "$ov" olcCertpinHistory "$HIST"
before=$(dir_dump 1)
check_rc_out 53 "a delete whose records have nowhere to go is refused" "no longer|does not exist" root_modify <<LDIF
dn: $(dn u3)
changetype: delete
LDIF
check_eq "and changes nothing" "$before" "$(dir_dump 1)"
logon_as "u3 still logs on" 1 u3new "$(dn u3)"
root_add >/dev/null <<LDIF || die "cannot add the history entry"
dn: $HIST
objectClass: applicationProcess
cn: certpin history
LDIF
check "with the history entry present the delete succeeds" py_root_modify 1 entry u3
logon_refused "u3's new certificate is refused" 1 u3new
check_out "its record is on the history entry" \
	"^certpinRevoked: sha256=$(der_sha256 "$PKI/u3new.der")\\\$.*\\\$entry=uid=u3,ou=people" \
	root_search -b "$HIST" -s base certpinRevoked
check_out "and u3's older record (of the replaced certificate) too" \
	"^certpinRevoked: sha256=$(der_sha256 "$PKI/u3.der")\\\$" root_search -b "$HIST" -s base certpinRevoked
mod_cert add pilar "$PKI/u3new.der" > "$TESTDIR/m.ldif"
check_rc_out 19 "u3's certificate cannot be recorded elsewhere" "revoked" root_modify -f "$TESTDIR/m.ldif"
check "the history entry itself can be deleted" root_modify <<LDIF
dn: $HIST
changetype: delete
LDIF
check_out "its records go to its parent, still naming the entry they came from" \
	"^certpinRevoked: sha256=$(der_sha256 "$PKI/u3new.der")\\\$.*\\\$entry=uid=u3,ou=people,dc=example,dc=com$" \
	root_search -b "$SUFFIX" -s base certpinRevoked
check_eq "with one entry field only" 1 \
	"$(root_search -b "$SUFFIX" -s base certpinRevoked | grep "sha256=$(der_sha256 "$PKI/u3new.der")" | grep -o 'entry=' | wc -l)"
mod_cert add pilar "$PKI/u3new.der" > "$TESTDIR/m.ldif"
check_rc_out 19 "and still refuse the certificate" "revoked" root_modify -f "$TESTDIR/m.ldif"
check "slapd is alive after everything" srv_alive 1
done_testing
