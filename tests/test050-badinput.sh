#!/bin/bash
# test050-badinput: a catalogue of bad inputs to certpin's write path (and,
# as they land, the extended operation and the tools): malformed, oversized,
# wrong type, wrong options, injection, non-UTF-8, duplicate, forged.  Each
# one is refused with a clear message, leaves the whole directory unchanged
# (every entry, operational attributes included) and slapd alive.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-hardening.sh"

pki_standard
srv_conf 1
srv_start 1
srv_base 1
KEN="uid=kenmyer,$PEOPLE"
check "ken has a certificate on file" record_cert kenmyer "$PKI/kenmyer.der"
check "pilar has a certificate on file" record_cert pilar "$PKI/pilar.der"
check "jdoe has a certificate on file" record_cert jdoe "$PKI/jdoe.der"
check "jdoe's certificate is revoked (deleted)" root_modify <<LDIF
dn: uid=jdoe,$PEOPLE
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/jdoe.der
LDIF
check "a plain entry without certpinUser" root_add <<LDIF
dn: uid=plain,$PEOPLE
objectClass: inetOrgPerson
uid: plain
cn: Plain
sn: Plain
LDIF

# ---- the bad values --------------------------------------------------------
B=$TESTDIR/bad
mkdir -p "$B"
head -c 700 /dev/urandom > "$B/random"
printf '\x30' | cat - "$B/random" > "$B/random30"
printf '\x30\x82\x4e\x20' > "$B/oversized"; head -c 20000 /dev/urandom >> "$B/oversized"
head -c 200 "$PKI/kenmyer2.der" > "$B/truncated"
sz=$(stat -c %s "$PKI/kenmyer2.der")
head -c $((sz - 1)) "$PKI/kenmyer2.der" > "$B/short1"
cat "$PKI/kenmyer2.der" > "$B/trailing"; printf '\x00\x00' >> "$B/trailing"
cat "$PKI/kenmyer2.der" "$PKI/spare.der" > "$B/two"
printf '\x30\x80' > "$B/indefinite"; tail -c +5 "$PKI/kenmyer2.der" >> "$B/indefinite"; printf '\x00\x00' >> "$B/indefinite"
printf '\x30\x00' > "$B/emptyseq"
printf '\x00' > "$B/nul"
openssl pkey -in "$PKI/kenmyer2.key" -outform DER -out "$B/key.der"
openssl req -in "$PKI/kenmyer2.csr" -outform DER -out "$B/csr.der"
openssl ca -gencrl -config "$PKI/ca.cnf" -crldays 1 -out "$B/crl.pem" 2>/dev/null &&
	openssl crl -in "$B/crl.pem" -outform DER -out "$B/crl.der" || die "cannot make a CRL"
openssl x509 -req -in "$PKI/kenmyer2.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
	-set_serial -5 -days 1 -outform DER -out "$B/negserial.der" 2>/dev/null || die "negative serial"
openssl x509 -req -in "$PKI/kenmyer2.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
	-set_serial 0x$(printf 'ab%.0s' $(seq 1 40)) -days 1 -outform DER -out "$B/hugeserial.der" 2>/dev/null ||
	die "huge serial"
openssl ca -batch -config "$PKI/ca.cnf" -extensions client -startdate 00010101000000Z \
	-enddate 00020101000000Z -in "$PKI/kenmyer2.csr" -out "$B/year1.crt" -notext 2>/dev/null &&
	openssl x509 -in "$B/year1.crt" -outform DER -out "$B/year1.der" || die "year 1 certificate"
# a real, signed certificate of more than 16 KB (CERTPIN_MAX_DER)
{ printf 'subjectAltName = '; for i in $(seq 1 800); do printf 'DNS:host%04d.example.com,' "$i"; done
  echo 'DNS:last.example.com'; } > "$B/big.ext"
