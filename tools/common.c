/* common.c - the option parser and connection set-up shared by certpin tools
 *
 * See common.h for the interface.  The behaviour follows OpenLDAP's
 * clients/tools/common.c (same letters, same conflicts, same messages,
 * same exit codes); what libldap offers (ldap.conf, LDAPTLS_*, SASL through
 * libsasl2) is used as is.  liblutil is not installed by Debian, so the
 * SASL interaction callback and the password helpers are written here.
 */

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sasl/sasl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common.h"
#include <ldif.h>

/* Exported by libldap 2.5 (ldap_pvt.h), not in the installed headers. */
extern int ldap_pvt_conf_option( char *cmd, char *opt, int userconf );

int cp_usage_status = CP_EXIT_USAGE;

cp_common cp_opt = {
	.authmethod = -1,
	.sasl_flags = LDAP_SASL_QUIET,
	.nettimeout = -1,
	.ldif_wrap = 76,
};

static unsigned cp_formats = CP_FMT_MASK( CP_FMT_TEXT );
static const char *cp_text_name = "text";

/* Long options of the common parser (codes no tool uses). */
enum { CP_OPT_OUTPUT = 0x20000, CP_OPT_FORMAT };

static const char *cp_private_short = "";
static const struct option *cp_private_long;
static cp_private_fn *cp_private;
static cp_usage_fn *cp_private_usage;

void
cp_tool_init( const char *prog, const char *private_short,
	const struct option *private_long, cp_private_fn *fn, cp_usage_fn *usage )
{
	cp_opt.prog = prog;
	cp_private_short = private_short ? private_short : "";
	cp_private_long = private_long;
	cp_private = fn;
	cp_private_usage = usage;
}

void
cp_tool_formats( unsigned mask, const char *text_name )
{
	cp_formats = mask | CP_FMT_MASK( CP_FMT_TEXT );
	if ( text_name )
		cp_text_name = text_name;
}

int
cp_timeout( void )
{
	if ( cp_opt.nettimeout < 0 )
		return CP_TIMEOUT;
	return cp_opt.nettimeout;
}

/* ---- escaping ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n bytes left) and its code
 * point, or 0 when p does not start one (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static size_t
cp_utf8( const unsigned char *p, size_t n, unsigned long *cp )
{
	size_t len, i;
	unsigned long c;

	if ( p[0] < 0x80 ) {
		*cp = p[0];
		return 1;
	}
	if ( p[0] >= 0xc2 && p[0] <= 0xdf ) {
		len = 2;
		c = p[0] & 0x1f;
	} else if ( p[0] >= 0xe0 && p[0] <= 0xef ) {
		len = 3;
		c = p[0] & 0x0f;
	} else if ( p[0] >= 0xf0 && p[0] <= 0xf4 ) {
		len = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	if ( n < len )
		return 0;
	for ( i = 1; i < len; i++ ) {
		if ( ( p[i] & 0xc0 ) != 0x80 )
			return 0;
		c = ( c << 6 ) | ( p[i] & 0x3f );
	}
	if ( ( len == 3 && c < 0x800 ) || ( len == 4 && ( c < 0x10000 || c > 0x10ffff ) ) ||
	     ( c >= 0xd800 && c <= 0xdfff ) )
		return 0;
	*cp = c;
	return len;
}

static int
cp_is_control( unsigned long c )
{
	return c < 0x20 || c == 0x7f || ( c >= 0x80 && c <= 0x9f );
}

static const char *
cp_esc_any( const char *s, size_t n, int dn )
{
	static char *slot[CP_ESC_SLOTS];
	static size_t cap[CP_ESC_SLOTS];
	static int next;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, need;
	char *out;
	int k;

	if ( s == NULL )
		return "";
	k = next;
	next = ( next + 1 ) % CP_ESC_SLOTS;
	need = 4 * n + 1;
	if ( cap[k] < need ) {
		char *b = realloc( slot[k], need );

		if ( b == NULL ) {
			perror( cp_opt.prog );
			exit( EXIT_FAILURE );
		}
		slot[k] = b;
		cap[k] = need;
	}
	out = slot[k];
	while ( i < n ) {
		unsigned long c = 0;
		size_t len = cp_utf8( p + i, n - i, &c );

		if ( len == 0 || cp_is_control( c ) ) {
			/* one byte; a C1 character is two: escape both */
			size_t j, m = len ? len : 1;

			for ( j = 0; j < m; j++ )
				o += sprintf( out + o, dn ? "\\%02X" : "\\x%02x", p[i + j] );
			i += m;
			continue;
		}
		memcpy( out + o, p + i, len );
		o += len;
		i += len;
	}
	out[o] = '\0';
	return out;
}

const char *
cp_esc( const char *s )
{
	return cp_esc_any( s, s ? strlen( s ) : 0, 0 );
}

const char *
cp_esc_dn( const char *s )
{
	return cp_esc_any( s, s ? strlen( s ) : 0, 1 );
}

const char *
cp_esc_len( const char *s, size_t len )
{
	return cp_esc_any( s, len, 0 );
}

/* ---- messages -------------------------------------------------------------- */

void
cp_warn( const char *fmt, ... )
{
	va_list ap;

	fprintf( stderr, "%s: ", cp_opt.prog );
	va_start( ap, fmt );
	vfprintf( stderr, fmt, ap );
	va_end( ap );
	fputc( '\n', stderr );
}

void
cp_perror( const char *what, int err, const char *matched, const char *info )
{
	/* "what" is built by the tools from escaped parts */
	fprintf( stderr, "%s: %s (%d)\n", what ? what : cp_opt.prog,
		ldap_err2string( err ), err );
	if ( matched && *matched )
		fprintf( stderr, "\tmatched DN: %s\n", cp_esc_dn( matched ) );
	if ( info && *info )
		fprintf( stderr, "\tadditional info: %s\n", cp_esc( info ) );
}

int
cp_result( LDAP *ld, LDAPMessage *res, const char *what )
{
	int err = LDAP_OTHER, rc;
	char *matched = NULL, *info = NULL;

	rc = ldap_parse_result( ld, res, &err, &matched, &info, NULL, NULL, 0 );
	if ( rc != LDAP_SUCCESS ) {
		cp_perror( what, rc, NULL, NULL );
		return rc;
	}
	if ( err != LDAP_SUCCESS )
		cp_perror( what, err, matched, info );
	ldap_memfree( matched );
	ldap_memfree( info );
	return err;
}

