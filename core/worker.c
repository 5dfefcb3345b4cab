// SPDX-License-Identifier: GPL-2.0-only
/*
 * Workers, work items and polls.
 *
 * A worker is a kthread that acts for the owner, as upstream's vhost_task
 * (a thread of the owner since 6.4) does by birth:
 *  - it takes the owner's credentials, so every file operation a device does
 *    for the VMM (kvio_blk's reads, writes and fallocate, kvio_net's socket
 *    calls) is checked as the VMM's own would be: set-id bits cleared on
 *    write, no root reserve on a full file system, quotas and LSM rules;
 *  - it counts as one of the owner's processes (RLIMIT_NPROC), so open
 *    devices cannot multiply threads past the owner's limit;
 *  - it adopts the owner's mm (ring and buffer addresses are the owner's
 *    user addresses, used with copy_{from,to}_user) and is put in the
 *    owner's cgroups (CPU time and memory charged like the owner's own).
 * Work items are queued on a lock-free list from any context, including the
 * hard-IRQ wakeups of a KVM ioeventfd, and run in queue order.
 *
 * Lifetime: workers are created at SET_OWNER (the default one, id 0) and by
 * VHOST_NEW_WORKER, and destroyed at RESET_OWNER, VHOST_FREE_WORKER and
 * release, always with dev->mutex held.  A ring's worker pointer only
 * changes while nothing can queue work for that ring (no kick, no backend).
 */
#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/kthread.h>
#include <linux/sched/signal.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"

static int kvio_worker_fn(void *data)
{
	struct kvio_worker *worker = data;
	struct kvio_work *work, *next;
	struct llist_node *node;

	/*
	 * The owner's credentials, real and effective, before the mm: a
	 * change of euid makes commit_creds() reset the dumpable flag of
	 * current->mm, which must not be the owner's.  Committing them also
	 * moves this thread's RLIMIT_NPROC count from root to the owner
	 * (released when the thread is reaped).
	 */
	commit_creds(worker->cred);
	worker->cred = NULL;
	complete(&worker->started);

	kthread_use_mm(worker->mm);
	for (;;) {
		/* Paired with wake_up_process() in kvio_worker_queue(). */
		set_current_state(TASK_INTERRUPTIBLE);
		node = llist_del_all(&worker->work_list);
		if (!node) {
			/* Stop only when drained: a flush may be waiting. */
			if (kthread_should_stop()) {
				__set_current_state(TASK_RUNNING);
				break;
			}
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);

		node = llist_reverse_order(node);
		llist_for_each_entry_safe(work, next, node, node) {
			/* More of this batch after it (kvio_vq_has_work()). */
			WRITE_ONCE(worker->batch_left, !!work->node.next);
			/*
			 * The successor was read before the bit is cleared:
			 * once it is, the work can be queued again and its
			 * node rewritten by another CPU.
			 */
			smp_mb__before_atomic();
			clear_bit(KVIO_WORK_QUEUED, &work->flags);
			work->fn(work);
			cond_resched();
		}
	}
	kthread_unuse_mm(worker->mm);
	return 0;
}

bool kvio_worker_queue(struct kvio_worker *worker, struct kvio_work *work)
{
	if (!worker || !work->fn)
		return false;
	/* test_and_set_bit() is a full barrier: the node is ours now. */
	if (test_and_set_bit(KVIO_WORK_QUEUED, &work->flags))
		return false;
	llist_add(&work->node, &worker->work_list);
	wake_up_process(worker->task);
	return true;
}

struct kvio_flush {
	struct kvio_work work;
	struct completion done;
};

static void kvio_flush_fn(struct kvio_work *work)
{
	struct kvio_flush *flush = container_of(work, struct kvio_flush, work);

	complete(&flush->done);
}

void kvio_worker_flush(struct kvio_worker *worker)
{
	struct kvio_flush flush;

	/* A worker flushing itself would wait forever. */
	if (!worker || current == worker->task)
		return;
	init_completion(&flush.done);
	kvio_work_init(&flush.work, kvio_flush_fn);
	if (kvio_worker_queue(worker, &flush.work))
		wait_for_completion(&flush.done);
}

