#!/bin/bash
# test010-provision: the certpinIssue extended operation, driven by
# python3-ldap with a hand-encoded request.  Certificates are issued to the
# bound user, to an anonymous device over ldaps and StartTLS that gives phone
# and PIN, and by administrators for others; each is signed by the CA, names
# the user, has clientAuth and the requested validity, is recorded on the
# entry with its metadata and endpoint in the same operation, and logs on
# with SASL EXTERNAL (and stops logging on once revoked).  Every refusal
# (bad CSRs, validity outside the policy, no TLS, not an administrator)
# has its result code and message and records nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"
. "$(dirname "$0")/lib-provision.sh"

pki_standard
prov_conf 1
srv_start 1
prov_base 1
KEN="uid=kenmyer,$PEOPLE"
PILAR="uid=pilar,$PEOPLE"
JDOE="uid=jdoe,$PEOPLE"
LDAP=$(srv_uri 1 ldap)
LDAPS=$(srv_uri 1 ldaps)
set_phone_pin "$KEN" "+1 (425) 555-0100" 461937 || die "cannot set phone and PIN"

check_out "certpinIssue is advertised in the root DSE" "^supportedExtension: $ISSUE_OID\$" \
	ldapsearch -LLL -x -H "$LDAP" -b "" -s base supportedExtension

# ---- (a) the bound user, for themselves ---------------------------------------
csr pilar1
check_rc_out 0 "pilar (password bind) gets a certificate for herself" "^issued" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$PKI/pilar1.csr.der" -V 24 \
	-e 'desk-phone-1$a' -o "$PKI/pilar1.crt" -c "$PKI/pilar1-ca.crt"
check_out "it is signed by the CA (openssl verify)" ": OK\$" \
	openssl verify -CAfile "$PKI/ca.crt" -purpose sslclient "$PKI/pilar1.crt"
check_eq "the response carries the CA certificate" "$(openssl x509 -in "$PKI/ca.crt" -outform DER | sha256sum)" \
	"$(openssl x509 -in "$PKI/pilar1-ca.crt" -outform DER | sha256sum)"
txt=$(openssl x509 -in "$PKI/pilar1.crt" -noout -text)
check_out "it has the clientAuth extended key usage" "TLS Web Client Authentication" printf '%s\n' "$txt"
check_out "it is no CA" "CA:FALSE" printf '%s\n' "$txt"
check_eq "subject: CN from uid, not from the CSR" "subject=CN=pilar" \
	"$(openssl x509 -in "$PKI/pilar1.crt" -noout -subject -nameopt RFC2253)"
check_out "SAN: sip: URI from mail" "URI:sip:pilar@example.com" printf '%s\n' "$txt"
check_eq "validity as requested: 24 hours" 24 "$(cert_hours "$PKI/pilar1.crt")"
serial=$(openssl x509 -in "$PKI/pilar1.crt" -noout -serial | sed 's/^serial=//')
check "the serial has at least 64 random bits (here ${#serial} hex digits)" test "${#serial}" -ge 16
check_eq "the public key is the CSR's" \
	"$(openssl pkey -in "$PKI/pilar1.key" -pubout | sha256sum)" \
	"$(openssl x509 -in "$PKI/pilar1.crt" -noout -pubkey | sha256sum)"
rec=$(root_search -b "$PILAR" -s base certpinCertInfo | sed -n 's/^certpinCertInfo: //p')
check_eq "the certificate is recorded on pilar's entry" "$(pem_sha256 "$PKI/pilar1.crt")" \
	"$(root_search -b "$PILAR" -s base certpinThumbprint | sed -n 's/^certpinThumbprint: //p')"
check_eq "metadata: endpoint (with a \$ escaped)" 'desk-phone-1$a' "$(field "$rec" endpoint)"
check_eq "metadata: serial" "$serial" "$(field "$rec" serial)"
check_eq "metadata: subject" "CN=pilar" "$(field "$rec" subject)"
check_eq "metadata: issuer" "CN=ca,O=certpin tests" "$(field "$rec" issuer)"
logon_as "the issued certificate logs on as pilar (ldaps)" 1 pilar1 "$PILAR"
logon_as "and over StartTLS" 1 pilar1 "$PILAR" starttls

