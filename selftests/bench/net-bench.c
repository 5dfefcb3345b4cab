// SPDX-License-Identifier: GPL-2.0-only
/*
 * net-bench: packets/s and Gbit/s through a vhost-net style device, with the
 * selftests' guest driver (lib/kt.h) playing the guest.  Every device given
 * (default kvio's /dev/kvio-net and upstream's /dev/vhost-net) is measured in
 * the same run, interleaved, and the table gives kvio/upstream per cell.
 * Not a test: it prints figures, and exits non-zero only if a run failed.
 *
 * Cells: TX and RX, 64- and 1500-byte Ethernet frames (no FCS; the 12-byte
 * virtio-net header the guest adds is not counted in Gbit/s).
 *
 *  TX: the guest keeps the TX ring full: every buffer holds its vnet header
 *      and frame from the start and is re-posted as soon as its used entry
 *      comes back.  The tap sits in a private network namespace with nothing
 *      listening, and the frames go to a MAC that is not the tap's with an
 *      experimental ethertype: the stack drops them at its first lookup.
 *  RX: a generator sends frames out of the tap as fast as it can: pktgen
 *      (a kernel thread per CPU, ndo_start_xmit straight into tun) when the
 *      module is loaded, else an AF_PACKET socket (sendmmsg, qdisc bypassed).
 *      The generator runs SCHED_IDLE: it only gets CPU time the guest and
 *      the device's worker leave, so it never slows the path it feeds, and
 *      tun's drops (its queue full) show it stayed ahead.  The guest keeps
 *      the RX ring stocked with 2 KiB mergeable buffers.
 *
 * Guest models (--model, a comma list; each gets its own tables):
 *
 *  linux:    (the default) a Linux virtio-net driver with EVENT_IDX: it asks
 *            for a call only when it has nothing to do (TX: when 3/4 of what
 *            it has outstanding completed, like virtqueue_enable_cb_delayed();
 *            RX: at the next packet) and kicks only when the device's
 *            avail_event says so.  Rings of --ring (1024), every buffer one
 *            descriptor (TX: the 12-byte header followed by the frame).
 *  poll:     a userspace driver that negotiates no EVENT_IDX: it sets
 *            VRING_AVAIL_F_NO_INTERRUPT once and never waits for a call, it
 *            spins on the used ring; it kicks when the used ring's flags lack
 *            VRING_USED_F_NO_NOTIFY.  Rings of 256, one descriptor per
 *            buffer.  A spinning guest would starve a SCHED_IDLE generator
 *            on its CPU, so in this model the RX generator runs at normal
 *            priority and the two share CPU 0.
 *  indirect: linux with VIRTIO_RING_F_INDIRECT_DESC: every buffer is one
 *            ring descriptor pointing to a 2-entry indirect table, the
 *            header and the data, as Linux posts a multi-sg packet.
 *  mq:       linux with 2 queue pairs: 2 device fds (as QEMU opens one per
 *            pair), both on one IFF_MULTI_QUEUE tap, a guest thread each
 *            (pair N's on CPU N, its worker on the other CPU); packets/s
 *            and CPU shares are the pairs' sums.  pktgen alternates the
 *            tap's queues (the AF_PACKET generator's frames would all hash
 *            to one queue).
 *
 * Each measurement runs in its own forked process (its own network namespace
 * and device), warms up, then counts completions over a fixed wall time
 * taken by a separate clock thread.  Devices alternate (kvio, upstream,
 * upstream, kvio, ...) and every cell is repeated --rounds times; the table
 * shows medians, so drift of the machine hits both devices alike.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kt.h"
#include "kt_iommu.h"

#define NB_HDR_LEN	sizeof(struct virtio_net_hdr_mrg_rxbuf)
#define NB_BUF_SIZE	2048	/* TX and RX buffers, one per descriptor */
#define NB_GEN_BATCH	64	/* frames per sendmmsg() */
#define NB_MAX_DEVS	4
#define NB_MAX_ROUNDS	31
#define NB_MAX_CPUS	64
#define NB_MAX_QP	2	/* queue pairs (mq model) */
/* indirect model: where a buffer's data starts, after its header */
#define NB_DATA_OFF	64
#define NB_TAP		"kbtap0"
/* The kernel's ARRAY_SIZE(), which userspace lacks. */
#define NB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NB_PKTGEN	"/proc/net/pktgen"

/* What a Linux guest negotiates with vhost-net behind QEMU. */
#define NB_FEATURES	((1ULL << VIRTIO_F_VERSION_1) |		\
			 (1ULL << VIRTIO_NET_F_MRG_RXBUF) |	\
			 (1ULL << VIRTIO_RING_F_EVENT_IDX))

/*
 * A guest model: what it negotiates and how it drives the rings (see the
 * comment at the top).
 */
struct nb_model {
	const char *name;
	const char *what;	/* for the output's header */
	uint64_t features;
	unsigned int ring;	/* 0: --ring */
	unsigned int nqp;	/* queue pairs, one device fd each */
	bool poll;		/* NO_INTERRUPT, spins, no EVENT_IDX */
	bool indirect;		/* header + data in an indirect table */
};

static const struct nb_model nb_models[] = {
	{ "linux", "Linux-like, EVENT_IDX, waits for calls", NB_FEATURES,
	  0, 1, false, false },
	{ "poll", "polling, no EVENT_IDX, NO_INTERRUPT, kicks unless NO_NOTIFY",
	  NB_FEATURES & ~(1ULL << VIRTIO_RING_F_EVENT_IDX), 256, 1, true,
	  false },
	{ "indirect", "Linux-like, every buffer a 2-entry indirect table (header, data)",
	  NB_FEATURES | (1ULL << VIRTIO_RING_F_INDIRECT_DESC), 0, 1, false,
	  true },
	{ "mq", "Linux-like, 2 queue pairs (2 device fds) on one multiqueue tap",
	  NB_FEATURES, 0, 2, false, false },
};

#define NB_NMODELS NB_ARRAY_SIZE(nb_models)

/* TX destination: nobody's MAC, so the tap's stack discards the frames. */
static const uint8_t nb_nobody_mac[6] = { 0x02, 0x6b, 0x76, 0x69, 0x6f, 0xee };

enum nb_dir { NB_TX, NB_RX };

struct nb_cell {
	enum nb_dir dir;
	unsigned int frame_len;
	const char *name;
};

static const struct nb_cell nb_cells[] = {
	{ NB_TX, 64, "tx64" },
	{ NB_TX, 1500, "tx1500" },
	{ NB_RX, 64, "rx64" },
	{ NB_RX, 1500, "rx1500" },
};

#define NB_NCELLS NB_ARRAY_SIZE(nb_cells)

struct nb_dev {
	const char *path;
	const char *name;
	/*
	 * "PATH+viommu": the device is an endpoint of a kvio-iommu domain
	 * mapping all guest RAM at IOVA = GPA (long-lived mappings), with
	 * ACCESS_PLATFORM: every ring and buffer access translates through
	 * the domain.
	 */
	bool viommu;
	char buf[64];
};

