#!/bin/bash
# test068-promise-pin-secrecy: attacks the promise "PINs never leave the
# server" (issue 12 items 5 and 11).  A PIN hash (certpinPIN) must never be
# read, matched or compared by anyone, the root DN included, by any path:
# search with '*', '+' and by name, attributes only, search filters,
# assertion controls on searches, modifies and compares (the filter oracle),
# compare, pre-read and post-read controls (root and self), matched values,
# sync refresh and persistent sync searches (syncprov on the database) while
# an administrator sets a PIN, dynlist entries, and accesslog's reqMod and
# reqOld; only the replication identity's sync searches carry the hashes
# (default the root DN; certpin-replicator names another).  Error messages
# and the log never carry a PIN.
#
# Two servers: srv1 with the suite's ACLs (by self write by users read) and
# the default replicator, srv2 with Debian's default-style "access to * by *
# read" and certpin-replicator set to cn=repl.  Each has syncprov, dynlist
# and accesslog (logging old values) on the user database, an accesslog
# database with syncprov, and certpin on the frontend and on both databases.
. "$(dirname "$0")/lib.sh"

for m in syncprov accesslog dynlist; do
	[ -f /usr/lib/ldap/$m.la ] || die "overlay module $m is missing (slapd package)"
done
command -v ldapcompare >/dev/null || die "ldapcompare is missing (ldap-utils)"

REPL="cn=repl,$SUFFIX"
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"

# conf_pin N standard|debian [FRONTEND_LINES]
conf_pin() {
	local n=$1 acl=$2 d="$TESTDIR/srv$1" logacl
	srv_conf "$n" "${3:-}"
	sed -i "s|^moduleload back_mdb|&\nmoduleload syncprov\nmoduleload accesslog\nmoduleload dynlist|" "$d/slapd.conf"
	if [ "$acl" = debian ]; then
		sed -i 's|^access to \* by self write by users read by \* none$|access to * by * read|' "$d/slapd.conf"
		grep -q '^access to \* by \* read$' "$d/slapd.conf" || die "cannot set Debian-style ACL"
		logacl="access to * by * read"
	else
		logacl="access to * by users read by * none"
	fi
	# srv_conf may end with the database instance of certpin: it must stay
	# the last overlay, so it is put back after the others below
	[ "$(tail -n 1 "$d/slapd.conf")" = "overlay certpin" ] && sed -i '$d' "$d/slapd.conf"
	mkdir -p "$d/accesslog"
	cat >> "$d/slapd.conf" <<CONF
index entryCSN,entryUUID eq
overlay dynlist
dynlist-attrset labeledURIObject labeledURI
overlay syncprov
overlay accesslog
logdb cn=accesslog
logops writes
logsuccess TRUE
logold (objectClass=*)
logoldattr certpinPIN description
overlay certpin

database mdb
suffix cn=accesslog
rootdn cn=accesslog
directory $d/accesslog
maxsize 104857600
index entryCSN,objectClass,reqStart eq
$logacl
overlay syncprov
overlay certpin
CONF
}

pki_standard
conf_pin 1 standard "certpin-pin-history 2"
conf_pin 2 debian "certpin-replicator \"$REPL\""
for s in 1 2; do
	srv_start "$s"
	srv_base "$s"
	SRV=$s root_add >/dev/null <<LDIF || die "cannot add the helper entries on srv$s"
dn: $REPL
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: repl
userPassword: pw-repl

dn: cn=kenview,$SUFFIX
objectClass: applicationProcess
objectClass: labeledURIObject
cn: kenview
labeledURI: ldap:///$KEN?uid,mail,certpinPIN?base?(objectClass=*)
LDIF
done

# Every PIN hash ever stored in this test: no output may contain one.
HASHES=$TESTDIR/hashes
: > "$HASHES"
stored_hash() {	# N: ken's stored hash on srvN, from the database files
	/usr/sbin/slapcat -f "$TESTDIR/srv$1/slapd.conf" -b "$SUFFIX" -a "(uid=kenmyer)" 2>/dev/null |
		sed -n 's/^certpinPIN: //p'
}
# set_pin N PIN MARKER [CONTROL]: the root DN sets ken's PIN and description
set_pin() {
	local h rc
	SRV=$1 root_modify ${4:+-e "$4"} <<LDIF && rc=0 || rc=$?
dn: $KEN
changetype: modify
replace: certpinPIN
certpinPIN: $2
-
replace: description
description: $3
LDIF
	h=$(stored_hash "$1")
	[ -n "$h" ] && printf '%s\n' "${h#\{SSHA\}}" >> "$HASHES"
	return $rc
}

