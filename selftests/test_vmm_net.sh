#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A real VMM against a vhost-net device: in the test VM ("L1"), Debian's QEMU
# with KVM (nested) boots a Linux guest ("L2") whose virtio-net NIC is served
# by the device under test through
#   -netdev tap,...,vhost=on,vhostfd=3 -device virtio-net-pci
# with fd 3 an open file of that device.  The guest's own virtio-net driver
# then exchanges traffic with L1 over the tap: ping both ways and a bulk TCP
# transfer each way, checked by sha256 on both ends.  This is the one test
# where KVM's ioeventfd kicks and irqfd interrupts reach the device, rather
# than eventfds written by a test program.
#
#   selftests/test_vmm_net.sh [--dev PATH]... [--bytes N] [--boot-timeout S]
#                             [--step-timeout S] [--kernel VMLINUZ] [--keep DIR]
#
# --dev may be repeated; default /dev/kvio-net then /dev/vhost-net (upstream,
# the reference: it must pass).  A missing device node, /dev/kvm or QEMU makes
# that device's cases SKIP.  Needs root, in L1 only (scripts/vm/run-vm; load
# the modules first: scripts/vm/load-modules, which includes kvm_amd).
#
# TAP 13 on stdout, diagnostics as "# " lines; exit 0 if no case failed.
# Nothing leaves the machine: QEMU gets -nic none plus the one tap; the tap
# and L2 only have 192.0.2.0/24 addresses, no routes beyond that, no IPv6.
# QEMU, the tap and the work directory are removed on every exit path.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
vmm=$top/selftests/vmm
# shellcheck source=selftests/vmm/l1-lib.sh
. "$vmm/l1-lib.sh"

devs=()
bytes=$((8 << 20))
# L2 runs on KVM inside L1, which runs under TCG: with the debug L1 kernel
# (KASAN) L2 takes 50-60 s to probe virtio-net, and one run took over 120 s.
boot_timeout=300
step_timeout=120
kernel=
keep=
while [ $# -gt 0 ]; do
	case "$1" in
	--dev) devs+=("$2"); shift 2 ;;
	--bytes) bytes=$2; shift 2 ;;
	--boot-timeout) boot_timeout=$2; shift 2 ;;
	--step-timeout) step_timeout=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--keep) keep=$2; shift 2 ;;
	-h|--help) sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "test_vmm_net: unknown option $1" >&2; exit 2 ;;
	esac
done
[ ${#devs[@]} -gt 0 ] || devs=(/dev/kvio-net /dev/vhost-net)
# Results land in the run-vm output share when there is one, so a failure
# can be read on the host afterwards.
[ -n "$keep" ] || keep=${KVIO_OUT:-}

l1_ip=192.0.2.1
l2_ip=192.0.2.2
mib=$(awk -v b="$bytes" 'BEGIN { printf "%g", b / 1048576 }')
cases=(
	"L2 boots and its virtio-net driver probes"
	"QEMU's vhost fd is the device and its worker thread runs"
	"ping L2 -> L1"
	"ping L1 -> L2"
	"TCP $mib MiB L2 -> L1, sha256 matches"
	"TCP $mib MiB L1 -> L2, sha256 matches"
	"L2 powers off cleanly and QEMU exits 0"
)
ncases=${#cases[@]}

echo "TAP version 13"
echo "1..$((ncases * ${#devs[@]}))"
n=0
failed=0
ci=0		# cases reported for the current device
name=

# result ok|fail|skip [reason]: report the current device's next case.
result() {
	local what=$1 reason=${2:-} desc
	n=$((n + 1))
	desc="$name: ${cases[$ci]}"
	ci=$((ci + 1))
	case "$what" in
	ok) echo "ok $n - $desc" ;;
	skip) echo "ok $n - $desc # SKIP $reason" ;;
	*)
		failed=$((failed + 1))
		if [ -n "$reason" ]; then
			echo "not ok $n - $desc ($reason)"
		else
			echo "not ok $n - $desc"
		fi
		;;
	esac
}
skip_rest() {
	while [ "$ci" -lt "$ncases" ]; do
		result skip "$1"
	done
}

work=$(mktemp -d /tmp/kvio-vmm-net.XXXXXX)
qpid=
qstatus=
tap=

