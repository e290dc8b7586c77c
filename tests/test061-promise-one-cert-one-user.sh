#!/bin/bash
# test061-promise-one-cert-one-user: "one certificate, one user" across
# databases and under concurrency (issue 12 items 8, 13, 14).  Attacks: a
# user with self-write in a second database copies another user's
# certificate onto her entry (the owner would be locked out) or a revoked
# one (accepted elsewhere); concurrent adds of one certificate to two
# entries in two databases (and in one); through a back-relay/rwm view of
# the user database a user adds another user's revoked certificate (the
# check used to run as the relay database's empty root DN, hidden by ACLs);
# adds of another user's certificate abandoned as soon as they are sent
# (an abandoned operation's internal searches used to stop early: the
# check found no holder).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"

[ -f /usr/lib/ldap/back_relay.la ] && [ -f /usr/lib/ldap/rwm.la ] ||
	die "back_relay and rwm modules are missing (slapd package)"
pki_standard
srv_conf 1
OTHER="dc=other,dc=com"
VIEW="dc=view,dc=com"
mkdir -p "$TESTDIR/srv1/db2"
sed -i "s|^moduleload back_mdb|&\nmoduleload back_relay\nmoduleload rwm|" "$TESTDIR/srv1/slapd.conf"
cat >> "$TESTDIR/srv1/slapd.conf" <<CONF

database mdb
suffix "$OTHER"
rootdn "cn=admin,$OTHER"
rootpw $ROOTPW
directory $TESTDIR/srv1/db2
maxsize 104857600
index objectClass eq
index certpinThumbprint eq
index certpinRevokedThumbprint eq
access to attrs=userPassword by anonymous auth by self write by * none
access to * by self write by users read by * none
overlay certpin

