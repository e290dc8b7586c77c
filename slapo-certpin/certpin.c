/* certpin.c - client-certificate ("PIN") authentication overlay for slapd
 *
 * certpin records the X.509 client certificates issued to users on their
 * entries, with metadata the overlay computes itself (thumbprints, serial,
 * issuer, subject, validity), refuses SASL EXTERNAL binds whose certificate
 * is not on file for the user, keeps revocation records when certificates
 * are deleted, and issues certificates through an extended operation.
 *
 * One overlay, two roles, decided by where it is configured:
 *   - the frontend instance ("database frontend" / "overlay certpin", or
 *     olcOverlay=certpin,olcDatabase={-1}frontend,cn=config), required:
 *     binds (SASL binds never reach a backend's overlays), the extended
 *     operation, session checks, PIN hashing, and every directive;
 *   - a database instance ("overlay certpin", the last overlay of every
 *     database but cn=config and cn=monitor): the one write gate (write.c)
 *     and the access gate for writes and reads of any origin; it takes its
 *     configuration from the frontend instance.
 * slapd refuses to start when one is missing.  See slapo-certpin(5).
 *
 * This file: registration, dispatch, config table assembly, life cycle.
 * core.c holds the schema and what the concerns share.
 */

#include "certpin.h"
#include "provreq.h"

#include <ac/string.h>

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

/* Every directive belongs to the frontend instance.  Each concern's
 * handler is wrapped so that a database instance refuses its directives
 * (and emits none) before the concern's handler, which expects the
 * frontend's certpin_info, runs.  Rows must therefore be ARG_MAGIC. */
#define CERTPIN_CFG_DRIVERS	8
static ConfigDriver *certpin_cfg_orig[CERTPIN_CFG_DRIVERS];

static int
certpin_cfg_role( ConfigArgs *c, int k )
{
	if ( c->be != NULL && !SLAP_ISGLOBALOVERLAY( c->be ) ) {
		switch ( c->op ) {
		case SLAP_CONFIG_EMIT:
			return 1;	/* nothing to emit */
		case LDAP_MOD_DELETE:
			return 0;
		}
		certpin_cf_error( c, "<%s>: certpin directives belong to the "
			"frontend instance (\"database frontend\" / "
			"olcOverlay=certpin,olcDatabase={-1}frontend,cn=config); "
			"the database instance takes its configuration from there",
			c->argv[0] );
		Debug( LDAP_DEBUG_ANY, "%s: %s\n", c->log, c->cr_msg );
		return ARG_BAD_CONF;
	}
	return certpin_cfg_orig[k]( c );
}

#define CERTPIN_CFG_WRAPPER( k ) \
static int certpin_cfg_role##k( ConfigArgs *c ) { return certpin_cfg_role( c, k ); }
CERTPIN_CFG_WRAPPER( 0 )
CERTPIN_CFG_WRAPPER( 1 )
CERTPIN_CFG_WRAPPER( 2 )
CERTPIN_CFG_WRAPPER( 3 )
CERTPIN_CFG_WRAPPER( 4 )
CERTPIN_CFG_WRAPPER( 5 )
CERTPIN_CFG_WRAPPER( 6 )
CERTPIN_CFG_WRAPPER( 7 )
static ConfigDriver *certpin_cfg_wrappers[CERTPIN_CFG_DRIVERS] = {
	certpin_cfg_role0, certpin_cfg_role1, certpin_cfg_role2, certpin_cfg_role3,
	certpin_cfg_role4, certpin_cfg_role5, certpin_cfg_role6, certpin_cfg_role7
};

static int
certpin_cfg_wrap( ConfigTable *ct )
{
	ConfigDriver *orig = (ConfigDriver *)ct->arg_item;
	int k;

	if ( !( ct->arg_type & ARG_MAGIC ) || orig == NULL ) {
		Debug( LDAP_DEBUG_ANY, "certpin_initialize: directive %s is not "
			"ARG_MAGIC\n", ct->name );
		return -1;
	}
	for ( k = 0; k < CERTPIN_CFG_DRIVERS && certpin_cfg_orig[k]; k++ )
		if ( certpin_cfg_orig[k] == orig )
			break;
	if ( k == CERTPIN_CFG_DRIVERS )
		return -1;
	certpin_cfg_orig[k] = orig;
	ct->arg_item = (void *)certpin_cfg_wrappers[k];
	return 0;
}

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
			certpin_cfg[n] = parts[i][j];
			if ( certpin_cfg_wrap( &certpin_cfg[n] ) )
				return -1;
			n++;
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

