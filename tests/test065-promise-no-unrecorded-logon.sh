#!/bin/bash
# test065-promise-no-unrecorded-logon: attacks "a certificate not on file never
# logs on" through the SASL mechanism name.  slapd hands the name to Cyrus
# SASL as a C string (it ends at the first NUL byte) and Cyrus ignores case
# and one trailing "-PLUS": every spelling Cyrus runs as EXTERNAL must be
# checked, and a name that is not a well-formed mechanism name is refused
# while a client certificate is present, over ldaps and StartTLS.  Raw binds
# (tests/rawldap.py) send what libldap cannot: NUL bytes.  Binds that do not
# use a client certificate (ldapi peer credentials, TLS without a client
# certificate, simple binds, other mechanisms) are not touched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"

pki_standard
srv_conf 1
srv_start 1
srv_base 1
record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record kenmyer"
record_cert jdoe "$PKI/jdoe.der" >/dev/null || die "cannot record jdoe"
mod_cert delete jdoe "$PKI/jdoe.der" > "$TESTDIR/m.ldif"
root_modify -f "$TESTDIR/m.ldif" >/dev/null || die "cannot revoke jdoe"
KEN="uid=kenmyer,$PEOPLE"

# rawbind URI-KIND CERT MECH-HEX: one raw SASL bind (CERT "-" for none), then
# WhoAmI on the same connection; prints "<code> <whoami> <diagnostic>".
rawbind() {
	PYTHONPATH=$SRCDIR/tests "$PY" - "$1" "$(srv_uri 1 ldaps)" "$(srv_uri 1 ldap)" \
		"$(srv_uri 1 ldapi)" "$PKI" "$2" "$3" <<'PY'
import sys, rawldap as R
kind, ldaps, ldap, ldapi, pki, cert, mech = sys.argv[1:]
crt = key = None
if cert != "-":
    crt, key = "%s/%s.crt" % (pki, cert), "%s/%s.key" % (pki, cert)
uri = {"ldaps": ldaps, "starttls": ldap, "ldapi": ldapi}[kind]
try:
    c = R.connect(uri, pki + "/ca.crt", crt, key, starttls=(kind == "starttls"))
    r = c.bind_sasl(bytes.fromhex(mech))
    w = c.whoami()
except (OSError, RuntimeError) as e:	# ssl.SSLError is an OSError
    sys.exit(print("connection failed: %s" % e))
if r is None:
    sys.exit(print("connection failed: no bind response"))
print("%s %s %s" % (r.code, w if w else "anonymous", r.diag))
PY
}
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }

# ---- spellings Cyrus runs as EXTERNAL: checked -------------------------------------
for how in ldaps starttls; do
	for m in EXTERNAL external ExTeRnAl EXTERNAL-PLUS external-plus External-Plus; do
		check_out "$how: never-recorded certificate, mechanism \"$m\": refused (49), anonymous" \
			"^49 anonymous certificate not accepted$" rawbind "$how" pilar "$(hex "$m")"
		check_out "$how: revoked certificate, mechanism \"$m\": refused (49), anonymous" \
			"^49 anonymous certificate not accepted$" rawbind "$how" jdoe "$(hex "$m")"
		check_out "$how: foreign CA's certificate, mechanism \"$m\": never logs on" \
			"^([1-9][0-9]* anonymous|connection failed)" rawbind "$how" foreign "$(hex "$m")"
	done
	check_out "$how: the recorded certificate logs on with \"EXTERNAL\"" \
		"^0 dn:$KEN $" rawbind "$how" kenmyer "$(hex EXTERNAL)"
	# slapd maps other spellings to another authcid form, which names no entry
	# holding the certificate: refused, never another identity
	for m in external EXTERNAL-PLUS; do
		check_out "$how: the recorded certificate with \"$m\" logs on as its owner or not at all" \
			"^(0 dn:$KEN |49 anonymous certificate not accepted)$" rawbind "$how" kenmyer "$(hex "$m")"
	done
done
srv_log_has "the log names the revoked certificate" 1 \
	"refused logon as \"uid=jdoe,$PEOPLE\" with certificate $(der_sha256 "$PKI/jdoe.der"): revoked"

# ---- names that are not mechanism names: refused with a certificate ---------------------
for how in ldaps starttls; do
	for m in 45585445524e414c00 45585445524e414c00504c41494e \
		 45585445524e414c2d504c555300 0045585445524e414c 45585445524e414c20 \
		 45585445524e414c0a 65787465726e616c00ff; do
		for u in pilar jdoe kenmyer; do
			check_out "$how: $u's certificate, mechanism 0x$m: refused (7), anonymous" \
				"^7 anonymous SASL mechanism name not accepted$" rawbind "$how" "$u" "$m"
		done
	done
done
srv_log_has "the log says why" 1 \
	"certpin: refused SASL bind: the mechanism name \\(9 bytes\\) is not a well-formed name and a client certificate is present"

# ---- other well-formed names: Cyrus finds no EXTERNAL in them --------------------------
for m in EXTERNALX EXTERNAL-PLUS-PLUS XEXTERNAL EXTERNA; do
	check_out "ldaps: never-recorded certificate, mechanism \"$m\": no logon" \
		"^[1-9][0-9]* anonymous" rawbind ldaps pilar "$(hex "$m")"
done

# ---- binds that do not use a client certificate: untouched ----------------------
check_out "with a certificate, DIGEST-MD5 is not the overlay's (bind in progress, 14)" \
	"^14 " rawbind ldaps pilar "$(hex DIGEST-MD5)"
check_out "ldapi peer credentials with \"EXTERNAL\": untouched (root's identity)" \
	"^0 dn:gidNumber=0\\+uidNumber=0,cn=peercred,cn=external,cn=auth " \
	rawbind ldapi - "$(hex EXTERNAL)"
check_out "ldapi peer credentials with \"EXTERNAL\\0\": not refused by the overlay (no TLS certificate)" \
	"^0 dn:.*peercred" rawbind ldapi - 45585445524e414c00
check_out "TLS without a client certificate, \"EXTERNAL\\0\": the overlay leaves it to SASL" \
	"^7 anonymous SASL\\(-4\\)" rawbind ldaps - 45585445524e414c00
root_ldapi_ok "the local root still reaches cn=config over ldapi" 1
out=$(PYTHONPATH=$SRCDIR/tests "$PY" - "$(srv_uri 1 ldaps)" "$PKI" <<'PY' 2>&1
import sys, rawldap as R
uri, pki = sys.argv[1:]
c = R.connect(uri, pki + "/ca.crt", pki + "/pilar.crt", pki + "/pilar.key")
r = c.bind_simple(b"uid=pilar,ou=people,dc=example,dc=com", b"pw-pilar")
print(r.code, c.whoami())
PY
)
check_eq "a simple bind over TLS with a client certificate is untouched" \
	"0 dn:uid=pilar,$PEOPLE" "$out"

# ---- the ordinary clients ------------------------------------------------------------
logon_as "ldapwhoami -Y EXTERNAL: the recorded certificate logs on (ldaps)" 1 kenmyer "$KEN"
logon_as "ldapwhoami -Y EXTERNAL: the recorded certificate logs on (StartTLS)" 1 kenmyer "$KEN" starttls
logon_refused "ldapwhoami -Y EXTERNAL: the never-recorded certificate is refused" 1 pilar
logon_refused "ldapwhoami -Y EXTERNAL: the revoked certificate is refused (StartTLS)" 1 jdoe starttls
check "slapd is alive after everything" srv_alive 1
done_testing
