// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_teardown: taking a kvio-blk device apart with I/O in flight.
 *
 * The backend is a null_blk device whose requests take 200 ms each (timer
 * completions), opened with O_DIRECT, so the requests a case posts are
 * really in flight in the block layer when it closes the device, resets
 * its owner, detaches or replaces the backend, or stops a ring.  Each call
 * must return once those requests are answered, with every request the
 * device took from the ring answered exactly once (status OK, used entry
 * written) before the call returns, and the device must be usable again
 * afterwards.  After a close no page of guest RAM may still be held (the
 * memfd can be sealed against writes).  Then devices are opened, used and closed by the hundred, and
 * an owner is killed with requests in flight.  The kernel log (KASAN,
 * lockdep, kmemleak on the debug kernel) is checked by the runner.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt_blk.h"

#define F(bit) (1ULL << (bit))
#define FEAT (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH) |		\
	      F(VIRTIO_BLK_F_MQ) | F(VIRTIO_RING_F_INDIRECT_DESC))
#define NUM 64
#define LEN 4096
#define SLOW_NSEC 200000000UL	/* 200 ms per request */
/*
 * Request i of ring qi is at (qi * NUM + i) * STRIDE: a block apart, so
 * the block layer cannot merge them (the plug around a handler run would
 * merge adjacent writes, and null_blk's in-flight count is of merged ones).
 */
#define STRIDE (2 * LEN)
#define CALL_MS 10000		/* a teardown call taking longer is hung */

struct rig {
	struct kt_nullb nb;
	int fd;			/* the null_blk, O_DIRECT */
	struct kt_blk b;
	bool open;
};

static int rig_nullb(struct rig *g, unsigned long nsec)
{
	/*
	 * A slower kernel (KVIO_TIMEOUT_SCALE) takes longer to submit: the
	 * requests must stay in flight until the last one is submitted.
	 */
	struct kt_nullb_opts o = { .size_mb = 32, .irqmode = 2,
				   .completion_nsec = nsec * kt_timeout_scale(),
				   .hw_queue_depth = 256 };

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	KT_TRY(kt_nullb_create(&g->nb, &o));
	g->fd = open(g->nb.dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (g->fd < 0)
		return kt_fail("open %s: %s", g->nb.dev, kt_errname(errno));
	return KT_PASS;
}

static int rig_dev(struct rig *g, const struct kt_target *t, unsigned int nq,
		   bool workers)
{
	int r;

	KT_TRY(kt_blk_open(&g->b, t, FEAT, nq, NUM, LEN, workers));
	g->open = true;
	r = kt_blk_backend(&g->b, g->fd);
	if (r)
		return kt_fail("SET_BACKEND: %s", kt_errname(-r));
	return KT_PASS;
}

static void rig_close(struct rig *g)
{
	if (g->open)
		kt_blk_close(&g->b);
	g->open = false;
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	kt_nullb_destroy(&g->nb);
}

/* Post n writes (slot i, at (qi * NUM + i) * STRIDE) on ring qi, kick. */
static int post_writes(struct kt_blk *b, unsigned int qi, unsigned int n,
		       uint32_t seed)
{
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		kt_fill_pattern(kt_blk_data(b, qi, i), LEN, seed + i);
		r = kt_blk_post(b, qi, i, VIRTIO_BLK_T_OUT,
				(uint64_t)(qi * NUM + i) * (STRIDE / 512), LEN,
				true);
		if (r < 0)
			return kt_fail("post %u: %s", i, kt_errname(-r));
	}
	kt_vq_kick(&b->q[qi].vq);
	return KT_PASS;
}

/*
 * Until the device has want requests in flight.  Each takes slow_nsec(),
 * so once they are all submitted they are all in flight together.
 */
static int wait_inflight(struct rig *g, long want)
{
	long deadline = kt_deadline(3000), n, most = 0;

	do {
		n = kt_nullb_inflight(&g->nb);
		if (n >= want)
			return KT_PASS;
		if (n > most)
			most = n;
		kt_sleep_ms(2);
	} while (kt_now_ms() < deadline);
	return kt_fail("at most %ld requests in flight, want %ld", most, want);
}

/*
 * Until the device has taken want requests from the rings of g->b: each is
 * either answered (in a used ring) or in flight in the block layer.  On a
 * slow kernel the first ones may end before the last is submitted.
 */