/*
 * Whether the caller (the owner, whose credentials a new worker has just
 * taken) now runs more processes than RLIMIT_NPROC allows, by the rule
 * fork() applies: the count of each user namespace level against the
 * caller's limit, then against the limit its namespace sets for it; root
 * and holders of CAP_SYS_RESOURCE or CAP_SYS_ADMIN are exempt.
 */
static bool kvio_worker_over_nproc(void)
{
	unsigned long limit = rlimit(RLIMIT_NPROC);
	struct ucounts *iter;
	long max;

	if (uid_eq(current_uid(), GLOBAL_ROOT_UID) ||
	    capable(CAP_SYS_RESOURCE) || capable(CAP_SYS_ADMIN))
		return false;
	max = min_t(unsigned long, limit, LONG_MAX);
	for (iter = current_ucounts(); iter; iter = iter->ns->ucounts) {
		if (get_rlimit_value(iter, UCOUNT_RLIMIT_NPROC) > max)
			return true;
		max = get_userns_rlimit_max(iter->ns, UCOUNT_RLIMIT_NPROC);
	}
	return false;
}

/*
 * Creates a worker in the caller's (the owner's) context: the cgroups it
 * joins, the credentials it takes and the process limit it counts against
 * are the caller's.  -EAGAIN past the caller's RLIMIT_NPROC, as fork()
 * would say.  dev->mutex held, dev->mm set.
 */
struct kvio_worker *kvio_worker_create(struct kvio_dev *dev, pid_t owner)
{
	struct kvio_worker *worker;
	struct task_struct *task;
	u32 id;
	int ret;

	worker = kzalloc(sizeof(*worker), GFP_KERNEL_ACCOUNT);
	if (!worker)
		return ERR_PTR(-ENOMEM);
	init_llist_head(&worker->work_list);
	init_completion(&worker->started);
	worker->mm = dev->mm;
	worker->owner = owner;
	/* A copy of the caller's, which the thread commits as its own. */
	worker->cred = prepare_creds();
	if (!worker->cred) {
		ret = -ENOMEM;
		goto err_free;
	}

