// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_vfio: a VFIO IOMMU backend whose host IOMMU domain mirrors a
 * kvio_iommu domain, so a guest's virtio-iommu MAP and UNMAP reach the host
 * IOMMU of an assigned device without a trip through the VMM.
 *
 * A VMM selects it on a container with VFIO_SET_IOMMU(KVIO_VFIO_IOMMU); the
 * container's groups are attached to one host IOMMU domain of ours.  Then
 * KVIO_IOMMU_BIND with one of the groups' fds makes the container a vIOMMU
 * endpoint's shadow (include/kvio/shadow.h): every map of the space the
 * endpoint translates through (its domain; in bypass the identity, that is
 * all of guest memory) is looked up in the vIOMMU's memory table (GPA ->
 * the VMM's address), pinned (FOLL_LONGTERM, charged to the VMM's
 * mm->pinned_vm against its RLIMIT_MEMLOCK, as vhost-vdpa does) and mapped
 * with one iommu_map_sg() per batch of pinned pages (one host IOTLB sync
 * for it), each physically contiguous run mapped with the largest page
 * sizes the host IOMMU has.  An unmap takes the runs out with iommu_unmap_fast() into one
 * gather; the vIOMMU's flush at the end of the batch syncs the host IOTLB
 * once and only then unpins, so no page is given back while the device
 * may still reach it.
 *
 * Lock order: VFIO's group and container locks -> kvio_vfio_list_lock ->
 * vf->lock; the vIOMMU's iommu->lock -> a domain's as->lock -> the memory
 * table's as->lock -> vf->lock -> mmap_lock.  vf->space and vf->mem change
 * only in set_space(), which the vIOMMU serialises with its iommu->lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/interval_tree.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/vfio.h>
#include <linux/virtio_iommu.h>

#include <kvio/as.h>
#include <kvio/compat-iommu.h>
#include <kvio/shadow.h>
#include <uapi/linux/kvio.h>

#include "backend.h"

/* Pages pinned per pin_user_pages_remote() call: one page of pointers. */
#define KVIO_VFIO_PIN_BATCH	(PAGE_SIZE / sizeof(struct page *))

struct kvio_vfio_group {
	struct iommu_group *group;
	struct list_head link;
};

/* A device of the container with an open fd (register_device). */
struct kvio_vfio_device {
	struct vfio_device *vdev;
	struct list_head link;
};

/* Pinned, physically contiguous pages mapped in the host IOMMU. */
struct kvio_vfio_run {
	struct interval_tree_node it;	/* IOVA [start, last] */
	unsigned long pfn;		/* of the page at it.start */
	bool write;			/* pinned for writing: dirty at unpin */
	struct list_head link;		/* on vf->unpin once unmapped */
};

/* A container under kvio's IOMMU, and the shadow it becomes once bound. */
struct kvio_vfio {
	struct kref ref;		/* the container's, the binding's */
	struct list_head link;		/* kvio_vfio_list, until released */
	struct mutex lock;		/* everything below but space, mem */
	struct list_head groups;	/* struct kvio_vfio_group */
	struct list_head devices;	/* struct kvio_vfio_device */
	struct iommu_domain *domain;	/* with the first group, to release */
	struct list_head resv;		/* the groups' reserved regions */
	bool coherent;			/* enforce_cache_coherency() held */
	bool released;

	struct kvio_shadow shadow;
	struct kvio_as_notifier nb;
	bool bound;
	struct kvio_as *space;		/* mirrored, notifier registered */
	struct kvio_as *mem;		/* GPA -> the VMM's addresses */
	struct mm_struct *mm;		/* the binder's, grabbed */
	struct task_struct *task;	/* its leader: RLIMIT_MEMLOCK */
	struct rb_root_cached runs;	/* struct kvio_vfio_run by IOVA */
	struct list_head unpin;		/* unmapped runs, before the sync */
	struct iommu_iotlb_gather gather;
	unsigned long pinned;		/* pages charged to mm->pinned_vm */
	struct page **pages;		/* one page of them: a pinning batch */
};

