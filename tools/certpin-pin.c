/* certpin-pin.c - manage users' PINs: set, generate, lock, unlock, info
 *
 * The equivalent of Lync's Set-CsClientPin, Lock-CsClientPin,
 * Unlock-CsClientPin and Get-CsClientPinInfo:
 *   set      a PIN read from the terminal (asked twice), from --pin-file
 *            FILE ("-": standard input), never from the command line; one
 *            identity.  With --generate, a random PIN for each identity,
 *            printed once (the overlay keeps only its hash).
 *   lock     an administrator's lock (certpinPINLock, --reason), which only
 *            an unlock lifts
 *   unlock   clears the administrator's lock and the wrong-PIN lockout
 *   info     PIN set or not, when changed, when it expires, locked by whom
 *            and why, wrong PINs recorded; for identities or --all (paged)
 * The overlay (slapo-certpin(5)) checks the policy, hashes the PIN and
 * records the state in the same modify; the tool only ever reads that
 * state, never a PIN.  Output of info and generate: a table, --output=ldif
 * or --output=json (-j).  -n shows what would be done, --confirm asks per user, -c goes
 * on after errors.
 */

#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "certinfo.h"
#include "common.h"
#include "identity.h"
#include "provclient.h"

enum { FMT_TABLE = CP_FMT_TEXT, FMT_LDIF = CP_FMT_LDIF, FMT_JSON = CP_FMT_JSON };
enum { CMD_SET = 1, CMD_LOCK, CMD_UNLOCK, CMD_INFO };
enum {
	OPT_PIN_FILE = 0x100, OPT_GENERATE, OPT_LENGTH, OPT_REASON, OPT_ALL,
	OPT_CONFIRM, OPT_CONFIG, OPT_PIN
};

#define PIN_GEN_TRIES	10	/* generated PINs the server may refuse */
#define PIN_MAXLEN	64

static struct option pin_long[] = {
	{ "pin-file", required_argument, NULL, OPT_PIN_FILE },
	/* so that "--pin 1234" is refused, not taken for --pin-file */
	{ "pin", required_argument, NULL, OPT_PIN },
	{ "generate", no_argument, NULL, OPT_GENERATE },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "confirm", no_argument, NULL, OPT_CONFIRM },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ NULL, 0, NULL, 0 }
};

static struct {
	int		cmd;
	char		*pin_file;
	int		generate;
	int		length;
	char		*reason;
	int		all;
	int		confirm;
	char		*config;
	struct berval	pin;		/* set: the PIN read */
	/* running state */
	long		users, changed, errors, declined, shown;
	int		err;		/* last error: the exit status */
	int		stop;
	int		progress;
} p;

static const char *pin_info_attrs[] = { "certpinPINChanged", "certpinPINExpires",
	"certpinPINLock", "certpinPINFailure", "certpinPINLockout", NULL };

static void
pin_usage( FILE *fp )
{
	fprintf( fp,
"usage: certpin-pin set|lock|unlock|info [options] [identity...]\n"
"Manage users' PINs (Set-, Lock-, Unlock-CsClientPin, Get-CsClientPinInfo).\n"
"An identity is a DN, sip:user@domain, user@domain (UPN), DOMAIN\\logon or a\n"
"display name; without identities, one per line is read from -f file or\n"
"standard input.\n"
"  set                     set the PIN of one user, asked twice on the terminal\n"
"    --pin-file FILE       or read from FILE (\"-\": standard input); a PIN is\n"
"                          never taken from the command line\n"
"    --generate            a random PIN for each user, printed once\n"
"    --length N            digits of a generated PIN (default 8)\n"
"  lock [--reason TEXT]    an administrator's lock, lifted only by unlock\n"
"  unlock                  clear the administrator's lock and the lockout\n"
"  info [--all]            PIN set, changed, expires, locked, failures\n"
"certpin-pin options:\n"
"  --output=table|ldif|json, -j  output of info and set --generate (table)\n"
"  --confirm               ask on the terminal before each user\n"
"  -n                      WhatIf: show what would be done, change nothing\n"
"  --config FILE           identity configuration (default $CERTPIN_CONF,\n"
"                          /etc/ldap/certpin.conf)\n" );
}

