#!/bin/bash
# test097-runtime-deps: the run-time path installs only what the module and
# the tools need.  In a clean Debian 12 and a clean Debian 13 root,
# `scripts/install-deps --runtime` installs no compiler, no header package,
# no analysis tool and fetches no source; the packages built for that
# release then install with plain `dpkg -i` (their Depends are satisfied by
# it alone), the module loads into that slapd and the tools run.
# certpin-host-only: drives Debian roots (scripts/root) itself.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || die "needs root (chroot)"

check_eq "--print-runtime lists no build or test tool" "" \
	"$("$SRCDIR/scripts/install-deps" --print-runtime | tr ' ' '\n' | grep -E -- '-dev$|^(gcc|clang|make|valgrind|cppcheck|clang-tidy|autoconf|automake|libtool|dpkg-dev|debhelper|gnuplot)' )"
check_out "--print lists the build path (a superset)" "gcc .*valgrind" "$SRCDIR/scripts/install-deps" --print

R=/var/cache/certpin/work/$TESTNAME.$$
trap 'rm -rf "$R"; cleanup' EXIT
bad='^(gcc|gcc-[0-9]+|cpp|make|clang|clang-[0-9]+|binutils|autoconf|automake|libtool|valgrind|cppcheck|dpkg-dev|debhelper|lib[a-z0-9.+-]*-dev)$'
for suite in bookworm trixie; do
	debs=$("$SRCDIR/scripts/package" "$suite" 2>"$TESTDIR/package.err") ||
		die "scripts/package $suite failed: $(tail -n 20 "$TESTDIR/package.err")"
	"$SRCDIR/scripts/root" copy "$suite" "$R" || die "cannot copy the clean $suite root"
	mkdir -p "$R/root/debs"
	cp "$SRCDIR/scripts/install-deps" "$R/root/install-deps"
	cp "$debs"/slapd-certpin_*.deb "$debs"/certpin-tools_*.deb "$R/root/debs/"
	run() { "$SRCDIR/scripts/root" run "$R" "$@"; }
	check "$suite: scripts/install-deps --runtime" run env DEBIAN_FRONTEND=noninteractive /root/install-deps --runtime
	check_eq "$suite: it installed no build or test tool" "" \
		"$(run dpkg-query -W -f='${Package} ${Status}\n' | awk '$4 == "installed" { print $1 }' | grep -E "$bad")"
	check_eq "$suite: and fetched no OpenLDAP source" "" "$(ls -d "$R"/usr/local/src/certpin 2>/dev/null)"
	check "$suite: the packages install with dpkg -i on it alone" run sh -c 'dpkg -i /root/debs/*.deb'
	check_eq "$suite: the tools find every library" "" "$(run sh -c 'ldd /usr/bin/certpin-* /usr/lib/ldap/certpin.so' | grep 'not found')"
	check_out "$suite: certpin-get runs" "usage|Usage" run certpin-get --help
	printf 'include /etc/ldap/schema/core.schema\nmodulepath /usr/lib/ldap\nmoduleload certpin.la\ndatabase frontend\noverlay certpin\n' \
		> "$R/root/t.conf"
	check "$suite: the packaged module loads into that slapd (slaptest)" run slaptest -u -f /root/t.conf
	rm -rf "$R"
done
done_testing
