/* compat.h - the one place where certpin meets the differences between the
 * OpenLDAP releases it builds against: slapd 2.5 (Debian 12, 2.5.13) and
 * slapd 2.6 (Debian 13, 2.6.10).  The overlay's files include this header
 * (through certpin.h) instead of testing versions themselves; every
 * difference found is handled below, with the reason.
 *
 * Nothing here changes behaviour between the two lines: it only names the
 * same slapd facility the same way on both.
 */
#ifndef CERTPIN_COMPAT_H
#define CERTPIN_COMPAT_H

#include "portable.h"
#include "slap.h"
#include "slap-config.h"

#define CERTPIN_OL_VERSION( maj, min ) \
	( LDAP_VENDOR_VERSION_MAJOR > (maj) || \
	  ( LDAP_VENDOR_VERSION_MAJOR == (maj) && LDAP_VENDOR_VERSION_MINOR >= (min) ) )

#if defined( LDAP_VENDOR_VERSION_MAJOR ) && !CERTPIN_OL_VERSION( 2, 5 )
#error "certpin needs OpenLDAP 2.5 or 2.6 headers"
#endif

/* Exported by libldap in both lines but declared in no installed header
 * (2.5 and 2.6 alike): the peer certificate's DER of a TLS session. */
int ldap_pvt_tls_get_peercert( void *s, struct berval *der );

/* version.c: 0 when the running slapd is the release the module was built
 * for; otherwise logs both versions and returns -1 (init_module refuses). */
int certpin_version_check( void );

#endif /* CERTPIN_COMPAT_H */
