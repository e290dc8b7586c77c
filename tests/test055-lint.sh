#!/bin/bash
# test055-lint: the project's C code is clean under cppcheck and clang-tidy
# with the committed configuration (scripts/lint: .cppcheck, .clang-tidy).
. "$(dirname "$0")/lib.sh"

for p in cppcheck clang-tidy; do
	command -v "$p" >/dev/null 2>&1 || die "$p is missing (run scripts/install-deps)"
done
[ -f "$SRCDIR/Makefile" ] || die "no configured tree in $SRCDIR (run scripts/build)"
check ".cppcheck and .clang-tidy are committed" test -f "$SRCDIR/.cppcheck" -a -f "$SRCDIR/.clang-tidy"
check_rc_out 0 "scripts/lint: cppcheck and clang-tidy report nothing" "^lint: clean" "$SRCDIR/scripts/lint"
# The configuration is live: a planted null dereference is reported.
cat > "$TESTDIR/planted.c" <<'C'
#include <string.h>
int
planted( const char *s )
{
	const char *p = s ? strchr( s, 'x' ) : NULL;
	return p[0];
}
C
check_rc_out 1 "a planted bug is reported (the checks are not a no-op)" "planted.c" \
	"$SRCDIR/scripts/lint" "$TESTDIR/planted.c"
done_testing
