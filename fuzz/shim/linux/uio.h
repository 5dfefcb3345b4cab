/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Stand-in for <linux/uio.h>: struct iovec from the C library, which the
 * harnesses also include (the uapi header would define it a second time).
 */
#include <sys/uio.h>
