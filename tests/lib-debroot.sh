# tests/lib-debroot.sh - the package tests (test095 Debian 12, test096
# Debian 13); sourced after tests/lib.sh.
#
# debroot_walkthrough SUITE: build certpin's packages for SUITE
# (scripts/package), copy the cached clean root (scripts/root copy), and
# inside it run every ```sh block of doc/cn-config.md in order, as root, in
# one shell with `set -e`: install the packages with apt, enable certpin on
# the packaged cn=config slapd (started here on 127.0.0.1 and ldapi, not as
# a service: `systemctl` is a shell function doing what Debian's unit does),
# record a certificate, log on, revoke, log on again, strong mapping,
# removal and purge.  Then checks what each block printed and what the
# packages did to the root.
# Host-only (certpin-host-only): it drives Debian roots itself.

WALK=$SRCDIR/doc/cn-config.md
[ -f "$WALK" ] || die "doc/cn-config.md missing"
[ "$(id -u)" -eq 0 ] || die "the package tests need root (debootstrap, chroot)"

debroot_cleanup() {
	local pf=${DEBROOT:-}/run/slapd/slapd.pid pid i
	if [ -n "${DEBROOT:-}" ] && [ -s "$pf" ]; then
		pid=$(cat "$pf")
		kill "$pid" 2>/dev/null
		for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
	fi
	[ -n "${DEBROOT:-}" ] && [ -z "${CERTPIN_KEEP:-}" ] && rm -rf "$DEBROOT"
	cleanup
}
trap debroot_cleanup EXIT

# block N: what block N of the walkthrough printed
block() { sed -n "/^### block $1\$/,/^### block /p" "$DEBOUT" | sed '1d;$d'; }

