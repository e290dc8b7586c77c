/* certinfo-t.c - unit tests of lib/certinfo.c (TAP) */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certinfo.h"
#include "tap.h"

/* A real certificate made here: EC P-256, serial 0x0A1B, known names/dates. */
static int
make_cert( unsigned char **der )
{
	EVP_PKEY *k = EVP_EC_gen( "P-256" );
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	int len;

	ASN1_INTEGER_set( sn, 0x0A1B );
	X509_set_version( x, 2 );
	X509_set_serialNumber( x, sn );
	X509_NAME_add_entry_by_txt( n, "O", MBSTRING_ASC, (unsigned char *)"Test $ Org", -1, -1, 0 );
	X509_NAME_add_entry_by_txt( n, "CN", MBSTRING_ASC, (unsigned char *)"kenmyer", -1, -1, 0 );
	X509_set_subject_name( x, n );
	X509_set_issuer_name( x, n );
	ASN1_TIME_set_string( X509_getm_notBefore( x ), "20250101000000Z" );
	ASN1_TIME_set_string( X509_getm_notAfter( x ), "20351231235959Z" );
	X509_set_pubkey( x, k );
	X509_sign( x, k, EVP_sha256() );
	*der = NULL;
	len = i2d_X509( x, der );
	X509_free( x );
	X509_NAME_free( n );
	ASN1_INTEGER_free( sn );
	EVP_PKEY_free( k );
	return len;
}

int
main( void )
{
	unsigned char *der, *big;
	int len;
	certpin_certinfo ci, back;
	char err[200], out[300], iso[CERTPIN_ISOTIME_LEN + 1], hex[65];
	char *rec = NULL;
	size_t rlen = 0;
	time_t t;

	len = make_cert( &der );
	is_true( len > 0, "test certificate made" );
	is_true( certpin_certinfo_from_der( der, len, &ci, err, sizeof( err ) ) == 0,
		"well-formed DER parses" );
	certpin_sha256_hex( der, len, hex );
	is_str( ci.ci_sha256, hex, "sha256 thumbprint is the digest of the DER" );
	is_true( certpin_is_sha256_hex( ci.ci_sha256, strlen( ci.ci_sha256 ) ), "thumbprint is lowercase hex" );
	is_true( strlen( ci.ci_sha1 ) == 40, "sha1 thumbprint has 40 digits" );
	is_str( ci.ci_serial, "0A1B", "serial in uppercase hex" );
	is_str( ci.ci_notbefore, "20250101000000Z", "notBefore" );
	is_str( ci.ci_notafter, "20351231235959Z", "notAfter" );
	is_str( ci.ci_subject, "CN=kenmyer,O=Test $ Org", "subject in RFC 4514 order" );

	strcpy( ci.ci_published, "20261122070000Z" );
	ci.ci_endpoint = strdup( "desk\\phone$1" );
	rec = certpin_certinfo_format( &ci );
	if ( rec == NULL ) {
		printf( "Bail out! certpin_certinfo_format returned NULL\n" );
		return 1;
	}
	is_true( strncmp( rec, "sha256=", 7 ) == 0, "record starts with sha256" );
	is_true( strstr( rec, "endpoint=desk\\5cphone\\241" ) != NULL, "$ and \\ escaped in records" );
	is_true( certpin_certinfo_parse( rec, strlen( rec ), &back ) == 0, "record parses back" );
	is_str( back.ci_subject, ci.ci_subject, "subject survives the round trip" );
	is_str( back.ci_endpoint, "desk\\phone$1", "endpoint survives the round trip" );
	is_str( back.ci_serial, "0A1B", "serial survives the round trip" );
	is_true( back.ci_notafter_t == ci.ci_notafter_t, "expiry survives the round trip" );
	certpin_certinfo_free( &back );
	free( rec );
	certpin_certinfo_free( &ci );

	/* refusals */
	is_true( certpin_certinfo_from_der( der, len - 1, &ci, err, sizeof( err ) ) == -1,
		"truncated DER refused" );
	big = malloc( len + 1 );
	memcpy( big, der, len );
	big[len] = 0;
	is_true( certpin_certinfo_from_der( big, len + 1, &ci, err, sizeof( err ) ) == -1 &&
		strstr( err, "trailing" ) != NULL, "trailing byte refused" );
	is_true( certpin_certinfo_from_der( (unsigned char *)"-----BEGIN CERTIFICATE-----", 27,
		&ci, err, sizeof( err ) ) == -1 && strstr( err, "PEM" ) != NULL, "PEM text refused" );
	is_true( certpin_certinfo_from_der( der, 0, &ci, err, sizeof( err ) ) == -1, "empty refused" );
	is_true( certpin_certinfo_from_der( der, CERTPIN_MAX_DER + 1, &ci, err, sizeof( err ) ) == -1,
		"oversized refused" );
	free( big );
	free( der );

	/* record fields */
	rec = NULL;
	rlen = 0;
	certpin_rec_add( &rec, &rlen, "a", "x$y" );
	certpin_rec_add( &rec, &rlen, "b", "" );
	is_str( rec, "a=x\\24y$b=", "record with escaped value" );
	is_true( certpin_rec_get( rec, rlen, "a", out, sizeof( out ) ) == 3 && strcmp( out, "x$y" ) == 0,
		"field read back unescaped" );
	is_true( certpin_rec_get( rec, rlen, "b", out, sizeof( out ) ) == 0, "empty field read back" );
	is_true( certpin_rec_get( rec, rlen, "c", out, sizeof( out ) ) == -1, "absent field" );
	is_true( certpin_rec_get( "a=x\\2", 5, "a", out, sizeof( out ) ) == -1, "truncated escape refused" );
	is_true( certpin_rec_get( "a=x\\zz", 6, "a", out, sizeof( out ) ) == -1, "bad escape refused" );
	is_true( certpin_rec_get( rec, rlen, "a", out, 3 ) == -1, "too long for the buffer" );
	free( rec );

	/* times */
	is_true( certpin_gentime_parse( "20261122070000Z", &t ) == 0 && t == 1795330800,
		"GeneralizedTime parsed as UTC" );
	is_true( certpin_gentime_iso( "20261122070000Z", iso ) == 0 &&
		strcmp( iso, "2026-11-22T07:00:00Z" ) == 0, "ISO 8601" );
	is_true( certpin_gentime_parse( "20261322070000Z", &t ) == -1, "month 13 refused" );
	is_true( certpin_gentime_parse( "20250229000000Z", &t ) == -1, "Feb 29 of a common year refused" );
	is_true( certpin_date_parse( "2018-09-05", &t ) == 0 && t == 1536105600, "date only" );
	is_true( certpin_date_parse( "2018-09-05T12:30Z", &t ) == 0 && t == 1536150600, "date and minutes" );
	is_true( certpin_date_parse( "2018-09-05 12:30:15", &t ) == 0 && t == 1536150615, "date and seconds" );
	is_true( certpin_date_parse( "9/5/2018", &t ) == -1, "US date refused" );
	is_true( certpin_date_parse( "2018-09-05T12:30+02", &t ) == -1, "offsets refused" );
	is_true( certpin_date_parse( "", &t ) == -1, "empty date refused" );
	return tap_done();
}
