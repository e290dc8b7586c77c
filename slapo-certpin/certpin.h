/* certpin.h - private header of the certpin overlay
 *
 * The overlay is split by concern:
 *   certpin.c    registration, schema table, config table, life cycle
 *   write.c      adds, modifies and deletes: metadata and revocation records
 *   bind.c       logon enforcement on SASL EXTERNAL binds
 *   provision.c  the certificate provisioning extended operation and the CA
 *   pin.c        PIN hashing, policy and lockout
 * Each concern keeps its own state behind an opaque pointer in certpin_info
 * and contributes its own rows to the config table (certpin_*_cfg).
 */
#ifndef CERTPIN_H
#define CERTPIN_H

#include "portable.h"
#include "slap.h"
#include "slap-config.h"
#include "compat.h"	/* OpenLDAP 2.5 / 2.6 differences, in one place */

#include "certinfo.h"

/* The project's OID arc (a UUID arc under 2.25, X.667): change it here and in
 * schema/certpin.schema and schema/certpin.ldif together. */
#define CERTPIN_OID		"2.25.200588203507426345906909541611622616575"
#define CERTPIN_OID_AT		CERTPIN_OID ".1.1"	/* attribute types */
#define CERTPIN_OID_OC		CERTPIN_OID ".1.2"	/* object classes */
#define CERTPIN_OID_CFG_AT	CERTPIN_OID ".2.1"	/* olc attributes */
#define CERTPIN_OID_CFG_OC	CERTPIN_OID ".2.2"	/* olc object classes */
#define CERTPIN_OID_EXOP	CERTPIN_OID ".3"	/* extended operations */

/* Defaults. */
#define CERTPIN_DEFAULT_MAX_CERTS	20

typedef struct certpin_info {
	int		ci_max_certs;	/* certificates one entry may hold */
	void		*ci_bind;	/* bind.c's state */
	void		*ci_prov;	/* provision.c's state */
	void		*ci_pin;	/* pin.c's state */
} certpin_info;

/* Schema, registered by certpin.c. */
extern AttributeDescription *ad_certpinCertificate;
extern AttributeDescription *ad_certpinCertBinary;	/* certpinCertificate;binary, as stored */
extern AttributeDescription *ad_certpinThumbprint;
extern AttributeDescription *ad_certpinCertInfo;
extern AttributeDescription *ad_certpinRevoked;
extern AttributeDescription *ad_certpinPIN;
extern AttributeDescription *ad_certpinPINFailure;
extern AttributeDescription *ad_certpinRevokedThumbprint;
extern ObjectClass *oc_certpinUser;
extern ObjectClass *oc_certpinHistory;

/* certpin.c: helpers every concern uses. */

/* The database that holds ndn (the overlay usually sits on the frontend). */
BackendDB *certpin_select_db( Operation *op, struct berval *ndn );

/* Read entry ndn of db (be_entry_get_rw) and give it back; op stays on the
 * overlay's database.  certpin_entry_get returns an LDAP result code
 * (noSuchObject when there is no such entry) and *ep, NULL on failure. */
int certpin_entry_get( Operation *op, BackendDB *db, struct berval *ndn,
	Entry **ep );
void certpin_entry_release( Operation *op, BackendDB *db, Entry *e );

/* Make op2 (a copy of the client's operation) an internal operation of
 * type tag on db by db's root DN, on dn/ndn, answered to cb. */
void certpin_op_as_root( Operation *op2, BackendDB *db, ber_tag_t tag,
	struct berval *dn, struct berval *ndn, slap_callback *cb );
/* The same for a subtree search of db's suffix (no controls, no limits, no
 * alias dereferencing); the caller sets the filter, attributes and
 * ors_slimit. */
void certpin_search_as_root( Operation *op2, BackendDB *db, slap_callback *cb );

/* Search db for entries whose certpinThumbprint equals hex (an indexed
 * equality search, never a scan).  Returns the number of entries found (0, 1
 * or 2 meaning "more than one") and, when owner is not NULL and one or more
 * was found, the first one's normalized DN in owner (op->o_tmpmemctx).
 * With also_revoked, entries holding a revocation record for it count too
 * (certpinRevokedThumbprint, also an equality search). */
int certpin_find_thumbprint( Operation *op, BackendDB *db, const char *hex,
	int also_revoked, struct berval *owner );

/* Refuse the client's operation: send err with text (also logged at
 * LDAP_DEBUG_TRACE); returns the result code sent. */