/* ---- operations -------------------------------------------------------- */

/* The frontend instance.  Binds go straight to bind.c (certpin_bind_op).
 * Every other operation: first the check of sessions bound with a
 * certificate (bind.c), then the concern that handles the operation. */
static int
certpin_fe_op( Operation *op, SlapReply *rs )
{
	int rc = certpin_bind_op_any( op, rs );

	if ( rc != SLAP_CB_CONTINUE )
		return rc;
	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
		rc = certpin_pin_add( op, rs );
		if ( rc != SLAP_CB_CONTINUE )
			return rc;
		return certpin_write_frontend( op, rs );
	case LDAP_REQ_MODIFY:
		rc = certpin_pin_modify( op, rs );
		if ( rc != SLAP_CB_CONTINUE )
			return rc;
		return certpin_write_frontend( op, rs );
	case LDAP_REQ_MODRDN:
	case LDAP_REQ_DELETE:
		return certpin_write_frontend( op, rs );
	case LDAP_REQ_SEARCH:
		return certpin_pin_search( op, rs );
	case LDAP_REQ_COMPARE:
		return certpin_pin_compare( op, rs );
	case LDAP_REQ_EXTENDED:
		rc = certpin_write_frontend( op, rs );
		if ( rc != SLAP_CB_CONTINUE )
			return rc;
		return certpin_prov_extended( op, rs );
	}
	return SLAP_CB_CONTINUE;
}

/* A database instance: the write gate. */
static int
certpin_db_op( Operation *op, SlapReply *rs )
{
	certpin_adtable_watch( op );	/* adtable.c: what the backend stores */
	if ( op->o_tag == LDAP_REQ_ADD || op->o_tag == LDAP_REQ_MODIFY ||
	     op->o_tag == LDAP_REQ_MODRDN || op->o_tag == LDAP_REQ_DELETE )
		certpin_bind_cache_write( op );	/* bind.c: the re-bind cache */
	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
		return certpin_write_add( op, rs );
	case LDAP_REQ_MODIFY:
		return certpin_write_modify( op, rs );
	case LDAP_REQ_MODRDN:
		return certpin_write_modrdn( op, rs );
	case LDAP_REQ_DELETE:
		return certpin_write_delete( op, rs );
	}
	return SLAP_CB_CONTINUE;
}

static int
certpin_op_bind( Operation *op, SlapReply *rs )
{
	if ( !SLAP_ISGLOBALOVERLAY( op->o_bd ) )
		return SLAP_CB_CONTINUE;	/* simple binds to the database */
	return certpin_bind_op( op, rs );
}

static int
certpin_op_any( Operation *op, SlapReply *rs )
{
	if ( SLAP_ISGLOBALOVERLAY( op->o_bd ) )
		return certpin_fe_op( op, rs );
	return certpin_db_op( op, rs );
}

/* What the overlays after this one and the database decide (what
 * over_access_allowed would compute after us).  Done here because slapd's
 * access_allowed() calls bd_info->bi_access_allowed directly when an
 * access check runs inside one of this overlay's hooks (op->o_bd->bd_info
 * is then this instance): a "continue" would read as "allowed" there. */
static int
certpin_access_rest( Operation *op, Entry *e, AttributeDescription *desc,
	struct berval *val, slap_access_t access, AccessControlState *state,
	slap_mask_t *maskp )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info, *on2;
	slap_overinfo *oi = on->on_info;
	BackendInfo *bi = op->o_bd->bd_info;
	int rc = SLAP_CB_CONTINUE;

	for ( on2 = on->on_next; on2; on2 = on2->on_next ) {
		if ( on2->on_bi.bi_flags & SLAPO_BFLAG_DISABLED )
			continue;
		if ( on2->on_bi.bi_access_allowed ) {
			op->o_bd->bd_info = (BackendInfo *)on2;
			rc = on2->on_bi.bi_access_allowed( op, e, desc, val, access,
				state, maskp );
			if ( rc != SLAP_CB_CONTINUE )
				break;
		}
	}
	if ( rc == SLAP_CB_CONTINUE ) {
		op->o_bd->bd_info = oi->oi_orig;
		rc = oi->oi_orig->bi_access_allowed ?
			oi->oi_orig->bi_access_allowed( op, e, desc, val, access, state, maskp ) :
			slap_access_allowed( op, e, desc, val, access, state, maskp );
	}
	op->o_bd->bd_info = bi;
	return rc == SLAP_CB_CONTINUE ? 0 : rc;
}

