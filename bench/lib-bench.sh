# bench/lib-bench.sh - helpers of bench/run; sourced after tests/lib.sh,
# whose servers, PKI and URIs it builds on.

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
meta_users() { echo "$users"; }
srvname() { case $1 in 1|3|4) echo certpin ;; 2) echo plain ;; esac; }

# record KEY SERVER ROUND VALUE: one measurement into results.tsv
record() { printf 'm\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$TSV"; }
# na KEY REASON: a figure that cannot be measured here, and why
na() {
	printf 'na\t%s\t-\t-\t%s\n' "$1" "$2" >> "$TSV"
	say "$1: n/a ($2)"
}
# field NAME LINE: a value from loadgen's "name=value ..." line
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
# with_cert CERT KEY CMD...: run a client presenting CERT.  LDAPNOINIT (set by
# tests/lib.sh) would make libldap ignore the LDAPTLS_* variables too.
with_cert() {
	local c=$1 k=$2
	shift 2
	env -u LDAPNOINIT HOME="$TESTDIR" LDAPTLS_CACERT="$PKI/ca.crt" LDAPTLS_CERT="$c" \
		LDAPTLS_KEY="$k" "$@"
}
# rss N: resident memory of server N in kB
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$(srv_pid "$1")/status"; }

bench_machine() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	printf '%s cores (%s), %s MB RAM, %s, slapd %s, load average at start %s' \
		"$(nproc)" "$cpu" "$(awk '/^MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" \
		"$(. /etc/os-release; echo "$PRETTY_NAME")" \
		"$(dpkg-query -W -f='${Version}' slapd 2>/dev/null)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
}

# gnuplot draws the chart and valgrind counts instructions (Debian's
# gnuplot-nox and valgrind; scripts/install-deps has them): installed here
# when missing.
bench_need_tools() {
	local missing=
	[ "$chart" = yes ] && ! command -v gnuplot >/dev/null && missing="$missing gnuplot-nox"
	command -v callgrind_control >/dev/null || missing="$missing valgrind"
	[ -n "$missing" ] || return 0
	say "installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >/dev/null 2>&1 || die "missing and could not be installed:$missing"
}

# The auxiliary class of schema/msuser.schema that allows the AD attributes,
# if that schema exists (empty output otherwise).
bench_msuser_class() {
	local f=$SRCDIR/schema/msuser.schema
	[ -s "$f" ] || return 0
	"$PY" - "$f" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for m in re.finditer(r"objectclass\s*\((.*?)\n\s*\)", text, re.S | re.I):
    body = m.group(1)
    want = ("msRTCSIP-PrimaryUserAddress", "userPrincipalName", "sAMAccountName")
    if "AUXILIARY" in body and all(w.lower() in body.lower() for w in want):
        print(re.search(r"NAME\s+'([^']+)'", body).group(1))
        break
PY
}

# Server N's configuration for a benchmark: no per-operation logging (as
# production runs), room for the data.
# BENCH_DBNOSYNC=1: no fsync at each commit (an experiment: how much of a
# write's cost is the disk; not a production setting).
# BENCH_HASH64=1: 64-bit index hashes (slapd.conf index_hash64, set before
# slapadd; a production setting, slapo-certpin(5) "Revocation cost"):
# back-mdb then deletes only a revoked thumbprint's index key, without
# rewriting the keys of the certificates that stay.  Server 1 is tuned
# before bench_plain_conf copies it, so plain slapd gets the same setting.
bench_tune_conf() {
	sed -i -e 's/^maxsize .*/maxsize 8589934592/' "$TESTDIR/srv$1/slapd.conf"
	if [ -n "${BENCH_HASH64:-}" ]; then
		srv_hash64 "$1"
	fi
	if [ -n "${BENCH_DBNOSYNC:-}" ]; then
		sed -i -e 's/^maxsize .*/&\ndbnosync/' "$TESTDIR/srv$1/slapd.conf"
	fi
}

