/* provclient.c - the client side of certpin's provisioning operation
 *
 * Keys and PKCS#10 requests (OpenSSL), the certpinIssue extended operation
 * (liblber encoding, libldap transport), PEM output files reserved before
 * the server is asked, and secrets read without echo.  See provclient.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common.h"
#include "identity.h"
#include "provclient.h"

/* lber_pvt.h is not installed. */
#define PC_BVZERO( bv )	do { (bv)->bv_val = NULL; (bv)->bv_len = 0; } while ( 0 )

/* The reason OpenSSL gave last, for a message. */
static const char *
pc_ssl_reason( void )
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if ( e == 0 )
		return "unknown reason";
	ERR_error_string_n( e, buf, sizeof( buf ) );
	ERR_clear_error();
	return buf;
}

/* ---- keys and requests ---------------------------------------------------- */

int
certpin_keyspec_parse( const char *s, certpin_keyspec *ks, char *err, size_t errlen )
{
	const char *bits = NULL;
	char *end;
	long n;

	if ( s == NULL || !strcasecmp( s, "ec" ) || !strcasecmp( s, "ecdsa" ) ||
		!strcasecmp( s, "p-256" ) || !strcasecmp( s, "p256" ) ||
		!strcasecmp( s, "prime256v1" ) || !strcasecmp( s, "ec:p-256" ) ||
		!strcasecmp( s, "ec:p256" ) )
	{
		ks->ks_kind = CERTPIN_KEY_EC;
		ks->ks_bits = 256;
		return 0;
	}
	if ( !strcasecmp( s, "rsa" ) ) {
		ks->ks_kind = CERTPIN_KEY_RSA;
		ks->ks_bits = CERTPIN_RSA_DEFAULT_BITS;
		return 0;
	}
	if ( !strncasecmp( s, "rsa:", 4 ) ) {
		bits = s + 4;
	} else if ( !strncasecmp( s, "rsa", 3 ) ) {
		bits = s + 3;
	}
	if ( bits == NULL ) {
		cp_err( err, errlen, "unknown key kind \"%s\" (use ec or rsa[:BITS])", s );
		return -1;
	}
	errno = 0;
	n = strtol( bits, &end, 10 );
	if ( *bits == '\0' || *end != '\0' || errno ) {
		cp_err( err, errlen, "bad RSA key size \"%s\"", bits );
		return -1;
	}
	if ( n < CERTPIN_RSA_MIN_BITS || n > CERTPIN_RSA_MAX_BITS ) {
		cp_err( err, errlen, "RSA keys must have %d to %d bits, not %ld",
			CERTPIN_RSA_MIN_BITS, CERTPIN_RSA_MAX_BITS, n );
		return -1;
	}
	ks->ks_kind = CERTPIN_KEY_RSA;
	ks->ks_bits = (int)n;
	return 0;
}

EVP_PKEY *
certpin_key_generate( const certpin_keyspec *ks, char *err, size_t errlen )
{
	EVP_PKEY *key;

	if ( ks->ks_kind == CERTPIN_KEY_RSA )
		key = EVP_PKEY_Q_keygen( NULL, NULL, "RSA", (size_t)ks->ks_bits );
	else
		key = EVP_PKEY_Q_keygen( NULL, NULL, "EC", "P-256" );
	if ( key == NULL )
		cp_err( err, errlen, "cannot generate a key: %s", pc_ssl_reason() );
	return key;
}

/* The DER of an ASN.1 object (a request, a certificate) in malloc'd
 * memory. */
static int
pc_item_der( const ASN1_VALUE *v, const ASN1_ITEM *it, struct berval *der )
{
	unsigned char *enc = NULL;
	int len = ASN1_item_i2d( (ASN1_VALUE *)v, &enc, it );

	if ( len <= 0 || ( der->bv_val = malloc( len ) ) == NULL ) {
		OPENSSL_free( enc );
		return -1;
	}
	memcpy( der->bv_val, enc, len );
	der->bv_len = len;
	OPENSSL_free( enc );
	return 0;
}

