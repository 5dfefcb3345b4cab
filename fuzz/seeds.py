#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the seed corpus (corpus/NAME/seed-*) for the fuzz harnesses.

The seeds are committed; this script only documents and regenerates them.
Each seed is a small, meaningful input in the harness's layout (see the
comment at the top of fuzz_NAME.c), so the fuzzer starts from chains that
reach every part of the parser instead of finding the layout by chance.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
ARENA_BASE = 0x100000000


def desc(addr, length, flags=0, nxt=0, le=True):
    return struct.pack("<QIHH" if le else ">QIHH", addr, length, flags, nxt)


def chain_seed(table, regions, num, head=0, arena=b"", le=True, log=False,
               log_uaddr=False, iovs=16, logs=16, fail=0, desc_fail=False,
               miss_again=False):
    """regions: (gpa start, length, arena offset, perm)."""
    cfg = (1 if le else 0) | (2 if log else 0) | (4 if log_uaddr else 0)
    cfg |= (8 if desc_fail else 0) | (16 if miss_again else 0)
    out = bytes([cfg, num - 1, iovs - 1, logs, head, fail, len(regions)])
    for start, length, off, perm in regions:
        out += struct.pack("<QIHB", start, length - 1, off, perm)
    tab = b"".join(table)
    tab += b"\0" * (num * 16 - len(tab))
    return out + tab + arena


def chain_seeds():
    ram = [(0x1000, 0x10000, 0, 3)]
    ro_rw = [(0x1000, 0x1000, 0, 1), (0x2000, 0x1000, 0x1000, 2)]
    seeds = {}
    seeds["direct-one"] = chain_seed([desc(0x1000, 64)], ram, 4)
    seeds["direct-out-in-log"] = chain_seed(
        [desc(0x1000, 16, F_NEXT, 1), desc(0x1100, 512, F_NEXT, 2),
         desc(0x2000, 512, F_WRITE | F_NEXT, 3), desc(0x3000, 1, F_WRITE)],
        ram, 8, log=True)
    seeds["direct-log-uaddr"] = chain_seed(
        [desc(0x1800, 16, F_NEXT, 1), desc(0x2000, 4096, F_WRITE)],
        ro_rw, 4, log=True, log_uaddr=True)
    # A buffer across two regions adjacent in user memory (one iovec) and
    # across two that are not (two iovecs).
    seeds["split-merged"] = chain_seed(
        [desc(0x1f00, 0x200, F_WRITE)],
        [(0x1000, 0x1000, 0, 3), (0x2000, 0x1000, 0x1000, 3)], 2)
    seeds["split-apart"] = chain_seed(
        [desc(0x1f00, 0x200, F_WRITE)],
        [(0x1000, 0x1000, 0, 3), (0x2000, 0x1000, 0x4000, 3)], 2)
    # An indirect table of three entries at guest 0x1000 = arena offset 0.
    ind = (desc(0x1800, 32, F_NEXT, 2) + desc(0x1900, 64, F_WRITE) +
           desc(0x1a00, 8, F_WRITE | F_NEXT, 1))
    seeds["indirect"] = chain_seed(
        [desc(0x1000, 48, F_INDIRECT)], ram, 2, arena=ind, log=True)
    seeds["indirect-after-direct"] = chain_seed(
        [desc(0x1c00, 16, F_NEXT, 1), desc(0x1000, 48, F_INDIRECT)],
        ram, 2, arena=ind)
    # A table split across two regions, non-adjacent in user memory.
    split = [(0x1000, 0x18, 0, 1), (0x1018, 0x1000, 0x100, 3)]
    arena = ind[:0x18] + b"\0" * (0x100 - 0x18) + ind[0x18:]
    seeds["indirect-split"] = chain_seed(
        [desc(0x1000, 48, F_INDIRECT)], split, 2, arena=arena)
    seeds["big-endian"] = chain_seed(
        [desc(0x1000, 16, F_NEXT, 1, le=False),
         desc(0x2000, 16, F_WRITE, le=False)], ram, 2, le=False)
    seeds["loop"] = chain_seed(
        [desc(0x1000, 16, F_NEXT, 1), desc(0x1000, 16, F_NEXT, 0)], ram, 2)
    # One malformed chain per rule, each next to the valid shape it breaks.
    ind2 = desc(0x1800, 32, F_NEXT, 1) + desc(0x1900, 64, F_WRITE | F_NEXT, 2)
    ind2 += desc(0x1a00, 8, F_WRITE)
    seeds["bad-head"] = chain_seed([desc(0x1000, 16)], ram, 2, head=2)
    seeds["bad-next"] = chain_seed([desc(0x1000, 16, F_NEXT, 2)], ram, 2)
    seeds["bad-order"] = chain_seed(
        [desc(0x1000, 16, F_WRITE | F_NEXT, 1), desc(0x1100, 16)], ram, 2)
    seeds["bad-unmapped"] = chain_seed([desc(0x20000, 16)], ram, 2)
    seeds["bad-readonly"] = chain_seed([desc(0x1800, 16, F_WRITE)], ro_rw, 2)
    seeds["bad-iov-full"] = chain_seed(
        [desc(0x1f00, 0x200, F_NEXT, 1), desc(0x1000, 16)],
        [(0x1000, 0x1000, 0, 3), (0x2000, 0x1000, 0x4000, 3)], 2, iovs=2)
    seeds["bad-log-full"] = chain_seed(
        [desc(0x1000, 16, F_WRITE | F_NEXT, 1), desc(0x1100, 16, F_WRITE)],
        ram, 2, log=True, logs=1)
    seeds["bad-indirect-next"] = chain_seed(
        [desc(0x1000, 48, F_INDIRECT | F_NEXT, 1), desc(0x1000, 16)], ram,
        2, arena=ind)
    seeds["bad-indirect-len"] = chain_seed(
        [desc(0x1000, 40, F_INDIRECT)], ram, 2, arena=ind)
    seeds["bad-indirect-size"] = chain_seed(
        [desc(0x1000, 32769 * 16, F_INDIRECT)], ram, 2, arena=ind)
    seeds["bad-indirect-wrap"] = chain_seed(
        [desc(2**64 - 16, 32, F_INDIRECT)], ram, 2)
    seeds["bad-indirect-unmapped"] = chain_seed(
        [desc(0x40000, 48, F_INDIRECT)], ram, 2)
    seeds["bad-indirect-nested"] = chain_seed(
        [desc(0x1000, 32, F_INDIRECT)], ram, 2,
        arena=desc(0x1800, 16, F_NEXT, 1) + desc(0x1010, 16, F_INDIRECT))
    # The table is followed by readable memory that holds more entries.
    seeds["bad-indirect-next-past"] = chain_seed(
        [desc(0x1000, 32, F_INDIRECT)], ram, 2,
        arena=desc(0x1800, 32, F_NEXT, 2) + desc(0x1900, 8, F_WRITE) + ind2)
    seeds["bad-indirect-loop"] = chain_seed(
        [desc(0x1000, 32, F_INDIRECT)], ram, 2,
        arena=desc(0x1800, 16, F_NEXT, 1) + desc(0x1900, 16, F_NEXT, 0))
    seeds["bad-desc-fault"] = chain_seed(
        [desc(0x1000, 16, F_NEXT, 1), desc(0x1100, 16)], ram, 2, fail=1,
        desc_fail=True)
    seeds["miss-again"] = chain_seed([desc(0x20000, 16)], ram, 2,
                                     miss_again=True)
    seeds["near-2-64"] = chain_seed(
        [desc(2**64 - 0x100, 0x100, F_WRITE)],
        [(2**64 - 0x1000, 0x1000, 0, 3)], 1)
    return seeds