/* One measurement, passed from the measuring child to the parent. */
struct nb_result {
	int ok;			/* 1: measured; 0: see err */
	char err[200];
	double secs;		/* measured window */
	uint64_t frames;	/* completed (TX) / delivered (RX) */
	uint64_t bad;		/* RX frames of an unexpected length */
	uint64_t offered;	/* RX: frames the generator got to tun */
	uint64_t tap_drops;	/* RX: of those, dropped: tun's queue full */
	uint64_t calls;		/* call eventfd wake-ups of the guest */
	uint64_t kicks;
	/* Shares of one CPU over the window: */
	double worker_cpu;	/* the device's worker kthread, running */
	double worker_wait;	/* ... runnable but not running */
	double guest_cpu;	/* the guest driver thread */
	double guest_wait;
	double gen_cpu;		/* the RX generator */
	uint64_t worker_sleeps;	/* the worker's voluntary switches */
};

enum nb_gen { NB_GEN_PKTGEN, NB_GEN_PACKET };

struct nb_opts {
	unsigned int rounds;
	unsigned int warmup_ms;
	unsigned int time_ms;
	unsigned int ring;
	bool ring_set;		/* --ring given: it applies to every model */
	enum nb_gen gen;
	bool guest_poll;
	bool pin;
	bool gen_all_cpus;
	bool cells[NB_NCELLS];
	bool models[NB_NMODELS];
};

static struct nb_opts opts = {
	.rounds = 11,
	.warmup_ms = 500,
	.time_ms = 1500,
	.ring = 1024,
	.gen = NB_GEN_PKTGEN,
	.pin = true,
};

static const char *nb_gen_name(void)
{
	return opts.gen == NB_GEN_PKTGEN ? "pktgen" : "AF_PACKET sendmmsg";
}

/* ------------------------------------------------------------ helpers */

static int nb_stop;

static inline void nb_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static inline uint64_t nb_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static inline bool nb_stopped(void)
{
	return __atomic_load_n(&nb_stop, __ATOMIC_ACQUIRE);
}

static void nb_err(struct nb_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void nb_err(struct nb_result *res, const char *fmt, ...)
{
	va_list ap;

	/* The first error is the one that explains the rest. */
	if (!res->ok)
		return;
	va_start(ap, fmt);
	vsnprintf(res->err, sizeof(res->err), fmt, ap);
	va_end(ap);
	res->ok = 0;
}

static double nb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nb_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static pid_t nb_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/*
 * The guest on CPU 0, the device's worker on CPU 1, as a VMM would keep a
 * vCPU thread and its vhost worker apart: on two CPUs the scheduler would
 * otherwise now and then stack them on one, and the figures would measure
 * that more than the device.
 */
static void nb_pin(pid_t tid, int cpu)
{
	cpu_set_t set;

	if (!opts.pin)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(tid, sizeof(set), &set);
}

/* ------------------------------------------------------ CPU accounting */

/* A task's scheduler figures (/proc/TID/schedstat and status). */
struct nb_task_stat {
	uint64_t run_ns;	/* on a CPU */
	uint64_t wait_ns;	/* runnable, waiting for a CPU */
	uint64_t sleeps;	/* voluntary context switches */
};

static void nb_task_stat(pid_t tid, struct nb_task_stat *st)
{
	unsigned long long run = 0, wait = 0, v = 0;
	char path[64], line[128];
	FILE *f;

	if (tid <= 0)
		return;
	/* /proc/TID/ works for any thread of any process. */
	snprintf(path, sizeof(path), "/proc/%d/schedstat", tid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
			st->run_ns += run;
			st->wait_ns += wait;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "voluntary_ctxt_switches: %llu",
				   &v) == 1)
				st->sleeps += v;
		fclose(f);
	}
}

static void nb_tasks_stat(const pid_t *tids, unsigned int n,
			  struct nb_task_stat *st)
{
	unsigned int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < n; i++)
		nb_task_stat(tids[i], st);
}

/*
 * Top-level tasks (kernel threads) whose comm is exactly name, or starts
 * with it when prefix: up to max pids into pids.  Returns how many.
 */
static unsigned int nb_find_tasks(const char *name, bool prefix, pid_t *pids,
				  unsigned int max)
{
	char path[300], comm[32];
	size_t len = strlen(name);
	struct dirent *de;
	unsigned int n = 0;
	ssize_t r;
	DIR *d;
	int fd;

	d = opendir("/proc");
	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
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
		if (prefix ? !strncmp(comm, name, len) : !strcmp(comm, name))
			pids[n++] = atoi(de->d_name);
	}
	closedir(d);
	return n;
}

/*
 * The worker kthread of the device just set up: upstream names it
 * vhost-<owner pid>, kvio kvio-<owner pid>, so the devices of one process
 * share the name; the one not among the nknown found before is the new
 * one.  0 if not found (its CPU figure is then left out).
 */
static pid_t nb_find_worker(pid_t owner, const pid_t *known,
			    unsigned int nknown)
{
	pid_t pids[NB_MAX_QP + 1];
	unsigned int n, i, k;
	char name[32];

	snprintf(name, sizeof(name), "vhost-%d", owner);
	n = nb_find_tasks(name, false, pids, NB_MAX_QP + 1);
	if (!n) {
		snprintf(name, sizeof(name), "kvio-%d", owner);
		n = nb_find_tasks(name, false, pids, NB_MAX_QP + 1);
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < nknown && known[k] != pids[i]; k++)
			;
		if (k == nknown)
			return pids[i];
	}
	return 0;
}

/* tx_packets + tx_dropped (*drops) of ifname in this namespace. */
static uint64_t nb_tap_tx(const char *ifname, uint64_t *drops)
{
	unsigned long long v[12];
	char line[512], *p;
	uint64_t r = 0;
	FILE *f = fopen("/proc/net/dev", "re");

	*drops = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		p = strchr(line, ':');
		if (!p)
			continue;
		*p = 0;
		if (strcmp(line + strspn(line, " "), ifname))
			continue;
		/*
		 * rx: bytes packets errs drop fifo frame compressed
		 * multicast; tx: bytes packets errs drop ...
		 */
		if (sscanf(p + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8], &v[9], &v[10], &v[11]) == 12) {
			r = v[9] + v[11];
			*drops = v[11];
		}
	}
	fclose(f);
	return r;
}

/* ---------------------------------------------------------- generators */

struct nb_run;

/* A queue pair: a device fd and its two rings, on one queue of the tap. */
struct nb_qp {
	struct nb_run *run;
	unsigned int index;
	struct kt_dev dev;
	int tapfd;
	pid_t worker;
	pid_t guest_tid;
	int err;		/* the guest driver's: 0 or -errno */
	/*
	 * Written by the pair's guest thread alone (a polling guest's calls
	 * by the clock thread alone), read by the clock thread.
	 */
	uint64_t frames, bad, calls, kicks;
};

struct nb_run {
	const struct nb_model *model;
	const struct nb_cell *cell;
	struct nb_qp qp[NB_MAX_QP];
	unsigned int nqp;	/* 0: the generator alone */
	struct kt_tap tap;
	uint8_t frame[NB_BUF_SIZE];
	size_t frame_len;
	pid_t gen_tids[NB_MAX_CPUS + 1];
	unsigned int ngen;
	bool gen_started;
	int psock;		/* AF_PACKET generator's socket */
	struct nb_result *res;
};