/* Both instances: the access gate (pin.c).  Without the frontend's
 * configuration (removed over cn=config) certpinPIN is denied. */
static int
certpin_op_access( Operation *op, Entry *e, AttributeDescription *desc,
	struct berval *val, slap_access_t access, AccessControlState *state,
	slap_mask_t *maskp )
{
	int rc;

	if ( certpin_ci( op ) == NULL ) {
		if ( desc && desc->ad_type == ad_certpinPIN->ad_type ) {
			if ( maskp )
				ACL_PRIV_ASSIGN( *maskp, ACL_PRIV_NONE );
			return 0;
		}
		rc = SLAP_CB_CONTINUE;
	} else {
		rc = certpin_access( op, e, desc, val, access, state, maskp );
	}
	if ( rc != SLAP_CB_CONTINUE )
		return rc;
	return certpin_access_rest( op, e, desc, val, access, state, maskp );
}

/* ---- life cycle -------------------------------------------------------- */

static const char *
certpin_db_name( BackendDB *be )
{
	if ( be->be_suffix && !BER_BVISNULL( &be->be_suffix[0] ) )
		return be->be_suffix[0].bv_val;
	return be->bd_info ? be->bd_info->bi_type : "?";
}

/* Point every database instance at the frontend's configuration ci (NULL
 * when the frontend instance goes). */
static void
certpin_share_info( certpin_info *ci )
{
	BackendDB *be;

	LDAP_STAILQ_FOREACH( be, &backendDB, be_next ) {
		slap_overinst *on = certpin_db_instance( be );

		if ( on )
			on->on_bi.bi_private = ci;
	}
}

