// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_io: kvio-blk requests that are well formed.
 *
 * Data written through a ring is read back through the ring and straight
 * from the backend (a file in /tmp, a memory-backed null_blk opened buffered
 * or with O_DIRECT); every request type (IN, OUT, FLUSH, GET_ID, DISCARD,
 * WRITE_ZEROES with and without unmap) does what virtio-blk says and reaches
 * the backend; the capacity edges; read-only backends; unknown types; the
 * cache mode (writeback, writethrough); the kvio-blk ioctls and their errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <time.h>
#include <unistd.h>

#include "kt_blk.h"

#define F(bit) (1ULL << (bit))
#define FEAT (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH) |		\
	      F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES) |	\
	      F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) |		\
	      F(VIRTIO_RING_F_INDIRECT_DESC))
#define NUM 128
#define SLOT (64 * 1024)
#define FILE_SIZE (8ULL << 20)
#define NULLB_MB 16

enum { S_OK = VIRTIO_BLK_S_OK, S_IOERR = VIRTIO_BLK_S_IOERR,
       S_UNSUPP = VIRTIO_BLK_S_UNSUPP };

/* A device with one ring and a backend; torn down by env_close(). */
struct env {
	struct kt_blk b;
	int fd;
	struct kt_nullb nb;
	uint64_t size;
	bool bdev;
};

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->fd = -1;
	e->b.d.fd = -1;
	e->b.d.mem.fd = -1;
}

static void env_close(struct env *e)
{
	kt_blk_close(&e->b);
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	kt_nullb_destroy(&e->nb);
}

static int env_attach(struct env *e, const struct kt_target *t, uint64_t feat)
{
	int r;

	KT_TRY(kt_blk_open(&e->b, t, feat, 1, NUM, SLOT, false));
	r = kt_blk_backend(&e->b, e->fd);
	if (r)
		return kt_fail("KVIO_BLK_SET_BACKEND: %s", kt_errname(-r));
	return KT_PASS;
}

/* A file of FILE_SIZE bytes in /tmp (pattern seed, 0: zeroes). */
static int env_file(struct env *e, const struct kt_target *t, uint64_t feat,
		    uint32_t seed, int flags)
{
	env_init(e);
	e->size = FILE_SIZE;
	e->fd = kt_blk_tmpfile(e->size, seed, flags);
	if (e->fd < 0)
		return kt_fail("tmpfile: %s", kt_errname(-e->fd));
	return env_attach(e, t, feat);
}

static int env_nullb(struct env *e, const struct kt_target *t, uint64_t feat,
		     const struct kt_nullb_opts *o, int flags)
{
	struct kt_nullb_opts def = { .size_mb = NULLB_MB };

	env_init(e);
	KT_TRY(kt_nullb_create(&e->nb, o ? o : &def));
	e->bdev = true;
	e->size = (uint64_t)(o ? o->size_mb : def.size_mb) << 20;
	e->fd = open(e->nb.dev, O_RDWR | O_CLOEXEC | flags);
	if (e->fd < 0)
		return kt_fail("open %s: %s", e->nb.dev, kt_errname(errno));
	return env_attach(e, t, feat);
}

/* Run body on an environment and always tear it down. */
#define WITH_ENV(setup, body) do {					\
	struct env e_;							\
	int r_ = (setup);						\
	if (r_ == KT_PASS)						\
		r_ = body(&e_);						\
	env_close(&e_);							\
	return r_;							\
} while (0)

/* Backend bytes, read with O_DIRECT for a block device (no stale cache). */
static int backend_read(struct env *e, void *buf, size_t len, uint64_t off)
{
	int fd, r;

	if (!e->bdev)
		return kt_pread_all(e->fd, buf, len, off);
	fd = open(e->nb.dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = kt_pread_all(fd, buf, len, off);
	close(fd);
	return r;
}

/*
 * A /sys/block stat counter once it passed @before: blk-mq counts a request
 * after it has woken its submitter, so give it a moment.
 */
static long long stat_after(struct env *e, int field, long long before)
{
	long deadline = kt_deadline(2000);
	long long v;

	for (;;) {
		v = kt_nullb_stat(&e->nb, field);
		if (v < 0 || v > before || kt_now_ms() > deadline)
			return v;
		kt_sleep_ms(5);
	}
}

static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ------------------------------------------------------------ cases */

static int case_features(const struct kt_target *t)
{
	uint64_t want = FEAT | F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_RO) |
			F(VIRTIO_BLK_F_GEOMETRY) | F(VIRTIO_BLK_F_TOPOLOGY) |
			F(VIRTIO_BLK_F_CONFIG_WCE) | F(VIRTIO_BLK_F_MQ) |
			F(VIRTIO_RING_F_INDIRECT_DESC) |
			F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_F_ANY_LAYOUT) |
			F(VIRTIO_F_NOTIFY_ON_EMPTY) |
			F(VIRTIO_F_ACCESS_PLATFORM) | F(VHOST_F_LOG_ALL);
	struct kt_dev d;
	uint64_t f = 0;
	int r;

	r = kt_dev_open(&d, t->path);
	if (r)
		return kt_fail("open: %s", kt_errname(-r));
	r = ioctl(d.fd, VHOST_GET_FEATURES, &f);
	kt_dev_close(&d);
	KT_ASSERT(r == 0, "VHOST_GET_FEATURES: %s", kt_errname(errno));
	KT_ASSERT((f & want) == want, "offered 0x%llx, missing 0x%llx",
		  (unsigned long long)f, (unsigned long long)(want & ~f));
	/* Nothing the device cannot do: no SCSI, no zones, no lifetime. */
	KT_ASSERT(!(f & (F(VIRTIO_BLK_F_SCSI) | F(VIRTIO_BLK_F_BARRIER) |
			 F(VIRTIO_BLK_F_SECURE_ERASE) | F(15) | F(17))),
		  "offered 0x%llx", (unsigned long long)f);
	return KT_PASS;
}

/*
 * 48 writes of 512 B to 64 KiB at scattered sectors, all in flight at once
 * (half as indirect tables), then read back through the ring, all in flight
 * again, and from the backend.
 */
#define PAT_REQS 48

static uint32_t pat_len(unsigned int i)
{
	static const uint32_t lens[] = { 512, 4096, 1024, 65536, 8192, 3584,
					 32768, 16384 };

	return lens[i % 8];
}

static uint64_t pat_sector(unsigned int i)
{
	/* 128 KiB apart: no overlap, scattered over 6 MiB. */
	return (uint64_t)((i * 37) % PAT_REQS) * 256 + (i % 3) * 8;
}

static int check_patterns(struct env *e, bool direct_check)
{
	struct kt_blk *b = &e->b;
	uint8_t *want = kt_blk_alloc(SLOT), *got = kt_blk_alloc(SLOT);
	unsigned int i, slot, done;
	uint32_t used;
	uint8_t status;
	int r;

	/* Writes: slot i carries pattern i. */
	for (i = 0; i < PAT_REQS; i++) {
		kt_fill_pattern(kt_blk_data(b, 0, i), pat_len(i), 1000 + i);
		r = kt_blk_post(b, 0, i, VIRTIO_BLK_T_OUT, pat_sector(i),
				pat_len(i), i & 1);
		KT_ASSERT(r >= 0, "post write %u: %s", i, kt_errname(-r));
	}
	kt_vq_kick(&b->q[0].vq);
	for (done = 0; done < PAT_REQS; done++) {
		r = kt_blk_reap(b, 0, &slot, &status, &used, 5000);
		KT_ASSERT(r == 1, "write completion %u of %u: %d", done,
			  PAT_REQS, r);
		KT_ASSERT(status == S_OK && used == 1,
			  "write slot %u: status %u used %u", slot, status,
			  used);
	}

	/* Reads into cleared slots. */
	for (i = 0; i < PAT_REQS; i++) {
		memset(kt_blk_data(b, 0, i), 0x5a, SLOT);
		r = kt_blk_post(b, 0, i, VIRTIO_BLK_T_IN, pat_sector(i),
				pat_len(i), !(i & 1));
		KT_ASSERT(r >= 0, "post read %u: %s", i, kt_errname(-r));
	}
	kt_vq_kick(&b->q[0].vq);
	for (done = 0; done < PAT_REQS; done++) {
		r = kt_blk_reap(b, 0, &slot, &status, &used, 5000);
		KT_ASSERT(r == 1, "read completion %u of %u: %d", done,
			  PAT_REQS, r);
		KT_ASSERT(status == S_OK && used == pat_len(slot) + 1,
			  "read slot %u: status %u used %u, want 0 and %u",
			  slot, status, used, pat_len(slot) + 1);
		kt_fill_pattern(want, pat_len(slot), 1000 + slot);
		if (!kt_bytes_equal(kt_blk_data(b, 0, slot), pat_len(slot),
				    want, pat_len(slot), "read back through the ring"))
			return kt_fail("slot %u sector %llu", slot,
				       (unsigned long long)pat_sector(slot));
		/* Nothing written past the data. */
		KT_ASSERT(pat_len(slot) == SLOT ||
			  ((uint8_t *)kt_blk_data(b, 0, slot))[pat_len(slot)] == 0x5a,
			  "slot %u: byte past the data written", slot);
	}

	for (i = 0; direct_check && i < PAT_REQS; i++) {
		r = backend_read(e, got, pat_len(i), pat_sector(i) * 512);
		KT_ASSERT(!r, "backend read: %s", kt_errname(-r));
		kt_fill_pattern(want, pat_len(i), 1000 + i);
		if (!kt_bytes_equal(got, pat_len(i), want, pat_len(i),
				    "read from the backend"))
			return kt_fail("request %u sector %llu", i,
				       (unsigned long long)pat_sector(i));
	}
	return KT_PASS;
}

