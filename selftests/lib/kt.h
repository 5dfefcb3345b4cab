/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kt: the userspace harness of kvio's selftests.
 *
 * Three parts:
 *  - a TAP 13 runner (kt_main) that runs every case against every device node
 *    given with --dev, each case in its own forked child with a time limit;
 *  - a guest driver (struct kt_dev, struct kt_vq): guest RAM in a memfd that
 *    is registered at a guest-physical address unrelated to its mapping,
 *    split rings inside it, chains of out/in buffers (direct or indirect),
 *    kicks, calls, used entries, and raw access for hostile rings;
 *  - network plumbing (struct kt_tap, packet sockets, frame builders) inside
 *    a private network namespace.
 */
#ifndef KT_H
#define KT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vhost.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_net.h>
#include <linux/kvio.h>

/* ---------------------------------------------------------------- TAP */

enum kt_result { KT_PASS = 0, KT_FAIL = 1, KT_SKIP = 2 };

struct kt_target {
	const char *path;	/* e.g. /dev/kvio-net */
	const char *name;	/* e.g. kvio-net: prefixes every description */
	bool kvio;		/* a kvio device (not upstream vhost) */
};

struct kt_case {
	const char *name;
	int (*run)(const struct kt_target *t);
	unsigned int timeout_s;	/* 0: KT_DEFAULT_TIMEOUT */
	const void *data;	/* the case's parameter: kt_case_data() */
	/*
	 * A known bug of the upstream module this case exposes: a failure on
	 * a non-kvio device is reported "not ok ... # TODO <this>" (TAP's
	 * expected failure) instead of failing the run.  kvio must pass.
	 */
	const char *upstream_bug;
};

#define KT_DEFAULT_TIMEOUT 60

/*
 * Runs cases[] against each --dev (default /dev/kvio-net and
 * /dev/vhost-net); returns the process exit status.  Options: --dev PATH
 * (repeatable), --case SUBSTRING (run only matching cases), --list.
 */
int kt_main(int argc, char **argv, const struct kt_case *cases, size_t ncases);
/* kt_main() with --dev @dev unless the command line names devices. */
int kt_main_dev(int argc, char **argv, const struct kt_case *cases,
		size_t ncases, const char *dev);

/* The running case's data pointer (struct kt_case.data). */
const void *kt_case_data(void);

/* "# ..." diagnostic line on stdout. */
void kt_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sets the reason printed after "# SKIP"; returns KT_SKIP. */
int kt_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the failure as a diagnostic; returns KT_FAIL. */
int kt_fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define kt_fail(...) kt_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* Fail the case (return from the calling function) unless cond holds. */
#define KT_ASSERT(cond, ...) do {					\
	if (!(cond))							\
		return kt_fail_at(__FILE__, __LINE__, "assertion '" #cond \
				  "' failed: " __VA_ARGS__);		\
} while (0)

/*
 * Run expr (a syscall returning < 0 with errno on failure) and fail the case
 * unless it failed with errno want (0: must succeed).
 */
#define KT_ERRNO(want, expr) do {					\
	int kt_e_ = kt_errno_of((long)(expr));				\
	if (kt_e_ != (want))						\
		return kt_fail_at(__FILE__, __LINE__, "%s: got %s, want %s", \
				  #expr, kt_errname(kt_e_), kt_errname(want)); \
} while (0)

/* Return the case's result code unless it is KT_PASS. */
#define KT_TRY(expr) do {						\
	int kt_r_ = (expr);						\
	if (kt_r_ != KT_PASS)						\
		return kt_r_;						\
} while (0)

