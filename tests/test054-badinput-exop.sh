#!/bin/bash
# test054-badinput-exop: bad inputs to the certpinIssue extended operation
# (malformed BER, wrong tags and types, oversized and broken CSRs, missing
# or wrong fields, wrong credentials, injection) and to the tools
# (certpin-get, certpin-revoke, certpin-issue: wildcards, filter injection,
# malformed thumbprints, dates and files).  Each one gets a clear error,
# leaves the whole directory unchanged and slapd alive.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-hardening.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
prov_conf 1
srv_start 1
prov_base 1
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
LDAP=$(srv_uri 1 ldap)
LDAPI=$(srv_uri 1 ldapi)
root_modify >/dev/null <<LDIF || die "cannot set phone and PIN"
dn: $KEN
changetype: modify
add: telephoneNumber
telephoneNumber: +1 (425) 555-0100
-
replace: certpinPIN
certpinPIN: 461937
LDIF
record_cert kenmyer "$PKI/kenmyer.der" >/dev/null || die "cannot record ken's certificate"
csr good
check_rc_out 0 "a well-formed request is accepted (the baseline)" "^issued" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$PKI/good.csr.der" -V 24
G=$(od -An -tx1 -v "$PKI/good.csr.der" | tr -d ' \n')
glen=$(stat -c %s "$PKI/good.csr.der")
# DER length octets of N bytes, as hex
lenhex() { if [ "$1" -lt 128 ]; then printf '%02x' "$1"; elif [ "$1" -lt 256 ]; then printf '81%02x' "$1"; else printf '82%04x' "$1"; fi; }
seq_of() { local b=$1; printf '30%s%s' "$(lenhex $(( ${#b} / 2 )))" "$b"; }
OCT="04$(lenhex "$glen")$G"
as_pilar() { issue -H "$LDAP" -D "$PILAR" -w pw-pilar "$@"; }

# ---- the extended operation: BER ------------------------------------------------------
bad_cmd "exop: an empty request value" "malformed|protocol|Protocol" 2 as_pilar -x ""
bad_cmd "exop: one garbage byte" "malformed|protocol|Protocol" 2 as_pilar -x "ff"
bad_cmd "exop: a SET instead of a SEQUENCE" "malformed|protocol|Protocol" 2 as_pilar -x "31${OCT:0:0}$(seq_of "$OCT" | cut -c3-)"
bad_cmd "exop: a SEQUENCE whose length runs past the data" "malformed|protocol|Protocol" 2 as_pilar -x "3082ffff$OCT"
bad_cmd "exop: a 4-byte length of 4 GB" "malformed|protocol|Protocol" 2 as_pilar -x "3084ffffffff$OCT"
bad_cmd "exop: an indefinite length" "malformed|protocol|Protocol" 2 as_pilar -x "3080${OCT}0000"
bad_cmd "exop: bytes after the SEQUENCE" "malformed|protocol|Protocol" 2 as_pilar -x "$(seq_of "$OCT")00"
bad_cmd "exop: an empty SEQUENCE (no CSR)" "malformed|protocol|Protocol" 2 as_pilar -x "3000"
bad_cmd "exop: the CSR as an INTEGER" "malformed|protocol|Protocol" 2 as_pilar -x "$(seq_of "02$(lenhex "$glen")$G")"
bad_cmd "exop: an unknown field [7]" "malformed|protocol|Protocol" 2 as_pilar -x "$(seq_of "${OCT}8701ff")"
bad_cmd "exop: fields out of order ([3] before [0])" "malformed|protocol|Protocol" 2 \
	as_pilar -x "$(seq_of "${OCT}830118800a$(printf 'uid=pilar,' | od -An -tx1 | tr -d ' \n')")"
bad_cmd "exop: a field twice ([4] [4])" "malformed|protocol|Protocol" 2 as_pilar -x "$(seq_of "${OCT}840161840162")"
bad_cmd "exop: a negative validity" "malformed|protocol|Protocol" 2 as_pilar -x "$(seq_of "${OCT}8301e8")"
bad_cmd "exop: an empty validity" "malformed|protocol|Protocol" 2 as_pilar -x "$(seq_of "${OCT}8300")"
bad_cmd "exop: a constructed [0] identity" "malformed|protocol|Protocol" 2 as_pilar -x "$(seq_of "${OCT}a0030401ff")"

