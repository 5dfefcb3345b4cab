// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: a thin KVM VMM that boots an unmodified Linux guest, whose
 * virtio devices are served by kvio's kernel backends.
 *
 * main() parses the command line, builds the VM (kvm.c), its ISA devices
 * (serial.c), ACPI (acpi.c), the PCI devices (the device half, vmm.h), loads
 * the kernel (boot.c), runs the vCPUs, then waits for the end: poweroff,
 * reset, an error on a vCPU, or a signal.  The exit status says which
 * (enum vmm_exit, or 128 + the signal).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include "platform.h"
#include "virtio-pci.h"

#define DEFAULT_MEM		(512ULL << 20)
#define MIN_MEM			(32ULL << 20)
#define MAX_MEM			(1ULL << 40)
#define DEFAULT_CMDLINE		"console=ttyS0 panic=-1"

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: kvio-vmm --kernel BZIMAGE [options]\n"
		"\n"
		"Boots a Linux bzImage (x86-64 boot protocol 2.12+) in a KVM guest\n"
		"whose virtio devices are served by the kvio kernel backends.\n"
		"\n"
		"  --kernel BZIMAGE  the guest kernel\n"
		"  --initrd FILE     its initramfs\n"
		"  --cmdline STR     its command line, passed as is (default:\n"
		"                    \"" DEFAULT_CMDLINE "\"; nothing is appended)\n"
		"  --mem SIZE        guest RAM, with suffix K, M or G; a bare number\n"
		"                    is MiB (default 512M)\n"
		"  --cpus N          vCPUs, 1-%d (default 1)\n"
		"  --disk SPEC       a virtio-blk disk (repeatable), SPEC:\n"
		"                    PATH[,ro][,queues=N][,poll=US]\n"
		"  --net SPEC        a virtio-net NIC (repeatable), SPEC:\n"
		"                    tap=NAME[,queues=N][,mac=MAC][,dev=NODE][,poll=US]\n"
		"  --iommu           a virtio-iommu (kvio_iommu) with every disk and\n"
		"                    NIC behind it\n"
		"  --help            this text\n"
		"\n"
		"The guest's console is COM1 (ttyS0) on stdin/stdout.\n"
		"Exit status: 0 the guest powered off, 1 error, 2 the guest reset\n"
		"(reboot, or a panic with panic=-1), 3 KVM reported a guest crash\n"
		"event,\n"
		"128+N signal N (SIGINT, SIGTERM, SIGHUP; one ignored when we start,\n"
		"as under nohup, stays ignored).\n"
		"SIGUSR2 prints where guest RAM is mapped and every virtio\n"
		"queue's ring indices on stderr.\n"
		"KVIO_VMM_DEBUG=1 in the environment: notes on unclaimed I/O.\n",
		VMM_MAX_CPUS);
}

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 20;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K':
		shift = 10;
		end++;
		break;
	case 'm': case 'M':
		shift = 20;
		end++;
		break;
	case 'g': case 'G':
		shift = 30;
		end++;
		break;
	}
	if (*end || v > MAX_MEM >> shift)
		return -1;
	*out = v << shift;
	return 0;
}

static int parse_cpus(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > VMM_MAX_CPUS)
		return -1;
	*out = v;
	return 0;
}