int
cp_ld_error( LDAP *ld, const char *what, int rc )
{
	char *info = NULL;

	if ( rc == LDAP_SUCCESS || rc == -1 )
		ldap_get_option( ld, LDAP_OPT_RESULT_CODE, &rc );
	if ( rc == LDAP_SUCCESS )
		rc = LDAP_OTHER;
	ldap_get_option( ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &info );
	cp_perror( what, rc, NULL, info );
	ldap_memfree( info );
	return rc;
}

/* ---- usage ------------------------------------------------------------------- */

static const char *const cp_common_help[] = {
	"  -c         continue after errors\n",
	"  -d level   set LDAP debugging level to `level'\n",
	"  -D binddn  bind DN\n",
	"  -f file    read identities from file (default: standard input)\n",
	"  -H URI     LDAP Uniform Resource Identifier(s)\n",
	"  -I         use SASL Interactive mode\n",
	"  -j         JSON output (--output=json)\n",
	"  -n         show what would be done but don't actually do it\n",
	"  -N         do not use reverse DNS to canonicalize SASL host name\n",
	"  -O props   SASL security properties\n",
	"  -o <opt>[=<optparam>] any libldap ldap.conf options, plus\n"
	"             ldif_wrap=<width> (in columns, or \"no\" for no wrapping)\n"
	"             nettimeout=<timeout> (in seconds, or \"none\" or \"max\";\n"
	"             default 30: also the longest wait for any answer)\n",
	"  --output=<format> output format (--format); see above\n",
	"  -Q         use SASL Quiet mode\n",
	"  -R realm   SASL realm\n",
	"  -U authcid SASL authentication identity\n",
	"  -v         run in verbose mode (diagnostics to standard output)\n",
	"  -V         print version info (-VV only)\n",
	"  -w passwd  bind password (for simple authentication)\n",
	"  -W         prompt for bind password\n",
	"  -x         Simple authentication\n",
	"  -X authzid SASL authorization identity (\"dn:<dn>\" or \"u:<user>\")\n",
	"  -y file    Read password from file\n",
	"  -Y mech    SASL mechanism\n",
	"  -Z         Start TLS request (-ZZ to require successful response)\n",
	NULL
};

void
cp_usage( FILE *fp )
{
	int i;

	if ( cp_private_usage )
		cp_private_usage( fp );
	fputs( "Common options:\n", fp );
	for ( i = 0; cp_common_help[i]; i++ )
		fputs( cp_common_help[i], fp );
}

cp_usage_fn_msg *cp_usage_hook;

void
cp_usage_error( const char *fmt, ... )
{
	char msg[1024];
	va_list ap;

	va_start( ap, fmt );
	vsnprintf( msg, sizeof( msg ), fmt, ap );
	va_end( ap );
	if ( cp_usage_hook )
		cp_usage_hook( msg );
	fprintf( stderr, "%s: %s\n", cp_opt.prog, msg );
	fprintf( stderr, "Try `%s --help' for more information.\n", cp_opt.prog );
	exit( cp_usage_status );
}

/* ---- option parsing --------------------------------------------------------- */

static void
cp_want_sasl( int c )
{
	if ( cp_opt.authmethod != -1 && cp_opt.authmethod != LDAP_AUTH_SASL )
		cp_usage_error( "-%c incompatible with previous authentication choice", c );
	cp_opt.authmethod = LDAP_AUTH_SASL;
}

static void
cp_once( char **slot, int c, char *arg )
{
	if ( *slot != NULL )
		cp_usage_error( "-%c previously specified", c );
	*slot = arg;
}

static int
cp_int_arg( const char *s, int *out )
{
	char *end;
	long v;

	errno = 0;
	v = strtol( s, &end, 10 );
	if ( errno || end == s || *end || v < 0 || v > 0x7fffffff )
		return -1;
	*out = (int)v;
	return 0;
}

/* --output=FORMAT, -j */
static void
cp_set_format( const char *f )
{
	int fmt;

	if ( !strcasecmp( f, "text" ) || !strcasecmp( f, cp_text_name ) )
		fmt = CP_FMT_TEXT;
	else if ( !strcasecmp( f, "ldif" ) )
		fmt = CP_FMT_LDIF;
	else if ( !strcasecmp( f, "json" ) )
		fmt = CP_FMT_JSON;
	else
		fmt = -1;
	if ( fmt < 0 || !( cp_formats & CP_FMT_MASK( fmt ) ) )
		cp_usage_error( "unknown output format \"%s\" (%s%s%s)", f, cp_text_name,
			cp_formats & CP_FMT_MASK( CP_FMT_LDIF ) ? ", ldif" : "",
			cp_formats & CP_FMT_MASK( CP_FMT_JSON ) ? ", json" : "" );
	if ( cp_opt.format_set && cp_opt.format != fmt )
		cp_usage_error( "output format previously specified" );
	cp_opt.format = fmt;
	cp_opt.format_set = 1;
}

/* -o name[=value] */
static void
cp_general_option( char *arg )
{
	char name[64], *value, *p;
	size_t n;

	value = strchr( arg, '=' );
	n = value ? (size_t)( value - arg ) : strlen( arg );
	if ( n == 0 || n >= sizeof( name ) )
		cp_usage_error( "invalid general option \"%s\"", arg );
	memcpy( name, arg, n );
	name[n] = '\0';
	if ( value )
		value++;
	for ( p = name; *p; p++ )
		if ( *p == '-' )
			*p = '_';

	if ( strcasecmp( name, "nettimeout" ) == 0 ) {
		if ( cp_opt.nettimeout != -1 )
			cp_usage_error( "nettimeout option previously specified" );
		if ( value == NULL || *value == '\0' )
			cp_usage_error( "nettimeout: option value expected" );
		if ( strcasecmp( value, "none" ) == 0 )
			cp_opt.nettimeout = 0;
		else if ( strcasecmp( value, "max" ) == 0 )
			cp_opt.nettimeout = 0x7fffffff;
		else if ( cp_int_arg( value, &cp_opt.nettimeout ) )
			cp_usage_error( "Unable to parse network timeout \"%s\"", cp_esc( value ) );
		return;
	}
	if ( strcasecmp( name, "ldif_wrap" ) == 0 ) {
		if ( value == NULL )
			cp_opt.ldif_wrap = 76;
		else if ( strcasecmp( value, "no" ) == 0 )
			cp_opt.ldif_wrap = 0;
		else if ( cp_int_arg( value, &cp_opt.ldif_wrap ) )
			cp_usage_error( "Unable to parse ldif_wrap=\"%s\"", cp_esc( value ) );
		return;
	}
	/* the old spellings of the output format: no ldap.conf option has
	 * these names, so they cannot collide; kept, with a note */
	if ( strcasecmp( name, "format" ) == 0 || ( value == NULL &&
	     ( !strcasecmp( name, "json" ) || !strcasecmp( name, "ldif" ) ||
	       !strcasecmp( name, "table" ) || !strcasecmp( name, "text" ) ) ) ) {
		const char *f = strcasecmp( name, "format" ) == 0 ? value : name;

		if ( f == NULL || *f == '\0' )
			cp_usage_error( "format: option value expected" );
		cp_set_format( f );
		fprintf( stderr, "%s: -o %s is deprecated: use --output=%s%s\n", cp_opt.prog,
			arg, f, strcasecmp( f, "json" ) ? "" : " or -j" );
		return;
	}
	if ( cp_private && cp_private( CP_OPT_GENERAL, arg ) )
		return;
	if ( ldap_pvt_conf_option( name, value, 1 ) )
		cp_usage_error( "invalid general option name: %s", cp_esc( name ) );
}

