// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_net transmit: guest TX chains -> the backend socket.
 *
 * Each chain is one packet, device-readable only.  It is completed with used
 * length 0 as soon as its bytes are out of guest memory, and completions are
 * published KVIO_NET_BATCH at a time with one guest interrupt per batch.
 *
 * Two ways to the socket:
 *  - tun/tap with an unlimited send buffer (tun's default): the packet is
 *    copied into a page fragment laid out as tun's XDP buffer (struct
 *    tun_xdp_hdr, headroom, frame, room for skb_shared_info), and up to
 *    KVIO_NET_BATCH of them go to the socket in one sendmsg() with a
 *    TUN_MSG_PTR control message.  tun builds the skbs around the fragments
 *    in place, under one bh-disable/RCU section for the whole batch.
 *  - everything else (AF_PACKET, a tap with a bounded sndbuf, packets too big
 *    for one page): one sendmsg() per packet over the guest iovecs.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/if_tun.h>
#include <linux/skbuff.h>
#include <linux/socket.h>
#include <net/sock.h>

#include "net.h"

/*
 * Headroom in front of a batched frame: skb headroom plus XDP's if tun has a
 * program attached (SOCK_XDP); tun_xdp_hdr lives at its start.
 */
static unsigned int kvio_net_xdp_pad(struct socket *sock)
{
	unsigned int headroom = sock_flag(sock->sk, SOCK_XDP) ?
				XDP_PACKET_HEADROOM : 0;

	return SKB_DATA_ALIGN(NET_IP_ALIGN + NET_SKB_PAD + headroom +
			      sizeof(struct tun_xdp_hdr));
}

/*
 * Copy the packet of the chain's first @out iovecs (vq->iov), less the
 * @skip bytes of a header the kernel owns, @len bytes, into a page
 * fragment and add it to the batch.  -ENOSPC: does not fit one page, send
 * it the ordinary way; -ENOMEM: try again later; -EINVAL/-EFAULT: bad
 * packet, drop it.
 */
