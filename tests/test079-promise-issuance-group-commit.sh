#!/bin/bash
# test079-promise-issuance-group-commit: concurrent certpinIssue requests
# share database commits (write.c, group commit), and each still gets the
# answer it would get alone.  Promises attacked:
# (a) "No certificate is answered that is not on file, none is on file that
#     was not answered" under bursts of concurrent requests (many
#     connections, several pipelined on each): every certificate a client
#     received is on its user's entry with its certpinThumbprint and its
#     certpinCertInfo record, every certificate on file was received by a
#     client, and the maintained attributes agree value for value.
# (b) "certpin-max-certificates holds": a burst of requests for one user
#     whose room is smaller than the burst: exactly the room is issued, the
#     others refused with the limit's message, the other users' requests in
#     the same burst all issued, and commits still shared: a record its
#     checks refuse inside a shared transaction writes nothing, and the
#     others of that commit stay written (no group is aborted for it).
# (c) "slapd keeps running, and the database stays readable": the first
#     records of a database arrive as a burst (back-mdb cannot undo an
#     attribute new to the database: such records are never written in a
#     shared transaction, adtable.c); slapd answers afterwards and slapcat
#     reads every entry.
# (e) Into a database whose writes an overlay logs as they run (auditlog;
#     accesslog alike), nothing is shared: every record its own commit, the
#     log holds exactly the records written, and the room still holds under
#     a burst for one user (the room is checked under the uniqueness lock).
# (f) "A request's answer never depends on the others'" when a write fails
#     inside a shared transaction: users whose entries are too large for one
#     more certificate (back-mdb maxentrysize: the backend refuses the write
#     itself, after every check passed) among others in bursts: the shared
#     transaction is aborted and its records written one by one; the large
#     users are refused with the backend's reason and hold nothing, every
#     other request is issued and on file, nothing of an aborted transaction
#     remains.
# (g) Requests abandoned while queued for a shared commit: no answer is
#     owed to them, and whatever they left is whole (each certificate on
#     file with its thumbprint and record), every answered certificate is on
#     file, no user holds more than was asked for, slapd keeps running.
# (d) The counters an operator reads: record-commits and records-grouped
#     in cn=monitor show that commits were shared (fewer commits than
#     certificates), and a request alone is its own commit.
# test070 (b) pipelines certpinIssue on a device session while its
# certificate is revoked: those requests share commits the same way, and
# the assertion that the session's certificate is still on file fails
# inside the shared transaction.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
csr dev
ADMIN="uid=certadmin,$PEOPLE"
MON="cn=certpin,cn=Overlays,cn=Monitor"
prov_conf 1 "certpin-max-certificates 3"
cat >> "$TESTDIR/srv1/slapd.conf" <<CONF

database monitor
access to dn.subtree="cn=Monitor" by dn.exact="$ADMIN" read by * none
CONF
srv_start 1
prov_base 1
LDAPI=$(srv_uri 1 ldapi)
for i in $(seq -w 1 48); do add_user "u$i" "User $i" || die "cannot add u$i"; done
for i in 1 2 3; do add_user "full$i" "Full $i" || die "cannot add full$i"; done

# counter NAME: one certpin counter, read as the administrator
counter() {
	ldapsearch -LLL -o ldif-wrap=no -x -D "$ADMIN" -w pw-certadmin -H "$LDAPI" \
		-b "cn=$1,$MON" -s base monitorCounter | sed -n 's/^monitorCounter: //p'
}

# burst OUT UID...: one certpinIssue per UID (repeat a UID for several
# requests), asked by the administrator for that user, spread over 12
# connections with every connection's requests pipelined; one line per
# request in OUT: "uid rc sha256" (issued) or "uid rc message".
cat > "$TESTDIR/burst.py" <<'PY'
import os, sys, hashlib, threading, ldap, ldap.extop
oid, uri, admin, pw, csrfile, out = sys.argv[1:7]
uids = sys.argv[7:]
csr = open(csrfile, "rb").read()
def tlv(tag, body):
    n = len(body)
    l = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + l + body
def parse(b):
    tag, n, i = b[0], b[1], 2
    if n & 0x80:
        k = n & 0x7f
        n, i = int.from_bytes(b[2:2 + k], "big"), 2 + k
    return tag, b[i:i + n], b[i + n:]