void vmm_request_exit(struct vmm *vm, int status)
{
	uint64_t one = 1;
	bool first = false;

	pthread_mutex_lock(&vm->lock);
	if (vm->exit_status == VMM_EXIT_RUNNING) {
		__atomic_store_n(&vm->exit_status, status, __ATOMIC_RELEASE);
		first = true;
	}
	pthread_mutex_unlock(&vm->lock);
	if (first)
		vmm_debug(vm, "exit requested, status %d", status);
	if (first && write(vm->exit_fd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "kvio-vmm: exit eventfd: %s\n", strerror(errno));
}

/*
 * Waits for the guest's end or a signal, and says which rings the devices
 * stop meanwhile; returns the exit status.
 */
static int wait_end(struct vmm *vm, int sig_fd)
{
	struct pollfd pfd[2 + VMM_MAX_VIRTIO * VIRTIO_PCI_MAX_QUEUES] = {
		{ .fd = vm->exit_fd, .events = POLLIN },
		{ .fd = sig_fd, .events = POLLIN },
	};
	struct signalfd_siginfo si;
	unsigned int i, n;

	n = 2 + vmm_ring_error_fds(pfd + 2, ARRAY_SIZE(pfd) - 2);
	while (!vmm_ended(vm)) {
		if (poll(pfd, n, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "kvio-vmm: poll: %s\n", strerror(errno));
			vmm_request_exit(vm, VMM_EXIT_ERROR);
			break;
		}
		for (i = 2; i < n; i++)
			if (pfd[i].revents & POLLIN)
				break;
		if (i < n)
			vmm_ring_errors_report();
		if (!(pfd[1].revents & POLLIN) ||
		    read(sig_fd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR2)
			vmm_devices_dump(vm);
		else
			vmm_request_exit(vm, 128 + (int)si.ssi_signo);
	}
	return vm->exit_status;
}

static void report_end(int status)
{
	if (status == VMM_EXIT_POWEROFF)
		fprintf(stderr, "kvio-vmm: guest powered off\n");
	else if (status == VMM_EXIT_RESET)
		fprintf(stderr, "kvio-vmm: guest reset (reboot or panic)\n");
	else if (status == VMM_EXIT_PANIC)
		fprintf(stderr, "kvio-vmm: guest panicked\n");
	else if (status > 128)
		fprintf(stderr, "kvio-vmm: signal %d\n", status - 128);
	else
		fprintf(stderr, "kvio-vmm: stopped on an error\n");
}

enum {
	OPT_KERNEL = 1,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEM,
	OPT_CPUS,
	OPT_DISK,
	OPT_NET,
	OPT_IOMMU,
	OPT_HELP,
};

static const struct option options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "iommu", no_argument, NULL, OPT_IOMMU },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Fills @vm and @boot from argv; 1 for --help, -1 on a bad argument. */
static int parse_args(int argc, char **argv, struct vmm *vm,
		      struct vmm_boot *boot)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			boot->kernel = optarg;
			break;
		case OPT_INITRD:
			boot->initrd = optarg;
			break;
		case OPT_CMDLINE:
			boot->cmdline = optarg;
			break;
		case OPT_MEM:
			if (parse_size(optarg, &vm->ram_size) ||
			    vm->ram_size < MIN_MEM ||
			    (vm->ram_size & 0xfff)) {
				fprintf(stderr, "kvio-vmm: --mem %s: want 32M-1024G in pages\n",
					optarg);
				return -1;
			}
			break;
		case OPT_CPUS:
			if (parse_cpus(optarg, &vm->ncpus)) {
				fprintf(stderr, "kvio-vmm: --cpus %s: want 1 to %d\n",
					optarg, VMM_MAX_CPUS);
				return -1;
			}
			break;
		case OPT_DISK:
			if (vmm_disk_parse(optarg))
				return -1;
			break;
		case OPT_NET:
			if (vmm_net_parse(optarg))
				return -1;
			break;
		case OPT_IOMMU:
			vmm_iommu_enable();
			break;
		case OPT_HELP:
			return 1;
		case ':':
			fprintf(stderr, "kvio-vmm: %s needs an argument (--help)\n",
				argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "kvio-vmm: unknown option %s (--help)\n",
				argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kvio-vmm: unexpected argument %s (--help)\n",
			argv[optind]);
		return -1;
	}
	if (!boot->kernel) {
		fprintf(stderr, "kvio-vmm: --kernel is required (--help)\n");
		return -1;
	}
	return 0;
}

