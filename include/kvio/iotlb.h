/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio address-range maps: an interval tree of [start, last] -> addr ranges
 * with permissions.  One structure serves the memory table (GPA -> HVA), the
 * device IOTLB (IOVA -> HVA) and the vIOMMU's per-domain mappings, so every
 * lookup is O(log n) in the number of ranges.
 *
 * Locking: none inside.  The owner of a kvio_iotlb serialises access (the
 * engine holds vq->mutex of every ring that can see a map while changing it,
 * or swaps whole maps under RCU-free pointer exchange done with all ring
 * mutexes held).
 */
#ifndef _KVIO_IOTLB_H
#define _KVIO_IOTLB_H

#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/types.h>

/* Permissions, same values as VHOST_ACCESS_{RO,WO,RW} in vhost_types.h. */
#define KVIO_PERM_RO	0x1
#define KVIO_PERM_WO	0x2
#define KVIO_PERM_RW	0x3

struct kvio_iotlb_map {
	struct rb_node rb;
	struct list_head link;
	u64 start;
	u64 last;		/* inclusive */
	u64 addr;		/* translation of start */
	u32 perm;
	u64 __subtree_last;	/* interval tree bookkeeping */
};

/* Flags for kvio_iotlb_init(). */
/* Adding a range removes whatever it overlaps (device IOTLB semantics). */
#define KVIO_IOTLB_RETIRE	0x1

struct kvio_iotlb {
	struct rb_root_cached root;
	struct list_head list;	/* all maps, for teardown */
	unsigned int limit;	/* 0: no limit */
	unsigned int nmaps;
	unsigned int flags;
};

void kvio_iotlb_init(struct kvio_iotlb *iotlb, unsigned int limit,
		     unsigned int flags);
struct kvio_iotlb *kvio_iotlb_alloc(unsigned int limit, unsigned int flags);
/* Removes every map. */
void kvio_iotlb_reset(struct kvio_iotlb *iotlb);
/* kvio_iotlb_reset() + kfree(); NULL is fine. */
void kvio_iotlb_free(struct kvio_iotlb *iotlb);

/*
 * Adds [start, last] -> addr.  -EINVAL if last < start or addr + (last -
 * start) overflows; -ENOSPC past the limit; -ENOMEM; -EEXIST if the range
 * overlaps an existing one and the map has no KVIO_IOTLB_RETIRE flag.
 */
int kvio_iotlb_add_range(struct kvio_iotlb *iotlb, u64 start, u64 last,
			 u64 addr, u32 perm);
/* Removes every map that intersects [start, last] (whole maps). */
void kvio_iotlb_del_range(struct kvio_iotlb *iotlb, u64 start, u64 last);

/* First / next map intersecting [start, last], in address order. */
struct kvio_iotlb_map *kvio_iotlb_itree_first(struct kvio_iotlb *iotlb,
					      u64 start, u64 last);
struct kvio_iotlb_map *kvio_iotlb_itree_next(struct kvio_iotlb_map *map,
					     u64 start, u64 last);

#endif /* _KVIO_IOTLB_H */
