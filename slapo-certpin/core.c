/* core.c - what every concern of the certpin overlay stands on
 *
 * The schema (table and registration), the two roles of the overlay (the
 * frontend instance holds the configuration, the database instances find
 * it there), the helpers the concerns share (entry reads, internal
 * operations as a database's root, thumbprint searches over every
 * database), the administrator test, the marker of certpin's own internal
 * operations, and the lock that makes "one certificate, one user" hold
 * under concurrency.  certpin.c registers and dispatches; the concerns
 * (write.c, bind.c, provision.c, pin.c) build on this file.
 */

#include "certpin.h"
#include "cfgval.h"

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
AttributeDescription *ad_certpinPINChanged;
AttributeDescription *ad_certpinPINExpires;
AttributeDescription *ad_certpinPINLock;
AttributeDescription *ad_certpinPINHistory;
AttributeDescription *ad_certpinPINLockout;
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
	/* pin.c's PIN state: maintained by the overlay (certpinPINLock: written by
	 * administrators, recorded by the overlay) */
	{ "( " CERTPIN_OID_AT ".10 NAME 'certpinPINChanged' "
	  "DESC 'When the PIN was last set; maintained by the certpin overlay' "
	  "EQUALITY generalizedTimeMatch "
	  "ORDERING generalizedTimeOrderingMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 "
	  "SINGLE-VALUE )", &ad_certpinPINChanged },
	{ "( " CERTPIN_OID_AT ".11 NAME 'certpinPINExpires' "
	  "DESC 'When the PIN stops proving the user (certpin-pin-lifetime); maintained by the certpin overlay' "
	  "EQUALITY generalizedTimeMatch "
	  "ORDERING generalizedTimeOrderingMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 "
	  "SINGLE-VALUE )", &ad_certpinPINExpires },
	{ "( " CERTPIN_OID_AT ".12 NAME 'certpinPINLock' "
	  "DESC 'Administrator lock of the PIN (time, by, reason); written by administrators, recorded by the certpin overlay' "
	  "EQUALITY caseExactMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 "
	  "SINGLE-VALUE )", &ad_certpinPINLock },
	{ "( " CERTPIN_OID_AT ".13 NAME 'certpinPINHistory' "
	  "DESC 'Hashes of the last PINs (certpin-pin-history); maintained by the certpin overlay; never readable' "
	  "EQUALITY octetStringMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 )", &ad_certpinPINHistory },
	{ "( " CERTPIN_OID_AT ".14 NAME 'certpinPINLockout' "
	  "DESC 'Until when wrong PINs lock the PIN; maintained by the certpin overlay' "
	  "EQUALITY generalizedTimeMatch "
	  "ORDERING generalizedTimeOrderingMatch "
	  "SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 "
	  "SINGLE-VALUE )", &ad_certpinPINLockout },
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
	  "certpinPIN $ certpinPINFailure $ certpinPINChanged $ "
	  "certpinPINExpires $ certpinPINLock $ certpinPINHistory $ "
	  "certpinPINLockout ) )",
	  &oc_certpinUser },
	{ "( " CERTPIN_OID_OC ".2 NAME 'certpinHistory' "
	  "DESC 'An entry that keeps revocation records; added by the certpin overlay' "
	  "SUP top AUXILIARY "
	  "MAY ( certpinRevoked $ certpinRevokedThumbprint ) )",
	  &oc_certpinHistory },
	{ NULL, NULL }
};


int
certpin_schema_init( void )
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
	return 0;
}

/* ---- helpers shared by the concerns ------------------------------------ */