# bench_plain_conf FROM TO: server TO = server FROM without the module (the
# certpin schema included instead), with its own ports, socket and database.
bench_plain_conf() {
	local a=$1 b=$2 d="$TESTDIR/srv$2"
	mkdir -p "$d/db"
	sed -e "/moduleload .*certpin/d" -e "/^overlay certpin/d" -e "/^certpin-/d" \
	    -e "s|^include /etc/ldap/schema/inetorgperson.schema|&\ninclude $SRCDIR/schema/certpin.schema|" \
	    -e "s|$TESTDIR/srv$a/|$TESTDIR/srv$b/|g" \
	    "$TESTDIR/srv$a/slapd.conf" > "$d/slapd.conf"
	echo "ldap://127.0.0.1:$(free_port)/" > "$d/uri.ldap"
	echo "ldaps://127.0.0.1:$(free_port)/" > "$d/uri.ldaps"
	echo "ldapi://$(printf '%s' "$d/ldapi" | sed 's|/|%2F|g')/" > "$d/uri.ldapi"
	grep -q certpin.so "$d/slapd.conf" && die "plain configuration still loads the module"
}

# Does server N refuse a certificate that is on file nowhere?
bench_enforces() {
	local out rc
	out=$(with_cert "$PKI/stranger.crt" "$PKI/stranger.key" \
		ldapwhoami -Y EXTERNAL -H "$(srv_uri "$1" ldaps)" 2>&1) && rc=0 || rc=$?
	[ "$rc" -eq 0 ] && return 1
	case $out in
	*"Invalid credentials (49)"*) return 0 ;;
	*) die "unexpected answer to a stranger's logon: $out" ;;
	esac
}

# What keeps the provisioning operation from being measured (loadgen's output).
bench_issue_missing() {
	case $1 in
	*"Protocol error (2)"*|*"unsupported extended operation"*|*"Unwilling"*"not configured"*)
		echo "provisioning extended operation (branch issue4-provision) not merged" ;;
	*) echo "provisioning failed: $(printf '%s' "$1" | tr '\n' ' ' | cut -c1-200)" ;;
	esac
}

# Figure 7: certpin-test latency, wall clock of the whole command (process
# start included), 20 runs each: with an existing device certificate
# (--cert/--key: TLS connection, EXTERNAL bind, WhoAmI), and the full test
# (password bind, provisioning of a fresh certificate, logon, revocation).
bench_certpin_test() {
	local t=$TOOLS/certpin-test out i t0 dn cert rc mode
	out=$("$t" --help 2>&1)
	case $out in
	*"not implemented"*|"")
		na ctest_cert "certpin-test (branch issue6-clienttools) not merged"
		na ctest_full "certpin-test (branch issue6-clienttools) not merged"
		return 0 ;;
	esac
	# the last sample user: the issuance figure (5) starts from the first ones
	set -- $(tail -n 1 "$LIST")
	dn=$1 cert=$2
	( umask 077; printf 'pw-%s' "$(printf '%s' "$dn" | sed 's/^uid=\([^,]*\),.*/\1/')" \
		> "$TESTDIR/ctest.pw" )
	for mode in cert full; do
		for i in $(seq 1 20); do
			t0=$(now)
			if [ "$mode" = cert ]; then
				out=$(with_cert "$cert" "$KEY" "$t" -H "$(srv_uri 1 ldaps)" \
					--cert "$cert" --key "$KEY" "$dn" 2>&1) && rc=0 || rc=$?
			else
				out=$(with_cert "$cert" "$KEY" "$t" -H "$(srv_uri 1 ldaps)" -x \
					-y "$TESTDIR/ctest.pw" "$dn" 2>&1) && rc=0 || rc=$?
			fi
			if [ "$rc" -ne 0 ]; then
				na "ctest_$mode" "certpin-test failed (exit $rc): $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)"
				break
			fi
			record "ctest_$mode" certpin "$i" "$(awk -v s="$(since "$t0")" 'BEGIN { printf "%.1f", s * 1000 }')"
			# and the Latency the tool reports itself (hh:mm:ss.fffffff)
			record "ctest_${mode}_tool" certpin "$i" "$(sed -n 's/^Latency *: //p' <<< "$out" |
				awk -F: '{ printf "%.1f", ($1 * 3600 + $2 * 60 + $3) * 1000 }')"
		done
	done
}

