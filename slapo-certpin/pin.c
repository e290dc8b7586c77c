/* pin.c - certpin's PINs: hashing, policy, lockout, never readable
 *
 * A user's PIN proves the user, together with the user's phone number,
 * when a device asks for a certificate anonymously (provision.c), as
 * Lync's PhoneNo\PIN does.
 *   - certpinPIN is set by administrators (the root DN of the user's
 *     database, or members of certpin-admin-group) with an ordinary add or
 *     modify; the overlay checks the policy (minimum length, digits only)
 *     and stores only a hash made with one of slapd's password schemes
 *     (certpin-pin-hash, default {SSHA}).
 *   - certpinPIN is never readable, searchable or comparable, by anyone,
 *     the root DN included, by any path (search, filters, assertions,
 *     compare, pre/post-read, matched values, persistent and sync
 *     searches, other overlays' entries): certpin_access(), the overlay's
 *     bi_access_allowed on the frontend and on every database, denies it
 *     before slapd's root-DN bypass.  The one exception is the replication
 *     identity (certpin-replicator, default the database's root DN) on a
 *     search carrying the sync control.  Accesslog's reqMod/reqOld values
 *     that record a PIN are hidden the same way.
 *   - Wrong PINs are recorded in certpinPINFailure (times); after
 *     certpin-pin-max-failures within certpin-pin-failure-window seconds
 *     the PIN is locked until the window passes or an administrator
 *     deletes certpinPINFailure.
 *   - Phone numbers compare by their digits only and must name exactly one
 *     user; an unknown phone and a wrong PIN get the same answer.
 */

#include "certpin.h"

#include <ac/string.h>
#include <ac/ctype.h>
#include <sys/time.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>

#include "lutil.h"
#include "cfgval.h"

#define CP_PIN_DEFAULT_HASH	"{SSHA}"
#define CP_PIN_DEFAULT_MINLEN	6
#define CP_PIN_MAXLEN		64
#define CP_PIN_DEFAULT_MAXFAIL	5
#define CP_PIN_DEFAULT_WINDOW	900
#define CP_PIN_DEFAULT_PHONE	"telephoneNumber"
#define CP_PHONE_MAXLEN		32
#define CP_PIN_MAXHISTORY	24
#define CP_PIN_MAXLIFETIME	3650	/* days */

typedef struct cp_pin {
	char		*pp_hash;	/* password scheme, e.g. {SSHA} */
	int		pp_minlen;	/* shortest PIN accepted */
	int		pp_digits;	/* PINs are digits only */
	int		pp_maxfail;	/* wrong PINs that lock */
	int		pp_window;	/* seconds wrong PINs are remembered */
	AttributeDescription *pp_phone;	/* the users' phone numbers */
	struct berval	pp_dummy;	/* verified against for unknown phones */
	int		pp_common;	/* allow common patterns */
	int		pp_history;	/* hashes of the last PINs refused on reuse */
	int		pp_lifetime;	/* days a PIN proves the user, 0 forever */
	BerVarray	pp_repl;	/* certpin-replicator DNs, or NULL */
	BerVarray	pp_nrepl;	/* the same, normalized */
	ldap_pvt_thread_mutex_t pp_mutex; /* one proof at a time */
} cp_pin;

static cp_pin *
cp_pin_get( Operation *op )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;

	return ci->ci_pin;
}

/* ---- configuration ----------------------------------------------------- */

enum {
	CP_PIN_HASH = 1,
	CP_PIN_MINLEN,
	CP_PIN_DIGITS,
	CP_PIN_MAXFAIL,
	CP_PIN_WINDOW,
	CP_PIN_PHONE,
	CP_PIN_REPL,
	CP_PIN_COMMON,
	CP_PIN_HISTORY,
	CP_PIN_LIFETIME
};

/* The users' phone attribute: certpin-pin-phone-attribute, or the default
 * once its schema is defined (NULL until then). */
static AttributeDescription *
cp_pin_phone( cp_pin *pp )
{
	AttributeDescription *ad = __atomic_load_n( &pp->pp_phone, __ATOMIC_ACQUIRE );
	const char *text;

	if ( ad == NULL && slap_str2ad( CP_PIN_DEFAULT_PHONE, &ad, &text ) == 0 )
		__atomic_store_n( &pp->pp_phone, ad, __ATOMIC_RELEASE );
	return ad;
}

static int
certpin_pin_cf( ConfigArgs *c )
{
	slap_overinst *on = (slap_overinst *)c->bi;
	certpin_info *ci = on->on_bi.bi_private;
	cp_pin *pp = ci->ci_pin;
	int lo = 0, hi = 0, *ip = NULL, rc;
	char msg[sizeof( c->cr_msg )];

	switch ( c->op ) {
	case SLAP_CONFIG_EMIT:
		switch ( c->type ) {
		case CP_PIN_HASH:
			c->value_string = ch_strdup( pp->pp_hash );
			break;
		case CP_PIN_MINLEN: c->value_int = pp->pp_minlen; break;
		case CP_PIN_DIGITS: c->value_int = pp->pp_digits; break;
		case CP_PIN_MAXFAIL: c->value_int = pp->pp_maxfail; break;
		case CP_PIN_WINDOW: c->value_int = pp->pp_window; break;
		case CP_PIN_PHONE:
			if ( ( c->value_ad = cp_pin_phone( pp ) ) == NULL )
				return 1;	/* the default, not defined yet */
			break;
		case CP_PIN_COMMON: c->value_int = pp->pp_common; break;
		case CP_PIN_HISTORY: c->value_int = pp->pp_history; break;
		case CP_PIN_LIFETIME: c->value_int = pp->pp_lifetime; break;
		case CP_PIN_REPL:
			if ( pp->pp_repl == NULL )
				return 1;
			value_add( &c->rvalue_vals, pp->pp_repl );
			value_add( &c->rvalue_nvals, pp->pp_nrepl );
			break;
		}
		return 0;
	case LDAP_MOD_DELETE:
		switch ( c->type ) {
		case CP_PIN_HASH:
			ch_free( pp->pp_hash );
			pp->pp_hash = ch_strdup( CP_PIN_DEFAULT_HASH );
			break;
		case CP_PIN_MINLEN: pp->pp_minlen = CP_PIN_DEFAULT_MINLEN; break;
		case CP_PIN_DIGITS: pp->pp_digits = 1; break;
		case CP_PIN_MAXFAIL: pp->pp_maxfail = CP_PIN_DEFAULT_MAXFAIL; break;
		case CP_PIN_WINDOW: pp->pp_window = CP_PIN_DEFAULT_WINDOW; break;
		case CP_PIN_PHONE:
			slap_str2ad( CP_PIN_DEFAULT_PHONE, &pp->pp_phone, &(const char *){ NULL } );
			break;
		case CP_PIN_COMMON: pp->pp_common = 0; break;
		case CP_PIN_HISTORY: pp->pp_history = 0; break;
		case CP_PIN_LIFETIME: pp->pp_lifetime = 0; break;
		case CP_PIN_REPL:
			if ( c->valx < 0 || pp->pp_repl == NULL ) {
				ber_bvarray_free( pp->pp_repl );
				ber_bvarray_free( pp->pp_nrepl );
				pp->pp_repl = pp->pp_nrepl = NULL;
			} else {
				int i = c->valx, n;

				for ( n = 0; pp->pp_repl[n].bv_val; n++ )
					;
				if ( i >= n )
					break;
				ber_memfree( pp->pp_repl[i].bv_val );
				ber_memfree( pp->pp_nrepl[i].bv_val );
				for ( ; i < n; i++ ) {
					pp->pp_repl[i] = pp->pp_repl[i + 1];
					pp->pp_nrepl[i] = pp->pp_nrepl[i + 1];
				}
				if ( n == 1 ) {
					ber_bvarray_free( pp->pp_repl );
					ber_bvarray_free( pp->pp_nrepl );
					pp->pp_repl = pp->pp_nrepl = NULL;
				}
			}
			break;
		}
		return 0;
	}

	switch ( c->type ) {
	case CP_PIN_HASH:
		/* the value's check: lib/cfgval.c (fuzz/fuzz-cfgval.c) */
		if ( certpin_cfg_pin_scheme( c->argv[0], c->value_string,
				lutil_passwd_scheme( c->value_string ) != 0,
				msg, sizeof( msg ) ) )
			rc = certpin_cf_error( c, "%s", msg );
		else
			rc = 0;
		if ( rc ) {
			ch_free( c->value_string );
			c->value_string = NULL;
			return rc;
		}
		ch_free( pp->pp_hash );
		pp->pp_hash = c->value_string;
		c->value_string = NULL;
		if ( pp->pp_dummy.bv_val ) {
			ber_memfree( pp->pp_dummy.bv_val );
			BER_BVZERO( &pp->pp_dummy );
		}
		return 0;
	case CP_PIN_PHONE:
		pp->pp_phone = c->value_ad;
		return 0;
	case CP_PIN_REPL:
		ber_bvarray_add( &pp->pp_repl, &c->value_dn );
		ber_bvarray_add( &pp->pp_nrepl, &c->value_ndn );
		BER_BVZERO( &c->value_dn );
		BER_BVZERO( &c->value_ndn );
		return 0;
	case CP_PIN_DIGITS:
		pp->pp_digits = c->value_int;
		return 0;
	case CP_PIN_COMMON:
		pp->pp_common = c->value_int;
		return 0;
	case CP_PIN_HISTORY:
		lo = 0; hi = CP_PIN_MAXHISTORY; ip = &pp->pp_history;
		break;
	case CP_PIN_LIFETIME:
		return certpin_cf_int( c, 0, CP_PIN_MAXLIFETIME, "days", &pp->pp_lifetime );
	case CP_PIN_MINLEN:
		lo = 4; hi = CP_PIN_MAXLEN; ip = &pp->pp_minlen;
		break;
	case CP_PIN_MAXFAIL:
		lo = 1; hi = 1000; ip = &pp->pp_maxfail;
		break;
	case CP_PIN_WINDOW:
		lo = 1; hi = 31 * 86400; ip = &pp->pp_window;
		break;
	}
	return certpin_cf_int( c, lo, hi, NULL, ip );
}

