/* provision.c - certpin's certificate provisioning extended operation
 *
 * What Lync's certificate provisioning service does: a device proves who
 * its user is and gets a client certificate for that user, signed by the
 * directory's CA (certpin-ca-cert, certpin-ca-key) and recorded on the
 * user's entry in the same operation (write.c: certpin_write_record).
 *
 * The extended operation certpinIssue (CERTPIN_OID_EXOP ".1"):
 *
 *   CertpinIssueRequest ::= SEQUENCE {
 *       csr            OCTET STRING,          -- DER PKCS#10
 *       identity   [0] OCTET STRING OPTIONAL, -- DN (administrators)
 *       phone      [1] OCTET STRING OPTIONAL, -- phone number (with pin)
 *       pin        [2] OCTET STRING OPTIONAL,
 *       validity   [3] INTEGER OPTIONAL,      -- hours
 *       endpoint   [4] OCTET STRING OPTIONAL }
 *   CertpinIssueResponse ::= SEQUENCE {
 *       certificate    OCTET STRING,          -- DER
 *       caCertificate  OCTET STRING }         -- DER
 *
 * Who may ask: the bound user for themselves; anyone over TLS with the
 * user's phone number and PIN (pin.c); an administrator (the root DN of
 * the user's database or a member of certpin-admin-group) for any user.
 * The certificate's subject and SAN come from the user's entry, never from
 * the CSR: CN=<certpin-cn-attribute> and URI sip:<certpin-sip-attribute>.
 */

#include "certpin.h"

#include <ac/string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CP_PROV_OID		CERTPIN_OID_EXOP ".1"
#define CP_VALID_DEFAULT	4320
#define CP_VALID_MIN		8
#define CP_VALID_MAX		8760
#define CP_VALID_LIMIT		(20 * 8760)	/* no policy beyond 20 years */
#define CP_CSR_MAX		8192	/* bytes of DER */
#define CP_RSA_MAX		16384	/* bits */
#define CP_ENDPOINT_MAX		256
#define CP_SECRET_MAX		64	/* phone and PIN, bytes */
#define CP_SERIAL_BYTES		16

static const struct berval cp_prov_oid = BER_BVC( CP_PROV_OID );

typedef struct cp_prov {
	char		*pv_cert_file;	/* certpin-ca-cert */
	char		*pv_key_file;	/* certpin-ca-key */
	X509		*pv_cert;	/* the CA certificate */
	EVP_PKEY	*pv_key;	/* its key */
	struct berval	pv_cert_der;	/* the CA certificate, DER */
	int		pv_valid_def;	/* hours, when the request says none */
	int		pv_valid_min;
	int		pv_valid_max;
	struct berval	pv_admin;	/* certpin-admin-group */
	struct berval	pv_nadmin;
	AttributeDescription *pv_cn;	/* subject CN from this attribute */
	AttributeDescription *pv_sip;	/* SAN sip: URI from this attribute */
} cp_prov;

static cp_prov *
cp_prov_get( Operation *op )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;

	return ci->ci_prov;
}

/* ---- the CA ------------------------------------------------------------ */

/* Is pkey a kind the CA may have and the CSRs may carry?  NULL if yes. */
static const char *
cp_key_kind( EVP_PKEY *pkey, int allow_p384, char *buf, size_t len )
{
	char group[64];
	size_t glen = 0;
	int bits = EVP_PKEY_get_bits( pkey );

	switch ( EVP_PKEY_get_base_id( pkey ) ) {
	case EVP_PKEY_RSA:
		if ( bits < 2048 ) {
			snprintf( buf, len, "RSA key of %d bits: at least 2048 required", bits );
			return buf;
		}
		if ( bits > CP_RSA_MAX ) {
			snprintf( buf, len, "RSA key of %d bits: at most %d accepted",
				bits, CP_RSA_MAX );
			return buf;
		}
		return NULL;
	case EVP_PKEY_EC:
		if ( !EVP_PKEY_get_utf8_string_param( pkey, OSSL_PKEY_PARAM_GROUP_NAME,
				group, sizeof( group ), &glen ) ) {
			snprintf( buf, len, "EC key on an unnamed curve" );
			return buf;
		}
		if ( strcmp( group, "prime256v1" ) == 0 ||
		     ( allow_p384 && strcmp( group, "secp384r1" ) == 0 ) )
			return NULL;
		snprintf( buf, len, "EC key on curve %s: P-256%s required", group,
			allow_p384 ? " or P-384" : "" );
		return buf;
	}
	snprintf( buf, len, "key type %s: ECDSA or RSA required",
		OBJ_nid2sn( EVP_PKEY_get_base_id( pkey ) ) );
	return buf;
}

static int
cp_load_cert( cp_prov *pv, const char *file, char *msg, size_t len )
{
	BIO *bio = BIO_new_file( file, "r" );
	X509 *x = NULL;
	unsigned char *der = NULL;
	int n;

	if ( bio )
		x = PEM_read_bio_X509( bio, NULL, NULL, NULL );
	BIO_free( bio );
	if ( x == NULL ) {
		snprintf( msg, len, "cannot read a PEM certificate from \"%s\"", file );
		return -1;
	}
	if ( X509_check_ca( x ) < 1 ) {
		snprintf( msg, len, "\"%s\" is not a CA certificate", file );
		X509_free( x );
		return -1;
	}
	n = i2d_X509( x, &der );
	if ( n <= 0 ) {
		snprintf( msg, len, "cannot encode \"%s\"", file );
		X509_free( x );
		return -1;
	}
	X509_free( pv->pv_cert );
	if ( pv->pv_cert_der.bv_val )
		ch_free( pv->pv_cert_der.bv_val );
	pv->pv_cert = x;
	pv->pv_cert_der.bv_val = ch_malloc( n );
	memcpy( pv->pv_cert_der.bv_val, der, n );
	pv->pv_cert_der.bv_len = n;
	OPENSSL_free( der );
	return 0;
}

