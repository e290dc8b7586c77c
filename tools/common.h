/* common.h - what every certpin tool shares: options, connection, errors
 *
 * Modelled on OpenLDAP's clients/tools/common.c: one option parser gives the
 * common letters the meaning they have in ldapsearch, ldapmodify, ...:
 *
 *   -H URI     LDAP URI(s) (default: URI from ldap.conf / LDAPURI)
 *   -D binddn  bind DN (simple bind; also the SASL bind DN if given)
 *   -w passwd  bind password (wiped from argv at once)
 *   -W         prompt for the bind password on the terminal
 *   -y file    read the bind password from file (whole file, as ldapsearch;
 *              not empty, at most CERTPIN_SECRET_MAX bytes: certpin_secret_read)
 *   -x         simple authentication
 *   -Y mech    SASL mechanism (EXTERNAL over ldapi:// or TLS with a cert)
 *   -U authcid -R realm -X authzid -O secprops -I (interactive) -Q (quiet)
 *   -N         do not canonicalize the SASL host name
 *   -Z[Z]      StartTLS (-ZZ: fail if it does not succeed)
 *   -n         do nothing, show what would be done (with -v: each action,
 *              prefixed with '!')
 *   -v         verbose (-vv more)
 *   -c         continue after errors (the exit status is the last error)
 *   -f file    read work items from file ("-" is standard input)
 *   -d level   libldap debug level
 *   -o opt[=v] nettimeout=<s>, ldif_wrap=<n|no>, any ldap.conf option
 *              (e.g. -o TLS_CACERT=/path); names the parser does not know
 *              are offered to the tool.  The old spellings of the output
 *              format (-o json, -o ldif, -o table, -o text, -o format=F)
 *              still work with a deprecation note: they are no ldap.conf
 *              option names, so they cannot collide
 *   --output=FORMAT (--format)  output format: text (table), ldif, json,
 *              as far as the tool offers them (cp_tool_formats())
 *   -j         the same as --output=json
 *   -V         version
 * nettimeout bounds connecting and, as libldap's LDAP_OPT_TIMEOUT, every
 * wait for an answer (default CP_TIMEOUT seconds unless ldap.conf sets
 * NETWORK_TIMEOUT / TIMEOUT; "none" waits for ever);
 * connecting, StartTLS and the bind together are bounded by
 * CP_WATCHDOG timeouts (libldap does not bound a TLS handshake).
 * With no -x/-Y, a -D selects a simple bind, otherwise SASL with the
 * ldap.conf default mechanism (SASL_MECH), as OpenLDAP's tools do.
 * Conflicts are refused: "-y incompatible with -w", "-D previously
 * specified", "incompatible previous authentication choice".
 * ldap.conf, ~/.ldaprc and LDAPTLS_* (LDAPTLS_CACERT, LDAPTLS_CERT,
 * LDAPTLS_KEY, ...) are honoured by libldap itself.
 *
 * USE (a tool's main):
 *
 *   static struct option my_long[] = {
 *       { "thumbprint", required_argument, NULL, 'T' },  // any code
 *       { NULL, 0, NULL, 0 } };
 *   static int my_opt( int c, char *arg ) { ...; return 1 if handled }
 *   static void my_usage( FILE *fp ) { ... tool-specific lines ... }
 *
 *   cp_tool_init( "certpin-get", "Ta", my_long, my_opt, my_usage );
 *   optind = cp_tool_args( argc, argv );     // exits on usage errors
 *   ld = cp_tool_connect();                  // setup + StartTLS + bind; exits on error
 *   ...
 *   cp_tool_exit( ld, rc );                  // unbind, exit(rc)
 *
 * The private hook gets the option code and its argument; it returns 1
 * when it accepted the option, 0 to have it reported as unrecognized, and
 * may call cp_usage_error() itself for a bad value.  For "-o NAME[=VALUE]"
 * with an unknown NAME it is called with c == CP_OPT_GENERAL and arg the
 * whole "NAME[=VALUE]" string.  Private short letters must not reuse the
 * common ones listed in CP_COMMON_SHORT.
 *
 * Errors and exit codes follow ldapsearch: cp_perror() prints
 *   prog: <ldap_err2string> (<code>)
 *   	matched DN: <dn>
 *   	additional info: <text>
 * and tools exit with the LDAP result code of the last error (0 on
 * success, 1 for unusable input, 2 (cp_usage_status) for usage errors).
 *
 * Everything a tool prints for people (tables, messages, prompts) passes
 * what came from the directory or the input through cp_esc() / cp_esc_dn():
 * no control character, escape sequence or invalid UTF-8 reaches the
 * terminal.
 *
 * Work items (identities) come from the operands, or when there are none,
 * from -f FILE or standard input, one per line: see cp_items_read().
 */
