// SPDX-License-Identifier: GPL-2.0-only
/*
 * The split-ring data path (virtio 1.x 2.7): reading available chains,
 * writing used entries, notification suppression and interrupts.
 *
 * Everything in a ring is written by the guest while we read it, so every
 * index is checked against the ring size after it is read, and every
 * descriptor is copied once into a local struct and only that copy used.
 *
 * Addresses: ring areas are user addresses of the owner (HVAs), or IOVAs
 * when VIRTIO_F_ACCESS_PLATFORM is acked; buffers are guest-physical
 * addresses, or IOVAs.  Everything translates through the ring's address
 * spaces (include/kvio/as.h): vq->iova, if any, then vq->mem.  All of it runs
 * in the worker, which has adopted the owner's mm, with vq->mutex held;
 * device IOTLB and memory table changes take every vq->mutex, so a
 * translation stays valid while the handler runs.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include "core.h"

/* Byte offsets inside the avail and used areas. */
#define KVIO_AVAIL_FLAGS	offsetof(struct vring_avail, flags)
#define KVIO_AVAIL_IDX		offsetof(struct vring_avail, idx)
#define KVIO_USED_FLAGS		offsetof(struct vring_used, flags)
#define KVIO_USED_IDX		offsetof(struct vring_used, idx)

static inline size_t kvio_avail_entry(unsigned int i)
{
	return sizeof(struct vring_avail) + sizeof(__virtio16) * (size_t)i;
}

static inline size_t kvio_used_entry(unsigned int i)
{
	return sizeof(struct vring_used) +
	       sizeof(struct vring_used_elem) * (size_t)i;
}

/**
 * kvio_vq_set_broken() - stop a ring the guest malformed
 * @vq: the ring
 * @why: the rule broken, for a rate-limited pr_debug()
 *
 * The first time, the ring's error eventfd is signalled.  From then on
 * kvio_vq_stopped() is true and kvio_vq_get_desc() and
 * kvio_vq_add_used_n() fail with -EIO, until SET_VRING_BASE,
 * SET_VRING_ADDR or RESET_OWNER re-arms the ring.  A ring already broken
 * stays as it is (no second signal).
 *
 * Context: vq->mutex held.
 */
void kvio_vq_set_broken(struct kvio_vq *vq, const char *why)
{
	if (vq->broken)
		return;
	vq->broken = true;
	pr_debug_ratelimited("ring %d stopped: %s\n", kvio_vq_index(vq),
			     why);
	if (vq->error_ctx)
		eventfd_signal(vq->error_ctx);
}
EXPORT_SYMBOL_GPL(kvio_vq_set_broken);

/*
 * A malformed ring stops; a miss (the VMM will answer) or an allocation
 * failure (the next kick retries) does not.
 */
static int kvio_vq_fail(struct kvio_vq *vq, int err, const char *why)
{
	if (err != -EAGAIN && err != -ENOMEM)
		kvio_vq_set_broken(vq, why);
	return err;
}

/* Translation. */

/* Past the region hit last, or through an IOVA stage. */
static noinline int kvio_vq_translate_slow(struct kvio_vq *vq, u64 addr,
					   u64 last, u32 perm,
					   struct kvio_piece *piece)
{
	struct kvio_as *iova = vq->iova;
	struct kvio_as_entry map;
	int ret;

	if (!iova) {
		if (!vq->mem || !kvio_as_lookup(vq->mem, addr, &map))
			return -EFAULT;
		vq->mem_hit.start = map.start;
		vq->mem_hit.last = map.last;
		vq->mem_hit.addr = map.addr;
		/* Memory-table regions allow reads and writes. */
		piece->last = min(vq->mem_hit.last, last);
		piece->hva = vq->mem_hit.addr + (addr - vq->mem_hit.start);
		piece->opaque = NULL;
		return 0;
	}
	/* The piece hit last, else the whole piece, which is cached. */
	if (likely(addr >= vq->iova_hit.start && addr <= vq->iova_hit.last &&
		   (vq->iova_hit.perm & perm) == perm)) {
		piece->last = min(vq->iova_hit.last, last);
		piece->hva = vq->iova_hit.hva + (addr - vq->iova_hit.start);
		piece->opaque = vq->iova_hit.opaque;
		return 0;
	}
	ret = kvio_as_translate(iova, vq->mem, addr, U64_MAX, perm, piece);
	if (likely(!ret)) {
		vq->iova_hit.start = addr;
		vq->iova_hit.last = piece->last;
		vq->iova_hit.hva = piece->hva;
		vq->iova_hit.perm = perm;
		vq->iova_hit.opaque = piece->opaque;
		piece->last = min(piece->last, last);
		return 0;
	}
	if (ret == -EFAULT || !iova->ops || !iova->ops->fault)
		return -EFAULT;
	return iova->ops->fault(iova, vq, addr, perm, ret);
}

/*
 * The piece at @addr (to @last at most) in @vq's view: through its IOVA
 * stage, if any, and the memory table.  A fault in the IOVA stage goes to
 * that stage's owner (a device IOTLB asks the VMM: -EAGAIN).  Inline for
 * the common case, a guest-physical address in the region hit last: the
 * parser translates every descriptor.
 */
static __always_inline int kvio_vq_translate(struct kvio_vq *vq, u64 addr,
					     u64 last, u32 perm,
					     struct kvio_piece *piece)
{
	if (likely(!vq->iova && addr >= vq->mem_hit.start &&
		   addr <= vq->mem_hit.last)) {
		/* Memory-table regions allow reads and writes. */
		piece->last = min(vq->mem_hit.last, last);
		piece->hva = vq->mem_hit.addr + (addr - vq->mem_hit.start);
		piece->opaque = NULL;
		return 0;
	}
	return kvio_vq_translate_slow(vq, addr, last, perm, piece);
}

