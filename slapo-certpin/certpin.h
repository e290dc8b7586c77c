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

/* Schema, registered by core.c (certpin_schema_init). */
extern AttributeDescription *ad_certpinCertificate;
extern AttributeDescription *ad_certpinCertBinary;	/* certpinCertificate;binary, as stored */
extern AttributeDescription *ad_certpinThumbprint;
extern AttributeDescription *ad_certpinCertInfo;
extern AttributeDescription *ad_certpinRevoked;
extern AttributeDescription *ad_certpinPIN;
extern AttributeDescription *ad_certpinPINFailure;
extern AttributeDescription *ad_certpinRevokedThumbprint;
/* pin.c's PIN state (operational attributes) */
extern AttributeDescription *ad_certpinPINChanged;
extern AttributeDescription *ad_certpinPINExpires;
extern AttributeDescription *ad_certpinPINLock;
extern AttributeDescription *ad_certpinPINHistory;
extern AttributeDescription *ad_certpinPINLockout;
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

/* What a client is told when the backend refuses one of certpin's own
 * writes with result rc (a static string: the backend's own text may live
 * on its stack and is only logged). */
const char *certpin_write_failed_text( int rc );

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
/* Does some entry of db hold every attribute the record of an issued
 * certificate stores (so that a transaction writing records can abort)? */
int certpin_adtable_records_stored( Operation *op, BackendDB *db );
int certpin_adtable_check( Operation *op, SlapReply *rs, BackendDB *db, int touches );
void certpin_adtable_watch( Operation *op );
/* write.c: the group commit's queue, once per process. */
void certpin_write_init( void );
/* Does an overlay of db log its writes as they run, outside the database's
 * transactions (accesslog, auditlog)?  (core.c) */
int certpin_db_logs_writes( BackendDB *db );
/* Record an issued certificate (DER) on entry ndn of db with its metadata
 * (endpoint may be NULL), with the checks of the write path; an internal
 * modify as db's root DN.  info: the certificate's metadata when the caller
 * has it (certpin_certinfo_from_x509; its ci_published is set here), or
 * NULL to parse der.  assertion (may be NULL): an RFC 4528 assertion the
 * backend tests on the entry inside the write's own transaction (the write
 * fails with LDAP_ASSERTION_FAILED and changes nothing when it is false):
 * provision.c's "the requester's certificate is still on file".  Concurrent
 * calls share database commits (write.c, group commit); each gets its own
 * result.  Returns an LDAP result code, rs->sr_text set. */
int certpin_write_record( Operation *op, BackendDB *db, struct berval *ndn,
	struct berval *der, certpin_certinfo *info, const char *endpoint,
	Filter *assertion, SlapReply *rs );
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
/* Call after a write that may have revoked certificates (removed
 * certificates, removed the certpinUser class, renamed or deleted an entry
 * or a superior of one holding certificates) has COMMITTED, before its
 * result goes back; any origin (client, transaction commit, syncrepl,
 * internal).  When it returns, no operation of a session bound with a
 * certificate that is no longer on file runs with that identity: it waits
 * (at most two seconds, then shuts such a connection down) for the ones
 * under way, never for the calling thread's own.  op: the write (its target
 * narrows the sessions looked up; any op is accepted).  The frontend calls
 * it itself after a successful transaction end, and for writes to a
 * database that has no certpin database instance. */
void certpin_bind_revoked( Operation *op );
/* The re-bind cache (bind.c): whatever a bind found before is not used
 * again.  certpin_bind_cache_write: for a write (or extended operation) op
 * that begins: bumps now, when its result is sent and when it is done. */
void certpin_bind_cache_bump( void );
void certpin_bind_cache_write( Operation *op );
/* 1 and the thumbprint (64 hex digits and a NUL) when op's connection bound
 * with a client certificate (also when a revocation has taken that identity
 * since, until the next bind), else 0. */
int certpin_bind_session_cert( Operation *op, char hex[65] );

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
/* bi_access_allowed of both instances: certpinPIN (and accesslog values
 * recording it) is never readable, searchable or comparable except by the
 * replication identity on a sync search. */
int certpin_access( Operation *op, Entry *e, AttributeDescription *desc,
	struct berval *val, slap_access_t access, AccessControlState *state,
	slap_mask_t *maskp );
int certpin_pin_add( Operation *op, SlapReply *rs );
int certpin_pin_modify( Operation *op, SlapReply *rs );
/* May the requester delete certpinPINFailure (unlock) on op's target? */
int certpin_pin_may_unlock( Operation *op );
/* Prove the user by phone and PIN: on success the user's normalized DN in
 * ndn (op->o_tmpmemctx) and its database in *db.  Returns an LDAP result
 * code (49 unknown phone or wrong PIN, 19 locked), text set. */
int certpin_pin_prove( Operation *op, struct berval *phone, struct berval *pin,
	struct berval *ndn, BackendDB **db, const char **text );

