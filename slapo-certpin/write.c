/* write.c - certpin's write gate: certificate metadata and revocation
 *
 * The database instance of the overlay (the last overlay configured on
 * every database) is the one gate for every write: adds, modifies,
 * renames and deletes of any origin (client operations passed down by the
 * frontend, the operations of an LDAP transaction at commit, back-relay and
 * rwm views, other overlays' internal operations).  Replication (syncrepl)
 * stores what the provider stored and certpin's own internal writes come
 * as they are; the revocations among them are still reported to bind.c.
 *   - One derivation (cp_derive) takes the entry's certificates before the
 *     write and the write itself and gives the certificates after it,
 *     matching values as the backend does (certificateExactMatch: serial
 *     and issuer): what the overlay revokes is what the backend removes.
 *     The maintained attributes (certpinThumbprint, certpinCertInfo) and
 *     the revocation records (certpinRevoked, certpinRevokedThumbprint)
 *     come from that one difference, in the same operation.
 *   - Added certificates are parsed (lib/certinfo.c); bytes that are not
 *     one well-formed X.509 certificate, a certificate already on file for
 *     another entry of any database, and a certificate revoked anywhere are
 *     refused, under one lock held until the backend has answered.
 *   - Removed certificates (delete, replace, removal of the certpinUser
 *     class) leave a certpinRevoked record: thumbprint, time, who, reason;
 *     deleting an entry copies its records to a history entry first.
 *   - No RDN names a certpin attribute; renaming an entry that holds
 *     certificates ends their sessions.
 * Clients never write the maintained attributes themselves.  A reason for a
 * revocation may be supplied by adding "sha256=<hex>$reason=<text>" to
 * certpinRevoked in the same modify that deletes the certificate; the
 * overlay completes the record.  An administrator (root DN or
 * certpin-admin-group) clears a revocation record by deleting that
 * certpinRevoked value with the Relax Rules control.
 *
 * The frontend instance (certpin_write_frontend) refuses writes of certpin
 * data into databases without an instance, and holds the uniqueness lock
 * over a transaction's commit.
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

/* ---- the certificate sets ---------------------------------------------- */

/* One certificate of the entry, before or after the write. */
typedef struct cp_cert {
	struct berval	cc_der;		/* not owned */
	struct berval	cc_norm;	/* as certificateExactMatch compares it
					 * (serial and issuer), o_tmpmemctx */
	char		cc_sha256[65];
	struct berval	cc_info;	/* existing certpinCertInfo value, not owned */
	struct berval	cc_reason;	/* revocation reason, not owned */
} cp_cert;

typedef struct cp_certs {
	cp_cert		*cs_c;
	int		cs_n, cs_max;
} cp_certs;

/* The one difference every write path works from: the entry's
 * certificates before the write and after it, as the backend will store
 * them. */
typedef struct cp_delta {
	cp_certs	cd_before;
	cp_certs	cd_after;
	int		cd_whole;	/* every certificate replaced or removed */
	int		cd_classgone;	/* certpinUser removed: the certificates go */
	int		cd_touched;	/* the write names certpinCertificate */
} cp_delta;

/* ---- records ---------------------------------------------------------- */

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

/* Attributes only the overlay writes (any options included). */
static int
cp_maintained( AttributeDescription *ad )
{
	return ad->ad_type == ad_certpinThumbprint->ad_type ||
		ad->ad_type == ad_certpinCertInfo->ad_type ||
		ad->ad_type == ad_certpinPINFailure->ad_type ||
		ad->ad_type == ad_certpinRevokedThumbprint->ad_type;
}

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

/* v normalized as the backend compares certpinCertificate values (its
 * EQUALITY rule, certificateExactMatch: serial and issuer); bytes that do
 * not parse compare as themselves. */
static void
cp_cert_norm( Operation *op, struct berval *v, struct berval *out )
{
	MatchingRule *mr = ad_certpinCertificate->ad_type->sat_equality;

	BER_BVZERO( out );
	if ( mr && mr->smr_normalize &&
	     mr->smr_normalize( SLAP_MR_VALUE_OF_ATTRIBUTE_SYNTAX,
			ad_certpinCertificate->ad_type->sat_syntax, mr, v, out,
			op->o_tmpmemctx ) == LDAP_SUCCESS )
		return;
	ber_dupbv_x( out, v, op->o_tmpmemctx );
}

static int
cp_certs_find( cp_certs *s, struct berval *norm )
{
	int i;

	for ( i = 0; i < s->cs_n; i++ )
		if ( bvmatch( &s->cs_c[i].cc_norm, norm ) )
			return i;
	return -1;
}

static int
cp_certs_find_hex( cp_certs *s, const char *hex )
{
	int i;

	for ( i = 0; i < s->cs_n; i++ )
		if ( strcmp( s->cs_c[i].cc_sha256, hex ) == 0 )
			return i;
	return -1;
}

/* Append der (normalized norm, consumed; NULL: computed here; its SHA-256
 * in hex, or NULL: computed here). */
static cp_cert *
cp_certs_add_hashed( Operation *op, cp_certs *s, struct berval *der, struct berval *norm,
	const char *sha256 )
{
	cp_cert *c;

	if ( s->cs_n == s->cs_max ) {
		s->cs_max = s->cs_max ? 2 * s->cs_max : 8;
		s->cs_c = op->o_tmprealloc( s->cs_c, s->cs_max * sizeof( cp_cert ),
			op->o_tmpmemctx );
	}
	c = &s->cs_c[s->cs_n++];
	memset( c, 0, sizeof( *c ) );
	c->cc_der = *der;
	if ( norm )
		c->cc_norm = *norm;
	else
		cp_cert_norm( op, der, &c->cc_norm );
	if ( sha256 )
		memcpy( c->cc_sha256, sha256, sizeof( c->cc_sha256 ) );
	else
		certpin_sha256_hex( (unsigned char *)der->bv_val, der->bv_len, c->cc_sha256 );
	return c;
}

static cp_cert *
cp_certs_add( Operation *op, cp_certs *s, struct berval *der, struct berval *norm )
{
	return cp_certs_add_hashed( op, s, der, norm, NULL );
}

static void
cp_certs_del( Operation *op, cp_certs *s, int i )
{
	op->o_tmpfree( s->cs_c[i].cc_norm.bv_val, op->o_tmpmemctx );
	s->cs_c[i] = s->cs_c[--s->cs_n];
}

static void
cp_certs_clear( Operation *op, cp_certs *s )
{
	while ( s->cs_n )
		cp_certs_del( op, s, s->cs_n - 1 );
}

static void
cp_certs_free( Operation *op, cp_certs *s )
{
	cp_certs_clear( op, s );
	if ( s->cs_c )
		op->o_tmpfree( s->cs_c, op->o_tmpmemctx );
	s->cs_c = NULL;
	s->cs_max = 0;
}

static void
cp_delta_free( Operation *op, cp_delta *d )
{
	cp_certs_free( op, &d->cd_before );
	cp_certs_free( op, &d->cd_after );
}

/* The normalized form of value i of a modification (its own when slapd
 * computed it, else computed here). */
static void
cp_mod_norm( Operation *op, Modifications *m, int i, struct berval *out )
{
	if ( m->sml_nvalues && m->sml_nvalues != m->sml_values &&
	     m->sml_nvalues[i].bv_val )
		ber_dupbv_x( out, &m->sml_nvalues[i], op->o_tmpmemctx );
	else
		cp_cert_norm( op, &m->sml_values[i], out );
}