int kvio_piece_iter_init(struct kvio_piece_iter *it, u64 addr, u64 len,
			 u32 perm)
{
	it->addr = addr;
	it->left = len;
	it->perm = perm;
	it->hva = 0;
	it->len = 0;
	return len && addr > U64_MAX - (len - 1) ? -EFAULT : 0;
}

int kvio_vq_next_piece(struct kvio_vq *vq, struct kvio_piece_iter *it)
{
	struct kvio_piece piece;
	int ret;

	if (!it->left)
		return 0;
	ret = kvio_vq_translate(vq, it->addr, it->addr + (it->left - 1),
				it->perm, &piece);
	if (ret)
		return ret;
	it->hva = piece.hva;
	it->len = piece.last - it->addr + 1;
	it->addr += it->len;
	it->left -= it->len;
	return 1;
}

/* Ring areas. */

static u64 kvio_area_addr(struct kvio_vq *vq, enum kvio_ring_area area)
{
	switch (area) {
	case KVIO_RING_DESC:
		return vq->desc_user_addr;
	case KVIO_RING_AVAIL:
		return vq->avail_user_addr;
	default:
		return vq->used_user_addr;
	}
}

/* The device only writes the used ring and only reads the others. */
static u32 kvio_area_perm(enum kvio_ring_area area)
{
	return area == KVIO_RING_USED ? KVIO_PERM_WO : KVIO_PERM_RO;
}

/*
 * With an IOVA stage, checks that a whole area translates (reporting the
 * first miss), and caches its user address when it is one piece.
 */
static int kvio_area_prefetch(struct kvio_vq *vq, enum kvio_ring_area area)
{
	struct kvio_ring_meta *meta = &vq->meta[area];
	u64 size = kvio_vq_area_size(vq, area, vq->num);
	struct kvio_piece_iter it;
	int ret;

	if (meta->checked)
		return 0;
	ret = kvio_piece_iter_init(&it, kvio_area_addr(vq, area), size,
				   kvio_area_perm(area));
	while (!ret && (ret = kvio_vq_next_piece(vq, &it)) > 0) {
		if (it.len == size)
			meta->hva = u64_to_user_ptr(it.hva);
		ret = 0;
	}
	if (ret)
		return ret;
	meta->checked = true;
	return 0;
}

/* Where to access an area directly, or NULL if it must be translated. */
static inline void __user *kvio_area_base(struct kvio_vq *vq,
					  enum kvio_ring_area area)
{
	if (vq->iova)
		return vq->meta[area].hva;
	switch (area) {
	case KVIO_RING_DESC:
		return vq->desc;
	case KVIO_RING_AVAIL:
		return vq->avail;
	default:
		return vq->used;
	}
}

/* An area in several pieces: copy piece by piece. */
static int kvio_area_copy(struct kvio_vq *vq, enum kvio_ring_area area,
			  size_t off, void *buf, size_t len, bool write)
{
	struct kvio_piece_iter it;
	int ret;

	ret = kvio_piece_iter_init(&it, kvio_area_addr(vq, area) + off, len,
				   kvio_area_perm(area));
	while (!ret && (ret = kvio_vq_next_piece(vq, &it)) > 0) {
		void __user *uaddr = u64_to_user_ptr(it.hva);

		if (write ? copy_to_user(uaddr, buf, it.len) :
			    copy_from_user(buf, uaddr, it.len))
			return -EFAULT;
		buf += it.len;
		ret = 0;
	}
	return ret;
}

static int kvio_area_write(struct kvio_vq *vq, enum kvio_ring_area area,
			   size_t off, const void *buf, size_t len)
{
	void __user *base = kvio_area_base(vq, area);

	if (likely(base))
		return copy_to_user(base + off, buf, len) ? -EFAULT : 0;
	return kvio_area_copy(vq, area, off, (void *)buf, len, true);
}