static int wait_taken(struct rig *g, long want)
{
	long deadline = kt_deadline(3000), n = 0;
	unsigned int i;

	do {
		n = kt_nullb_inflight(&g->nb);
		for (i = 0; i < g->b.nq; i++)
			n += kt_vq_used_pending(&g->b.q[i].vq);
		if (n >= want)
			return KT_PASS;
		kt_sleep_ms(2);
	} while (kt_now_ms() < deadline);
	return kt_fail("%ld requests taken, want %ld", n, want);
}

/*
 * Right after the teardown call: n used entries already there, each OK,
 * each slot once (kt_vq_get_used rejects ids not outstanding).
 */
static int all_answered(struct kt_blk *b, unsigned int qi, unsigned int n)
{
	unsigned int i, slot;
	uint8_t status;
	uint32_t used;
	int r;

	KT_ASSERT(kt_vq_used_pending(&b->q[qi].vq) == n,
		  "ring %u: %u used entries when the call returned, want %u",
		  qi, kt_vq_used_pending(&b->q[qi].vq), n);
	for (i = 0; i < n; i++) {
		r = kt_blk_reap(b, qi, &slot, &status, &used, 0);
		KT_ASSERT(r == 1, "ring %u: entry %u: %d", qi, i, r);
		KT_ASSERT(status == VIRTIO_BLK_S_OK && used == 1,
			  "ring %u slot %u: status %u used %u", qi, slot,
			  status, used);
	}
	KT_ASSERT(kt_vq_used_pending(&b->q[qi].vq) == 0, "extra used entries");
	return KT_PASS;
}

/* The data of post_writes() reached the device. */
static int data_landed(struct rig *g, unsigned int qi, unsigned int n,
		       uint32_t seed)
{
	uint8_t *got = kt_blk_alloc(n * STRIDE), *want = kt_blk_alloc(LEN);
	unsigned int i;

	/* One read: each costs the device's 200 ms. */
	KT_ASSERT(!kt_pread_all(g->fd, got, n * STRIDE,
				(uint64_t)qi * NUM * STRIDE), "pread");
	for (i = 0; i < n; i++) {
		kt_fill_pattern(want, LEN, seed + i);
		if (!kt_bytes_equal(got + i * STRIDE, LEN, want, LEN,
				    "device"))
			return kt_fail("ring %u request %u", qi, i);
	}
	free(got);
	free(want);
	return KT_PASS;
}

/*
 * Right after the device was closed: no page of guest RAM is still held by
 * the kernel (the "no page stays pinned").  Guest RAM is gone after.
 */
static int no_page_held(struct rig *g)
{
	int r = kt_mem_unreferenced(&g->b.d.mem);

	KT_ASSERT(!r, "guest RAM still referenced after close: sealing it: %s",
		  kt_errname(-r));
	return KT_PASS;
}

/* A fresh device on the same backend reads and writes. */
static int usable_again(struct rig *g, const struct kt_target *t)
{
	uint8_t *buf = kt_blk_alloc(LEN), *want = kt_blk_alloc(LEN);
	struct kt_blk b;

	KT_TRY(kt_blk_open(&b, t, FEAT, 1, NUM, LEN, false));
	KT_ASSERT(!kt_blk_backend(&b, g->fd), "SET_BACKEND");
	kt_fill_pattern(want, LEN, 4242);
	memcpy(buf, want, LEN);
	KT_TRY(kt_blk_expect(&b, 0, VIRTIO_BLK_T_OUT, 4096, buf, LEN,
			     VIRTIO_BLK_S_OK, 1));
	memset(buf, 0, LEN);
	KT_TRY(kt_blk_expect(&b, 0, VIRTIO_BLK_T_IN, 4096, buf, LEN,
			     VIRTIO_BLK_S_OK, LEN + 1));
	KT_ASSERT(!memcmp(buf, want, LEN), "read back");
	kt_blk_close(&b);
	return KT_PASS;
}

#define TIMED(ms, expr) do {						\
	long t0_ = kt_now_ms();						\
	expr;								\
	ms = kt_now_ms() - t0_;						\
} while (0)