static DEFINE_MUTEX(kvio_vfio_list_lock);
static LIST_HEAD(kvio_vfio_list);

static void kvio_vfio_free(struct kref *ref)
{
	struct kvio_vfio *vf = container_of(ref, struct kvio_vfio, ref);

	free_page((unsigned long)vf->pages);
	kfree(vf);
}

/* Host mappings: vf->lock held. */

static u64 kvio_vfio_run_bytes(const struct kvio_vfio_run *run)
{
	return run->it.last - run->it.start + 1;
}

/* Runs in [@start, @last] out of the host IOMMU, unpinned at the flush. */
static void kvio_vfio_unmap(struct kvio_vfio *vf, u64 start, u64 last)
{
	struct interval_tree_node *it;
	struct kvio_vfio_run *run;

	lockdep_assert_held(&vf->lock);
	while ((it = interval_tree_iter_first(&vf->runs, start, last))) {
		run = container_of(it, struct kvio_vfio_run, it);
		interval_tree_remove(it, &vf->runs);
		iommu_unmap_fast(vf->domain, run->it.start,
				 kvio_vfio_run_bytes(run), &vf->gather);
		list_add_tail(&run->link, &vf->unpin);
		cond_resched();
	}
}

/* The host IOTLB synced once for every unmap since the last flush. */
static void kvio_vfio_flush_locked(struct kvio_vfio *vf)
{
	struct kvio_vfio_run *run, *tmp;
	unsigned long npages;

	lockdep_assert_held(&vf->lock);
	if (list_empty(&vf->unpin))
		return;
	iommu_iotlb_sync(vf->domain, &vf->gather);
	iommu_iotlb_gather_init(&vf->gather);
	list_for_each_entry_safe(run, tmp, &vf->unpin, link) {
		npages = kvio_vfio_run_bytes(run) >> PAGE_SHIFT;
		unpin_user_page_range_dirty_lock(pfn_to_page(run->pfn), npages,
						 run->write);
		atomic64_sub(npages, &vf->mm->pinned_vm);
		vf->pinned -= npages;
		list_del(&run->link);
		kfree(run);
	}
}

static void kvio_vfio_unpin_pages(struct kvio_vfio *vf, struct page **pages,
				  unsigned long n, bool write)
{
	unpin_user_pages_dirty_lock(pages, n, write);
	atomic64_sub(n, &vf->mm->pinned_vm);
	vf->pinned -= n;
}

/*
 * Maps @n pinned @pages at @iova: one iommu_map_sg() for all of them, so
 * the host IOTLB is synced once for the lot (a caching-mode IOMMU, an
 * emulated one, is told of every sync), however scattered the pages are;
 * each physically contiguous run becomes a struct kvio_vfio_run (the
 * unpin's unit).  On error nothing of them is mapped and the caller
 * unpins them.
 */
static int kvio_vfio_map_pages(struct kvio_vfio *vf, u64 iova,
			       struct page **pages, unsigned long n,
			       bool write, int prot)
{
	struct kvio_vfio_run *run, *tmp;
	struct sg_table sgt;
	unsigned long i, j;
	LIST_HEAD(runs);
	ssize_t mapped;
	int ret;

	for (i = 0; i < n; i = j) {
		unsigned long pfn = page_to_pfn(pages[i]);

		for (j = i + 1; j < n; j++)
			if (page_to_pfn(pages[j]) != pfn + (j - i))
				break;
		run = kzalloc(sizeof(*run), GFP_KERNEL_ACCOUNT);
		if (!run) {
			ret = -ENOMEM;
			goto err;
		}
		run->it.start = iova + (i << PAGE_SHIFT);
		run->it.last = iova + (j << PAGE_SHIFT) - 1;
		run->pfn = pfn;
		run->write = write;
		list_add_tail(&run->link, &runs);
	}
	ret = sg_alloc_table_from_pages(&sgt, pages, n, 0, n << PAGE_SHIFT,
					GFP_KERNEL);
	if (ret)
		goto err;
	mapped = kvio_iommu_map_sg(vf->domain, iova, sgt.sgl, sgt.orig_nents,
				   prot);
	sg_free_table(&sgt);
	if (mapped != (ssize_t)(n << PAGE_SHIFT)) {
		/* iommu_map_sg() undid what it had mapped. */
		ret = mapped < 0 ? mapped : -ENOMEM;
		goto err;
	}
	list_for_each_entry_safe(run, tmp, &runs, link) {
		list_del(&run->link);
		interval_tree_insert(&run->it, &vf->runs);
	}
	return 0;
err:
	list_for_each_entry_safe(run, tmp, &runs, link)
		kfree(run);
	return ret;
}