static int
pin_opt( int c, char *arg )
{
	char *end;
	long l;
	switch ( c ) {
	case OPT_PIN_FILE:
		if ( p.pin_file )
			cp_usage_error( "--pin-file previously specified" );
		p.pin_file = arg;
		return 1;
	case OPT_PIN:
		/* wipe it from argv as -w is, and never repeat it */
		memset( arg, '*', strlen( arg ) );
		cp_usage_error( "a PIN is never given on the command line: use "
			"--pin-file FILE, --pin-file - (standard input) or the prompt" );
	case OPT_GENERATE:	p.generate = 1; return 1;
	case OPT_LENGTH:
		l = strtol( arg, &end, 10 );
		if ( *arg == '\0' || *end != '\0' || l < 4 || l > PIN_MAXLEN )
			cp_usage_error( "--length: \"%s\" is not a number from 4 to %d",
				arg, PIN_MAXLEN );
		p.length = (int)l;
		return 1;
	case OPT_REASON:
		if ( p.reason )
			cp_usage_error( "--reason previously specified" );
		if ( *arg == '\0' || strlen( arg ) > 256 )
			cp_usage_error( "--reason: empty or longer than 256 characters" );
		p.reason = arg;
		return 1;
	case OPT_ALL:		p.all = 1; return 1;
	case OPT_CONFIRM:	p.confirm = 1; return 1;
	case OPT_CONFIG:
		if ( p.config )
			cp_usage_error( "--config previously specified" );
		p.config = arg;
		return 1;
	}
	return 0;
}

static void
pin_fail( int err )
{
	p.errors++;
	p.err = err;
	if ( !cp_opt.contoerr )
		p.stop = 1;
}

/* ---- output ------------------------------------------------------------------ */

/* Human-readable text with control characters escaped (\xNN). */
static void
pin_put_safe( FILE *fp, const char *s )
{
	for ( ; *s; s++ ) {
		unsigned char ch = *s;

		if ( ch < 0x20 || ch == 0x7f )
			fprintf( fp, "\\x%02x", ch );
		else if ( ch == '\\' )
			fputs( "\\\\", fp );
		else
			fputc( ch, fp );
	}
}

/* GeneralizedTime to ISO 8601, or "-" */
static void
pin_iso( const char *gt, char out[CERTPIN_ISOTIME_LEN + 1] )
{
	char tmp[CERTPIN_GENTIME_LEN + 1];

	if ( gt == NULL ) {
		strcpy( out, "-" );
		return;
	}
	/* certpinPINFailure has microseconds: YYYYMMDDHHMMSS.uuuuuuZ */
	snprintf( tmp, sizeof( tmp ), "%.14sZ", gt );
	if ( certpin_gentime_iso( tmp, out ) )
		strcpy( out, "?" );
}

/* A JSON/LDIF record field list, or one table row. */
typedef struct pin_field {
	const char	*name;
	char		*value;		/* NULL: absent */
	int		is_num;
} pin_field;

static int pin_records;

static void
pin_out( const char *dn, pin_field *f, int n, const char **cols, int ncols )
{
	int i, j;

	switch ( cp_opt.format ) {
	case FMT_TABLE:
		if ( pin_records++ == 0 ) {
			fputs( "Identity", stdout );
			for ( j = 0; j < ncols; j++ )
				printf( "\t%s", cols[j] );
			fputc( '\n', stdout );
		}
		pin_put_safe( stdout, dn );
		for ( j = 0; j < ncols; j++ ) {
			for ( i = 0; i < n && strcmp( f[i].name, cols[j] ); i++ )
				;
			fputc( '\t', stdout );
			pin_put_safe( stdout, i < n && f[i].value ? f[i].value : "-" );
		}
		fputc( '\n', stdout );
		break;
	case FMT_LDIF:
		if ( pin_records++ )
			fputc( '\n', stdout );
		cp_ldif_put( stdout, "dn", dn );
		for ( i = 0; i < n; i++ )
			if ( f[i].value )
				cp_ldif_put( stdout, f[i].name, f[i].value );
		break;
	case FMT_JSON:
		fputs( pin_records++ ? ",\n  {" : "[\n  {", stdout );
		fputs( "\"Identity\": ", stdout );
		cp_json_string( stdout, dn );
		for ( i = 0; i < n; i++ ) {
			printf( ", " );
			cp_json_string( stdout, f[i].name );
			fputs( ": ", stdout );
			if ( f[i].value && f[i].is_num )
				fputs( f[i].value, stdout );
			else
				cp_json_string( stdout, f[i].value );
		}
		fputc( '}', stdout );
		break;
	}
}

static void
pin_out_end( void )
{
	if ( cp_opt.format == FMT_JSON )
		fputs( pin_records ? "\n]\n" : "[]\n", stdout );
}

