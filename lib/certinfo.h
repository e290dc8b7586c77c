/* certinfo.h - certificate metadata shared by the certpin overlay and tools
 *
 * The only code in certpin that reads certificate DER.  It turns one X.509
 * certificate into one struct certpin_certinfo, and turns that struct into
 * (and back from) the one-line record the overlay stores in certpinCertInfo.
 *
 * Record format (documented in slapo-certpin(5)): fields "name=value"
 * separated by '$'; inside a value '\' and '$' are written \5c and \24, as
 * in RFC 4517's Postal Address syntax.  Unknown fields are ignored by
 * readers, so fields can be added later.
 */
#ifndef CERTPIN_CERTINFO_H
#define CERTPIN_CERTINFO_H

#include <stddef.h>
#include <time.h>
#include <openssl/types.h>	/* X509 */

/* Largest certificate accepted anywhere (bytes of DER). */
#define CERTPIN_MAX_DER		16384
/* Longest serial number accepted, in bytes (RFC 5280 says 20). */
#define CERTPIN_MAX_SERIAL	32
/* GeneralizedTime as stored: YYYYMMDDHHMMSSZ */
#define CERTPIN_GENTIME_LEN	15
/* ISO 8601 UTC: YYYY-MM-DDTHH:MM:SSZ */
#define CERTPIN_ISOTIME_LEN	20

typedef struct certpin_certinfo {
	char	ci_sha256[65];		/* lowercase hex SHA-256 of the DER */
	char	ci_sha1[41];		/* uppercase hex SHA-1, as Windows shows */
	char	ci_serial[2 * CERTPIN_MAX_SERIAL + 1]; /* uppercase hex, as openssl -serial */
	char	ci_published[CERTPIN_GENTIME_LEN + 1];	/* when recorded on the entry */
	char	ci_notbefore[CERTPIN_GENTIME_LEN + 1];	/* validity start */
	char	ci_notafter[CERTPIN_GENTIME_LEN + 1];	/* validity end (expiration) */
	time_t	ci_notbefore_t;		/* the same, as time_t */
	time_t	ci_notafter_t;
	char	*ci_issuer;		/* RFC 4514 string, malloc'd */
	char	*ci_subject;		/* RFC 4514 string, malloc'd */
	char	*ci_endpoint;		/* device/endpoint id or NULL, malloc'd */
} certpin_certinfo;

/* Parse exactly one DER certificate (no trailing bytes, at most
 * CERTPIN_MAX_DER).  Returns 0 and fills *ci (ci_published and ci_endpoint
 * left empty), or -1 with a reason in err. */
int certpin_certinfo_from_der( const unsigned char *der, size_t len,
	certpin_certinfo *ci, char *err, size_t errlen );

/* The same from a certificate already parsed (or built and signed: nothing
 * of its public key is decoded): x and its DER encoding der/len, which the
 * digests are computed from.  Returns 0 and fills *ci, or -1 (err). */
int certpin_certinfo_from_x509( X509 *x, const unsigned char *der, size_t len,
	certpin_certinfo *ci, char *err, size_t errlen );

/* Free what *ci owns and zero it. */
void certpin_certinfo_free( certpin_certinfo *ci );

/* Format *ci as a record; returns a malloc'd string, NULL on no memory. */
char *certpin_certinfo_format( const certpin_certinfo *ci );

/* Read a record back into *ci (strings malloc'd).  Returns 0, or -1 when
 * the record lacks its sha256 field. */
int certpin_certinfo_parse( const char *rec, size_t len, certpin_certinfo *ci );

/* Record fields.  certpin_rec_add() appends "name=escaped(value)" to a
 * growing malloc'd buffer (*buf may be NULL); -1 on no memory.
 * certpin_rec_get() finds a field and unescapes it into out; returns its
 * length or -1 when absent or longer than outlen-1. */
int certpin_rec_add( char **buf, size_t *len, const char *name, const char *value );
long certpin_rec_get( const char *rec, size_t len, const char *name,
	char *out, size_t outlen );

/* Hex digests of a buffer. */
void certpin_sha256_hex( const unsigned char *buf, size_t len, char out[65] );
/* Free the digests fetched once; only when nothing can hash any more (the
 * module's term_module()): after it the fallbacks are used. */
void certpin_md_release( void );

/* Times.  certpin_gentime() formats t as YYYYMMDDHHMMSSZ; certpin_gentime_parse()
 * reads that form (0, or -1 if malformed); certpin_gentime_iso() turns it into
 * YYYY-MM-DDTHH:MM:SSZ (0 or -1). */
void certpin_gentime( time_t t, char out[CERTPIN_GENTIME_LEN + 1] );
int certpin_gentime_parse( const char *s, time_t *t );
int certpin_gentime_iso( const char *gt, char out[CERTPIN_ISOTIME_LEN + 1] );

/* Parse a date given by a person: YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z],
 * "YYYY-MM-DD HH:MM[:SS]", or GeneralizedTime; always UTC.  0 or -1. */
int certpin_date_parse( const char *s, time_t *t );

/* Is s a lowercase 64-digit hex SHA-256? */
int certpin_is_sha256_hex( const char *s, size_t len );

#endif /* CERTPIN_CERTINFO_H */
