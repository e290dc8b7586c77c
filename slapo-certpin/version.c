/* version.c - refuse to load into a slapd other than the one certpin was
 * built for
 *
 * A slapd module is compiled against slapd's private headers (slap.h): the
 * layout of Operation, Connection, BackendDB, ... is that of one OpenLDAP
 * release.  A module left behind by a slapd upgrade (2.6.10 to 2.6.x shares
 * libldap's soname, so the loader does not notice) would read and write
 * those structures at the wrong offsets.  init_module() calls
 * certpin_version_check() before registering anything: the running slapd's
 * version (its exported Versionstr, "... slapd 2.6.10+dfsg-1 (...)") must
 * equal the version of the OpenLDAP source tree the module was compiled
 * against (OPENLDAP_VERSION from that tree's portable.h), or the module
 * refuses to load with a message naming both.
 */

#include "compat.h"

#include <ac/ctype.h>
#include <ac/string.h>

/* The OpenLDAP release this module was compiled against.  Overridable at
 * compile time only, so the test suite can build a module "for another
 * slapd" (tests/test093). */
#ifndef CERTPIN_BUILT_FOR
#define CERTPIN_BUILT_FOR	OPENLDAP_VERSION
#endif

/* The "X.Y.Z" after "slapd " in s, copied to buf; 0 on success. */
static int
certpin_version_of( const char *s, char *buf, size_t len )
{
	const char *p = s, *q;

	while ( ( p = strstr( p, "slapd " ) ) != NULL ) {
		p += sizeof("slapd ") - 1;
		if ( isdigit( (unsigned char)*p ) ) break;
	}
	if ( p == NULL ) return -1;
	for ( q = p; isdigit( (unsigned char)*q ) || *q == '.'; q++ )
		;
	if ( q == p || (size_t)( q - p ) >= len ) return -1;
	memcpy( buf, p, q - p );
	buf[q - p] = '\0';
	return 0;
}

int
certpin_version_check( void )
{
	char running[32];

	if ( certpin_version_of( Versionstr, running, sizeof(running) ) ) {
		Debug( LDAP_DEBUG_ANY, "certpin: module built for OpenLDAP slapd %s "
			"cannot tell the running slapd's version (\"%.60s\"); "
			"not loading\n", CERTPIN_BUILT_FOR, Versionstr );
		return -1;
	}
	if ( strcmp( running, CERTPIN_BUILT_FOR ) != 0 ) {
		Debug( LDAP_DEBUG_ANY, "certpin: module built for OpenLDAP slapd %s "
			"refuses to load into slapd %s: rebuild certpin against "
			"the OpenLDAP %s source (or install the certpin package "
			"built for this slapd)\n",
			CERTPIN_BUILT_FOR, running, running );
		return -1;
	}
	return 0;
}
