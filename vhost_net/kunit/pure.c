// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_net_kunit.ko: KUnit suite for kvio_net's logic that needs no
 * device, the TX fragment cache (frag_kunit.c).
 *
 * The cache is compiled into this module a second time, from the very same
 * source, so the module depends on neither kvio_core nor kvio_net.  Built
 * only against a kernel with CONFIG_KUNIT (vhost_net/Kbuild), loaded by
 * scripts/vm/run-kunit on the debug kernel.
 */
#include <linux/module.h>

#include "../frag.c"

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit suite for kvio_net: the TX fragment cache");
