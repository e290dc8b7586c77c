/* adtable.c - certpin: no write the backend undoes may use an attribute new
 * to the database
 *
 * slapd 2.5's back-mdb numbers the attribute descriptions it stores (its
 * ad2id table, back-mdb/attr.c mdb_ad_get).  When a write that gave a
 * number to an attribute new to the database is undone afterwards (an LDAP
 * transaction that aborts at commit: mdb_txn SLAP_TXN_ABORT; a write with
 * the No-Op control: mdb_add, mdb_modify, mdb_modrdn), the database
 * transaction that stored the number is rolled back but the in-memory map
 * from attribute to number is not: the next write of that attribute stores
 * a number the database does not know.  That entry can no longer be read
 * ("mdb_entry_decode: attribute index N not recognized"), the next
 * attribute new to the database gets the same number (values change
 * attribute), and the read transaction the failed decode leaves open makes
 * the next search of that thread fail an assertion in mdb_opinfo_get:
 * slapd aborts.  Inside a transaction the write gate itself adds
 * attributes at commit (certpinThumbprint, certpinCertInfo, certpinRevoked,
 * certpinRevokedThumbprint), so the first revocation of a database inside
 * a transaction that aborts is enough.
 *
 * The frontend instance therefore refuses, before it is queued or run, a
 * write inside a transaction or with the No-Op control (an add or a rename:
 * a No-Op modify stores nothing) that would store an
 * attribute description (the client's, slapd's operational ones, and those
 * the gate adds for it) that no entry of the database holds yet.  An
 * attribute some entry holds has its number stored for good (back-mdb
 * never removes one), as is one the database instance saw the backend
 * store (a write neither in a transaction nor No-Op) since slapd started:
 * both are remembered per database; only an attribute neither holds costs
 * a search each time.
 */

#include "certpin.h"

#include <ac/string.h>

/* Attribute descriptions known to be in a database's attribute table. */
typedef struct cp_known {
	BackendDB		*ck_db;
	struct berval		ck_suffix;	/* ck_db's first suffix, to notice reuse */
	AttributeDescription	*ck_ad;
} cp_known;

static ldap_pvt_thread_mutex_t cp_known_mutex;
static cp_known *cp_known_tab;
static int cp_known_n, cp_known_max;

void
certpin_adtable_init( void )
{
	ldap_pvt_thread_mutex_init( &cp_known_mutex );
}

static int
cp_known_find( BackendDB *db, AttributeDescription *ad )
{
	int i, found = 0;

	ldap_pvt_thread_mutex_lock( &cp_known_mutex );
	for ( i = 0; i < cp_known_n && !found; i++ ) {
		found = cp_known_tab[i].ck_db == db && cp_known_tab[i].ck_ad == ad &&
			bvmatch( &cp_known_tab[i].ck_suffix, &db->be_nsuffix[0] );
	}
	ldap_pvt_thread_mutex_unlock( &cp_known_mutex );
	return found;
}

static void
cp_known_add( BackendDB *db, AttributeDescription *ad )
{
	ldap_pvt_thread_mutex_lock( &cp_known_mutex );
	if ( cp_known_n == cp_known_max ) {
		cp_known_max = cp_known_max ? 2 * cp_known_max : 64;
		cp_known_tab = ch_realloc( cp_known_tab, cp_known_max * sizeof( cp_known ) );
	}
	cp_known_tab[cp_known_n].ck_db = db;
	cp_known_tab[cp_known_n].ck_ad = ad;
	ber_dupbv( &cp_known_tab[cp_known_n].ck_suffix, &db->be_nsuffix[0] );
	cp_known_n++;
	ldap_pvt_thread_mutex_unlock( &cp_known_mutex );
}

typedef struct cp_held_t {
	AttributeDescription	*ch_ad;
	int			ch_found;
} cp_held_t;

static int
cp_held_cb( Operation *op, SlapReply *rs )
{
	cp_held_t *ch = op->o_callback->sc_private;
	Attribute *a;

	if ( rs->sr_type != REP_SEARCH || ch->ch_found )
		return 0;
	/* the presence filter also matches subtypes: the exact description */
	for ( a = rs->sr_entry->e_attrs; a; a = a->a_next ) {
		if ( a->a_desc == ch->ch_ad ) {
			ch->ch_found = 1;
			op->o_abandon = 1;	/* op is our copy: stop here */
			break;
		}
	}
	return 0;
}