#ifndef CERTPIN_COMMON_H
#define CERTPIN_COMMON_H

#include <stdio.h>
#include <getopt.h>
#include <ldap.h>

/* The common short options (getopt syntax). */
#define CP_COMMON_SHORT	"cd:D:f:H:IhjnNo:O:QR:U:vVw:WxX:y:Y:Z"

/* Seconds a tool waits for an answer without -o nettimeout. */
#define CP_TIMEOUT	30
/* Connecting, StartTLS and binding together: this many timeouts. */
#define CP_WATCHDOG	2

/* Output formats (cp_opt.format); a tool offers a mask of them. */
enum { CP_FMT_TEXT = 0, CP_FMT_LDIF, CP_FMT_JSON };
#define CP_FMT_MASK( f )	( 1U << ( f ) )

/* Code passed to the private hook for an unknown "-o name[=value]". */
#define CP_OPT_GENERAL	0x10000

typedef int (cp_private_fn)( int c, char *arg );
typedef void (cp_usage_fn)( FILE *fp );

/* The parsed common options; read them, do not write them. */
typedef struct cp_common {
	const char	*prog;		/* tool name for messages */
	char		*ldapuri;	/* -H, NULL: ldap.conf default */
	char		*binddn;	/* -D */
	struct berval	passwd;		/* -w/-W/-y, read at bind time */
	char		*pw_file;	/* -y */
	int		want_bindpw;	/* -W */
	int		authmethod;	/* LDAP_AUTH_SIMPLE or LDAP_AUTH_SASL */
	char		*sasl_mech;	/* -Y */
	char		*sasl_realm;	/* -R */
	char		*sasl_authc_id;	/* -U */
	char		*sasl_authz_id;	/* -X */
	char		*sasl_secprops;	/* -O */
	unsigned	sasl_flags;	/* LDAP_SASL_QUIET (default), _INTERACTIVE (-I) */
	int		nocanon;	/* -N */
	int		use_tls;	/* -Z count */
	int		dont;		/* -n: WhatIf */
	int		verbose;	/* -v count */
	int		contoerr;	/* -c */
	char		*infile;	/* -f */
	int		debug;		/* -d */
	int		nettimeout;	/* -o nettimeout, seconds, -1 unset */
	int		ldif_wrap;	/* -o ldif_wrap, 0: no wrapping */
	int		format;		/* --output / -j: CP_FMT_* */
	int		format_set;	/* given on the command line */
} cp_common;

extern cp_common cp_opt;

/* Register the tool: name, its private short letters (getopt syntax, may be
 * ""), its long options (may be NULL), its option hook, its usage lines. */
void cp_tool_init( const char *prog, const char *private_short,
	const struct option *private_long, cp_private_fn *fn, cp_usage_fn *usage );

/* The formats the tool offers (CP_FMT_MASK()s; default text only) and
 * the name of its text format in messages ("table" for certpin-get). */
void cp_tool_formats( unsigned mask, const char *text_name );