static void nb_idle_priority(pid_t tid)
{
	struct sched_param sp = { .sched_priority = 0 };

	sched_setscheduler(tid, SCHED_IDLE, &sp);
}

static int nb_pktgen_cmd(const char *file, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int nb_pktgen_cmd(const char *file, const char *fmt, ...)
{
	char path[128], cmd[128];
	va_list ap;

	snprintf(path, sizeof(path), NB_PKTGEN "/%s", file);
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	/* pgctrl drops the last byte written: end every command with \n. */
	strcat(cmd, "\n");
	return kt_write_file(path, cmd);
}

/*
 * pktgen in this network namespace: one device per CPU thread, all on the
 * tap, forever, no delay, a fresh skb per frame (tap cannot share skbs).
 */
static int nb_pktgen_setup(struct nb_run *run)
{
	const uint8_t *m = run->frame;	/* the frame's destination MAC */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char thread[32], dev[32];
	pid_t pids[NB_MAX_CPUS * 8];
	unsigned int n, i;
	long cpu;
	int r;

	if (ncpu > NB_MAX_CPUS)
		ncpu = NB_MAX_CPUS;
	/* Pinned: the generator shares the guest's CPU, never the worker's. */
	if (opts.pin && !opts.gen_all_cpus)
		ncpu = 1;
	for (cpu = 0; cpu < ncpu; cpu++) {
		snprintf(thread, sizeof(thread), "kpktgend_%ld", cpu);
		snprintf(dev, sizeof(dev), NB_TAP "@%ld", cpu);
		r = nb_pktgen_cmd(thread, "rem_device_all");
		if (!r)
			r = nb_pktgen_cmd(thread, "add_device %s", dev);
		if (!r)
			r = nb_pktgen_cmd(dev, "count 0");
		if (!r)
			r = nb_pktgen_cmd(dev, "clone_skb 0");
		if (!r)
			r = nb_pktgen_cmd(dev, "delay 0");
		if (!r)
			r = nb_pktgen_cmd(dev, "pkt_size %zu", run->frame_len);
		if (!r)
			r = nb_pktgen_cmd(dev, "dst_mac %02x:%02x:%02x:%02x:%02x:%02x",
					  m[0], m[1], m[2], m[3], m[4], m[5]);
		if (!r)
			r = nb_pktgen_cmd(dev, "dst 192.0.2.2");
		/*
		 * Every queue of a multiqueue tap in turn: tun takes the
		 * queue pktgen maps the skb to.
		 */
		if (!r && run->model->nqp > 1)
			r = nb_pktgen_cmd(dev, "queue_map_min 0");
		if (!r && run->model->nqp > 1)
			r = nb_pktgen_cmd(dev, "queue_map_max %u",
					  run->model->nqp - 1);
		if (r)
			return r;
	}
	/*
	 * Every netns has its own kpktgend_N threads; the others sleep, so
	 * demoting all of them touches only ours in effect.
	 */
	n = nb_find_tasks("kpktgend_", true, pids, NB_ARRAY_SIZE(pids));
	for (i = 0; i < n && !run->model->poll; i++)
		nb_idle_priority(pids[i]);
	for (i = 0; i < n && run->ngen < NB_MAX_CPUS; i++)
		run->gen_tids[run->ngen++] = pids[i];
	return 0;
}

/* Runs pktgen until nb_pktgen_stop(): "start" blocks till then. */
static void *nb_pktgen_thread(void *arg)
{
	struct nb_run *run = arg;
	int r;

	r = nb_pktgen_cmd("pgctrl", "start");
	if (r && !nb_stopped())
		nb_err(run->res, "pktgen start: %s", strerror(-r));
	return NULL;
}

static void nb_pktgen_stop(void)
{
	nb_pktgen_cmd("pgctrl", "stop");
}

/* An AF_PACKET socket that only sends, out of ifindex, past the qdisc. */
static int nb_gen_socket(int ifindex)
{
	struct sockaddr_ll sll;
	int s, one = 1;

	/* Protocol 0: the socket receives nothing. */
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int r = -errno;

		close(s);
		return r;
	}
	return s;
}

/*
 * The AF_PACKET generator.  A frame tun drops (queue full) ends sendmmsg()
 * with ENOBUFS; the drop is counted by the tap, not here.
 */
static void *nb_packet_gen_thread(void *arg)
{
	struct nb_run *run = arg;
	struct mmsghdr msgs[NB_GEN_BATCH];
	struct iovec iov = {
		.iov_base = run->frame,
		.iov_len = run->frame_len,
	};
	unsigned int i;
	int n;

	/* A polling guest would starve it: see the top of the file. */
	if (!run->model->poll)
		nb_idle_priority(0);
	nb_pin(0, 0);
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < NB_GEN_BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (!nb_stopped()) {
		n = sendmmsg(run->psock, msgs, NB_GEN_BATCH, 0);
		if (n < 0 && errno != EINTR && errno != EAGAIN &&
		    errno != ENOBUFS) {
			nb_err(run->res, "generator sendmmsg: %s",
			       strerror(errno));
			break;
		}
	}
	return NULL;
}

static int nb_gen_prepare(struct nb_run *run)
{
	if (opts.gen == NB_GEN_PKTGEN)
		return nb_pktgen_setup(run);
	run->psock = nb_gen_socket(run->tap.ifindex);
	return run->psock < 0 ? run->psock : 0;
}

static int nb_gen_start(struct nb_run *run, pthread_t *th)
{
	if (opts.gen == NB_GEN_PKTGEN) {
		if (pthread_create(th, NULL, nb_pktgen_thread, run))
			return -EAGAIN;
	} else {
		if (pthread_create(th, NULL, nb_packet_gen_thread, run))
			return -EAGAIN;
	}
	run->gen_started = true;
	return 0;
}

/* ------------------------------------------------------------- clock */

static void nb_stop_all(void)
{
	__atomic_store_n(&nb_stop, 1, __ATOMIC_RELEASE);
	if (opts.gen == NB_GEN_PKTGEN)
		nb_pktgen_stop();
}

/* The queue pairs' counters, summed. */
struct nb_counts {
	uint64_t frames, bad, calls, kicks;
};

static void nb_counts(struct nb_run *run, struct nb_counts *c)
{
	struct nb_qp *qp;
	unsigned int q, i;

	memset(c, 0, sizeof(*c));
	for (q = 0; q < run->nqp; q++) {
		qp = &run->qp[q];
		/*
		 * A polling guest never reads its call eventfds: what a
		 * device signalled despite NO_INTERRUPT piles up there.
		 */
		for (i = 0; run->model->poll && i < 2; i++)
			nb_add(&qp->calls,
			       kt_eventfd_drain(qp->dev.vq[i].call));
		c->frames += nb_get(&qp->frames);
		c->bad += nb_get(&qp->bad);
		c->calls += nb_get(&qp->calls);
		c->kicks += nb_get(&qp->kicks);
	}
}

