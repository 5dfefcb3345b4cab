// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_net_backends: the backends other than a single-queue tap, and
 * backends changed while traffic flows.
 *
 *  - macvtap: a veth pair in a private network namespace, a macvtap on one
 *    end (bridge or passthru), its /dev/tapN as the backend; what the device
 *    sends comes out of the other end of the pair, what that end sends to the
 *    macvtap's MAC lands in the RX ring.
 *  - AF_PACKET: a SOCK_RAW packet socket bound to one end of a veth pair, the
 *    virtio-net header added and stripped by the device (or, the legacy way,
 *    by the socket with PACKET_VNET_HDR).
 *  - a multiqueue tap: one device per queue, all at once.
 *  - NET_SET_BACKEND swapping, detaching and reattaching under traffic.
 *  - close, RESET_OWNER and detach with these backends under traffic (the
 *    plain-tap versions are test_net_teardown's), 200 devices attached and
 *    closed with every backend reference accounted for.
 *
 * Interfaces and sockets live in the case's own network namespace; nothing
 * is addressed outside 192.0.2.0/24 and no route is added.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt.h"

#define F(bit) (1ULL << (bit))
#define F_VHOST_HDR F(VHOST_NET_F_VIRTIO_NET_HDR)
#define F_V1 F(VIRTIO_F_VERSION_1)
#define F_MRG F(VIRTIO_NET_F_MRG_RXBUF)
#define F_EVENT_IDX F(VIRTIO_RING_F_EVENT_IDX)

#define WAIT_MS 2000
#define QUIET_MS 300	/* how long "nothing more happens" is watched */
#define CALL_MS 10000	/* an ioctl or close() taking longer is hung */
#define RUN_MS 300	/* traffic before a teardown call */
#define NUM 128		/* ring size unless a case says otherwise */

/* Marks frames a check sends after a pump ran: pump seeds stay below. */
#define CHECK_SEED 0x80000000u

static const uint8_t peer_src_mac[6] = { 0x02, 0x6b, 0x76, 0x69, 0x6f, 0xaa };

/* ------------------------------------------------------- rtnetlink */

/* One RTM_*LINK request: the header, an ifinfomsg, attributes. */
struct nlreq {
	union {
		char buf[1024];
		uint32_t align;		/* NLMSG_ALIGNTO */
	};
	struct nlmsghdr *h;
	struct ifinfomsg *ifi;
};

static void *nl_tail(struct nlmsghdr *h)
{
	return (char *)h + NLMSG_ALIGN(h->nlmsg_len);
}

static struct rtattr *nl_put(struct nlmsghdr *h, unsigned short type,
			     const void *data, size_t len)
{
	struct rtattr *rta = nl_tail(h);

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

static void nl_put_u32(struct nlmsghdr *h, unsigned short type, uint32_t v)
{
	nl_put(h, type, &v, sizeof(v));
}

static void nl_nest_end(struct nlmsghdr *h, struct rtattr *nest)
{
	nest->rta_len = (char *)nl_tail(h) - (char *)nest;
}

static void nl_init(struct nlreq *req, uint16_t type, uint16_t flags)
{
	memset(req->buf, 0, sizeof(req->buf));
	req->h = (struct nlmsghdr *)req->buf;
	req->h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	req->h->nlmsg_type = type;
	req->h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	req->h->nlmsg_seq = 1;
	req->ifi = NLMSG_DATA(req->h);
	req->ifi->ifi_family = AF_UNSPEC;
}

/* Send one request, return the kernel's answer: 0 or -errno. */
static int nl_talk(struct nlmsghdr *h)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	struct nlmsghdr *r;
	ssize_t n;
	int s, err;

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	if (sendto(s, h, h->nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		if (kt_wait_readable(s, WAIT_MS) != 1) {
			err = -ETIMEDOUT;
			goto out;
		}
		n = recv(s, buf, sizeof(buf), 0);
		if (n < 0) {
			err = -errno;
			goto out;
		}
		for (r = (struct nlmsghdr *)buf; NLMSG_OK(r, n);
		     r = NLMSG_NEXT(r, n)) {
			if (r->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(r))->error;
				goto out;
			}
		}
	}
out:
	close(s);
	return err;
}

static int link_add_veth(const char *a, const char *b)
{
	struct ifinfomsg peer_ifi = { .ifi_family = AF_UNSPEC };
	struct rtattr *info, *data, *peer;
	struct nlreq req;

	nl_init(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	nl_put(req.h, IFLA_IFNAME, a, strlen(a) + 1);
	info = nl_put(req.h, IFLA_LINKINFO, NULL, 0);
	nl_put(req.h, IFLA_INFO_KIND, "veth", 4);
	data = nl_put(req.h, IFLA_INFO_DATA, NULL, 0);
	/* The peer: an ifinfomsg, then its own attributes. */
	peer = nl_put(req.h, VETH_INFO_PEER, &peer_ifi, sizeof(peer_ifi));
	nl_put(req.h, IFLA_IFNAME, b, strlen(b) + 1);
	nl_nest_end(req.h, peer);
	nl_nest_end(req.h, data);
	nl_nest_end(req.h, info);
	return nl_talk(req.h);
}

static int link_add_macvtap(const char *name, int lower, uint32_t mode,
			    int ifindex)
{
	struct rtattr *info, *data;
	struct nlreq req;

	nl_init(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	/*
	 * /dev/tapN is named after the ifindex and devtmpfs is shared by
	 * every namespace: a chosen index keeps the node of a namespace still
	 * being torn down (the previous case's) out of the way.
	 */
	req.ifi->ifi_index = ifindex;
	nl_put(req.h, IFLA_IFNAME, name, strlen(name) + 1);
	nl_put_u32(req.h, IFLA_LINK, lower);
	info = nl_put(req.h, IFLA_LINKINFO, NULL, 0);
	nl_put(req.h, IFLA_INFO_KIND, "macvtap", 7);
	data = nl_put(req.h, IFLA_INFO_DATA, NULL, 0);
	nl_put_u32(req.h, IFLA_MACVLAN_MODE, mode);
	nl_nest_end(req.h, data);
	nl_nest_end(req.h, info);
	return nl_talk(req.h);
}

static int link_del(int ifindex)
{
	struct nlreq req;

	nl_init(&req, RTM_DELLINK, 0);
	req.ifi->ifi_index = ifindex;
	return nl_talk(req.h);
}

static int link_up(const char *name)
{
	struct ifreq ifr;
	int r;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	r = kt_ifreq_ioctl(SIOCGIFFLAGS, &ifr);
	if (r)
		return r;
	ifr.ifr_flags |= IFF_UP;
	return kt_ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

static int link_mac(const char *name, uint8_t mac[6])
{
	struct ifreq ifr;
	int r;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	r = kt_ifreq_ioctl(SIOCGIFHWADDR, &ifr);
	if (!r)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return r;
}

/* ------------------------------------------------------ interfaces */

/*
 * Where a case's frames go in and come out: a packet socket on the far side
 * of the backend (the veth peer, or the tap itself), the MAC frames injected
 * there are sent to (the backend's), and the one the device sends to.
 */
struct link {
	int psock;
	int ifindex;
	uint8_t to_dev[6];
	uint8_t to_peer[6];
};

/* ktv0 is the backend's side, ktv1 the peer with the checking socket. */
struct veth {
	int ifindex0, ifindex1;
	uint8_t mac0[6], mac1[6];
	int psock;
};

static int veth_setup(struct veth *v)
{
	int r;

	memset(v, 0, sizeof(*v));
	v->psock = -1;
	if (kt_netns_enter() < 0)
		return kt_skip("no private network namespace (not root?)");
	r = link_add_veth("ktv0", "ktv1");
	if (r == -EOPNOTSUPP)
		return kt_skip("no veth support (module not loaded?)");
	if (r)
		return kt_fail("creating veth ktv0/ktv1: %s", kt_errname(-r));
	if (link_up("ktv0") || link_up("ktv1"))
		return kt_fail("bringing the veth pair up: %m");
	v->ifindex0 = if_nametoindex("ktv0");
	v->ifindex1 = if_nametoindex("ktv1");
	if (!v->ifindex0 || !v->ifindex1 || link_mac("ktv0", v->mac0) ||
	    link_mac("ktv1", v->mac1))
		return kt_fail("veth pair: no index or MAC");
	v->psock = kt_packet_socket(v->ifindex1);
	if (v->psock < 0)
		return kt_fail("packet socket on ktv1: %s", strerror(-v->psock));
	return KT_PASS;
}

static void veth_close(struct veth *v)
{
	if (v->psock >= 0)
		close(v->psock);
	v->psock = -1;
}

struct mvtap {
	char name[IFNAMSIZ];
	int ifindex;
	int fd;
	uint8_t mac[6];
};

/* Open one more queue of the macvtap: fd or -errno. */
static int macvtap_open(const struct mvtap *m)
{
	char path[32];
	struct ifreq ifr;
	long deadline = kt_deadline(WAIT_MS);
	int fd;

	snprintf(path, sizeof(path), "/dev/tap%d", m->ifindex);
	for (;;) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENOENT || kt_now_ms() > deadline)
			return -errno;
		kt_sleep_ms(10);
	}
	/* Make sure the node is this namespace's macvtap. */
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0 || strcmp(ifr.ifr_name, m->name)) {
		kt_diag("%s is not %s's node (%s)", path, m->name,
			ifr.ifr_name);
		close(fd);
		return -ENODEV;
	}
	return fd;
}

/* A macvtap in mode on the veth end ktv0, with one queue open. */
static int macvtap_create(struct mvtap *m, const struct veth *v,
			  uint32_t mode)
{
	static unsigned int seq;
	int r;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->ifindex = 1000 + (int)getpid() * 8 + (int)(seq++ % 8);
	snprintf(m->name, sizeof(m->name), "mvt%d", m->ifindex);
	r = link_add_macvtap(m->name, v->ifindex0, mode, m->ifindex);
	if (r == -EOPNOTSUPP)
		return kt_skip("no macvtap support (module not loaded?)");
	if (r)
		return kt_fail("creating macvtap %s: %s", m->name,
			       kt_errname(-r));
	if (link_up(m->name) || link_mac(m->name, m->mac))
		return kt_fail("bringing %s up: %m", m->name);
	m->fd = macvtap_open(m);
	if (m->fd < 0)
		return kt_fail("opening /dev/tap%d: %s", m->ifindex,
			       kt_errname(-m->fd));
	return KT_PASS;
}

/*
 * Header setup of a tap queue (tun or macvtap): with hdr_len the queue
 * carries a virtio-net header of that size; with 0 none (the device owns
 * it).  sndbuf_max: unlimited send buffer, as QEMU sets it, which lets TX
 * batch into tun/tap (TUN_MSG_PTR).
 */
static int tapq_config(int fd, int hdr_len, bool sndbuf_max)
{
	struct ifreq ifr;
	int sndbuf = INT_MAX;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (hdr_len ? IFF_VNET_HDR : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return kt_fail("TUNSETIFF on the macvtap queue: %m");
	if (hdr_len && ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
		return kt_fail("TUNSETVNETHDRSZ %d: %m", hdr_len);
	if (sndbuf_max && ioctl(fd, TUNSETSNDBUF, &sndbuf) < 0)
		return kt_fail("TUNSETSNDBUF: %m");
	return KT_PASS;
}

/* A raw packet socket on ifindex to serve as a device's backend. */
static int packet_backend(int ifindex, bool vnet_hdr)
{
	int one = 1, size = 4 << 20;
	struct sockaddr_ll sll;
	int s;

	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (s < 0)
		return -errno;
	/* The device's own transmissions must not come back as RX. */
	if (setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
		       sizeof(one)) < 0 ||
	    (vnet_hdr && setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one,
				    sizeof(one)) < 0))
		goto err;
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto err;
	return s;
err:
	one = -errno;
	close(s);
	return one;
}

static unsigned long sock_inode(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (unsigned long)st.st_ino;
}

/*
 * Packet sockets of this namespace listed in /proc/net/packet; *found set
 * if one has inode ino.
 */
static int packet_sockets(unsigned long ino, bool *found)
{
	char line[256];
	unsigned long i;
	int count = 0;
	FILE *f = fopen("/proc/net/packet", "re");

	if (found)
		*found = false;
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EIO;
	}
	/* sk RefCnt Type Proto Iface R Rmem User Inode (padded columns) */
	while (fgets(line, sizeof(line), f)) {
		count++;
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %lu", &i) == 1 &&
		    found && ino && i == ino)
			*found = true;
	}
	fclose(f);
	return count;
}

