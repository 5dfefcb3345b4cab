// SPDX-License-Identifier: GPL-2.0-only
/*
 * The split-ring descriptor-chain parser (include/kvio/chain.h).
 *
 * Every descriptor is copied once, through an op, into a local structure in
 * CPU byte order, and only that copy is used: the driver may rewrite the
 * table while we walk it.  Every index is checked against its table before
 * it is used, every walk is bounded by the table size, and every address
 * computation is overflow-checked.
 *
 * This file is also compiled in userspace by fuzz/ (with fuzz/shim/), so it
 * includes nothing beyond the headers the shim provides.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/uio.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_ring.h>

#include <kvio/chain.h>

/*
 * The walker reaches its ops through these four functions.  By default they
 * go through c->ops, which the KUnit suites and the fuzzer fill in.
 * kvio_core walks every chain a guest posts: core/vq.c defines
 * KVIO_CHAIN_DIRECT_OPS and its own kvio_chain_op_*() before including this
 * file, so the descriptor read and the translation, done per descriptor,
 * are direct calls the compiler may inline instead of indirect ones
 * through a retpoline.
 */
#ifndef KVIO_CHAIN_DIRECT_OPS
static inline int kvio_chain_op_read_desc(struct kvio_chain *c,
					  unsigned int i,
					  struct vring_desc *raw)
{
	return c->ops->read_desc(c, i, raw);
}

static inline int kvio_chain_op_translate(struct kvio_chain *c, u64 addr,
					  bool write,
					  struct kvio_chain_map *map)
{
	return c->ops->translate(c, addr, write, map);
}

static inline int kvio_chain_op_read(struct kvio_chain *c, u64 uaddr,
				     void *buf, size_t len)
{
	return c->ops->read(c, uaddr, buf, len);
}

static inline void kvio_chain_op_resched(struct kvio_chain *c)
{
	if (c->ops->resched)
		c->ops->resched(c);
}
#endif

/* A descriptor in CPU byte order, copied once from the driver's table. */
struct kvio_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

static const char *const kvio_chain_faults[KVIO_CHAIN_NR_FAULTS] = {
	[KVIO_CHAIN_OK] = "no fault",
	[KVIO_CHAIN_HEAD_RANGE] = "head index past the ring",
	[KVIO_CHAIN_NEXT_RANGE] = "next index past the ring",
	[KVIO_CHAIN_LOOP] = "loop in descriptor chain",
	[KVIO_CHAIN_DESC_FAULT] = "descriptor table unreachable",
	[KVIO_CHAIN_ORDER] = "readable descriptor after a writable one",
	[KVIO_CHAIN_BUF_FAULT] = "buffer outside guest memory or not permitted",
	[KVIO_CHAIN_IOV_FULL] = "chain needs more iovecs than the backend has",
	[KVIO_CHAIN_LOG_FULL] = "too many writable buffers to log",
	[KVIO_CHAIN_IND_NEXT] = "indirect descriptor with NEXT",
	[KVIO_CHAIN_IND_LEN] = "indirect table length not a multiple of 16",
	[KVIO_CHAIN_IND_SIZE] = "indirect table too long",
	[KVIO_CHAIN_IND_WRAP] = "indirect table outside guest memory",
	[KVIO_CHAIN_IND_FAULT] = "indirect table unreachable",
	[KVIO_CHAIN_IND_NESTED] = "nested indirect descriptor",
	[KVIO_CHAIN_IND_NEXT_RANGE] = "indirect next past the table",
	[KVIO_CHAIN_IND_LOOP] = "loop in indirect table",
};

const char *kvio_chain_fault_str(enum kvio_chain_fault fault)
{
	if ((unsigned int)fault >= KVIO_CHAIN_NR_FAULTS)
		return "unknown";
	return kvio_chain_faults[fault];
}

static int kvio_chain_fail(struct kvio_chain *c, int err,
			   enum kvio_chain_fault fault)
{
	c->fault = fault;
	return err;
}

static void kvio_chain_load(const struct kvio_chain *c, struct kvio_desc *d,
			    const struct vring_desc *raw)
{
	d->addr = __virtio64_to_cpu(c->little_endian, raw->addr);
	d->len = __virtio32_to_cpu(c->little_endian, raw->len);
	d->flags = __virtio16_to_cpu(c->little_endian, raw->flags);
	d->next = __virtio16_to_cpu(c->little_endian, raw->next);
}

/* Bytes of [addr, addr + len) inside @map, which holds addr; len > 0. */
static u64 kvio_chain_span(const struct kvio_chain_map *map, u64 addr, u64 len)
{
	u64 room = map->last - addr;	/* bytes after addr, minus one */

	return len - 1 > room ? room + 1 : len;
}

