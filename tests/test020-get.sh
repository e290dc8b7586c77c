#!/bin/bash
# test020-get: certpin-get names users as Active Directory does (DN, SIP
# address, UPN, DOMAIN\logon, display name, ldapsearch's dn: lines), refuses
# wildcards, escapes every value, reports ambiguous and unknown users; its
# table, LDIF and JSON agree field by field with openssl; the date filters
# hold at their edges; it works over ldaps, StartTLS and ldapi EXTERNAL, on
# one connection however many identities; the ACLs keep other users'
# certificate data from ordinary users; the shared option parser behaves as
# OpenLDAP's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tools.sh"

pki_standard
tools_server 1
ok "slapd with certpin, msuser.schema and the tools' ACLs started"
for c in kenmyer kenmyer2; do record_cert kenmyer "$PKI/$c.der" >/dev/null || die "record $c"; done
record_cert pilar "$PKI/pilar.der" >/dev/null || die "record pilar"
for c in expired future; do record_cert jdoe "$PKI/$c.der" >/dev/null || die "record $c"; done
TP_K1=$(der_sha256 "$PKI/kenmyer.der")
TP_K2=$(der_sha256 "$PKI/kenmyer2.der")
TP_P=$(der_sha256 "$PKI/pilar.der")
TP_EXP=$(der_sha256 "$PKI/expired.der")
TP_FUT=$(der_sha256 "$PKI/future.der")
KEN_TPS=$(printf '%s\n' "$TP_K1" "$TP_K2" | sort)

# (the schema files: tests/test094)

# ---- every identity form names the same user ---------------------------------------
ids_of() { jq -r '.[].Identity' | sort -u; }
tps_of() { jq -r '.[].Thumbprint' | sort; }
for id in "$KEN" "sip:kenmyer@example.com" "SIP:KenMyer@Example.COM" "kenmyer@example.com" \
	  'EXAMPLE\kenmyer' 'example\KENMYER' "Ken Myer" "ken myer"; do
	out=$(as_root "$GET" --output=json "$id" 2>&1)
	check_eq "identity \"$id\" resolves to Ken Myer" "$KEN" "$(printf '%s' "$out" | ids_of 2>&1)"
	check_eq "identity \"$id\": both his certificates" "$KEN_TPS" "$(printf '%s' "$out" | tps_of 2>&1)"
done
check_eq "Pilar by SIP address" "$TP_P" "$(as_root "$GET" --output=json sip:pilar@example.com | tps_of)"
check_eq "several identities, input order kept" "$PILAR $KEN $PILAR" \
	"$(as_root "$GET" --output=json "Pilar Ackerman" kenmyer@example.com 'EXAMPLE\pilar' |
		jq -r '.[].Identity' | uniq | tr '\n' ' ' | sed 's/ $//')"

# identities on standard input, with -f, and as ldapsearch prints DNs
printf 'Ken Myer\n\n# a comment\nsip:pilar@example.com\r\n' > "$TESTDIR/ids"
check_eq "identities one per line on standard input (blank, comment, CRLF lines)" \
	"$(printf '%s\n' "$KEN_TPS" "$TP_P" | sort)" "$(as_root "$GET" --output=json < "$TESTDIR/ids" | tps_of)"
check_eq "identities from -f file" \
	"$(printf '%s\n' "$KEN_TPS" "$TP_P" | sort)" "$(as_root "$GET" --output=json -f "$TESTDIR/ids" </dev/null | tps_of)"
check_rc_out 2 "arguments and -f together are refused (usage error: 2)" "both as arguments and with -f" \
	as_root "$GET" -f "$TESTDIR/ids" "Ken Myer"
check_eq "ldapsearch -LLL ... dn | certpin-get" "$KEN_TPS" \
	"$(root_search -b "$PEOPLE" '(uid=kenmyer)' dn | as_root "$GET" --output=json | tps_of)"
check_eq "ldapsearch's full output (comments, search:, result:) | certpin-get" \
	"$(printf '%s\n' "$KEN_TPS" "$TP_P" | sort)" \
	"$(ldapsearch -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" -b "$PEOPLE" \
		'(|(uid=kenmyer)(uid=pilar))' dn | as_root "$GET" --output=json | tps_of)"