/* Wait until no packet socket has inode ino: the device dropped it. */
static int packet_socket_gone(unsigned long ino, const char *what)
{
	long deadline = kt_deadline(WAIT_MS);
	bool found = true;

	for (;;) {
		if (packet_sockets(ino, &found) < 0)
			return kt_fail("/proc/net/packet: %m");
		if (!found)
			return KT_PASS;
		if (kt_now_ms() > deadline)
			return kt_fail("%s: the packet socket (inode %lu) outlived every fd: the device leaked its reference",
				       what, ino);
		kt_sleep_ms(10);
	}
}

/* Multiqueue tap: one name, nq queue fds. */
#define MQ_MAX 4

struct mqtap {
	char name[IFNAMSIZ];
	int fd[MQ_MAX];
	int nq;
	int ifindex;
	uint8_t mac[6];
};

/* Attach one more queue to the multiqueue tap name: fd or -errno. */
static int mq_queue_open(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int mqtap_create(struct mqtap *t, const char *name, int nq,
			int hdr_len)
{
	int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < MQ_MAX; i++)
		t->fd[i] = -1;
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (kt_netns_enter() < 0)
		return kt_skip("no private network namespace (not root?)");
	for (i = 0; i < nq; i++) {
		t->fd[i] = mq_queue_open(name);
		if (t->fd[i] == -ENOENT || t->fd[i] == -ENODEV)
			return kt_skip("/dev/net/tun: %s", kt_errname(-t->fd[i]));
		if (t->fd[i] < 0)
			return kt_fail("queue %d of %s: %s", i, name,
				       kt_errname(-t->fd[i]));
		t->nq++;
	}
	/* The header size belongs to the device, not the queue. */
	if (ioctl(t->fd[0], TUNSETVNETHDRSZ, &hdr_len) < 0)
		return kt_fail("TUNSETVNETHDRSZ: %m");
	if (link_up(name) || link_mac(name, t->mac))
		return kt_fail("bringing %s up: %m", name);
	t->ifindex = if_nametoindex(name);
	if (!t->ifindex)
		return kt_fail("if_nametoindex %s: %m", name);
	return KT_PASS;
}

static void mqtap_close(struct mqtap *t)
{
	int i;

	for (i = 0; i < MQ_MAX; i++) {
		if (t->fd[i] >= 0)
			close(t->fd[i]);
		t->fd[i] = -1;
	}
}

/* ------------------------------------------------ device and frames */

/*
 * Open a device on t, negotiate features, set up both rings (num entries)
 * and pools, and attach fd to both rings.  n->tap and n->psock stay unused
 * (fd -1): the case owns its backend.
 */
static int dev_attach(struct kt_net *n, const struct kt_target *t,
		      uint64_t features, unsigned int num, uint32_t rx_buf,
		      int fd)
{
	int r, i;

	memset(n, 0, sizeof(*n));
	n->psock = -1;
	n->tap.fd = -1;
	n->hdr_len = kt_net_hdr_len(features);
	n->vhost_hdr = features & F_VHOST_HDR;
	r = kt_dev_open(&n->dev, t->path);
	if (r)
		return kt_fail("open %s: %s", t->path, kt_errname(-r));
	r = kt_dev_setup(&n->dev, features);
	if (r)
		return kt_fail("device setup: %s", kt_errname(-r));
	for (i = 0; i < 2; i++) {
		r = kt_vq_setup(&n->dev, i, num, 0);
		if (r)
			return kt_fail("ring %d setup: %s", i, kt_errname(-r));
	}
	if (kt_pool_init(&n->txpool, &n->dev.mem, num, KT_TX_BUF) ||
	    kt_pool_init(&n->rxpool, &n->dev.mem, num, rx_buf))
		return kt_fail("buffer pools do not fit in guest RAM");
	for (i = 0; i < 2; i++) {
		r = kt_net_backend(&n->dev, i, fd);
		if (r)
			return kt_fail("VHOST_NET_SET_BACKEND ring %d fd %d: %s",
				       i, fd, kt_errname(-r));
	}
	return KT_PASS;
}

/* Frame i of a TX stream: its length follows from its seed. */
static size_t tx_frame(uint8_t *buf, const uint8_t dst[6], uint32_t seed)
{
	return kt_frame_test(buf, dst, kt_guest_mac, 46 + (seed * 37u) % 454,
			     seed);
}

/*
 * Frame i of an RX stream: UDP 192.0.2.1 -> 192.0.2.2 from one of 61 source
 * ports (so a multiqueue tap spreads them), the seed in the first four
 * payload bytes.
 */
static size_t rx_frame(uint8_t *buf, const uint8_t dst[6], uint32_t seed)
{
	uint8_t payload[400];
	size_t plen = 32 + (seed * 13u) % 300;

	kt_fill_pattern(payload, plen, seed);
	memcpy(payload, &seed, 4);
	return kt_frame_udp(buf, dst, peer_src_mac, "192.0.2.1", "192.0.2.2",
			    1024 + seed % 61, 7777, payload, plen);
}

static uint32_t rx_frame_seed(const uint8_t *frame, size_t len)
{
	uint32_t seed;

	if (len < 46)
		return UINT32_MAX;
	memcpy(&seed, frame + 42, 4);
	return seed;
}

static int inject(const struct link *l, const uint8_t *frame, size_t len)
{
	long deadline = kt_deadline(WAIT_MS);
	int r;

	while ((r = kt_packet_send_nowait(l->psock, l->ifindex, frame,
					  len)) == -EAGAIN &&
	       kt_now_ms() < deadline)
		kt_sleep_ms(2);
	if (r)
		return kt_fail("injecting a %zu-byte frame: %s", len,
			       kt_errname(-r));
	return KT_PASS;
}

static const size_t frame_sizes[] = { 60, 61, 100, 511, 1000, 1514 };
#define NSIZES (sizeof(frame_sizes) / sizeof(frame_sizes[0]))

/*
 * Both directions through whatever backend n is attached to: each size one
 * at a time, then a burst of 32 frames in order, each way.
 */
