/* bind.c - certpin's logon enforcement on SASL EXTERNAL binds
 *
 * At every SASL EXTERNAL bind over TLS where the client presented a
 * certificate, once slapd has mapped the identity (authz-regexp), the bind
 * succeeds only if the mapped entry holds exactly that certificate (its
 * certpinThumbprint) and the certificate is inside its validity period.
 * Otherwise the bind fails with invalidCredentials and a short diagnostic;
 * the server log says why.  Binds without a client certificate (ldapi
 * peer credentials, simple binds, other mechanisms) are never touched.
 *
 * With strong mapping the certificate itself names the identity: the one
 * entry whose certpinThumbprint matches, whatever the subject says.
 *
 * Sessions: a connection that bound with a certificate is remembered by its
 * connection slot.  Every successful write that may revoke (entry delete,
 * modify of certpinCertificate or objectClass) bumps a generation counter;
 * the next operation of such a connection sees the counter moved, checks its
 * certificate again (one base lookup) and, if it is no longer on file, runs
 * as anonymous: the connection's identity is dropped.  The same check runs
 * every certpin-session-recheck seconds, for revocations that arrive by
 * replication.  Connections that did not bind with a certificate pay one
 * comparison per operation.
 */

#include "certpin.h"

#include <ac/string.h>

/* Exported by libldap, declared in no installed header. */
int ldap_pvt_tls_get_peercert( void *s, struct berval *der );

/* ---- state ---------------------------------------------------------------- */

enum {
	CP_MODE_ENFORCE = 0,
	CP_MODE_AUDIT,
	CP_MODE_OFF
};

static slap_verbmasks certpin_bind_modes[] = {
	{ BER_BVC("enforce"),	CP_MODE_ENFORCE },
	{ BER_BVC("audit"),	CP_MODE_AUDIT },
	{ BER_BVC("off"),	CP_MODE_OFF },
	{ BER_BVNULL,		0 }
};

/* A certificate's validity period. */
typedef struct cp_period {
	time_t		vp_notbefore;
	time_t		vp_notafter;
	int		vp_known;
} cp_period;

/* A connection that bound with a certificate.  Its DER, thumbprint and
 * validity period are kept for its next bind with the same certificate
 * (functions of the DER bytes alone: re-binds skip the hash and the date
 * parsing, never the lookup of the entry). */
typedef struct cp_session {
	unsigned long	ss_connid;	/* the connection (also of the memo) */
	int		ss_used;	/* bound with the certificate now */
	unsigned long	ss_gen;		/* revocation generation last checked */
	time_t		ss_checked;	/* when last checked */
	struct berval	ss_ndn;		/* the identity it bound as (ch_malloc) */
	char		ss_sha256[65];	/* its certificate's thumbprint */
	struct berval	ss_der;		/* its certificate (ch_malloc) */
	cp_period	ss_period;	/* and validity period */
} cp_session;

typedef struct cp_bind_info {
	int		cb_mode;	/* CP_MODE_* */
	int		cb_strong;	/* strong mapping */
	int		cb_recheck;	/* certpin-session-recheck, seconds; 0: never */
	struct berval	cb_history;	/* certpin-history, or empty: parent */
	struct berval	cb_nhistory;
	ldap_pvt_thread_mutex_t	cb_mutex;	/* guards session writes */
	cp_session	**cb_chunks;	/* sessions by c_conn_idx, CP_CHUNK per */
	int		cb_nchunks;	/* chunk; allocated on first use */
} cp_bind_info;

/* Bumped after every successful write that may have revoked a certificate. */
static unsigned long certpin_revgen;

#define CP_GEN_LOAD()	__atomic_load_n( &certpin_revgen, __ATOMIC_SEQ_CST )
#define CP_GEN_BUMP()	__atomic_add_fetch( &certpin_revgen, 1, __ATOMIC_SEQ_CST )

/* ---- configuration ----------------------------------------------------- */

