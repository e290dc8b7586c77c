/* provreq.c - the certpinIssue request: decoder, encoder and CSR checks
 *
 * See provreq.h.  A reader of its own (not liblber's ber_skip_element),
 * small enough to check by reading, that keeps the length forms it reads.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "provreq.h"

/* ---- DER ---------------------------------------------------------------- */

/* Read one TLV from *p (before end): a one-octet tag (low tag number form),
 * a definite length (short form, or long form of 1 to 4 octets), contents
 * within end.  NULL and *tag, *val, *len, *ll (octets of the length), *p
 * past it; or why not. */
static const char *
der_tlv( const unsigned char **p, const unsigned char *end, unsigned *tag,
	const unsigned char **val, size_t *len, unsigned char *ll )
{
	const unsigned char *q = *p;
	size_t n, i, k;

	if ( q >= end )
		return "a field is missing";
	if ( ( *q & 0x1f ) == 0x1f )
		return "a tag in high-number form";
	*tag = *q++;
	if ( q >= end )
		return "a field without a length";
	n = *q++;
	*ll = 1;
	if ( n == 0x80 )
		return "an indefinite length (LDAP allows none)";
	if ( n & 0x80 ) {
		k = n & 0x7f;
		if ( k > 4 )
			return "a length of more than 4 octets";
		if ( (size_t)( end - q ) < k )
			return "a length that runs past the data";
		for ( n = 0, i = 0; i < k; i++ )
			n = ( n << 8 ) | q[i];
		q += k;
		*ll = (unsigned char)( 1 + k );
	}
	if ( (size_t)( end - q ) < n )
		return "a length that runs past the data";
	*val = q;
	*len = n;
	*p = q + n;
	return NULL;
}

/* Octets of the length of n: the shortest form, or want when that is
 * longer and still a valid form (at most 1 + 4). */
static size_t
der_lenlen( size_t n, unsigned want )
{
	size_t k = 1, m = n;

	if ( n >= 0x80 ) {
		while ( m ) {
			k++;
			m >>= 8;
		}
	}
	if ( want > k && want <= 5 && want >= 2 )
		k = want;
	return k;
}

/* Append tag, length n in ll octets (der_lenlen) and contents v (when not
 * NULL) at *o if it fits (o non-NULL); the running total in *total. */
static void
der_put( unsigned char **o, unsigned char *end, size_t *total, unsigned tag,
	size_t n, size_t ll, const void *v )
{
	size_t need = 1 + ll + ( v ? n : 0 ), i;
	unsigned char *q = *o;

	*total += need;
	if ( q == NULL || (size_t)( end - q ) < need ) {
		*o = NULL;
		return;
	}
	*q++ = (unsigned char)tag;
	if ( ll == 1 ) {
		*q++ = (unsigned char)n;
	} else {
		*q++ = (unsigned char)( 0x80 | ( ll - 1 ) );
		for ( i = ll - 1; i > 0; i-- )
			*q++ = (unsigned char)( i > sizeof( size_t ) ? 0 : n >> ( 8 * ( i - 1 ) ) );
	}
	if ( v && n )
		memcpy( q, v, n );
	*o = q + ( v ? n : 0 );
}

/* ---- the request -------------------------------------------------------- */

