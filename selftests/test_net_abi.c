// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_net_abi: the vhost-net ioctl ABI, success and error paths, with the
 * errno upstream vhost returns (drivers/vhost/vhost.c, net.c of Linux 6.1).
 * Every case passes against upstream /dev/vhost-net; where kvio differs on
 * purpose, the case says so and checks each device's own behaviour.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt.h"

#define F(bit) (1ULL << (bit))
#define WAIT_MS 2000
/* An address no user mapping can have: access_ok() fails on it. */
#define KERNEL_ADDR 0xffff888000000000ULL

/* A device that is open, owned, with guest RAM registered. */
static int owned(struct kt_dev *d, const struct kt_target *t, uint64_t feat)
{
	int r = kt_dev_open(d, t->path);

	if (r)
		return kt_fail("open: %s", kt_errname(-r));
	r = kt_dev_setup(d, feat);
	if (r)
		return kt_fail("setup: %s", kt_errname(-r));
	return KT_PASS;
}

/* ------------------------------------------------- ownership (table) */

/* An ioctl a table-driven case issues (kt_case_data()). */
struct ioctl_op {
	const char *name;
	unsigned long req;
};

#define OP(req) { #req, req }

/* The ring ioctls both tables hold, in this order. */
#define RING_OPS							\
	OP(VHOST_SET_VRING_NUM), OP(VHOST_SET_VRING_ADDR),		\
	OP(VHOST_SET_VRING_BASE), OP(VHOST_GET_VRING_BASE),		\
	OP(VHOST_SET_VRING_KICK), OP(VHOST_SET_VRING_CALL),		\
	OP(VHOST_SET_VRING_ERR), OP(VHOST_SET_VRING_BUSYLOOP_TIMEOUT)

static const struct ioctl_op owner_ops[] = {
	OP(VHOST_SET_MEM_TABLE),
	OP(VHOST_SET_LOG_BASE),
	OP(VHOST_SET_LOG_FD),
	RING_OPS,
	OP(VHOST_NET_SET_BACKEND),
	OP(VHOST_RESET_OWNER),
};

/* Issue op with an argument that would be valid for the owner. */
static int issue(struct kt_dev *d, const struct ioctl_op *op)
{
	static struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r;
	} mem;
	static uint64_t log[64];
	struct vhost_vring_state st = { .index = 0, .num = 64 };
	struct vhost_vring_file f = { .index = 0 };
	struct vhost_vring_addr a;
	uint64_t base = (uintptr_t)log;
	int efd = eventfd(0, EFD_CLOEXEC), r;

	switch (op->req) {
	case VHOST_SET_MEM_TABLE:
		memset(&mem, 0, sizeof(mem));
		mem.hdr.nregions = 1;
		mem.r.guest_phys_addr = d->mem.gpa;
		mem.r.memory_size = d->mem.size;
		mem.r.userspace_addr = (uintptr_t)d->mem.hva;
		r = ioctl(d->fd, op->req, &mem);
		break;
	case VHOST_SET_LOG_BASE:
		r = ioctl(d->fd, op->req, &base);
		break;
	case VHOST_SET_LOG_FD:
		r = ioctl(d->fd, op->req, &efd);
		break;
	case VHOST_SET_VRING_ADDR:
		memset(&a, 0, sizeof(a));
		a.desc_user_addr = (uintptr_t)d->mem.hva;
		a.avail_user_addr = (uintptr_t)d->mem.hva + 4096;
		a.used_user_addr = (uintptr_t)d->mem.hva + 8192;
		r = ioctl(d->fd, op->req, &a);
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		f.fd = efd;
		r = ioctl(d->fd, op->req, &f);
		break;
	case VHOST_NET_SET_BACKEND:
		f.fd = -1;
		r = ioctl(d->fd, op->req, &f);
		break;
	case VHOST_RESET_OWNER:
		r = ioctl(d->fd, op->req);
		break;
	default:
		r = ioctl(d->fd, op->req, &st);
		break;
	}
	r = kt_errno_of(r);
	close(efd);
	return r;
}

static int case_before_owner(const struct kt_target *t)
{
	const struct ioctl_op *op = kt_case_data();
	struct kt_dev d;
	int e;

	KT_ASSERT(kt_dev_open(&d, t->path) == 0, "open");
	e = issue(&d, op);
	KT_ASSERT(e == EPERM, "%s before SET_OWNER: %s, want EPERM", op->name,
		  kt_errname(e));
	kt_dev_close(&d);
	return KT_PASS;
}

/* The owner is this process; a forked child (another mm) tries op. */
static int case_other_process(const struct kt_target *t)
{
	const struct ioctl_op *op = kt_case_data();
	struct kt_dev d;
	int status, e;
	pid_t pid;

	KT_TRY(owned(&d, t, 0));
	fflush(stdout);
	pid = fork();
	KT_ASSERT(pid >= 0, "fork: %m");
	if (pid == 0) {
		e = issue(&d, op);
		if (e != EPERM)
			kt_diag("%s from a forked child: %s, want EPERM",
				op->name, kt_errname(e));
		fflush(stdout);
		_exit(e == EPERM ? 0 : 1);
	}
	KT_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	KT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child check failed");
	/* The owner still can (NET_SET_BACKEND here would detach a ring
	 * never set up: case_detach_unconfigured covers that). */
	if (op->req != VHOST_RESET_OWNER && op->req != VHOST_NET_SET_BACKEND) {
		e = issue(&d, op);
		KT_ASSERT(e == 0, "%s by the owner afterwards: %s", op->name,
			  kt_errname(e));
	}
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_set_owner_twice(const struct kt_target *t)
{
	struct kt_dev d;

	KT_ASSERT(kt_dev_open(&d, t->path) == 0, "open");
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_OWNER));
	KT_ERRNO(EBUSY, ioctl(d.fd, VHOST_SET_OWNER));
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_child_set_owner(const struct kt_target *t)
{
	struct kt_dev d;
	int status;
	pid_t pid;

	KT_TRY(owned(&d, t, 0));
	fflush(stdout);
	pid = fork();
	KT_ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		int e = kt_errno_of(ioctl(d.fd, VHOST_SET_OWNER));

		if (e != EBUSY)
			kt_diag("SET_OWNER from a child: %s, want EBUSY",
				kt_errname(e));
		fflush(stdout);
		_exit(e == EBUSY ? 0 : 1);
	}
	KT_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	KT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child");
	kt_dev_close(&d);
	return KT_PASS;
}

/* Upstream answers the feature ioctls without an owner (QEMU happens to ask
 * after SET_OWNER, but nothing in the ABI requires it). */
static int case_features_without_owner(const struct kt_target *t)
{
	struct kt_dev d;
	uint64_t f = 0, bf = 0;

	KT_ASSERT(kt_dev_open(&d, t->path) == 0, "open");
	KT_ERRNO(0, ioctl(d.fd, VHOST_GET_FEATURES, &f));
	KT_ASSERT(f != 0, "no features offered");
	KT_ERRNO(0, ioctl(d.fd, VHOST_GET_BACKEND_FEATURES, &bf));
	f = F(VIRTIO_F_VERSION_1);
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_FEATURES, &f));
	kt_dev_close(&d);
	return KT_PASS;
}

static int send_one(struct kt_net *n, uint32_t seed)
{
	uint8_t frame[256], got[2048];
	size_t len = kt_frame_test(frame, n->tap.mac, kt_guest_mac, 100, seed);
	ssize_t r;

	KT_ASSERT(kt_net_tx(n, frame, len, false) >= 0, "tx");
	r = kt_packet_recv(n->psock, got, sizeof(got), KT_ETH_P_TEST, WAIT_MS);
	KT_ASSERT(r > 0, "frame not on the tap");
	KT_ASSERT(kt_bytes_equal(got, r, frame, len, "frame"), "frame bytes");
	return kt_net_tx_reap(n, 1, WAIT_MS);
}

/* RESET_OWNER drops the owner, rings and backends; the device is then as
 * good as new for whoever sets it up again.  With case data (bare), the new
 * owner skips SET_FEATURES: RESET_OWNER forgot the features, so the device
 * neither adds nor strips a vnet header (as after open()) and a TX buffer
 * holding just a frame reaches the tap unchanged. */
static const bool reset_bare = true;

