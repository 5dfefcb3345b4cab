// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest driver half of the harness: guest RAM, split rings, buffers.
 *
 * Guest RAM is a memfd mapped into this process and registered with
 * VHOST_SET_MEM_TABLE at KT_GPA_BASE: descriptors carry GPAs, the ring
 * addresses given with SET_VRING_ADDR are HVAs, as a VMM would pass them, so
 * a device that confuses the two touches the wrong memory or none at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kt.h"

#define KT_PAGE 4096

static inline void kt_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* ------------------------------------------------------- guest memory */

int kt_mem_init(struct kt_mem *m, size_t size, uint64_t gpa)
{
	memset(m, 0, sizeof(*m));
	m->fd = memfd_create("kt-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, size) < 0)
		goto err;
	m->hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->hva == MAP_FAILED) {
		m->hva = NULL;
		goto err;
	}
	m->gpa = gpa;
	m->size = size;
	/* Keep GPA 0 of the allocator unused so 0 can mean "no memory". */
	m->next = 64;
	return 0;
err:
	close(m->fd);
	m->fd = -1;
	return -errno;
}

int kt_mem_unreferenced(struct kt_mem *m)
{
	if (m->hva)
		munmap(m->hva, m->size);
	m->hva = NULL;
	return fcntl(m->fd, F_ADD_SEALS, F_SEAL_WRITE) < 0 ? -errno : 0;
}

void kt_mem_free(struct kt_mem *m)
{
	if (m->hva)
		munmap(m->hva, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->hva = NULL;
	m->fd = -1;
}

uint64_t kt_mem_alloc(struct kt_mem *m, size_t len, size_t align)
{
	size_t off;

	if (!align)
		align = 1;
	off = (m->next + align - 1) & ~(align - 1);
	if (off > m->size || len > m->size - off) {
		kt_diag("guest RAM exhausted (%zu bytes wanted)", len);
		return 0;
	}
	m->next = off + len;
	memset(m->hva + off, 0, len);
	return m->gpa + off;
}

void *kt_gpa(struct kt_mem *m, uint64_t gpa)
{
	if (gpa < m->gpa || gpa - m->gpa >= m->size)
		return NULL;
	return m->hva + (gpa - m->gpa);
}

uint64_t kt_hva_to_gpa(struct kt_mem *m, const void *hva)
{
	return m->gpa + (uint64_t)((const uint8_t *)hva - m->hva);
}

/* ------------------------------------------------------------ device */

int (*kt_dev_opened)(void);

int kt_dev_open(struct kt_dev *d, const char *path)
{
	int i, r;

	memset(d, 0, sizeof(*d));
	d->path = path;
	for (i = 0; i < KT_MAX_VQ; i++) {
		d->vq[i].kick = d->vq[i].call = d->vq[i].err = -1;
		d->vq[i].dev = d;
		d->vq[i].index = i;
	}
	d->mem.fd = -1;
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		r = -errno;
		kt_diag("open %s: %s", path, strerror(errno));
		return r;
	}
	r = kt_dev_opened ? kt_dev_opened() : 0;
	if (r) {
		kt_diag("after opening %s: %s", path, strerror(-r));
		close(d->fd);
		d->fd = -1;
		return r;
	}
	r = kt_mem_init(&d->mem, KT_MEM_SIZE, KT_GPA_BASE);
	if (r) {
		kt_diag("guest RAM: %s", strerror(-r));
		close(d->fd);
		d->fd = -1;
	}
	return r;
}

void kt_vq_release(struct kt_vq *vq)
{
	if (vq->kick >= 0)
		close(vq->kick);
	if (vq->call >= 0)
		close(vq->call);
	if (vq->err >= 0)
		close(vq->err);
	vq->kick = vq->call = vq->err = -1;
	free(vq->chain_len);
	free(vq->token);
	vq->chain_len = NULL;
	vq->token = NULL;
}

void kt_dev_close(struct kt_dev *d)
{
	int i;

	/* The device first: it may still be using the ring memory. */
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	for (i = 0; i < KT_MAX_VQ; i++)
		kt_vq_release(&d->vq[i]);
	kt_mem_free(&d->mem);
}

int kt_dev_set_mem(struct kt_dev *d)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region region;
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nregions = 1;
	m.region.guest_phys_addr = d->mem.gpa;
	m.region.memory_size = d->mem.size;
	m.region.userspace_addr = (uintptr_t)d->mem.hva;
	if (ioctl(d->fd, VHOST_SET_MEM_TABLE, &m) < 0)
		return -errno;
	return 0;
}

