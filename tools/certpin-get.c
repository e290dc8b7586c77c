/* certpin-get.c - list the client certificates issued to users
 *
 * The equivalent of Lync's Get-CsClientCertificate: for each identity
 * (arguments, or one per line from -f FILE or standard input, including
 * ldapsearch's "dn:" lines), or for every user holding certificates
 * (--all), print the certificates' metadata as the certpin overlay records
 * it (certpinCertInfo), or with --revoked the revocation history
 * (certpinRevoked).  Filters: --issued-after/--issued-before (on
 * PublicationTime), --expires-before/--expires-after (on ExpirationTime),
 * all strict comparisons, dates in ISO 8601 UTC.  Output: a table, -o ldif,
 * or -o json.  Records are read only through lib/certinfo.c.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certinfo.h"
#include "common.h"
#include "identity.h"

enum { FMT_TABLE, FMT_LDIF, FMT_JSON };

enum {
	OPT_ALL = 0x100, OPT_REVOKED, OPT_ISSUED_AFTER, OPT_ISSUED_BEFORE,
	OPT_EXPIRES_BEFORE, OPT_EXPIRES_AFTER, OPT_CONFIG, OPT_FORMAT
};

static struct option get_long[] = {
	{ "all", no_argument, NULL, OPT_ALL },
	{ "revoked", no_argument, NULL, OPT_REVOKED },
	{ "issued-after", required_argument, NULL, OPT_ISSUED_AFTER },
	{ "issued-before", required_argument, NULL, OPT_ISSUED_BEFORE },
	{ "expires-before", required_argument, NULL, OPT_EXPIRES_BEFORE },
	{ "expires-after", required_argument, NULL, OPT_EXPIRES_AFTER },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ NULL, 0, NULL, 0 }
};

/* A time filter: active, and the bound. */
typedef struct get_bound {
	int	gb_set;
	time_t	gb_t;
} get_bound;

static struct {
	int		all;
	int		revoked;
	int		format;
	int		format_set;
	char		*config;
	get_bound	issued_after, issued_before, expires_before, expires_after;
	/* running state */
	long		shown;
	int		users;
	int		err;		/* last error, the exit status */
} g;

static void
get_usage( FILE *fp )
{
	fprintf( fp,
"usage: certpin-get [options] [identity...]\n"
"List the client certificates issued to users (Get-CsClientCertificate).\n"
"An identity is a DN, sip:user@domain, user@domain (UPN), DOMAIN\\logon or a\n"
"display name; without identities, one per line is read from -f file or\n"
"standard input (ldapsearch's \"dn:\" lines are understood).\n"
"certpin-get options:\n"
"  --all                   every user holding certificates\n"
"  --revoked               list the revocation history instead\n"
"  --issued-after DATE     PublicationTime later than DATE\n"
"  --issued-before DATE    PublicationTime earlier than DATE\n"
"  --expires-before DATE   ExpirationTime earlier than DATE\n"
"  --expires-after DATE    ExpirationTime later than DATE\n"
"                          DATE: YYYY-MM-DD[THH:MM[:SS][Z]], UTC\n"
"  -o table|ldif|json      output format (default table); also --format\n"
"  --config FILE           identity configuration (default $CERTPIN_CONF,\n"
"                          /etc/ldap/certpin.conf)\n" );
}

static void
get_bound_set( get_bound *b, const char *opt, const char *arg )
{
	if ( b->gb_set )
		cp_usage_error( "--%s previously specified", opt );
	if ( certpin_date_parse( arg, &b->gb_t ) != 0 )
		cp_usage_error( "--%s: invalid date \"%s\" (use ISO 8601, e.g. 2018-09-05 "
			"or 2018-09-05T12:00:00Z)", opt, arg );
	b->gb_set = 1;
}

static int
get_format( const char *s )
{
	if ( strcasecmp( s, "table" ) == 0 )
		return FMT_TABLE;
	if ( strcasecmp( s, "ldif" ) == 0 )
		return FMT_LDIF;
	if ( strcasecmp( s, "json" ) == 0 )
		return FMT_JSON;
	return -1;
}

static int
get_opt( int c, char *arg )
{
	int f;

	switch ( c ) {
	case OPT_ALL:		g.all = 1; return 1;
	case OPT_REVOKED:	g.revoked = 1; return 1;
	case OPT_ISSUED_AFTER:	get_bound_set( &g.issued_after, "issued-after", arg ); return 1;
	case OPT_ISSUED_BEFORE:	get_bound_set( &g.issued_before, "issued-before", arg ); return 1;
	case OPT_EXPIRES_BEFORE: get_bound_set( &g.expires_before, "expires-before", arg ); return 1;
	case OPT_EXPIRES_AFTER:	get_bound_set( &g.expires_after, "expires-after", arg ); return 1;
	case OPT_CONFIG:
		if ( g.config )
			cp_usage_error( "--config previously specified" );
		g.config = arg;
		return 1;
	case OPT_FORMAT:
	case CP_OPT_GENERAL:
		if ( c == CP_OPT_GENERAL && strncasecmp( arg, "format=", 7 ) == 0 )
			arg += 7;
		f = get_format( arg );
		if ( f < 0 ) {
			if ( c == CP_OPT_GENERAL )
				return 0;	/* maybe an ldap.conf option */
			cp_usage_error( "unknown output format \"%s\" (table, ldif, json)", arg );
		}
		if ( g.format_set && g.format != f )
			cp_usage_error( "output format previously specified" );
		g.format = f;
		g.format_set = 1;
		return 1;
	}
	return 0;
}