openssl x509 -req -in "$PKI/kenmyer2.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial 77 \
	-days 1 -extfile "$B/big.ext" -outform DER -out "$B/big.der" 2>/dev/null || die "big certificate"
[ "$(stat -c %s "$B/big.der")" -gt 16384 ] || die "big certificate is not big"
# 21 distinct certificates (the default limit is 20 per entry)
for i in $(seq 1 21); do
	openssl x509 -req -in "$PKI/kenmyer2.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-set_serial $((1000 + i)) -days 1 -outform DER -out "$B/many$i.der" 2>/dev/null || die "cert $i"
done

mod() {	# OP ATTR FILE: one modify of ken's entry with a binary value
	printf 'dn: %s\nchangetype: modify\n%s: %s\n%s:< file://%s\n' "$KEN" "$1" "$2" "$2" "$3"
}
CB='certpinCertificate;binary'
KEN_TP=$(der_sha256 "$PKI/kenmyer.der")
PILAR_TP=$(der_sha256 "$PKI/pilar.der")

# ---- certificate values ----------------------------------------------------------
bad "random bytes" "(Invalid syntax|not DER|not a well-formed)" < <(mod add "$CB" "$B/random"     )
bad "random bytes after a SEQUENCE tag" "(Invalid syntax|not a well-formed)" < <(mod add "$CB" "$B/random30"   )
bad "PEM text instead of DER" "(Invalid syntax|not DER)" < <(mod add "$CB" "$PKI/kenmyer2.crt")
bad "DER truncated to 200 bytes" "(Invalid syntax|not a well-formed)" < <(mod add "$CB" "$B/truncated"  )
bad "DER one byte short" "(Invalid syntax|not a well-formed)" < <(mod add "$CB" "$B/short1"     )
bad "two NUL bytes after the certificate" "(Invalid syntax|trailing)" < <(mod add "$CB" "$B/trailing"   )
bad "two certificates in one value" "(Invalid syntax|trailing)" < <(mod add "$CB" "$B/two"        )
bad "BER indefinite length" "(Invalid syntax|not a well-formed|trailing)" < <(mod add "$CB" "$B/indefinite" )
bad "an empty SEQUENCE" "(Invalid syntax|not a well-formed)" < <(mod add "$CB" "$B/emptyseq"   )
bad "a single NUL byte" "(Invalid syntax|not DER)" < <(mod add "$CB" "$B/nul"        )
bad "an empty value" "(Invalid syntax|empty)" < <(printf 'dn: %s\nchangetype: modify\nadd: %s\n%s:\n' "$KEN" "$CB" "$CB")
bad "20 KB of random bytes" "(Invalid syntax|larger than|not a well-formed)" < <(mod add "$CB" "$B/oversized"  )
bad "a real certificate of $(stat -c %s "$B/big.der") bytes" "(Invalid syntax|larger than 16384)" < <(mod add "$CB" "$B/big.der"    )
bad "a DER private key" "(Invalid syntax|not a well-formed)" < <(mod add "$CB" "$B/key.der"    )
bad "a DER certification request" "(Invalid syntax|not a well-formed)" < <(mod add "$CB" "$B/csr.der"    )
bad "a DER CRL" "(Invalid syntax|not a well-formed)" < <(mod add "$CB" "$B/crl.der"    )
bad "a certificate with a negative serial" "(Invalid syntax|serial number negative)" < <(mod add "$CB" "$B/negserial.der" )
bad "a certificate with a 40-byte serial" "(Invalid syntax|longer than 32 bytes)" < <(mod add "$CB" "$B/hugeserial.der")
bad "a certificate valid from the year 1 (found by fuzzing)" "(Invalid syntax|outside the years)" < <(mod add "$CB" "$B/year1.der"  )
bad "replace all certificates with garbage" "(Invalid syntax|not DER|not a well-formed)" < <(mod replace "$CB" "$B/random" )
bad "a good certificate then a bad one in the same add" "(Invalid syntax|not a well-formed)" < <({ mod add "$CB" "$PKI/spare.der"; printf '%s:< file://%s\n' "$CB" "$B/truncated"; })
bad "the same certificate twice in one modify" "(duplicate|repeats|already exists|Type or value exists)" < <({ mod add "$CB" "$PKI/spare.der"; printf '%s:< file://%s\n' "$CB" "$PKI/spare.der"; })
bad "a certificate the entry already holds" "(already exists|Type or value exists)" 20 < <(mod add "$CB" "$PKI/kenmyer.der")
bad "another user's certificate" "already on file for another entry" 19 < <(mod add "$CB" "$PKI/pilar.der")
bad "a revoked certificate" "revoked" 19 < <(mod add "$CB" "$PKI/jdoe.der" )
bad "21 certificates (limit 20)" "at most 20 certificates" 19 < <(
	printf 'dn: %s\nchangetype: modify\nadd: %s\n' "$KEN" "$CB"
	for i in $(seq 1 21); do printf '%s:< file://%s\n' "$CB" "$B/many$i.der"; done)
