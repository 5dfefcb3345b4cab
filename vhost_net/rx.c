// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_net receive: packets on the backend socket -> guest RX buffers.
 *
 * For each packet: learn its length without dequeuing it, gather enough
 * device-writable chains to hold it (several with VIRTIO_NET_F_MRG_RXBUF,
 * exactly one without), let the socket copy it straight into guest memory
 * with recvmsg(), then fill in the parts of the vnet header that are ours.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fault-inject-usercopy.h>
#include <linux/socket.h>

#include "net.h"

/* kvio_net_get_rx_bufs(): the packet cannot fit, drop it. */
#define KVIO_NET_RX_TOO_BIG	INT_MAX

/* Length of the next packet, busy-polling for one if the ring has a timeout. */
static int kvio_net_rx_peek(struct kvio_net *net, struct kvio_net_vq *nvq,
			    struct socket *sock)
{
	int len = kvio_net_peek_len(nvq, sock);

	if (!len && nvq->vq.busyloop_timeout) {
		/* Let the guest see what it got before we spin. */
		kvio_net_signal_used(nvq);
		kvio_net_busy_poll(net, true);
		len = kvio_net_peek_len(nvq, sock);
	}
	return len;
}

/*
 * Take device-writable chains off the ring until they hold @datalen bytes,
 * at most @quota of them, their iovecs at vq->iov[0 .. *iovcount) and their
 * heads in @heads (used length = the bytes each will hold).
 *
 * Returns the number of heads; 0 if the ring ran out first (everything given
 * back: wait for the guest); KVIO_NET_RX_TOO_BIG if the packet does not fit
 * in @quota chains or in the iovec array (everything given back: drop the
 * packet); a negative errno if the ring is broken or an IOTLB miss is
 * pending.  *@faulted: a chain had a buffer outside its vIOMMU domain; the
 * heads taken, that one last, all have used length 0: drop the packet.
 */
static int kvio_net_get_rx_bufs(struct kvio_vq *vq,
				struct vring_used_elem *heads, size_t datalen,
				unsigned int *iovcount, struct kvio_log *log,
				unsigned int *log_num, unsigned int quota,
				bool *faulted)
{
	unsigned int headcount = 0, seg = 0, nlogs = 0;
	struct kvio_desc_info info;
	unsigned int out, in, n, i;
	size_t len;
	int r;

	*faulted = false;
	while (datalen > 0 && headcount < quota) {
		if (seg >= vq->iov_limit) {
			r = KVIO_NET_RX_TOO_BIG;
			goto err;
		}
		r = kvio_vq_get_desc(vq, vq->iov + seg, vq->iov_limit - seg,
				     &out, &in, &info, log ? log + nlogs : NULL,
				     &n);
		if (r < 0)
			goto err;
		if (r == vq->num) {
			r = 0;
			goto err;
		}
		if (out) {
			/* Give back the rest; this chain is lost either way. */
			kvio_vq_set_broken(vq, "RX chain with device-readable buffers");
			r = -EINVAL;
			goto err;
		}
		if (unlikely(info.faults)) {
			/*
			 * Taken chains cannot be given back without this one,
			 * which must not come back: all go back empty.
			 */
			pr_debug("RX buffer at IOVA %#llx: no mapping\n",
				 info.fault_addr);
			heads[headcount].id = cpu_to_kvio32(vq, r);
			headcount++;
			for (i = 0; i < headcount; i++)
				heads[i].len = 0;
			*faulted = true;
			return headcount;
		}
		if (!in) {
			kvio_vq_set_broken(vq, "RX chain without device-writable buffers");
			r = -EINVAL;
			goto err;
		}
		if (log)
			nlogs += n;

		len = min(iov_length(vq->iov + seg, in), datalen);
		heads[headcount].id = cpu_to_kvio32(vq, r);
		heads[headcount].len = cpu_to_kvio32(vq, len);
		datalen -= len;
		headcount++;
		seg += in;
	}
	if (datalen > 0) {
		r = KVIO_NET_RX_TOO_BIG;
		goto err;
	}

	*iovcount = seg;
	if (log)
		*log_num = nlogs;
	return headcount;

err:
	kvio_vq_discard_desc(vq, headcount);
	return r;
}

/* Read the packet recvmsg() would return and throw it away. */
static void kvio_net_rx_drop(struct socket *sock, struct msghdr *msg,
			     size_t len)
{
	int err;

	iov_iter_discard(&msg->msg_iter, ITER_DEST, len);
	err = sock->ops->recvmsg(sock, msg, len, MSG_DONTWAIT | MSG_TRUNC);
	pr_debug("RX packet of %zu bytes dropped: no room (%d)\n", len, err);
}

/*
 * Finish the vnet header of a packet of @len bytes just received into
 * vq->iov[0 .. @in).  If the kernel adds the header (@vhost_hlen, 10 or 12
 * bytes; the socket wrote after it), all of it in one copy, num_buffers
 * with it when the header has one.  Otherwise num_buffers if it is ours
 * to set: when the first buffer holds the whole header, as every guest
 * driver we know posts it, one store rather than an iov_iter walk and a
 * copy.  Returns 0 or -EFAULT.
 */
