#!/bin/bash
# test011-pin: PINs.  Set by administrators only, with ldapmodify, checked
# against the policy and stored hashed ({SSHA} by default, {ARGON2} when
# configured); never readable by anyone (search as root and as the user,
# compare, filters); a wrong PIN and an unknown phone get the same answer;
# lockout after the configured failures within the window, administrator
# unlock, and the window passing; a phone number shared by two users is
# refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
prov_conf 1
printf 'overlay syncprov\n' >> "$TESTDIR/srv1/slapd.conf"
sed -i "s|^moduleload back_mdb|&\nmoduleload syncprov|" "$TESTDIR/srv1/slapd.conf"
srv_start 1
prov_base 1
add_user twin "Twin Doe" "telephoneNumber: +1 425 555 0199" || die "cannot add twin"
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
JDOE="uid=jdoe,$PEOPLE"
ADMIN="uid=certadmin,$PEOPLE"
LDAP=$(srv_uri 1 ldap)
LDAPS=$(srv_uri 1 ldaps)
for u in "kenmyer:+1 425 555 0100" "pilar:+1 425 555 0101" "jdoe:+1-425-555-0199"; do
	root_modify >/dev/null <<LDIF || die "cannot set phone of ${u%%:*}"
dn: uid=${u%%:*},$PEOPLE
changetype: modify
add: telephoneNumber
telephoneNumber: ${u#*:}
LDIF
done
csr dev

pin_ldif() {	# DN PIN [add|replace]
	printf 'dn: %s\nchangetype: modify\n%s: certpinPIN\ncertpinPIN: %s\n' "$1" "${3:-replace}" "$2"
}
as_admin() { ldapmodify -x -D "$ADMIN" -w pw-certadmin -H "$LDAP" "$@"; }

# ---- setting PINs ------------------------------------------------------------------
check "the root DN sets ken's PIN with ldapmodify" root_modify -f <(pin_ldif "$KEN" 135790)
check "a member of certpin-admin-group sets jdoe's PIN" as_admin -f <(pin_ldif "$JDOE" 246810 add)
check "and twin's (the same phone as jdoe)" as_admin -f <(pin_ldif "uid=twin,$PEOPLE" 246810)
check "adding a PIN where one exists replaces it" as_admin -f <(pin_ldif "$KEN" 135791 add)
check_eq "ken holds one PIN" 1 "$(/usr/sbin/slapcat -f "$TESTDIR/srv1/slapd.conf" -a "(uid=kenmyer)" 2>/dev/null | grep -c '^certpinPIN:')"
before=$(snapshot "$KEN")
check_rc_out 50 "ken may not set his own PIN" "set by administrators only" \
	ldapmodify -x -D "$KEN" -w pw-kenmyer -H "$LDAP" -f <(pin_ldif "$KEN" 999999)
check_rc_out 19 "a PIN shorter than 6 is refused" "at least 6 characters" as_admin -f <(pin_ldif "$KEN" 12345)
check_rc_out 19 "a PIN with letters is refused" "digits only" as_admin -f <(pin_ldif "$KEN" 12a456)
check_rc_out 19 "two PINs at once are refused" "exactly one PIN" as_admin <<LDIF
dn: $KEN
changetype: modify
replace: certpinPIN
certpinPIN: 111111
certpinPIN: 222222
LDIF
check_rc_out 53 "deleting a PIN by value is refused (no oracle)" "without values" as_admin <<LDIF
dn: $KEN
changetype: modify
delete: certpinPIN
certpinPIN: 135791
LDIF
check_rc_out 17 "an option on certpinPIN is refused (by slapd already)" "unrecognized option" as_admin <<LDIF
dn: $KEN
changetype: modify
replace: certpinPIN;x-foo
certpinPIN;x-foo: 111111
LDIF
check_eq "ken's entry is unchanged by the refusals" "$before" "$(snapshot "$KEN")"
check_rc_out 0 "the root DN adds a user with a PIN" "" root_modify <<LDIF
dn: uid=newbie,$PEOPLE
changetype: add
objectClass: inetOrgPerson
objectClass: certpinUser
uid: newbie
cn: New Bie
sn: Bie
mail: newbie@example.com
telephoneNumber: +44 20 7946 0000
certpinPIN: 000111
LDIF
check_rc_out 50 "a user with a PIN cannot be added by a non-administrator" "administrators only" \
	ldapadd -x -D "$PILAR" -w pw-pilar -H "$LDAP" <<LDIF
dn: uid=sneaky,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinUser
uid: sneaky
cn: S
sn: S
certpinPIN: 123456
LDIF

# ---- stored hashed, never readable -----------------------------------------------
cat=$(/usr/sbin/slapcat -f "$TESTDIR/srv1/slapd.conf" -a "(|(uid=kenmyer)(uid=newbie))" 2>/dev/null)
check_out "slapcat shows ken's PIN as an {SSHA} hash" "^certpinPIN: \{SSHA\}[A-Za-z0-9+/=]{32}\$" printf '%s\n' "$cat"
check_eq "and the added user's too" 2 "$(printf '%s\n' "$cat" | grep -c '^certpinPIN: {SSHA}')"
check_eq "no clear PIN anywhere in the database" 0 "$(printf '%s\n' "$cat" | grep -c -e 135791 -e 000111)"
check_eq "the root DN does not read it ('*', '+' and by name)" "" \
	"$(root_search -b "$PEOPLE" '(uid=kenmyer)' '*' '+' certpinPIN | grep -i '^certpinPIN:')"
check_eq "ken does not read his own" "" \
	"$(ldapsearch -LLL -x -D "$KEN" -w pw-kenmyer -H "$LDAP" -b "$KEN" -s base '*' certpinPIN | grep -i '^certpinPIN[:;]')"
check_eq "an administrator (whom the ACLs let read it) does not read it" "" \
	"$(ldapsearch -LLL -x -D "$ADMIN" -w pw-certadmin -H "$LDAP" -b "$KEN" -s base certpinPIN | grep -i '^certpinPIN[:;]')"
check_eq "nor with attributes only" "" \
	"$(root_search -A -b "$KEN" -s base certpinPIN | grep -i '^certpinPIN[:;]')"
check_eq "an administrator (whom the ACLs let read it) does not read it with the sync control either" "" \
	"$(ldapsearch -LLL -x -D "$ADMIN" -w pw-certadmin -H "$LDAP" -E sync=ro -b "$KEN" -s base certpinPIN | grep -i '^certpinPIN[:;]')"
check_out "replication by the root DN (sync control) carries the hash" "^certpinPIN: \{SSHA\}" \
	root_search -E sync=ro -b "$KEN" -s base certpinPIN
check_out "but the rest of the entry is returned" "^uid: kenmyer\$" root_search -b "$KEN" -s base '*'
check_rc_out 53 "compare on certpinPIN is refused, even for the root DN" "cannot be compared" \
	ldapcompare -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAP" "$KEN" "certpinPIN:135791"
check_rc_out 53 "the filter (certpinPIN=*) is refused" "cannot be used in search filters" \
	root_search -b "$PEOPLE" '(certpinPIN=*)' dn
check_rc_out 53 "as is one hidden in a NOT inside an OR" "cannot be used in search filters" \
	ldapsearch -x -D "$KEN" -w pw-kenmyer -H "$LDAP" -b "$PEOPLE" '(|(uid=nobody)(!(certpinPIN=135791)))' dn

# ---- proving a user with phone and PIN ------------------------------------------------
check_rc_out 0 "the right PIN issues ken's certificate" "^issued" \
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P 135791 -o "$PKI/ken1.crt"
check_out "for ken" "CN=kenmyer" openssl x509 -in "$PKI/ken1.crt" -noout -subject -nameopt RFC2253
wrong=$(issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P 000000; echo "exit $?")
unknown=$(issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0888" -P 000000; echo "exit $?")
nopin=$(issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0101" -P 000000; echo "exit $?")
check_out "a wrong PIN: invalidCredentials" "^result 49: .*unknown phone number or wrong PIN" printf '%s\n' "$wrong"
check_eq "an unknown phone gets exactly the same answer" "$wrong" "$unknown"
check_eq "so does a user without a PIN" "$wrong" "$nopin"
fails=$(root_search -b "$KEN" -s base certpinPINFailure | grep -c '^certpinPINFailure: ')
check_eq "the wrong PIN is recorded in certpinPINFailure" 1 "$fails"
check_rc_out 0 "the right PIN again" "^issued" \
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "14255550100" -P 135791
check_eq "a right PIN clears the failures" 0 \
	"$(root_search -b "$KEN" -s base certpinPINFailure | grep -c '^certpinPINFailure: ')"
check_rc_out 19 "ken may not clear his failures himself" "maintained by the certpin overlay" \
	ldapmodify -x -D "$KEN" -w pw-kenmyer -H "$LDAP" <<LDIF
dn: $KEN
changetype: modify
delete: certpinPINFailure
LDIF

# ---- lockout and unlock ----------------------------------------------------------------
for i in 1 2 3 4 5; do
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P "00000$i" >/dev/null
done
check_eq "five wrong PINs are recorded" 5 \
	"$(root_search -b "$KEN" -s base certpinPINFailure | grep -c '^certpinPINFailure: ')"
before=$(snapshot "$KEN")
check_rc_out 19 "then even the right PIN is refused: PIN locked" "PIN locked" \
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P 135791
check_rc_out 19 "and a wrong one too, without another record" "PIN locked" \
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P 000009
check_eq "a locked PIN changes nothing" "$before" "$(snapshot "$KEN")"
check_rc_out 19 "pilar may not unlock ken" "maintained by the certpin overlay" \
	ldapmodify -x -D "$PILAR" -w pw-pilar -H "$LDAP" <<LDIF
dn: $KEN
changetype: modify
delete: certpinPINFailure
LDIF
check "an administrator unlocks ken by deleting certpinPINFailure" as_admin <<LDIF
dn: $KEN
changetype: modify
delete: certpinPINFailure
LDIF
check_rc_out 0 "then the right PIN works again" "^issued" \
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P 135791

pids=
for i in $(seq 10 21); do
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P "0000$i" > "$TESTDIR/par.$i" &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
check_eq "12 wrong PINs in parallel: 5 refused as wrong, 7 as locked" "5 49 7 19" \
	"$(cat "$TESTDIR"/par.* | sed -n 's/^result \([0-9]*\):.*/\1/p' | sort | uniq -c | sort -k2,2nr | awk '{print $1, $2}' | tr '\n' ' ' | sed 's/ $//')"
check_eq "exactly 5 failures are recorded" 5 \
	"$(root_search -b "$KEN" -s base certpinPINFailure | grep -c '^certpinPINFailure: ')"
check "an administrator unlocks ken again" as_admin <<LDIF
dn: $KEN
changetype: modify
delete: certpinPINFailure
LDIF

# ---- a phone number two users share ------------------------------------------------------
check_rc_out 49 "jdoe's phone is also twin's: refused even with the right PIN" "unknown phone number or wrong PIN" \
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0199" -P 246810
check_out "the log says why" "phone number 14255550199 is ambiguous \\(2 users\\)" cat "$TESTDIR/srv1/slapd.log"
check_eq "neither got a certificate" "" \
	"$(root_search -b "$PEOPLE" '(|(uid=jdoe)(uid=twin))' certpinThumbprint | grep '^certpinThumbprint')"
check_eq "nor a failure record" "" \
	"$(root_search -b "$PEOPLE" '(|(uid=jdoe)(uid=twin))' certpinPINFailure | grep '^certpinPINFailure')"

# ---- the window, from cn=config ---------------------------------------------------------
srv_stop 1
srv_start 1 config
ov="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
check "max failures 2 and a window of 3 seconds over ldapi" ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" <<LDIF
dn: $ov
changetype: modify
replace: olcCertpinPINMaxFailures
olcCertpinPINMaxFailures: 2
-
replace: olcCertpinPINFailureWindow
olcCertpinPINFailureWindow: 3
-
replace: olcCertpinPINMinLength
olcCertpinPINMinLength: 4
-
replace: olcCertpinPINDigitsOnly
olcCertpinPINDigitsOnly: FALSE
LDIF
check "now a 4-character PIN with letters is accepted" as_admin -f <(pin_ldif "$PILAR" "ab1z")
for i in 1 2; do issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0101" -P "bad$i" >/dev/null; done
check_rc_out 19 "two wrong PINs lock pilar" "PIN locked" \
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0101" -P ab1z
sleep 3.2
check_rc_out 0 "once the window has passed, the right PIN works" "^issued" \
	issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0101" -P ab1z
check_rc_out 80 "an unknown hash scheme is refused" "unknown password scheme" \
	cfg_set "$ov" olcCertpinPINHash "{NOSUCH}"
check_rc_out 80 "{CLEARTEXT} is refused" "not a safe scheme" \
	cfg_set "$ov" olcCertpinPINHash "{CLEARTEXT}"
srv_stop 1

# ---- {ARGON2} -----------------------------------------------------------------------------
prov_conf 2 "certpin-pin-hash {ARGON2}"
sed -i "s|^moduleload back_mdb|&\nmoduleload argon2|" "$TESTDIR/srv2/slapd.conf"
srv_start 2
prov_base 2
SRV=2 set_phone_pin "$KEN" "+1 425 555 0100" 975310 || die "cannot set ken's phone and PIN on srv2"
check_out "with certpin-pin-hash {ARGON2}, PINs are stored as {ARGON2}" '^certpinPIN: \{ARGON2\}\$argon2' \
	/usr/sbin/slapcat -f "$TESTDIR/srv2/slapd.conf" -a "(uid=kenmyer)"
check_rc_out 0 "and the right PIN issues a certificate" "^issued" \
	issue -H "$(srv_uri 2 ldaps)" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P 975310
check_rc_out 49 "a wrong one does not" "wrong PIN" \
	issue -H "$(srv_uri 2 ldaps)" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P 975311
check "slapd is alive after everything" srv_alive 2
done_testing