static int
cp_is_common( int c )
{
	return c > 0 && c < 256 && strchr( CP_COMMON_SHORT, c ) != NULL && c != ':';
}

int
cp_tool_args( int argc, char **argv )
{
	static const struct option common_long[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, CP_OPT_OUTPUT },
		{ "format", required_argument, NULL, CP_OPT_FORMAT },
	};
	const int ncommon = (int)( sizeof( common_long ) / sizeof( common_long[0] ) );
	struct option *longopts;
	char *shortopts;
	int nlong = 0, i, c, version = 0;

	if ( cp_private_long )
		while ( cp_private_long[nlong].name )
			nlong++;
	longopts = calloc( nlong + ncommon + 1, sizeof( struct option ) );
	shortopts = malloc( strlen( CP_COMMON_SHORT ) + strlen( cp_private_short ) + 2 );
	if ( longopts == NULL || shortopts == NULL ) {
		perror( cp_opt.prog );
		exit( cp_usage_status );
	}
	for ( i = 0; i < nlong; i++ )
		longopts[i] = cp_private_long[i];
	for ( i = 0; i < ncommon; i++ )
		longopts[nlong + i] = common_long[i];
	/* leading ':' is not used: getopt prints its own message, as OpenLDAP */
	strcpy( shortopts, CP_COMMON_SHORT );
	strcat( shortopts, cp_private_short );

	while ( ( c = getopt_long( argc, argv, shortopts, longopts, NULL ) ) != -1 ) {
		/* private letters and long options first, common letters are
		 * never offered to the tool */
		if ( c == CP_OPT_OUTPUT || c == CP_OPT_FORMAT ) {
			cp_set_format( optarg );
			continue;
		}
		if ( !cp_is_common( c ) && c != '?' ) {
			if ( cp_private && cp_private( c, optarg ) )
				continue;
			cp_usage_error( "unrecognized option -%c", c );
		}
		switch ( c ) {
		case 'c':
			cp_opt.contoerr++;
			break;
		case 'd':
			if ( cp_int_arg( optarg, &cp_opt.debug ) )
				cp_usage_error( "invalid debug level \"%s\"", optarg );
			break;
		case 'D':
			cp_once( &cp_opt.binddn, c, optarg );
			break;
		case 'f':
			cp_once( &cp_opt.infile, c, optarg );
			break;
		case 'h':
			cp_usage( stdout );
			exit( EXIT_SUCCESS );
		case 'H':
			cp_once( &cp_opt.ldapuri, c, optarg );
			break;
		case 'j':
			cp_set_format( "json" );
			break;
		case 'I':
			cp_want_sasl( c );
			cp_opt.sasl_flags = LDAP_SASL_INTERACTIVE;
			break;
		case 'n':
			cp_opt.dont++;
			break;
		case 'N':
			cp_opt.nocanon++;
			break;
		case 'o':
			cp_general_option( optarg );
			break;
		case 'O':
			cp_want_sasl( c );
			cp_once( &cp_opt.sasl_secprops, c, optarg );
			break;
		case 'Q':
			cp_want_sasl( c );
			cp_opt.sasl_flags = LDAP_SASL_QUIET;
			break;
		case 'R':
			cp_want_sasl( c );
			cp_once( &cp_opt.sasl_realm, c, optarg );
			break;
		case 'U':
			cp_want_sasl( c );
			cp_once( &cp_opt.sasl_authc_id, c, optarg );
			break;
		case 'v':
			cp_opt.verbose++;
			break;
		case 'V':
			version++;
			break;
		case 'w':
			if ( cp_opt.passwd.bv_val != NULL )
				cp_usage_error( "-w previously specified" );
			cp_opt.passwd.bv_val = strdup( optarg );
			cp_opt.passwd.bv_len = strlen( optarg );
			/* wipe the password from the process arguments */
			memset( optarg, '\0', cp_opt.passwd.bv_len );
			break;
		case 'W':
			cp_opt.want_bindpw++;
			break;
		case 'x':
			if ( cp_opt.authmethod != -1 && cp_opt.authmethod != LDAP_AUTH_SIMPLE )
				cp_usage_error( "-x incompatible with previous authentication choice" );
			cp_opt.authmethod = LDAP_AUTH_SIMPLE;
			break;
		case 'X':
			cp_want_sasl( c );
			cp_once( &cp_opt.sasl_authz_id, c, optarg );
			break;
		case 'y':
			cp_once( &cp_opt.pw_file, c, optarg );
			break;
		case 'Y':
			cp_want_sasl( c );
			cp_once( &cp_opt.sasl_mech, c, optarg );
			break;
		case 'Z':
			cp_opt.use_tls++;
			break;
		default:	/* '?': getopt said why */
			if ( cp_usage_hook )
				cp_usage_hook( "invalid option" );
			fprintf( stderr, "Try `%s --help' for more information.\n", cp_opt.prog );
			exit( cp_usage_status );
		}
	}
	free( longopts );
	free( shortopts );

	if ( version ) {
		fprintf( stderr, "%s: %s %s\t(LDAP library: %s %d)\n", cp_opt.prog,
			PACKAGE_NAME, PACKAGE_VERSION, LDAP_VENDOR_NAME, LDAP_VENDOR_VERSION );
		if ( version > 1 )
			exit( EXIT_SUCCESS );
	}
	if ( ( cp_opt.pw_file || cp_opt.want_bindpw ) && cp_opt.passwd.bv_val != NULL )
		cp_usage_error( "-%c incompatible with -w", cp_opt.pw_file ? 'y' : 'W' );
	if ( cp_opt.pw_file && cp_opt.want_bindpw )
		cp_usage_error( "-y incompatible with -W" );
	if ( cp_opt.authmethod == -1 )
		cp_opt.authmethod = cp_opt.binddn ? LDAP_AUTH_SIMPLE : LDAP_AUTH_SASL;
	if ( cp_opt.authmethod == LDAP_AUTH_SASL &&
	     ( cp_opt.passwd.bv_val || cp_opt.pw_file || cp_opt.want_bindpw ) &&
	     cp_opt.sasl_mech && strcasecmp( cp_opt.sasl_mech, "EXTERNAL" ) == 0 )
		cp_usage_error( "-Y EXTERNAL takes no password" );
	return optind;
}