static int body_close(struct rig *g, const struct kt_target *t)
{
	long ms;

	KT_TRY(rig_dev(g, t, 1, false));
	KT_TRY(post_writes(&g->b, 0, NUM, 100));
	KT_TRY(wait_taken(g, NUM));
	TIMED(ms, close(g->b.d.fd));
	g->b.d.fd = -1;
	kt_diag("close with %d requests in flight took %ld ms", NUM, ms);
	KT_ASSERT(ms < CALL_MS * kt_timeout_scale(), "close took %ld ms", ms);
	/* The requests finished before close() returned: all answered. */
	KT_TRY(all_answered(&g->b, 0, NUM));
	KT_ASSERT(kt_nullb_inflight(&g->nb) == 0, "device still busy");
	KT_TRY(no_page_held(g));
	KT_TRY(data_landed(g, 0, NUM, 100));
	return usable_again(g, t);
}

static int body_reset_owner(struct rig *g, const struct kt_target *t)
{
	long ms;
	int r;

	KT_TRY(rig_dev(g, t, 1, false));
	KT_TRY(post_writes(&g->b, 0, NUM, 200));
	KT_TRY(wait_taken(g, NUM));
	TIMED(ms, r = ioctl(g->b.d.fd, VHOST_RESET_OWNER));
	KT_ASSERT(!r, "RESET_OWNER: %s", kt_errname(errno));
	KT_ASSERT(ms < CALL_MS * kt_timeout_scale(), "RESET_OWNER took %ld ms", ms);
	KT_TRY(all_answered(&g->b, 0, NUM));
	KT_TRY(data_landed(g, 0, NUM, 200));
	/* Owned again, set up again, used again. */
	kt_blk_q_release(&g->b.q[0]);
	KT_ASSERT(!kt_dev_setup(&g->b.d, FEAT), "setup after RESET_OWNER");
	KT_ASSERT(!kt_blk_q_setup(&g->b, 0, NUM, LEN), "ring setup");
	KT_ASSERT(!kt_blk_backend(&g->b, g->fd), "SET_BACKEND");
	KT_TRY(post_writes(&g->b, 0, 8, 300));
	{
		unsigned int i;
		uint8_t status;

		for (i = 0; i < 8; i++)
			KT_ASSERT(kt_blk_reap(&g->b, 0, NULL, &status, NULL,
					      CALL_MS) == 1 &&
				  status == VIRTIO_BLK_S_OK, "request %u", i);
	}
	return data_landed(g, 0, 8, 300);
}

static int body_detach(struct rig *g, const struct kt_target *t)
{
	long ms;
	int r;

	KT_TRY(rig_dev(g, t, 1, false));
	KT_TRY(post_writes(&g->b, 0, NUM, 400));
	KT_TRY(wait_taken(g, NUM));
	TIMED(ms, r = kt_blk_backend(&g->b, -1));
	KT_ASSERT(!r, "detach: %s", kt_errname(-r));
	KT_ASSERT(ms < CALL_MS * kt_timeout_scale(), "detach took %ld ms", ms);
	KT_TRY(all_answered(&g->b, 0, NUM));
	KT_TRY(data_landed(g, 0, NUM, 400));
	/* Reattached, the same ring goes on. */
	KT_ASSERT(!kt_blk_backend(&g->b, g->fd), "reattach");
	KT_TRY(post_writes(&g->b, 0, 16, 500));
	{
		unsigned int i;
		uint8_t status;

		for (i = 0; i < 16; i++)
			KT_ASSERT(kt_blk_reap(&g->b, 0, NULL, &status, NULL,
					      CALL_MS) == 1 &&
				  status == VIRTIO_BLK_S_OK, "request %u", i);
	}
	return data_landed(g, 0, 16, 500);
}

/* Another backend replaces the busy one: old requests end on the old one. */
static int body_replace(struct rig *g, const struct kt_target *t)
{
	int file = kt_blk_tmpfile(32 << 20, 0, 0);
	uint8_t *got = kt_blk_alloc(LEN), *want = kt_blk_alloc(LEN);
	long ms;
	int r;

	KT_ASSERT(file >= 0, "tmpfile");
	KT_TRY(rig_dev(g, t, 1, false));
	KT_TRY(post_writes(&g->b, 0, NUM, 600));
	KT_TRY(wait_taken(g, NUM));
	TIMED(ms, r = kt_blk_backend(&g->b, file));
	KT_ASSERT(!r, "replace: %s", kt_errname(-r));
	KT_ASSERT(ms < CALL_MS * kt_timeout_scale(), "replace took %ld ms", ms);
	KT_TRY(all_answered(&g->b, 0, NUM));
	KT_TRY(data_landed(g, 0, NUM, 600));
	kt_fill_pattern(want, LEN, 700);
	memcpy(got, want, LEN);
	KT_TRY(kt_blk_expect(&g->b, 0, VIRTIO_BLK_T_OUT, 0, got, LEN,
			     VIRTIO_BLK_S_OK, 1));
	KT_ASSERT(!kt_pread_all(file, got, LEN, 0), "pread");
	KT_ASSERT(!memcmp(got, want, LEN), "new request went to the new file");
	close(file);
	return KT_PASS;
}

