// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_iommu: /dev/kvio-iommu, the virtio-iommu device served in the kernel,
 * driven as a guest driver drives it: requests on ring 0 (the request
 * queue), each checked for the status and used length the virtio spec
 * (5.13.6) asks for, and the configuration, reserved-region and endpoint
 * ioctls a VMM uses, checked for their errno values.
 *
 * Mappings are observed through the requests themselves: a MAP over a range
 * that holds a mapping is INVAL, so "still mapped" and "gone" are both
 * visible to the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>

#include "kt.h"
#include "kt_blk.h"
#include "kt_iommu.h"

#define F(bit) (1ULL << (bit))
#define FEAT_BASE (F(VIRTIO_F_VERSION_1) | F(VIRTIO_IOMMU_F_INPUT_RANGE) | \
		   F(VIRTIO_IOMMU_F_DOMAIN_RANGE) | F(VIRTIO_IOMMU_F_MAP_UNMAP))
#define FEAT (FEAT_BASE | F(VIRTIO_IOMMU_F_BYPASS_CONFIG) | \
	      F(VIRTIO_IOMMU_F_PROBE))
#define NUM 512		/* ring entries: BATCH two-descriptor chains */
#define BATCH 255
#define SLOT 2048	/* guest bytes per request slot: readable, writable */
#define PROBE_SIZE 512
#define TAIL 4
#define PAGE 4096ULL

#define S_OK VIRTIO_IOMMU_S_OK
#define S_UNSUPP VIRTIO_IOMMU_S_UNSUPP
#define S_INVAL VIRTIO_IOMMU_S_INVAL
#define S_RANGE VIRTIO_IOMMU_S_RANGE
#define S_NOENT VIRTIO_IOMMU_S_NOENT
#define S_NOMEM VIRTIO_IOMMU_S_NOMEM

struct rig {
	struct kt_dev d;
	uint64_t slots;		/* NUM slots of SLOT bytes */
	unsigned int queued;
	/* Per slot: what was written back. */
	uint32_t used_len[NUM];
	uint8_t status[NUM];
	size_t wr_len[NUM];
};

static void rig_close(struct rig *g)
{
	kt_dev_close(&g->d);
}

static int rig_open(struct rig *g, const struct kt_target *t, uint64_t feat)
{
	int r;

	memset(g, 0, sizeof(*g));
	r = kt_dev_open(&g->d, t->path);
	if (r == -ENOENT)
		return kt_skip("%s: not present", t->path);
	if (r)
		return kt_fail("open %s: %s", t->path, kt_errname(-r));
	if (kt_dev_setup(&g->d, feat))
		return kt_fail("device setup");
	if (kt_vq_setup(&g->d, 0, NUM, 0) || kt_vq_setup(&g->d, 1, 16, 0))
		return kt_fail("ring setup");
	g->slots = kt_mem_alloc(&g->d.mem, (size_t)NUM * SLOT, 64);
	KT_ASSERT(g->slots, "guest memory");
	return KT_PASS;
}

static uint8_t *slot_rd(struct rig *g, unsigned int i)
{
	return kt_gpa(&g->d.mem, g->slots + (uint64_t)i * SLOT);
}

static uint8_t *slot_wr(struct rig *g, unsigned int i)
{
	return slot_rd(g, i) + SLOT / 2;
}

/* Queues a request (not kicked): @rd readable bytes, @wr writable bytes. */
static int queue_req(struct rig *g, const void *rd, size_t rd_len, size_t wr)
{
	unsigned int i = g->queued;
	struct kt_buf out = { g->slots + (uint64_t)i * SLOT, rd_len };
	struct kt_buf in = { out.gpa + SLOT / 2, wr };

	KT_ASSERT(i < NUM && rd_len <= SLOT / 2 && wr <= SLOT / 2);
	memcpy(slot_rd(g, i), rd, rd_len);
	/* A pattern: what the device leaves alone stays 0xa5. */
	memset(slot_wr(g, i), 0xa5, SLOT / 2);
	g->wr_len[i] = wr;
	KT_ASSERT(kt_vq_add(&g->d.vq[0], &out, rd_len ? 1 : 0, &in,
			    wr ? 1 : 0, false, i) >= 0);
	g->queued++;
	return KT_PASS;
}

/* Kicks and collects every queued request's used length and status. */
static int run_queued(struct rig *g)
{
	unsigned int n;

	kt_vq_kick(&g->d.vq[0]);
	for (n = 0; n < g->queued; n++) {
		uint32_t id, len;
		uint64_t tok;
		int r;

		r = kt_vq_wait_used(&g->d.vq[0], &id, &len, &tok,
				    5000 * kt_timeout_scale());
		KT_ASSERT(r == 1, "request %u of %u not completed", n,
			  g->queued);
		/* Ring order: the device serves requests as they come. */
		KT_ASSERT(tok == n, "request %u completed as the %u-th",
			  (unsigned int)tok, n);
		g->used_len[tok] = len;
		/* The tail: after PROBE's properties, else first. */
		g->status[tok] = len >= TAIL ? slot_wr(g, tok)[len - TAIL] :
			0xff;
	}
	g->queued = 0;
	return KT_PASS;
}

/* One request, answered with status @want in a tail (used length 4). */
static int expect(struct rig *g, const void *req, size_t len, uint8_t want,
		  const char *what)
{
	KT_TRY(queue_req(g, req, len, TAIL));
	KT_TRY(run_queued(g));
	if (g->used_len[0] != TAIL)
		return kt_fail("%s: used length %u, want %u", what,
			       g->used_len[0], TAIL);
	if (g->status[0] != want)
		return kt_fail("%s: status %u, want %u", what, g->status[0],
			       want);
	return KT_PASS;
}

#define RW (VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define EXPECT(g, req, want) do {					\
	__typeof__(req) r_ = (req);					\
	KT_TRY(expect((g), &r_, offsetof(__typeof__(r_), tail), (want),	\
		      #req));						\
} while (0)

static int bind_ep(struct rig *g, uint32_t ep, int fd)
{
	struct kvio_iommu_endpoint b = { .endpoint = ep, .fd = fd };

	return ioctl(g->d.fd, KVIO_IOMMU_BIND, &b);
}

/* The errno of ioctl @req on @fd in a child (not the owner); 0 if none. */
static int errno_in_child(int fd, unsigned long req, void *arg)
{
	pid_t pid = fork();
	int st;

	if (!pid)
		_exit(ioctl(fd, req, arg) < 0 ? errno : 0);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int case_config(const struct kt_target *t)
{
	struct kvio_iommu_config c, want;
	struct rig g;

	KT_TRY(rig_open(&g, t, FEAT));
	memset(&c, 0xff, sizeof(c));
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_GET_CONFIG, &c));
	/* The defaults: 4 KiB pages, all IOVAs and domain IDs, 512, 64k. */
	memset(&want, 0, sizeof(want));
	want.version = KVIO_IOMMU_CONFIG_VERSION;
	want.page_size_mask = PAGE;
	want.input_end = ~0ULL;
	want.domain_end = ~0U;
	want.probe_size = PROBE_SIZE;
	want.max_mappings = 65536;
	KT_ASSERT(!memcmp(&c, &want, sizeof(c)), "defaults differ");

	/* Each bad field alone: EINVAL, and nothing changes. */
	c = want;
	c.version = 2;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	c = want;
	c.flags = 1;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	c = want;
	c.reserved[6] = 1;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	c = want;
	c.page_size_mask = 0x800 | 0x1000;	/* a 2 KiB granule */
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	c = want;
	c.input_start = 0x2000;
	c.input_end = 0x1fff;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	c = want;
	c.domain_start = 9;
	c.domain_end = 8;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	c = want;
	c.probe_size = 8192;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	c = want;
	c.probe_size = 16;	/* smaller than the MSI region's property */
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	c = want;
	c.max_mappings = (1U << 20) + 1;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	c = want;
	c.bypass = 2;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_GET_CONFIG, &c));
	KT_ASSERT(!memcmp(&c, &want, sizeof(c)), "a refused SET changed it");

	/* A good one, with 2 MiB pages as a hint: granule 4 KiB still. */
	c = want;
	c.page_size_mask = PAGE | (2ULL << 20);
	c.input_start = 0x10000;
	c.input_end = 0xffffffffffULL;
	c.domain_start = 1;
	c.domain_end = 100;
	c.bypass = 1;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_GET_CONFIG, &want));
	KT_ASSERT(!memcmp(&c, &want, sizeof(c)), "GET is not what SET gave");

	/* Another process than the owner. */
	KT_ASSERT(errno_in_child(g.d.fd, KVIO_IOMMU_GET_CONFIG, &c) == EPERM,
		  "GET_CONFIG from a non-owner is not EPERM");
	rig_close(&g);
	return KT_PASS;
}

static int case_endpoints(const struct kt_target *t)
{
	struct kvio_iommu_endpoint u = { .endpoint = 99 };
	long net0 = kt_module_refcnt("kvio_net");
	int net, net2, net3, efd;
	struct rig g, g2;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, bind_ep(&g, 1, -1));
	KT_ERRNO(EEXIST, bind_ep(&g, 1, -1));
	KT_ERRNO(EBADF, bind_ep(&g, 2, 1000));
	efd = eventfd(0, EFD_CLOEXEC);
	KT_ERRNO(EINVAL, bind_ep(&g, 2, efd));	/* not a kvio device */
	KT_ERRNO(EINVAL, bind_ep(&g, 2, g.d.fd));	/* the IOMMU itself */
	net = open("/dev/kvio-net", O_RDWR | O_CLOEXEC);
	if (net >= 0) {
		KT_ERRNO(0, bind_ep(&g, 2, net));
		/* One device, one endpoint. */
		KT_ERRNO(EBUSY, bind_ep(&g, 3, net));
		KT_ERRNO(EBUSY, bind_ep(&g, 2, net));
		/* Nor behind another vIOMMU (another open) at the same time. */
		KT_TRY(rig_open(&g2, t, FEAT));
		KT_ERRNO(EBUSY, bind_ep(&g2, 2, net));
		/* A second device joins an endpoint of kvio devices... */
		net2 = open("/dev/kvio-net", O_RDWR | O_CLOEXEC);
		KT_ASSERT(net2 >= 0, "a second kvio-net: %s", kt_errname(errno));
		KT_ERRNO(0, bind_ep(&g, 2, net2));
		KT_ERRNO(EBUSY, bind_ep(&g, 3, net2));
		/* ...but not one bound with fd -1, nor fd -1 theirs. */
		net3 = open("/dev/kvio-net", O_RDWR | O_CLOEXEC);
		KT_ASSERT(net3 >= 0, "a third kvio-net: %s", kt_errname(errno));
		KT_ERRNO(EEXIST, bind_ep(&g, 1, net3));
		KT_ERRNO(EEXIST, bind_ep(&g, 2, -1));
		/* A refused join gave its claim back: the other vIOMMU's now. */
		KT_ERRNO(0, bind_ep(&g2, 9, net3));
		close(net3);	/* the other vIOMMU holds it */
		close(net2);	/* the endpoint holds the device */
		/* Every bound file held, no more. */
		KT_ASSERT(kt_module_refcnt("kvio_net") == net0 + 3,
			  "kvio_net refcnt %ld, want %ld: the endpoint's two devices and the other's one held, no more",
			  kt_module_refcnt("kvio_net"), net0 + 3);
		u.endpoint = 2;
		KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_UNBIND, &u));
		/* UNBIND released both: net2's file went, net is ours alone... */
		KT_ASSERT(kt_module_refcnt("kvio_net") == net0 + 2,
			  "kvio_net refcnt %ld after UNBIND, want %ld",
			  kt_module_refcnt("kvio_net"), net0 + 2);
		/* ...and free for the other vIOMMU, which releases it on close. */
		KT_ERRNO(0, bind_ep(&g2, 2, net));
		close(net);
		rig_close(&g2);
		KT_ASSERT(kt_module_refcnt("kvio_net") == net0,
			  "kvio_net refcnt %ld after the other vIOMMU closed, want %ld",
			  kt_module_refcnt("kvio_net"), net0);
		u.endpoint = 99;
	} else {
		kt_diag("no /dev/kvio-net (%s): kvio device endpoints not tried",
			kt_errname(errno));
	}
	KT_ERRNO(ENOENT, ioctl(g.d.fd, KVIO_IOMMU_UNBIND, &u));
	u.endpoint = 1;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_UNBIND, &u));
	KT_ERRNO(ENOENT, ioctl(g.d.fd, KVIO_IOMMU_UNBIND, &u));
	/* Unbound, the ID is free again. */
	KT_ERRNO(0, bind_ep(&g, 1, -1));
	close(efd);
	rig_close(&g);
	return KT_PASS;
}