enum {
	CP_BIND_MODE = 1,
	CP_BIND_STRONG,
	CP_BIND_HISTORY,
	CP_BIND_RECHECK
};

#define CERTPIN_DEFAULT_RECHECK	60
#define CP_CHUNK		256	/* sessions per chunk of the table */

static int
certpin_bind_cf( ConfigArgs *c )
{
	slap_overinst *on = (slap_overinst *)c->bi;
	certpin_info *ci = on->on_bi.bi_private;
	cp_bind_info *bi = ci->ci_bind;
	int i;

	switch ( c->op ) {
	case SLAP_CONFIG_EMIT:
		switch ( c->type ) {
		case CP_BIND_MODE: {
			struct berval bv = BER_BVNULL;

			enum_to_verb( certpin_bind_modes, bi->cb_mode, &bv );
			value_add_one( &c->rvalue_vals, &bv );
			return 0;
			}
		case CP_BIND_STRONG:
			c->value_int = bi->cb_strong;
			return 0;
		case CP_BIND_RECHECK:
			c->value_int = bi->cb_recheck;
			return 0;
		case CP_BIND_HISTORY:
			if ( BER_BVISNULL( &bi->cb_history ) )
				return 1;
			value_add_one( &c->rvalue_vals, &bi->cb_history );
			value_add_one( &c->rvalue_nvals, &bi->cb_nhistory );
			return 0;
		}
		return 1;
	case LDAP_MOD_DELETE:
		switch ( c->type ) {
		case CP_BIND_MODE:
			bi->cb_mode = CP_MODE_ENFORCE;
			break;
		case CP_BIND_STRONG:
			bi->cb_strong = 0;
			break;
		case CP_BIND_RECHECK:
			bi->cb_recheck = CERTPIN_DEFAULT_RECHECK;
			break;
		case CP_BIND_HISTORY:
			ch_free( bi->cb_history.bv_val );
			ch_free( bi->cb_nhistory.bv_val );
			BER_BVZERO( &bi->cb_history );
			BER_BVZERO( &bi->cb_nhistory );
			break;
		}
		return 0;
	}
	switch ( c->type ) {
	case CP_BIND_MODE:
		i = verb_to_mask( c->argv[1], certpin_bind_modes );
		if ( BER_BVISNULL( &certpin_bind_modes[i].word ) )
			return certpin_cf_error( c, "<%s> must be enforce, audit or off",
				c->argv[0] );
		bi->cb_mode = certpin_bind_modes[i].mask;
		return 0;
	case CP_BIND_STRONG:
		bi->cb_strong = c->value_int;
		return 0;
	case CP_BIND_RECHECK:
		return certpin_cf_int( c, 0, 86400, "seconds", &bi->cb_recheck );
	case CP_BIND_HISTORY:
		ch_free( bi->cb_history.bv_val );
		ch_free( bi->cb_nhistory.bv_val );
		bi->cb_history = c->value_dn;
		bi->cb_nhistory = c->value_ndn;
		return 0;
	}
	return ARG_BAD_CONF;
}

