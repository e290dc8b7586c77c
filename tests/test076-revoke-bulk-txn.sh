#!/bin/bash
# test076-revoke-bulk-txn: certpin-revoke over 2,000 users in RFC 5805
# transactions (issue 14 item 1).  The revoked certificates are refused at a
# real TLS SASL EXTERNAL logon, the records and certpinRevokedThumbprint are
# written; a transaction the server aborts at commit (one user whose
# certificates the administrator may not delete, by ACL) commits nothing of
# its batch, the tool names the user and revokes the others one at a time
# (without -c it stops at that user, exactly where one modify per user would
# have stopped); a second run has "nothing to revoke" for the users done; the
# fallback to one modify per user on a database without transactions
# (back-ldif, which slapd still advertises the extension for) and with
# --no-transactions; the progress line on a terminal only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-bulk.sh"

REVOKE=$TOOLS/certpin-revoke
[ -x "$REVOKE" ] || die "tools not built (run make)"
command -v script >/dev/null || die "script (bsdutils) is missing"
N=2000
mkdir -p "$PKI"
pki_ca ca
pki_cert ca server 127.0.0.1 server
bulk_users "$N" 20
# the protected user: the 8th sample (its certificates stay and log on)
PROT=$(sed -n '8s/ .*//p' "$BULK/sample.lst")
BADMIN="uid=badmin,$PEOPLE"
SRV_ACL="access to dn.exact=\"$PROT\" attrs=certpinCertificate
	by dn.exact=\"$BADMIN\" read
	by * break
access to *
	by dn.exact=\"$BADMIN\" write
	by * break" srv_conf 1
bulk_load 1
srv_start 1
export SRV=1
add_user badmin "Bulk Admin" >/dev/null || die "cannot add badmin"
ADM=(-H "$(srv_uri 1 ldapi)" -x -D "$BADMIN" -w pw-badmin)
check_out "slapd advertises transactions (root DSE supportedExtension 1.3.6.1.1.21.1)" \
	"^supportedExtension: 1.3.6.1.1.21.1$" \
	ldapsearch -LLL -x -H "$(srv_uri 1 ldapi)" -b '' -s base supportedExtension
root_search -b "$PEOPLE" -s one '(certpinThumbprint=*)' dn | grep '^dn: ' > "$TESTDIR/dns"
check_eq "$N users hold certificates" "$N" "$(grep -c '^dn: ' "$TESTDIR/dns")"
pos=$(grep -n "^dn: $PROT\$" "$TESTDIR/dns" | cut -d: -f1)
[ -n "$pos" ] && [ "$pos" -gt 300 ] || die "protected user $PROT not found far enough in the list ($pos)"
bad=0
while read -r dn c0 c1; do
	bulk_logon 1 "$c0" | grep -qx "dn:$dn" || bad=$((bad + 1))
done < "$BULK/sample.lst"
check_eq "before: the 20 sample users' certificates log on" 0 "$bad"

# ---- a transaction the server aborts, without -c: stop where it fails ------------------
txn0=$(grep -c "TXN END" "$TESTDIR/srv1/slapd.log")
out=$("$REVOKE" "${ADM[@]}" --batch 100 --done-file "$TESTDIR/done1" < "$TESTDIR/dns" 2>&1) && rc=0 || rc=$?
check_eq "without -c: exit 50 (insufficientAccess, the protected user)" 50 "$rc"
check_eq "... the tool names the failed transaction and the user that failed it" 1 \
	"$(grep -cE "a transaction of 100 users was not committed \(nothing of it was changed\): \"$PROT\": Insufficient access \(50\); revoking them one at a time" <<< "$out")"
check_eq "... and the retry's own error for that user" 1 \
	"$(grep -cE "^certpin-revoke: \"$PROT\": Insufficient access \(50\)" <<< "$out")"
check_eq "... and stops there: everything before it done, nothing after it" 1 \
	"$(grep -cE "^certpin-revoke: $((2 * (pos - 1))) certificates revoked for [0-9]+ users, 1 error; stopped after $pos of $N identities" <<< "$out")"
txn1=$(grep -c "TXN END" "$TESTDIR/srv1/slapd.log")
check "... transactions were used (slapd logged TXN END $((txn1 - txn0)) times)" test $((txn1 - txn0)) -ge $(((pos - 2) / 100))
head -n $((pos - 1)) "$TESTDIR/dns" | sed 's/^dn: //' | sort > "$TESTDIR/want1"
check_eq "the users without certificates now are exactly the first $((pos - 1)) of the list" \
	"$(cat "$TESTDIR/want1")" "$(comm -13 <(holders) <(sed 's/^dn: //' "$TESTDIR/dns" | sort))"
check_eq "... and exactly those in --done-file" "$(cat "$TESTDIR/want1")" \
	"$(sed -n 's/^dn: //p' "$TESTDIR/done1" | sort)"
