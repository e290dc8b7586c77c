/* bind.c - certpin's logon enforcement on certificate (SASL EXTERNAL) binds
 *
 * At every SASL bind over TLS where the client presented a certificate,
 * the mechanism name is classified the way Cyrus SASL will read it (slapd
 * hands it over as a C string; Cyrus ignores case and one trailing "-PLUS"):
 * a name Cyrus runs as EXTERNAL is checked, whatever its spelling; a name
 * that is not a well-formed mechanism name (a NUL byte, odd characters) is
 * refused; other mechanisms do not use the certificate and pass.  For the
 * checked ones, once slapd has mapped the identity (authz-regexp), the bind
 * succeeds only if the mapped entry holds exactly that certificate (its
 * certpinThumbprint) and the certificate is inside its validity period.
 * Otherwise the bind fails with invalidCredentials and a short diagnostic;
 * the server log says why.  Binds without a client certificate (ldapi
 * peer credentials, simple binds, TLS without a client certificate) are
 * never touched.
 *
 * With strong mapping the certificate itself names the identity: the one
 * entry whose certpinThumbprint matches, whatever the subject says.
 *
 * Sessions: a connection that bound with a certificate is remembered by its
 * connection slot, with the entry's entryUUID.  certpin_bind_revoked() is
 * called after every committed write that may revoke (by the database
 * instance's write gate, of any origin, replication included; by the
 * frontend after a transaction commit): it bumps a generation counter, looks
 * up the certificates of the sessions the write may concern and, for each
 * one no longer on file, waits until every operation of that connection that
 * was already under way with its identity has finished (never for its own
 * thread, nor for operations already anonymous; at most
 * CP_DRAIN_MS, after which, and at once when the session runs a persistent
 * sync search, the connection is shut down).  Any operation of a certificate
 * session that starts later sees the counter moved, checks its certificate
 * again (one base lookup; the same entry by entryUUID) and, if it is no
 * longer on file, runs as anonymous: the connection's identity is dropped;
 * a transaction it had open is not committed.  The same check runs every
 * certpin-session-recheck seconds, as a backstop.  Connections that did not
 * bind with a certificate pay one comparison per operation.
 *
 * Re-bind cache (certpin-bind-cache): a connection that binds again with the
 * certificate it bound with, as the same identity, skips the read of the
 * entry when nothing can have changed since that read: the cache
 * generation (certpin_cachegen) is bumped by the database instances' write
 * gate before and after every write of any origin, by the frontend before
 * and after every client write and extended operation, after every
 * revocation and transaction commit, by every configuration change and
 * database open; the bind takes it before reading the entry and keeps the
 * result only if it has not moved meanwhile; a hit needs it unchanged, and
 * the read at most certpin-session-recheck seconds old (the session check's
 * own bound).  The validity period is checked at every bind.  Only entries
 * of back-mdb databases with a certpin instance are cached (with strong
 * mapping: only when every database that can hold users is one).
 */

#include "certpin.h"

#include <ac/string.h>
#include <ac/time.h>

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
/* An entry's entryUUID, to tell it from a later entry of the same name. */
typedef struct cp_uuid {
	int		uu_known;
	unsigned char	uu_val[16];
} cp_uuid;

typedef struct cp_session {
	unsigned long	ss_connid;	/* the connection (also of the memo) */
	int		ss_used;	/* bound with the certificate now */
	int		ss_lost;	/* lost its certificate identity (since the
					 * last transaction start) */
	const char	*ss_dead;	/* a revoker found it revoked: why */
	int		ss_revoked;	/* its identity was taken by a revocation
					 * (until the next bind) */
	struct berval	ss_gone_ndn;	/* that identity (ch_malloc): operations
					 * received before ss_gone_until that
					 * still carry it lose it */
	unsigned long	ss_gone_until;
	time_t		ss_gone_at;	/* when it lost it */
	unsigned long	ss_gen;		/* revocation generation last checked */
	time_t		ss_checked;	/* when last checked */
	Connection	*ss_conn;	/* slapd's connection (slots never move) */
	struct berval	ss_ndn;		/* the identity it bound as (ch_malloc) */
	cp_uuid		ss_uuid;	/* and that entry's entryUUID */
	char		ss_sha256[65];	/* its certificate's thumbprint */
	struct berval	ss_der;		/* its certificate (ch_malloc) */
	cp_period	ss_period;	/* and validity period */
	unsigned long	ss_held_gen;	/* re-bind cache: the cache generation
					 * taken before the read of the entry
					 * that held the certificate; 0: none */
	time_t		ss_held_at;	/* when that read was */
} cp_session;

typedef struct cp_bind_info {
	int		cb_mode;	/* CP_MODE_* */
	int		cb_strong;	/* strong mapping */
	int		cb_recheck;	/* certpin-session-recheck, seconds; 0: never */
	int		cb_cache;	/* certpin-bind-cache */
	struct berval	cb_history;	/* certpin-history, or empty: parent */
	struct berval	cb_nhistory;
	ldap_pvt_thread_mutex_t	cb_mutex;	/* guards session writes */
	cp_session	**cb_chunks;	/* sessions by c_conn_idx, CP_CHUNK per */
	int		cb_nchunks;	/* chunk; allocated on first use */
} cp_bind_info;

/* Bumped after every successful write that may have revoked a certificate. */
static unsigned long certpin_revgen;

/* The frontend instance's state: the one that sees binds and holds the
 * sessions (the database instances' calls of certpin_bind_revoked find it
 * here). */
static cp_bind_info *cp_front;

/* How long a revocation waits for the operations under way of a session it
 * ended before shutting its connection down, in milliseconds. */
#define CP_DRAIN_MS		5000
/* A session that lost its identity this many seconds ago or less still
 * has its operations waited for by a revocation that concerns it. */
#define CP_GONE_RECENT		( 2 * CP_DRAIN_MS / 1000 )

#define CP_GEN_LOAD()	__atomic_load_n( &certpin_revgen, __ATOMIC_SEQ_CST )
#define CP_GEN_BUMP()	__atomic_add_fetch( &certpin_revgen, 1, __ATOMIC_SEQ_CST )

/* The re-bind cache's generation (see the top of this file).  Never 0. */
static unsigned long certpin_cachegen = 1;

#define CP_CGEN_LOAD()	__atomic_load_n( &certpin_cachegen, __ATOMIC_SEQ_CST )

void
certpin_bind_cache_bump( void )
{
	/* 0 means "not cached": skipped when the counter wraps */
	if ( __atomic_add_fetch( &certpin_cachegen, 1, __ATOMIC_SEQ_CST ) == 0 )
		__atomic_add_fetch( &certpin_cachegen, 1, __ATOMIC_SEQ_CST );
}

