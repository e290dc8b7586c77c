#!/bin/bash
# test078-promise-rebind-cache: attacks "a revocation takes effect at once"
# through the re-bind cache (certpin-bind-cache, on by default): a device
# that re-binds on its open TLS connection with the same certificate skips
# the read of its entry while no write happened since.  For every write
# origin that can revoke, the cache is first shown in use (the monitor's
# bind-cache-hit counter grows by exactly the re-binds it answered), then
# the certificate is revoked and the very next re-bind on that same
# connection must be refused: value delete, replace with nothing, removal
# of the certpinUser class, rename of the entry, entry delete, entry delete
# then re-add under the same name without the certificate, an RFC 5805
# transaction commit, syncrepl from the other provider (delta-syncrepl,
# two providers), a cn=config change of authz-regexp that maps the
# certificate to another entry, a restart after slapadd of data without the
# certificate, and the certificate's own expiry (notAfter passes while
# cached); and a revocation while certpin-mode is audit (no session is
# ended then), then enforce.  Concurrency: one connection re-binds in a loop while another
# revokes; no re-bind sent after the revocation returned succeeds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-repl.sh"

pki_standard
PEER="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"
MON="cn=certpin,cn=Overlays,cn=Monitor"
# the monitor database goes before the mdb database (repl_setup appends to
# the last one)
c78_conf() {
	srv_conf "$1" "$2
certpin-session-recheck 3600"
	sed -i "s|^database mdb\$|database monitor\naccess to dn.subtree=\"cn=Monitor\" by dn.exact=\"$PEER\" read by * none\n\n&|" \
		"$TESTDIR/srv$1/slapd.conf"
	grep -q '^database monitor' "$TESTDIR/srv$1/slapd.conf" || die "cannot configure the monitor"
}
repl_setup 2 c78_conf
ok "two providers started, base entries replicated"

# hits N: the bind-cache-hit counter of server N
hits() {
	ldapsearch -LLL -Q -Y EXTERNAL -H "$(srv_uri "${1:-1}" ldapi)" -b "cn=bind-cache-hit,$MON" \
		-s base monitorCounter 2>/dev/null | sed -n 's/^monitorCounter: //p'
}
check_out "the monitor shows the bind-cache-hit counter" '^[0-9]+$' hits 1

# The device: python3-ldap on one TLS connection, a SASL EXTERNAL bind (and
# WhoAmI) for every "bind" line read, answering "ok dn:..." or "error CODE
# INFO".
cat > "$TESTDIR/rebind.py" <<'PY'
import sys, ldap, ldap.sasl
uri, ca, crt, key = sys.argv[1:5]
l = ldap.initialize(uri)
l.set_option(ldap.OPT_X_TLS_CACERTFILE, ca)
l.set_option(ldap.OPT_X_TLS_CERTFILE, crt)
l.set_option(ldap.OPT_X_TLS_KEYFILE, key)
l.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
l.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
for line in sys.stdin:
    if line.strip() != 'bind':
        break
    try:
        l.sasl_interactive_bind_s('', ldap.sasl.external())
        print('ok ' + l.whoami_s(), flush=True)
    except ldap.LDAPError as e:
        a = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
        print('error %s %s' % (a.get('result'), a.get('info', '')), flush=True)