ConfigTable certpin_pin_cfg[] = {
	{ "certpin-pin-hash", "scheme", 2, 2, 0,
	  ARG_STRING|ARG_MAGIC|CP_PIN_HASH, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".40 NAME 'olcCertpinPINHash' "
	  "DESC 'Password scheme PINs are stored with, e.g. {SSHA} or {ARGON2}' "
	  "EQUALITY caseIgnoreMatch "
	  "SYNTAX OMsDirectoryString SINGLE-VALUE )", NULL, NULL },
	{ "certpin-pin-min-length", "length", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_PIN_MINLEN, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".41 NAME 'olcCertpinPINMinLength' "
	  "DESC 'Shortest PIN accepted' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ "certpin-pin-digits-only", "on|off", 2, 2, 0,
	  ARG_ON_OFF|ARG_MAGIC|CP_PIN_DIGITS, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".42 NAME 'olcCertpinPINDigitsOnly' "
	  "DESC 'PINs consist of digits only' "
	  "EQUALITY booleanMatch "
	  "SYNTAX OMsBoolean SINGLE-VALUE )", NULL, NULL },
	{ "certpin-pin-max-failures", "count", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_PIN_MAXFAIL, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".43 NAME 'olcCertpinPINMaxFailures' "
	  "DESC 'Wrong PINs within the window that lock the PIN' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ "certpin-pin-failure-window", "seconds", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_PIN_WINDOW, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".44 NAME 'olcCertpinPINFailureWindow' "
	  "DESC 'Seconds a wrong PIN is remembered' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ "certpin-phone-attribute", "attribute", 2, 2, 0,
	  ARG_ATDESC|ARG_MAGIC|CP_PIN_PHONE, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".45 NAME 'olcCertpinPhoneAttribute' "
	  "DESC 'Attribute holding the users phone numbers' "
	  "EQUALITY caseIgnoreMatch "
	  "SYNTAX OMsDirectoryString SINGLE-VALUE )", NULL, NULL },
	{ "certpin-replicator", "dn", 2, 2, 0,
	  ARG_DN|ARG_QUOTE|ARG_MAGIC|CP_PIN_REPL, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".46 NAME 'olcCertpinReplicator' "
	  "DESC 'Identities whose sync searches receive the PIN hashes (default: the root DN)' "
	  "EQUALITY distinguishedNameMatch "
	  "SYNTAX OMsDN )", NULL, NULL },
	{ "certpin-pin-allow-common-patterns", "on|off", 2, 2, 0,
	  ARG_ON_OFF|ARG_MAGIC|CP_PIN_COMMON, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".47 NAME 'olcCertpinPINAllowCommonPatterns' "
	  "DESC 'Accept PINs of repeated digits, runs and the phone number' "
	  "EQUALITY booleanMatch "
	  "SYNTAX OMsBoolean SINGLE-VALUE )", NULL, NULL },
	{ "certpin-pin-history", "count", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_PIN_HISTORY, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".48 NAME 'olcCertpinPINHistory' "
	  "DESC 'Last PINs of a user refused on reuse (0: none)' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ "certpin-pin-lifetime", "days", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_PIN_LIFETIME, certpin_pin_cf,
	  "( " CERTPIN_OID_CFG_AT ".49 NAME 'olcCertpinPINLifetime' "
	  "DESC 'Days a PIN proves the user after it is set (0: forever)' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ NULL, NULL, 0, 0, 0, ARG_IGNORED }
};
const char certpin_pin_cfg_names[] = "olcCertpinPINHash $ olcCertpinPINMinLength $ "
	"olcCertpinPINDigitsOnly $ olcCertpinPINMaxFailures $ "
	"olcCertpinPINFailureWindow $ olcCertpinPhoneAttribute $ "
	"olcCertpinReplicator $ olcCertpinPINAllowCommonPatterns $ "
	"olcCertpinPINHistory $ olcCertpinPINLifetime";

int
certpin_pin_db_init( BackendDB *be, certpin_info *ci )
{
	cp_pin *pp = ch_calloc( 1, sizeof( cp_pin ) );
	const char *text = NULL;

	pp->pp_hash = ch_strdup( CP_PIN_DEFAULT_HASH );
	pp->pp_minlen = CP_PIN_DEFAULT_MINLEN;
	pp->pp_digits = 1;
	pp->pp_maxfail = CP_PIN_DEFAULT_MAXFAIL;
	pp->pp_window = CP_PIN_DEFAULT_WINDOW;
	/* The default, if its schema is loaded already; otherwise it is
	 * resolved when first needed (cp_pin_phone): cn=config may load the
	 * schema after the overlay's entry, over LDAP. */
	if ( slap_str2ad( CP_PIN_DEFAULT_PHONE, &pp->pp_phone, &text ) )
		pp->pp_phone = NULL;
	ldap_pvt_thread_mutex_init( &pp->pp_mutex );
	ci->ci_pin = pp;
	return 0;
}

int
certpin_pin_db_destroy( BackendDB *be, certpin_info *ci )
{
	cp_pin *pp = ci->ci_pin;

	if ( pp ) {
		ldap_pvt_thread_mutex_destroy( &pp->pp_mutex );
		ch_free( pp->pp_hash );
		ber_bvarray_free( pp->pp_repl );
		ber_bvarray_free( pp->pp_nrepl );
		if ( pp->pp_dummy.bv_val )
			ber_memfree( pp->pp_dummy.bv_val );
		ch_free( pp );
		ci->ci_pin = NULL;
	}
	return 0;
}

/* ---- hashing and verifying --------------------------------------------- */

/* The salted SHA schemes are verified here with a constant-time comparison
 * (slapd's own check uses memcmp); other schemes ({ARGON2}: libargon2's
 * verification is constant time) by slapd's lutil_passwd(). */
static const struct {
	const char	*scheme;
	const char	*md;
} cp_ssha[] = {
	{ "{SSHA}", "SHA1" },
	{ "{SSHA256}", "SHA256" },
	{ "{SSHA384}", "SHA384" },
	{ "{SSHA512}", "SHA512" },
	{ NULL, NULL }
};

/* Does pin match the stored hash?  1 yes, 0 no. */
static int
cp_pin_verify( struct berval *stored, struct berval *pin )
{
	const char *text = NULL;
	int i;

	for ( i = 0; cp_ssha[i].scheme; i++ ) {
		size_t sl = strlen( cp_ssha[i].scheme );
		unsigned char raw[256], md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		const EVP_MD *type;
		EVP_MD_CTX *ctx;
		char b64[sizeof( raw ) * 4 / 3 + 8];
		int n, ok;

		if ( stored->bv_len <= sl ||
		     strncasecmp( stored->bv_val, cp_ssha[i].scheme, sl ) != 0 )
			continue;
		type = EVP_get_digestbyname( cp_ssha[i].md );
		if ( type == NULL || stored->bv_len - sl >= sizeof( b64 ) )
			return 0;
		memcpy( b64, stored->bv_val + sl, stored->bv_len - sl );
		b64[stored->bv_len - sl] = '\0';
		n = lutil_b64_pton( b64, raw, sizeof( raw ) );
		if ( n <= EVP_MD_get_size( type ) )
			return 0;
		ctx = EVP_MD_CTX_new();
		ok = ctx && EVP_DigestInit_ex( ctx, type, NULL ) &&
			EVP_DigestUpdate( ctx, pin->bv_val, pin->bv_len ) &&
			EVP_DigestUpdate( ctx, raw + EVP_MD_get_size( type ),
				n - EVP_MD_get_size( type ) ) &&
			EVP_DigestFinal_ex( ctx, md, &mdlen );
		EVP_MD_CTX_free( ctx );
		return ok && mdlen == (unsigned)EVP_MD_get_size( type ) &&
			CRYPTO_memcmp( md, raw, mdlen ) == 0;
	}
	return lutil_passwd( stored, pin, NULL, &text ) == 0;
}

/* The policy: NULL when pin is acceptable, else why not. */
static const char *
cp_pin_policy( cp_pin *pp, struct berval *pin, char *buf, size_t len )
{
	ber_len_t i;

	if ( pin->bv_len < (ber_len_t)pp->pp_minlen ) {
		snprintf( buf, len, "certpinPIN: a PIN must have at least %d "
			"characters (certpin-pin-min-length)", pp->pp_minlen );
		return buf;
	}
	if ( pin->bv_len > CP_PIN_MAXLEN ) {
		snprintf( buf, len, "certpinPIN: a PIN must have at most %d characters",
			CP_PIN_MAXLEN );
		return buf;
	}
	for ( i = 0; i < pin->bv_len; i++ ) {
		unsigned char ch = pin->bv_val[i];

		if ( pp->pp_digits && !( ch >= '0' && ch <= '9' ) ) {
			snprintf( buf, len, "certpinPIN: a PIN must consist of digits "
				"only (certpin-pin-digits-only)" );
			return buf;
		}
		if ( ch < 0x20 || ch > 0x7e ) {
			snprintf( buf, len, "certpinPIN: a PIN must consist of "
				"printable ASCII characters" );
			return buf;
		}
	}
	return NULL;
}

/* Check pin against the policy and hash it into *hash (ber_memalloc'd). */
static int
cp_pin_hash( Operation *op, cp_pin *pp, struct berval *pin, struct berval *hash,
	char *err, size_t errlen )
{
	const char *text = NULL;

	if ( cp_pin_policy( pp, pin, err, errlen ) )
		return LDAP_CONSTRAINT_VIOLATION;
	BER_BVZERO( hash );
	slap_passwd_hash_type( pin, hash, pp->pp_hash, &text );
	if ( BER_BVISNULL( hash ) ) {
		snprintf( err, errlen, "certpinPIN: hashing with %s failed%s%s",
			pp->pp_hash, text ? ": " : "", text ? text : "" );
		return LDAP_OTHER;
	}
	/* some schemes' modules (argon2) count the terminating NUL and
	 * unwritten bytes after it: the hash is the string */
	hash->bv_len = strnlen( hash->bv_val, hash->bv_len );
	return LDAP_SUCCESS;
}

/* ---- who may set PINs and unlock --------------------------------------- */

static int
cp_pin_admin( Operation *op )
{
	BackendDB *db = certpin_select_db( op, &op->o_req_ndn );

	return db != NULL && certpin_is_admin( op, db );
}

int
certpin_pin_may_unlock( Operation *op )
{
	return cp_pin_admin( op );
}

/* ---- what a new PIN is checked against ----------------------------------- */

/* The PIN state only the overlay writes (certpinPINLock: administrators,
 * recorded by the overlay; certpinPINFailure: write.c). */
static int
cp_pin_maintained( AttributeType *at )
{
	return at == ad_certpinPINChanged->ad_type || at == ad_certpinPINExpires->ad_type ||
		at == ad_certpinPINHistory->ad_type || at == ad_certpinPINLockout->ad_type;
}

#define CP_PRIOR_PHONES	8

/* What the entry holds before the write: the user's phone numbers (digits),
 * the current hash and the history ("time$hash" values).  ch_ memory. */
typedef struct cp_prior {
	char		pr_phone[CP_PRIOR_PHONES][CP_PHONE_MAXLEN + 1];
	int		pr_nphone;
	struct berval	pr_cur;
	BerVarray	pr_hist;
} cp_prior;

static int cp_phone_digits( const char *s, size_t len, char out[CP_PHONE_MAXLEN + 1] );

static void
cp_prior_phones( cp_prior *pr, BerVarray vals )
{
	int i;

	for ( i = 0; vals && vals[i].bv_val && pr->pr_nphone < CP_PRIOR_PHONES; i++ )
		if ( cp_phone_digits( vals[i].bv_val, vals[i].bv_len,
			pr->pr_phone[pr->pr_nphone] ) >= 4 )
			pr->pr_nphone++;
}

static void
cp_prior_load( cp_pin *pp, Entry *e, cp_prior *pr )
{
	Attribute *a;

	if ( e == NULL )
		return;
	if ( cp_pin_phone( pp ) &&
	     ( a = attr_find( e->e_attrs, cp_pin_phone( pp ) ) ) != NULL )
		cp_prior_phones( pr, a->a_vals );
	if ( ( a = attr_find( e->e_attrs, ad_certpinPIN ) ) != NULL && a->a_numvals == 1 )
		ber_dupbv( &pr->pr_cur, &a->a_vals[0] );
	if ( ( a = attr_find( e->e_attrs, ad_certpinPINHistory ) ) != NULL )
		ber_bvarray_dup_x( &pr->pr_hist, a->a_vals, NULL );
}

static void
cp_prior_free( cp_prior *pr )
{
	ber_memfree( pr->pr_cur.bv_val );
	ber_bvarray_free( pr->pr_hist );
	memset( pr, 0, sizeof( *pr ) );
}

/* The hash inside a history value "time$hash". */
static int
cp_hist_hash( struct berval *v, struct berval *hash )
{
	char *p = memchr( v->bv_val, '$', v->bv_len );

	if ( p == NULL )
		return -1;
	hash->bv_val = p + 1;
	hash->bv_len = v->bv_len - ( p + 1 - v->bv_val );
	return 0;
}

/* Common patterns (Lync's AllowCommonPatterns): NULL, or why pin is one. */
static const char *
cp_pin_common( cp_prior *pr, struct berval *pin )
{
	ber_len_t i, n = pin->bv_len;
	const char *s = pin->bv_val;
	int p, up = 1, down = 1, digits = 1;

	for ( p = 1; p <= 3 && 2 * (ber_len_t)p <= n; p++ ) {
		for ( i = p; i < n && s[i] == s[i - p]; i++ )
			;
		if ( i == n )
			return p == 1 ? "repeats one character" : "repeats a short pattern";
	}
	for ( i = 0; i < n; i++ )
		if ( s[i] < '0' || s[i] > '9' )
			digits = 0;
	for ( i = 1; digits && i < n; i++ ) {
		int d = s[i] - '0', prev = s[i - 1] - '0';

		if ( d != ( prev + 1 ) % 10 )
			up = 0;
		if ( d != ( prev + 9 ) % 10 )
			down = 0;
	}
	if ( digits && up )
		return "is an ascending run of digits";
	if ( digits && down )
		return "is a descending run of digits";
	for ( p = 0; p < pr->pr_nphone; p++ ) {
		size_t pl = strlen( pr->pr_phone[p] );

		if ( pl >= n && memcmp( pr->pr_phone[p] + pl - n, s, n ) == 0 )
			return "is the user's phone number or its last digits";
	}
	return NULL;
}

/* Check a new PIN against the policy, the common patterns and the
 * history.  The messages say which rule, never the PIN. */
static int
cp_pin_check_new( cp_pin *pp, cp_prior *pr, struct berval *pin, char *err,
	size_t errlen )
{
	const char *why;
	int i;

	if ( cp_pin_policy( pp, pin, err, errlen ) )
		return LDAP_CONSTRAINT_VIOLATION;
	if ( !pp->pp_common && ( why = cp_pin_common( pr, pin ) ) != NULL ) {
		snprintf( err, errlen, "certpinPIN: the PIN %s, a common pattern "
			"(certpin-pin-allow-common-patterns)", why );
		return LDAP_CONSTRAINT_VIOLATION;
	}
	if ( pp->pp_history == 0 )
		return LDAP_SUCCESS;
	if ( pr->pr_cur.bv_val && cp_pin_verify( &pr->pr_cur, pin ) )
		goto used;
	for ( i = 0; pr->pr_hist && pr->pr_hist[i].bv_val; i++ ) {
		struct berval h;

		if ( cp_hist_hash( &pr->pr_hist[i], &h ) == 0 && cp_pin_verify( &h, pin ) )
			goto used;
	}
	return LDAP_SUCCESS;
used:
	snprintf( err, errlen, "certpinPIN: the PIN is one of the user's last %d "
		"(certpin-pin-history)", pp->pp_history );
	return LDAP_CONSTRAINT_VIOLATION;
}

/* The values of the maintained attributes after the PIN hash was set
 * (hash NULL: the PIN was removed).  Each *vp NULL means "none". */
static void
cp_pin_state( cp_pin *pp, cp_prior *pr, struct berval *hash, BerVarray *changed,
	BerVarray *expires, BerVarray *hist )
{
	char gt[CERTPIN_GENTIME_LEN + 1];
	time_t now = slap_get_time();
	int i, n;

	*changed = *expires = *hist = NULL;
	if ( hash == NULL ) {
		/* removing the PIN keeps its history */
		if ( pp->pp_history && pr->pr_hist )
			ber_bvarray_dup_x( hist, pr->pr_hist, NULL );
		return;
	}
	certpin_gentime( now, gt );
	value_add_one( changed, &(struct berval){ strlen( gt ), gt } );
	if ( pp->pp_lifetime > 0 ) {
		char ex[CERTPIN_GENTIME_LEN + 1];

		certpin_gentime( now + (time_t)pp->pp_lifetime * 86400, ex );
		value_add_one( expires, &(struct berval){ strlen( ex ), ex } );
	}
	if ( pp->pp_history == 0 )
		return;
	{
		struct berval v;

		v.bv_len = strlen( gt ) + 1 + hash->bv_len;
		v.bv_val = ch_malloc( v.bv_len + 1 );
		snprintf( v.bv_val, v.bv_len + 1, "%s$%.*s", gt, (int)hash->bv_len,
			hash->bv_val );
		ber_bvarray_add( hist, &v );
	}
	/* the values are kept newest first (slapd keeps the order of an
	 * attribute's values; the time is for people, two PINs may share a
	 * second) */
	for ( n = 0; pr->pr_hist && pr->pr_hist[n].bv_val; n++ )
		;
	for ( i = 0; i < n && i + 1 < pp->pp_history; i++ )
		value_add_one( hist, &pr->pr_hist[i] );
}

/* Append internal modifications of the maintained attributes to op. */
static void
cp_pin_state_mods( Operation *op, cp_pin *pp, cp_prior *pr, struct berval *hash )
{
	BerVarray changed, expires, hist;
	Modifications **mp;

	cp_pin_state( pp, pr, hash, &changed, &expires, &hist );
	for ( mp = &op->orm_modlist; *mp; mp = &(*mp)->sml_next )
		;
	*mp = certpin_mod_new( LDAP_MOD_REPLACE, ad_certpinPINChanged, changed );
	mp = &(*mp)->sml_next;
	*mp = certpin_mod_new( LDAP_MOD_REPLACE, ad_certpinPINExpires, expires );
	mp = &(*mp)->sml_next;
	if ( hist || pr->pr_hist )
		*mp = certpin_mod_new( LDAP_MOD_REPLACE, ad_certpinPINHistory, hist );
}

/* An administrator's lock: the value given is the reason; the stored
 * value records when and by whom. */
static int
cp_pin_lock_value( Operation *op, BerVarray vals, BerVarray nvals, char *err,
	size_t errlen )
{
	char gt[CERTPIN_GENTIME_LEN + 1], *buf = NULL;
	size_t len = 0;
	ber_len_t i;

	if ( vals == NULL || vals[0].bv_val == NULL || vals[1].bv_val != NULL ) {
		snprintf( err, errlen, "certpinPINLock: exactly one value (the reason) "
			"must be given" );
		return LDAP_CONSTRAINT_VIOLATION;
	}
	if ( vals[0].bv_len > 256 ) {
		snprintf( err, errlen, "certpinPINLock: the reason is longer than 256 "
			"characters" );
		return LDAP_CONSTRAINT_VIOLATION;
	}
	for ( i = 0; i < vals[0].bv_len; i++ ) {
		if ( (unsigned char)vals[0].bv_val[i] < 0x20 || vals[0].bv_val[i] == 0x7f ) {
			snprintf( err, errlen, "certpinPINLock: the reason holds a "
				"control character" );
			return LDAP_CONSTRAINT_VIOLATION;
		}
	}
	certpin_gentime( slap_get_time(), gt );
	if ( certpin_rec_add( &buf, &len, "time", gt ) ||
	     certpin_rec_add( &buf, &len, "by", BER_BVISEMPTY( &op->o_ndn ) ?
		"anonymous" : op->o_ndn.bv_val ) ||
	     certpin_rec_add( &buf, &len, "reason", vals[0].bv_val ) ) {
		free( buf );
		snprintf( err, errlen, "certpinPINLock: out of memory" );
		return LDAP_OTHER;
	}
	ber_memfree( vals[0].bv_val );
	ber_str2bv( buf, len, 1, &vals[0] );
	if ( nvals && nvals != vals ) {
		ber_memfree( nvals[0].bv_val );
		ber_dupbv( &nvals[0], &vals[0] );
	}
	free( buf );
	return LDAP_SUCCESS;
}

/* Replace the value of a certpinPIN add/replace with its hash. */
static int
cp_pin_hash_vals( Operation *op, cp_pin *pp, cp_prior *pr, BerVarray vals,
	BerVarray nvals, struct berval *hashp, char *err, size_t errlen )
{
	struct berval hash;
	int rc;

	if ( vals == NULL || vals[0].bv_val == NULL || vals[1].bv_val != NULL ) {
		snprintf( err, errlen, "certpinPIN: exactly one PIN must be given" );
		return LDAP_CONSTRAINT_VIOLATION;
	}
	rc = cp_pin_check_new( pp, pr, &vals[0], err, errlen );
	if ( rc == LDAP_SUCCESS )
		rc = cp_pin_hash( op, pp, &vals[0], &hash, err, errlen );
	if ( rc != LDAP_SUCCESS )
		return rc;
	if ( nvals && nvals != vals ) {
		ber_memfree( nvals[0].bv_val );
		ber_dupbv( &nvals[0], &hash );
	}
	/* wipe the clear PIN from memory */
	memset( vals[0].bv_val, 0, vals[0].bv_len );
	ber_memfree( vals[0].bv_val );
	vals[0] = hash;
	*hashp = hash;
	return LDAP_SUCCESS;
}

int
certpin_pin_add( Operation *op, SlapReply *rs )
{
	cp_pin *pp = cp_pin_get( op );
	Entry *e = op->ora_e;
	Attribute *a;
	cp_prior pr;
	struct berval hash = BER_BVNULL;
	char err[SLAP_TEXT_BUFLEN];
	int rc, admin = -1;

	memset( &pr, 0, sizeof( pr ) );
	for ( a = e->e_attrs; a; a = a->a_next ) {
		if ( cp_pin_maintained( a->a_desc->ad_type ) ) {
			snprintf( err, sizeof( err ), "%s is maintained by the certpin "
				"overlay and cannot be written", a->a_desc->ad_cname.bv_val );
			return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION, err );
		}
		if ( a->a_desc->ad_type != ad_certpinPIN->ad_type &&
		     a->a_desc->ad_type != ad_certpinPINLock->ad_type )
			continue;
		if ( a->a_desc != ad_certpinPIN && a->a_desc != ad_certpinPINLock )
			return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION,
				"certpinPIN and certpinPINLock take no options" );
		if ( admin < 0 )
			admin = cp_pin_admin( op );
		if ( !admin )
			return certpin_refuse( op, rs, LDAP_INSUFFICIENT_ACCESS,
				a->a_desc == ad_certpinPIN ?
				"certpinPIN is set by administrators only" :
				"certpinPINLock is set by administrators only" );
		if ( a->a_desc == ad_certpinPINLock ) {
			rc = cp_pin_lock_value( op, a->a_vals,
				a->a_nvals != a->a_vals ? a->a_nvals : NULL, err, sizeof( err ) );
			if ( rc != LDAP_SUCCESS )
				return certpin_refuse( op, rs, rc, err );
			continue;
		}
		cp_prior_load( pp, e, &pr );
		/* A new entry has no PIN before: what was loaded is the value
		 * being added, in the clear.  Wiped, not only forgotten. */
		if ( pr.pr_cur.bv_val ) {
			OPENSSL_cleanse( pr.pr_cur.bv_val, pr.pr_cur.bv_len );
			ber_memfree( pr.pr_cur.bv_val );
			BER_BVZERO( &pr.pr_cur );
		}
		rc = cp_pin_hash_vals( op, pp, &pr, a->a_vals,
			a->a_nvals != a->a_vals ? a->a_nvals : NULL, &hash,
			err, sizeof( err ) );
		if ( rc != LDAP_SUCCESS ) {
			cp_prior_free( &pr );
			return certpin_refuse( op, rs, rc, err );
		}
	}
	if ( hash.bv_val ) {
		BerVarray changed, expires, hist;

		cp_pin_state( pp, &pr, &hash, &changed, &expires, &hist );
		if ( changed )
			attr_merge_normalize( e, ad_certpinPINChanged, changed, NULL );
		if ( expires )
			attr_merge_normalize( e, ad_certpinPINExpires, expires, NULL );
		if ( hist )
			attr_merge_normalize( e, ad_certpinPINHistory, hist, NULL );
		ber_bvarray_free( changed );
		ber_bvarray_free( expires );
		ber_bvarray_free( hist );
	}
	cp_prior_free( &pr );
	return SLAP_CB_CONTINUE;
}