static int
cp_load_key( cp_prov *pv, const char *file, char *msg, size_t len )
{
	BIO *bio = BIO_new_file( file, "r" );
	EVP_PKEY *k = NULL;
	char why[128];

	if ( bio )
		k = PEM_read_bio_PrivateKey( bio, NULL, NULL, NULL );
	BIO_free( bio );
	if ( k == NULL ) {
		snprintf( msg, len, "cannot read a PEM private key (unencrypted) "
			"from \"%s\"", file );
		return -1;
	}
	if ( cp_key_kind( k, 1, why, sizeof( why ) ) ) {
		snprintf( msg, len, "CA key \"%s\": %s", file, why );
		EVP_PKEY_free( k );
		return -1;
	}
	EVP_PKEY_free( pv->pv_key );
	pv->pv_key = k;
	return 0;
}

/* ---- configuration ----------------------------------------------------- */

enum {
	CP_PROV_CACERT = 1,
	CP_PROV_CAKEY,
	CP_PROV_VALID,
	CP_PROV_VALID_MIN,
	CP_PROV_VALID_MAX,
	CP_PROV_ADMIN,
	CP_PROV_CN,
	CP_PROV_SIP
};

static int
certpin_prov_cf( ConfigArgs *c )
{
	slap_overinst *on = (slap_overinst *)c->bi;
	certpin_info *ci = on->on_bi.bi_private;
	cp_prov *pv = ci->ci_prov;
	const char *text;
	int *ip = NULL;

	switch ( c->op ) {
	case SLAP_CONFIG_EMIT:
		switch ( c->type ) {
		case CP_PROV_CACERT:
			if ( pv->pv_cert_file == NULL )
				return 1;
			c->value_string = ch_strdup( pv->pv_cert_file );
			break;
		case CP_PROV_CAKEY:
			if ( pv->pv_key_file == NULL )
				return 1;
			c->value_string = ch_strdup( pv->pv_key_file );
			break;
		case CP_PROV_VALID: c->value_int = pv->pv_valid_def; break;
		case CP_PROV_VALID_MIN: c->value_int = pv->pv_valid_min; break;
		case CP_PROV_VALID_MAX: c->value_int = pv->pv_valid_max; break;
		case CP_PROV_ADMIN:
			if ( BER_BVISNULL( &pv->pv_admin ) )
				return 1;
			value_add_one( &c->rvalue_vals, &pv->pv_admin );
			value_add_one( &c->rvalue_nvals, &pv->pv_nadmin );
			break;
		case CP_PROV_CN: c->value_ad = pv->pv_cn; break;
		case CP_PROV_SIP: c->value_ad = pv->pv_sip; break;
		}
		return 0;
	case LDAP_MOD_DELETE:
		switch ( c->type ) {
		case CP_PROV_CACERT:
			ch_free( pv->pv_cert_file );
			pv->pv_cert_file = NULL;
			X509_free( pv->pv_cert );
			pv->pv_cert = NULL;
			ch_free( pv->pv_cert_der.bv_val );
			BER_BVZERO( &pv->pv_cert_der );
			break;
		case CP_PROV_CAKEY:
			ch_free( pv->pv_key_file );
			pv->pv_key_file = NULL;
			EVP_PKEY_free( pv->pv_key );
			pv->pv_key = NULL;
			break;
		case CP_PROV_VALID: pv->pv_valid_def = CP_VALID_DEFAULT; break;
		case CP_PROV_VALID_MIN: pv->pv_valid_min = CP_VALID_MIN; break;
		case CP_PROV_VALID_MAX: pv->pv_valid_max = CP_VALID_MAX; break;
		case CP_PROV_ADMIN:
			ch_free( pv->pv_admin.bv_val );
			ch_free( pv->pv_nadmin.bv_val );
			BER_BVZERO( &pv->pv_admin );
			BER_BVZERO( &pv->pv_nadmin );
			break;
		case CP_PROV_CN:
			slap_str2ad( "uid", &pv->pv_cn, &text );
			break;
		case CP_PROV_SIP:
			slap_str2ad( "mail", &pv->pv_sip, &text );
			break;
		}
		return 0;
	}

	switch ( c->type ) {
	case CP_PROV_CACERT:
	case CP_PROV_CAKEY:
		if ( ( c->type == CP_PROV_CACERT ?
				cp_load_cert( pv, c->value_string, c->cr_msg, sizeof( c->cr_msg ) ) :
				cp_load_key( pv, c->value_string, c->cr_msg, sizeof( c->cr_msg ) ) ) ) {
			Debug( LDAP_DEBUG_ANY, "%s: %s\n", c->log, c->cr_msg );
			ch_free( c->value_string );
			c->value_string = NULL;
			return ARG_BAD_CONF;
		}
		if ( c->type == CP_PROV_CACERT ) {
			ch_free( pv->pv_cert_file );
			pv->pv_cert_file = c->value_string;
		} else {
			ch_free( pv->pv_key_file );
			pv->pv_key_file = c->value_string;
		}
		c->value_string = NULL;
		return 0;
	case CP_PROV_ADMIN:
		ch_free( pv->pv_admin.bv_val );
		ch_free( pv->pv_nadmin.bv_val );
		pv->pv_admin = c->value_dn;
		pv->pv_nadmin = c->value_ndn;
		BER_BVZERO( &c->value_dn );
		BER_BVZERO( &c->value_ndn );
		return 0;
	case CP_PROV_CN:
		pv->pv_cn = c->value_ad;
		return 0;
	case CP_PROV_SIP:
		pv->pv_sip = c->value_ad;
		return 0;
	case CP_PROV_VALID: ip = &pv->pv_valid_def; break;
	case CP_PROV_VALID_MIN: ip = &pv->pv_valid_min; break;
	case CP_PROV_VALID_MAX: ip = &pv->pv_valid_max; break;
	}
	return certpin_cf_int( c, 1, CP_VALID_LIMIT, "hours", ip );
}

