# tests/lib-toolfix.sh - shared by test072-075 (the tools' output, options,
# timeouts, records and monitoring); sourced after lib.sh and lib-tools.sh.

CTEST=$TOOLS/certpin-test
ISSUE=$TOOLS/certpin-issue

# clean DESC CMD...: everything CMD prints (stdout and stderr) is valid
# UTF-8 without a control character (C0 but tab and newline, DEL, C1)
clean() {
	local desc=$1 out
	shift
	out=$("$@" 2>&1 | "$PY" -c '
import sys
b = sys.stdin.buffer.read()
try:
    t = b.decode("utf-8")
except UnicodeDecodeError as e:
    print("invalid UTF-8 at byte %d: %r" % (e.start, b[max(0, e.start - 20):e.start + 8])); sys.exit(1)
bad = [c for c in t if (ord(c) < 0x20 and c not in "\t\n") or 0x7f <= ord(c) <= 0x9f]
if bad:
    print("control characters %r in %r" % (bad[:5], t[:300])); sys.exit(1)
')
	if [ -z "$out" ]; then ok "$desc"; else notok "$desc"; printf '%s\n' "$out" | sed 's/^/#   /' | head -n 5; fi
}

# fake_server MODE [HEXMSG]: tests/ldap-fake-server.py on a free port; sets
# FAKE_URI (ldap://) and FAKE_PID
fake_server() {
	local port
	port=$(free_port)
	"$PY" "$SRCDIR/tests/ldap-fake-server.py" "$port" "$@" > "$TESTDIR/fake.$port" &
	FAKE_PID=$!
	FAKE_URI=ldap://127.0.0.1:$port/
	FAKE_PORT=$port
	local i
	for i in $(seq 1 50); do
		grep -q ready "$TESTDIR/fake.$port" 2>/dev/null && return 0
		sleep 0.1
	done
	die "the fake server did not start"
}
fake_stop() { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null || true; }

# elapsed CMD...: run CMD (a program, not a function), killed after 60 s
# so that a tool that hangs fails the check instead of the whole run; set
# RC, OUT (stdout+stderr) and SECS (wall clock)
elapsed() {
	local t0 t1
	t0=$(date +%s%N)
	OUT=$(timeout -k 5 60 "$@" 2>&1) && RC=0 || RC=$?
	t1=$(date +%s%N)
	SECS=$(( (t1 - t0) / 1000000000 ))
}

# b64 STRING-WITH-ESCAPES: base64 of printf's rendering
b64() { printf "$1" | base64 -w0; }
