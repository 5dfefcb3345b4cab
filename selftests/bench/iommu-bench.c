// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommu-bench: MAP+UNMAP pairs per second through a virtio-iommu request
 * queue, with the selftests' guest driver (lib/kt.h) playing a guest whose
 * DMA API maps and unmaps a page per buffer (a strict guest).  Two ways to
 * serve the same requests, measured in the same run, interleaved:
 *
 *  kvio:  /dev/kvio-iommu serves the ring in the kernel; the domain has a
 *         kvio-net endpoint attached (ACCESS_PLATFORM), so every UNMAP
 *         waits out that device's handlers, as a real one would.
 *  user:  the ring is served by a thread of this process, the way QEMU
 *         serves virtio-iommu for a vhost device: each MAP becomes a
 *         VHOST_IOTLB_UPDATE and each UNMAP a VHOST_IOTLB_INVALIDATE written
 *         to an upstream /dev/vhost-net fd (ACCESS_PLATFORM).  It keeps no
 *         state of its own and checks nothing but the request's size, so
 *         it is a lower bound on what a real userspace vIOMMU costs
 *         (QEMU's also keeps its own mapping tree and walks its memory
 *         API for each request).
 *
 * Cells: "batch B": the guest queues B MAPs (B pages), kicks and waits for
 * all of them, then the same with B UNMAPs; B = 1 is a guest that syncs
 * every request.
 *
 * "strict B": the same guest sending B 64-byte frames through the
 * endpoint (a tap whose stack drops them), each from its own page mapped
 * just before and unmapped just after, as Linux's DMA API does with
 * iommu.strict=1: B MAPs, B TX buffers at those IOVAs (one kick, waited
 * for), B UNMAPs.  The user server now plays QEMU exactly: a MAP only
 * enters its own table (QEMU tells vhost of unmaps, not maps), vhost-net's
 * first access to the page misses and asks through its fd (a
 * VHOST_IOTLB_MISS message), the server answers with an UPDATE from its
 * table, vhost-net retries; an UNMAP leaves the table and becomes an
 * INVALIDATE.  The rings stay mapped (IOVA = GPA) throughout, in the
 * domain for kvio and in the server's table for user.
 *
 * "vfio SIZE": an assigned device (QEMU's edu, behind the test VM's
 * emulated VT-d: run-vm --iommu) in the domain instead, pairs of one
 * SIZE-byte MAP and its UNMAP, each waited for (a strict guest).  kvio:
 * kvio_vfio shadows the domain into the host IOMMU in the kernel (pin,
 * iommu_map; iommu_unmap, one IOTLB sync, unpin).  user: the thread plays
 * QEMU with VFIO: each MAP becomes VFIO_IOMMU_MAP_DMA and each UNMAP
 * VFIO_IOMMU_UNMAP_DMA on a type1 container holding the same device (one
 * ioctl per request: the sizes here are powers of two, which QEMU would
 * not split further).  The table also gives the mean time of one MAP as
 * the guest sees it, kick to used entry.
 *
 * Each cell runs --time seconds after a warm-up, --rounds times, the two
 * backends alternating; the table gives medians (pairs/s, or frames/s for
 * strict cells), the ratio kvio/user and the spread of per-round ratios.
 * Not a test: it prints figures and exits non-zero only if a run failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>

#include <linux/vhost.h>

#include <linux/vfio.h>

#include "kt.h"
#include "kt_iommu.h"
#include "kt_vfio.h"

#define IB_NUM		256	/* request ring entries */
#define IB_SLOT		64	/* guest bytes per request: request, tail */
#define IB_TAIL_OFF	48
#define IB_MAX_BATCH	(IB_NUM / 2)	/* two descriptors per request */
#define IB_MAX_ROUNDS	31
#define IB_IOVA		0x80000000ULL	/* first IOVA mapped */
#define IB_PAGE		4096ULL
#define IB_DOMAIN	1
#define IB_EP		1
#define IB_TX_RING	1	/* vhost-net: ring 1 transmits */
#define IB_TAP		"ibtap0"
#define IB_FRAME_LEN	64
#define IB_HDR_LEN	12	/* virtio-net header, VERSION_1 */
#define IB_MAX_UMAPS	(IB_MAX_BATCH + 1)	/* the server's table */

#define F(bit) (1ULL << (bit))
#define IB_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_IOMMU_F_INPUT_RANGE) | \
		     F(VIRTIO_IOMMU_F_DOMAIN_RANGE) |			\
		     F(VIRTIO_IOMMU_F_MAP_UNMAP))

enum ib_backend { IB_KVIO, IB_USER, IB_NBACKENDS };

static const char *const ib_names[IB_NBACKENDS] = { "kvio", "user" };

