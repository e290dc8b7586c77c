/* certpin-test.c - can this user log on with a client certificate, and if
 * not, why?  (What Lync's Test-CsClientAuth answers.)
 *
 * Steps: get a certificate for the user with a fresh key (certpinIssue,
 * proving the user with a password or a phone number and PIN), open a new
 * TLS connection presenting it, bind with SASL EXTERNAL, ask WhoAmI and
 * check the answer is the user, unbind; then revoke the test certificate
 * (--keep keeps it).  With --cert/--key an existing device certificate is
 * tested instead (no provisioning, nothing revoked).
 *
 * Output, as the original:
 *	Target    : ldaps://dir.example.com/
 *	Result    : Failure
 *	Latency   : 00:00:00.2130376
 *	Error     : ...
 *	Diagnosis : ...
 * or one JSON object with --output=json (-j).  Exit status 0 when the
 * logon works, 1 when the test failed, 2 for usage errors.
 *
 * The test certificate is revoked at the end, and its revocation record
 * removed again (Relax Rules, as certpin-revoke --undo) when the bind may:
 * an administrator's.  Otherwise the record stays, with the reason
 * "certpin-test" (certpin-revoke --prune --reason certpin-test removes
 * them), and the run says so.
 *
 * --nagios: a check for the monitoring plugins (Nagios, Icinga, ...): one
 * line "CERTPIN OK - logon as DN in 25 ms | latency=0.025s;0.5;2", exit 0
 * OK, 1 WARNING (latency above --warning, or something left behind), 2
 * CRITICAL (the logon failed, or latency above --critical), 3 UNKNOWN
 * (usage and setup errors).
 */

#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sasl/sasl.h>

#include "certinfo.h"
#include "common.h"
#include "identity.h"
#include "provclient.h"

#define CT_EXIT_OK	0
#define CT_EXIT_FAILED	1
#define CT_EXIT_USAGE	2

/* The monitoring plugins' states (exit codes). */
#define CT_NAGIOS_OK		0
#define CT_NAGIOS_WARNING	1
#define CT_NAGIOS_CRITICAL	2
#define CT_NAGIOS_UNKNOWN	3
#define CT_NAGIOS_WARN_DEFAULT	0.5	/* seconds */
#define CT_NAGIOS_CRIT_DEFAULT	2.0

#define CT_REASON	"certpin-test"	/* the reason of its revocations */

#define CT_ENDPOINT	"certpin-test"
#define CT_TIMEOUT	30	/* seconds, without -o nettimeout */
#define CT_WATCHDOG	3	/* the whole test: this many timeouts */

enum { CT_BIND_NONE, CT_BIND_SIMPLE, CT_BIND_SASL };

enum {
	OPT_CERT = CERTPIN_OPT_TOOL, OPT_KEY, OPT_KEEP, OPT_NAGIOS, OPT_WARNING,
	OPT_CRITICAL
};

static const struct option ct_long[] = {
	CERTPIN_REQ_LONGOPTS,
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "nagios", no_argument, NULL, OPT_NAGIOS },
	{ "warning", required_argument, NULL, OPT_WARNING },
	{ "critical", required_argument, NULL, OPT_CRITICAL },
	{ NULL, 0, NULL, 0 }
};

static struct {
	certpin_req_opts ro;	/* -k --phone --pin-file --validity ... */
	char	*cert_file;
	char	*key_file;
	int	keep;
	int	nagios;		/* --nagios */
	double	warn, crit;	/* --warning, --critical: seconds, < 0 unset */
} co = { .warn = -1, .crit = -1 };

/* The outcome. */
static struct {
	int	failed;
	char	error[1024];
	char	diag[2048];
	char	user[1024];	/* the DN the certificate logged on as */
	char	left[256];	/* what stays behind, when something does */
} ct;

static struct timespec ct_t0, ct_t1;
static char ct_where[512] = "Starting";	/* the step under way */

/* ---- messages ----------------------------------------------------------------- */

static void ct_step( const char *fmt, ... ) __attribute__(( format( printf, 1, 2 ) ));
static void ct_fail( const char *diag, const char *fmt, ... )
	__attribute__(( format( printf, 2, 3 ) ));
static void ct_fail_hint( const char *diag, const char *fmt, ... )
	__attribute__(( format( printf, 2, 3 ) ));

static void
ct_usage( FILE *fp )
{
	fprintf( fp,
"Test a user's client-certificate logon end to end (as Test-CsClientAuth).\n\n"
"usage: %s -H URI [options] identity\n"
"  identity         the user: a DN, sip:URI, DOMAIN\\logon, UPN or display name\n"
"Credential (to get the test certificate):\n"
"  -W, -y FILE, -w  the user's password (bind as the user), or with -D the\n"
"                   password of that bind DN (an administrator)\n"
"  --phone NUMBER   prove the user by phone number and PIN instead (TLS)\n"
"  --pin-file FILE  read the PIN from FILE (default: ask on the terminal)\n"
"Test options:\n"
"  --cert FILE --key FILE  test this existing device certificate instead\n"
"                   (no provisioning, nothing revoked)\n"
"  --keep           keep the test certificate (default: revoke it)\n"
"  -k KIND          test key: ec (ECDSA P-256, default), rsa, rsa:BITS\n"
"  --validity HOURS requested validity of the test certificate\n"
"  --endpoint ID    endpoint id of the test certificate (default " CT_ENDPOINT ")\n"
"  --config FILE    identity resolution settings\n"
"  --output=json    print the result as JSON (-j)\n"
"Monitoring (Nagios, Icinga, monitoring-plugins):\n"
"  --nagios         one status line with performance data; exit 0 OK,\n"
"                   1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
"  --warning SECS   WARNING above this latency (default 0.5)\n"
"  --critical SECS  CRITICAL above this latency (default 2)\n"
"Exit status: 0 the logon works, 1 the test failed, 2 usage error.\n",
		cp_opt.prog );
}

static int
ct_opt( int c, char *arg )
{
	if ( certpin_req_opt( &co.ro, c, arg ) )
		return 1;
	switch ( c ) {
	case OPT_CERT:
		co.cert_file = arg;
		return 1;
	case OPT_KEY:
		co.key_file = arg;
		return 1;
	case OPT_KEEP:
		co.keep = 1;
		return 1;
	case OPT_NAGIOS:
		co.nagios = 1;
		return 1;
	case OPT_WARNING:
	case OPT_CRITICAL: {
		double *t = c == OPT_WARNING ? &co.warn : &co.crit;
		char *end;

		if ( *t >= 0 )
			cp_usage_error( "--%s previously specified", c == OPT_WARNING ?
				"warning" : "critical" );
		*t = strtod( arg, &end );
		if ( end == arg || *end || !( *t > 0 ) || *t > 86400 )
			cp_usage_error( "--%s: \"%s\" is not a latency in seconds (e.g. 0.5)",
				c == OPT_WARNING ? "warning" : "critical", cp_esc( arg ) );
		return 1;
	}
	}
	return 0;
}

/* A step, as it happens (-v). */
static void
ct_step( const char *fmt, ... )
{
	va_list ap;

	va_start( ap, fmt );
	vsnprintf( ct_where, sizeof( ct_where ), fmt, ap );
	va_end( ap );
	if ( cp_opt.verbose )
		fprintf( stderr, "VERBOSE: %s\n", cp_esc( ct_where ) );
}

