// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_iommu: /dev/kvio-iommu, the virtio-iommu device served in the kernel.
 *
 * This file is the device node and its own ioctls (configuration, reserved
 * regions, endpoints); req.c serves the request queue.  See
 * Documentation/iommu.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "iommu.h"

/*
 * Lockdep classes of our own for the vIOMMU's device and ring mutexes: it
 * takes an endpoint device's dev->mutex and ring mutexes (switching its
 * domain, waiting out its handlers) while holding its own, which would
 * otherwise look like recursion in the one class every kvio device's
 * mutexes share.  The order is iommu -> endpoint, never back (iommu.h).
 */
static struct lock_class_key kvio_iommu_dev_key;
static struct lock_class_key kvio_iommu_vq_key;

static struct kvio_driver kvio_iommu_driver;

static const struct kvio_iommu_resv kvio_iommu_msi = {
	.start = KVIO_IOMMU_MSI_START,
	.end = KVIO_IOMMU_MSI_END,
	.subtype = VIRTIO_IOMMU_RESV_MEM_T_MSI,
};

/* The configuration in force, 0 fields resolved; -EINVAL if unusable. */
static int kvio_iommu_resolve(const struct kvio_iommu_config *in,
			      unsigned int nresv, struct kvio_iommu_config *out)
{
	*out = *in;
	if (in->version != KVIO_IOMMU_CONFIG_VERSION || in->flags ||
	    memchr_inv(in->reserved, 0, sizeof(in->reserved)) ||
	    in->bypass > 1)
		return -EINVAL;
	if (!out->page_size_mask)
		out->page_size_mask = SZ_4K;
	/* The granule, the lowest page size, is at least 4 KiB. */
	if (out->page_size_mask & (SZ_4K - 1))
		return -EINVAL;
	if (!out->input_start && !out->input_end)
		out->input_end = U64_MAX;
	if (!out->domain_start && !out->domain_end)
		out->domain_end = U32_MAX;
	if (!out->probe_size)
		out->probe_size = KVIO_IOMMU_PROBE_SIZE;
	if (!out->max_mappings)
		out->max_mappings = KVIO_IOMMU_MAPPINGS;
	if (out->input_start > out->input_end ||
	    out->domain_start > out->domain_end ||
	    out->probe_size > KVIO_IOMMU_PROBE_SIZE_MAX ||
	    out->probe_size < nresv * KVIO_IOMMU_RESV_PROP ||
	    out->max_mappings > KVIO_IOMMU_MAPPINGS_MAX)
		return -EINVAL;
	return 0;
}

static void kvio_iommu_config_default(struct kvio_iommu *iommu)
{
	struct kvio_iommu_config cfg = {
		.version = KVIO_IOMMU_CONFIG_VERSION,
	};

	kvio_iommu_resolve(&cfg, 1, &iommu->cfg);
	iommu->granule = SZ_4K;
}

static long kvio_iommu_set_config(struct kvio_iommu *iommu,
				  void __user *argp)
{
	struct kvio_iommu_config cfg, resolved;
	long ret;

	if (copy_from_user(&cfg, argp, sizeof(cfg)))
		return -EFAULT;
	mutex_lock(&iommu->lock);
	ret = kvio_iommu_resolve(&cfg, iommu->nresv, &resolved);
	if (!ret) {
		struct kvio_iommu_ep *ep;
		unsigned long id;

		/* Domains keep the mapping limit they were created with. */
		iommu->cfg = resolved;
		iommu->granule = 1ULL << __ffs64(resolved.page_size_mask);
		/* bypass decides what unattached endpoints see. */
		xa_for_each(&iommu->endpoints, id, ep)
			kvio_iommu_ep_sync(iommu, ep);
	}
	mutex_unlock(&iommu->lock);
	return ret;
}

