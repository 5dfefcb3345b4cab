// SPDX-License-Identifier: GPL-2.0-only
/*
 * blk-bench: 4 KiB random read and write IOPS through kvio_blk, against
 *  (a) fio with io_uring straight on the same device or file (the host's
 *      own limit: no virtio ring in the way), and
 *  (b) uvblk (uvblk.h), a userspace virtio-blk backend built the way QEMU
 *      serves a disk: an iothread and an io_uring per queue, batched
 *      submission and completion, O_DIRECT (cache=none, aio=io_uring), and
 *  (c) QEMU itself: qemu-storage-daemon's vhost-user-blk export (qsdblk.h),
 *      QEMU's virtio-blk code and block layer on an iothread, aio=io_uring,
 *      cache.direct=on.
 * Not a test: it prints figures, and exits non-zero only if a run failed.
 *
 * Cells: disk (null: a null_blk device that moves no data; file: a file on
 * ext4 on a memory-backed null_blk) x randread/randwrite x 1 or 4 queues x
 * queue depth 1 or 32 per queue.
 *
 * The guest side is the same code for kvio, uvblk and qemu: the selftests' guest
 * driver (lib/kt_blk.h) over a memfd at a guest-physical address, one ring
 * per queue, each driven by its own thread (a guest CPU) that keeps depth
 * requests in flight: a 16-byte header, a 4 KiB buffer and a status byte in
 * an indirect descriptor table (as Linux's virtio-blk lays them out when
 * INDIRECT_DESC is negotiated), at a uniformly random 4 KiB-aligned offset.
 * Like Linux with EVENT_IDX, it re-posts every completion it finds, kicks
 * only when the device's avail_event asks for it, and when nothing is left
 * to reap sets used_event to its next entry and sleeps on the call eventfd.
 * fio runs the same pattern: --ioengine=io_uring --direct=1 --bs=4k
 * --iodepth=depth --numjobs=queues over the same span, with
 * --gtod_reduce=1: no clock read per I/O, which fio only needs for its
 * latency statistics and which would bill fio for the VM's clock.
 *
 * Each measurement runs in its own process (its own device, rings, fio),
 * warms up, then counts completions over a fixed wall time.  Backends
 * alternate their order from round to round; the table shows medians, and
 * ratios are per round (back-to-back runs) then the median.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kt_blk.h"
#include "qsdblk.h"
#include "uvblk.h"

#define BB_BS		4096
#define BB_MAX_ROUNDS	31
#define BB_MAX_Q	4
#define BB_MAX_QD	128
#define BB_KVIO_DEV	"/dev/kvio-blk"
#define BB_CONFIGFS	"/sys/kernel/config/nullb"
#define BB_NULL		"bbnull"	/* null_blk that moves no data */
#define BB_DISK		"bbdisk"	/* memory-backed, holds the ext4 */
#define BB_MNT		"/tmp/blk-bench.mnt"
#define BB_FILE		BB_MNT "/disk.img"

/* What a Linux guest negotiates with a multiqueue virtio-blk disk. */
#define F(bit) (1ULL << (bit))
#define BB_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH) |	\
		     F(VIRTIO_BLK_F_MQ) | F(VIRTIO_RING_F_EVENT_IDX) |	\
		     F(VIRTIO_RING_F_INDIRECT_DESC))

enum bb_backend { BB_FIO, BB_UVBLK, BB_QEMU, BB_KVIO, BB_NBACKENDS };
static const char *const bb_backend_name[] = { "fio", "uvblk", "qemu", "kvio" };

/* Device threads counted: kvio's workers, uvblk's, every thread of QEMU's. */
#define BB_MAX_DEV_THREADS	64

enum bb_disk { BB_DISK_NULL, BB_DISK_FILE, BB_NDISKS };
static const char *const bb_disk_name[] = { "null", "file" };

struct bb_cell {
	enum bb_disk disk;
	bool write;
	unsigned int nq;
	unsigned int qd;
	char name[32];
};

#define BB_MAX_CELLS 64

struct bb_result {
	int ok;
	char err[200];
	double secs;
	uint64_t reqs;		/* completed in the window */
	uint64_t bad;		/* completions with a status other than OK */
	uint64_t calls;		/* guest wake-ups by the call eventfd */
	uint64_t kicks;
	double dev_cpu;		/* device threads (workers, iothreads) */
	double dev_wait;	/* ... runnable, not running */
	double guest_cpu;	/* guest threads */
	double iowq_cpu;	/* uvblk: io_uring's io-wq workers (punted I/O) */
	double sys_busy;	/* every CPU, % of one CPU */
};

static struct {
	unsigned int rounds;
	unsigned int warmup_ms;
	unsigned int time_ms;
	unsigned int ring;
	unsigned int null_mb;
	unsigned int file_mb;
	bool pin;
	bool backends[BB_NBACKENDS];
	bool disks[BB_NDISKS];
	bool rw[2];
	bool qds[2];		/* 1, 32 */
	bool nqs[2];		/* 1, 4 */
	const char *fio;
	const char *qsd;	/* qemu-storage-daemon */
	const char *file;	/* an existing file for the file cells */
} opts = {
	.rounds = 3,
	.warmup_ms = 500,
	.time_ms = 2000,
	.ring = 256,
	.null_mb = 1024,
	.file_mb = 256,
	.pin = true,
	.backends = { true, true, true, true },
	.disks = { true, true },
	.rw = { true, true },
	.qds = { true, true },
	.nqs = { true, true },
	.fio = "fio",
	.qsd = "qemu-storage-daemon",
};

static const unsigned int bb_qd_vals[2] = { 1, 32 };
static const unsigned int bb_nq_vals[2] = { 1, 4 };

/* ------------------------------------------------------------ helpers */

