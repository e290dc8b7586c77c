/* provreq.h - the certpinIssue request: decoder, encoder and CSR checks
 *
 * The bytes a device sends to the overlay's provisioning operation (any
 * client that can open a connection: before any proof), decoded here and
 * nowhere else.  The overlay (slapo-certpin/provision.c) and the fuzz
 * targets (fuzz/fuzz-provreq-decode.c, fuzz/fuzz-csr-check.c) call exactly
 * this code.  Needs only libcrypto (and lber.h for struct berval).
 *
 *   CertpinIssueRequest ::= SEQUENCE {
 *       csr            OCTET STRING,          -- DER PKCS#10
 *       identity   [0] OCTET STRING OPTIONAL, -- DN (administrators)
 *       phone      [1] OCTET STRING OPTIONAL, -- phone number (with pin)
 *       pin        [2] OCTET STRING OPTIONAL,
 *       validity   [3] INTEGER OPTIONAL,      -- hours
 *       endpoint   [4] OCTET STRING OPTIONAL }
 *
 * The request is BER as LDAP restricts it (RFC 4511 section 5.1): definite
 * lengths only (the long form of up to 4 octets is accepted even where a
 * shorter one would do: liblber writes 4 by default), one-octet tags, the
 * optional fields in tag order, each at most once, all primitive, the
 * validity a non-negative INTEGER in its shortest form (X.690 8.3.2), and
 * nothing after the SEQUENCE.  The decoder keeps the length forms it read,
 * so an accepted request re-encodes (certpin_req_encode) to exactly its
 * bytes: nothing in it is skipped or ignored.
 */
#ifndef CERTPIN_PROVREQ_H
#define CERTPIN_PROVREQ_H

#include <stddef.h>
#include <lber.h>		/* struct berval */
#include <openssl/x509.h>	/* X509_REQ, EVP_PKEY */

/* Largest CSR accepted (bytes of DER); largest RSA key (bits). */
#define CERTPIN_CSR_MAX		8192
#define CERTPIN_RSA_MAX		16384

/* Context-specific primitive tags of the optional fields. */
#define CERTPIN_REQ_TAG_IDENTITY	0x80
#define CERTPIN_REQ_TAG_PHONE		0x81
#define CERTPIN_REQ_TAG_PIN		0x82
#define CERTPIN_REQ_TAG_VALIDITY	0x83
#define CERTPIN_REQ_TAG_ENDPOINT	0x84

/* A decoded request.  Every berval points into the decoded bytes; an
 * optional field that is absent has bv_val NULL (present and empty: bv_val
 * set, bv_len 0). */
typedef struct certpin_req {
	struct berval	rq_csr;		/* the CSR's DER (the OCTET STRING's contents) */
	struct berval	rq_identity;	/* [0] */
	struct berval	rq_phone;	/* [1] */
	struct berval	rq_pin;		/* [2] */
	struct berval	rq_validity_der; /* [3]: the INTEGER's contents octets */
	int		rq_has_validity;
	long		rq_validity;	/* [3] in hours; 0x7fffffff when larger */
	struct berval	rq_endpoint;	/* [4] */
	unsigned char	rq_lenlen[7];	/* length octets as received of the
					 * SEQUENCE, the CSR, [0] .. [4]; 0 (or
					 * too few): the shortest form */
} certpin_req;

/* rq_lenlen's indexes. */
#define CERTPIN_REQ_LL_SEQ	0
#define CERTPIN_REQ_LL_CSR	1
#define CERTPIN_REQ_LL_FIELD( tag )	( 2 + ( (tag) - CERTPIN_REQ_TAG_IDENTITY ) )

/* Decode a request.  0 and *rq, or -1 with why (a short sentence, no
 * prefix) in why/whylen; *rq is then zeroed. */
int certpin_req_decode( const struct berval *data, certpin_req *rq,
	char *why, size_t whylen );