# ---- (b) anonymous device, phone and PIN over TLS ------------------------------
csr ken1
check_rc_out 0 "a device gets ken's certificate with phone and PIN over ldaps" "^issued" \
	issue -H "$LDAPS" -r "$PKI/ken1.csr.der" -p " 1.425.555.0100 " -P 461937 -e "CP-7960 #1" \
	-o "$PKI/ken1.crt"
check_eq "phone digits compare whatever the formatting; the default validity is 4320 hours" \
	4320 "$(cert_hours "$PKI/ken1.crt")"
check_out "the certificate names ken" "^subject=CN=kenmyer\$" openssl x509 -in "$PKI/ken1.crt" -noout -subject -nameopt RFC2253
check_out "recorded with the device's endpoint" "endpoint=CP-7960 #1" root_search -b "$KEN" -s base certpinCertInfo
logon_as "and logs on as ken" 1 ken1 "$KEN"
csr ken2
check_rc_out 0 "the same over StartTLS" "^issued" \
	issue -H "$LDAP" -Z -r "$PKI/ken2.csr.der" -p "+14255550100" -P 461937 -o "$PKI/ken2.crt"
check_eq "ken now holds two certificates" 2 \
	"$(root_search -b "$KEN" -s base certpinThumbprint | grep -c '^certpinThumbprint:')"
before=$(snapshot "$KEN")
check_rc_out 13 "a PIN without TLS: confidentialityRequired" "over TLS only" \
	issue -H "$LDAP" -r "$PKI/ken2.csr.der" -p "+14255550100" -P 461937
check_rc_out 50 "anonymous without phone and PIN: insufficientAccess" "bind first" \
	issue -H "$LDAPS" -r "$PKI/ken2.csr.der"
check_rc_out 53 "a phone without a PIN is refused" "go together" \
	issue -H "$LDAPS" -r "$PKI/ken2.csr.der" -p "+14255550100"
check_eq "ken's entry is unchanged by the refusals" "$before" "$(snapshot "$KEN")"

# ---- (c) administrators --------------------------------------------------------
csr jdoe1
check_rc_out 0 "a member of certpin-admin-group issues for jdoe" "^issued" \
	issue -H "$LDAP" -D "uid=certadmin,$PEOPLE" -w pw-certadmin -i "$JDOE" \
	-r "$PKI/jdoe1.csr.der" -V 8760 -e lab-phone -o "$PKI/jdoe1.crt"
check_eq "with the validity asked for (8760 hours, the maximum)" 8760 "$(cert_hours "$PKI/jdoe1.crt")"
check_out "recorded on jdoe with its endpoint" "endpoint=lab-phone" root_search -b "$JDOE" -s base certpinCertInfo
logon_as "jdoe's certificate logs on as jdoe" 1 jdoe1 "$JDOE"
csr jdoe2
check_rc_out 0 "the root DN issues for jdoe too (identity in any DN form)" "^issued" \
	issue -H "$LDAP" -D "$ROOTDN" -w "$ROOTPW" -i "UID=jdoe, ou=People,dc=example,dc=com" \
	-r "$PKI/jdoe2.csr.der" -V 8 -o "$PKI/jdoe2.crt"
check_eq "8 hours, the minimum" 8 "$(cert_hours "$PKI/jdoe2.crt")"
csr x
before=$(snapshot "$JDOE")
check_rc_out 50 "pilar may not issue for jdoe: insufficientAccess" "only administrators" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -i "$JDOE" -r "$PKI/x.csr.der"
check_rc_out 34 "an identity that is no DN: invalidDNSyntax" "not a DN" \
	issue -H "$LDAP" -D "uid=certadmin,$PEOPLE" -w pw-certadmin -i "not a dn" -r "$PKI/x.csr.der"
check_rc_out 32 "an administrator naming no entry: noSuchObject" "no such user" \
	issue -H "$LDAP" -D "uid=certadmin,$PEOPLE" -w pw-certadmin -i "uid=nobody,$PEOPLE" -r "$PKI/x.csr.der"
check_rc_out 53 "an entry that is not a certpinUser is refused" "not a certpinUser" \
	issue -H "$LDAP" -D "$ROOTDN" -w "$ROOTPW" -i "uid=certadmin,$PEOPLE" -r "$PKI/x.csr.der"
check_rc_out 0 "naming herself as identity is the self path" "^issued" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -i "$PILAR" -r "$PKI/x.csr.der" -o "$PKI/x.crt"
check_eq "jdoe is unchanged" "$before" "$(snapshot "$JDOE")"

