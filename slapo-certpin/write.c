/* write.c - certpin's write path: certificate metadata and revocation
 *
 * Every write that adds or removes a certpinCertificate value passes here,
 * on the frontend, before the backend runs:
 *   - added certificates are parsed (lib/certinfo.c); bytes that are not one
 *     well-formed X.509 certificate, a certificate already on file for
 *     another entry, and a certificate that was revoked are refused;
 *   - the overlay-maintained attributes certpinThumbprint and certpinCertInfo
 *     are rewritten in the same operation, so no reader ever sees a
 *     certificate without its metadata;
 *   - removed certificates (delete, replace, or removal of the certpinUser
 *     class) leave a certpinRevoked record: thumbprint, time, who, reason;
 *   - deleting an entry revokes its certificates: its records are copied to
 *     a history entry (certpin-history, or the parent) first.
 * Clients never write the maintained attributes themselves.  A reason for a
 * revocation may be supplied by adding "sha256=<hex>$reason=<text>" to
 * certpinRevoked in the same modify that deletes the certificate; the
 * overlay completes the record.  An administrator clears a revocation
 * record (to allow the certificate back) by deleting that certpinRevoked
 * value with the Relax Rules control.
 */

#include "certpin.h"

#include <ac/string.h>

/* ---- configuration ----------------------------------------------------- */

enum {
	CP_WRITE_MAXCERTS = 1
};

static int
certpin_write_cf( ConfigArgs *c )
{
	slap_overinst *on = (slap_overinst *)c->bi;
	certpin_info *ci = on->on_bi.bi_private;

	switch ( c->op ) {
	case SLAP_CONFIG_EMIT:
		c->value_int = ci->ci_max_certs;
		return 0;
	case LDAP_MOD_DELETE:
		ci->ci_max_certs = CERTPIN_DEFAULT_MAX_CERTS;
		return 0;
	}
	return certpin_cf_int( c, 1, 1000, NULL, &ci->ci_max_certs );
}

ConfigTable certpin_write_cfg[] = {
	{ "certpin-max-certificates", "count", 2, 2, 0,
	  ARG_INT|ARG_MAGIC|CP_WRITE_MAXCERTS, certpin_write_cf,
	  "( " CERTPIN_OID_CFG_AT ".1 NAME 'olcCertpinMaxCertificates' "
	  "DESC 'How many certificates one entry may hold' "
	  "EQUALITY integerMatch "
	  "SYNTAX OMsInteger SINGLE-VALUE )", NULL, NULL },
	{ NULL, NULL, 0, 0, 0, ARG_IGNORED }
};
const char certpin_write_cfg_names[] = "olcCertpinMaxCertificates";

/* ---- working sets ------------------------------------------------------ */

/* One certificate of the entry, before or after the write. */
typedef struct cp_cert {
	struct berval	cc_der;		/* not owned */
	char		cc_sha256[65];
	int		cc_old;		/* held before the write */
	int		cc_new;		/* held after the write */
	struct berval	cc_info;	/* existing certpinCertInfo value, not owned */
	struct berval	cc_reason;	/* revocation reason, not owned */
} cp_cert;

typedef struct cp_set {
	cp_cert		*cs_c;
	int		cs_n, cs_max;
	void		*cs_ctx;
} cp_set;

static cp_cert *
cp_set_find( cp_set *s, struct berval *der )
{
	int i;

	for ( i = 0; i < s->cs_n; i++ ) {
		if ( s->cs_c[i].cc_der.bv_len == der->bv_len &&
		     memcmp( s->cs_c[i].cc_der.bv_val, der->bv_val, der->bv_len ) == 0 )
			return &s->cs_c[i];
	}
	return NULL;
}

static cp_cert *
cp_set_get( cp_set *s, struct berval *der )
{
	cp_cert *c = cp_set_find( s, der );

	if ( c )
		return c;
	if ( s->cs_n == s->cs_max ) {
		s->cs_max = s->cs_max ? 2 * s->cs_max : 8;
		s->cs_c = slap_sl_realloc( s->cs_c, s->cs_max * sizeof( cp_cert ), s->cs_ctx );
	}
	c = &s->cs_c[s->cs_n++];
	memset( c, 0, sizeof( *c ) );
	c->cc_der = *der;
	certpin_sha256_hex( (unsigned char *)der->bv_val, der->bv_len, c->cc_sha256 );
	return c;
}

/* Does record rec (certpinCertInfo or certpinRevoked) begin "sha256=hex$"? */
static int
cp_rec_is( struct berval *rec, const char *hex )
{
	return rec->bv_len > 7 + 64 && memcmp( rec->bv_val, "sha256=", 7 ) == 0 &&
		memcmp( rec->bv_val + 7, hex, 64 ) == 0 && rec->bv_val[7 + 64] == '$';
}

/* The lowercase thumbprint a record (certpinRevoked) begins with, in hex;
 * -1 when it does not begin "sha256=<64 hex digits>$". */
static int
cp_rec_hex( struct berval *rec, char *hex )
{
	int i;

	if ( rec->bv_len <= 7 + 64 || memcmp( rec->bv_val, "sha256=", 7 ) != 0 ||
	     rec->bv_val[7 + 64] != '$' )
		return -1;
	for ( i = 0; i < 64; i++ ) {
		char c = rec->bv_val[7 + i];

		if ( c >= 'A' && c <= 'F' )
			c += 'a' - 'A';
		if ( !( ( c >= '0' && c <= '9' ) || ( c >= 'a' && c <= 'f' ) ) )
			return -1;
		hex[i] = c;
	}
	hex[64] = '\0';
	return 0;
}

/* Add to *tps (unless there) the thumbprint of each record in recs that
 * attribute a (certpinRevokedThumbprint of the entry, may be NULL) lacks. */
static void
cp_rec_thumbprints( BerVarray recs, Attribute *a, BerVarray *tps )
{
	char hex[65];
	int i, j;

	for ( i = 0; recs && recs[i].bv_val; i++ ) {
		struct berval bv = { 64, hex };

		if ( cp_rec_hex( &recs[i], hex ) )
			continue;
		for ( j = 0; a && j < a->a_numvals; j++ )
			if ( a->a_nvals[j].bv_len == 64 &&
			     strncasecmp( a->a_nvals[j].bv_val, hex, 64 ) == 0 )
				break;
		if ( a && j < a->a_numvals )
			continue;
		for ( j = 0; *tps && (*tps)[j].bv_val; j++ )
			if ( bvmatch( &(*tps)[j], &bv ) )
				break;
		if ( *tps == NULL || (*tps)[j].bv_val == NULL )
			value_add_one( tps, &bv );
	}
}