/* The watchdog: libldap bounds connecting and each operation
 * (LDAP_OPT_NETWORK_TIMEOUT, LDAP_OPT_TIMEOUT) but not a TLS handshake
 * with a server that accepts and never answers; the whole test is bounded
 * by CT_WATCHDOG timeouts.  The handler leaves libldap for main's report,
 * which then touches no LDAP handle again. */
static sigjmp_buf ct_jmp;
static volatile sig_atomic_t ct_jmp_armed;

static void
ct_alarm( int sig )
{
	if ( ct_jmp_armed ) {
		ct_jmp_armed = 0;
		siglongjmp( ct_jmp, 1 );
	}
}

/* The first failure is the result; later ones are only logged. */
static void
ct_fail( const char *diag, const char *fmt, ... )
{
	va_list ap;
	char buf[sizeof( ct.error )];

	va_start( ap, fmt );
	vsnprintf( buf, sizeof( buf ), fmt, ap );
	va_end( ap );
	ct_step( "FAILED: %s", buf );
	if ( ct.failed )
		return;
	ct.failed = 1;
	snprintf( ct.error, sizeof( ct.error ), "%s", buf );
	snprintf( ct.diag, sizeof( ct.diag ), "%s", diag ? diag : "" );
}

/* ct_fail, with what the local checks of the certificate found (expired,
 * not yet valid) added to the diagnosis. */
static char ct_hint[256];

static void
ct_fail_hint( const char *diag, const char *fmt, ... )
{
	char buf[sizeof( ct.error )], d[sizeof( ct.diag )];
	va_list ap;

	va_start( ap, fmt );
	vsnprintf( buf, sizeof( buf ), fmt, ap );
	va_end( ap );
	snprintf( d, sizeof( d ), "%s%s%s", diag, *ct_hint ? " " : "", ct_hint );
	ct_fail( d, "%s", buf );
}

/* The server did not answer in time: say so, whatever the step. */
static int
ct_timed_out( int rc, const char *step )
{
	char d[256];

	if ( rc != LDAP_TIMEOUT )
		return 0;
	snprintf( d, sizeof( d ), "The server did not answer within %d seconds: check "
		"that slapd is not overloaded or hung (or wait longer with -o "
		"nettimeout=SECONDS).", cp_opt.nettimeout > 0 ? cp_opt.nettimeout : CT_TIMEOUT );
	ct_fail( d, "%s: timed out", step );
	return 1;
}

/* "<ldap error> (<code>)[: <server's message>]" */
static const char *
ct_ldaperr( int rc, const char *info )
{
	static char buf[768];
	size_t n;

	if ( info && !strcmp( info, "(unknown error code)" ) )
		info = NULL;	/* libldap's filler for local errors */
	snprintf( buf, sizeof( buf ), "%s (%d)%s%s", ldap_err2string( rc ), rc,
		info && *info ? ": " : "", info && *info ? info : "" );
	/* SASL messages end in ": " */
	n = strlen( buf );
	while ( n > 0 && ( buf[n - 1] == ' ' || buf[n - 1] == ':' ) )
		buf[--n] = '\0';
	return buf;
}

/* The server's diagnostic message for the last operation on ld. */
static char *
ct_ld_info( LDAP *ld, int *rc )
{
	char *info = NULL;

	if ( rc && ( *rc == LDAP_SUCCESS || *rc == -1 ) )
		ldap_get_option( ld, LDAP_OPT_RESULT_CODE, rc );
	ldap_get_option( ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &info );
	return info;
}

/* A JSON string, null when empty (cp_json_string). */
static void
ct_json_str( const char *s )
{
	cp_json_string( stdout, s && *s ? s : NULL );
}

static void
ct_latency( char *out, size_t len )
{
	long long ns = (long long)( ct_t1.tv_sec - ct_t0.tv_sec ) * 1000000000LL +
		( ct_t1.tv_nsec - ct_t0.tv_nsec );
	long long ticks, s;

	if ( ns < 0 )
		ns = 0;
	ticks = ns / 100;	/* 100 ns, as .NET's TimeSpan */
	s = ticks / 10000000LL;
	snprintf( out, len, "%02lld:%02lld:%02lld.%07lld", s / 3600, ( s / 60 ) % 60,
		s % 60, ticks % 10000000LL );
}

/* For the monitoring line: escaped, and no '|' (it starts the
 * performance data). */
static const char *
ct_nagios_text( const char *s )
{
	static char buf[4096];
	char *p;

	snprintf( buf, sizeof( buf ), "%s", cp_esc( s ) );
	for ( p = buf; *p; p++ )
		if ( *p == '|' )
			*p = '/';
	return buf;
}

/* usage and setup errors in --nagios mode: UNKNOWN, on standard output */
static void
ct_nagios_usage( const char *msg )
{
	printf( "CERTPIN UNKNOWN - %s\n", ct_nagios_text( msg ) );
	fflush( stdout );
}

/* Print the result; returns the exit status. */
static int
ct_report( const char *target )
{
	char lat[32];

	ct_latency( lat, sizeof( lat ) );
	if ( co.nagios ) {
		double secs = (double)( ct_t1.tv_sec - ct_t0.tv_sec ) +
			(double)( ct_t1.tv_nsec - ct_t0.tv_nsec ) / 1e9;
		long ms = (long)( secs * 1000 + 0.5 );
		int state = CT_NAGIOS_OK;
		char text[3072];

		if ( secs < 0 )
			secs = 0;
		if ( ct.failed ) {
			state = CT_NAGIOS_CRITICAL;
			snprintf( text, sizeof( text ), "%s", ct.error );
		} else {
			snprintf( text, sizeof( text ), "logon as %s in %ld ms", ct.user, ms );
			if ( secs > co.crit ) {
				state = CT_NAGIOS_CRITICAL;
				snprintf( text + strlen( text ), sizeof( text ) - strlen( text ),
					" (above %g s)", co.crit );
			} else if ( secs > co.warn ) {
				state = CT_NAGIOS_WARNING;
				snprintf( text + strlen( text ), sizeof( text ) - strlen( text ),
					" (above %g s)", co.warn );
			}
		}
		if ( *ct.left ) {
			if ( state == CT_NAGIOS_OK )
				state = CT_NAGIOS_WARNING;
			snprintf( text + strlen( text ), sizeof( text ) - strlen( text ),
				"; %s", ct.left );
		}
		printf( "CERTPIN %s - %s | latency=%.3fs;%g;%g\n",
			state == CT_NAGIOS_OK ? "OK" : state == CT_NAGIOS_WARNING ? "WARNING" :
			"CRITICAL", ct_nagios_text( text ), secs, co.warn, co.crit );
		return state;
	}
	if ( cp_opt.format == CP_FMT_JSON ) {
		fputs( "{\"Target\":", stdout );
		ct_json_str( target );
		printf( ",\"Result\":\"%s\",\"Latency\":\"%s\",\"Error\":",
			ct.failed ? "Failure" : "Success", lat );
		ct_json_str( ct.error );
		fputs( ",\"Diagnosis\":", stdout );
		ct_json_str( ct.diag );
		fputs( ",\"LeftBehind\":", stdout );
		ct_json_str( ct.left );
		fputs( "}\n", stdout );
		return ct.failed ? CT_EXIT_FAILED : CT_EXIT_OK;
	}
	/* names and messages from the directory are escaped for the terminal */
	printf( "Target    : %s\n", cp_esc( target ) );
	printf( "Result    : %s\n", ct.failed ? "Failure" : "Success" );
	printf( "Latency   : %s\n", lat );
	printf( "Error     :%s%s\n", *ct.error ? " " : "", cp_esc( ct.error ) );
	printf( "Diagnosis :%s%s\n", *ct.diag ? " " : "", cp_esc( ct.diag ) );
	return ct.failed ? CT_EXIT_FAILED : CT_EXIT_OK;
}

