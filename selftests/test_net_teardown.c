// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_net_teardown: taking a vhost-net device apart while traffic flows.
 *
 * A pump thread keeps the guest side busy (posting TX frames, injecting RX
 * frames and refilling RX buffers) while the main thread closes the device,
 * resets its owner, or detaches a backend.  Every such call must return
 * promptly, leave no reference to the tap behind, and leave the rings in a
 * state the driver can account for.  Then devices are opened and closed by
 * the hundred.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt.h"

#define F(bit) (1ULL << (bit))
#define FEAT (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF))
#define NUM 64
#define WAIT_MS 2000
#define CALL_MS 10000	/* an ioctl or close() taking longer is hung */
#define RUN_MS 300	/* traffic before the teardown call */

enum { PUMP_TX = 1, PUMP_RX = 2 };

struct pump {
	struct kt_net *n;
	int dirs;
	int stop;
	int failed;
	unsigned long tx_posted, tx_done, rx_injected, rx_done;
	pthread_t th;
};

static void pump_tx(struct pump *p)
{
	struct kt_net *n = p->n;
	struct kt_vq *vq = &n->dev.vq[KT_TXQ];
	uint8_t frame[400];
	uint64_t token;
	size_t len;
	int r, i;

	while ((r = kt_vq_get_used(vq, NULL, NULL, &token)) == 1) {
		kt_pool_put(&n->txpool, token);
		p->tx_done++;
	}
	if (r < 0)
		p->failed = 1;
	for (i = 0; i < 8 && vq->num_free; i++) {
		len = kt_frame_test(frame, n->tap.mac, kt_guest_mac,
				    60 + (p->tx_posted % 300), p->tx_posted);
		if (kt_net_tx(n, frame, len, false) < 0)
			break;
		p->tx_posted++;
	}
}

static void pump_rx(struct pump *p)
{
	struct kt_net *n = p->n;
	struct kt_vq *vq = &n->dev.vq[KT_RXQ];
	uint8_t frame[400];
	uint64_t token;
	size_t len;
	int r, refill = 0;

	while ((r = kt_vq_get_used(vq, NULL, NULL, &token)) == 1) {
		kt_pool_put(&n->rxpool, token);
		p->rx_done++;
		refill++;
	}
	if (r < 0)
		p->failed = 1;
	if (refill)
		kt_net_rx_post(n, refill, false);
	len = kt_frame_test(frame, kt_guest_mac, n->tap.mac,
			    60 + (p->rx_injected % 300), p->rx_injected);
	if (kt_packet_send(n->psock, n->tap.ifindex, frame, len) == 0)
		p->rx_injected++;
}

static void *pump_thread(void *arg)
{
	struct pump *p = arg;
	unsigned long rounds = 0;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		if (p->dirs & PUMP_TX)
			pump_tx(p);
		if (p->dirs & PUMP_RX)
			pump_rx(p);
		/* Two cores shared with the device's worker: breathe. */
		if (++rounds % 4 == 0)
			kt_sleep_ms(1);
		else
			sched_yield();
	}
	return NULL;
}

static int pump_start(struct pump *p, struct kt_net *n, int dirs)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->dirs = dirs;
	if (dirs & PUMP_RX && kt_net_rx_post(n, NUM, false))
		return kt_fail("posting RX buffers");
	if (pthread_create(&p->th, NULL, pump_thread, p))
		return kt_fail("pthread_create");
	kt_sleep_ms(RUN_MS);
	return KT_PASS;
}

static int pump_stop(struct pump *p)
{
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
	pthread_join(p->th, NULL);
	kt_diag("traffic: TX %lu posted %lu completed, RX %lu injected %lu received",
		p->tx_posted, p->tx_done, p->rx_injected, p->rx_done);
	if (p->failed)
		return kt_fail("the device wrote a bad used entry during the teardown");
	return KT_PASS;
}

static int close_during(const struct kt_target *t, int dirs)
{
	struct kt_net n;
	struct pump p;
	long ret;
	int fd, r;

	r = kt_net_open(&n, t, FEAT, NUM, 1536, 0);
	if (r != KT_PASS)
		return r;
	KT_TRY(pump_start(&p, &n, dirs));
	fd = n.dev.fd;
	n.dev.fd = -1;
	KT_TRY(kt_close_timed("close() of the device", CALL_MS, fd, &ret));
	KT_ASSERT(ret == 0, "close: %m");
	/* The pump keeps kicking a device that is gone: harmless. */
	kt_sleep_ms(100);
	KT_TRY(pump_stop(&p));
	KT_ASSERT(dirs != PUMP_TX || p.tx_done > 0, "no TX traffic before the close");
	KT_ASSERT(dirs != PUMP_RX || p.rx_done > 0, "no RX traffic before the close");
	KT_TRY(kt_net_tap_gone(&n, WAIT_MS));
	kt_net_close(&n);
	return KT_PASS;
}