static int kvio_net_rx_fix_header(struct kvio_vq *vq, unsigned int in,
				  size_t len, size_t vhost_hlen,
				  bool set_num_buffers, int headcount)
{
	__virtio16 num_buffers = cpu_to_kvio16(vq, headcount);
	struct iov_iter it;

	if (vhost_hlen) {
		/*
		 * vhost_hlen is the size of one of these headers, 10 or 12
		 * (kvio_net_vq_features_set()); with 12 (set_num_buffers)
		 * num_buffers is its tail.
		 */
		struct virtio_net_hdr_mrg_rxbuf hdr = {
			.hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE,
			.num_buffers = num_buffers,
		};

		iov_iter_init(&it, ITER_DEST, vq->iov, in, len);
		if (copy_to_iter(&hdr, vhost_hlen, &it) != vhost_hlen)
			return -EFAULT;
		return 0;
	}
	if (!set_num_buffers)
		return 0;

	if (likely(vq->iov[0].iov_len >=
		   sizeof(struct virtio_net_hdr_mrg_rxbuf))) {
		__virtio16 __user *field = vq->iov[0].iov_base +
			offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers);

		/* As copy_to_iter() would: fault injection. */
		if (should_fail_usercopy())
			return -EFAULT;
		return kvio_user_put16(num_buffers, field);
	}
	/* The socket wrote the header; num_buffers is past its first part. */
	iov_iter_init(&it, ITER_DEST, vq->iov, in, len);
	iov_iter_advance(&it, sizeof(struct virtio_net_hdr));
	if (copy_to_iter(&num_buffers, sizeof(num_buffers), &it) !=
	    sizeof(num_buffers))
		return -EFAULT;
	return 0;
}

void kvio_net_handle_rx(struct kvio_net *net, struct kvio_net_vq *nvq,
			struct socket *sock)
{
	struct kvio_vq *vq = &nvq->vq;
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	size_t vhost_hlen = nvq->vhost_hlen;
	size_t sock_hlen = nvq->sock_hlen;
	size_t sock_len = 0, vhost_len, total_len = 0;
	struct kvio_log *vq_log = NULL;
	unsigned int in, log_num = 0;
	bool mergeable, set_num_buffers;
	int recv_pkts = 0;
	int headcount, peeked, err;
	bool faulted;

	if (kvio_vq_has_feature(vq, VHOST_F_LOG_ALL))
		vq_log = vq->log;
	mergeable = kvio_vq_has_feature(vq, VIRTIO_NET_F_MRG_RXBUF);
	/*
	 * num_buffers is ours to fill whoever writes the rest of the header:
	 * tun/tap leave it alone.  The 12-byte header (MRG_RXBUF or VERSION_1)
	 * has it; without mergeable buffers it must read 1.
	 */
	set_num_buffers = (vhost_hlen ?: sock_hlen) ==
			  sizeof(struct virtio_net_hdr_mrg_rxbuf);

	do {
		peeked = kvio_net_rx_peek(net, nvq, sock);
		if (peeked <= 0) {
			sock_len = 0;
			break;
		}
		sock_len = peeked + sock_hlen;
		vhost_len = sock_len + vhost_hlen;

		headcount = kvio_net_get_rx_bufs(vq, nvq->heads + nvq->done_idx,
						 vhost_len, &in, vq_log,
						 &log_num,
						 mergeable ? UIO_MAXIOV : 1,
						 &faulted);
		if (headcount < 0)
			goto out;
		if (!headcount) {
			/* The guest slipped buffers in: go on. */
			if (kvio_vq_rearm(vq))
				continue;
			/* Wait for the guest to add buffers. */
			goto out;
		}
		/* tun/tap: hand recvmsg() the entry we peeked at. */
		msg.msg_control = kvio_net_rxq_consume(nvq);

		if (headcount == KVIO_NET_RX_TOO_BIG) {
			kvio_net_rx_drop(sock, &msg, sock_len);
			continue;
		}
		if (unlikely(faulted)) {
			/* Used empty: the guest counts a length error. */
			kvio_net_rx_drop(sock, &msg, sock_len);
			nvq->done_idx += headcount;
			if (nvq->done_idx >= KVIO_NET_BATCH)
				kvio_net_signal_used(nvq);
			continue;
		}

		iov_iter_init(&msg.msg_iter, ITER_DEST, vq->iov, in, vhost_len);
		/* The kernel owns the header: the socket writes after it. */
		if (vhost_hlen)
			iov_iter_advance(&msg.msg_iter, vhost_hlen);

		err = sock->ops->recvmsg(sock, &msg, sock_len,
					 MSG_DONTWAIT | MSG_TRUNC);
		if (unlikely(err < 0 || (size_t)err != sock_len)) {
			/*
			 * Someone else read the socket between peek and
			 * receive, or the packet changed: what landed in the
			 * buffers is garbage, give them back and go on.
			 */
			pr_debug("RX packet dropped: got %d of %zu bytes\n",
				 err, sock_len);
			kvio_vq_discard_desc(vq, headcount);
			continue;
		}

		if (kvio_net_rx_fix_header(vq, in, vhost_len, vhost_hlen,
					   set_num_buffers, headcount))
			goto bad_header;

		if (unlikely(vq_log))
			kvio_log_write(vq, vq_log, log_num, vhost_len);
		nvq->done_idx += headcount;
		if (nvq->done_idx >= KVIO_NET_BATCH)
			kvio_net_signal_used(nvq);
		total_len += vhost_len;
	} while (!kvio_vq_exceeds_weight(vq, ++recv_pkts, total_len));

	if (!sock_len)
		/* Socket drained: sleep until it has a packet again. */
		kvio_net_enable_poll(nvq);
out:
	kvio_net_signal_used(nvq);
	return;

bad_header:
	/* The buffers translated but cannot be written: the VMM's doing. */
	kvio_vq_discard_desc(vq, headcount);
	kvio_vq_set_broken(vq, "RX vnet header not writable");
	kvio_net_signal_used(nvq);
}
