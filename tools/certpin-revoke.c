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
 * revoked, is reported and is not an error.
 */

#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certinfo.h"
#include "common.h"
#include "identity.h"

#define REV_WINDOW	64	/* modifies in flight with -c */
#define REV_MAXTP	64	/* --thumbprint values */

enum { OPT_THUMBPRINT = 0x100, OPT_REASON, OPT_CONFIRM, OPT_FORCE, OPT_CONFIG };

static struct option rev_long[] = {
	{ "thumbprint", required_argument, NULL, OPT_THUMBPRINT },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "confirm", no_argument, NULL, OPT_CONFIRM },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ NULL, 0, NULL, 0 }
};

/* A modify in flight. */
typedef struct rev_pending {
	int	rp_msgid;		/* 0: free */
	char	*rp_dn;
	int	rp_ncerts;
	char	**rp_tp;		/* sha256 of each certificate deleted */
} rev_pending;

static struct {
	char		*tp[REV_MAXTP];	/* --thumbprint, normalized lowercase hex */
	int		ntp;
	char		*reason;
	int		confirm;
	int		force;
	char		*config;
	/* running state */
	rev_pending	pend[REV_WINDOW];
	int		npend;
	int		window;
	long		items, done_items;
	long		revoked, users, nothing, errors, declined;
	int		err;		/* last error: the exit status */
	int		stop;
	int		progress;
} r;

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
"  --reason TEXT           reason recorded in certpinRevoked\n"
"  --confirm               ask on the terminal before each user\n"
"  --force                 suppress non-fatal errors (unknown users,\n"
"                          certificates not held)\n"
"  -n                      WhatIf: show what would be revoked, change nothing\n"
"  --config FILE           identity configuration (default $CERTPIN_CONF,\n"
"                          /etc/ldap/certpin.conf)\n" );
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
	else if ( r.done_items % 100 == 0 )
		fprintf( stderr, "\r%s: %ld/%ld users, %ld certificates revoked",
			cp_opt.prog, r.done_items, r.items, r.revoked );
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

/* The certificates of entry e to revoke: DER values and their sha256. */
typedef struct rev_plan {
	struct berval	**der;		/* certpinCertificate;binary values */
	struct berval	**info;		/* certpinCertInfo values */
	struct berval	**hist;		/* certpinRevoked values */
	int		*take;		/* per der value */
	char		(*sha)[65];
	int		n, ntake;
} rev_plan;

static const char *rev_attrs[] = { "certpinCertificate;binary", "certpinCertInfo",
	"certpinRevoked", NULL };

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

/* Does the entry's history hold a revocation of thumbprint tp? */
static int
rev_in_history( rev_plan *pl, const char *tp )
{
	certpin_certinfo ci;
	int i, hit;

	for ( i = 0; pl->hist && pl->hist[i]; i++ ) {
		if ( certpin_certinfo_parse( pl->hist[i]->bv_val, pl->hist[i]->bv_len, &ci ) )
			continue;
		hit = strcmp( ci.ci_sha256, tp ) == 0 || strcasecmp( ci.ci_sha1, tp ) == 0;
		certpin_certinfo_free( &ci );
		if ( hit )
			return 1;
	}
	return 0;
}

/* Does certificate i match thumbprint tp (sha256, or sha1 via metadata)? */
static int
rev_match( rev_plan *pl, int i, const char *tp )
{
	certpin_certinfo ci;
	int hit;

	if ( strlen( tp ) == 64 )
		return strcmp( pl->sha[i], tp ) == 0;
	if ( !rev_info( pl, pl->sha[i], &ci ) )
		return 0;
	hit = strcasecmp( ci.ci_sha1, tp ) == 0;
	certpin_certinfo_free( &ci );
	return hit;
}