static int case_reset_owner_reuse(const struct kt_target *t)
{
	bool bare = kt_case_data() != NULL;
	struct kt_net n;
	int r, i;

	r = kt_net_open(&n, t, F(VIRTIO_F_VERSION_1), 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	KT_TRY(send_one(&n, 1));
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_RESET_OWNER));
	/* No owner now. */
	r = kt_dev_set_mem(&n.dev);
	KT_ASSERT(r == -EPERM, "SET_MEM_TABLE after RESET_OWNER: %s, want EPERM",
		  kt_errname(-r));
	if (bare) {
		KT_ERRNO(0, ioctl(n.dev.fd, VHOST_SET_OWNER));
		r = kt_dev_set_mem(&n.dev);
		n.dev.features = 0;
		n.hdr_len = 0;
	} else {
		r = kt_dev_setup(&n.dev, F(VIRTIO_F_VERSION_1));
	}
	KT_ASSERT(r == 0, "second setup: %s", kt_errname(-r));
	for (i = 0; i < 2; i++) {
		r = kt_vq_setup(&n.dev, i, 64, 0);
		KT_ASSERT(r == 0, "ring %d: %s", i, kt_errname(-r));
		r = kt_net_backend(&n.dev, i, n.tap.fd);
		KT_ASSERT(r == 0, "backend %d: %s", i, kt_errname(-r));
	}
	KT_TRY(send_one(&n, 2));
	kt_net_close(&n);
	return KT_PASS;
}

static int case_reset_owner_other_owner(const struct kt_target *t)
{
	struct kt_dev d;
	int status;
	pid_t pid;

	KT_TRY(owned(&d, t, 0));
	KT_ERRNO(0, ioctl(d.fd, VHOST_RESET_OWNER));
	fflush(stdout);
	pid = fork();
	KT_ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		int ok = ioctl(d.fd, VHOST_SET_OWNER) == 0 &&
			 kt_dev_set_mem(&d) == 0;

		if (!ok)
			kt_diag("child could not become the owner: %m");
		fflush(stdout);
		_exit(ok ? 0 : 1);
	}
	KT_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	KT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child");
	/* The child (now gone) owns it: this process does not. */
	KT_ERRNO(EPERM, ioctl(d.fd, VHOST_SET_VRING_NUM,
			      &(struct vhost_vring_state){ 0, 64 }));
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_reset_owner_twice(const struct kt_target *t)
{
	struct kt_dev d;

	KT_TRY(owned(&d, t, 0));
	KT_ERRNO(0, ioctl(d.fd, VHOST_RESET_OWNER));
	/* No owner: a second reset is a call from a non-owner. */
	KT_ERRNO(EPERM, ioctl(d.fd, VHOST_RESET_OWNER));
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_OWNER));
	kt_dev_close(&d);
	return KT_PASS;
}

/* ---------------------------------------------------------- features */

static int case_features_offered(const struct kt_target *t)
{
	static const struct { unsigned int bit; const char *name; } need[] = {
		{ VHOST_NET_F_VIRTIO_NET_HDR, "VHOST_NET_F_VIRTIO_NET_HDR" },
		{ VIRTIO_NET_F_MRG_RXBUF, "VIRTIO_NET_F_MRG_RXBUF" },
		{ VIRTIO_F_VERSION_1, "VIRTIO_F_VERSION_1" },
		{ VIRTIO_RING_F_INDIRECT_DESC, "VIRTIO_RING_F_INDIRECT_DESC" },
		{ VIRTIO_RING_F_EVENT_IDX, "VIRTIO_RING_F_EVENT_IDX" },
		{ VIRTIO_F_NOTIFY_ON_EMPTY, "VIRTIO_F_NOTIFY_ON_EMPTY" },
		{ VIRTIO_F_ANY_LAYOUT, "VIRTIO_F_ANY_LAYOUT" },
		{ VHOST_F_LOG_ALL, "VHOST_F_LOG_ALL" },
		{ VIRTIO_F_ACCESS_PLATFORM, "VIRTIO_F_ACCESS_PLATFORM" },
	};
	struct kt_dev d;
	uint64_t f;
	size_t i;
	int bad = 0;

	KT_TRY(owned(&d, t, 0));
	KT_ERRNO(0, ioctl(d.fd, VHOST_GET_FEATURES, &f));
	kt_diag("features offered: 0x%llx", (unsigned long long)f);
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!(f & F(need[i].bit))) {
			kt_diag("%s (bit %u) not offered", need[i].name,
				need[i].bit);
			bad++;
		}
	}
	KT_ASSERT(!bad, "%d feature(s) upstream offers are missing", bad);
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_features_unknown(const struct kt_target *t)
{
	struct kt_dev d;
	uint64_t offered, f;
	unsigned int bit, tried = 0;

	KT_TRY(owned(&d, t, 0));
	KT_ERRNO(0, ioctl(d.fd, VHOST_GET_FEATURES, &offered));
	for (bit = 0; bit < 64; bit++) {
		if (offered & F(bit))
			continue;
		f = F(bit) | F(VIRTIO_F_VERSION_1);
		if (kt_errno_of(ioctl(d.fd, VHOST_SET_FEATURES, &f)) !=
		    EOPNOTSUPP)
			return kt_fail("SET_FEATURES with unoffered bit %u: %s, want EOPNOTSUPP",
				       bit, kt_errname(errno));
		tried++;
	}
	kt_diag("%u unoffered bits each refused", tried);
	f = offered;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_FEATURES, &f));
	f = 0;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_FEATURES, &f));
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_backend_features(const struct kt_target *t)
{
	struct kt_dev d;
	uint64_t bf, f;
	unsigned int bit;

	KT_TRY(owned(&d, t, 0));
	KT_ERRNO(0, ioctl(d.fd, VHOST_GET_BACKEND_FEATURES, &bf));
	kt_diag("backend features offered: 0x%llx", (unsigned long long)bf);
	KT_ASSERT(bf & F(VHOST_BACKEND_F_IOTLB_MSG_V2),
		  "VHOST_BACKEND_F_IOTLB_MSG_V2 not offered");
	for (bit = 0; bit < 64; bit++) {
		if (bf & F(bit))
			continue;
		f = F(bit);
		if (kt_errno_of(ioctl(d.fd, VHOST_SET_BACKEND_FEATURES, &f)) !=
		    EOPNOTSUPP)
			return kt_fail("SET_BACKEND_FEATURES bit %u: %s, want EOPNOTSUPP",
				       bit, kt_errname(errno));
	}
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_BACKEND_FEATURES, &bf));
	f = 0;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_BACKEND_FEATURES, &f));
	kt_dev_close(&d);
	return KT_PASS;
}

/* ------------------------------------------------------ memory table */

struct mem_table {
	struct vhost_memory hdr;
	struct vhost_memory_region r[];
};

static struct mem_table *mem_table(unsigned int n)
{
	struct mem_table *m = calloc(1, sizeof(*m) + (n + 1) * sizeof(m->r[0]));

	if (m)
		m->hdr.nregions = n;
	return m;
}

static unsigned int max_mem_regions(const struct kt_target *t)
{
	const char *path = t->kvio ?
		"/sys/module/kvio_core/parameters/max_mem_regions" :
		"/sys/module/vhost/parameters/max_mem_regions";
	unsigned int v = 64;
	FILE *f = fopen(path, "r");

	if (!f || fscanf(f, "%u", &v) != 1)
		kt_diag("%s unreadable: assuming %u", path, v);
	if (f)
		fclose(f);
	return v;
}

static int case_mem_padding(const struct kt_target *t)
{
	struct kt_dev d;
	struct mem_table *m = mem_table(1);

	KT_TRY(owned(&d, t, 0));
	m->hdr.padding = 1;
	m->r[0].guest_phys_addr = d.mem.gpa;
	m->r[0].memory_size = d.mem.size;
	m->r[0].userspace_addr = (uintptr_t)d.mem.hva;
	KT_ERRNO(EOPNOTSUPP, ioctl(d.fd, VHOST_SET_MEM_TABLE, m));
	free(m);
	kt_dev_close(&d);
	return KT_PASS;
}

