/* certinfo.c - certificate metadata shared by the certpin overlay and tools */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certinfo.h"

static const char hexlc[] = "0123456789abcdef";
static const char hexuc[] = "0123456789ABCDEF";

static void
tohex( const unsigned char *in, size_t len, char *out, const char *digits )
{
	size_t i;

	for ( i = 0; i < len; i++ ) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/* The digests, fetched from the default provider once (EVP_sha256() and
 * EVP_sha1() fetch at every use under OpenSSL 3); kept until the module is
 * unloaded (certpin_md_release, from term_module). */
static CRYPTO_ONCE md_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_MD *md_sha256, *md_sha1;

static void
md_fetch( void )
{
	md_sha256 = EVP_MD_fetch( NULL, "SHA256", NULL );
	md_sha1 = EVP_MD_fetch( NULL, "SHA1", NULL );
}

static const EVP_MD *
md_get( int sha1 )
{
	if ( CRYPTO_THREAD_run_once( &md_once, md_fetch ) ) {
		if ( sha1 && md_sha1 )
			return md_sha1;
		if ( !sha1 && md_sha256 )
			return md_sha256;
	}
	return sha1 ? EVP_sha1() : EVP_sha256();
}

void
certpin_md_release( void )
{
	EVP_MD_free( md_sha256 );
	EVP_MD_free( md_sha1 );
	md_sha256 = md_sha1 = NULL;
}

void
certpin_sha256_hex( const unsigned char *buf, size_t len, char out[65] )
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest( buf, len, md, &mdlen, md_get( 0 ), NULL );
	tohex( md, mdlen, out, hexlc );
}

int
certpin_is_sha256_hex( const char *s, size_t len )
{
	size_t i;

	if ( len != 64 )
		return 0;
	for ( i = 0; i < len; i++ ) {
		if ( !( ( s[i] >= '0' && s[i] <= '9' ) || ( s[i] >= 'a' && s[i] <= 'f' ) ) )
			return 0;
	}
	return 1;
}

void
certpin_gentime( time_t t, char out[CERTPIN_GENTIME_LEN + 1] )
{
	struct tm tm;

	/* A time beyond the year 9999 does not fit: an empty string, which no
	 * reader takes for a time, rather than an indeterminate buffer. */
	if ( gmtime_r( &t, &tm ) == NULL ||
	     strftime( out, CERTPIN_GENTIME_LEN + 1, "%Y%m%d%H%M%SZ", &tm ) != CERTPIN_GENTIME_LEN )
		out[0] = '\0';
}

static int
digits( const char *s, int n, int *v )
{
	int i, r = 0;

	for ( i = 0; i < n; i++ ) {
		if ( !isdigit( (unsigned char)s[i] ) )
			return -1;
		r = r * 10 + ( s[i] - '0' );
	}
	*v = r;
	return 0;
}

static int
mktime_utc( int y, int mo, int d, int h, int mi, int s, time_t *t )
{
	struct tm tm;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if ( y < 1900 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	     h > 23 || mi > 59 || s > 60 )
		return -1;
	if ( mo == 2 && d == 29 && !( ( y % 4 == 0 && y % 100 != 0 ) || y % 400 == 0 ) )
		return -1;
	memset( &tm, 0, sizeof( tm ) );
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*t = timegm( &tm );
	return 0;
}

int
certpin_gentime_parse( const char *s, time_t *t )
{
	int y, mo, d, h, mi, sec;

	if ( s == NULL || strlen( s ) != CERTPIN_GENTIME_LEN || s[14] != 'Z' )
		return -1;
	if ( digits( s, 4, &y ) || digits( s + 4, 2, &mo ) || digits( s + 6, 2, &d ) ||
	     digits( s + 8, 2, &h ) || digits( s + 10, 2, &mi ) || digits( s + 12, 2, &sec ) )
		return -1;
	return mktime_utc( y, mo, d, h, mi, sec, t );
}

