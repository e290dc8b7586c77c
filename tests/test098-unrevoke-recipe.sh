#!/bin/bash
# test098-unrevoke-recipe: slapo-certpin(5)'s recipe for letting a revoked
# certificate back works as printed, pasted into a shell: the filter and the
# here-document are quoted, so the shell leaves the record's $-separated
# fields ($revoked, $by, $reason) alone.  The commands are taken from the
# rendered man page; only the thumbprint, the record's value and the ldapi
# URI are filled in.
. "$(dirname "$0")/lib.sh"

page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$SRCDIR/slapo-certpin/slapo-certpin.5" 2>/dev/null | sed 's/^ *//')
search=$(printf '%s\n' "$page" | sed -n '/^ldapsearch -Q -LLL -o ldif-wrap=no -Y EXTERNAL -H ldapi:\/\/\/ \\$/,/^certpinRevoked$/p')
modify=$(printf '%s\n' "$page" | sed -n "/^ldapmodify .*-y \/root\/ldap.pw \\\\\$/,/^EOF\$/p")
check_out "the man page has the search" "certpinRevokedThumbprint=thumbprint" printf '%s\n' "$search"
check_out "and the Relax Rules delete" "^delete: certpinRevoked$" printf '%s\n' "$modify"

pki_standard
srv_conf 1
srv_start 1
srv_base 1
tp=$(der_sha256 "$PKI/kenmyer.der")
record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record"
root_modify >/dev/null <<LDIF || die "cannot revoke"
dn: uid=kenmyer,$PEOPLE
changetype: modify
delete: certpinCertificate;binary
LDIF
check_rc 19 "the revoked certificate cannot be added again" record_cert kenmyer "$PKI/kenmyer.der"
uri=$(srv_uri 1 ldapi)
# the page's commands, as a shell script, with this test's values
sh_search=$(printf '%s\n' "$search" | sed -e "s|ldapi:///|$uri|" -e "s|thumbprint|$tp|")
out=$(bash -c "$sh_search" 2>&1)
check_out "the page's search finds the record" "^certpinRevoked: sha256=$tp\\\$revoked=" printf '%s\n' "$out"
value=$(printf '%s\n' "$out" | sed -n 's/^certpinRevoked: //p' | head -n 1)
printf '%s' "$ROOTPW" > "$TESTDIR/ldap.pw"
printf '%s\n' "$modify" | sed -e "s|ldapi:///|$uri|" -e "s|/root/ldap.pw|$TESTDIR/ldap.pw|" -e "s|cn=admin,dc=example,dc=com|$ROOTDN|" -e "s|^dn: .*|dn: uid=kenmyer,$PEOPLE|" \
	-e "/^certpinRevoked: /d" -e "/^delete: certpinRevoked\$/a\\
certpinRevoked: $(printf '%s' "$value" | sed 's/[\\|&]/\\&/g')" > "$TESTDIR/recipe.sh"
check_out "the value with its \$ fields goes into the here-document" "\\\$revoked=.*\\\$by=" cat "$TESTDIR/recipe.sh"
check "the page's Relax Rules delete runs" bash "$TESTDIR/recipe.sh"
check_eq "the record is gone" "" "$(root_search -b "uid=kenmyer,$PEOPLE" -s base certpinRevoked | sed -n 's/^certpinRevoked: //p')"
check "the certificate can be recorded again" record_cert kenmyer "$PKI/kenmyer.der"
done_testing