	ret = xa_alloc(&dev->worker_xa, &id, worker, xa_limit_32b,
		       GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_free;
	worker->id = id;

	if (id)
		task = kthread_create(kvio_worker_fn, worker, "kvio-%d-%u",
				      owner, id);
	else
		task = kthread_create(kvio_worker_fn, worker, "kvio-%d", owner);
	if (IS_ERR(task)) {
		ret = PTR_ERR(task);
		goto err_erase;
	}

	ret = cgroup_attach_task_all(current, task);
	if (ret) {
		/* Never woken: kthread_stop() returns before kvio_worker_fn. */
		kthread_stop(task);
		goto err_erase;
	}

	worker->task = task;
	wake_up_process(task);
	/*
	 * Counted first, then checked, as fork() does: two owners' threads
	 * creating workers at once cannot both slip under the limit.
	 */
	wait_for_completion(&worker->started);
	if (kvio_worker_over_nproc()) {
		kthread_stop(task);
		ret = -EAGAIN;
		goto err_erase;
	}
	return worker;

err_erase:
	xa_erase(&dev->worker_xa, id);
err_free:
	if (worker->cred)
		put_cred(worker->cred);
	kfree(worker);
	return ERR_PTR(ret);
}

/*
 * Runs what is queued, stops the thread, frees after a grace period: a
 * wakeup that read the worker pointer before it was cleared (under
 * rcu_read_lock(), kvio_poll_queue() and friends) still queues on, and
 * wakes, memory that is there.  dev->mutex held, no ring pointing at it.
 */
void kvio_worker_destroy(struct kvio_dev *dev, struct kvio_worker *worker)
{
	xa_erase(&dev->worker_xa, worker->id);
	kvio_worker_flush(worker);
	kthread_stop(worker->task);
	kfree_rcu(worker, rcu);
}

/**
 * kvio_work_init() - set up a work item
 * @work: the item, not queued
 * @fn: what a worker runs for it
 *
 * Context: any; @work must not be queued.
 */
void kvio_work_init(struct kvio_work *work, kvio_work_fn_t fn)
{
	clear_bit(KVIO_WORK_QUEUED, &work->flags);
	work->fn = fn;
}
EXPORT_SYMBOL_GPL(kvio_work_init);

/**
 * kvio_vq_work_queue() - queue a work item on a ring's worker
 * @vq: the ring
 * @work: the item
 *
 * The worker runs its items in queue order; @work is run once however
 * often it is queued before it starts.
 *
 * Context: any, hard IRQ included; lock-free (RCU).
 * Return: true if @work was queued; false if it was queued already and
 * has not started, has no function, or the ring has no worker (before
 * SET_OWNER, after RESET_OWNER).
 */
bool kvio_vq_work_queue(struct kvio_vq *vq, struct kvio_work *work)
{
	bool queued;

	rcu_read_lock();
	queued = kvio_worker_queue(rcu_dereference(vq->worker), work);
	rcu_read_unlock();
	return queued;
}
EXPORT_SYMBOL_GPL(kvio_vq_work_queue);

/**
 * kvio_vq_has_work() - whether a ring's worker has work queued
 * @vq: the ring
 *
 * A hint for a handler that busy-polls: other work waits for the worker
 * it occupies, queued since the worker last looked at its list or taken
 * off the list with the item running now (the rest of that batch, which
 * a handler polling for a while would otherwise hold up: kvio_blk's
 * completions queued before its kick ran).
 *
 * Context: any; lock-free (RCU).  The second half is exact only when
 * called from an item the worker runs.
 * Return: true if work waits; false if none does, or the ring has no
 * worker.
 */
bool kvio_vq_has_work(struct kvio_vq *vq)
{
	struct kvio_worker *worker;
	bool pending;

	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	pending = worker && (!llist_empty(&worker->work_list) ||
			     READ_ONCE(worker->batch_left));
	rcu_read_unlock();
	return pending;
}
EXPORT_SYMBOL_GPL(kvio_vq_has_work);

/**
 * kvio_vq_shares_worker() - whether two rings run on the same worker
 * @a: a ring
 * @b: another ring of the same device
 *
 * Only the worker pointers are compared.  They change under dev->mutex,
 * and a ring's only while nothing can queue work for it (no kick, no
 * backend), so a handler gets a stable answer.
 *
 * Context: a ring's mutex held (a handler's); lock-free.
 * Return: true if @a and @b have the same worker (or both have none).
 */
bool kvio_vq_shares_worker(struct kvio_vq *a, struct kvio_vq *b)
{
	return rcu_access_pointer(a->worker) == rcu_access_pointer(b->worker);
}
EXPORT_SYMBOL_GPL(kvio_vq_shares_worker);

/**
 * kvio_vq_flush() - wait for the work queued on a ring's worker
 * @vq: the ring
 *
 * Every item queued on the ring's worker before the call (for any ring it
 * serves) has run when this returns.  Returns at once if the ring has no
 * worker, or when called from that worker itself.
 *
 * Context: process context, may sleep; dev->mutex held (workers change
 * under it), no vq->mutex held (the work waited for may take it).
 */
void kvio_vq_flush(struct kvio_vq *vq)
{
	/* Workers change only under dev->mutex, which callers hold. */
	kvio_worker_flush(rcu_dereference_protected(vq->worker, true));
}
EXPORT_SYMBOL_GPL(kvio_vq_flush);

/**
 * kvio_dev_flush() - wait for the work queued on every worker
 * @dev: the device
 *
 * Every item queued on any worker of the device before the call has run
 * when this returns (a worker flushing itself does not wait for itself).
 *
 * Context: process context, may sleep; dev->mutex held (workers come and
 * go under it) or from the driver's release(); no vq->mutex held.
 */
void kvio_dev_flush(struct kvio_dev *dev)
{
	struct kvio_worker *worker;
	unsigned long id;

	xa_for_each(&dev->worker_xa, id, worker)
		kvio_worker_flush(worker);
}
EXPORT_SYMBOL_GPL(kvio_dev_flush);

/* Polls. */

static void kvio_poll_func(struct file *file, wait_queue_head_t *wqh,
			   poll_table *pt)
{
	struct kvio_poll *poll = container_of(pt, struct kvio_poll, table);

	/*
	 * One entry, one queue: a file that registers more than one wait
	 * queue only gets the first (eventfds and sockets have one).
	 */
	if (poll->wqh)
		return;
	poll->wqh = wqh;
	add_wait_queue(wqh, &poll->wait);
}

static int kvio_poll_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			    int sync, void *key)
{
	struct kvio_poll *poll = container_of(wait, struct kvio_poll, wait);

	if (key_to_poll(key) & poll->mask)
		kvio_poll_queue(poll);
	return 0;
}

