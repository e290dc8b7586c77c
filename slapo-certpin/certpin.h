/* certpin.h - private header of the certpin overlay
 *
 * The overlay is split by concern:
 *   certpin.c    registration, dispatch of both roles, config table assembly,
 *                life cycle (the frontend and database instances)
 *   core.c       schema table, the roles, helpers every concern shares,
 *                administrators, the internal-operation marker, the
 *                uniqueness lock
 *   write.c      the write gate (database instance): adds, modifies, renames
 *                and deletes of any origin: metadata and revocation records
 *   bind.c       logon enforcement on SASL EXTERNAL binds
 *   provision.c  the certificate provisioning extended operation and the CA
 *   pin.c        PIN hashing, policy and lockout
 *   adtable.c    no attribute new to a database in a write the backend undoes
 * Each concern keeps its own state behind an opaque pointer in certpin_info
 * and contributes its own rows to the config table (certpin_*_cfg).
 */
#ifndef CERTPIN_H
#define CERTPIN_H

#include "portable.h"
#include "slap.h"
#include "slap-config.h"

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

/* Schema, registered by core.c (certpin_schema_init). */
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

/* core.c: the schema. */
int certpin_schema_init( void );

/* Is ad (any options) one of certpin's attribute types? */
int certpin_is_certpin_at( AttributeDescription *ad );

/* core.c: the two roles.  The frontend instance owns the certpin_info; a
 * database instance's bi_private points to the frontend's (NULL when the
 * frontend has none). */
/* certpin's instance among be's overlays, or NULL. */
slap_overinst *certpin_db_instance( BackendDB *be );
/* The frontend instance's configuration, or NULL. */
certpin_info *certpin_frontend_info( void );
/* Must be have a database instance (every database but the frontend,
 * cn=config and cn=monitor)? */
int certpin_db_needs_instance( BackendDB *be );
/* Is be a view of other databases (back-relay)? */
int certpin_db_is_view( BackendDB *be );
/* The configuration for op (on either instance), or NULL (fail closed). */
certpin_info *certpin_ci( Operation *op );

/* core.c: helpers every concern uses. */

/* The database that holds ndn: op's own (never the overlay's copy of it,
 * bd_self) unless op is on the frontend. */
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
/* The same over every database that has a certpin instance (relay views
 * excepted: their real databases are searched), each as its own root DN,
 * entries counted once by DN. */
int certpin_find_thumbprint_all( Operation *op, const char *hex,
	int also_revoked, struct berval *owner );

/* certpin's own internal operations carry a marker (an OpExtra on the
 * copied Operation, oex living as long as op2) that clients cannot set;
 * the write gate lets them through as they are. */
void certpin_internal_mark( Operation *op2, OpExtra *oex );
int certpin_is_internal( Operation *op );

/* "One certificate, one user": the lock held from the check that no entry
 * holds or revoked a certificate until the backend has answered the write
 * that adds it.  Recursive for the thread that holds it. */
void certpin_uniq_init( void );
void certpin_uniq_lock( void );
void certpin_uniq_unlock( void );
int certpin_uniq_held( void );

/* Is the requester an administrator of db: its root DN, or a member of
 * certpin-admin-group? */
int certpin_is_admin( Operation *op, BackendDB *db );

/* The access gate, registered as bi_access_allowed on both instances
 * (pin.c; core.c has a weak default that decides nothing). */
int certpin_access( Operation *op, Entry *e, AttributeDescription *desc,
	struct berval *val, slap_access_t access, AccessControlState *state,
	slap_mask_t *maskp );

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
 * merged into one table by certpin.c.  Every row must be ARG_MAGIC: the
 * handler is wrapped so that a database instance refuses the directive. */
extern ConfigTable certpin_write_cfg[], certpin_bind_cfg[],
	certpin_prov_cfg[], certpin_pin_cfg[];
extern const char certpin_write_cfg_names[], certpin_bind_cfg_names[],
	certpin_prov_cfg_names[], certpin_pin_cfg_names[];

/* write.c: the write gate, on the database instance ... */
int certpin_write_add( Operation *op, SlapReply *rs );
int certpin_write_modify( Operation *op, SlapReply *rs );
int certpin_write_modrdn( Operation *op, SlapReply *rs );
int certpin_write_delete( Operation *op, SlapReply *rs );
/* ... and on the frontend instance: writes landing in a database without
 * an instance, the end of a transaction (add, modify, modrdn, delete,
 * extended). */
int certpin_write_frontend( Operation *op, SlapReply *rs );

/* adtable.c: writes the backend may undo (transactions, No-Op) store no
 * attribute description new to the database (slapd 2.5 back-mdb). */
void certpin_adtable_init( void );
int certpin_adtable_check( Operation *op, SlapReply *rs, BackendDB *db, int touches );
void certpin_adtable_watch( Operation *op );
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
/* Called by the write gate after the backend committed a write (any
 * origin) that removed certificates or renamed or deleted an entry holding
 * them, and by the frontend when a transaction commit succeeds; before the
 * result goes to the client.  Sessions bound with a certificate re-check
 * it. */
void certpin_bind_revoked( Operation *op );

/* provision.c */
int certpin_prov_db_init( BackendDB *be, certpin_info *ci );
int certpin_prov_db_open( BackendDB *be, certpin_info *ci, ConfigReply *cr );
int certpin_prov_db_destroy( BackendDB *be, certpin_info *ci );
int certpin_prov_extended( Operation *op, SlapReply *rs );
/* certpin-admin-group (normalized), or NULL / BER_BVNULL when unset. */
struct berval *certpin_prov_admin_group( Operation *op );

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
