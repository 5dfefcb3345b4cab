#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kvio's own VMM (tools/kvio-vmm) with a real Linux guest: in the test VM
# ("L1"), kvio-vmm boots the Debian kernel under KVM (nested) as "L2" with
# its disks on kvio_blk and its NIC on kvio_net, and the guest's own
# virtio-pci, virtio-blk and virtio-net drivers do real I/O through KVM
# ioeventfd kicks and irqfd (MSI-X) interrupts:
#
#   - arguments: --help, and every bad argument an exit status of 1 with a
#     message, before any guest runs;
#   - one vCPU, no device: the guest reaches its init; its poweroff ends the
#     VMM with status 0;
#   - two vCPUs, a read-write disk, a read-only disk and a NIC: the guest's
#     data reaches the backing file (checked here by sha256 at the offset the
#     guest wrote), reads back after the guest dropped its caches, DISCARD
#     reads back zero and frees the file's blocks, the read-only disk refuses
#     a write; the guest's RAM sits on transparent huge pages; ping both
#     ways, TCP both ways with sha256; poweroff, then no module reference,
#     worker or tap user left;
#   - the same NIC on upstream's /dev/vhost-net (dev=): the same traffic;
#   - multiqueue: a disk with 2 queues and a NIC with 2 queue pairs on 2
#     vCPUs; traffic, then the VMM killed (SIGKILL) with disk and network I/O
#     in flight: nothing left behind;
#   - --iommu: bookworm-backports' 6.12 kernel (the one with virtio_iommu)
#     with the same disks and a NIC of 2 queue pairs behind kvio_iommu: the
#     guest's driver binds, the devices ack ACCESS_PLATFORM and get
#     translated domains, the control queue (served by the VMM through the
#     guest's mappings) turns both pairs on, the same disk and traffic
#     checks pass, no translation fault, nothing left;
#   - a receive ring L1 malforms while the VMM is stopped: kvio_net stops
#     it, kvio-vmm names the queue (VHOST_SET_VRING_ERR) and runs on;
#     SIGTERM ends it, nothing left;
#   - SIGTERM ends the VMM with 143, a guest panic (panic=-1) with 2.
#
#   selftests/test_kvio_vmm.sh [--vmm PATH] [--kernel VMLINUZ] [--bytes N]
#                              [--boot-timeout S] [--step-timeout S]
#                              [--only GROUPS] [--console] [--iommu-guest DIR]
#
# GROUPS: a comma-separated subset of args, cpu1, full, upstream, mq, iommu,
# ring, signals (default: all, in that order, or $KVIO_VMM_GROUPS).  DIR: an unpacked kernel package
# (boot/vmlinuz-V, lib/modules/V) for the iommu group; default the newest
# bookworm-backports image under $KVIO_CACHE (scripts/compat-build --run).  --console copies each guest's
# serial console to stderr as it runs (scripts/kvio-demo uses
# `--only full --console`).
#
# Needs root in L1 (scripts/vm/run-vm, modules loaded with
# scripts/vm/load-modules, which includes kvm_amd).  TAP 13 on stdout.
# Nothing leaves the machine: the taps and L2 only have 192.0.2.0/24
# addresses, no routes beyond that.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=selftests/vmm/l1-lib.sh
. "$top/selftests/vmm/l1-lib.sh"

vmm_bin=$top/tools/kvio-vmm/kvio-vmm
bytes=$((8 << 20))
boot_timeout=300
step_timeout=120
kernel=
# kvio-test runs full and iommu through scripts/kvio-demo, the rest in its
# nested-guest VM (run-suite passes no arguments: KVIO_VMM_GROUPS).
groups=${KVIO_VMM_GROUPS:-args,cpu1,full,upstream,mq,iommu,ring,signals}
iommu_guest=
console=0
while [ $# -gt 0 ]; do
	case "$1" in
	--only) groups=$2; shift 2 ;;
	--console) console=1; shift ;;
	--vmm) vmm_bin=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--iommu-guest) iommu_guest=$2; shift 2 ;;
	--bytes) bytes=$2; shift 2 ;;
	--boot-timeout) boot_timeout=$2; shift 2 ;;
	--step-timeout) step_timeout=$2; shift 2 ;;
	-h|--help) sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "test_kvio_vmm: unknown option $1" >&2; exit 2 ;;
	esac
done

l1_ip=192.0.2.1
l2_ip=192.0.2.2
keep=${KVIO_OUT:-}

