/* loadgen.c - certpin benchmark load generator (libldap, pthreads)
 *
 * usage: loadgen MODE [options]
 *   rebind   each thread opens one TLS connection with a sample user's
 *            certificate and repeats SASL EXTERNAL binds on it
 *   logon    each thread repeats a full device logon: new TLS connection
 *            presenting a sample user's certificate, SASL EXTERNAL bind,
 *            unbind (certificates taken round robin from the sample)
 *   revoke   -n trials: a sample user's second certificate logs on, is
 *            deleted by the administrator (-R, ldapi, SASL EXTERNAL), then the
 *            first logon after the delete returned must be refused; with -B
 *            the logons after the delete go to that other server, polled until
 *            refused, and the delay is measured
 *   issue    each thread binds as sample users (simple bind, their password)
 *            and asks for certificates through the provisioning extended
 *            operation for itself (-K ec|rsa: the CSR's key)
 *   issuefor each thread binds as the administrator (-R) and sends one
 *            certpinIssue request at a time, each for the next sample user
 *            (the request's identity): single requests written the way
 *            "modify" writes, one user after the other
 *   issuebulk each thread binds as the administrator (-R; -D/-P) and
 *            sends certpinIssueBulk requests of -b items (default 500), one
 *            certificate per item, each item for the next sample user, the
 *            CSRs from a pool of -b distinct keys; "ops" counts certificates
 *   modify   plain slapd's single write: each thread binds as the
 *            administrator (-R) and adds a value of about 700 bytes to the
 *            next sample user's description, one modify (one commit) each
 * options:
 *   -H URI   server (ldaps://)        -A FILE  CA certificate (PEM)
 *   -k FILE  client key (PEM)         -l FILE  sample list (gen-users)
 *   -t N     threads (default 2)      -d SECS  measured time (default 5)
 *   -w SECS  warm-up, not measured (default 0.5)
 *   -n N     trials (revoke)          -R URI   administrator's ldapi URI
 *   -D DN, -P PW  the administrator's simple bind on -R (default: SASL
 *            EXTERNAL, the ldapi peer's identity)
 *   -B URI   second server: revoke (see above); rebind and logon: pair
 *            mode, both servers measured in one run, alternating slices of
 *            -s MS milliseconds (default 200) in ABBA order; two lines
 *            are printed, "A ..." for -H and "B ..." for -B
 *   -C URI   (rebind and logon, with -B) a third server: slices in ABCCBA
 *            order, a third line "C ..."
 *   -a ATTR  revoke: the attribute whose value is deleted (default
 *            certpinCertificate;binary; 389 Directory Server:
 *            userCertificate;binary)
 *   -K KIND  ec or rsa (issue)         -b N     items per bulk request
 * Prints one line: "mode=... ops=N secs=S rate=R p50_ms=.. p99_ms=.. errors=N"
 * (revoke: "trials=N refused=N ... open_refused=N": open_refused counts the
 * trials where a re-bind on a connection opened and bound before the delete
 * was refused after it), and the first error on stderr.
 * Exit status 0 only when no operation failed unexpectedly.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>
#include <lber.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* The provisioning extended operation (PREAMBLE: CERTPIN_OID ".3.1"). */
#define CERTPIN_ISSUE_OID "2.25.200588203507426345906909541611622616575.3.1"
#define CERTPIN_BULK_OID "2.25.200588203507426345906909541611622616575.3.2"
#define MAX_CERTS_PER_USER 20	/* certpin-max-certificates default */

/* Exported by libldap, declared in no installed header. */
extern void ldap_pvt_tls_ctx_free( void * );

typedef struct sample {
	char	*dn;
	char	*cert[2];	/* PEM files */
	void	*ctx[2];	/* libldap TLS contexts presenting them */
} sample;

static const char *admindn, *adminpw;
static const char *uri, *cafile, *keyfile, *listfile, *adminuri, *uri2, *uri3, *kind = "ec";
static const char *revattr = "certpinCertificate;binary";
static int nserv = 1;	/* servers measured in one run: 1, 2 (-B) or 3 (-C) */
static int nthreads = 2, ntrials = 100, nbulk = 500;
static struct berval *csrpool;
static long next_user;	/* issuefor, issuebulk, modify: the next sample user (atomic) */
static double duration = 5, warmup = 0.5;
static sample *samples;
static int nsamples;
static pthread_barrier_t barrier;
static double t_start, t_end;
static struct berval csr;
static pthread_mutex_t errlock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[512];

typedef struct worker {
	int	id;
	long	ops, errors;
	double	*lat;
	long	nlat, maxlat;
	double	last;
	struct worker *pair[2];	/* pair mode: the same thread's counts for -B, -C */
} worker;

