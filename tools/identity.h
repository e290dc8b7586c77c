/* identity.h - naming users the way Active Directory and Lync do
 *
 * Shared by every certpin tool.  An identity is one of
 *   - a DN                    uid=kenmyer,ou=people,dc=example,dc=com
 *                             (also from ldapsearch's "dn:" lines)
 *   - a SIP address           sip:kenmyer@example.com   -> sip-attribute
 *   - DOMAIN\logon            EXAMPLE\kenmyer           -> logon-attribute,
 *                             searched under the base DN of DOMAIN
 *   - a UPN                   kenmyer@example.com       -> upn-attribute
 *   - a display name          Ken Myer                  -> display-attribute
 * tried in that order: a string that parses as a DN is a DN; "sip:" starts
 * a SIP address; a '\' makes DOMAIN\logon; an '@' without blanks a UPN;
 * anything else is a display name.  Wildcards ('*') are refused in every
 * form but a DN; every value is escaped (RFC 4515) before it enters a
 * filter.  Exactly one entry must match: none is "no such user", several
 * is an error listing them.
 *
 * Configuration: the file named by --config, else $CERTPIN_CONF, else
 * /etc/ldap/certpin.conf (which may be absent).  One directive per line,
 * '#' starts a comment line:
 *   base <DN>                  where users are searched (default: BASE from
 *                              ldap.conf / $LDAPBASE, else the server's
 *                              single naming context)
 *   filter <filter>            AND-ed with every search (default
 *                              (objectClass=*))
 *   sip-attribute <attr>       default msRTCSIP-PrimaryUserAddress
 *   upn-attribute <attr>       default userPrincipalName
 *   logon-attribute <attr>     default sAMAccountName
 *   display-attribute <attr>   default displayName
 *   domain <NETBIOS> <DN>      DOMAIN\logon searches under DN; repeatable.
 *                              Without any, the first dc= label of base,
 *                              upper-cased, names the base (dc=example,
 *                              dc=com -> EXAMPLE).
 *   page-size <n>              page size of --all (default 500)
 *
 * Resolution of many identities uses one connection: searches are sent
 * asynchronously, up to CP_ID_WINDOW outstanding, and answered in input
 * order; --all uses the paged results control.
 */
#ifndef CERTPIN_IDENTITY_H
#define CERTPIN_IDENTITY_H

#include <ldap.h>
#include "common.h"

#define CP_ID_DEFAULT_CONF	"/etc/ldap/certpin.conf"
#define CP_ID_ENV		"CERTPIN_CONF"
#define CP_ID_WINDOW		64	/* searches in flight */
#define CP_ID_PAGE		500	/* page size of --all */
#define CP_ID_LIST		10	/* ambiguous matches listed */

/* Exit/err code for an unusable identity (wildcard, empty, unknown
 * domain, ambiguous); unknown users are LDAP_NO_SUCH_OBJECT. */
#define CP_ID_EINPUT		1

typedef struct cp_domain {
	char	*cd_name;	/* NetBIOS name */
	char	*cd_base;	/* its base DN */
} cp_domain;

typedef struct cp_idconf {
	char		*ic_path;		/* file read, or NULL */
	char		*ic_base;
	char		*ic_filter;
	char		*ic_sip_attr;
	char		*ic_upn_attr;
	char		*ic_logon_attr;
	char		*ic_display_attr;
	cp_domain	*ic_domains;
	int		ic_ndomains;
	int		ic_page;		/* page size of cp_id_all */
	int		ic_quiet_unknown;	/* do not print "no such user" (--force) */
	/* Messages on the connection that answer no identity search (a tool's
	 * own asynchronous requests, e.g. modifies sent from the callback) are
	 * handed here; the hook owns msg.  NULL: they are dropped. */
	void		(*ic_other)( LDAP *ld, LDAPMessage *msg, void *arg );
} cp_idconf;

/* Read the configuration (path NULL: $CERTPIN_CONF, else the default file,
 * which may be missing).  Exits 1 with "file:line: message" on errors. */
void cp_idconf_load( cp_idconf *ic, const char *path );
/* The loader's parts, without exit: cp_idconf_init() sets the defaults;
 * cp_idconf_parse() reads the directives of f (path names it in messages)
 * into ic and returns 0, or -1 with "prog: path:line: reason" in msg (ic
 * then holds what the lines before set; free it with cp_idconf_free()). */
void cp_idconf_init( cp_idconf *ic );
int cp_idconf_parse( cp_idconf *ic, FILE *f, const char *path, char *msg, size_t msglen );

/* Complete the defaults that need the server (base, default domain).
 * Returns 0, or an LDAP error after printing a message. */
int cp_idconf_finish( cp_idconf *ic, LDAP *ld );

void cp_idconf_free( cp_idconf *ic );

/* Called once per item, in input order.  entry is the user's entry (with
 * the attributes asked for; valid only during the call) and err 0; or entry
 * NULL and err the failure (already reported on stderr).  Returns 0 to go
 * on, non-zero to stop (e.g. after an error without -c): the searches in
 * flight are abandoned and the remaining items are not resolved. */
typedef int (cp_id_cb)( LDAP *ld, cp_item *item, LDAPMessage *entry,
	int err, void *arg );

/* Resolve every item of its; returns how many failed (items not reached
 * after a stop are not counted). */
int cp_id_resolve( LDAP *ld, cp_idconf *ic, cp_items *its, char **attrs,
	cp_id_cb *cb, void *arg );

/* Every user matching (&(filter)(presence)) under base, paged; cb gets a
 * NULL item (and may stop the search).  Returns 0 or the LDAP error
 * (reported). */
int cp_id_all( LDAP *ld, cp_idconf *ic, const char *presence, char **attrs,
	cp_id_cb *cb, void *arg );

/* Classify an identity (for messages and tests): "dn", "sip", "logon",
 * "upn", "display". */
const char *cp_id_kind( const char *s, int is_dn );

#endif /* CERTPIN_IDENTITY_H */