int kt_errno_of(long ret);		/* 0 when ret >= 0, else errno */
const char *kt_errname(int err);	/* "EINVAL", "success", ... */
long kt_now_ms(void);			/* CLOCK_MONOTONIC in ms */
long kt_module_refcnt(const char *name);	/* /sys/module/NAME/refcnt, -1 */
/* @s written whole to the file at @path (sysfs, procfs): 0 or -errno. */
int kt_write_file(const char *path, const char *s);
/* At most @len - 1 bytes of the file at @path, NUL-terminated: 0 or -errno. */
int kt_read_file(const char *path, char *buf, size_t len);
long kt_timeout_scale(void);		/* $KVIO_TIMEOUT_SCALE, default 1 */
/* kt_now_ms() + timeout_ms stretched by kt_timeout_scale(). */
long kt_deadline(long timeout_ms);
void kt_sleep_ms(long ms);
/*
 * A busy-polling device and its guest on CPUs of their own, as a worker and
 * a vCPU are (a spinning worker that shares the guest's CPU yields it and
 * stops polling): this process on CPU 0, the worker of the device it owns
 * (kvio-<owner>) on CPU 1.  KT_PASS, KT_SKIP on one CPU, or KT_FAIL.
 * kt_unpin() lets this process run anywhere again.
 */
int kt_pin_apart(pid_t owner);
int kt_unpin(void);
/*
 * The pid of the default worker of @owner's device (kvio-<owner>, or
 * upstream's vhost-<owner>), or 0.
 */
pid_t kt_worker_pid(pid_t owner);
/* CPU time (user + system) a thread has used, in ms; -1 on error. */
long kt_task_cpu_ms(pid_t pid);
/*
 * Bounded calls, for teardown cases: close(fd) or ioctl(fd, req, arg) on a
 * thread, waited for up to timeout_ms (stretched by kt_timeout_scale()).
 * KT_FAIL when it has not returned by then (the thread is left behind,
 * hung), else KT_PASS with the call's return value in *ret and its errno in
 * errno.  A call that took over a second is reported with kt_diag().
 */
int kt_close_timed(const char *what, long timeout_ms, int fd, long *ret);
int kt_ioctl_timed(const char *what, long timeout_ms, int fd,
		   unsigned long req, void *arg, long *ret);

/* ------------------------------------------------------- guest memory */

/* Guest-physical base of guest RAM: never equal to the mapping's address. */
#define KT_GPA_BASE 0x100000000ULL
#define KT_MEM_SIZE (16u << 20)

struct kt_mem {
	int fd;			/* memfd backing guest RAM */
	uint8_t *hva;		/* where it is mapped in this process */
	uint64_t gpa;		/* where the device sees it */
	size_t size;
	size_t next;		/* bump allocator: next free offset */
};

int kt_mem_init(struct kt_mem *m, size_t size, uint64_t gpa);
void kt_mem_free(struct kt_mem *m);
/*
 * Whether the kernel still holds a reference to a page of guest RAM (a
 * direct I/O in flight pins its buffer): unmaps guest RAM from this process
 * and seals the memfd against writes, which memfd refuses with EBUSY while
 * a page has a reference beyond the page cache's (mm/memfd.c waits about
 * 150 ms for them first).  0 or -errno; guest RAM is gone afterwards.
 */
int kt_mem_unreferenced(struct kt_mem *m);
/* Allocate len bytes of guest RAM aligned to align; returns the GPA (0 when
 * full, which is never a valid GPA since KT_GPA_BASE > 0). Zeroed. */
uint64_t kt_mem_alloc(struct kt_mem *m, size_t len, size_t align);
/* HVA of a GPA inside guest RAM (NULL if outside). */
void *kt_gpa(struct kt_mem *m, uint64_t gpa);
uint64_t kt_hva_to_gpa(struct kt_mem *m, const void *hva);

/* ------------------------------------------------------- guest driver */

#define KT_MAX_VQ 2
#define KT_INDIRECT_MAX 32	/* descriptors per indirect table */

struct kt_buf {
	uint64_t gpa;
	uint32_t len;
};

