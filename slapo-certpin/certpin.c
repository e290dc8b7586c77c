/* certpin.c - client-certificate ("PIN") authentication overlay for slapd
 *
 * certpin records the X.509 client certificates issued to users on their
 * entries, with metadata the overlay computes itself (thumbprints, serial,
 * issuer, subject, validity), refuses SASL EXTERNAL binds whose certificate
 * is not on file for the user, keeps revocation records when certificates
 * are deleted, and issues certificates through an extended operation.
 *
 * It must be configured on the frontend ("database frontend" / "overlay
 * certpin", or olcOverlay=certpin,olcDatabase={-1}frontend,cn=config):
 * SASL binds never reach a backend's overlays.  See slapo-certpin(5).
 *
 * This file: registration, schema table, config table, life cycle.
 */

#include "certpin.h"

#include <ac/stdarg.h>
#include <ac/string.h>

/* ---- schema ------------------------------------------------------------ */

AttributeDescription *ad_certpinCertificate;
AttributeDescription *ad_certpinCertBinary;
AttributeDescription *ad_certpinThumbprint;
AttributeDescription *ad_certpinCertInfo;
AttributeDescription *ad_certpinRevoked;
AttributeDescription *ad_certpinPIN;
AttributeDescription *ad_certpinPINFailure;
AttributeDescription *ad_certpinRevokedThumbprint;
ObjectClass *oc_certpinUser;
ObjectClass *oc_certpinHistory;

/* Keep in step with schema/certpin.schema and schema/certpin.ldif; the test
 * suite compares them with what slapd reports from cn=Subschema. */
static struct {
	char *def;
	AttributeDescription **ad;
} certpin_at[] = {
	{ "( " CERTPIN_OID_AT ".1 NAME 'certpinCertificate' "
	  "DESC 'X.509 client certificates issued to this user for logon, DER; transfer as certpinCertificate;binary' "
	  "EQUALITY certificateExactMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.8 )", &ad_certpinCertificate },
	{ "( " CERTPIN_OID_AT ".2 NAME 'certpinThumbprint' "
	  "DESC 'Lowercase hex SHA-256 of each certpinCertificate value; maintained by the certpin overlay' "
	  "EQUALITY caseIgnoreIA5Match "
	  "SUBSTR caseIgnoreIA5SubstringsMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{64} )", &ad_certpinThumbprint },
	{ "( " CERTPIN_OID_AT ".3 NAME 'certpinCertInfo' "
	  "DESC 'Metadata of one certpinCertificate value; maintained by the certpin overlay' "
	  "EQUALITY caseExactMatch "
	  "SUBSTR caseExactSubstringsMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )", &ad_certpinCertInfo },
	{ "( " CERTPIN_OID_AT ".4 NAME 'certpinRevoked' "
	  "DESC 'Revocation record of one certificate once held by this entry; maintained by the certpin overlay' "
	  "EQUALITY caseExactMatch "
	  "SUBSTR caseExactSubstringsMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )", &ad_certpinRevoked },
	{ "( " CERTPIN_OID_AT ".5 NAME 'certpinPIN' "
	  "DESC 'Hashed PIN proving the user when a device asks for a certificate; never readable' "
	  "EQUALITY octetStringMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.40{128} )", &ad_certpinPIN },
	{ "( " CERTPIN_OID_AT ".6 NAME 'certpinPINFailure' "
	  "DESC 'Times of recent wrong PINs; maintained by the certpin overlay' "
	  "EQUALITY generalizedTimeMatch "
	  "ORDERING generalizedTimeOrderingMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 )", &ad_certpinPINFailure },
	{ "( " CERTPIN_OID_AT ".7 NAME 'certpinRevokedThumbprint' "
	  "DESC 'Lowercase hex SHA-256 of each certificate a certpinRevoked record names; maintained by the certpin overlay' "
	  "EQUALITY caseIgnoreIA5Match "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{64} )", &ad_certpinRevokedThumbprint },
	{ NULL, NULL }
};

static struct {
	char *def;
	ObjectClass **oc;
} certpin_oc[] = {
	{ "( " CERTPIN_OID_OC ".1 NAME 'certpinUser' "
	  "DESC 'A user to whom client certificates may be issued' "
	  "SUP top AUXILIARY "
	  "MAY ( certpinCertificate $ certpinThumbprint $ certpinCertInfo $ "
	  "certpinPIN $ certpinPINFailure ) )",
	  &oc_certpinUser },
	{ "( " CERTPIN_OID_OC ".2 NAME 'certpinHistory' "
	  "DESC 'An entry that keeps revocation records; added by the certpin overlay' "
	  "SUP top AUXILIARY "
	  "MAY ( certpinRevoked $ certpinRevokedThumbprint ) )",
	  &oc_certpinHistory },
	{ NULL, NULL }
};