# ---- bad CSRs: refused, nothing recorded ----------------------------------------
before=$(snapshot "$PILAR")
csr bad
der=$PKI/bad.csr.der
cp "$der" "$PKI/badsig.der"
n=$(stat -c %s "$der")
# flip a bit in the last byte of the signature
printf "$(printf '\\%03o' $(( $(od -An -tu1 -j $((n - 1)) -N1 "$der") ^ 1 )))" |
	dd of="$PKI/badsig.der" bs=1 seek=$((n - 1)) conv=notrunc 2>/dev/null
check_rc_out 53 "a CSR with a bad signature" "signature does not verify" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$PKI/badsig.der"
csr rsa1024 rsa:1024
check_rc_out 53 "an RSA 1024 key" "RSA key of 1024 bits: at least 2048" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$PKI/rsa1024.csr.der"
csr p521 ec -pkeyopt ec_paramgen_curve:P-521
check_rc_out 53 "an EC key on P-521" "curve secp521r1" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$PKI/p521.csr.der"
head -c 700 /dev/urandom > "$PKI/garbage"
check_rc_out 53 "garbage" "not a DER PKCS#10" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$PKI/garbage"
{ cat "$der"; head -c 9000 /dev/zero; } > "$PKI/big"
check_rc_out 53 "an oversized CSR (over 8192 bytes)" "larger than 8192" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$PKI/big"
{ cat "$der"; printf 'x'; } > "$PKI/trail"
check_rc_out 53 "trailing bytes after the CSR" "trailing bytes" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$PKI/trail"
openssl req -in "$der" -inform DER -out "$PKI/pem.csr" 2>/dev/null
check_rc_out 53 "a PEM CSR instead of DER" "not a DER PKCS#10" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$PKI/pem.csr"
check_rc_out 2 "a malformed request: protocolError" "malformed request" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -x 3003020100
check_rc_out 2 "bytes after the request's SEQUENCE: protocolError" "malformed request" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -x "$(od -An -tx1 "$der" | tr -d ' \n' |
		"$PY" -c 'import sys; b=bytes.fromhex(sys.stdin.read()); body=bytes([4,0x82])+len(b).to_bytes(2,"big")+b; print((bytes([0x30,0x82])+len(body).to_bytes(2,"big")+body+b"\0").hex())')"
check_rc_out 53 "an endpoint id with control characters" "control characters" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -e "$(printf 'a\tb')"

# ---- validity edges -------------------------------------------------------------
check_rc_out 53 "7 hours: below the minimum" "validity of 7 hours outside the policy \\(8 to 8760 hours\\)" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -V 7
check_rc_out 53 "8761 hours: above the maximum" "validity of 8761 hours outside" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -V 8761
check_rc_out 53 "0 hours" "validity of 0 hours outside" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -V 0
check_rc_out 53 "a validity of 2^40 hours (a 6-octet INTEGER)" "outside the policy" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -V 1099511627776
check_eq "pilar's entry is unchanged by every refusal" "$before" "$(snapshot "$PILAR")"
check_rc_out 0 "8 hours: accepted" "^issued" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -V 8 -o "$PKI/bad8.crt"
check_eq "8 hours it is" 8 "$(cert_hours "$PKI/bad8.crt")"
check_rc_out 0 "the same CSR again gets another certificate" "^issued" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -V 9 -o "$PKI/bad9.crt"
s8=$(openssl x509 -in "$PKI/bad8.crt" -noout -serial)
s9=$(openssl x509 -in "$PKI/bad9.crt" -noout -serial 2>/dev/null)
check "two certificates from one CSR have different serials" test -n "$s9" -a "$s8" != "$s9"

# ---- revocation stops the issued certificate -----------------------------------
check "an administrator revokes pilar's first certificate" root_modify <<LDIF
dn: $PILAR
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$(openssl x509 -in "$PKI/pilar1.crt" -outform DER -out "$PKI/pilar1.der"; echo "$PKI/pilar1.der")
LDIF
logon_refused "the revoked certificate no longer logs on" 1 pilar1
logon_as "pilar's other certificates still do" 1 x "$PILAR"

