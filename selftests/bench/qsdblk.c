// SPDX-License-Identifier: GPL-2.0-only
/*
 * qsdblk: qemu-storage-daemon's vhost-user-blk export driven by blk-bench
 * (see qsdblk.h).  The front end speaks the part of the vhost-user protocol
 * (QEMU's docs/interop/vhost-user.rst) a VMM needs to start a device:
 * owner, features, one memory region, then size, base, addresses, call and
 * kick of every ring.  No protocol features are negotiated: the daemon
 * answers only GET_FEATURES, and a ring starts when it gets its kick fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qsdblk.h"

/* Requests (vhost-user.rst, "Front-end message types"). */
enum {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
};

#define VU_VERSION		0x1
#define VU_FLAG_REPLY		0x4
#define VU_F_PROTOCOL_FEATURES	30

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vu_mem {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region regions[1];
};

struct qsdblk {
	pid_t pid;
	int sock;
	char dir[64];
	char path[96];
};

static int qsdblk_send(int sock, uint32_t req, const void *payload,
		       uint32_t size, int fd)
{
	char buf[sizeof(struct vu_hdr) + 256];
	struct vu_hdr hdr = { req, VU_VERSION, size };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	ssize_t n;

	if (size > sizeof(buf) - sizeof(hdr))
		return -EINVAL;
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), payload, size);
	iov.iov_base = buf;
	iov.iov_len = sizeof(hdr) + size;
	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == (ssize_t)iov.iov_len ? 0 : -EIO;
}

static int qsdblk_send_u64(int sock, uint32_t req, uint64_t v, int fd)
{
	return qsdblk_send(sock, req, &v, sizeof(v), fd);
}

/* GET_FEATURES: also tells that every earlier message was taken. */
static int qsdblk_get_features(int sock, uint64_t *features)
{
	struct vu_hdr hdr;
	ssize_t n;
	int r;

	r = qsdblk_send(sock, VU_GET_FEATURES, NULL, 0, -1);
	if (r)
		return r;
	n = recv(sock, &hdr, sizeof(hdr), MSG_WAITALL);
	if (n != sizeof(hdr) || hdr.request != VU_GET_FEATURES ||
	    !(hdr.flags & VU_FLAG_REPLY) || hdr.size != sizeof(*features))
		return n < 0 ? -errno : -EPROTO;
	n = recv(sock, features, sizeof(*features), MSG_WAITALL);
	return n == sizeof(*features) ? 0 : -EPROTO;
}

