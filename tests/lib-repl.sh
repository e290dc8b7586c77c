# tests/lib-repl.sh - multi-provider replication for certpin's tests; sourced
# after tests/lib.sh, not run.
#
# repl_setup [N] configures N (default 3) slapd providers on 127.0.0.1, each
# with its own ports, ldapi socket and MDB directory (lib.sh's srv_conf), its
# own serverID, a syncrepl consumer for every peer, "multiprovider on" after
# them, the syncprov overlay on the database, and certpin on its frontend
# and, as the last overlay, on every database (cn=accesslog too).
# Replication binds as the root DN.  REPL_MODE=delta (the default) is
# delta-syncrepl: each provider also logs its writes with the accesslog
# overlay to cn=accesslog, and consumers replay them modification by
# modification, resolving concurrent ones value by value.  REPL_MODE=plain is
# plain syncrepl: consumers copy whole entries, the newest entryCSN wins.
# Either way a consumer writes what the provider that served the client
# stored, straight into its database, bypassing the frontend overlays.

REPL_N=0
REPL_MODE=${REPL_MODE:-delta}

# repl_setup [N [CONF_FN [BASE_FN]]]: configure and start N providers; load
# the base entries on provider 1 and wait until every provider holds them.
# CONF_FN (default srv_conf) is called as "CONF_FN I 'serverID I'" to write
# provider I's slapd.conf (e.g. lib-provision.sh's prov_conf), BASE_FN
# (default srv_base) as "BASE_FN 1".
repl_setup() {
	local n=${1:-3} conf_fn=${2:-srv_conf} base_fn=${3:-srv_base} i j conf
	REPL_N=$n
	command -v ldapadd >/dev/null || die "ldapadd is missing"
	[ -f /usr/lib/ldap/syncprov.la ] || die "syncprov overlay module is missing (slapd package)"
	for i in $(seq 1 "$n"); do
		"$conf_fn" "$i" "serverID $i"
	done
	for i in $(seq 1 "$n"); do
		conf=$TESTDIR/srv$i/slapd.conf
		# lib.sh's srv_conf ends with the mdb database's section: the
		# lines appended here belong to it.
		[ "$(grep '^database ' "$conf" | tail -n 1)" = "database mdb" ] ||
			die "srv_conf no longer ends with the mdb database"
		# ... and with its certpin instance, which must stay the last
		# overlay: taken off here, put back after syncprov/accesslog.
		[ "$(tail -n 1 "$conf")" = "overlay certpin" ] ||
			die "srv_conf no longer ends with the database instance of certpin"
		sed -i '$d' "$conf"
		{
			echo "moduleload syncprov"
			[ "$REPL_MODE" = delta ] && echo "moduleload accesslog"
			echo "index entryCSN,entryUUID eq"
			for j in $(seq 1 "$n"); do
				[ "$j" -eq "$i" ] && continue
				printf 'syncrepl rid=%03d provider=%s bindmethod=simple\n' "$j" "$(srv_uri "$j" ldap)"
				printf '  binddn="%s" credentials=%s searchbase="%s"\n' "$ROOTDN" "$ROOTPW" "$SUFFIX"
				printf '  type=refreshAndPersist retry="1 +" timeout=3 network-timeout=3\n'
				if [ "$REPL_MODE" = delta ]; then
					printf '  syncdata=accesslog logbase="cn=accesslog"\n'
					printf '  logfilter="(&(objectClass=auditWriteObject)(reqResult=0))"\n'
				fi
			done
			echo "multiprovider on"
			echo "overlay syncprov"
			echo "syncprov-checkpoint 10 1"
			if [ "$REPL_MODE" = delta ]; then
				mkdir -p "$TESTDIR/srv$i/accesslog"
				cat <<LOG
overlay accesslog
logdb cn=accesslog
logops writes
logsuccess TRUE
logpurge 24:00 01+00:00
overlay certpin

database mdb
suffix cn=accesslog
rootdn cn=accesslog
directory $TESTDIR/srv$i/accesslog
maxsize 104857600
index entryCSN,objectClass,reqEnd,reqResult,reqStart,reqDN eq
index certpinThumbprint,certpinRevokedThumbprint eq
access to * by dn.exact="$ROOTDN" read by * none
overlay syncprov
syncprov-nopresent TRUE
syncprov-reloadhint TRUE
overlay certpin
LOG
			else
				echo "overlay certpin"
			fi
		} >> "$conf"
	done
	for i in $(seq 1 "$n"); do
		srv_start "$i"
	done
	"$base_fn" 1
	repl_wait_same "uid=jdoe,$PEOPLE" 20 || die "base entries did not replicate"
}

