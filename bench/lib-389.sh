# bench/lib-389.sh - a private 389 Directory Server instance for bench/peer
# (sourced after tests/lib.sh and bench/lib-bench.sh).
#
# Debian's 389-ds-base (scripts/install-deps --bench), run by hand, not as a
# system service: an instance under $DS_PREFIX (a directory of the bench's
# temporary dir) selected by PREFIX for dscreate/dsctl, listening on
# 127.0.0.1 only, with the bench's CA and server certificate in its NSS db,
# certmap "verifycert on" (a logon's certificate must be one of the mapped
# entry's userCertificate values), and SASL EXTERNAL.  ns-slapd is started
# with a pidfile of ours and stopped by that PID only.
#
#   ds_create           make the instance (stopped), TLS and certmap set
#   ds_ldif IN OUT      convert gen-users' users.ldif for 389
#   ds_load LDIF        offline import into userRoot (instance stopped)
#   ds_start / ds_stop  by PID; ds_pid prints it
#   ds_uri ldaps|ldapi  the URIs
#
# Differences from the slapd servers, on purpose or by necessity (bench/RESULTS.md):
#   - the security log and the access log are off (slapd runs without
#     per-operation logging too);
#   - entries get "cn: <uid>" besides their display name: certmap cannot
#     turn the certificate's CN=<uid> into (uid=<uid>), it filters on cn;
#   - userPassword and the AD attributes of schema/msuser.schema are left out
#     (389's schema lacks the latter; passwords play no part here);
#   - BerkeleyDB (389's default back end) against back-mdb.

DS_INST=bench
DS_PREFIX=${DS_PREFIX:-$TESTDIR/ds389}
DS_CONF=$DS_PREFIX/etc/dirsrv/slapd-$DS_INST
DS_PIDFILE=$DS_PREFIX/run/dirsrv/slapd-$DS_INST.pid
DS_ROOTPW=ds-bench-secret

dsx() { PREFIX=$DS_PREFIX "$@"; }
ds_uri() { cat "$DS_PREFIX/uri.$1"; }
ds_pid() { cat "$DS_PREFIX/ns-slapd.pid"; }