bad "deleting a certificate the entry does not hold" "(No such attribute|no such value)" 16 < <(mod delete "$CB" "$PKI/spare.der")
bad "a certificate on an entry without certpinUser" "(Object class violation|not allowed)" 65 < <(printf 'dn: uid=plain,%s\nchangetype: modify\nadd: %s\n%s:< file://%s\n' "$PEOPLE" "$CB" "$CB" "$PKI/spare.der")
bad "increment on certpinCertificate" "(unsupported|inappropriate|Invalid syntax|not a well-formed|Constraint)" < <(printf 'dn: %s\nchangetype: modify\nincrement: %s\n%s: 1\n' "$KEN" "$CB" "$CB")

# ---- wrong attribute options --------------------------------------------------
bad "certpinCertificate without ;binary" "(requires ;binary transfer|written as certpinCertificate;binary)" < <(mod add certpinCertificate "$PKI/spare.der")
bad "certpinCertificate;lang-en;binary" "(written as certpinCertificate;binary|option)" < <(mod add 'certpinCertificate;lang-en;binary' "$PKI/spare.der")
bad "certpinCertificate;x-device" "(written as certpinCertificate;binary|option)" < <(mod add 'certpinCertificate;x-device' "$PKI/spare.der")
bad "certpinThumbprint;lang-en" "maintained by the certpin overlay" < <(printf 'dn: %s\nchangetype: modify\nadd: certpinThumbprint;lang-en\ncertpinThumbprint;lang-en: %s\n' "$KEN" "$(der_sha256 "$PKI/spare.der")")
bad "certpinCertInfo;x-a" "(maintained by the certpin overlay|unrecognized option)" < <(printf 'dn: %s\nchangetype: modify\nreplace: certpinCertInfo;x-a\ncertpinCertInfo;x-a: sha256=%s\n' "$KEN" "$KEN_TP")
bad "certpinRevoked;lang-en" "(takes no options|maintained)" < <(printf 'dn: %s\nchangetype: modify\nadd: certpinRevoked;lang-en\ncertpinRevoked;lang-en: sha256=%s$reason=x\n' "$KEN" "$KEN_TP")

