// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: virtio-net devices served by kvio_net (/dev/kvio-net) or any
 * other node of the upstream vhost-net ABI (/dev/vhost-net), over a tap.
 *
 *   --net tap=NAME[,queues=N][,mac=XX:XX:XX:XX:XX:XX][,dev=PATH][,poll=US]
 *
 * As QEMU does: one vhost fd and one tap queue per queue pair, the tap
 * doing the virtio-net header (TUNSETVNETHDRSZ 12, the VERSION_1 layout), so
 * the backend is not asked for VHOST_NET_F_VIRTIO_NET_HDR.  The offloads the
 * guest takes reach the tap with TUNSETOFFLOAD.  With more than one pair the
 * device has a control queue, which vhost-net does not serve: a thread here
 * serves it (VIRTIO_NET_CTRL_MQ), attaching and detaching the tap queues.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <linux/if_tun.h>
#include <linux/pci_regs.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "vhost.h"

#define NET_MAX_DEVS		8
#define NET_MAX_PAIRS		16
#define NET_QUEUE_SIZE		256
#define NET_DEFAULT_DEV		"/dev/kvio-net"
#define NET_VNET_HDR_LEN	12	/* struct virtio_net_hdr_mrg_rxbuf */
/* A control command's device-readable bytes we look at (class, cmd, data). */
#define NET_CTRL_MAX_IN		64
/* Descriptors an indirect table may hold: the ring's own maximum. */
#define NET_CTRL_MAX_INDIRECT	32768

#define BIT64(n)		(1ULL << (n))

struct net_ctrl {
	/*
	 * The control queue as the driver set it up (frozen by DRIVER_OK):
	 * guest-physical addresses, or IOVAs behind the vIOMMU, each field
	 * looked up at its use (vmm_dma()).
	 */
	uint16_t num;
	uint64_t desc, avail, used;
	int kick_efd;
	int call_efd;
	bool event_idx;
	uint16_t last_avail;
	uint16_t used_idx;
	bool broken;
	int stop_efd;
	pthread_t thread;
	bool running;
};

struct net_dev {
	char *spec;
	char tap[IFNAMSIZ];
	const char *dev_path;
	unsigned int npairs;
	unsigned int poll_us;		/* busy-loop timeout of each ring */
	uint8_t mac[6];
	int tap_fd[NET_MAX_PAIRS];
	int vhost_fd[NET_MAX_PAIRS];
	uint64_t backend_features;
	unsigned int tap_offloads;	/* TUN_F_* the tap accepts */
	uint32_t rings[NET_MAX_PAIRS];	/* started rings of each fd: bit 0 RX, 1 TX */
	bool attached[NET_MAX_PAIRS];	/* VHOST_NET_SET_BACKEND done */
	bool tap_queue_on[NET_MAX_PAIRS]; /* tap queue attached (TUNSETQUEUE) */
	struct virtio_net_config cfg;
	struct net_ctrl ctrl;
	bool created;
	struct virtio_dev vdev;
};

static struct net_dev nets[NET_MAX_DEVS];
static unsigned int nnets;

static int net_parse_err(const char *spec, const char *why)
{
	fprintf(stderr, "kvio-vmm: --net %s: %s\n", spec, why);
	return -1;
}