/* ---- configuration ----------------------------------------------------- */

/* The config table is assembled at initialization from each concern's rows
 * (certpin_*_cfg), so that every concern owns its directives. */
#define CERTPIN_CFG_MAX	64
static ConfigTable certpin_cfg[CERTPIN_CFG_MAX];
static char certpin_oc_def[2048];

static ConfigOCs certpin_ocs[] = {
	{ certpin_oc_def, Cft_Overlay, certpin_cfg },
	{ NULL, 0, NULL }
};

static int
certpin_cfg_build( void )
{
	ConfigTable *parts[] = { certpin_write_cfg, certpin_bind_cfg,
		certpin_prov_cfg, certpin_pin_cfg, NULL };
	const char *names[] = { certpin_write_cfg_names, certpin_bind_cfg_names,
		certpin_prov_cfg_names, certpin_pin_cfg_names, NULL };
	int i, j, n = 0, first = 1;
	size_t len;

	for ( i = 0; parts[i]; i++ ) {
		for ( j = 0; parts[i][j].name; j++ ) {
			if ( n >= CERTPIN_CFG_MAX - 1 )
				return -1;
			certpin_cfg[n++] = parts[i][j];
		}
	}
	certpin_cfg[n].name = NULL;
	certpin_cfg[n].arg_type = ARG_IGNORED;

	len = snprintf( certpin_oc_def, sizeof( certpin_oc_def ),
		"( " CERTPIN_OID_CFG_OC ".1 NAME 'olcCertpinConfig' "
		"DESC 'certpin overlay configuration' "
		"SUP olcOverlayConfig MAY ( " );
	for ( i = 0; names[i]; i++ ) {
		if ( names[i][0] == '\0' )
			continue;
		len += snprintf( certpin_oc_def + len, sizeof( certpin_oc_def ) - len,
			"%s%s", first ? "" : " $ ", names[i] );
		first = 0;
	}
	len += snprintf( certpin_oc_def + len, sizeof( certpin_oc_def ) - len, " ) )" );
	return len < sizeof( certpin_oc_def ) ? 0 : -1;
}

/* ---- helpers shared by the concerns ------------------------------------ */

BackendDB *
certpin_select_db( Operation *op, struct berval *ndn )
{
	if ( op->o_bd != NULL && !SLAP_ISGLOBALOVERLAY( op->o_bd ) &&
	     op->o_bd != frontendDB )
		return op->o_bd;
	return select_backend( ndn, 0 );
}

typedef struct certpin_find_t {
	int		cf_count;
	struct berval	cf_owner;
} certpin_find_t;

static int
certpin_find_cb( Operation *op, SlapReply *rs )
{
	certpin_find_t *cf = op->o_callback->sc_private;

	if ( rs->sr_type == REP_SEARCH ) {
		if ( cf->cf_count == 0 )
			ber_dupbv_x( &cf->cf_owner, &rs->sr_entry->e_nname, op->o_tmpmemctx );
		cf->cf_count++;
	}
	return 0;
}

int
certpin_entry_get( Operation *op, BackendDB *db, struct berval *ndn, Entry **ep )
{
	BackendDB *obd = op->o_bd;
	BackendInfo *bi = obd ? obd->bd_info : NULL;
	int rc;

	*ep = NULL;
	op->o_bd = db;
	rc = be_entry_get_rw( op, ndn, NULL, NULL, 0, ep );
	op->o_bd = obd;
	if ( obd )
		obd->bd_info = bi;
	if ( rc != LDAP_SUCCESS )
		*ep = NULL;
	else if ( *ep == NULL )
		rc = LDAP_NO_SUCH_OBJECT;
	return rc;
}

void
certpin_entry_release( Operation *op, BackendDB *db, Entry *e )
{
	BackendDB *obd = op->o_bd;
	BackendInfo *bi = obd ? obd->bd_info : NULL;

	op->o_bd = db;
	be_entry_release_r( op, e );
	op->o_bd = obd;
	if ( obd )
		obd->bd_info = bi;
}

void
certpin_op_as_root( Operation *op2, BackendDB *db, ber_tag_t tag,
	struct berval *dn, struct berval *ndn, slap_callback *cb )
{
	op2->o_tag = tag;
	op2->o_bd = db;
	op2->o_dn = db->be_rootdn;
	op2->o_ndn = db->be_rootndn;
	op2->o_req_dn = *dn;
	op2->o_req_ndn = *ndn;
	op2->o_callback = cb;
}