/* ---- output ------------------------------------------------------------------------- */

/* One certificate (or revocation record) as named fields. */
typedef struct get_row {
	const char	*dn;
	certpin_certinfo ci;
	char		published[CERTPIN_ISOTIME_LEN + 1];
	char		expires[CERTPIN_ISOTIME_LEN + 1];
	char		notbefore[CERTPIN_ISOTIME_LEN + 1];
	char		revoked[CERTPIN_ISOTIME_LEN + 1];
	char		*by, *reason;
} get_row;

static void
get_iso( const char *gt, char out[CERTPIN_ISOTIME_LEN + 1] )
{
	if ( gt[0] == '\0' || certpin_gentime_iso( gt, out ) != 0 )
		out[0] = '\0';
}

static const char *
nz( const char *s )
{
	return s && *s ? s : NULL;
}

static void
get_print( get_row *r )
{
	/* field names as Lync's CertInfoDetails, plus certpin's */
	struct { const char *name, *value; } f[16];
	int n = 0, i;

	f[n].name = "Identity"; f[n++].value = r->dn;
	f[n].name = "Thumbprint"; f[n++].value = r->ci.ci_sha256;
	f[n].name = "Sha1Thumbprint"; f[n++].value = nz( r->ci.ci_sha1 );
	f[n].name = "SerialNumber"; f[n++].value = nz( r->ci.ci_serial );
	f[n].name = "Issuer"; f[n++].value = nz( r->ci.ci_issuer );
	f[n].name = "Subject"; f[n++].value = nz( r->ci.ci_subject );
	if ( !g.revoked ) {
		f[n].name = "PublicationTime"; f[n++].value = nz( r->published );
		f[n].name = "NotBefore"; f[n++].value = nz( r->notbefore );
	}
	f[n].name = "ExpirationTime"; f[n++].value = nz( r->expires );
	if ( !g.revoked ) {
		f[n].name = "Endpoint"; f[n++].value = nz( r->ci.ci_endpoint );
	} else {
		f[n].name = "RevocationTime"; f[n++].value = nz( r->revoked );
		f[n].name = "RevokedBy"; f[n++].value = nz( r->by );
		f[n].name = "Reason"; f[n++].value = nz( r->reason );
	}

	switch ( g.format ) {
	case FMT_TABLE:
		if ( g.shown == 0 )
			printf( "%-20s %-20s %-64s %s\n",
				g.revoked ? "RevocationTime" : "PublicationTime",
				"ExpirationTime", "Thumbprint", "Identity" );
		printf( "%-20s %-20s %-64s %s\n",
			g.revoked ? ( r->revoked[0] ? r->revoked : "-" ) :
				( r->published[0] ? r->published : "-" ),
			r->expires[0] ? r->expires : "-", r->ci.ci_sha256, r->dn );
		break;
	case FMT_LDIF:
		if ( g.shown )
			putchar( '\n' );
		cp_ldif_put( stdout, "dn", r->dn );
		for ( i = 1; i < n; i++ )
			if ( f[i].value )
				cp_ldif_put( stdout, f[i].name, f[i].value );
		break;
	case FMT_JSON:
		fputs( g.shown ? ",\n  {" : "[\n  {", stdout );
		for ( i = 0; i < n; i++ ) {
			printf( "%s\n    ", i ? "," : "" );
			cp_json_string( stdout, f[i].name );
			fputs( ": ", stdout );
			cp_json_string( stdout, f[i].value );
		}
		fputs( "\n  }", stdout );
		break;
	}
	g.shown++;
}

/* ---- per user ------------------------------------------------------------------------ */

static int
get_keep( get_row *r, time_t published, int have_published )
{
	if ( g.issued_after.gb_set &&
	     ( !have_published || !( published > g.issued_after.gb_t ) ) )
		return 0;
	if ( g.issued_before.gb_set &&
	     ( !have_published || !( published < g.issued_before.gb_t ) ) )
		return 0;
	if ( g.expires_before.gb_set &&
	     ( !r->ci.ci_notafter[0] || !( r->ci.ci_notafter_t < g.expires_before.gb_t ) ) )
		return 0;
	if ( g.expires_after.gb_set &&
	     ( !r->ci.ci_notafter[0] || !( r->ci.ci_notafter_t > g.expires_after.gb_t ) ) )
		return 0;
	return 1;
}

