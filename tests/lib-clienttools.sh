# tests/lib-clienttools.sh - shared by the tests of certpin-issue and
# certpin-test; sourced after tests/lib.sh.  Uses the provisioning server
# set-up of tests/lib-provision.sh and the Active Directory names of
# tests/lib-tools.sh.

. "$SRCDIR/tests/lib-provision.sh"
. "$SRCDIR/tests/lib-tools.sh"

ISSUE=$TOOLS/certpin-issue
CTEST=$TOOLS/certpin-test
CERTADMIN="uid=certadmin,$PEOPLE"
NOCERT="uid=nocert,$PEOPLE"
PHONE="+1 (555) 0100"
GOODPIN=482913
[ -x "$ISSUE" ] && [ -x "$CTEST" ] || die "certpin-issue/certpin-test not built (run make)"

# client_server N: srv N issuing certificates (the CA of pki_standard), the
# people of prov_base with AD names, certadmins allowed to revoke, Ken Myer with a phone number and the
# PIN $GOODPIN, and uid=nocert, a user without certpinUser.  Exports the
# URIs and the trust option every tool call needs (the tests run with
# LDAPNOINIT, so ldap.conf and LDAPTLS_* are not read).
client_server() {
	local n=$1
	# certificate administrators revoke (delete) certificates, as users
	# revoke their own
	SRV_ACL="access to attrs=certpinCertificate,certpinRevoked
	by group.exact=\"$ADMINS\" write
	by self write
	by * break" prov_conf "$n"
	# SRV_TAIL (optional): lines appended to slapd.conf (e.g. a monitor database)
	[ -z "${SRV_TAIL:-}" ] || printf '%s\n' "$SRV_TAIL" >> "$TESTDIR/srv$n/slapd.conf"
	srv_start "$n"
	prov_base "$n"
	export SRV=$n
	ad_names kenmyer sip:kenmyer@example.com kenmyer@example.com kenmyer || die "ad names"
	ad_names pilar sip:pilar@example.com pilar@example.com pilar || die "ad names"
	root_modify >/dev/null <<LDIF || die "cannot set Ken's phone and PIN"
dn: $KEN
changetype: modify
add: telephoneNumber
telephoneNumber: $PHONE
-
add: certpinPIN
certpinPIN: $GOODPIN
LDIF
	root_add >/dev/null <<LDIF || die "cannot add nocert"
dn: $NOCERT
objectClass: inetOrgPerson
uid: nocert
cn: No Cert
sn: Cert
userPassword: pw-nocert
LDIF
	URI_S=$(srv_uri "$n" ldaps)
	URI_L=$(srv_uri "$n" ldap)
	TRUST="-o TLS_CACERT=$PKI/ca.crt"
	printf '%s\n' "$GOODPIN" > "$TESTDIR/pin.good"
	printf '999999\n' > "$TESTDIR/pin.bad"
	chmod 600 "$TESTDIR/pin.good" "$TESTDIR/pin.bad"
}

# thumbprints DN: the entry's certpinThumbprint values, sorted
thumbprints() {
	root_search -b "$1" -s base certpinThumbprint | sed -n 's/^certpinThumbprint: //p' | sort
}

# nthumbs DN: how many certificates the entry holds
nthumbs() { thumbprints "$1" | grep -c . || true; }

# revoked_reason DN SHA256: the reason field of that revocation record
revoked_reason() {
	local rec
	rec=$(root_search -b "$1" -s base certpinRevoked | sed -n "s/^certpinRevoked: //p" |
		grep "sha256=$2" | head -n 1)
	field "$rec" reason
}

# file_mode FILE: octal permission bits
file_mode() { stat -c %a "$1"; }

# pem_pubkey FILE: the public key of a certificate, key or request, as PEM
cert_pubkey() { openssl x509 -in "$1" -noout -pubkey; }
key_pubkey() { openssl pkey -in "$1" -pubout; }

# on_tty ANSWER PROMPT CMD...: run CMD with a new pseudo-terminal as its
# controlling terminal (and stdin/stdout/stderr); when PROMPT appears,
# type ANSWER and Enter.  Prints everything the terminal showed; exits with
# CMD's status.
on_tty() {
	"$PY" - "$@" <<'PY'
import os, pty, select, sys, time
answer, prompt, argv = sys.argv[1].encode() + b"\n", sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out, sent, deadline = b"", False, time.time() + 30
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if not r:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and prompt in out:
        os.write(fd, answer)
        sent = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
PY
}

# no_tty CMD...: run CMD without a controlling terminal (a new session)
no_tty() { setsid -w "$@" </dev/null; }

# tty_interrupt PROMPT CMD...: run CMD on a new pseudo-terminal, press
# Control-C at PROMPT; prints "echo during: B, after: B" (the terminal's
# ECHO flag while CMD waits, and after CMD died).
tty_interrupt() {
	"$PY" - "$@" <<'PY'
import os, pty, select, sys, termios
prompt, argv = sys.argv[1].encode(), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b""
while prompt not in out:
    r, _, _ = select.select([fd], [], [], 10)
    if not r:
        break
    out += os.read(fd, 4096)
during = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
os.write(fd, b"\x03")
os.waitpid(pid, 0)
after = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
print("echo during: %s, after: %s" % (during, after))
PY
}
