#!/bin/bash
# test088-promise-revocation-hash64: with 64-bit index hashes (index_hash64
# on, the setting slapo-certpin(5) "Revocation cost" recommends) back-mdb
# deletes only a revoked thumbprint's index key and keeps the keys of the
# certificates that stay; the promise holds unchanged: a revoked certificate
# never logs on (by subject mapping and by strong mapping), the kept ones
# do, the thumbprint indexes find exactly what the entries hold, and a
# revoked certificate cannot come back, also after a restart and for data
# loaded with slapadd.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-revoked.sh"

pki_standard
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"

# srv1: subject mapping; srv2: strong mapping.  Both with 64-bit hashes.
srv_conf 1
srv_conf 2 "certpin-strong-mapping on"
for n in 1 2; do
	srv_hash64 "$n"
	check_eq "server $n: slapd.conf sets index_hash64 on" 1 \
		"$(grep -c '^index_hash64 on$' "$TESTDIR/srv$n/slapd.conf")"
	srv_start "$n"
	check_eq "server $n: slapd runs with 64-bit index hashes (olcIndexHash64)" "TRUE" \
		"$(ldapsearch -LLL -Q -Y EXTERNAL -H "$(srv_uri "$n" ldapi)" -b cn=config -s base \
			olcIndexHash64 2>&1 | sed -n 's/^olcIndexHash64: //p')"
	srv_base "$n"
done

tp_ken=$(der_sha256 "$PKI/kenmyer.der")
tp_ken2=$(der_sha256 "$PKI/kenmyer2.der")
tp_spare=$(der_sha256 "$PKI/spare.der")
# who holds / who revoked a thumbprint, by the indexes (equality searches)
holders() { SRV=$1 root_search -b "$SUFFIX" "(certpinThumbprint=$2)" 1.1 | sed -n 's/^dn: //p'; }
revokers() { SRV=$1 root_search -b "$SUFFIX" "(certpinRevokedThumbprint=$2)" 1.1 | sed -n 's/^dn: //p'; }
del_cert() {	# N UID DERFILE: delete one stored certificate (a revocation)
	SRV=$1 root_modify <<LDIF
dn: uid=$2,$PEOPLE
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$3
LDIF
}
revoke_all() {	# N UID: replace the stored certificates with nothing
	SRV=$1 root_modify <<LDIF
dn: uid=$2,$PEOPLE
changetype: modify
replace: certpinCertificate;binary
LDIF
}
readd() {	# N UID DERFILE: add a certificate (as root)
	SRV=$1 record_cert "$2" "$3"
}

for n in 1 2; do
	for c in kenmyer kenmyer2 spare; do
		check "server $n: ken gets certificate $c" readd "$n" kenmyer "$PKI/$c.der"
	done
	for c in kenmyer kenmyer2 spare; do
		logon_as "server $n: before the revocation, $c logs on as ken" "$n" "$c" "$KEN"
	done
	# the revocation of one of three: the others' index keys must stay
	check "server $n: ken's first certificate is revoked (one modify)" del_cert "$n" kenmyer "$PKI/kenmyer.der"
	logon_refused "server $n: the revoked certificate is refused at once" "$n" kenmyer
	logon_refused "server $n: the revoked certificate is refused over StartTLS" "$n" kenmyer starttls
	logon_as "server $n: a certificate ken keeps still logs on (kenmyer2)" "$n" kenmyer2 "$KEN"
	logon_as "server $n: a certificate ken keeps still logs on (spare)" "$n" spare "$KEN"
	check_eq "server $n: the index finds no holder of the revoked thumbprint" "" "$(holders "$n" "$tp_ken")"
	check_eq "server $n: the index still finds ken by a kept thumbprint (kenmyer2)" "$KEN" "$(holders "$n" "$tp_ken2")"
	check_eq "server $n: the index still finds ken by a kept thumbprint (spare)" "$KEN" "$(holders "$n" "$tp_spare")"
	check_eq "server $n: the revoked-thumbprint index finds ken's record" "$KEN" "$(revokers "$n" "$tp_ken")"
	SRV=$n revoked_tps_agree "server $n: after one revocation" "$KEN" "$tp_ken"
	check_rc_out 19 "server $n: the revoked certificate cannot come back to ken" "revoked" readd "$n" kenmyer "$PKI/kenmyer.der"
	check_rc_out 19 "server $n: nor move to pilar" "revoked" readd "$n" pilar "$PKI/kenmyer.der"
	logon_refused "server $n: after the refused re-additions the certificate is still refused" "$n" kenmyer
