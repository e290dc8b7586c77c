#!/bin/bash
# test063-promise-placement: fail closed (issue 12 item 10).  certpin needs
# its frontend instance (binds, the extended operation, directives) and a
# database instance on every database that holds entries (the write and
# access gate).  Attacks: slapd.conf with only one of them, with a directive
# on the database instance, with certpin on cn=config; over cn=config at run
# time: a database instance before the frontend's, the frontend's alone
# (certpin data then refused where no database instance is), a database
# added later without an instance.
. "$(dirname "$0")/lib.sh"

pki_standard
srv_conf 1
conf=$TESTDIR/srv1/slapd.conf
sock=$(printf '%s' "$TESTDIR/srv1/ldapi" | sed 's|/|%2F|g')
start_out() {	# CONF: start slapd in the foreground; its output and exit status
	local rc=0
	timeout 15 "$SLAPD" -f "$1" -h "ldapi://$sock/" -d stats >"$TESTDIR/start.log" 2>&1 || rc=$?
	cat "$TESTDIR/start.log"
	echo "exit=$rc"
}
[ "$(tail -n 1 "$conf")" = "overlay certpin" ] || die "srv_conf no longer ends with the database instance"

# ---- slapd.conf -------------------------------------------------------------------
sed '$d' "$conf" > "$TESTDIR/nodb.conf"
out=$(start_out "$TESTDIR/nodb.conf")
check_out "slapd.conf: the frontend instance alone: slapd refuses to start" "^exit=1$" printf '%s\n' "$out"
check_out "... and says which database lacks what, and the fix" \
	"database \"$SUFFIX\" has no certpin instance: add \"overlay certpin\" as the last overlay" printf '%s\n' "$out"

awk 'BEGIN{f=0} /^database frontend/{f=1} f==1 && /^overlay certpin$/{f=2; next} {print}' "$conf" > "$TESTDIR/nofe.conf"
[ "$(grep -c '^overlay certpin$' "$TESTDIR/nofe.conf")" -eq 1 ] || die "cannot build nofe.conf"
out=$(start_out "$TESTDIR/nofe.conf")
check_out "slapd.conf: a database instance without the frontend's: slapd refuses to start" "^exit=1$" printf '%s\n' "$out"
check_out "... and names the fix" "needs the certpin frontend instance: add \"overlay certpin\" after \"database frontend\"" \
	printf '%s\n' "$out"

{ cat "$conf"; echo "certpin-max-certificates 3"; } > "$TESTDIR/dbdir.conf"
out=$(start_out "$TESTDIR/dbdir.conf")
check_out "slapd.conf: a certpin directive on the database instance is refused" "^exit=1$" printf '%s\n' "$out"
check_out "... saying where directives belong" "certpin directives belong to the frontend instance" printf '%s\n' "$out"

sed "s|^rootdn \"gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth\"|&\noverlay certpin|" "$conf" > "$TESTDIR/cfg.conf"
out=$(start_out "$TESTDIR/cfg.conf")
check_out "slapd.conf: certpin on cn=config is refused" "^exit=1$" printf '%s\n' "$out"
check_out "... with a message" "no instance belongs on" printf '%s\n' "$out"

# ---- cn=config at run time -----------------------------------------------------------
# srv2: the module loaded, no certpin instance at all
srv_conf 2
sed -i '/^overlay certpin$/d' "$TESTDIR/srv2/slapd.conf"
srv_start 2 config
srv_base 2
CFG() { ldapmodify -Q -Y EXTERNAL -H "$(srv_uri 2 ldapi)"; }
check_rc_out 80 "cn=config: a database instance while the frontend has none is refused" \
	"add olcOverlay=certpin to the frontend" CFG <<LDIF