/*
 * What a cell measures: MAP+UNMAP pairs, strict-guest TX frames, or pairs
 * of @size bytes for an assigned device.
 */
enum ib_kind { IB_PAIRS, IB_STRICT, IB_VFIO };

struct ib_cell {
	enum ib_kind kind;
	unsigned int batch;
	uint64_t size;		/* IB_VFIO: bytes per MAP */
};

struct ib_opts {
	double time;		/* seconds measured per run */
	unsigned int busyloop;	/* kvio's request ring, vfio cells: us */
	double warmup;
	unsigned int rounds;
	struct ib_cell cells[16];
	unsigned int ncells;
};

/* One mapping of the user server's table: IOVA -> endpoint GPA. */
struct ib_umap {
	uint64_t start, last, gpa;
	uint8_t perm;		/* VHOST_ACCESS_* */
};

/* One backend, set up: the request ring and what the mappings go to. */
struct ib_rig {
	enum ib_backend be;
	/* kvio: /dev/kvio-iommu; user: its guest memory and ring only. */
	struct kt_iommu io;
	struct kt_dev ep;	/* kvio-net endpoint, or upstream vhost-net */
	struct kt_edu edu;	/* IB_VFIO: the assigned device */
	uint64_t size;		/* bytes per MAP */
	double map_time;	/* IB_VFIO: seconds in MAPs, kick to used */
	bool spin;		/* the guest spins for answers (vfio cells) */
	struct kt_vq *vq;
	uint64_t slots;
	uint64_t page;		/* the guest page every MAP points at */
	/* strict cells: the endpoint transmits into a tap. */
	enum ib_kind kind;
	struct kt_tap tap;
	uint64_t frames;	/* IB_MAX_BATCH pages, a frame in each */
	/* user: the serving thread; strict cells: its table (its own). */
	pthread_t th;
	bool th_started;
	struct ib_umap umaps[IB_MAX_UMAPS];
	unsigned int numaps;
	volatile bool stop;
	int err;
};

/* Queues request @len bytes at slot @i (not kicked). */
static int ib_queue(struct ib_rig *r, unsigned int i, const void *req,
		    size_t len)
{
	uint64_t gpa = r->slots + (uint64_t)i * IB_SLOT;
	struct kt_buf out = { gpa, len };
	struct kt_buf in = { gpa + IB_TAIL_OFF,
			     sizeof(struct virtio_iommu_req_tail) };
	uint8_t *p = kt_gpa(&r->io.d.mem, gpa);

	memcpy(p, req, len);
	p[IB_TAIL_OFF] = 0xff;
	return kt_vq_add(r->vq, &out, 1, &in, 1, false, i) < 0 ? -ENOSPC : 0;
}

/*
 * A used entry, waited for by spinning on the used ring as the Linux
 * virtio-iommu driver does (interrupts off): 1, or -ETIMEDOUT after 5 s.
 */
static int ib_spin_used(struct kt_vq *vq, uint32_t *id, uint32_t *len,
			uint64_t *tok)
{
	long deadline = kt_deadline(5000);
	unsigned int i = 0;
	int r;

	while (!(r = kt_vq_get_used(vq, id, len, tok))) {
		if (!(++i & 0xfff) && kt_now_ms() > deadline)
			return -ETIMEDOUT;
		__builtin_ia32_pause();
	}
	return r;
}

/* Kicks and waits for @n requests; every status must be OK. */
static int ib_complete(struct ib_rig *r, unsigned int n)
{
	unsigned int k;

	kt_vq_kick(r->vq);
	for (k = 0; k < n; k++) {
		uint32_t id, len;
		uint64_t tok;
		uint8_t st;

		if ((r->spin ? ib_spin_used(r->vq, &id, &len, &tok) :
		     kt_vq_wait_used(r->vq, &id, &len, &tok, 5000)) != 1) {
			kt_diag("%s: request %u of %u not completed",
				ib_names[r->be], k, n);
			return -ETIMEDOUT;
		}
		st = *(uint8_t *)kt_gpa(&r->io.d.mem, r->slots +
					tok * IB_SLOT + IB_TAIL_OFF);
		if (len != sizeof(struct virtio_iommu_req_tail) || st) {
			kt_diag("%s: status %u, used length %u",
				ib_names[r->be], st, len);
			return -EPROTO;
		}
	}
	return 0;
}

/*
 * @n MAPs of the pages from IB_IOVA, the i-th to @phys + i * @step with
 * @flags, queued with one kick and all waited for.
 */
static int ib_map_n(struct ib_rig *r, unsigned int n, uint64_t phys,
		    uint64_t step, uint32_t flags)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t iova = IB_IOVA + i * r->size;
		struct virtio_iommu_req_map m =
			kt_iommu_map_req(IB_DOMAIN, iova, iova + r->size - 1,
					 phys + i * step, flags);

		if (ib_queue(r, i, &m, offsetof(typeof(m), tail)))
			return -ENOSPC;
	}
	return ib_complete(r, n);
}