static int traffic_both_ways(struct kt_net *n, const struct link *l,
			     const char *where)
{
	uint8_t frame[2048];
	unsigned int i, bufs;
	size_t len;
	int r;

	for (i = 0; i < NSIZES; i++) {
		len = kt_frame_test(frame, l->to_peer, kt_guest_mac,
				    frame_sizes[i] - 14, i + 1);
		r = kt_net_tx(n, frame, len, false);
		if (r < 0)
			return kt_fail("posting TX frame %u: %s", i,
				       kt_errname(-r));
		KT_TRY(kt_expect_packet(l->psock, frame, len, WAIT_MS, where));
		KT_TRY(kt_net_tx_reap(n, 1, WAIT_MS));
	}
	for (i = 0; i < 32; i++) {
		len = tx_frame(frame, l->to_peer, 100 + i);
		r = kt_net_tx(n, frame, len, false);
		if (r < 0)
			return kt_fail("posting burst frame %u: %s", i,
				       kt_errname(-r));
	}
	for (i = 0; i < 32; i++) {
		len = tx_frame(frame, l->to_peer, 100 + i);
		KT_TRY(kt_expect_packet(l->psock, frame, len, WAIT_MS, where));
	}
	KT_TRY(kt_net_tx_reap(n, 32, WAIT_MS));

	r = kt_net_rx_post(n, n->rxpool.count * 3 / 4, false);
	if (r)
		return kt_fail("posting RX buffers: %s", kt_errname(-r));
	for (i = 0; i < NSIZES; i++) {
		len = kt_frame_test(frame, l->to_dev, l->to_peer,
				    frame_sizes[i] - 14, 50 + i);
		KT_TRY(inject(l, frame, len));
		KT_TRY(kt_net_expect_rx(n, frame, len, WAIT_MS, 0, &bufs));
		KT_ASSERT(kt_net_rx_post(n, bufs, false) == 0, "repost");
	}
	for (i = 0; i < 32; i++) {
		len = kt_frame_test(frame, l->to_dev, l->to_peer, 46 + i * 13,
				    200 + i);
		KT_TRY(inject(l, frame, len));
	}
	for (i = 0; i < 32; i++) {
		len = kt_frame_test(frame, l->to_dev, l->to_peer, 46 + i * 13,
				    200 + i);
		KT_TRY(kt_net_expect_rx(n, frame, len, WAIT_MS, 0, &bufs));
		KT_ASSERT(kt_net_rx_post(n, bufs, false) == 0, "repost");
	}
	kt_sleep_ms(QUIET_MS);
	KT_ASSERT(kt_vq_used_pending(&n->dev.vq[KT_RXQ]) == 0,
		  "%u RX used entries nobody sent",
		  kt_vq_used_pending(&n->dev.vq[KT_RXQ]));
	return KT_PASS;
}

/* --------------------------------------------------- 1. macvtap */

struct mvt_variant {
	uint32_t mode;
	uint64_t features;
	bool sndbuf_max;
	uint32_t rx_buf;
};

static int case_macvtap(const struct kt_target *t)
{
	const struct mvt_variant *v = kt_case_data();
	struct kt_net n;
	struct mvtap m;
	struct veth ve;
	struct link l;
	size_t hdr = kt_net_hdr_len(v->features);
	int r;

	KT_TRY(veth_setup(&ve));
	KT_TRY(macvtap_create(&m, &ve, v->mode));
	KT_TRY(tapq_config(m.fd, v->features & F_VHOST_HDR ? 0 : (int)hdr,
			   v->sndbuf_max));
	KT_TRY(dev_attach(&n, t, v->features, NUM, v->rx_buf, m.fd));
	l.psock = ve.psock;
	l.ifindex = ve.ifindex1;
	memcpy(l.to_dev, m.mac, 6);
	memcpy(l.to_peer, ve.mac1, 6);
	KT_TRY(traffic_both_ways(&n, &l, "the veth peer of the macvtap"));
	kt_net_close(&n);
	close(m.fd);
	r = link_del(m.ifindex);
	KT_ASSERT(r == 0, "deleting %s: %s", m.name, kt_errname(-r));
	veth_close(&ve);
	return KT_PASS;
}

static const struct mvt_variant mvt_bridge = {
	MACVLAN_MODE_BRIDGE, F_V1, false, 2048,
};
static const struct mvt_variant mvt_bridge_batch = {
	MACVLAN_MODE_BRIDGE, F_V1 | F_EVENT_IDX, true, 2048,
};
static const struct mvt_variant mvt_bridge_vhost_hdr = {
	MACVLAN_MODE_BRIDGE, F_V1 | F_VHOST_HDR, true, 2048,
};
static const struct mvt_variant mvt_passthru = {
	MACVLAN_MODE_PASSTHRU, 0, false, 2048,
};
static const struct mvt_variant mvt_passthru_mrg = {
	MACVLAN_MODE_PASSTHRU, F_V1 | F_MRG, true, 256,
};

/* ------------------------------------------------- 2. AF_PACKET */

struct pkt_variant {
	uint64_t features;
	bool vnet_hdr;		/* the socket carries a 10-byte header */
	uint32_t rx_buf;
};

static int case_packet(const struct kt_target *t)
{
	const struct pkt_variant *v = kt_case_data();
	struct kt_net n;
	struct veth ve;
	struct link l;
	unsigned long ino;
	bool found;
	int s;

	KT_TRY(veth_setup(&ve));
	s = packet_backend(ve.ifindex0, v->vnet_hdr);
	KT_ASSERT(s >= 0, "packet socket on ktv0: %s", kt_errname(-s));
	ino = sock_inode(s);
	KT_TRY(dev_attach(&n, t, v->features, NUM, v->rx_buf, s));
	l.psock = ve.psock;
	l.ifindex = ve.ifindex1;
	memcpy(l.to_dev, ve.mac0, 6);
	memcpy(l.to_peer, ve.mac1, 6);
	KT_TRY(traffic_both_ways(&n, &l, "the veth peer of the packet socket"));
	/* The device holds the socket until it closes, not beyond. */
	close(s);
	kt_sleep_ms(50);
	KT_ASSERT(packet_sockets(ino, &found) >= 0, "/proc/net/packet: %m");
	KT_ASSERT(found, "the backend socket vanished while the device was attached to it");
	kt_net_close(&n);
	KT_TRY(packet_socket_gone(ino, "device closed"));
	veth_close(&ve);
	return KT_PASS;
}

static const struct pkt_variant pkt_hdr12 = { F_V1 | F_VHOST_HDR, false, 2048 };
static const struct pkt_variant pkt_hdr10 = { F_VHOST_HDR, false, 2048 };
static const struct pkt_variant pkt_mrg = {
	F_V1 | F_MRG | F_VHOST_HDR | F_EVENT_IDX, false, 256,
};
static const struct pkt_variant pkt_sock_hdr = { 0, true, 2048 };

/* ------------------------------------------------ 3. multiqueue */

struct mq_run;

struct mq_pair {
	struct kt_net n;
	struct mq_run *run;
	int q;
	pthread_t th;
	bool started;
	unsigned int tx_posted, tx_done, rx_got;
	int failed;
	char why[200];
};

struct mq_run {
	int stop;
	unsigned int ntx;	/* frames each pair transmits */
	unsigned int nrx;	/* frames injected in all */
	uint8_t *tx_seen;	/* [q * ntx + i]: times seen on the tap */
	uint8_t *rx_seen;	/* [seed]: 1 + the queue it arrived on */
	unsigned int rx_total;
	uint8_t tap_mac[6];
};

static void *mq_worker(void *arg)
{
	struct mq_pair *p = arg;
	struct mq_run *run = p->run;
	struct kt_net *n = &p->n;
	struct kt_vq *txq = &n->dev.vq[KT_TXQ];
	struct virtio_net_hdr_mrg_rxbuf hdr;
	uint8_t frame[2048], want[2048];
	unsigned int rounds = 0, k;
	uint64_t token;
	uint32_t len, seed;
	size_t wlen;
	ssize_t g;
	uint8_t old;
	int r;

	while (!__atomic_load_n(&run->stop, __ATOMIC_ACQUIRE) && !p->failed) {
		while ((r = kt_vq_get_used(txq, NULL, &len, &token)) == 1) {
			if (len) {
				snprintf(p->why, sizeof(p->why),
					 "TX used length %u, want 0", len);
				p->failed = 1;
			}
			kt_pool_put(&n->txpool, token);
			__atomic_add_fetch(&p->tx_done, 1, __ATOMIC_RELEASE);
		}
		if (r < 0) {
			snprintf(p->why, sizeof(p->why), "bad TX used entry");
			p->failed = 1;
		}
		for (k = 0; k < 8 && p->tx_posted < run->ntx &&
		     p->tx_posted - p->tx_done < 32; k++) {
			seed = (uint32_t)p->q << 16 | p->tx_posted;
			wlen = tx_frame(frame, run->tap_mac, seed);
			if (kt_net_tx(n, frame, wlen, false) < 0)
				break;
			p->tx_posted++;
		}
		for (;;) {
			g = kt_net_rx_recv(n, &hdr, frame, sizeof(frame), NULL,
					   0);
			if (g == 0)
				break;
			if (g < 0) {
				snprintf(p->why, sizeof(p->why), "RX ring: %s",
					 kt_errname((int)-g));
				p->failed = 1;
				break;
			}
			seed = rx_frame_seed(frame, g);
			if (seed >= run->nrx) {
				snprintf(p->why, sizeof(p->why),
					 "RX frame of %zd bytes with seed %u: not one injected",
					 g, seed);
				p->failed = 1;
				break;
			}
			wlen = rx_frame(want, kt_guest_mac, seed);
			if (!kt_bytes_equal(frame, g, want, wlen,
					    "multiqueue RX frame")) {
				snprintf(p->why, sizeof(p->why),
					 "RX frame %u arrived altered", seed);
				p->failed = 1;
				break;
			}
			old = __atomic_exchange_n(&run->rx_seen[seed],
						  (uint8_t)(p->q + 1),
						  __ATOMIC_ACQ_REL);
			if (old) {
				snprintf(p->why, sizeof(p->why),
					 "RX frame %u arrived twice (queues %d and %d)",
					 seed, old - 1, p->q);
				p->failed = 1;
				break;
			}
			p->rx_got++;
			__atomic_add_fetch(&run->rx_total, 1, __ATOMIC_ACQ_REL);
			kt_net_rx_post(n, 1, false);
		}
		/* Two cores shared with the devices' workers: breathe. */
		if (++rounds % 4 == 0)
			kt_sleep_ms(1);
		else
			sched_yield();
	}
	return NULL;
}