int kt_dev_setup(struct kt_dev *d, uint64_t features)
{
	uint64_t offered;
	int r;

	if (ioctl(d->fd, VHOST_SET_OWNER) < 0) {
		r = -errno;
		kt_diag("VHOST_SET_OWNER: %s", kt_errname(errno));
		return r;
	}
	if (ioctl(d->fd, VHOST_GET_FEATURES, &offered) < 0) {
		r = -errno;
		kt_diag("VHOST_GET_FEATURES: %s", kt_errname(errno));
		return r;
	}
	if (features & ~offered) {
		kt_diag("device lacks features 0x%llx (offers 0x%llx)",
			(unsigned long long)(features & ~offered),
			(unsigned long long)offered);
		return -EOPNOTSUPP;
	}
	if (ioctl(d->fd, VHOST_SET_FEATURES, &features) < 0) {
		r = -errno;
		kt_diag("VHOST_SET_FEATURES 0x%llx: %s",
			(unsigned long long)features, kt_errname(errno));
		return r;
	}
	d->features = features;
	r = kt_dev_set_mem(d);
	if (r)
		kt_diag("VHOST_SET_MEM_TABLE: %s", kt_errname(-r));
	return r;
}

bool kt_has_feature(const struct kt_dev *d, unsigned int bit)
{
	return d->features & (1ULL << bit);
}

/* -------------------------------------------------------------- rings */

static uint16_t *kt_used_event_ptr(struct kt_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static uint16_t *kt_avail_event_ptr(struct kt_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

int kt_vq_setup(struct kt_dev *d, unsigned int idx, unsigned int num,
		uint16_t base)
{
	if (idx >= KT_MAX_VQ || !num || num > 32768 || (num & (num - 1)))
		return -EINVAL;
	return kt_vq_init(d, &d->vq[idx], idx, num, base);
}

int kt_vq_layout(struct kt_dev *d, struct kt_vq *vq, unsigned int idx,
		 unsigned int num, uint16_t base)
{
	unsigned int i;

	kt_vq_release(vq);
	memset(vq, 0, sizeof(*vq));
	vq->kick = vq->call = vq->err = -1;
	vq->dev = d;
	vq->index = idx;
	vq->num = num;
	vq->desc_gpa = kt_mem_alloc(&d->mem, 16 * num, KT_PAGE);
	vq->avail_gpa = kt_mem_alloc(&d->mem, 6 + 2 * num, KT_PAGE);
	vq->used_gpa = kt_mem_alloc(&d->mem, 6 + 8 * num, KT_PAGE);
	vq->indirect_gpa = kt_mem_alloc(&d->mem, (size_t)num * KT_INDIRECT_MAX *
					sizeof(struct vring_desc), KT_PAGE);
	if (!vq->desc_gpa || !vq->avail_gpa || !vq->used_gpa ||
	    !vq->indirect_gpa)
		return -ENOMEM;
	vq->desc = kt_gpa(&d->mem, vq->desc_gpa);
	vq->avail = kt_gpa(&d->mem, vq->avail_gpa);
	vq->used = kt_gpa(&d->mem, vq->used_gpa);
	vq->chain_len = calloc(num, sizeof(*vq->chain_len) * 2);
	vq->token = calloc(num, sizeof(*vq->token));
	if (!vq->chain_len || !vq->token)
		return -ENOMEM;
	/* The second half of chain_len is the driver's private next array:
	 * the free list must not depend on what a test writes into desc[]. */
	for (i = 0; i < num; i++)
		vq->chain_len[num + i] = i + 1;
	vq->free_head = 0;
	vq->num_free = num;
	vq->avail_idx = vq->kicked_idx = vq->last_used = base;
	vq->avail->idx = base;
	vq->used->idx = base;
	vq->event_idx = kt_has_feature(d, VIRTIO_RING_F_EVENT_IDX);
	vq->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kick < 0 || vq->call < 0 || vq->err < 0)
		return -errno;
	return 0;
}

int kt_vq_init(struct kt_dev *d, struct kt_vq *vq, unsigned int idx,
	       unsigned int num, uint16_t base)
{
	struct vhost_vring_state state;
	struct vhost_vring_addr addr;
	struct vhost_vring_file file;
	const char *step;
	int r, e;

	r = kt_vq_layout(d, vq, idx, num, base);
	if (r) {
		kt_diag("ring %u: layout: %s", idx, kt_errname(-r));
		return r;
	}
	step = "VHOST_SET_VRING_NUM";
	state.index = idx;
	state.num = num;
	if (ioctl(d->fd, VHOST_SET_VRING_NUM, &state) < 0)
		goto err;
	step = "VHOST_SET_VRING_BASE";
	state.num = base;
	if (ioctl(d->fd, VHOST_SET_VRING_BASE, &state) < 0)
		goto err;
	step = "VHOST_SET_VRING_ADDR";
	memset(&addr, 0, sizeof(addr));
	addr.index = idx;
	if (kt_has_feature(d, VIRTIO_F_ACCESS_PLATFORM)) {
		addr.desc_user_addr = vq->desc_gpa;
		addr.avail_user_addr = vq->avail_gpa;
		addr.used_user_addr = vq->used_gpa;
	} else {
		addr.desc_user_addr = (uintptr_t)vq->desc;
		addr.avail_user_addr = (uintptr_t)vq->avail;
		addr.used_user_addr = (uintptr_t)vq->used;
	}
	if (ioctl(d->fd, VHOST_SET_VRING_ADDR, &addr) < 0)
		goto err;
	file.index = idx;
	step = "VHOST_SET_VRING_KICK";
	file.fd = vq->kick;
	if (ioctl(d->fd, VHOST_SET_VRING_KICK, &file) < 0)
		goto err;
	step = "VHOST_SET_VRING_CALL";
	file.fd = vq->call;
	if (ioctl(d->fd, VHOST_SET_VRING_CALL, &file) < 0)
		goto err;
	step = "VHOST_SET_VRING_ERR";
	file.fd = vq->err;
	if (ioctl(d->fd, VHOST_SET_VRING_ERR, &file) < 0)
		goto err;
	return 0;
err:
	e = errno;
	kt_diag("ring %u: %s: %s", idx, step, kt_errname(e));
	return -e;
}

int kt_net_backend(struct kt_dev *d, unsigned int idx, int fd)
{
	struct vhost_vring_file file = { .index = idx, .fd = fd };

	if (ioctl(d->fd, VHOST_NET_SET_BACKEND, &file) < 0)
		return -errno;
	return 0;
}

static void kt_vq_publish(struct kt_vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx % vq->num] = head;
	vq->avail_idx++;
	/* Ring entry before index: the device reads them in that order. */
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
}

