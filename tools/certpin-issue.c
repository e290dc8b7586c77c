/* certpin-issue.c - get a client certificate from the directory's CA
 *
 * What Lync's certificate provisioning client does, against a directory
 * running the certpin overlay: make a key (or take a PKCS#10 request), send
 * the certpinIssue extended operation, and write the issued certificate,
 * the key and the CA certificate as PEM files with safe modes.  The user is
 * proved by the bind (self, or an administrator naming the user) or, as a
 * device does, by phone number and PIN over an anonymous TLS session.
 *
 *	certpin-issue -H ldaps://dir -D cn=admin,... -W kenmyer@example.com
 *	certpin-issue -H ldaps://dir --phone +15551234 --out phone
 */

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "certinfo.h"
#include "common.h"
#include "identity.h"
#include "provclient.h"
#include "provreq.h"

enum {
	OPT_CSR = CERTPIN_OPT_TOOL, OPT_OUT, OPT_CERT, OPT_KEY, OPT_CA, OPT_FORCE,
	OPT_BULK, OPT_BULK_SIZE
};

static const struct option issue_long[] = {
	CERTPIN_REQ_LONGOPTS,
	{ "csr", required_argument, NULL, OPT_CSR },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "bulk", required_argument, NULL, OPT_BULK },
	{ "bulk-size", required_argument, NULL, OPT_BULK_SIZE },
	{ NULL, 0, NULL, 0 }
};

static struct {
	certpin_req_opts ro;		/* -k --phone --pin-file --validity ... */
	char		*csr_file;
	const char	*out;		/* prefix */
	char		*cert_file, *key_file, *ca_file;
	int		force;
	char		*bulk_file;	/* --bulk FILE */
	long		bulk_size;	/* --bulk-size N: items per request */
} io;

static void
issue_usage( FILE *fp )
{
	fprintf( fp,
"Issue a client certificate from the directory's CA (certpinIssue).\n\n"
"usage: %s [options] [identity]\n"
"  identity         the user to issue for (as an administrator): a DN, sip:URI,\n"
"                   DOMAIN\\logon, UPN or display name; without it the bound\n"
"                   user, or with --phone the phone's user\n"
"Issue options:\n"
"  --phone NUMBER   prove the user by phone number and PIN, as a device does\n"
"                   (anonymous unless bind options are given; needs TLS)\n"
"  --pin-file FILE  read the PIN from FILE (default: ask on the terminal)\n"
"  -k KIND          key to generate: ec (ECDSA P-256, default), rsa,\n"
"                   rsa:BITS (2048 and up)\n"
"  --csr FILE       send this PKCS#10 request (PEM or DER) instead\n"
"  --out PREFIX     write PREFIX.crt, PREFIX.key, PREFIX-ca.crt (default: certpin)\n"
"  --cert FILE      certificate file (overrides --out)\n"
"  --key FILE       private key file, mode 0600 (overrides --out)\n"
"  --ca FILE        CA certificate file (overrides --out)\n"
"  --force          replace existing files (default: refuse)\n"
"  --validity HOURS requested validity (default: the server's)\n"
"  --endpoint ID    device / endpoint id recorded with the certificate\n"
"  --config FILE    identity resolution settings (default: $CERTPIN_CONF,\n"
"                   " CP_ID_DEFAULT_CONF ")\n"
"  --output=text|json  how to report the certificate; -j: json\n"
"Bulk issuance (administrators; certpinIssueBulk):\n"
"  --bulk FILE      issue for every line \"CSR-FILE CERT-FILE IDENTITY\" of FILE\n"
"                   (- for standard input); the CA certificate goes to --ca\n"
"                   (default PREFIX-ca.crt); one line of result per line\n"
"  --bulk-size N    items per request (1 to 1000, default 500)\n",
		cp_opt.prog );
}

