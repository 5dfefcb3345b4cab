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
#include "net.h"

/*
 * Leave @vq (whose notifications the busy loop turned off) either queued for
 * its handler, if the guest added buffers, or listening for the next kick.
 */
static void kvio_net_busy_poll_try_queue(struct kvio_vq *vq)
{
	if (!kvio_vq_avail_empty(vq) || kvio_vq_rearm(vq))
		kvio_poll_queue(&vq->poll);
}

/* What ends a busy poll: work for either ring. */
struct kvio_net_busy {
	struct kvio_net_vq *rnvq;
	struct socket *sock;		/* RX's, NULL when RX is not watched */
	struct kvio_vq *tvq;		/* NULL when TX is not watched */
};

static bool kvio_net_busy_done(void *arg)
{
	struct kvio_net_busy *b = arg;

	if (b->sock && kvio_net_sock_has_rx_data(b->rnvq, b->sock) &&
	    !kvio_vq_avail_empty(&b->rnvq->vq))
		return true;
	return b->tvq && !kvio_vq_avail_empty(b->tvq);
}

/*
 * Spin (kvio_vq_spin(), the calling ring's timeout) until there is work for
 * either ring.  Called with the caller's vq->mutex held (RX's if @poll_rx,
 * else TX's); the other ring is only looked at if its mutex can be taken
 * without waiting, since the two handlers may run on different workers and
 * take the mutexes in opposite orders.
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
	struct kvio_net_busy b = { .rnvq = rnvq };
	bool other_live;

	if (!mutex_trylock(&other->mutex))
		return;

	/* A ring without a backend may not even be set up: leave it alone. */
	other_live = kvio_vq_get_backend(other) && !kvio_vq_stopped(other);
	if (other_live)
		kvio_vq_disable_notify(other);
	/* rvq->mutex is held here either way. */
	b.sock = kvio_vq_get_backend(rvq);
	if (!poll_rx && !other_live)
		b.sock = NULL;
	b.tvq = !poll_rx || other_live ? tvq : NULL;

	kvio_vq_spin(self, kvio_net_busy_done, &b);

	if (other_live) {
		if (poll_rx || kvio_net_sock_has_rx_data(rnvq, b.sock))
			kvio_net_busy_poll_try_queue(other);
		else
			/* TX: nothing to receive, RX waits for the guest. */
			kvio_vq_enable_notify(rvq);
	}

	mutex_unlock(&other->mutex);
}