static int case_attach(const struct kt_target *t)
{
	struct virtio_iommu_req_detach d;
	struct virtio_iommu_req_attach a;
	struct kvio_iommu_config c;
	struct rig g;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_GET_CONFIG, &c));
	c.domain_start = 1;
	c.domain_end = 1000;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	KT_ERRNO(0, bind_ep(&g, 7, -1));
	KT_ERRNO(0, bind_ep(&g, 8, -1));

	EXPECT(&g, kt_iommu_attach_req(1, 6, 0), S_NOENT);
	EXPECT(&g, kt_iommu_attach_req(1001, 7, 0), S_RANGE);
	EXPECT(&g, kt_iommu_attach_req(0, 7, 0), S_RANGE);
	EXPECT(&g, kt_iommu_attach_req(1, 7, 2), S_INVAL);	/* unknown flag */
	a = kt_iommu_attach_req(1, 7, 0);
	a.reserved[3] = 1;
	EXPECT(&g, a, S_INVAL);
	EXPECT(&g, kt_iommu_attach_req(1, 7, 0), S_OK);
	EXPECT(&g, kt_iommu_attach_req(1, 7, 0), S_OK);	/* again: nothing changes */
	EXPECT(&g, kt_iommu_map_req(1, 0x10000, 0x1ffff, 0x100000, RW), S_OK);
	/* A bypass ATTACH to a mapping domain, and the other way round. */
	EXPECT(&g, kt_iommu_attach_req(1, 8, VIRTIO_IOMMU_ATTACH_F_BYPASS), S_INVAL);
	EXPECT(&g, kt_iommu_attach_req(2, 8, VIRTIO_IOMMU_ATTACH_F_BYPASS), S_OK);
	EXPECT(&g, kt_iommu_attach_req(2, 7, 0), S_INVAL);
	/* The refused ATTACH left endpoint 7 where it was (domain 1). */
	EXPECT(&g, kt_iommu_detach_req(1, 7), S_OK);
	/* Its last endpoint gone, domain 1 went with its mapping. */
	EXPECT(&g, kt_iommu_map_req(1, 0x10000, 0x1ffff, 0x100000, RW), S_NOENT);
	EXPECT(&g, kt_iommu_attach_req(1, 7, 0), S_OK);
	EXPECT(&g, kt_iommu_map_req(1, 0x10000, 0x1ffff, 0x100000, RW), S_OK);
	/* A bypass domain has no mappings to change. */
	EXPECT(&g, kt_iommu_map_req(2, 0x10000, 0x1ffff, 0x100000, RW), S_INVAL);
	EXPECT(&g, kt_iommu_unmap_req(2, 0, ~0ULL), S_INVAL);
	/* ATTACH elsewhere moves the endpoint: domain 1 is left empty. */
	EXPECT(&g, kt_iommu_attach_req(3, 7, 0), S_OK);
	EXPECT(&g, kt_iommu_map_req(1, 0x10000, 0x1ffff, 0x100000, RW), S_NOENT);
	EXPECT(&g, kt_iommu_detach_req(1, 7), S_INVAL);	/* not attached there */
	EXPECT(&g, kt_iommu_detach_req(3, 6), S_NOENT);	/* no such endpoint */
	d = kt_iommu_detach_req(3, 7);
	d.reserved[7] = 1;
	EXPECT(&g, d, S_INVAL);			/* and still attached: */
	EXPECT(&g, kt_iommu_detach_req(3, 7), S_OK);
	EXPECT(&g, kt_iommu_detach_req(3, 7), S_INVAL);
	/* KVIO_IOMMU_RESET: domains gone, endpoints still bound. */
	EXPECT(&g, kt_iommu_attach_req(4, 7, 0), S_OK);
	EXPECT(&g, kt_iommu_map_req(4, 0x10000, 0x1ffff, 0x100000, RW), S_OK);
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_RESET));
	EXPECT(&g, kt_iommu_map_req(4, 0x10000, 0x1ffff, 0x100000, RW), S_NOENT);
	EXPECT(&g, kt_iommu_attach_req(4, 7, 0), S_OK);
	EXPECT(&g, kt_iommu_map_req(4, 0x10000, 0x1ffff, 0x100000, RW), S_OK);
	rig_close(&g);
	return KT_PASS;
}

static int case_bypass_feature(const struct kt_target *t)
{
	struct rig g;

	/* Without BYPASS_CONFIG negotiated the flag is not the guest's. */
	KT_TRY(rig_open(&g, t, FEAT_BASE));
	KT_ERRNO(0, bind_ep(&g, 1, -1));
	EXPECT(&g, kt_iommu_attach_req(1, 1, VIRTIO_IOMMU_ATTACH_F_BYPASS), S_INVAL);
	EXPECT(&g, kt_iommu_attach_req(1, 1, 0), S_OK);
	rig_close(&g);
	return KT_PASS;
}

static int case_map_unmap(const struct kt_target *t)
{
	const uint64_t M = 0x40000000ULL;
	struct kvio_iommu_config c;
	struct rig g;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_GET_CONFIG, &c));
	c.input_start = 0x1000;
	c.input_end = 0xffffffffffffULL;	/* 48 bits */
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	KT_ERRNO(0, bind_ep(&g, 1, -1));
	EXPECT(&g, kt_iommu_map_req(5, M, M + 0xfff, 0, RW), S_NOENT);
	EXPECT(&g, kt_iommu_attach_req(5, 1, 0), S_OK);

	/* Granule (4 KiB) alignment of start, end + 1 and phys. */
	EXPECT(&g, kt_iommu_map_req(5, M + 1, M + 0xfff, 0, RW), S_RANGE);
	EXPECT(&g, kt_iommu_map_req(5, M, M + 0xffe, 0, RW), S_RANGE);
	EXPECT(&g, kt_iommu_map_req(5, M, M + 0xfff, 0x800, RW), S_RANGE);
	EXPECT(&g, kt_iommu_map_req(5, M + PAGE, M + 0xfff, 0, RW), S_RANGE);
	/* Outside the input range, at either end. */
	EXPECT(&g, kt_iommu_map_req(5, 0, 0xfff, 0, RW), S_RANGE);
	EXPECT(&g, kt_iommu_map_req(5, 0xfffffffff000ULL, 0x1000000000fffULL, 0, RW),
	       S_RANGE);
	/* Flags: MMIO was not offered; none at all. */
	EXPECT(&g, kt_iommu_map_req(5, M, M + 0xfff, 0, VIRTIO_IOMMU_MAP_F_MMIO | RW),
	       S_INVAL);
	EXPECT(&g, kt_iommu_map_req(5, M, M + 0xfff, 0, 8 | RW), S_INVAL);
	EXPECT(&g, kt_iommu_map_req(5, M, M + 0xfff, 0, 0), S_INVAL);
	/* The MSI window is reserved. */
	EXPECT(&g, kt_iommu_map_req(5, 0xfee00000, 0xfee00fff, 0, RW), S_INVAL);
	EXPECT(&g, kt_iommu_map_req(5, 0xfe000000, 0xfeffffff, 0, RW), S_INVAL);

	/* Three pages, read-only, write-only, both; then overlaps. */
	EXPECT(&g, kt_iommu_map_req(5, M, M + 0xfff, 0x100000,
			   VIRTIO_IOMMU_MAP_F_READ), S_OK);
	EXPECT(&g, kt_iommu_map_req(5, M + PAGE, M + 0x1fff, 0x200000,
			   VIRTIO_IOMMU_MAP_F_WRITE), S_OK);
	EXPECT(&g, kt_iommu_map_req(5, M + 2 * PAGE, M + 0x4fff, 0x300000, RW), S_OK);
	EXPECT(&g, kt_iommu_map_req(5, M, M + 0xfff, 0x100000, RW), S_INVAL);
	EXPECT(&g, kt_iommu_map_req(5, M + 0x4000, M + 0x5fff, 0, RW), S_INVAL);
	EXPECT(&g, kt_iommu_map_req(5, M - PAGE, M + 0x8fff, 0, RW), S_INVAL);
	/* UNMAP that would split the last one: RANGE, and it stays. */
	EXPECT(&g, kt_iommu_unmap_req(5, M + 2 * PAGE, M + 0x2fff), S_RANGE);
	EXPECT(&g, kt_iommu_unmap_req(5, M + 0x3000, M + 0x7fff), S_RANGE);
	EXPECT(&g, kt_iommu_map_req(5, M + 0x4000, M + 0x4fff, 0, RW), S_INVAL);
	/* Whole mappings and holes around them: OK, all gone. */
	EXPECT(&g, kt_iommu_unmap_req(5, M - 0x10000, M + 0x1fff), S_OK);
	EXPECT(&g, kt_iommu_map_req(5, M, M + 0x1fff, 0x100000, RW), S_OK);
	EXPECT(&g, kt_iommu_unmap_req(5, 0, ~0ULL), S_OK);
	EXPECT(&g, kt_iommu_unmap_req(5, 0, ~0ULL), S_OK);	/* nothing left: OK */
	EXPECT(&g, kt_iommu_map_req(5, M + 2 * PAGE, M + 0x4fff, 0x300000, RW), S_OK);
	/* end < start; reserved bytes set. */
	EXPECT(&g, kt_iommu_unmap_req(5, M + PAGE, M), S_RANGE);
	{
		struct virtio_iommu_req_unmap u = kt_iommu_unmap_req(5, 0, ~0ULL);

		u.reserved[0] = 1;
		EXPECT(&g, u, S_INVAL);
	}
	/* Identity as Linux builds it: everything but the reserved window. */
	KT_ERRNO(0, bind_ep(&g, 2, -1));
	c.input_start = 0;
	c.input_end = ~0ULL;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	EXPECT(&g, kt_iommu_attach_req(6, 2, 0), S_OK);
	EXPECT(&g, kt_iommu_map_req(6, 0, 0xfedfffffULL, 0, RW), S_OK);
	EXPECT(&g, kt_iommu_map_req(6, 0xfef00000ULL, ~0ULL, 0xfef00000ULL, RW), S_OK);
	/* Its translation would pass 2^64. */
	EXPECT(&g, kt_iommu_unmap_req(6, 0xfef00000ULL, ~0ULL), S_OK);
	EXPECT(&g, kt_iommu_map_req(6, 0xfef00000ULL, ~0ULL, 0xfef01000ULL, RW),
	       S_RANGE);
	rig_close(&g);
	return KT_PASS;
}

static int case_limit(const struct kt_target *t)
{
	struct kvio_iommu_config c;
	struct rig g;
	uint64_t i;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_GET_CONFIG, &c));
	c.max_mappings = 8;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	KT_ERRNO(0, bind_ep(&g, 1, -1));
	EXPECT(&g, kt_iommu_attach_req(1, 1, 0), S_OK);
	for (i = 0; i < 8; i++)
		EXPECT(&g, kt_iommu_map_req(1, i << 20, (i << 20) + 0xfff, 0, RW), S_OK);
	EXPECT(&g, kt_iommu_map_req(1, 8 << 20, (8 << 20) + 0xfff, 0, RW), S_NOMEM);
	EXPECT(&g, kt_iommu_unmap_req(1, 0, 0xfff), S_OK);
	EXPECT(&g, kt_iommu_map_req(1, 8 << 20, (8 << 20) + 0xfff, 0, RW), S_OK);
	rig_close(&g);
	return KT_PASS;
}

/* A PROBE request: readable head + endpoint + reserved[64]. */
static int probe(struct rig *g, uint32_t ep, size_t wr)
{
	struct virtio_iommu_req_probe p = {
		.head.type = VIRTIO_IOMMU_T_PROBE, .endpoint = ep,
	};

	KT_TRY(queue_req(g, &p, sizeof(p), wr));
	return run_queued(g);
}

