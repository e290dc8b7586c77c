#!/bin/bash
# test051-fuzz: every libFuzzer target (fuzz/fuzz-*.c) builds with Debian's
# clang under ASan + UBSan, replays its committed seeds and crash regressions
# without a finding, then survives a short bounded fuzzing run.
# CERTPIN_FUZZ_TIME sets the seconds per target (default 5); fuzz/run does
# the long runs (fuzz/README).  A crash input is kept in tests/logs/fuzz/.
. "$(dirname "$0")/lib.sh"

secs=${CERTPIN_FUZZ_TIME:-5}
# The fuzzers carry clang's own sanitizer runtime: no other may be preloaded.
unset LD_PRELOAD
command -v clang >/dev/null 2>&1 || die "clang is missing (run scripts/install-deps)"
bins=$("$SRCDIR/fuzz/build" "$TESTDIR/fuzz" 2>"$TESTDIR/build.log") ||
	die "fuzz targets do not build: $(head -n 20 "$TESTDIR/build.log")"
ntargets=$(ls "$SRCDIR"/fuzz/fuzz-*.c | wc -l)
check_eq "every fuzz/fuzz-*.c target built" "$ntargets" "$(printf '%s\n' "$bins" | grep -c .)"
# A regression kept for a target that is not built would never be replayed.
for d in "$SRCDIR"/fuzz/regress/*/; do
	[ -d "$d" ] || continue
	r=$(basename "$d")
	check "fuzz/regress/$r belongs to a built target" \
		test -x "$TESTDIR/fuzz/fuzz-$r"
done
keep=$BUILDDIR/tests/logs/fuzz
for b in $bins; do
	t=${b##*/fuzz-}
	[ -d "$SRCDIR/fuzz/corpus/$t" ] && [ -n "$(ls "$SRCDIR/fuzz/corpus/$t")" ] ||
		die "no seed corpus fuzz/corpus/$t"
	mkdir -p "$TESTDIR/work/$t" "$TESTDIR/art"
	dirs=$SRCDIR/fuzz/corpus/$t
	[ -d "$SRCDIR/fuzz/regress/$t" ] && dirs="$dirs $SRCDIR/fuzz/regress/$t"
	# Replay: -runs=0 executes every committed input once.
	# shellcheck disable=SC2086
	check "$t: seeds and crash regressions replay cleanly" \
		"$b" -runs=0 -artifact_prefix="$TESTDIR/art/$t-" $dirs
	# shellcheck disable=SC2086
	out=$("$b" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$TESTDIR/art/$t-" "$TESTDIR/work/$t" $dirs 2>&1) && rc=0 || rc=$?
	runs=$(printf '%s\n' "$out" | sed -n 's/^Done \([0-9]*\) runs.*/\1/p')
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		ok "$t: ${secs}s of fuzzing, $runs inputs, no crash"
	else
		notok "$t: fuzzing found a crash (exit $rc)"
		printf '%s\n' "$out" | grep -E 'ERROR|invariant|SUMMARY|#[0-9]+ 0x' | head -n 20 | sed 's/^/#   /'
		mkdir -p "$keep"
		cp "$TESTDIR"/art/"$t"-* "$keep"/ 2>/dev/null &&
			echo "#   crash input kept in $keep (add it to fuzz/regress/$t)"
	fi
done
done_testing
