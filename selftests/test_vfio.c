// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_vfio: a device assigned through VFIO, behind kvio_iommu.
 *
 * The test VM (scripts/vm/run-vm --iommu) has QEMU's edu device behind an
 * emulated VT-d (caching mode, interrupt remapping).  This program binds
 * edu to vfio-pci, puts its group in a container under kvio's IOMMU
 * (VFIO_SET_IOMMU(KVIO_VFIO_IOMMU)), binds the group to a kvio_iommu
 * endpoint and plays the guest: MAP and UNMAP on the vIOMMU's request
 * ring, then edu's DMA engine, driven through the VFIO region of its BAR
 * 0, copies between its 4 KiB buffer and IOVAs.  What the DMA did is read
 * back in the guest memory (the vIOMMU's memfd): it must land where the
 * domain maps it and nowhere once unmapped.  Pinned pages are read from
 * VmPin in /proc/self/status.
 *
 * Cases SKIP without edu, VFIO or kvio_vfio (a VM without --iommu).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "kt_blk.h"
#include "kt_iommu.h"
#include "kt_vfio.h"

#define PAGE		4096ULL
/*
 * Bytes per DMA: Debian's QEMU 7.2 refuses (aborts on) a transfer that
 * ends at the last byte of edu's 4 KiB buffer, so half of it.
 */
#define DMA_LEN		2048
/* edu masks DMA addresses to 28 bits: every IOVA stays below. */
#define IOVA_A		0x200000ULL
#define IOVA_B		0x300000ULL
#define IOVA_C		0x400000ULL
/* Guest memory low enough to be DMA'd at its own address (bypass). */
#define GPA_LOW		0x1000000ULL
#define IOVA_S		0x500000ULL
#define DOMAIN		1
#define EP		7
#define EP_BLK		8

/* VmPin of this process, in pages. */
static long vm_pinned(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 4;
}

/* DMAR fault reports in the kernel log so far. */
static int dmar_faults(void)
{
	FILE *p = popen("dmesg | grep -c 'DMAR: .*[Ff]ault'", "r");
	int n = -1;

	if (!p)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

struct rig {
	struct kt_edu e;
	struct kt_iommu io;
	uint64_t pa, pb, pc;		/* guest pages */
	long pinned0;
};

static int rig_open(struct rig *g, uint64_t gpa, bool bypass)
{
	struct kvio_iommu_config cfg;
	int r;

	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };

	memset(g, 0, sizeof(*g));
	g->e.container = g->e.group = g->e.dev = -1;
	/* Pinning is charged to RLIMIT_MEMLOCK (8 MiB by default). */
	KT_ERRNO(0, setrlimit(RLIMIT_MEMLOCK, &unlimited));
	g->pinned0 = vm_pinned();
	r = kt_iommu_open_gpa(&g->io, 64, gpa);
	if (r == -ENOENT)
		return kt_skip("/dev/kvio-iommu not present");
	KT_ASSERT(!r, "vIOMMU: %s", kt_errname(-r));
	KT_TRY(kt_edu_open(&g->e, KVIO_VFIO_IOMMU));
	if (bypass) {
		KT_ERRNO(0, ioctl(g->io.d.fd, KVIO_IOMMU_GET_CONFIG, &cfg));
		cfg.bypass = 1;
		KT_ERRNO(0, ioctl(g->io.d.fd, KVIO_IOMMU_SET_CONFIG, &cfg));
	}
	g->pa = kt_mem_alloc(&g->io.d.mem, PAGE, PAGE);
	g->pb = kt_mem_alloc(&g->io.d.mem, PAGE, PAGE);
	g->pc = kt_mem_alloc(&g->io.d.mem, PAGE, PAGE);
	KT_ASSERT(g->pa && g->pb && g->pc);
	return KT_PASS;
}

static void rig_close(struct rig *g)
{
	kt_iommu_close(&g->io);
	kt_edu_close(&g->e);
}

/* rig_open(), or everything it opened closed again. */
static int rig_start(struct rig *g, uint64_t gpa, bool bypass)
{
	int r = rig_open(g, gpa, bypass);

	if (r != KT_PASS)
		rig_close(g);
	return r;
}

static uint8_t *page(struct rig *g, uint64_t gpa)
{
	return kt_gpa(&g->io.d.mem, gpa);
}

/* edu's buffer loaded from page @gpa through @iova (which maps it). */
static int load_buffer(struct rig *g, uint64_t iova, uint64_t gpa,
		       uint32_t seed)
{
	kt_fill_pattern(page(g, gpa), PAGE, seed);
	return kt_edu_dma(&g->e, iova, false, DMA_LEN);
}

/* edu's buffer copied to @iova: whether it arrived in page @gpa. */
static int store_buffer(struct rig *g, uint64_t iova, uint64_t gpa,
			uint32_t seed, bool *landed)
{
	uint8_t want[PAGE];

	memset(page(g, gpa), 0x5a, PAGE);
	KT_TRY(kt_edu_dma(&g->e, iova, true, DMA_LEN));
	kt_fill_pattern(want, PAGE, seed);
	*landed = !memcmp(page(g, gpa), want, DMA_LEN);
	if (!*landed) {
		unsigned int i;

		for (i = 0; i < PAGE; i++)
			if (page(g, gpa)[i] != 0x5a)
				return kt_fail("page 0x%llx: byte %u changed, yet not the buffer",
					       (unsigned long long)gpa, i);
	}
	return KT_PASS;
}

/* A second vIOMMU, owned but with no memory table: BIND is EINVAL. */
static int bind_without_mem(struct rig *g)
{
	struct kvio_iommu_endpoint b = { .endpoint = EP, .fd = g->e.group };
	int fd = open(KT_IOMMU_DEV, O_RDWR | O_CLOEXEC);

	KT_ASSERT(fd >= 0, "%s: %s", KT_IOMMU_DEV, kt_errname(errno));
	KT_ERRNO(0, ioctl(fd, VHOST_SET_OWNER));
	KT_ERRNO(EINVAL, ioctl(fd, KVIO_IOMMU_BIND, &b));
	close(fd);
	return KT_PASS;
}

static int case_backend(const struct kt_target *t)
{
	struct kvio_iommu_endpoint b;
	struct rig g;
	uint32_t id;
	int r;

	(void)t;
	KT_TRY(rig_start(&g, GPA_LOW, false));
	KT_ASSERT(!kt_edu_rd32(&g.e, KT_EDU_ID, &id) && (id & 0xff) == 0xed,
		  "edu's ID register reads 0x%x", id);
	/* Not a group: the container itself, a memfd. */
	b.endpoint = EP;
	b.fd = g.e.container;
	KT_ERRNO(EINVAL, ioctl(g.io.d.fd, KVIO_IOMMU_BIND, &b));
	b.fd = g.io.d.mem.fd;
	KT_ERRNO(EINVAL, ioctl(g.io.d.fd, KVIO_IOMMU_BIND, &b));
	/* Not before the memory table: GPAs would mean nothing. */
	KT_TRY(bind_without_mem(&g));
	r = kt_iommu_bind(&g.io, EP, g.e.group);
	KT_ASSERT(!r, "BIND of the group: %s", kt_errname(-r));
	/* One endpoint per container: its DMA has one translation. */
	KT_ASSERT(kt_iommu_bind(&g.io, EP + 1, g.e.group) == -EBUSY);
	KT_ASSERT(kt_module_refcnt("kvio_vfio") >= 2,
		  "kvio_vfio refcnt %ld", kt_module_refcnt("kvio_vfio"));
	rig_close(&g);
	return KT_PASS;
}

static int case_dma(const struct kt_target *t)
{
	int faults0, faults1;
	bool landed;
	struct rig g;
	long pinned;

	(void)t;
	KT_TRY(rig_start(&g, GPA_LOW, false));
	KT_ASSERT(!kt_iommu_bind(&g.io, EP, g.e.group));
	KT_ASSERT(kt_iommu_attach(&g.io, DOMAIN, EP) == VIRTIO_IOMMU_S_OK);
	KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, IOVA_A, IOVA_A + PAGE - 1, g.pa,
			       VIRTIO_IOMMU_MAP_F_READ |
			       VIRTIO_IOMMU_MAP_F_WRITE) == VIRTIO_IOMMU_S_OK);
	KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, IOVA_B, IOVA_B + PAGE - 1, g.pb,
			       VIRTIO_IOMMU_MAP_F_READ |
			       VIRTIO_IOMMU_MAP_F_WRITE) == VIRTIO_IOMMU_S_OK);
	pinned = vm_pinned() - g.pinned0;
	KT_ASSERT(pinned == 2, "%ld pages pinned for two 4 KiB MAPs", pinned);

	/* RAM -> device from A, device -> RAM into B: B holds A's bytes. */
	KT_TRY(load_buffer(&g, IOVA_A, g.pa, 11));
	KT_TRY(store_buffer(&g, IOVA_B, g.pb, 11, &landed));
	KT_ASSERT(landed, "edu's DMA to IOVA 0x%llx did not land in GPA 0x%llx",
		  IOVA_B, (unsigned long long)g.pb);
	kt_diag("DMA: IOVA 0x%llx -> edu -> IOVA 0x%llx: %d bytes landed",
		IOVA_A, IOVA_B, DMA_LEN);

	/* UNMAP B: the same DMA is blocked, the page keeps its canary. */
	faults0 = dmar_faults();
	KT_ASSERT(kt_iommu_unmap(&g.io, DOMAIN, IOVA_B, IOVA_B + PAGE - 1) ==
		  VIRTIO_IOMMU_S_OK);
	pinned = vm_pinned() - g.pinned0;
	KT_ASSERT(pinned == 1, "%ld pages pinned after UNMAP", pinned);
	KT_TRY(store_buffer(&g, IOVA_B, g.pb, 11, &landed));
	KT_ASSERT(!landed, "DMA landed in a page after its UNMAP");
	faults1 = dmar_faults();
	kt_diag("after UNMAP: page unchanged, DMAR faults %d -> %d", faults0,
		faults1);
	KT_ASSERT(faults1 > faults0, "no DMAR fault reported");

	/* Read-only C: edu reads it, cannot write it. */
	KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, IOVA_C, IOVA_C + PAGE - 1, g.pc,
			       VIRTIO_IOMMU_MAP_F_READ) == VIRTIO_IOMMU_S_OK);
	KT_TRY(load_buffer(&g, IOVA_C, g.pc, 12));
	KT_TRY(store_buffer(&g, IOVA_A, g.pa, 12, &landed));
	KT_ASSERT(landed, "the bytes read through a read-only mapping");
	KT_TRY(store_buffer(&g, IOVA_C, g.pc, 12, &landed));
	KT_ASSERT(!landed, "DMA wrote through a read-only mapping");

	/* The MSI window is the host's: MAP over it refused. */
	KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, 0xfee00000, 0xfee00fff, g.pa,
			       VIRTIO_IOMMU_MAP_F_READ) == VIRTIO_IOMMU_S_INVAL);
	rig_close(&g);
	pinned = vm_pinned() - g.pinned0;
	KT_ASSERT(pinned == 0, "%ld pages still pinned after close", pinned);
	return KT_PASS;
}