# repl_all: the provider numbers
repl_all() { seq 1 "$REPL_N"; }

# repl_snapshot N DN: lib.sh's snapshot of DN on provider N, one value a line
# (unwrapped), sorted.  Sorted because the order of attributes inside an
# entry is not the same everywhere: a consumer applies a changed objectClass
# as a replace, which moves it to the end of the entry it stores.  Every
# value is compared byte for byte.
# With REPL_UNSTAMPED set (repl_wait_same_unstamped), entryCSN and
# modifyTimestamp are left out.
repl_snapshot() {
	if [ -n "${REPL_UNSTAMPED:-}" ]; then
		SRV=$1 snapshot "$2" | grep -v '^entryCSN: \|^modifyTimestamp: ' | LC_ALL=C sort
	else
		SRV=$1 snapshot "$2" | LC_ALL=C sort
	fi
}

# repl_logs_resolution: this slapd's accesslog records what syncrepl's
# conflict resolution made of an older modification, not the modification
# (slapd 2.6).  syncrepl_op_modify resolves a modification older than the
# entry into a new list without the older modification's entryCSN,
# modifiersName and modifyTimestamp (mods_dup) and gives the original back
# from a response callback.  slapd 2.5 put that callback at the head of
# the chain, ahead of accesslog's; slapd 2.6 puts it after backover's
# (overlay_callback_after_backover), behind the one accesslog put at the
# head, so accesslog records the resolved list.  A provider replaying such
# a record finds no entryCSN in it, applies it without resolution ("FIXME:
# what should we do if entryCSN is missing from the mod?") and stamps the
# entry with the record's own, older, CSN: after a conflict the providers
# agree on every value but entryCSN and modifyTimestamp.  (The values
# still converge; a certificate the record would add back is refused at
# bind by the revocation record the entry keeps: test041, test058.)
repl_logs_resolution() {
	[ -n "${SLAPD_VERSION:-}" ] || slapd_version_read
	case $SLAPD_VERSION in
	[01].* | 2.[0-5].*) return 1 ;;
	esac
}

# repl_same DN: the entry holds the same values, byte for byte (user and
# operational attributes, entryCSN included) on every running provider, and
# exists.
repl_same() {
	local dn=$1 first i s
	first=$(repl_snapshot 1 "$dn")
	printf '%s\n' "$first" | grep -q '^dn: ' || return 1
	for i in $(repl_all); do
		srv_alive "$i" || continue
		s=$(repl_snapshot "$i" "$dn")
		[ "$s" = "$first" ] || return 1
	done
}

# repl_wait_same_unstamped DN SECONDS: repl_wait_same but for entryCSN and
# modifyTimestamp
repl_wait_same_unstamped() {
	local REPL_UNSTAMPED=1
	repl_wait_same "$@"
}

# repl_stamp_known N DN: the entryCSN of DN on provider N is the CSN of a
# successful write of DN that some running provider's accesslog records.
repl_stamp_known() {
	local n=$1 dn=$2 csn i
	csn=$(repl_attr "$n" "$dn" entryCSN)
	[ -n "$csn" ] || { echo "no entryCSN"; return 1; }
	for i in $(repl_all); do
		srv_alive "$i" || continue
		SRV=$i root_search -b cn=accesslog "(&(reqResult=0)(reqDN=$dn))" entryCSN |
			grep -Fqx "entryCSN: $csn" && return 0
	done
	echo "entryCSN $csn is no write's"
	return 1
}

# repl_wait_same DN SECONDS: wait up to SECONDS for repl_same DN; at the
# bound, print how each running provider's entry differs from provider 1's
repl_wait_same() {
	local dn=$1 max=$2 i
	for i in $(seq 1 $((max * 10))); do
		repl_same "$dn" && return 0
		sleep 0.1
	done
	repl_snapshot 1 "$dn" >"$TESTDIR/repl-same.1"
	for i in $(repl_all); do
		[ "$i" = 1 ] && continue
		srv_alive "$i" || { echo "provider $i is down"; continue; }
		repl_snapshot "$i" "$dn" >"$TESTDIR/repl-same.$i"
		echo "provider 1 (<) vs provider $i (>):"
		diff "$TESTDIR/repl-same.1" "$TESTDIR/repl-same.$i"
	done
	return 1
}