static int body_patterns(struct env *e)
{
	return check_patterns(e, true);
}

static int case_data_file(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 0, 0), body_patterns);
}

static int case_data_file_event_idx(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT | F(VIRTIO_RING_F_EVENT_IDX) |
			  F(VIRTIO_RING_F_INDIRECT_DESC), 0, 0), body_patterns);
}

static int case_data_nullb_direct(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, NULL, O_DIRECT), body_patterns);
}

static int case_data_nullb_buffered(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, NULL, 0), body_patterns);
}

/*
 * VHOST_SET_VRING_BUSYLOOP_TIMEOUT on a disk's ring: after answering, the
 * device watches the ring for a while (a guest at queue depth answers
 * completions with new requests), so a request added then is served without
 * a kick; once the time is up it waits for kicks again.  With EVENT_IDX the
 * device must poll before it publishes its event index, or the guest would
 * have to kick anyway.  A spinning worker also stops when its CPU is wanted
 * (a kernel thread woken there): a few tries, one must be served unkicked
 * (none is without the busy loop).
 */
static int body_busyloop(struct env *e)
{
	const unsigned int us = 200000 * kt_timeout_scale();
	struct vhost_vring_state st = { .index = 0, .num = us };
	uint8_t *want = kt_blk_alloc(4096);
	struct kt_blk *b = &e->b;
	unsigned int i, slot, served = 0;
	uint32_t used;
	uint8_t status;
	int r;

	KT_TRY(kt_pin_apart(getpid()));
	KT_ERRNO(0, ioctl(b->d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st));
	st.num = 0;
	KT_ERRNO(0, ioctl(b->d.fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &st));
	KT_ASSERT(st.num == us, "GET_VRING_BUSYLOOP_TIMEOUT: %u", st.num);
	for (i = 0; i < 5 && !served; i++) {
		/* Kicked and answered; then the device polls. */
		kt_fill_pattern(want, 4096, 300 + i);
		KT_TRY(kt_blk_expect(b, 0, VIRTIO_BLK_T_OUT, 8 * i, want, 4096,
				     S_OK, 1));
		r = kt_blk_post(b, 0, 1, VIRTIO_BLK_T_IN, 8 * i, 4096, false);
		KT_ASSERT(r >= 0, "post: %s", kt_errname(-r));
		r = kt_blk_reap(b, 0, &slot, &status, &used, us / 1000 + 100);
		if (r == 0) {
			KT_ASSERT(!kt_blk_wait_one(b, 0, &status, &used, 5000),
				  "the kicked read was not answered");
		} else {
			KT_ASSERT(r == 1, "reap: %s", kt_errname(-r));
			served = i + 1;
		}
		KT_ASSERT(status == S_OK && used == 4097,
			  "read: status %u used %u", status, used);
		if (!kt_bytes_equal(kt_blk_data(b, 0, 1), 4096, want, 4096,
				    "read"))
			return KT_FAIL;
	}
	KT_ASSERT(served, "%u reads added while the device polls, not kicked, none served",
		  i);
	kt_diag("served without a kick at try %u", served);
	/* Time up: a request without a kick waits, one kick serves it. */
	kt_sleep_ms(2 * us / 1000);
	r = kt_blk_post(b, 0, 1, VIRTIO_BLK_T_IN, 0, 4096, false);
	KT_ASSERT(r >= 0, "post: %s", kt_errname(-r));
	r = kt_blk_reap(b, 0, &slot, &status, &used, 100);
	KT_ASSERT(r == 0, "served without a kick after the busy loop ended");
	KT_ASSERT(!kt_blk_wait_one(b, 0, &status, &used, 5000),
		  "the kicked read was not answered");
	KT_ASSERT(status == S_OK && used == 4097);
	return kt_unpin();
}

/*
 * What the guest sees while the device polls: a guest at queue depth 1
 * answers each completion with its next request, and asks the device
 * whether to kick for it (kt_vq_kick_needed(), the driver's own test of
 * avail_event or NO_NOTIFY).  The completion arrives while the device spins
 * (null_blk completes asynchronously) and cuts that spin short; the device
 * must keep notifications off and poll on after it, or the guest pays a
 * kick for every request although the device would have found it.  Every
 * request not kicked must be served (a device that stopped polling without
 * asking for kicks would leave it waiting); a few may need a kick (a spin
 * also ends when its CPU is wanted), far from all.
 */
static int body_busyloop_no_kick(struct env *e)
{
	const unsigned int us = 200000 * kt_timeout_scale();
	const unsigned int n = 16;
	struct vhost_vring_state st = { .index = 0, .num = us };
	uint8_t *want = kt_blk_alloc(4096);
	struct kt_blk *b = &e->b;
	struct kt_vq *vq = &b->q[0].vq;
	unsigned int i, slot, kicks = 0;
	uint32_t used;
	uint8_t status;
	int r;

	for (i = 0; i < n; i++) {
		kt_fill_pattern(want, 4096, 500 + i);
		KT_TRY(kt_blk_expect(b, 0, VIRTIO_BLK_T_OUT, 8 * i, want, 4096,
				     S_OK, 1));
	}
	KT_TRY(kt_pin_apart(getpid()));
	KT_ERRNO(0, ioctl(b->d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st));
	for (i = 0; i < n; i++) {
		r = kt_blk_post(b, 0, 1, VIRTIO_BLK_T_IN, 8 * i, 4096, false);
		KT_ASSERT(r >= 0, "post: %s", kt_errname(-r));
		if (kt_vq_kick_needed(vq)) {
			kicks++;
			kt_vq_kick(vq);
		}
		r = kt_blk_reap(b, 0, &slot, &status, &used, us / 1000 + 2000);
		KT_ASSERT(r == 1, "read %u (%u kicks so far) never answered: %s",
			  i, kicks, r ? kt_errname(-r) : "timeout");
		KT_ASSERT(status == S_OK && used == 4097,
			  "read %u: status %u used %u", i, status, used);
		kt_fill_pattern(want, 4096, 500 + i);
		if (!kt_bytes_equal(kt_blk_data(b, 0, 1), 4096, want, 4096,
				    "read"))
			return KT_FAIL;
	}
	kt_diag("%u of %u requests needed a kick", kicks, n);
	KT_ASSERT(kicks <= n / 4, "%u of %u requests needed a kick", kicks, n);
	return kt_unpin();
}

/*
 * The same guest with gaps: each next request comes after a pause from
 * none to three times the busy-loop timeout, so some arrive while the
 * device polls (no kick asked for), some after it gave up (a kick asked
 * for), and some just as it gives up.  Whichever, a request must be
 * served: not asked for a kick means the device still looks.
 */
static int body_busyloop_gaps(struct env *e)
{
	const unsigned int us = 1000, n = 300;
	struct vhost_vring_state st = { .index = 0, .num = us };
	struct kt_blk *b = &e->b;
	struct kt_vq *vq = &b->q[0].vq;
	unsigned int i, slot, kicks = 0;
	uint32_t used, rnd = 1;
	struct timespec gap;
	uint8_t status;
	bool kicked;
	int r;

	KT_ERRNO(0, ioctl(b->d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st));
	for (i = 0; i < n; i++) {
		rnd = rnd * 1103515245 + 12345;
		gap.tv_sec = 0;
		gap.tv_nsec = (rnd >> 8) % (3 * us) * 1000;
		nanosleep(&gap, NULL);
		r = kt_blk_post(b, 0, 1, VIRTIO_BLK_T_IN, 8 * (i % 64), 4096,
				false);
		KT_ASSERT(r >= 0, "post: %s", kt_errname(-r));
		kicked = kt_vq_kick_needed(vq);
		if (kicked) {
			kicks++;
			kt_vq_kick(vq);
		}
		r = kt_blk_reap(b, 0, &slot, &status, &used, 5000);
		KT_ASSERT(r == 1, "read %u after a %ld us gap, %s: %s", i,
			  gap.tv_nsec / 1000, kicked ? "kicked" : "no kick asked for",
			  r ? kt_errname(-r) : "never answered");
		KT_ASSERT(status == S_OK && used == 4097,
			  "read %u: status %u used %u", i, status, used);
	}
	kt_diag("%u of %u requests needed a kick", kicks, n);
	return KT_PASS;
}

static int case_busyloop_gaps(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT | F(VIRTIO_RING_F_EVENT_IDX), NULL,
			   O_DIRECT), body_busyloop_gaps);
}

/*
 * GET_VRING_BASE right after a kick, while the device takes the request,
 * polls, or has just queued its poll again with notifications off, then
 * a restart with the same kick eventfd, drained as VMMs leave it, and the
 * backend still attached.  Whenever the stop came, the restarted ring
 * must serve what the guest had queued (a kick drained with nothing
 * taken would otherwise be lost), and once idle past the busy-loop
 * timeout ask for a kick again for the next request and serve it.  Ten
 * times, so the stop lands at different moments.
 */
