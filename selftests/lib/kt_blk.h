/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kt_blk: the virtio-blk half of the harness, on top of kt.h.
 *
 *  - struct kt_blk: a /dev/kvio-blk device with up to KT_BLK_MAXQ request
 *    rings (kt.h's struct kt_dev only has two), each with per-slot guest
 *    buffers: a 16-byte header, a data area and a status byte per slot;
 *  - requests: kt_blk_post() lays out the usual header | data | status
 *    chain in a slot, kt_blk_reap() takes completions back, kt_blk_do() is
 *    both for one request;
 *  - backends: a sparse file in /tmp, or a null_blk device made through
 *    configfs (memory-backed, optionally with a volatile cache, discard,
 *    slow completions), opened buffered or O_DIRECT.
 */
#ifndef KT_BLK_H
#define KT_BLK_H

#include <linux/virtio_blk.h>
#include "kt.h"

#define KT_BLK_DEV	"/dev/kvio-blk"
#define KT_BLK_MAXQ	16

/* main(): run the cases on /dev/kvio-blk unless told otherwise. */
int kt_blk_main(int argc, char **argv, const struct kt_case *cases,
		size_t ncases);

struct kt_blk_q {
	struct kt_vq vq;
	unsigned int slots;
	uint32_t slot_size;	/* data bytes per slot */
	uint64_t hdr_gpa;	/* slots x 16 */
	uint64_t status_gpa;	/* slots x 1 */
	uint64_t data_gpa;	/* slots x slot_size */
};

struct kt_blk {
	struct kt_dev d;
	unsigned int nq;
	struct kt_blk_q q[KT_BLK_MAXQ];
};

/*
 * Open t->path, negotiate features, set up nq rings of num entries with
 * num slots of slot_size data bytes each.  With workers, every ring but 0
 * gets a worker of its own (VHOST_NEW_WORKER + ATTACH_VRING_WORKER).
 * KT_PASS, KT_FAIL or KT_SKIP.
 */
int kt_blk_open(struct kt_blk *b, const struct kt_target *t, uint64_t features,
		unsigned int nq, unsigned int num, uint32_t slot_size,
		bool workers);
void kt_blk_close(struct kt_blk *b);
/* Ring setup only (kt_blk_open does it): for rings brought up later. */
int kt_blk_q_setup(struct kt_blk *b, unsigned int qi, unsigned int num,
		   uint32_t slot_size);
void kt_blk_q_release(struct kt_blk_q *q);

/* KVIO_BLK_SET_BACKEND (index 0): 0 or -errno. */
int kt_blk_backend(struct kt_blk *b, int fd);
/* KVIO_BLK_SET_CONFIG / GET_CONFIG: 0 or -errno. */
int kt_blk_set_config(struct kt_blk *b, const struct kvio_blk_config *cfg);
int kt_blk_get_config(struct kt_blk *b, struct kvio_blk_config *cfg);
void kt_blk_config_default(struct kvio_blk_config *cfg);

/* Slot helpers. */
void *kt_blk_data(struct kt_blk *b, unsigned int qi, unsigned int slot);
uint8_t *kt_blk_status(struct kt_blk *b, unsigned int qi, unsigned int slot);

/* Does a request of this type carry device-writable data (IN, GET_ID)? */
bool kt_blk_type_in(uint32_t type);

/*
 * Lay out header (type, sector) | len data bytes of the slot (readable or
 * writable as the type says; none when len is 0) | status byte, publish
 * it (not kicked).  The status byte is set to 0xee first.  Returns the head
 * or -errno.
 */
int kt_blk_post(struct kt_blk *b, unsigned int qi, unsigned int slot,
		uint32_t type, uint64_t sector, uint32_t len, bool indirect);
/*
 * Next completion of ring qi within timeout_ms: 1 with *slot (the token),
 * *status (the slot's status byte) and *used_len; 0 on timeout; -errno.
 */
int kt_blk_reap(struct kt_blk *b, unsigned int qi, unsigned int *slot,
		uint8_t *status, uint32_t *used_len, int timeout_ms);
/*
 * One request in slot 0 of ring qi, waited for: buf (len bytes) is copied in
 * first for OUT-like types and out afterwards for IN-like ones.  Returns
 * the status byte (0..255) or -errno; *used_len if not NULL.
 */
int kt_blk_do(struct kt_blk *b, unsigned int qi, uint32_t type,
	      uint64_t sector, void *buf, uint32_t len, uint32_t *used_len);
/* KT_PASS when the request ends with want_status (and want_used if != ~0). */
int kt_blk_expect(struct kt_blk *b, unsigned int qi, uint32_t type,
		  uint64_t sector, void *buf, uint32_t len, int want_status,
		  uint32_t want_used);

/*
 * A request on ring 0 in @slot's header, with its data buffer (@len bytes)
 * and status byte at addresses the caller chooses (IOVAs behind a vIOMMU):
 * posted, not kicked.  0 or -1.
 */
int kt_blk_chain_post(struct kt_blk *b, unsigned int slot, uint32_t type,
		      uint64_t sector, uint64_t data, uint32_t len,
		      uint64_t status);
/* kt_blk_chain_post(), kicked, then its used entry: the used length, or -1. */
long kt_blk_chain(struct kt_blk *b, unsigned int slot, uint32_t type,
		  uint64_t sector, uint64_t data, uint32_t len, uint64_t status);

/* A request whose chain the caller lays out: kick, wait, its status. */
int kt_blk_wait_one(struct kt_blk *b, unsigned int qi, uint8_t *status,
		    uint32_t *used_len, int timeout_ms);

/* ------------------------------------------------------ backends */

/*
 * A file of size bytes in /tmp, unlinked, filled with pattern seed (0:
 * left sparse).  Returns an O_RDWR fd (plus extra open flags) or -errno.
 */
int kt_blk_tmpfile(uint64_t size, uint32_t seed, int flags);

struct kt_nullb {
	char dir[96];		/* configfs directory */
	char dev[32];		/* /dev/<name> */
	char name[16];		/* disk name: the configfs directory's */
	int index;
};

struct kt_nullb_opts {
	unsigned int size_mb;
	unsigned int blocksize;		/* 0: 512 */
	unsigned int cache_mb;		/* volatile write cache; 0: none */
	bool discard;
	unsigned int irqmode;		/* 0 none, 1 softirq, 2 timer */
	unsigned long completion_nsec;	/* with irqmode 2 */
	unsigned int hw_queue_depth;	/* 0: default */
};

/* Memory-backed null_blk through configfs: KT_PASS, KT_SKIP or KT_FAIL. */
int kt_nullb_create(struct kt_nullb *n, const struct kt_nullb_opts *o);
/*
 * kt_nullb_create() and its device opened read-write with O_DIRECT into
 * *fd (asynchronous I/O in kvio_blk); on failure nothing is left.
 */
int kt_nullb_create_direct(struct kt_nullb *n, const struct kt_nullb_opts *o,
			   int *fd);
void kt_nullb_destroy(struct kt_nullb *n);
/* Field (0-based) of /sys/block/<name>/stat; -1 on error. */
long long kt_nullb_stat(const struct kt_nullb *n, int field);
/* Sum of /sys/block/<name>/inflight; -1 on error. */
long kt_nullb_inflight(const struct kt_nullb *n);
/*
 * kt_nullb_inflight(), looked at once more 20 ms later when it is not 0:
 * the disk counts a request until its tag is freed, a moment after the bio
 * completed (and after the device may have told the guest), while a
 * request still in flight stays for a whole completion time.
 */
long kt_nullb_inflight_settled(const struct kt_nullb *n);

#define KT_STAT_READS		0
#define KT_STAT_WRITES		4
#define KT_STAT_DISCARDS	11
#define KT_STAT_FLUSHES		15

/* Read (O_DIRECT if the fd has it: buf must then be aligned). */
int kt_pread_all(int fd, void *buf, size_t len, uint64_t off);
int kt_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Aligned scratch memory (never freed: the case is a child process). */
void *kt_blk_alloc(size_t len);

#endif /* KT_BLK_H */
