/* monitor.c - certpin's live counters, shown in cn=monitor
 *
 * Every event the overlay decides (a logon accepted or refused and why, a
 * session ended by a revocation, a certificate issued and by which proof,
 * an issuance refused and why, a wrong PIN, a lockout, a certificate
 * revoked) adds one to a process-wide counter: one relaxed atomic add on a
 * counter of its own cache line, no lock, whether or not a monitor database
 * is configured.  With "database monitor" (back-monitor) the counters are
 * entries cn=<name>,cn=certpin,cn=Overlays,cn=Monitor (objectClass
 * monitorCounterObject, value in monitorCounter), read when searched, under
 * the monitor database's access controls.
 *
 * The same calls write the stable, machine-readable log line of each
 * refusal ("certpin: event=logon-refused reason=revoked dn=... cert=...").
 * See slapo-certpin(5), MONITORING.
 */

#include "certpin.h"

#include <ac/string.h>

#include "back-monitor/back-monitor.h"

/* ---- the counters ------------------------------------------------------ */

/* One counter per cache line: increments on different counters from
 * different threads never contend. */
typedef struct cp_ctr_cell {
	unsigned long	cc_n;
	char		cc_pad[64 - sizeof( unsigned long )];
} cp_ctr_cell;

static cp_ctr_cell cp_ctrs[CP_CTR_N] __attribute__(( aligned( 64 ) ));

#define CP_CTR_ADD( i, k ) \
	__atomic_fetch_add( &cp_ctrs[i].cc_n, (k), __ATOMIC_RELAXED )
#define CP_CTR_GET( i ) \
	__atomic_load_n( &cp_ctrs[i].cc_n, __ATOMIC_RELAXED )

void
certpin_count( int ctr )
{
	if ( ctr >= 0 && ctr < CP_CTR_N )
		CP_CTR_ADD( ctr, 1 );
}

unsigned long
certpin_counter( int ctr )
{
	return ( ctr >= 0 && ctr < CP_CTR_N ) ? CP_CTR_GET( ctr ) : 0;
}

/* ---- reasons ------------------------------------------------------------ */

/* The reason= tokens, also the last part of the counters' names. */
static const char *const cp_why_tok[CP_WHY_N] = {
	"no-such-entry",
	"not-issued",
	"revoked",
	"expired",
	"not-yet-valid",
	"strong-mapping-none",
	"strong-mapping-ambiguous",
	"unclassifiable-mechanism",
	"unreadable-certificate",
	"internal-error",
	"other"
};

static const char *const cp_iwhy_tok[CP_IWHY_N] = {
	"bad-request",
	"tls-required",
	"bad-credentials",
	"locked",
	"not-authorized",
	"no-such-user",
	"not-eligible",
	"no-ca",
	"replica",
	"record-refused",
	"other"
};

/* bind.c's diagnostics (the why of a refusal), by prefix. */
static const struct {
	const char	*wm_prefix;
	int		wm_why;
} cp_why_map[] = {
	{ "no such entry",			CP_WHY_NO_SUCH_ENTRY },
	{ "no identity mapped",			CP_WHY_NO_SUCH_ENTRY },
	{ "no database holds",			CP_WHY_NO_SUCH_ENTRY },
	{ "not issued to this user",		CP_WHY_NOT_ISSUED },
	{ "revoked",				CP_WHY_REVOKED },
	{ "expired",				CP_WHY_EXPIRED },
	{ "not yet valid",			CP_WHY_NOT_YET_VALID },
	{ "no entry holds it",			CP_WHY_STRONG_NONE },
	{ "more than one entry holds it",	CP_WHY_STRONG_AMBIGUOUS },
	{ "unreadable certificate",		CP_WHY_UNREADABLE },
	{ "internal search failed",		CP_WHY_ERROR },
	{ NULL, 0 }
};

int
certpin_why_reason( const char *why )
{
	int i;

	if ( why == NULL )
		return CP_WHY_OTHER;
	for ( i = 0; cp_why_map[i].wm_prefix; i++ ) {
		if ( strncmp( why, cp_why_map[i].wm_prefix,
				strlen( cp_why_map[i].wm_prefix ) ) == 0 )
			return cp_why_map[i].wm_why;
	}
	if ( strstr( why, "mechanism" ) != NULL )
		return CP_WHY_MECHANISM;
	return CP_WHY_OTHER;
}