ConfigTable certpin_prov_cfg[] = {
	{ "certpin-ca-cert", "file", 2, 2, 0,
	  ARG_STRING|ARG_MAGIC|CP_PROV_CACERT, certpin_prov_cf,
	  "( " CERTPIN_OID_CFG_AT ".20 NAME 'olcCertpinCACert' "
	  "DESC 'PEM file of the CA certificate that signs issued certificates' "
	  "EQUALITY caseExactMatch "
	  "SYNTAX OMsDirectoryString SINGLE-VALUE )", NULL, NULL },
	{ "certpin-ca-key", "file", 2, 2, 0,
	  ARG_STRING|ARG_MAGIC|CP_PROV_CAKEY, certpin_prov_cf,
	  "( " CERTPIN_OID_CFG_AT ".21 NAME 'olcCertpinCAKey' "
	  "DESC 'PEM file of the CA private key (ECDSA P-256/P-384 or RSA 2048+)' "
	  "EQUALITY caseExactMatch "
	  "SYNTAX OMsDirectoryString SINGLE-VALUE )", NULL, NULL },
	{ "certpin-validity", "hours", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_PROV_VALID, certpin_prov_cf,
	  "( " CERTPIN_OID_CFG_AT ".22 NAME 'olcCertpinValidity' "
	  "DESC 'Validity of issued certificates in hours when none is requested' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ "certpin-validity-min", "hours", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_PROV_VALID_MIN, certpin_prov_cf,
	  "( " CERTPIN_OID_CFG_AT ".23 NAME 'olcCertpinValidityMin' "
	  "DESC 'Shortest validity in hours a request may ask for' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ "certpin-validity-max", "hours", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_PROV_VALID_MAX, certpin_prov_cf,
	  "( " CERTPIN_OID_CFG_AT ".24 NAME 'olcCertpinValidityMax' "
	  "DESC 'Longest validity in hours a request may ask for' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ "certpin-admin-group", "dn", 2, 2, 0,
	  ARG_DN|ARG_QUOTE|ARG_MAGIC|CP_PROV_ADMIN, certpin_prov_cf,
	  "( " CERTPIN_OID_CFG_AT ".25 NAME 'olcCertpinAdminGroup' "
	  "DESC 'groupOfNames whose members issue certificates for anyone and set PINs' "
	  "EQUALITY distinguishedNameMatch "
	  "SYNTAX OMsDN SINGLE-VALUE )", NULL, NULL },
	{ "certpin-cn-attribute", "attribute", 2, 2, 0,
	  ARG_ATDESC|ARG_MAGIC|CP_PROV_CN, certpin_prov_cf,
	  "( " CERTPIN_OID_CFG_AT ".26 NAME 'olcCertpinCNAttribute' "
	  "DESC 'Attribute whose value is the common name of issued certificates' "
	  "EQUALITY caseIgnoreMatch "
	  "SYNTAX OMsDirectoryString SINGLE-VALUE )", NULL, NULL },
	{ "certpin-sip-attribute", "attribute", 2, 2, 0,
	  ARG_ATDESC|ARG_MAGIC|CP_PROV_SIP, certpin_prov_cf,
	  "( " CERTPIN_OID_CFG_AT ".27 NAME 'olcCertpinSIPAttribute' "
	  "DESC 'Attribute giving the sip: URI in the subjectAltName of issued certificates' "
	  "EQUALITY caseIgnoreMatch "
	  "SYNTAX OMsDirectoryString SINGLE-VALUE )", NULL, NULL },
	{ NULL, NULL, 0, 0, 0, ARG_IGNORED }
};
const char certpin_prov_cfg_names[] = "olcCertpinCACert $ olcCertpinCAKey $ "
	"olcCertpinValidity $ olcCertpinValidityMin $ olcCertpinValidityMax $ "
	"olcCertpinAdminGroup $ olcCertpinCNAttribute $ olcCertpinSIPAttribute";

/* The OID is advertised in supportedExtension; the overlay on the frontend
 * answers it before this runs. */
static int
cp_prov_unconfigured( Operation *op, SlapReply *rs )
{
	rs->sr_text = "certpinIssue: the certpin overlay is not configured on "
		"the frontend";
	return LDAP_UNWILLING_TO_PERFORM;
}