dn: olcOverlay=certpin,olcDatabase={1}mdb,cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcCertpinConfig
olcOverlay: certpin
LDIF
check "cn=config: the frontend instance is accepted" CFG <<LDIF
dn: olcOverlay=certpin,olcDatabase={-1}frontend,cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcCertpinConfig
olcOverlay: certpin
LDIF
check_out "... with a warning naming the database without an instance" \
	"database \"$SUFFIX\" has no certpin instance: certpin writes and logons into it are refused" \
	cat "$TESTDIR/srv2/slapd.log"
before=$(SRV=2 snapshot "uid=kenmyer,$PEOPLE")
check_rc_out 53 "a certificate written into the database without an instance is refused" \
	"no certpin instance" env SRV=2 bash -c "$(declare -f record_cert root_modify srv_uri); PEOPLE='$PEOPLE' ROOTDN='$ROOTDN' ROOTPW='$ROOTPW' TESTDIR='$TESTDIR' record_cert kenmyer '$PKI/kenmyer.der'"
check_eq "... and the entry is unchanged" "$before" "$(SRV=2 snapshot "uid=kenmyer,$PEOPLE")"
check_rc 53 "so is a direct write of certpinThumbprint there" env SRV=2 bash -c "$(declare -f root_modify srv_uri); ROOTDN='$ROOTDN' ROOTPW='$ROOTPW' TESTDIR='$TESTDIR' root_modify" <<LDIF
dn: uid=kenmyer,$PEOPLE
changetype: modify
add: certpinThumbprint
certpinThumbprint: $(der_sha256 "$PKI/mallory.der")
LDIF
check "cn=config: now the database instance is accepted" CFG <<LDIF
dn: olcOverlay=certpin,olcDatabase={1}mdb,cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcCertpinConfig
olcOverlay: certpin
LDIF
check_rc_out 80 "cn=config: a certpin setting on the database instance is refused" \
	"belong to the frontend instance" CFG <<LDIF
dn: olcOverlay={0}certpin,olcDatabase={1}mdb,cn=config
changetype: modify
replace: olcCertpinMaxCertificates
olcCertpinMaxCertificates: 3
LDIF
check "the certificate can be recorded now" env SRV=2 bash -c "$(declare -f record_cert root_modify srv_uri); PEOPLE='$PEOPLE' ROOTDN='$ROOTDN' ROOTPW='$ROOTPW' TESTDIR='$TESTDIR' record_cert kenmyer '$PKI/kenmyer.der'"
check_out "... with its thumbprint, written by the database's gate" "^certpinThumbprint: $(der_sha256 "$PKI/kenmyer.der")$" \
	env SRV=2 bash -c "$(declare -f root_search srv_uri); ROOTDN='$ROOTDN' ROOTPW='$ROOTPW' TESTDIR='$TESTDIR' root_search -b 'uid=kenmyer,$PEOPLE' -s base certpinThumbprint"

# a database added later over cn=config, without an instance
mkdir -p "$TESTDIR/srv2/db3"
check "cn=config: a new database is added (no certpin instance)" CFG <<LDIF
dn: olcDatabase=mdb,cn=config
changetype: add
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: mdb
olcSuffix: dc=new,dc=com
olcDbDirectory: $TESTDIR/srv2/db3
olcRootDN: cn=admin,dc=new,dc=com
olcRootPW: $ROOTPW
LDIF
NEWADD() { ldapadd -x -D "cn=admin,dc=new,dc=com" -w "$ROOTPW" -H "$(srv_uri 2 ldapi)"; }
check "an entry without certpin data can be added there" NEWADD <<LDIF
dn: dc=new,dc=com
objectClass: dcObject
objectClass: organization
dc: new
o: New
LDIF
check_rc_out 53 "an entry with a certificate is refused there" "no certpin instance" NEWADD <<LDIF
dn: uid=n1,dc=new,dc=com
objectClass: inetOrgPerson
objectClass: certpinUser
uid: n1
cn: n1
sn: n1
certpinCertificate;binary:< file://$PKI/pilar.der
LDIF
check "slapd 2 is still running" srv_alive 2
done_testing