/* Append a modification the overlay computed; vals is consumed. */
/* Is the reason in a client's "sha256=<hex>$reason=<text>" value text the
 * record can keep as it is: escapes that decode, no NUL or other control
 * characters, UTF-8 (the attribute's own syntax check, on the decoded text)?
 * Otherwise the stored reason would be silently cut or not UTF-8. */
static int
cp_reason_ok( Operation *op, struct berval *v )
{
	Syntax *syn = ad_certpinRevoked->ad_type->sat_syntax;
	struct berval r;
	char *buf;
	long n, i;
	int ok = 1;

	buf = op->o_tmpalloc( v->bv_len + 1, op->o_tmpmemctx );
	n = certpin_rec_get( v->bv_val, v->bv_len, "reason", buf, v->bv_len + 1 );
	if ( n < 0 ) {	/* absent, or an escape that does not decode */
		for ( i = 0; ok && i + 8 <= (long)v->bv_len; i++ )
			ok = memcmp( v->bv_val + i, "$reason=", 8 ) != 0;
	}
	for ( i = 0; ok && i < n; i++ ) {
		if ( (unsigned char)buf[i] < 0x20 || buf[i] == 0x7f )
			ok = 0;
	}
	if ( ok && n > 0 ) {
		r.bv_val = buf;
		r.bv_len = n;
		ok = syn->ssyn_validate( syn, &r ) == LDAP_SUCCESS;
	}
	op->o_tmpfree( buf, op->o_tmpmemctx );
	return ok;
}

static void
cp_mod_append( Operation *op, short mop, AttributeDescription *ad, BerVarray vals )
{
	Modifications **mp;

	for ( mp = &op->orm_modlist; *mp; mp = &(*mp)->sml_next )
		;
	*mp = certpin_mod_new( mop, ad, vals );
}

/* Change ad of entry e into the values want (consumed) value by value:
 * delete the values e holds that want lacks, add those it lacks.  The
 * maintained attributes follow the client's request this way: a request
 * that adds or deletes single certificates changes single metadata values,
 * and only a request that replaces or deletes all certificates replaces
 * the metadata (the caller's REPLACE).  Under multi-provider delta-syncrepl,
 * where a consumer resolves concurrent modifications of one entry value by
 * value (OpenLDAP's syncrepl_op_modify), the metadata then merges exactly
 * as the certificates do: a certificate added on one provider while
 * another revokes others keeps its metadata and the revoked ones lose
 * theirs.  A REPLACE computed from one provider's view would put back the
 * other provider's revoked thumbprints.  The soft variants do not fail
 * when a concurrent write got there first. */
static void
cp_mod_diff( Operation *op, Entry *e, AttributeDescription *ad, BerVarray want )
{
	Attribute *a = attr_find( e->e_attrs, ad );
	BerVarray del = NULL, add = NULL;
	int i, j;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		for ( j = 0; want && want[j].bv_val; j++ )
			if ( bvmatch( &a->a_vals[i], &want[j] ) )
				break;
		if ( want == NULL || want[j].bv_val == NULL )
			value_add_one( &del, &a->a_vals[i] );
	}
	for ( j = 0; want && want[j].bv_val; j++ ) {
		for ( i = 0; a && i < a->a_numvals; i++ )
			if ( bvmatch( &a->a_vals[i], &want[j] ) )
				break;
		if ( a == NULL || i == a->a_numvals )
			value_add_one( &add, &want[j] );
	}
	ber_bvarray_free( want );
	if ( del )
		cp_mod_append( op, SLAP_MOD_SOFTDEL, ad, del );
	if ( add )
		cp_mod_append( op, SLAP_MOD_SOFTADD, ad, add );
}

/* Format the certpinCertInfo record of a certificate new to the entry
 * from its metadata *ci (published now, with the endpoint if any). */
static int
cp_info_rec( Operation *op, certpin_certinfo *ci, const char *endpoint,
	struct berval *out, char *err, size_t errlen )
{
	char *rec, *ep = ci->ci_endpoint;

	certpin_gentime( op->o_time, ci->ci_published );
	if ( endpoint && *endpoint )
		ci->ci_endpoint = (char *)endpoint;
	rec = certpin_certinfo_format( ci );
	ci->ci_endpoint = ep;
	if ( rec == NULL ) {
		snprintf( err, errlen, "out of memory" );
		return -1;
	}
	ber_str2bv( rec, 0, 1, out );
	free( rec );
	return 0;
}

/* Build the certpinCertInfo record of a certificate new to the entry. */
static int
cp_info_new( Operation *op, struct berval *der, const char *endpoint,
	struct berval *out, char *err, size_t errlen )
{
	certpin_certinfo ci;
	int rc;

	if ( certpin_certinfo_from_der( (unsigned char *)der->bv_val, der->bv_len,
			&ci, err, errlen ) )
		return -1;
	rc = cp_info_rec( op, &ci, endpoint, out, err, errlen );
	certpin_certinfo_free( &ci );
	return rc;
}

/* Build the revocation record of a certificate leaving the entry. */
static void
cp_revoked_rec( Operation *op, cp_cert *c, struct berval *out )
{
	certpin_certinfo ci;
	char *buf = NULL, when[CERTPIN_GENTIME_LEN + 1], err[128];
	char *reason = NULL;
	size_t len = 0;
	int have = 0;

	if ( c->cc_info.bv_val )
		have = certpin_certinfo_parse( c->cc_info.bv_val, c->cc_info.bv_len, &ci ) == 0;
	if ( !have )
		have = certpin_certinfo_from_der( (unsigned char *)c->cc_der.bv_val,
			c->cc_der.bv_len, &ci, err, sizeof( err ) ) == 0;
	certpin_gentime( op->o_time, when );
	if ( c->cc_reason.bv_val ) {
		reason = op->o_tmpalloc( c->cc_reason.bv_len + 1, op->o_tmpmemctx );
		if ( certpin_rec_get( c->cc_reason.bv_val, c->cc_reason.bv_len, "reason",
				reason, c->cc_reason.bv_len + 1 ) < 0 )
			reason[0] = '\0';
	}
	certpin_rec_add( &buf, &len, "sha256", c->cc_sha256 );
	certpin_rec_add( &buf, &len, "revoked", when );
	certpin_rec_add( &buf, &len, "by",
		BER_BVISEMPTY( &op->o_ndn ) ? "anonymous" : op->o_ndn.bv_val );
	certpin_rec_add( &buf, &len, "reason", reason ? reason : "" );
	certpin_rec_add( &buf, &len, "serial", have ? ci.ci_serial : "" );
	certpin_rec_add( &buf, &len, "expires", have ? ci.ci_notafter : "" );
	certpin_rec_add( &buf, &len, "issuer", have && ci.ci_issuer ? ci.ci_issuer : "" );
	certpin_rec_add( &buf, &len, "subject", have && ci.ci_subject ? ci.ci_subject : "" );
	if ( have )
		certpin_certinfo_free( &ci );
	if ( reason )
		op->o_tmpfree( reason, op->o_tmpmemctx );
	ber_str2bv( buf ? buf : "", 0, 1, out );
	free( buf );
}

