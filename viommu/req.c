// SPDX-License-Identifier: GPL-2.0-only
/*
 * The request queue of kvio_iommu: ATTACH, DETACH, MAP, UNMAP and PROBE
 * (virtio 1.2 5.13.6), each checked as the spec's device requirements say,
 * each answered with a status in its tail.
 *
 * A request is a device-readable part (head and body) and a device-writable
 * part (PROBE's properties, then the tail).  Everything is read once from
 * the guest into a local copy.  A request the device cannot answer (an
 * unknown type, no room for a tail, PROBE without F_PROBE) is returned with
 * nothing written and used length 0, as the spec asks; every other gets a
 * status and used length = the bytes written (tail, or properties and
 * tail), which the Linux driver checks.
 *
 * One kick is one batch: up to KVIO_IOMMU_WEIGHT requests are served in
 * ring order and their used entries published together, with one
 * interrupt; the guest waits on the last one (viommu_sync_req).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/uio.h>

#include "iommu.h"
#include "parse.h"

/* One request as read from the ring. */
struct kvio_iommu_chain {
	struct kvio_vq *vq;
	unsigned int out, in;		/* iovecs of each part */
	size_t out_len, in_len;		/* bytes of each part */
	size_t written;			/* used length */
};

static int kvio_iommu_read(struct kvio_iommu_chain *c, void *buf, size_t len)
{
	/* Not the data path: keep copy_from_iter()'s check of @buf. */
	if (!check_copy_size(buf, len, false))
		return -EFAULT;
	return kvio_iov_copy_from_user(buf, c->vq->iov, c->out, 0, len) ?
	       0 : -EFAULT;
}

/* Writes @len bytes at @off of the device-writable part. */
static int kvio_iommu_write(struct kvio_iommu_chain *c, size_t off,
			    const void *buf, size_t len)
{
	struct iov_iter it;

	iov_iter_init(&it, ITER_DEST, c->vq->iov + c->out, c->in, c->in_len);
	iov_iter_advance(&it, off);
	if (copy_to_iter(buf, len, &it) != len)
		return -EFAULT;
	c->written = max(c->written, off + len);
	return 0;
}

static int kvio_iommu_write_tail(struct kvio_iommu_chain *c, size_t off,
				 u8 status)
{
	struct virtio_iommu_req_tail tail = { .status = status };

	return kvio_iommu_write(c, off, &tail, sizeof(tail));
}

/* Faults of the endpoints' devices (5.13.6.9). */

/*
 * A domain's (or the blocked space's) ops->fault: a ring or buffer of a
 * bound device found no mapping, or one without the permission.  Runs in
 * that device's worker with its ring mutex held; the event goes on the
 * queue and the event ring's work delivers it.
 */
static int kvio_iommu_fault(struct kvio_as *as, struct kvio_vq *vq, u64 addr,
			    u32 perm, int err)
{
	struct kvio_iommu_ep *ep = vq->dev->viommu_ep;
	struct virtio_iommu_fault *f;
	struct kvio_iommu *iommu;
	u32 flags;

	if (!ep)
		return -EFAULT;
	iommu = ep->iommu;
	flags = VIRTIO_IOMMU_FAULT_F_ADDRESS |
		(perm & KVIO_PERM_WO ? VIRTIO_IOMMU_FAULT_F_WRITE :
				       VIRTIO_IOMMU_FAULT_F_READ);
	spin_lock(&iommu->fault_lock);
	iommu->stats.faults++;
	if (iommu->nfaults == KVIO_IOMMU_FAULTS_MAX) {
		iommu->stats.faults_dropped++;
	} else {
		f = &iommu->faults[(iommu->fault_head + iommu->nfaults++) %
				   KVIO_IOMMU_FAULTS_MAX];
		memset(f, 0, sizeof(*f));
		/* The blocked space has no domain: the endpoint has none. */
		f->reason = as->priv ? VIRTIO_IOMMU_FAULT_R_MAPPING :
				       VIRTIO_IOMMU_FAULT_R_DOMAIN;
		f->flags = cpu_to_le32(flags);
		f->endpoint = cpu_to_le32(ep->id);
		f->address = cpu_to_le64(addr);
	}
	spin_unlock(&iommu->fault_lock);
	kvio_vq_work_queue(&iommu->vqs[KVIO_IOMMU_VQ_EVENT],
			   &iommu->vqs[KVIO_IOMMU_VQ_EVENT].poll.work);
	return -EFAULT;
}