static int case_close_tx(const struct kt_target *t)
{
	return close_during(t, PUMP_TX);
}

static int case_close_rx(const struct kt_target *t)
{
	return close_during(t, PUMP_RX);
}

static int case_close_both(const struct kt_target *t)
{
	return close_during(t, PUMP_TX | PUMP_RX);
}

static void ring_state(struct kt_net *n, int q)
{
	struct kt_vq *vq = &n->dev.vq[q];

	kt_diag("ring %d: avail idx %u, used idx %u, driver read %u, %u descriptors free, used flags 0x%x",
		q, vq->avail_idx, kt_vq_used_idx(vq), vq->last_used,
		vq->num_free, vq->used->flags);
}

/* Wait for every outstanding TX buffer to complete. */
static int tx_drain(struct kt_net *n)
{
	struct kt_vq *vq = &n->dev.vq[KT_TXQ];
	unsigned int out = vq->num - vq->num_free;
	int r;

	kt_vq_kick(vq);
	r = kt_net_tx_reap(n, out, WAIT_MS * 2);
	if (r != KT_PASS)
		ring_state(n, KT_TXQ);
	return r;
}

/* One TX frame end to end, after draining what the pump left behind. */
static int send_check(struct kt_net *n, uint32_t seed)
{
	uint8_t frame[256], got[2048];
	size_t len;
	unsigned int skipped;
	uint32_t got_seed;
	ssize_t g;

	/* Pump frames carry seeds 0, 1, 2, ...: stay clear of them. */
	seed |= 0x80000000u;
	len = kt_frame_test(frame, n->tap.mac, kt_guest_mac, 120, seed);
	KT_TRY(tx_drain(n));
	/* Empty the packet socket first: with its queue full of the pump's
	 * frames, ours would be dropped there, not by the device. */
	while (kt_packet_recv(n->psock, got, sizeof(got), 0, 100) > 0)
		;
	KT_ASSERT(kt_net_tx(n, frame, len, false) >= 0, "tx");
	/* Frames of the interrupted traffic may still be queued: skip them. */
	for (skipped = 0;; skipped++) {
		g = kt_packet_recv(n->psock, got, sizeof(got), KT_ETH_P_TEST,
				   WAIT_MS);
		if (g <= 0) {
			ring_state(n, KT_TXQ);
			kt_diag("%u older frames skipped", skipped);
		}
		KT_ASSERT(g > 0, "frame 0x%x did not appear on the tap", seed);
		if (g == (ssize_t)len && !memcmp(got, frame, len))
			break;
		memcpy(&got_seed, got + 14, 4);
		KT_ASSERT(got_seed != seed,
			  "frame 0x%x arrived altered (length %zd, want %zu)",
			  seed, g, len);
	}
	return kt_net_tx_reap(n, 1, WAIT_MS);
}

static int reconfigure(struct kt_net *n)
{
	int r, i;

	r = kt_dev_setup(&n->dev, FEAT);
	KT_ASSERT(r == 0, "setup after reset: %s", kt_errname(-r));
	for (i = 0; i < 2; i++) {
		r = kt_vq_setup(&n->dev, i, NUM, 0);
		KT_ASSERT(r == 0, "ring %d: %s", i, kt_errname(-r));
	}
	kt_pool_free(&n->txpool);
	kt_pool_free(&n->rxpool);
	KT_ASSERT(kt_pool_init(&n->txpool, &n->dev.mem, NUM, KT_TX_BUF) == 0 &&
		  kt_pool_init(&n->rxpool, &n->dev.mem, NUM, 1536) == 0,
		  "pools");
	for (i = 0; i < 2; i++) {
		r = kt_net_backend(&n->dev, i, n->tap.fd);
		KT_ASSERT(r == 0, "backend %d: %s", i, kt_errname(-r));
	}
	return KT_PASS;
}