int vmm_net_parse(const char *spec)
{
	struct net_dev *n = &nets[nnets];
	char *copy, *tok, *save = NULL;
	char why[160];
	int len, i;
	bool tap = false;

	if (nnets == NET_MAX_DEVS)
		return net_parse_err(spec, "too many network devices");
	copy = strdup(spec);
	if (!copy)
		return net_parse_err(spec, "out of memory");
	memset(n, 0, sizeof(*n));
	n->npairs = 1;
	n->dev_path = NET_DEFAULT_DEV;
	/* 52:54:00:12:34:56, then :57 and so on for the next devices. */
	memcpy(n->mac, "\x52\x54\x00\x12\x34\x56", 6);
	n->mac[5] += nnets;
	for (i = 0; i < NET_MAX_PAIRS; i++) {
		n->tap_fd[i] = -1;
		n->vhost_fd[i] = -1;
	}
	n->ctrl.stop_efd = -1;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "tap=", 4)) {
			if (!tok[4] || strlen(tok + 4) >= IFNAMSIZ) {
				snprintf(why, sizeof(why),
					 "tap= needs an interface name of 1 to %d characters",
					 IFNAMSIZ - 1);
				goto err;
			}
			strcpy(n->tap, tok + 4);
			tap = true;
		} else if (!strncmp(tok, "queues=", 7)) {
			if (vmm_spec_queues(tok + 7, NET_MAX_PAIRS, &n->npairs,
					    why, sizeof(why)))
				goto err;
		} else if (!strncmp(tok, "mac=", 4)) {
			len = -1;
			if (sscanf(tok + 4, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%n",
				   &n->mac[0], &n->mac[1], &n->mac[2], &n->mac[3],
				   &n->mac[4], &n->mac[5], &len) != 6 ||
			    len != (int)strlen(tok + 4) || len != 17) {
				snprintf(why, sizeof(why), "mac= needs XX:XX:XX:XX:XX:XX");
				goto err;
			}
			if (n->mac[0] & 1) {
				snprintf(why, sizeof(why), "mac= is a multicast address");
				goto err;
			}
		} else if (!strncmp(tok, "poll=", 5)) {
			if (vmm_spec_uint(tok + 5, "poll", 0, VMM_POLL_MAX_US,
					  &n->poll_us, why, sizeof(why)))
				goto err;
		} else if (!strncmp(tok, "dev=", 4)) {
			if (!tok[4]) {
				snprintf(why, sizeof(why), "dev= needs a path");
				goto err;
			}
			n->dev_path = strdup(tok + 4);
			if (!n->dev_path) {
				snprintf(why, sizeof(why), "out of memory");
				goto err;
			}
		} else {
			snprintf(why, sizeof(why),
				 "unknown option '%.40s' (tap=NAME[,queues=N][,mac=..][,dev=PATH][,poll=US])",
				 tok);
			goto err;
		}
	}
	if (!tap) {
		snprintf(why, sizeof(why), "tap=NAME is required");
		goto err;
	}
	free(copy);
	n->spec = strdup(spec);
	nnets++;
	return 0;
err:
	free(copy);
	return net_parse_err(spec, why);
}

/* --------------------------------------------------------------- taps */

static int tap_open(struct net_dev *n, unsigned int pair)
{
	struct ifreq ifr;
	int fd, hdr = NET_VNET_HDR_LEN;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "kvio-vmm: --net %s: /dev/net/tun: %s (modprobe tun)\n",
			n->spec, strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, n->tap);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (n->npairs > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr,
			"kvio-vmm: --net %s: tap %s: TUNSETIFF: %s (make it: ip tuntap add dev %s mode tap vnet_hdr%s)\n",
			n->spec, n->tap, strerror(errno), n->tap,
			n->npairs > 1 ? " multi_queue" : "");
		goto err;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		fprintf(stderr, "kvio-vmm: --net %s: tap %s: TUNSETVNETHDRSZ: %s\n",
			n->spec, n->tap, strerror(errno));
		goto err;
	}
	/* No offload until the guest acks one. */
	if (ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		fprintf(stderr, "kvio-vmm: --net %s: tap %s: TUNSETOFFLOAD: %s\n",
			n->spec, n->tap, strerror(errno));
		goto err;
	}
	n->tap_fd[pair] = fd;
	n->tap_queue_on[pair] = true;
	return 0;
err:
	close(fd);
	return -1;
}

/* Which offloads the tap takes, as QEMU's tap_probe_has_ufo() asks. */
static void tap_probe_offloads(struct net_dev *n)
{
	unsigned int base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	int fd = n->tap_fd[0];

	n->tap_offloads = 0;
	if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0)
		n->tap_offloads = TUN_F_CSUM;
	if (ioctl(fd, TUNSETOFFLOAD, base) == 0)
		n->tap_offloads = base;
	if (ioctl(fd, TUNSETOFFLOAD, base | TUN_F_UFO) == 0)
		n->tap_offloads |= TUN_F_UFO;
	ioctl(fd, TUNSETOFFLOAD, 0);
}

