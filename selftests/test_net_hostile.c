// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_net_hostile: rings written by a hostile guest.
 *
 * Each case takes a fresh device with both rings attached to a tap, writes
 * one kind of malformed descriptor chain or index by hand, kicks, and then
 * checks that
 *  - the ring's error eventfd fires (every case here is one where upstream
 *    vhost calls vq_err(), which signals it),
 *  - no used entry appears (a used entry for a malformed chain would carry
 *    garbage),
 *  - closing the device returns promptly and releases the tap: the tap
 *    interface disappears once the test closes its own fd too.
 * The kernel log is checked by the runner (scripts/vm/check-log).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kt.h"

#define F(bit) (1ULL << (bit))
#define NUM 16
#define WAIT_MS 2000
#define CLOSE_MS 10000

#define D_NEXT VRING_DESC_F_NEXT
#define D_WRITE VRING_DESC_F_WRITE
#define D_INDIRECT VRING_DESC_F_INDIRECT

struct hostile {
	int q;			/* KT_TXQ or KT_RXQ */
	uint64_t features;
	/* Writes the hostile ring contents (and publishes them). */
	void (*build)(struct kt_net *n, struct kt_vq *vq);
	/* The used ring may be unreadable afterwards. */
	bool no_used_check;
	/*
	 * Also acceptable: the chain is completed like a valid one (one used
	 * entry, id 0, len 0) without an error; why is said where it is set.
	 */
	bool completion_ok;
};

/* A valid buffer of len bytes in guest RAM (a TX frame with its header). */
static uint64_t buffer(struct kt_net *n, uint32_t len)
{
	uint64_t gpa = kt_mem_alloc(&n->dev.mem, len, 64);
	uint8_t *p = kt_gpa(&n->dev.mem, gpa);

	if (len > n->hdr_len + 14)
		kt_frame_test(p + n->hdr_len, n->tap.mac, kt_guest_mac,
			      len - n->hdr_len - 14, 7);
	return gpa;
}

static uint16_t rw(const struct kt_vq *vq)
{
	/* TX buffers are read by the device, RX buffers written. */
	return vq->index == KT_RXQ ? D_WRITE : 0;
}

static struct vring_desc *table(struct kt_net *n, unsigned int entries,
				uint64_t *gpa)
{
	*gpa = kt_mem_alloc(&n->dev.mem, entries * sizeof(struct vring_desc),
			    16);
	return kt_gpa(&n->dev.mem, *gpa);
}

static void build_loop(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, 100), 100, rw(vq) | D_NEXT, 1);
	kt_vq_raw_desc(vq, 1, buffer(n, 100), 100, rw(vq) | D_NEXT, 2);
	kt_vq_raw_desc(vq, 2, buffer(n, 100), 100, rw(vq) | D_NEXT, 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_self_loop(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 5, buffer(n, 100), 100, rw(vq) | D_NEXT, 5);
	kt_vq_raw_publish(vq, 5);
}

static void build_head_num(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, 100), 100, rw(vq), 0);
	kt_vq_raw_publish(vq, NUM);
}

static void build_head_ffff(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, 100), 100, rw(vq), 0);
	kt_vq_raw_publish(vq, 0xffff);
}

static void build_next_num(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, 100), 100, rw(vq) | D_NEXT, NUM);
	kt_vq_raw_publish(vq, 0);
}

static void build_gpa_outside(struct kt_net *n, struct kt_vq *vq)
{
	/* Below guest RAM: no region covers it. */
	kt_vq_raw_desc(vq, 0, 0x1000, 100, rw(vq), 0);
	kt_vq_raw_publish(vq, 0);
	(void)n;
}

