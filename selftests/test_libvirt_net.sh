#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# libvirt against a vhost-net device: in the test VM ("L1"), Debian's libvirtd
# (started here, without systemd) defines and starts a KVM domain whose NIC is
#   <interface type='ethernet'>
#     <target dev='TAP' managed='no'/>
#     <model type='virtio'/>
#     <driver name='vhost'/>
#     <backend vhost='DEVICE'/>
#   </interface>
# so libvirtd opens DEVICE itself and hands the fd to its QEMU as the
# netdev's vhostfd.  The guest ("L2") is test_vmm_net.sh's: the same kernel
# booted directly, the same initramfs (selftests/vmm/), the same traffic
# (ping both ways, TCP each way checked by sha256), its console a file.
# From L1 the test checks that libvirt's QEMU holds DEVICE open, that the
# device's worker thread runs for it and that the device's module counts the
# open file; then it shuts the domain down, undefines it and checks that no
# QEMU, open DEVICE file or module reference is left.
#
#   selftests/test_libvirt_net.sh [--dev PATH]... [--bytes N]
#                                 [--boot-timeout S] [--step-timeout S]
#                                 [--kernel VMLINUZ] [--keep DIR]
#
# --dev may be repeated; default /dev/kvio-net then /dev/vhost-net (upstream,
# the reference).  A missing device node makes that device's cases SKIP;
# missing libvirt (libvirtd, virsh, its QEMU driver), /dev/kvm or QEMU makes
# every case SKIP.  Needs root, in L1 only (scripts/vm/run-vm, after
# scripts/vm/load-modules).
#
# libvirtd runs as the system instance, but privately: the test re-runs
# itself in a mount namespace of its own where /etc/libvirt, /run/libvirt,
# /var/lib, /var/cache and /var/log are empty tmpfs (L1's root is the host's,
# read-only), and /etc/passwd and /etc/group are copies that add the
# libvirt-qemu user and group libvirt-daemon-system would create.  So its
# configuration (libvirtd.conf: no polkit; qemu.conf: QEMU as root, no
# security driver, no cgroups, no mount namespace, no virtlogd), sockets,
# domain definitions and logs exist for this run only and vanish with it.
#
# TAP 13 on stdout, diagnostics as "# " lines; exit 0 if no case failed.
# Nothing leaves the machine: the domain has the one NIC on the tap, which
# only has a 192.0.2.0/24 address.  The domain, libvirtd, QEMU, the tap and
# the work directory are removed on every exit path.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=selftests/vmm/l1-lib.sh
. "$top/selftests/vmm/l1-lib.sh"

args=("$@")
devs=()
bytes=$((8 << 20))
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
	*) echo "test_libvirt_net: unknown option $1" >&2; exit 2 ;;
	esac