/* ---- info -------------------------------------------------------------------- */

static char *
pin_first( LDAP *ld, LDAPMessage *e, const char *attr, int *count )
{
	struct berval **v = ldap_get_values_len( ld, e, attr );
	char *s = NULL;
	int n = 0;

	if ( v ) {
		for ( n = 0; v[n]; n++ )
			;
		if ( n ) {
			/* the newest (GeneralizedTime values sort as strings) */
			int i, best = 0;

			for ( i = 1; i < n; i++ )
				if ( strcmp( v[i]->bv_val, v[best]->bv_val ) > 0 )
					best = i;
			s = strndup( v[best]->bv_val, v[best]->bv_len );
		}
		ldap_value_free_len( v );
	}
	if ( count )
		*count = n;
	return s;
}

static void
pin_info( LDAP *ld, LDAPMessage *e, const char *dn )
{
	static const char *cols[] = { "PIN", "Changed", "Expires", "Locked",
		"Failures" };
	char *changed, *expires, *lock, *fail, *lockout;
	char ch[CERTPIN_ISOTIME_LEN + 1], ex[CERTPIN_ISOTIME_LEN + 1];
	char lf[CERTPIN_ISOTIME_LEN + 1], lo[CERTPIN_ISOTIME_LEN + 1];
	char nfail[16], la[CERTPIN_ISOTIME_LEN + 1], by[1024], why[1024];
	char gtnow[CERTPIN_GENTIME_LEN + 1];
	pin_field f[12];
	int n = 0, nf = 0, out = 0, expired = 0;
	time_t now = time( NULL );

	changed = pin_first( ld, e, "certpinPINChanged", NULL );
	expires = pin_first( ld, e, "certpinPINExpires", NULL );
	lock = pin_first( ld, e, "certpinPINLock", NULL );
	fail = pin_first( ld, e, "certpinPINFailure", &nf );
	lockout = pin_first( ld, e, "certpinPINLockout", NULL );
	certpin_gentime( now, gtnow );
	if ( lockout && strncmp( lockout, gtnow, 14 ) > 0 )
		out = 1;
	if ( expires && strncmp( expires, gtnow, 14 ) <= 0 )
		expired = 1;
	pin_iso( changed, ch );
	pin_iso( expires, ex );
	pin_iso( fail, lf );
	pin_iso( lockout, lo );
	snprintf( nfail, sizeof( nfail ), "%d", nf );
	by[0] = why[0] = la[0] = '\0';
	if ( lock ) {
		char t[CERTPIN_GENTIME_LEN + 1];

		if ( certpin_rec_get( lock, strlen( lock ), "by", by, sizeof( by ) ) < 0 )
			strcpy( by, "?" );
		if ( certpin_rec_get( lock, strlen( lock ), "reason", why, sizeof( why ) ) < 0 )
			why[0] = '\0';
		if ( certpin_rec_get( lock, strlen( lock ), "time", t, sizeof( t ) ) < 0 )
			strcpy( la, "?" );
		else
			pin_iso( t, la );
	}

	f[n++] = (pin_field){ "PIN", changed ? ( expired ? "expired" : "set" ) : "not set", 0 };
	f[n++] = (pin_field){ "Changed", changed ? ch : NULL, 0 };
	f[n++] = (pin_field){ "Expires", expires ? ex : ( changed ? "never" : NULL ), 0 };
	f[n++] = (pin_field){ "Locked", lock ? "administrator" : out ? "failures" : "no", 0 };
	f[n++] = (pin_field){ "LockedBy", lock ? by : NULL, 0 };
	f[n++] = (pin_field){ "LockReason", lock ? why : NULL, 0 };
	f[n++] = (pin_field){ "LockedAt", lock ? la : NULL, 0 };
	f[n++] = (pin_field){ "LockoutUntil", out ? lo : NULL, 0 };
	f[n++] = (pin_field){ "Failures", nfail, 1 };
	f[n++] = (pin_field){ "LastFailure", fail ? lf : NULL, 0 };
	pin_out( dn, f, n, cols, 5 );
	free( changed );
	free( expires );
	free( lock );
	free( fail );
	free( lockout );
}

/* ---- changes --------------------------------------------------------------------- */

/* Random digits, not a repeated or consecutive pattern (the overlay also
 * refuses the user's phone number and recent PINs: then another one). */
