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
 * pipelined (up to REV_WINDOW in flight); without -c (and without
 * transactions) each modify is waited for, so the run stops at the first
 * failure.  A summary ends the run.
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
 * Bulk revocation (--all, or many identities): when the server's root DSE
 * lists supportedExtension 1.3.6.1.1.21.1, the modifies are sent inside RFC
 * 5805 transactions of --batch users (default REV_BATCH), pipelined (up to
 * REV_WINDOW unanswered), one naming context per transaction, committed
 * together; the first revocation of a run goes alone (the overlay refuses
 * transactions storing an attribute new to the database).  A commit that
 * fails changes nothing: its users are revoked one at a time (rev_retry),
 * which reports the one that failed.  Users refused into a transaction are
 * revoked alone; a server refusing every modify of one (back-ldif) ends
 * transactions for the run.  --no-transactions: one modify per user.
 * Identities are finished in input order (r.handled: 1..handled are done
 * with), so after SIGINT/SIGTERM (the open transaction is aborted) or a
 * lost connection (an unanswered commit is reported as in doubt) the report
 * says exactly which are done; --done-file lists the users committed.  A
 * progress line (done/total, rate, ETA) is drawn on a terminal only.
 *
 * Users are counted once however often they are named; with -n a
 * certificate is counted once.  Everything printed for people passes
 * through cp_esc()/cp_esc_dn(); --output=json (-j) prints one object per
 * certificate or record acted on.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* fopencookie() */
#endif
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certinfo.h"
#include "common.h"
#include "identity.h"

#define REV_WINDOW	64	/* modifies in flight with -c (and unanswered in a transaction) */
#define REV_MAXTP	64	/* --thumbprint values */
#define REV_BATCH	500	/* users per transaction (--batch) */
#define REV_BATCH_MAX	10000

enum {
	OPT_THUMBPRINT = 0x100, OPT_REASON, OPT_CONFIRM, OPT_FORCE, OPT_CONFIG,
	OPT_UNDO, OPT_PRUNE, OPT_OLDER_THAN, OPT_EXPIRED, OPT_ALL, OPT_BATCH,
	OPT_NO_TXN, OPT_DONE_FILE
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
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "no-transactions", no_argument, NULL, OPT_NO_TXN },
	{ "done-file", required_argument, NULL, OPT_DONE_FILE },
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
	long	rp_seq;			/* the identity's number in the input (1, 2, ...) */
	int	rp_state;		/* in a transaction: RP_SENT, RP_QUEUED, RP_REFUSED; 0 finished */
	int	rp_err;			/* RP_REFUSED: why */
} rev_pending;

enum { RP_SENT = 1, RP_QUEUED, RP_REFUSED };

/* The transaction being filled (RFC 5805: one at a time per connection). */
typedef struct rev_batch {
	rev_pending	*b_v;		/* its users, in input order */
	int		b_n;
	int		b_unanswered;	/* modifies neither accepted nor refused yet */
	int		b_open;		/* the server started it */
	struct berval	*b_txnid;
	const char	*b_ctx;		/* naming context of its users (NULL: none known) */
} rev_batch;

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
	int		all;		/* --all */
	int		batch;		/* --batch: users per transaction; 0: none */
	int		batch_set;	/* --batch or --no-transactions given */
	char		*done_path;	/* --done-file */
	FILE		*done_fp;
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
	cp_items	*its;		/* the identities (not with --all) */
	/* transactions */
	int		txn;		/* the server supports them and they are used */
	int		plain_first;	/* the first revocation is made without one */
	char		**ctxs;		/* the server's namingContexts */
	rev_batch	b;
	long		txns, txn_failed;	/* transactions committed, not committed */
	long		handled;	/* identities 1..handled are finished (txn mode) */
	long		acted_users;	/* users whose revocation the server committed */
	long		doubt;		/* users of a commit sent but never answered */
	/* interruption */
	volatile sig_atomic_t sig;	/* SIGINT/SIGTERM received */
	int		lost;		/* the connection is gone */
	long		aborted;	/* users of the transaction aborted by the interruption */
	/* progress */
	double		t0, tshown;
	int		shown;
} r;

