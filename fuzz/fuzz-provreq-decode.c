/* fuzz-provreq-decode.c - libFuzzer target: the certpinIssue request decoder
 *
 * Feeds arbitrary bytes to certpin_req_decode() (lib/provreq.c), the code
 * the overlay runs on every certpinIssue request value, from any client,
 * before any proof.  Invariants: a refusal says why and leaves the request
 * zeroed; an accepted request's fields all point inside the input, its
 * validity is non-negative and matches its INTEGER, it re-encodes
 * (certpin_req_encode) to exactly the input bytes (nothing in it was
 * skipped), and its shortest-form encoding decodes to the same fields.
 * The same bytes also go to the bulk decoder (certpin_bulk_decode, the
 * certpinIssueBulk request): a refusal says why and leaves no item; an
 * accepted request has 1 to CERTPIN_BULK_MAX_ITEMS items, each of which
 * decodes alone as a certpinIssue request, and re-encodes
 * (certpin_bulk_encode) to exactly the input bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provreq.h"
#include "fuzz.h"

static int
inside( const struct berval *f, const unsigned char *buf, size_t size )
{
	const unsigned char *p = (const unsigned char *)f->bv_val;

	if ( p == NULL )
		return f->bv_len == 0;
	return p >= buf && p <= buf + size && f->bv_len <= (size_t)( buf + size - p );
}

/* The same field: both absent, or both present with the same bytes. */
static int
same( const struct berval *a, const struct berval *b )
{
	if ( a->bv_val == NULL || b->bv_val == NULL )
		return a->bv_val == b->bv_val && a->bv_len == b->bv_len;
	return a->bv_len == b->bv_len && memcmp( a->bv_val, b->bv_val, a->bv_len ) == 0;
}

/* Every field of a refused request is zero. */
static int
zeroed( const certpin_req *rq )
{
	const struct berval *f[] = { &rq->rq_csr, &rq->rq_identity, &rq->rq_phone,
		&rq->rq_pin, &rq->rq_validity_der, &rq->rq_endpoint };
	size_t i;

	for ( i = 0; i < sizeof( f ) / sizeof( f[0] ); i++ )
		if ( f[i]->bv_val != NULL || f[i]->bv_len != 0 )
			return 0;
	for ( i = 0; i < sizeof( rq->rq_lenlen ); i++ )
		if ( rq->rq_lenlen[i] != 0 )
			return 0;
	return rq->rq_has_validity == 0 && rq->rq_validity == 0;
}