/* Encode *rq (each length in the form rq_lenlen says, else the shortest;
 * the validity from rq_validity_der when set, else from rq_validity).  Returns the length of the encoding; writes it to out only
 * when outlen is large enough.  certpin_req_encode() of a request that
 * certpin_req_decode() accepted gives back the same bytes. */
size_t certpin_req_encode( const certpin_req *rq, unsigned char *out,
	size_t outlen );

/* The bulk request (certpinIssueBulk): many requests in one, each item a
 * CertpinIssueRequest as above (the server accepts only items that name
 * their user, from an administrator):
 *
 *   CertpinIssueBulkRequest ::= SEQUENCE SIZE (1..CERTPIN_BULK_MAX_ITEMS)
 *       OF CertpinIssueRequest
 *
 * The same BER rules, item by item; nothing after the outer SEQUENCE, and
 * nothing inside it but items.  At most CERTPIN_BULK_MAX_BYTES bytes. */
#define CERTPIN_BULK_MAX_ITEMS	1000
#define CERTPIN_BULK_MAX_BYTES	( 2 * 1024 * 1024 )

/* Decode a bulk request into items[0 .. *n-1] (max: the room in items; more
 * items than that is refused, with a message starting "more than").  0, or
 * -1 with why (naming the item) and *n 0, the items zeroed.  *lenlen: the
 * length octets of the outer SEQUENCE as received. */
int certpin_bulk_decode( const struct berval *data, certpin_req *items,
	size_t max, size_t *n, unsigned char *lenlen, char *why, size_t whylen );

/* Encode n items (each as certpin_req_encode does) in one bulk request, the
 * outer length in lenlen octets (0: the shortest form).  Returns the length;
 * writes to out only when outlen is large enough.  Gives back the bytes
 * certpin_bulk_decode() accepted. */
size_t certpin_bulk_encode( const certpin_req *items, size_t n,
	unsigned lenlen, unsigned char *out, size_t outlen );

/* Is pkey a kind of key a CSR (or, with allow_p384, also the CA) may have:
 * ECDSA P-256 (P-384), RSA 2048 to CERTPIN_RSA_MAX bits?  NULL if yes,
 * else why not (in buf). */
const char *certpin_key_kind( EVP_PKEY *pkey, int allow_p384, char *buf,
	size_t len );

/* A checked CSR: what issuance needs of it. */
typedef struct certpin_csr {
	EVP_PKEY	*cs_pkey;	/* its key (ECDSA P-256/P-384 or RSA) */
	int		cs_alg_nid;	/* NID_X9_62_id_ecPublicKey or NID_rsaEncryption */
	int		cs_curve_nid;	/* the EC key's curve; NID_undef for RSA */
	const unsigned char *cs_key;	/* subjectPublicKey's bits (into the CSR) */
	size_t		cs_key_len;
} certpin_csr;

/* Parse and check a CSR: one DER PKCS#10 request (nothing after it, each
 * length in its shortest form, at most CERTPIN_CSR_MAX bytes, version 0), an
 * acceptable key (certpin_key_kind, P-384 allowed), signed with ECDSA or
 * RSA PKCS#1 v1.5 and SHA-256, -384 or -512, a signature that verifies with
 * that key.  The subject and attributes are not read (the certificate
 * takes nothing from them).  Each part is decoded once, by this reader:
 * the key is built from its parameters (EVP_PKEY_fromdata), not through
 * OpenSSL 3's decoder framework (whose set-up cost a third of an issuance).
 * NULL and *out (free with certpin_csr_free), or a message starting
 * "certpinIssue: " (in buf, or a constant) and *out zeroed. */
const char *certpin_csr_check( const struct berval *csr, certpin_csr *out,
	char *buf, size_t len );
void certpin_csr_free( certpin_csr *cs );
/* Free the curve keys made once; only when no CSR can be checked any more
 * (the module's term_module()): after it keys are built the slow way. */
void certpin_csr_release( void );

#endif /* CERTPIN_PROVREQ_H */
