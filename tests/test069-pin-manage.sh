#!/bin/bash
# test069-pin-manage: certpin-pin (set from a file, standard input or
# generated; lock, unlock, info for users, lists and --all, -n, -c, table,
# LDIF and JSON) and the PIN policy (common patterns, history, lifetime)
# against a real slapd, with its refusals and bad input: no PIN on a
# command line, in a log or in an error message; unknown user; ambiguous
# display name; a user without a PIN; an already locked PIN.  The
# maintained state (certpinPINChanged, certpinPINExpires, certpinPINLock,
# certpinPINLockout) is written with the change, never by clients.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-provision.sh"

PIN=$TOOLS/certpin-pin
[ -x "$PIN" ] || die "certpin-pin not built (run make)"
command -v jq >/dev/null || die "jq is missing (run scripts/install-deps)"
command -v setsid >/dev/null || die "setsid is missing (util-linux)"

pki_standard
prov_conf 1 "certpin-pin-history 2
certpin-pin-lifetime 30"
sed -i 's|^access to attrs=certpinPIN,certpinPINFailure |access to attrs=certpinPIN,certpinPINFailure,certpinPINLock |' \
	"$TESTDIR/srv1/slapd.conf"
srv_start 1
prov_base 1
add_user jdoe2 "John Doe" || die "cannot add jdoe2"
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
ADMIN="uid=certadmin,$PEOPLE"
LDAPI=$(srv_uri 1 ldapi)
LDAPS=$(srv_uri 1 ldaps)
root_modify >/dev/null <<LDIF || die "cannot set ken's phone"
dn: $KEN
changetype: modify
add: telephoneNumber
telephoneNumber: +1 425 555 0100
LDIF
csr dev

pin() { "$PIN" -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" "$@"; }
pin_as() { local dn=$1 pw=$2; shift 2; "$PIN" -x -D "$dn" -w "$pw" -H "$LDAPI" "$@"; }
pinfile() { printf '%s\n' "$1" > "$TESTDIR/pin.in"; chmod 600 "$TESTDIR/pin.in"; echo "$TESTDIR/pin.in"; }
prove() { issue -H "$LDAPS" -r "$PKI/dev.csr.der" -p "+1 425 555 0100" -P "$1"; }
attr() { root_search -b "$1" -s base "$2" | sed -n "s/^$2: //p"; }
info_json() { pin info --output=json "$@" 2>/dev/null; }
ALLPINS="735194 846205 957316 628417 402957 502957"

# ---- set ---------------------------------------------------------------------
check_rc_out 0 "set ken's PIN from a file" "1 of 1 user changed" pin set --pin-file "$(pinfile 735194)" "$KEN"
check_out "it is stored hashed" '^certpinPIN: \{SSHA\}' \
	/usr/sbin/slapcat -f "$TESTDIR/srv1/slapd.conf" -a "(uid=kenmyer)"
check_out "certpinPINChanged is written with it" '^[0-9]{14}Z$' attr "$KEN" certpinPINChanged
exp=$(attr "$KEN" certpinPINExpires)
want=$(date -u -d "+30 days" +%Y%m%d)
check_eq "certpinPINExpires is 30 days later (certpin-pin-lifetime 30)" "$want" "${exp:0:8}"
check_rc_out 0 "the PIN proves ken" "^issued" prove 735194
check_rc_out 0 "set from standard input, ken named by display name" "1 of 1 user changed" \
	sh -c "printf '846205\n' | \"$PIN\" -x -D '$ROOTDN' -w '$ROOTPW' -H '$LDAPI' set --pin-file - 'Ken Myer'"
check_rc_out 0 "the new PIN proves ken" "^issued" prove 846205
check_rc_out 2 "a PIN on the command line is refused" "never given on the command line" \
	pin set --pin 957316 "$KEN"
check_eq "and not repeated" 0 "$(pin set --pin=957316 "$KEN" 2>&1 | grep -c 957316)"
check_rc_out 2 "a PIN given as an operand: refused, one identity only" "one identity" \
	pin set "$KEN" 957316
check_rc_out 1 "no terminal and no --pin-file: a clear error" "terminal" \
	setsid "$PIN" -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" set "$KEN" </dev/null
check_rc_out 2 "--pin-file - without an identity argument" "identity as an argument" \
	pin set --pin-file - </dev/null
# the prompt: a pseudo-terminal types the PIN twice (python3's pty)
cat > "$TESTDIR/typepin.py" <<'PY'
import os, pty, sys, time
pins = sys.argv[1:3]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[3], sys.argv[3:])
out, i = b"", 0
while True:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    out += data
    if i < 2 and out.count(b"PIN") > i:
        time.sleep(0.1)
        os.write(fd, pins[i].encode() + b"\n")
        i += 1
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
PY
check_rc_out 0 "set from the terminal prompt, typed twice" "1 of 1 user changed" \
	"$PY" "$TESTDIR/typepin.py" 402957 402957 "$PIN" -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" set "$KEN"