static int
pc_req_der( X509_REQ *req, struct berval *der )
{
	return pc_item_der( (ASN1_VALUE *)req, ASN1_ITEM_rptr( X509_REQ ), der );
}

/* One object of type it from a file's bytes: PEM (a block named pem_name,
 * or the older name OpenSSL accepts for it) or DER.  Either way the DER
 * is all of it: trailing bytes are refused.  NULL when it is neither. */
static ASN1_VALUE *
pc_pem_or_der( const struct berval *raw, const char *pem_name, const ASN1_ITEM *it )
{
	ASN1_VALUE *v = NULL;
	unsigned char *data = NULL;
	const unsigned char *p, *start;
	long len;
	BIO *bio = BIO_new_mem_buf( raw->bv_val, (int)raw->bv_len );

	if ( bio != NULL &&
		PEM_bytes_read_bio( &data, &len, NULL, pem_name, bio, NULL, NULL ) == 1 )
	{
		start = data;
	} else {
		start = (const unsigned char *)raw->bv_val;
		len = (long)raw->bv_len;
	}
	BIO_free( bio );
	p = start;
	v = ASN1_item_d2i( NULL, &p, len, it );
	if ( v != NULL && p != start + len ) {
		ASN1_item_free( v, it );
		v = NULL;
	}
	OPENSSL_free( data );
	ERR_clear_error();
	return v;
}

int
certpin_csr_make( EVP_PKEY *key, const char *cn, struct berval *der,
	char *err, size_t errlen )
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = NULL;
	int rc = -1;

	der->bv_val = NULL;
	der->bv_len = 0;
	if ( cn == NULL || *cn == '\0' )
		cn = "certpin device";
	if ( req == NULL || !X509_REQ_set_version( req, 0 ) ||
		( name = X509_REQ_get_subject_name( req ) ) == NULL ||
		!X509_NAME_add_entry_by_txt( name, "CN", MBSTRING_UTF8,
			(const unsigned char *)cn, -1, -1, 0 ) ||
		!X509_REQ_set_pubkey( req, key ) ||
		X509_REQ_sign( req, key, EVP_sha256() ) <= 0 ||
		pc_req_der( req, der ) )
	{
		cp_err( err, errlen, "cannot make a certificate request: %s",
			pc_ssl_reason() );
		goto done;
	}
	rc = 0;
done:
	X509_REQ_free( req );
	return rc;
}

/* The whole of a small file, for certificate and request input. */
static int
pc_slurp( const char *path, struct berval *out, size_t max, char *err, size_t errlen )
{
	FILE *f = fopen( path, "rb" );
	size_t n = 0, cap = 4096, r;
	char *buf = NULL, *p;

	out->bv_val = NULL;
	out->bv_len = 0;
	if ( f == NULL ) {
		cp_err( err, errlen, "%s: %s", path, strerror( errno ) );
		return -1;
	}
	buf = malloc( cap + 1 );
	while ( buf != NULL ) {
		if ( n == cap ) {
			if ( cap >= max ) {
				cp_err( err, errlen, "%s: file too large", path );
				goto fail;
			}
			cap *= 2;
			p = realloc( buf, cap + 1 );
			if ( p == NULL )
				break;
			buf = p;
		}
		r = fread( buf + n, 1, cap - n, f );
		n += r;
		if ( r == 0 ) {
			if ( ferror( f ) ) {
				cp_err( err, errlen, "%s: %s", path, strerror( errno ) );
				goto fail;
			}
			fclose( f );
			buf[n] = '\0';
			out->bv_val = buf;
			out->bv_len = n;
			return 0;
		}
	}
	cp_err( err, errlen, "%s: out of memory", path );
fail:
	free( buf );
	fclose( f );
	return -1;
}

