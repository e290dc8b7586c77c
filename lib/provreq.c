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

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
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

/* ---- the bulk request --------------------------------------------------- */

int
certpin_bulk_decode( const struct berval *data, certpin_req *items, size_t max,
	size_t *n, unsigned char *lenlen, char *why, size_t whylen )
{
	const unsigned char *p, *end, *body, *bend, *start, *v;
	const char *err = NULL;
	struct berval one;
	unsigned tag;
	unsigned char ll;
	size_t len, i;
	char sub[128];

	*n = 0;
	*lenlen = 0;
	if ( data == NULL || data->bv_val == NULL || data->bv_len == 0 ) {
		err = "an empty request value";
		goto bad;
	}
	if ( data->bv_len > CERTPIN_BULK_MAX_BYTES ) {
		snprintf( why, whylen, "more than %d bytes", CERTPIN_BULK_MAX_BYTES );
		return -1;
	}
	p = (const unsigned char *)data->bv_val;
	end = p + data->bv_len;
	if ( ( err = der_tlv( &p, end, &tag, &body, &len, &ll ) ) )
		goto bad;
	if ( tag != 0x30 ) {
		err = "the request is not a SEQUENCE";
		goto bad;
	}
	if ( p != end ) {
		err = "bytes after the request's SEQUENCE";
		goto bad;
	}
	*lenlen = ll;
	bend = body + len;
	if ( body == bend ) {
		err = "no item";
		goto bad;
	}
	while ( body < bend ) {
		start = body;
		if ( ( err = der_tlv( &body, bend, &tag, &v, &len, &ll ) ) ) {
			snprintf( why, whylen, "item %zu: %s", *n + 1, err );
			goto zero;
		}
		if ( *n >= max ) {
			snprintf( why, whylen, "more than %zu items", max );
			goto zero;
		}
		one.bv_val = (char *)start;
		one.bv_len = body - start;
		if ( certpin_req_decode( &one, &items[*n], sub, sizeof( sub ) ) ) {
			snprintf( why, whylen, "item %zu: %s", *n + 1, sub );
			goto zero;
		}
		( *n )++;
	}
	return 0;

bad:
	snprintf( why, whylen, "%s", err );
zero:
	for ( i = 0; i < *n; i++ )
		memset( &items[i], 0, sizeof( items[i] ) );
	*n = 0;
	*lenlen = 0;
	return -1;
}

size_t
certpin_bulk_encode( const certpin_req *items, size_t n, unsigned lenlen,
	unsigned char *out, size_t outlen )
{
	unsigned char *o = out, *end = out ? out + outlen : NULL;
	size_t body = 0, total = 0, i, k;

	for ( i = 0; i < n; i++ )
		body += certpin_req_encode( &items[i], NULL, 0 );
	der_put( &o, end, &total, 0x30, body, der_lenlen( body, lenlen ), NULL );
	for ( i = 0; i < n; i++ ) {
		k = certpin_req_encode( &items[i], NULL, 0 );
		if ( o && (size_t)( end - o ) >= k ) {
			certpin_req_encode( &items[i], o, k );
			o += k;
		} else {
			o = NULL;
		}
		total += k;
	}
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

/* One TLV of a DER structure: as der_tlv, and the length in its shortest
 * form; the tag must be want.  NULL or why not. */
static const char *
der_get( const unsigned char **p, const unsigned char *end, unsigned want,
	const unsigned char **val, size_t *len )
{
	const char *err;
	unsigned tag;
	unsigned char ll;

	if ( ( err = der_tlv( p, end, &tag, val, len, &ll ) ) )
		return err;
	if ( ll != der_lenlen( *len, 0 ) )
		return "a length not in its shortest form";
	if ( tag != want )
		return "an unexpected field";
	return NULL;
}

/* Object identifiers the CSR may hold (contents octets). */
static const unsigned char oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char oid_p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const struct {
	const char	*md;		/* the digest; NULL ends the table */
	size_t		len;
	int		rsa;		/* RSA PKCS#1 v1.5, else ECDSA */
	unsigned char	oid[9];
} sigalgs[] = {
	{ "SHA256", 8, 0, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 } },
	{ "SHA384", 8, 0, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 } },
	{ "SHA512", 8, 0, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 } },
	{ "SHA256", 9, 1, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b } },
	{ "SHA384", 9, 1, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c } },
	{ "SHA512", 9, 1, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d } },
	{ NULL, 0, 0, { 0 } }
};

#define OID_IS( v, n, o )	( (n) == sizeof( o ) && memcmp( (v), (o), sizeof( o ) ) == 0 )

/* A positive DER INTEGER's magnitude (no leading zero octet).  NULL or
 * why not. */