/* @n UNMAPs of the pages from IB_IOVA, one kick, all waited for. */
static int ib_unmap_n(struct ib_rig *r, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t iova = IB_IOVA + i * r->size;
		struct virtio_iommu_req_unmap u =
			kt_iommu_unmap_req(IB_DOMAIN, iova,
					   iova + r->size - 1);

		if (ib_queue(r, i, &u, offsetof(typeof(u), tail)))
			return -ENOSPC;
	}
	return ib_complete(r, n);
}

static double ib_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* @n MAPs then @n UNMAPs, @n ranges from IB_IOVA, all to one page. */
static int ib_pairs(struct ib_rig *r, unsigned int n)
{
	double t0 = ib_now();
	int ret = ib_map_n(r, n, r->page, 0, VIRTIO_IOMMU_MAP_F_READ |
			   VIRTIO_IOMMU_MAP_F_WRITE);

	r->map_time += ib_now() - t0;
	return ret ? ret : ib_unmap_n(r, n);
}

/*
 * A strict guest sending @n frames: each page mapped, the frames sent
 * from their IOVAs (one kick, all waited for), the pages unmapped.
 */
static int ib_strict(struct ib_rig *r, unsigned int n)
{
	struct kt_vq *tx = &r->ep.vq[IB_TX_RING];
	unsigned int i;
	int ret;

	ret = ib_map_n(r, n, r->frames, IB_PAGE, VIRTIO_IOMMU_MAP_F_READ);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		struct kt_buf b = { IB_IOVA + i * IB_PAGE,
				    IB_HDR_LEN + IB_FRAME_LEN };

		if (kt_vq_add(tx, &b, 1, NULL, 0, false, i) < 0)
			return -ENOSPC;
	}
	kt_vq_kick(tx);
	for (i = 0; i < n; i++) {
		uint32_t id, len;
		uint64_t tok;

		if (kt_vq_wait_used(tx, &id, &len, &tok, 5000) != 1) {
			kt_diag("%s: frame %u of %u not sent", ib_names[r->be],
				i, n);
			return -ETIMEDOUT;
		}
	}
	return ib_unmap_n(r, n);
}

/* ---- the userspace server ---------------------------------------------- */

/* The server's table (strict cells): as QEMU's virtio-iommu keeps one. */
static struct ib_umap *ib_umap_find(struct ib_rig *r, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < r->numaps; i++)
		if (iova >= r->umaps[i].start && iova <= r->umaps[i].last)
			return &r->umaps[i];
	return NULL;
}

static uint8_t ib_umap_add(struct ib_rig *r, uint64_t start, uint64_t last,
			   uint64_t gpa, uint8_t perm)
{
	if (r->numaps == IB_MAX_UMAPS)
		return VIRTIO_IOMMU_S_NOMEM;
	if (!kt_gpa(&r->ep.mem, gpa) ||
	    !kt_gpa(&r->ep.mem, gpa + (last - start)))
		return VIRTIO_IOMMU_S_RANGE;
	r->umaps[r->numaps++] = (struct ib_umap){ start, last, gpa, perm };
	return VIRTIO_IOMMU_S_OK;
}

static void ib_umap_del(struct ib_rig *r, uint64_t start, uint64_t last)
{
	unsigned int i = 0;

	while (i < r->numaps) {
		if (r->umaps[i].start >= start && r->umaps[i].last <= last)
			r->umaps[i] = r->umaps[--r->numaps];
		else
			i++;
	}
}

/* vhost-net's MISS messages, answered from the table with UPDATEs. */
static int ib_user_misses(struct ib_rig *r)
{
	struct vhost_iotlb_msg msg;
	struct ib_umap *m;
	int ret;

	while ((ret = kt_iotlb_read(&r->ep, &msg, 0)) == 1) {
		if (msg.type != VHOST_IOTLB_MISS)
			return -EPROTO;
		m = ib_umap_find(r, msg.iova);
		/* QEMU answers an unmapped IOVA with nothing: a fault. */
		if (!m)
			continue;
		ret = kt_iotlb_msg(&r->ep, 1, VHOST_IOTLB_UPDATE, m->start,
				   m->last - m->start + 1,
				   (uintptr_t)kt_gpa(&r->ep.mem, m->gpa),
				   m->perm);
		if (ret)
			return ret;
	}
	return ret;
}