int certpin_refuse( Operation *op, SlapReply *rs, int err, const char *text );

/* A modification the overlay computed (SLAP_MOD_INTERNAL) of ad; vals (may
 * be NULL) is consumed, normalized values are added.  Not linked. */
Modifications *certpin_mod_new( short mop, AttributeDescription *ad,
	BerVarray vals );

/* Refuse a config directive: c->cr_msg gets the message (printf style),
 * logged at LDAP_DEBUG_CONFIG; returns ARG_BAD_CONF. */
int certpin_cf_error( ConfigArgs *c, const char *fmt, ... )
	LDAP_GCCATTR(( format( printf, 2, 3 ) ));
/* An integer directive: store c->value_int in *ip when it lies in lo..hi
 * (0), else refuse it with "<name> must be between lo and hi[ unit]". */
int certpin_cf_int( ConfigArgs *c, int lo, int hi, const char *unit, int *ip );

/* Per-concern configuration rows and their olc attribute names ("a $ b"),
 * merged into one table by certpin.c. */
extern ConfigTable certpin_write_cfg[], certpin_bind_cfg[],
	certpin_prov_cfg[], certpin_pin_cfg[];
extern const char certpin_write_cfg_names[], certpin_bind_cfg_names[],
	certpin_prov_cfg_names[], certpin_pin_cfg_names[];

/* write.c */
int certpin_write_add( Operation *op, SlapReply *rs );
int certpin_write_modify( Operation *op, SlapReply *rs );
int certpin_write_delete( Operation *op, SlapReply *rs );
/* Record an issued certificate (DER) on entry ndn of db with its metadata
 * (endpoint may be NULL), with the checks of the write path; an internal
 * modify as db's root DN.  info: the certificate's metadata when the caller
 * has it (certpin_certinfo_from_x509; its ci_published is set here), or
 * NULL to parse der.  Returns an LDAP result code, rs->sr_text set. */
int certpin_write_record( Operation *op, BackendDB *db, struct berval *ndn,
	struct berval *der, certpin_certinfo *info, const char *endpoint,
	SlapReply *rs );
/* Apply mods (consumed) to ndn in db as its root DN (internal write). */
int certpin_write_internal( Operation *op, BackendDB *db, struct berval *ndn,
	Modifications *mods, const char **text );

/* bind.c */
int certpin_bind_db_init( BackendDB *be, certpin_info *ci );
int certpin_bind_db_destroy( BackendDB *be, certpin_info *ci );
int certpin_bind_op( Operation *op, SlapReply *rs );
int certpin_bind_op_any( Operation *op, SlapReply *rs );
/* The entry that keeps the revocation records of deleted entries
 * (certpin-history), or NULL: each deleted entry's parent. */
struct berval *certpin_bind_history( certpin_info *ci );
/* Call after an internal write (one that bypasses the frontend) that revoked
 * certificates: sessions bound with a certificate re-check it at their next
 * operation.  Client writes through the frontend need not call it. */
void certpin_bind_revoked( void );

/* provision.c */
int certpin_prov_db_init( BackendDB *be, certpin_info *ci );
int certpin_prov_db_open( BackendDB *be, certpin_info *ci, ConfigReply *cr );
int certpin_prov_db_destroy( BackendDB *be, certpin_info *ci );
int certpin_prov_extended( Operation *op, SlapReply *rs );
/* Is the requester an administrator of db: its root DN, or a member of
 * certpin-admin-group? */
int certpin_is_admin( Operation *op, BackendDB *db );

/* pin.c */
int certpin_pin_db_init( BackendDB *be, certpin_info *ci );
int certpin_pin_db_destroy( BackendDB *be, certpin_info *ci );
int certpin_pin_search( Operation *op, SlapReply *rs );
int certpin_pin_compare( Operation *op, SlapReply *rs );
int certpin_pin_add( Operation *op, SlapReply *rs );
int certpin_pin_modify( Operation *op, SlapReply *rs );
/* May the requester delete certpinPINFailure (unlock) on op's target? */
int certpin_pin_may_unlock( Operation *op );
/* Prove the user by phone and PIN: on success the user's normalized DN in
 * ndn (op->o_tmpmemctx) and its database in *db.  Returns an LDAP result
 * code (49 unknown phone or wrong PIN, 19 locked), text set. */
int certpin_pin_prove( Operation *op, struct berval *phone, struct berval *pin,
	struct berval *ndn, BackendDB **db, const char **text );

#endif /* CERTPIN_H */