database relay
suffix "$VIEW"
relay "$SUFFIX"
overlay rwm
rwm-suffixmassage "$VIEW" "$SUFFIX"
overlay certpin
CONF
srv_start 1
srv_base 1
other_add() { ldapadd -x -D "cn=admin,$OTHER" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" "$@"; }
other_add >/dev/null <<LDIF || die "cannot load $OTHER"
dn: $OTHER
objectClass: dcObject
objectClass: organization
dc: other
o: Other

dn: uid=eve,$OTHER
objectClass: inetOrgPerson
objectClass: certpinUser
uid: eve
cn: Eve
sn: Eve
userPassword: pw-eve
LDIF
KEN="uid=kenmyer,$PEOPLE"
EVE="uid=eve,$OTHER"
as_eve() { ldapmodify -x -D "$EVE" -w pw-eve -H "$(srv_uri 1 ldapi)"; }
add_to() {	# DN DERFILE: the modify that adds a certificate
	printf 'dn: %s\nchangetype: modify\nadd: certpinCertificate;binary\ncertpinCertificate;binary:< file://%s\n' "$1" "$2"
}

# ---- item 13: a second user database -------------------------------------------
check "ken holds his certificate" record_cert kenmyer "$PKI/kenmyer.der"
before=$(ldapsearch -LLL -x -D "cn=admin,$OTHER" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -b "$EVE" -s base '*' '+')
check_rc_out 19 "eve (self-write, other database) cannot copy ken's certificate onto her entry" \
	"already on file" sh -c "$(declare -f add_to); add_to '$EVE' '$PKI/kenmyer.der' | ldapmodify -x -D '$EVE' -w pw-eve -H '$(srv_uri 1 ldapi)'"
check_eq "eve's entry is unchanged" "$before" \
	"$(ldapsearch -LLL -x -D "cn=admin,$OTHER" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -b "$EVE" -s base '*' '+')"
logon_as "ken still logs on (not locked out by a second holder)" 1 kenmyer "$KEN"
check "pilar's certificate is recorded and then revoked" sh -c \
	"$(declare -f record_cert); PEOPLE='$PEOPLE'; ROOTDN='$ROOTDN'; ROOTPW='$ROOTPW'; SRV=1; TESTDIR='$TESTDIR'; $(declare -f root_modify srv_uri); record_cert pilar '$PKI/pilar.der' && printf 'dn: uid=pilar,%s\nchangetype: modify\ndelete: certpinCertificate;binary\n' '$PEOPLE' | root_modify"
check_rc_out 19 "the certificate revoked in $SUFFIX is refused in $OTHER" "already on file|revoked" \
	sh -c "$(declare -f add_to); add_to '$EVE' '$PKI/pilar.der' | ldapmodify -x -D 'cn=admin,$OTHER' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
check "eve may add her own certificate" sh -c \
	"$(declare -f add_to); add_to '$EVE' '$PKI/jdoe.der' | ldapmodify -x -D 'cn=admin,$OTHER' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
check_rc_out 19 "which then cannot go to a user of $SUFFIX" "already on file" \
	sh -c "$(declare -f add_to); add_to 'uid=jdoe,$PEOPLE' '$PKI/jdoe.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"

# ---- item 14: a back-relay/rwm view of the user database ---------------------------
check_rc_out 19 "through $VIEW, jdoe cannot add pilar's revoked certificate to his own entry" \
	"already on file|revoked" sh -c "$(declare -f add_to); add_to 'uid=jdoe,ou=people,$VIEW' '$PKI/pilar.der' | ldapmodify -x -D 'uid=jdoe,$PEOPLE' -w pw-jdoe -H '$(srv_uri 1 ldapi)'"
check_rc_out 19 "... nor ken's certificate (on file)" "already on file" \
	sh -c "$(declare -f add_to); add_to 'uid=jdoe,ou=people,$VIEW' '$PKI/kenmyer.der' | ldapmodify -x -D 'uid=jdoe,$PEOPLE' -w pw-jdoe -H '$(srv_uri 1 ldapi)'"
check_eq "jdoe holds no certificate" "" \
	"$(root_search -b "uid=jdoe,$PEOPLE" -s base 'certpinCertificate;binary' | grep '^certpinCertificate')"
pki_cert ca viewed viewed client
check "through the view, a fresh certificate is recorded with its metadata by the real database's gate" \
	sh -c "$(declare -f add_to); add_to 'uid=jdoe,ou=people,$VIEW' '$PKI/viewed.der' | ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'"
check_out "... its thumbprint is on the real entry" "^certpinThumbprint: $(der_sha256 "$PKI/viewed.der")$" \
	root_search -b "uid=jdoe,$PEOPLE" -s base certpinThumbprint
check_rc_out 19 "maintained attributes cannot be written through the view either" "maintained" root_modify <<LDIF
dn: uid=jdoe,ou=people,$VIEW
changetype: modify
add: certpinThumbprint
certpinThumbprint: $(der_sha256 "$PKI/mallory.der")
LDIF

# ---- item 8: concurrency --------------------------------------------------------------
# N fresh certificates; for each, two connections add it at the same moment,
# one to a user of $SUFFIX and one to a user of $OTHER (and, second round,
# to two users of one database).  At most one add of each may succeed.
N=12
out=$("$PY" - "$(srv_uri 1 ldapi)" "$PKI" "$SUFFIX" "$OTHER" "$ROOTDN" "$ROOTPW" "$N" <<'PY' 2>&1
import sys, threading, datetime, ldap, ldap.modlist
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
uri, pki, suffix, other, rootdn, rootpw, n = sys.argv[1:8]
n = int(n)
ca = x509.load_pem_x509_certificate(open(pki + '/ca.crt', 'rb').read())
cakey = serialization.load_pem_private_key(open(pki + '/ca.key', 'rb').read(), None)
def cert(i, r):
    k = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.utcnow()
    c = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'race%d-%d' % (r, i))]))
         .issuer_name(ca.subject).public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30)).sign(cakey, hashes.SHA256()))
    return c.public_bytes(serialization.Encoding.DER)
