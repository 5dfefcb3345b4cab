// SPDX-License-Identifier: GPL-2.0-only
/*
 * A vhost-net device wired to a tap, driven like a virtio-net guest driver:
 * TX posts header + frame, RX posts writable buffers and reassembles
 * mergeable packets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kt.h"

size_t kt_net_hdr_len(uint64_t features)
{
	if (features & ((1ULL << VIRTIO_NET_F_MRG_RXBUF) |
			(1ULL << VIRTIO_F_VERSION_1)))
		return sizeof(struct virtio_net_hdr_mrg_rxbuf);
	return sizeof(struct virtio_net_hdr);
}

int kt_net_open_dev(struct kt_net *n, const struct kt_target *t,
		    uint64_t features, uint64_t extra)
{
	int r;

	memset(n, 0, sizeof(*n));
	n->psock = -1;
	n->tap.fd = -1;
	n->dev.fd = -1;
	n->dev.mem.fd = -1;
	n->hdr_len = kt_net_hdr_len(features);
	n->vhost_hdr = features & (1ULL << VHOST_NET_F_VIRTIO_NET_HDR);

	r = kt_tap_create(&n->tap, "kttap0",
			  n->vhost_hdr ? 0 : (int)n->hdr_len, "192.0.2.1");
	if (r != KT_PASS)
		return r;
	n->psock = kt_packet_socket(n->tap.ifindex);
	if (n->psock < 0)
		return kt_fail("packet socket: %s", strerror(-n->psock));

	r = kt_dev_open(&n->dev, t->path);
	if (r)
		return kt_fail("open %s: %s", t->path, strerror(-r));
	r = kt_dev_setup(&n->dev, features | extra);
	if (r)
		return kt_fail("device setup failed: %s", kt_errname(-r));
	n->dev.features = features;
	return KT_PASS;
}

int kt_net_attach(struct kt_net *n)
{
	int r, i;

	for (i = 0; i < 2; i++) {
		r = kt_net_backend(&n->dev, i, n->tap.fd);
		if (r)
			return kt_fail("VHOST_NET_SET_BACKEND ring %d: %s", i,
				       kt_errname(-r));
	}
	return KT_PASS;
}

int kt_net_open(struct kt_net *n, const struct kt_target *t,
		uint64_t features, unsigned int num, uint32_t rx_buf_size,
		uint16_t base)
{
	int r, i;

	r = kt_net_open_dev(n, t, features, 0);
	if (r != KT_PASS)
		return r;
	for (i = 0; i < 2; i++) {
		r = kt_vq_setup(&n->dev, i, num, base);
		if (r)
			return kt_fail("ring %d setup: %s", i, kt_errname(-r));
	}
	if (kt_pool_init(&n->txpool, &n->dev.mem, num, KT_TX_BUF) ||
	    kt_pool_init(&n->rxpool, &n->dev.mem, num, rx_buf_size))
		return kt_fail("buffer pools do not fit in guest RAM");
	return kt_net_attach(n);
}

void kt_net_close(struct kt_net *n)
{
	kt_dev_close(&n->dev);
	kt_pool_free(&n->txpool);
	kt_pool_free(&n->rxpool);
	if (n->psock >= 0)
		close(n->psock);
	n->psock = -1;
	kt_tap_close(&n->tap);
}

int kt_net_tap_gone(struct kt_net *n, int timeout_ms)
{
	long deadline = kt_deadline(timeout_ms);

	if (n->psock >= 0)
		close(n->psock);
	n->psock = -1;
	kt_tap_close(&n->tap);
	while (if_nametoindex("kttap0")) {
		if (kt_now_ms() > deadline)
			return kt_fail("kttap0 still exists after every fd was closed: the device leaked its socket");
		kt_sleep_ms(10);
	}
	return KT_PASS;
}

int kt_net_tx(struct kt_net *n, const void *frame, size_t len, bool indirect)
{
	struct kt_vq *vq = &n->dev.vq[KT_TXQ];
	uint64_t gpa = kt_pool_get(&n->txpool);
	struct kt_buf b[3];
	uint8_t *p;
	int head;

	if (!gpa)
		return -ENOSPC;
	if (n->hdr_len + len > n->txpool.size) {
		kt_pool_put(&n->txpool, gpa);
		return -EMSGSIZE;
	}
	p = kt_gpa(&n->dev.mem, gpa);
	memset(p, 0, n->hdr_len);
	memcpy(p + n->hdr_len, frame, len);
	if (indirect) {
		/* Header alone, then the frame in two uneven pieces. */
		b[0].gpa = gpa;
		b[0].len = n->hdr_len;
		b[1].gpa = gpa + n->hdr_len;
		b[1].len = len / 3;
		b[2].gpa = b[1].gpa + b[1].len;
		b[2].len = len - b[1].len;
		head = kt_vq_add(vq, b, 3, NULL, 0, true, gpa);
	} else {
		b[0].gpa = gpa;
		b[0].len = n->hdr_len + len;
		head = kt_vq_add(vq, b, 1, NULL, 0, false, gpa);
	}
	if (head < 0) {
		kt_pool_put(&n->txpool, gpa);
		return head;
	}
	kt_vq_kick(vq);
	return head;
}