ConfigTable certpin_bind_cfg[] = {
	{ "certpin-mode", "enforce|audit|off", 2, 2, 0,
	  ARG_MAGIC|CP_BIND_MODE, certpin_bind_cf,
	  "( " CERTPIN_OID_CFG_AT ".10 NAME 'olcCertpinMode' "
	  "DESC 'Logon enforcement: enforce, audit or off' "
	  "EQUALITY caseIgnoreMatch "
	  "SYNTAX OMsDirectoryString SINGLE-VALUE )", NULL, NULL },
	{ "certpin-strong-mapping", "on|off", 2, 2, 0,
	  ARG_ON_OFF|ARG_MAGIC|CP_BIND_STRONG, certpin_bind_cf,
	  "( " CERTPIN_OID_CFG_AT ".11 NAME 'olcCertpinStrongMapping' "
	  "DESC 'Map a logon certificate to the one entry holding its thumbprint' "
	  "EQUALITY booleanMatch "
	  "SYNTAX OMsBoolean SINGLE-VALUE )", NULL, NULL },
	{ "certpin-history", "dn", 2, 2, 0,
	  ARG_DN|ARG_QUOTE|ARG_MAGIC|CP_BIND_HISTORY, certpin_bind_cf,
	  "( " CERTPIN_OID_CFG_AT ".12 NAME 'olcCertpinHistory' "
	  "DESC 'Entry that keeps the revocation records of deleted entries' "
	  "EQUALITY distinguishedNameMatch "
	  "SYNTAX OMsDN SINGLE-VALUE )", NULL, NULL },
	{ "certpin-session-recheck", "seconds", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_BIND_RECHECK, certpin_bind_cf,
	  "( " CERTPIN_OID_CFG_AT ".13 NAME 'olcCertpinSessionRecheck' "
	  "DESC 'Sessions bound with a certificate check it again after this many seconds; 0: only after local revocations' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ NULL, NULL, 0, 0, 0, ARG_IGNORED }
};
const char certpin_bind_cfg_names[] =
	"olcCertpinMode $ olcCertpinStrongMapping $ olcCertpinHistory $ "
	"olcCertpinSessionRecheck";

/* ---- life cycle -------------------------------------------------------- */

int
certpin_bind_db_init( BackendDB *be, certpin_info *ci )
{
	cp_bind_info *bi = ch_calloc( 1, sizeof( cp_bind_info ) );

	bi->cb_mode = CP_MODE_ENFORCE;
	bi->cb_recheck = CERTPIN_DEFAULT_RECHECK;
	ldap_pvt_thread_mutex_init( &bi->cb_mutex );
	ci->ci_bind = bi;
	return 0;
}

int
certpin_bind_db_destroy( BackendDB *be, certpin_info *ci )
{
	cp_bind_info *bi = ci->ci_bind;
	int i;

	if ( bi == NULL )
		return 0;
	for ( i = 0; bi->cb_chunks && i < bi->cb_nchunks; i++ ) {
		cp_session *c = bi->cb_chunks[i];
		int j;

		for ( j = 0; c && j < CP_CHUNK; j++ ) {
			ch_free( c[j].ss_ndn.bv_val );
			ch_free( c[j].ss_der.bv_val );
		}
		ch_free( c );
	}
	ch_free( bi->cb_chunks );
	ch_free( bi->cb_history.bv_val );
	ch_free( bi->cb_nhistory.bv_val );
	ldap_pvt_thread_mutex_destroy( &bi->cb_mutex );
	ch_free( bi );
	ci->ci_bind = NULL;
	return 0;
}

struct berval *
certpin_bind_history( certpin_info *ci )
{
	cp_bind_info *bi = ci->ci_bind;

	return BER_BVISNULL( &bi->cb_nhistory ) ? NULL : &bi->cb_nhistory;
}

/* ---- sessions ---------------------------------------------------------- */

/* The session slot of connection index idx, or NULL.  With create (and
 * cb_mutex held), its chunk is allocated if need be.  Readers go without the
 * lock: pointers are published only once what they point to is ready. */
static cp_session *
cp_slot( cp_bind_info *bi, int idx, int create )
{
	cp_session **chunks = __atomic_load_n( &bi->cb_chunks, __ATOMIC_ACQUIRE );
	cp_session *c;

	if ( idx < 0 || idx >= dtblsize )
		return NULL;
	if ( chunks == NULL ) {
		if ( !create )
			return NULL;
		bi->cb_nchunks = ( dtblsize + CP_CHUNK - 1 ) / CP_CHUNK;
		chunks = ch_calloc( bi->cb_nchunks, sizeof( cp_session * ) );
		__atomic_store_n( &bi->cb_chunks, chunks, __ATOMIC_RELEASE );
	}
	if ( idx / CP_CHUNK >= bi->cb_nchunks )
		return NULL;
	c = __atomic_load_n( &chunks[idx / CP_CHUNK], __ATOMIC_ACQUIRE );
	if ( c == NULL ) {
		if ( !create )
			return NULL;
		c = ch_calloc( CP_CHUNK, sizeof( cp_session ) );
		__atomic_store_n( &chunks[idx / CP_CHUNK], c, __ATOMIC_RELEASE );
	}
	return &c[idx % CP_CHUNK];
}

/* Remember that op's connection bound as ndn with certificate hex, as of
 * revocation generation gen.  Called with no lock held. */
static void
cp_session_set( cp_bind_info *bi, Operation *op, struct berval *ndn,
	const char *hex, unsigned long gen, struct berval *der, cp_period *vp )
{
	cp_session *s;

	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	s = cp_slot( bi, op->o_conn->c_conn_idx, 1 );
	if ( s != NULL ) {
		s->ss_used = 0;
		if ( !bvmatch( &s->ss_ndn, ndn ) ) {
			ch_free( s->ss_ndn.bv_val );
			ber_dupbv( &s->ss_ndn, ndn );
		}
		memcpy( s->ss_sha256, hex, sizeof( s->ss_sha256 ) );
		if ( s->ss_der.bv_len != der->bv_len ||
		     memcmp( s->ss_der.bv_val, der->bv_val, der->bv_len ) != 0 ) {
			ch_free( s->ss_der.bv_val );
			ber_dupbv( &s->ss_der, der );
		}
		s->ss_period = *vp;
		s->ss_gen = gen;
		s->ss_checked = op->o_time;
		s->ss_connid = op->o_connid;
		s->ss_used = 1;
	}
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
}

/* The session of op's connection, or NULL: the fast path of every
 * operation, so nothing but comparisons. */
static cp_session *
cp_session_of( cp_bind_info *bi, Operation *op )
{
	cp_session *s;

	if ( op->o_conn == NULL ||
	     ( s = cp_slot( bi, op->o_conn->c_conn_idx, 0 ) ) == NULL )
		return NULL;
	if ( !s->ss_used || s->ss_connid != op->o_connid )
		return NULL;
	return s;
}

static void
cp_session_forget( cp_bind_info *bi, Operation *op )
{
	cp_session *s = cp_session_of( bi, op );

	if ( s == NULL )
		return;
	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	if ( s->ss_used && s->ss_connid == op->o_connid )
		s->ss_used = 0;
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
}

/* If op's connection last bound with certificate der, its thumbprint and
 * validity period (1), else 0. */
static int
cp_session_memo( cp_bind_info *bi, Operation *op, struct berval *der,
	char hex[65], cp_period *vp )
{
	cp_session *s = cp_slot( bi, op->o_conn->c_conn_idx, 0 );
	int found = 0;

	if ( s == NULL )
		return 0;
	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	if ( s->ss_connid == op->o_connid && s->ss_der.bv_len == der->bv_len &&
	     memcmp( s->ss_der.bv_val, der->bv_val, der->bv_len ) == 0 ) {
		memcpy( hex, s->ss_sha256, 65 );
		*vp = s->ss_period;
		found = 1;
	}
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
	return found;
}

/* ---- the checks -------------------------------------------------------- */

/* Fill *vp from the certificate itself (when the entry has no record). */
static int
cp_period_from_der( struct berval *der, cp_period *vp )
{
	certpin_certinfo info;
	char err[128];

	if ( certpin_certinfo_from_der( (unsigned char *)der->bv_val, der->bv_len,
			&info, err, sizeof( err ) ) )
		return -1;
	vp->vp_notbefore = info.ci_notbefore_t;
	vp->vp_notafter = info.ci_notafter_t;
	vp->vp_known = 1;
	certpin_certinfo_free( &info );
	return 0;
}

/* Fill *vp from the certificate's certpinCertInfo record on entry e (fields
 * notbefore and expires), so that the bind path parses no DER.  Leaves it
 * unknown when the entry has no readable record. */
static void
cp_period_from_rec( Entry *e, const char *hex, cp_period *vp )
{
	Attribute *a = attr_find( e->e_attrs, ad_certpinCertInfo );
	char nb[CERTPIN_GENTIME_LEN + 1], na[CERTPIN_GENTIME_LEN + 1];
	int i;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		struct berval *v = &a->a_vals[i];

		if ( v->bv_len <= 7 + 64 || strncmp( v->bv_val, "sha256=", 7 ) != 0 ||
		     strncasecmp( v->bv_val + 7, hex, 64 ) != 0 || v->bv_val[7 + 64] != '$' )
			continue;
		if ( certpin_rec_get( v->bv_val, v->bv_len, "notbefore", nb, sizeof( nb ) ) >= 0 &&
		     certpin_rec_get( v->bv_val, v->bv_len, "expires", na, sizeof( na ) ) >= 0 &&
		     certpin_gentime_parse( nb, &vp->vp_notbefore ) == 0 &&
		     certpin_gentime_parse( na, &vp->vp_notafter ) == 0 )
			vp->vp_known = 1;
		return;
	}
}

