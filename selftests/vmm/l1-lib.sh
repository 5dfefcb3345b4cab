# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash disable=SC2154
#
# L1's side of the nested-guest tests (test_vmm_net.sh, test_libvirt_net.sh,
# test_kvio_vmm.sh), sourced by each: the L2 kernel and initramfs
# (mkinitramfs-l2, l2-init), the tap L2's NIC is attached to, reading L2's
# "KVIO-L2: " console lines, the traffic cases (ping each way, TCP each way
# checked by sha256), and what a guest that stopped answering left to see.
#
#   . "$top/selftests/vmm/l1-lib.sh"
#
# The caller sets, before calling these:
#   work          its private work directory (removed by the caller)
#   log           the file L2's serial console goes to
#   qpid          the pid of the QEMU running L2 (need not be its child)
#   bytes, step_timeout, boot_timeout, l1_ip, l2_ip
#   name          the device's short name, in diagnostics
# and defines result ok|fail|skip [REASON], which reports its next case.
# qemu_err: QEMU's stderr or log for show_failure (default $work/qemu.err).

diag() { sed 's/^/# /'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# What in L2's kernel log (from its init on) fails the run.
l2_complaint='Call Trace|BUG:|WARNING:|Oops|virtio_net.*(error|fail)'

# wait_console REGEX SECONDS: 0 when L2's console shows REGEX, 1 on timeout,
# 2 when QEMU is gone (then the regex is checked one last time).
wait_console() {
	local re=$1 end
	end=$(( $(date +%s) + $2 ))
	while [ "$(date +%s)" -lt "$end" ]; do
		grep -qE "$re" "$log" 2>/dev/null && return 0
		if ! kill -0 "$qpid" 2>/dev/null; then
			grep -qE "$re" "$log" 2>/dev/null && return 0
			return 2
		fi
		sleep 0.5
	done
	return 1
}
# The value after KEY on L2's "KVIO-L2: KEY value ..." line.
console_field() {
	sed -n "s/^KVIO-L2: $1 \([^ ]*\).*/\1/p" "$log" | tr -d '\r' | head -n 1
}
console_line() {
	grep -a "^KVIO-L2: $1" "$log" | tr -d '\r' | head -n 1
}

# show_failure: L2's console tail, QEMU's stderr, QEMU's state, as diagnostics.
show_failure() {
	{
		echo "L2 console (last 40 lines):"
		tail -n 40 "$log" 2>/dev/null | tr -d '\r'
		if [ -s "${qemu_err:-$work/qemu.err}" ]; then
			echo "QEMU stderr:"
			tail -n 20 "${qemu_err:-$work/qemu.err}"
		fi
		# Slow or stuck: a running L2 keeps using CPU.
		if [ -n "${qpid:-}" ] && [ -r "/proc/$qpid/stat" ]; then
			awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, "");
				printf "QEMU state %s, %.1f s of CPU so far\n",
				       $1, ($12 + $13) / hz }' "/proc/$qpid/stat"
			vmm_threads
		fi
	} | diag
}

# vmm_threads: each thread of the VMM (qpid) in one line: its name, state,
# CPU time and the top of its kernel stack.  A guest CPU whose thread sits
# in KVM's halt path is waiting for an interrupt that does not come; one
# running in the guest is busy there; one anywhere else (a futex, a
# device's ioctl) is held up by the VMM or the kernel, not by the guest.
vmm_threads() {
	local t hz
	hz=$(getconf CLK_TCK)
	for t in /proc/"$qpid"/task/*; do
		[ -r "$t/stat" ] || continue
		awk -v hz="$hz" -v comm="$(cat "$t/comm" 2>/dev/null)" \
		    -v stack="$(head -n 4 "$t/stack" 2>/dev/null | sed 's/^\[<[0-9a-f]*>\] //; s/+0x[0-9a-f]*\/0x[0-9a-f]*//' | paste -sd' ')" \
		    '{ sub(/^.*\) /, "");
		       printf "thread %s: state %s, %.1f s of CPU, stack: %s\n",
			      comm, $1, ($12 + $13) / hz, stack == "" ? "-" : stack }' "$t/stat"
	done
}

