#!/bin/bash
# test012-provision-replica: a provider and a read-only consumer (syncrepl
# as the root DN).  Certificates issued on the provider replicate with their
# metadata and log on at the consumer; PIN hashes replicate; the consumer
# refuses to issue (it cannot record) and answers no PIN proof (it could not
# record wrong PINs, so it would allow guessing without lockout), and
# changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
prov_conf 1
sed -i "s|^moduleload back_mdb|&\nmoduleload syncprov|" "$TESTDIR/srv1/slapd.conf"
printf 'overlay syncprov\n' >> "$TESTDIR/srv1/slapd.conf"
srv_start 1
prov_base 1
prov_conf 2
cat >> "$TESTDIR/srv2/slapd.conf" <<CONF
syncrepl rid=001 provider=$(srv_uri 1 ldap) bindmethod=simple
  binddn="$ROOTDN" credentials=$ROOTPW searchbase="$SUFFIX"
  type=refreshAndPersist retry="1 +"
CONF
srv_start 2
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
set_phone_pin "$KEN" "+1 425 555 0100" 135790 || die "cannot set ken's phone and PIN"

# wait_repl DN ATTR REGEX: the consumer's entry shows it within 10 s
wait_repl() {
	local i
	for i in $(seq 1 100); do
		SRV=2 root_search -b "$1" -s base "$2" 2>/dev/null | grep -Eq "$3" && return 0
		sleep 0.1
	done
	return 1
}
check "the consumer replicates ken's phone" wait_repl "$KEN" telephoneNumber "^telephoneNumber: "
check "and his PIN's hash (the consumer binds as the root DN)" \
	test "$(/usr/sbin/slapcat -f "$TESTDIR/srv2/slapd.conf" -a "(uid=kenmyer)" 2>/dev/null | grep -c '^certpinPIN: {SSHA}')" -eq 1

csr ken1
check_rc_out 0 "the provider issues ken's certificate by phone and PIN" "^issued" \
	issue -H "$(srv_uri 1 ldaps)" -r "$PKI/ken1.csr.der" -p "+1 425 555 0100" -P 135790 \
	-e repl-phone -o "$PKI/ken1.crt"
tp=$(pem_sha256 "$PKI/ken1.crt")
check "it replicates to the consumer" wait_repl "$KEN" certpinThumbprint "^certpinThumbprint: $tp\$"
check_eq "with the same metadata record" \
	"$(root_search -b "$KEN" -s base certpinCertInfo)" "$(SRV=2 root_search -b "$KEN" -s base certpinCertInfo)"
logon_as "the certificate logs on at the consumer" 2 ken1 "$KEN"

csr x
check_rc_out 53 "the consumer refuses to issue to a bound user" "read-only replica" \
	issue -H "$(srv_uri 2 ldap)" -D "$PILAR" -w pw-pilar -r "$PKI/x.csr.der"
check_rc_out 53 "and for an administrator" "read-only replica" \
	issue -H "$(srv_uri 2 ldap)" -D "$ROOTDN" -w "$ROOTPW" -i "$KEN" -r "$PKI/x.csr.der"
check_rc_out 49 "the consumer answers no PIN proof, even a right one" "unknown phone number or wrong PIN" \
	issue -H "$(srv_uri 2 ldaps)" -r "$PKI/x.csr.der" -p "+1 425 555 0100" -P 135790
for i in 1 2 3 4 5 6; do
	issue -H "$(srv_uri 2 ldaps)" -r "$PKI/x.csr.der" -p "+1 425 555 0100" -P "00000$i" >/dev/null
done
check_rc_out 0 "guesses at the consumer do not lock the PIN on the provider" "^issued" \
	issue -H "$(srv_uri 1 ldaps)" -r "$PKI/x.csr.der" -p "+1 425 555 0100" -P 135790
sleep 0.5
check_eq "the consumer's copy of ken changed only by replication" \
	"$(root_search -b "$KEN" -s base certpinThumbprint | sort)" \
	"$(SRV=2 root_search -b "$KEN" -s base certpinThumbprint | sort)"
check_out "the consumer's log says why it answers no PIN" "is a read-only replica: its users are proved by PIN on its provider" \
	cat "$TESTDIR/srv2/slapd.log"
check "both slapds are alive" eval "srv_alive 1 && srv_alive 2"
done_testing