echo "TAP version 13"
n=0
failed=0
name=kvio-vmm

# report ok|fail|skip DESCRIPTION [REASON]
report() {
	n=$((n + 1))
	case "$1" in
	ok) echo "ok $n - $name: $2" ;;
	skip) echo "ok $n - $name: $2 # SKIP $3" ;;
	*)
		failed=$((failed + 1))
		echo "not ok $n - $name: $2${3:+ ($3)}"
		;;
	esac
}
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds.
check() {
	local d=$1
	shift
	if "$@"; then report ok "$d"; else report fail "$d"; fi
}
# l1-lib.sh's traffic cases report with result ok|fail [REASON], each
# described by the next entry of traffic_cases.
result() {
	report "$1" "${traffic_cases[$ci]}" "${2:-}"
	ci=$((ci + 1))
}
# traffic DEVICE-NAME: l1-lib's four traffic cases (ping both ways, TCP
# both ways with sha256).
traffic() {
	local mib
	mib=$(awk -v b="$bytes" 'BEGIN { printf "%g", b / 1048576 }')
	traffic_cases=("ping L2 -> L1" "ping L1 -> L2"
		       "TCP $mib MiB L2 -> L1, sha256 matches"
		       "TCP $mib MiB L1 -> L2, sha256 matches")
	ci=0
	name="kvio-vmm $1"
	l2_traffic
	name=kvio-vmm
}

work=$(mktemp -d /tmp/kvio-vmm.XXXXXX)
log=$work/console
qemu_err=$work/vmm.err
qpid=
tap=
group_consoles=()

stop_vmm() {
	[ -n "$qpid" ] || return 0
	kill -KILL "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	qpid=
}
cleanup() {
	stop_vmm
	del_tap
	# A group cut short (the caller's time limit) shows what it had.
	[ -s "$work/group.tap" ] && sed 's/^/# unfinished: /' "$work/group.tap" >&3
	[ -z "$keep" ] || cp "$work"/*.console "$keep/" 2>/dev/null
	rm -rf "$work"
}
# The program's own stdout, while a group's lines go to $work/group.tap.
exec 3>&1
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_vmm RUN-NAME CMDLINE-EXTRA VMM-ARGS...: kvio-vmm in the background
# (qpid), console in $log (kept as $work/RUN-NAME.console).
start_vmm() {
	log=$work/$1.console
	: > "$log"
	group_consoles+=("$log")
	"$vmm_bin" --kernel "$guest_kernel" --initrd "$guest_initrd" \
		--cmdline "$(l2_cmdline) $2" --mem 512M "${@:3}" \
		< /dev/null > "$log" 2> "$qemu_err" &
	qpid=$!
	if [ "$console" = 1 ]; then
		tail -f --pid="$qpid" "$log" | tr -d '\r' >&2 &
	fi
}
# wait_vmm SECONDS: sets vstatus to the VMM's exit status ("timeout" if
# it is still running after SECONDS; it is killed then).
wait_vmm() {
	local i
	for ((i = 0; i < $1 * 5; i++)); do
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$qpid" 2>/dev/null; then
		vstatus=timeout
		# The rings of a guest that stopped answering, as it left them.
		kill -USR2 "$qpid" 2>/dev/null
		sleep 1
		grep -a 'kvio-vmm: .*\(virtio [0-9]\|queue [0-9]\)' "$qemu_err" | diag
		vmm_threads | diag
		stop_vmm
		return
	fi
	wait "$qpid"
	vstatus=$?
	qpid=
}
# booted: 0 when L2 reached its init, else a failed case with the reason.
booted() {
	local rc
	wait_console '^KVIO-L2: init' "$boot_timeout"
	rc=$?
	[ $rc = 0 ] && return 0
	report fail "$1" "$([ $rc = 1 ] && echo "no init within ${boot_timeout}s" || echo "the VMM exited first")"
	show_failure
	stop_vmm
	return 1
}
line_has() { console_line "$1" | grep -qE -- "$2"; }
# The kvio device files the VMM holds open, and its kernel threads.
vmm_fds() {
	local f c=0
	for f in /proc/"$qpid"/fd/*; do
		[ "$(readlink "$f")" = "$1" ] && c=$((c + 1))
	done
	echo $c
}
vmm_workers() { cat /proc/[0-9]*/comm 2>/dev/null | grep -cE "^kvio-$qpid(-|\$)"; }
# left_behind: what a gone VMM left (empty: nothing).
left_behind() {
	local m
	for m in kvio_blk kvio_net kvio_iommu; do
		[ "$(refcnt $m)" = "${ref0[$m]}" ] || echo "$m refcnt $(refcnt $m), was ${ref0[$m]}"
	done
	[ "$(cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^kvio-')" = 0 ] ||
		echo "kvio workers: $(cat /proc/[0-9]*/comm | grep '^kvio-' | tr '\n' ' ')"
}
declare -A ref0
# check_left_behind PREFIX: the case that a gone VMM left nothing.
check_left_behind() {
	local lb
	lb=$(left_behind)
	check "${1}after the VMM: no module reference or kvio worker left" [ -z "$lb" ]
	[ -z "$lb" ] || echo "$lb" | diag
}