/* ---- connections ------------------------------------------------------------------ */

static int
ct_is_scheme( const char *uri, const char *scheme )
{
	size_t n = strlen( scheme );

	return uri && !strncasecmp( uri, scheme, n ) && uri[n] == ':';
}

/* A new session to uri.  starttls: 0 never, 1 when -Z asked (as the
 * common options say), 2 required.  verify 0 turns off the check of the
 * server's certificate (only for the diagnosis probe).  certfile/keyfile:
 * present that client certificate (own TLS context).  Returns the LDAP
 * result; *ldp is set even on failure (the caller unbinds it), *info gets
 * the library's or server's message (ldap_memfree). */
static int
ct_open( const char *uri, int starttls, int verify, const char *certfile,
	const char *keyfile, LDAP **ldp, char **info )
{
	LDAP *ld;
	int rc;
	char err[256];

	*info = NULL;
	rc = cp_ld_new( uri, &ld );
	*ldp = ld;
	if ( rc != LDAP_SUCCESS )
		return rc;
	{
		/* A test must end: connecting and every operation are bounded
		 * (-o nettimeout=<s>, default CT_TIMEOUT). */
		struct timeval tv = { cp_opt.nettimeout > 0 ? cp_opt.nettimeout : CT_TIMEOUT, 0 };

		ldap_set_option( ld, LDAP_OPT_NETWORK_TIMEOUT, &tv );
		ldap_set_option( ld, LDAP_OPT_TIMEOUT, &tv );
	}
	if ( certfile || !verify ) {
		if ( certfile ) {
			rc = certpin_tls_client_cert( ld, certfile, keyfile, err, sizeof( err ) );
		} else {
			int never = LDAP_OPT_X_TLS_NEVER, is_server = 0;

			rc = ldap_set_option( ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &never );
			if ( rc == LDAP_OPT_SUCCESS )
				rc = ldap_set_option( ld, LDAP_OPT_X_TLS_NEWCTX, &is_server );
			snprintf( err, sizeof( err ), "cannot set up TLS" );
		}
		if ( rc != LDAP_OPT_SUCCESS ) {
			*info = ldap_strdup( err );
			return LDAP_LOCAL_ERROR;
		}
	}
	rc = ldap_connect( ld );
	if ( rc != LDAP_SUCCESS ) {
		*info = ct_ld_info( ld, &rc );
		return rc;
	}
	if ( starttls && !ldap_tls_inplace( ld ) ) {
		rc = ldap_start_tls_s( ld, NULL, NULL );
		if ( rc != LDAP_SUCCESS ) {
			*info = ct_ld_info( ld, &rc );
			if ( starttls > 1 || rc < 0 )
				return rc;
			ldap_memfree( *info );
			*info = NULL;
		}
	}
	return LDAP_SUCCESS;
}

/* After a failed TLS set-up: which part failed?  Tries again without a
 * client certificate, then without checking the server's certificate. */
enum { CT_TLS_CLIENT_CERT, CT_TLS_UNTRUSTED, CT_TLS_BROKEN };

static int
ct_tls_probe( const char *uri, int starttls )
{
	LDAP *ld;
	char *info;
	int rc, what;

	rc = ct_open( uri, starttls, 1, NULL, NULL, &ld, &info );
	ldap_memfree( info );
	if ( ld )
		ldap_unbind_ext_s( ld, NULL, NULL );
	if ( rc == LDAP_SUCCESS )
		return CT_TLS_CLIENT_CERT;
	rc = ct_open( uri, starttls, 0, NULL, NULL, &ld, &info );
	ldap_memfree( info );
	what = rc == LDAP_SUCCESS ? CT_TLS_UNTRUSTED : CT_TLS_BROKEN;
	if ( ld )
		ldap_unbind_ext_s( ld, NULL, NULL );
	return what;
}

/* A connection failed: say why, and what to fix. */
static void
ct_fail_connect( const char *what, const char *uri, int starttls, int with_cert,
	int rc, const char *info )
{
	const char *e = ct_ldaperr( rc, info );

	if ( ct_timed_out( rc, what ) )
		return;
	if ( rc == LDAP_SERVER_DOWN && !ldap_is_ldaps_url( uri ) && !starttls ) {
		ct_fail( "Check the URI, that slapd is running and listening there, "
			"and the network (firewall) between.", "%s: cannot contact %s: %s",
			what, uri, e );
		return;
	}
	switch ( ct_tls_probe( uri, starttls ) ) {
	case CT_TLS_CLIENT_CERT:
		if ( with_cert ) {
			ct_fail_hint( "The server refused the client certificate during the TLS "
				"handshake: it is not issued by a CA the server trusts "
				"(TLSCACertificateFile), or it has expired. Issue the device a "
				"certificate from the directory's CA (certpin-issue).",
				"%s: TLS handshake with the client certificate failed: %s",
				what, e );
			return;
		}
		break;
	case CT_TLS_UNTRUSTED:
		ct_fail( "The server's certificate is not trusted here: give the CA "
			"that issued it with TLS_CACERT in ldap.conf, LDAPTLS_CACERT or "
			"-o TLS_CACERT=FILE, and check the host name in the URI matches "
			"the certificate.", "%s: TLS with %s failed: server certificate "
			"not trusted: %s", what, uri, e );
		return;
	}
	ct_fail( "Check the URI, that slapd is running and listening there with TLS "
		"configured (TLSCertificateFile), and the network between.",
		"%s: cannot connect to %s: %s", what, uri, e );
}

/* SASL: answer only with what the options gave (the password, -U, -R,
 * -X), never by prompting. */
static int
ct_sasl_interact( LDAP *ld, unsigned flags, void *defaults, void *in )
{
	struct berval *pw = defaults;
	sasl_interact_t *it;

	for ( it = in; it->id != SASL_CB_LIST_END; it++ ) {
		const char *v = NULL;

		switch ( it->id ) {
		case SASL_CB_PASS:	v = pw->bv_val; break;
		case SASL_CB_AUTHNAME:	v = cp_opt.sasl_authc_id; break;
		case SASL_CB_GETREALM:	v = cp_opt.sasl_realm; break;
		case SASL_CB_USER:	v = cp_opt.sasl_authz_id; break;
		}
		it->result = v ? v : "";
		it->len = strlen( it->result );
	}
	return LDAP_SUCCESS;
}