def log_seed(log_base, gpa, length, region=(0, 0, 0), uaddr=0, ulast=0,
             bit=0, nbits=0, page=b""):
    return struct.pack("<8Q2H", log_base, gpa, length, region[0], region[1],
                       region[2], uaddr, ulast, bit, nbits) + page


def log_bits_seeds():
    return {
        "one-page": log_seed(0x7f0000000000, 0x1000, 1),
        "page-crossing": log_seed(0x7f0000000ff8, 0xfff, 2,
                                  (0x1000, 0x4fff, 0x7f1000000000),
                                  0x7f1000000800, 0x7f1000002000, 5, 70),
        "bitmap-page-crossing": log_seed(0x7f0000000ffe, 0x8000000, 0x40000000,
                                         bit=32760, nbits=8),
        "len-zero": log_seed(0x1000, 0x5000, 0),
        "near-2-64": log_seed(2**64 - 0x1000, 2**64 - 0x2000, 0x2000,
                              (2**64 - 0x10000, 2**64 - 1, 0x10000),
                              0x10000, 0x20000, 64, 128),
        "words": log_seed(0, 0, 0, bit=3, nbits=300, page=b"\x55" * 64),
    }


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for key, data in seeds.items():
        with open(os.path.join(d, "seed-" + key), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("chain", chain_seeds())
    write("log_bits", log_bits_seeds())
