/* provclient.h - the client side of certpin's provisioning operation
 *
 * What a device (or an administrator acting for one) needs to get a client
 * certificate from a directory running the certpin overlay: a fresh key and
 * its PKCS#10 request, the certpinIssue extended operation (request
 * encoding, response decoding), PEM output files with safe modes, and
 * secrets (PINs) read from a terminal without echo or from a file.
 * Shared by certpin-issue and certpin-test.
 *
 * The operation (documented in slapo-certpin(5)):
 *	CertpinIssueRequest ::= SEQUENCE {
 *		csr            OCTET STRING,            -- DER PKCS#10
 *		identity   [0] OCTET STRING OPTIONAL,   -- DN (administrator path)
 *		phone      [1] OCTET STRING OPTIONAL,   -- phone number (PIN path)
 *		pin        [2] OCTET STRING OPTIONAL,   -- PIN (with phone)
 *		validity   [3] INTEGER OPTIONAL,        -- hours
 *		endpoint   [4] OCTET STRING OPTIONAL }  -- device id
 *	CertpinIssueResponse ::= SEQUENCE {
 *		certificate    OCTET STRING,            -- DER
 *		caCertificate  OCTET STRING }           -- DER
 */
#ifndef CERTPIN_PROVCLIENT_H
#define CERTPIN_PROVCLIENT_H

#include <stddef.h>
#include <lber.h>
#include <ldap.h>
#include <openssl/evp.h>

/* certpin.h's CERTPIN_OID_EXOP ".1": the two must agree. */
#define CERTPIN_ISSUE_OID \
	"2.25.200588203507426345906909541611622616575.3.1"

/* Context-specific primitive tags of the request's optional fields. */
#define CERTPIN_ISSUE_TAG_IDENTITY	((ber_tag_t) 0x80U)
#define CERTPIN_ISSUE_TAG_PHONE		((ber_tag_t) 0x81U)
#define CERTPIN_ISSUE_TAG_PIN		((ber_tag_t) 0x82U)
#define CERTPIN_ISSUE_TAG_VALIDITY	((ber_tag_t) 0x83U)
#define CERTPIN_ISSUE_TAG_ENDPOINT	((ber_tag_t) 0x84U)

/* CERTPIN_SECRET_MAX, certpin_secret_file(), certpin_secret_read(),
 * certpin_secret_free(): common.h (the -y password file of every tool
 * is read by the same function). */
#include "common.h"

/* Key kinds. */
enum {
	CERTPIN_KEY_EC = 0,		/* ECDSA on P-256 (the default) */
	CERTPIN_KEY_RSA			/* RSA, 2048 bits and up */
};
#define CERTPIN_RSA_MIN_BITS	2048
#define CERTPIN_RSA_MAX_BITS	16384
#define CERTPIN_RSA_DEFAULT_BITS 2048

typedef struct certpin_keyspec {
	int		ks_kind;	/* CERTPIN_KEY_EC or CERTPIN_KEY_RSA */
	int		ks_bits;	/* RSA modulus size; 256 for EC */
} certpin_keyspec;

/* Requested validities are 1 hour to 100 years (a sanity bound). */
#define CERTPIN_VALIDITY_MAX	876000L

/* Parse a requested validity (--validity HOURS): a whole number from 1 to
 * CERTPIN_VALIDITY_MAX.  0, or -1 when arg is not one. */
int certpin_validity_parse( const char *arg, long *hours );

/* The options with which certpin-issue and certpin-test ask for a
 * certificate: -k, --phone, --pin-file, --validity, --endpoint, --config.
 * Tools number their own long options from CERTPIN_OPT_TOOL up and give
 * certpin_req_opt() first look at each option. */
typedef struct certpin_req_opts {
	char	*keykind;	/* -k KIND */
	char	*phone;		/* --phone NUMBER */
	char	*pin_file;	/* --pin-file FILE */
	long	validity;	/* --validity HOURS, 0: the server's */
	char	*endpoint;	/* --endpoint ID */
	char	*config;	/* --config FILE */
} certpin_req_opts;