static int case_multiqueue(const struct kt_target *t)
{
	const int nq = MQ_MAX;
	const unsigned int ntx = 150, nrx = 600;
	unsigned int i, injected = 0, tx_seen = 0, per_q[MQ_MAX] = { 0 };
	struct mq_pair *pairs = calloc(nq, sizeof(*pairs));
	struct mq_run run;
	struct mqtap mt;
	uint8_t frame[2048], want[2048];
	int q, psock, used_queues = 0, failed = 0;
	long deadline;
	size_t len;
	ssize_t g;

	KT_ASSERT(pairs, "calloc");
	KT_TRY(mqtap_create(&mt, "ktmq0", nq, 12));
	psock = kt_packet_socket(mt.ifindex);
	KT_ASSERT(psock >= 0, "packet socket: %s", kt_errname(-psock));
	memset(&run, 0, sizeof(run));
	run.ntx = ntx;
	run.nrx = nrx;
	run.tx_seen = calloc(nq * ntx, 1);
	run.rx_seen = calloc(nrx, 1);
	memcpy(run.tap_mac, mt.mac, 6);
	KT_ASSERT(run.tx_seen && run.rx_seen, "calloc");
	for (q = 0; q < nq; q++) {
		pairs[q].q = q;
		pairs[q].run = &run;
		KT_TRY(dev_attach(&pairs[q].n, t, F_V1, NUM, 2048, mt.fd[q]));
		KT_ASSERT(kt_net_rx_post(&pairs[q].n, 96, false) == 0, "post");
	}
	for (q = 0; q < nq; q++) {
		KT_ASSERT(!pthread_create(&pairs[q].th, NULL, mq_worker,
					  &pairs[q]), "pthread_create");
		pairs[q].started = true;
	}

	deadline = kt_deadline(30000);
	while (kt_now_ms() < deadline) {
		unsigned int total = __atomic_load_n(&run.rx_total,
						     __ATOMIC_ACQUIRE);

		for (i = 0; i < 8 && injected < nrx && injected - total < 128;
		     i++) {
			len = rx_frame(frame, kt_guest_mac, injected);
			if (kt_packet_send_nowait(psock, mt.ifindex, frame,
						  len))
				break;
			injected++;
		}
		while ((g = kt_packet_recv(psock, frame, sizeof(frame),
					   KT_ETH_P_TEST, 0)) > 0) {
			uint32_t seed;

			memcpy(&seed, frame + 14, 4);
			q = seed >> 16;
			if (q >= nq || (seed & 0xffff) >= ntx) {
				kt_diag("TX frame with seed 0x%x: not one posted",
					seed);
				failed = 1;
				continue;
			}
			len = tx_frame(want, mt.mac, seed);
			if (!kt_bytes_equal(frame, g, want, len,
					    "multiqueue TX frame")) {
				kt_diag("TX frame 0x%x (queue %d) arrived altered",
					seed, q);
				failed = 1;
			}
			if (run.tx_seen[q * ntx + (seed & 0xffff)]++) {
				kt_diag("TX frame 0x%x arrived twice", seed);
				failed = 1;
			}
			tx_seen++;
		}
		if (failed)
			break;
		if (tx_seen == nq * ntx && total == nrx) {
			/* Completions may trail the frames by a moment. */
			for (q = 0; q < nq; q++)
				if (__atomic_load_n(&pairs[q].tx_done,
						    __ATOMIC_ACQUIRE) != ntx)
					break;
			if (q == nq)
				break;
		}
		kt_sleep_ms(1);
	}
	__atomic_store_n(&run.stop, 1, __ATOMIC_RELEASE);
	for (q = 0; q < nq; q++) {
		if (pairs[q].started)
			pthread_join(pairs[q].th, NULL);
		kt_diag("pair %d: TX %u posted %u completed, RX %u received",
			q, pairs[q].tx_posted, pairs[q].tx_done,
			pairs[q].rx_got);
		if (pairs[q].failed) {
			kt_diag("pair %d: %s", q, pairs[q].why);
			failed = 1;
		}
	}
	KT_ASSERT(!failed, "see above");
	for (q = 0; q < nq; q++)
		for (i = 0; i < ntx; i++)
			KT_ASSERT(run.tx_seen[q * ntx + i] == 1,
				  "TX frame %u of queue %d seen %u times on the tap (%u of %u seen in all)",
				  i, q, run.tx_seen[q * ntx + i], tx_seen,
				  nq * ntx);
	for (i = 0; i < nrx; i++) {
		KT_ASSERT(run.rx_seen[i], "RX frame %u never arrived (%u of %u injected, %u received)",
			  i, injected, nrx, run.rx_total);
		per_q[run.rx_seen[i] - 1]++;
	}
	for (q = 0; q < nq; q++) {
		KT_ASSERT(pairs[q].tx_done == ntx, "pair %d completed %u of %u TX frames",
			  q, pairs[q].tx_done, ntx);
		used_queues += per_q[q] > 0;
	}
	kt_diag("RX frames per queue: %u %u %u %u", per_q[0], per_q[1],
		per_q[2], per_q[3]);
	/* 61 UDP flows hashed over 4 queues: all on one is no spreading. */
	KT_ASSERT(used_queues >= 2, "every RX frame arrived on one queue");
	for (q = 0; q < nq; q++)
		kt_net_close(&pairs[q].n);
	close(psock);
	mqtap_close(&mt);
	free(run.tx_seen);
	free(run.rx_seen);
	free(pairs);
	return KT_PASS;
}

/* ---------------------------------------- 4. backend swap, traffic */

/* NET_SET_BACKEND(ring, fd) on a thread, bounded; must succeed. */
static int set_backend(struct kt_net *n, unsigned int ring, int fd,
		       const char *what)
{
	struct vhost_vring_file f = { ring, fd };
	long ret;

	KT_TRY(kt_ioctl_timed(what, CALL_MS, n->dev.fd, VHOST_NET_SET_BACKEND,
			      &f, &ret));
	if (ret < 0)
		return kt_fail("%s: NET_SET_BACKEND ring %u fd %d: %s", what,
			       ring, fd, kt_errname(errno));
	return KT_PASS;
}

/*
 * A thread that keeps the TX ring full of frames with increasing seeds.  With
 * accounted set it runs at most SWAP_AHEAD frames ahead of what the checking
 * side has accounted for (seen on a tap or dropped by a checking socket):
 * a device faster than the checker would otherwise flood the checking
 * sockets and turn the test into a race of the checker against the device.
 */
struct sender {
	struct kt_net *n;
	uint8_t dst[6];
	int stop;
	int failed;
	char why[160];
	unsigned int posted, done;
	const unsigned int *accounted;
	pthread_t th;
};

#define SWAP_MAX_FRAMES (1u << 20)
#define SWAP_AHEAD 1024

static void *sender_thread(void *arg)
{
	struct sender *s = arg;
	struct kt_net *n = s->n;
	struct kt_vq *vq = &n->dev.vq[KT_TXQ];
	unsigned int rounds = 0, k;
	uint8_t frame[600];
	uint64_t token;
	uint32_t len;
	int r;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) && !s->failed) {
		while ((r = kt_vq_get_used(vq, NULL, &len, &token)) == 1) {
			if (len) {
				snprintf(s->why, sizeof(s->why),
					 "TX used length %u, want 0", len);
				s->failed = 1;
			}
			kt_pool_put(&n->txpool, token);
			__atomic_add_fetch(&s->done, 1, __ATOMIC_RELEASE);
		}
		if (r < 0) {
			snprintf(s->why, sizeof(s->why), "bad TX used entry");
			s->failed = 1;
		}
		for (k = 0; k < 8 && s->posted < SWAP_MAX_FRAMES; k++) {
			size_t flen = tx_frame(frame, s->dst, s->posted);

			if (s->accounted &&
			    s->posted - __atomic_load_n(s->accounted,
							__ATOMIC_ACQUIRE) >=
			    SWAP_AHEAD)
				break;	/* let the checker catch up */

			r = kt_net_tx(n, frame, flen, false);
			if (r == -ENOSPC)
				break;	/* ring full: wait for completions */
			if (r < 0) {
				snprintf(s->why, sizeof(s->why), "tx: %s",
					 kt_errname(-r));
				s->failed = 1;
				break;
			}
			__atomic_add_fetch(&s->posted, 1, __ATOMIC_RELEASE);
		}
		if (++rounds % 4 == 0)
			kt_sleep_ms(1);
		else
			sched_yield();
	}
	return NULL;
}

