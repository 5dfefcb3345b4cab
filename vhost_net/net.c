// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_net: a virtio-net device served in the host kernel, /dev/kvio-net.
 *
 * Speaks the upstream vhost-net ABI: a VMM that can hand QEMU's
 * "-netdev tap,vhost=on,vhostfd=N" an open /dev/vhost-net can hand it an open
 * /dev/kvio-net instead.  This file holds the device node, the ioctls that
 * are net's own and backend (socket) attach/detach; the data path is in
 * tx.c and rx.c, everything ring-generic in kvio_core.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include "net.h"

#define KVIO_NET_FEATURES					\
	(KVIO_FEATURES |					\
	 (1ULL << VHOST_NET_F_VIRTIO_NET_HDR) |			\
	 (1ULL << VIRTIO_NET_F_MRG_RXBUF))

void kvio_net_signal_used(struct kvio_net_vq *nvq)
{
	if (!nvq->done_idx)
		return;

	kvio_vq_add_used_and_signal_n(&nvq->vq, nvq->heads, nvq->done_idx);
	nvq->done_idx = 0;
}

/* Ring @nvq has work: a kick or its socket. */
static void kvio_net_handle(struct kvio_net_vq *nvq)
{
	struct kvio_net *net = to_net(&nvq->vq);
	struct kvio_vq *vq = &nvq->vq;
	bool rx = nvq == &net->vqs[KVIO_NET_VQ_RX];
	struct socket *sock;

	mutex_lock_nested(&vq->mutex, rx ? KVIO_NET_VQ_RX : KVIO_NET_VQ_TX);
	sock = kvio_vq_get_backend(vq);
	/* A stopped ring takes nothing, whoever queued this run. */
	if (!sock || kvio_vq_stopped(vq))
		goto out;

	kvio_vq_disable_notify(vq);
	/* Running now: a socket wake-up would only queue us again. */
	kvio_net_disable_poll(nvq);
	if (rx)
		kvio_net_handle_rx(net, nvq, sock);
	else
		kvio_net_handle_tx(net, nvq, sock);
out:
	mutex_unlock(&vq->mutex);
}

static void kvio_net_kick(struct kvio_work *work)
{
	struct kvio_vq *vq = container_of(work, struct kvio_vq, poll.work);

	kvio_net_handle(to_net_vq(vq));
}

static void kvio_net_sock_ready(struct kvio_work *work)
{
	kvio_net_handle(container_of(work, struct kvio_net_vq, sock_poll.work));
}

/*
 * Who owns the vnet header, from the features just acked:
 * VHOST_NET_F_VIRTIO_NET_HDR means the socket carries bare frames and the
 * kernel adds (RX) or strips (TX) the header; without it the socket is a tap
 * with IFF_VNET_HDR whose header size the VMM set to match the guest's.
 */
static void kvio_net_vq_features_set(struct kvio_vq *vq)
{
	struct kvio_net_vq *nvq = to_net_vq(vq);
	size_t hdr_len;

	if (kvio_vq_has_feature(vq, VIRTIO_NET_F_MRG_RXBUF) ||
	    kvio_vq_has_feature(vq, VIRTIO_F_VERSION_1))
		hdr_len = sizeof(struct virtio_net_hdr_mrg_rxbuf);
	else
		hdr_len = sizeof(struct virtio_net_hdr);

	if (kvio_vq_has_feature(vq, VHOST_NET_F_VIRTIO_NET_HDR)) {
		nvq->vhost_hlen = hdr_len;
		nvq->sock_hlen = 0;
	} else {
		nvq->vhost_hlen = 0;
		nvq->sock_hlen = hdr_len;
	}
}

/*
 * Take ring @index's socket away, its poll stopped and its batched packets
 * back on the tun/tap ring.  Returns the socket, still referenced: drop it
 * after a flush, once no work can be using it.
 */
static struct socket *kvio_net_detach(struct kvio_net *net, int index)
{
	struct kvio_net_vq *nvq = &net->vqs[index];
	struct socket *sock;

	mutex_lock_nested(&nvq->vq.mutex, index);
	sock = kvio_vq_get_backend(&nvq->vq);
	kvio_net_disable_poll(nvq);
	kvio_net_rxq_unproduce(nvq);
	kvio_vq_set_backend(&nvq->vq, NULL);
	nvq->rx_ring = NULL;
	mutex_unlock(&nvq->vq.mutex);
	return sock;
}

/* RESET_OWNER: back to the state after open(). dev->mutex held. */
static void kvio_net_reset_owner(struct kvio_dev *dev)
{
	struct kvio_net *net = container_of(dev, struct kvio_net, dev);
	struct socket *socks[KVIO_NET_VQ_MAX];
	int i;

	for (i = 0; i < KVIO_NET_VQ_MAX; i++)
		socks[i] = kvio_net_detach(net, i);
	kvio_dev_flush(dev);
	for (i = 0; i < KVIO_NET_VQ_MAX; i++) {
		struct kvio_net_vq *nvq = &net->vqs[i];

		kvio_net_put_socket(socks[i]);
		mutex_lock_nested(&nvq->vq.mutex, i);
		nvq->vhost_hlen = 0;
		nvq->sock_hlen = 0;
		nvq->done_idx = 0;
		mutex_unlock(&nvq->vq.mutex);
	}
}

static const struct kvio_dev_ops kvio_net_ops = {
	.features = KVIO_NET_FEATURES,
	.vq_features_set = kvio_net_vq_features_set,
	.reset_owner = kvio_net_reset_owner,
};

