#!/bin/bash
# test030-issue: certpin-issue gets certificates by each path (administrator
# for a user, the user for themselves, a device by phone number and PIN from
# a file or typed on a terminal), writes key, certificate and CA certificate
# as PEM with safe modes, refuses to overwrite, and every refusal leaves the
# files and the entry as they were.  The issued certificates log on.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/lib-logon.sh"
. "$SRCDIR/tests/lib-clienttools.sh"

pki_standard
client_server 1
W=$TESTDIR/work
mkdir -p "$W"
cd "$W" || die "cd $W"

# ---- administrator for a user, named by UPN --------------------------------------
before=$(nthumbs "$KEN")
out=$("$ISSUE" $TRUST -H "$URI_S" -D "$CERTADMIN" -w pw-certadmin --out adm kenmyer@example.com 2>&1) &&
	rc=0 || rc=$?
check_eq "administrator issues for kenmyer@example.com (UPN)" 0 "$rc"
check_eq "certificate, key and CA files written" "adm-ca.crt adm.crt adm.key" "$(echo adm*)"
check_eq "key file mode 0600" 600 "$(file_mode adm.key)"
check_eq "certificate file mode 0644" 644 "$(file_mode adm.crt)"
check_eq "CA file mode 0644" 644 "$(file_mode adm-ca.crt)"
check_eq "CA file is the directory's CA" "$(pem_sha256 "$PKI/ca.crt")" "$(pem_sha256 adm-ca.crt)"
check "certificate verifies against the CA file, for clientAuth" \
	openssl verify -purpose sslclient -CAfile adm-ca.crt adm.crt
check_eq "certificate holds the key written" "$(key_pubkey adm.key)" "$(cert_pubkey adm.crt)"
check_out "default key is ECDSA P-256" "prime256v1|P-256" openssl pkey -in adm.key -noout -text
check_eq "the certificate is recorded on Ken's entry" "$((before + 1))" "$(nthumbs "$KEN")"
thumbprints "$KEN" | grep -qx "$(pem_sha256 adm.crt)" && ok "thumbprint recorded on Ken's entry" ||
	notok "thumbprint recorded on Ken's entry"
cp adm.crt "$PKI/iss-adm.crt"; cp adm.key "$PKI/iss-adm.key"
logon_as "the issued certificate logs on as Ken (SASL EXTERNAL)" 1 iss-adm "$KEN"
check_eq "the tool prints the certificate's thumbprint" "Thumbprint: $(pem_sha256 adm.crt)" \
	"$(printf '%s\n' "$out" | grep '^Thumbprint: ')"
check_eq "the tool names the files it wrote" "Certificate: adm.crt|Key: adm.key|CA: adm-ca.crt" \
	"$(printf '%s\n' "$out" | grep -E '^(Certificate|Key|CA): ' | paste -sd '|')"

