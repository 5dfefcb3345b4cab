// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dirty log for live migration: while VHOST_F_LOG_ALL is acked, every guest
 * page the device writes is marked in a bitmap in the owner's memory (one
 * bit per 4 KiB guest page, bit n of byte n / 8 for page n), which the VMM
 * reads and clears with atomic operations while we set bits.
 *
 * Bits are set with atomic operations on the bitmap page itself: it is
 * pinned and mapped once for all the bits that fall in it (upstream pins one
 * page per bit).  Only bytes the device actually wrote are marked.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>

#include "core.h"
#include "log_bits.h"

/* The bitmap bytes for guest-physical [first, last] are user memory. */
bool kvio_log_range_ok(u64 log_base, u64 first, u64 last)
{
	u64 start, end;

	if (!kvio_log_bitmap_bytes(log_base, first, last, &start, &end))
		return false;
	return access_ok(u64_to_user_ptr(start), end - start + 1);
}

static int kvio_log_region_ok(const struct kvio_as_entry *map, void *arg)
{
	u64 log_base = *(u64 *)arg;

	return kvio_log_range_ok(log_base, map->start, map->last) ? 0 : 1;
}

bool kvio_mem_log_ok(struct kvio_as *mem, u64 log_base)
{
	return !mem || !kvio_as_for_each(mem, 0, U64_MAX, kvio_log_region_ok,
					 &log_base);
}

/* Marks guest pages [first, last] in the bitmap at @log_base. */
static int kvio_log_pages(u64 log_base, u64 first, u64 last)
{
	struct kvio_log_run run;

	for (;;) {
		struct page *page;
		void *bitmap;
		int ret;

		if (!kvio_log_first_run(log_base, first, last, &run))
			return -EFAULT;
		ret = pin_user_pages_fast(run.uaddr & PAGE_MASK, 1, FOLL_WRITE,
					  &page);
		if (ret != 1)
			return ret < 0 ? ret : -EFAULT;
		bitmap = kmap_local_page(page);
		kvio_log_set_bits(bitmap, run.bit, run.nbits);
		kunmap_local(bitmap);
		unpin_user_pages_dirty_lock(&page, 1, true);

		if (run.last == last)
			return 0;
		first = run.last + 1;
	}
}

/* Marks guest-physical [gpa, gpa + len); len > 0. */
static int kvio_log_gpa(u64 log_base, u64 gpa, u64 len)
{
	u64 first, last;

	if (!kvio_log_gpa_pages(gpa, len, &first, &last))
		return -EFAULT;
	return kvio_log_pages(log_base, first, last);
}

struct kvio_log_hva_walk {
	u64 log_base;
	u64 hva;
	u64 last;
	bool hit;
};

static int kvio_log_region_hva(const struct kvio_as_entry *map, void *arg)
{
	struct kvio_log_hva_walk *w = arg;
	u64 first_page, last_page;
	int ret;

	if (!kvio_log_region_pages(map->start, map->last, map->addr, w->hva,
				   w->last, &first_page, &last_page))
		return 0;
	ret = kvio_log_pages(w->log_base, first_page, last_page);
	if (ret)
		return ret;
	w->hit = true;
	return 0;
}

/*
 * Marks the guest pages behind owner addresses [hva, hva + len); len > 0.
 * Several regions may alias one address: all of them are marked.
 */
static int kvio_log_hva(struct kvio_vq *vq, u64 hva, u64 len)
{
	struct kvio_log_hva_walk w = {
		.log_base = vq->dev->log_base,
		.hva = hva,
	};
	int ret;

	if (!vq->mem || check_add_overflow(hva, len - 1, &w.last))
		return -EFAULT;
	ret = kvio_as_for_each(vq->mem, 0, U64_MAX, kvio_log_region_hva, &w);
	if (ret)
		return ret;
	return w.hit ? 0 : -EFAULT;
}

static bool kvio_log_enabled(struct kvio_vq *vq)
{
	return kvio_vq_has_feature(vq, VHOST_F_LOG_ALL);
}