int
certpin_prov_db_init( BackendDB *be, certpin_info *ci )
{
	static int registered;
	cp_prov *pv = ch_calloc( 1, sizeof( cp_prov ) );
	const char *text;

	pv->pv_valid_def = CP_VALID_DEFAULT;
	pv->pv_valid_min = CP_VALID_MIN;
	pv->pv_valid_max = CP_VALID_MAX;
	if ( slap_str2ad( "uid", &pv->pv_cn, &text ) ||
	     slap_str2ad( "mail", &pv->pv_sip, &text ) ) {
		Debug( LDAP_DEBUG_ANY, "certpin_prov_db_init: %s\n", text );
		ch_free( pv );
		return 1;
	}
	ci->ci_prov = pv;
	if ( !registered ) {
		if ( load_extop2( (struct berval *)&cp_prov_oid, SLAP_EXOP_WRITES,
				cp_prov_unconfigured, 0 ) ) {
			Debug( LDAP_DEBUG_ANY, "certpin_prov_db_init: cannot register "
				"extended operation %s\n", CP_PROV_OID );
			return 1;
		}
		registered = 1;
	}
	return 0;
}

int
certpin_prov_db_open( BackendDB *be, certpin_info *ci, ConfigReply *cr )
{
	cp_prov *pv = ci->ci_prov;

	if ( ( pv->pv_cert == NULL ) != ( pv->pv_key == NULL ) ) {
		snprintf( cr->msg, sizeof( cr->msg ), "certpin: certpin-ca-cert and "
			"certpin-ca-key must be configured together" );
		Debug( LDAP_DEBUG_ANY, "%s\n", cr->msg );
		return 1;
	}
	if ( pv->pv_cert && X509_check_private_key( pv->pv_cert, pv->pv_key ) != 1 ) {
		snprintf( cr->msg, sizeof( cr->msg ), "certpin: certpin-ca-key \"%s\" "
			"does not belong to certpin-ca-cert \"%s\"", pv->pv_key_file,
			pv->pv_cert_file );
		Debug( LDAP_DEBUG_ANY, "%s\n", cr->msg );
		return 1;
	}
	if ( pv->pv_valid_min > pv->pv_valid_max ||
	     pv->pv_valid_def < pv->pv_valid_min || pv->pv_valid_def > pv->pv_valid_max ) {
		snprintf( cr->msg, sizeof( cr->msg ), "certpin: need certpin-validity-min "
			"(%d) <= certpin-validity (%d) <= certpin-validity-max (%d)",
			pv->pv_valid_min, pv->pv_valid_def, pv->pv_valid_max );
		Debug( LDAP_DEBUG_ANY, "%s\n", cr->msg );
		return 1;
	}
	return 0;
}

int
certpin_prov_db_destroy( BackendDB *be, certpin_info *ci )
{
	cp_prov *pv = ci->ci_prov;

	if ( pv ) {
		ch_free( pv->pv_cert_file );
		ch_free( pv->pv_key_file );
		X509_free( pv->pv_cert );
		EVP_PKEY_free( pv->pv_key );
		ch_free( pv->pv_cert_der.bv_val );
		ch_free( pv->pv_admin.bv_val );
		ch_free( pv->pv_nadmin.bv_val );
		ch_free( pv );
		ci->ci_prov = NULL;
	}
	return 0;
}

/* ---- administrators ---------------------------------------------------- */

int
certpin_is_admin( Operation *op, BackendDB *db )
{
	cp_prov *pv = cp_prov_get( op );
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *obd = op->o_bd;
	static AttributeDescription *member;
	ObjectClass *oc;
	const char *text;
	int rc;

	if ( BER_BVISEMPTY( &op->o_ndn ) )
		return 0;
	if ( db && be_isroot_dn( db, &op->o_ndn ) )
		return 1;
	if ( BER_BVISNULL( &pv->pv_nadmin ) )
		return 0;
	oc = oc_find( SLAPD_GROUP_CLASS );
	if ( member == NULL && slap_str2ad( SLAPD_GROUP_ATTR, &member, &text ) )
		return 0;
	if ( oc == NULL )
		return 0;
	rc = backend_group( op, NULL, &pv->pv_nadmin, &op->o_ndn, oc, member );
	op->o_bd = obd;
	op->o_bd->bd_info = bi;
	return rc == 0;
}

/* ---- the request ------------------------------------------------------- */

typedef struct cp_req {
	struct berval	rq_csr;
	struct berval	rq_identity;
	struct berval	rq_phone;
	struct berval	rq_pin;
	int		rq_has_validity;
	long		rq_validity;
	struct berval	rq_endpoint;
} cp_req;

