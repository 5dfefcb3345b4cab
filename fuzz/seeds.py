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


T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13


def blk_hdr(typ, sector=0, le=True):
    return struct.pack("<IIQ" if le else ">IIQ", typ, 0, sector)


def dwz_seg(sector, count, flags=0):
    return struct.pack("<QII", sector, count, flags)


def blk_seed(readable, writable, le=True, ro=False, discard=True, wz=True,
             lbs_shift=0, capacity=2048, seg_max=1022, size_max=0,
             max_sectors=4194304, max_seg=1, arena_cut=None):
    """readable: bytes, or (length, first bytes); writable: lengths.

    Readable iovecs lie in the arena one after the other (no gaps but the
    ones given as ("gap", n)); arena_cut truncates the arena.
    """
    cfg = (1 if le else 0) | (2 if ro else 0) | (4 if discard else 0)
    cfg |= 8 if wz else 0
    iovs = []
    arena = b""
    gap = 0
    for r in readable:
        if isinstance(r, tuple) and r[0] == "gap":
            gap = r[1]
            continue
        length, head = (len(r), r) if isinstance(r, bytes) else r
        arena += b"\0" * gap + head + b"\0" * (length - len(head))
        iovs.append((length, gap))
        gap = 0
    if arena_cut is not None:
        arena = arena[:arena_cut]
    out = struct.pack("<BBQHIIIBBBB", cfg, lbs_shift, capacity, seg_max - 1,
                      size_max, max_sectors - 1, max_sectors - 1,
                      max_seg - 1, max_seg - 1, len(iovs), len(writable))
    for length, g in iovs:
        out += struct.pack("<IB", length, g)
    for length in writable:
        out += struct.pack("<I", length)
    return out + arena


def blk_req_seeds():
    h = blk_hdr
    sd = {}
    # Well-formed requests of each type and layout.
    sd["in"] = blk_seed([h(T_IN, 8)], [4096, 1])
    sd["in-status-with-data"] = blk_seed([h(T_IN, 8)], [512, 1025])
    sd["in-segments"] = blk_seed([h(T_IN)], [512] * 7 + [513])
    sd["out"] = blk_seed([h(T_OUT, 16) + b"\xaa" * 4096], [1])
    sd["out-split-header"] = blk_seed(
        [h(T_OUT)[:5], ("gap", 3), h(T_OUT)[5:12],
         h(T_OUT)[12:] + b"\1" * 512, b"\2" * 512], [1])
    sd["out-big-endian"] = blk_seed([h(T_OUT, 24, le=False), (1024, b"")],
                                    [1], le=False)
    sd["in-4k-blocks"] = blk_seed([h(T_IN, 8)], [8192, 1], lbs_shift=3)
    sd["flush"] = blk_seed([h(T_FLUSH)], [1])
    sd["get-id"] = blk_seed([h(T_GET_ID)], [20, 1])
    sd["get-id-short"] = blk_seed([h(T_GET_ID)], [8])
    sd["get-id-long"] = blk_seed([h(T_GET_ID)], [511, 1])
    sd["discard"] = blk_seed(
        [h(T_DISCARD) + dwz_seg(0, 8) + dwz_seg(64, 64)], [1], max_seg=4)
    sd["write-zeroes-unmap"] = blk_seed(
        [h(T_WZ), dwz_seg(8, 8, 1)], [1])
    sd["write-zeroes-split-seg"] = blk_seed(
        [h(T_WZ) + dwz_seg(8, 8)[:6], dwz_seg(8, 8)[6:]], [1])
    sd["dwz-last-sector"] = blk_seed(
        [h(T_WZ) + dwz_seg(2047, 1)], [1])
    # One request breaking each rule.
    sd["bad-no-status"] = blk_seed([h(T_IN)], [])
    sd["bad-short-header"] = blk_seed([h(T_IN)[:12]], [512, 1])
    sd["bad-header-unreadable"] = blk_seed([h(T_IN)], [512, 1], arena_cut=10)
    sd["bad-in-readable-data"] = blk_seed([h(T_IN) + b"\0" * 512], [512, 1])
    sd["bad-out-writable-data"] = blk_seed([h(T_OUT) + b"\0" * 512],
                                           [512, 1])
    sd["bad-zero-length"] = blk_seed([h(T_OUT)], [1])
    sd["bad-unaligned-length"] = blk_seed([h(T_IN)], [500, 1])
    sd["bad-unaligned-sector"] = blk_seed([h(T_IN, 1)], [4096, 1],
                                          lbs_shift=3)
    sd["bad-past-capacity"] = blk_seed([h(T_IN, 2047)], [1024, 1])
    sd["bad-sector-wraps"] = blk_seed([h(T_IN, 2**64 - 1)], [512, 1])
    sd["bad-size-max"] = blk_seed([h(T_IN)], [1024, 1], size_max=512)
    sd["bad-seg-max"] = blk_seed([h(T_IN)], [512, 512, 512, 1], seg_max=2)
    sd["bad-over-1g"] = blk_seed([h(T_IN)], [2**30, 512, 1],
                                 capacity=2**40)
    sd["bad-read-only"] = blk_seed([h(T_OUT) + b"\0" * 512], [1], ro=True)
    sd["bad-unknown-type"] = blk_seed([h(2)], [1])
    sd["bad-flush-data"] = blk_seed([h(T_FLUSH) + b"\0" * 512], [1])
    sd["bad-get-id-readable"] = blk_seed([h(T_GET_ID) + b"\0"], [20, 1])
    sd["bad-discard-not-acked"] = blk_seed(
        [h(T_DISCARD) + dwz_seg(0, 8)], [1], discard=False)
    sd["bad-discard-unmap"] = blk_seed(
        [h(T_DISCARD) + dwz_seg(0, 8, 1)], [1])
    sd["bad-dwz-flags"] = blk_seed([h(T_WZ) + dwz_seg(0, 8, 2)], [1])
    sd["bad-dwz-count-zero"] = blk_seed([h(T_WZ) + dwz_seg(0, 0)], [1])
    sd["bad-dwz-count-max"] = blk_seed([h(T_WZ) + dwz_seg(0, 16)], [1],
                                       max_sectors=8)
    sd["bad-dwz-range"] = blk_seed([h(T_WZ) + dwz_seg(2**64 - 8, 16)], [1])
    sd["bad-dwz-too-many"] = blk_seed(
        [h(T_DISCARD) + dwz_seg(0, 8) * 3], [1], max_seg=2)
    sd["bad-dwz-partial-seg"] = blk_seed([h(T_WZ) + dwz_seg(0, 8)[:8]], [1])
    sd["bad-dwz-read-only"] = blk_seed([h(T_WZ) + dwz_seg(0, 8)], [1],
                                       ro=True)
    sd["bad-dwz-unreadable"] = blk_seed([h(T_WZ) + dwz_seg(0, 8)], [1],
                                        arena_cut=20)
    return sd