/* provision.c's refusals: the result code, refined by the diagnostic where
 * one code covers several reasons.  First match wins. */
static const struct {
	int		im_err;
	int		im_why;
	const char	*im_text;	/* a substring of the diagnostic, or NULL */
} cp_iwhy_map[] = {
	{ LDAP_PROTOCOL_ERROR, CP_IWHY_BAD_REQUEST, NULL },
	{ LDAP_INVALID_DN_SYNTAX, CP_IWHY_BAD_REQUEST, NULL },
	{ LDAP_CONFIDENTIALITY_REQUIRED, CP_IWHY_TLS_REQUIRED, NULL },
	{ LDAP_INVALID_CREDENTIALS, CP_IWHY_BAD_CREDENTIALS, NULL },
	{ LDAP_CONSTRAINT_VIOLATION, CP_IWHY_LOCKED, "PIN locked" },
	{ LDAP_CONSTRAINT_VIOLATION, CP_IWHY_RECORD, NULL },
	{ LDAP_INSUFFICIENT_ACCESS, CP_IWHY_NOT_AUTHORIZED, NULL },
	{ LDAP_NO_SUCH_OBJECT, CP_IWHY_NO_SUCH_USER, NULL },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_NO_CA, "no CA configured" },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_REPLICA, "read-only replica" },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_NOT_ELIGIBLE, "not a certpinUser" },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_NOT_ELIGIBLE, "has no usable" },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_BAD_REQUEST, "the CSR" },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_BAD_REQUEST, "in the CSR" },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_BAD_REQUEST, "validity" },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_BAD_REQUEST, "endpoint" },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_BAD_REQUEST, "go together" },
	{ LDAP_UNWILLING_TO_PERFORM, CP_IWHY_BAD_REQUEST, "exclude each other" },
	{ -1, 0, NULL }
};

int
certpin_issue_reason( int err, const char *text )
{
	int i;

	for ( i = 0; cp_iwhy_map[i].im_err >= 0; i++ ) {
		if ( cp_iwhy_map[i].im_err != err )
			continue;
		if ( cp_iwhy_map[i].im_text == NULL ||
		     ( text && strstr( text, cp_iwhy_map[i].im_text ) ) )
			return cp_iwhy_map[i].im_why;
	}
	return CP_IWHY_OTHER;
}

/* ---- events: count, and log the machine-readable line ------------------ */

static const char *const cp_ev_name[] = {
	"logon-refused",	/* CP_EV_LOGON_REFUSED */
	"logon-audit",		/* CP_EV_LOGON_AUDIT */
	"session-ended",	/* CP_EV_SESSION_ENDED */
	"session-audit"		/* CP_EV_SESSION_AUDIT */
};

/* A DN for a log line, between double quotes: slapd's normalized DNs keep
 * control characters (a certificate subject with a newline would start a
 * forged line), so each byte below 0x20, 0x7f, '"' and the backslash is written as
 * \XX (RFC 4514's hex escape).  "" when there is none.  The result is in
 * op->o_tmpmemctx (free with cp_dn_free) unless it is the empty string. */
static char cp_dn_empty[] = "";

static char *
cp_dn( Operation *op, struct berval *bv )
{
	static const char hexd[] = "0123456789ABCDEF";
	ber_len_t i;
	char *out, *p;

	if ( bv == NULL || BER_BVISNULL( bv ) || bv->bv_len == 0 )
		return cp_dn_empty;
	p = out = op->o_tmpalloc( 3 * bv->bv_len + 1, op->o_tmpmemctx );
	for ( i = 0; i < bv->bv_len; i++ ) {
		unsigned char c = bv->bv_val[i];

		if ( c < 0x20 || c == 0x7f || c == '"' || c == '\\' ) {
			*p++ = '\\';
			*p++ = hexd[c >> 4];
			*p++ = hexd[c & 0xf];
		} else {
			*p++ = c;
		}
	}
	*p = '\0';
	return out;
}