int kt_vq_add(struct kt_vq *vq, const struct kt_buf *out, unsigned int nout,
	      const struct kt_buf *in, unsigned int nin, bool indirect,
	      uint64_t token)
{
	uint16_t *priv_next = vq->chain_len + vq->num;
	unsigned int total = nout + nin, i;
	struct vring_desc *d;
	uint16_t head, cur, prev = 0;

	if (!total)
		return -EINVAL;
	if (indirect && total > KT_INDIRECT_MAX)
		return -E2BIG;
	if (vq->num_free < (indirect ? 1 : total))
		return -ENOSPC;

	head = vq->free_head;
	if (indirect) {
		uint64_t table = vq->indirect_gpa +
			(uint64_t)head * KT_INDIRECT_MAX * sizeof(*d);
		struct vring_desc *t = kt_gpa(&vq->dev->mem, table);

		for (i = 0; i < total; i++) {
			const struct kt_buf *b = i < nout ? &out[i] :
						 &in[i - nout];

			t[i].addr = b->gpa;
			t[i].len = b->len;
			t[i].flags = (i < nout ? 0 : VRING_DESC_F_WRITE) |
				     (i + 1 < total ? VRING_DESC_F_NEXT : 0);
			t[i].next = i + 1 < total ? i + 1 : 0;
		}
		d = &vq->desc[head];
		d->addr = table;
		d->len = total * sizeof(*d);
		d->flags = VRING_DESC_F_INDIRECT;
		d->next = 0;
		vq->free_head = priv_next[head];
		vq->num_free--;
		vq->chain_len[head] = 1;
	} else {
		cur = head;
		for (i = 0; i < total; i++) {
			const struct kt_buf *b = i < nout ? &out[i] :
						 &in[i - nout];

			d = &vq->desc[cur];
			d->addr = b->gpa;
			d->len = b->len;
			d->flags = i < nout ? 0 : VRING_DESC_F_WRITE;
			if (i)
				vq->desc[prev].next = cur;
			prev = cur;
			cur = priv_next[cur];
		}
		/* Every descriptor but the last has NEXT set. */
		cur = head;
		for (i = 0; i + 1 < total; i++) {
			vq->desc[cur].flags |= VRING_DESC_F_NEXT;
			cur = priv_next[cur];
		}
		vq->desc[cur].next = 0;
		vq->free_head = priv_next[cur];
		vq->num_free -= total;
		vq->chain_len[head] = total;
	}
	vq->token[head] = token;
	kt_vq_publish(vq, head);
	return head;
}