/* THE derivation: from the entry's certificates before the write (e; NULL
 * for an add) and the write op (add entry, modlist, new RDN, delete) to
 * the certificates after it, matching values exactly as the backend does
 * (certificateExactMatch).  Values the backend would refuse or ignore
 * (adding one it holds, deleting one it lacks) change nothing here: the
 * backend then fails the whole write, or ignores them, as it stores. */
static int
cp_derive( Operation *op, Entry *e, cp_delta *d, char *err, size_t errlen )
{
	Attribute *a;
	Modifications *m;
	int i, j;

	memset( d, 0, sizeof( *d ) );
	if ( e ) {
		Attribute *info = attr_find( e->e_attrs, ad_certpinCertInfo );

		a = attr_find( e->e_attrs, ad_certpinCertBinary );
		for ( i = 0; a && i < a->a_numvals; i++ ) {
			struct berval n;
			cp_cert *c;

			if ( a->a_nvals != a->a_vals )
				ber_dupbv_x( &n, &a->a_nvals[i], op->o_tmpmemctx );
			else
				cp_cert_norm( op, &a->a_vals[i], &n );
			c = cp_certs_add( op, &d->cd_before, &a->a_vals[i], &n );
			for ( j = 0; info && j < info->a_numvals; j++ )
				if ( cp_rec_is( &info->a_vals[j], c->cc_sha256 ) )
					c->cc_info = info->a_vals[j];
		}
		/* after = before, to start with: the same values, normalized and
		 * hashed once */
		for ( i = 0; i < d->cd_before.cs_n; i++ ) {
			cp_cert *bc = &d->cd_before.cs_c[i], *ac;
			struct berval n;

			ber_dupbv_x( &n, &bc->cc_norm, op->o_tmpmemctx );
			ac = cp_certs_add_hashed( op, &d->cd_after, &bc->cc_der, &n, bc->cc_sha256 );
			ac->cc_info = bc->cc_info;
		}
	}

	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
		a = attr_find( op->ora_e->e_attrs, ad_certpinCertBinary );
		d->cd_touched = a != NULL;
		for ( i = 0; a && i < a->a_numvals; i++ ) {
			struct berval n;

			if ( a->a_nvals != a->a_vals )
				ber_dupbv_x( &n, &a->a_nvals[i], op->o_tmpmemctx );
			else
				cp_cert_norm( op, &a->a_vals[i], &n );
			if ( cp_certs_find( &d->cd_after, &n ) >= 0 ) {
				op->o_tmpfree( n.bv_val, op->o_tmpmemctx );
				snprintf( err, errlen, "certpinCertificate: value #%d "
					"repeats another value (same serial and issuer)", i );
				return LDAP_CONSTRAINT_VIOLATION;
			}
			cp_certs_add( op, &d->cd_after, &a->a_vals[i], &n );
		}
		break;

	case LDAP_REQ_MODIFY:
		for ( m = op->orm_modlist; m; m = m->sml_next ) {
			if ( m->sml_desc == slap_schema.si_ad_objectClass &&
			     m->sml_op != LDAP_MOD_ADD && m->sml_op != SLAP_MOD_SOFTADD &&
			     m->sml_op != SLAP_MOD_ADD_IF_NOT_PRESENT )
				d->cd_classgone = 1;	/* decided below */
			if ( m->sml_desc != ad_certpinCertBinary )
				continue;
			d->cd_touched = 1;
			switch ( m->sml_op ) {
			case LDAP_MOD_REPLACE:
				d->cd_whole = 1;
				cp_certs_clear( op, &d->cd_after );
				/* FALLTHRU */
			case LDAP_MOD_ADD:
			case SLAP_MOD_SOFTADD:
			case SLAP_MOD_ADD_IF_NOT_PRESENT:
				for ( i = 0; m->sml_values && m->sml_values[i].bv_val; i++ ) {
					struct berval n;

					cp_mod_norm( op, m, i, &n );
					if ( cp_certs_find( &d->cd_after, &n ) >= 0 ) {
						op->o_tmpfree( n.bv_val, op->o_tmpmemctx );
						continue;
					}
					cp_certs_add( op, &d->cd_after, &m->sml_values[i], &n );
				}
				break;
			case LDAP_MOD_DELETE:
			case SLAP_MOD_SOFTDEL:
				if ( m->sml_values == NULL ) {
					d->cd_whole = 1;
					cp_certs_clear( op, &d->cd_after );
					break;
				}
				for ( i = 0; m->sml_values[i].bv_val; i++ ) {
					struct berval n;
					int k;

					cp_mod_norm( op, m, i, &n );
					k = cp_certs_find( &d->cd_after, &n );
					op->o_tmpfree( n.bv_val, op->o_tmpmemctx );
					if ( k >= 0 )
						cp_certs_del( op, &d->cd_after, k );
				}
				break;
			default:
				snprintf( err, errlen, "certpinCertificate: unsupported modification" );
				return LDAP_CONSTRAINT_VIOLATION;
			}
		}
		if ( d->cd_classgone ) {
			d->cd_classgone = e && !cp_class_after( e, op->orm_modlist );
			if ( d->cd_classgone ) {
				d->cd_whole = 1;
				cp_certs_clear( op, &d->cd_after );
			}
		}
		break;

	case LDAP_REQ_DELETE:
		d->cd_whole = 1;
		cp_certs_clear( op, &d->cd_after );
		break;

	case LDAP_REQ_MODRDN:
		/* an RDN never names certpinCertificate (refused before): the
		 * certificates stay */
		break;
	}
	return LDAP_SUCCESS;
}

/* ---- checks ------------------------------------------------------------ */

/* Checks on a certificate about to be added to entry ndn: on file for
 * another entry of any database, or revoked anywhere.  Returns an LDAP
 * result code, text in err.  Call with the uniqueness lock held. */
