# tests/lib-tools.sh - shared by the tests of the certpin tools; sourced
# after tests/lib.sh.
#
# tools_server N: srv N with certpin, msuser.schema, the people of srv_base
# named as in Active Directory (SIP address, UPN, sAMAccountName), a second
# "John Doe" (uid=jdoe2), an administrators' group (cn=certadmins: uid=admin)
# and an auditors' group (cn=auditors: uid=auditor), and ACLs:
#   certpinCertificate: certadmins write, auditors read, self read + delete
#                       (a user may revoke a lost phone), nobody else;
#   certpinCertInfo, certpinThumbprint, certpinRevoked: certadmins write,
#                       auditors and self read, nobody else.

GROUPOU="ou=groups,$SUFFIX"
ADMIN="uid=admin,$PEOPLE"
AUDITOR="uid=auditor,$PEOPLE"
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
JDOE="uid=jdoe,$PEOPLE"
JDOE2="uid=jdoe2,$PEOPLE"
GET=$TOOLS/certpin-get
REVOKE=$TOOLS/certpin-revoke

[ -x "$GET" ] && [ -x "$REVOKE" ] || die "tools not built (run make)"
command -v jq >/dev/null || die "jq is missing (run scripts/install-deps)"
[ -s "$SRCDIR/schema/certpin-sip.schema" ] || die "schema/certpin-sip.schema missing"

TOOLS_ACL="access to attrs=certpinCertificate
	by group.exact=\"cn=certadmins,$GROUPOU\" write
	by group.exact=\"cn=auditors,$GROUPOU\" read
	by self =rscdz
	by * none
access to attrs=certpinCertInfo,certpinThumbprint,certpinRevoked
	by group.exact=\"cn=certadmins,$GROUPOU\" write
	by group.exact=\"cn=auditors,$GROUPOU\" read
	by self read
	by * none"

# ad_names UID SIP UPN LOGON: give a user its Active Directory names
ad_names() {
	root_modify >/dev/null <<LDIF
dn: uid=$1,$PEOPLE
changetype: modify
add: objectClass
objectClass: adNamedUser
-
add: msRTCSIP-PrimaryUserAddress
msRTCSIP-PrimaryUserAddress: $2
-
add: userPrincipalName
userPrincipalName: $3
-
add: sAMAccountName
sAMAccountName: $4
LDIF
}

tools_server() {
	local n=$1
	SRV_ACL=$TOOLS_ACL srv_conf "$n"
	srv_start "$n"
	srv_base "$n"
	export SRV=$n
	add_user jdoe2 "John Doe" || die "cannot add jdoe2"
	add_user admin "Cert Admin" || die "cannot add admin"
	add_user auditor "Cert Auditor" || die "cannot add auditor"
	ad_names kenmyer sip:kenmyer@example.com kenmyer@example.com kenmyer || die "ad names"
	ad_names pilar sip:pilar@example.com pilar@example.com pilar || die "ad names"
	ad_names jdoe sip:jdoe@example.com jdoe@example.com jdoe || die "ad names"
	ad_names jdoe2 sip:john.doe@example.com john.doe@example.com jdoe2 || die "ad names"
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
}

# The tools as the local root (ldapi, SASL EXTERNAL), as the administrator
# (simple bind over ldapi), or as any user (simple bind, password pw-UID).
as_root() { "$@" -Q -Y EXTERNAL -H "$(srv_uri "${SRV:-1}" ldapi)"; }
as_admin() { "$@" -x -D "$ADMIN" -w pw-admin -H "$(srv_uri "${SRV:-1}" ldapi)"; }
as_user() { local u=$1; shift; "$@" -x -D "uid=$u,$PEOPLE" -w "pw-$u" -H "$(srv_uri "${SRV:-1}" ldapi)"; }

# A client over TLS: libldap reads LDAPTLS_* only without LDAPNOINIT; HOME
# in the test directory keeps any user ldaprc out.
tls() { env -u LDAPNOINIT HOME="$TESTDIR" LDAPTLS_CACERT="$PKI/ca.crt" LDAPTLS_REQCERT=demand "$@"; }

# The whole directory as the root DN sees it, operational attributes
# included: two equal dumps mean nothing changed.
tools_dump() { root_search -b "$SUFFIX" '*' '+' 2>&1 | grep -v '^# '; }

# openssl's view of a DER certificate, in the tools' formats
ossl_sha256() { der_sha256 "$1"; }
ossl_sha1() { openssl x509 -inform DER -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }
ossl_serial() { openssl x509 -inform DER -in "$1" -noout -serial | sed 's/.*=//'; }
ossl_issuer() { openssl x509 -inform DER -in "$1" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'; }
ossl_subject() { openssl x509 -inform DER -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
ossl_date() {	# DER enddate|startdate -> ISO 8601 UTC
	date -u -d "$(openssl x509 -inform DER -in "$1" -noout "-$2" | sed 's/^[a-zA-Z]*=//')" +%Y-%m-%dT%H:%M:%SZ
}

# delay_proxy N DELAY: a proxy in front of srv N's ldap:// port that holds
# every response back DELAY seconds and counts the requests the client had
# in flight (tests/ldap-delay-proxy.py).  Sets PROXY_URI, PROXY_PID and
# PROXY_STATS ("search N" lines: the most in flight at once).
delay_proxy() {
	local port sport
	port=$(free_port)
	sport=$(srv_uri "$1" ldap | sed 's|.*:\([0-9]*\)/$|\1|')
	PROXY_STATS=$TESTDIR/proxy.$port
	"$PY" "$SRCDIR/tests/ldap-delay-proxy.py" "$port" "$sport" "$2" "$PROXY_STATS" &
	PROXY_PID=$!
	PROXY_URI=ldap://127.0.0.1:$port/
	local i
	for i in $(seq 1 50); do
		[ -s "$PROXY_STATS" ] || [ -f "$PROXY_STATS" ] && return 0
		sleep 0.1
	done
	die "the delay proxy did not start"
}
proxy_peak() { sed -n "s/^$1 //p" "$PROXY_STATS"; }