/* Decode CertpinIssueRequest (values point into data). 0 or -1. */
static int
cp_req_decode( struct berval *data, cp_req *rq )
{
	BerElementBuffer b1, b2;
	BerElement *ber = (BerElement *)&b1, *seq = (BerElement *)&b2;
	struct berval body, v;
	ber_tag_t tag, last = 0;
	ber_len_t i;

	memset( rq, 0, sizeof( *rq ) );
	if ( data == NULL || data->bv_len == 0 )
		return -1;
	ber_init2( ber, data, 0 );
	if ( ber_skip_element( ber, &body ) != LBER_SEQUENCE || ber_remaining( ber ) != 0 )
		return -1;
	ber_init2( seq, &body, 0 );
	if ( ber_skip_element( seq, &rq->rq_csr ) != LBER_OCTETSTRING )
		return -1;
	while ( ber_remaining( seq ) > 0 ) {
		tag = ber_skip_element( seq, &v );
		if ( tag == LBER_DEFAULT || tag <= last )
			return -1;
		last = tag;
		switch ( tag ) {
		case LBER_CLASS_CONTEXT | 0: rq->rq_identity = v; break;
		case LBER_CLASS_CONTEXT | 1: rq->rq_phone = v; break;
		case LBER_CLASS_CONTEXT | 2: rq->rq_pin = v; break;
		case LBER_CLASS_CONTEXT | 3:
			/* a non-negative INTEGER; huge ones fail the policy */
			if ( v.bv_len < 1 || ( v.bv_val[0] & 0x80 ) )
				return -1;
			rq->rq_validity = 0;
			for ( i = 0; i < v.bv_len; i++ ) {
				if ( rq->rq_validity > 0x7fffff ) {
					rq->rq_validity = 0x7fffffff;
					break;
				}
				rq->rq_validity = ( rq->rq_validity << 8 ) |
					(unsigned char)v.bv_val[i];
			}
			rq->rq_has_validity = 1;
			break;
		case LBER_CLASS_CONTEXT | 4: rq->rq_endpoint = v; break;
		default:
			return -1;
		}
	}
	return 0;
}

/* Parse and check the CSR; the request in *reqp (the caller frees it).
 * NULL or why not. */
static const char *
cp_csr_check( struct berval *csr, X509_REQ **reqp, char *buf, size_t len )
{
	const unsigned char *p = (const unsigned char *)csr->bv_val;
	X509_REQ *req;
	EVP_PKEY *k;
	char why[128];

	*reqp = NULL;
	if ( csr->bv_len == 0 )
		return "certpinIssue: the CSR is empty";
	if ( csr->bv_len > CP_CSR_MAX ) {
		snprintf( buf, len, "certpinIssue: the CSR is larger than %d bytes",
			CP_CSR_MAX );
		return buf;
	}
	req = d2i_X509_REQ( NULL, &p, csr->bv_len );
	if ( req == NULL )
		return "certpinIssue: the CSR is not a DER PKCS#10 request";
	if ( p != (const unsigned char *)csr->bv_val + csr->bv_len ) {
		X509_REQ_free( req );
		return "certpinIssue: trailing bytes after the CSR";
	}
	k = X509_REQ_get0_pubkey( req );
	if ( k == NULL ) {
		X509_REQ_free( req );
		return "certpinIssue: the CSR's public key cannot be read";
	}
	if ( cp_key_kind( k, 1, why, sizeof( why ) ) ) {
		snprintf( buf, len, "certpinIssue: weak or unsupported key in the CSR: %s", why );
		X509_REQ_free( req );
		return buf;
	}
	if ( X509_REQ_verify( req, k ) != 1 ) {
		X509_REQ_free( req );
		ERR_clear_error();
		return "certpinIssue: the CSR's signature does not verify";
	}
	*reqp = req;
	return NULL;
}

/* Printable ASCII, no space, no control: what a URI may hold. */
static int
cp_uri_ok( struct berval *v )
{
	ber_len_t i;

	for ( i = 0; i < v->bv_len; i++ )
		if ( (unsigned char)v->bv_val[i] <= 0x20 || (unsigned char)v->bv_val[i] >= 0x7f )
			return 0;
	return v->bv_len > 0;
}

/* Give certificate x the public key of request req as the request holds it
 * (its SubjectPublicKeyInfo copied, not decoded and encoded again: the key
 * was checked with the request's signature).  1 or 0. */
static int
cp_copy_spki( X509 *x, X509_REQ *req )
{
	ASN1_OBJECT *obj;
	const unsigned char *pk;
	unsigned char *pk2 = NULL;
	int pklen, ptype;
	X509_ALGOR *alg;
	const void *pval;
	void *pval2 = NULL;

	if ( !X509_PUBKEY_get0_param( &obj, &pk, &pklen, &alg,
			X509_REQ_get_X509_PUBKEY( req ) ) || pklen <= 0 )
		return 0;
	X509_ALGOR_get0( NULL, &ptype, &pval, alg );
	if ( ptype == V_ASN1_OBJECT )
		pval2 = OBJ_dup( pval );
	else if ( ptype == V_ASN1_SEQUENCE )
		pval2 = ASN1_STRING_dup( pval );
	else if ( ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF )
		return 0;
	if ( ( ptype == V_ASN1_OBJECT || ptype == V_ASN1_SEQUENCE ) && pval2 == NULL )
		return 0;
	pk2 = OPENSSL_memdup( pk, pklen );
	obj = OBJ_dup( obj );
	if ( pk2 == NULL || obj == NULL ||
	     !X509_PUBKEY_set0_param( X509_get_X509_PUBKEY( x ), obj, ptype,
			pval2, pk2, pklen ) ) {
		OPENSSL_free( pk2 );
		ASN1_OBJECT_free( obj );
		if ( ptype == V_ASN1_OBJECT )
			ASN1_OBJECT_free( pval2 );
		else if ( ptype == V_ASN1_SEQUENCE )
			ASN1_STRING_free( pval2 );
		return 0;
	}
	return 1;
}

/* Issue the certificate for request req.  DER in *der (ch_malloc'd), its
 * metadata in *info (to free).  NULL or why not. */
