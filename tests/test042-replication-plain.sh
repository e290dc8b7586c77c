#!/bin/bash
# test042-replication-plain: test040's scenarios with plain syncrepl (whole
# entries replicated; no accesslog).  Without concurrent writes to one entry
# certpin behaves the same as with delta-syncrepl.
REPL_MODE=plain
. "$(dirname "$0")/test040-replication.sh"
