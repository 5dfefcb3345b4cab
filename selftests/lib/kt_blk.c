// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtio-blk half of the harness: devices with up to 16 rings, request
 * chains in per-slot guest buffers, and backends (files, null_blk).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt_blk.h"

#define KT_PAGE 4096

int kt_blk_main(int argc, char **argv, const struct kt_case *cases,
		size_t ncases)
{
	return kt_main_dev(argc, argv, cases, ncases, KT_BLK_DEV);
}

/* ---------------------------------------------------------- rings */

void kt_blk_q_release(struct kt_blk_q *q)
{
	kt_vq_release(&q->vq);
}

static int kt_blk_ioctl_file(struct kt_blk *b, unsigned long cmd,
			     unsigned int idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	return ioctl(b->d.fd, cmd, &f) < 0 ? -errno : 0;
}

int kt_blk_q_setup(struct kt_blk *b, unsigned int qi, unsigned int num,
		   uint32_t slot_size)
{
	struct kt_blk_q *q = &b->q[qi];
	struct kt_mem *m = &b->d.mem;
	int r;

	/* The ring first: guest RAM is laid out rings, headers, data. */
	r = kt_vq_init(&b->d, &q->vq, qi, num, 0);
	if (r)
		return r;
	q->slots = num;
	q->slot_size = slot_size;
	q->hdr_gpa = kt_mem_alloc(m, 16 * num, 16);
	q->status_gpa = kt_mem_alloc(m, num, 1);
	q->data_gpa = kt_mem_alloc(m, (size_t)num * slot_size, KT_PAGE);
	if (!q->hdr_gpa || !q->status_gpa || !q->data_gpa)
		return -ENOMEM;
	return 0;
}

static int kt_blk_new_worker(struct kt_blk *b, unsigned int qi)
{
	struct vhost_worker_state w = {};
	struct vhost_vring_worker vw = {};

	if (ioctl(b->d.fd, VHOST_NEW_WORKER, &w) < 0) {
		kt_diag("VHOST_NEW_WORKER: %s", kt_errname(errno));
		return -errno;
	}
	vw.index = qi;
	vw.worker_id = w.worker_id;
	if (ioctl(b->d.fd, VHOST_ATTACH_VRING_WORKER, &vw) < 0) {
		kt_diag("VHOST_ATTACH_VRING_WORKER %u: %s", qi,
			kt_errname(errno));
		return -errno;
	}
	return 0;
}

int kt_blk_open(struct kt_blk *b, const struct kt_target *t, uint64_t features,
		unsigned int nq, unsigned int num, uint32_t slot_size,
		bool workers)
{
	unsigned int i;
	int r;

	memset(b, 0, sizeof(*b));
	for (i = 0; i < KT_BLK_MAXQ; i++)
		b->q[i].vq.kick = b->q[i].vq.call = b->q[i].vq.err = -1;
	if (nq > KT_BLK_MAXQ)
		return kt_fail("%u rings asked for", nq);
	r = kt_dev_open(&b->d, t->path);
	if (r == -ENOENT)
		return kt_skip("%s does not exist", t->path);
	if (r)
		return kt_fail("open %s: %s", t->path, kt_errname(-r));
	r = kt_dev_setup(&b->d, features);
	if (r)
		return kt_fail("device setup: %s", kt_errname(-r));
	b->nq = nq;
	for (i = 0; i < nq; i++) {
		/* A ring moves to its worker before it has a kick. */
		if (workers && i) {
			r = kt_blk_new_worker(b, i);
			if (r)
				return kt_fail("worker for ring %u", i);
		}
		r = kt_blk_q_setup(b, i, num, slot_size);
		if (r)
			return kt_fail("ring %u setup: %s", i, kt_errname(-r));
	}
	return KT_PASS;
}

void kt_blk_close(struct kt_blk *b)
{
	unsigned int i;

	kt_dev_close(&b->d);
	for (i = 0; i < KT_BLK_MAXQ; i++)
		kt_blk_q_release(&b->q[i]);
}

int kt_blk_backend(struct kt_blk *b, int fd)
{
	return kt_blk_ioctl_file(b, KVIO_BLK_SET_BACKEND, 0, fd);
}