static int case_probe(const struct kt_target *t)
{
	struct kvio_iommu_resv r = {
		.start = 0x80000000, .end = 0x8fffffff,
		.subtype = VIRTIO_IOMMU_RESV_MEM_T_RESERVED,
	};
	struct virtio_iommu_probe_resv_mem *m;
	struct kvio_iommu_config c;
	uint8_t *w;
	struct rig g;
	size_t i;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, bind_ep(&g, 3, -1));
	/* Regions: bad subtype, reserved bytes, inverted, overlaps, 2nd MSI. */
	r.subtype = 2;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_ADD_RESV, &r));
	r.subtype = VIRTIO_IOMMU_RESV_MEM_T_RESERVED;
	r.reserved[0] = 1;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_ADD_RESV, &r));
	r.reserved[0] = 0;
	r.end = r.start - 1;
	KT_ERRNO(EINVAL, ioctl(g.d.fd, KVIO_IOMMU_ADD_RESV, &r));
	r.end = 0xfee00000;
	KT_ERRNO(EEXIST, ioctl(g.d.fd, KVIO_IOMMU_ADD_RESV, &r));
	r.end = 0x8fffffff;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_ADD_RESV, &r));
	r.start = 0x90000000;
	r.end = 0x90000fff;
	r.subtype = VIRTIO_IOMMU_RESV_MEM_T_MSI;
	KT_ERRNO(EEXIST, ioctl(g.d.fd, KVIO_IOMMU_ADD_RESV, &r));

	KT_TRY(probe(&g, 3, PROBE_SIZE + TAIL));
	KT_ASSERT(g.used_len[0] == PROBE_SIZE + TAIL, "used length %u",
		  g.used_len[0]);
	KT_ASSERT(g.status[0] == S_OK, "status %u", g.status[0]);
	w = slot_wr(&g, 0);
	m = (void *)w;
	KT_ASSERT(m[0].head.type == VIRTIO_IOMMU_PROBE_T_RESV_MEM &&
		  m[0].head.length == sizeof(*m) - 4 &&
		  m[0].subtype == VIRTIO_IOMMU_RESV_MEM_T_MSI &&
		  m[0].start == 0xfee00000 && m[0].end == 0xfeefffff,
		  "first property is not the MSI window");
	KT_ASSERT(m[1].head.type == VIRTIO_IOMMU_PROBE_T_RESV_MEM &&
		  m[1].subtype == VIRTIO_IOMMU_RESV_MEM_T_RESERVED &&
		  m[1].start == 0x80000000 && m[1].end == 0x8fffffff,
		  "second property is not the added region");
	for (i = 2 * sizeof(*m); i < PROBE_SIZE; i++)
		KT_ASSERT(!w[i], "byte %zu after the properties is %#x", i,
			  w[i]);
	/* A MAP over the added region is refused too. */
	EXPECT(&g, kt_iommu_attach_req(1, 3, 0), S_OK);
	EXPECT(&g, kt_iommu_map_req(1, 0x8ffff000, 0x90000fff, 0, RW), S_INVAL);

	/* Unknown endpoint: NOENT, still the full length. */
	KT_TRY(probe(&g, 4, PROBE_SIZE + TAIL));
	KT_ASSERT(g.used_len[0] == PROBE_SIZE + TAIL && g.status[0] == S_NOENT,
		  "unknown endpoint: used %u status %u", g.used_len[0],
		  g.status[0]);
	/* No room for probe_size: INVAL in the last 4 bytes, no property. */
	KT_TRY(probe(&g, 3, 100));
	KT_ASSERT(g.used_len[0] == 100 && g.status[0] == S_INVAL,
		  "short buffer: used %u status %u", g.used_len[0],
		  g.status[0]);
	KT_ASSERT(slot_wr(&g, 0)[0] == 0xa5, "a property was written");
	/* probe_size follows the configuration. */
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_GET_CONFIG, &c));
	c.probe_size = 48;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	KT_TRY(probe(&g, 3, 48 + TAIL));
	KT_ASSERT(g.used_len[0] == 48 + TAIL && g.status[0] == S_OK,
		  "probe_size 48: used %u status %u", g.used_len[0],
		  g.status[0]);
	/* Two regions fill 48 bytes: a third has no room. */
	r.start = 0xa0000000;
	r.end = 0xa0000fff;
	r.subtype = VIRTIO_IOMMU_RESV_MEM_T_RESERVED;
	KT_ERRNO(ENOSPC, ioctl(g.d.fd, KVIO_IOMMU_ADD_RESV, &r));
	rig_close(&g);

	/* Without F_PROBE negotiated: nothing written, used length 0. */
	KT_TRY(rig_open(&g, t, FEAT_BASE));
	KT_ERRNO(0, bind_ep(&g, 3, -1));
	KT_TRY(probe(&g, 3, PROBE_SIZE + TAIL));
	KT_ASSERT(g.used_len[0] == 0 && slot_wr(&g, 0)[0] == 0xa5,
		  "PROBE without F_PROBE: used %u", g.used_len[0]);
	rig_close(&g);
	return KT_PASS;
}

static int case_malformed(const struct kt_target *t)
{
	struct virtio_iommu_req_map m = kt_iommu_map_req(1, 0, 0xfff, 0, RW);
	struct virtio_iommu_req_head h = { .type = 0x42 };
	struct rig g;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, bind_ep(&g, 1, -1));
	/* Unknown type: nothing written, used length 0 (5.13.6.1). */
	KT_TRY(queue_req(&g, &h, sizeof(h), TAIL));
	/* No device-writable part: no tail to answer in. */
	KT_TRY(queue_req(&g, &m, offsetof(typeof(m), tail), 0));
	/* A MAP cut short: INVAL in its tail. */
	KT_TRY(queue_req(&g, &m, 20, TAIL));
	/* A tail longer than 4 bytes: status in the first byte, used 4. */
	KT_TRY(queue_req(&g, &m, offsetof(typeof(m), tail), 64));
	KT_TRY(run_queued(&g));
	KT_ASSERT(g.used_len[0] == 0 && slot_wr(&g, 0)[0] == 0xa5,
		  "unknown type: used %u", g.used_len[0]);
	KT_ASSERT(g.used_len[1] == 0, "no tail: used %u", g.used_len[1]);
	KT_ASSERT(g.used_len[2] == TAIL && g.status[2] == S_INVAL,
		  "short MAP: used %u status %u", g.used_len[2], g.status[2]);
	/* Domain 1 does not exist (no ATTACH): NOENT, not INVAL. */
	KT_ASSERT(g.used_len[3] == TAIL && g.status[3] == S_NOENT &&
		  slot_wr(&g, 3)[4] == 0xa5,
		  "long tail: used %u status %u", g.used_len[3], g.status[3]);
	/* The device still serves. */
	EXPECT(&g, kt_iommu_attach_req(1, 1, 0), S_OK);
	rig_close(&g);
	return KT_PASS;
}

/*
 * Batches: BATCH MAPs in one kick complete in ring order with a handful
 * of interrupts (one per handler run, not one per request).
 */
static int case_batch(const struct kt_target *t)
{
	struct rig g;
	uint64_t calls;
	unsigned int i;
	long deadline;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, bind_ep(&g, 1, -1));
	EXPECT(&g, kt_iommu_attach_req(1, 1, 0), S_OK);
	kt_eventfd_drain(g.d.vq[0].call);
	for (i = 0; i < BATCH; i++) {
		struct virtio_iommu_req_map m =
			kt_iommu_map_req(1, (uint64_t)i << 12, ((uint64_t)i << 12) + 0xfff,
				0x100000, RW);

		KT_TRY(queue_req(&g, &m, offsetof(typeof(m), tail), TAIL));
	}
	/*
	 * Wait for the used index without reading the call eventfd (as
	 * run_queued() would), so its count is every interrupt sent.
	 */
	kt_vq_kick(&g.d.vq[0]);
	for (deadline = kt_deadline(5000);
	     kt_vq_used_pending(&g.d.vq[0]) < BATCH && kt_now_ms() < deadline;)
		kt_sleep_ms(1);
	KT_ASSERT(kt_vq_used_pending(&g.d.vq[0]) == BATCH,
		  "%u of %u completed", kt_vq_used_pending(&g.d.vq[0]), BATCH);
	calls = kt_eventfd_drain(g.d.vq[0].call);
	g.queued = 0;
	for (i = 0; i < BATCH; i++) {
		uint32_t id, len;
		uint64_t tok;

		KT_ASSERT(kt_vq_get_used(&g.d.vq[0], &id, &len, &tok) == 1);
		KT_ASSERT(tok == i, "request %u completed as the %u-th",
			  (unsigned int)tok, i);
		g.used_len[i] = len;
		g.status[i] = slot_wr(&g, i)[0];
	}
	for (i = 0; i < BATCH; i++)
		KT_ASSERT(g.status[i] == S_OK && g.used_len[i] == TAIL,
			  "MAP %u: status %u used %u", i, g.status[i],
			  g.used_len[i]);
	kt_diag("%u requests, %llu interrupts", BATCH,
		(unsigned long long)calls);
	KT_ASSERT(calls >= 1 && calls <= 4, "%llu interrupts for one batch",
		  (unsigned long long)calls);
	rig_close(&g);
	return KT_PASS;
}

/* 64k mappings in one domain (the default limit), each page its own. */
/*
 * VHOST_SET_VRING_BUSYLOOP_TIMEOUT on the request ring: after answering,
 * the device watches the ring for a while (a Linux guest spins for each
 * answer and sends the next request at once), so a request added then is
 * served without a kick; once the time is up it waits for kicks again.
 */
static int case_busyloop(const struct kt_target *t)
{
	const unsigned int us = 200000 * kt_timeout_scale();
	struct vhost_vring_state st = { .index = 0, .num = us };
	struct virtio_iommu_req_map m;
	unsigned int i, served;
	uint32_t id, len;
	uint64_t tok;
	struct rig g;
	int r;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, bind_ep(&g, 1, -1));
	EXPECT(&g, kt_iommu_attach_req(1, 1, 0), S_OK);
	/*
	 * The guest and the device on CPUs of their own, as a vCPU and a
	 * worker are: a spinning worker that shares a CPU yields it (the
	 * guest wants it to add the request) and stops polling.
	 */
	r = kt_pin_apart(getpid());
	if (r != KT_PASS) {
		rig_close(&g);
		return r;
	}
	KT_ERRNO(0, ioctl(g.d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st));
	st.num = 0;
	KT_ERRNO(0, ioctl(g.d.fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &st));
	KT_ASSERT(st.num == us, "GET_VRING_BUSYLOOP_TIMEOUT: %u", st.num);
	/*
	 * Answered, then the device polls: the next one needs no kick.  A
	 * spinning worker also stops when its CPU is wanted (a kernel
	 * thread woken there, frequent on the debug kernel), and a request
	 * that comes after that waits for a kick: a few tries, one must be
	 * served unkicked (none is without the busy loop).
	 */
	for (i = 0, served = 0; i < 5 && !served; i++) {
		m = kt_iommu_map_req(1, 0x2000 * i, 0x2000 * i + 0xfff,
				     0x100000, RW);
		EXPECT(&g, m, S_OK);
		m = kt_iommu_map_req(1, 0x2000 * i + 0x1000,
				     0x2000 * i + 0x1fff, 0x100000, RW);
		KT_TRY(queue_req(&g, &m, offsetof(typeof(m), tail), TAIL));
		r = kt_vq_wait_used(&g.d.vq[0], &id, &len, &tok,
				    us / 1000 + 100);
		if (r == 1) {
			KT_ASSERT(len == TAIL && slot_wr(&g, 0)[0] == S_OK);
			g.queued = 0;
			served = i + 1;
		} else {
			KT_TRY(run_queued(&g));
		}
	}
	KT_ASSERT(served, "%u requests added while the device polls, not kicked, none served",
		  i);
	kt_diag("served without a kick at try %u", served);
	/* Time up: a request without a kick waits, one kick serves it. */
	kt_sleep_ms(2 * us / 1000);
	g.queued = 0;
	m = kt_iommu_map_req(1, 0x100000, 0x100fff, 0x100000, RW);
	KT_TRY(queue_req(&g, &m, offsetof(typeof(m), tail), TAIL));
	r = kt_vq_wait_used(&g.d.vq[0], &id, &len, &tok, 100);
	KT_ASSERT(r == 0, "served without a kick after the busy loop ended");
	KT_TRY(run_queued(&g));
	KT_ASSERT(g.status[0] == S_OK && g.used_len[0] == TAIL);
	rig_close(&g);
	return kt_unpin();
}

static int case_64k(const struct kt_target *t)
{
	const unsigned int total = 65536, batch = BATCH;
	unsigned int i = 0, n, k;
	struct rig g;
	long t0;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, bind_ep(&g, 1, -1));
	EXPECT(&g, kt_iommu_attach_req(1, 1, 0), S_OK);
	t0 = kt_now_ms();
	while (i < total) {
		n = total - i < batch ? total - i : batch;
		for (k = 0; k < n; k++) {
			uint64_t iova = (uint64_t)(i + k) << 13;
			struct virtio_iommu_req_map m =
				kt_iommu_map_req(1, iova, iova + 0xfff,
					(uint64_t)(i + k) << 12, RW);

			KT_TRY(queue_req(&g, &m, offsetof(typeof(m), tail),
					 TAIL));
		}
		KT_TRY(run_queued(&g));
		for (k = 0; k < n; k++)
			KT_ASSERT(g.status[k] == S_OK, "MAP %u: status %u",
				  i + k, g.status[k]);
		i += n;
	}
	kt_diag("%u MAPs in %ld ms", total, kt_now_ms() - t0);
	/* The limit; then a lookup deep in the tree: overlap found. */
	EXPECT(&g, kt_iommu_map_req(1, (uint64_t)total << 13,
			   ((uint64_t)total << 13) + 0xfff, 0, RW), S_NOMEM);
	EXPECT(&g, kt_iommu_map_req(1, 40000ULL << 13, (40000ULL << 13) + 0xfff, 0,
			   RW), S_INVAL);
	/* Every other page, one exact UNMAP each; then the rest at once. */
	EXPECT(&g, kt_iommu_unmap_req(1, 40000ULL << 13, (40000ULL << 13) + 0x1fff),
	       S_OK);
	EXPECT(&g, kt_iommu_map_req(1, 40000ULL << 13, (40000ULL << 13) + 0xfff, 0,
			   RW), S_OK);
	EXPECT(&g, kt_iommu_unmap_req(1, 0, ~0ULL), S_OK);
	EXPECT(&g, kt_iommu_map_req(1, 0, 0xfff, 0, RW), S_OK);
	rig_close(&g);
	return KT_PASS;
}