void
certpin_search_as_root( Operation *op2, BackendDB *db, slap_callback *cb )
{
	certpin_op_as_root( op2, db, LDAP_REQ_SEARCH, &db->be_suffix[0],
		&db->be_nsuffix[0], cb );
	op2->o_managedsait = SLAP_CONTROL_CRITICAL;
	op2->o_sync = SLAP_CONTROL_NONE;
	op2->o_pagedresults = SLAP_CONTROL_NONE;
	op2->ors_scope = LDAP_SCOPE_SUBTREE;
	op2->ors_deref = LDAP_DEREF_NEVER;
	op2->ors_limit = NULL;
	op2->ors_slimit = SLAP_NO_LIMIT;
	op2->ors_tlimit = SLAP_NO_LIMIT;
}

int
certpin_find_thumbprint( Operation *op, BackendDB *db, const char *hex,
	int also_revoked, struct berval *owner )
{
	Operation op2 = *op;
	SlapReply rs2 = { REP_RESULT };
	slap_callback cb = { 0 };
	certpin_find_t cf = { 0 };
	struct berval val, esc = BER_BVNULL;
	char *fstr;
	size_t flen;

	if ( owner )
		BER_BVZERO( owner );
	if ( db == NULL || db->be_search == NULL || db->be_nsuffix == NULL )
		return 0;

	ber_str2bv( hex, 0, 0, &val );
	if ( filter_escape_value_x( &val, &esc, op->o_tmpmemctx ) )
		return -1;
	flen = 2 * esc.bv_len + 96;
	fstr = op->o_tmpalloc( flen, op->o_tmpmemctx );
	if ( also_revoked )
		snprintf( fstr, flen, "(|(certpinThumbprint=%s)(certpinRevokedThumbprint=%s))",
			esc.bv_val, esc.bv_val );
	else
		snprintf( fstr, flen, "(certpinThumbprint=%s)", esc.bv_val );
	op->o_tmpfree( esc.bv_val, op->o_tmpmemctx );

	certpin_search_as_root( &op2, db, &cb );
	op2.ors_slimit = 2;
	op2.ors_attrs = slap_anlist_no_attrs;
	op2.ors_attrsonly = 1;
	ber_str2bv_x( fstr, 0, 0, &op2.ors_filterstr, op->o_tmpmemctx );
	op2.ors_filter = str2filter_x( op, fstr );
	if ( op2.ors_filter == NULL ) {
		op->o_tmpfree( fstr, op->o_tmpmemctx );
		return -1;
	}
	cb.sc_response = certpin_find_cb;
	cb.sc_private = &cf;

	db->be_search( &op2, &rs2 );

	filter_free_x( op, op2.ors_filter, 1 );
	op->o_tmpfree( fstr, op->o_tmpmemctx );
	if ( owner )
		*owner = cf.cf_owner;
	else if ( cf.cf_owner.bv_val )
		op->o_tmpfree( cf.cf_owner.bv_val, op->o_tmpmemctx );
	return cf.cf_count > 2 ? 2 : cf.cf_count;
}

int
certpin_refuse( Operation *op, SlapReply *rs, int err, const char *text )
{
	Debug( LDAP_DEBUG_TRACE, "%s certpin: %s\n", op->o_log_prefix, text );
	send_ldap_error( op, rs, err, text );
	return rs->sr_err;
}

Modifications *
certpin_mod_new( short mop, AttributeDescription *ad, BerVarray vals )
{
	Modifications *m = ch_calloc( 1, sizeof( Modifications ) );

	m->sml_op = mop;
	m->sml_flags = SLAP_MOD_INTERNAL;
	m->sml_desc = ad;
	m->sml_type = ad->ad_cname;
	m->sml_values = vals;
	if ( vals ) {
		for ( m->sml_numvals = 0; vals[m->sml_numvals].bv_val; m->sml_numvals++ )
			;
		attr_normalize( ad, vals, &m->sml_nvalues, NULL );
	}
	return m;
}

/* ---- configuration helpers ---------------------------------------------- */

int
certpin_cf_error( ConfigArgs *c, const char *fmt, ... )
{
	va_list ap;

	va_start( ap, fmt );
	vsnprintf( c->cr_msg, sizeof( c->cr_msg ), fmt, ap );
	va_end( ap );
	Debug( LDAP_DEBUG_CONFIG, "%s: %s\n", c->log, c->cr_msg );
	return ARG_BAD_CONF;
}

int
certpin_cf_int( ConfigArgs *c, int lo, int hi, const char *unit, int *ip )
{
	if ( ip == NULL )	/* a row whose handler knows no field for it */
		return certpin_cf_error( c, "<%s> is not a certpin integer directive",
			c->argv[0] );
	if ( c->value_int < lo || c->value_int > hi )
		return certpin_cf_error( c, "<%s> must be between %d and %d%s%s",
			c->argv[0], lo, hi, unit ? " " : "", unit ? unit : "" );
	*ip = c->value_int;
	return 0;
}

/* ---- operations -------------------------------------------------------- */

/* Binds go straight to bind.c (certpin_bind_op).  Every other operation:
 * first the check of sessions bound with a certificate (bind.c), then the
 * concern that handles the operation. */