/* What arrived on the two taps of the swap case. */
struct swap_seen {
	uint8_t *seen;		/* [seed]: 1 tap A, 2 tap B */
	unsigned int count[2];
	unsigned int max_seed[2];
	unsigned int drops;	/* by the checking sockets */
	unsigned int accounted;	/* seen + drops, read by the sender */
	int failed;
};

static unsigned int packet_drops(int psock)
{
	struct tpacket_stats st;
	socklen_t sl = sizeof(st);

	/* Reading the statistics resets them. */
	if (getsockopt(psock, SOL_PACKET, PACKET_STATISTICS, &st, &sl) < 0)
		return 0;
	return st.tp_drops;
}

static void swap_account(struct swap_seen *sw)
{
	__atomic_store_n(&sw->accounted,
			 sw->count[0] + sw->count[1] + sw->drops,
			 __ATOMIC_RELEASE);
}

/*
 * Read both taps' sockets for ms, accounting every test frame; with until_quiet,
 * go on until neither has had a frame for ms (at most 30 s).
 */
static void swap_collect(struct swap_seen *sw, const int psock[2],
			 const uint8_t dst[6], long ms, bool until_quiet)
{
	long now = kt_now_ms(), deadline = now + ms;
	long limit = kt_deadline(30000);
	uint8_t got[2048], want[2048];
	ssize_t g;
	size_t len;
	uint32_t seed;
	int i;

	do {
		for (i = 0; i < 2; i++) {
			sw->drops += packet_drops(psock[i]);
			swap_account(sw);
			while ((g = kt_packet_recv(psock[i], got, sizeof(got),
						   KT_ETH_P_TEST, 0)) > 0) {
				if (until_quiet)
					deadline = kt_now_ms() + ms;
				memcpy(&seed, got + 14, 4);
				if (seed >= SWAP_MAX_FRAMES) {
					kt_diag("frame with seed %u on tap %c: never posted",
						seed, 'A' + i);
					sw->failed = 1;
					continue;
				}
				len = tx_frame(want, dst, seed);
				if (!kt_bytes_equal(got, g, want, len,
						    "frame on the tap")) {
					kt_diag("frame %u on tap %c is corrupted",
						seed, 'A' + i);
					sw->failed = 1;
				}
				if (sw->seen[seed]) {
					kt_diag("frame %u on tap %c was already seen on tap %c",
						seed, 'A' + i,
						'A' + sw->seen[seed] - 1);
					sw->failed = 1;
				}
				sw->seen[seed] = i + 1;
				sw->count[i]++;
				if (seed > sw->max_seed[i])
					sw->max_seed[i] = seed;
				swap_account(sw);
				if (!until_quiet && kt_now_ms() >= deadline)
					break;
			}
		}
		kt_sleep_ms(2);
		now = kt_now_ms();
	} while (now < deadline && now < limit);
}

/*
 * The TX backend swapped from tap A to tap B and back, detached and
 * reattached while a sender thread keeps the ring full: every call succeeds
 * promptly, while detached the ring stands still, every frame posted is
 * completed, arrives on exactly one tap and intact.
 */
static int case_swap_tx(const struct kt_target *t)
{
	struct swap_seen sw = { 0 };
	struct kt_tap ta, tb;
	struct kt_net n;
	struct sender s;
	struct kt_vq *vq;
	int psock[2], i;
	uint16_t used1, used2;
	unsigned int missing = 0, first;

	KT_TRY(kt_tap_create(&ta, "ktA", 12, NULL));
	KT_TRY(kt_tap_create(&tb, "ktB", 12, NULL));
	psock[0] = kt_packet_socket(ta.ifindex);
	psock[1] = kt_packet_socket(tb.ifindex);
	KT_ASSERT(psock[0] >= 0 && psock[1] >= 0, "packet sockets");
	KT_TRY(dev_attach(&n, t, F_V1 | F_EVENT_IDX, 64, 2048, ta.fd));
	vq = &n.dev.vq[KT_TXQ];
	sw.seen = calloc(SWAP_MAX_FRAMES, 1);
	KT_ASSERT(sw.seen, "calloc");

	memset(&s, 0, sizeof(s));
	s.n = &n;
	s.accounted = &sw.accounted;
	memcpy(s.dst, kt_bcast_mac, 6);
	KT_ASSERT(!pthread_create(&s.th, NULL, sender_thread, &s),
		  "pthread_create");

	swap_collect(&sw, psock, s.dst, RUN_MS, false);
	for (i = 0; i < 3 && !sw.failed; i++) {
		KT_TRY(set_backend(&n, KT_TXQ, tb.fd, "swap TX A -> B"));
		swap_collect(&sw, psock, s.dst, RUN_MS, false);
		KT_TRY(set_backend(&n, KT_TXQ, ta.fd, "swap TX B -> A"));
		swap_collect(&sw, psock, s.dst, RUN_MS, false);
	}
	/* The same socket again: a no-op that must not disturb anything. */
	KT_TRY(set_backend(&n, KT_TXQ, ta.fd, "attach TX A again"));
	swap_collect(&sw, psock, s.dst, RUN_MS / 2, false);
	KT_TRY(set_backend(&n, KT_TXQ, -1, "detach TX"));
	/* Detached: nothing is consumed or completed any more. */
	used1 = kt_vq_used_idx(vq);
	swap_collect(&sw, psock, s.dst, RUN_MS, false);
	used2 = kt_vq_used_idx(vq);
	KT_ASSERT(used1 == used2,
		  "TX used->idx moved from %u to %u with no backend attached",
		  used1, used2);
	first = __atomic_load_n(&s.posted, __ATOMIC_ACQUIRE);
	KT_TRY(set_backend(&n, KT_TXQ, tb.fd, "reattach TX to B"));
	swap_collect(&sw, psock, s.dst, RUN_MS, false);
	KT_TRY(set_backend(&n, KT_TXQ, ta.fd, "swap TX B -> A"));
	swap_collect(&sw, psock, s.dst, RUN_MS, false);

	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(s.th, NULL);
	KT_ASSERT(!s.failed, "sender: %s", s.why);
	/* Whatever is still outstanding completes: the ring keeps going. */
	kt_vq_kick(vq);
	KT_TRY(kt_net_tx_reap(&n, vq->num - vq->num_free, WAIT_MS * 2));
	swap_collect(&sw, psock, s.dst, QUIET_MS, true);
	kt_diag("%u frames posted and completed; %u on tap A, %u on tap B",
		s.posted, sw.count[0], sw.count[1]);
	KT_ASSERT(!sw.failed, "see above");
	KT_ASSERT(sw.count[1] > 0, "no frame ever reached tap B");
	KT_ASSERT(sw.max_seed[0] >= first,
		  "no frame posted after the reattach reached tap A");
	for (i = 0; i < 2; i++)
		sw.drops += packet_drops(psock[i]);
	for (i = 0; i < (int)s.posted; i++)
		missing += !sw.seen[i];
	if (missing) {
		for (i = 0; i < (int)s.posted && sw.seen[i]; i++)
			;
		kt_diag("%u frames completed but never seen, the first %d; %u dropped by the checking sockets",
			missing, i, sw.drops);
	}
	KT_ASSERT(missing <= sw.drops,
		  "%u frames the device completed never reached a tap", missing);
	kt_net_close(&n);
	close(psock[0]);
	close(psock[1]);
	kt_tap_close(&ta);
	kt_tap_close(&tb);
	free(sw.seen);
	return KT_PASS;
}

/*
 * Receive count frames, in order, from seed first on, with dst; each
 * buffer reposted if repost.
 */
static int rx_expect_seq(struct kt_net *n, const uint8_t dst[6],
			 uint32_t first, unsigned int count, bool repost,
			 const char *what)
{
	struct virtio_net_hdr_mrg_rxbuf hdr;
	uint8_t got[2048], want[2048];
	unsigned int i;
	size_t len;
	ssize_t g;

	for (i = 0; i < count; i++) {
		g = kt_net_rx_recv(n, &hdr, got, sizeof(got), NULL, WAIT_MS);
		KT_ASSERT(g >= 0, "RX ring: %s", kt_errname((int)-g));
		KT_ASSERT(g > 0, "%s: frame %u of %u (seed %u) never arrived",
			  what, i, count, first + i);
		len = rx_frame(want, dst, first + i);
		if (!kt_bytes_equal(got, g, want, len, what))
			return kt_fail("%s: frame %u: seed %u expected, got seed %u",
				       what, i, first + i,
				       rx_frame_seed(got, g));
		if (repost)
			KT_ASSERT(kt_net_rx_post(n, 1, false) == 0, "repost");
	}
	return KT_PASS;
}