static int kvio_net_build_xdp(struct kvio_net_vq *nvq, struct socket *sock,
			      unsigned int out, size_t skip, size_t len)
{
	struct kvio_vq *vq = &nvq->vq;
	struct xdp_buff *xdp = &nvq->xdp[nvq->batched_xdp];
	size_t sock_hlen = nvq->sock_hlen;
	unsigned int pad = kvio_net_xdp_pad(sock);
	struct virtio_net_hdr *gso;
	struct tun_xdp_hdr *hdr;
	unsigned int buflen;
	void *buf;

	if (len < sock_hlen)
		return -EINVAL;
	len -= sock_hlen;
	if (pad + len > PAGE_SIZE)
		return -ENOSPC;
	buflen = SKB_DATA_ALIGN(pad + len) +
		 SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
	if (buflen > PAGE_SIZE)
		return -ENOSPC;

	buf = kvio_net_frag_alloc(&nvq->frags, buflen, SMP_CACHE_BYTES,
				  GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	/*
	 * Header and frame come out of guest memory in one copy, the header
	 * landing in the headroom right in front of the frame; gso gets a
	 * copy of its first 10 bytes (a 12-byte header's num_buffers means
	 * nothing on TX).  Two copies out of the guest would each walk the
	 * iovecs and call the copy routine.
	 */
	BUILD_BUG_ON(sizeof(struct virtio_net_hdr_mrg_rxbuf) > NET_SKB_PAD);
	if (!kvio_iov_copy_from_user(buf + pad - sock_hlen, vq->iov, out, skip,
				     sock_hlen + len))
		goto fault;
	hdr = buf;
	gso = &hdr->gso;
	if (sock_hlen) {
		memcpy(gso, buf + pad - sock_hlen, sizeof(*gso));

		/* Make hdr_len cover the checksum field, as tun itself does. */
		if (gso->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			u32 end = kvio16_to_cpu(vq, gso->csum_start) +
				  kvio16_to_cpu(vq, gso->csum_offset) + 2;

			if (end > kvio16_to_cpu(vq, gso->hdr_len)) {
				if (end > len)
					goto inval;
				gso->hdr_len = cpu_to_kvio16(vq, end);
			}
		}
	} else {
		/* tun parses gso unconditionally: no header is a zero one. */
		memset(gso, 0, sizeof(*gso));
	}

	hdr->buflen = buflen;
	xdp_init_buff(xdp, buflen, NULL);
	xdp_prepare_buff(xdp, buf, pad, len, true);
	nvq->batched_xdp++;
	return 0;

inval:
	page_frag_free(buf);
	return -EINVAL;
fault:
	page_frag_free(buf);
	return -EFAULT;
}

/* Send the batched frames (tun takes ownership of the fragments). */
static void kvio_net_tx_send_batch(struct kvio_net_vq *nvq,
				   struct socket *sock)
{
	struct tun_msg_ctl ctl = {
		.type = TUN_MSG_PTR,
		.num = nvq->batched_xdp,
		.ptr = nvq->xdp,
	};
	struct msghdr msg = {
		.msg_control = &ctl,
		.msg_controllen = sizeof(ctl),
		.msg_flags = MSG_DONTWAIT,
	};
	unsigned int i;
	int err;

	if (!nvq->batched_xdp)
		return;

	err = sock->ops->sendmsg(sock, &msg, 0);
	if (unlikely(err < 0)) {
		/* tun detached from its device: the packets are lost. */
		pr_debug("TX batch of %u dropped: %d\n", nvq->batched_xdp, err);
		for (i = 0; i < nvq->batched_xdp; i++)
			put_page(virt_to_head_page(nvq->xdp[i].data));
	}
	nvq->batched_xdp = 0;
}

/* Everything taken so far goes out, and the guest hears about it. */
static void kvio_net_tx_flush(struct kvio_net_vq *nvq, struct socket *sock)
{
	kvio_net_tx_send_batch(nvq, sock);
	kvio_net_signal_used(nvq);
}

/* Next TX chain, busy-polling for one if the ring has a timeout. */
static int kvio_net_tx_get_desc(struct kvio_net *net, struct kvio_net_vq *nvq,
				struct socket *sock, unsigned int *out,
				unsigned int *in, struct kvio_desc_info *info)
{
	struct kvio_vq *vq = &nvq->vq;
	int r;

	r = kvio_vq_get_desc(vq, vq->iov, vq->iov_limit, out, in, info, NULL,
			     NULL);
	if (r >= 0 && r == vq->num && vq->busyloop_timeout) {
		/* Nothing may wait in a batch while we spin. */
		kvio_net_tx_flush(nvq, sock);
		kvio_net_busy_poll(net, false);
		r = kvio_vq_get_desc(vq, vq->iov, vq->iov_limit, out, in,
				     info, NULL, NULL);
	}
	return r;
}

/*
 * Tell the socket more is coming (tun then defers its flush) while the
 * guest has queued more and this run is within its byte budget.
 */
static bool kvio_net_tx_more(struct kvio_vq *vq, size_t total_len)
{
	return total_len < KVIO_NET_BYTE_WEIGHT && !kvio_vq_avail_empty(vq);
}

void kvio_net_handle_tx(struct kvio_net *net, struct kvio_net_vq *nvq,
			struct socket *sock)
{
	struct kvio_vq *vq = &nvq->vq;
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	/* TUN_MSG_PTR skips sndbuf accounting: only when there is none. */
	bool can_batch = sock->sk->sk_sndbuf == INT_MAX &&
			 kvio_net_sock_is_tap(sock);
	size_t len, total_len = 0;
	struct kvio_desc_info info;
	unsigned int out, in;
	int sent_pkts = 0;
	int head, err;

	do {
		if (nvq->done_idx >= KVIO_NET_BATCH)
			kvio_net_tx_flush(nvq, sock);

		head = kvio_net_tx_get_desc(net, nvq, sock, &out, &in, &info);
		/* Malformed ring (now broken) or IOTLB miss: wait. */
		if (head < 0)
			break;
		if (head == vq->num) {
			/* The guest slipped one in: go on. */
			if (kvio_vq_rearm(vq))
				continue;
			break;
		}
		if (in) {
			kvio_vq_set_broken(vq, "TX chain with device-writable buffers");
			break;
		}
		if (unlikely(info.faults)) {
			/* Outside its vIOMMU domain: dropped, ring goes on. */
			pr_debug("TX packet at IOVA %#llx dropped: no mapping\n",
				 info.fault_addr);
			len = 0;
			goto done;
		}

		len = iov_length(vq->iov, out);
		if (len <= nvq->vhost_hlen) {
			/* Nothing past the header: drop, keep the ring going. */
			pr_debug("TX chain of %zu bytes dropped\n", len);
			len = 0;
			goto done;
		}
		/* The kernel owns the vnet header: the socket gets none. */
		len -= nvq->vhost_hlen;

		if (can_batch) {
			err = kvio_net_build_xdp(nvq, sock, out, nvq->vhost_hlen,
						 len);
			if (!err)
				goto done;
			if (err == -ENOMEM) {
				kvio_net_tx_send_batch(nvq, sock);
				kvio_vq_discard_desc(vq, 1);
				kvio_net_enable_poll(nvq);
				break;
			}
			if (err != -ENOSPC) {
				pr_debug("TX packet dropped: %d\n", err);
				goto done;
			}
			/*
			 * Too big for a page: the batch goes first, in order,
			 * and the guest hears of every frame sent so far, as
			 * upstream's vhost_tx_batch() tells it.  A guest's TCP
			 * holds at most about 1 MiB in its device queue (TCP
			 * Small Queues) and waits for these completions to send
			 * more; at up to 64 KiB a frame, holding them back for a
			 * batch of 64 would stall it until this run ends.
			 */
			kvio_net_tx_flush(nvq, sock);
		}

		iov_iter_init(&msg.msg_iter, ITER_SOURCE, vq->iov, out,
			      len + nvq->vhost_hlen);
		if (nvq->vhost_hlen)
			iov_iter_advance(&msg.msg_iter, nvq->vhost_hlen);
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

	kvio_net_tx_flush(nvq, sock);
}
