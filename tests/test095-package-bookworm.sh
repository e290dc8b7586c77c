#!/bin/bash
# test095-package-bookworm: certpin's Debian packages on Debian 12 (slapd
# 2.5.13): built with dpkg-buildpackage on this (Debian 12) machine,
# installed with apt in a clean Debian 12 root, enabled on its packaged
# cn=config slapd by running every command of doc/cn-config.md; a
# certificate recorded, a logon, a revocation, the next logon refused,
# strong mapping, removal; dpkg --verify slapd stays clean, every packaged
# path is certpin's own (dpkg -S), the purge removes only certpin's files.
# certpin-host-only: drives Debian roots (scripts/root) itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-debroot.sh"
debroot_walkthrough bookworm
done_testing