static void qsdblk_exec(const char *qsd, const char *path, const char *sock,
			unsigned int nq, int cpu)
{
	char blockdev[512], export[512];
	struct stat st;
	cpu_set_t set;

	/* The daemon goes with the measuring process, whatever ends it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	snprintf(blockdev, sizeof(blockdev),
		 "driver=%s,node-name=disk,filename=%s,cache.direct=on,aio=io_uring",
		 !stat(path, &st) && S_ISBLK(st.st_mode) ? "host_device" :
							    "file", path);
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=exp0,node-name=disk,addr.type=unix,addr.path=%s,writable=on,num-queues=%u,iothread=iot0",
		 sock, nq);
	execlp(qsd, qsd, "--blockdev", blockdev, "--object", "iothread,id=iot0",
	      "--export", export, (char *)NULL);
	fprintf(stderr, "qsdblk: exec %s: %s\n", qsd, strerror(errno));
	_exit(127);
}

/* The daemon listens once it has started: try for up to 20 s. */
static int qsdblk_connect(struct qsdblk *q)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i, status;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", q->path);
	q->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->sock < 0)
		return -errno;
	for (i = 0; i < 1000; i++) {
		if (!connect(q->sock, (struct sockaddr *)&sa, sizeof(sa)))
			return 0;
		if (waitpid(q->pid, &status, WNOHANG) == q->pid) {
			q->pid = 0;
			return -ECHILD;
		}
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static int qsdblk_setup(struct qsdblk *q, const struct uvblk_mem *mem,
			const struct uvblk_ring *rings, unsigned int nq,
			uint64_t features)
{
	struct vu_mem table = {
		.nregions = 1,
		.regions[0] = {
			.guest_phys_addr = mem->gpa,
			.memory_size = mem->size,
			.userspace_addr = (uintptr_t)mem->hva,
			.mmap_offset = 0,
		},
	};
	uint64_t offered;
	unsigned int i;
	int r;

	r = qsdblk_send(q->sock, VU_SET_OWNER, NULL, 0, -1);
	if (!r)
		r = qsdblk_get_features(q->sock, &offered);
	if (r)
		return r;
	features &= ~(1ULL << VU_F_PROTOCOL_FEATURES);
	if (features & ~offered) {
		fprintf(stderr, "qsdblk: features %#llx not offered (%#llx)\n",
			(unsigned long long)(features & ~offered),
			(unsigned long long)offered);
		return -EOPNOTSUPP;
	}
	r = qsdblk_send_u64(q->sock, VU_SET_FEATURES, features, -1);
	if (!r)
		r = qsdblk_send(q->sock, VU_SET_MEM_TABLE, &table,
				sizeof(table), mem->fd);
	for (i = 0; i < nq && !r; i++) {
		struct vhost_vring_state num = { i, rings[i].num };
		struct vhost_vring_state base = { i, 0 };
		struct vhost_vring_addr addr = {
			.index = i,
			.desc_user_addr = (uintptr_t)rings[i].desc,
			.used_user_addr = (uintptr_t)rings[i].used,
			.avail_user_addr = (uintptr_t)rings[i].avail,
		};

		r = qsdblk_send(q->sock, VU_SET_VRING_NUM, &num, sizeof(num),
				-1);
		if (!r)
			r = qsdblk_send(q->sock, VU_SET_VRING_BASE, &base,
					sizeof(base), -1);
		if (!r)
			r = qsdblk_send(q->sock, VU_SET_VRING_ADDR, &addr,
					sizeof(addr), -1);
		if (!r)
			r = qsdblk_send_u64(q->sock, VU_SET_VRING_CALL, i,
					    rings[i].call);
		if (!r)
			r = qsdblk_send_u64(q->sock, VU_SET_VRING_KICK, i,
					    rings[i].kick);
	}
	/* The daemon drops the connection on a message it refuses. */
	if (!r)
		r = qsdblk_get_features(q->sock, &offered);
	return r;
}

struct qsdblk *qsdblk_start(const char *qsd, const char *path,
			    const struct uvblk_mem *mem,
			    const struct uvblk_ring *rings, unsigned int nq,
			    uint64_t features, int cpu)
{
	struct qsdblk *q = calloc(1, sizeof(*q));
	int r;

	if (!q)
		return NULL;
	q->sock = -1;
	snprintf(q->dir, sizeof(q->dir), "/tmp/qsdblk.XXXXXX");
	if (!mkdtemp(q->dir)) {
		r = -errno;
		goto err;
	}
	snprintf(q->path, sizeof(q->path), "%s/vhost-user.sock", q->dir);
	fflush(stdout);
	q->pid = fork();
	if (q->pid < 0) {
		r = -errno;
		q->pid = 0;
		goto err;
	}
	if (!q->pid)
		qsdblk_exec(qsd, path, q->path, nq, cpu);
	r = qsdblk_connect(q);
	if (!r)
		r = qsdblk_setup(q, mem, rings, nq, features);
	if (!r)
		return q;
err:
	fprintf(stderr, "qsdblk: %s: %s\n", qsd, strerror(-r));
	qsdblk_stop(q);
	errno = -r;
	return NULL;
}

pid_t qsdblk_pid(const struct qsdblk *q)
{
	return q->pid;
}

void qsdblk_stop(struct qsdblk *q)
{
	if (q->sock >= 0)
		close(q->sock);
	/*
	 * No clean shutdown: requests the guest left in flight would keep
	 * its drain waiting, and nothing of the disk's has to survive.
	 */
	if (q->pid > 0) {
		kill(q->pid, SIGKILL);
		while (waitpid(q->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (q->dir[0]) {
		unlink(q->path);
		rmdir(q->dir);
	}
	free(q);
}