/* max regions of 4 KiB each are fine; one more is E2BIG. */
static int case_mem_regions_limit(const struct kt_target *t)
{
	unsigned int max = max_mem_regions(t), i;
	struct mem_table *m;
	struct kt_dev d;

	KT_TRY(owned(&d, t, 0));
	KT_ASSERT(max >= 1 && (size_t)(max + 1) * 4096 <= d.mem.size,
		  "max_mem_regions %u does not fit the test's guest RAM", max);
	m = mem_table(max + 1);
	for (i = 0; i <= max; i++) {
		/* Scattered GPAs, none adjacent. */
		m->r[i].guest_phys_addr = d.mem.gpa + (uint64_t)i * 0x100000;
		m->r[i].memory_size = 4096;
		m->r[i].userspace_addr = (uintptr_t)d.mem.hva + i * 4096;
	}
	kt_diag("max_mem_regions %u", max);
	m->hdr.nregions = max;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_MEM_TABLE, m));
	m->hdr.nregions = max + 1;
	KT_ERRNO(E2BIG, ioctl(d.fd, VHOST_SET_MEM_TABLE, m));
	m->hdr.nregions = 0xffffffffu;
	KT_ERRNO(E2BIG, ioctl(d.fd, VHOST_SET_MEM_TABLE, m));
	m->hdr.nregions = 0;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_MEM_TABLE, m));
	free(m);
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_mem_zero_size(const struct kt_target *t)
{
	struct kt_dev d;
	struct mem_table *m = mem_table(2);

	KT_TRY(owned(&d, t, 0));
	m->r[0].guest_phys_addr = d.mem.gpa;
	m->r[0].memory_size = 4096;
	m->r[0].userspace_addr = (uintptr_t)d.mem.hva;
	m->r[1].guest_phys_addr = d.mem.gpa + 0x100000;
	m->r[1].memory_size = 0;
	m->r[1].userspace_addr = (uintptr_t)d.mem.hva + 8192;
	KT_ERRNO(EFAULT, ioctl(d.fd, VHOST_SET_MEM_TABLE, m));
	free(m);
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_mem_bad_pointer(const struct kt_target *t)
{
	struct kt_dev d;

	KT_TRY(owned(&d, t, 0));
	KT_ERRNO(EFAULT, ioctl(d.fd, VHOST_SET_MEM_TABLE, (void *)16));
	kt_dev_close(&d);
	return KT_PASS;
}

/*
 * Overlapping guest-physical regions: upstream accepts them (a lookup finds
 * whichever it finds first); kvio refuses them with EINVAL on purpose, since
 * a table where one GPA has two meanings is a VMM bug.
 */
static int case_mem_overlap(const struct kt_target *t)
{
	struct kt_dev d;
	struct mem_table *m = mem_table(2);

	KT_TRY(owned(&d, t, 0));
	m->r[0].guest_phys_addr = d.mem.gpa;
	m->r[0].memory_size = 0x10000;
	m->r[0].userspace_addr = (uintptr_t)d.mem.hva;
	m->r[1].guest_phys_addr = d.mem.gpa + 0x8000;
	m->r[1].memory_size = 0x10000;
	m->r[1].userspace_addr = (uintptr_t)d.mem.hva + 0x20000;
	if (t->kvio)
		KT_ERRNO(EINVAL, ioctl(d.fd, VHOST_SET_MEM_TABLE, m));
	else
		KT_ERRNO(0, ioctl(d.fd, VHOST_SET_MEM_TABLE, m));
	free(m);
	kt_dev_close(&d);
	return KT_PASS;
}

/* With a backend attached, every region must be accessible. */
static int case_mem_kernel_addr_live(const struct kt_target *t)
{
	struct kt_net n;
	struct mem_table *m = mem_table(2);
	int r;

	r = kt_net_open(&n, t, F(VIRTIO_F_VERSION_1), 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	m->r[0].guest_phys_addr = n.dev.mem.gpa;
	m->r[0].memory_size = n.dev.mem.size;
	m->r[0].userspace_addr = (uintptr_t)n.dev.mem.hva;
	m->r[1].guest_phys_addr = 0x1000000000ULL;
	m->r[1].memory_size = 0x100000;
	m->r[1].userspace_addr = KERNEL_ADDR;
	KT_ERRNO(EFAULT, ioctl(n.dev.fd, VHOST_SET_MEM_TABLE, m));
	/* The old table is still in force: traffic flows. */
	KT_TRY(send_one(&n, 5));
	free(m);
	kt_net_close(&n);
	return KT_PASS;
}

/* ------------------------------------------------------------- rings */

static const struct ioctl_op ring_ops[] = {
	RING_OPS,
	OP(VHOST_GET_VRING_BUSYLOOP_TIMEOUT),
	OP(VHOST_NET_SET_BACKEND),
};

static int case_ring_index(const struct kt_target *t)
{
	static const unsigned int bad[] = { 2, 3, 255, 0x10000, 0x7fffffff,
					    0x80000000u, 0xffffffffu };
	const struct ioctl_op *op = kt_case_data();
	union {
		struct vhost_vring_state s;
		struct vhost_vring_file f;
		struct vhost_vring_addr a;
	} arg;
	struct kt_dev d;
	size_t i;

	KT_TRY(owned(&d, t, 0));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&arg, 0, sizeof(arg));
		arg.s.index = bad[i];
		if (op->req == VHOST_SET_VRING_NUM)
			arg.s.num = 64;
		if (op->req == VHOST_SET_VRING_KICK ||
		    op->req == VHOST_SET_VRING_CALL ||
		    op->req == VHOST_SET_VRING_ERR ||
		    op->req == VHOST_NET_SET_BACKEND)
			arg.f.fd = -1;
		if (kt_errno_of(ioctl(d.fd, op->req, &arg)) != ENOBUFS)
			return kt_fail("%s index %u: %s, want ENOBUFS",
				       op->name, bad[i], kt_errname(errno));
	}
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_vring_num(const struct kt_target *t)
{
	static const unsigned int bad[] = { 0, 3, 6, 100, 0x10000, 0x20000,
					    0xffff, 0x80000000u };
	static const unsigned int good[] = { 1, 2, 256, 1024, 32768 };
	struct vhost_vring_state s;
	struct kt_dev d;
	size_t i;

	KT_TRY(owned(&d, t, 0));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.index = i & 1;
		s.num = bad[i];
		if (kt_errno_of(ioctl(d.fd, VHOST_SET_VRING_NUM, &s)) != EINVAL)
			return kt_fail("SET_VRING_NUM %u: %s, want EINVAL",
				       bad[i], kt_errname(errno));
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		s.index = i & 1;
		s.num = good[i];
		if (ioctl(d.fd, VHOST_SET_VRING_NUM, &s) < 0)
			return kt_fail("SET_VRING_NUM %u: %s, want success",
				       good[i], kt_errname(errno));
	}
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_vring_base(const struct kt_target *t)
{
	struct vhost_vring_state s = { 0, 0 };
	struct kt_dev d;

	KT_TRY(owned(&d, t, 0));
	s.num = 0x10000;
	KT_ERRNO(EINVAL, ioctl(d.fd, VHOST_SET_VRING_BASE, &s));
	s.num = 0xffffffffu;
	KT_ERRNO(EINVAL, ioctl(d.fd, VHOST_SET_VRING_BASE, &s));
	s.index = 1;
	s.num = 1234;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_VRING_BASE, &s));
	s.num = 0;
	KT_ERRNO(0, ioctl(d.fd, VHOST_GET_VRING_BASE, &s));
	KT_ASSERT(s.index == 1 && s.num == 1234, "GET_VRING_BASE {%u, %u}",
		  s.index, s.num);
	s.index = 0;
	s.num = 0xffff;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_VRING_BASE, &s));
	s.num = 0;
	KT_ERRNO(0, ioctl(d.fd, VHOST_GET_VRING_BASE, &s));
	KT_ASSERT(s.num == 0xffff, "GET_VRING_BASE ring 0: %u", s.num);
	kt_dev_close(&d);
	return KT_PASS;
}