/* DNs equal, ignoring case and the spacing RFC 4514 allows. */
static int
ct_dn_eq( const char *a, const char *b )
{
	char *na = NULL, *nb = NULL;
	int eq;

	if ( a == NULL || b == NULL )
		return 0;
	if ( ldap_dn_normalize( a, LDAP_DN_FORMAT_LDAP, &na, LDAP_DN_FORMAT_LDAPV3 ) ||
		ldap_dn_normalize( b, LDAP_DN_FORMAT_LDAP, &nb, LDAP_DN_FORMAT_LDAPV3 ) )
		eq = !strcasecmp( a, b );
	else
		eq = !strcasecmp( na, nb );
	ldap_memfree( na );
	ldap_memfree( nb );
	return eq;
}

/* ---- the test -------------------------------------------------------------------- */

static char *ct_tmpdir;
static char ct_certpath[512], ct_keypath[512];

static void
ct_cleanup_files( void )
{
	if ( ct_tmpdir == NULL )
		return;
	if ( *ct_certpath )
		unlink( ct_certpath );
	if ( *ct_keypath )
		unlink( ct_keypath );
	rmdir( ct_tmpdir );
	ct_tmpdir = NULL;
}

/* Write the test certificate and key where only we can read them. */
static int
ct_save( const struct berval *cert, EVP_PKEY *key )
{
	static char tmpl[] = "/tmp/certpin-test.XXXXXX";
	const char *tmp = getenv( "TMPDIR" );
	static char dir[512];
	certpin_out o;
	char err[512];

	if ( tmp && *tmp ) {
		snprintf( dir, sizeof( dir ), "%s/certpin-test.XXXXXX", tmp );
		ct_tmpdir = mkdtemp( dir );
	} else {
		ct_tmpdir = mkdtemp( tmpl );
	}
	if ( ct_tmpdir == NULL ) {
		ct_fail( "Check TMPDIR.", "cannot make a private directory: %s",
			strerror( errno ) );
		return -1;
	}
	snprintf( ct_certpath, sizeof( ct_certpath ), "%s/cert.pem", ct_tmpdir );
	snprintf( ct_keypath, sizeof( ct_keypath ), "%s/key.pem", ct_tmpdir );
	if ( certpin_out_open( &o, ct_keypath, 0600, 0, err, sizeof( err ) ) ||
		certpin_out_key( &o, key, err, sizeof( err ) ) ||
		certpin_out_commit( &o, err, sizeof( err ) ) ||
		certpin_out_open( &o, ct_certpath, 0600, 0, err, sizeof( err ) ) ||
		certpin_out_cert( &o, cert, err, sizeof( err ) ) ||
		certpin_out_commit( &o, err, sizeof( err ) ) )
	{
		certpin_out_abort( &o );
		ct_fail( NULL, "cannot save the test certificate: %s", err );
		return -1;
	}
	return 0;
}

/* Remove the revocation record the revocation of the test certificate
 * left (Relax Rules: only an administrator may).  0, or the LDAP error. */
static int
ct_unrecord( LDAP *ld, const char *dn, const char *hex )
{
	char *attrs[] = { "certpinRevoked", NULL }, *info = NULL;
	LDAPMessage *res = NULL, *e;
	struct berval **vals = NULL, *dvals[2] = { NULL, NULL };
	LDAPMod mdel, *mods[2] = { &mdel, NULL };
	LDAPControl relax, *ctrls[2] = { &relax, NULL };
	certpin_certinfo ci;
	int rc, i;

	rc = ldap_search_ext_s( ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
		NULL, NULL, NULL, 1, &res );
	e = rc == LDAP_SUCCESS ? ldap_first_entry( ld, res ) : NULL;
	if ( e )
		vals = ldap_get_values_len( ld, e, "certpinRevoked" );
	for ( i = 0; vals && vals[i] && !dvals[0]; i++ ) {
		if ( certpin_certinfo_parse( vals[i]->bv_val, vals[i]->bv_len, &ci ) == 0 ) {
			if ( strcmp( ci.ci_sha256, hex ) == 0 )
				dvals[0] = vals[i];
			certpin_certinfo_free( &ci );
		}
	}
	if ( dvals[0] == NULL ) {
		rc = rc == LDAP_SUCCESS ? LDAP_NO_SUCH_ATTRIBUTE : rc;
		goto done;
	}
	memset( &relax, 0, sizeof( relax ) );
	relax.ldctl_oid = LDAP_CONTROL_RELAX;
	relax.ldctl_iscritical = 1;
	mdel.mod_op = LDAP_MOD_DELETE | LDAP_MOD_BVALUES;
	mdel.mod_type = "certpinRevoked";
	mdel.mod_bvalues = dvals;
	ct_step( "Removing the revocation record of the test certificate" );
	rc = ldap_modify_ext_s( ld, dn, mods, ctrls, NULL );
	if ( rc != LDAP_SUCCESS ) {
		info = ct_ld_info( ld, &rc );
		ct_step( "Cannot remove the record: %s", ct_ldaperr( rc, info ) );
		ldap_memfree( info );
	} else {
		ct_step( "Record removed: nothing of the test stays on the entry" );
	}
done:
	ldap_value_free_len( vals );
	ldap_msgfree( res );
	return rc;
}

/* Delete the test certificate from the user's entry (the overlay keeps a
 * revocation record with the reason), then remove the record when the
 * bind may; say what stays. */
static int
ct_revoke( LDAP *ld, const char *dn, const struct berval *der )
{
	char hex[65], reason[128], *info = NULL;
	struct berval dv = *der, *dvals[2] = { &dv, NULL };
	char *rvals[2] = { reason, NULL };
	LDAPMod mdel, madd, *mods[3] = { &mdel, &madd, NULL };
	int rc;

	certpin_sha256_hex( (const unsigned char *)der->bv_val, der->bv_len, hex );
	snprintf( reason, sizeof( reason ), "sha256=%s$reason=" CT_REASON, hex );
	mdel.mod_op = LDAP_MOD_DELETE | LDAP_MOD_BVALUES;
	mdel.mod_type = "certpinCertificate;binary";
	mdel.mod_bvalues = dvals;
	madd.mod_op = LDAP_MOD_ADD;
	madd.mod_type = "certpinRevoked";
	madd.mod_values = rvals;
	ct_step( "Revoking the test certificate %s on %s", hex, dn );
	rc = ldap_modify_ext_s( ld, dn, mods, NULL, NULL );
	if ( rc != LDAP_SUCCESS ) {
		info = ct_ld_info( ld, &rc );
		snprintf( ct.left, sizeof( ct.left ), "the test certificate %s stays on "
			"the user's entry", hex );
		if ( !co.nagios )
			fprintf( stderr, "%s: warning: could not revoke the test certificate "
				"(thumbprint %s): %s\n\trevoke it with certpin-revoke\n",
				cp_opt.prog, hex, cp_esc( ct_ldaperr( rc, info ) ) );
		ldap_memfree( info );
		return rc;
	}
	ct_step( "Revoked" );
	if ( ct_unrecord( ld, dn, hex ) != LDAP_SUCCESS ) {
		snprintf( ct.left, sizeof( ct.left ), "the revocation record of the test "
			"certificate stays (bind as an administrator, or test a device "
			"certificate with --cert/--key)" );
		if ( !co.nagios )
			fprintf( stderr, "%s: note: the revocation record of the test "
				"certificate %s stays on the user's entry (reason " CT_REASON
				"): an administrator removes such records with\n"
				"\tcertpin-revoke --prune --reason " CT_REASON " --all\n",
				cp_opt.prog, hex );
	}
	return LDAP_SUCCESS;
}