/* ---- terminal ------------------------------------------------------------------ */

/* While echo is off: the terminal and its settings, restored by a signal
 * that ends the program in the middle of a prompt. */
static volatile sig_atomic_t cp_tty_fd = -1;
static struct termios cp_tty_saved;

static void
cp_tty_signal( int sig )
{
	if ( cp_tty_fd >= 0 )
		tcsetattr( cp_tty_fd, TCSAFLUSH, &cp_tty_saved );
	signal( sig, SIG_DFL );
	raise( sig );
}

/* Prompt on /dev/tty and read one line; echo off when noecho.  Returns a
 * malloc'd string (newline removed) or NULL. */
static char *
cp_tty_read( const char *prompt, int noecho )
{
	struct termios old, tmp;
	struct sigaction sa, oint, oterm, ohup;
	char buf[1024], *ret = NULL;
	FILE *tty;
	int fd, restore = 0;
	size_t n;

	fd = open( "/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC );
	if ( fd < 0 )
		return NULL;
	tty = fdopen( fd, "r+" );
	if ( tty == NULL ) {
		close( fd );
		return NULL;
	}
	fputs( prompt, tty );
	fflush( tty );
	if ( noecho && tcgetattr( fd, &old ) == 0 ) {
		cp_tty_saved = old;
		cp_tty_fd = fd;
		memset( &sa, 0, sizeof( sa ) );
		sa.sa_handler = cp_tty_signal;
		sigemptyset( &sa.sa_mask );
		sigaction( SIGINT, &sa, &oint );
		sigaction( SIGTERM, &sa, &oterm );
		sigaction( SIGHUP, &sa, &ohup );
		tmp = old;
		tmp.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr( fd, TCSADRAIN, &tmp ) == 0;
	}
	if ( fgets( buf, sizeof( buf ), tty ) != NULL ) {
		n = strlen( buf );
		if ( n && buf[n - 1] == '\n' )
			buf[--n] = '\0';
		ret = strdup( buf );
	}
	if ( restore ) {
		tcsetattr( fd, TCSADRAIN, &old );
		if ( write( fd, "\n", 1 ) < 0 ) {
			/* the newline the hidden input did not echo: nothing to do */
		}
	}
	if ( cp_tty_fd >= 0 ) {
		cp_tty_fd = -1;
		sigaction( SIGINT, &oint, NULL );
		sigaction( SIGTERM, &oterm, NULL );
		sigaction( SIGHUP, &ohup, NULL );
	}
	memset( buf, 0, sizeof( buf ) );
	fclose( tty );
	return ret;
}

int
cp_confirm( const char *fmt, ... )
{
	char prompt[1024], *ans;
	va_list ap;
	int yes;

	va_start( ap, fmt );
	vsnprintf( prompt, sizeof( prompt ) - 8, fmt, ap );
	va_end( ap );
	strcat( prompt, " [y/N] " );
	ans = cp_tty_read( prompt, 0 );
	if ( ans == NULL )
		return -1;
	yes = ( ans[0] == 'y' || ans[0] == 'Y' );
	free( ans );
	return yes;
}

int
cp_progress_ok( void )
{
	return isatty( STDERR_FILENO );
}

/* ---- password ------------------------------------------------------------------- */

/* "fmt ..." into err (when there is one): common.h */
void
cp_err( char *err, size_t errlen, const char *fmt, ... )
{
	va_list ap;

	if ( err == NULL || errlen == 0 )
		return;
	va_start( ap, fmt );
	vsnprintf( err, errlen, fmt, ap );
	va_end( ap );
}

static void
cp_chomp( struct berval *s )
{
	if ( s->bv_len > 0 && s->bv_val[s->bv_len - 1] == '\n' ) {
		s->bv_val[--s->bv_len] = '\0';
		if ( s->bv_len > 0 && s->bv_val[s->bv_len - 1] == '\r' )
			s->bv_val[--s->bv_len] = '\0';
	}
}

void
certpin_secret_free( struct berval *s )
{
	if ( s->bv_val != NULL ) {
		OPENSSL_cleanse( s->bv_val, s->bv_len );
		free( s->bv_val );
	}
	s->bv_val = NULL;
	s->bv_len = 0;
}

int
certpin_secret_file( const char *path, struct berval *out, char *err, size_t errlen )
{
	return certpin_secret_read( path, 1, out, err, errlen );
}

/* A secret file's largest size: the secret and a final CRLF. */
#define CERTPIN_SECRET_FILE_MAX	( CERTPIN_SECRET_MAX + 2 )

int
certpin_secret_read( const char *path, int chomp, struct berval *out,
	char *err, size_t errlen )
{
	struct stat st;
	ssize_t r;
	size_t n = 0;
	char *buf;
	int fd;

	out->bv_val = NULL;
	out->bv_len = 0;
	fd = open( path, O_RDONLY | O_CLOEXEC );
	if ( fd < 0 ) {
		cp_err( err, errlen, "%s: %s", path, strerror( errno ) );
		return -1;
	}
	if ( fstat( fd, &st ) == 0 && S_ISREG( st.st_mode ) && ( st.st_mode & 077 ) )
		fprintf( stderr, "Warning: secret file %s is readable or writable by others\n",
			path );
	/* The longest file that can hold a secret is CERTPIN_SECRET_MAX
	 * bytes and a final CRLF: read one byte more than that, to know a
	 * longer file is one (cutting it there would drop what follows). */
	buf = malloc( CERTPIN_SECRET_FILE_MAX + 2 );
	if ( buf == NULL ) {
		close( fd );
		cp_err( err, errlen, "%s: out of memory", path );
		return -1;
	}
	while ( n <= CERTPIN_SECRET_FILE_MAX ) {
		r = read( fd, buf + n, CERTPIN_SECRET_FILE_MAX + 1 - n );
		if ( r < 0 && errno == EINTR )
			continue;
		if ( r < 0 ) {
			cp_err( err, errlen, "%s: %s", path, strerror( errno ) );
			goto fail;
		}
		if ( r == 0 )
			break;
		n += r;
	}
	close( fd );
	out->bv_val = buf;
	out->bv_len = n;
	buf[n] = '\0';
	if ( chomp && n <= CERTPIN_SECRET_FILE_MAX )
		cp_chomp( out );
	if ( out->bv_len > CERTPIN_SECRET_MAX ) {
		cp_err( err, errlen, "%s: longer than %d bytes", path, CERTPIN_SECRET_MAX );
		certpin_secret_free( out );
		return -1;
	}
	if ( out->bv_len == 0 ) {
		cp_err( err, errlen, "%s: empty", path );
		certpin_secret_free( out );
		return -1;
	}
	if ( chomp && memchr( out->bv_val, '\n', out->bv_len ) != NULL ) {
		cp_err( err, errlen, "%s: holds more than one line", path );
		certpin_secret_free( out );
		return -1;
	}
	return 0;
fail:
	if ( fd >= 0 )
		close( fd );
	OPENSSL_cleanse( buf, CERTPIN_SECRET_FILE_MAX + 2 );
	free( buf );
	return -1;
}

/* ---- SASL ----------------------------------------------------------------------- */

typedef struct cp_sasl_defaults {
	char	*mech, *realm, *authcid, *passwd, *authzid;
	char	*resps[16];
	int	nresps;
} cp_sasl_defaults;

static int
cp_sasl_interact( LDAP *ld, unsigned flags, void *defaults, void *in )
{
	cp_sasl_defaults *defs = defaults;
	sasl_interact_t *it;

	for ( it = in; it->id != SASL_CB_LIST_END; it++ ) {
		const char *dflt = it->defresult;
		int noecho = 0;
		char prompt[256], *ans;

		switch ( it->id ) {
		case SASL_CB_GETREALM:	dflt = defs->realm; break;
		case SASL_CB_AUTHNAME:	dflt = defs->authcid; break;
		case SASL_CB_PASS:	dflt = defs->passwd; noecho = 1; break;
		case SASL_CB_USER:	dflt = defs->authzid; break;
		case SASL_CB_NOECHOPROMPT: noecho = 1; break;
		}
		if ( dflt && !*dflt )
			dflt = NULL;
		if ( flags != LDAP_SASL_INTERACTIVE && ( dflt || it->id == SASL_CB_USER ) ) {
			it->result = dflt ? dflt : "";
			it->len = strlen( it->result );
			continue;
		}
		if ( flags == LDAP_SASL_QUIET )
			return LDAP_OTHER;
		if ( it->challenge && ( it->id == SASL_CB_ECHOPROMPT ||
		     it->id == SASL_CB_NOECHOPROMPT ) )
			fprintf( stderr, "Challenge: %s\n", cp_esc( it->challenge ) );
		if ( dflt )
			fprintf( stderr, "Default: %s\n", cp_esc( dflt ) );
		snprintf( prompt, sizeof( prompt ), "%s: ",
			it->prompt ? cp_esc( it->prompt ) : "Interact" );
		ans = cp_tty_read( prompt, noecho );
		if ( ans == NULL )
			return LDAP_UNAVAILABLE;
		if ( *ans == '\0' || defs->nresps == 16 ) {
			free( ans );
			it->result = dflt ? dflt : "";
		} else {
			defs->resps[defs->nresps++] = ans;
			it->result = ans;
		}
		it->len = strlen( it->result );
	}
	return LDAP_SUCCESS;
}

/* ---- connection ------------------------------------------------------------------ */

/* libldap bounds connecting and each wait for an answer, but not a TLS
 * handshake (ldaps:// or StartTLS) with a server that accepts and never
 * answers: connecting, StartTLS and the bind together are bounded by
 * CP_WATCHDOG timeouts.  The message is written with write(2) (async-signal
 * safe); the exit status is that of LDAP_TIMEOUT, as after any other
 * timeout. */
static void
cp_watchdog_fire( int sig )
{
	static const char msg[] = ": Timed out (-5)\n\tadditional info: "
		"no answer from the server while connecting (see -o nettimeout)\n";

	(void)sig;
	if ( write( STDERR_FILENO, cp_opt.prog, strlen( cp_opt.prog ) ) >= 0 &&
	     write( STDERR_FILENO, msg, sizeof( msg ) - 1 ) >= 0 )
		_exit( LDAP_TIMEOUT & 0xff );
	_exit( LDAP_TIMEOUT & 0xff );
}

static void
cp_watchdog( int on )
{
	if ( cp_timeout() <= 0 )
		return;
	if ( on ) {
		unsigned t = (unsigned)cp_timeout() > 0x7fffffffU / CP_WATCHDOG ?
			0x7fffffffU : (unsigned)cp_timeout() * CP_WATCHDOG;

		signal( SIGALRM, cp_watchdog_fire );
		alarm( t );
	} else {
		alarm( 0 );
		signal( SIGALRM, SIG_DFL );
	}
}

static void
cp_ld_fatal( LDAP *ld, const char *what, int rc )
{
	rc = cp_ld_error( ld, what, rc );
	cp_tool_exit( ld, rc );
}

int
cp_ld_new( const char *uri, LDAP **ldp )
{
	int rc, version = LDAP_VERSION3;

	*ldp = NULL;
	rc = ldap_initialize( ldp, uri );
	if ( rc != LDAP_SUCCESS )
		return rc;
	if ( ldap_set_option( *ldp, LDAP_OPT_PROTOCOL_VERSION, &version ) != LDAP_OPT_SUCCESS ||
	     ldap_set_option( *ldp, LDAP_OPT_REFERRALS, LDAP_OPT_OFF ) != LDAP_OPT_SUCCESS )
		return LDAP_LOCAL_ERROR;
	if ( cp_timeout() > 0 ) {
		/* connecting, and every wait for an answer (ldap_result() and
		 * the synchronous calls), end after the timeout: a server that
		 * accepts and never answers does not hang the tool */
		struct timeval tv = { cp_timeout(), 0 }, *conf;
		int opts[2] = { LDAP_OPT_NETWORK_TIMEOUT, LDAP_OPT_TIMEOUT }, i;

		for ( i = 0; i < 2; i++ ) {
			/* without -o nettimeout, a value from ldap.conf stands */
			conf = NULL;
			if ( cp_opt.nettimeout < 0 &&
			     ldap_get_option( *ldp, opts[i], &conf ) == LDAP_OPT_SUCCESS &&
			     conf != NULL ) {
				ldap_memfree( conf );
				continue;
			}
			if ( ldap_set_option( *ldp, opts[i], &tv ) != LDAP_OPT_SUCCESS )
				return LDAP_LOCAL_ERROR;
		}
	}
	return LDAP_SUCCESS;
}

LDAP *
cp_tool_connect( void )
{
	LDAP *ld = NULL;
	int rc;

	signal( SIGPIPE, SIG_IGN );
	if ( cp_opt.debug ) {
		ber_set_option( NULL, LBER_OPT_DEBUG_LEVEL, &cp_opt.debug );
		ldap_set_option( NULL, LDAP_OPT_DEBUG_LEVEL, &cp_opt.debug );
	}
	if ( cp_opt.verbose )
		fprintf( stderr, "ldap_initialize( %s )\n",
			cp_opt.ldapuri ? cp_opt.ldapuri : "<DEFAULT>" );
	rc = cp_ld_new( cp_opt.ldapuri, &ld );
	if ( ld == NULL ) {
		fprintf( stderr, "Could not create LDAP session handle for URI=%s (%d): %s\n",
			cp_opt.ldapuri ? cp_opt.ldapuri : "<DEFAULT>", rc, ldap_err2string( rc ) );
		exit( EXIT_FAILURE );
	}
	if ( rc != LDAP_SUCCESS ) {
		fprintf( stderr, "%s: could not set LDAP options\n", cp_opt.prog );
		cp_tool_exit( ld, EXIT_FAILURE );
	}
	if ( cp_opt.nocanon )
		ldap_set_option( ld, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON );
	cp_watchdog( 1 );
	if ( cp_opt.use_tls ) {
		rc = ldap_start_tls_s( ld, NULL, NULL );
		if ( rc != LDAP_SUCCESS ) {
			rc = cp_ld_error( ld, "ldap_start_tls", rc );
			if ( cp_opt.use_tls > 1 || rc < 0 )
				cp_tool_exit( ld, EXIT_FAILURE );
		}
	}

	/* the password: no watchdog while a person types */
	cp_watchdog( 0 );
	if ( cp_opt.pw_file ) {
		char err[1024];

		/* the whole file, as ldapsearch -y; not empty, at most
		 * CERTPIN_SECRET_MAX bytes (as every certpin secret file) */
		if ( certpin_secret_read( cp_opt.pw_file, 0, &cp_opt.passwd, err, sizeof( err ) ) ) {
			cp_warn( "%s", cp_esc( err ) );
			cp_tool_exit( ld, EXIT_FAILURE );
		}
	} else if ( cp_opt.want_bindpw ) {
		char *pw = cp_tty_read( "Enter LDAP Password: ", 1 );

		if ( pw == NULL ) {
			fprintf( stderr, "%s: cannot read a password from the terminal\n",
				cp_opt.prog );
			cp_tool_exit( ld, EXIT_FAILURE );
		}
		cp_opt.passwd.bv_val = pw;
		cp_opt.passwd.bv_len = strlen( pw );
	}

	if ( cp_opt.sasl_flags != LDAP_SASL_INTERACTIVE )
		cp_watchdog( 1 );
	if ( cp_opt.authmethod == LDAP_AUTH_SASL ) {
		cp_sasl_defaults defs;
		int i;

		memset( &defs, 0, sizeof( defs ) );
		if ( cp_opt.sasl_secprops &&
		     ldap_set_option( ld, LDAP_OPT_X_SASL_SECPROPS, cp_opt.sasl_secprops )
				!= LDAP_OPT_SUCCESS ) {
			fprintf( stderr, "Could not set LDAP_OPT_X_SASL_SECPROPS: %s\n",
				cp_opt.sasl_secprops );
			cp_tool_exit( ld, LDAP_LOCAL_ERROR );
		}
		defs.mech = cp_opt.sasl_mech;
		defs.realm = cp_opt.sasl_realm;
		defs.authcid = cp_opt.sasl_authc_id;
		defs.authzid = cp_opt.sasl_authz_id;
		defs.passwd = cp_opt.passwd.bv_val;
		if ( !defs.realm )
			ldap_get_option( ld, LDAP_OPT_X_SASL_REALM, &defs.realm );
		if ( !defs.authcid )
			ldap_get_option( ld, LDAP_OPT_X_SASL_AUTHCID, &defs.authcid );
		if ( !defs.authzid )
			ldap_get_option( ld, LDAP_OPT_X_SASL_AUTHZID, &defs.authzid );
		rc = ldap_sasl_interactive_bind_s( ld, cp_opt.binddn, cp_opt.sasl_mech,
			NULL, NULL, cp_opt.sasl_flags, cp_sasl_interact, &defs );
		for ( i = 0; i < defs.nresps; i++ ) {
			memset( defs.resps[i], 0, strlen( defs.resps[i] ) );
			free( defs.resps[i] );
		}
		if ( rc != LDAP_SUCCESS )
			cp_ld_fatal( ld, "ldap_sasl_interactive_bind", rc );
	} else {
		struct berval empty = { 0, "" };

		rc = ldap_sasl_bind_s( ld, cp_opt.binddn, LDAP_SASL_SIMPLE,
			cp_opt.passwd.bv_val ? &cp_opt.passwd : &empty, NULL, NULL, NULL );
		if ( rc != LDAP_SUCCESS )
			cp_ld_fatal( ld, "ldap_bind", rc );
	}
	if ( cp_opt.passwd.bv_val ) {
		memset( cp_opt.passwd.bv_val, 0, cp_opt.passwd.bv_len );
		free( cp_opt.passwd.bv_val );
		cp_opt.passwd.bv_val = NULL;
		cp_opt.passwd.bv_len = 0;
	}
	if ( cp_opt.verbose > 1 ) {
		struct berval *authzid = NULL;

		if ( ldap_whoami_s( ld, &authzid, NULL, NULL ) == LDAP_SUCCESS && authzid ) {
			fprintf( stderr, "bound as \"%s\"\n",
				cp_esc_len( authzid->bv_val, authzid->bv_len ) );
			ber_bvfree( authzid );
		}
	}
	cp_watchdog( 0 );
	return ld;
}

void
cp_tool_exit( LDAP *ld, int status )
{
	if ( ld != NULL )
		ldap_unbind_ext_s( ld, NULL, NULL );
	exit( status & 0xff ? status : ( status ? EXIT_FAILURE : 0 ) );
}

/* ---- work items -------------------------------------------------------------------- */

static int
cp_items_add( cp_items *its, const char *val, size_t len, int is_dn, int line )
{
	cp_item *it;

	if ( its->it_n == its->it_max ) {
		int max = its->it_max ? 2 * its->it_max : 64;
		cp_item *v = realloc( its->it_v, max * sizeof( cp_item ) );

		if ( v == NULL )
			return -1;
		its->it_v = v;
		its->it_max = max;
	}
	it = &its->it_v[its->it_n];
	memset( it, 0, sizeof( *it ) );
	it->ci_value = strndup( val, len );
	it->ci_is_dn = is_dn;
	it->ci_line = line;
	if ( it->ci_value == NULL )
		return -1;
	its->it_n++;
	return 0;
}

/* A trimmed view of s */
static void
cp_trim( char **s, size_t *len )
{
	while ( *len && isspace( (unsigned char)**s ) ) {
		( *s )++;
		( *len )--;
	}
	while ( *len && isspace( (unsigned char)( *s )[*len - 1] ) )
		( *len )--;
}

/* Is line an LDIF "attr:" line?  Returns the attribute length or 0. */
static size_t
cp_ldif_attr( const char *line, size_t len )
{
	size_t i = 0;

	if ( len == 0 || !isalpha( (unsigned char)line[0] ) )
		return 0;
	while ( i < len && ( isalnum( (unsigned char)line[i] ) || line[i] == '-' ||
			line[i] == ';' ) )
		i++;
	if ( i < len && line[i] == ':' &&
	     ( i + 1 == len || line[i + 1] == ' ' || line[i + 1] == ':' ||
	       line[i + 1] == '<' ) )
		return i;
	return 0;
}

/* "prog: Cannot allocate memory" into msg; returns -1 */
static int
cp_enomem( char *msg, size_t msglen )
{
	snprintf( msg, msglen, "%s: %s", cp_opt.prog, strerror( ENOMEM ) );
	return -1;
}

/* one logical line (folding undone); 0, or -1 with the message */
static int
cp_items_line( cp_items *its, char *line, size_t len, int lineno, int *in_record,
	char *msg, size_t msglen )
{
	size_t an;
	char *val;

	if ( len && line[len - 1] == '\r' )
		len--;
	if ( len == 0 ) {
		*in_record = 0;
		return 0;
	}
	if ( line[0] == '#' )
		return 0;
	an = cp_ldif_attr( line, len );
	if ( an == 0 ) {
		cp_trim( &line, &len );
		if ( len && cp_items_add( its, line, len, 0, lineno ) )
			return cp_enomem( msg, msglen );
		*in_record = 0;
		return 0;
	}
	val = line + an + 1;
	len -= an + 1;
	if ( an == 2 && strncasecmp( line, "dn", 2 ) == 0 ) {
		if ( len && *val == ':' ) {	/* base64 */
			unsigned char *out;
			int n, pad = 0;

			val++;
			len--;
			cp_trim( &val, &len );
			out = malloc( len + 1 );
			if ( out == NULL )
				return cp_enomem( msg, msglen );
			/* Canonical base64 only (what ldapsearch and certpin-get
			 * print): EVP_DecodeBlock() alone takes "====" or "QUJDD==="
			 * and '=' inside the text, decoding them to bytes the
			 * line does not say. */
			n = len % 4 ? -1 : EVP_DecodeBlock( out, (unsigned char *)val, (int)len );
			while ( n >= 0 && pad < 2 && len - pad > 0 && val[len - pad - 1] == '=' )
				pad++;
			if ( n >= 0 ) {
				unsigned char *again = malloc( len + 1 );

				n -= pad;
				if ( again == NULL ) {
					free( out );
					return cp_enomem( msg, msglen );
				}
				if ( EVP_EncodeBlock( again, out, n ) != (int)len ||
				     memcmp( again, val, len ) != 0 )
					n = -1;
				free( again );
			}
			if ( n < 0 ) {
				free( out );
				snprintf( msg, msglen, "%s: %s, line %d: invalid base64 in dn::",
					cp_opt.prog, its->it_src, lineno );
				return -1;
			}
			if ( memchr( out, '\0', n ) ) {
				free( out );
				snprintf( msg, msglen, "%s: %s, line %d: NUL in dn::",
					cp_opt.prog, its->it_src, lineno );
				return -1;
			}
			n = cp_items_add( its, (char *)out, n, 1, lineno );
			free( out );
			if ( n )
				return cp_enomem( msg, msglen );
		} else {
			cp_trim( &val, &len );
			if ( cp_items_add( its, val, len, 1, lineno ) )
				return cp_enomem( msg, msglen );
		}
		*in_record = 1;
		return 0;
	}
	if ( *in_record && an == 10 && strncasecmp( line, "thumbprint", 10 ) == 0 &&
	     len && *val == ' ' ) {
		cp_item *it = &its->it_v[its->it_n - 1];

		cp_trim( &val, &len );
		if ( it->ci_thumb != NULL ) {
			/* a second certificate of the same record: a new item */
			if ( cp_items_add( its, it->ci_value, strlen( it->ci_value ), 1, lineno ) )
				return cp_enomem( msg, msglen );
			it = &its->it_v[its->it_n - 1];
		}
		if ( ( it->ci_thumb = strndup( val, len ) ) == NULL )
			return cp_enomem( msg, msglen );
	}
	return 0;
}

int
cp_items_parse( cp_items *its, FILE *f, const char *src, char *msg, size_t msglen )
{
	char *line = NULL, *logical = NULL;
	size_t cap = 0, lcap = 0, llen = 0;
	ssize_t n;
	int lineno = 0, start = 0, in_record = 0, rc = -1;

	memset( its, 0, sizeof( *its ) );
	its->it_src = src;
	msg[0] = '\0';
	/* Undo LDIF folding: a line starting with one space continues the
	 * previous LDIF line. */
	for ( ;; ) {
		n = getline( &line, &cap, f );
		if ( n >= 0 )
			lineno++;
		if ( n > 0 && memchr( line, '\0', n ) != NULL ) {
			/* the rest of the line would be lost without a word */
			snprintf( msg, msglen, "%s: %s, line %d: NUL byte in the line",
				cp_opt.prog, src, lineno );
			goto done;
		}
		if ( n > 0 && line[n - 1] == '\n' )
			line[--n] = '\0';
		if ( n > 0 && line[n - 1] == '\r' )
			line[--n] = '\0';
		if ( n > 0 && line[0] == ' ' && llen &&
		     cp_ldif_attr( logical, llen ) ) {
			if ( llen + n > lcap ) {
				char *nl;

				lcap = 2 * ( llen + n );
				nl = realloc( logical, lcap + 1 );
				if ( nl == NULL )
					goto nomem;
				logical = nl;
			}
			memcpy( logical + llen, line + 1, n - 1 );
			llen += n - 1;
			continue;
		}
		if ( llen || start ) {
			if ( cp_items_line( its, logical, llen, start, &in_record, msg, msglen ) )
				goto done;
		}
		if ( n < 0 )
			break;
		if ( (size_t)n + 1 > lcap ) {
			char *nl;

			lcap = 2 * ( n + 1 );
			nl = realloc( logical, lcap + 1 );
			if ( nl == NULL )
				goto nomem;
			logical = nl;
		}
		memcpy( logical, line, n );
		llen = n;
		start = lineno;
		if ( n == 0 ) {
			/* blank line: end of an LDIF record */
			in_record = 0;
			start = 0;
		}
	}
	if ( ferror( f ) ) {
		snprintf( msg, msglen, "%s: %s", src, strerror( errno ) );
		goto done;
	}
	rc = 0;
	goto done;
nomem:
	cp_enomem( msg, msglen );
done:
	free( line );
	free( logical );
	if ( rc ) {
		cp_items_free( its );
		its->it_src = src;
	}
	return rc;
}

int
cp_items_read( cp_items *its, int argc, char **argv, int first )
{
	FILE *f;
	const char *src;
	char msg[1024];
	int i, rc;

	memset( its, 0, sizeof( *its ) );
	if ( first < argc ) {
		if ( cp_opt.infile )
			cp_usage_error( "identities given both as arguments and with -f" );
		its->it_src = "argument";
		for ( i = first; i < argc; i++ )
			if ( cp_items_add( its, argv[i], strlen( argv[i] ), 0, 0 ) ) {
				perror( cp_opt.prog );
				exit( EXIT_FAILURE );
			}
		return 0;
	}
	if ( cp_opt.infile && strcmp( cp_opt.infile, "-" ) != 0 ) {
		f = fopen( cp_opt.infile, "r" );
		if ( f == NULL ) {
			perror( cp_opt.infile );
			exit( EXIT_FAILURE );
		}
		src = cp_opt.infile;
	} else {
		f = stdin;
		src = "standard input";
	}
	rc = cp_items_parse( its, f, src, msg, sizeof( msg ) );
	if ( f != stdin )
		fclose( f );
	if ( rc ) {
		fprintf( stderr, "%s\n", msg );
		exit( EXIT_FAILURE );
	}
	return 0;
}

void
cp_items_free( cp_items *its )
{
	int i;

	for ( i = 0; i < its->it_n; i++ ) {
		free( its->it_v[i].ci_value );
		free( its->it_v[i].ci_thumb );
	}
	free( its->it_v );
	memset( its, 0, sizeof( *its ) );
}

/* ---- hidden attributes ---------------------------------------------------------------- */

int
cp_attr_hidden( LDAP *ld, const char *dn, const char *attr )
{
	static char probe[] = "certpin-visibility-probe";
	struct berval v = { sizeof( probe ) - 1, probe };
	int rc;

	rc = ldap_compare_ext_s( ld, dn, attr, &v, NULL, NULL );
	return rc == LDAP_INSUFFICIENT_ACCESS;
}

int
cp_has_class( LDAP *ld, LDAPMessage *e, const char *oc )
{
	struct berval **v = ldap_get_values_len( ld, e, "objectClass" );
	size_t n = strlen( oc );
	int i, hit = 0;

	for ( i = 0; v && v[i] && !hit; i++ )
		hit = v[i]->bv_len == n && strncasecmp( v[i]->bv_val, oc, n ) == 0;
	ldap_value_free_len( v );
	return hit;
}

void
cp_hidden_error( const char *dn, const char *what )
{
	char who[1024];

	snprintf( who, sizeof( who ), "%s: \"%s\"", cp_opt.prog, cp_esc_dn( dn ) );
	cp_perror( who, LDAP_INSUFFICIENT_ACCESS, NULL, what );
}

/* ---- output --------------------------------------------------------------------------- */

void
cp_ldif_put( FILE *fp, const char *name, const char *value )
{
	char *s;

	s = ldif_put_wrap( LDIF_PUT_VALUE, name, value, strlen( value ),
		cp_opt.ldif_wrap ? (ber_len_t)cp_opt.ldif_wrap : LDIF_LINE_WIDTH_MAX );
	if ( s == NULL ) {
		perror( cp_opt.prog );
		exit( EXIT_FAILURE );
	}
	fputs( s, fp );
	ber_memfree( s );
}

void
cp_json_string( FILE *fp, const char *s )
{
	const unsigned char *p;
	size_t n, len;
	unsigned long c;

	if ( s == NULL ) {
		fputs( "null", fp );
		return;
	}
	fputc( '"', fp );
	p = (const unsigned char *)s;
	n = strlen( s );
	while ( n ) {
		len = cp_utf8( p, n, &c );
		if ( len == 0 ) {
			/* not UTF-8: JSON cannot carry the byte */
			fputs( "\\ufffd", fp );
			p++;
			n--;
			continue;
		}
		switch ( c ) {
		case '"':	fputs( "\\\"", fp ); break;
		case '\\':	fputs( "\\\\", fp ); break;
		case '\n':	fputs( "\\n", fp ); break;
		case '\r':	fputs( "\\r", fp ); break;
		case '\t':	fputs( "\\t", fp ); break;
		default:
			if ( cp_is_control( c ) )
				fprintf( fp, "\\u%04lx", c );
			else
				fwrite( p, 1, len, fp );
		}
		p += len;
		n -= len;
	}
	fputc( '"', fp );
}