/* VFIO cells: a MAP becomes VFIO_IOMMU_MAP_DMA on the type1 container. */
static uint8_t ib_user_vfio_map(struct ib_rig *r, uint64_t start,
				uint64_t end, uint64_t phys)
{
	struct vfio_iommu_type1_dma_map dm = {
		.argsz = sizeof(dm),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.iova = start,
		.size = end - start + 1,
	};
	void *hva = kt_gpa(&r->io.d.mem, phys);

	if (!hva || !kt_gpa(&r->io.d.mem, phys + dm.size - 1))
		return VIRTIO_IOMMU_S_RANGE;
	dm.vaddr = (uintptr_t)hva;
	return ioctl(r->edu.container, VFIO_IOMMU_MAP_DMA, &dm) ?
	       VIRTIO_IOMMU_S_NOMEM : VIRTIO_IOMMU_S_OK;
}

static uint8_t ib_user_vfio_unmap(struct ib_rig *r, uint64_t start,
				  uint64_t end)
{
	struct vfio_iommu_type1_dma_unmap du = {
		.argsz = sizeof(du),
		.iova = start,
		.size = end - start + 1,
	};

	return ioctl(r->edu.container, VFIO_IOMMU_UNMAP_DMA, &du) ?
	       VIRTIO_IOMMU_S_INVAL : VIRTIO_IOMMU_S_OK;
}

static uint8_t ib_user_serve_one(struct ib_rig *r, const uint8_t *req,
				 uint32_t len)
{
	const struct virtio_iommu_req_map *m = (const void *)req;
	const struct virtio_iommu_req_unmap *u = (const void *)req;
	uint64_t start, end;

	switch (req[0]) {
	case VIRTIO_IOMMU_T_MAP:
		if (len < offsetof(typeof(*m), tail))
			return VIRTIO_IOMMU_S_INVAL;
		start = le64toh(m->virt_start);
		end = le64toh(m->virt_end);
		if (end < start)
			return VIRTIO_IOMMU_S_RANGE;
		if (r->kind == IB_VFIO)
			return ib_user_vfio_map(r, start, end,
						le64toh(m->phys_start));
		/* Strict cells: the table only, vhost-net asks on a miss. */
		if (r->kind == IB_STRICT)
			return ib_umap_add(r, start, end,
					   le64toh(m->phys_start),
					   VHOST_ACCESS_RO);
		/* IOVA -> the page's address in this process, as QEMU does. */
		if (kt_iotlb_msg(&r->ep, 1, VHOST_IOTLB_UPDATE, start,
				 end - start + 1,
				 (uintptr_t)kt_gpa(&r->ep.mem, r->page),
				 VHOST_ACCESS_RW))
			return VIRTIO_IOMMU_S_DEVERR;
		return VIRTIO_IOMMU_S_OK;
	case VIRTIO_IOMMU_T_UNMAP:
		if (len < offsetof(typeof(*u), tail))
			return VIRTIO_IOMMU_S_INVAL;
		start = le64toh(u->virt_start);
		end = le64toh(u->virt_end);
		if (end < start)
			return VIRTIO_IOMMU_S_RANGE;
		if (r->kind == IB_VFIO)
			return ib_user_vfio_unmap(r, start, end);
		ib_umap_del(r, start, end);
		if (kt_iotlb_msg(&r->ep, 1, VHOST_IOTLB_INVALIDATE, start,
				 end - start + 1, 0, 0))
			return VIRTIO_IOMMU_S_DEVERR;
		return VIRTIO_IOMMU_S_OK;
	default:
		return VIRTIO_IOMMU_S_UNSUPP;
	}
}

/*
 * The ring, served as a VMM's virtio-iommu thread would: sleep on the kick
 * eventfd, take every available chain (a readable request, a writable
 * tail), forward it, publish the used entries, one call.
 */
static void *ib_user_thread(void *arg)
{
	struct ib_rig *r = arg;
	struct kt_vq *vq = r->vq;
	struct kt_mem *mem = &r->io.d.mem;
	uint16_t last = vq->used->idx;

	while (!r->stop) {
		struct pollfd p[2] = {
			{ .fd = vq->kick, .events = POLLIN },
			{ .fd = r->ep.fd, .events = POLLIN },
		};
		uint16_t avail;

		if (poll(p, r->kind == IB_STRICT ? 2 : 1, 200) <= 0)
			continue;
		if (p[1].revents) {
			r->err = ib_user_misses(r);
			if (r->err)
				break;
		}
		if (!p[0].revents)
			continue;
		kt_eventfd_drain(vq->kick);
		avail = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
		if ((uint16_t)(avail - last) > vq->num) {
			r->err = -EPROTO;
			break;
		}
		while (last != avail) {
			uint16_t head = vq->avail->ring[last % vq->num];
			struct vring_desc *d, *t;
			uint8_t *req, *tail;

			if (head >= vq->num) {
				r->err = -EPROTO;
				return NULL;
			}
			d = &vq->desc[head];
			if (!(d->flags & VRING_DESC_F_NEXT) ||
			    d->next >= vq->num) {
				r->err = -EPROTO;
				return NULL;
			}
			t = &vq->desc[d->next];
			req = kt_gpa(mem, d->addr);
			tail = kt_gpa(mem, t->addr);
			if (!req || !tail || d->len < 4 || t->len < 4) {
				r->err = -EPROTO;
				return NULL;
			}
			tail[0] = ib_user_serve_one(r, req, d->len);
			vq->used->ring[last % vq->num].id = head;
			vq->used->ring[last % vq->num].len = 4;
			last++;
		}
		__atomic_store_n(&vq->used->idx, last, __ATOMIC_RELEASE);
		if (eventfd_write(vq->call, 1)) {
			r->err = -errno;
			break;
		}
	}
	return NULL;
}