int
certpin_csr_read( const char *path, struct berval *der, char *err, size_t errlen )
{
	struct berval raw;
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	int rc = -1;

	der->bv_val = NULL;
	der->bv_len = 0;
	if ( pc_slurp( path, &raw, 1 << 20, err, errlen ) )
		return -1;
	req = (X509_REQ *)pc_pem_or_der( &raw, PEM_STRING_X509_REQ, ASN1_ITEM_rptr( X509_REQ ) );
	if ( req == NULL ) {
		cp_err( err, errlen, "%s: not a PKCS#10 certificate request (PEM or DER)", path );
		goto done;
	}
	pub = X509_REQ_get0_pubkey( req );
	if ( pub == NULL || X509_REQ_verify( req, pub ) != 1 ) {
		ERR_clear_error();
		cp_err( err, errlen, "%s: the request's signature does not verify", path );
		goto done;
	}
	if ( pc_req_der( req, der ) ) {
		cp_err( err, errlen, "%s: out of memory", path );
		goto done;
	}
	rc = 0;
done:
	X509_REQ_free( req );
	free( raw.bv_val );
	return rc;
}

int
certpin_cert_read( const char *path, struct berval *der, char *err, size_t errlen )
{
	struct berval raw;
	X509 *x = NULL;
	int rc = -1;

	der->bv_val = NULL;
	der->bv_len = 0;
	if ( pc_slurp( path, &raw, 1 << 20, err, errlen ) )
		return -1;
	x = (X509 *)pc_pem_or_der( &raw, PEM_STRING_X509, ASN1_ITEM_rptr( X509 ) );
	if ( x == NULL ) {
		cp_err( err, errlen, "%s: not an X.509 certificate (PEM or DER)", path );
		goto done;
	}
	if ( pc_item_der( (ASN1_VALUE *)x, ASN1_ITEM_rptr( X509 ), der ) ) {
		cp_err( err, errlen, "%s: cannot encode the certificate", path );
		goto done;
	}
	rc = 0;
done:
	X509_free( x );
	free( raw.bv_val );
	return rc;
}

EVP_PKEY *
certpin_key_read( const char *path, char *err, size_t errlen )
{
	EVP_PKEY *key = NULL;
	BIO *bio = BIO_new_file( path, "r" );

	if ( bio == NULL ) {
		ERR_clear_error();
		cp_err( err, errlen, "%s: %s", path, strerror( errno ) );
		return NULL;
	}
	key = PEM_read_bio_PrivateKey( bio, NULL, NULL, NULL );
	BIO_free( bio );
	ERR_clear_error();
	if ( key == NULL )
		cp_err( err, errlen, "%s: not an unencrypted PEM private key", path );
	return key;
}

int
certpin_key_matches_cert( EVP_PKEY *key, const struct berval *der )
{
	const unsigned char *p = (const unsigned char *)der->bv_val;
	X509 *x = d2i_X509( NULL, &p, (long)der->bv_len );
	int rc = 0;

	if ( x != NULL )
		rc = X509_check_private_key( x, key ) == 1;
	X509_free( x );
	ERR_clear_error();
	return rc;
}

/* ---- the extended operation ----------------------------------------------- */

int
certpin_req_opt( certpin_req_opts *ro, int c, char *arg )
{
	switch ( c ) {
	case 'k':
		if ( ro->keykind )
			cp_usage_error( "-k previously specified" );
		ro->keykind = arg;
		return 1;
	case CERTPIN_OPT_PHONE:
		if ( *arg == '\0' )
			cp_usage_error( "--phone: empty phone number" );
		ro->phone = arg;
		return 1;
	case CERTPIN_OPT_PIN_FILE:
		ro->pin_file = arg;
		return 1;
	case CERTPIN_OPT_VALIDITY:
		if ( certpin_validity_parse( arg, &ro->validity ) )
			cp_usage_error( "--validity: \"%s\" is not a number of hours (1 to %ld)",
				arg, CERTPIN_VALIDITY_MAX );
		return 1;
	case CERTPIN_OPT_ENDPOINT:
		ro->endpoint = arg;
		return 1;
	case CERTPIN_OPT_CONFIG:
		ro->config = arg;
		return 1;
	}
	return 0;
}