# ---- the user for themselves, RSA keys ---------------------------------------------
check "kenmyer issues for himself with -k rsa" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer -k rsa --out self
check_out "RSA key of 2048 bits" "Private-Key: \(2048 bit" openssl pkey -in self.key -noout -text
check_eq "RSA certificate holds the key" "$(key_pubkey self.key)" "$(cert_pubkey self.crt)"
check_eq "RSA key file mode 0600" 600 "$(file_mode self.key)"
cp self.crt "$PKI/iss-self.crt"; cp self.key "$PKI/iss-self.key"
logon_as "the RSA certificate logs on as Ken" 1 iss-self "$KEN"
out=$(on_tty pw-kenmyer "Enter LDAP Password: " "$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -W --out pwtty 2>&1) &&
	rc=0 || rc=$?
check_eq "the password typed on a terminal (-W)" "0 pwtty.crt" "$rc $(ls pwtty.crt 2>/dev/null)"
check "-k rsa:3072 with explicit file names and an endpoint id" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer -k rsa:3072 \
	--cert r3.pem --key r3.key --ca r3-ca.pem --endpoint desk-phone-7
check_out "RSA key of 3072 bits" "Private-Key: \(3072 bit" openssl pkey -in r3.key -noout -text
rec=$(root_search -b "$KEN" -s base certpinCertInfo | sed -n 's/^certpinCertInfo: //p' |
	grep "sha256=$(pem_sha256 r3.pem)")
check_eq "the endpoint id is in the certificate's record" desk-phone-7 "$(field "$rec" endpoint)"
snap=$(snapshot "$KEN")
check_rc_out 2 "-k rsa:1024 refused before anything is asked" "2048" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer -k rsa:1024 --out weak
check_eq "no files for the refused key" "" "$(ls weak* 2>/dev/null)"
check_eq "entry unchanged after the refused key" "$snap" "$(snapshot "$KEN")"

# ---- a CSR instead of a key -----------------------------------------------------------
csr dev
check "a CSR made by openssl is sent as is (--csr, DER)" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --csr "$PKI/dev.csr.der" --out csr
check_eq "with --csr no key file is written" "csr-ca.crt csr.crt" "$(echo csr*)"
check_eq "the certificate holds the CSR's key" "$(key_pubkey "$PKI/dev.key")" "$(cert_pubkey csr.crt)"
csr weak rsa:1024
check_rc_out 53 "a CSR with an RSA 1024 key: the server's refusal is shown" "Server is unwilling to perform \(53\)" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --csr "$PKI/weak.csr.der" --out weak
check_eq "no files after the server's refusal" "" "$(ls weak* 2>/dev/null)"
printf 'garbage' > bad.csr
snap=$(snapshot "$KEN")
check_rc_out 1 "a file that is not a CSR is refused" "not a PKCS#10" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --csr bad.csr --out bad
check_eq "entry unchanged after the bad CSR" "$snap" "$(snapshot "$KEN")"
{ cat "$PKI/dev.csr.der"; printf 'x'; } > trail.csr
check_rc_out 1 "a DER CSR followed by other bytes is refused" "not a PKCS#10" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --csr trail.csr --out bad
{ cat "$PKI/dev.csr.der"; printf 'x'; } | openssl base64 -e |
	{ echo "-----BEGIN CERTIFICATE REQUEST-----"; cat; echo "-----END CERTIFICATE REQUEST-----"; } > trail.pem
check_rc_out 1 "a PEM CSR whose DER is followed by other bytes is refused" "not a PKCS#10" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --csr trail.pem --out bad
check_eq "entry unchanged after the CSRs with trailing bytes" "$snap" "$(snapshot "$KEN")"
openssl req -inform DER -in "$PKI/dev.csr.der" -out dev.csr.pem 2>/dev/null
check "the same CSR as PEM is sent as is (--csr, PEM)" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --csr dev.csr.pem --out csrpem
check_eq "... it holds the CSR's key" "$(key_pubkey "$PKI/dev.key")" "$(cert_pubkey csrpem.crt)"

# ---- refusing to overwrite, --force ---------------------------------------------------
sums=$(sha256sum adm.crt adm.key adm-ca.crt)
oldfp=$(pem_sha256 adm.crt)
snap=$(snapshot "$KEN")
check_rc_out 1 "existing files are not overwritten" "adm.crt: file exists \(use --force" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$CERTADMIN" -w pw-certadmin --out adm "$KEN"
check_eq "the existing files are untouched" "$sums" "$(sha256sum adm.crt adm.key adm-ca.crt)"
check_eq "nothing was issued (entry unchanged)" "$snap" "$(snapshot "$KEN")"
: > only.key
check_rc_out 1 "an existing key file alone is enough to refuse" "only.key: file exists" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --out only
check_eq "no certificate written next to the refused key" "" "$(ls only.crt only-ca.crt 2>/dev/null)"
ln -s /etc/passwd link.crt
check_rc_out 1 "a symbolic link in the way is refused" "link.crt: file exists" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --out link
umask 000
check "--force replaces the files" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$CERTADMIN" -w pw-certadmin --force --out adm "$KEN"
umask 022
check "the replaced certificate is a new one" test "$(pem_sha256 adm.crt)" != "$oldfp"
check_eq "the replaced key is still 0600 (whatever the umask)" 600 "$(file_mode adm.key)"
check_eq "the replaced certificate holds the replaced key" "$(key_pubkey adm.key)" "$(cert_pubkey adm.crt)"

# ---- phone number and PIN -----------------------------------------------------------------
check "a device proves Ken by phone and PIN from a file" \
	"$ISSUE" $TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.good" --out phone
thumbprints "$KEN" | grep -qx "$(pem_sha256 phone.crt)" && ok "the PIN path's certificate is Ken's" ||
	notok "the PIN path's certificate is Ken's"
out=$(on_tty "$GOODPIN" "Enter PIN: " "$ISSUE" $TRUST -H "$URI_S" --phone "$PHONE" --out tty 2>&1) && rc=0 || rc=$?
check_eq "PIN typed on a terminal: success" 0 "$rc"
check_out "the terminal asked for the PIN" "Enter PIN: " printf '%s\n' "$out"
if printf '%s' "$out" | grep -q "$GOODPIN"; then notok "the PIN is not echoed"; else ok "the PIN is not echoed"; fi
check_eq "PIN typed on a terminal: files written" "tty-ca.crt tty.crt tty.key" "$(echo tty*)"
check_eq "echo is off at the PIN prompt and back after Control-C" "echo during: False, after: True" \
	"$(tty_interrupt "Enter PIN: " "$ISSUE" $TRUST -H "$URI_S" --phone "$PHONE" --out intr)"
check_eq "no files after Control-C" "" "$(ls intr* 2>/dev/null)"
check_rc_out 1 "no terminal and no --pin-file: a clear error" "no terminal to ask for the PIN" \
	no_tty "$ISSUE" $TRUST -H "$URI_S" --phone "$PHONE" --out notty
check_eq "no files without a PIN" "" "$(ls notty* 2>/dev/null)"
printf '%s\n' "$GOODPIN" > "$TESTDIR/pin.open"
chmod 644 "$TESTDIR/pin.open"
check_out "a PIN file readable by others draws a warning" "Warning: secret file .* readable" \
	"$ISSUE" $TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.open" --out open
check "StartTLS (-ZZ) carries the PIN on ldap://" \
	"$ISSUE" $TRUST -ZZ -H "$URI_L" --phone "$PHONE" --pin-file "$TESTDIR/pin.good" --out ztls

snap_n=$(nthumbs "$KEN")
check_rc_out 49 "a wrong PIN: invalidCredentials with the server's message" \
	"Invalid credentials \(49\).*|unknown phone number or wrong PIN" \
	"$ISSUE" $TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.bad" --out wrong
check_eq "no files after a wrong PIN" "" "$(ls wrong* 2>/dev/null)"
check_eq "no certificate after a wrong PIN" "$snap_n" "$(nthumbs "$KEN")"
root_modify >/dev/null <<LDIF
dn: $KEN
changetype: modify
delete: certpinPINFailure
LDIF
snap=$(snapshot "$KEN")
check_rc_out 13 "no PIN is sent without TLS" "refusing to send a PIN without TLS" \
	"$ISSUE" $TRUST -H "$URI_L" --phone "$PHONE" --pin-file "$TESTDIR/pin.good" --out clear
check_eq "no files, entry unchanged without TLS" "$snap" "$(snapshot "$KEN")$(ls clear* 2>/dev/null)"
check_rc_out 2 "--pin-file without --phone is a usage error" "needs --phone" \
	"$ISSUE" $TRUST -H "$URI_S" --pin-file "$TESTDIR/pin.good" --out x
check_rc_out 2 "--phone with an identity is a usage error" "give no identity" \
	"$ISSUE" $TRUST -H "$URI_S" --phone "$PHONE" --pin-file "$TESTDIR/pin.good" "$KEN"

# ---- refusals from the server -------------------------------------------------------------
snap=$(snapshot "$KEN")
check_rc_out 50 "Pilar may not issue for Ken" "Insufficient access \(50\)" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$PILAR" -w pw-pilar --out pil "$KEN"
check_eq "no files, entry unchanged after insufficientAccess" "$snap" "$(snapshot "$KEN")$(ls pil* 2>/dev/null)"
check_rc_out 32 "an unknown user is named as such" "No such object|no such user" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$CERTADMIN" -w pw-certadmin --out nobody nobody@example.com
check_eq "no files for an unknown user" "" "$(ls nobody* 2>/dev/null)"
check_rc_out 53 "a user without certpinUser is refused with the server's reason" "certpinUser" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$CERTADMIN" -w pw-certadmin --out noc "$NOCERT"
check_rc_out 53 "a validity outside the policy is refused with the server's reason" "outside the policy" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --validity 2 --out short
check_eq "no files, entry unchanged after the refusals" "$snap" "$(snapshot "$KEN")$(ls noc* short* 2>/dev/null)"
check "--validity 8 (the policy's minimum)" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --validity 8 --out v8
check_eq "the certificate is valid for 8 hours" 8 "$(cert_hours v8.crt)"
check_rc_out 2 "--validity must be a number" "not a number of hours" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --validity 8h --out v
check_rc_out 255 "the server's certificate must be trusted" "Can't contact LDAP server" \
	"$ISSUE" -o TLS_CACERT="$PKI/foreignca.crt" -H "$URI_S" -D "$KEN" -w pw-kenmyer --out untrusted
check_eq "no files when the connection fails" "" "$(ls untrusted* 2>/dev/null)"
check "-n does nothing" "$ISSUE" -n $TRUST -H "$URI_S" -D "$KEN" -w pw-kenmyer --out dry
check_eq "-n wrote nothing" "" "$(ls dry* 2>/dev/null)"

# ---- the administrator path with every optional field ----------------------------------
check "administrator, sip: identity, validity and endpoint id together" \
	"$ISSUE" $TRUST -H "$URI_S" -D "$CERTADMIN" -w pw-certadmin --validity 24 \
	--endpoint "lobby phone" --out full sip:pilar@example.com
check_eq "issued for Pilar with 24 hours" "24 $(pem_sha256 full.crt)" \
	"$(cert_hours full.crt) $(thumbprints "$PILAR" | grep -x "$(pem_sha256 full.crt)")"

check "slapd is still running" srv_alive 1
done_testing