/*
 * After the warm-up, snapshot every counter; after the measured time,
 * snapshot again and stop the other threads.
 */
static void *nb_clock_thread(void *arg)
{
	struct nb_run *run = arg;
	struct nb_result *res = run->res;
	struct nb_task_stat w0, w1, h0, h1, g0, g1;
	pid_t workers[NB_MAX_QP], guests[NB_MAX_QP];
	unsigned int q, nw = 0;
	struct nb_counts c0, c1;
	uint64_t o0, d0, d1;
	double t0, t1, ns;

	nb_sleep_ms(opts.warmup_ms);
	if (nb_stopped())
		return NULL;
	for (q = 0; q < run->nqp; q++) {
		if (run->qp[q].worker)
			workers[nw++] = run->qp[q].worker;
		guests[q] = run->qp[q].guest_tid;
	}
	t0 = nb_now();
	nb_counts(run, &c0);
	o0 = nb_tap_tx(run->tap.name, &d0);
	nb_tasks_stat(workers, nw, &w0);
	nb_tasks_stat(guests, run->nqp, &h0);
	nb_tasks_stat(run->gen_tids, run->ngen, &g0);

	nb_sleep_ms(opts.time_ms);

	t1 = nb_now();
	nb_counts(run, &c1);
	res->frames = c1.frames - c0.frames;
	res->bad = c1.bad - c0.bad;
	res->calls = c1.calls - c0.calls;
	res->kicks = c1.kicks - c0.kicks;
	res->offered = nb_tap_tx(run->tap.name, &d1) - o0;
	res->tap_drops = d1 - d0;
	nb_tasks_stat(workers, nw, &w1);
	nb_tasks_stat(guests, run->nqp, &h1);
	nb_tasks_stat(run->gen_tids, run->ngen, &g1);
	res->secs = t1 - t0;
	ns = res->secs * 1e9;
	res->worker_cpu = (w1.run_ns - w0.run_ns) / ns;
	res->worker_wait = (w1.wait_ns - w0.wait_ns) / ns;
	res->worker_sleeps = w1.sleeps - w0.sleeps;
	res->guest_cpu = (h1.run_ns - h0.run_ns) / ns;
	res->guest_wait = (h1.wait_ns - h0.wait_ns) / ns;
	res->gen_cpu = (g1.run_ns - g0.run_ns) / ns;
	nb_stop_all();
	return NULL;
}

/* ------------------------------------------------------- guest driver */

/* Wait for the call eventfd (at most 50 ms, to notice the stop flag). */
static void nb_wait_call(struct nb_qp *qp, struct kt_vq *vq)
{
	struct pollfd p = { .fd = vq->call, .events = POLLIN };

	if (poll(&p, 1, 50) > 0) {
		kt_eventfd_drain(vq->call);
		nb_add(&qp->calls, 1);
	}
}

static void nb_kick_if_needed(struct nb_qp *qp, struct kt_vq *vq)
{
	/* Without EVENT_IDX this reads the used ring's NO_NOTIFY flag. */
	if (kt_vq_kick_needed(vq)) {
		kt_vq_kick(vq);
		nb_add(&qp->kicks, 1);
	} else {
		/*
		 * Linux's virtqueue_kick_prepare(): the next decision
		 * covers only what is added from now on.
		 */
		vq->kicked_idx = vq->avail_idx;
	}
}

/*
 * Post the buffer at gpa (NB_BUF_SIZE bytes of guest RAM, the token of its
 * used entry): one descriptor of the header followed by the frame (TX) or
 * of the whole buffer (RX); in the indirect model a 2-entry indirect table
 * instead, the header then the data NB_DATA_OFF bytes further, as Linux
 * posts a packet whose header is an sg entry of its own.
 */
static int nb_post(struct nb_qp *qp, struct kt_vq *vq, uint64_t gpa)
{
	bool indirect = qp->run->model->indirect, rx = vq->index == KT_RXQ;
	struct kt_buf b[2];
	unsigned int n = 1;

	b[0].gpa = gpa;
	b[0].len = rx ? NB_BUF_SIZE : NB_HDR_LEN + qp->run->frame_len;
	if (indirect) {
		b[0].len = NB_HDR_LEN;
		b[1].gpa = gpa + NB_DATA_OFF;
		b[1].len = rx ? NB_BUF_SIZE - NB_DATA_OFF : qp->run->frame_len;
		n = 2;
	}
	if (rx)
		return kt_vq_add(vq, NULL, 0, b, n, indirect, gpa);
	return kt_vq_add(vq, b, n, NULL, 0, indirect, gpa);
}

/* Whether the guest spins on the used ring instead of waiting for calls. */
static bool nb_spins(const struct nb_qp *qp)
{
	return qp->run->model->poll || opts.guest_poll;
}

static int nb_guest_tx(struct nb_qp *qp)
{
	struct kt_vq *vq = &qp->dev.vq[KT_TXQ];
	struct kt_mem *mem = &qp->dev.mem;
	size_t off = qp->run->model->indirect ? NB_DATA_OFF : NB_HDR_LEN;
	uint16_t outstanding;
	uint64_t token, gpa;
	unsigned int i, n;
	uint8_t *p;
	int r;

	for (i = 0; i < vq->num; i++) {
		gpa = kt_mem_alloc(mem, NB_BUF_SIZE, 64);
		if (!gpa)
			return -ENOMEM;
		p = kt_gpa(mem, gpa);
		memset(p, 0, NB_HDR_LEN);
		memcpy(p + off, qp->run->frame, qp->run->frame_len);
		if (nb_post(qp, vq, gpa) < 0)
			return -ENOSPC;
	}
	kt_vq_kick(vq);

	while (!nb_stopped()) {
		n = 0;
		while ((r = kt_vq_get_used(vq, NULL, NULL, &token)) == 1) {
			if (nb_post(qp, vq, token) < 0)
				return -ENOSPC;
			n++;
		}
		if (r < 0)
			return r;
		if (n) {
			nb_add(&qp->frames, n);
			nb_kick_if_needed(qp, vq);
			continue;
		}
		if (nb_spins(qp))
			continue;
		/*
		 * Ring full: ask for a call when 3/4 of it completed, as
		 * virtqueue_enable_cb_delayed() does, then re-check.
		 */
		outstanding = vq->avail_idx - vq->last_used;
		kt_vq_set_used_event(vq, vq->last_used +
				     (uint16_t)(outstanding * 3 / 4));
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (kt_vq_used_pending(vq))
			continue;
		nb_wait_call(qp, vq);
	}
	return 0;
}