/* The bulk decoder on the same bytes. */
static void
bulk( const unsigned char *copy, size_t size )
{
	static certpin_req items[CERTPIN_BULK_MAX_ITEMS];
	certpin_req one;
	struct berval in;
	unsigned char *out, ll = 0xff;
	char why[128], why1[128];
	size_t n = 12345, i, k;

	in.bv_val = (char *)copy;
	in.bv_len = size;
	why[0] = '\0';
	if ( certpin_bulk_decode( &in, items, CERTPIN_BULK_MAX_ITEMS, &n, &ll, why,
			sizeof( why ) ) ) {
		FUZZ_ASSERT( why[0] != '\0' );
		FUZZ_ASSERT( n == 0 && ll == 0 );
		for ( i = 0; i < 64; i++ )	/* (fuzzed inputs hold few items) */
			FUZZ_ASSERT( zeroed( &items[i] ) );
		return;
	}
	FUZZ_ASSERT( n >= 1 && n <= CERTPIN_BULK_MAX_ITEMS );
	for ( i = 0; i < n; i++ ) {
		FUZZ_ASSERT( inside( &items[i].rq_csr, copy, size ) );
		FUZZ_ASSERT( inside( &items[i].rq_identity, copy, size ) );
		FUZZ_ASSERT( inside( &items[i].rq_endpoint, copy, size ) );
		/* each item is a request of its own */
		k = certpin_req_encode( &items[i], NULL, 0 );
		out = malloc( k );
		FUZZ_ASSERT( out != NULL );
		FUZZ_ASSERT( certpin_req_encode( &items[i], out, k ) == k );
		in.bv_val = (char *)out;
		in.bv_len = k;
		FUZZ_ASSERT( certpin_req_decode( &in, &one, why1, sizeof( why1 ) ) == 0 );
		FUZZ_ASSERT( same( &one.rq_csr, &items[i].rq_csr ) );
		FUZZ_ASSERT( same( &one.rq_identity, &items[i].rq_identity ) );
		free( out );
	}
	k = certpin_bulk_encode( items, n, ll, NULL, 0 );
	FUZZ_ASSERT( k == size );
	out = malloc( k );
	FUZZ_ASSERT( out != NULL );
	FUZZ_ASSERT( certpin_bulk_encode( items, n, ll, out, k ) == k );
	FUZZ_ASSERT( memcmp( out, copy, k ) == 0 );
	if ( k > 1 ) {
		memset( out, 0xa5, k );
		FUZZ_ASSERT( certpin_bulk_encode( items, n, ll, out, k - 1 ) == k );
	}
	free( out );
	for ( i = 0; i < n; i++ )
		memset( &items[i], 0, sizeof( items[i] ) );
}

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	certpin_req rq, rq2;
	struct berval in;
	unsigned char *copy, *out;
	char why[128];
	size_t n, i;
	long v;

	/* An exact-size heap copy, so ASan sees any read past the end. */
	copy = malloc( size ? size : 1 );
	FUZZ_ASSERT( copy != NULL );
	memcpy( copy, data, size );
	bulk( copy, size );
	in.bv_val = (char *)copy;
	in.bv_len = size;
	why[0] = '\0';
	if ( certpin_req_decode( &in, &rq, why, sizeof( why ) ) ) {
		FUZZ_ASSERT( why[0] != '\0' );	/* every refusal says why */
		FUZZ_ASSERT( zeroed( &rq ) );
		free( copy );
		return 0;
	}
	FUZZ_ASSERT( rq.rq_csr.bv_val != NULL );
	FUZZ_ASSERT( inside( &rq.rq_csr, copy, size ) );
	FUZZ_ASSERT( inside( &rq.rq_identity, copy, size ) );
	FUZZ_ASSERT( inside( &rq.rq_phone, copy, size ) );
	FUZZ_ASSERT( inside( &rq.rq_pin, copy, size ) );
	FUZZ_ASSERT( inside( &rq.rq_endpoint, copy, size ) );
	FUZZ_ASSERT( inside( &rq.rq_validity_der, copy, size ) );
	FUZZ_ASSERT( rq.rq_has_validity == ( rq.rq_validity_der.bv_val != NULL ) );
	if ( rq.rq_has_validity ) {
		FUZZ_ASSERT( rq.rq_validity >= 0 && rq.rq_validity <= 0x7fffffff );
		FUZZ_ASSERT( rq.rq_validity_der.bv_len >= 1 );
		/* the value is the INTEGER's (or the clamp, when it is larger) */
		for ( v = 0, i = 0; i < rq.rq_validity_der.bv_len && v <= 0x7fffff; i++ )
			v = ( v << 8 ) | (unsigned char)rq.rq_validity_der.bv_val[i];
		FUZZ_ASSERT( i < rq.rq_validity_der.bv_len ? rq.rq_validity == 0x7fffffff :
			rq.rq_validity == v );
	} else {
		FUZZ_ASSERT( rq.rq_validity == 0 );
	}

	/* One encoding only: it re-encodes to the same bytes, and the length
	 * alone (no buffer) is right too. */
	n = certpin_req_encode( &rq, NULL, 0 );
	FUZZ_ASSERT( n == size );
	out = malloc( n );
	FUZZ_ASSERT( out != NULL );
	FUZZ_ASSERT( certpin_req_encode( &rq, out, n ) == n );
	FUZZ_ASSERT( memcmp( out, copy, n ) == 0 );
	/* a buffer one byte short is left alone */
	if ( n > 1 ) {
		memset( out, 0xa5, n );
		FUZZ_ASSERT( certpin_req_encode( &rq, out, n - 1 ) == n );
	}
	free( out );

	/* The shortest-form encoding, from the value (not the received
	 * octets), decodes to the same fields. */
	{
		unsigned char *o2;

		rq2 = rq;
		memset( rq2.rq_lenlen, 0, sizeof( rq2.rq_lenlen ) );
		if ( rq.rq_validity < 0x7fffffff ) {
			rq2.rq_validity_der.bv_val = NULL;
			rq2.rq_validity_der.bv_len = 0;
		}
		n = certpin_req_encode( &rq2, NULL, 0 );
		FUZZ_ASSERT( n <= size );
		o2 = malloc( n );
		FUZZ_ASSERT( o2 != NULL );
		FUZZ_ASSERT( certpin_req_encode( &rq2, o2, n ) == n );
		in.bv_val = (char *)o2;
		in.bv_len = n;
		FUZZ_ASSERT( certpin_req_decode( &in, &rq2, why, sizeof( why ) ) == 0 );
		FUZZ_ASSERT( same( &rq2.rq_csr, &rq.rq_csr ) );
		FUZZ_ASSERT( same( &rq2.rq_identity, &rq.rq_identity ) );
		FUZZ_ASSERT( same( &rq2.rq_phone, &rq.rq_phone ) );
		FUZZ_ASSERT( same( &rq2.rq_pin, &rq.rq_pin ) );
		FUZZ_ASSERT( same( &rq2.rq_endpoint, &rq.rq_endpoint ) );
		FUZZ_ASSERT( rq2.rq_has_validity == rq.rq_has_validity );
		FUZZ_ASSERT( rq2.rq_validity == rq.rq_validity );
		free( o2 );
	}
	free( copy );
	return 0;
}
