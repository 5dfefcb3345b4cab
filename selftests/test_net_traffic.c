// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_net_traffic: frames through a vhost-net device and a tap, both ways.
 *
 * The program plays the guest driver (lib/), the tap lives in a private
 * network namespace with 192.0.2.1/24, and a packet socket on the tap sees
 * what the device transmits and injects what it should receive.  Every
 * virtio-net header layout is covered: 10 or 12 bytes, supplied by the tap
 * (IFF_VNET_HDR) or by the device (VHOST_NET_F_VIRTIO_NET_HDR).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kt.h"

#define F(bit) (1ULL << (bit))
#define F_VHOST_HDR F(VHOST_NET_F_VIRTIO_NET_HDR)
#define F_V1 F(VIRTIO_F_VERSION_1)
#define F_MRG F(VIRTIO_NET_F_MRG_RXBUF)
#define F_INDIRECT F(VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT_IDX F(VIRTIO_RING_F_EVENT_IDX)

#define WAIT_MS 2000
#define QUIET_MS 300		/* how long "nothing happens" is watched */

static const size_t frame_sizes[] = { 60, 61, 100, 511, 1000, 1514 };
#define NSIZES (sizeof(frame_sizes) / sizeof(frame_sizes[0]))

/* A case's parameters (kt_case_data()): features, and a flag or a ring. */
struct variant {
	uint64_t features;
	int arg;
};

#define VARIANT(f, a) (&(const struct variant){ (f), (a) })

