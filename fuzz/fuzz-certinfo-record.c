/* fuzz-certinfo-record.c - libFuzzer target: the metadata record parser
 *
 * certpinCertInfo and certpinRevoked values are "name=value$..." records
 * (lib/certinfo.h).  The overlay and the tools read them back from the
 * directory, where replication or slapadd may have stored anything, and the
 * overlay reads a client's "sha256=<hex>$reason=<text>" revocation reasons.
 * This target feeds arbitrary bytes (not NUL-terminated) to
 * certpin_certinfo_parse() and certpin_rec_get() with every output size, and
 * checks that certpin_rec_add() escapes any value so it reads back intact.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certinfo.h"
#include "fuzz.h"

static const char *const names[] = {
	"sha256", "sha1", "serial", "published", "notbefore", "expires",
	"endpoint", "issuer", "subject", "reason", "revoked", "by", "", NULL
};

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	certpin_certinfo ci;
	char *rec, *out, *val, *buf = NULL;
	size_t i, outlen, blen = 0;
	long n;

	rec = malloc( size ? size : 1 );
	FUZZ_ASSERT( rec != NULL );
	memcpy( rec, data, size );

	if ( certpin_certinfo_parse( rec, size, &ci ) == 0 ) {
		FUZZ_ASSERT( certpin_is_sha256_hex( ci.ci_sha256, strlen( ci.ci_sha256 ) ) );
		certpin_certinfo_free( &ci );
	} else {
		certpin_certinfo_free( &ci );
	}

	/* Every field, with output buffers from none to more than enough. */
	for ( i = 0; names[i]; i++ ) {
		FUZZ_ASSERT( certpin_rec_get( rec, size, names[i], NULL, 0 ) == -1 );
		for ( outlen = 1; outlen <= size + 2; outlen += ( outlen < 70 ? 1 : 97 ) ) {
			out = malloc( outlen );
			FUZZ_ASSERT( out != NULL );
			n = certpin_rec_get( rec, size, names[i], out, outlen );
			FUZZ_ASSERT( n >= -1 && n < (long)outlen );
			if ( n >= 0 )
				FUZZ_ASSERT( out[n] == '\0' );
			free( out );
		}
	}

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