def iommu_seed(req, in_len=4, features=7, fail=False, granule_shift=0,
               input_range=(0, 2**64 - 1), domains=(1, 1000), probe=512,
               resv=((0xfee00000, 0xfeefffff),)):
    """features: bit 0 MAP_UNMAP, 1 PROBE, 2 BYPASS_CONFIG."""
    out = bytes([features | (8 if fail else 0), granule_shift])
    out += struct.pack("<QQII", input_range[0], input_range[1], domains[0],
                       domains[1])
    out += struct.pack("<HB", probe, len(resv))
    for start, end in resv:
        out += struct.pack("<QQ", start, end)
    return out + struct.pack("<H", in_len) + req


def iommu_req_seeds():
    def attach(dom, ep, flags=0, res=0):
        return struct.pack("<B3xIII4s", 1, dom, ep, flags, bytes([res] * 4))

    def detach(dom, ep):
        return struct.pack("<B3xII8x", 2, dom, ep)

    def imap(dom, start, end, phys, flags=3):
        return struct.pack("<B3xIQQQI", 3, dom, start, end, phys, flags)

    def unmap(dom, start, end):
        return struct.pack("<B3xIQQ4x", 4, dom, start, end)

    def probe(ep):
        return struct.pack("<B3xI64x", 5, ep)

    sd = {}
    sd["attach"] = iommu_seed(attach(1, 1))
    sd["attach-bypass"] = iommu_seed(attach(1, 1, 1))
    sd["detach"] = iommu_seed(detach(1, 1))
    sd["map"] = iommu_seed(imap(1, 0x10000, 0x1ffff, 0x100000))
    sd["map-top"] = iommu_seed(imap(1, 2**64 - 4096, 2**64 - 1, 0))
    sd["unmap-all"] = iommu_seed(unmap(1, 0, 2**64 - 1))
    sd["probe"] = iommu_seed(probe(1), in_len=516)
    sd["bad-attach-range"] = iommu_seed(attach(1001, 1))
    sd["bad-attach-reserved"] = iommu_seed(attach(1, 1, 0, 1))
    sd["bad-attach-bypass"] = iommu_seed(attach(1, 1, 1), features=3)
    sd["bad-map-msi"] = iommu_seed(imap(1, 0xfee00000, 0xfee00fff, 0))
    sd["bad-map-align"] = iommu_seed(imap(1, 0x10800, 0x1ffff, 0))
    sd["bad-map-input"] = iommu_seed(imap(1, 0, 0xfff, 0),
                                     input_range=(0x1000, 0xffffffff))
    sd["bad-map-flags"] = iommu_seed(imap(1, 0x10000, 0x1ffff, 0, 0x10))
    sd["bad-map-unsupp"] = iommu_seed(imap(1, 0x10000, 0x1ffff, 0),
                                      features=6)
    sd["bad-unmap-range"] = iommu_seed(unmap(1, 0x2000, 0x1fff))
    sd["bad-probe-short"] = iommu_seed(probe(1), in_len=100)
    sd["bad-short-body"] = iommu_seed(imap(1, 0, 0xfff, 0)[:20])
    sd["bad-unknown"] = iommu_seed(b"\x09\0\0\0")
    sd["bad-read-fails"] = iommu_seed(attach(1, 1), fail=True)
    return sd


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for key, data in seeds.items():
        with open(os.path.join(d, "seed-" + key), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("chain", chain_seeds())
    write("log_bits", log_bits_seeds())
    write("blk_req", blk_req_seeds())
    write("iommu_req", iommu_req_seeds())