enum {
	CERTPIN_OPT_PHONE = 0x100, CERTPIN_OPT_PIN_FILE, CERTPIN_OPT_VALIDITY,
	CERTPIN_OPT_ENDPOINT, CERTPIN_OPT_CONFIG, CERTPIN_OPT_TOOL
};

#define CERTPIN_REQ_LONGOPTS \
	{ "phone", required_argument, NULL, CERTPIN_OPT_PHONE }, \
	{ "pin-file", required_argument, NULL, CERTPIN_OPT_PIN_FILE }, \
	{ "validity", required_argument, NULL, CERTPIN_OPT_VALIDITY }, \
	{ "endpoint", required_argument, NULL, CERTPIN_OPT_ENDPOINT }, \
	{ "config", required_argument, NULL, CERTPIN_OPT_CONFIG }

/* 1 when c is one of the options above (stored in ro; bad values are usage
 * errors), 0 otherwise. */
int certpin_req_opt( certpin_req_opts *ro, int c, char *arg );

/* One request.  Absent optional fields are NULL (or 0 for ir_validity). */
typedef struct certpin_issue_req {
	struct berval	ir_csr;		/* DER PKCS#10, not owned */
	const char	*ir_identity;	/* user's DN (administrator path) */
	const char	*ir_phone;	/* phone number (PIN path) */
	struct berval	ir_pin;		/* PIN, with ir_phone; not owned */
	long		ir_validity;	/* requested validity in hours; 0: server's default */
	const char	*ir_endpoint;	/* device / endpoint id */
} certpin_issue_req;

/* One answer.  On success is_cert and is_ca hold DER (ber_memalloc'd); on
 * failure is_diag and is_matched hold what the server said (or NULL). */
typedef struct certpin_issue_res {
	struct berval	is_cert;	/* issued certificate */
	struct berval	is_ca;		/* issuing CA certificate */
	char		*is_diag;	/* server's diagnostic message */
	char		*is_matched;	/* matched DN */
} certpin_issue_res;

/* ---- keys and requests ---------------------------------------------------- */

/* Parse a key kind given by a person: "ec" (P-256), "p-256", "prime256v1",
 * "rsa" (2048 bits) or "rsa:BITS" / "rsaBITS".  0, or -1 with a reason. */
int certpin_keyspec_parse( const char *s, certpin_keyspec *ks,
	char *err, size_t errlen );

/* Generate a fresh key of that kind.  NULL with a reason on failure. */
EVP_PKEY *certpin_key_generate( const certpin_keyspec *ks,
	char *err, size_t errlen );

/* A PKCS#10 request for key, subject CN=cn (the server names the
 * certificate from its own template: the subject asked here is a hint),
 * signed with SHA-256.  DER in *der (malloc'd).  0 or -1 with a reason. */
int certpin_csr_make( EVP_PKEY *key, const char *cn, struct berval *der,
	char *err, size_t errlen );

/* Read a PKCS#10 request from a file (PEM or DER), check its signature;
 * DER in *der (malloc'd).  0 or -1 with a reason. */
int certpin_csr_read( const char *path, struct berval *der,
	char *err, size_t errlen );

/* Read one certificate from a file (PEM or DER) as DER (malloc'd). */
int certpin_cert_read( const char *path, struct berval *der,
	char *err, size_t errlen );

/* Read a private key from a PEM file (unencrypted). */
EVP_PKEY *certpin_key_read( const char *path, char *err, size_t errlen );

/* Does key belong to the certificate der?  1 yes, 0 no. */
int certpin_key_matches_cert( EVP_PKEY *key, const struct berval *der );

/* ---- the extended operation ----------------------------------------------- */