done
[ ${#devs[@]} -gt 0 ] || devs=(/dev/kvio-net /dev/vhost-net)
[ -n "$keep" ] || keep=${KVIO_OUT:-}

l1_ip=192.0.2.1
l2_ip=192.0.2.2
mib=$(awk -v b="$bytes" 'BEGIN { printf "%g", b / 1048576 }')
cases=(
	"libvirt defines and starts the domain"
	"L2 boots and its virtio-net driver probes"
	"libvirt's QEMU holds the device open, its worker runs, the module counts it"
	"ping L2 -> L1"
	"ping L1 -> L2"
	"TCP $mib MiB L2 -> L1, sha256 matches"
	"TCP $mib MiB L1 -> L2, sha256 matches"
	"L2 powers off, undefine leaves no QEMU, open device or module reference"
)
ncases=${#cases[@]}

global_skip=$(l1_global_skip)
if [ -z "$global_skip" ]; then
	if ! command -v libvirtd > /dev/null || ! command -v virsh > /dev/null; then
		global_skip="no libvirtd or virsh (apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)"
	elif ! ls /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so > /dev/null 2>&1; then
		global_skip="no libvirt QEMU driver (libvirt-daemon-driver-qemu)"
	elif ! command -v unshare > /dev/null; then
		global_skip="no unshare"
	fi
fi

# libvirtd's state lives in a private mount namespace: run there.
if [ -z "$global_skip" ] && [ "${KVIO_LIBVIRT_NS:-}" != 1 ]; then
	KVIO_LIBVIRT_NS=1 exec unshare --mount --propagation private -- "$0" "${args[@]}"
fi

echo "TAP version 13"
echo "1..$((ncases * ${#devs[@]} + 1))"
n=0
failed=0
ci=0
name=

result() {
	local what=$1 reason=${2:-} desc
	n=$((n + 1))
	if [ "$ci" -lt "$ncases" ]; then
		desc="$name: ${cases[$ci]}"
	else
		desc="libvirtd stops and leaves no process, mount or directory behind"
	fi
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

work=$(mktemp -d /tmp/kvio-libvirt-net.XXXXXX)
qemu_err=
virsh=(timeout -k 5 60 virsh -q -c qemu:///system)
lvpid=
dom=
qpid=
tap=
mounted=()
made_run_dir=0

# The domain goes away whatever its state; QEMU is waited for (it is
# libvirtd's child, not ours), then killed if libvirt left it.
drop_domain() {
	local q
	[ -n "$dom" ] || return 0
	"${virsh[@]}" destroy "$dom" > /dev/null 2>&1
	"${virsh[@]}" undefine "$dom" > /dev/null 2>&1
	if [ -n "$qpid" ]; then
		for _ in $(seq 50); do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$qpid" 2>/dev/null
	fi
	q=$qpid
	qpid=
	dom=
	[ -z "$q" ] || ! kill -0 "$q" 2>/dev/null
}
stop_libvirtd() {
	[ -n "$lvpid" ] || return 0
	kill -TERM "$lvpid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$lvpid" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "$lvpid" 2>/dev/null
	wait "$lvpid" 2>/dev/null
	lvpid=
}
unmount_all() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null
	done
	mounted=()
	if [ "$made_run_dir" = 1 ]; then
		rmdir /run/libvirt 2>/dev/null
		made_run_dir=0
	fi
}
cleanup() {
	drop_domain
	stop_libvirtd
	del_tap
	unmount_all
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_libvirtd: a libvirtd of this run's own (lvpid), answering on
# qemu:///system once its QEMU driver has probed the emulator.
start_libvirtd() {
	local d t f gid
	[ -d /run/libvirt ] || { mkdir /run/libvirt && made_run_dir=1; } || return 1
	for d in /etc/libvirt /run/libvirt /var/lib /var/cache /var/log; do
		mount -t tmpfs -o mode=0755 kvio-libvirt "$d" || return 1
		mounted+=("$d")
	done
	# libvirtd resolves its QEMU driver's default user and group (Debian:
	# libvirt-qemu, libvirt-qemu) before it reads qemu.conf; libvirt-daemon-system
	# creates them, this run adds them to private copies of passwd and group.
	cp /etc/passwd "$work/passwd"
	cp /etc/group "$work/group"
	gid=$(getent group libvirt-qemu | cut -d: -f3)
	[ -n "$gid" ] || { gid=64055; echo "libvirt-qemu:x:$gid:" >> "$work/group"; }
	getent passwd libvirt-qemu > /dev/null ||
		echo "libvirt-qemu:x:64055:$gid:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin" >> "$work/passwd"
	for f in passwd group; do
		mount --bind "$work/$f" "/etc/$f" || return 1
		mounted+=("/etc/$f")
	done
	cat > "$work/libvirtd.conf" <<-EOF
	# test_libvirt_net.sh: root's own sockets, no polkit, no TCP.
	auth_unix_ro = "none"
	auth_unix_rw = "none"
	unix_sock_rw_perms = "0700"
	log_outputs = "3:file:$work/libvirtd.log"
	EOF
	cat > /etc/libvirt/qemu.conf <<-'EOF'
	# test_libvirt_net.sh: QEMU runs as root and opens nothing it is not
	# given; libvirtd opens the vhost device (<backend vhost=.../>) and the
	# tap itself and passes their fds either way.
	user = "root"
	group = "root"
	dynamic_ownership = 0
	remember_owner = 0
	security_driver = "none"
	namespaces = [ ]
	cgroup_controllers = [ ]
	stdio_handler = "file"
	EOF
	libvirtd --config "$work/libvirtd.conf" --pid-file "$work/libvirtd.pid" \
		< /dev/null > "$work/libvirtd.out" 2>&1 &
	lvpid=$!
	t=$(now)
	for _ in $(seq 120); do
		kill -0 "$lvpid" 2>/dev/null || break
		if "${virsh[@]}" version > "$work/version.txt" 2>&1; then
			echo "# libvirtd pid $lvpid answers after $(since "$t")s:" \
			     "$(tr '\n' ' ' < "$work/version.txt")"
			return 0
		fi
		sleep 0.5
	done
	return 1
}
show_libvirtd() {
	{
		echo "libvirtd output and log (last 20 lines):"
		cat "$work/libvirtd.out" 2>/dev/null
		grep -avE ' : (info|debug) ' "$work/libvirtd.log" 2>/dev/null | tail -n 20
	} | diag
}

# domain_xml DEV: the domain: L2's kernel and initramfs booted directly, the
# console into $log, one virtio NIC on the tap served by DEV.  ACPI, or L2's
# poweroff only halts it (libvirt passes -no-acpi without <acpi/>).
domain_xml() {
	cat <<-EOF
	<domain type='kvm'>
	  <name>$dom</name>
	  <memory unit='MiB'>512</memory>
	  <vcpu>1</vcpu>
	  <os>
	    <type arch='x86_64' machine='pc'>hvm</type>
	    <kernel>$kernel</kernel>
	    <initrd>$work/l2.cpio.gz</initrd>
	    <cmdline>$(l2_cmdline)</cmdline>
	  </os>
	  <features><acpi/></features>
	  <cpu mode='host-passthrough'/>
	  <on_poweroff>destroy</on_poweroff>
	  <on_reboot>destroy</on_reboot>
	  <on_crash>destroy</on_crash>
	  <devices>
	    <emulator>$(command -v qemu-system-x86_64)</emulator>
	    <interface type='ethernet'>
	      <target dev='$tap' managed='no'/>
	      <model type='virtio'/>
	      <driver name='vhost'/>
	      <backend vhost='$1'/>
	    </interface>
	    <serial type='file'>
	      <source path='$log'/>
	      <target port='0'/>
	    </serial>
	    <controller type='usb' model='none'/>
	    <memballoon model='none'/>
	  </devices>
	</domain>
	EOF
}

# start_domain: virsh start; sets qpid from libvirt's pid file.
start_domain() {
	: > "$log"
	qpid=
	"${virsh[@]}" start "$dom" > "$work/start.txt" 2>&1 || return 1
	qpid=$(cat "/run/libvirt/qemu/$dom.pid" 2>/dev/null)
	[ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null
}


# holders DEV: how many open files of DEV all processes hold.
holders() {
	local real
	real=$(readlink -f "$1")
	find /proc/[0-9]*/fd -maxdepth 1 -type l -lname "$real" 2>/dev/null | wc -l
}

run_dev() {
	local dev=$1 t0 t rc why step fdl fds thr prefix mod ref0 ref1 attempt state
	local verdict failed_before=$failed
	name=$(basename "$dev")
	ci=0
	log=$work/$name.console
	: > "$log"
	if [ ! -e "$dev" ]; then
		skip_rest "$dev does not exist"
		return
	fi
	if [ -n "$setup_error" ]; then
		result fail "$setup_error"
		skip_rest "no libvirtd"
		return
	fi
	mod=${name//-/_}
	ref0=$(refcnt "$mod")
	if ! tap_add "kvl$$"; then
		result fail "cannot set up tap $tap"
		skip_rest "the domain did not start"
		del_tap
		return
	fi
	dom=kvio-l2-$name-$$
	qemu_err=/var/log/libvirt/qemu/$dom.log

	# 1. define and start.  An L2 that dies or hangs before its init (KVM
	# nested in TCG, see test_vmm_net.sh) is started once more.
	domain_xml "$dev" > "$work/$dom.xml"
	if ! "${virsh[@]}" define "$work/$dom.xml" > "$work/define.txt" 2>&1; then
		diag < "$work/define.txt"
		result fail "virsh define failed"
		skip_rest "the domain did not start"
		show_libvirtd
		dom=; del_tap
		return
	fi
	for attempt in 1 2; do
		t0=$(now)
		if ! start_domain; then
			diag < "$work/start.txt"
			result fail "virsh start failed: $(grep -a error "$work/start.txt" | head -n 1 | cut -c 1-160)"
			skip_rest "the domain did not start"
			show_failure
			drop_domain; del_tap
			return
		fi
		[ "$attempt" = 2 ] || result ok
		echo "# $name: domain $dom started in $(since "$t0")s, QEMU pid $qpid"
		wait_console '^KVIO-L2: probed ' "$boot_timeout"
		rc=$?
		t=$(since "$t0")
		[ $rc -ne 0 ] || break
		step=$(grep -a '^KVIO-L2: ' "$log" | tr -d '\r' | tail -n 1)
		why="$([ $rc = 1 ] && echo "no probe within ${boot_timeout}s" || echo "QEMU exited"); L2 ${step:-never reached its init}"
		if [ "$attempt" = 1 ] && ! grep -qa '^KVIO-L2: init' "$log"; then
			echo "# $name: L2 did not reach its init ($why after ${t}s), starting it again"
			show_failure
			"${virsh[@]}" destroy "$dom" > /dev/null 2>&1
			continue
		fi
		result fail "$why after ${t}s"
		show_failure
		skip_rest "L2 is not up"
		drop_domain; del_tap
		return
	done
	result ok
	echo "# timing $name: virsh start to virtio-net probed in L2: ${t}s" \
	     "($(console_line probed | cut -d' ' -f3-))"

	t=$(now)
	wait_console '^KVIO-L2: ready' "$step_timeout"
	rc=$?
	echo "# timing $name: probed to ready (L2 ping + data + listeners): $(since "$t")s"

	# 3. libvirt opened the device and QEMU has it: the fd, the worker
	# thread the device names after its owner, the module's count.
	fds=$(find "/proc/$qpid/fd" -maxdepth 1 -type l -lname "$(readlink -f "$dev")" 2>/dev/null)
	fdl=$(for f in $fds; do echo "${f##*/}"; done | tr '\n' ' ')
	prefix=${name%%-*}
	thr=$(cat /proc/[0-9]*/comm /proc/"$qpid"/task/*/comm 2>/dev/null |
	      grep -E "^$prefix-$qpid([^0-9]|\$)" | head -n 1)
	ref1=$(refcnt "$mod")
	if [ -z "$fds" ]; then
		result fail "QEMU $qpid has no fd of $dev: $(find "/proc/$qpid/fd" -maxdepth 1 -type l -printf '%l ' 2>/dev/null | grep -o '/dev/[^ ]*' | sort -u | tr '\n' ' ')"
	elif [ -z "$thr" ]; then
		result fail "no thread named $prefix-$qpid"
	elif [ "$ref0" != - ] && [ "$ref1" -le "$ref0" ]; then
		result fail "$mod refcnt $ref0 before, $ref1 with the domain running"
	else
		result ok
		echo "# $name: QEMU pid $qpid, fd ${fdl% } -> $(readlink -f "$dev"), worker thread '$thr', $mod refcnt $ref0 -> $ref1"
		grep -ao -- '-netdev [^ ]*' "$qemu_err" 2>/dev/null | head -n 1 | sed 's/^/libvirt gave QEMU: /' | diag
	fi

	if [ $rc -ne 0 ]; then
		while [ "$ci" -lt 7 ]; do
			result fail "L2 never became ready"
		done
		show_failure
	else
		# 4.-7. ping both ways, TCP both ways
		l2_traffic
	fi

	# 8. L2 powers off by itself (on_poweroff: destroy), then undefine.
	t=$(now)
	wait_console '^KVIO-L2: done' 60
	for _ in $(seq 150); do
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.2
	done
	why=
	if kill -0 "$qpid" 2>/dev/null; then
		why="QEMU still running 30s after L2's shutdown"
	else
		state=$("${virsh[@]}" domstate "$dom" 2>&1)
		[ "$state" = "shut off" ] || why="domain state '$state' after QEMU exited"
	fi
	verdict=$(l2_log_verdict)
	if ! drop_domain; then
		why="${why:+$why; }QEMU survived destroy"
	elif "${virsh[@]}" list --all --name 2>/dev/null | grep -qx "$dom"; then
		why="${why:+$why; }$dom still defined"
	fi
	ref1=$(refcnt "$mod")
	if [ -n "$why" ]; then
		result fail "$why"
	elif [ -n "$verdict" ]; then
		result fail "$verdict"
	elif [ "$(holders "$dev")" != 0 ]; then
		result fail "$dev still open in $(holders "$dev") files"
	elif [ "$ref1" != "$ref0" ]; then
		result fail "$mod refcnt $ref1 after undefine, $ref0 before"
	else
		result ok
	fi
	l2_early_warnings
	echo "# timing $name: L2 shutdown to undefined: $(since "$t")s"
	echo "# timing $name: total $(since "$t0")s"
	[ "$failed" = "$failed_before" ] || { show_failure; show_libvirtd; }
	del_tap
}

setup_error=
if [ -z "$global_skip" ]; then
	t=$(now)
	if ! l2_prepare; then
		setup_error="cannot build the L2 initramfs"
	elif ! start_libvirtd; then
		setup_error="libvirtd did not start or answer"
		show_libvirtd
	fi
	echo "# timing: L2 initramfs and libvirtd ready in $(since "$t")s"
fi

for dev in "${devs[@]}"; do
	if [ -n "$global_skip" ]; then
		name=$(basename "$dev")
		ci=0
		skip_rest "$global_skip"
		continue
	fi
	run_dev "$dev"
	if [ -n "$keep" ] && [ -d "$keep" ] && [ -w "$keep" ]; then
		[ -s "$log" ] && cp "$log" "$keep/libvirt-net-$name.console.txt" 2>/dev/null
		[ -s "$qemu_err" ] && cp "$qemu_err" "$keep/libvirt-net-$name.qemu.log.txt" 2>/dev/null
	fi
done

# The last case: libvirtd goes, and with it everything of this run.
ci=$ncases
if [ -n "$global_skip" ]; then
	result skip "$global_skip"
elif [ -z "$lvpid" ]; then
	result fail "libvirtd was not running"
else
	[ -n "$keep" ] && [ -d "$keep" ] && [ -w "$keep" ] &&
		cp "$work/libvirtd.log" "$keep/libvirt-net-libvirtd.log.txt" 2>/dev/null
	stop_libvirtd
	unmount_all
	left=$(ps -eo pid=,args= | grep -E 'libvirtd --config|qemu-system-x86_64 .*-name guest=kvio-l2-' | grep -v grep)
	if [ -n "$left" ]; then
		result fail "left running: $(echo "$left" | cut -c 1-100 | tr '\n' ';')"
	elif [ -e /run/libvirt/libvirt-sock ] || mountpoint -q /var/lib; then
		result fail "libvirt's socket or tmpfs still there"
	else
		result ok
	fi
fi

[ $failed = 0 ]