/* monitor.c: live counters, shown in cn=monitor (slapo-certpin(5),
 * MONITORING).  Each call is one relaxed atomic add, no lock; the calls
 * that take an Operation also log the event's machine-readable line
 * ("certpin: event=... reason=..."), at loglevel stats. */

/* Why a logon was refused (or would be, in audit mode): the reason= tokens
 * no-such-entry, not-issued, revoked, expired, not-yet-valid,
 * strong-mapping-none, strong-mapping-ambiguous, unclassifiable-mechanism,
 * unreadable-certificate, internal-error, other. */
enum {
	CP_WHY_NO_SUCH_ENTRY = 0,
	CP_WHY_NOT_ISSUED,
	CP_WHY_REVOKED,
	CP_WHY_EXPIRED,
	CP_WHY_NOT_YET_VALID,
	CP_WHY_STRONG_NONE,
	CP_WHY_STRONG_AMBIGUOUS,
	CP_WHY_MECHANISM,
	CP_WHY_UNREADABLE,
	CP_WHY_ERROR,
	CP_WHY_OTHER,
	CP_WHY_N
};

/* Why an issuance was refused: bad-request, tls-required, bad-credentials,
 * locked, not-authorized, no-such-user, not-eligible, no-ca, replica,
 * record-refused, other. */
enum {
	CP_IWHY_BAD_REQUEST = 0,
	CP_IWHY_TLS_REQUIRED,
	CP_IWHY_BAD_CREDENTIALS,
	CP_IWHY_LOCKED,
	CP_IWHY_NOT_AUTHORIZED,
	CP_IWHY_NO_SUCH_USER,
	CP_IWHY_NOT_ELIGIBLE,
	CP_IWHY_NO_CA,
	CP_IWHY_REPLICA,
	CP_IWHY_RECORD,
	CP_IWHY_OTHER,
	CP_IWHY_N
};

/* The counters. */
enum {
	CP_CTR_LOGON_ACCEPTED = 0,
	CP_CTR_LOGON_REFUSED,				/* + CP_WHY_* */
	CP_CTR_LOGON_AUDIT = CP_CTR_LOGON_REFUSED + CP_WHY_N,	/* + CP_WHY_* */
	CP_CTR_SESSION_ENDED = CP_CTR_LOGON_AUDIT + CP_WHY_N,
	CP_CTR_SESSION_AUDIT,
	CP_CTR_ISSUED_PIN,
	CP_CTR_ISSUED_SELF,
	CP_CTR_ISSUED_ADMIN,
	CP_CTR_ISSUE_REFUSED,				/* + CP_IWHY_* */
	CP_CTR_PIN_WRONG = CP_CTR_ISSUE_REFUSED + CP_IWHY_N,
	CP_CTR_PIN_LOCKOUT,
	CP_CTR_REVOKED,
	CP_CTR_BIND_CACHE_HIT,
	CP_CTR_BIND_CACHE_MISS,
	CP_CTR_RECORD_COMMITS,
	CP_CTR_RECORD_GROUPED,
	CP_CTR_N
};

/* The events of certpin_count_logon. */
enum {
	CP_EV_LOGON_REFUSED = 0,	/* a logon refused */
	CP_EV_LOGON_AUDIT,		/* one audit mode lets through */
	CP_EV_SESSION_ENDED,		/* a session continues as anonymous */
	CP_EV_SESSION_AUDIT		/* one audit mode lets continue */
};

/* One more of counter ctr (CP_CTR_*). */
void certpin_count( int ctr );
/* One more of ctr if op's result is success (e.g. a revocation, counted
 * only once the write that makes it has succeeded). */
void certpin_count_on_success( Operation *op, int ctr );
/* A logon or session event ev (CP_EV_*) for bind.c's diagnostic why, on
 * identity ndn (may be NULL) with certificate thumbprint hex (may be
 * NULL): counted by reason, and logged. */
void certpin_count_logon( Operation *op, int ev, const char *why,
	struct berval *ndn, const char *hex );
/* A certificate issued; path: "phone+PIN", "administrator" or "self". */
void certpin_count_issued( const char *path );
/* commits: database commits that recorded certpinIssue certificates;
 * grouped: the certificates among them recorded in a commit shared with
 * other requests (write.c, group commit). */
void certpin_count_records( int commits, int grouped );
/* An issuance refused with result code err and diagnostic text. */
void certpin_count_issue_refused( Operation *op, int err, const char *text );
/* A wrong PIN for ndn, the failures-th in the window of max allowed (a
 * lockout when failures reaches max). */
void certpin_count_pin_wrong( Operation *op, struct berval *ndn,
	int failures, int max );
/* The current value of counter ctr. */
unsigned long certpin_counter( int ctr );
/* The CP_WHY_* of bind.c's diagnostic why; the CP_IWHY_* of an issuance
 * refusal. */
int certpin_why_reason( const char *why );
int certpin_issue_reason( int err, const char *text );
/* Show the counters in cn=monitor when a monitor database is configured
 * (once per process; never fails). */
int certpin_monitor_db_open( BackendDB *be );

#endif /* CERTPIN_H */
