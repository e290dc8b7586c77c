/* identity.c - AD-style identity resolution for the certpin tools
 *
 * See identity.h for the forms, the configuration file and the rules.
 */

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

/* ---- configuration ------------------------------------------------------------ */

static char *
cp_xstrdup( const char *s )
{
	char *d = strdup( s );

	if ( d == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	return d;
}

static int
cp_attr_ok( const char *s )
{
	if ( !isalpha( (unsigned char)*s ) && !isdigit( (unsigned char)*s ) )
		return 0;
	for ( ; *s; s++ )
		if ( !isalnum( (unsigned char)*s ) && *s != '-' && *s != ';' && *s != '.' )
			return 0;
	return 1;
}

/* "prog: file:line: msg[: arg]" into the message; returns -1 */
static int
cp_conf_error( char *out, size_t outlen, const char *path, int line, const char *msg,
	const char *arg )
{
	snprintf( out, outlen, "%s: %s:%d: %s%s%s", cp_opt.prog, cp_esc( path ), line, msg,
		arg ? ": " : "", arg ? cp_esc( arg ) : "" );
	return -1;
}

static void
cp_set( char **slot, const char *v )
{
	free( *slot );
	*slot = cp_xstrdup( v );
}

/* The defaults of what the file may set. */
void
cp_idconf_init( cp_idconf *ic )
{
	memset( ic, 0, sizeof( *ic ) );
	ic->ic_filter = cp_xstrdup( "(objectClass=*)" );
	ic->ic_sip_attr = cp_xstrdup( "msRTCSIP-PrimaryUserAddress" );
	ic->ic_upn_attr = cp_xstrdup( "userPrincipalName" );
	ic->ic_logon_attr = cp_xstrdup( "sAMAccountName" );
	ic->ic_display_attr = cp_xstrdup( "displayName" );
	ic->ic_page = CP_ID_PAGE;
}

/* One directive (kw and its value arg, both trimmed, arg not empty). */
static int
cp_idconf_line( cp_idconf *ic, char *kw, char *arg, const char *path, int lineno,
	char *msg, size_t msglen )
{
	if ( strcasecmp( kw, "base" ) == 0 ) {
		LDAPDN dn;

		if ( ldap_str2dn( arg, &dn, LDAP_DN_FORMAT_LDAPV3 ) != LDAP_SUCCESS )
			return cp_conf_error( msg, msglen, path, lineno, "invalid DN", arg );
		ldap_dnfree( dn );
		cp_set( &ic->ic_base, arg );
	} else if ( strcasecmp( kw, "filter" ) == 0 ) {
		size_t l = strlen( arg );

		if ( arg[0] != '(' || arg[l - 1] != ')' )
			return cp_conf_error( msg, msglen, path, lineno,
				"filter must be in parentheses", arg );
		cp_set( &ic->ic_filter, arg );
	} else if ( strcasecmp( kw, "sip-attribute" ) == 0 ||
		    strcasecmp( kw, "upn-attribute" ) == 0 ||
		    strcasecmp( kw, "logon-attribute" ) == 0 ||
		    strcasecmp( kw, "display-attribute" ) == 0 ) {
		if ( !cp_attr_ok( arg ) )
			return cp_conf_error( msg, msglen, path, lineno,
				"invalid attribute name", arg );
		cp_set( kw[0] == 's' || kw[0] == 'S' ? &ic->ic_sip_attr :
			kw[0] == 'u' || kw[0] == 'U' ? &ic->ic_upn_attr :
			kw[0] == 'l' || kw[0] == 'L' ? &ic->ic_logon_attr :
			&ic->ic_display_attr, arg );
	} else if ( strcasecmp( kw, "page-size" ) == 0 ) {
		char *end;
		long v = strtol( arg, &end, 10 );

		if ( *end || v < 1 || v > 100000 )
			return cp_conf_error( msg, msglen, path, lineno,
				"page-size must be 1..100000", arg );
		ic->ic_page = (int)v;
	} else if ( strcasecmp( kw, "domain" ) == 0 ) {
		char *base = arg;
		LDAPDN dn;
		cp_domain *d;

		while ( *base && !isspace( (unsigned char)*base ) )
			base++;
		if ( *base )
			*base++ = '\0';
		while ( isspace( (unsigned char)*base ) )
			base++;
		if ( *base == '\0' )
			return cp_conf_error( msg, msglen, path, lineno,
				"usage: domain <NETBIOS-NAME> <base DN>", NULL );
		if ( strchr( arg, '\\' ) || strchr( arg, '*' ) )
			return cp_conf_error( msg, msglen, path, lineno,
				"invalid domain name", arg );
		if ( ldap_str2dn( base, &dn, LDAP_DN_FORMAT_LDAPV3 ) != LDAP_SUCCESS )
			return cp_conf_error( msg, msglen, path, lineno, "invalid DN", base );
		ldap_dnfree( dn );
		d = realloc( ic->ic_domains, ( ic->ic_ndomains + 1 ) * sizeof( cp_domain ) );
		if ( d == NULL ) {
			perror( cp_opt.prog );
			exit( EXIT_FAILURE );
		}
		ic->ic_domains = d;
		d = &ic->ic_domains[ic->ic_ndomains++];
		d->cd_name = cp_xstrdup( arg );
		d->cd_base = cp_xstrdup( base );
	} else {
		return cp_conf_error( msg, msglen, path, lineno, "unknown directive", kw );
	}
	return 0;
}

int
cp_idconf_parse( cp_idconf *ic, FILE *f, const char *path, char *msg, size_t msglen )
{
	char *line = NULL, *kw, *arg, *p;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;

	msg[0] = '\0';
	while ( rc == 0 && ( n = getline( &line, &cap, f ) ) >= 0 ) {
		lineno++;
		if ( memchr( line, '\0', n ) != NULL ) {
			/* the rest of the line would be lost without a word */
			rc = cp_conf_error( msg, msglen, path, lineno, "NUL byte in the line",
				NULL );
			break;
		}
		while ( n && isspace( (unsigned char)line[n - 1] ) )
			line[--n] = '\0';
		kw = line;
		while ( isspace( (unsigned char)*kw ) )
			kw++;
		if ( *kw == '\0' || *kw == '#' )
			continue;
		for ( p = kw; *p && !isspace( (unsigned char)*p ); p++ )
			;
		arg = p;
		if ( *p )
			*p++ = '\0', arg = p;
		while ( isspace( (unsigned char)*arg ) )
			arg++;
		if ( *arg == '\0' )
			rc = cp_conf_error( msg, msglen, path, lineno, "missing value for", kw );
		else
			rc = cp_idconf_line( ic, kw, arg, path, lineno, msg, msglen );
	}
	if ( rc == 0 && ferror( f ) ) {
		snprintf( msg, msglen, "%s: %s: %s", cp_opt.prog, cp_esc( path ),
			strerror( errno ) );
		rc = -1;
	}
	free( line );
	return rc;
}

void
cp_idconf_load( cp_idconf *ic, const char *path )
{
	FILE *f;
	char msg[1024];
	int must = 1, rc;

	cp_idconf_init( ic );
	if ( path == NULL )
		path = getenv( CP_ID_ENV );
	if ( path == NULL || *path == '\0' ) {
		path = CP_ID_DEFAULT_CONF;
		must = 0;
	}
	f = fopen( path, "r" );
	if ( f == NULL ) {
		if ( !must && errno == ENOENT )
			return;
		fprintf( stderr, "%s: %s: %s\n", cp_opt.prog, path, strerror( errno ) );
		exit( EXIT_FAILURE );
	}
	ic->ic_path = cp_xstrdup( path );
	rc = cp_idconf_parse( ic, f, path, msg, sizeof( msg ) );
	fclose( f );
	if ( rc ) {
		fprintf( stderr, "%s\n", msg );
		exit( EXIT_FAILURE );
	}
}

int
cp_idconf_finish( cp_idconf *ic, LDAP *ld )
{
	if ( ic->ic_base == NULL ) {
		char *def = NULL;

		ldap_get_option( ld, LDAP_OPT_DEFBASE, &def );
		if ( def && *def )
			ic->ic_base = cp_xstrdup( def );
		ldap_memfree( def );
	}
	if ( ic->ic_base == NULL ) {
		/* the server's naming context, when it has exactly one */
		char *attrs[] = { "namingContexts", NULL };
		LDAPMessage *res = NULL, *e;
		struct berval **vals;
		int rc;

		rc = ldap_search_ext_s( ld, "", LDAP_SCOPE_BASE, "(objectClass=*)",
			attrs, 0, NULL, NULL, NULL, 1, &res );
		if ( rc != LDAP_SUCCESS ) {
			ldap_msgfree( res );
			return cp_ld_error( ld, "root DSE", rc );
		}
		e = ldap_first_entry( ld, res );
		vals = e ? ldap_get_values_len( ld, e, "namingContexts" ) : NULL;
		if ( vals && vals[0] && !vals[1] )
			ic->ic_base = strndup( vals[0]->bv_val, vals[0]->bv_len );
		ldap_value_free_len( vals );
		ldap_msgfree( res );
		if ( ic->ic_base == NULL ) {
			fprintf( stderr, "%s: no search base: set \"base\" in %s, "
				"or BASE in ldap.conf\n", cp_opt.prog,
				ic->ic_path ? ic->ic_path : CP_ID_DEFAULT_CONF );
			return CP_ID_EINPUT;
		}
	}
	if ( ic->ic_ndomains == 0 ) {
		/* dc=example,dc=com -> EXAMPLE */
		LDAPDN dn;
		int i;

		if ( ldap_str2dn( ic->ic_base, &dn, LDAP_DN_FORMAT_LDAPV3 ) == LDAP_SUCCESS ) {
			for ( i = 0; dn && dn[i]; i++ ) {
				LDAPAVA *ava = dn[i][0];

				if ( ava->la_attr.bv_len == 2 &&
				     strncasecmp( ava->la_attr.bv_val, "dc", 2 ) == 0 ) {
					char *p;

					ic->ic_domains = calloc( 1, sizeof( cp_domain ) );
					if ( ic->ic_domains == NULL )
						break;
					ic->ic_domains[0].cd_name = strndup( ava->la_value.bv_val,
						ava->la_value.bv_len );
					for ( p = ic->ic_domains[0].cd_name; p && *p; p++ )
						*p = toupper( (unsigned char)*p );
					ic->ic_domains[0].cd_base = cp_xstrdup( ic->ic_base );
					ic->ic_ndomains = 1;
					break;
				}
			}
			ldap_dnfree( dn );
		}
	}
	if ( cp_opt.verbose > 1 ) {
		int i;

		fprintf( stderr, "%s: users under \"%s\", filter %s\n", cp_opt.prog,
			cp_esc_dn( ic->ic_base ), cp_esc( ic->ic_filter ) );
		for ( i = 0; i < ic->ic_ndomains; i++ )
			fprintf( stderr, "%s: domain %s is \"%s\"\n", cp_opt.prog,
				cp_esc( ic->ic_domains[i].cd_name ),
				cp_esc_dn( ic->ic_domains[i].cd_base ) );
	}
	return 0;
}

void
cp_idconf_free( cp_idconf *ic )
{
	int i;

	for ( i = 0; i < ic->ic_ndomains; i++ ) {
		free( ic->ic_domains[i].cd_name );
		free( ic->ic_domains[i].cd_base );
	}
	free( ic->ic_domains );
	free( ic->ic_path );
	free( ic->ic_base );
	free( ic->ic_filter );
	free( ic->ic_sip_attr );
	free( ic->ic_upn_attr );
	free( ic->ic_logon_attr );
	free( ic->ic_display_attr );
	memset( ic, 0, sizeof( *ic ) );
}

/* ---- classification --------------------------------------------------------------- */

static int
cp_looks_dn( const char *s )
{
	LDAPDN dn = NULL;
	int ok;

	if ( strchr( s, '=' ) == NULL )
		return 0;
	ok = ldap_str2dn( s, &dn, LDAP_DN_FORMAT_LDAPV3 ) == LDAP_SUCCESS && dn && dn[0];
	ldap_dnfree( dn );
	return ok;
}

const char *
cp_id_kind( const char *s, int is_dn )
{
	if ( is_dn || cp_looks_dn( s ) )
		return "dn";
	if ( strncasecmp( s, "sip:", 4 ) == 0 )
		return "sip";
	if ( strchr( s, '\\' ) )
		return "logon";
	if ( strchr( s, '@' ) && !strpbrk( s, " \t" ) )
		return "upn";
	return "display";
}

/* Build the search for one identity: base, scope, filter (malloc'd).
 * Returns 0, or CP_ID_EINPUT after printing why. */
static int
cp_id_search_args( cp_idconf *ic, cp_item *it, const char **base, int *scope,
	char **filter, char *msg, size_t msglen )
{
	const char *s = it->ci_value, *kind, *attr = NULL, *val = s;
	struct berval bv, esc = { 0, NULL };
	size_t len;

	*filter = NULL;
	if ( *s == '\0' ) {
		snprintf( msg, msglen, "%s: empty identity", cp_opt.prog );
		return CP_ID_EINPUT;
	}
	kind = cp_id_kind( s, it->ci_is_dn );
	if ( strcmp( kind, "dn" ) == 0 ) {
		*base = s;
		*scope = LDAP_SCOPE_BASE;
		*filter = cp_xstrdup( ic->ic_filter );
		return 0;
	}
	if ( strchr( s, '*' ) ) {
		snprintf( msg, msglen, "%s: \"%s\": wildcards are not allowed in identities",
			cp_opt.prog, cp_esc( s ) );
		return CP_ID_EINPUT;
	}
	*base = ic->ic_base;
	*scope = LDAP_SCOPE_SUBTREE;
	if ( strcmp( kind, "sip" ) == 0 ) {
		attr = ic->ic_sip_attr;
	} else if ( strcmp( kind, "logon" ) == 0 ) {
		const char *bs = strchr( s, '\\' );
		int i;

		*base = NULL;
		for ( i = 0; i < ic->ic_ndomains; i++ ) {
			if ( strlen( ic->ic_domains[i].cd_name ) == (size_t)( bs - s ) &&
			     strncasecmp( ic->ic_domains[i].cd_name, s, bs - s ) == 0 )
				*base = ic->ic_domains[i].cd_base;
		}
		if ( *base == NULL ) {
			snprintf( msg, msglen, "%s: \"%s\": unknown domain \"%s\"",
				cp_opt.prog, cp_esc( s ), cp_esc_len( s, bs - s ) );
			return CP_ID_EINPUT;
		}
		attr = ic->ic_logon_attr;
		val = bs + 1;
		if ( *val == '\0' || strchr( val, '\\' ) ) {
			snprintf( msg, msglen, "%s: \"%s\": expected DOMAIN\\logon", cp_opt.prog,
				cp_esc( s ) );
			return CP_ID_EINPUT;
		}
	} else if ( strcmp( kind, "upn" ) == 0 ) {
		attr = ic->ic_upn_attr;
	} else {
		attr = ic->ic_display_attr;
	}
	ber_str2bv( val, 0, 0, &bv );
	if ( ldap_bv2escaped_filter_value( &bv, &esc ) != 0 ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	len = strlen( ic->ic_filter ) + 2 * ( strlen( attr ) + esc.bv_len ) + 32;
	*filter = malloc( len );
	if ( *filter == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	/* Debian's msuser.schema gives sAMAccountName and userPrincipalName no
	 * EQUALITY rule, so (attr=v) matches nothing there: also ask for an
	 * extensible caseIgnoreMatch (Undefined, so harmless, where the rule does
	 * not apply to the attribute's syntax). */
	if ( attr == ic->ic_upn_attr || attr == ic->ic_logon_attr )
		snprintf( *filter, len, "(&%s(|(%s=%s)(%s:caseIgnoreMatch:=%s)))", ic->ic_filter,
			attr, esc.bv_val, attr, esc.bv_val );
	else
		snprintf( *filter, len, "(&%s(%s=%s))", ic->ic_filter, attr, esc.bv_val );
	ber_memfree( esc.bv_val );
	return 0;
}

/* ---- pipelined resolution ---------------------------------------------------------- */

typedef struct cp_slot {
	int		sl_item;	/* index in its, -1: free */
	int		sl_msgid;
	int		sl_done;
	int		sl_err;
	int		sl_count;	/* entries seen */
	LDAPMessage	*sl_entry;	/* the first entry */
	char		*sl_dns[CP_ID_LIST];	/* DNs, for ambiguity */
	char		*sl_matched, *sl_info;
	char		sl_msg[512];	/* why it was refused before sending */
} cp_slot;

static void
cp_slot_clear( cp_slot *sl )
{
	int i;

	ldap_msgfree( sl->sl_entry );
	for ( i = 0; i < CP_ID_LIST; i++ )
		ldap_memfree( sl->sl_dns[i] );
	ldap_memfree( sl->sl_matched );
	ldap_memfree( sl->sl_info );
	memset( sl, 0, sizeof( *sl ) );
	sl->sl_item = -1;
}

/* report and call back for a finished slot */
static int
cp_slot_emit( LDAP *ld, cp_idconf *ic, cp_items *its, cp_slot *sl,
	cp_id_cb *cb, void *arg )
{
	cp_item *it = &its->it_v[sl->sl_item];
	int err = sl->sl_err, i;

	if ( err == LDAP_SUCCESS || err == LDAP_SIZELIMIT_EXCEEDED ) {
		if ( sl->sl_count == 1 && err == LDAP_SUCCESS )
			return cb( ld, it, ldap_first_entry( ld, sl->sl_entry ), 0, arg ) ? -1 : 0;
		if ( sl->sl_count == 0 ) {
			err = LDAP_NO_SUCH_OBJECT;
		} else {
			fprintf( stderr, "%s: \"%s\" matches %s%d users:\n", cp_opt.prog,
				cp_esc( it->ci_value ), err == LDAP_SIZELIMIT_EXCEEDED ?
				"more than " : "", sl->sl_count );
			for ( i = 0; i < CP_ID_LIST && sl->sl_dns[i]; i++ )
				fprintf( stderr, "\t%s\n", cp_esc_dn( sl->sl_dns[i] ) );
			fprintf( stderr, "\tname one of them by DN, SIP address or UPN\n" );
			err = CP_ID_EINPUT;
		}
	}
	if ( err == LDAP_NO_SUCH_OBJECT ) {
		if ( !ic->ic_quiet_unknown )
			fprintf( stderr, "%s: \"%s\": no such user\n", cp_opt.prog,
				cp_esc( it->ci_value ) );
	} else if ( err != CP_ID_EINPUT ) {
		char what[512];

		snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog,
			cp_esc( it->ci_value ) );
		cp_perror( what, err, sl->sl_matched, sl->sl_info );
	}
	return cb( ld, it, NULL, err, arg ) ? -2 : 1;
}

int
cp_id_resolve( LDAP *ld, cp_idconf *ic, cp_items *its, char **attrs,
	cp_id_cb *cb, void *arg )
{
	cp_slot slots[CP_ID_WINDOW];
	int next = 0, head = 0, inflight = 0, failed = 0, i, rc;
	LDAPMessage *msg;

	for ( i = 0; i < CP_ID_WINDOW; i++ ) {
		memset( &slots[i], 0, sizeof( slots[i] ) );
		slots[i].sl_item = -1;
	}
	while ( head < its->it_n ) {
		/* fill the window */
		while ( next < its->it_n && next - head < CP_ID_WINDOW ) {
			cp_slot *sl = &slots[next % CP_ID_WINDOW];
			const char *base = NULL;
			char *filter = NULL;
			int scope = 0;

			sl->sl_item = next;
			rc = cp_id_search_args( ic, &its->it_v[next], &base, &scope, &filter,
				sl->sl_msg, sizeof( sl->sl_msg ) );
			if ( rc == 0 ) {
				rc = ldap_search_ext( ld, base, scope, filter, attrs, 0,
					NULL, NULL, NULL, CP_ID_LIST, &sl->sl_msgid );
				if ( rc != LDAP_SUCCESS ) {
					/* the connection is gone: nothing more can work */
					free( filter );
					rc = cp_ld_error( ld, "ldap_search_ext", rc );
					goto fatal;
				}
				inflight++;
			} else {
				sl->sl_done = 1;
				sl->sl_err = rc;
				sl->sl_count = -1;
			}
			free( filter );
			next++;
		}
		/* emit what is complete, in order */
		while ( head < next && slots[head % CP_ID_WINDOW].sl_done ) {
			cp_slot *sl = &slots[head % CP_ID_WINDOW];

			int r;

			if ( sl->sl_count < 0 )	/* refused before sending */
				fprintf( stderr, "%s\n", sl->sl_msg );
			if ( sl->sl_count < 0 )
				r = cb( ld, &its->it_v[sl->sl_item], NULL, sl->sl_err, arg ) ? -2 : 1;
			else
				r = cp_slot_emit( ld, ic, its, sl, cb, arg );
			cp_slot_clear( sl );
			head++;
			if ( r == 1 || r == -2 )
				failed++;
			if ( r < 0 )
				goto stop;
		}
		if ( head >= its->it_n || inflight == 0 )
			continue;
		/* read one message */
		rc = ldap_result( ld, LDAP_RES_ANY, LDAP_MSG_ONE, NULL, &msg );
		if ( rc <= 0 ) {
			rc = cp_ld_error( ld, "ldap_result", rc );
			goto fatal;
		}
		for ( i = 0; i < CP_ID_WINDOW; i++ ) {
			if ( slots[i].sl_item >= 0 && !slots[i].sl_done &&
			     slots[i].sl_msgid == ldap_msgid( msg ) )
				break;
		}
		if ( i == CP_ID_WINDOW ) {
			if ( ic->ic_other )
				ic->ic_other( ld, msg, arg );
			else
				ldap_msgfree( msg );
			continue;
		}
		switch ( rc ) {
		case LDAP_RES_SEARCH_ENTRY:
			if ( slots[i].sl_count < CP_ID_LIST )
				slots[i].sl_dns[slots[i].sl_count] = ldap_get_dn( ld, msg );
			if ( slots[i].sl_count++ == 0 ) {
				slots[i].sl_entry = msg;
				msg = NULL;
			}
			break;
		case LDAP_RES_SEARCH_RESULT:
			rc = ldap_parse_result( ld, msg, &slots[i].sl_err,
				&slots[i].sl_matched, &slots[i].sl_info, NULL, NULL, 0 );
			if ( rc != LDAP_SUCCESS )
				slots[i].sl_err = rc;
			slots[i].sl_done = 1;
			inflight--;
			break;
		default:	/* references: ignored */
			break;
		}
		ldap_msgfree( msg );
	}
	return failed;

stop:
	for ( i = 0; i < CP_ID_WINDOW; i++ ) {
		if ( slots[i].sl_item >= 0 && !slots[i].sl_done )
			ldap_abandon_ext( ld, slots[i].sl_msgid, NULL, NULL );
		cp_slot_clear( &slots[i] );
	}
	return failed;

fatal:
	/* every item not answered yet fails with the same error */
	for ( ; head < its->it_n; head++ ) {
		failed++;
		if ( cb( ld, &its->it_v[head], NULL, rc, arg ) )
			break;
	}
	for ( i = 0; i < CP_ID_WINDOW; i++ )
		cp_slot_clear( &slots[i] );
	return failed;
}

/* ---- every user holding something --------------------------------------------------- */

int
cp_id_all( LDAP *ld, cp_idconf *ic, const char *presence, char **attrs,
	cp_id_cb *cb, void *arg )
{
	struct berval cookie = { 0, NULL };
	LDAPControl *page = NULL, *ctrls[2] = { NULL, NULL }, **rctrls = NULL;
	LDAPMessage *res = NULL, *e;
	char *filter;
	size_t len;
	int rc, err, msgid, stop;

	len = strlen( ic->ic_filter ) + strlen( presence ) + 4;
	filter = malloc( len );
	if ( filter == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	snprintf( filter, len, "(&%s%s)", ic->ic_filter, presence );
	do {
		rc = ldap_create_page_control( ld, ic->ic_page, &cookie, 0, &page );
		if ( rc != LDAP_SUCCESS )
			break;
		ctrls[0] = page;
		rc = ldap_search_ext( ld, ic->ic_base, LDAP_SCOPE_SUBTREE, filter, attrs,
			0, ctrls, NULL, NULL, 0, &msgid );
		ldap_control_free( page );
		page = NULL;
		ber_memfree( cookie.bv_val );
		cookie.bv_val = NULL;
		cookie.bv_len = 0;
		if ( rc != LDAP_SUCCESS ) {
			rc = cp_ld_error( ld, "ldap_search_ext", rc );
			break;
		}
		/* entries as they come, one message at a time */
		for ( ;; ) {
			rc = ldap_result( ld, msgid, LDAP_MSG_ONE, NULL, &res );
			if ( rc <= 0 ) {
				rc = cp_ld_error( ld, "ldap_result", rc );
				goto out;
			}
			if ( rc == LDAP_RES_SEARCH_ENTRY ) {
				e = ldap_first_entry( ld, res );
				stop = cb( ld, NULL, e, 0, arg );
				ldap_msgfree( res );
				if ( stop ) {
					ldap_abandon_ext( ld, msgid, NULL, NULL );
					rc = LDAP_SUCCESS;
					goto out;
				}
				continue;
			}
			if ( rc == LDAP_RES_SEARCH_RESULT )
				break;
			ldap_msgfree( res );
		}
		rc = ldap_parse_result( ld, res, &err, NULL, NULL, NULL, &rctrls, 0 );
		if ( rc == LDAP_SUCCESS && err != LDAP_SUCCESS )
			rc = cp_result( ld, res, cp_opt.prog );
		ldap_msgfree( res );
		res = NULL;
		if ( rc != LDAP_SUCCESS )
			break;
		if ( rctrls ) {
			LDAPControl *c = ldap_control_find( LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL );
			ber_int_t count;

			if ( c )
				ldap_parse_pageresponse_control( ld, c, &count, &cookie );
			ldap_controls_free( rctrls );
			rctrls = NULL;
		}
	} while ( cookie.bv_val && cookie.bv_len );
out:
	ber_memfree( cookie.bv_val );
	free( filter );
	return rc;
}