static long kvio_net_set_backend(struct kvio_net *net, unsigned int index,
				 int fd)
{
	struct kvio_dev *dev = &net->dev;
	struct socket *sock, *oldsock;
	struct kvio_net_vq *nvq;
	struct kvio_vq *vq;
	long r;

	mutex_lock(&dev->mutex);
	r = kvio_dev_check_vq_index(dev, index);
	if (r < 0)
		goto out_dev;
	index = r;
	nvq = &net->vqs[index];
	vq = &nvq->vq;

	mutex_lock_nested(&vq->mutex, index);
	sock = kvio_net_get_socket(fd);
	if (IS_ERR(sock)) {
		r = PTR_ERR(sock);
		goto out_vq;
	}
	/*
	 * Rings and dirty log must be reachable before a socket can drive
	 * them; detaching needs nothing (QEMU's error paths detach rings that
	 * were never set up, and upstream lets them).
	 */
	if (sock && !kvio_vq_access_ok(vq)) {
		kvio_net_put_socket(sock);
		r = -EFAULT;
		goto out_vq;
	}

	oldsock = kvio_vq_get_backend(vq);
	if (sock != oldsock) {
		/*
		 * The swap is atomic for the handlers: they run under
		 * vq->mutex and see either socket, never neither mid-packet.
		 */
		kvio_net_disable_poll(nvq);
		kvio_net_rxq_unproduce(nvq);
		kvio_vq_set_backend(vq, sock);
		/* Used flags and index: -EFAULT for a ring never set up. */
		r = sock ? kvio_vq_init_access(vq) : 0;
		if (!r)
			r = kvio_net_enable_poll(nvq);
		if (r) {
			kvio_net_disable_poll(nvq);
			kvio_vq_set_backend(vq, oldsock);
			kvio_net_enable_poll(nvq);
			kvio_net_put_socket(sock);
			goto out_vq;
		}
		nvq->rx_ring = index == KVIO_NET_VQ_RX ?
			       kvio_net_get_ptr_ring(sock) : NULL;
		/*
		 * Buffers the guest posted while the ring had no socket got
		 * no kick that anyone acted on: look at the ring once now.
		 */
		if (sock)
			kvio_poll_queue(&vq->poll);
	}
	mutex_unlock(&vq->mutex);

	/*
	 * Same socket again: drop the reference just taken.  A replaced one:
	 * wait until no queued work can still be on its way to it.
	 */
	if (oldsock) {
		kvio_dev_flush(dev);
		kvio_net_put_socket(oldsock);
	}
	mutex_unlock(&dev->mutex);
	return 0;

out_vq:
	mutex_unlock(&vq->mutex);
out_dev:
	mutex_unlock(&dev->mutex);
	return r;
}

static long kvio_net_ioctl(struct kvio_dev *dev, unsigned int cmd,
			   void __user *argp)
{
	struct kvio_net *net = container_of(dev, struct kvio_net, dev);
	struct vhost_vring_file backend;

	if (cmd != VHOST_NET_SET_BACKEND)
		return -ENOIOCTLCMD;
	if (copy_from_user(&backend, argp, sizeof(backend)))
		return -EFAULT;
	return kvio_net_set_backend(net, backend.index, backend.fd);
}

static struct kvio_dev *kvio_net_open(void)
{
	struct kvio_net *net;
	int i, r;

	net = kvzalloc(sizeof(*net), GFP_KERNEL_ACCOUNT);
	if (!net)
		return ERR_PTR(-ENOMEM);

	for (i = 0; i < KVIO_NET_VQ_MAX; i++) {
		net->vq_ptrs[i] = &net->vqs[i].vq;
		net->vqs[i].vq.handle_kick = kvio_net_kick;
	}

	r = kvio_dev_init(&net->dev, net->vq_ptrs, KVIO_NET_VQ_MAX,
			  &kvio_net_ops, UIO_MAXIOV, KVIO_NET_PKT_WEIGHT,
			  KVIO_NET_BYTE_WEIGHT);
	if (r) {
		kvfree(net);
		return ERR_PTR(r);
	}

	/* Socket wake-ups run the handler on the ring's own worker. */
	kvio_poll_init(&net->vqs[KVIO_NET_VQ_RX].sock_poll,
		       kvio_net_sock_ready, EPOLLIN, &net->dev,
		       &net->vqs[KVIO_NET_VQ_RX].vq);
	kvio_poll_init(&net->vqs[KVIO_NET_VQ_TX].sock_poll,
		       kvio_net_sock_ready, EPOLLOUT, &net->dev,
		       &net->vqs[KVIO_NET_VQ_TX].vq);
	return &net->dev;
}

static void kvio_net_release(struct kvio_dev *dev)
{
	struct kvio_net *net = container_of(dev, struct kvio_net, dev);
	struct socket *socks[KVIO_NET_VQ_MAX];
	int i;

	for (i = 0; i < KVIO_NET_VQ_MAX; i++)
		socks[i] = kvio_net_detach(net, i);
	/* Stops the kick polls and flushes before the sockets go. */
	kvio_dev_cleanup(&net->dev);
	for (i = 0; i < KVIO_NET_VQ_MAX; i++)
		kvio_net_put_socket(socks[i]);
	kvio_net_frags_free(&net->vqs[KVIO_NET_VQ_TX].frags);
	kvfree(net);
}

static struct kvio_driver kvio_net_driver = {
	.name		= "kvio-net",
	.open		= kvio_net_open,
	.release	= kvio_net_release,
	.ioctl		= kvio_net_ioctl,
};

static int __init kvio_net_init(void)
{
	return kvio_driver_register(&kvio_net_driver);
}
module_init(kvio_net_init);

static void __exit kvio_net_exit(void)
{
	kvio_driver_unregister(&kvio_net_driver);
}
module_exit(kvio_net_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(KVIO_VERSION);
MODULE_DESCRIPTION("kvio: virtio-net server in the host kernel (vhost-net ABI)");
