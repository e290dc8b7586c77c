#!/bin/bash
# test094-schema-files: certpin never touches slapd's files.  Its schema
# files have names of its own and hold only what Debian's msuser.schema
# lacks (msRTCSIP-PrimaryUserAddress; an auxiliary class for msuser's
# names); certpin-sip loads with and without Debian's msuser.schema, in
# slapd.conf and over cn=config (.ldif == .schema); `make install` puts
# nothing on a path another package owns.
. "$(dirname "$0")/lib.sh"

S=$SRCDIR/schema
defs_of() { ldapsearch -LLL -o ldif-wrap=no -x -H "$1" -b cn=Subschema -s base \
	attributeTypes objectClasses | grep -E "NAME '(msRTCSIP-PrimaryUserAddress|sAMAccountName|userPrincipalName|adNamedUser|adSipUser)'" |
	sed 's/^[a-zA-Z]*: //' | sort; }
# a server like srv_conf's, with the given schema include lines instead
conf_with() {
	local n=$1 inc=$2
	srv_conf "$n"
	awk -v inc="$inc" '/^include .*msuser.schema$/ { n = split(inc, a, ";"); for (i = 1; i <= n; i++) if (a[i] != "") print a[i]; next }
		/^include .*certpin-(sip|adnamed).schema$/ { next } { print }' \
		"$TESTDIR/srv$n/slapd.conf" > "$TESTDIR/srv$n/slapd.conf.new"
	mv "$TESTDIR/srv$n/slapd.conf.new" "$TESTDIR/srv$n/slapd.conf"
}

check "no file of certpin's shares a name with one of slapd's schema files" sh -c '
	for f in "$1"/*; do [ ! -e "/etc/ldap/schema/$(basename "$f")" ] || { echo "$f"; exit 1; }; done' sh "$S"
check "Debian's msuser.schema is there (slapd's own)" test -s /etc/ldap/schema/msuser.schema
check_eq "and lacks msRTCSIP-PrimaryUserAddress" 0 "$(grep -c 'msRTCSIP-PrimaryUserAddress' /etc/ldap/schema/msuser.schema)"
check_eq "certpin-sip.schema defines no attribute msuser.schema has" "" \
	"$(sed -n "s/.*NAME '\([^']*\)'.*/\1/p" "$S/certpin-sip.schema" "$S/certpin-adnamed.schema" |
		while read -r n; do grep -q "NAME '$n'" /etc/ldap/schema/msuser.schema && echo "$n"; done)"

pki_standard

# ---- without Debian's msuser: certpin-sip alone ---------------------------
conf_with 1 "include $S/certpin-sip.schema"
check_out "slapd.conf: certpin-sip.schema alone" "^include $S/certpin-sip.schema" cat "$TESTDIR/srv1/slapd.conf"
srv_start 1
srv_base 1
want1=$(defs_of "$(srv_uri 1 ldapi)")
check_eq "without msuser: one attribute type and one class" 2 "$(printf '%s\n' "$want1" | grep -c .)"
check_out "Microsoft's OID for msRTCSIP-PrimaryUserAddress" \
	"^\( 1\.2\.840\.113556\.1\.6\.24\.1\.1 NAME 'msRTCSIP-PrimaryUserAddress'.*EQUALITY caseIgnoreMatch" printf '%s\n' "$want1"
check "a user gets a SIP address (adSipUser)" root_modify <<LDIF
dn: uid=kenmyer,$PEOPLE
changetype: modify
add: objectClass
objectClass: adSipUser
-
add: msRTCSIP-PrimaryUserAddress
msRTCSIP-PrimaryUserAddress: sip:kenmyer@example.com
LDIF
check_out "and is found by it, case-insensitively" "^dn: uid=kenmyer," \
	root_search -b "$SUFFIX" "(msRTCSIP-PrimaryUserAddress=SIP:KenMyer@Example.com)" dn

# ---- with Debian's msuser (srv_conf's default): msuser + certpin-sip + certpin-adnamed
srv_conf 2
check_out "slapd.conf: Debian's msuser.schema" "^include /etc/ldap/schema/msuser.schema" cat "$TESTDIR/srv2/slapd.conf"
srv_start 2
srv_base 2
want2=$(defs_of "$(srv_uri 2 ldapi)")
check_eq "with msuser: 3 attribute types (2 of them msuser's) and 2 classes" 5 "$(printf '%s\n' "$want2" | grep -c .)"
check "adNamedUser: SIP, UPN and logon on an inetOrgPerson" env SRV=2 ldapmodify -x -D "$ROOTDN" -w "$ROOTPW" -H "$(srv_uri 2 ldapi)" <<LDIF
dn: uid=kenmyer,$PEOPLE
changetype: modify
add: objectClass
objectClass: adNamedUser
-
add: msRTCSIP-PrimaryUserAddress
msRTCSIP-PrimaryUserAddress: sip:kenmyer@example.com
-
add: userPrincipalName
userPrincipalName: kenmyer@example.com
-
add: sAMAccountName
sAMAccountName: kenmyer
LDIF
check_eq "msuser's userPrincipalName has no equality rule: (upn=...) finds nothing" "" \
	"$(SRV=2 root_search -b "$SUFFIX" "(userPrincipalName=kenmyer@example.com)" dn)"
check_out "an extensible match finds it (what the tools send)" "^dn: uid=kenmyer," \
	env SRV=2 bash -c 'ldapsearch -LLL -x -D "$1" -w "$2" -H "$3" -b "$4" "(userPrincipalName:caseIgnoreMatch:=KENMYER@example.com)" dn' \
	sh "$ROOTDN" "$ROOTPW" "$(srv_uri 2 ldapi)" "$SUFFIX"

# ---- the .ldif files over cn=config say what the .schema files say ---------
conf_with 3 ""
srv_start 3 config
U3=$(srv_uri 3 ldapi)
check_eq "a server without them knows none of these names" "" "$(defs_of "$U3")"
check "certpin-sip.ldif loads with ldapadd -Y EXTERNAL (no msuser)" ldapadd -Q -Y EXTERNAL -H "$U3" -f "$S/certpin-sip.ldif"
check_eq "certpin-sip.ldif defines what certpin-sip.schema does" "$want1" "$(defs_of "$U3")"
check "Debian's msuser.ldif loads after it" ldapadd -Q -Y EXTERNAL -H "$U3" -f /etc/ldap/schema/msuser.ldif
check "certpin-adnamed.ldif loads after msuser.ldif" ldapadd -Q -Y EXTERNAL -H "$U3" -f "$S/certpin-adnamed.ldif"
check_eq "the three .ldif define what the three .schema do" "$want2" "$(defs_of "$U3")"
srv_stop 3

# ---- make install: nothing over a path another package owns ----------------
root=$TESTDIR/root
check "make install DESTDIR=..." make -s -C "$BUILDDIR" install DESTDIR="$root"
n=0 owned=
while IFS= read -r f; do
	n=$((n + 1))
	p=${f#"$root"}
	if o=$(dpkg -S "$p" 2>/dev/null); then owned="$owned $o"; fi
done < <(find "$root" -type f -o -type l)
check "make install installed files ($n)" test "$n" -ge 10
check_eq "dpkg -S: no installed file is another package's" "" "$owned"
check_eq "no msuser.* among them" "" "$(find "$root" -name 'msuser*')"
done_testing
