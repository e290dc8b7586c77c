#!/bin/bash
# test090-install: `make install` puts the module in slapd's module
# directory, the schema in slapd's schema directory, the tools in $bindir and
# the man pages in $mandir; the installed module loads into slapd by its
# short name from the module path, as an administrator would write it.
. "$(dirname "$0")/lib.sh"

[ -f "$BUILDDIR/Makefile" ] || die "no Makefile in $BUILDDIR"
root=$TESTDIR/root
check "make install DESTDIR=..." make -s -C "$BUILDDIR" install DESTDIR="$root"
moddir=$(sed -n 's/^moduledir = //p' "$BUILDDIR/Makefile")
schemadir=$(sed -n 's/^schemadir = //p' "$BUILDDIR/Makefile")
prefix=$(sed -n 's/^prefix = //p' "$BUILDDIR/Makefile")
check_eq "module directory is slapd's (configure default)" /usr/lib/ldap "$moddir"
check_eq "schema directory is slapd's (configure default)" /etc/ldap/schema "$schemadir"
check "certpin.la installed in the module directory" test -f "$root$moddir/certpin.la"
check "certpin.so installed in the module directory" test -f "$root$moddir/certpin.so"
for f in certpin.schema certpin.ldif certpin-sip.schema certpin-sip.ldif certpin-adnamed.schema certpin-adnamed.ldif; do
	check "$f installed in the schema directory" test -f "$root$schemadir/$f"
done
for t in certpin-get certpin-revoke certpin-issue certpin-test; do
	check "$t installed in bindir" test -x "$root$prefix/bin/$t"
	check "$t.1 installed in mandir" test -f "$root$prefix/share/man/man1/$t.1"
done
check "slapo-certpin.5 installed in mandir" test -f "$root$prefix/share/man/man5/slapo-certpin.5"
check "slapo-certpin.5 is well-formed for man" sh -c \
	"LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$root$prefix/share/man/man5/slapo-certpin.5' 2>&1 >/dev/null | (! grep .)"

# The installed module, loaded the way the man page says.
pki_standard
srv_conf 1
sed -i -e "s|^modulepath .*|modulepath /usr/lib/ldap:$root$moddir|" \
       -e "s|^moduleload $MODULE|moduleload certpin.la|" "$TESTDIR/srv1/slapd.conf"
check_out "slapd.conf names the module by its short name" "^moduleload certpin.la" cat "$TESTDIR/srv1/slapd.conf"
srv_start 1
srv_base 1
check "the installed module records a certificate" record_cert kenmyer "$PKI/kenmyer.der"
check_eq "with its thumbprint" "$(der_sha256 "$PKI/kenmyer.der")" \
	"$(root_search -b "uid=kenmyer,$PEOPLE" -s base certpinThumbprint | sed -n 's/^certpinThumbprint: //p')"
done_testing