int
certpin_pin_modify( Operation *op, SlapReply *rs )
{
	cp_pin *pp = cp_pin_get( op );
	Modifications *m, **mp;
	cp_prior pr;
	struct berval hash = BER_BVNULL;
	char err[SLAP_TEXT_BUFLEN];
	int rc, admin = -1, loaded = 0, removed = 0, unlock = 0;

	memset( &pr, 0, sizeof( pr ) );
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		AttributeType *at = m->sml_desc->ad_type;

		if ( m->sml_flags & SLAP_MOD_INTERNAL )
			continue;
		if ( cp_pin_maintained( at ) ) {
			rc = LDAP_CONSTRAINT_VIOLATION;
			snprintf( err, sizeof( err ), "%s is maintained by the certpin "
				"overlay and cannot be written", m->sml_desc->ad_cname.bv_val );
			goto refuse;
		}
		if ( at == ad_certpinPINFailure->ad_type && m->sml_desc == ad_certpinPINFailure &&
		     m->sml_op == LDAP_MOD_DELETE && m->sml_values == NULL ) {
			/* an administrator unlocks (the write gate lets the
			 * delete through): the lockout goes with the failures */
			if ( admin < 0 )
				admin = cp_pin_admin( op );
			if ( admin )
				unlock = 1;
			continue;
		}
		if ( at != ad_certpinPIN->ad_type && at != ad_certpinPINLock->ad_type )
			continue;
		if ( m->sml_desc != ad_certpinPIN && m->sml_desc != ad_certpinPINLock ) {
			rc = LDAP_CONSTRAINT_VIOLATION;
			snprintf( err, sizeof( err ), "certpinPIN and certpinPINLock take no options" );
			goto refuse;
		}
		if ( admin < 0 )
			admin = cp_pin_admin( op );
		if ( !admin ) {
			rc = LDAP_INSUFFICIENT_ACCESS;
			snprintf( err, sizeof( err ), "%s is set by administrators only",
				m->sml_desc->ad_cname.bv_val );
			goto refuse;
		}
		switch ( m->sml_op ) {
		case LDAP_MOD_DELETE:
			if ( m->sml_values != NULL ) {
				rc = LDAP_UNWILLING_TO_PERFORM;
				snprintf( err, sizeof( err ), "%s: delete the attribute "
					"without values%s", m->sml_desc->ad_cname.bv_val,
					at == ad_certpinPIN->ad_type ?
					" (a PIN cannot be compared)" : "" );
				goto refuse;
			}
			/* removing what is not there is no error (unlock,
			 * remove a PIN twice) */
			m->sml_op = LDAP_MOD_REPLACE;
			if ( at == ad_certpinPIN->ad_type ) {
				removed = 1;
				BER_BVZERO( &hash );
			}
			continue;
		case LDAP_MOD_ADD:
		case LDAP_MOD_REPLACE:
			if ( at == ad_certpinPINLock->ad_type ) {
				rc = cp_pin_lock_value( op, m->sml_values, m->sml_nvalues,
					err, sizeof( err ) );
				if ( rc != LDAP_SUCCESS )
					goto refuse;
				m->sml_op = LDAP_MOD_REPLACE;
				continue;
			}
			if ( !loaded ) {
				BackendDB *db = certpin_select_db( op, &op->o_req_ndn );
				Entry *e = NULL;
				Modifications *pm;

				if ( db && certpin_entry_get( op, db, &op->o_req_ndn, &e ) ==
				     LDAP_SUCCESS ) {
					cp_prior_load( pp, e, &pr );
					certpin_entry_release( op, db, e );
				}
				/* phone numbers set in the same modify count too */
				for ( pm = op->orm_modlist; pm; pm = pm->sml_next )
					if ( cp_pin_phone( pp ) &&
					     pm->sml_desc->ad_type == cp_pin_phone( pp )->ad_type &&
					     pm->sml_op != LDAP_MOD_DELETE )
						cp_prior_phones( &pr, pm->sml_values );
				loaded = 1;
			}
			rc = cp_pin_hash_vals( op, pp, &pr, m->sml_values, m->sml_nvalues,
				&hash, err, sizeof( err ) );
			if ( rc != LDAP_SUCCESS )
				goto refuse;
			/* one PIN per user: setting replaces */
			m->sml_op = LDAP_MOD_REPLACE;
			removed = 0;
			break;
		default:
			rc = LDAP_UNWILLING_TO_PERFORM;
			snprintf( err, sizeof( err ), "%s: unsupported modification",
				m->sml_desc->ad_cname.bv_val );
			goto refuse;
		}
	}
	if ( hash.bv_val || removed ) {
		if ( !loaded ) {
			BackendDB *db = certpin_select_db( op, &op->o_req_ndn );
			Entry *e = NULL;

			if ( db && certpin_entry_get( op, db, &op->o_req_ndn, &e ) ==
			     LDAP_SUCCESS ) {
				cp_prior_load( pp, e, &pr );
				certpin_entry_release( op, db, e );
			}
		}
		cp_pin_state_mods( op, pp, &pr, hash.bv_val ? &hash : NULL );
	}
	if ( unlock ) {
		BackendDB *db = certpin_select_db( op, &op->o_req_ndn );
		Entry *e = NULL;
		int has = 1;

		/* unlocking an entry without failures is no error: its delete
		 * of certpinPINFailure is dropped (the modify keeps at least the
		 * lockout's replace) */
		if ( db && certpin_entry_get( op, db, &op->o_req_ndn, &e ) == LDAP_SUCCESS ) {
			has = attr_find( e->e_attrs, ad_certpinPINFailure ) != NULL;
			certpin_entry_release( op, db, e );
		}
		for ( mp = &op->orm_modlist; *mp; ) {
			m = *mp;
			if ( !has && m->sml_desc == ad_certpinPINFailure &&
			     m->sml_op == LDAP_MOD_DELETE && m->sml_values == NULL &&
			     !( m->sml_flags & SLAP_MOD_INTERNAL ) ) {
				*mp = m->sml_next;
				slap_mod_free( &m->sml_mod, 0 );
				ch_free( m );
				continue;
			}
			mp = &m->sml_next;
		}
		*mp = certpin_mod_new( LDAP_MOD_REPLACE, ad_certpinPINLockout, NULL );
	}
	cp_prior_free( &pr );
	return SLAP_CB_CONTINUE;