int
certpin_gentime_iso( const char *gt, char out[CERTPIN_ISOTIME_LEN + 1] )
{
	time_t t;
	struct tm tm;

	if ( certpin_gentime_parse( gt, &t ) )
		return -1;
	if ( gmtime_r( &t, &tm ) == NULL ||
	     strftime( out, CERTPIN_ISOTIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm ) != CERTPIN_ISOTIME_LEN )
		return -1;
	return 0;
}

int
certpin_date_parse( const char *s, time_t *t )
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	size_t n;

	if ( s == NULL )
		return -1;
	n = strlen( s );
	if ( n == CERTPIN_GENTIME_LEN && s[14] == 'Z' && isdigit( (unsigned char)s[4] ) )
		return certpin_gentime_parse( s, t );
	if ( n < 10 || s[4] != '-' || s[7] != '-' ||
	     digits( s, 4, &y ) || digits( s + 5, 2, &mo ) || digits( s + 8, 2, &d ) )
		return -1;
	s += 10;
	n -= 10;
	if ( n > 0 ) {
		if ( ( *s != 'T' && *s != ' ' ) || n < 6 || s[3] != ':' ||
		     digits( s + 1, 2, &h ) || digits( s + 4, 2, &mi ) )
			return -1;
		s += 6;
		n -= 6;
		if ( n >= 3 && *s == ':' ) {
			if ( digits( s + 1, 2, &sec ) )
				return -1;
			s += 3;
			n -= 3;
		}
		if ( n == 1 && *s == 'Z' )
			n = 0;
		if ( n != 0 )
			return -1;
	}
	return mktime_utc( y, mo, d, h, mi, sec, t );
}

static char *
name_rfc4514( const X509_NAME *name )
{
	BIO *bio = BIO_new( BIO_s_mem() );
	char *data, *out = NULL;
	long len;

	if ( bio == NULL )
		return NULL;
	if ( X509_NAME_print_ex( bio, name, 0, XN_FLAG_RFC2253 ) >= 0 ) {
		len = BIO_get_mem_data( bio, &data );
		out = malloc( len + 1 );
		if ( out ) {
			memcpy( out, data, len );
			out[len] = '\0';
		}
	}
	BIO_free( bio );
	return out;
}

static int
asn1_time( const ASN1_TIME *at, char out[CERTPIN_GENTIME_LEN + 1], time_t *t )
{
	struct tm tm;

	/* Years outside 1900-9999 would not fit the stored GeneralizedTime
	 * (YYYY...Z) nor parse back with certpin_gentime_parse(). */
	if ( at == NULL || !ASN1_TIME_to_tm( at, &tm ) ||
	     tm.tm_year < 0 || tm.tm_year > 9999 - 1900 )
		return -1;
	*t = timegm( &tm );
	certpin_gentime( *t, out );
	return 0;
}

int
certpin_certinfo_from_der( const unsigned char *der, size_t len,
	certpin_certinfo *ci, char *err, size_t errlen )
{
	const unsigned char *p = der;
	X509 *x = NULL;
	int rc = -1;

	memset( ci, 0, sizeof( *ci ) );
	if ( len == 0 ) {
		snprintf( err, errlen, "empty value" );
		return -1;
	}
	if ( len > CERTPIN_MAX_DER ) {
		snprintf( err, errlen, "certificate larger than %d bytes", CERTPIN_MAX_DER );
		return -1;
	}
	if ( der[0] != 0x30 ) {
		snprintf( err, errlen, "not DER (PEM text must be converted to DER)" );
		return -1;
	}
	x = d2i_X509( NULL, &p, (long)len );
	if ( x == NULL ) {
		snprintf( err, errlen, "not a well-formed X.509 certificate" );
		return -1;
	}
	if ( p != der + len ) {
		snprintf( err, errlen, "%zu trailing bytes after the certificate",
			(size_t)( der + len - p ) );
	} else {
		rc = certpin_certinfo_from_x509( x, der, len, ci, err, errlen );
	}
	X509_free( x );
	return rc;
}