# nc_retry OUT ERR nc-args...: busybox nc, retried while the connection is
# refused (a listener that is not bound yet); never retried once connected,
# since each L2 listener accepts one connection only.
nc_retry() {
	local out=$1 err=$2 rc
	shift 2
	for _ in 1 2 3 4 5; do
		timeout -k 5 "$step_timeout" busybox nc -w 10 "$@" > "$out" 2> "$err"
		rc=$?
		grep -q "can't connect" "$err" || return $rc
		sleep 1
	done
	return $rc
}

# refcnt MODULE: its reference count ("-" when not a loaded module).
refcnt() { cat "/sys/module/$1/refcnt" 2>/dev/null || echo -; }

# l1_global_skip: prints why no case can run in this L1 (empty: they can).
l1_global_skip() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root"
	elif [ ! -c /dev/kvm ]; then
		echo "no /dev/kvm (modprobe kvm_amd in the test VM)"
	elif ! command -v qemu-system-x86_64 > /dev/null; then
		echo "no qemu-system-x86_64"
	elif ! command -v busybox > /dev/null; then
		echo "no busybox"
	elif [ ! -c /dev/net/tun ]; then
		echo "no /dev/net/tun (modprobe tun)"
	fi
}

# l2_prepare: picks L2's kernel (kernel, when the caller left it empty: the
# running one if /boot has it, else the newest Debian one), builds L2's
# initramfs at $work/l2.cpio.gz and L1's random data at $work/tx.  Returns
# non-zero when the initramfs could not be built.
l2_prepare() {
	local t rc kver
	if [ -z "$kernel" ]; then
		kernel=/boot/vmlinuz-$(uname -r)
		# shellcheck disable=SC2012
		[ -f "$kernel" ] || kernel=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n 1)
	fi
	kver=${kernel##*/vmlinuz-}
	t=$(now)
	"$top/selftests/vmm/mkinitramfs-l2" --kver "$kver" --out "$work/l2.cpio.gz" 2> "$work/mkinitramfs.err"
	rc=$?
	diag < "$work/mkinitramfs.err"
	echo "# timing: L2 initramfs built in $(since "$t")s"
	head -c "$bytes" /dev/urandom > "$work/tx"
	return $rc
}

# l2_cmdline: L2's kernel command line (l2-init reads the kvio_* values).
l2_cmdline() {
	echo "console=ttyS0 loglevel=5 panic=-1 kvio_bytes=$bytes kvio_ip=$l2_ip/24 kvio_peer=$l1_ip kvio_deadline=$((boot_timeout + 5 * step_timeout))"
}

# tap_add NAME [multi_queue]: a vnet_hdr tap with L1's address, up, no IPv6; sets tap.
# Diagnostics on failure; the caller deletes it (del_tap) either way.
tap_add() {
	tap=$1
	# shellcheck disable=SC2086 # ${2:-}: extra flags (multi_queue)
	{ ip tuntap add dev "$tap" mode tap vnet_hdr ${2:-} &&
	  echo 1 > "/proc/sys/net/ipv6/conf/$tap/disable_ipv6" &&
	  ip addr add "$l1_ip/24" dev "$tap" &&
	  ip link set "$tap" up; } 2> "$work/tap.err" && return 0
	diag < "$work/tap.err"
	return 1
}
del_tap() {
	[ -n "$tap" ] || return 0
	ip link del "$tap" 2>/dev/null
	tap=
}