# Figure 3 across two providers: servers 3 and 4 replicate each other (small
# data: $trials2 users, all sampled); revoke on 3, poll logons on 4.
bench_two_providers() {
	local n p d2=$TESTDIR/data2 line i c
	mkdir -p "$d2"
	"$BIN/gen-users" -n "$trials2" -s "$trials2" -C "$PKI/ca.crt" -K "$PKI/ca.key" -o "$d2" ||
		die "gen-users (two providers) failed"
	for n in 3 4; do srv_conf "$n"; done
	for n in 3 4; do
		p=$((7 - n))
		# certpin's database instance stays the last overlay
		sed -i -e "1i serverID $n" -e "s|^moduleload back_mdb|&\nmoduleload syncprov|" \
			-e '$d' "$TESTDIR/srv$n/slapd.conf"
		cat >> "$TESTDIR/srv$n/slapd.conf" <<CONF
index entryCSN,entryUUID eq
syncrepl rid=00$p provider=$(srv_uri "$p" ldap) bindmethod=simple
  binddn="$ROOTDN" credentials=$ROOTPW searchbase="$SUFFIX"
  type=refreshAndPersist retry="1 +" timeout=3
multiprovider on
overlay syncprov
overlay certpin
CONF
	done
	/usr/sbin/slapadd -q -f "$TESTDIR/srv3/slapd.conf" -l "$d2/users.ldif" \
		>"$TESTDIR/srv3/slapadd.log" 2>&1 || die "slapadd into provider 3 failed"
	for n in 3 4; do SLAPD_DEBUG=0 srv_start "$n"; done
	for i in $(seq 1 300); do
		c=$(ldapsearch -x -LLL -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 4 ldapi)" \
			-b "$PEOPLE" -s one '(certpinThumbprint=*)' 1.1 2>/dev/null | grep -c '^dn:')
		[ "$c" -eq "$trials2" ] && break
		sleep 0.1
	done
	[ "$c" -eq "$trials2" ] || die "provider 4 did not replicate the $trials2 users (has $c)"
	line=$("$BIN/loadgen" revoke -H "$(srv_uri 3 ldaps)" -R "$(srv_uri 3 ldapi)" \
		-B "$(srv_uri 4 ldaps)" -n "$trials2" -A "$PKI/ca.crt" -k "$d2/client.key" \
		-l "$d2/sample.lst" 2>&1) || say "two-provider trials: $line"
	record revoke2_trials certpin - "$trials2"
	record revoke2_timeouts certpin - "$(field timeouts "$line")"
	record revoke2_p50 certpin - "$(field delay_p50_ms "$line")"
	record revoke2_p99 certpin - "$(field delay_p99_ms "$line")"
	for n in 3 4; do srv_stop "$n"; done
}