static int body_busyloop_restart(struct env *e)
{
	const unsigned int us = 50000;
	struct vhost_vring_state st = { .index = 0, .num = us };
	struct vhost_vring_file f = { .index = 0 };
	struct kt_blk *b = &e->b;
	struct kt_vq *vq = &b->q[0].vq;
	unsigned int i, slot, bases[2] = { 0, 0 };
	uint16_t base;
	uint32_t used;
	uint8_t status;
	uint64_t cnt;
	bool kicked;
	int r;

	KT_ERRNO(0, ioctl(b->d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st));
	for (i = 0; i < 10; i++) {
		base = vq->avail_idx;
		r = kt_blk_post(b, 0, 1, VIRTIO_BLK_T_IN, 0, 4096, false);
		KT_ASSERT(r >= 0, "post: %s", kt_errname(-r));
		kt_vq_kick(vq);
		st.num = 0;
		KT_ERRNO(0, ioctl(b->d.fd, VHOST_GET_VRING_BASE, &st));
		KT_ASSERT(st.num == base || st.num == (uint16_t)(base + 1),
			  "try %u: GET_VRING_BASE %u, want %u or %u", i,
			  st.num, base, (uint16_t)(base + 1));
		bases[st.num != base]++;
		/* The VMM drains the kick eventfd and restarts the ring. */
		while (read(vq->kick, &cnt, sizeof(cnt)) == sizeof(cnt))
			;
		f.fd = vq->kick;
		KT_ERRNO(0, ioctl(b->d.fd, VHOST_SET_VRING_KICK, &f));
		r = kt_blk_reap(b, 0, &slot, &status, &used, 5000);
		KT_ASSERT(r == 1 && status == S_OK && used == 4097,
			  "try %u, stopped at %s: the kicked read %s, status %u",
			  i, st.num == base ? "its avail entry" : "after it",
			  r == 1 ? "answered" : "never answered", status);
		/* Idle past the timeout: the guest must be asked to kick. */
		kt_sleep_ms(4 * us / 1000);
		r = kt_blk_post(b, 0, 1, VIRTIO_BLK_T_IN, 0, 4096, false);
		KT_ASSERT(r >= 0, "post: %s", kt_errname(-r));
		kicked = kt_vq_kick_needed(vq);
		if (kicked)
			kt_vq_kick(vq);
		r = kt_blk_reap(b, 0, &slot, &status, &used, 5000);
		KT_ASSERT(r == 1, "try %u, read after the restart (%s): %s", i,
			  kicked ? "kicked" : "no kick asked for",
			  r ? kt_errname(-r) : "never answered");
		KT_ASSERT(kicked, "try %u: an idle restarted ring asked for no kick",
			  i);
		KT_ASSERT(status == S_OK && used == 4097, "status %u used %u",
			  status, used);
	}
	kt_diag("stopped before the request was taken %u times, after %u",
		bases[0], bases[1]);
	return KT_PASS;
}

static int case_busyloop_restart(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT | F(VIRTIO_RING_F_EVENT_IDX), NULL,
			   O_DIRECT), body_busyloop_restart);
}

static int case_busyloop_no_kick(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, NULL, O_DIRECT),
		 body_busyloop_no_kick);
}

static int case_busyloop_no_kick_event_idx(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT | F(VIRTIO_RING_F_EVENT_IDX), NULL,
			   O_DIRECT), body_busyloop_no_kick);
}

static int case_busyloop_file(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 0, 0), body_busyloop);
}

static int case_busyloop_nullb_direct(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT | F(VIRTIO_RING_F_EVENT_IDX), NULL,
			   O_DIRECT), body_busyloop);
}

/*
 * O_DIRECT with a guest buffer that is not block aligned: served through
 * the page cache, same bytes.
 */
static int body_unaligned(struct env *e)
{
	struct kt_blk *b = &e->b;
	struct kt_blk_q *q = &b->q[0];
	uint64_t hdr = q->hdr_gpa, st = q->status_gpa;
	uint64_t data = q->data_gpa + 8;	/* misaligned by 8 bytes */
	uint8_t *want = kt_blk_alloc(4096), *got = kt_blk_alloc(4096);
	struct virtio_blk_outhdr *h = kt_gpa(&b->d.mem, hdr);
	struct kt_buf out[2], in[2];
	uint32_t used;
	uint8_t status;
	int r;

	kt_fill_pattern(want, 4096, 77);
	memcpy(kt_gpa(&b->d.mem, data), want, 4096);
	h->type = VIRTIO_BLK_T_OUT;
	h->sector = 40;
	out[0] = (struct kt_buf){ hdr, 16 };
	out[1] = (struct kt_buf){ data, 4096 };
	in[0] = (struct kt_buf){ st, 1 };
	KT_ASSERT(kt_vq_add(&q->vq, out, 2, in, 1, false, 0) >= 0, "add");
	KT_TRY(kt_blk_wait_one(b, 0, &status, &used, 5000) ? KT_FAIL : KT_PASS);
	KT_ASSERT(status == S_OK, "unaligned write: status %u", status);

	memset(kt_gpa(&b->d.mem, data), 0, 4096);
	h->type = VIRTIO_BLK_T_IN;
	in[0] = (struct kt_buf){ data, 4096 };
	in[1] = (struct kt_buf){ st, 1 };
	KT_ASSERT(kt_vq_add(&q->vq, out, 1, in, 2, false, 0) >= 0, "add");
	KT_TRY(kt_blk_wait_one(b, 0, &status, &used, 5000) ? KT_FAIL : KT_PASS);
	KT_ASSERT(status == S_OK && used == 4097,
		  "unaligned read: status %u used %u", status, used);
	if (!kt_bytes_equal(kt_gpa(&b->d.mem, data), 4096, want, 4096,
			    "unaligned read"))
		return KT_FAIL;
	r = backend_read(e, got, 4096, 40 * 512);
	KT_ASSERT(!r, "backend read");
	return kt_bytes_equal(got, 4096, want, 4096, "backend") ? KT_PASS :
								 KT_FAIL;
}

static int case_data_unaligned(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, NULL, O_DIRECT), body_unaligned);
}

/* A request whose data spans many small descriptors (512-byte segments). */
static int body_segments(struct env *e)
{
	struct kt_blk *b = &e->b;
	struct kt_blk_q *q = &b->q[0];
	struct virtio_blk_outhdr *h = kt_gpa(&b->d.mem, q->hdr_gpa);
	uint8_t *want = kt_blk_alloc(16 * 512), *got = kt_blk_alloc(16 * 512);
	struct kt_buf out[17], in[17];
	uint8_t status;
	uint32_t used;
	unsigned int i;

	kt_fill_pattern(want, 16 * 512, 5);
	/* Segments in reverse order in memory, 1 KiB apart. */
	for (i = 0; i < 16; i++) {
		uint64_t gpa = q->data_gpa + (15 - i) * 1024;

		memcpy(kt_gpa(&b->d.mem, gpa), want + i * 512, 512);
		out[i + 1] = (struct kt_buf){ gpa, 512 };
	}
	out[0] = (struct kt_buf){ q->hdr_gpa, 16 };
	in[0] = (struct kt_buf){ q->status_gpa, 1 };
	h->type = VIRTIO_BLK_T_OUT;
	h->sector = 100;
	KT_ASSERT(kt_vq_add(&q->vq, out, 17, in, 1, true, 0) >= 0, "add");
	KT_ASSERT(!kt_blk_wait_one(b, 0, &status, &used, 5000), "wait");
	KT_ASSERT(status == S_OK, "16-segment write: status %u", status);
	KT_ASSERT(!backend_read(e, got, 16 * 512, 100 * 512), "backend read");
	if (!kt_bytes_equal(got, 16 * 512, want, 16 * 512, "backend"))
		return KT_FAIL;

	/* Read it back into 16 segments, status in its own descriptor. */
	for (i = 0; i < 16; i++) {
		uint64_t gpa = q->data_gpa + 32768 + i * 1024;

		memset(kt_gpa(&b->d.mem, gpa), 0, 512);
		in[i] = (struct kt_buf){ gpa, 512 };
	}
	in[16] = (struct kt_buf){ q->status_gpa, 1 };
	h->type = VIRTIO_BLK_T_IN;
	KT_ASSERT(kt_vq_add(&q->vq, out, 1, in, 17, true, 0) >= 0, "add");
	KT_ASSERT(!kt_blk_wait_one(b, 0, &status, &used, 5000), "wait");
	KT_ASSERT(status == S_OK && used == 16 * 512 + 1,
		  "16-segment read: status %u used %u", status, used);
	for (i = 0; i < 16; i++)
		if (!kt_bytes_equal(kt_gpa(&b->d.mem, q->data_gpa + 32768 +
					    i * 1024), 512, want + i * 512,
				    512, "segment"))
			return kt_fail("segment %u", i);
	return KT_PASS;
}

static int case_data_segments(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT | F(VIRTIO_RING_F_INDIRECT_DESC), 0, 0),
		 body_segments);
}

static int case_data_segments_direct(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT | F(VIRTIO_RING_F_INDIRECT_DESC), NULL,
			   O_DIRECT), body_segments);
}