int
certpin_validity_parse( const char *arg, long *hours )
{
	char *end;
	long v;

	errno = 0;
	v = strtol( arg, &end, 10 );
	if ( *arg == '\0' || *end != '\0' || errno || v < 1 || v > CERTPIN_VALIDITY_MAX )
		return -1;
	*hours = v;
	return 0;
}

static int
pc_put_string( BerElement *ber, ber_tag_t tag, const char *s )
{
	if ( s == NULL )
		return 0;
	return ber_printf( ber, "to", tag, s, (ber_len_t)strlen( s ) ) < 0 ? -1 : 0;
}

int
certpin_issue_encode( const certpin_issue_req *req, struct berval *out )
{
	BerElement *ber = ber_alloc_t( LBER_USE_DER );
	struct berval enc = { 0, NULL };
	int rc = -1;

	out->bv_val = NULL;
	out->bv_len = 0;
	if ( ber == NULL )
		return -1;
	if ( ber_printf( ber, "{O", &req->ir_csr ) < 0 )
		goto done;
	if ( pc_put_string( ber, CERTPIN_ISSUE_TAG_IDENTITY, req->ir_identity ) ||
		pc_put_string( ber, CERTPIN_ISSUE_TAG_PHONE, req->ir_phone ) )
		goto done;
	if ( req->ir_pin.bv_val != NULL &&
		ber_printf( ber, "tO", CERTPIN_ISSUE_TAG_PIN, &req->ir_pin ) < 0 )
		goto done;
	if ( req->ir_validity > 0 &&
		ber_printf( ber, "ti", CERTPIN_ISSUE_TAG_VALIDITY,
			(ber_int_t)req->ir_validity ) < 0 )
		goto done;
	if ( pc_put_string( ber, CERTPIN_ISSUE_TAG_ENDPOINT, req->ir_endpoint ) ||
		ber_printf( ber, "N}" ) < 0 )
		goto done;
	/* Borrow the encoder's buffer, copy it, and wipe it: the request
	 * may carry a PIN. */
	if ( ber_flatten2( ber, &enc, 0 ) == 0 && enc.bv_val != NULL ) {
		out->bv_val = ber_memalloc( enc.bv_len ? enc.bv_len : 1 );
		if ( out->bv_val != NULL ) {
			memcpy( out->bv_val, enc.bv_val, enc.bv_len );
			out->bv_len = enc.bv_len;
			rc = 0;
		}
		OPENSSL_cleanse( enc.bv_val, enc.bv_len );
	}
done:
	ber_free( ber, 1 );
	return rc;
}

int
certpin_issue_decode( const struct berval *data, struct berval *cert, struct berval *ca )
{
	BerElement *ber;
	ber_tag_t tag;

	PC_BVZERO( cert );
	PC_BVZERO( ca );
	if ( data == NULL || data->bv_val == NULL )
		return -1;
	ber = ber_init( (struct berval *)data );
	if ( ber == NULL )
		return -1;
	/* Later versions may append fields: read the two we know. */
	tag = ber_scanf( ber, "{oo", cert, ca );
	ber_free( ber, 1 );
	if ( tag == LBER_ERROR || cert->bv_len == 0 || ca->bv_len == 0 ) {
		ber_memfree( cert->bv_val );
		ber_memfree( ca->bv_val );
		PC_BVZERO( cert );
		PC_BVZERO( ca );
		return -1;
	}
	return 0;
}