# Figure 4: certpin-get and certpin-revoke over the users, as pipelines, on
# the certpin server and (the same tools, plain LDAP) on the plain one.
# certpin-get reads every user.  certpin-revoke is one modify per user, each
# its own database commit (fsync): over min(users, $revoke_max) users (all of
# them in --quick), and the time for every user is projected from that rate
# when fewer were revoked (reported as projected).
bench_tools_all() {
	local get=$TOOLS/certpin-get rev=$TOOLS/certpin-revoke out t0 n left k rc
	out=$("$get" --help 2>&1)
	case $out in
	*"not implemented"*|"")
		na getall "certpin-get (branch issue5-tools) not merged"
		na revokeall "certpin-revoke (branch issue5-tools) not merged"
		return 0 ;;
	esac
	for n in 2 1; do
		# the database's root DN: paged results of other identities stop at
		# the hard size limit (slapd's size.prtotal) unless "limits" raise it
		local adm=(-H "$(srv_uri "$n" ldapi)" -x -D "$ROOTDN" -w "$ROOTPW")
		t0=$(now)
		"$get" "${adm[@]}" --all -o json > "$TESTDIR/all$n.json" 2>"$TESTDIR/get$n.err" || {
			na getall "certpin-get --all failed on $(srvname $n): $(head -c 200 "$TESTDIR/get$n.err")"
			return 0
		}
		record getall "$(srvname $n)" - "$(since "$t0")"
		record getall_certs "$(srvname $n)" - "$(jq length "$TESTDIR/all$n.json")"
	done
	out=$("$rev" --help 2>&1)
	case $out in
	*"not implemented"*|"")
		na revokeall "certpin-revoke (branch issue5-tools) not merged"
		return 0 ;;
	esac
	ldapsearch -x -LLL -o ldif-wrap=no -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" \
		-b "$PEOPLE" -s one '(certpinThumbprint=*)' dn | grep '^dn: ' |
		tail -n "$revoke_max" > "$TESTDIR/revoke.dns"
	k=$(grep -c . "$TESTDIR/revoke.dns")
	for n in 2 1; do
		local adm=(-H "$(srv_uri "$n" ldapi)" -x -D "$ROOTDN" -w "$ROOTPW")
		t0=$(now)
		"$rev" "${adm[@]}" -c < "$TESTDIR/revoke.dns" > "$TESTDIR/revoke$n.out" 2>&1 && rc=0 || rc=$?
		if [ "$rc" -ne 0 ]; then
			na revokeall "certpin-revoke failed on $(srvname $n) (exit $rc): $(tail -c 200 "$TESTDIR/revoke$n.out")"
			return 0
		fi
		record revoke_users "$(srvname $n)" - "$k"
		record revoke_secs "$(srvname $n)" - "$(since "$t0")"
	done
	left=$(ldapsearch -x -LLL -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" \
		-b "$PEOPLE" -s one '(certpinThumbprint=*)' 1.1 | grep -c '^dn:')
	record revoke_left certpin - "$left"
	record revoke_expected_left certpin - "$(( $(meta_users) - k ))"
}

# bench_callgrind N FIG SECS CGFILE: restart server N under valgrind's
# callgrind, collect only while loadgen FIG (rebind or logon, one thread)
# runs for SECS seconds, stop it; sets CG_OPS, CG_IR and CG_PER_OP.  Exact
# instruction counts are not disturbed by other load on the machine.
bench_callgrind() {
	local n=$1 fig=$2 s=$3 cg=$4 pid line ops ir i
	srv_stop "$n"
	if [ ! -x "$BIN/slapd-callgrind" ]; then
		cat > "$BIN/slapd-callgrind" <<SH
#!/bin/sh
exec valgrind -q --tool=callgrind --instr-atstart=no \\
	--callgrind-out-file="\$CALLGRIND_OUT" /usr/sbin/slapd "\$@"
SH
		chmod +x "$BIN/slapd-callgrind"
	fi
	rm -f "$cg"*
	CALLGRIND_OUT=$cg SLAPD=$BIN/slapd-callgrind SLAPD_DEBUG=0 srv_start "$n"
	pid=$(srv_pid "$n")
	set -- $(head -n 1 "$LIST")
	with_cert "$2" "$KEY" ldapwhoami -Y EXTERNAL -H "$(srv_uri "$n" ldaps)" >/dev/null 2>&1 ||
		die "logon to server $n under valgrind failed"
	callgrind_control -i on "$pid" >/dev/null || die "callgrind_control failed"
	line=$("$BIN/loadgen" "$fig" -H "$(srv_uri "$n" ldaps)" -A "$PKI/ca.crt" -k "$KEY" \
		-l "$LIST" -d "$s" -w 0 -t 1) || die "loadgen $fig under valgrind failed: $line"
	callgrind_control -i off "$pid" >/dev/null
	srv_stop "$n"
	for i in $(seq 1 600); do	# valgrind writes the profile as it exits
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	ops=$(field ops "$line")
	ir=$(callgrind_annotate "$cg" 2>/dev/null |
		awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
	[ -n "$ir" ] && [ "${ops:-0}" -gt 0 ] || die "no callgrind totals in $cg (loadgen: $line)"
	CG_OPS=$ops CG_IR=$ir CG_PER_OP=$(( ir / ops ))
}