const struct kvio_as_ops kvio_iommu_domain_ops = {
	.fault = kvio_iommu_fault,
};

/* The oldest queued fault into @f; false when none. */
static bool kvio_iommu_fault_pop(struct kvio_iommu *iommu,
				 struct virtio_iommu_fault *f)
{
	bool ret = false;

	spin_lock(&iommu->fault_lock);
	if (iommu->nfaults) {
		*f = iommu->faults[iommu->fault_head];
		iommu->fault_head = (iommu->fault_head + 1) %
				    KVIO_IOMMU_FAULTS_MAX;
		iommu->nfaults--;
		ret = true;
	}
	spin_unlock(&iommu->fault_lock);
	return ret;
}

static void kvio_iommu_fault_unpop(struct kvio_iommu *iommu,
				   const struct virtio_iommu_fault *f)
{
	spin_lock(&iommu->fault_lock);
	if (iommu->nfaults < KVIO_IOMMU_FAULTS_MAX) {
		iommu->fault_head = (iommu->fault_head +
				     KVIO_IOMMU_FAULTS_MAX - 1) %
				    KVIO_IOMMU_FAULTS_MAX;
		iommu->faults[iommu->fault_head] = *f;
		iommu->nfaults++;
	} else {
		iommu->stats.faults_dropped++;
	}
	spin_unlock(&iommu->fault_lock);
}

/*
 * The event ring's work: queued faults into the buffers the guest posted,
 * one 24-byte record each.  Without a buffer they wait (up to
 * KVIO_IOMMU_FAULTS_MAX; later ones are dropped) for the guest's kick when
 * it posts one: the ring's notifications are on only then, so with
 * EVENT_IDX the guest kicks for the buffer after those it was last asked
 * for.  A buffer too small for a record is returned with used length 0.
 */
void kvio_iommu_handle_event(struct kvio_work *work)
{
	struct kvio_vq *vq = container_of(work, struct kvio_vq, poll.work);
	struct kvio_iommu *iommu = to_iommu(vq->dev);
	unsigned int out, in, log_num, len, n = 0;
	struct virtio_iommu_fault f;
	struct iov_iter it;
	int head;

	mutex_lock(&vq->mutex);
	/* A stopped ring's memory may be the guest's again: not touched. */
	if (kvio_vq_stopped(vq))
		goto out;
	/* Faults queue this work; a kick is wanted only when they wait. */
	kvio_vq_disable_notify(vq);
	while (!kvio_vq_stopped(vq) && kvio_iommu_fault_pop(iommu, &f)) {
		head = kvio_vq_get_desc(vq, vq->iov, vq->iov_limit, &out, &in,
					NULL, vq->log, &log_num);
		if (head < 0 || head == vq->num) {
			kvio_iommu_fault_unpop(iommu, &f);
			/* Posted while notifications came on: take it. */
			if (head == vq->num && kvio_vq_rearm(vq))
				continue;
			break;
		}
		iov_iter_init(&it, ITER_DEST, vq->iov + out, in,
			      iov_length(vq->iov + out, in));
		if (iov_iter_count(&it) < sizeof(f)) {
			/* No room for a record: returned unwritten, used 0. */
			kvio_iommu_fault_unpop(iommu, &f);
			len = 0;
		} else if (copy_to_iter(&f, sizeof(f), &it) == sizeof(f)) {
			kvio_log_write(vq, vq->log, log_num, sizeof(f));
			len = sizeof(f);
		} else {
			kvio_vq_set_broken(vq, "event buffer unreachable");
			break;
		}
		kvio_vq_add_used(vq, head, len);
		if (kvio_vq_exceeds_weight(vq, ++n, 0))
			break;
	}
	if (n)
		kvio_vq_signal(vq);
out:
	mutex_unlock(&vq->mutex);
}

/* Domains and endpoints; iommu->lock held. */

static bool kvio_iommu_negotiated(struct kvio_iommu *iommu, int bit)
{
	return iommu->dev.acked_features & (1ULL << bit);
}

