/* certpin-revoke.c - revoke the client certificates issued to users
 *
 * The equivalent of Lync's Revoke-CsClientCertificate.  For each identity
 * (arguments, or one per line from -f FILE or standard input: ldapsearch's
 * "dn:" lines and certpin-get's LDIF are understood; a "Thumbprint:" line
 * in certpin-get's LDIF narrows the record to that certificate) the user's
 * certificates, or those named with --thumbprint, are deleted from
 * certpinCertificate in one modify per user.  The certpin overlay turns
 * each deletion into a certpinRevoked record; --reason supplies the reason
 * in the same modify ("sha256=<hex>$reason=<text>" added to
 * certpinRevoked, see slapo-certpin(5)).
 *
 * -n (WhatIf) prints every certificate that would be revoked, prefixed
 * with '!', and sends no modification.  --confirm asks per user on the
 * terminal.  --force suppresses non-fatal errors (unknown users,
 * certificates not held).  -c continues after errors: modifies are then
 * pipelined (up to REV_WINDOW in flight); without -c each modify is waited
 * for, so the run stops at the first failure.  A summary ends the run.
 * Idempotent: a user without certificates, or a certificate already
 * revoked, is reported and is not an error.  No identities at all (an
 * empty pipe) is success with nothing done.
 *
 * The revocation records themselves (certpinRevoked):
 *   --undo     removes the record of a certificate revoked by mistake (named
 *              by --thumbprint or a Thumbprint: line), so that it may be
 *              recorded again;
 *   --prune    removes the records older than --older-than AGE, of
 *              certificates already expired (--expired), and/or with the
 *              reason --reason TEXT (certpin-test's: "certpin-test"), for
 *              the users named or --all of them.
 * Both delete certpinRevoked values with the Relax Rules control, the path
 * slapo-certpin(5) documents (the overlay allows it to administrators
 * only, and keeps certpinRevokedThumbprint in step).
 *
 * Users are counted once however often they are named; with -n a
 * certificate is counted once.  Everything printed for people passes
 * through cp_esc()/cp_esc_dn(); --output=json (-j) prints one object per
 * certificate or record acted on.
 */

#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certinfo.h"
#include "common.h"
#include "identity.h"

#define REV_WINDOW	64	/* modifies in flight with -c */
#define REV_MAXTP	64	/* --thumbprint values */

enum {
	OPT_THUMBPRINT = 0x100, OPT_REASON, OPT_CONFIRM, OPT_FORCE, OPT_CONFIG,
	OPT_UNDO, OPT_PRUNE, OPT_OLDER_THAN, OPT_EXPIRED, OPT_ALL
};

static struct option rev_long[] = {
	{ "thumbprint", required_argument, NULL, OPT_THUMBPRINT },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "confirm", no_argument, NULL, OPT_CONFIRM },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "undo", no_argument, NULL, OPT_UNDO },
	{ "prune", no_argument, NULL, OPT_PRUNE },
	{ "older-than", required_argument, NULL, OPT_OLDER_THAN },
	{ "expired", no_argument, NULL, OPT_EXPIRED },
	{ "all", no_argument, NULL, OPT_ALL },
	{ NULL, 0, NULL, 0 }
};

/* What a run does. */
enum { MODE_REVOKE, MODE_UNDO, MODE_PRUNE };

/* A modify in flight. */
typedef struct rev_pending {
	int	rp_msgid;		/* 0: free */
	char	*rp_dn;
	int	rp_ncerts;
	char	**rp_tp;		/* sha256 of each certificate deleted */
	char	*rp_json;		/* the objects to print on success, or NULL */
} rev_pending;

/* Users (by DN) and certificates (by thumbprint) seen in this run. */
typedef struct rev_key {
	char	*rk_key;		/* NULL: free slot */
	int	rk_acted;		/* something revoked/removed (or would be) */
	int	rk_nothing;		/* was found with nothing to do */
} rev_key;

typedef struct rev_set {
	rev_key	*rs_v;
	size_t	rs_n, rs_cap;
} rev_set;

static struct {
	char		*tp[REV_MAXTP];	/* --thumbprint, normalized lowercase hex */
	int		ntp;
	char		*reason;
	int		confirm;
	int		force;
	char		*config;
	int		mode;		/* MODE_* */
	long		older_than;	/* --older-than, seconds; -1 unset */
	int		expired;	/* --expired */
	int		all;		/* --all (--prune) */
	time_t		now;
	/* running state */
	rev_pending	pend[REV_WINDOW];
	int		npend;
	int		window;
	long		items, done_items;
	long		revoked, errors, declined;
	int		err;		/* last error: the exit status */
	int		stop;
	int		progress;
	long		json_shown;	/* objects printed */
	rev_set		users;		/* DNs */
	rev_set		certs;		/* thumbprints counted with -n */
} r;

/* the words of the mode, for messages */
static const char *
rev_noun( long n )
{
	if ( r.mode == MODE_REVOKE )
		return n == 1 ? "certificate" : "certificates";
	return n == 1 ? "revocation record" : "revocation records";
}

static const char *
rev_done_word( void )
{
	if ( r.mode == MODE_REVOKE )
		return cp_opt.dont ? "would be revoked" : "revoked";
	return cp_opt.dont ? "would be removed" : "removed";
}

/* ---- sets of strings ------------------------------------------------------------ */

static size_t
rev_hash( const char *s )
{
	size_t h = 5381;

	for ( ; *s; s++ )
		h = h * 33 + (unsigned char)tolower( (unsigned char)*s );
	return h;
}