/* Checks on a certificate about to be added to entry ndn in db: on file
 * elsewhere, or revoked.  Returns an LDAP result code, text in err. */
static int
cp_check_new( Operation *op, BackendDB *db, struct berval *ndn, const char *hex,
	char *err, size_t errlen )
{
	struct berval owner = BER_BVNULL;
	int n, rc = LDAP_SUCCESS;

	n = certpin_find_thumbprint( op, db, hex, 1, &owner );
	if ( n < 0 ) {
		snprintf( err, errlen, "certpin: internal search failed" );
		return LDAP_OTHER;
	}
	if ( n > 0 ) {
		if ( n == 1 && dn_match( &owner, ndn ) ) {
			snprintf( err, errlen, "certpinCertificate: certificate %.16s... was "
				"revoked; delete its certpinRevoked record (with the Relax "
				"Rules control) before adding it again", hex );
		} else {
			snprintf( err, errlen, "certpinCertificate: certificate %.16s... is "
				"already on file for another entry, or was revoked there", hex );
		}
		Debug( LDAP_DEBUG_ANY, "%s certpin: refused certificate %s for \"%s\": "
			"held or revoked by \"%s\"\n", op->o_log_prefix, hex, ndn->bv_val,
			owner.bv_val ? owner.bv_val : "" );
		rc = LDAP_CONSTRAINT_VIOLATION;
	}
	if ( owner.bv_val )
		op->o_tmpfree( owner.bv_val, op->o_tmpmemctx );
	return rc;
}

/* Attributes only the overlay writes (any options included). */
static int
cp_maintained( AttributeDescription *ad )
{
	return ad->ad_type == ad_certpinThumbprint->ad_type ||
		ad->ad_type == ad_certpinCertInfo->ad_type ||
		ad->ad_type == ad_certpinPINFailure->ad_type ||
		ad->ad_type == ad_certpinRevokedThumbprint->ad_type;
}

/* ---- add --------------------------------------------------------------- */

int
certpin_write_add( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;
	Entry *e = op->ora_e;
	Attribute *a;
	BackendDB *db;
	BerVarray tp = NULL, info = NULL;
	char err[SLAP_TEXT_BUFLEN], why[200];
	int i, j, rc = LDAP_SUCCESS;

	for ( a = e->e_attrs; a; a = a->a_next ) {
		if ( a->a_desc->ad_type == ad_certpinCertificate->ad_type &&
		     a->a_desc != ad_certpinCertBinary ) {
			return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION,
				"certpinCertificate is written as certpinCertificate;binary, "
				"with no other option" );
		}
		if ( cp_maintained( a->a_desc ) || a->a_desc->ad_type == ad_certpinRevoked->ad_type ) {
			snprintf( err, sizeof( err ), "%s is maintained by the certpin "
				"overlay and cannot be written", a->a_desc->ad_cname.bv_val );
			return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION, err );
		}
	}
	a = attr_find( e->e_attrs, ad_certpinCertBinary );
	if ( a == NULL )
		return SLAP_CB_CONTINUE;

	if ( a->a_numvals > (unsigned)ci->ci_max_certs ) {
		snprintf( err, sizeof( err ), "certpinCertificate: at most %d "
			"certificates per entry (certpin-max-certificates)", ci->ci_max_certs );
		return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION, err );
	}
	db = certpin_select_db( op, &e->e_nname );
	for ( i = 0; i < a->a_numvals; i++ ) {
		struct berval rec;
		char hex[65];

		if ( cp_info_new( op, &a->a_vals[i], NULL, &rec, why, sizeof( why ) ) ) {
			snprintf( err, sizeof( err ), "certpinCertificate: value #%d: %s", i, why );
			rc = LDAP_CONSTRAINT_VIOLATION;
			goto fail;
		}
		certpin_sha256_hex( (unsigned char *)a->a_vals[i].bv_val, a->a_vals[i].bv_len, hex );
		for ( j = 0; tp && tp[j].bv_val; j++ ) {
			if ( strcmp( tp[j].bv_val, hex ) == 0 ) {
				ch_free( rec.bv_val );
				snprintf( err, sizeof( err ), "certpinCertificate: value #%d "
					"repeats another value", i );
				rc = LDAP_CONSTRAINT_VIOLATION;
				goto fail;
			}
		}
		rc = cp_check_new( op, db, &e->e_nname, hex, err, sizeof( err ) );
		if ( rc != LDAP_SUCCESS ) {
			ch_free( rec.bv_val );
			goto fail;
		}
		value_add_one( &tp, &(struct berval){ 64, hex } );
		ber_bvarray_add( &info, &rec );
	}
	attr_merge( e, ad_certpinThumbprint, tp, NULL );
	attr_merge( e, ad_certpinCertInfo, info, NULL );
	ber_bvarray_free( tp );
	ber_bvarray_free( info );
	return SLAP_CB_CONTINUE;

fail:
	ber_bvarray_free( tp );
	ber_bvarray_free( info );
	return certpin_refuse( op, rs, rc, err );
}

/* ---- modify ------------------------------------------------------------ */

/* An administrator clears revocation records of entry e (certpinRevoked
 * values deleted under Relax Rules): the thumbprint of each goes too,
 * unless a record the entry keeps still names it. */
static void
cp_clear_thumbprints( Operation *op, Entry *e )
{
	Attribute *recs = attr_find( e->e_attrs, ad_certpinRevoked );
	Modifications *m;
	BerVarray del = NULL;
	char hex[65], h2[65];
	int i, j, k;

	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		BerVarray vals;

		if ( m->sml_desc != ad_certpinRevoked || m->sml_op != LDAP_MOD_DELETE ||
		     ( m->sml_flags & SLAP_MOD_INTERNAL ) || m->sml_values == NULL )
			continue;
		vals = m->sml_nvalues ? m->sml_nvalues : m->sml_values;
		for ( i = 0; vals[i].bv_val; i++ ) {
			struct berval bv = { 64, hex };

			if ( cp_rec_hex( &vals[i], hex ) )
				continue;
			/* does a record that stays name it? */
			for ( j = 0; recs && j < recs->a_numvals; j++ ) {
				Modifications *m2;
				int gone = 0;

				if ( cp_rec_hex( &recs->a_nvals[j], h2 ) || strcmp( h2, hex ) )
					continue;
				for ( m2 = op->orm_modlist; m2 && !gone; m2 = m2->sml_next ) {
					BerVarray v2;

					if ( m2->sml_desc != ad_certpinRevoked ||
					     m2->sml_op != LDAP_MOD_DELETE ||
					     ( m2->sml_flags & SLAP_MOD_INTERNAL ) ||
					     m2->sml_values == NULL )
						continue;
					v2 = m2->sml_nvalues ? m2->sml_nvalues : m2->sml_values;
					for ( k = 0; v2[k].bv_val; k++ )
						if ( bvmatch( &v2[k], &recs->a_nvals[j] ) )
							gone = 1;
				}
				if ( !gone )
					break;
			}
			if ( recs && j < recs->a_numvals )
				continue;
			for ( j = 0; del && del[j].bv_val; j++ )
				if ( bvmatch( &del[j], &bv ) )
					break;
			if ( del == NULL || del[j].bv_val == NULL )
				value_add_one( &del, &bv );
		}
	}
	if ( del )
		cp_mod_append( op, SLAP_MOD_SOFTDEL, ad_certpinRevokedThumbprint, del );
}