static int
cp_check_new( Operation *op, struct berval *ndn, const char *hex,
	char *err, size_t errlen )
{
	struct berval owner = BER_BVNULL;
	int n, rc = LDAP_SUCCESS;

	n = certpin_find_thumbprint_all( op, hex, 1, &owner );
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

/* Does the RDN of dn name a certpin attribute?  Its name in *name. */
static int
cp_rdn_names_certpin( Operation *op, struct berval *dn, const char **name )
{
	LDAPRDN rdn = NULL;
	char *p;
	int i, found = 0;

	if ( BER_BVISEMPTY( dn ) )
		return 0;
	if ( ldap_bv2rdn_x( dn, &rdn, &p, LDAP_DN_FORMAT_LDAP, op->o_tmpmemctx ) ) {
		*name = "an RDN that does not parse";
		return 1;
	}
	for ( i = 0; rdn[i] && !found; i++ ) {
		AttributeDescription *ad = NULL;
		const char *text;

		if ( slap_bv2ad( &rdn[i]->la_attr, &ad, &text ) != LDAP_SUCCESS )
			continue;
		if ( certpin_is_certpin_at( ad ) ) {
			*name = ad->ad_type->sat_cname.bv_val;
			found = 1;
		}
	}
	ldap_rdnfree_x( rdn, op->o_tmpmemctx );
	return found;
}

/* ---- the gate's per-operation state ------------------------------------ */

typedef struct cp_gate {
	slap_callback	cg_cb;
	int		cg_locked;	/* holds the uniqueness lock */
	int		cg_revokes;	/* a success ends certificate sessions */
	/* delete: the records copied to the history entry */
	BackendDB	*cg_db;
	struct berval	cg_hist;	/* o_tmpmemctx */
	BerVarray	cg_added;	/* ch_malloc */
	BerVarray	cg_tps;		/* ch_malloc */
} cp_gate;

static void cp_del_takeback( Operation *op, cp_gate *cg, int err );

static int
cp_gate_response( Operation *op, SlapReply *rs )
{
	cp_gate *cg = op->o_callback->sc_private;

	if ( rs->sr_type != REP_RESULT )
		return SLAP_CB_CONTINUE;
	if ( cg->cg_locked ) {
		cg->cg_locked = 0;
		certpin_uniq_unlock();
	}
	if ( rs->sr_err == LDAP_SUCCESS ) {
		/* inside a transaction the frontend reports at commit */
		if ( cg->cg_revokes && !op->o_txnSpec )
			certpin_bind_revoked( op );
	} else if ( cg->cg_added && !op->o_txnSpec ) {
		cp_del_takeback( op, cg, rs->sr_err );
	}
	return SLAP_CB_CONTINUE;
}

static int
cp_gate_cleanup( Operation *op, SlapReply *rs )
{
	cp_gate *cg = op->o_callback->sc_private;

	op->o_callback = NULL;	/* unlinks this callback */
	if ( cg->cg_locked )
		certpin_uniq_unlock();
	ber_bvarray_free( cg->cg_added );
	ber_bvarray_free( cg->cg_tps );
	if ( cg->cg_hist.bv_val )
		op->o_tmpfree( cg->cg_hist.bv_val, op->o_tmpmemctx );
	op->o_tmpfree( cg, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

static cp_gate *
cp_gate_push( Operation *op )
{
	cp_gate *cg = op->o_tmpcalloc( 1, sizeof( cp_gate ), op->o_tmpmemctx );

	cg->cg_cb.sc_response = cp_gate_response;
	cg->cg_cb.sc_cleanup = cp_gate_cleanup;
	cg->cg_cb.sc_private = cg;
	cg->cg_cb.sc_next = op->o_callback;
	op->o_callback = &cg->cg_cb;
	return cg;
}

/* Is op a write the gate stores as it is: replication (a syncrepl
 * consumer stores what the provider stored; only its own connections, not
 * a client bound as an update DN) or certpin's own internal write? */
static int
cp_passthrough( Operation *op )
{
	return certpin_is_internal( op ) ||
		( SLAP_SYNC_SHADOW( op->o_bd ) && SLAPD_SYNC_IS_SYNCCONN( op->o_connid ) );
}

/* A replicated write that may remove certificates: sessions re-check. */
static int
cp_repl_may_revoke( Operation *op )
{
	Modifications *m;

	if ( op->o_tag == LDAP_REQ_DELETE || op->o_tag == LDAP_REQ_MODRDN )
		return 1;
	if ( op->o_tag != LDAP_REQ_MODIFY )
		return 0;
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		if ( m->sml_op != LDAP_MOD_ADD && m->sml_op != SLAP_MOD_SOFTADD &&
		     ( m->sml_desc->ad_type == ad_certpinCertificate->ad_type ||
		       m->sml_desc == slap_schema.si_ad_objectClass ) )
			return 1;
	}
	return 0;
}

/* Common start of the gate: the writes it lets through as they are.
 * Returns SLAP_CB_CONTINUE to let op go on untouched, 0 to gate it; ci in
 * *cip. */
static int
cp_gate_start( Operation *op, SlapReply *rs, certpin_info **cip )
{
	*cip = NULL;
	if ( certpin_db_is_view( op->o_bd ) )
		return SLAP_CB_CONTINUE;	/* the real database's gate acts */
	if ( cp_passthrough( op ) ) {
		if ( !certpin_is_internal( op ) && cp_repl_may_revoke( op ) )
			cp_gate_push( op )->cg_revokes = 1;
		return SLAP_CB_CONTINUE;
	}
	*cip = certpin_ci( op );
	return 0;
}

/* Without the frontend's configuration (its instance was removed over
 * cn=config) the gate refuses every write that touches certpin data. */
static int
cp_gate_closed( Operation *op, SlapReply *rs )
{
	return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
		"certpin: the frontend has no certpin instance; certpin data "
		"cannot be written (add olcOverlay=certpin to the frontend)" );
}

/* Take the uniqueness lock for a write that adds certificates.  Inside a
 * transaction the frontend took it for the whole commit (txn end); a
 * commit that does not hold it cannot add certificates. */
static int
cp_gate_lock( Operation *op, SlapReply *rs, cp_gate *cg )
{
	if ( op->o_txnSpec && !certpin_uniq_held() ) {
		return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM,
			"certpin: certificates cannot be added inside this "
			"transaction" );
	}
	certpin_uniq_lock();
	cg->cg_locked = 1;
	return LDAP_SUCCESS;
}
/* ---- the maintained attributes ----------------------------------------- */

/* Set ad of entry e to want (consumed): value by value (cp_mod_diff)
 * unless whole, or unless the stored attribute lacks the normalized values
 * its matching rule gives (written by an older certpin): then replaced, so
 * that slapd never merges normalized values into an attribute that has
 * none. */
static void
cp_mod_set( Operation *op, Entry *e, AttributeDescription *ad, BerVarray want,
	int whole )
{
	Attribute *a = attr_find( e->e_attrs, ad );
	MatchingRule *mr = ad->ad_type->sat_equality;

	if ( !whole && a && a->a_nvals == a->a_vals && mr && mr->smr_normalize )
		whole = 1;
	if ( whole )
		cp_mod_append( op, LDAP_MOD_REPLACE, ad, want );
	else
		cp_mod_diff( op, e, ad, want );
}

/* The certpinCertInfo record of certificate c after the write: its
 * existing one, or a new one (new certificates, and kept ones that lack
 * theirs).  -1 (err set) when c does not parse. */
static int
cp_info_of( Operation *op, cp_cert *c, struct berval *rec, char *err, size_t errlen )
{
	if ( c->cc_info.bv_val ) {
		ber_dupbv( rec, &c->cc_info );
		return 0;
	}
	return cp_info_new( op, &c->cc_der, NULL, rec, err, errlen );
}

/* Attributes a client never writes (certpinRevoked has its own rules). */
static int
cp_refuse_attr( Operation *op, SlapReply *rs, AttributeDescription *ad )
{
	char err[SLAP_TEXT_BUFLEN];

	if ( ad->ad_type == ad_certpinCertificate->ad_type && ad != ad_certpinCertBinary )
		return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION,
			"certpinCertificate is written as certpinCertificate;binary, "
			"with no other option" );
	snprintf( err, sizeof( err ), "%s is maintained by the certpin "
		"overlay and cannot be written", ad->ad_cname.bv_val );
	return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION, err );
}

/* ---- add --------------------------------------------------------------- */

