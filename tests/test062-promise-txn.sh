#!/bin/bash
# test062-promise-txn: the promises inside LDAP transactions (RFC 5805,
# advertised by slapd; issue 12 item 12).  Attacks: one certificate put on
# two entries in one transaction; a certificate added then deleted in one
# transaction (left its thumbprint and metadata, no record, and logged on);
# a session acting between the queueing of a revocation and its commit
# (kept its identity); aborted and failed transactions (must leave no trace
# of the overlay's work: no history records); revocations inside a
# transaction hold at commit (records, refused logons, entry deletes).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"

pki_standard
srv_conf 1
srv_start 1
srv_base 1
check_out "slapd advertises transactions" "^supportedExtension: 1.3.6.1.1.21.1$" \
	ldapsearch -LLL -x -H "$(srv_uri 1 ldapi)" -b '' -s base supportedExtension
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
JDOE="uid=jdoe,$PEOPLE"
txn() { root_modify -E "txn=${1:-commit}"; }
# slapd 2.5's back-mdb forgets to unwind the attribute-description table
# when a transaction that introduced a new attribute is aborted (mdb_txn,
# SLAP_TXN_ABORT): later writes then name an index no one can decode.  Not
# certpin's to fix: every certpin attribute is put in the database once,
# outside any transaction, before the transactions below (since adtable.c
# certpin refuses a transaction that would store an attribute new to the
# database: description, used below, too).
pki_cert ca warm warm client
add_user warm "Warm Up" "description: warm up" || die "cannot add warm"
record_cert warm "$PKI/warm.der" >/dev/null || die "cannot record warm"
printf 'dn: uid=warm,%s\nchangetype: modify\ndelete: certpinCertificate;binary\n' "$PEOPLE" |
	root_modify >/dev/null || die "cannot revoke warm"
printf 'dn: uid=warm,%s\nchangetype: delete\n' "$PEOPLE" | root_modify >/dev/null || die "cannot delete warm"
tps_of() { root_search -b "$1" -s base certpinThumbprint certpinCertInfo | grep -c '^certpin' || true; }

# ---- one certificate on two entries in one transaction --------------------------
pki_cert ca t1 t1 client
pre_k=$(snapshot "$KEN"); pre_p=$(snapshot "$PILAR")
check_rc 19 "a transaction putting one certificate on two entries fails at commit (constraintViolation)" txn <<LDIF
dn: $KEN
changetype: modify
add: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/t1.der

dn: $PILAR
changetype: modify
add: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/t1.der
LDIF
check_eq "... and leaves ken's entry as it was" "$pre_k" "$(snapshot "$KEN")"
check_eq "... and pilar's" "$pre_p" "$(snapshot "$PILAR")"
logon_refused "the certificate logs on as nobody" 1 t1

# ---- add then delete in one transaction ------------------------------------------
pki_cert ca t2 kenmyer client
T2=$(der_sha256 "$PKI/t2.der")
check "a transaction adds a certificate to ken and deletes it again" txn <<LDIF
dn: $KEN
changetype: modify
add: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/t2.der

dn: $KEN
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/t2.der
LDIF
check_eq "no certificate, thumbprint or metadata is left" 0 "$(tps_of "$KEN")"
check_out "a revocation record names it" "^certpinRevoked: sha256=$T2" root_search -b "$KEN" -s base certpinRevoked
logon_refused "the certificate does not log on" 1 t2

# ---- revocations inside a transaction hold at commit ----------------------------
check "ken's certificate is recorded" record_cert kenmyer "$PKI/kenmyer.der"
check "pilar's certificate is recorded" record_cert pilar "$PKI/pilar.der"
check "a transaction revokes both (a value delete and a class removal)" txn <<LDIF
dn: $KEN
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/kenmyer.der

dn: $PILAR
changetype: modify
delete: objectClass
objectClass: certpinUser
LDIF
logon_refused "ken's certificate is refused after the commit" 1 kenmyer
logon_refused "pilar's too" 1 pilar
check_out "ken holds its record" "^certpinRevoked: sha256=$(der_sha256 "$PKI/kenmyer.der")" \
	root_search -b "$KEN" -s base certpinRevoked
check_out "pilar holds hers" "^certpinRevoked: sha256=$(der_sha256 "$PKI/pilar.der")" \
	root_search -b "$PILAR" -s base certpinRevoked