# ---- arguments (no guest)
args_case() {
	local d=$1 want=$2 out rc
	shift 2
	out=$("$vmm_bin" "$@" 2>&1 < /dev/null)
	rc=$?
	if [ "$rc" = "$want" ] && { [ "$want" = 0 ] || echo "$out" | grep -q '^kvio-vmm: '; }; then
		report ok "$d"
	else
		report fail "$d" "exit $rc, said '$(echo "$out" | head -n 1)'"
	fi
}

global_skip=$(l1_global_skip)
[ -x "$vmm_bin" ] || global_skip="no $vmm_bin (make -C tools/kvio-vmm)"
if [ -n "$global_skip" ]; then
	report skip "kvio-vmm in L1" "$global_skip"
	echo "1..1"
	exit 0
fi
l2_prepare || { report fail "the L2 initramfs builds"; echo "1..$n"; exit 1; }
guest_kernel=$kernel
guest_initrd=$work/l2.cpio.gz
for m in kvio_blk kvio_net kvio_iommu; do ref0[$m]=$(refcnt $m); done

group_args() {
	"$vmm_bin" --help > "$work/help" 2>&1
	rc=$?
	check "--help prints the usage and exits 0" \
		[ "$rc" = 0 -a -n "$(grep -e '--kernel' "$work/help")" ]
	args_case "no --kernel: exit 1" 1 --mem 64M
	args_case "--kernel of a missing file: exit 1" 1 --kernel "$work/none"
	args_case "--mem 12Q: exit 1" 1 --kernel "$kernel" --mem 12Q
	args_case "--mem 0: exit 1" 1 --kernel "$kernel" --mem 0
	args_case "--cpus 0: exit 1" 1 --kernel "$kernel" --cpus 0
	args_case "--disk of a missing file: exit 1" 1 --kernel "$kernel" --disk "$work/none"
	args_case "--net without tap=: exit 1" 1 --kernel "$kernel" --net queues=2
	args_case "an unknown option: exit 1" 1 --kernel "$kernel" --bogus
}

# ---- one vCPU, nothing but the console
group_cpu1() {
	start_vmm cpu1 "kvio_net=0" --cpus 1
	if booted "one vCPU: the guest reaches its init"; then
		check "one vCPU: the guest reaches its init with 1 CPU" line_has init 'cpus 1$'
		wait_vmm 120
		check "one vCPU: the guest's poweroff ends the VMM with 0" [ "$vstatus" = 0 ]
	else
		report skip "one vCPU: poweroff" "no boot"
	fi

}

# disk_cases LABEL: the checks of the guest's "disk" lines for vda (rw,
# $disk, with a non-zero pattern at 4 MiB and $blocks0 blocks before) and
# vdb (ro, $rodisk whose sha256 was $ro_sum).
disk_cases() {
	local w r f nz ro_ok
	w=$(console_line "disk vda wrote" | awk '{ print $5 }')
	r=$(console_line "disk vda wrote" | awk '{ print $9 }')
	check "$1: 1 MiB written with O_DIRECT reads back in the guest after dropping caches" \
		[ -n "$w" -a "$w" = "$r" ]
	f=$(dd if="$disk" bs=65536 skip=16 count=16 2> /dev/null | sha256sum | cut -d' ' -f1)
	check "$1: the backing file holds the guest's bytes at 1 MiB" [ -n "$w" -a "$f" = "$w" ]
	check "$1: a DISCARD reads back zero in the guest" \
		line_has "disk vda discard" 'discard-exit 0 nonzero-bytes-after 0$'
	nz=$(dd if="$disk" bs=65536 skip=64 count=1 2> /dev/null | od -An -v -tx1 | tr -s ' ' '\n' | grep -cv '^0*$')
	check "$1: the DISCARD zeroed the file's range and freed its blocks" \
		[ "$nz" = 0 -a "$(stat -c %b "$disk")" -lt "$((blocks0 + 2048))" ]
	ro_ok=0
	line_has "disk vdb ro-write" refused && [ "$(sha256sum < "$rodisk")" = "$ro_sum" ] && ro_ok=1
	check "$1: the read-only disk refuses a write, its file unchanged" [ $ro_ok = 1 ]
	check "$1: the guest sees a write-back cache (FLUSH offered)" \
		line_has "disk vda queues" 'cache write_back'
}