/* GET_VRING_BASE: the index it returns and the used index agree. */
static int body_get_base(struct rig *g, const struct kt_target *t)
{
	struct vhost_vring_state s = { .index = 0 };
	struct vhost_vring_file f = { .index = 0 };
	uint8_t status;
	unsigned int i;
	long ms;
	int r;

	KT_TRY(rig_dev(g, t, 1, false));
	KT_TRY(post_writes(&g->b, 0, NUM, 800));
	KT_TRY(wait_taken(g, NUM));
	TIMED(ms, r = ioctl(g->b.d.fd, VHOST_GET_VRING_BASE, &s));
	KT_ASSERT(!r, "GET_VRING_BASE: %s", kt_errname(errno));
	KT_ASSERT(ms < CALL_MS * kt_timeout_scale(), "GET_VRING_BASE took %ld ms", ms);
	KT_ASSERT(s.num == NUM, "base %u, want %u", s.num, NUM);
	KT_ASSERT(kt_vq_used_idx(&g->b.q[0].vq) == NUM,
		  "used index %u when GET_VRING_BASE returned",
		  kt_vq_used_idx(&g->b.q[0].vq));
	KT_TRY(all_answered(&g->b, 0, NUM));
	/* Stopped: a new request waits... */
	KT_TRY(post_writes(&g->b, 0, 4, 900));
	KT_ASSERT(kt_blk_reap(&g->b, 0, NULL, NULL, NULL, 300) == 0,
		  "a stopped ring took a request");
	/* ...until the VMM restarts the ring with its kick eventfd. */
	f.fd = g->b.q[0].vq.kick;
	KT_ERRNO(0, ioctl(g->b.d.fd, VHOST_SET_VRING_KICK, &f));
	kt_vq_kick(&g->b.q[0].vq);
	for (i = 0; i < 4; i++)
		KT_ASSERT(kt_blk_reap(&g->b, 0, NULL, &status, NULL,
				      CALL_MS) == 1 &&
			  status == VIRTIO_BLK_S_OK, "request %u", i);
	return data_landed(g, 0, 4, 900);
}

/*
 * GET_VRING_BASE at any moment, 30 times, requests ending every millisecond:
 * when it returns, the used index equals the index it returned (every
 * request taken is in the used ring) and stays there (nothing is answered
 * after it).  Then the ring restarts and answers the rest.
 */
static int body_get_base_rounds(struct rig *g, const struct kt_target *t)
{
	struct vhost_vring_state s = { .index = 0 };
	struct vhost_vring_file f = { .index = 0 };
	struct kt_blk_q *q;
	unsigned int round, i, slot;
	uint16_t used;
	uint8_t status;
	int r;

	KT_TRY(rig_dev(g, t, 1, false));
	q = &g->b.q[0];
	f.fd = q->vq.kick;
	for (round = 0; round < 30; round++) {
		KT_TRY(post_writes(&g->b, 0, NUM, 2000 + round));
		kt_sleep_ms(round % 4);
		r = ioctl(g->b.d.fd, VHOST_GET_VRING_BASE, &s);
		KT_ASSERT(!r, "round %u: GET_VRING_BASE: %s", round,
			  kt_errname(errno));
		used = kt_vq_used_idx(&q->vq);
		KT_ASSERT(used == (uint16_t)s.num,
			  "round %u: used index %u, base %u", round, used,
			  s.num);
		kt_sleep_ms(20);
		KT_ASSERT(kt_vq_used_idx(&q->vq) == used,
			  "round %u: used index moved from %u to %u after GET_VRING_BASE",
			  round, used, kt_vq_used_idx(&q->vq));
		KT_ERRNO(0, ioctl(g->b.d.fd, VHOST_SET_VRING_KICK, &f));
		kt_vq_kick(&q->vq);
		for (i = 0; i < NUM; i++) {
			r = kt_blk_reap(&g->b, 0, &slot, &status, NULL,
					CALL_MS);
			KT_ASSERT(r == 1 && status == VIRTIO_BLK_S_OK,
				  "round %u: request %u: %d, status %u", round,
				  i, r, status);
		}
	}
	KT_ASSERT(kt_vq_used_pending(&q->vq) == 0, "extra used entries");
	return data_landed(g, 0, NUM, 2000 + round - 1);
}

