# tests/lib-attack.sh - the configuration the attack tests (test056-059) run
# against; sourced after lib.sh.
#
# design-v2: certpin on the frontend AND on every database ("overlay certpin"
# as the last line of the database section).  When srv_conf does not write the
# database instance yet, attack_conf adds it.  CERTPIN_ATTACK_DBOVERLAY=no
# leaves it out (to compare with the frontend-only configuration of old main).

ISSUE_OID="2.25.200588203507426345906909541611622616575.3.1"

# attack_db_overlay FILE: append "overlay certpin" to the last database
# section of FILE unless it already ends with one.
attack_db_overlay() {
	local f=$1
	[ "${CERTPIN_ATTACK_DBOVERLAY:-yes}" = no ] && return 0
	awk '/^database /{db=$2; last=""} /^overlay /{last=$2} END{exit !(db != "frontend" && db != "config" && last == "certpin")}' "$f" ||
		printf 'overlay certpin\n' >> "$f"
}

# attack_conf N [EXTRA_FRONTEND_LINES]: srv_conf plus syncprov on the user
# database (so that the sync control is advertised and persistent searches
# are a path), the CA for certpinIssue, and the database instance last.
attack_conf() {
	local n=$1 extra=${2:-} f="$TESTDIR/srv$1/slapd.conf"
	# a private copy of the module: a tree rebuilt while the test runs
	# (CERTPIN_BUILDDIR=another engineer's worktree) must not change the
	# code under a running slapd
	[ -f "$TESTDIR/certpin.so" ] || cp "$MODULE" "$TESTDIR/certpin.so"
	srv_conf "$n" "certpin-ca-cert $PKI/ca.crt
certpin-ca-key $PKI/ca.key
certpin-admin-group cn=certadmins,ou=groups,$SUFFIX
$extra"
	[ -f /usr/lib/ldap/syncprov.la ] || die "syncprov overlay module is missing (slapd package)"
	sed -i "s|^moduleload back_mdb|&\nmoduleload syncprov|" "$f"
	sed -i "s|^moduleload $MODULE\$|moduleload $TESTDIR/certpin.so|" "$f"
	# syncprov first, certpin configured last (so it runs first)
	if grep -q '^overlay certpin' <(awk '/^database mdb/{m=1} m' "$f"); then
		sed -i '/^database mdb/,$ { /^overlay certpin/d }' "$f"
	fi
	printf 'overlay syncprov\n' >> "$f"
	attack_db_overlay "$f"
}

# attack_second_db N SUFFIX2: a second user database (with its own certpin
# instance) for the several-databases paths.  Appended after the first.
attack_second_db() {
	local n=$1 s2=$2 d="$TESTDIR/srv$1"
	mkdir -p "$d/db2"
	cat >> "$d/slapd.conf" <<CONF

database mdb
suffix "$s2"
rootdn "cn=admin,$s2"
rootpw $ROOTPW
directory $d/db2
maxsize 104857600
index objectClass eq
index uid eq
index certpinThumbprint eq
index certpinRevokedThumbprint eq
access to * by dn.exact="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth" manage by * break
access to attrs=userPassword by anonymous auth by self write by * none
access to * by self write by users read by * none
CONF
	attack_db_overlay "$d/slapd.conf"
}

# attack_has_db_overlay N: the running configuration has a database instance
attack_has_db_overlay() {
	awk '/^database mdb/{m=1} m && /^overlay certpin/{f=1} END{exit !f}' "$TESTDIR/srv$1/slapd.conf"
}

# run_py SCRIPT ARGS...: run a Python part of a test; it prints TAP lines
# "ok - ..." / "not ok - ..." and a last line "# checks N failed M", which
# are renumbered into this script's count.
run_py() {
	local line n=
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) notok "${line#not ok - }" ;;
		"# checks "*) n=${line#\# checks }; n=${n%% *} ;;
		"# exit "*) [ "${line#\# exit }" = 0 ] || notok "$(basename "$1") exited ${line#\# exit }" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done < <("$PY" "$@" 2>&1; echo "# exit $?")
	[ -n "$n" ] || notok "$(basename "$1") ended before its summary"
}
