/* fuzz-items.c - libFuzzer target: the tools' reader of work items
 *
 * certpin-get, certpin-revoke and certpin-pin read the users to act on one
 * a line from -f FILE or standard input (tools/common.c: cp_items_parse(),
 * what cp_items_read() runs): plain lines, LDIF records ("dn:" / "dn::"
 * base64, folded lines, "Thumbprint:" lines, as certpin-get -o ldif and
 * ldapsearch print them), comments.  This target feeds any bytes as that
 * input and checks:
 *   - a refusal says why and keeps no item; input with a NUL byte is
 *     refused (the item would be cut there);
 *   - every item is non-NULL, a plain one is non-empty, trimmed and one
 *     line (a "dn::" one may hold a newline: LDIF's base64 is there for
 *     that); a thumbprint belongs to a "dn:" item; line numbers are lines
 *     of the input;
 *   - the items round-trip: written back as LDIF ("dn:: base64", folded at
 *     a width the first input byte chooses, its "Thumbprint:" line) and
 *     plain lines, they read back as the same items in the same order.
 */
#define _GNU_SOURCE 1
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common.h"
#include "fuzz.h"

/* Append "dn:: <base64 of v>" folded at width w (0: no folding). */
static void
fz_put_dn( FILE *o, const char *v, int w )
{
	size_t n = strlen( v ), i, col;
	unsigned char *b = malloc( 4 * ( n / 3 + 1 ) + 1 );
	char *line;

	FUZZ_ASSERT( b != NULL );
	EVP_EncodeBlock( b, (const unsigned char *)v, (int)n );
	FUZZ_ASSERT( asprintf( &line, "dn:: %s", b ) > 0 );
	for ( i = 0, col = 0; line[i]; i++, col++ ) {
		if ( w && col == (size_t)w ) {
			fputs( "\n ", o );
			col = 1;
		}
		fputc( line[i], o );
	}
	fputc( '\n', o );
	free( line );
	free( b );
}

static int
fz_trimmed( const char *s )
{
	size_t n = strlen( s );

	return n == 0 || ( !isspace( (unsigned char)s[0] ) &&
		!isspace( (unsigned char)s[n - 1] ) );
}

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	cp_items its, again;
	char msg[1024], *text = NULL;
	size_t tlen = 0, i, nlines = 1;
	FILE *f, *o;
	int w, rc, k;

	if ( size == 0 )
		return 0;
	/* fold width: none, or 6..85 (the reader, as ldapsearch's output,
	 * wants the "dn::" of a folded line on its first line) */
	w = data[0] < 8 ? 0 : data[0] % 80 + 6;
	data++;
	size--;
	for ( i = 0; i < size; i++ )
		nlines += data[i] == '\n';

	cp_opt.prog = "fuzz";
	f = fmemopen( size ? (void *)data : "", size, "r" );
	FUZZ_ASSERT( f != NULL );
	msg[0] = 'x';
	rc = cp_items_parse( &its, f, "input", msg, sizeof( msg ) );
	fclose( f );
	if ( rc != 0 ) {
		FUZZ_ASSERT( rc == -1 && msg[0] != '\0' && strncmp( msg, "fuzz: ", 6 ) == 0 );
		FUZZ_ASSERT( its.it_n == 0 && its.it_v == NULL );
		return 0;
	}
	/* a NUL byte would cut its line's item short: refused */
	FUZZ_ASSERT( memchr( data, '\0', size ) == NULL );
	FUZZ_ASSERT( its.it_n >= 0 && (size_t)its.it_n <= nlines );

	o = open_memstream( &text, &tlen );
	FUZZ_ASSERT( o != NULL );
	for ( k = 0; k < its.it_n; k++ ) {
		cp_item *it = &its.it_v[k];

		FUZZ_ASSERT( it->ci_value != NULL );
		FUZZ_ASSERT( it->ci_line >= 1 && (size_t)it->ci_line <= nlines );
		if ( it->ci_is_dn ) {
			/* a "dn::" value may hold any byte but NUL (a newline
			 * too: LDIF's reason for base64); it goes back as base64 */
			fz_put_dn( o, it->ci_value, w );
			if ( it->ci_thumb ) {
				FUZZ_ASSERT( fz_trimmed( it->ci_thumb ) );
				FUZZ_ASSERT( strchr( it->ci_thumb, '\n' ) == NULL );
				fprintf( o, "Thumbprint: %s\n", it->ci_thumb );
			}
			fputc( '\n', o );
		} else {
			FUZZ_ASSERT( it->ci_thumb == NULL );
			FUZZ_ASSERT( it->ci_value[0] != '\0' && fz_trimmed( it->ci_value ) );
			FUZZ_ASSERT( strchr( it->ci_value, '\n' ) == NULL );
			/* after a blank line, a leading space is no continuation and
			 * keeps "#..." and "attr: ..." values plain items */
			fprintf( o, "\n %s\n", it->ci_value );
		}
	}
	fclose( o );

	f = fmemopen( tlen ? text : "", tlen, "r" );
	FUZZ_ASSERT( f != NULL );
	rc = cp_items_parse( &again, f, "again", msg, sizeof( msg ) );
	fclose( f );
	if ( rc != 0 )
		fprintf( stderr, "re-read refused: %s\n--\n%s--\n", msg, text );
	FUZZ_ASSERT( rc == 0 );
	FUZZ_ASSERT( again.it_n == its.it_n );
	for ( k = 0; k < its.it_n; k++ ) {
		cp_item *a = &its.it_v[k], *b = &again.it_v[k];

		FUZZ_ASSERT( a->ci_is_dn == b->ci_is_dn );
		FUZZ_ASSERT( strcmp( a->ci_value, b->ci_value ) == 0 );
		FUZZ_ASSERT( ( a->ci_thumb == NULL ) == ( b->ci_thumb == NULL ) );
		FUZZ_ASSERT( a->ci_thumb == NULL || strcmp( a->ci_thumb, b->ci_thumb ) == 0 );
	}
	cp_items_free( &again );
	cp_items_free( &its );
	free( text );
	return 0;
}
