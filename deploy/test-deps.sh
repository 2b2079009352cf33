#!/usr/bin/env bash
# test-deps.sh: as root, installs the services the tests run for real beside
# the lab's (deploy/lab/lab.sh deps): PostgreSQL 15 from Debian, which the
# PostgreSQL export's tests start in a temporary folder of their own
# (internal/testutil/pgtest). Nothing here starts or configures a service:
# the tests start their own and stop it.
set -euo pipefail

need=()
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || need+=(postgresql)
((${#need[@]})) || exit 0
if ! command -v apt-get >/dev/null; then
	echo "test-deps: install ${need[*]} (Debian packages) for the tests that use them" >&2
	exit 1
fi
echo "test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${need[@]}" >&2
