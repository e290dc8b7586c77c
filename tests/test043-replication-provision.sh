#!/bin/bash
# test043-replication-provision: certificates issued with the certpinIssue
# extended operation on one provider of three (delta-syncrepl multi-provider)
# log on at the others once replicated; only the provider that served the
# request issues and records (nothing is issued again by replication); a PIN
# set on one provider proves the user on another.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-provision.sh"
. "$(dirname "$0")/lib-repl.sh"

pki_standard
repl_setup 3 prov_conf prov_base
ok "three providers with the CA configured started, base replicated"
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
BOUND=10
issued() { grep -c "certpin: issued certificate" "$TESTDIR/srv$1/slapd.log"; }

# ---- issued on provider 1 --------------------------------------------------------
csr pilar1
check_rc_out 0 "provider 1 issues pilar a certificate (password bind, for herself)" "^issued" \
	issue -H "$(srv_uri 1 ldap)" -D "$PILAR" -w pw-pilar -r "$PKI/pilar1.csr.der" \
	-e "desk-phone-1" -o "$PKI/pilar1.crt"
tp=$(pem_sha256 "$PKI/pilar1.crt")
check "within ${BOUND}s pilar is the same on every provider" repl_wait_same "$PILAR" $BOUND
for i in 1 2 3; do
	check_eq "provider $i: the issued certificate is on file, once" "$tp" \
		"$(repl_attr $i "$PILAR" certpinThumbprint)"
	check_eq "provider $i: its record is provider 1's (endpoint included)" \
		"$(repl_attr 1 "$PILAR" certpinCertInfo)" "$(repl_attr $i "$PILAR" certpinCertInfo)"
	check "provider $i: certpin attributes agree" repl_consistent $i "$PILAR"
	logon_as "the issued certificate logs on at provider $i" $i pilar1 "$PILAR"
done
check_out "the record names the endpoint" 'endpoint=desk-phone-1' repl_attr 3 "$PILAR" certpinCertInfo
check "replication settles" repl_settled $BOUND
check_eq "provider 1 issued once" 1 "$(issued 1)"
check_eq "provider 2 issued nothing (replication does not issue again)" 0 "$(issued 2)"
check_eq "provider 3 issued nothing" 0 "$(issued 3)"

# ---- a PIN set on provider 3 proves the user on provider 2 ---------------------
SRV=3 set_phone_pin "$KEN" "+1 (425) 555-0100" 461937 || die "cannot set phone and PIN"
check "the phone and PIN hash replicate" repl_wait_same "$KEN" $BOUND
csr ken1
check_rc_out 0 "provider 2 issues kenmyer a certificate for phone and PIN (ldaps, anonymous)" "^issued" \
	issue -H "$(srv_uri 2 ldaps)" -r "$PKI/ken1.csr.der" -p "+14255550100" -P 461937 \
	-e "CP-7960" -o "$PKI/ken1.crt"
check "kenmyer is the same on every provider" repl_wait_same "$KEN" $BOUND
for i in 1 3; do
	logon_as "the phone's certificate logs on at provider $i" $i ken1 "$KEN"
done
check_eq "provider 2 issued once" 1 "$(issued 2)"
check_eq "provider 1 still issued once" 1 "$(issued 1)"
check_eq "provider 3 still issued nothing" 0 "$(issued 3)"
check_rc 49 "a wrong PIN on provider 3 is refused" \
	issue -H "$(srv_uri 3 ldaps)" -r "$PKI/ken1.csr.der" -p "+14255550100" -P 654321

# ---- revoked on provider 3: refused on 1 and 2 -----------------------------------
SRV=3 check "provider 3 revokes the phone's certificate" root_modify <<LDIF
dn: $KEN
changetype: modify
delete: certpinCertificate;binary
LDIF
check "kenmyer is the same on every provider" repl_wait_same "$KEN" $BOUND
for i in 1 2 3; do
	logon_refused "provider $i refuses the revoked phone certificate" $i ken1
	check_eq "provider $i: one record for it" 1 \
		"$(repl_attr $i "$KEN" certpinRevoked | grep -c "^sha256=$(pem_sha256 "$PKI/ken1.crt")\\$")"
done
check "replication settles" repl_settled $BOUND
done_testing