/* ---- set-up ------------------------------------------------------------- */

static void ib_close(struct ib_rig *r)
{
	if (r->th_started) {
		r->stop = true;
		eventfd_write(r->vq->kick, 1);
		pthread_join(r->th, NULL);
		r->th_started = false;
	}
	if (r->kind != IB_VFIO)
		kt_dev_close(&r->ep);
	kt_dev_close(&r->io.d);
	kt_edu_close(&r->edu);
	if (r->tap.fd >= 0)
		kt_tap_close(&r->tap);
}

/* Strict cells: frames in IB_MAX_BATCH pages of the endpoint's memory. */
static int ib_frames(struct ib_rig *r)
{
	static const uint8_t nobody[6] = { 0x02, 0x6b, 0x76, 0x69, 0x6f, 0xee };
	uint8_t *p;
	unsigned int i;

	r->frames = kt_mem_alloc(&r->ep.mem, IB_MAX_BATCH * IB_PAGE, IB_PAGE);
	if (!r->frames)
		return -ENOMEM;
	for (i = 0; i < IB_MAX_BATCH; i++) {
		p = kt_gpa(&r->ep.mem, r->frames + i * IB_PAGE);
		memset(p, 0, IB_HDR_LEN);
		kt_frame_test(p + IB_HDR_LEN, nobody, kt_guest_mac,
			      IB_FRAME_LEN - 14, i);
	}
	return 0;
}

/* Strict cells: the TX ring (IOVA = GPA) and its tap. */
static int ib_tx(struct ib_rig *r)
{
	int ret;

	if (kt_tap_create(&r->tap, IB_TAP, IB_HDR_LEN, NULL) != KT_PASS)
		return -ENODEV;
	if (kt_vq_setup(&r->ep, IB_TX_RING, IB_NUM, 0))
		return -EIO;
	ret = kt_net_backend(&r->ep, IB_TX_RING, r->tap.fd);
	if (ret)
		kt_diag("%s: SET_BACKEND: %s", ib_names[r->be],
			kt_errname(-ret));
	return ret;
}

/*
 * user: @mem bytes of guest memory and the request ring in it, served by
 * this process (no device): the ring and its request slots.
 */
static int ib_user_ring(struct ib_rig *r, size_t mem)
{
	int ret = kt_mem_init(&r->io.d.mem, mem, 0x100000000ULL);

	if (ret)
		return ret;
	r->io.d.features = IB_FEATURES;
	ret = kt_vq_layout(&r->io.d, &r->io.d.vq[0], 0, IB_NUM, 0);
	if (ret)
		return ret;
	r->vq = &r->io.d.vq[0];
	r->slots = kt_mem_alloc(&r->io.d.mem, IB_NUM * IB_SLOT, 64);
	return r->slots ? 0 : -ENOMEM;
}

/*
 * VFIO cells: edu in a container under kvio's IOMMU, bound to the
 * vIOMMU's endpoint and attached; or in a type1 container, the ring
 * served by this process.  Every MAP names one @size-aligned range of the
 * vIOMMU's (the server's) guest memory.
 */
static int ib_open_vfio(struct ib_rig *r, enum ib_backend be, uint64_t size,
			unsigned int busyloop)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	int ret;

	/* Both pin what they map, charged to RLIMIT_MEMLOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		return -errno;
	r->size = size;
	if (be == IB_KVIO) {
		ret = kt_iommu_open(&r->io, IB_NUM);
		if (ret)
			return ret;
		r->vq = &r->io.d.vq[0];
		r->slots = kt_mem_alloc(&r->io.d.mem, IB_NUM * IB_SLOT, 64);
	} else {
		/* The ring's slots, then room for the size-aligned range. */
		ret = ib_user_ring(r, 3 * size + (1 << 20));
		if (ret)
			return ret;
	}
	r->page = kt_mem_alloc(&r->io.d.mem, size, size);
	if (!r->slots || !r->page)
		return -ENOMEM;
	if (kt_edu_open(&r->edu, be == IB_KVIO ? KVIO_VFIO_IOMMU :
			VFIO_TYPE1v2_IOMMU) != KT_PASS)
		return -ENODEV;
	if (be == IB_USER) {
		if (pthread_create(&r->th, NULL, ib_user_thread, r))
			return -EAGAIN;
		r->th_started = true;
		return 0;
	}
	ret = kt_iommu_bind(&r->io, IB_EP, r->edu.group);
	if (!ret && kt_iommu_attach(&r->io, IB_DOMAIN, IB_EP))
		ret = -EPROTO;
	if (!ret && busyloop) {
		struct vhost_vring_state st = { .index = 0, .num = busyloop };

		if (ioctl(r->io.d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st))
			ret = -errno;
	}
	return ret;
}