done

# the index as stored: after a restart, and the second revocation
for n in 1 2; do
	srv_stop "$n"
	srv_start "$n"
	logon_refused "server $n, restarted: the revoked certificate is refused" "$n" kenmyer
	logon_as "server $n, restarted: kenmyer2 logs on" "$n" kenmyer2 "$KEN"
	check_eq "server $n, restarted: the index finds ken by spare's thumbprint" "$KEN" "$(holders "$n" "$tp_spare")"
	check "server $n: kenmyer2 is revoked" del_cert "$n" kenmyer "$PKI/kenmyer2.der"
	logon_refused "server $n: kenmyer2 is refused at once" "$n" kenmyer2
	logon_as "server $n: spare, the last one kept, logs on" "$n" spare "$KEN"
	check_eq "server $n: the index finds ken by spare's thumbprint only" "$KEN" "$(holders "$n" "$tp_spare")"
	check_eq "server $n: and no holder of kenmyer2's" "" "$(holders "$n" "$tp_ken2")"
	SRV=$n revoked_tps_agree "server $n: after two revocations" "$KEN" "$tp_ken $tp_ken2"
	# revoke-all: replace with nothing
	check "server $n: ken's certificates are all revoked (replace with nothing)" revoke_all "$n" kenmyer
	for c in kenmyer kenmyer2 spare; do
		logon_refused "server $n: after revoke-all, $c is refused" "$n" "$c"
	done
	check_eq "server $n: the index finds no holder of spare's thumbprint" "" "$(holders "$n" "$tp_spare")"
	check_rc_out 19 "server $n: spare cannot come back to pilar" "revoked" readd "$n" pilar "$PKI/spare.der"
	check "server $n: slapd is still running" srv_alive "$n"
done

# data loaded with slapadd into a 64-bit-hash database: server 1's dump into
# a new server 3, then a revocation there
SRV=1 record_cert pilar "$PKI/pilar.der" >/dev/null || die "cannot record pilar's certificate"
srv_stop 1
/usr/sbin/slapcat -f "$TESTDIR/srv1/slapd.conf" -l "$TESTDIR/dump.ldif" 2>"$TESTDIR/slapcat.log" ||
	die "slapcat failed: $(cat "$TESTDIR/slapcat.log")"
srv_conf 3
srv_hash64 3
check "slapadd loads the dump into a 64-bit-hash database" \
	/usr/sbin/slapadd -q -f "$TESTDIR/srv3/slapd.conf" -l "$TESTDIR/dump.ldif"
srv_start 3
logon_as "server 3 (slapadd): pilar logs on" 3 pilar "$PILAR"
logon_refused "server 3 (slapadd): ken's revoked certificate is refused" 3 kenmyer
check_rc_out 19 "server 3 (slapadd): a revoked certificate cannot come back" "revoked" readd 3 jdoe "$PKI/kenmyer2.der"
check "server 3: pilar's certificate is revoked" del_cert 3 pilar "$PKI/pilar.der"
logon_refused "server 3: pilar's revoked certificate is refused at once" 3 pilar
check_eq "server 3: the index finds no holder of pilar's thumbprint" "" \
	"$(holders 3 "$(der_sha256 "$PKI/pilar.der")")"
check "server 3: slapd is still running" srv_alive 3

done_testing