static void build_gpa_straddle(struct kt_net *n, struct kt_vq *vq)
{
	/* Starts inside guest RAM, runs past its end. */
	kt_vq_raw_desc(vq, 0, n->dev.mem.gpa + n->dev.mem.size - 40, 100,
		       rw(vq), 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_gpa_wrap(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, 0xfffffffffffffff0ULL, 0x100, rw(vq), 0);
	kt_vq_raw_publish(vq, 0);
	(void)n;
}

static void build_hva_as_gpa(struct kt_net *n, struct kt_vq *vq)
{
	/* The buffer's address in this process, not in the guest: only a
	 * device that confuses the two would find memory there. */
	uint64_t gpa = buffer(n, 100);

	kt_vq_raw_desc(vq, 0, (uintptr_t)kt_gpa(&n->dev.mem, gpa), 100,
		       rw(vq), 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_nested_indirect(struct kt_net *n, struct kt_vq *vq)
{
	uint64_t t1, t2;
	struct vring_desc *d1 = table(n, 2, &t1), *d2 = table(n, 1, &t2);

	d2[0] = (struct vring_desc){ buffer(n, 100), 100, rw(vq), 0 };
	d1[0] = (struct vring_desc){ t2, 16, D_INDIRECT, 0 };
	d1[1] = (struct vring_desc){ buffer(n, 100), 100, rw(vq), 0 };
	kt_vq_raw_desc(vq, 0, t1, 32, D_INDIRECT, 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_indirect_len(struct kt_net *n, struct kt_vq *vq)
{
	uint64_t t1;
	struct vring_desc *d1 = table(n, 2, &t1);

	d1[0] = (struct vring_desc){ buffer(n, 100), 100, rw(vq) | D_NEXT, 1 };
	d1[1] = (struct vring_desc){ buffer(n, 100), 100, rw(vq), 0 };
	kt_vq_raw_desc(vq, 0, t1, 20, D_INDIRECT, 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_indirect_zero(struct kt_net *n, struct kt_vq *vq)
{
	uint64_t t1;

	table(n, 1, &t1);
	kt_vq_raw_desc(vq, 0, t1, 0, D_INDIRECT, 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_indirect_outside(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, 0x2000, 64, D_INDIRECT, 0);
	kt_vq_raw_publish(vq, 0);
	(void)n;
}

static void build_indirect_loop(struct kt_net *n, struct kt_vq *vq)
{
	uint64_t t1;
	struct vring_desc *d1 = table(n, 3, &t1);

	d1[0] = (struct vring_desc){ buffer(n, 64), 64, rw(vq) | D_NEXT, 1 };
	d1[1] = (struct vring_desc){ buffer(n, 64), 64, rw(vq) | D_NEXT, 2 };
	d1[2] = (struct vring_desc){ buffer(n, 64), 64, rw(vq) | D_NEXT, 0 };
	kt_vq_raw_desc(vq, 0, t1, 48, D_INDIRECT, 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_indirect_next_out(struct kt_net *n, struct kt_vq *vq)
{
	uint64_t t1;
	struct vring_desc *d1 = table(n, 2, &t1);

	d1[0] = (struct vring_desc){ buffer(n, 64), 64, rw(vq) | D_NEXT, 7 };
	d1[1] = (struct vring_desc){ buffer(n, 64), 64, rw(vq), 0 };
	kt_vq_raw_desc(vq, 0, t1, 32, D_INDIRECT, 0);
	kt_vq_raw_publish(vq, 0);
}

/* More descriptors than any device keeps iovecs for (upstream: 1024). */
static void build_indirect_many(struct kt_net *n, struct kt_vq *vq)
{
	const unsigned int count = 1100;
	uint64_t t1, buf = buffer(n, count * 8);
	struct vring_desc *d1 = table(n, count, &t1);
	unsigned int i;

	/* 8-byte pieces with 8-byte gaps: none can be merged. */
	for (i = 0; i < count; i++)
		d1[i] = (struct vring_desc){ buf + (i % (count / 2)) * 16, 8,
					     rw(vq) | (i + 1 < count ? D_NEXT : 0),
					     i + 1 < count ? i + 1 : 0 };
	kt_vq_raw_desc(vq, 0, t1, count * 16, D_INDIRECT, 0);
	kt_vq_raw_publish(vq, 0);
}

/* An indirect table of more than 65536 entries. */
static void build_indirect_huge(struct kt_net *n, struct kt_vq *vq)
{
	const unsigned int count = 65536 + 16;
	uint64_t t1;
	struct vring_desc *d1 = table(n, count, &t1);
	uint64_t buf = buffer(n, 64);
	unsigned int i;

	for (i = 0; i < count; i++)
		d1[i] = (struct vring_desc){ buf, 64, rw(vq) | D_NEXT,
					     (i + 1) & 0xffff };
	kt_vq_raw_desc(vq, 0, t1, count * 16, D_INDIRECT, 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_avail_jump(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, 100), 100, rw(vq), 0);
	/* One entry's worth of ring written, the index says NUM + 1. */
	vq->avail->ring[0] = 0;
	kt_vq_raw_avail_idx(vq, NUM + 1);
	(void)n;
}

static void build_avail_back(struct kt_net *n, struct kt_vq *vq)
{
	/* The index moves backwards: 0xffff - 0 is far more than NUM. */
	kt_vq_raw_desc(vq, 0, buffer(n, 100), 100, rw(vq), 0);
	kt_vq_raw_avail_idx(vq, 0xfff0);
	(void)n;
}

static void build_out_after_in(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, 100), 100, D_NEXT, 1);
	kt_vq_raw_desc(vq, 1, buffer(n, 100), 100, D_WRITE | D_NEXT, 2);
	kt_vq_raw_desc(vq, 2, buffer(n, 100), 100, 0, 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_indirect_out_after_in(struct kt_net *n, struct kt_vq *vq)
{
	uint64_t t1;
	struct vring_desc *d1 = table(n, 2, &t1);

	d1[0] = (struct vring_desc){ buffer(n, 64), 64, D_WRITE | D_NEXT, 1 };
	d1[1] = (struct vring_desc){ buffer(n, 64), 64, 0, 0 };
	kt_vq_raw_desc(vq, 0, t1, 32, D_INDIRECT, 0);
	kt_vq_raw_publish(vq, 0);
}

/* TX wants only out buffers, RX only in buffers. */
static void build_wrong_direction(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, 1500), 1500, rw(vq) ^ D_WRITE, 0);
	kt_vq_raw_publish(vq, 0);
}

static void build_tx_empty(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, 64), 0, 0, 0);
	kt_vq_raw_publish(vq, 0);
}

/* The descriptor table, avail and used ring vanish from the process. */
static void build_unmapped(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, 100), 100, rw(vq), 0);
	kt_vq_raw_publish(vq, 0);
	munmap(n->dev.mem.hva, n->dev.mem.size);
	n->dev.mem.hva = NULL;
}

/* A valid frame, but the used ring cannot be written. */
static void build_used_readonly(struct kt_net *n, struct kt_vq *vq)
{
	kt_vq_raw_desc(vq, 0, buffer(n, n->hdr_len + 100), n->hdr_len + 100,
		       rw(vq), 0);
	mprotect(vq->used, 4096, PROT_READ);
	kt_vq_raw_publish(vq, 0);
}

struct closer {
	int fd;
	int done;
};

static void *close_thread(void *arg)
{
	struct closer *c = arg;

	close(c->fd);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* close() the device on a thread so a hang is reported, not waited for. */
static int close_device(struct kt_dev *d)
{
	struct closer *c = calloc(1, sizeof(*c));
	long deadline = kt_deadline(CLOSE_MS);
	pthread_t th;

	c->fd = d->fd;
	d->fd = -1;
	if (pthread_create(&th, NULL, close_thread, c))
		return kt_fail("pthread_create");
	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		if (kt_now_ms() > deadline)
			return kt_fail("close() of the device did not return within %d ms",
				       CLOSE_MS);
		kt_sleep_ms(5);
	}
	pthread_join(th, NULL);
	free(c);
	return KT_PASS;
}

static int case_hostile(const struct kt_target *t)
{
	const struct hostile *h = kt_case_data();
	uint64_t feat = F(VIRTIO_F_VERSION_1) | h->features;
	struct kt_net n;
	struct kt_vq *vq;
	uint8_t frame[256];
	size_t len;
	uint64_t errs;
	int r;

	r = kt_net_open(&n, t, feat, NUM, 2048, 0);
	if (r != KT_PASS)
		return r;
	vq = &n.dev.vq[h->q];
	if (h->q == KT_RXQ) {
		/* A frame waits in the tap for the hostile RX ring. */
		len = kt_frame_test(frame, kt_guest_mac, n.tap.mac, 100, 1);
		KT_ASSERT(kt_packet_send(n.psock, n.tap.ifindex, frame, len) == 0,
			  "inject");
		kt_sleep_ms(100);
	}
	kt_eventfd_drain(vq->err);
	h->build(&n, vq);
	kt_vq_kick(vq);
	r = kt_wait_readable(vq->err, WAIT_MS);
	if (r != 1 && h->completion_ok) {
		/* Raw read: the hand-written chain is not in the driver's
		 * bookkeeping. */
		uint16_t idx = kt_vq_used_idx(vq);
		uint32_t id = vq->used->ring[0].id, ulen = vq->used->ring[0].len;

		KT_ASSERT(idx == 1, "neither an error nor one used entry within %d ms (used->idx %u)",
			  WAIT_MS, idx);
		KT_ASSERT(id == 0 && ulen == 0, "used entry {%u, %u}", id, ulen);
		kt_diag("no error signalled: the chain was completed (used len 0)");
		KT_TRY(close_device(&n.dev));
		KT_TRY(kt_net_tap_gone(&n, WAIT_MS));
		kt_net_close(&n);
		return KT_PASS;
	}
	KT_ASSERT(r == 1, "the error eventfd did not fire within %d ms", WAIT_MS);
	errs = kt_eventfd_drain(vq->err);
	kt_diag("error eventfd count %llu", (unsigned long long)errs);
	if (!h->no_used_check) {
		/* Give a broken device time to write something it should not. */
		kt_sleep_ms(100);
		KT_ASSERT(kt_vq_used_idx(vq) == 0,
			  "used->idx is %u after a malformed chain",
			  kt_vq_used_idx(vq));
	}
	/* The other ring is unaffected (when memory is still there). */
	if (n.dev.mem.hva && h->q == KT_RXQ) {
		struct kt_vq *tx = &n.dev.vq[KT_TXQ];

		len = kt_frame_test(frame, n.tap.mac, kt_guest_mac, 100, 2);
		KT_ASSERT(kt_net_tx(&n, frame, len, false) >= 0, "tx");
		KT_ASSERT(kt_vq_wait_used(tx, NULL, NULL, NULL, WAIT_MS) == 1,
			  "TX ring stalled by the hostile RX ring");
	}
	KT_TRY(close_device(&n.dev));
	KT_TRY(kt_net_tap_gone(&n, WAIT_MS));
	kt_net_close(&n);
	return KT_PASS;
}

#define TX(fn) { KT_TXQ, 0, fn, false }
#define TXF(fn, f) { KT_TXQ, f, fn, false }
#define RX(fn) { KT_RXQ, 0, fn, false }
#define F_IND F(VIRTIO_RING_F_INDIRECT_DESC)

static const struct hostile h_loop = TX(build_loop);
static const struct hostile h_self_loop = TX(build_self_loop);
static const struct hostile h_head_num = TX(build_head_num);
static const struct hostile h_head_ffff = TX(build_head_ffff);
static const struct hostile h_next_num = TX(build_next_num);
static const struct hostile h_gpa_outside = TX(build_gpa_outside);
static const struct hostile h_gpa_straddle = TX(build_gpa_straddle);
static const struct hostile h_gpa_wrap = TX(build_gpa_wrap);
static const struct hostile h_hva_as_gpa = TX(build_hva_as_gpa);
static const struct hostile h_nested = TXF(build_nested_indirect, F_IND);
static const struct hostile h_ind_len = TXF(build_indirect_len, F_IND);
static const struct hostile h_ind_zero = TXF(build_indirect_zero, F_IND);
static const struct hostile h_ind_outside = TXF(build_indirect_outside, F_IND);
static const struct hostile h_ind_loop = TXF(build_indirect_loop, F_IND);
/* Upstream reads an indirect table sequentially and only looks at NEXT, not
 * at next's value: to it this is a valid two-descriptor chain. */
static const struct hostile h_ind_next = { KT_TXQ, F_IND,
					   build_indirect_next_out, false,
					   true };
static const struct hostile h_ind_many = TXF(build_indirect_many, F_IND);
static const struct hostile h_ind_huge = TXF(build_indirect_huge, F_IND);
static const struct hostile h_avail_jump = TX(build_avail_jump);
static const struct hostile h_avail_back = TX(build_avail_back);
static const struct hostile h_out_after_in = TX(build_out_after_in);
static const struct hostile h_ind_out_after_in =
	TXF(build_indirect_out_after_in, F_IND);
static const struct hostile h_tx_in = TX(build_wrong_direction);
/* Upstream signals the error (and leaks the head); kvio drops a TX chain
 * with nothing past the header and completes it, on purpose, so the ring
 * keeps going (vhost_net/tx.c). */
static const struct hostile h_tx_empty = { KT_TXQ, 0, build_tx_empty, false,
					   true };
static const struct hostile h_tx_empty_vhdr = {
	KT_TXQ, F(VHOST_NET_F_VIRTIO_NET_HDR), build_tx_empty, false, true };
static const struct hostile h_unmapped = { KT_TXQ, 0, build_unmapped, true };
static const struct hostile h_used_ro = { KT_TXQ, 0, build_used_readonly,
					  true };
static const struct hostile h_rx_loop = RX(build_loop);
static const struct hostile h_rx_head = RX(build_head_num);
static const struct hostile h_rx_outside = RX(build_gpa_outside);
static const struct hostile h_rx_out = RX(build_wrong_direction);
static const struct hostile h_rx_nested = { KT_RXQ, F_IND,
					    build_nested_indirect, false };
static const struct hostile h_rx_avail_jump = RX(build_avail_jump);
static const struct hostile h_rx_unmapped = { KT_RXQ, 0, build_unmapped,
					      true };

#define C(name, h) { name, case_hostile, 0, &h }

static const struct kt_case cases[] = {
	C("TX descriptor loop 0 -> 1 -> 2 -> 0", h_loop),
	C("TX descriptor chained to itself", h_self_loop),
	C("TX avail head == num", h_head_num),
	C("TX avail head 0xffff", h_head_ffff),
	C("TX next == num", h_next_num),
	C("TX buffer GPA outside the memory table", h_gpa_outside),
	C("TX buffer running past the end of guest RAM", h_gpa_straddle),
	C("TX buffer GPA + len wrapping 2^64", h_gpa_wrap),
	C("TX buffer given by its HVA instead of its GPA", h_hva_as_gpa),
	C("TX nested indirect table", h_nested),
	C("TX indirect len not a multiple of 16", h_ind_len),
	C("TX zero-length indirect table", h_ind_zero),
	C("TX indirect table outside the memory table", h_ind_outside),
	C("TX loop inside an indirect table", h_ind_loop),
	C("TX indirect next beyond the table (upstream: read sequentially)",
	  h_ind_next),
	C("TX indirect chain of 1100 descriptors", h_ind_many),
	C("TX indirect table of more than 65536 entries", h_ind_huge),
	C("TX avail idx jumping by more than num", h_avail_jump),
	C("TX avail idx moving backwards", h_avail_back),
	C("TX out-buffer after an in-buffer", h_out_after_in),
	C("TX out-buffer after an in-buffer inside an indirect table",
	  h_ind_out_after_in),
	C("TX chain of device-writable buffers only", h_tx_in),
	C("TX zero-length buffer, tap header (kvio: completed, no error)",
	  h_tx_empty),
	C("TX zero-length buffer, device header (kvio: completed, no error)",
	  h_tx_empty_vhdr),
	C("TX rings unmapped from the process after attach", h_unmapped),
	C("TX used ring read-only after attach", h_used_ro),
	C("RX descriptor loop", h_rx_loop),
	C("RX avail head == num", h_rx_head),
	C("RX buffer GPA outside the memory table", h_rx_outside),
	C("RX device-readable buffer", h_rx_out),
	C("RX nested indirect table", h_rx_nested),
	C("RX avail idx jumping by more than num", h_rx_avail_jump),
	C("RX rings unmapped from the process after attach", h_rx_unmapped),
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
