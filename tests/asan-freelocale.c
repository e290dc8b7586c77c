/* asan-freelocale.c - preloaded after libasan by tests/sanitize asan only.
 *
 * With gcc's (and clang's) ASan runtime preloaded into Debian 12's
 * uninstrumented slapd/slapadd, glibc's setlocale lock ends up with a negative
 * reader count, so the freelocale() that libp11-kit's destructor calls at
 * exit waits for ever: every slapd hangs after its shutdown is complete
 * (database closed, pidfile removed).  Not certpin code; reproduced with a
 * plain back-mdb slapadd and no certpin module.  Freeing a locale at exit is
 * pointless anyway: this makes it a no-op so the processes exit.
 */
#include <locale.h>

void
freelocale( locale_t l )
{
	(void)l;
}