static int tx_frames(const struct kt_target *t, uint64_t features,
		     bool indirect)
{
	struct kt_net n;
	uint8_t frame[2048];
	size_t i, len;
	int r;

	r = kt_net_open(&n, t, features, 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	for (i = 0; i < NSIZES; i++) {
		len = kt_frame_test(frame, n.tap.mac, kt_guest_mac,
				    frame_sizes[i] - 14, (uint32_t)i + 1);
		r = kt_net_tx(&n, frame, len, indirect);
		if (r < 0)
			return kt_fail("posting frame %zu: %s", i, kt_errname(-r));
		KT_TRY(kt_expect_packet(n.psock, frame, len, WAIT_MS,
				       "the tap"));
		KT_TRY(kt_net_tx_reap(&n, 1, WAIT_MS));
	}
	kt_net_close(&n);
	return KT_PASS;
}

static int case_tx_frames(const struct kt_target *t)
{
	const struct variant *v = kt_case_data();

	return tx_frames(t, v->features, v->arg);
}

static int case_tx_indirect(const struct kt_target *t)
{
	return tx_frames(t, F_V1 | F_INDIRECT, false) ?:
	       tx_frames(t, F_V1 | F_INDIRECT, true);
}

/*
 * Post the TX chain @b (@nb buffers) and kick: the tap must see exactly
 * @frame, and the ring give the chain back.
 */
static int tx_chain_expect(struct kt_net *n, struct kt_buf *b, int nb,
			   const uint8_t *frame, size_t len)
{
	struct kt_vq *vq = &n->dev.vq[KT_TXQ];
	int r;

	r = kt_vq_add(vq, b, nb, NULL, 0, false, 0);
	KT_ASSERT(r >= 0, "add: %s", kt_errname(-r));
	kt_vq_kick(vq);
	KT_TRY(kt_expect_packet(n->psock, frame, len, WAIT_MS, "the tap"));
	r = kt_vq_wait_used(vq, NULL, NULL, NULL, WAIT_MS);
	KT_ASSERT(r == 1, "no used entry for the chain (%d)", r);
	return KT_PASS;
}

/* Header and frame spread over many direct descriptors of one chain. */
static int case_tx_chain(const struct kt_target *t)
{
	struct kt_net n;
	struct kt_buf b[8];
	uint8_t frame[1514], *p;
	uint64_t gpa;
	size_t len, off, piece;
	int r, i;

	r = kt_net_open(&n, t, F_V1, 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	len = kt_frame_test(frame, n.tap.mac, kt_guest_mac, 1500, 77);
	gpa = kt_mem_alloc(&n.dev.mem, 4096, 64);
	p = kt_gpa(&n.dev.mem, gpa);
	memset(p, 0, n.hdr_len);
	/* Pieces laid out out of order in guest RAM, with gaps. */
	b[0].gpa = gpa;
	b[0].len = n.hdr_len;
	for (i = 1, off = 0; i < 8; i++) {
		piece = i < 7 ? len / 7 : len - off;
		b[i].gpa = gpa + 4096 - (uint64_t)i * 300 - 16 * i;
		b[i].len = piece;
		memcpy(kt_gpa(&n.dev.mem, b[i].gpa), frame + off, piece);
		off += piece;
	}
	/* Make sure the pieces do not overlap each other or the header. */
	for (i = 1; i < 8; i++)
		KT_ASSERT(b[i].gpa >= gpa + 64 && b[i].len <= 300,
			  "piece %d layout", i);
	KT_TRY(tx_chain_expect(&n, b, 8, frame, len));
	kt_net_close(&n);
	return KT_PASS;
}

/*
 * The header split where no segment boundary falls after it: 5 bytes in
 * the first descriptor, the rest of it and the frame's first 100 bytes in
 * the second, the frame's rest in a third.  Whoever owns the header (the
 * tap, or the device that strips it), the tap must see exactly the frame.
 */
static int case_tx_split_header(const struct kt_target *t)
{
	const struct variant *v = kt_case_data();
	struct kt_net n;
	struct kt_buf b[3];
	uint8_t frame[1514];
	uint64_t gpa;
	size_t len, h;
	int r;

	r = kt_net_open(&n, t, v->features, 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	h = n.hdr_len;
	len = kt_frame_test(frame, n.tap.mac, kt_guest_mac, 1000, 91);
	gpa = kt_mem_alloc(&n.dev.mem, 4096, 64);
	memset(kt_gpa(&n.dev.mem, gpa), 0, h);
	memcpy(kt_gpa(&n.dev.mem, gpa + h), frame, 100);
	memcpy(kt_gpa(&n.dev.mem, gpa + 2048), frame + 100, len - 100);
	b[0] = (struct kt_buf){ gpa, 5 };
	b[1] = (struct kt_buf){ gpa + 5, h - 5 + 100 };
	b[2] = (struct kt_buf){ gpa + 2048, len - 100 };
	KT_TRY(tx_chain_expect(&n, b, 3, frame, len));
	kt_net_close(&n);
	return KT_PASS;
}

/* A real UDP datagram into the namespace's stack at 192.0.2.1. */
static int case_tx_udp_stack(const struct kt_target *t)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(5555) };
	uint8_t payload[700], got[2048], frame[2048];
	struct kt_net n;
	size_t len;
	ssize_t r2;
	int s, r, i;

	r = kt_net_open(&n, t, F_V1, 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	KT_ASSERT(s >= 0, "socket: %m");
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	KT_ERRNO(0, bind(s, (struct sockaddr *)&sin, sizeof(sin)));
	for (i = 0; i < 4; i++) {
		kt_fill_pattern(payload, sizeof(payload), 100 + i);
		len = kt_frame_udp(frame, n.tap.mac, kt_guest_mac, "192.0.2.2",
				   "192.0.2.1", 4444, 5555, payload,
				   100 + i * 200);
		r = kt_net_tx(&n, frame, len, false);
		KT_ASSERT(r >= 0, "tx: %s", kt_errname(-r));
		KT_ASSERT(kt_wait_readable(s, WAIT_MS) == 1,
			  "datagram %d not delivered to 192.0.2.1:5555", i);
		r2 = recv(s, got, sizeof(got), MSG_DONTWAIT);
		KT_ASSERT(kt_bytes_equal(got, r2 < 0 ? 0 : r2, payload,
					 100 + i * 200, "UDP payload"),
			  "datagram %d payload", i);
		KT_TRY(kt_net_tx_reap(&n, 1, WAIT_MS));
	}
	close(s);
	kt_net_close(&n);
	return KT_PASS;
}

static int inject(struct kt_net *n, const uint8_t *frame, size_t len)
{
	int r = kt_packet_send(n->psock, n->tap.ifindex, frame, len);

	if (r)
		return kt_fail("injecting a %zu-byte frame: %s", len,
			       strerror(-r));
	return KT_PASS;
}

static int case_rx_frames(const struct kt_target *t)
{
	const struct variant *v = kt_case_data();
	uint64_t features = v->features;
	bool indirect = v->arg;
	struct kt_net n;
	uint8_t frame[2048];
	size_t i, len;
	int r;

	r = kt_net_open(&n, t, features, 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	r = kt_net_rx_post(&n, 16, indirect);
	KT_ASSERT(r == 0, "posting RX buffers: %s", kt_errname(-r));
	for (i = 0; i < NSIZES; i++) {
		len = kt_frame_test(frame, kt_guest_mac, n.tap.mac,
				    frame_sizes[i] - 14, (uint32_t)i + 10);
		KT_TRY(inject(&n, frame, len));
		KT_TRY(kt_net_expect_rx(&n, frame, len, WAIT_MS, 1, NULL));
	}
	kt_net_close(&n);
	return KT_PASS;
}

/* The namespace's stack sends UDP to 192.0.2.2 (the guest, by a static
 * neighbour entry): the datagram lands in the RX ring. */
static int case_rx_udp_stack(const struct kt_target *t)
{
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons(6666) };
	struct virtio_net_hdr_mrg_rxbuf hdr;
	uint8_t payload[900], got[2048];
	unsigned int nbufs;
	struct kt_net n;
	ssize_t r2;
	int s, r;

	r = kt_net_open(&n, t, F_V1, 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	r = kt_neigh_add(n.tap.name, "192.0.2.2", kt_guest_mac);
	KT_ASSERT(r == 0, "static neighbour: %s", strerror(-r));
	KT_ASSERT(kt_net_rx_post(&n, 16, false) == 0, "post");
	s = socket(AF_INET, SOCK_DGRAM, 0);
	KT_ASSERT(s >= 0, "socket: %m");
	inet_pton(AF_INET, "192.0.2.2", &dst.sin_addr);
	kt_fill_pattern(payload, sizeof(payload), 4242);
	KT_ERRNO(0, sendto(s, payload, sizeof(payload), 0,
			   (struct sockaddr *)&dst, sizeof(dst)));
	r2 = kt_net_rx_recv(&n, &hdr, got, sizeof(got), &nbufs, WAIT_MS);
	KT_ASSERT(r2 > 0, "no datagram in the RX ring (%zd)", r2);
	KT_ASSERT(r2 == 14 + 20 + 8 + (ssize_t)sizeof(payload),
		  "frame length %zd", r2);
	KT_ASSERT(!memcmp(got, kt_guest_mac, 6), "destination MAC");
	KT_ASSERT(got[12] == 0x08 && got[13] == 0x00, "ethertype");
	KT_ASSERT(got[14 + 9] == IPPROTO_UDP, "IP protocol %u", got[23]);
	KT_ASSERT(got[36] == 0x1a && got[37] == 0x0a, "UDP port");
	KT_ASSERT(kt_bytes_equal(got + 42, r2 - 42, payload, sizeof(payload),
				 "UDP payload"), "payload");
	KT_ASSERT(hdr.hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE,
		  "gso_type %u", hdr.hdr.gso_type);
	close(s);
	kt_net_close(&n);
	return KT_PASS;
}

/* Mergeable RX buffers: small buffers, packets spanning several heads. */
static int case_rx_mrg(const struct kt_target *t)
{
	const struct variant *v = kt_case_data();
	uint64_t features = v->features;
	static const size_t sizes[] = { 60, 116, 117, 500, 1000, 1514 };
	const uint32_t bufsz = 128;
	struct kt_net n;
	uint8_t frame[2048];
	unsigned int want;
	size_t i, len;
	int r;

	r = kt_net_open(&n, t, features | F_MRG, 128, bufsz, 0);
	if (r != KT_PASS)
		return r;
	KT_ASSERT(n.hdr_len == 12, "hdr_len %zu", n.hdr_len);
	r = kt_net_rx_post(&n, 64, false);
	KT_ASSERT(r == 0, "post: %s", kt_errname(-r));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		len = kt_frame_test(frame, kt_guest_mac, n.tap.mac,
				    sizes[i] - 14, (uint32_t)i + 20);
		want = (len + n.hdr_len + bufsz - 1) / bufsz;
		KT_TRY(inject(&n, frame, len));
		KT_TRY(kt_net_expect_rx(&n, frame, len, WAIT_MS, want, NULL));
		/* Give the buffers back so the ring never runs dry. */
		KT_ASSERT(kt_net_rx_post(&n, want, false) == 0, "repost");
	}
	kt_net_close(&n);
	return KT_PASS;
}

/*
 * RX buffers that split the 12-byte header 5 + 7, 10 + 2 and 11 + 1, the
 * pieces apart in guest memory and the frame in a third: num_buffers lands
 * where the split puts it, nothing lands between the pieces, and the frame
 * is whole.  (The device writes num_buffers in one store when the first
 * buffer holds the whole header; these are the layouts where it must not,
 * the last two one byte either side of a check against the 10-byte
 * header.)
 */
static int case_rx_split_header(const struct kt_target *t)
{
	const struct variant *v = kt_case_data();
	static const size_t sizes[] = { 60, 700, 1400 };
	static const uint32_t splits[] = { 5, 10, 11 };
	const uint32_t bufsz = 2048, frame_off = 512, gap_off = 256;
	struct virtio_net_hdr_mrg_rxbuf hdr;
	uint32_t used_len, first;
	uint8_t frame[2048], *p;
	uint64_t gpa, token;
	struct kt_buf b[3];
	struct kt_vq *vq;
	struct kt_net n;
	size_t i, j, k, len;
	int r;

	r = kt_net_open(&n, t, v->features | F_MRG, 64, bufsz, 0);
	if (r != KT_PASS)
		return r;
	KT_ASSERT(n.hdr_len == 12, "hdr_len %zu", n.hdr_len);
	vq = &n.dev.vq[KT_RXQ];
	for (k = 0; k < sizeof(splits) / sizeof(splits[0]); k++) {
		first = splits[k];
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			gpa = kt_pool_get(&n.rxpool);
			KT_ASSERT(gpa, "RX pool empty");
			memset(kt_gpa(&n.dev.mem, gpa), 0xaa, frame_off);
			b[0] = (struct kt_buf){ gpa, first };
			b[1] = (struct kt_buf){ gpa + gap_off, 12 - first };
			b[2] = (struct kt_buf){ gpa + frame_off,
						bufsz - frame_off };
			KT_ASSERT(kt_vq_add(vq, NULL, 0, b, 3, false, gpa) >= 0,
				  "posting a chain");
			kt_vq_kick(vq);

			len = kt_frame_test(frame, kt_guest_mac, n.tap.mac,
					    sizes[i] - 14,
					    (uint32_t)(k * 10 + i + 50));
			KT_TRY(inject(&n, frame, len));
			r = kt_vq_wait_used(vq, NULL, &used_len, &token,
					    WAIT_MS);
			KT_ASSERT(r == 1, "%u + %u: no used entry (%d)", first,
				  12 - first, r);
			KT_ASSERT(token == gpa, "%u + %u: another chain used",
				  first, 12 - first);
			KT_ASSERT(used_len == n.hdr_len + len,
				  "%u + %u: used length %u, want %zu", first,
				  12 - first, used_len, n.hdr_len + len);
			p = kt_gpa(&n.dev.mem, token);
			memcpy(&hdr, p, first);
			memcpy((uint8_t *)&hdr + first, p + gap_off,
			       12 - first);
			KT_ASSERT(le16toh(hdr.num_buffers) == 1,
				  "%u + %u: num_buffers %u", first, 12 - first,
				  le16toh(hdr.num_buffers));
			KT_ASSERT(hdr.hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE &&
				  !(hdr.hdr.flags &
				    ~VIRTIO_NET_HDR_F_DATA_VALID),
				  "%u + %u: flags 0x%x gso_type %u", first,
				  12 - first, hdr.hdr.flags, hdr.hdr.gso_type);
			for (j = first; j < frame_off; j++) {
				if (j >= gap_off && j < gap_off + 12 - first)
					continue;
				KT_ASSERT(p[j] == 0xaa,
					  "%u + %u: byte %zu outside the buffers written (0x%02x)",
					  first, 12 - first, j, p[j]);
			}
			KT_ASSERT(kt_bytes_equal(p + frame_off, len, frame, len,
						 "received frame"),
				  "%u + %u: %zu-byte frame differs", first,
				  12 - first, len);
			kt_pool_put(&n.rxpool, gpa);
		}
	}
	kt_net_close(&n);
	return KT_PASS;
}

/* Without MRG_RXBUF a frame larger than the buffer is dropped, the buffer is
 * not consumed, and the next frame still arrives. */
static int case_rx_oversize(const struct kt_target *t)
{
	const struct variant *v = kt_case_data();
	uint64_t features = v->features;
	struct kt_net n;
	uint8_t big[1514], small[256];
	size_t blen, slen;
	int r;

	r = kt_net_open(&n, t, features, 64, 256, 0);
	if (r != KT_PASS)
		return r;
	KT_ASSERT(kt_net_rx_post(&n, 8, false) == 0, "post");
	blen = kt_frame_test(big, kt_guest_mac, n.tap.mac, 1000, 31);
	slen = kt_frame_test(small, kt_guest_mac, n.tap.mac, 186, 32);
	KT_TRY(inject(&n, big, blen));
	KT_TRY(inject(&n, small, slen));
	KT_TRY(kt_net_expect_rx(&n, small, slen, WAIT_MS, 1, NULL));
	kt_sleep_ms(QUIET_MS);
	KT_ASSERT(kt_vq_used_pending(&n.dev.vq[KT_RXQ]) == 0,
		  "%u more used entries after the small frame",
		  kt_vq_used_pending(&n.dev.vq[KT_RXQ]));
	/* A frame that fits exactly still arrives. */
	slen = kt_frame_test(small, kt_guest_mac, n.tap.mac,
			     256 - n.hdr_len - 14, 33);
	KT_TRY(inject(&n, small, slen));
	KT_TRY(kt_net_expect_rx(&n, small, slen, WAIT_MS, 1, NULL));
	kt_net_close(&n);
	return KT_PASS;
}

/* Wait until the device has published `count` more used entries than the
 * driver has read, without asking for a call. */
static bool wait_used_pending(struct kt_vq *vq, uint16_t count, int ms)
{
	long deadline = kt_deadline(ms);

	while (kt_vq_used_pending(vq) < count) {
		if (kt_now_ms() > deadline)
			return false;
		kt_sleep_ms(2);
	}
	return true;
}

/*
 * Notification suppression on one ring. send() makes the device produce one
 * used entry on vq. With EVENT_IDX: used_event ahead of the used index means
 * no call; used_event at the next entry brings the call back; after going
 * idle the device asks for a kick at the driver's avail index. Without:
 * VRING_AVAIL_F_NO_INTERRUPT does the same, and NO_NOTIFY is clear when idle.
 */
static int notify_checks(struct kt_net *n, struct kt_vq *vq,
			 int (*send)(struct kt_net *n, uint32_t seed))
{
	uint32_t id, len;
	uint64_t token;
	int r;

	/* 1: a call for the first entry (nothing suppresses it). */
	kt_eventfd_drain(vq->call);
	KT_TRY(send(n, 1));
	r = kt_vq_wait_used(vq, &id, &len, &token, WAIT_MS);
	KT_ASSERT(r == 1, "first used entry (%d)", r);
	if (vq == &n->dev.vq[KT_RXQ]) {
		kt_pool_put(&n->rxpool, token);
		KT_ASSERT(kt_net_rx_post(n, 1, false) == 0, "repost");
	} else {
		kt_pool_put(&n->txpool, token);
	}

	/* 2: suppressed. */
	if (vq->event_idx)
		kt_vq_set_used_event(vq, vq->last_used + 100);
	else
		kt_vq_no_interrupt(vq, true);
	kt_sleep_ms(50);
	kt_eventfd_drain(vq->call);
	KT_TRY(send(n, 2));
	KT_ASSERT(wait_used_pending(vq, 1, WAIT_MS),
		  "second used entry not published");
	KT_ASSERT(kt_wait_eventfd(vq->call, QUIET_MS) == 0,
		  "call fired although %s",
		  vq->event_idx ? "used_event was 100 entries ahead" :
		  "VRING_AVAIL_F_NO_INTERRUPT was set");
	r = kt_vq_get_used(vq, &id, &len, &token);
	KT_ASSERT(r == 1, "get second");
	if (vq == &n->dev.vq[KT_RXQ]) {
		kt_pool_put(&n->rxpool, token);
		KT_ASSERT(kt_net_rx_post(n, 1, false) == 0, "repost");
	} else {
		kt_pool_put(&n->txpool, token);
	}

	/* 3: enabled again. */
	if (vq->event_idx)
		kt_vq_set_used_event(vq, vq->last_used);
	else
		kt_vq_no_interrupt(vq, false);
	kt_sleep_ms(50);
	kt_eventfd_drain(vq->call);
	KT_TRY(send(n, 3));
	KT_ASSERT(kt_wait_eventfd(vq->call, WAIT_MS) == 1,
		  "no call for the third entry although %s",
		  vq->event_idx ? "used_event pointed at it" :
		  "interrupts were enabled");
	KT_ASSERT(wait_used_pending(vq, 1, WAIT_MS), "third used entry");

	/* 4: once idle the TX side wants to hear about new buffers (RX only
	 * asks when it runs out: see case_rx_empty). */
	if (vq == &n->dev.vq[KT_RXQ])
		return KT_PASS;
	if (vq->event_idx) {
		long deadline = kt_deadline(WAIT_MS);

		while (kt_vq_avail_event(vq) != vq->avail_idx &&
		       kt_now_ms() < deadline)
			kt_sleep_ms(5);
		KT_ASSERT(kt_vq_avail_event(vq) == vq->avail_idx,
			  "avail_event %u, driver's avail idx %u",
			  kt_vq_avail_event(vq), vq->avail_idx);
	} else {
		long deadline = kt_deadline(WAIT_MS);

		while ((vq->used->flags & VRING_USED_F_NO_NOTIFY) &&
		       kt_now_ms() < deadline)
			kt_sleep_ms(5);
		KT_ASSERT(!(vq->used->flags & VRING_USED_F_NO_NOTIFY),
			  "device idle but VRING_USED_F_NO_NOTIFY still set");
	}
	return KT_PASS;
}

static int send_tx(struct kt_net *n, uint32_t seed)
{
	uint8_t frame[256];
	size_t len = kt_frame_test(frame, n->tap.mac, kt_guest_mac, 100, seed);
	int r = kt_net_tx(n, frame, len, false);

	if (r < 0)
		return kt_fail("tx: %s", kt_errname(-r));
	return kt_expect_packet(n->psock, frame, len, WAIT_MS, "the tap");
}

static int send_rx(struct kt_net *n, uint32_t seed)
{
	uint8_t frame[256];
	size_t len = kt_frame_test(frame, kt_guest_mac, n->tap.mac, 100, seed);

	return inject(n, frame, len);
}

static int case_notify(const struct kt_target *t)
{
	const struct variant *v = kt_case_data();
	uint64_t features = v->features;
	int q = v->arg;
	struct kt_net n;
	int r;

	r = kt_net_open(&n, t, features, 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	if (q == KT_RXQ)
		KT_ASSERT(kt_net_rx_post(&n, 8, false) == 0, "post");
	KT_TRY(notify_checks(&n, &n.dev.vq[q], q == KT_RXQ ? send_rx : send_tx));
	kt_net_close(&n);
	return KT_PASS;
}

/*
 * A frame arriving while the RX ring is empty waits in the tap; the device
 * then asks for a kick (avail_event or NO_NOTIFY clear), and the kick after
 * the driver posts a buffer delivers it.
 */
static int case_rx_empty(const struct kt_target *t)
{
	const struct variant *v = kt_case_data();
	uint64_t features = v->features;
	struct kt_net n;
	struct kt_vq *vq;
	struct kt_buf b;
	uint8_t frame[256];
	size_t len;
	long deadline;
	int r;

	r = kt_net_open(&n, t, features, 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	vq = &n.dev.vq[KT_RXQ];
	len = kt_frame_test(frame, kt_guest_mac, n.tap.mac, 100, 99);
	KT_TRY(inject(&n, frame, len));
	kt_sleep_ms(QUIET_MS);
	KT_ASSERT(kt_vq_used_pending(vq) == 0, "used entry without buffers");
	b.gpa = kt_pool_get(&n.rxpool);
	b.len = n.rxpool.size;
	r = kt_vq_add(vq, NULL, 0, &b, 1, false, b.gpa);
	KT_ASSERT(r >= 0, "add");
	/* The device may still be settling: give it a moment to ask. */
	deadline = kt_deadline(WAIT_MS);
	while (!kt_vq_kick_needed(vq) && kt_now_ms() < deadline)
		kt_sleep_ms(5);
	KT_ASSERT(kt_vq_kick_needed(vq),
		  "device out of RX buffers does not ask for a kick (%s)",
		  vq->event_idx ? "avail_event" : "VRING_USED_F_NO_NOTIFY");
	kt_vq_kick(vq);
	KT_TRY(kt_net_expect_rx(&n, frame, len, WAIT_MS, 1, NULL));
	kt_net_close(&n);
	return KT_PASS;
}

/* Ring indices that wrap from 65535 to 0 (rings restored at 65500). */
static int case_index_wrap(const struct kt_target *t)
{
	struct vhost_vring_state st;
	struct kt_net n;
	uint8_t frame[256];
	size_t len;
	int r, i;

	r = kt_net_open(&n, t, F_V1 | F_EVENT_IDX, 32, 512, 65500);
	if (r != KT_PASS)
		return r;
	KT_ASSERT(kt_net_rx_post(&n, 16, false) == 0, "post");
	for (i = 0; i < 100; i++) {
		len = kt_frame_test(frame, n.tap.mac, kt_guest_mac, 60 + i, i);
		r = kt_net_tx(&n, frame, len, false);
		KT_ASSERT(r >= 0, "tx %d: %s", i, kt_errname(-r));
		KT_TRY(kt_expect_packet(n.psock, frame, len, WAIT_MS,
				       "the tap"));
		KT_TRY(kt_net_tx_reap(&n, 1, WAIT_MS));
		len = kt_frame_test(frame, kt_guest_mac, n.tap.mac, 60 + i,
				    1000 + i);
		KT_TRY(inject(&n, frame, len));
		KT_TRY(kt_net_expect_rx(&n, frame, len, WAIT_MS, 1, NULL));
		KT_ASSERT(kt_net_rx_post(&n, 1, false) == 0, "repost");
	}
	KT_ASSERT(n.dev.vq[KT_TXQ].used->idx == (uint16_t)(65500 + 100),
		  "TX used->idx %u", n.dev.vq[KT_TXQ].used->idx);
	KT_ASSERT(kt_net_backend(&n.dev, KT_TXQ, -1) == 0, "detach");
	st.index = KT_TXQ;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_GET_VRING_BASE, &st));
	KT_ASSERT(st.num == (uint16_t)(65500 + 100),
		  "GET_VRING_BASE %u, want %u", st.num,
		  (uint16_t)(65500 + 100));
	kt_net_close(&n);
	return KT_PASS;
}

/* A whole ring of frames posted before one kick: more than one pass of the
 * device's worker (its weight limit) and every frame in order. */
static int case_tx_burst(const struct kt_target *t)
{
	const unsigned int num = 256;
	uint8_t frame[128], got[2048];
	struct kt_net n;
	struct kt_vq *vq;
	unsigned int i;
	size_t len;
	ssize_t r2;
	int r;

	r = kt_net_open(&n, t, F_V1 | F_EVENT_IDX, num, 256, 0);
	if (r != KT_PASS)
		return r;
	vq = &n.dev.vq[KT_TXQ];
	for (i = 0; i < num; i++) {
		uint64_t gpa = kt_pool_get(&n.txpool);
		struct kt_buf b;
		uint8_t *p = kt_gpa(&n.dev.mem, gpa);

		len = kt_frame_test(frame, n.tap.mac, kt_guest_mac, 64, i);
		memset(p, 0, n.hdr_len);
		memcpy(p + n.hdr_len, frame, len);
		b.gpa = gpa;
		b.len = n.hdr_len + len;
		r = kt_vq_add(vq, &b, 1, NULL, 0, false, gpa);
		KT_ASSERT(r >= 0, "add %u: %s", i, kt_errname(-r));
	}
	kt_vq_kick(vq);
	for (i = 0; i < num; i++) {
		uint32_t seed;

		r2 = kt_packet_recv(n.psock, got, sizeof(got), KT_ETH_P_TEST,
				    WAIT_MS * 2);
		KT_ASSERT(r2 > 0, "frame %u of %u never appeared", i, num);
		memcpy(&seed, got + 14, 4);
		KT_ASSERT(seed == i, "frame %u carries seed %u: out of order or lost",
			  i, seed);
	}
	KT_TRY(kt_net_tx_reap(&n, num, WAIT_MS * 2));
	kt_net_close(&n);
	return KT_PASS;
}

/*
 * Frames too big for a page (6000-byte payloads: the sendmsg() path, not the
 * batched one), 32 posted before one kick, no EVENT_IDX: the device must
 * tell the guest of each one soon after it went, not once per batch of 64.
 * A guest's TCP keeps at most about 1 MiB in the device's queue (TCP Small
 * Queues) and sends more only as completions come, so completions held back
 * for a batch of 64-KiB frames stall it.  Upstream signals before each such
 * frame (vhost_tx_batch()); so must kvio: the call eventfd counts at least
 * one call per two frames, and every frame reaches the tap, in order.
 */
static int case_tx_big_completions(const struct kt_target *t)
{
	const unsigned int nframes = 32, size = 8192;
	static uint8_t frame[8192], got[8192];
	uint64_t gpa, calls;
	unsigned int i, seen = 0;
	struct kt_net n;
	struct kt_vq *vq;
	struct kt_buf b;
	uint32_t seed;
	size_t len;
	ssize_t r2;
	int r, waited;

	r = kt_net_open(&n, t, F_V1, 64, 2048, 0);
	if (r != KT_PASS)
		return r;
	vq = &n.dev.vq[KT_TXQ];
	gpa = kt_mem_alloc(&n.dev.mem, (size_t)nframes * size, 64);
	KT_ASSERT(gpa, "guest memory");
	for (i = 0; i < nframes; i++) {
		uint8_t *p = kt_gpa(&n.dev.mem, gpa + (uint64_t)i * size);

		len = kt_frame_test(frame, n.tap.mac, kt_guest_mac, 6000, i);
		memset(p, 0, n.hdr_len);
		memcpy(p + n.hdr_len, frame, len);
		b.gpa = gpa + (uint64_t)i * size;
		b.len = n.hdr_len + len;
		r = kt_vq_add(vq, &b, 1, NULL, 0, false, i);
		KT_ASSERT(r >= 0, "add %u: %s", i, kt_errname(-r));
	}
	kt_eventfd_drain(vq->call);
	kt_vq_kick(vq);
	for (i = 0; i < nframes; i++) {
		r2 = kt_packet_recv(n.psock, got, sizeof(got), KT_ETH_P_TEST,
				    WAIT_MS * 2);
		KT_ASSERT(r2 == (ssize_t)len, "frame %u of %u: %zd bytes, want %zu",
			  i, nframes, r2, len);
		memcpy(&seed, got + 14, 4);
		KT_ASSERT(seed == i, "frame %u carries seed %u", i, seed);
	}
	/* Reap without touching the call eventfd: it counts the calls. */
	for (waited = 0; seen < nframes && waited < WAIT_MS * 2; waited += 10) {
		while (seen < nframes &&
		       (r = kt_vq_get_used(vq, NULL, NULL, NULL)) == 1)
			seen++;
		KT_ASSERT(r >= 0, "used ring: %s", kt_errname(-r));
		if (seen < nframes)
			usleep(10000);
	}
	KT_ASSERT(seen == nframes, "%u of %u frames used", seen, nframes);
	calls = kt_eventfd_drain(vq->call);
	kt_diag("%u frames, %llu calls", nframes, (unsigned long long)calls);
	KT_ASSERT(calls >= nframes / 2,
		  "%llu calls for %u big frames: completions held back",
		  (unsigned long long)calls, nframes);
	kt_net_close(&n);
	return KT_PASS;
}

/*
 * Frame @i each way at once: a TX frame sent, an RX frame injected, the TX
 * frame checked at the tap and its buffer reaped, the RX frame checked in
 * the guest's buffer, which is posted again.
 */
static int frame_each_way(struct kt_net *n, unsigned int i)
{
	uint8_t tx[512], rx[512], got[2048];
	size_t tlen, rlen;
	ssize_t r2;
	int r;

	tlen = kt_frame_test(tx, n->tap.mac, kt_guest_mac, 300, i);
	r = kt_net_tx(n, tx, tlen, false);
	KT_ASSERT(r >= 0, "tx %u: %s", i, kt_errname(-r));
	rlen = kt_frame_test(rx, kt_guest_mac, n->tap.mac, 400, 5000 + i);
	KT_TRY(inject(n, rx, rlen));
	r2 = kt_packet_recv(n->psock, got, sizeof(got), KT_ETH_P_TEST, WAIT_MS);
	KT_ASSERT(r2 > 0 && kt_bytes_equal(got, r2, tx, tlen, "tx frame"),
		  "TX frame %u", i);
	KT_TRY(kt_net_tx_reap(n, 1, WAIT_MS));
	KT_TRY(kt_net_expect_rx(n, rx, rlen, WAIT_MS, 1, NULL));
	KT_ASSERT(kt_net_rx_post(n, 1, false) == 0, "repost");
	return KT_PASS;
}

/* Both directions at once, many frames. */
static int case_bidir(const struct kt_target *t)
{
	struct kt_net n;
	unsigned int i;
	int r;

	r = kt_net_open(&n, t, F_V1 | F_MRG | F_EVENT_IDX, 128, 1536, 0);
	if (r != KT_PASS)
		return r;
	KT_ASSERT(kt_net_rx_post(&n, 64, false) == 0, "post");
	for (i = 0; i < 300; i++)
		KT_TRY(frame_each_way(&n, i));
	kt_net_close(&n);
	return KT_PASS;
}

/*
 * VHOST_SET_VRING_BUSYLOOP_TIMEOUT on both rings: frames each way, then the
 * guest goes quiet.  Each ring polls at most its timeout after its last
 * work, so the worker must come to rest.  A handler whose poll other work
 * of the worker cut short must not queue itself again behind that work: the
 * other ring's handler would see it queued and do the same, and the two
 * would hand the worker back and forth for as long as the guest is quiet.
 */
static int case_busyloop_quiet(const struct kt_target *t)
{
	const unsigned int us = 20000;
	struct vhost_vring_state st = { .num = us };
	long before, after;
	struct kt_net n;
	unsigned int i;
	pid_t worker;
	int r;

	r = kt_net_open(&n, t, F_V1 | F_MRG | F_EVENT_IDX, 128, 1536, 0);
	if (r != KT_PASS)
		return r;
	for (st.index = 0; st.index < 2; st.index++)
		KT_ERRNO(0, ioctl(n.dev.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
				  &st));
	worker = kt_worker_pid(getpid());
	KT_ASSERT(worker, "no worker thread of pid %d", (int)getpid());
	KT_ASSERT(kt_net_rx_post(&n, 64, false) == 0, "post");
	for (i = 0; i < 20; i++)
		KT_TRY(frame_each_way(&n, i));
	/* Quiet now: every poll has ended well within this. */
	kt_sleep_ms(500);
	before = kt_task_cpu_ms(worker);
	kt_sleep_ms(1000);
	after = kt_task_cpu_ms(worker);
	KT_ASSERT(before >= 0 && after >= 0, "worker CPU time unreadable");
	kt_diag("worker CPU time in 1 s of quiet: %ld ms", after - before);
	KT_ASSERT(after - before < 50,
		  "the worker spun %ld ms of 1 s with the guest quiet",
		  after - before);
	/* And it still serves: one more frame each way. */
	KT_TRY(frame_each_way(&n, i));
	kt_net_close(&n);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "TX 10-byte header from the tap (IFF_VNET_HDR)", case_tx_frames,
	  .data = VARIANT(0, false) },
	{ "TX 10-byte header stripped by the device (VHOST_NET_F_VIRTIO_NET_HDR)",
	  case_tx_frames, .data = VARIANT(F_VHOST_HDR, false),
	  .upstream_bug = KT_UPSTREAM_XDP_GSO_BUG },
	{ "TX 12-byte header (VERSION_1) from the tap", case_tx_frames,
	  .data = VARIANT(F_V1, false) },
	{ "TX 12-byte header (VERSION_1) stripped by the device",
	  case_tx_frames, .data = VARIANT(F_V1 | F_VHOST_HDR, false),
	  .upstream_bug = KT_UPSTREAM_XDP_GSO_BUG },
	{ "TX through indirect descriptors", case_tx_indirect },
	{ "TX header and frame over an 8-descriptor chain", case_tx_chain },
	{ "TX 12-byte header split 5 + 7 with the frame's start, from the tap",
	  case_tx_split_header, .data = VARIANT(F_V1, false) },
	{ "TX 12-byte header split 5 + 7 with the frame's start, stripped by the device",
	  case_tx_split_header, .data = VARIANT(F_V1 | F_VHOST_HDR, false),
	  .upstream_bug = KT_UPSTREAM_XDP_GSO_BUG },
	{ "TX UDP datagram delivered to 192.0.2.1 by the stack",
	  case_tx_udp_stack },
	{ "TX burst of a full 256-entry ring with one kick, in order",
	  case_tx_burst },
	{ "TX of 32 frames too big for a page: a call at least every second frame, not per batch",
	  case_tx_big_completions },
	{ "RX 10-byte header from the tap", case_rx_frames,
	  .data = VARIANT(0, false) },
	{ "RX 10-byte header written by the device", case_rx_frames,
	  .data = VARIANT(F_VHOST_HDR, false) },
	{ "RX 12-byte header (VERSION_1) from the tap", case_rx_frames,
	  .data = VARIANT(F_V1, false) },
	{ "RX 12-byte header (VERSION_1) written by the device",
	  case_rx_frames, .data = VARIANT(F_V1 | F_VHOST_HDR, false) },
	{ "RX into indirect descriptors", case_rx_frames,
	  .data = VARIANT(F_V1 | F_INDIRECT, true) },
	{ "RX UDP datagram from the stack to 192.0.2.2", case_rx_udp_stack },
	{ "RX mergeable buffers (tap header): num_buffers and spans",
	  case_rx_mrg, .data = VARIANT(0, 0) },
	{ "RX mergeable buffers (device header): num_buffers and spans",
	  case_rx_mrg, .data = VARIANT(F_V1 | F_VHOST_HDR, 0) },
	{ "RX 12-byte header split 5 + 7, 10 + 2, 11 + 1 apart from the frame, from the tap",
	  case_rx_split_header, .data = VARIANT(F_V1, 0) },
	{ "RX 12-byte header split 5 + 7, 10 + 2, 11 + 1 apart from the frame, written by the device",
	  case_rx_split_header, .data = VARIANT(F_V1 | F_VHOST_HDR, 0) },
	{ "RX frame larger than the buffer without MRG_RXBUF dropped (tap header)",
	  case_rx_oversize, .data = VARIANT(0, 0) },
	{ "RX frame larger than the buffer without MRG_RXBUF dropped (device header)",
	  case_rx_oversize, .data = VARIANT(F_V1 | F_VHOST_HDR, 0) },
	{ "EVENT_IDX on TX: used_event suppresses calls, avail_event asks for kicks",
	  case_notify, .data = VARIANT(F_V1 | F_EVENT_IDX, KT_TXQ) },
	{ "EVENT_IDX on RX: used_event suppresses calls, avail_event asks for kicks",
	  case_notify, .data = VARIANT(F_V1 | F_EVENT_IDX, KT_RXQ) },
	{ "EVENT_IDX off on TX: NO_INTERRUPT suppresses calls, NO_NOTIFY clear when idle",
	  case_notify, .data = VARIANT(F_V1, KT_TXQ) },
	{ "EVENT_IDX off on RX: NO_INTERRUPT suppresses calls, NO_NOTIFY clear when idle",
	  case_notify, .data = VARIANT(F_V1, KT_RXQ) },
	{ "RX ring empty: frame waits, device asks for a kick (EVENT_IDX)",
	  case_rx_empty, .data = VARIANT(F_V1 | F_EVENT_IDX, 0) },
	{ "RX ring empty: frame waits, device asks for a kick (no EVENT_IDX)",
	  case_rx_empty, .data = VARIANT(F_V1, 0) },
	{ "ring indices wrap 65535 -> 0 on both rings; GET_VRING_BASE after",
	  case_index_wrap, 120 },
	{ "300 frames each way at once (MRG_RXBUF, EVENT_IDX)", case_bidir, 180 },
	{ "busy-loop timeout on both rings: traffic each way, then the worker rests while the guest is quiet",
	  case_busyloop_quiet, 120 },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