#define REV_STOPPING()	( r.stop || r.sig || r.lost )

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
"  --all                   every user holding certificates (revoke), or\n"
"                          records (--prune)\n"
"Bulk revocation:\n"
"  --batch N               users per LDAP transaction (RFC 5805) when the\n"
"                          server offers them (default 500)\n"
"  --no-transactions       one modify per user, each committed on its own\n"
"  --done-file FILE        append the DN of every user whose revocation the\n"
"                          server committed (\"dn:\" lines), as it happens\n"
"Revocation records (administrators; Relax Rules):\n"
"  --undo                  remove the record of the certificate named with\n"
"                          --thumbprint: it may be recorded again\n"
"  --prune                 remove the records matching all of:\n"
"    --older-than AGE      revoked more than AGE ago (AGE: N[smhdwy], days\n"
"                          without a unit)\n"
"    --expired             of certificates already expired\n"
"    --reason TEXT         with this reason (certpin-test's: certpin-test)\n" );
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
	case OPT_BATCH: {
		char *end;
		long n;

		errno = 0;
		n = strtol( arg, &end, 10 );
		if ( !isdigit( (unsigned char)*arg ) || *end || errno || n < 1 || n > REV_BATCH_MAX )
			cp_usage_error( "--batch: \"%s\" is not a number of users from 1 to %d",
				cp_esc( arg ), REV_BATCH_MAX );
		if ( r.batch_set )
			cp_usage_error( "--batch previously specified (or --no-transactions)" );
		r.batch = (int)n;
		r.batch_set = 1;
		return 1;
	}
	case OPT_NO_TXN:
		if ( r.batch_set )
			cp_usage_error( "--no-transactions incompatible with --batch" );
		r.batch = 0;
		r.batch_set = 1;
		return 1;
	case OPT_DONE_FILE:
		if ( r.done_path )
			cp_usage_error( "--done-file previously specified" );
		if ( *arg == '\0' )
			cp_usage_error( "--done-file: empty file name" );
		r.done_path = arg;
		return 1;
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