/*
 * What the endpoint's IOVAs reach now: its domain's mappings, guest-physical
 * addresses (a bypass domain; or not attached with the config's bypass
 * set), or nothing at all (the blocked space).
 */
struct kvio_as *kvio_iommu_ep_space(struct kvio_iommu *iommu,
				    struct kvio_iommu_ep *ep)
{
	lockdep_assert_held(&iommu->lock);
	if (ep->domain)
		return ep->domain->bypass ? iommu->identity : ep->domain->as;
	return iommu->cfg.bypass ? iommu->identity : iommu->blocked;
}

/*
 * Points the endpoint's devices (or shadow) at kvio_iommu_ep_space().  0,
 * or the shadow's errno (it then mirrors nothing: the endpoint's DMA
 * faults).
 */
int kvio_iommu_ep_sync(struct kvio_iommu *iommu, struct kvio_iommu_ep *ep)
{
	struct kvio_iommu_ep_dev *d;
	struct kvio_as *as;
	int ret = 0;

	lockdep_assert_held(&iommu->lock);
	if (list_empty(&ep->devs) && !ep->shadow)
		return 0;
	as = kvio_iommu_ep_space(iommu, ep);
	if (ep->synced && ep->synced_as == as)
		return 0;
	if (ep->shadow) {
		/* The vIOMMU's own memory table finishes the translation. */
		ret = ep->shadow->ops->set_space(ep->shadow, as,
						 iommu->dev.mem);
		if (ret)
			as = NULL;
	}
	list_for_each_entry(d, &ep->devs, node)
		kvio_dev_set_viommu(kvio_dev_from_file(d->file), as, ep);
	ep->synced = true;
	ep->synced_as = as;
	return ret;
}

void kvio_iommu_domain_put(struct kvio_iommu *iommu,
			   struct kvio_iommu_domain *domain)
{
	lockdep_assert_held(&iommu->lock);
	if (--domain->endpoints)
		return;
	/* The last endpoint left: the domain and its mappings go (5.13.6.4). */
	xa_erase(&iommu->domains, domain->id);
	kvio_as_put(domain->as);
	kfree(domain);
}

void kvio_iommu_ep_detach(struct kvio_iommu *iommu, struct kvio_iommu_ep *ep)
{
	struct kvio_iommu_domain *domain = ep->domain;

	if (!domain)
		return;
	ep->domain = NULL;
	/*
	 * The device stops using the domain before it can go.  A shadow that
	 * cannot mirror the config's bypass is left with nothing.
	 */
	kvio_iommu_ep_sync(iommu, ep);
	kvio_iommu_domain_put(iommu, domain);
}

/*
 * After a batch's UNMAPs, before their used entries: every device that
 * translates through a domain that lost mappings finishes the handler
 * runs that may hold translations from before (5.13.6.6: no access through
 * a removed mapping once the UNMAP completed).
 */
static void kvio_iommu_sync_unmaps(struct kvio_iommu *iommu)
{
	struct kvio_iommu_domain *domain;
	struct kvio_iommu_ep_dev *d;
	struct kvio_iommu_ep *ep;
	unsigned long id;

	mutex_lock(&iommu->lock);
	if (!iommu->unmapped)
		goto out;
	xa_for_each(&iommu->endpoints, id, ep) {
		if (!ep->domain || !ep->domain->unmapped)
			continue;
		list_for_each_entry(d, &ep->devs, node)
			kvio_dev_sync_translation(kvio_dev_from_file(d->file));
		if (ep->shadow)
			ep->shadow->ops->flush(ep->shadow);
	}
	xa_for_each(&iommu->domains, id, domain)
		domain->unmapped = false;
	iommu->unmapped = false;
out:
	mutex_unlock(&iommu->lock);
}

static struct kvio_iommu_domain *
kvio_iommu_domain_new(struct kvio_iommu *iommu, u32 id, bool bypass)
{
	struct kvio_iommu_domain *domain;

	domain = kzalloc(sizeof(*domain), GFP_KERNEL_ACCOUNT);
	if (!domain)
		return NULL;
	domain->id = id;
	domain->bypass = bypass;
	if (!bypass) {
		domain->as = kvio_as_alloc(&kvio_iommu_domain_ops, domain,
					   KVIO_AS_OUT_GPA,
					   iommu->cfg.max_mappings);
		if (!domain->as)
			goto err;
	}
	if (xa_err(xa_store(&iommu->domains, id, domain, GFP_KERNEL_ACCOUNT)))
		goto err;
	return domain;
err:
	kvio_as_put(domain->as);
	kfree(domain);
	return NULL;
}