# dump_ram: where guest RAM (guest-physical 0 up) is in the VMM, from the
# first SIGUSR2 dump on its stderr; empty before one.
dump_ram() {
	awk '$2 == "guest" && $3 == "RAM:" && $5 ~ /^0x0-/ { print $7; exit }' "$qemu_err"
}

# thp_case: the booted guest's RAM has transparent huge pages under it
# (kvio-vmm asks for them; L1 must allow them: "always" or "madvise").
# Only the mapping the SIGUSR2 dump names counts: with "always", thread
# stacks or malloc arenas may have huge pages of their own.
thp_case() {
	local d="the guest's RAM is backed by transparent huge pages" i ram='' kb=''
	if ! grep -qE '\[(always|madvise)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
		report skip "$d" "L1 has THP off"
		return
	fi
	kill -USR2 "$qpid"
	for ((i = 0; i < 50; i++)); do
		ram=$(dump_ram)
		[ -z "$ram" ] || break
		sleep 0.2
	done
	[ -z "$ram" ] || kb=$(awk -v a="${ram#0x}" '
		$1 ~ /^[0-9a-f]+-[0-9a-f]+$/ { split($1, r, "-"); in_ram = r[1] == a }
		in_ram && $1 == "AnonHugePages:" { print $2; exit }' /proc/"$qpid"/smaps 2>/dev/null)
	check "$d (${kb:-no} kB in the mapping at ${ram:-?})" [ "${kb:-0}" -gt 0 ]
}

# ---- two vCPUs, a rw disk, a ro disk, a NIC on kvio_net
disk=$work/disk.img
# disks_prepare: a fresh $disk and $rodisk for disk_cases.
disks_prepare() {
	disk=$work/disk.img
	rodisk=$work/ro.img
	rm -f "$disk"
	truncate -s 64M "$disk"
	head -c 8M /dev/urandom > "$rodisk"
	ro_sum=$(sha256sum < "$rodisk")
	# A non-zero pattern where the guest discards, so the hole is visible.
	head -c 65536 /dev/urandom | dd of="$disk" bs=65536 seek=64 conv=notrunc 2> /dev/null
	blocks0=$(stat -c %b "$disk")
}
group_full() {
	disks_prepare
	tap_add "kvt$$" || { report fail "a tap for the guest"; return; }
	start_vmm full "kvio_disks=vda:rw,vdb:ro" --cpus 2 --disk "$disk" \
		--disk "$rodisk,ro" --net "tap=$tap"
	if booted "two vCPUs, disks and NIC: the guest reaches its init"; then
		check "two vCPUs: the guest brings up 2 CPUs" line_has init 'cpus 2$'
		wait_console '^KVIO-L2: probed ' "$step_timeout"
		console_line "disk vda queues" | diag
		console_line "disk vdb queues" | diag
		console_line "interrupts" | diag
		check "virtio-blk binds both disks, the second read-only" \
			line_has "disk vdb queues" ' ro 1 '
		check "the guest's virtio devices interrupt through MSI-X" \
			line_has interrupts 'msix [1-9]'
		check "the VMM holds /dev/kvio-blk twice and /dev/kvio-net open, kvio workers run" \
			[ "$(vmm_fds /dev/kvio-blk)" = 2 -a "$(vmm_fds /dev/kvio-net)" = 1 \
			  -a "$(vmm_workers)" -ge 3 ]
		thp_case
		disk_cases "disk"
		wait_console '^KVIO-L2: ready' "$step_timeout"
		traffic kvio-net
		wait_vmm 120
		check "the guest's poweroff ends the VMM with 0" [ "$vstatus" = 0 ]
		check_left_behind ""
	else
		for _ in $(seq 16); do report skip "two vCPUs, disks and NIC" "no boot"; done
	fi
	del_tap
}

# ---- the same NIC on upstream's vhost-net
group_upstream() {
	tap_add "kvu$$" || { report fail "a tap for the guest"; return; }
	start_vmm upstream "" --cpus 1 --net "tap=$tap,dev=/dev/vhost-net"
	if booted "dev=/dev/vhost-net: the guest reaches its init"; then
		wait_console '^KVIO-L2: ready' "$step_timeout"
		traffic vhost-net
		wait_vmm 120
		check "dev=/dev/vhost-net: poweroff ends the VMM with 0" [ "$vstatus" = 0 ]
	else
		for _ in 1 2 3 4; do report skip "dev=/dev/vhost-net" "no boot"; done
	fi
	del_tap
}

# ---- multiqueue, then SIGKILL with I/O in flight
group_mq() {
	[ -f "$disk" ] || truncate -s 64M "$disk"
	tap_add "kvm$$" multi_queue || { report fail "a tap for the guest"; return; }
	busybox nc -l -p 5003 > /dev/null 2>&1 &
	sink=$!
	start_vmm mq "kvio_disks=vda:rw kvio_busy=1" --cpus 2 --disk "$disk,queues=2" \
		--net "tap=$tap,queues=2"
	if booted "multiqueue: the guest reaches its init"; then
		wait_console '^KVIO-L2: probed ' "$step_timeout"
		check "multiqueue: the disk has 2 queues" line_has "disk vda queues" 'queues 2 '
		check "multiqueue: the NIC has 2 queue pairs, both switched on through its control queue" \
			eval 'line_has probed "queues 2$" && grep -aq "tap $tap: the driver uses 2 of 2 queue pairs" "$qemu_err"'
		wait_console '^KVIO-L2: ready' "$step_timeout"
		traffic "kvio-net mq"
		wait_console '^KVIO-L2: busy' "$step_timeout"
		sleep 2
		kill -KILL "$qpid"
		wait "$qpid" 2>/dev/null
		qpid=
		lb=
		for _ in $(seq 50); do
			lb=$(left_behind)
			[ -n "$lb" ] || break
			sleep 0.2
		done
		check "SIGKILL with disk and network I/O in flight: no module reference or kvio worker left" [ -z "$lb" ]
		[ -z "$lb" ] || echo "$lb" | diag
	else
		for _ in $(seq 6); do report skip "multiqueue" "no boot"; done
	fi
	kill "$sink" 2>/dev/null
	del_tap
}

# ---- --iommu: bookworm-backports' 6.12 guest (virtio_iommu=m, ACPI VIOT)
# with the disks and the NIC behind kvio_iommu.  Linux's IOVAs are not
# guest-physical addresses (dma-iommu allocates them from the top of the
# DMA mask down), so every ring and buffer access of kvio_blk and kvio_net
# only lands when it went through the guest's mappings.
group_iommu() {
	local img kv ep
	img=$iommu_guest
	[ -n "$img" ] || img=$(ls -d "${KVIO_CACHE:-/var/tmp/kvio-cache}"/backports/image-*/ 2>/dev/null | sort -V | tail -n 1)
	kv=$(ls "${img%/}"/lib/modules 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$kv" ] || [ ! -f "${img%/}/boot/vmlinuz-$kv" ]; then
		report skip "--iommu" "no bookworm-backports kernel image (--iommu-guest DIR; scripts/compat-build --run unpacks one)"
		return
	fi
	if ! "$top/selftests/vmm/mkinitramfs-l2" --kver "$kv" --moddir "${img%/}/lib/modules/$kv" \
		--iommu --out "$work/l2-iommu.cpio.gz" 2> "$work/mkinitramfs-iommu.err"; then
		diag < "$work/mkinitramfs-iommu.err"
		report fail "--iommu: the $kv guest's initramfs builds"
		return
	fi
	guest_kernel=${img%/}/boot/vmlinuz-$kv
	guest_initrd=$work/l2-iommu.cpio.gz
	disks_prepare
	tap_add "kvi$$" multi_queue || { report fail "a tap for the guest"; return; }
	start_vmm iommu "kvio_disks=vda:rw,vdb:ro" --cpus 2 --iommu --disk "$disk" \
		--disk "$rodisk,ro" --net "tap=$tap,queues=2"
	if booted "--iommu: the $kv guest reaches its init"; then
		# The "dma" lines come between these two.
		wait_console '^KVIO-L2: probed ' "$step_timeout"
		wait_console '^KVIO-L2: net up ' "$step_timeout"
		grep -a '^KVIO-L2: dma ' "$log" | tr -d '\r' | diag
		check "--iommu: the guest's virtio-iommu driver binds to kvio_iommu's device" \
			line_has "dma virtio_iommu" 'platform 0 '
		check "--iommu: both disks and the NIC acked ACCESS_PLATFORM and sit in translated IOMMU domains" \
			[ "$(grep -acE '^KVIO-L2: dma virtio_(blk|net) platform 1 domain DMA' "$log")" = 3 ]
		check "--iommu: the VMM holds /dev/kvio-iommu open" [ "$(vmm_fds /dev/kvio-iommu)" = 1 ]
		# The control queue, served by the VMM through the guest's
		# mappings (KVIO_IOMMU_TRANSLATE), switched both pairs on.
		check "--iommu: the NIC's 2 queue pairs in use, set through its control queue" \
			eval 'line_has probed "queues 2$" && grep -aq "tap $tap: the driver uses 2 of 2 queue pairs" "$qemu_err"'

		disk_cases "--iommu disk"
		wait_console '^KVIO-L2: ready' "$step_timeout"
		traffic "kvio-net --iommu"
		wait_vmm 120
		check "--iommu: the guest's poweroff ends the VMM with 0" [ "$vstatus" = 0 ]
		ep=$(grep -a 'kvio-vmm: iommu: ' "$qemu_err")
		echo "$ep" | diag
		check "--iommu: 3 endpoints bound, no translation fault" \
			eval 'echo "$ep" | grep -q "iommu: 3 endpoints, 0 faults"'
		check_left_behind "--iommu: "
	else
		for _ in $(seq 18); do report skip "--iommu" "no boot"; done
	fi
	guest_kernel=$kernel
	guest_initrd=$work/l2.cpio.gz
	del_tap
}

# ---- a ring the guest malformed
# L1 plays a hostile guest.  With kvio-vmm stopped (SIGSTOP: no vCPU runs,
# so the guest cannot rewrite its rings; kvio's workers are kernel threads
# and go on), every descriptor of the NIC's first receive ring becomes one
# whose next index lies past the ring; a frame from L1 then makes kvio_net
# take the next receive buffer, and it stops the ring.  The guest's RAM is
# written through /proc/PID/mem, at the address the SIGUSR2 dump gives for
# guest-physical 0 (512 MiB, all below 3 GiB, here).
ring_msg='virtio 1: queue 0: ring error'
group_ring() {
	local size='' desc='' ram='' pat='' i
	tap_add "kvr$$" || { report fail "a tap for the guest"; return; }
	start_vmm ring "" --cpus 1 --net "tap=$tap"
	if ! booted "ring: the guest reaches its init" ||
	   ! wait_console '^KVIO-L2: ready' "$step_timeout"; then
		stop_vmm
		for _ in 1 2; do report skip "ring" "no guest ready"; done
		del_tap
		return
	fi
	# The NIC (virtio 1): its queue 0's size and descriptor table.
	kill -USR2 "$qpid"
	for ((i = 0; i < 50; i++)); do
		[ -z "$desc" ] || break
		sleep 0.2
		read -r size desc <<< "$(awk '$2 ~ /^00:/ && $3 == "virtio" { net = $4 == "1:" }
			net && $2 == "queue" && $3 == "0:" { sub(",", "", $5); print $5, $7; exit }' "$qemu_err")"
	done
	ram=$(dump_ram)
	if ! [[ "$size" =~ ^[0-9]+$ && "$desc" =~ ^0x[0-9a-f]+$ && "$ram" =~ ^0x[0-9a-f]+$ ]] ||
	   [ "$size" -gt 32768 ] || [ $((desc + 16 * size)) -gt $((512 << 20)) ] ||
	   [ $((ram % 16)) != 0 ]; then
		report fail "ring: the receive ring's address (SIGUSR2) in the guest's RAM" \
			"size '$size' desc '$desc' RAM at '$ram'"
		report skip "ring" "no ring to break"
		stop_vmm
		del_tap
		return
	fi
	echo "# receive ring 0: $size descriptors at $desc"
	# addr 0, len 2048, flags NEXT|WRITE, next 0xffff: past any ring.
	for ((i = 0; i < size; i++)); do
		pat+='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x03\x00\xff\xff'
	done
	kill -STOP "$qpid"
	# Every thread stopped (SIGSTOP reaches them one by one).
	for ((i = 0; i < 50; i++)); do
		awk '{ sub(/.*\) /, ""); if ($1 != "T") bad = 1 } END { exit bad }' \
			/proc/"$qpid"/task/*/stat 2>/dev/null && break
		sleep 0.1
	done
	# shellcheck disable=SC2059 # the escapes are the bytes
	printf "$pat" | dd of=/proc/"$qpid"/mem bs=16 seek=$(((ram + desc) / 16)) \
		conv=notrunc status=none
	timeout -k 5 20 busybox ping -c 2 -w 5 -I "$tap" "$l2_ip" > /dev/null 2>&1
	kill -CONT "$qpid"
	for ((i = 0; i < 50; i++)); do
		grep -aq "$ring_msg" "$qemu_err" && break
		sleep 0.2
	done
	check "ring: a receive ring whose descriptors lead past it: kvio-vmm names the queue its device stopped" \
		grep -aq "kvio-vmm: 00:..\.0 $ring_msg" "$qemu_err"
	grep -a 'ring error' "$qemu_err" | diag
	kill -TERM "$qpid"
	wait_vmm 30
	check "ring: the VMM ran on; SIGTERM ends it with 143" [ "$vstatus" = 143 ]
	check_left_behind "ring: "
	del_tap
}

# ---- SIGTERM, panic
group_signals() {
	start_vmm term "kvio_net=0 kvio_busy=1" --cpus 1
	if booted "SIGTERM: the guest reaches its init"; then
		wait_console '^KVIO-L2: busy' "$step_timeout"
		kill -TERM "$qpid"
		wait_vmm 30
		if [ "$vstatus" = 143 ]; then
			report ok "SIGTERM ends the VMM with 143"
		else
			report fail "SIGTERM ends the VMM with 143" "exit $vstatus"
			show_failure
		fi
	fi
	start_vmm panic "kvio_net=0 kvio_panic=1" --cpus 1
	wait_vmm "$boot_timeout"
	if [ "$vstatus" = 2 ]; then
		report ok "a guest panic (panic=-1) ends the VMM with 2"
	else
		report fail "a guest panic (panic=-1) ends the VMM with 2" "exit $vstatus"
		show_failure
	fi
	grep -qa 'Kernel panic' "$log" || echo "# no panic on the console"
}

# run_group GROUP: the group's lines into $work/group.tap; group_consoles
# lists the consoles of the guests it ran.
run_group() {
	local failed0=$failed
	group_consoles=()
	{
		"group_$1"
		# A group that failed with its guest's kernel dead or stuck:
		# how it died.
		if [ "$failed" != "$failed0" ] && [ -n "${log:-}" ] &&
		   grep -aqE 'Kernel panic - not syncing|detected (expedited )?stall|soft lockup' "$log" 2>/dev/null; then
			show_failure
		fi
	} > "$work/group.tap"
	stop_vmm
	del_tap
}
for g in ${groups//,/ }; do
	case "$g" in
	args|cpu1|full|upstream|mq|iommu|ring|signals) ;;
	*) echo "test_kvio_vmm: unknown group $g" >&2; exit 2 ;;
	esac
	n_before=$n
	failed_before=$failed
	run_group "$g"
	# A group whose guest's kernel the outer emulator stopped
	# (selftests/vmm/l2-stopped) runs once more; its first run stays in
	# the output as diagnostics, only the second run's cases count.  The
	# signals group's panic is its own doing.
	if [ "$failed" != "$failed_before" ] && [ "$g" != signals ] &&
	   why=$("$top/selftests/vmm/l2-stopped" "$work/group.tap" "${group_consoles[@]}"); then
		sed 's/^/# first run: /' "$work/group.tap"
		echo "# group $g: $why: once more"
		# The first run's consoles kept apart (KVIO_OUT keeps them).
		for c in "${group_consoles[@]}"; do
			mv "$c" "${c%.console}-1.console"
		done
		n=$n_before
		failed=$failed_before
		run_group "$g"
	fi
	cat "$work/group.tap"
	rm -f "$work/group.tap"
done
echo "1..$n"
echo "# $n cases, $failed failed"
[ "$failed" = 0 ]