BackendDB *
certpin_select_db( Operation *op, struct berval *ndn )
{
	/* Inside an overlay op->o_bd is a copy whose bd_info is the overlay
	 * instance: the database itself is bd_self. */
	if ( op->o_bd != NULL && !SLAP_ISGLOBALOVERLAY( op->o_bd ) &&
	     op->o_bd->bd_self != NULL && op->o_bd->bd_self != frontendDB )
		return op->o_bd->bd_self;
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
		if ( cf->cf_count == 0 ) {
			ber_dupbv_x( &cf->cf_owner, &rs->sr_entry->e_nname, op->o_tmpmemctx );
			cf->cf_count++;
		} else if ( !dn_match( &cf->cf_owner, &rs->sr_entry->e_nname ) ) {
			cf->cf_count++;	/* entries are counted once, by DN */
		}
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
	/* an internal search answers whole, even when the operation it serves
	 * was abandoned (back-mdb stops an abandoned search early: a check
	 * would find nothing) */
	op2->o_abandon = 0;
	op2->o_sync = SLAP_CONTROL_NONE;
	op2->o_pagedresults = SLAP_CONTROL_NONE;
	op2->o_no_subordinate_glue = 1;	/* each database answers for itself */
	op2->ors_scope = LDAP_SCOPE_SUBTREE;
	op2->ors_deref = LDAP_DEREF_NEVER;
	op2->ors_limit = NULL;
	op2->ors_slimit = SLAP_NO_LIMIT;
	op2->ors_tlimit = SLAP_NO_LIMIT;
}

static int
certpin_find_in( Operation *op, BackendDB *db, const char *hex,
	int also_revoked, certpin_find_t *cfp )
{
	Operation op2 = *op;
	SlapReply rs2 = { REP_RESULT };
	slap_callback cb = { 0 };
	struct berval val, esc = BER_BVNULL;
	char *fstr;
	size_t flen;

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
	cb.sc_private = cfp;

	db->be_search( &op2, &rs2 );

	filter_free_x( op, op2.ors_filter, 1 );
	op->o_tmpfree( fstr, op->o_tmpmemctx );
	/* fail closed: only a search that ran to its end says that no entry
	 * holds the certificate (noSuchObject: the database has no suffix
	 * entry yet) */
	switch ( rs2.sr_err ) {
	case LDAP_SUCCESS:
	case LDAP_SIZELIMIT_EXCEEDED:
	case LDAP_NO_SUCH_OBJECT:
		return 0;
	default:
		Debug( LDAP_DEBUG_ANY, "%s certpin: search of \"%s\" for certificate "
			"%s failed (%d)\n", op->o_log_prefix, db->be_suffix[0].bv_val,
			hex, rs2.sr_err );
		return -1;
	}
}

static int
certpin_find_done( Operation *op, certpin_find_t *cf, struct berval *owner )
{
	if ( owner )
		*owner = cf->cf_owner;
	else if ( cf->cf_owner.bv_val )
		op->o_tmpfree( cf->cf_owner.bv_val, op->o_tmpmemctx );
	return cf->cf_count > 2 ? 2 : cf->cf_count;
}

int
certpin_find_thumbprint( Operation *op, BackendDB *db, const char *hex,
	int also_revoked, struct berval *owner )
{
	certpin_find_t cf = { 0 };

	if ( owner )
		BER_BVZERO( owner );
	if ( certpin_find_in( op, db, hex, also_revoked, &cf ) ) {
		if ( cf.cf_owner.bv_val )
			op->o_tmpfree( cf.cf_owner.bv_val, op->o_tmpmemctx );
		return -1;
	}
	return certpin_find_done( op, &cf, owner );
}

int
certpin_find_thumbprint_all( Operation *op, const char *hex,
	int also_revoked, struct berval *owner )
{
	certpin_find_t cf = { 0 };
	BackendDB *be;

	if ( owner )
		BER_BVZERO( owner );
	LDAP_STAILQ_FOREACH( be, &backendDB, be_next ) {
		if ( !certpin_db_instance( be ) || certpin_db_is_view( be ) )
			continue;
		if ( certpin_find_in( op, be, hex, also_revoked, &cf ) ) {
			if ( cf.cf_owner.bv_val )
				op->o_tmpfree( cf.cf_owner.bv_val, op->o_tmpmemctx );
			return -1;
		}
		if ( cf.cf_count >= 2 )
			break;
	}
	return certpin_find_done( op, &cf, owner );
}

