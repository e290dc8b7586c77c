#!/bin/bash
# test066-promise-revocation-at-once: attacks "a revocation takes effect at
# once" with what a device already has under way when it happens.  A device
# bound with its certificate writes hundreds of requests (WhoAmI, searches,
# modifies of its own entry, certpinIssue for itself) to its connection in
# one write; an administrator revokes meanwhile on another connection (value
# delete, revoke-all, entry delete, rename).  Not one of the device's
# operations whose result slapd sent after the revocation's ran as the user
# (slapd's own log gives the order: tests/pipeline-revoke.py).  Also: a
# renamed user's session never acts as an entry later created under the old
# name; a persistent sync search (refreshAndPersist) of a revoked device
# ends at once, another device's goes on; a session that revokes its own
# certificate is not kept waiting on itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
prov_conf 1
# commits without a disk sync: a revocation then takes milliseconds, less
# than the device's stream of requests (the attack needs requests left)
sed -i "s|^maxsize 104857600|&\\ndbnosync\\nmoduleload syncprov\\noverlay syncprov|" "$TESTDIR/srv1/slapd.conf"
grep -q '^moduleload syncprov' "$TESTDIR/srv1/slapd.conf" || die "cannot configure syncprov"
# once revoked the device's session is anonymous, and slapd closes an
# anonymous session with more than conn_max_pending (100) requests queued:
# allow the authenticated limit, so that the attack can watch the rest run
sed -i '1i conn_max_pending 1000' "$TESTDIR/srv1/slapd.conf"
# a device may act for another identity it was given (authzTo): proxied
# authorization, the one way an operation carries an identity other than
# its connection's
sed -i '1i authz-policy to' "$TESTDIR/srv1/slapd.conf"
srv_start 1
prov_base 1
for i in $(seq 1 150); do
	printf 'dn: uid=x%d,%s\nobjectClass: inetOrgPerson\nuid: x%d\ncn: x%d\nsn: x\n\n' "$i" "$PEOPLE" "$i" "$i"
done | root_add >/dev/null || die "cannot add the filler entries"
csr self
dn() { echo "uid=$1,$PEOPLE"; }
N=0
new_device() {	# -> $DEV, a user holding its recorded certificate
	N=$((N + 1))
	DEV=dev$N
	pki_cert ca "$DEV" "$DEV" client
	add_user "$DEV" "Device $N" || die "cannot add $DEV"
	record_cert "$DEV" "$PKI/$DEV.der" >/dev/null || die "cannot record $DEV's certificate"
}
pipeline() {	# DEV N KIND [ARG] [CSR]
	local u=$1
	shift
	PIPELINE_PROXY=${PROXY:-} PYTHONPATH=$SRCDIR/tests "$PY" "$SRCDIR/tests/pipeline-revoke.py" "$(srv_uri 1 ldaps)" \
		"$(srv_uri 1 ldapi)" "$PKI/ca.crt" "$PKI/$u.crt" "$PKI/$u.key" "$(dn "$u")" \
		"$ROOTDN" "$ROOTPW" "$TESTDIR/srv1/slapd.log" "$@" 2>&1
}
field_of() { printf '%s\n' "$1" | sed -n "s/^$2=//p"; }

# attack DESC KIND [ARG-FN] [CSR]: fresh devices, until the revocation
# landed with requests left (late_all > 0) LANDINGS times; every attempt must
# show no late operation as the user.  ARG-FN prints the kind's argument.
# PREP, if set, names a function run with each fresh device; LANDINGS
# defaults to 1 (at most four attempts per landing, plus ten).
attack() {
	local desc=$1 kind=$2 argfn=${3:-} csrf=${4:-} try out arg bad=0 landed=0
	local want=${LANDINGS:-1}
	for try in $(seq 1 $((4 * want + 10))); do
		new_device
		[ -z "${PREP:-}" ] || "$PREP" "$DEV"
		arg=
		[ -n "$argfn" ] && arg=$($argfn "$DEV")
		# shellcheck disable=SC2086
		out=$(pipeline "$DEV" 900 "$kind" $arg $csrf)
		LAST=$out
		if [ "$(field_of "$out" bound)" != "dn:$(dn "$DEV")" ] ||
		   [ "$(field_of "$out" revoke)" = "" ] || [ -z "$(field_of "$out" late_user)" ]; then
			bad=1
			break
		fi
		[ "$(field_of "$out" late_user)" = 0 ] || { bad=1; break; }
		if [ "$kind" != delete ] &&
		   [ "$(field_of "$out" desc_at_revoke)" != "$(field_of "$out" desc_final)" ]; then
			bad=1
			break
		fi
		if printf '%s\n' "$out" | grep -q '^responses=.* eof=1$'; then
			# the connection ended early (fail closed, or the client):
			# not a landing; say what the server logged about it
			echo "# attempt $try: the device's connection ended early: $(field_of "$out" eof_why)"
			grep -E "certpin: revocation: conn=.*(shut down)" "$TESTDIR/srv1/slapd.log" | tail -n 2 | sed 's/^/#   /'
			continue
		fi
		if [ "$(field_of "$out" late_all)" -gt 0 ]; then
			landed=$((landed + 1))
			[ "$landed" -lt "$want" ] || break
		fi
	done
	if [ "$bad" = 0 ]; then
		ok "$desc: no operation whose result came after the revocation's ran as the user ($try attempt(s))"
	else
		notok "$desc: operations ran as the user after the revocation returned"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
	if [ "$landed" -ge "$want" ]; then
		ok "$desc: the revocation landed with requests left $landed time(s) ($(field_of "$out" late_all) ran after the last, as anonymous)"
	else
		notok "$desc: in $try attempts the revocation landed with requests left $landed time(s), not $want"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}