static void bb_err(struct bb_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bb_err(struct bb_result *res, const char *fmt, ...)
{
	va_list ap;

	if (!res->ok)
		return;
	va_start(ap, fmt);
	vsnprintf(res->err, sizeof(res->err), fmt, ap);
	va_end(ap);
	res->ok = 0;
}

static double bb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bb_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static pid_t bb_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/*
 * Guest threads on CPU 0, device threads on CPU 1: a VMM keeps a vCPU and
 * the thread serving its queue apart, and on two CPUs the scheduler would
 * otherwise stack them now and then.
 */
static void bb_pin(pid_t tid, int cpu)
{
	cpu_set_t set;

	if (!opts.pin)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(tid, sizeof(set), &set);
}

static int bb_write_attr(const char *dir, const char *attr, const char *val)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* Runs argv, waits; its exit status (or -errno / 128 + signal). */
static int bb_run(char *const argv[], int out_fd)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		if (out_fd >= 0)
			dup2(out_fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ------------------------------------------------------------ disks */

static bool bb_null_made, bb_disk_made, bb_mounted;

static int bb_nullb(const char *name, unsigned int size_mb, bool memory)
{
	char dir[128], val[32], dev[64];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct stat st;
	int i, r = 0;
	const struct { const char *attr; long v; } attrs[] = {
		{ "size", size_mb },
		{ "memory_backed", memory },
		{ "blocksize", 512 },
		{ "queue_mode", 2 },		/* blk-mq */
		{ "irqmode", 0 },		/* completed at submission */
		{ "submit_queues", ncpu > 0 ? ncpu : 1 },
		{ "hw_queue_depth", 256 },
		{ "power", 1 },
	};

	if (stat(BB_CONFIGFS, &st) < 0)
		mount("none", "/sys/kernel/config", "configfs", 0, NULL);
	snprintf(dir, sizeof(dir), BB_CONFIGFS "/%s", name);
	if (mkdir(dir, 0755) < 0) {
		fprintf(stderr, "blk-bench: mkdir %s: %s (null_blk loaded?)\n",
			dir, strerror(errno));
		return -errno;
	}
	for (i = 0; i < (int)(sizeof(attrs) / sizeof(attrs[0])) && !r; i++) {
		snprintf(val, sizeof(val), "%ld", attrs[i].v);
		r = bb_write_attr(dir, attrs[i].attr, val);
		if (r)
			fprintf(stderr, "blk-bench: %s/%s = %s: %s\n", dir,
				attrs[i].attr, val, strerror(-r));
	}
	if (r) {
		rmdir(dir);
		return r;
	}
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	for (i = 0; i < 500 && stat(dev, &st) < 0; i++)
		bb_sleep_ms(10);
	if (stat(dev, &st) < 0) {
		fprintf(stderr, "blk-bench: %s did not appear\n", dev);
		return -ENODEV;
	}
	return 0;
}

static void bb_nullb_remove(const char *name)
{
	char dir[128];

	snprintf(dir, sizeof(dir), BB_CONFIGFS "/%s", name);
	bb_write_attr(dir, "power", "0");
	rmdir(dir);
}

static void bb_cleanup(void)
{
	if (bb_mounted)
		umount(BB_MNT);
	bb_mounted = false;
	rmdir(BB_MNT);
	if (bb_disk_made)
		bb_nullb_remove(BB_DISK);
	if (bb_null_made)
		bb_nullb_remove(BB_NULL);
	bb_null_made = bb_disk_made = false;
}

/* The file: written in full, so no write meets an unwritten extent. */
static int bb_make_file(void)
{
	size_t chunk = 1 << 20;
	uint8_t *buf = kt_blk_alloc(chunk);
	uint64_t off, size = (uint64_t)opts.file_mb << 20;
	int fd, r = 0;

	fd = open(BB_FILE, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !buf)
		return -errno;
	for (off = 0; off < size && !r; off += chunk) {
		kt_fill_pattern(buf, chunk, (uint32_t)(off >> 20) + 1);
		r = kt_pwrite_all(fd, buf, chunk, off);
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	free(buf);
	return r;
}

static int bb_setup_disks(void)
{
	char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-E",
			 "lazy_itable_init=0,lazy_journal_init=0",
			 "/dev/" BB_DISK, NULL };
	char *modprobe[] = { "modprobe", "ext4", NULL };
	int r;

	if (opts.disks[BB_DISK_NULL]) {
		r = bb_nullb(BB_NULL, opts.null_mb, false);
		if (r)
			return r;
		bb_null_made = true;
	}
	if (!opts.disks[BB_DISK_FILE] || opts.file)
		return 0;
	r = bb_nullb(BB_DISK, opts.file_mb + 64, true);
	if (r)
		return r;
	bb_disk_made = true;
	r = bb_run(mkfs, -1);
	if (r) {
		fprintf(stderr, "blk-bench: mkfs.ext4 /dev/" BB_DISK ": exit %d\n",
			r);
		return -EIO;
	}
	mkdir(BB_MNT, 0755);
	if (mount("/dev/" BB_DISK, BB_MNT, "ext4", 0, NULL) < 0 &&
	    (errno != ENODEV || bb_run(modprobe, -1) ||
	     mount("/dev/" BB_DISK, BB_MNT, "ext4", 0, NULL) < 0)) {
		fprintf(stderr, "blk-bench: mount ext4: %s\n", strerror(errno));
		return -errno;
	}
	bb_mounted = true;
	r = bb_make_file();
	if (r)
		fprintf(stderr, "blk-bench: %s: %s\n", BB_FILE, strerror(-r));
	return r;
}

static const char *bb_disk_path(enum bb_disk d)
{
	if (d == BB_DISK_NULL)
		return "/dev/" BB_NULL;
	return opts.file ? opts.file : BB_FILE;
}

static uint64_t bb_disk_bytes(enum bb_disk d)
{
	return (uint64_t)(d == BB_DISK_NULL ? opts.null_mb : opts.file_mb) << 20;
}

/* ------------------------------------------------------ CPU accounting */

/* run and wait ns of a task (/proc/TID/schedstat; any thread's TID). */
static void bb_schedstat(pid_t tid, uint64_t *run, uint64_t *wait)
{
	unsigned long long r = 0, w = 0;
	char path[64];
	FILE *f;

	if (tid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", tid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fscanf(f, "%llu %llu", &r, &w) == 2) {
		*run += r;
		*wait += w;
	}
	fclose(f);
}

/* Busy and total jiffies of all CPUs (/proc/stat). */
static void bb_cpu_jiffies(uint64_t *busy, uint64_t *total)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "re");

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		*total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

/*
 * Run time of this process's io_uring io-wq workers ("iou-wrk-*"): I/O that
 * could not be issued without blocking (IOCB_NOWAIT refused) goes there.
 * Workers that exit between two samples are missed: a lower bound.
 */
static uint64_t bb_iowq_ns(void)
{
	char path[300], comm[32];
	uint64_t run = 0, wait = 0;
	struct dirent *de;
	ssize_t r;
	DIR *d;
	int fd;

	d = opendir("/proc/self/task");
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (r <= 0)
			continue;
		comm[r] = 0;
		if (!strncmp(comm, "iou-wrk-", 8))
			bb_schedstat(atoi(de->d_name), &run, &wait);
	}
	closedir(d);
	return run;
}

