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
#include "provreq.h"
#include "cfgval.h"

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
#define CP_ENDPOINT_MAX		256
#define CP_SECRET_MAX		64	/* phone and PIN, bytes */
#define CP_SERIAL_BYTES		16

#define CP_BULK_OID		CERTPIN_OID_EXOP ".2"
#define CP_BULK_TXN		250	/* users per database transaction */

static const struct berval cp_prov_oid = BER_BVC( CP_PROV_OID );
static const struct berval cp_bulk_oid = BER_BVC( CP_BULK_OID );

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
	int		pv_snap[3];	/* validity default, min, max before a */
	int		pv_snapped;	/* cn=config change (cp_prov_valid_cleanup) */
} cp_prov;

static cp_prov *
cp_prov_get( Operation *op )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;

	return ci->ci_prov;
}

/* ---- the CA ------------------------------------------------------------ */

static int
cp_load_cert( cp_prov *pv, const char *file, char *msg, size_t len )
{
	BIO *bio = BIO_new_file( file, "r" );
	X509 *x;
	unsigned char *der;
	int n, rc;

	/* the value's parsing: lib/cfgval.c (fuzzed by fuzz/fuzz-cfgval.c) */
	rc = certpin_ca_cert_read( bio, file, &x, &der, &n, msg, len );
	BIO_free( bio );
	if ( rc )
		return -1;
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
	EVP_PKEY *k;
	int rc;

	rc = certpin_ca_key_read( bio, file, &k, msg, len );
	BIO_free( bio );
	if ( rc )
		return -1;
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

/* The validity policy holds together: min <= default <= max.  NULL or why
 * not (in buf). */
static const char *
cp_valid_policy( int def, int min, int max, char *buf, size_t len )
{
	if ( min <= def && def <= max )
		return NULL;
	snprintf( buf, len, "inconsistent validity policy: need "
		"certpin-validity-min (%d) <= certpin-validity (%d) <= "
		"certpin-validity-max (%d) hours", min, def, max );
	return buf;
}

/* After all the modifications of one cn=config request (a change of one of
 * the three is checked against the other two, whatever the order of the
 * modifications): an inconsistent policy is refused and the values before
 * the request come back.  slapd.conf and the startup of slapd.d are checked
 * at db_open (certpin_prov_db_open), when every directive has been read. */
static int
cp_prov_valid_cleanup( ConfigArgs *c )
{
	slap_overinst *on = (slap_overinst *)c->bi;
	certpin_info *ci = on->on_bi.bi_private;
	cp_prov *pv = ci->ci_prov;
	char buf[160];

	if ( !pv->pv_snapped )
		return 0;
	pv->pv_snapped = 0;
	if ( cp_valid_policy( pv->pv_valid_def, pv->pv_valid_min, pv->pv_valid_max,
			buf, sizeof( buf ) ) == NULL )
		return 0;
	snprintf( c->cr_msg, sizeof( c->cr_msg ), "%s (unchanged: %d, %d, %d)",
		buf, pv->pv_snap[1], pv->pv_snap[0], pv->pv_snap[2] );
	Debug( LDAP_DEBUG_ANY, "%s: %s\n", c->log, c->cr_msg );
	pv->pv_valid_def = pv->pv_snap[0];
	pv->pv_valid_min = pv->pv_snap[1];
	pv->pv_valid_max = pv->pv_snap[2];
	return LDAP_CONSTRAINT_VIOLATION;
}

/* A change of the validity policy over cn=config: remember the policy
 * before the request's first change, check it after its last. */
static void
cp_prov_valid_change( ConfigArgs *c, cp_prov *pv )
{
	if ( c->op == SLAP_CONFIG_ADD )	/* slapd.conf: db_open checks */
		return;
	if ( !pv->pv_snapped ) {
		pv->pv_snap[0] = pv->pv_valid_def;
		pv->pv_snap[1] = pv->pv_valid_min;
		pv->pv_snap[2] = pv->pv_valid_max;
		pv->pv_snapped = 1;
	}
	config_push_cleanup( c, cp_prov_valid_cleanup );
}

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
		case CP_PROV_CN:
		case CP_PROV_SIP:
			c->value_ad = c->type == CP_PROV_CN ? pv->pv_cn : pv->pv_sip;
			if ( c->value_ad == NULL )
				return 1;	/* the default, not resolved yet */
			break;
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
		case CP_PROV_VALID:
			cp_prov_valid_change( c, pv );
			pv->pv_valid_def = CP_VALID_DEFAULT;
			break;
		case CP_PROV_VALID_MIN:
			cp_prov_valid_change( c, pv );
			pv->pv_valid_min = CP_VALID_MIN;
			break;
		case CP_PROV_VALID_MAX:
			cp_prov_valid_change( c, pv );
			pv->pv_valid_max = CP_VALID_MAX;
			break;
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
	if ( ip )
		cp_prov_valid_change( c, pv );
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

/* Resolve the default naming attributes (uid, mail) that were not defined
 * when the overlay was configured.  0, or -1 with *text. */
static int
cp_prov_names( cp_prov *pv, const char **text )
{
	AttributeDescription *ad;

	if ( __atomic_load_n( &pv->pv_cn, __ATOMIC_ACQUIRE ) == NULL ) {
		ad = NULL;
		if ( slap_str2ad( "uid", &ad, text ) )
			return -1;
		__atomic_store_n( &pv->pv_cn, ad, __ATOMIC_RELEASE );
	}
	if ( __atomic_load_n( &pv->pv_sip, __ATOMIC_ACQUIRE ) == NULL ) {
		ad = NULL;
		if ( slap_str2ad( "mail", &ad, text ) )
			return -1;
		__atomic_store_n( &pv->pv_sip, ad, __ATOMIC_RELEASE );
	}
	return 0;
}

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
	/* The defaults, if their schema is loaded already; otherwise they are
	 * resolved at db_open (cn=config may load cosine after the overlay's
	 * entry, as OpenLDAP's own cn=config tests do). */
	if ( slap_str2ad( "uid", &pv->pv_cn, &text ) )
		pv->pv_cn = NULL;
	if ( slap_str2ad( "mail", &pv->pv_sip, &text ) )
		pv->pv_sip = NULL;
	ci->ci_prov = pv;
	if ( !registered ) {
		if ( load_extop2( (struct berval *)&cp_prov_oid, SLAP_EXOP_WRITES,
				cp_prov_unconfigured, 0 ) ) {
			Debug( LDAP_DEBUG_ANY, "certpin_prov_db_init: cannot register "
				"extended operation %s\n", CP_PROV_OID );
			return 1;
		}
		if ( load_extop2( (struct berval *)&cp_bulk_oid, SLAP_EXOP_WRITES,
				cp_prov_unconfigured, 0 ) ) {
			Debug( LDAP_DEBUG_ANY, "certpin_prov_db_init: cannot register "
				"extended operation %s\n", CP_BULK_OID );
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
	const char *text = NULL;
	char buf[160];

	if ( cp_prov_names( pv, &text ) ) {
		/* cn=config may load the schema later, over LDAP: certpinIssue
		 * tries again and refuses until then */
		Debug( LDAP_DEBUG_ANY, "certpin: the default naming attribute of "
			"issued certificates is not defined yet (%s): load the core "
			"schema, or set certpin-cn-attribute and "
			"certpin-sip-attribute\n", text ? text : "" );
	}
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
	pv->pv_snapped = 0;	/* an overlay entry added over cn=config */
	if ( cp_valid_policy( pv->pv_valid_def, pv->pv_valid_min, pv->pv_valid_max,
			buf, sizeof( buf ) ) ) {
		snprintf( cr->msg, sizeof( cr->msg ), "certpin: %s", buf );
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

/* certpin_is_admin (core.c) reads the group from here. */
struct berval *
certpin_prov_admin_group( Operation *op )
{
	cp_prov *pv = cp_prov_get( op );

	return pv ? &pv->pv_nadmin : NULL;
}

/* ---- the request: lib/provreq.c (certpin_req_decode, certpin_csr_check) */

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

/* Give certificate x the public key of the CSR as the CSR holds it (its
 * algorithm, curve and key bits: nothing decoded and encoded again, the key
 * was checked with the CSR's signature).  1 or 0. */
static int
cp_copy_spki( X509 *x, certpin_csr *cs )
{
	ASN1_OBJECT *alg = OBJ_nid2obj( cs->cs_alg_nid ), *curve = NULL;
	unsigned char *pk;

	if ( alg == NULL || cs->cs_key_len == 0 || cs->cs_key_len > INT_MAX )
		return 0;
	if ( cs->cs_curve_nid != NID_undef &&
	     ( curve = OBJ_nid2obj( cs->cs_curve_nid ) ) == NULL )
		return 0;
	pk = OPENSSL_memdup( cs->cs_key, cs->cs_key_len );
	if ( pk == NULL )
		return 0;
	/* the objects are OpenSSL's static ones: nothing to free on failure */
	if ( !X509_PUBKEY_set0_param( X509_get_X509_PUBKEY( x ), alg,
			curve ? V_ASN1_OBJECT : V_ASN1_NULL, curve, pk,
			(int)cs->cs_key_len ) ) {
		OPENSSL_free( pk );
		return 0;
	}
	return 1;
}

/* Issue the certificate for the checked CSR cs.  DER in *der (ch_malloc'd),
 * its metadata in *info (to free).  NULL or why not. */
static const char *
cp_issue( Operation *op, cp_prov *pv, certpin_csr *cs, struct berval *cn,
	struct berval *sip, long hours, struct berval *der,
	certpin_certinfo *info, char *serialhex )
{
	X509 *x = X509_new();
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
	/* the subject is written in place (X509_set_subject_name would copy
	 * it through an encoding and a decoding) */
	if ( !X509_NAME_add_entry_by_txt( X509_get_subject_name( x ), "CN",
			MBSTRING_UTF8, (unsigned char *)cn->bv_val, cn->bv_len, -1, 0 ) )
		goto done;
	if ( !ASN1_TIME_set( X509_getm_notBefore( x ), now ) ||
	     !ASN1_TIME_set( X509_getm_notAfter( x ), end ) ||
	     !cp_copy_spki( x, cs ) )
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
		cs->cs_alg_nid == NID_rsaEncryption ?
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
	BN_free( bn );
	X509_free( x );
	return why;
}

/* ---- the operation ----------------------------------------------------- */

/* Does entry ndn (of the database that holds it) hold certificate hex now?
 * 1, 0 (no such entry, or it does not). */
static int
cp_holds_cert( Operation *op, struct berval *ndn, const char *hex )
{
	BackendDB *db = select_backend( ndn, 0 );
	Entry *e = NULL;
	Attribute *a;
	int i, held = 0;

	if ( db == NULL || BER_BVISEMPTY( ndn ) ||
	     certpin_entry_get( op, db, ndn, &e ) != LDAP_SUCCESS )
		return 0;
	a = attr_find( e->e_attrs, ad_certpinThumbprint );
	for ( i = 0; a && i < a->a_numvals && !held; i++ )
		held = a->a_vals[i].bv_len == 64 &&
			strncasecmp( a->a_vals[i].bv_val, hex, 64 ) == 0;
	certpin_entry_release( op, db, e );
	return held;
}

/* May who (a normalized DN; empty: anonymous) change what names the
 * certificate of entry e (of db): add or delete a value of the CN or sip:
 * attribute, or rename e while one of them is in its RDN (write on its
 * "entry" and on its parent's "children")?  NULL, or the attribute. */
static const char *
cp_name_writable( Operation *op, BackendDB *db, cp_prov *pv, Entry *e,
	struct berval *who )
{
	Operation op2 = *op;
	AttributeDescription *ads[2] = { pv->pv_cn, pv->pv_sip }, *ad, *in_rdn = NULL;
	LDAPRDN rdn = NULL;
	struct berval rbv, pndn;
	Entry *pe = NULL;
	const char *text;
	char *p;
	int i, j, w = 0;

	op2.o_bd = db;
	op2.o_dn = *who;
	op2.o_ndn = *who;
	/* slapd caches group membership per operation, not per identity */
	op2.o_groups = NULL;
	for ( i = 0; i < 2; i++ ) {
		if ( ads[i] == NULL )
			continue;
		if ( access_allowed( &op2, e, ads[i], NULL, ACL_WADD, NULL ) ||
		     access_allowed( &op2, e, ads[i], NULL, ACL_WDEL, NULL ) ) {
			slap_op_groups_free( &op2 );
			return ads[i]->ad_cname.bv_val;
		}
	}
	dnRdn( &e->e_name, &rbv );
	if ( ldap_bv2rdn_x( &rbv, &rdn, &p, LDAP_DN_FORMAT_LDAP,
			op->o_tmpmemctx ) == LDAP_SUCCESS ) {
		for ( j = 0; rdn[j]; j++ ) {
			ad = NULL;
			if ( slap_bv2ad( &rdn[j]->la_attr, &ad, &text ) != LDAP_SUCCESS )
				continue;
			for ( i = 0; i < 2; i++ )
				if ( ads[i] && ad->ad_type == ads[i]->ad_type )
					in_rdn = ads[i];
		}
		ldap_rdnfree_x( rdn, op->o_tmpmemctx );
	}
	if ( in_rdn == NULL ||
	     !access_allowed( &op2, e, slap_schema.si_ad_entry, NULL, ACL_WRITE, NULL ) ) {
		slap_op_groups_free( &op2 );
		return NULL;
	}
	dnParent( &e->e_nname, &pndn );
	if ( !BER_BVISEMPTY( &pndn ) &&
	     certpin_entry_get( &op2, db, &pndn, &pe ) == LDAP_SUCCESS ) {
		w = access_allowed( &op2, pe, slap_schema.si_ad_children, NULL,
			ACL_WDEL, NULL );
		certpin_entry_release( &op2, db, pe );
	}
	slap_op_groups_free( &op2 );
	return w ? in_rdn->ad_cname.bv_val : NULL;
}

/* The user's entry (ndn of db) names the certificate: it must be a
 * certpinUser whose naming attributes neither the user nor (unless admin)
 * the requester may change, with a usable CN; its CN and sip: URI in *cn,
 * *sip (o_tmpmemctx).  LDAP_SUCCESS, or a code and *why (maybe in buf). */
static int
cp_user_names( Operation *op, BackendDB *db, cp_prov *pv, struct berval *ndn,
	int admin, struct berval *cn, struct berval *sip, char *buf, size_t len,
	const char **why )
{
	const char *wr, *who = "the user";
	Entry *e = NULL;
	Attribute *a;
	int err = LDAP_SUCCESS;

	if ( certpin_entry_get( op, db, ndn, &e ) != LDAP_SUCCESS ) {
		*why = "certpinIssue: no such user";
		return LDAP_NO_SUCH_OBJECT;
	}
	wr = NULL;
	if ( !is_entry_objectclass( e, oc_certpinUser, 0 ) ) {
		err = LDAP_UNWILLING_TO_PERFORM;
		*why = "certpinIssue: the user's entry is not a certpinUser";
	} else if ( ( wr = cp_name_writable( op, db, pv, e, ndn ) ) != NULL ||
		    ( !admin && !dn_match( ndn, &op->o_ndn ) &&
		      ( wr = cp_name_writable( op, db, pv, e, &op->o_ndn ) ) != NULL &&
		      ( who = "the requester" ) ) ) {
		snprintf( buf, len, "certpinIssue: %s may change %s, "
			"which names the certificate: refused (give only "
			"administrators write access to it; see slapo-certpin(5))",
			who, wr );
		err = LDAP_UNWILLING_TO_PERFORM;
		*why = buf;
	} else if ( ( a = attr_find( e->e_attrs, pv->pv_cn ) ) == NULL ||
		    a->a_vals[0].bv_len == 0 || a->a_vals[0].bv_len > 64 ) {
		snprintf( buf, len, "certpinIssue: the user's entry has "
			"no usable %s for the certificate's name (1 to 64 bytes)",
			pv->pv_cn->ad_cname.bv_val );
		err = LDAP_UNWILLING_TO_PERFORM;
		*why = buf;
	} else {
		ber_dupbv_x( cn, &a->a_vals[0], op->o_tmpmemctx );
		a = attr_find( e->e_attrs, pv->pv_sip );
		if ( a && cp_uri_ok( &a->a_vals[0] ) )
			ber_dupbv_x( sip, &a->a_vals[0], op->o_tmpmemctx );
	}
	certpin_entry_release( op, db, e );
	return err;
}

/* The request's own policy: validity (the default when it asks for none)
 * and endpoint id.  LDAP_SUCCESS and *hours, or a code and *why. */
static int
cp_req_policy( cp_prov *pv, certpin_req *rq, long *hours, char *buf,
	size_t len, const char **why )
{
	ber_len_t i;

	*hours = rq->rq_has_validity ? rq->rq_validity : pv->pv_valid_def;
	if ( *hours < pv->pv_valid_min || *hours > pv->pv_valid_max ) {
		snprintf( buf, len, "certpinIssue: validity of %ld hours "
			"outside the policy (%d to %d hours)", *hours, pv->pv_valid_min,
			pv->pv_valid_max );
		*why = buf;
		return LDAP_UNWILLING_TO_PERFORM;
	}
	if ( rq->rq_endpoint.bv_val ) {
		if ( rq->rq_endpoint.bv_len == 0 || rq->rq_endpoint.bv_len > CP_ENDPOINT_MAX ) {
			*why = "certpinIssue: the endpoint id must have 1 to 256 bytes";
			return LDAP_UNWILLING_TO_PERFORM;
		}
		for ( i = 0; i < rq->rq_endpoint.bv_len; i++ )
			if ( (unsigned char)rq->rq_endpoint.bv_val[i] < 0x20 ||
			     rq->rq_endpoint.bv_val[i] == 0x7f ) {
				*why = "certpinIssue: control characters in the endpoint id";
				return LDAP_UNWILLING_TO_PERFORM;
			}
	}
	return LDAP_SUCCESS;
}

/* The identity field as a normalized DN (o_tmpmemctx).  0 or -1. */
static int
cp_identity_ndn( Operation *op, struct berval *id, struct berval *ndn )
{
	struct berval dn;
	int rc;

	/* dnNormalize wants a NUL-terminated value without NULs */
	dn.bv_len = id->bv_len;
	dn.bv_val = op->o_tmpalloc( dn.bv_len + 1, op->o_tmpmemctx );
	memcpy( dn.bv_val, id->bv_val, dn.bv_len );
	dn.bv_val[dn.bv_len] = '\0';
	rc = strlen( dn.bv_val ) != dn.bv_len ||
		dnNormalize( 0, NULL, NULL, &dn, ndn, op->o_tmpmemctx );
	op->o_tmpfree( dn.bv_val, op->o_tmpmemctx );
	if ( rc ) {
		BER_BVZERO( ndn );
		return -1;
	}
	return 0;
}

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

/* ---- the bulk operation ------------------------------------------------ */

/* certpinIssueBulk (CERTPIN_OID_EXOP ".2"): an administrator's many
 * requests in one (lib/provreq.h), each item checked as certpinIssue
 * checks an administrator's request, refused alone with its reason; the
 * certificates of one user are recorded by one modify, the users of one
 * database in few transactions (slapo-certpin(5), BULK ISSUANCE):
 *
 *   CertpinIssueBulkResponse ::= SEQUENCE {
 *       caCertificate  OCTET STRING,            -- DER
 *       results        SEQUENCE OF CHOICE {     -- one per item, in order
 *           certificate [0] OCTET STRING,       -- DER
 *           refused     [1] SEQUENCE { resultCode INTEGER,
 *                                      diagnosticMessage OCTET STRING } } }
 */

typedef struct cp_item {
	certpin_req	it_rq;
	int		it_err;		/* LDAP_SUCCESS while it goes on */
	const char	*it_why;	/* a constant or it_buf */
	char		it_buf[256];
	BackendDB	*it_db;
	struct berval	it_ndn;		/* o_tmpmemctx */
	struct berval	it_cn, it_sip;	/* o_tmpmemctx */
	long		it_hours;
	certpin_csr	it_csr;
	struct berval	it_der;		/* ch_malloc */
	certpin_certinfo it_info;
	char		it_serial[2 * CP_SERIAL_BYTES + 1];
	char		*it_endpoint;	/* o_tmpmemctx */
	int		it_user;	/* the first item of the same user */
	int		it_next;	/* the next item of the same user, or -1 */
	int		it_done;	/* recorded */
} cp_item;

/* Set item it refused: err, why (copied). */
static void
cp_item_refuse( cp_item *it, int err, const char *why )
{
	it->it_err = err;
	if ( why != it->it_buf )
		snprintf( it->it_buf, sizeof( it->it_buf ), "%s", why );
	it->it_why = it->it_buf;
}

/* Check item it as certpinIssue checks an administrator's request, up to
 * the CSR; *admin caches certpin_is_admin per database (ndb entries). */
static void
cp_bulk_check( Operation *op, cp_prov *pv, cp_item *it, BackendDB **adb,
	int *aok, int *nadb )
{
	certpin_req *rq = &it->it_rq;
	const char *why = NULL;
	char buf[SLAP_TEXT_BUFLEN];
	int err, i;

	if ( rq->rq_phone.bv_val || rq->rq_pin.bv_val ) {
		cp_item_refuse( it, LDAP_UNWILLING_TO_PERFORM, "certpinIssue: phone "
			"and PIN are not accepted in a bulk request" );
		return;
	}
	if ( rq->rq_identity.bv_val == NULL ) {
		cp_item_refuse( it, LDAP_UNWILLING_TO_PERFORM, "certpinIssue: each "
			"item of a bulk request names its user (identity)" );
		return;
	}
	err = cp_req_policy( pv, rq, &it->it_hours, buf, sizeof( buf ), &why );
	if ( err != LDAP_SUCCESS ) {
		cp_item_refuse( it, err, why );
		return;
	}
	if ( cp_identity_ndn( op, &rq->rq_identity, &it->it_ndn ) ) {
		cp_item_refuse( it, LDAP_INVALID_DN_SYNTAX,
			"certpinIssue: identity is not a DN" );
		return;
	}
	it->it_db = select_backend( &it->it_ndn, 0 );
	if ( it->it_db == NULL ) {
		cp_item_refuse( it, LDAP_NO_SUCH_OBJECT, "certpinIssue: no such user" );
		return;
	}
	for ( i = 0; i < *nadb && adb[i] != it->it_db; i++ )
		;
	if ( i == *nadb ) {
		adb[i] = it->it_db;
		aok[i] = certpin_is_admin( op, it->it_db );
		( *nadb )++;
	}
	if ( !aok[i] ) {
		cp_item_refuse( it, LDAP_INSUFFICIENT_ACCESS, "certpinIssue: only "
			"administrators issue certificates for other users" );
		return;
	}
	if ( dn_match( &it->it_ndn, &op->o_ndn ) ) {
		cp_item_refuse( it, LDAP_UNWILLING_TO_PERFORM, "certpinIssue: a bulk "
			"request does not issue for the requester (use certpinIssue)" );
		return;
	}
	if ( SLAP_SHADOW( it->it_db ) && !SLAP_MULTIPROVIDER( it->it_db ) ) {
		cp_item_refuse( it, LDAP_UNWILLING_TO_PERFORM, "certpinIssue: the "
			"user's database is a read-only replica; ask its provider" );
		return;
	}
	err = cp_user_names( op, it->it_db, pv, &it->it_ndn, 1, &it->it_cn,
		&it->it_sip, it->it_buf, sizeof( it->it_buf ), &why );
	if ( err != LDAP_SUCCESS ) {
		cp_item_refuse( it, err, why );
		return;
	}
	why = certpin_csr_check( &rq->rq_csr, &it->it_csr, buf, sizeof( buf ) );
	if ( why ) {
		cp_item_refuse( it, LDAP_UNWILLING_TO_PERFORM, why );
		return;
	}
	if ( rq->rq_endpoint.bv_val ) {
		it->it_endpoint = op->o_tmpalloc( rq->rq_endpoint.bv_len + 1,
			op->o_tmpmemctx );
		memcpy( it->it_endpoint, rq->rq_endpoint.bv_val, rq->rq_endpoint.bv_len );
		it->it_endpoint[rq->rq_endpoint.bv_len] = '\0';
	}
}

/* The modifications that record the certificates of the user whose first
 * item is u (the items still going on).  NULL if none. */
static Modifications *
cp_bulk_mods( Operation *op, cp_item *items, int u )
{
	Modifications *mods = NULL, *m;
	BerVarray recs = NULL, tps = NULL, ders = NULL;
	cp_item *it;
	char *rec, *ep;
	int i;

	for ( i = u; i >= 0; i = it->it_next ) {
		it = &items[i];
		if ( it->it_err != LDAP_SUCCESS || it->it_done )
			continue;
		certpin_gentime( op->o_time, it->it_info.ci_published );
		ep = it->it_info.ci_endpoint;
		if ( it->it_endpoint )
			it->it_info.ci_endpoint = it->it_endpoint;
		rec = certpin_certinfo_format( &it->it_info );
		it->it_info.ci_endpoint = ep;
		if ( rec == NULL ) {
			cp_item_refuse( it, LDAP_OTHER, "certpin: the issued certificate "
				"cannot be recorded" );
			continue;
		}
		value_add_one( &recs, &(struct berval){ strlen( rec ), rec } );
		free( rec );
		value_add_one( &tps, &(struct berval){ 64, it->it_info.ci_sha256 } );
		value_add_one( &ders, &it->it_der );
	}
	if ( ders == NULL )
		return NULL;
	m = certpin_mod_new( LDAP_MOD_ADD, ad_certpinCertBinary, ders );
	m->sml_next = mods;
	mods = m;
	m = certpin_mod_new( LDAP_MOD_ADD, ad_certpinThumbprint, tps );
	m->sml_next = mods;
	mods = m;
	m = certpin_mod_new( LDAP_MOD_ADD, ad_certpinCertInfo, recs );
	m->sml_next = mods;
	mods = m;
	return mods;
}

/* Record the certificates of user u on its entry: one internal modify as
 * the database's root DN (through its overlays, the write gate letting it
 * through as certpin's own), inside the database transaction txop carries
 * (its o_extra) or on its own.  Returns an LDAP result code. */
static int
cp_bulk_write( Operation *txop, cp_item *items, int u )
{
	cp_item *it = &items[u];
	Operation op2 = *txop;
	SlapReply rs2 = { REP_RESULT };
	slap_callback cb = { 0 };
	OpExtra oex;
	void *controls[SLAP_MAX_CIDS];
	BackendDB *db = it->it_db;

	if ( db->be_modify == NULL )
		return LDAP_UNWILLING_TO_PERFORM;
	cb.sc_response = slap_null_cb;
	certpin_op_as_root( &op2, db, LDAP_REQ_MODIFY, &it->it_ndn, &it->it_ndn, &cb );
	certpin_internal_mark( &op2, &oex );	/* the gate lets it through */
	op2.o_managedsait = SLAP_CONTROL_NONE;
	op2.o_relax = SLAP_CONTROL_NONE;
	op2.o_dont_replicate = 0;
	op2.o_csn.bv_val = NULL;
	op2.o_csn.bv_len = 0;
	op2.orm_no_opattrs = 0;
	op2.orm_increment = 0;
	memset( controls, 0, sizeof( controls ) );
	op2.o_controls = controls;
	op2.o_assertion = NULL;
	op2.o_assert = SLAP_CONTROL_NONE;
	op2.o_preread = op2.o_postread = SLAP_CONTROL_NONE;
	op2.o_txnSpec = SLAP_CONTROL_NONE;
	op2.o_noop = SLAP_CONTROL_NONE;
	slap_op_time( &op2.o_time, &op2.o_tincr );
	op2.orm_modlist = cp_bulk_mods( &op2, items, u );
	if ( op2.orm_modlist == NULL )
		return LDAP_OTHER;
	slap_mods_opattrs( &op2, &op2.orm_modlist, 1 );
	db->be_modify( &op2, &rs2 );
	slap_mods_free( op2.orm_modlist, 1 );
	if ( rs2.sr_err != LDAP_SUCCESS )
		Debug( LDAP_DEBUG_ANY, "%s certpin: bulk issuance: internal modify "
			"of \"%s\" failed: %d %s\n", txop->o_log_prefix, it->it_ndn.bv_val,
			rs2.sr_err, rs2.sr_text ? rs2.sr_text : "" );
	return rs2.sr_err;
}

/* The user u's items after its write: recorded, or refused with rc. */
static void
cp_bulk_settle( Operation *op, cp_item *items, int u, int rc )
{
	cp_item *it;
	int i;

	for ( i = u; i >= 0; i = it->it_next ) {
		it = &items[i];
		if ( it->it_err != LDAP_SUCCESS || it->it_done )
			continue;
		if ( rc == LDAP_SUCCESS ) {
			it->it_done = 1;
			Debug( LDAP_DEBUG_STATS, "%s certpin: recorded certificate %s "
				"on \"%s\"%s%s\n", op->o_log_prefix, it->it_info.ci_sha256,
				it->it_ndn.bv_val, it->it_endpoint ? " endpoint=" : "",
				it->it_endpoint ? it->it_endpoint : "" );
		} else {
			cp_item_refuse( it, rc, certpin_write_failed_text( rc ) );
		}
	}
}

/* Record the users us[0 .. nu-1] of one database: the first on its own
 * (so that every attribute the writes store has its number in back-mdb's
 * table for good before any transaction could abort: adtable.c), the others
 * CP_BULK_TXN to a database transaction (unless an overlay of the database
 * logs writes as they run: certpin_db_logs_writes); a transaction in which
 * a write fails is aborted and its users recorded one by one. */
static void
cp_bulk_record( Operation *op, cp_item *items, int *us, int nu )
{
	BackendDB *db = items[us[0]].it_db;
	int i, j, k, rc;

	cp_bulk_settle( op, items, us[0], cp_bulk_write( op, items, us[0] ) );
	for ( i = 1; i < nu; i = j ) {
		Operation txop = *op;
		OpExtra *txn = NULL;

		j = i + CP_BULK_TXN < nu ? i + CP_BULK_TXN : nu;
		if ( db->bd_info->bi_op_txn == NULL || j - i < 2 ||
		     certpin_db_logs_writes( db ) ) {
			for ( k = i; k < j; k++ )
				cp_bulk_settle( op, items, us[k], cp_bulk_write( op, items, us[k] ) );
			continue;
		}
		txop.o_bd = db;
		rc = db->bd_info->bi_op_txn( &txop, SLAP_TXN_BEGIN, &txn );
		for ( k = i; rc == LDAP_SUCCESS && k < j; k++ )
			rc = cp_bulk_write( &txop, items, us[k] );
		if ( txn && rc == LDAP_SUCCESS )
			rc = db->bd_info->bi_op_txn( &txop, SLAP_TXN_COMMIT, &txn );
		else if ( txn )
			db->bd_info->bi_op_txn( &txop, SLAP_TXN_ABORT, &txn );
		if ( rc == LDAP_SUCCESS ) {
			for ( k = i; k < j; k++ )
				cp_bulk_settle( op, items, us[k], LDAP_SUCCESS );
			continue;
		}
		Debug( LDAP_DEBUG_ANY, "%s certpin: bulk issuance: a transaction of "
			"%d users failed (%d): recording them one by one\n",
			op->o_log_prefix, j - i, rc );
		for ( k = i; k < j; k++ )
			cp_bulk_settle( op, items, us[k], cp_bulk_write( op, items, us[k] ) );
	}
}

/* Send the extended operation's success response (its value in
 * rs->sr_rspdata, freed here). */
static void
cp_send_ext( Operation *op, SlapReply *rs, const char *oid )
{
	rs->sr_rspoid = ch_strdup( oid );
	rs->sr_err = LDAP_SUCCESS;
	rs->sr_text = NULL;
	send_ldap_extended( op, rs );
	ch_free( (char *)rs->sr_rspoid );
	rs->sr_rspoid = NULL;
	ber_bvfree( rs->sr_rspdata );
	rs->sr_rspdata = NULL;
}

static int
cp_prov_bulk( Operation *op, SlapReply *rs )
{
	cp_prov *pv = cp_prov_get( op );
	certpin_info *ci = certpin_ci( op );
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *obd = op->o_bd, **adb = NULL;
	certpin_req *rqs = NULL;
	cp_item *items = NULL, *it;
	BerElementBuffer berbuf;
	BerElement *ber = (BerElement *)&berbuf;
	Entry *e;
	Attribute *a;
	struct berval owner;
	char buf[SLAP_TEXT_BUFLEN], sess[65];
	const char *why;
	size_t n = 0, i, j;
	unsigned char ll;
	int *aok = NULL, *us = NULL, nadb = 0, nu, issued = 0, bound, rc;

	if ( cp_prov_names( pv, &(const char *){ NULL } ) )
		return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
			"certpinIssue: the naming attributes of issued certificates "
			"(uid, mail) are not defined: load the core schema" );
	if ( op->ore_reqdata && op->ore_reqdata->bv_len > CERTPIN_BULK_MAX_BYTES ) {
		snprintf( buf, sizeof( buf ), "certpinIssueBulk: the request has more "
			"than %d bytes: send fewer items per request", CERTPIN_BULK_MAX_BYTES );
		return cp_prov_refuse( op, rs, LDAP_ADMINLIMIT_EXCEEDED, buf );
	}
	if ( BER_BVISEMPTY( &op->o_ndn ) )
		return cp_prov_refuse( op, rs, LDAP_INSUFFICIENT_ACCESS,
			"certpinIssue: only administrators issue certificates in bulk: "
			"bind first" );
	if ( pv->pv_cert == NULL || pv->pv_key == NULL || ci == NULL )
		return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
			"certpinIssue: no CA configured (certpin-ca-cert, certpin-ca-key)" );
	/* a requester bound with a certificate acts while it is on file */
	bound = certpin_bind_session_cert( op, sess );
	if ( bound && !cp_holds_cert( op, &op->o_ndn, sess ) )
		return cp_prov_refuse( op, rs, LDAP_INSUFFICIENT_ACCESS,
			"certpinIssue: the certificate this session is bound with "
			"is no longer on file" );

	rqs = ch_calloc( CERTPIN_BULK_MAX_ITEMS, sizeof( certpin_req ) );
	if ( certpin_bulk_decode( op->ore_reqdata, rqs, CERTPIN_BULK_MAX_ITEMS, &n,
			&ll, buf, 128 ) ) {
		char msg[SLAP_TEXT_BUFLEN];

		rc = strncmp( buf, "more than", 9 ) == 0;
		snprintf( msg, sizeof( msg ), "certpinIssueBulk: %s request: %.128s "
			"(see slapo-certpin(5))", rc ? "too large a" : "malformed", buf );
		ch_free( rqs );
		return cp_prov_refuse( op, rs, rc ? LDAP_ADMINLIMIT_EXCEEDED :
			LDAP_PROTOCOL_ERROR, msg );
	}
	items = ch_calloc( n, sizeof( cp_item ) );
	adb = ch_calloc( n, sizeof( BackendDB * ) );
	aok = ch_calloc( n, sizeof( int ) );
	us = ch_calloc( n, sizeof( int ) );
	for ( i = 0; i < n; i++ ) {
		it = &items[i];
		it->it_rq = rqs[i];
		it->it_next = -1;
		it->it_user = (int)i;
		cp_bulk_check( op, pv, it, adb, aok, &nadb );
	}
	for ( i = 0; i < (size_t)nadb && !aok[i]; i++ )
		;
	if ( i == (size_t)nadb ) {
		rc = cp_prov_refuse( op, rs, LDAP_INSUFFICIENT_ACCESS,
			"certpinIssue: only administrators issue certificates in bulk" );
		goto done;
	}

	/* One certificate, one user: one key once in a request (the same CSR,
	 * or the same key for two users, is refused after its first item);
	 * the items of one user linked, in order. */
	for ( i = 0; i < n; i++ ) {
		it = &items[i];
		if ( it->it_err != LDAP_SUCCESS )
			continue;
		for ( j = 0; j < i; j++ ) {
			cp_item *o = &items[j];

			if ( o->it_err != LDAP_SUCCESS )
				continue;
			if ( o->it_csr.cs_key_len == it->it_csr.cs_key_len &&
			     memcmp( o->it_csr.cs_key, it->it_csr.cs_key,
				it->it_csr.cs_key_len ) == 0 ) {
				snprintf( buf, sizeof( buf ), "certpinIssue: the CSR's key is "
					"the key of item %zu of this request (one certificate, "
					"one user)", j + 1 );
				cp_item_refuse( it, LDAP_CONSTRAINT_VIOLATION, buf );
				break;
			}
		}
	}
	for ( i = 0; i < n; i++ ) {
		it = &items[i];
		if ( it->it_err != LDAP_SUCCESS )
			continue;
		for ( j = i; j-- > 0; ) {
			cp_item *o = &items[j];

			if ( o->it_err == LDAP_SUCCESS && o->it_db == it->it_db &&
			     dn_match( &o->it_ndn, &it->it_ndn ) ) {
				it->it_user = o->it_user;
				o->it_next = (int)i;
				break;
			}
		}
	}

	/* Room on each entry (certpin-max-certificates), before any signing:
	 * counted again under the lock below */
	for ( i = 0; i < n; i++ ) {
		int held = 0, k;

		it = &items[i];
		if ( it->it_err != LDAP_SUCCESS || it->it_user != (int)i )
			continue;
		if ( certpin_entry_get( op, it->it_db, &it->it_ndn, &e ) == LDAP_SUCCESS ) {
			a = attr_find( e->e_attrs, ad_certpinCertBinary );
			held = a ? a->a_numvals : 0;
			certpin_entry_release( op, it->it_db, e );
		}
		for ( k = (int)i; k >= 0; k = items[k].it_next ) {
			if ( items[k].it_err != LDAP_SUCCESS )
				continue;
			if ( ++held > ci->ci_max_certs )
				cp_item_refuse( &items[k], LDAP_CONSTRAINT_VIOLATION,
					"certpinCertificate: the entry holds as many "
					"certificates as it may (certpin-max-certificates)" );
		}
	}

	/* The certificates (outside the uniqueness lock: most of the work) */
	for ( i = 0; i < n; i++ ) {
		it = &items[i];
		if ( it->it_err != LDAP_SUCCESS )
			continue;
		why = cp_issue( op, pv, &it->it_csr, &it->it_cn, &it->it_sip,
			it->it_hours, &it->it_der, &it->it_info, it->it_serial );
		if ( why )
			cp_item_refuse( it, LDAP_UNWILLING_TO_PERFORM, why );
	}

	/* From the checks until the writes are done: one certificate, one user. */
	certpin_uniq_lock();
	if ( bound && !cp_holds_cert( op, &op->o_ndn, sess ) ) {
		Debug( LDAP_DEBUG_STATS, "%s certpin: certpinIssueBulk: certificate %s "
			"of the requester revoked while the request ran: nothing issued\n",
			op->o_log_prefix, sess );
		for ( i = 0; i < n; i++ )
			if ( items[i].it_err == LDAP_SUCCESS )
				cp_item_refuse( &items[i], LDAP_INSUFFICIENT_ACCESS,
					"certpinIssue: the certificate this session is bound "
					"with is no longer on file" );
	}
	for ( i = 0; i < n; i++ ) {
		int held, k, c;

		it = &items[i];
		if ( it->it_err != LDAP_SUCCESS || it->it_user != (int)i )
			continue;
		/* certpin-max-certificates: the items beyond it are refused */
		held = 0;
		if ( certpin_entry_get( op, it->it_db, &it->it_ndn, &e ) == LDAP_SUCCESS ) {
			a = attr_find( e->e_attrs, ad_certpinCertBinary );
			held = a ? a->a_numvals : 0;
			certpin_entry_release( op, it->it_db, e );
		}
		for ( k = (int)i; k >= 0; k = items[k].it_next ) {
			cp_item *o = &items[k];

			if ( o->it_err != LDAP_SUCCESS )
				continue;
			if ( held + 1 > ci->ci_max_certs ) {
				cp_item_refuse( o, LDAP_CONSTRAINT_VIOLATION, "certpinCertificate: "
					"the entry holds as many certificates as it may "
					"(certpin-max-certificates)" );
				continue;
			}
			BER_BVZERO( &owner );
			c = certpin_find_thumbprint_all( op, o->it_info.ci_sha256, 1, &owner );
			if ( owner.bv_val )
				op->o_tmpfree( owner.bv_val, op->o_tmpmemctx );
			if ( c != 0 ) {
				cp_item_refuse( o, c < 0 ? LDAP_OTHER : LDAP_CONSTRAINT_VIOLATION,
					c < 0 ? "certpin: internal search failed" :
					"certpinCertificate: the issued certificate is already "
					"on file or revoked" );
				continue;
			}
			held++;
		}
	}
	/* the users still going on, database by database */
	for ( i = 0; i < n; i++ ) {
		BackendDB *db;

		it = &items[i];
		if ( it->it_err != LDAP_SUCCESS || it->it_user != (int)i || it->it_done )
			continue;
		db = it->it_db;
		nu = 0;
		for ( j = i; j < n; j++ ) {
			cp_item *o = &items[j];
			int k, live = 0;

			if ( o->it_db != db || o->it_user != (int)j || o->it_done )
				continue;
			for ( k = (int)j; k >= 0; k = items[k].it_next )
				live |= items[k].it_err == LDAP_SUCCESS;
			if ( live )
				us[nu++] = (int)j;
		}
		if ( nu ) {
			cp_bulk_record( op, items, us, nu );
			for ( j = 0; j < (size_t)nu; j++ )
				items[us[j]].it_done = 1;
		}
		for ( j = i; j < n; j++ )
			if ( items[j].it_db == db && items[j].it_user == (int)j )
				items[j].it_done = 1;
	}
	certpin_uniq_unlock();
	op->o_bd = obd;
	op->o_bd->bd_info = bi;

	/* The results: counted, logged, sent */
	ber_init2( ber, NULL, LBER_USE_DER );
	rc = ber_printf( ber, "{O{", &pv->pv_cert_der );
	for ( i = 0; rc >= 0 && i < n; i++ ) {
		it = &items[i];
		if ( it->it_err == LDAP_SUCCESS ) {
			Debug( LDAP_DEBUG_STATS, "%s certpin: issued certificate serial=%s "
				"for \"%s\" (administrator, bulk item %zu, %ld hours)\n",
				op->o_log_prefix, it->it_serial, it->it_ndn.bv_val, i + 1,
				it->it_hours );
			certpin_count_issued( "administrator" );
			issued++;
			rc = ber_printf( ber, "tO", (ber_tag_t)0x80, &it->it_der );
		} else {
			Debug( LDAP_DEBUG_STATS, "%s certpin: certpinIssueBulk item %zu "
				"refused: %d %s\n", op->o_log_prefix, i + 1, it->it_err,
				it->it_why );
			certpin_count_issue_refused( op, it->it_err, it->it_why );
			rc = ber_printf( ber, "t{is}", (ber_tag_t)0xa1, it->it_err,
				it->it_why );
		}
	}
	if ( rc < 0 || ber_printf( ber, "}}" ) < 0 ||
	     ber_flatten( ber, &rs->sr_rspdata ) < 0 ) {
		ber_free_buf( ber );
		rc = cp_prov_refuse( op, rs, LDAP_OTHER,
			"certpinIssue: cannot encode the response" );
		goto done;
	}
	ber_free_buf( ber );
	Debug( LDAP_DEBUG_STATS, "%s certpin: certpinIssueBulk: %d of %zu "
		"certificates issued\n", op->o_log_prefix, issued, n );
	cp_send_ext( op, rs, CP_BULK_OID );
	rc = LDAP_SUCCESS;

done:
	for ( i = 0; i < n; i++ ) {
		it = &items[i];
		certpin_csr_free( &it->it_csr );
		certpin_certinfo_free( &it->it_info );
		if ( it->it_der.bv_val )
			ch_free( it->it_der.bv_val );
		if ( it->it_ndn.bv_val )
			op->o_tmpfree( it->it_ndn.bv_val, op->o_tmpmemctx );
		if ( it->it_cn.bv_val )
			op->o_tmpfree( it->it_cn.bv_val, op->o_tmpmemctx );
		if ( it->it_sip.bv_val )
			op->o_tmpfree( it->it_sip.bv_val, op->o_tmpmemctx );
		if ( it->it_endpoint )
			op->o_tmpfree( it->it_endpoint, op->o_tmpmemctx );
	}
	ch_free( items );
	ch_free( rqs );
	ch_free( adb );
	ch_free( aok );
	ch_free( us );
	return rc;
}

int
certpin_prov_extended( Operation *op, SlapReply *rs )
{
	cp_prov *pv;
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *obd = op->o_bd, *db = NULL;
	certpin_req rq;
	certpin_csr csr = { NULL };
	certpin_certinfo info;
	struct berval ndn = BER_BVNULL, cn = BER_BVNULL, sip = BER_BVNULL;
	struct berval der = BER_BVNULL;
	BerElementBuffer berbuf;
	BerElement *ber = (BerElement *)&berbuf;
	char buf[SLAP_TEXT_BUFLEN], serial[2 * CP_SERIAL_BYTES + 1];
	char *endpoint = NULL, sess[65];
	const char *why, *path;
	Filter *still = NULL;
	long hours;
	int rc, err = LDAP_SUCCESS;

	if ( bvmatch( &op->ore_reqoid, &cp_bulk_oid ) )
		return cp_prov_bulk( op, rs );
	if ( !bvmatch( &op->ore_reqoid, &cp_prov_oid ) )
		return SLAP_CB_CONTINUE;
	pv = cp_prov_get( op );
	if ( cp_prov_names( pv, &(const char *){ NULL } ) )
		return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
			"certpinIssue: the naming attributes of issued certificates "
			"(uid, mail) are not defined: load the core schema" );

	if ( certpin_req_decode( op->ore_reqdata, &rq, buf, 128 ) ) {
		char msg[SLAP_TEXT_BUFLEN];

		snprintf( msg, sizeof( msg ), "certpinIssue: malformed request: %.128s "
			"(see slapo-certpin(5))", buf );
		return cp_prov_refuse( op, rs, LDAP_PROTOCOL_ERROR, msg );
	}

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
	err = cp_req_policy( pv, &rq, &hours, buf, sizeof( buf ), &why );
	if ( err != LDAP_SUCCESS )
		return cp_prov_refuse( op, rs, err, why );
	memset( &info, 0, sizeof( info ) );
	why = certpin_csr_check( &rq.rq_csr, &csr, buf, sizeof( buf ) );
	if ( why )
		return cp_prov_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM, why );
	if ( pv->pv_cert == NULL || pv->pv_key == NULL ) {
		certpin_csr_free( &csr );
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

		path = "administrator";
		if ( cp_identity_ndn( op, &rq.rq_identity, &ndn ) ) {
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

	/* A requester bound with a certificate acts only while that certificate
	 * is on file: checked now, and for the requester's own entry once more
	 * by the backend inside the record write's transaction (an assertion),
	 * so a revocation that commits first leaves nothing issued.  (The PIN
	 * path does not act on the session's identity.) */
	if ( !rq.rq_phone.bv_val && certpin_bind_session_cert( op, sess ) ) {
		if ( !cp_holds_cert( op, &op->o_ndn, sess ) ) {
			err = LDAP_INSUFFICIENT_ACCESS;
			why = "certpinIssue: the certificate this session is bound with "
				"is no longer on file";
			goto fail;
		}
		if ( dn_match( &ndn, &op->o_ndn ) ) {
			snprintf( buf, sizeof( buf ), "(certpinThumbprint=%s)", sess );
			still = str2filter_x( op, buf );
			if ( still == NULL ) {
				err = LDAP_OTHER;
				why = "certpinIssue: internal error (assertion)";
				goto fail;
			}
		}
	}

	/* The user's entry names the certificate, from attributes only
	 * administrators may change (slapo-certpin(5), ISSUANCE): neither the
	 * user nor a requester who is not an administrator may write them. */
	err = cp_user_names( op, db, pv, &ndn, strcmp( path, "administrator" ) == 0,
		&cn, &sip, buf, sizeof( buf ), &why );
	if ( err != LDAP_SUCCESS )
		goto fail;

	why = cp_issue( op, pv, &csr, &cn, &sip, hours, &der, &info, serial );
	if ( why ) {
		err = LDAP_UNWILLING_TO_PERFORM;
		goto fail;
	}
	if ( rq.rq_endpoint.bv_val ) {
		endpoint = op->o_tmpalloc( rq.rq_endpoint.bv_len + 1, op->o_tmpmemctx );
		memcpy( endpoint, rq.rq_endpoint.bv_val, rq.rq_endpoint.bv_len );
		endpoint[rq.rq_endpoint.bv_len] = '\0';
	}
	err = certpin_write_record( op, db, &ndn, &der, &info, endpoint, still, rs );
	op->o_bd = obd;
	op->o_bd->bd_info = bi;
	if ( err == LDAP_ASSERTION_FAILED && still ) {
		Debug( LDAP_DEBUG_STATS, "%s certpin: certpinIssue: certificate %s "
			"of \"%s\" revoked while the request ran: nothing issued\n",
			op->o_log_prefix, sess, ndn.bv_val );
		err = LDAP_INSUFFICIENT_ACCESS;
		why = "certpinIssue: the certificate this session is bound with "
			"is no longer on file";
		goto fail;
	}
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
	cp_send_ext( op, rs, CP_PROV_OID );
	rc = LDAP_SUCCESS;
	goto done;

fail:
	rc = cp_prov_refuse( op, rs, err, why );
done:
	if ( still )
		filter_free_x( op, still, 1 );
	certpin_csr_free( &csr );
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
