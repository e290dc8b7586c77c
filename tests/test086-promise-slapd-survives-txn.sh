#!/bin/bash
# test086-promise-slapd-survives-txn: "slapd keeps running" (and its data
# stays readable) whatever a client sends in an LDAP transaction (RFC 5805)
# or with the No-Op control.
#
# slapd 2.5's back-mdb numbers the attribute descriptions it stores (its
# ad2id table).  A write the backend undoes afterwards (a transaction that
# aborts at commit, a No-Op write) rolls the number of an attribute new to
# the database back in the database but not in memory: the next write of
# that attribute stores a number nobody can decode (the entry reads as
# "internal error"), the next new attribute gets the same number, and the
# read transaction the failed decode leaves open makes the next search on
# that thread fail an assertion (mdb_opinfo_get): slapd aborts.  Inside a
# transaction the write gate adds attributes itself at commit (the records
# of a revocation), so the first revocation of a database inside a
# transaction that aborts was enough.  Each attack runs on a fresh
# database, then: the writes that follow read back exactly, no entry is
# undecodable, slapd is alive after 20 searches (more than its 16 threads:
# a thread left with an open read transaction is hit).  On certpin before
# adtable.c attack 1 killed slapd every run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-logon.sh"

pki_standard
fresh() {
	if [ -d "$TESTDIR/srv1" ]; then
		srv_stop 1
		rm -rf "$TESTDIR/srv1"
	fi
	srv_conf 1
	srv_start 1
	srv_base 1
}
txn() { root_modify -E txn=commit; }
# after WHAT: the database reads back, no entry is undecodable, slapd lives
after() {
	local i rc bad=0
	for i in $(seq 1 20); do
		root_search -b "$SUFFIX" '*' '+' >/dev/null 2>&1 || bad=$((bad + 1))
	done
	if [ "$bad" -eq 0 ] && ! grep -q "not recognized" "$TESTDIR/srv1/slapd.log"; then
		ok "$1: every entry reads back, 20 times"
	else
		notok "$1: the database no longer reads back ($bad of 20 searches failed)"
		grep "not recognized" "$TESTDIR/srv1/slapd.log" | head -2 | sed 's/^/#   /'
	fi
	srv_alive 1 && ok "$1: slapd still running" || notok "$1: slapd died"
}
# has DN ATTR VALUE: the entry holds exactly that value of ATTR
has() { check_out "$4" "^$2: $3$" root_search -b "$1" -s base "$2"; }

# ---- 1. the gate's own records, new to the database, in an aborted transaction --
fresh
pki_cert ca a1 kenmyer client
pki_cert ca a2 pilar client
A2=$(der_sha256 "$PKI/a2.der")
record_cert kenmyer "$PKI/a1.der" >/dev/null || die "cannot record a1"
record_cert pilar "$PKI/a2.der" >/dev/null || die "cannot record a2"
# the first revocation of this database, queued, then a write that fails at
# commit (no such entry): the transaction aborts, or is refused at once
txn >/dev/null 2>&1 <<LDIF
dn: uid=kenmyer,$PEOPLE
changetype: modify
delete: certpinCertificate;binary
certpinCertificate;binary:< file://$PKI/a1.der

dn: uid=nobody,$PEOPLE
changetype: modify
replace: description
description: fails at commit
LDIF
rc=$?
[ "$rc" -ne 0 ] && ok "1: the transaction did not commit (rc $rc)" || notok "1: the transaction committed"
logon_as "1: a1 still logs on as ken (nothing of the transaction happened)" 1 a1 "uid=kenmyer,$PEOPLE"
check "1: pilar's certificate is revoked outside a transaction" sh -c \
	"printf 'dn: uid=pilar,$PEOPLE\nchangetype: modify\ndelete: certpinCertificate;binary\n' |
	ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' >/dev/null"
has "uid=pilar,$PEOPLE" certpinRevokedThumbprint "$A2" "1: pilar's revocation record reads back"
logon_refused "1: a2 no longer logs on" 1 a2
check "1: a new attribute afterwards (carLicense on jdoe)" sh -c \
	"printf 'dn: uid=jdoe,$PEOPLE\nchangetype: modify\nadd: carLicense\ncarLicense: jd-1\n' |
	ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' >/dev/null"
has "uid=pilar,$PEOPLE" certpinRevokedThumbprint "$A2" "1: pilar's record is still a record"
check_out "1: only jdoe has a carLicense" "^1$" sh -c \
	"ldapsearch -LLL -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' -b '$PEOPLE' '(carLicense=*)' dn | grep -c '^dn:'"
after 1

# ---- 2. a client attribute new to the database in an aborted transaction -------
fresh
txn >/dev/null 2>&1 <<LDIF
dn: uid=kenmyer,$PEOPLE
changetype: modify
add: telephoneNumber
telephoneNumber: 555-0100

dn: uid=nobody,$PEOPLE
changetype: modify
replace: description
description: fails at commit
LDIF
rc=$?
[ "$rc" -ne 0 ] && ok "2: the transaction did not commit (rc $rc)" || notok "2: the transaction committed"
check "2: telephoneNumber for ken outside a transaction" sh -c \
	"printf 'dn: uid=kenmyer,$PEOPLE\nchangetype: modify\nadd: telephoneNumber\ntelephoneNumber: 555-0101\n' |
	ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' >/dev/null"
check "2: then roomNumber for pilar" sh -c \
	"printf 'dn: uid=pilar,$PEOPLE\nchangetype: modify\nadd: roomNumber\nroomNumber: 42\n' |
	ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' >/dev/null"
has "uid=kenmyer,$PEOPLE" telephoneNumber 555-0101 "2: ken's telephoneNumber reads back as telephoneNumber"
check_out "2: only pilar has a roomNumber" "^1$" sh -c \
	"ldapsearch -LLL -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' -b '$PEOPLE' '(roomNumber=*)' dn | grep -c '^dn:'"
after 2
# once the attribute is in the database, transactions may use it
check_rc 0 "2: a transaction writing telephoneNumber now commits" txn <<LDIF
dn: uid=pilar,$PEOPLE
changetype: modify
add: telephoneNumber
telephoneNumber: 555-0102
LDIF
has "uid=pilar,$PEOPLE" telephoneNumber 555-0102 "2: ... and stored it"

# ---- 3. the same with the No-Op control (an add) ------------------------------------------
fresh
# (a No-Op modify reverts the entry before storing it; an add or a rename
# stores it, then aborts)
root_add -e noop >/dev/null 2>&1 <<LDIF
dn: uid=noop,$PEOPLE
objectClass: inetOrgPerson
uid: noop
cn: noop
sn: noop
carLicense: noop
LDIF
check "3: carLicense for ken for real" sh -c \
	"printf 'dn: uid=kenmyer,$PEOPLE\nchangetype: modify\nadd: carLicense\ncarLicense: real\n' |
	ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' >/dev/null"
check "3: then roomNumber for pilar" sh -c \
	"printf 'dn: uid=pilar,$PEOPLE\nchangetype: modify\nadd: roomNumber\nroomNumber: 42\n' |
	ldapmodify -x -D '$ROOTDN' -w '$ROOTPW' -H '$(srv_uri 1 ldapi)' >/dev/null"
has "uid=kenmyer,$PEOPLE" carLicense real "3: ken's carLicense reads back as carLicense"
after 3
done_testing