static void tap_queue_set(struct net_dev *n, unsigned int pair, bool on)
{
	struct ifreq ifr;

	if (n->npairs == 1 || n->tap_queue_on[pair] == on)
		return;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	if (ioctl(n->tap_fd[pair], TUNSETQUEUE, &ifr) < 0) {
		vmm_guest_msg("kvio-vmm: tap %s: TUNSETQUEUE %s queue %u: %s\n",
			      n->tap, on ? "attach" : "detach", pair, strerror(errno));
		return;
	}
	n->tap_queue_on[pair] = on;
}

/* The driver chose @pairs queue pairs: only their tap queues take traffic. */
static void net_set_pairs(struct net_dev *n, unsigned int pairs)
{
	unsigned int p;

	/* Attach the new ones first: the tap never has no queue. */
	for (p = 0; p < pairs; p++)
		tap_queue_set(n, p, true);
	for (p = pairs; p < n->npairs; p++)
		tap_queue_set(n, p, false);
}

/* ------------------------------------------------------ control queue */

/*
 * Walk one chain: copy up to NET_CTRL_MAX_IN device-readable bytes into
 * @in, find the last device-writable byte (the ack: *@has_ack, *@ack its
 * address).  Every descriptor index, count and buffer is checked; false
 * for a malformed chain or one the device cannot reach.
 */
static bool net_ctrl_chain(struct virtio_dev *vdev, struct net_ctrl *c,
			   uint16_t head, uint8_t *in, uint32_t *in_len,
			   uint64_t *ack, bool *has_ack)
{
	uint32_t tsize = c->num, idx = head, count = 0;
	bool indirect = false, seen_write = false;
	uint64_t table = c->desc;
	struct vring_desc d;
	uint32_t n;

	*in_len = 0;
	*ack = 0;
	*has_ack = false;
	for (;;) {
		if (idx >= tsize || count++ >= tsize)
			return false;	/* out of the table, or a loop */
		if (vmm_dma_read(vdev, table + (uint64_t)idx * sizeof(d), &d,
				 sizeof(d)))
			return false;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect || (d.flags & VRING_DESC_F_NEXT) ||
			    !d.len || d.len % sizeof(d) ||
			    d.len / sizeof(d) > NET_CTRL_MAX_INDIRECT)
				return false;
			table = d.addr;
			tsize = d.len / sizeof(d);
			indirect = true;
			idx = 0;
			count = 0;
			continue;
		}
		if (d.flags & VRING_DESC_F_WRITE) {
			seen_write = true;
			if (d.len) {
				*ack = d.addr + d.len - 1;
				*has_ack = true;
			}
		} else {
			if (seen_write)
				return false;	/* readable after writable */
			n = d.len;
			if (n > NET_CTRL_MAX_IN - *in_len)
				n = NET_CTRL_MAX_IN - *in_len;
			if (n && vmm_dma_read(vdev, d.addr, in + *in_len, n))
				return false;
			*in_len += n;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return true;
		idx = d.next;
	}
}

static uint8_t net_ctrl_command(struct net_dev *n, const uint8_t *in,
				uint32_t in_len)
{
	struct virtio_net_ctrl_hdr hdr;
	uint16_t pairs;

	if (in_len < sizeof(hdr))
		return VIRTIO_NET_ERR;
	memcpy(&hdr, in, sizeof(hdr));
	if (hdr.class == VIRTIO_NET_CTRL_MQ &&
	    hdr.cmd == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET &&
	    (n->vdev.guest_features & BIT64(VIRTIO_NET_F_MQ)) &&
	    in_len >= sizeof(hdr) + sizeof(pairs)) {
		pairs = in[2] | in[3] << 8;
		if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > n->npairs)
			return VIRTIO_NET_ERR;
		net_set_pairs(n, pairs);
		/* What the control queue did, for whoever reads stderr. */
		fprintf(stderr, "kvio-vmm: tap %s: the driver uses %u of %u queue pairs\n",
			n->tap, pairs, n->npairs);
		return VIRTIO_NET_OK;
	}
	return VIRTIO_NET_ERR;
}