# ---- configuration: cn=config and bad CA files --------------------------------
srv_stop 1
srv_start 1 config
ov="olcOverlay={0}certpin,olcDatabase={-1}frontend,cn=config"
cfg=$(ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" -b "$ov" -s base)
check_out "cn=config shows the CA files" "^olcCertpinCACert: $PKI/ca.crt\$" printf '%s\n' "$cfg"
check_out "and the admin group" "^olcCertpinAdminGroup: $ADMINS\$" printf '%s\n' "$cfg"
check "olcCertpinValidityMax can be lowered over ldapi (with the default, in one request)" \
	ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" <<LDIF
dn: $ov
changetype: modify
replace: olcCertpinValidityMax
olcCertpinValidityMax: 100
-
replace: olcCertpinValidity
olcCertpinValidity: 50
LDIF
check_rc_out 53 "then 101 hours is refused" "outside the policy \\(8 to 100 hours\\)" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -V 101
check_rc_out 80 "a CA key file that is not a key is refused" "cannot read a PEM private key" \
	cfg_set "$ov" olcCertpinCAKey "$PKI/ca.crt"
openssl genrsa -out "$PKI/weak.key" 1024 2>/dev/null
check_rc_out 80 "an RSA 1024 CA key is refused" "at least 2048" \
	cfg_set "$ov" olcCertpinCAKey "$PKI/weak.key"
check_rc_out 80 "a CA certificate that is no CA is refused" "not a CA certificate" \
	cfg_set "$ov" olcCertpinCACert "$PKI/server.crt"
check "the CA key can be replaced over ldapi (here by a wrong one)" \
	cfg_set "$ov" olcCertpinCAKey "$PKI/foreignca.key"
before=$(snapshot "$PILAR")
check_rc_out 53 "a CA key that does not belong to the CA certificate issues nothing" "does not belong" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -V 10
check_eq "and records nothing" "$before" "$(snapshot "$PILAR")"
check "the CA key can be removed over ldapi" \
	ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 1 ldapi)" <<LDIF
dn: $ov
changetype: modify
delete: olcCertpinCAKey
LDIF
check_rc_out 53 "then nothing is issued" "no CA configured" \
	issue -H "$LDAP" -D "$PILAR" -w pw-pilar -r "$der" -V 10
check_eq "and nothing recorded" "$before" "$(snapshot "$PILAR")"
mkdir -p "$TESTDIR/srv2"
sed -e "s|certpin-ca-key .*|certpin-ca-key $PKI/foreignca.key|" "$TESTDIR/srv1/slapd.conf" > "$TESTDIR/srv2/slapd.conf"
check_rc_out 1 "slaptest: a CA key that does not belong to the certificate" "does not belong to" \
	"$SLAPTEST" -f "$TESTDIR/srv2/slapd.conf"
mkdir -p "$TESTDIR/srv3/db" "$TESTDIR/srv3/slapd.d"
sed -e "s|$TESTDIR/srv1|$TESTDIR/srv3|g" -e "0,/^overlay certpin/s|^overlay certpin|&\n\
certpin-validity 100\n\
certpin-validity-min 10\n\
certpin-validity-max 200\n\
certpin-cn-attribute cn\n\
certpin-sip-attribute mobile\n\
certpin-pin-hash {SSHA}\n\
certpin-pin-min-length 8\n\
certpin-pin-digits-only off\n\
certpin-pin-max-failures 3\n\
certpin-pin-failure-window 60\n\
certpin-phone-attribute mobile|" "$TESTDIR/srv1/slapd.conf" > "$TESTDIR/srv3/slapd.conf"
"$SLAPTEST" -Q -f "$TESTDIR/srv3/slapd.conf" -F "$TESTDIR/srv3/slapd.d" >/dev/null 2>&1
olc=$(cat "$TESTDIR"/srv3/slapd.d/cn=config/olcDatabase=\{-1\}frontend/olcOverlay=\{0\}certpin.ldif 2>&1)
for kv in "CACert: $PKI/ca.crt" "CAKey: $PKI/ca.key" "AdminGroup: $ADMINS" Validity:\ 100 ValidityMin:\ 10 \
	ValidityMax:\ 200 CNAttribute:\ cn SIPAttribute:\ mobile PINHash:\ {SSHA} PINMinLength:\ 8 \
	PINDigitsOnly:\ FALSE PINMaxFailures:\ 3 PINFailureWindow:\ 60 PhoneAttribute:\ mobile; do
	check_out "slaptest converts the directive to olcCertpin$kv" "^olcCertpin$kv\$" printf '%s\n' "$olc"
done
check "slapd is alive after everything" srv_alive 1
done_testing