static int case_vring_addr_align(const struct kt_target *t)
{
	struct vhost_vring_addr a, good;
	struct kt_dev d;

	KT_TRY(owned(&d, t, 0));
	memset(&good, 0, sizeof(good));
	good.desc_user_addr = (uintptr_t)d.mem.hva;
	good.avail_user_addr = (uintptr_t)d.mem.hva + 4096;
	good.used_user_addr = (uintptr_t)d.mem.hva + 8192;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_VRING_ADDR, &good));
	a = good;
	a.avail_user_addr += 1;
	KT_ERRNO(EINVAL, ioctl(d.fd, VHOST_SET_VRING_ADDR, &a));
	a = good;
	a.used_user_addr += 2;
	KT_ERRNO(EINVAL, ioctl(d.fd, VHOST_SET_VRING_ADDR, &a));
	a = good;
	a.used_user_addr += 1;
	KT_ERRNO(EINVAL, ioctl(d.fd, VHOST_SET_VRING_ADDR, &a));
	a = good;
	a.flags = 1 << VHOST_VRING_F_LOG;
	a.log_guest_addr = d.mem.gpa + 2;
	KT_ERRNO(EINVAL, ioctl(d.fd, VHOST_SET_VRING_ADDR, &a));
	a = good;
	a.flags = 2;
	KT_ERRNO(EOPNOTSUPP, ioctl(d.fd, VHOST_SET_VRING_ADDR, &a));
	a = good;
	a.avail_user_addr += 2;
	a.used_user_addr += 4;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_VRING_ADDR, &a));
	/*
	 * A descriptor table not 16-byte aligned: upstream does not check it;
	 * kvio refuses it on purpose (the spec requires the alignment, and
	 * an aligned table keeps each descriptor within one page).
	 */
	a = good;
	a.desc_user_addr += 8;
	KT_ERRNO(t->kvio ? EINVAL : 0, ioctl(d.fd, VHOST_SET_VRING_ADDR, &a));
	kt_dev_close(&d);
	return KT_PASS;
}

/* NUM and BASE cannot change under an attached backend; fd -1 detaches. */
static int case_busy_with_backend(const struct kt_target *t)
{
	struct vhost_vring_state s;
	struct kt_net n;
	int r, q;

	r = kt_net_open(&n, t, F(VIRTIO_F_VERSION_1), 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	for (q = 0; q < 2; q++) {
		s.index = q;
		s.num = 128;
		KT_ERRNO(EBUSY, ioctl(n.dev.fd, VHOST_SET_VRING_NUM, &s));
		s.num = 7;
		KT_ERRNO(EBUSY, ioctl(n.dev.fd, VHOST_SET_VRING_BASE, &s));
	}
	r = kt_net_backend(&n.dev, KT_TXQ, -1);
	KT_ASSERT(r == 0, "detach: %s", kt_errname(-r));
	s.index = KT_TXQ;
	s.num = 64;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_SET_VRING_NUM, &s));
	s.num = 0;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_SET_VRING_BASE, &s));
	/* The RX ring is still attached. */
	s.index = KT_RXQ;
	KT_ERRNO(EBUSY, ioctl(n.dev.fd, VHOST_SET_VRING_BASE, &s));
	/* Detaching twice, or a ring with nothing attached, is fine. */
	KT_ASSERT(kt_net_backend(&n.dev, KT_TXQ, -1) == 0, "second detach");
	kt_net_close(&n);
	return KT_PASS;
}

/* With a backend attached, ring addresses are checked at once. */
static int case_vring_addr_live(const struct kt_target *t)
{
	struct vhost_vring_addr a;
	struct kt_net n;
	struct kt_vq *vq;
	int r;

	r = kt_net_open(&n, t, F(VIRTIO_F_VERSION_1), 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	vq = &n.dev.vq[KT_TXQ];
	memset(&a, 0, sizeof(a));
	a.index = KT_TXQ;
	a.desc_user_addr = KERNEL_ADDR;
	a.avail_user_addr = (uintptr_t)vq->avail;
	a.used_user_addr = (uintptr_t)vq->used;
	KT_ERRNO(EINVAL, ioctl(n.dev.fd, VHOST_SET_VRING_ADDR, &a));
	a.desc_user_addr = (uintptr_t)vq->desc;
	a.used_user_addr = KERNEL_ADDR;
	KT_ERRNO(EINVAL, ioctl(n.dev.fd, VHOST_SET_VRING_ADDR, &a));
	/* Rejected: the ring still works at its old place. */
	KT_TRY(send_one(&n, 9));
	kt_net_close(&n);
	return KT_PASS;
}

/* A ring at an address userspace cannot own cannot get a backend. */
static int case_backend_bad_ring(const struct kt_target *t)
{
	struct vhost_vring_addr a;
	struct kt_tap tap;
	struct kt_dev d;
	int r;

	KT_TRY(kt_tap_create(&tap, "kttap0", 12, NULL));
	KT_TRY(owned(&d, t, F(VIRTIO_F_VERSION_1)));
	KT_ASSERT(kt_vq_setup(&d, KT_TXQ, 64, 0) == 0, "ring");
	memset(&a, 0, sizeof(a));
	a.index = KT_TXQ;
	a.desc_user_addr = KERNEL_ADDR;
	a.avail_user_addr = (uintptr_t)d.vq[KT_TXQ].avail;
	a.used_user_addr = (uintptr_t)d.vq[KT_TXQ].used;
	/*
	 * Upstream checks ring addresses only once a backend is attached;
	 * kvio checks them already at SET_VRING_ADDR (core/vring.c), on
	 * purpose: a bad ring is refused where it is configured.
	 */
	if (ioctl(d.fd, VHOST_SET_VRING_ADDR, &a) < 0) {
		KT_ASSERT(t->kvio && errno == EINVAL,
			  "SET_VRING_ADDR (no backend yet): %s, want success",
			  kt_errname(errno));
		kt_diag("kvio refuses the kernel address at SET_VRING_ADDR already");
	} else {
		r = kt_net_backend(&d, KT_TXQ, tap.fd);
		KT_ASSERT(r == -EFAULT,
			  "NET_SET_BACKEND with the descriptor table at a kernel address: %s, want EFAULT",
			  kt_errname(-r));
	}
	kt_dev_close(&d);
	kt_tap_close(&tap);
	return KT_PASS;
}

static int case_eventfd_args(const struct kt_target *t)
{
	static const struct { unsigned long req; const char *name; } ops[] = {
		{ VHOST_SET_VRING_KICK, "SET_VRING_KICK" },
		{ VHOST_SET_VRING_CALL, "SET_VRING_CALL" },
		{ VHOST_SET_VRING_ERR, "SET_VRING_ERR" },
	};
	struct vhost_vring_file f;
	struct kt_dev d;
	int pipefd[2], closed, efd;
	size_t i;

	KT_TRY(owned(&d, t, 0));
	KT_ASSERT(pipe(pipefd) == 0, "pipe");
	efd = eventfd(0, EFD_CLOEXEC);
	/* A number that was an fd a moment ago and is none now. */
	closed = dup(efd);
	close(closed);
	for (i = 0; i < 3; i++) {
		f.index = i & 1;
		f.fd = closed;
		if (kt_errno_of(ioctl(d.fd, ops[i].req, &f)) != EBADF)
			return kt_fail("%s with a closed fd: %s, want EBADF",
				       ops[i].name, kt_errname(errno));
		f.fd = pipefd[0];
		if (kt_errno_of(ioctl(d.fd, ops[i].req, &f)) != EINVAL)
			return kt_fail("%s with a pipe: %s, want EINVAL",
				       ops[i].name, kt_errname(errno));
		f.fd = -2;
		if (kt_errno_of(ioctl(d.fd, ops[i].req, &f)) != EBADF)
			return kt_fail("%s with fd -2: %s, want EBADF",
				       ops[i].name, kt_errname(errno));
		f.fd = efd;
		if (ioctl(d.fd, ops[i].req, &f) < 0)
			return kt_fail("%s with an eventfd: %s", ops[i].name,
				       kt_errname(errno));
		/* The same eventfd again, then unbinding. */
		if (ioctl(d.fd, ops[i].req, &f) < 0)
			return kt_fail("%s with the same eventfd again: %s",
				       ops[i].name, kt_errname(errno));
		f.fd = -1;
		if (ioctl(d.fd, ops[i].req, &f) < 0)
			return kt_fail("%s with fd -1 (unbind): %s",
				       ops[i].name, kt_errname(errno));
	}
	close(efd);
	close(pipefd[0]);
	close(pipefd[1]);
	kt_dev_close(&d);
	return KT_PASS;
}

/* QEMU swaps the call eventfd on a live ring (masking): the new one fires. */
static int case_call_swap_live(const struct kt_target *t)
{
	struct vhost_vring_file f;
	struct kt_net n;
	struct kt_vq *vq;
	int r, newcall;

	r = kt_net_open(&n, t, F(VIRTIO_F_VERSION_1), 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	vq = &n.dev.vq[KT_TXQ];
	KT_TRY(send_one(&n, 1));
	newcall = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f.index = KT_TXQ;
	f.fd = newcall;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_SET_VRING_CALL, &f));
	kt_eventfd_drain(vq->call);
	/* The old call fd goes away entirely. */
	close(vq->call);
	vq->call = newcall;
	KT_TRY(send_one(&n, 2));
	/* With no call fd at all, traffic still flows (used entries only). */
	f.fd = -1;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_SET_VRING_CALL, &f));
	kt_eventfd_drain(newcall);
	{
		uint8_t frame[256], got[2048];
		size_t len = kt_frame_test(frame, n.tap.mac, kt_guest_mac,
					   100, 3);
		long deadline = kt_deadline(WAIT_MS);

		KT_ASSERT(kt_net_tx(&n, frame, len, false) >= 0, "tx");
		KT_ASSERT(kt_packet_recv(n.psock, got, sizeof(got),
					 KT_ETH_P_TEST, WAIT_MS) > 0,
			  "frame without a call fd");
		while (!kt_vq_used_pending(vq) && kt_now_ms() < deadline)
			kt_sleep_ms(5);
		KT_ASSERT(kt_vq_used_pending(vq) == 1, "used entry");
		KT_ASSERT(kt_wait_eventfd(newcall, 200) == 0,
			  "unbound call fd still signalled");
	}
	kt_net_close(&n);
	return KT_PASS;
}