/* Four rings on their own workers, all busy, then close. */
static int body_close_mq(struct rig *g, const struct kt_target *t)
{
	unsigned int q;
	long ms;

	KT_TRY(rig_dev(g, t, 4, true));
	long t0 = kt_now_ms();

	for (q = 0; q < 4; q++)
		KT_TRY(post_writes(&g->b, q, 48, 1000 + q * 100));
	KT_TRY(wait_taken(g, 4 * 48));
	kt_diag("4 x 48 requests taken after %ld ms", kt_now_ms() - t0);
	TIMED(ms, close(g->b.d.fd));
	g->b.d.fd = -1;
	kt_diag("close with 4 x 48 requests in flight took %ld ms", ms);
	KT_ASSERT(ms < CALL_MS * kt_timeout_scale(), "close took %ld ms", ms);
	for (q = 0; q < 4; q++)
		KT_TRY(all_answered(&g->b, q, 48));
	KT_TRY(no_page_held(g));
	for (q = 0; q < 4; q++)
		KT_TRY(data_landed(g, q, 48, 1000 + q * 100));
	return usable_again(g, t);
}

/* The owner dies (SIGKILL) with requests in flight. */
static int body_owner_killed(struct rig *g, const struct kt_target *t)
{
	int pipefd[2], status, r;
	long deadline;
	pid_t pid;
	char c;

	KT_ASSERT(!pipe(pipefd), "pipe");
	pid = fork();
	KT_ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		/* Never outlives the case, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pipefd[0]);
		if (rig_dev(g, t, 2, true) != KT_PASS ||
		    post_writes(&g->b, 0, NUM, 1) != KT_PASS ||
		    post_writes(&g->b, 1, NUM, 2) != KT_PASS)
			_exit(1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	r = read(pipefd[0], &c, 1) == 1 ? KT_PASS : kt_fail("child setup failed");
	if (r == KT_PASS)
		r = wait_inflight(g, 2 * NUM);
	kill(pid, SIGKILL);
	deadline = kt_deadline(CALL_MS);
	while (waitpid(pid, &status, WNOHANG) != pid) {
		KT_ASSERT(kt_now_ms() < deadline, "killed owner did not exit");
		kt_sleep_ms(5);
	}
	KT_TRY(r);
	/* Its device is gone with it (the last fd): the disk is idle. */
	deadline = kt_deadline(CALL_MS);
	while (kt_nullb_inflight(&g->nb) != 0) {
		KT_ASSERT(kt_now_ms() < deadline, "requests never ended");
		kt_sleep_ms(5);
	}
	KT_TRY(data_landed(g, 0, NUM, 1));
	return usable_again(g, t);
}

/* 100 devices set up, used and closed; every 10th with requests in flight. */
static int body_cycles(struct rig *g, const struct kt_target *t)
{
	unsigned int i;

	for (i = 0; i < 100; i++) {
		struct kt_blk b;
		uint8_t status;

		KT_TRY(kt_blk_open(&b, t, FEAT, 1, 16, LEN, false));
		KT_ASSERT(!kt_blk_backend(&b, g->fd), "cycle %u: SET_BACKEND",
			  i);
		KT_TRY(post_writes(&b, 0, i % 10 ? 1 : 16, i));
		if (i % 10)
			KT_ASSERT(kt_blk_reap(&b, 0, NULL, &status, NULL,
					      CALL_MS) == 1 &&
				  status == VIRTIO_BLK_S_OK, "cycle %u", i);
		kt_blk_close(&b);
	}
	/* A device opened and closed without anything set up, 100 times. */
	for (i = 0; i < 100; i++) {
		int fd = open(t->path, O_RDWR | O_CLOEXEC);

		KT_ASSERT(fd >= 0, "open %u: %s", i, kt_errname(errno));
		if (i % 2)
			KT_ERRNO(0, ioctl(fd, VHOST_SET_OWNER));
		close(fd);
	}
	return usable_again(g, t);
}

