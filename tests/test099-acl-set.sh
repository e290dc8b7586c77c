#!/bin/bash
# test099-acl-set: slapo-certpin(5)'s one set of access rules (ACCESS
# CONTROL), taken from the rendered page into slapd.conf before the usual
# user rules, does what the page says: the local root (ldapi -Y EXTERNAL,
# Debian's peercred identity) manages everything and the tools' local-
# administrator examples find certificates; the administrators' group lists
# and revokes; a user reads his own records and deletes his own
# certificate; any other user or anonymous sees nothing of certpin's.
# Attacks: "PINs never leave the server" and the metadata's confidentiality
# under the documented ACLs (the demo's used to let any user read everyone's).
. "$(dirname "$0")/lib.sh"

page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$SRCDIR/slapo-certpin/slapo-certpin.5" 2>/dev/null)
acl=$(printf '%s\n' "$page" | sed -n '/^ACCESS CONTROL/,/^[A-Z]/p' |
	sed -n '/^ *access to \*$/,/^ *$/p' | sed -e 's/^ *access/access/' -e '/^ *$/d')
check_out "the page has the rules, starting with the local root's manage" \
	"by dn.exact=\"gidNumber=0\\+uidNumber=0,cn=peercred,cn=external,cn=auth\"" printf '%s\n' "$acl"
check_eq "five rules" 5 "$(printf '%s\n' "$acl" | grep -c '^ *access to')"

GROUP="cn=certadmins,ou=groups,$SUFFIX"
pki_standard
SRV_ACL=$acl srv_conf 1
srv_start 1
srv_base 1
root_add >/dev/null <<LDIF || die "cannot add the group"
dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: uid=certadmin,$PEOPLE
objectClass: inetOrgPerson
uid: certadmin
cn: Cert Admin
sn: Admin
userPassword: pw-certadmin

dn: $GROUP
objectClass: groupOfNames
cn: certadmins
member: uid=certadmin,$PEOPLE
LDIF
record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record ken's"
record_cert kenmyer "$PKI/spare.der" >/dev/null || die "cannot record ken's spare"
record_cert pilar "$PKI/pilar.der" >/dev/null || die "cannot record pilar's"
KEN="uid=kenmyer,$PEOPLE"
tp() { der_sha256 "$PKI/$1.der"; }
U=$(srv_uri 1 ldapi)
attrs() { sed -n 's/^\(certpin[A-Za-z;]*\): .*/\1/p' | sort -u | tr '\n' ' '; }
as() {	# as WHO: ldapsearch of ken's certpin attributes
	case $1 in
	root) ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H "$U" -b "$KEN" -s base certpinThumbprint certpinCertInfo certpinRevoked certpinCertificate ;;
	anonymous) ldapsearch -LLL -o ldif-wrap=no -x -H "$U" -b "$KEN" -s base certpinThumbprint certpinCertInfo certpinRevoked certpinCertificate ;;
	*) ldapsearch -LLL -o ldif-wrap=no -x -D "uid=$1,$PEOPLE" -w "pw-$1" -H "$U" -b "$KEN" -s base certpinThumbprint certpinCertInfo certpinRevoked certpinCertificate ;;
	esac 2>&1
}
check_out "the local root (ldapi EXTERNAL) reads ken's thumbprints and records" \
	"certpinCertInfo .*certpinThumbprint" printf '%s\n' "$(as root | attrs)"
check_out "the tools' local-administrator example finds them" "$(tp kenmyer)" \
	"$TOOLS/certpin-get" -Q -Y EXTERNAL -H "$U" -o json "$KEN"
check_out "the administrators' group reads them" "certpinThumbprint" printf '%s\n' "$(as certadmin)"
check_out "ken reads his own" "certpinThumbprint: $(tp kenmyer)" printf '%s\n' "$(as kenmyer)"
check_eq "pilar sees nothing of ken's" "" "$(as pilar | attrs)"
check_eq "anonymous sees nothing of ken's" "" "$(as anonymous | attrs)"
check_eq "pilar finds ken by none of his thumbprints" "" \
	"$(ldapsearch -LLL -x -D "uid=pilar,$PEOPLE" -w pw-pilar -H "$U" -b "$SUFFIX" "(certpinThumbprint=$(tp kenmyer))" dn 2>&1)"
check_eq "certpinPIN: not even the local root reads it" "" \
	"$(ldapsearch -LLL -Q -Y EXTERNAL -H "$U" -b "$KEN" -s base certpinPIN 2>&1 | grep -i '^certpinPIN:')"
check_rc 50 "pilar cannot revoke ken's certificate" ldapmodify -x -D "uid=pilar,$PEOPLE" -w pw-pilar -H "$U" <<LDIF
dn: $KEN
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/spare.der
LDIF
check "ken deletes his own lost phone's certificate" ldapmodify -x -D "$KEN" -w pw-kenmyer -H "$U" <<LDIF
dn: $KEN
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/spare.der
LDIF
check_rc 50 "ken cannot add a certificate himself" ldapmodify -x -D "$KEN" -w pw-kenmyer -H "$U" <<LDIF
dn: $KEN
changetype: modify
add: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/kenmyer2.der
LDIF
check_out "an administrator revokes with certpin-revoke" "1 certificate revoked for 1 user" \
	"$TOOLS/certpin-revoke" -x -D "uid=certadmin,$PEOPLE" -w pw-certadmin -H "$U" "$KEN"
check_out "the local root lists the revocation records" "$(tp kenmyer)" \
	"$TOOLS/certpin-get" -Q -Y EXTERNAL -H "$U" --revoked -o json "$KEN"
done_testing