const char *
certpin_write_failed_text( int rc )
{
	switch ( rc ) {
	case LDAP_ADMINLIMIT_EXCEEDED:
		return "certpin: the entry could not be updated: it would exceed "
			"the size its database allows for an entry (maxentrysize)";
	case LDAP_OBJECT_CLASS_VIOLATION:
		return "certpin: the entry could not be updated: it would violate "
			"the schema";
	case LDAP_NO_SUCH_OBJECT:
		return "certpin: the entry could not be updated: it no longer exists";
	case LDAP_BUSY:
	case LDAP_UNAVAILABLE:
		return "certpin: the entry could not be updated: the database is "
			"busy or unavailable; try again";
	default:
		return "certpin: the entry could not be updated";
	}
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
	char msg[sizeof( c->cr_msg )];

	if ( ip == NULL )	/* a row whose handler knows no field for it */
		return certpin_cf_error( c, "<%s> is not a certpin integer directive",
			c->argv[0] );
	/* the bounds: lib/cfgval.c (fuzz/fuzz-cfgval.c) */
	if ( certpin_cfg_range( c->argv[0], c->value_int, lo, hi, unit,
			msg, sizeof( msg ) ) )
		return certpin_cf_error( c, "%s", msg );
	*ip = c->value_int;
	return 0;
}

/* Is ad (any options) one of certpin's attribute types? */
int
certpin_is_certpin_at( AttributeDescription *ad )
{
	int i;

	for ( i = 0; certpin_at[i].def; i++ )
		if ( *certpin_at[i].ad && ad->ad_type == (*certpin_at[i].ad)->ad_type )
			return 1;
	return 0;
}

/* ---- the two roles ------------------------------------------------------ */

/* The certpin instance among be's overlays, or NULL. */
slap_overinst *
certpin_db_instance( BackendDB *be )
{
	slap_overinfo *oi;
	slap_overinst *on;

	if ( be == NULL || be->bd_info == NULL )
		return NULL;
	if ( be->bd_self )
		be = be->bd_self;
	if ( !overlay_is_over( be ) )
		return NULL;
	oi = be->bd_info->bi_private;
	for ( on = oi->oi_list; on; on = on->on_next ) {
		if ( on->on_bi.bi_type && strcmp( on->on_bi.bi_type, "certpin" ) == 0 )
			return on;
	}
	return NULL;
}

certpin_info *
certpin_frontend_info( void )
{
	slap_overinst *on = certpin_db_instance( frontendDB );

	return on ? on->on_bi.bi_private : NULL;
}

/* The backend under be's overlays (be->bd_info may be an overlay
 * instance while one of its hooks runs). */
static BackendInfo *
certpin_orig_bi( BackendDB *be )
{
	BackendInfo *bi;

	if ( be->bd_self )
		be = be->bd_self;
	bi = be->bd_info;
	if ( bi == NULL )
		return NULL;
	if ( bi->bi_type && strcmp( bi->bi_type, "certpin" ) == 0 )
		return ((slap_overinst *)bi)->on_info->oi_orig;
	if ( overlay_is_over( be ) )
		return ((slap_overinfo *)bi->bi_private)->oi_orig;
	return bi;
}

int
certpin_db_needs_instance( BackendDB *be )
{
	BackendInfo *bi;

	if ( be->bd_self )
		be = be->bd_self;
	if ( be == frontendDB )
		return 0;
	bi = certpin_orig_bi( be );
	return bi && !( bi->bi_flags & ( SLAP_BFLAG_CONFIG | SLAP_BFLAG_MONITOR ) );
}

/* A view of other databases (back-relay): its writes and searches reach
 * the real database, which has its own instance. */
int
certpin_db_is_view( BackendDB *be )
{
	BackendInfo *bi = certpin_orig_bi( be );

	return bi && bi->bi_type && strcmp( bi->bi_type, "relay" ) == 0;
}

certpin_info *
certpin_ci( Operation *op )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;

	if ( SLAP_ISGLOBALOVERLAY( op->o_bd ) )
		return on->on_bi.bi_private;
	/* a database instance: the frontend's configuration, as it is now
	 * (cn=config may have added or removed the frontend instance) */
	{
		certpin_info *ci = certpin_frontend_info();

		if ( on->on_bi.bi_private != ci )
			on->on_bi.bi_private = ci;
		return ci;
	}
}

/* ---- administrators ---------------------------------------------------- */