/* Is the certificate der, of period *vp, valid at t?  NULL or why not. */
static const char *
cp_period_check( cp_period *vp, struct berval *der, time_t t )
{
	if ( !vp->vp_known && cp_period_from_der( der, vp ) )
		return "unreadable certificate";
	if ( t < vp->vp_notbefore )
		return "not yet valid";
	if ( t > vp->vp_notafter )
		return "expired";
	return NULL;
}

/* Does entry ndn hold thumbprint hex?  Returns NULL when it does, else why
 * not (for the server log).  When vp is given and its period unknown, the
 * period comes from the entry's metadata record. */
static const char *
cp_entry_holds( Operation *op, struct berval *ndn, const char *hex,
	cp_period *vp )
{
	BackendDB *db;
	Entry *e = NULL;
	Attribute *a;
	const char *why = NULL;
	int i, held = 0;

	if ( BER_BVISEMPTY( ndn ) )
		return "no identity mapped from the certificate";
	db = select_backend( ndn, 0 );
	if ( db == NULL || db->be_fetch == NULL )
		return "no database holds the mapped identity";
	if ( certpin_entry_get( op, db, ndn, &e ) != LDAP_SUCCESS )
		return "no such entry";

	a = attr_find( e->e_attrs, ad_certpinThumbprint );
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( a->a_vals[i].bv_len == 64 &&
		     strncasecmp( a->a_vals[i].bv_val, hex, 64 ) == 0 ) {
			held = 1;
			break;
		}
	}
	if ( held ) {
		if ( vp != NULL && !vp->vp_known )
			cp_period_from_rec( e, hex, vp );
	} else {
		why = "not issued to this user";
		a = attr_find( e->e_attrs, ad_certpinRevoked );
		for ( i = 0; a && i < a->a_numvals; i++ ) {
			struct berval *v = &a->a_vals[i];

			if ( v->bv_len > 7 + 64 && strncmp( v->bv_val, "sha256=", 7 ) == 0 &&
			     strncasecmp( v->bv_val + 7, hex, 64 ) == 0 ) {
				why = "revoked";
				break;
			}
		}
	}
	certpin_entry_release( op, db, e );
	return why;
}