static u8 kvio_iommu_attach(struct kvio_iommu *iommu,
			    const struct kvio_iommu_parse *r)
{
	struct kvio_iommu_domain *domain, *old;
	struct kvio_iommu_ep *ep;

	ep = xa_load(&iommu->endpoints, r->endpoint);
	if (!ep)
		return VIRTIO_IOMMU_S_NOENT;
	/* Everything is checked before the endpoint leaves its domain. */
	domain = xa_load(&iommu->domains, r->domain);
	if (domain && domain->bypass != r->bypass)
		return VIRTIO_IOMMU_S_INVAL;
	if (domain && ep->domain == domain)
		return VIRTIO_IOMMU_S_OK;
	if (!domain) {
		domain = kvio_iommu_domain_new(iommu, r->domain, r->bypass);
		if (!domain)
			return VIRTIO_IOMMU_S_NOMEM;
	}
	/*
	 * Attached elsewhere: moved, as a DETACH then this ATTACH, with no
	 * moment in between where the device would see no domain.
	 */
	domain->endpoints++;
	old = ep->domain;
	ep->domain = domain;
	if (kvio_iommu_ep_sync(iommu, ep)) {
		/*
		 * A shadow could not mirror the domain (pinning over the
		 * owner's RLIMIT_MEMLOCK): the endpoint stays where it was.
		 */
		ep->domain = old;
		kvio_iommu_ep_sync(iommu, ep);
		kvio_iommu_domain_put(iommu, domain);
		return VIRTIO_IOMMU_S_NOMEM;
	}
	if (old)
		kvio_iommu_domain_put(iommu, old);
	return VIRTIO_IOMMU_S_OK;
}

static u8 kvio_iommu_detach(struct kvio_iommu *iommu,
			    const struct kvio_iommu_parse *r)
{
	struct kvio_iommu_ep *ep;

	ep = xa_load(&iommu->endpoints, r->endpoint);
	if (!ep)
		return VIRTIO_IOMMU_S_NOENT;
	if (!ep->domain || ep->domain->id != r->domain)
		return VIRTIO_IOMMU_S_INVAL;
	kvio_iommu_ep_detach(iommu, ep);
	return VIRTIO_IOMMU_S_OK;
}

/* A domain MAP and UNMAP may change; NULL and *status set if none. */
static struct kvio_iommu_domain *
kvio_iommu_mapping_domain(struct kvio_iommu *iommu, u32 id, u8 *status)
{
	struct kvio_iommu_domain *domain;

	domain = xa_load(&iommu->domains, id);
	if (!domain)
		*status = VIRTIO_IOMMU_S_NOENT;
	else if (domain->bypass)
		*status = VIRTIO_IOMMU_S_INVAL;
	return domain && !domain->bypass ? domain : NULL;
}

static u8 kvio_iommu_map(struct kvio_iommu *iommu,
			 const struct kvio_iommu_parse *r)
{
	struct kvio_iommu_domain *domain;
	u8 status = VIRTIO_IOMMU_S_OK;
	u32 perm = 0;
	int ret;

	domain = kvio_iommu_mapping_domain(iommu, r->domain, &status);
	if (!domain)
		return status;
	if (r->read_ok)
		perm |= KVIO_PERM_RO;
	if (r->write_ok)
		perm |= KVIO_PERM_WO;
	ret = kvio_as_map(domain->as, r->start, r->end, r->phys, perm, NULL);
	switch (ret) {
	case 0:
		return VIRTIO_IOMMU_S_OK;
	case -EEXIST:
		return VIRTIO_IOMMU_S_INVAL;
	case -EINVAL:		/* phys + size past 2^64 */
		return VIRTIO_IOMMU_S_RANGE;
	case -EPERM:		/* a shadow's host reserved region */
		return VIRTIO_IOMMU_S_INVAL;
	default:		/* -ENOSPC: the domain's limit, -ENOMEM */
		return VIRTIO_IOMMU_S_NOMEM;
	}
}