static int
get_entry( LDAP *ld, cp_item *it, LDAPMessage *e, int err, void *arg )
{
	struct berval **vals;
	char *dn;
	int i;

	if ( e == NULL ) {
		g.err = err;
		return !cp_opt.contoerr;	/* stop at the first error without -c */
	}
	g.users++;
	dn = ldap_get_dn( ld, e );
	vals = ldap_get_values_len( ld, e, g.revoked ? "certpinRevoked" : "certpinCertInfo" );
	for ( i = 0; vals && vals[i]; i++ ) {
		get_row r;
		char when[CERTPIN_GENTIME_LEN + 1];
		time_t published = 0;
		int have_published = 0;

		memset( &r, 0, sizeof( r ) );
		if ( certpin_certinfo_parse( vals[i]->bv_val, vals[i]->bv_len, &r.ci ) != 0 ) {
			cp_warn( "%s: ignoring a malformed record", dn );
			continue;
		}
		if ( it && it->ci_thumb && strcasecmp( it->ci_thumb, r.ci.ci_sha256 ) != 0 ) {
			certpin_certinfo_free( &r.ci );
			continue;
		}
		r.dn = dn;
		get_iso( r.ci.ci_published, r.published );
		get_iso( r.ci.ci_notafter, r.expires );
		get_iso( r.ci.ci_notbefore, r.notbefore );
		if ( r.ci.ci_published[0] &&
		     certpin_gentime_parse( r.ci.ci_published, &published ) == 0 )
			have_published = 1;
		if ( g.revoked ) {
			long l;

			if ( certpin_rec_get( vals[i]->bv_val, vals[i]->bv_len, "revoked",
					when, sizeof( when ) ) > 0 )
				get_iso( when, r.revoked );
			r.by = malloc( vals[i]->bv_len + 1 );
			r.reason = malloc( vals[i]->bv_len + 1 );
			if ( r.by == NULL || r.reason == NULL ) {
				perror( cp_opt.prog );
				exit( EXIT_FAILURE );
			}
			l = certpin_rec_get( vals[i]->bv_val, vals[i]->bv_len, "by",
				r.by, vals[i]->bv_len + 1 );
			if ( l < 0 )
				r.by[0] = '\0';
			l = certpin_rec_get( vals[i]->bv_val, vals[i]->bv_len, "reason",
				r.reason, vals[i]->bv_len + 1 );
			if ( l < 0 )
				r.reason[0] = '\0';
		}
		if ( get_keep( &r, published, have_published ) )
			get_print( &r );
		certpin_certinfo_free( &r.ci );
		free( r.by );
		free( r.reason );
	}
	ldap_value_free_len( vals );
	ldap_memfree( dn );
	fflush( stdout );
	return 0;
}

int
main( int argc, char **argv )
{
	char *attrs[] = { NULL, NULL };
	cp_idconf ic;
	cp_items its;
	LDAP *ld;
	int first, rc;

	cp_tool_init( "certpin-get", "", get_long, get_opt, get_usage );
	first = cp_tool_args( argc, argv );
	if ( g.revoked && ( g.issued_after.gb_set || g.issued_before.gb_set ) )
		cp_usage_error( "--issued-after/--issued-before do not apply to --revoked" );
	if ( g.all && first < argc )
		cp_usage_error( "--all takes no identities" );
	if ( g.all && cp_opt.infile )
		cp_usage_error( "--all incompatible with -f" );
	if ( cp_opt.dont )
		cp_usage_error( "-n has no meaning for certpin-get, which changes nothing" );
	cp_idconf_load( &ic, g.config );
	memset( &its, 0, sizeof( its ) );
	if ( !g.all )
		cp_items_read( &its, argc, argv, first );

	ld = cp_tool_connect();
	rc = cp_idconf_finish( &ic, ld );
	if ( rc )
		cp_tool_exit( ld, rc );
	attrs[0] = g.revoked ? "certpinRevoked" : "certpinCertInfo";

	if ( g.all ) {
		rc = cp_id_all( ld, &ic, g.revoked ? "(certpinRevoked=*)" : "(certpinThumbprint=*)",
			attrs, get_entry, NULL );
		if ( rc )
			g.err = rc;
	} else {
		cp_id_resolve( ld, &ic, &its, attrs, get_entry, NULL );
	}
	if ( g.format == FMT_JSON )
		fputs( g.shown ? "\n]\n" : "[]\n", stdout );
	if ( cp_opt.verbose )
		fprintf( stderr, "%s: %ld %s for %d user%s\n", cp_opt.prog, g.shown,
			g.revoked ? "revocation record(s)" : "certificate(s)",
			g.users, g.users == 1 ? "" : "s" );
	if ( fflush( stdout ) != 0 || ferror( stdout ) ) {
		perror( "standard output" );
		g.err = EXIT_FAILURE;
	}
	cp_items_free( &its );
	cp_idconf_free( &ic );
	cp_tool_exit( ld, g.err );
	return g.err;
}