refuse:
	cp_prior_free( &pr );
	return certpin_refuse( op, rs, rc, err );
}

/* ---- never readable ---------------------------------------------------- */

/* Does filter f mention certpinPIN? */
static int
cp_filter_has_pin( Filter *f )
{
	AttributeDescription *ad = NULL;

	for ( ; f; f = f->f_next ) {
		switch ( f->f_choice & SLAPD_FILTER_MASK ) {
		case LDAP_FILTER_AND:
		case LDAP_FILTER_OR:
			if ( cp_filter_has_pin( f->f_list ) )
				return 1;
			continue;
		case LDAP_FILTER_NOT:
			if ( cp_filter_has_pin( f->f_not ) )
				return 1;
			continue;
		case LDAP_FILTER_PRESENT:
			ad = f->f_desc;
			break;
		case LDAP_FILTER_EQUALITY:
		case LDAP_FILTER_GE:
		case LDAP_FILTER_LE:
		case LDAP_FILTER_APPROX:
			ad = f->f_av_desc;
			break;
		case LDAP_FILTER_SUBSTRINGS:
			ad = f->f_sub_desc;
			break;
		case LDAP_FILTER_EXT:
			ad = f->f_mr_desc;
			break;
		default:
			ad = NULL;
			break;
		}
		if ( ad && ad->ad_type == ad_certpinPIN->ad_type )
			return 1;
	}
	return 0;
}