static int nb_guest_rx(struct nb_qp *qp)
{
	struct kt_vq *vq = &qp->dev.vq[KT_RXQ];
	const struct virtio_net_hdr_mrg_rxbuf *hdr;
	size_t want = NB_HDR_LEN + qp->run->frame_len;
	unsigned int i, n, more = 0;
	uint64_t token, pkts, gpa;
	uint32_t len;
	int r;

	for (i = 0; i < vq->num; i++) {
		gpa = kt_mem_alloc(&qp->dev.mem, NB_BUF_SIZE, 64);
		if (!gpa)
			return -ENOMEM;
		if (nb_post(qp, vq, gpa) < 0)
			return -ENOSPC;
	}
	kt_vq_kick(vq);

	while (!nb_stopped()) {
		n = 0;
		pkts = 0;
		while ((r = kt_vq_get_used(vq, NULL, &len, &token)) == 1) {
			if (more) {
				/* A later buffer of a merged packet. */
				more--;
			} else {
				hdr = kt_gpa(&qp->dev.mem, token);
				if (len != want || hdr->num_buffers != 1) {
					nb_add(&qp->bad, 1);
					if (hdr->num_buffers > 1 &&
					    hdr->num_buffers <= vq->num)
						more = hdr->num_buffers - 1;
				}
				pkts++;
			}
			if (nb_post(qp, vq, token) < 0)
				return -ENOSPC;
			n++;
		}
		if (r < 0)
			return r;
		if (n) {
			nb_add(&qp->frames, pkts);
			nb_kick_if_needed(qp, vq);
			continue;
		}
		if (nb_spins(qp))
			continue;
		/* Nothing received: a call at the next packet. */
		kt_vq_set_used_event(vq, vq->last_used);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (kt_vq_used_pending(vq))
			continue;
		nb_wait_call(qp, vq);
	}
	return 0;
}

/*
 * A queue pair's guest: pair N on CPU N, its worker on the next CPU, so
 * that with one pair the guest has CPU 0 and the worker CPU 1, and with
 * two each CPU holds one guest and the other pair's worker.
 */
static int nb_guest(struct nb_qp *qp)
{
	int r;

	qp->guest_tid = nb_gettid();
	nb_pin(0, qp->index % 2);
	if (qp->run->cell->dir == NB_RX)
		r = nb_guest_rx(qp);
	else
		r = nb_guest_tx(qp);
	if (r < 0) {
		qp->err = r;
		nb_stop_all();
	}
	return r;
}

static void *nb_guest_thread(void *arg)
{
	nb_guest(arg);
	return NULL;
}

/* -------------------------------------------------------- measurements */

/*
 * The tap carries the 12-byte header, as QEMU sets it up; with several
 * queue pairs it is a multiqueue tap with a queue (an fd) per pair.
 */
static int nb_tap(struct nb_run *run)
{
	unsigned int q, nq = run->model->nqp;
	int fd;

	if ((nq > 1 ? kt_tap_create_mq(&run->tap, NB_TAP, NB_HDR_LEN, NULL) :
	     kt_tap_create(&run->tap, NB_TAP, NB_HDR_LEN, NULL)) != KT_PASS)
		return -ENODEV;
	run->qp[0].tapfd = run->tap.fd;
	/*
	 * The generator alone gets every queue too: pktgen spreads its
	 * frames over as many queues as tun has attached.
	 */
	for (q = 1; q < nq; q++) {
		fd = kt_tap_queue(&run->tap);
		if (fd < 0)
			return fd;
		run->qp[q].tapfd = fd;
	}
	return 0;
}

/*
 * Queue pair q's device as endpoint q + 1 of a kvio-iommu, attached to
 * domain 1, which maps all guest RAM at IOVA = GPA: the guest keeps using
 * guest-physical addresses, the device translates each one through the
 * domain.  Every pair's guest RAM sits at the same GPA, so one mapping
 * serves them all.  The vIOMMU stays open until the measuring process
 * exits.
 */
static int nb_viommu(struct nb_qp *qp)
{
	static struct kt_iommu io;
	const struct kt_mem *m = &qp->dev.mem;
	uint32_t ep = qp->index + 1;
	int r = 0;

	if (!qp->index)
		r = kt_iommu_open(&io, 16);
	if (!r)
		r = kt_iommu_bind(&io, ep, qp->dev.fd);
	if (!r)
		r = kt_iommu_attach(&io, 1, ep) ? -EPROTO : 0;
	if (!r && !qp->index)
		r = kt_iommu_map(&io, 1, m->gpa, m->gpa + m->size - 1, m->gpa,
				 VIRTIO_IOMMU_MAP_F_READ |
				 VIRTIO_IOMMU_MAP_F_WRITE) ? -EPROTO : 0;
	return r;
}

/* Open and set up queue pair qp on device d, attached to its tap queue. */
static void nb_qp_setup(struct nb_qp *qp, const struct nb_dev *d)
{
	const struct nb_model *m = qp->run->model;
	struct nb_result *res = qp->run->res;
	unsigned int ring = opts.ring_set || !m->ring ? opts.ring : m->ring;
	pid_t known[NB_MAX_QP];
	unsigned int q;
	int r, i;

	r = kt_dev_open(&qp->dev, d->path);
	if (r)
		return nb_err(res, "open %s: %s", d->path, strerror(-r));
	r = kt_dev_setup(&qp->dev, m->features | (d->viommu ?
			 1ULL << VIRTIO_F_ACCESS_PLATFORM : 0));
	if (r)
		return nb_err(res, "device setup: %s", kt_errname(-r));
	if (d->viommu) {
		r = nb_viommu(qp);
		if (r)
			return nb_err(res, "vIOMMU: %s", kt_errname(-r));
	}
	for (i = 0; i < 2; i++) {
		r = kt_vq_setup(&qp->dev, i, ring, 0);
		if (r)
			return nb_err(res, "ring %d: %s", i, kt_errname(-r));
		/* The polling guest's one and only word about calls. */
		if (m->poll)
			kt_vq_no_interrupt(&qp->dev.vq[i], true);
	}
	for (i = 0; i < 2; i++) {
		r = kt_net_backend(&qp->dev, i, qp->tapfd);
		if (r)
			return nb_err(res, "SET_BACKEND %d: %s", i,
				      kt_errname(-r));
	}
	for (q = 0; q < qp->index; q++)
		known[q] = qp->run->qp[q].worker;
	qp->worker = nb_find_worker(getpid(), known, qp->index);
	if (qp->worker)
		nb_pin(qp->worker, (qp->index + 1) % 2);
}

/*
 * The measuring child: one model, one device (NULL: the generator alone),
 * one cell.
 */