# ---- direct writes to the maintained attributes -----------------------------------
bad "adding a thumbprint" "maintained by the certpin overlay" 19 < <(printf 'dn: %s\nchangetype: modify\nadd: certpinThumbprint\ncertpinThumbprint: %s\n' "$KEN" "$(der_sha256 "$PKI/spare.der")")
bad "deleting the thumbprints" "maintained by the certpin overlay" 19 < <(printf 'dn: %s\nchangetype: modify\ndelete: certpinThumbprint\n' "$KEN")
bad "deleting the metadata" "maintained by the certpin overlay" 19 < <(printf 'dn: %s\nchangetype: modify\ndelete: certpinCertInfo\n' "$KEN")
bad "replacing the metadata (extending the expiry)" "maintained by the certpin overlay" 19 < <(printf 'dn: %s\nchangetype: modify\nreplace: certpinCertInfo\ncertpinCertInfo: sha256=%s$expires=99991231235959Z\n' "$KEN" "$KEN_TP")
bad "replacing revocation records" "maintained by the certpin overlay" 19 < <(printf 'dn: %s\nchangetype: modify\nreplace: certpinRevoked\ncertpinRevoked: x\n' "$KEN")
bad "deleting all revocation records" "maintained by the certpin overlay" 19 < <(printf 'dn: uid=jdoe,%s\nchangetype: modify\ndelete: certpinRevoked\n' "$PEOPLE")
rec=$(root_search -b "uid=jdoe,$PEOPLE" -s base certpinRevoked | sed -n 's/^certpinRevoked: //p')
bad "clearing a revocation record without the Relax control" "Relax" 19 < <(printf 'dn: uid=jdoe,%s\nchangetype: modify\ndelete: certpinRevoked\ncertpinRevoked: %s\n' "$PEOPLE" "$rec")
bad "a certificate plus its forged thumbprint" "maintained by the certpin overlay" 19 < <({ mod add "$CB" "$PKI/spare.der"; printf -- '-\nadd: certpinThumbprint\ncertpinThumbprint: %s\n' "$(der_sha256 "$PKI/spare.der")"; })

# ---- revocation reasons -------------------------------------------------------------
reason() {	# VALUE: ken's certificate deleted with a certpinRevoked reason VALUE
	printf 'dn: %s\nchangetype: modify\ndelete: %s\n%s:< file://%s\n-\nadd: certpinRevoked\ncertpinRevoked: %s\n' \
		"$KEN" "$CB" "$CB" "$PKI/kenmyer.der" "$1"
}
bad "a reason for a certificate not being deleted" "may only give the reason" 19 < <(printf 'dn: %s\nchangetype: modify\nadd: certpinRevoked\ncertpinRevoked: sha256=%s$reason=x\n' "$KEN" "$KEN_TP")
bad "a reason naming another user's certificate" "may only give the reason" 19 < <(reason "sha256=$PILAR_TP\$reason=not mine")
bad "a reason without the thumbprint" "may only give the reason" 19 < <(reason "reason=lost")
bad "a reason with an uppercase thumbprint" "may only give the reason" 19 < <(reason "sha256=$(printf '%s' "$KEN_TP" | tr a-f A-F)\$reason=x")
bad "a reason with a 63-digit thumbprint" "may only give the reason" 19 < <(reason "sha256=${KEN_TP:0:63}\$reason=x")
bad "a reason with the thumbprint twice over" "may only give the reason" 19 < <(reason "sha256=$KEN_TP$KEN_TP\$reason=x")
reason64() {	# BASE64-VALUE: as reason(), the value given in base64
	printf 'dn: %s\nchangetype: modify\ndelete: %s\n%s:< file://%s\n-\nadd: certpinRevoked\ncertpinRevoked:: %s\n' \
		"$KEN" "$CB" "$CB" "$PKI/kenmyer.der" "$1"
}
bad "a reason that is not UTF-8" "(Invalid syntax|UTF-8)" 21 < <(
	reason64 "$(printf 'sha256=%s$reason=\xff\xfe lost' "$KEN_TP" | base64 -w0)")
bad "a reason with a NUL byte" "(Invalid syntax|UTF-8|NUL|control)" < <(
	reason64 "$(printf 'sha256=%s$reason=a\x00b' "$KEN_TP" | base64 -w0)")
bad "a reason whose escapes decode to a NUL byte" "(Invalid syntax|UTF-8|NUL|control)" < <(
	reason "sha256=$KEN_TP\$reason=a\\00b")
bad "a reason whose escapes decode to bytes that are not UTF-8" "(Invalid syntax|UTF-8)" < <(
	reason "sha256=$KEN_TP\$reason=a\\ff\\feb")
