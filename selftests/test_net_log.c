// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_net_log: the dirty log (live migration) through the vhost-net data
 * path.
 *
 * With VHOST_F_LOG_ALL acked the device marks, in a bitmap the VMM gave with
 * VHOST_SET_LOG_BASE (one bit per 4 KiB guest-physical page, bit n = page n),
 * every guest page it writes: the bytes of RX buffers it filled and, on a ring
 * whose address carries VHOST_VRING_F_LOG, the used ring at log_guest_addr;
 * then it signals the VHOST_SET_LOG_FD eventfd.  A page it only read (TX
 * buffers, descriptor tables, the avail ring) or a buffer byte it did not
 * write must stay clear: the VMM would resend it for nothing, and a device
 * that logs what it did not write usually logs from the wrong length.
 *
 * Layout: each ring's used ring is moved so that flags, idx and entry 0 end
 * one page and entry 1 starts the next, so the test knows exactly which used
 * page each write dirties.  The bitmap covers guest-physical 0 up to the end
 * of guest RAM (KT_GPA_BASE + KT_MEM_SIZE), and every case checks all of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kt.h"

#define F(bit) (1ULL << (bit))
#define F_LOG_ALL F(VHOST_F_LOG_ALL)
#define F_VHOST_HDR F(VHOST_NET_F_VIRTIO_NET_HDR)
#define F_V1 F(VIRTIO_F_VERSION_1)
#define F_MRG F(VIRTIO_NET_F_MRG_RXBUF)
#define F_INDIRECT F(VIRTIO_RING_F_INDIRECT_DESC)

#define WAIT_MS 2000
#define QUIET_MS 300		/* how long "nothing happens" is watched */
#define SETTLE_MS 100		/* late bits looked for once the wanted ones are in */

#define PG 4096ULL		/* the log's page, whatever the host's is */
#define NUM 64			/* ring size */
/* Bitmap bytes for guest-physical 0 .. end of guest RAM. */
#define LOG_BYTES ((size_t)((KT_GPA_BASE + KT_MEM_SIZE) / PG / 8))
/* A user address the kernel never writes for us (the kernel half). */
#define KERNEL_ADDR 0xffff888000000000ULL

/* How log_open() configures the log. */
enum {
	LOG_AT_START = 1 << 0,	/* base, fd, LOG_ALL, ring flags before attach */
	LOG_RING_RX = 1 << 1,	/* VHOST_VRING_F_LOG on the RX ring */
	LOG_RING_TX = 1 << 2,	/* VHOST_VRING_F_LOG on the TX ring */
	LOG_RING_BOTH = LOG_RING_RX | LOG_RING_TX,
	LOG_BITMAP_RO = 1 << 3,	/* bitmap mapped read-only */
	LOG_NO_BACKEND = 1 << 4,	/* leave both rings without backend */
};

#define MAX_REGIONS 32

struct region {
	uint64_t gpa, len;
	const char *name;
};

/* A vhost-net device with a tap, a dirty bitmap and a log eventfd. */
struct logt {
	struct kt_net n;
	uint64_t features;	/* what the device runs with, LOG_ALL aside */
	uint8_t *bitmap;
	size_t map_len;
	int efd;
	struct region reg[MAX_REGIONS];	/* guest RAM by purpose, for diagnostics */
	unsigned int nreg;
	bool ring_log[2];	/* VHOST_VRING_F_LOG as last set */
};

/* Pages the test expects to be marked, each with why. */
struct pageset {
	uint64_t pg[64];
	const char *why[64];
	unsigned int n;
};

static void add_region(struct logt *L, uint64_t gpa, uint64_t len,
		       const char *name)
{
	if (L->nreg < MAX_REGIONS)
		L->reg[L->nreg++] = (struct region){ gpa, len, name };
}

static const char *gpa_name(struct logt *L, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < L->nreg; i++)
		if (gpa >= L->reg[i].gpa && gpa - L->reg[i].gpa < L->reg[i].len)
			return L->reg[i].name;
	if (gpa >= KT_GPA_BASE && gpa - KT_GPA_BASE < KT_MEM_SIZE)
		return "other guest RAM";
	return "outside guest RAM";
}

/* Page-aligned guest RAM for pages whole pages. */
static uint64_t alloc_pages(struct logt *L, unsigned int pages,
			    const char *name)
{
	uint64_t gpa = kt_mem_alloc(&L->n.dev.mem, pages * PG, PG);

	if (gpa)
		add_region(L, gpa, pages * PG, name);
	return gpa;
}

static void ps_add(struct pageset *s, uint64_t gpa, uint64_t len,
		   const char *why)
{
	uint64_t p, i;

	if (!len)
		return;
	for (p = gpa / PG; p <= (gpa + len - 1) / PG; p++) {
		for (i = 0; i < s->n; i++)
			if (s->pg[i] == p)
				break;
		if (i == s->n && s->n < 64) {
			s->pg[s->n] = p;
			s->why[s->n++] = why;
		}
	}
}

static bool ps_has(const struct pageset *s, uint64_t p)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (s->pg[i] == p)
			return true;
	return false;
}

/*
 * The used-ring bytes a device writes for entries [first, first + count):
 * flags and idx (the first 4 bytes) and the entries themselves.
 */
static void ps_add_used(struct pageset *s, struct kt_vq *vq,
			unsigned int first, unsigned int count, const char *why)
{
	unsigned int i;

	ps_add(s, vq->used_gpa, 4, why);
	for (i = first; i < first + count; i++)
		ps_add(s, vq->used_gpa + 4 + 8ULL * (i % vq->num), 8, why);
}

static bool bit_set(const struct logt *L, uint64_t page)
{
	uint8_t b = __atomic_load_n(&L->bitmap[page / 8], __ATOMIC_RELAXED);

	return b & (1u << (page % 8));
}

/*
 * Report every marked page not in want; returns how many.  A ring with the
 * log flag may also have its used flags' page marked at any time: the
 * device rewrites the flags whenever it turns notifications on or off, and
 * it does so when woken for either direction (a received packet frees
 * socket send space, which wakes TX).
 */