static int case_reset_owner_during(const struct kt_target *t)
{
	struct kt_net n;
	struct pump p;
	long ret;
	int r;

	r = kt_net_open(&n, t, FEAT, NUM, 1536, 0);
	if (r != KT_PASS)
		return r;
	KT_TRY(pump_start(&p, &n, PUMP_TX | PUMP_RX));
	KT_TRY(kt_ioctl_timed("RESET_OWNER", CALL_MS, n.dev.fd,
			      VHOST_RESET_OWNER, NULL, &ret));
	KT_ASSERT(ret == 0, "RESET_OWNER: %s", kt_errname(errno));
	kt_sleep_ms(100);
	KT_TRY(pump_stop(&p));
	/* The device dropped its rings and sockets: set up anew, it works. */
	KT_TRY(reconfigure(&n));
	KT_TRY(send_check(&n, 1000));
	kt_dev_close(&n.dev);
	KT_TRY(kt_net_tap_gone(&n, WAIT_MS));
	kt_net_close(&n);
	return KT_PASS;
}

/*
 * Detach one ring's backend (fd -1) under traffic: the call returns, the
 * device stops consuming that ring, every buffer it consumed was completed
 * (GET_VRING_BASE == used->idx), and reattaching resumes where it stopped.
 */
static int detach_during(const struct kt_target *t, int q)
{
	struct vhost_vring_state st;
	struct vhost_vring_file f;
	struct kt_net n;
	struct kt_vq *vq;
	struct pump p;
	uint16_t used1, used2;
	long ret;
	int r;

	r = kt_net_open(&n, t, FEAT, NUM, 1536, 0);
	if (r != KT_PASS)
		return r;
	vq = &n.dev.vq[q];
	KT_TRY(pump_start(&p, &n, q == KT_TXQ ? PUMP_TX : PUMP_RX));
	f.index = q;
	f.fd = -1;
	KT_TRY(kt_ioctl_timed("NET_SET_BACKEND fd -1", CALL_MS, n.dev.fd,
			      VHOST_NET_SET_BACKEND, &f, &ret));
	KT_ASSERT(ret == 0, "detach: %s", kt_errname(errno));
	used1 = kt_vq_used_idx(vq);
	kt_sleep_ms(200);
	used2 = kt_vq_used_idx(vq);
	KT_TRY(pump_stop(&p));
	KT_ASSERT(used1 == used2,
		  "used->idx moved from %u to %u after the backend was detached",
		  used1, used2);
	st.index = q;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_GET_VRING_BASE, &st));
	KT_ASSERT(st.num == used2,
		  "GET_VRING_BASE %u but used->idx %u: consumed buffers never completed",
		  st.num, used2);
	KT_ASSERT(used2 != 0, "no traffic before the detach");
	/* The pump left buffers posted: reattached, the device resumes. */
	r = kt_net_backend(&n.dev, q, n.tap.fd);
	KT_ASSERT(r == 0, "reattach: %s", kt_errname(-r));
	if (q == KT_TXQ) {
		KT_TRY(send_check(&n, 2000));
	} else {
		uint8_t frame[256], got[2048];
		struct virtio_net_hdr_mrg_rxbuf h;
		size_t len;
		ssize_t g;

		/* Drop what queued up meanwhile (refilling as a driver
		 * would); then one frame end to end. */
		while (kt_net_rx_recv(&n, &h, got, sizeof(got), NULL, 300) > 0)
			KT_ASSERT(kt_net_rx_post(&n, 1, false) == 0, "repost");
		len = kt_frame_test(frame, kt_guest_mac, n.tap.mac, 150,
				    0x80000000u);
		KT_ASSERT(kt_packet_send(n.psock, n.tap.ifindex, frame, len) == 0,
			  "inject");
		for (;;) {
			g = kt_net_rx_recv(&n, &h, got, sizeof(got), NULL,
					   WAIT_MS);
			KT_ASSERT(g > 0, "no frame after reattaching");
			if (g == (ssize_t)len && !memcmp(got, frame, len))
				break;
		}
	}
	kt_dev_close(&n.dev);
	KT_TRY(kt_net_tap_gone(&n, WAIT_MS));
	kt_net_close(&n);
	return KT_PASS;
}

static int case_detach_tx(const struct kt_target *t)
{
	return detach_during(t, KT_TXQ);
}

static int case_detach_rx(const struct kt_target *t)
{
	return detach_during(t, KT_RXQ);
}

/* The VMM closes its tap fd first: the device keeps the tap alive and
 * working; the tap goes only when the device closes. */
