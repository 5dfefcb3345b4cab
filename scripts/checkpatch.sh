#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# checkpatch --strict over every C source and header of kvio, with the
# checkpatch.pl of Debian's linux-source-6.1 (unpacked once into the cache).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${KVIO_CACHE:-/var/tmp/kvio-cache}
cp_dir="$cache/checkpatch"
if [ ! -x "$cp_dir/scripts/checkpatch.pl" ]; then
	mkdir -p "$cp_dir"
	tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$cp_dir" --strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi
cd "$top"
files=$(git ls-files '*.c' '*.h' | grep -v -e '^selftests/' -e '^fuzz/' \
	-e '^tools/' -e '^include/kvio/compat[a-z-]*\.h$' || true)
rc=0
# shellcheck disable=SC2086
perl "$cp_dir/scripts/checkpatch.pl" --no-tree --strict --quiet --terse \
	--show-types -f $files || rc=1
# The compat headers are where version checks belong in an out-of-tree
# module: checkpatch's LINUX_VERSION_CODE rule is for code merged into one
# kernel.
perl "$cp_dir/scripts/checkpatch.pl" --no-tree --strict --quiet --terse \
	--show-types --ignore LINUX_VERSION_CODE -f include/kvio/compat.h \
	include/kvio/compat-iommu.h || rc=1
# kvio-vmm is userspace: the C types are <stdint.h>'s and there is no BIT().
# shellcheck disable=SC2046
perl "$cp_dir/scripts/checkpatch.pl" --no-tree --strict --quiet --terse \
	--show-types --ignore PREFER_KERNEL_TYPES,BIT_MACRO \
	-f $(git ls-files 'tools/*.c' 'tools/*.h') || rc=1
exit $rc