struct kt_vq {
	struct kt_dev *dev;
	unsigned int index;
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint64_t indirect_gpa;	/* num tables of KT_INDIRECT_MAX entries */
	int kick, call, err;	/* eventfds (-1 when not set) */
	uint16_t avail_idx;	/* next avail index the driver publishes */
	uint16_t kicked_idx;	/* avail index at the last kick */
	uint16_t last_used;	/* next used index the driver reads */
	uint16_t free_head;
	unsigned int num_free;
	uint16_t *chain_len;	/* per head: descriptors to free (0: free) */
	uint64_t *token;	/* per head: caller's cookie */
	bool event_idx;
};

struct kt_dev {
	int fd;
	const char *path;
	struct kt_mem mem;
	uint64_t features;	/* negotiated */
	struct kt_vq vq[KT_MAX_VQ];
};

/* Opens the device (O_RDWR) and creates guest RAM; fd is -1 on failure and
 * the return value is -errno. */
int kt_dev_open(struct kt_dev *d, const char *path);
/*
 * Called by kt_dev_open() right after the device node is opened, before
 * guest RAM or any ioctl (NULL: nothing); 0 or -errno.  A case that plays an
 * unprivileged VMM handed its device fd by a privileged helper (as libvirt
 * hands QEMU its vhost fds) drops its privileges here.
 */
extern int (*kt_dev_opened)(void);
void kt_dev_close(struct kt_dev *d);
/* Registers guest RAM as a single region with VHOST_SET_MEM_TABLE. */
int kt_dev_set_mem(struct kt_dev *d);
/* SET_OWNER, GET_FEATURES (every wanted bit must be offered: -EOPNOTSUPP
 * otherwise), SET_FEATURES, SET_MEM_TABLE. Returns 0 or -errno, with a
 * diagnostic naming the failing step. */
int kt_dev_setup(struct kt_dev *d, uint64_t features);
bool kt_has_feature(const struct kt_dev *d, unsigned int bit);

/*
 * Lays out ring idx (num entries, starting at index base) in guest RAM and
 * configures it: SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR (HVAs), and
 * fresh eventfds for KICK, CALL and ERR. used->idx starts at base too, as a
 * VMM restoring a ring would leave it. With VIRTIO_F_ACCESS_PLATFORM
 * negotiated the ring addresses given are IOVAs, chosen equal to the GPAs.
 */
int kt_vq_setup(struct kt_dev *d, unsigned int idx, unsigned int num,
		uint16_t base);
/*
 * The same for a ring kept outside d->vq[] (a device with more rings than
 * KT_MAX_VQ): vq is reset and set up as ring idx of d; num is not checked.
 * kt_vq_release() gives back its eventfds and driver arrays (not guest RAM).
 */
int kt_vq_init(struct kt_dev *d, struct kt_vq *vq, unsigned int idx,
	       unsigned int num, uint16_t base);
void kt_vq_release(struct kt_vq *vq);
/*
 * kt_vq_init() without telling any device: the ring in guest RAM and its
 * eventfds, for a device served in this process (a benchmark's userspace
 * backend).  0 or -errno.
 */
int kt_vq_layout(struct kt_dev *d, struct kt_vq *vq, unsigned int idx,
		 unsigned int num, uint16_t base);
/* VHOST_NET_SET_BACKEND on ring idx (fd -1 detaches). */
int kt_net_backend(struct kt_dev *d, unsigned int idx, int fd);

/*
 * Add a chain of out buffers then in buffers; as indirect table if indirect.
 * Publishes it in the avail ring (not kicked). Returns the head, or -ENOSPC.
 */
int kt_vq_add(struct kt_vq *vq, const struct kt_buf *out, unsigned int nout,
	      const struct kt_buf *in, unsigned int nin, bool indirect,
	      uint64_t token);
/* Write 1 to the kick eventfd. */
void kt_vq_kick(struct kt_vq *vq);
/* Whether the device asked for a kick (avail_event or NO_NOTIFY). */
bool kt_vq_kick_needed(struct kt_vq *vq);

/*
 * Take the next used entry: 1 and *id, *len, *token set; 0 when there is
 * none; -EPROTO (with a diagnostic) when the device wrote an id that is out
 * of range or not outstanding.
 */