/* Does the objectClass attribute still hold certpinUser after mods? */
static int
cp_class_after( Entry *e, Modifications *mods )
{
	Attribute *a = attr_find( e->e_attrs, slap_schema.si_ad_objectClass );
	Modifications *m;
	int has = 0, i;

	if ( a ) {
		for ( i = 0; i < a->a_numvals; i++ )
			if ( oc_bvfind( &a->a_vals[i] ) == oc_certpinUser )
				has = 1;
	}
	for ( m = mods; m; m = m->sml_next ) {
		int named = 0;

		if ( m->sml_desc != slap_schema.si_ad_objectClass )
			continue;
		for ( i = 0; m->sml_values && m->sml_values[i].bv_val; i++ )
			if ( oc_bvfind( &m->sml_values[i] ) == oc_certpinUser )
				named = 1;
		switch ( m->sml_op ) {
		case LDAP_MOD_ADD:
			has |= named;
			break;
		case LDAP_MOD_DELETE:
			if ( m->sml_values == NULL || named )
				has = 0;
			break;
		case LDAP_MOD_REPLACE:
			has = named;
			break;
		}
	}
	return has;
}

int
certpin_write_modify( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;
	Modifications *m, **mp;
	BackendDB *db;
	Entry *e = NULL;
	Attribute *a;
	cp_set set = { NULL, 0, 0, op->o_tmpmemctx };
	BerVarray reasons = NULL, tp = NULL, info = NULL, revoked = NULL, rtp = NULL;
	char err[SLAP_TEXT_BUFLEN], why[200];
	int touches = 0, classmod = 0, i, n, rc = LDAP_SUCCESS, drop_certs = 0;
	int nnew = 0, whole = 0, clears = 0;

	/* What does the request touch? */
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		AttributeDescription *ad = m->sml_desc;

		if ( m->sml_flags & SLAP_MOD_INTERNAL )
			continue;
		if ( ad->ad_type == ad_certpinCertificate->ad_type && ad != ad_certpinCertBinary ) {
			return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION,
				"certpinCertificate is written as certpinCertificate;binary, "
				"with no other option" );
		}
		if ( cp_maintained( ad ) ) {
			/* an administrator unlocks a PIN (pin.c) */
			if ( ad == ad_certpinPINFailure && m->sml_op == LDAP_MOD_DELETE &&
			     m->sml_values == NULL && certpin_pin_may_unlock( op ) )
				continue;
			snprintf( err, sizeof( err ), "%s is maintained by the certpin "
				"overlay and cannot be written", ad->ad_cname.bv_val );
			return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION, err );
		}
		if ( ad->ad_type == ad_certpinRevoked->ad_type ) {
			if ( ad != ad_certpinRevoked )
				return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION,
					"certpinRevoked takes no options" );
			if ( m->sml_op == LDAP_MOD_DELETE && m->sml_values && get_relax( op ) ) {
				clears = 1;	/* an administrator clears records */
				continue;
			}
			if ( m->sml_op == LDAP_MOD_ADD ) {
				touches = 1;	/* reasons for revocations in this op */
				continue;
			}
			return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION,
				"certpinRevoked is maintained by the certpin overlay; "
				"records are cleared by deleting one value with the "
				"Relax Rules control" );
		}
		if ( ad == ad_certpinCertBinary )
			touches = 1;
		else if ( ad == slap_schema.si_ad_objectClass && m->sml_op != LDAP_MOD_ADD )
			classmod = 1;
	}
	if ( !touches && !classmod && !clears )
		return SLAP_CB_CONTINUE;

	db = certpin_select_db( op, &op->o_req_ndn );
	if ( db == NULL )
		return SLAP_CB_CONTINUE;
	if ( certpin_entry_get( op, db, &op->o_req_ndn, &e ) != LDAP_SUCCESS ) {
		rc = LDAP_SUCCESS;
		goto done;	/* the backend reports noSuchObject */
	}
	if ( clears )
		cp_clear_thumbprints( op, e );
	if ( !touches && !classmod )
		goto done;

	/* The certificates before ... */
	a = attr_find( e->e_attrs, ad_certpinCertBinary );
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		cp_cert *c = cp_set_get( &set, &a->a_vals[i] );
		c->cc_old = c->cc_new = 1;
	}
	a = attr_find( e->e_attrs, ad_certpinCertInfo );
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		for ( n = 0; n < set.cs_n; n++ )
			if ( cp_rec_is( &a->a_vals[i], set.cs_c[n].cc_sha256 ) )
				set.cs_c[n].cc_info = a->a_vals[i];
	}

	/* ... and after. */
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		if ( m->sml_desc != ad_certpinCertBinary || ( m->sml_flags & SLAP_MOD_INTERNAL ) )
			continue;
		switch ( m->sml_op ) {
		case LDAP_MOD_REPLACE:
		case LDAP_MOD_DELETE:
			if ( m->sml_op == LDAP_MOD_REPLACE || m->sml_values == NULL ) {
				whole = 1;
				for ( n = 0; n < set.cs_n; n++ )
					set.cs_c[n].cc_new = 0;
			} else {
				for ( i = 0; m->sml_values[i].bv_val; i++ ) {
					cp_cert *c = cp_set_find( &set, &m->sml_values[i] );
					if ( c )
						c->cc_new = 0;
				}
			}
			if ( m->sml_op == LDAP_MOD_DELETE )
				break;
			/* FALLTHRU */
		case LDAP_MOD_ADD:
			for ( i = 0; m->sml_values && m->sml_values[i].bv_val; i++ )
				cp_set_get( &set, &m->sml_values[i] )->cc_new = 1;
			break;
		default:
			rc = LDAP_CONSTRAINT_VIOLATION;
			snprintf( err, sizeof( err ), "certpinCertificate: unsupported modification" );
			goto done;
		}
	}
	if ( classmod && !cp_class_after( e, op->orm_modlist ) ) {
		for ( n = 0; n < set.cs_n; n++ ) {
			if ( set.cs_c[n].cc_new )
				drop_certs = 1;
			set.cs_c[n].cc_new = 0;
		}
	}

	/* Reasons supplied for revocations in this operation. */
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		if ( m->sml_desc != ad_certpinRevoked || m->sml_op != LDAP_MOD_ADD ||
		     ( m->sml_flags & SLAP_MOD_INTERNAL ) )
			continue;
		/* the values stay until the records are built; unlinked below */
		for ( i = 0; m->sml_values && m->sml_values[i].bv_val; i++ ) {
			struct berval *v = &m->sml_values[i];
			int found = 0;

			for ( n = 0; n < set.cs_n; n++ ) {
				if ( cp_rec_is( v, set.cs_c[n].cc_sha256 ) &&
				     set.cs_c[n].cc_old && !set.cs_c[n].cc_new ) {
					set.cs_c[n].cc_reason = *v;
					found = 1;
				}
			}
			if ( found && !cp_reason_ok( op, v ) ) {
				rc = LDAP_CONSTRAINT_VIOLATION;
				snprintf( err, sizeof( err ), "certpinRevoked: the reason "
					"must be UTF-8 text without control characters" );
				goto done;
			}
			if ( !found ) {
				rc = LDAP_CONSTRAINT_VIOLATION;
				snprintf( err, sizeof( err ), "certpinRevoked: a value "
					"may only give the reason (\"sha256=<hex>$reason=...\") "
					"for a certificate this operation deletes" );
				goto done;
			}
		}
	}

	/* Check what is new, build the maintained values. */
	for ( n = 0; n < set.cs_n; n++ ) {
		cp_cert *c = &set.cs_c[n];
		struct berval rec;

		if ( c->cc_new )
			nnew++;
		if ( c->cc_new && !c->cc_old ) {
			int k;

			if ( cp_info_new( op, &c->cc_der, NULL, &rec, why, sizeof( why ) ) ) {
				snprintf( err, sizeof( err ), "certpinCertificate: %s", why );
				rc = LDAP_CONSTRAINT_VIOLATION;
				goto done;
			}
			for ( k = 0; k < n; k++ ) {
				if ( set.cs_c[k].cc_new && strcmp( set.cs_c[k].cc_sha256, c->cc_sha256 ) == 0 )
					break;
			}
			if ( k < n ) {
				ch_free( rec.bv_val );
				continue;
			}
			rc = cp_check_new( op, db, &op->o_req_ndn, c->cc_sha256, err, sizeof( err ) );
			if ( rc != LDAP_SUCCESS ) {
				ch_free( rec.bv_val );
				goto done;
			}
			ber_bvarray_add( &info, &rec );
		} else if ( c->cc_new ) {
			if ( c->cc_info.bv_val ) {
				ber_dupbv( &rec, &c->cc_info );
			} else if ( cp_info_new( op, &c->cc_der, NULL, &rec, err, sizeof( err ) ) ) {
				continue;	/* unreadable old value: keep it, no metadata */
			}
			ber_bvarray_add( &info, &rec );
		} else if ( c->cc_old ) {
			cp_revoked_rec( op, c, &rec );
			ber_bvarray_add( &revoked, &rec );
			Debug( LDAP_DEBUG_STATS, "%s certpin: revoked certificate %s of \"%s\"\n",
				op->o_log_prefix, c->cc_sha256, op->o_req_ndn.bv_val );
			certpin_count_on_success( op, CP_CTR_REVOKED );
			continue;
		} else {
			continue;
		}
		value_add_one( &tp, &(struct berval){ 64, c->cc_sha256 } );
	}
	if ( nnew > ci->ci_max_certs ) {
		rc = LDAP_CONSTRAINT_VIOLATION;
		snprintf( err, sizeof( err ), "certpinCertificate: at most %d "
			"certificates per entry (certpin-max-certificates)", ci->ci_max_certs );
		goto done;
	}

	/* Rewrite the request: drop the reason values, append ours. */
	for ( mp = &op->orm_modlist; *mp; ) {
		m = *mp;
		if ( m->sml_desc == ad_certpinRevoked && m->sml_op == LDAP_MOD_ADD &&
		     !( m->sml_flags & SLAP_MOD_INTERNAL ) ) {
			*mp = m->sml_next;
			m->sml_next = NULL;
			slap_mods_free( m, 1 );
			continue;
		}
		mp = &m->sml_next;
	}
	if ( drop_certs )
		cp_mod_append( op, LDAP_MOD_REPLACE, ad_certpinCertBinary, NULL );
	if ( drop_certs || whole ) {
		cp_mod_append( op, LDAP_MOD_REPLACE, ad_certpinThumbprint, tp );
		cp_mod_append( op, LDAP_MOD_REPLACE, ad_certpinCertInfo, info );
	} else {
		cp_mod_diff( op, e, ad_certpinThumbprint, tp );
		cp_mod_diff( op, e, ad_certpinCertInfo, info );
	}
	tp = info = NULL;
	if ( revoked ) {
		if ( !is_entry_objectclass( e, oc_certpinHistory, 0 ) ) {
			BerVarray oc = NULL;

			value_add_one( &oc, &oc_certpinHistory->soc_cname );
			cp_mod_append( op, LDAP_MOD_ADD, slap_schema.si_ad_objectClass, oc );
		}
		cp_rec_thumbprints( revoked, NULL, &rtp );
		cp_mod_append( op, LDAP_MOD_ADD, ad_certpinRevoked, revoked );
		revoked = NULL;
		if ( rtp )
			cp_mod_append( op, SLAP_MOD_SOFTADD, ad_certpinRevokedThumbprint, rtp );
		rtp = NULL;
	}

