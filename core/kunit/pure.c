// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_core_kunit.ko: KUnit suites for the engine's logic that needs no
 * owner process (chain_kunit.c, as_kunit.c, dev_kunit.c, log_kunit.c).
 *
 * The pure code is compiled into this module a second time, from the very
 * same sources, because kvio_core does not export it; the range maps are
 * kvio_core's exported ones.  Built only against a kernel with CONFIG_KUNIT
 * (core/Kbuild), loaded by scripts/vm/run-suite on the debug kernel.
 */
#include <linux/module.h>

#include "../chain.c"
#include "../log_bits.c"

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit suites for kvio_core: chains, range maps, dirty log");
