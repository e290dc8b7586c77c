/* cfgval.c - the values of certpin's configuration directives
 *
 * See cfgval.h.  The messages are those the overlay's handlers gave
 * before this code moved here.  Nothing is left on OpenSSL's error queue
 * (slapd's TLS code reads that queue on the same thread).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cfgval.h"
#include "provreq.h"

int
certpin_cfg_range( const char *name, int v, int lo, int hi, const char *unit,
	char *msg, size_t msglen )
{
	if ( v >= lo && v <= hi )
		return 0;
	snprintf( msg, msglen, "<%s> must be between %d and %d%s%s",
		name, lo, hi, unit ? " " : "", unit ? unit : "" );
	return -1;
}

int
certpin_cfg_pin_scheme( const char *name, const char *scheme, int known,
	char *msg, size_t msglen )
{
	if ( !known ) {
		snprintf( msg, msglen, "<%s> unknown password scheme \"%s\" "
			"(load its module first, e.g. argon2)", name, scheme );
		return -1;
	}
	if ( strcasecmp( scheme, "{CLEARTEXT}" ) == 0 ||
	     strcasecmp( scheme, "{CRYPT}" ) == 0 ) {
		snprintf( msg, msglen, "<%s> \"%s\" is not a safe scheme for PINs",
			name, scheme );
		return -1;
	}
	return 0;
}

/* No passphrase callback prompts on slapd's terminal: an encrypted key
 * is refused. */
static int
certpin_no_pass( char *buf, int size, int rwflag, void *u )
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

int
certpin_ca_cert_read( BIO *bio, const char *file, X509 **xp,
	unsigned char **der, int *derlen, char *msg, size_t msglen )
{
	X509 *x = NULL;
	unsigned char *d = NULL;
	int n;

	if ( bio )
		x = PEM_read_bio_X509( bio, NULL, certpin_no_pass, NULL );
	ERR_clear_error();
	if ( x == NULL ) {
		snprintf( msg, msglen, "cannot read a PEM certificate from \"%s\"", file );
		return -1;
	}
	/* X509_check_ca() queues an error for a certificate whose extensions
	 * do not decode: none may be left for slapd's next TLS call to find */
	n = X509_check_ca( x );
	ERR_clear_error();
	if ( n < 1 ) {
		snprintf( msg, msglen, "\"%s\" is not a CA certificate", file );
		X509_free( x );
		return -1;
	}
	n = i2d_X509( x, &d );
	if ( n <= 0 ) {
		ERR_clear_error();
		snprintf( msg, msglen, "cannot encode \"%s\"", file );
		X509_free( x );
		return -1;
	}
	*xp = x;
	*der = d;
	*derlen = n;
	return 0;
}

int
certpin_ca_key_read( BIO *bio, const char *file, EVP_PKEY **kp,
	char *msg, size_t msglen )
{
	EVP_PKEY *k = NULL;
	char why[128];
	int n;

	if ( bio )
		k = PEM_read_bio_PrivateKey( bio, NULL, certpin_no_pass, NULL );
	ERR_clear_error();
	if ( k == NULL ) {
		snprintf( msg, msglen, "cannot read a PEM private key (unencrypted) "
			"from \"%s\"", file );
		return -1;
	}
	n = certpin_key_kind( k, 1, why, sizeof( why ) ) != NULL;
	ERR_clear_error();
	if ( n ) {
		snprintf( msg, msglen, "CA key \"%s\": %s", file, why );
		EVP_PKEY_free( k );
		return -1;
	}
	*kp = k;
	return 0;
}