/* Can database "be" hold users?  (Strong mapping searches each one.)  Glued
 * subordinates are searched through their superior. */
static int
cp_user_db( BackendDB *be )
{
	return be != frontendDB && !SLAP_CONFIG( be ) && !SLAP_MONITOR( be ) &&
		!SLAP_GLUE_SUBORDINATE( be ) && be->be_search != NULL &&
		be->be_nsuffix != NULL;
}

/* Strong mapping: the one entry, in any database, whose certpinThumbprint is
 * hex.  Returns NULL and the owner's DN (o_tmpmemctx), or why not. */
static const char *
cp_strong_owner( Operation *op, const char *hex, struct berval *owner )
{
	BackendDB *be;
	int n = 0, k;

	BER_BVZERO( owner );
	LDAP_STAILQ_FOREACH( be, &backendDB, be_next ) {
		struct berval o = BER_BVNULL;

		if ( !cp_user_db( be ) )
			continue;
		k = certpin_find_thumbprint( op, be, hex, 0, &o );
		if ( k < 0 )
			return "internal search failed";
		n += k;
		if ( k > 0 && BER_BVISNULL( owner ) )
			*owner = o;
		else if ( o.bv_val )
			op->o_tmpfree( o.bv_val, op->o_tmpmemctx );
	}
	if ( n == 1 )
		return NULL;
	if ( owner->bv_val )
		op->o_tmpfree( owner->bv_val, op->o_tmpmemctx );
	BER_BVZERO( owner );
	if ( n > 1 )
		return "more than one entry holds it (strong mapping)";
	LDAP_STAILQ_FOREACH( be, &backendDB, be_next ) {
		if ( !cp_user_db( be ) )
			continue;
		if ( certpin_find_thumbprint( op, be, hex, 1, NULL ) > 0 )
			return "revoked";
	}
	return "no entry holds it (strong mapping)";
}