static int body_get_id(struct env *e)
{
	static const char serial[20] = "kvio-serial-0123456";	/* 19 + NUL */
	struct kvio_blk_config cfg;
	uint8_t buf[512];

	/* No serial configured: 20 zero bytes. */
	memset(buf, 0xaa, sizeof(buf));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_GET_ID, 0, buf, 20, S_OK,
			     21));
	KT_ASSERT(all_zero(buf, 20), "GET_ID without serial not zeroes");

	kt_blk_config_default(&cfg);
	memcpy(cfg.serial, "ABCDEFGHIJKLMNOPQRST", 20);
	KT_ASSERT(!kt_blk_set_config(&e->b, &cfg), "SET_CONFIG");
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_GET_ID, 0, buf, 20, S_OK,
			     21));
	KT_ASSERT(!memcmp(buf, "ABCDEFGHIJKLMNOPQRST", 20), "serial %.20s",
		  buf);

	memcpy(cfg.serial, serial, 20);
	KT_ASSERT(!kt_blk_set_config(&e->b, &cfg), "SET_CONFIG");
	/*
	 * A longer buffer: 20 bytes written, and the used length reaches the
	 * status byte at its end (the whole buffer, as QEMU reports it).
	 */
	memset(kt_blk_data(&e->b, 0, 0), 0xaa, 512);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_GET_ID, 0, NULL, 512, S_OK,
			     513));
	memcpy(buf, kt_blk_data(&e->b, 0, 0), 512);
	KT_ASSERT(!memcmp(buf, serial, 20) && buf[20] == 0xaa,
		  "GET_ID into 512 bytes");
	/* A shorter one: what fits. */
	memset(kt_blk_data(&e->b, 0, 0), 0xaa, 512);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_GET_ID, 0, NULL, 8, S_OK,
			     9));
	memcpy(buf, kt_blk_data(&e->b, 0, 0), 512);
	KT_ASSERT(!memcmp(buf, serial, 8) && buf[8] == 0xaa,
		  "GET_ID into 8 bytes");
	return KT_PASS;
}

static int case_get_id(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 0, 0), body_get_id);
}

static int body_flush_file(struct env *e)
{
	uint8_t buf[4096];

	kt_fill_pattern(buf, sizeof(buf), 9);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 8, buf, 4096, S_OK, 1));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, S_OK,
			     1));
	return KT_PASS;
}

static int case_flush_file(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 0, 0), body_flush_file);
}

/* A FLUSH shows up as a flush of the device (its "flush I/Os" counter). */
static int body_flush_nullb(struct env *e)
{
	uint8_t *buf = kt_blk_alloc(4096);
	long long before, after;

	kt_fill_pattern(buf, 4096, 9);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 8, buf, 4096, S_OK, 1));
	before = kt_nullb_stat(&e->nb, KT_STAT_FLUSHES);
	KT_ASSERT(before >= 0, "no flush counter in /sys/block/%s/stat",
		  e->nb.name);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, S_OK,
			     1));
	after = stat_after(e, KT_STAT_FLUSHES, before);
	KT_ASSERT(after > before, "flush I/Os %lld -> %lld", before, after);
	return KT_PASS;
}

static const struct kt_nullb_opts nullb_cache = {
	.size_mb = NULLB_MB, .cache_mb = 8, .discard = true,
};

static int case_flush_nullb_direct(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, &nullb_cache, O_DIRECT),
		 body_flush_nullb);
}

static int case_flush_nullb_buffered(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, &nullb_cache, 0), body_flush_nullb);
}

/* Flushes the device sees for one 4 KiB write. */
static long long flushes_per_write(struct env *e)
{
	uint8_t buf[4096];
	long long before;
	int r;

	kt_fill_pattern(buf, sizeof(buf), 3);
	/* Counters settle first (see stat_after()). */
	kt_sleep_ms(50);
	before = kt_nullb_stat(&e->nb, KT_STAT_FLUSHES);
	r = kt_blk_do(&e->b, 0, VIRTIO_BLK_T_OUT, 16, buf, 4096, NULL);
	if (r != S_OK || before < 0)
		return -1;
	kt_sleep_ms(50);
	return kt_nullb_stat(&e->nb, KT_STAT_FLUSHES) - before;
}

/*
 * Cache modes on a device with a volatile cache, through the page cache:
 * writeback (FLUSH acked) leaves writes in the cache; the VMM's
 * WRITETHROUGH flag, or a guest without FLUSH, makes each write stable.
 */
static int body_writeback(struct env *e)
{
	struct kvio_blk_config cfg;
	long long n;

	n = flushes_per_write(e);
	KT_ASSERT(n == 0, "writeback: %lld flushes for one write", n);
	kt_blk_config_default(&cfg);
	cfg.flags = KVIO_BLK_CONFIG_F_WRITETHROUGH;
	KT_ASSERT(!kt_blk_set_config(&e->b, &cfg), "SET_CONFIG");
	n = flushes_per_write(e);
	KT_ASSERT(n >= 1, "writethrough: %lld flushes for one write", n);
	/* The guest turns writeback back on (CONFIG_WCE): the VMM says so. */
	cfg.flags = 0;
	KT_ASSERT(!kt_blk_set_config(&e->b, &cfg), "SET_CONFIG");
	n = flushes_per_write(e);
	KT_ASSERT(n == 0, "writeback again: %lld flushes for one write", n);
	return KT_PASS;
}

static int case_writeback(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT | F(VIRTIO_BLK_F_CONFIG_WCE),
			   &nullb_cache, 0), body_writeback);
}

static int body_no_flush(struct env *e)
{
	long long n = flushes_per_write(e);

	KT_ASSERT(n >= 1, "no FLUSH acked: %lld flushes for one write", n);
	return KT_PASS;
}

static int case_writethrough_no_flush(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT & ~F(VIRTIO_BLK_F_FLUSH), &nullb_cache,
			   0), body_no_flush);
}

/* A discard/write-zeroes request with one segment. */
static int dwz(struct env *e, uint32_t type, uint64_t sector, uint32_t count,
	       uint32_t flags, uint32_t *used)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector),
		.num_sectors = htole32(count),
		.flags = htole32(flags),
	};

	return kt_blk_do(&e->b, 0, type, 0, &seg, sizeof(seg), used);
}

static long long file_blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long long)st.st_blocks;
}

/* Sector i of [sector, +count) gets pattern seed + i, through the ring. */
static int fill(struct env *e, uint64_t sector, uint32_t count, uint32_t seed)
{
	uint8_t *buf = kt_blk_alloc(SLOT);
	uint32_t done, n, k;

	for (done = 0; done < count; done += n) {
		n = count - done < SLOT / 512 ? count - done : SLOT / 512;
		for (k = 0; k < n; k++)
			kt_fill_pattern(buf + k * 512, 512, seed + done + k);
		KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, sector + done,
				     buf, n * 512, S_OK, 1));
	}
	free(buf);
	return KT_PASS;
}

/* The range reads as zeroes, through the ring and from the backend. */
static int zeroes(struct env *e, uint64_t sector, uint32_t count)
{
	uint8_t *buf = kt_blk_alloc(count * 512);
	uint32_t done, n;

	for (done = 0; done < count; done += n) {
		n = count - done < SLOT / 512 ? count - done : SLOT / 512;
		KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, sector + done,
				     buf, n * 512, S_OK, n * 512 + 1));
		KT_ASSERT(all_zero(buf, n * 512),
			  "ring read of sector %llu: not zeroes",
			  (unsigned long long)(sector + done));
	}
	KT_ASSERT(!backend_read(e, buf, count * 512, sector * 512),
		  "backend read");
	KT_ASSERT(all_zero(buf, count * 512),
		  "backend read of sector %llu: not zeroes",
		  (unsigned long long)sector);
	free(buf);
	return KT_PASS;
}

/* The sectors around the range still hold their pattern. */
static int intact(struct env *e, uint64_t sector, uint32_t seed)
{
	uint8_t *got = kt_blk_alloc(512), *want = kt_blk_alloc(512);

	KT_ASSERT(!backend_read(e, got, 512, sector * 512), "backend read");
	kt_fill_pattern(want, 512, seed);
	return kt_bytes_equal(got, 512, want, 512, "neighbour sector") ?
	       KT_PASS : KT_FAIL;
}

/*
 * An inotify watch for IN_MODIFY on the backend (through /proc/self/fd: the
 * file in /tmp is unlinked): what fallocate(2) would make a watcher see.
 */
