/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel API differences, in one place.  kvio is written against the newest
 * kernel API it knows; each shim below recreates that API on older kernels and
 * names the release where the API changed.  The oldest supported kernel is 6.1
 * (Debian 12).
 */
#ifndef _KVIO_COMPAT_H
#define _KVIO_COMPAT_H

#include <linux/version.h>
#include <linux/eventfd.h>
#include <linux/uio.h>

/* 6.2: iov_iter directions gained ITER_SOURCE / ITER_DEST names. */
#ifndef ITER_SOURCE
#define ITER_SOURCE	WRITE	/* data flows out of the iterator */
#define ITER_DEST	READ	/* data flows into the iterator */
#endif

/* 6.8: eventfd_signal() lost its count argument (it always added 1). */
#if KERNEL_VERSION(6, 8, 0) > LINUX_VERSION_CODE
#define eventfd_signal(ctx) eventfd_signal((ctx), 1)
#endif

#endif /* _KVIO_COMPAT_H */
