/* gen-users.c - benchmark data for certpin: N users, 2 certificates each
 *
 * Writes an LDIF of N user entries with AD-style identity attributes and two
 * recorded client certificates each, WITH the metadata attributes exactly as
 * the certpin overlay writes them (certpinThumbprint, certpinCertInfo built
 * by lib/certinfo.c, the same code the overlay runs), so that slapadd can
 * load the data into a server with or without the module.
 *
 * Fast on purpose: one client key is reused for every certificate; each
 * certificate has its own serial number and is signed with the CA's key.
 * The certificates of a sample of users (spread evenly across the
 * directory) are also written as PEM files, for the load generator.
 *
 * usage: gen-users -n N -C ca.crt -K ca.key -o DIR [-s SAMPLES] [-m OC]
 *   DIR/users.ldif      the entries (base entries included)
 *   DIR/client.key      the key shared by every certificate (PEM)
 *   DIR/certs/UID-K.pem   certificates of the sample users
 *   DIR/sample.lst      one line per sample user: "DN cert0.pem cert1.pem"
 *   -m OC               also write msRTCSIP-PrimaryUserAddress,
 *                       userPrincipalName and sAMAccountName with the
 *                       auxiliary object class OC that allows them
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certinfo.h"

#define SUFFIX	"dc=example,dc=com"
#define PEOPLE	"ou=people," SUFFIX

static const char *given[] = {
	"Ken", "Pilar", "John", "Maria", "Ahmed", "Yuki", "Olga", "Pedro", "Anna",
	"Li", "Fatima", "Lars", "Chloe", "Rahul", "Sofia", "Tomasz", "Aisha",
	"Mateo", "Ingrid", "Kwame", "Elena", "Hiro", "Nadia", "Oscar", "Priya",
	"Sven", "Leila", "Diego", "Mei", "Ivan", "Zara", "Noah", "Emma", "Liam",
	"Olivia", "Lucas", "Mia", "Arjun", "Sara", "Felix", "Hana", "Jonas",
	"Amara", "Marco", "Ines", "Kofi", "Lena", "Rafael", "Yara", "Erik"
};
static const char *syl[] = {
	"ac", "ber", "cor", "dan", "el", "fer", "gar", "hol", "in", "jen",
	"kar", "lin", "mor", "nel", "or", "par", "quin", "ros", "sten", "tor",
	"ul", "val", "wen", "xan", "yer", "zel", "bri", "dal", "mon", "sa"
};
#define NGIVEN	( sizeof( given ) / sizeof( given[0] ) )
#define NSYL	( sizeof( syl ) / sizeof( syl[0] ) )

static void
die( const char *what )
{
	fprintf( stderr, "gen-users: %s\n", what );
	exit( 1 );
}

static EVP_PKEY *
read_key( const char *file )
{
	FILE *f = fopen( file, "r" );
	EVP_PKEY *k;

	if ( f == NULL ) {
		perror( file );
		exit( 1 );
	}
	k = PEM_read_PrivateKey( f, NULL, NULL, NULL );
	fclose( f );
	if ( k == NULL )
		die( "cannot read the CA key" );
	return k;
}

static X509 *
read_cert( const char *file )
{
	FILE *f = fopen( file, "r" );
	X509 *x;

	if ( f == NULL ) {
		perror( file );
		exit( 1 );
	}
	x = PEM_read_X509( f, NULL, NULL, NULL );
	fclose( f );
	if ( x == NULL )
		die( "cannot read the CA certificate" );
	return x;
}

/* A distinct surname for every index below NSYL^3 (27,000), then numbered. */
static void
surname( long i, char *out, size_t len )
{
	long a = i % NSYL, b = ( i / NSYL ) % NSYL, c = ( i / NSYL / NSYL ) % NSYL;

	snprintf( out, len, "%s%s%s", syl[c], syl[b], syl[a] );
	out[0] = out[0] - 'a' + 'A';
}

static void
ldif_b64( FILE *out, const char *attr, const unsigned char *buf, int len )
{
	static unsigned char *b64;
	static int b64len;
	int need = 4 * ( ( len + 2 ) / 3 ) + 1;

	if ( need > b64len ) {
		b64 = realloc( b64, need );
		if ( b64 == NULL )
			die( "out of memory" );
		b64len = need;
	}
	EVP_EncodeBlock( b64, buf, len );
	fprintf( out, "%s:: %s\n", attr, b64 );
}

/* Make and sign one client certificate for CN=uid.  One X509 object is
 * reused for every certificate: setting the public key is by far the most
 * expensive step with OpenSSL 3 (it goes through the provider encoders), so
 * it is done once; serial and subject change, the signature is redone. */