static int watch_modify(struct env *e)
{
	char path[64];
	int in;

	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (in < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", e->fd);
	if (inotify_add_watch(in, path, IN_MODIFY) < 0) {
		int err = -errno;

		close(in);
		return err;
	}
	return in;
}

/* IN_MODIFY events queued on @in since the last call, then @in closed. */
static int modify_events(int in)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	int n = 0;
	ssize_t len;
	char *p;

	while ((len = read(in, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			n += !!(ev->mask & IN_MODIFY);
		}
	}
	close(in);
	return n;
}

static int body_discard_file(struct env *e)
{
	long long before, after;
	uint32_t used;
	int r, in, n;

	KT_TRY(fill(e, 2048, 1024, 50));
	before = file_blocks(e->fd);
	in = watch_modify(e);
	KT_ASSERT(in >= 0, "inotify: %s", kt_errname(-in));
	r = dwz(e, VIRTIO_BLK_T_DISCARD, 2048 + 128, 512, 0, &used);
	n = modify_events(in);
	KT_ASSERT(r == S_OK && used == 1, "discard: status %d used %u", r,
		  used);
	KT_ASSERT(n == 1, "%d IN_MODIFY events, want 1", n);
	after = file_blocks(e->fd);
	/* tmpfs punches holes: 512 sectors (256 KiB) fewer blocks. */
	KT_ASSERT(after <= before - 512, "st_blocks %lld -> %lld", before,
		  after);
	KT_TRY(zeroes(e, 2048 + 128, 512));
	KT_TRY(intact(e, 2048 + 127, 50 + 127));
	KT_TRY(intact(e, 2048 + 640, 50 + 640));
	return KT_PASS;
}

static int case_discard_file(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 0, 0), body_discard_file);
}

static int body_discard_nullb(struct env *e)
{
	long long before, after;
	uint32_t used;
	int r, in, n;

	KT_TRY(fill(e, 4096, 256, 60));
	before = kt_nullb_stat(&e->nb, KT_STAT_DISCARDS);
	in = watch_modify(e);
	KT_ASSERT(in >= 0, "inotify: %s", kt_errname(-in));
	r = dwz(e, VIRTIO_BLK_T_DISCARD, 4096, 256, 0, &used);
	/* As fallocate(2) on the device would (blkdev path: kvio's own). */
	n = modify_events(in);
	KT_ASSERT(r == S_OK && used == 1, "discard: status %d used %u", r,
		  used);
	KT_ASSERT(n == 1, "%d IN_MODIFY events, want 1", n);
	after = stat_after(e, KT_STAT_DISCARDS, before);
	KT_ASSERT(after > before, "discards %lld -> %lld", before, after);
	/* null_blk frees discarded memory: it reads back as zeroes. */
	KT_TRY(zeroes(e, 4096, 256));
	return KT_PASS;
}

static int case_discard_nullb(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, &nullb_cache, O_DIRECT),
		 body_discard_nullb);
}

static int case_discard_nullb_buffered(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, &nullb_cache, 0), body_discard_nullb);
}

static int body_write_zeroes_file(struct env *e)
{
	long long before, after;
	uint32_t used;
	int r;

	/* Without unmap: zeroes, the blocks stay allocated. */
	KT_TRY(fill(e, 1024, 512, 70));
	before = file_blocks(e->fd);
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, 1024 + 64, 256, 0, &used);
	KT_ASSERT(r == S_OK && used == 1, "write zeroes: status %d used %u",
		  r, used);
	after = file_blocks(e->fd);
	KT_ASSERT(after >= before, "no unmap: st_blocks %lld -> %lld", before,
		  after);
	KT_TRY(zeroes(e, 1024 + 64, 256));
	KT_TRY(intact(e, 1024 + 63, 70 + 63));
	KT_TRY(intact(e, 1024 + 320, 70 + 320));

	/* With unmap: zeroes, and the file may give the blocks back. */
	KT_TRY(fill(e, 3072, 512, 80));
	before = file_blocks(e->fd);
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, 3072, 512,
		VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, &used);
	KT_ASSERT(r == S_OK && used == 1, "write zeroes unmap: status %d", r);
	after = file_blocks(e->fd);
	KT_ASSERT(after <= before - 512, "unmap: st_blocks %lld -> %lld",
		  before, after);
	KT_TRY(zeroes(e, 3072, 512));
	return KT_PASS;
}

static int case_write_zeroes_file(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 0, 0), body_write_zeroes_file);
}

static int body_write_zeroes_nullb(struct env *e)
{
	uint32_t used;
	int r;

	KT_TRY(fill(e, 512, 256, 90));
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, 520, 128, 0, &used);
	KT_ASSERT(r == S_OK && used == 1, "write zeroes: status %d", r);
	KT_TRY(zeroes(e, 520, 128));
	KT_TRY(intact(e, 519, 90 + 7));
	KT_TRY(intact(e, 648, 90 + 136));
	KT_TRY(fill(e, 1024, 256, 91));
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, 1024, 256,
		VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, &used);
	KT_ASSERT(r == S_OK && used == 1, "write zeroes unmap: status %d", r);
	KT_TRY(zeroes(e, 1024, 256));
	return KT_PASS;
}

static int case_write_zeroes_nullb(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, &nullb_cache, O_DIRECT),
		 body_write_zeroes_nullb);
}

static int case_write_zeroes_nullb_buffered(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT, &nullb_cache, 0),
		 body_write_zeroes_nullb);
}

/* DISCARD / WRITE_ZEROES the guest did not negotiate: UNSUPP. */
static int body_dwz_not_acked(struct env *e)
{
	uint32_t used;
	int r;

	r = dwz(e, VIRTIO_BLK_T_DISCARD, 0, 8, 0, &used);
	KT_ASSERT(r == S_UNSUPP && used == 1, "discard: status %d used %u",
		  r, used);
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0, &used);
	KT_ASSERT(r == S_UNSUPP && used == 1, "write zeroes: status %d", r);
	return KT_PASS;
}

static int case_dwz_not_acked(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, F(VIRTIO_F_VERSION_1), 0, 0),
		 body_dwz_not_acked);
}

/* Whole backend unchanged since it was filled with seed. */
static int unchanged(struct env *e, uint32_t seed)
{
	uint8_t *got = kt_blk_alloc(1 << 20), *want = kt_blk_alloc(1 << 20);
	uint64_t off;

	for (off = 0; off < e->size; off += 1 << 20) {
		KT_ASSERT(!backend_read(e, got, 1 << 20, off), "backend read");
		kt_fill_pattern(want, 1 << 20, seed + (uint32_t)(off >> 20));
		if (!kt_bytes_equal(got, 1 << 20, want, 1 << 20,
				    "backend after refused requests"))
			return kt_fail("at offset %llu",
				       (unsigned long long)off);
	}
	free(got);
	free(want);
	return KT_PASS;
}

static int body_capacity(struct env *e)
{
	uint64_t cap = e->size / 512;
	uint8_t *buf = kt_blk_alloc(4096);
	struct kvio_blk_config cfg;
	uint32_t used;
	int r;

	KT_ASSERT(!kt_blk_get_config(&e->b, &cfg), "GET_CONFIG");
	KT_ASSERT(cfg.capacity == cap, "capacity %llu, want %llu",
		  (unsigned long long)cfg.capacity, (unsigned long long)cap);

	/* The last sector reads (the file's pattern restarts every MiB). */
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, cap - 1, buf, 512, S_OK,
			     513));
	{
		uint8_t *mib = kt_blk_alloc(1 << 20);

		kt_fill_pattern(mib, 1 << 20, 7 + (uint32_t)((e->size - 1) >> 20));
		KT_ASSERT(!memcmp(buf, mib + (1 << 20) - 512, 512),
			  "last sector content");
		free(mib);
	}
	/* One past, straddling, far past: IOERR, the whole buffer's length. */
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, cap, buf, 512, S_IOERR,
			     513));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, cap - 1, buf, 1024,
			     S_IOERR, 1025));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, ~0ULL, buf, 512,
			     S_IOERR, 513));
	/* Writes whose sector * 512 overflows 64 bits: nothing written. */
	kt_fill_pattern(buf, 4096, 1234);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, ~0ULL, buf, 512,
			     S_IOERR, 1));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 1ULL << 55, buf, 4096,
			     S_IOERR, 1));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, (1ULL << 55) + 1, buf,
			     512, S_IOERR, 1));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, ~0ULL - 7, buf, 4096,
			     S_IOERR, 1));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, cap, buf, 512, S_IOERR,
			     1));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, cap - 7, buf, 4096,
			     S_IOERR, 1));
	/* Discard and write zeroes past the end, and wrapping. */
	r = dwz(e, VIRTIO_BLK_T_DISCARD, cap - 4, 8, 0, &used);
	KT_ASSERT(r == S_IOERR, "discard over the end: %d", r);
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, ~0ULL - 3, 8, 0, &used);
	KT_ASSERT(r == S_IOERR, "write zeroes wrapping: %d", r);
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, 1ULL << 55, 8, 0, &used);
	KT_ASSERT(r == S_IOERR, "write zeroes at 2^55: %d", r);
	KT_TRY(unchanged(e, 7));
	/* And the last sector still writes. */
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, cap - 1, buf, 512, S_OK,
			     1));
	return KT_PASS;
}

static int case_capacity_file(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 7, 0), body_capacity);
}

/* A capacity from the VMM below the backend's size is the limit. */
static int body_capacity_config(struct env *e)
{
	struct kvio_blk_config cfg;
	uint8_t buf[512];

	kt_blk_config_default(&cfg);
	cfg.capacity = 1000;
	KT_ASSERT(!kt_blk_set_config(&e->b, &cfg), "SET_CONFIG");
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, 999, buf, 512, S_OK,
			     513));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, 1000, buf, 512, S_IOERR,
			     513));
	/* Larger than the backend: the backend's size. */
	cfg.capacity = 1ULL << 40;
	KT_ASSERT(!kt_blk_set_config(&e->b, &cfg), "SET_CONFIG");
	KT_ASSERT(!kt_blk_get_config(&e->b, &cfg), "GET_CONFIG");
	KT_ASSERT(cfg.capacity == e->size / 512, "capacity %llu",
		  (unsigned long long)cfg.capacity);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, e->size / 512, buf, 512,
			     S_IOERR, 513));
	return KT_PASS;
}

