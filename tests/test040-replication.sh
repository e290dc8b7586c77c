#!/bin/bash
# test040-replication: certpin on three multi-provider slapds (syncrepl,
# syncprov, serverID, multiprovider).  What the provider that served the
# client computed (metadata, revocation records) replicates as it is: every
# provider holds the same entry byte for byte, nothing is recomputed,
# duplicated or written back and forth; a provider that was down catches up;
# kill -9 loses nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-repl.sh"

pki_standard
repl_setup 3
ok "three providers started, base entries replicated"
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
JDOE="uid=jdoe,$PEOPLE"
BOUND=10	# seconds any replication may take in these checks

# revoke CERT UID on the provider in $SRV (value delete, as root)
revoke() {
	root_modify <<LDIF
dn: uid=$2,$PEOPLE
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/$1.der
LDIF
}
# nrec N DN HEX: how many certpinRevoked records DN holds for HEX on N
nrec() { repl_attr "$1" "$2" certpinRevoked | grep -c "^sha256=$3\\$"; }
# has_tp N DN HEX: DN lists HEX in certpinThumbprint on provider N
has_tp() { repl_attr "$1" "$2" certpinThumbprint | grep -qx "$3"; }
field() { printf '%s' "$1" | tr '$' '\n' | sed -n "s/^$2=//p"; }

TPK=$(der_sha256 "$PKI/kenmyer.der")
TPK2=$(der_sha256 "$PKI/kenmyer2.der")
TPP=$(der_sha256 "$PKI/pilar.der")
TPJ=$(der_sha256 "$PKI/jdoe.der")

# ---- recorded on provider 1 -------------------------------------------------
logon_refused "before any record kenmyer's certificate is refused on provider 2" 2 kenmyer
SRV=1 check "ldapmodify records kenmyer's certificate on provider 1" \
	record_cert kenmyer "$PKI/kenmyer.der"
check "within ${BOUND}s providers 2 and 3 hold the entry byte for byte as 1 does" \
	repl_wait_same "$KEN" $BOUND
for i in 2 3; do
	check_eq "provider $i: certpinThumbprint is the certificate's" "$TPK" \
		"$(repl_attr $i "$KEN" certpinThumbprint)"
	check_eq "provider $i: certpinCertInfo is provider 1's record, published time included" \
		"$(repl_attr 1 "$KEN" certpinCertInfo)" "$(repl_attr $i "$KEN" certpinCertInfo)"
done
check_eq "the record is provider 1's (sha256 of the certificate)" "$TPK" \
	"$(field "$(repl_attr 2 "$KEN" certpinCertInfo)" sha256)"
check "replication settles: contextCSN equal everywhere and steady" repl_settled $BOUND
for i in 1 2 3; do
	logon_as "kenmyer's certificate logs on at provider $i" $i kenmyer "$KEN"
done

# A second certificate recorded on provider 3 lands next to the first.
SRV=3 check "provider 3 records kenmyer2 for kenmyer" record_cert kenmyer "$PKI/kenmyer2.der"
check "provider 1 and 2 follow" repl_wait_same "$KEN" $BOUND
check_eq "two thumbprints everywhere" "$(printf '%s\n%s\n' "$TPK" "$TPK2" | sort)" \
	"$(repl_attr 2 "$KEN" certpinThumbprint)"
check_eq "provider 1 kept its own record of kenmyer's first certificate" \
	"$(repl_attr 3 "$KEN" certpinCertInfo)" "$(repl_attr 1 "$KEN" certpinCertInfo)"

# The uniqueness check sees replicated records: the certificate recorded on
# 1 for kenmyer is refused for pilar on 2.
before=$(repl_snapshot 2 "$PILAR")
SRV=2 check_rc_out 19 "provider 2 refuses kenmyer's certificate for pilar (on file, replicated)" \
	"already on file" record_cert pilar "$PKI/kenmyer.der"
