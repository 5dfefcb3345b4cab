// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio address spaces (include/kvio/as.h): maps in a latched red-black tree
 * (linux/rbtree_latch.h), ordered by start address.
 *
 * Maps never overlap, so ordered by start they are ordered by last too: the
 * map holding an address is found by one descent, and the first map that
 * intersects a range is the leftmost whose last is not below the range.
 * Writers hold as->lock and change both copies of the tree, each after a
 * bump of the latch sequence; lock-free readers descend whichever copy the
 * sequence says is stable and retry if it moved.  A writer allocates only
 * the map itself and frees nothing before a grace period: a guest's MAP or
 * UNMAP costs two tree insertions or erasures and no node copies.  (The
 * maple tree in RCU mode this replaced copied a node per store and freed
 * the old one through RCU: iommu-bench's batch-32 MAP+UNMAP rate went from
 * 42.9k to 73.8k pairs/s with this tree.)  Removed maps and the space
 * itself are freed with kfree_rcu(): readers copy a map out under
 * rcu_read_lock() and never see it freed.
 */
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include <kvio/as.h>

/**
 * kvio_as_alloc() - a new, empty address space
 * @ops: the source's callbacks (may be NULL)
 * @priv: the owner's pointer, kept in as->priv
 * @flags: KVIO_AS_OUT_GPA, KVIO_AS_REPLACE, KVIO_AS_EVICT
 * @limit: most maps at once, 0 for no limit
 *
 * Context: process context, may sleep.
 * Return: the space with one reference, or NULL without memory.
 */
struct kvio_as *kvio_as_alloc(const struct kvio_as_ops *ops, void *priv,
			      unsigned int flags, unsigned int limit)
{
	static struct lock_class_key kvio_as_gpa_key;
	struct kvio_as *as;

	as = kzalloc(sizeof(*as), GFP_KERNEL_ACCOUNT);
	if (!as)
		return NULL;
	seqcount_latch_init(&as->tree.seq);
	mutex_init(&as->lock);
	/*
	 * Two lockdep classes: a first stage that gives guest-physical
	 * addresses (a vIOMMU domain) may walk a memory table while its own
	 * lock is held (a host IOMMU shadow pinning what a MAP names), never
	 * the other way round.
	 */
	if (flags & KVIO_AS_OUT_GPA)
		lockdep_set_class(&as->lock, &kvio_as_gpa_key);
	INIT_LIST_HEAD(&as->maps);
	INIT_LIST_HEAD(&as->notifiers);
	as->ops = ops;
	as->priv = priv;
	as->flags = flags;
	as->limit = limit;
	refcount_set(&as->ref, 1);
	return as;
}
EXPORT_SYMBOL_GPL(kvio_as_alloc);

/**
 * kvio_as_get() - take a reference
 * @as: the space
 */
void kvio_as_get(struct kvio_as *as)
{
	refcount_inc(&as->ref);
}
EXPORT_SYMBOL_GPL(kvio_as_get);

static __always_inline struct kvio_as_entry *
kvio_as_node_map(struct latch_tree_node *node)
{
	return container_of(node, struct kvio_as_entry, node);
}

/* The tree's order: by first address (maps do not overlap). */
static __always_inline bool kvio_as_less(struct latch_tree_node *a,
					 struct latch_tree_node *b)
{
	return kvio_as_node_map(a)->start < kvio_as_node_map(b)->start;
}

/* A lookup's key is an address: 0 for the map that holds it. */
static __always_inline int kvio_as_comp(void *key, struct latch_tree_node *n)
{
	const struct kvio_as_entry *map = kvio_as_node_map(n);
	u64 addr = *(u64 *)key;

	if (addr < map->start)
		return -1;
	return addr > map->last;
}

static const struct latch_tree_ops kvio_as_tree_ops = {
	.less = kvio_as_less,
	.comp = kvio_as_comp,
};

/*
 * latch_tree_insert() does this with rb_link_node_rcu(), whose
 * rcu_assign_pointer() on a link that is not __rcu is an error to sparse
 * (include/linux/rbtree.h, 6.1 and 6.12 alike).  The same publication: a
 * lock-free reader that reaches the node sees it initialised.
 */
