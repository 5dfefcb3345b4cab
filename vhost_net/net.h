/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio_net internals: one device per open of /dev/kvio-net, two rings
 * (RX = 0, TX = 1) bound to one socket each (tun/tap, macvtap/ipvtap or a raw
 * AF_PACKET socket).
 *
 * Locking: everything in struct kvio_net_vq is protected by its vq->mutex,
 * like the engine's own ring state.  The RX handler holds the RX mutex and
 * may trylock the TX mutex to busy-poll; the TX handler the reverse.  Only
 * trylock is used for the second mutex, so the two handlers never wait on
 * each other.
 */
#ifndef _KVIO_NET_H
#define _KVIO_NET_H

#include <linux/if_tun.h>
#include <linux/net.h>
#include <linux/ptr_ring.h>
#include <linux/skb_array.h>
#include <linux/uio.h>
#include <linux/virtio_net.h>
#include <net/xdp.h>

#include <kvio/vhost.h>

#include "frag.h"

enum {
	KVIO_NET_VQ_RX = 0,
	KVIO_NET_VQ_TX = 1,
	KVIO_NET_VQ_MAX = 2,
};

/*
 * Per handler run, before it yields the worker to the other rings
 * (CVE-2019-3900: a guest keeping one ring busy must not starve the rest).
 */
#define KVIO_NET_PKT_WEIGHT	256
#define KVIO_NET_BYTE_WEIGHT	(512 * 1024)

/*
 * Used-ring entries completed but not yet published: published (and the guest
 * signalled once) when this many have gathered or the handler stops.
 */
#define KVIO_NET_BATCH		64

/*
 * One RX packet can take up to UIO_MAXIOV heads (mergeable buffers) on top of
 * up to KVIO_NET_BATCH not yet published.
 */
#define KVIO_NET_MAX_HEADS	(UIO_MAXIOV + KVIO_NET_BATCH)

/* Packets taken off a tun/tap ptr_ring in one go, not yet received. */
struct kvio_net_rxq {
	void *queue[KVIO_NET_BATCH];
	int head;
	int tail;
};

struct kvio_net_vq {
	struct kvio_vq vq;

	/* EPOLLIN (RX) / EPOLLOUT (TX) on the backend socket. */
	struct kvio_poll sock_poll;
	bool sock_polling;

	/*
	 * vnet header bytes the kernel adds (RX) or strips (TX): set when the
	 * VMM acked VHOST_NET_F_VIRTIO_NET_HDR.  sock_hlen: header bytes the
	 * socket itself carries (a tap with IFF_VNET_HDR) otherwise.  At most
	 * one of the two is non-zero.
	 */
	size_t vhost_hlen;
	size_t sock_hlen;

	/* Completed heads not yet published, heads[0 .. done_idx). */
	unsigned int done_idx;
	struct vring_used_elem heads[KVIO_NET_MAX_HEADS];

	/* RX only: the tun/tap ring behind the socket, or NULL. */
	struct ptr_ring *rx_ring;
	struct kvio_net_rxq rxq;

	/*
	 * TX only: packets copied out of the guest into page fragments, sent
	 * to tun/tap KVIO_NET_BATCH per sendmsg() (see tx.c and frag.h).
	 */
	struct xdp_buff xdp[KVIO_NET_BATCH];
	unsigned int batched_xdp;
	struct kvio_net_frags frags;
};

struct kvio_net {
	struct kvio_dev dev;
	struct kvio_net_vq vqs[KVIO_NET_VQ_MAX];
	struct kvio_vq *vq_ptrs[KVIO_NET_VQ_MAX];
};

static inline struct kvio_net_vq *to_net_vq(struct kvio_vq *vq)
{
	return container_of(vq, struct kvio_net_vq, vq);
}

static inline struct kvio_net *to_net(struct kvio_vq *vq)
{
	return container_of(vq->dev, struct kvio_net, dev);
}

/* socket.c: backends and their receive queues. */
struct socket *kvio_net_get_socket(int fd);
void kvio_net_put_socket(struct socket *sock);
struct ptr_ring *kvio_net_get_ptr_ring(struct socket *sock);
bool kvio_net_sock_is_tap(struct socket *sock);
int kvio_net_enable_poll(struct kvio_net_vq *nvq);
void kvio_net_disable_poll(struct kvio_net_vq *nvq);
int kvio_net_peek_len_slow(struct kvio_net_vq *rnvq, struct socket *sock);
void kvio_net_rxq_unproduce(struct kvio_net_vq *rnvq);
bool kvio_net_sock_has_rx_data(struct kvio_net_vq *rnvq,
			       struct socket *sock);

static inline bool kvio_net_rxq_empty(const struct kvio_net_rxq *rxq)
{
	return rxq->head == rxq->tail;
}

/* Length of a tun/tap ring entry: an skb or a tagged XDP frame. */
static inline int kvio_net_ring_entry_len(void *ptr)
{
	if (tun_is_xdp_frame(ptr))
		return tun_ptr_to_xdp(ptr)->len;

	return __skb_array_len_with_tag(ptr);
}

/*
 * Length of the next packet on the socket, 0 if none.  Inline for the
 * packets of a tun/tap batch already taken; a new batch and AF_PACKET go
 * through kvio_net_peek_len_slow().
 */
static inline int kvio_net_peek_len(struct kvio_net_vq *rnvq,
				    struct socket *sock)
{
	struct kvio_net_rxq *rxq = &rnvq->rxq;

	if (likely(rnvq->rx_ring && !kvio_net_rxq_empty(rxq)))
		return kvio_net_ring_entry_len(rxq->queue[rxq->head]);
	return kvio_net_peek_len_slow(rnvq, sock);
}

/* The entry kvio_net_peek_len() looked at, for recvmsg()'s msg_control. */
static inline void *kvio_net_rxq_consume(struct kvio_net_vq *rnvq)
{
	struct kvio_net_rxq *rxq = &rnvq->rxq;

	if (!rnvq->rx_ring || kvio_net_rxq_empty(rxq))
		return NULL;

	return rxq->queue[rxq->head++];
}

/* busypoll.c */
void kvio_net_busy_poll(struct kvio_net *net, bool poll_rx);

/* Publish the batched used entries and signal the guest once. */
void kvio_net_signal_used(struct kvio_net_vq *nvq);

/*
 * tx.c, rx.c: the handlers, run in the vq's worker with vq->mutex held, on a
 * ring with socket @sock that is not broken, notifications and the socket
 * poll off (net.c checks and sets that first).
 */
void kvio_net_handle_tx(struct kvio_net *net, struct kvio_net_vq *nvq,
			struct socket *sock);
void kvio_net_handle_rx(struct kvio_net *net, struct kvio_net_vq *nvq,
			struct socket *sock);

#endif /* _KVIO_NET_H */