/*
 * Pins @npages of the VMM's memory from @hva and maps them at @iova with
 * @perm (KVIO_PERM_*).  On error what this call mapped stays in vf->runs
 * for the caller to take out.
 */
static int kvio_vfio_pin_map(struct kvio_vfio *vf, u64 iova, u64 hva,
			     unsigned long npages, u32 perm)
{
	unsigned int gup_flags = FOLL_LONGTERM;
	struct page **pages = vf->pages;
	int prot = IOMMU_CACHE;
	unsigned long limit, n;
	bool write = false;
	long pinned;
	int ret = 0;

	lockdep_assert_held(&vf->lock);
	if (perm & KVIO_PERM_RO)
		prot |= IOMMU_READ;
	if (perm & KVIO_PERM_WO) {
		prot |= IOMMU_WRITE;
		gup_flags |= FOLL_WRITE;
		write = true;
	}
	if (!mmget_not_zero(vf->mm))
		return -ENOMEM;
	limit = task_rlimit(vf->task, RLIMIT_MEMLOCK) >> PAGE_SHIFT;

	while (npages) {
		n = min_t(unsigned long, npages, KVIO_VFIO_PIN_BATCH);
		if (atomic64_read(&vf->mm->pinned_vm) + n > limit) {
			ret = -ENOMEM;
			break;
		}
		mmap_read_lock(vf->mm);
		pinned = kvio_pin_user_pages_remote(vf->mm, hva, n, gup_flags,
						    pages);
		mmap_read_unlock(vf->mm);
		if (pinned <= 0) {
			ret = pinned ? pinned : -EFAULT;
			break;
		}
		n = pinned;
		atomic64_add(n, &vf->mm->pinned_vm);
		vf->pinned += n;
		ret = kvio_vfio_map_pages(vf, iova, pages, n, write, prot);
		if (ret) {
			kvio_vfio_unpin_pages(vf, pages, n, write);
			break;
		}
		hva += n << PAGE_SHIFT;
		iova += n << PAGE_SHIFT;
		npages -= n;
		cond_resched();
	}
	mmput(vf->mm);
	return ret;
}

/* Guest maps. */

struct kvio_vfio_walk {
	struct kvio_vfio *vf;
	const struct kvio_as_entry *map;	/* IOVA -> GPA */
	u64 gpa_last;
};

static bool kvio_vfio_reserved(struct kvio_vfio *vf, u64 start, u64 last)
{
	struct iommu_resv_region *r;

	list_for_each_entry(r, &vf->resv, list)
		if (start <= r->start + r->length - 1 && r->start <= last)
			return true;
	return false;
}

/* One memory-table region under (part of) a map: mem's as->lock held. */
static int kvio_vfio_map_region(const struct kvio_as_entry *region, void *arg)
{
	struct kvio_vfio_walk *w = arg;
	const struct kvio_as_entry *map = w->map;
	u64 first = max(region->start, map->addr);
	u64 last = min(region->last, w->gpa_last);
	u64 hva = region->addr + (first - region->start);
	u64 iova = map->start + (first - map->addr);
	u64 bytes = last - first + 1;
	int ret;

	/* The host maps pages: a VMM's table of odd sizes is refused. */
	if (!PAGE_ALIGNED(hva) || !PAGE_ALIGNED(iova) ||
	    !PAGE_ALIGNED(bytes) || !bytes)
		return -EINVAL;
	/* The memory table must allow what the device may do. */
	if ((region->perm & map->perm) != map->perm)
		return -EPERM;
	mutex_lock(&w->vf->lock);
	if (!w->vf->domain)
		ret = 0;
	/* The host's reserved regions (MSI window, RMRRs) stay its own. */
	else if (kvio_vfio_reserved(w->vf, iova, iova + bytes - 1))
		ret = -EPERM;
	else
		ret = kvio_vfio_pin_map(w->vf, iova, hva, bytes >> PAGE_SHIFT,
					map->perm);
	mutex_unlock(&w->vf->lock);
	return ret;
}