static int ib_open(struct ib_rig *r, enum ib_backend be, enum ib_kind kind,
		   uint64_t size, unsigned int busyloop)
{
	const uint64_t ep_features = F(VIRTIO_F_VERSION_1) |
				     F(VIRTIO_F_ACCESS_PLATFORM);
	uint64_t ram, ram_last;
	int ret;

	memset(r, 0, sizeof(*r));
	r->be = be;
	r->kind = kind;
	r->size = IB_PAGE;
	r->io.d.fd = r->ep.fd = r->tap.fd = -1;
	r->io.d.mem.fd = r->ep.mem.fd = -1;
	r->edu.container = r->edu.group = r->edu.dev = -1;
	/* As a Linux guest waits for its virtio-iommu: spinning. */
	r->spin = kind == IB_VFIO;
	if (kind == IB_VFIO)
		return ib_open_vfio(r, be, size, busyloop);
	ret = kt_dev_open(&r->ep, be == IB_KVIO ? "/dev/kvio-net" :
			  "/dev/vhost-net");
	if (ret)
		return ret;
	ret = kt_dev_setup(&r->ep, ep_features);
	if (ret)
		return ret;
	r->page = kt_mem_alloc(&r->ep.mem, IB_PAGE, IB_PAGE);
	if (kind == IB_STRICT && ib_frames(r))
		return -ENOMEM;
	ram = r->ep.mem.gpa;
	ram_last = ram + r->ep.mem.size - 1;

	if (be == IB_KVIO) {
		ret = kt_iommu_open(&r->io, IB_NUM);
		if (ret)
			return ret;
		r->vq = &r->io.d.vq[0];
		r->slots = kt_mem_alloc(&r->io.d.mem, IB_NUM * IB_SLOT, 64);
		ret = kt_iommu_bind(&r->io, IB_EP, r->ep.fd);
		if (!ret && kt_iommu_attach(&r->io, IB_DOMAIN, IB_EP))
			ret = -EPROTO;
		if (ret || kind != IB_STRICT)
			return ret;
		/* The rings, mapped for good as a guest maps its rings. */
		if (kt_iommu_map(&r->io, IB_DOMAIN, ram, ram_last, ram,
				 VIRTIO_IOMMU_MAP_F_READ |
				 VIRTIO_IOMMU_MAP_F_WRITE))
			return -EPROTO;
		return ib_tx(r);
	}

	/* user: guest memory and a ring only; this process serves it. */
	ret = ib_user_ring(r, 1 << 20);
	if (ret)
		return ret;
	if (kind == IB_STRICT) {
		ib_umap_add(r, ram, ram_last, ram, VHOST_ACCESS_RW);
		/*
		 * vhost-net writes the used ring's flags at SET_BACKEND, so
		 * QEMU answers that miss before it starts a device.
		 */
		ret = kt_iotlb_msg(&r->ep, 1, VHOST_IOTLB_UPDATE, ram,
				   ram_last - ram + 1,
				   (uintptr_t)kt_gpa(&r->ep.mem, ram),
				   VHOST_ACCESS_RW);
		if (!ret)
			ret = ib_tx(r);
		if (ret)
			return ret;
	}
	if (pthread_create(&r->th, NULL, ib_user_thread, r))
		return -EAGAIN;
	r->th_started = true;
	return 0;
}

/* ---- measurement -------------------------------------------------------- */

/* Frames the tap received from the endpoint (this netns's /proc/net/dev). */
static long long ib_tap_rx(void)
{
	char line[512];
	long long bytes, pkts = -1;
	FILE *f = fopen("/proc/net/dev", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, IB_TAP ":");

		if (p && sscanf(p + strlen(IB_TAP ":"), "%lld %lld", &bytes,
				&pkts) == 2)
			break;
	}
	fclose(f);
	return pkts;
}

/* One round of a cell: @batch pairs, or @batch strict frames. */
static int ib_round(struct ib_rig *r, unsigned int batch)
{
	return r->kind == IB_STRICT ? ib_strict(r, batch) :
				      ib_pairs(r, batch);
}

