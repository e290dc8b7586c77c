#!/bin/bash
# test081-monitor-lifecycle: the counters never get in slapd's way, and
# only those the monitor ACLs allow read them.  Without a monitor database
# slapd starts, enforces, issues and stops as before (the counters count,
# unseen); with cn=config (slapd.d) and a monitor database the counters
# appear, are hidden from anonymous and from users the monitor ACLs do not
# name, count exactly under concurrent logons from several processes (no
# lost increments), are registered once across a stop and start, and slapd
# stops cleanly each time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
KEN="uid=kenmyer,$PEOPLE"
MON="cn=certpin,cn=Overlays,cn=Monitor"
PEER="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"

# ---- no monitor database ----------------------------------------------------------
prov_conf 1
srv_start 1
prov_base 1
record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record"
set_phone_pin "$KEN" "+1 425 555 0100" 864209 || die "cannot set PIN"
csr dev
logon_as "no monitor database: a certificate on file logs on" 1 kenmyer "$KEN"
logon_refused "no monitor database: one not on file is refused" 1 kenmyer2
check_rc_out 0 "no monitor database: issuance by PIN works" "^issued" \
	issue -H "$(srv_uri 1 ldaps)" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P 864209
check_rc 49 "no monitor database: a wrong PIN is refused" \
	issue -H "$(srv_uri 1 ldaps)" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P 111111
check "no monitor database: a revocation works" root_modify -f <(mod_cert delete kenmyer "$PKI/kenmyer.der")
logon_refused "no monitor database: and is enforced" 1 kenmyer
check_rc 32 "no monitor database: there is no cn=monitor" \
	ldapsearch -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -b "$MON" -s base
check_eq "no monitor database: the counting logs no error" "" \
	"$(grep -E 'certpin_monitor|monitor_back_register' "$TESTDIR/srv1/slapd.log")"
srv_log_has "no monitor database: the refusal's event= line is logged anyway" 1 \
	"certpin: event=logon-refused reason=revoked dn=\"$KEN\""
srv_stop 1
check_out "no monitor database: slapd stops cleanly" "slapd stopped\\." tail -n 3 "$TESTDIR/srv1/slapd.log"

# ---- cn=config, a monitor database with ACLs ------------------------------------------
srv_conf 2
cat >> "$TESTDIR/srv2/slapd.conf" <<CONF

database monitor
access to dn.subtree="cn=Monitor" by dn.exact="$ROOTDN" read by dn.exact="$PEER" read by * none
CONF
srv_start 2 config
srv_base 2
SRV=2 record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record"
check_out "cn=config: the monitor database is in slapd.d" "^olcDatabase: \\{[0-9]+\\}monitor$" \
	ldapsearch -LLL -Q -Y EXTERNAL -H "$(srv_uri 2 ldapi)" -b cn=config -s one olcDatabase
ctr() {	# NAME: the counter's value as the root DN reads it
	ldapsearch -LLL -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 2 ldapi)" -b "cn=$1,$MON" -s base monitorCounter 2>&1 |
		sed -n 's/^monitorCounter: //p'
}
check_eq "cn=config: the counters are there, at 0" "0 0" "$(ctr logon-accepted) $(ctr logon-refused-not-issued)"
logon_as "cn=config: ken logs on" 2 kenmyer "$KEN"
check_eq "cn=config: and the counter says so" 1 "$(ctr logon-accepted)"
out=$(ldapsearch -LLL -x -H "$(srv_uri 2 ldapi)" -b "$MON" monitorCounter 2>&1) && rc=0 || rc=$?
check_eq "anonymous sees no counter (noSuchObject, nothing disclosed)" "32 0" \
	"$rc $(printf '%s\n' "$out" | grep -c '^monitorCounter:')"
out=$(ldapsearch -LLL -x -D "$KEN" -w pw-kenmyer -H "$(srv_uri 2 ldapi)" -b "$MON" monitorCounter 2>&1) && rc=0 || rc=$?
check_eq "a user the monitor ACLs do not name sees none either" "32 0" \
	"$rc $(printf '%s\n' "$out" | grep -c '^monitorCounter:')"
check_rc 0 "the local root (named in the ACLs) reads them over ldapi" \
	ldapsearch -LLL -Q -Y EXTERNAL -H "$(srv_uri 2 ldapi)" -b "cn=logon-accepted,$MON" -s base monitorCounter

# Concurrency: 4 processes, each 40 accepted and 20 refused logons.
"$PY" - "$(srv_uri 2 ldaps)" "$PKI" 4 40 20 >"$TESTDIR/conc.out" 2>&1 <<'PY'
import sys, os, ldap, ldap.sasl
uri, pki, nproc, nok, nbad = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def bind(cert):
    l = ldap.initialize(uri)
    l.set_option(ldap.OPT_X_TLS_CACERTFILE, pki + '/ca.crt')
    l.set_option(ldap.OPT_X_TLS_CERTFILE, pki + '/' + cert + '.crt')
    l.set_option(ldap.OPT_X_TLS_KEYFILE, pki + '/' + cert + '.key')
    l.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
    try:
        l.sasl_interactive_bind_s('', ldap.sasl.external())
        r = 'ok'
    except ldap.INVALID_CREDENTIALS:
        r = 'refused'
    l.unbind_s()
    return r
kids = []
for p in range(nproc):
    pid = os.fork()
    if pid == 0:
        res = [bind('kenmyer') for _ in range(nok)] + [bind('kenmyer2') for _ in range(nbad)]
        os._exit(0 if res.count('ok') == nok and res.count('refused') == nbad else 1)
    kids.append(pid)
bad = sum(1 for k in kids if os.waitpid(k, 0)[1] != 0)
print('children failed: %d' % bad)
PY
check_eq "concurrent logons from 4 processes all got their answer" "children failed: 0" "$(cat "$TESTDIR/conc.out")"
check_eq "logon-accepted counted every one of the 160 (no lost increment)" 161 "$(ctr logon-accepted)"
check_eq "logon-refused-not-issued counted every one of the 80" 80 "$(ctr logon-refused-not-issued)"
check_eq "and the total of refusals agrees" 80 "$(ctr logon-refused)"

nmon() { ldapsearch -LLL -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 2 ldapi)" -b "$MON" -s one 1.1 | grep -c '^dn:'; }
NMON=$(nmon)
check "there are counters to count ($NMON)" test "$NMON" -gt 40
srv_stop 2
check_out "cn=config: slapd stops cleanly" "slapd stopped\\." tail -n 3 "$TESTDIR/srv2/slapd.log"
srv_start 2 config
check_eq "cn=config, restarted: the counters are back, at 0" "0" "$(ctr logon-accepted)"
check_eq "they are registered once ($NMON counters as before, no \"entry exists\")" "$NMON 0" \
	"$(nmon) $(grep -c 'entry exists' "$TESTDIR/srv2/slapd.log" || true)"
logon_as "cn=config, restarted: ken logs on" 2 kenmyer "$KEN"
check_eq "cn=config, restarted: counted" 1 "$(ctr logon-accepted)"
srv_stop 2
check_out "cn=config: slapd stops cleanly again" "slapd stopped\\." tail -n 3 "$TESTDIR/srv2/slapd.log"
done_testing