people = "ou=people,dc=example,dc=com"
lines, lock = [], threading.Lock()
# BURST_ABANDON=K: every K-th request of a connection is abandoned as soon
# as all of that connection's requests are sent ("uid A -": no answer read)
every = int(os.environ.get("BURST_ABANDON", "0"))
def worker(mine):
    l = ldap.initialize(uri)
    l.simple_bind_s(admin, pw)
    ids = []
    for u in mine:
        v = tlv(0x30, tlv(0x04, csr) + tlv(0x80, ("uid=%s,%s" % (u, people)).encode()))
        ids.append((u, l.extop(ldap.extop.ExtendedRequest(oid, v))))
    if every:
        for k in range(every - 1, len(ids), every):
            l.abandon(ids[k][1])
            with lock:
                lines.append("%s A -" % ids[k][0])
        ids = [x for k, x in enumerate(ids) if (k + 1) % every]
    for u, m in ids:
        try:
            roid, rval = l.extop_result(m, all=1, timeout=120)
            tag, body, _ = parse(rval)
            _, cert, _ = parse(body)
            r = "%s 0 %s" % (u, hashlib.sha256(cert).hexdigest())
        except ldap.LDAPError as e:
            d = e.args[0] if e.args and isinstance(e.args[0], dict) else {"result": 80, "info": str(e)}
            r = "%s %s %s" % (u, d.get("result", 80), d.get("info", d.get("desc", "")))
        with lock:
            lines.append(r)
    l.unbind_s()
ts = [threading.Thread(target=worker, args=(uids[k::12],)) for k in range(12)]
for t in ts: t.start()
for t in ts: t.join()
open(out, "w").write("".join(x + "\n" for x in sorted(lines)))
PY
burst() { local out=$1; shift; "$PY" "$TESTDIR/burst.py" "$ISSUE_OID" "$LDAPI" "$ROOTDN" "$ROOTPW" "$PKI/dev.csr.der" "$out" "$@"; }

