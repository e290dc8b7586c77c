#!/bin/bash
# test096-package-trixie: certpin's Debian packages on Debian 13 (slapd
# 2.6.10): built with dpkg-buildpackage in the Debian 13 build root,
# installed with apt in a clean Debian 13 root, enabled on its packaged
# cn=config slapd by running every command of doc/cn-config.md; a
# certificate recorded, a logon, a revocation, the next logon refused,
# strong mapping, removal; dpkg --verify slapd stays clean, every packaged
# path is certpin's own (dpkg -S), the purge removes only certpin's files.
# certpin-host-only: drives Debian roots (scripts/root) itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-debroot.sh"
debroot_walkthrough trixie
done_testing
