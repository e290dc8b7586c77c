#!/bin/bash
# test058-promise-databases: the promises across databases and around the
# write path.  One slapd with two user databases (dc=example,dc=com and
# dc=example,dc=org), a back-relay + rwm view of the first (dc=relay,dc=com),
# each with its certpin database instance:
#   - one certificate, one user, and a revoked certificate stays revoked, across
#     the two databases and through the relay view, whatever the writer's ACLs;
#   - maintained attributes and PINs through the relay view and a dynlist list;
#   - data loaded with slapadd(8), which bypasses the overlay: what slapo-certpin(5)
#     requires of it, and that a certificate is still refused at logon when the
#     loaded entry holds its thumbprint without the certificate, or a
#     revocation record for it.
# The attacks are in tests/databases.py.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-attack.sh"

S2="dc=example,dc=org"
RELAY="dc=relay,dc=com"
pki_standard
attack_conf 1
attack_second_db 1 "$S2"
f=$TESTDIR/srv1/slapd.conf
[ -f /usr/lib/ldap/back_relay.la ] && [ -f /usr/lib/ldap/rwm.la ] || die "back_relay / rwm modules missing (slapd package)"
sed -i "s|^moduleload back_mdb|&\nmoduleload back_relay\nmoduleload rwm|" "$f"
# dynlist on the first database: dynamic lists copy attributes of the entries
# their memberURL names (a path for the PIN through another overlay)
[ -f /usr/lib/ldap/dynlist.la ] || die "dynlist overlay module is missing (slapd package)"
sed -i -e "s|^moduleload back_mdb|&\nmoduleload dynlist|" \
	-e "s|^include /etc/ldap/schema/inetorgperson.schema|&\ninclude /etc/ldap/schema/dyngroup.schema|" \
	-e "0,/^overlay syncprov/s|^overlay syncprov|overlay dynlist\ndynlist-attrset groupOfURLs memberURL\n&|" "$f"
cat >> "$f" <<CONF

database relay
suffix "$RELAY"
relay "$SUFFIX"
overlay rwm
rwm-suffixmassage "$RELAY" "$SUFFIX"
CONF
attack_db_overlay "$f"
srv_start 1
srv_base 1
SRV=1 ldapadd -x -D "cn=admin,$S2" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" >/dev/null <<LDIF || die "cannot load $S2"
dn: $S2
objectClass: dcObject
objectClass: organization
dc: example
o: Example Org

dn: ou=people,$S2
objectClass: organizationalUnit
ou: people

dn: uid=orguser,ou=people,$S2
objectClass: inetOrgPerson
objectClass: certpinUser
uid: orguser
cn: Org User
sn: User
userPassword: pw-orguser
LDIF
check "ken's certificate on file" record_cert kenmyer "$PKI/kenmyer.der"
check "pilar's certificate on file" record_cert pilar "$PKI/pilar.der"
check "and revoked" root_modify <<LDIF
dn: uid=pilar,$PEOPLE
changetype: modify
delete: certpinCertificate;binary
LDIF
check "a dynamic list naming ken's PIN" root_add <<LDIF
dn: cn=pinlist,$SUFFIX
objectClass: groupOfURLs
cn: pinlist
memberURL: ldap:///$PEOPLE?certpinPIN,uid?sub?(uid=kenmyer)
LDIF
check "ken's PIN set" root_modify <<LDIF
dn: uid=kenmyer,$PEOPLE
changetype: modify
replace: certpinPIN
certpinPIN: 135790
LDIF
run_py "$SRCDIR/tests/databases.py" online "$(srv_uri 1 ldapi)" "$(srv_uri 1 ldaps)" "$PKI" \
	"$TESTDIR/db" "$ROOTDN" "$ROOTPW" "$TESTDIR/srv1/slapd.pid"
srv_alive 1 && ok "slapd alive after the several-databases attacks" || { notok "slapd died"; srv_start 1; }

# ---- slapadd: bypasses the overlay ---------------------------------------
# three entries loaded offline, made by databases.py (certificates S1-S3):
#   sa1: certpinThumbprint of S1, but no certpinCertificate
#   sa2: certificate S2 with its thumbprint AND a revocation record for it
#   sa3: a revocation record for S3 without certpinRevokedThumbprint (the
#        documented requirement broken); an administrator then adds S3
srv_stop 1
"$PY" "$SRCDIR/tests/databases.py" slapadd-ldif "$PKI" "$TESTDIR/db" > "$TESTDIR/slapadd.ldif" ||
	die "cannot write the slapadd LDIF"
check "slapadd loads the three entries" /usr/sbin/slapadd -q -f "$f" -b "$SUFFIX" -l "$TESTDIR/slapadd.ldif"
srv_start 1
run_py "$SRCDIR/tests/databases.py" slapadd "$(srv_uri 1 ldapi)" "$(srv_uri 1 ldaps)" "$PKI" \
	"$TESTDIR/db" "$ROOTDN" "$ROOTPW" "$TESTDIR/srv1/slapd.pid"
srv_alive 1 && ok "slapd alive after the slapadd attacks" || notok "slapd died"
done_testing