check_rc_out 0 "the typed PIN proves ken" "^issued" prove 402957
check_rc_out 1 "two different PINs typed: nothing changed" "differ" \
	"$PY" "$TESTDIR/typepin.py" 402957 502957 "$PIN" -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" set "$KEN"
check_eq "the PIN typed is not echoed" 0 "$("$PY" "$TESTDIR/typepin.py" 402957 502957 "$PIN" -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" set "$KEN" | grep -c 402957)"
check_rc_out 1 "--confirm without a terminal: a clear error" "needs a terminal" \
	setsid "$PIN" -x -D "$ROOTDN" -w "$ROOTPW" -H "$LDAPI" lock --confirm "$KEN" </dev/null
check_rc_out 50 "ken may not set his own PIN" "administrators only" \
	pin_as "$KEN" pw-kenmyer set --pin-file "$(pinfile 957316)" "$KEN"
check_rc_out 0 "a member of certpin-admin-group may" "1 of 1 user changed" \
	pin_as "$ADMIN" pw-certadmin set --pin-file "$(pinfile 957316)" "$KEN"

# ---- policy --------------------------------------------------------------------------
before=$(snapshot "$KEN")
for bad in 111111 123456 654321 890123 121212 5550100 14255550100; do
	out=$(pin set --pin-file "$(pinfile $bad)" "$KEN" 2>&1) && rc=0 || rc=$?
	if [ $rc -eq 19 ] && printf '%s' "$out" | grep -q "common pattern" &&
	   ! printf '%s' "$out" | grep -qF "$bad"; then
		ok "common pattern $bad is refused without being quoted"
	else
		notok "common pattern $bad: exit $rc: $out"
	fi
done
check_out "the phone number's refusal says why" "phone number" \
	pin set --pin-file "$(pinfile 5550100)" "$KEN"
check_rc_out 19 "history: the current PIN again is refused" "last 2" \
	pin set --pin-file "$(pinfile 957316)" "$KEN"
check_rc_out 19 "history: the previous one too" "last 2" \
	pin set --pin-file "$(pinfile 402957)" "$KEN"
check_eq "the refusals changed nothing" "$before" "$(snapshot "$KEN")"
check "a third PIN is accepted" pin set --pin-file "$(pinfile 628417)" "$KEN"
check "now the oldest of the last 2 is forgotten: 402957 is accepted again" \
	pin set --pin-file "$(pinfile 402957)" "$KEN"
check_eq "certpinPINHistory is never readable, even by the root DN" "" \
	"$(root_search -b "$KEN" -s base certpinPINHistory '*' '+' | grep -i '^certpinPINHistory')"
check_eq "but holds two hashes" 2 \
	"$(/usr/sbin/slapcat -f "$TESTDIR/srv1/slapd.conf" -a "(uid=kenmyer)" | grep -c '^certpinPINHistory: ')"
check_rc_out 19 "clients cannot write certpinPINChanged" "maintained by the certpin overlay" root_modify <<LDIF
dn: $KEN
changetype: modify
replace: certpinPINChanged
certpinPINChanged: 20000101000000Z
LDIF
check_rc_out 19 "nor certpinPINExpires, even the root DN" "maintained by the certpin overlay" root_modify <<LDIF
dn: $KEN
changetype: modify
delete: certpinPINExpires
LDIF

