#!/bin/bash
# test087-config-before-schema: the overlay can be configured before the
# schema its defaults name (uid and mail, from core.schema) is loaded, as
# OpenLDAP's own cn=config tests build cn=config first and add the schema
# over LDAP afterwards: slapd starts, certpinIssue is refused with a clear
# message until the schema is loaded, and takes the defaults once it is.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
d=$TESTDIR/srv1
mkdir -p "$d/db" "$d/slapd.d"
p1=$(free_port); p2=$(free_port)
echo "ldap://127.0.0.1:$p1/" > "$d/uri.ldap"
echo "ldaps://127.0.0.1:$p2/" > "$d/uri.ldaps"
echo "ldapi://$(printf '%s' "$d/ldapi" | sed 's|/|%2F|g')/" > "$d/uri.ldapi"
cat > "$d/slapd.conf" <<CONF
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload $MODULE
pidfile $d/slapd.pid
TLSCACertificateFile $PKI/ca.crt
TLSCertificateFile $PKI/server.crt
TLSCertificateKeyFile $PKI/server.key
TLSVerifyClient try

database frontend
overlay certpin
certpin-ca-cert $PKI/ca.crt
certpin-ca-key $PKI/ca.key

database config
rootdn "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"

CONF
check_rc 0 "slaptest accepts certpin configured before any schema" \
	"$SLAPTEST" -Q -f "$d/slapd.conf" -F "$d/slapd.d"
srv_start 1 config
check "slapd runs with the overlay configured before the schema" srv_alive 1
csr dev
check_rc_out 53 "certpinIssue before the schema: refused, naming what is missing" \
	"naming attributes .* not defined: load the core schema" \
	issue -H "$(srv_uri 1 ldap)" -r "$PKI/dev.csr.der"
check_rc 0 "core.ldif is loaded over ldapi afterwards" \
	ldapadd -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" -f /etc/ldap/schema/core.ldif
out=$(issue -H "$(srv_uri 1 ldap)" -r "$PKI/dev.csr.der" 2>&1)
if printf '%s\n' "$out" | grep -q "not defined"; then
	notok "after the schema, certpinIssue takes the defaults: $out"
else
	ok "after the schema, certpinIssue takes the defaults (now: ${out%%$'\n'*})"
fi
check "slapd still runs" srv_alive 1
done_testing