int
certpin_issue( LDAP *ld, const certpin_issue_req *req, struct timeval *timeout,
	certpin_issue_res *res )
{
	struct berval reqdata, *retdata = NULL;
	LDAPMessage *msg = NULL;
	char *retoid = NULL;
	int rc, err = LDAP_OTHER, msgid;

	memset( res, 0, sizeof( *res ) );
	if ( certpin_issue_encode( req, &reqdata ) )
		return LDAP_ENCODING_ERROR;
	rc = ldap_extended_operation( ld, CERTPIN_ISSUE_OID, &reqdata,
		NULL, NULL, &msgid );
	OPENSSL_cleanse( reqdata.bv_val, reqdata.bv_len );
	ber_memfree( reqdata.bv_val );
	if ( rc != LDAP_SUCCESS ) {
		ldap_get_option( ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &res->is_diag );
		return rc;
	}
	rc = ldap_result( ld, msgid, LDAP_MSG_ALL, timeout, &msg );
	if ( rc <= 0 ) {
		if ( rc == 0 ) {
			ldap_abandon_ext( ld, msgid, NULL, NULL );
			return LDAP_TIMEOUT;
		}
		ldap_get_option( ld, LDAP_OPT_RESULT_CODE, &err );
		ldap_get_option( ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &res->is_diag );
		return err != LDAP_SUCCESS ? err : LDAP_SERVER_DOWN;
	}
	rc = ldap_parse_extended_result( ld, msg, &retoid, &retdata, 0 );
	if ( rc == LDAP_SUCCESS )
		rc = ldap_parse_result( ld, msg, &err, &res->is_matched,
			&res->is_diag, NULL, NULL, 0 );
	ldap_msgfree( msg );
	if ( rc != LDAP_SUCCESS ) {
		err = rc;
		goto done;
	}
	if ( err == LDAP_SUCCESS &&
		certpin_issue_decode( retdata, &res->is_cert, &res->is_ca ) )
		err = LDAP_DECODING_ERROR;
done:
	ldap_memfree( retoid );
	ber_bvfree( retdata );
	return err;
}

void
certpin_issue_res_free( certpin_issue_res *res )
{
	ber_memfree( res->is_cert.bv_val );
	ber_memfree( res->is_ca.bv_val );
	ldap_memfree( res->is_diag );
	ldap_memfree( res->is_matched );
	memset( res, 0, sizeof( *res ) );
}

/* ---- output files --------------------------------------------------------- */

int
certpin_out_open( certpin_out *o, const char *path, mode_t mode, int force,
	char *err, size_t errlen )
{
	memset( o, 0, sizeof( *o ) );
	o->co_fd = -1;
	o->co_mode = mode;
	o->co_path = strdup( path );
	if ( o->co_path == NULL )
		goto nomem;
	if ( !force ) {
		o->co_fd = open( path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode );
		if ( o->co_fd < 0 ) {
			if ( errno == EEXIST )
				cp_err( err, errlen, "%s: file exists (use --force to replace it)", path );
			else
				cp_err( err, errlen, "%s: %s", path, strerror( errno ) );
			goto fail;
		}
	} else {
		struct stat st;
		size_t len = strlen( path ) + sizeof( ".XXXXXX" );

		if ( lstat( path, &st ) == 0 && !S_ISREG( st.st_mode ) ) {
			cp_err( err, errlen, "%s: exists and is not a regular file", path );
			goto fail;
		}
		o->co_tmp = malloc( len );
		if ( o->co_tmp == NULL )
			goto nomem;
		snprintf( o->co_tmp, len, "%s.XXXXXX", path );
		/* mkstemp creates the file 0600, never following a link. */
		o->co_fd = mkstemp( o->co_tmp );
		if ( o->co_fd < 0 ) {
			cp_err( err, errlen, "%s: %s", o->co_tmp, strerror( errno ) );
			free( o->co_tmp );
			o->co_tmp = NULL;
			goto fail;
		}
	}
	/* Exactly the mode asked for, whatever the umask (mkstemp made the
	 * temporary file 0600). */
	if ( fchmod( o->co_fd, mode ) ) {
		cp_err( err, errlen, "%s: %s", path, strerror( errno ) );
		certpin_out_abort( o );
		return -1;
	}
	return 0;
nomem:
	cp_err( err, errlen, "%s: out of memory", path );
fail:
	free( o->co_path );
	o->co_path = NULL;
	return -1;
}

