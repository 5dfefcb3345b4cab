/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The split-ring descriptor-chain parser (virtio 1.x 2.7.5, 2.7.4.2).
 *
 * kvio_chain_walk() follows one chain from its head, through an indirect
 * table if the chain names one, and turns its buffers into iovecs, with every
 * check a hostile driver calls for.  It never touches guest or user memory
 * itself: the caller's ops fetch ring descriptors, translate addresses and
 * copy indirect-table entries.  The same source therefore runs in kvio_core
 * (get_user, the memory table and the device IOTLB), in the KUnit suites
 * (tables in kernel memory) and under libFuzzer in userspace (fuzz/, with a
 * small header shim), so all three exercise one implementation.  (kvio_core
 * compiles the ops in rather than calling them through the table, and the
 * walk into kvio_vq_get_desc(): see core/chain.c.)
 *
 * Nothing here sleeps or allocates; ops may (kvio_core's do).
 */
#ifndef _KVIO_CHAIN_H
#define _KVIO_CHAIN_H

#include <linux/types.h>

struct iovec;
struct vring_desc;

/*
 * A written range to be marked in the dirty log.  (With
 * VIRTIO_F_ACCESS_PLATFORM acked the engine stores the range's user address
 * instead and maps it back through the memory table when logging; backends
 * only pass the array from kvio_vq_get_desc() to kvio_log_write().)
 */
struct kvio_log {
	u64 addr;
	u64 len;
};

/* Entries of an indirect table: no chain is longer than the largest ring. */
#define KVIO_CHAIN_INDIRECT_MAX	32768

/* Descriptors walked between two calls of ops->resched. */
#define KVIO_CHAIN_BATCH	256

/* Why kvio_chain_walk() refused a chain. */
enum kvio_chain_fault {
	KVIO_CHAIN_OK,
	KVIO_CHAIN_HEAD_RANGE,		/* head index >= num */
	KVIO_CHAIN_NEXT_RANGE,		/* next index >= num */
	KVIO_CHAIN_LOOP,		/* more than num descriptors */
	KVIO_CHAIN_DESC_FAULT,		/* ops->read_desc failed */
	KVIO_CHAIN_ORDER,		/* readable buffer after a writable one */
	KVIO_CHAIN_BUF_FAULT,		/* buffer wraps, unmapped, no permission */
	KVIO_CHAIN_IOV_FULL,		/* more iovecs than iov_count */
	KVIO_CHAIN_LOG_FULL,		/* more log entries than log_max */
	KVIO_CHAIN_IND_NEXT,		/* INDIRECT together with NEXT */
	KVIO_CHAIN_IND_LEN,		/* table length 0 or not a multiple of 16 */
	KVIO_CHAIN_IND_SIZE,		/* more than KVIO_CHAIN_INDIRECT_MAX */
	KVIO_CHAIN_IND_WRAP,		/* table wraps the address space */
	KVIO_CHAIN_IND_FAULT,		/* table unmapped, unreadable */
	KVIO_CHAIN_IND_NESTED,		/* INDIRECT inside an indirect table */
	KVIO_CHAIN_IND_NEXT_RANGE,	/* next index past the table */
	KVIO_CHAIN_IND_LOOP,		/* more visits than table entries */
	KVIO_CHAIN_NR_FAULTS
};

/* A linear piece of a translation: [start, last] -> [uaddr, ...]. */
struct kvio_chain_map {
	u64 start;
	u64 last;		/* inclusive, so a map may end at 2^64 - 1 */
	u64 uaddr;		/* translation of start */
};

struct kvio_chain;

struct kvio_chain_ops {
	/* Copies descriptor @i (< num) of the ring's table: 0 or -errno. */
	int (*read_desc)(struct kvio_chain *c, unsigned int i,
			 struct vring_desc *raw);
	/*
	 * Fills @map with a piece holding @addr (start <= addr <= last) that
	 * allows reading, or writing if @write.  0; -EFAULT if @addr is
	 * unmapped or lacks the permission; -EAGAIN after reporting a device
	 * IOTLB miss; -ENOMEM.
	 */
	int (*translate)(struct kvio_chain *c, u64 addr, bool write,
			 struct kvio_chain_map *map);
	/* Copies @len bytes at @uaddr, from translate(), to @buf. */
	int (*read)(struct kvio_chain *c, u64 uaddr, void *buf, size_t len);
	/* Optional: called every KVIO_CHAIN_BATCH descriptors. */
	void (*resched)(struct kvio_chain *c);
};

struct kvio_chain {
	/* Set by the caller. */
	const struct kvio_chain_ops *ops;
	void *priv;			/* for the ops */
	unsigned int num;		/* ring size: bounds head, next, loops */
	bool little_endian;		/* ring byte order */
	/*
	 * Log one user address per writable iovec (device IOTLB) instead of
	 * one guest address per writable descriptor.
	 */
	bool log_uaddr;
	/*
	 * A buffer whose address does not translate (-EFAULT: unmapped, no
	 * permission, wraps) costs the chain that buffer instead of ending
	 * the walk: it gives no iovec and no log entry, @faults counts it,
	 * and the rest of the chain is still walked and checked.  For an
	 * IOMMU domain, where that is a request to fail, not a bad ring.
	 */
	bool skip_faults;
	struct iovec *iov;
	unsigned int iov_count;
	struct kvio_log *log;		/* NULL: no log */
	unsigned int log_max;

	/* Results: iov[0, out) readable, iov[out, out + in) writable. */
	unsigned int out;
	unsigned int in;
	unsigned int log_num;
	/*
	 * Descriptors that gave iovecs: out + in - bufs iovecs come from
	 * buffers split where a translation ends (memory region, IOTLB map).
	 */
	unsigned int bufs;
	/* skip_faults: buffers left out, and the first one's address. */
	unsigned int faults;
	u64 fault_addr;
	/* The last descriptor's buffer is whole at the end of iov[]. */
	bool tail_mapped;
	enum kvio_chain_fault fault;
	unsigned int walked;		/* descriptors, for ops->resched */
	bool writable_seen;		/* a non-empty writable buffer */
};

/*
 * Walks the chain at @head.  0 when the whole chain is in c->iov (and
 * c->log), but for the c->faults buffers skip_faults left out; otherwise
 * a negative errno and c->fault says which rule failed: -EINVAL for a
 * malformed chain, -ENOBUFS when it needs more iovecs or log entries than
 * the caller has, -EFAULT for an address that does not translate, or the
 * error of an op (-EAGAIN, -ENOMEM, ...).  Results are meaningless after
 * an error.
 */
int kvio_chain_walk(struct kvio_chain *c, unsigned int head);

/* A short sentence for logs; "unknown" for an out-of-range value. */
const char *kvio_chain_fault_str(enum kvio_chain_fault fault);

#endif /* _KVIO_CHAIN_H */
