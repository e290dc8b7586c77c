/* fuzz-identity.c - libFuzzer target: identities given to the tools
 *
 * certpin-get, certpin-revoke and certpin-issue take users named as Active
 * Directory does (DN, sip:, DOMAIN\logon, UPN, display name) on the command
 * line or one a line from a file, and turn each into an LDAP search
 * (tools/identity.c: cp_id_kind(), cp_id_search_args()).  This target feeds
 * any string as an identity and checks what reaches the directory: a refusal
 * says why; otherwise either a base search of a DN the string itself
 * parses as, or a subtree search whose filter is the configured one AND one
 * equality assertion, with the value RFC 4515-escaped (no wildcard, no
 * parenthesis, no backslash left unescaped: no filter injection).
 *
 * identity.c's search builder is static: the file is included here.
 */
#include "../tools/identity.c"	/* NOLINT(bugprone-suspicious-include) */

#include <stdint.h>

#include "fuzz.h"

static cp_domain fz_domains[] = { { "EXAMPLE", "dc=example,dc=com" } };

/* VALUE (len bytes at v) holds no unescaped '*', '(', ')' and every '\\'
 * starts a two-hex-digit escape. */
static void
fz_check_value( const char *v, size_t len )
{
	const char *end = v + len;

	for ( ; v < end; v++ ) {
		FUZZ_ASSERT( *v != '*' && *v != '(' && *v != ')' && *v != '\0' );
		if ( *v == '\\' ) {
			FUZZ_ASSERT( isxdigit( (unsigned char)v[1] ) && isxdigit( (unsigned char)v[2] ) );
			v += 2;
		}
	}
}

/* The filter "(&(objectClass=*)(ATTR=VALUE))", or for the names Debian's
 * msuser.schema defines without an equality rule
 * "(&(objectClass=*)(|(ATTR=VALUE)(ATTR:caseIgnoreMatch:=VALUE)))" with the
 * same ATTR and VALUE twice: nothing else. */
static void
fz_check_filter( const char *f )
{
	const char *pre = "(&(objectClass=*)(", *b, *eq, *close, *alt;
	size_t n = strlen( f ), alen, vlen, slen;
	char *second;

	FUZZ_ASSERT( strncmp( f, pre, strlen( pre ) ) == 0 );
	b = f + strlen( pre );
	if ( strncmp( b, "|(", 2 ) != 0 ) {
		FUZZ_ASSERT( n >= 2 && strcmp( f + n - 2, "))" ) == 0 );
		eq = strchr( b, '=' );
		FUZZ_ASSERT( eq != NULL && eq < f + n - 2 );
		fz_check_value( eq + 1, ( f + n - 2 ) - ( eq + 1 ) );
		return;
	}
	b += 2;
	eq = strchr( b, '=' );
	FUZZ_ASSERT( eq != NULL );
	alen = eq - b;
	close = strchr( eq + 1, ')' );
	FUZZ_ASSERT( close != NULL );
	vlen = close - ( eq + 1 );
	fz_check_value( eq + 1, vlen );
	slen = alen + vlen + 32;
	second = malloc( slen );
	FUZZ_ASSERT( second != NULL );
	snprintf( second, slen, "(%.*s:caseIgnoreMatch:=%.*s)))",
		(int)alen, b, (int)vlen, eq + 1 );
	alt = close + 1;
	FUZZ_ASSERT( strcmp( alt, second ) == 0 );
	free( second );
}

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	cp_idconf ic;
	cp_item it;
	char *s, *filter = NULL, msg[512];
	const char *base = NULL;
	int scope = -1, rc, is_dn;

	if ( size == 0 )
		return 0;
	/* The first byte chooses --dn style input; the rest is the identity,
	 * up to its first NUL as it would be on a command line. */
	is_dn = data[0] & 1;
	s = malloc( size );
	FUZZ_ASSERT( s != NULL );
	memcpy( s, data + 1, size - 1 );
	s[size - 1] = '\0';

	memset( &ic, 0, sizeof( ic ) );
	ic.ic_base = "dc=example,dc=com";
	ic.ic_filter = "(objectClass=*)";
	ic.ic_sip_attr = "msRTCSIP-PrimaryUserAddress";
	ic.ic_upn_attr = "userPrincipalName";
	ic.ic_logon_attr = "sAMAccountName";
	ic.ic_display_attr = "displayName";
	ic.ic_domains = fz_domains;
	ic.ic_ndomains = 1;
	memset( &it, 0, sizeof( it ) );
	it.ci_value = s;
	it.ci_is_dn = is_dn;
	msg[0] = '\0';

	rc = cp_id_search_args( &ic, &it, &base, &scope, &filter, msg, sizeof( msg ) );
	if ( rc != 0 ) {
		FUZZ_ASSERT( rc == CP_ID_EINPUT && msg[0] != '\0' && filter == NULL );
	} else if ( scope == LDAP_SCOPE_BASE ) {
		FUZZ_ASSERT( base == s && filter && strcmp( filter, ic.ic_filter ) == 0 );
		if ( !is_dn )
			FUZZ_ASSERT( cp_looks_dn( s ) );
	} else {
		FUZZ_ASSERT( scope == LDAP_SCOPE_SUBTREE && base != NULL && filter != NULL );
		fz_check_filter( filter );
	}
	free( filter );
	free( s );
	return 0;
}