# entry delete inside a transaction: the records go to the parent in the
# same database transaction
pki_cert ca t3 t3 client
add_user t3 "User T3" || die "cannot add t3"
check "t3's certificate is recorded" record_cert t3 "$PKI/t3.der"
check "a transaction deletes t3's entry" txn <<LDIF
dn: uid=t3,$PEOPLE
changetype: delete
LDIF
check_out "the parent keeps t3's record" "^certpinRevoked: sha256=$(der_sha256 "$PKI/t3.der")" \
	root_search -b "$PEOPLE" -s base certpinRevoked
check_rc_out 19 "the certificate cannot be added to another user" "already on file|revoked" \
	record_cert jdoe "$PKI/t3.der"

# ---- aborted and failed transactions leave no trace -------------------------------
pki_cert ca t4 t4 client
add_user t4 "User T4" || die "cannot add t4"
check "t4's certificate is recorded" record_cert t4 "$PKI/t4.der"
pki_cert ca t5 t5 client
pre_all=$(dir_dump 1)
check "an aborted transaction: a delete of t4, a certificate for jdoe" txn abort <<LDIF
dn: uid=t4,$PEOPLE
changetype: delete

dn: $JDOE
changetype: modify
add: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/t5.der
LDIF
check_eq "the directory is exactly as before" "$pre_all" "$(dir_dump 1)"
check_rc 32 "a failing transaction: the delete of t4, then a modify of a missing entry" txn <<LDIF
dn: uid=t4,$PEOPLE
changetype: delete

dn: uid=nobody,$PEOPLE
changetype: modify
replace: description
description: x
LDIF
check_eq "the directory is exactly as before (no history record of t4 on the parent)" "$pre_all" "$(dir_dump 1)"
logon_as "t4 still logs on" 1 t4 "uid=t4,$PEOPLE"
check "jdoe may add t5 afterwards (no trace of the aborted add)" record_cert jdoe "$PKI/t5.der"

# ---- a session acting between queueing and commit -------------------------------
# python3-ldap: start a transaction, queue the revocation of t4's
# certificate, let t4's device act, commit, let it act again.
out=$("$PY" - "$(srv_uri 1 ldapi)" "$(srv_uri 1 ldaps)" "$PKI" "$ROOTDN" "$ROOTPW" "uid=t4,$PEOPLE" <<'PY' 2>&1
import sys, ldap, ldap.sasl
from ldap.extop import ExtendedRequest
from ldap.controls import RequestControl
from pyasn1.codec.ber import encoder
from pyasn1.type import univ, namedtype
ldapi, ldaps, pki, rootdn, rootpw, dn = sys.argv[1:7]
dev = ldap.initialize(ldaps)
for o, v in ((ldap.OPT_X_TLS_CACERTFILE, pki + '/ca.crt'), (ldap.OPT_X_TLS_CERTFILE, pki + '/t4.crt'),
             (ldap.OPT_X_TLS_KEYFILE, pki + '/t4.key'), (ldap.OPT_X_TLS_NEWCTX, 0)):
    dev.set_option(o, v)
dev.sasl_interactive_bind_s('', ldap.sasl.external())
print('before=' + dev.whoami_s())
adm = ldap.initialize(ldapi)
adm.simple_bind_s(rootdn, rootpw)
txnid = adm.extop_s(ExtendedRequest('1.3.6.1.1.21.1', None))[1] or b''
spec = RequestControl('1.3.6.1.1.21.2', True, txnid)
msgid = adm.modify_ext(dn, [(ldap.MOD_DELETE, 'certpinCertificate;binary', None)], serverctrls=[spec])
adm.result3(msgid)
print('between=' + dev.whoami_s())
class End(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.DefaultedNamedType('commit', univ.Boolean(True)),
        namedtype.NamedType('identifier', univ.OctetString()))
e = End()
e['identifier'] = txnid
adm.extop_s(ExtendedRequest('1.3.6.1.1.21.3', encoder.encode(e)))
print('after=' + dev.whoami_s())
PY
)
check_out "the session had its identity before" "^before=dn:uid=t4,$PEOPLE$" printf '%s\n' "$out"
check_out "it keeps it while the revocation is only queued" "^between=dn:uid=t4,$PEOPLE$" printf '%s\n' "$out"
check_out "after the commit its next operation runs as anonymous" "^after=$" printf '%s\n' "$out"
logon_refused "t4's certificate is refused after the commit" 1 t4
check "slapd is still running" srv_alive 1
done_testing