static long kvio_iommu_get_config(struct kvio_iommu *iommu,
				  void __user *argp)
{
	struct kvio_iommu_config cfg;

	mutex_lock(&iommu->lock);
	cfg = iommu->cfg;
	mutex_unlock(&iommu->lock);
	return copy_to_user(argp, &cfg, sizeof(cfg)) ? -EFAULT : 0;
}

/* One more reserved region; iommu->lock held. */
static int kvio_iommu_resv_insert(struct kvio_iommu *iommu,
				  const struct kvio_iommu_resv *r)
{
	struct kvio_iommu_resv *resv;
	unsigned int i;

	lockdep_assert_held(&iommu->lock);
	/* PROBE reports every region in probe_size bytes. */
	if ((iommu->nresv + 1) * KVIO_IOMMU_RESV_PROP > iommu->cfg.probe_size)
		return -ENOSPC;
	/* No overlaps, one MSI region (5.13.6.8.2.2). */
	for (i = 0; i < iommu->nresv; i++) {
		if ((r->start <= iommu->resv[i].end &&
		     iommu->resv[i].start <= r->end) ||
		    (r->subtype == VIRTIO_IOMMU_RESV_MEM_T_MSI &&
		     iommu->resv[i].subtype == VIRTIO_IOMMU_RESV_MEM_T_MSI))
			return -EEXIST;
	}
	resv = krealloc_array(iommu->resv, iommu->nresv + 1, sizeof(*resv),
			      GFP_KERNEL_ACCOUNT);
	if (!resv)
		return -ENOMEM;
	resv[iommu->nresv++] = *r;
	iommu->resv = resv;
	return 0;
}

static long kvio_iommu_add_resv(struct kvio_iommu *iommu, void __user *argp)
{
	struct kvio_iommu_resv r;
	long ret;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	if ((r.subtype != VIRTIO_IOMMU_RESV_MEM_T_RESERVED &&
	     r.subtype != VIRTIO_IOMMU_RESV_MEM_T_MSI) ||
	    memchr_inv(r.reserved, 0, sizeof(r.reserved)) || r.start > r.end)
		return -EINVAL;

	mutex_lock(&iommu->lock);
	ret = kvio_iommu_resv_insert(iommu, &r);
	mutex_unlock(&iommu->lock);
	return ret;
}

/* Regions a host IOMMU shadow reserves, reported through PROBE. */
#define KVIO_IOMMU_SHADOW_RESV	16

/*
 * The shadow's host reserved regions join the vIOMMU's (for every
 * endpoint: the guest keeps off them everywhere, which costs it nothing).
 * One already covered (the x86 MSI window) or past probe_size is left out:
 * MAP over it is refused all the same, by the shadow.
 */
static void kvio_iommu_shadow_resv(struct kvio_iommu *iommu,
				   struct kvio_shadow *sh)
{
	struct kvio_iommu_resv *r;
	unsigned int i, n;

	r = kcalloc(KVIO_IOMMU_SHADOW_RESV, sizeof(*r), GFP_KERNEL);
	if (!r)
		return;
	n = sh->ops->resv(sh, r, KVIO_IOMMU_SHADOW_RESV);
	for (i = 0; i < n; i++)
		kvio_iommu_resv_insert(iommu, &r[i]);
	kfree(r);
}

/* Host IOMMU shadow providers (include/kvio/shadow.h). */

static DEFINE_MUTEX(kvio_shadow_lock);
static LIST_HEAD(kvio_shadow_providers);

/**
 * kvio_shadow_provider_register() - let KVIO_IOMMU_BIND accept @p's files
 * @p: the provider, @get and @owner set
 *
 * Context: process context; takes the providers' lock.
 */
void kvio_shadow_provider_register(struct kvio_shadow_provider *p)
{
	mutex_lock(&kvio_shadow_lock);
	list_add_tail(&p->link, &kvio_shadow_providers);
	mutex_unlock(&kvio_shadow_lock);
}
EXPORT_SYMBOL_GPL(kvio_shadow_provider_register);