static int
issue_opt( int c, char *arg )
{
	if ( certpin_req_opt( &io.ro, c, arg ) )
		return 1;
	switch ( c ) {
	case OPT_CSR:
		io.csr_file = arg;
		return 1;
	case OPT_OUT:
		if ( *arg == '\0' )
			cp_usage_error( "--out: empty prefix" );
		io.out = arg;
		return 1;
	case OPT_CERT:
		io.cert_file = arg;
		return 1;
	case OPT_KEY:
		io.key_file = arg;
		return 1;
	case OPT_CA:
		io.ca_file = arg;
		return 1;
	case OPT_FORCE:
		io.force = 1;
		return 1;
	case OPT_BULK:
		io.bulk_file = arg;
		return 1;
	case OPT_BULK_SIZE: {
		char *end;

		io.bulk_size = strtol( arg, &end, 10 );
		if ( *arg == '\0' || *end || io.bulk_size < 1 ||
		     io.bulk_size > CERTPIN_BULK_MAX_ITEMS )
			cp_usage_error( "--bulk-size: a number from 1 to %d", CERTPIN_BULK_MAX_ITEMS );
		return 1;
	}
	}
	return 0;
}

/* "PREFIX" + suffix, or the explicit name. */
static char *
issue_path( const char *given, const char *suffix )
{
	size_t len;
	char *p;

	if ( given )
		return strdup( given );
	len = strlen( io.out ) + strlen( suffix ) + 1;
	p = malloc( len );
	if ( p )
		snprintf( p, len, "%s%s", io.out, suffix );
	return p;
}

/* Does path exist?  Says so. */
static int
issue_exists( const char *path )
{
	struct stat st;

	if ( lstat( path, &st ) == 0 ) {
		cp_warn( "%s: file exists (use --force to replace it)", cp_esc( path ) );
		return 1;
	}
	return 0;
}

/* Was any bind option given? */
static int
issue_bind_given( void )
{
	return cp_opt.binddn || cp_opt.passwd.bv_val || cp_opt.pw_file ||
		cp_opt.want_bindpw || cp_opt.sasl_mech || cp_opt.sasl_authc_id;
}

/* One "Name: value" line, or one JSON member. */
static void
issue_field( int *n, const char *name, const char *value, int dn )
{
	if ( cp_opt.format == CP_FMT_JSON ) {
		fputs( ( *n )++ ? ",\n  " : "{\n  ", stdout );
		cp_json_string( stdout, name );
		fputs( ": ", stdout );
		cp_json_string( stdout, value );
		return;
	}
	/* the server's names are untrusted: escaped for the terminal */
	printf( "%s: %s\n", name, dn ? cp_esc_dn( value ) : cp_esc( value ) );
}

/* Print what the server sent: subject, thumbprint, expiry. */
static void
issue_report( const struct berval *der, const char *cert, const char *key,
	const char *ca )
{
	certpin_certinfo ci;
	char err[256], iso[CERTPIN_ISOTIME_LEN + 1];
	int n = 0;

	if ( certpin_certinfo_from_der( (const unsigned char *)der->bv_val,
		der->bv_len, &ci, err, sizeof( err ) ) == 0 )
	{
		if ( certpin_gentime_iso( ci.ci_notafter, iso ) )
			strcpy( iso, ci.ci_notafter );
		issue_field( &n, "Subject", ci.ci_subject, 1 );
		issue_field( &n, "Issuer", ci.ci_issuer, 1 );
		issue_field( &n, "SerialNumber", ci.ci_serial, 0 );
		issue_field( &n, "Thumbprint", ci.ci_sha256, 0 );
		issue_field( &n, "NotAfter", iso, 0 );
		certpin_certinfo_free( &ci );
	} else {
		cp_warn( "the issued certificate does not parse: %s", cp_esc( err ) );
	}
	issue_field( &n, "Certificate", cert, 0 );
	if ( key )
		issue_field( &n, "Key", key, 0 );
	issue_field( &n, "CA", ca, 0 );
	if ( cp_opt.format == CP_FMT_JSON )
		fputs( "\n}\n", stdout );
}

/* ---- bulk issuance (--bulk FILE) ---------------------------------------- */