/* Closing the device with a batch in flight, endpoints and domains held. */
static int case_close_busy(const struct kt_target *t)
{
	struct rig g;
	unsigned int i;
	long ret;

	KT_TRY(rig_open(&g, t, FEAT));
	for (i = 0; i < 4; i++)
		KT_ERRNO(0, bind_ep(&g, i, -1));
	EXPECT(&g, kt_iommu_attach_req(1, 0, 0), S_OK);
	for (i = 0; i < BATCH; i++) {
		struct virtio_iommu_req_map m =
			kt_iommu_map_req(1, (uint64_t)i << 12, ((uint64_t)i << 12) + 0xfff,
				0, RW);

		KT_TRY(queue_req(&g, &m, offsetof(typeof(m), tail), TAIL));
	}
	kt_vq_kick(&g.d.vq[0]);
	KT_TRY(kt_close_timed("close with a batch in flight", 10000, g.d.fd,
			      &ret));
	g.d.fd = -1;
	rig_close(&g);
	return KT_PASS;
}

/* Posts @n event buffers of 24 bytes on the event ring and kicks. */
static int post_events(struct rig *g, unsigned int n, uint64_t *gpa)
{
	unsigned int i;

	*gpa = kt_mem_alloc(&g->d.mem, n * 32, 64);
	KT_ASSERT(*gpa, "guest memory");
	for (i = 0; i < n; i++) {
		struct kt_buf in = { *gpa + i * 32,
				     sizeof(struct virtio_iommu_fault) };

		KT_ASSERT(kt_vq_add(&g->d.vq[1], NULL, 0, &in, 1, false, i) >=
			  0);
	}
	kt_vq_kick(&g->d.vq[1]);
	return KT_PASS;
}

/* The next fault event, copied to @out. */
static int next_fault(struct rig *g, uint64_t events,
		      struct virtio_iommu_fault *out)
{
	struct virtio_iommu_fault *f;
	uint32_t id, len;
	uint64_t tok;

	KT_ASSERT(kt_vq_wait_used(&g->d.vq[1], &id, &len, &tok,
				  3000 * kt_timeout_scale()) == 1,
		  "no fault event");
	f = kt_gpa(&g->d.mem, events + tok * 32);
	KT_ASSERT(len == sizeof(*f), "event used length %u", len);
	kt_diag("fault: reason %u flags %#x endpoint %u address %#llx",
		f->reason, f->flags, f->endpoint,
		(unsigned long long)f->address);
	*out = *f;
	return KT_PASS;
}

/* The next fault event: reason, flags, endpoint, address as given. */
static int expect_fault(struct rig *g, uint64_t events, uint8_t reason,
			uint32_t flags, uint32_t ep, uint64_t addr)
{
	struct virtio_iommu_fault f;

	KT_TRY(next_fault(g, events, &f));
	KT_ASSERT(f.reason == reason && f.flags == flags &&
		  f.endpoint == ep && f.address == addr,
		  "want reason %u flags %#x endpoint %u address %#llx", reason,
		  flags, ep, (unsigned long long)addr);
	return KT_PASS;
}

/* A kvio-net endpoint (1) in domain 1, all guest RAM mapped at IOVA = GPA. */
struct net_ep {
	struct rig g;
	struct kt_net n;
};

/* As net_ep_open(), the vIOMMU with features @feat. */
static int net_ep_open_feat(struct net_ep *e, const struct kt_target *t,
			    uint64_t feat)
{
	static const struct kt_target net_t = { "/dev/kvio-net", "kvio-net",
						true };
	struct kt_net *n = &e->n;
	int r, i;

	KT_TRY(rig_open(&e->g, t, feat));
	r = kt_net_open_dev(n, &net_t, F(VIRTIO_F_VERSION_1) |
			    F(VIRTIO_F_ACCESS_PLATFORM), 0);
	if (r != KT_PASS)
		return r;
	KT_ERRNO(0, bind_ep(&e->g, 1, n->dev.fd));
	EXPECT(&e->g, kt_iommu_attach_req(1, 1, 0), S_OK);
	/* Rings and pools translate through this one mapping. */
	EXPECT(&e->g, kt_iommu_map_req(1, n->dev.mem.gpa,
				       n->dev.mem.gpa + n->dev.mem.size - 1,
				       n->dev.mem.gpa, RW), S_OK);
	for (i = 0; i < 2; i++)
		KT_ASSERT(kt_vq_setup(&n->dev, i, 64, 0) == 0, "ring %d", i);
	KT_ASSERT(kt_pool_init(&n->rxpool, &n->dev.mem, 64, 2048) == 0);
	KT_ASSERT(kt_pool_init(&n->txpool, &n->dev.mem, 64, KT_TX_BUF) == 0);
	return kt_net_attach(n);
}

static int net_ep_open(struct net_ep *e, const struct kt_target *t)
{
	return net_ep_open_feat(e, t, FEAT);
}

static void net_ep_close(struct net_ep *e)
{
	kt_net_close(&e->n);
	rig_close(&e->g);
}

/*
 * A kvio-net device behind the vIOMMU: with ACCESS_PLATFORM its buffer
 * addresses are IOVAs of its endpoint's domain.  A frame sent from IOVA
 * 0x40000000 (mapped to a guest page elsewhere) reaches the tap; once
 * unmapped, the next one does not: it is dropped (used, length 0), a
 * MAPPING fault (READ) for that IOVA reaches the event queue and the ring
 * goes on (mapped again, the next frame leaves).  RX into an unmapped IOVA:
 * dropped, a WRITE fault, the next buffer gets the next packet.  Detached,
 * the RX ring's first access (its descriptor table) is a DOMAIN fault.
 */
static int case_net_endpoint(const struct kt_target *t)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 1 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 2 };
	const uint64_t iova = 0x40000000ULL;
	const uint32_t rd = VIRTIO_IOMMU_FAULT_F_READ |
			    VIRTIO_IOMMU_FAULT_F_ADDRESS;
	const uint32_t wr = VIRTIO_IOMMU_FAULT_F_WRITE |
			    VIRTIO_IOMMU_FAULT_F_ADDRESS;
	uint8_t frame[256], got[256];
	struct kvio_iommu_stats st;
	struct virtio_iommu_fault f;
	uint64_t page, events, tok;
	unsigned int tx_faults = 0;
	struct net_ep e;
	struct kt_buf b, rb;
	uint32_t id, used;
	struct kt_net *n = &e.n;
	struct rig *g = &e.g;
	size_t len;

	KT_TRY(net_ep_open(&e, t));
	page = kt_mem_alloc(&n->dev.mem, PAGE, PAGE);
	KT_ASSERT(page, "guest memory");
	EXPECT(g, kt_iommu_map_req(1, iova, iova + PAGE - 1, page,
				   VIRTIO_IOMMU_MAP_F_READ), S_OK);
	KT_TRY(post_events(g, 6, &events));

	/* The frame (after a zeroed 12-byte header) at IOVA 0x40000000. */
	len = kt_frame_test(frame, dst, src, 100, 7);
	memset(kt_gpa(&n->dev.mem, page), 0, n->hdr_len);
	memcpy((uint8_t *)kt_gpa(&n->dev.mem, page) + n->hdr_len, frame, len);
	b.gpa = iova;
	b.len = n->hdr_len + len;
	KT_ASSERT(kt_vq_add(&n->dev.vq[KT_TXQ], &b, 1, NULL, 0, false, 1) >= 0);
	kt_vq_kick(&n->dev.vq[KT_TXQ]);
	KT_TRY(kt_expect_packet(n->psock, frame, len, 3000, "kttap0"));

	KT_ASSERT(kt_vq_wait_used(&n->dev.vq[KT_TXQ], &id, &used, &tok,
				  3000) == 1 && tok == 1 && used == 0,
		  "TX used entry");

	/*
	 * Unmapped: the same IOVA faults and that packet is dropped (used,
	 * length 0) with nothing on the tap; the ring goes on.
	 */
	EXPECT(g, kt_iommu_unmap_req(1, iova, iova + PAGE - 1), S_OK);
	KT_ASSERT(kt_vq_add(&n->dev.vq[KT_TXQ], &b, 1, NULL, 0, false, 2) >= 0);
	kt_vq_kick(&n->dev.vq[KT_TXQ]);
	KT_TRY(expect_fault(g, events, VIRTIO_IOMMU_FAULT_R_MAPPING, rd, 1,
			    iova));
	KT_ASSERT(kt_vq_wait_used(&n->dev.vq[KT_TXQ], &id, &used, &tok,
				  3000) == 1 && tok == 2 && used == 0,
		  "the faulting TX chain is not used (token %llu, len %u)",
		  (unsigned long long)tok, used);
	KT_ASSERT(kt_packet_recv(n->psock, got, sizeof(got), KT_ETH_P_TEST,
				 300) == 0, "a frame left from unmapped memory");
	KT_ASSERT(kt_wait_eventfd(n->dev.vq[KT_TXQ].err, 0) == 0,
		  "TX ring stopped for one unmapped buffer");
	/* Mapped again: the next frame from there goes out. */
	EXPECT(g, kt_iommu_map_req(1, iova, iova + PAGE - 1, page,
			   VIRTIO_IOMMU_MAP_F_READ), S_OK);
	KT_ASSERT(kt_vq_add(&n->dev.vq[KT_TXQ], &b, 1, NULL, 0, false, 3) >= 0);
	kt_vq_kick(&n->dev.vq[KT_TXQ]);
	KT_TRY(kt_expect_packet(n->psock, frame, len, 3000, "after remap"));

	/*
	 * RX into an IOVA with no mapping: the packet is dropped, the
	 * buffer used with length 0, a WRITE fault; the next buffer (mapped)
	 * gets the next packet.
	 */
	rb.gpa = iova + 0x10000;
	rb.len = 2048;
	KT_ASSERT(kt_vq_add(&n->dev.vq[KT_RXQ], NULL, 0, &rb, 1, false, 7) >=
		  0);
	kt_vq_kick(&n->dev.vq[KT_RXQ]);
	KT_ASSERT(kt_packet_send(n->psock, n->tap.ifindex, frame, len) == 0);
	KT_TRY(expect_fault(g, events, VIRTIO_IOMMU_FAULT_R_MAPPING, wr, 1,
			    rb.gpa));
	KT_ASSERT(kt_vq_wait_used(&n->dev.vq[KT_RXQ], &id, &used, &tok,
				  3000) == 1 && tok == 7 && used == 0,
		  "the faulting RX chain is not used (token %llu, len %u)",
		  (unsigned long long)tok, used);
	KT_ASSERT(kt_wait_eventfd(n->dev.vq[KT_RXQ].err, 0) == 0,
		  "RX ring stopped for one unmapped buffer");
	KT_ASSERT(kt_net_rx_post(n, 4, false) == 0);
	len = kt_frame_test(frame, src, dst, 120, 8);
	KT_ASSERT(kt_packet_send(n->psock, n->tap.ifindex, frame, len) == 0);
	KT_TRY(kt_net_expect_rx(n, frame, len, 3000, 0, NULL));

	/*
	 * Detached (bypass 0): the RX ring's first look is a DOMAIN fault at
	 * its descriptor table.  The TX ring, still going, faults the same
	 * way at its own table if its handler runs again meanwhile.
	 */
	EXPECT(g, kt_iommu_detach_req(1, 1), S_OK);
	KT_ASSERT(kt_packet_send(n->psock, n->tap.ifindex, frame, len) == 0);
	KT_TRY(next_fault(g, events, &f));
	if (f.address == n->dev.vq[KT_TXQ].desc_gpa) {
		tx_faults = 1;
		KT_TRY(next_fault(g, events, &f));
	}
	KT_ASSERT(f.reason == VIRTIO_IOMMU_FAULT_R_DOMAIN && f.flags == rd &&
		  f.endpoint == 1 && f.address == n->dev.vq[KT_RXQ].desc_gpa,
		  "want a DOMAIN fault at the RX descriptor table %#llx",
		  (unsigned long long)n->dev.vq[KT_RXQ].desc_gpa);
	KT_ERRNO(0, ioctl(g->d.fd, KVIO_IOMMU_GET_STATS, &st));
	/* The TX ring's fault may also come after the RX ring's. */
	KT_ASSERT(st.faults >= 3 + tx_faults && st.faults <= 4 &&
		  st.faults_dropped == 0,
		  "stats: %llu faults, %llu dropped",
		  (unsigned long long)st.faults,
		  (unsigned long long)st.faults_dropped);
	/* Bound, the VMM's own IOTLB messages are refused. */
	KT_ASSERT(kt_iotlb_msg(&n->dev, 1, VHOST_IOTLB_UPDATE, iova, PAGE,
			       (uintptr_t)kt_gpa(&n->dev.mem, page),
			       VHOST_ACCESS_RO) == -EBUSY,
		  "an IOTLB UPDATE to a bound device is not EBUSY");
	/* Unbound, the device is its own again (device IOTLB). */
	{
		struct kvio_iommu_endpoint u = { .endpoint = 1 };

		KT_ERRNO(0, ioctl(g->d.fd, KVIO_IOMMU_UNBIND, &u));
	}
	KT_ASSERT(kt_iotlb_msg(&n->dev, 1, VHOST_IOTLB_UPDATE, iova, PAGE,
			       (uintptr_t)kt_gpa(&n->dev.mem, page),
			       VHOST_ACCESS_RO) == 0,
		  "device IOTLB not back after UNBIND");
	net_ep_close(&e);
	return KT_PASS;
}