int kt_vq_get_used(struct kt_vq *vq, uint32_t *id, uint32_t *len,
		   uint64_t *token);
/* Like kt_vq_get_used, waiting for the call eventfd up to timeout_ms (with
 * EVENT_IDX the driver first asks for a call at its next used index). */
int kt_vq_wait_used(struct kt_vq *vq, uint32_t *id, uint32_t *len,
		    uint64_t *token, int timeout_ms);
/* Used entries the device published that the driver has not read. */
uint16_t kt_vq_used_pending(struct kt_vq *vq);
uint16_t kt_vq_used_idx(struct kt_vq *vq);
/* EVENT_IDX: write used_event (avail->ring[num]). */
void kt_vq_set_used_event(struct kt_vq *vq, uint16_t idx);
uint16_t kt_vq_avail_event(struct kt_vq *vq);
/* Set or clear VRING_AVAIL_F_NO_INTERRUPT. */
void kt_vq_no_interrupt(struct kt_vq *vq, bool on);

/*
 * Device IOTLB (VIRTIO_F_ACCESS_PLATFORM). kt_iotlb_msg writes one message
 * (version 1 or 2 framing) and returns 0 or -errno; kt_iotlb_read reads one
 * (the framing the backend features select) within timeout_ms: 1, 0 on
 * timeout, -errno.
 */
int kt_iotlb_msg(struct kt_dev *d, int version, uint8_t type, uint64_t iova,
		 uint64_t size, uint64_t uaddr, uint8_t perm);
int kt_iotlb_read(struct kt_dev *d, struct vhost_iotlb_msg *msg,
		  int timeout_ms);

/* Wait until fd is readable (timeout_ms); 1 readable, 0 timeout, -errno. */
int kt_wait_readable(int fd, int timeout_ms);
/* Wait for an eventfd to fire and reset it: 1 fired, 0 timeout. */
int kt_wait_eventfd(int fd, int timeout_ms);
/* Read and reset an eventfd without waiting: its count. */
uint64_t kt_eventfd_drain(int fd);

/* Raw ring access for hostile rings: the driver's bookkeeping ignores these. */
void kt_vq_raw_desc(struct kt_vq *vq, unsigned int i, uint64_t gpa,
		    uint32_t len, uint16_t flags, uint16_t next);
/* avail->ring[avail_idx % num] = head; avail->idx = ++avail_idx. */
void kt_vq_raw_publish(struct kt_vq *vq, uint16_t head);
void kt_vq_raw_avail_idx(struct kt_vq *vq, uint16_t idx);

/* Pool of fixed-size data buffers in guest RAM. */
struct kt_pool {
	struct kt_mem *mem;
	uint64_t gpa;
	uint32_t size;
	unsigned int count;
	unsigned int next;
	uint8_t *busy;
};

int kt_pool_init(struct kt_pool *p, struct kt_mem *m, unsigned int count,
		 uint32_t size);
uint64_t kt_pool_get(struct kt_pool *p);	/* 0 when exhausted */
void kt_pool_put(struct kt_pool *p, uint64_t gpa);
void kt_pool_free(struct kt_pool *p);

/* ---------------------------------------------------------- network */

#define KT_ETH_P_TEST 0x88b5	/* IEEE local experimental ethertype */

struct kt_tap {
	int fd;			/* tun fd, given to VHOST_NET_SET_BACKEND */
	char name[16];
	int ifindex;
	uint8_t mac[6];
	short flags;		/* TUNSETIFF's: kt_tap_queue() repeats them */
};

/*
 * Enter a private network namespace (once per process): taps made after
 * this vanish with the process. IPv6 is off for new interfaces so the link
 * carries only the frames a test sends. Returns 0 or -errno.
 */