static void nb_measure(const struct nb_model *m, const struct nb_dev *d,
		       const struct nb_cell *cell, struct nb_result *res)
{
	static struct nb_run run;
	pthread_t clock_th, gen_th, guest_th[NB_MAX_QP];
	unsigned int q, nth = 1;
	int r;

	memset(res, 0, sizeof(*res));
	res->ok = 1;
	run.model = m;
	run.cell = cell;
	run.res = res;
	run.psock = -1;
	run.nqp = d ? m->nqp : 0;
	for (q = 0; q < NB_MAX_QP; q++) {
		run.qp[q].run = &run;
		run.qp[q].index = q;
		run.qp[q].dev.fd = -1;
		run.qp[q].tapfd = -1;
	}
	run.qp[0].guest_tid = nb_gettid();
	nb_pin(0, 0);

	r = nb_tap(&run);
	if (r)
		return nb_err(res, "tap: cannot create one (tun loaded? root?): %s",
			      strerror(-r));
	if (cell->dir == NB_TX)
		run.frame_len = kt_frame_test(run.frame, nb_nobody_mac,
					      kt_guest_mac,
					      cell->frame_len - 14, 1);
	else
		run.frame_len = kt_frame_test(run.frame, kt_guest_mac,
					      run.tap.mac,
					      cell->frame_len - 14, 2);

	for (q = 0; q < run.nqp; q++) {
		nb_qp_setup(&run.qp[q], d);
		if (!res->ok)
			return;
	}
	if (cell->dir == NB_RX) {
		r = nb_gen_prepare(&run);
		if (r)
			return nb_err(res, "%s generator: %s", nb_gen_name(),
				      strerror(-r));
	}

	if (pthread_create(&clock_th, NULL, nb_clock_thread, &run))
		return nb_err(res, "pthread_create failed");
	if (cell->dir == NB_RX && nb_gen_start(&run, &gen_th)) {
		nb_stop_all();
		pthread_join(clock_th, NULL);
		return nb_err(res, "pthread_create failed");
	}
	/* Pair 0's guest is this thread, every other pair's a thread. */
	for (; nth < run.nqp; nth++) {
		if (pthread_create(&guest_th[nth], NULL, nb_guest_thread,
				   &run.qp[nth])) {
			nb_err(res, "pthread_create failed");
			nb_stop_all();
			break;
		}
	}
	if (run.nqp && res->ok)
		nb_guest(&run.qp[0]);
	for (q = 1; q < nth; q++)
		pthread_join(guest_th[q], NULL);
	for (q = 0; q < run.nqp; q++)
		if (run.qp[q].err)
			nb_err(res, "guest driver %u: %s", q,
			       kt_errname(-run.qp[q].err));
	pthread_join(clock_th, NULL);
	if (run.gen_started)
		pthread_join(gen_th, NULL);
	if (!d) {
		/* The generator alone: what reached tun is its rate. */
		res->frames = res->offered;
	}
	if (res->ok && !res->frames)
		nb_err(res, "no frame went through");
	/* The process exits right after: the kernel closes everything. */
}

/* Fork, measure in the child, return its result. */
static void nb_run_child(const struct nb_model *m, const struct nb_dev *d,
			 const struct nb_cell *cell, struct nb_result *res)
{
	unsigned int limit = (opts.warmup_ms + opts.time_ms) / 1000 + 30;
	struct nb_result r;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->ok = 1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return nb_err(res, "pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return nb_err(res, "fork: %s", strerror(errno));
	}
	if (!pid) {
		close(p[0]);
		/* A hung device must not hang the benchmark. */
		alarm(limit);
		nb_measure(m, d, cell, &r);
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
			return nb_err(res, "measuring process killed by signal %d%s",
				      WTERMSIG(status),
				      WTERMSIG(status) == SIGALRM ?
				      " (timed out)" : "");
		return nb_err(res, "measuring process exited with status %d",
			      WEXITSTATUS(status));
	}
	*res = r;
}

/* ---------------------------------------------------------- reporting */

static double nb_pps(const struct nb_result *r)
{
	return r->ok && r->secs > 0 ? r->frames / r->secs : 0;
}

static double nb_get_worker(const struct nb_result *r)
{
	return r->worker_cpu * 100;
}

static double nb_get_guest(const struct nb_result *r)
{
	return r->guest_cpu * 100;
}

static double nb_get_gen(const struct nb_result *r)
{
	return r->gen_cpu * 100;
}

static double nb_get_worker_wait(const struct nb_result *r)
{
	return r->worker_wait * 100;
}

static double nb_get_guest_wait(const struct nb_result *r)
{
	return r->guest_wait * 100;
}

/*
 * The worker's CPU time per frame (microseconds): what the device costs,
 * whether or not it was the bottleneck of the run.
 */
static double nb_get_worker_us(const struct nb_result *r)
{
	return r->frames ? r->worker_cpu * r->secs * 1e6 / r->frames : 0;
}

static double nb_get_sleeps(const struct nb_result *r)
{
	return r->frames ? 1000.0 * r->worker_sleeps / r->frames : 0;
}

static double nb_get_offered(const struct nb_result *r)
{
	return r->secs > 0 ? r->offered / r->secs : 0;
}

static double nb_get_drop(const struct nb_result *r)
{
	return r->secs > 0 ? r->tap_drops / r->secs : 0;
}

static double nb_get_calls(const struct nb_result *r)
{
	return r->frames ? 1000.0 * r->calls / r->frames : 0;
}

static double nb_get_kicks(const struct nb_result *r)
{
	return r->frames ? 1000.0 * r->kicks / r->frames : 0;
}

