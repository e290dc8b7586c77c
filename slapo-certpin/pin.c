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
 *   - certpinPIN is never returned to anyone (it is removed from search
 *     results, compares and filters on it are refused).
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

#define CP_PIN_DEFAULT_HASH	"{SSHA}"
#define CP_PIN_DEFAULT_MINLEN	6
#define CP_PIN_MAXLEN		64
#define CP_PIN_DEFAULT_MAXFAIL	5
#define CP_PIN_DEFAULT_WINDOW	900
#define CP_PIN_DEFAULT_PHONE	"telephoneNumber"
#define CP_PHONE_MAXLEN		32

typedef struct cp_pin {
	char		*pp_hash;	/* password scheme, e.g. {SSHA} */
	int		pp_minlen;	/* shortest PIN accepted */
	int		pp_digits;	/* PINs are digits only */
	int		pp_maxfail;	/* wrong PINs that lock */
	int		pp_window;	/* seconds wrong PINs are remembered */
	AttributeDescription *pp_phone;	/* the users' phone numbers */
	struct berval	pp_dummy;	/* verified against for unknown phones */
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
	CP_PIN_PHONE
};

static int
certpin_pin_cf( ConfigArgs *c )
{
	slap_overinst *on = (slap_overinst *)c->bi;
	certpin_info *ci = on->on_bi.bi_private;
	cp_pin *pp = ci->ci_pin;
	int lo = 0, hi = 0, *ip = NULL, rc;

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
		case CP_PIN_PHONE: c->value_ad = pp->pp_phone; break;
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
		}
		return 0;
	}

	switch ( c->type ) {
	case CP_PIN_HASH:
		if ( lutil_passwd_scheme( c->value_string ) == 0 )
			rc = certpin_cf_error( c, "<%s> unknown password scheme \"%s\" "
				"(load its module first, e.g. argon2)",
				c->argv[0], c->value_string );
		else if ( strcasecmp( c->value_string, "{CLEARTEXT}" ) == 0 ||
		     strcasecmp( c->value_string, "{CRYPT}" ) == 0 )
			rc = certpin_cf_error( c, "<%s> \"%s\" is not a safe scheme "
				"for PINs", c->argv[0], c->value_string );
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
	case CP_PIN_DIGITS:
		pp->pp_digits = c->value_int;
		return 0;
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
	{ NULL, NULL, 0, 0, 0, ARG_IGNORED }
};
const char certpin_pin_cfg_names[] = "olcCertpinPINHash $ olcCertpinPINMinLength $ "
	"olcCertpinPINDigitsOnly $ olcCertpinPINMaxFailures $ "
	"olcCertpinPINFailureWindow $ olcCertpinPhoneAttribute";

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
	if ( slap_str2ad( CP_PIN_DEFAULT_PHONE, &pp->pp_phone, &text ) ) {
		Debug( LDAP_DEBUG_ANY, "certpin_pin_db_init: %s: %s\n",
			CP_PIN_DEFAULT_PHONE, text );
		ch_free( pp->pp_hash );
		ch_free( pp );
		return 1;
	}
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

/* Replace the values of a certpinPIN add/replace with their hash. */
static int
cp_pin_hash_vals( Operation *op, cp_pin *pp, BerVarray vals, BerVarray nvals,
	char *err, size_t errlen )
{
	struct berval hash;
	int rc;

	if ( vals == NULL || vals[0].bv_val == NULL || vals[1].bv_val != NULL ) {
		snprintf( err, errlen, "certpinPIN: exactly one PIN must be given" );
		return LDAP_CONSTRAINT_VIOLATION;
	}
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
	return LDAP_SUCCESS;
}

int
certpin_pin_add( Operation *op, SlapReply *rs )
{
	cp_pin *pp = cp_pin_get( op );
	Attribute *a;
	char err[SLAP_TEXT_BUFLEN];
	int rc;

	for ( a = op->ora_e->e_attrs; a; a = a->a_next ) {
		if ( a->a_desc->ad_type != ad_certpinPIN->ad_type )
			continue;
		if ( a->a_desc != ad_certpinPIN )
			return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION,
				"certpinPIN takes no options" );
		if ( !cp_pin_admin( op ) )
			return certpin_refuse( op, rs, LDAP_INSUFFICIENT_ACCESS,
				"certpinPIN is set by administrators only" );
		rc = cp_pin_hash_vals( op, pp, a->a_vals,
			a->a_nvals != a->a_vals ? a->a_nvals : NULL, err, sizeof( err ) );
		if ( rc != LDAP_SUCCESS )
			return certpin_refuse( op, rs, rc, err );
	}
	return SLAP_CB_CONTINUE;
}

int
certpin_pin_modify( Operation *op, SlapReply *rs )
{
	cp_pin *pp = cp_pin_get( op );
	Modifications *m;
	char err[SLAP_TEXT_BUFLEN];
	int rc, admin = -1;

	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		if ( m->sml_desc->ad_type != ad_certpinPIN->ad_type ||
		     ( m->sml_flags & SLAP_MOD_INTERNAL ) )
			continue;
		if ( m->sml_desc != ad_certpinPIN )
			return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION,
				"certpinPIN takes no options" );
		if ( admin < 0 )
			admin = cp_pin_admin( op );
		if ( !admin )
			return certpin_refuse( op, rs, LDAP_INSUFFICIENT_ACCESS,
				"certpinPIN is set by administrators only" );
		switch ( m->sml_op ) {
		case LDAP_MOD_DELETE:
			if ( m->sml_values == NULL )
				continue;
			return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
				"certpinPIN: delete the attribute without values "
				"(a PIN cannot be compared)" );
		case LDAP_MOD_ADD:
		case LDAP_MOD_REPLACE:
			rc = cp_pin_hash_vals( op, pp, m->sml_values, m->sml_nvalues,
				err, sizeof( err ) );
			if ( rc != LDAP_SUCCESS )
				return certpin_refuse( op, rs, rc, err );
			/* one PIN per user: setting replaces */
			m->sml_op = LDAP_MOD_REPLACE;
			break;
		default:
			return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
				"certpinPIN: unsupported modification" );
		}
	}
	return SLAP_CB_CONTINUE;
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