/**
 * kvio_poll_init() - set up a poll entry
 * @poll: the entry, not started
 * @fn: the work a wakeup queues
 * @mask: the events (EPOLLIN, EPOLLOUT, ...) that queue it
 * @dev: the device, whose default worker runs the work if @vq is NULL
 * @vq: the ring whose worker runs the work, or NULL
 *
 * Context: any; @poll must not be started (kvio_poll_start()) or queued.
 */
void kvio_poll_init(struct kvio_poll *poll, kvio_work_fn_t fn, __poll_t mask,
		    struct kvio_dev *dev, struct kvio_vq *vq)
{
	init_waitqueue_func_entry(&poll->wait, kvio_poll_wakeup);
	init_poll_funcptr(&poll->table, kvio_poll_func);
	poll->mask = mask;
	poll->dev = dev;
	poll->vq = vq;
	poll->wqh = NULL;
	kvio_work_init(&poll->work, fn);
}
EXPORT_SYMBOL_GPL(kvio_poll_init);

/**
 * kvio_poll_start() - start polling a file
 * @poll: the entry
 * @file: the file (an eventfd, a socket); the caller holds a reference to
 *	it until after kvio_poll_stop()
 *
 * From now on an event of @poll's mask on @file queues its work.  One
 * already pending queues it at once.  An entry already started is left
 * as it is.
 *
 * Context: process context; the caller serialises starting and stopping
 * @poll (a ring's kick poll: vq->mutex held).
 * Return: 0; -EINVAL if @file reports EPOLLERR (the entry is stopped
 * again; its work may have been queued).
 */