check_eq "ldapsearch's folded dn: lines (ldif-wrap=20)" "$KEN_TPS" \
	"$(ldapsearch -LLL -o ldif-wrap=20 -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 1 ldapi)" \
		-b "$PEOPLE" '(uid=kenmyer)' dn | as_root "$GET" --output=json | tps_of)"
# a non-ASCII DN comes as "dn:: base64"
root_add >/dev/null <<LDIF || die "cannot add jürgen"
dn: uid=jürgen,$PEOPLE
objectClass: inetOrgPerson
objectClass: certpinUser
uid: jürgen
cn: Jürgen Groß
sn: Groß
displayName: Jürgen Groß
LDIF
record_cert jürgen "$PKI/spare.der" >/dev/null || die "record spare"
check_out "ldapsearch prints that DN base64-encoded" "^dn:: " root_search -b "$PEOPLE" '(uid=jürgen)' dn
check_eq "dn:: (base64) lines are decoded" "$(der_sha256 "$PKI/spare.der")" \
	"$(root_search -b "$PEOPLE" '(uid=jürgen)' dn | as_root "$GET" --output=json | tps_of)"
check_eq "a non-ASCII display name" "$(der_sha256 "$PKI/spare.der")" \
	"$(as_root "$GET" --output=json "Jürgen Groß" | tps_of)"

# ---- refusals: ambiguity, unknown users, wildcards, injection ------------------------
check_rc_out 1 "a display name matching two users is an error" '"John Doe" matches 2 users' \
	as_root "$GET" "John Doe"
out=$(as_root "$GET" "John Doe" 2>&1)
check_out "... listing the first" "^	$JDOE\$" printf '%s\n' "$out"
check_out "... and the second" "^	$JDOE2\$" printf '%s\n' "$out"
check_eq "... and printing no certificate" "" "$(as_root "$GET" "John Doe" 2>/dev/null)"
check_eq "the two John Does apart, by SIP address" "$(printf '%s\n' "$TP_EXP" "$TP_FUT" | sort)" \
	"$(as_root "$GET" --output=json sip:jdoe@example.com | tps_of)"
check_rc_out 32 "an unknown display name is an error naming it" '"Nobody Here": no such user' \
	as_root "$GET" "Nobody Here"
check_rc_out 32 "an unknown UPN" '"nobody@example.com": no such user' as_root "$GET" nobody@example.com
check_rc_out 32 "an unknown SIP address" '"sip:nobody@example.com": no such user' \
	as_root "$GET" sip:nobody@example.com
check_rc_out 32 "an unknown DN" "no such user" as_root "$GET" "uid=nobody,$PEOPLE"
check_rc_out 1 "an unknown NetBIOS domain" 'unknown domain "OTHER"' as_root "$GET" 'OTHER\kenmyer'
for w in "Ken*" "*" "sip:ken*@example.com" "*@example.com" 'EXAMPLE\ken*' '*)(uid=*' 'Ken Myer)(|(uid=*'; do
	check_rc_out 1 "wildcard refused: $w" "wildcards are not allowed" as_root "$GET" "$w"
done
for inj in 'x)(uid=kenmyer' 'Ken Myer)(uid=kenmyer' 'kenmyer@example.com)(uid=pilar' \
	   'EXAMPLE\kenmyer)(uid=kenmyer' 'Ken Myer()' 'sip:x)(|(uid=kenmyer)'; do
	check_rc_out 32 "filter injection finds nothing: $inj" "no such user" as_root "$GET" "$inj"
	check_eq "... and prints no certificate: $inj" "" "$(as_root "$GET" "$inj" 2>/dev/null)"
done
check_out "the injection reached slapd escaped (RFC 4515)" \
	'filter="\(&\(objectClass=\*\)\(displayName=x\\29\\28uid=kenmyer\)\)"' cat "$TESTDIR/srv1/slapd.log"
check_rc_out 1 "an empty identity" "empty identity" as_root "$GET" ""
# -c: stop at the first error, or continue and exit with the last one
out=$(as_root "$GET" --output=json "Nobody Here" "Ken Myer" 2>/dev/null)
check_eq "without -c the run stops at the first error" "[]" "$out"
out=$(as_root "$GET" -c --output=json "Nobody Here" "Ken Myer" "John Doe" 2>/dev/null) && rc=0 || rc=$?
check_eq "with -c it continues" "$KEN_TPS" "$(printf '%s' "$out" | tps_of)"
check_eq "... and exits with the last error (ambiguity: 1)" 1 "$rc"