static const char *
cp_issue( Operation *op, cp_prov *pv, X509_REQ *req, struct berval *cn,
	struct berval *sip, long hours, struct berval *der,
	certpin_certinfo *info, char *serialhex )
{
	EVP_PKEY *pkey = X509_REQ_get0_pubkey( req );
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	GENERAL_NAMES *gens = NULL;
	BIGNUM *bn = NULL;
	unsigned char sb[CP_SERIAL_BYTES], *out = NULL;
	const char *why = "certpinIssue: the certificate cannot be made";
	char errbuf[128];
	time_t now = slap_get_time(), end = now + hours * 3600;
	static const struct { int nid; const char *val; } exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_ext_key_usage, "clientAuth" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
		{ 0, NULL }
	};
	int i, n;

	BER_BVZERO( der );
	if ( x == NULL )
		goto done;
	/* cn=config may have changed one of the pair */
	if ( X509_check_private_key( pv->pv_cert, pv->pv_key ) != 1 ) {
		why = "certpinIssue: certpin-ca-key does not belong to certpin-ca-cert";
		goto done;
	}
	if ( ASN1_TIME_cmp_time_t( X509_get0_notAfter( pv->pv_cert ), end ) < 0 ) {
		why = "certpinIssue: the requested validity ends after the CA "
			"certificate's";
		goto done;
	}
	/* a random positive serial of 128 bits */
	if ( RAND_bytes( sb, sizeof( sb ) ) != 1 )
		goto done;
	sb[0] = ( sb[0] & 0x7f ) | 0x40;
	for ( i = 0; i < CP_SERIAL_BYTES; i++ )
		sprintf( serialhex + 2 * i, "%02X", sb[i] );
	bn = BN_bin2bn( sb, sizeof( sb ), NULL );
	if ( bn == NULL || !BN_to_ASN1_INTEGER( bn, X509_get_serialNumber( x ) ) ||
	     !X509_set_version( x, 2 ) ||
	     !X509_set_issuer_name( x, X509_get_subject_name( pv->pv_cert ) ) )
		goto done;
	name = X509_NAME_new();
	if ( name == NULL || !X509_NAME_add_entry_by_txt( name, "CN", MBSTRING_UTF8,
			(unsigned char *)cn->bv_val, cn->bv_len, -1, 0 ) ||
	     !X509_set_subject_name( x, name ) )
		goto done;
	if ( !ASN1_TIME_set( X509_getm_notBefore( x ), now ) ||
	     !ASN1_TIME_set( X509_getm_notAfter( x ), end ) ||
	     !cp_copy_spki( x, req ) )
		goto done;

	X509V3_set_ctx( &ctx, pv->pv_cert, x, NULL, NULL, 0 );
	for ( i = 0; exts[i].val; i++ ) {
		ext = X509V3_EXT_conf_nid( NULL, &ctx, exts[i].nid, exts[i].val );
		if ( ext == NULL || !X509_add_ext( x, ext, -1 ) ) {
			X509_EXTENSION_free( ext );
			goto done;
		}
		X509_EXTENSION_free( ext );
	}
	ext = X509V3_EXT_conf_nid( NULL, &ctx, NID_key_usage,
		EVP_PKEY_get_base_id( pkey ) == EVP_PKEY_RSA ?
		"critical,digitalSignature,keyEncipherment" : "critical,digitalSignature" );
	if ( ext == NULL || !X509_add_ext( x, ext, -1 ) ) {
		X509_EXTENSION_free( ext );
		goto done;
	}
	X509_EXTENSION_free( ext );
	if ( sip && sip->bv_len ) {
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
		char *uri = op->o_tmpalloc( sip->bv_len + 5, op->o_tmpmemctx );

		if ( strncasecmp( sip->bv_val, "sip:", 4 ) == 0 )
			snprintf( uri, sip->bv_len + 5, "%.*s", (int)sip->bv_len, sip->bv_val );
		else
			snprintf( uri, sip->bv_len + 5, "sip:%.*s", (int)sip->bv_len, sip->bv_val );
		gens = sk_GENERAL_NAME_new_null();
		n = gn && ia5 && gens && ASN1_STRING_set( ia5, uri, -1 );
		op->o_tmpfree( uri, op->o_tmpmemctx );
		if ( !n ) {
			GENERAL_NAME_free( gn );
			ASN1_IA5STRING_free( ia5 );
			goto done;
		}
		GENERAL_NAME_set0_value( gn, GEN_URI, ia5 );
		sk_GENERAL_NAME_push( gens, gn );
		if ( X509_add1_ext_i2d( x, NID_subject_alt_name, gens, 0,
				X509V3_ADD_DEFAULT ) != 1 )
			goto done;
	}
	if ( X509_sign( x, pv->pv_key, EVP_sha256() ) <= 0 )
		goto done;
	n = i2d_X509( x, &out );
	if ( n <= 0 || n > CERTPIN_MAX_DER )
		goto done;
	if ( certpin_certinfo_from_x509( x, out, n, info, errbuf, sizeof( errbuf ) ) ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: issued certificate unreadable: %s\n",
			op->o_log_prefix, errbuf );
		goto done;
	}
	der->bv_val = ch_malloc( n );
	memcpy( der->bv_val, out, n );
	der->bv_len = n;
	why = NULL;

done:
	if ( why )
		ERR_clear_error();
	OPENSSL_free( out );
	GENERAL_NAMES_free( gens );
	X509_NAME_free( name );
	BN_free( bn );
	X509_free( x );
	return why;
}

