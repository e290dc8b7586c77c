/* certpin-get.c - list the client certificates issued to users
 *
 * The equivalent of Lync's Get-CsClientCertificate: for each identity
 * (arguments, or one per line from -f FILE or standard input, including
 * ldapsearch's "dn:" lines), or for every user holding certificates
 * (--all), print the certificates' metadata as the certpin overlay records
 * it (certpinCertInfo), or with --revoked the revocation history
 * (certpinRevoked).  Filters: --issued-after/--issued-before (on
 * PublicationTime), --expires-before/--expires-after (on ExpirationTime),
 * all strict comparisons, dates in ISO 8601 UTC.  Output: a table,
 * --output=ldif, or --output=json (-j).  Records are read only through
 * lib/certinfo.c.  Every value printed in the table passes through
 * cp_esc()/cp_esc_dn(); LDIF base64-encodes what is not printable; JSON
 * escapes.  When a user's entry shows no certificate, a compare asks
 * whether the server hides them (insufficientAccess) rather than saying
 * there are none.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certinfo.h"
#include "common.h"
#include "identity.h"

enum { FMT_TABLE = CP_FMT_TEXT, FMT_LDIF = CP_FMT_LDIF, FMT_JSON = CP_FMT_JSON };

/* --all found nothing: entries of certpinUser checked for hidden
 * certificates before saying so */
#define GET_PROBE	10

enum {
	OPT_ALL = 0x100, OPT_REVOKED, OPT_ISSUED_AFTER, OPT_ISSUED_BEFORE,
	OPT_EXPIRES_BEFORE, OPT_EXPIRES_AFTER, OPT_CONFIG
};

static struct option get_long[] = {
	{ "all", no_argument, NULL, OPT_ALL },
	{ "revoked", no_argument, NULL, OPT_REVOKED },
	{ "issued-after", required_argument, NULL, OPT_ISSUED_AFTER },
	{ "issued-before", required_argument, NULL, OPT_ISSUED_BEFORE },
	{ "expires-before", required_argument, NULL, OPT_EXPIRES_BEFORE },
	{ "expires-after", required_argument, NULL, OPT_EXPIRES_AFTER },
	{ "config", required_argument, NULL, OPT_CONFIG },
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
"  --output=table|ldif|json output format (default table); -j: json\n"
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
get_opt( int c, char *arg )
{
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

	switch ( cp_opt.format ) {
	case FMT_TABLE:
		/* what the directory holds is untrusted: escaped for the terminal */
		if ( g.revoked ) {
			if ( g.shown == 0 )
				printf( "%-20s %-20s %-64s %-20s %-40s %s\n", "RevocationTime",
					"ExpirationTime", "Thumbprint", "Reason", "RevokedBy",
					"Identity" );
			printf( "%-20s %-20s %-64s %-20s %-40s %s\n",
				r->revoked[0] ? r->revoked : "-",
				r->expires[0] ? r->expires : "-", cp_esc( r->ci.ci_sha256 ),
				nz( r->reason ) ? cp_esc( r->reason ) : "-",
				nz( r->by ) ? cp_esc_dn( r->by ) : "-", cp_esc_dn( r->dn ) );
		} else {
			if ( g.shown == 0 )
				printf( "%-20s %-20s %-64s %-16s %s\n", "PublicationTime",
					"ExpirationTime", "Thumbprint", "Endpoint", "Identity" );
			printf( "%-20s %-20s %-64s %-16s %s\n",
				r->published[0] ? r->published : "-",
				r->expires[0] ? r->expires : "-", cp_esc( r->ci.ci_sha256 ),
				nz( r->ci.ci_endpoint ) ? cp_esc( r->ci.ci_endpoint ) : "-",
				cp_esc_dn( r->dn ) );
		}
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
	if ( vals == NULL && it != NULL && dn &&
	     cp_has_class( ld, e, g.revoked ? "certpinHistory" : "certpinUser" ) &&
	     cp_attr_hidden( ld, dn, g.revoked ? "certpinRevoked" : "certpinCertInfo" ) ) {
		/* not "no certificates": the server does not let us see them */
		cp_hidden_error( dn, g.revoked ? "the server hides this user's "
			"revocation records from the bound identity" : "the server "
			"hides this user's certificates from the bound identity" );
		g.err = LDAP_INSUFFICIENT_ACCESS;
		ldap_memfree( dn );
		return !cp_opt.contoerr;
	}
	for ( i = 0; vals && vals[i]; i++ ) {
		get_row r;
		char when[CERTPIN_GENTIME_LEN + 1];
		time_t published = 0;
		int have_published = 0;

		memset( &r, 0, sizeof( r ) );
		if ( certpin_certinfo_parse( vals[i]->bv_val, vals[i]->bv_len, &r.ci ) != 0 ) {
			cp_warn( "%s: ignoring a malformed record", cp_esc_dn( dn ) );
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

/* --all found nothing: is that so, or does the server hide them?  Look at
 * a few users enabled for certificates: one whose certificates are hidden
 * makes the answer "insufficient access". */
static void
get_probe( LDAP *ld, cp_idconf *ic, char *attr )
{
	char *attrs[] = { attr, NULL }, *filter, *dn;
	LDAPMessage *res = NULL, *e;
	size_t len;
	int rc;

	len = strlen( ic->ic_filter ) + 80;
	filter = malloc( len );
	if ( filter == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	snprintf( filter, len, "(&%s(|(objectClass=certpinUser)"
		"(objectClass=certpinHistory)))", ic->ic_filter );
	rc = ldap_search_ext_s( ld, ic->ic_base, LDAP_SCOPE_SUBTREE, filter, attrs, 0,
		NULL, NULL, NULL, GET_PROBE, &res );
	free( filter );
	if ( rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED ) {
		ldap_msgfree( res );
		return;
	}
	for ( e = ldap_first_entry( ld, res ); e; e = ldap_next_entry( ld, e ) ) {
		dn = ldap_get_dn( ld, e );
		if ( dn && cp_attr_hidden( ld, dn, attr ) ) {
			char info[1024];

			snprintf( info, sizeof( info ), "no %s visible: the server hides "
				"them from the bound identity (e.g. those of \"%s\")",
				g.revoked ? "revocation records" : "certificates", cp_esc_dn( dn ) );
			cp_perror( cp_opt.prog, LDAP_INSUFFICIENT_ACCESS, NULL, NULL );
			fprintf( stderr, "\tadditional info: %s\n", info );
			g.err = LDAP_INSUFFICIENT_ACCESS;
			ldap_memfree( dn );
			break;
		}
		ldap_memfree( dn );
	}
	ldap_msgfree( res );
}

int
main( int argc, char **argv )
{
	char *attrs[] = { NULL, "objectClass", NULL };
	cp_idconf ic;
	cp_items its;
	LDAP *ld;
	int first, rc;

	cp_tool_init( "certpin-get", "", get_long, get_opt, get_usage );
	cp_tool_formats( CP_FMT_MASK( FMT_LDIF ) | CP_FMT_MASK( FMT_JSON ), "table" );
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
		else if ( g.users == 0 )
			get_probe( ld, &ic, attrs[0] );
	} else {
		cp_id_resolve( ld, &ic, &its, attrs, get_entry, NULL );
	}
	if ( cp_opt.format == FMT_JSON )
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