# l2_traffic: once L2 said "ready", the four traffic cases in this order:
# ping L2 -> L1 (L2 ran it), ping L1 -> L2, TCP L2 -> L1, TCP L1 -> L2.
l2_traffic() {
	local t rc want got wantn gotn

	# L2 -> L1 ping, reported on L2's console
	if console_line ping-l1 | grep -q '^KVIO-L2: ping-l1 ok'; then
		result ok
	else
		result fail
	fi
	console_line ping-l1 | diag

	# L1 -> L2 ping
	t=$(now)
	if timeout -k 5 60 busybox ping -c 3 -w 30 -I "$tap" "$l2_ip" > "$work/ping.txt" 2>&1; then
		result ok
	else
		result fail
	fi
	grep -E 'packets|round-trip' "$work/ping.txt" | diag
	echo "# timing $name: ping L1 -> L2: $(since "$t")s"

	# TCP L2 -> L1: L2 sends its random file, L1 keeps stdin open (see
	# l2-init on busybox nc's half-close) and hashes what arrives.
	[ -p "$work/never" ] || mkfifo "$work/never"
	want=$(console_field tx-sha256)
	wantn=$(console_line tx-sha256 | awk '{ print $5 }')
	t=$(now)
	nc_retry "$work/rx" "$work/nc-rx.err" "$l2_ip" 5002 0<> "$work/never"
	rc=$?
	got=$(sha256sum < "$work/rx" | cut -d' ' -f1)
	gotn=$(stat -c %s "$work/rx")
	t=$(since "$t")
	if [ $rc = 0 ] && [ -n "$want" ] && [ "$got" = "$want" ] && [ "$gotn" = "$wantn" ]; then
		result ok
	else
		result fail "nc exit $rc, L2 sent $wantn bytes ${want:0:16}.., L1 got $gotn bytes ${got:0:16}.."
		diag < "$work/nc-rx.err"
	fi
	echo "# timing $name: TCP L2 -> L1 $gotn bytes in ${t}s" \
	     "($(awk -v b="$gotn" -v s="$t" 'BEGIN { if (s > 0) printf "%.1f", b / s / 1048576; else print "-" }') MiB/s)"

	# TCP L1 -> L2: L1 sends, L2 reports the hash of what it received.
	want=$(sha256sum < "$work/tx" | cut -d' ' -f1)
	t=$(now)
	nc_retry /dev/null "$work/nc-tx.err" "$l2_ip" 5001 < "$work/tx"
	rc=$?
	wait_console '^KVIO-L2: rx-sha256 ' 60
	t=$(since "$t")
	got=$(console_field rx-sha256)
	gotn=$(console_line rx-sha256 | awk '{ print $5 }')
	if [ $rc = 0 ] && [ "$got" = "$want" ] && [ "$gotn" = "$bytes" ]; then
		result ok
	else
		result fail "nc exit $rc, L1 sent $bytes bytes ${want:0:16}.., L2 got ${gotn:-?} bytes ${got:0:16}.."
		diag < "$work/nc-tx.err"
	fi
	echo "# timing $name: TCP L1 -> L2 $bytes bytes in ${t}s" \
	     "($(awk -v b="$bytes" -v s="$t" 'BEGIN { if (s > 0) printf "%.1f", b / s / 1048576; else print "-" }') MiB/s)"
}

# l2_log_verdict: why L2's log from its init on fails the run (empty: it
# does not).  Under nested SVM on TCG, L2's CPUID can disagree with itself
# (an XSAVE size warning at boot): that is the emulated CPU, not the device,
# so only what L2 logs once its init runs counts; the rest is shown as a note.
l2_log_verdict() {
	if sed -n '/^KVIO-L2: init/,$p' "$log" | grep -qaE "$l2_complaint"; then
		echo "L2 kernel complained"
	elif ! grep -q '^KVIO-L2: done' "$log"; then
		echo "L2 did not finish"
	fi
}
l2_early_warnings() {
	sed -n '/^KVIO-L2: init/q; p' "$log" | grep -aE "WARNING: CPU|BUG:|Oops" | head -n 3 |
		sed 's/^/note: L2 warned before its init (CPU model, ignored): /' | diag
}