/*
 * Mirrors one map of the space: the parts of its GPA range the memory
 * table holds (a GPA outside guest RAM has nothing to pin: the device
 * faults there).  On error nothing of it stays mapped or pinned.
 */
static int kvio_vfio_map(struct kvio_vfio *vf, const struct kvio_as_entry *map)
{
	struct kvio_vfio_walk w = {
		.vf = vf,
		.map = map,
		.gpa_last = map->addr + (map->last - map->start),
	};
	int ret;

	if (!vf->mem)
		return 0;
	ret = kvio_as_for_each(vf->mem, map->addr, w.gpa_last,
			       kvio_vfio_map_region, &w);
	if (ret) {
		mutex_lock(&vf->lock);
		if (vf->domain) {
			kvio_vfio_unmap(vf, map->start, map->last);
			kvio_vfio_flush_locked(vf);
		}
		mutex_unlock(&vf->lock);
	}
	return ret;
}

static int kvio_vfio_replay(const struct kvio_as_entry *map, void *arg)
{
	return kvio_vfio_map(arg, map);
}

static int kvio_vfio_nb_map(struct kvio_as_notifier *nb,
			    const struct kvio_as_entry *map)
{
	return kvio_vfio_map(container_of(nb, struct kvio_vfio, nb), map);
}

/* Out of the host IOMMU now, unpinned at the vIOMMU's flush. */
static void kvio_vfio_nb_unmap(struct kvio_as_notifier *nb,
			       const struct kvio_as_entry *map)
{
	struct kvio_vfio *vf = container_of(nb, struct kvio_vfio, nb);

	mutex_lock(&vf->lock);
	if (vf->domain)
		kvio_vfio_unmap(vf, map->start, map->last);
	mutex_unlock(&vf->lock);
}

/* The shadow (include/kvio/shadow.h). */

static struct kvio_vfio *to_vf(struct kvio_shadow *sh)
{
	return container_of(sh, struct kvio_vfio, shadow);
}

/* Drops every host mapping, synced and unpinned; forgets the spaces. */
static void kvio_vfio_drop_space(struct kvio_vfio *vf)
{
	if (vf->space) {
		kvio_as_notifier_unregister(vf->space, &vf->nb);
		kvio_as_put(vf->space);
		vf->space = NULL;
	}
	mutex_lock(&vf->lock);
	if (vf->domain) {
		kvio_vfio_unmap(vf, 0, ULONG_MAX);
		kvio_vfio_flush_locked(vf);
	}
	mutex_unlock(&vf->lock);
	if (vf->mem) {
		kvio_as_put(vf->mem);
		vf->mem = NULL;
	}
}

static int kvio_vfio_set_space(struct kvio_shadow *sh, struct kvio_as *space,
			       struct kvio_as *mem)
{
	struct kvio_vfio *vf = to_vf(sh);
	int ret;

	kvio_vfio_drop_space(vf);
	if (!space)
		return 0;
	/* Guest-physical addresses mean nothing without the table. */
	if (!mem)
		return -EINVAL;
	kvio_as_get(mem);
	vf->mem = mem;
	/*
	 * The vIOMMU holds its iommu->lock: nothing maps or unmaps in
	 * @space between the replay and the notifier's registration.
	 */
	ret = kvio_as_for_each(space, 0, U64_MAX, kvio_vfio_replay, vf);
	if (ret) {
		kvio_vfio_drop_space(vf);
		return ret;
	}
	kvio_as_get(space);
	kvio_as_notifier_register(space, &vf->nb);
	vf->space = space;
	return 0;
}