/* Read the entry's certificates into pl, nothing chosen yet. */
static void
rev_plan_load( LDAP *ld, LDAPMessage *e, rev_plan *pl )
{
	int i;

	memset( pl, 0, sizeof( *pl ) );
	pl->der = ldap_get_values_len( ld, e, "certpinCertificate;binary" );
	pl->info = ldap_get_values_len( ld, e, "certpinCertInfo" );
	pl->hist = ldap_get_values_len( ld, e, "certpinRevoked" );
	for ( pl->n = 0; pl->der && pl->der[pl->n]; pl->n++ )
		;
	pl->take = calloc( pl->n + 1, sizeof( int ) );
	pl->sha = calloc( pl->n + 1, sizeof( *pl->sha ) );
	if ( pl->take == NULL || pl->sha == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	for ( i = 0; i < pl->n; i++ )
		certpin_sha256_hex( (unsigned char *)pl->der[i]->bv_val, pl->der[i]->bv_len,
			pl->sha[i] );
}

/* Choose what to revoke; returns -1 on a (reported) non-fatal error, -2
 * on bad input. */
static int
rev_plan_make( LDAP *ld, LDAPMessage *e, cp_item *it, const char *dn, rev_plan *pl )
{
	const char *want[REV_MAXTP + 1];
	char itp[80];
	int nwant = 0, i, j, bad = 0;

	rev_plan_load( ld, e, pl );
	for ( j = 0; j < r.ntp; j++ )
		want[nwant++] = r.tp[j];
	if ( it && it->ci_thumb ) {
		if ( rev_norm_tp( it->ci_thumb, itp, sizeof( itp ) ) ) {
			cp_warn( "\"%s\": invalid Thumbprint \"%s\" in the input", dn, it->ci_thumb );
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
	if ( nwant == 0 ) {
		for ( i = 0; i < pl->n; i++ )
			pl->take[i] = 1;
		pl->ntake = pl->n;
		return 0;
	}
	for ( j = 0; j < nwant; j++ ) {
		int found = 0;

		for ( i = 0; i < pl->n; i++ ) {
			if ( rev_match( pl, i, want[j] ) ) {
				if ( !pl->take[i] )
					pl->ntake++;
				pl->take[i] = found = 1;
			}
		}
		if ( found )
			continue;
		if ( rev_in_history( pl, want[j] ) ) {
			if ( cp_opt.verbose || cp_opt.dont )
				printf( "%s\"%s\": certificate %s already revoked\n",
					cp_opt.dont ? "!" : "", dn, want[j] );
		} else {
			if ( !r.force )
				cp_warn( "\"%s\": holds no certificate with thumbprint %s", dn, want[j] );
			bad = 1;
		}
	}
	return bad && !r.force ? -1 : 0;
}

static void
rev_show( rev_plan *pl, const char *dn )
{
	certpin_certinfo ci;
	char exp[CERTPIN_ISOTIME_LEN + 1];
	int i;

	for ( i = 0; i < pl->n; i++ ) {
		if ( !pl->take[i] )
			continue;
		if ( rev_info( pl, pl->sha[i], &ci ) ) {
			if ( certpin_gentime_iso( ci.ci_notafter, exp ) )
				strcpy( exp, "?" );
			printf( "%srevoking certificate %s (serial %s, expires %s) of \"%s\"\n",
				cp_opt.dont ? "!" : "", pl->sha[i],
				ci.ci_serial[0] ? ci.ci_serial : "?", exp, dn );
			certpin_certinfo_free( &ci );
		} else {
			printf( "%srevoking certificate %s of \"%s\"\n",
				cp_opt.dont ? "!" : "", pl->sha[i], dn );
		}
	}
	if ( r.reason && cp_opt.verbose )
		printf( "%s\treason: %s\n", cp_opt.dont ? "!" : "", r.reason );
}

/* Send the modify for plan pl: delete the chosen values, add reasons. */
static int
rev_send( LDAP *ld, const char *dn, rev_plan *pl, int *msgid )
{
	LDAPMod del, add, *mods[3];
	struct berval **dvals, **rvals = NULL, *rv = NULL;
	int i, k = 0, rc;

	dvals = calloc( pl->ntake + 1, sizeof( *dvals ) );
	if ( r.reason ) {
		rvals = calloc( pl->ntake + 1, sizeof( *rvals ) );
		rv = calloc( pl->ntake, sizeof( *rv ) );
	}
	if ( dvals == NULL || ( r.reason && ( rvals == NULL || rv == NULL ) ) ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	for ( i = 0; i < pl->n; i++ ) {
		if ( !pl->take[i] )
			continue;
		dvals[k] = pl->der[i];
		if ( r.reason ) {
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
	del.mod_type = "certpinCertificate;binary";
	del.mod_bvalues = dvals;
	mods[0] = &del;
	mods[1] = NULL;
	if ( r.reason ) {
		add.mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES;
		add.mod_type = "certpinRevoked";
		add.mod_bvalues = rvals;
		mods[1] = &add;
		mods[2] = NULL;
	}
	rc = ldap_modify_ext( ld, dn, mods, NULL, NULL, msgid );
	for ( i = 0; r.reason && i < k; i++ )
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
		char what[512];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, dn );
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
	r.npend++;
	if ( r.window == 1 )
		rev_drain( ld, 0 );
}

/* The entry changed under us (noSuchAttribute): read it again, revoke
 * what of the planned certificates it still holds. */
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
		char what[512];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, p->rp_dn );
		cp_perror( what, rc ? rc : LDAP_NO_SUCH_OBJECT, NULL, NULL );
		rev_fail( rc ? rc : LDAP_NO_SUCH_OBJECT );
		ldap_msgfree( res );
		return;
	}
	rev_plan_load( ld, e, &pl );
	for ( i = 0; i < pl.n; i++ ) {
		for ( j = 0; j < p->rp_ncerts; j++ )
			if ( strcmp( pl.sha[i], p->rp_tp[j] ) == 0 )
				pl.take[i] = 1;
		pl.ntake += pl.take[i];
	}
	if ( pl.ntake == 0 ) {
		r.nothing++;
		if ( cp_opt.verbose )
			printf( "\"%s\": already revoked\n", p->rp_dn );
	} else if ( ( rc = rev_send( ld, p->rp_dn, &pl, &msgid ) ) == LDAP_SUCCESS ) {
		LDAPMessage *mres = NULL;

		if ( ldap_result( ld, msgid, LDAP_MSG_ALL, NULL, &mres ) > 0 &&
		     ( rc = cp_result( ld, mres, p->rp_dn ) ) == LDAP_SUCCESS )
			r.revoked += pl.ntake;
		else
			rev_fail( rc ? rc : LDAP_OTHER );
		ldap_msgfree( mres );
	} else {
		rev_fail( cp_ld_error( ld, p->rp_dn, rc ) );
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
	} else if ( err == LDAP_NO_SUCH_ATTRIBUTE ) {
		rev_retry( ld, p );
	} else {
		char what[512];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, p->rp_dn );
		cp_perror( what, err, matched, info );
		rev_fail( err );
	}
	ldap_memfree( matched );
	ldap_memfree( info );
	rev_free_pending( p );
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
	r.users++;
	rc = rev_plan_make( ld, e, it, dn, &pl );
	if ( rc < 0 ) {
		rev_fail( rc == -2 ? CP_ID_EINPUT : LDAP_NO_SUCH_ATTRIBUTE );
		goto done;
	}
	if ( pl.ntake == 0 ) {
		r.nothing++;
		if ( cp_opt.verbose || ( cp_opt.dont && !r.ntp && !( it && it->ci_thumb ) ) )
			printf( "%s\"%s\": no certificates to revoke\n", cp_opt.dont ? "!" : "", dn );
		goto done;
	}
	if ( r.confirm ) {
		int yes = cp_confirm( "Revoke %d certificate%s of \"%s\"?", pl.ntake,
			pl.ntake == 1 ? "" : "s", dn );

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
	if ( cp_opt.dont || cp_opt.verbose )
		rev_show( &pl, dn );
	if ( cp_opt.dont ) {
		r.revoked += pl.ntake;
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
	int first, rc, i;

	cp_tool_init( "certpin-revoke", "", rev_long, rev_opt, rev_usage );
	first = cp_tool_args( argc, argv );
	if ( r.confirm && cp_opt.dont )
		cp_usage_error( "--confirm and -n: nothing would be done to confirm" );
	cp_idconf_load( &ic, r.config );
	ic.ic_quiet_unknown = r.force;
	ic.ic_other = rev_other;
	cp_items_read( &its, argc, argv, first );
	if ( its.it_n == 0 ) {
		cp_warn( "no identities given" );
		cp_tool_exit( NULL, EXIT_FAILURE );
	}
	r.items = its.it_n;
	r.window = cp_opt.contoerr ? REV_WINDOW : 1;
	r.progress = cp_progress_ok() && its.it_n >= 100 && !cp_opt.verbose && !cp_opt.dont;

	ld = cp_tool_connect();
	rc = cp_idconf_finish( &ic, ld );
	if ( rc )
		cp_tool_exit( ld, rc );
	cp_id_resolve( ld, &ic, &its, (char **)rev_attrs, rev_entry, NULL );
	rev_drain( ld, 0 );
	rev_progress( 1 );

	fprintf( stderr, "%s: %s%ld certificate%s %s for %ld user%s",
		cp_opt.prog, cp_opt.dont ? "WhatIf: " : "", r.revoked,
		r.revoked == 1 ? "" : "s", cp_opt.dont ? "would be revoked" : "revoked",
		r.users, r.users == 1 ? "" : "s" );
	if ( r.nothing )
		fprintf( stderr, ", %ld with nothing to revoke", r.nothing );
	if ( r.declined )
		fprintf( stderr, ", %ld declined", r.declined );
	if ( r.errors )
		fprintf( stderr, ", %ld error%s", r.errors, r.errors == 1 ? "" : "s" );
	if ( r.stop && r.done_items < r.items )
		fprintf( stderr, "; stopped after %ld of %ld identities (use -c to continue "
			"past errors)", r.done_items, r.items );
	fputc( '\n', stderr );

	for ( i = 0; i < r.ntp; i++ )
		free( r.tp[i] );
	cp_items_free( &its );
	cp_idconf_free( &ic );
	cp_tool_exit( ld, r.err );
	return r.err;
}