ds_create() {
	local p d inf=$DS_PREFIX/create.inf out
	command -v dscreate >/dev/null && command -v certutil >/dev/null ||
		die "389 Directory Server is not installed (scripts/install-deps --bench)"
	# the dirsrv user must reach its directories
	chmod 711 "$TESTDIR"
	for d in "$DS_PREFIX" "$DS_PREFIX/share/dirsrv/inf" "$DS_PREFIX/etc/dirsrv" \
		"$DS_PREFIX/var/lib/dirsrv" "$DS_PREFIX/var/log/dirsrv" "$DS_PREFIX/run/dirsrv" \
		"$DS_PREFIX/run/lock/dirsrv" "$DS_PREFIX/lib/dirsrv" "$DS_PREFIX/tmp" \
		"$DS_PREFIX/dbhome" "$DS_PREFIX/ldif"; do
		mkdir -p "$d" && chmod 755 "$d"
	done
	chmod 1777 "$DS_PREFIX/tmp"
	chown dirsrv:dirsrv "$DS_PREFIX/run/dirsrv" "$DS_PREFIX/run/lock/dirsrv" \
		"$DS_PREFIX/dbhome" "$DS_PREFIX/run"
	cp -r /etc/dirsrv/schema /etc/dirsrv/config "$DS_PREFIX/etc/dirsrv/" 2>/dev/null ||
		die "no /etc/dirsrv/schema or config (389-ds-base installed?)"
	# every instance path under the prefix; no systemd
	sed -e "s|^with_systemd = .*|with_systemd = 0|" \
	    -e "s|= /etc/|= $DS_PREFIX/etc/|" -e "s|= /var/|= $DS_PREFIX/var/|" \
	    -e "s|= /run/|= $DS_PREFIX/run/|" -e "s|^tmp_dir = .*|tmp_dir = $DS_PREFIX/tmp|" \
	    -e "s|^local_state_dir = .*|local_state_dir = $DS_PREFIX/var|" \
	    -e "s|^inst_dir = .*|inst_dir = $DS_PREFIX/lib/dirsrv/slapd-{instance_name}|" \
	    -e "s|^db_home_dir = .*|db_home_dir = $DS_PREFIX/dbhome/slapd-{instance_name}|" \
	    -e "s|^tmpfiles_d = .*|tmpfiles_d = $DS_PREFIX/tmp|" \
	    -e "s|^initconfig_dir = .*|initconfig_dir = $DS_PREFIX/etc/default|" \
	    /usr/share/dirsrv/inf/defaults.inf > "$DS_PREFIX/share/dirsrv/inf/defaults.inf"
	mkdir -p "$DS_PREFIX/etc/default"
	cat > "$inf" <<INF
[general]
full_machine_name = localhost
start = False
strict_host_checking = False
selinux = False
systemd = False
[slapd]
instance_name = $DS_INST
port = 0
secure_port = 0
root_password = $DS_ROOTPW
self_sign_cert = False
[backend-userroot]
suffix = $SUFFIX
sample_entries = no
create_suffix_entry = False
INF
	out=$(dsx dscreate from-file "$inf" 2>&1) ||
		die "dscreate failed: $(printf '%s' "$out" | tail -n 5)"
	ds_stop_any
	# TLS: the bench's CA (trusted for clients: CT,,) and server certificate
	dsx dsctl "$DS_INST" tls import-ca "$PKI/ca.crt" benchCA >/dev/null 2>&1 ||
		die "dsctl tls import-ca failed"
	dsx dsctl "$DS_INST" tls import-server-key-cert "$PKI/server.crt" "$PKI/server.key" \
		>/dev/null 2>&1 || die "dsctl tls import-server-key-cert failed"
	certutil -L -d "$DS_CONF" -n benchCA | grep -q 'Trusted Client CA' ||
		certutil -M -d "$DS_CONF" -n benchCA -t CT,, || die "cannot trust the CA"
	# certmap: CN=<uid> -> (cn=<uid>) anywhere; the presented certificate must
	# be one of the entry's userCertificate values
	cat > "$DS_CONF/certmap.conf" <<MAP
certmap default default
default:DNComps
default:FilterComps cn
default:VerifyCert on
MAP
	# ports and listen address, TLS on, logs off: in dse.ldif, stopped
	p=$(free_port); echo "ldaps://127.0.0.1:$p/" > "$DS_PREFIX/uri.ldaps"
	echo "ldapi://$(printf '%s' "$DS_PREFIX/run/slapd-$DS_INST.socket" | sed 's|/|%2F|g')/" \
		> "$DS_PREFIX/uri.ldapi"
	"$PY" - "$DS_CONF/dse.ldif" "$p" "$(free_port)" "$DS_PREFIX/run/slapd-$DS_INST.socket" <<'PY' ||
import sys
path, sport, port, sock = sys.argv[1:5]
text = open(path).read().replace("\n ", "")  # unfold
blocks = text.strip("\n").split("\n\n")
def setattrs(block, attrs):
    lines = [l for l in block.split("\n")
             if l.split(":", 1)[0].lower() not in {a.lower() for a in attrs}]
    return "\n".join(lines + [f"{a}: {v}" for a, v in attrs.items()])
out = []
seen = set()
for b in blocks:
    dn = b.split("\n", 1)[0].lower()
    if dn == "dn: cn=config":
        b = setattrs(b, {
            "nsslapd-port": port, "nsslapd-listenhost": "127.0.0.1",
            "nsslapd-securePort": sport, "nsslapd-securelistenhost": "127.0.0.1",
            "nsslapd-security": "on",
            "nsslapd-ldapifilepath": sock, "nsslapd-ldapilisten": "on",
            "nsslapd-ldapiautobind": "on",
            "nsslapd-ldapimaprootdn": "cn=Directory Manager",
            "nsslapd-accesslog-logging-enabled": "off",
            "nsslapd-securitylog-logging-enabled": "off",
            "nsslapd-auditlog-logging-enabled": "off",
        })
        seen.add("config")
    elif dn == "dn: cn=encryption,cn=config":
        b = setattrs(b, {"nsSSLClientAuth": "allowed", "nsSSL3": "off"})
        seen.add("enc")
    elif dn == "dn: cn=rsa,cn=encryption,cn=config":
        seen.add("rsa")
    out.append(b)
if "rsa" not in seen:
    out.append("dn: cn=RSA,cn=encryption,cn=config\nobjectClass: top\n"
               "objectClass: nsEncryptionModule\ncn: RSA\nnsSSLPersonalitySSL: Server-Cert\n"
               "nsSSLToken: internal (software)\nnsSSLActivation: on")
if seen & {"config", "enc"} != {"config", "enc"}:
    sys.exit("dse.ldif: cn=config or cn=encryption missing")
open(path, "w").write("\n\n".join(out) + "\n\n")
PY
		die "cannot edit dse.ldif"
	chown dirsrv:dirsrv "$DS_CONF/dse.ldif" "$DS_CONF/certmap.conf"
}