/* The exit status of usage errors (unknown options, bad option values,
 * contradictions): 2 in every tool, unless the tool sets another before
 * cp_tool_args() (certpin-test --nagios: 3, the plugins' UNKNOWN). */
#define CP_EXIT_USAGE	2
extern int cp_usage_status;

/* The seconds to wait for an answer: -o nettimeout, else CP_TIMEOUT; 0
 * for none. */
int cp_timeout( void );

/* Parse argv; returns the index of the first operand.  Exits with
 * cp_usage_status and a message on a usage error, 0 after --help / -h / -VV. */
int cp_tool_args( int argc, char **argv );

/* Called with the message of every usage error before it is printed
 * (certpin-test --nagios prints its UNKNOWN line); NULL by default. */
typedef void (cp_usage_fn_msg)( const char *msg );
extern cp_usage_fn_msg *cp_usage_hook;

/* Print "prog: msg", the usage hint, exit cp_usage_status. */
void cp_usage_error( const char *fmt, ... )
	__attribute__(( noreturn, format( printf, 1, 2 ) ));

/* Full usage text (common + private) to fp. */
void cp_usage( FILE *fp );

/* A new session to uri as every tool wants it: ldap_initialize, LDAPv3, no
 * referrals.  Returns the LDAP result code; *ldp is NULL when
 * ldap_initialize failed, else set (the caller unbinds it). */
int cp_ld_new( const char *uri, LDAP **ldp );

/* Create the session (ldap_initialize, v3, no referrals, nettimeout,
 * StartTLS per -Z) and bind per the options.  Exits with the LDAP result
 * code and a message on failure. */
LDAP *cp_tool_connect( void );

/* Unbind (when ld is not NULL) and exit with status. */
void cp_tool_exit( LDAP *ld, int status ) __attribute__(( noreturn ));

/* ldapsearch-style error message, "what" defaults to the program name. */
void cp_perror( const char *what, int err, const char *matched,
	const char *info );

/* Parse result message res (not freed); print an error when it is not
 * success (with "what"), return the result code. */
int cp_result( LDAP *ld, LDAPMessage *res, const char *what );

/* Print an error for a failed library call on ld (LDAP_OPT_RESULT_CODE /
 * DIAGNOSTIC_MESSAGE) and return the code. */
int cp_ld_error( LDAP *ld, const char *what, int rc );

/* Non-fatal messages: "prog: ...\n" on stderr. */
void cp_warn( const char *fmt, ... ) __attribute__(( format( printf, 1, 2 ) ));

/* ---- work items ------------------------------------------------------------
 * One item per operand; without operands, one per line from -f FILE or
 * standard input.  Input lines:
 *   - empty lines and lines starting with '#' are ignored;
 *   - LDIF "dn: DN" / "dn:: base64" lines (as ldapsearch and certpin-get
 *     -o ldif print them) give the item "DN" (marked ci_is_dn); a following
 *     line starting with one space continues the line (LDIF folding);
 *   - other LDIF lines "attr: value" are ignored, except "Thumbprint:
 *     <hex>" inside a record, which is attached to that record's item
 *     (so certpin-get's LDIF output names exact certificates);
 *   - any other line is one item, trailing '\r' and surrounding blanks
 *     removed.
 */
typedef struct cp_item {
	char	*ci_value;	/* the identity text */
	int	ci_is_dn;	/* came from a "dn:" line */
	char	*ci_thumb;	/* Thumbprint from the same LDIF record, or NULL */
	int	ci_line;	/* input line number, 0 for operands */
} cp_item;

typedef struct cp_items {
	cp_item	*it_v;
	int	it_n, it_max;
	const char *it_src;	/* "argument", file name or "standard input" */
} cp_items;

/* Collect the items (operands argv[first..argc-1], else the -f file or
 * stdin).  Returns 0, or exits 1 with a message (unreadable file, bad
 * base64). */
