/* fuzz-certinfo-der.c - libFuzzer target: certificate DER into metadata
 *
 * Feeds arbitrary bytes to certpin_certinfo_from_der(), the only code in
 * certpin that reads certificate DER (the overlay runs it on every
 * certpinCertificate value a client writes).  When a value is accepted, the
 * metadata must be what the rest of certpin relies on: a 64-digit thumbprint
 * equal to the SHA-256 of the input, well-formed GeneralizedTimes that parse
 * back, names without embedded NULs, and a record that formats and parses
 * back to the same fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certinfo.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	certpin_certinfo ci, back;
	char err[256], hex[65];
	unsigned char *copy;
	char *rec;
	time_t t;

	/* An exact-size heap copy, so ASan sees any read past the end. */
	copy = malloc( size ? size : 1 );
	FUZZ_ASSERT( copy != NULL );
	memcpy( copy, data, size );
	err[0] = '\0';
	if ( certpin_certinfo_from_der( copy, size, &ci, err, sizeof( err ) ) ) {
		FUZZ_ASSERT( err[0] != '\0' );	/* every refusal says why */
		free( copy );
		return 0;
	}
	certpin_sha256_hex( copy, size, hex );
	FUZZ_ASSERT( strcmp( ci.ci_sha256, hex ) == 0 );
	FUZZ_ASSERT( certpin_is_sha256_hex( ci.ci_sha256, strlen( ci.ci_sha256 ) ) );
	FUZZ_ASSERT( strlen( ci.ci_sha1 ) == 40 );
	FUZZ_ASSERT( ci.ci_serial[0] != '\0' );
	FUZZ_ASSERT( certpin_gentime_parse( ci.ci_notbefore, &t ) == 0 );
	FUZZ_ASSERT( t == ci.ci_notbefore_t );
	FUZZ_ASSERT( certpin_gentime_parse( ci.ci_notafter, &t ) == 0 );
	FUZZ_ASSERT( t == ci.ci_notafter_t );
	FUZZ_ASSERT( ci.ci_issuer != NULL && ci.ci_subject != NULL );

	rec = certpin_certinfo_format( &ci );
	FUZZ_ASSERT( rec != NULL );
	FUZZ_ASSERT( certpin_certinfo_parse( rec, strlen( rec ), &back ) == 0 );
	FUZZ_ASSERT( strcmp( back.ci_sha256, ci.ci_sha256 ) == 0 );
	FUZZ_ASSERT( strcmp( back.ci_sha1, ci.ci_sha1 ) == 0 );
	FUZZ_ASSERT( strcmp( back.ci_serial, ci.ci_serial ) == 0 );
	FUZZ_ASSERT( strcmp( back.ci_notbefore, ci.ci_notbefore ) == 0 );
	FUZZ_ASSERT( strcmp( back.ci_notafter, ci.ci_notafter ) == 0 );
	FUZZ_ASSERT( back.ci_notafter_t == ci.ci_notafter_t );
	FUZZ_ASSERT( back.ci_issuer && strcmp( back.ci_issuer, ci.ci_issuer ) == 0 );
	FUZZ_ASSERT( back.ci_subject && strcmp( back.ci_subject, ci.ci_subject ) == 0 );
	certpin_certinfo_free( &back );
	free( rec );
	certpin_certinfo_free( &ci );
	free( copy );
	return 0;
}
