/* certpin-revoke.c - (placeholder until its issue lands) */
#include <stdio.h>

int
main( int argc, char **argv )
{
	fprintf( stderr, "certpin-revoke: not implemented yet\n" );
	return 2;
}