/* Pairs (frames) per second of one backend in one cell, in a child. */
static int ib_run(enum ib_backend be, const struct ib_cell *cell,
		  const struct ib_opts *o, double *rate, double *map_us)
{
	unsigned int batch = cell->batch;
	unsigned long pairs = 0, rounds = 0;
	double t0, t1, end;
	struct ib_rig r;
	long long rx;
	int ret;

	ret = ib_open(&r, be, cell->kind, cell->size, o->busyloop);
	if (ret) {
		kt_diag("%s: set-up: %s", ib_names[be], kt_errname(-ret));
		ib_close(&r);
		return ret;
	}
	end = ib_now() + o->warmup;
	while (!ret && ib_now() < end) {
		ret = ib_round(&r, batch);
		rounds++;
	}
	t0 = ib_now();
	end = t0 + o->time;
	r.map_time = 0;
	while (!ret && (t1 = ib_now()) < end) {
		ret = ib_round(&r, batch);
		pairs += batch;
		rounds++;
	}
	t1 = ib_now();
	if (!ret && r.err)
		ret = r.err;
	/* A frame counts only if it left: dropped ones are used too. */
	if (!ret && cell->kind == IB_STRICT &&
	    (rx = ib_tap_rx()) < (long long)(rounds * batch)) {
		kt_diag("%s: %lld of %lu frames reached the tap",
			ib_names[be], rx, rounds * batch);
		ret = -EPROTO;
	}
	ib_close(&r);
	if (ret)
		return ret;
	*rate = pairs / (t1 - t0);
	*map_us = pairs ? r.map_time * 1e6 / pairs : 0;
	return 0;
}

/* Runs ib_run() in a child, so a hang or crash is one failed run. */
static int ib_run_child(enum ib_backend be, const struct ib_cell *cell,
			const struct ib_opts *o, double *rate, double *map_us)
{
	double v[2];
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int ret;

		close(pfd[0]);
		ret = ib_run(be, cell, o, &v[0], &v[1]);
		if (!ret && write(pfd[1], v, sizeof(v)) != sizeof(v))
			ret = -EIO;
		_exit(ret ? 1 : 0);
	}
	close(pfd[1]);
	n = read(pfd[0], v, sizeof(v));
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (n != sizeof(v) || !WIFEXITED(status) || WEXITSTATUS(status))
		return -EIO;
	*rate = v[0];
	*map_us = v[1];
	return 0;
}

static int ib_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double ib_median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), ib_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void ib_usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--time S] [--warmup S] [--rounds N] [--batch B]... [--strict B]...\n"
		"          [--vfio 4k|2m]... [--busyloop US]\n"
		"  MAP+UNMAP pairs/s (--batch) and strict-guest TX frames/s (--strict)\n"
		"  through /dev/kvio-iommu and /dev/kvio-net against a userspace\n"
		"  virtio-iommu feeding /dev/vhost-net IOTLB messages; --vfio: pairs of\n"
		"  that size for edu through kvio_vfio against the same requests turned\n"
		"  into VFIO_IOMMU_MAP_DMA/UNMAP_DMA on a type1 container (run-vm --iommu);\n"
		"  the guest spins for answers; --busyloop: kvio's request ring busy-polls\n"
		"  that many microseconds (VHOST_SET_VRING_BUSYLOOP_TIMEOUT).\n"
		"  defaults: --time 2 --warmup 0.3 --rounds 5 --batch 1 --batch 32\n"
		"  --strict 1 --strict 32 --vfio 4k --vfio 2m\n",
		argv0);
}

static int ib_add_cell(struct ib_opts *o, enum ib_kind kind, const char *arg)
{
	int b = atoi(arg);

	if (b < 1 || b > IB_MAX_BATCH ||
	    o->ncells == sizeof(o->cells) / sizeof(o->cells[0])) {
		fprintf(stderr, "batch sizes are 1..%d, at most %zu cells\n",
			IB_MAX_BATCH, sizeof(o->cells) / sizeof(o->cells[0]));
		return -1;
	}
	o->cells[o->ncells++] = (struct ib_cell){ kind, b, IB_PAGE };
	return 0;
}

