/* fuzz-csr-check.c - libFuzzer target: the CSR checks of certpinIssue
 *
 * Feeds arbitrary bytes to certpin_csr_check() (lib/provreq.c), which the
 * overlay runs on the CSR of every certpinIssue request, before any proof:
 * its own DER reader, the key built from its parameters, the signature
 * verified once.  Invariants: a refusal says why ("certpinIssue: ...") and
 * returns nothing; an accepted CSR is checked against OpenSSL's own reading
 * of the same bytes (d2i_X509_REQ, an independent oracle): OpenSSL parses
 * it, re-encodes it to exactly the input (DER), finds the same key (and the
 * same key bits the certificate will carry), which certpin_key_kind()
 * accepts, and verifies its signature.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "provreq.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	certpin_csr cs;
	X509_REQ *req;
	struct berval in;
	unsigned char *copy, *re = NULL;
	const unsigned char *p, *pk;
	const char *why;
	char buf[256], kb[128];
	int n, pklen;

	copy = malloc( size ? size : 1 );
	FUZZ_ASSERT( copy != NULL );
	memcpy( copy, data, size );
	in.bv_val = (char *)copy;
	in.bv_len = size;
	why = certpin_csr_check( &in, &cs, buf, sizeof( buf ) );
	if ( why ) {
		FUZZ_ASSERT( cs.cs_pkey == NULL && cs.cs_key == NULL && cs.cs_key_len == 0 &&
			cs.cs_alg_nid == 0 && cs.cs_curve_nid == 0 );
		FUZZ_ASSERT( strncmp( why, "certpinIssue: ", 14 ) == 0 && why[14] != '\0' );
		FUZZ_ASSERT( ERR_peek_error() == 0 );	/* no error left queued */
		free( copy );
		return 0;
	}
	FUZZ_ASSERT( cs.cs_pkey != NULL && size <= CERTPIN_CSR_MAX );
	FUZZ_ASSERT( certpin_key_kind( cs.cs_pkey, 1, kb, sizeof( kb ) ) == NULL );
	FUZZ_ASSERT( cs.cs_key >= copy && cs.cs_key + cs.cs_key_len <= copy + size );

	/* the oracle */
	p = copy;
	req = d2i_X509_REQ( NULL, &p, (long)size );
	FUZZ_ASSERT( req != NULL && p == copy + size );
	n = i2d_X509_REQ( req, &re );
	FUZZ_ASSERT( n > 0 && (size_t)n == size && memcmp( re, copy, size ) == 0 );
	FUZZ_ASSERT( X509_REQ_get0_pubkey( req ) != NULL );
	FUZZ_ASSERT( EVP_PKEY_eq( cs.cs_pkey, X509_REQ_get0_pubkey( req ) ) == 1 );
	FUZZ_ASSERT( X509_PUBKEY_get0_param( NULL, &pk, &pklen, NULL,
		X509_REQ_get_X509_PUBKEY( req ) ) == 1 );
	FUZZ_ASSERT( (size_t)pklen == cs.cs_key_len && memcmp( pk, cs.cs_key, pklen ) == 0 );
	FUZZ_ASSERT( X509_REQ_verify( req, X509_REQ_get0_pubkey( req ) ) == 1 );
	OPENSSL_free( re );
	X509_REQ_free( req );
	certpin_csr_free( &cs );
	ERR_clear_error();
	free( copy );
	return 0;
}