int
certpin_write_add( Operation *op, SlapReply *rs )
{
	certpin_info *ci;
	Entry *e = op->ora_e;
	Attribute *a;
	cp_delta d;
	cp_gate *cg;
	BerVarray tp = NULL, info = NULL;
	char err[SLAP_TEXT_BUFLEN], why[200];
	const char *name;
	int i, rc;

	if ( cp_gate_start( op, rs, &ci ) == SLAP_CB_CONTINUE )
		return SLAP_CB_CONTINUE;
	for ( a = e->e_attrs; a; a = a->a_next ) {
		if ( ( a->a_desc->ad_type == ad_certpinCertificate->ad_type &&
		       a->a_desc != ad_certpinCertBinary ) ||
		     cp_maintained( a->a_desc ) ||
		     a->a_desc->ad_type == ad_certpinRevoked->ad_type )
			return cp_refuse_attr( op, rs, a->a_desc );
	}
	if ( cp_rdn_names_certpin( op, &e->e_name, &name ) ) {
		snprintf( err, sizeof( err ), "certpin: an RDN may not name %s", name );
		return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION, err );
	}
	a = attr_find( e->e_attrs, ad_certpinCertBinary );
	if ( a == NULL )
		return SLAP_CB_CONTINUE;
	if ( ci == NULL )
		return cp_gate_closed( op, rs );

	rc = cp_derive( op, NULL, &d, err, sizeof( err ) );
	if ( rc != LDAP_SUCCESS )
		goto fail;
	if ( d.cd_after.cs_n > ci->ci_max_certs ) {
		snprintf( err, sizeof( err ), "certpinCertificate: at most %d "
			"certificates per entry (certpin-max-certificates)", ci->ci_max_certs );
		rc = LDAP_CONSTRAINT_VIOLATION;
		goto fail;
	}
	for ( i = 0; i < d.cd_after.cs_n; i++ ) {
		cp_cert *c = &d.cd_after.cs_c[i];
		struct berval rec;

		if ( cp_info_new( op, &c->cc_der, NULL, &rec, why, sizeof( why ) ) ) {
			snprintf( err, sizeof( err ), "certpinCertificate: value #%d: %s", i, why );
			rc = LDAP_CONSTRAINT_VIOLATION;
			goto fail;
		}
		ber_bvarray_add( &info, &rec );
		value_add_one( &tp, &(struct berval){ 64, c->cc_sha256 } );
	}

	cg = cp_gate_push( op );
	if ( cp_gate_lock( op, rs, cg ) != LDAP_SUCCESS )
		goto sent;	/* refused, sent */
	for ( i = 0; i < d.cd_after.cs_n; i++ ) {
		rc = cp_check_new( op, &e->e_nname, d.cd_after.cs_c[i].cc_sha256,
			err, sizeof( err ) );
		if ( rc != LDAP_SUCCESS )
			goto fail;
	}
	/* values and normalized values, as slapd builds them */
	attr_merge_normalize( e, ad_certpinThumbprint, tp, op->o_tmpmemctx );
	attr_merge_normalize( e, ad_certpinCertInfo, info, op->o_tmpmemctx );
	ber_bvarray_free( tp );
	ber_bvarray_free( info );
	cp_delta_free( op, &d );
	return SLAP_CB_CONTINUE;

fail:
	certpin_refuse( op, rs, rc, err );
sent:
	ber_bvarray_free( tp );
	ber_bvarray_free( info );
	cp_delta_free( op, &d );
	return rs->sr_err;
}

/* ---- modify ------------------------------------------------------------ */