done:
	if ( e )
		certpin_entry_release( op, db, e );
	if ( set.cs_c )
		slap_sl_free( set.cs_c, set.cs_ctx );
	ber_bvarray_free( reasons );
	ber_bvarray_free( tp );
	ber_bvarray_free( info );
	ber_bvarray_free( revoked );
	if ( rc != LDAP_SUCCESS )
		return certpin_refuse( op, rs, rc, err );
	return SLAP_CB_CONTINUE;
}

/* ---- delete ------------------------------------------------------------ */

/* Deleting an entry revokes the certificates it holds.  Their revocation
 * records, and those the entry already kept, must outlive it, or the
 * certificates could be added again elsewhere: before the delete runs they
 * are copied, each with a field "entry=<dn>", to the history entry, which
 * is the entry named by certpin-history or else the deleted entry's parent,
 * in the same database (it gets the certpinHistory class); the history
 * entry's own records go to its parent.  If the delete then fails, the
 * copies are removed again.  If they cannot be kept, the delete is
 * refused. */

typedef struct cp_del_cb {
	slap_callback	dc_cb;
	BackendDB	*dc_db;
	struct berval	dc_hist;	/* the history entry (o_tmpmemctx) */
	BerVarray	dc_added;	/* what was added to it (ch_malloc) */
	BerVarray	dc_tps;		/* thumbprints added to it (ch_malloc) */
} cp_del_cb;