/*
 * The RX backend swapped while tap A still has frames queued (and the device
 * has some of them batched): B's frames arrive, none of A's, and when A is
 * back its frames follow, each exactly once and in order.  A detach in
 * between stops the ring though buffers and frames wait.
 */
static int case_swap_rx(const struct kt_target *t)
{
	const unsigned int na = 200, nb = 50, first_a = 16;
	struct kt_tap ta, tb;
	struct kt_net n;
	struct link la, lb;
	uint8_t frame[2048];
	unsigned int i, got_a;
	uint16_t used1, used2;
	struct kt_vq *vq;
	size_t len;

	KT_TRY(kt_tap_create(&ta, "ktA", 12, NULL));
	KT_TRY(kt_tap_create(&tb, "ktB", 12, NULL));
	memset(&la, 0, sizeof(la));
	memset(&lb, 0, sizeof(lb));
	la.psock = kt_packet_socket(ta.ifindex);
	lb.psock = kt_packet_socket(tb.ifindex);
	KT_ASSERT(la.psock >= 0 && lb.psock >= 0, "packet sockets");
	la.ifindex = ta.ifindex;
	lb.ifindex = tb.ifindex;
	KT_TRY(dev_attach(&n, t, F_V1, 256, 2048, ta.fd));
	vq = &n.dev.vq[KT_RXQ];

	/* A's frames queue up in the tap: the ring has no buffers yet. */
	for (i = 0; i < na; i++) {
		len = rx_frame(frame, kt_guest_mac, i);
		KT_TRY(inject(&la, frame, len));
	}
	/*
	 * 16 buffers, not reposted: the device runs dry with A's frames
	 * still queued (and some taken off the tap's ring in a batch).
	 */
	KT_ASSERT(kt_net_rx_post(&n, first_a, false) == 0, "post");
	KT_TRY(rx_expect_seq(&n, kt_guest_mac, 0, first_a, false,
			     "tap A before the swap"));
	got_a = first_a;
	kt_sleep_ms(100);
	KT_TRY(set_backend(&n, KT_RXQ, tb.fd, "swap RX A -> B"));
	for (i = 0; i < nb; i++) {
		len = rx_frame(frame, kt_guest_mac, 100000 + i);
		KT_TRY(inject(&lb, frame, len));
	}
	KT_ASSERT(kt_net_rx_post(&n, 64, false) == 0, "post");
	KT_TRY(rx_expect_seq(&n, kt_guest_mac, 100000, nb, true,
			     "tap B after the swap"));
	kt_sleep_ms(QUIET_MS);
	KT_ASSERT(kt_vq_used_pending(vq) == 0,
		  "%u frames arrived from tap A while B was attached",
		  kt_vq_used_pending(vq));

	KT_TRY(set_backend(&n, KT_RXQ, ta.fd, "swap RX B -> A"));
	KT_TRY(rx_expect_seq(&n, kt_guest_mac, got_a, 60, true,
			     "tap A after the swap back"));
	got_a += 60;
	/*
	 * Detached with buffers posted and A's frames waiting: the ring
	 * stands still (what the device finished before stays readable).
	 */
	KT_TRY(set_backend(&n, KT_RXQ, -1, "detach RX"));
	used1 = kt_vq_used_idx(vq);
	kt_sleep_ms(QUIET_MS);
	used2 = kt_vq_used_idx(vq);
	KT_ASSERT(used1 == used2,
		  "RX used->idx moved from %u to %u with no backend attached",
		  used1, used2);
	KT_TRY(set_backend(&n, KT_RXQ, ta.fd, "reattach RX to A"));
	KT_TRY(rx_expect_seq(&n, kt_guest_mac, got_a, na - got_a, true,
			     "tap A after the reattach"));
	kt_sleep_ms(QUIET_MS);
	KT_ASSERT(kt_vq_used_pending(vq) == 0,
		  "%u more frames after all of A's and B's",
		  kt_vq_used_pending(vq));
	kt_net_close(&n);
	close(la.psock);
	close(lb.psock);
	kt_tap_close(&ta);
	kt_tap_close(&tb);
	return KT_PASS;
}

/* ------------------------------------------ 5. teardown, traffic */

enum { PUMP_TX = 1, PUMP_RX = 2 };

/* A thread keeping one device busy both ways through l. */
struct pump {
	struct kt_net *n;
	const struct link *l;
	int dirs;
	int stop;
	int failed;
	unsigned long tx_posted, tx_done, rx_injected, rx_done;
	pthread_t th;
	bool running;
};

static void pump_round(struct pump *p)
{
	struct kt_net *n = p->n;
	uint8_t frame[600];
	uint64_t token;
	size_t len;
	int r, i, refill = 0;

	if (p->dirs & PUMP_TX) {
		while ((r = kt_vq_get_used(&n->dev.vq[KT_TXQ], NULL, NULL,
					   &token)) == 1) {
			kt_pool_put(&n->txpool, token);
			__atomic_add_fetch(&p->tx_done, 1, __ATOMIC_RELAXED);
		}
		if (r < 0)
			p->failed = 1;
		for (i = 0; i < 8; i++) {
			len = tx_frame(frame, p->l->to_peer, p->tx_posted);
			if (kt_net_tx(n, frame, len, false) < 0)
				break;
			p->tx_posted++;
		}
	}
	if (p->dirs & PUMP_RX) {
		while ((r = kt_vq_get_used(&n->dev.vq[KT_RXQ], NULL, NULL,
					   &token)) == 1) {
			kt_pool_put(&n->rxpool, token);
			__atomic_add_fetch(&p->rx_done, 1, __ATOMIC_RELAXED);
			refill++;
		}
		if (r < 0)
			p->failed = 1;
		if (refill)
			kt_net_rx_post(n, refill, false);
		len = rx_frame(frame, p->l->to_dev, p->rx_injected);
		if (kt_packet_send_nowait(p->l->psock, p->l->ifindex, frame,
					  len) == 0)
			p->rx_injected++;
	}
}

static void *pump_thread(void *arg)
{
	struct pump *p = arg;
	unsigned long rounds = 0;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		pump_round(p);
		if (++rounds % 4 == 0)
			kt_sleep_ms(1);
		else
			sched_yield();
	}
	return NULL;
}

static int pump_start(struct pump *p, struct kt_net *n, const struct link *l,
		      int dirs)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->l = l;
	p->dirs = dirs;
	if (dirs & PUMP_RX &&
	    kt_net_rx_post(n, n->dev.vq[KT_RXQ].num_free, false))
		return kt_fail("posting RX buffers");
	if (pthread_create(&p->th, NULL, pump_thread, p))
		return kt_fail("pthread_create");
	p->running = true;
	return KT_PASS;
}

static int pump_stop(struct pump *p, const char *who)
{
	if (p->running) {
		__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
		pthread_join(p->th, NULL);
		p->running = false;
	}
	kt_diag("%s: TX %lu posted %lu completed, RX %lu injected %lu received",
		who, p->tx_posted, p->tx_done, p->rx_injected, p->rx_done);
	if (p->failed)
		return kt_fail("%s: the device wrote a bad used entry", who);
	return KT_PASS;
}

/*
 * The pump left TX buffers behind: they complete, then one frame goes
 * end to end.
 */
static int check_tx_after_pump(struct kt_net *n, const struct link *l,
			       const char *where)
{
	struct kt_vq *txq = &n->dev.vq[KT_TXQ];
	uint8_t frame[2048], got[2048];
	size_t len;
	ssize_t g;

	kt_vq_kick(txq);
	KT_TRY(kt_net_tx_reap(n, txq->num - txq->num_free, WAIT_MS * 2));
	while (kt_packet_recv(l->psock, got, sizeof(got), 0, 100) > 0)
		;
	len = tx_frame(frame, l->to_peer, CHECK_SEED);
	KT_ASSERT(kt_net_tx(n, frame, len, false) >= 0, "tx");
	for (;;) {
		g = kt_packet_recv(l->psock, got, sizeof(got), KT_ETH_P_TEST,
				   WAIT_MS);
		KT_ASSERT(g > 0, "the check frame did not appear on %s", where);
		if (g == (ssize_t)len && !memcmp(got, frame, len))
			break;
	}
	return kt_net_tx_reap(n, 1, WAIT_MS);
}

/* Empty the RX ring of what the pump sent, then one frame end to end. */
static int check_rx_after_pump(struct kt_net *n, const struct link *l,
			       const char *where)
{
	struct virtio_net_hdr_mrg_rxbuf h;
	uint8_t frame[2048], got[2048];
	size_t len;
	ssize_t g;

	while (kt_net_rx_recv(n, &h, got, sizeof(got), NULL, QUIET_MS) > 0)
		KT_ASSERT(kt_net_rx_post(n, 1, false) == 0, "repost");
	if (n->dev.vq[KT_RXQ].num_free == n->dev.vq[KT_RXQ].num)
		KT_ASSERT(kt_net_rx_post(n, 8, false) == 0, "post");
	len = rx_frame(frame, l->to_dev, CHECK_SEED);
	KT_TRY(inject(l, frame, len));
	for (;;) {
		g = kt_net_rx_recv(n, &h, got, sizeof(got), NULL, WAIT_MS);
		KT_ASSERT(g > 0, "the check frame sent from %s never arrived",
			  where);
		KT_ASSERT(kt_net_rx_post(n, 1, false) == 0, "repost");
		if (g == (ssize_t)len && !memcmp(got, frame, len))
			break;
	}
	return KT_PASS;
}