PY
rb_start() {	# CERT [N]: the device's connection to server N (1)
	coproc RB { "$PY" -u "$TESTDIR/rebind.py" "$(srv_uri "${2:-1}" ldaps)" "$PKI/ca.crt" \
		"$PKI/$1.crt" "$PKI/$1.key" 2>&1; }
}
rb_bind() {
	RB_OUT="(no answer)"
	echo bind >&"${RB[1]}" 2>/dev/null || return 0
	read -r -t 30 RB_OUT <&"${RB[0]}" || RB_OUT="(no answer)"
}
rb_stop() {
	local pid=$RB_PID
	{ echo quit >&"${RB[1]}"; } 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
udn() { echo "uid=$1,$PEOPLE"; }
N=0
new_device() {	# [START END]: -> $U, a user holding its recorded certificate
	N=$((N + 1))
	U=dev$N
	pki_cert ca "$U" "$U" client "$@"
	add_user "$U" "Device $N" || die "cannot add $U"
	record_cert "$U" "$PKI/$U.der" >/dev/null || die "cannot record $U's certificate"
}
# warm DESC: the device binds three times on one connection; the last two
# are answered by the cache (exactly two hits more)
warm() {
	local h0 h1 a b c
	rb_start "$U"
	h0=$(hits)
	rb_bind; a=$RB_OUT
	rb_bind; b=$RB_OUT
	rb_bind; c=$RB_OUT
	h1=$(hits)
	check_eq "$1: three binds on one connection as $U" \
		"ok dn:$(udn "$U")|ok dn:$(udn "$U")|ok dn:$(udn "$U")" "$a|$b|$c"
	check_eq "$1: the cache answered the two re-binds (bind-cache-hit +2)" 2 $(( ${h1:-0} - ${h0:-0} ))
}
refused_next() {	# DESC
	rb_bind
	check_eq "$1: the very next re-bind on that connection is refused" \
		"error 49 certificate not accepted" "$RB_OUT"
	rb_stop
}
# scenario DESC CMD...: warm, CMD (the revocation; must succeed), refused
scenario() {
	local desc=$1
	shift
	new_device
	warm "$desc"
	check "$desc: the revocation succeeds" "$@"
	refused_next "$desc"
}

scenario "value delete" py_root_modify 1 delete dev1 "$PKI/dev1.der"
scenario "replace with nothing" py_root_modify 1 replace dev2
scenario "certpinUser class removal" py_root_modify 1 declass dev3
scenario "rename of the entry" ldapmodrdn -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" \
	"$(udn dev4)" uid=dev4-moved
scenario "entry delete" py_root_modify 1 entry dev5
readd() { py_root_modify 1 entry "$1" && add_user "$1" "Newcomer"; }
scenario "entry delete, then a new entry under the same name without the certificate" readd dev6
txn_del() {	# UID: the value delete inside an RFC 5805 transaction
	mod_cert delete "$1" "$PKI/$1.der" | root_modify -E txn=commit
}
scenario "value delete in an LDAP transaction (commit)" txn_del dev7
check_out "(the server took it as a transaction)" "conn=[0-9]+ op=[0-9]+ EXT oid=1.3.6.1.1.21.3" \
	cat "$TESTDIR/srv1/slapd.log"

# ---- syncrepl: revoked on provider 2, the device re-binds on provider 1 ----
has_on() { SRV=$1 root_search -b "$(udn "$2")" -s base certpinThumbprint | grep -q '^certpinThumbprint:'; }
gone_on() { ! has_on "$@"; }
repl_revoke() {	# UID: value delete on provider 2, until provider 1 has it
	py_root_modify 2 delete "$1" "$PKI/$1.der" || return 1
	repl_wait 20 gone_on 1 "$1"
}
new_device
repl_wait 20 has_on 2 "$U" || die "$U's certificate did not replicate to provider 2"
warm "syncrepl from the other provider"
check "syncrepl from the other provider: the value delete on provider 2 reached provider 1" repl_revoke "$U"
refused_next "syncrepl from the other provider"

# ---- concurrency: re-binds in a loop on one connection, a revocation on another
race() {	# UID KIND (delete|entry)
	"$PY" - "$(srv_uri 1 ldaps)" "$(srv_uri 1 ldapi)" "$PKI" "$1" "$(udn "$1")" "$ROOTDN" "$ROOTPW" "$2" <<'PY'
import sys, threading, time, ldap, ldap.sasl
ldaps, ldapi, pki, u, udn, rootdn, rootpw, kind = sys.argv[1:]
l = ldap.initialize(ldaps)
l.set_option(ldap.OPT_X_TLS_CACERTFILE, pki + '/ca.crt')
l.set_option(ldap.OPT_X_TLS_CERTFILE, '%s/%s.crt' % (pki, u))
l.set_option(ldap.OPT_X_TLS_KEYFILE, '%s/%s.key' % (pki, u))
l.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
adm = ldap.initialize(ldapi)
adm.simple_bind_s(rootdn, rootpw)
done = []
res = []
stop = threading.Event()
def binder():
    while not stop.is_set():
        t = time.monotonic()
        try:
            l.sasl_interactive_bind_s('', ldap.sasl.external())
            ok = True
        except ldap.INVALID_CREDENTIALS:
            ok = False
        res.append((t, ok))
th = threading.Thread(target=binder)
th.start()
time.sleep(1.0)
if kind == 'delete':
    adm.modify_s(udn, [(ldap.MOD_DELETE, 'certpinCertificate;binary', None)])
else:
    adm.delete_s(udn)
t_ret = time.monotonic()
time.sleep(1.0)
stop.set()
th.join()
before = sum(1 for t, ok in res if t < t_ret and ok)
after = [ok for t, ok in res if t > t_ret]
print('before_ok=%d after=%d after_ok=%d' % (before, len(after), sum(after)))
PY
}
for kind in delete entry delete; do
	new_device
	h0=$(hits)
	out=$(race "$U" "$kind" 2>&1)
	h1=$(hits)
	echo "# race ($kind, $U): $out, bind-cache-hit +$(( ${h1:-0} - ${h0:-0} ))"
	check_out "re-binds in a loop while a $kind revokes: binds went through before it" \
		'^before_ok=[1-9][0-9]* after=[1-9][0-9]* ' printf '%s\n' "$out"
	check_out "re-binds in a loop while a $kind revokes: none sent after it returned succeeded" \
		' after_ok=0$' printf '%s\n' "$out"
	check "re-binds in a loop while a $kind revokes: the cache answered re-binds" \
		test $(( ${h1:-0} - ${h0:-0} )) -gt 0
done

# ---- expiry: the certificate's notAfter passes while its re-binds are cached
end=$(( $(date +%s) + 12 ))
new_device "$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)" "$(date -u -d "@$end" +%Y%m%d%H%M%SZ)"
warm "expiry"
while [ "$(date +%s)" -le $((end + 1)) ]; do sleep 0.5; done
refused_next "expiry (notAfter passed)"
srv_log_has "expiry: the log says why" 1 "certpin: refused logon as \"uid=$U,$PEOPLE\" with certificate [0-9a-f]{64}: expired"

# ---- cn=config: authz-regexp now maps the certificate's name to another entry
new_device
add_user "${U}x" "Other $N" || die "cannot add ${U}x"
warm "authz-regexp remapped (cn=config)"
orig=$(ldapsearch -LLL -Q -o ldif-wrap=no -Y EXTERNAL -H "$(srv_uri 1 ldapi)" -b cn=config -s base \
	olcAuthzRegexp | sed -n 's/^olcAuthzRegexp: //p')
check "authz-regexp remapped (cn=config): the change succeeds" cfg_set cn=config olcAuthzRegexp \
	"\"^cn=([^,]+)\$\" \"uid=\$1x,$PEOPLE\""
refused_next "authz-regexp remapped (cn=config)"
check "authz-regexp restored" cfg_set cn=config olcAuthzRegexp "${orig#\{0\}}"

# ---- revoked while certpin-mode is audit (the revoker then ends no
# session), then enforce: only the cache generation stands between the
# cached finding and the next re-bind
FE="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
new_device
check "audit, then enforce: certpin-mode audit over cn=config" cfg_set "$FE" olcCertpinMode audit
warm "audit, then enforce"
check "audit, then enforce: the value delete succeeds" py_root_modify 1 delete "$U" "$PKI/$U.der"
check "audit, then enforce: certpin-mode enforce over cn=config" cfg_set "$FE" olcCertpinMode enforce
refused_next "audit, then enforce"

# ---- restart after slapadd of data without the certificate ----------------
new_device
warm "restart after slapadd"
rb_stop
conf=$TESTDIR/srv1/slapd.conf
srv_stop 1
/usr/sbin/slapcat -f "$conf" -b "$SUFFIX" -o ldif-wrap=no -l "$TESTDIR/dump.ldif" 2>/dev/null ||
	die "slapcat failed"
awk -v dn="dn: uid=$U,$PEOPLE" '/^dn: / { in_u = ($0 == dn) }
	in_u && /^certpinCertificate;binary::/ { next } { print }' "$TESTDIR/dump.ldif" >"$TESTDIR/load.ldif"
check_eq "restart after slapadd: the data to load lacks the certificate" 1 \
	$(( $(grep -c '^certpinCertificate;binary::' "$TESTDIR/dump.ldif") - $(grep -c '^certpinCertificate;binary::' "$TESTDIR/load.ldif") ))
rm -f "$TESTDIR/srv1/db/"*.mdb
/usr/sbin/slapadd -q -f "$conf" -b "$SUFFIX" -l "$TESTDIR/load.ldif" >"$TESTDIR/slapadd.log" 2>&1 ||
	die "slapadd failed: $(cat "$TESTDIR/slapadd.log")"
srv_start 1
rb_start "$U"
refused_next "restart after slapadd"

done_testing