static const char *
der_uint( const unsigned char **p, const unsigned char *end,
	const unsigned char **v, size_t *n )
{
	const char *err = der_get( p, end, 0x02, v, n );

	if ( err )
		return err;
	if ( *n == 0 || ( (*v)[0] & 0x80 ) )
		return "an RSA key with a negative or empty INTEGER";
	if ( *n > 1 && (*v)[0] == 0 && !( (*v)[1] & 0x80 ) )
		return "an INTEGER not in its shortest form";
	if ( (*v)[0] == 0 ) {
		(*v)++;
		(*n)--;
	}
	return NULL;
}

/* EC keys of the two curves without their point, made once: a CSR's key
 * is a copy of one (EVP_PKEY_dup) given its point
 * (EVP_PKEY_set1_encoded_public_key, which checks that it is on the
 * curve, as EVP_PKEY_fromdata does), not a key whose curve is built again
 * from its name for every request (two thirds of reading the key). */
static EVP_PKEY *ec_tmpl[2];	/* P-256, P-384 */
static CRYPTO_ONCE ec_tmpl_once = CRYPTO_ONCE_STATIC_INIT;

static void
ec_tmpl_init( void )
{
	static const char *const names[2] = { "prime256v1", "secp384r1" };
	int i;

	for ( i = 0; i < 2; i++ ) {
		OSSL_PARAM params[2];
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name( NULL, "EC", NULL );

		params[0] = OSSL_PARAM_construct_utf8_string( OSSL_PKEY_PARAM_GROUP_NAME,
			(char *)names[i], 0 );
		params[1] = OSSL_PARAM_construct_end();
		if ( ctx == NULL || EVP_PKEY_fromdata_init( ctx ) <= 0 ||
		     EVP_PKEY_fromdata( ctx, &ec_tmpl[i], EVP_PKEY_KEY_PARAMETERS,
			params ) <= 0 )
			ec_tmpl[i] = NULL;	/* the slow way then */
		EVP_PKEY_CTX_free( ctx );
	}
	ERR_clear_error();
}

void
certpin_csr_release( void )
{
	int i;

	for ( i = 0; i < 2; i++ ) {
		EVP_PKEY_free( ec_tmpl[i] );
		ec_tmpl[i] = NULL;
	}
}

/* Build the key of the SubjectPublicKeyInfo's parts (EVP_PKEY_fromdata).
 * NULL and *pk, or why not (in buf or a constant). */
