# tests/lib.sh - shared by certpin's scenario tests; sourced, not run.
#
# Starts Debian's real /usr/sbin/slapd on 127.0.0.1 ports and an ldapi socket
# in a per-test temporary directory, with a fresh PKI made by openssl and the
# certpin module loaded on the frontend.  Every slapd started here is stopped
# by the PID in its own pidfile when the test exits, pass or fail.
#
# Output is TAP: "ok N - what" / "not ok N - what".  tests/run counts them.

set -u

SRCDIR=${CERTPIN_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BUILDDIR=${CERTPIN_BUILDDIR:-$SRCDIR}
SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPTEST=${SLAPTEST:-/usr/sbin/slaptest}
PY=/usr/bin/python3
MODULE=$BUILDDIR/slapo-certpin/.libs/certpin.so
TOOLS=$BUILDDIR/tools
SUFFIX="dc=example,dc=com"
ROOTDN="cn=admin,$SUFFIX"
ROOTPW="secret"
PEOPLE="ou=people,$SUFFIX"

# Hardening modes (tests/sanitize): a command prefixed to every slapd started
# here (e.g. "env LD_PRELOAD=... ASAN_OPTIONS=..." or "valgrind ..."), and a
# factor for how much longer slapd may take to start and stop under it.
CERTPIN_SLAPD_WRAPPER=${CERTPIN_SLAPD_WRAPPER:-}
CERTPIN_SLAPD_SLOW=${CERTPIN_SLAPD_SLOW:-1}

TESTNAME=$(basename "$0" .sh)
TESTDIR=$(mktemp -d "${TMPDIR:-/tmp}/certpin-$TESTNAME.XXXXXX")
PKI=$TESTDIR/pki
NTEST=0
NFAIL=0

# LDAP clients read no user configuration during tests.
export LDAPNOINIT=1
unset LDAPTLS_CACERT LDAPTLS_CERT LDAPTLS_KEY LDAPURI LDAPBASE LDAPBINDDN

die() {
	echo "Bail out! $*"
	exit 1
}

for prog in "$SLAPD" "$SLAPTEST" /usr/bin/ldapwhoami /usr/bin/ldapmodify \
	    /usr/bin/ldapsearch /usr/bin/openssl "$PY"; do
	[ -x "$prog" ] || die "required program $prog is missing (run scripts/install-deps)"
done
[ -f "$MODULE" ] || die "module $MODULE not built (run make)"

# ---- assertions --------------------------------------------------------

ok() {
	NTEST=$((NTEST + 1))
	echo "ok $NTEST - $*"
}

notok() {
	NTEST=$((NTEST + 1))
	NFAIL=$((NFAIL + 1))
	echo "not ok $NTEST - $*"
}

# check DESC CMD...: CMD exits 0.  Output of a failing command is shown.
check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ]; then ok "$desc"; else
		notok "$desc (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20
	fi
}

# check_rc RC DESC CMD...: CMD exits with RC.
check_rc() {
	local want=$1 desc=$2 out rc
	shift 2
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$desc"; else
		notok "$desc (exit $rc, wanted $want)"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20
	fi
}

# check_out DESC REGEX CMD...: CMD's stdout+stderr matches extended REGEX
# (exit status not considered).
check_out() {
	local desc=$1 re=$2 out
	shift 2
	out=$("$@" 2>&1) || true
	if printf '%s\n' "$out" | grep -Eq -- "$re"; then ok "$desc"; else
		notok "$desc (no match for /$re/)"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20
	fi
}

# check_eq DESC WANT GOT
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		notok "$1"
		echo "#   wanted: $2"
		echo "#   got:    $3"
	fi
}

# check_rc_out RC DESC REGEX CMD...: exit status RC and output matches REGEX.
check_rc_out() {
	local want=$1 desc=$2 re=$3 out rc
	shift 3
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq "$want" ] && printf '%s\n' "$out" | grep -Eq -- "$re"; then
		ok "$desc"
	else
		notok "$desc (exit $rc, wanted $want and /$re/)"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20
	fi
}

done_testing() {
	echo "1..$NTEST"
	[ "$NTEST" -gt 0 ] || die "no checks ran"
	[ "$NFAIL" -eq 0 ]
}

# ---- processes -----------------------------------------------------------