/* certpin.h's CERTPIN_OID_EXOP ".2": the two must agree. */
#define CERTPIN_BULK_OID \
	"2.25.200588203507426345906909541611622616575.3.2"

/* One line of the bulk file: CSR-FILE CERT-FILE IDENTITY (the rest). */
typedef struct bulk_line {
	long		bl_lineno;
	char		*bl_cert;	/* where the certificate goes */
	char		*bl_dn;		/* the user */
	struct berval	bl_csr;
} bulk_line;

static void
bulk_line_free( bulk_line *b )
{
	free( b->bl_cert );
	free( b->bl_dn );
	free( b->bl_csr.bv_val );
	memset( b, 0, sizeof( *b ) );
}

/* Send lines[0 .. n-1] as one certpinIssueBulk request and write what
 * comes back; counts in *issued, *refused.  The LDAP result code of the
 * operation (a refusal of the whole request), LDAP_SUCCESS otherwise. */
static int
bulk_send( LDAP *ld, bulk_line *lines, size_t n, certpin_out *out_ca,
	int *ca_done, long *issued, long *refused )
{
	certpin_req *items = calloc( n ? n : 1, sizeof( certpin_req ) );
	struct berval req = { 0, NULL }, *resp = NULL, ca, v;
	BerElement *ber = NULL;
	LDAPMessage *msg = NULL;
	char *oid = NULL, *diag = NULL, *matched = NULL, err[512], *last;
	ber_len_t len;
	ber_tag_t tag;
	ber_int_t code;
	size_t i, size;
	int rc, res = LDAP_OTHER, msgid;

	if ( items == NULL )
		return LDAP_NO_MEMORY;
	for ( i = 0; i < n; i++ ) {
		items[i].rq_csr = lines[i].bl_csr;
		items[i].rq_identity.bv_val = lines[i].bl_dn;
		items[i].rq_identity.bv_len = strlen( lines[i].bl_dn );
		if ( io.ro.validity ) {
			items[i].rq_has_validity = 1;
			items[i].rq_validity = io.ro.validity;
		}
	}
	size = certpin_bulk_encode( items, n, 0, NULL, 0 );
	req.bv_val = malloc( size );
	if ( req.bv_val == NULL ) {
		free( items );
		return LDAP_NO_MEMORY;
	}
	req.bv_len = certpin_bulk_encode( items, n, 0, (unsigned char *)req.bv_val, size );
	free( items );
	rc = ldap_extended_operation( ld, CERTPIN_BULK_OID, &req, NULL, NULL, &msgid );
	free( req.bv_val );
	if ( rc != LDAP_SUCCESS ) {
		ldap_get_option( ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag );
		cp_perror( "certpinIssueBulk", rc, NULL, diag );
		ldap_memfree( diag );
		return rc;
	}
	rc = ldap_result( ld, msgid, LDAP_MSG_ALL, NULL, &msg );
	if ( rc <= 0 ) {
		ldap_get_option( ld, LDAP_OPT_RESULT_CODE, &res );
		cp_perror( "certpinIssueBulk", res ? res : LDAP_SERVER_DOWN, NULL, NULL );
		return res ? res : LDAP_SERVER_DOWN;
	}
	rc = ldap_parse_extended_result( ld, msg, &oid, &resp, 0 );
	if ( rc == LDAP_SUCCESS )
		rc = ldap_parse_result( ld, msg, &res, &matched, &diag, NULL, NULL, 0 );
	ldap_msgfree( msg );
	if ( rc != LDAP_SUCCESS )
		res = rc;
	if ( res != LDAP_SUCCESS ) {
		cp_perror( "certpinIssueBulk", res, matched, diag );
		goto done;
	}
	res = LDAP_DECODING_ERROR;
	if ( resp == NULL || ( ber = ber_init( resp ) ) == NULL ||
	     ber_scanf( ber, "{m", &ca ) == LBER_ERROR ||
	     ( tag = ber_first_element( ber, &len, &last ) ) == LBER_ERROR ) {
		cp_warn( "certpinIssueBulk: the server's answer does not parse" );
		goto done;
	}
	if ( !*ca_done ) {
		if ( certpin_out_cert( out_ca, &ca, err, sizeof( err ) ) ||
		     certpin_out_commit( out_ca, err, sizeof( err ) ) ) {
			cp_warn( "%s", cp_esc( err ) );
			goto done;
		}
		*ca_done = 1;
	}
	for ( i = 0; i < n; i++ ) {
		bulk_line *b = &lines[i];

		if ( tag == LBER_DEFAULT || tag == LBER_ERROR )
			break;
		if ( tag == 0x80 ) {
			certpin_out o;

			memset( &o, 0, sizeof( o ) );
			o.co_fd = -1;
			if ( ber_scanf( ber, "m", &v ) == LBER_ERROR )
				break;
			if ( certpin_out_open( &o, b->bl_cert, 0644, io.force, err, sizeof( err ) ) ||
			     certpin_out_cert( &o, &v, err, sizeof( err ) ) ||
			     certpin_out_commit( &o, err, sizeof( err ) ) ) {
				certpin_out_abort( &o );
				printf( "line %ld: issued but not saved: %s (revoke it: "
					"certpin-revoke)\n", b->bl_lineno, cp_esc( err ) );
				( *refused )++;
			} else {
				printf( "line %ld: issued %s\n", b->bl_lineno, cp_esc( b->bl_cert ) );
				( *issued )++;
			}
		} else if ( tag == 0xa1 ) {
			if ( ber_scanf( ber, "{im}", &code, &v ) == LBER_ERROR )
				break;
			printf( "line %ld: refused: %s (%d): %.*s\n", b->bl_lineno,
				ldap_err2string( code ), (int)code, (int)v.bv_len,
				cp_esc( ( snprintf( err, sizeof( err ), "%.*s",
					(int)v.bv_len, v.bv_val ), err ) ) );
			( *refused )++;
		} else {
			break;
		}
		tag = ber_next_element( ber, &len, last );
	}
	if ( i < n ) {
		cp_warn( "certpinIssueBulk: the server's answer does not parse "
			"(at line %ld)", lines[i].bl_lineno );
		goto done;
	}
	res = LDAP_SUCCESS;
done:
	if ( ber )
		ber_free( ber, 1 );
	ber_bvfree( resp );
	ldap_memfree( oid );
	ldap_memfree( diag );
	ldap_memfree( matched );
	return res;
}

