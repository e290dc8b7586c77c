#!/bin/bash
# test067-promise-replicated-revocation: attacks "a revocation takes effect
# at once" across replication.  Two multi-provider slapds (tests/lib-repl.sh,
# delta-syncrepl); certpin-session-recheck is an hour, so the backstop cannot
# hide anything.  A device holds a session on provider B; its certificate is
# revoked on provider A (value delete, entry delete, rename): as soon as the
# change has replicated to B, the session on B no longer has its identity
# (WhoAmI anonymous, nothing readable) and its refreshAndPersist search on B
# ends; another device's session on B keeps its own.  Needs the database
# instance of certpin on every database (its write gate sees syncrepl's
# writes and calls certpin_bind_revoked).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-repl.sh"

pki_standard
c67_conf() { srv_conf "$1" "$2
certpin-session-recheck 3600"; }
repl_setup 2 c67_conf
ok "two providers started, base entries replicated"
BOUND=10	# seconds replication may take

# watch KIND U OTHER: U (and OTHER, not revoked) bind on B (2) and open a
# refreshAndPersist search there; the administrator then changes U on A (1):
#   certdel (value delete), delete (entry delete), modrdn (rename).
# Prints when U's entry changed on B and when U's session lost its identity
# (ms since the revocation returned on A), and what its persistent search
# and OTHER's session did.
watch() {
	PYTHONPATH=$SRCDIR/tests "$PY" - "$1" "$2" "$3" "$(srv_uri 2 ldaps)" "$(srv_uri 1 ldapi)" \
		"$(srv_uri 2 ldapi)" "$PKI" "$PEOPLE" "$ROOTDN" "$ROOTPW" "$BOUND" <<'PY' 2>&1
import sys, time, rawldap as R
kind, u, other, b_ldaps, a_ldapi, b_ldapi, pki, people, rootdn, rootpw, bound = sys.argv[1:]
bound = float(bound)
udn = "uid=%s,%s" % (u, people)
def device(name):
    c = R.connect(b_ldaps, pki + "/ca.crt", "%s/%s.crt" % (pki, name), "%s/%s.key" % (pki, name))
    r = c.bind_sasl(b"EXTERNAL")
    assert r.code == 0, (name, r)
    return c
cu, co, cps = device(u), device(other), device(u)
print("bound_b=%s" % cu.whoami())
mid = cps.next_id()
cps.send(R.search(mid, people.encode(), 2, [b"description"], R.sync_control(3)))
while True:
    m = cps.recv(10)
    assert m is not None, "no refresh"
    if m.tag == 0x79:
        break
a = R.connect(a_ldapi)
assert a.bind_simple(rootdn.encode(), rootpw.encode()).code == 0
b = R.connect(b_ldapi)
assert b.bind_simple(rootdn.encode(), rootpw.encode()).code == 0
if kind == "certdel":
    op = (R.modify, udn.encode(), [(1, b"certpinCertificate;binary", [open("%s/%s.der" % (pki, u), "rb").read()])])
elif kind == "delete":
    op = (R.delete, udn.encode())
else:
    op = (R.modrdn, udn.encode(), ("uid=%s-moved" % u).encode())
_, r = a.call(*op)
t0 = time.monotonic()
print("revoke_a=%d" % r.code)
def b_changed():
    es, r = b.call(R.search, udn.encode(), 0, [b"certpinThumbprint"])
    if r is None or r.code == 32:
        return True
    return kind == "certdel" and not es[0].values.get("certpinthumbprint")
t_repl = t_lost = None
while time.monotonic() - t0 < bound and (t_repl is None or t_lost is None):
    if t_repl is None and b_changed():
        t_repl = time.monotonic()
    if t_lost is None and not cu.whoami():
        t_lost = time.monotonic()
    time.sleep(0.02)
ms = lambda t: "never" if t is None else "%d" % ((t - t0) * 1000)
print("replicated_ms=%s lost_ms=%s" % (ms(t_repl), ms(t_lost)))
print("lost_not_before_replicated=%d" % (t_lost is not None and t_repl is not None and t_lost >= t_repl - 0.05))
print("lost_within_100ms_of_replication=%d" % (t_lost is not None and t_repl is not None and t_lost - t_repl <= 0.1))
es, r = cu.call(R.search, people.encode(), 2, [b"1.1"])
print("entries_after=%d" % len(es))
# the persistent search: ended (EOF), and nothing written on B after the
# revocation reached it
_, r = b.call(R.modify, ("uid=jdoe,%s" % people).encode(), [(2, b"description", [b"after"])])
saw, ended, end = 0, 0, time.monotonic() + 3
while time.monotonic() < end:
    m = cps.recv(end - time.monotonic())
    if m is None:
        ended = time.monotonic() < end
        break
    if m.tag == 0x64 and m.values.get("description") == [b"after"]:
        saw += 1
print("psearch_saw_after=%d psearch_ended=%d" % (saw, ended))
print("other=%s" % co.whoami())
PY
}

n=0
for kind in certdel delete modrdn; do
	n=$((n + 1))
	u=rv$n o=keep$n
	pki_cert ca "$u" "$u" client
	pki_cert ca "$o" "$o" client
	for x in "$u" "$o"; do
		SRV=1 add_user "$x" "User $x" || die "cannot add $x"
		SRV=1 record_cert "$x" "$PKI/$x.der" >/dev/null || die "cannot record $x"
	done
	repl_wait_same "uid=$o,$PEOPLE" $BOUND || die "$o did not replicate"
	repl_wait_same "uid=$u,$PEOPLE" $BOUND || die "$u did not replicate"
	out=$(watch "$kind" "$u" "$o")
	check_out "$kind: $u holds a session on provider B" "^bound_b=dn:uid=$u,$PEOPLE$" printf '%s\n' "$out"
	check_out "$kind: the revocation on provider A succeeded" "^revoke_a=0$" printf '%s\n' "$out"
	check_out "$kind: it replicated to B within ${BOUND}s" "^replicated_ms=[0-9]+ " printf '%s\n' "$out"
	check_out "$kind: the session on B lost its identity within 100 ms of the change reaching B (recheck is 3600 s)" \
		"^lost_within_100ms_of_replication=1$" printf '%s\n' "$out"
	check_out "$kind: and reads nothing any more" "^entries_after=0$" printf '%s\n' "$out"
	check_out "$kind: its persistent search on B got nothing written after, and ended" \
		"^psearch_saw_after=0 psearch_ended=1$" printf '%s\n' "$out"
	check_out "$kind: another device's session on B keeps its identity" "^other=dn:uid=$o,$PEOPLE$" \
		printf '%s\n' "$out"
	printf '%s\n' "$out" | grep '^replicated_ms=' | sed 's/^/# /'
done
logon_refused "the revoked certificate is refused at B" 2 rv1
for i in 1 2; do check "provider $i is alive" srv_alive $i; done
done_testing