/* One internal modify of entry ndn in db, as the database's root. */
static int
cp_internal_modify( Operation *op, BackendDB *db, struct berval *ndn,
	Modifications *mods, const char **text )
{
	Operation op2 = *op;
	SlapReply rs2 = { REP_RESULT };
	slap_callback cb = { NULL, slap_null_cb, NULL, NULL };

	certpin_op_as_root( &op2, db, LDAP_REQ_MODIFY, ndn, ndn, &cb );
	op2.o_private = NULL;
	/* none of the client's controls apply to this write */
	memset( op2.o_ctrlflag, SLAP_CONTROL_NONE, sizeof( op2.o_ctrlflag ) );
	op2.o_ctrls = NULL;
	op2.o_no_schema_check = 0;
	BER_BVZERO( &op2.o_csn );
	op2.o_time = slap_get_time();
	op2.o_tincr = 0;
	op2.orm_modlist = mods;
	op2.orm_increment = 0;
	op2.orm_no_opattrs = 0;
	db->be_modify( &op2, &rs2 );
	if ( text )
		*text = rs2.sr_text;
	return rs2.sr_err;
}

static int
cp_del_response( Operation *op, SlapReply *rs )
{
	cp_del_cb *dc = op->o_callback->sc_private;
	Modifications *mods = NULL;
	Operation o = *op;
	int rc;

	if ( rs->sr_type != REP_RESULT || rs->sr_err == LDAP_SUCCESS ||
	     dc->dc_added == NULL )
		return SLAP_CB_CONTINUE;
	/* The delete failed: the certificates are still held; take the copies
	 * of their records back. */
	o.orm_modlist = NULL;
	cp_mod_append( &o, LDAP_MOD_DELETE, ad_certpinRevoked, dc->dc_added );
	if ( dc->dc_tps )
		cp_mod_append( &o, SLAP_MOD_SOFTDEL, ad_certpinRevokedThumbprint, dc->dc_tps );
	mods = o.orm_modlist;
	dc->dc_added = NULL;
	dc->dc_tps = NULL;
	rc = cp_internal_modify( op, dc->dc_db, &dc->dc_hist, mods, NULL );
	if ( rc != LDAP_SUCCESS ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: delete failed, and the copied "
			"revocation records could not be taken back from \"%s\" (%d)\n",
			op->o_log_prefix, dc->dc_hist.bv_val, rc );
	} else {
		Debug( LDAP_DEBUG_STATS, "%s certpin: delete of \"%s\" failed (%d): "
			"copied revocation records taken back from \"%s\"\n",
			op->o_log_prefix, op->o_req_ndn.bv_val, rs->sr_err, dc->dc_hist.bv_val );
	}
	slap_mods_free( mods, 1 );
	return SLAP_CB_CONTINUE;
}