der_of() { echo "$PKI/$1.der"; }
newrdn_of() { echo "uid=$1-renamed"; }

attack "value delete, pipelined whoami/search/modify" certdel der_of
check_out "the device's connection is anonymous afterwards" "^whoami_end=anonymous$" printf '%s\n' "$LAST"
check_out "and was not shut down (its operations finished in time)" "^responses=900 eof=0$" printf '%s\n' "$LAST"
# Proxied authorization: every search acts for uid=x1, which the device may
# assume (authzTo).  The operations of the device received before the
# revocation carry that identity, not the device's own: they lose it all
# the same (found by this attack: they kept it while compared with the
# device's DN, in about 1 landing in 24; hence four landings here).
X1=$(dn x1)
may_act_as_x1() {
	printf 'dn: %s\nchangetype: modify\nadd: authzTo\nauthzTo: dn:%s\n' "$(dn "$1")" "$X1" |
		root_modify >/dev/null || die "cannot let $1 act as x1"
}
# The long run: CERTPIN_PROXY_LANDINGS=150 tests/run test066 (about two
# minutes; the old code left 2 late operations in 48 landings).
PROXY=dn:$X1 PREP=may_act_as_x1 LANDINGS=${CERTPIN_PROXY_LANDINGS:-4} attack "value delete, pipelined searches acting for another identity (proxied authorization)" certdel der_of
check_out "and before it, they did act for that identity (entries returned)" "^before_search_user=[1-9]" printf '%s\n' "$LAST"
attack "revoke-all (replace with nothing), pipelined with certpinIssue for itself" revokeall "" "$PKI/self.csr.der"
check_out "no certpinIssue for itself succeeded after the revocation" "^late_user_kinds=$" printf '%s\n' "$LAST"
# The certificates issued by requests already under way: issuance must check
# that the requester's certificate is still on file when it records the new
# one (provision.c, certpin_bind_session_cert); none may be on file now.
check_eq "after revoke-all returned, no certificate the device minted for itself is on file" "" \
	"$(root_search -b "$(dn "$DEV")" -s base certpinThumbprint | sed -n 's/^certpinThumbprint: //p')"
attack "entry delete, pipelined" delete
attack "rename of the entry, pipelined" modrdn newrdn_of
check_out "the renamed device's connection is anonymous afterwards" "^whoami_end=anonymous$" printf '%s\n' "$LAST"
srv_log_has "the log says which session lost its identity" 1 \
	"certpin: revocation: the session conn=[0-9]+ of \"uid=$DEV,$PEOPLE\" loses its identity: certificate [0-9a-f]{64}: no such entry"

# ---- a renamed user's session never acts as an entry created under the old name --
new_device
old=$DEV
out=$(SESSION_FIRST=modify session_after 1 "$old" sh -c "
ldapmodrdn -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' '$(dn "$old")' uid=$old-moved &&
printf 'dn: $(dn "$old")\nobjectClass: inetOrgPerson\nuid: $old\ncn: newcomer\nsn: newcomer\n' |
ldapadd -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)'" 2>&1)
check_out "rename, then a new entry under the old name: bound before as $old" "^before=dn:$(dn "$old")$" \
	printf '%s\n' "$out"
check_out "the session cannot write the new entry (its first operation runs as anonymous)" \
	"^first=error (8|50)$" printf '%s\n' "$out"
check_out "and its identity is gone" "^whoami=$" printf '%s\n' "$out"
check_eq "the new entry was not touched" "" \
	"$(root_search -b "$(dn "$old")" -s base description | sed -n 's/^description: //p')"