/* ---------------------------------------------------------- backends */

static int case_backend_bad_fds(const struct kt_target *t)
{
	struct kt_dev d;
	char path[] = "/tmp/kt-regular-XXXXXX";
	int file, udp, efd, closed;

	KT_TRY(owned(&d, t, F(VIRTIO_F_VERSION_1)));
	KT_ASSERT(kt_vq_setup(&d, KT_TXQ, 64, 0) == 0, "ring");
	file = mkstemp(path);
	KT_ASSERT(file >= 0, "mkstemp: %m");
	unlink(path);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	efd = eventfd(0, EFD_CLOEXEC);
	closed = dup(efd);
	close(closed);
	KT_ASSERT(kt_net_backend(&d, KT_TXQ, file) == -ENOTSOCK,
		  "a regular file: want ENOTSOCK");
	KT_ASSERT(kt_net_backend(&d, KT_TXQ, udp) == -ENOTSOCK,
		  "a UDP socket: want ENOTSOCK");
	KT_ASSERT(kt_net_backend(&d, KT_TXQ, efd) == -ENOTSOCK,
		  "an eventfd: want ENOTSOCK");
	KT_ASSERT(kt_net_backend(&d, KT_TXQ, closed) == -ENOTSOCK,
		  "a closed fd: want ENOTSOCK");
	KT_ASSERT(kt_net_backend(&d, KT_TXQ, -1) == 0,
		  "fd -1 with nothing attached: want success");
	close(file);
	close(udp);
	close(efd);
	kt_dev_close(&d);
	return KT_PASS;
}

/* AF_PACKET SOCK_RAW sockets are backends too (upstream's raw socket path);
 * other packet socket types are not. */
static int case_backend_packet_socket(const struct kt_target *t)
{
	struct kt_tap tap;
	struct kt_dev d;
	int raw, dgram, r;

	KT_TRY(kt_tap_create(&tap, "kttap0", 0, NULL));
	KT_TRY(owned(&d, t, F(VIRTIO_F_VERSION_1) |
			    F(VHOST_NET_F_VIRTIO_NET_HDR)));
	KT_ASSERT(kt_vq_setup(&d, KT_TXQ, 64, 0) == 0, "ring");
	raw = kt_packet_socket(tap.ifindex);
	KT_ASSERT(raw >= 0, "packet socket");
	dgram = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	KT_ASSERT(dgram >= 0, "packet dgram socket: %m");
	r = kt_net_backend(&d, KT_TXQ, dgram);
	KT_ASSERT(r == -ENOTSOCK, "AF_PACKET SOCK_DGRAM: %s, want ENOTSOCK",
		  kt_errname(-r));
	r = kt_net_backend(&d, KT_TXQ, raw);
	KT_ASSERT(r == 0, "AF_PACKET SOCK_RAW: %s", kt_errname(-r));
	KT_ASSERT(kt_net_backend(&d, KT_TXQ, -1) == 0, "detach");
	close(raw);
	close(dgram);
	kt_dev_close(&d);
	kt_tap_close(&tap);
	return KT_PASS;
}

/* GET_VRING_BASE reports last_avail_idx: the buffers consumed. */
static int case_get_base_after_traffic(const struct kt_target *t)
{
	struct vhost_vring_state s;
	struct kt_net n;
	int r, i;

	r = kt_net_open(&n, t, F(VIRTIO_F_VERSION_1), 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	for (i = 0; i < 5; i++)
		KT_TRY(send_one(&n, i));
	s.index = KT_TXQ;
	s.num = 0;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_GET_VRING_BASE, &s));
	KT_ASSERT(s.num == 5, "TX GET_VRING_BASE %u after 5 frames", s.num);
	/* Posted but unused RX buffers are not consumed. */
	KT_ASSERT(kt_net_rx_post(&n, 8, false) == 0, "post");
	kt_sleep_ms(100);
	s.index = KT_RXQ;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_GET_VRING_BASE, &s));
	KT_ASSERT(s.num == 0, "RX GET_VRING_BASE %u with no traffic", s.num);
	kt_net_close(&n);
	return KT_PASS;
}

/*
 * GET_VRING_BASE stops a ring that has a backend: nothing wakes it into
 * taking chains past the index it returned, neither its socket (frames
 * arriving for RX) nor a TX run the packet weight re-queued.  Re-arming the
 * kick (SET_VRING_KICK with the same eventfd) restarts it.  Upstream stops
 * nothing here (QEMU detaches the backend first): kvio only.
 */
static int case_get_base_stops_live_ring(const struct kt_target *t)
{
	struct kt_vq *rvq, *tvq;
	struct vhost_vring_state s, again;
	struct kt_net n;
	struct vhost_vring_file kick;
	uint8_t frame[256];
	struct kt_buf b;
	unsigned int i;
	long deadline;
	size_t len;
	int r;

	if (!t->kvio)
		return kt_skip("upstream vhost-net does not stop a ring at GET_VRING_BASE");
	r = kt_net_open(&n, t, F(VIRTIO_F_VERSION_1), 4096, 256, 0);
	if (r != KT_PASS)
		return r;
	rvq = &n.dev.vq[KT_RXQ];
	tvq = &n.dev.vq[KT_TXQ];

	/* RX: buffers posted, ring stopped, then frames reach the tap. */
	KT_ASSERT(kt_net_rx_post(&n, 16, false) == 0, "post RX buffers");
	kt_sleep_ms(50);
	s.index = KT_RXQ;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_GET_VRING_BASE, &s));
	KT_ASSERT(s.num == 0, "RX GET_VRING_BASE %u before any frame", s.num);
	len = kt_frame_test(frame, kt_guest_mac, n.tap.mac, 100, 7);
	for (i = 0; i < 4; i++)
		KT_ASSERT(kt_packet_send(n.psock, n.tap.ifindex, frame,
					 len) == 0, "send frame %u", i);
	kt_sleep_ms(300 * kt_timeout_scale());
	KT_ASSERT(kt_vq_used_idx(rvq) == 0,
		  "RX used index %u after GET_VRING_BASE returned 0: the socket restarted a stopped ring",
		  kt_vq_used_idx(rvq));
	again.index = KT_RXQ;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_GET_VRING_BASE, &again));
	KT_ASSERT(again.num == 0, "RX GET_VRING_BASE moved to %u", again.num);
	/* The same kick eventfd again restarts it: the frames come in. */
	kick.index = KT_RXQ;
	kick.fd = rvq->kick;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_SET_VRING_KICK, &kick));
	kt_vq_kick(rvq);
	KT_TRY(kt_net_expect_rx(&n, frame, len, WAIT_MS, 0, NULL));

	/*
	 * TX: 4096 chains (one frame, read again by each) and one kick;
	 * GET_VRING_BASE once the first run has published, while the
	 * handler goes on 256 chains (its weight) a run.
	 */
	b.gpa = kt_pool_get(&n.txpool);
	KT_ASSERT(b.gpa, "TX pool");
	memset(kt_gpa(&n.dev.mem, b.gpa), 0, n.hdr_len);
	len = kt_frame_test(kt_gpa(&n.dev.mem, b.gpa + n.hdr_len),
			    n.tap.mac, kt_guest_mac, 20, 8);
	b.len = n.hdr_len + len;
	for (i = 0; i < 4096; i++)
		KT_ASSERT(kt_vq_add(tvq, &b, 1, NULL, 0, false, i) >= 0,
			  "TX add %u", i);
	kt_vq_kick(tvq);
	/* Once the first run has published, the handler is mid-way. */
	deadline = kt_deadline(WAIT_MS);
	while (!kt_vq_used_idx(tvq) && kt_now_ms() < deadline)
		;
	s.index = KT_TXQ;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_GET_VRING_BASE, &s));
	kt_sleep_ms(300 * kt_timeout_scale());
	KT_ASSERT((uint16_t)kt_vq_used_idx(tvq) <= s.num,
		  "TX used index %u past the %u GET_VRING_BASE returned",
		  kt_vq_used_idx(tvq), s.num);
	again.index = KT_TXQ;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_GET_VRING_BASE, &again));
	KT_ASSERT(again.num == s.num, "TX GET_VRING_BASE %u, then %u",
		  s.num, again.num);
	kt_diag("TX stopped after %u of 4096 chains", s.num);
	kt_net_close(&n);
	return KT_PASS;
}