/*
 * The event ring used as Linux's driver does: it kicks only when the
 * device asked (avail_event with EVENT_IDX, else no NO_NOTIFY flag).  Two
 * faults, one event buffer: the second fault waits, and the device must
 * ask for a kick at the guest's next buffer, which then gets it.
 */
static int event_kick(const struct kt_target *t, uint64_t feat)
{
	struct kt_vq *ev;
	struct virtio_iommu_fault f;
	struct kvio_iommu_stats st;
	const uint64_t iova = 0x40000000ULL;
	uint64_t events, tok;
	uint32_t id, used;
	struct kt_buf b, in;
	struct net_ep e;
	struct kt_net *n = &e.n;
	struct rig *g = &e.g;
	unsigned int i;

	KT_TRY(net_ep_open_feat(&e, t, feat));
	ev = &g->d.vq[1];
	events = kt_mem_alloc(&g->d.mem, 2 * 32, 64);
	KT_ASSERT(events, "guest memory");
	in.gpa = events;
	in.len = sizeof(f);
	KT_ASSERT(kt_vq_add(ev, NULL, 0, &in, 1, false, 0) >= 0);
	kt_vq_kick(ev);
	/* Two frames from two IOVAs with no mapping: two MAPPING faults. */
	b.len = n->hdr_len + 60;
	for (i = 1; i <= 2; i++) {
		b.gpa = iova + (i - 1) * 0x10000;
		KT_ASSERT(kt_vq_add(&n->dev.vq[KT_TXQ], &b, 1, NULL, 0, false,
				    i) >= 0);
		kt_vq_kick(&n->dev.vq[KT_TXQ]);
		KT_ASSERT(kt_vq_wait_used(&n->dev.vq[KT_TXQ], &id, &used, &tok,
					  3000) == 1 && tok == i && used == 0,
			  "TX chain %u not dropped (token %llu, len %u)", i,
			  (unsigned long long)tok, used);
	}
	KT_TRY(next_fault(g, events, &f));
	/* The second is queued; let the event ring's handler find no buffer. */
	usleep(200000 * kt_timeout_scale());
	KT_ASSERT(kt_vq_used_pending(ev) == 0, "a second event without a buffer");
	in.gpa = events + 32;
	KT_ASSERT(kt_vq_add(ev, NULL, 0, &in, 1, false, 1) >= 0);
	KT_ASSERT(kt_vq_kick_needed(ev),
		  "the device did not ask for a kick at the next event buffer (avail_event %u, used flags %#x), with a fault waiting",
		  kt_vq_avail_event(ev), ev->used->flags);
	kt_vq_kick(ev);
	KT_TRY(expect_fault(g, events, VIRTIO_IOMMU_FAULT_R_MAPPING,
			    VIRTIO_IOMMU_FAULT_F_READ | VIRTIO_IOMMU_FAULT_F_ADDRESS,
			    1, iova + 0x10000));
	KT_ERRNO(0, ioctl(g->d.fd, KVIO_IOMMU_GET_STATS, &st));
	KT_ASSERT(st.faults == 2 && st.faults_dropped == 0,
		  "stats: %llu faults, %llu dropped",
		  (unsigned long long)st.faults,
		  (unsigned long long)st.faults_dropped);
	net_ep_close(&e);
	return KT_PASS;
}

static int case_event_kick(const struct kt_target *t)
{
	int r = event_kick(t, FEAT | F(VIRTIO_RING_F_EVENT_IDX));

	return r == KT_PASS ? event_kick(t, FEAT) : r;
}

/*
 * A child that sends @frame into the tap every @us microseconds until it
 * is stopped, the tap goes or the test process dies.
 */
static pid_t net_sender(struct kt_net *n, const void *frame, size_t len,
			unsigned int us)
{
	pid_t pid = fork();
	int fd, r;

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Only the packet socket: the devices' files are the parent's. */
	for (fd = 3; fd < 1024; fd++)
		if (fd != n->psock)
			close(fd);
	for (;;) {
		r = kt_packet_send_nowait(n->psock, n->tap.ifindex, frame, len);
		if (r && r != -EAGAIN && r != -ENOBUFS && r != -EINTR)
			_exit(0);
		usleep(us);
	}
}

static void net_sender_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/*
 * UNMAP racing RX: a child sends a 500-byte frame into the tap every
 * 100 us; each round maps 8 pages at IOVA 0x40000000, posts an RX buffer
 * in each, kicks, and 0-500 us later UNMAPs all 8, then writes a canary
 * into every page.  Each buffer must have been filled before the UNMAP
 * completed (used with the frame's length) or be used with length 0 (its
 * translation faulted, the packet dropped), and no canary may change.
 */
static int case_net_unmap_race(const struct kt_target *t)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 1 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 2 };
	const uint64_t iova = 0x40000000ULL;
	unsigned int round, i, filled = 0, faulted = 0;
	uint64_t pages, events, tok;
	uint8_t frame[600], *pg;
	uint32_t id, used;
	struct kt_vq *rx;
	struct net_ep e;
	size_t len;
	pid_t pid;

	KT_TRY(net_ep_open(&e, t));
	rx = &e.n.dev.vq[KT_RXQ];
	/* Fault events are not all read: the queue fills, then drops. */
	KT_TRY(post_events(&e.g, 8, &events));
	pages = kt_mem_alloc(&e.n.dev.mem, 8 * PAGE, PAGE);
	KT_ASSERT(pages, "guest memory");
	pg = kt_gpa(&e.n.dev.mem, pages);
	len = kt_frame_test(frame, dst, src, 500, 9);
	pid = net_sender(&e.n, frame, len, 100);
	KT_ASSERT(pid > 0, "fork: %s", kt_errname(errno));
	srand(4321);
	for (round = 0; round < 100; round++) {
		EXPECT(&e.g, kt_iommu_map_req(1, iova, iova + 8 * PAGE - 1,
					      pages, RW), S_OK);
		memset(pg, 0, 8 * PAGE);
		for (i = 0; i < 8; i++) {
			struct kt_buf b = { iova + i * PAGE, PAGE };

			KT_ASSERT(kt_vq_add(rx, NULL, 0, &b, 1, false, i) >= 0);
		}
		kt_vq_kick(rx);
		usleep(rand() % 500);
		EXPECT(&e.g, kt_iommu_unmap_req(1, iova, iova + 8 * PAGE - 1),
		       S_OK);
		memset(pg, 0xc3, 8 * PAGE);
		for (i = 0; i < 8; i++) {
			KT_ASSERT(kt_vq_wait_used(rx, &id, &used, &tok,
						  3000 * kt_timeout_scale()) == 1,
				  "round %u: %u of 8 RX buffers used", round,
				  i);
			KT_ASSERT(!used || used == e.n.hdr_len + len,
				  "round %u: buffer %u used length %u", round,
				  (unsigned int)tok, used);
			if (used)
				filled++;
			else
				faulted++;
		}
		for (i = 0; i < 8 * PAGE; i++)
			KT_ASSERT(pg[i] == 0xc3,
				  "round %u: byte %u of an unmapped page written",
				  round, i);
	}
	net_sender_stop(pid);
	kt_diag("%u buffers filled before their UNMAP, %u faulted after it",
		filled, faulted);
	/* Both outcomes seen: the UNMAP did fall among the packets. */
	KT_ASSERT(filled && faulted, "no race: %u filled, %u faulted", filled,
		  faulted);
	KT_ASSERT(kt_wait_eventfd(rx->err, 0) == 0, "RX ring stopped");
	net_ep_close(&e);
	return KT_PASS;
}

/* Traffic through @e's domain: RX buffers, a sender, 8 TX frames posted. */
static int net_ep_busy(struct net_ep *e, pid_t *pid)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 1 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 2 };
	uint8_t frame[1514];
	size_t len;
	int i;

	KT_ASSERT(kt_net_rx_post(&e->n, 32, false) == 0, "RX buffers");
	len = kt_frame_test(frame, src, dst, 1000, 3);
	*pid = net_sender(&e->n, frame, len, 50);
	KT_ASSERT(*pid > 0, "fork: %s", kt_errname(errno));
	len = kt_frame_test(frame, dst, src, 1400, 4);
	for (i = 0; i < 8; i++)
		KT_ASSERT(kt_net_tx(&e->n, frame, len, i & 1) >= 0, "TX %d", i);
	/* Let the traffic get going. */
	kt_sleep_ms(20);
	return KT_PASS;
}

/*
 * Teardown of a kvio-net endpoint with traffic in flight: closing the
 * vIOMMU (the device falls back to its own device IOTLB, empty: its rings
 * ask the VMM, a MISS message), closing the endpoint's fd (the vIOMMU
 * holds the device until UNBIND; UNMAP still completes), RESET_OWNER on
 * the endpoint (then UNMAP, UNBIND).  Nothing hangs; the debug kernel's
 * log says the rest.
 */
static int case_net_teardown(const struct kt_target *t)
{
	struct kvio_iommu_endpoint u = { .endpoint = 1 };
	struct vhost_iotlb_msg msg;
	struct net_ep e;
	long ret;
	pid_t pid;
	int r;

	/* The vIOMMU goes first. */
	KT_TRY(net_ep_open(&e, t));
	KT_TRY(net_ep_busy(&e, &pid));
	KT_TRY(kt_close_timed("close the vIOMMU with traffic in flight", 10000,
			      e.g.d.fd, &ret));
	e.g.d.fd = -1;
	kt_vq_kick(&e.n.dev.vq[KT_TXQ]);
	r = kt_iotlb_read(&e.n.dev, &msg, 3000 * kt_timeout_scale());
	KT_ASSERT(r == 1 && msg.type == VHOST_IOTLB_MISS,
		  "no IOTLB MISS from the device once the vIOMMU closed (%d, type %u)",
		  r, r == 1 ? msg.type : 0);
	net_sender_stop(pid);
	net_ep_close(&e);

	/* The endpoint's fd goes first: the vIOMMU still holds it. */
	KT_TRY(net_ep_open(&e, t));
	KT_TRY(net_ep_busy(&e, &pid));
	KT_TRY(kt_close_timed("close an attached endpoint", 10000, e.n.dev.fd,
			      &ret));
	e.n.dev.fd = -1;
	EXPECT(&e.g, kt_iommu_unmap_req(1, e.n.dev.mem.gpa,
					e.n.dev.mem.gpa + e.n.dev.mem.size - 1),
	       S_OK);
	KT_TRY(kt_ioctl_timed("UNBIND the closed endpoint", 10000, e.g.d.fd,
			      KVIO_IOMMU_UNBIND, &u, &ret));
	KT_ASSERT(ret == 0, "UNBIND: %s", kt_errname(errno));
	net_sender_stop(pid);
	/* Unbound, the closed device let its tap go. */
	KT_TRY(kt_net_tap_gone(&e.n, 3000 * kt_timeout_scale()));
	net_ep_close(&e);

	/* RESET_OWNER on the endpoint while attached. */
	KT_TRY(net_ep_open(&e, t));
	KT_TRY(net_ep_busy(&e, &pid));
	KT_TRY(kt_ioctl_timed("RESET_OWNER an attached endpoint", 10000,
			      e.n.dev.fd, VHOST_RESET_OWNER, NULL, &ret));
	KT_ASSERT(ret == 0, "RESET_OWNER: %s", kt_errname(errno));
	EXPECT(&e.g, kt_iommu_unmap_req(1, e.n.dev.mem.gpa,
					e.n.dev.mem.gpa + e.n.dev.mem.size - 1),
	       S_OK);
	KT_ERRNO(0, ioctl(e.g.d.fd, KVIO_IOMMU_UNBIND, &u));
	net_sender_stop(pid);
	net_ep_close(&e);
	return KT_PASS;
}

/*
 * Module references: a bound endpoint's file, held by the vIOMMU, keeps
 * kvio_net loaded after the VMM closed its own fd (rmmod refuses while
 * refcnt is above what it was); closing the vIOMMU with the endpoint
 * still bound lets both modules go back to where they were.
 */