/*
 * The signals that end the guest are read from a signalfd in the main
 * thread; every thread blocks them (the mask is inherited), so none is
 * delivered to a vCPU.  (SIGUSR1 is blocked everywhere but in the vCPU
 * threads.)  SIGPIPE: a closed stdout must not kill us
 * mid-guest; the write fails and the console is lost, nothing else.
 */
static int setup_signals(void)
{
	static const int ends[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction old;
	sigset_t set, block;
	unsigned int i;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	/*
	 * In the background, a read of the terminal would stop the whole
	 * VMM: ignored, it fails instead and only the input ends.
	 */
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	sigemptyset(&set);
	for (i = 0; i < ARRAY_SIZE(ends); i++) {
		/* Ignored when we started (nohup, a shell's &): stays so. */
		if (sigaction(ends[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&set, ends[i]);
	}
	sigaddset(&set, SIGUSR2);	/* vmm_devices_dump() */
	block = set;
	sigaddset(&block, SIGUSR1);	/* the vCPU kick, vCPU threads only */
	if (pthread_sigmask(SIG_BLOCK, &block, NULL))
		return -1;
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "kvio-vmm: signalfd: %s\n", strerror(errno));
	return fd;
}

static struct vmm_platform platform;

int main(int argc, char **argv)
{
	struct vmm_boot boot = { .cmdline = DEFAULT_CMDLINE };
	struct vmm vm = {
		.kvm_fd = -1,
		.vm_fd = -1,
		.exit_fd = -1,
		.ncpus = 1,
		.ram_size = DEFAULT_MEM,
		.exit_status = VMM_EXIT_RUNNING,
		.plat = &platform,
	};
	bool devices = false;
	int i, ret, sig_fd = -1, status = VMM_EXIT_ERROR;
	const char *dbg;

	for (i = 0; i < VMM_MAX_CPUS; i++)
		platform.vcpu[i].fd = -1;
	dbg = getenv("KVIO_VMM_DEBUG");
	platform.debug = dbg && *dbg && strcmp(dbg, "0");
	pthread_mutex_init(&vm.lock, NULL);

	ret = parse_args(argc, argv, &vm, &boot);
	if (ret > 0) {
		print_usage(stdout);
		return 0;
	}
	if (ret < 0)
		return VMM_EXIT_ERROR;
	/* Missing files before /dev/kvm: the likelier mistake first. */
	for (i = 0; i < 2; i++) {
		const char *f = i ? boot.initrd : boot.kernel;

		if (f && access(f, R_OK)) {
			fprintf(stderr, "kvio-vmm: %s %s: %s\n",
				i ? "--initrd" : "--kernel", f, strerror(errno));
			return VMM_EXIT_ERROR;
		}
	}

	sig_fd = setup_signals();
	vm.exit_fd = eventfd(0, EFD_CLOEXEC);
	if (sig_fd < 0 || vm.exit_fd < 0)
		goto out;
	if (vmm_kvm_open(&vm) || vmm_kvm_create_vm(&vm) ||
	    vmm_serial_init(&vm) || vmm_legacy_init(&vm) || vmm_acpi_init(&vm))
		goto out;
	if (vmm_devices_create(&vm))
		goto out;
	devices = true;
	if (vmm_vcpus_create(&vm) || vmm_boot_load(&vm, &boot) ||
	    vmm_vcpus_start(&vm)) {
		vmm_request_exit(&vm, VMM_EXIT_ERROR);
		vmm_vcpus_stop(&vm);
		goto out;
	}

	status = wait_end(&vm, sig_fd);
	vmm_vcpus_stop(&vm);
	if (platform.debug && status > 128)
		vmm_vcpus_dump(&vm);
	report_end(status);
out:
	if (devices)
		vmm_devices_destroy(&vm);
	vmm_serial_exit(&vm);
	vmm_kvm_close(&vm);
	if (vm.exit_fd >= 0)
		close(vm.exit_fd);
	if (sig_fd >= 0)
		close(sig_fd);
	pthread_mutex_destroy(&vm.lock);
	return status;
}