check_eq "pilar unchanged on provider 2" "$before" "$(repl_snapshot 2 "$PILAR")"

# ---- revoked on provider 2 ----------------------------------------------------
# refused_in N CERT SECONDS: wait until a logon with CERT at N is refused
refused_in() {
	local i
	for i in $(seq 1 $(($3 * 50))); do
		device_whoami "$1" "$2" 2>&1 | grep -q "additional info: certificate not accepted$" &&
			return 0
		sleep 0.02
	done
	return 1
}
t0=$(date +%s%N)
SRV=2 check "provider 2 revokes kenmyer's first certificate (value delete)" revoke kenmyer kenmyer
for i in 1 3; do
	check "within ${BOUND}s provider $i refuses the revoked certificate" refused_in $i kenmyer $BOUND
	echo "# revocation on 2 to refusal on $i: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
done
for i in 1 3; do
	check "within ${BOUND}s provider $i holds the revocation record" \
		repl_wait $BOUND nrec $i "$KEN" "$TPK"
done
t1=$(date +%s%N)
echo "# revocation record on providers 1 and 3 after $(( (t1 - t0) / 1000000 )) ms"
check "all three hold the entry byte for byte" repl_wait_same "$KEN" $BOUND
for i in 1 2 3; do
	check_eq "provider $i: exactly one record for the revoked certificate" 1 "$(nrec $i "$KEN" "$TPK")"
	check_eq "provider $i: only kenmyer2's thumbprint left" "$TPK2" \
		"$(repl_attr $i "$KEN" certpinThumbprint)"
	check_eq "provider $i: only kenmyer2's metadata left" "$TPK2" \
		"$(field "$(repl_attr $i "$KEN" certpinCertInfo)" sha256)"
done
rec=$(repl_attr 1 "$KEN" certpinRevoked)
check_eq "the record says who revoked it (provider 2's client)" "$(echo "$ROOTDN" | tr 'A-Z' 'a-z')" \
	"$(field "$rec" by | tr 'A-Z' 'a-z')"
check "replication settles after the revocation (nothing loops)" repl_settled $BOUND
csn=$(repl_attr 1 "$KEN" entryCSN)
sleep 2
check_eq "kenmyer's entryCSN has not moved in 2 s on provider 3" "$csn" "$(repl_attr 3 "$KEN" entryCSN)"
for i in 1 3; do
	check_eq "provider $i logged no client write of its own for the replicated revocation" 0 \
		"$(grep -c "certpin: revoked certificate" "$TESTDIR/srv$i/slapd.log")"
done
for i in 1 2 3; do
	logon_refused "provider $i refuses kenmyer's revoked certificate" $i kenmyer
	logon_as "provider $i still accepts kenmyer2" $i kenmyer2 "$KEN"
done
check_eq "provider 2 logged the revocation once" 1 \
	"$(grep -c "certpin: revoked certificate $TPK" "$TESTDIR/srv2/slapd.log")"

# The replicated revocation is honoured by the add path on another provider.
before=$(repl_snapshot 3 "$KEN")
SRV=3 check_rc_out 19 "provider 3 refuses to record the revoked certificate again" \
	"was revoked" record_cert kenmyer "$PKI/kenmyer.der"
check_eq "kenmyer unchanged on provider 3" "$before" "$(repl_snapshot 3 "$KEN")"

# ---- a provider that was down ---------------------------------------------------
SRV=1 check "pilar's certificate recorded on provider 1" record_cert pilar "$PKI/pilar.der"
check "replicated everywhere" repl_wait_same "$PILAR" $BOUND
logon_as "pilar logs on at provider 3" 3 pilar "$PILAR"
pid=$(srv_pid 3)
srv_stop 3
check "provider 3 stopped" bash -c "! kill -0 $pid 2>/dev/null"
SRV=2 check "provider 2 revokes pilar's certificate while 3 is down" revoke pilar pilar
SRV=1 check "provider 1 records jdoe's certificate while 3 is down" record_cert jdoe "$PKI/jdoe.der"
check "providers 1 and 2 agree" repl_wait_same "$PILAR" $BOUND
check "providers 1 and 2 agree on jdoe" repl_wait_same "$JDOE" $BOUND
sleep 2	# a recomputed published time would differ from provider 1's
srv_start 3
check "within ${BOUND}s the restarted provider 3 holds pilar's revocation" \
	repl_wait $BOUND nrec 3 "$PILAR" "$TPP"