/**
 * kvio_shadow_provider_unregister() - no more binds through @p
 * @p: a registered provider
 *
 * Shadows already bound keep @p's module (and themselves) until their
 * endpoint goes, so this is only called from the module's exit.
 *
 * Context: process context; takes the providers' lock.
 */
void kvio_shadow_provider_unregister(struct kvio_shadow_provider *p)
{
	mutex_lock(&kvio_shadow_lock);
	list_del(&p->link);
	mutex_unlock(&kvio_shadow_lock);
}
EXPORT_SYMBOL_GPL(kvio_shadow_provider_unregister);

/*
 * The shadow of a file some provider recognises, its module pinned in
 * *owner; ERR_PTR(-EINVAL) if none does.
 */
static struct kvio_shadow *kvio_shadow_get(struct file *file,
					   struct module **owner)
{
	struct kvio_shadow *sh = ERR_PTR(-EINVAL);
	struct kvio_shadow_provider *p;

	mutex_lock(&kvio_shadow_lock);
	list_for_each_entry(p, &kvio_shadow_providers, link) {
		if (!try_module_get(p->owner))
			continue;
		sh = p->get(file);
		if (!IS_ERR(sh)) {
			*owner = p->owner;
			break;
		}
		module_put(p->owner);
		if (PTR_ERR(sh) != -ENOTTY)
			break;
		sh = ERR_PTR(-EINVAL);
	}
	mutex_unlock(&kvio_shadow_lock);
	return sh;
}

/* Endpoints. */

static void kvio_iommu_ep_free(struct kvio_iommu *iommu,
			       struct kvio_iommu_ep *ep)
{
	struct kvio_iommu_ep_dev *d, *tmp;

	/*
	 * The devices go back to their own IOTLBs, then the domain may go;
	 * only then may another vIOMMU claim them.
	 */
	list_for_each_entry(d, &ep->devs, node) {
		struct kvio_dev *kdev = kvio_dev_from_file(d->file);

		kvio_dev_clear_viommu(kdev);
		kvio_dev_release_viommu(kdev);
	}
	/* A shadow unmaps and unpins everything it mirrored. */
	if (ep->shadow)
		ep->shadow->ops->set_space(ep->shadow, NULL, NULL);
	if (ep->domain)
		kvio_iommu_domain_put(iommu, ep->domain);
	ep->domain = NULL;
	xa_erase(&iommu->endpoints, ep->id);
	list_for_each_entry_safe(d, tmp, &ep->devs, node) {
		fput(d->file);
		kfree(d);
	}
	if (ep->shadow) {
		ep->shadow->ops->put(ep->shadow);
		module_put(ep->shadow_owner);
	}
	kfree(ep);
}

/*
 * Another kvio device for an endpoint that has kvio devices: it joins at
 * once the space the others translate through.  -EEXIST for an endpoint
 * of another kind (a shadow, or one bound with fd -1).
 */
static int kvio_iommu_ep_join(struct kvio_iommu *iommu,
			      struct kvio_iommu_ep *ep,
			      struct kvio_iommu_ep_dev *d)
{
	lockdep_assert_held(&iommu->lock);
	if (list_empty(&ep->devs))
		return -EEXIST;
	list_move_tail(&d->node, &ep->devs);
	kvio_dev_set_viommu(kvio_dev_from_file(d->file), ep->synced_as, ep);
	return 0;
}

/*
 * KVIO_IOMMU_BIND: a new endpoint with a kvio device, a file a shadow
 * provider knows, or nothing (fd -1); or one more kvio device for an
 * endpoint that has kvio devices.
 */