static int case_memlock(const struct kt_target *t)
{
	struct rlimit old, low;
	struct rig g;
	long pinned;
	int st;

	(void)t;
	KT_TRY(rig_start(&g, GPA_LOW, false));
	KT_ASSERT(!kt_iommu_bind(&g.io, EP, g.e.group));
	KT_ASSERT(kt_iommu_attach(&g.io, DOMAIN, EP) == VIRTIO_IOMMU_S_OK);
	KT_ERRNO(0, getrlimit(RLIMIT_MEMLOCK, &old));
	/* Room for 64 more pages: a 1 MiB MAP (256) is refused whole. */
	low.rlim_cur = low.rlim_max = (g.pinned0 + 64) * PAGE;
	KT_ERRNO(0, setrlimit(RLIMIT_MEMLOCK, &low));
	st = kt_iommu_map(&g.io, DOMAIN, 0x1000000, 0x10fffff, GPA_LOW,
			  VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE);
	pinned = vm_pinned() - g.pinned0;
	KT_ASSERT(st == VIRTIO_IOMMU_S_NOMEM, "MAP over the limit: status %d",
		  st);
	KT_ASSERT(pinned == 0, "%ld pages left pinned by a refused MAP",
		  pinned);
	st = kt_iommu_map(&g.io, DOMAIN, 0x1000000, 0x100ffff, GPA_LOW,
			  VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE);
	KT_ASSERT(st == VIRTIO_IOMMU_S_OK, "MAP of 16 pages: status %d", st);
	KT_ASSERT(vm_pinned() - g.pinned0 == 16);
	KT_ERRNO(0, setrlimit(RLIMIT_MEMLOCK, &old));
	kt_diag("RLIMIT_MEMLOCK +64 pages: 256-page MAP NOMEM, 0 pinned; 16-page MAP OK");
	rig_close(&g);
	KT_ASSERT(vm_pinned() == g.pinned0);
	return KT_PASS;
}