static void kvio_vfio_flush(struct kvio_shadow *sh)
{
	struct kvio_vfio *vf = to_vf(sh);

	mutex_lock(&vf->lock);
	kvio_vfio_flush_locked(vf);
	mutex_unlock(&vf->lock);
}

static void kvio_vfio_put(struct kvio_shadow *sh)
{
	struct kvio_vfio *vf = to_vf(sh);

	kvio_vfio_drop_space(vf);
	mutex_lock(&vf->lock);
	vf->bound = false;
	mmdrop(vf->mm);
	vf->mm = NULL;
	put_task_struct(vf->task);
	vf->task = NULL;
	mutex_unlock(&vf->lock);
	kref_put(&vf->ref, kvio_vfio_free);
}

static unsigned int kvio_vfio_resv(struct kvio_shadow *sh,
				   struct kvio_iommu_resv *out,
				   unsigned int max)
{
	struct kvio_vfio *vf = to_vf(sh);
	struct iommu_resv_region *r;
	unsigned int n = 0;

	mutex_lock(&vf->lock);
	list_for_each_entry(r, &vf->resv, list) {
		if (n == max)
			break;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].start = r->start;
		out[n].end = r->start + r->length - 1;
		out[n].subtype = r->type == IOMMU_RESV_MSI ||
				 r->type == IOMMU_RESV_SW_MSI ?
				 VIRTIO_IOMMU_RESV_MEM_T_MSI :
				 VIRTIO_IOMMU_RESV_MEM_T_RESERVED;
		n++;
	}
	mutex_unlock(&vf->lock);
	return n;
}

static const struct kvio_shadow_ops kvio_vfio_shadow_ops = {
	.set_space = kvio_vfio_set_space,
	.flush = kvio_vfio_flush,
	.put = kvio_vfio_put,
	.resv = kvio_vfio_resv,
};

/*
 * Whether @file is the group of one of the container's open devices: VFIO
 * exports no way to ask a group file its IOMMU group (but on SPAPR), only
 * whether it holds a given device.
 */
static bool kvio_vfio_has_group(struct kvio_vfio *vf, struct file *file)
{
	struct kvio_vfio_device *d;

	list_for_each_entry(d, &vf->devices, link)
		if (vfio_file_has_dev(file, d->vdev))
			return true;
	return false;
}

/*
 * KVIO_IOMMU_BIND with a VFIO group's fd (one of its devices opened): its
 * container's shadow.
 */
static struct kvio_shadow *kvio_vfio_shadow_get(struct file *file)
{
	struct kvio_vfio *vf, *found = NULL;
	int ret = -EINVAL;

	if (!vfio_file_is_group(file))
		return ERR_PTR(-ENOTTY);
	mutex_lock(&kvio_vfio_list_lock);
	list_for_each_entry(vf, &kvio_vfio_list, link) {
		mutex_lock(&vf->lock);
		if (kvio_vfio_has_group(vf, file)) {
			if (vf->bound) {
				ret = -EBUSY;
			} else {
				vf->bound = true;
				mmgrab(current->mm);
				vf->mm = current->mm;
				vf->task = get_task_struct(current->group_leader);
				kref_get(&vf->ref);
				found = vf;
			}
		}
		mutex_unlock(&vf->lock);
		if (found || ret == -EBUSY)
			break;
	}
	mutex_unlock(&kvio_vfio_list_lock);
	/* -EINVAL: no open device of the group in a container of ours. */
	return found ? &found->shadow : ERR_PTR(ret);
}

static struct kvio_shadow_provider kvio_vfio_provider = {
	.get = kvio_vfio_shadow_get,
	.owner = THIS_MODULE,
};

/* The VFIO IOMMU backend. */