# ---- info ------------------------------------------------------------------------------
j=$(info_json "$KEN" uid=pilar,$PEOPLE)
check_eq "info: ken's PIN is set" set "$(printf '%s' "$j" | jq -r '.[0].PIN')"
check_eq "info: Changed is today" "$(date -u +%Y-%m-%d)" "$(printf '%s' "$j" | jq -r '.[0].Changed' | cut -c1-10)"
check_eq "info: Expires in 30 days" "$(date -u -d '+30 days' +%Y-%m-%d)" "$(printf '%s' "$j" | jq -r '.[0].Expires' | cut -c1-10)"
check_eq "info: not locked, no failures" "no 0" "$(printf '%s' "$j" | jq -r '.[0].Locked + " " + (.[0].Failures|tostring)')"
check_eq "info: pilar (a user without a PIN) has none" "not set" "$(printf '%s' "$j" | jq -r '.[1].PIN')"
check_out "info as a table" "^uid=kenmyer,ou=people,dc=example,dc=com	set	" pin info "$KEN"
check_out "info as LDIF" "^PIN: set$" pin info --output=ldif "$KEN"
check_rc_out 32 "info of an unknown user: noSuchObject" "no such user|No such" pin info "Nobody Here"
check_rc_out 1 "info of an ambiguous display name: refused, matches listed" "jdoe2" pin info "John Doe"
n=$(info_json --all | jq length)
check_eq "info --all lists every certpinUser" "$(root_search -b "$SUFFIX" '(objectClass=certpinUser)' dn | grep -c '^dn:')" "$n"
check_rc_out 2 "--all takes no identities" "no identities" pin info --all "$KEN"

# ---- generate ----------------------------------------------------------------------------
out=$(pin set --generate --output=json "$KEN" "$PILAR" 2>/dev/null)
kpin=$(printf '%s' "$out" | jq -r '.[0].PIN')
check_out "generate: two users, one PIN each, printed once" '^[0-9]{8} [0-9]{8}$' \
	echo "$kpin $(printf '%s' "$out" | jq -r '.[1].PIN')"
ALLPINS="$ALLPINS $kpin"
check_rc_out 0 "the generated PIN proves ken" "^issued" prove "$kpin"
check_out "generate --length 12 as a table" '^uid=kenmyer,.*	[0-9]{12}$' pin set --generate --length 12 "$KEN"
before=$(snapshot "$KEN")
check_rc_out 0 "-n: generate shows what it would do" "^!generating a PIN for \"$KEN\"" pin set --generate -n "$KEN"
check_eq "and changes nothing" "$before" "$(snapshot "$KEN")"
check_rc_out 2 "--length outside 4..64 is refused" "--length" pin set --generate --length 3 "$KEN"
pin set --pin-file "$(pinfile 735194)" "$KEN" >/dev/null 2>&1 ||
	pin set --pin-file "$(pinfile 402957)" "$KEN" >/dev/null 2>&1
KPIN=$(prove 735194 >/dev/null 2>&1 && echo 735194 || echo 402957)
ALLPINS="$ALLPINS 402957"

# ---- lock, unlock --------------------------------------------------------------------------
check_rc_out 0 "lock ken's PIN with a reason" "1 of 1 user changed" pin lock --reason "phone stolen" "$KEN"
j=$(info_json "$KEN")
check_eq "info: locked by an administrator, by the root DN, with the reason" \
	"administrator|$ROOTDN|phone stolen" "$(printf '%s' "$j" | jq -r '.[0] | .Locked + "|" + .LockedBy + "|" + .LockReason')"
check_rc_out 19 "a locked PIN does not prove ken, even the right one" "locked by an administrator" prove "$KPIN"
check_eq "and counts no failure" 0 "$(info_json "$KEN" | jq '.[0].Failures')"
check_rc_out 0 "locking an already locked PIN is no error" "1 of 1 user changed" pin lock "$KEN"
check_rc_out 50 "ken cannot lock or unlock himself" "administrators only" pin_as "$KEN" pw-kenmyer unlock "$KEN"
check_rc_out 0 "unlock" "1 of 1 user changed" pin unlock "$KEN"
check_eq "info: not locked" no "$(info_json "$KEN" | jq -r '.[0].Locked')"
check_rc_out 0 "the PIN proves ken again" "^issued" prove "$KPIN"
check_rc_out 0 "unlocking a user who is not locked is no error" "1 of 1 user changed" pin unlock "$PILAR"
for i in 1 2 3 4 5; do prove "29384$i" >/dev/null 2>&1; done
j=$(info_json "$KEN")
check_eq "five wrong PINs: locked by failures, with the count and until when" "failures 5 true" \
	"$(printf '%s' "$j" | jq -r '.[0] | .Locked + " " + (.Failures|tostring) + " " + (.LockoutUntil != null | tostring)')"