# repl_wait SECONDS CMD...: wait up to SECONDS until CMD succeeds
repl_wait() {
	local max=$1 i
	shift
	for i in $(seq 1 $((max * 20))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# repl_attr N DN ATTR: the values of ATTR of DN on provider N, sorted
repl_attr() {
	SRV=$1 root_search -b "$2" -s base "$3" | sed -n "s/^$3:: *//p; s/^$3: *//p" | sort
}

# repl_context_csn N: the suffix's contextCSN values on provider N, sorted
repl_context_csn() { repl_attr "$1" "$SUFFIX" contextCSN; }

# repl_settled SECONDS: wait until every running provider shows the same
# contextCSN set, and that it then stays put for a second (nothing loops).
repl_settled() {
	local max=$1 i c1 c ok
	for i in $(seq 1 $((max * 4))); do
		ok=1
		c1=$(repl_context_csn 1)
		for j in $(repl_all); do
			srv_alive "$j" || continue
			c=$(repl_context_csn "$j")
			[ "$c" = "$c1" ] || ok=0
		done
		if [ "$ok" = 1 ]; then
			sleep 1
			[ "$(repl_context_csn 1)" = "$c1" ] && return 0
		fi
		sleep 0.25
	done
	return 1
}

# repl_kill9 N: SIGKILL provider N (its PID from its own pidfile) and wait
# for it to be gone.
repl_kill9() {
	local pid i
	pid=$(srv_pid "$1") || die "no pidfile for provider $1"
	kill -9 "$pid" || die "cannot kill provider $1 ($pid)"
	wait "$pid" 2>/dev/null || true	# reap it quietly (started by this shell)
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$TESTDIR/srv$1/slapd.pid"
}

# repl_log_whole N DN: provider N's accesslog records every successful
# modify of DN whole, entryCSN included: what the client or the other
# provider sent, not what syncrepl's conflict resolution made of it (which
# drops the operational attributes of an older modification).  The other
# providers replay this log; a record without its entryCSN would be applied
# there without conflict resolution, at the record's own CSN.  Prints the
# records that lack it.
repl_log_whole() {
	local n=$1 dn=$2
	SRV=$n root_search -b cn=accesslog "(&(reqType=modify)(reqResult=0)(reqDN=$dn))" reqMod |
		awk '/^dn: /{ if (d != "" && !csn) { print d; bad = 1 } d = $2; csn = 0 }
			/^reqMod: entryCSN:= /{ csn = 1 }
			END { if (d != "" && !csn) { print d; bad = 1 }
				if (d == "") { print "no records"; exit 1 }
				exit bad }'
}

# repl_consistent N DN: on provider N the certpin attributes of DN agree with
# each other: certpinThumbprint lists exactly the SHA-256 of every
# certpinCertificate value, certpinCertInfo holds one record for each of
# them and no other, and no thumbprint on file has a revocation record.
repl_consistent() {
	local n=$1 dn=$2 certs tps infos revs v
	certs=$(SRV=$n root_search -b "$dn" -s base 'certpinCertificate;binary' |
		sed -n 's/^certpinCertificate;binary:: //p' |
		while read -r v; do printf '%s' "$v" | base64 -d | sha256sum | cut -d' ' -f1; done |
		LC_ALL=C sort)
	tps=$(repl_attr "$n" "$dn" certpinThumbprint | LC_ALL=C sort)
	infos=$(repl_attr "$n" "$dn" certpinCertInfo | sed -n 's/^sha256=\([0-9a-f]*\)\$.*/\1/p' | LC_ALL=C sort)
	revs=$(repl_attr "$n" "$dn" certpinRevoked | sed -n 's/^sha256=\([0-9a-f]*\)\$.*/\1/p' | LC_ALL=C sort)
	[ "$certs" = "$tps" ] || { echo "certificates [$certs] vs thumbprints [$tps]"; return 1; }
	[ "$infos" = "$tps" ] || { echo "records [$infos] vs thumbprints [$tps]"; return 1; }
	[ "$(printf '%s\n' "$revs" | uniq -d)" = "" ] || { echo "duplicate revocation records [$revs]"; return 1; }
	for v in $revs; do
		printf '%s\n' "$tps" | grep -qx "$v" && { echo "revoked $v is on file"; return 1; }
	done
	return 0
}
