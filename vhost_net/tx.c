// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_net transmit: guest TX chains -> sendmsg() on the backend socket.
 *
 * Each chain is one packet, device-readable only.  The packet is copied by
 * the socket straight from guest memory (the iov_iter walks the translated
 * user iovecs), completed with used length 0, and completions are published
 * KVIO_NET_BATCH at a time with one guest interrupt per batch.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/socket.h>

#include "net.h"

/* Next TX chain, busy-polling for one if the ring has a timeout. */
static int kvio_net_tx_get_desc(struct kvio_net *net, struct kvio_net_vq *nvq,
				unsigned int *out, unsigned int *in,
				bool *busyloop_intr)
{
	struct kvio_vq *vq = &nvq->vq;
	int r;

	r = kvio_vq_get_desc(vq, vq->iov, vq->iov_limit, out, in, NULL, NULL);
	if (r >= 0 && r == vq->num && vq->busyloop_timeout) {
		/* Let the guest see what is done before we spin. */
		kvio_net_signal_used(nvq);
		*busyloop_intr = kvio_net_busy_poll(net, false);
		r = kvio_vq_get_desc(vq, vq->iov, vq->iov_limit, out, in,
				     NULL, NULL);
	}
	return r;
}

/*
 * Tell the socket more is coming (tun then defers its flush) while the
 * guest has queued more and this run is within its byte budget.
 */
static bool kvio_net_tx_more(struct kvio_vq *vq, size_t total_len)
{
	return total_len < KVIO_NET_BYTE_WEIGHT &&
	       !kvio_vq_avail_empty(vq);
}

static void kvio_net_tx(struct kvio_net *net, struct kvio_net_vq *nvq,
			struct socket *sock)
{
	struct kvio_vq *vq = &nvq->vq;
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	size_t len, total_len = 0;
	unsigned int out, in;
	int sent_pkts = 0;
	int head, err;

	do {
		bool busyloop_intr = false;

		if (nvq->done_idx >= KVIO_NET_BATCH)
			kvio_net_signal_used(nvq);

		head = kvio_net_tx_get_desc(net, nvq, &out, &in,
					    &busyloop_intr);
		/* Malformed ring (now broken) or IOTLB miss: wait. */
		if (head < 0)
			break;
		if (head == vq->num) {
			if (busyloop_intr) {
				kvio_poll_queue(&vq->poll);
			} else if (kvio_vq_enable_notify(vq)) {
				/* The guest slipped one in: go on. */
				kvio_vq_disable_notify(vq);
				continue;
			}
			break;
		}
		if (in) {
			kvio_vq_set_broken(vq, "TX chain with device-writable buffers");
			break;
		}

		len = iov_length(vq->iov, out);
		if (len <= nvq->vhost_hlen) {
			/* Nothing past the header: drop, keep the ring going. */
			pr_debug("TX chain of %zu bytes dropped\n",
				 len);
			len = 0;
			goto done;
		}

		iov_iter_init(&msg.msg_iter, ITER_SOURCE, vq->iov, out, len);
		/* The kernel owns the vnet header: the socket gets none. */
		iov_iter_advance(&msg.msg_iter, nvq->vhost_hlen);
		len -= nvq->vhost_hlen;

		if (kvio_net_tx_more(vq, total_len + len))
			msg.msg_flags |= MSG_MORE;
		else
			msg.msg_flags &= ~MSG_MORE;

		err = sock->ops->sendmsg(sock, &msg, len);
		if (unlikely(err < 0)) {
			if (err == -EAGAIN || err == -ENOMEM ||
			    err == -ENOBUFS) {
				/*
				 * Socket full: give the chain back and let
				 * EPOLLOUT restart us once it drained.
				 */
				kvio_vq_discard_desc(vq, 1);
				kvio_net_enable_poll(nvq);
				break;
			}
			/* Bad packet (too big, bad header...): dropped. */
			pr_debug("TX packet dropped: %d\n", err);
		}
done:
		nvq->heads[nvq->done_idx].id = cpu_to_kvio32(vq, head);
		nvq->heads[nvq->done_idx].len = 0;
		nvq->done_idx++;
		total_len += len;
	} while (!kvio_vq_exceeds_weight(vq, ++sent_pkts, total_len));

	kvio_net_signal_used(nvq);
}

void kvio_net_handle_tx(struct kvio_net *net)
{
	struct kvio_net_vq *nvq = &net->vqs[KVIO_NET_VQ_TX];
	struct kvio_vq *vq = &nvq->vq;
	struct socket *sock;

	mutex_lock_nested(&vq->mutex, KVIO_NET_VQ_TX);
	sock = kvio_vq_get_backend(vq);
	if (!sock || vq->broken)
		goto out;

	kvio_vq_disable_notify(vq);
	/* Running now: a socket wake-up would only queue us again. */
	kvio_net_disable_poll(nvq);
	kvio_net_tx(net, nvq, sock);
out:
	mutex_unlock(&vq->mutex);
}
