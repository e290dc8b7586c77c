/* provclient-t.c - unit tests of tools/provclient.c's pure helpers (TAP):
 * the request/response encodings byte for byte, key kinds, requests,
 * output files and secret files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "provclient.h"
#include "tap.h"

static int
bv_is( const struct berval *bv, const unsigned char *want, size_t len )
{
	return bv->bv_val != NULL && bv->bv_len == len &&
		memcmp( bv->bv_val, want, len ) == 0;
}

static void
t_encode( void )
{
	certpin_issue_req req;
	struct berval out;
	static const unsigned char min[] = { 0x30, 0x05, 0x04, 0x03, 'a', 'b', 'c' };
	static const unsigned char all[] = {
		0x30, 0x25,
		0x04, 0x03, 'a', 'b', 'c',
		0x80, 0x05, 'u', 'i', 'd', '=', 'k',
		0x81, 0x04, '+', '1', '2', '3',
		0x82, 0x04, '1', '2', '3', '4',
		0x83, 0x02, 0x10, 0xe0,
		0x84, 0x07, 'p', 'h', 'o', 'n', 'e', '-', '1'
	};

	memset( &req, 0, sizeof( req ) );
	req.ir_csr.bv_val = "abc";
	req.ir_csr.bv_len = 3;
	is_true( certpin_issue_encode( &req, &out ) == 0 &&
		bv_is( &out, min, sizeof( min ) ),
		"request with only a CSR: SEQUENCE { OCTET STRING }" );
	ber_memfree( out.bv_val );

	req.ir_identity = "uid=k";
	req.ir_phone = "+123";
	req.ir_pin.bv_val = "1234";
	req.ir_pin.bv_len = 4;
	req.ir_validity = 4320;
	req.ir_endpoint = "phone-1";
	is_true( certpin_issue_encode( &req, &out ) == 0 &&
		bv_is( &out, all, sizeof( all ) ),
		"request with every field: tags [0]..[4] context-specific primitive" );
	ber_memfree( out.bv_val );
}

static void
t_decode( void )
{
	static const unsigned char good[] = {
		0x30, 0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x02, 0x03, 0x04 };
	static const unsigned char more[] = {
		0x30, 0x0b, 0x04, 0x02, 0x01, 0x02, 0x04, 0x02, 0x03, 0x04,
		0x85, 0x01, 0x00 };
	static const unsigned char empty[] = {
		0x30, 0x06, 0x04, 0x00, 0x04, 0x02, 0x03, 0x04 };
	static const unsigned char trunc[] = { 0x30, 0x08, 0x04, 0x02, 0x01 };
	static const unsigned char c12[] = { 0x01, 0x02 }, c34[] = { 0x03, 0x04 };
	struct berval in, cert, ca;

	in.bv_val = (char *)good;
	in.bv_len = sizeof( good );
	is_true( certpin_issue_decode( &in, &cert, &ca ) == 0 &&
		bv_is( &cert, c12, 2 ) && bv_is( &ca, c34, 2 ),
		"response decodes into certificate and CA certificate" );
	ber_memfree( cert.bv_val );
	ber_memfree( ca.bv_val );

	in.bv_val = (char *)more;
	in.bv_len = sizeof( more );
	is_true( certpin_issue_decode( &in, &cert, &ca ) == 0 &&
		bv_is( &cert, c12, 2 ) && bv_is( &ca, c34, 2 ),
		"response with a later field still decodes" );
	ber_memfree( cert.bv_val );
	ber_memfree( ca.bv_val );

	in.bv_val = (char *)empty;
	in.bv_len = sizeof( empty );
	is_true( certpin_issue_decode( &in, &cert, &ca ) == -1 &&
		cert.bv_val == NULL && ca.bv_val == NULL,
		"response with an empty certificate is refused" );
	in.bv_val = (char *)trunc;
	in.bv_len = sizeof( trunc );
	is_true( certpin_issue_decode( &in, &cert, &ca ) == -1,
		"truncated response is refused" );
	is_true( certpin_issue_decode( NULL, &cert, &ca ) == -1,
		"absent response value is refused" );
}

static void
t_keys( const char *dir )
{
	certpin_keyspec ks;
	char err[256], path[512];
	struct berval csr, der;
	const unsigned char *p;
	X509_REQ *req;
	EVP_PKEY *key, *other;
	X509 *x;
	FILE *f;

	is_true( certpin_keyspec_parse( "ec", &ks, err, sizeof( err ) ) == 0 &&
		ks.ks_kind == CERTPIN_KEY_EC, "-k ec is ECDSA P-256" );
	is_true( certpin_keyspec_parse( NULL, &ks, err, sizeof( err ) ) == 0 &&
		ks.ks_kind == CERTPIN_KEY_EC, "default key kind is ECDSA P-256" );
	is_true( certpin_keyspec_parse( "rsa", &ks, err, sizeof( err ) ) == 0 &&
		ks.ks_kind == CERTPIN_KEY_RSA && ks.ks_bits == 2048, "-k rsa is RSA 2048" );
	is_true( certpin_keyspec_parse( "rsa:3072", &ks, err, sizeof( err ) ) == 0 &&
		ks.ks_bits == 3072, "-k rsa:3072" );
	is_true( certpin_keyspec_parse( "rsa:1024", &ks, err, sizeof( err ) ) == -1 &&
		strstr( err, "2048" ) != NULL, "-k rsa:1024 refused, saying the minimum" );
	is_true( certpin_keyspec_parse( "rsa:20x", &ks, err, sizeof( err ) ) == -1,
		"-k rsa:20x refused" );
	is_true( certpin_keyspec_parse( "dsa", &ks, err, sizeof( err ) ) == -1 &&
		strstr( err, "dsa" ) != NULL, "-k dsa refused" );

	certpin_keyspec_parse( "ec", &ks, err, sizeof( err ) );
	key = certpin_key_generate( &ks, err, sizeof( err ) );
	is_true( key != NULL && EVP_PKEY_is_a( key, "EC" ) && EVP_PKEY_get_bits( key ) == 256,
		"EC key generated on P-256" );
	is_true( certpin_csr_make( key, "kenmyer", &csr, err, sizeof( err ) ) == 0,
		"CSR made" );
	p = (const unsigned char *)csr.bv_val;
	req = d2i_X509_REQ( NULL, &p, (long)csr.bv_len );
	is_true( req != NULL && X509_REQ_verify( req, key ) == 1,
		"CSR parses and its signature verifies" );

	/* the CSR read back from PEM and from DER */
	snprintf( path, sizeof( path ), "%s/req.pem", dir );
	f = fopen( path, "w" );
	PEM_write_X509_REQ( f, req );
	fclose( f );
	is_true( certpin_csr_read( path, &der, err, sizeof( err ) ) == 0 &&
		der.bv_len == csr.bv_len && !memcmp( der.bv_val, csr.bv_val, csr.bv_len ),
		"PEM CSR read as the same DER" );
	free( der.bv_val );
	snprintf( path, sizeof( path ), "%s/req.der", dir );
	f = fopen( path, "w" );
	fwrite( csr.bv_val, 1, csr.bv_len, f );
	fclose( f );
	is_true( certpin_csr_read( path, &der, err, sizeof( err ) ) == 0 &&
		der.bv_len == csr.bv_len, "DER CSR read" );
	free( der.bv_val );
	/* a flipped bit in the signature */
	csr.bv_val[csr.bv_len - 3] ^= 1;
	f = fopen( path, "w" );
	fwrite( csr.bv_val, 1, csr.bv_len, f );
	fclose( f );
	is_true( certpin_csr_read( path, &der, err, sizeof( err ) ) == -1 &&
		strstr( err, "signature" ) != NULL, "CSR with a bad signature refused" );
	f = fopen( path, "w" );
	fputs( "garbage\n", f );
	fclose( f );
	is_true( certpin_csr_read( path, &der, err, sizeof( err ) ) == -1,
		"garbage CSR file refused" );
	free( csr.bv_val );

	/* a self-signed certificate for the key match check */
	x = X509_new();
	X509_set_version( x, 2 );
	ASN1_INTEGER_set( X509_get_serialNumber( x ), 1 );
	X509_gmtime_adj( X509_getm_notBefore( x ), 0 );
	X509_gmtime_adj( X509_getm_notAfter( x ), 3600 );
	X509_set_subject_name( x, X509_REQ_get_subject_name( req ) );
	X509_set_issuer_name( x, X509_REQ_get_subject_name( req ) );
	X509_set_pubkey( x, key );
	X509_sign( x, key, EVP_sha256() );
	der.bv_len = i2d_X509( x, NULL );
	der.bv_val = malloc( der.bv_len );
	{
		unsigned char *q = (unsigned char *)der.bv_val;
		i2d_X509( x, &q );
	}
	other = certpin_key_generate( &ks, err, sizeof( err ) );
	is_true( certpin_key_matches_cert( key, &der ) == 1, "key matches its certificate" );
	is_true( certpin_key_matches_cert( other, &der ) == 0,
		"another key does not match the certificate" );
	X509_free( x );
	X509_REQ_free( req );

	/* output files */
	{
		certpin_out o;
		struct stat st;
		struct berval back;
		EVP_PKEY *k2;

		snprintf( path, sizeof( path ), "%s/dev.key", dir );
		umask( 0 );
		is_true( certpin_out_open( &o, path, 0600, 0, err, sizeof( err ) ) == 0 &&
			certpin_out_key( &o, key, err, sizeof( err ) ) == 0 &&
			certpin_out_commit( &o, err, sizeof( err ) ) == 0,
			"key file written" );
		is_true( stat( path, &st ) == 0 && ( st.st_mode & 07777 ) == 0600,
			"key file has mode 0600 even with umask 0" );
		k2 = certpin_key_read( path, err, sizeof( err ) );
		is_true( k2 != NULL && EVP_PKEY_eq( k2, key ) == 1, "key file reads back" );
		EVP_PKEY_free( k2 );
		is_true( certpin_out_open( &o, path, 0600, 0, err, sizeof( err ) ) == -1 &&
			strstr( err, "exists" ) != NULL, "existing file refused without force" );
		is_true( stat( path, &st ) == 0 && st.st_size > 0, "refused file untouched" );

		snprintf( path, sizeof( path ), "%s/dev.crt", dir );
		is_true( certpin_out_open( &o, path, 0644, 0, err, sizeof( err ) ) == 0 &&
			certpin_out_cert( &o, &der, err, sizeof( err ) ) == 0 &&
			certpin_out_commit( &o, err, sizeof( err ) ) == 0 &&
			stat( path, &st ) == 0 && ( st.st_mode & 07777 ) == 0644,
			"certificate file written 0644" );
		is_true( certpin_cert_read( path, &back, err, sizeof( err ) ) == 0 &&
			back.bv_len == der.bv_len && !memcmp( back.bv_val, der.bv_val, der.bv_len ),
			"certificate PEM reads back as the same DER" );
		free( back.bv_val );
		is_true( certpin_out_open( &o, path, 0644, 1, err, sizeof( err ) ) == 0 &&
			certpin_out_cert( &o, &der, err, sizeof( err ) ) == 0 &&
			certpin_out_commit( &o, err, sizeof( err ) ) == 0,
			"force replaces an existing file" );
		is_true( certpin_out_open( &o, path, 0644, 1, err, sizeof( err ) ) == 0, "force reserve" );
		certpin_out_abort( &o );
		is_true( stat( path, &st ) == 0 && st.st_size > 0,
			"abort with force leaves the existing file" );
		snprintf( path, sizeof( path ), "%s/new.crt", dir );
		is_true( certpin_out_open( &o, path, 0644, 0, err, sizeof( err ) ) == 0, "reserve" );
		certpin_out_abort( &o );
		is_true( stat( path, &st ) == -1, "abort removes a file it created" );
		umask( 022 );
	}
	free( der.bv_val );
	EVP_PKEY_free( key );
	EVP_PKEY_free( other );

	certpin_keyspec_parse( "rsa", &ks, err, sizeof( err ) );
	key = certpin_key_generate( &ks, err, sizeof( err ) );
	is_true( key != NULL && EVP_PKEY_is_a( key, "RSA" ) && EVP_PKEY_get_bits( key ) == 2048,
		"RSA 2048 key generated" );
	is_true( certpin_csr_make( key, NULL, &csr, err, sizeof( err ) ) == 0, "RSA CSR made" );
	free( csr.bv_val );
	EVP_PKEY_free( key );
}