/*
 * Marks a write of @len bytes at @offset in the used ring.  Without an IOVA
 * stage the VMM told us the used ring's guest-physical address; with one,
 * the ring's IOVAs are translated and mapped back to guest pages.
 */
/*
 * A dirty-log write that failed (the VMM's bitmap is unwritable) does not stop
 * the ring, as upstream: the guest did nothing wrong.  It is reported, since a
 * migration relying on that log would miss pages.
 */
void kvio_log_used_report(struct kvio_vq *vq, int err)
{
	if (unlikely(err))
		pr_warn_ratelimited("dirty log of a used ring not written (%d): migration would miss pages\n",
				    err);
}

int kvio_log_used(struct kvio_vq *vq, size_t offset, size_t len)
{
	struct kvio_piece_iter it;
	u64 addr;
	int ret;

	/*
	 * The ring's VHOST_VRING_F_LOG alone asks for this (as upstream): QEMU
	 * clears LOG_ALL before the ring flags when migration ends.
	 */
	if (!len || !vq->dev->log_base)
		return 0;
	if (!vq->iova) {
		if (check_add_overflow(vq->log_addr, (u64)offset, &addr))
			return -EFAULT;
		return kvio_log_gpa(vq->dev->log_base, addr, len);
	}

	if (check_add_overflow(vq->used_user_addr, (u64)offset, &addr))
		return -EFAULT;
	ret = kvio_piece_iter_init(&it, addr, len, KVIO_PERM_WO);
	while (!ret && (ret = kvio_vq_next_piece(vq, &it)) > 0)
		ret = kvio_log_hva(vq, it.hva, it.len);
	return ret;
}

/**
 * kvio_log_write() - mark the guest pages the device wrote as dirty
 * @vq: the ring the chain came from
 * @log: the chain's writable ranges, as kvio_vq_get_desc() filled them in
 * @log_num: entries in @log
 * @len: bytes the device wrote, from the start of the first range
 *
 * While VHOST_F_LOG_ALL is acked, the bits of the guest pages behind the
 * first @len bytes of the @log_num ranges in @log are set in the dirty
 * bitmap at dev->log_base (0 bytes mark nothing), and the log eventfd is
 * signalled if anything was marked.  With an IOVA stage @log holds user
 * addresses, which are mapped back to guest pages through the memory
 * table (every region that maps an address is marked).  Without
 * VHOST_F_LOG_ALL nothing is done.
 *
 * Context: vq->mutex held, in the ring's worker or another thread using
 * the owner's mm; may sleep (the bitmap page is pinned).
 * Return: 0; -EFAULT if a range runs past 2^64, if the address of its
 * bits in the bitmap is not a user address or, with an IOVA stage, if it
 * is in no memory-table region; pin_user_pages_fast()'s error if a bitmap
 * page cannot be pinned (marking stops at the failing range); -EINVAL if
 * @len is more than the ranges hold (they are all marked).
 */
int kvio_log_write(struct kvio_vq *vq, struct kvio_log *log,
		   unsigned int log_num, u64 len)
{
	struct kvio_dev *dev = vq->dev;
	bool marked = false;
	unsigned int i;
	int ret = 0;

	if (!kvio_log_enabled(vq))
		return 0;
	/* The data is visible before its pages are marked dirty. */
	smp_wmb();

	for (i = 0; i < log_num && len; i++) {
		u64 part = min(log[i].len, len);

		/* A zero-length buffer marks nothing (CVE-2019-14835). */
		if (!part)
			continue;
		if (vq->iova)
			ret = kvio_log_hva(vq, log[i].addr, part);
		else
			ret = kvio_log_gpa(dev->log_base, log[i].addr, part);
		if (ret)
			break;
		marked = true;
		len -= part;
	}
	if (marked && dev->log_ctx)
		eventfd_signal(dev->log_ctx);
	if (ret)
		return ret;
	/* More bytes than the buffers hold: a backend bug, nothing to mark. */
	return len ? -EINVAL : 0;
}
EXPORT_SYMBOL_GPL(kvio_log_write);