static int
cp_pin_strip_cb( Operation *op, SlapReply *rs )
{
	Attribute *a, **ap;

	if ( rs->sr_type != REP_SEARCH || rs->sr_entry == NULL )
		return SLAP_CB_CONTINUE;
	for ( a = rs->sr_entry->e_attrs; a; a = a->a_next )
		if ( a->a_desc->ad_type == ad_certpinPIN->ad_type )
			break;
	if ( a == NULL )
		return SLAP_CB_CONTINUE;
	rs_entry2modifiable( op, rs, (slap_overinst *)op->o_callback->sc_private );
	for ( ap = &rs->sr_entry->e_attrs; *ap; ) {
		a = *ap;
		if ( a->a_desc->ad_type == ad_certpinPIN->ad_type ) {
			*ap = a->a_next;
			a->a_next = NULL;
			attr_free( a );
			continue;
		}
		ap = &a->a_next;
	}
	return SLAP_CB_CONTINUE;
}

static int
cp_pin_cleanup_cb( Operation *op, SlapReply *rs )
{
	if ( rs->sr_type == REP_RESULT || op->o_abandon ||
	     rs->sr_err == SLAPD_ABANDON ) {
		slap_callback *cb = op->o_callback;

		op->o_callback = cb->sc_next;
		op->o_tmpfree( cb, op->o_tmpmemctx );
	}
	return SLAP_CB_CONTINUE;
}

int
certpin_pin_search( Operation *op, SlapReply *rs )
{
	slap_callback *cb;

	if ( cp_filter_has_pin( op->ors_filter ) )
		return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
			"certpinPIN cannot be used in search filters" );
	/* Replication (the sync control) by the database's root DN carries
	 * the hashes to replicas. */
	if ( op->o_sync > SLAP_CONTROL_IGNORED && !BER_BVISEMPTY( &op->o_ndn ) ) {
		BackendDB *db = select_backend( &op->o_req_ndn, 0 );

		if ( db && be_isroot_dn( db, &op->o_ndn ) )
			return SLAP_CB_CONTINUE;
	}
	cb = op->o_tmpcalloc( 1, sizeof( slap_callback ), op->o_tmpmemctx );
	cb->sc_response = cp_pin_strip_cb;
	cb->sc_cleanup = cp_pin_cleanup_cb;
	cb->sc_private = op->o_bd->bd_info;
	cb->sc_next = op->o_callback;
	op->o_callback = cb;
	return SLAP_CB_CONTINUE;
}

int
certpin_pin_compare( Operation *op, SlapReply *rs )
{
	if ( op->orc_ava->aa_desc->ad_type == ad_certpinPIN->ad_type )
		return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
			"certpinPIN cannot be compared" );
	return SLAP_CB_CONTINUE;
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
	pf->pf_ad = pp->pp_phone;
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

/* Record one more wrong PIN; keep (consumed) holds the recent ones. */
static void
cp_pin_fail( Operation *op, BackendDB *db, struct berval *ndn, BerVarray keep )
{
	Modifications *m;
	struct timeval tv;
	struct tm tm;
	char buf[64];
	const char *text;
	int i;

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
	certpin_write_internal( op, db, ndn, m, &text );
}

/* Forget the wrong PINs after a right one. */
static void
cp_pin_reset( Operation *op, BackendDB *db, struct berval *ndn )
{
	Modifications *m;
	const char *text;

	m = certpin_mod_new( LDAP_MOD_REPLACE, ad_certpinPINFailure, NULL );
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
	Attribute *pa, *fa;
	BerVarray keep = NULL;
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
		certpin_entry_release( op, pf.pf_db, e );
	}
	if ( e == NULL )
		goto dummy;
	if ( stored.bv_val == NULL ) {
		Debug( LDAP_DEBUG_STATS, "%s certpin: \"%s\" has no PIN\n",
			op->o_log_prefix, pf.pf_ndn.bv_val );
		goto dummy;
	}
	if ( nrecent >= pp->pp_maxfail ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: PIN of \"%s\" is locked\n",
			op->o_log_prefix, pf.pf_ndn.bv_val );
		rc = LDAP_CONSTRAINT_VIOLATION;
		*text = "certpinIssue: PIN locked (too many wrong PINs; ask an "
			"administrator or wait)";
	} else if ( cp_pin_verify( &stored, pin ) ) {
		rc = LDAP_SUCCESS;
		*text = NULL;
		if ( had_fail )
			cp_pin_reset( op, pf.pf_db, &pf.pf_ndn );
		*ndn = pf.pf_ndn;
		BER_BVZERO( &pf.pf_ndn );
		*dbp = pf.pf_db;
	} else {
		Debug( LDAP_DEBUG_ANY, "%s certpin: wrong PIN for \"%s\"\n",
			op->o_log_prefix, pf.pf_ndn.bv_val );
		certpin_count_pin_wrong( op, &pf.pf_ndn, nrecent + 1, pp->pp_maxfail );
		cp_pin_fail( op, pf.pf_db, &pf.pf_ndn, keep );
		keep = NULL;
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