/* certpin-issue --bulk FILE: read the lines, resolve each user, send them
 * io.bulk_size at a time.  The exit status. */
static int
issue_bulk( LDAP *ld, const char *ca_path )
{
	FILE *f = strcmp( io.bulk_file, "-" ) ? fopen( io.bulk_file, "r" ) : stdin;
	bulk_line *lines;
	certpin_out out_ca;
	char line[8192], err[512], *p, *csrf, *certf, *id, *save = NULL;
	long lineno = 0, issued = 0, refused = 0;
	size_t n = 0, i;
	int rc = LDAP_SUCCESS, ca_done = 0, bad = 0;

	memset( &out_ca, 0, sizeof( out_ca ) );
	out_ca.co_fd = -1;
	if ( f == NULL ) {
		cp_warn( "%s: %s", cp_esc( io.bulk_file ), strerror( errno ) );
		return EXIT_FAILURE;
	}
	lines = calloc( io.bulk_size, sizeof( bulk_line ) );
	if ( lines == NULL ||
	     certpin_out_open( &out_ca, ca_path, 0644, io.force, err, sizeof( err ) ) ) {
		cp_warn( "%s", lines ? cp_esc( err ) : "out of memory" );
		free( lines );
		if ( f != stdin )
			fclose( f );
		return EXIT_FAILURE;
	}
	for ( ;; ) {
		int eof = fgets( line, sizeof( line ), f ) == NULL;

		if ( !eof ) {
			lineno++;
			line[strcspn( line, "\r\n" )] = '\0';
			for ( p = line; *p == ' ' || *p == '\t'; p++ )
				;
			if ( *p == '\0' || *p == '#' )
				continue;
			csrf = strtok_r( p, " \t", &save );
			certf = strtok_r( NULL, " \t", &save );
			id = strtok_r( NULL, "", &save );
			while ( id && ( *id == ' ' || *id == '\t' ) )
				id++;
			if ( !csrf || !certf || !id || !*id ) {
				cp_warn( "%s line %ld: want CSR-FILE CERT-FILE IDENTITY",
					cp_esc( io.bulk_file ), lineno );
				bad = 1;
				continue;
			}
			lines[n].bl_lineno = lineno;
			if ( certpin_csr_read( csrf, &lines[n].bl_csr, err, sizeof( err ) ) ) {
				printf( "line %ld: refused: %s\n", lineno, cp_esc( err ) );
				refused++;
				continue;
			}
			rc = certpin_user_find( ld, io.ro.config, id, 0, &lines[n].bl_dn, NULL );
			if ( rc != LDAP_SUCCESS ) {
				printf( "line %ld: refused: user \"%s\" not found\n", lineno,
					cp_esc( id ) );
				bulk_line_free( &lines[n] );
				refused++;
				rc = LDAP_SUCCESS;
				continue;
			}
			lines[n].bl_cert = strdup( certf );
			if ( lines[n].bl_cert == NULL ) {
				cp_warn( "out of memory" );
				rc = LDAP_NO_MEMORY;
				break;
			}
			n++;
		}
		if ( n && ( eof || n == (size_t)io.bulk_size ) ) {
			rc = bulk_send( ld, lines, n, &out_ca, &ca_done, &issued, &refused );
			for ( i = 0; i < n; i++ )
				bulk_line_free( &lines[i] );
			n = 0;
			if ( rc != LDAP_SUCCESS )
				break;
		}
		if ( eof )
			break;
	}
	for ( i = 0; i < n; i++ )
		bulk_line_free( &lines[i] );
	free( lines );
	if ( f != stdin )
		fclose( f );
	certpin_out_abort( &out_ca );
	fprintf( stderr, "%s: %ld issued, %ld refused\n", cp_opt.prog, issued, refused );
	return rc == LDAP_SUCCESS && !bad && refused == 0 ? EXIT_SUCCESS :
		rc != LDAP_SUCCESS ? rc : EXIT_FAILURE;
}

