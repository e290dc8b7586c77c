# tests/lib-hardening.sh - shared by the hardening tests (test050-053);
# sourced after tests/lib.sh.

# dir_snapshot: every entry of the directory, user and operational
# attributes, as the root DN sees them; equal snapshots mean nothing changed.
dir_snapshot() { root_search -b "$SUFFIX" '*' '+' 2>&1; }

# bad NAME REGEX [RC]: the LDIF on stdin (any changetype) is refused by
# ldapmodify (with exit status RC when given), its message matches REGEX,
# the directory is unchanged and slapd is alive.  Counts distinct NAMEs in
# BAD_N so a catalogue can check its size.
BAD_N=0
bad() {
	local name=$1 re=$2 want=${3:-} before after out rc why=
	BAD_N=$((BAD_N + 1))
	cat > "$TESTDIR/bad.ldif"
	before=$(dir_snapshot)
	out=$(root_modify -f "$TESTDIR/bad.ldif" 2>&1) && rc=0 || rc=$?
	after=$(dir_snapshot)
	[ "$rc" -ne 0 ] || why="$why accepted;"
	[ -z "$want" ] || [ "$rc" -eq "$want" ] || why="$why exit $rc, wanted $want;"
	printf '%s' "$out" | grep -Eq -- "$re" || why="$why message not /$re/;"
	[ "$before" = "$after" ] || why="$why the directory changed;"
	srv_alive "${SRV:-1}" || why="$why slapd died;"
	if [ -z "$why" ]; then
		ok "bad input $BAD_N refused, directory unchanged: $name"
	else
		notok "bad input $BAD_N: $name:$why"
		printf '%s\n' "$out" | head -n 8 | sed 's/^/#   /'
		if [ "$before" != "$after" ]; then
			diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | head -n 10 | sed 's/^/#   /'
		fi
	fi
}

# certs_consistent DN...: on each entry, certpinThumbprint equals the SHA-256
# of each certpinCertificate value, one certpinCertInfo per certificate
# whose sha256 field is that thumbprint, and nothing without its partner.
# Prints the offending entries; exit status 0 when all are consistent.
certs_consistent() {
	"$PY" - "$(srv_uri "${SRV:-1}" ldapi)" "$ROOTDN" "$ROOTPW" "$SUFFIX" <<'PY'
import sys, ldap, hashlib
uri, dn, pw, base = sys.argv[1:]
l = ldap.initialize(uri)
l.simple_bind_s(dn, pw)
bad = 0
n = 0
for edn, e in l.search_s(base, ldap.SCOPE_SUBTREE, '(objectClass=*)',
        ['certpinCertificate;binary', 'certpinThumbprint', 'certpinCertInfo']):
    certs = []
    for k, v in e.items():
        if k.lower().startswith('certpincertificate'):
            certs += v
    want = sorted(hashlib.sha256(c).hexdigest() for c in certs)
    tps = sorted(x.decode() for x in e.get('certpinThumbprint', []))
    infos = sorted(x.decode().split('$', 1)[0].replace('sha256=', '', 1)
                   for x in e.get('certpinCertInfo', []))
    n += len(certs)
    if want != tps or want != infos:
        bad += 1
        print('inconsistent: %s certs=%s thumbprints=%s certinfo=%s' % (edn, want, tps, infos))
print('# %d certificates checked' % n)
sys.exit(1 if bad else 0)
PY
}

# bad_cmd NAME REGEX RC CMD...: CMD (a client: python3-ldap, a certpin tool)
# exits with RC (any non-zero when RC is "-"), its output matches REGEX, the
# directory is unchanged and slapd alive.  Counts in BAD_N like bad().
# BAD_ALLOW, when set, is a regex of snapshot lines the refusal may change
# (e.g. a PIN failure counter).
bad_cmd() {
	local name=$1 re=$2 want=$3 before after out rc why= allow=${BAD_ALLOW:-^$}
	shift 3
	BAD_N=$((BAD_N + 1))
	before=$(dir_snapshot | grep -Ev -- "$allow")
	out=$("$@" 2>&1 </dev/null) && rc=0 || rc=$?
	after=$(dir_snapshot | grep -Ev -- "$allow")
	if [ "$want" = - ]; then [ "$rc" -ne 0 ] || why="$why accepted;"
	else [ "$rc" -eq "$want" ] || why="$why exit $rc, wanted $want;"; fi
	printf '%s' "$out" | grep -Eq -- "$re" || why="$why message not /$re/;"
	[ "$before" = "$after" ] || why="$why the directory changed;"
	srv_alive "${SRV:-1}" || why="$why slapd died;"
	if [ -z "$why" ]; then
		ok "bad input $BAD_N refused, directory unchanged: $name"
	else
		notok "bad input $BAD_N: $name:$why"
		printf '%s\n' "$out" | head -n 8 | sed 's/^/#   /'
	fi
}