static int nb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of the successful runs' field; -1 if none succeeded. */
static double nb_median(const struct nb_result *rs, unsigned int n,
			double (*get)(const struct nb_result *))
{
	double v[NB_MAX_ROUNDS];
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		if (rs[i].ok)
			v[k++] = get(&rs[i]);
	if (!k)
		return -1;
	qsort(v, k, sizeof(v[0]), nb_cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

static void nb_print_run(const struct nb_model *m, unsigned int round,
			 const struct nb_cell *c, const struct nb_dev *d,
			 const struct nb_result *r)
{
	const char *name = d ? d->name : "generator";

	if (!r->ok) {
		printf("# round %u %-8s %-6s %-10s FAILED: %s\n", round,
		       m->name, c->name, name, r->err);
		fflush(stdout);
		return;
	}
	printf("# round %u %-8s %-6s %-10s %8.0f pps %6.3f Gbit/s  cpu%%: worker %.0f+%.0f guest %.0f+%.0f gen %.0f",
	       round, m->name, c->name, name, nb_pps(r),
	       nb_pps(r) * c->frame_len * 8 / 1e9, nb_get_worker(r),
	       nb_get_worker_wait(r), nb_get_guest(r), nb_get_guest_wait(r),
	       nb_get_gen(r));
	if (d && c->dir == NB_RX)
		printf("  offered %.0f/s tun-drop %.0f/s", nb_get_offered(r),
		       nb_get_drop(r));
	if (d)
		printf("  per kpkt: calls %.1f kicks %.1f worker sleeps %.1f",
		       nb_get_calls(r), nb_get_kicks(r), nb_get_sleeps(r));
	if (r->bad)
		printf("  BAD %llu", (unsigned long long)r->bad);
	printf("\n");
	fflush(stdout);
}

static void nb_usage(FILE *f)
{
	fprintf(f,
		"usage: net-bench [--dev PATH]... [--rounds N] [--warmup MS] [--time MS]\n"
		"                 [--ring N] [--cells tx64,tx1500,rx64,rx1500]\n"
		"                 [--model linux,poll,indirect,mq|all]\n"
		"                 [--gen pktgen|packet] [--gen-all-cpus] [--guest-poll]\n"
		"                 [--no-pin]\n"
		"--model: the guest models to measure, each with its own tables (default\n"
		"linux): linux (EVENT_IDX, waits for calls), poll (no EVENT_IDX,\n"
		"NO_INTERRUPT, spins on the used ring, ring 256), indirect (every buffer\n"
		"a 2-entry indirect table), mq (2 queue pairs on a multiqueue tap).\n"
		"--ring: the rings of every model (default 1024, poll's 256).\n"
		"Default devices: /dev/kvio-net then /dev/vhost-net; the ratio column is\n"
		"the first device over the last.  PATH+viommu (e.g. /dev/kvio-net+viommu):\n"
		"the device behind a kvio-iommu domain that maps all guest RAM at\n"
		"IOVA = GPA.  Run as root in the test VM with tun,\n"
		"vhost_net, kvio_net (and pktgen for the default RX generator) loaded.\n"
		"--guest-poll: the guest spins on the used ring instead of waiting for\n"
		"calls (shows the device's own ceiling).  --no-pin: leave the guest\n"
		"and the worker where the scheduler puts them (default: CPU 0 and 1).\n"
		"--gen-all-cpus: with pktgen and pinning, a pktgen thread on every CPU\n"
		"(default: CPU 0's only, so it never runs on the worker's CPU; at\n"
		"SCHED_IDLE it only takes what the worker leaves idle).\n");
}

static const char *nb_cell_name(unsigned int i)
{
	return nb_cells[i].name;
}

static const char *nb_model_name(unsigned int i)
{
	return nb_models[i].name;
}

/*
 * --cells and --model: a comma-separated list of names into @sel[0..@n-1]
 * (entry i is called name(i)); with @all, "all" selects every entry.
 * -1 for an unknown name.
 */
static int nb_parse_list(const char *s, const char *what, unsigned int n,
			 const char *(*name)(unsigned int), bool all, bool *sel)
{
	char *copy = strdup(s), *tok, *save = NULL;
	unsigned int i;
	bool found;

	if (!copy)
		return -1;
	memset(sel, 0, n * sizeof(*sel));
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		found = false;
		for (i = 0; i < n; i++) {
			if (!strcmp(tok, name(i)) || (all && !strcmp(tok, "all"))) {
				sel[i] = true;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "net-bench: unknown %s %s\n", what, tok);
			free(copy);
			return -1;
		}
	}
	free(copy);
	return 0;
}

static const char *nb_dev_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

/* "PATH" or "PATH+viommu". */
static void nb_dev_parse(struct nb_dev *d, const char *arg)
{
	const char *plus = strstr(arg, "+viommu");

	memset(d, 0, sizeof(*d));
	d->name = nb_dev_name(arg);
	d->path = arg;
	if (plus && !plus[7]) {
		snprintf(d->buf, sizeof(d->buf), "%.*s", (int)(plus - arg),
			 arg);
		d->path = d->buf;
		d->viommu = true;
	}
}

/* The fastest of the rounds (packets/s); > 0 when nb_print_ratio() calls. */
static double nb_best(const struct nb_result *r, unsigned int n)
{
	double best = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (nb_pps(&r[i]) > best)
			best = nb_pps(&r[i]);
	return best;
}

/*
 * The ratio of a cell: per round a / b (the two ran back to back, under
 * the same conditions), then the median and the spread over the rounds.
 */
static void nb_print_ratio(const struct nb_result *a,
			   const struct nb_result *b, unsigned int n)
{
	double v[NB_MAX_ROUNDS];
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		if (nb_pps(&a[i]) > 0 && nb_pps(&b[i]) > 0)
			v[k++] = nb_pps(&a[i]) / nb_pps(&b[i]);
	if (!k) {
		printf(" | %5s", "-");
		return;
	}
	qsort(v, k, sizeof(v[0]), nb_cmp_double);
	printf(" | %5.2f (%.2f-%.2f)",
	       k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2, v[0],
	       v[k - 1]);
	/*
	 * Best over best: another load on the machine only ever slows a run
	 * down, so each device's fastest round is the one least disturbed.
	 */
	printf(" %5.2f", nb_best(a, n) / nb_best(b, n));
}

static void nb_print_tables(const struct nb_model *m,
			    const struct nb_dev *devs, unsigned int ndevs,
			    struct nb_result res[][NB_MAX_DEVS][NB_MAX_ROUNDS],
			    const struct nb_result *gen)
{
	unsigned int c, k, n = opts.rounds;
	double v;

	printf("\n== model %s (%s): %u queue pair(s), rings of %u\n",
	       m->name, m->what, m->nqp,
	       opts.ring_set || !m->ring ? opts.ring : m->ring);
	printf("\nMedians of %u run(s) of %.1f s; Gbit/s counts Ethernet frame bytes (no FCS,\nno vnet header).  ratio: %s / %s, each round's pair of back-to-back\nruns divided, the median of those (min-max in brackets); best: the fastest\nround of one over the fastest of the other.\n\n",
	       n, opts.time_ms / 1000.0, devs[0].name, devs[ndevs - 1].name);
	printf("%-3s %5s", "dir", "frame");
	for (k = 0; k < ndevs; k++)
		printf(" | %-9s %8s %7s", devs[k].name, "pps", "Gbit/s");
	if (ndevs > 1)
		printf(" | ratio (min-max)    best");
	printf("\n");
	for (c = 0; c < NB_NCELLS; c++) {
		if (!opts.cells[c])
			continue;
		printf("%-3s %5u", nb_cells[c].dir == NB_TX ? "TX" : "RX",
		       nb_cells[c].frame_len);
		for (k = 0; k < ndevs; k++) {
			v = nb_median(res[c][k], n, nb_pps);
			if (v < 0)
				printf(" | %-9s %8s %7s", "", "failed", "-");
			else
				printf(" | %-9s %8.0f %7.3f", "", v,
				       v * nb_cells[c].frame_len * 8 / 1e9);
		}
		if (ndevs > 1)
			nb_print_ratio(res[c][0], res[c][ndevs - 1], n);
		printf("\n");
	}

	printf("\nWhere the time went (medians).  CPU: %% of one CPU (%ld in all) running, and\n+wait: runnable but not running.  us/fr: the worker's CPU time per frame in\nmicroseconds.  Per 1000 frames: guest calls, guest kicks,\nworker sleeps.  RX offered: frames the generator got to tun, drop: tun's\nqueue was full (the generator was ahead).\n\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-6s %-10s %6s %5s %5s %5s %5s %5s %6s %6s %6s %9s %9s\n",
	       "cell", "device", "worker", "+wait", "us/fr", "guest", "+wait",
	       "gen",
	       "calls", "kicks", "sleeps", "offered/s", "drop/s");
	for (c = 0; c < NB_NCELLS; c++) {
		if (!opts.cells[c])
			continue;
		for (k = 0; k < ndevs; k++) {
			printf("%-6s %-10s %6.0f %5.0f %5.2f %5.0f %5.0f %5.0f %6.1f %6.1f %6.1f",
			       nb_cells[c].name, devs[k].name,
			       nb_median(res[c][k], n, nb_get_worker),
			       nb_median(res[c][k], n, nb_get_worker_wait),
			       nb_median(res[c][k], n, nb_get_worker_us),
			       nb_median(res[c][k], n, nb_get_guest),
			       nb_median(res[c][k], n, nb_get_guest_wait),
			       nb_median(res[c][k], n, nb_get_gen),
			       nb_median(res[c][k], n, nb_get_calls),
			       nb_median(res[c][k], n, nb_get_kicks),
			       nb_median(res[c][k], n, nb_get_sleeps));
			if (nb_cells[c].dir == NB_RX)
				printf(" %9.0f %9.0f",
				       nb_median(res[c][k], n, nb_get_offered),
				       nb_median(res[c][k], n, nb_get_drop));
			printf("\n");
		}
		if (nb_cells[c].dir == NB_RX && gen[c].ok)
			printf("%-6s %-10s %6s %5s %5s %5s %5s %5.0f %6s %6s %6s %9.0f\n",
			       nb_cells[c].name, "gen alone", "", "", "", "", "",
			       nb_get_gen(&gen[c]), "", "", "", nb_pps(&gen[c]));
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "time", required_argument, NULL, 't' },
		{ "ring", required_argument, NULL, 'n' },
		{ "cells", required_argument, NULL, 'c' },
		{ "model", required_argument, NULL, 'm' },
		{ "gen", required_argument, NULL, 'g' },
		{ "guest-poll", no_argument, NULL, 'p' },
		{ "no-pin", no_argument, NULL, 'P' },
		{ "gen-all-cpus", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct nb_result res[NB_NMODELS][NB_NCELLS][NB_MAX_DEVS][NB_MAX_ROUNDS];
	static struct nb_result gen[NB_NMODELS][NB_NCELLS];
	struct nb_dev devs[NB_MAX_DEVS];
	unsigned int ndevs = 0, i, k, c, m, round, failures = 0;
	const struct nb_model *model;
	bool gen_asked = false;
	double t_start = nb_now();
	int o;

	for (i = 0; i < NB_NCELLS; i++)
		opts.cells[i] = true;
	opts.models[0] = true;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'd':
			if (ndevs == NB_MAX_DEVS) {
				fprintf(stderr, "net-bench: at most %d devices\n",
					NB_MAX_DEVS);
				return 2;
			}
			nb_dev_parse(&devs[ndevs], optarg);
			ndevs++;
			break;
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
			opts.ring_set = true;
			break;
		case 'c':
			if (nb_parse_list(optarg, "cell", NB_NCELLS, nb_cell_name,
					  false, opts.cells))
				return 2;
			break;
		case 'm':
			if (nb_parse_list(optarg, "model", NB_NMODELS, nb_model_name,
					  true, opts.models))
				return 2;
			break;
		case 'g':
			gen_asked = true;
			if (!strcmp(optarg, "pktgen")) {
				opts.gen = NB_GEN_PKTGEN;
			} else if (!strcmp(optarg, "packet")) {
				opts.gen = NB_GEN_PACKET;
			} else {
				nb_usage(stderr);
				return 2;
			}
			break;
		case 'p':
			opts.guest_poll = true;
			break;
		case 'P':
			opts.pin = false;
			break;
		case 'A':
			opts.gen_all_cpus = true;
			break;
		case 'h':
			nb_usage(stdout);
			return 0;
		default:
			nb_usage(stderr);
			return 2;
		}
	}
	if (!opts.rounds || opts.rounds > NB_MAX_ROUNDS || !opts.time_ms ||
	    opts.warmup_ms > 60000 || opts.time_ms > 60000 ||
	    !opts.ring || opts.ring > 1024 || (opts.ring & (opts.ring - 1))) {
		fprintf(stderr, "net-bench: rounds 1..%d, warm-up and time <= 60000 ms, ring a power of two <= 1024\n",
			NB_MAX_ROUNDS);
		return 2;
	}
	if (!ndevs) {
		devs[0] = (struct nb_dev){ "/dev/kvio-net", "kvio-net" };
		devs[1] = (struct nb_dev){ "/dev/vhost-net", "vhost-net" };
		ndevs = 2;
	}
	for (k = 0; k < ndevs; k++) {
		if (access(devs[k].path, R_OK | W_OK)) {
			fprintf(stderr, "net-bench: %s: %s\n", devs[k].path,
				strerror(errno));
			return 2;
		}
	}
	if (opts.gen == NB_GEN_PKTGEN && access(NB_PKTGEN "/pgctrl", W_OK)) {
		if (gen_asked) {
			fprintf(stderr, "net-bench: no pktgen (modprobe pktgen)\n");
			return 2;
		}
		opts.gen = NB_GEN_PACKET;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		opts.pin = false;
	/* The children's pktgen writes must not die of a closed pipe. */
	signal(SIGPIPE, SIG_IGN);

	printf("# net-bench: %u round(s) of %u ms after %u ms warm-up; %ld CPUs;\n# RX generator %s (SCHED_IDLE%s, normal priority with the poll model); %s\n",
	       opts.rounds, opts.time_ms, opts.warmup_ms,
	       sysconf(_SC_NPROCESSORS_ONLN), nb_gen_name(),
	       opts.gen == NB_GEN_PACKET || !opts.pin ? "" :
	       opts.gen_all_cpus ? ", every CPU" : ", CPU 0",
	       opts.pin ? "guest N and worker N+1 on CPU N and N+1 mod 2" :
	       "nothing pinned");
	for (m = 0; m < NB_NMODELS; m++)
		if (opts.models[m])
			printf("# model %-8s %s; rings of %u%s\n",
			       nb_models[m].name, nb_models[m].what,
			       opts.ring_set || !nb_models[m].ring ? opts.ring :
			       nb_models[m].ring,
			       opts.guest_poll && !nb_models[m].poll ?
			       ", but it polls (--guest-poll)" : "");

	/*
	 * One model after the other, each with its tables as soon as its
	 * rounds are done.
	 */
	for (m = 0; m < NB_NMODELS; m++) {
		if (!opts.models[m])
			continue;
		model = &nb_models[m];
		/* The RX generator's own ceiling, once per frame size. */
		for (c = 0; c < NB_NCELLS; c++) {
			if (!opts.cells[c] || nb_cells[c].dir != NB_RX)
				continue;
			nb_run_child(model, NULL, &nb_cells[c], &gen[m][c]);
			nb_print_run(model, 0, &nb_cells[c], NULL, &gen[m][c]);
		}

		for (round = 0; round < opts.rounds; round++) {
			for (c = 0; c < NB_NCELLS; c++) {
				if (!opts.cells[c])
					continue;
				for (i = 0; i < ndevs; i++) {
					/*
					 * Alternate who goes first: order
					 * effects (warm caches, drift)
					 * cancel out.
					 */
					k = (round + c) % 2 ? ndevs - 1 - i : i;
					nb_run_child(model, &devs[k],
						     &nb_cells[c],
						     &res[m][c][k][round]);
					nb_print_run(model, round + 1,
						     &nb_cells[c], &devs[k],
						     &res[m][c][k][round]);
					if (!res[m][c][k][round].ok)
						failures++;
				}
			}
		}
		nb_print_tables(model, devs, ndevs, res[m], gen[m]);
	}
	printf("\nnet-bench: %u failed run(s), %.0f s in all\n", failures,
	       nb_now() - t_start);
	return failures ? 1 : 0;
}