static int case_busyloop_timeout(const struct kt_target *t)
{
	struct vhost_vring_state s;
	struct kt_dev d;

	KT_TRY(owned(&d, t, 0));
	s.index = 0;
	s.num = 50;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s));
	s.index = 1;
	s.num = 77;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s));
	s.index = 0;
	s.num = 0;
	KT_ERRNO(0, ioctl(d.fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s));
	KT_ASSERT(s.index == 0 && s.num == 50, "ring 0: {%u, %u}", s.index,
		  s.num);
	s.index = 1;
	s.num = 0;
	KT_ERRNO(0, ioctl(d.fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s));
	KT_ASSERT(s.index == 1 && s.num == 77, "ring 1: {%u, %u}", s.index,
		  s.num);
	kt_dev_close(&d);
	return KT_PASS;
}

/* Traffic still flows with a busy-poll timeout set on both rings. */
static int case_busyloop_traffic(const struct kt_target *t)
{
	struct vhost_vring_state s;
	struct kt_net n;
	uint8_t frame[256];
	int r, i, q;

	r = kt_net_open(&n, t, F(VIRTIO_F_VERSION_1), 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	/* NUM/BASE are busy with a backend, the busyloop timeout is not. */
	for (q = 0; q < 2; q++) {
		s.index = q;
		s.num = 200;
		KT_ERRNO(0, ioctl(n.dev.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
				  &s));
	}
	KT_ASSERT(kt_net_rx_post(&n, 16, false) == 0, "post");
	for (i = 0; i < 20; i++) {
		struct virtio_net_hdr_mrg_rxbuf h;
		uint8_t got[2048];
		size_t len = kt_frame_test(frame, kt_guest_mac, n.tap.mac, 80, i);
		ssize_t g;

		KT_TRY(send_one(&n, i));
		KT_ASSERT(kt_packet_send(n.psock, n.tap.ifindex, frame, len) == 0,
			  "inject");
		g = kt_net_rx_recv(&n, &h, got, sizeof(got), NULL, WAIT_MS);
		KT_ASSERT(g == (ssize_t)len, "RX frame %d: %zd", i, g);
		KT_ASSERT(kt_net_rx_post(&n, 1, false) == 0, "repost");
	}
	kt_net_close(&n);
	return KT_PASS;
}

static int case_unknown_ioctl(const struct kt_target *t)
{
	uint64_t zero[8] = { 0 };
	struct kt_dev d;

	KT_TRY(owned(&d, t, 0));
	KT_ERRNO(ENOTTY, ioctl(d.fd, _IOW(VHOST_VIRTIO, 0x7f, uint64_t), zero));
	KT_ERRNO(ENOTTY, ioctl(d.fd, _IOWR(VHOST_VIRTIO, 0x4f,
					   struct vhost_vring_state), zero));
	KT_ERRNO(ENOTTY, ioctl(d.fd, _IO('X', 0x01), zero));
	kt_dev_close(&d);
	return KT_PASS;
}

/*
 * An open device holds the module that serves it (and kvio's, the engine),
 * so neither can be unloaded under it; closing gives them back.
 */
static int case_fd_holds_module(const struct kt_target *t)
{
	const char *mod = t->kvio ? "kvio_net" : "vhost_net";
	long before, core_before, open_, core_open;
	struct kt_dev d;

	before = kt_module_refcnt(mod);
	core_before = t->kvio ? kt_module_refcnt("kvio_core") : 0;
	/* The debug kernel has vhost_net built in: nothing to hold. */
	if (before < 0 && !t->kvio)
		return kt_skip("%s is not a module here", mod);
	KT_ASSERT(before >= 0 && core_before >= 0, "no refcnt for %s", mod);
	KT_TRY(owned(&d, t, 0));
	open_ = kt_module_refcnt(mod);
	core_open = t->kvio ? kt_module_refcnt("kvio_core") : 0;
	KT_ASSERT(open_ == before + 1, "%s refcnt %ld with a file open, %ld before",
		  mod, open_, before);
	KT_ASSERT(!t->kvio || core_open >= core_before + 1,
		  "kvio_core refcnt %ld with a file open, %ld before",
		  core_open, core_before);
	kt_dev_close(&d);
	KT_ASSERT(kt_module_refcnt(mod) == before, "%s refcnt %ld after close, %ld before",
		  mod, kt_module_refcnt(mod), before);
	return KT_PASS;
}

static int case_log_base_fd(const struct kt_target *t)
{
	static uint8_t bitmap[4096];
	uint64_t base = (uintptr_t)bitmap;
	struct kt_dev d;
	int efd, closed, fd;

	KT_TRY(owned(&d, t, 0));
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_LOG_BASE, &base));
	KT_ERRNO(EFAULT, ioctl(d.fd, VHOST_SET_LOG_BASE, (void *)16));
	efd = eventfd(0, EFD_CLOEXEC);
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_LOG_FD, &efd));
	fd = -1;
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_LOG_FD, &fd));
	closed = dup(efd);
	close(closed);
	KT_ERRNO(EBADF, ioctl(d.fd, VHOST_SET_LOG_FD, &closed));
	close(efd);
	kt_dev_close(&d);
	return KT_PASS;
}

/* ------------------------------------------------------------- IOTLB */

#define MSG_V1 1
#define MSG_V2 2

static int case_iotlb_errors(const struct kt_target *t)
{
	uint64_t bf = F(VHOST_BACKEND_F_IOTLB_MSG_V2);
	struct kt_dev d;
	uint64_t uaddr;
	int r, type;

	KT_TRY(owned(&d, t, F(VIRTIO_F_VERSION_1) |
			    F(VIRTIO_F_ACCESS_PLATFORM)));
	/* As QEMU does before it writes v2 messages. */
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_BACKEND_FEATURES, &bf));
	uaddr = (uintptr_t)d.mem.hva;
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_UPDATE, 0x10000, 0, uaddr,
			 VHOST_ACCESS_RW);
	KT_ASSERT(r == -EINVAL, "v2 UPDATE of size 0: %s, want EINVAL",
		  kt_errname(-r));
	r = kt_iotlb_msg(&d, MSG_V1, VHOST_IOTLB_UPDATE, 0x10000, 0, uaddr,
			 VHOST_ACCESS_RW);
	KT_ASSERT(r == -EINVAL, "v1 UPDATE of size 0: %s, want EINVAL",
		  kt_errname(-r));
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_UPDATE, 0x10000, 4096, uaddr,
			 VHOST_ACCESS_RW);
	KT_ASSERT(r == 0, "v2 UPDATE: %s", kt_errname(-r));
	r = kt_iotlb_msg(&d, MSG_V1, VHOST_IOTLB_UPDATE, 0x20000, 4096,
			 uaddr + 4096, VHOST_ACCESS_RO);
	KT_ASSERT(r == 0, "v1 UPDATE: %s", kt_errname(-r));
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_INVALIDATE, 0x10000, 4096, 0,
			 0);
	KT_ASSERT(r == 0, "INVALIDATE: %s", kt_errname(-r));
	/* A mapping onto memory userspace cannot own. */
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_UPDATE, 0x30000, 4096,
			 KERNEL_ADDR, VHOST_ACCESS_RW);
	KT_ASSERT(r == -EFAULT, "UPDATE of a kernel address: %s, want EFAULT",
		  kt_errname(-r));
	/* Unknown framing type. */
	type = 7;
	KT_ERRNO(EINVAL, write(d.fd, &type, sizeof(type)));
	/* Too short for a message. */
	type = VHOST_IOTLB_MSG_V2;
	KT_ERRNO(EINVAL, write(d.fd, &type, 2));
	KT_ERRNO(EINVAL, write(d.fd, &type, sizeof(type)));
	kt_dev_close(&d);
	return KT_PASS;
}