static int
pc_out_bio( certpin_out *o, BIO **bio, char *err, size_t errlen )
{
	*bio = BIO_new_fd( o->co_fd, BIO_NOCLOSE );
	if ( *bio == NULL ) {
		cp_err( err, errlen, "%s: %s", o->co_path, pc_ssl_reason() );
		return -1;
	}
	return 0;
}

int
certpin_out_cert( certpin_out *o, const struct berval *der, char *err, size_t errlen )
{
	const unsigned char *p = (const unsigned char *)der->bv_val;
	X509 *x = d2i_X509( NULL, &p, (long)der->bv_len );
	BIO *bio = NULL;
	int rc = -1;

	if ( x == NULL ) {
		ERR_clear_error();
		cp_err( err, errlen, "%s: the server sent a certificate that does not parse",
			o->co_path );
		return -1;
	}
	if ( pc_out_bio( o, &bio, err, errlen ) == 0 ) {
		if ( PEM_write_bio_X509( bio, x ) && BIO_flush( bio ) == 1 )
			rc = 0;
		else
			cp_err( err, errlen, "%s: cannot write: %s", o->co_path, strerror( errno ) );
	}
	BIO_free( bio );
	X509_free( x );
	return rc;
}

int
certpin_out_key( certpin_out *o, EVP_PKEY *key, char *err, size_t errlen )
{
	BIO *bio = NULL;
	int rc = -1;

	if ( pc_out_bio( o, &bio, err, errlen ) == 0 ) {
		if ( PEM_write_bio_PrivateKey( bio, key, NULL, NULL, 0, NULL, NULL ) &&
			BIO_flush( bio ) == 1 )
			rc = 0;
		else
			cp_err( err, errlen, "%s: cannot write: %s", o->co_path, strerror( errno ) );
	}
	BIO_free( bio );
	return rc;
}

int
certpin_out_commit( certpin_out *o, char *err, size_t errlen )
{
	int rc = 0;

	if ( fsync( o->co_fd ) || close( o->co_fd ) ) {
		cp_err( err, errlen, "%s: %s", o->co_path, strerror( errno ) );
		o->co_fd = -1;
		certpin_out_abort( o );
		return -1;
	}
	o->co_fd = -1;
	if ( o->co_tmp != NULL ) {
		if ( rename( o->co_tmp, o->co_path ) ) {
			cp_err( err, errlen, "%s: %s", o->co_path, strerror( errno ) );
			certpin_out_abort( o );
			return -1;
		}
		free( o->co_tmp );
		o->co_tmp = NULL;
	}
	free( o->co_path );
	o->co_path = NULL;
	return rc;
}

void
certpin_out_abort( certpin_out *o )
{
	if ( o->co_fd >= 0 )
		close( o->co_fd );
	o->co_fd = -1;
	if ( o->co_tmp != NULL ) {
		unlink( o->co_tmp );
	} else if ( o->co_path != NULL ) {
		/* Created by us with O_EXCL: ours to remove. */
		unlink( o->co_path );
	}
	free( o->co_tmp );
	free( o->co_path );
	o->co_tmp = NULL;
	o->co_path = NULL;
}

/* ---- secrets -------------------------------------------------------------- */

int
certpin_pin_read( const char *pin_file, struct berval *pin, char *err, size_t errlen )
{
	if ( pin_file )
		return certpin_secret_file( pin_file, pin, err, errlen );
	return certpin_secret_prompt( "PIN", pin, err, errlen );
}

/* The terminal's settings while echo is off, restored by a signal that
 * ends the program in the middle of the prompt (Control-C). */
static struct termios pc_tty_saved;
static volatile sig_atomic_t pc_tty_fd = -1;

static void
pc_tty_signal( int sig )
{
	if ( pc_tty_fd >= 0 )
		tcsetattr( pc_tty_fd, TCSAFLUSH, &pc_tty_saved );
	signal( sig, SIG_DFL );
	raise( sig );
}