/* A control queue the driver broke is left alone until the next reset. */
static void net_ctrl_stopped(struct net_dev *n, const char *why, unsigned int v)
{
	vmm_guest_msg("kvio-vmm: tap %s: control queue stopped: %s %u\n",
		      n->tap, why, v);
	n->ctrl.broken = true;
}

/* A 16- or 32-bit field of the control queue; NULL (queue stopped) if unreachable. */
static void *net_ctrl_field(struct net_dev *n, uint64_t addr, uint64_t len,
			    bool write)
{
	void *p = vmm_dma(&n->vdev, addr, len, write);

	if (!p)
		net_ctrl_stopped(n, "a ring field unreachable at offset",
				 (unsigned int)(addr & 0xfff));
	return p;
}

/* Its used entry for @head (@len bytes written), not yet published. */
static bool net_ctrl_put_used(struct net_dev *n, uint16_t head, uint32_t len)
{
	struct net_ctrl *c = &n->ctrl;
	uint64_t e = c->used + 4 + 8ULL * (c->used_idx % c->num);
	uint32_t *id = net_ctrl_field(n, e, 4, true);
	uint32_t *l = id ? net_ctrl_field(n, e + 4, 4, true) : NULL;

	if (!l)
		return false;
	*id = head;
	*l = len;
	return true;
}

/*
 * Serve the chains the driver made available, at most a ring's worth per
 * call: a driver that keeps adding more gets the rest after the thread has
 * been back to poll() (a kick to ourselves), where a reset can stop it.
 * Behind the vIOMMU each access asks the kernel for the mapping of now:
 * the control queue is rare, and a guest that unmaps its ring stops it.
 */
