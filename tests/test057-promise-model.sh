#!/bin/bash
# test057-promise-model: the randomized, model-based test of the write path
# (tests/model.py): random sequences of adds, modifies, class removals,
# renames, deletes, revoked re-adds, Relax Rules record deletes (by the
# administrator and by the user), bad values and transactions, each checked
# against a model of what slapo-certpin(5) promises: live entries, logons,
# sessions bound earlier, slapd alive.  A few fixed seeds here; the long run:
#   CERTPIN_MODEL_SEEDS="$(seq 1000 1100)" CERTPIN_MODEL_STEPS=400 tests/run test057
# (see tests/README).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-attack.sh"

SEEDS=${CERTPIN_MODEL_SEEDS:-"1 2 3"}
STEPS=${CERTPIN_MODEL_STEPS:-60}
MAXCERTS=4
pki_standard
n=0
for seed in $SEEDS; do
	n=$((n + 1))
	# a fresh server per seed: every run starts from the same state
	[ "$n" -gt 1 ] && { srv_stop 1; rm -rf "$TESTDIR/srv1"; }
	attack_conf 1 "certpin-max-certificates $MAXCERTS
certpin-session-recheck 3600"
	srv_start 1
	SRV=1 root_add >/dev/null <<LDIF || die "cannot load base entries"
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: $PEOPLE
objectClass: organizationalUnit
ou: people
LDIF
	[ "$n" -eq 1 ] && { attack_has_db_overlay 1 && ok "certpin on the frontend and on the database" ||
		notok "the configuration has no database instance of certpin"; }
	run_py "$SRCDIR/tests/model.py" "$(srv_uri 1 ldapi)" "$(srv_uri 1 ldaps)" "$PKI" \
		"$TESTDIR/model-$seed" "$ROOTDN" "$ROOTPW" "$TESTDIR/srv1/slapd.pid" "$seed" "$STEPS" "$MAXCERTS"
	srv_alive 1 && ok "seed $seed: slapd still running" || notok "seed $seed: slapd died"
done
done_testing