static X509 *
make_cert( const char *uid, unsigned char serial[16], X509 *ca, EVP_PKEY *cakey,
	EVP_PKEY *key, time_t now )
{
	static X509 *x;
	static EVP_MD *md;
	X509_NAME *name = X509_NAME_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	BIGNUM *bn = BN_bin2bn( serial, 16, NULL );
	static const char *exts[][2] = {
		{ "basicConstraints", "CA:FALSE" },
		{ "keyUsage", "critical,digitalSignature" },
		{ "extendedKeyUsage", "clientAuth" },
		{ NULL, NULL }
	};
	int i;

	if ( name == NULL || sn == NULL || bn == NULL )
		die( "out of memory" );
	if ( x == NULL ) {
		X509V3_CTX ctx;
		X509_EXTENSION *ext;

		if ( ( x = X509_new() ) == NULL ||
		     ( md = EVP_MD_fetch( NULL, "SHA256", NULL ) ) == NULL )
			die( "out of memory" );
		X509_set_version( x, 2 );
		X509_set_issuer_name( x, X509_get_subject_name( ca ) );
		X509_time_adj_ex( X509_getm_notBefore( x ), 0, -3600, &now );
		X509_time_adj_ex( X509_getm_notAfter( x ), 365, 0, &now );
		X509_set_pubkey( x, key );
		X509V3_set_ctx( &ctx, ca, x, NULL, NULL, 0 );
		for ( i = 0; exts[i][0]; i++ ) {
			ext = X509V3_EXT_conf( NULL, &ctx, exts[i][0], exts[i][1] );
			if ( ext == NULL )
				die( "cannot make an extension" );
			X509_add_ext( x, ext, -1 );
			X509_EXTENSION_free( ext );
		}
	}
	BN_to_ASN1_INTEGER( bn, sn );
	X509_set_serialNumber( x, sn );
	X509_NAME_add_entry_by_txt( name, "CN", MBSTRING_UTF8,
		(const unsigned char *)uid, -1, -1, 0 );
	X509_set_subject_name( x, name );
	if ( X509_sign( x, cakey, md ) <= 0 )
		die( "cannot sign a certificate" );
	X509_NAME_free( name );
	ASN1_INTEGER_free( sn );
	BN_free( bn );
	return x;
}

static void
write_pem( const char *file, X509 *x )
{
	FILE *f = fopen( file, "w" );

	if ( f == NULL || !PEM_write_X509( f, x ) || fclose( f ) ) {
		perror( file );
		exit( 1 );
	}
}