int
certpin_req_decode( const struct berval *data, certpin_req *rq, char *why,
	size_t whylen )
{
	const unsigned char *p, *end, *body, *bend, *v;
	const char *err = NULL;
	unsigned tag, last = 0;
	unsigned char ll;
	size_t n, i;

	memset( rq, 0, sizeof( *rq ) );
	if ( data == NULL || data->bv_val == NULL || data->bv_len == 0 ) {
		err = "an empty request value";
		goto bad;
	}
	p = (const unsigned char *)data->bv_val;
	end = p + data->bv_len;
	if ( ( err = der_tlv( &p, end, &tag, &body, &n, &ll ) ) )
		goto bad;
	rq->rq_lenlen[CERTPIN_REQ_LL_SEQ] = ll;
	if ( tag != 0x30 ) {
		err = "the request is not a SEQUENCE";
		goto bad;
	}
	if ( p != end ) {
		err = "bytes after the request's SEQUENCE";
		goto bad;
	}
	bend = body + n;
	if ( ( err = der_tlv( &body, bend, &tag, &v, &n, &ll ) ) )
		goto bad;
	rq->rq_lenlen[CERTPIN_REQ_LL_CSR] = ll;
	if ( tag != 0x04 ) {
		err = "the first field (the CSR) is not an OCTET STRING";
		goto bad;
	}
	rq->rq_csr.bv_val = (char *)v;
	rq->rq_csr.bv_len = n;
	while ( body < bend ) {
		if ( ( err = der_tlv( &body, bend, &tag, &v, &n, &ll ) ) )
			goto bad;
		if ( tag < CERTPIN_REQ_TAG_IDENTITY || tag > CERTPIN_REQ_TAG_ENDPOINT ) {
			snprintf( why, whylen, "an unknown or constructed field (tag 0x%02x)",
				tag );
			memset( rq, 0, sizeof( *rq ) );
			return -1;
		}
		if ( tag <= last ) {
			err = "optional fields repeated or out of order";
			goto bad;
		}
		last = tag;
		rq->rq_lenlen[CERTPIN_REQ_LL_FIELD( tag )] = ll;
		switch ( tag ) {
		case CERTPIN_REQ_TAG_IDENTITY:
			rq->rq_identity.bv_val = (char *)v;
			rq->rq_identity.bv_len = n;
			break;
		case CERTPIN_REQ_TAG_PHONE:
			rq->rq_phone.bv_val = (char *)v;
			rq->rq_phone.bv_len = n;
			break;
		case CERTPIN_REQ_TAG_PIN:
			rq->rq_pin.bv_val = (char *)v;
			rq->rq_pin.bv_len = n;
			break;
		case CERTPIN_REQ_TAG_VALIDITY:
			/* a non-negative INTEGER; huge ones fail the policy */
			if ( n < 1 ) {
				err = "an empty validity";
				goto bad;
			}
			if ( v[0] & 0x80 ) {
				err = "a negative validity";
				goto bad;
			}
			if ( n > 1 && v[0] == 0 && !( v[1] & 0x80 ) ) {
				err = "a validity INTEGER not in its shortest form";
				goto bad;
			}
			rq->rq_validity = 0;
			for ( i = 0; i < n; i++ ) {
				if ( rq->rq_validity > 0x7fffff ) {
					rq->rq_validity = 0x7fffffff;
					break;
				}
				rq->rq_validity = ( rq->rq_validity << 8 ) | v[i];
			}
			rq->rq_validity_der.bv_val = (char *)v;
			rq->rq_validity_der.bv_len = n;
			rq->rq_has_validity = 1;
			break;
		case CERTPIN_REQ_TAG_ENDPOINT:
			rq->rq_endpoint.bv_val = (char *)v;
			rq->rq_endpoint.bv_len = n;
			break;
		}
	}
	return 0;

bad:
	snprintf( why, whylen, "%s", err );
	memset( rq, 0, sizeof( *rq ) );
	return -1;
}

size_t
certpin_req_encode( const certpin_req *rq, unsigned char *out, size_t outlen )
{
	unsigned char vbuf[sizeof( long )], *o, *end;
	const struct berval *f[5];
	struct berval vv;
	size_t body = 0, total = 0, i;
	unsigned tag;
	long val;

	/* the validity's contents octets */
	if ( rq->rq_has_validity && rq->rq_validity_der.bv_val ) {
		vv = rq->rq_validity_der;
	} else if ( rq->rq_has_validity ) {
		val = rq->rq_validity < 0 ? 0 : rq->rq_validity;
		i = sizeof( vbuf );
		do {
			vbuf[--i] = (unsigned char)( val & 0xff );
			val >>= 8;
		} while ( val && i > 0 );
		if ( vbuf[i] & 0x80 && i > 0 )
			vbuf[--i] = 0;
		vv.bv_val = (char *)vbuf + i;
		vv.bv_len = sizeof( vbuf ) - i;
	} else {
		vv.bv_val = NULL;
		vv.bv_len = 0;
	}
	f[0] = &rq->rq_identity;
	f[1] = &rq->rq_phone;
	f[2] = &rq->rq_pin;
	f[3] = &vv;
	f[4] = &rq->rq_endpoint;

	/* the body's length first */
	body = 1 + der_lenlen( rq->rq_csr.bv_len, rq->rq_lenlen[CERTPIN_REQ_LL_CSR] ) +
		rq->rq_csr.bv_len;
	for ( i = 0; i < 5; i++ )
		if ( f[i]->bv_val )
			body += 1 + der_lenlen( f[i]->bv_len, rq->rq_lenlen[2 + i] ) +
				f[i]->bv_len;
	o = out;
	end = out ? out + outlen : NULL;
	der_put( &o, end, &total, 0x30, body,
		der_lenlen( body, rq->rq_lenlen[CERTPIN_REQ_LL_SEQ] ), NULL );
	der_put( &o, end, &total, 0x04, rq->rq_csr.bv_len,
		der_lenlen( rq->rq_csr.bv_len, rq->rq_lenlen[CERTPIN_REQ_LL_CSR] ),
		rq->rq_csr.bv_val ? rq->rq_csr.bv_val : "" );
	for ( i = 0, tag = CERTPIN_REQ_TAG_IDENTITY; i < 5; i++, tag++ )
		if ( f[i]->bv_val )
			der_put( &o, end, &total, tag, f[i]->bv_len,
				der_lenlen( f[i]->bv_len, rq->rq_lenlen[2 + i] ), f[i]->bv_val );
	return total;
}