static void net_ctrl_process(struct net_dev *n)
{
	struct net_ctrl *c = &n->ctrl;
	uint16_t avail_idx, head, *avail_idx_p, *used_idx_p, *avail_event, *e;
	uint8_t in[NET_CTRL_MAX_IN], *ack_p, status;
	unsigned int served = 0;
	uint32_t in_len;
	uint64_t one = 1, ack;
	bool has_ack;

	/* Left alone until the next reset; its fields are not looked up again. */
	if (c->broken)
		return;
	avail_idx_p = net_ctrl_field(n, c->avail + 2, 2, false);
	used_idx_p = net_ctrl_field(n, c->used + 2, 2, true);
	avail_event = c->event_idx ?
		net_ctrl_field(n, c->used + 4 + 8ULL * c->num, 2, true) : NULL;
	while (!c->broken && served < c->num) {
		avail_idx = __atomic_load_n(avail_idx_p, __ATOMIC_ACQUIRE);
		if ((uint16_t)(avail_idx - c->last_avail) > c->num) {
			net_ctrl_stopped(n, "avail index jumped to", avail_idx);
			break;
		}
		if (avail_idx == c->last_avail) {
			if (!c->event_idx)
				break;
			/* Ask for a kick at the next one, then look again. */
			__atomic_store_n(avail_event, c->last_avail, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (__atomic_load_n(avail_idx_p, __ATOMIC_ACQUIRE) ==
			    c->last_avail)
				break;
			continue;
		}
		while (c->last_avail != avail_idx && served < c->num) {
			e = net_ctrl_field(n, c->avail + 4 +
					   2ULL * (c->last_avail % c->num), 2,
					   false);
			if (!e)
				break;
			head = *e;
			if (!net_ctrl_chain(&n->vdev, c, head, in, &in_len, &ack,
					    &has_ack)) {
				net_ctrl_stopped(n, "a bad chain at head", head);
				break;
			}
			status = net_ctrl_command(n, in, in_len);
			ack_p = has_ack ? vmm_dma(&n->vdev, ack, 1, true) : NULL;
			if (ack_p)
				*ack_p = status;
			if (!net_ctrl_put_used(n, head, ack_p ? 1 : 0))
				break;
			c->used_idx++;
			c->last_avail++;
			served++;
		}
		/* Entries before the index (virtio 1.2, 2.7.13). */
		if (!c->broken || served)
			__atomic_store_n(used_idx_p, c->used_idx, __ATOMIC_RELEASE);
	}
	if (served && c->call_efd >= 0 &&
	    write(c->call_efd, &one, sizeof(one)) != sizeof(one))
		perror("kvio-vmm: control queue call");
	if (served >= c->num && !c->broken &&
	    write(c->kick_efd, &one, sizeof(one)) != sizeof(one))
		perror("kvio-vmm: control queue kick");
}

static void *net_ctrl_thread(void *arg)
{
	struct net_dev *n = arg;
	struct pollfd pfd[2] = {
		{ .fd = n->ctrl.kick_efd, .events = POLLIN },
		{ .fd = n->ctrl.stop_efd, .events = POLLIN },
	};
	uint64_t v;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("kvio-vmm: control queue poll");
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & POLLIN) {
			if (read(n->ctrl.kick_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			net_ctrl_process(n);
		}
	}
	return NULL;
}

static int net_ctrl_start(struct net_dev *n, unsigned int qi)
{
	struct virtio_dev *vdev = &n->vdev;
	struct virtio_queue *q = &vdev->q[qi];
	struct net_ctrl *c = &n->ctrl;
	uint64_t num = q->size;
	int err;

	c->num = q->size;
	c->desc = q->desc;
	c->avail = q->avail;
	c->used = q->used;
	/* IOVAs are looked up at each use: the mappings may change. */
	if ((!virtio_uses_iova(vdev) &&
	     (!vmm_gpa(vdev->vm, q->desc, 16 * num) ||
	      !vmm_gpa(vdev->vm, q->avail, 6 + 2 * num) ||
	      !vmm_gpa(vdev->vm, q->used, 6 + 8 * num))) ||
	    (q->desc & 15) || (q->avail & 1) || (q->used & 3)) {
		vmm_guest_msg("kvio-vmm: tap %s: control queue outside RAM or misaligned\n",
			      n->tap);
		return -1;
	}
	c->kick_efd = q->kick_efd;
	c->call_efd = virtio_queue_call_efd(vdev, qi);
	c->event_idx = vdev->guest_features & BIT64(VIRTIO_RING_F_EVENT_IDX);
	c->last_avail = 0;
	c->used_idx = 0;
	c->broken = false;
	c->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_efd < 0) {
		perror("kvio-vmm: eventfd");
		return -1;
	}
	err = pthread_create(&c->thread, NULL, net_ctrl_thread, n);
	if (err) {
		fprintf(stderr, "kvio-vmm: control queue thread: %s\n", strerror(err));
		close(c->stop_efd);
		c->stop_efd = -1;
		return -1;
	}
	c->running = true;
	return 0;
}

static void net_ctrl_stop(struct net_dev *n)
{
	struct net_ctrl *c = &n->ctrl;
	uint64_t one = 1;

	if (!c->running)
		return;
	if (write(c->stop_efd, &one, sizeof(one)) != sizeof(one))
		perror("kvio-vmm: control queue stop");
	pthread_join(c->thread, NULL);
	close(c->stop_efd);
	c->stop_efd = -1;
	c->running = false;
}

/* ------------------------------------------------------------- device */

static void net_config_read(struct virtio_dev *vdev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct net_dev *n = vdev->priv;

	memcpy(data, (uint8_t *)&n->cfg + off, len);
}

static void net_config_write(struct virtio_dev *vdev, uint32_t off,
			     const uint8_t *data, uint32_t len)
{
	/* Nothing is writable without VIRTIO_NET_F_CTRL_MAC_ADDR (legacy). */
	(void)vdev;
	(void)off;
	(void)data;
	(void)len;
}

