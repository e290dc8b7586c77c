/* fuzz.h - shared by certpin's libFuzzer targets */
#ifndef CERTPIN_FUZZ_H
#define CERTPIN_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* An invariant the code under test must keep: abort (a crash libFuzzer
 * records, with the input) when it does not. */
#define FUZZ_ASSERT( x ) do { \
	if ( !( x ) ) { \
		fprintf( stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #x ); \
		abort(); \
	} \
} while ( 0 )

#endif /* CERTPIN_FUZZ_H */