static int case_tap_closed_first(const struct kt_target *t)
{
	struct kt_net n;
	struct pump p;
	int r, tapfd;

	r = kt_net_open(&n, t, FEAT, NUM, 1536, 0);
	if (r != KT_PASS)
		return r;
	KT_TRY(pump_start(&p, &n, PUMP_TX | PUMP_RX));
	tapfd = n.tap.fd;
	n.tap.fd = -1;
	close(tapfd);
	kt_sleep_ms(RUN_MS);
	KT_ASSERT(if_nametoindex("kttap0") != 0,
		  "the tap vanished while the device still used it");
	KT_TRY(pump_stop(&p));
	KT_TRY(send_check(&n, 4000));
	kt_dev_close(&n.dev);
	KT_TRY(kt_net_tap_gone(&n, WAIT_MS));
	kt_net_close(&n);
	return KT_PASS;
}

/* The owner process dies mid-traffic without closing anything. */
static int case_owner_exits(const struct kt_target *t)
{
	long deadline;
	int status;
	pid_t pid;

	KT_ASSERT(kt_netns_enter() == 0, "netns");
	fflush(stdout);
	pid = fork();
	KT_ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		struct kt_net n;
		struct pump p;

		if (kt_net_open(&n, t, FEAT, NUM, 1536, 0) != KT_PASS ||
		    pump_start(&p, &n, PUMP_TX | PUMP_RX) != KT_PASS)
			_exit(1);
		/* Exit with the pump running and every fd open. */
		fflush(stdout);
		_exit(0);
	}
	deadline = kt_deadline(CALL_MS);
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (kt_now_ms() > deadline) {
			kill(pid, SIGKILL);
			return kt_fail("the owner did not finish exiting within %d ms",
				       CALL_MS);
		}
		kt_sleep_ms(5);
	}
	KT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child setup failed");
	deadline = kt_deadline(WAIT_MS);
	while (if_nametoindex("kttap0")) {
		if (kt_now_ms() > deadline)
			return kt_fail("kttap0 outlived its owner: the device leaked its socket");
		kt_sleep_ms(10);
	}
	return KT_PASS;
}

/* Closing while the device waits for an IOTLB update. */
static int case_close_iotlb_miss(const struct kt_target *t)
{
	const uint64_t feat = F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ACCESS_PLATFORM);
	uint64_t bf = F(VHOST_BACKEND_F_IOTLB_MSG_V2);
	struct vhost_iotlb_msg msg;
	struct kt_tap tap;
	struct kt_dev d;
	struct kt_vq *vq;
	struct kt_buf b;
	long ret;
	int r, fd;

	KT_TRY(kt_tap_create(&tap, "kttap0", 12, NULL));
	r = kt_dev_open(&d, t->path);
	KT_ASSERT(r == 0, "open");
	r = kt_dev_setup(&d, feat);
	KT_ASSERT(r == 0, "setup");
	KT_ERRNO(0, ioctl(d.fd, VHOST_SET_BACKEND_FEATURES, &bf));
	KT_ASSERT(kt_vq_setup(&d, KT_TXQ, NUM, 0) == 0, "ring");
	vq = &d.vq[KT_TXQ];
	/* The rings are mapped, nothing else. */
	KT_ASSERT(!kt_iotlb_msg(&d, 2, VHOST_IOTLB_UPDATE, vq->desc_gpa, 4096,
				(uintptr_t)vq->desc, VHOST_ACCESS_RO) &&
		  !kt_iotlb_msg(&d, 2, VHOST_IOTLB_UPDATE, vq->avail_gpa, 4096,
				(uintptr_t)vq->avail, VHOST_ACCESS_RO) &&
		  !kt_iotlb_msg(&d, 2, VHOST_IOTLB_UPDATE, vq->used_gpa, 4096,
				(uintptr_t)vq->used, VHOST_ACCESS_RW), "map rings");
	KT_ASSERT(kt_net_backend(&d, KT_TXQ, tap.fd) == 0, "backend");
	b.gpa = kt_mem_alloc(&d.mem, 256, 64);
	b.len = 200;
	KT_ASSERT(kt_vq_add(vq, &b, 1, NULL, 0, false, 0) >= 0, "add");
	kt_vq_kick(vq);
	r = kt_iotlb_read(&d, &msg, WAIT_MS);
	KT_ASSERT(r == 1 && msg.type == VHOST_IOTLB_MISS, "no miss (%d)", r);
	/* Another miss pending, unread, then the close. */
	kt_vq_kick(vq);
	fd = d.fd;
	d.fd = -1;
	KT_TRY(kt_close_timed("close() with IOTLB misses pending", CALL_MS, fd,
			      &ret));
	KT_ASSERT(ret == 0, "close");
	kt_dev_close(&d);
	kt_tap_close(&tap);
	return KT_PASS;
}

