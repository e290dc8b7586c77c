# tests/lib-logon.sh - helpers for the device logon tests; sourced after lib.sh.

# logon_as DESC N CERT DN [ldaps|starttls]: ldapwhoami -Y EXTERNAL succeeds as DN
logon_as() {
	local desc=$1 n=$2 cert=$3 dn=$4 how=${5:-ldaps} out rc
	out=$(device_whoami "$n" "$cert" "$how") && rc=0 || rc=$?
	if [ "$rc" -eq 0 ] && [ "$(printf '%s\n' "$out" | grep '^dn:')" = "dn:$dn" ]; then ok "$desc"; else
		notok "$desc (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

# logon_refused DESC N CERT [ldaps|starttls]: ldapwhoami -Y EXTERNAL fails
# with invalidCredentials (49) and the generic diagnostic only.
logon_refused() {
	local desc=$1 n=$2 cert=$3 how=${4:-ldaps} out rc
	out=$(device_whoami "$n" "$cert" "$how") && rc=0 || rc=$?
	if [ "$rc" -eq 49 ] && printf '%s\n' "$out" | grep -q "additional info: certificate not accepted$"; then
		ok "$desc"
	else
		notok "$desc (exit $rc, wanted 49 and the generic diagnostic)"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

# Debian 13's slapd (2.6, libldap built with OpenSSL) checks a client
# certificate's dates itself, even with TLSVerifyClient allow: it then
# offers no SASL EXTERNAL on that session, and the bind fails with
# authMethodNotSupported (7) before any overlay sees it.  Debian 12's (2.5,
# GnuTLS) does not: certpin's own date check refuses (49).
# (Under tests/sanitize $SLAPD is a wrapper script: then libldap's TLS
# library is read from a client of the same libldap.)
tls_of=$SLAPD
ldd "$tls_of" 2>/dev/null | grep -q 'libldap' || tls_of=$(command -v ldapwhoami)
if ldd "$tls_of" 2>/dev/null | grep -q 'libssl\.so'; then SLAPD_TLS_DATES=yes; else SLAPD_TLS_DATES=no; fi

# logon_refused_dates DESC N CERT [how]: CERT (expired or not yet valid, on
# file) is refused: by slapd's TLS layer where it checks dates, else by the
# overlay (logon_refused).
logon_refused_dates() {
	local desc=$1 n=$2 cert=$3 how=${4:-ldaps} out rc
	[ "$SLAPD_TLS_DATES" = yes ] || { logon_refused "$@"; return; }
	out=$(device_whoami "$n" "$cert" "$how") && rc=0 || rc=$?
	if [ "$rc" -eq 7 ] && printf '%s\n' "$out" | grep -q "no mechanism available"; then
		ok "$desc (by slapd's TLS date check)"
	else
		notok "$desc (exit $rc, wanted 7: no SASL EXTERNAL with a certificate out of its dates)"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

# srv_log_dates DESC N REGEX WHAT: slapd N logged the refusal: certpin's
# REGEX, or where slapd checks dates itself its TLS verification error WHAT
# ("has expired", "is not yet valid").
srv_log_dates() {
	if [ "$SLAPD_TLS_DATES" = yes ]; then
		srv_log_has "$1" "$2" "TLS certificate verification: Error, certificate $4"
	else
		srv_log_has "$1" "$2" "$3"
	fi
}

# py_logon N CERT [ldaps|starttls] [CACERT]: python3-ldap SASL EXTERNAL bind,
# prints "dn:<whoami>" or "error <code> <info>"; exit 0 either way.
py_logon() {
	local n=$1 cert=$2 how=${3:-ldaps} ca=${4:-$PKI/ca.crt} uri
	if [ "$how" = starttls ]; then uri=$(srv_uri "$n" ldap); else uri=$(srv_uri "$n" ldaps); fi
	"$PY" - "$uri" "$how" "$ca" "$PKI/$cert.crt" "$PKI/$cert.key" <<'PY'
import sys, ldap, ldap.sasl
uri, how, ca, crt, key = sys.argv[1:]
l = ldap.initialize(uri)
l.set_option(ldap.OPT_X_TLS_CACERTFILE, ca)
l.set_option(ldap.OPT_X_TLS_CERTFILE, crt)
l.set_option(ldap.OPT_X_TLS_KEYFILE, key)
l.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
l.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
try:
    if how == 'starttls':
        l.start_tls_s()
    l.sasl_interactive_bind_s('', ldap.sasl.external())
    print(l.whoami_s())
except ldap.LDAPError as e:
    a = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
    print('error', a.get('result'), a.get('info', ''))
PY
}

# py_logon_as DESC N CERT DN [how]
py_logon_as() {
	local out
	out=$(py_logon "$2" "$3" "${5:-ldaps}" 2>&1)
	check_eq "$1" "dn:$4" "$out"
}

# py_logon_refused DESC N CERT [how]
py_logon_refused() {
	local out
	out=$(py_logon "$2" "$3" "${4:-ldaps}" 2>&1)
	check_eq "$1" "error 49 certificate not accepted" "$out"
}

# py_logon_refused_dates DESC N CERT [how]: as logon_refused_dates
py_logon_refused_dates() {
	local out
	[ "$SLAPD_TLS_DATES" = yes ] || { py_logon_refused "$@"; return; }
	out=$(py_logon "$2" "$3" "${4:-ldaps}" 2>&1)
	check_out "$1 (by slapd's TLS date check)" "^error 7 .*no mechanism available" printf '%s\n' "$out"
}

# srv_log_has DESC N REGEX: slapd N's log matches REGEX
srv_log_has() {
	if grep -Eq -- "$3" "$TESTDIR/srv$2/slapd.log"; then ok "$1"; else
		notok "$1 (log has no /$3/)"
		grep certpin "$TESTDIR/srv$2/slapd.log" | tail -n 5 | sed 's/^/#   /'
	fi
}

# srv_log_count N REGEX: how many lines of slapd N's log match
srv_log_count() { grep -Ec -- "$2" "$TESTDIR/srv$1/slapd.log" || true; }

# root_ldapi_ok DESC N: the local root still reaches cn=config over ldapi
root_ldapi_ok() {
	check_rc_out 0 "$1" "^dn:gidNumber=0\\+uidNumber=0,cn=peercred,cn=external,cn=auth$" \
		ldapwhoami -Q -Y EXTERNAL -H "$(srv_uri "$2" ldapi)"
}

# dir_dump N: the whole directory as the root DN sees it (for "unchanged")
dir_dump() { SRV=$1 root_search -b "$SUFFIX" '*' '+' 2>&1; }

# mod_cert OP UID DERFILE: an LDIF modify of one certificate value
mod_cert() {
	printf 'dn: uid=%s,%s\nchangetype: modify\n%s: certpinCertificate;binary\ncertpinCertificate;binary:< file://%s\n' \
		"$2" "$PEOPLE" "$1" "$3"
}

# session_after N CERT CMD...: python3-ldap binds with CERT over ldaps, runs
# CMD (e.g. a revocation, from another connection), then on the same
# connection prints "whoami=<dn>" and "entries=<n visible under the suffix>"
# (before= and entries_before= first, for comparison).  With
# SESSION_FIRST=modify the first operation after CMD is a modify of the
# session's own entry instead, printed as "first=ok" or "first=error <code>".
session_after() {
	local n=$1 cert=$2
	shift 2
	"$PY" - "$(srv_uri "$n" ldaps)" "$PKI/ca.crt" "$PKI/$cert.crt" "$PKI/$cert.key" "$SUFFIX" \
		"${SESSION_FIRST:-whoami}" "$@" <<'PY'
import sys, subprocess, ldap, ldap.sasl
uri, ca, crt, key, base, first = sys.argv[1:7]
cmd = sys.argv[7:]
l = ldap.initialize(uri)
l.set_option(ldap.OPT_X_TLS_CACERTFILE, ca)
l.set_option(ldap.OPT_X_TLS_CERTFILE, crt)
l.set_option(ldap.OPT_X_TLS_KEYFILE, key)
l.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
l.sasl_interactive_bind_s('', ldap.sasl.external())
def count():
    try:
        return len(l.search_s(base, ldap.SCOPE_SUBTREE, '(objectClass=*)', ['1.1']))
    except ldap.NO_SUCH_OBJECT:
        return 0
me = l.whoami_s()
print('before=' + me)
print('entries_before=%d' % count())
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
if first == 'modify':
    try:
        l.modify_s(me[3:], [(ldap.MOD_REPLACE, 'description', [b'after revocation'])])
        print('first=ok')
    except ldap.LDAPError as e:
        print('first=error %s' % e.args[0].get('result'))
print('whoami=' + l.whoami_s())
print('entries=%d' % count())
PY
}

# srv_conf_tls N VERIFY [CAFILE] [EXTRA]: srv_conf N EXTRA, then
# TLSVerifyClient VERIFY (allow lets expired, not-yet-valid and foreign
# certificates through the TLS layer, so that the overlay must refuse them)
# and TLSCACertificateFile CAFILE.
srv_conf_tls() {
	local n=$1 verify=$2 ca=${3:-$PKI/ca.crt}
	srv_conf "$n" "${4:-}"
	sed -i -e "s|^TLSVerifyClient .*|TLSVerifyClient $verify|" \
		-e "s|^TLSCACertificateFile .*|TLSCACertificateFile $ca|" "$TESTDIR/srv$n/slapd.conf"
}

# py_root_modify N KIND UID [DERFILE]: python3-ldap as the root DN over ldapi:
#   delete   delete one certpinCertificate value
#   replace  replace certpinCertificate with DERFILE (or with nothing)
#   declass  remove the certpinUser class
#   entry    delete the entry
py_root_modify() {
	"$PY" - "$(srv_uri "$1" ldapi)" "$ROOTDN" "$ROOTPW" "uid=$3,$PEOPLE" "$2" "${4:-}" <<'PY'
import sys, ldap
uri, dn, pw, target, kind, der = sys.argv[1:]
l = ldap.initialize(uri)
l.simple_bind_s(dn, pw)
val = [open(der, 'rb').read()] if der else None
if kind == 'delete':
    l.modify_s(target, [(ldap.MOD_DELETE, 'certpinCertificate;binary', val)])
elif kind == 'replace':
    l.modify_s(target, [(ldap.MOD_REPLACE, 'certpinCertificate;binary', val)])
elif kind == 'declass':
    l.modify_s(target, [(ldap.MOD_DELETE, 'objectClass', [b'certpinUser'])])
elif kind == 'entry':
    l.delete_s(target)
else:
    sys.exit('unknown kind ' + kind)
PY
}