/* Client searches whose filter names certpinPIN, and compares of it, are
 * refused with a message.  This is a diagnostic, not the protection (that
 * is certpin_access, which also covers assertion controls, other overlays'
 * searches and every other path): without it a filter on certpinPIN would
 * silently match nothing, and an administrator looking for the users who
 * have a PIN would conclude that none has one. */
int
certpin_pin_search( Operation *op, SlapReply *rs )
{
	if ( cp_filter_has_pin( op->ors_filter ) )
		return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
			"certpinPIN cannot be used in search filters (it is never "
			"searchable; certpin-pin info shows who has a PIN)" );
	return SLAP_CB_CONTINUE;
}

/* The same diagnostic for compares (certpin_access denies them anyway,
 * insufficientAccess). */
int
certpin_pin_compare( Operation *op, SlapReply *rs )
{
	if ( op->orc_ava->aa_desc->ad_type == ad_certpinPIN->ad_type )
		return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
			"certpinPIN cannot be compared" );
	return SLAP_CB_CONTINUE;
}

/* ---- the access gate ----------------------------------------------------- */

/* pin.c's state of the frontend instance (the one that holds the
 * configuration), or NULL when the frontend has no certpin. */
static cp_pin *
cp_pin_frontend( void )
{
	slap_overinfo *oi;
	slap_overinst *on;

	if ( frontendDB == NULL || !overlay_is_over( frontendDB ) )
		return NULL;
	oi = frontendDB->bd_info->bi_private;
	for ( on = oi->oi_list; on; on = on->on_next ) {
		if ( strcmp( on->on_bi.bi_type, "certpin" ) == 0 ) {
			certpin_info *ci = on->on_bi.bi_private;

			return ci ? ci->ci_pin : NULL;
		}
	}
	return NULL;
}