static int case_module_refs(const struct kt_target *t)
{
	long net0 = kt_module_refcnt("kvio_net");
	long io0 = kt_module_refcnt("kvio_iommu");
	struct net_ep e;
	long ret, v;

	KT_ASSERT(net0 >= 0 && io0 >= 0, "no refcnt for kvio_net/kvio_iommu");
	KT_TRY(net_ep_open(&e, t));
	KT_ASSERT(kt_module_refcnt("kvio_iommu") == io0 + 1 &&
		  kt_module_refcnt("kvio_net") == net0 + 1,
		  "refcnt with both files open: kvio_iommu %ld (was %ld), kvio_net %ld (was %ld)",
		  kt_module_refcnt("kvio_iommu"), io0,
		  kt_module_refcnt("kvio_net"), net0);
	KT_TRY(kt_close_timed("close the bound endpoint's fd", 10000,
			      e.n.dev.fd, &ret));
	e.n.dev.fd = -1;
	v = kt_module_refcnt("kvio_net");
	KT_ASSERT(v == net0 + 1,
		  "kvio_net refcnt %ld once the VMM's fd closed, want %ld: the vIOMMU no longer holds its endpoint",
		  v, net0 + 1);
	KT_TRY(kt_close_timed("close the vIOMMU, endpoint bound", 10000,
			      e.g.d.fd, &ret));
	e.g.d.fd = -1;
	KT_ASSERT(kt_module_refcnt("kvio_iommu") == io0 &&
		  kt_module_refcnt("kvio_net") == net0,
		  "refcnt after both closed: kvio_iommu %ld (was %ld), kvio_net %ld (was %ld)",
		  kt_module_refcnt("kvio_iommu"), io0,
		  kt_module_refcnt("kvio_net"), net0);
	net_ep_close(&e);
	return KT_PASS;
}

/*
 * Bypass on and off for a kvio-net endpoint: the config's bypass lets an
 * unattached endpoint use guest-physical addresses, a bypass domain does
 * the same whatever the config says, and an endpoint in neither faults
 * (DOMAIN) on its first access.
 */
static int case_net_bypass(const struct kt_target *t)
{
	static const struct kt_target net_t = { "/dev/kvio-net", "kvio-net",
						true };
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 1 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 2 };
	const uint32_t rd = VIRTIO_IOMMU_FAULT_F_READ |
			    VIRTIO_IOMMU_FAULT_F_ADDRESS;
	struct kvio_iommu_config c;
	uint8_t frame[256], got[256];
	uint64_t events;
	struct kt_net n;
	struct rig g;
	size_t len;
	int r, i;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_GET_CONFIG, &c));
	c.bypass = 1;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	r = kt_net_open_dev(&n, &net_t, F(VIRTIO_F_VERSION_1) |
			    F(VIRTIO_F_ACCESS_PLATFORM), 0);
	if (r != KT_PASS)
		return r;
	KT_ERRNO(0, bind_ep(&g, 1, n.dev.fd));
	for (i = 0; i < 2; i++)
		KT_ASSERT(kt_vq_setup(&n.dev, i, 64, 0) == 0, "ring %d", i);
	KT_ASSERT(kt_pool_init(&n.txpool, &n.dev.mem, 64, KT_TX_BUF) == 0);
	KT_ASSERT(kt_pool_init(&n.rxpool, &n.dev.mem, 64, 2048) == 0);
	KT_TRY(kt_net_attach(&n));
	KT_TRY(post_events(&g, 2, &events));
	len = kt_frame_test(frame, dst, src, 100, 9);

	/* Not attached, bypass 1: IOVAs are guest-physical. */
	KT_ASSERT(kt_net_tx(&n, frame, len, false) >= 0);
	KT_TRY(kt_expect_packet(n.psock, frame, len, 3000, "bypass config"));
	KT_TRY(kt_net_tx_reap(&n, 1, 3000));
	/* A bypass domain, then the config's bypass off: still identity. */
	EXPECT(&g, kt_iommu_attach_req(9, 1, VIRTIO_IOMMU_ATTACH_F_BYPASS), S_OK);
	c.bypass = 0;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	KT_ASSERT(kt_net_tx(&n, frame, len, false) >= 0);
	KT_TRY(kt_expect_packet(n.psock, frame, len, 3000, "bypass domain"));
	KT_TRY(kt_net_tx_reap(&n, 1, 3000));
	/* Detached with bypass 0: nothing is reachable. */
	EXPECT(&g, kt_iommu_detach_req(9, 1), S_OK);
	KT_ASSERT(kt_net_tx(&n, frame, len, false) >= 0);
	KT_TRY(expect_fault(&g, events, VIRTIO_IOMMU_FAULT_R_DOMAIN, rd, 1,
			    n.dev.vq[KT_TXQ].desc_gpa));
	KT_ASSERT(kt_packet_recv(n.psock, got, sizeof(got), KT_ETH_P_TEST,
				 300) == 0, "a frame left a blocked endpoint");
	kt_net_close(&n);
	rig_close(&g);
	return KT_PASS;
}

/*
 * A virtio-blk chain of our own layout on ring 0 of @b: header (slot @slot
 * of the ring's header area), @len data bytes at @data (readable for OUT,
 * writable for IN), one status byte at @status; published (not kicked).
 */
/*
 * A kvio-blk device behind the vIOMMU: an OUT from IOVA 0x40000000 lands in
 * the backing file; once unmapped, the same request is IOERR (used length
 * 1) with a READ fault and the file keeps its bytes; an IN into a read-only
 * mapping is IOERR with a WRITE fault and the page keeps its bytes; a
 * status byte outside the domain: used with length 0, nothing written
 * anywhere.  The ring goes on after each, never broken.
 */
static int case_blk_endpoint(const struct kt_target *t)
{
	static const struct kt_target blk_t = { KT_BLK_DEV, "kvio-blk", true };
	const uint64_t iova = 0x40000000ULL, ro = iova + 0x10000;
	const uint32_t rd = VIRTIO_IOMMU_FAULT_F_READ |
			    VIRTIO_IOMMU_FAULT_F_ADDRESS;
	const uint32_t wr = VIRTIO_IOMMU_FAULT_F_WRITE |
			    VIRTIO_IOMMU_FAULT_F_ADDRESS;
	uint8_t want[PAGE], got[PAGE], zero[PAGE] = { 0 };
	uint64_t page, ro_page, events, st;
	struct kt_blk b;
	struct rig g;
	int fd, r;

	KT_TRY(rig_open(&g, t, FEAT));
	r = kt_blk_open(&b, &blk_t, F(VIRTIO_F_VERSION_1) |
			F(VIRTIO_F_ACCESS_PLATFORM), 1, 16, PAGE, false);
	if (r != KT_PASS)
		return r;
	fd = kt_blk_tmpfile(1 << 20, 0, 0);
	KT_ASSERT(fd >= 0, "backing file: %s", kt_errname(-fd));
	KT_ERRNO(0, bind_ep(&g, 2, b.d.fd));
	EXPECT(&g, kt_iommu_attach_req(2, 2, 0), S_OK);
	EXPECT(&g, kt_iommu_map_req(2, b.d.mem.gpa, b.d.mem.gpa + b.d.mem.size - 1,
			   b.d.mem.gpa, RW), S_OK);
	page = kt_mem_alloc(&b.d.mem, PAGE, PAGE);
	ro_page = kt_mem_alloc(&b.d.mem, PAGE, PAGE);
	KT_ASSERT(page && ro_page, "guest memory");
	EXPECT(&g, kt_iommu_map_req(2, iova, iova + PAGE - 1, page,
			   VIRTIO_IOMMU_MAP_F_READ), S_OK);
	EXPECT(&g, kt_iommu_map_req(2, ro, ro + PAGE - 1, ro_page,
			   VIRTIO_IOMMU_MAP_F_READ), S_OK);
	KT_ERRNO(0, kt_blk_backend(&b, fd));
	KT_TRY(post_events(&g, 4, &events));
	st = b.q[0].status_gpa;

	/* Mapped: the data at IOVA 0x40000000 reaches the file. */
	kt_fill_pattern(want, PAGE, 41);
	memcpy(kt_gpa(&b.d.mem, page), want, PAGE);
	*kt_blk_status(&b, 0, 0) = 0xee;
	KT_ASSERT(kt_blk_chain(&b, 0, VIRTIO_BLK_T_OUT, 8, iova, PAGE, st) == 1 &&
		  *kt_blk_status(&b, 0, 0) == VIRTIO_BLK_S_OK, "mapped OUT");
	KT_ASSERT(kt_pread_all(fd, got, PAGE, 8 * 512) == 0 &&
		  !memcmp(got, want, PAGE), "the file lacks the OUT's bytes");

	/* Unmapped: IOERR, a READ fault, the file untouched. */
	EXPECT(&g, kt_iommu_unmap_req(2, iova, iova + PAGE - 1), S_OK);
	*kt_blk_status(&b, 0, 1) = 0xee;
	KT_ASSERT(kt_blk_chain(&b, 1, VIRTIO_BLK_T_OUT, 16, iova, PAGE,
			    st + 1) == 1 &&
		  *kt_blk_status(&b, 0, 1) == VIRTIO_BLK_S_IOERR,
		  "OUT from an unmapped IOVA: want IOERR, used length 1");
	KT_TRY(expect_fault(&g, events, VIRTIO_IOMMU_FAULT_R_MAPPING, rd, 2,
			    iova));
	KT_ASSERT(kt_pread_all(fd, got, PAGE, 16 * 512) == 0 &&
		  !memcmp(got, zero, PAGE), "an unmapped OUT wrote the file");

	/* IN into a read-only mapping: IOERR, a WRITE fault, page intact. */
	memset(kt_gpa(&b.d.mem, ro_page), 0x5a, PAGE);
	*kt_blk_status(&b, 0, 2) = 0xee;
	KT_ASSERT(kt_blk_chain(&b, 2, VIRTIO_BLK_T_IN, 8, ro, PAGE, st + 2) ==
		  1 && *kt_blk_status(&b, 0, 2) == VIRTIO_BLK_S_IOERR,
		  "IN into a read-only mapping: want IOERR, used length 1");
	KT_TRY(expect_fault(&g, events, VIRTIO_IOMMU_FAULT_R_MAPPING, wr, 2,
			    ro));
	memset(want, 0x5a, PAGE);
	KT_ASSERT(!memcmp(kt_gpa(&b.d.mem, ro_page), want, PAGE),
		  "a read-only page was written");

	/* The status byte outside the domain: used 0, nothing written. */
	KT_ASSERT(kt_blk_chain(&b, 3, VIRTIO_BLK_T_OUT, 24,
			    b.q[0].data_gpa, PAGE, iova + 0x20000) == 0,
		  "status byte unmapped: want used length 0");
	KT_TRY(expect_fault(&g, events, VIRTIO_IOMMU_FAULT_R_MAPPING, wr, 2,
			    iova + 0x20000));
	KT_ASSERT(kt_pread_all(fd, got, PAGE, 24 * 512) == 0 &&
		  !memcmp(got, zero, PAGE), "a request without status wrote");

	/* Never broken: a plain request still works. */
	KT_ASSERT(kt_wait_eventfd(b.q[0].vq.err, 0) == 0,
		  "ring stopped for a fault");
	KT_TRY(kt_blk_expect(&b, 0, VIRTIO_BLK_T_IN, 8, got, PAGE,
			     VIRTIO_BLK_S_OK, PAGE + 1));
	kt_fill_pattern(want, PAGE, 41);
	KT_ASSERT(!memcmp(got, want, PAGE), "IN after the faults");
	kt_blk_close(&b);
	close(fd);
	rig_close(&g);
	return KT_PASS;
}

/* A kvio-blk endpoint on a null_blk whose completions take @nsec. */
struct blk_ep {
	struct rig g;
	struct kt_blk b;
	struct kt_nullb nb;
	int fd;
};

