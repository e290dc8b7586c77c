#!/bin/bash
# test064-promise-records-admin: "a revocation takes effect at once, and
# stays": clearing a revocation record (a Relax Rules delete of a
# certpinRevoked value) needs an administrator, the root DN or a member of
# certpin-admin-group, whatever the ACLs allow (issue 12 item 15).  Attack:
# with "by self write" a user clears the record of her own certificate that
# an administrator revoked, re-adds it, and the lost device logs on again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"

pki_standard
ADMINS="cn=certadmins,$SUFFIX"
SRV_ACL="access to dn.subtree=\"$PEOPLE\" by group.exact=\"$ADMINS\" write by * break" \
	srv_conf 1 "certpin-admin-group \"$ADMINS\""
srv_start 1
srv_base 1
root_add >/dev/null <<LDIF || die "cannot add the group"
dn: $ADMINS
objectClass: groupOfNames
cn: certadmins
member: uid=jdoe,$PEOPLE
LDIF
PILAR="uid=pilar,$PEOPLE"
TP=$(der_sha256 "$PKI/pilar.der")
check "pilar's certificate is recorded" record_cert pilar "$PKI/pilar.der"
check "an administrator revokes it" root_modify <<LDIF
dn: $PILAR
changetype: modify
delete: certpinCertificate;binary
LDIF
rec=$(root_search -b "$PILAR" -s base certpinRevoked | sed -n 's/^certpinRevoked: //p')
[ -n "$rec" ] || die "no revocation record"
clear_as() {	# BINDDN PASSWORD: delete the record with the Relax Rules control
	printf 'dn: %s\nchangetype: modify\ndelete: certpinRevoked\ncertpinRevoked: %s\n' "$PILAR" "$rec" |
		ldapmodify -e relax -x -D "$1" -w "$2" -H "$(srv_uri 1 ldapi)"
}
readd_as() {
	printf 'dn: %s\nchangetype: modify\nadd: certpinCertificate;binary\ncertpinCertificate;binary:< file://%s\n' \
		"$PILAR" "$PKI/pilar.der" | ldapmodify -x -D "$1" -w "$2" -H "$(srv_uri 1 ldapi)"
}
before=$(snapshot "$PILAR")
check_rc_out 50 "pilar (self write by the ACLs) cannot clear her own record" \
	"requires an administrator" clear_as "$PILAR" pw-pilar
check_rc 50 "nor can ken (not an administrator) clear it" clear_as "uid=kenmyer,$PEOPLE" pw-kenmyer
check_eq "the entry is unchanged" "$before" "$(snapshot "$PILAR")"
check_rc_out 19 "so pilar cannot re-add the certificate" "revoked" readd_as "$PILAR" pw-pilar
logon_refused "and the lost device does not log on" 1 pilar
check "jdoe, a member of certpin-admin-group, clears the record" clear_as "uid=jdoe,$PEOPLE" pw-jdoe
check_eq "... and its certpinRevokedThumbprint goes with it" "" \
	"$(root_search -b "$PILAR" -s base certpinRevokedThumbprint | sed -n 's/^certpinRevokedThumbprint: //p')"
check "now the certificate can come back" readd_as "$ROOTDN" "$ROOTPW"
logon_as "and logs on" 1 pilar "$PILAR"
check "slapd is still running" srv_alive 1
done_testing