static int check_after_pump(struct kt_net *n, const struct link *l,
			    const char *where)
{
	KT_TRY(check_tx_after_pump(n, l, where));
	return check_rx_after_pump(n, l, where);
}

/* Backend of a teardown case: a macvtap queue or a packet socket. */
struct tbackend {
	struct veth ve;
	struct mvtap m;
	int fd;			/* the backend fd */
	unsigned long ino;	/* packet socket inode */
	struct link l;
	bool packet;
};

static int tbackend_setup(struct tbackend *b, bool packet)
{
	memset(b, 0, sizeof(*b));
	b->packet = packet;
	b->m.fd = -1;
	KT_TRY(veth_setup(&b->ve));
	b->l.psock = b->ve.psock;
	b->l.ifindex = b->ve.ifindex1;
	memcpy(b->l.to_peer, b->ve.mac1, 6);
	if (packet) {
		b->fd = packet_backend(b->ve.ifindex0, false);
		KT_ASSERT(b->fd >= 0, "packet socket: %s", kt_errname(-b->fd));
		b->ino = sock_inode(b->fd);
		memcpy(b->l.to_dev, b->ve.mac0, 6);
	} else {
		KT_TRY(macvtap_create(&b->m, &b->ve, MACVLAN_MODE_BRIDGE));
		KT_TRY(tapq_config(b->m.fd, 12, true));
		b->fd = b->m.fd;
		memcpy(b->l.to_dev, b->m.mac, 6);
	}
	return KT_PASS;
}

static uint64_t tbackend_features(const struct tbackend *b)
{
	return b->packet ? F_V1 | F_MRG | F_VHOST_HDR : F_V1 | F_MRG;
}

/*
 * The device closed under traffic both ways; the backend is released (a
 * packet socket vanishes once our fd closes too) and, for a macvtap, the
 * same queue serves a new device at once.
 */
static int close_during(const struct kt_target *t, bool packet)
{
	struct tbackend b;
	struct kt_net n;
	struct pump p;
	long ret;
	int fd;

	KT_TRY(tbackend_setup(&b, packet));
	KT_TRY(dev_attach(&n, t, tbackend_features(&b), NUM, 1536, b.fd));
	KT_TRY(pump_start(&p, &n, &b.l, PUMP_TX | PUMP_RX));
	kt_sleep_ms(RUN_MS);
	fd = n.dev.fd;
	n.dev.fd = -1;
	KT_TRY(kt_close_timed("close() of the device", CALL_MS, fd, &ret));
	KT_ASSERT(ret == 0, "close: %s", kt_errname(errno));
	kt_sleep_ms(100);
	KT_TRY(pump_stop(&p, "pump"));
	KT_ASSERT(p.tx_done > 0 && p.rx_done > 0,
		  "no traffic both ways before the close");
	kt_net_close(&n);
	if (packet) {
		close(b.fd);
		KT_TRY(packet_socket_gone(b.ino, "device closed under traffic"));
	} else {
		/* The queue the device used carries a new device's traffic. */
		KT_TRY(dev_attach(&n, t, tbackend_features(&b), NUM, 1536,
				  b.fd));
		KT_TRY(check_after_pump(&n, &b.l, "the veth peer"));
		kt_net_close(&n);
		close(b.fd);
		KT_ASSERT(link_del(b.m.ifindex) == 0, "deleting the macvtap");
	}
	veth_close(&b.ve);
	return KT_PASS;
}

static int case_close_macvtap(const struct kt_target *t)
{
	return close_during(t, false);
}

static int case_close_packet(const struct kt_target *t)
{
	return close_during(t, true);
}

/*
 * RESET_OWNER under traffic on a packet socket: the device drops the socket
 * (it vanishes once our fd closes), and set up again on a macvtap it works.
 */
static int case_reset_owner_packet(const struct kt_target *t)
{
	struct tbackend b;
	struct kt_net n;
	struct mvtap m;
	struct pump p;
	struct link lm;
	long ret;
	int r, i;

	KT_TRY(tbackend_setup(&b, true));
	KT_TRY(dev_attach(&n, t, tbackend_features(&b), NUM, 1536, b.fd));
	KT_TRY(pump_start(&p, &n, &b.l, PUMP_TX | PUMP_RX));
	kt_sleep_ms(RUN_MS);
	KT_TRY(kt_ioctl_timed("RESET_OWNER", CALL_MS, n.dev.fd,
			      VHOST_RESET_OWNER, NULL, &ret));
	KT_ASSERT(ret == 0, "RESET_OWNER: %s", kt_errname(errno));
	kt_sleep_ms(100);
	KT_TRY(pump_stop(&p, "pump"));
	close(b.fd);
	KT_TRY(packet_socket_gone(b.ino, "after RESET_OWNER"));

	KT_TRY(macvtap_create(&m, &b.ve, MACVLAN_MODE_BRIDGE));
	KT_TRY(tapq_config(m.fd, 12, true));
	r = kt_dev_setup(&n.dev, F_V1 | F_MRG);
	KT_ASSERT(r == 0, "setup after RESET_OWNER: %s", kt_errname(-r));
	for (i = 0; i < 2; i++) {
		r = kt_vq_setup(&n.dev, i, NUM, 0);
		KT_ASSERT(r == 0, "ring %d: %s", i, kt_errname(-r));
	}
	kt_pool_free(&n.txpool);
	kt_pool_free(&n.rxpool);
	KT_ASSERT(kt_pool_init(&n.txpool, &n.dev.mem, NUM, KT_TX_BUF) == 0 &&
		  kt_pool_init(&n.rxpool, &n.dev.mem, NUM, 1536) == 0, "pools");
	n.hdr_len = kt_net_hdr_len(F_V1 | F_MRG);
	n.vhost_hdr = false;
	for (i = 0; i < 2; i++) {
		r = kt_net_backend(&n.dev, i, m.fd);
		KT_ASSERT(r == 0, "backend %d: %s", i, kt_errname(-r));
	}
	lm = b.l;
	memcpy(lm.to_dev, m.mac, 6);
	KT_TRY(check_after_pump(&n, &lm, "the macvtap's veth peer"));
	kt_net_close(&n);
	close(m.fd);
	veth_close(&b.ve);
	return KT_PASS;
}

/*
 * Both rings detached (fd -1) under traffic on a macvtap: both rings stand
 * still, TX's GET_VRING_BASE equals its used index, and reattached both
 * directions resume.
 */
static int case_detach_macvtap(const struct kt_target *t)
{
	struct vhost_vring_state st;
	struct tbackend b;
	struct kt_net n;
	struct pump p;
	uint16_t used1[2], used2[2];
	int q;

	KT_TRY(tbackend_setup(&b, false));
	KT_TRY(dev_attach(&n, t, tbackend_features(&b), NUM, 1536, b.fd));
	KT_TRY(pump_start(&p, &n, &b.l, PUMP_TX | PUMP_RX));
	kt_sleep_ms(RUN_MS);
	KT_TRY(set_backend(&n, KT_TXQ, -1, "detach TX under traffic"));
	KT_TRY(set_backend(&n, KT_RXQ, -1, "detach RX under traffic"));
	for (q = 0; q < 2; q++)
		used1[q] = kt_vq_used_idx(&n.dev.vq[q]);
	kt_sleep_ms(RUN_MS);
	for (q = 0; q < 2; q++)
		used2[q] = kt_vq_used_idx(&n.dev.vq[q]);
	KT_TRY(pump_stop(&p, "pump"));
	for (q = 0; q < 2; q++)
		KT_ASSERT(used1[q] == used2[q],
			  "ring %d: used->idx moved from %u to %u after the detach",
			  q, used1[q], used2[q]);
	KT_ASSERT(p.tx_done > 0 && p.rx_done > 0,
		  "no traffic both ways before the detach");
	st.index = KT_TXQ;
	KT_ERRNO(0, ioctl(n.dev.fd, VHOST_GET_VRING_BASE, &st));
	KT_ASSERT(st.num == used2[KT_TXQ],
		  "TX GET_VRING_BASE %u but used->idx %u: consumed buffers never completed",
		  st.num, used2[KT_TXQ]);
	KT_TRY(set_backend(&n, KT_RXQ, b.fd, "reattach RX"));
	KT_TRY(set_backend(&n, KT_TXQ, b.fd, "reattach TX"));
	KT_TRY(check_after_pump(&n, &b.l, "the veth peer"));
	kt_net_close(&n);
	close(b.fd);
	veth_close(&b.ve);
	return KT_PASS;
}

/*
 * Multiqueue tap, a device per queue pair, all pumping both ways; one device
 * closed: the call returns and the other pairs keep going.
 */