# on_file: "uid sha256" for every certificate on file (certpinThumbprint),
# sorted; and check_consistent: per entry, as many certificates as
# thumbprints as records, and every record names one of the thumbprints.
on_file() {
	root_search -b "$PEOPLE" -s one '(certpinThumbprint=*)' uid certpinThumbprint |
		awk '/^uid: / { u = $2 } /^certpinThumbprint: / { print u, $2 }' | LC_ALL=C sort
}
check_consistent() {	# LABEL
	local bad
	bad=$(root_search -b "$PEOPLE" -s one '(certpinThumbprint=*)' uid certpinThumbprint \
		certpinCertInfo 'certpinCertificate;binary' | "$PY" -c '
import sys, re
bad = []
for e in sys.stdin.read().split("\n\n"):
    if not e.strip(): continue
    u = re.search(r"^uid: (\S+)", e, re.M).group(1)
    tps = re.findall(r"^certpinThumbprint: (\S+)", e, re.M)
    recs = re.findall(r"^certpinCertInfo: (.*)", e, re.M)
    certs = re.findall(r"^certpinCertificate;binary:: ", e, re.M)
    named = sorted(re.search(r"sha256=([0-9a-f]+)", r).group(1) for r in recs)
    if not (len(tps) == len(recs) == len(certs)) or named != sorted(tps):
        bad.append("%s: %d certificates, %d thumbprints, %d records" % (u, len(certs), len(tps), len(recs)))
print("\n".join(bad))')
	check_eq "$1: on every entry as many certificates as thumbprints as records, each record its thumbprint's" "" "$bad"
}

# ---- (c) the first records of a database, as a burst ------------------------------
check_eq "no entry holds a record yet" "" \
	"$(root_search -b "$SUFFIX" '(certpinCertInfo=*)' 1.1)"
c0=$(counter record-commits)
check_eq "record-commits starts at 0" 0 "$c0"
burst "$TESTDIR/b0" $(seq -f 'u%02g' 1 24)
check_eq "first burst: all 24 requests issued" 24 "$(awk '$2 == 0' "$TESTDIR/b0" | wc -l)"
check_eq "first burst: what the clients received is what is on file" \
	"$(awk '$2 == 0 { print $1, $3 }' "$TESTDIR/b0" | LC_ALL=C sort)" "$(on_file)"
check_consistent "first burst"
check "slapd still answers" ldapwhoami -x -H "$LDAPI"
check_eq "no entry the backend cannot decode (log)" "" \
	"$(grep -a 'not recognized' "$TESTDIR/srv1/slapd.log" | head -3)"

# ---- (a) bursts over users that hold certificates ---------------------------------
# two rounds over the 48 users, each request for another user than the
# others of its round
burst "$TESTDIR/b1" $(seq -f 'u%02g' 1 48)
burst "$TESTDIR/b2" $(seq -f 'u%02g' 25 48)
for b in b1 b2; do
	check_eq "$b: every request issued" 0 "$(awk '$2 != 0' "$TESTDIR/$b" | wc -l)"
done
check_eq "after three bursts: every certificate a client received is on file, and only those" \
	"$(cat "$TESTDIR"/b0 "$TESTDIR"/b1 "$TESTDIR"/b2 | awk '$2 == 0 { print $1, $3 }' | LC_ALL=C sort)" \
	"$(on_file)"
check_consistent "after three bursts"
n=$(cat "$TESTDIR"/b0 "$TESTDIR"/b1 "$TESTDIR"/b2 | awk '$2 == 0' | wc -l)
commits=$(counter record-commits)
grouped=$(counter records-grouped)
echo "# $n certificates issued in $commits commits, $grouped of them in shared commits"
check "fewer commits than certificates ($commits < $n)" test "$commits" -lt "$n"
check "records-grouped counts certificates in shared commits ($grouped > 0)" test "$grouped" -gt 0

# ---- (b) one user, more requests than room ------------------------------------------
# fullN: room for 3, 40 requests at once (and 8 for other users among them)
for i in 1 2 3; do
	set --
	for k in $(seq 1 40); do set -- "$@" "full$i"; done
	burst "$TESTDIR/f$i" "$@" $(seq -f 'u%02g' $((i * 8 - 7)) $((i * 8)))
	check_eq "full$i: exactly its room (3) of 40 requests issued" 3 \
		"$(awk -v u="full$i" '$1 == u && $2 == 0' "$TESTDIR/f$i" | wc -l)"
	check_eq "full$i: the 37 others refused with the limit's reason" 37 \
		"$(awk -v u="full$i" '$1 == u && $2 == 19' "$TESTDIR/f$i" | grep -c 'certpin-max-certificates')"
	check_eq "full$i's burst: the other users' 8 requests all issued" 8 \
		"$(awk -v u="full$i" '$1 != u && $2 == 0' "$TESTDIR/f$i" | wc -l)"
done
check_eq "after the full bursts: every certificate received is on file, and only those" \
	"$(cat "$TESTDIR"/b? "$TESTDIR"/f? | awk '$2 == 0 { print $1, $3 }' | LC_ALL=C sort)" "$(on_file)"
check_consistent "after the full bursts"
nf=$(cat "$TESTDIR"/f? | awk '$2 == 0' | wc -l)
cf=$(( $(counter record-commits) - commits ))
check "the full bursts shared commits too ($nf certificates in $cf commits)" test "$cf" -lt "$nf"
check_eq "no shared transaction was aborted (log)" "" \
	"$(grep -a 'certpin: a group commit of' "$TESTDIR/srv1/slapd.log" | head -3)"

# ---- (d) alone, a request is its own commit --------------------------------------
c1=$(counter record-commits)
g1=$(counter records-grouped)
check_rc_out 0 "one request alone" "^issued" \
	issue -H "$LDAPI" -D "$ROOTDN" -w "$ROOTPW" -i "uid=kenmyer,$PEOPLE" -r "$PKI/dev.csr.der"
check_eq "record-commits +1" $((c1 + 1)) "$(counter record-commits)"
check_eq "records-grouped unchanged" "$g1" "$(counter records-grouped)"

# ---- (e) a database that logs its writes: each record its own commit ---------------
prov_conf 2 "certpin-max-certificates 3"
sed -i -e '$d' -e "s|^moduleload back_mdb|&\nmoduleload auditlog|" "$TESTDIR/srv2/slapd.conf"
cat >> "$TESTDIR/srv2/slapd.conf" <<CONF
overlay auditlog
auditlog $TESTDIR/audit.ldif
overlay certpin

database monitor
access to dn.subtree="cn=Monitor" by dn.exact="$ADMIN" read by * none
CONF
srv_start 2
prov_base 2
for u in v1 v2 v3 v4 v5 v6 v7 v8 full9; do SRV=2 add_user "$u" "User $u" || die "cannot add $u"; done
LDAPI1=$LDAPI
LDAPI=$(srv_uri 2 ldapi)
set --
for k in $(seq 1 40); do set -- "$@" full9; done
burst "$TESTDIR/g1" "$@" v1 v2 v3 v4 v5 v6 v7 v8
check_eq "auditlog: full9 got exactly its room (3) of 40" 3 "$(awk '$1 == "full9" && $2 == 0' "$TESTDIR/g1" | wc -l)"
check_eq "auditlog: the 37 others refused with the limit's reason" 37 \
	"$(awk '$1 == "full9" && $2 == 19' "$TESTDIR/g1" | grep -c 'certpin-max-certificates')"
check_eq "auditlog: the other users' 8 requests all issued" 8 "$(awk '$1 != "full9" && $2 == 0' "$TESTDIR/g1" | wc -l)"
check_eq "auditlog: every certificate received is on file, and only those" \
	"$(awk '$2 == 0 { print $1, $3 }' "$TESTDIR/g1" | LC_ALL=C sort)" "$(SRV=2 on_file)"
SRV=2 check_consistent "auditlog"
check_eq "auditlog: each record its own commit (record-commits)" 11 "$(counter record-commits)"
check_eq "auditlog: none shared (records-grouped)" 0 "$(counter records-grouped)"
check_eq "auditlog: the log holds the 11 records written, no more" 11 \
	"$(grep -c '^add: certpinCertificate;binary' "$TESTDIR/audit.ldif")"
LDAPI=$LDAPI1
srv_stop 2

# ---- (f) a write that fails inside a shared transaction ----------------------------
# big1 and big2 carry a description that leaves their entries room for no
# certificate under maxentrysize 20000: the longest that fits, found in
# steps of 100 bytes (back-mdb counts a description twice, as value and
# normalized value; a certificate with its thumbprint and record adds more
# than 900 bytes)
prov_conf 3 "certpin-max-certificates 3"
sed -i 's/^maxsize .*/&\nmaxentrysize 20000/' "$TESTDIR/srv3/slapd.conf"
srv_start 3
prov_base 3
for i in $(seq -w 1 48); do SRV=3 add_user "w$i" "User w$i" || die "cannot add w$i"; done
for u in big1 big2; do
	SRV=3 add_user "$u" "Big $u" || die "cannot add $u"
	for len in $(seq 9900 -100 5000); do
		printf 'dn: uid=%s,%s\nchangetype: modify\nreplace: description\ndescription: %s\n' \
			"$u" "$PEOPLE" "$(head -c "$len" /dev/zero | tr '\0' x)" |
			SRV=3 root_modify >"$TESTDIR/enlarge.out" 2>&1 && break
		grep -q 'Administrative limit exceeded (11)' "$TESTDIR/enlarge.out" ||
			die "cannot enlarge $u: $(cat "$TESTDIR/enlarge.out")"
	done
	echo "# $u: a description of $len bytes"
	[ "$len" -gt 5000 ] || die "$u: no description between 5000 and 9900 bytes fits"
done
LDAPI=$(srv_uri 3 ldapi)
# the records of a database's first certificates are written one by one
# (adtable.c): one issued first, so that the bursts may share commits
burst "$TESTDIR/h0" w48
check_eq "maxentrysize: a first certificate issued" 1 "$(awk '$2 == 0' "$TESTDIR/h0" | wc -l)"
burst "$TESTDIR/h1" big1
check_eq "maxentrysize: big1 alone is refused by the backend (adminLimitExceeded, its reason)" \
	"big1 11 certpin: the entry could not be updated: it would exceed the size its database allows for an entry (maxentrysize)" "$(cat "$TESTDIR/h1")"
aborted=0
for r in 1 2 3; do
	burst "$TESTDIR/hb$r" big1 $(seq -f 'w%02g' $((r * 15 - 14)) $((r * 15 - 8))) big2 \
		$(seq -f 'w%02g' $((r * 15 - 7)) $((r * 15)))
	check_eq "burst $r: the 15 other users' requests all issued" 15 \
		"$(awk '$1 !~ /^big/ && $2 == 0' "$TESTDIR/hb$r" | wc -l)"
	check_eq "burst $r: big1 and big2 refused, with the reason (maxentrysize)" \
		"big1 11 certpin: the entry could not be updated: it would exceed the size its database allows for an entry (maxentrysize)
big2 11 certpin: the entry could not be updated: it would exceed the size its database allows for an entry (maxentrysize)" "$(grep '^big' "$TESTDIR/hb$r")"
done
aborted=$(grep -ac 'certpin: a group commit of .* failed (11): recording them one by one' "$TESTDIR/srv3/slapd.log")
echo "# $aborted shared transactions aborted and written one by one"
check "a shared transaction held a refused write, was aborted and written one by one ($aborted)" \
	test "$aborted" -ge 1
SRV=3 check_eq "maxentrysize: every certificate received is on file, and only those" \
	"$(cat "$TESTDIR"/h0 "$TESTDIR"/hb? | awk '$2 == 0 { print $1, $3 }' | LC_ALL=C sort)" "$(SRV=3 on_file)"
SRV=3 check_consistent "maxentrysize"
check_eq "big1 and big2 hold no certificate, no record" "" \
	"$(SRV=3 root_search -b "$PEOPLE" '(&(uid=big*)(|(certpinCertificate=*)(certpinThumbprint=*)(certpinCertInfo=*)))' 1.1)"

# ---- (g) requests abandoned while queued ---------------------------------------------
# the 48 users again (one certificate each so far but w48 with two after
# this): 4 requests a connection, every second one abandoned
BURST_ABANDON=2 burst "$TESTDIR/ha" $(seq -f 'w%02g' 1 47)
check_eq "abandon: 23 or 24 requests abandoned, no answer read for them" 1 \
	"$(awk '$2 == "A"' "$TESTDIR/ha" | wc -l | awk '{ print ($1 >= 23 && $1 <= 24) }')"
check_eq "abandon: every request not abandoned issued" 0 "$(awk '$2 != "A" && $2 != 0' "$TESTDIR/ha" | wc -l)"
SRV=3 check_consistent "abandon"
got=$(SRV=3 on_file)
check_eq "abandon: every certificate answered is on file" "" \
	"$(cat "$TESTDIR"/h0 "$TESTDIR"/hb? "$TESTDIR/ha" | awk '$2 == 0 { print $1, $3 }' | LC_ALL=C sort |
		LC_ALL=C comm -23 - <(printf '%s\n' "$got"))"
