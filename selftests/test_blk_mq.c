// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_mq: several request rings at once (VIRTIO_BLK_F_MQ).
 *
 * One thread per ring plays a guest CPU: it writes its own region of the
 * disk with many requests in flight, reads it back through its ring, and
 * checks every byte; afterwards the backend is checked directly.  Rings run
 * on a worker each (VHOST_NEW_WORKER + VHOST_ATTACH_VRING_WORKER) or all on
 * the default worker; the backend is a file or a null_blk device opened
 * with O_DIRECT (asynchronous I/O on every ring at once).  One case checks
 * fairness: slow FLUSHes flooding one ring do not hold up another ring on
 * the same worker; another, that two busy-polling rings on one worker neither
 * lose a request nor keep each other polling.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kt_blk.h"

#define F(bit) (1ULL << (bit))
#define FEAT (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH) |		\
	      F(VIRTIO_BLK_F_MQ) | F(VIRTIO_RING_F_EVENT_IDX) |		\
	      F(VIRTIO_RING_F_INDIRECT_DESC))
#define WAIT_MS 10000

struct job {
	struct kt_blk *b;
	unsigned int qi;
	unsigned int reqs;	/* requests per pass */
	uint32_t len;		/* bytes per request */
	uint64_t base;		/* first sector of the ring's region */
	int failed;
	char why[200];
	pthread_t th;
};

static uint32_t seed_of(const struct job *j, unsigned int k)
{
	return (j->qi << 20) + k + 1;
}

static uint64_t sector_of(const struct job *j, unsigned int k)
{
	return j->base + (uint64_t)k * (j->len / 512);
}

#define JOB_FAIL(j, ...) do {						\
	snprintf((j)->why, sizeof((j)->why), __VA_ARGS__);		\
	(j)->failed = 1;						\
	return NULL;							\
} while (0)

/* All writes through the ring, as many in flight as slots and ring allow. */
static void *write_pass(struct job *j)
{
	struct kt_blk_q *q = &j->b->q[j->qi];
	unsigned int next = 0, done = 0, slot, s;
	uint8_t *busy = calloc(q->slots, 1);
	uint32_t used;
	uint8_t status;
	int r;

	while (done < j->reqs) {
		while (next < j->reqs && q->vq.num_free >= 3) {
			for (s = 0; s < q->slots && busy[s]; s++)
				;
			if (s == q->slots)
				break;
			kt_fill_pattern(kt_blk_data(j->b, j->qi, s), j->len,
					seed_of(j, next));
			r = kt_blk_post(j->b, j->qi, s, VIRTIO_BLK_T_OUT,
					sector_of(j, next), j->len, next & 1);
			if (r < 0)
				JOB_FAIL(j, "ring %u: post %u: %d", j->qi, next,
					 r);
			busy[s] = 1;
			next++;
		}
		kt_vq_kick(&q->vq);
		r = kt_blk_reap(j->b, j->qi, &slot, &status, &used, WAIT_MS);
		if (r != 1)
			JOB_FAIL(j, "ring %u: %u of %u answered (%d)", j->qi,
				 done, j->reqs, r);
		busy[slot] = 0;
		done++;
		if (status != VIRTIO_BLK_S_OK || used != 1)
			JOB_FAIL(j, "ring %u slot %u: status %u used %u", j->qi,
				 slot, status, used);
	}
	free(busy);
	return NULL;
}