static int
certpin_db_init( BackendDB *be, ConfigReply *cr )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	certpin_info *ci;

	if ( !SLAP_ISGLOBALOVERLAY( be ) ) {
		/* a database instance */
		if ( !certpin_db_needs_instance( be ) ) {
			snprintf( cr->msg, sizeof( cr->msg ), "certpin: no instance "
				"belongs on %s (only on the frontend and on databases "
				"that hold entries)", certpin_db_name( be ) );
			Debug( LDAP_DEBUG_ANY, "certpin_db_init: %s\n", cr->msg );
			return 1;
		}
		ci = certpin_frontend_info();
		if ( ci == NULL && ( slapMode & SLAP_SERVER_RUNNING ) ) {
			snprintf( cr->msg, sizeof( cr->msg ), "certpin: the frontend "
				"has no certpin instance: add olcOverlay=certpin to the "
				"frontend (olcDatabase={-1}frontend,cn=config) first" );
			Debug( LDAP_DEBUG_ANY, "certpin_db_init: %s\n", cr->msg );
			return 1;
		}
		on->on_bi.bi_private = ci;	/* not owned; set again at db_open */
		return 0;
	}

	ci = ch_calloc( 1, sizeof( certpin_info ) );
	ci->ci_max_certs = CERTPIN_DEFAULT_MAX_CERTS;
	on->on_bi.bi_private = ci;

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
	BackendDB *b;

	certpin_bind_cache_bump();	/* bind.c: a database opens */
	if ( !SLAP_ISGLOBALOVERLAY( be ) ) {
		slap_overinfo *oi = NULL;

		ci = certpin_frontend_info();
		if ( ci == NULL ) {
			snprintf( cr->msg, sizeof( cr->msg ), "certpin on database "
				"\"%s\" needs the certpin frontend instance: add "
				"\"overlay certpin\" after \"database frontend\" "
				"(olcOverlay=certpin,olcDatabase={-1}frontend,cn=config)",
				certpin_db_name( be ) );
			Debug( LDAP_DEBUG_ANY, "certpin_db_open: %s\n", cr->msg );
			return 1;
		}
		on->on_bi.bi_private = ci;
		if ( be->bd_self && overlay_is_over( be->bd_self ) )
			oi = be->bd_self->bd_info->bi_private;
		if ( oi && oi->oi_list != on ) {
			Debug( LDAP_DEBUG_ANY, "certpin_db_open: database \"%s\": "
				"certpin is not the last overlay configured (the first "
				"to run): overlays configured after it see writes "
				"before the certpin write gate\n", certpin_db_name( be ) );
		}
		if ( BER_BVISEMPTY( &be->be_rootndn ) && !certpin_db_is_view( be ) ) {
			Debug( LDAP_DEBUG_ANY, "certpin_db_open: database \"%s\" has "
				"no rootdn: certpin's internal lookups there run "
				"anonymously and its ACLs may hide entries from them\n",
				certpin_db_name( be ) );
		}
		return 0;
	}

	/* The frontend instance: at startup every database that holds
	 * entries must have its database instance (fail closed). */
	LDAP_STAILQ_FOREACH( b, &backendDB, be_next ) {
		if ( !certpin_db_needs_instance( b ) || certpin_db_instance( b ) )
			continue;
		if ( slapMode & SLAP_SERVER_RUNNING ) {
			Debug( LDAP_DEBUG_ANY, "certpin_db_open: database \"%s\" has "
				"no certpin instance: certpin writes and logons into it "
				"are refused until olcOverlay=certpin is added to it\n",
				certpin_db_name( b ) );
			continue;
		}
		snprintf( cr->msg, sizeof( cr->msg ), "certpin: database \"%s\" has "
			"no certpin instance: add \"overlay certpin\" as the last "
			"overlay of that database (in cn=config: olcOverlay=certpin "
			"with the highest index under its olcDatabase entry)",
			certpin_db_name( b ) );
		Debug( LDAP_DEBUG_ANY, "certpin_db_open: %s\n", cr->msg );
		return 1;
	}
	certpin_share_info( ci );
	certpin_monitor_db_open( be );
	return certpin_prov_db_open( be, ci, cr );
}

static int
certpin_db_destroy( BackendDB *be, ConfigReply *cr )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	certpin_info *ci = on->on_bi.bi_private;

	if ( !SLAP_ISGLOBALOVERLAY( be ) ) {
		on->on_bi.bi_private = NULL;	/* the frontend's */
		return 0;
	}
	if ( ci ) {
		certpin_share_info( NULL );
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
	int code;

	code = certpin_schema_init();
	if ( code )
		return code;

	if ( certpin_cfg_build() ) {
		Debug( LDAP_DEBUG_ANY, "certpin_initialize: config table too large\n" );
		return -1;
	}
	certpin_uniq_init();
	certpin_adtable_init();
	certpin_write_init();

	certpin.on_bi.bi_type = "certpin";
	certpin.on_bi.bi_flags = SLAPO_BFLAG_SINGLE;
	certpin.on_bi.bi_db_init = certpin_db_init;
	certpin.on_bi.bi_db_open = certpin_db_open;
	certpin.on_bi.bi_db_destroy = certpin_db_destroy;
	certpin.on_bi.bi_op_bind = certpin_op_bind;
	certpin.on_bi.bi_op_add = certpin_op_any;
	certpin.on_bi.bi_op_modify = certpin_op_any;
	certpin.on_bi.bi_op_delete = certpin_op_any;
	certpin.on_bi.bi_op_modrdn = certpin_op_any;
	certpin.on_bi.bi_op_search = certpin_op_any;
	certpin.on_bi.bi_op_compare = certpin_op_any;
	certpin.on_bi.bi_extended = certpin_op_any;
	certpin.on_bi.bi_access_allowed = certpin_op_access;

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

/* slapd unloads its modules last, when every database is closed and no
 * thread runs: what certpin made once for the process goes with it
 * (valgrind counted these as lost once the module was unloaded). */
int
term_module( void )
{
	certpin_md_release();
	certpin_csr_release();
	return 0;
}