def conn(binddn):
    l = ldap.initialize(uri)
    l.simple_bind_s(binddn, rootpw)
    return l
def user(l, dn, u):
    l.add_s(dn, ldap.modlist.addModlist({'objectClass': [b'inetOrgPerson', b'certpinUser'],
        'uid': [u.encode()], 'cn': [u.encode()], 'sn': [u.encode()]}))
for r, (da, db) in enumerate([(suffix, other), (suffix, suffix)]):
    both = 0
    for i in range(n):
        a = 'uid=ra%d-%d,ou=people,%s' % (r, i, suffix)
        b = 'uid=rb%d-%d,%s' % (r, i, db if db == other else 'ou=people,' + suffix)
        la = conn(rootdn)
        lb = conn(rootdn if db == suffix else 'cn=admin,' + other)
        user(la, a, 'ra%d-%d' % (r, i))
        user(lb, b, 'rb%d-%d' % (r, i))
        der = cert(i, r)
        res = {}
        go = threading.Barrier(2)
        def add(l, dn, key):
            go.wait()
            try:
                l.modify_s(dn, [(ldap.MOD_ADD, 'certpinCertificate;binary', [der])])
                res[key] = 'ok'
            except ldap.LDAPError as e:
                res[key] = 'refused'
        t = [threading.Thread(target=add, args=(la, a, 'a')), threading.Thread(target=add, args=(lb, b, 'b'))]
        for x in t: x.start()
        for x in t: x.join()
        if res.get('a') == 'ok' and res.get('b') == 'ok':
            both += 1
        if 'ok' not in res.values():
            print('round %d cert %d: both refused' % (r, i))
    print('round%d both=%d' % (r, both))
PY
)
check_out "two databases: no certificate was accepted by both concurrent adds" "^round0 both=0$" printf '%s\n' "$out"
check_out "one database: no certificate was accepted by both concurrent adds" "^round1 both=0$" printf '%s\n' "$out"
check_eq "and each was accepted by one of them" "" "$(printf '%s\n' "$out" | grep 'both refused')"

# ---- abandon: a check must not be cut short ------------------------------------------
# eve (self-write) sends the add of ken's certificate and abandons it at
# once, 300 times pipelined: an abandoned operation stops its searches
# early, and the check that no other entry holds the certificate is an
# internal search.  ken's certificate must stay his alone whatever arrives.
out=$("$PY" - "$(srv_uri 1 ldapi)" "$EVE" "$PKI/kenmyer.der" <<'PY' 2>&1
import sys, ldap
uri, dn, der = sys.argv[1], sys.argv[2], open(sys.argv[3], 'rb').read()
l = ldap.initialize(uri)
l.simple_bind_s(dn, 'pw-eve')
for i in range(300):
    m = l.modify(dn, [(ldap.MOD_ADD, 'certpinCertificate;binary', [der])])
    l.abandon(m)
print('whoami', l.whoami_s())
PY
)
check_out "eve sent 300 abandoned adds of ken's certificate" "^whoami dn:$EVE" printf '%s\n' "$out"
check_eq "abandon: eve does not hold ken's certificate" "" \
	"$(ldapsearch -LLL -x -D "cn=admin,$OTHER" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -b "$EVE" -s base certpinThumbprint |
		grep -F "certpinThumbprint: $(der_sha256 "$PKI/kenmyer.der")")"
check_eq "abandon: ken's certificate is on one entry only" 1 \
	"$(for b in "$SUFFIX" "$OTHER"; do ldapsearch -LLL -x -D "$([ "$b" = "$SUFFIX" ] && echo "$ROOTDN" || echo "cn=admin,$OTHER")" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -b "$b" "(certpinThumbprint=$(der_sha256 "$PKI/kenmyer.der"))" 1.1; done | grep -c '^dn:')"
logon_as "abandon: ken still logs on" 1 kenmyer "$KEN"
check "slapd is still running" srv_alive 1
done_testing