static int
certpin_op_any( Operation *op, SlapReply *rs )
{
	int rc = certpin_bind_op_any( op, rs );

	if ( rc != SLAP_CB_CONTINUE )
		return rc;
	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
		rc = certpin_pin_add( op, rs );
		if ( rc != SLAP_CB_CONTINUE )
			return rc;
		return certpin_write_add( op, rs );
	case LDAP_REQ_MODIFY:
		rc = certpin_pin_modify( op, rs );
		if ( rc != SLAP_CB_CONTINUE )
			return rc;
		return certpin_write_modify( op, rs );
	case LDAP_REQ_DELETE:
		return certpin_write_delete( op, rs );
	case LDAP_REQ_SEARCH:
		return certpin_pin_search( op, rs );
	case LDAP_REQ_COMPARE:
		return certpin_pin_compare( op, rs );
	case LDAP_REQ_EXTENDED:
		return certpin_prov_extended( op, rs );
	}
	return SLAP_CB_CONTINUE;
}

/* ---- life cycle -------------------------------------------------------- */

static int
certpin_db_init( BackendDB *be, ConfigReply *cr )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	certpin_info *ci;

	ci = ch_calloc( 1, sizeof( certpin_info ) );
	ci->ci_max_certs = CERTPIN_DEFAULT_MAX_CERTS;
	on->on_bi.bi_private = ci;

	if ( !SLAP_ISGLOBALOVERLAY( be ) ) {
		Debug( LDAP_DEBUG_ANY, "certpin_db_init: certpin is configured on a "
			"database, not on the frontend: SASL EXTERNAL binds will not "
			"be checked\n" );
	}
	if ( certpin_bind_db_init( be, ci ) || certpin_prov_db_init( be, ci ) ||
	     certpin_pin_db_init( be, ci ) )
		return 1;
	return 0;
}

static int
certpin_db_open( BackendDB *be, ConfigReply *cr )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	certpin_info *ci = on->on_bi.bi_private;

	return certpin_prov_db_open( be, ci, cr );
}

static int
certpin_db_destroy( BackendDB *be, ConfigReply *cr )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	certpin_info *ci = on->on_bi.bi_private;

	if ( ci ) {
		certpin_bind_db_destroy( be, ci );
		certpin_prov_db_destroy( be, ci );
		certpin_pin_db_destroy( be, ci );
		ch_free( ci );
		on->on_bi.bi_private = NULL;
	}
	return 0;
}

static slap_overinst certpin;

int
certpin_initialize( void )
{
	const char *text;
	int i, code;

	for ( i = 0; certpin_at[i].def; i++ ) {
		code = register_at( certpin_at[i].def, certpin_at[i].ad, 0 );
		if ( code ) {
			Debug( LDAP_DEBUG_ANY, "certpin_initialize: register_at #%d failed\n", i );
			return code;
		}
	}
	for ( i = 0; certpin_oc[i].def; i++ ) {
		code = register_oc( certpin_oc[i].def, certpin_oc[i].oc, 0 );
		if ( code ) {
			Debug( LDAP_DEBUG_ANY, "certpin_initialize: register_oc #%d failed\n", i );
			return code;
		}
	}

	if ( slap_str2ad( "certpinCertificate;binary", &ad_certpinCertBinary, &text ) ) {
		Debug( LDAP_DEBUG_ANY, "certpin_initialize: %s\n", text );
		return -1;
	}

	if ( certpin_cfg_build() ) {
		Debug( LDAP_DEBUG_ANY, "certpin_initialize: config table too large\n" );
		return -1;
	}

	certpin.on_bi.bi_type = "certpin";
	certpin.on_bi.bi_flags = SLAPO_BFLAG_SINGLE;
	certpin.on_bi.bi_db_init = certpin_db_init;
	certpin.on_bi.bi_db_open = certpin_db_open;
	certpin.on_bi.bi_db_destroy = certpin_db_destroy;
	certpin.on_bi.bi_op_bind = certpin_bind_op;
	certpin.on_bi.bi_op_add = certpin_op_any;
	certpin.on_bi.bi_op_modify = certpin_op_any;
	certpin.on_bi.bi_op_delete = certpin_op_any;
	certpin.on_bi.bi_op_modrdn = certpin_op_any;
	certpin.on_bi.bi_op_search = certpin_op_any;
	certpin.on_bi.bi_op_compare = certpin_op_any;
	certpin.on_bi.bi_extended = certpin_op_any;

	certpin.on_bi.bi_cf_ocs = certpin_ocs;
	code = config_register_schema( certpin_cfg, certpin_ocs );
	if ( code )
		return code;

	return overlay_register( &certpin );
}

int
init_module( int argc, char *argv[] )
{
	return certpin_version_check() ? -1 : certpin_initialize();
}
