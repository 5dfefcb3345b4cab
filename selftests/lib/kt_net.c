// SPDX-License-Identifier: GPL-2.0-only
/*
 * Network plumbing for the vhost-net tests: a private network namespace, taps,
 * packet sockets and frame builders.  Only 192.0.2.0/24 (TEST-NET-1) is ever
 * configured, no route beyond it, and IPv6 is off so that the link carries
 * nothing but the test's frames.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kt.h"

const uint8_t kt_guest_mac[6] = { 0x02, 0x6b, 0x76, 0x69, 0x6f, 0x02 };
const uint8_t kt_bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

int kt_netns_enter(void)
{
	static int entered;

	if (entered)
		return 0;
	if (unshare(CLONE_NEWNET) < 0) {
		int r = -errno;

		kt_diag("unshare(CLONE_NEWNET): %s", strerror(errno));
		return r;
	}
	entered = 1;
	/* Best effort: no IPv6 means no DAD, MLD or router solicitations. */
	kt_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	kt_write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	return 0;
}

int kt_ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r;

	if (s < 0)
		return -errno;
	r = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return r;
}

static int kt_tap_make(struct kt_tap *tap, const char *name, int vnet_hdr_sz,
		       const char *ipv4, short flags)
{
	struct sockaddr_in *sin;
	struct ifreq ifr;
	char path[128];
	int r;

	memset(tap, 0, sizeof(*tap));
	tap->fd = -1;
	if (kt_netns_enter() < 0)
		return kt_skip("no private network namespace (not root?)");
	tap->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap->fd < 0)
		return kt_skip("/dev/net/tun: %s (tun module not loaded?)",
			       strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | flags;
	if (vnet_hdr_sz > 0)
		ifr.ifr_flags |= IFF_VNET_HDR;
	tap->flags = ifr.ifr_flags;
	if (ioctl(tap->fd, TUNSETIFF, &ifr) < 0)
		return kt_fail("TUNSETIFF %s: %s", name, strerror(errno));
	snprintf(tap->name, sizeof(tap->name), "%s", ifr.ifr_name);
	if (vnet_hdr_sz > 0 &&
	    ioctl(tap->fd, TUNSETVNETHDRSZ, &vnet_hdr_sz) < 0)
		return kt_fail("TUNSETVNETHDRSZ %d: %s", vnet_hdr_sz,
			       strerror(errno));
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 tap->name);
	kt_write_file(path, "1");

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap->name);
	r = kt_ifreq_ioctl(SIOCGIFHWADDR, &ifr);
	if (r)
		return kt_fail("SIOCGIFHWADDR: %s", strerror(-r));
	memcpy(tap->mac, ifr.ifr_hwaddr.sa_data, 6);

	if (ipv4) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap->name);
		sin = (struct sockaddr_in *)&ifr.ifr_addr;
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, ipv4, &sin->sin_addr);
		r = kt_ifreq_ioctl(SIOCSIFADDR, &ifr);
		if (r)
			return kt_fail("SIOCSIFADDR %s: %s", ipv4, strerror(-r));
		inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
		r = kt_ifreq_ioctl(SIOCSIFNETMASK, &ifr);
		if (r)
			return kt_fail("SIOCSIFNETMASK: %s", strerror(-r));
	}

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap->name);
	r = kt_ifreq_ioctl(SIOCGIFFLAGS, &ifr);
	if (!r) {
		ifr.ifr_flags |= IFF_UP;
		r = kt_ifreq_ioctl(SIOCSIFFLAGS, &ifr);
	}
	if (r)
		return kt_fail("bringing %s up: %s", tap->name, strerror(-r));
	tap->ifindex = if_nametoindex(tap->name);
	if (!tap->ifindex)
		return kt_fail("if_nametoindex %s: %s", tap->name,
			       strerror(errno));
	return KT_PASS;
}

int kt_tap_create(struct kt_tap *tap, const char *name, int vnet_hdr_sz,
		  const char *ipv4)
{
	return kt_tap_make(tap, name, vnet_hdr_sz, ipv4, 0);
}

int kt_tap_create_mq(struct kt_tap *tap, const char *name, int vnet_hdr_sz,
		     const char *ipv4)
{
	return kt_tap_make(tap, name, vnet_hdr_sz, ipv4, IFF_MULTI_QUEUE);
}

int kt_tap_queue(const struct kt_tap *tap)
{
	struct ifreq ifr;
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap->name);
	/*
	 * The same flags as the first queue: tun takes each attach's flags
	 * as the whole device's, so a queue without IFF_VNET_HDR would turn
	 * the header off for every queue.
	 */
	ifr.ifr_flags = tap->flags;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

void kt_tap_close(struct kt_tap *tap)
{
	if (tap->fd >= 0)
		close(tap->fd);
	tap->fd = -1;
}

int kt_neigh_add(const char *ifname, const char *ipv4, const uint8_t mac[6])
{
	struct sockaddr_in *sin;
	struct arpreq req;
	int s, r;

	memset(&req, 0, sizeof(req));
	sin = (struct sockaddr_in *)&req.arp_pa;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ipv4, &sin->sin_addr);
	req.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(req.arp_ha.sa_data, mac, 6);
	req.arp_flags = ATF_COM | ATF_PERM;
	snprintf(req.arp_dev, sizeof(req.arp_dev), "%s", ifname);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	r = ioctl(s, SIOCSARP, &req) < 0 ? -errno : 0;
	close(s);
	return r;
}