check_rc_out 19 "the right PIN is refused while locked out" "PIN locked" prove "$KPIN"
check "unlock clears the lockout" pin unlock "$KEN"
check_eq "info: no failures, not locked" "no 0" "$(info_json "$KEN" | jq -r '.[0].Locked + " " + (.[0].Failures|tostring)')"
check_eq "certpinPINLockout is gone" "" "$(attr "$KEN" certpinPINLockout)"
check_rc_out 0 "the PIN proves ken" "^issued" prove "$KPIN"
before=$(snapshot "$KEN")
check_rc_out 0 "-n lock changes nothing" "^!locking the PIN of" pin lock -n "$KEN"
check_eq "(entry unchanged)" "$before" "$(snapshot "$KEN")"
check_rc_out 32 "without -c the run stops at an unknown user" "1 error" pin lock "Nobody Here" "$PILAR"
check_eq "pilar was not reached" "no" "$(info_json "$PILAR" | jq -r '.[0].Locked')"
check_rc_out 32 "with -c it goes on and exits with the error" "1 of 2 users changed|1 of 1 user changed" \
	pin lock -c "Nobody Here" "$PILAR"
check_eq "pilar is locked" administrator "$(info_json "$PILAR" | jq -r '.[0].Locked')"

# ---- lifetime ------------------------------------------------------------------------------
srv_stop 1
/usr/sbin/slapcat -f "$TESTDIR/srv1/slapd.conf" -b "$SUFFIX" > "$TESTDIR/dump.ldif" 2>/dev/null
sed -i "/^dn: $KEN\$/,/^\$/s/^certpinPINExpires: .*/certpinPINExpires: 20200101000000Z/" "$TESTDIR/dump.ldif"
rm -f "$TESTDIR"/srv1/db/*.mdb
/usr/sbin/slapadd -q -f "$TESTDIR/srv1/slapd.conf" -b "$SUFFIX" -l "$TESTDIR/dump.ldif" >/dev/null 2>&1 ||
	die "cannot reload the database"
srv_start 1
check_eq "info: the PIN has expired" expired "$(info_json "$KEN" | jq -r '.[0].PIN')"
check_rc_out 49 "an expired PIN no longer proves ken" "has expired" prove "$KPIN"
check_rc_out 49 "a wrong one gets the usual answer" "wrong PIN" prove 999111
check "after a reset" pin set --pin-file "$(pinfile 517384)" "$KEN"
check_rc_out 0 "the new PIN proves ken" "^issued" prove 517384
ALLPINS="$ALLPINS 517384"

# ---- cn=config --------------------------------------------------------------------------
FE="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
check_out "cn=config shows the policy" "^olcCertpinPINHistory: 2$" \
	ldapsearch -LLL -Q -Y EXTERNAL -H "$LDAPI" -b "$FE" -s base olcCertpinPINHistory olcCertpinPINLifetime olcCertpinPINAllowCommonPatterns
check "olcCertpinPINAllowCommonPatterns TRUE over cn=config" cfg_set "$FE" olcCertpinPINAllowCommonPatterns TRUE
check "then a common pattern is accepted" pin set --pin-file "$(pinfile 123456)" "$KEN"
check "olcCertpinPINLifetime 0 over cn=config" cfg_set "$FE" olcCertpinPINLifetime 0
check "a new PIN" pin set --pin-file "$(pinfile 864209)" "$KEN"
check_eq "never expires" never "$(info_json "$KEN" | jq -r '.[0].Expires')"
check_rc_out 80 "a lifetime beyond 3650 days is refused" "" cfg_set "$FE" olcCertpinPINLifetime 4000
ALLPINS="$ALLPINS 123456 864209"

# ---- no PIN in the log --------------------------------------------------------------------
n=0
for v in $ALLPINS; do grep -qF -- "$v" "$TESTDIR/srv1/slapd.log" && n=$((n + 1)); done
check_eq "no PIN set or generated here appears in slapd's log" 0 "$n"
check "slapd is alive" srv_alive 1

done_testing