# the users queued after the protected one in the aborted transaction
batch_end=$(( ( (pos - 2) / 100 + 1 ) * 100 + 1 ))
after=$(sed -n "$((pos + 1)),${batch_end}p" "$TESTDIR/dns" | sed 's/^dn: //')
left=0 recs=0
for dn in $after; do
	c=$(root_search -b "$dn" -s base certpinThumbprint | grep -c '^certpinThumbprint:')
	[ "$c" -eq 2 ] && left=$((left + 1))
	recs=$((recs + $(root_search -b "$dn" -s base certpinRevoked | grep -c '^certpinRevoked:')))
done
check_eq "the $(wc -w <<< "$after") users after it in the aborted transaction still hold both certificates" \
	"$(wc -w <<< "$after")" "$left"
check_eq "... and have no revocation record: nothing of the transaction was committed" 0 "$recs"

# ---- with -c: everyone else, then nothing to revoke ------------------------------------
out=$("$REVOKE" "${ADM[@]}" -c --batch 100 --done-file "$TESTDIR/done2" < "$TESTDIR/dns" 2>&1) && rc=0 || rc=$?
check_eq "with -c: exit 50 (the protected user)" 50 "$rc"
check_eq "... summary: the rest revoked, the first ones have nothing to revoke" 1 \
	"$(grep -cE "^certpin-revoke: $((2 * (N - pos))) certificates revoked for $N users, $((pos - 1)) with nothing to revoke, 1 error$" <<< "$out")"
check_eq "only the protected user holds certificates" "$PROT" "$(holders)"
check_eq "--done-file lists the $((N - pos)) users revoked by this run" $((N - pos)) \
	"$(grep -c '^dn: ' "$TESTDIR/done2")"
check_eq "$((N - 1)) users have certpinRevokedThumbprint" $((N - 1)) "$(revoked_dns | wc -l)"
check_eq "... two each ($((2 * (N - 1))) values)" $((2 * (N - 1))) \
	"$(root_search -b "$PEOPLE" -s one '(certpinRevokedThumbprint=*)' certpinRevokedThumbprint | grep -c '^certpinRevokedThumbprint:')"
check_eq "... and two records each (certpinRevoked)" $((2 * (N - 1))) \
	"$(root_search -b "$PEOPLE" -s one '(certpinRevoked=*)' certpinRevoked | grep -c '^certpinRevoked:')"
bad=0 good=0
while read -r dn c0 c1; do
	for c in "$c0" "$c1"; do
		o=$(bulk_logon 1 "$c")
		if [ "$dn" = "$PROT" ]; then
			grep -qx "dn:$dn" <<< "$o" && good=$((good + 1))
		else
			case $o in *"Invalid credentials (49)"*) ;; *) bad=$((bad + 1)); echo "# $dn: $o" ;; esac
		fi
	done
done < "$BULK/sample.lst"
check_eq "every revoked sample certificate (38) is refused at a TLS EXTERNAL logon (49)" 0 "$bad"
check_eq "... and the protected user's two still log on" 2 "$good"
out=$("$REVOKE" "${ADM[@]}" -c < "$TESTDIR/dns" 2>&1) && rc=0 || rc=$?
check_eq "a third run: the protected user is the only error" 50 "$rc"
check_eq "... everyone else has nothing to revoke" 1 \
	"$(grep -cE "^certpin-revoke: 0 certificates revoked for $N users, $((N - 1)) with nothing to revoke, 1 error$" <<< "$out")"