static int
pin_generate( char *out, int len )
{
	int i, tries;

	for ( tries = 0; tries < 100; tries++ ) {
		unsigned char r;
		int up = 1, down = 1, per, rep = 0;

		for ( i = 0; i < len; i++ ) {
			do {
				if ( RAND_bytes( &r, 1 ) != 1 )
					return -1;
			} while ( r >= 250 );	/* no modulo bias */
			out[i] = '0' + r % 10;
		}
		out[len] = '\0';
		for ( i = 1; i < len; i++ ) {
			int d = out[i] - '0', q = out[i - 1] - '0';

			up &= d == ( q + 1 ) % 10;
			down &= d == ( q + 9 ) % 10;
		}
		for ( per = 1; per <= 3 && 2 * per <= len; per++ ) {
			for ( i = per; i < len && out[i] == out[i - per]; i++ )
				;
			if ( i == len )
				rep = 1;
		}
		if ( !rep && !up && !down )
			return 0;
	}
	return -1;
}

static int
pin_modify( LDAP *ld, const char *dn, LDAPMod **mods )
{
	LDAPMessage *res = NULL;
	int rc, msgid;
	char what[512];

	snprintf( what, sizeof( what ), "%s: \"%s\"", cp_opt.prog, dn );
	rc = ldap_modify_ext( ld, dn, mods, NULL, NULL, &msgid );
	if ( rc != LDAP_SUCCESS )
		return cp_ld_error( ld, what, rc );
	if ( ldap_result( ld, msgid, LDAP_MSG_ALL, NULL, &res ) <= 0 )
		return cp_ld_error( ld, what, -1 );
	rc = cp_result( ld, res, what );
	ldap_msgfree( res );
	return rc;
}

static int
pin_set_one( LDAP *ld, const char *dn, struct berval *pin )
{
	struct berval *vals[2] = { pin, NULL };
	LDAPMod m = { LDAP_MOD_REPLACE | LDAP_MOD_BVALUES, "certpinPIN", { NULL } };
	LDAPMod *mods[2] = { &m, NULL };

	m.mod_bvalues = vals;
	return pin_modify( ld, dn, mods );
}

static int
pin_change( LDAP *ld, const char *dn )
{
	LDAPMod m1, m2, *mods[3];
	char *lockv[2] = { NULL, NULL };
	int rc, tries;

	switch ( p.cmd ) {
	case CMD_SET:
		if ( !p.generate )
			return pin_set_one( ld, dn, &p.pin );
		for ( tries = 0; tries < PIN_GEN_TRIES; tries++ ) {
			char buf[PIN_MAXLEN + 1];
			struct berval bv;
			pin_field f[1];

			if ( pin_generate( buf, p.length ) ) {
				cp_warn( "cannot generate a random PIN" );
				return LDAP_OTHER;
			}
			bv.bv_val = buf;
			bv.bv_len = strlen( buf );
			/* quietly try another when the policy refuses this one */
			{
				struct berval *vals[2] = { &bv, NULL };
				LDAPMessage *res = NULL;
				LDAPMod m = { LDAP_MOD_REPLACE | LDAP_MOD_BVALUES, "certpinPIN", { NULL } };
				LDAPMod *ms[2] = { &m, NULL };
				int msgid, err = LDAP_OTHER;
				char *info = NULL;

				m.mod_bvalues = vals;
				rc = ldap_modify_ext( ld, dn, ms, NULL, NULL, &msgid );
				if ( rc == LDAP_SUCCESS && ldap_result( ld, msgid, LDAP_MSG_ALL,
				     NULL, &res ) > 0 )
					ldap_parse_result( ld, res, &err, NULL, &info, NULL, NULL, 0 );
				else
					err = rc ? rc : LDAP_SERVER_DOWN;
				if ( err == LDAP_CONSTRAINT_VIOLATION && tries + 1 < PIN_GEN_TRIES &&
				     info && strstr( info, "too short" ) == NULL &&
				     strstr( info, "at least" ) == NULL ) {
					ldap_memfree( info );
					ldap_msgfree( res );
					OPENSSL_cleanse( buf, sizeof( buf ) );
					continue;
				}
				if ( err != LDAP_SUCCESS ) {
					char what[512];

					snprintf( what, sizeof( what ), "%s: \"%s\"",
						cp_opt.prog, dn );
					cp_perror( what, err, NULL, info );
				}
				ldap_memfree( info );
				ldap_msgfree( res );
				if ( err != LDAP_SUCCESS ) {
					OPENSSL_cleanse( buf, sizeof( buf ) );
					return err;
				}
			}
			f[0] = (pin_field){ "PIN", buf, 0 };
			pin_out( dn, f, 1, (const char *[]){ "PIN" }, 1 );
			fflush( stdout );
			OPENSSL_cleanse( buf, sizeof( buf ) );
			return LDAP_SUCCESS;
		}
		return LDAP_CONSTRAINT_VIOLATION;
	case CMD_LOCK:
		lockv[0] = p.reason ? p.reason : "locked with certpin-pin";
		m1 = (LDAPMod){ LDAP_MOD_REPLACE, "certpinPINLock", { lockv } };
		mods[0] = &m1;
		mods[1] = NULL;
		return pin_modify( ld, dn, mods );
	case CMD_UNLOCK:
		m1 = (LDAPMod){ LDAP_MOD_DELETE, "certpinPINLock", { NULL } };
		m2 = (LDAPMod){ LDAP_MOD_DELETE, "certpinPINFailure", { NULL } };
		mods[0] = &m1;
		mods[1] = &m2;
		mods[2] = NULL;
		return pin_modify( ld, dn, mods );
	}
	return LDAP_OTHER;
}