static void
t_secret( const char *dir )
{
	char path[512], err[256];
	struct berval s;
	FILE *f;

	snprintf( path, sizeof( path ), "%s/pin", dir );
#define PUT( content ) do { \
	f = fopen( path, "w" ); fputs( content, f ); fclose( f ); chmod( path, 0600 ); \
} while ( 0 )
#define SECRET( content, want, desc ) do { \
	PUT( content ); \
	is_true( certpin_secret_file( path, &s, err, sizeof( err ) ) == 0 && \
		s.bv_len == strlen( want ) && !memcmp( s.bv_val, want, s.bv_len ), desc ); \
	certpin_secret_free( &s ); \
} while ( 0 )
#define NOSECRET( content, desc ) do { \
	PUT( content ); \
	is_true( certpin_secret_file( path, &s, err, sizeof( err ) ) == -1, desc ); \
} while ( 0 )
	SECRET( "1234", "1234", "PIN file without newline" );
	SECRET( "1234\n", "1234", "PIN file: one trailing newline dropped" );
	SECRET( "1234\r\n", "1234", "PIN file: CRLF dropped" );
	SECRET( " 12 34 ", " 12 34 ", "PIN file: spaces kept" );
	NOSECRET( "", "empty PIN file refused" );
	NOSECRET( "\n", "PIN file with only a newline refused" );
	NOSECRET( "1234\n5678\n", "PIN file with two lines refused" );
	PUT( "pw-kenmyer\n" );
	is_true( certpin_secret_read( path, 0, &s, err, sizeof( err ) ) == 0 &&
		s.bv_len == 11 && !memcmp( s.bv_val, "pw-kenmyer\n", 11 ),
		"password file (chomp 0, as ldapsearch -y): the whole content" );
	certpin_secret_free( &s );
	is_true( certpin_secret_file( "/nonexistent/pin", &s, err, sizeof( err ) ) == -1 &&
		strstr( err, "/nonexistent/pin" ) != NULL, "missing PIN file named in the error" );
	{
		/* the limits: CERTPIN_SECRET_MAX bytes, nothing of a longer
		 * file cut off and used (fuzz/regress/secret-file) */
		char big[CERTPIN_SECRET_MAX + 16];

		memset( big, 'a', CERTPIN_SECRET_MAX );
		strcpy( big + CERTPIN_SECRET_MAX, "\r\n" );
		PUT( big );
		is_true( certpin_secret_file( path, &s, err, sizeof( err ) ) == 0 &&
			s.bv_len == CERTPIN_SECRET_MAX, "PIN file of the largest size and CRLF" );
		certpin_secret_free( &s );
		strcpy( big + CERTPIN_SECRET_MAX, "\nmore" );
		NOSECRET( big, "PIN file of the largest size, a newline and more refused" );
		big[CERTPIN_SECRET_MAX] = 'a';
		big[CERTPIN_SECRET_MAX + 1] = '\0';
		PUT( big );
		is_true( certpin_secret_read( path, 0, &s, err, sizeof( err ) ) == -1 &&
			strstr( err, "longer than" ) != NULL,
			"password file (-y) longer than the largest size refused, not cut" );
		PUT( "" );
		is_true( certpin_secret_read( path, 0, &s, err, sizeof( err ) ) == -1 &&
			strstr( err, "empty" ) != NULL, "empty password file (-y) refused" );
	}
}

int
main( void )
{
	char dir[] = "/tmp/provclient-t.XXXXXX";
	char cmd[64];

	if ( mkdtemp( dir ) == NULL ) {
		printf( "Bail out! mkdtemp\n" );
		return 1;
	}
	t_encode();
	t_decode();
	t_keys( dir );
	t_secret( dir );
	snprintf( cmd, sizeof( cmd ), "rm -rf %s", dir );
	if ( system( cmd ) ) {
		/* left behind in /tmp */
	}
	return tap_done();
}
