#!/bin/bash
# test059-promise-replication: "a revocation takes effect at once" when it
# arrives by replication.  Two providers (multi-provider syncrepl, syncprov,
# certpin on the frontend and on the database of each): a device bound on
# provider 2 loses its identity as soon as a revocation made on provider 1 has
# been applied on provider 2 -- not certpin-session-recheck (60 s) later --
# for a value delete, a replace, a class removal and an entry delete; a
# persistent search of such a session delivers nothing after it; new logons
# are refused on both.  The attacks are in tests/replication.py.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-attack.sh"

[ -f /usr/lib/ldap/syncprov.la ] || die "syncprov overlay module is missing (slapd package)"
pki_standard
cp "$MODULE" "$TESTDIR/certpin.so"
for i in 1 2; do
	srv_conf "$i" "serverID $i"
done
for i in 1 2; do
	j=$((3 - i))
	f=$TESTDIR/srv$i/slapd.conf
	sed -i -e "s|^moduleload back_mdb|&\nmoduleload syncprov|" \
		-e "s|^moduleload $MODULE\$|moduleload $TESTDIR/certpin.so|" "$f"
	sed -i '/^database mdb/,$ { /^overlay certpin/d }' "$f"
	cat >> "$f" <<CONF
index entryCSN,entryUUID eq
syncrepl rid=00$j provider=$(srv_uri "$j" ldap) bindmethod=simple
  binddn="$ROOTDN" credentials=$ROOTPW searchbase="$SUFFIX"
  type=refreshAndPersist retry="1 +" timeout=3 network-timeout=3
multiprovider on
overlay syncprov
syncprov-checkpoint 10 1
CONF
	attack_db_overlay "$f"
done
srv_start 1
srv_start 2
srv_base 1
for i in $(seq 1 100); do
	SRV=2 root_search -b "uid=jdoe,$PEOPLE" -s base dn 2>/dev/null | grep -q '^dn:' && break
	sleep 0.1
done
SRV=2 root_search -b "uid=jdoe,$PEOPLE" -s base dn 2>/dev/null | grep -q '^dn:' ||
	die "the base entries did not replicate"
ok "two providers replicate"
attack_has_db_overlay 1 && ok "certpin on the frontend and on the database" ||
	notok "the configuration has no database instance of certpin"
run_py "$SRCDIR/tests/replication.py" "$(srv_uri 1 ldapi)" "$(srv_uri 2 ldapi)" "$(srv_uri 1 ldaps)" \
	"$(srv_uri 2 ldaps)" "$PKI" "$TESTDIR/repl" "$ROOTDN" "$ROOTPW"
for i in 1 2; do
	srv_alive "$i" && ok "provider $i still running" || notok "provider $i died"
done
done_testing