/* Diagnosis of a refused certpinIssue. */
static void
ct_fail_issue( int rc, const char *info, const char *identity )
{
	const char *e = ct_ldaperr( rc, info );

	switch ( rc ) {
	case LDAP_INVALID_CREDENTIALS:
		ct_fail( co.ro.phone ? "The phone number and PIN do not match a user: "
			"check the user's phone number and have an administrator set a "
			"new PIN if needed." : "The credential was refused.",
			"Could not get a certificate for %s: wrong %s: %s", identity,
			co.ro.phone ? "phone number or PIN" : "credentials", e );
		break;
	case LDAP_CONSTRAINT_VIOLATION:
		if ( !co.ro.phone || info == NULL || strstr( info, "PIN locked" ) == NULL ) {
			ct_fail( "The server refused to record a new certificate for the "
				"user for the reason given (e.g. the user already holds "
				"certpin-max-certificates certificates: revoke one with "
				"certpin-revoke).", "Could not get a certificate for %s: "
				"constraint violated: %s", identity, e );
			break;
		}
		ct_fail( "Too many wrong PINs: the PIN is locked out. An administrator "
			"unlocks it (clears certpinPINFailure) or sets a new PIN; it also "
			"unlocks when the failure window passes.",
			"Could not get a certificate for %s: PIN locked out: %s", identity, e );
		break;
	case LDAP_NO_SUCH_OBJECT:
		ct_fail( "No such user: check the identity (certpin-get shows how "
			"identities resolve).", "Could not get a certificate for %s: "
			"unknown user: %s", identity, e );
		break;
	case LDAP_INSUFFICIENT_ACCESS:
		ct_fail( "The bound identity may not get certificates for this user: "
			"use the user's own password, or bind (-D) as a certificate "
			"administrator.", "Could not get a certificate for %s: "
			"provisioning refused: %s", identity, e );
		break;
	case LDAP_CONFIDENTIALITY_REQUIRED:
		ct_fail( "PIN proofs need TLS: use ldaps:// or -ZZ.",
			"Could not get a certificate for %s: provisioning refused: %s",
			identity, e );
		break;
	case LDAP_PROTOCOL_ERROR:
	case LDAP_UNAVAILABLE:
		ct_fail( "The server does not offer certificate provisioning: load the "
			"certpin overlay on the frontend and configure its CA "
			"(slapo-certpin(5)).", "Could not get a certificate for %s: "
			"provisioning refused: %s", identity, e );
		break;
	case LDAP_UNWILLING_TO_PERFORM:
		if ( info && strstr( info, "certpinUser" ) ) {
			ct_fail( "The user is not enabled for certificate logon: add the "
				"objectClass certpinUser to the user's entry.",
				"Could not get a certificate for %s: user not enabled for "
				"certificates: %s", identity, e );
			break;
		}
		/* FALLTHRU */
	default:
		ct_fail( "The server refused to issue a certificate for the reason "
			"given: fix the user (certpinUser, the policy) or the request "
			"(--validity, -k).", "Could not get a certificate for %s: "
			"provisioning refused: %s", identity, e );
	}
}