/* Messages only the device sends, and unknown ones: upstream turns any
 * processing error into EFAULT. */
static int case_iotlb_bad_type(const struct kt_target *t)
{
	static const uint8_t types[] = { VHOST_IOTLB_MISS,
					 VHOST_IOTLB_ACCESS_FAIL, 0, 99 };
	uint64_t bf = F(VHOST_BACKEND_F_IOTLB_MSG_V2);
	struct kt_dev d;
	size_t i;
	int r;

	KT_TRY(owned(&d, t, F(VIRTIO_F_VERSION_1) |
			    F(VIRTIO_F_ACCESS_PLATFORM)));
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_BACKEND_FEATURES, &bf));
	for (i = 0; i < sizeof(types); i++) {
		r = kt_iotlb_msg(&d, MSG_V2, types[i], 0x10000, 4096,
				 (uintptr_t)d.mem.hva, VHOST_ACCESS_RW);
		KT_ASSERT(r == -EFAULT, "IOTLB message type %u written: %s, want EFAULT",
			  types[i], kt_errname(-r));
	}
	kt_dev_close(&d);
	return KT_PASS;
}

/*
 * v2 framing before VHOST_BACKEND_F_IOTLB_MSG_V2 was negotiated: upstream
 * accepts it; kvio refuses it with EINVAL on purpose (core/msg.c: v2 only
 * once negotiated). v1 framing works either way.
 */
static int case_iotlb_v2_unnegotiated(const struct kt_target *t)
{
	struct kt_dev d;
	int r;

	KT_TRY(owned(&d, t, F(VIRTIO_F_VERSION_1) |
			    F(VIRTIO_F_ACCESS_PLATFORM)));
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_UPDATE, 0x10000, 4096,
			 (uintptr_t)d.mem.hva, VHOST_ACCESS_RW);
	KT_ASSERT(r == (t->kvio ? -EINVAL : 0),
		  "v2 UPDATE without MSG_V2 negotiated: %s, want %s",
		  kt_errname(-r), t->kvio ? "EINVAL" : "success");
	r = kt_iotlb_msg(&d, MSG_V1, VHOST_IOTLB_UPDATE, 0x20000, 4096,
			 (uintptr_t)d.mem.hva, VHOST_ACCESS_RW);
	KT_ASSERT(r == 0, "v1 UPDATE: %s", kt_errname(-r));
	kt_dev_close(&d);
	return KT_PASS;
}

/* Upstream detaches a ring that was never set up without complaint (QEMU's
 * error paths detach every ring). */
static int case_detach_unconfigured(const struct kt_target *t)
{
	struct kt_dev d;
	int r, q;

	KT_TRY(owned(&d, t, 0));
	for (q = 0; q < 2; q++) {
		r = kt_net_backend(&d, q, -1);
		KT_ASSERT(r == 0, "NET_SET_BACKEND fd -1 on ring %d never set up: %s, want success",
			  q, kt_errname(-r));
	}
	kt_dev_close(&d);
	return KT_PASS;
}

/* Without ACCESS_PLATFORM there is no device IOTLB to update. */
static int case_iotlb_without_platform(const struct kt_target *t)
{
	uint64_t bf = F(VHOST_BACKEND_F_IOTLB_MSG_V2);
	struct kt_dev d;
	int r;

	KT_TRY(owned(&d, t, F(VIRTIO_F_VERSION_1)));
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_BACKEND_FEATURES, &bf));
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_UPDATE, 0x10000, 4096,
			 (uintptr_t)d.mem.hva, VHOST_ACCESS_RW);
	KT_ASSERT(r == -EFAULT, "UPDATE without ACCESS_PLATFORM: %s, want EFAULT",
		  kt_errname(-r));
	kt_dev_close(&d);
	return KT_PASS;
}

/*
 * The device IOTLB at work: rings mapped, data buffers not; a kick makes the
 * device report a MISS (read() on the device, poll says POLLIN) for the
 * buffer's IOVA; an UPDATE covering it resumes the ring and the frame goes
 * out.
 */
static int case_iotlb_miss(const struct kt_target *t)
{
	const uint64_t feat = F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ACCESS_PLATFORM);
	uint64_t bf = F(VHOST_BACKEND_F_IOTLB_MSG_V2);
	struct vhost_iotlb_msg msg;
	uint8_t frame[256], got[2048];
	struct kt_tap tap;
	struct kt_pool pool;
	struct kt_dev d;
	struct kt_vq *vq;
	struct kt_buf b;
	int psock, r;
	size_t len;
	ssize_t g;

	KT_TRY(kt_tap_create(&tap, "kttap0", 12, NULL));
	psock = kt_packet_socket(tap.ifindex);
	KT_ASSERT(psock >= 0, "packet socket");
	KT_TRY(owned(&d, t, feat));
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_BACKEND_FEATURES, &bf));
	KT_ASSERT(kt_vq_setup(&d, KT_TXQ, 64, 0) == 0, "ring");
	vq = &d.vq[KT_TXQ];
	/* Identity IOVA = GPA for the three ring areas only. */
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_UPDATE, vq->desc_gpa, 4096,
			 (uintptr_t)vq->desc, VHOST_ACCESS_RO);
	KT_ASSERT(!r, "map desc: %s", kt_errname(-r));
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_UPDATE, vq->avail_gpa, 4096,
			 (uintptr_t)vq->avail, VHOST_ACCESS_RO);
	KT_ASSERT(!r, "map avail: %s", kt_errname(-r));
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_UPDATE, vq->used_gpa, 4096,
			 (uintptr_t)vq->used, VHOST_ACCESS_RW);
	KT_ASSERT(!r, "map used: %s", kt_errname(-r));
	r = kt_net_backend(&d, KT_TXQ, tap.fd);
	KT_ASSERT(!r, "backend: %s", kt_errname(-r));

	KT_ASSERT(kt_pool_init(&pool, &d.mem, 4, 2048) == 0, "pool");
	b.gpa = kt_pool_get(&pool);
	len = kt_frame_test(frame, tap.mac, kt_guest_mac, 200, 11);
	memset(kt_gpa(&d.mem, b.gpa), 0, 12);
	memcpy((uint8_t *)kt_gpa(&d.mem, b.gpa) + 12, frame, len);
	b.len = 12 + len;
	KT_ASSERT(kt_vq_add(vq, &b, 1, NULL, 0, false, b.gpa) >= 0, "add");
	kt_vq_kick(vq);

	r = kt_iotlb_read(&d, &msg, WAIT_MS);
	KT_ASSERT(r == 1, "no IOTLB miss message within %d ms (%d)", WAIT_MS,
		  r);
	KT_ASSERT(msg.type == VHOST_IOTLB_MISS, "message type %u, want MISS",
		  msg.type);
	KT_ASSERT(msg.iova <= b.gpa && b.gpa < msg.iova + (msg.size ? msg.size : 1),
		  "miss for iova 0x%llx (size 0x%llx), buffer at 0x%llx",
		  (unsigned long long)msg.iova, (unsigned long long)msg.size,
		  (unsigned long long)b.gpa);
	KT_ASSERT(msg.perm & VHOST_ACCESS_RO, "miss perm %u", msg.perm);
	r = kt_iotlb_msg(&d, MSG_V2, VHOST_IOTLB_UPDATE, pool.gpa,
			 (uint64_t)pool.count * pool.size,
			 (uintptr_t)kt_gpa(&d.mem, pool.gpa), VHOST_ACCESS_RW);
	KT_ASSERT(!r, "map data: %s", kt_errname(-r));
	g = kt_packet_recv(psock, got, sizeof(got), KT_ETH_P_TEST, WAIT_MS);
	KT_ASSERT(g > 0, "frame did not go out after the UPDATE");
	KT_ASSERT(kt_bytes_equal(got, g, frame, len, "frame"), "frame bytes");
	r = kt_vq_wait_used(vq, NULL, NULL, NULL, WAIT_MS);
	KT_ASSERT(r == 1, "no used entry (%d)", r);
	kt_dev_close(&d);
	close(psock);
	kt_tap_close(&tap);
	kt_pool_free(&pool);
	return KT_PASS;
}