/* kvio's workers of owner: "kvio-<owner>" and "kvio-<owner>-<id>". */
static unsigned int bb_kvio_workers(pid_t owner, pid_t *tids, unsigned int max)
{
	char path[300], comm[32], want[32];
	struct dirent *de;
	unsigned int n = 0;
	size_t len;
	ssize_t r;
	DIR *d;
	int fd;

	len = snprintf(want, sizeof(want), "kvio-%d", owner);
	d = opendir("/proc");
	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (r <= 0)
			continue;
		comm[r] = 0;
		comm[strcspn(comm, "\n")] = 0;
		if (!strncmp(comm, want, len) &&
		    (!comm[len] || comm[len] == '-'))
			tids[n++] = atoi(de->d_name);
	}
	closedir(d);
	return n;
}

/* ------------------------------------------------------- guest driver */

static int bb_stop;

static bool bb_stopped(void)
{
	return __atomic_load_n(&bb_stop, __ATOMIC_ACQUIRE);
}

struct bb_guest {
	struct kt_blk *b;
	const struct bb_cell *cell;
	unsigned int qi;
	uint64_t span_blocks;	/* 4 KiB blocks the offsets range over */
	uint64_t rnd;
	uint64_t done, bad, calls, kicks;	/* read by the clock */
	pid_t tid;
	int err;
	pthread_t th;
};

static inline void bb_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static inline uint64_t bb_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* xorshift64*: uniform enough for offsets, cheap. */
static uint64_t bb_rand(struct bb_guest *g)
{
	g->rnd ^= g->rnd >> 12;
	g->rnd ^= g->rnd << 25;
	g->rnd ^= g->rnd >> 27;
	return g->rnd * 0x2545F4914F6CDD1DULL;
}

static int bb_post(struct bb_guest *g, unsigned int slot)
{
	uint64_t sector = (bb_rand(g) % g->span_blocks) * (BB_BS / 512);

	return kt_blk_post(g->b, g->qi, slot,
			   g->cell->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
			   sector, BB_BS, true);
}

static void *bb_guest_thread(void *arg)
{
	struct bb_guest *g = arg;
	struct kt_vq *vq = &g->b->q[g->qi].vq;
	uint32_t want_len = g->cell->write ? 1 : BB_BS + 1, len;
	struct pollfd p = { .fd = vq->call, .events = POLLIN };
	unsigned int s, n;
	uint64_t token;
	int r;

	__atomic_store_n(&g->tid, bb_gettid(), __ATOMIC_RELAXED);
	bb_pin(0, 0);
	for (s = 0; s < g->cell->qd; s++) {
		r = bb_post(g, s);
		if (r < 0)
			goto fail;
	}
	kt_vq_kick(vq);
	bb_add(&g->kicks, 1);
	while (!bb_stopped()) {
		n = 0;
		while ((r = kt_vq_get_used(vq, NULL, &len, &token)) == 1) {
			if (*kt_blk_status(g->b, g->qi, token) !=
			    VIRTIO_BLK_S_OK || len != want_len)
				bb_add(&g->bad, 1);
			r = bb_post(g, token);
			if (r < 0)
				goto fail;
			n++;
		}
		if (r < 0)
			goto fail;
		if (n) {
			bb_add(&g->done, n);
			if (kt_vq_kick_needed(vq)) {
				kt_vq_kick(vq);
				bb_add(&g->kicks, 1);
			} else {
				/* virtqueue_kick_prepare(): the next decision
				 * covers what is added from now on. */
				vq->kicked_idx = vq->avail_idx;
			}
			continue;
		}
		/* Nothing to reap: a call at the next entry, look again. */
		kt_vq_set_used_event(vq, vq->last_used);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (kt_vq_used_pending(vq))
			continue;
		/* At most 50 ms, to notice the stop flag. */
		if (poll(&p, 1, 50) > 0) {
			kt_eventfd_drain(vq->call);
			bb_add(&g->calls, 1);
		}
	}
	return NULL;
fail:
	g->err = r;
	return NULL;
}

/* ---------------------------------------------------------- backends */