static double
now( void )
{
	struct timespec ts;

	clock_gettime( CLOCK_MONOTONIC, &ts );
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Pair mode (-B with rebind or logon): time is cut into slices of
 * slice_ms; slices alternate between the two servers in ABBA order (three
 * servers, -C: ABCCBA), so that drift in the machine's load falls on all
 * alike.  Returns 0 for -H, 1 for -B, 2 for -C. */
static double slice_ms = 200;
#define MAX_SLICES 65536
static long slice_ops[MAX_SLICES];	/* operations started in each slice */

static long
slice_of( double t )
{
	long k = (long)( ( t - t_start ) * 1000 / slice_ms );

	return k < 0 ? 0 : k >= MAX_SLICES ? MAX_SLICES - 1 : k;
}

static int
slice_server( double t )
{
	long pos = slice_of( t ) % ( 2 * nserv );

	return pos < nserv ? pos : 2 * nserv - 1 - pos;
}

static void
die( const char *fmt, const char *arg )
{
	fprintf( stderr, "loadgen: " );
	fprintf( stderr, fmt, arg );
	fprintf( stderr, "\n" );
	exit( 2 );
}

static void
note_error( const char *what, int rc, LDAP *ld )
{
	char *diag = NULL;

	pthread_mutex_lock( &errlock );
	if ( !first_error[0] ) {
		if ( ld )
			ldap_get_option( ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag );
		snprintf( first_error, sizeof( first_error ), "%s: %s (%d)%s%s", what,
			ldap_err2string( rc ), rc, diag && *diag ? ": " : "", diag ? diag : "" );
		ldap_memfree( diag );
	}
	pthread_mutex_unlock( &errlock );
}

static void
record( worker *w, double t0, double t1 )
{
	if ( w->nlat == w->maxlat ) {
		w->maxlat = w->maxlat ? 2 * w->maxlat : 4096;
		w->lat = realloc( w->lat, w->maxlat * sizeof( double ) );
		if ( w->lat == NULL )
			die( "%s", "out of memory" );
	}
	w->lat[w->nlat++] = ( t1 - t0 ) * 1000;
	w->ops++;
	w->last = t1;
}

/* A TLS context presenting cert (or no certificate when cert is NULL). */
static void *
tls_ctx( const char *cert )
{
	LDAP *ld;
	void *ctx = NULL;
	int demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;

	if ( ldap_initialize( &ld, uri ) != LDAP_SUCCESS )
		die( "cannot initialize %s", uri );
	ldap_set_option( ld, LDAP_OPT_X_TLS_CACERTFILE, cafile );
	ldap_set_option( ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand );
	if ( cert ) {
		ldap_set_option( ld, LDAP_OPT_X_TLS_CERTFILE, cert );
		ldap_set_option( ld, LDAP_OPT_X_TLS_KEYFILE, keyfile );
	}
	rc = ldap_set_option( ld, LDAP_OPT_X_TLS_NEWCTX, &zero );
	if ( rc != LDAP_OPT_SUCCESS )
		die( "cannot make a TLS context for %s", cert ? cert : "(no certificate)" );
	ldap_get_option( ld, LDAP_OPT_X_TLS_CTX, &ctx );	/* takes a reference */
	ldap_unbind_ext( ld, NULL, NULL );
	return ctx;
}

static LDAP *
conn( const char *u, void *ctx )
{
	LDAP *ld;
	int v3 = LDAP_VERSION3;

	if ( ldap_initialize( &ld, u ) != LDAP_SUCCESS )
		die( "cannot initialize %s", u );
	ldap_set_option( ld, LDAP_OPT_PROTOCOL_VERSION, &v3 );
	if ( ctx )
		ldap_set_option( ld, LDAP_OPT_X_TLS_CTX, ctx );
	return ld;
}

static int
bind_external( LDAP *ld )
{
	struct berval empty = { 0, "" };

	return ldap_sasl_bind_s( ld, NULL, "EXTERNAL", &empty, NULL, NULL, NULL );
}

/* The administrator's bind on adminuri: -D/-P, or SASL EXTERNAL. */
static int
bind_admin( LDAP *ld )
{
	struct berval pw;

	if ( admindn == NULL )
		return bind_external( ld );
	pw.bv_val = (char *)( adminpw ? adminpw : "" );
	pw.bv_len = strlen( pw.bv_val );
	return ldap_sasl_bind_s( ld, admindn, LDAP_SASL_SIMPLE, &pw, NULL, NULL, NULL );
}

/* One full device logon on server u; returns the bind's result code. */
static int
logon( const char *u, void *ctx, LDAP **errld )
{
	LDAP *ld = conn( u, ctx );
	int rc = bind_external( ld );

	if ( rc != LDAP_SUCCESS && errld ) {
		*errld = ld;
		return rc;
	}
	ldap_unbind_ext( ld, NULL, NULL );
	return rc;
}

static void
load_samples( int need_ctx, int which )
{
	FILE *f = fopen( listfile, "r" );
	char line[8192];
	int max = 0;

	if ( f == NULL )
		die( "cannot read %s", listfile );
	while ( fgets( line, sizeof( line ), f ) ) {
		char *dn = strtok( line, " \n" ), *c0 = strtok( NULL, " \n" ),
			*c1 = strtok( NULL, " \n" );

		if ( !dn || !c0 || !c1 )
			die( "bad line in %s", listfile );
		if ( nsamples == max ) {
			max = max ? 2 * max : 1024;
			samples = realloc( samples, max * sizeof( sample ) );
		}
		samples[nsamples].dn = strdup( dn );
		samples[nsamples].cert[0] = strdup( c0 );
		samples[nsamples].cert[1] = strdup( c1 );
		samples[nsamples].ctx[0] = samples[nsamples].ctx[1] = NULL;
		nsamples++;
	}
	fclose( f );
	if ( nsamples == 0 )
		die( "no samples in %s", listfile );
	if ( need_ctx ) {
		int i, n = need_ctx < nsamples ? need_ctx : nsamples;

		for ( i = 0; i < n; i++ )
			samples[i].ctx[which] = tls_ctx( samples[i].cert[which] );
	}
}

/* ---- rebind and logon ---------------------------------------------------- */

static int nctx;	/* samples with a context */

static void *
run_rebind( void *arg )
{
	worker *w = arg, *ws[3] = { w, w->pair[0], w->pair[1] };
	sample *s = &samples[w->id % nctx];
	LDAP *ld[3] = { conn( uri, s->ctx[0] ), uri2 ? conn( uri2, s->ctx[0] ) : NULL,
		uri3 ? conn( uri3, s->ctx[0] ) : NULL };
	double t0, t1;
	int rc, k;

	for ( k = 0; k < nserv; k++ ) {
		rc = bind_external( ld[k] );	/* opens the connection, TLS handshake */
		if ( rc != LDAP_SUCCESS ) {
			note_error( "first bind", rc, ld[k] );
			w->errors++;
		}
	}
	pthread_barrier_wait( &barrier );
	while ( ( t0 = now() ) < t_end ) {
		k = uri2 ? slice_server( t0 ) : 0;
		rc = bind_external( ld[k] );
		t1 = now();
		if ( rc != LDAP_SUCCESS ) {
			note_error( "re-bind", rc, ld[k] );
			ws[k]->errors++;
			break;
		}
		if ( t0 >= t_start ) {
			record( ws[k], t0, t1 );
			if ( uri2 )
				__atomic_add_fetch( &slice_ops[slice_of( t0 )], 1, __ATOMIC_RELAXED );
		}
	}
	for ( k = 0; k < nserv; k++ )
		ldap_unbind_ext( ld[k], NULL, NULL );
	return NULL;
}

static void *
run_logon( void *arg )
{
	worker *w = arg, *ws[3] = { w, w->pair[0], w->pair[1] };
	const char *u[3] = { uri, uri2, uri3 };
	long i = w->id;
	double t0, t1;
	int rc, k;

	pthread_barrier_wait( &barrier );
	while ( ( t0 = now() ) < t_end ) {
		LDAP *eld = NULL;

		k = uri2 ? slice_server( t0 ) : 0;
		rc = logon( u[k], samples[i % nctx].ctx[0], &eld );
		t1 = now();
		if ( rc != LDAP_SUCCESS ) {
			note_error( "logon", rc, eld );
			if ( eld )
				ldap_unbind_ext( eld, NULL, NULL );
			ws[k]->errors++;
			break;
		}
		if ( t0 >= t_start ) {
			record( ws[k], t0, t1 );
			if ( uri2 )
				__atomic_add_fetch( &slice_ops[slice_of( t0 )], 1, __ATOMIC_RELAXED );
		}
		i += nthreads;
	}
	return NULL;
}

/* ---- issue ------------------------------------------------------------- */

static void
make_csr( void )
{
	EVP_PKEY *key = strcmp( kind, "rsa" ) == 0 ? EVP_RSA_gen( 2048 ) : EVP_EC_gen( "P-256" );
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL;
	int len;

	if ( key == NULL || req == NULL || name == NULL )
		die( "%s", "cannot make a CSR" );
	X509_NAME_add_entry_by_txt( name, "CN", MBSTRING_UTF8,
		(const unsigned char *)"certpin bench", -1, -1, 0 );
	X509_REQ_set_subject_name( req, name );
	X509_REQ_set_pubkey( req, key );
	if ( X509_REQ_sign( req, key, EVP_sha256() ) <= 0 ||
	     ( len = i2d_X509_REQ( req, &der ) ) <= 0 )
		die( "%s", "cannot sign the CSR" );
	csr.bv_val = (char *)der;
	csr.bv_len = len;
	X509_NAME_free( name );
	X509_REQ_free( req );
	EVP_PKEY_free( key );
}

/* One issuance for the bound user (for_dn NULL) or, asked by an
 * administrator, for the user named for_dn; the result code. */
static int
issue_one( LDAP *ld, const char *for_dn )
{
	BerElement *ber = ber_alloc_t( LBER_USE_DER );
	struct berval req, *resp = NULL, cert, cacert;
	char *oid = NULL;
	int rc;

	if ( ber == NULL ||
	     ( for_dn ? ber_printf( ber, "{Ots}", &csr, (ber_tag_t)0x80, for_dn )
		      : ber_printf( ber, "{O}", &csr ) ) < 0 ||
	     ber_flatten2( ber, &req, 0 ) < 0 )
		die( "%s", "cannot encode the request" );
	rc = ldap_extended_operation_s( ld, CERTPIN_ISSUE_OID, &req, NULL, NULL, &oid, &resp );
	if ( rc == LDAP_SUCCESS ) {
		BerElement *rb = resp ? ber_init( resp ) : NULL;

		if ( rb == NULL || ber_scanf( rb, "{mm}", &cert, &cacert ) == LBER_ERROR ||
		     cert.bv_len == 0 ) {
			rc = LDAP_DECODING_ERROR;
		}
		if ( rb )
			ber_free( rb, 1 );
	}
	ber_free( ber, 1 );
	ber_bvfree( resp );
	ldap_memfree( oid );
	return rc;
}

static int
simple_bind( LDAP *ld, const char *dn )
{
	char pw[256];
	const char *uid = strchr( dn, '=' );
	struct berval cred;

	snprintf( pw, sizeof( pw ), "pw-%.*s", (int)strcspn( uid + 1, "," ), uid + 1 );
	cred.bv_val = pw;
	cred.bv_len = strlen( pw );
	return ldap_sasl_bind_s( ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL );
}

static void *
run_issue( void *arg )
{
	worker *w = arg;
	void *ctx = samples[0].ctx[0];	/* any: the server only needs TLS */
	LDAP *ld = conn( uri, ctx );
	long u = w->id, left = 0, full = 0;
	double t0, t1;
	int rc;

	pthread_barrier_wait( &barrier );
	while ( ( t0 = now() ) < t_end ) {
		if ( left == 0 ) {
			if ( u >= nsamples ) {
				note_error( "issue: ran out of users with room for certificates",
					LDAP_SIZELIMIT_EXCEEDED, NULL );
				w->errors++;
				break;
			}
			rc = simple_bind( ld, samples[u].dn );
			if ( rc != LDAP_SUCCESS ) {
				note_error( "simple bind", rc, ld );
				w->errors++;
				break;
			}
			left = MAX_CERTS_PER_USER - 2;
			u += nthreads;
			t0 = now();
		}
		rc = issue_one( ld, NULL );
		t1 = now();
		if ( rc == LDAP_CONSTRAINT_VIOLATION && full++ < 1000 ) {
			/* the user holds as many certificates as allowed (an earlier
			 * run filled it): go on with the next one */
			left = 0;
			continue;
		}
		if ( rc != LDAP_SUCCESS ) {
			note_error( "issue", rc, ld );
			w->errors++;
			break;
		}
		full = 0;
		left--;
		if ( t0 >= t_start )
			record( w, t0, t1 );
	}
	ldap_unbind_ext( ld, NULL, NULL );
	return NULL;
}

/* ---- issuebulk and modify ------------------------------------------------ */

static void
make_csr_pool( int n )
{
	int i;

	csrpool = calloc( n, sizeof( struct berval ) );
	for ( i = 0; i < n; i++ ) {
		make_csr();
		csrpool[i] = csr;
	}
}

/* One bulk request of nbulk items; the certificates issued in *issued. */
static int
issue_bulk_one( LDAP *ld, long *issued )
{
	BerElement *ber = ber_alloc_t( LBER_USE_DER ), *rb = NULL;
	struct berval req, *resp = NULL, ca, v;
	ber_len_t len;
	ber_tag_t tag;
	char *oid = NULL, *last;
	int i, rc;

	*issued = 0;
	if ( ber == NULL || ber_printf( ber, "{" ) < 0 )
		die( "%s", "cannot encode the request" );
	for ( i = 0; i < nbulk; i++ ) {
		long u = __atomic_fetch_add( &next_user, 1, __ATOMIC_RELAXED ) % nsamples;

		if ( ber_printf( ber, "{Ots}", &csrpool[i], (ber_tag_t)0x80,
				samples[u].dn ) < 0 )
			die( "%s", "cannot encode the request" );
	}
	if ( ber_printf( ber, "}" ) < 0 || ber_flatten2( ber, &req, 0 ) < 0 )
		die( "%s", "cannot encode the request" );
	rc = ldap_extended_operation_s( ld, CERTPIN_BULK_OID, &req, NULL, NULL, &oid, &resp );
	if ( rc == LDAP_SUCCESS ) {
		rb = resp ? ber_init( resp ) : NULL;
		if ( rb == NULL || ber_scanf( rb, "{m", &ca ) == LBER_ERROR ) {
			rc = LDAP_DECODING_ERROR;
		} else {
			for ( tag = ber_first_element( rb, &len, &last );
			      tag != LBER_DEFAULT && tag != LBER_ERROR;
			      tag = ber_next_element( rb, &len, last ) ) {
				if ( tag == 0x80 ) {
					ber_scanf( rb, "m", &v );
					( *issued )++;
				} else {
					ber_skip_tag( rb, &len );
					ber_skip_data( rb, len );
				}
			}
		}
		if ( rb )
			ber_free( rb, 1 );
	}
	ber_free( ber, 1 );
	ber_bvfree( resp );
	ldap_memfree( oid );
	return rc;
}

/* Worker w's administrator connection (-R, bound with -D/-P or EXTERNAL);
 * *rc the bind's result, counted as an error when it failed. */
static LDAP *
admin_open( worker *w, int *rc )
{
	LDAP *ld = conn( adminuri, NULL );

	*rc = bind_admin( ld );
	if ( *rc != LDAP_SUCCESS ) {
		note_error( "administrator bind", *rc, ld );
		w->errors++;
	}
	return ld;
}

static void *
run_issuebulk( void *arg )
{
	worker *w = arg;
	long issued;
	double t0, t1;
	int rc;
	LDAP *ld = admin_open( w, &rc );

	pthread_barrier_wait( &barrier );
	while ( rc == LDAP_SUCCESS && ( t0 = now() ) < t_end ) {
		rc = issue_bulk_one( ld, &issued );
		t1 = now();
		if ( rc != LDAP_SUCCESS ) {
			note_error( "issuebulk", rc, ld );
			w->errors++;
			break;
		}
		if ( issued < nbulk ) {
			note_error( "issuebulk: items refused (users full?)", LDAP_OTHER, NULL );
			w->errors++;
		}
		if ( t0 >= t_start ) {
			/* the request's latency once, its certificates counted */
			record( w, t0, t1 );
			w->ops += issued - 1;
		}
	}
	ldap_unbind_ext( ld, NULL, NULL );
	return NULL;
}

/* One write by the administrator for the user dn, begun at t0. */
typedef int (*user_write)( LDAP *ld, worker *w, const char *dn, double t0 );

static int
write_issuefor( LDAP *ld, worker *w, const char *dn, double t0 )
{
	return issue_one( ld, dn );
}

static int
write_modify( LDAP *ld, worker *w, const char *dn, double t0 )
{
	static long seq;	/* keeps every value new (atomic) */
	char val[720], *vals[2] = { val, NULL };
	LDAPMod mod = { LDAP_MOD_ADD, "description", { .modv_strvals = vals } },
		*mods[2] = { &mod, NULL };

	memset( val, 'x', sizeof( val ) - 1 );
	val[sizeof( val ) - 1] = '\0';
	snprintf( val, 40, "%d-%ld-%.0f-", w->id,
		__atomic_fetch_add( &seq, 1, __ATOMIC_RELAXED ), t0 * 1e6 );
	val[strlen( val )] = 'x';
	return ldap_modify_ext_s( ld, dn, mods, NULL, NULL );
}

/* The administrator's single writes, each for the next sample user. */
static void *
run_user_writes( worker *w, const char *what, user_write one )
{
	double t0, t1;
	int rc;
	LDAP *ld = admin_open( w, &rc );

	pthread_barrier_wait( &barrier );
	while ( rc == LDAP_SUCCESS && ( t0 = now() ) < t_end ) {
		long u = __atomic_fetch_add( &next_user, 1, __ATOMIC_RELAXED ) % nsamples;

		rc = one( ld, w, samples[u].dn, t0 );
		t1 = now();
		if ( rc != LDAP_SUCCESS ) {
			note_error( what, rc, ld );
			w->errors++;
			break;
		}
		if ( t0 >= t_start )
			record( w, t0, t1 );
	}
	ldap_unbind_ext( ld, NULL, NULL );
	return NULL;
}

static void *
run_issuefor( void *arg )
{
	return run_user_writes( arg, "issuefor", write_issuefor );
}

static void *
run_modify( void *arg )
{
	return run_user_writes( arg, "modify", write_modify );
}

/* ---- revoke ------------------------------------------------------------ */

static int
read_der( const char *pem, struct berval *der )
{
	FILE *f = fopen( pem, "r" );
	X509 *x;
	unsigned char *buf = NULL;
	int len;

	if ( f == NULL )
		return -1;
	x = PEM_read_X509( f, NULL, NULL, NULL );
	fclose( f );
	if ( x == NULL || ( len = i2d_X509( x, &buf ) ) <= 0 )
		return -1;
	X509_free( x );
	der->bv_val = (char *)buf;
	der->bv_len = len;
	return 0;
}

static int
cmp_double( const void *a, const void *b )
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct( double *v, long n, double p )
{
	long i;

	if ( n == 0 )
		return NAN;
	i = (long)ceil( p / 100.0 * n ) - 1;
	if ( i < 0 )
		i = 0;
	if ( i >= n )
		i = n - 1;
	return v[i];
}

static int
run_revoke( void )
{
	LDAP *admin = conn( adminuri, NULL );
	int i, rc, refused = 0, prefail = 0, errors = 0, timeouts = 0, open_refused = 0;
	double *delay = calloc( ntrials, sizeof( double ) ), *modlat = calloc( ntrials, sizeof( double ) );
	long nd = 0, nm = 0;
	double t0;

	rc = bind_admin( admin );
	if ( rc != LDAP_SUCCESS ) {
		note_error( "administrator bind", rc, admin );
		fprintf( stderr, "loadgen: %s\n", first_error );
		return 1;
	}
	if ( ntrials > nsamples )
		die( "%s", "fewer sample users than trials" );
	for ( i = 0; i < ntrials; i++ ) {
		sample *s = &samples[i];
		struct berval der, *vals[2] = { &der, NULL };
		LDAPMod mod = { LDAP_MOD_DELETE | LDAP_MOD_BVALUES, (char *)revattr,
			{ .modv_bvals = vals } }, *mods[2] = { &mod, NULL };
		void *ctx1 = tls_ctx( s->cert[1] ), *ctx2 = NULL;
		LDAP *eld = NULL, *ldo = NULL;
		const char *target = uri2 ? uri2 : uri;

		if ( uri2 ) {
			const char *u = uri;

			uri = uri2;
			ctx2 = tls_ctx( s->cert[1] );
			uri = u;
		}
		if ( read_der( s->cert[1], &der ) )
			die( "cannot read %s", s->cert[1] );
		/* before: the certificate logs on (on both servers) */
		rc = logon( uri, ctx1, &eld );
		if ( rc == LDAP_SUCCESS && uri2 )
			rc = logon( uri2, ctx2, &eld );
		if ( rc != LDAP_SUCCESS ) {
			note_error( "logon before revocation", rc, eld );
			if ( eld )
				ldap_unbind_ext( eld, NULL, NULL );
			prefail++;
			goto next;
		}
		/* a connection opened and bound before the delete (on the server
		 * whose logons are polled) */
		ldo = conn( target, uri2 ? ctx2 : ctx1 );
		rc = bind_external( ldo );
		if ( rc != LDAP_SUCCESS ) {
			note_error( "bind on the open connection before revocation", rc, ldo );
			prefail++;
			goto next;
		}
		t0 = now();
		rc = ldap_modify_ext_s( admin, s->dn, mods, NULL, NULL );
		if ( rc != LDAP_SUCCESS ) {
			note_error( "revocation (delete of the certificate)", rc, admin );
			errors++;
			goto next;
		}
		modlat[nm++] = ( now() - t0 ) * 1000;
		t0 = now();
		for ( ;; ) {
			eld = NULL;
			rc = logon( target, uri2 ? ctx2 : ctx1, &eld );
			if ( eld )
				ldap_unbind_ext( eld, NULL, NULL );
			if ( rc == LDAP_INVALID_CREDENTIALS ) {
				if ( !uri2 )
					refused++;
				delay[nd++] = ( now() - t0 ) * 1000;
				break;
			}
			if ( rc != LDAP_SUCCESS ) {
				note_error( "logon after revocation", rc, NULL );
				errors++;
				break;
			}
			if ( !uri2 )
				break;	/* accepted: the revocation did not hold */
			if ( now() - t0 > 10 ) {
				timeouts++;
				break;
			}
		}
		/* the connection opened before: is a re-bind on it refused now? */
		rc = bind_external( ldo );
		if ( rc == LDAP_INVALID_CREDENTIALS )
			open_refused++;
		else if ( rc != LDAP_SUCCESS ) {
			note_error( "re-bind on the open connection after revocation", rc, ldo );
			errors++;
		}
next:
		if ( ldo )
			ldap_unbind_ext( ldo, NULL, NULL );
		ldap_pvt_tls_ctx_free( ctx1 );
		if ( ctx2 )
			ldap_pvt_tls_ctx_free( ctx2 );
		OPENSSL_free( der.bv_val );
	}
	ldap_unbind_ext( admin, NULL, NULL );
	qsort( delay, nd, sizeof( double ), cmp_double );
	qsort( modlat, nm, sizeof( double ), cmp_double );
	printf( "mode=%s trials=%d refused=%s%d prefail=%d errors=%d timeouts=%d "
		"delay_p50_ms=%.2f delay_p99_ms=%.2f delay_max_ms=%.2f revoke_p50_ms=%.2f "
		"open_refused=%d\n",
		uri2 ? "revoke2" : "revoke", ntrials, uri2 ? "-" : "", uri2 ? 0 : refused,
		prefail, errors, timeouts, pct( delay, nd, 50 ), pct( delay, nd, 99 ),
		nd ? delay[nd - 1] : NAN, pct( modlat, nm, 50 ), open_refused );
	if ( first_error[0] )
		fprintf( stderr, "loadgen: first error: %s\n", first_error );
	return prefail || errors || timeouts || ( !uri2 && refused != ntrials );
}

/* ---- main -------------------------------------------------------------- */

int
main( int argc, char **argv )
{
	const char *mode;
	void *( *fn )( void * ) = NULL;
	worker *w;
	pthread_t *tid;
	long errors = 0, i;
	double *all;
	int opt, k;

	if ( argc < 2 )
		die( "%s", "usage: loadgen rebind|logon|revoke|issue|issuefor|issuebulk|modify [options] (see loadgen.c)" );
	mode = argv[1];
	optind = 2;
	while ( ( opt = getopt( argc, argv, "H:A:k:l:t:d:w:n:R:B:C:K:s:a:b:D:P:" ) ) != -1 ) {
		switch ( opt ) {
		case 'H': uri = optarg; break;
		case 'A': cafile = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'l': listfile = optarg; break;
		case 't': nthreads = atoi( optarg ); break;
		case 'd': duration = atof( optarg ); break;
		case 'w': warmup = atof( optarg ); break;
		case 'n': ntrials = atoi( optarg ); break;
		case 'R': adminuri = optarg; break;
		case 'D': admindn = optarg; break;
		case 'P': adminpw = optarg; break;
		case 'B': uri2 = optarg; break;
		case 'C': uri3 = optarg; break;
		case 'a': revattr = optarg; break;
		case 'K': kind = optarg; break;
		case 's': slice_ms = atof( optarg ); break;
		case 'b': nbulk = atoi( optarg ); break;
		default: die( "%s", "bad option" );
		}
	}
	if ( !uri || !cafile || !keyfile || !listfile || nthreads < 1 || duration <= 0 )
		die( "%s", "-H, -A, -k and -l are required" );

	if ( strcmp( mode, "revoke" ) == 0 ) {
		if ( !adminuri )
			die( "%s", "revoke needs -R" );
		load_samples( 0, 0 );
		return run_revoke();
	} else if ( strcmp( mode, "rebind" ) == 0 ) {
		fn = run_rebind;
		load_samples( nthreads, 0 );
	} else if ( strcmp( mode, "logon" ) == 0 ) {
		fn = run_logon;
		load_samples( 64, 0 );
	} else if ( strcmp( mode, "issue" ) == 0 ) {
		fn = run_issue;
		load_samples( 1, 0 );
		make_csr();
	} else if ( strcmp( mode, "issuefor" ) == 0 ) {
		if ( !adminuri )
			die( "%s", "issuefor needs -R" );
		fn = run_issuefor;
		load_samples( 0, 0 );
		make_csr();
	} else if ( strcmp( mode, "issuebulk" ) == 0 ) {
		if ( !adminuri || nbulk < 1 )
			die( "%s", "issuebulk needs -R and -b N (N >= 1)" );
		fn = run_issuebulk;
		load_samples( 0, 0 );
		make_csr_pool( nbulk );
	} else if ( strcmp( mode, "modify" ) == 0 ) {
		if ( !adminuri )
			die( "%s", "modify needs -R" );
		fn = run_modify;
		load_samples( 0, 0 );
	} else {
		die( "unknown mode %s", mode );
	}
	nctx = nsamples < 64 ? nsamples : 64;
	if ( fn == run_rebind && nctx > nthreads )
		nctx = nthreads;

	if ( uri2 && ( fn == run_issue || fn == run_issuefor || fn == run_issuebulk || fn == run_modify ) )
		die( "%s", "-B is for rebind, logon and revoke" );
	if ( uri3 && !uri2 )
		die( "%s", "-C needs -B" );
	nserv = uri3 ? 3 : uri2 ? 2 : 1;
	if ( uri2 ) {
		/* whole ABBA (ABCCBA) groups of slices */
		long groups = (long)ceil( duration * 1000 / ( 2 * nserv * slice_ms ) );

		duration = groups * 2 * nserv * slice_ms / 1000;
	}
	w = calloc( 3 * nthreads, sizeof( worker ) );
	tid = calloc( nthreads, sizeof( pthread_t ) );
	pthread_barrier_init( &barrier, NULL, nthreads + 1 );
	t_start = t_end = 1e300;
	for ( i = 0; i < nthreads; i++ ) {
		w[i].id = i;
		w[i].pair[0] = &w[nthreads + i];
		w[i].pair[1] = &w[2 * nthreads + i];
		w[nthreads + i].id = w[2 * nthreads + i].id = i;
		if ( pthread_create( &tid[i], NULL, fn, &w[i] ) )
			die( "%s", "cannot start a thread" );
	}
	t_start = now() + warmup;
	t_end = t_start + duration;
	pthread_barrier_wait( &barrier );
	for ( i = 0; i < nthreads; i++ )
		pthread_join( tid[i], NULL );
	all = malloc( 1 );
	for ( k = 0; k < nserv; k++ ) {
		long ops = 0, errors_k = 0, nlat = 0;
		double last = 0, secs;

		for ( i = k * nthreads; i < ( k + 1 ) * nthreads; i++ ) {
			ops += w[i].ops;
			errors_k += w[i].errors;
			nlat += w[i].nlat;
			if ( w[i].last > last )
				last = w[i].last;
		}
		errors += errors_k;
		all = realloc( all, ( nlat + 1 ) * sizeof( double ) );
		for ( nlat = 0, i = k * nthreads; i < ( k + 1 ) * nthreads; i++ ) {
			memcpy( all + nlat, w[i].lat, w[i].nlat * sizeof( double ) );
			nlat += w[i].nlat;
		}
		qsort( all, nlat, sizeof( double ), cmp_double );
		/* in pair mode each server had its share of the measured time */
		secs = uri2 ? duration / nserv : ( last > t_start ? last - t_start : 0 );
		printf( "%smode=%s threads=%d ops=%ld secs=%.3f rate=%.1f p50_ms=%.3f p99_ms=%.3f errors=%ld\n",
			uri2 ? ( k == 2 ? "C " : k ? "B " : "A " ) : "", mode, nthreads, ops, secs,
			secs > 0 ? ops / secs : 0, pct( all, nlat, 50 ), pct( all, nlat, 99 ), errors_k );
	}
	if ( uri2 ) {
		/* each ABBA (ABCCBA) group of slices gives one ratio per pair of
		 * servers; their median resists bursts of other load better than
		 * the totals do */
		long g, gl = 2 * nserv, ng = (long)( duration * 1000 / slice_ms + 0.5 ) / gl, n = 0;
		double *r[6];
		static const char *rname[6] = { "b_over_a", "a_over_b", "c_over_a", "a_over_c",
			"c_over_b", "b_over_c" };
		int j, nr = nserv == 3 ? 6 : 2;

		for ( j = 0; j < 6; j++ )
			r[j] = calloc( ng + 1, sizeof( double ) );
		for ( g = 0; g < ng && gl * g + gl - 1 < MAX_SLICES; g++ ) {
			double o[3] = { 0, 0, 0 };

			/* server s has slices s and gl-1-s of the group */
			for ( k = 0; k < nserv; k++ )
				o[k] = slice_ops[gl * g + k] + slice_ops[gl * g + gl - 1 - k];
			if ( o[0] > 0 && o[1] > 0 && ( nserv < 3 || o[2] > 0 ) ) {
				r[0][n] = o[1] / o[0];
				r[1][n] = o[0] / o[1];
				if ( nserv == 3 ) {
					r[2][n] = o[2] / o[0];
					r[3][n] = o[0] / o[2];
					r[4][n] = o[2] / o[1];
					r[5][n] = o[1] / o[2];
				}
				n++;
			}
		}
		printf( "P groups=%ld", n );
		for ( j = 0; j < nr; j++ ) {
			qsort( r[j], n, sizeof( double ), cmp_double );
			printf( " %s=%.4f", rname[j], pct( r[j], n, 50 ) );
		}
		printf( "\n" );
	}
	if ( first_error[0] )
		fprintf( stderr, "loadgen: first error: %s\n", first_error );
	return errors > 0;
}
