// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio address-range maps: an interval tree of [start, last] -> addr.
 *
 * Every map also sits on a list in insertion order, so teardown is linear and
 * the oldest map is list_first_entry() (the device IOTLB evicts it when full).
 */
#include <linux/interval_tree_generic.h>
#include <linux/overflow.h>
#include <linux/slab.h>

#include <kvio/iotlb.h>

#define KVIO_MAP_START(map)	((map)->start)
#define KVIO_MAP_LAST(map)	((map)->last)

INTERVAL_TREE_DEFINE(struct kvio_iotlb_map, rb, u64, __subtree_last,
		     KVIO_MAP_START, KVIO_MAP_LAST, static inline,
		     kvio_itree);

void kvio_iotlb_init(struct kvio_iotlb *iotlb, unsigned int limit,
		     unsigned int flags)
{
	iotlb->root = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&iotlb->list);
	iotlb->limit = limit;
	iotlb->nmaps = 0;
	iotlb->flags = flags;
}
EXPORT_SYMBOL_GPL(kvio_iotlb_init);

struct kvio_iotlb *kvio_iotlb_alloc(unsigned int limit, unsigned int flags)
{
	struct kvio_iotlb *iotlb;

	iotlb = kzalloc(sizeof(*iotlb), GFP_KERNEL_ACCOUNT);
	if (!iotlb)
		return NULL;
	kvio_iotlb_init(iotlb, limit, flags);
	return iotlb;
}
EXPORT_SYMBOL_GPL(kvio_iotlb_alloc);

static void kvio_iotlb_map_free(struct kvio_iotlb *iotlb,
				struct kvio_iotlb_map *map)
{
	kvio_itree_remove(map, &iotlb->root);
	list_del(&map->link);
	iotlb->nmaps--;
	kfree(map);
}

void kvio_iotlb_reset(struct kvio_iotlb *iotlb)
{
	struct kvio_iotlb_map *map, *tmp;

	list_for_each_entry_safe(map, tmp, &iotlb->list, link)
		kvio_iotlb_map_free(iotlb, map);
}
EXPORT_SYMBOL_GPL(kvio_iotlb_reset);

void kvio_iotlb_free(struct kvio_iotlb *iotlb)
{
	if (!iotlb)
		return;
	kvio_iotlb_reset(iotlb);
	kfree(iotlb);
}
EXPORT_SYMBOL_GPL(kvio_iotlb_free);

int kvio_iotlb_add_range(struct kvio_iotlb *iotlb, u64 start, u64 last,
			 u64 addr, u32 perm)
{
	struct kvio_iotlb_map *map;
	u64 addr_last;

	if (last < start)
		return -EINVAL;
	/* The translation of every byte of the range must fit in 64 bits. */
	if (check_add_overflow(addr, last - start, &addr_last))
		return -EINVAL;

	if (kvio_itree_iter_first(&iotlb->root, start, last)) {
		if (!(iotlb->flags & KVIO_IOTLB_RETIRE))
			return -EEXIST;
		kvio_iotlb_del_range(iotlb, start, last);
	}

	if (iotlb->limit && iotlb->nmaps >= iotlb->limit)
		return -ENOSPC;

	map = kmalloc(sizeof(*map), GFP_KERNEL_ACCOUNT);
	if (!map)
		return -ENOMEM;

	map->start = start;
	map->last = last;
	map->addr = addr;
	map->perm = perm;
	kvio_itree_insert(map, &iotlb->root);
	list_add_tail(&map->link, &iotlb->list);
	iotlb->nmaps++;
	return 0;
}
EXPORT_SYMBOL_GPL(kvio_iotlb_add_range);

void kvio_iotlb_del_range(struct kvio_iotlb *iotlb, u64 start, u64 last)
{
	struct kvio_iotlb_map *map;

	while ((map = kvio_itree_iter_first(&iotlb->root, start, last)))
		kvio_iotlb_map_free(iotlb, map);
}
EXPORT_SYMBOL_GPL(kvio_iotlb_del_range);

struct kvio_iotlb_map *kvio_iotlb_itree_first(struct kvio_iotlb *iotlb,
					      u64 start, u64 last)
{
	return kvio_itree_iter_first(&iotlb->root, start, last);
}
EXPORT_SYMBOL_GPL(kvio_iotlb_itree_first);

struct kvio_iotlb_map *kvio_iotlb_itree_next(struct kvio_iotlb_map *map,
					     u64 start, u64 last)
{
	return kvio_itree_iter_next(map, start, last);
}
EXPORT_SYMBOL_GPL(kvio_iotlb_itree_next);