static double
rev_clock( void )
{
	struct timespec ts;

	clock_gettime( CLOCK_MONOTONIC, &ts );
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* On a terminal, standard error goes through rev_tty_write(): a message
 * printed while the progress line is shown first clears that line, so
 * that it starts at the left margin (the line is redrawn later). */
static int rev_drawing;

static ssize_t
rev_tty_write( void *cookie, const char *buf, size_t len )
{
	size_t done = 0;
	ssize_t n;

	if ( r.shown && !rev_drawing ) {
		r.shown = 0;
		if ( write( STDERR_FILENO, "\r\033[K", 4 ) < 0 )
			return -1;
	}
	while ( done < len ) {
		n = write( STDERR_FILENO, buf + done, len - done );
		if ( n < 0 && errno == EINTR )
			continue;
		if ( n < 0 )
			return done ? (ssize_t)done : -1;
		done += n;
	}
	return done;
}

static void
rev_tty_stderr( void )
{
	cookie_io_functions_t io = { NULL, rev_tty_write, NULL, NULL };
	FILE *f = fopencookie( NULL, "w", io );

	if ( f == NULL )
		return;
	setvbuf( f, NULL, _IOLBF, 0 );
	stderr = f;
}

/* Identities finished: every one up to this number is done with. */
static long
rev_handled( void )
{
	return r.txn ? r.handled : r.done_items - r.npend;
}

/* The progress line, on a terminal only (r.progress), redrawn in place at
 * most four times a second: identities finished (of how many), the rate,
 * and the time left. */
static void
rev_progress( int final )
{
	double now, rate;
	long done;

	if ( !r.progress )
		return;
	if ( final ) {
		if ( r.shown ) {
			rev_drawing = 1;
			fprintf( stderr, "\r\033[K" );
			fflush( stderr );
			rev_drawing = 0;
		}
		r.shown = 0;
		return;
	}
	now = rev_clock();
	if ( now - r.tshown < 0.25 )
		return;
	r.tshown = now;
	done = rev_handled();
	rate = now > r.t0 ? done / ( now - r.t0 ) : 0;
	rev_drawing = 1;
	if ( r.all ) {
		fprintf( stderr, "\r%s: %ld users, %ld %s %s, %.0f users/s\033[K", cp_opt.prog,
			done, r.revoked, rev_noun( r.revoked ), rev_done_word(), rate );
	} else {
		long left = r.items - done;

		fprintf( stderr, "\r%s: %ld/%ld users (%ld%%), %ld %s %s, %.0f users/s",
			cp_opt.prog, done, r.items, r.items ? 100 * done / r.items : 0,
			r.revoked, rev_noun( r.revoked ), rev_done_word(), rate );
		if ( rate > 0 && done > 0 )
			fprintf( stderr, ", ETA %ld:%02ld\033[K", (long)( left / rate ) / 60,
				(long)( left / rate ) % 60 );
		else
			fprintf( stderr, "\033[K" );
	}
	fflush( stderr );
	rev_drawing = 0;
	r.shown = 1;
}

static void rev_json_print( const char *text );

/* A user's revocation was committed by the server: count it, print its
 * JSON, note it in --done-file. */
static void
rev_committed( const char *dn, int ncerts, const char *json )
{
	r.revoked += ncerts;
	r.acted_users++;
	rev_user_mark( dn, 1 );
	rev_json_print( json );
	if ( r.done_fp )
		cp_ldif_put( r.done_fp, "dn", dn );
}

static void
rev_done_flush( void )
{
	if ( r.done_fp && fflush( r.done_fp ) != 0 ) {
		fprintf( stderr, "%s: %s: %s\n", cp_opt.prog, r.done_path, strerror( errno ) );
		r.err = EXIT_FAILURE;
		r.stop = 1;
	}
}

/* A modify of dn was sent and never answered: it may or may not have been
 * made. */
static void
rev_doubt( const char *dn )
{
	r.doubt++;
	fprintf( stderr, "%s: \"%s\": in doubt: the revocation was sent but the server "
		"did not answer (revoked or not)\n", cp_opt.prog, cp_esc_dn( dn ) );
}

/* ---- modify results -------------------------------------------------------------- */

static void rev_handle( LDAP *ld, rev_pending *p, LDAPMessage *res );
static void rev_txn_answer( LDAP *ld, rev_pending *p, LDAPMessage *res );

static rev_pending *
rev_find( int msgid )
{
	int i;

	for ( i = 0; i < REV_WINDOW; i++ )
		if ( r.pend[i].rp_msgid == msgid )
			return &r.pend[i];
	return NULL;
}

/* the batch member waiting for the answer to msgid */
static rev_pending *
rev_batch_find( int msgid )
{
	int i;

	for ( i = r.b.b_n - 1; i >= 0; i-- )
		if ( r.b.b_v[i].rp_msgid == msgid )
			return r.b.b_v[i].rp_state == RP_SENT ? &r.b.b_v[i] : NULL;
	return NULL;
}

static void
rev_pending_clear( rev_pending *p )
{
	int i;

	for ( i = 0; i < p->rp_ncerts; i++ )
		free( p->rp_tp[i] );
	free( p->rp_tp );
	free( p->rp_json );
	free( p->rp_dn );
	memset( p, 0, sizeof( *p ) );
}

static void
rev_free_pending( rev_pending *p )
{
	rev_pending_clear( p );
	r.npend--;
}

/* identity.c hands us the responses it does not own */
static void
rev_other( LDAP *ld, LDAPMessage *msg, void *arg )
{
	rev_pending *p;

	if ( ldap_msgtype( msg ) == LDAP_RES_MODIFY ) {
		if ( ( p = rev_find( ldap_msgid( msg ) ) ) != NULL )
			rev_handle( ld, p, msg );
		else if ( ( p = rev_batch_find( ldap_msgid( msg ) ) ) != NULL )
			rev_txn_answer( ld, p, msg );
	}
	ldap_msgfree( msg );
}

/* The connection failed while waiting (rc from ldap_result or a send). */
static void
rev_lost( LDAP *ld, int rc )
{
	if ( r.lost )
		return;
	rev_progress( 1 );
	r.lost = 1;
	rev_fail( cp_ld_error( ld, "ldap_result", rc ) );
	r.stop = 1;	/* the connection is unusable */
}

/* wait for the oldest... any one of ours, by msgid */
static void
rev_wait_one( LDAP *ld, rev_pending *p )
{
	LDAPMessage *res = NULL;
	int rc;

	rc = ldap_result( ld, p->rp_msgid, LDAP_MSG_ALL, NULL, &res );
	if ( rc <= 0 ) {
		rev_lost( ld, rc );
		rev_doubt( p->rp_dn );
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
rev_send( LDAP *ld, const char *dn, rev_plan *pl, int in_txn, int *msgid )
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
	} else if ( in_txn ) {
		/* RFC 5805 section 2.2: critical, the identifier as value */
		memset( &relax, 0, sizeof( relax ) );
		relax.ldctl_oid = LDAP_CONTROL_TXN_SPEC;
		relax.ldctl_iscritical = 1;
		relax.ldctl_value.bv_val = r.b.b_txnid->bv_val ? r.b.b_txnid->bv_val : "";
		relax.ldctl_value.bv_len = r.b.b_txnid->bv_len;
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

/* What a sent modify keeps until its answer: its msgid, the DN, the
 * thumbprints it removes (and their JSON, with -o json). */
static void
rev_pending_set( rev_pending *p, int msgid, const char *dn, rev_plan *pl )
{
	int i, k = 0;

	p->rp_msgid = msgid;
	p->rp_dn = strdup( dn );
	p->rp_tp = calloc( pl->ntake ? pl->ntake : 1, sizeof( char * ) );
	if ( p->rp_dn == NULL || p->rp_tp == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	for ( i = 0; i < pl->n; i++ )
		if ( pl->take[i] && ( p->rp_tp[k++] = strdup( pl->sha[i] ) ) == NULL ) {
			perror( cp_opt.prog );
			exit( EXIT_FAILURE );
		}
	p->rp_ncerts = k;
	if ( cp_opt.format == CP_FMT_JSON )
		p->rp_json = rev_json( pl, dn );
}

/* Queue the modify of pl for dn. */
static void
rev_queue( LDAP *ld, const char *dn, rev_plan *pl )
{
	int rc, msgid;

	rev_drain( ld, r.window - 1 );
	if ( r.stop )
		return;
	rc = rev_send( ld, dn, pl, 0, &msgid );
	if ( rc != LDAP_SUCCESS ) {
		char what[1024];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, cp_esc_dn( dn ) );
		rev_fail( cp_ld_error( ld, what, rc ) );
		r.stop = 1;
		return;
	}
	rev_pending_set( rev_find( 0 ), msgid, dn, pl );
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
	if ( rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT ) {
		rev_lost( ld, rc );
		ldap_msgfree( res );
		return;
	}
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
	} else if ( ( rc = rev_send( ld, p->rp_dn, &pl, 0, &msgid ) ) == LDAP_SUCCESS ) {
		LDAPMessage *mres = NULL;
		char what[1024];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, cp_esc_dn( p->rp_dn ) );
		rc = ldap_result( ld, msgid, LDAP_MSG_ALL, NULL, &mres );
		if ( rc <= 0 ) {
			rev_lost( ld, rc );
			rev_doubt( p->rp_dn );
		} else if ( ( rc = cp_result( ld, mres, what ) ) == LDAP_SUCCESS ) {
			char *j = cp_opt.format == CP_FMT_JSON ? rev_json( &pl, p->rp_dn ) : NULL;

			rev_committed( p->rp_dn, pl.ntake, j );
			free( j );
		} else {
			rev_fail( rc );
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
		rev_committed( p->rp_dn, p->rp_ncerts, p->rp_json );
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

/* ---- transactions (RFC 5805) ------------------------------------------------------ */

/* Does the server offer transactions (root DSE supportedExtension
 * 1.3.6.1.1.21.1)?  Reads its namingContexts too: a transaction cannot
 * span two databases, so a batch holds the users of one naming context. */
static int
rev_txn_probe( LDAP *ld )
{
	static char *attrs[] = { "supportedExtension", "namingContexts", NULL };
	LDAPMessage *res = NULL, *e;
	struct berval **v;
	int rc, i, have = 0;

	rc = ldap_search_ext_s( ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
		NULL, NULL, NULL, 1, &res );
	if ( rc == LDAP_SUCCESS && ( e = ldap_first_entry( ld, res ) ) != NULL ) {
		v = ldap_get_values_len( ld, e, "supportedExtension" );
		for ( i = 0; v && v[i]; i++ )
			if ( v[i]->bv_len == strlen( LDAP_EXOP_TXN_START ) &&
			     memcmp( v[i]->bv_val, LDAP_EXOP_TXN_START, v[i]->bv_len ) == 0 )
				have = 1;
		ldap_value_free_len( v );
		v = ldap_get_values_len( ld, e, "namingContexts" );
		for ( i = 0; v && v[i]; i++ )
			;
		r.ctxs = calloc( i + 1, sizeof( char * ) );
		if ( r.ctxs == NULL ) {
			perror( cp_opt.prog );
			exit( EXIT_FAILURE );
		}
		for ( i = 0; v && v[i]; i++ ) {
			r.ctxs[i] = strndup( v[i]->bv_val, v[i]->bv_len );
			if ( r.ctxs[i] == NULL ) {
				perror( cp_opt.prog );
				exit( EXIT_FAILURE );
			}
		}
		ldap_value_free_len( v );
	}
	ldap_msgfree( res );
	return have;
}

/* The naming context holding dn (the longest that is a suffix of it), or
 * NULL. */
static const char *
rev_ctx_of( const char *dn )
{
	size_t n = strlen( dn ), best = 0, k;
	const char *ctx = NULL;
	int i;

	for ( i = 0; r.ctxs && r.ctxs[i]; i++ ) {
		k = strlen( r.ctxs[i] );
		if ( k == 0 || k > n || k < best || strcasecmp( dn + n - k, r.ctxs[i] ) != 0 )
			continue;
		if ( k < n && dn[n - k - 1] != ',' )
			continue;
		best = k;
		ctx = r.ctxs[i];
	}
	return ctx;
}

static int
rev_conn_error( int rc )
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
		rc == LDAP_UNAVAILABLE || rc == -1;
}

/* Start the batch's transaction; -1 when that failed (transactions are then
 * off for the rest of the run, or the connection is gone). */
static int
rev_txn_start( LDAP *ld )
{
	int rc;

	r.b.b_txnid = NULL;
	rc = ldap_txn_start_s( ld, NULL, NULL, &r.b.b_txnid );
	if ( rc != LDAP_SUCCESS ) {
		if ( rev_conn_error( rc ) ) {
			rev_lost( ld, rc );
			return -1;
		}
		cp_warn( "cannot start a transaction: %s (%d): one modify per user from here on",
			ldap_err2string( rc ), rc );
		r.txn = 0;
		return -1;
	}
	if ( r.b.b_txnid == NULL ) {
		r.b.b_txnid = ber_memcalloc( 1, sizeof( struct berval ) );
		if ( r.b.b_txnid == NULL ) {
			perror( cp_opt.prog );
			exit( EXIT_FAILURE );
		}
	}
	r.b.b_open = 1;
	return 0;
}

/* The answer to a modify sent inside the transaction: queued, or refused
 * (not part of the transaction then). */
static void
rev_txn_answer( LDAP *ld, rev_pending *p, LDAPMessage *res )
{
	int err = LDAP_OTHER, rc;
	char *info = NULL;

	rc = ldap_parse_result( ld, res, &err, NULL, &info, NULL, NULL, 0 );
	if ( rc != LDAP_SUCCESS )
		err = rc;
	if ( err == LDAP_SUCCESS ) {
		p->rp_state = RP_QUEUED;
	} else {
		p->rp_state = RP_REFUSED;
		p->rp_err = err;
		if ( cp_opt.verbose )
			fprintf( stderr, "%s: \"%s\": not accepted into the transaction: %s (%d)%s%s; "
				"it will be revoked on its own\n", cp_opt.prog, cp_esc_dn( p->rp_dn ),
				ldap_err2string( err ), err, info && *info ? ": " : "",
				info ? cp_esc( info ) : "" );
	}
	ldap_memfree( info );
	r.b.b_unanswered--;
}

/* Wait for the answer to the oldest modify of the batch not answered yet. */
static void
rev_batch_wait_one( LDAP *ld )
{
	LDAPMessage *res = NULL;
	int i, rc;

	for ( i = 0; i < r.b.b_n && r.b.b_v[i].rp_state != RP_SENT; i++ )
		;
	if ( i == r.b.b_n ) {
		r.b.b_unanswered = 0;
		return;
	}
	rc = ldap_result( ld, r.b.b_v[i].rp_msgid, LDAP_MSG_ALL, NULL, &res );
	if ( rc <= 0 ) {
		rev_lost( ld, rc );
		return;
	}
	rev_txn_answer( ld, &r.b.b_v[i], res );
	ldap_msgfree( res );
}

/* The message ID of the failed operation in a txnEndRes (RFC 5805 2.3), or
 * -1. */
static int
rev_txn_failed_id( struct berval *data )
{
	BerElement *ber;
	ber_tag_t tag;
	ber_len_t len;
	ber_int_t id = -1;

	if ( data == NULL || data->bv_len == 0 || ( ber = ber_init( data ) ) == NULL )
		return -1;
	if ( ber_scanf( ber, "{" ) != LBER_ERROR &&
	     ber_peek_tag( ber, &len ) == LBER_INTEGER ) {
		tag = ber_scanf( ber, "i", &id );
		if ( tag == LBER_ERROR )
			id = -1;
	}
	ber_free( ber, 1 );
	return id;
}

/* End the batch: commit what the server accepted (abort after SIGINT or
 * SIGTERM); when the commit fails, revoke its users one at a time; revoke
 * those refused into the transaction one at a time.  upto: the identities
 * finished once every member is (r.handled). */
static void
rev_batch_end( LDAP *ld, long upto )
{
	LDAPMessage *res = NULL;
	struct berval *data = NULL;
	char *matched = NULL, *info = NULL;
	long errs0 = r.errors;
	int i, nq = 0, rc, msgid, err = LDAP_SUCCESS, commit, failid = -1, sent = 0;

	if ( r.b.b_n == 0 && !r.b.b_open ) {
		if ( !r.sig && !r.lost )
			r.handled = upto;
		return;
	}
	while ( r.b.b_unanswered > 0 && !r.lost )
		rev_batch_wait_one( ld );
	for ( i = 0; i < r.b.b_n; i++ )
		nq += r.b.b_v[i].rp_state == RP_QUEUED;
	commit = !r.sig && !r.lost && nq > 0;
	if ( nq == 0 && r.b.b_n > 0 && !r.lost ) {
		/* e.g. slapd on a database without transactions (back-ldif): it
		 * advertises the extension and refuses each modify in one
		 * (unavailableCriticalExtension, or unwillingToPerform) */
		for ( i = 0; i < r.b.b_n && ( r.b.b_v[i].rp_err == LDAP_UNWILLING_TO_PERFORM ||
		      r.b.b_v[i].rp_err == LDAP_UNAVAILABLE_CRITICAL_EXTENSION ); i++ )
			;
		if ( i == r.b.b_n ) {
			cp_warn( "the server refuses transactions for \"%s\": one modify per user "
				"from here on", cp_esc_dn( r.b.b_ctx ? r.b.b_ctx : r.b.b_v[0].rp_dn ) );
			r.txn = 0;
		}
	}
	if ( r.b.b_open && !r.lost ) {
		rc = ldap_txn_end( ld, commit, r.b.b_txnid, NULL, NULL, &msgid );
		if ( rc == LDAP_SUCCESS ) {
			sent = 1;
			rc = ldap_result( ld, msgid, LDAP_MSG_ALL, NULL, &res );
			if ( rc > 0 ) {
				rc = ldap_parse_extended_result( ld, res, NULL, &data, 0 );
				if ( rc == LDAP_SUCCESS )
					rc = ldap_parse_result( ld, res, &err, &matched, &info,
						NULL, NULL, 0 );
				if ( rc != LDAP_SUCCESS )
					err = rc;
				failid = rev_txn_failed_id( data );
			} else {
				rev_lost( ld, rc );
			}
		} else {
			rev_lost( ld, rc );
		}
	}
	if ( r.lost ) {
		if ( commit && sent ) {
			/* the commit went out and no answer came back: all or none */
			const char *f = NULL, *l = NULL;
			long fs = 0, ls = 0;

			for ( i = 0; i < r.b.b_n; i++ ) {
				if ( r.b.b_v[i].rp_state != RP_QUEUED )
					continue;
				if ( f == NULL ) {
					f = r.b.b_v[i].rp_dn;
					fs = r.b.b_v[i].rp_seq;
				}
				l = r.b.b_v[i].rp_dn;
				ls = r.b.b_v[i].rp_seq;
				r.doubt++;
				if ( cp_opt.verbose )
					fprintf( stderr, "%s: \"%s\": in doubt\n", cp_opt.prog,
						cp_esc_dn( l ) );
			}
			fprintf( stderr, "%s: in doubt: the commit of the last transaction (%d users, "
				"identities %ld to %ld, \"%s\" to \"%s\") was sent but not answered: "
				"either all of them are revoked or none\n", cp_opt.prog, nq, fs, ls,
				cp_esc_dn( f ), cp_esc_dn( l ) );
		} else if ( nq ) {
			fprintf( stderr, "%s: the transaction in progress (%d users) was not "
				"committed: the connection ended before its end (nothing of it is "
				"changed)\n", cp_opt.prog, nq );
		}
		goto out;
	}
	if ( commit && err == LDAP_SUCCESS ) {
		r.txns++;
		for ( i = 0; i < r.b.b_n; i++ ) {
			rev_pending *p = &r.b.b_v[i];

			if ( p->rp_state != RP_QUEUED )
				continue;
			rev_committed( p->rp_dn, p->rp_ncerts, p->rp_json );
			p->rp_state = 0;
		}
	} else if ( commit ) {
		const char *who = NULL;

		r.txn_failed++;
		for ( i = 0; failid >= 0 && i < r.b.b_n; i++ )
			if ( r.b.b_v[i].rp_msgid == failid )
				who = r.b.b_v[i].rp_dn;
		fprintf( stderr, "%s: a transaction of %d users was not committed (nothing of it "
			"was changed): %s%s%s%s (%d)%s%s; revoking them one at a time\n", cp_opt.prog,
			nq, who ? "\"" : "", who ? cp_esc_dn( who ) : "", who ? "\": " : "",
			ldap_err2string( err ), err, info && *info ? ": " : "",
			info ? cp_esc( info ) : "" );
		for ( i = 0; i < r.b.b_n; i++ ) {
			rev_pending *p = &r.b.b_v[i];

			if ( p->rp_state != RP_QUEUED )
				continue;
			if ( r.sig || r.lost || ( !cp_opt.contoerr && r.errors > errs0 ) )
				break;
			rev_retry( ld, p );
			p->rp_state = 0;
		}
	} else if ( r.sig ) {
		r.aborted = nq;
	}
	/* refused into the transaction (another database, an attribute new to
	 * the database, ...): one at a time, outside any transaction */
	for ( i = 0; i < r.b.b_n; i++ ) {
		rev_pending *p = &r.b.b_v[i];

		if ( p->rp_state != RP_REFUSED )
			continue;
		if ( r.sig ) {
			r.aborted++;
			continue;
		}
		if ( r.lost || ( !cp_opt.contoerr && r.errors > errs0 ) )
			break;
		rev_retry( ld, p );
		p->rp_state = 0;
	}
out:
	/* identities are finished up to the first member that is not */
	for ( i = 0; i < r.b.b_n && r.b.b_v[i].rp_state == 0; i++ )
		;
	r.handled = i < r.b.b_n ? r.b.b_v[i].rp_seq - 1 : upto;
	for ( i = 0; i < r.b.b_n; i++ )
		rev_pending_clear( &r.b.b_v[i] );
	r.b.b_n = 0;
	r.b.b_unanswered = 0;
	r.b.b_open = 0;
	r.b.b_ctx = NULL;
	ber_bvfree( r.b.b_txnid );
	r.b.b_txnid = NULL;
	ber_bvfree( data );
	ldap_memfree( matched );
	ldap_memfree( info );
	ldap_msgfree( res );
	rev_done_flush();
	rev_progress( 0 );
}

/* Queue the modify of pl for dn (identity number seq) in the transaction.
 * 1: it is in the transaction (rev_batch_end() says when, and whether, it
 * is finished); 0: it went as a single modify instead (finished once
 * answered); -1: not sent (stopping). */
static int
rev_txn_queue( LDAP *ld, const char *dn, rev_plan *pl, long seq )
{
	const char *ctx = rev_ctx_of( dn );
	rev_pending *p;
	int rc, msgid;

	if ( r.b.b_n && ctx != r.b.b_ctx )
		rev_batch_end( ld, seq - 1 );
	if ( REV_STOPPING() )
		return -1;
	if ( !r.txn || ( !r.b.b_open && rev_txn_start( ld ) ) ) {
		if ( r.lost )
			return -1;
		rev_queue( ld, dn, pl );
		rev_drain( ld, 0 );
		return 0;
	}
	r.b.b_ctx = ctx;
	while ( r.b.b_unanswered >= REV_WINDOW && !r.lost )
		rev_batch_wait_one( ld );
	if ( r.lost )
		return -1;
	rc = rev_send( ld, dn, pl, 1, &msgid );
	if ( rc != LDAP_SUCCESS ) {
		rev_lost( ld, rc );
		return -1;
	}
	p = &r.b.b_v[r.b.b_n++];
	rev_pending_set( p, msgid, dn, pl );
	p->rp_seq = seq;
	p->rp_state = RP_SENT;
	r.b.b_unanswered++;
	if ( r.b.b_n == r.batch )
		rev_batch_end( ld, seq );
	return 1;
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
	int rc, queued = 0;

	if ( r.sig || r.lost )
		return 1;	/* this identity is not reached */
	r.done_items++;
	rev_progress( 0 );
	if ( e == NULL ) {
		if ( rev_conn_error( err ) ) {
			/* identity.c reported it; every item after it fails the same */
			r.lost = 1;
			r.done_items--;
			rev_fail( err );
			return 1;
		}
		if ( !( err == LDAP_NO_SUCH_OBJECT && r.force ) )
			rev_fail( err );
		if ( r.txn && r.b.b_n == 0 )
			r.handled = r.done_items;
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
	if ( r.txn && !r.plain_first ) {
		queued = rev_txn_queue( ld, dn, &pl, r.done_items );
	} else {
		rev_queue( ld, dn, &pl );
		if ( r.txn ) {
			/* the first revocation of a run goes on its own: it stores
			 * the record attributes outside any transaction (see
			 * slapo-certpin(5), Transactions) */
			rev_drain( ld, 0 );
			if ( r.acted_users )
				r.plain_first = 0;
		}
	}
done:
	/* Nothing open: this identity is finished too, unless it went into a
	 * transaction (rev_batch_end() says how far that got: after SIGINT it
	 * aborts the one just filled) or was not sent at all. */
	if ( r.txn && queued == 0 && r.b.b_n == 0 && r.npend == 0 && !r.lost )
		r.handled = r.done_items;
	rev_plan_free( &pl );
	ldap_memfree( dn );
	fflush( stdout );
	return REV_STOPPING();
}

static void
rev_on_signal( int sig )
{
	if ( !r.sig )
		r.sig = sig;
	else
		_exit( 128 + sig );	/* a second one: at once, report or not */
}

static void
rev_signals( void )
{
	struct sigaction sa;

	memset( &sa, 0, sizeof( sa ) );
	sa.sa_handler = rev_on_signal;
	sigemptyset( &sa.sa_mask );
	sa.sa_flags = SA_RESTART;
	sigaction( SIGINT, &sa, NULL );
	sigaction( SIGTERM, &sa, NULL );
}

/* After SIGINT/SIGTERM or a lost connection: what is done, exactly. */
static void
rev_report_interrupted( void )
{
	long h = r.txn ? r.handled : r.done_items - r.npend;
	const char *why = r.sig == SIGINT ? "SIGINT" : r.sig == SIGTERM ? "SIGTERM" :
		"the connection to the server was lost";

	if ( h < 0 )
		h = 0;
	if ( r.all )
		fprintf( stderr, "%s: interrupted (%s): %ld users done with, their "
			"revocations committed", cp_opt.prog, why, h );
	else
		fprintf( stderr, "%s: interrupted (%s): identities 1 to %ld of %ld are done "
			"with, their revocations committed; none after identity %ld was changed%s",
			cp_opt.prog, why, h, r.items, h, r.doubt ? " but those in doubt" : "" );
	if ( !r.all && h > 0 && r.its && h <= r.its->it_n ) {
		cp_item *it = &r.its->it_v[h - 1];

		if ( it->ci_line > 0 )
			fprintf( stderr, " (the last done: line %d of %s, \"%s\")", it->ci_line,
				r.its->it_src ? r.its->it_src : "the input", cp_esc( it->ci_value ) );
		else
			fprintf( stderr, " (the last done: \"%s\")", cp_esc( it->ci_value ) );
	}
	fputc( '\n', stderr );
	if ( r.aborted )
		fprintf( stderr, "%s: the transaction in progress (%ld users) was aborted: "
			"nothing of it was committed\n", cp_opt.prog, r.aborted );
	if ( r.doubt )
		fprintf( stderr, "%s: %ld users in doubt (named above): the server may or may "
			"not have revoked them\n", cp_opt.prog, r.doubt );
	fprintf( stderr, "%s: %ld users revoked in this run%s%s; run the same command again "
		"to finish (users already revoked have nothing to revoke)\n", cp_opt.prog,
		r.acted_users, r.done_fp ? ", listed in " : "", r.done_fp ? r.done_path : "" );
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
	if ( r.mode != MODE_REVOKE && ( r.batch_set || r.done_path ) )
		cp_usage_error( "--batch, --no-transactions and --done-file are for revocations" );
	if ( r.mode == MODE_UNDO && r.all )
		cp_usage_error( "--all does not work with --undo (name the users)" );
	if ( !r.batch_set )
		r.batch = REV_BATCH;
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
	if ( r.progress )
		rev_tty_stderr();
	if ( r.done_path && !cp_opt.dont ) {
		r.done_fp = fopen( r.done_path, "a" );
		if ( r.done_fp == NULL ) {
			fprintf( stderr, "%s: %s: %s\n", cp_opt.prog, r.done_path, strerror( errno ) );
			cp_tool_exit( NULL, EXIT_FAILURE );
		}
	}

	ld = cp_tool_connect();
	/* a signal must not look like a lost connection to libldap */
	ldap_set_option( ld, LDAP_OPT_RESTART, LDAP_OPT_ON );
	rev_signals();
	rc = cp_idconf_finish( &ic, ld );
	if ( rc )
		cp_tool_exit( ld, rc );
	if ( r.mode == MODE_REVOKE && r.batch > 0 && !cp_opt.dont && !r.confirm ) {
		r.txn = rev_txn_probe( ld );
		if ( !r.txn && ( r.batch_set || cp_opt.verbose ) )
			cp_warn( "the server offers no transactions (RFC 5805): one modify per user" );
	}
	if ( r.txn ) {
		r.plain_first = 1;
		r.b.b_v = calloc( r.batch, sizeof( rev_pending ) );
		if ( r.b.b_v == NULL ) {
			perror( cp_opt.prog );
			exit( EXIT_FAILURE );
		}
	}
	r.t0 = rev_clock();
	if ( r.all ) {
		rc = cp_id_all( ld, &ic, r.mode == MODE_REVOKE ? "(certpinThumbprint=*)" :
			"(certpinRevoked=*)", (char **)rev_attrs, rev_entry, NULL );
		if ( rc ) {
			if ( rev_conn_error( rc ) )
				r.lost = 1;
			rev_fail( rc );
		}
	} else {
		r.its = &its;
		cp_id_resolve( ld, &ic, &its, (char **)rev_attrs, rev_entry, NULL );
	}
	if ( !r.lost ) {
		rev_drain( ld, 0 );
	} else {
		for ( i = 0; i < REV_WINDOW; i++ )
			if ( r.pend[i].rp_msgid ) {
				rev_doubt( r.pend[i].rp_dn );
				rev_free_pending( &r.pend[i] );
			}
	}
	if ( r.txn )
		rev_batch_end( ld, r.done_items );
	rev_progress( 1 );
	rev_done_flush();
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
	if ( r.txns && cp_opt.verbose )
		fprintf( stderr, ", %ld transaction%s", r.txns, r.txns == 1 ? "" : "s" );
	if ( r.sig || r.lost )
		fputs( "; interrupted", stderr );
	else if ( r.stop && !r.all && rev_handled() < r.items )
		fprintf( stderr, "; stopped after %ld of %ld identities (use -c to continue "
			"past errors)", rev_handled(), r.items );
	fputc( '\n', stderr );
	if ( r.sig || r.lost )
		rev_report_interrupted();
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
	if ( r.done_fp && fclose( r.done_fp ) != 0 ) {
		fprintf( stderr, "%s: %s: %s\n", cp_opt.prog, r.done_path, strerror( errno ) );
		r.err = EXIT_FAILURE;
	}
	if ( r.sig ) {
		/* die of the signal, as the shell expects of an interrupted command */
		if ( ld )
			ldap_unbind_ext_s( ld, NULL, NULL );
		signal( r.sig, SIG_DFL );
		raise( r.sig );
	}
	cp_tool_exit( ld, r.err );
	return r.err;
}
