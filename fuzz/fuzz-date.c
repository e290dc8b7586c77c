/* fuzz-date.c - libFuzzer target: date and time parsing
 *
 * certpin_date_parse() reads dates people type to the tools (certpin-get
 * filters, expiry arguments); certpin_gentime_parse() reads the
 * GeneralizedTimes stored in metadata records.  Accepted dates must be real
 * calendar dates that format back to the same GeneralizedTime.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certinfo.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	char *s, gt[CERTPIN_GENTIME_LEN + 1], iso[CERTPIN_ISOTIME_LEN + 1];
	time_t t, t2;

	s = malloc( size + 1 );
	FUZZ_ASSERT( s != NULL );
	memcpy( s, data, size );
	s[size] = '\0';

	if ( certpin_gentime_parse( s, &t ) == 0 ) {
		FUZZ_ASSERT( strlen( s ) == CERTPIN_GENTIME_LEN );
		certpin_gentime( t, gt );
		/* A leap second (:60) normalizes to the next minute. */
		if ( s[12] != '6' )
			FUZZ_ASSERT( strcmp( gt, s ) == 0 );
		FUZZ_ASSERT( certpin_gentime_iso( s, iso ) == 0 );
		FUZZ_ASSERT( strlen( iso ) == CERTPIN_ISOTIME_LEN );
		FUZZ_ASSERT( certpin_date_parse( s, &t2 ) == 0 && t2 == t );
	} else {
		FUZZ_ASSERT( certpin_gentime_iso( s, iso ) == -1 );
	}
	if ( certpin_date_parse( s, &t ) == 0 ) {
		certpin_gentime( t, gt );
		FUZZ_ASSERT( strlen( gt ) == CERTPIN_GENTIME_LEN );
		FUZZ_ASSERT( certpin_gentime_parse( gt, &t2 ) == 0 && t2 == t );
	}
	free( s );
	return 0;
}