int kt_packet_socket(int ifindex)
{
	struct sockaddr_ll sll;
	int s, size = 4 << 20;

	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (s < 0)
		return -errno;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	/* Room for a full ring's burst of frames (root may exceed rmem_max). */
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int r = -errno;

		close(s);
		return r;
	}
	return s;
}

static int kt_packet_sendto(int psock, int ifindex, const void *frame,
			    size_t len, int flags)
{
	struct sockaddr_ll sll;
	ssize_t n;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, frame, 6);
	n = sendto(psock, frame, len, flags, (struct sockaddr *)&sll,
		   sizeof(sll));
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EMSGSIZE;
}

int kt_packet_send(int psock, int ifindex, const void *frame, size_t len)
{
	return kt_packet_sendto(psock, ifindex, frame, len, 0);
}

int kt_packet_send_nowait(int psock, int ifindex, const void *frame,
			  size_t len)
{
	return kt_packet_sendto(psock, ifindex, frame, len, MSG_DONTWAIT);
}

ssize_t kt_packet_recv(int psock, void *buf, size_t len, uint16_t ethertype,
		       int timeout_ms)
{
	long deadline = kt_deadline(timeout_ms);
	struct sockaddr_ll sll;
	socklen_t sl;
	ssize_t n;
	int r;

	for (;;) {
		sl = sizeof(sll);
		n = recvfrom(psock, buf, len, MSG_DONTWAIT,
			     (struct sockaddr *)&sll, &sl);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n >= 14 && sll.sll_pkttype != PACKET_OUTGOING) {
			const uint8_t *b = buf;

			if (!ethertype ||
			    ((b[12] << 8) | b[13]) == ethertype)
				return n;
		}
		if (n >= 0)
			continue;	/* not ours: look at the next */
		r = kt_wait_readable(psock, (int)(deadline - kt_now_ms()));
		if (r < 0)
			return r;
		if (r == 0)
			return 0;
	}
}

int kt_expect_packet(int psock, const void *want, size_t len, int timeout_ms,
		     const char *where)
{
	uint8_t got[2048];
	ssize_t r;

	r = kt_packet_recv(psock, got, sizeof(got), KT_ETH_P_TEST, timeout_ms);
	if (r < 0)
		return kt_fail("packet socket on %s: %s", where,
			       strerror((int)-r));
	if (r == 0)
		return kt_fail("the %zu-byte frame did not appear on %s within %d ms",
			       len, where, timeout_ms);
	if (!kt_bytes_equal(got, r, want, len, "transmitted frame"))
		return kt_fail("frame on %s differs from the one posted", where);
	return KT_PASS;
}

void kt_fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}

size_t kt_frame_test(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
		     size_t payload_len, uint32_t seed)
{
	size_t len = 14 + payload_len;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = KT_ETH_P_TEST >> 8;
	buf[13] = KT_ETH_P_TEST & 0xff;
	kt_fill_pattern(buf + 14, payload_len, seed);
	if (payload_len >= 4)
		memcpy(buf + 14, &seed, 4);
	if (len < 60) {
		memset(buf + len, 0, 60 - len);
		len = 60;
	}
	return len;
}

static uint32_t kt_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static uint16_t kt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t kt_frame_udp(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
		    const char *src_ip, const char *dst_ip, uint16_t sport,
		    uint16_t dport, const void *payload, size_t plen)
{
	struct iphdr *ip = (struct iphdr *)(buf + 14);
	struct udphdr *udp = (struct udphdr *)(buf + 34);
	uint8_t pseudo[12];
	uint32_t sum;
	uint16_t c;
	size_t len;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = 0x08;
	buf[13] = 0x00;
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(20 + 8 + plen);
	ip->id = htons(0x6b76);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	inet_pton(AF_INET, src_ip, &ip->saddr);
	inet_pton(AF_INET, dst_ip, &ip->daddr);
	ip->check = htons(kt_csum_fold(kt_csum_add(0, ip, 20)));
	udp->source = htons(sport);
	udp->dest = htons(dport);
	udp->len = htons(8 + plen);
	udp->check = 0;
	memcpy(buf + 42, payload, plen);
	memcpy(pseudo, &ip->saddr, 4);
	memcpy(pseudo + 4, &ip->daddr, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	pseudo[10] = (8 + plen) >> 8;
	pseudo[11] = (8 + plen) & 0xff;
	sum = kt_csum_add(0, pseudo, 12);
	sum = kt_csum_add(sum, udp, 8 + plen);
	c = kt_csum_fold(sum);
	udp->check = htons(c ? c : 0xffff);
	len = 42 + plen;
	if (len < 60) {
		memset(buf + len, 0, 60 - len);
		len = 60;
	}
	return len;
}

bool kt_bytes_equal(const void *got, size_t got_len, const void *want,
		    size_t want_len, const char *what)
{
	const uint8_t *g = got, *w = want;
	size_t i, n = got_len < want_len ? got_len : want_len;

	for (i = 0; i < n; i++)
		if (g[i] != w[i])
			break;
	if (i == n && got_len == want_len)
		return true;
	if (i < n)
		kt_diag("%s: byte %zu is 0x%02x, want 0x%02x (lengths %zu/%zu)",
			what, i, g[i], w[i], got_len, want_len);
	else
		kt_diag("%s: length %zu, want %zu (common bytes equal)", what,
			got_len, want_len);
	return false;
}
