#!/bin/bash
# test060-promise-maintained: "maintained attributes are never written by
# clients, and slapd never dies" (issue 12 items 1, 4, 6).  Attacks: the
# two-step writes that aborted slapd in attr_merge (add with a certificate
# then modify add; after a value delete; the Relax Rules re-add; entries
# added with two certificates), renames whose RDN names certpin attributes
# (deleteoldrdn 0 writes the RDN's values into the entry), a rename's
# effect on the device session, deleting a look-alike certificate (same
# serial and issuer, other bytes: the backend removes the real one), and a
# direct write of each maintained attribute through every write operation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"

pki_standard
srv_conf 1
srv_start 1
srv_base 1
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
tps_of() { root_search -b "$1" -s base certpinThumbprint | sed -n 's/^certpinThumbprint: //p' | sort; }
infos_of() { root_search -b "$1" -s base certpinCertInfo | grep -c '^certpinCertInfo: '; }
by_tp() { root_search -b "$SUFFIX" "(certpinThumbprint=$1)" 1.1 | sed -n 's/^dn: //p'; }
newuser() {	# UID [ldif lines...]: add an entry (certificates given as lines)
	local u=$1
	shift
	{ printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: certpinUser\nuid: %s\ncn: %s\nsn: %s\n' \
		"$u" "$PEOPLE" "$u" "$u" "$u"; printf '%s\n' "$@"; } | root_add
}
pki_cert ca two1 two1 client
pki_cert ca two2 two2 client
pki_cert ca two3 two3 client
pki_cert ca one1 one1 client
pki_cert ca one2 one2 client
pki_cert ca re1 re1 client

# ---- item 1: the attr_merge abort paths ---------------------------------------
check "an entry is added WITH a certificate in the ldapadd itself" \
	newuser one "certpinCertificate;binary:< file://$PKI/one1.der"
check "then a second certificate is added by modify (slapd aborted here)" \
	sh -c "$(declare -f mod_cert); PEOPLE='$PEOPLE'; mod_cert add one '$PKI/one2.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
check "slapd is still running" srv_alive 1
check_eq "both thumbprints are on the entry" \
	"$(printf '%s\n%s\n' "$(der_sha256 "$PKI/one1.der")" "$(der_sha256 "$PKI/one2.der")" | sort)" \
	"$(tps_of "uid=one,$PEOPLE")"
check_eq "an equality search finds the first certificate's thumbprint (normalized values stored)" \
	"uid=one,$PEOPLE" "$(by_tp "$(der_sha256 "$PKI/one1.der")")"
check_eq "... and the second's" "uid=one,$PEOPLE" "$(by_tp "$(der_sha256 "$PKI/one2.der")")"
check "the first is deleted (a value delete)" \
	sh -c "$(declare -f mod_cert); PEOPLE='$PEOPLE'; mod_cert delete one '$PKI/one1.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
pki_cert ca one3 one3 client
check "and another added after the value delete" \
	sh -c "$(declare -f mod_cert); PEOPLE='$PEOPLE'; mod_cert add one '$PKI/one3.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
check "slapd is still running after the value delete and re-add" srv_alive 1
check_eq "two certificates, two metadata records" 2 "$(infos_of "uid=one,$PEOPLE")"

check "an entry is added with two certificates" newuser two \
	"certpinCertificate;binary:< file://$PKI/two1.der" "certpinCertificate;binary:< file://$PKI/two2.der"
check "a third is added by modify" \
	sh -c "$(declare -f mod_cert); PEOPLE='$PEOPLE'; mod_cert add two '$PKI/two3.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
check "slapd is still running after the third" srv_alive 1
check_eq "three metadata records" 3 "$(infos_of "uid=two,$PEOPLE")"

check "an entry is added with a certificate that is later revoked" newuser re \
	"certpinCertificate;binary:< file://$PKI/re1.der"
check "the certificate is deleted (revoked)" \
	sh -c "$(declare -f mod_cert); PEOPLE='$PEOPLE'; mod_cert delete re '$PKI/re1.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
rec=$(root_search -b "uid=re,$PEOPLE" -s base certpinRevoked | sed -n 's/^certpinRevoked: //p')
check "the administrator clears the record with the Relax Rules control" sh -c \
	"printf 'dn: uid=re,%s\nchangetype: modify\ndelete: certpinRevoked\ncertpinRevoked: %s\n' '$PEOPLE' '$rec' | ldapmodify -e relax -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
check "and re-adds the certificate (the Relax Rules re-add path)" \
	sh -c "$(declare -f mod_cert); PEOPLE='$PEOPLE'; mod_cert add re '$PKI/re1.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
pki_cert ca re2 re2 client
check "then adds a second one" \
	sh -c "$(declare -f mod_cert); PEOPLE='$PEOPLE'; mod_cert add re '$PKI/re2.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
check "slapd is still running after the Relax Rules re-add path" srv_alive 1

# ---- item 4: renames --------------------------------------------------------------
check "ken gets his certificate" record_cert kenmyer "$PKI/kenmyer.der"
logon_as "ken logs on" 1 kenmyer "$KEN"
STRANGER=$(der_sha256 "$PKI/mallory.der")
before=$(snapshot "$KEN")
rename() {	# DN NEWRDN [ldapmodrdn options]
	local dn=$1 rdn=$2
	shift 2
	ldapmodrdn -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" "$@" "$dn" "$rdn"
}
check_rc_out 19 "a rename to uid=kenmyer+certpinThumbprint=<never recorded> (old RDN kept) is refused" \
	"may not name certpinThumbprint" rename "$KEN" "uid=kenmyer+certpinThumbprint=$STRANGER"
check_rc 19 "a rename whose RDN names certpinPIN is refused (no cleartext PIN in a DN)" \
	rename "$KEN" "uid=kenmyer+certpinPIN=123456"
check_rc 19 "a rename whose RDN names certpinCertInfo is refused" \
	rename "$KEN" "uid=kenmyer+certpinCertInfo=sha256=$STRANGER"
check_rc 19 "a rename whose RDN names certpinRevoked is refused" \
	rename "$KEN" "uid=kenmyer+certpinRevoked=x"
check_rc 19 "a rename whose RDN names certpinRevokedThumbprint is refused" \
	rename "$KEN" "uid=kenmyer+certpinRevokedThumbprint=$STRANGER"
check_rc 19 "a rename whose RDN names certpinPINFailure is refused" \
	rename "$KEN" "uid=kenmyer+certpinPINFailure=20260101000000Z"
check_rc 19 "a rename with -r (old RDN deleted) naming certpinThumbprint is refused too" \
	rename "$KEN" "certpinThumbprint=$STRANGER" -r
check_eq "ken's entry is unchanged by the refused renames" "$before" "$(snapshot "$KEN")"
logon_refused "the never-recorded certificate does not log on as ken" 1 mallory
check_rc 19 "an add whose RDN names certpinPIN is refused" newuser "x+certpinPIN=1234"
out=$(session_after 1 kenmyer sh -c "ldapmodrdn -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' '$KEN' uid=kenmyer2" 2>&1)
check_out "the device session of a renamed user is ended at once (anonymous)" "^whoami=$" printf '%s\n' "$out"
check_out "... and sees no entries as the user any more" "^entries=0$" printf '%s\n' "$out"
KEN="uid=kenmyer2,$PEOPLE"
check "a plain rename (back) of a holder of certificates is allowed" rename "$KEN" uid=kenmyer
KEN="uid=kenmyer,$PEOPLE"

# ---- item 6: look-alike certificates ---------------------------------------------
# same serial and issuer (certificateExactMatch), one signature byte changed
"$PY" - "$PKI/kenmyer.der" "$PKI/lookalike.der" <<'PY' || die "cannot make the look-alike"
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
d[-1] ^= 0x01
open(sys.argv[2], 'wb').write(bytes(d))
PY
KTP=$(der_sha256 "$PKI/kenmyer.der")
check "deleting the look-alike is accepted (the backend matches serial and issuer)" \
	sh -c "$(declare -f mod_cert); PEOPLE='$PEOPLE'; mod_cert delete kenmyer '$PKI/lookalike.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
check_eq "the real certificate is gone from the entry" "" \
	"$(root_search -b "$KEN" -s base 'certpinCertificate;binary' | grep -c '^certpinCertificate' | grep -v '^0$')"
check_eq "... and so are its thumbprint" "" "$(tps_of "$KEN")"
check_eq "... and its metadata" 0 "$(infos_of "$KEN")"
check_out "a revocation record names the REAL certificate's thumbprint" "^certpinRevoked: sha256=$KTP" \
	root_search -b "$KEN" -s base certpinRevoked
check_out "certpinRevokedThumbprint holds it" "^certpinRevokedThumbprint: $KTP$" \
	root_search -b "$KEN" -s base certpinRevokedThumbprint
logon_refused "the real certificate no longer logs on" 1 kenmyer
check_rc_out 19 "and cannot be added back without clearing the record" "revoked" \
	record_cert kenmyer "$PKI/kenmyer.der"

# ---- direct writes of the maintained attributes, every write operation ---------
check "pilar gets her certificate" record_cert pilar "$PKI/pilar.der"
PTP=$(der_sha256 "$PKI/pilar.der")
before=$(snapshot "$PILAR")
for at in certpinThumbprint certpinCertInfo certpinRevokedThumbprint certpinPINFailure certpinRevoked; do
	case $at in
	certpinPINFailure) v=20260101000000Z ;;
	certpinCertInfo|certpinRevoked) v="sha256=$STRANGER\$x=y" ;;
	*) v=$STRANGER ;;
	esac
	for mop in add replace; do
		check_rc 19 "modify $mop $at is refused" root_modify <<LDIF
dn: $PILAR
changetype: modify
$mop: $at
$at: $v
LDIF
	done
	[ "$at" = certpinRevoked ] || check_rc 19 "modify delete $at (one value) is refused" root_modify <<LDIF
dn: $PILAR
changetype: modify
delete: $at
$at: $( [ "$at" = certpinPINFailure ] && echo 20260101000000Z || echo "$PTP" )
LDIF
	check_rc 19 "an add carrying $at is refused" newuser "w$RANDOM" "$at: $v"
done
check_rc 19 "modify delete certpinThumbprint (all values) is refused" root_modify <<LDIF
dn: $PILAR
changetype: modify
delete: certpinThumbprint
LDIF
check_rc 19 "certpinCertificate with an option other than ;binary is refused" root_modify <<LDIF
dn: $PILAR
changetype: modify
add: certpinCertificate;lang-en;binary
certpinCertificate;lang-en;binary:< file://$PKI/mallory.der
LDIF
check_eq "pilar's entry is unchanged by all of them" "$before" "$(snapshot "$PILAR")"
logon_as "pilar still logs on" 1 pilar "$PILAR"
logon_refused "mallory's certificate does not log on" 1 mallory
check "slapd is still running" srv_alive 1
done_testing
