/* fuzz-idconf.c - libFuzzer target: the tools' configuration file
 *
 * Every tool that names users reads /etc/ldap/certpin.conf (or
 * $CERTPIN_CONF, or --config FILE): base, filter, the attributes of the
 * identity forms, page-size, domain NAME BASE (tools/identity.c:
 * cp_idconf_parse(), what cp_idconf_load() runs before it exits on an
 * error).  This target feeds any bytes as that file and checks:
 *   - a refusal is "prog: file:LINE: reason" with LINE a line of the input;
 *     a file with a NUL byte is refused (the value would be cut there);
 *   - what is accepted keeps the loader's rules: DNs that parse, a filter
 *     in parentheses, attribute names of letters, digits, '-', ';', '.',
 *     page-size 1..100000, domain names without '\' or '*' or blanks;
 *   - it round-trips: written back as directives, it reads back the same.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "fuzz.h"

static void
fz_dn_ok( const char *s )
{
	LDAPDN dn;

	FUZZ_ASSERT( ldap_str2dn( s, &dn, LDAP_DN_FORMAT_LDAPV3 ) == LDAP_SUCCESS );
	ldap_dnfree( dn );
}

static void
fz_attr_ok( const char *s )
{
	FUZZ_ASSERT( s != NULL && ( isalnum( (unsigned char)*s ) ) );
	for ( ; *s; s++ )
		FUZZ_ASSERT( isalnum( (unsigned char)*s ) || *s == '-' || *s == ';' || *s == '.' );
}

static int
fz_same( const char *a, const char *b )
{
	return ( a == NULL && b == NULL ) || ( a && b && strcmp( a, b ) == 0 );
}

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	cp_idconf ic, again;
	char msg[1024], *text = NULL, *p;
	size_t tlen = 0, i, nlines = 1;
	FILE *f, *o;
	int rc, k;
	long line;

	cp_opt.prog = "fuzz";
	for ( i = 0; i < size; i++ )
		nlines += data[i] == '\n';
	cp_idconf_init( &ic );
	f = fmemopen( size ? (void *)data : "", size, "r" );
	FUZZ_ASSERT( f != NULL );
	rc = cp_idconf_parse( &ic, f, "conf", msg, sizeof( msg ) );
	fclose( f );
	if ( rc != 0 ) {
		FUZZ_ASSERT( rc == -1 && strncmp( msg, "fuzz: conf:", 11 ) == 0 );
		line = strtol( msg + 11, &p, 10 );
		FUZZ_ASSERT( line >= 1 && (size_t)line <= nlines && strncmp( p, ": ", 2 ) == 0 &&
			p[2] != '\0' );
		cp_idconf_free( &ic );
		return 0;
	}
	/* a NUL byte would cut its line's value short: refused */
	FUZZ_ASSERT( memchr( data, '\0', size ) == NULL );
	if ( ic.ic_base )
		fz_dn_ok( ic.ic_base );
	FUZZ_ASSERT( ic.ic_filter && ic.ic_filter[0] == '(' &&
		ic.ic_filter[strlen( ic.ic_filter ) - 1] == ')' );
	fz_attr_ok( ic.ic_sip_attr );
	fz_attr_ok( ic.ic_upn_attr );
	fz_attr_ok( ic.ic_logon_attr );
	fz_attr_ok( ic.ic_display_attr );
	FUZZ_ASSERT( ic.ic_page >= 1 && ic.ic_page <= 100000 );
	FUZZ_ASSERT( ic.ic_ndomains >= 0 && ( ic.ic_ndomains == 0 ) == ( ic.ic_domains == NULL ) );

	o = open_memstream( &text, &tlen );
	FUZZ_ASSERT( o != NULL );
	if ( ic.ic_base )
		fprintf( o, "base %s\n", ic.ic_base );
	fprintf( o, "filter %s\nsip-attribute %s\nupn-attribute %s\n"
		"logon-attribute %s\ndisplay-attribute %s\npage-size %d\n",
		ic.ic_filter, ic.ic_sip_attr, ic.ic_upn_attr, ic.ic_logon_attr,
		ic.ic_display_attr, ic.ic_page );
	for ( k = 0; k < ic.ic_ndomains; k++ ) {
		const char *n = ic.ic_domains[k].cd_name;

		FUZZ_ASSERT( *n && strpbrk( n, "\\*" ) == NULL );
		for ( p = (char *)n; *p; p++ )
			FUZZ_ASSERT( !isspace( (unsigned char)*p ) );
		fz_dn_ok( ic.ic_domains[k].cd_base );
		fprintf( o, "domain %s %s\n", n, ic.ic_domains[k].cd_base );
	}
	fclose( o );

	cp_idconf_init( &again );
	f = fmemopen( text, tlen, "r" );
	FUZZ_ASSERT( f != NULL );
	rc = cp_idconf_parse( &again, f, "again", msg, sizeof( msg ) );
	fclose( f );
	if ( rc != 0 )
		fprintf( stderr, "re-read refused: %s\n--\n%s--\n", msg, text );
	FUZZ_ASSERT( rc == 0 );
	FUZZ_ASSERT( fz_same( ic.ic_base, again.ic_base ) );
	FUZZ_ASSERT( fz_same( ic.ic_filter, again.ic_filter ) );
	FUZZ_ASSERT( fz_same( ic.ic_sip_attr, again.ic_sip_attr ) );
	FUZZ_ASSERT( fz_same( ic.ic_upn_attr, again.ic_upn_attr ) );
	FUZZ_ASSERT( fz_same( ic.ic_logon_attr, again.ic_logon_attr ) );
	FUZZ_ASSERT( fz_same( ic.ic_display_attr, again.ic_display_attr ) );
	FUZZ_ASSERT( ic.ic_page == again.ic_page && ic.ic_ndomains == again.ic_ndomains );
	for ( k = 0; k < ic.ic_ndomains; k++ )
		FUZZ_ASSERT( fz_same( ic.ic_domains[k].cd_name, again.ic_domains[k].cd_name ) &&
			fz_same( ic.ic_domains[k].cd_base, again.ic_domains[k].cd_base ) );
	cp_idconf_free( &again );
	cp_idconf_free( &ic );
	free( text );
	return 0;
}