static const char *
csr_key( certpin_csr *cs, const unsigned char *ka, size_t kalen,
	char *buf, size_t len )
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *n = NULL, *e = NULL;
	const unsigned char *p = ka, *end = ka + kalen, *v, *kp, *kend;
	const char *err = NULL;
	size_t vn, nn, en;
	const unsigned char *nv, *ev;

	/* AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters } */
	if ( ( err = der_get( &p, end, 0x06, &v, &vn ) ) )
		return err;
	if ( OID_IS( v, vn, oid_ec ) ) {
		cs->cs_alg_nid = NID_X9_62_id_ecPublicKey;
		if ( ( err = der_get( &p, end, 0x06, &v, &vn ) ) )
			return "an EC key without a named curve";
		if ( OID_IS( v, vn, oid_p256 ) )
			cs->cs_curve_nid = NID_X9_62_prime256v1;
		else if ( OID_IS( v, vn, oid_p384 ) )
			cs->cs_curve_nid = NID_secp384r1;
		else {
			unsigned char tlv[2 + 64];
			const unsigned char *q = tlv;
			ASN1_OBJECT *o = NULL;
			int nid = NID_undef;

			if ( vn < sizeof( tlv ) - 2 ) {
				tlv[0] = 0x06;
				tlv[1] = (unsigned char)vn;
				memcpy( tlv + 2, v, vn );
				o = d2i_ASN1_OBJECT( NULL, &q, (long)( vn + 2 ) );
				nid = o ? OBJ_obj2nid( o ) : NID_undef;
				ASN1_OBJECT_free( o );
			}
			ERR_clear_error();
			snprintf( buf, len, "certpinIssue: weak or unsupported key in the "
				"CSR: EC key on curve %s: P-256 or P-384 required",
				nid != NID_undef ? OBJ_nid2sn( nid ) : "(unknown)" );
			return buf;
		}
	} else if ( OID_IS( v, vn, oid_rsa ) ) {
		cs->cs_alg_nid = NID_rsaEncryption;
		cs->cs_curve_nid = NID_undef;
		if ( p < end && ( ( err = der_get( &p, end, 0x05, &v, &vn ) ) || vn != 0 ) )
			return "RSA key parameters that are not NULL";
	} else {
		snprintf( buf, len, "certpinIssue: weak or unsupported key in the CSR: "
			"neither an EC nor an RSA key: ECDSA or RSA required" );
		return buf;
	}
	if ( p != end )
		return "bytes after the key's algorithm";

	if ( cs->cs_alg_nid == NID_X9_62_id_ecPublicKey &&
	     CRYPTO_THREAD_run_once( &ec_tmpl_once, ec_tmpl_init ) &&
	     ec_tmpl[cs->cs_curve_nid == NID_secp384r1] != NULL ) {
		cs->cs_pkey = EVP_PKEY_dup( ec_tmpl[cs->cs_curve_nid == NID_secp384r1] );
		if ( cs->cs_pkey == NULL )
			goto nomem;
		if ( EVP_PKEY_set1_encoded_public_key( cs->cs_pkey, cs->cs_key,
				cs->cs_key_len ) != 1 ) {
			EVP_PKEY_free( cs->cs_pkey );
			cs->cs_pkey = NULL;
			err = "certpinIssue: the CSR's public key cannot be read";
		}
		goto done;
	}
	if ( cs->cs_alg_nid == NID_X9_62_id_ecPublicKey ) {
		bld = OSSL_PARAM_BLD_new();
		if ( bld == NULL ||
		     !OSSL_PARAM_BLD_push_utf8_string( bld, OSSL_PKEY_PARAM_GROUP_NAME,
			cs->cs_curve_nid == NID_secp384r1 ? "secp384r1" : "prime256v1", 0 ) ||
		     !OSSL_PARAM_BLD_push_octet_string( bld, OSSL_PKEY_PARAM_PUB_KEY,
			cs->cs_key, cs->cs_key_len ) )
			goto nomem;
		ctx = EVP_PKEY_CTX_new_from_name( NULL, "EC", NULL );
	} else {
		/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
		kp = cs->cs_key;
		kend = kp + cs->cs_key_len;
		if ( ( err = der_get( &kp, kend, 0x30, &v, &vn ) ) )
			return err;
		if ( kp != kend )
			return "bytes after the RSA key";
		kp = v;
		kend = v + vn;
		if ( ( err = der_uint( &kp, kend, &nv, &nn ) ) ||
		     ( err = der_uint( &kp, kend, &ev, &en ) ) )
			return err;
		if ( kp != kend )
			return "bytes after the RSA key";
		if ( nn > CERTPIN_RSA_MAX / 8 + 1 || en > 8 ) {
			snprintf( buf, len, "certpinIssue: weak or unsupported key in the CSR: "
				"RSA key of more than %d bits", CERTPIN_RSA_MAX );
			return buf;
		}
		n = BN_bin2bn( nv, (int)nn, NULL );
		e = BN_bin2bn( ev, (int)en, NULL );
		bld = OSSL_PARAM_BLD_new();
		if ( n == NULL || e == NULL || bld == NULL ||
		     !OSSL_PARAM_BLD_push_BN( bld, OSSL_PKEY_PARAM_RSA_N, n ) ||
		     !OSSL_PARAM_BLD_push_BN( bld, OSSL_PKEY_PARAM_RSA_E, e ) )
			goto nomem;
		ctx = EVP_PKEY_CTX_new_from_name( NULL, "RSA", NULL );
	}
	params = OSSL_PARAM_BLD_to_param( bld );
	if ( ctx == NULL || params == NULL )
		goto nomem;
	if ( EVP_PKEY_fromdata_init( ctx ) <= 0 ||
	     EVP_PKEY_fromdata( ctx, &cs->cs_pkey, EVP_PKEY_PUBLIC_KEY, params ) <= 0 ||
	     cs->cs_pkey == NULL )
		err = "certpinIssue: the CSR's public key cannot be read";
	goto done;
nomem:
	err = "certpinIssue: out of memory reading the CSR's key";
done:
	ERR_clear_error();
	EVP_PKEY_CTX_free( ctx );
	OSSL_PARAM_free( params );
	OSSL_PARAM_BLD_free( bld );
	BN_free( n );
	BN_free( e );
	return err;
}

void
certpin_csr_free( certpin_csr *cs )
{
	EVP_PKEY_free( cs->cs_pkey );
	memset( cs, 0, sizeof( *cs ) );
}