# ---- --no-transactions: one modify per user ----------------------------------------------
srv_stop 1
rm -rf "$TESTDIR/srv1/db"/*
bulk_load 1
srv_start 1
txn0=$(grep -c "TXN START" "$TESTDIR/srv1/slapd.log")
head -n 300 "$TESTDIR/dns" > "$TESTDIR/dns300"
check_rc_out 0 "--no-transactions: 300 users revoked, one modify each" \
	"^certpin-revoke: 600 certificates revoked for 300 users$" \
	"$REVOKE" -H "$(srv_uri 1 ldapi)" -x -D "$ROOTDN" -w "$ROOTPW" -c --no-transactions -f "$TESTDIR/dns300"
check_eq "... no transaction started" "$txn0" "$(grep -c "TXN START" "$TESTDIR/srv1/slapd.log")"
check_eq "... exactly those 300 revoked" 300 "$(revoked_dns | wc -l)"
check_rc_out 2 "--batch 0 is a usage error" "--batch: \"0\" is not a number of users" \
	"$REVOKE" -H "$(srv_uri 1 ldapi)" -x --batch 0 -f "$TESTDIR/dns300"
check_rc_out 2 "--batch with --no-transactions is a usage error" "incompatible with --batch" \
	"$REVOKE" -H "$(srv_uri 1 ldapi)" -x --batch 10 --no-transactions -f "$TESTDIR/dns300"

# ---- progress: on a terminal only ----------------------------------------------------------
# 1,000 users and, half way, one that does not exist (an error message)
{ sed -n '301,800p' "$TESTDIR/dns"; echo "dn: uid=nosuch,$PEOPLE"; sed -n '801,1300p' "$TESTDIR/dns"; } \
	> "$TESTDIR/dns1000"
script -q -e -c "$REVOKE -H $(srv_uri 1 ldapi) -x -D $ROOTDN -w $ROOTPW -c -f $TESTDIR/dns1000" \
	"$TESTDIR/tty.out" >/dev/null 2>&1 </dev/null && rc=0 || rc=$?
check_eq "on a terminal (script): exit 32 (the unknown user)" 32 "$rc"
check_eq "... the error message clears the progress line first (starts at the left margin)" 1 \
	"$(grep -c $'\r\033\\[Kcertpin-revoke: "uid=nosuch,'"$PEOPLE"'": no such user' "$TESTDIR/tty.out")"
check_eq "... a progress line, redrawn in place with \\r: done/total, rate" 1 \
	"$(tr '\r' '\n' < "$TESTDIR/tty.out" | grep -cE '^certpin-revoke: [0-9]+/1001 users \([0-9]+%\), [0-9]+ certificates revoked, [0-9]+ users/s' | awk '{print ($1 > 0)}')"
# The summary starts at the left margin: right after a newline (the
# progress line was not redrawn since the error message) or right after
# "\r ESC[K" (it was redrawn, and cleared).  Never after a bare "\r" or
# behind the progress text.  (The whole file: the redrawn progress line and
# the summary share one line of it.)
check_eq "... cleared before the summary (the summary starts at the left margin)" 1 \
	"$(perl -0777 -ne 'my $n = () = /(?:\A|\n|\r\e\[K)certpin-revoke: 2000 certificates revoked for 1000 users, 1 error/g; print $n' "$TESTDIR/tty.out")"
check_eq "... and is shown once" 1 \
	"$(perl -0777 -ne 'my $n = () = /certpin-revoke: 2000 certificates revoked for 1000 users, 1 error/g; print $n' "$TESTDIR/tty.out")"
# the other 700: --all (every user still holding certificates), into a pipe
txn0=$(grep -c "TXN END" "$TESTDIR/srv1/slapd.log")
"$REVOKE" -H "$(srv_uri 1 ldapi)" -x -D "$ROOTDN" -w "$ROOTPW" -c --all \
	> "$TESTDIR/pipe.out" 2> "$TESTDIR/pipe.err" && rc=0 || rc=$?
check_eq "--all, not on a terminal (a pipe): exit 0" 0 "$rc"
check "... in transactions" test "$(grep -c "TXN END" "$TESTDIR/srv1/slapd.log")" -ge $((txn0 + 2))
check_eq "... the summary is all of standard error: no progress line, no \\r" \
	"certpin-revoke: 1400 certificates revoked for 700 users" "$(cat "$TESTDIR/pipe.err")"
check_eq "... nothing on standard output" "" "$(cat "$TESTDIR/pipe.out")"
check_eq "all $N revoked" "$N" "$(revoked_dns | wc -l)"
srv_stop 1

# ---- a database without transactions: back-ldif --------------------------------------------
srv_conf 2
sed -i -e 's/^database mdb$/database ldif/' -e '/^maxsize /d' -e '/^index /d' \
	"$TESTDIR/srv2/slapd.conf"
# the base entries and the first 150 users of the LDIF
awk -v n=152 'BEGIN { RS = ""; ORS = "\n\n" } NR <= n' "$BULK/users.ldif" > "$TESTDIR/ldif150"
/usr/sbin/slapadd -q -f "$TESTDIR/srv2/slapd.conf" -l "$TESTDIR/ldif150" \
	>"$TESTDIR/srv2/slapadd.log" 2>&1 || die "slapadd into back-ldif failed: $(tail -n 3 "$TESTDIR/srv2/slapadd.log")"
srv_start 2
export SRV=2
root_search -b "$PEOPLE" -s one '(certpinThumbprint=*)' dn | grep '^dn: ' > "$TESTDIR/dnsldif"
check_eq "back-ldif: 150 users hold certificates" 150 "$(grep -c '^dn: ' "$TESTDIR/dnsldif")"
check_out "... and slapd still advertises transactions" "^supportedExtension: 1.3.6.1.1.21.1$" \
	ldapsearch -LLL -x -H "$(srv_uri 2 ldapi)" -b '' -s base supportedExtension
out=$("$REVOKE" -H "$(srv_uri 2 ldapi)" -x -D "$ROOTDN" -w "$ROOTPW" -c -f "$TESTDIR/dnsldif" 2>&1) && rc=0 || rc=$?
check_eq "certpin-revoke there: exit 0" 0 "$rc"
check_eq "... it notices the refusal and goes on with one modify per user" 1 \
	"$(grep -c "the server refuses transactions for \"$SUFFIX\": one modify per user from here on" <<< "$out")"
check_eq "... all 150 revoked" 1 "$(grep -c '^certpin-revoke: 300 certificates revoked for 150 users$' <<< "$out")"
check_eq "... none holds a certificate" "" "$(holders)"
check_eq "... each has its records" 150 "$(revoked_dns | wc -l)"
while read -r dn c0 c1; do
	case $dn in uid=u00001[0-4][0-9],*|uid=u00000[0-9][0-9],*) ;; *) continue ;; esac
	check_out "... $dn's certificate is refused at a TLS logon on back-ldif" "Invalid credentials \(49\)" \
		bulk_logon 2 "$c0"
done < "$BULK/sample.lst"
done_testing
