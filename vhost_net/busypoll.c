// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_net busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT).
 *
 * When a handler runs dry (TX: no avail chain; RX: no packet on the socket)
 * and its ring has a busy-loop timeout, it spins for up to that many
 * microseconds watching both directions before it falls back to
 * notifications.  A guest that sends again within the window is served
 * without an exit for the kick, an eventfd wake-up and a worker switch; the
 * price is a host CPU spinning while the guest is quiet.
 */
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>

#include "net.h"

/* Nanoseconds >> 10: close enough to microseconds and cheap. */
static unsigned long kvio_net_busy_clock(void)
{
	return local_clock() >> 10;
}

/*
 * Leave @vq (whose notifications the busy loop turned off) either queued for
 * its handler, if the guest added buffers, or listening for the next kick.
 */
static void kvio_net_busy_poll_try_queue(struct kvio_vq *vq)
{
	if (!kvio_vq_avail_empty(vq)) {
		kvio_poll_queue(&vq->poll);
	} else if (kvio_vq_enable_notify(vq)) {
		kvio_vq_disable_notify(vq);
		kvio_poll_queue(&vq->poll);
	}
}

/*
 * Spin until there is work for either ring, the timeout of the calling ring
 * expires, or the CPU is wanted elsewhere.  Called with the caller's
 * vq->mutex held (RX's if @poll_rx, else TX's); the other ring is only looked
 * at if its mutex can be taken without waiting, since the two handlers may
 * run on different workers and take the mutexes in opposite orders.
 *
 * Other work of the device for the same worker ends the spin, and the
 * caller then waits for kicks as usual.  It does not queue itself again
 * behind that work, as upstream's handlers do: here the other work may be
 * the other ring's handler, which sees this one queued and does the same,
 * and two idle rings would hand the worker back and forth for as long as
 * the guest stays quiet.
 */
void kvio_net_busy_poll(struct kvio_net *net, bool poll_rx)
{
	struct kvio_net_vq *rnvq = &net->vqs[KVIO_NET_VQ_RX];
	struct kvio_vq *rvq = &rnvq->vq;
	struct kvio_vq *tvq = &net->vqs[KVIO_NET_VQ_TX].vq;
	struct kvio_vq *self = poll_rx ? rvq : tvq;
	struct kvio_vq *other = poll_rx ? tvq : rvq;
	unsigned long timeout = self->busyloop_timeout;
	struct socket *sock;
	unsigned long endtime;
	bool other_live, tx_live;

	if (!mutex_trylock(&other->mutex))
		return;

	/* A ring without a backend may not even be set up: leave it alone. */
	other_live = kvio_vq_get_backend(other) && !kvio_vq_stopped(other);
	if (other_live)
		kvio_vq_disable_notify(other);
	/* rvq->mutex is held here either way. */
	sock = kvio_vq_get_backend(rvq);
	if (!poll_rx && !other_live)
		sock = NULL;
	tx_live = poll_rx ? other_live : true;

	/* local_clock() is per CPU: stay on one for a consistent deadline. */
	migrate_disable();
	endtime = kvio_net_busy_clock() + timeout;
	while (!need_resched() && !signal_pending(current) &&
	       !time_after(kvio_net_busy_clock(), endtime)) {
		/*
		 * Other work of this worker, queued or taken off its list
		 * in the batch running now (the other ring's kick or socket
		 * wake-up among them): let it run.
		 */
		if (kvio_vq_has_work(self))
			break;
		if (sock && kvio_net_sock_has_rx_data(rnvq, sock) &&
		    !kvio_vq_avail_empty(rvq))
			break;
		if (tx_live && !kvio_vq_avail_empty(tvq))
			break;
		cpu_relax();
	}
	migrate_enable();

	if (other_live) {
		if (poll_rx || kvio_net_sock_has_rx_data(rnvq, sock))
			kvio_net_busy_poll_try_queue(other);
		else
			/* TX: nothing to receive, RX waits for the guest. */
			kvio_vq_enable_notify(rvq);
	}

	mutex_unlock(&other->mutex);
}