int
certpin_certinfo_from_x509( X509 *x, const unsigned char *der, size_t len,
	certpin_certinfo *ci, char *err, size_t errlen )
{
	const ASN1_INTEGER *sn;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	BIGNUM *bn = NULL;
	int rc = -1, n;

	memset( ci, 0, sizeof( *ci ) );
	certpin_sha256_hex( der, len, ci->ci_sha256 );
	EVP_Digest( der, len, md, &mdlen, md_get( 1 ), NULL );
	tohex( md, mdlen, ci->ci_sha1, hexuc );

	sn = X509_get0_serialNumber( x );
	bn = ASN1_INTEGER_to_BN( sn, NULL );
	if ( bn == NULL || BN_is_negative( bn ) || BN_num_bytes( bn ) > CERTPIN_MAX_SERIAL ) {
		snprintf( err, errlen, "serial number negative or longer than %d bytes",
			CERTPIN_MAX_SERIAL );
		goto done;
	}
	{
		unsigned char sbuf[CERTPIN_MAX_SERIAL];
		n = BN_bn2bin( bn, sbuf );
		if ( n == 0 ) {
			strcpy( ci->ci_serial, "00" );
		} else {
			tohex( sbuf, n, ci->ci_serial, hexuc );
		}
	}
	if ( asn1_time( X509_get0_notBefore( x ), ci->ci_notbefore, &ci->ci_notbefore_t ) ||
	     asn1_time( X509_get0_notAfter( x ), ci->ci_notafter, &ci->ci_notafter_t ) ) {
		snprintf( err, errlen, "validity period unreadable or outside the years 1900 to 9999" );
		goto done;
	}
	ci->ci_issuer = name_rfc4514( X509_get_issuer_name( x ) );
	ci->ci_subject = name_rfc4514( X509_get_subject_name( x ) );
	if ( ci->ci_issuer == NULL || ci->ci_subject == NULL ) {
		snprintf( err, errlen, "unreadable issuer or subject name" );
		goto done;
	}
	rc = 0;
done:
	BN_free( bn );
	if ( rc )
		certpin_certinfo_free( ci );
	return rc;
}

void
certpin_certinfo_free( certpin_certinfo *ci )
{
	free( ci->ci_issuer );
	free( ci->ci_subject );
	free( ci->ci_endpoint );
	memset( ci, 0, sizeof( *ci ) );
}

int
certpin_rec_add( char **buf, size_t *len, const char *name, const char *value )
{
	size_t need = strlen( name ) + 2, i, o;
	char *nb;

	for ( i = 0; value[i]; i++ )
		need += ( value[i] == '$' || value[i] == '\\' ) ? 3 : 1;
	nb = realloc( *buf, *len + need + 1 );
	if ( nb == NULL )
		return -1;
	o = *len;
	if ( o > 0 )
		nb[o++] = '$';
	o += sprintf( nb + o, "%s=", name );
	for ( i = 0; value[i]; i++ ) {
		if ( value[i] == '$' ) {
			memcpy( nb + o, "\\24", 3 );
			o += 3;
		} else if ( value[i] == '\\' ) {
			memcpy( nb + o, "\\5c", 3 );
			o += 3;
		} else {
			nb[o++] = value[i];
		}
	}
	nb[o] = '\0';
	*buf = nb;
	*len = o;
	return 0;
}

static int
hexval( int c )
{
	if ( c >= '0' && c <= '9' ) return c - '0';
	if ( c >= 'a' && c <= 'f' ) return c - 'a' + 10;
	if ( c >= 'A' && c <= 'F' ) return c - 'A' + 10;
	return -1;
}

