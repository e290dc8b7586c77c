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