static long kvio_iommu_bind(struct kvio_iommu *iommu, void __user *argp)
{
	struct kvio_iommu_ep_dev *d = NULL;
	struct kvio_iommu_endpoint req;
	struct kvio_iommu_ep *ep, *other;
	struct file *file = NULL;
	long ret;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	ep = kzalloc(sizeof(*ep), GFP_KERNEL_ACCOUNT);
	if (!ep)
		return -ENOMEM;
	ep->id = req.endpoint;
	ep->iommu = iommu;
	INIT_LIST_HEAD(&ep->devs);
	if (req.fd != -1) {
		file = fget(req.fd);
		if (!file) {
			kfree(ep);
			return -EBADF;
		}
		/*
		 * A kvio device, and not a vIOMMU: two that took each other's
		 * locks could deadlock, and a vIOMMU does no DMA of its own.
		 * Else a file a shadow provider knows (a VFIO group under
		 * kvio_vfio's IOMMU), which it keeps track of itself.
		 */
		if (!kvio_dev_from_file(file)) {
			ep->shadow = kvio_shadow_get(file, &ep->shadow_owner);
			fput(file);
			file = NULL;
			if (IS_ERR(ep->shadow)) {
				ret = PTR_ERR(ep->shadow);
				kfree(ep);
				return ret;
			}
		} else if (kvio_dev_from_file(file)->driver ==
			   &kvio_iommu_driver) {
			ret = -EINVAL;
			goto err_free;
		} else {
			d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
			if (!d) {
				ret = -ENOMEM;
				goto err_free;
			}
			d->file = file;
			list_add(&d->node, &ep->devs);
		}
	}

	mutex_lock(&iommu->lock);
	/* One endpoint of one vIOMMU per device. */
	if (file && kvio_dev_claim_viommu(kvio_dev_from_file(file), iommu)) {
		ret = -EBUSY;
		goto err_unlock;
	}
	ret = xa_insert(&iommu->endpoints, ep->id, ep, GFP_KERNEL_ACCOUNT);
	if (ret == -EBUSY) {
		other = xa_load(&iommu->endpoints, ep->id);
		ret = d ? kvio_iommu_ep_join(iommu, other, d) : -EEXIST;
		if (!ret) {
			mutex_unlock(&iommu->lock);
			kfree(ep);
			return 0;
		}
	}
	if (ret) {
		if (file)
			kvio_dev_release_viommu(kvio_dev_from_file(file));
		goto err_unlock;
	}
	/* From now on the device's IOVAs are this endpoint's. */
	ret = kvio_iommu_ep_sync(iommu, ep);
	if (ret) {
		/*
		 * A shadow that cannot mirror the config's bypass, or with no
		 * memory table to find guest pages in.
		 */
		kvio_iommu_ep_free(iommu, ep);
		mutex_unlock(&iommu->lock);
		return ret;
	}
	if (ep->shadow)
		kvio_iommu_shadow_resv(iommu, ep->shadow);
	mutex_unlock(&iommu->lock);
	return 0;

err_unlock:
	mutex_unlock(&iommu->lock);
	if (ep->shadow) {
		ep->shadow->ops->put(ep->shadow);
		module_put(ep->shadow_owner);
	}
err_free:
	kfree(d);
	kfree(ep);
	if (file)
		fput(file);
	return ret;
}

static long kvio_iommu_unbind(struct kvio_iommu *iommu, void __user *argp)
{
	struct kvio_iommu_endpoint req;
	struct kvio_iommu_ep *ep;
	long ret = 0;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	mutex_lock(&iommu->lock);
	ep = xa_load(&iommu->endpoints, req.endpoint);
	if (ep)
		kvio_iommu_ep_free(iommu, ep);
	else
		ret = -ENOENT;
	mutex_unlock(&iommu->lock);
	return ret;
}

/* Device reset: no endpoint attached, no domain left (5.13.5). */
static void kvio_iommu_reset_domains(struct kvio_iommu *iommu)
{
	struct kvio_iommu_ep *ep;
	unsigned long id;

	mutex_lock(&iommu->lock);
	xa_for_each(&iommu->endpoints, id, ep)
		kvio_iommu_ep_detach(iommu, ep);
	mutex_unlock(&iommu->lock);
}

