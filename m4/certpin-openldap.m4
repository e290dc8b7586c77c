dnl certpin-openldap.m4: locate a configured OpenLDAP source tree and the
dnl installed slapd's directories.

dnl CERTPIN_OPENLDAP_SOURCE
dnl   --with-openldap-source=DIR names a configured OpenLDAP source tree (one
dnl   whose include/portable.h exists).  Without it, the tree unpacked by
dnl   scripts/install-deps under /usr/local/src/certpin is used.  The tree's
dnl   version must equal the installed slapd's, or the module would not be
dnl   ABI-compatible with it.
AC_DEFUN([CERTPIN_OPENLDAP_SOURCE], [
AC_ARG_WITH([openldap-source],
	[AS_HELP_STRING([--with-openldap-source=DIR],
		[configured OpenLDAP source tree matching the installed slapd
		 @<:@default: /usr/local/src/certpin/openldap-*@:>@])],
	[], [with_openldap_source=auto])
AC_ARG_WITH([slapd],
	[AS_HELP_STRING([--with-slapd=PATH], [the slapd the module is built for @<:@/usr/sbin/slapd@:>@])],
	[SLAPD=$withval], [SLAPD=/usr/sbin/slapd])
AC_SUBST([SLAPD])
AC_MSG_CHECKING([for a configured OpenLDAP source tree])
AS_IF([test "x$with_openldap_source" = xauto || test "x$with_openldap_source" = xyes], [
	with_openldap_source=
	for d in /usr/local/src/certpin/openldap-*; do
		test -f "$d/include/portable.h" && with_openldap_source=$d
	done
])
AS_IF([test -z "$with_openldap_source" || test "x$with_openldap_source" = xno], [
	AC_MSG_RESULT([no])
	AC_MSG_ERROR([no OpenLDAP source tree found.
  certpin's module is compiled against slapd's private headers (slap.h), which
  only the OpenLDAP source package ships.  Run scripts/install-deps, or unpack
  and configure the source yourself and pass --with-openldap-source=DIR.])
])
AC_MSG_RESULT([$with_openldap_source])
for f in include/portable.h include/ldap_config.h servers/slapd/slap.h; do
	AS_IF([test -f "$with_openldap_source/$f"], [], [
		AC_MSG_ERROR([$with_openldap_source/$f is missing: the tree must be
  configured (./configure, then make -C include ldap_config.h)])])
done
AC_MSG_CHECKING([OpenLDAP source version])
ol_src_version=`sed -n 's/^#define OPENLDAP_VERSION "\(.*\)"/\1/p' "$with_openldap_source/include/portable.h"`
AC_MSG_RESULT([$ol_src_version])
AC_MSG_CHECKING([installed slapd version])
AS_IF([test -x "$SLAPD"], [], [AC_MSG_ERROR([$SLAPD not found: install slapd])])
ol_slapd_version=`$SLAPD -VV 2>&1 | sed -n 's/.*slapd \(@<:@0-9@:>@*\.@<:@0-9@:>@*\.@<:@0-9@:>@*\).*/\1/p' | head -n 1`
AC_MSG_RESULT([$ol_slapd_version])
AS_IF([test "x$ol_src_version" = "x$ol_slapd_version"], [], [
	AC_MSG_ERROR([OpenLDAP source $ol_src_version does not match $SLAPD $ol_slapd_version;
  the module must be built from the same version's headers])])
OPENLDAP_SRC=$with_openldap_source
OPENLDAP_CPPFLAGS="-I$OPENLDAP_SRC/include -I$OPENLDAP_SRC/servers/slapd"
AC_SUBST([OPENLDAP_SRC])
AC_SUBST([OPENLDAP_CPPFLAGS])
AC_SUBST([OPENLDAP_VERSION], [$ol_src_version])
])

dnl CERTPIN_SLAPD_DIRS: where make install puts the module and the schema.
AC_DEFUN([CERTPIN_SLAPD_DIRS], [
AC_ARG_WITH([moduledir],
	[AS_HELP_STRING([--with-moduledir=DIR], [slapd module directory @<:@/usr/lib/ldap@:>@])],
	[moduledir=$withval], [moduledir=/usr/lib/ldap])
AC_ARG_WITH([schemadir],
	[AS_HELP_STRING([--with-schemadir=DIR], [slapd schema directory @<:@/etc/ldap/schema@:>@])],
	[schemadir=$withval], [schemadir=/etc/ldap/schema])
AC_SUBST([moduledir])
AC_SUBST([schemadir])
])