/* ---- configuration ----------------------------------------------------- */

enum {
	CP_BIND_MODE = 1,
	CP_BIND_STRONG,
	CP_BIND_HISTORY,
	CP_BIND_RECHECK,
	CP_BIND_CACHE
};

#define CERTPIN_DEFAULT_RECHECK	60
#define CERTPIN_DEFAULT_CACHE	1
#define CP_CHUNK		256	/* sessions per chunk of the table */

static int
certpin_bind_cf( ConfigArgs *c )
{
	slap_overinst *on = (slap_overinst *)c->bi;
	certpin_info *ci = on->on_bi.bi_private;
	cp_bind_info *bi = ci->ci_bind;
	int i;

	/* whatever changes here may change what a bind decides */
	if ( c->op != SLAP_CONFIG_EMIT )
		certpin_bind_cache_bump();
	switch ( c->op ) {
	case SLAP_CONFIG_EMIT:
		switch ( c->type ) {
		case CP_BIND_CACHE:
			c->value_int = bi->cb_cache;
			return 0;
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
		case CP_BIND_CACHE:
			bi->cb_cache = CERTPIN_DEFAULT_CACHE;
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
	case CP_BIND_CACHE:
		bi->cb_cache = c->value_int;
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
	  "DESC 'Sessions bound with a certificate check it again after this many seconds; 0: only after revocations' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ "certpin-bind-cache", "on|off", 2, 2, 0,
	  ARG_ON_OFF|ARG_MAGIC|CP_BIND_CACHE, certpin_bind_cf,
	  "( " CERTPIN_OID_CFG_AT ".14 NAME 'olcCertpinBindCache' "
	  "DESC 'A re-bind with the certificate of the connection skips the read of the entry while no write happened' "
	  "EQUALITY booleanMatch "
	  "SYNTAX OMsBoolean SINGLE-VALUE )", NULL, NULL },
	{ NULL, NULL, 0, 0, 0, ARG_IGNORED }
};
const char certpin_bind_cfg_names[] =
	"olcCertpinMode $ olcCertpinStrongMapping $ olcCertpinHistory $ "
	"olcCertpinSessionRecheck $ olcCertpinBindCache";

/* ---- life cycle -------------------------------------------------------- */

int
certpin_bind_db_init( BackendDB *be, certpin_info *ci )
{
	cp_bind_info *bi = ch_calloc( 1, sizeof( cp_bind_info ) );

	bi->cb_mode = CP_MODE_ENFORCE;
	bi->cb_recheck = CERTPIN_DEFAULT_RECHECK;
	bi->cb_cache = CERTPIN_DEFAULT_CACHE;
	ldap_pvt_thread_mutex_init( &bi->cb_mutex );
	certpin_bind_cache_bump();
	ci->ci_bind = bi;
	if ( SLAP_ISGLOBALOVERLAY( be ) )
		__atomic_store_n( &cp_front, bi, __ATOMIC_RELEASE );
	return 0;
}

int
certpin_bind_db_destroy( BackendDB *be, certpin_info *ci )
{
	cp_bind_info *bi = ci->ci_bind;
	int i;

	certpin_bind_cache_bump();
	if ( bi == NULL )
		return 0;
	if ( __atomic_load_n( &cp_front, __ATOMIC_ACQUIRE ) == bi )
		__atomic_store_n( &cp_front, NULL, __ATOMIC_RELEASE );
	for ( i = 0; bi->cb_chunks && i < bi->cb_nchunks; i++ ) {
		cp_session *c = bi->cb_chunks[i];
		int j;

		for ( j = 0; c && j < CP_CHUNK; j++ ) {
			ch_free( c[j].ss_ndn.bv_val );
			ch_free( c[j].ss_gone_ndn.bv_val );
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
 * revocation generation gen, its entry read at held_at; held_gen: the
 * re-bind cache's generation of that read if the finding may be reused,
 * else 0.  Called with no lock held. */
static void
cp_session_set( cp_bind_info *bi, Operation *op, struct berval *ndn,
	const char *hex, unsigned long gen, struct berval *der, cp_period *vp,
	cp_uuid *uuid, unsigned long held_gen, time_t held_at )
{
	cp_session *s;

	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	s = cp_slot( bi, op->o_conn->c_conn_idx, 1 );
	if ( s != NULL ) {
		s->ss_used = 0;
		if ( s->ss_connid != op->o_connid ) {
			s->ss_lost = 0;
			ch_free( s->ss_gone_ndn.bv_val );
			BER_BVZERO( &s->ss_gone_ndn );
		}
		s->ss_dead = NULL;
		s->ss_revoked = 0;
		s->ss_conn = op->o_conn;
		s->ss_uuid = *uuid;
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
		s->ss_held_gen = held_gen;
		s->ss_held_at = held_at;
		s->ss_gen = gen;
		/* when the entry was last read: a re-bind the cache answered
		 * does not put the session's own recheck off */
		s->ss_checked = held_at;
		s->ss_connid = op->o_connid;
		s->ss_used = 1;
	}
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
}

/* Session s lost its identity to a revocation (cb_mutex held): operations
 * of the connection already received, whose copy of the identity was taken
 * before the connection became anonymous, lose it when they run. */
static void
cp_session_gone( cp_session *s )
{
	s->ss_revoked = 1;
	s->ss_lost = 1;
	if ( !bvmatch( &s->ss_gone_ndn, &s->ss_ndn ) ) {
		ch_free( s->ss_gone_ndn.bv_val );
		ber_dupbv( &s->ss_gone_ndn, &s->ss_ndn );
	}
	s->ss_gone_until = (unsigned long)-1;
	s->ss_gone_at = slap_get_time();
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
	cp_session *s;

	if ( op->o_conn == NULL ||
	     ( s = cp_slot( bi, op->o_conn->c_conn_idx, 0 ) ) == NULL ||
	     s->ss_connid != op->o_connid ||
	     !( s->ss_used || s->ss_revoked || !BER_BVISNULL( &s->ss_gone_ndn ) ) )
		return;
	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	if ( s->ss_connid == op->o_connid ) {
		s->ss_used = 0;
		s->ss_revoked = 0;
		/* operations received after this bind carry its identity */
		if ( !BER_BVISNULL( &s->ss_gone_ndn ) &&
		     op->o_opid < s->ss_gone_until )
			s->ss_gone_until = op->o_opid;
	}
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
}

/* If op's connection last bound with certificate der, its thumbprint and
 * validity period (1), else 0.  With hit given: *hit becomes 1 when the
 * re-bind cache holds that the entry held the certificate as of cache
 * generation cgen (the current one), at most certpin-session-recheck
 * seconds ago, and the identity is the one of that bind (with strong
 * mapping: *owner receives it, o_tmpmemctx); *uuid and *held_at then are
 * that entry's entryUUID and the time of the read. */
static int
cp_session_memo( cp_bind_info *bi, Operation *op, struct berval *der,
	char hex[65], cp_period *vp, unsigned long cgen, int *hit,
	struct berval *owner, cp_uuid *uuid, time_t *held_at )
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
		if ( hit != NULL && s->ss_held_gen != 0 && s->ss_held_gen == cgen &&
		     s->ss_dead == NULL && s->ss_conn == op->o_conn &&
		     ( bi->cb_recheck == 0 ||
		       op->o_time - s->ss_held_at < bi->cb_recheck ) &&
		     ( bi->cb_strong || bvmatch( &s->ss_ndn, &op->orb_edn ) ) ) {
			*hit = 1;
			*uuid = s->ss_uuid;
			*held_at = s->ss_held_at;
			if ( bi->cb_strong )
				ber_dupbv_x( owner, &s->ss_ndn, op->o_tmpmemctx );
		}
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

/* Does entry ndn hold the certificate of thumbprint hex (the certificate,
 * its thumbprint, no revocation record for it)?  der: its bytes when the
 * caller has them (compared, not hashed), or NULL.  Returns NULL when it
 * does, else why not (for the server log).  When vp is given and its period unknown, the
 * period comes from the entry's metadata record.  With want, the entry must
 * be that one (entryUUID); got, when given, receives its entryUUID. */
static const char *
cp_entry_holds( Operation *op, struct berval *ndn, const char *hex,
	struct berval *der, cp_period *vp, cp_uuid *want, cp_uuid *got )
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

	a = attr_find( e->e_attrs, slap_schema.si_ad_entryUUID );
	if ( got != NULL ) {
		got->uu_known = a != NULL && a->a_numvals > 0 &&
			a->a_nvals[0].bv_len == sizeof( got->uu_val );
		if ( got->uu_known )
			memcpy( got->uu_val, a->a_nvals[0].bv_val, sizeof( got->uu_val ) );
	}
	if ( want != NULL && want->uu_known && ( a == NULL || a->a_numvals == 0 ||
	     a->a_nvals[0].bv_len != sizeof( want->uu_val ) ||
	     memcmp( a->a_nvals[0].bv_val, want->uu_val, sizeof( want->uu_val ) ) != 0 ) ) {
		certpin_entry_release( op, db, e );
		return "another entry now has that name";
	}

	a = attr_find( e->e_attrs, ad_certpinThumbprint );
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( a->a_vals[i].bv_len == 64 &&
		     strncasecmp( a->a_vals[i].bv_val, hex, 64 ) == 0 ) {
			held = 1;
			break;
		}
	}
	/* A revocation record for it on the entry refuses it even where a
	 * thumbprint stays (data loaded with slapadd, or written past the
	 * overlay): held means all three agree. */
	a = attr_find( e->e_attrs, ad_certpinRevoked );
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		struct berval *v = &a->a_vals[i];

		if ( v->bv_len > 7 + 64 && strncmp( v->bv_val, "sha256=", 7 ) == 0 &&
		     strncasecmp( v->bv_val + 7, hex, 64 ) == 0 ) {
			why = "revoked";
			held = 0;
			break;
		}
	}
	if ( held ) {
		/* the certificate itself, not only its thumbprint: its bytes
		 * when the caller has them (a bind), else its hash */
		char h2[65];

		held = 0;
		a = attr_find( e->e_attrs, ad_certpinCertBinary );
		for ( i = 0; a && i < a->a_numvals && !held; i++ ) {
			if ( der != NULL ) {
				held = bvmatch( &a->a_vals[i], der );
				continue;
			}
			certpin_sha256_hex( (unsigned char *)a->a_vals[i].bv_val,
				a->a_vals[i].bv_len, h2 );
			held = strncasecmp( h2, hex, 64 ) == 0;
		}
	}
	if ( held ) {
		if ( vp != NULL && !vp->vp_known )
			cp_period_from_rec( e, hex, vp );
	} else if ( why == NULL ) {
		why = "not issued to this user";
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

/* ---- the re-bind cache -------------------------------------------------- */

/* May what database db answers about its entries be cached?  Only a local
 * store whose every write passes its certpin instance's gate: back-mdb with
 * an instance (not a view of other databases, not a proxy of another
 * server's, whose writes this server never sees). */
static int
cp_db_cacheable( BackendDB *db )
{
	BackendInfo *bi;

	if ( db == NULL || certpin_db_instance( db ) == NULL ||
	     certpin_db_is_view( db ) )
		return 0;
	bi = db->bd_self ? db->bd_self->bd_info : db->bd_info;
	if ( bi != NULL && overlay_is_over( db->bd_self ? db->bd_self : db ) )
		bi = ((slap_overinfo *)bi->bi_private)->oi_orig;
	return bi != NULL && bi->bi_type != NULL && strcmp( bi->bi_type, "mdb" ) == 0;
}

/* May the finding that entry ndn holds its certificate be cached?  With
 * strong mapping the finding is also that no other entry anywhere holds
 * it: every database that may hold entries must be cacheable. */
static int
cp_cacheable( cp_bind_info *bi, struct berval *ndn )
{
	BackendDB *be;

	if ( !bi->cb_strong )
		return cp_db_cacheable( select_backend( ndn, 0 ) );
	LDAP_STAILQ_FOREACH( be, &backendDB, be_next ) {
		if ( certpin_db_needs_instance( be ) && !cp_db_cacheable( be ) )
			return 0;
	}
	return 1;
}

static int
cp_cache_response( Operation *op, SlapReply *rs )
{
	if ( rs->sr_type == REP_RESULT || rs->sr_type == REP_EXTENDED )
		certpin_bind_cache_bump();
	return SLAP_CB_CONTINUE;
}

static int
cp_cache_cleanup( Operation *op, SlapReply *rs )
{
	slap_callback *sc = op->o_callback;

	certpin_bind_cache_bump();
	op->o_callback = NULL;	/* unlinks this callback */
	op->o_tmpfree( sc, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

/* A write (or extended operation) op begins: what re-binds found before
 * is not used again, and what they find while it runs is not kept (bumped
 * now, again when its result is sent, after the backend has committed,
 * and once more when it is done). */
void
certpin_bind_cache_write( Operation *op )
{
	slap_callback *sc;

	certpin_bind_cache_bump();
	sc = op->o_tmpcalloc( 1, sizeof( slap_callback ), op->o_tmpmemctx );
	sc->sc_response = cp_cache_response;
	sc->sc_cleanup = cp_cache_cleanup;
	sc->sc_next = op->o_callback;
	op->o_callback = sc;
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
	cp_uuid uuid = { 0 };
	unsigned long gen, cgen, held_gen = 0;
	time_t held_at = op->o_time;
	const char *why;
	char hex[65];
	int hit = 0;

	if ( ( rs->sr_type != REP_SASL && rs->sr_type != REP_RESULT ) ||
	     rs->sr_err != LDAP_SUCCESS )
		return SLAP_CB_CONTINUE;

	/* both taken before anything is read */
	gen = CP_GEN_LOAD();
	cgen = CP_CGEN_LOAD();
	if ( !cp_session_memo( bi, op, &bc->bc_der, hex, &period, cgen,
			bi->cb_cache ? &hit : NULL, &owner, &uuid, &held_at ) )
		certpin_sha256_hex( (unsigned char *)bc->bc_der.bv_val,
			bc->bc_der.bv_len, hex );
	if ( hit ) {
		/* the entry was read since the last write: it held it */
		certpin_count( CP_CTR_BIND_CACHE_HIT );
		held_gen = cgen;
		why = NULL;
		if ( bi->cb_strong )
			ndn = &owner;
	} else if ( bi->cb_strong ) {
		why = cp_strong_owner( op, hex, &owner );
		if ( why == NULL ) {
			ndn = &owner;
			why = cp_entry_holds( op, ndn, hex, &bc->bc_der, &period, NULL, &uuid );
		}
	} else {
		why = cp_entry_holds( op, ndn, hex, &bc->bc_der, &period, NULL, &uuid );
	}
	if ( !hit && bi->cb_cache ) {
		certpin_count( CP_CTR_BIND_CACHE_MISS );
		/* kept only if no write began or ended during the read */
		if ( why == NULL && cp_cacheable( bi, ndn ) && CP_CGEN_LOAD() == cgen )
			held_gen = cgen;
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
		cp_session_set( bi, op, ndn, hex, gen, &bc->bc_der, &period, &uuid,
			held_gen, held_at );
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

/* What Cyrus SASL makes of a mechanism name.  slapd passes it on as a C
 * string (sasl_server_start), so it ends at its first NUL byte; Cyrus then
 * drops one trailing "-PLUS" (any case) and compares the rest with each
 * plugin's name without regard to case (_sasl_is_equal_mech).  Only the
 * EXTERNAL plugin uses the TLS client certificate. */
enum {
	CP_MECH_OTHER = 0,	/* a mechanism that does not use the certificate */
	CP_MECH_EXTERNAL,	/* Cyrus runs it as EXTERNAL */
	CP_MECH_UNKNOWN		/* not a well-formed mechanism name */
};

static int
cp_mech_class( struct berval *mech )
{
	ber_len_t i, n = mech->bv_len;

	/* RFC 4422 names: letters, digits, "-" and "_" (Cyrus also takes
	 * lower case).  Anything else, a NUL byte above all, means the name
	 * slapd logs and checks is not the one Cyrus runs. */
	for ( i = 0; i < n; i++ ) {
		unsigned char c = mech->bv_val[i];

		if ( !( ( c >= 'A' && c <= 'Z' ) || ( c >= 'a' && c <= 'z' ) ||
		        ( c >= '0' && c <= '9' ) || c == '-' || c == '_' ) )
			return CP_MECH_UNKNOWN;
	}
	if ( n > STRLENOF( "-PLUS" ) && strncasecmp( mech->bv_val +
	     n - STRLENOF( "-PLUS" ), "-PLUS", STRLENOF( "-PLUS" ) ) == 0 )
		n -= STRLENOF( "-PLUS" );
	if ( n == STRLENOF( "EXTERNAL" ) &&
	     strncasecmp( mech->bv_val, "EXTERNAL", n ) == 0 )
		return CP_MECH_EXTERNAL;
	return CP_MECH_OTHER;
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
	int mech;

	/* Any bind ends what the connection was. */
	cp_session_forget( bi, op );

	if ( bi->cb_mode == CP_MODE_OFF || op->orb_method != LDAP_AUTH_SASL ||
	     op->o_conn == NULL || op->o_conn->c_sb == NULL )
		return SLAP_CB_CONTINUE;
	mech = cp_mech_class( &op->orb_mech );
	if ( mech == CP_MECH_OTHER )
		return SLAP_CB_CONTINUE;
	ssl = ldap_pvt_tls_sb_ctx( op->o_conn->c_sb );
	if ( ssl == NULL || ldap_pvt_tls_get_peercert( ssl, &der ) != 0 ||
	     der.bv_val == NULL )
		return SLAP_CB_CONTINUE;	/* no client certificate: not ours */
	if ( mech == CP_MECH_UNKNOWN ) {
		ber_memfree( der.bv_val );
		Debug( LDAP_DEBUG_STATS, "%s certpin: %s SASL bind: the "
			"mechanism name (%lu bytes) is not a well-formed name and "
			"a client certificate is present\n",
			op->o_log_prefix, bi->cb_mode == CP_MODE_AUDIT ?
			"audit: would refuse" : "refused",
			(unsigned long)op->orb_mech.bv_len );
		certpin_count_logon( op, bi->cb_mode == CP_MODE_AUDIT ?
			CP_EV_LOGON_AUDIT : CP_EV_LOGON_REFUSED,
			"the SASL mechanism name is not well-formed", NULL, "" );
		if ( bi->cb_mode == CP_MODE_AUDIT )
			return SLAP_CB_CONTINUE;
		return certpin_refuse( op, rs, LDAP_AUTH_METHOD_NOT_SUPPORTED,
			"SASL mechanism name not accepted" );
	}

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

/* ---- revocations ------------------------------------------------------- */

/* Is o, on a client connection's c_ops, a sync search that goes on after
 * its refresh (refreshAndPersist)?  During the refresh the sync control's
 * mode bits, which share o_sync's byte (see syncprov.c), say so; after it
 * syncprov runs on a copy of the operation (syncprov_detach_op) that it
 * puts on c_ops with no request BER and o_do_not_cache set. */
#define CP_SYNC_PERSIST	( LDAP_SYNC_RESERVED << SLAP_CONTROL_SHIFT )

enum { CP_PERSIST_NO = 0, CP_PERSIST_REFRESH, CP_PERSIST_DETACHED };

static int
cp_op_persists( Operation *o )
{
	if ( o->o_tag != LDAP_REQ_SEARCH )
		return CP_PERSIST_NO;
	if ( o->o_ber == NULL && o->o_do_not_cache )
		return CP_PERSIST_DETACHED;	/* its o_threadctx is a copy */
	if ( o->o_sync & CP_SYNC_PERSIST )
		return CP_PERSIST_REFRESH;
	return CP_PERSIST_NO;
}

/* Shut down connection c (c_mutex held) when it runs a persistent sync
 * search other than on this thread: such a search sends entries with the
 * identity it started with, so it must end with that identity.  Shutting
 * the socket down lets slapd's daemon close the connection the way it does
 * when a client goes away (every operation abandoned).  Returns 1 if so. */
static int
cp_conn_end_persist( Connection *c, void *self )
{
	Operation *o;

	LDAP_STAILQ_FOREACH( o, &c->c_ops, o_next ) {
		int p = cp_op_persists( o );

		if ( p == CP_PERSIST_DETACHED ||
		     ( p == CP_PERSIST_REFRESH && o->o_threadctx != self ) ) {
			slapd_shutsock( c->c_sd );
			return 1;
		}
	}
	return 0;
}

/* A certificate session the revoking write may concern. */
typedef struct cp_victim {
	int		vi_idx;		/* its connection slot */
	unsigned long	vi_connid;
	Connection	*vi_conn;
	struct berval	vi_ndn;		/* o_tmpmemctx */
	char		vi_hex[65];
	cp_uuid		vi_uuid;
	const char	*vi_why;	/* not NULL: its certificate is no longer on file */
	unsigned long	vi_snap;	/* its operations numbered below began before */
	int		vi_done;
	int		vi_shut;
	int		vi_gone;	/* lost its identity already (see below) */
} cp_victim;

/* May the write op change whether the entry ndn holds its certificates?
 * A modify of that entry, a delete or rename of it or of a superior;
 * anything else (a transaction commit, an unknown caller): yes. */
static int
cp_may_concern( Operation *op, struct berval *ndn )
{
	if ( BER_BVISEMPTY( &op->o_req_ndn ) )
		return 1;
	switch ( op->o_tag ) {
	case LDAP_REQ_MODIFY:
		return dn_match( ndn, &op->o_req_ndn );
	case LDAP_REQ_DELETE:
	case LDAP_REQ_MODRDN:
		return dnIsSuffix( ndn, &op->o_req_ndn );
	}
	return 1;
}

static long
cp_elapsed_ms( struct timespec *t0 )
{
	struct timespec t;

	clock_gettime( CLOCK_MONOTONIC, &t );
	return ( t.tv_sec - t0->tv_sec ) * 1000L +
		( t.tv_nsec - t0->tv_nsec ) / 1000000L;
}

/* Called after a write that may have revoked certificates has committed,
 * before its result goes back (see certpin.h).  Every certificate session
 * the write may concern is looked up again; those whose certificate is no
 * longer on file are marked, their persistent sync searches end (their
 * connection is shut down), and this waits until each of their operations
 * that had already begun has finished (never for this thread's own), at
 * most CP_DRAIN_MS: then their connection is shut down too, so that nothing
 * more reaches the client with the old identity.  Operations that begin
 * afterwards see the generation moved and run as anonymous. */
void
certpin_bind_revoked( Operation *op )
{
	cp_bind_info *bi = __atomic_load_n( &cp_front, __ATOMIC_ACQUIRE );
	cp_victim *v = NULL;
	void *self = ldap_pvt_thread_pool_context();
	struct timespec t0;
	int nv = 0, av = 0, i, j, left, abandoned = 0;
	time_t now;

	CP_GEN_BUMP();
	certpin_bind_cache_bump();
	if ( bi == NULL || op == NULL || bi->cb_mode != CP_MODE_ENFORCE )
		return;

	/* The sessions this write may concern: a copy, taken under the lock.
	 * Also those that lost their identity moments ago: one of their own
	 * operations may have seen this revocation's generation and dropped
	 * it before this looked, while others of theirs, begun before, still
	 * run as the user; they are waited for all the same. */
	now = slap_get_time();
	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	for ( i = 0; bi->cb_chunks && i < bi->cb_nchunks; i++ ) {
		cp_session *c = bi->cb_chunks[i];

		for ( j = 0; c && j < CP_CHUNK; j++ ) {
			cp_session *s = &c[j];
			int gone = !s->ss_used && s->ss_revoked &&
				!BER_BVISNULL( &s->ss_gone_ndn ) &&
				now - s->ss_gone_at <= CP_GONE_RECENT;

			if ( s->ss_conn == NULL ||
			     ( s->ss_used ? s->ss_dead != NULL ||
				!cp_may_concern( op, &s->ss_ndn ) :
				!gone || !cp_may_concern( op, &s->ss_gone_ndn ) ) )
				continue;
			if ( nv == av ) {
				av = av ? 2 * av : 8;
				v = op->o_tmprealloc( v, av * sizeof( cp_victim ),
					op->o_tmpmemctx );
			}
			memset( &v[nv], 0, sizeof( cp_victim ) );
			v[nv].vi_idx = i * CP_CHUNK + j;
			v[nv].vi_connid = s->ss_connid;
			v[nv].vi_conn = s->ss_conn;
			v[nv].vi_gone = !s->ss_used;
			ber_dupbv_x( &v[nv].vi_ndn, gone ? &s->ss_gone_ndn : &s->ss_ndn,
				op->o_tmpmemctx );
			memcpy( v[nv].vi_hex, s->ss_sha256, sizeof( v[nv].vi_hex ) );
			v[nv].vi_uuid = s->ss_uuid;
			nv++;
		}
	}
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
	if ( nv == 0 )
		return;

	/* Which of them are no longer on file (the write has committed). */
	left = 0;
	for ( i = 0; i < nv; i++ ) {
		cp_session *s;

		if ( v[i].vi_gone ) {
			left++;
			continue;
		}
		v[i].vi_why = cp_entry_holds( op, &v[i].vi_ndn, v[i].vi_hex, NULL, NULL,
			&v[i].vi_uuid, NULL );
		if ( v[i].vi_why == NULL ) {
			v[i].vi_done = 1;
			continue;
		}
		ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
		s = cp_slot( bi, v[i].vi_idx, 0 );
		if ( s != NULL && s->ss_used && s->ss_connid == v[i].vi_connid ) {
			s->ss_dead = v[i].vi_why;
			cp_session_gone( s );
		} else if ( s == NULL || s->ss_connid != v[i].vi_connid ||
			    !s->ss_revoked ) {
			v[i].vi_done = 1;	/* closed or re-bound meanwhile */
		}	/* else one of its operations found it revoked meanwhile:
			 * the others, begun before, are waited for below */
		ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
		if ( v[i].vi_done )
			continue;
		left++;
		Debug( LDAP_DEBUG_STATS, "%s certpin: revocation: the session "
			"conn=%lu of \"%s\" loses its identity: certificate %s: %s\n",
			op->o_log_prefix, v[i].vi_connid, v[i].vi_ndn.bv_val,
			v[i].vi_hex, v[i].vi_why );
	}

	/* Their operations under way now: those that began before.  (An
	 * operation enters c_ops, under c_mutex, before it runs.) */
	for ( i = 0; left && i < nv; i++ ) {
		Connection *c = v[i].vi_conn;
		Operation *o;

		if ( v[i].vi_done )
			continue;
		ldap_pvt_thread_mutex_lock( &c->c_mutex );
		if ( c->c_connid != v[i].vi_connid ) {
			v[i].vi_done = 1;
		} else {
			LDAP_STAILQ_FOREACH( o, &c->c_ops, o_next ) {
				if ( o->o_opid >= v[i].vi_snap )
					v[i].vi_snap = o->o_opid + 1;
			}
		}
		ldap_pvt_thread_mutex_unlock( &c->c_mutex );
	}

	/* Wait for them to finish, bounded. */
	clock_gettime( CLOCK_MONOTONIC, &t0 );
	while ( left ) {
		struct timespec nap = { 0, 1000000 };	/* 1 ms */
		int timeout;

		left = 0;
		for ( i = 0; i < nv; i++ ) {
			Connection *c = v[i].vi_conn;
			Operation *o;
			int busy = 0;

			if ( v[i].vi_done )
				continue;
			ldap_pvt_thread_mutex_lock( &c->c_mutex );
			if ( c->c_connid == v[i].vi_connid ) {
				if ( !v[i].vi_shut && cp_conn_end_persist( c, self ) ) {
					v[i].vi_shut = 1;
					Debug( LDAP_DEBUG_STATS, "%s certpin: revocation: "
						"conn=%lu ran a persistent sync search as "
						"\"%s\": connection shut down\n",
						op->o_log_prefix, v[i].vi_connid,
						v[i].vi_ndn.bv_val );
				}
				LDAP_STAILQ_FOREACH( o, &c->c_ops, o_next ) {
					/* never this thread's own (the caller, or
					 * one not yet begun: it will check), nor
					 * one without an identity: queued after the
					 * connection became anonymous, or one that
					 * dropped it (cp_session_revoked, under
					 * c_mutex) */
					if ( cp_op_persists( o ) || o->o_threadctx == self ||
					     BER_BVISEMPTY( &o->o_ndn ) )
						continue;
					if ( o->o_opid < v[i].vi_snap )
						busy++;
				}
			}
			ldap_pvt_thread_mutex_unlock( &c->c_mutex );
			if ( busy )
				left++;
			else
				v[i].vi_done = 1;
		}
		if ( left == 0 )
			break;
		timeout = cp_elapsed_ms( &t0 ) >= ( abandoned ? 3 : 1 ) * CP_DRAIN_MS;
		if ( timeout && abandoned )
			break;	/* they were told to stop long ago */
		if ( timeout ) {
			/* Fail closed: the connection is shut down and what it still
			 * runs is abandoned (backends stop at their next check, a
			 * write before it starts); then wait for that, bounded. */
			abandoned = 1;
			for ( i = 0; i < nv; i++ ) {
				Connection *c = v[i].vi_conn;
				Operation *o;

				if ( v[i].vi_done )
					continue;
				ldap_pvt_thread_mutex_lock( &c->c_mutex );
				if ( c->c_connid == v[i].vi_connid ) {
					LDAP_STAILQ_FOREACH( o, &c->c_ops, o_next ) {
						if ( o->o_threadctx != self &&
						     o->o_opid < v[i].vi_snap )
							o->o_abandon = 1;
					}
					if ( !v[i].vi_shut )
						slapd_shutsock( c->c_sd );
				}
				ldap_pvt_thread_mutex_unlock( &c->c_mutex );
				Debug( LDAP_DEBUG_ANY, "%s certpin: revocation: "
					"conn=%lu of \"%s\" still busy after %d ms: "
					"connection shut down, its operations abandoned\n",
					op->o_log_prefix, v[i].vi_connid, v[i].vi_ndn.bv_val,
					CP_DRAIN_MS );
			}
		}
		nanosleep( &nap, NULL );
	}

	for ( i = 0; i < nv; i++ )
		op->o_tmpfree( v[i].vi_ndn.bv_val, op->o_tmpmemctx );
	op->o_tmpfree( v, op->o_tmpmemctx );
}

int
certpin_bind_session_cert( Operation *op, char hex[65] )
{
	cp_bind_info *bi = __atomic_load_n( &cp_front, __ATOMIC_ACQUIRE );
	cp_session *s;
	int rc = 0;

	if ( bi == NULL || op->o_conn == NULL ||
	     ( s = cp_slot( bi, op->o_conn->c_conn_idx, 0 ) ) == NULL )
		return 0;
	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	if ( s->ss_connid == op->o_connid && ( s->ss_used || s->ss_revoked ) ) {
		memcpy( hex, s->ss_sha256, 65 );
		rc = 1;
	}
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
	return rc;
}

/* ---- every other operation --------------------------------------------- */

static int
cp_revgen_response( Operation *op, SlapReply *rs )
{
	if ( ( rs->sr_type == REP_RESULT || rs->sr_type == REP_EXTENDED ) &&
	     rs->sr_err == LDAP_SUCCESS )
		certpin_bind_revoked( op );
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

/* May this write revoke a certificate (delete or rename an entry, or remove
 * certpinCertificate values or the certpinUser class), and does no
 * database instance report it?  Renames always may (a superior's); other
 * writes only for a database without a certpin database instance (its
 * write gate calls certpin_bind_revoked itself). */
static int
cp_may_revoke( Operation *op )
{
	Modifications *m;
	BackendDB *db;

	if ( op->o_tag != LDAP_REQ_DELETE && op->o_tag != LDAP_REQ_MODRDN &&
	     op->o_tag != LDAP_REQ_MODIFY )
		return 0;
	db = select_backend( &op->o_req_ndn, 0 );
	if ( db != NULL && ( SLAP_CONFIG( db ) || SLAP_MONITOR( db ) ) )
		return 0;
	/* A rename of a superior renames the users below it: the gate reports
	 * renames of entries holding certificates only. */
	if ( op->o_tag == LDAP_REQ_MODRDN )
		return 1;
	if ( db != NULL && overlay_is_inst( db, "certpin" ) )
		return 0;
	if ( op->o_tag != LDAP_REQ_MODIFY )
		return 1;
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		if ( m->sml_op != LDAP_MOD_ADD &&
		     ( m->sml_desc->ad_type == ad_certpinCertificate->ad_type ||
		       m->sml_desc == slap_schema.si_ad_objectClass ) )
			return 1;
	}
	return 0;
}

enum { CP_TXN_NONE = 0, CP_TXN_START, CP_TXN_END };

static int
cp_txn_kind( Operation *op )
{
	static const struct berval start = BER_BVC( LDAP_EXOP_TXN_START ),
		end = BER_BVC( LDAP_EXOP_TXN_END );

	if ( op->o_tag != LDAP_REQ_EXTENDED )
		return CP_TXN_NONE;
	if ( bvmatch( &op->ore_reqoid, &start ) )
		return CP_TXN_START;
	if ( bvmatch( &op->ore_reqoid, &end ) )
		return CP_TXN_END;
	return CP_TXN_NONE;
}

/* A session whose certificate was revoked: the connection, and this
 * operation, continue as anonymous; a persistent sync search it runs ends
 * with the connection. */
static void
cp_session_revoked( Operation *op, struct berval *ndn )
{
	Connection *c = op->o_conn;

	ldap_pvt_thread_mutex_lock( &c->c_mutex );
	if ( dn_match( &c->c_ndn, ndn ) )
		connection2anonymous( c );
	if ( cp_conn_end_persist( c, ldap_pvt_thread_pool_context() ) )
		Debug( LDAP_DEBUG_STATS, "%s certpin: the session's persistent "
			"sync search ends: connection shut down\n", op->o_log_prefix );
	/* under c_mutex: a revocation's wait reads it (an operation without
	 * an identity is not waited for) */
	if ( !BER_BVISNULL( &op->o_dn ) ) {
		op->o_dn.bv_val[0] = '\0';
		op->o_dn.bv_len = 0;
	}
	if ( !BER_BVISNULL( &op->o_ndn ) ) {
		op->o_ndn.bv_val[0] = '\0';
		op->o_ndn.bv_len = 0;
	}
	ldap_pvt_thread_mutex_unlock( &c->c_mutex );
}

/* Check the session of op's connection, if it bound with a certificate. */
static void
cp_session_check( cp_bind_info *bi, Operation *op )
{
	cp_session *s;
	struct berval ndn;
	cp_uuid uuid;
	char hex[65];
	unsigned long gen;
	const char *why;

	/* An operation received before its connection lost a certificate
	 * identity, still carrying an identity: that one, or one it acts for
	 * by proxied authorization (RFC 4370), which the lost identity
	 * authorized; either way not compared with the lost DN.  (Operations
	 * received after the next bind carry that bind's.) */
	if ( op->o_conn != NULL && !BER_BVISEMPTY( &op->o_ndn ) &&
	     ( s = cp_slot( bi, op->o_conn->c_conn_idx, 0 ) ) != NULL &&
	     s->ss_connid == op->o_connid && !BER_BVISNULL( &s->ss_gone_ndn ) &&
	     !s->ss_used ) {
		int gone = 0;

		ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
		if ( s->ss_connid == op->o_connid && !s->ss_used &&
		     op->o_opid < s->ss_gone_until ) {
			ber_dupbv_x( &ndn, &s->ss_gone_ndn, op->o_tmpmemctx );
			gone = 1;
		}
		ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
		if ( gone ) {
			if ( bi->cb_mode == CP_MODE_ENFORCE ) {
				int other = !dn_match( &op->o_ndn, &ndn );

				Debug( LDAP_DEBUG_STATS, "%s certpin: operation received "
					"before the session of \"%s\" lost its identity runs "
					"as anonymous%s%s%s\n", op->o_log_prefix, ndn.bv_val,
					other ? " (it acted for \"" : "",
					other ? op->o_ndn.bv_val : "", other ? "\")" : "" );
				cp_session_revoked( op, &ndn );
			}
			op->o_tmpfree( ndn.bv_val, op->o_tmpmemctx );
		}
		return;
	}

	s = cp_session_of( bi, op );
	if ( s == NULL )
		return;
	gen = CP_GEN_LOAD();
	if ( gen == s->ss_gen && ( bi->cb_recheck == 0 ||
	     op->o_time - s->ss_checked < bi->cb_recheck ) )
		return;

	/* Something may have been revoked since this connection was last
	 * checked (here, or elsewhere and replicated: hence the periodic
	 * check): is its certificate still on file, on the same entry? */
	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	if ( !s->ss_used || s->ss_connid != op->o_connid ) {
		ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
		return;
	}
	ber_dupbv_x( &ndn, &s->ss_ndn, op->o_tmpmemctx );
	memcpy( hex, s->ss_sha256, sizeof( hex ) );
	uuid = s->ss_uuid;
	why = s->ss_dead;
	ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );

	if ( why == NULL )
		why = cp_entry_holds( op, &ndn, hex, NULL, NULL, &uuid, NULL );

	ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
	if ( s->ss_used && s->ss_connid == op->o_connid ) {
		if ( why == NULL ) {
			s->ss_gen = gen;
			s->ss_checked = op->o_time;
		} else {
			s->ss_used = 0;
			if ( bi->cb_mode == CP_MODE_ENFORCE )
				cp_session_gone( s );
		}
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
}

/* ---- what a read of a session sends ------------------------------------
 *
 * A backstop behind the drain above: a search, compare or Who am I of a
 * certificate session, begun with its identity, sends nothing more as that
 * identity once the session has been found revoked (by a revoking write,
 * or by one of its own operations): its remaining entries are not sent and
 * its result becomes insufficientAccess.  The fast path, while no
 * revocation happened anywhere since the operation began, is one atomic
 * load per response. */
typedef struct cp_read_guard {
	slap_callback	rg_cb;
	int		rg_idx;		/* the session's slot */
	unsigned long	rg_connid;
	unsigned long	rg_gen;		/* revocation generation at the start */
	int		rg_cut;		/* the session lost its identity */
} cp_read_guard;

static int
cp_guard_response( Operation *op, SlapReply *rs )
{
	cp_read_guard *rg = op->o_callback->sc_private;

	if ( !rg->rg_cut ) {
		cp_bind_info *bi;
		cp_session *s;

		if ( CP_GEN_LOAD() == rg->rg_gen )
			return SLAP_CB_CONTINUE;
		/* a revocation happened somewhere: this session's? (a revoker
		 * moves the generation before it marks the session: no finding
		 * is kept until the operation ends) */
		bi = __atomic_load_n( &cp_front, __ATOMIC_ACQUIRE );
		if ( bi == NULL || bi->cb_mode != CP_MODE_ENFORCE ||
		     ( s = cp_slot( bi, rg->rg_idx, 0 ) ) == NULL )
			return SLAP_CB_CONTINUE;
		ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
		rg->rg_cut = s->ss_connid == rg->rg_connid &&
			( s->ss_dead != NULL || s->ss_revoked );
		ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
		if ( !rg->rg_cut )
			return SLAP_CB_CONTINUE;
		Debug( LDAP_DEBUG_STATS, "%s certpin: the session lost its "
			"certificate identity while this operation ran: nothing more "
			"of it is sent\n", op->o_log_prefix );
	}
	switch ( rs->sr_type ) {
	case REP_SEARCH:
	case REP_SEARCHREF:
	case REP_INTERMEDIATE:
		return LDAP_SUCCESS;	/* not sent; the backend goes on */
	case REP_EXTENDED:
		if ( rs->sr_rspdata != NULL ) {
			ber_bvfree( rs->sr_rspdata );
			rs->sr_rspdata = NULL;
		}
		/* FALLTHRU */
	case REP_RESULT:
		rs->sr_err = LDAP_INSUFFICIENT_ACCESS;
		rs->sr_text = "certificate no longer on file";
		/* dropped the way slapd frees them after sending */
		if ( rs->sr_flags & REP_MATCHED_MUSTBEFREED ) {
			rs->sr_flags ^= REP_MATCHED_MUSTBEFREED;
			free( (char *)rs->sr_matched );
		}
		rs->sr_matched = NULL;
		if ( rs->sr_flags & REP_REF_MUSTBEFREED ) {
			rs->sr_flags ^= REP_REF_MUSTBEFREED;
			ber_bvarray_free( rs->sr_ref );
		}
		rs->sr_ref = NULL;
		break;
	default:
		break;
	}
	return SLAP_CB_CONTINUE;
}

static int
cp_guard_cleanup( Operation *op, SlapReply *rs )
{
	slap_callback *sc = op->o_callback;

	/* slapd plays the cleanups after every entry too: only the result
	 * ends the operation */
	if ( rs->sr_type == REP_SEARCH || rs->sr_type == REP_SEARCHREF ||
	     rs->sr_type == REP_INTERMEDIATE )
		return SLAP_CB_CONTINUE;
	op->o_callback = NULL;	/* unlinks this callback */
	op->o_tmpfree( sc->sc_private, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

/* A read of a certificate session that may send something as its identity
 * (gen: the revocation generation taken before its check): guarded. */
static void
cp_guard_read( cp_bind_info *bi, Operation *op, unsigned long gen )
{
	cp_read_guard *rg;

	switch ( op->o_tag ) {
	case LDAP_REQ_SEARCH:
	case LDAP_REQ_COMPARE:
		break;
	case LDAP_REQ_EXTENDED:
		if ( bvmatch( &op->ore_reqoid, &slap_EXOP_WHOAMI ) )
			break;
		/* FALLTHRU */
	default:
		return;
	}
	if ( bi->cb_mode != CP_MODE_ENFORCE || BER_BVISEMPTY( &op->o_ndn ) ||
	     cp_session_of( bi, op ) == NULL )
		return;
	rg = op->o_tmpcalloc( 1, sizeof( cp_read_guard ), op->o_tmpmemctx );
	rg->rg_idx = op->o_conn->c_conn_idx;
	rg->rg_connid = op->o_connid;
	rg->rg_gen = gen;
	rg->rg_cb.sc_response = cp_guard_response;
	rg->rg_cb.sc_cleanup = cp_guard_cleanup;
	rg->rg_cb.sc_private = rg;
	rg->rg_cb.sc_next = op->o_callback;
	op->o_callback = &rg->rg_cb;
}

int
certpin_bind_op_any( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;
	cp_bind_info *bi = ci->ci_bind;
	cp_session *s;
	unsigned long gen;
	int txn, lost = 0;

	/* Sessions live on the frontend instance only. */
	if ( bi == NULL || bi != __atomic_load_n( &cp_front, __ATOMIC_ACQUIRE ) )
		return SLAP_CB_CONTINUE;

	gen = CP_GEN_LOAD();	/* before the check: what the guard compares */
	cp_session_check( bi, op );
	cp_guard_read( bi, op, gen );

	/* Every client write, and every extended operation but Who am I (any
	 * may write), moves the re-bind cache's generation. */
	switch ( op->o_tag ) {
	case LDAP_REQ_EXTENDED:
		if ( bvmatch( &op->ore_reqoid, &slap_EXOP_WHOAMI ) )
			break;
		/* FALLTHRU */
	case LDAP_REQ_ADD:
	case LDAP_REQ_MODIFY:
	case LDAP_REQ_MODRDN:
	case LDAP_REQ_DELETE:
		certpin_bind_cache_write( op );
		break;
	}

	/* A transaction's queued operations carry the identity they were
	 * queued with: once the connection lost its certificate identity, none
	 * of them is committed. */
	txn = cp_txn_kind( op );
	if ( txn != CP_TXN_NONE && op->o_conn != NULL &&
	     ( s = cp_slot( bi, op->o_conn->c_conn_idx, 0 ) ) != NULL ) {
		ldap_pvt_thread_mutex_lock( &bi->cb_mutex );
		if ( s->ss_connid == op->o_connid ) {
			if ( txn == CP_TXN_START )
				s->ss_lost = 0;
			else
				lost = s->ss_lost;
		}
		ldap_pvt_thread_mutex_unlock( &bi->cb_mutex );
	}
	if ( lost && bi->cb_mode == CP_MODE_ENFORCE ) {
		Debug( LDAP_DEBUG_STATS, "%s certpin: transaction end refused: the "
			"connection lost its certificate identity after the "
			"transaction began\n", op->o_log_prefix );
		return certpin_refuse( op, rs, LDAP_INSUFFICIENT_ACCESS,
			"certificate no longer on file: transaction not committed" );
	}

	/* After the write commits, sessions it revoked end at once.  (The
	 * database instance's write gate reports the writes it sees, and
	 * write.c the end of a transaction; this is for a database that has
	 * no instance.) */
	if ( cp_may_revoke( op ) ) {
		slap_callback *sc = op->o_tmpcalloc( 1, sizeof( slap_callback ),
			op->o_tmpmemctx );

		sc->sc_response = cp_revgen_response;
		sc->sc_cleanup = cp_revgen_cleanup;
		sc->sc_next = op->o_callback;
		op->o_callback = sc;
	}
	return SLAP_CB_CONTINUE;
}