/* ------------------------------------------------------------- table */

#define BEFORE(op) { "before SET_OWNER: " #op " -> EPERM", case_before_owner, \
		     0, &owner_ops[op ## _I] }
enum {
	VHOST_SET_MEM_TABLE_I, VHOST_SET_LOG_BASE_I, VHOST_SET_LOG_FD_I,
	VHOST_SET_VRING_NUM_I, VHOST_SET_VRING_ADDR_I, VHOST_SET_VRING_BASE_I,
	VHOST_GET_VRING_BASE_I, VHOST_SET_VRING_KICK_I, VHOST_SET_VRING_CALL_I,
	VHOST_SET_VRING_ERR_I, VHOST_SET_VRING_BUSYLOOP_TIMEOUT_I,
	VHOST_NET_SET_BACKEND_I, VHOST_RESET_OWNER_I,
};
#define OTHER(op) { "from another process (fork): " #op " -> EPERM", \
		    case_other_process, 0, &owner_ops[op ## _I] }
#define INDEX(i, op) { "ring index >= 2 (up to 0xffffffff): " op " -> ENOBUFS", \
		       case_ring_index, 0, &ring_ops[i] }

static const struct kt_case cases[] = {
	BEFORE(VHOST_SET_MEM_TABLE),
	BEFORE(VHOST_SET_LOG_BASE),
	BEFORE(VHOST_SET_LOG_FD),
	BEFORE(VHOST_SET_VRING_NUM),
	BEFORE(VHOST_SET_VRING_ADDR),
	BEFORE(VHOST_SET_VRING_BASE),
	BEFORE(VHOST_GET_VRING_BASE),
	BEFORE(VHOST_SET_VRING_KICK),
	BEFORE(VHOST_SET_VRING_CALL),
	BEFORE(VHOST_SET_VRING_ERR),
	BEFORE(VHOST_SET_VRING_BUSYLOOP_TIMEOUT),
	BEFORE(VHOST_NET_SET_BACKEND),
	BEFORE(VHOST_RESET_OWNER),
	{ "feature ioctls need no owner (as upstream)",
	  case_features_without_owner },
	{ "SET_OWNER twice -> EBUSY", case_set_owner_twice },
	{ "SET_OWNER from another process while owned -> EBUSY",
	  case_child_set_owner },
	OTHER(VHOST_SET_MEM_TABLE),
	OTHER(VHOST_SET_VRING_NUM),
	OTHER(VHOST_SET_VRING_ADDR),
	OTHER(VHOST_SET_VRING_KICK),
	OTHER(VHOST_GET_VRING_BASE),
	OTHER(VHOST_NET_SET_BACKEND),
	OTHER(VHOST_RESET_OWNER),
	{ "RESET_OWNER, then set up again: traffic flows",
	  case_reset_owner_reuse },
	{ "RESET_OWNER, set up again without SET_FEATURES: no vnet header",
	  case_reset_owner_reuse, .data = &reset_bare,
	  .upstream_bug = KT_UPSTREAM_XDP_GSO_BUG },
	{ "RESET_OWNER lets another process become the owner",
	  case_reset_owner_other_owner },
	{ "RESET_OWNER twice -> EPERM, SET_OWNER again works",
	  case_reset_owner_twice },
	{ "GET_FEATURES offers every bit upstream vhost-net offers",
	  case_features_offered },
	{ "SET_FEATURES with each unoffered bit -> EOPNOTSUPP",
	  case_features_unknown },
	{ "GET/SET_BACKEND_FEATURES: MSG_V2 offered, unknown bits -> EOPNOTSUPP",
	  case_backend_features },
	{ "SET_MEM_TABLE padding != 0 -> EOPNOTSUPP", case_mem_padding },
	{ "SET_MEM_TABLE max_mem_regions ok, one more -> E2BIG, 0 regions ok",
	  case_mem_regions_limit },
	{ "SET_MEM_TABLE zero-size region -> EFAULT", case_mem_zero_size },
	{ "SET_MEM_TABLE unreadable argument -> EFAULT", case_mem_bad_pointer },
	{ "SET_MEM_TABLE overlapping GPAs (kvio: EINVAL on purpose; upstream accepts)",
	  case_mem_overlap },
	{ "SET_MEM_TABLE kernel-address region with a live backend -> EFAULT",
	  case_mem_kernel_addr_live },
	INDEX(0, "VHOST_SET_VRING_NUM"),
	INDEX(1, "VHOST_SET_VRING_ADDR"),
	INDEX(2, "VHOST_SET_VRING_BASE"),
	INDEX(3, "VHOST_GET_VRING_BASE"),
	INDEX(4, "VHOST_SET_VRING_KICK"),
	INDEX(5, "VHOST_SET_VRING_CALL"),
	INDEX(6, "VHOST_SET_VRING_ERR"),
	INDEX(7, "VHOST_SET_VRING_BUSYLOOP_TIMEOUT"),
	INDEX(8, "VHOST_GET_VRING_BUSYLOOP_TIMEOUT"),
	INDEX(9, "VHOST_NET_SET_BACKEND"),
	{ "SET_VRING_NUM 0, not a power of two, > 0xffff -> EINVAL; 1..32768 ok",
	  case_vring_num },
	{ "SET_VRING_BASE > 0xffff -> EINVAL; GET returns what SET stored",
	  case_vring_base },
	{ "SET_VRING_ADDR misaligned avail/used/log -> EINVAL, unknown flags -> EOPNOTSUPP (kvio: desc too)",
	  case_vring_addr_align },
	{ "SET_VRING_ADDR at kernel addresses with a live backend -> EINVAL",
	  case_vring_addr_live },
	{ "SET_VRING_NUM/BASE with a backend attached -> EBUSY; fd -1 detaches",
	  case_busy_with_backend },
	{ "NET_SET_BACKEND with the ring at a kernel address -> EFAULT (kvio: EINVAL at SET_VRING_ADDR)",
	  case_backend_bad_ring },
	{ "NET_SET_BACKEND fd -1 on rings never set up -> success",
	  case_detach_unconfigured },
	{ "SET_VRING_KICK/CALL/ERR: closed fd -> EBADF, non-eventfd -> EINVAL, -1 unbinds",
	  case_eventfd_args },
	{ "SET_VRING_CALL swapped and unbound on a live ring",
	  case_call_swap_live },
	{ "NET_SET_BACKEND regular file, UDP socket, eventfd, closed fd -> ENOTSOCK",
	  case_backend_bad_fds },
	{ "NET_SET_BACKEND AF_PACKET SOCK_RAW ok, SOCK_DGRAM -> ENOTSOCK",
	  case_backend_packet_socket },
	{ "GET_VRING_BASE returns last_avail_idx after traffic",
	  case_get_base_after_traffic },
	{ "GET_VRING_BASE stops a ring with a backend (RX socket, TX weight re-queue); same kick restarts",
	  case_get_base_stops_live_ring },
	{ "SET/GET_VRING_BUSYLOOP_TIMEOUT round trip", case_busyloop_timeout },
	{ "traffic both ways with a busy-poll timeout set",
	  case_busyloop_traffic, 120 },
	{ "unknown ioctl -> ENOTTY", case_unknown_ioctl },
	{ "an open fd holds its module (refcnt), close gives it back",
	  case_fd_holds_module },
	{ "SET_LOG_BASE / SET_LOG_FD arguments", case_log_base_fd },
	{ "IOTLB write: UPDATE size 0 -> EINVAL, bad framing -> EINVAL, kernel uaddr -> EFAULT",
	  case_iotlb_errors },
	{ "IOTLB UPDATE without ACCESS_PLATFORM -> EFAULT",
	  case_iotlb_without_platform },
	{ "IOTLB write of MISS/ACCESS_FAIL/unknown message types -> EFAULT",
	  case_iotlb_bad_type },
	{ "IOTLB v2 framing before MSG_V2 negotiated (kvio: EINVAL on purpose; upstream accepts)",
	  case_iotlb_v2_unnegotiated },
	{ "IOTLB miss read() from the device; UPDATE resumes the ring",
	  case_iotlb_miss },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
