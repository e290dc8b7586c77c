#!/bin/bash
# test091-configure: configure finds the OpenLDAP source tree, and refuses
# clearly when it is missing, unconfigured, or of another version than the
# installed slapd (the module would not be ABI-compatible).
. "$(dirname "$0")/lib.sh"

[ -x "$SRCDIR/configure" ] || die "no configure in $SRCDIR (run autoreconf -fi)"
src=$(sed -n 's/^OPENLDAP_SRC = //p' "$BUILDDIR/Makefile")
[ -f "$src/include/portable.h" ] || die "the build's OpenLDAP tree $src is gone"
# configure refuses a second, VPATH configuration of a configured source
# tree: run a copy of the generated files in a fresh directory.
mkdir -p "$TESTDIR/b/slapo-certpin"
cp -r "$SRCDIR/configure" "$SRCDIR/Makefile.in" "$SRCDIR/config.h.in" "$SRCDIR/build-aux" "$TESTDIR/b/"
cp "$SRCDIR/slapo-certpin/certpin.c" "$TESTDIR/b/slapo-certpin/"
cfg() { (cd "$TESTDIR/b" && ./configure -q "$@"); }

check_rc_out 1 "a missing tree is refused and named" "/nonexistent/include/portable.h is missing" \
	cfg --with-openldap-source=/nonexistent
mkdir -p "$TESTDIR/unconf/include" "$TESTDIR/unconf/servers/slapd"
cp "$src/servers/slapd/slap.h" "$TESTDIR/unconf/servers/slapd/"
check_rc_out 1 "an unconfigured tree is refused, saying how to configure it" \
	"the tree must be" cfg --with-openldap-source="$TESTDIR/unconf"
cp -r "$src/include" "$TESTDIR/unconf/"
sed -i 's/^#define OPENLDAP_VERSION ".*"/#define OPENLDAP_VERSION "2.6.99"/' "$TESTDIR/unconf/include/portable.h"
check_rc_out 1 "a tree of another version than /usr/sbin/slapd is refused" \
	"OpenLDAP source 2.6.99 does not match /usr/sbin/slapd [0-9]+\.[0-9]+\.[0-9]+" \
	cfg --with-openldap-source="$TESTDIR/unconf"
check_rc_out 1 "--without-openldap-source explains where the headers come from" \
	"only the OpenLDAP source package ships" cfg --without-openldap-source
check "the real tree is accepted" cfg --with-openldap-source="$src"
check_eq "and recorded for the build" "$src" "$(sed -n 's/^OPENLDAP_SRC = //p' "$TESTDIR/b/Makefile")"
done_testing