/* Does some entry of db hold ad exactly?  Remembered once it does. */
static int
cp_ad_known( Operation *op, BackendDB *db, AttributeDescription *ad )
{
	Operation op2 = *op;
	SlapReply rs2 = { REP_RESULT };
	slap_callback cb = { 0 };
	Filter f = { 0 };
	cp_held_t ch = { ad, 0 };
	struct berval fstr;
	char *buf;

	if ( cp_known_find( db, ad ) )
		return 1;
	f.f_choice = LDAP_FILTER_PRESENT;
	f.f_desc = ad;
	buf = op->o_tmpalloc( ad->ad_cname.bv_len + 4, op->o_tmpmemctx );
	fstr.bv_len = snprintf( buf, ad->ad_cname.bv_len + 4, "(%s=*)", ad->ad_cname.bv_val );
	fstr.bv_val = buf;

	certpin_search_as_root( &op2, db, &cb );
	op2.o_txnSpec = SLAP_CONTROL_NONE;
	op2.o_noop = SLAP_CONTROL_NONE;
	op2.o_abandon = 0;
	op2.ors_attrs = slap_anlist_no_attrs;
	op2.ors_attrsonly = 1;
	op2.ors_filter = &f;
	op2.ors_filterstr = fstr;
	cb.sc_response = cp_held_cb;
	cb.sc_private = &ch;
	db->be_search( &op2, &rs2 );
	op->o_tmpfree( buf, op->o_tmpmemctx );

	if ( ch.ch_found )
		cp_known_add( db, ad );
	return ch.ch_found;
}

/* The database instance, for a write that is neither queued in a
 * transaction nor No-Op: once the backend has stored it, the descriptions
 * it stored are in the database's table for good (even when a later write
 * removes every value). */
static int
cp_watch_response( Operation *op, SlapReply *rs )
{
	BackendDB *db;
	Modifications *m, *l;
	Attribute *a;

	if ( rs->sr_type != REP_RESULT || rs->sr_err != LDAP_SUCCESS )
		return SLAP_CB_CONTINUE;
	db = certpin_select_db( op, &op->o_req_ndn );
	if ( db == NULL || db->be_nsuffix == NULL || BER_BVISNULL( &db->be_nsuffix[0] ) )
		return SLAP_CB_CONTINUE;
	if ( op->o_tag == LDAP_REQ_ADD ) {
		for ( a = op->ora_e->e_attrs; a; a = a->a_next )
			if ( !cp_known_find( db, a->a_desc ) )
				cp_known_add( db, a->a_desc );
		return SLAP_CB_CONTINUE;
	}
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		/* stored when the last change of the description leaves values */
		for ( l = m->sml_next; l && l->sml_desc != m->sml_desc; l = l->sml_next )
			;
		if ( l != NULL || m->sml_op == LDAP_MOD_DELETE ||
		     ( m->sml_op == LDAP_MOD_REPLACE && m->sml_numvals == 0 ) )
			continue;
		if ( !cp_known_find( db, m->sml_desc ) )
			cp_known_add( db, m->sml_desc );
	}
	return SLAP_CB_CONTINUE;
}

static int
cp_watch_cleanup( Operation *op, SlapReply *rs )
{
	slap_callback *cb = op->o_callback;

	op->o_callback = NULL;	/* unlinks this callback */
	op->o_tmpfree( cb, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

void
certpin_adtable_watch( Operation *op )
{
	slap_callback *cb;

	/* certpin's own writes may share a transaction's database
	 * transaction (write.c cp_internal_modify): not counted */
	if ( op->o_txnSpec || op->o_noop || certpin_is_internal( op ) ||
	     ( op->o_tag != LDAP_REQ_ADD && op->o_tag != LDAP_REQ_MODIFY ) )
		return;
	cb = op->o_tmpcalloc( 1, sizeof( slap_callback ), op->o_tmpmemctx );
	cb->sc_response = cp_watch_response;
	cb->sc_cleanup = cp_watch_cleanup;
	cb->sc_next = op->o_callback;
	op->o_callback = cb;
}

/* The operational attributes slapd adds to every add / to every modify
 * and rename; every entry stored holds them. */
static AttributeDescription **
cp_opattrs( int add )
{
	static AttributeDescription *tab[9];

	tab[0] = slap_schema.si_ad_modifiersName;
	tab[1] = slap_schema.si_ad_modifyTimestamp;
	tab[2] = slap_schema.si_ad_entryCSN;
	if ( !add ) {
		tab[3] = NULL;
		return tab;
	}
	tab[3] = slap_schema.si_ad_creatorsName;
	tab[4] = slap_schema.si_ad_createTimestamp;
	tab[5] = slap_schema.si_ad_entryUUID;
	tab[6] = slap_schema.si_ad_structuralObjectClass;
	tab[7] = slap_schema.si_ad_objectClass;
	tab[8] = NULL;
	return tab;
}

static int
cp_refuse_new( Operation *op, SlapReply *rs, BackendDB *db, AttributeDescription *ad )
{
	char err[SLAP_TEXT_BUFLEN];

	Debug( LDAP_DEBUG_ANY, "%s certpin: refused a %s write storing \"%s\", "
		"which no entry of \"%s\" holds yet (back-mdb cannot undo a new "
		"attribute)\n", op->o_log_prefix,
		op->o_txnSpec ? "transaction's" : "No-Op", ad->ad_cname.bv_val,
		db->be_suffix ? db->be_suffix[0].bv_val : "" );
	snprintf( err, sizeof( err ), "certpin: %s would store attribute %s, "
		"which no entry of this database holds yet; slapd cannot undo that "
		"(back-mdb): store it once outside %s first",
		op->o_txnSpec ? "this transaction" : "this No-Op write",
		ad->ad_cname.bv_val,
		op->o_txnSpec ? "a transaction" : "No-Op" );
	return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM, err );
}

/* Is db's backend back-mdb (the one with the bug)? */
static int
cp_is_mdb( BackendDB *db )
{
	BackendInfo *bi = db->bd_info;

	if ( overlay_is_over( db ) )
		bi = ((slap_overinfo *)bi->bi_private)->oi_orig;
	return bi != NULL && bi->bi_type != NULL && strcmp( bi->bi_type, "mdb" ) == 0;
}

#define CP_CHECK( ad ) do { \
		if ( (ad) != NULL && !cp_ad_known( op, db, (ad) ) ) \
			return cp_refuse_new( op, rs, db, (ad) ); \
	} while ( 0 )