int
main( int argc, char **argv )
{
	certpin_keyspec ks;
	certpin_issue_req req;
	certpin_issue_res res;
	certpin_out out_cert, out_key, out_ca;
	struct berval csr = { 0, NULL }, pin = { 0, NULL };
	char err[512], *cert_path = NULL, *key_path = NULL, *ca_path = NULL;
	char *user_dn = NULL;
	EVP_PKEY *key = NULL;
	LDAP *ld = NULL;
	int first, rc = EXIT_FAILURE;

	memset( &req, 0, sizeof( req ) );
	memset( &res, 0, sizeof( res ) );
	memset( &out_cert, 0, sizeof( out_cert ) );
	memset( &out_key, 0, sizeof( out_key ) );
	memset( &out_ca, 0, sizeof( out_ca ) );
	out_cert.co_fd = out_key.co_fd = out_ca.co_fd = -1;
	io.out = "certpin";
	io.bulk_size = 500;

	cp_tool_init( "certpin-issue", "k:", issue_long, issue_opt, issue_usage );
	cp_tool_formats( CP_FMT_MASK( CP_FMT_JSON ), "text" );
	first = cp_tool_args( argc, argv );

	/* ---- what was asked: refuse contradictions before anything runs ---- */
	if ( io.bulk_file ) {
		if ( first < argc || io.ro.phone || io.csr_file || io.ro.keykind ||
		     io.cert_file || io.key_file || io.ro.endpoint )
			cp_usage_error( "--bulk takes its users and CSRs from the file: no "
				"identity, --phone, --csr, -k, --cert, --key or --endpoint" );
		if ( cp_opt.format == CP_FMT_JSON )
			cp_usage_error( "--bulk reports in text only" );
		ca_path = issue_path( io.ca_file, "-ca.crt" );
		if ( ca_path == NULL ) {
			perror( cp_opt.prog );
			goto done;
		}
		if ( cp_opt.dont ) {
			rc = EXIT_SUCCESS;
			goto done;
		}
		if ( !io.force && issue_exists( ca_path ) )
			goto done;
		ld = cp_tool_connect();
		rc = issue_bulk( ld, ca_path );
		goto done;
	}
	if ( argc - first > 1 )
		cp_usage_error( "one identity at a time" );
	if ( io.ro.pin_file && !io.ro.phone )
		cp_usage_error( "--pin-file needs --phone" );
	if ( io.ro.phone && first < argc )
		cp_usage_error( "--phone names the user: give no identity with it" );
	if ( io.csr_file && io.ro.keykind )
		cp_usage_error( "-k and --csr are exclusive (the request holds the key)" );
	if ( io.csr_file && io.key_file )
		cp_usage_error( "--key and --csr are exclusive (the key stays with the request)" );
	if ( certpin_keyspec_parse( io.ro.keykind, &ks, err, sizeof( err ) ) )
		cp_usage_error( "-k: %s", err );
	if ( io.ro.phone && !issue_bind_given() )
		cp_opt.authmethod = LDAP_AUTH_SIMPLE;	/* anonymous: the PIN proves the user */

	cert_path = issue_path( io.cert_file, ".crt" );
	ca_path = issue_path( io.ca_file, "-ca.crt" );
	if ( !io.csr_file )
		key_path = issue_path( io.key_file, ".key" );
	if ( !cert_path || !ca_path || ( !io.csr_file && !key_path ) ) {
		perror( cp_opt.prog );
		goto done;
	}
	if ( !strcmp( cert_path, ca_path ) || ( key_path &&
		( !strcmp( key_path, cert_path ) || !strcmp( key_path, ca_path ) ) ) )
		cp_usage_error( "the certificate, key and CA files must be different files" );

	/* ---- the PIN, before anything touches the network ---- */
	if ( io.ro.phone ) {
		if ( certpin_pin_read( io.ro.pin_file, &pin, err, sizeof( err ) ) ) {
			cp_warn( "%s", cp_esc( err ) );
			goto done;
		}
	}

	/* ---- the request ---- */
	if ( io.csr_file ) {
		if ( cp_opt.verbose )
			fprintf( stderr, "reading the certificate request %s\n", io.csr_file );
		if ( certpin_csr_read( io.csr_file, &csr, err, sizeof( err ) ) ) {
			cp_warn( "%s", cp_esc( err ) );
			goto done;
		}
	} else {
		if ( cp_opt.verbose )
			fprintf( stderr, "generating %s key\n", ks.ks_kind == CERTPIN_KEY_RSA ?
				"an RSA" : "an ECDSA P-256" );
		key = certpin_key_generate( &ks, err, sizeof( err ) );
		if ( key == NULL || certpin_csr_make( key, first < argc ? argv[first] : io.ro.phone,
			&csr, err, sizeof( err ) ) )
		{
			cp_warn( "%s", cp_esc( err ) );
			goto done;
		}
	}

	if ( cp_opt.dont ) {
		if ( cp_opt.verbose ) {
			printf( "!certpinIssue for %s%s%s\n",
				io.ro.phone ? "phone " : first < argc ? "" : "the bound user",
				io.ro.phone ? cp_esc( io.ro.phone ) : "",
				first < argc ? cp_esc( argv[first] ) : "" );
			printf( "!write %s, %s%s%s\n", cp_esc( cert_path ), cp_esc( ca_path ),
				key_path ? " and " : "", key_path ? cp_esc( key_path ) : "" );
		}
		rc = EXIT_SUCCESS;
		goto done;
	}

	/* ---- refuse to overwrite before anything is asked ---- */
	if ( !io.force && ( issue_exists( cert_path ) || issue_exists( ca_path ) ||
		( key_path && issue_exists( key_path ) ) ) )
	{
		rc = EXIT_FAILURE;
		goto done;
	}

	/* ---- connect, bind ---- */
	ld = cp_tool_connect();

	/* ---- reserve the files (O_EXCL): a refusal changes nothing on the
	 * server, and they are removed again if the server says no ---- */
	if ( certpin_out_open( &out_cert, cert_path, 0644, io.force, err, sizeof( err ) ) ||
		certpin_out_open( &out_ca, ca_path, 0644, io.force, err, sizeof( err ) ) ||
		( key_path && certpin_out_open( &out_key, key_path, 0600, io.force,
			err, sizeof( err ) ) ) )
	{
		cp_warn( "%s", cp_esc( err ) );
		rc = EXIT_FAILURE;
		goto done;
	}
	if ( io.ro.phone && !ldap_tls_inplace( ld ) ) {
		cp_warn( "refusing to send a PIN without TLS (use ldaps:// or -ZZ)" );
		rc = LDAP_CONFIDENTIALITY_REQUIRED;
		goto done;
	}
	if ( first < argc ) {
		if ( cp_opt.verbose )
			fprintf( stderr, "resolving \"%s\"\n", cp_esc( argv[first] ) );
		rc = certpin_user_find( ld, io.ro.config, argv[first], 0, &user_dn, NULL );
		if ( rc != LDAP_SUCCESS )
			goto done;
		if ( cp_opt.verbose )
			fprintf( stderr, "user: %s\n", cp_esc_dn( user_dn ) );
	}

	req.ir_csr = csr;
	req.ir_identity = user_dn;
	req.ir_phone = io.ro.phone;
	req.ir_pin = pin;
	req.ir_validity = io.ro.validity;
	req.ir_endpoint = io.ro.endpoint;
	if ( cp_opt.verbose )
		fprintf( stderr, "certpinIssue (%s)\n", CERTPIN_ISSUE_OID );
	rc = certpin_issue( ld, &req, NULL, &res );
	certpin_secret_free( &pin );
	if ( rc != LDAP_SUCCESS ) {
		cp_perror( "certpinIssue", rc, res.is_matched, res.is_diag );
		goto done;
	}

	/* ---- the files ---- */
	if ( key && !certpin_key_matches_cert( key, &res.is_cert ) ) {
		cp_warn( "the server sent a certificate that does not hold the "
			"requested key: nothing written; revoke it (certpin-revoke)" );
		rc = EXIT_FAILURE;
		goto done;
	}
	if ( certpin_out_cert( &out_cert, &res.is_cert, err, sizeof( err ) ) ||
		certpin_out_cert( &out_ca, &res.is_ca, err, sizeof( err ) ) ||
		( key && certpin_out_key( &out_key, key, err, sizeof( err ) ) ) ||
		( key && certpin_out_commit( &out_key, err, sizeof( err ) ) ) ||
		certpin_out_commit( &out_cert, err, sizeof( err ) ) ||
		certpin_out_commit( &out_ca, err, sizeof( err ) ) )
	{
		cp_warn( "%s", cp_esc( err ) );
		cp_warn( "the certificate was issued and recorded but not saved: "
			"revoke it (certpin-revoke) and ask again" );
		rc = EXIT_FAILURE;
		goto done;
	}
	issue_report( &res.is_cert, cert_path, key_path, ca_path );
	rc = EXIT_SUCCESS;

done:
	certpin_out_abort( &out_cert );
	certpin_out_abort( &out_key );
	certpin_out_abort( &out_ca );
	certpin_secret_free( &pin );
	certpin_issue_res_free( &res );
	EVP_PKEY_free( key );
	free( csr.bv_val );
	free( cert_path );
	free( key_path );
	free( ca_path );
	free( user_dn );
	cp_tool_exit( ld, rc );
	return rc;
}
