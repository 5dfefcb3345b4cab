/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel API differences, in one place.  kvio is written against the newest
 * kernel API it knows; each shim below recreates that API on older kernels and
 * names the release where the API changed.  The oldest supported kernel is 6.1
 * (Debian 12); scripts/compat-build compiles kvio against the newest kernel
 * of Debian 12's backports (6.12) on every test run and runs the selftests
 * on kvio's devices under that kernel.
 */
#ifndef _KVIO_COMPAT_H
#define _KVIO_COMPAT_H

#include <linux/version.h>

/* The oldest kernel kvio supports: Debian 12's. */
#if KERNEL_VERSION(6, 1, 0) > LINUX_VERSION_CODE
#error "kvio needs Linux 6.1 or newer"
#endif

#include <linux/blkdev.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/uio.h>

/* 6.2: iov_iter directions gained ITER_SOURCE / ITER_DEST names. */
#ifndef ITER_SOURCE
#define ITER_SOURCE	WRITE	/* data flows out of the iterator */
#define ITER_DEST	READ	/* data flows into the iterator */
#endif

/*
 * 6.5 ("block: introduce holder ops"): bd_prepare_to_claim() takes the
 * holder's operations (NULL: none), which older kernels do not have.
 */
#if KERNEL_VERSION(6, 5, 0) > LINUX_VERSION_CODE
#define bd_prepare_to_claim(bdev, holder, hops) \
	bd_prepare_to_claim((bdev), (holder))
#endif

/* 6.8: eventfd_signal() lost its count argument (it always added 1). */
#if KERNEL_VERSION(6, 8, 0) > LINUX_VERSION_CODE
#define eventfd_signal(ctx) eventfd_signal((ctx), 1)
#endif

/*
 * Freeze protection (sb_writers) of a write through vfs_iocb_iter_write()
 * that may complete asynchronously: kvio_kiocb_start_write() before the
 * call, kvio_kiocb_end_write() once the write is over, @queued when the call
 * returned -EIOCBQUEUED (then from the completion, in any context).
 *
 * From 6.8 ("fs: move kiocb_start_write() into vfs_iocb_iter_write()")
 * vfs_iocb_iter_write() takes it itself, for every file type, and drops it
 * unless the write was queued; the caller drops it for queued writes only.
 * Before 6.8 the caller takes it (regular files only, as aio and io_uring
 * did) and drops it whenever the write ends.  kiocb_start_write() appeared
 * in 6.6 (6.1 has it only through stable backports), so the older side is
 * written here with sb_start_write(), which every supported kernel has.
 * The lockdep release and reacquire let the protection be taken in one
 * task and dropped in another (the completion).
 */
#if KERNEL_VERSION(6, 8, 0) <= LINUX_VERSION_CODE
static inline void kvio_kiocb_start_write(struct kiocb *iocb)
{
}

static inline void kvio_kiocb_end_write(struct kiocb *iocb, bool queued)
{
	if (queued)
		kiocb_end_write(iocb);
}
#else
static inline void kvio_kiocb_start_write(struct kiocb *iocb)
{
	struct super_block *sb = file_inode(iocb->ki_filp)->i_sb;

	if (!S_ISREG(file_inode(iocb->ki_filp)->i_mode))
		return;
	sb_start_write(sb);
	__sb_writers_release(sb, SB_FREEZE_WRITE);
}

static inline void kvio_kiocb_end_write(struct kiocb *iocb, bool queued)
{
	struct super_block *sb = file_inode(iocb->ki_filp)->i_sb;

	if (!S_ISREG(file_inode(iocb->ki_filp)->i_mode))
		return;
	__sb_writers_acquired(sb, SB_FREEZE_WRITE);
	sb_end_write(sb);
}
#endif

#endif /* _KVIO_COMPAT_H */