static int case_open_close_200(const struct kt_target *t)
{
	long t0 = kt_now_ms();
	int i, fd;

	for (i = 0; i < 200; i++) {
		fd = open(t->path, O_RDWR | O_CLOEXEC);
		KT_ASSERT(fd >= 0, "open %d: %m", i);
		KT_ASSERT(close(fd) == 0, "close %d: %m", i);
	}
	kt_diag("200 open/close in %ld ms", kt_now_ms() - t0);
	return KT_PASS;
}

/* 200 times: owner, memory, both rings, tap attached, one frame, close. */
static int case_setup_close_200(const struct kt_target *t)
{
	struct kt_tap tap;
	long t0 = kt_now_ms();
	int i, r, q;

	KT_TRY(kt_tap_create(&tap, "kttap0", 12, NULL));
	for (i = 0; i < 200; i++) {
		struct kt_dev d;

		r = kt_dev_open(&d, t->path);
		KT_ASSERT(r == 0, "open %d", i);
		r = kt_dev_setup(&d, FEAT);
		KT_ASSERT(r == 0, "setup %d: %s", i, kt_errname(-r));
		for (q = 0; q < 2; q++) {
			KT_ASSERT(kt_vq_setup(&d, q, 256, 0) == 0, "ring %d", i);
			r = kt_net_backend(&d, q, tap.fd);
			KT_ASSERT(r == 0, "backend %d: %s", i, kt_errname(-r));
		}
		if (i % 10 == 0) {
			struct kt_buf b;

			b.gpa = kt_mem_alloc(&d.mem, 128, 64);
			b.len = 12 + 60;
			kt_frame_test(kt_gpa(&d.mem, b.gpa + 12), tap.mac,
				      kt_guest_mac, 46, i);
			KT_ASSERT(kt_vq_add(&d.vq[KT_TXQ], &b, 1, NULL, 0,
					    false, 0) >= 0, "add");
			kt_vq_kick(&d.vq[KT_TXQ]);
			KT_ASSERT(kt_vq_wait_used(&d.vq[KT_TXQ], NULL, NULL,
						  NULL, WAIT_MS) == 1,
				  "device %d did not transmit", i);
		}
		kt_dev_close(&d);
	}
	kt_diag("200 full setups in %ld ms", kt_now_ms() - t0);
	kt_tap_close(&tap);
	return KT_PASS;
}

/* 64 devices at once, all owned and attached to one tap, closed in a
 * different order than they were opened. */
static int case_many_at_once(const struct kt_target *t)
{
	const int count = 64;
	struct kt_dev *d = calloc(count, sizeof(*d));
	struct kt_tap tap;
	int i, r;

	KT_TRY(kt_tap_create(&tap, "kttap0", 12, NULL));
	for (i = 0; i < count; i++) {
		r = kt_dev_open(&d[i], t->path);
		KT_ASSERT(r == 0, "open %d", i);
		r = kt_dev_setup(&d[i], FEAT);
		KT_ASSERT(r == 0, "setup %d: %s", i, kt_errname(-r));
		KT_ASSERT(kt_vq_setup(&d[i], KT_RXQ, 64, 0) == 0, "ring %d", i);
		r = kt_net_backend(&d[i], KT_RXQ, tap.fd);
		KT_ASSERT(r == 0, "backend %d: %s", i, kt_errname(-r));
	}
	for (i = 0; i < count; i += 2)
		kt_dev_close(&d[i]);
	for (i = count - 1; i > 0; i -= 2)
		kt_dev_close(&d[i]);
	free(d);
	kt_tap_close(&tap);
	for (i = 0; if_nametoindex("kttap0"); i++) {
		KT_ASSERT(i < 200, "tap still referenced after all %d devices closed",
			  count);
		kt_sleep_ms(10);
	}
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "close the device while TX traffic flows", case_close_tx },
	{ "close the device while RX traffic flows", case_close_rx },
	{ "close the device while traffic flows both ways", case_close_both },
	{ "RESET_OWNER while traffic flows, then set up again",
	  case_reset_owner_during },
	{ "detach the TX backend (fd -1) under traffic, reattach",
	  case_detach_tx },
	{ "detach the RX backend (fd -1) under traffic, reattach",
	  case_detach_rx },
	{ "tap fd closed before the device: tap lives until the device closes",
	  case_tap_closed_first },
	{ "owner process exits mid-traffic without closing anything",
	  case_owner_exits },
	{ "close with IOTLB misses pending", case_close_iotlb_miss },
	{ "open and close 200 devices", case_open_close_200 },
	{ "set up, attach and close 200 devices", case_setup_close_200, 180 },
	{ "64 devices open and attached at once", case_many_at_once, 120 },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