static int ib_add_vfio_cell(struct ib_opts *o, const char *arg)
{
	uint64_t size = !strcmp(arg, "4k") ? 4096 :
			!strcmp(arg, "2m") ? 2 << 20 : 0;

	if (!size || o->ncells == sizeof(o->cells) / sizeof(o->cells[0])) {
		fprintf(stderr, "--vfio takes 4k or 2m\n");
		return -1;
	}
	o->cells[o->ncells++] = (struct ib_cell){ IB_VFIO, 1, size };
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "time", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "strict", required_argument, NULL, 's' },
		{ "vfio", required_argument, NULL, 'v' },
		{ "busyloop", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct ib_opts o = { .time = 2, .warmup = 0.3, .rounds = 5 };
	double rate[IB_NBACKENDS][IB_MAX_ROUNDS], ratio[IB_MAX_ROUNDS];
	double map_us[IB_NBACKENDS][IB_MAX_ROUNDS];
	unsigned int ci, round, failed = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			o.time = atof(optarg);
			break;
		case 'w':
			o.warmup = atof(optarg);
			break;
		case 'r':
			o.rounds = atoi(optarg);
			break;
		case 'v':
			if (ib_add_vfio_cell(&o, optarg))
				return 2;
			break;
		case 'l':
			o.busyloop = atoi(optarg);
			break;
		case 'b':
		case 's':
			if (ib_add_cell(&o, c == 'b' ? IB_PAIRS : IB_STRICT,
					optarg))
				return 2;
			break;
		default:
			ib_usage(argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!o.ncells) {
		ib_add_cell(&o, IB_PAIRS, "1");
		ib_add_cell(&o, IB_PAIRS, "32");
		ib_add_cell(&o, IB_STRICT, "1");
		ib_add_cell(&o, IB_STRICT, "32");
		ib_add_vfio_cell(&o, "4k");
		ib_add_vfio_cell(&o, "2m");
	}
	if (o.rounds < 1 || o.rounds > IB_MAX_ROUNDS || o.time <= 0) {
		ib_usage(argv[0]);
		return 2;
	}

	printf("# iommu-bench: %u rounds of %.1f s, medians; kvio busy-loop %u us (vfio cells)\n",
	       o.rounds, o.time, o.busyloop);
	printf("# batch B: MAP+UNMAP pairs/s; strict B: 64-byte TX frames/s, each page\n"
	       "# mapped before and unmapped after (iommu.strict=1)\n"
	       "# kvio: /dev/kvio-iommu, kvio-net endpoint attached; user: a userspace\n"
	       "# virtio-iommu feeding /dev/vhost-net IOTLB messages (strict: as QEMU, on a miss)\n"
	       "# vfio SIZE: MAP+UNMAP pairs/s of SIZE for edu (VFIO), the guest spinning for\n"
	       "# each answer; kvio: kvio_vfio; user: VFIO_IOMMU_MAP_DMA/UNMAP_DMA on a type1\n"
	       "# container, as QEMU\n");
	printf("%-10s %14s %14s %8s %16s\n", "cell", "kvio", "user", "ratio",
	       "ratio range");
	for (ci = 0; ci < o.ncells; ci++) {
		const struct ib_cell *cell = &o.cells[ci];
		double med[IB_NBACKENDS], lo_r = 1e30, hi_r = 0;
		char name[32];
		bool ok = true;

		for (round = 0; round < o.rounds; round++) {
			/* Alternate which backend goes first. */
			for (c = 0; c < IB_NBACKENDS; c++) {
				enum ib_backend be = (round + c) % 2;

				if (ib_run_child(be, cell, &o,
						 &rate[be][round],
						 &map_us[be][round])) {
					kt_diag("cell %u round %u: %s failed",
						ci, round, ib_names[be]);
					ok = false;
				}
			}
			if (!ok)
				break;
			ratio[round] = rate[IB_KVIO][round] /
				       rate[IB_USER][round];
			if (ratio[round] < lo_r)
				lo_r = ratio[round];
			if (ratio[round] > hi_r)
				hi_r = ratio[round];
		}
		if (cell->kind == IB_VFIO)
			snprintf(name, sizeof(name), "vfio %s",
				 cell->size == IB_PAGE ? "4k" : "2m");
		else
			snprintf(name, sizeof(name), "%s %u",
				 cell->kind == IB_STRICT ? "strict" : "batch",
				 cell->batch);
		if (!ok) {
			printf("%-10s %14s %14s %8s %16s\n", name, "failed",
			       "failed", "-", "-");
			failed++;
			continue;
		}
		med[IB_KVIO] = ib_median(rate[IB_KVIO], o.rounds);
		med[IB_USER] = ib_median(rate[IB_USER], o.rounds);
		printf("%-10s %14.0f %14.0f %8.2f %7.2f-%-8.2f\n", name,
		       med[IB_KVIO], med[IB_USER],
		       ib_median(ratio, o.rounds), lo_r, hi_r);
		if (cell->kind == IB_VFIO)
			printf("%-10s %11.1f us %11.1f us   (one MAP, kick to used: median of the rounds' means)\n",
			       "", ib_median(map_us[IB_KVIO], o.rounds),
			       ib_median(map_us[IB_USER], o.rounds));
	}
	return failed ? 1 : 0;
}