static int case_bypass(const struct kt_target *t)
{
	bool landed;
	struct rig g;
	long pinned;
	int r;

	(void)t;
	KT_TRY(rig_start(&g, GPA_LOW, true));
	/* Unattached, config bypass: IOVA = GPA, all of guest memory. */
	r = kt_iommu_bind(&g.io, EP, g.e.group);
	KT_ASSERT(!r, "BIND in bypass: %s", kt_errname(-r));
	pinned = vm_pinned() - g.pinned0;
	KT_ASSERT(pinned == (long)(KT_MEM_SIZE / PAGE),
		  "%ld pages pinned in bypass, guest memory is %u", pinned,
		  (unsigned int)(KT_MEM_SIZE / PAGE));
	KT_TRY(load_buffer(&g, g.pa, g.pa, 21));
	KT_TRY(store_buffer(&g, g.pb, g.pb, 21, &landed));
	KT_ASSERT(landed, "bypass: DMA at GPA 0x%llx did not land",
		  (unsigned long long)g.pb);
	/* Attached to an empty domain: nothing pinned, nothing lands. */
	KT_ASSERT(kt_iommu_attach(&g.io, DOMAIN, EP) == VIRTIO_IOMMU_S_OK);
	KT_ASSERT(vm_pinned() == g.pinned0, "%ld pinned after ATTACH",
		  vm_pinned() - g.pinned0);
	KT_TRY(store_buffer(&g, g.pb, g.pb, 21, &landed));
	KT_ASSERT(!landed, "DMA landed through an empty domain");
	kt_diag("bypass: %ld pages pinned, DMA at its GPA landed; ATTACH: 0 pinned, blocked",
		pinned);
	rig_close(&g);
	return KT_PASS;
}