long
certpin_rec_get( const char *rec, size_t len, const char *name,
	char *out, size_t outlen )
{
	size_t nl = strlen( name ), i = 0, o;

	if ( outlen == 0 )
		return -1;
	while ( i < len ) {
		size_t end = i;

		while ( end < len && rec[end] != '$' )
			end++;
		if ( end - i > nl && rec[i + nl] == '=' && memcmp( rec + i, name, nl ) == 0 ) {
			size_t j;

			o = 0;
			for ( j = i + nl + 1; j < end; j++ ) {
				int c = (unsigned char)rec[j];

				if ( c == '\\' ) {
					int hi, lo;

					if ( j + 2 >= end )
						return -1;
					hi = hexval( rec[j + 1] );
					lo = hexval( rec[j + 2] );
					if ( hi < 0 || lo < 0 )
						return -1;
					c = hi * 16 + lo;
					j += 2;
				}
				if ( o + 1 >= outlen )
					return -1;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return (long)o;
		}
		i = end + 1;
	}
	return -1;
}

char *
certpin_certinfo_format( const certpin_certinfo *ci )
{
	char *buf = NULL;
	size_t len = 0;

	if ( certpin_rec_add( &buf, &len, "sha256", ci->ci_sha256 ) ||
	     certpin_rec_add( &buf, &len, "sha1", ci->ci_sha1 ) ||
	     certpin_rec_add( &buf, &len, "serial", ci->ci_serial ) ||
	     certpin_rec_add( &buf, &len, "published", ci->ci_published ) ||
	     certpin_rec_add( &buf, &len, "notbefore", ci->ci_notbefore ) ||
	     certpin_rec_add( &buf, &len, "expires", ci->ci_notafter ) ||
	     certpin_rec_add( &buf, &len, "endpoint", ci->ci_endpoint ? ci->ci_endpoint : "" ) ||
	     certpin_rec_add( &buf, &len, "issuer", ci->ci_issuer ? ci->ci_issuer : "" ) ||
	     certpin_rec_add( &buf, &len, "subject", ci->ci_subject ? ci->ci_subject : "" ) ) {
		free( buf );
		return NULL;
	}
	return buf;
}

static char *
rec_dup( const char *rec, size_t len, const char *name )
{
	char *out = malloc( len + 1 );
	long n;

	if ( out == NULL )
		return NULL;
	n = certpin_rec_get( rec, len, name, out, len + 1 );
	if ( n < 0 ) {
		free( out );
		return NULL;
	}
	return out;
}

int
certpin_certinfo_parse( const char *rec, size_t len, certpin_certinfo *ci )
{
	memset( ci, 0, sizeof( *ci ) );
	if ( certpin_rec_get( rec, len, "sha256", ci->ci_sha256, sizeof( ci->ci_sha256 ) ) < 0 ||
	     !certpin_is_sha256_hex( ci->ci_sha256, strlen( ci->ci_sha256 ) ) )
		return -1;
	certpin_rec_get( rec, len, "sha1", ci->ci_sha1, sizeof( ci->ci_sha1 ) );
	certpin_rec_get( rec, len, "serial", ci->ci_serial, sizeof( ci->ci_serial ) );
	certpin_rec_get( rec, len, "published", ci->ci_published, sizeof( ci->ci_published ) );
	certpin_rec_get( rec, len, "notbefore", ci->ci_notbefore, sizeof( ci->ci_notbefore ) );
	certpin_rec_get( rec, len, "expires", ci->ci_notafter, sizeof( ci->ci_notafter ) );
	certpin_gentime_parse( ci->ci_notbefore, &ci->ci_notbefore_t );
	certpin_gentime_parse( ci->ci_notafter, &ci->ci_notafter_t );
	ci->ci_issuer = rec_dup( rec, len, "issuer" );
	ci->ci_subject = rec_dup( rec, len, "subject" );
	ci->ci_endpoint = rec_dup( rec, len, "endpoint" );
	if ( ci->ci_endpoint && ci->ci_endpoint[0] == '\0' ) {
		free( ci->ci_endpoint );
		ci->ci_endpoint = NULL;
	}
	return 0;
}
