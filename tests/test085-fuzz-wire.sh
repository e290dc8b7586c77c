#!/bin/bash
# test085-fuzz-wire: the over-the-wire fuzzer (fuzz/wire.py) against a live
# slapd with certpin on the frontend and the database, provisioning
# configured, certificates recorded and a PIN set: generated and mutated LDAP
# PDUs in pipelined batches over ldaps (a device's certificate, no
# certificate) and ldapi (root DN, anonymous).  After every batch slapd is
# alive and answers; every few batches the write-path invariants of
# slapo-certpin(5) hold on every entry, certpinPIN is unreadable even to the
# root DN, and logons match what is on file.
#
# Fixed seeds, bounded: CERTPIN_WIRE_SEEDS (default "1 2 3"),
# CERTPIN_WIRE_COUNT operations per seed (default 1500),
# CERTPIN_WIRE_SECONDS per seed (default 40).  The long run is documented in
# fuzz/README ("Over the wire").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-provision.sh"

seeds=${CERTPIN_WIRE_SEEDS:-1 2 3}
count=${CERTPIN_WIRE_COUNT:-1500}
secs=${CERTPIN_WIRE_SECONDS:-40}

pki_standard
KEN="uid=kenmyer,$PEOPLE"
n=0
for seed in $seeds; do
	# each seed on a fresh server: a failure of one does not carry into the next
	n=$((n + 1))
	prov_conf $n
	srv_start $n
	prov_base $n
	SRV=$n record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record ken's certificate"
	SRV=$n record_cert pilar "$PKI/pilar.der" >/dev/null || die "cannot record pilar's certificate"
	SRV=$n set_phone_pin "$KEN" "+1 555 0100" 739201 || die "cannot set ken's PIN"
	mkdir -p "$TESTDIR/art$n"
	out=$("$PY" "$SRCDIR/fuzz/wire.py" --ldaps "$(srv_uri $n ldaps)" --ldapi "$(srv_uri $n ldapi)" \
		--pidfile "$TESTDIR/srv$n/slapd.pid" --pki "$PKI" --suffix "$SUFFIX" \
		--rootdn "$ROOTDN" --rootpw "$ROOTPW" --count "$count" --seconds "$secs" \
		--seed "$seed" --check-every 8 --artifacts "$TESTDIR/art$n" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "seed $seed: $(printf '%s\n' "$out" | tail -n 1)"
	else
		notok "seed $seed: the wire fuzzer found a failure (exit $rc)"
		printf '%s\n' "$out" | tail -n 5 | sed 's/^/#   /'
		srv_alive $n || tail -n 15 "$TESTDIR/srv$n/slapd.log" | sed 's/^/#   /'
		mkdir -p "$BUILDDIR/tests/logs/fuzz"
		cp "$TESTDIR"/art$n/wire-* "$BUILDDIR/tests/logs/fuzz/" 2>/dev/null &&
			echo "#   failing batch kept in $BUILDDIR/tests/logs/fuzz"
	fi
	check "seed $seed: slapd is still running at the end" srv_alive $n
	srv_stop $n
done
done_testing