debroot_walkthrough() {
	local suite=$1 debs n ver
	debs=$("$SRCDIR/scripts/package" "$suite" 2>"$TESTDIR/package.err") ||
		die "scripts/package $suite failed: $(tail -n 20 "$TESTDIR/package.err")"
	ok "dpkg-buildpackage -us -uc -b for $suite: $(cd "$debs" && ls slapd-certpin_*.deb certpin-tools_*.deb | tr '\n' ' ')"
	DEBROOT=/var/cache/certpin/work/$TESTNAME.$$
	mkdir -p /var/cache/certpin/work
	"$SRCDIR/scripts/root" copy "$suite" "$DEBROOT" || die "cannot copy the clean $suite root"
	ok "a clean $suite root (debootstrap minbase, cached)"
	check_eq "no slapd in the clean root before" "" \
		"$("$SRCDIR/scripts/root" run "$DEBROOT" dpkg-query -W -f='${Status}' slapd 2>/dev/null | grep 'ok installed')"
	mkdir -p "$DEBROOT/root/debs"
	cp "$debs"/slapd-certpin_*.deb "$debs"/certpin-tools_*.deb "$DEBROOT/root/debs/"
	echo "127.0.0.1 ldap.example.com" >> "$DEBROOT/etc/hosts"
	# The walkthrough's blocks, and a driver that runs them in one shell.
	mkdir -p "$DEBROOT/root/walk"
	awk 'BEGIN { n = 0 } /^```sh$/ { n++; out = sprintf("%s/root/walk/%02d.sh", root, n); inb = 1; next }
	     /^```$/ && inb { inb = 0; close(out); next } inb { print > out }' root="$DEBROOT" "$WALK"
	n=$(ls "$DEBROOT"/root/walk/*.sh | wc -l)
	check "the walkthrough has its command blocks ($n)" test "$n" -ge 10
	cat > "$DEBROOT/root/driver.sh" <<'DRIVER'
#!/bin/bash
# What Debian's slapd unit does, on 127.0.0.1 and ldapi only.
systemctl() {
	local i
	case "$1 $2" in
	"start slapd")
		. /etc/default/slapd
		install -d -o openldap -g openldap /run/slapd
		/usr/sbin/slapd -h "$(printf '%s' "$SLAPD_SERVICES" | sed 's|ldap:///|ldap://127.0.0.1/|; s|ldaps:///|ldaps://127.0.0.1/|')" \
			-g openldap -u openldap -F /etc/ldap/slapd.d ${SLAPD_OPTIONS:-} || return 1
		for i in $(seq 1 100); do
			ldapsearch -x -H ldapi:/// -s base -b "" >/dev/null 2>&1 && return 0
			sleep 0.1
		done
		echo "slapd did not start" >&2; return 1 ;;
	"stop slapd")
		local pid
		pid=$(cat /run/slapd/slapd.pid 2>/dev/null) || return 0
		kill "$pid"
		for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
		return 1 ;;
	"restart slapd") systemctl stop slapd && systemctl start slapd ;;
	*) echo "systemctl $*: not in this test" >&2; return 1 ;;
	esac
}
export DEBIAN_FRONTEND=noninteractive
# What the administrator answers to `dpkg-reconfigure slapd`.
debconf-set-selections <<'SEL'
slapd slapd/domain string example.com
slapd shared/organization string Example
slapd slapd/password1 password secret
slapd slapd/password2 password secret
SEL
trap 'systemctl stop slapd' EXIT
set -e
for b in /root/walk/*.sh; do
	echo "### block $(basename "$b" .sh)"
	cd /root/debs
	. "$b"
	# the packages' slapd does not start in a root (policy-rc.d): as the
	# service would after the installation
	if [ "$(basename "$b")" = 01.sh ]; then
		dpkg --verify slapd > /root/verify-after-install.txt 2>&1 || true
		dpkg -L slapd-certpin certpin-tools > /root/certpin-files.txt
		systemctl start slapd
	fi
	case "$(cat "$b")" in *"apt-get purge"*) ;; *)
		find /etc /usr /var/lib -xdev | sort > /root/files-before-purge.txt ;; esac
done
echo "### block end"
systemctl stop slapd
dpkg --verify slapd > /root/verify-after-purge.txt 2>&1 || true
DRIVER
	DEBOUT=$TESTDIR/walk.out
	"$SRCDIR/scripts/root" run "$DEBROOT" /bin/bash /root/driver.sh >"$DEBOUT" 2>&1 && rc=0 || rc=$?
	check_eq "every command of the walkthrough ran (exit status)" 0 "$rc"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$DEBOUT" | tail -n 40

	ver=$("$SRCDIR/scripts/root" run "$DEBROOT" dpkg-query -W -f='${Version}' slapd)
	check_out "slapd-certpin depends on exactly the slapd it was built for ($ver)" \
		"slapd \(= $(printf '%s' "$ver" | sed 's/[.+]/\\&/g')\)" dpkg-deb -f "$(ls "$debs"/slapd-certpin_*.deb)" Depends
	check_eq "apt installed no build tool (runtime path)" "" \
		"$(grep -E '^Setting up (gcc|cpp|make|clang|binutils|lib[a-z0-9.-]*-dev|autoconf|automake|libtool|valgrind|dpkg-dev)[ :]' "$DEBOUT" | head -n 5)"
	check_eq "dpkg --verify slapd is clean after installing certpin" "" "$(cat "$DEBROOT/root/verify-after-install.txt" 2>&1)"
	local owned=
	while IFS= read -r f; do
		[ -f "$DEBROOT$f" ] || [ -L "$DEBROOT$f" ] || continue
		o=$("$SRCDIR/scripts/root" run "$DEBROOT" dpkg -S "$f" 2>/dev/null | sed 's/: .*//')
		case "$o" in slapd-certpin|certpin-tools) ;; *) owned="$owned $f($o)" ;; esac
	done < "$DEBROOT/root/certpin-files.txt"
	check_eq "dpkg -S: every file of the packages is theirs alone" "" "$owned"
	check_out "the packages hold the module, the schema and the tools" \
		"/usr/lib/ldap/certpin.la" cat "$DEBROOT/root/certpin-files.txt"
	local tool
	for tool in certpin-get certpin-revoke certpin-issue certpin-test certpin-pin; do
		check_eq "certpin-tools holds $tool and its man page" 2 \
			"$(grep -cE "^/usr/(bin/$tool|share/man/man1/$tool\.1(\.gz)?)\$" "$DEBROOT/root/certpin-files.txt")"
	done
	check_out "... certpin-sip.schema (no msuser.*)" "/etc/ldap/schema/certpin-sip.schema" \
		sh -c "grep -v msuser '$DEBROOT/root/certpin-files.txt'"

	# What each step printed.
	check_out "module + schema loaded over ldapi -Y EXTERNAL" "adding new entry \"cn=certpin-sip,cn=schema,cn=config\"" block 05
	check_out "both overlay entries added" "adding new entry \"olcOverlay=certpin,olcDatabase=\{1\}mdb,cn=config\"" block 06
	check_out "the local root reads the certificate it recorded (Debian's peercred rule kept)" \
		" [0-9a-f]{64} +[^ ]+ +uid=kenmyer,ou=people,dc=example,dc=com$" block 09
	check_out "the device logs on (StartTLS) with its certificate" "^dn:uid=kenmyer,ou=people,dc=example,dc=com$" block 10
	check_out "certpin-revoke revokes" "1 certificate revoked for 1 user" block 10
	check_out "the next logon is refused" "refused: exit status 49" block 10
	check_out "certpin-get --revoked lists the revocation" "^RevocationTime .*Thumbprint" block 10
	check_out "strong mapping: a certificate with another subject logs on as its holder" \
		"^dn:uid=kenmyer,ou=people,dc=example,dc=com$" block 11
	check_out "after removal slapd starts again and the entry keeps its data" \
		"^certpinThumbprint: [0-9a-f]{64}" block 13

	# Purge: only certpin's files went, slapd's are intact.
	check_eq "dpkg --verify slapd is clean after the purge" "" "$(cat "$DEBROOT/root/verify-after-purge.txt" 2>&1)"
	local gone
	gone=$(comm -23 "$DEBROOT/root/files-before-purge.txt" <(find "$DEBROOT/etc" "$DEBROOT/usr" "$DEBROOT/var/lib" -xdev | sed "s|^$DEBROOT||" | sort) |
		grep -vxF -f "$DEBROOT/root/certpin-files.txt" |
		grep -vE '^/var/lib/dpkg/info/(slapd-certpin|certpin-tools)\.|^/usr/share/doc/(slapd-certpin|certpin-tools)$' || true)
	check_eq "the purge removed certpin's files and nothing else" "" "$gone"
	check_eq "none of certpin's files is left" "" \
		"$(while IFS= read -r f; do [ -f "$DEBROOT$f" ] && echo "$f"; done < "$DEBROOT/root/certpin-files.txt")"
	check_out "slapd is still installed" "install ok installed" \
		"$SRCDIR/scripts/root" run "$DEBROOT" dpkg-query -W -f='${Status}' slapd
}