/* ---- bind ---------------------------------------------------------------- */

typedef struct cp_bind_cb {
	slap_callback	bc_cb;
	cp_bind_info	*bc_bi;
	struct berval	bc_der;		/* the peer certificate, after this struct */
} cp_bind_cb;

static int
certpin_bind_cleanup( Operation *op, SlapReply *rs )
{
	cp_bind_cb *bc = op->o_callback->sc_private;

	op->o_callback = NULL;	/* unlinks this callback */
	op->o_tmpfree( bc, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

static int
certpin_bind_response( Operation *op, SlapReply *rs )
{
	cp_bind_cb *bc = op->o_callback->sc_private;
	cp_bind_info *bi = bc->bc_bi;
	struct berval owner = BER_BVNULL, *ndn = &op->orb_edn;
	cp_period period = { 0, 0, 0 };
	unsigned long gen;
	const char *why;
	char hex[65];

	if ( ( rs->sr_type != REP_SASL && rs->sr_type != REP_RESULT ) ||
	     rs->sr_err != LDAP_SUCCESS )
		return SLAP_CB_CONTINUE;

	gen = CP_GEN_LOAD();
	if ( !cp_session_memo( bi, op, &bc->bc_der, hex, &period ) )
		certpin_sha256_hex( (unsigned char *)bc->bc_der.bv_val,
			bc->bc_der.bv_len, hex );
	if ( bi->cb_strong ) {
		why = cp_strong_owner( op, hex, &owner );
		if ( why == NULL ) {
			ndn = &owner;
			why = cp_entry_holds( op, ndn, hex, &period );
		}
	} else {
		why = cp_entry_holds( op, ndn, hex, &period );
	}
	if ( why == NULL )
		why = cp_period_check( &period, &bc->bc_der, op->o_time );

	if ( ndn == &owner && ( why == NULL || bi->cb_mode == CP_MODE_AUDIT ) ) {
		/* strong mapping: the holder is the identity */
		if ( !BER_BVISNULL( &op->orb_edn ) &&
		     !dn_match( &op->orb_edn, &owner ) ) {
			Debug( LDAP_DEBUG_STATS, "%s certpin: strong mapping: "
				"certificate %s maps to \"%s\", not \"%s\"\n",
				op->o_log_prefix, hex, owner.bv_val, op->orb_edn.bv_val );
		}
		if ( !BER_BVISNULL( &op->orb_edn ) )
			op->o_tmpfree( op->orb_edn.bv_val, op->o_tmpmemctx );
		op->orb_edn = owner;
		ndn = &op->orb_edn;
	}
	if ( why == NULL ) {
		Debug( LDAP_DEBUG_STATS2, "%s certpin: logon as \"%s\" with "
			"certificate %s\n", op->o_log_prefix, ndn->bv_val, hex );
		cp_session_set( bi, op, ndn, hex, gen, &bc->bc_der, &period );
		certpin_count( CP_CTR_LOGON_ACCEPTED );
		return SLAP_CB_CONTINUE;
	}

	if ( bi->cb_mode == CP_MODE_AUDIT ) {
		Debug( LDAP_DEBUG_STATS, "%s certpin: audit: would refuse logon as "
			"\"%s\" with certificate %s: %s\n", op->o_log_prefix,
			BER_BVISNULL( ndn ) ? "" : ndn->bv_val, hex, why );
		certpin_count_logon( op, CP_EV_LOGON_AUDIT, why, ndn, hex );
		return SLAP_CB_CONTINUE;
	}
	Debug( LDAP_DEBUG_STATS, "%s certpin: refused logon as \"%s\" with "
		"certificate %s: %s\n", op->o_log_prefix,
		BER_BVISNULL( ndn ) ? "" : ndn->bv_val, hex, why );
	certpin_count_logon( op, CP_EV_LOGON_REFUSED, why, ndn, hex );
	rs->sr_err = LDAP_INVALID_CREDENTIALS;
	rs->sr_text = "certificate not accepted";
	rs->sr_sasldata = NULL;
	return SLAP_CB_CONTINUE;
}

int
certpin_bind_op( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;
	cp_bind_info *bi = ci->ci_bind;
	struct berval der = BER_BVNULL;
	cp_bind_cb *bc;
	void *ssl;

	/* Any bind ends what the connection was. */
	cp_session_forget( bi, op );

	if ( bi->cb_mode == CP_MODE_OFF || op->orb_method != LDAP_AUTH_SASL ||
	     op->o_conn == NULL || op->o_conn->c_sb == NULL )
		return SLAP_CB_CONTINUE;
	if ( op->orb_mech.bv_len != STRLENOF( "EXTERNAL" ) ||
	     strncasecmp( op->orb_mech.bv_val, "EXTERNAL", STRLENOF( "EXTERNAL" ) ) != 0 )
		return SLAP_CB_CONTINUE;
	ssl = ldap_pvt_tls_sb_ctx( op->o_conn->c_sb );
	if ( ssl == NULL || ldap_pvt_tls_get_peercert( ssl, &der ) != 0 ||
	     der.bv_val == NULL )
		return SLAP_CB_CONTINUE;	/* no client certificate: not ours */

	bc = op->o_tmpcalloc( 1, sizeof( cp_bind_cb ) + der.bv_len, op->o_tmpmemctx );
	bc->bc_bi = bi;
	bc->bc_der.bv_val = (char *)( bc + 1 );
	bc->bc_der.bv_len = der.bv_len;
	memcpy( bc->bc_der.bv_val, der.bv_val, der.bv_len );
	ber_memfree( der.bv_val );

	bc->bc_cb.sc_response = certpin_bind_response;
	bc->bc_cb.sc_cleanup = certpin_bind_cleanup;
	bc->bc_cb.sc_private = bc;
	bc->bc_cb.sc_next = op->o_callback;
	op->o_callback = &bc->bc_cb;
	return SLAP_CB_CONTINUE;
}

/* ---- every other operation --------------------------------------------- */

void
certpin_bind_revoked( void )
{
	CP_GEN_BUMP();
}

static int
cp_revgen_response( Operation *op, SlapReply *rs )
{
	if ( rs->sr_type == REP_RESULT && rs->sr_err == LDAP_SUCCESS )
		CP_GEN_BUMP();
	return SLAP_CB_CONTINUE;
}

static int
cp_revgen_cleanup( Operation *op, SlapReply *rs )
{
	slap_callback *sc = op->o_callback;

	op->o_callback = NULL;	/* unlinks this callback */
	op->o_tmpfree( sc, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

/* May this write revoke a certificate (delete an entry, or remove
 * certpinCertificate values or the certpinUser class)? */
static int
cp_may_revoke( Operation *op )
{
	Modifications *m;

	if ( op->o_tag == LDAP_REQ_DELETE )
		return 1;
	if ( op->o_tag != LDAP_REQ_MODIFY )
		return 0;
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		if ( m->sml_op != LDAP_MOD_ADD &&
		     ( m->sml_desc->ad_type == ad_certpinCertificate->ad_type ||
		       m->sml_desc == slap_schema.si_ad_objectClass ) )
			return 1;
	}
	return 0;
}

/* A session whose certificate was revoked: the connection, and this
 * operation, continue as anonymous. */
static void
cp_session_revoked( Operation *op, struct berval *ndn )
{
	Connection *c = op->o_conn;

	ldap_pvt_thread_mutex_lock( &c->c_mutex );
	if ( dn_match( &c->c_ndn, ndn ) )
		connection2anonymous( c );
	ldap_pvt_thread_mutex_unlock( &c->c_mutex );
	if ( !BER_BVISNULL( &op->o_dn ) ) {
		op->o_dn.bv_val[0] = '\0';
		op->o_dn.bv_len = 0;
	}
	if ( !BER_BVISNULL( &op->o_ndn ) ) {
		op->o_ndn.bv_val[0] = '\0';
		op->o_ndn.bv_len = 0;
	}
}

int
certpin_bind_op_any( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;
	cp_bind_info *bi = ci->ci_bind;
	cp_session *s;
	struct berval ndn;
	char hex[65];
	unsigned long gen;
	const char *why;

	if ( cp_may_revoke( op ) ) {
		slap_callback *sc = op->o_tmpcalloc( 1, sizeof( slap_callback ),
			op->o_tmpmemctx );

		sc->sc_response = cp_revgen_response;
		sc->sc_cleanup = cp_revgen_cleanup;
		sc->sc_next = op->o_callback;
		op->o_callback = sc;
	}

	s = cp_session_of( bi, op );
	if ( s == NULL )
		return SLAP_CB_CONTINUE;
	gen = CP_GEN_LOAD();
	if ( gen == s->ss_gen && ( bi->cb_recheck == 0 ||
	     op->o_time - s->ss_checked < bi->cb_recheck ) )
		return SLAP_CB_CONTINUE;

	/* Something may have been revoked since this connection was last
	 * checked (here, or elsewhere and replicated: hence the periodic
	 * check): is its certificate still on file? */
	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	if ( !s->ss_used || s->ss_connid != op->o_connid ) {
		ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
		return SLAP_CB_CONTINUE;
	}
	ber_dupbv_x( &ndn, &s->ss_ndn, op->o_tmpmemctx );
	memcpy( hex, s->ss_sha256, sizeof( hex ) );
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );

	why = cp_entry_holds( op, &ndn, hex, NULL );

	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	if ( s->ss_used && s->ss_connid == op->o_connid ) {
		if ( why == NULL ) {
			s->ss_gen = gen;
			s->ss_checked = op->o_time;
		} else
			s->ss_used = 0;
	}
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );

	if ( why != NULL ) {
		if ( bi->cb_mode == CP_MODE_AUDIT ) {
			Debug( LDAP_DEBUG_STATS, "%s certpin: audit: session of \"%s\" "
				"would continue as anonymous: certificate %s: %s\n",
				op->o_log_prefix, ndn.bv_val, hex, why );
			certpin_count_logon( op, CP_EV_SESSION_AUDIT, why, &ndn, hex );
		} else if ( bi->cb_mode == CP_MODE_ENFORCE ) {
			Debug( LDAP_DEBUG_STATS, "%s certpin: session of \"%s\" continues "
				"as anonymous: certificate %s: %s\n",
				op->o_log_prefix, ndn.bv_val, hex, why );
			cp_session_revoked( op, &ndn );
			certpin_count_logon( op, CP_EV_SESSION_ENDED, why, &ndn, hex );
		}
	}
	op->o_tmpfree( ndn.bv_val, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}