/* ---- the operation ----------------------------------------------------- */

static int
cp_prov_refuse( Operation *op, SlapReply *rs, int err, const char *text )
{
	Debug( LDAP_DEBUG_STATS, "%s certpin: certpinIssue refused: %d %s\n",
		op->o_log_prefix, err, text );
	certpin_count_issue_refused( op, err, text );
	rs->sr_rspoid = NULL;
	rs->sr_rspdata = NULL;
	send_ldap_error( op, rs, err, text );
	return rs->sr_err;
}

int
certpin_prov_extended( Operation *op, SlapReply *rs )
{
	cp_prov *pv;
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *obd = op->o_bd, *db = NULL;
	cp_req rq;
	X509_REQ *req = NULL;
	certpin_certinfo info;
	Entry *e = NULL;
	Attribute *a;
	struct berval ndn = BER_BVNULL, cn = BER_BVNULL, sip = BER_BVNULL;
	struct berval der = BER_BVNULL;
	BerElementBuffer berbuf;
	BerElement *ber = (BerElement *)&berbuf;
	char buf[SLAP_TEXT_BUFLEN], serial[2 * CP_SERIAL_BYTES + 1];
	char *endpoint = NULL;
	const char *why, *path;
	long hours;
	int rc, err = LDAP_SUCCESS;

	if ( !bvmatch( &op->ore_reqoid, &cp_prov_oid ) )
		return SLAP_CB_CONTINUE;
	pv = cp_prov_get( op );

	if ( cp_req_decode( op->ore_reqdata, &rq ) )
		return cp_prov_refuse( op, rs, LDAP_PROTOCOL_ERROR,
			"certpinIssue: malformed request (see slapo-certpin(5))" );

	/* What the request must hold, before any secret is looked at. */
	if ( rq.rq_phone.bv_val || rq.rq_pin.bv_val ) {
		if ( !rq.rq_phone.bv_val || !rq.rq_pin.bv_val )
			return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
				"certpinIssue: phone and pin go together" );
		if ( rq.rq_identity.bv_val )
			return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
				"certpinIssue: identity and phone exclude each other" );
		if ( op->o_tls_ssf == 0 )
			return cp_prov_refuse( op, rs, LDAP_CONFIDENTIALITY_REQUIRED,
				"certpinIssue: a PIN is accepted over TLS only" );
	}
	hours = rq.rq_has_validity ? rq.rq_validity : pv->pv_valid_def;
	if ( hours < pv->pv_valid_min || hours > pv->pv_valid_max ) {
		snprintf( buf, sizeof( buf ), "certpinIssue: validity of %ld hours "
			"outside the policy (%d to %d hours)", hours, pv->pv_valid_min,
			pv->pv_valid_max );
		return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM, buf );
	}
	if ( rq.rq_endpoint.bv_val ) {
		ber_len_t i;

		if ( rq.rq_endpoint.bv_len == 0 || rq.rq_endpoint.bv_len > CP_ENDPOINT_MAX )
			return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
				"certpinIssue: the endpoint id must have 1 to 256 bytes" );
		for ( i = 0; i < rq.rq_endpoint.bv_len; i++ )
			if ( (unsigned char)rq.rq_endpoint.bv_val[i] < 0x20 ||
			     rq.rq_endpoint.bv_val[i] == 0x7f )
				return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
					"certpinIssue: control characters in the endpoint id" );
	}
	memset( &info, 0, sizeof( info ) );
	why = cp_csr_check( &rq.rq_csr, &req, buf, sizeof( buf ) );
	if ( why )
		return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM, why );
	if ( pv->pv_cert == NULL || pv->pv_key == NULL ) {
		X509_REQ_free( req );
		return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
			"certpinIssue: no CA configured (certpin-ca-cert, certpin-ca-key)" );
	}

	/* Whose certificate, and may the requester have it? */
	if ( rq.rq_phone.bv_val ) {
		path = "phone+PIN";
		if ( rq.rq_phone.bv_len > CP_SECRET_MAX || rq.rq_pin.bv_len > CP_SECRET_MAX ) {
			err = LDAP_INVALID_CREDENTIALS;
			why = "certpinIssue: unknown phone number or wrong PIN";
		} else {
			err = certpin_pin_prove( op, &rq.rq_phone, &rq.rq_pin, &ndn, &db, &why );
		}
		if ( err != LDAP_SUCCESS )
			goto fail;
	} else if ( rq.rq_identity.bv_val ) {

		struct berval dn;

		path = "administrator";
		/* dnNormalize wants a NUL-terminated value without NULs */
		dn.bv_len = rq.rq_identity.bv_len;
		dn.bv_val = op->o_tmpalloc( dn.bv_len + 1, op->o_tmpmemctx );
		memcpy( dn.bv_val, rq.rq_identity.bv_val, dn.bv_len );
		dn.bv_val[dn.bv_len] = '\0';
		rc = strlen( dn.bv_val ) != dn.bv_len ||
			dnNormalize( 0, NULL, NULL, &dn, &ndn, op->o_tmpmemctx );
		op->o_tmpfree( dn.bv_val, op->o_tmpmemctx );
		if ( rc ) {
			BER_BVZERO( &ndn );
			err = LDAP_INVALID_DN_SYNTAX;
			why = "certpinIssue: identity is not a DN";
			goto fail;
		}
		db = select_backend( &ndn, 0 );
		if ( dn_match( &ndn, &op->o_ndn ) ) {
			path = "self";
		} else if ( !certpin_is_admin( op, db ) ) {
			err = LDAP_INSUFFICIENT_ACCESS;
			why = "certpinIssue: only administrators issue certificates "
				"for other users";
			goto fail;
		}
	} else {
		path = "self";
		if ( BER_BVISEMPTY( &op->o_ndn ) ) {
			err = LDAP_INSUFFICIENT_ACCESS;
			why = "certpinIssue: bind first, or prove the user with phone and PIN";
			goto fail;
		}
		ber_dupbv_x( &ndn, &op->o_ndn, op->o_tmpmemctx );
		db = select_backend( &ndn, 0 );
	}
	if ( db == NULL ) {
		err = LDAP_NO_SUCH_OBJECT;
		why = "certpinIssue: no such user";
		goto fail;
	}
	if ( SLAP_SHADOW( db ) && !SLAP_MULTIPROVIDER( db ) ) {
		err = LDAP_UNWILLING_TO_PERFORM;
		why = "certpinIssue: the user's database is a read-only replica; "
			"ask its provider";
		goto fail;
	}

	/* The user's entry names the certificate. */
	if ( certpin_entry_get( op, db, &ndn, &e ) == LDAP_SUCCESS ) {
		if ( !is_entry_objectclass( e, oc_certpinUser, 0 ) ) {
			err = LDAP_UNWILLING_TO_PERFORM;
			why = "certpinIssue: the user's entry is not a certpinUser";
		} else if ( ( a = attr_find( e->e_attrs, pv->pv_cn ) ) == NULL ||
			    a->a_vals[0].bv_len == 0 || a->a_vals[0].bv_len > 64 ) {
			snprintf( buf, sizeof( buf ), "certpinIssue: the user's entry has "
				"no usable %s for the certificate's name (1 to 64 bytes)",
				pv->pv_cn->ad_cname.bv_val );
			err = LDAP_UNWILLING_TO_PERFORM;
			why = buf;
		} else {
			ber_dupbv_x( &cn, &a->a_vals[0], op->o_tmpmemctx );
			a = attr_find( e->e_attrs, pv->pv_sip );
			if ( a && cp_uri_ok( &a->a_vals[0] ) )
				ber_dupbv_x( &sip, &a->a_vals[0], op->o_tmpmemctx );
		}
		certpin_entry_release( op, db, e );
	} else {
		err = LDAP_NO_SUCH_OBJECT;
		why = "certpinIssue: no such user";
	}
	if ( err != LDAP_SUCCESS )
		goto fail;

	why = cp_issue( op, pv, req, &cn, &sip, hours, &der, &info, serial );
	if ( why ) {
		err = LDAP_UNWILLING_TO_PERFORM;
		goto fail;
	}
	if ( rq.rq_endpoint.bv_val ) {
		endpoint = op->o_tmpalloc( rq.rq_endpoint.bv_len + 1, op->o_tmpmemctx );
		memcpy( endpoint, rq.rq_endpoint.bv_val, rq.rq_endpoint.bv_len );
		endpoint[rq.rq_endpoint.bv_len] = '\0';
	}
	err = certpin_write_record( op, db, &ndn, &der, &info, endpoint, rs );
	op->o_bd = obd;
	op->o_bd->bd_info = bi;
	if ( err != LDAP_SUCCESS ) {
		why = rs->sr_text ? rs->sr_text : "certpinIssue: cannot record the certificate";
		goto fail;
	}
	Debug( LDAP_DEBUG_STATS, "%s certpin: issued certificate serial=%s for "
		"\"%s\" (%s, %ld hours)\n", op->o_log_prefix, serial, ndn.bv_val,
		path, hours );
	certpin_count_issued( path );

	ber_init2( ber, NULL, LBER_USE_DER );
	if ( ber_printf( ber, "{OO}", &der, &pv->pv_cert_der ) < 0 ||
	     ber_flatten( ber, &rs->sr_rspdata ) < 0 ) {
		ber_free_buf( ber );
		err = LDAP_OTHER;
		why = "certpinIssue: cannot encode the response";
		goto fail;
	}
	ber_free_buf( ber );
	rs->sr_rspoid = ch_strdup( CP_PROV_OID );
	rs->sr_err = LDAP_SUCCESS;
	rs->sr_text = NULL;
	send_ldap_extended( op, rs );
	ch_free( (char *)rs->sr_rspoid );
	rs->sr_rspoid = NULL;
	ber_bvfree( rs->sr_rspdata );
	rs->sr_rspdata = NULL;
	rc = LDAP_SUCCESS;
	goto done;

fail:
	rc = cp_prov_refuse( op, rs, err, why );
done:
	X509_REQ_free( req );
	certpin_certinfo_free( &info );
	if ( der.bv_val )
		ch_free( der.bv_val );
	if ( endpoint )
		op->o_tmpfree( endpoint, op->o_tmpmemctx );
	if ( ndn.bv_val )
		op->o_tmpfree( ndn.bv_val, op->o_tmpmemctx );
	if ( cn.bv_val )
		op->o_tmpfree( cn.bv_val, op->o_tmpmemctx );
	if ( sip.bv_val )
		op->o_tmpfree( sip.bv_val, op->o_tmpmemctx );
	return rc;
}