static int case_capacity_config(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 7, 0), body_capacity_config);
}

/* blk_size 4096: 512-byte requests and unaligned sectors are refused. */
static int body_blk_size(struct env *e)
{
	struct kvio_blk_config cfg;
	uint8_t *buf = kt_blk_alloc(8192);

	kt_blk_config_default(&cfg);
	cfg.blk_size = 4096;
	KT_ASSERT(!kt_blk_set_config(&e->b, &cfg), "SET_CONFIG");
	kt_fill_pattern(buf, 8192, 4);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 8, buf, 512, S_IOERR,
			     1));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 9, buf, 4096, S_IOERR,
			     1));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, 4, buf, 4096, S_IOERR,
			     4097));
	KT_TRY(unchanged(e, 7));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 8, buf, 8192, S_OK, 1));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, 16, buf, 4096, S_OK,
			     4097));
	return KT_PASS;
}

static int case_blk_size(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 7, 0), body_blk_size);
}

/* Every change a read-only device refuses; reads and flushes work. */
static int ro_checks(struct env *e)
{
	struct kvio_blk_config cfg;
	uint8_t *buf = kt_blk_alloc(4096);
	uint32_t used;
	int r;

	KT_ASSERT(!kt_blk_get_config(&e->b, &cfg), "GET_CONFIG");
	KT_ASSERT(cfg.flags & KVIO_BLK_CONFIG_F_RO, "GET_CONFIG flags 0x%x",
		  cfg.flags);
	kt_fill_pattern(buf, 4096, 99);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 0, buf, 4096, S_IOERR,
			     1));
	r = dwz(e, VIRTIO_BLK_T_DISCARD, 0, 8, 0, &used);
	KT_ASSERT(r == S_IOERR, "discard on RO: %d", r);
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, 8, 8, 0, &used);
	KT_ASSERT(r == S_IOERR, "write zeroes on RO: %d", r);
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, 16, 8,
		VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, &used);
	KT_ASSERT(r == S_IOERR, "write zeroes unmap on RO: %d", r);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, 0, buf, 4096, S_OK,
			     4097));
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, S_OK,
			     1));
	return unchanged(e, 7);
}

static int body_ro_config(struct env *e)
{
	struct kvio_blk_config cfg;

	kt_blk_config_default(&cfg);
	cfg.flags = KVIO_BLK_CONFIG_F_RO;
	KT_ASSERT(!kt_blk_set_config(&e->b, &cfg), "SET_CONFIG");
	KT_TRY(ro_checks(e));
	/* Writable again once the VMM says so. */
	cfg.flags = 0;
	KT_ASSERT(!kt_blk_set_config(&e->b, &cfg), "SET_CONFIG");
	return fill(e, 0, 8, 5);
}

static int case_ro_config(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 7, 0), body_ro_config);
}

/* The guest acked VIRTIO_BLK_F_RO: read-only whatever else says. */
static int body_ro_feature(struct env *e)
{
	uint8_t *buf = kt_blk_alloc(4096);
	uint32_t used;
	int r;

	kt_fill_pattern(buf, 4096, 99);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 0, buf, 4096, S_IOERR,
			     1));
	r = dwz(e, VIRTIO_BLK_T_WRITE_ZEROES, 8, 8, 0, &used);
	KT_ASSERT(r == S_IOERR, "write zeroes with RO acked: %d", r);
	r = dwz(e, VIRTIO_BLK_T_DISCARD, 8, 8, 0, &used);
	KT_ASSERT(r == S_IOERR, "discard with RO acked: %d", r);
	KT_TRY(kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_IN, 0, buf, 4096, S_OK,
			     4097));
	return unchanged(e, 7);
}

static int case_ro_feature(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT | F(VIRTIO_BLK_F_RO), 7, 0),
		 body_ro_feature);
}

static int env_file_rdonly(struct env *e, const struct kt_target *t)
{
	char path[64];
	int rw;

	env_init(e);
	e->size = FILE_SIZE;
	rw = kt_blk_tmpfile(e->size, 7, 0);
	if (rw < 0)
		return kt_fail("tmpfile");
	/* Reopen the unlinked file read-only through /proc. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rw);
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	close(rw);
	if (e->fd < 0)
		return kt_fail("reopen O_RDONLY: %s", kt_errname(errno));
	return env_attach(e, t, FEAT);
}

static int case_ro_fd(const struct kt_target *t)
{
	WITH_ENV(env_file_rdonly(&e_, t), ro_checks);
}

static int case_ro_fd_nullb(const struct kt_target *t)
{
	struct env e;
	int r;

	env_init(&e);
	r = kt_nullb_create(&e.nb, &nullb_cache);
	if (r == KT_PASS) {
		e.bdev = true;
		e.fd = open(e.nb.dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
		r = e.fd < 0 ? kt_fail("open") : env_attach(&e, t, FEAT);
	}
	if (r == KT_PASS) {
		struct kvio_blk_config cfg;
		uint8_t *buf = kt_blk_alloc(4096);

		r = kt_blk_get_config(&e.b, &cfg) ? KT_FAIL : KT_PASS;
		if (r == KT_PASS && !(cfg.flags & KVIO_BLK_CONFIG_F_RO))
			r = kt_fail("RO not reported");
		if (r == KT_PASS)
			r = kt_blk_expect(&e.b, 0, VIRTIO_BLK_T_OUT, 0, buf,
					  4096, S_IOERR, 1);
		if (r == KT_PASS)
			r = kt_blk_expect(&e.b, 0, VIRTIO_BLK_T_IN, 0, buf,
					  4096, S_OK, 4097);
	}
	env_close(&e);
	return r;
}

/* Unknown types: UNSUPP, answered, the used length up to the status byte. */
static int body_unknown(struct env *e)
{
	static const uint32_t types[] = {
		VIRTIO_BLK_T_SCSI_CMD, 3, 5, 10 /* GET_LIFETIME */,
		VIRTIO_BLK_T_SECURE_ERASE, 99, VIRTIO_BLK_T_BARRIER,
		VIRTIO_BLK_T_BARRIER | VIRTIO_BLK_T_OUT, 0xffffffff,
	};
	uint8_t buf[512];
	unsigned int i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		/* With no data, and with a writable data buffer. */
		KT_TRY(kt_blk_expect(&e->b, 0, types[i], 0, NULL, 0, S_UNSUPP,
				     1));
		memset(kt_blk_data(&e->b, 0, 0), 0x77, 512);
		KT_ASSERT(kt_blk_post(&e->b, 0, 0, types[i], 0, 0, false) >= 0,
			  "post");
		{
			struct kt_blk_q *q = &e->b.q[0];
			struct kt_buf out = { q->hdr_gpa, 16 };
			struct kt_buf in[2] = { { q->data_gpa, 512 },
						{ q->status_gpa, 1 } };
			uint8_t status;
			uint32_t used;

			/* Take the plain one back first. */
			KT_ASSERT(!kt_blk_wait_one(&e->b, 0, &status, &used,
						   5000), "wait");
			KT_ASSERT(kt_vq_add(&q->vq, &out, 1, in, 2, false, 0) >=
				  0, "add");
			KT_ASSERT(!kt_blk_wait_one(&e->b, 0, &status, &used,
						   5000), "wait");
			KT_ASSERT(status == S_UNSUPP && used == 513,
				  "type 0x%x with data: status %u used %u",
				  types[i], status, used);
			memcpy(buf, kt_blk_data(&e->b, 0, 0), 512);
			KT_ASSERT(buf[0] == 0x77 && buf[511] == 0x77,
				  "type 0x%x: data buffer written", types[i]);
		}
	}
	return unchanged(e, 7);
}

static int case_unknown_types(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT, 7, 0), body_unknown);
}

/*
 * Dirty log (VHOST_F_LOG_ALL): a read marks the pages of its data and of
 * its status byte, also when it completes asynchronously; a write marks its
 * status byte's page only.
 */
#define LOG_BYTES ((KT_GPA_BASE + KT_MEM_SIZE) / 4096 / 8)

static bool page_marked(const uint8_t *bitmap, uint64_t gpa)
{
	uint64_t page = gpa / 4096;

	return __atomic_load_n(&bitmap[page / 8], __ATOMIC_RELAXED) &
	       (1 << (page % 8));
}