static void net_reset(struct virtio_dev *vdev)
{
	struct net_dev *n = vdev->priv;
	struct vhost_vring_file f = { .fd = -1 };
	unsigned int p;

	net_ctrl_stop(n);
	for (p = 0; p < n->npairs; p++) {
		if (n->attached[p]) {
			for (f.index = 0; f.index < 2; f.index++)
				if (ioctl(n->vhost_fd[p], VHOST_NET_SET_BACKEND, &f) < 0)
					vmm_guest_msg("kvio-vmm: %s: SET_BACKEND -1: %s\n",
						      n->dev_path, strerror(errno));
			n->attached[p] = false;
		}
		vhost_queues_stop(n->vhost_fd[p], &n->rings[p]);
	}
	/* After a reset the device uses the first pair only (5.1.6.5.5). */
	net_set_pairs(n, 1);
}

static unsigned int net_tap_offloads(struct net_dev *n, uint64_t acked)
{
	unsigned int f = 0;

	/* QEMU's virtio_net_apply_guest_offloads(): what the tap may send us. */
	if (acked & BIT64(VIRTIO_NET_F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (acked & BIT64(VIRTIO_NET_F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (acked & BIT64(VIRTIO_NET_F_GUEST_TSO6))
			f |= TUN_F_TSO6;
		if (acked & BIT64(VIRTIO_NET_F_GUEST_ECN))
			f |= TUN_F_TSO_ECN;
		if (acked & BIT64(VIRTIO_NET_F_GUEST_UFO))
			f |= TUN_F_UFO;
	}
	return f & n->tap_offloads;
}

static int net_activate(struct virtio_dev *vdev)
{
	struct net_dev *n = vdev->priv;
	uint64_t acked = vdev->guest_features;
	unsigned int offl = net_tap_offloads(n, acked);
	/* Without MQ the driver uses one pair and the control queue is 2. */
	bool mq = acked & BIT64(VIRTIO_NET_F_MQ);
	unsigned int pairs = mq ? n->npairs : 1;
	struct vhost_vring_file f;
	unsigned int p, qi;

	for (p = 0; p < n->npairs; p++) {
		if (ioctl(n->tap_fd[p], TUNSETOFFLOAD, offl) < 0) {
			vmm_guest_msg("kvio-vmm: tap %s: TUNSETOFFLOAD %#x: %s\n",
				      n->tap, offl, strerror(errno));
			return -1;
		}
	}
	for (p = 0; p < pairs; p++) {
		/* A pair the driver did not set up stays idle. */
		if (!vdev->q[2 * p].enabled || !vdev->q[2 * p + 1].enabled)
			continue;
		if (vhost_start(n->vhost_fd[p], vdev->vm, acked & n->backend_features) ||
		    vhost_queues_start(n->vhost_fd[p], vdev, 2 * p, 2, n->poll_us,
				       &n->rings[p]))
			return -1;
		f.fd = n->tap_fd[p];
		for (f.index = 0; f.index < 2; f.index++) {
			if (ioctl(n->vhost_fd[p], VHOST_NET_SET_BACKEND, &f) < 0) {
				vmm_guest_msg("kvio-vmm: %s: VHOST_NET_SET_BACKEND ring %u: %s\n",
					      n->dev_path, f.index, strerror(errno));
				return -1;
			}
			n->attached[p] = true;
		}
	}
	net_set_pairs(n, 1);
	qi = 2 * pairs;
	if ((acked & BIT64(VIRTIO_NET_F_CTRL_VQ)) && qi < vdev->nq &&
	    vdev->q[qi].enabled && net_ctrl_start(n, qi))
		return -1;
	return 0;
}

static const struct virtio_dev_ops net_ops = {
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.reset = net_reset,
};

static int net_create(struct vmm *vm, struct net_dev *n)
{
	const char *hint = NULL;
	uint64_t features, f;
	unsigned int p, nq;

	if (!strcmp(n->dev_path, NET_DEFAULT_DEV))
		hint = "kvio_net";
	else if (!strcmp(n->dev_path, "/dev/vhost-net"))
		hint = "vhost_net";

	for (p = 0; p < n->npairs; p++)
		if (tap_open(n, p))
			return -1;
	tap_probe_offloads(n);
	for (p = 0; p < n->npairs; p++) {
		n->vhost_fd[p] = vhost_open(n->dev_path, hint, &f);
		if (n->vhost_fd[p] < 0)
			return -1;
		if (!p)
			n->backend_features = f;
	}
	if (!(n->backend_features & BIT64(VIRTIO_F_VERSION_1))) {
		fprintf(stderr, "kvio-vmm: %s does not offer VIRTIO_F_VERSION_1\n",
			n->dev_path);
		return -1;
	}

	features = (VHOST_VMM_RING_FEATURES | BIT64(VIRTIO_NET_F_MRG_RXBUF)) &
		   n->backend_features;
	features |= BIT64(VIRTIO_NET_F_MAC) | BIT64(VIRTIO_NET_F_STATUS);
	if (n->tap_offloads & TUN_F_CSUM)
		features |= BIT64(VIRTIO_NET_F_CSUM) | BIT64(VIRTIO_NET_F_GUEST_CSUM);
	if (n->tap_offloads & TUN_F_TSO4)
		features |= BIT64(VIRTIO_NET_F_GUEST_TSO4) | BIT64(VIRTIO_NET_F_GUEST_TSO6) |
			    BIT64(VIRTIO_NET_F_GUEST_ECN) | BIT64(VIRTIO_NET_F_HOST_TSO4) |
			    BIT64(VIRTIO_NET_F_HOST_TSO6) | BIT64(VIRTIO_NET_F_HOST_ECN);
	if (n->tap_offloads & TUN_F_UFO)
		features |= BIT64(VIRTIO_NET_F_GUEST_UFO) | BIT64(VIRTIO_NET_F_HOST_UFO);
	nq = 2 * n->npairs;
	if (n->npairs > 1) {
		features |= BIT64(VIRTIO_NET_F_MQ) | BIT64(VIRTIO_NET_F_CTRL_VQ);
		nq++;
	}

	memset(&n->cfg, 0, sizeof(n->cfg));
	memcpy(n->cfg.mac, n->mac, 6);
	n->cfg.status = VIRTIO_NET_S_LINK_UP;
	n->cfg.max_virtqueue_pairs = n->npairs;

	/* A vector per queue and one for the config. */
	if (virtio_pci_init(&n->vdev, vm, VIRTIO_ID_NET, PCI_CLASS_CODE_ETHERNET,
			    nq, NET_QUEUE_SIZE, nq + 1, features, sizeof(n->cfg),
			    &net_ops, n))
		return -1;
	n->created = true;
	/* Every queue pair's device under the function's one endpoint. */
	for (p = 0; p < n->npairs; p++)
		if (vmm_iommu_bind(&n->vdev, n->vhost_fd[p], n->backend_features,
				   n->tap))
			return -1;
	fprintf(stderr,
		"kvio-vmm: net tap %s via %s: %u queue pair%s, mac %02x:%02x:%02x:%02x:%02x:%02x at 00:%02x.0\n",
		n->tap, n->dev_path, n->npairs, n->npairs > 1 ? "s" : "",
		n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
		n->vdev.pci.devfn >> 3);
	return 0;
}

int net_devices_create(struct vmm *vm)
{
	unsigned int i;

	for (i = 0; i < nnets; i++)
		if (net_create(vm, &nets[i]))
			return -1;
	return 0;
}

void net_devices_destroy(struct vmm *vm)
{
	struct net_dev *n;
	unsigned int i, p;

	(void)vm;
	for (i = 0; i < nnets; i++) {
		n = &nets[i];
		/* Stops the control thread and detaches the taps first. */
		if (n->created)
			virtio_pci_exit(&n->vdev);
		n->created = false;
		for (p = 0; p < NET_MAX_PAIRS; p++) {
			if (n->vhost_fd[p] >= 0)
				close(n->vhost_fd[p]);
			if (n->tap_fd[p] >= 0)
				close(n->tap_fd[p]);
			n->vhost_fd[p] = -1;
			n->tap_fd[p] = -1;
		}
	}
}