int cp_items_read( cp_items *its, int argc, char **argv, int first );
/* The reader behind it: the items of the lines of f (src names it in
 * messages).  0, or -1 with the message to print in msg and nothing kept
 * (a bad "dn::" value, a NUL byte in a line, a read error, no memory). */
int cp_items_parse( cp_items *its, FILE *f, const char *src, char *msg, size_t msglen );
void cp_items_free( cp_items *its );

/* Ask "prompt [y/N] " on /dev/tty; 1 for yes. -1 when there is no terminal. */
int cp_confirm( const char *fmt, ... ) __attribute__(( format( printf, 1, 2 ) ));

/* Is stderr a terminal (progress display allowed)? */
int cp_progress_ok( void );

/* Does the server hide attribute attr of entry dn from the bound identity?
 * Asks with a compare of a value no entry holds: insufficientAccess means
 * hidden (1); compareFalse, noSuchAttribute or anything else: 0.  So that
 * "no certificates" is never said when the truth is "not allowed to see". */
int cp_attr_hidden( LDAP *ld, const char *dn, const char *attr );

/* Does entry e (read with objectClass) hold that class?  Only entries of
 * the classes certificates and records need are asked about (one round
 * trip each). */
int cp_has_class( LDAP *ld, LDAPMessage *e, const char *oc );

/* The message for that: prog: "DN": Insufficient access (50), with what. */
void cp_hidden_error( const char *dn, const char *what );

/* ---- secrets ----------------------------------------------------------------
 * Password (-y) and PIN (--pin-file) files, read by one function. */

/* Largest secret (password, PIN) read from a terminal or file. */
#define CERTPIN_SECRET_MAX	1024

/* Read a secret from a file: its whole content, less one trailing newline
 * (LF or CRLF) and refused when it holds another one.  Warns on stderr
 * when the file is readable by others.  Refused (-1 with a reason, nothing
 * kept): a file that cannot be read, an empty one, one longer than
 * CERTPIN_SECRET_MAX bytes.  0 on success.  Free with certpin_secret_free(). */
int certpin_secret_file( const char *path, struct berval *out,
	char *err, size_t errlen );
/* The same with chomp 0: the whole file is the secret, as ldapsearch -y
 * reads a password (newlines included); the same refusals (ldapsearch's
 * reader, and certpin's tools before 2026-12, cut a long file at 4095
 * bytes and took an empty file as an empty password).  -y reads with it. */
/* "fmt ..." into err[errlen] (nothing when err is NULL or errlen 0) */
void cp_err( char *err, size_t errlen, const char *fmt, ... )
	__attribute__(( format( printf, 3, 4 ) ));

int certpin_secret_read( const char *path, int chomp, struct berval *out,
	char *err, size_t errlen );

/* Wipe and free. */
void certpin_secret_free( struct berval *s );

/* ---- output ---------------------------------------------------------------- */

/* One LDIF line "name: value" (base64 "name:: ..." when the value needs it),
 * folded per -o ldif_wrap. */
void cp_ldif_put( FILE *fp, const char *name, const char *value );

/* A JSON string literal (RFC 8259 escapes: C0, DEL and C1 as \u00XX,
 * invalid UTF-8 as U+FFFD, so the result is valid JSON); NULL prints null. */
void cp_json_string( FILE *fp, const char *s );

/* Printable forms of untrusted text for people.  cp_esc(): every control
 * character (C0, DEL, the C1 range U+0080..U+009F) and every byte that is
 * not part of valid UTF-8 becomes \xHH.  cp_esc_dn(): the same as RFC 4514
 * hex escapes \HH, so an escaped DN still names the same entry.  NULL gives
 * "".  The result lives until CP_ESC_SLOTS later calls (several may be used
 * in one printf). */
#define CP_ESC_SLOTS	8
const char *cp_esc( const char *s );
const char *cp_esc_dn( const char *s );
const char *cp_esc_len( const char *s, size_t len );

#endif /* CERTPIN_COMMON_H */