/* Encode req as a CertpinIssueRequest (ber_memalloc'd into *out). */
int certpin_issue_encode( const certpin_issue_req *req, struct berval *out );

/* Decode a CertpinIssueResponse; cert and ca are ber_memalloc'd. 0 or -1. */
int certpin_issue_decode( const struct berval *data, struct berval *cert,
	struct berval *ca );

/* Send the operation on ld (already connected and bound as it should be)
 * and wait for the answer.  Returns the LDAP result code (LDAP_SUCCESS with
 * res->is_cert and res->is_ca filled; a malformed answer gives
 * LDAP_DECODING_ERROR), and always fills res's diagnostics when the server
 * sent some.  timeout may be NULL (wait for ever). */
int certpin_issue( LDAP *ld, const certpin_issue_req *req,
	struct timeval *timeout, certpin_issue_res *res );

void certpin_issue_res_free( certpin_issue_res *res );

/* ---- output files --------------------------------------------------------- */

/* An output file reserved before the server is asked, so that a refusal
 * to overwrite changes nothing on the server, and removed again when the
 * operation fails.  Without force an existing file is refused (O_EXCL);
 * with force the content goes to a temporary file in the same directory
 * that replaces the target only on certpin_out_commit(). */
typedef struct certpin_out {
	char		*co_path;	/* the target */
	char		*co_tmp;	/* the temporary file (force), or NULL */
	int		co_fd;
	mode_t		co_mode;
} certpin_out;

/* Reserve path with mode (0600 for keys, 0644 for certificates). */
int certpin_out_open( certpin_out *o, const char *path, mode_t mode,
	int force, char *err, size_t errlen );
/* Write one DER certificate as PEM, or a private key as PKCS#8 PEM. */
int certpin_out_cert( certpin_out *o, const struct berval *der,
	char *err, size_t errlen );
int certpin_out_key( certpin_out *o, EVP_PKEY *key, char *err, size_t errlen );
/* Make the file final (fsync, close, rename with force).  0 or -1. */
int certpin_out_commit( certpin_out *o, char *err, size_t errlen );
/* Give up: close and remove what was created (the target is untouched
 * when it existed before).  Harmless after commit or on a zeroed struct. */
void certpin_out_abort( certpin_out *o );

/* ---- secrets -------------------------------------------------------------- */

/* Prompt on the controlling terminal (/dev/tty) and read one line without
 * echo.  Fails (-1 with a reason) when there is no terminal. */
int certpin_secret_prompt( const char *prompt, struct berval *out,
	char *err, size_t errlen );

/* The PIN of a phone proof: from pin_file (certpin_secret_file) when it
 * is not NULL, else asked on the terminal.  0 or -1 with a reason. */
int certpin_pin_read( const char *pin_file, struct berval *pin,
	char *err, size_t errlen );


/* ---- TLS with a client certificate ------------------------------------------ */

/* Give ld (initialized, not yet connected) its own TLS context presenting
 * certfile/keyfile (PEM), trusting what the process-wide defaults trust
 * (ldap.conf, LDAPTLS_CACERT, ...).  Returns an LDAP_OPT_* result. */
int certpin_tls_client_cert( LDAP *ld, const char *certfile,
	const char *keyfile, char *err, size_t errlen );

/* ---- the user ---------------------------------------------------------------- */

/* Resolve one identity (any form identity.c accepts) on ld, with the
 * settings of config (NULL: $CERTPIN_CONF or the default file).  Returns
 * LDAP_SUCCESS with *dn (malloc'd) and, when enabled is not NULL, whether
 * the entry holds the certpinUser class; LDAP_NO_SUCH_OBJECT for an
 * unknown user; another code for other failures.  With quiet, nothing is
 * printed for an unknown user (the caller explains). */
int certpin_user_find( LDAP *ld, const char *config, const char *text,
	int quiet, char **dn, int *enabled );

#endif /* CERTPIN_PROVCLIENT_H */
