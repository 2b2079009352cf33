#!/usr/bin/env bash
# test-deps.sh: as root, installs the services the tests run for real beside
# the lab's (deploy/lab/lab.sh deps): PostgreSQL 15 from Debian, which the
# PostgreSQL export's tests start in a temporary folder of their own
# (internal/testutil/pgtest), and Prometheus (prometheus, promtool), which
# e2e/prometheus_test.go runs on a free port against a real cluster to check
# deploy/prometheus and deploy/grafana. Nothing here starts or configures a
# service: the tests start their own and stop it. (On a host with systemd the
# Debian package may start its own prometheus on :9090; the tests neither use
# nor collide with it.) And Chromium, which the dashboard's tests
# (e2e/ui_test.go, through chromedp) run headless.
set -euo pipefail

need=()
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || need+=(postgresql)
[[ -x /usr/bin/prometheus && -x /usr/bin/promtool ]] || need+=(prometheus)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
((${#need[@]})) || exit 0
if ! command -v apt-get >/dev/null; then
	echo "test-deps: install ${need[*]} (Debian packages) for the tests that use them" >&2
	exit 1
fi
echo "test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${need[@]}" >&2