/* ---- keys and CSRs ------------------------------------------------------ */

const char *
certpin_key_kind( EVP_PKEY *pkey, int allow_p384, char *buf, size_t len )
{
	char group[64];
	size_t glen = 0;
	int bits = EVP_PKEY_get_bits( pkey );

	switch ( EVP_PKEY_get_base_id( pkey ) ) {
	case EVP_PKEY_RSA:
		if ( bits < 2048 ) {
			snprintf( buf, len, "RSA key of %d bits: at least 2048 required", bits );
			return buf;
		}
		if ( bits > CERTPIN_RSA_MAX ) {
			snprintf( buf, len, "RSA key of %d bits: at most %d accepted",
				bits, CERTPIN_RSA_MAX );
			return buf;
		}
		return NULL;
	case EVP_PKEY_EC:
		if ( !EVP_PKEY_get_utf8_string_param( pkey, OSSL_PKEY_PARAM_GROUP_NAME,
				group, sizeof( group ), &glen ) ) {
			ERR_clear_error();
			snprintf( buf, len, "EC key on an unnamed curve" );
			return buf;
		}
		if ( strcmp( group, "prime256v1" ) == 0 ||
		     ( allow_p384 && strcmp( group, "secp384r1" ) == 0 ) )
			return NULL;
		snprintf( buf, len, "EC key on curve %s: P-256%s required", group,
			allow_p384 ? " or P-384" : "" );
		return buf;
	}
	snprintf( buf, len, "key type %s: ECDSA or RSA required",
		OBJ_nid2sn( EVP_PKEY_get_base_id( pkey ) ) );
	return buf;
}

const char *
certpin_csr_check( const struct berval *csr, X509_REQ **reqp, char *buf,
	size_t len )
{
	const unsigned char *p = (const unsigned char *)csr->bv_val;
	unsigned char *re = NULL;
	X509_REQ *req;
	EVP_PKEY *k;
	char why[128];
	int n;

	*reqp = NULL;
	if ( csr->bv_val == NULL || csr->bv_len == 0 )
		return "certpinIssue: the CSR is empty";
	if ( csr->bv_len > CERTPIN_CSR_MAX ) {
		snprintf( buf, len, "certpinIssue: the CSR is larger than %d bytes",
			CERTPIN_CSR_MAX );
		return buf;
	}
	req = d2i_X509_REQ( NULL, &p, (long)csr->bv_len );
	if ( req == NULL ) {
		ERR_clear_error();
		return "certpinIssue: the CSR is not a DER PKCS#10 request";
	}
	if ( p != (const unsigned char *)csr->bv_val + csr->bv_len ) {
		X509_REQ_free( req );
		return "certpinIssue: trailing bytes after the CSR";
	}
	/* One encoding only: what was decoded encodes back to the same bytes
	 * (the signed part is kept as received, so this holds the rest). */
	n = i2d_X509_REQ( req, &re );
	if ( n < 0 || (size_t)n != csr->bv_len || memcmp( re, csr->bv_val, n ) != 0 ) {
		OPENSSL_free( re );
		X509_REQ_free( req );
		ERR_clear_error();
		return "certpinIssue: the CSR is not in DER (it encodes differently)";
	}
	OPENSSL_free( re );
	k = X509_REQ_get0_pubkey( req );
	if ( k == NULL ) {
		X509_REQ_free( req );
		ERR_clear_error();
		return "certpinIssue: the CSR's public key cannot be read";
	}
	if ( certpin_key_kind( k, 1, why, sizeof( why ) ) ) {
		snprintf( buf, len, "certpinIssue: weak or unsupported key in the CSR: %s", why );
		X509_REQ_free( req );
		return buf;
	}
	if ( X509_REQ_verify( req, k ) != 1 ) {
		X509_REQ_free( req );
		ERR_clear_error();
		return "certpinIssue: the CSR's signature does not verify";
	}
	*reqp = req;
	return NULL;
}