/*
 * One domain, two endpoints: edu through kvio_vfio and a kvio-blk device.
 * The guest's memory is two regions, the vIOMMU's own and the blk
 * device's (its rings; all of it mapped 1:1 above 4 GiB), and IOVA_S maps
 * a page of the latter for both: a blk read from the file into IOVA_S is
 * what edu then reads at IOVA_S, and what edu writes there is what a blk
 * write puts in the file.
 */
static int case_shared(const struct kt_target *t)
{
	static const struct kt_target blk_t = { KT_BLK_DEV, "kvio-blk", true };
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[2];
	} mt;
	uint8_t file[DMA_LEN], want[PAGE];
	uint64_t shared, status;
	struct kt_blk b;
	struct rig g;
	int r, fd;

	(void)t;
	KT_TRY(rig_start(&g, GPA_LOW, false));
	r = kt_blk_open(&b, &blk_t, (1ULL << VIRTIO_F_VERSION_1) |
			(1ULL << VIRTIO_F_ACCESS_PLATFORM), 1, 16, PAGE, false);
	if (r != KT_PASS) {
		rig_close(&g);
		return r;
	}
	fd = kt_blk_tmpfile(1 << 20, 77, 0);
	KT_ASSERT(fd >= 0, "backing file: %s", kt_errname(-fd));
	memset(&mt, 0, sizeof(mt));
	mt.hdr.nregions = 2;
	mt.r[0].guest_phys_addr = g.io.d.mem.gpa;
	mt.r[0].memory_size = g.io.d.mem.size;
	mt.r[0].userspace_addr = (uintptr_t)g.io.d.mem.hva;
	mt.r[1].guest_phys_addr = b.d.mem.gpa;
	mt.r[1].memory_size = b.d.mem.size;
	mt.r[1].userspace_addr = (uintptr_t)b.d.mem.hva;
	KT_ERRNO(0, ioctl(g.io.d.fd, VHOST_SET_MEM_TABLE, &mt));

	KT_ASSERT(!kt_iommu_bind(&g.io, EP, g.e.group));
	KT_ASSERT(!kt_iommu_bind(&g.io, EP_BLK, b.d.fd));
	KT_ASSERT(kt_iommu_attach(&g.io, DOMAIN, EP) == VIRTIO_IOMMU_S_OK);
	KT_ASSERT(kt_iommu_attach(&g.io, DOMAIN, EP_BLK) == VIRTIO_IOMMU_S_OK);
	KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, b.d.mem.gpa,
			       b.d.mem.gpa + b.d.mem.size - 1, b.d.mem.gpa,
			       VIRTIO_IOMMU_MAP_F_READ |
			       VIRTIO_IOMMU_MAP_F_WRITE) == VIRTIO_IOMMU_S_OK);
	shared = b.q[0].data_gpa;
	status = b.q[0].status_gpa;
	KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, IOVA_S, IOVA_S + PAGE - 1, shared,
			       VIRTIO_IOMMU_MAP_F_READ |
			       VIRTIO_IOMMU_MAP_F_WRITE) == VIRTIO_IOMMU_S_OK);
	KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, IOVA_B, IOVA_B + PAGE - 1, g.pb,
			       VIRTIO_IOMMU_MAP_F_READ |
			       VIRTIO_IOMMU_MAP_F_WRITE) == VIRTIO_IOMMU_S_OK);
	KT_ERRNO(0, kt_blk_backend(&b, fd));

	/* File -> (blk) IOVA_S -> (edu) IOVA_B. */
	KT_ASSERT(kt_blk_chain(&b, 0, VIRTIO_BLK_T_IN, 0, IOVA_S, PAGE,
			       status) == PAGE + 1, "blk read into IOVA_S");
	KT_ASSERT(*(uint8_t *)kt_gpa(&b.d.mem, status) == VIRTIO_BLK_S_OK);
	KT_ASSERT(kt_pread_all(fd, file, DMA_LEN, 0) == 0);
	KT_ASSERT(!memcmp(kt_gpa(&b.d.mem, shared), file, DMA_LEN),
		  "the blk read did not land at IOVA_S");
	KT_TRY(kt_edu_dma(&g.e, IOVA_S, false, DMA_LEN));
	memset(page(&g, g.pb), 0x5a, PAGE);
	KT_TRY(kt_edu_dma(&g.e, IOVA_B, true, DMA_LEN));
	KT_ASSERT(!memcmp(page(&g, g.pb), file, DMA_LEN),
		  "edu did not read at IOVA_S what the blk device wrote there");

	/* A (edu) -> IOVA_S -> (blk) file sector 8. */
	KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, IOVA_A, IOVA_A + PAGE - 1, g.pa,
			       VIRTIO_IOMMU_MAP_F_READ) == VIRTIO_IOMMU_S_OK);
	KT_TRY(load_buffer(&g, IOVA_A, g.pa, 31));
	KT_TRY(kt_edu_dma(&g.e, IOVA_S, true, DMA_LEN));
	KT_ASSERT(kt_blk_chain(&b, 1, VIRTIO_BLK_T_OUT, 8, IOVA_S, PAGE,
			       status + 1) == 1, "blk write from IOVA_S");
	KT_ASSERT(kt_pread_all(fd, file, DMA_LEN, 8 * 512) == 0);
	kt_fill_pattern(want, PAGE, 31);
	KT_ASSERT(!memcmp(file, want, DMA_LEN),
		  "the file did not get what edu wrote at IOVA_S");
	kt_diag("one domain: file -> blk -> IOVA 0x%llx -> edu, and edu -> IOVA 0x%llx -> blk -> file",
		IOVA_S, IOVA_S);
	kt_blk_close(&b);
	close(fd);
	rig_close(&g);
	KT_ASSERT(vm_pinned() == g.pinned0);
	return KT_PASS;
}