int
certpin_secret_prompt( const char *prompt, struct berval *out, char *err, size_t errlen )
{
	void (*oint)( int ), (*oterm)( int ), (*ohup)( int );
	struct termios old, quiet;
	size_t n = 0;
	ssize_t r;
	char c, *buf;
	int fd, restore = 0, rc = -1;

	PC_BVZERO( out );
	fd = open( "/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC );
	if ( fd < 0 ) {
		cp_err( err, errlen, "no terminal to ask for the %s on (%s)",
			prompt, strerror( errno ) );
		return -1;
	}
	buf = malloc( CERTPIN_SECRET_MAX + 1 );
	if ( buf == NULL ) {
		cp_err( err, errlen, "out of memory" );
		close( fd );
		return -1;
	}
	oint = signal( SIGINT, pc_tty_signal );
	oterm = signal( SIGTERM, pc_tty_signal );
	ohup = signal( SIGHUP, pc_tty_signal );
	if ( tcgetattr( fd, &old ) == 0 ) {
		quiet = old;
		quiet.c_lflag &= ~( ECHO | ECHOE | ECHOK | ECHONL );
		quiet.c_lflag |= ICANON;
		pc_tty_saved = old;
		pc_tty_fd = fd;
		if ( tcsetattr( fd, TCSAFLUSH, &quiet ) == 0 )
			restore = 1;
	}
	if ( write( fd, "Enter ", 6 ) < 0 || write( fd, prompt, strlen( prompt ) ) < 0 ||
		write( fd, ": ", 2 ) < 0 )
	{
		cp_err( err, errlen, "cannot write to the terminal: %s", strerror( errno ) );
		goto done;
	}
	for ( ;; ) {
		r = read( fd, &c, 1 );
		if ( r < 0 && errno == EINTR )
			continue;
		if ( r < 0 ) {
			cp_err( err, errlen, "cannot read the terminal: %s", strerror( errno ) );
			goto done;
		}
		if ( r == 0 || c == '\n' || c == '\r' )
			break;
		if ( n == CERTPIN_SECRET_MAX ) {
			cp_err( err, errlen, "%s longer than %d characters", prompt,
				CERTPIN_SECRET_MAX );
			goto done;
		}
		buf[n++] = c;
	}
	c = '\n';
	if ( write( fd, &c, 1 ) < 0 ) {
		/* the echo of the newline is cosmetic */
	}
	if ( n == 0 ) {
		cp_err( err, errlen, "no %s given", prompt );
		goto done;
	}
	buf[n] = '\0';
	out->bv_val = buf;
	out->bv_len = n;
	buf = NULL;
	rc = 0;
done:
	if ( restore )
		tcsetattr( fd, TCSAFLUSH, &old );
	pc_tty_fd = -1;
	signal( SIGINT, oint );
	signal( SIGTERM, oterm );
	signal( SIGHUP, ohup );
	close( fd );
	if ( buf != NULL ) {
		OPENSSL_cleanse( buf, CERTPIN_SECRET_MAX + 1 );
		free( buf );
	}
	OPENSSL_cleanse( &c, sizeof( c ) );
	return rc;
}

/* ---- TLS with a client certificate ------------------------------------------ */

int
certpin_tls_client_cert( LDAP *ld, const char *certfile, const char *keyfile,
	char *err, size_t errlen )
{
	/* A new handle starts with empty TLS file names (libldap copies only
	 * the process-wide context): copy what the defaults trust, then build
	 * this handle's own context with the certificate. */
	static const int strs[] = {
		LDAP_OPT_X_TLS_CACERTFILE, LDAP_OPT_X_TLS_CACERTDIR,
		LDAP_OPT_X_TLS_CIPHER_SUITE, 0
	};
	static const int ints[] = {
		LDAP_OPT_X_TLS_REQUIRE_CERT, LDAP_OPT_X_TLS_PROTOCOL_MIN, 0
	};
	int i, rc, v, is_server = 0;
	char *s;

	for ( i = 0; strs[i]; i++ ) {
		s = NULL;
		if ( ldap_get_option( NULL, strs[i], &s ) == LDAP_OPT_SUCCESS && s != NULL ) {
			rc = ldap_set_option( ld, strs[i], s );
			ldap_memfree( s );
			if ( rc != LDAP_OPT_SUCCESS )
				goto fail;
		}
	}
	for ( i = 0; ints[i]; i++ ) {
		if ( ldap_get_option( NULL, ints[i], &v ) == LDAP_OPT_SUCCESS &&
			ldap_set_option( ld, ints[i], &v ) != LDAP_OPT_SUCCESS )
			goto fail;
	}
	if ( ldap_set_option( ld, LDAP_OPT_X_TLS_CERTFILE, certfile ) != LDAP_OPT_SUCCESS ||
		ldap_set_option( ld, LDAP_OPT_X_TLS_KEYFILE, keyfile ) != LDAP_OPT_SUCCESS )
		goto fail;
	rc = ldap_set_option( ld, LDAP_OPT_X_TLS_NEWCTX, &is_server );
	if ( rc != LDAP_OPT_SUCCESS ) {
		cp_err( err, errlen, "cannot use the client certificate %s with key %s "
			"(unreadable, or the key does not match)", certfile, keyfile );
		return rc;
	}
	return LDAP_OPT_SUCCESS;
fail:
	cp_err( err, errlen, "cannot set up TLS for the client certificate" );
	return LDAP_OPT_ERROR;
}

/* ---- the user ---------------------------------------------------------------- */

typedef struct pc_found {
	int	pf_err;
	char	*pf_dn;
	int	pf_enabled;
} pc_found;

static int
pc_user_cb( LDAP *ld, cp_item *item, LDAPMessage *entry, int err, void *arg )
{
	pc_found *f = arg;
	struct berval **vals;
	char *dn;
	int i;

	f->pf_err = err;
	if ( entry == NULL ) {
		if ( err == LDAP_SUCCESS )
			f->pf_err = LDAP_NO_SUCH_OBJECT;
		return 0;
	}
	dn = ldap_get_dn( ld, entry );
	if ( dn == NULL ) {
		f->pf_err = LDAP_NO_MEMORY;
		return 0;
	}
	f->pf_dn = strdup( dn );
	ldap_memfree( dn );
	if ( f->pf_dn == NULL ) {
		f->pf_err = LDAP_NO_MEMORY;
		return 0;
	}
	vals = ldap_get_values_len( ld, entry, "objectClass" );
	for ( i = 0; vals && vals[i]; i++ ) {
		if ( vals[i]->bv_len == sizeof( "certpinUser" ) - 1 &&
			!strncasecmp( vals[i]->bv_val, "certpinUser", vals[i]->bv_len ) )
			f->pf_enabled = 1;
	}
	ldap_value_free_len( vals );
	return 0;
}

int
certpin_user_find( LDAP *ld, const char *config, const char *text, int quiet,
	char **dn, int *enabled )
{
	static char *attrs[] = { "objectClass", NULL };
	cp_idconf ic;
	cp_items its;
	cp_item item;
	pc_found f;
	int rc;

	*dn = NULL;
	memset( &ic, 0, sizeof( ic ) );
	memset( &f, 0, sizeof( f ) );
	memset( &item, 0, sizeof( item ) );
	cp_idconf_load( &ic, config );
	ic.ic_quiet_unknown = quiet;
	rc = cp_idconf_finish( &ic, ld );
	if ( rc != LDAP_SUCCESS ) {
		cp_idconf_free( &ic );
		return rc;
	}
	item.ci_value = (char *)text;
	its.it_v = &item;
	its.it_n = its.it_max = 1;
	its.it_src = "argument";
	f.pf_err = LDAP_OTHER;
	cp_id_resolve( ld, &ic, &its, attrs, pc_user_cb, &f );
	cp_idconf_free( &ic );
	if ( f.pf_err == LDAP_SUCCESS ) {
		*dn = f.pf_dn;
		if ( enabled )
			*enabled = f.pf_enabled;
	} else {
		free( f.pf_dn );
	}
	return f.pf_err;
}