static u8 kvio_iommu_unmap(struct kvio_iommu *iommu,
			   const struct kvio_iommu_parse *r)
{
	struct kvio_iommu_domain *domain;
	u8 status = VIRTIO_IOMMU_S_OK;
	int ret;

	domain = kvio_iommu_mapping_domain(iommu, r->domain, &status);
	if (!domain)
		return status;
	/* A mapping the range would split: RANGE, nothing removed. */
	ret = kvio_as_unmap(domain->as, r->start, r->end, true);
	if (ret < 0)
		return VIRTIO_IOMMU_S_RANGE;
	if (ret) {
		domain->unmapped = true;
		iommu->unmapped = true;
	}
	return VIRTIO_IOMMU_S_OK;
}

/* PROBE: the reserved regions, zeroes after them, the tail. */
static int kvio_iommu_probe(struct kvio_iommu *iommu,
			    struct kvio_iommu_chain *c,
			    const struct kvio_iommu_parse *r)
{
	size_t size = iommu->cfg.probe_size;
	struct virtio_iommu_probe_resv_mem *prop;
	unsigned int i;
	u8 *props;
	int ret;

	props = kzalloc(size, GFP_KERNEL);
	if (!props)
		return -ENOMEM;
	if (!xa_load(&iommu->endpoints, r->endpoint)) {
		ret = kvio_iommu_write(c, 0, props, size);
		if (!ret)
			ret = kvio_iommu_write_tail(c, size,
						    VIRTIO_IOMMU_S_NOENT);
		goto out;
	}
	/* SET_CONFIG and ADD_RESV keep every region inside probe_size. */
	prop = (struct virtio_iommu_probe_resv_mem *)props;
	for (i = 0; i < iommu->nresv; i++, prop++) {
		prop->head.type = cpu_to_le16(VIRTIO_IOMMU_PROBE_T_RESV_MEM);
		prop->head.length = cpu_to_le16(sizeof(*prop) -
						sizeof(prop->head));
		prop->subtype = iommu->resv[i].subtype;
		prop->start = cpu_to_le64(iommu->resv[i].start);
		prop->end = cpu_to_le64(iommu->resv[i].end);
	}
	ret = kvio_iommu_write(c, 0, props, size);
	if (!ret)
		ret = kvio_iommu_write_tail(c, size, VIRTIO_IOMMU_S_OK);
out:
	kfree(props);
	return ret;
}

static int kvio_iommu_parse_read(struct kvio_iommu_parse *r, void *buf,
				 size_t len)
{
	return kvio_iommu_read(r->priv, buf, len);
}

/* The parser's view of the device; iommu->lock held. */
static void kvio_iommu_params(struct kvio_iommu *iommu,
			      struct kvio_iommu_params *p)
{
	p->granule = iommu->granule;
	p->input_start = iommu->cfg.input_start;
	p->input_end = iommu->cfg.input_end;
	p->domain_start = iommu->cfg.domain_start;
	p->domain_end = iommu->cfg.domain_end;
	p->probe_size = iommu->cfg.probe_size;
	p->map_unmap = kvio_iommu_negotiated(iommu, VIRTIO_IOMMU_F_MAP_UNMAP);
	p->probe = kvio_iommu_negotiated(iommu, VIRTIO_IOMMU_F_PROBE);
	p->bypass_config = kvio_iommu_negotiated(iommu,
						 VIRTIO_IOMMU_F_BYPASS_CONFIG);
	p->resv = iommu->resv;
	p->nresv = iommu->nresv;
}

/*
 * Serves one request; c->written is its used length.  0, or -EFAULT when
 * the ring's buffers are unreachable, -ENOMEM.
 */
static int kvio_iommu_serve(struct kvio_iommu *iommu,
			    struct kvio_iommu_chain *c)
{
	struct kvio_iommu_params p;
	struct kvio_iommu_parse r = {
		.p = &p,
		.out_len = c->out_len,
		.in_len = c->in_len,
		.read = kvio_iommu_parse_read,
		.priv = c,
	};
	int ret = 0;
	u8 status;