static const char *
pin_verb( void )
{
	switch ( p.cmd ) {
	case CMD_SET:	return p.generate ? "generating a PIN for" : "setting the PIN of";
	case CMD_LOCK:	return "locking the PIN of";
	case CMD_UNLOCK: return "unlocking the PIN of";
	}
	return "?";
}

/* identity callback: one user resolved (or not) */
static int
pin_entry( LDAP *ld, cp_item *it, LDAPMessage *e, int err, void *arg )
{
	char *dn;
	int rc;

	if ( e == NULL ) {
		pin_fail( err );
		return p.stop;
	}
	dn = ldap_get_dn( ld, e );
	p.users++;
	if ( p.progress && p.users % 100 == 0 )
		fprintf( stderr, "\r%s: %ld users", cp_opt.prog, p.users );
	if ( p.cmd == CMD_INFO ) {
		pin_info( ld, e, dn );
		goto done;
	}
	if ( p.confirm ) {
		int yes = cp_confirm( "%c%s \"%s\"?", toupper( (unsigned char)pin_verb()[0] ),
			pin_verb() + 1, dn );

		if ( yes < 0 ) {
			cp_warn( "--confirm needs a terminal (/dev/tty)" );
			pin_fail( EXIT_FAILURE );
			p.stop = 1;
			goto done;
		}
		if ( !yes ) {
			p.declined++;
			goto done;
		}
	}
	if ( cp_opt.dont || cp_opt.verbose ) {
		printf( "%s%s \"", cp_opt.dont ? "!" : "", pin_verb() );
		pin_put_safe( stdout, dn );
		printf( "\"\n" );
	}
	if ( cp_opt.dont ) {
		p.changed++;
		goto done;
	}
	rc = pin_change( ld, dn );
	if ( rc == LDAP_SUCCESS )
		p.changed++;
	else
		pin_fail( rc );
done:
	ldap_memfree( dn );
	fflush( stdout );
	return p.stop;
}

/* The PIN of "set": from the file, or asked twice on the terminal. */
static void
pin_read( void )
{
	struct berval again = { 0, NULL };
	char err[512];
	const char *path = p.pin_file;

	if ( path && strcmp( path, "-" ) == 0 )
		path = "/dev/stdin";
	if ( path ) {
		if ( certpin_secret_file( path, &p.pin, err, sizeof( err ) ) ) {
			cp_warn( "%s", err );
			cp_tool_exit( NULL, EXIT_FAILURE );
		}
		return;
	}
	if ( certpin_secret_prompt( "New PIN", &p.pin, err, sizeof( err ) ) ||
	     certpin_secret_prompt( "New PIN again", &again, err, sizeof( err ) ) ) {
		cp_warn( "%s (or use --pin-file)", err );
		certpin_secret_free( &p.pin );
		cp_tool_exit( NULL, EXIT_FAILURE );
	}
	if ( p.pin.bv_len != again.bv_len ||
	     CRYPTO_memcmp( p.pin.bv_val, again.bv_val, again.bv_len ) != 0 ) {
		cp_warn( "the two PINs differ; nothing changed" );
		certpin_secret_free( &p.pin );
		certpin_secret_free( &again );
		cp_tool_exit( NULL, EXIT_FAILURE );
	}
	certpin_secret_free( &again );
}