/* Is desc accesslog's reqMod or reqOld (values "attr:op value" and
 * "attr: value")? */
static int
cp_pin_is_logattr( AttributeDescription *desc )
{
	struct berval *n = &desc->ad_type->sat_cname;

	return n->bv_len == STRLENOF( "reqMod" ) &&
		( strncasecmp( n->bv_val, "reqMod", n->bv_len ) == 0 ||
		  strncasecmp( n->bv_val, "reqOld", n->bv_len ) == 0 );
}

/* Does the logged value v ("name[;options]:...") record certpinPIN? */
static int
cp_pin_logged_value( struct berval *v )
{
	struct berval name;
	AttributeType *at;
	ber_len_t i;

	for ( i = 0; i < v->bv_len && v->bv_val[i] != ':' && v->bv_val[i] != ';'; i++ )
		;
	if ( i == v->bv_len || i == 0 )
		return 0;
	name.bv_val = v->bv_val;
	name.bv_len = i;
	at = at_bvfind( &name );
	return at != NULL && ( at == ad_certpinPIN->ad_type ||
		at == ad_certpinPINHistory->ad_type );
}

/* Does attribute desc of e hold a value that records certpinPIN? */
static int
cp_pin_logged( Entry *e, AttributeDescription *desc )
{
	Attribute *a;
	unsigned i;

	for ( a = attrs_find( e->e_attrs, desc ); a;
	      a = attrs_find( a->a_next, desc ) ) {
		for ( i = 0; i < a->a_numvals; i++ )
			if ( cp_pin_logged_value( &a->a_vals[i] ) )
				return 1;
	}
	return 0;
}

/* Is op a sync search (or syncprov's playback of one: o_sync is then
 * "ignored") by the replication identity?  For certpinPIN itself the
 * default identity is the root DN of the database holding e; for the
 * values an accesslog database records, the root DN of any database (the
 * consumers of delta-syncrepl read the log as the root DN of the database
 * they replicate, not of the log). */
static int
cp_pin_replicator( Operation *op, cp_pin *pp, Entry *e, int logged )
{
	BackendDB *be;
	int i;

	if ( op->o_tag != LDAP_REQ_SEARCH || slap_cids.sc_LDAPsync == 0 ||
	     op->o_sync == SLAP_CONTROL_NONE || BER_BVISEMPTY( &op->o_ndn ) )
		return 0;
	if ( pp->pp_nrepl ) {
		for ( i = 0; pp->pp_nrepl[i].bv_val; i++ )
			if ( dn_match( &pp->pp_nrepl[i], &op->o_ndn ) )
				return 1;
		return 0;
	}
	if ( !logged ) {
		be = select_backend( &e->e_nname, 0 );
		return be != NULL && be_isroot_dn( be, &op->o_ndn );
	}
	LDAP_STAILQ_FOREACH( be, &backendDB, be_next ) {
		if ( SLAP_CONFIG( be ) || SLAP_MONITOR( be ) )
			continue;
		if ( be_isroot_dn( be, &op->o_ndn ) )
			return 1;
	}
	return 0;
}