# ---- persistent sync searches ------------------------------------------------------
new_device
PS=$DEV
new_device
KEEP=$DEV
out=$(PYTHONPATH=$SRCDIR/tests "$PY" - "$(srv_uri 1 ldaps)" "$(srv_uri 1 ldapi)" "$PKI" "$PS" "$KEEP" \
	"$PEOPLE" "$ROOTDN" "$ROOTPW" <<'PY' 2>&1
import sys, time, threading, rawldap as R
ldaps, ldapi, pki, ps, keep, people, rootdn, rootpw = sys.argv[1:]
def device(u):
    c = R.connect(ldaps, pki + "/ca.crt", "%s/%s.crt" % (pki, u), "%s/%s.key" % (pki, u))
    r = c.bind_sasl(b"EXTERNAL")
    assert r.code == 0, r
    mid = c.next_id()
    c.send(R.search(mid, people.encode(), 2, [b"description"], R.sync_control(3)))
    n = 0
    while True:		# the refresh phase: entries, then a syncInfo
        m = c.recv(10)
        assert m is not None, "no refresh"
        if m.tag == 0x64:
            n += 1
        if m.tag == 0x79:
            break
    return c, n
a = R.connect(ldapi)
a.bind_simple(rootdn.encode(), rootpw.encode())
cps, n1 = device(ps)
ckeep, n2 = device(keep)
print("refreshed=%d,%d" % (n1 > 100, n2 > 100))
_, r = a.call(R.modify, ("uid=%s,%s" % (ps, people)).encode(),
              [(2, b"certpinCertificate;binary", [])])
t_rev = time.monotonic()
print("revoke=%d" % r.code)
_, r = a.call(R.modify, ("uid=x1,%s" % people).encode(), [(2, b"description", [b"after the revocation"])])
print("change=%d" % r.code)
def after(c):
    end, seen, eof = time.monotonic() + 3, 0, 0
    while time.monotonic() < end:
        m = c.recv(end - time.monotonic())
        if m is None:
            eof = time.monotonic() < end
            break
        if m.tag == 0x64 and m.values.get("description") == [b"after the revocation"]:
            seen += 1
    return seen, eof
s1, e1 = after(cps)
s2, e2 = after(ckeep)
print("revoked_saw_change=%d revoked_ended=%d" % (s1, e1))
print("kept_saw_change=%d kept_ended=%d" % (s2, e2))
PY
)
check_out "both devices' refreshAndPersist searches returned the branch" "^refreshed=1,1$" printf '%s\n' "$out"
check_out "the administrator revoked $PS's certificate" "^revoke=0$" printf '%s\n' "$out"
check_out "the revoked device's persistent search received nothing written after the revocation, and ended" \
	"^revoked_saw_change=0 revoked_ended=1$" printf '%s\n' "$out"
check_out "the other device's persistent search goes on (it got the change)" \
	"^kept_saw_change=1 kept_ended=0$" printf '%s\n' "$out"
srv_log_has "the log says the persistent search ended with its connection" 1 \
	"certpin: revocation: conn=[0-9]+ ran a persistent sync search as \"uid=$PS,$PEOPLE\": connection shut down"

# ---- a transaction begun before the revocation is not committed ------------------
# (RFC 5805: queued operations carry the identity they were queued with)
txn() {	# DEV REVOKE(0|1): start, queue a modify of the device's own entry,
	# let the root revoke (or not), end with commit
	PYTHONPATH=$SRCDIR/tests "$PY" - "$(srv_uri 1 ldaps)" "$(srv_uri 1 ldapi)" "$PKI" "$1" \
		"$(dn "$1")" "$ROOTDN" "$ROOTPW" "$2" <<'PY' 2>&1
import sys, rawldap as R
ldaps, ldapi, pki, u, me, rootdn, rootpw, revoke = sys.argv[1:]
c = R.connect(ldaps, pki + "/ca.crt", "%s/%s.crt" % (pki, u), "%s/%s.key" % (pki, u))
assert c.bind_sasl(b"EXTERNAL").code == 0
_, r = c.call(R.extended, b"1.3.6.1.1.21.1")
print("txn_start=%d" % r.code)
tid = r.value
c.send(R.modify(c.next_id(), me.encode(), [(2, b"description", [b"in the transaction"])],
               R.control(b"1.3.6.1.1.21.2", tid)))	# queued: no response
if revoke == "1":
    a = R.connect(ldapi)
    assert a.bind_simple(rootdn.encode(), rootpw.encode()).code == 0
    _, r = a.call(R.modify, me.encode(), [(1, b"certpinCertificate;binary", [open("%s/%s.der" % (pki, u), "rb").read()])])
    print("revoke=%d" % r.code)
_, r = c.call(R.extended, b"1.3.6.1.1.21.3", R.seq(R.octets(tid)))
print("txn_end=%d %s" % (r.code, r.diag))
PY
}
new_device
out=$(txn "$DEV" 0)
check_out "a certificate session's transaction commits while its certificate is on file" "^txn_end=0 " \
	printf '%s\n' "$out"