/*
 * ops->translate, with its answer checked to hold @addr.  This and
 * kvio_chain_add() run per descriptor: always inlined, so a descriptor
 * costs no call in kvio_core (see kvio_chain_op_read_desc()).
 */
static __always_inline int kvio_chain_translate(struct kvio_chain *c,
						u64 addr, bool write,
						struct kvio_chain_map *map)
{
	int ret;

	ret = kvio_chain_op_translate(c, addr, write, map);
	if (ret)
		return ret;
	if (unlikely(addr < map->start || addr > map->last))
		return -EFAULT;
	return 0;
}

/*
 * Appends the iovecs of buffer [addr, addr + len) after the ones already
 * collected.  Returns how many it used (0 for an empty buffer), -ENOBUFS
 * past iov_count, -EFAULT if it wraps or does not translate, or the
 * translation's error.  Pieces adjacent in user memory share an iovec.
 */
static __always_inline int kvio_chain_map_buf(struct kvio_chain *c,
					      u64 addr, u32 len,
					      bool write)
{
	unsigned int used = c->out + c->in;
	struct iovec *iov = c->iov + used;
	unsigned int room = c->iov_count - used;
	struct kvio_chain_map map;
	unsigned int n = 0;
	u64 left = len;
	int ret;

	if (!len)
		return 0;
	if (addr > U64_MAX - (len - 1))
		return -EFAULT;

	while (left) {
		u64 span, uaddr;

		ret = kvio_chain_translate(c, addr, write, &map);
		if (ret)
			return ret;
		span = kvio_chain_span(&map, addr, left);
		uaddr = map.uaddr + (addr - map.start);
		if (n && (u64)(uintptr_t)iov[n - 1].iov_base +
			 iov[n - 1].iov_len == uaddr) {
			iov[n - 1].iov_len += span;
		} else {
			if (n >= room)
				return -ENOBUFS;
			iov[n].iov_base = u64_to_user_ptr(uaddr);
			iov[n].iov_len = span;
			n++;
		}
		addr += span;
		left -= span;
	}
	return n;
}

/* Records the writable buffer @d, just mapped to @n iovecs at iov[@used]. */
static int kvio_chain_log(struct kvio_chain *c, const struct kvio_desc *d,
			  unsigned int used, unsigned int n)
{
	unsigned int i;

	if (!c->log_uaddr) {
		if (c->log_num >= c->log_max)
			return -ENOBUFS;
		c->log[c->log_num].addr = d->addr;
		c->log[c->log_num].len = d->len;
		c->log_num++;
		return 0;
	}
	if (n > c->log_max - c->log_num)
		return -ENOBUFS;
	for (i = 0; i < n; i++) {
		const struct iovec *v = &c->iov[used + i];

		c->log[c->log_num].addr = (u64)(uintptr_t)v->iov_base;
		c->log[c->log_num].len = v->iov_len;
		c->log_num++;
	}
	return 0;
}

static __always_inline int kvio_chain_add(struct kvio_chain *c,
					  const struct kvio_desc *d)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	unsigned int used = c->out + c->in;
	int n;

	/* 2.7.4.2: device-readable buffers come before device-writable. */
	if (!writable && c->writable_seen)
		return kvio_chain_fail(c, -EINVAL, KVIO_CHAIN_ORDER);
	if (writable && d->len)
		c->writable_seen = true;

	c->tail_mapped = false;
	n = kvio_chain_map_buf(c, d->addr, d->len, writable);
	if (n == -EFAULT && c->skip_faults) {
		/* Whatever iovecs it wrote lie past out + in: ignored. */
		if (!c->faults++)
			c->fault_addr = d->addr;
		return 0;
	}
	if (n < 0)
		return kvio_chain_fail(c, n, n == -ENOBUFS ?
				       KVIO_CHAIN_IOV_FULL :
				       KVIO_CHAIN_BUF_FAULT);
	if (n)
		c->bufs++;
	c->tail_mapped = n > 0;
	if (!writable) {
		c->out += n;
		return 0;
	}
	if (c->log && n && kvio_chain_log(c, d, used, n))
		return kvio_chain_fail(c, -ENOBUFS, KVIO_CHAIN_LOG_FULL);
	c->in += n;
	return 0;
}

static void kvio_chain_step(struct kvio_chain *c)
{
	if (!(++c->walked % KVIO_CHAIN_BATCH))
		kvio_chain_op_resched(c);
}