check "provider 3 catches up: pilar byte for byte as on 1 and 2" repl_wait_same "$PILAR" $BOUND
check "provider 3 catches up: jdoe byte for byte as on 1 and 2" repl_wait_same "$JDOE" $BOUND
check_eq "provider 3: jdoe's record is provider 1's (published not recomputed)" \
	"$(repl_attr 1 "$JDOE" certpinCertInfo)" "$(repl_attr 3 "$JDOE" certpinCertInfo)"
check_eq "provider 3: pilar's certificate is gone" "" "$(repl_attr 3 "$PILAR" 'certpinCertificate;binary')"
check_eq "provider 3: one record for pilar's certificate" 1 "$(nrec 3 "$PILAR" "$TPP")"
check "replication settles after the catch-up" repl_settled $BOUND
logon_refused "the caught-up provider 3 refuses pilar's revoked certificate" 3 pilar
logon_as "provider 3 accepts jdoe's certificate recorded while it was down" 3 jdoe "$JDOE"

# ---- kill -9 -------------------------------------------------------------------
SRV=2 check "provider 2 records kenmyer's spare certificate" record_cert kenmyer "$PKI/spare.der"
for dn in "$KEN" "$PILAR" "$JDOE"; do
	eval "pre_$(echo "$dn" | sed 's/^uid=\([a-z]*\),.*/\1/')=\$(repl_snapshot 2 \"\$dn\")"
done
pid=$(srv_pid 2)
repl_kill9 2
check "provider 2 is gone after kill -9" bash -c "! kill -0 $pid 2>/dev/null"
srv_start 2
ok "provider 2 restarted on its MDB files"
check_eq "provider 2 kept kenmyer (spare certificate included)" "$pre_kenmyer" "$(repl_snapshot 2 "$KEN")"
check_eq "provider 2 kept pilar (revocation record included)" "$pre_pilar" "$(repl_snapshot 2 "$PILAR")"
check_eq "provider 2 kept jdoe" "$pre_jdoe" "$(repl_snapshot 2 "$JDOE")"
check "kenmyer is the same on all three" repl_wait_same "$KEN" $BOUND
logon_as "after kill -9 and restart provider 2 accepts the spare certificate" 2 spare "$KEN"
logon_refused "after kill -9 and restart provider 2 refuses pilar's revoked certificate" 2 pilar
for i in 1 3; do
	logon_as "provider $i accepts the spare certificate recorded on 2" $i spare "$KEN"
done

# ---- the access log (delta-syncrepl) is the replicator's only -------------------
if [ "$REPL_MODE" = delta ]; then
	check_rc_out 0 "the root DN (replication identity) reads cn=accesslog" "^dn: reqStart=" \
		ldapsearch -LLL -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -b cn=accesslog -s one dn
	for who in anonymous pilar; do
		if [ $who = anonymous ]; then set --; else set -- -D "$PILAR" -w pw-pilar; fi
		out=$(ldapsearch -LLL -x "$@" -H "$(srv_uri 1 ldap)" -b cn=accesslog 2>&1) || true
		check_eq "$who reads nothing of cn=accesslog (certificates, PIN hashes)" "" \
			"$(printf '%s\n' "$out" | grep -i '^dn:\|^req')"
	done
fi
check "replication settles after the restart" repl_settled $BOUND

for i in 1 2 3; do
	check "provider $i still running" srv_alive $i
done
done_testing
