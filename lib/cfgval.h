/* cfgval.h - the values of certpin's configuration directives
 *
 * What the overlay's ARG_MAGIC handlers decide about a directive's value
 * themselves (slapd has already parsed ARG_INT, ARG_ON_OFF, ARG_DN and
 * ARG_ATDESC values; the handlers in slapo-certpin/ keep the slapd glue: ConfigArgs,
 * emit, delete, the instance state).  The handlers and the fuzz target
 * fuzz/fuzz-cfgval.c call exactly this code.  Needs only libcrypto.
 *
 *   certpin_cfg_range()      an integer directive's bounds (every ARG_INT
 *                            row: certpinMaxCerts, certpinRecheck, the PIN
 *                            policy, the validity hours)
 *   certpin_cfg_pin_scheme() the PIN hash scheme (certpinPINHash)
 *   certpin_ca_cert_read()   the CA certificate file (certpinCACert): PEM
 *   certpin_ca_key_read()    the CA key file (certpinCAKey): PEM
 *
 * Each returns 0, or -1 with the reason in msg (the text slapd reports for
 * the directive) and nothing kept.
 */
#ifndef CERTPIN_CFGVAL_H
#define CERTPIN_CFGVAL_H

#include <stddef.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* "<name> must be between lo and hi[ unit]" unless lo <= v <= hi. */
int certpin_cfg_range( const char *name, int v, int lo, int hi, const char *unit,
	char *msg, size_t msglen );

/* A scheme slapd knows (known: lutil_passwd_scheme( scheme ) != 0, asked by
 * the caller, which has slapd) that is safe for PINs: not {CLEARTEXT} nor
 * {CRYPT}, in any case. */
int certpin_cfg_pin_scheme( const char *name, const char *scheme, int known,
	char *msg, size_t msglen );

/* The first PEM certificate of bio (file names it in messages), a CA
 * certificate (X509_check_ca), and its DER (*der, OPENSSL_malloc'd, *derlen
 * bytes).  *xp and *der are set only on success. */
int certpin_ca_cert_read( BIO *bio, const char *file, X509 **xp,
	unsigned char **der, int *derlen, char *msg, size_t msglen );

/* The first PEM private key of bio (unencrypted: no passphrase is ever
 * asked), of a kind certpin signs with (certpin_key_kind(), P-384 allowed). */
int certpin_ca_key_read( BIO *bio, const char *file, EVP_PKEY **kp,
	char *msg, size_t msglen );

#endif /* CERTPIN_CFGVAL_H */