static void *kvio_vfio_open(unsigned long arg)
{
	struct kvio_vfio *vf;

	if (arg != KVIO_VFIO_IOMMU)
		return ERR_PTR(-EINVAL);
	vf = kzalloc(sizeof(*vf), GFP_KERNEL_ACCOUNT);
	if (!vf)
		return ERR_PTR(-ENOMEM);
	/* Every MAP pins through it, vf->lock held: allocated once. */
	vf->pages = (struct page **)__get_free_page(GFP_KERNEL_ACCOUNT);
	if (!vf->pages) {
		kfree(vf);
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&vf->ref);
	mutex_init(&vf->lock);
	INIT_LIST_HEAD(&vf->groups);
	INIT_LIST_HEAD(&vf->devices);
	INIT_LIST_HEAD(&vf->resv);
	INIT_LIST_HEAD(&vf->unpin);
	vf->runs = RB_ROOT_CACHED;
	iommu_iotlb_gather_init(&vf->gather);
	vf->shadow.ops = &kvio_vfio_shadow_ops;
	vf->nb.map = kvio_vfio_nb_map;
	vf->nb.unmap = kvio_vfio_nb_unmap;
	mutex_lock(&kvio_vfio_list_lock);
	list_add_tail(&vf->link, &kvio_vfio_list);
	mutex_unlock(&kvio_vfio_list_lock);
	return vf;
}

/*
 * The container's last group left: every host mapping goes (synced,
 * unpinned) with the domain.  A binding may outlive it; its shadow then
 * mirrors into nothing.
 */
static void kvio_vfio_release(void *data)
{
	struct kvio_vfio *vf = data;
	struct kvio_vfio_device *d, *dtmp;
	struct iommu_resv_region *r, *tmp;

	mutex_lock(&kvio_vfio_list_lock);
	list_del_init(&vf->link);
	mutex_unlock(&kvio_vfio_list_lock);
	mutex_lock(&vf->lock);
	if (vf->domain) {
		kvio_vfio_unmap(vf, 0, ULONG_MAX);
		kvio_vfio_flush_locked(vf);
		iommu_domain_free(vf->domain);
		vf->domain = NULL;
	}
	list_for_each_entry_safe(r, tmp, &vf->resv, list) {
		list_del(&r->list);
		kfree(r);
	}
	/* Devices close before their group leaves: nothing is left here. */
	list_for_each_entry_safe(d, dtmp, &vf->devices, link) {
		list_del(&d->link);
		kfree(d);
	}
	vf->released = true;
	mutex_unlock(&vf->lock);
	kref_put(&vf->ref, kvio_vfio_free);
}

static long kvio_vfio_ioctl(void *data, unsigned int cmd, unsigned long arg)
{
	struct kvio_vfio *vf = data;
	long ret;

	if (cmd != VFIO_CHECK_EXTENSION)
		return -ENOTTY;
	switch (arg) {
	case KVIO_VFIO_IOMMU:
		return 1;
	case VFIO_DMA_CC_IOMMU:
		/* Asked with no container (NULL) as well. */
		if (!vf)
			return 0;
		mutex_lock(&vf->lock);
		ret = vf->coherent;
		mutex_unlock(&vf->lock);
		return ret;
	default:
		return 0;
	}
}

static int kvio_vfio_first_dev(struct device *dev, void *data)
{
	*(struct device **)data = dev;
	return 1;
}

/* The domain, for the container's first group. */
static int kvio_vfio_domain_new(struct kvio_vfio *vf, struct iommu_group *group)
{
	struct iommu_domain *domain;
	struct device *dev = NULL;
	int ret;

	iommu_group_for_each_dev(group, &dev, kvio_vfio_first_dev);
	if (!dev)
		return -ENODEV;
	/* As type1 without allow_unsafe_interrupts: no forged MSIs. */
	if (!kvio_iommu_group_msi_isolated(group)) {
		pr_warn_ratelimited("%s: no interrupt remapping, refused\n",
				    dev_name(dev));
		return -EPERM;
	}
	domain = kvio_iommu_domain_alloc(dev);
	if (IS_ERR(domain))
		return PTR_ERR(domain);
	/* Guest pages are mapped one host page at a time at least. */
	if (!(domain->pgsize_bitmap & (PAGE_SIZE | (PAGE_SIZE - 1)))) {
		ret = -EINVAL;
		goto err;
	}
	ret = iommu_attach_group(domain, group);
	if (ret)
		goto err;
	if (domain->ops->enforce_cache_coherency)
		vf->coherent = domain->ops->enforce_cache_coherency(domain);
	vf->domain = domain;
	return 0;
err:
	iommu_domain_free(domain);
	return ret;
}

