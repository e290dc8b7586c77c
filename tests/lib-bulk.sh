# tests/lib-bulk.sh - many users with certificates, for the bulk revocation
# tests (test076, test077); sourced after tests/lib.sh.
#
# bulk_users N SAMPLES: bench/gen-users makes N users (uid=u0000000, ...),
# two recorded certificates each, with the metadata the overlay writes, in
# $BULK/users.ldif; the certificates of SAMPLES users spread over the
# directory are in $BULK/sample.lst ("DN cert0.pem cert1.pem", key
# $BULK/client.key).  Needs the CA of pki_ca ca.
# bulk_load N: slapadd $BULK/users.ldif into server N (before srv_start).

BULK=$TESTDIR/bulk

bulk_users() {
	mkdir -p "$BULK/bin"
	make -s -C "$SRCDIR/bench" OUT="$BULK/bin" >/dev/null 2>&1 ||
		die "cannot build bench/gen-users (cc, libssl-dev)"
	"$BULK/bin/gen-users" -n "$1" -s "$2" -C "$PKI/ca.crt" -K "$PKI/ca.key" -o "$BULK" \
		>"$BULK/gen.log" 2>&1 || die "gen-users failed: $(tail -n 3 "$BULK/gen.log")"
}

bulk_load() {
	/usr/sbin/slapadd -q -f "$TESTDIR/srv$1/slapd.conf" -l "$BULK/users.ldif" \
		>"$TESTDIR/srv$1/slapadd.log" 2>&1 ||
		die "slapadd into server $1 failed: $(tail -n 3 "$TESTDIR/srv$1/slapadd.log")"
}

# bulk_logon N CERT: SASL EXTERNAL over ldaps with a sample certificate
bulk_logon() {
	env -u LDAPNOINIT HOME="$TESTDIR" LDAPTLS_CACERT="$PKI/ca.crt" LDAPTLS_CERT="$2" \
		LDAPTLS_KEY="$BULK/client.key" ldapwhoami -Y EXTERNAL -H "$(srv_uri "$1" ldaps)" 2>&1
}

# DNs of the users of server N (SRV) holding / having had certificates, sorted
holders() { root_search -b "$PEOPLE" -s one '(certpinThumbprint=*)' 1.1 | sed -n 's/^dn: //p' | sort; }
revoked_dns() { root_search -b "$PEOPLE" -s one '(certpinRevokedThumbprint=*)' 1.1 | sed -n 's/^dn: //p' | sort; }
