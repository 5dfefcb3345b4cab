// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_net backends: which fds can carry a ring's packets, how their socket
 * is polled, and how the RX side learns the length of the next packet
 * (the per-packet part inline in net.h).
 */
#include <linux/file.h>
#include <linux/if_packet.h>
#include <linux/if_tap.h>
#include <linux/if_tun.h>
#include <linux/skbuff.h>
#include <net/sock.h>

#include "net.h"

static bool kvio_net_is_raw_packet(struct socket *sock)
{
	return sock->sk && sock->sk->sk_family == AF_PACKET &&
	       sock->sk->sk_type == SOCK_RAW;
}

/*
 * The socket behind @fd, holding a reference on its file, NULL for fd -1, or
 * ERR_PTR(-ENOTSOCK) for anything else: upstream answers ENOTSOCK for every
 * kind of unusable fd (bad number, wrong socket type, not a socket), and
 * VMMs only test for success.
 */
struct socket *kvio_net_get_socket(int fd)
{
	struct socket *sock;
	struct file *file;

	if (fd == -1)
		return NULL;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-ENOTSOCK);

	sock = sock_from_file(file);
	if (sock && kvio_net_is_raw_packet(sock))
		return sock;

	sock = tun_get_socket(file);
	if (!IS_ERR(sock))
		return sock;

	sock = tap_get_socket(file);
	if (!IS_ERR(sock))
		return sock;

	fput(file);
	return ERR_PTR(-ENOTSOCK);
}

void kvio_net_put_socket(struct socket *sock)
{
	if (sock)
		fput(sock->file);
}

/* tun/tap or macvtap/ipvtap: takes TUN_MSG_PTR batches and ring entries. */
bool kvio_net_sock_is_tap(struct socket *sock)
{
	return !IS_ERR(tun_get_socket(sock->file)) ||
	       !IS_ERR(tap_get_socket(sock->file));
}

/* The tun/tap ring RX can batch from, or NULL (AF_PACKET). */
struct ptr_ring *kvio_net_get_ptr_ring(struct socket *sock)
{
	struct ptr_ring *ring;

	if (!sock)
		return NULL;

	ring = tun_get_tx_ring(sock->file);
	if (!IS_ERR(ring))
		return ring;

	ring = tap_get_ptr_ring(sock->file);
	if (!IS_ERR(ring))
		return ring;

	return NULL;
}

/*
 * The socket poll is armed only while a handler waits for the socket (RX
 * drained it, or TX was pushed back), so an idle socket costs no wake-ups.
 * Both run under vq->mutex; sock_polling makes them idempotent whatever the
 * engine does with a second start.
 */
int kvio_net_enable_poll(struct kvio_net_vq *nvq)
{
	struct socket *sock = kvio_vq_get_backend(&nvq->vq);
	int r;

	if (!sock || nvq->sock_polling)
		return 0;

	r = kvio_poll_start(&nvq->sock_poll, sock->file);
	if (!r)
		nvq->sock_polling = true;
	return r;
}

void kvio_net_disable_poll(struct kvio_net_vq *nvq)
{
	if (!nvq->sock_polling)
		return;

	kvio_poll_stop(&nvq->sock_poll);
	nvq->sock_polling = false;
}

/*
 * kvio_net_peek_len() when it has no batched entry to look at: the length of
 * the next packet on the socket, 0 if none.
 *
 * tun/tap: entries are taken off the ptr_ring KVIO_NET_BATCH at a time (one
 * consumer-lock round trip per batch instead of per packet) and handed one by
 * one to recvmsg() through msg_control, which tun and tap accept in place of
 * dequeuing themselves.
 *
 * AF_PACKET: the head of the receive queue.  packet_recvmsg() copies
 * skb->len bytes (a VLAN tag stays in the metadata), so no VLAN_HLEN here.
 */
int kvio_net_peek_len_slow(struct kvio_net_vq *rnvq, struct socket *sock)
{
	struct kvio_net_rxq *rxq = &rnvq->rxq;
	struct sk_buff *skb;
	unsigned long flags;
	int len = 0;

	if (rnvq->rx_ring) {
		if (kvio_net_rxq_empty(rxq)) {
			rxq->head = 0;
			rxq->tail = ptr_ring_consume_batched(rnvq->rx_ring,
							     rxq->queue,
							     KVIO_NET_BATCH);
			if (!rxq->tail)
				return 0;
		}
		return kvio_net_ring_entry_len(rxq->queue[rxq->head]);
	}

	if (sock->ops->peek_len)
		return sock->ops->peek_len(sock);

	spin_lock_irqsave(&sock->sk->sk_receive_queue.lock, flags);
	skb = skb_peek(&sock->sk->sk_receive_queue);
	if (skb)
		len = skb->len;
	spin_unlock_irqrestore(&sock->sk->sk_receive_queue.lock, flags);
	return len;
}

/* Give entries batched but not received back to the ring, in order. */
void kvio_net_rxq_unproduce(struct kvio_net_vq *rnvq)
{
	struct kvio_net_rxq *rxq = &rnvq->rxq;

	if (rnvq->rx_ring && !kvio_net_rxq_empty(rxq))
		ptr_ring_unconsume(rnvq->rx_ring, rxq->queue + rxq->head,
				   rxq->tail - rxq->head, tun_ptr_free);
	rxq->head = 0;
	rxq->tail = 0;
}

/* Cheap "is there a packet to receive", for busy polling. */
bool kvio_net_sock_has_rx_data(struct kvio_net_vq *rnvq, struct socket *sock)
{
	if (!sock)
		return false;

	if (!kvio_net_rxq_empty(&rnvq->rxq))
		return true;

	if (sock->ops->peek_len)
		return sock->ops->peek_len(sock) > 0;

	return !skb_queue_empty_lockless(&sock->sk->sk_receive_queue);
}