check_eq "and its queued modify was applied" "in the transaction" \
	"$(root_search -b "$(dn "$DEV")" -s base description | sed -n 's/^description: //p')"
new_device
out=$(txn "$DEV" 1)
check_out "the root revoked the certificate while the transaction was open" "^revoke=0$" printf '%s\n' "$out"
check_out "the transaction end is refused (50)" \
	"^txn_end=50 certificate no longer on file: transaction not committed$" printf '%s\n' "$out"
check_eq "and the modify queued as the user was not applied" "" \
	"$(root_search -b "$(dn "$DEV")" -s base description | sed -n 's/^description: //p')"

# ---- a session that revokes its own certificate is not kept waiting on itself ------
new_device
out=$(PYTHONPATH=$SRCDIR/tests "$PY" - "$(srv_uri 1 ldaps)" "$PKI" "$DEV" "$(dn "$DEV")" <<'PY' 2>&1
import sys, time, rawldap as R
uri, pki, u, me = sys.argv[1:]
c = R.connect(uri, pki + "/ca.crt", "%s/%s.crt" % (pki, u), "%s/%s.key" % (pki, u))
assert c.bind_sasl(b"EXTERNAL").code == 0
t = time.monotonic()
_, r = c.call(R.modify, me.encode(), [(1, b"certpinCertificate;binary", [open("%s/%s.der" % (pki, u), "rb").read()])])
print("self_revoke=%d fast=%d" % (r.code, time.monotonic() - t < 1.5))
print("whoami=%s" % (c.whoami() or "anonymous"))
PY
)
check_out "a device deletes its own certificate (by self write) without waiting on itself" \
	"^self_revoke=0 fast=1$" printf '%s\n' "$out"
check_out "and its next operation is anonymous" "^whoami=anonymous$" printf '%s\n' "$out"
logon_refused "and the certificate no longer logs on" 1 "$DEV"

# ---- a read under way when the revocation lands sends nothing more ------------------
# 1,500 entries of 12 KB: the device reads one and stops, so that slapd's
# writes block (the sockets' buffers full) with the search under way; the
# revocation waits for it; the device reads on.  The entries not yet sent
# when the revocation marked the session are not sent, and the search ends
# with insufficientAccess (bind.c, the read guard).
big=$(head -c 12000 /dev/zero | tr '\0' 'x')
{ printf 'dn: ou=bulk,%s\nobjectClass: organizationalUnit\nou: bulk\n\n' "$SUFFIX"
  for i in $(seq 1 1500); do
	printf 'dn: cn=b%d,ou=bulk,%s\nobjectClass: person\ncn: b%d\nsn: b\ndescription: %s\n\n' \
		"$i" "$SUFFIX" "$i" "$big"
  done; } | root_add >/dev/null || die "cannot add the bulk entries"
new_device
out=$(PYTHONPATH=$SRCDIR/tests "$PY" "$SRCDIR/tests/inflight-revoke.py" "$(srv_uri 1 ldaps)" \
	"$(srv_uri 1 ldapi)" "$PKI/ca.crt" "$PKI/$DEV.crt" "$PKI/$DEV.key" "$(dn "$DEV")" \
	"$PKI/$DEV.der" "$ROOTDN" "$ROOTPW" "ou=bulk,$SUFFIX" 2>&1)
check_out "a search of 1,500 large entries as the device is under way (its first entry came)" \
	"^first=entry$" printf '%s\n' "$out"
check_out "the revocation, issued meanwhile, returns within the drain bound" \
	"^revoke=0 ms=[0-9]{1,4}$" printf '%s\n' "$out"
check_out "the search ends with insufficientAccess, not all of it sent" \
	"^entries=([0-9]{1,3}|1[0-4][0-9][0-9]) code=50$" printf '%s\n' "$out"
check_out "the device's connection is anonymous afterwards" "^whoami_end=anonymous$" printf '%s\n' "$out"
srv_log_has "the log says the read was cut" 1 \
	"certpin: the session lost its certificate identity while this operation ran: nothing more of it is sent"
check "slapd is alive after everything" srv_alive 1
done_testing