/* Closing in @order: 0 vIOMMU first, 1 VFIO first, 2 container first. */
static int teardown(int order)
{
	long refs0 = kt_module_refcnt("kvio_vfio");
	struct rig g;

	KT_TRY(rig_start(&g, GPA_LOW, false));
	KT_ASSERT(!kt_iommu_bind(&g.io, EP, g.e.group));
	KT_ASSERT(kt_iommu_attach(&g.io, DOMAIN, EP) == VIRTIO_IOMMU_S_OK);
	KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, IOVA_A, IOVA_A + 16 * PAGE - 1,
			       g.pa, VIRTIO_IOMMU_MAP_F_READ) ==
		  VIRTIO_IOMMU_S_OK);
	KT_ASSERT(vm_pinned() - g.pinned0 == 16);
	switch (order) {
	case 0:
		kt_iommu_close(&g.io);
		KT_ASSERT(vm_pinned() == g.pinned0, "pinned after vIOMMU close");
		kt_edu_close(&g.e);
		break;
	case 1:
		kt_edu_close(&g.e);
		KT_ASSERT(vm_pinned() == g.pinned0, "pinned after VFIO close");
		/* The endpoint mirrors into nothing: MAP still answers. */
		KT_ASSERT(kt_iommu_map(&g.io, DOMAIN, IOVA_B, IOVA_B + PAGE - 1,
				       g.pb, VIRTIO_IOMMU_MAP_F_READ) ==
			  VIRTIO_IOMMU_S_OK);
		kt_iommu_close(&g.io);
		break;
	default:
		close(g.e.container);
		g.e.container = -1;
		close(g.e.dev);
		g.e.dev = -1;
		close(g.e.group);
		g.e.group = -1;
		KT_ASSERT(vm_pinned() == g.pinned0, "pinned after VFIO close");
		kt_iommu_close(&g.io);
		break;
	}
	KT_ASSERT(vm_pinned() == g.pinned0);
	KT_ASSERT(kt_module_refcnt("kvio_vfio") == refs0,
		  "kvio_vfio refcnt %ld, was %ld",
		  kt_module_refcnt("kvio_vfio"), refs0);
	return KT_PASS;
}