static int body_dirty_log(struct env *e)
{
	struct kt_blk *b = &e->b;
	struct kt_blk_q *q = &b->q[0];
	uint64_t data = q->data_gpa + 3ULL * SLOT, status = q->status_gpa + 3;
	uint8_t *bitmap, st;
	uint64_t base, gpa;
	uint32_t used;
	int r;

	bitmap = mmap(NULL, LOG_BYTES, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(bitmap != MAP_FAILED, "mmap");
	base = (uintptr_t)bitmap;
	KT_ERRNO(0, ioctl(b->d.fd, VHOST_SET_LOG_BASE, &base));

	/* A read of 8 KiB into slot 3. */
	r = kt_blk_post(b, 0, 3, VIRTIO_BLK_T_IN, 64, 8192, false);
	KT_ASSERT(r >= 0, "post");
	r = kt_blk_wait_one(b, 0, &st, &used, 5000);
	KT_ASSERT(!r && st == S_OK && used == 8193, "read: %d status %u", r,
		  st);
	for (gpa = data; gpa < data + 8192; gpa += 4096)
		KT_ASSERT(page_marked(bitmap, gpa), "data page 0x%llx not marked",
			  (unsigned long long)gpa);
	KT_ASSERT(page_marked(bitmap, status), "status page not marked");
	KT_ASSERT(!page_marked(bitmap, data + 8192) ||
		  (data + 8192) / 4096 == status / 4096,
		  "page after the data marked");

	/* A write marks only where the status byte is. */
	memset(bitmap, 0, LOG_BYTES);
	r = kt_blk_post(b, 0, 3, VIRTIO_BLK_T_OUT, 64, 8192, false);
	KT_ASSERT(r >= 0, "post");
	r = kt_blk_wait_one(b, 0, &st, &used, 5000);
	KT_ASSERT(!r && st == S_OK && used == 1, "write: %d status %u", r, st);
	KT_ASSERT(page_marked(bitmap, status), "status page not marked");
	for (gpa = data; gpa < data + 8192; gpa += 4096)
		KT_ASSERT(!page_marked(bitmap, gpa), "write marked its data page");
	munmap(bitmap, LOG_BYTES);
	return KT_PASS;
}

static int case_dirty_log_file(const struct kt_target *t)
{
	WITH_ENV(env_file(&e_, t, FEAT | F(VHOST_F_LOG_ALL), 0, 0),
		 body_dirty_log);
}

static int case_dirty_log_direct(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT | F(VHOST_F_LOG_ALL), NULL, O_DIRECT),
		 body_dirty_log);
}

/* ---------------------------------------------------------- the ABI */

static int case_config_abi(const struct kt_target *t)
{
	struct kvio_blk_config cfg, got;
	struct kt_blk b;
	int r;

	KT_TRY(kt_blk_open(&b, t, FEAT, 1, 8, 4096, false));
	r = kt_blk_get_config(&b, &got);
	KT_ASSERT(!r, "GET_CONFIG: %s", kt_errname(-r));
	/*
	 * Defaults: nothing attached, 254 segments (room for iovec splits),
	 * one DISCARD/WRITE_ZEROES segment of kvio's 256 MiB per request.
	 */
	KT_ASSERT(got.version == KVIO_BLK_CONFIG_VERSION && got.flags == 0 &&
		  got.capacity == 0 && got.blk_size == 512 &&
		  got.seg_max == 254 && got.size_max == 0 &&
		  got.max_discard_sectors == 1U << 19 &&
		  got.max_discard_seg == 1 &&
		  got.max_write_zeroes_sectors == 1U << 19 &&
		  got.max_write_zeroes_seg == 1,
		  "defaults: v%u flags 0x%x cap %llu bs %u seg %u size %u dsec %u dseg %u wsec %u wseg %u",
		  got.version, got.flags, (unsigned long long)got.capacity,
		  got.blk_size, got.seg_max, got.size_max,
		  got.max_discard_sectors, got.max_discard_seg,
		  got.max_write_zeroes_sectors, got.max_write_zeroes_seg);

	kt_blk_config_default(&cfg);
	cfg.flags = KVIO_BLK_CONFIG_F_WRITETHROUGH;
	cfg.blk_size = 4096;
	cfg.seg_max = 126;
	cfg.size_max = 65536;
	cfg.max_discard_sectors = 8192;
	cfg.max_discard_seg = 16;
	cfg.max_write_zeroes_sectors = 4096;
	cfg.max_write_zeroes_seg = 2;
	memcpy(cfg.serial, "0123456789abcdefghij", 20);
	KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_SET_CONFIG, &cfg));
	KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_GET_CONFIG, &got));
	KT_ASSERT(got.flags == cfg.flags && got.blk_size == 4096 &&
		  got.seg_max == 126 && got.size_max == 65536 &&
		  got.max_discard_sectors == 8192 && got.max_discard_seg == 16 &&
		  got.max_write_zeroes_sectors == 4096 &&
		  got.max_write_zeroes_seg == 2 &&
		  !memcmp(got.serial, cfg.serial, 20), "round trip");

#define BAD(field, value) do {						\
	struct kvio_blk_config c_ = cfg;				\
	c_.field = value;						\
	KT_ERRNO(EINVAL, ioctl(b.d.fd, KVIO_BLK_SET_CONFIG, &c_));	\
} while (0)
	BAD(version, 0);
	BAD(version, 2);
	BAD(flags, 1U << 2);
	BAD(flags, 0x80000000);
	BAD(reserved[0], 1);
	BAD(reserved[7], 1);
	BAD(blk_size, 256);
	BAD(blk_size, 1000);
	BAD(blk_size, 1U << 17);
	BAD(seg_max, 1023);
	BAD(max_discard_sectors, (1U << 19) + 1);
	BAD(max_write_zeroes_sectors, 0xffffffff);
	BAD(max_discard_seg, 257);
	BAD(max_write_zeroes_seg, 1000);
	/* 16 segments of 8192 sectors is fine, of 32769 is over 256 MiB. */
	BAD(max_discard_sectors, 32769);
	/* As are 2 segments of 256 MiB, and 256 of the default size. */
	{
		struct kvio_blk_config c_ = cfg;

		c_.max_write_zeroes_sectors = 1U << 19;
		KT_ERRNO(EINVAL, ioctl(b.d.fd, KVIO_BLK_SET_CONFIG, &c_));
		c_.max_write_zeroes_seg = 1;
		KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_SET_CONFIG, &c_));
		c_.max_write_zeroes_sectors = 0;
		c_.max_write_zeroes_seg = 256;
		KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_SET_CONFIG, &c_));
		KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_GET_CONFIG, &got));
		KT_ASSERT(got.max_write_zeroes_seg == 256 &&
			  got.max_write_zeroes_sectors == 2048,
			  "256 segments: %u sectors each, want 2048",
			  got.max_write_zeroes_sectors);
		KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_SET_CONFIG, &cfg));
	}
#undef BAD
	/* A refused config changed nothing. */
	KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_GET_CONFIG, &got));
	KT_ASSERT(got.seg_max == 126 && got.blk_size == 4096, "changed");
	KT_ERRNO(EFAULT, ioctl(b.d.fd, KVIO_BLK_SET_CONFIG, (void *)8));
	KT_ERRNO(EFAULT, ioctl(b.d.fd, KVIO_BLK_GET_CONFIG, (void *)8));
	kt_blk_close(&b);

	/* Before SET_OWNER, and from another process: EPERM. */
	{
		int fd = open(t->path, O_RDWR | O_CLOEXEC);

		KT_ASSERT(fd >= 0, "open");
		KT_ERRNO(EPERM, ioctl(fd, KVIO_BLK_SET_CONFIG, &cfg));
		KT_ERRNO(EPERM, ioctl(fd, KVIO_BLK_GET_CONFIG, &got));
		close(fd);
	}
	return KT_PASS;
}

/*
 * A device in use as swap: the kernel refuses to write to it, and so does
 * kvio: SET_BACKEND says ETXTBSY, and a device attached before the swapon
 * answers DISCARD (which does not go through vfs_fallocate() on a block
 * device) and writes with IOERR, the swap signature intact.
 */
static const struct kt_nullb_opts nullb_swap = {
	.size_mb = 16, .discard = true,
};

static int body_swap(struct env *e)
{
	struct vhost_vring_file f = { .index = 0 };
	char cmd[128], sig[10];
	uint8_t buf[4096];
	uint32_t used;
	int fd, r;

	snprintf(cmd, sizeof(cmd), "mkswap -q %s >/dev/null 2>&1", e->nb.dev);
	KT_ASSERT(system(cmd) == 0, "%s failed", cmd);
	if (swapon(e->nb.dev, 0) < 0)
		return kt_skip("swapon %s: %s (no swap in this kernel?)",
			       e->nb.dev, kt_errname(errno));
	r = dwz(e, VIRTIO_BLK_T_DISCARD, 0, 8, 0, &used);
	if (r == S_IOERR)
		r = kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 0, buf,
				  sizeof(buf), S_IOERR, 1);
	else
		r = kt_fail("DISCARD on active swap: status %d, want IOERR",
			    r);
	fd = open(e->nb.dev, O_RDWR | O_CLOEXEC);
	f.fd = fd;
	if (r == KT_PASS && (fd < 0 ||
			     ioctl(e->b.d.fd, KVIO_BLK_SET_BACKEND, &f) == 0 ||
			     errno != ETXTBSY))
		r = kt_fail("SET_BACKEND of an active swap device: %s, want ETXTBSY",
			    fd < 0 ? "open failed" : kt_errname(errno));
	if (fd >= 0)
		close(fd);
	KT_ASSERT(!swapoff(e->nb.dev), "swapoff: %s", kt_errname(errno));
	KT_TRY(r);
	{
		/* O_DIRECT: an aligned buffer. */
		uint8_t *page = kt_blk_alloc(4096);

		r = backend_read(e, page, 4096, 0);
		memcpy(sig, page + 4086, 10);
		free(page);
		KT_ASSERT(!r, "read page 0: %s", kt_errname(-r));
	}
	KT_ASSERT(!memcmp(sig, "SWAPSPACE2", 10), "swap signature gone");
	/* Swap off: served again. */
	fd = open(e->nb.dev, O_RDWR | O_CLOEXEC);
	f.fd = fd;
	KT_ERRNO(0, ioctl(e->b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	close(fd);
	return kt_blk_expect(&e->b, 0, VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf),
			     S_OK, 1);
}