static int blk_ep_open(struct blk_ep *e, const struct kt_target *t,
		       unsigned long nsec, unsigned int num)
{
	static const struct kt_target blk_t = { KT_BLK_DEV, "kvio-blk", true };
	struct kt_nullb_opts o = { .size_mb = 16, .irqmode = 2,
				   .completion_nsec = nsec,
				   .hw_queue_depth = 256 };
	int r;

	KT_TRY(rig_open(&e->g, t, FEAT));
	KT_TRY(kt_nullb_create(&e->nb, &o));
	e->fd = open(e->nb.dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	KT_ASSERT(e->fd >= 0, "open %s: %s", e->nb.dev, kt_errname(errno));
	r = kt_blk_open(&e->b, &blk_t, F(VIRTIO_F_VERSION_1) |
			F(VIRTIO_F_ACCESS_PLATFORM), 1, num, PAGE, false);
	if (r != KT_PASS)
		return r;
	KT_ERRNO(0, bind_ep(&e->g, 3, e->b.d.fd));
	EXPECT(&e->g, kt_iommu_attach_req(3, 3, 0), S_OK);
	EXPECT(&e->g, kt_iommu_map_req(3, e->b.d.mem.gpa,
			      e->b.d.mem.gpa + e->b.d.mem.size - 1,
			      e->b.d.mem.gpa, RW), S_OK);
	KT_ERRNO(0, kt_blk_backend(&e->b, e->fd));
	return KT_PASS;
}

static void blk_ep_close(struct blk_ep *e)
{
	kt_blk_close(&e->b);
	close(e->fd);
	kt_nullb_destroy(&e->nb);
	rig_close(&e->g);
}

/*
 * An UNMAP of the page an O_DIRECT read is landing in (null_blk, 300 ms
 * completions) completes only after that read did: its used entry is on
 * the blk ring by then, the data in the page; a canary written right after
 * the UNMAP survives.
 */
static int case_blk_unmap_inflight(const struct kt_target *t)
{
	const uint64_t iova = 0x40000000ULL;
	uint8_t *want, *pg;
	uint64_t page, tok;
	long t0, ms;
	uint32_t id, used;
	struct blk_ep e;
	unsigned int i;

	KT_TRY(blk_ep_open(&e, t, 300000000UL * kt_timeout_scale(), 16));
	want = kt_blk_alloc(PAGE);
	kt_fill_pattern(want, PAGE, 77);
	KT_ASSERT(kt_pwrite_all(e.fd, want, PAGE, 8 * 512) == 0, "pwrite");
	page = kt_mem_alloc(&e.b.d.mem, PAGE, PAGE);
	KT_ASSERT(page, "guest memory");
	pg = kt_gpa(&e.b.d.mem, page);
	memset(pg, 0, PAGE);
	EXPECT(&e.g, kt_iommu_map_req(3, iova, iova + PAGE - 1, page, RW), S_OK);
	*kt_blk_status(&e.b, 0, 0) = 0xee;
	KT_ASSERT(kt_blk_chain_post(&e.b, 0, VIRTIO_BLK_T_IN, 8, iova, PAGE,
				 e.b.q[0].status_gpa) == 0);
	kt_vq_kick(&e.b.q[0].vq);
	/* Submitted (null_blk counts it in flight), not completed. */
	for (i = 0; i < 200 && kt_nullb_inflight(&e.nb) < 1; i++)
		kt_sleep_ms(5);
	KT_ASSERT(kt_nullb_inflight(&e.nb) == 1, "the read is not in flight");
	t0 = kt_now_ms();
	EXPECT(&e.g, kt_iommu_unmap_req(3, iova, iova + PAGE - 1), S_OK);
	ms = kt_now_ms() - t0;
	kt_diag("UNMAP completed after %ld ms", ms);
	KT_ASSERT(kt_vq_get_used(&e.b.q[0].vq, &id, &used, &tok) == 1,
		  "UNMAP completed with the read into that page in flight");
	KT_ASSERT(tok == 0 && used == PAGE + 1 &&
		  *kt_blk_status(&e.b, 0, 0) == VIRTIO_BLK_S_OK &&
		  !memcmp(pg, want, PAGE), "the read did not land whole");
	memset(pg, 0xc3, PAGE);
	kt_sleep_ms(400 * kt_timeout_scale());
	for (i = 0; i < PAGE; i++)
		KT_ASSERT(pg[i] == 0xc3, "byte %u of an unmapped page written",
			  i);
	blk_ep_close(&e);
	return KT_PASS;
}

/*
 * UNMAP racing reads: each round maps 8 data pages and a page for their
 * status bytes, posts a read into each data page (null_blk, 20 ms
 * completions: null_blk copies at submission, the status byte is written
 * at completion) and an UNMAP of all 9 pages, kicks both rings in either
 * order 0-500 us apart, notes the status bytes and writes a canary into
 * every page once the UNMAP completed.  Each read must have ended before
 * the UNMAP (status OK already there, used length 4097) or been read after
 * it (every buffer unmapped: used length 0, nothing written), and no
 * canary may change.
 */
static int case_blk_unmap_race(const struct kt_target *t)
{
	const uint64_t iova = 0x40000000ULL, st_iova = iova + 8 * PAGE;
	unsigned int round, i, ok = 0, failed = 0;
	struct virtio_iommu_req_unmap um;
	uint64_t pages, tok, events;
	uint8_t sts[8], *pg;
	uint32_t id, used;
	struct blk_ep e;

	KT_TRY(blk_ep_open(&e, t, 20000000UL, 64));
	/* Fault events are not all read: the queue fills, then drops. */
	KT_TRY(post_events(&e.g, 8, &events));
	pages = kt_mem_alloc(&e.b.d.mem, 9 * PAGE, PAGE);
	KT_ASSERT(pages, "guest memory");
	pg = kt_gpa(&e.b.d.mem, pages);
	srand(12345);
	for (round = 0; round < 100; round++) {
		EXPECT(&e.g, kt_iommu_map_req(3, iova, iova + 9 * PAGE - 1, pages, RW),
		       S_OK);
		memset(pg, 0, 8 * PAGE);
		memset(pg + 8 * PAGE, 0xee, PAGE);
		for (i = 0; i < 8; i++)
			KT_ASSERT(kt_blk_chain_post(&e.b, i, VIRTIO_BLK_T_IN,
						 8 * i, iova + i * PAGE, PAGE,
						 st_iova + i) == 0);
		um = kt_iommu_unmap_req(3, iova, iova + 9 * PAGE - 1);
		KT_TRY(queue_req(&e.g, &um, sizeof(um), TAIL));
		if (round & 1) {
			kt_vq_kick(&e.b.q[0].vq);
			usleep(rand() % 500);
			KT_TRY(run_queued(&e.g));
		} else {
			kt_vq_kick(&e.g.d.vq[0]);
			usleep(rand() % 500);
			kt_vq_kick(&e.b.q[0].vq);
			KT_TRY(run_queued(&e.g));
		}
		KT_ASSERT(e.g.used_len[0] == TAIL && e.g.status[0] == S_OK,
			  "round %u: UNMAP status %u", round, e.g.status[0]);
		memcpy(sts, pg + 8 * PAGE, sizeof(sts));
		memset(pg, 0xc3, 9 * PAGE);
		for (i = 0; i < 8; i++) {
			KT_ASSERT(kt_vq_wait_used(&e.b.q[0].vq, &id, &used,
						  &tok, 3000) == 1,
				  "round %u: %u of 8 reads completed", round,
				  i);
			if (used == PAGE + 1) {
				KT_ASSERT(sts[tok] == VIRTIO_BLK_S_OK,
					  "round %u: read %u completed after its UNMAP (status %#x then)",
					  round, (unsigned int)tok, sts[tok]);
				ok++;
			} else {
				KT_ASSERT(used == 0 && sts[tok] == 0xee,
					  "round %u: used %u, status %#x",
					  round, used, sts[tok]);
				failed++;
			}
		}
		for (i = 0; i < 9 * PAGE; i++)
			KT_ASSERT(pg[i] == 0xc3,
				  "round %u: byte %u of an unmapped page written",
				  round, i);
	}
	kt_diag("%u reads ended before their UNMAP, %u were read after it", ok,
		failed);
	KT_ASSERT(kt_wait_eventfd(e.b.q[0].vq.err, 0) == 0, "ring stopped");
	blk_ep_close(&e);
	return KT_PASS;
}

/* Posts a read into a mapped page of @e (slot 0) and waits until it is in
 * null_blk's hands. */
static int blk_ep_read_inflight(struct blk_ep *e, uint64_t iova)
{
	uint64_t page = kt_mem_alloc(&e->b.d.mem, PAGE, PAGE);
	unsigned int i;

	KT_ASSERT(page, "guest memory");
	EXPECT(&e->g, kt_iommu_map_req(3, iova, iova + PAGE - 1, page, RW), S_OK);
	KT_ASSERT(kt_blk_chain_post(&e->b, 0, VIRTIO_BLK_T_IN, 8, iova, PAGE,
				 e->b.q[0].status_gpa) == 0);
	kt_vq_kick(&e->b.q[0].vq);
	for (i = 0; i < 200 && kt_nullb_inflight(&e->nb) < 1; i++)
		kt_sleep_ms(5);
	KT_ASSERT(kt_nullb_inflight(&e->nb) == 1, "the read is not in flight");
	return KT_PASS;
}

/*
 * Teardown with a kvio-blk endpoint attached and a 300 ms read in flight:
 * closing the vIOMMU (it waits for the read), closing the endpoint's
 * fd (the vIOMMU holds the device: an UNMAP still waits for the read,
 * UNBIND lets it go), RESET_OWNER on the endpoint (then UNMAP, UNBIND).
 * Nothing hangs; the debug kernel's log says the rest.
 */
static int case_blk_teardown(const struct kt_target *t)
{
	const uint64_t iova = 0x40000000ULL;
	struct kvio_iommu_endpoint u = { .endpoint = 3 };
	const unsigned long nsec = 300000000UL * kt_timeout_scale();
	struct blk_ep e;
	long ret;

	/* The vIOMMU goes first. */
	KT_TRY(blk_ep_open(&e, t, nsec, 16));
	KT_TRY(blk_ep_read_inflight(&e, iova));
	KT_TRY(kt_close_timed("close the vIOMMU with a read in flight", 10000,
			      e.g.d.fd, &ret));
	e.g.d.fd = -1;
	/*
	 * The device left its domain for an empty device IOTLB (its rings
	 * now wait for the VMM), but only once the read had ended.
	 */
	KT_ASSERT(kt_nullb_inflight_settled(&e.nb) == 0,
		  "the vIOMMU closed with its endpoint's read in flight");
	blk_ep_close(&e);

	/* The endpoint's fd goes first: the vIOMMU still holds it. */
	KT_TRY(blk_ep_open(&e, t, nsec, 16));
	KT_TRY(blk_ep_read_inflight(&e, iova));
	KT_TRY(kt_close_timed("close an attached endpoint", 10000, e.b.d.fd,
			      &ret));
	e.b.d.fd = -1;
	EXPECT(&e.g, kt_iommu_unmap_req(3, iova, iova + PAGE - 1), S_OK);
	KT_ASSERT(kt_nullb_inflight_settled(&e.nb) == 0,
		  "UNMAP completed with the closed endpoint's read in flight");
	KT_TRY(kt_ioctl_timed("UNBIND the closed endpoint", 10000, e.g.d.fd,
			      KVIO_IOMMU_UNBIND, &u, &ret));
	KT_ASSERT(ret == 0, "UNBIND: %s", kt_errname(errno));
	blk_ep_close(&e);

	/* RESET_OWNER on the endpoint while attached. */
	KT_TRY(blk_ep_open(&e, t, nsec, 16));
	KT_TRY(blk_ep_read_inflight(&e, iova));
	KT_TRY(kt_ioctl_timed("RESET_OWNER an attached endpoint", 10000,
			      e.b.d.fd, VHOST_RESET_OWNER, NULL, &ret));
	KT_ASSERT(ret == 0, "RESET_OWNER: %s", kt_errname(errno));
	KT_ASSERT(kt_nullb_inflight_settled(&e.nb) == 0, "RESET_OWNER left I/O");
	EXPECT(&e.g, kt_iommu_unmap_req(3, iova, iova + PAGE - 1), S_OK);
	KT_ERRNO(0, ioctl(e.g.d.fd, KVIO_IOMMU_UNBIND, &u));
	blk_ep_close(&e);
	return KT_PASS;
}

/* KVIO_IOMMU_TRANSLATE of @size bytes at @iova: 0 or -errno, *gpa, *size. */
static int translate(struct rig *g, uint32_t ep, uint32_t flags, uint64_t iova,
		     uint64_t *size, uint64_t *gpa)
{
	struct kvio_iommu_translate tr = { .endpoint = ep, .flags = flags,
					   .iova = iova, .size = *size };

	if (ioctl(g->d.fd, KVIO_IOMMU_TRANSLATE, &tr) < 0)
		return -errno;
	*size = tr.size;
	*gpa = tr.gpa;
	return 0;
}

#define EXPECT_XLATE(g, ep, flags, iova, size, want_err, want_gpa, want_size) \
do {									\
	uint64_t sz_ = (size), gpa_ = 0;				\
	int r_ = translate((g), (ep), (flags), (iova), &sz_, &gpa_);	\
									\
	KT_ASSERT(r_ == -(want_err), "TRANSLATE %#llx+%#llx: %s, want %s", \
		  (unsigned long long)(iova), (unsigned long long)(size),	\
		  kt_errname(-r_), kt_errname(want_err));		\
	KT_ASSERT(r_ || (gpa_ == (want_gpa) && sz_ == (want_size)),	\
		  "TRANSLATE %#llx: gpa %#llx size %#llx, want %#llx %#llx", \
		  (unsigned long long)(iova), (unsigned long long)gpa_,	\
		  (unsigned long long)sz_, (unsigned long long)(want_gpa), \
		  (unsigned long long)(want_size));			\
} while (0)

/*
 * KVIO_IOMMU_TRANSLATE, as a VMM serving a queue of a function behind the
 * vIOMMU uses it: the GPA behind an IOVA and the bytes one mapping holds
 * from there, the access checked against the mapping's flags; nothing for
 * an endpoint neither attached nor in bypass; IOVA = GPA in bypass.
 */
static int case_translate(const struct kt_target *t)
{
	const uint32_t w = KVIO_IOMMU_TRANSLATE_WRITE;
	struct kvio_iommu_translate tr = { .endpoint = 9, .size = 1 };
	struct kvio_iommu_config c;
	struct rig g;

	KT_TRY(rig_open(&g, t, FEAT));
	KT_ERRNO(0, bind_ep(&g, 9, -1));
	EXPECT_XLATE(&g, 10, 0, 0x10000, 1, ENOENT, 0, 0);
	EXPECT_XLATE(&g, 9, 0, 0x10000, 1, ENXIO, 0, 0);	/* not attached */
	EXPECT_XLATE(&g, 9, 2, 0x10000, 1, EINVAL, 0, 0);	/* unknown flag */
	EXPECT_XLATE(&g, 9, 0, 0x10000, 0, EINVAL, 0, 0);	/* no bytes */
	KT_ERRNO(EFAULT, ioctl(g.d.fd, KVIO_IOMMU_TRANSLATE, (void *)8));

	EXPECT(&g, kt_iommu_attach_req(9, 9, 0), S_OK);
	EXPECT(&g, kt_iommu_map_req(9, 0x10000, 0x1ffff, 0x800000,
				    VIRTIO_IOMMU_MAP_F_READ), S_OK);
	EXPECT(&g, kt_iommu_map_req(9, 0x20000, 0x20fff, 0x300000, RW), S_OK);
	/* Cut at the mapping's end, though the next one follows it. */
	EXPECT_XLATE(&g, 9, 0, 0x10800, 0x100000, 0, 0x800800, 0xf800);
	EXPECT_XLATE(&g, 9, 0, 0x1ffff, 1, 0, 0x80ffff, 1);
	EXPECT_XLATE(&g, 9, w, 0x10800, 16, EACCES, 0, 0);	/* read-only */
	EXPECT_XLATE(&g, 9, w, 0x20ffe, 2, 0, 0x300ffe, 2);
	EXPECT_XLATE(&g, 9, 0, 0x21000, 1, ENXIO, 0, 0);
	EXPECT_XLATE(&g, 9, 0, 0xffff, 2, ENXIO, 0, 0);
	/* The answer is the mapping of now: gone after UNMAP. */
	EXPECT(&g, kt_iommu_unmap_req(9, 0x20000, 0x20fff), S_OK);
	EXPECT_XLATE(&g, 9, w, 0x20ffe, 2, ENXIO, 0, 0);

	/* Detached with the config's bypass: IOVA = GPA, to the top. */
	EXPECT(&g, kt_iommu_detach_req(9, 9), S_OK);
	EXPECT_XLATE(&g, 9, 0, 0x10800, 16, ENXIO, 0, 0);
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_GET_CONFIG, &c));
	c.bypass = 1;
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_SET_CONFIG, &c));
	EXPECT_XLATE(&g, 9, w, 0x1234, 10, 0, 0x1234, 10);
	EXPECT_XLATE(&g, 9, 0, ~0ULL, 16, 0, ~0ULL, 1);
	EXPECT_XLATE(&g, 9, 0, 0, ~0ULL, 0, 0, ~0ULL);
	/* Another process than the owner. */
	KT_ASSERT(errno_in_child(g.d.fd, KVIO_IOMMU_TRANSLATE, &tr) == EPERM,
		  "TRANSLATE from a non-owner is not EPERM");
	rig_close(&g);
	return KT_PASS;
}