bad "a reason with a broken escape" "(Invalid syntax|escape|reason)" < <(
	reason "sha256=$KEN_TP\$reason=a\\zz")

# ---- whole entries ----------------------------------------------------------------------
newentry() {	# UID EXTRA-LINES
	printf 'dn: uid=%s,%s\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: certpinUser\nuid: %s\ncn: N\nsn: N\n%s\n' \
		"$1" "$PEOPLE" "$1" "$2"
}
bad "new entry with a forged thumbprint" "maintained by" 19 < <(newentry forger1 "certpinThumbprint: $(der_sha256 "$PKI/spare.der")")
bad "new entry with forged metadata" "maintained by" 19 < <(newentry forger2 "certpinCertInfo: sha256=$(der_sha256 "$PKI/spare.der")")
bad "new entry with a forged revocation record" "maintained by" 19 < <(newentry forger3 "certpinRevoked: sha256=$KEN_TP\$revoked=20200101000000Z")
bad "new entry with certpinCertificate without ;binary" "(requires ;binary transfer|written as certpinCertificate;binary)" < <(newentry forger4 "certpinCertificate:< file://$PKI/spare.der")
bad "new entry with a garbage certificate" "(Invalid syntax|not a well-formed)" < <(newentry forger5 "$CB:< file://$B/random30")
bad "new entry with ken's certificate" "already on file" 19 < <(newentry forger6 "$CB:< file://$PKI/kenmyer.der")
bad "new entry with a revoked certificate" "revoked" 19 < <(newentry forger7 "$CB:< file://$PKI/jdoe.der")
bad "new entry with 21 certificates" "at most 20 certificates" 19 < <(newentry forger8 "$(printf "$CB:< file://%s\n" "$B"/many{1..21}.der)")
bad "new entry with one certificate twice" "(duplicate|repeats|already exists|Type or value exists)" < <(newentry forger9 "$(printf "$CB:< file://%s\n" "$PKI/spare.der" "$PKI/spare.der")")
bad "new entry with a certificate but no certpinUser" "(Object class violation|not allowed)" 65 < <(
	printf 'dn: uid=forger10,%s\nchangetype: add\nobjectClass: inetOrgPerson\nuid: forger10\ncn: N\nsn: N\n%s:< file://%s\n' \
		"$PEOPLE" "$CB" "$PKI/spare.der")

# ---- accepted, but neutralised: injection inside a reason -----------------------------------
check "a reason full of record syntax is accepted with the delete" root_modify <<LDIF
$(reason "sha256=$KEN_TP\$reason=lost\\24by=cn=evil\\5c\$by=cn=evil,dc=example,dc=com\$revoked=19700101000000Z")
LDIF
recs=$(root_search -b "$KEN" -s base certpinRevoked | sed -n "s/^certpinRevoked: \(sha256=$KEN_TP.*\)/\1/p")
by=$(printf '%s' "$recs" | tr '$' '\n' | sed -n 's/^by=//p')
check_eq "the record names the real revoker, not the injected one" "cn=admin,dc=example,dc=com" "$by"
check_eq "the record has exactly one by= and one revoked= field" "1 1" \
	"$(printf '%s' "$recs" | tr '$' '\n' | grep -c '^by='|tr -d '\n') $(printf '%s' "$recs" | tr '$' '\n' | grep -c '^revoked=')"
check_out "the injected text stays inside the reason, escaped" 'reason=lost\\24by=cn=evil\\5c(\$|$)' printf '%s\n' "$recs"
check_out "and the revocation time is now, not 1970" "revoked=$(date -u +%Y)" printf '%s\n' "$recs"

check "slapd is alive after the whole catalogue" srv_alive 1
check "every entry is consistent (certificates, thumbprints, metadata)" certs_consistent
check "at least 50 distinct bad inputs were tried" test "$BAD_N" -ge 50
echo "# $BAD_N bad inputs refused"
done_testing
