/* fuzz-cfgval.c - libFuzzer target: the overlay's configuration values
 *
 * What slapo-certpin's ARG_MAGIC handlers decide about a directive's value
 * themselves (lib/cfgval.c; slapd parses the integers, DNs and attribute
 * names before): an integer directive's bounds, the PIN hash scheme, the CA
 * certificate file (PEM) and the CA key file (PEM).  The first input byte
 * chooses; the rest is the value.  Checked:
 *   - bounds: accepted exactly when lo <= v <= hi, else the message names
 *     the directive and the bounds;
 *   - scheme: accepted exactly when slapd knows it and it is neither
 *     {CLEARTEXT} nor {CRYPT} in any case; refused with the directive named;
 *   - CA certificate: accepted only a CA certificate, whose DER decodes
 *     and re-encodes to itself and which, written back as PEM, reads back
 *     as the same DER; refused with the file named and nothing returned;
 *   - CA key: accepted only a key certpin_key_kind() takes, which written
 *     back as PEM reads back as the same key; an encrypted key is refused
 *     without asking for a passphrase.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cfgval.h"
#include "provreq.h"
#include "fuzz.h"

static int32_t
fz_int( const uint8_t *p )
{
	return (int32_t)( (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24 );
}

static void
fz_range( const uint8_t *data, size_t size )
{
	char msg[256], want[256];
	int v, lo, hi, rc;

	if ( size < 13 )
		return;
	v = fz_int( data );
	lo = fz_int( data + 4 );
	hi = fz_int( data + 8 );
	msg[0] = '\0';
	rc = certpin_cfg_range( "certpinTest", v, lo, hi, data[12] & 1 ? "hours" : NULL,
		msg, sizeof( msg ) );
	FUZZ_ASSERT( rc == ( v >= lo && v <= hi ? 0 : -1 ) );
	if ( rc ) {
		snprintf( want, sizeof( want ), "<certpinTest> must be between %d and %d%s",
			lo, hi, data[12] & 1 ? " hours" : "" );
		FUZZ_ASSERT( strcmp( msg, want ) == 0 );
	}
}

static void
fz_scheme( const uint8_t *data, size_t size )
{
	char msg[256], *s;
	int known, rc;

	if ( size < 1 )
		return;
	known = data[0] & 1;
	s = strndup( (const char *)data + 1, size - 1 );
	FUZZ_ASSERT( s != NULL );
	msg[0] = '\0';
	rc = certpin_cfg_pin_scheme( "certpinPINHash", s, known, msg, sizeof( msg ) );
	FUZZ_ASSERT( rc == ( known && strcasecmp( s, "{CLEARTEXT}" ) != 0 &&
		strcasecmp( s, "{CRYPT}" ) != 0 ? 0 : -1 ) );
	if ( rc )
		FUZZ_ASSERT( strncmp( msg, "<certpinPINHash> ", 17 ) == 0 );
	free( s );
}

static void
fz_cert( const uint8_t *data, size_t size )
{
	BIO *bio = BIO_new_mem_buf( data, (int)size ), *out;
	X509 *x = NULL, *y = NULL, *z = NULL;
	unsigned char *der = NULL, *der2 = NULL, *re = NULL;
	const unsigned char *p;
	char msg[256];
	int n = -1, n2 = -1, rn, rc;

	FUZZ_ASSERT( bio != NULL );
	msg[0] = '\0';
	rc = certpin_ca_cert_read( bio, "ca.pem", &x, &der, &n, msg, sizeof( msg ) );
	BIO_free( bio );
	FUZZ_ASSERT( ERR_peek_error() == 0 );
	if ( rc ) {
		FUZZ_ASSERT( rc == -1 && x == NULL && der == NULL && strstr( msg, "\"ca.pem\"" ) );
		return;
	}
	FUZZ_ASSERT( x != NULL && der != NULL && n > 0 && X509_check_ca( x ) >= 1 );
	/* the DER decodes to a certificate that encodes to the same bytes */
	p = der;
	y = d2i_X509( NULL, &p, n );
	FUZZ_ASSERT( y != NULL && p == der + n );
	rn = i2d_X509( y, &re );
	FUZZ_ASSERT( rn == n && memcmp( re, der, n ) == 0 );
	/* written back as PEM, it reads back the same */
	out = BIO_new( BIO_s_mem() );
	FUZZ_ASSERT( out != NULL && PEM_write_bio_X509( out, x ) == 1 );
	FUZZ_ASSERT( certpin_ca_cert_read( out, "again.pem", &z, &der2, &n2, msg,
		sizeof( msg ) ) == 0 );
	FUZZ_ASSERT( n2 == n && memcmp( der2, der, n ) == 0 );
	BIO_free( out );
	OPENSSL_free( re );
	OPENSSL_free( der );
	OPENSSL_free( der2 );
	X509_free( x );
	X509_free( y );
	X509_free( z );
}

static void
fz_key( const uint8_t *data, size_t size )
{
	BIO *bio = BIO_new_mem_buf( data, (int)size ), *out;
	EVP_PKEY *k = NULL, *k2 = NULL;
	char msg[256], why[128];
	int rc;

	FUZZ_ASSERT( bio != NULL );
	msg[0] = '\0';
	rc = certpin_ca_key_read( bio, "ca.key", &k, msg, sizeof( msg ) );
	BIO_free( bio );
	FUZZ_ASSERT( ERR_peek_error() == 0 );
	if ( rc ) {
		FUZZ_ASSERT( rc == -1 && k == NULL && strstr( msg, "\"ca.key\"" ) );
		return;
	}
	FUZZ_ASSERT( k != NULL && certpin_key_kind( k, 1, why, sizeof( why ) ) == NULL );
	out = BIO_new( BIO_s_mem() );
	FUZZ_ASSERT( out != NULL &&
		PEM_write_bio_PrivateKey( out, k, NULL, NULL, 0, NULL, NULL ) == 1 );
	FUZZ_ASSERT( certpin_ca_key_read( out, "again.key", &k2, msg, sizeof( msg ) ) == 0 );
	FUZZ_ASSERT( EVP_PKEY_eq( k, k2 ) == 1 );
	BIO_free( out );
	EVP_PKEY_free( k );
	EVP_PKEY_free( k2 );
}

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	if ( size == 0 )
		return 0;
	switch ( data[0] % 4 ) {
	case 0: fz_range( data + 1, size - 1 ); break;
	case 1: fz_scheme( data + 1, size - 1 ); break;
	case 2: fz_cert( data + 1, size - 1 ); break;
	case 3: fz_key( data + 1, size - 1 ); break;
	}
	ERR_clear_error();
	return 0;
}