int kt_netns_enter(void);
/*
 * Create a tap (IFF_TAP | IFF_NO_PI, plus IFF_VNET_HDR with vnet_hdr_sz if
 * vnet_hdr_sz > 0) named name, bring it up, and with ipv4 non-NULL give it
 * ipv4/24. Enters the private namespace first. Returns 0 or KT_SKIP/KT_FAIL
 * style codes via kt_skip/kt_fail.
 */
int kt_tap_create(struct kt_tap *tap, const char *name, int vnet_hdr_sz,
		  const char *ipv4);
/*
 * kt_tap_create() with IFF_MULTI_QUEUE: tap->fd is its first queue.
 * kt_tap_queue() attaches one more queue (as QEMU opens one per queue pair
 * of a multiqueue virtio-net) and returns its fd or -errno; the caller
 * closes it.
 */
int kt_tap_create_mq(struct kt_tap *tap, const char *name, int vnet_hdr_sz,
		     const char *ipv4);
int kt_tap_queue(const struct kt_tap *tap);
void kt_tap_close(struct kt_tap *tap);
/* ioctl(req, ifr) on a throwaway AF_INET socket: 0 or -errno. */
struct ifreq;
int kt_ifreq_ioctl(unsigned long req, struct ifreq *ifr);
/* Static IPv4 neighbour entry on ifname. */
int kt_neigh_add(const char *ifname, const char *ipv4, const uint8_t mac[6]);
/* AF_PACKET SOCK_RAW socket bound to ifindex (all protocols). */
int kt_packet_socket(int ifindex);
/* Send one frame out of ifindex through a packet socket (RX direction for a
 * device attached to the tap). */
int kt_packet_send(int psock, int ifindex, const void *frame, size_t len);
/*
 * The same without blocking: 0, -EAGAIN, -errno.  A veth in one namespace
 * does not orphan the skb, so frames a detached backend (a macvtap queue)
 * holds stay charged to the socket: a blocking send would wait for them
 * forever.
 */
int kt_packet_send_nowait(int psock, int ifindex, const void *frame,
			  size_t len);
/*
 * Receive one frame that entered the interface (not one sent from it) and
 * that has ethertype ethertype (0: any), within timeout_ms. Returns its
 * length, 0 on timeout, -errno.
 */
ssize_t kt_packet_recv(int psock, void *buf, size_t len, uint16_t ethertype,
		       int timeout_ms);
/*
 * The next KT_ETH_P_TEST frame on psock (within timeout_ms) must be want;
 * where names the interface in failures.  KT_PASS or KT_FAIL.
 */
int kt_expect_packet(int psock, const void *want, size_t len, int timeout_ms,
		     const char *where);

/* Build an Ethernet frame of type KT_ETH_P_TEST with a payload of len bytes
 * (pattern from seed); returns the frame length (>= 60). */
size_t kt_frame_test(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
		     size_t payload_len, uint32_t seed);
/* Build an Ethernet + IPv4 + UDP frame (checksums filled in). */
size_t kt_frame_udp(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
		    const char *src_ip, const char *dst_ip, uint16_t sport,
		    uint16_t dport, const void *payload, size_t plen);
void kt_fill_pattern(uint8_t *buf, size_t len, uint32_t seed);
/* Describe the first difference between two byte ranges (diagnostic). */
bool kt_bytes_equal(const void *got, size_t got_len, const void *want,
		    size_t want_len, const char *what);

/*
 * struct kt_case.upstream_bug of TX cases where the socket carries no vnet
 * header: upstream 6.1 vhost_net_build_xdp() copies sock_hlen (0) bytes
 * into the tun_xdp_hdr's gso header and then reads that header, whatever
 * the page frag held; on a kernel that poisons or reuses the memory (our
 * debug kernel) tun drops the frame (-EINVAL).
 */
#define KT_UPSTREAM_XDP_GSO_BUG \
	"vhost_net_build_xdp() reads an uninitialised gso header when the " \
	"device owns the vnet header"

/* Guest's MAC in test frames (locally administered). */
extern const uint8_t kt_guest_mac[6];
extern const uint8_t kt_bcast_mac[6];