# leaked TEXT: TEXT shows a certpinPIN value or a stored hash
leaked() {
	printf '%s\n' "$1" | grep -Eiq '(^|[[:space:]:])certpinPIN(;[^:]*)?::? ' && return 0
	[ -s "$HASHES" ] && printf '%s\n' "$1" | grep -qFf "$HASHES" && return 0
	return 1
}

# nopin DESC RC MARKER CMD...: CMD exits RC, its output matches MARKER (the
# path was taken), and it shows no PIN hash.
nopin() {
	local desc=$1 want=$2 marker=$3 out rc
	shift 3
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -ne "$want" ]; then
		notok "$desc (exit $rc, wanted $want)"
	elif ! printf '%s\n' "$out" | grep -Eq -- "$marker"; then
		notok "$desc (no /$marker/ in the answer: the path was not taken)"
	elif leaked "$out"; then
		notok "$desc (a PIN hash left the server)"
	else
		ok "$desc"
		return 0
	fi
	printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20
	return 1
}

# noentry DESC CMD...: CMD exits 0 and returns no entry.
noentry() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q '^dn:'; then ok "$desc"; else
		notok "$desc (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20
	fi
}

# yespin DESC CMD...: CMD exits 0 and its output shows a stored PIN hash (the
# replication identity's sync search).
yespin() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ] && leaked "$out"; then ok "$desc"; else
		notok "$desc (exit $rc, no hash)"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20
	fi
}

