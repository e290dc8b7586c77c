# lib-revoked.sh - helpers for certpinRevokedThumbprint (sourced after lib.sh)

# revoked_tps DN: the certpinRevokedThumbprint values of DN, sorted
revoked_tps() {
	root_search -b "$1" -s base certpinRevokedThumbprint |
		sed -n 's/^certpinRevokedThumbprint: //p' | LC_ALL=C sort
}

# revoked_tps_agree DESC DN WANT: DN's certpinRevokedThumbprint values are
# exactly the thumbprints its certpinRevoked records name, and those are
# the WANT list (thumbprints, space-separated; order does not matter)
revoked_tps_agree() {
	local desc=$1 dn=$2 want recs
	want=$(printf '%s\n' $3 | LC_ALL=C sort -u)
	recs=$(root_search -b "$dn" -s base certpinRevoked |
		sed -n 's/^certpinRevoked: sha256=\([0-9a-f]\{64\}\)\$.*/\1/p' | LC_ALL=C sort -u)
	check_eq "$desc: records name exactly the expected certificates" "$want" "$recs"
	check_eq "$desc: certpinRevokedThumbprint equals the records' thumbprints" "$want" "$(revoked_tps "$dn")"
}