static void *job_thread(void *arg)
{
	struct job *j = arg;
	struct kt_blk_q *q = &j->b->q[j->qi];
	uint8_t *want = malloc(j->len);
	uint32_t used;
	uint8_t status;
	unsigned int k;
	int r;

	write_pass(j);
	if (j->failed)
		return NULL;
	/* Read back one request at a time per slot so each is checked. */
	for (k = 0; k < j->reqs; k++) {
		unsigned int slot = k % q->slots;

		memset(kt_blk_data(j->b, j->qi, slot), 0, j->len);
		r = kt_blk_post(j->b, j->qi, slot, VIRTIO_BLK_T_IN,
				sector_of(j, k), j->len, true);
		if (r < 0)
			JOB_FAIL(j, "ring %u: post read %u", j->qi, k);
		if (slot != q->slots - 1 && k != j->reqs - 1)
			continue;
		/* A full round of slots in flight: take them all. */
		kt_vq_kick(&q->vq);
		for (unsigned int n = 0; n <= slot; n++) {
			unsigned int s;

			r = kt_blk_reap(j->b, j->qi, &s, &status, &used,
					WAIT_MS);
			if (r != 1 || status != VIRTIO_BLK_S_OK ||
			    used != j->len + 1)
				JOB_FAIL(j, "ring %u read: r %d status %u used %u",
					 j->qi, r, status, used);
			kt_fill_pattern(want, j->len,
					seed_of(j, k - slot + s));
			if (memcmp(kt_blk_data(j->b, j->qi, s), want, j->len))
				JOB_FAIL(j, "ring %u request %u: wrong data",
					 j->qi, k - slot + s);
		}
	}
	free(want);
	return NULL;
}

static int run_jobs(struct kt_blk *b, int check_fd, unsigned int nq,
		    unsigned int reqs, uint32_t len)
{
	struct job *jobs = calloc(nq, sizeof(*jobs));
	uint8_t *got = kt_blk_alloc(len), *want = kt_blk_alloc(len);
	unsigned int i, k;
	int failed = 0;

	for (i = 0; i < nq; i++) {
		jobs[i] = (struct job){ .b = b, .qi = i, .reqs = reqs,
					.len = len,
					.base = (uint64_t)i * reqs * (len / 512) };
		if (pthread_create(&jobs[i].th, NULL, job_thread, &jobs[i]))
			return kt_fail("pthread_create");
	}
	for (i = 0; i < nq; i++) {
		pthread_join(jobs[i].th, NULL);
		if (jobs[i].failed) {
			kt_diag("%s", jobs[i].why);
			failed = 1;
		}
	}
	if (failed)
		return KT_FAIL;
	/* The backend holds every ring's data where it belongs. */
	for (i = 0; i < nq; i++) {
		for (k = 0; k < reqs; k++) {
			int r = kt_pread_all(check_fd, got, len,
					     sector_of(&jobs[i], k) * 512);

			KT_ASSERT(!r, "pread: %s", kt_errname(-r));
			kt_fill_pattern(want, len, seed_of(&jobs[i], k));
			if (!kt_bytes_equal(got, len, want, len, "backend"))
				return kt_fail("ring %u request %u", i, k);
		}
	}
	free(jobs);
	return KT_PASS;
}

/* Each ring on its own worker (ring 0 on the default one), distinct ids. */
static int check_workers(struct kt_blk *b, unsigned int nq, bool own)
{
	unsigned int ids[KT_BLK_MAXQ], i, j;

	for (i = 0; i < nq; i++) {
		struct vhost_vring_worker w = { .index = i };

		KT_ERRNO(0, ioctl(b->d.fd, VHOST_GET_VRING_WORKER, &w));
		ids[i] = w.worker_id;
		for (j = 0; j < i; j++)
			KT_ASSERT(own ? ids[j] != ids[i] : ids[j] == ids[i],
				  "rings %u and %u on workers %u and %u", j, i,
				  ids[j], ids[i]);
	}
	return KT_PASS;
}

static int mq_file(const struct kt_target *t, unsigned int nq,
		   unsigned int num, uint32_t len, unsigned int reqs, bool own)
{
	struct kt_blk b;
	int fd, r;

	fd = kt_blk_tmpfile(64ULL << 20, 0, 0);
	if (fd < 0)
		return kt_fail("tmpfile");
	r = kt_blk_open(&b, t, FEAT, nq, num, len, own);
	if (r == KT_PASS)
		r = check_workers(&b, nq, own);
	if (r == KT_PASS && kt_blk_backend(&b, fd))
		r = kt_fail("SET_BACKEND");
	if (r == KT_PASS)
		r = run_jobs(&b, fd, nq, reqs, len);
	kt_blk_close(&b);
	close(fd);
	return r;
}

static int case_4q_workers_file(const struct kt_target *t)
{
	return mq_file(t, 4, 32, 16384, 200, true);
}

static int case_16q_one_worker_file(const struct kt_target *t)
{
	return mq_file(t, 16, 16, 4096, 100, false);
}