static void kvio_iommu_reset_owner(struct kvio_dev *dev)
{
	kvio_iommu_reset_domains(to_iommu(dev));
}

static long kvio_iommu_get_stats(struct kvio_iommu *iommu, void __user *argp)
{
	struct kvio_iommu_stats stats;

	spin_lock(&iommu->fault_lock);
	stats = iommu->stats;
	spin_unlock(&iommu->fault_lock);
	return copy_to_user(argp, &stats, sizeof(stats)) ? -EFAULT : 0;
}

static long kvio_iommu_translate(struct kvio_iommu *iommu, void __user *argp)
{
	struct kvio_iommu_translate req;
	struct kvio_as_entry map;
	struct kvio_iommu_ep *ep;
	u32 perm;
	long ret = 0;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.flags & ~KVIO_IOMMU_TRANSLATE_WRITE || !req.size)
		return -EINVAL;
	perm = req.flags & KVIO_IOMMU_TRANSLATE_WRITE ? KVIO_PERM_WO :
							KVIO_PERM_RO;
	mutex_lock(&iommu->lock);
	ep = xa_load(&iommu->endpoints, req.endpoint);
	if (!ep)
		ret = -ENOENT;
	else if (!kvio_as_lookup(kvio_iommu_ep_space(iommu, ep), req.iova,
				 &map))
		ret = -ENXIO;
	else if ((map.perm & perm) != perm)
		ret = -EACCES;
	mutex_unlock(&iommu->lock);
	if (ret)
		return ret;
	req.gpa = map.addr + (req.iova - map.start);
	/* size - 1 and last - iova: no overflow for a map of all 2^64. */
	if (req.size - 1 > map.last - req.iova)
		req.size = map.last - req.iova + 1;
	return copy_to_user(argp, &req, sizeof(req)) ? -EFAULT : 0;
}

static const struct kvio_dev_ops kvio_iommu_ops = {
	.features = KVIO_IOMMU_FEATURES,
	.reset_owner = kvio_iommu_reset_owner,
};