for s in 1 2; do
	LDAP=$(srv_uri $s ldap)
	LDAPI=$(srv_uri $s ldapi)
	if [ $s = 1 ]; then acl="suite ACLs"; else acl="Debian-style 'by * read'"; fi
	as_root() { ldapsearch -LLL -o ldif-wrap=no -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" "$@"; }
	as_ken() { ldapsearch -LLL -o ldif-wrap=no -x -D "$KEN" -w pw-kenmyer -H "$LDAP" "$@"; }
	as_pilar() { ldapsearch -LLL -o ldif-wrap=no -x -D "$PILAR" -w pw-pilar -H "$LDAP" "$@"; }
	as_anon() { ldapsearch -LLL -o ldif-wrap=no -x -H "$LDAP" "$@"; }
	as_repl() { ldapsearch -LLL -o ldif-wrap=no -x -D "$REPL" -w pw-repl -H "$LDAP" "$@"; }
	echo "# ---- srv$s: $acl"

	# ---- setting the PIN: the write itself ------------------------------------
	check "srv$s: the root DN sets ken's PIN" set_pin $s 135790 first
	check_out "srv$s: it is stored as a hash (the checks below are meaningful)" '^\{SSHA\}' stored_hash $s
	nopin "srv$s: post-read of the PIN-setting modify (root) shows no hash" 0 '^description: second' \
		set_pin $s 246801 second "postread=*,certpinPIN,description"
	nopin "srv$s: pre-read of the PIN-setting modify (root) shows no hash" 0 '^description: second' \
		set_pin $s 357912 third "preread=*,certpinPIN,description"

	# ---- plain searches, every identity --------------------------------------
	for who in root ken pilar anon; do
		[ $s = 1 ] && [ $who = anon ] && continue	# the suite's ACLs give anonymous nothing
		m='^uid: kenmyer$'
		nopin "srv$s: $who searches ken with '*' '+' certpinPIN: no hash" 0 "$m" \
			as_$who -b "$KEN" -s base '*' '+' certpinPIN
	done
	nopin "srv$s: root, attributes only: not even the name" 0 '^uid:' as_root -A -b "$KEN" -s base '*' certpinPIN

	# ---- filters, assertions, compare ------------------------------------------
	for f in '(certpinPIN=*)' '(certpinPIN={SSHA}*)' "(certpinPIN={SSHA}$(tail -n 1 "$HASHES"))" \
		 '(|(uid=nobody)(!(certpinPIN=123456)))'; do
		out=$(as_root -b "$PEOPLE" "$f" dn 2>&1) && rc=0 || rc=$?
		if [ "$rc" -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^dn:'; then
			ok "srv$s: root's search filter $f finds nothing (refused, $rc)"
		else
			notok "srv$s: root's search filter $f matched (exit $rc)"
			printf '%s\n' "$out" | sed 's/^/#   /' | head -n 5
		fi
	done
	for who in root pilar; do
		check_rc 122 "srv$s: $who's assertion control (certpinPIN=*) on a search fails" \
			as_$who -e 'assert=(certpinPIN=*)' -b "$KEN" -s base dn
		check_rc 122 "srv$s: $who's assertion with the exact stored hash fails (no oracle)" \
			as_$who -e "assert=(certpinPIN={SSHA}$(tail -n 1 "$HASHES"))" -b "$KEN" -s base dn
	done
	check_rc 122 "srv$s: root's assertion (certpinPIN=*) on a modify fails" \
		ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" -e 'assert=(certpinPIN=*)' <<LDIF
dn: $KEN
changetype: modify
replace: description
description: third
LDIF
	check_rc 122 "srv$s: root's assertion (certpinPIN=*) on a compare of uid fails" \
		ldapcompare -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" -e 'assert=(certpinPIN=*)' "$KEN" uid:kenmyer
	for who in root pilar; do
		if [ $who = root ]; then b=(-D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI"); else b=(-D "$PILAR" -w pw-pilar -H "$LDAP"); fi
		out=$(ldapcompare -x "${b[@]}" "$KEN" "certpinPIN:357912" 2>&1) && rc=0 || rc=$?
		if [ "$rc" -ne 5 ] && [ "$rc" -ne 6 ] && [ "$rc" -ne 0 ]; then
			ok "srv$s: $who's compare of certpinPIN answers neither true nor false ($rc)"
		else
			notok "srv$s: $who's compare of certpinPIN answered (exit $rc)"
		fi
	done

	# ---- read entry controls on a no-op-like modify (root and self) ---------------
	nopin "srv$s: root's pre-read and post-read of ken: no hash" 0 '^description: third' \
		ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" -e 'preread=*,certpinPIN' -e 'postread=*,certpinPIN' <<LDIF
dn: $KEN
changetype: modify
replace: description
description: third
LDIF
	nopin "srv$s: ken's pre-read and post-read of himself: no hash" 0 '^uid: kenmyer' \
		ldapmodify -x -D "$KEN" -w pw-kenmyer -H "$LDAP" -e 'preread=uid,certpinPIN' -e 'postread=*,certpinPIN' <<LDIF
dn: $KEN
changetype: modify
replace: userPassword
userPassword: pw-kenmyer
LDIF

	# ---- matched values, dynlist ----------------------------------------------
	nopin "srv$s: root with matched values (certpinPIN=*): no hash" 0 '^dn: uid=kenmyer' \
		as_root -E 'mv=(certpinPIN=*)' -b "$KEN" -s base '*' certpinPIN
	for who in root pilar; do
		nopin "srv$s: $who reads a dynlist entry that pulls ken's certpinPIN: no hash" 0 '^mail: kenmyer@' \
			as_$who -b "cn=kenview,$SUFFIX" -s base '*' certpinPIN
	done

	# ---- sync searches: refresh ----------------------------------------------------
	for who in ken pilar anon; do
		[ $s = 1 ] && [ $who = anon ] && continue
		m='^dn: uid=kenmyer'
		nopin "srv$s: $who's sync refresh (-E sync=ro): no hash" 0 "$m" \
			as_$who -E '!sync=ro' -b "$KEN" -s base '*' certpinPIN
	done
	if [ $s = 1 ]; then
		yespin "srv1: the root DN's sync refresh (default replicator) carries the hash" \
			as_root -E '!sync=ro' -b "$KEN" -s base '*' certpinPIN
		nopin "srv1: but the root DN's plain search does not" 0 '^uid: kenmyer' \
			as_root -b "$KEN" -s base '*' certpinPIN
	else
		nopin "srv2: the root DN's sync refresh, another replicator configured: no hash" 0 '^dn: uid=kenmyer' \
			as_root -E '!sync=ro' -b "$KEN" -s base '*' certpinPIN
		yespin "srv2: the configured replicator's sync refresh carries the hash" \
			as_repl -E '!sync=ro' -b "$KEN" -s base '*' certpinPIN
		nopin "srv2: the replicator's plain search does not" 0 '^uid: kenmyer' \
			as_repl -b "$KEN" -s base '*' certpinPIN
	fi

	# ---- persistent sync searches while the administrator sets a PIN --------------------
	pids=
	whos="ken pilar root"
	[ $s = 2 ] && whos="ken pilar anon root repl"
	for who in $whos; do
		as_$who -E '!sync=rp' -b "$PEOPLE" '(uid=kenmyer)' '*' certpinPIN \
			> "$TESTDIR/ps$s.$who" 2>&1 &
		pids="$pids $!"
	done
	sleep 1.5
	check "srv$s: the root DN sets a new PIN while they listen" set_pin $s 468024 "live-$s"
	for i in $(seq 1 50); do
		n=0
		for who in $whos; do grep -q "^description: live-$s" "$TESTDIR/ps$s.$who" && n=$((n + 1)); done
		[ $n -eq $(echo $whos | wc -w) ] && break
		sleep 0.1
	done
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for who in $whos; do
		if [ "$who" = root ] && [ $s = 1 ] || [ "$who" = repl ]; then
			yespin "srv$s: $who's persistent sync search (the replicator) receives the new hash" \
				cat "$TESTDIR/ps$s.$who"
			continue
		fi
		nopin "srv$s: $who's persistent sync search receives the change but no hash" 0 "^description: live-$s" \
			cat "$TESTDIR/ps$s.$who"
	done

	# ---- accesslog ---------------------------------------------------------------
	log=$(/usr/sbin/slapcat -f "$TESTDIR/srv$s/slapd.conf" -b cn=accesslog 2>/dev/null)
	check_out "srv$s: the accesslog database records PINs in reqMod (the checks below are meaningful)" \
		'^reqMod: certpinPIN:= \{SSHA\}' printf '%s\n' "$log"
	check_out "srv$s: and the old PIN in reqOld" '^reqOld: certpinPIN: \{SSHA\}' printf '%s\n' "$log"
	for who in root pilar anon; do
		[ $s = 1 ] && [ $who = anon ] && continue
		nopin "srv$s: $who reads cn=accesslog: no PIN values, the other changes stay readable" 0 \
			'^reqMod: description:= third' as_$who -b cn=accesslog '(reqType=modify)' reqMod reqOld reqDN
		noentry "srv$s: $who's filter (reqMod=certpinPIN:*) on the log finds nothing" \
			as_$who -b cn=accesslog '(reqMod=certpinPIN:*)' reqDN
		noentry "srv$s: nor (reqOld=certpinPIN: *)" \
			as_$who -b cn=accesslog '(reqOld=certpinPIN: *)' reqDN
	done
	if [ $s = 1 ]; then
		yespin "srv1: the root DN's sync search of the log (delta-syncrepl) carries the PIN values" \
			as_root -E '!sync=ro' -b cn=accesslog '(reqType=modify)' reqMod
	else
		nopin "srv2: the root DN's sync search of the log, another replicator configured: none" 0 \
			'^reqMod: description:= third' as_root -E '!sync=ro' -b cn=accesslog '(reqType=modify)' reqMod
		yespin "srv2: the configured replicator's sync search of the log carries them" \
			as_repl -E '!sync=ro' -b cn=accesslog '(reqType=modify)' reqMod
	fi

	# ---- error messages and the log ------------------------------------------------
	for bad in 98765 98a7654 "98765 4321"; do
		out=$(SRV=$s set_pin $s "$bad" bad 2>&1) && rc=0 || rc=$?
		if [ "$rc" -ne 0 ] && ! printf '%s\n' "$out" | grep -qF -- "$bad"; then
			ok "srv$s: a refused PIN ('$bad') is not echoed in the error ($rc)"
		else
			notok "srv$s: a refused PIN ('$bad'): exit $rc, message: $out"
		fi
	done
	check_eq "srv$s: no clear PIN in slapd's log" 0 \
		"$(grep -c -e 135790 -e 246801 -e 357912 -e 468024 -e 98765 "$TESTDIR/srv$s/slapd.log")"
	check "srv$s: slapd is alive" srv_alive $s
done

# ---- certpin-replicator over cn=config ----------------------------------------------
FE="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
check_out "cn=config shows olcCertpinReplicator" "^olcCertpinReplicator: $REPL\$" \
	ldapsearch -LLL -Q -Y EXTERNAL -H "$(srv_uri 2 ldapi)" -b "$FE" -s base olcCertpinReplicator
SRV=2
check "it is replaced by the root DN over cn=config" cfg_set "$FE" olcCertpinReplicator "$ROOTDN"
LDAP=$(srv_uri 2 ldap)
yespin "srv2: now the root DN's sync refresh carries the hash" \
	ldapsearch -LLL -o ldif-wrap=no -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAP" -E '!sync=ro' -b "$KEN" -s base certpinPIN
nopin "srv2: and the former replicator's does not" 0 '^dn: uid=kenmyer' \
	ldapsearch -LLL -o ldif-wrap=no -x -D "$REPL" -w pw-repl -H "$LDAP" -E '!sync=ro' -b "$KEN" -s base certpinPIN
check "deleting it restores the default" ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 2 ldapi)" <<LDIF
dn: $FE
changetype: modify
delete: olcCertpinReplicator
LDIF
yespin "srv2: the root DN (the default) still receives it" \
	ldapsearch -LLL -o ldif-wrap=no -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAP" -E '!sync=ro' -b "$KEN" -s base certpinPIN

done_testing