# ---- the extended operation: the CSR ----------------------------------------------------
head -c 600 /dev/urandom > "$TESTDIR/garbage"
openssl req -in "$PKI/good.csr.der" -inform DER -out "$TESTDIR/good.csr.pem"
cat "$PKI/good.csr.der" > "$TESTDIR/trail.der"; printf '\0' >> "$TESTDIR/trail.der"
head -c $((glen - 5)) "$PKI/good.csr.der" > "$TESTDIR/short.der"
cp "$PKI/good.csr.der" "$TESTDIR/badsig.der"
printf '\x01' | dd of="$TESTDIR/badsig.der" bs=1 seek=$((glen - 3)) conv=notrunc 2>/dev/null
head -c 20000 /dev/urandom > "$TESTDIR/big"
csr weak rsa:1024
bad_cmd "CSR: random bytes" "not a DER PKCS#10" 53 as_pilar -r "$TESTDIR/garbage"
bad_cmd "CSR: PEM text" "not a DER PKCS#10" 53 as_pilar -r "$TESTDIR/good.csr.pem"
bad_cmd "CSR: a trailing NUL" "trailing bytes" 53 as_pilar -r "$TESTDIR/trail.der"
bad_cmd "CSR: truncated" "not a DER PKCS#10" 53 as_pilar -r "$TESTDIR/short.der"
bad_cmd "CSR: a broken signature" "signature does not verify|not a DER" 53 as_pilar -r "$TESTDIR/badsig.der"
bad_cmd "CSR: 20 KB" "larger than" 53 as_pilar -r "$TESTDIR/big"
bad_cmd "CSR: an RSA 1024 key" "at least 2048" 53 as_pilar -r "$PKI/weak.csr.der"
bad_cmd "CSR: a certificate instead" "not a DER PKCS#10" 53 as_pilar -r "$PKI/kenmyer.der"
bad_cmd "CSR: a private key instead" "not a DER PKCS#10" 53 \
	as_pilar -r <(openssl pkey -in "$PKI/good.key" -outform DER)

# ---- the extended operation: fields and credentials ----------------------------------------
bad_cmd "identity: a DN that does not exist (as an administrator)" "" 32 \
	issue -H "$LDAP" -D "$ROOTDN" -w "$ROOTPW" -r "$PKI/good.csr.der" -i "uid=nobody,$PEOPLE"
bad_cmd "identity: not a DN" "" "-" \
	issue -H "$LDAP" -D "$ROOTDN" -w "$ROOTPW" -r "$PKI/good.csr.der" -i "uid=kenmyer,,=,"
bad_cmd "identity: someone else, not being an administrator" "" 50 as_pilar -r "$PKI/good.csr.der" -i "$KEN"
bad_cmd "identity: a filter injection" "" "-" \
	issue -H "$LDAP" -D "$ROOTDN" -w "$ROOTPW" -r "$PKI/good.csr.der" -i "uid=*)(uid=kenmyer"
BAD_ALLOW='^(certpinPINFailure|entryCSN|modifyTimestamp|modifiersName|contextCSN):' \
	bad_cmd "PIN: the wrong PIN (only a PIN failure is recorded)" "unknown phone number or wrong PIN" 49 issue -H "$LDAP" -Z -r "$PKI/good.csr.der" -p "+1 (425) 555-0100" -P 654321
bad_cmd "PIN: an unknown phone" "" 49 issue -H "$LDAP" -Z -r "$PKI/good.csr.der" -p "+1 (999) 555-0199" -P 461937
bad_cmd "PIN: a phone without a PIN" "" "-" issue -H "$LDAP" -Z -r "$PKI/good.csr.der" -p "+1 (425) 555-0100"
bad_cmd "PIN: a filter injection in the phone" "" 49 issue -H "$LDAP" -Z -r "$PKI/good.csr.der" -p "*" -P 461937
bad_cmd "PIN: proof without TLS" "" 13 issue -H "$LDAP" -r "$PKI/good.csr.der" -p "+1 (425) 555-0100" -P 461937
bad_cmd "PIN: 2 KB of PIN" "" "-" issue -H "$LDAP" -Z -r "$PKI/good.csr.der" -p "+1 (425) 555-0100" \
	-P "$(head -c 2048 /dev/zero | tr '\0' 7)"