# stop whatever ns-slapd the instance's own pidfile names (dscreate's start)
ds_stop_any() {
	local pid i
	pid=$(cat "$DS_PIDFILE" 2>/dev/null) || true
	if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
	   tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "ns-slapd.*$DS_CONF"; then
		kill "$pid"
		for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$DS_PIDFILE"
}

# ds_ldif IN OUT: gen-users' LDIF for 389 (see the top of this file)
ds_ldif() {
	awk '
	/^dn: / { dn = $0 }
	/^objectClass: certpin/ { next }
	/^(certpinThumbprint|certpinCertInfo|userPassword|msRTCSIP-PrimaryUserAddress|userPrincipalName|sAMAccountName):/ { next }
	/^certpinCertificate;binary::/ { sub(/^certpinCertificate;binary::/, "userCertificate;binary::"); print; next }
	/^uid: / { print; print "cn: " substr($0, 6); next }
	{ print }' "$1" > "$2"
}

ds_load() {
	local f=$DS_PREFIX/ldif/users.ldif out
	cp "$1" "$f" && chmod 644 "$f"
	out=$(dsx dsctl "$DS_INST" ldif2db userRoot "$f" 2>&1) ||
		die "389 import failed: $(printf '%s' "$out" | tail -n 5)"
	rm -f "$f"
}

ds_start() {
	local i
	rm -f "$DS_PIDFILE" "$DS_PREFIX/ns-slapd.pid"
	/usr/sbin/ns-slapd -D "$DS_CONF" -i "$DS_PIDFILE" > "$DS_PREFIX/ns-slapd.out" 2>&1 ||
		die "ns-slapd did not start: $(tail -n 5 "$DS_PREFIX/var/log/dirsrv/slapd-$DS_INST/errors")"
	for i in $(seq 1 300); do
		if [ -s "$DS_PIDFILE" ] &&
		   ldapsearch -x -H "$(ds_uri ldapi)" -s base -b "" >/dev/null 2>&1; then
			cp "$DS_PIDFILE" "$DS_PREFIX/ns-slapd.pid"
			return 0
		fi
		sleep 0.1
	done
	die "389 did not start: $(tail -n 5 "$DS_PREFIX/var/log/dirsrv/slapd-$DS_INST/errors")"
}

ds_stop() {
	local pid i
	pid=$(cat "$DS_PREFIX/ns-slapd.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	for i in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$DS_PREFIX/ns-slapd.pid"
}

# Listens on loopback only?
ds_check_loopback() {
	local pid=$1 bad
	bad=$(ss -Htlnp 2>/dev/null | grep "pid=$pid," | awk '{ print $4 }' |
		grep -v '^127\.0\.0\.1:' || true)
	[ -z "$bad" ] || die "389 listens beyond loopback: $bad"
	ss -Htlnp | grep -q "pid=$pid," || die "389 listens on no TCP port"
}