static unsigned int extra_bits(struct logt *L, const struct pageset *want,
			       const char *when)
{
	struct pageset flags = { .n = 0 };
	unsigned int extra = 0, k;
	size_t i;

	for (k = 0; k < 2; k++)
		if (L->ring_log[k])
			ps_add(&flags, L->n.dev.vq[k].used_gpa, 2,
			       "used flags");

	for (i = 0; i < LOG_BYTES; i++) {
		uint8_t b = __atomic_load_n(&L->bitmap[i], __ATOMIC_RELAXED);

		if (!b)
			continue;
		for (k = 0; k < 8; k++) {
			uint64_t p = i * 8 + k;

			if (!(b & (1u << k)) || ps_has(want, p) ||
			    ps_has(&flags, p))
				continue;
			if (extra++ < 16)
				kt_diag("%s: page at GPA 0x%llx (%s) marked, the device never wrote it",
					when, (unsigned long long)(p * PG),
					gpa_name(L, p * PG));
		}
	}
	return extra;
}

/*
 * The bitmap holds exactly want: wait (bounded) for the wanted bits, give
 * late writes SETTLE_MS, then check every byte of the bitmap.
 */
static int expect_bits(struct logt *L, const struct pageset *want,
		       const char *when)
{
	long deadline = kt_deadline(WAIT_MS);
	unsigned int i, missing, extra;

	for (;;) {
		missing = 0;
		for (i = 0; i < want->n; i++)
			if (!bit_set(L, want->pg[i]))
				missing++;
		if (!missing || kt_now_ms() > deadline)
			break;
		kt_sleep_ms(5);
	}
	kt_sleep_ms(SETTLE_MS);
	missing = 0;
	for (i = 0; i < want->n; i++) {
		if (bit_set(L, want->pg[i]))
			continue;
		missing++;
		kt_diag("%s: page at GPA 0x%llx (%s) written but not marked",
			when, (unsigned long long)(want->pg[i] * PG),
			want->why[i]);
	}
	extra = extra_bits(L, want, when);
	if (missing || extra)
		return kt_fail("%s: %u written page(s) not marked, %u marked page(s) not written",
			       when, missing, extra);
	return KT_PASS;
}

static int expect_log_signal(struct logt *L, const char *when)
{
	if (kt_wait_eventfd(L->efd, WAIT_MS) != 1)
		return kt_fail("%s: the log eventfd did not fire within %d ms",
			       when, WAIT_MS);
	return KT_PASS;
}

/* The bitmap holds exactly want, and the log eventfd fired. */
static int expect_logged(struct logt *L, const struct pageset *want,
			 const char *when)
{
	KT_TRY(expect_bits(L, want, when));
	return expect_log_signal(L, when);
}

static int expect_log_quiet(struct logt *L, const char *when)
{
	if (kt_wait_readable(L->efd, QUIET_MS) != 0)
		return kt_fail("%s: the log eventfd fired (count %llu) with nothing to log",
			       when, (unsigned long long)kt_eventfd_drain(L->efd));
	return KT_PASS;
}

static int expect_no_error(struct logt *L)
{
	int i;

	for (i = 0; i < 2; i++)
		if (kt_wait_readable(L->n.dev.vq[i].err, 0) != 0)
			return kt_fail("ring %d signalled its error eventfd", i);
	return KT_PASS;
}

/* The VMM reads and clears the bitmap; nothing is logging while we do. */
static void log_clear(struct logt *L)
{
	memset(L->bitmap, 0, LOG_BYTES);
	kt_eventfd_drain(L->efd);
}

/* SET_VRING_ADDR with the ring's current addresses and the log flag. */
static int ring_addr(struct logt *L, unsigned int idx, bool log,
		     uint64_t log_addr)
{
	struct kt_vq *vq = &L->n.dev.vq[idx];
	struct vhost_vring_addr a;

	memset(&a, 0, sizeof(a));
	a.index = idx;
	a.flags = log ? 1u << VHOST_VRING_F_LOG : 0;
	a.desc_user_addr = (uintptr_t)vq->desc;
	a.avail_user_addr = (uintptr_t)vq->avail;
	a.used_user_addr = (uintptr_t)vq->used;
	a.log_guest_addr = log_addr;
	if (ioctl(L->n.dev.fd, VHOST_SET_VRING_ADDR, &a) < 0)
		return -errno;
	L->ring_log[idx] = log;
	return 0;
}

static int set_features(struct logt *L, uint64_t f)
{
	return ioctl(L->n.dev.fd, VHOST_SET_FEATURES, &f) < 0 ? -errno : 0;
}

static int set_log_base(struct logt *L, uint64_t base)
{
	return ioctl(L->n.dev.fd, VHOST_SET_LOG_BASE, &base) < 0 ? -errno : 0;
}

static int set_log_fd(struct logt *L, int fd)
{
	return ioctl(L->n.dev.fd, VHOST_SET_LOG_FD, &fd) < 0 ? -errno : 0;
}

/*
 * Move ring idx's used ring so that flags, idx and entry 0 are the last 12
 * bytes of one page and entry 1 starts the next.
 */
static int split_used(struct logt *L, unsigned int idx)
{
	static const char *const names[2][2] = {
		{ "RX used ring (flags, idx, entry 0)", "RX used ring (entries 1..)" },
		{ "TX used ring (flags, idx, entry 0)", "TX used ring (entries 1..)" },
	};
	struct kt_vq *vq = &L->n.dev.vq[idx];
	uint64_t area = kt_mem_alloc(&L->n.dev.mem, 2 * PG, PG);

	if (!area)
		return -ENOMEM;
	add_region(L, area, PG, names[idx][0]);
	add_region(L, area + PG, PG, names[idx][1]);
	vq->used_gpa = area + PG - 12;
	vq->used = kt_gpa(&L->n.dev.mem, vq->used_gpa);
	vq->used->idx = vq->last_used;
	return 0;
}