static int case_mq_close_one(const struct kt_target *t)
{
	const int nq = MQ_MAX;
	struct kt_net *n = calloc(nq, sizeof(*n));
	struct pump *p = calloc(nq, sizeof(*p));
	unsigned long tx1[MQ_MAX], rx1 = 0, rx2 = 0;
	struct mqtap mt;
	struct link l;
	char who[32];
	long ret;
	int q, fd, psock;

	KT_ASSERT(n && p, "calloc");
	KT_TRY(mqtap_create(&mt, "ktmq0", nq, 12));
	psock = kt_packet_socket(mt.ifindex);
	KT_ASSERT(psock >= 0, "packet socket");
	l.psock = psock;
	l.ifindex = mt.ifindex;
	memcpy(l.to_dev, kt_guest_mac, 6);
	memcpy(l.to_peer, mt.mac, 6);
	for (q = 0; q < nq; q++) {
		KT_TRY(dev_attach(&n[q], t, F_V1 | F_MRG, NUM, 1536, mt.fd[q]));
		KT_TRY(pump_start(&p[q], &n[q], &l, PUMP_TX | PUMP_RX));
	}
	kt_sleep_ms(RUN_MS * 2);
	fd = n[0].dev.fd;
	n[0].dev.fd = -1;
	KT_TRY(kt_close_timed("close() of queue 0's device", CALL_MS, fd,
			      &ret));
	KT_ASSERT(ret == 0, "close: %s", kt_errname(errno));
	kt_sleep_ms(RUN_MS);
	for (q = 1; q < nq; q++) {
		tx1[q] = __atomic_load_n(&p[q].tx_done, __ATOMIC_RELAXED);
		rx1 += __atomic_load_n(&p[q].rx_done, __ATOMIC_RELAXED);
	}
	kt_sleep_ms(RUN_MS * 2);
	for (q = 0; q < nq; q++) {
		snprintf(who, sizeof(who), "queue %d", q);
		KT_TRY(pump_stop(&p[q], who));
	}
	for (q = 1; q < nq; q++) {
		KT_ASSERT(p[q].tx_done > tx1[q],
			  "queue %d: TX stopped completing after queue 0's device closed",
			  q);
		rx2 += p[q].rx_done;
	}
	KT_ASSERT(rx2 > rx1, "RX on queues 1-%d stopped after queue 0's device closed",
		  nq - 1);
	/* RX frames spread over the queues by flow: TX is per device. */
	for (q = 1; q < nq; q++)
		KT_TRY(check_tx_after_pump(&n[q], &l, "the multiqueue tap"));
	for (q = 0; q < nq; q++)
		kt_net_close(&n[q]);
	close(psock);
	mqtap_close(&mt);
	free(n);
	free(p);
	return KT_PASS;
}

/*
 * 200 devices set up, attached to a fresh backend of each kind in turn
 * (packet socket, macvtap queue, multiqueue tap queue), some carrying a
 * frame, then closed, our backend fd closed before or after the device.
 * Afterwards no backend is still referenced: no packet socket is left, and
 * both taps take their full 256 queues.
 */
static int case_many_backends(const struct kt_target *t)
{
	struct veth ve;
	struct mvtap m;
	struct mqtap mt;
	int *extra = calloc(256, sizeof(int));
	long t0 = kt_now_ms(), deadline;
	unsigned long ino;
	int i, q, r, fd, kind, nextra = 0, sockets;

	KT_ASSERT(extra, "calloc");
	KT_TRY(veth_setup(&ve));
	KT_TRY(macvtap_create(&m, &ve, MACVLAN_MODE_BRIDGE));
	KT_TRY(mqtap_create(&mt, "ktmq0", 1, 12));
	sockets = packet_sockets(0, NULL);
	for (i = 0; i < 200; i++) {
		struct kt_dev d;
		uint64_t feat = F_V1;

		kind = i % 3;
		if (kind == 0) {
			fd = packet_backend(ve.ifindex0, false);
			feat |= F_VHOST_HDR;
		} else if (kind == 1) {
			fd = macvtap_open(&m);
			if (fd >= 0)
				KT_TRY(tapq_config(fd, 12, false));
		} else {
			fd = mq_queue_open(mt.name);
		}
		KT_ASSERT(fd >= 0, "backend %d (kind %d): %s", i, kind,
			  kt_errname(-fd));
		ino = sock_inode(fd);
		r = kt_dev_open(&d, t->path);
		KT_ASSERT(r == 0, "open %d", i);
		r = kt_dev_setup(&d, feat);
		KT_ASSERT(r == 0, "setup %d: %s", i, kt_errname(-r));
		for (q = 0; q < 2; q++) {
			KT_ASSERT(kt_vq_setup(&d, q, 64, 0) == 0, "ring %d", i);
			r = kt_net_backend(&d, q, fd);
			KT_ASSERT(r == 0, "backend %d kind %d: %s", i, kind,
				  kt_errname(-r));
		}
		if (i % 10 < 3) {
			struct kt_buf b;

			b.gpa = kt_mem_alloc(&d.mem, 128, 64);
			b.len = 12 + 60;
			kt_frame_test(kt_gpa(&d.mem, b.gpa + 12), ve.mac1,
				      kt_guest_mac, 46, i);
			KT_ASSERT(kt_vq_add(&d.vq[KT_TXQ], &b, 1, NULL, 0,
					    false, 0) >= 0, "add");
			kt_vq_kick(&d.vq[KT_TXQ]);
			KT_ASSERT(kt_vq_wait_used(&d.vq[KT_TXQ], NULL, NULL,
						  NULL, WAIT_MS) == 1,
				  "device %d (backend kind %d) did not transmit",
				  i, kind);
		}
		if (i & 1) {
			close(fd);
			kt_dev_close(&d);
		} else {
			kt_dev_close(&d);
			close(fd);
		}
		if (kind == 0)
			KT_TRY(packet_socket_gone(ino, "device closed"));
	}
	kt_diag("200 devices with backends in %ld ms", kt_now_ms() - t0);
	r = packet_sockets(0, NULL);
	KT_ASSERT(r == sockets, "%d packet sockets left, %d before", r, sockets);
	/*
	 * A leaked queue stays attached: the 256-queue limit of each tap
	 * comes early.  The last release may run a moment after close().
	 */
	deadline = kt_deadline(WAIT_MS);
	for (nextra = 0; nextra < 255;) {
		fd = macvtap_open(&m);
		if (fd < 0 && kt_now_ms() < deadline) {
			kt_sleep_ms(20);
			continue;
		}
		KT_ASSERT(fd >= 0, "macvtap queue %d of 256: %s: a device kept a queue",
			  nextra + 2, kt_errname(-fd));
		extra[nextra++] = fd;
	}
	while (nextra)
		close(extra[--nextra]);
	for (nextra = 0; nextra < 255;) {
		fd = mq_queue_open(mt.name);
		if (fd < 0 && kt_now_ms() < deadline) {
			kt_sleep_ms(20);
			continue;
		}
		KT_ASSERT(fd >= 0, "tap queue %d of 256: %s: a device kept a queue",
			  nextra + 2, kt_errname(-fd));
		extra[nextra++] = fd;
	}
	while (nextra)
		close(extra[--nextra]);
	close(m.fd);
	mqtap_close(&mt);
	veth_close(&ve);
	free(extra);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "macvtap bridge: both ways, 12-byte header from the macvtap",
	  case_macvtap, .data = &mvt_bridge },
	{ "macvtap bridge: both ways, unlimited sndbuf (batched TX), EVENT_IDX",
	  case_macvtap, .data = &mvt_bridge_batch },
	{ "macvtap bridge: both ways, header added/stripped by the device, unlimited sndbuf",
	  case_macvtap, .data = &mvt_bridge_vhost_hdr,
	  .upstream_bug = KT_UPSTREAM_XDP_GSO_BUG },
	{ "macvtap passthru: both ways, legacy 10-byte header",
	  case_macvtap, .data = &mvt_passthru },
	{ "macvtap passthru: both ways, mergeable 256-byte RX buffers",
	  case_macvtap, .data = &mvt_passthru_mrg },
	{ "AF_PACKET: both ways, 12-byte header added/stripped by the device",
	  case_packet, .data = &pkt_hdr12 },
	{ "AF_PACKET: both ways, 10-byte header added/stripped by the device",
	  case_packet, .data = &pkt_hdr10 },
	{ "AF_PACKET: both ways, mergeable 256-byte RX buffers, EVENT_IDX",
	  case_packet, .data = &pkt_mrg },
	{ "AF_PACKET: both ways, 10-byte header from the socket (PACKET_VNET_HDR)",
	  case_packet, .data = &pkt_sock_hdr },
	{ "multiqueue tap, 4 queue pairs at once: every frame once, intact",
	  case_multiqueue, 120 },
	{ "TX backend swapped A <-> B, detached, reattached under a sender",
	  case_swap_tx, 120 },
	{ "RX backend swapped with frames queued and batched: none lost, none twice, in order",
	  case_swap_rx, 120 },
	{ "close the device under traffic both ways (macvtap); the queue serves a new device",
	  case_close_macvtap },
	{ "close the device under traffic both ways (AF_PACKET); the socket is released",
	  case_close_packet },
	{ "RESET_OWNER under traffic (AF_PACKET): socket released; set up again on a macvtap",
	  case_reset_owner_packet },
	{ "detach both rings under traffic (macvtap): rings stop; reattached they resume",
	  case_detach_macvtap },
	{ "multiqueue tap: one pair's device closed, the other pairs keep going",
	  case_mq_close_one, 120 },
	{ "200 devices on packet socket / macvtap / multiqueue tap backends: none leaked",
	  case_many_backends, 240 },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