void kt_vq_kick(struct kt_vq *vq)
{
	uint64_t one = 1;

	vq->kicked_idx = vq->avail_idx;
	if (write(vq->kick, &one, sizeof(one)) != sizeof(one))
		kt_diag("kick write: %m");
}

bool kt_vq_kick_needed(struct kt_vq *vq)
{
	uint16_t new = vq->avail_idx, old = vq->kicked_idx;

	/* The avail index store before the read of the device's request. */
	kt_mb();
	if (vq->event_idx) {
		uint16_t ev = __atomic_load_n(kt_avail_event_ptr(vq),
					      __ATOMIC_ACQUIRE);

		return (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
	}
	return !(__atomic_load_n(&vq->used->flags, __ATOMIC_ACQUIRE) &
		 VRING_USED_F_NO_NOTIFY);
}

uint16_t kt_vq_used_idx(struct kt_vq *vq)
{
	return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
}

uint16_t kt_vq_used_pending(struct kt_vq *vq)
{
	return kt_vq_used_idx(vq) - vq->last_used;
}

int kt_vq_get_used(struct kt_vq *vq, uint32_t *id, uint32_t *len,
		   uint64_t *token)
{
	uint16_t *priv_next = vq->chain_len + vq->num;
	struct vring_used_elem e;
	uint16_t idx = kt_vq_used_idx(vq), n, last;
	unsigned int i;

	if (idx == vq->last_used)
		return 0;
	if ((uint16_t)(idx - vq->last_used) > vq->num) {
		kt_diag("ring %u: used->idx %u is %u ahead of the driver's %u (num %u)",
			vq->index, idx, (uint16_t)(idx - vq->last_used),
			vq->last_used, vq->num);
		return -EPROTO;
	}
	/* used->idx (acquire) before the entry it covers. */
	e = vq->used->ring[vq->last_used % vq->num];
	if (e.id >= vq->num || !vq->chain_len[e.id]) {
		kt_diag("ring %u: used entry %u has id %u (num %u, %s)",
			vq->index, vq->last_used, e.id, vq->num,
			e.id >= vq->num ? "out of range" : "not outstanding");
		return -EPROTO;
	}
	n = vq->chain_len[e.id];
	last = e.id;
	for (i = 1; i < n; i++)
		last = priv_next[last];
	priv_next[last] = vq->free_head;
	vq->free_head = e.id;
	vq->num_free += n;
	vq->chain_len[e.id] = 0;
	vq->last_used++;
	if (id)
		*id = e.id;
	if (len)
		*len = e.len;
	if (token)
		*token = vq->token[e.id];
	return 1;
}

int kt_iotlb_msg(struct kt_dev *d, int version, uint8_t type, uint64_t iova,
		 uint64_t size, uint64_t uaddr, uint8_t perm)
{
	struct vhost_iotlb_msg *m;
	struct vhost_msg_v2 v2;
	struct vhost_msg v1;
	const void *buf;
	size_t len;
	ssize_t n;

	if (version == 1) {
		memset(&v1, 0, sizeof(v1));
		v1.type = VHOST_IOTLB_MSG;
		m = &v1.iotlb;
		buf = &v1;
		len = sizeof(v1);
	} else {
		memset(&v2, 0, sizeof(v2));
		v2.type = VHOST_IOTLB_MSG_V2;
		m = &v2.iotlb;
		buf = &v2;
		len = sizeof(v2);
	}
	m->iova = iova;
	m->size = size;
	m->uaddr = uaddr;
	m->perm = perm;
	m->type = type;
	n = write(d->fd, buf, len);
	if (n < 0)
		return -errno;
	if ((size_t)n != len) {
		kt_diag("IOTLB write returned %zd, want %zu", n, len);
		return -EIO;
	}
	return 0;
}

int kt_iotlb_read(struct kt_dev *d, struct vhost_iotlb_msg *msg,
		  int timeout_ms)
{
	union {
		struct vhost_msg v1;
		struct vhost_msg_v2 v2;
	} u;
	ssize_t n;
	int r;

	r = kt_wait_readable(d->fd, timeout_ms);
	if (r <= 0)
		return r;
	n = read(d->fd, &u, sizeof(u));
	if (n < 0)
		return -errno;
	if (n == sizeof(u.v2) && u.v2.type == VHOST_IOTLB_MSG_V2) {
		*msg = u.v2.iotlb;
		return 1;
	}
	if (n == sizeof(u.v1) && u.v1.type == VHOST_IOTLB_MSG) {
		*msg = u.v1.iotlb;
		return 1;
	}
	kt_diag("IOTLB read: %zd bytes, type %u", n, u.v2.type);
	return -EPROTO;
}

int kt_wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long deadline = kt_deadline(timeout_ms);
	int r;

	for (;;) {
		long left = deadline - kt_now_ms();

		if (left < 0)
			left = 0;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

uint64_t kt_eventfd_drain(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

int kt_wait_eventfd(int fd, int timeout_ms)
{
	int r = kt_wait_readable(fd, timeout_ms);

	if (r > 0)
		kt_eventfd_drain(fd);
	return r;
}

void kt_vq_set_used_event(struct kt_vq *vq, uint16_t idx)
{
	__atomic_store_n(kt_used_event_ptr(vq), idx, __ATOMIC_RELEASE);
}

uint16_t kt_vq_avail_event(struct kt_vq *vq)
{
	return __atomic_load_n(kt_avail_event_ptr(vq), __ATOMIC_ACQUIRE);
}

void kt_vq_no_interrupt(struct kt_vq *vq, bool on)
{
	uint16_t f = vq->avail->flags;

	f = on ? (f | VRING_AVAIL_F_NO_INTERRUPT) :
		 (f & ~VRING_AVAIL_F_NO_INTERRUPT);
	__atomic_store_n(&vq->avail->flags, f, __ATOMIC_RELEASE);
	kt_mb();
}

int kt_vq_wait_used(struct kt_vq *vq, uint32_t *id, uint32_t *len,
		    uint64_t *token, int timeout_ms)
{
	long deadline = kt_deadline(timeout_ms);
	int r;

	for (;;) {
		r = kt_vq_get_used(vq, id, len, token);
		if (r)
			return r;
		if (vq->event_idx) {
			/* Ask for a call at the next entry, then re-check:
			 * the device may have written it meanwhile. */
			kt_vq_set_used_event(vq, vq->last_used);
			kt_mb();
			r = kt_vq_get_used(vq, id, len, token);
			if (r)
				return r;
		}
		r = kt_wait_eventfd(vq->call, (int)(deadline - kt_now_ms()));
		if (r < 0)
			return r;
		if (r == 0)
			return kt_vq_get_used(vq, id, len, token);
	}
}

void kt_vq_raw_desc(struct kt_vq *vq, unsigned int i, uint64_t gpa,
		    uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = &vq->desc[i % vq->num];

	d->addr = gpa;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

void kt_vq_raw_publish(struct kt_vq *vq, uint16_t head)
{
	kt_vq_publish(vq, head);
}

void kt_vq_raw_avail_idx(struct kt_vq *vq, uint16_t idx)
{
	vq->avail_idx = idx;
	__atomic_store_n(&vq->avail->idx, idx, __ATOMIC_RELEASE);
}

/* -------------------------------------------------------------- pool */

int kt_pool_init(struct kt_pool *p, struct kt_mem *m, unsigned int count,
		 uint32_t size)
{
	memset(p, 0, sizeof(*p));
	p->mem = m;
	p->size = size;
	p->count = count;
	p->gpa = kt_mem_alloc(m, (size_t)count * size, 64);
	p->busy = calloc(count, 1);
	if (!p->gpa || !p->busy)
		return -ENOMEM;
	return 0;
}

uint64_t kt_pool_get(struct kt_pool *p)
{
	unsigned int i, k;

	for (i = 0; i < p->count; i++) {
		k = (p->next + i) % p->count;
		if (!p->busy[k]) {
			p->busy[k] = 1;
			p->next = k + 1;
			return p->gpa + (uint64_t)k * p->size;
		}
	}
	return 0;
}

void kt_pool_put(struct kt_pool *p, uint64_t gpa)
{
	uint64_t k = (gpa - p->gpa) / p->size;

	if (gpa >= p->gpa && k < p->count)
		p->busy[k] = 0;
}

void kt_pool_free(struct kt_pool *p)
{
	free(p->busy);
	p->busy = NULL;
}
