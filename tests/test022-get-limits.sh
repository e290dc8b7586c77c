#!/bin/bash
# test022-get-limits: certpin-get --all as an administrator other than the
# root DN stops at slapd's size limit although it pages, until the
# administrators' group gets the limits line certpin-get(1) documents
# (size.prtotal=unlimited); the root DN is not limited.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/lib-clienttools.sh"

pki_standard
client_server 1
record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "record kenmyer"
record_cert pilar "$PKI/pilar.der" >/dev/null || die "record pilar"
record_cert jdoe "$PKI/jdoe.der" >/dev/null || die "record jdoe"
want=$(for c in kenmyer pilar jdoe; do der_sha256 "$PKI/$c.der"; done | LC_ALL=C sort)

# all_as_admin: certpin-get --all as the certificate administrator
all_as_admin() { "$GET" -x -D "$CERTADMIN" -w pw-certadmin -H "$(srv_uri 1 ldapi)" --all --output=json; }
tps() { jq -r '.[].Thumbprint' | tr 'A-F' 'a-f' | LC_ALL=C sort; }

# a size limit of 2 stands in for the default 500
srv_stop 1
conf=$TESTDIR/srv1/slapd.conf
sed -i 's/^database mdb$/&\nsizelimit 2/' "$conf"
grep -q '^sizelimit 2$' "$conf" || die "cannot set the size limit"
srv_start 1
check_eq "the database's root DN lists all three certificates" "$want" \
	"$("$GET" -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" --all --output=json | tps)"
check_rc_out 4 "the administrator stops at the size limit" "Size limit exceeded" all_as_admin

srv_stop 1
sed -i "s|^sizelimit 2\$|&\nlimits group/groupOfNames/member=\"$ADMINS\"\n\tsize.prtotal=unlimited|" "$conf"
grep -q 'size.prtotal=unlimited' "$conf" || die "cannot add the limits line"
srv_start 1
check_eq "with the documented limits line the administrator lists all three" "$want" "$(all_as_admin | tps)"
check_rc 4 "a search without paging is still limited (sizeLimitExceeded)" \
	ldapsearch -x -D "$CERTADMIN" -w pw-certadmin -H "$(srv_uri 1 ldapi)" -b "$SUFFIX" '(certpinThumbprint=*)' dn
check "slapd is still running" srv_alive 1
done_testing