/* Detach and reattach 20 times while a thread keeps the ring busy. */
struct pump {
	struct kt_blk *b;
	volatile int stop;
	int failed;
	unsigned long done;
	pthread_t th;
};

static void *pump_thread(void *arg)
{
	struct pump *p = arg;
	struct kt_blk_q *q = &p->b->q[0];
	uint8_t *busy = calloc(q->slots, 1);
	unsigned int slot;
	uint8_t status;
	int r;

	while (!p->stop) {
		for (slot = 0; slot < q->slots && q->vq.num_free; slot++) {
			if (busy[slot])
				continue;
			if (kt_blk_post(p->b, 0, slot, VIRTIO_BLK_T_IN,
					slot * 8, LEN, true) < 0)
				break;
			busy[slot] = 1;
		}
		kt_vq_kick(&q->vq);
		r = kt_blk_reap(p->b, 0, &slot, &status, NULL, 20);
		if (r < 0) {
			p->failed = 1;
			return NULL;
		}
		if (r == 1) {
			busy[slot] = 0;
			p->done++;
			if (status != VIRTIO_BLK_S_OK) {
				p->failed = 0x100 | status;
				return NULL;
			}
		}
	}
	free(busy);
	return NULL;
}

static int body_detach_loop(struct rig *g, const struct kt_target *t)
{
	struct pump p = { .b = &g->b };
	unsigned int i;
	int r;

	KT_TRY(rig_dev(g, t, 1, false));
	if (pthread_create(&p.th, NULL, pump_thread, &p))
		return kt_fail("pthread_create");
	for (i = 0; i < 20; i++) {
		kt_sleep_ms(30);
		r = kt_blk_backend(&g->b, -1);
		if (r)
			break;
		kt_sleep_ms(10);
		r = kt_blk_backend(&g->b, g->fd);
		if (r)
			break;
	}
	kt_sleep_ms(200);
	p.stop = 1;
	pthread_join(p.th, NULL);
	KT_ASSERT(!r, "detach/attach %u: %s", i, kt_errname(-r));
	KT_ASSERT(!p.failed, "pump failed (0x%x) after %lu requests", p.failed,
		  p.done);
	kt_diag("%lu requests answered across 20 detach/attach", p.done);
	KT_ASSERT(p.done > 0, "no request answered");
	return KT_PASS;
}

#define CASE(body, nsec)						\
	static int case_##body(const struct kt_target *t)		\
	{								\
		struct rig g;						\
		int r = rig_nullb(&g, nsec);				\
		if (r == KT_PASS)					\
			r = body(&g, t);				\
		rig_close(&g);						\
		return r;						\
	}

CASE(body_close, SLOW_NSEC)
CASE(body_reset_owner, SLOW_NSEC)
CASE(body_detach, SLOW_NSEC)
CASE(body_replace, SLOW_NSEC)
CASE(body_get_base, SLOW_NSEC)
CASE(body_get_base_rounds, 1000000)
CASE(body_close_mq, SLOW_NSEC)
CASE(body_owner_killed, SLOW_NSEC)
CASE(body_cycles, 2000000)
CASE(body_detach_loop, 5000000)

static const struct kt_case cases[] = {
	{ "close with 64 requests in flight, no guest page held after", case_body_close },
	{ "RESET_OWNER with 64 requests in flight", case_body_reset_owner },
	{ "detach with 64 requests in flight, reattach", case_body_detach },
	{ "backend replaced with 64 requests in flight", case_body_replace },
	{ "GET_VRING_BASE with 64 requests in flight, restart", case_body_get_base },
	{ "GET_VRING_BASE 30 times at any moment: used index final", case_body_get_base_rounds },
	{ "close with 4 busy rings on 4 workers, no guest page held after", case_body_close_mq },
	{ "owner killed with 128 requests in flight", case_body_owner_killed },
	{ "100 open/use/close cycles, 100 bare open/close", case_body_cycles, 120 },
	{ "detach/attach 20 times under load", case_body_detach_loop },
};

int main(int argc, char **argv)
{
	return kt_blk_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