/*
 * Two kvio-blk devices bound under one endpoint, as kvio-vmm binds a
 * multiqueue NIC's device per queue pair: the second, bound after ATTACH
 * and MAP (its backend set before, its rings waiting for device IOTLB
 * answers), translates through the domain at once (its OUT from IOVA
 * 0x40001000 lands in its file); an UNMAP fails both devices' next OUT with
 * a fault naming the one endpoint; UNBIND gives both their own IOTLBs back.
 */
static int case_blk_shared_endpoint(const struct kt_target *t)
{
	static const struct kt_target blk_t = { KT_BLK_DEV, "kvio-blk", true };
	const uint64_t iova = 0x40000000ULL;
	const uint32_t rd = VIRTIO_IOMMU_FAULT_F_READ |
			    VIRTIO_IOMMU_FAULT_F_ADDRESS;
	struct kvio_iommu_endpoint u = { .endpoint = 5 };
	uint8_t want[PAGE], got[PAGE], zero[PAGE] = { 0 };
	uint64_t page[2], events, lo, hi;
	struct kt_blk b[2];
	int fd[2], i, r;
	struct rig g;

	KT_TRY(rig_open(&g, t, FEAT));
	for (i = 0; i < 2; i++) {
		r = kt_blk_open(&b[i], &blk_t, F(VIRTIO_F_VERSION_1) |
				F(VIRTIO_F_ACCESS_PLATFORM), 1, 16, PAGE,
				false);
		if (r != KT_PASS)
			return r;
		fd[i] = kt_blk_tmpfile(1 << 20, 0, 0);
		KT_ASSERT(fd[i] >= 0, "backing file: %s", kt_errname(-fd[i]));
		page[i] = kt_mem_alloc(&b[i].d.mem, PAGE, PAGE);
		KT_ASSERT(page[i], "guest memory");
	}
	/* Rings and slots of both tables at IOVA = GPA. */
	lo = b[0].d.mem.gpa < b[1].d.mem.gpa ? b[0].d.mem.gpa : b[1].d.mem.gpa;
	hi = b[0].d.mem.gpa + b[0].d.mem.size;
	if (b[1].d.mem.gpa + b[1].d.mem.size > hi)
		hi = b[1].d.mem.gpa + b[1].d.mem.size;
	KT_ERRNO(0, bind_ep(&g, 5, b[0].d.fd));
	EXPECT(&g, kt_iommu_attach_req(5, 5, 0), S_OK);
	EXPECT(&g, kt_iommu_map_req(5, lo, hi - 1, lo, RW), S_OK);
	for (i = 0; i < 2; i++)
		EXPECT(&g, kt_iommu_map_req(5, iova + i * PAGE,
					    iova + i * PAGE + PAGE - 1, page[i],
					    VIRTIO_IOMMU_MAP_F_READ), S_OK);
	KT_ERRNO(0, kt_blk_backend(&b[0], fd[0]));
	/* The second's rings wait for its IOTLB (misses) until it is bound. */
	KT_ERRNO(0, kt_blk_backend(&b[1], fd[1]));
	KT_ERRNO(0, bind_ep(&g, 5, b[1].d.fd));
	KT_TRY(post_events(&g, 4, &events));

	/* Each device's OUT from its IOVA lands in its own file. */
	for (i = 0; i < 2; i++) {
		kt_fill_pattern(kt_gpa(&b[i].d.mem, page[i]), PAGE, 50 + i);
		KT_ASSERT(kt_blk_chain(&b[i], 0, VIRTIO_BLK_T_OUT, 8,
				       iova + i * PAGE, PAGE,
				       b[i].q[0].status_gpa) == 1 &&
			  *kt_blk_status(&b[i], 0, 0) == VIRTIO_BLK_S_OK,
			  "device %d: mapped OUT", i);
		kt_fill_pattern(want, PAGE, 50 + i);
		KT_ASSERT(kt_pread_all(fd[i], got, PAGE, 8 * 512) == 0 &&
			  !memcmp(got, want, PAGE),
			  "device %d: the file lacks the OUT's bytes", i);
	}

	/* One UNMAP: both devices' next OUT faults, for endpoint 5. */
	EXPECT(&g, kt_iommu_unmap_req(5, iova, iova + 2 * PAGE - 1), S_OK);
	for (i = 0; i < 2; i++) {
		KT_ASSERT(kt_blk_chain(&b[i], 1, VIRTIO_BLK_T_OUT, 16,
				       iova + i * PAGE, PAGE,
				       b[i].q[0].status_gpa + 1) == 1 &&
			  *kt_blk_status(&b[i], 0, 1) == VIRTIO_BLK_S_IOERR,
			  "device %d: OUT from an unmapped IOVA: want IOERR",
			  i);
		KT_TRY(expect_fault(&g, events, VIRTIO_IOMMU_FAULT_R_MAPPING,
				    rd, 5, iova + i * PAGE));
		KT_ASSERT(kt_pread_all(fd[i], got, PAGE, 16 * 512) == 0 &&
			  !memcmp(got, zero, PAGE),
			  "device %d: an unmapped OUT wrote the file", i);
	}

	/* Unbound, both are their own again (device IOTLB). */
	KT_ERRNO(0, ioctl(g.d.fd, KVIO_IOMMU_UNBIND, &u));
	for (i = 0; i < 2; i++) {
		KT_ASSERT(kt_iotlb_msg(&b[i].d, 1, VHOST_IOTLB_UPDATE, iova,
				       PAGE, (uintptr_t)kt_gpa(&b[i].d.mem,
							       page[i]),
				       VHOST_ACCESS_RO) == 0,
			  "device %d: device IOTLB not back after UNBIND", i);
		kt_blk_close(&b[i]);
		close(fd[i]);
	}
	rig_close(&g);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "config: defaults, every bad field EINVAL, SET then GET, EPERM for a non-owner", case_config },
	{ "endpoints: BIND/UNBIND errno values (EEXIST, EBADF, EINVAL, EBUSY, ENOENT); a second kvio device joins an endpoint of kvio devices; a device is behind one vIOMMU at a time", case_endpoints },
	{ "TRANSLATE: GPA and bytes of one mapping, EACCES, ENXIO (unmapped, not attached), ENOENT, EINVAL, bypass, EPERM", case_translate },
	{ "ATTACH/DETACH: NOENT, RANGE, INVAL (reserved bytes too); moves; last DETACH frees the domain; RESET", case_attach },
	{ "ATTACH_F_BYPASS without BYPASS_CONFIG negotiated: INVAL", case_bypass_feature },
	{ "MAP/UNMAP: granule, input range, flags, reserved window, overlaps, exact UNMAP", case_map_unmap },
	{ "per-domain mapping limit: NOMEM, room again after UNMAP", case_limit },
	{ "PROBE: reserved regions as RESV_MEM properties, zeroes, used lengths, NOENT, short buffer", case_probe },
	{ "malformed requests: unknown type and no tail used 0, short request INVAL", case_malformed },
	{ "a batch of 255 MAPs: ring order, a few interrupts", case_batch },
	{ "busy-loop timeout: a request added while the device polls is served without a kick; after it, kicks again", case_busyloop },
	{ "64k mappings in one domain: all OK, the next NOMEM, lookups and UNMAP", case_64k, 600 },
	{ "close with a batch in flight and domains held", case_close_busy },
	{ "a kvio-net endpoint: bypass config, bypass domain, then blocked (DOMAIN fault)", case_net_bypass },
	{ "a kvio-blk endpoint: OUT through its domain lands in the file; unmapped data, read-only IN data, unmapped status fail that request only", case_blk_endpoint },
	{ "a kvio-blk endpoint: UNMAP of a page an O_DIRECT read is landing in completes after the read", case_blk_unmap_inflight },
	{ "a kvio-blk endpoint: 100 rounds of UNMAP racing 8 reads, every read before or after it, canaries in the unmapped pages intact", case_blk_unmap_race, 300 },
	{ "a kvio-blk endpoint with a read in flight: close the vIOMMU, close the endpoint, RESET_OWNER", case_blk_teardown },
	{ "a kvio-net endpoint: 100 rounds of UNMAP racing RX, every buffer filled before it or faulted after it, canaries in the unmapped pages intact", case_net_unmap_race, 300 },
	{ "a kvio-net endpoint with traffic in flight: close the vIOMMU (MISS to the VMM after), close the endpoint, RESET_OWNER", case_net_teardown },
	{ "module references: a bound endpoint keeps kvio_net loaded after its fd closed; closing the vIOMMU gives both back", case_module_refs },
	{ "two kvio-blk devices under one endpoint: the second joins its domain at once, one UNMAP faults both, UNBIND frees both", case_blk_shared_endpoint },
	{ "a kvio-net endpoint: TX/RX through its domain, unmapped buffers dropped with a MAPPING fault, DETACH faults (DOMAIN), UNBIND gives its IOTLB back", case_net_endpoint },
	{ "event ring, with EVENT_IDX and without: a fault waiting for a buffer asks for the guest's kick at its next one", case_event_kick },
};

int main(int argc, char **argv)
{
	return kt_main_dev(argc, argv, cases, sizeof(cases) / sizeof(cases[0]),
			   "/dev/kvio-iommu");
}