int
main( int argc, char **argv )
{
	cp_idconf ic;
	cp_items its;
	LDAP *ld;
	int first, rc;
	const char *cmd;

	cp_tool_init( "certpin-pin", "", pin_long, pin_opt, pin_usage );
	cp_tool_formats( CP_FMT_MASK( FMT_LDIF ) | CP_FMT_MASK( FMT_JSON ), "table" );
	p.length = 8;
	first = cp_tool_args( argc, argv );
	if ( first >= argc )
		cp_usage_error( "a command is needed: set, lock, unlock or info" );
	cmd = argv[first++];
	if ( strcmp( cmd, "set" ) == 0 )
		p.cmd = CMD_SET;
	else if ( strcmp( cmd, "lock" ) == 0 )
		p.cmd = CMD_LOCK;
	else if ( strcmp( cmd, "unlock" ) == 0 )
		p.cmd = CMD_UNLOCK;
	else if ( strcmp( cmd, "info" ) == 0 )
		p.cmd = CMD_INFO;
	else
		cp_usage_error( "unknown command \"%s\" (set, lock, unlock or info)", cmd );
	/* (getopt permutes: options may also follow the command) */
	if ( p.cmd != CMD_SET && ( p.pin_file || p.generate ) )
		cp_usage_error( "--pin-file and --generate belong to set" );
	if ( p.pin_file && p.generate )
		cp_usage_error( "--pin-file and --generate: choose one" );
	if ( p.length != 8 && !p.generate )
		cp_usage_error( "--length belongs to set --generate" );
	if ( p.reason && p.cmd != CMD_LOCK )
		cp_usage_error( "--reason belongs to lock" );
	if ( p.all && p.cmd != CMD_INFO )
		cp_usage_error( "--all belongs to info" );
	if ( p.all && ( first < argc || cp_opt.infile ) )
		cp_usage_error( "--all takes no identities" );
	if ( p.cmd == CMD_INFO && ( cp_opt.dont || p.confirm ) )
		cp_usage_error( "-n and --confirm have no meaning for info, which changes nothing" );
	if ( p.confirm && cp_opt.dont )
		cp_usage_error( "--confirm and -n: nothing would be done to confirm" );
	if ( p.cmd == CMD_SET && !p.generate && p.pin_file &&
	     strcmp( p.pin_file, "-" ) == 0 && first >= argc )
		cp_usage_error( "the PIN comes from standard input: give the identity as an argument" );
	cp_idconf_load( &ic, p.config );
	memset( &its, 0, sizeof( its ) );
	if ( !p.all ) {
		cp_items_read( &its, argc, argv, first );
		if ( its.it_n == 0 ) {
			cp_warn( "no identities given" );
			cp_tool_exit( NULL, EXIT_FAILURE );
		}
		if ( p.cmd == CMD_SET && !p.generate && its.it_n != 1 )
			cp_usage_error( "set gives one user one PIN: one identity (or use --generate)" );
	}
	if ( p.cmd == CMD_SET && !p.generate && !cp_opt.dont )
		pin_read();
	/* progress on a terminal that does not also show the output */
	p.progress = cp_progress_ok() && p.all && !isatty( STDOUT_FILENO );

	ld = cp_tool_connect();
	rc = cp_idconf_finish( &ic, ld );
	if ( rc )
		cp_tool_exit( ld, rc );
	if ( p.all ) {
		rc = cp_id_all( ld, &ic, "(objectClass=certpinUser)", (char **)pin_info_attrs,
			pin_entry, NULL );
		if ( rc )
			p.err = rc;
	} else {
		cp_id_resolve( ld, &ic, &its, (char **)pin_info_attrs, pin_entry, NULL );
	}
	pin_out_end();
	if ( p.progress )
		fprintf( stderr, "\r\033[K" );
	certpin_secret_free( &p.pin );
	if ( p.cmd != CMD_INFO ) {
		fprintf( stderr, "%s: %s%ld of %ld user%s %s", cp_opt.prog,
			cp_opt.dont ? "WhatIf: " : "", p.changed, p.users,
			p.users == 1 ? "" : "s", cp_opt.dont ? "would be changed" : "changed" );
		if ( p.declined )
			fprintf( stderr, ", %ld declined", p.declined );
		if ( p.errors )
			fprintf( stderr, ", %ld error%s", p.errors, p.errors == 1 ? "" : "s" );
		fputc( '\n', stderr );
	}
	if ( fflush( stdout ) != 0 || ferror( stdout ) ) {
		perror( "standard output" );
		p.err = EXIT_FAILURE;
	}
	cp_items_free( &its );
	cp_idconf_free( &ic );
	cp_tool_exit( ld, p.err );
	return p.err;
}