bad_cmd "validity: 10 years" "outside the policy" 53 as_pilar -r "$PKI/good.csr.der" -V 87600
bad_cmd "endpoint: control characters" "control characters" 53 as_pilar -r "$PKI/good.csr.der" -e "$(printf 'a\tb')"
bad_cmd "anonymous, without a phone" "" "-" issue -H "$LDAP" -r "$PKI/good.csr.der"

# ---- the tools ------------------------------------------------------------------------------------
T=$BUILDDIR/tools
RA="-H $LDAPI -x -D $ROOTDN -w $ROOTPW"
# shellcheck disable=SC2086
{
bad_cmd "certpin-get: a wildcard identity" "[Ww]ildcard|not allowed|refused" - "$T/certpin-get" $RA '*'
bad_cmd "certpin-get: a filter injection" "wildcards are not allowed|no such user" - "$T/certpin-get" $RA 'kenmyer)(uid=*'
bad_cmd "certpin-get: an empty identity" "empty|refused|usage" - "$T/certpin-get" $RA ''
bad_cmd "certpin-get: an unknown domain" "domain|unknown|no such" - "$T/certpin-get" $RA 'NOPE\kenmyer'
bad_cmd "certpin-get: a date that is not one" "date|invalid" - "$T/certpin-get" $RA --issued-after 2026-13-45 kenmyer
bad_cmd "certpin-get: February 30th" "date|invalid" - "$T/certpin-get" $RA --expires-before 2026-02-30 kenmyer
bad_cmd "certpin-revoke: a malformed thumbprint" "[Tt]humbprint|invalid" - "$T/certpin-revoke" $RA --thumbprint xyz kenmyer
bad_cmd "certpin-revoke: a thumbprint of 63 digits" "[Tt]humbprint|invalid" - "$T/certpin-revoke" $RA \
	--thumbprint "$(der_sha256 "$PKI/kenmyer.der" | cut -c1-63)" kenmyer
bad_cmd "certpin-revoke: a wildcard identity" "[Ww]ildcard|not allowed|refused" - "$T/certpin-revoke" $RA '*'
bad_cmd "certpin-revoke: a filter injection" "wildcards are not allowed|no such user" - "$T/certpin-revoke" $RA 'x*)(|(uid=*'
bad_cmd "certpin-revoke: a reason with a control character" "reason|control|UTF-8|invalid" - \
	"$T/certpin-revoke" $RA --reason "$(printf 'lost\001')" "$KEN"
bad_cmd "certpin-issue: a CSR file that does not exist" "No such file|cannot" - \
	"$T/certpin-issue" $RA --csr "$TESTDIR/nothere" kenmyer
bad_cmd "certpin-issue: a CSR file of garbage" "CSR|PKCS#10|not" - \
	"$T/certpin-issue" $RA --csr "$TESTDIR/garbage" --out "$TESTDIR/o1" kenmyer
bad_cmd "certpin-issue: a validity that is not a number" "validity|invalid|number" - \
	"$T/certpin-issue" $RA --validity 12abc --out "$TESTDIR/o2" kenmyer
}
# ---- accepted, but neutralised: record syntax in an endpoint id ----------------------------
check_rc_out 0 "an endpoint id holding record syntax is accepted" "^issued" \
	as_pilar -r "$PKI/good.csr.der" -V 24 -e 'desk$expires=99991231235959Z$by=x'
rec=$(root_search -b "$PILAR" -s base certpinCertInfo | sed -n 's/^certpinCertInfo: //p' | grep 'endpoint=desk')
check_out "it stays inside the endpoint field, escaped" 'endpoint=desk\\24expires=99991231235959Z\\24by=x(\$|$)' printf '%s\n' "$rec"
check_eq "the record's expiry is the certificate's, not the injected one" 1 \
	"$(printf '%s' "$rec" | tr '$' '\n' | grep -c '^expires=20')"

check "slapd is alive after the whole catalogue" srv_alive 1
check "every entry is consistent (certificates, thumbprints, metadata)" certs_consistent
echo "# $BAD_N bad inputs refused"
done_testing