static long kvio_iommu_ioctl(struct kvio_dev *dev, unsigned int cmd,
			     void __user *argp)
{
	struct kvio_iommu *iommu = to_iommu(dev);
	long ret;

	switch (cmd) {
	case KVIO_IOMMU_SET_CONFIG:
	case KVIO_IOMMU_GET_CONFIG:
	case KVIO_IOMMU_ADD_RESV:
	case KVIO_IOMMU_BIND:
	case KVIO_IOMMU_UNBIND:
	case KVIO_IOMMU_RESET:
	case KVIO_IOMMU_GET_STATS:
	case KVIO_IOMMU_TRANSLATE:
		break;
	default:
		return -ENOIOCTLCMD;
	}

	mutex_lock(&dev->mutex);
	ret = kvio_dev_check_owner(dev);
	if (ret)
		goto out;
	switch (cmd) {
	case KVIO_IOMMU_SET_CONFIG:
		ret = kvio_iommu_set_config(iommu, argp);
		break;
	case KVIO_IOMMU_GET_CONFIG:
		ret = kvio_iommu_get_config(iommu, argp);
		break;
	case KVIO_IOMMU_ADD_RESV:
		ret = kvio_iommu_add_resv(iommu, argp);
		break;
	case KVIO_IOMMU_BIND:
		ret = kvio_iommu_bind(iommu, argp);
		break;
	case KVIO_IOMMU_UNBIND:
		ret = kvio_iommu_unbind(iommu, argp);
		break;
	case KVIO_IOMMU_GET_STATS:
		ret = kvio_iommu_get_stats(iommu, argp);
		break;
	case KVIO_IOMMU_TRANSLATE:
		ret = kvio_iommu_translate(iommu, argp);
		break;
	default:
		kvio_iommu_reset_domains(iommu);
		break;
	}
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

static struct kvio_dev *kvio_iommu_open(void)
{
	struct kvio_iommu *iommu;
	int i, ret;

	iommu = kzalloc(sizeof(*iommu), GFP_KERNEL_ACCOUNT);
	if (!iommu)
		return ERR_PTR(-ENOMEM);
	mutex_init(&iommu->lock);
	xa_init(&iommu->domains);
	xa_init(&iommu->endpoints);
	spin_lock_init(&iommu->fault_lock);
	/* An empty space whose faults name no domain (priv NULL). */
	iommu->blocked = kvio_as_alloc(&kvio_iommu_domain_ops, NULL,
				       KVIO_AS_OUT_GPA, 1);
	/* Bypass: every IOVA is the same guest-physical address. */
	iommu->identity = kvio_as_alloc(&kvio_iommu_domain_ops, NULL,
					KVIO_AS_OUT_GPA, 1);
	if (!iommu->blocked || !iommu->identity ||
	    kvio_as_map(iommu->identity, 0, U64_MAX, 0, KVIO_PERM_RW, NULL)) {
		ret = -ENOMEM;
		goto err;
	}
	iommu->resv = kmemdup(&kvio_iommu_msi, sizeof(kvio_iommu_msi),
			      GFP_KERNEL_ACCOUNT);
	if (!iommu->resv) {
		ret = -ENOMEM;
		goto err;
	}
	iommu->nresv = 1;
	kvio_iommu_config_default(iommu);

	for (i = 0; i < KVIO_IOMMU_NVQS; i++)
		iommu->vq_ptrs[i] = &iommu->vqs[i];
	iommu->vqs[KVIO_IOMMU_VQ_REQ].handle_kick = kvio_iommu_handle_req;
	iommu->vqs[KVIO_IOMMU_VQ_EVENT].handle_kick = kvio_iommu_handle_event;
	ret = kvio_dev_init(&iommu->dev, iommu->vq_ptrs, KVIO_IOMMU_NVQS,
			    &kvio_iommu_ops, KVIO_IOMMU_IOV_LIMIT,
			    KVIO_IOMMU_WEIGHT, 0);
	if (ret)
		goto err;
	lockdep_set_class(&iommu->dev.mutex, &kvio_iommu_dev_key);
	for (i = 0; i < KVIO_IOMMU_NVQS; i++)
		lockdep_set_class(&iommu->vqs[i].mutex, &kvio_iommu_vq_key);
	return &iommu->dev;
err:
	kvio_as_put(iommu->identity);
	kvio_as_put(iommu->blocked);
	kfree(iommu->resv);
	kfree(iommu);
	return ERR_PTR(ret);
}

static void kvio_iommu_release(struct kvio_dev *dev)
{
	struct kvio_iommu *iommu = to_iommu(dev);
	struct kvio_iommu_ep *ep;
	unsigned long id;

	/* The worker is gone first: nothing serves requests any more. */
	kvio_dev_cleanup(dev);
	mutex_lock(&iommu->lock);
	xa_for_each(&iommu->endpoints, id, ep)
		kvio_iommu_ep_free(iommu, ep);
	mutex_unlock(&iommu->lock);
	xa_destroy(&iommu->endpoints);
	xa_destroy(&iommu->domains);
	kvio_as_put(iommu->identity);
	kvio_as_put(iommu->blocked);
	kfree(iommu->resv);
	kfree(iommu);
}

static struct kvio_driver kvio_iommu_driver = {
	.name		= "kvio-iommu",
	.open		= kvio_iommu_open,
	.release	= kvio_iommu_release,
	.ioctl		= kvio_iommu_ioctl,
};

static int __init kvio_iommu_init(void)
{
	return kvio_driver_register(&kvio_iommu_driver);
}
module_init(kvio_iommu_init);

static void __exit kvio_iommu_exit(void)
{
	kvio_driver_unregister(&kvio_iommu_driver);
}
module_exit(kvio_iommu_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(KVIO_VERSION);
MODULE_DESCRIPTION("kvio: virtio-iommu device served in the host kernel");
