/* fuzz-secret-file.c - libFuzzer target: password and PIN files
 *
 * Every tool's -y FILE (the bind password: the whole file, as ldapsearch)
 * and certpin-issue / certpin-test / certpin-pin --pin-file FILE (less one
 * final newline) are read by one function, tools/common.c:
 * certpin_secret_read().  This target writes any bytes into a file (a
 * memfd, mode 0600) and reads it both ways (the first byte chooses), and
 * checks: an accepted secret is 1..CERTPIN_SECRET_MAX bytes, NUL-terminated,
 * and exactly the file (-y) or the file less one final LF / CRLF with no
 * other newline (--pin-file): nothing cut, nothing added; a refused one
 * says why (naming the file) and returns nothing.
 */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common.h"
#include "fuzz.h"

static int fz_fd = -1;
static char fz_path[64];

int
LLVMFuzzerTestOneInput( const uint8_t *data, size_t size )
{
	struct berval s;
	char err[512];
	size_t want;
	int chomp, rc;

	if ( size == 0 )
		return 0;
	chomp = data[0] & 1;
	data++;
	size--;
	if ( fz_fd < 0 ) {
		fz_fd = memfd_create( "secret", 0 );
		FUZZ_ASSERT( fz_fd >= 0 && fchmod( fz_fd, 0600 ) == 0 );
		snprintf( fz_path, sizeof( fz_path ), "/proc/self/fd/%d", fz_fd );
		cp_opt.prog = "fuzz";
	}
	FUZZ_ASSERT( ftruncate( fz_fd, 0 ) == 0 );
	FUZZ_ASSERT( size == 0 || pwrite( fz_fd, data, size, 0 ) == (ssize_t)size );

	err[0] = '\0';
	s.bv_val = (char *)"x";
	s.bv_len = 1;
	rc = certpin_secret_read( fz_path, chomp, &s, err, sizeof( err ) );
	if ( rc != 0 ) {
		FUZZ_ASSERT( rc == -1 && s.bv_val == NULL && s.bv_len == 0 );
		FUZZ_ASSERT( strncmp( err, fz_path, strlen( fz_path ) ) == 0 &&
			strlen( err ) > strlen( fz_path ) + 2 );
		/* refused for a reason the bytes give */
		want = size;
		if ( chomp && want && data[want - 1] == '\n' ) {
			want--;
			if ( want && data[want - 1] == '\r' )
				want--;
		}
		FUZZ_ASSERT( want == 0 || want > CERTPIN_SECRET_MAX ||
			( chomp && memchr( data, '\n', want ) != NULL ) );
		return 0;
	}
	FUZZ_ASSERT( s.bv_val != NULL && s.bv_len >= 1 && s.bv_len <= CERTPIN_SECRET_MAX );
	FUZZ_ASSERT( s.bv_val[s.bv_len] == '\0' );
	FUZZ_ASSERT( memcmp( s.bv_val, data, s.bv_len ) == 0 );
	if ( !chomp ) {
		FUZZ_ASSERT( s.bv_len == size );
	} else {
		FUZZ_ASSERT( memchr( s.bv_val, '\n', s.bv_len ) == NULL );
		FUZZ_ASSERT( ( s.bv_len + 1 == size && data[s.bv_len] == '\n' ) ||
			( s.bv_len + 2 == size && data[s.bv_len] == '\r' &&
			  data[s.bv_len + 1] == '\n' ) ||
			s.bv_len == size );
	}
	certpin_secret_free( &s );
	FUZZ_ASSERT( s.bv_val == NULL && s.bv_len == 0 );
	return 0;
}