# ---- output, field by field against openssl ---------------------------------------------
json=$(as_root "$GET" --output=json "Ken Myer")
check "JSON is valid (jq) and an array of 2" test "$(printf '%s' "$json" | jq 'length')" = 2
now=$(date -u +%s)
for c in kenmyer kenmyer2; do
	der=$PKI/$c.der
	tp=$(ossl_sha256 "$der")
	obj=$(printf '%s' "$json" | jq -c --arg t "$tp" '.[] | select(.Thumbprint == $t)')
	f() { printf '%s' "$obj" | jq -r ".$1"; }
	check_eq "json $c: Identity" "$KEN" "$(f Identity)"
	check_eq "json $c: Thumbprint = openssl SHA-256" "$tp" "$(f Thumbprint)"
	check_eq "json $c: Sha1Thumbprint = openssl SHA-1" "$(ossl_sha1 "$der")" "$(f Sha1Thumbprint)"
	check_eq "json $c: SerialNumber = openssl -serial" "$(ossl_serial "$der")" "$(f SerialNumber)"
	check_eq "json $c: Issuer = openssl -issuer (RFC 2253)" "$(ossl_issuer "$der")" "$(f Issuer)"
	check_eq "json $c: Subject = openssl -subject (RFC 2253)" "$(ossl_subject "$der")" "$(f Subject)"
	check_eq "json $c: ExpirationTime = notAfter, ISO 8601 UTC" "$(ossl_date "$der" enddate)" "$(f ExpirationTime)"
	check_eq "json $c: NotBefore = notBefore" "$(ossl_date "$der" startdate)" "$(f NotBefore)"
	pub=$(f PublicationTime)
	check_out "json $c: PublicationTime is ISO 8601 UTC" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' echo "$pub"
	check "json $c: PublicationTime is the time of recording" \
		test $((now - $(date -u -d "$pub" +%s))) -ge 0 -a $((now - $(date -u -d "$pub" +%s))) -lt 120
	check_eq "json $c: Endpoint (none recorded) is null" "null" "$(f Endpoint)"
done
ldif=$(as_root "$GET" --output=ldif -o ldif_wrap=no "Ken Myer")
check_eq "LDIF: one record per certificate" 2 "$(printf '%s\n' "$ldif" | grep -c '^dn: ')"
for c in kenmyer kenmyer2; do
	der=$PKI/$c.der
	tp=$(ossl_sha256 "$der")
	rec=$(printf '%s\n' "$ldif" | awk -v t="$tp" 'BEGIN{RS=""} index($0, "Thumbprint: " t "\n") || $0 ~ ("Thumbprint: " t "$")')
	l() { printf '%s\n' "$rec" | sed -n "s/^$1: //p"; }
	check_eq "ldif $c: dn" "$KEN" "$(l dn)"
	check_eq "ldif $c: Thumbprint" "$tp" "$(l Thumbprint)"
	check_eq "ldif $c: Sha1Thumbprint" "$(ossl_sha1 "$der")" "$(l Sha1Thumbprint)"
	check_eq "ldif $c: SerialNumber" "$(ossl_serial "$der")" "$(l SerialNumber)"
	check_eq "ldif $c: Issuer" "$(ossl_issuer "$der")" "$(l Issuer)"
	check_eq "ldif $c: Subject" "$(ossl_subject "$der")" "$(l Subject)"
	check_eq "ldif $c: ExpirationTime" "$(ossl_date "$der" enddate)" "$(l ExpirationTime)"
	check_eq "ldif $c: PublicationTime as in JSON" \
		"$(printf '%s' "$json" | jq -r --arg t "$tp" '.[] | select(.Thumbprint == $t) | .PublicationTime')" "$(l PublicationTime)"
done
table=$(as_root "$GET" "Ken Myer")
check_out "table: a header" "^PublicationTime +ExpirationTime +Thumbprint +Endpoint +Identity$" printf '%s\n' "$table"
for c in kenmyer kenmyer2; do
	der=$PKI/$c.der
	check_out "table: $c's row (publication, expiration, thumbprint, endpoint, identity)" \
		"^[0-9T:Z-]{20} $(ossl_date "$der" enddate) $(ossl_sha256 "$der") - +$KEN\$" printf '%s\n' "$table"
