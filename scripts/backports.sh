# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Packages of Debian 12's bookworm-backports, downloaded and unpacked under
# the cache, never installed: sourced by scripts/compat-build (the 6.12
# kernel) and scripts/vm/l0-qemu (the QEMU that runs the test VM).
#
#   bp_update      apt-get update of the backports lists; 1 if unreachable
#   bp_download P  P... into $bp/debs; 1 on failure ($bp/download.log)
#   "${apt_opts[@]}"  apt-get/apt-cache options for those lists
bp_cache=${KVIO_CACHE:-/var/tmp/kvio-cache}
bp="$bp_cache/backports"
mkdir -p "$bp/lists/partial" "$bp/debs"
echo "deb http://deb.debian.org/debian bookworm-backports main" > "$bp/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$bp/sources.list" -o "Dir::Etc::sourceparts=/dev/null"
	-o "Dir::State::Lists=$bp/lists" -o "Dir::Cache::archives=$bp/debs"
	-o "APT::Sandbox::User=root")

# One apt-get at a time on these lists (compat-build and l0-qemu may run
# together): apt would fail on its lock instead of waiting.
bp_update() {
	flock "$bp/.lock" timeout 300 apt-get "${apt_opts[@]}" -q update \
		> "$bp/update.log" 2>&1
}

bp_download() {
	(cd "$bp/debs" &&
	 flock "$bp/.lock" timeout 600 apt-get "${apt_opts[@]}" -q download "$@") \
		>> "$bp/download.log" 2>&1
}