void kt_blk_config_default(struct kvio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = KVIO_BLK_CONFIG_VERSION;
}

int kt_blk_set_config(struct kt_blk *b, const struct kvio_blk_config *cfg)
{
	return ioctl(b->d.fd, KVIO_BLK_SET_CONFIG, cfg) < 0 ? -errno : 0;
}

int kt_blk_get_config(struct kt_blk *b, struct kvio_blk_config *cfg)
{
	return ioctl(b->d.fd, KVIO_BLK_GET_CONFIG, cfg) < 0 ? -errno : 0;
}

/* ------------------------------------------------------- requests */

void *kt_blk_data(struct kt_blk *b, unsigned int qi, unsigned int slot)
{
	struct kt_blk_q *q = &b->q[qi];

	return kt_gpa(&b->d.mem, q->data_gpa + (uint64_t)slot * q->slot_size);
}

uint8_t *kt_blk_status(struct kt_blk *b, unsigned int qi, unsigned int slot)
{
	return kt_gpa(&b->d.mem, b->q[qi].status_gpa + slot);
}

bool kt_blk_type_in(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

int kt_blk_post(struct kt_blk *b, unsigned int qi, unsigned int slot,
		uint32_t type, uint64_t sector, uint32_t len, bool indirect)
{
	struct kt_blk_q *q = &b->q[qi];
	struct virtio_blk_outhdr *h;
	struct kt_buf out[2], in[2];
	unsigned int nout = 0, nin = 0;
	uint64_t hdr = q->hdr_gpa + 16ULL * slot;

	if (slot >= q->slots || len > q->slot_size)
		return -EINVAL;
	h = kt_gpa(&b->d.mem, hdr);
	/* VERSION_1 or a little-endian legacy guest: LE either way here. */
	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	*kt_blk_status(b, qi, slot) = 0xee;

	out[nout++] = (struct kt_buf){ hdr, 16 };
	if (len) {
		struct kt_buf data = {
			q->data_gpa + (uint64_t)slot * q->slot_size, len
		};

		if (kt_blk_type_in(type))
			in[nin++] = data;
		else
			out[nout++] = data;
	}
	in[nin++] = (struct kt_buf){ q->status_gpa + slot, 1 };
	return kt_vq_add(&q->vq, out, nout, in, nin, indirect, slot);
}

int kt_blk_reap(struct kt_blk *b, unsigned int qi, unsigned int *slot,
		uint8_t *status, uint32_t *used_len, int timeout_ms)
{
	uint64_t token;
	uint32_t len;
	int r;

	r = kt_vq_wait_used(&b->q[qi].vq, NULL, &len, &token, timeout_ms);
	if (r <= 0)
		return r;
	if (slot)
		*slot = token;
	if (status)
		*status = *kt_blk_status(b, qi, token);
	if (used_len)
		*used_len = len;
	return 1;
}

int kt_blk_wait_one(struct kt_blk *b, unsigned int qi, uint8_t *status,
		    uint32_t *used_len, int timeout_ms)
{
	unsigned int slot;
	int r;

	kt_vq_kick(&b->q[qi].vq);
	r = kt_blk_reap(b, qi, &slot, status, used_len, timeout_ms);
	if (r == 0) {
		kt_diag("ring %u: no completion in %d ms", qi, timeout_ms);
		return -ETIMEDOUT;
	}
	return r < 0 ? r : 0;
}

int kt_blk_do(struct kt_blk *b, unsigned int qi, uint32_t type,
	      uint64_t sector, void *buf, uint32_t len, uint32_t *used_len)
{
	uint8_t status;
	int r;

	if (len && buf && !kt_blk_type_in(type))
		memcpy(kt_blk_data(b, qi, 0), buf, len);
	r = kt_blk_post(b, qi, 0, type, sector, len, false);
	if (r < 0)
		return r;
	r = kt_blk_wait_one(b, qi, &status, used_len, 5000);
	if (r < 0)
		return r;
	if (len && buf && kt_blk_type_in(type))
		memcpy(buf, kt_blk_data(b, qi, 0), len);
	return status;
}

int kt_blk_expect(struct kt_blk *b, unsigned int qi, uint32_t type,
		  uint64_t sector, void *buf, uint32_t len, int want_status,
		  uint32_t want_used)
{
	uint32_t used;
	int r;

	r = kt_blk_do(b, qi, type, sector, buf, len, &used);
	if (r < 0)
		return kt_fail("type %u sector %llu len %u: %s", type,
			       (unsigned long long)sector, len, kt_errname(-r));
	if (r != want_status)
		return kt_fail("type %u sector %llu len %u: status %d, want %d",
			       type, (unsigned long long)sector, len, r,
			       want_status);
	if (want_used != ~0U && used != want_used)
		return kt_fail("type %u sector %llu len %u: used length %u, want %u",
			       type, (unsigned long long)sector, len, used,
			       want_used);
	return KT_PASS;
}

/* ------------------------------------------------------- backends */

int kt_blk_tmpfile(uint64_t size, uint32_t seed, int flags)
{
	char path[] = "/tmp/kt-blk-XXXXXX";
	int fd, tmp, r;

	tmp = mkstemp(path);
	if (tmp < 0)
		return -errno;
	fd = open(path, O_RDWR | O_CLOEXEC | flags);
	r = -errno;
	unlink(path);
	close(tmp);
	if (fd < 0)
		return r;
	if (ftruncate(fd, size) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (seed) {
		uint8_t *buf = kt_blk_alloc(1 << 20);
		uint64_t off;

		for (off = 0; off < size; off += 1 << 20) {
			size_t n = size - off < (1 << 20) ? size - off : 1 << 20;

			kt_fill_pattern(buf, n, seed + (uint32_t)(off >> 20));
			if (kt_pwrite_all(fd, buf, n, off)) {
				close(fd);
				return -EIO;
			}
		}
		free(buf);
	}
	return fd;
}

void *kt_blk_alloc(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, KT_PAGE, len ? len : 1))
		return NULL;
	memset(p, 0, len);
	return p;
}