static int kvio_vfio_attach_group(void *data, struct iommu_group *group,
				  enum vfio_group_type type)
{
	struct kvio_vfio *vf = data;
	struct kvio_vfio_group *g;
	bool fresh;
	int ret;

	/* mdev devices DMA through pin_pages(), which this backend lacks. */
	if (type != VFIO_IOMMU)
		return -EINVAL;
	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g)
		return -ENOMEM;
	g->group = group;
	mutex_lock(&vf->lock);
	fresh = !vf->domain;
	ret = fresh ? kvio_vfio_domain_new(vf, group) :
		      iommu_attach_group(vf->domain, group);
	if (ret)
		goto err;
	ret = iommu_get_group_resv_regions(group, &vf->resv);
	if (ret) {
		iommu_detach_group(vf->domain, group);
		if (fresh) {
			iommu_domain_free(vf->domain);
			vf->domain = NULL;
			vf->coherent = false;
		}
		goto err;
	}
	list_add_tail(&g->link, &vf->groups);
	mutex_unlock(&vf->lock);
	return 0;
err:
	mutex_unlock(&vf->lock);
	kfree(g);
	return ret;
}

static void kvio_vfio_detach_group(void *data, struct iommu_group *group)
{
	struct kvio_vfio *vf = data;
	struct kvio_vfio_group *g;

	mutex_lock(&vf->lock);
	list_for_each_entry(g, &vf->groups, link) {
		if (g->group != group)
			continue;
		iommu_detach_group(vf->domain, group);
		list_del(&g->link);
		kfree(g);
		break;
	}
	mutex_unlock(&vf->lock);
}

static void kvio_vfio_register_device(void *data, struct vfio_device *vdev)
{
	struct kvio_vfio *vf = data;
	struct kvio_vfio_device *d;

	/* Without it the device's group cannot be bound: BIND says EINVAL. */
	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d)
		return;
	d->vdev = vdev;
	mutex_lock(&vf->lock);
	list_add_tail(&d->link, &vf->devices);
	mutex_unlock(&vf->lock);
}

static void kvio_vfio_unregister_device(void *data, struct vfio_device *vdev)
{
	struct kvio_vfio *vf = data;
	struct kvio_vfio_device *d;

	mutex_lock(&vf->lock);
	list_for_each_entry(d, &vf->devices, link) {
		if (d->vdev == vdev) {
			list_del(&d->link);
			kfree(d);
			break;
		}
	}
	mutex_unlock(&vf->lock);
}

static const struct vfio_iommu_driver_ops kvio_vfio_ops = {
	.name		= "kvio-vfio",
	.owner		= THIS_MODULE,
	.open		= kvio_vfio_open,
	.release	= kvio_vfio_release,
	.ioctl		= kvio_vfio_ioctl,
	.attach_group	= kvio_vfio_attach_group,
	.detach_group	= kvio_vfio_detach_group,
	.register_device = kvio_vfio_register_device,
	.unregister_device = kvio_vfio_unregister_device,
};

static int __init kvio_vfio_init(void)
{
	int ret;

	ret = vfio_register_iommu_driver(&kvio_vfio_ops);
	if (ret)
		return ret;
	kvio_shadow_provider_register(&kvio_vfio_provider);
	return 0;
}
module_init(kvio_vfio_init);

static void __exit kvio_vfio_exit(void)
{
	kvio_shadow_provider_unregister(&kvio_vfio_provider);
	vfio_unregister_iommu_driver(&kvio_vfio_ops);
}
module_exit(kvio_vfio_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(KVIO_VERSION);
MODULE_DESCRIPTION("kvio: guest virtio-iommu mappings shadowed into the host IOMMU for VFIO devices");