int
main( int argc, char **argv )
{
	long n = 0, i, nsample = 1000, stride;
	const char *cacrt = NULL, *cakey_file = NULL, *dir = NULL, *msoc = NULL;
	char path[4096], sn[64], cn[128], when[CERTPIN_GENTIME_LEN + 1], err[200];
	EVP_PKEY *cakey, *key;
	X509 *ca;
	FILE *ldif, *lst;
	unsigned char serial[16];
	time_t now = time( NULL );
	int opt, k;

	while ( ( opt = getopt( argc, argv, "n:C:K:o:s:m:" ) ) != -1 ) {
		switch ( opt ) {
		case 'n': n = atol( optarg ); break;
		case 'C': cacrt = optarg; break;
		case 'K': cakey_file = optarg; break;
		case 'o': dir = optarg; break;
		case 's': nsample = atol( optarg ); break;
		case 'm': msoc = optarg; break;
		default: die( "usage: gen-users -n N -C ca.crt -K ca.key -o DIR [-s SAMPLES] [-m OC]" );
		}
	}
	if ( n < 1 || n > 10000000 || !cacrt || !cakey_file || !dir || nsample < 1 )
		die( "usage: gen-users -n N -C ca.crt -K ca.key -o DIR [-s SAMPLES] [-m OC]" );
	if ( nsample > n )
		nsample = n;
	stride = n / nsample;

	ca = read_cert( cacrt );
	cakey = read_key( cakey_file );
	key = EVP_EC_gen( "P-256" );
	if ( key == NULL )
		die( "cannot make the client key" );
	snprintf( path, sizeof( path ), "%s/client.key", dir );
	{
		FILE *f;
		int fd = open( path, O_WRONLY | O_CREAT | O_TRUNC, 0600 );

		if ( fd < 0 || ( f = fdopen( fd, "w" ) ) == NULL ||
		     !PEM_write_PrivateKey( f, key, NULL, NULL, 0, NULL, NULL ) || fclose( f ) ) {
			perror( path );
			return 1;
		}
	}
	snprintf( path, sizeof( path ), "%s/certs", dir );
	if ( mkdir( path, 0755 ) && errno != EEXIST ) {
		perror( path );
		return 1;
	}
	snprintf( path, sizeof( path ), "%s/users.ldif", dir );
	ldif = fopen( path, "w" );
	snprintf( path, sizeof( path ), "%s/sample.lst", dir );
	lst = fopen( path, "w" );
	if ( ldif == NULL || lst == NULL )
		die( "cannot write the output files" );
	setvbuf( ldif, NULL, _IOFBF, 1 << 20 );

	fprintf( ldif, "dn: " SUFFIX "\nobjectClass: dcObject\nobjectClass: organization\n"
		"dc: example\no: Example\n\n"
		"dn: " PEOPLE "\nobjectClass: organizationalUnit\nou: people\n\n" );

	/* Serials: 8 random bytes for this run, then the certificate number. */
	if ( RAND_bytes( serial, 8 ) != 1 )
		die( "no randomness" );
	serial[0] &= 0x7f;
	serial[0] |= 0x40;
	certpin_gentime( now, when );

	for ( i = 0; i < n; i++ ) {
		char uid[32];
		int sample = ( i % stride ) == 0 && i / stride < nsample;

		snprintf( uid, sizeof( uid ), "u%07ld", i );
		surname( i / NGIVEN, sn, sizeof( sn ) );
		snprintf( cn, sizeof( cn ), "%s %s", given[i % NGIVEN], sn );
		if ( i / NGIVEN >= NSYL * NSYL * NSYL )
			snprintf( cn, sizeof( cn ), "%s %s %ld", given[i % NGIVEN], sn, i );
		fprintf( ldif, "dn: uid=%s," PEOPLE "\n"
			"objectClass: inetOrgPerson\nobjectClass: certpinUser\n", uid );
		if ( msoc )
			fprintf( ldif, "objectClass: %s\n", msoc );
		fprintf( ldif, "uid: %s\ncn: %s\nsn: %s\ngivenName: %s\ndisplayName: %s\n"
			"mail: %s@example.com\nuserPassword: pw-%s\n",
			uid, cn, sn, given[i % NGIVEN], cn, uid, uid );
		if ( msoc )
			fprintf( ldif, "msRTCSIP-PrimaryUserAddress: sip:%s@example.com\n"
				"userPrincipalName: %s@example.com\nsAMAccountName: %s\n",
				uid, uid, uid );
		if ( sample )
			fprintf( lst, "uid=%s," PEOPLE, uid );

		{
			unsigned char *der[2] = { NULL, NULL };
			int len[2];
			certpin_certinfo ci[2];
			char *rec[2];

			for ( k = 0; k < 2; k++ ) {
				unsigned long long c = (unsigned long long)i * 2 + k + 1;
				X509 *x;	/* not owned */
				int b;

				for ( b = 0; b < 8; b++ )
					serial[15 - b] = ( c >> ( 8 * b ) ) & 0xff;
				x = make_cert( uid, serial, ca, cakey, key, now );
				len[k] = i2d_X509( x, &der[k] );
				if ( len[k] <= 0 )
					die( "cannot encode a certificate" );
				if ( certpin_certinfo_from_der( der[k], len[k], &ci[k], err, sizeof( err ) ) )
					die( err );
				/* as the overlay's write path: published = the write time */
				memcpy( ci[k].ci_published, when, sizeof( when ) );
				rec[k] = certpin_certinfo_format( &ci[k] );
				if ( rec[k] == NULL )
					die( "out of memory" );
				if ( sample ) {
					snprintf( path, sizeof( path ), "%s/certs/%s-%d.pem", dir, uid, k );
					write_pem( path, x );
					fprintf( lst, " %s", path );
				}
			}
			for ( k = 0; k < 2; k++ )
				ldif_b64( ldif, "certpinCertificate;binary", der[k], len[k] );
			for ( k = 0; k < 2; k++ )
				fprintf( ldif, "certpinThumbprint: %s\n", ci[k].ci_sha256 );
			for ( k = 0; k < 2; k++ ) {
				fprintf( ldif, "certpinCertInfo: %s\n", rec[k] );
				free( rec[k] );
				certpin_certinfo_free( &ci[k] );
				OPENSSL_free( der[k] );
			}
		}
		if ( sample )
			fprintf( lst, "\n" );
		fputc( '\n', ldif );
	}
	if ( fclose( ldif ) || fclose( lst ) )
		die( "cannot write the output files" );
	EVP_PKEY_free( key );
	EVP_PKEY_free( cakey );
	X509_free( ca );
	return 0;
}