static void kvio_as_tree_link(struct kvio_as *as, struct kvio_as_entry *map,
			      int idx)
{
	struct rb_node **link = &as->tree.tree[idx].rb_node;
	struct rb_node *node = &map->node.node[idx], *parent = NULL;

	while (*link) {
		parent = *link;
		if (kvio_as_less(&map->node,
				 container_of(parent, struct latch_tree_node,
					      node[idx])))
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	node->__rb_parent_color = (unsigned long)parent;
	node->rb_left = NULL;
	node->rb_right = NULL;
	/* Pairs with the reader's dependent load of the link. */
	smp_store_release(link, node);
	rb_insert_color(node, &as->tree.tree[idx]);
}

/* Each copy changed while the latch sends readers to the other. */
static void kvio_as_tree_insert(struct kvio_as *as, struct kvio_as_entry *map)
{
	raw_write_seqcount_latch(&as->tree.seq);
	kvio_as_tree_link(as, map, 0);
	raw_write_seqcount_latch(&as->tree.seq);
	kvio_as_tree_link(as, map, 1);
}

/*
 * Removes @map: tree, list, the notifiers before @stop (NULL: all), then
 * freed after readers.
 */
static void kvio_as_unnotify(struct kvio_as *as, struct kvio_as_entry *map,
			     struct kvio_as_notifier *stop)
{
	struct kvio_as_notifier *nb;

	lockdep_assert_held(&as->lock);
	latch_tree_erase(&map->node, &as->tree, &kvio_as_tree_ops);
	list_del(&map->link);
	as->nmaps--;
	WRITE_ONCE(as->unmaps, as->unmaps + 1);
	list_for_each_entry(nb, &as->notifiers, link) {
		if (nb == stop)
			break;
		if (nb->unmap)
			nb->unmap(nb, map);
	}
	kfree_rcu(map, rcu);
}

static void kvio_as_remove(struct kvio_as *as, struct kvio_as_entry *map)
{
	kvio_as_unnotify(as, map, NULL);
}

/**
 * kvio_as_put() - drop a reference; the last one frees the space
 * @as: the space, or NULL
 *
 * Every map is removed (notifiers still registered hear of it) and freed
 * after an RCU grace period, the space too.
 *
 * Context: process context, may sleep.
 */
void kvio_as_put(struct kvio_as *as)
{
	if (!as || !refcount_dec_and_test(&as->ref))
		return;
	kvio_as_clear(as);
	mutex_destroy(&as->lock);
	kfree_rcu(as, rcu);
}
EXPORT_SYMBOL_GPL(kvio_as_put);

/* The map holding @addr; as->lock or rcu_read_lock() held. */
static struct kvio_as_entry *kvio_as_find(struct kvio_as *as, u64 addr)
{
	struct latch_tree_node *node;

	node = latch_tree_find(&addr, &as->tree, &kvio_as_tree_ops);
	return node ? kvio_as_node_map(node) : NULL;
}

/*
 * The first map intersecting [start, last]; as->lock held, so the first
 * copy of the tree holds still.
 */
static struct kvio_as_entry *kvio_as_first(struct kvio_as *as, u64 start,
					   u64 last)
{
	struct rb_node *n = as->tree.tree[0].rb_node;
	struct kvio_as_entry *map, *first = NULL;

	lockdep_assert_held(&as->lock);
	while (n) {
		map = kvio_as_node_map(container_of(n, struct latch_tree_node,
						    node[0]));
		if (map->last < start) {
			n = n->rb_right;
		} else {
			first = map;
			n = n->rb_left;
		}
	}
	return first && first->start <= last ? first : NULL;
}

/* The map after @map in address order; as->lock held. */
static struct kvio_as_entry *kvio_as_next(struct kvio_as *as,
					  struct kvio_as_entry *map)
{
	struct rb_node *n = rb_next(&map->node.node[0]);

	lockdep_assert_held(&as->lock);
	return n ? kvio_as_node_map(container_of(n, struct latch_tree_node,
						 node[0])) : NULL;
}

/**
 * kvio_as_map() - add [@start, @last] -> @addr
 * @as: the space
 * @start: first address
 * @last: last address, inclusive
 * @addr: translation of @start
 * @perm: KVIO_PERM_RO, _WO or _RW
 * @opaque: the owner's pointer, handed back by lookups and notifiers
 *
 * With KVIO_AS_REPLACE, maps the range overlaps are removed first; with
 * KVIO_AS_EVICT, at the limit the oldest map is removed to make room.
 *
 * Context: process context, may sleep; takes as->lock.
 * Return: 0; -EINVAL if @last < @start, @perm is not one of the three, or
 * the translation of @last overflows 64 bits; -EEXIST if the range
 * overlaps a map (no KVIO_AS_REPLACE); -ENOSPC at the limit (no
 * KVIO_AS_EVICT); -ENOMEM; a notifier's error (the map is not kept, and the
 * notifiers that heard of it heard it go: maps it replaced or evicted
 * stay removed).
 */
int kvio_as_map(struct kvio_as *as, u64 start, u64 last, u64 addr, u32 perm,
		void *opaque)
{
	struct kvio_as_notifier *nb;
	struct kvio_as_entry *map, *old;
	u64 addr_last;
	int ret;

	if (last < start || check_add_overflow(addr, last - start, &addr_last))
		return -EINVAL;
	if (perm != KVIO_PERM_RO && perm != KVIO_PERM_WO &&
	    perm != KVIO_PERM_RW)
		return -EINVAL;

	map = kmalloc(sizeof(*map), GFP_KERNEL_ACCOUNT);
	if (!map)
		return -ENOMEM;
	map->start = start;
	map->last = last;
	map->addr = addr;
	map->perm = perm;
	map->opaque = opaque;

	mutex_lock(&as->lock);
	if (as->flags & KVIO_AS_REPLACE) {
		while ((old = kvio_as_first(as, start, last))) {
			kvio_as_remove(as, old);
			cond_resched();
		}
	} else if (kvio_as_first(as, start, last)) {
		/* An overlap is refused as such, even in a full space. */
		ret = -EEXIST;
		goto err;
	}
	if (as->limit && as->nmaps >= as->limit) {
		ret = -ENOSPC;
		if (!(as->flags & KVIO_AS_EVICT))
			goto err;
		while (as->nmaps >= as->limit)
			kvio_as_remove(as, list_first_entry(&as->maps,
							    struct kvio_as_entry,
							    link));
	}
	kvio_as_tree_insert(as, map);
	list_add_tail(&map->link, &as->maps);
	as->nmaps++;
	list_for_each_entry(nb, &as->notifiers, link) {
		ret = nb->map ? nb->map(nb, map) : 0;
		if (ret) {
			/* Those that heard of it hear it go; the map goes. */
			kvio_as_unnotify(as, map, nb);
			mutex_unlock(&as->lock);
			return ret;
		}
	}
	mutex_unlock(&as->lock);
	return 0;

err:
	mutex_unlock(&as->lock);
	kfree(map);
	return ret;
}
EXPORT_SYMBOL_GPL(kvio_as_map);

/**
 * kvio_as_unmap() - remove the maps in [@start, @last]
 * @as: the space
 * @start: first address
 * @last: last address, inclusive
 * @exact: only whole maps inside the range may go
 *
 * Without @exact every map the range touches is removed whole (device IOTLB
 * invalidation).  With @exact a map that crosses either end of the range
 * leaves everything in place (a virtio-iommu UNMAP may not split a
 * mapping); parts of the range that hold no map are no error.
 *
 * Context: process context, may sleep; takes as->lock.
 * Return: the number of maps removed; -EINVAL if @last < @start; -ERANGE
 * (@exact) if a map crosses an end of the range.
 */
int kvio_as_unmap(struct kvio_as *as, u64 start, u64 last, bool exact)
{
	struct kvio_as_entry *map;
	int n = 0;

	if (last < start)
		return -EINVAL;
	mutex_lock(&as->lock);
	if (exact) {
		map = kvio_as_find(as, start);
		if (map && map->start < start)
			goto range;
		map = kvio_as_find(as, last);
		if (map && map->last > last)
			goto range;
	}
	/* A guest's UNMAP of everything may remove 2^20 maps. */
	while ((map = kvio_as_first(as, start, last))) {
		kvio_as_remove(as, map);
		n++;
		cond_resched();
	}
	mutex_unlock(&as->lock);
	return n;

range:
	mutex_unlock(&as->lock);
	return -ERANGE;
}
EXPORT_SYMBOL_GPL(kvio_as_unmap);

/**
 * kvio_as_clear() - remove every map
 * @as: the space
 *
 * Context: process context, may sleep; takes as->lock.
 */
void kvio_as_clear(struct kvio_as *as)
{
	struct kvio_as_entry *map, *tmp;

	mutex_lock(&as->lock);
	list_for_each_entry_safe(map, tmp, &as->maps, link) {
		kvio_as_remove(as, map);
		cond_resched();
	}
	mutex_unlock(&as->lock);
}
EXPORT_SYMBOL_GPL(kvio_as_clear);

/**
 * kvio_as_notifier_register() - hear of every later map and unmap
 * @as: the space
 * @nb: the notifier, its callbacks set
 *
 * Context: process context; takes as->lock.
 */
void kvio_as_notifier_register(struct kvio_as *as,
			       struct kvio_as_notifier *nb)
{
	mutex_lock(&as->lock);
	list_add_tail(&nb->link, &as->notifiers);
	mutex_unlock(&as->lock);
}
EXPORT_SYMBOL_GPL(kvio_as_notifier_register);

/**
 * kvio_as_notifier_unregister() - stop hearing; no callback runs after it
 * @as: the space
 * @nb: a registered notifier
 *
 * Context: process context; takes as->lock.
 */
void kvio_as_notifier_unregister(struct kvio_as *as,
				 struct kvio_as_notifier *nb)
{
	mutex_lock(&as->lock);
	list_del(&nb->link);
	mutex_unlock(&as->lock);
}
EXPORT_SYMBOL_GPL(kvio_as_notifier_unregister);

/**
 * kvio_as_lookup() - copy out the map holding @addr
 * @as: the space
 * @addr: the address
 * @out: receives the map's fields (not its private ones)
 *
 * Context: any; lock-free (RCU).
 * Return: whether a map holds @addr.
 */
bool kvio_as_lookup(struct kvio_as *as, u64 addr, struct kvio_as_entry *out)
{
	struct kvio_as_entry *map;

	rcu_read_lock();
	map = kvio_as_find(as, addr);
	if (map) {
		out->start = map->start;
		out->last = map->last;
		out->addr = map->addr;
		out->perm = map->perm;
		out->opaque = map->opaque;
	}
	rcu_read_unlock();
	return map;
}
EXPORT_SYMBOL_GPL(kvio_as_lookup);

/**
 * kvio_as_for_each() - call @fn for each map intersecting [@start, @last]
 * @as: the space
 * @start: first address
 * @last: last address, inclusive
 * @fn: called in address order with as->lock held; a non-zero return
 *	stops the walk and is returned
 * @arg: for @fn
 *
 * Context: process context; takes as->lock.
 * Return: 0 or @fn's first non-zero return.
 */
int kvio_as_for_each(struct kvio_as *as, u64 start, u64 last,
		     int (*fn)(const struct kvio_as_entry *map, void *arg),
		     void *arg)
{
	struct kvio_as_entry *map;
	int ret = 0;

	if (last < start)
		return 0;
	mutex_lock(&as->lock);
	for (map = kvio_as_first(as, start, last);
	     map && map->start <= last; map = kvio_as_next(as, map)) {
		ret = fn(map, arg);
		if (ret)
			break;
	}
	mutex_unlock(&as->lock);
	return ret;
}
EXPORT_SYMBOL_GPL(kvio_as_for_each);

/**
 * kvio_as_translate() - the longest piece of user memory at @addr
 * @iova: the first stage, or NULL when addresses are guest-physical
 * @mem: the memory table, GPA -> HVA (a KVIO_AS_OUT_GPA @iova's second
 *	stage; unused after a first stage that gives user addresses)
 * @addr: the address to translate
 * @last: the last address of interest, inclusive (>= @addr)
 * @perm: the access, KVIO_PERM_RO or KVIO_PERM_WO
 * @piece: receives [@addr, piece->last] -> piece->hva and the first
 *	stage's opaque pointer (the memory table's without one)
 *
 * Context: any; lock-free (RCU).
 * Return: 0; -ENOENT if no first-stage map holds @addr; -EACCES if it lacks
 * @perm; -EFAULT if the memory table has no region at the address it gives.
 */
int kvio_as_translate(struct kvio_as *iova, struct kvio_as *mem, u64 addr,
		      u64 last, u32 perm, struct kvio_piece *piece)
{
	struct kvio_as_entry *map;
	int ret = 0;
	u64 gpa;

	rcu_read_lock();
	if (iova) {
		map = kvio_as_find(iova, addr);
		if (unlikely(!map)) {
			ret = -ENOENT;
			goto out;
		}
		if (unlikely((map->perm & perm) != perm)) {
			ret = -EACCES;
			goto out;
		}
		last = min(map->last, last);
		piece->opaque = map->opaque;
		if (!(iova->flags & KVIO_AS_OUT_GPA)) {
			piece->last = last;
			piece->hva = map->addr + (addr - map->start);
			goto out;
		}
		gpa = map->addr + (addr - map->start);
		/* Clamp to the first stage's piece, in GPA terms. */
		last = gpa + (last - addr);
	} else {
		gpa = addr;
	}
	map = mem ? kvio_as_find(mem, gpa) : NULL;
	if (unlikely(!map || (map->perm & perm) != perm)) {
		ret = -EFAULT;
		goto out;
	}
	if (!iova)
		piece->opaque = map->opaque;
	piece->last = addr + (min(map->last, last) - gpa);
	piece->hva = map->addr + (gpa - map->start);
out:
	rcu_read_unlock();
	return ret;
}
EXPORT_SYMBOL_GPL(kvio_as_translate);