static int mq_nullb(const struct kt_target *t, unsigned int nq, bool own,
		    unsigned long nsec)
{
	struct kt_nullb_opts o = { .size_mb = 64, .irqmode = nsec ? 2 : 1,
				   .completion_nsec = nsec };
	struct kt_nullb nb;
	struct kt_blk b;
	int fd, check, r;

	KT_TRY(kt_nullb_create(&nb, &o));
	fd = open(nb.dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	check = open(nb.dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || check < 0) {
		r = kt_fail("open %s", nb.dev);
		goto out;
	}
	r = kt_blk_open(&b, t, FEAT, nq, 32, 16384, own);
	if (r == KT_PASS)
		r = check_workers(&b, nq, own);
	if (r == KT_PASS && kt_blk_backend(&b, fd))
		r = kt_fail("SET_BACKEND");
	if (r == KT_PASS)
		r = run_jobs(&b, check, nq, 200, 16384);
	kt_blk_close(&b);
out:
	if (fd >= 0)
		close(fd);
	if (check >= 0)
		close(check);
	kt_nullb_destroy(&nb);
	return r;
}

static int case_4q_workers_nullb(const struct kt_target *t)
{
	return mq_nullb(t, 4, true, 0);
}

static int case_4q_workers_nullb_slow(const struct kt_target *t)
{
	/* 2 ms per request: every ring keeps its 32 requests in flight. */
	return mq_nullb(t, 4, true, 2000000);
}

static int case_4q_one_worker_nullb(const struct kt_target *t)
{
	return mq_nullb(t, 4, false, 0);
}

/*
 * Fairness with slow FLUSHes: two rings on one worker, a null_blk with a
 * volatile cache that takes 20 ms per request, 64 FLUSHes posted on ring 0
 * (indirect: one ring entry each) and kicked just before one read on
 * ring 1.  A FLUSH counts 4 MiB against
 * the 16 MiB a handler run may do, so ring 0's run gives way after 4 and
 * the read is answered while most FLUSHes still wait; counted as nothing,
 * one run would do all 64 (1.3 s) before ring 1 is looked at.  (Ring 0
 * answers 4 per 80 ms: the test thread would have to see the read's answer
 * half a second late to find more than half of the FLUSHes answered.)
 */
#define FLOOD 64

static int case_flush_flood(const struct kt_target *t)
{
	struct kt_nullb_opts o = { .size_mb = 16, .cache_mb = 8, .irqmode = 2,
				   .completion_nsec = 20000000 };
	struct kt_nullb nb;
	struct kt_blk b;
	unsigned int slot, i, done0 = 0;
	uint32_t used_len;
	uint16_t ring0_at_read;
	long long flushes0;
	uint8_t status;
	int fd, r, n;

	KT_TRY(kt_nullb_create_direct(&nb, &o, &fd));
	r = kt_blk_open(&b, t, FEAT, 2, FLOOD, 4096, false);
	if (r != KT_PASS)
		goto out_fd;
	if (kt_blk_backend(&b, fd)) {
		r = kt_fail("SET_BACKEND");
		goto out;
	}
	flushes0 = kt_nullb_stat(&nb, KT_STAT_FLUSHES);
	for (i = 0; i < FLOOD && r == KT_PASS; i++)
		if (kt_blk_post(&b, 0, i, VIRTIO_BLK_T_FLUSH, 0, 0, true) < 0)
			r = kt_fail("post FLUSH %u", i);
	if (r == KT_PASS && kt_blk_post(&b, 1, 0, VIRTIO_BLK_T_IN, 0, 4096,
					false) < 0)
		r = kt_fail("post IN");
	if (r != KT_PASS)
		goto out;
	kt_vq_kick(&b.q[0].vq);
	kt_vq_kick(&b.q[1].vq);

	n = kt_blk_reap(&b, 1, &slot, &status, &used_len, WAIT_MS);
	ring0_at_read = __atomic_load_n(&b.q[0].vq.used->idx, __ATOMIC_ACQUIRE);
	if (n != 1) {
		r = kt_fail("ring 1's read: %s", n ? kt_errname(-n) : "timeout");
		goto out;
	}
	if (status != VIRTIO_BLK_S_OK || used_len != 4097) {
		r = kt_fail("ring 1's read: status %u, used %u", status,
			    used_len);
		goto out;
	}
	kt_diag("ring 0 had answered %u of %u FLUSHes when ring 1's read was",
		ring0_at_read, FLOOD);
	if (ring0_at_read > FLOOD / 2) {
		r = kt_fail("the read waited for %u FLUSHes on ring 0",
			    ring0_at_read);
		goto out;
	}
	/* Every FLUSH is answered, and each reached the device. */
	while (done0 < FLOOD) {
		n = kt_blk_reap(&b, 0, &slot, &status, &used_len, WAIT_MS);
		if (n != 1 || status != VIRTIO_BLK_S_OK) {
			r = kt_fail("FLUSH %u: %s, status %u", done0,
				    n < 0 ? kt_errname(-n) :
				    n ? "answered" : "timeout", status);
			goto out;
		}
		done0++;
	}
	if (kt_nullb_stat(&nb, KT_STAT_FLUSHES) - flushes0 < FLOOD)
		r = kt_fail("%lld flushes reached null_blk, want %u",
			    kt_nullb_stat(&nb, KT_STAT_FLUSHES) - flushes0,
			    FLOOD);
out:
	kt_blk_close(&b);
out_fd:
	close(fd);
	kt_nullb_destroy(&nb);
	return r;
}

/* Only some rings set up (0 and 5): the others stay idle, these work. */
static int case_sparse_rings(const struct kt_target *t)
{
	struct kt_blk b;
	uint8_t buf[4096];
	int fd, r;

	fd = kt_blk_tmpfile(1 << 20, 0, 0);
	KT_ASSERT(fd >= 0, "tmpfile");
	KT_TRY(kt_blk_open(&b, t, FEAT, 1, 16, 4096, false));
	r = kt_blk_q_setup(&b, 5, 16, 4096);
	KT_ASSERT(!r, "ring 5: %s", kt_errname(-r));
	KT_ASSERT(!kt_blk_backend(&b, fd), "SET_BACKEND");
	kt_fill_pattern(buf, sizeof(buf), 3);
	KT_TRY(kt_blk_expect(&b, 5, VIRTIO_BLK_T_OUT, 8, buf, 4096,
			     VIRTIO_BLK_S_OK, 1));
	memset(buf, 0, sizeof(buf));
	KT_TRY(kt_blk_expect(&b, 0, VIRTIO_BLK_T_IN, 8, buf, 4096,
			     VIRTIO_BLK_S_OK, 4097));
	{
		uint8_t want[4096];

		kt_fill_pattern(want, sizeof(want), 3);
		KT_ASSERT(!memcmp(buf, want, sizeof(want)),
			  "ring 0 reads what ring 5 wrote");
	}
	kt_blk_close(&b);
	close(fd);
	return KT_PASS;
}

/* Post a read on ring @qi, kick it if told to or if the ring asks to. */
static int pair_read(struct kt_blk *b, unsigned int qi, unsigned int slot,
		     bool kick, bool *kicked)
{
	uint32_t used;
	uint8_t status;
	unsigned int got;
	int n;

	if (kt_blk_post(b, qi, slot, VIRTIO_BLK_T_IN, 8 * qi, 4096, false) < 0)
		return kt_fail("post on ring %u", qi);
	*kicked = kick || kt_vq_kick_needed(&b->q[qi].vq);
	if (*kicked)
		kt_vq_kick(&b->q[qi].vq);
	n = kt_blk_reap(b, qi, &got, &status, &used, WAIT_MS);
	if (n != 1 || status != VIRTIO_BLK_S_OK || used != 4097)
		return kt_fail("ring %u's read (%s): %s, status %u, used %u",
			       qi, *kicked ? "kicked" : "no kick asked for",
			       n < 0 ? kt_errname(-n) :
			       n ? "answered" : "never answered", status, used);
	return KT_PASS;
}

/*
 * Two polling rings on one worker.  Each ring's spin is cut short by the
 * other's work, and each then queues its own poll again with
 * notifications off (kvio_vq_idle()): ring 0, polling after its answer,
 * is cut short by ring 1's kick, and must still serve the read it then
 * asks no kick for.  The deadline of a ring's spin holds across those
 * runs, so both give up after their busy-loop timeout and the worker goes
 * idle; a deadline started afresh on every run would keep the two handing
 * the worker back and forth for good.  Afterwards both rings ask for
 * kicks again and serve a kicked request.
 */
static int case_busyloop_pair(const struct kt_target *t)
{
	const unsigned int us = 500000;
	struct kt_nullb_opts o = { .size_mb = 16, .irqmode = 1 };
	struct kt_nullb nb;
	struct kt_blk b;
	unsigned int qi;
	long cpu0, cpu1;
	bool kicked;
	pid_t worker;
	int fd, r;

	KT_TRY(kt_nullb_create_direct(&nb, &o, &fd));
	r = kt_blk_open(&b, t, FEAT, 2, 16, 4096, false);
	if (r != KT_PASS)
		goto out_fd;
	if (kt_blk_backend(&b, fd)) {
		r = kt_fail("SET_BACKEND");
		goto out;
	}
	worker = kt_worker_pid(getpid());
	if (!worker) {
		r = kt_fail("no worker thread kvio-%d", (int)getpid());
		goto out;
	}
	for (qi = 0; qi < 2; qi++) {
		struct vhost_vring_state st = { .index = qi, .num = us };

		if (ioctl(b.d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st)) {
			r = kt_fail("SET_VRING_BUSYLOOP_TIMEOUT %u: %s", qi,
				    kt_errname(errno));
			goto out;
		}
	}
	/* Ring 0 answers and polls; ring 1's kick cuts that short. */
	r = pair_read(&b, 0, 0, true, &kicked);
	if (r == KT_PASS)
		r = pair_read(&b, 1, 0, true, &kicked);
	if (r == KT_PASS)
		r = pair_read(&b, 0, 1, false, &kicked);
	if (r != KT_PASS)
		goto out;
	kt_diag("ring 0's read after ring 1's kick: %s",
		kicked ? "kicked" : "no kick asked for");
	/* Well past both timeouts, the worker must use no more CPU. */
	kt_sleep_ms(2 * us / 1000);
	cpu0 = kt_task_cpu_ms(worker);
	kt_sleep_ms(1000);
	cpu1 = kt_task_cpu_ms(worker);
	kt_diag("worker CPU time over a second, %u ms after the answers: %ld ms",
		2 * us / 1000, cpu1 - cpu0);
	if (cpu0 < 0 || cpu1 < 0 || cpu1 - cpu0 > 100) {
		r = kt_fail("the worker used %ld ms of CPU in a second, rings idle",
			    cpu1 - cpu0);
		goto out;
	}
	/* Notifications are back on: each ring asks for a kick, serves it. */
	for (qi = 0; qi < 2 && r == KT_PASS; qi++) {
		r = pair_read(&b, qi, 2, false, &kicked);
		if (r == KT_PASS && !kicked)
			r = kt_fail("ring %u, idle, asked for no kick", qi);
	}
out:
	kt_blk_close(&b);
out_fd:
	close(fd);
	kt_nullb_destroy(&nb);
	return r;
}

static const struct kt_case cases[] = {
	{ "4 rings, a worker each, 4 threads, file", case_4q_workers_file },
	{ "16 rings on the default worker, 16 threads, file", case_16q_one_worker_file },
	{ "4 rings, a worker each, 4 threads, null_blk O_DIRECT", case_4q_workers_nullb },
	{ "4 rings, a worker each, slow null_blk (128 requests in flight)", case_4q_workers_nullb_slow },
	{ "4 rings on one worker, null_blk O_DIRECT", case_4q_one_worker_nullb },
	{ "rings 0 and 5 set up, the rest idle", case_sparse_rings },
	{ "64 slow FLUSHes on one ring do not starve another on the same worker",
	  case_flush_flood },
	{ "two polling rings on one worker: one cut short by the other's kick serves its next read unkicked; both stop polling after their timeout, then ask for kicks",
	  case_busyloop_pair },
};

int main(int argc, char **argv)
{
	return kt_blk_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