static __always_inline int kvio_area_get16(struct kvio_vq *vq,
					   enum kvio_ring_area area,
					   size_t off, u16 *val)
{
	void __user *base = kvio_area_base(vq, area);
	__virtio16 v;
	int ret;

	if (unlikely(!base)) {
		ret = kvio_area_copy(vq, area, off, &v, sizeof(v), false);
		if (ret)
			return ret;
	} else {
		__virtio16 __user *p = base + off;

		/* A load in place, not a call to get_user()'s routine. */
		if (!user_access_begin(p, sizeof(*p)))
			return -EFAULT;
		unsafe_get_user(v, p, efault);
		user_access_end();
	}
	*val = kvio16_to_cpu(vq, v);
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/* Writes a u16 of the used area and logs it. */
static int kvio_used_put16(struct kvio_vq *vq, size_t off, u16 val)
{
	void __user *base = kvio_area_base(vq, KVIO_RING_USED);
	__virtio16 v = cpu_to_kvio16(vq, val);
	int ret;

	if (likely(base))
		ret = kvio_user_put16(v, (__virtio16 __user *)(base + off));
	else
		ret = kvio_area_copy(vq, KVIO_RING_USED, off, &v, sizeof(v),
				     true);
	if (ret)
		return ret;
	if (unlikely(vq->log_used)) {
		/* The value is visible before its page is marked dirty. */
		smp_wmb();
		kvio_log_used_report(vq, kvio_log_used(vq, off, sizeof(v)));
		if (vq->dev->log_ctx)
			eventfd_signal(vq->dev->log_ctx);
	}
	return 0;
}

/*
 * First use after (re)configuration: the used flags the device wants are
 * written and the used index it left is read back, as upstream does when a
 * backend is attached.
 */
static int kvio_vq_setup_access(struct kvio_vq *vq)
{
	int ret;

	ret = kvio_used_put16(vq, KVIO_USED_FLAGS, vq->used_flags);
	if (ret)
		return ret;
	ret = kvio_area_get16(vq, KVIO_RING_USED, KVIO_USED_IDX,
			      &vq->last_used_idx);
	if (ret)
		return ret;
	vq->signalled_used_valid = false;
	vq->access_ready = true;
	return 0;
}

static int kvio_vq_configured(struct kvio_vq *vq)
{
	enum kvio_ring_area area;
	int ret;

	if (!vq->num || !vq->desc_user_addr || !vq->avail_user_addr ||
	    !vq->used_user_addr)
		return -EFAULT;
	if (!vq->iova)
		return 0;
	/* A removal from the IOVA stage may have taken a cached area. */
	if (unlikely(vq->iova_unmaps != READ_ONCE(vq->iova->unmaps))) {
		vq->iova_unmaps = READ_ONCE(vq->iova->unmaps);
		kvio_vq_reset_meta(vq);
		kvio_vq_reset_iova_hit(vq);
	}
	for (area = KVIO_RING_DESC; area <= KVIO_RING_USED; area++) {
		ret = kvio_area_prefetch(vq, area);
		if (ret)
			return ret;
	}
	vq->meta_ready = true;
	return 0;
}

/* First use, or a ring area to check again: set up or re-validate. */
static noinline int kvio_vq_prepare_slow(struct kvio_vq *vq)
{
	int ret;

	ret = kvio_vq_configured(vq);
	if (ret)
		return kvio_vq_fail(vq, ret, "ring not set up or unreachable");
	if (!vq->access_ready) {
		ret = kvio_vq_setup_access(vq);
		if (ret)
			return kvio_vq_fail(vq, ret, "used ring unreachable");
	}
	return 0;
}

/* Every data-path entry point starts here. */
static __always_inline int kvio_vq_prepare(struct kvio_vq *vq)
{
	if (unlikely(vq->broken))
		return -EIO;
	/* Set up, and with an IOVA stage nothing removed since it was. */
	if (likely(vq->access_ready &&
		   (!vq->iova || (vq->meta_ready && vq->iova_unmaps ==
				  READ_ONCE(vq->iova->unmaps)))))
		return 0;
	return kvio_vq_prepare_slow(vq);
}

/*
 * Restart a ring GET_VRING_BASE stopped and (re)arm the kick poll of a ring
 * that has a kick eventfd; vq->mutex held.
 *
 * A ring stopped while its handler polled with notifications off
 * (kvio_vq_idle() queues the poll again, and that run found the ring
 * stopped) may have them off still, so the guest would not kick for its
 * next chain, and a kick eventfd that the VMM drained or replaced holds
 * no count to start the handler: a restarted ring's handler runs once,
 * which looks at the ring and turns notifications back on.
 */
int kvio_vq_start_kick(struct kvio_vq *vq)
{
	bool was_stopped = vq->stopped;
	int ret;

	vq->stopped = false;
	vq->idle_polling = false;
	if (!vq->kick || !vq->handle_kick)
		return 0;
	ret = kvio_poll_start(&vq->poll, vq->kick);
	if (!ret && was_stopped)
		kvio_poll_queue(&vq->poll);
	return ret;
}

/**
 * kvio_vq_init_access() - prepare a ring a backend was just attached to
 * @vq: the ring, its backend pointer set (kvio_vq_set_backend())
 *
 * Restarts the ring if GET_VRING_BASE stopped it and (re)arms its kick
 * poll, then writes the used flags and reads back the used index, as
 * upstream does at attach time (otherwise the ring's first access does
 * it).  With a device IOTLB an address the IOTLB lacks is reported to the
 * VMM and is no error: the first access after the answer finishes the
 * job.  A failure does not mark the ring broken.  Without a backend
 * nothing is done.
 *
 * Context: the owner's ioctl (its mm is current's), with dev->mutex and
 * vq->mutex held.
 * Return: 0; -EINVAL if the kick eventfd reports EPOLLERR; -EFAULT if the
 * ring is not set up (no size or a ring address missing), if one of its
 * areas does not translate, or if the used ring cannot be accessed;
 * -ENOMEM if an IOTLB miss could not be reported.
 */
int kvio_vq_init_access(struct kvio_vq *vq)
{
	int ret;

	if (!kvio_vq_get_backend(vq))
		return 0;
	/* A backend attached after GET_VRING_BASE stopped the ring restarts it. */
	ret = kvio_vq_start_kick(vq);
	if (ret)
		return ret;
	vq->access_ready = false;
	ret = kvio_vq_configured(vq);
	if (!ret)
		ret = kvio_vq_setup_access(vq);
	/* An IOTLB miss is answered later; the first use finishes. */
	return ret == -EAGAIN ? 0 : ret;
}
EXPORT_SYMBOL_GPL(kvio_vq_init_access);

/* Reads avail->idx; it may run ahead of last_avail_idx by num at most. */
static int kvio_vq_fetch_avail_idx(struct kvio_vq *vq)
{
	u16 idx;
	int ret;

	ret = kvio_area_get16(vq, KVIO_RING_AVAIL, KVIO_AVAIL_IDX, &idx);
	if (ret)
		return kvio_vq_fail(vq, ret, "avail index unreachable");
	if (unlikely((u16)(idx - vq->last_avail_idx) > vq->num))
		return kvio_vq_fail(vq, -EINVAL, "avail index moved too far");
	if (idx != vq->avail_idx) {
		vq->avail_idx = idx;
		/* Ring entries are read after the index that published them. */
		smp_rmb();
	}
	return 0;
}

/*
 * The chain parser's ops (include/kvio/chain.h): descriptors come from the
 * ring's table, addresses translate through the ring's IOVA stage, if any,
 * and the memory table, and indirect tables are read from the owner's
 * memory.  They are compiled into the parser (core/chain.c, included
 * below), not called through a table: the walker calls the first two once
 * per descriptor of every chain.
 */

/*
 * A descriptor is read field by field in one user-access section, as
 * plain loads: the copy routine would be a call and a string copy for 16
 * bytes.  Each field is read once; the parser works on this copy only.
 */
static __always_inline int kvio_user_read_desc(struct vring_desc __user *d,
					       struct vring_desc *raw)
{
	if (!user_access_begin(d, sizeof(*d)))
		return -EFAULT;
	unsafe_get_user(raw->addr, &d->addr, efault);
	unsafe_get_user(raw->len, &d->len, efault);
	unsafe_get_user(raw->flags, &d->flags, efault);
	unsafe_get_user(raw->next, &d->next, efault);
	user_access_end();
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

static __always_inline int kvio_vq_read_desc(struct kvio_vq *vq,
					     unsigned int i,
					     struct vring_desc *raw)
{
	struct vring_desc __user *d = kvio_area_base(vq, KVIO_RING_DESC);

	if (unlikely(!d))
		return kvio_area_copy(vq, KVIO_RING_DESC, i * sizeof(*raw),
				      raw, sizeof(*raw), false);
	return kvio_user_read_desc(d + i, raw);
}

#define KVIO_CHAIN_DIRECT_OPS

static __always_inline int kvio_chain_op_read_desc(struct kvio_chain *c,
						   unsigned int i,
						   struct vring_desc *raw)
{
	return kvio_vq_read_desc(c->priv, i, raw);
}

static __always_inline int kvio_chain_op_translate(struct kvio_chain *c,
						   u64 addr, bool write,
						   struct kvio_chain_map *cmap)
{
	struct kvio_piece piece;
	int ret;

	ret = kvio_vq_translate(c->priv, addr, U64_MAX,
				write ? KVIO_PERM_WO : KVIO_PERM_RO, &piece);
	if (ret)
		return ret;
	cmap->start = addr;
	cmap->last = piece.last;
	cmap->uaddr = piece.hva;
	return 0;
}

/* Indirect tables: whole entries unless a translation ends inside one. */
static __always_inline int kvio_chain_op_read(struct kvio_chain *c, u64 uaddr,
					      void *buf, size_t len)
{
	void __user *p = u64_to_user_ptr(uaddr);

	if (likely(len == sizeof(struct vring_desc)))
		return kvio_user_read_desc(p, buf);
	return copy_from_user(buf, p, len) ? -EFAULT : 0;
}

static __always_inline void kvio_chain_op_resched(struct kvio_chain *c)
{
	cond_resched();
}

#include "chain.c"

/**
 * kvio_vq_get_desc() - take the next available chain
 * @vq: the ring
 * @iov: receives the chain's buffers as user iovecs, the out
 *	device-readable ones first, then the in device-writable ones
 * @iov_count: entries @iov has room for
 * @out_num: receives out, the number of device-readable iovecs
 * @in_num: receives in, the number of device-writable iovecs
 * @info: if not NULL, filled in (struct kvio_desc_info)
 * @log: if not NULL, receives the writable buffers' ranges for
 *	kvio_log_write(), at most @iov_count (vq->iov_limit if @log is
 *	vq->log)
 * @log_num: receives the number of @log entries (unused without @log)
 *
 * Reads the ring's next avail entry and walks the chain it names (through
 * an indirect table if there is one) with every check a hostile driver
 * calls for, translating each buffer through the ring's IOVA stage, if
 * any, and the memory table.  A buffer may take several iovecs, one per
 * translation piece.  With @info NULL a buffer that does not translate
 * breaks the ring as a malformed chain does; with @info, in a vIOMMU
 * domain, it is left out and counted in info->faults instead, so every
 * backend that may sit behind a vIOMMU passes @info and checks
 * info->faults.  On anything but a chain, out and in are 0.
 *
 * A malformed chain or an unreachable ring marks the ring broken
 * (kvio_vq_set_broken(): the error eventfd is signalled, the backend
 * should stop processing); an IOTLB miss or an allocation failure does
 * not, and the chain is read again on the next call.
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 * Return: the chain's head index (below vq->num); vq->num if the ring is
 * empty or stopped (GET_VRING_BASE); or a negative errno: -EIO if the ring
 * was broken before; -EFAULT if the ring is not set up or unreachable, or
 * a buffer or indirect table does not translate; -EINVAL for a malformed
 * chain or an avail index that moved more than vq->num ahead; -ENOBUFS if
 * the chain needs more than @iov_count iovecs or more log entries than
 * @log holds (the ring is broken too); -EAGAIN when a device IOTLB miss
 * was reported to the VMM (retry once it answers: the ring's kick work is
 * queued then); -ENOMEM if that report could not be allocated.
 */
int kvio_vq_get_desc(struct kvio_vq *vq, struct iovec *iov,
		     unsigned int iov_count, unsigned int *out_num,
		     unsigned int *in_num, struct kvio_desc_info *info,
		     struct kvio_log *log, unsigned int *log_num)
{
	struct kvio_chain *c = &vq->chain;
	u16 head;
	int ret;

	c->priv = vq;
	c->num = vq->num;
	c->little_endian = kvio_vq_is_little_endian(vq);
	/*
	 * With an IOVA stage the owner's addresses are logged, one per
	 * iovec; kvio_log_write() maps them back through the memory table.
	 * Otherwise guest-physical ranges, one per descriptor.
	 */
	c->log_uaddr = !!vq->iova;
	/*
	 * In a vIOMMU domain an unmapped buffer is the guest's (or a strict
	 * guest's race with its own UNMAP): that request fails, the ring goes
	 * on.  The domain's fault op reported it.
	 */
	c->skip_faults = info && vq->iova && vq->dev->viommu;
	c->iov = iov;
	c->iov_count = iov_count;
	c->log = log;
	/*
	 * Every logged range is at least one iovec; vq->log has room for
	 * vq->iov_limit entries only.
	 */
	c->log_max = log == vq->log ? min(iov_count, vq->iov_limit) : iov_count;

	*out_num = 0;
	*in_num = 0;
	if (info)
		memset(info, 0, sizeof(*info));
	if (log)
		*log_num = 0;

	ret = kvio_vq_prepare(vq);
	if (ret)
		return ret;
	/* GET_VRING_BASE's index stays true until the ring is restarted. */
	if (unlikely(vq->stopped))
		return vq->num;

	if (vq->avail_idx == vq->last_avail_idx) {
		ret = kvio_vq_fetch_avail_idx(vq);
		if (ret)
			return ret;
		if (vq->avail_idx == vq->last_avail_idx)
			return vq->num;
	}

	ret = kvio_area_get16(vq, KVIO_RING_AVAIL,
			      kvio_avail_entry(vq->last_avail_idx &
					       (vq->num - 1)), &head);
	if (ret)
		return kvio_vq_fail(vq, ret, "avail ring unreachable");

	ret = __kvio_chain_walk(c, head);
	if (ret)
		return kvio_vq_fail(vq, ret, kvio_chain_fault_str(c->fault));

	*out_num = c->out;
	*in_num = c->in;
	if (info) {
		info->splits = c->out + c->in - c->bufs;
		info->faults = c->faults;
		info->fault_addr = c->fault_addr;
		info->tail_mapped = c->tail_mapped;
	}
	if (log)
		*log_num = c->log_num;
	vq->last_avail_idx++;
	return head;
}
EXPORT_SYMBOL_GPL(kvio_vq_get_desc);

/**
 * kvio_vq_rearm() - a handler found its ring empty: notifications back on
 * @vq: the ring, notifications disabled (kvio_vq_disable_notify())
 *
 * kvio_vq_enable_notify(), and if the guest added chains before it could
 * see that, kvio_vq_disable_notify() again: the handler reads on instead of
 * waiting for a kick that will not come.
 *
 * Context: vq->mutex held.
 * Return: true if chains came in (notifications off; read the ring again);
 * false if the ring is empty with notifications on.
 */
bool kvio_vq_rearm(struct kvio_vq *vq)
{
	if (!kvio_vq_enable_notify(vq))
		return false;
	kvio_vq_disable_notify(vq);
	return true;
}
EXPORT_SYMBOL_GPL(kvio_vq_rearm);

/**
 * kvio_vq_next_desc() - take the next chain in a handler's loop
 * @vq: the ring, its notifications disabled (kvio_vq_disable_notify())
 * @iov: as for kvio_vq_get_desc()
 * @iov_count: as for kvio_vq_get_desc()
 * @out_num: as for kvio_vq_get_desc()
 * @in_num: as for kvio_vq_get_desc()
 * @info: as for kvio_vq_get_desc()
 * @log: as for kvio_vq_get_desc()
 * @log_num: as for kvio_vq_get_desc()
 *
 * kvio_vq_get_desc(), but on an empty ring the guest's notifications are
 * turned back on (kvio_vq_enable_notify()) and, if buffers came in
 * meanwhile, turned off again and the ring read again.  So vq->num means
 * "empty, and the guest will kick": the handler can return.
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 * Return: as kvio_vq_get_desc(): a head index, vq->num (empty or stopped,
 * notifications enabled again), or the same negative errnos.
 */
int kvio_vq_next_desc(struct kvio_vq *vq, struct iovec *iov,
		      unsigned int iov_count, unsigned int *out_num,
		      unsigned int *in_num, struct kvio_desc_info *info,
		      struct kvio_log *log, unsigned int *log_num)
{
	int head;

	for (;;) {
		head = kvio_vq_get_desc(vq, iov, iov_count, out_num, in_num,
					info, log, log_num);
		/* A chain, an error, or empty with the guest to kick. */
		if (head != vq->num || likely(!kvio_vq_rearm(vq)))
			return head;
	}
}
EXPORT_SYMBOL_GPL(kvio_vq_next_desc);

/**
 * kvio_vq_discard_desc() - give back chains taken from the ring
 * @vq: the ring
 * @n: how many of the last chains kvio_vq_get_desc() returned, none of
 *	them added to the used ring
 *
 * The next kvio_vq_get_desc() reads those chains again (a backend that
 * could not serve them yet, or took more than it used).
 *
 * Context: vq->mutex held.
 */
void kvio_vq_discard_desc(struct kvio_vq *vq, int n)
{
	vq->last_avail_idx -= n;
}
EXPORT_SYMBOL_GPL(kvio_vq_discard_desc);

static int kvio_vq_write_used(struct kvio_vq *vq,
			      const struct vring_used_elem *heads,
			      unsigned int start, unsigned int count)
{
	size_t off = kvio_used_entry(start);
	size_t len = sizeof(*heads) * (size_t)count;
	int ret;

	ret = kvio_area_write(vq, KVIO_RING_USED, off, heads, len);
	if (ret)
		return ret;
	if (unlikely(vq->log_used)) {
		/* The entries are visible before their pages are marked. */
		smp_wmb();
		kvio_log_used_report(vq, kvio_log_used(vq, off, len));
	}
	return 0;
}

/**
 * kvio_vq_add_used_n() - put used entries in the used ring
 * @vq: the ring
 * @heads: the entries, id and len already in ring byte order
 *	(cpu_to_kvio32())
 * @count: how many, at most vq->num
 *
 * The entries are written (and logged with the ring's VHOST_VRING_F_LOG),
 * then, after a write barrier, the used index that publishes them.  The
 * guest is not interrupted: see kvio_vq_signal().
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 * Return: 0; -EIO if the ring is broken; -EINVAL if @count is above
 * vq->num (nothing written, the ring is not broken); -EFAULT if the ring
 * is not set up or unreachable, or the used ring cannot be written (the
 * ring is then marked broken); -EAGAIN or -ENOMEM if a translation met a
 * device IOTLB miss, as in kvio_vq_get_desc() (the ring is not broken).
 */
int kvio_vq_add_used_n(struct kvio_vq *vq, struct vring_used_elem *heads,
		       unsigned int count)
{
	unsigned int start, n;
	u16 old, new;
	int ret;

	ret = kvio_vq_prepare(vq);
	if (ret)
		return ret;
	/* More than the ring holds would overwrite entries not yet seen. */
	if (count > vq->num)
		return -EINVAL;

	start = vq->last_used_idx & (vq->num - 1);
	n = min(count, vq->num - start);
	ret = kvio_vq_write_used(vq, heads, start, n);
	if (!ret && count > n)
		ret = kvio_vq_write_used(vq, heads + n, 0, count - n);
	if (ret)
		return kvio_vq_fail(vq, ret, "used ring unreachable");

	old = vq->last_used_idx;
	new = old + count;
	/* The entries are visible before the index that publishes them. */
	smp_wmb();
	ret = kvio_used_put16(vq, KVIO_USED_IDX, new);
	if (ret)
		return kvio_vq_fail(vq, ret, "used index unreachable");
	vq->last_used_idx = new;
	/*
	 * A driver that never asks for interrupts lets the index wrap past
	 * signalled_used; then the next signal decision must not use it.
	 */
	if (unlikely((u16)(new - vq->signalled_used) < (u16)(new - old)))
		vq->signalled_used_valid = false;
	return 0;
}
EXPORT_SYMBOL_GPL(kvio_vq_add_used_n);

/**
 * kvio_vq_add_used() - put one used entry in the used ring
 * @vq: the ring
 * @head: the chain's head index, as kvio_vq_get_desc() returned it
 * @len: bytes the device wrote into the chain's buffers
 *
 * kvio_vq_add_used_n() for one entry, given in CPU byte order.
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 * Return: 0; -EINVAL if @head is not below vq->num (nothing written);
 * otherwise as kvio_vq_add_used_n().
 */
int kvio_vq_add_used(struct kvio_vq *vq, unsigned int head, u32 len)
{
	struct vring_used_elem elem = {
		.id = cpu_to_kvio32(vq, head),
		.len = cpu_to_kvio32(vq, len),
	};

	if (head >= vq->num)
		return -EINVAL;
	return kvio_vq_add_used_n(vq, &elem, 1);
}
EXPORT_SYMBOL_GPL(kvio_vq_add_used);

/* Does the guest want an interrupt for what was added since the last one? */
static bool kvio_vq_need_signal(struct kvio_vq *vq)
{
	u16 old, new, val;
	bool valid;

	/* The used index is visible before we read what the guest wants. */
	smp_mb();

	if (kvio_vq_has_feature(vq, VIRTIO_F_NOTIFY_ON_EMPTY) &&
	    vq->avail_idx == vq->last_avail_idx)
		return true;

	if (!kvio_vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		if (kvio_area_get16(vq, KVIO_RING_AVAIL, KVIO_AVAIL_FLAGS,
				    &val))
			return true;
		return !(val & VRING_AVAIL_F_NO_INTERRUPT);
	}

	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	new = vq->last_used_idx;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (unlikely(!valid))
		return true;
	/* used_event sits after the avail ring. */
	if (kvio_area_get16(vq, KVIO_RING_AVAIL, kvio_avail_entry(vq->num),
			    &val))
		return true;
	return vring_need_event(val, new, old);
}

/**
 * kvio_vq_signal() - interrupt the guest if it wants it
 * @vq: the ring
 *
 * Signals the ring's call eventfd if the guest asked for an interrupt for
 * the used entries added since the last one: with
 * VIRTIO_F_NOTIFY_ON_EMPTY whenever every chain seen was taken; otherwise
 * as the used_event index says with VIRTIO_RING_F_EVENT_IDX, or unless
 * the guest set VRING_AVAIL_F_NO_INTERRUPT without it.  When the ring
 * cannot be read the guest is interrupted: that is harmless.  Nothing is
 * done without a call eventfd.
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 */
void kvio_vq_signal(struct kvio_vq *vq)
{
	if (!vq->call_ctx)
		return;
	/* When in doubt (ring not usable), interrupt: it is harmless. */
	if (kvio_vq_prepare(vq) || kvio_vq_need_signal(vq))
		eventfd_signal(vq->call_ctx);
}
EXPORT_SYMBOL_GPL(kvio_vq_signal);

/**
 * kvio_vq_add_used_and_signal() - add one used entry, then signal
 * @vq: the ring
 * @head: as for kvio_vq_add_used()
 * @len: as for kvio_vq_add_used()
 *
 * kvio_vq_add_used() then kvio_vq_signal().  The guest is signalled even
 * if the entry could not be added, and that error is not reported (a ring
 * the failure broke has signalled its error eventfd): call the two
 * functions when it matters.
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 */
void kvio_vq_add_used_and_signal(struct kvio_vq *vq, unsigned int head,
				 u32 len)
{
	kvio_vq_add_used(vq, head, len);
	kvio_vq_signal(vq);
}
EXPORT_SYMBOL_GPL(kvio_vq_add_used_and_signal);

/**
 * kvio_vq_add_used_and_signal_n() - add used entries, then signal
 * @vq: the ring
 * @heads: as for kvio_vq_add_used_n()
 * @count: as for kvio_vq_add_used_n()
 *
 * kvio_vq_add_used_n() then kvio_vq_signal().  The guest is signalled even
 * if the entries could not be added, and that error is not reported (a
 * ring the failure broke has signalled its error eventfd): call the two
 * functions when it matters.
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 */
void kvio_vq_add_used_and_signal_n(struct kvio_vq *vq,
				   struct vring_used_elem *heads,
				   unsigned int count)
{
	kvio_vq_add_used_n(vq, heads, count);
	kvio_vq_signal(vq);
}
EXPORT_SYMBOL_GPL(kvio_vq_add_used_and_signal_n);

/**
 * kvio_vq_enable_notify() - ask the guest to kick again
 * @vq: the ring
 *
 * Clears VRING_USED_F_NO_NOTIFY in the used flags, or with
 * VIRTIO_RING_F_EVENT_IDX writes avail_event, then, after a full barrier,
 * reads the avail index again: a buffer the guest added before it saw the
 * change came without a kick, and the caller must take it.  A write that
 * fails marks the ring broken, as in kvio_vq_get_desc().
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 * Return: true if the ring has chains the caller has not taken (it should
 * disable notifications again and take them).  False if it has none, if
 * notifications were enabled already (nothing is written or read then),
 * if the ring is stopped, and on any error (the caller's next
 * kvio_vq_get_desc() reports it).
 */
bool kvio_vq_enable_notify(struct kvio_vq *vq)
{
	int ret;

	if (!(vq->used_flags & VRING_USED_F_NO_NOTIFY))
		return false;
	vq->used_flags &= ~VRING_USED_F_NO_NOTIFY;
	/* A ring set up now writes the new flags itself. */
	if (kvio_vq_prepare(vq))
		return false;

	if (!kvio_vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		ret = kvio_used_put16(vq, KVIO_USED_FLAGS, vq->used_flags);
	else	/* avail_event sits after the used ring. */
		ret = kvio_used_put16(vq, kvio_used_entry(vq->num),
				      vq->avail_idx);
	if (ret) {
		kvio_vq_fail(vq, ret, "used ring unreachable");
		return false;
	}

	/*
	 * The guest may have added a buffer before it saw the flag: make the
	 * flag visible, then look again.  Paired with the driver's barrier
	 * between writing avail->idx and reading the used flags.
	 */
	smp_mb();
	/* Nothing to take from a stopped ring: the caller must not loop. */
	if (vq->stopped || kvio_vq_fetch_avail_idx(vq))
		return false;
	return vq->avail_idx != vq->last_avail_idx;
}
EXPORT_SYMBOL_GPL(kvio_vq_enable_notify);

/**
 * kvio_vq_disable_notify() - tell the guest not to kick
 * @vq: the ring
 *
 * Sets VRING_USED_F_NO_NOTIFY in the used flags, for a handler that is
 * going to read the ring anyway.  With VIRTIO_RING_F_EVENT_IDX nothing is
 * written: the stale avail_event costs a spurious kick at most.  A write
 * that fails marks the ring broken, as in kvio_vq_get_desc().
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 */
void kvio_vq_disable_notify(struct kvio_vq *vq)
{
	int ret;

	if (vq->used_flags & VRING_USED_F_NO_NOTIFY)
		return;
	vq->used_flags |= VRING_USED_F_NO_NOTIFY;
	/* With EVENT_IDX a stale avail_event only costs a spurious kick. */
	if (kvio_vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		return;
	if (kvio_vq_prepare(vq))
		return;
	ret = kvio_used_put16(vq, KVIO_USED_FLAGS, vq->used_flags);
	if (ret)
		kvio_vq_fail(vq, ret, "used ring unreachable");
}
EXPORT_SYMBOL_GPL(kvio_vq_disable_notify);

/**
 * kvio_vq_avail_empty() - whether the ring has no chain to take
 * @vq: the ring
 *
 * Reads the avail index again if every chain seen so far was taken.
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep.
 * Return: true if the ring is stopped or the guest has added no chain
 * that was not taken; false if it has, or on an error (the caller's
 * kvio_vq_get_desc() reports it).
 */
bool kvio_vq_avail_empty(struct kvio_vq *vq)
{
	if (vq->stopped)
		return true;
	if (vq->avail_idx != vq->last_avail_idx)
		return false;
	/* On error, "not empty": the caller's kvio_vq_get_desc() reports it. */
	if (kvio_vq_prepare(vq) || kvio_vq_fetch_avail_idx(vq))
		return false;
	return vq->avail_idx == vq->last_avail_idx;
}
EXPORT_SYMBOL_GPL(kvio_vq_avail_empty);

/* Nanoseconds >> 10: close enough to microseconds, and cheap. */
static unsigned long kvio_busy_clock(void)
{
	return local_clock() >> 10;
}

/*
 * Spin until @done, @end (kvio_busy_clock()), a CPU wanted elsewhere, a
 * signal, or work queued for the ring's worker.  Context: vq->mutex held,
 * in the ring's worker, migration disabled: the clock is per CPU.
 */
static bool kvio_vq_spin_until(struct kvio_vq *vq, unsigned long end,
			       bool (*done)(void *arg), void *arg)
{
	while (!need_resched() && !signal_pending(current) &&
	       !time_after(kvio_busy_clock(), end) &&
	       !kvio_vq_has_work(vq)) {
		if (done(arg))
			return true;
		cpu_relax();
	}
	return false;
}

/**
 * kvio_vq_spin() - busy-wait for the guest, within the ring's timeout
 * @vq: the ring whose busy-loop timeout (VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
 *	microseconds) bounds the wait, and whose worker's queue is watched
 * @done: what the caller waits for (a chain on a ring, a packet on a
 *	socket), called on each turn with migration disabled (it may fault
 *	in guest memory, as reading a ring's index does)
 * @arg: for @done
 *
 * For a handler that ran dry: a guest that waits for each answer by
 * spinning on the used ring (the Linux virtio-iommu driver does, interrupts
 * off), or one that keeps requests coming (a disk at queue depth, a stream
 * of frames), adds its next chain soon, and catching it here saves the
 * kick's exit, the eventfd wake-up and a worker switch.  Stops when @done
 * says so, at the timeout, when the CPU is wanted or a signal is pending,
 * or when other work waits for this worker (kvio_vq_has_work()).
 *
 * Context: vq->mutex held, in the ring's worker.
 * Return: true if @done returned true; false without a timeout or when the
 * spin stopped for another reason.
 */
bool kvio_vq_spin(struct kvio_vq *vq, bool (*done)(void *arg), void *arg)
{
	bool ret;

	if (!vq->busyloop_timeout)
		return false;
	/* local_clock() is per CPU: stay on one for one deadline. */
	migrate_disable();
	ret = kvio_vq_spin_until(vq, kvio_busy_clock() + vq->busyloop_timeout,
				 done, arg);
	migrate_enable();
	return ret;
}
EXPORT_SYMBOL_GPL(kvio_vq_spin);

static bool kvio_vq_chain_added(void *vq)
{
	return !kvio_vq_avail_empty(vq);
}

/* Microseconds, near enough, on a clock every CPU shares. */
static unsigned long kvio_idle_clock(void)
{
	return ktime_get_mono_fast_ns() >> 10;
}

/*
 * The poll of kvio_vq_idle(), one busy-loop timeout from when the ring
 * first ran dry, however many runs it takes.  The deadline outlives a run,
 * and the next may be on another CPU, so it is kept on a clock all CPUs
 * share; each run spins on the per-CPU one for what is left of it.  True:
 * chains came; false: over (the caller rearms) or cut short by other work
 * (*@cut set).
 */
static bool kvio_vq_idle_poll(struct kvio_vq *vq, bool *cut)
{
	unsigned long now = kvio_idle_clock();
	bool ret = false;

	*cut = false;
	/* A deadline from before chains were taken is not this poll's. */
	if (!vq->idle_polling || vq->idle_avail != vq->last_avail_idx) {
		vq->idle_polling = true;
		vq->idle_avail = vq->last_avail_idx;
		vq->idle_end = now + vq->busyloop_timeout;
	}
	if (!time_after(now, vq->idle_end)) {
		migrate_disable();
		ret = kvio_vq_spin_until(vq, kvio_busy_clock() +
					 (vq->idle_end - now),
					 kvio_vq_chain_added, vq);
		migrate_enable();
		*cut = !ret && kvio_vq_has_work(vq) &&
		       !time_after(kvio_idle_clock(), vq->idle_end);
	}
	if (!*cut)
		vq->idle_polling = false;
	return ret;
}

/**
 * kvio_vq_idle() - a handler found its ring empty: poll a while, or rearm
 * @vq: the ring, notifications disabled (kvio_vq_disable_notify()), the
 *	answers so far published (the guest may be waiting for them)
 *
 * With a busy-loop timeout (VHOST_SET_VRING_BUSYLOOP_TIMEOUT), first
 * spin for a chain, notifications still off: a chain the guest adds
 * meanwhile costs it no kick.  When other work for the worker cuts the
 * spin short (often the completion of the request just read, which the
 * guest answers with its next one), notifications stay off and the
 * ring's poll is queued behind that work to go on spinning: turning them
 * on now would cost the guest a kick for exactly the chain the spin is
 * waiting for.  The spin's deadline is kept across such runs, so a ring
 * spins one timeout per time it runs dry, however often it is cut short.
 * Then, or without a timeout, as kvio_vq_next_desc() does on an empty
 * ring: notifications back on, and off again if chains came in before
 * the guest saw them.  A handler polls only before it turns
 * notifications back on: with EVENT_IDX, the event index written then
 * would have the guest kick for the very next chain.
 *
 * Context: vq->mutex held, in the ring's worker; may sleep.
 * Return: true if the guest added chains (read them, notifications off);
 * false if the handler ends: the ring is empty with notifications on, or
 * its poll is queued again with them off.
 */
bool kvio_vq_idle(struct kvio_vq *vq)
{
	bool cut;

	/* A stopped ring reads as empty whatever the guest adds. */
	if (kvio_vq_stopped(vq))
		return false;
	if (vq->busyloop_timeout) {
		if (kvio_vq_idle_poll(vq, &cut))
			return true;
		if (cut) {
			kvio_poll_queue(&vq->poll);
			return false;
		}
	}
	return kvio_vq_rearm(vq);
}
EXPORT_SYMBOL_GPL(kvio_vq_idle);