const char *
certpin_csr_check( const struct berval *csr, certpin_csr *cs, char *buf,
	size_t len )
{
	const unsigned char *p, *end, *req, *rend, *cri, *crip, *criend, *v, *ka,
		*sa, *sig;
	size_t n, kalen, salen, siglen, crilen;
	const char *err = NULL, *md = NULL;
	EVP_MD_CTX *mctx = NULL;
	char why[128];
	int i, rsa = 0;

	memset( cs, 0, sizeof( *cs ) );
	if ( csr->bv_val == NULL || csr->bv_len == 0 )
		return "certpinIssue: the CSR is empty";
	if ( csr->bv_len > CERTPIN_CSR_MAX ) {
		snprintf( buf, len, "certpinIssue: the CSR is larger than %d bytes",
			CERTPIN_CSR_MAX );
		return buf;
	}
	p = (const unsigned char *)csr->bv_val;
	end = p + csr->bv_len;
	/* CertificationRequest ::= SEQUENCE { certificationRequestInfo,
	 *	signatureAlgorithm AlgorithmIdentifier, signature BIT STRING } */
	if ( der_get( &p, end, 0x30, &req, &n ) )
		goto notcsr;
	if ( p != end ) {
		err = "certpinIssue: trailing bytes after the CSR";
		goto bad;
	}
	rend = req + n;
	cri = req;
	if ( der_get( &req, rend, 0x30, &crip, &n ) )
		goto notcsr;
	crilen = req - cri;
	criend = crip + n;
	if ( der_get( &req, rend, 0x30, &sa, &salen ) ||
	     der_get( &req, rend, 0x03, &sig, &siglen ) || req != rend ||
	     siglen < 2 || sig[0] != 0 )
		goto notcsr;
	sig++;
	siglen--;
	/* CertificationRequestInfo ::= SEQUENCE { version INTEGER (0),
	 *	subject Name, subjectPKInfo, attributes [0] } */
	if ( der_get( &crip, criend, 0x02, &v, &n ) || n != 1 || v[0] != 0 ||
	     der_get( &crip, criend, 0x30, &v, &n ) )	/* the subject: not used */
		goto notcsr;
	/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING } */
	if ( der_get( &crip, criend, 0x30, &v, &n ) )
		goto notcsr;
	{
		const unsigned char *q = v, *qend = v + n;

		if ( der_get( &q, qend, 0x30, &ka, &kalen ) ||
		     der_get( &q, qend, 0x03, &v, &n ) || q != qend || n < 2 || v[0] != 0 )
			goto notcsr;
		cs->cs_key = v + 1;
		cs->cs_key_len = n - 1;
	}
	if ( der_get( &crip, criend, 0xa0, &v, &n ) || crip != criend )
		goto notcsr;	/* the attributes: not used */

	/* the signature's algorithm */
	{
		const unsigned char *q = sa, *qend = sa + salen;

		if ( der_get( &q, qend, 0x06, &v, &n ) )
			goto notcsr;
		for ( i = 0; sigalgs[i].md; i++ )
			if ( n == sigalgs[i].len && memcmp( v, sigalgs[i].oid, n ) == 0 )
				break;
		/* (an unknown one is reported after the key's checks) */
		md = sigalgs[i].md;
		rsa = sigalgs[i].rsa;
		/* ECDSA: no parameters; RSA: NULL or none */
		if ( md && q != qend && ( !rsa || der_get( &q, qend, 0x05, &v, &n ) ||
				n != 0 || q != qend ) )
			goto notcsr;
	}

	if ( ( err = csr_key( cs, ka, kalen, buf, len ) ) ) {
		if ( strncmp( err, "certpinIssue: ", 14 ) != 0 ) {
			snprintf( buf, len, "certpinIssue: the CSR's public key cannot be "
				"read: %s", err );
			err = buf;
		}
		goto bad;
	}
	if ( certpin_key_kind( cs->cs_pkey, 1, why, sizeof( why ) ) ) {
		snprintf( buf, len, "certpinIssue: weak or unsupported key in the CSR: %s", why );
		err = buf;
		goto bad;
	}
	if ( md == NULL ) {
		err = "certpinIssue: the CSR is signed with an unsupported "
			"algorithm (ECDSA or RSA PKCS#1 v1.5 with SHA-256, -384 or "
			"-512 required)";
		goto bad;
	}
	if ( rsa != ( cs->cs_alg_nid == NID_rsaEncryption ) ) {
		err = "certpinIssue: the CSR's signature algorithm does not match its key";
		goto bad;
	}
	mctx = EVP_MD_CTX_new();
	if ( mctx == NULL ||
	     EVP_DigestVerifyInit_ex( mctx, NULL, md, NULL, NULL, cs->cs_pkey, NULL ) != 1 ||
	     EVP_DigestVerify( mctx, sig, siglen, cri, crilen ) != 1 ) {
		err = "certpinIssue: the CSR's signature does not verify";
		goto bad;
	}
	EVP_MD_CTX_free( mctx );
	return NULL;

notcsr:
	err = "certpinIssue: the CSR is not a DER PKCS#10 request";
bad:
	EVP_MD_CTX_free( mctx );
	ERR_clear_error();
	certpin_csr_free( cs );
	return err;
}