int kt_net_tx_reap(struct kt_net *n, unsigned int count, int timeout_ms)
{
	struct kt_vq *vq = &n->dev.vq[KT_TXQ];
	long deadline = kt_deadline(timeout_ms);
	unsigned int seen = 0;
	uint64_t token;
	uint32_t id, len;
	int r;

	while (seen < count) {
		long left = deadline - kt_now_ms();

		r = kt_vq_wait_used(vq, &id, &len, &token,
				    left > 0 ? (int)left : 0);
		if (r < 0)
			return kt_fail("TX used ring: %s", kt_errname(-r));
		if (r == 0)
			return kt_fail("TX: %u of %u used entries after %d ms",
				       seen, count, timeout_ms);
		if (len != 0)
			return kt_fail("TX used entry for head %u has len %u (device wrote nothing: want 0)",
				       id, len);
		kt_pool_put(&n->txpool, token);
		seen++;
	}
	return KT_PASS;
}

int kt_net_rx_post(struct kt_net *n, unsigned int count, bool indirect)
{
	struct kt_vq *vq = &n->dev.vq[KT_RXQ];
	struct kt_buf b[2];
	unsigned int i;
	uint64_t gpa;
	int head;

	for (i = 0; i < count; i++) {
		gpa = kt_pool_get(&n->rxpool);
		if (!gpa)
			return -ENOSPC;
		if (indirect) {
			b[0].gpa = gpa;
			b[0].len = n->hdr_len;
			b[1].gpa = gpa + n->hdr_len;
			b[1].len = n->rxpool.size - n->hdr_len;
			head = kt_vq_add(vq, NULL, 0, b, 2, true, gpa);
		} else {
			b[0].gpa = gpa;
			b[0].len = n->rxpool.size;
			head = kt_vq_add(vq, NULL, 0, b, 1, false, gpa);
		}
		if (head < 0) {
			kt_pool_put(&n->rxpool, gpa);
			return head;
		}
	}
	kt_vq_kick(vq);
	return 0;
}

ssize_t kt_net_rx_recv(struct kt_net *n, struct virtio_net_hdr_mrg_rxbuf *hdr,
		       void *frame, size_t cap, unsigned int *nbufs,
		       int timeout_ms)
{
	struct kt_vq *vq = &n->dev.vq[KT_RXQ];
	bool mrg = kt_has_feature(&n->dev, VIRTIO_NET_F_MRG_RXBUF);
	unsigned int want = 1, got = 0;
	size_t total = 0, flen = 0;
	uint8_t *out = frame;
	uint64_t token;
	uint32_t id, len;
	const uint8_t *p;
	int r;

	memset(hdr, 0, sizeof(*hdr));
	while (got < want) {
		/* Later buffers of one packet are published with the first:
		 * a short wait for them is enough. */
		r = kt_vq_wait_used(vq, &id, &len, &token,
				    got ? 1000 : timeout_ms);
		if (r < 0)
			return r;
		if (r == 0) {
			if (!got)
				return 0;
			kt_diag("RX: packet announced %u buffers, only %u arrived",
				want, got);
			return -EPROTO;
		}
		if (len > n->rxpool.size) {
			kt_diag("RX: used len %u of head %u exceeds the %u-byte buffer",
				len, id, n->rxpool.size);
			return -EPROTO;
		}
		p = kt_gpa(&n->dev.mem, token);
		if (!got) {
			if (len < n->hdr_len) {
				kt_diag("RX: first used len %u is shorter than the %zu-byte header",
					len, n->hdr_len);
				return -EPROTO;
			}
			memcpy(hdr, p, n->hdr_len);
			if (mrg) {
				want = hdr->num_buffers;
				if (!want || want > vq->num) {
					kt_diag("RX: num_buffers %u (ring of %u)",
						want, vq->num);
					return -EPROTO;
				}
			}
			p += n->hdr_len;
			len -= n->hdr_len;
		}
		if (flen + len <= cap) {
			memcpy(out + flen, p, len);
			flen += len;
		}
		total += len;
		kt_pool_put(&n->rxpool, token);
		got++;
	}
	if (nbufs)
		*nbufs = got;
	if (total > cap) {
		kt_diag("RX: %zu-byte packet does not fit the %zu-byte test buffer",
			total, cap);
		return -EMSGSIZE;
	}
	return (ssize_t)total;
}

int kt_net_expect_rx(struct kt_net *n, const void *want, size_t len,
		     int timeout_ms, unsigned int want_bufs,
		     unsigned int *nbufs)
{
	struct virtio_net_hdr_mrg_rxbuf hdr;
	unsigned int bufs = 0;
	uint8_t got[4096];
	ssize_t r;

	r = kt_net_rx_recv(n, &hdr, got, sizeof(got), &bufs, timeout_ms);
	if (r < 0)
		return kt_fail("RX ring: %s", kt_errname((int)-r));
	if (r == 0)
		return kt_fail("the %zu-byte frame did not reach the RX ring within %d ms",
			       len, timeout_ms);
	if (!kt_bytes_equal(got, r, want, len, "received frame"))
		return kt_fail("received frame (used length %zd + header) differs from the one injected",
			       r);
	if (hdr.hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE ||
	    (hdr.hdr.flags & ~VIRTIO_NET_HDR_F_DATA_VALID))
		return kt_fail("virtio-net header flags 0x%x gso_type %u",
			       hdr.hdr.flags, hdr.hdr.gso_type);
	/* Without MRG_RXBUF upstream leaves num_buffers to the socket. */
	if (kt_has_feature(&n->dev, VIRTIO_NET_F_MRG_RXBUF) &&
	    hdr.num_buffers != bufs)
		return kt_fail("num_buffers %u but the packet used %u heads",
			       hdr.num_buffers, bufs);
	if (want_bufs && bufs != want_bufs)
		return kt_fail("packet spans %u buffers, want %u", bufs,
			       want_bufs);
	if (nbufs)
		*nbufs = bufs;
	return KT_PASS;
}