static int
cp_del_cleanup( Operation *op, SlapReply *rs )
{
	cp_del_cb *dc = op->o_callback->sc_private;

	op->o_callback = NULL;	/* unlinks this callback */
	ber_bvarray_free( dc->dc_added );
	ber_bvarray_free( dc->dc_tps );
	op->o_tmpfree( dc->dc_hist.bv_val, op->o_tmpmemctx );
	op->o_tmpfree( dc, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

/* Add field "entry=<dn>" to record rec, unless it has one (a record that
 * moves again keeps the entry it came from); new value in out. */
static void
cp_rec_with_entry( struct berval *rec, struct berval *dn, struct berval *out )
{
	char *buf;
	size_t len = rec->bv_len;

	/* certpin_rec_add grows buf with realloc: plain malloc here */
	buf = malloc( len + 1 );
	if ( buf == NULL ) {
		ber_dupbv( out, rec );
		return;
	}
	if ( certpin_rec_get( rec->bv_val, rec->bv_len, "entry", buf, len + 1 ) >= 0 ) {
		free( buf );
		ber_dupbv( out, rec );
		return;
	}
	memcpy( buf, rec->bv_val, len );
	buf[len] = '\0';
	if ( certpin_rec_add( &buf, &len, "entry", dn->bv_val ) ) {
		free( buf );
		ber_dupbv( out, rec );
		return;
	}
	ber_str2bv( buf, len, 1, out );
	free( buf );
}

/* Would slapd let op delete e (deletes not restricted, a leaf, access to
 * the entry and to its parent's children)?  Called with op->o_bd = db. */
static int
cp_del_may_succeed( Operation *op, BackendDB *db, Entry *e )
{
	Entry *p = NULL;
	struct berval pdn;
	int hs = LDAP_COMPARE_FALSE, ok = 1;

	if ( ( frontendDB->be_restrictops | db->be_restrictops ) & SLAP_RESTRICT_OP_DELETE )
		return 0;
	if ( !access_allowed( op, e, slap_schema.si_ad_entry, NULL, ACL_WDEL, NULL ) )
		return 0;
	if ( db->be_has_subordinates &&
	     db->be_has_subordinates( op, e, &hs ) == LDAP_SUCCESS &&
	     hs == LDAP_COMPARE_TRUE )
		return 0;
	if ( be_issuffix( db, &e->e_nname ) )
		return 1;
	dnParent( &e->e_nname, &pdn );
	if ( be_entry_get_rw( op, &pdn, NULL, NULL, 0, &p ) == LDAP_SUCCESS && p ) {
		ok = access_allowed( op, p, slap_schema.si_ad_children, NULL, ACL_WDEL, NULL );
		be_entry_release_r( op, p );
	}
	return ok;
}

int
certpin_write_delete( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *db, *hdb, *obd = op->o_bd;
	Entry *e = NULL, *h = NULL;
	Attribute *certs, *recs, *a;
	struct berval hist = BER_BVNULL, *conf;
	BerVarray add = NULL, tps = NULL;
	Modifications *mods = NULL;
	cp_del_cb *dc;
	const char *text = NULL;
	char err[SLAP_TEXT_BUFLEN];
	int i, j, rc = LDAP_SUCCESS, ncerts = 0;

	db = certpin_select_db( op, &op->o_req_ndn );
	if ( db == NULL || SLAP_SINGLE_SHADOW( db ) )
		return SLAP_CB_CONTINUE;	/* the backend refers or refuses */
	if ( certpin_entry_get( op, db, &op->o_req_ndn, &e ) != LDAP_SUCCESS )
		return SLAP_CB_CONTINUE;	/* the backend reports noSuchObject */
	rc = LDAP_SUCCESS;

	certs = attr_find( e->e_attrs, ad_certpinCertBinary );
	recs = attr_find( e->e_attrs, ad_certpinRevoked );
	if ( certs == NULL && recs == NULL )
		goto done;
	op->o_bd = db;
	if ( !cp_del_may_succeed( op, db, e ) )
		goto done;	/* the backend refuses it: write nothing */
	op->o_bd = obd;
	op->o_bd->bd_info = bi;

	/* The records: one per certificate revoked now, and the old ones. */
	for ( i = 0; certs && i < certs->a_numvals; i++ ) {
		cp_cert c;
		struct berval rec, rec2;

		memset( &c, 0, sizeof( c ) );
		c.cc_der = certs->a_vals[i];
		certpin_sha256_hex( (unsigned char *)c.cc_der.bv_val, c.cc_der.bv_len, c.cc_sha256 );
		a = attr_find( e->e_attrs, ad_certpinCertInfo );
		for ( j = 0; a && j < a->a_numvals; j++ )
			if ( cp_rec_is( &a->a_vals[j], c.cc_sha256 ) )
				c.cc_info = a->a_vals[j];
		cp_revoked_rec( op, &c, &rec );
		cp_rec_with_entry( &rec, &e->e_name, &rec2 );
		ch_free( rec.bv_val );
		ber_bvarray_add( &add, &rec2 );
		ncerts++;
		Debug( LDAP_DEBUG_STATS, "%s certpin: deleting \"%s\" revokes certificate "
			"%s\n", op->o_log_prefix, op->o_req_ndn.bv_val, c.cc_sha256 );
		certpin_count_on_success( op, CP_CTR_REVOKED );
	}
	for ( i = 0; recs && i < recs->a_numvals; i++ ) {
		struct berval rec2;

		cp_rec_with_entry( &recs->a_vals[i], &e->e_name, &rec2 );
		ber_bvarray_add( &add, &rec2 );
	}

	/* Where they go. */
	conf = certpin_bind_history( ci );
	if ( conf && dnIsSuffix( conf, &op->o_req_ndn ) )
		conf = NULL;	/* the history entry itself goes: to its parent */
	if ( conf )
		ber_dupbv_x( &hist, conf, op->o_tmpmemctx );
	else if ( !be_issuffix( db, &op->o_req_ndn ) ) {
		struct berval parent;

		dnParent( &op->o_req_ndn, &parent );
		ber_dupbv_x( &hist, &parent, op->o_tmpmemctx );
	}
	hdb = BER_BVISEMPTY( &hist ) ? NULL : select_backend( &hist, 0 );
	if ( hdb != db ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: cannot delete \"%s\": its "
			"revocation records need a history entry in the same database "
			"(certpin-history \"%s\")\n", op->o_log_prefix,
			op->o_req_ndn.bv_val, hist.bv_val ? hist.bv_val : "" );
		snprintf( err, sizeof( err ), "certpin: this entry holds certificates "
			"or revocation records and no history entry can keep them "
			"(see certpin-history)" );
		rc = LDAP_UNWILLING_TO_PERFORM;
		goto done;
	}
	if ( certpin_entry_get( op, db, &hist, &h ) != LDAP_SUCCESS ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: cannot delete \"%s\": history "
			"entry \"%s\" does not exist\n", op->o_log_prefix,
			op->o_req_ndn.bv_val, hist.bv_val );
		snprintf( err, sizeof( err ), "certpin: this entry holds certificates "
			"or revocation records and the history entry that must keep "
			"them does not exist (see certpin-history)" );
		rc = LDAP_UNWILLING_TO_PERFORM;
		goto done;
	}
	rc = LDAP_SUCCESS;

	/* Only what the history entry does not hold yet. */
	a = attr_find( h->e_attrs, ad_certpinRevoked );
	for ( i = 0; a && add && add[i].bv_val; ) {
		for ( j = 0; j < a->a_numvals; j++ )
			if ( bvmatch( &a->a_vals[j], &add[i] ) )
				break;
		if ( j < a->a_numvals ) {
			int k;

			ch_free( add[i].bv_val );
			for ( k = i; add[k].bv_val; k++ )
				add[k] = add[k + 1];
		} else {
			i++;
		}
	}
	if ( add && add[0].bv_val == NULL ) {
		ber_bvarray_free( add );
		add = NULL;
	}
	if ( add ) {
		Operation o = *op;
		BerVarray dup = NULL;

		/* cp_mod_append appends to an operation's modlist: a copy's. */
		o.orm_modlist = NULL;
		if ( !is_entry_objectclass( h, oc_certpinHistory, 0 ) ) {
			BerVarray oc = NULL;

			value_add_one( &oc, &oc_certpinHistory->soc_cname );
			cp_mod_append( &o, LDAP_MOD_ADD, slap_schema.si_ad_objectClass, oc );
		}
		ber_bvarray_dup_x( &dup, add, NULL );
		cp_mod_append( &o, LDAP_MOD_ADD, ad_certpinRevoked, dup );
		cp_rec_thumbprints( add, attr_find( h->e_attrs, ad_certpinRevokedThumbprint ), &tps );
		if ( tps ) {
			dup = NULL;
			ber_bvarray_dup_x( &dup, tps, NULL );
			cp_mod_append( &o, SLAP_MOD_SOFTADD, ad_certpinRevokedThumbprint, dup );
		}
		mods = o.orm_modlist;

		rc = cp_internal_modify( op, db, &hist, mods, &text );
		slap_mods_free( mods, 1 );
		if ( rc != LDAP_SUCCESS ) {
			Debug( LDAP_DEBUG_ANY, "%s certpin: cannot delete \"%s\": "
				"keeping its revocation records on \"%s\" failed (%d %s)\n",
				op->o_log_prefix, op->o_req_ndn.bv_val, hist.bv_val, rc,
				text ? text : "" );
			snprintf( err, sizeof( err ), "certpin: the revocation records "
				"of this entry could not be kept" );
			rc = LDAP_OTHER;
			goto done;
		}
		Debug( LDAP_DEBUG_STATS, "%s certpin: revocation records of \"%s\" "
			"(%d certificate(s) held) copied to \"%s\"\n", op->o_log_prefix,
			op->o_req_ndn.bv_val, ncerts, hist.bv_val );
	}

	dc = op->o_tmpcalloc( 1, sizeof( cp_del_cb ), op->o_tmpmemctx );
	dc->dc_db = db;
	dc->dc_hist = hist;
	BER_BVZERO( &hist );
	dc->dc_added = add;
	add = NULL;
	dc->dc_tps = tps;
	tps = NULL;
	dc->dc_cb.sc_response = cp_del_response;
	dc->dc_cb.sc_cleanup = cp_del_cleanup;
	dc->dc_cb.sc_private = dc;
	dc->dc_cb.sc_next = op->o_callback;
	op->o_callback = &dc->dc_cb;

done:
	if ( h )
		certpin_entry_release( op, db, h );
	certpin_entry_release( op, db, e );
	op->o_bd = obd;		/* cp_del_may_succeed() may leave it on db */
	op->o_bd->bd_info = bi;
	if ( hist.bv_val )
		op->o_tmpfree( hist.bv_val, op->o_tmpmemctx );
	ber_bvarray_free( add );
	ber_bvarray_free( tps );
	if ( rc != LDAP_SUCCESS )
		return certpin_refuse( op, rs, rc, err );
	return SLAP_CB_CONTINUE;
}

