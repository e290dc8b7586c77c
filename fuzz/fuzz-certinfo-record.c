/* fuzz-certinfo-record.c - libFuzzer target: the metadata record parser
 *
 * certpinCertInfo and certpinRevoked values are "name=value$..." records
 * (lib/certinfo.h).  The overlay and the tools read them back from the
 * directory, where replication or slapadd may have stored anything, and the
 * overlay reads a client's "sha256=<hex>$reason=<text>" revocation reasons.
 * This target feeds arbitrary bytes (not NUL-terminated) to
 * certpin_certinfo_parse() and certpin_rec_get(), and checks that
 * certpin_rec_add() escapes any value so it reads back intact.
 *
 * Cheap per input (the campaign needs millions): the first two bytes choose
 * the field asked for and one output size; the record is the rest.  The
 * field is read twice, with a buffer large enough for any value and with
 * the chosen size: both answers must agree (the small one is the same value
 * or -1 when it does not fit), and nothing is written past either buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certinfo.h"
#include "fuzz.h"

static const char *const names[] = {
	"sha256", "sha1", "serial", "published", "notbefore", "expires",
	"endpoint", "issuer", "subject", "reason", "revoked", "by", ""
};
#define NNAMES	( sizeof( names ) / sizeof( names[0] ) )

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	certpin_certinfo ci;
	const char *name;
	char *rec, *out, *small, *val, *buf = NULL;
	size_t outlen, blen = 0;
	long n, m;

	if ( size < 2 )
		return 0;
	name = names[data[0] % NNAMES];
	outlen = data[1];	/* 0..255: 0 is refused, the rest truncates or fits */
	data += 2;
	size -= 2;

	rec = malloc( size ? size : 1 );
	FUZZ_ASSERT( rec != NULL );
	memcpy( rec, data, size );

	if ( certpin_certinfo_parse( rec, size, &ci ) == 0 )
		FUZZ_ASSERT( certpin_is_sha256_hex( ci.ci_sha256, strlen( ci.ci_sha256 ) ) );
	certpin_certinfo_free( &ci );

	/* The chosen field: no output buffer is refused; a big enough buffer
	 * holds any value (unescaping never grows it); a small one gives the
	 * same value or -1. */
	FUZZ_ASSERT( certpin_rec_get( rec, size, name, NULL, 0 ) == -1 );
	out = malloc( size + 1 );
	FUZZ_ASSERT( out != NULL );
	n = certpin_rec_get( rec, size, name, out, size + 1 );
	FUZZ_ASSERT( n >= -1 && n <= (long)size );
	if ( n >= 0 )
		FUZZ_ASSERT( out[n] == '\0' );
	small = outlen ? malloc( outlen ) : NULL;
	FUZZ_ASSERT( outlen == 0 || small != NULL );
	m = certpin_rec_get( rec, size, name, small, outlen );
	if ( outlen == 0 || n < 0 || n >= (long)outlen ) {
		FUZZ_ASSERT( m == -1 );
	} else {
		FUZZ_ASSERT( m == n && memcmp( small, out, n + 1 ) == 0 );
	}
	free( small );
	free( out );

	/* Writing: any value (up to its first NUL) reads back unchanged. */
	val = malloc( size + 1 );
	FUZZ_ASSERT( val != NULL );
	memcpy( val, data, size );
	val[size] = '\0';
	FUZZ_ASSERT( certpin_rec_add( &buf, &blen, "sha256", "00" ) == 0 );
	FUZZ_ASSERT( certpin_rec_add( &buf, &blen, "reason", val ) == 0 );
	FUZZ_ASSERT( certpin_rec_add( &buf, &blen, "by", "x" ) == 0 );
	FUZZ_ASSERT( strlen( buf ) == blen );
	out = malloc( blen + 1 );
	FUZZ_ASSERT( out != NULL );
	n = certpin_rec_get( buf, blen, "reason", out, blen + 1 );
	FUZZ_ASSERT( n == (long)strlen( val ) && strcmp( out, val ) == 0 );
	n = certpin_rec_get( buf, blen, "by", out, blen + 1 );
	FUZZ_ASSERT( n == 1 && strcmp( out, "x" ) == 0 );
	free( out );
	free( buf );
	free( val );
	free( rec );
	return 0;
}