/*
 * Like kt_net_open() (num NUM, base 0), with the dirty log: the bitmap and
 * the log eventfd always exist; with LOG_AT_START the device gets them,
 * LOG_ALL and the ring flags before its backend is attached (QEMU starting
 * a device during a migration).  The bitmap is clear and the log eventfd
 * drained on return.
 */
static int log_open(struct logt *L, const struct kt_target *t,
		    uint64_t features, unsigned int flags)
{
	static const char *const ring_names[2][4] = {
		{ "RX descriptor table", "RX avail ring", "RX used ring (unused)",
		  "RX indirect tables" },
		{ "TX descriptor table", "TX avail ring", "TX used ring (unused)",
		  "TX indirect tables" },
	};
	struct kt_net *n = &L->n;
	struct kt_vq *vq;
	int r, i;

	memset(L, 0, sizeof(*L));
	n->psock = -1;
	n->tap.fd = -1;
	n->dev.fd = -1;
	n->dev.mem.fd = -1;
	L->efd = -1;
	L->features = features;

	L->map_len = (LOG_BYTES + PG - 1) & ~(PG - 1);
	L->bitmap = mmap(NULL, L->map_len, PROT_READ |
			 (flags & LOG_BITMAP_RO ? 0 : PROT_WRITE),
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (L->bitmap == MAP_FAILED) {
		L->bitmap = NULL;
		return kt_fail("bitmap mmap: %m");
	}
	L->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (L->efd < 0)
		return kt_fail("eventfd: %m");

	r = kt_net_open_dev(n, t, features,
			    flags & LOG_AT_START ? F_LOG_ALL : 0);
	if (r != KT_PASS)
		return r;
	if (flags & LOG_AT_START) {
		r = set_log_base(L, (uintptr_t)L->bitmap);
		if (r)
			return kt_fail("VHOST_SET_LOG_BASE: %s", kt_errname(-r));
		r = set_log_fd(L, L->efd);
		if (r)
			return kt_fail("VHOST_SET_LOG_FD: %s", kt_errname(-r));
	}
	for (i = 0; i < 2; i++) {
		r = kt_vq_setup(&n->dev, i, NUM, 0);
		if (r)
			return kt_fail("ring %d setup: %s", i, kt_errname(-r));
		vq = &n->dev.vq[i];
		add_region(L, vq->desc_gpa, 16 * NUM, ring_names[i][0]);
		add_region(L, vq->avail_gpa, 6 + 2 * NUM, ring_names[i][1]);
		add_region(L, vq->used_gpa, 6 + 8 * NUM, ring_names[i][2]);
		add_region(L, vq->indirect_gpa,
			   NUM * KT_INDIRECT_MAX * sizeof(struct vring_desc),
			   ring_names[i][3]);
		if (split_used(L, i))
			return kt_fail("guest RAM exhausted");
		r = ring_addr(L, i, (flags & LOG_AT_START) &&
			      (flags & (i == KT_RXQ ? LOG_RING_RX : LOG_RING_TX)),
			      vq->used_gpa);
		if (r)
			return kt_fail("ring %d VHOST_SET_VRING_ADDR: %s", i,
				       kt_errname(-r));
	}
	if (kt_pool_init(&n->txpool, &n->dev.mem, NUM, KT_TX_BUF) ||
	    kt_pool_init(&n->rxpool, &n->dev.mem, 1, 64))
		return kt_fail("buffer pools do not fit in guest RAM");
	add_region(L, n->txpool.gpa, (uint64_t)NUM * KT_TX_BUF, "TX buffers");
	if (!(flags & LOG_NO_BACKEND))
		KT_TRY(kt_net_attach(n));
	/* Attaching may log the used flags it wrote: the VMM's problem. */
	if (!(flags & LOG_BITMAP_RO))
		log_clear(L);
	return KT_PASS;
}

static void log_close(struct logt *L)
{
	kt_net_close(&L->n);
	if (L->bitmap)
		munmap(L->bitmap, L->map_len);
	if (L->efd >= 0)
		close(L->efd);
	L->bitmap = NULL;
	L->efd = -1;
}

/* The end of a case: no ring signalled an error; the device goes. */
static int log_done(struct logt *L)
{
	int r = expect_no_error(L);

	log_close(L);
	return r;
}

/*
 * Switch logging on or off on a running device the way QEMU does: on, the
 * base and eventfd, then LOG_ALL, then each ring's log flag; off, LOG_ALL
 * then the flags.
 */
static int log_live(struct logt *L, bool on)
{
	int r, i;

	if (on) {
		r = set_log_base(L, (uintptr_t)L->bitmap);
		if (r)
			return kt_fail("VHOST_SET_LOG_BASE: %s", kt_errname(-r));
		r = set_log_fd(L, L->efd);
		if (r)
			return kt_fail("VHOST_SET_LOG_FD: %s", kt_errname(-r));
	}
	r = set_features(L, L->features | (on ? F_LOG_ALL : 0));
	if (r)
		return kt_fail("VHOST_SET_FEATURES %s LOG_ALL: %s",
			       on ? "with" : "without", kt_errname(-r));
	for (i = 0; i < 2; i++) {
		r = ring_addr(L, i, on, L->n.dev.vq[i].used_gpa);
		if (r)
			return kt_fail("ring %d VHOST_SET_VRING_ADDR, log flag %s: %s",
				       i, on ? "on" : "off", kt_errname(-r));
	}
	return KT_PASS;
}

/* Publish one RX chain of writable buffers and kick; returns the head. */
static int rx_post(struct logt *L, const struct kt_buf *b, unsigned int nb,
		   bool indirect)
{
	struct kt_vq *vq = &L->n.dev.vq[KT_RXQ];
	int head = kt_vq_add(vq, NULL, 0, b, nb, indirect, 0);

	if (head < 0)
		return kt_fail("posting an RX chain: %s", kt_errname(-head));
	kt_vq_kick(vq);
	return head;
}

/*
 * Inject a test frame of flen bytes from the tap and wait for it on the RX
 * ring: one used entry for head, length header + frame, and the frame in the
 * chain's buffers b[0 .. nb) (zero-length ones skipped).
 */
static int rx_expect(struct logt *L, size_t flen, uint32_t seed, int head,
		     const struct kt_buf *b, unsigned int nb)
{
	struct kt_net *n = &L->n;
	uint8_t frame[2048], got[4096];
	size_t len, off = 0, want_len;
	uint32_t id, ulen;
	unsigned int i;
	int r;

	len = kt_frame_test(frame, kt_guest_mac, n->tap.mac, flen - 14, seed);
	r = kt_packet_send(n->psock, n->tap.ifindex, frame, len);
	if (r)
		return kt_fail("injecting a %zu-byte frame: %s", len,
			       strerror(-r));
	r = kt_vq_wait_used(&n->dev.vq[KT_RXQ], &id, &ulen, NULL, WAIT_MS);
	if (r < 0)
		return kt_fail("RX used ring: %s", kt_errname(-r));
	if (r == 0)
		return kt_fail("the %zu-byte frame did not reach the RX ring within %d ms%s",
			       len, WAIT_MS,
			       kt_wait_readable(n->dev.vq[KT_RXQ].err, 0) > 0 ?
			       " (the RX ring signalled its error eventfd)" : "");
	want_len = n->hdr_len + len;
	if ((int)id != head || ulen != want_len)
		return kt_fail("RX used entry id %u len %u, want id %d len %zu",
			       id, ulen, head, want_len);
	for (i = 0; i < nb && off < want_len; i++) {
		size_t part = b[i].len < want_len - off ? b[i].len :
			      want_len - off;

		memcpy(got + off, kt_gpa(&n->dev.mem, b[i].gpa), part);
		off += part;
	}
	if (!kt_bytes_equal(got + n->hdr_len, off - n->hdr_len, frame, len,
			    "received frame"))
		return kt_fail("the frame in the RX buffers differs from the one injected");
	return KT_PASS;
}

/* Send a test frame through the TX ring, see it on the tap, reap it. */
static int tx_one(struct logt *L, size_t flen, uint32_t seed, bool indirect)
{
	struct kt_net *n = &L->n;
	uint8_t frame[2048], got[2048];
	size_t len;
	ssize_t r2;
	int r;

	len = kt_frame_test(frame, n->tap.mac, kt_guest_mac, flen - 14, seed);
	r = kt_net_tx(n, frame, len, indirect);
	if (r < 0)
		return kt_fail("posting a TX frame: %s", kt_errname(-r));
	r2 = kt_packet_recv(n->psock, got, sizeof(got), KT_ETH_P_TEST, WAIT_MS);
	if (r2 <= 0)
		return kt_fail("the TX frame did not appear on the tap (%zd)", r2);
	if (!kt_bytes_equal(got, r2, frame, len, "frame on the tap"))
		return kt_fail("the frame on the tap differs from the one sent");
	return kt_net_tx_reap(n, 1, WAIT_MS);
}

/* ------------------------------------------------------------- cases */

/*
 * RX with LOG_ALL from the start: a 3-page buffer that a short frame fills
 * only the start of logs its first page; a frame that crosses a page
 * boundary inside a buffer logs both pages and no more; the used ring's
 * pages as entries land on them.
 */
static int case_rx_log(const struct kt_target *t)
{
	const uint64_t *pf = kt_case_data();
	struct kt_buf a, b;
	struct pageset want = { .n = 0 };
	struct logt L;
	struct kt_vq *rx;
	int ha, hb;

	KT_TRY(log_open(&L, t, *pf, LOG_AT_START | LOG_RING_BOTH));
	rx = &L.n.dev.vq[KT_RXQ];
	a.gpa = alloc_pages(&L, 3, "RX buffer A (3 pages)");
	b.gpa = alloc_pages(&L, 4, "RX buffer B (3 pages from offset 4000)");
	KT_ASSERT(a.gpa && b.gpa, "guest RAM exhausted");
	a.len = 3 * PG;
	b.gpa += 4000;
	b.len = 3 * PG;
	ha = rx_post(&L, &a, 1, false);
	hb = rx_post(&L, &b, 1, false);
	KT_ASSERT(ha >= 0 && hb >= 0, "posting");

	/* header + 100 bytes: the first page of A only. */
	KT_TRY(rx_expect(&L, 100, 1, ha, &a, 1));
	ps_add(&want, a.gpa, L.n.hdr_len + 100, "RX buffer A, bytes written");
	ps_add_used(&want, rx, 0, 1, "RX used ring, entry 0");
	KT_TRY(expect_logged(&L, &want, "after frame 1"));

	/* header + 300 bytes from offset 4000: two pages of B's four. */
	KT_TRY(rx_expect(&L, 300, 2, hb, &b, 1));
	ps_add(&want, b.gpa, L.n.hdr_len + 300, "RX buffer B, bytes written");
	ps_add_used(&want, rx, 1, 1, "RX used ring, entry 1");
	KT_ASSERT(want.n == 5, "test layout: %u pages expected, not 5", want.n);
	KT_TRY(expect_logged(&L, &want, "after frame 2"));
	return log_done(&L);
}

/*
 * Mergeable RX buffers with LOG_ALL: a packet over three of four small
 * buffers (each on its own page) logs the pages of the three it filled, the
 * third only as far as written; the fourth stays clear.
 */
static int case_rx_log_mrg(const struct kt_target *t)
{
	struct pageset want = { .n = 0 };
	struct kt_buf b[4];
	uint64_t area;
	struct logt L;
	struct kt_vq *rx;
	uint32_t id, ulen;
	uint8_t frame[256];
	size_t len;
	int head[4], i, r;
	uint16_t nbufs;

	KT_TRY(log_open(&L, t, F_V1 | F_MRG, LOG_AT_START | LOG_RING_BOTH));
	rx = &L.n.dev.vq[KT_RXQ];
	/*
	 * 0 and 1 on pages 0 and 1; 2 from 40 bytes before the end of page 2
	 * into page 3 (its 34 written bytes stay in page 2); 3 on page 4.
	 */
	area = alloc_pages(&L, 5, "RX buffers 0-3");
	KT_ASSERT(area, "guest RAM exhausted");
	b[0].gpa = area;
	b[1].gpa = area + PG;
	b[2].gpa = area + 3 * PG - 40;
	b[3].gpa = area + 4 * PG;
	for (i = 0; i < 4; i++) {
		b[i].len = 64;
		head[i] = rx_post(&L, &b[i], 1, false);
		KT_ASSERT(head[i] >= 0, "posting");
	}
	/* 12 + 150 bytes: 64 + 64 + 34. */
	len = kt_frame_test(frame, kt_guest_mac, L.n.tap.mac, 150 - 14, 9);
	r = kt_packet_send(L.n.psock, L.n.tap.ifindex, frame, len);
	KT_ASSERT(r == 0, "inject: %s", strerror(-r));
	for (i = 0; i < 3; i++) {
		r = kt_vq_wait_used(rx, &id, &ulen, NULL, WAIT_MS);
		KT_ASSERT(r == 1, "used entry %d of the packet: %d", i, r);
		KT_ASSERT((int)id == head[i] && ulen == (i < 2 ? 64u : 34u),
			  "used entry %d: id %u len %u", i, id, ulen);
	}
	memcpy(&nbufs, (uint8_t *)kt_gpa(&L.n.dev.mem, b[0].gpa) + 10, 2);
	KT_ASSERT(nbufs == 3, "num_buffers %u, want 3", nbufs);
	ps_add(&want, b[0].gpa, 64, "RX buffer 0");
	ps_add(&want, b[1].gpa, 64, "RX buffer 1");
	ps_add(&want, b[2].gpa, 34, "RX buffer 2, first 34 bytes");
	ps_add_used(&want, rx, 0, 3, "RX used ring, entries 0-2");
	KT_ASSERT(want.n == 5, "test layout: %u pages expected, not 5", want.n);
	KT_TRY(expect_logged(&L, &want, "after a 3-buffer packet"));
	return log_done(&L);
}

/*
 * Logging switched on while the device runs (QEMU starting a migration):
 * nothing before, the buffers and used ring writes after.
 */
static int case_rx_log_live(const struct kt_target *t)
{
	struct pageset want = { .n = 0 };
	struct kt_buf a, b;
	struct logt L;
	int ha, hb;

	KT_TRY(log_open(&L, t, F_V1, 0));
	a.gpa = alloc_pages(&L, 1, "RX buffer A");
	b.gpa = alloc_pages(&L, 2, "RX buffer B");
	KT_ASSERT(a.gpa && b.gpa, "guest RAM exhausted");
	a.len = PG;
	b.len = 2 * PG;
	ha = rx_post(&L, &a, 1, false);
	KT_ASSERT(ha >= 0, "posting");
	KT_TRY(rx_expect(&L, 200, 3, ha, &a, 1));

	KT_TRY(log_live(&L, true));
	log_clear(&L);
	hb = rx_post(&L, &b, 1, false);
	KT_ASSERT(hb >= 0, "posting");
	/* header + 1000 bytes into 2 pages: the first. */
	KT_TRY(rx_expect(&L, 1000, 4, hb, &b, 1));
	ps_add(&want, b.gpa, L.n.hdr_len + 1000, "RX buffer B, bytes written");
	ps_add_used(&want, &L.n.dev.vq[KT_RXQ], 1, 1, "RX used ring, entry 1");
	KT_TRY(expect_logged(&L, &want, "after logging was switched on"));
	return log_done(&L);
}

/*
 * TX: the device only reads the buffers (and the indirect tables): the used
 * ring is logged, nothing else.
 */
static int case_tx_log(const struct kt_target *t)
{
	struct pageset want = { .n = 0 };
	struct logt L;
	int i;

	KT_TRY(log_open(&L, t, F_V1 | F_INDIRECT,
			LOG_AT_START | LOG_RING_BOTH));
	for (i = 0; i < 4; i++)
		KT_TRY(tx_one(&L, 200 + 300 * i, 20 + i, i >= 2));
	ps_add_used(&want, &L.n.dev.vq[KT_TXQ], 0, 4, "TX used ring, entries 0-3");
	KT_TRY(expect_logged(&L, &want, "after 4 TX frames"));
	return log_done(&L);
}

/*
 * The device writes 0 bytes into a writable descriptor: one of length 0,
 * and one past the end of a short frame.  Neither is logged.  Then the
 * shape of CVE-2019-14835: an indirect RX chain of 1100 zero-length
 * writable descriptors and one real buffer.  Zero-length descriptors take
 * no iovec, so a device that gave each a log entry anyway would run past a
 * log array sized for iovecs (upstream's bug); the frame must land in the
 * real buffer, logged, with no error.
 */
#define ZERO_DESCS 1100

static int case_zero_len(const struct kt_target *t)
{
	struct pageset want = { .n = 0 };
	struct kt_buf b[3], c;
	struct vring_desc *tab;
	uint64_t z, tgpa;
	struct logt L;
	struct kt_vq *rx;
	int h, i;

	KT_TRY(log_open(&L, t, F_V1 | F_INDIRECT,
			LOG_AT_START | LOG_RING_BOTH));
	rx = &L.n.dev.vq[KT_RXQ];
	z = alloc_pages(&L, 1, "target of zero-length descriptors");
	b[1].gpa = alloc_pages(&L, 1, "RX buffer A");
	b[2].gpa = alloc_pages(&L, 1, "RX buffer B (after the frame's end)");
	c.gpa = alloc_pages(&L, 1, "RX buffer C");
	tgpa = alloc_pages(&L, (ZERO_DESCS + 1) * 16 / PG + 1,
			   "big indirect table");
	KT_ASSERT(z && b[1].gpa && b[2].gpa && c.gpa && tgpa,
		  "guest RAM exhausted");
	b[0].gpa = z + 512;
	b[0].len = 0;
	b[1].len = PG;
	b[2].len = PG;
	c.len = PG;

	/* [0 bytes at Z][A: 4096][B: 4096], frame of 12 + 100 bytes. */
	h = rx_post(&L, b, 3, false);
	KT_ASSERT(h >= 0, "posting");
	KT_TRY(rx_expect(&L, 100, 5, h, b, 3));
	ps_add(&want, b[1].gpa, L.n.hdr_len + 100, "RX buffer A, bytes written");
	ps_add_used(&want, rx, 0, 1, "RX used ring, entry 0");
	KT_TRY(expect_logged(&L, &want,
			     "zero-length descriptor and unwritten B"));

	/*
	 * Posted through the driver as a one-entry indirect chain (so its
	 * bookkeeping holds), then pointed at the big table before the kick.
	 */
	tab = kt_gpa(&L.n.dev.mem, tgpa);
	for (i = 0; i < ZERO_DESCS; i++) {
		tab[i].addr = z + (uint64_t)(i % 64) * 64;
		tab[i].len = 0;
		tab[i].flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT;
		tab[i].next = i + 1;
	}
	tab[ZERO_DESCS].addr = c.gpa;
	tab[ZERO_DESCS].len = c.len;
	tab[ZERO_DESCS].flags = VRING_DESC_F_WRITE;
	tab[ZERO_DESCS].next = 0;
	h = kt_vq_add(rx, NULL, 0, &c, 1, true, 0);
	KT_ASSERT(h >= 0, "posting: %s", kt_errname(-h));
	kt_vq_raw_desc(rx, h, tgpa, (ZERO_DESCS + 1) * 16,
		       VRING_DESC_F_INDIRECT, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	kt_vq_kick(rx);
	KT_TRY(rx_expect(&L, 400, 6, h, &c, 1));
	ps_add(&want, c.gpa, L.n.hdr_len + 400, "RX buffer C, bytes written");
	ps_add_used(&want, rx, 1, 1, "RX used ring, entry 1");
	KT_TRY(expect_logged(&L, &want, "1100 zero-length descriptors"));
	return log_done(&L);
}

/*
 * LOG_ALL acked, but the RX ring's address has no VHOST_VRING_F_LOG: its
 * buffers are logged, its used ring is not; the TX ring (flag set) logs its
 * used ring.
 */
static int case_ring_nolog(const struct kt_target *t)
{
	struct pageset want = { .n = 0 };
	struct kt_buf a;
	struct logt L;
	int h;

	KT_TRY(log_open(&L, t, F_V1, LOG_AT_START | LOG_RING_TX));
	a.gpa = alloc_pages(&L, 1, "RX buffer A");
	KT_ASSERT(a.gpa, "guest RAM exhausted");
	a.len = PG;
	h = rx_post(&L, &a, 1, false);
	KT_ASSERT(h >= 0, "posting");
	KT_TRY(rx_expect(&L, 100, 7, h, &a, 1));
	ps_add(&want, a.gpa, L.n.hdr_len + 100, "RX buffer A, bytes written");
	KT_TRY(expect_logged(&L, &want, "RX on a ring without the log flag"));

	KT_TRY(tx_one(&L, 100, 8, false));
	ps_add_used(&want, &L.n.dev.vq[KT_TXQ], 0, 1, "TX used ring, entry 0");
	KT_TRY(expect_logged(&L, &want, "TX on a ring with the log flag"));
	return log_done(&L);
}

/*
 * RX of a 500-byte frame into a fresh one-page buffer and one TX frame;
 * with want, adds what logging would mark (the buffer's first page, both
 * rings' used ring writes).
 */
static int some_traffic(struct logt *L, uint32_t seed, struct pageset *want)
{
	struct kt_vq *rx = &L->n.dev.vq[KT_RXQ], *tx = &L->n.dev.vq[KT_TXQ];
	uint16_t rx_entry = rx->last_used, tx_entry = tx->last_used;
	struct kt_buf a;
	int h;

	a.gpa = alloc_pages(L, 1, "RX buffer");
	if (!a.gpa)
		return kt_fail("guest RAM exhausted");
	a.len = PG;
	h = rx_post(L, &a, 1, false);
	if (h < 0)
		return KT_FAIL;
	KT_TRY(rx_expect(L, 500, seed, h, &a, 1));
	KT_TRY(tx_one(L, 300, seed + 1, false));
	if (want) {
		ps_add(want, a.gpa, L->n.hdr_len + 500, "RX buffer, bytes written");
		ps_add_used(want, rx, rx_entry, 1, "RX used ring");
		ps_add_used(want, tx, tx_entry, 1, "TX used ring");
	}
	return KT_PASS;
}

/* Bits of the user address space: 47, or 56 with 5-level paging. */
static unsigned int user_va_bits(void)
{
	void *p = mmap((void *)(1ULL << 50), PG, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return 47;
	munmap(p, PG);
	return 56;
}

/*
 * LOG_ALL off with a base and eventfd given (and ring flags clear): no bit,
 * no signal; then logging on (the bits), then off again as QEMU ends or
 * cancels a migration: no bit, no signal.
 */
static int case_log_off(const struct kt_target *t)
{
	struct pageset none = { .n = 0 }, want = { .n = 0 };
	struct logt L;
	int r;

	KT_TRY(log_open(&L, t, F_V1, 0));
	r = set_log_base(&L, (uintptr_t)L.bitmap);
	KT_ASSERT(!r, "VHOST_SET_LOG_BASE: %s", kt_errname(-r));
	r = set_log_fd(&L, L.efd);
	KT_ASSERT(!r, "VHOST_SET_LOG_FD: %s", kt_errname(-r));
	KT_TRY(some_traffic(&L, 30, NULL));
	KT_TRY(expect_bits(&L, &none, "never logging"));
	KT_TRY(expect_log_quiet(&L, "never logging"));

	KT_TRY(log_live(&L, true));
	log_clear(&L);
	KT_TRY(some_traffic(&L, 40, &want));
	KT_TRY(expect_logged(&L, &want, "logging"));

	KT_TRY(log_live(&L, false));
	log_clear(&L);
	KT_TRY(some_traffic(&L, 50, NULL));
	KT_TRY(expect_bits(&L, &none, "logging switched off"));
	KT_TRY(expect_log_quiet(&L, "logging switched off"));
	return log_done(&L);
}

/*
 * VHOST_VRING_F_LOG without LOG_ALL.  Upstream the ring flag alone enables
 * logging of used-ring writes (vhost.c: log_used() under vq->log_used, no
 * feature test; the uapi comment: "Whether log address is valid. If set
 * enables logging."), and SET_VRING_ADDR on a running ring checks the used
 * ring's log bits whenever the flag is set.  Buffers are not logged: that
 * is LOG_ALL's.
 */
static int case_ring_log_only(const struct kt_target *t)
{
	struct pageset want = { .n = 0 };
	struct kt_buf a;
	struct logt L;
	int h, r, bad = 0;

	KT_TRY(log_open(&L, t, F_V1, 0));
	r = set_log_base(&L, (uintptr_t)L.bitmap);
	KT_ASSERT(!r, "VHOST_SET_LOG_BASE: %s", kt_errname(-r));
	r = set_log_fd(&L, L.efd);
	KT_ASSERT(!r, "VHOST_SET_LOG_FD: %s", kt_errname(-r));
	if (user_va_bits() == 47) {
		/* The used ring's bits would be past the user half. */
		r = ring_addr(&L, KT_RXQ, true, 0xfffffffffffff000ULL);
		if (r != -EINVAL) {
			kt_diag("SET_VRING_ADDR with the log flag, log_guest_addr 0xfffffffffffff000, LOG_ALL off: got %s, want EINVAL",
				kt_errname(-r));
			bad++;
		}
	} else {
		kt_diag("5-level paging: log_guest_addr cannot reach past the user half");
	}
	r = ring_addr(&L, KT_RXQ, true, L.n.dev.vq[KT_RXQ].used_gpa);
	KT_ASSERT(!r, "SET_VRING_ADDR with the log flag: %s", kt_errname(-r));
	log_clear(&L);

	a.gpa = alloc_pages(&L, 1, "RX buffer A");
	KT_ASSERT(a.gpa, "guest RAM exhausted");
	a.len = PG;
	h = rx_post(&L, &a, 1, false);
	KT_ASSERT(h >= 0, "posting");
	KT_TRY(rx_expect(&L, 100, 11, h, &a, 1));
	ps_add_used(&want, &L.n.dev.vq[KT_RXQ], 0, 1, "RX used ring, entry 0");
	if (expect_bits(&L, &want, "ring log flag without LOG_ALL") != KT_PASS)
		bad++;
	if (expect_log_signal(&L, "ring log flag without LOG_ALL") != KT_PASS)
		bad++;
	KT_TRY(expect_no_error(&L));
	KT_ASSERT(!bad, "%d check(s) failed", bad);
	log_close(&L);
	return KT_PASS;
}

/*
 * A log base the kernel cannot address (the kernel half).  Upstream
 * (vhost.c) checks the log with access_ok() only where a ring runs:
 *  - SET_LOG_BASE is accepted while LOG_ALL is off and no running ring has
 *    the log flag; SET_FEATURES with LOG_ALL is then EFAULT
 *    (vhost_net_set_features: vhost_log_access_ok over every region);
 *  - with LOG_ALL acked, SET_LOG_BASE to it (or to a base whose bits for
 *    guest RAM cross the user limit) is EFAULT and the old base stays;
 *  - SET_VRING_ADDR with the log flag and a log_guest_addr whose bits are
 *    out of reach is EINVAL;
 *  - rings without backend are not checked: SET_LOG_BASE is accepted, and
 *    VHOST_NET_SET_BACKEND is EFAULT (vhost_vq_access_ok).
 */
static int case_log_base_bad(const struct kt_target *t)
{
	const uint64_t huge_addr[] = { 0xfffffffffffff000ULL,
				       0xfffffffffffffffcULL };
	struct pageset want = { .n = 0 };
	uint64_t limit, base;
	struct kt_vq *rx;
	struct kt_buf a;
	struct logt L;
	uint16_t e;
	int h, r;
	size_t i;

	KT_TRY(log_open(&L, t, F_V1, 0));
	rx = &L.n.dev.vq[KT_RXQ];
	r = set_log_base(&L, KERNEL_ADDR);
	KT_ASSERT(!r, "SET_LOG_BASE 0x%llx, LOG_ALL off: got %s, want success",
		  KERNEL_ADDR, kt_errname(-r));
	r = set_features(&L, L.features | F_LOG_ALL);
	KT_ASSERT(r == -EFAULT,
		  "SET_FEATURES with LOG_ALL, log base 0x%llx: got %s, want EFAULT",
		  KERNEL_ADDR, kt_errname(-r));
	/* Refused: the device goes on without logging. */
	KT_TRY(some_traffic(&L, 60, NULL));
	KT_TRY(expect_no_error(&L));

	KT_TRY(log_live(&L, true));
	r = set_log_base(&L, KERNEL_ADDR);
	KT_ASSERT(r == -EFAULT,
		  "SET_LOG_BASE 0x%llx with LOG_ALL acked: got %s, want EFAULT",
		  KERNEL_ADDR, kt_errname(-r));
	if (user_va_bits() == 47) {
		/* The bits of guest RAM's last pages past TASK_SIZE_MAX. */
		limit = (1ULL << 47) - PG;
		base = limit - KT_GPA_BASE / PG / 8 - 256;
		r = set_log_base(&L, base);
		KT_ASSERT(r == -EFAULT,
			  "SET_LOG_BASE 0x%llx (guest RAM's bits cross the user limit): got %s, want EFAULT",
			  (unsigned long long)base, kt_errname(-r));
		for (i = 0; i < 2; i++) {
			r = ring_addr(&L, KT_RXQ, true, huge_addr[i]);
			KT_ASSERT(r == -EINVAL,
				  "SET_VRING_ADDR, log_guest_addr 0x%llx: got %s, want EINVAL",
				  (unsigned long long)huge_addr[i],
				  kt_errname(-r));
		}
	} else {
		kt_diag("5-level paging: user-limit checks skipped");
	}
	r = ring_addr(&L, KT_RXQ, true, rx->used_gpa);
	KT_ASSERT(!r, "SET_VRING_ADDR back: %s", kt_errname(-r));
	/* The refused bases changed nothing: the bitmap still gets the bits. */
	log_clear(&L);
	a.gpa = alloc_pages(&L, 1, "RX buffer A");
	KT_ASSERT(a.gpa, "guest RAM exhausted");
	a.len = PG;
	e = rx->last_used;
	h = rx_post(&L, &a, 1, false);
	KT_ASSERT(h >= 0, "posting");
	KT_TRY(rx_expect(&L, 100, 12, h, &a, 1));
	ps_add(&want, a.gpa, L.n.hdr_len + 100, "RX buffer A, bytes written");
	ps_add_used(&want, rx, e, 1, "RX used ring");
	KT_TRY(expect_bits(&L, &want, "after the refused SET_LOG_BASEs"));
	KT_TRY(expect_no_error(&L));
	log_close(&L);

	/* Rings without backend: accepted, then attaching is refused. */
	KT_TRY(log_open(&L, t, F_V1, LOG_AT_START | LOG_RING_BOTH |
			LOG_NO_BACKEND));
	r = set_log_base(&L, KERNEL_ADDR);
	KT_ASSERT(!r, "SET_LOG_BASE 0x%llx, no backend: got %s, want success",
		  KERNEL_ADDR, kt_errname(-r));
	r = kt_net_backend(&L.n.dev, KT_RXQ, L.n.tap.fd);
	KT_ASSERT(r == -EFAULT,
		  "SET_BACKEND with log base 0x%llx and LOG_ALL: got %s, want EFAULT",
		  KERNEL_ADDR, kt_errname(-r));
	log_close(&L);
	return KT_PASS;
}

/*
 * A read-only bitmap: access_ok() cannot see protections, so upstream takes
 * it (SET_LOG_BASE, SET_FEATURES with LOG_ALL, SET_VRING_ADDR with the log
 * flag, attaching a backend all succeed) and its log writes fail later, in
 * pin_user_pages_fast(FOLL_WRITE).  Upstream ignores those failures
 * (log_used()'s and vhost_log_write()'s results are dropped): traffic flows.
 */
static int log_ro_at_start(const struct kt_target *t)
{
	struct logt L;
	int r;

	r = log_open(&L, t, F_V1, LOG_AT_START | LOG_RING_BOTH |
		     LOG_BITMAP_RO);
	if (r == KT_PASS)
		r = some_traffic(&L, 70, NULL);
	if (r == KT_PASS)
		r = some_traffic(&L, 80, NULL);
	if (r == KT_PASS)
		r = expect_no_error(&L);
	log_close(&L);
	return r;
}

static int log_ro_live(const struct kt_target *t)
{
	struct logt L;
	int r;

	r = log_open(&L, t, F_V1, LOG_BITMAP_RO);
	if (r == KT_PASS)
		r = some_traffic(&L, 90, NULL);
	if (r == KT_PASS)
		r = log_live(&L, true);
	if (r == KT_PASS)
		r = some_traffic(&L, 100, NULL);
	if (r == KT_PASS)
		r = some_traffic(&L, 110, NULL);
	if (r == KT_PASS)
		r = expect_no_error(&L);
	log_close(&L);
	return r;
}

static int case_log_base_ro(const struct kt_target *t)
{
	int r1, r2;

	kt_diag("configured before the backend is attached:");
	r1 = log_ro_at_start(t);
	kt_diag("switched on while running:");
	r2 = log_ro_live(t);
	return r1 != KT_PASS ? r1 : r2;
}

static const uint64_t feat_tap_hdr = F_V1;
static const uint64_t feat_dev_hdr = F_V1 | F_VHOST_HDR;

static const struct kt_case cases[] = {
	{ "RX with LOG_ALL: exactly the written buffer pages and used ring pages, log eventfd (tap header)",
	  case_rx_log, .data = &feat_tap_hdr },
	{ "RX with LOG_ALL: exactly the written buffer pages and used ring pages, log eventfd (device header)",
	  case_rx_log, .data = &feat_dev_hdr },
	{ "RX with LOG_ALL and MRG_RXBUF: the filled buffers' written bytes, not the spare",
	  case_rx_log_mrg },
	{ "RX: logging switched on while running (migration start)",
	  case_rx_log_live },
	{ "TX with LOG_ALL: used ring logged, TX buffers and indirect tables not",
	  case_tx_log },
	{ "zero bytes written are not logged: 0-length descriptor, buffer past the frame, 1100 zero-length descriptors (CVE-2019-14835)",
	  case_zero_len },
	{ "LOG_ALL with a ring lacking VHOST_VRING_F_LOG: its buffers logged, its used ring not",
	  case_ring_nolog },
	{ "LOG_ALL off (before and after logging): no bit, log eventfd quiet",
	  case_log_off },
	{ "VHOST_VRING_F_LOG without LOG_ALL: used ring logged, buffers not; log address checked",
	  case_ring_log_only },
	{ "log base in the kernel half: SET_FEATURES/SET_LOG_BASE EFAULT, SET_VRING_ADDR EINVAL, SET_BACKEND EFAULT",
	  case_log_base_bad },
	{ "read-only bitmap: accepted (access_ok), traffic goes on when log writes fail",
	  case_log_base_ro },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