/* The frontend, for a write op into db inside a transaction or with the
 * No-Op control: refuse it when it would store an attribute description no
 * entry of db holds.  touches: the write touches certpin data (the gate
 * adds its maintained attributes and records). */
int
certpin_adtable_check( Operation *op, SlapReply *rs, BackendDB *db, int touches )
{
	AttributeDescription **opattrs;
	Modifications *m;
	Attribute *a;
	int i;

	if ( !op->o_txnSpec && !op->o_noop )
		return SLAP_CB_CONTINUE;
	/* a No-Op modify reverts the entry before storing it (mdb_modify_internal) */
	if ( !op->o_txnSpec && op->o_tag == LDAP_REQ_MODIFY )
		return SLAP_CB_CONTINUE;
	if ( db == NULL || db->be_search == NULL || db->be_nsuffix == NULL ||
	     BER_BVISNULL( &db->be_nsuffix[0] ) || !cp_is_mdb( db ) )
		return SLAP_CB_CONTINUE;

	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
		for ( a = op->ora_e->e_attrs; a; a = a->a_next )
			CP_CHECK( a->a_desc );
		break;
	case LDAP_REQ_MODIFY:
		for ( m = op->orm_modlist; m; m = m->sml_next ) {
			/* a delete stores no new description */
			if ( m->sml_op != LDAP_MOD_DELETE )
				CP_CHECK( m->sml_desc );
		}
		break;
	case LDAP_REQ_MODRDN: {
		LDAPRDN rdn = NULL;
		char *next;
		const char *text;

		/* the new RDN's values are stored in the entry */
		if ( ldap_bv2rdn_x( &op->orr_newrdn, &rdn, &next, LDAP_DN_FORMAT_LDAP,
				op->o_tmpmemctx ) != LDAP_SUCCESS )
			break;	/* slapd refuses it itself */
		for ( i = 0; rdn[i]; i++ ) {
			AttributeDescription *ad = NULL;

			if ( slap_bv2ad( &rdn[i]->la_attr, &ad, &text ) != LDAP_SUCCESS )
				continue;
			if ( !cp_ad_known( op, db, ad ) ) {
				ldap_rdnfree_x( rdn, op->o_tmpmemctx );
				return cp_refuse_new( op, rs, db, ad );
			}
		}
		ldap_rdnfree_x( rdn, op->o_tmpmemctx );
		break;
		}
	case LDAP_REQ_DELETE:
		break;
	default:
		return SLAP_CB_CONTINUE;
	}
	if ( op->o_tag != LDAP_REQ_DELETE ) {
		for ( opattrs = cp_opattrs( op->o_tag == LDAP_REQ_ADD ); *opattrs; opattrs++ )
			CP_CHECK( *opattrs );
	}
	if ( touches ) {
		CP_CHECK( ad_certpinCertBinary );
		CP_CHECK( ad_certpinThumbprint );
		CP_CHECK( ad_certpinCertInfo );
		CP_CHECK( ad_certpinRevoked );
		CP_CHECK( ad_certpinRevokedThumbprint );
	}
	return SLAP_CB_CONTINUE;
}

/* Does some entry of db hold every attribute a record of an issued
 * certificate stores (write.c's group commit writes them inside a
 * transaction)? */
int
certpin_adtable_records_stored( Operation *op, BackendDB *db )
{
	AttributeDescription **opattrs;

	if ( db == NULL || db->be_search == NULL || !cp_is_mdb( db ) )
		return 1;
	if ( db->be_nsuffix == NULL || BER_BVISNULL( &db->be_nsuffix[0] ) )
		return 0;
	for ( opattrs = cp_opattrs( 0 ); *opattrs; opattrs++ )
		if ( !cp_ad_known( op, db, *opattrs ) )
			return 0;
	return cp_ad_known( op, db, ad_certpinCertBinary ) &&
		cp_ad_known( op, db, ad_certpinThumbprint ) &&
		cp_ad_known( op, db, ad_certpinCertInfo );
}