/* bi_access_allowed of both instances.  slapd asks the overlays of the
 * operation's database (or, for databases without overlays and inside a
 * backend, the frontend's) before slap_access_allowed() grants the root DN
 * everything: denying here holds for everyone.  Levels below write are
 * denied for certpinPIN; writes go on to the ACLs (and to pin.c's rules:
 * administrators only, hashed).  On an accesslog database, reqMod and
 * reqOld of an entry that records a PIN are denied whole: slapd caches one
 * answer per attribute while it sends an entry, so a per-value answer
 * would not hold; the entry's other attributes stay readable. */
int
certpin_access( Operation *op, Entry *e, AttributeDescription *desc,
	struct berval *val, slap_access_t access, AccessControlState *state,
	slap_mask_t *maskp )
{
	slap_access_t level = ACL_LEVEL( access );
	cp_pin *pp;
	int logged = 0;

	if ( level >= ACL_WRITE_ || desc == NULL || e == NULL || ad_certpinPIN == NULL )
		return SLAP_CB_CONTINUE;
	if ( desc->ad_type != ad_certpinPIN->ad_type &&
	     desc->ad_type != ad_certpinPINHistory->ad_type ) {
		if ( !cp_pin_is_logattr( desc ) || !cp_pin_logged( e, desc ) )
			return SLAP_CB_CONTINUE;
		logged = 1;
	}
	pp = cp_pin_frontend();
	if ( pp && level == ACL_READ && cp_pin_replicator( op, pp, e, logged ) )
		return SLAP_CB_CONTINUE;
	Debug( LDAP_DEBUG_ACL, "%s certpin: %s access to %s of \"%s\" denied: "
		"PINs are never readable\n", op->o_log_prefix, access2str( access ),
		desc->ad_cname.bv_val, e->e_name.bv_val ? e->e_name.bv_val : "" );
	if ( maskp )
		ACL_INIT( *maskp );
	return 0;
}

/* ---- proving a user by phone and PIN ----------------------------------- */

/* The digits of a phone number, at most CP_PHONE_MAXLEN; -1 if none. */
static int
cp_phone_digits( const char *s, size_t len, char out[CP_PHONE_MAXLEN + 1] )
{
	size_t i, n = 0;

	for ( i = 0; i < len; i++ ) {
		if ( s[i] >= '0' && s[i] <= '9' ) {
			if ( n == CP_PHONE_MAXLEN )
				return -1;
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	return n ? (int)n : -1;
}

typedef struct cp_phone_find {
	const char	*pf_digits;
	AttributeDescription *pf_ad;
	int		pf_count;
	struct berval	pf_ndn;
	BackendDB	*pf_db;
	BackendDB	*pf_cur;
} cp_phone_find;

static int
cp_phone_cb( Operation *op, SlapReply *rs )
{
	cp_phone_find *pf = op->o_callback->sc_private;
	Attribute *a;
	char d[CP_PHONE_MAXLEN + 1];
	int i;

	if ( rs->sr_type != REP_SEARCH )
		return 0;
	a = attr_find( rs->sr_entry->e_attrs, pf->pf_ad );
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( cp_phone_digits( a->a_vals[i].bv_val, a->a_vals[i].bv_len, d ) > 0 &&
		     strcmp( d, pf->pf_digits ) == 0 ) {
			if ( pf->pf_count == 0 ) {
				ber_dupbv_x( &pf->pf_ndn, &rs->sr_entry->e_nname, op->o_tmpmemctx );
				pf->pf_db = pf->pf_cur;
			}
			pf->pf_count++;
			break;
		}
	}
	return 0;
}

/* Find the certpinUser entries whose phone has these digits, in every
 * database that holds data. */
static int
cp_phone_find_users( Operation *op, cp_pin *pp, const char *digits,
	cp_phone_find *pf )
{
	BackendDB *be;
	AttributeName an[2];
	char fbuf[256];
	struct berval tail, esc = BER_BVNULL;
	size_t dl = strlen( digits );

	pf->pf_digits = digits;
	pf->pf_ad = cp_pin_phone( pp );
	if ( pf->pf_ad == NULL )
		return -1;	/* no phone attribute defined yet: nobody */
	/* a substring of the last digits finds the candidates whatever the
	 * formatting; the callback compares all digits */
	if ( pp->pp_phone->ad_type->sat_substr )
		ber_str2bv( digits + ( dl > 4 ? dl - 4 : 0 ), 0, 0, &tail );
	else
		ber_str2bv( digits, 0, 0, &tail );
	if ( filter_escape_value_x( &tail, &esc, op->o_tmpmemctx ) )
		return -1;
	snprintf( fbuf, sizeof( fbuf ), "(&(objectClass=certpinUser)(%s=%s%s))",
		pp->pp_phone->ad_cname.bv_val,
		pp->pp_phone->ad_type->sat_substr ? "*" : "", esc.bv_val );
	op->o_tmpfree( esc.bv_val, op->o_tmpmemctx );

	memset( an, 0, sizeof( an ) );
	an[0].an_desc = pp->pp_phone;
	an[0].an_name = pp->pp_phone->ad_cname;

	LDAP_STAILQ_FOREACH( be, &backendDB, be_next ) {
		Operation op2 = *op;
		SlapReply rs2 = { REP_RESULT };
		slap_callback cb = { 0 };

		if ( be->be_search == NULL || be->be_nsuffix == NULL ||
		     BER_BVISEMPTY( &be->be_nsuffix[0] ) || SLAP_MONITOR( be ) ||
		     SLAP_CONFIG( be ) || SLAP_GLUE_SUBORDINATE( be ) )
			continue;
		/* a read-only replica cannot record wrong PINs: without a
		 * lockout it must not answer PIN proofs at all */
		if ( SLAP_SHADOW( be ) && !SLAP_MULTIPROVIDER( be ) ) {
			Debug( LDAP_DEBUG_STATS, "%s certpin: \"%s\" is a read-only "
				"replica: its users are proved by PIN on its provider\n",
				op->o_log_prefix, be->be_suffix[0].bv_val );
			continue;
		}
		pf->pf_cur = be;
		cb.sc_response = cp_phone_cb;
		cb.sc_private = pf;
		certpin_search_as_root( &op2, be, &cb );
		op2.ors_attrs = an;
		op2.ors_attrsonly = 0;
		ber_str2bv( fbuf, 0, 0, &op2.ors_filterstr );
		op2.ors_filter = str2filter_x( op, fbuf );
		if ( op2.ors_filter == NULL )
			return -1;
		be->be_search( &op2, &rs2 );
		filter_free_x( op, op2.ors_filter, 1 );
	}
	return 0;
}

/* Times of wrong PINs still within the window (values kept in *keep). */
static int
cp_pin_recent( cp_pin *pp, Attribute *a, time_t now, BerVarray *keep )
{
	int i, n = 0;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		char gt[CERTPIN_GENTIME_LEN + 1];
		time_t t;

		if ( a->a_vals[i].bv_len < 14 )
			continue;
		memcpy( gt, a->a_vals[i].bv_val, 14 );
		gt[14] = 'Z';
		gt[15] = '\0';
		if ( certpin_gentime_parse( gt, &t ) )
			continue;
		if ( t + pp->pp_window > now ) {
			n++;
			if ( keep )
				value_add_one( keep, &a->a_vals[i] );
		}
	}
	return n;
}

static int
cp_bv_cmp( const void *a, const void *b )
{
	const struct berval *x = a, *y = b;
	int c = memcmp( x->bv_val, y->bv_val,
		x->bv_len < y->bv_len ? x->bv_len : y->bv_len );

	return c ? c : ( x->bv_len > y->bv_len ) - ( x->bv_len < y->bv_len );
}

/* Record one more wrong PIN; keep (consumed) holds the recent ones.  When
 * it locks the PIN, certpinPINLockout says until when (the time the
 * oldest of the last certpin-pin-max-failures leaves the window). */