/* The entry for key, added when absent (*added set). */
static rev_key *
rev_set_get( rev_set *set, const char *key, int *added )
{
	size_t i;

	if ( added )
		*added = 0;
	if ( 2 * ( set->rs_n + 1 ) > set->rs_cap ) {
		rev_set bigger;
		size_t j;

		bigger.rs_cap = set->rs_cap ? 2 * set->rs_cap : 256;
		bigger.rs_n = set->rs_n;
		bigger.rs_v = calloc( bigger.rs_cap, sizeof( rev_key ) );
		if ( bigger.rs_v == NULL ) {
			perror( cp_opt.prog );
			exit( EXIT_FAILURE );
		}
		for ( j = 0; j < set->rs_cap; j++ ) {
			if ( set->rs_v[j].rk_key == NULL )
				continue;
			i = rev_hash( set->rs_v[j].rk_key ) % bigger.rs_cap;
			while ( bigger.rs_v[i].rk_key )
				i = ( i + 1 ) % bigger.rs_cap;
			bigger.rs_v[i] = set->rs_v[j];
		}
		free( set->rs_v );
		*set = bigger;
	}
	i = rev_hash( key ) % set->rs_cap;
	while ( set->rs_v[i].rk_key ) {
		if ( strcasecmp( set->rs_v[i].rk_key, key ) == 0 )
			return &set->rs_v[i];
		i = ( i + 1 ) % set->rs_cap;
	}
	set->rs_v[i].rk_key = strdup( key );
	if ( set->rs_v[i].rk_key == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	set->rs_n++;
	if ( added )
		*added = 1;
	return &set->rs_v[i];
}

static void
rev_set_free( rev_set *set )
{
	size_t i;

	for ( i = 0; i < set->rs_cap; i++ )
		free( set->rs_v[i].rk_key );
	free( set->rs_v );
	memset( set, 0, sizeof( *set ) );
}

/* A user was acted on (or found with nothing to do). */
static void
rev_user_mark( const char *dn, int acted )
{
	rev_key *k = rev_set_get( &r.users, dn, NULL );

	if ( acted )
		k->rk_acted = 1;
	else
		k->rk_nothing = 1;
}

static void
rev_usage( FILE *fp )
{
	fprintf( fp,
"usage: certpin-revoke [options] [identity...]\n"
"Revoke the client certificates issued to users (Revoke-CsClientCertificate).\n"
"An identity is a DN, sip:user@domain, user@domain (UPN), DOMAIN\\logon or a\n"
"display name; without identities, one per line is read from -f file or\n"
"standard input (ldapsearch's \"dn:\" lines and certpin-get -o ldif output\n"
"are understood).\n"
"certpin-revoke options:\n"
"  --thumbprint HEX        revoke only this certificate (SHA-256 or SHA-1\n"
"                          hex, colons allowed); repeatable\n"
"  --reason TEXT           reason recorded in certpinRevoked (--prune: only\n"
"                          the records with this reason)\n"
"  --confirm               ask on the terminal before each user\n"
"  --force                 suppress non-fatal errors (unknown users,\n"
"                          certificates not held)\n"
"  -n                      WhatIf: show what would be done, change nothing\n"
"  --output=text|json      output format; -j: json\n"
"  --config FILE           identity configuration (default $CERTPIN_CONF,\n"
"                          /etc/ldap/certpin.conf)\n"
"Revocation records (administrators; Relax Rules):\n"
"  --undo                  remove the record of the certificate named with\n"
"                          --thumbprint: it may be recorded again\n"
"  --prune                 remove the records matching all of:\n"
"    --older-than AGE      revoked more than AGE ago (AGE: N[smhdwy], days\n"
"                          without a unit)\n"
"    --expired             of certificates already expired\n"
"    --reason TEXT         with this reason (certpin-test's: certpin-test)\n"
"  --all                   with --prune: every user holding records\n" );
}

/* lowercase hex without colons; 0, or -1 when not a SHA-256/SHA-1 hex */
static int
rev_norm_tp( const char *in, char *out, size_t outlen )
{
	size_t n = 0;

	for ( ; *in; in++ ) {
		if ( *in == ':' || *in == ' ' )
			continue;
		if ( !isxdigit( (unsigned char)*in ) || n + 1 >= outlen )
			return -1;
		out[n++] = tolower( (unsigned char)*in );
	}
	out[n] = '\0';
	return n == 64 || n == 40 ? 0 : -1;
}

/* AGE: N[smhdwy], days without a unit.  0, or -1 when malformed. */
static int
rev_age( const char *s, long *secs )
{
	char *end;
	long n, unit;

	if ( !isdigit( (unsigned char)*s ) )
		return -1;
	n = strtol( s, &end, 10 );
	switch ( *end ) {
	case 's':	unit = 1; break;
	case 'm':	unit = 60; break;
	case 'h':	unit = 3600; break;
	case '\0':
	case 'd':	unit = 86400; break;
	case 'w':	unit = 7 * 86400L; break;
	case 'y':	unit = 365 * 86400L; break;
	default:	return -1;
	}
	if ( *end && end[1] )
		return -1;
	if ( n < 0 || n > 200 * 365 * 86400L / unit )
		return -1;
	*secs = n * unit;
	return 0;
}

static int
rev_opt( int c, char *arg )
{
	char buf[80];

	switch ( c ) {
	case OPT_THUMBPRINT:
		if ( rev_norm_tp( arg, buf, sizeof( buf ) ) )
			cp_usage_error( "--thumbprint: \"%s\" is not a SHA-256 or SHA-1 "
				"thumbprint in hex", arg );
		if ( r.ntp == REV_MAXTP )
			cp_usage_error( "too many --thumbprint options" );
		r.tp[r.ntp] = strdup( buf );
		if ( r.tp[r.ntp++] == NULL ) {
			perror( cp_opt.prog );
			exit( EXIT_FAILURE );
		}
		return 1;
	case OPT_REASON:
		if ( r.reason )
			cp_usage_error( "--reason previously specified" );
		if ( *arg == '\0' )
			cp_usage_error( "--reason: empty reason" );
		if ( strlen( arg ) > 1024 )
			cp_usage_error( "--reason: longer than 1024 characters" );
		r.reason = arg;
		return 1;
	case OPT_CONFIRM:	r.confirm = 1; return 1;
	case OPT_FORCE:		r.force = 1; return 1;
	case OPT_UNDO:
	case OPT_PRUNE:
		if ( r.mode != MODE_REVOKE && r.mode != ( c == OPT_UNDO ? MODE_UNDO : MODE_PRUNE ) )
			cp_usage_error( "--undo and --prune are exclusive" );
		r.mode = c == OPT_UNDO ? MODE_UNDO : MODE_PRUNE;
		return 1;
	case OPT_OLDER_THAN:
		if ( r.older_than >= 0 )
			cp_usage_error( "--older-than previously specified" );
		if ( rev_age( arg, &r.older_than ) )
			cp_usage_error( "--older-than: invalid age \"%s\" (a number with s, m, "
				"h, d, w or y, e.g. 90d)", cp_esc( arg ) );
		return 1;
	case OPT_EXPIRED:	r.expired = 1; return 1;
	case OPT_ALL:		r.all = 1; return 1;
	case OPT_CONFIG:
		if ( r.config )
			cp_usage_error( "--config previously specified" );
		r.config = arg;
		return 1;
	}
	return 0;
}

static void
rev_fail( int err )
{
	r.errors++;
	r.err = err;
	if ( !cp_opt.contoerr )
		r.stop = 1;
}

static void
rev_progress( int final )
{
	if ( !r.progress )
		return;
	if ( final )
		fprintf( stderr, "\r\033[K" );
	else if ( r.done_items % 100 != 0 )
		return;
	else if ( r.all )
		fprintf( stderr, "\r%s: %ld users, %ld %s %s", cp_opt.prog, r.done_items,
			r.revoked, rev_noun( r.revoked ), rev_done_word() );
	else
		fprintf( stderr, "\r%s: %ld/%ld users, %ld %s %s",
			cp_opt.prog, r.done_items, r.items, r.revoked, rev_noun( r.revoked ),
			rev_done_word() );
}

/* ---- modify results -------------------------------------------------------------- */

static void rev_handle( LDAP *ld, rev_pending *p, LDAPMessage *res );

static rev_pending *
rev_find( int msgid )
{
	int i;

	for ( i = 0; i < REV_WINDOW; i++ )
		if ( r.pend[i].rp_msgid == msgid )
			return &r.pend[i];
	return NULL;
}

static void
rev_free_pending( rev_pending *p )
{
	int i;

	for ( i = 0; i < p->rp_ncerts; i++ )
		free( p->rp_tp[i] );
	free( p->rp_tp );
	free( p->rp_json );
	ldap_memfree( p->rp_dn );
	memset( p, 0, sizeof( *p ) );
	r.npend--;
}

/* identity.c hands us the responses it does not own */
static void
rev_other( LDAP *ld, LDAPMessage *msg, void *arg )
{
	rev_pending *p = rev_find( ldap_msgid( msg ) );

	if ( p && ldap_msgtype( msg ) == LDAP_RES_MODIFY )
		rev_handle( ld, p, msg );
	ldap_msgfree( msg );
}

/* wait for the oldest... any one of ours, by msgid */
static void
rev_wait_one( LDAP *ld, rev_pending *p )
{
	LDAPMessage *res = NULL;
	int rc;

	rc = ldap_result( ld, p->rp_msgid, LDAP_MSG_ALL, NULL, &res );
	if ( rc <= 0 ) {
		rc = cp_ld_error( ld, "ldap_result", rc );
		rev_fail( rc );
		r.stop = 1;	/* the connection is unusable */
		rev_free_pending( p );
		return;
	}
	rev_handle( ld, p, res );
	ldap_msgfree( res );
}

static void
rev_drain( LDAP *ld, int keep )
{
	int i;

	while ( r.npend > keep ) {
		for ( i = 0; i < REV_WINDOW; i++ )
			if ( r.pend[i].rp_msgid )
				break;
		rev_wait_one( ld, &r.pend[i] );
	}
}

/* ---- one user ----------------------------------------------------------------------- */

/* The certificates of entry e (MODE_REVOKE) or its revocation records
 * (MODE_UNDO, MODE_PRUNE): the values, their sha256, what is chosen. */
typedef struct rev_plan {
	struct berval	**der;		/* certpinCertificate;binary values */
	struct berval	**info;		/* certpinCertInfo values */
	struct berval	**hist;		/* certpinRevoked values */
	struct berval	**vals;		/* der (revoke) or hist (records) */
	int		*take;		/* per vals value */
	char		(*sha)[65];	/* per vals value ("" for a bad record) */
	int		n, ntake;
} rev_plan;

static const char *rev_attrs[] = { "certpinCertificate;binary", "certpinCertInfo",
	"certpinRevoked", "objectClass", NULL };

static void
rev_plan_free( rev_plan *pl )
{
	ldap_value_free_len( pl->der );
	ldap_value_free_len( pl->info );
	ldap_value_free_len( pl->hist );
	free( pl->take );
	free( pl->sha );
	memset( pl, 0, sizeof( *pl ) );
}

/* metadata record of sha (from certpinCertInfo) or 0 */
static int
rev_info( rev_plan *pl, const char *sha, certpin_certinfo *ci )
{
	int i;

	for ( i = 0; pl->info && pl->info[i]; i++ ) {
		if ( certpin_certinfo_parse( pl->info[i]->bv_val, pl->info[i]->bv_len, ci ) == 0 ) {
			if ( strcmp( ci->ci_sha256, sha ) == 0 )
				return 1;
			certpin_certinfo_free( ci );
		}
	}
	return 0;
}

/* Does record i (a certpinRevoked value) name thumbprint tp (sha256 or
 * sha1)? */
static int
rev_rec_match( struct berval *rec, const char *tp )
{
	certpin_certinfo ci;
	int hit;

	if ( certpin_certinfo_parse( rec->bv_val, rec->bv_len, &ci ) )
		return 0;
	hit = strcmp( ci.ci_sha256, tp ) == 0 || ( ci.ci_sha1[0] && strcasecmp( ci.ci_sha1, tp ) == 0 );
	certpin_certinfo_free( &ci );
	return hit;
}

/* Does the entry's history hold a revocation of thumbprint tp? */
static int
rev_in_history( rev_plan *pl, const char *tp )
{
	int i;

	for ( i = 0; pl->hist && pl->hist[i]; i++ )
		if ( rev_rec_match( pl->hist[i], tp ) )
			return 1;
	return 0;
}

/* Does value i match thumbprint tp (sha256, or sha1 via metadata)? */
static int
rev_match( rev_plan *pl, int i, const char *tp )
{
	certpin_certinfo ci;
	int hit;

	if ( r.mode != MODE_REVOKE )
		return rev_rec_match( pl->vals[i], tp );
	if ( strlen( tp ) == 64 )
		return strcmp( pl->sha[i], tp ) == 0;
	if ( !rev_info( pl, pl->sha[i], &ci ) )
		return 0;
	hit = strcasecmp( ci.ci_sha1, tp ) == 0;
	certpin_certinfo_free( &ci );
	return hit;
}

/* Is one of the entry's current certificates tp? */
static int
rev_held( rev_plan *pl, const char *tp )
{
	char sha[65];
	certpin_certinfo ci;
	int i, hit = 0;

	for ( i = 0; pl->der && pl->der[i] && !hit; i++ ) {
		certpin_sha256_hex( (unsigned char *)pl->der[i]->bv_val, pl->der[i]->bv_len, sha );
		hit = strcmp( sha, tp ) == 0;
		if ( !hit && strlen( tp ) == 40 && rev_info( pl, sha, &ci ) ) {
			hit = strcasecmp( ci.ci_sha1, tp ) == 0;
			certpin_certinfo_free( &ci );
		}
	}
	return hit;
}

/* Read the entry's certificates and records into pl, nothing chosen yet. */
static void
rev_plan_load( LDAP *ld, LDAPMessage *e, rev_plan *pl )
{
	int i;

	memset( pl, 0, sizeof( *pl ) );
	pl->der = ldap_get_values_len( ld, e, "certpinCertificate;binary" );
	pl->info = ldap_get_values_len( ld, e, "certpinCertInfo" );
	pl->hist = ldap_get_values_len( ld, e, "certpinRevoked" );
	pl->vals = r.mode == MODE_REVOKE ? pl->der : pl->hist;
	for ( pl->n = 0; pl->vals && pl->vals[pl->n]; pl->n++ )
		;
	pl->take = calloc( pl->n + 1, sizeof( int ) );
	pl->sha = calloc( pl->n + 1, sizeof( *pl->sha ) );
	if ( pl->take == NULL || pl->sha == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	for ( i = 0; i < pl->n; i++ ) {
		if ( r.mode == MODE_REVOKE ) {
			certpin_sha256_hex( (unsigned char *)pl->der[i]->bv_val,
				pl->der[i]->bv_len, pl->sha[i] );
		} else {
			certpin_certinfo ci;

			if ( certpin_certinfo_parse( pl->hist[i]->bv_val, pl->hist[i]->bv_len,
					&ci ) == 0 ) {
				strcpy( pl->sha[i], ci.ci_sha256 );
				certpin_certinfo_free( &ci );
			}
		}
	}
}

/* A record's revocation time, or 0 when it has none. */
static time_t
rev_rec_time( struct berval *rec )
{
	char when[CERTPIN_GENTIME_LEN + 1];
	time_t t;

	if ( certpin_rec_get( rec->bv_val, rec->bv_len, "revoked", when, sizeof( when ) ) < 0 ||
	     certpin_gentime_parse( when, &t ) != 0 )
		return 0;
	return t;
}

/* Does record rec meet the --prune conditions (all of those given)? */
static int
rev_prunable( struct berval *rec )
{
	certpin_certinfo ci;
	int keep = 0;

	if ( certpin_certinfo_parse( rec->bv_val, rec->bv_len, &ci ) )
		return 0;	/* not a record certpin wrote: never pruned */
	if ( r.older_than >= 0 ) {
		time_t t = rev_rec_time( rec );

		if ( t == 0 || !( t <= r.now - r.older_than ) )
			keep = 1;
	}
	if ( r.expired && !( ci.ci_notafter[0] && ci.ci_notafter_t < r.now ) )
		keep = 1;
	if ( r.reason ) {
		char *why = malloc( rec->bv_len + 1 );

		if ( why == NULL ) {
			perror( cp_opt.prog );
			exit( EXIT_FAILURE );
		}
		if ( certpin_rec_get( rec->bv_val, rec->bv_len, "reason", why,
				rec->bv_len + 1 ) < 0 || strcmp( why, r.reason ) != 0 )
			keep = 1;
		free( why );
	}
	certpin_certinfo_free( &ci );
	return !keep;
}

/* Choose what to do; returns -1 on a (reported) non-fatal error, -2 on
 * bad input, -3 when the server hides the values from the bound identity
 * (not "nothing to do": a compare answers insufficientAccess). */
static int
rev_plan_make( LDAP *ld, LDAPMessage *e, cp_item *it, const char *dn, rev_plan *pl )
{
	const char *want[REV_MAXTP + 1];
	char itp[80];
	int nwant = 0, i, j, bad = 0;

	rev_plan_load( ld, e, pl );
	if ( pl->n == 0 && ( ( r.mode == MODE_REVOKE && pl->info ) ||
	     ( cp_has_class( ld, e, r.mode == MODE_REVOKE ? "certpinUser" : "certpinHistory" ) &&
	       cp_attr_hidden( ld, dn, r.mode == MODE_REVOKE ? "certpinCertInfo" :
			"certpinRevoked" ) ) ) )
		return -3;
	for ( j = 0; j < r.ntp; j++ )
		want[nwant++] = r.tp[j];
	if ( it && it->ci_thumb ) {
		if ( rev_norm_tp( it->ci_thumb, itp, sizeof( itp ) ) ) {
			cp_warn( "\"%s\": invalid Thumbprint \"%s\" in the input", cp_esc_dn( dn ),
				cp_esc( it->ci_thumb ) );
			return -2;
		}
		/* with --thumbprint too: only when both name it */
		if ( nwant ) {
			for ( j = 0; j < nwant && strcmp( want[j], itp ); j++ )
				;
			if ( j == nwant )
				return 0;
			nwant = 0;
		}
		want[nwant++] = itp;
	}
	if ( r.mode == MODE_UNDO && nwant == 0 ) {
		cp_warn( "\"%s\": --undo needs the certificate's thumbprint (--thumbprint, "
			"or certpin-get --revoked --output=ldif lines)", cp_esc_dn( dn ) );
		return -2;
	}
	if ( nwant == 0 ) {
		for ( i = 0; i < pl->n; i++ ) {
			pl->take[i] = r.mode == MODE_REVOKE || rev_prunable( pl->vals[i] );
			pl->ntake += pl->take[i];
		}
		return 0;
	}
	for ( j = 0; j < nwant; j++ ) {
		int found = 0;

		for ( i = 0; i < pl->n; i++ ) {
			if ( rev_match( pl, i, want[j] ) ) {
				found = 1;
				if ( r.mode == MODE_PRUNE && !rev_prunable( pl->vals[i] ) )
					continue;
				if ( !pl->take[i] )
					pl->ntake++;
				pl->take[i] = 1;
			}
		}
		if ( found )
			continue;
		if ( r.mode == MODE_REVOKE && rev_in_history( pl, want[j] ) ) {
			if ( cp_opt.verbose || cp_opt.dont )
				printf( "%s\"%s\": certificate %s already revoked\n",
					cp_opt.dont ? "!" : "", cp_esc_dn( dn ), want[j] );
		} else if ( r.mode != MODE_REVOKE && rev_held( pl, want[j] ) ) {
			if ( !r.force )
				cp_warn( "\"%s\": certificate %s is not revoked: it has no "
					"revocation record", cp_esc_dn( dn ), want[j] );
			bad = 1;
		} else {
			if ( !r.force )
				cp_warn( "\"%s\": holds no %s with thumbprint %s", cp_esc_dn( dn ),
					r.mode == MODE_REVOKE ? "certificate" : "revocation record",
					want[j] );
			bad = 1;
		}
	}
	return bad && !r.force ? -1 : 0;
}

/* The fields shown for value i: serial, expiry, and for records the
 * revocation time and reason (caller frees *reason). */
static void
rev_fields( rev_plan *pl, int i, char serial[2 * CERTPIN_MAX_SERIAL + 1],
	char exp[CERTPIN_ISOTIME_LEN + 1], char revoked[CERTPIN_ISOTIME_LEN + 1],
	char **reason )
{
	certpin_certinfo ci;
	int have;

	serial[0] = exp[0] = revoked[0] = '\0';
	*reason = NULL;
	if ( r.mode == MODE_REVOKE )
		have = rev_info( pl, pl->sha[i], &ci );
	else
		have = certpin_certinfo_parse( pl->vals[i]->bv_val, pl->vals[i]->bv_len, &ci ) == 0;
	if ( have ) {
		strcpy( serial, ci.ci_serial );
		if ( certpin_gentime_iso( ci.ci_notafter, exp ) )
			exp[0] = '\0';
		certpin_certinfo_free( &ci );
	}
	if ( r.mode != MODE_REVOKE ) {
		char when[CERTPIN_GENTIME_LEN + 1];
		struct berval *v = pl->vals[i];

		if ( certpin_rec_get( v->bv_val, v->bv_len, "revoked", when, sizeof( when ) ) < 0 ||
		     certpin_gentime_iso( when, revoked ) )
			revoked[0] = '\0';
		*reason = malloc( v->bv_len + 1 );
		if ( *reason && certpin_rec_get( v->bv_val, v->bv_len, "reason", *reason,
				v->bv_len + 1 ) <= 0 ) {
			free( *reason );
			*reason = NULL;
		}
	}
}

static void
rev_show( rev_plan *pl, const char *dn )
{
	char serial[2 * CERTPIN_MAX_SERIAL + 1], exp[CERTPIN_ISOTIME_LEN + 1];
	char revoked[CERTPIN_ISOTIME_LEN + 1], *reason;
	const char *bang = cp_opt.dont ? "!" : "";
	int i;

	for ( i = 0; i < pl->n; i++ ) {
		if ( !pl->take[i] )
			continue;
		rev_fields( pl, i, serial, exp, revoked, &reason );
		if ( r.mode == MODE_REVOKE )
			printf( "%srevoking certificate %s (serial %s, expires %s) of \"%s\"\n",
				bang, pl->sha[i], serial[0] ? cp_esc( serial ) : "?",
				exp[0] ? exp : "?", cp_esc_dn( dn ) );
		else
			printf( "%sremoving the revocation record of certificate %s (revoked %s%s%s, "
				"expires %s) of \"%s\"\n", bang, pl->sha[i][0] ? pl->sha[i] : "?",
				revoked[0] ? revoked : "?", reason ? ", reason " : "",
				reason ? cp_esc( reason ) : "", exp[0] ? exp : "?", cp_esc_dn( dn ) );
		free( reason );
	}
	if ( r.reason && cp_opt.verbose && r.mode == MODE_REVOKE )
		printf( "%s\treason: %s\n", bang, cp_esc( r.reason ) );
}

/* The JSON objects for what pl takes (malloc'd text, each preceded by the
 * separator the array needs when printed later). */
static char *
rev_json( rev_plan *pl, const char *dn )
{
	char serial[2 * CERTPIN_MAX_SERIAL + 1], exp[CERTPIN_ISOTIME_LEN + 1];
	char revoked[CERTPIN_ISOTIME_LEN + 1], *reason, *buf = NULL;
	size_t len = 0;
	FILE *f;
	int i;

	f = open_memstream( &buf, &len );
	if ( f == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	for ( i = 0; i < pl->n; i++ ) {
		if ( !pl->take[i] )
			continue;
		rev_fields( pl, i, serial, exp, revoked, &reason );
		fputs( "\001  {\n    \"Identity\": ", f );
		cp_json_string( f, dn );
		fputs( ",\n    \"Thumbprint\": ", f );
		cp_json_string( f, pl->sha[i][0] ? pl->sha[i] : NULL );
		fputs( ",\n    \"SerialNumber\": ", f );
		cp_json_string( f, serial[0] ? serial : NULL );
		fputs( ",\n    \"ExpirationTime\": ", f );
		cp_json_string( f, exp[0] ? exp : NULL );
		if ( r.mode != MODE_REVOKE ) {
			fputs( ",\n    \"RevocationTime\": ", f );
			cp_json_string( f, revoked[0] ? revoked : NULL );
			fputs( ",\n    \"Reason\": ", f );
			cp_json_string( f, reason );
		}
		fprintf( f, ",\n    \"Action\": \"%s\",\n    \"WhatIf\": %s\n  }",
			r.mode == MODE_REVOKE ? "Revoke" : r.mode == MODE_UNDO ? "Undo" : "Prune",
			cp_opt.dont ? "true" : "false" );
		free( reason );
	}
	fclose( f );
	return buf;
}

/* Print objects made by rev_json(): '\001' marks where a separator goes. */
static void
rev_json_print( const char *text )
{
	const char *p;

	if ( text == NULL )
		return;
	for ( p = text; *p; p++ ) {
		if ( *p == '\001' ) {
			fputs( r.json_shown++ ? ",\n" : "[\n", stdout );
			continue;
		}
		putchar( *p );
	}
	fflush( stdout );
}

/* Send the modify for plan pl: delete the chosen values, add reasons
 * (MODE_REVOKE); delete the chosen records with Relax Rules (the others). */
static int
rev_send( LDAP *ld, const char *dn, rev_plan *pl, int *msgid )
{
	LDAPMod del, add, *mods[3];
	LDAPControl relax, *ctrls[2] = { NULL, NULL };
	struct berval **dvals, **rvals = NULL, *rv = NULL;
	int i, k = 0, rc, reasons = r.reason && r.mode == MODE_REVOKE;

	dvals = calloc( pl->ntake + 1, sizeof( struct berval * ) );
	if ( reasons ) {
		rvals = calloc( pl->ntake + 1, sizeof( struct berval * ) );
		rv = calloc( pl->ntake, sizeof( *rv ) );
	}
	if ( dvals == NULL || ( reasons && ( rvals == NULL || rv == NULL ) ) ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	for ( i = 0; i < pl->n; i++ ) {
		if ( !pl->take[i] )
			continue;
		dvals[k] = pl->vals[i];
		if ( reasons ) {
			char *buf = NULL;
			size_t len = 0;

			if ( certpin_rec_add( &buf, &len, "sha256", pl->sha[i] ) ||
			     certpin_rec_add( &buf, &len, "reason", r.reason ) ) {
				perror( cp_opt.prog );
				exit( EXIT_FAILURE );
			}
			rv[k].bv_val = buf;
			rv[k].bv_len = len;
			rvals[k] = &rv[k];
		}
		k++;
	}
	del.mod_op = LDAP_MOD_DELETE | LDAP_MOD_BVALUES;
	del.mod_type = r.mode == MODE_REVOKE ? "certpinCertificate;binary" : "certpinRevoked";
	del.mod_bvalues = dvals;
	mods[0] = &del;
	mods[1] = NULL;
	if ( reasons ) {
		add.mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES;
		add.mod_type = "certpinRevoked";
		add.mod_bvalues = rvals;
		mods[1] = &add;
		mods[2] = NULL;
	}
	if ( r.mode != MODE_REVOKE ) {
		/* the documented way to clear a record: Relax Rules, critical */
		memset( &relax, 0, sizeof( relax ) );
		relax.ldctl_oid = LDAP_CONTROL_RELAX;
		relax.ldctl_iscritical = 1;
		ctrls[0] = &relax;
	}
	rc = ldap_modify_ext( ld, dn, mods, ctrls[0] ? ctrls : NULL, NULL, msgid );
	for ( i = 0; rv != NULL && i < k; i++ )
		free( rv[i].bv_val );
	free( rv );
	free( rvals );
	free( dvals );
	return rc;
}

/* Queue the modify of pl for dn. */
static void
rev_queue( LDAP *ld, const char *dn, rev_plan *pl )
{
	rev_pending *p;
	int rc, msgid, i, k = 0;

	rev_drain( ld, r.window - 1 );
	if ( r.stop )
		return;
	rc = rev_send( ld, dn, pl, &msgid );
	if ( rc != LDAP_SUCCESS ) {
		char what[1024];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, cp_esc_dn( dn ) );
		rev_fail( cp_ld_error( ld, what, rc ) );
		r.stop = 1;
		return;
	}
	p = rev_find( 0 );
	p->rp_msgid = msgid;
	p->rp_dn = strdup( dn );
	p->rp_tp = calloc( pl->ntake, sizeof( char * ) );
	if ( p->rp_dn == NULL || p->rp_tp == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	for ( i = 0; i < pl->n; i++ )
		if ( pl->take[i] )
			p->rp_tp[k++] = strdup( pl->sha[i] );
	p->rp_ncerts = k;
	if ( cp_opt.format == CP_FMT_JSON )
		p->rp_json = rev_json( pl, dn );
	r.npend++;
	if ( r.window == 1 )
		rev_drain( ld, 0 );
}

/* The entry changed under us (noSuchAttribute): read it again, act on
 * what of the planned values it still holds. */
static void
rev_retry( LDAP *ld, rev_pending *p )
{
	LDAPMessage *res = NULL, *e;
	rev_plan pl;
	int rc, i, j, msgid;

	rc = ldap_search_ext_s( ld, p->rp_dn, LDAP_SCOPE_BASE, "(objectClass=*)",
		(char **)rev_attrs, 0, NULL, NULL, NULL, 1, &res );
	e = rc == LDAP_SUCCESS ? ldap_first_entry( ld, res ) : NULL;
	if ( e == NULL ) {
		char what[1024];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, cp_esc_dn( p->rp_dn ) );
		cp_perror( what, rc ? rc : LDAP_NO_SUCH_OBJECT, NULL, NULL );
		rev_fail( rc ? rc : LDAP_NO_SUCH_OBJECT );
		ldap_msgfree( res );
		return;
	}
	rev_plan_load( ld, e, &pl );
	for ( i = 0; i < pl.n; i++ ) {
		for ( j = 0; j < p->rp_ncerts; j++ )
			if ( pl.sha[i][0] && strcmp( pl.sha[i], p->rp_tp[j] ) == 0 &&
			     ( r.mode != MODE_PRUNE || rev_prunable( pl.vals[i] ) ) )
				pl.take[i] = 1;
		pl.ntake += pl.take[i];
	}
	if ( pl.ntake == 0 ) {
		rev_user_mark( p->rp_dn, 0 );
		if ( cp_opt.verbose )
			printf( "\"%s\": already %s\n", cp_esc_dn( p->rp_dn ),
				r.mode == MODE_REVOKE ? "revoked" : "removed" );
	} else if ( ( rc = rev_send( ld, p->rp_dn, &pl, &msgid ) ) == LDAP_SUCCESS ) {
		LDAPMessage *mres = NULL;
		char what[1024];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, cp_esc_dn( p->rp_dn ) );
		if ( ldap_result( ld, msgid, LDAP_MSG_ALL, NULL, &mres ) > 0 &&
		     ( rc = cp_result( ld, mres, what ) ) == LDAP_SUCCESS ) {
			r.revoked += pl.ntake;
			rev_user_mark( p->rp_dn, 1 );
			if ( cp_opt.format == CP_FMT_JSON ) {
				char *j = rev_json( &pl, p->rp_dn );

				rev_json_print( j );
				free( j );
			}
		} else {
			rev_fail( rc ? rc : LDAP_OTHER );
		}
		ldap_msgfree( mres );
	} else {
		rev_fail( cp_ld_error( ld, cp_esc_dn( p->rp_dn ), rc ) );
	}
	rev_plan_free( &pl );
	ldap_msgfree( res );
}

static void
rev_handle( LDAP *ld, rev_pending *p, LDAPMessage *res )
{
	char *matched = NULL, *info = NULL;
	int err = LDAP_OTHER, rc;

	rc = ldap_parse_result( ld, res, &err, &matched, &info, NULL, NULL, 0 );
	if ( rc != LDAP_SUCCESS )
		err = rc;
	if ( err == LDAP_SUCCESS ) {
		r.revoked += p->rp_ncerts;
		rev_user_mark( p->rp_dn, 1 );
		rev_json_print( p->rp_json );
	} else if ( err == LDAP_NO_SUCH_ATTRIBUTE ) {
		rev_retry( ld, p );
	} else {
		char what[1024];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, cp_esc_dn( p->rp_dn ) );
		cp_perror( what, err, matched, info );
		rev_fail( err );
	}
	ldap_memfree( matched );
	ldap_memfree( info );
	rev_free_pending( p );
}

/* With -n a certificate (or record) named twice is counted once. */
static void
rev_plan_dedup( rev_plan *pl )
{
	int i, added;

	for ( i = 0; i < pl->n; i++ ) {
		if ( !pl->take[i] || !pl->sha[i][0] )
			continue;
		rev_set_get( &r.certs, pl->sha[i], &added );
		if ( !added ) {
			pl->take[i] = 0;
			pl->ntake--;
		}
	}
}

/* identity callback: one user resolved (or not) */
static int
rev_entry( LDAP *ld, cp_item *it, LDAPMessage *e, int err, void *arg )
{
	rev_plan pl;
	char *dn;
	int rc;

	r.done_items++;
	rev_progress( 0 );
	if ( e == NULL ) {
		if ( err == LDAP_NO_SUCH_OBJECT && r.force )
			return r.stop;
		rev_fail( err );
		return r.stop;
	}
	dn = ldap_get_dn( ld, e );
	if ( dn == NULL ) {
		rev_fail( cp_ld_error( ld, "ldap_get_dn", LDAP_DECODING_ERROR ) );
		return r.stop;
	}
	rev_set_get( &r.users, dn, NULL );
	rc = rev_plan_make( ld, e, it, dn, &pl );
	if ( rc == -3 ) {
		cp_hidden_error( dn, r.mode == MODE_REVOKE ? "the server hides this "
			"user's certificates from the bound identity" : "the server hides "
			"this user's revocation records from the bound identity" );
		rev_fail( LDAP_INSUFFICIENT_ACCESS );
		goto done;
	}
	if ( rc < 0 ) {
		rev_fail( rc == -2 ? CP_ID_EINPUT : LDAP_NO_SUCH_ATTRIBUTE );
		goto done;
	}
	if ( cp_opt.dont )
		rev_plan_dedup( &pl );
	if ( pl.ntake == 0 ) {
		rev_user_mark( dn, 0 );
		if ( cp_opt.verbose || ( cp_opt.dont && !r.ntp && !( it && it->ci_thumb ) ) )
			printf( "%s\"%s\": %s\n", cp_opt.dont ? "!" : "", cp_esc_dn( dn ),
				r.mode == MODE_REVOKE ? "no certificates to revoke" :
				"no revocation records to remove" );
		goto done;
	}
	if ( r.confirm ) {
		int yes = cp_confirm( "%s %d %s of \"%s\"?", r.mode == MODE_REVOKE ?
			"Revoke" : "Remove", pl.ntake, rev_noun( pl.ntake ), cp_esc_dn( dn ) );

		if ( yes < 0 ) {
			cp_warn( "--confirm needs a terminal (/dev/tty)" );
			rev_fail( EXIT_FAILURE );
			r.stop = 1;
			goto done;
		}
		if ( !yes ) {
			r.declined++;
			goto done;
		}
	}
	if ( ( cp_opt.dont || cp_opt.verbose ) && cp_opt.format != CP_FMT_JSON )
		rev_show( &pl, dn );
	if ( cp_opt.dont ) {
		r.revoked += pl.ntake;
		rev_user_mark( dn, 1 );
		if ( cp_opt.format == CP_FMT_JSON ) {
			char *j = rev_json( &pl, dn );

			rev_json_print( j );
			free( j );
		}
		goto done;
	}
	rev_queue( ld, dn, &pl );
done:
	rev_plan_free( &pl );
	ldap_memfree( dn );
	fflush( stdout );
	return r.stop;
}

int
main( int argc, char **argv )
{
	cp_idconf ic;
	cp_items its;
	LDAP *ld;
	long users = 0, nothing = 0;
	size_t k;
	int first, rc, i;

	r.older_than = -1;
	cp_tool_init( "certpin-revoke", "", rev_long, rev_opt, rev_usage );
	cp_tool_formats( CP_FMT_MASK( CP_FMT_JSON ), "text" );
	first = cp_tool_args( argc, argv );
	if ( r.confirm && cp_opt.dont )
		cp_usage_error( "--confirm and -n: nothing would be done to confirm" );
	if ( r.mode != MODE_PRUNE && ( r.older_than >= 0 || r.expired ) )
		cp_usage_error( "--older-than and --expired select records for --prune" );
	if ( r.mode == MODE_PRUNE && r.older_than < 0 && !r.expired && !r.reason )
		cp_usage_error( "--prune needs --older-than AGE, --expired or --reason TEXT "
			"(records matching all of those given are removed)" );
	if ( r.mode == MODE_UNDO && r.reason )
		cp_usage_error( "--undo takes no --reason: it removes the record" );
	if ( r.all && r.mode != MODE_PRUNE )
		cp_usage_error( "--all works with --prune only (revoke in bulk with "
			"certpin-get --all --output=ldif | certpin-revoke)" );
	if ( r.all && first < argc )
		cp_usage_error( "--all takes no identities" );
	if ( r.all && cp_opt.infile )
		cp_usage_error( "--all incompatible with -f" );
	r.now = time( NULL );
	cp_idconf_load( &ic, r.config );
	ic.ic_quiet_unknown = r.force;
	ic.ic_other = rev_other;
	memset( &its, 0, sizeof( its ) );
	if ( !r.all ) {
		cp_items_read( &its, argc, argv, first );
		if ( its.it_n == 0 ) {
			/* an empty pipe (certpin-get found nothing) is no error */
			cp_warn( "no identities given: nothing to do" );
			if ( cp_opt.format == CP_FMT_JSON )
				fputs( "[]\n", stdout );
			cp_items_free( &its );
			cp_idconf_free( &ic );
			cp_tool_exit( NULL, 0 );
		}
		if ( r.mode == MODE_UNDO && r.ntp == 0 ) {
			for ( i = 0; i < its.it_n && !its.it_v[i].ci_thumb; i++ )
				;
			if ( i == its.it_n )
				cp_usage_error( "--undo needs the certificate's thumbprint "
					"(--thumbprint, or certpin-get --revoked --output=ldif lines)" );
		}
	}
	r.items = its.it_n;
	r.window = cp_opt.contoerr ? REV_WINDOW : 1;
	r.progress = cp_progress_ok() && ( r.all || its.it_n >= 100 ) && !cp_opt.verbose &&
		!cp_opt.dont;

	ld = cp_tool_connect();
	rc = cp_idconf_finish( &ic, ld );
	if ( rc )
		cp_tool_exit( ld, rc );
	if ( r.all ) {
		rc = cp_id_all( ld, &ic, "(certpinRevoked=*)", (char **)rev_attrs, rev_entry, NULL );
		if ( rc )
			rev_fail( rc );
	} else {
		cp_id_resolve( ld, &ic, &its, (char **)rev_attrs, rev_entry, NULL );
	}
	rev_drain( ld, 0 );
	rev_progress( 1 );
	if ( cp_opt.format == CP_FMT_JSON )
		fputs( r.json_shown ? "\n]\n" : "[]\n", stdout );

	for ( k = 0; k < r.users.rs_cap; k++ ) {
		if ( r.users.rs_v[k].rk_key == NULL )
			continue;
		users++;
		if ( r.users.rs_v[k].rk_nothing && !r.users.rs_v[k].rk_acted )
			nothing++;
	}
	fprintf( stderr, "%s: %s%ld %s %s for %ld user%s",
		cp_opt.prog, cp_opt.dont ? "WhatIf: " : "", r.revoked, rev_noun( r.revoked ),
		rev_done_word(), users, users == 1 ? "" : "s" );
	if ( nothing )
		fprintf( stderr, ", %ld with nothing to %s", nothing,
			r.mode == MODE_REVOKE ? "revoke" : "remove" );
	if ( r.declined )
		fprintf( stderr, ", %ld declined", r.declined );
	if ( r.errors )
		fprintf( stderr, ", %ld error%s", r.errors, r.errors == 1 ? "" : "s" );
	if ( r.stop && !r.all && r.done_items < r.items )
		fprintf( stderr, "; stopped after %ld of %ld identities (use -c to continue "
			"past errors)", r.done_items, r.items );
	fputc( '\n', stderr );
	if ( fflush( stdout ) != 0 || ferror( stdout ) ) {
		perror( "standard output" );
		r.err = EXIT_FAILURE;
	}

	for ( i = 0; i < r.ntp; i++ )
		free( r.tp[i] );
	rev_set_free( &r.users );
	rev_set_free( &r.certs );
	cp_items_free( &its );
	cp_idconf_free( &ic );
	cp_tool_exit( ld, r.err );
	return r.err;
}