/* The rings of a device served by uvblk: kt_blk_q_setup() without ioctls. */
static int bb_layout(struct kt_blk *b, unsigned int nq, unsigned int num)
{
	struct kt_mem *m = &b->d.mem;
	unsigned int qi, i;
	int r;

	memset(b, 0, sizeof(*b));
	b->d.fd = -1;
	for (qi = 0; qi < KT_BLK_MAXQ; qi++)
		b->q[qi].vq.kick = b->q[qi].vq.call = b->q[qi].vq.err = -1;
	r = kt_mem_init(m, KT_MEM_SIZE, KT_GPA_BASE);
	if (r)
		return r;
	b->d.features = BB_FEATURES;
	b->nq = nq;
	for (qi = 0; qi < nq; qi++) {
		struct kt_blk_q *q = &b->q[qi];
		struct kt_vq *vq = &q->vq;

		vq->dev = &b->d;
		vq->index = qi;
		vq->num = num;
		vq->desc_gpa = kt_mem_alloc(m, 16 * num, 4096);
		vq->avail_gpa = kt_mem_alloc(m, 6 + 2 * num, 4096);
		vq->used_gpa = kt_mem_alloc(m, 6 + 8 * num, 4096);
		vq->indirect_gpa = kt_mem_alloc(m, (size_t)num * KT_INDIRECT_MAX *
						sizeof(struct vring_desc), 4096);
		q->slots = num;
		q->slot_size = BB_BS;
		q->hdr_gpa = kt_mem_alloc(m, 16 * num, 16);
		q->status_gpa = kt_mem_alloc(m, num, 1);
		q->data_gpa = kt_mem_alloc(m, (size_t)num * BB_BS, 4096);
		if (!vq->desc_gpa || !vq->avail_gpa || !vq->used_gpa ||
		    !vq->indirect_gpa || !q->hdr_gpa || !q->status_gpa ||
		    !q->data_gpa)
			return -ENOMEM;
		vq->desc = kt_gpa(m, vq->desc_gpa);
		vq->avail = kt_gpa(m, vq->avail_gpa);
		vq->used = kt_gpa(m, vq->used_gpa);
		vq->chain_len = calloc(num, sizeof(*vq->chain_len) * 2);
		vq->token = calloc(num, sizeof(*vq->token));
		if (!vq->chain_len || !vq->token)
			return -ENOMEM;
		for (i = 0; i < num; i++)
			vq->chain_len[num + i] = i + 1;
		vq->num_free = num;
		vq->event_idx = true;
		vq->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vq->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->kick < 0 || vq->call < 0)
			return -errno;
	}
	return 0;
}

struct bb_run {
	const struct bb_cell *cell;
	enum bb_backend be;
	struct kt_blk b;
	struct uvblk *uv;
	struct qsdblk *qsd;
	struct bb_guest g[BB_MAX_Q];
	pid_t dev_tids[BB_MAX_DEV_THREADS];
	unsigned int ndev;
	struct bb_result *res;
};

static int bb_open_kvio(struct bb_run *run, int fd)
{
	const struct kt_target t = { BB_KVIO_DEV, "kvio-blk", true };
	int r;

	r = kt_blk_open(&run->b, &t, BB_FEATURES, run->cell->nq, opts.ring,
			BB_BS, true);
	if (r != KT_PASS)
		return -ENODEV;
	r = kt_blk_backend(&run->b, fd);
	if (r)
		return r;
	run->ndev = bb_kvio_workers(getpid(), run->dev_tids,
				    BB_MAX_DEV_THREADS);
	return 0;
}

/* The rings and guest memory a userspace backend (uvblk, qemu) serves. */
static int bb_userspace_layout(struct bb_run *run, struct uvblk_mem *mem,
			       struct uvblk_ring *rings)
{
	unsigned int i;
	int r;

	r = bb_layout(&run->b, run->cell->nq, opts.ring);
	if (r)
		return r;
	mem->fd = run->b.d.mem.fd;
	mem->gpa = run->b.d.mem.gpa;
	mem->hva = run->b.d.mem.hva;
	mem->size = run->b.d.mem.size;
	for (i = 0; i < run->cell->nq; i++) {
		struct kt_vq *vq = &run->b.q[i].vq;

		rings[i] = (struct uvblk_ring){
			.desc = vq->desc, .avail = vq->avail, .used = vq->used,
			.num = vq->num, .kick = vq->kick, .call = vq->call,
		};
	}
	return 0;
}

static int bb_open_uvblk(struct bb_run *run, int fd)
{
	struct uvblk_ring rings[BB_MAX_Q];
	struct uvblk_mem mem;
	unsigned int i, k;
	int r;

	r = bb_userspace_layout(run, &mem, rings);
	if (r)
		return r;
	run->uv = uvblk_start(&mem, rings, run->cell->nq, fd,
			      bb_disk_bytes(run->cell->disk) / 512, true);
	if (!run->uv)
		return -errno;
	for (i = 0; i < run->cell->nq; i++) {
		for (k = 0; k < 1000 && !uvblk_tid(run->uv, i); k++)
			bb_sleep_ms(1);
		run->dev_tids[run->ndev++] = uvblk_tid(run->uv, i);
	}
	return 0;
}

/*
 * QEMU's daemon, its threads on CPU 1 from the start (they inherit it).  Its
 * threads are counted once it has warmed up: bb_qemu_threads().
 */
static int bb_open_qemu(struct bb_run *run, const char *path)
{
	struct uvblk_ring rings[BB_MAX_Q];
	struct uvblk_mem mem;
	int r;

	r = bb_userspace_layout(run, &mem, rings);
	if (r)
		return r;
	run->qsd = qsdblk_start(opts.qsd, path, &mem, rings, run->cell->nq,
				BB_FEATURES, opts.pin ? 1 : -1);
	return run->qsd ? 0 : -errno;
}

/* Every thread of QEMU's daemon (iothread, main loop, io_uring workers). */
static void bb_qemu_threads(struct bb_run *run)
{
	char dir[64];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/task", qsdblk_pid(run->qsd));
	d = opendir(dir);
	if (!d)
		return;
	run->ndev = 0;
	while ((e = readdir(d)) && run->ndev < BB_MAX_DEV_THREADS)
		if (isdigit((unsigned char)e->d_name[0]))
			run->dev_tids[run->ndev++] = atoi(e->d_name);
	closedir(d);
}