static void
cp_pin_fail( Operation *op, cp_pin *pp, BackendDB *db, struct berval *ndn,
	BerVarray keep )
{
	Modifications *m;
	struct timeval tv;
	struct tm tm;
	char buf[64];
	const char *text;
	int i, n;

	gettimeofday( &tv, NULL );
	for ( ;; ) {
		gmtime_r( &tv.tv_sec, &tm );
		snprintf( buf, sizeof( buf ), "%04d%02d%02d%02d%02d%02d.%06ldZ",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			tm.tm_min, tm.tm_sec, (long)tv.tv_usec );
		for ( i = 0; keep && keep[i].bv_val; i++ )
			if ( strcmp( keep[i].bv_val, buf ) == 0 )
				break;
		if ( keep == NULL || keep[i].bv_val == NULL )
			break;
		if ( ++tv.tv_usec == 1000000 ) {
			tv.tv_usec = 0;
			tv.tv_sec++;
		}
	}
	value_add_one( &keep, &(struct berval){ strlen( buf ), buf } );

	m = certpin_mod_new( LDAP_MOD_REPLACE, ad_certpinPINFailure, keep );
	for ( n = 0; keep[n].bv_val; n++ )
		;
	if ( n >= pp->pp_maxfail ) {
		BerVarray until = NULL;
		char gt[CERTPIN_GENTIME_LEN + 1];
		time_t t;

		qsort( keep, n, sizeof( struct berval ), cp_bv_cmp );
		memcpy( gt, keep[n - pp->pp_maxfail].bv_val, 14 );
		gt[14] = 'Z';
		gt[15] = '\0';
		if ( certpin_gentime_parse( gt, &t ) == 0 ) {
			certpin_gentime( t + pp->pp_window, gt );
			value_add_one( &until, &(struct berval){ strlen( gt ), gt } );
			m->sml_next = certpin_mod_new( LDAP_MOD_REPLACE,
				ad_certpinPINLockout, until );
		}
	}
	certpin_write_internal( op, db, ndn, m, &text );
}

/* Forget the wrong PINs after a right one. */
static void
cp_pin_reset( Operation *op, BackendDB *db, struct berval *ndn )
{
	Modifications *m;
	const char *text;

	m = certpin_mod_new( LDAP_MOD_REPLACE, ad_certpinPINFailure, NULL );
	m->sml_next = certpin_mod_new( LDAP_MOD_REPLACE, ad_certpinPINLockout, NULL );
	certpin_write_internal( op, db, ndn, m, &text );
}

#define CP_PIN_BAD	"certpinIssue: unknown phone number or wrong PIN"

int
certpin_pin_prove( Operation *op, struct berval *phone, struct berval *pin,
	struct berval *ndn, BackendDB **dbp, const char **text )
{
	cp_pin *pp = cp_pin_get( op );
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *obd = op->o_bd;
	cp_phone_find pf = { 0 };
	char digits[CP_PHONE_MAXLEN + 1];
	Entry *e = NULL;
	Attribute *pa, *fa, *xa;
	BerVarray keep = NULL;
	time_t expires = 0;
	int locked = 0;
	struct berval stored = BER_BVNULL;
	time_t now = slap_get_time();
	int rc = LDAP_INVALID_CREDENTIALS, match = 0, had_fail = 0, nrecent = 0;

	BER_BVZERO( ndn );
	*dbp = NULL;
	*text = CP_PIN_BAD;

	ldap_pvt_thread_mutex_lock( &pp->pp_mutex );
	if ( pp->pp_dummy.bv_val == NULL ) {
		const char *t;
		slap_passwd_hash_type( &(struct berval)BER_BVC( "0000000000" ),
			&pp->pp_dummy, pp->pp_hash, &t );
	}
	if ( cp_phone_digits( phone->bv_val, phone->bv_len, digits ) < 0 ||
	     cp_phone_find_users( op, pp, digits, &pf ) < 0 ) {
		pf.pf_count = 0;
	}
	op->o_bd = obd;
	op->o_bd->bd_info = bi;
	if ( pf.pf_count != 1 ) {
		if ( pf.pf_count > 1 )
			Debug( LDAP_DEBUG_ANY, "%s certpin: phone number %s is ambiguous "
				"(%d users); refused\n", op->o_log_prefix, digits,
				pf.pf_count );
		else
			Debug( LDAP_DEBUG_STATS, "%s certpin: unknown phone number\n",
				op->o_log_prefix );
		goto dummy;
	}

	if ( certpin_entry_get( op, pf.pf_db, &pf.pf_ndn, &e ) == LDAP_SUCCESS ) {
		/* copy what is needed: no write while the entry is held */
		pa = attr_find( e->e_attrs, ad_certpinPIN );
		fa = attr_find( e->e_attrs, ad_certpinPINFailure );
		if ( pa && pa->a_numvals == 1 )
			ber_dupbv_x( &stored, &pa->a_vals[0], op->o_tmpmemctx );
		had_fail = fa != NULL;
		nrecent = cp_pin_recent( pp, fa, now, &keep );
		locked = attr_find( e->e_attrs, ad_certpinPINLock ) != NULL;
		xa = attr_find( e->e_attrs, ad_certpinPINExpires );
		if ( xa && ( xa->a_numvals != 1 ||
		     xa->a_vals[0].bv_len != CERTPIN_GENTIME_LEN ||
		     certpin_gentime_parse( xa->a_vals[0].bv_val, &expires ) ) )
			expires = 1;	/* unreadable: expired */
		certpin_entry_release( op, pf.pf_db, e );
	}
	if ( e == NULL )
		goto dummy;
	if ( stored.bv_val == NULL ) {
		Debug( LDAP_DEBUG_STATS, "%s certpin: \"%s\" has no PIN\n",
			op->o_log_prefix, pf.pf_ndn.bv_val );
		goto dummy;
	}
	if ( locked ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: PIN of \"%s\" is locked by an "
			"administrator\n", op->o_log_prefix, pf.pf_ndn.bv_val );
		rc = LDAP_CONSTRAINT_VIOLATION;
		*text = "certpinIssue: PIN locked by an administrator";
	} else if ( nrecent >= pp->pp_maxfail ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: PIN of \"%s\" is locked\n",
			op->o_log_prefix, pf.pf_ndn.bv_val );
		rc = LDAP_CONSTRAINT_VIOLATION;
		*text = "certpinIssue: PIN locked (too many wrong PINs; ask an "
			"administrator or wait)";
	} else if ( !cp_pin_verify( &stored, pin ) ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: wrong PIN for \"%s\"\n",
			op->o_log_prefix, pf.pf_ndn.bv_val );
		certpin_count_pin_wrong( op, &pf.pf_ndn, nrecent + 1, pp->pp_maxfail );
		cp_pin_fail( op, pp, pf.pf_db, &pf.pf_ndn, keep );
		keep = NULL;
	} else if ( expires && expires <= now ) {
		/* told only to whoever knows the PIN: it proves nothing */
		Debug( LDAP_DEBUG_ANY, "%s certpin: PIN of \"%s\" has expired\n",
			op->o_log_prefix, pf.pf_ndn.bv_val );
		*text = "certpinIssue: the PIN has expired (certpin-pin-lifetime); "
			"an administrator must set a new one";
	} else {
		rc = LDAP_SUCCESS;
		*text = NULL;
		if ( had_fail )
			cp_pin_reset( op, pf.pf_db, &pf.pf_ndn );
		*ndn = pf.pf_ndn;
		BER_BVZERO( &pf.pf_ndn );
		*dbp = pf.pf_db;
	}
	op->o_bd = obd;
	op->o_bd->bd_info = bi;
	goto done;

dummy:
	/* as long as a real check, so that unknown phones do not show */
	if ( pp->pp_dummy.bv_val )
		match = cp_pin_verify( &pp->pp_dummy, pin );
	(void)match;
done:
	ldap_pvt_thread_mutex_unlock( &pp->pp_mutex );
	ber_bvarray_free( keep );
	if ( stored.bv_val )
		op->o_tmpfree( stored.bv_val, op->o_tmpmemctx );
	if ( pf.pf_ndn.bv_val )
		op->o_tmpfree( pf.pf_ndn.bv_val, op->o_tmpmemctx );
	return rc;
}