/* Copies table bytes at @addr, translating through the cached @map. */
static int kvio_chain_table_read(struct kvio_chain *c,
				 struct kvio_chain_map *map, bool *mapped,
				 u64 addr, void *buf, size_t len)
{
	int ret;

	while (len) {
		u64 span;

		if (!*mapped || addr < map->start || addr > map->last) {
			ret = kvio_chain_translate(c, addr, false, map);
			if (ret)
				return ret;
			*mapped = true;
		}
		span = kvio_chain_span(map, addr, len);
		ret = kvio_chain_op_read(c, map->uaddr + (addr - map->start),
					 buf, span);
		if (ret)
			return ret;
		buf += span;
		addr += span;
		len -= span;
	}
	return 0;
}

static int kvio_chain_indirect(struct kvio_chain *c,
			       const struct kvio_desc *ind)
{
	unsigned int count, i = 0, seen = 0;
	struct kvio_chain_map map;
	bool mapped = false;
	struct vring_desc raw;
	struct kvio_desc d;
	int ret;

	if (!ind->len || ind->len % sizeof(raw))
		return kvio_chain_fail(c, -EINVAL, KVIO_CHAIN_IND_LEN);
	count = ind->len / sizeof(raw);
	if (count > KVIO_CHAIN_INDIRECT_MAX)
		return kvio_chain_fail(c, -EINVAL, KVIO_CHAIN_IND_SIZE);
	if (ind->addr > U64_MAX - (ind->len - 1))
		return kvio_chain_fail(c, -EFAULT, KVIO_CHAIN_IND_WRAP);

	for (;;) {
		if (++seen > count)
			return kvio_chain_fail(c, -EINVAL, KVIO_CHAIN_IND_LOOP);
		ret = kvio_chain_table_read(c, &map, &mapped,
					    ind->addr + i * sizeof(raw), &raw,
					    sizeof(raw));
		if (ret)
			return kvio_chain_fail(c, ret, KVIO_CHAIN_IND_FAULT);
		kvio_chain_load(c, &d, &raw);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return kvio_chain_fail(c, -EINVAL,
					       KVIO_CHAIN_IND_NESTED);
		ret = kvio_chain_add(c, &d);
		if (ret)
			return ret;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= count)
			return kvio_chain_fail(c, -EINVAL,
					       KVIO_CHAIN_IND_NEXT_RANGE);
		kvio_chain_step(c);
	}
}

/*
 * The walk, always inlined: kvio_core runs it from kvio_vq_get_desc() for
 * every chain a guest posts, where a call of its own would cost a frame,
 * a stack-protector check and a return thunk per chain.  The KUnit suites
 * and the fuzzer call kvio_chain_walk().
 */
static __always_inline int __kvio_chain_walk(struct kvio_chain *c,
					     unsigned int head)
{
	unsigned int i = head, seen = 0;
	struct vring_desc raw;
	struct kvio_desc d;
	int ret;

	c->out = 0;
	c->in = 0;
	c->log_num = 0;
	c->bufs = 0;
	c->faults = 0;
	c->fault_addr = 0;
	c->tail_mapped = false;
	c->fault = KVIO_CHAIN_OK;
	c->walked = 0;
	c->writable_seen = false;
	if (head >= c->num)
		return kvio_chain_fail(c, -EINVAL, KVIO_CHAIN_HEAD_RANGE);

	for (;;) {
		if (++seen > c->num)
			return kvio_chain_fail(c, -EINVAL, KVIO_CHAIN_LOOP);
		ret = kvio_chain_op_read_desc(c, i, &raw);
		if (ret)
			return kvio_chain_fail(c, ret, KVIO_CHAIN_DESC_FAULT);
		kvio_chain_load(c, &d, &raw);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			/*
			 * 2.7.5.3.1: the driver must not set NEXT with
			 * INDIRECT.  Upstream follows such a chain, which
			 * lets one chain name up to num tables; we refuse.
			 */
			if (d.flags & VRING_DESC_F_NEXT)
				return kvio_chain_fail(c, -EINVAL,
						       KVIO_CHAIN_IND_NEXT);
			return kvio_chain_indirect(c, &d);
		}

		ret = kvio_chain_add(c, &d);
		if (ret)
			return ret;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= c->num)
			return kvio_chain_fail(c, -EINVAL,
					       KVIO_CHAIN_NEXT_RANGE);
		kvio_chain_step(c);
	}
}

#ifndef KVIO_CHAIN_DIRECT_OPS
int kvio_chain_walk(struct kvio_chain *c, unsigned int head)
{
	return __kvio_chain_walk(c, head);
}
#endif
