/* fuzz-csr-check.c - libFuzzer target: the CSR checks of certpinIssue
 *
 * Feeds arbitrary bytes to certpin_csr_check() (lib/provreq.c), which the
 * overlay runs on the CSR of every certpinIssue request, before any proof.
 * Invariants: a refusal says why ("certpinIssue: ...") and returns no
 * request; an accepted CSR is at most CERTPIN_CSR_MAX bytes, re-encodes to
 * exactly the input, carries a key certpin_key_kind() accepts, and its
 * signature verifies.  The same input always gets the same answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "provreq.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	X509_REQ *req = NULL, *req2 = NULL;
	struct berval in;
	unsigned char *copy, *re = NULL;
	const char *why, *why2;
	char buf[256], buf2[256], kb[128];
	int n;

	copy = malloc( size ? size : 1 );
	FUZZ_ASSERT( copy != NULL );
	memcpy( copy, data, size );
	in.bv_val = (char *)copy;
	in.bv_len = size;
	why = certpin_csr_check( &in, &req, buf, sizeof( buf ) );
	why2 = certpin_csr_check( &in, &req2, buf2, sizeof( buf2 ) );
	FUZZ_ASSERT( ( why == NULL ) == ( why2 == NULL ) );
	if ( why ) {
		FUZZ_ASSERT( req == NULL && req2 == NULL );
		FUZZ_ASSERT( strncmp( why, "certpinIssue: ", 14 ) == 0 && why[14] != '\0' );
		FUZZ_ASSERT( strcmp( why, why2 ) == 0 );
		FUZZ_ASSERT( ERR_peek_error() == 0 );	/* no error left queued */
		free( copy );
		return 0;
	}
	FUZZ_ASSERT( req != NULL && req2 != NULL );
	FUZZ_ASSERT( size <= CERTPIN_CSR_MAX );
	n = i2d_X509_REQ( req, &re );
	FUZZ_ASSERT( n > 0 && (size_t)n == size && memcmp( re, copy, size ) == 0 );
	FUZZ_ASSERT( X509_REQ_get0_pubkey( req ) != NULL );
	FUZZ_ASSERT( certpin_key_kind( X509_REQ_get0_pubkey( req ), 1, kb, sizeof( kb ) ) == NULL );
	FUZZ_ASSERT( X509_REQ_verify( req, X509_REQ_get0_pubkey( req ) ) == 1 );
	OPENSSL_free( re );
	X509_REQ_free( req );
	X509_REQ_free( req2 );
	free( copy );
	return 0;
}