/* ------------------------------------------- a vhost-net device + tap */

#define KT_RXQ 0	/* vhost-net ring 0 receives, ring 1 transmits */
#define KT_TXQ 1
#define KT_TX_BUF 2048

struct kt_net {
	struct kt_dev dev;
	struct kt_tap tap;
	int psock;		/* packet socket on the tap */
	size_t hdr_len;		/* virtio-net header the guest uses: 10 or 12 */
	bool vhost_hdr;		/* VHOST_NET_F_VIRTIO_NET_HDR negotiated */
	struct kt_pool txpool;
	struct kt_pool rxpool;
};

/*
 * Open t->path, negotiate features, set up both rings with num entries and
 * a tap (named kttap0, 192.0.2.1/24, vnet header of hdr_len unless
 * VHOST_NET_F_VIRTIO_NET_HDR is in features) with a packet socket on it,
 * and attach the tap to both rings. rx_buf_size sizes the RX pool (num
 * buffers); both rings start at index base. Returns KT_PASS, KT_FAIL or
 * KT_SKIP.
 */
int kt_net_open(struct kt_net *n, const struct kt_target *t,
		uint64_t features, unsigned int num, uint32_t rx_buf_size,
		uint16_t base);
/*
 * kt_net_open() in steps, for tests that set the rings up their own way:
 * kt_net_open_dev() clears n, creates the tap and its packet socket, opens
 * t->path and sets it up (owner, features | extra, memory table) with
 * n->dev.features recording features alone; no ring is set up.
 * kt_net_attach() attaches the tap to both rings.  KT_PASS or KT_FAIL.
 */
int kt_net_open_dev(struct kt_net *n, const struct kt_target *t,
		    uint64_t features, uint64_t extra);
int kt_net_attach(struct kt_net *n);
void kt_net_close(struct kt_net *n);
/*
 * Closes the packet socket and the tap, then waits up to timeout_ms for the
 * interface to go: KT_FAIL if the device still holds its socket.
 */
int kt_net_tap_gone(struct kt_net *n, int timeout_ms);
size_t kt_net_hdr_len(uint64_t features);

/* Post hdr (zeroed, hdr_len bytes) + frame on the TX ring, as one buffer,
 * or as header + two halves through an indirect table; kicks. Returns the
 * head or -errno. */
int kt_net_tx(struct kt_net *n, const void *frame, size_t len, bool indirect);
/* Reap TX used entries until count were seen (timeout_ms overall); checks
 * each is outstanding with len 0 and frees its buffer. KT_PASS/KT_FAIL. */
int kt_net_tx_reap(struct kt_net *n, unsigned int count, int timeout_ms);
/* Post count RX buffers of the pool's size (writable), kicks. */
int kt_net_rx_post(struct kt_net *n, unsigned int count, bool indirect);
/*
 * Receive one packet from the RX ring (following num_buffers with
 * MRG_RXBUF): copies the virtio-net header into hdr (hdr_len bytes) and the
 * frame into frame (up to cap); *nbufs the heads it spanned. Returns the
 * frame length, 0 on timeout, -errno (with a diagnostic) on a protocol error.
 * The buffers go back to the pool (not reposted).
 */
ssize_t kt_net_rx_recv(struct kt_net *n, struct virtio_net_hdr_mrg_rxbuf *hdr,
		       void *frame, size_t cap, unsigned int *nbufs,
		       int timeout_ms);
/*
 * The next packet of the RX ring (within timeout_ms) must be want: same
 * bytes, a header without GSO or flags other than DATA_VALID, num_buffers
 * right with MRG_RXBUF, and want_bufs heads unless want_bufs is 0.  The
 * heads it took go to *nbufs when nbufs is not NULL.  KT_PASS or KT_FAIL.
 */
int kt_net_expect_rx(struct kt_net *n, const void *want, size_t len,
		     int timeout_ms, unsigned int want_bufs,
		     unsigned int *nbufs);

#endif /* KT_H */