	/* The configuration and regions hold still for the request. */
	mutex_lock(&iommu->lock);
	kvio_iommu_params(iommu, &p);
	switch (kvio_iommu_parse_req(&r)) {
	case KVIO_IOMMU_DROP:
		/* Nothing written (a read that failed: the ring breaks). */
		ret = r.err;
		goto out;
	case KVIO_IOMMU_ANSWER:
		ret = kvio_iommu_write_tail(c, r.tail_off, r.status);
		goto out;
	case KVIO_IOMMU_SERVE:
		break;
	}
	switch (r.type) {
	case VIRTIO_IOMMU_T_ATTACH:
		status = kvio_iommu_attach(iommu, &r);
		break;
	case VIRTIO_IOMMU_T_DETACH:
		status = kvio_iommu_detach(iommu, &r);
		break;
	case VIRTIO_IOMMU_T_MAP:
		status = kvio_iommu_map(iommu, &r);
		break;
	case VIRTIO_IOMMU_T_UNMAP:
		status = kvio_iommu_unmap(iommu, &r);
		break;
	default:
		ret = kvio_iommu_probe(iommu, c, &r);
		goto out;
	}
	ret = kvio_iommu_write_tail(c, r.tail_off, status);
out:
	mutex_unlock(&iommu->lock);
	return ret;
}

/*
 * The batch's UNMAPs waited out, then its @*n used entries; *n reset.  The
 * requests took effect, so answers that cannot be written leave the guest
 * waiting for them: the ring is stopped (its error eventfd says so) rather
 * than left to look well.  Only a malformed or unreachable used ring fails
 * here: without ACCESS_PLATFORM (iommu.h) there is no IOTLB miss to retry.
 */
static void kvio_iommu_publish(struct kvio_iommu *iommu, struct kvio_vq *vq,
			       unsigned int *n)
{
	if (!*n)
		return;
	kvio_iommu_sync_unmaps(iommu);
	if (kvio_vq_add_used_n(vq, vq->heads, *n))
		kvio_vq_set_broken(vq, "answers not written");
	*n = 0;
}

void kvio_iommu_handle_req(struct kvio_work *work)
{
	struct kvio_vq *vq = container_of(work, struct kvio_vq, poll.work);
	struct kvio_iommu *iommu = to_iommu(vq->dev);
	struct kvio_iommu_chain c = { .vq = vq };
	unsigned int n = 0, reqs = 0, log_num;
	bool published = false;
	int head, ret;

	mutex_lock(&vq->mutex);
	if (kvio_vq_stopped(vq))
		goto out;
	kvio_vq_disable_notify(vq);
	for (;;) {
		head = kvio_vq_get_desc(vq, vq->iov, vq->iov_limit, &c.out,
					&c.in, NULL, vq->log, &log_num);
		/* Malformed: the ring is broken now (no IOTLB: no miss). */
		if (head < 0)
			break;
		if (head == vq->num) {
			/*
			 * Empty.  With a busy-loop timeout, answer what was
			 * served first: the guest spins for each answer, and
			 * its next request is what the device polls for.
			 */
			if (vq->busyloop_timeout && (n || published)) {
				kvio_iommu_publish(iommu, vq, &n);
				kvio_vq_signal(vq);
				published = false;
			}
			if (!kvio_vq_idle(vq))
				break;
			continue;
		}
		c.out_len = iov_length(vq->iov, c.out);
		c.in_len = iov_length(vq->iov + c.out, c.in);
		c.written = 0;
		ret = kvio_iommu_serve(iommu, &c);
		if (ret == -ENOMEM) {
			/* Given back and retried in a moment. */
			kvio_vq_discard_desc(vq, 1);
			kvio_vq_work_queue(vq, &vq->poll.work);
			break;
		}
		if (ret) {
			kvio_vq_set_broken(vq, "request buffer unreachable");
			break;
		}
		if (c.written)
			kvio_log_write(vq, vq->log, log_num, c.written);
		vq->heads[n].id = cpu_to_kvio32(vq, head);
		vq->heads[n].len = cpu_to_kvio32(vq, c.written);
		if (++n == vq->iov_limit) {
			kvio_iommu_publish(iommu, vq, &n);
			published = true;
		}
		if (kvio_vq_exceeds_weight(vq, ++reqs, 0))
			break;
	}
	/* One used-index update (at most a few) and one interrupt a batch. */
	if (n || published) {
		kvio_iommu_publish(iommu, vq, &n);
		kvio_vq_signal(vq);
	}
out:
	mutex_unlock(&vq->mutex);
}