static void
cp_dn_free( Operation *op, char *dn )
{
	if ( dn != cp_dn_empty )
		op->o_tmpfree( dn, op->o_tmpmemctx );
}

void
certpin_count_logon( Operation *op, int ev, const char *why,
	struct berval *ndn, const char *hex )
{
	int r = certpin_why_reason( why );

	switch ( ev ) {
	case CP_EV_LOGON_REFUSED:
		CP_CTR_ADD( CP_CTR_LOGON_REFUSED + r, 1 );
		break;
	case CP_EV_LOGON_AUDIT:
		CP_CTR_ADD( CP_CTR_LOGON_AUDIT + r, 1 );
		break;
	case CP_EV_SESSION_ENDED:
		CP_CTR_ADD( CP_CTR_SESSION_ENDED, 1 );
		break;
	case CP_EV_SESSION_AUDIT:
		CP_CTR_ADD( CP_CTR_SESSION_AUDIT, 1 );
		break;
	default:
		return;
	}
	if ( LogTest( LDAP_DEBUG_STATS ) ) {
		char *dn = cp_dn( op, ndn );

		Debug( LDAP_DEBUG_STATS, "%s certpin: event=%s reason=%s dn=\"%s\" "
			"cert=%s\n", op->o_log_prefix, cp_ev_name[ev], cp_why_tok[r],
			dn, hex && *hex ? hex : "-" );
		cp_dn_free( op, dn );
	}
}

void
certpin_count_issued( const char *path )
{
	if ( path && strcmp( path, "phone+PIN" ) == 0 )
		CP_CTR_ADD( CP_CTR_ISSUED_PIN, 1 );
	else if ( path && strcmp( path, "administrator" ) == 0 )
		CP_CTR_ADD( CP_CTR_ISSUED_ADMIN, 1 );
	else
		CP_CTR_ADD( CP_CTR_ISSUED_SELF, 1 );
}

void
certpin_count_records( int commits, int grouped )
{
	CP_CTR_ADD( CP_CTR_RECORD_COMMITS, commits );
	if ( grouped )
		CP_CTR_ADD( CP_CTR_RECORD_GROUPED, grouped );
}

void
certpin_count_issue_refused( Operation *op, int err, const char *text )
{
	int r = certpin_issue_reason( err, text );

	CP_CTR_ADD( CP_CTR_ISSUE_REFUSED + r, 1 );
	if ( LogTest( LDAP_DEBUG_STATS ) ) {
		char *dn = cp_dn( op, &op->o_ndn );

		Debug( LDAP_DEBUG_STATS, "%s certpin: event=issue-refused reason=%s "
			"code=%d by=\"%s\"\n", op->o_log_prefix, cp_iwhy_tok[r], err, dn );
		cp_dn_free( op, dn );
	}
}

void
certpin_count_pin_wrong( Operation *op, struct berval *ndn, int failures,
	int max )
{
	char *dn = LogTest( LDAP_DEBUG_STATS ) ? cp_dn( op, ndn ) : cp_dn_empty;

	CP_CTR_ADD( CP_CTR_PIN_WRONG, 1 );
	Debug( LDAP_DEBUG_STATS, "%s certpin: event=pin-wrong dn=\"%s\" "
		"failures=%d max=%d\n", op->o_log_prefix, dn, failures, max );
	if ( failures >= max ) {
		CP_CTR_ADD( CP_CTR_PIN_LOCKOUT, 1 );
		Debug( LDAP_DEBUG_STATS, "%s certpin: event=pin-lockout dn=\"%s\" "
			"failures=%d\n", op->o_log_prefix, dn, failures );
	}
	cp_dn_free( op, dn );
}

/* ---- counts that hold only if the operation succeeds ------------------- */

/* Kept on the operation as a response callback: added to the counters when
 * its result is success (the write was done), dropped otherwise. */
typedef struct cp_pending {
	slap_callback	pd_cb;
	unsigned int	pd_n[CP_CTR_N];
} cp_pending;