int kt_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (uint8_t *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

int kt_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (const uint8_t *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

static int kt_write_str(const char *dir, const char *attr, const char *val)
{
	char path[192];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int kt_write_ul(const char *dir, const char *attr, unsigned long v)
{
	char val[32];

	snprintf(val, sizeof(val), "%lu", v);
	return kt_write_str(dir, attr, val);
}

int kt_nullb_create(struct kt_nullb *n, const struct kt_nullb_opts *o)
{
	static unsigned int seq;
	char buf[64], path[128];
	struct stat st;
	long deadline;
	int r;

	memset(n, 0, sizeof(*n));
	if (stat("/sys/kernel/config/nullb", &st) < 0) {
		/* null_blk is loaded (load-modules); configfs may be unmounted. */
		mount("none", "/sys/kernel/config", "configfs", 0, NULL);
		if (stat("/sys/kernel/config/nullb", &st) < 0)
			return kt_skip("no null_blk configfs (/sys/kernel/config/nullb)");
	}
	/* The directory's name is the disk's name (null_blk, since 5.x). */
	snprintf(n->name, sizeof(n->name), "ktnb%d_%u", (int)getpid() % 100000,
		 seq++ % 100);
	snprintf(n->dir, sizeof(n->dir), "/sys/kernel/config/nullb/%s",
		 n->name);
	if (mkdir(n->dir, 0755) < 0)
		return kt_fail("mkdir %s: %s", n->dir, kt_errname(errno));
	r = kt_write_ul(n->dir, "size", o->size_mb);
	if (!r)
		r = kt_write_ul(n->dir, "memory_backed", 1);
	if (!r && o->blocksize)
		r = kt_write_ul(n->dir, "blocksize", o->blocksize);
	if (!r && o->cache_mb)
		r = kt_write_ul(n->dir, "cache_size", o->cache_mb);
	if (!r && o->discard)
		r = kt_write_ul(n->dir, "discard", 1);
	if (!r && o->irqmode)
		r = kt_write_ul(n->dir, "irqmode", o->irqmode);
	if (!r && o->completion_nsec)
		r = kt_write_ul(n->dir, "completion_nsec", o->completion_nsec);
	if (!r && o->hw_queue_depth)
		r = kt_write_ul(n->dir, "hw_queue_depth", o->hw_queue_depth);
	if (!r)
		r = kt_write_ul(n->dir, "power", 1);
	if (r) {
		rmdir(n->dir);
		n->dir[0] = '\0';
		return kt_fail("null_blk configfs: %s", kt_errname(-r));
	}
	snprintf(path, sizeof(path), "%s/index", n->dir);
	r = kt_read_file(path, buf, sizeof(buf));
	if (r) {
		kt_nullb_destroy(n);
		return kt_fail("null_blk index: %s", kt_errname(-r));
	}
	n->index = atoi(buf);
	snprintf(n->dev, sizeof(n->dev), "/dev/%s", n->name);
	/* devtmpfs makes the node shortly after the disk is added. */
	deadline = kt_deadline(5000);
	while (stat(n->dev, &st) < 0) {
		if (kt_now_ms() > deadline) {
			kt_nullb_destroy(n);
			return kt_fail("%s did not appear", n->dev);
		}
		kt_sleep_ms(10);
	}
	return KT_PASS;
}

int kt_nullb_create_direct(struct kt_nullb *n, const struct kt_nullb_opts *o,
			   int *fd)
{
	KT_TRY(kt_nullb_create(n, o));
	*fd = open(n->dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (*fd < 0) {
		int err = errno;

		kt_nullb_destroy(n);
		return kt_fail("open %s: %s", n->dev, kt_errname(err));
	}
	return KT_PASS;
}

void kt_nullb_destroy(struct kt_nullb *n)
{
	if (!n->dir[0])
		return;
	kt_write_ul(n->dir, "power", 0);
	rmdir(n->dir);
	n->dir[0] = '\0';
}

long long kt_nullb_stat(const struct kt_nullb *n, int field)
{
	char path[96], buf[512], *p = buf, *end;
	long long v = -1;
	int i;

	snprintf(path, sizeof(path), "/sys/block/%s/stat", n->name);
	if (kt_read_file(path, buf, sizeof(buf)))
		return -1;
	for (i = 0; i <= field; i++) {
		v = strtoll(p, &end, 10);
		if (end == p)
			return -1;
		p = end;
	}
	return v;
}

long kt_nullb_inflight(const struct kt_nullb *n)
{
	char path[96], buf[128];
	long r, w;

	snprintf(path, sizeof(path), "/sys/block/%s/inflight", n->name);
	if (kt_read_file(path, buf, sizeof(buf)) ||
	    sscanf(buf, "%ld %ld", &r, &w) != 2)
		return -1;
	return r + w;
}

long kt_nullb_inflight_settled(const struct kt_nullb *n)
{
	long r = kt_nullb_inflight(n);

	if (r) {
		kt_sleep_ms(20);
		r = kt_nullb_inflight(n);
	}
	return r;
}

int kt_blk_chain_post(struct kt_blk *b, unsigned int slot, uint32_t type,
		      uint64_t sector, uint64_t data, uint32_t len,
		      uint64_t status)
{
	struct kt_blk_q *q = &b->q[0];
	struct virtio_blk_outhdr *h = kt_gpa(&b->d.mem, q->hdr_gpa + 16 * slot);
	struct kt_buf out[2] = { { q->hdr_gpa + 16 * slot, 16 } };
	struct kt_buf in[2];
	unsigned int nout = 1, nin = 0;

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	if (type == VIRTIO_BLK_T_OUT)
		out[nout++] = (struct kt_buf){ data, len };
	else
		in[nin++] = (struct kt_buf){ data, len };
	in[nin++] = (struct kt_buf){ status, 1 };
	return kt_vq_add(&q->vq, out, nout, in, nin, false, slot) < 0 ? -1 : 0;
}

/* kt_blk_chain_post(), then its used entry: the used length, or -1. */
long kt_blk_chain(struct kt_blk *b, unsigned int slot, uint32_t type,
		  uint64_t sector, uint64_t data, uint32_t len, uint64_t status)
{
	uint32_t id, used;
	uint64_t tok;

	if (kt_blk_chain_post(b, slot, type, sector, data, len, status))
		return -1;
	kt_vq_kick(&b->q[0].vq);
	if (kt_vq_wait_used(&b->q[0].vq, &id, &used, &tok,
			    3000 * kt_timeout_scale()) != 1 || tok != slot) {
		kt_diag("request in slot %u not completed", slot);
		return -1;
	}
	return used;
}