int kvio_poll_start(struct kvio_poll *poll, struct file *file)
{
	__poll_t mask;

	if (poll->wqh)
		return 0;

	mask = vfs_poll(file, &poll->table);
	if (mask & poll->mask)
		kvio_poll_queue(poll);
	if (mask & EPOLLERR) {
		kvio_poll_stop(poll);
		return -EINVAL;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(kvio_poll_start);

/**
 * kvio_poll_stop() - stop polling
 * @poll: the entry, started or not
 *
 * When this returns the wakeup callback no longer runs; work it queued
 * before may still run: flush (kvio_vq_flush(), kvio_dev_flush()) to
 * wait for it.
 *
 * Context: process context; the caller serialises starting and stopping
 * @poll (a ring's kick poll: vq->mutex held).
 */
void kvio_poll_stop(struct kvio_poll *poll)
{
	if (poll->wqh) {
		remove_wait_queue(poll->wqh, &poll->wait);
		poll->wqh = NULL;
	}
}
EXPORT_SYMBOL_GPL(kvio_poll_stop);

/**
 * kvio_poll_queue() - queue a poll entry's work as an event would
 * @poll: the entry, started or not
 *
 * The work goes to the ring's worker, or the device's default worker for
 * an entry without a ring; nothing happens if it is queued already or
 * there is no worker.  For a handler that must run again (a ring that
 * still has chains, a retry).
 *
 * Context: any, hard IRQ included; lock-free (RCU).
 */
void kvio_poll_queue(struct kvio_poll *poll)
{
	struct kvio_worker *worker;

	rcu_read_lock();
	if (poll->vq)
		worker = rcu_dereference(poll->vq->worker);
	else
		worker = rcu_dereference(poll->dev->worker);
	kvio_worker_queue(worker, &poll->work);
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(kvio_poll_queue);

/* VHOST_NEW_WORKER and friends (upstream 6.5 semantics). dev->mutex held. */

static int kvio_worker_new(struct kvio_dev *dev, void __user *argp)
{
	struct vhost_worker_state state = {};
	struct kvio_worker *worker;
	unsigned long id;
	int count = 0;

	/*
	 * A worker beyond one per ring could never run anything; the bound
	 * keeps an owner from creating kthreads without limit.
	 */
	xa_for_each(&dev->worker_xa, id, worker)
		count++;
	if (count > dev->nvqs)
		return -ENOSPC;

	worker = kvio_worker_create(dev, kvio_dev_worker(dev)->owner);
	if (IS_ERR(worker))
		return PTR_ERR(worker);

	state.worker_id = worker->id;
	if (copy_to_user(argp, &state, sizeof(state))) {
		kvio_worker_destroy(dev, worker);
		return -EFAULT;
	}
	return 0;
}

static int kvio_worker_free(struct kvio_dev *dev, void __user *argp)
{
	struct vhost_worker_state state;
	struct kvio_worker *worker;

	if (copy_from_user(&state, argp, sizeof(state)))
		return -EFAULT;
	worker = xa_load(&dev->worker_xa, state.worker_id);
	if (!worker)
		return -ENODEV;
	/* The default worker runs the device's own polls. */
	if (worker == kvio_dev_worker(dev) || worker->attached)
		return -EBUSY;
	kvio_worker_destroy(dev, worker);
	return 0;
}

static int kvio_worker_attach(struct kvio_dev *dev, void __user *argp)
{
	struct vhost_vring_worker ring_worker;
	struct kvio_worker *worker, *old;
	struct kvio_vq *vq;
	u32 idx;

	vq = kvio_dev_vq_from_user(dev, argp, &idx);
	if (IS_ERR(vq))
		return PTR_ERR(vq);
	if (copy_from_user(&ring_worker, argp, sizeof(ring_worker)))
		return -EFAULT;
	worker = xa_load(&dev->worker_xa, ring_worker.worker_id);
	if (!worker)
		return -ENODEV;

	mutex_lock(&vq->mutex);
	/*
	 * Moving a live ring would need the wakeup callbacks, which read
	 * vq->worker without a lock, to be fenced off first.  Rings are
	 * attached before they are started, so that is simply refused.
	 */
	if (vq->kick || kvio_vq_get_backend(vq)) {
		mutex_unlock(&vq->mutex);
		return -EBUSY;
	}
	old = rcu_dereference_protected(vq->worker,
					lockdep_is_held(&vq->mutex));
	rcu_assign_pointer(vq->worker, worker);
	mutex_unlock(&vq->mutex);

	worker->attached++;
	if (old) {
		old->attached--;
		/* Work queued before the switch (an IOTLB retry) finishes. */
		kvio_worker_flush(old);
	}
	return 0;
}

static int kvio_worker_get(struct kvio_dev *dev, void __user *argp)
{
	struct vhost_vring_worker ring_worker;
	struct kvio_worker *worker;
	struct kvio_vq *vq;
	u32 idx;

	vq = kvio_dev_vq_from_user(dev, argp, &idx);
	if (IS_ERR(vq))
		return PTR_ERR(vq);
	worker = rcu_dereference_protected(vq->worker,
					   lockdep_is_held(&dev->mutex));
	if (!worker)
		return -EINVAL;
	ring_worker.index = idx;
	ring_worker.worker_id = worker->id;
	if (copy_to_user(argp, &ring_worker, sizeof(ring_worker)))
		return -EFAULT;
	return 0;
}

long kvio_worker_ioctl(struct kvio_dev *dev, unsigned int cmd,
		       void __user *argp)
{
	long ret;

	/* Upstream order: no owner is -EINVAL, another process -EPERM. */
	if (!kvio_dev_has_owner(dev))
		return -EINVAL;
	ret = kvio_dev_check_owner(dev);
	if (ret)
		return ret;
	if (!kvio_dev_worker(dev))
		return -EOPNOTSUPP;	/* KVIO_DEV_NO_WORKER */

	switch (cmd) {
	case VHOST_NEW_WORKER:
		return kvio_worker_new(dev, argp);
	case VHOST_FREE_WORKER:
		return kvio_worker_free(dev, argp);
	case VHOST_ATTACH_VRING_WORKER:
		return kvio_worker_attach(dev, argp);
	case VHOST_GET_VRING_WORKER:
		return kvio_worker_get(dev, argp);
	default:
		return -ENOIOCTLCMD;
	}
}
