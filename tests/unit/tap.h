/* tap.h - the smallest TAP producer, for certpin's unit tests */
#ifndef CERTPIN_TAP_H
#define CERTPIN_TAP_H
#include <stdio.h>

static int tap_n, tap_fail;

#define is_true( cond, desc ) do { \
	tap_n++; \
	if ( cond ) printf( "ok %d - %s\n", tap_n, desc ); \
	else { tap_fail++; printf( "not ok %d - %s (%s:%d)\n", tap_n, desc, __FILE__, __LINE__ ); } \
} while ( 0 )

#define is_str( got, want, desc ) do { \
	const char *g_ = (got), *w_ = (want); \
	int ok_ = g_ && w_ && strcmp( g_, w_ ) == 0; \
	is_true( ok_, desc ); \
	if ( !ok_ ) printf( "#   got:    %s\n#   wanted: %s\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)" ); \
} while ( 0 )

static int
tap_done( void )
{
	printf( "1..%d\n", tap_n );
	return tap_fail ? 1 : 0;
}
#endif