int
certpin_is_admin( Operation *op, BackendDB *db )
{
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *obd = op->o_bd;
	static AttributeDescription *member;
	struct berval *group;
	ObjectClass *oc;
	const char *text;
	int rc;

	if ( BER_BVISEMPTY( &op->o_ndn ) )
		return 0;
	if ( db && be_isroot_dn( db, &op->o_ndn ) )
		return 1;
	group = certpin_prov_admin_group( op );
	if ( group == NULL || BER_BVISNULL( group ) )
		return 0;
	oc = oc_find( SLAPD_GROUP_CLASS );
	if ( member == NULL && slap_str2ad( SLAPD_GROUP_ATTR, &member, &text ) )
		return 0;
	if ( oc == NULL )
		return 0;
	rc = backend_group( op, NULL, group, &op->o_ndn, oc, member );
	op->o_bd = obd;
	op->o_bd->bd_info = bi;
	return rc == 0;
}

/* ---- certpin's own internal operations ---------------------------------- */

static char certpin_internal_key;

void
certpin_internal_mark( Operation *op2, OpExtra *oex )
{
	oex->oe_key = &certpin_internal_key;
	LDAP_SLIST_INSERT_HEAD( &op2->o_extra, oex, oe_next );
}

int
certpin_is_internal( Operation *op )
{
	OpExtra *oex;

	LDAP_SLIST_FOREACH( oex, &op->o_extra, oe_next ) {
		if ( oex->oe_key == &certpin_internal_key )
			return 1;
	}
	return 0;
}

/* ---- "one certificate, one user" ---------------------------------------- */

/* One lock for every write that adds certificates, held from the check
 * (no entry of any database holds or revoked it) until the backend has
 * answered.  Recursive for its owner thread: a transaction commit holds it
 * for all its operations, and certpin's own writes run inside it. */
static ldap_pvt_thread_mutex_t certpin_uniq_mutex, certpin_uniq_meta;
static ldap_pvt_thread_t certpin_uniq_owner;
static int certpin_uniq_depth;

void
certpin_uniq_init( void )
{
	ldap_pvt_thread_mutex_init( &certpin_uniq_mutex );
	ldap_pvt_thread_mutex_init( &certpin_uniq_meta );
}

int
certpin_uniq_held( void )
{
	ldap_pvt_thread_t self = ldap_pvt_thread_self();
	int held;

	ldap_pvt_thread_mutex_lock( &certpin_uniq_meta );
	held = certpin_uniq_depth > 0 && certpin_uniq_owner == self;
	ldap_pvt_thread_mutex_unlock( &certpin_uniq_meta );
	return held;
}

void
certpin_uniq_lock( void )
{
	ldap_pvt_thread_t self = ldap_pvt_thread_self();

	ldap_pvt_thread_mutex_lock( &certpin_uniq_meta );
	if ( certpin_uniq_depth > 0 && certpin_uniq_owner == self ) {
		certpin_uniq_depth++;
		ldap_pvt_thread_mutex_unlock( &certpin_uniq_meta );
		return;
	}
	ldap_pvt_thread_mutex_unlock( &certpin_uniq_meta );
	ldap_pvt_thread_mutex_lock( &certpin_uniq_mutex );
	ldap_pvt_thread_mutex_lock( &certpin_uniq_meta );
	certpin_uniq_owner = self;
	certpin_uniq_depth = 1;
	ldap_pvt_thread_mutex_unlock( &certpin_uniq_meta );
}

void
certpin_uniq_unlock( void )
{
	int last;

	ldap_pvt_thread_mutex_lock( &certpin_uniq_meta );
	last = --certpin_uniq_depth == 0;
	ldap_pvt_thread_mutex_unlock( &certpin_uniq_meta );
	if ( last )
		ldap_pvt_thread_mutex_unlock( &certpin_uniq_mutex );
}

/* Does an overlay of db record each write as it runs, outside the
 * database's transaction (accesslog, which delta-syncrepl replays, and
 * auditlog)?  Writes into db then never share a database transaction that
 * could still abort (write.c group commit, provision.c bulk issuance). */
int
certpin_db_logs_writes( BackendDB *db )
{
	return overlay_is_inst( db, "accesslog" ) || overlay_is_inst( db, "auditlog" );
}