int
main( int argc, char **argv )
{
	certpin_keyspec ks;
	certpin_issue_req req;
	certpin_issue_res res;
	struct berval pin = { 0, NULL }, csr = { 0, NULL }, der = { 0, NULL };
	struct berval *authzid = NULL, pw = { 0, NULL };
	const char *identity, *uri, *certfile, *keyfile;
	char err[512], *info = NULL, *user_dn = NULL, *bind_dn = NULL;
	LDAP *pld = NULL, *cld = NULL;
	int first, rc, enabled = -1, self, starttls;
	/* set before the watchdog's sigsetjmp() and changed after it */
	volatile int resolved = 0;
	char *volatile bound_as = NULL;
	LDAP *volatile revoke_ld = NULL;
	EVP_PKEY *volatile key = NULL;
	volatile int issued = 0, bind_kind = CT_BIND_NONE;

	memset( &req, 0, sizeof( req ) );
	memset( &res, 0, sizeof( res ) );
	signal( SIGPIPE, SIG_IGN );	/* a server closing a refused TLS session */
	/* 1 means "the test failed": usage errors exit 2, or in --nagios mode
	 * 3 (UNKNOWN), known before the options are parsed */
	cp_usage_status = CT_EXIT_USAGE;
	for ( first = 1; first < argc && strcmp( argv[first], "--" ); first++ ) {
		if ( !strcmp( argv[first], "--nagios" ) ) {
			cp_usage_status = CT_NAGIOS_UNKNOWN;
			cp_usage_hook = ct_nagios_usage;
		}
	}
	cp_tool_init( "certpin-test", "k:", ct_long, ct_opt, ct_usage );
	cp_tool_formats( CP_FMT_MASK( CP_FMT_JSON ), "text" );
	first = cp_tool_args( argc, argv );
	if ( co.nagios ) {
		if ( cp_opt.format_set )
			cp_usage_error( "--nagios prints its own line: no --output" );
		if ( cp_opt.dont )
			cp_usage_error( "--nagios and -n: a check must run" );
		if ( co.keep )
			cp_usage_error( "--nagios cleans up after itself: no --keep" );
		if ( co.warn < 0 )
			co.warn = co.crit > 0 && co.crit < CT_NAGIOS_WARN_DEFAULT ? co.crit :
				CT_NAGIOS_WARN_DEFAULT;
		if ( co.crit < 0 )
			co.crit = co.warn > CT_NAGIOS_CRIT_DEFAULT ? co.warn : CT_NAGIOS_CRIT_DEFAULT;
		if ( co.warn > co.crit )
			cp_usage_error( "--warning %g is above --critical %g", co.warn, co.crit );
	} else if ( co.warn >= 0 || co.crit >= 0 ) {
		cp_usage_error( "--warning and --critical are thresholds of --nagios" );
	}

	/* ---- what was asked ---- */
	uri = cp_opt.ldapuri;
	if ( uri == NULL )
		cp_usage_error( "-H URI is required (the server to test)" );
	if ( strchr( uri, ' ' ) || strchr( uri, ',' ) )
		cp_usage_error( "-H: give one URI" );
	if ( ct_is_scheme( uri, "ldapi" ) )
		cp_usage_error( "-H: a certificate logon needs ldaps:// or ldap:// "
			"(StartTLS), not ldapi://" );
	if ( argc - first != 1 )
		cp_usage_error( argc == first ? "the user's identity is required" :
			"one identity at a time" );
	identity = argv[first];
	if ( ( co.cert_file == NULL ) != ( co.key_file == NULL ) )
		cp_usage_error( "--cert and --key go together" );
	if ( co.ro.pin_file && !co.ro.phone )
		cp_usage_error( "--pin-file needs --phone" );
	if ( co.cert_file && ( co.ro.phone || co.ro.keykind || co.ro.validity || co.keep ) )
		cp_usage_error( "--cert tests an existing certificate: --phone, -k, "
			"--validity and --keep do not apply" );
	if ( co.ro.phone && ( cp_opt.passwd.bv_val || cp_opt.pw_file || cp_opt.want_bindpw ) &&
		!cp_opt.binddn )
		cp_usage_error( "give either the user's password or --phone, not both" );
	/* How the provisioning connection binds: SASL with -Y, simple with
	 * -D or a password (alone: the user's own), not at all for a PIN. */
	if ( cp_opt.sasl_mech )
		bind_kind = CT_BIND_SASL;
	else if ( cp_opt.binddn || cp_opt.passwd.bv_val || cp_opt.pw_file ||
		cp_opt.want_bindpw )
		bind_kind = CT_BIND_SIMPLE;
	else if ( co.ro.phone || co.cert_file )
		bind_kind = CT_BIND_NONE;
	else
		cp_usage_error( "a credential is required: the user's password (-W, -y "
			"FILE), -D with its password, -Y, or --phone" );
	if ( certpin_keyspec_parse( co.ro.keykind, &ks, err, sizeof( err ) ) )
		cp_usage_error( "-k: %s", err );
	if ( co.ro.endpoint == NULL )
		co.ro.endpoint = CT_ENDPOINT;
	if ( cp_opt.debug ) {
		ber_set_option( NULL, LBER_OPT_DEBUG_LEVEL, &cp_opt.debug );
		ldap_set_option( NULL, LDAP_OPT_DEBUG_LEVEL, &cp_opt.debug );
	}
	/* Certificate logons always use TLS: StartTLS on ldap://. */
	starttls = ldap_is_ldaps_url( uri ) ? 0 : 2;

	/* ---- secrets and files, before the clock starts ---- */
	if ( co.cert_file ) {
		if ( certpin_cert_read( co.cert_file, &der, err, sizeof( err ) ) )
			cp_usage_error( "%s", cp_esc( err ) );
		key = certpin_key_read( co.key_file, err, sizeof( err ) );
		if ( key == NULL )
			cp_usage_error( "%s", cp_esc( err ) );
	}
	if ( co.ro.phone ) {
		if ( certpin_pin_read( co.ro.pin_file, &pin, err, sizeof( err ) ) )
			cp_usage_error( "%s", cp_esc( err ) );
	}
	if ( cp_opt.pw_file ) {
		/* the whole file, as ldapsearch -y */
		if ( certpin_secret_read( cp_opt.pw_file, 0, &pw, err, sizeof( err ) ) )
			cp_usage_error( "%s", cp_esc( err ) );
	} else if ( cp_opt.want_bindpw ) {
		if ( certpin_secret_prompt( "LDAP Password", &pw, err, sizeof( err ) ) )
			cp_usage_error( "%s", cp_esc( err ) );
	} else if ( cp_opt.passwd.bv_val ) {
		pw = cp_opt.passwd;
		cp_opt.passwd.bv_val = NULL;
		cp_opt.passwd.bv_len = 0;
	}
	if ( cp_opt.dont ) {
		if ( cp_opt.verbose ) {
			if ( !co.cert_file )
				printf( "!certpinIssue for %s on %s\n", cp_esc( identity ), cp_esc( uri ) );
			printf( "!SASL EXTERNAL bind and WhoAmI on %s\n", cp_esc( uri ) );
			if ( !co.cert_file && !co.keep )
				printf( "!revoke the test certificate\n" );
		}
		certpin_secret_free( &pin );
		certpin_secret_free( &pw );
		return CT_EXIT_OK;
	}

	clock_gettime( CLOCK_MONOTONIC, &ct_t0 );
	if ( sigsetjmp( ct_jmp, 1 ) ) {
		/* the watchdog: report, remove the key, touch no LDAP handle */
		int t = cp_opt.nettimeout > 0 ? cp_opt.nettimeout : CT_TIMEOUT;
		char d[256];

		clock_gettime( CLOCK_MONOTONIC, &ct_t1 );
		snprintf( d, sizeof( d ), "The server did not answer within %d seconds: "
			"check that slapd is not overloaded or hung, and that the URI "
			"names an LDAP server (or wait longer with -o nettimeout=SECONDS).",
			CT_WATCHDOG * t );
		ct_fail( d, "%s: timed out", ct_where );
		ct_cleanup_files();
		rc = ct_report( uri );
		fflush( NULL );
		_exit( rc );
	}
	signal( SIGALRM, ct_alarm );
	ct_jmp_armed = 1;
	alarm( CT_WATCHDOG * ( cp_opt.nettimeout > 0 ? cp_opt.nettimeout : CT_TIMEOUT ) );

	/* ---- 1. the user, and a certificate for them ---- */
	if ( !co.cert_file ) {
		int use_tls = co.ro.phone && !ldap_is_ldaps_url( uri ) ? 2 : cp_opt.use_tls;

		ct_step( "Connecting to %s%s", uri, use_tls ? " (StartTLS)" : "" );
		rc = ct_open( uri, use_tls, 1, NULL, NULL, &pld, &info );
		if ( rc != LDAP_SUCCESS ) {
			ct_fail_connect( "Provisioning", uri, use_tls, 0, rc, info );
			goto out;
		}
		ct_step( "Connected%s", ldap_tls_inplace( pld ) ?
			", TLS established, server certificate trusted" : " without TLS" );
		if ( co.ro.phone && !ldap_tls_inplace( pld ) ) {
			ct_fail( "PIN proofs need TLS: use ldaps:// or ldap:// with StartTLS.",
				"refusing to send a PIN without TLS" );
			goto out;
		}

		/* Who binds: -D (the user or an administrator), the user
		 * (password alone), SASL (-Y), or nobody (PIN). */
		if ( bind_kind == CT_BIND_SIMPLE && cp_opt.binddn ) {
			bind_dn = ldap_strdup( cp_opt.binddn );
		} else if ( bind_kind == CT_BIND_SIMPLE ) {
			/* the user's own password: the user's DN is the bind DN */
			if ( strchr( identity, '=' ) == NULL || ldap_dn_normalize( identity,
				LDAP_DN_FORMAT_LDAP, &bind_dn, LDAP_DN_FORMAT_LDAPV3 ) != LDAP_SUCCESS )
			{
				ldap_memfree( bind_dn );
				bind_dn = NULL;
				ct_step( "Resolving %s anonymously to find the DN to bind as", identity );
				rc = certpin_user_find( pld, co.ro.config, identity, 1, &user_dn, &enabled );
				if ( rc != LDAP_SUCCESS ) {
					ct_fail( "Give the user's DN, or -D with a DN allowed to "
						"search for users.", "Could not find %s anonymously: %s",
						identity, ct_ldaperr( rc, NULL ) );
					goto out;
				}
				resolved = 1;
				bind_dn = ldap_strdup( user_dn );
			}
		}
		if ( bind_kind == CT_BIND_NONE ) {
			ct_step( "Not binding: the phone number and PIN prove the user" );
		} else if ( bind_kind == CT_BIND_SASL ) {
			ct_step( "SASL %s bind", cp_opt.sasl_mech );
			rc = ldap_sasl_interactive_bind_s( pld, cp_opt.binddn, cp_opt.sasl_mech,
				NULL, NULL, LDAP_SASL_QUIET, ct_sasl_interact, &pw );
			if ( rc != LDAP_SUCCESS ) {
				info = ct_ld_info( pld, &rc );
				ct_fail( "Check the SASL options (-Y, -U, -X) and that the server "
					"accepts that mechanism here.", "SASL bind failed: %s",
					ct_ldaperr( rc, info ) );
				goto out;
			}
		} else {
			ct_step( "Simple bind as %s", bind_dn );
			rc = ldap_sasl_bind_s( pld, bind_dn, LDAP_SASL_SIMPLE, &pw, NULL, NULL, NULL );
			if ( rc != LDAP_SUCCESS ) {
				info = ct_ld_info( pld, &rc );
				if ( ct_timed_out( rc, "Simple bind" ) )
					goto out;
				if ( rc == LDAP_INVALID_CREDENTIALS )
					ct_fail( cp_opt.binddn && !ct_dn_eq( cp_opt.binddn, identity ) ?
						"Wrong password for the bind DN given with -D, or no such "
						"entry: check -D and the password." :
						"Wrong password, or no user with this DN: check the "
						"password and the identity (an administrator can check "
						"both with -D).", "Bind as %s failed: wrong password or "
						"unknown DN: %s", bind_dn, ct_ldaperr( rc, info ) );
				else
					ct_fail( "The server refused the bind for the reason given.",
						"Bind as %s failed: %s", bind_dn, ct_ldaperr( rc, info ) );
				goto out;
			}
		}
		if ( bind_kind != CT_BIND_NONE ) {
			rc = ldap_whoami_s( pld, &authzid, NULL, NULL );
			if ( rc == LDAP_SUCCESS && authzid && authzid->bv_len > 3 &&
				!strncasecmp( authzid->bv_val, "dn:", 3 ) )
				bound_as = strndup( authzid->bv_val + 3, authzid->bv_len - 3 );
			ber_bvfree( authzid );
			authzid = NULL;
			ct_step( "Bound as %s", bound_as ? bound_as : "(no DN)" );
		}
		certpin_secret_free( &pw );

		/* name the user (and see certpinUser) where the bind allows */
		if ( !resolved ) {
			ct_step( "Resolving the identity %s (%s)", identity,
				cp_id_kind( identity, 0 ) );
			rc = certpin_user_find( pld, co.ro.config, identity, 1, &user_dn, &enabled );
			if ( rc == LDAP_SUCCESS ) {
				resolved = 1;
			} else if ( rc == LDAP_NO_SUCH_OBJECT && ( bind_dn || !co.ro.phone ) ) {
				ct_fail( "No such user: check the identity (certpin-get "
					"shows how identities resolve; --config sets the "
					"attributes searched).", "Unknown user %s", identity );
				goto out;
			} else if ( rc != LDAP_NO_SUCH_OBJECT && rc != LDAP_INSUFFICIENT_ACCESS ) {
				ct_fail( NULL, "Could not resolve %s: %s", identity,
					ct_ldaperr( rc, NULL ) );
				goto out;
			} else {
				ct_step( "Cannot see the user anonymously: checked after the "
					"certificate logon" );
			}
		}
		if ( resolved ) {
			ct_step( "User %s: %s", user_dn, enabled > 0 ?
				"enabled for certificates (certpinUser)" :
				enabled == 0 ? "NOT enabled for certificates" : "" );
			if ( enabled == 0 ) {
				ct_fail( "The user is not enabled for certificate logon: add the "
					"objectClass certpinUser to the user's entry.",
					"User %s is not enabled for certificates (no certpinUser)",
					user_dn );
				goto out;
			}
		}
		/* the bound user asks for themselves, anybody else names the user */
		self = co.ro.phone || ( bound_as && ct_dn_eq( bound_as, resolved ? user_dn : identity ) );

		/* a fresh key and its request */
		ct_step( "Generating %s key and a certificate request",
			ks.ks_kind == CERTPIN_KEY_RSA ? "an RSA" : "an ECDSA P-256" );
		key = certpin_key_generate( &ks, err, sizeof( err ) );
		if ( key == NULL || certpin_csr_make( key, identity, &csr, err, sizeof( err ) ) ) {
			ct_fail( NULL, "%s", err );
			goto out;
		}
		req.ir_csr = csr;
		req.ir_identity = self ? NULL : user_dn;
		req.ir_phone = co.ro.phone;
		req.ir_pin = pin;
		req.ir_validity = co.ro.validity;
		req.ir_endpoint = co.ro.endpoint;
		ct_step( "Requesting a certificate for %s endpoint %s (certpinIssue, %s%s)",
			resolved ? user_dn : identity, co.ro.endpoint,
			co.ro.phone ? "phone number and PIN" : self ? "self" : "administrator for ",
			co.ro.phone || self ? "" : user_dn );
		{
			struct timeval tv = { cp_opt.nettimeout > 0 ? cp_opt.nettimeout : CT_TIMEOUT, 0 };

			rc = certpin_issue( pld, &req, &tv, &res );
		}
		certpin_secret_free( &pin );
		if ( rc != LDAP_SUCCESS ) {
			if ( !ct_timed_out( rc, "Provisioning (certpinIssue)" ) )
				ct_fail_issue( rc, res.is_diag, identity );
			goto out;
		}
		der = res.is_cert;
		res.is_cert.bv_val = NULL;
		res.is_cert.bv_len = 0;
		issued = 1;
		revoke_ld = bind_kind == CT_BIND_NONE ? NULL : pld;
		{
			certpin_certinfo ci;

			if ( certpin_certinfo_from_der( (unsigned char *)der.bv_val, der.bv_len,
				&ci, err, sizeof( err ) ) == 0 )
			{
				ct_step( "Issued: subject %s, thumbprint %s, expires %s",
					ci.ci_subject, ci.ci_sha256, ci.ci_notafter );
				certpin_certinfo_free( &ci );
			}
		}
		if ( !certpin_key_matches_cert( key, &der ) ) {
			ct_fail( "The server's CA must certify the key of the request.",
				"The issued certificate does not hold the requested key" );
			goto out;
		}
		if ( ct_save( &der, key ) )
			goto out;
		certfile = ct_certpath;
		keyfile = ct_keypath;
	} else {
		certpin_certinfo ci;

		certfile = co.cert_file;
		keyfile = co.key_file;
		if ( !certpin_key_matches_cert( key, &der ) ) {
			ct_fail( "Give the key that belongs to the certificate.",
				"The key %s does not belong to the certificate %s",
				keyfile, certfile );
			goto out;
		}
		if ( certpin_certinfo_from_der( (unsigned char *)der.bv_val, der.bv_len,
			&ci, err, sizeof( err ) ) == 0 )
		{
			time_t now = time( NULL );

			ct_step( "Testing the certificate %s: subject %s, thumbprint %s, "
				"valid %s to %s", certfile, ci.ci_subject, ci.ci_sha256,
				ci.ci_notbefore, ci.ci_notafter );
			if ( now > ci.ci_notafter_t )
				snprintf( ct_hint, sizeof( ct_hint ), "This certificate "
					"expired on %s.", ci.ci_notafter );
			else if ( now < ci.ci_notbefore_t )
				snprintf( ct_hint, sizeof( ct_hint ), "This certificate is "
					"not valid before %s.", ci.ci_notbefore );
			if ( *ct_hint )
				ct_step( "Warning: %s", ct_hint );
			certpin_certinfo_free( &ci );
		}
	}

	/* ---- 2. a new TLS connection presenting the certificate ---- */
	ct_step( "Connecting to %s%s presenting the certificate", uri,
		starttls ? " (StartTLS)" : "" );
	ldap_memfree( info );
	rc = ct_open( uri, starttls, 1, certfile, keyfile, &cld, &info );
	if ( rc != LDAP_SUCCESS ) {
		ct_fail_connect( "Certificate logon", uri, starttls, 1, rc, info );
		goto out;
	}
	ct_step( "TLS established, server certificate trusted" );

	/* ---- 3. SASL EXTERNAL ---- */
	{
		struct berval empty = { 0, "" };

		ct_step( "SASL EXTERNAL bind" );
		rc = ldap_sasl_bind_s( cld, NULL, "EXTERNAL", &empty, NULL, NULL, NULL );
		if ( rc != LDAP_SUCCESS ) {
			ldap_memfree( info );
			info = ct_ld_info( cld, &rc );
			if ( ct_timed_out( rc, "Certificate logon (SASL EXTERNAL)" ) )
				goto out;
			if ( rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR )
				ct_fail_hint( "The server closed the TLS session when it saw the "
					"client certificate: it does not accept it. Device "
					"certificates must be issued by a CA in the server's "
					"TLSCACertificateFile and be valid now.",
					"Certificate logon: client certificate not accepted "
					"(TLS session closed by the server): %s", ct_ldaperr( rc, info ) );
			else if ( rc == LDAP_INAPPROPRIATE_AUTH || rc == LDAP_AUTH_METHOD_NOT_SUPPORTED ||
				( rc == LDAP_OTHER && info && strstr( info, "SASL" ) ) )
				ct_fail_hint( "The server got no usable client certificate from the "
					"TLS session: the certificate must be issued by a CA in the "
					"server's TLSCACertificateFile, and TLSVerifyClient must be "
					"try or demand.", "Certificate logon: client certificate "
					"not accepted: %s", ct_ldaperr( rc, info ) );
			else
				ct_fail_hint( "The server refused the certificate logon for the "
					"reason given: check the certificate is on the user's "
					"entry and not revoked (certpin-get), and the user "
					"still enabled.", "Certificate logon (SASL EXTERNAL) "
					"refused: %s", ct_ldaperr( rc, info ) );
			goto out;
		}
		ct_step( "Bound" );
	}

	/* ---- 4. WhoAmI ---- */
	rc = ldap_whoami_s( cld, &authzid, NULL, NULL );
	if ( rc != LDAP_SUCCESS ) {
		ldap_memfree( info );
		info = ct_ld_info( cld, &rc );
		if ( !ct_timed_out( rc, "WhoAmI" ) )
			ct_fail( "The server must support the WhoAmI operation (RFC 4532).",
			"WhoAmI failed: %s", ct_ldaperr( rc, info ) );
		goto out;
	}
	ct_step( "WhoAmI: %.*s", authzid ? (int)authzid->bv_len : 0,
		authzid ? authzid->bv_val : "" );
	if ( !resolved ) {
		/* bound now: the user's entry can be read */
		rc = certpin_user_find( cld, co.ro.config, identity, 1, &user_dn, &enabled );
		if ( rc == LDAP_SUCCESS )
			resolved = 1;
		else if ( rc == LDAP_NO_SUCH_OBJECT && !co.ro.phone ) {
			ct_fail( "No such user: check the identity.", "Unknown user %s",
				identity );
			goto out;
		}
	}
	if ( authzid == NULL || authzid->bv_len < 3 ||
		strncasecmp( authzid->bv_val, "dn:", 3 ) )
	{
		ct_fail( "The server did not map the certificate to an entry: check "
			"authz-regexp for the certificate's subject.",
			"Identity mismatch after the certificate logon: bound as \"%.*s\", "
			"expected dn:%s", authzid ? (int)authzid->bv_len : 0,
			authzid ? authzid->bv_val : "", resolved ? user_dn : identity );
		goto out;
	} else {
		char *got = strndup( authzid->bv_val + 3, authzid->bv_len - 3 );

		if ( got == NULL || !ct_dn_eq( got, resolved ? user_dn : identity ) ) {
			ct_fail( "The certificate logs on as another entry: check the "
				"certificate's subject and the server's authz-regexp "
				"mapping for it.", "Identity mismatch after the certificate "
				"logon: bound as dn:%s, expected dn:%s", got ? got : "",
				resolved ? user_dn : identity );
			free( got );
			goto out;
		}
		free( got );
	}
	ct_step( "The certificate logs on as the user" );
	snprintf( ct.user, sizeof( ct.user ), "%s", resolved ? user_dn : identity );
	if ( issued && !co.keep && revoke_ld == NULL ) {
		/* PIN path: the user, now bound, revokes the test certificate */
		revoke_ld = cld;
		clock_gettime( CLOCK_MONOTONIC, &ct_t1 );
		ct_revoke( cld, resolved ? user_dn : identity, &der );
		issued = 0;
	}
	ct_step( "Unbind" );
	ldap_unbind_ext_s( cld, NULL, NULL );
	cld = NULL;

out:
	if ( ct_t1.tv_sec == 0 && ct_t1.tv_nsec == 0 )
		clock_gettime( CLOCK_MONOTONIC, &ct_t1 );
	/* ---- 5. clean up ---- */
	if ( issued && !co.keep ) {
		LDAP *ld = revoke_ld;

		if ( ld == NULL )
			ld = cld;	/* PIN path: the user, if the logon worked */
		if ( ld != NULL )
			ct_revoke( ld, resolved ? user_dn : identity, &der );
		else {
			snprintf( ct.left, sizeof( ct.left ), "the test certificate stays "
				"on the user's entry" );
			if ( !co.nagios )
				fprintf( stderr, "%s: warning: the test certificate stays on the "
					"user's entry (an anonymous PIN session cannot revoke it); "
					"revoke it with certpin-revoke\n", cp_opt.prog );
		}
	} else if ( issued ) {
		ct_step( "Keeping the test certificate (--keep)" );
	}
	ct_cleanup_files();
	if ( cld )
		ldap_unbind_ext_s( cld, NULL, NULL );
	if ( pld )
		ldap_unbind_ext_s( pld, NULL, NULL );
	alarm( 0 );
	ct_jmp_armed = 0;
	rc = ct_report( uri );

	ber_bvfree( authzid );
	ldap_memfree( info );
	ldap_memfree( bind_dn );
	certpin_secret_free( &pin );
	certpin_secret_free( &pw );
	certpin_issue_res_free( &res );
	EVP_PKEY_free( key );
	free( csr.bv_val );
	if ( co.cert_file )
		free( der.bv_val );
	else
		ber_memfree( der.bv_val );
	free( user_dn );
	free( bound_as );
	return rc;
}
