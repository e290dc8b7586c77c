#!/bin/bash
# test093-version-check: a module built for another slapd never runs inside
# this one.  The module is built against one OpenLDAP release's private
# headers (struct layouts); after a slapd upgrade that keeps libldap's
# soname (2.6.10 -> 2.6.x), the loader would accept a stale module.
# init_module refuses it, naming both versions, and slapd does not start.
# Attacks: "slapd keeps running" (a module with another ABI corrupting it)
# and every promise with it.
. "$(dirname "$0")/lib.sh"

mk() { sed -n "s/^$1 = //p" "$BUILDDIR/Makefile"; }
slapd_version_read
running=$SLAPD_VERSION
built=$(sed -n 's/^#define OPENLDAP_VERSION "\(.*\)"/\1/p' "$(mk OPENLDAP_SRC)/include/portable.h")
check_eq "the module is built for the running slapd's release" "$running" "$built"

# variant VERSION: the real module's objects, with version.c compiled as if
# the headers had been VERSION's.
variant() {
	local v=$1 so=$TESTDIR/certpin-$1.so o
	# shellcheck disable=SC2046
	$(mk CC) $(mk CFLAGS) $(mk SAN_CFLAGS) -fPIC -DHAVE_CONFIG_H -I"$BUILDDIR" -I"$SRCDIR/lib" \
		-I"$SRCDIR/slapo-certpin" $(mk OPENLDAP_CPPFLAGS) -DCERTPIN_BUILT_FOR="\"$v\"" \
		-c "$SRCDIR/slapo-certpin/version.c" -o "$TESTDIR/version-$v.o" || return 1
	o=$(ls "$BUILDDIR"/slapo-certpin/.libs/certpin_la-*.o | grep -v certpin_la-version.o)
	# shellcheck disable=SC2046,SC2086
	$(mk CC) -shared $(mk SAN_CFLAGS) -o "$so" $o "$TESTDIR/version-$v.o" \
		"$BUILDDIR/lib/.libs/libcertpin.a" $(mk LDAP_LIBS) $(mk OPENSSL_LIBS) || return 1
	echo "$so"
}

pki_standard
srv_conf 1
conf=$TESTDIR/srv1/slapd.conf
check "the real module loads (slaptest)" "$SLAPTEST" -u -f "$conf"

maj=${running%%.*}; rest=${running#*.}; min=${rest%%.*}; pat=${rest#*.}
for v in "$maj.$min.$((pat + 1))" "$maj.$((min + 1)).0" 2.4.59; do
	so=$(variant "$v") || { notok "build a module variant for $v"; continue; }
	sed "s|^moduleload $MODULE\$|moduleload $so|" "$conf" > "$TESTDIR/srv1/v.conf"
	grep -q "^moduleload $so\$" "$TESTDIR/srv1/v.conf" || die "cannot point slapd.conf at $so"
	out=$("$SLAPD" -Tt -f "$TESTDIR/srv1/v.conf" -d stats 2>&1) && rc=0 || rc=$?
	check_rc 1 "a module built for $v is refused by slapd $running" sh -c "exit $rc"
	check_out "the message names both versions ($v, $running)" \
		"certpin: module built for OpenLDAP slapd $v refuses to load into slapd $running" \
		printf '%s\n' "$out"
	out=$($CERTPIN_SLAPD_WRAPPER "$SLAPD" -f "$TESTDIR/srv1/v.conf" -h "$(srv_uri 1 ldapi)" -d stats 2>&1 &
		pid=$!; sleep 2; kill "$pid" 2>/dev/null && echo STILL-RUNNING; wait "$pid" 2>/dev/null)
	check_out "slapd with it does not start" "refuses to load" printf '%s\n' "$out"
	check_rc 1 "and is not running" sh -c "printf '%s\n' \"\$1\" | grep -q STILL-RUNNING" sh "$out"
done

# The real module still serves after all that.
srv_start 1
srv_base 1
check "the real module records a certificate" record_cert kenmyer "$PKI/kenmyer.der"
done_testing