/* Sum over the threads of a kind. */
static void bb_threads_stat(const pid_t *tids, unsigned int n, uint64_t *run,
			    uint64_t *wait)
{
	unsigned int i;

	*run = *wait = 0;
	for (i = 0; i < n; i++)
		bb_schedstat(tids[i], run, wait);
}

/* One kvio, uvblk or qemu measurement, in the measuring process. */
static void bb_measure_dev(const struct bb_cell *cell, enum bb_backend be,
			   struct bb_result *res)
{
	static struct bb_run run;
	uint64_t d0[BB_MAX_Q], b0[BB_MAX_Q], c0[BB_MAX_Q], k0[BB_MAX_Q];
	uint64_t dr0, dw0, dr1, dw1, gr0, gw, gr1, sb0, st0, sb1, st1, io0;
	pid_t gtids[BB_MAX_Q];
	unsigned int i;
	double t0, ns;
	int fd, r;

	run.cell = cell;
	run.be = be;
	run.res = res;
	fd = open(bb_disk_path(cell->disk), O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return bb_err(res, "open %s: %s", bb_disk_path(cell->disk),
			      strerror(errno));
	if (be == BB_KVIO)
		r = bb_open_kvio(&run, fd);
	else if (be == BB_QEMU)
		r = bb_open_qemu(&run, bb_disk_path(cell->disk));
	else
		r = bb_open_uvblk(&run, fd);
	if (r)
		return bb_err(res, "%s setup: %s", bb_backend_name[be],
			      kt_errname(-r));
	for (i = 0; i < run.ndev; i++)
		bb_pin(run.dev_tids[i], 1);

	for (i = 0; i < cell->nq; i++) {
		struct bb_guest *g = &run.g[i];

		g->b = &run.b;
		g->cell = cell;
		g->qi = i;
		g->span_blocks = bb_disk_bytes(cell->disk) / BB_BS;
		g->rnd = 0x9E3779B97F4A7C15ULL * (i + 1) ^ (uint64_t)getpid();
		if (pthread_create(&g->th, NULL, bb_guest_thread, g)) {
			__atomic_store_n(&bb_stop, 1, __ATOMIC_RELEASE);
			while (i--)
				pthread_join(run.g[i].th, NULL);
			return bb_err(res, "pthread_create failed");
		}
	}

	bb_sleep_ms(opts.warmup_ms);
	if (run.qsd)
		bb_qemu_threads(&run);
	for (i = 0; i < cell->nq; i++) {
		d0[i] = bb_get(&run.g[i].done);
		b0[i] = bb_get(&run.g[i].bad);
		c0[i] = bb_get(&run.g[i].calls);
		k0[i] = bb_get(&run.g[i].kicks);
		gtids[i] = __atomic_load_n(&run.g[i].tid, __ATOMIC_RELAXED);
	}
	t0 = bb_now();
	bb_threads_stat(run.dev_tids, run.ndev, &dr0, &dw0);
	bb_threads_stat(gtids, cell->nq, &gr0, &gw);
	bb_cpu_jiffies(&sb0, &st0);
	io0 = bb_iowq_ns();

	bb_sleep_ms(opts.time_ms);

	res->secs = bb_now() - t0;
	bb_threads_stat(run.dev_tids, run.ndev, &dr1, &dw1);
	bb_threads_stat(gtids, cell->nq, &gr1, &gw);
	bb_cpu_jiffies(&sb1, &st1);
	res->iowq_cpu = bb_iowq_ns();
	res->iowq_cpu = res->iowq_cpu > io0 ? res->iowq_cpu - io0 : 0;
	for (i = 0; i < cell->nq; i++) {
		res->reqs += bb_get(&run.g[i].done) - d0[i];
		res->bad += bb_get(&run.g[i].bad) - b0[i];
		res->calls += bb_get(&run.g[i].calls) - c0[i];
		res->kicks += bb_get(&run.g[i].kicks) - k0[i];
	}
	__atomic_store_n(&bb_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < cell->nq; i++) {
		pthread_join(run.g[i].th, NULL);
		if (run.g[i].err)
			bb_err(res, "guest %u: %s", i,
			       kt_errname(-run.g[i].err));
	}
	ns = res->secs * 1e9;
	res->dev_cpu = (dr1 - dr0) / ns;
	res->dev_wait = (dw1 - dw0) / ns;
	res->guest_cpu = (gr1 - gr0) / ns;
	res->iowq_cpu /= ns;
	if (st1 > st0)
		res->sys_busy = (double)(sb1 - sb0) / (st1 - st0) *
				sysconf(_SC_NPROCESSORS_ONLN);
	if (run.uv) {
		r = uvblk_stop(run.uv);
		if (r)
			bb_err(res, "uvblk: %s", kt_errname(-r));
	}
	if (run.qsd)
		qsdblk_stop(run.qsd);
	if (res->bad)
		bb_err(res, "%llu request(s) did not end OK",
		       (unsigned long long)res->bad);
	if (res->ok && !res->reqs)
		bb_err(res, "no request completed");
	/* The process exits right after: the kernel closes the rest. */
}

/* "iops" of the "read" or "write" object of fio's JSON; -1 if absent. */
static double bb_fio_iops(const char *json, bool write)
{
	const char *p = strstr(json, write ? "\"write\" :" : "\"read\" :");

	if (!p)
		return -1;
	p = strstr(p, "\"iops\" :");
	if (!p)
		return -1;
	return strtod(p + strlen("\"iops\" :"), NULL);
}

static void bb_measure_fio(const struct bb_cell *cell, struct bb_result *res)
{
	char rw[32], qd[32], nq[32], rt[32], ramp[32], file[128], size[32];
	char *argv[] = {
		(char *)opts.fio, "--name=blk-bench", file,
		"--ioengine=io_uring", "--direct=1", rw, "--bs=4k", qd, nq,
		"--group_reporting", "--time_based", rt, ramp, size,
		"--norandommap", "--randrepeat=0", "--gtod_reduce=1",
		"--output-format=json",
		NULL
	};
	uint64_t sb0, st0, sb1, st1;
	size_t cap = 1 << 20, len = 0;
	char *out = malloc(cap);
	double t0, iops;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	snprintf(file, sizeof(file), "--filename=%s",
		 bb_disk_path(cell->disk));
	snprintf(rw, sizeof(rw), "--rw=%s",
		 cell->write ? "randwrite" : "randread");
	snprintf(qd, sizeof(qd), "--iodepth=%u", cell->qd);
	snprintf(nq, sizeof(nq), "--numjobs=%u", cell->nq);
	snprintf(rt, sizeof(rt), "--runtime=%ums", opts.time_ms);
	snprintf(ramp, sizeof(ramp), "--ramp_time=%ums", opts.warmup_ms);
	snprintf(size, sizeof(size), "--size=%llum",
		 (unsigned long long)(bb_disk_bytes(cell->disk) >> 20));
	if (!out || pipe2(p, O_CLOEXEC) < 0)
		return bb_err(res, "pipe: %s", strerror(errno));
	fflush(stdout);
	t0 = bb_now();
	bb_cpu_jiffies(&sb0, &st0);
	pid = fork();
	if (pid < 0)
		return bb_err(res, "fork: %s", strerror(errno));
	if (!pid) {
		dup2(p[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + len, cap - 1 - len)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			len += n;
	out[len] = 0;
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bb_cpu_jiffies(&sb1, &st1);
	res->secs = opts.time_ms / 1000.0;
	/* Over fio's whole life (start-up included): a lower bound. */
	if (st1 > st0)
		res->sys_busy = (double)(sb1 - sb0) / (st1 - st0) *
				sysconf(_SC_NPROCESSORS_ONLN);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return bb_err(res, "fio exited with status %d%s (%.1f s)",
			      WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			      WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
			      ": not installed?" : "", bb_now() - t0);
	iops = bb_fio_iops(out, cell->write);
	free(out);
	if (iops <= 0)
		return bb_err(res, "no IOPS in fio's output");
	res->reqs = (uint64_t)(iops * res->secs + 0.5);
}

/* Fork, measure in the child, return its result. */
static void bb_run_child(const struct bb_cell *cell, enum bb_backend be,
			 struct bb_result *res)
{
	unsigned int limit = (opts.warmup_ms + opts.time_ms) / 1000 + 60;
	struct bb_result r;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->ok = 1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return bb_err(res, "pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return bb_err(res, "fork: %s", strerror(errno));
	}
	if (!pid) {
		close(p[0]);
		/* A hung device must not hang the benchmark. */
		alarm(limit);
		r = *res;
		if (be == BB_FIO)
			bb_measure_fio(cell, &r);
		else
			bb_measure_dev(cell, be, &r);
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], &r, sizeof(r));
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(r)) {
		if (WIFSIGNALED(status))
			return bb_err(res, "measuring process killed by signal %d%s",
				      WTERMSIG(status),
				      WTERMSIG(status) == SIGALRM ?
				      " (timed out)" : "");
		return bb_err(res, "measuring process exited with status %d",
			      WEXITSTATUS(status));
	}
	*res = r;
}

/* ---------------------------------------------------------- reporting */

static double bb_iops(const struct bb_result *r)
{
	return r->ok && r->secs > 0 ? r->reqs / r->secs : 0;
}

static double bb_get_dev(const struct bb_result *r)
{
	return r->dev_cpu * 100;
}

static double bb_get_dev_wait(const struct bb_result *r)
{
	return r->dev_wait * 100;
}

static double bb_get_guest(const struct bb_result *r)
{
	return r->guest_cpu * 100;
}

static double bb_get_iowq(const struct bb_result *r)
{
	return r->iowq_cpu * 100;
}

static double bb_get_sys(const struct bb_result *r)
{
	return r->sys_busy * 100;
}

static double bb_get_calls(const struct bb_result *r)
{
	return r->reqs ? 1000.0 * r->calls / r->reqs : 0;
}

static double bb_get_kicks(const struct bb_result *r)
{
	return r->reqs ? 1000.0 * r->kicks / r->reqs : 0;
}

static int bb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double bb_median_of(double *v, unsigned int k)
{
	qsort(v, k, sizeof(v[0]), bb_cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* Median of the successful runs' field; -1 if none succeeded. */
static double bb_median(const struct bb_result *rs, unsigned int n,
			double (*get)(const struct bb_result *))
{
	double v[BB_MAX_ROUNDS];
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		if (rs[i].ok)
			v[k++] = get(&rs[i]);
	return k ? bb_median_of(v, k) : -1;
}

/* Per round a / b (back-to-back runs), then the median; -1 if none. */
static double bb_ratio(const struct bb_result *a, const struct bb_result *b,
		       unsigned int n, double *lo, double *hi)
{
	double v[BB_MAX_ROUNDS];
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		if (bb_iops(&a[i]) > 0 && bb_iops(&b[i]) > 0)
			v[k++] = bb_iops(&a[i]) / bb_iops(&b[i]);
	if (!k)
		return -1;
	qsort(v, k, sizeof(v[0]), bb_cmp_double);
	*lo = v[0];
	*hi = v[k - 1];
	return bb_median_of(v, k);
}

static void bb_print_run(unsigned int round, const struct bb_cell *c,
			 enum bb_backend be, const struct bb_result *r)
{
	if (!r->ok) {
		printf("# round %u %-22s %-5s FAILED: %s\n", round, c->name,
		       bb_backend_name[be], r->err);
		fflush(stdout);
		return;
	}
	printf("# round %u %-22s %-5s %8.0f IOPS  cpu%%: all %.0f",
	       round, c->name, bb_backend_name[be], bb_iops(r), bb_get_sys(r));
	if (be != BB_FIO)
		printf(" device %.0f+%.0f guest %.0f io-wq %.0f  per kreq: calls %.0f kicks %.0f",
		       bb_get_dev(r), bb_get_dev_wait(r), bb_get_guest(r),
		       bb_get_iowq(r), bb_get_calls(r), bb_get_kicks(r));
	printf("\n");
	fflush(stdout);
}

static void bb_print_cell_ratio(const struct bb_result *a,
				const struct bb_result *b, unsigned int n)
{
	double lo, hi, v = bb_ratio(a, b, n, &lo, &hi);

	if (v < 0)
		printf(" | %16s", "-");
	else
		printf(" | %4.2f (%4.2f-%4.2f)", v, lo, hi);
}

static void bb_print_tables(const struct bb_cell *cells, unsigned int ncells,
			    struct bb_result res[][BB_NBACKENDS][BB_MAX_ROUNDS])
{
	unsigned int c, k, n = opts.rounds;
	double v;

	printf("\nIOPS: medians of %u run(s) of %.1f s.  Ratios: per round, kvio over the\nother backend's back-to-back run, then the median (min-max in brackets).\n\n",
	       n, opts.time_ms / 1000.0);
	printf("%-22s", "cell");
	for (k = 0; k < BB_NBACKENDS; k++)
		printf(" | %5s IOPS", bb_backend_name[k]);
	printf(" | %-16s | %-16s | %-16s\n", "kvio/uvblk", "kvio/qemu",
	       "kvio/fio");
	for (c = 0; c < ncells; c++) {
		printf("%-22s", cells[c].name);
		for (k = 0; k < BB_NBACKENDS; k++) {
			v = opts.backends[k] ? bb_median(res[c][k], n, bb_iops) : -1;
			if (v < 0)
				printf(" | %10s", "-");
			else
				printf(" | %10.0f", v);
		}
		bb_print_cell_ratio(res[c][BB_KVIO], res[c][BB_UVBLK], n);
		bb_print_cell_ratio(res[c][BB_KVIO], res[c][BB_QEMU], n);
		bb_print_cell_ratio(res[c][BB_KVIO], res[c][BB_FIO], n);
		printf("\n");
	}

	printf("\nWhere the time went (medians).  CPU: %% of one CPU (%ld in all): all = every\nCPU busy (fio: over its whole run, start-up included), device = kvio's\nworkers, uvblk's iothreads or every thread of QEMU's daemon running\n(+ runnable, waiting), guest = the guest threads, io-wq = uvblk's I/O\npunted to io_uring's workers (a lower bound; QEMU's are in device).  Per 1000 requests: guest wake-ups by a call, kicks.\n\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-22s %-5s %5s %6s %5s %5s %5s %6s %6s\n", "cell", "", "all",
	       "device", "+wait", "guest", "io-wq", "calls", "kicks");
	for (c = 0; c < ncells; c++) {
		for (k = 0; k < BB_NBACKENDS; k++) {
			if (!opts.backends[k])
				continue;
			printf("%-22s %-5s %5.0f", cells[c].name,
			       bb_backend_name[k],
			       bb_median(res[c][k], n, bb_get_sys));
			if (k != BB_FIO)
				printf(" %6.0f %5.0f %5.0f %5.0f %6.0f %6.0f",
				       bb_median(res[c][k], n, bb_get_dev),
				       bb_median(res[c][k], n, bb_get_dev_wait),
				       bb_median(res[c][k], n, bb_get_guest),
				       bb_median(res[c][k], n, bb_get_iowq),
				       bb_median(res[c][k], n, bb_get_calls),
				       bb_median(res[c][k], n, bb_get_kicks));
			printf("\n");
		}
	}
}

/* ------------------------------------------------------------- main */

static void bb_usage(FILE *f)
{
	fprintf(f,
		"usage: blk-bench [--rounds N] [--warmup MS] [--time MS] [--ring N]\n"
		"                 [--backends fio,uvblk,qemu,kvio] [--disks null,file]\n"
		"                 [--rw read,write] [--qd 1,32] [--queues 1,4]\n"
		"                 [--null-mb N] [--file-mb N] [--fio PATH] [--no-pin]\n"
		"                 [--qsd PATH] [--file PATH]\n"
		"Run as root in the test VM with null_blk and kvio_blk loaded: makes a\n"
		"null_blk device (memory_backed=0) and an ext4 file system on a\n"
		"memory-backed one, measures every cell, prints the table, removes them.\n"
		"--qsd PATH: qemu-storage-daemon for the qemu backend.\n"
		"--file PATH: the file cells use this existing file (at least --file-mb\n"
		"MiB) instead of making one.\n"
		"--no-pin: leave guest and device threads where the scheduler puts them\n"
		"(default: guest threads on CPU 0, workers/iothreads on CPU 1).\n");
}

/* A comma list of names into flags; -1 on an unknown one. */
static int bb_parse_list(const char *s, const char *const *names,
			 unsigned int n, bool *flags)
{
	char *copy = strdup(s), *tok, *save = NULL;
	unsigned int i;
	int r = 0;

	if (!copy)
		return -1;
	memset(flags, 0, n * sizeof(*flags));
	for (tok = strtok_r(copy, ",", &save); tok && !r;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < n && strcmp(tok, names[i]); i++)
			;
		if (i == n) {
			fprintf(stderr, "blk-bench: unknown value %s\n", tok);
			r = -1;
		} else {
			flags[i] = true;
		}
	}
	free(copy);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "time", required_argument, NULL, 't' },
		{ "ring", required_argument, NULL, 'n' },
		{ "backends", required_argument, NULL, 'b' },
		{ "disks", required_argument, NULL, 'D' },
		{ "rw", required_argument, NULL, 'R' },
		{ "qd", required_argument, NULL, 'q' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "null-mb", required_argument, NULL, 'N' },
		{ "file-mb", required_argument, NULL, 'F' },
		{ "fio", required_argument, NULL, 'f' },
		{ "qsd", required_argument, NULL, 'S' },
		{ "file", required_argument, NULL, 'L' },
		{ "no-pin", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char *const rw_names[] = { "read", "write" };
	static const char *const qd_names[] = { "1", "32" };
	static const char *const nq_names[] = { "1", "4" };
	static struct bb_result res[BB_MAX_CELLS][BB_NBACKENDS][BB_MAX_ROUNDS];
	static struct bb_cell cells[BB_MAX_CELLS];
	unsigned int ncells = 0, d, w, a, b, c, i, k, round, failures = 0;
	double t_start = bb_now();
	int o, r = 0;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'r':
			opts.rounds = atoi(optarg);
			break;
		case 'w':
			opts.warmup_ms = atoi(optarg);
			break;
		case 't':
			opts.time_ms = atoi(optarg);
			break;
		case 'n':
			opts.ring = atoi(optarg);
			break;
		case 'b':
			r = bb_parse_list(optarg, bb_backend_name, BB_NBACKENDS,
					  opts.backends);
			break;
		case 'D':
			r = bb_parse_list(optarg, bb_disk_name, BB_NDISKS,
					  opts.disks);
			break;
		case 'R':
			r = bb_parse_list(optarg, rw_names, 2, opts.rw);
			break;
		case 'q':
			r = bb_parse_list(optarg, qd_names, 2, opts.qds);
			break;
		case 'Q':
			r = bb_parse_list(optarg, nq_names, 2, opts.nqs);
			break;
		case 'N':
			opts.null_mb = atoi(optarg);
			break;
		case 'F':
			opts.file_mb = atoi(optarg);
			break;
		case 'f':
			opts.fio = optarg;
			break;
		case 'S':
			opts.qsd = optarg;
			break;
		case 'L':
			opts.file = optarg;
			break;
		case 'P':
			opts.pin = false;
			break;
		case 'h':
			bb_usage(stdout);
			return 0;
		default:
			bb_usage(stderr);
			return 2;
		}
		if (r)
			return 2;
	}
	if (!opts.rounds || opts.rounds > BB_MAX_ROUNDS || !opts.time_ms ||
	    opts.warmup_ms > 60000 || opts.time_ms > 60000 ||
	    opts.ring < 64 || opts.ring > 1024 ||
	    (opts.ring & (opts.ring - 1)) || opts.null_mb < 16 ||
	    opts.file_mb < 16 || opts.file_mb > 4096 || opts.null_mb > 1 << 20) {
		fprintf(stderr, "blk-bench: rounds 1..%d, warm-up and time <= 60000 ms, ring a power of two 64..1024, --null-mb 16.., --file-mb 16..4096\n",
			BB_MAX_ROUNDS);
		return 2;
	}
	if (opts.file) {
		struct stat st;

		if (stat(opts.file, &st) < 0 ||
		    (S_ISREG(st.st_mode) &&
		     (uint64_t)st.st_size < (uint64_t)opts.file_mb << 20)) {
			fprintf(stderr, "blk-bench: %s: missing or smaller than %u MiB\n",
				opts.file, opts.file_mb);
			return 2;
		}
	}
	if (opts.backends[BB_KVIO] && access(BB_KVIO_DEV, R_OK | W_OK)) {
		fprintf(stderr, "blk-bench: %s: %s (kvio_blk loaded?)\n",
			BB_KVIO_DEV, strerror(errno));
		return 2;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		opts.pin = false;

	for (d = 0; d < BB_NDISKS; d++)
		for (w = 0; w < 2; w++)
			for (a = 0; a < 2; a++)
				for (b = 0; b < 2; b++) {
					struct bb_cell *cl = &cells[ncells];

					if (!opts.disks[d] || !opts.rw[w] ||
					    !opts.nqs[a] || !opts.qds[b])
						continue;
					cl->disk = d;
					cl->write = w;
					cl->nq = bb_nq_vals[a];
					cl->qd = bb_qd_vals[b];
					snprintf(cl->name, sizeof(cl->name),
						 "%s-rand%s-q%u-qd%u",
						 bb_disk_name[d],
						 w ? "write" : "read", cl->nq,
						 cl->qd);
					ncells++;
				}
	if (!ncells) {
		fprintf(stderr, "blk-bench: no cell selected\n");
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	atexit(bb_cleanup);
	r = bb_setup_disks();
	if (r)
		return 1;

	printf("# blk-bench: %u round(s) of %u ms after %u ms warm-up; %ld CPUs; rings of %u;\n# null: /dev/%s (null_blk, memory_backed=0, irqmode=0, %u MiB);\n# file: %s (%u MiB, written, ext4 on null_blk memory_backed=1);\n# 4 KiB random, offsets over the whole disk/file; %s\n",
	       opts.rounds, opts.time_ms, opts.warmup_ms,
	       sysconf(_SC_NPROCESSORS_ONLN), opts.ring, BB_NULL, opts.null_mb,
	       bb_disk_path(BB_DISK_FILE), opts.file_mb,
	       opts.pin ? "guest threads on CPU 0, device threads on CPU 1" :
			  "nothing pinned");

	for (round = 0; round < opts.rounds; round++) {
		for (c = 0; c < ncells; c++) {
			for (i = 0; i < BB_NBACKENDS; i++) {
				/* Rotate who goes first: order effects
				 * (warm caches, drift) spread over all. */
				k = (i + round + c) % BB_NBACKENDS;
				if (!opts.backends[k])
					continue;
				bb_run_child(&cells[c], k, &res[c][k][round]);
				bb_print_run(round + 1, &cells[c], k,
					     &res[c][k][round]);
				if (!res[c][k][round].ok)
					failures++;
			}
		}
	}

	bb_print_tables(cells, ncells, res);
	printf("\nblk-bench: %u failed run(s), %.0f s in all\n", failures,
	       bb_now() - t_start);
	return failures ? 1 : 0;
}