static int case_swap(const struct kt_target *t)
{
	WITH_ENV(env_nullb(&e_, t, FEAT | F(VIRTIO_BLK_F_DISCARD), &nullb_swap,
			   0), body_swap);
}

static int case_backend_abi(const struct kt_target *t)
{
	struct vhost_vring_file f = { .index = 0 };
	struct vhost_vring_state s = { .index = 0, .num = 8 };
	struct kt_blk b;
	int fd, sv[2], pfd[2], file, r;

	KT_TRY(kt_blk_open(&b, t, FEAT, 1, 8, 4096, false));
	file = kt_blk_tmpfile(1 << 20, 0, 0);
	KT_ASSERT(file >= 0, "tmpfile");

	/* Detaching when nothing is attached is fine. */
	f.fd = -1;
	KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	/* Not a descriptor. */
	f.fd = 1000;
	KT_ERRNO(EBADF, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	f.fd = -5;
	KT_ERRNO(EBADF, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	/* Neither a regular file nor a block device. */
	KT_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
	f.fd = sv[0];
	KT_ERRNO(EINVAL, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	KT_ASSERT(!pipe(pfd), "pipe");
	f.fd = pfd[0];
	KT_ERRNO(EINVAL, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f.fd = fd;
	KT_ERRNO(EINVAL, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	close(fd);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	f.fd = fd;
	KT_ERRNO(EINVAL, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	close(fd);
	f.fd = b.d.fd;	/* the device itself */
	KT_ERRNO(EINVAL, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	/* Not readable, or appending. */
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", file);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		f.fd = fd;
		KT_ERRNO(EBADF, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
		close(fd);
		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
		f.fd = fd;
		KT_ERRNO(EINVAL, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
		close(fd);
		fd = open(path, O_PATH | O_CLOEXEC);
		f.fd = fd;
		KT_ERRNO(EBADF, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
		close(fd);
	}
	/* A ring index past the device's. */
	f.fd = file;
	f.index = 16;
	KT_ERRNO(ENOBUFS, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	f.index = 0xffffffff;
	KT_ERRNO(ENOBUFS, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	KT_ERRNO(EFAULT, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, (void *)8));

	/* Any valid index attaches the whole device; again is a no-op. */
	f.index = 15;
	KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	f.index = 0;
	KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	KT_TRY(kt_blk_expect(&b, 0, VIRTIO_BLK_T_IN, 0, NULL, 512, S_OK, 513));
	/* Rings are fixed while attached. */
	KT_ERRNO(EBUSY, ioctl(b.d.fd, VHOST_SET_VRING_NUM, &s));
	KT_ERRNO(EBUSY, ioctl(b.d.fd, VHOST_SET_VRING_BASE, &s));
	s.index = 5;
	KT_ERRNO(EBUSY, ioctl(b.d.fd, VHOST_SET_VRING_NUM, &s));
	/* A refused fd leaves the attached one working. */
	f.fd = sv[1];
	KT_ERRNO(EINVAL, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	KT_TRY(kt_blk_expect(&b, 0, VIRTIO_BLK_T_IN, 0, NULL, 512, S_OK, 513));
	/* Detach: rings can change; requests now wait (none answered). */
	f.fd = -1;
	KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	s.index = 5;
	KT_ERRNO(0, ioctl(b.d.fd, VHOST_SET_VRING_NUM, &s));
	KT_ASSERT(kt_blk_post(&b, 0, 0, VIRTIO_BLK_T_IN, 0, 512, false) >= 0,
		  "post");
	kt_vq_kick(&b.q[0].vq);
	r = kt_blk_reap(&b, 0, NULL, NULL, NULL, 300);
	KT_ASSERT(r == 0, "a request was answered without a backend");
	/* Attaching picks it up. */
	f.fd = file;
	KT_ERRNO(0, ioctl(b.d.fd, KVIO_BLK_SET_BACKEND, &f));
	{
		uint8_t status;

		r = kt_blk_reap(&b, 0, NULL, &status, NULL, 5000);
		KT_ASSERT(r == 1 && status == S_OK,
			  "waiting request after attach: %d status %u", r,
			  status);
	}
	/* Unknown ioctl. */
	KT_ERRNO(ENOTTY, ioctl(b.d.fd, _IO(VHOST_VIRTIO, 0x5f)));
	kt_blk_close(&b);

	/* Without owner: EPERM. */
	fd = open(t->path, O_RDWR | O_CLOEXEC);
	f.fd = file;
	KT_ERRNO(EPERM, ioctl(fd, KVIO_BLK_SET_BACKEND, &f));
	close(fd);
	close(file);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "features: the virtio-blk and ring features are offered", case_features },
	{ "data: file, 48 writes in flight then reads, via ring and file", case_data_file },
	{ "data: file with EVENT_IDX and indirect chains", case_data_file_event_idx },
	{ "data: null_blk O_DIRECT (asynchronous), via ring and device", case_data_nullb_direct },
	{ "data: null_blk through the page cache", case_data_nullb_buffered },
	{ "busy-loop timeout, file: a read added after an answer is served without a kick; after the timeout, kicks again", case_busyloop_file },
	{ "busy-loop timeout, null_blk O_DIRECT, EVENT_IDX: the same with asynchronous completions", case_busyloop_nullb_direct },
	{ "busy-loop timeout, null_blk O_DIRECT: a guest answering each completion at once is asked for (almost) no kick, and every request is served", case_busyloop_no_kick },
	{ "busy-loop timeout, null_blk O_DIRECT, EVENT_IDX: the same through avail_event", case_busyloop_no_kick_event_idx },
	{ "busy-loop timeout, null_blk O_DIRECT, EVENT_IDX: requests after gaps around the timeout are all served, kicked or not", case_busyloop_gaps },
	{ "busy-loop timeout, null_blk O_DIRECT, EVENT_IDX: GET_VRING_BASE while the device polls, restart with the drained kick eventfd: the next request asks for a kick and is served", case_busyloop_restart },
	{ "data: O_DIRECT with an unaligned guest buffer", case_data_unaligned },
	{ "data: 16 segments of 512 bytes each way, file", case_data_segments },
	{ "data: 16 segments of 512 bytes each way, O_DIRECT", case_data_segments_direct },
	{ "GET_ID: serial from SET_CONFIG, buffers of 8, 20 and 512 bytes", case_get_id },
	{ "FLUSH: file", case_flush_file },
	{ "FLUSH: reaches a null_blk with a volatile cache (O_DIRECT)", case_flush_nullb_direct },
	{ "FLUSH: reaches a null_blk with a volatile cache (page cache)", case_flush_nullb_buffered },
	{ "cache: writeback, WRITETHROUGH from the VMM, back to writeback", case_writeback },
	{ "cache: no FLUSH acked means writethrough", case_writethrough_no_flush },
	{ "DISCARD: file, hole punched, zeroes, neighbours intact, IN_MODIFY", case_discard_file },
	{ "DISCARD: null_blk O_DIRECT, counted, zeroes, IN_MODIFY", case_discard_nullb },
	{ "DISCARD: null_blk page cache, counted, zeroes, IN_MODIFY", case_discard_nullb_buffered },
	{ "WRITE_ZEROES: file, without unmap (allocated) and with (hole)", case_write_zeroes_file },
	{ "WRITE_ZEROES: null_blk O_DIRECT, with and without unmap", case_write_zeroes_nullb },
	{ "WRITE_ZEROES: null_blk page cache, with and without unmap", case_write_zeroes_nullb_buffered },
	{ "DISCARD/WRITE_ZEROES not negotiated: UNSUPP", case_dwz_not_acked },
	{ "capacity: last sector, one past, straddle, 2^64 and 2^55 sectors", case_capacity_file },
	{ "capacity: the VMM's below the backend's size", case_capacity_config },
	{ "blk_size 4096: smaller or unaligned requests refused", case_blk_size },
	{ "read-only from SET_CONFIG: no change reaches the file", case_ro_config },
	{ "read-only: VIRTIO_BLK_F_RO acked by the guest", case_ro_feature },
	{ "read-only file descriptor: no change reaches the file", case_ro_fd },
	{ "read-only block device descriptor", case_ro_fd_nullb },
	{ "unknown types: UNSUPP, used length up to the status byte, data untouched",
	  case_unknown_types },
	{ "dirty log: reads mark data and status pages, writes the status (file)", case_dirty_log_file },
	{ "dirty log: the same, completions asynchronous (O_DIRECT)", case_dirty_log_direct },
	{ "ABI: SET/GET_CONFIG values and errno", case_config_abi },
	{ "ABI: SET_BACKEND fd kinds, indices, EBUSY, detach, errno", case_backend_abi },
	{ "a device in use as swap: ETXTBSY, DISCARD and writes IOERR", case_swap },
};

int main(int argc, char **argv)
{
	return kt_blk_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