cleanup() {
	local pf pid i
	for pf in "$TESTDIR"/srv*/slapd.pid; do
		[ -f "$pf" ] || continue
		pid=$(cat "$pf" 2>/dev/null) || continue
		kill "$pid" 2>/dev/null || continue
		for i in $(seq 1 $((50 * CERTPIN_SLAPD_SLOW))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	# tests/sanitize: keep every slapd log holding a sanitizer report.
	if [ -n "${CERTPIN_REPORTS:-}" ]; then
		for pf in "$TESTDIR"/srv*/slapd.log; do
			grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$pf" 2>/dev/null &&
				cp "$pf" "$CERTPIN_REPORTS/$TESTNAME.$(basename "$(dirname "$pf")").slapd.log"
		done
	fi
	if [ -z "${CERTPIN_KEEP:-}" ]; then
		rm -rf "$TESTDIR"
	else
		echo "# kept $TESTDIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a port free on 127.0.0.1 now, below the kernel's ephemeral
# range (a port the kernel picked could be taken by a client connection's
# source port before slapd listens on it: seen as EADDRINUSE), and not
# handed out before in this test ($TESTDIR/ports).
free_port() {
	"$PY" - "$TESTDIR/ports" <<'PY'
import random, socket, sys
used = set()
try:
    used = set(open(sys.argv[1]).read().split())
except OSError:
    pass
lo = 20000
try:
    lo_eph = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    lo_eph = 32768
hi = min(lo_eph, 32768) - 1
if hi - lo < 1000:	# no room below the ephemeral range: the kernel picks
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    sys.exit(0)
for _ in range(1000):
    p = random.randint(lo, hi)
    if str(p) in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    with open(sys.argv[1], "a") as f:
        f.write("%d\n" % p)
    print(p)
    sys.exit(0)
sys.exit("free_port: no free port in %d-%d" % (lo, hi))
PY
}

# ---- PKI -------------------------------------------------------------------

# pki_ca NAME: a self-signed ECDSA CA in $PKI/NAME.{crt,key}
pki_ca() {
	local n=$1
	mkdir -p "$PKI/$n.db"
	: > "$PKI/$n.db/index.txt"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$PKI/$n.key" -out "$PKI/$n.crt" -days 3650 \
		-subj "/O=certpin tests/CN=$n" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null ||
		die "cannot make CA $n"
	cat > "$PKI/$n.cnf" <<CNF
[ ca ]
default_ca = ca_$n
[ ca_$n ]
dir = $PKI/$n.db
database = \$dir/index.txt
new_certs_dir = \$dir
certificate = $PKI/$n.crt
private_key = $PKI/$n.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
rand_serial = yes
[ any ]
commonName = supplied
[ client ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[ server ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
CNF
}

# pki_cert CA NAME CN EXT [START END]: key + certificate $PKI/NAME.{key,crt,der}
# START/END are GeneralizedTime (YYYYMMDDHHMMSSZ); default: valid for 1 year.
pki_cert() {
	local ca=$1 n=$2 cn=$3 ext=$4 start=${5:-} end=${6:-} dates
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$PKI/$n.key" -out "$PKI/$n.csr" -subj "/CN=$cn" 2>/dev/null ||
		die "cannot make key for $n"
	if [ -n "$start" ]; then dates="-startdate $start -enddate $end"; else dates="-days 365"; fi
	# shellcheck disable=SC2086
	openssl ca -batch -config "$PKI/$ca.cnf" -extensions "$ext" $dates \
		-in "$PKI/$n.csr" -out "$PKI/$n.crt" -notext 2>/dev/null ||
		die "cannot sign $n"
	openssl x509 -in "$PKI/$n.crt" -outform DER -out "$PKI/$n.der"
	chmod 600 "$PKI/$n.key"
}

# pki_standard: the CA, the server, users' certificates, and the odd ones.
pki_standard() {
	mkdir -p "$PKI"
	pki_ca ca
	pki_ca foreignca
	pki_cert ca server 127.0.0.1 server
	local u
	for u in kenmyer pilar jdoe mallory; do
		pki_cert ca "$u" "$u" client
	done
	pki_cert ca kenmyer2 kenmyer client
	pki_cert ca spare kenmyer client
	pki_cert ca expired kenmyer client 20200101000000Z 20210101000000Z
	pki_cert ca future kenmyer client 20400101000000Z 20410101000000Z
	pki_cert foreignca foreign kenmyer client
}

# sha256 of a DER file, lowercase hex
der_sha256() {
	openssl x509 -inform DER -in "$1" -noout -fingerprint -sha256 |
		sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# ---- slapd -----------------------------------------------------------------

# srv_conf N [EXTRA_FRONTEND_LINES]: write $TESTDIR/srvN/slapd.conf
# certpin is configured twice: on the frontend (with every certpin-*
# directive, EXTRA_FRONTEND_LINES) and as the last line, the database
# instance on the mdb database (the write gate).  Lines appended to the file
# belong to the mdb database; an overlay appended after certpin runs before
# it (slapd logs a warning): put such overlays before the last line.
# Sets LDAP_N, LDAPS_N, LDAPI_N (URIs) as srv_uri reads them.
# SRV_ACL (optional): access lines placed before the default ones, right
# after the one giving the local root (ldapi EXTERNAL) manage access.
srv_conf() {
	local n=$1 extra=${2:-} d="$TESTDIR/srv$1" p1 p2 sock
	mkdir -p "$d/db"
	p1=$(free_port); p2=$(free_port)
	sock=$(printf '%s' "$d/ldapi" | sed 's|/|%2F|g')
	echo "ldap://127.0.0.1:$p1/" > "$d/uri.ldap"
	echo "ldaps://127.0.0.1:$p2/" > "$d/uri.ldaps"
	echo "ldapi://$sock/" > "$d/uri.ldapi"
	# AD names: Debian's own msuser.schema, then certpin's additions to it
	local msuser="include /etc/ldap/schema/msuser.schema
include $SRCDIR/schema/certpin-sip.schema
include $SRCDIR/schema/certpin-adnamed.schema"
	cat > "$d/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
$msuser
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload $MODULE
pidfile $d/slapd.pid
argsfile $d/slapd.args
TLSCACertificateFile $PKI/ca.crt
TLSCertificateFile $PKI/server.crt
TLSCertificateKeyFile $PKI/server.key
TLSVerifyClient try
authz-regexp "^cn=([^,]+)\$" "uid=\$1,$PEOPLE"

database frontend
overlay certpin
$extra

database config
rootdn "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"

database mdb
suffix "$SUFFIX"
rootdn "$ROOTDN"
rootpw $ROOTPW
directory $d/db
maxsize 104857600
index objectClass eq
index uid,cn,mail eq
index certpinThumbprint eq
index certpinRevokedThumbprint eq
access to * by dn.exact="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth" manage by * break
${SRV_ACL:-}
access to attrs=userPassword by anonymous auth by self write by * none
access to * by self write by users read by * none
overlay certpin
CONF
}

srv_uri() { cat "$TESTDIR/srv$1/uri.$2"; }

# srv_hash64 N: server N's slapd.conf uses 64-bit index hashes (the global
# directive index_hash64 on, put before modulepath); before slapadd or the
# first start, as slapd.conf(5) says for changing it.
srv_hash64() { sed -i -e 's/^modulepath /index_hash64 on\n&/' "$TESTDIR/srv$1/slapd.conf"; }

# srv_start N [config]: start srv N from slapd.conf, or with "config" from a
# cn=config directory converted from it (slaptest).
srv_start() {
	local n=$1 mode=${2:-conf} d="$TESTDIR/srv$1" i
	local urls="$(srv_uri "$n" ldap) $(srv_uri "$n" ldaps) $(srv_uri "$n" ldapi)"
	rm -f "$d/slapd.pid"
	if [ "$mode" = config ]; then
		if [ ! -d "$d/slapd.d" ]; then
			mkdir -p "$d/slapd.d"
			# slaptest opens the database read-only: create it first
			[ -f "$d/db/data.mdb" ] || /usr/sbin/slapadd -f "$d/slapd.conf" \
				-l /dev/null >"$d/slaptest.log" 2>&1 || die "slapadd failed"
			"$SLAPTEST" -Q -f "$d/slapd.conf" -F "$d/slapd.d" >"$d/slaptest.log" 2>&1 ||
				die "slaptest failed: $(cat "$d/slaptest.log")"
		fi
		# shellcheck disable=SC2086
		$CERTPIN_SLAPD_WRAPPER "$SLAPD" -F "$d/slapd.d" -h "$urls" -s 0 -d "${SLAPD_DEBUG:-stats}" >>"$d/slapd.log" 2>&1 &
	else
		# shellcheck disable=SC2086
		$CERTPIN_SLAPD_WRAPPER "$SLAPD" -f "$d/slapd.conf" -h "$urls" -s 0 -d "${SLAPD_DEBUG:-stats}" >>"$d/slapd.log" 2>&1 &
	fi
	for i in $(seq 1 $((100 * CERTPIN_SLAPD_SLOW))); do
		if [ -s "$d/slapd.pid" ] &&
		   ldapsearch -x -H "$(srv_uri "$n" ldapi)" -s base -b "" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	cat "$d/slapd.log" | tail -n 20 | sed 's/^/#   /'
	die "slapd $n did not start"
}

srv_pid() { cat "$TESTDIR/srv$1/slapd.pid"; }

srv_stop() {
	local d="$TESTDIR/srv$1" pid i
	[ -f "$d/slapd.pid" ] || return 0
	pid=$(cat "$d/slapd.pid")
	kill "$pid" 2>/dev/null || true
	for i in $(seq 1 $((100 * CERTPIN_SLAPD_SLOW))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$d/slapd.pid"
}

srv_alive() {
	local pid
	pid=$(cat "$TESTDIR/srv$1/slapd.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

# As the directory manager, over ldapi with a simple bind (root DN).
root_modify() { ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri "${SRV:-1}" ldapi)" "$@"; }
root_add() { ldapadd -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri "${SRV:-1}" ldapi)" "$@"; }
root_search() { ldapsearch -LLL -o ldif-wrap=no -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri "${SRV:-1}" ldapi)" "$@"; }

# cfg_set DN ATTR VALUE: replace one attribute of a cn=config entry, as the
# local root over ldapi (-Y EXTERNAL).
cfg_set() {
	printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n' "$1" "$2" "$2" "$3" |
		ldapmodify -Q -Y EXTERNAL -H "$(srv_uri "${SRV:-1}" ldapi)"
}

# snapshot DN: every attribute of the entry, user and operational, as the root
# DN sees it; two equal snapshots mean the entry did not change at all.
snapshot() { root_search -b "$1" -s base '*' '+' 2>&1; }

# slapd_version_read: SLAPD_VERSION becomes the release of $SLAPD (e.g.
# 2.5.13); the test stops when it cannot be read.
slapd_version_read() {
	SLAPD_VERSION=$("$SLAPD" -VV 2>&1 | sed -n 's/.*slapd \([0-9]*\.[0-9]*\.[0-9]*\).*/\1/p' | head -n 1)
	[ -n "$SLAPD_VERSION" ] || die "cannot read $SLAPD's version"
}

# add_user UID "Display Name" [extra LDIF lines]
add_user() {
	local uid=$1 name=$2 extra=${3:-}
	root_add >/dev/null <<LDIF
dn: uid=$uid,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinUser
uid: $uid
cn: $name
sn: ${name##* }
displayName: $name
mail: $uid@example.com
userPassword: pw-$uid
$extra
LDIF
}

# srv_base N: the suffix and people branch, and a few users.
srv_base() {
	SRV=$1 root_add >/dev/null <<LDIF || die "cannot load base entries"
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: $PEOPLE
objectClass: organizationalUnit
ou: people
LDIF
	local u
	for u in "kenmyer:Ken Myer" "pilar:Pilar Ackerman" "jdoe:John Doe"; do
		SRV=$1 add_user "${u%%:*}" "${u#*:}" || die "cannot add ${u%%:*}"
	done
}

# record_cert UID DERFILE: add a certificate to the user (as root, ldapmodify)
record_cert() {
	root_modify <<LDIF
dn: uid=$1,$PEOPLE
changetype: modify
add: certpinCertificate;binary
certpinCertificate;binary:< file://$2
LDIF
}

# device_whoami N CERT [ldaps|starttls]: SASL EXTERNAL logon with $PKI/CERT.*
# libldap ignores LDAPTLS_* while LDAPNOINIT is set (to any value): drop it
# for this client, with HOME in the test dir so no user ldaprc is read.
device_whoami() {
	local n=$1 cert=$2 how=${3:-ldaps}
	if [ "$how" = starttls ]; then
		env -u LDAPNOINIT HOME="$TESTDIR" LDAPTLS_CACERT=$PKI/ca.crt LDAPTLS_CERT=$PKI/$cert.crt \
			LDAPTLS_KEY=$PKI/$cert.key ldapwhoami -ZZ -Y EXTERNAL -H "$(srv_uri "$n" ldap)" 2>&1
	else
		env -u LDAPNOINIT HOME="$TESTDIR" LDAPTLS_CACERT=$PKI/ca.crt LDAPTLS_CERT=$PKI/$cert.crt \
			LDAPTLS_KEY=$PKI/$cert.key ldapwhoami -Y EXTERNAL -H "$(srv_uri "$n" ldaps)" 2>&1
	fi
}