check_eq "abandon: a certificate on file that no client received is an abandoned request's, one at most each" "" \
	"$(printf '%s\n' "$got" | LC_ALL=C comm -23 - <(cat "$TESTDIR"/h0 "$TESTDIR"/hb? "$TESTDIR/ha" |
		awk '$2 == 0 { print $1, $3 }' | LC_ALL=C sort) |
		awk 'NR == FNR { if ($2 == "A") a[$1]++; next } { n[$1]++ } END { for (u in n) if (n[u] > a[u]) print u, n[u], a[u] + 0 }' \
		"$TESTDIR/ha" -)"
check "abandon: slapd is alive" srv_alive 3
LDAPI=$LDAPI1
srv_stop 3

# ---- (c) again: the database reads back whole ------------------------------------
check "slapd is alive" srv_alive 1
srv_stop 1
check "slapcat reads every entry" /usr/sbin/slapcat -f "$TESTDIR/srv1/slapd.conf" -l "$TESTDIR/dump.ldif"
check_eq "slapcat holds every certificate on file" \
	"$(cat "$TESTDIR"/b? "$TESTDIR"/f? | awk '$2 == 0' | wc -l)" \
	"$(( $(grep -c '^certpinThumbprint: ' "$TESTDIR/dump.ldif") - 1 ))"
done_testing