static int case_teardown(const struct kt_target *t)
{
	pid_t pid;
	int st, order;

	(void)t;
	for (order = 0; order < 3; order++)
		KT_TRY(teardown(order));
	/* The VMM killed with everything mapped. */
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (!pid) {
		struct rig g;

		if (rig_open(&g, GPA_LOW, false) != KT_PASS ||
		    kt_iommu_bind(&g.io, EP, g.e.group) ||
		    kt_iommu_attach(&g.io, DOMAIN, EP) != VIRTIO_IOMMU_S_OK ||
		    kt_iommu_map(&g.io, DOMAIN, IOVA_A, IOVA_A + 16 * PAGE - 1,
				 g.pa, VIRTIO_IOMMU_MAP_F_READ) !=
		    VIRTIO_IOMMU_S_OK)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	KT_ASSERT(waitpid(pid, &st, 0) == pid);
	KT_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the killed VMM's setup failed (status 0x%x)", st);
	/* Its container is gone: a new one binds the same group again. */
	KT_TRY(teardown(0));
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "backend: CHECK_EXTENSION, SET_IOMMU(KVIO_VFIO_IOMMU), device fd; BIND takes a group (EINVAL for others and before the memory table, EBUSY twice)", case_backend },
	{ "edu DMA through the domain: lands where MAP says, blocked after UNMAP (DMAR fault), read-only mapping not written, MSI window refused", case_dma },
	{ "RLIMIT_MEMLOCK: a MAP over it NOMEM with nothing pinned", case_memlock },
	{ "bypass: all guest memory mapped at its GPA; ATTACH to an empty domain unpins and blocks", case_bypass },
	{ "one domain for edu (kvio_vfio) and a kvio-blk device: each reads what the other wrote at the same IOVA", case_shared },
	{ "teardown: vIOMMU first, VFIO first, container first, the VMM killed: nothing pinned, module references back", case_teardown },
};

int main(int argc, char **argv)
{
	return kt_main_dev(argc, argv, cases, sizeof(cases) / sizeof(cases[0]),
			   "/dev/kvio-iommu");
}