/* ---- internal writes (provisioning, PIN failures) ---------------------- */

/* Apply mods (consumed) to entry ndn of db, directly on the database (not
 * through the frontend), as db's root DN with a fresh operation time and
 * the usual operational attributes.  Refused on a read-only replica.
 * Returns an LDAP result code; *text says why when it is not success. */
int
certpin_write_internal( Operation *op, BackendDB *db, struct berval *ndn,
	Modifications *mods, const char **text )
{
	Operation op2 = *op;
	SlapReply rs2 = { REP_RESULT };
	slap_callback cb = { 0 };

	*text = NULL;
	if ( db == NULL || db->be_modify == NULL ) {
		slap_mods_free( mods, 1 );
		*text = "certpin: the entry's database cannot be written";
		return LDAP_UNWILLING_TO_PERFORM;
	}
	if ( SLAP_SHADOW( db ) && !SLAP_MULTIPROVIDER( db ) ) {
		slap_mods_free( mods, 1 );
		*text = "certpin: the entry's database is a read-only replica; "
			"ask its provider";
		return LDAP_UNWILLING_TO_PERFORM;
	}
	cb.sc_response = slap_null_cb;
	certpin_op_as_root( &op2, db, LDAP_REQ_MODIFY, ndn, ndn, &cb );
	op2.o_managedsait = SLAP_CONTROL_NONE;
	op2.o_relax = SLAP_CONTROL_NONE;
	op2.o_dont_replicate = 0;
	op2.o_csn.bv_val = NULL;
	op2.o_csn.bv_len = 0;
	op2.orm_modlist = mods;
	op2.orm_no_opattrs = 0;
	op2.orm_increment = 0;
	slap_op_time( &op2.o_time, &op2.o_tincr );
	slap_mods_opattrs( &op2, &op2.orm_modlist, 1 );

	db->be_modify( &op2, &rs2 );

	slap_mods_free( op2.orm_modlist, 1 );
	if ( rs2.sr_err != LDAP_SUCCESS ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: internal modify of \"%s\" "
			"failed: %d %s\n", op->o_log_prefix, ndn->bv_val, rs2.sr_err,
			rs2.sr_text ? rs2.sr_text : "" );
		*text = "certpin: the entry could not be updated";
	}
	return rs2.sr_err;
}

/* Prepend one internal modification to *mods; vals is consumed. */
static void
cp_mods_add( Modifications **mods, short mop, AttributeDescription *ad,
	BerVarray vals )
{
	Modifications *m = certpin_mod_new( mop, ad, vals );

	m->sml_next = *mods;
	*mods = m;
}

int
certpin_write_record( Operation *op, BackendDB *db, struct berval *ndn,
	struct berval *der, certpin_certinfo *info, const char *endpoint,
	SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	certpin_info *ci = on->on_bi.bi_private;
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *obd = op->o_bd;
	Modifications *mods = NULL;
	BerVarray v = NULL;
	Entry *e = NULL;
	Attribute *a;
	struct berval rec = BER_BVNULL;
	char hex[65], why[200];
	const char *text = NULL;
	int rc, held = 0;

	rs->sr_text = NULL;
	if ( certpin_entry_get( op, db, ndn, &e ) != LDAP_SUCCESS ) {
		rs->sr_text = "certpin: no such entry";
		return LDAP_NO_SUCH_OBJECT;
	}
	a = attr_find( e->e_attrs, ad_certpinCertBinary );
	held = a ? a->a_numvals : 0;
	certpin_entry_release( op, db, e );
	if ( held + 1 > ci->ci_max_certs ) {
		rs->sr_text = "certpinCertificate: the entry holds as many "
			"certificates as it may (certpin-max-certificates)";
		return LDAP_CONSTRAINT_VIOLATION;
	}
	/* fresh op time: the record's "published" */
	slap_op_time( &op->o_time, &op->o_tincr );
	if ( info ? cp_info_rec( op, info, endpoint, &rec, why, sizeof( why ) ) :
		    cp_info_new( op, der, endpoint, &rec, why, sizeof( why ) ) ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: issued certificate unreadable: %s\n",
			op->o_log_prefix, why );
		rs->sr_text = "certpin: the issued certificate cannot be recorded";
		return LDAP_OTHER;
	}
	if ( info )
		memcpy( hex, info->ci_sha256, sizeof( hex ) );
	else
		certpin_sha256_hex( (unsigned char *)der->bv_val, der->bv_len, hex );
	rc = cp_check_new( op, db, ndn, hex, why, sizeof( why ) );
	if ( rc != LDAP_SUCCESS ) {
		ch_free( rec.bv_val );
		rs->sr_text = "certpinCertificate: the issued certificate is "
			"already on file or revoked";
		return rc;
	}

	ber_bvarray_add( &v, &rec );
	cp_mods_add( &mods, LDAP_MOD_ADD, ad_certpinCertInfo, v );
	v = NULL;
	value_add_one( &v, &(struct berval){ 64, hex } );
	cp_mods_add( &mods, LDAP_MOD_ADD, ad_certpinThumbprint, v );
	v = NULL;
	value_add_one( &v, der );
	cp_mods_add( &mods, LDAP_MOD_ADD, ad_certpinCertBinary, v );

	rc = certpin_write_internal( op, db, ndn, mods, &text );
	op->o_bd = obd;
	op->o_bd->bd_info = bi;
	if ( rc != LDAP_SUCCESS ) {
		rs->sr_text = text;
		return rc;
	}
	Debug( LDAP_DEBUG_STATS, "%s certpin: recorded certificate %s on \"%s\"%s%s\n",
		op->o_log_prefix, hex, ndn->bv_val, endpoint ? " endpoint=" : "",
		endpoint ? endpoint : "" );
	return LDAP_SUCCESS;
}