int
certpin_write_modify( Operation *op, SlapReply *rs )
{
	certpin_info *ci;
	Modifications *m, **mp;
	BackendDB *db;
	Entry *e = NULL;
	cp_delta d;
	cp_gate *cg = NULL;
	BerVarray tp = NULL, info = NULL, revoked = NULL, rtp = NULL;
	char err[SLAP_TEXT_BUFLEN], why[200];
	int touches = 0, classmod = 0, clears = 0, i, n, rc = LDAP_SUCCESS;
	int added = 0, removed = 0, adds = 0;

	memset( &d, 0, sizeof( d ) );
	if ( cp_gate_start( op, rs, &ci ) == SLAP_CB_CONTINUE )
		return SLAP_CB_CONTINUE;

	/* What does the request touch? */
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		AttributeDescription *ad = m->sml_desc;

		if ( ad->ad_type == ad_certpinCertificate->ad_type && ad != ad_certpinCertBinary )
			return cp_refuse_attr( op, rs, ad );
		if ( cp_maintained( ad ) ) {
			/* an administrator unlocks a PIN (pin.c) */
			if ( ad == ad_certpinPINFailure && m->sml_op == LDAP_MOD_DELETE &&
			     m->sml_values == NULL && ci && certpin_pin_may_unlock( op ) )
				continue;
			return cp_refuse_attr( op, rs, ad );
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
		if ( ad == ad_certpinCertBinary ) {
			touches = 1;
			if ( m->sml_values && m->sml_op != LDAP_MOD_DELETE &&
			     m->sml_op != SLAP_MOD_SOFTDEL )
				adds = 1;
		} else if ( ad == slap_schema.si_ad_objectClass && m->sml_op != LDAP_MOD_ADD )
			classmod = 1;
	}
	if ( !touches && !classmod && !clears )
		return SLAP_CB_CONTINUE;
	if ( ci == NULL )
		return cp_gate_closed( op, rs );
	/* A write that may add certificates takes the uniqueness lock before
	 * it reads anything: the entry read below opens the read snapshot its
	 * checks search in. */
	cg = cp_gate_push( op );
	if ( adds && cp_gate_lock( op, rs, cg ) != LDAP_SUCCESS )
		return rs->sr_err;

	db = certpin_select_db( op, &op->o_req_ndn );
	if ( db == NULL )
		return SLAP_CB_CONTINUE;
	if ( clears && !certpin_is_admin( op, db ) ) {
		return certpin_refuse( op, rs, LDAP_INSUFFICIENT_ACCESS,
			"certpinRevoked: clearing a revocation record requires an "
			"administrator (the root DN or a member of certpin-admin-group)" );
	}
	if ( certpin_entry_get( op, db, &op->o_req_ndn, &e ) != LDAP_SUCCESS )
		return SLAP_CB_CONTINUE;	/* the backend reports noSuchObject */
	if ( clears )
		cp_clear_thumbprints( op, e );
	if ( !touches && !classmod )
		goto done;

	rc = cp_derive( op, e, &d, err, sizeof( err ) );
	if ( rc != LDAP_SUCCESS )
		goto done;

	/* Reasons supplied for revocations in this operation: each names a
	 * certificate this write removes. */
	for ( m = op->orm_modlist; m; m = m->sml_next ) {
		if ( m->sml_desc != ad_certpinRevoked || m->sml_op != LDAP_MOD_ADD )
			continue;
		for ( i = 0; m->sml_values && m->sml_values[i].bv_val; i++ ) {
			struct berval *v = &m->sml_values[i];
			int found = 0;

			for ( n = 0; n < d.cd_before.cs_n; n++ ) {
				cp_cert *c = &d.cd_before.cs_c[n];

				if ( cp_rec_is( v, c->cc_sha256 ) &&
				     cp_certs_find_hex( &d.cd_after, c->cc_sha256 ) < 0 ) {
					c->cc_reason = *v;
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

	/* The certificates after the write, and their metadata. */
	for ( n = 0; n < d.cd_after.cs_n; n++ ) {
		cp_cert *c = &d.cd_after.cs_c[n];
		struct berval rec;
		int old = cp_certs_find_hex( &d.cd_before, c->cc_sha256 ) >= 0;

		if ( cp_info_of( op, c, &rec, why, sizeof( why ) ) ) {
			if ( old )
				continue;	/* an unreadable old value: kept, no metadata */
			snprintf( err, sizeof( err ), "certpinCertificate: %s", why );
			rc = LDAP_CONSTRAINT_VIOLATION;
			goto done;
		}
		if ( !old )
			added++;
		ber_bvarray_add( &info, &rec );
		value_add_one( &tp, &(struct berval){ 64, c->cc_sha256 } );
	}
	if ( added && d.cd_after.cs_n > ci->ci_max_certs ) {
		rc = LDAP_CONSTRAINT_VIOLATION;
		snprintf( err, sizeof( err ), "certpinCertificate: at most %d "
			"certificates per entry (certpin-max-certificates)", ci->ci_max_certs );
		goto done;
	}
	/* ... and the ones it removes: revocation records. */
	for ( n = 0; n < d.cd_before.cs_n; n++ ) {
		cp_cert *c = &d.cd_before.cs_c[n];
		struct berval rec;

		if ( cp_certs_find_hex( &d.cd_after, c->cc_sha256 ) >= 0 )
			continue;
		cp_revoked_rec( op, c, &rec );
		ber_bvarray_add( &revoked, &rec );
		removed++;
		Debug( LDAP_DEBUG_STATS, "%s certpin: revoked certificate %s of \"%s\"\n",
			op->o_log_prefix, c->cc_sha256, op->o_req_ndn.bv_val );
		certpin_count_on_success( op, CP_CTR_REVOKED );
	}

	cg->cg_revokes = removed > 0;
	if ( added ) {
		for ( n = 0; n < d.cd_after.cs_n; n++ ) {
			cp_cert *c = &d.cd_after.cs_c[n];

			if ( cp_certs_find_hex( &d.cd_before, c->cc_sha256 ) >= 0 )
				continue;
			rc = cp_check_new( op, &op->o_req_ndn, c->cc_sha256, err, sizeof( err ) );
			if ( rc != LDAP_SUCCESS )
				goto done;
		}
	}

	/* Rewrite the request: drop the reason values, append ours. */
	for ( mp = &op->orm_modlist; *mp; ) {
		m = *mp;
		if ( m->sml_desc == ad_certpinRevoked && m->sml_op == LDAP_MOD_ADD ) {
			*mp = m->sml_next;
			m->sml_next = NULL;
			slap_mods_free( m, 1 );
			continue;
		}
		mp = &m->sml_next;
	}
	if ( d.cd_classgone && ( d.cd_before.cs_n || d.cd_touched ) )
		cp_mod_append( op, LDAP_MOD_REPLACE, ad_certpinCertBinary, NULL );
	cp_mod_set( op, e, ad_certpinThumbprint, tp, d.cd_whole );
	cp_mod_set( op, e, ad_certpinCertInfo, info, d.cd_whole );
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
	if ( rc != LDAP_SUCCESS )
		certpin_refuse( op, rs, rc, err );
	if ( e )
		certpin_entry_release( op, db, e );
	cp_delta_free( op, &d );
	ber_bvarray_free( tp );
	ber_bvarray_free( info );
	ber_bvarray_free( revoked );
	if ( rc != LDAP_SUCCESS )
		return rs->sr_err;
	return SLAP_CB_CONTINUE;
}

/* ---- modrdn ------------------------------------------------------------ */

/* No RDN names a certpin attribute, new or old: with deleteoldrdn off a
 * rename writes the RDN's values into the entry, which would write
 * maintained attributes (or a cleartext PIN into the DN).  A rename of an
 * entry holding certificates ends their sessions (they act under the old
 * DN). */
int
certpin_write_modrdn( Operation *op, SlapReply *rs )
{
	certpin_info *ci;
	BackendDB *db;
	Entry *e = NULL;
	char err[SLAP_TEXT_BUFLEN];
	const char *name;
	int holds = 0;

	if ( cp_gate_start( op, rs, &ci ) == SLAP_CB_CONTINUE )
		return SLAP_CB_CONTINUE;
	if ( cp_rdn_names_certpin( op, &op->orr_newrdn, &name ) ) {
		snprintf( err, sizeof( err ), "certpin: an RDN may not name %s", name );
		return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION, err );
	}
	if ( cp_rdn_names_certpin( op, &op->o_req_dn, &name ) ) {
		snprintf( err, sizeof( err ), "certpin: this entry's RDN names %s; "
			"it cannot be renamed (delete it and add it again)", name );
		return certpin_refuse( op, rs, LDAP_CONSTRAINT_VIOLATION, err );
	}
	db = certpin_select_db( op, &op->o_req_ndn );
	if ( db && certpin_entry_get( op, db, &op->o_req_ndn, &e ) == LDAP_SUCCESS ) {
		holds = attr_find( e->e_attrs, ad_certpinCertBinary ) != NULL;
		certpin_entry_release( op, db, e );
	}
	if ( !holds )
		return SLAP_CB_CONTINUE;
	if ( ci == NULL )
		return cp_gate_closed( op, rs );
	cp_gate_push( op )->cg_revokes = 1;
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
 * refused.  Inside a transaction the copy is written in the transaction's
 * own database transaction: it commits or aborts with the delete. */

/* One internal modify of entry ndn in db, as the database's root, marked
 * as certpin's own (the gate lets it through).  It shares op's database
 * transaction when op runs inside one (op->o_extra). */
static int
cp_internal_modify( Operation *op, BackendDB *db, struct berval *ndn,
	Modifications *mods, const char **text )
{
	Operation op2 = *op;
	SlapReply rs2 = { REP_RESULT };
	slap_callback cb = { NULL, slap_null_cb, NULL, NULL };
	OpExtra oex;

	certpin_op_as_root( &op2, db, LDAP_REQ_MODIFY, ndn, ndn, &cb );
	certpin_internal_mark( &op2, &oex );
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

/* The delete failed: the certificates are still held; take the copies of
 * their records back. */
static void
cp_del_takeback( Operation *op, cp_gate *cg, int err )
{
	Modifications *mods = NULL;
	Operation o = *op;
	int rc;

	o.orm_modlist = NULL;
	cp_mod_append( &o, LDAP_MOD_DELETE, ad_certpinRevoked, cg->cg_added );
	if ( cg->cg_tps )
		cp_mod_append( &o, SLAP_MOD_SOFTDEL, ad_certpinRevokedThumbprint, cg->cg_tps );
	mods = o.orm_modlist;
	cg->cg_added = NULL;
	cg->cg_tps = NULL;
	rc = cp_internal_modify( op, cg->cg_db, &cg->cg_hist, mods, NULL );
	if ( rc != LDAP_SUCCESS ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: delete failed, and the copied "
			"revocation records could not be taken back from \"%s\" (%d)\n",
			op->o_log_prefix, cg->cg_hist.bv_val, rc );
	} else {
		Debug( LDAP_DEBUG_STATS, "%s certpin: delete of \"%s\" failed (%d): "
			"copied revocation records taken back from \"%s\"\n",
			op->o_log_prefix, op->o_req_ndn.bv_val, err, cg->cg_hist.bv_val );
	}
	slap_mods_free( mods, 1 );
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
	certpin_info *ci;
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *db, *hdb, *obd = op->o_bd;
	Entry *e = NULL, *h = NULL;
	Attribute *recs, *a;
	struct berval hist = BER_BVNULL, *conf;
	BerVarray add = NULL, tps = NULL;
	Modifications *mods = NULL;
	cp_delta d;
	cp_gate *cg;
	const char *text = NULL;
	char err[SLAP_TEXT_BUFLEN];
	int i, j, rc = LDAP_SUCCESS;

	memset( &d, 0, sizeof( d ) );
	if ( cp_gate_start( op, rs, &ci ) == SLAP_CB_CONTINUE )
		return SLAP_CB_CONTINUE;
	db = certpin_select_db( op, &op->o_req_ndn );
	if ( db == NULL || SLAP_SINGLE_SHADOW( db ) )
		return SLAP_CB_CONTINUE;	/* the backend refers or refuses */
	if ( certpin_entry_get( op, db, &op->o_req_ndn, &e ) != LDAP_SUCCESS )
		return SLAP_CB_CONTINUE;	/* the backend reports noSuchObject */

	recs = attr_find( e->e_attrs, ad_certpinRevoked );
	if ( attr_find( e->e_attrs, ad_certpinCertBinary ) == NULL && recs == NULL )
		goto done;
	if ( ci == NULL ) {
		certpin_entry_release( op, db, e );
		return cp_gate_closed( op, rs );
	}
	op->o_bd = db;
	if ( !cp_del_may_succeed( op, db, e ) )
		goto done;	/* the backend refuses it: write nothing */
	op->o_bd = obd;
	op->o_bd->bd_info = bi;
	rc = cp_derive( op, e, &d, err, sizeof( err ) );
	if ( rc != LDAP_SUCCESS )
		goto done;

	/* The records: one per certificate revoked now, and the old ones. */
	for ( i = 0; i < d.cd_before.cs_n; i++ ) {
		struct berval rec, rec2;

		cp_revoked_rec( op, &d.cd_before.cs_c[i], &rec );
		cp_rec_with_entry( &rec, &e->e_name, &rec2 );
		ch_free( rec.bv_val );
		ber_bvarray_add( &add, &rec2 );
		Debug( LDAP_DEBUG_STATS, "%s certpin: deleting \"%s\" revokes certificate "
			"%s\n", op->o_log_prefix, op->o_req_ndn.bv_val,
			d.cd_before.cs_c[i].cc_sha256 );
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

		/* release the entries first: inside a transaction the write
		 * below runs in the same database transaction */
		certpin_entry_release( op, db, h );
		h = NULL;
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
			op->o_req_ndn.bv_val, d.cd_before.cs_n, hist.bv_val );
	}

	cg = cp_gate_push( op );
	cg->cg_revokes = d.cd_before.cs_n > 0;
	cg->cg_db = db;
	cg->cg_hist = hist;
	BER_BVZERO( &hist );
	cg->cg_added = add;
	add = NULL;
	cg->cg_tps = tps;
	tps = NULL;

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
	cp_delta_free( op, &d );
	if ( rc != LDAP_SUCCESS )
		return certpin_refuse( op, rs, rc, err );
	return SLAP_CB_CONTINUE;
}

/* ---- the frontend instance --------------------------------------------- */

/* Does entry ndn of db hold any certpin attribute? */
static int
cp_entry_has_certpin( Operation *op, BackendDB *db, struct berval *ndn )
{
	Entry *e = NULL;
	Attribute *a;
	int has = 0;

	if ( certpin_entry_get( op, db, ndn, &e ) != LDAP_SUCCESS )
		return 0;
	for ( a = e->e_attrs; a && !has; a = a->a_next )
		has = certpin_is_certpin_at( a->a_desc );
	certpin_entry_release( op, db, e );
	return has;
}

/* Does the write op (into db) touch certpin data? */
static int
cp_touches( Operation *op, BackendDB *db )
{
	Modifications *m;
	Attribute *a;
	const char *name;

	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
		for ( a = op->ora_e->e_attrs; a; a = a->a_next )
			if ( certpin_is_certpin_at( a->a_desc ) )
				return 1;
		return cp_rdn_names_certpin( op, &op->o_req_dn, &name );
	case LDAP_REQ_MODIFY:
		for ( m = op->orm_modlist; m; m = m->sml_next ) {
			if ( certpin_is_certpin_at( m->sml_desc ) )
				return 1;
			if ( m->sml_desc == slap_schema.si_ad_objectClass &&
			     m->sml_op != LDAP_MOD_ADD )
				return cp_entry_has_certpin( op, db, &op->o_req_ndn );
		}
		return 0;
	case LDAP_REQ_MODRDN:
		if ( cp_rdn_names_certpin( op, &op->orr_newrdn, &name ) )
			return 1;
		/* FALLTHRU */
	case LDAP_REQ_DELETE:
		return cp_entry_has_certpin( op, db, &op->o_req_ndn );
	}
	return 0;
}

typedef struct cp_txn_cb {
	slap_callback	tc_cb;
	int		tc_locked;
} cp_txn_cb;

static int
cp_txn_response( Operation *op, SlapReply *rs )
{
	cp_txn_cb *tc = op->o_callback->sc_private;

	if ( rs->sr_type != REP_EXTENDED && rs->sr_type != REP_RESULT )
		return SLAP_CB_CONTINUE;
	if ( tc->tc_locked ) {
		tc->tc_locked = 0;
		certpin_uniq_unlock();
	}
	/* The transaction's writes are committed now (or none was): the
	 * revocations among them take effect before the client hears. */
	if ( rs->sr_err == LDAP_SUCCESS )
		certpin_bind_revoked( op );
	return SLAP_CB_CONTINUE;
}

static int
cp_txn_cleanup( Operation *op, SlapReply *rs )
{
	cp_txn_cb *tc = op->o_callback->sc_private;

	op->o_callback = NULL;	/* unlinks this callback */
	if ( tc->tc_locked )
		certpin_uniq_unlock();
	op->o_tmpfree( tc, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

int
certpin_write_frontend( Operation *op, SlapReply *rs )
{
	BackendDB *db;
	char err[SLAP_TEXT_BUFLEN];

	if ( op->o_tag == LDAP_REQ_EXTENDED ) {
		static const struct berval txn_end = BER_BVC( "1.3.6.1.1.21.3" );

		if ( !bvmatch( &op->ore_reqoid, &txn_end ) )
			return SLAP_CB_CONTINUE;
		/* slapd 2.5/2.6 race: txn_preop answers a queued write and
		 * only then finishes with it (its RESULT log line, callbacks),
		 * while a client that got the answer may already have sent the
		 * commit, whose thread then runs that same Operation: wait
		 * (bounded) until the connection runs nothing but this. */
		if ( op->o_conn ) {
			int i, busy = 1;

			for ( i = 0; busy && i < 2000; i++ ) {
				ldap_pvt_thread_mutex_lock( &op->o_conn->c_mutex );
				busy = op->o_conn->c_n_ops_executing > 1;
				ldap_pvt_thread_mutex_unlock( &op->o_conn->c_mutex );
				if ( busy ) {
					struct timespec nap = { 0, 500000 };	/* 0.5 ms */
					nanosleep( &nap, NULL );
				}
			}
		}
		{
		cp_txn_cb *tc;
		/* A commit runs its writes through the database's gate inside
		 * one database transaction; certificates they add stay unique
		 * until it has committed: the lock is held for all of it. */
		tc = op->o_tmpcalloc( 1, sizeof( cp_txn_cb ), op->o_tmpmemctx );
		tc->tc_cb.sc_response = cp_txn_response;
		tc->tc_cb.sc_cleanup = cp_txn_cleanup;
		tc->tc_cb.sc_private = tc;
		tc->tc_cb.sc_next = op->o_callback;
		op->o_callback = &tc->tc_cb;
		certpin_uniq_lock();
		tc->tc_locked = 1;
		}
		return SLAP_CB_CONTINUE;
	}
	if ( op->o_tag != LDAP_REQ_ADD && op->o_tag != LDAP_REQ_MODIFY &&
	     op->o_tag != LDAP_REQ_MODRDN && op->o_tag != LDAP_REQ_DELETE )
		return SLAP_CB_CONTINUE;
	db = select_backend( &op->o_req_ndn, 0 );
	if ( db != NULL && ( op->o_txnSpec || op->o_noop ) ) {
		/* adtable.c: nothing new to back-mdb's attribute table in a
		 * write the backend may undo */
		int rc = certpin_adtable_check( op, rs, db,
			certpin_db_instance( db ) != NULL && cp_touches( op, db ) );
		if ( rc != SLAP_CB_CONTINUE )
			return rc;
	}
	if ( db == NULL || !certpin_db_needs_instance( db ) || certpin_db_instance( db ) )
		return SLAP_CB_CONTINUE;
	if ( !cp_touches( op, db ) )
		return SLAP_CB_CONTINUE;
	Debug( LDAP_DEBUG_ANY, "%s certpin: refused a write of certpin data into "
		"\"%s\": that database has no certpin instance\n", op->o_log_prefix,
		db->be_suffix ? db->be_suffix[0].bv_val : "" );
	snprintf( err, sizeof( err ), "certpin: the database holding this entry has "
		"no certpin instance (add olcOverlay=certpin to it); certpin data "
		"cannot be written there" );
	return certpin_refuse( op, rs, LDAP_UNWILLING_TO_PERFORM, err );
}

/* ---- internal writes (provisioning, PIN failures) ---------------------- */

/* Apply mods (consumed) to entry ndn of db, directly on the database (not
 * through the frontend; through its overlays, the write gate letting it
 * through as certpin's own), as db's root DN with a fresh operation time and
 * the usual operational attributes.  Refused on a read-only replica.
 * Returns an LDAP result code; *text says why when it is not success. */
static int
cp_write_internal( Operation *op, BackendDB *db, struct berval *ndn,
	Modifications *mods, Filter *assertion, const char **text )
{
	Operation op2 = *op;
	SlapReply rs2 = { REP_RESULT };
	slap_callback cb = { 0 };
	OpExtra oex;
	void *controls[SLAP_MAX_CIDS];

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
	certpin_internal_mark( &op2, &oex );	/* the gate lets it through */
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
	/* RFC 4528 semantics: the backend tests the assertion on the entry
	 * inside its write transaction (o_controls is the client op's array:
	 * a copy is changed) */
	if ( op->o_controls )
		memcpy( controls, op->o_controls, sizeof( controls ) );
	else
		memset( controls, 0, sizeof( controls ) );
	op2.o_controls = controls;
	op2.o_assertion = assertion;
	op2.o_assert = assertion ? SLAP_CONTROL_CRITICAL : SLAP_CONTROL_NONE;

	db->be_modify( &op2, &rs2 );

	slap_mods_free( op2.orm_modlist, 1 );
	if ( rs2.sr_err != LDAP_SUCCESS ) {
		Debug( LDAP_DEBUG_ANY, "%s certpin: internal modify of \"%s\" "
			"failed: %d %s\n", op->o_log_prefix, ndn->bv_val, rs2.sr_err,
			rs2.sr_text ? rs2.sr_text : "" );
		*text = certpin_write_failed_text( rs2.sr_err );
	}
	return rs2.sr_err;
}

int
certpin_write_internal( Operation *op, BackendDB *db, struct berval *ndn,
	Modifications *mods, const char **text )
{
	return cp_write_internal( op, db, ndn, mods, NULL, text );
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

/* One record write (certpin_write_record), in op's database transaction
 * when op carries one (o_extra): the room on the entry and the uniqueness
 * of the certificate are read inside it. */
static int
cp_record_one( Operation *op, BackendDB *db, struct berval *ndn,
	struct berval *der, certpin_certinfo *info, const char *endpoint,
	Filter *assertion, SlapReply *rs, int *wrote )
{
	certpin_info *ci = certpin_ci( op );
	BackendInfo *bi = op->o_bd->bd_info;
	BackendDB *obd = op->o_bd;
	Modifications *mods = NULL;
	BerVarray v = NULL;
	Entry *e = NULL;
	Attribute *a;
	struct berval rec = BER_BVNULL;
	char hex[65], why[200];
	const char *text = NULL;
	int rc, held = 0, holds = 1;

	rs->sr_text = NULL;
	*wrote = 0;
	if ( ci == NULL ) {
		rs->sr_text = "certpin: not configured";
		return LDAP_UNWILLING_TO_PERFORM;
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

	/* One certificate, one user, and the room on the entry: from the
	 * checks until the write is done (every write that adds certificates
	 * holds this lock).  The checks refuse before anything is written: a
	 * shared transaction (group commit) goes on without the refused one. */
	certpin_uniq_lock();
	if ( certpin_entry_get( op, db, ndn, &e ) != LDAP_SUCCESS ) {
		rc = LDAP_NO_SUCH_OBJECT;
		rs->sr_text = "certpin: no such entry";
		goto refused;
	}
	a = attr_find( e->e_attrs, ad_certpinCertBinary );
	held = a ? a->a_numvals : 0;
	/* the backend tests the assertion again inside the write */
	if ( assertion )
		holds = test_filter( op, e, assertion ) == LDAP_COMPARE_TRUE;
	certpin_entry_release( op, db, e );
	if ( held + 1 > ci->ci_max_certs ) {
		rc = LDAP_CONSTRAINT_VIOLATION;
		rs->sr_text = "certpinCertificate: the entry holds as many "
			"certificates as it may (certpin-max-certificates)";
		goto refused;
	}
	if ( !holds ) {
		rc = LDAP_ASSERTION_FAILED;
		rs->sr_text = "certpin: the entry no longer satisfies the write's assertion";
		goto refused;
	}
	rc = cp_check_new( op, ndn, hex, why, sizeof( why ) );
	if ( rc != LDAP_SUCCESS ) {
		rs->sr_text = "certpinCertificate: the issued certificate is "
			"already on file or revoked";
		goto refused;
	}

	ber_bvarray_add( &v, &rec );
	cp_mods_add( &mods, LDAP_MOD_ADD, ad_certpinCertInfo, v );
	v = NULL;
	value_add_one( &v, &(struct berval){ 64, hex } );
	cp_mods_add( &mods, LDAP_MOD_ADD, ad_certpinThumbprint, v );
	v = NULL;
	value_add_one( &v, der );
	cp_mods_add( &mods, LDAP_MOD_ADD, ad_certpinCertBinary, v );

	*wrote = 1;
	rc = cp_write_internal( op, db, ndn, mods, assertion, &text );
	certpin_uniq_unlock();
	op->o_bd = obd;
	op->o_bd->bd_info = bi;
	if ( rc != LDAP_SUCCESS ) {
		rs->sr_text = rc == LDAP_ASSERTION_FAILED ?
			"certpin: the entry no longer satisfies the write's assertion" : text;
		return rc;
	}
	Debug( LDAP_DEBUG_STATS, "%s certpin: recorded certificate %s on \"%s\"%s%s\n",
		op->o_log_prefix, hex, ndn->bv_val, endpoint ? " endpoint=" : "",
		endpoint ? endpoint : "" );
	return LDAP_SUCCESS;

refused:	/* by a check, before anything is written */
	certpin_uniq_unlock();
	ch_free( rec.bv_val );
	return rc;
}

/* ---- group commit of single issuances ----------------------------------
 *
 * Every certpinIssue request pays a database commit (an fsync) for its
 * record; while one commit runs, the requests that finished their
 * cryptography meanwhile wait in a queue.  The thread whose request finds
 * no commit running leads: it records every queued request of the same
 * database in one database transaction (as certpinIssueBulk does) and
 * commits once, then hands the lead to a waiting requester and answers its
 * own client.  Each record is written with the checks of cp_record_one
 * inside the shared transaction (room on the entry, the requester's
 * assertion, the certificate new everywhere), under the uniqueness lock
 * held until the commit; a record its checks refuse writes nothing and the
 * others go on.  When a write itself fails, the transaction is aborted and
 * the group's records written one by one, each with its own result: a
 * request's answer never depends on the others'.  No request waits for
 * company: a request that finds no commit running is written at once.  A
 * group is written in a transaction only when every attribute its writes
 * store is held by some entry of the database (adtable.c: back-mdb cannot
 * undo an attribute new to the database) and no overlay of the database
 * logs writes before they commit (accesslog, auditlog: an aborted group
 * would leave records of writes that never happened). */

#define CP_GROUP_MAX	64	/* records per group commit */

typedef struct cp_recq {
	struct cp_recq		*rq_next;
	BackendDB		*rq_db;
	struct berval		*rq_ndn, *rq_der;
	certpin_certinfo	*rq_info;
	const char		*rq_endpoint;
	Filter			*rq_assertion;
	const char		*rq_prefix;	/* the requester's log prefix */
	const char		*rq_text;
	int			rq_rc, rq_done;
} cp_recq;

static ldap_pvt_thread_mutex_t cp_recq_mutex;
static ldap_pvt_thread_cond_t cp_recq_cond;
static cp_recq *cp_recq_head, **cp_recq_tail = &cp_recq_head;
static int cp_recq_leading;

void
certpin_write_init( void )
{
	ldap_pvt_thread_mutex_init( &cp_recq_mutex );
	ldap_pvt_thread_cond_init( &cp_recq_cond );
}

/* Write q's record with leader op (and its transaction, if any), logging
 * under the requester's connection and operation. */
static int
cp_recq_write( Operation *op, cp_recq *q )
{
	Opheader oh = *op->o_hdr;
	Operation o = *op;
	SlapReply rs = { REP_EXTENDED };
	int wrote;

	snprintf( oh.oh_log_prefix, sizeof( oh.oh_log_prefix ), "%s", q->rq_prefix );
	o.o_hdr = &oh;
	/* none of the leader's controls, nor its abandonment, apply to the
	 * records it writes for others */
	memset( o.o_ctrlflag, SLAP_CONTROL_NONE, sizeof( o.o_ctrlflag ) );
	o.o_controls = NULL;
	o.o_ctrls = NULL;
	o.o_abandon = 0;
	q->rq_rc = cp_record_one( &o, q->rq_db, q->rq_ndn, q->rq_der, q->rq_info,
		q->rq_endpoint, q->rq_assertion, &rs, &wrote );
	q->rq_text = rs.sr_text;
	return wrote;
}

/* The group g (n records of one database): one transaction and one
 * commit, or one by one. */
static void
cp_recq_group( Operation *op, cp_recq *g, int n )
{
	BackendDB *db = g->rq_db;
	Operation txop = *op;
	OpExtra *txn = NULL;
	cp_recq *q;
	int rc, w = 0;

	if ( n == 1 || certpin_db_logs_writes( db ) ||
	     !certpin_adtable_records_stored( op, db ) ) {
		/* alone, or into a database whose writes are logged as they
		 * run, or among the first records of a database: one by one */
		for ( q = g; q; q = q->rq_next )
			w += cp_recq_write( op, q ) && q->rq_rc == LDAP_SUCCESS;
		certpin_count_records( w, 0 );
		return;
	}
	certpin_uniq_lock();
	txop.o_bd = db;
	rc = db->bd_info->bi_op_txn( &txop, SLAP_TXN_BEGIN, &txn );
	txop.o_bd = op->o_bd;
	/* a record refused by its checks wrote nothing: the others go on;
	 * a write that failed may have left part of itself: all undone */
	for ( q = g; rc == LDAP_SUCCESS && q; q = q->rq_next ) {
		if ( !cp_recq_write( &txop, q ) )
			continue;
		if ( q->rq_rc == LDAP_SUCCESS )
			w++;
		else
			rc = q->rq_rc;
	}
	txop.o_bd = db;
	if ( txn && rc == LDAP_SUCCESS ) {
		rc = db->bd_info->bi_op_txn( &txop, SLAP_TXN_COMMIT, &txn );
	} else if ( txn ) {
		db->bd_info->bi_op_txn( &txop, SLAP_TXN_ABORT, &txn );
		if ( rc == LDAP_SUCCESS )
			rc = LDAP_OTHER;
	}
	certpin_uniq_unlock();
	if ( rc == LDAP_SUCCESS ) {
		certpin_count_records( w > 0, w > 1 ? w : 0 );
		return;
	}
	Debug( LDAP_DEBUG_STATS, "%s certpin: a group commit of %d issued "
		"certificates failed (%d): recording them one by one\n",
		op->o_log_prefix, n, rc );
	w = 0;
	for ( q = g; q; q = q->rq_next )
		w += cp_recq_write( op, q ) && q->rq_rc == LDAP_SUCCESS;
	certpin_count_records( w, 0 );
}

int
certpin_write_record( Operation *op, BackendDB *db, struct berval *ndn,
	struct berval *der, certpin_certinfo *info, const char *endpoint,
	Filter *assertion, SlapReply *rs )
{
	cp_recq me = { NULL }, *g, **gt, **pp, *q;
	BackendDB *gdb;
	int n;

	if ( db == NULL || db->bd_info->bi_op_txn == NULL )
		return cp_record_one( op, db, ndn, der, info, endpoint, assertion, rs, &n );
	me.rq_db = db;
	me.rq_ndn = ndn;
	me.rq_der = der;
	me.rq_info = info;
	me.rq_endpoint = endpoint;
	me.rq_assertion = assertion;
	me.rq_prefix = op->o_log_prefix;

	ldap_pvt_thread_mutex_lock( &cp_recq_mutex );
	*cp_recq_tail = &me;
	cp_recq_tail = &me.rq_next;
	while ( !me.rq_done && cp_recq_leading )
		ldap_pvt_thread_cond_wait( &cp_recq_cond, &cp_recq_mutex );
	if ( !me.rq_done ) {
		cp_recq_leading = 1;
		while ( !me.rq_done ) {
			/* the queued requests of the first one's database, in order */
			g = NULL;
			gt = &g;
			n = 0;
			gdb = cp_recq_head->rq_db;
			for ( pp = &cp_recq_head; ( q = *pp ) && n < CP_GROUP_MAX; ) {
				if ( q->rq_db != gdb ) {
					pp = &q->rq_next;
					continue;
				}
				*pp = q->rq_next;
				q->rq_next = NULL;
				*gt = q;
				gt = &q->rq_next;
				n++;
			}
			for ( cp_recq_tail = &cp_recq_head; *cp_recq_tail; )
				cp_recq_tail = &(*cp_recq_tail)->rq_next;
			ldap_pvt_thread_mutex_unlock( &cp_recq_mutex );
			cp_recq_group( op, g, n );
			ldap_pvt_thread_mutex_lock( &cp_recq_mutex );
			for ( q = g; q; q = g ) {
				g = q->rq_next;
				q->rq_done = 1;
			}
			ldap_pvt_thread_cond_broadcast( &cp_recq_cond );
		}
		/* the lead passes to a waiting requester, if any */
		cp_recq_leading = 0;
		ldap_pvt_thread_cond_broadcast( &cp_recq_cond );
	}
	ldap_pvt_thread_mutex_unlock( &cp_recq_mutex );
	rs->sr_text = me.rq_text;
	return me.rq_rc;
}