done
check_eq "table: header + 2 rows" 3 "$(printf '%s\n' "$table" | grep -c .)"
check_rc_out 2 "an unknown output format is refused (usage error: 2)" "unknown output format" as_root "$GET" --format xml "Ken Myer"
check_eq "no certificates: JSON is an empty array" "[]" "$(as_root "$GET" --output=json "Cert Admin")"

# ---- date filters at their edges (strict comparisons) ----------------------------------
tps() { as_root "$GET" --output=json "$@" sip:jdoe@example.com | tps_of | tr '\n' ' ' | sed 's/ $//'; }
check_eq "--expires-before notAfter itself excludes the certificate" "" "$(tps --expires-before 2021-01-01T00:00:00Z)"
check_eq "--expires-before notAfter + 1 s includes it" "$TP_EXP" "$(tps --expires-before 2021-01-01T00:00:01Z)"
check_eq "--expires-before a date (midnight) as the seed's example" "$TP_EXP" "$(tps --expires-before 2030-09-05)"
check_eq "--expires-after notAfter itself excludes the certificate" "" "$(tps --expires-after 2041-01-01T00:00:00Z)"
check_eq "--expires-after notAfter - 1 s includes it" "$TP_FUT" "$(tps --expires-after 2040-12-31T23:59:59Z)"
check_eq "--expires-after and --expires-before together" "" "$(tps --expires-after 2021-01-01T00:00:00Z --expires-before 2041-01-01T00:00:00Z)"
pubK1=$(printf '%s' "$json" | jq -r --arg t "$TP_K1" '.[] | select(.Thumbprint == $t) | .PublicationTime')
s=$(date -u -d "$pubK1" +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
ktps() { as_root "$GET" --output=json "$@" "Ken Myer" | jq -r --arg t "$TP_K1" '.[] | select(.Thumbprint == $t) | .Thumbprint'; }
check_eq "--issued-after PublicationTime itself excludes the certificate" "" "$(ktps --issued-after "$(iso "$s")")"
check_eq "--issued-after PublicationTime - 1 s includes it" "$TP_K1" "$(ktps --issued-after "$(iso $((s - 1)))")"
check_eq "--issued-before PublicationTime itself excludes it" "" "$(ktps --issued-before "$(iso "$s")")"
check_eq "--issued-before PublicationTime + 1 s includes it" "$TP_K1" "$(ktps --issued-before "$(iso $((s + 1)))")"
check_eq "--issued-after 2018-01-01 (the seed's example 3)" "$KEN_TPS" \
	"$(as_root "$GET" --output=json --issued-after 2018-01-01 "Ken Myer" | tps_of)"
check_rc_out 2 "a US-format date is refused with a hint (usage error: 2)" "invalid date \"9/5/2018\".*ISO 8601" \
	as_root "$GET" --expires-before 9/5/2018 "Ken Myer"
check_rc_out 2 "a filter given twice is refused (usage error: 2)" "previously specified" \
	as_root "$GET" --expires-before 2020-01-01 --expires-before 2021-01-01 "Ken Myer"

# ---- --all (paged) and --revoked ---------------------------------------------------------
all=$(as_root "$GET" --all --output=json | tps_of)
check_eq "--all: every certificate of every user" \
	"$(printf '%s\n' "$TP_K1" "$TP_K2" "$TP_P" "$TP_EXP" "$TP_FUT" "$(der_sha256 "$PKI/spare.der")" | sort)" "$all"
echo "page-size 2" > "$TESTDIR/page.conf"
before=$(grep -c "SRCH base=\"$SUFFIX\" scope=2" "$TESTDIR/srv1/slapd.log")
check_eq "--all with page-size 2 gives the same" "$all" "$(as_root "$GET" --config "$TESTDIR/page.conf" --all --output=json | tps_of)"
after=$(grep -c "SRCH base=\"$SUFFIX\" scope=2" "$TESTDIR/srv1/slapd.log")
check "... in several pages (4 users, pages of 2: 2 or 3 searches)" test $((after - before)) -ge 2
check_rc_out 2 "--all with identities is refused (usage error: 2)" "takes no identities" as_root "$GET" --all "Ken Myer"
root_modify >/dev/null <<LDIF || die "revoke by ldapmodify"
dn: $PILAR
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/pilar.der
-
add: certpinRevoked
certpinRevoked: sha256=$TP_P\$reason=lost phone
LDIF
rev=$(as_root "$GET" --revoked --output=json "Pilar Ackerman")
check_eq "--revoked lists the revocation record" "$TP_P" "$(printf '%s' "$rev" | jq -r '.[].Thumbprint')"
check_eq "--revoked: Reason" "lost phone" "$(printf '%s' "$rev" | jq -r '.[].Reason')"
check_eq "--revoked: RevokedBy" "$ROOTDN" "$(printf '%s' "$rev" | jq -r '.[].RevokedBy')"
check_eq "--revoked: SerialNumber" "$(ossl_serial "$PKI/pilar.der")" "$(printf '%s' "$rev" | jq -r '.[].SerialNumber')"
check_out "--revoked: RevocationTime ISO 8601" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' \
	printf '%s\n' "$(printf '%s' "$rev" | jq -r '.[].RevocationTime')"
check_eq "--revoked --all finds the history" "$TP_P" "$(as_root "$GET" --revoked --all --output=json | tps_of)"
check_eq "Pilar now holds no certificate" "[]" "$(as_root "$GET" --output=json "Pilar Ackerman")"

# ---- access control: an ordinary user sees only their own --------------------------------
check_eq "an ordinary user gets nothing of another user's certificates" "[]" \
	"$(as_user pilar "$GET" --output=json "Ken Myer" 2>/dev/null)"
check_rc_out 50 "... and is told so: insufficient access, not 'no certificates'" \
	"^certpin-get: \"$KEN\": Insufficient access \(50\)$" as_user pilar "$GET" "Ken Myer"
check_eq "... nor of anybody's with --all" "[]" "$(as_user pilar "$GET" --output=json --all 2>/dev/null)"
check_eq "... nor from the revocation history" "[]" "$(as_user jdoe2 "$GET" --output=json --revoked --all 2>/dev/null)"
check_rc_out 50 "... and --all says the server hides them" "Insufficient access \(50\)" \
	as_user jdoe2 "$GET" --revoked --all
check_eq "... and ldapsearch shows them no certificate attribute either" "" \
	"$(as_user pilar ldapsearch -LLL -b "$KEN" -s base certpinCertificate certpinCertInfo certpinThumbprint | grep -v '^dn:' | grep .)"
check_eq "a user lists their own certificates" "$KEN_TPS" "$(as_user kenmyer "$GET" --output=json "Ken Myer" | tps_of)"
check_eq "the auditors' group reads everybody's" "$(as_root "$GET" --all --output=json | tps_of)" "$(as_user auditor "$GET" --all --output=json | tps_of)"

# ---- connections: ldaps, StartTLS, TLS client certificate, ldapi EXTERNAL -----------------
check_eq "remote over ldaps (simple bind)" "$KEN_TPS" \
	"$(tls "$GET" -x -D "$ADMIN" -w pw-admin -H "$(srv_uri 1 ldaps)" --output=json "Ken Myer" | tps_of)"
check_eq "remote with StartTLS (-ZZ)" "$KEN_TPS" \
	"$(tls "$GET" -ZZ -x -D "$ADMIN" -w pw-admin -H "$(srv_uri 1 ldap)" --output=json "Ken Myer" | tps_of)"
check_eq "SASL EXTERNAL over ldaps with the user's own certificate" "$KEN_TPS" \
	"$(tls LDAPTLS_CERT="$PKI/kenmyer.crt" LDAPTLS_KEY="$PKI/kenmyer.key" "$GET" -Q -Y EXTERNAL \
		-H "$(srv_uri 1 ldaps)" --output=json kenmyer@example.com | tps_of)"
check_eq "local root over ldapi with SASL EXTERNAL" "$KEN_TPS" \
	"$("$GET" -Y EXTERNAL -H "$(srv_uri 1 ldapi)" --output=json "Ken Myer" 2>/dev/null | tps_of)"
check_rc_out 1 "-ZZ fails when the server certificate is not trusted" "ldap_start_tls" \
	env -u LDAPNOINIT HOME="$TESTDIR" LDAPTLS_CACERT="$PKI/foreignca.crt" LDAPTLS_REQCERT=demand \
	"$GET" -ZZ -x -D "$ADMIN" -w pw-admin -H "$(srv_uri 1 ldap)" "Ken Myer"
echo "TLS_CACERT $PKI/ca.crt" > "$TESTDIR/ldaprc"
check_eq "ldap.conf-style settings (LDAPCONF) are honoured" "$KEN_TPS" \
	"$(env -u LDAPNOINIT HOME="$TESTDIR" LDAPCONF="$TESTDIR/ldaprc" "$GET" -x -D "$ADMIN" -w pw-admin -H "$(srv_uri 1 ldaps)" --output=json "Ken Myer" | tps_of)"
check_eq "-o TLS_CACERT=... sets an ldap.conf option" "$KEN_TPS" \
	"$(env -u LDAPNOINIT HOME="$TESTDIR" "$GET" -o TLS_CACERT="$PKI/ca.crt" -x -D "$ADMIN" -w pw-admin -H "$(srv_uri 1 ldaps)" --output=json "Ken Myer" | tps_of)"

# many identities: one connection, searches pipelined
{
	echo "dn: ou=bulk,$SUFFIX"; echo "objectClass: organizationalUnit"; echo "ou: bulk"; echo
	for i in $(seq 1 300); do
		echo "dn: uid=bulk$i,ou=bulk,$SUFFIX"; echo "objectClass: inetOrgPerson"; echo "objectClass: adNamedUser"
		echo "uid: bulk$i"; echo "cn: Bulk $i"; echo "sn: $i"; echo "displayName: Bulk User $i"
		echo "userPrincipalName: bulk$i@example.com"; echo
	done
} > "$TESTDIR/bulk.ldif"
root_add -f "$TESTDIR/bulk.ldif" >/dev/null || die "cannot add bulk users"
{ for i in $(seq 1 300); do echo "bulk$i@example.com"; done; echo "Ken Myer"; } > "$TESTDIR/bulk.ids"
conns=$(grep -c "ACCEPT from" "$TESTDIR/srv1/slapd.log")
t0=$(date +%s%N)
out=$(as_root "$GET" --output=json -f "$TESTDIR/bulk.ids") && rc=0 || rc=$?
t1=$(date +%s%N)
check_eq "301 identities resolved" "0 $KEN_TPS" "$rc $(printf '%s' "$out" | tps_of)"
check_eq "... on exactly one connection" 1 $(( $(grep -c "ACCEPT from" "$TESTDIR/srv1/slapd.log") - conns ))
echo "# 301 identities resolved in $(( (t1 - t0) / 1000000 )) ms"
# through a proxy that holds every answer back 0.2 s: a client waiting for
# each answer would need 100 x 0.2 s; the searches go out 64 at a time
delay_proxy 1 0.2
head -n 100 "$TESTDIR/bulk.ids" > "$TESTDIR/bulk100.ids"
t0=$(date +%s%N)
check_rc 0 "100 identities through the delaying proxy" \
	"$GET" -x -D "$ADMIN" -w pw-admin -H "$PROXY_URI" -f "$TESTDIR/bulk100.ids"
t1=$(date +%s%N)
echo "# 100 identities with 0.2 s latency: $(( (t1 - t0) / 1000000 )) ms"
check_eq "... 64 searches in flight at once (pipelined, window 64)" 64 "$(proxy_peak search)"
check "... in well under the 20 s a one-by-one client needs" test $(( (t1 - t0) / 1000000 )) -lt 5000
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true

# ---- the shared option parser --------------------------------------------------------
fifo=$TESTDIR/fifo
mkfifo "$fifo"
exec 9<>"$fifo"
"$GET" -x -D "$ADMIN" -w pw-admin -H "$(srv_uri 1 ldapi)" < "$fifo" > /dev/null 2>&1 9>&- &
gpid=$!
sleep 0.3
check_out "the tool waits for identities on standard input" "-D $ADMIN" sh -c "tr '\\0' ' ' < /proc/$gpid/cmdline"
check "-w: the password is wiped from the process arguments" \
	sh -c "! tr '\\0' ' ' < /proc/$gpid/cmdline | grep -q pw-admin"
exec 9>&-
wait "$gpid" || true
check_rc_out 2 "-y with -w is refused (usage error: 2)" "-y incompatible with -w" "$GET" -x -D "$ADMIN" -w x -y /etc/hostname "Ken Myer"
check_rc_out 2 "-W with -w is refused (usage error: 2)" "-W incompatible with -w" "$GET" -x -D "$ADMIN" -w x -W "Ken Myer"
check_rc_out 2 "-D twice is refused (usage error: 2)" "-D previously specified" "$GET" -D a -D b "Ken Myer"
check_rc_out 2 "-x after -Y is refused (usage error: 2)" "incompatible with previous authentication choice" "$GET" -Y EXTERNAL -x "Ken Myer"
check_rc_out 2 "an unknown option is refused (usage error: 2)" "unrecognized option|invalid option" "$GET" --bogus "Ken Myer"
check_rc_out 0 "--help lists the common options" "-Z +Start TLS request" "$GET" --help
check_rc_out 49 "a wrong password: ldapsearch's message and exit code" "^ldap_bind: Invalid credentials \(49\)$" \
	"$GET" -x -D "$ADMIN" -w wrong -H "$(srv_uri 1 ldapi)" "Ken Myer"
printf 'pw-admin' > "$TESTDIR/pw"
chmod 600 "$TESTDIR/pw"
check_eq "-y reads the password from a file" "$KEN_TPS" \
	"$("$GET" -x -D "$ADMIN" -y "$TESTDIR/pw" -H "$(srv_uri 1 ldapi)" --output=json "Ken Myer" | tps_of)"
out=$({ sleep 0.5; printf 'pw-admin\n'; } | script -qec "$GET -x -D '$ADMIN' -W -H '$(srv_uri 1 ldapi)' --output=json 'Ken Myer'" /dev/null 2>&1)
check_out "-W prompts on the terminal" "Enter LDAP Password:" printf '%s\n' "$out"
check_out "... and binds with what was typed" "$TP_K1" printf '%s\n' "$out"
check "... without echoing it" sh -c "! printf '%s\n' '$out' | grep -q pw-admin"
check_rc_out 255 "no server: ldapsearch's message and exit code" "Can't contact LDAP server \(-1\)" \
	"$GET" -x -H "ldap://127.0.0.1:$(free_port)/" "Ken Myer"
check_rc_out 2 "-n means nothing to certpin-get (usage error: 2)" "-n has no meaning" as_root "$GET" -n "Ken Myer"

# ---- the identity configuration file -----------------------------------------------------
cat > "$TESTDIR/certpin.conf" <<CONF
# users are searched under ou=people only, named by cn
base $PEOPLE
filter (objectClass=inetOrgPerson)
display-attribute cn
domain CORP $PEOPLE
CONF
check_eq "--config: display-attribute cn" "$KEN_TPS" \
	"$(as_root "$GET" --config "$TESTDIR/certpin.conf" --output=json "Ken Myer" | tps_of)"
check_eq "CERTPIN_CONF names the file" "$KEN_TPS" \
	"$(CERTPIN_CONF="$TESTDIR/certpin.conf" as_root "$GET" --output=json 'CORP\kenmyer' | tps_of)"
check_rc_out 1 "a configured domain replaces the default one" 'unknown domain "EXAMPLE"' \
	as_root "$GET" --config "$TESTDIR/certpin.conf" 'EXAMPLE\kenmyer'
check_rc_out 32 "the configured base limits the search" "no such user" \
	as_root "$GET" --config "$TESTDIR/certpin.conf" --output=json "Bulk 7"
printf 'base %s\nupn-attribute mail\n' "$SUFFIX" > "$TESTDIR/mail.conf"
check_eq "upn-attribute is configurable (mail)" "$KEN_TPS" \
	"$(as_root "$GET" --config "$TESTDIR/mail.conf" --output=json kenmyer@example.com | tps_of)"
check_rc_out 32 "a DN outside the configured filter (an OU) is no user" "no such user" \
	as_root "$GET" --config "$TESTDIR/certpin.conf" "$PEOPLE"
printf 'base %s\nbogus-directive x\n' "$SUFFIX" > "$TESTDIR/bad.conf"
check_rc_out 1 "an unknown directive is refused with file:line" "bad.conf:2: unknown directive: bogus-directive" \
	as_root "$GET" --config "$TESTDIR/bad.conf" "Ken Myer"
printf 'display-attribute cn)(uid=*\n' > "$TESTDIR/bad2.conf"
check_rc_out 1 "an attribute name with filter characters is refused" "invalid attribute name" \
	as_root "$GET" --config "$TESTDIR/bad2.conf" "Ken Myer"
check_rc_out 1 "a missing --config file is an error" "No such file" \
	as_root "$GET" --config "$TESTDIR/missing.conf" "Ken Myer"

check "slapd is still running" srv_alive 1
done_testing
