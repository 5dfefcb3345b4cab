/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio address spaces: what every ring and buffer address of a kvio device
 * translates through.
 *
 * A struct kvio_as is a set of non-overlapping maps [start, last] -> addr,
 * each with permissions and an owner's opaque pointer, kept in a latched
 * red-black tree (linux/rbtree_latch.h): lookups take no lock, so any
 * number of workers translate while the owner maps and unmaps, and both
 * lookups and changes cost O(log n) maps.  Its sources:
 *
 *  - the memory table, GPA -> HVA: built by SET_MEM_TABLE, replaced whole;
 *  - the device IOTLB, IOVA -> HVA: fed by the VMM with VHOST_IOTLB_MSG
 *    (KVIO_AS_REPLACE | KVIO_AS_EVICT: it is a cache); a miss is reported
 *    to the VMM through the space's ops->fault;
 *  - a vIOMMU domain, IOVA -> GPA (KVIO_AS_OUT_GPA): shared by the devices
 *    attached to it, each finishing the translation through its own memory
 *    table; map and unmap are the guest's, heard by notifiers.
 *
 * A ring sees at most two stages, an IOVA space (device IOTLB or domain)
 * and the memory table; kvio_as_translate() walks both and answers with the
 * longest piece of contiguous user memory at an address.
 *
 * Locking: as->lock (a mutex) serialises writers, and notifiers run under
 * it.  Readers hold rcu_read_lock() (kvio_as_translate(), kvio_as_lookup()
 * take it themselves) or as->lock.  A removed map is freed after an RCU
 * grace period, so a reader copies it out safely while it goes.  Lock
 * order: dev->mutex -> vq->mutex -> as->lock; a notifier therefore must
 * not take a ring's or a device's mutex.  A space of KVIO_AS_OUT_GPA (a
 * vIOMMU domain) has a lockdep class of its own and may be locked before a
 * memory table's (a notifier walking it with kvio_as_for_each()).
 */
#ifndef _KVIO_AS_H
#define _KVIO_AS_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rbtree_latch.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/types.h>

/* Permissions, same values as VHOST_ACCESS_{RO,WO,RW} in vhost_types.h. */
#define KVIO_PERM_RO	0x1
#define KVIO_PERM_WO	0x2
#define KVIO_PERM_RW	0x3

/**
 * struct kvio_as_entry - one translation, [@start, @last] -> [@addr, ...]
 * @start: first address
 * @last: last address, inclusive (a map may end at 2^64 - 1)
 * @addr: translation of @start
 * @perm: KVIO_PERM_* the map allows
 * @opaque: the owner's pointer, as given to kvio_as_map()
 * @node: private, in as->tree
 * @link: private, on as->maps in insertion order (as->lock)
 * @rcu: private, frees the map after lock-free readers
 */
struct kvio_as_entry {
	struct latch_tree_node node;
	u64 start;
	u64 last;
	u64 addr;
	u32 perm;
	void *opaque;
	struct list_head link;
	struct rcu_head rcu;
};

struct kvio_as;
struct kvio_vq;

/**
 * struct kvio_as_ops - what a source does beyond storing maps
 * @fault: a ring of @vq found no map holding @addr (@err -ENOENT), or one
 *	without @perm (@err -EACCES).  Reports it as the source does and
 *	returns -EAGAIN when an answer will come (the access is retried) or
 *	-EFAULT.  Called with the ring's mutex held, not as->lock.  Optional:
 *	-EFAULT.
 */
struct kvio_as_ops {
	int (*fault)(struct kvio_as *as, struct kvio_vq *vq, u64 addr,
		     u32 perm, int err);
};

/**
 * struct kvio_as_notifier - an owner that hears of map and unmap
 * @map: after @map entered the space (optional); a non-zero return (an
 *	errno) refuses it: kvio_as_map() then fails with it, and notifiers
 *	that already heard of the map hear @unmap
 * @unmap: after @map left the space, before it is freed (optional)
 * @link: private
 *
 * Both run with as->lock held, in the writer's context.
 */
struct kvio_as_notifier {
	int (*map)(struct kvio_as_notifier *nb,
		   const struct kvio_as_entry *map);
	void (*unmap)(struct kvio_as_notifier *nb,
		      const struct kvio_as_entry *map);
	struct list_head link;
};

/* kvio_as_alloc() flags. */
/* Maps give guest-physical addresses: finish through the memory table. */
#define KVIO_AS_OUT_GPA		0x1
/* A new map replaces what it overlaps (else -EEXIST). */
#define KVIO_AS_REPLACE		0x2
/* At the limit, the oldest map makes room (else -ENOSPC). */
#define KVIO_AS_EVICT		0x4

/**
 * struct kvio_as - an address space
 * @tree: the maps, by address (latched: lock-free lookups)
 * @lock: writers and notifiers
 * @maps: every map, oldest first (eviction, teardown)
 * @notifiers: struct kvio_as_notifier list
 * @ops: the source's callbacks
 * @priv: the owner's
 * @flags: KVIO_AS_*
 * @limit: most maps at once; 0 no limit
 * @nmaps: maps now
 * @unmaps: bumped by every removal (lock-free readers: READ_ONCE), so
 *	translations cached outside the space know to drop
 * @ref: references (kvio_as_get(), kvio_as_put())
 * @rcu: frees the space after lock-free readers
 */
struct kvio_as {
	struct latch_tree_root tree;
	struct mutex lock;		/* writers, notifiers */
	struct list_head maps;
	struct list_head notifiers;
	const struct kvio_as_ops *ops;
	void *priv;
	unsigned int flags;
	unsigned int limit;
	unsigned int nmaps;
	unsigned long unmaps;
	refcount_t ref;
	struct rcu_head rcu;
};

struct kvio_as *kvio_as_alloc(const struct kvio_as_ops *ops, void *priv,
			      unsigned int flags, unsigned int limit);
void kvio_as_get(struct kvio_as *as);
void kvio_as_put(struct kvio_as *as);

int kvio_as_map(struct kvio_as *as, u64 start, u64 last, u64 addr, u32 perm,
		void *opaque);
int kvio_as_unmap(struct kvio_as *as, u64 start, u64 last, bool exact);
void kvio_as_clear(struct kvio_as *as);

void kvio_as_notifier_register(struct kvio_as *as,
			       struct kvio_as_notifier *nb);
void kvio_as_notifier_unregister(struct kvio_as *as,
				 struct kvio_as_notifier *nb);

bool kvio_as_lookup(struct kvio_as *as, u64 addr, struct kvio_as_entry *out);
int kvio_as_for_each(struct kvio_as *as, u64 start, u64 last,
		     int (*fn)(const struct kvio_as_entry *map, void *arg),
		     void *arg);

/**
 * struct kvio_piece - a translated piece: [addr, @last] -> [@hva, ...]
 * @last: last address of the piece, inclusive
 * @hva: the owner's user address of the piece's first byte
 * @opaque: the first stage's map opaque pointer
 */
struct kvio_piece {
	u64 last;
	u64 hva;
	void *opaque;
};

int kvio_as_translate(struct kvio_as *iova, struct kvio_as *mem, u64 addr,
		      u64 last, u32 perm, struct kvio_piece *piece);

#endif /* _KVIO_AS_H */