stop_qemu() {
	[ -n "$qpid" ] || return 0
	if kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$qpid" 2>/dev/null
	fi
	wait "$qpid" 2>/dev/null
	qpid=
}
cleanup() {
	stop_qemu
	del_tap
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_l2 DEV: QEMU boots L2 in the background (qpid) with DEV as its
# vhost fd; L2's console goes to $log, QEMU's stderr to $work/qemu.err.
start_l2() {
	: > "$log"
	qstatus=
	# shellcheck disable=SC2094
	qemu-system-x86_64 -accel kvm -cpu host -smp 1 -m 512 \
		-nodefaults -no-user-config -nic none \
		-display none -monitor none -no-reboot \
		-serial file:"$log" \
		-kernel "$kernel" -initrd "$work/l2.cpio.gz" \
		-append "$(l2_cmdline)" \
		-netdev tap,id=n0,ifname="$tap",script=no,downscript=no,vhost=on,vhostfd=3 \
		-device virtio-net-pci,netdev=n0 \
		< /dev/null > /dev/null 2> "$work/qemu.err" 3<> "$1" &
	qpid=$!
}

# l2_failure RC: sets qerr to why the boot step failed (RC from
# wait_console) and, when QEMU is gone, reaps it into qstatus.  qerr tells
# the cases apart in one line, since a CI summary may show only that line:
# QEMU's exit status (0: L2 powered off or reset; 128+N: signal N), L2's
# last "KVIO-L2:" step and the console's panic/reboot line or last line.
l2_failure() {
	local why step last
	if [ "$1" = 1 ]; then
		why="no probe within ${boot_timeout}s"
	else
		wait "$qpid" 2>/dev/null
		qstatus=$?
		qpid=
		why="QEMU exited with status $qstatus"
	fi
	step=$(grep -a '^KVIO-L2: ' "$log" | tr -d '\r' | tail -n 1)
	last=$(tr -d '\r' < "$log" | grep -aE 'Kernel panic|BUG:|Oops|reboot:' | tail -n 1)
	[ -n "$last" ] || last=$(tr -d '\r' < "$log" | grep -av '^[[:space:]]*$' | tail -n 1)
	qerr="$why; L2 ${step:-never reached its init}; console: '$(echo "$last" | cut -c 1-120)'"
}

run_dev() {
	local dev=$1 t0 t rc qerr initrd_ok=$2 prefix fdl thr attempt
	local verdict failed_before=$failed
	name=$(basename "$dev")
	ci=0
	log=$work/$name.console
	: > "$log"

	if [ ! -e "$dev" ]; then
		skip_rest "$dev does not exist"
		return
	fi
	if [ -n "$global_skip" ]; then
		skip_rest "$global_skip"
		return
	fi
	if [ "$initrd_ok" != 1 ]; then
		result fail "cannot build the L2 initramfs"
		skip_rest "L2 did not start"
		return
	fi

	if ! tap_add "kvt$$"; then
		result fail "cannot set up tap $tap"
		skip_rest "L2 did not start"
		del_tap
		return
	fi

	# 1. boot and probe.  L2's boot before its init is KVM nested in TCG
	# and nothing of the device: QEMU only opened it, and the virtio-net
	# driver is loaded by that init.  An L2 that dies or hangs there (seen
	# about once in 40 boots: an empty console for minutes, or QEMU gone
	# at 40 s) is booted once more and said so; any later failure counts.
	for attempt in 1 2; do
		t0=$(now)
		start_l2 "$dev"
		wait_console '^KVIO-L2: probed ' "$boot_timeout"
		rc=$?
		t=$(since "$t0")
		[ $rc -ne 0 ] || break
		l2_failure "$rc"
		# A QEMU killed by a signal is no L2 boot problem: not retried.
		if [ "$attempt" = 1 ] && ! grep -qa '^KVIO-L2: init' "$log" &&
		   { [ "$rc" = 1 ] || [ "$qstatus" = 0 ]; }; then
			echo "# $name: L2 did not reach its init ($qerr after ${t}s), booting it again"
			show_failure
			stop_qemu
			continue
		fi
		result fail "$qerr after ${t}s"
		show_failure
		skip_rest "L2 is not up"
		stop_qemu; del_tap
		return
	done
	result ok
	echo "# timing $name: QEMU start to virtio-net probed in L2: ${t}s" \
	     "($(console_line probed | cut -d' ' -f3-))"

	# L2 pings L1, makes its data and starts its listeners, then says ready.
	t=$(now)
	wait_console '^KVIO-L2: ready' "$step_timeout"
	rc=$?
	echo "# timing $name: probed to ready (L2 ping + data + listeners): $(since "$t")s"

	# 2. the vhost fd is the device and the kernel side runs
	prefix=${name%%-*}
	fdl=$(readlink "/proc/$qpid/fd/3" 2>/dev/null)
	thr=$(cat /proc/[0-9]*/comm /proc/"$qpid"/task/*/comm 2>/dev/null |
	      grep -E "^$prefix-$qpid([^0-9]|\$)" | head -n 1)
	if [ "$fdl" != "$(readlink -f "$dev")" ]; then
		result fail "QEMU's fd 3 is '${fdl:-closed}', not $dev"
	elif [ -z "$thr" ]; then
		result fail "no thread named $prefix-$qpid"
	else
		result ok
		echo "# $name: QEMU pid $qpid, fd 3 -> $fdl, worker thread '$thr'"
	fi

	if [ $rc -ne 0 ]; then
		result fail "L2 never became ready"
		show_failure
		skip_rest "L2 is not ready"
		stop_qemu; del_tap
		return
	fi

	# 3.-6. ping both ways, TCP both ways
	l2_traffic

	# 7. L2 finishes by itself; QEMU then exits, closing the vhost fd.
	t=$(now)
	wait_console '^KVIO-L2: done' 60
	for rc in $(seq 150); do
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$qpid" 2>/dev/null; then
		result fail "QEMU still running 30s after L2's shutdown"
		stop_qemu
	else
		wait "$qpid"
		rc=$?
		qpid=
		verdict=$(l2_log_verdict)
		if [ $rc != 0 ]; then
			result fail "QEMU exit status $rc"
		elif [ -n "$verdict" ]; then
			result fail "$verdict"
		else
			result ok
		fi
	fi
	l2_early_warnings
	echo "# timing $name: L2 shutdown and QEMU exit: $(since "$t")s"
	echo "# timing $name: total $(since "$t0")s"
	[ "$failed" = "$failed_before" ] || show_failure
	del_tap
}

global_skip=$(l1_global_skip)

initrd_ok=0
if [ -z "$global_skip" ]; then
	l2_prepare && initrd_ok=1
fi

for dev in "${devs[@]}"; do
	run_dev "$dev" "$initrd_ok"
	if [ -n "$keep" ] && [ -s "$log" ] && [ -d "$keep" ] && [ -w "$keep" ]; then
		cp "$log" "$keep/vmm-net-$name.console.txt" 2>/dev/null
		[ -s "$work/qemu.err" ] && cp "$work/qemu.err" "$keep/vmm-net-$name.qemu-stderr.txt" 2>/dev/null
	fi
	rm -f "$work/qemu.err"
done

[ $failed = 0 ]