static int
cp_pending_response( Operation *op, SlapReply *rs )
{
	cp_pending *pd = op->o_callback->sc_private;
	int i;

	if ( rs->sr_type != REP_RESULT )
		return SLAP_CB_CONTINUE;
	for ( i = 0; i < CP_CTR_N; i++ ) {
		if ( pd->pd_n[i] && rs->sr_err == LDAP_SUCCESS )
			CP_CTR_ADD( i, pd->pd_n[i] );
		pd->pd_n[i] = 0;
	}
	return SLAP_CB_CONTINUE;
}

static int
cp_pending_cleanup( Operation *op, SlapReply *rs )
{
	cp_pending *pd = op->o_callback->sc_private;

	op->o_callback = NULL;	/* unlinks this callback */
	op->o_tmpfree( pd, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

void
certpin_count_on_success( Operation *op, int ctr )
{
	slap_callback *sc;
	cp_pending *pd = NULL;

	if ( ctr < 0 || ctr >= CP_CTR_N )
		return;
	for ( sc = op->o_callback; sc; sc = sc->sc_next ) {
		if ( sc->sc_response == cp_pending_response ) {
			pd = sc->sc_private;
			break;
		}
	}
	if ( pd == NULL ) {
		pd = op->o_tmpcalloc( 1, sizeof( cp_pending ), op->o_tmpmemctx );
		pd->pd_cb.sc_response = cp_pending_response;
		pd->pd_cb.sc_cleanup = cp_pending_cleanup;
		pd->pd_cb.sc_private = pd;
		pd->pd_cb.sc_next = op->o_callback;
		op->o_callback = &pd->pd_cb;
	}
	pd->pd_n[ctr]++;
}

/* ---- cn=monitor --------------------------------------------------------- */

#define CP_MON_RDN	"cn=certpin"
#define CP_MON_PARENT	SLAPD_MONITOR_OVERLAY_DN	/* cn=Overlays,cn=Monitor */

/* One monitor entry: the sum of counters first .. first+n-1. */
typedef struct cp_mon_ent {
	int		me_first;
	int		me_n;
	char		me_name[48];
	const char	*me_desc;
} cp_mon_ent;

/* Every counter, and the totals of the families, in the order shown. */
static cp_mon_ent cp_mon_ents[CP_CTR_N + 4];
static int cp_mon_nents;
static int cp_mon_registered;
static AttributeDescription *cp_ad_monitorCounter;

static void
cp_mon_ent_add( int first, int n, const char *name, const char *tok,
	const char *desc )
{
	cp_mon_ent *me = &cp_mon_ents[cp_mon_nents++];

	me->me_first = first;
	me->me_n = n;
	snprintf( me->me_name, sizeof( me->me_name ), "%s%s%s", name,
		tok ? "-" : "", tok ? tok : "" );
	me->me_desc = desc;
}

static void
cp_mon_ents_build( void )
{
	int i;

	if ( cp_mon_nents )
		return;
	cp_mon_ent_add( CP_CTR_LOGON_ACCEPTED, 1, "logon-accepted", NULL,
		"certificate logons accepted (the certificate was on file and valid)" );
	cp_mon_ent_add( CP_CTR_LOGON_REFUSED, CP_WHY_N, "logon-refused", NULL,
		"certificate logons refused, all reasons" );
	for ( i = 0; i < CP_WHY_N; i++ )
		cp_mon_ent_add( CP_CTR_LOGON_REFUSED + i, 1, "logon-refused",
			cp_why_tok[i], "certificate logons refused for this reason" );
	cp_mon_ent_add( CP_CTR_LOGON_AUDIT, CP_WHY_N, "logon-audit", NULL,
		"logons certpin-mode audit let through that enforce would refuse, all reasons" );
	for ( i = 0; i < CP_WHY_N; i++ )
		cp_mon_ent_add( CP_CTR_LOGON_AUDIT + i, 1, "logon-audit",
			cp_why_tok[i], "logons audit mode let through that enforce "
			"would refuse for this reason" );
	cp_mon_ent_add( CP_CTR_SESSION_ENDED, 1, "session-ended", NULL,
		"certificate sessions that continued as anonymous after a revocation" );
	cp_mon_ent_add( CP_CTR_SESSION_AUDIT, 1, "session-audit", NULL,
		"certificate sessions audit mode let continue after a revocation" );
	cp_mon_ent_add( CP_CTR_ISSUED_PIN, 3, "issued", NULL,
		"certificates issued (certpinIssue), all proofs" );
	cp_mon_ent_add( CP_CTR_ISSUED_PIN, 1, "issued-pin", NULL,
		"certificates issued to a device that proved phone number and PIN" );
	cp_mon_ent_add( CP_CTR_ISSUED_SELF, 1, "issued-self", NULL,
		"certificates issued to users bound as themselves (password)" );
	cp_mon_ent_add( CP_CTR_ISSUED_ADMIN, 1, "issued-admin", NULL,
		"certificates issued by an administrator for a user" );
	cp_mon_ent_add( CP_CTR_ISSUE_REFUSED, CP_IWHY_N, "issue-refused", NULL,
		"certpinIssue requests refused, all reasons" );
	for ( i = 0; i < CP_IWHY_N; i++ )
		cp_mon_ent_add( CP_CTR_ISSUE_REFUSED + i, 1, "issue-refused",
			cp_iwhy_tok[i], "certpinIssue requests refused for this reason" );
	cp_mon_ent_add( CP_CTR_PIN_WRONG, 1, "pin-wrong", NULL,
		"wrong PINs given for a known phone number" );
	cp_mon_ent_add( CP_CTR_PIN_LOCKOUT, 1, "pin-lockout", NULL,
		"PINs locked by the wrong PIN that reached certpin-pin-max-failures" );
	cp_mon_ent_add( CP_CTR_REVOKED, 1, "revoked", NULL,
		"certificates revoked (values removed by successful writes)" );
	cp_mon_ent_add( CP_CTR_BIND_CACHE_HIT, 1, "bind-cache-hit", NULL,
		"certificate re-binds that skipped the read of the entry (certpin-bind-cache)" );
	cp_mon_ent_add( CP_CTR_BIND_CACHE_MISS, 1, "bind-cache-miss", NULL,
		"certificate binds that read the entry with certpin-bind-cache on" );
	cp_mon_ent_add( CP_CTR_RECORD_COMMITS, 1, "record-commits", NULL,
		"database commits that recorded certificates issued by certpinIssue" );
	cp_mon_ent_add( CP_CTR_RECORD_GROUPED, 1, "records-grouped", NULL,
		"certpinIssue certificates recorded in a commit shared with other "
		"requests (group commit)" );
}

static unsigned long
cp_mon_value( cp_mon_ent *me )
{
	unsigned long v = 0;
	int i;

	for ( i = 0; i < me->me_n; i++ )
		v += CP_CTR_GET( me->me_first + i );
	return v;
}

/* back-monitor calls this, with the entry locked, when it is read. */
static int
cp_mon_update( Operation *op, SlapReply *rs, Entry *e, void *priv )
{
	cp_mon_ent *me = priv;
	Attribute *a = attr_find( e->e_attrs, cp_ad_monitorCounter );
	char buf[32];
	struct berval bv;

	if ( a == NULL )
		return SLAP_CB_CONTINUE;
	bv.bv_val = buf;
	bv.bv_len = snprintf( buf, sizeof( buf ), "%lu", cp_mon_value( me ) );
	if ( a->a_nvals != a->a_vals )
		ber_bvreplace( &a->a_nvals[0], &bv );
	ber_bvreplace( &a->a_vals[0], &bv );
	return SLAP_CB_CONTINUE;
}

/* Register the entries with back-monitor, once per slapd process.  Before
 * the monitor database is open they wait in its limbo list and appear when
 * it opens.  Nothing here may stop slapd: failures are logged. */
int
certpin_monitor_db_open( BackendDB *be )
{
	BackendInfo *mi;
	monitor_extra_t *mbe;
	ObjectClass *oc_cont, *oc_ctr;
	struct berval pdn = BER_BVC( CP_MON_PARENT ), pndn = BER_BVNULL,
		rdn = BER_BVC( CP_MON_RDN ), dn = BER_BVNULL, ndn = BER_BVNULL;
	const char *text;
	Entry *e;
	int i, rc;

	if ( cp_mon_registered || ( slapMode & SLAP_TOOL_MODE ) )
		return 0;
	mi = backend_info( "monitor" );
	if ( mi == NULL || mi->bi_extra == NULL )
		return 0;	/* no back-monitor in this slapd */
	mbe = mi->bi_extra;
	if ( !mbe->is_configured() ) {
		Debug( LDAP_DEBUG_CONFIG, "certpin_monitor_db_open: no monitor "
			"database: the counters count, unseen\n" );
		return 0;
	}
	oc_cont = oc_find( "monitorContainer" );
	oc_ctr = oc_find( "monitorCounterObject" );
	if ( oc_cont == NULL || oc_ctr == NULL || ( cp_ad_monitorCounter == NULL &&
	     slap_str2ad( "monitorCounter", &cp_ad_monitorCounter, &text ) ) ) {
		Debug( LDAP_DEBUG_ANY, "certpin_monitor_db_open: back-monitor's "
			"schema is missing; counters not shown in cn=monitor\n" );
		return 0;
	}
	cp_mon_ents_build();
	cp_mon_registered = 1;	/* whatever happens next: never twice */

	if ( dnNormalize( 0, NULL, NULL, &pdn, &pndn, NULL ) )
		return 0;
	e = mbe->entry_stub( &pdn, &pndn, &rdn, oc_cont, NULL, NULL );
	if ( e == NULL ) {
		Debug( LDAP_DEBUG_ANY, "certpin_monitor_db_open: cannot create "
			"\"%s,%s\"\n", rdn.bv_val, pdn.bv_val );
		goto done;
	}
	attr_merge_normalize_one( e, slap_schema.si_ad_description,
		&(struct berval)BER_BVC( "certpin overlay: events counted since slapd started (slapo-certpin(5), MONITORING)" ),
		NULL );
	rc = mbe->register_entry( e, NULL, NULL, MONITOR_F_PERSISTENT_CH );
	ber_dupbv( &dn, &e->e_name );
	ber_dupbv( &ndn, &e->e_nname );
	entry_free( e );
	if ( rc ) {
		Debug( LDAP_DEBUG_ANY, "certpin_monitor_db_open: cannot register "
			"\"%s\"\n", dn.bv_val );
		goto done;
	}

	for ( i = 0; i < cp_mon_nents; i++ ) {
		cp_mon_ent *me = &cp_mon_ents[i];
		monitor_callback_t *cb;
		char rbuf[64];
		struct berval r, desc;

		r.bv_val = rbuf;
		r.bv_len = snprintf( rbuf, sizeof( rbuf ), "cn=%s", me->me_name );
		e = mbe->entry_stub( &dn, &ndn, &r, oc_ctr, NULL, NULL );
		if ( e == NULL ) {
			Debug( LDAP_DEBUG_ANY, "certpin_monitor_db_open: cannot "
				"create \"%s,%s\"\n", rbuf, dn.bv_val );
			break;
		}
		ber_str2bv( me->me_desc, 0, 0, &desc );
		attr_merge_normalize_one( e, slap_schema.si_ad_description, &desc, NULL );
		attr_merge_normalize_one( e, cp_ad_monitorCounter,
			&(struct berval)BER_BVC( "0" ), NULL );
		/* back-monitor frees the callback (ch_free) with the entry */
		cb = ch_calloc( 1, sizeof( monitor_callback_t ) );
		cb->mc_update = cp_mon_update;
		cb->mc_private = me;
		rc = mbe->register_entry( e, cb, NULL, 0 );
		entry_free( e );
		if ( rc ) {
			ch_free( cb );
			Debug( LDAP_DEBUG_ANY, "certpin_monitor_db_open: cannot "
				"register \"%s,%s\"\n", rbuf, dn.bv_val );
			break;
		}
	}
	Debug( LDAP_DEBUG_CONFIG, "certpin_monitor_db_open: %d counters under "
		"\"%s\"\n", cp_mon_nents, dn.bv_val );

done:
	ch_free( dn.bv_val );
	ch_free( ndn.bv_val );
	ch_free( pndn.bv_val );
	return 0;
}
