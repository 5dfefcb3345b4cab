// SPDX-License-Identifier: GPL-2.0-only
/*
 * uvblk: the userspace virtio-blk backend blk-bench compares kvio_blk with
 * (see uvblk.h): an iothread and an io_uring per ring, batched submission,
 * batched completion, EVENT_IDX.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <liburing.h>
#include <linux/virtio_blk.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "uvblk.h"

#define UVBLK_KICK_TAG		(~0ULL)
#define UVBLK_MAX_SEGS		64	/* buffers per chain, all included */
#define UVBLK_INDIRECT_MAX	1024	/* descriptors per indirect table */
#define UVBLK_HDR_LEN		16
#define UVBLK_MAX_BYTES		(1u << 30)

struct uvblk_seg {
	uint8_t *p;		/* NULL: not inside guest memory */
	uint32_t len;
	bool w;			/* device-writable */
};

struct uvblk_req {
	struct iovec iov[UVBLK_MAX_SEGS];
	unsigned int niov;
	uint8_t *status;
	uint32_t bytes;
	bool in;
	bool busy;
};

struct uvblk_q {
	struct uvblk *u;
	unsigned int index;
	struct uvblk_ring r;
	struct io_uring ring;
	bool ring_ok;
	struct uvblk_req *reqs;		/* by head */
	uint16_t last_avail;		/* next avail entry to take */
	uint16_t used_idx;		/* next used entry to write */
	uint16_t published;		/* used->idx as last stored */
	uint16_t signalled;		/* used->idx at the last call decision */
	uint64_t kick_val;		/* the kick read's buffer */
	unsigned int inflight;
	bool more;			/* pop stopped early: chains left */
	bool broken;			/* no more chains are taken */
	pthread_t th;
	bool started;
	pid_t tid;
	int err;
	struct uvblk_stats st;
};

struct uvblk {
	struct uvblk_mem mem;
	int fd;
	uint64_t capacity;
	bool event_idx;
	unsigned int nq;
	int stop;
	struct uvblk_q q[UVBLK_MAXQ];
};

static void *uvblk_ptr(const struct uvblk *u, uint64_t gpa, uint64_t len)
{
	uint64_t off = gpa - u->mem.gpa;

	if (gpa < u->mem.gpa || off > u->mem.size || len > u->mem.size - off)
		return NULL;
	return u->mem.hva + off;
}

static void uvblk_inc(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static void uvblk_set_err(struct uvblk_q *q, int err)
{
	if (!q->err)
		q->err = err;
}

/* ------------------------------------------------------------ rings */

/* Write a used entry (published later by uvblk_publish). */
static void uvblk_used(struct uvblk_q *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &q->r.used->ring[q->used_idx % q->r.num];

	e->id = htole32(head);
	e->len = htole32(len);
	q->used_idx++;
	uvblk_inc(&q->st.reqs, 1);
}

static void uvblk_answer(struct uvblk_q *q, uint16_t head, uint8_t *status,
			 uint8_t s, uint32_t len)
{
	*status = s;
	uvblk_used(q, head, len);
}

/* Store used->idx and call the driver if it asked for it. */
static void uvblk_publish(struct uvblk_q *q)
{
	uint16_t new = q->used_idx, old = q->signalled, ev;
	bool need;

	if (new == q->published)
		return;
	/* The entries and status bytes before the index. */
	__atomic_store_n(&q->r.used->idx, htole16(new), __ATOMIC_RELEASE);
	q->published = new;
	/* The index before the read of the driver's request. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->u->event_idx) {
		ev = le16toh(__atomic_load_n(&q->r.avail->ring[q->r.num],
					     __ATOMIC_ACQUIRE));
		need = (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
	} else {
		need = !(le16toh(__atomic_load_n(&q->r.avail->flags,
						 __ATOMIC_ACQUIRE)) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	}
	q->signalled = new;
	if (need) {
		uint64_t one = 1;

		if (write(q->r.call, &one, sizeof(one)) != sizeof(one))
			uvblk_set_err(q, -errno);
		uvblk_inc(&q->st.calls, 1);
	}
}

/*
 * The chain at head as segments, in ring order.  -EPROTO: the chain cannot
 * be followed (loop, bad index, bad indirect table, too many buffers);
 * 0 otherwise (a segment outside guest memory has p NULL).
 */
static int uvblk_walk(struct uvblk_q *q, uint16_t head,
		      struct uvblk_seg *segs, unsigned int *nsegs)
{
	const struct vring_desc *table = q->r.desc;
	unsigned int max = q->r.num, i = head, steps = 0, n = 0;
	bool indirect = false;
	struct vring_desc d;
	uint16_t flags;

	for (;;) {
		if (i >= max || steps++ >= max)
			return -EPROTO;
		memcpy(&d, &table[i], sizeof(d));
		/* One copy: the driver may rewrite the descriptor. */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			uint32_t len = le32toh(d.len);

			if (indirect || n || (flags & VRING_DESC_F_NEXT) ||
			    !len || len % sizeof(d) ||
			    len / sizeof(d) > UVBLK_INDIRECT_MAX)
				return -EPROTO;
			table = uvblk_ptr(q->u, le64toh(d.addr), len);
			if (!table)
				return -EPROTO;
			indirect = true;
			max = len / sizeof(d);
			i = 0;
			steps = 0;
			continue;
		}
		if (n == UVBLK_MAX_SEGS)
			return -EPROTO;
		segs[n].len = le32toh(d.len);
		segs[n].w = flags & VRING_DESC_F_WRITE;
		segs[n].p = uvblk_ptr(q->u, le64toh(d.addr), segs[n].len);
		n++;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d.next);
	}
	*nsegs = n;
	return 0;
}

/* Copy the first len bytes of segs[0..n) into buf; false if too short. */
static bool uvblk_copy(const struct uvblk_seg *segs, unsigned int n,
		       void *buf, uint32_t len)
{
	uint8_t *b = buf;
	unsigned int i;
	uint32_t k;

	for (i = 0; i < n && len; i++) {
		k = segs[i].len < len ? segs[i].len : len;
		memcpy(b, segs[i].p, k);
		b += k;
		len -= k;
	}
	return !len;
}

/*
 * segs[0..n) less skip bytes at the front and trim at the end, as iovecs of
 * req; the byte count, or -1 when it does not fit.
 */
static int64_t uvblk_iov(struct uvblk_req *req, const struct uvblk_seg *segs,
			 unsigned int n, uint64_t skip, uint64_t trim)
{
	uint64_t total = 0, len, off, bytes;
	unsigned int i;

	for (i = 0; i < n; i++)
		total += segs[i].len;
	if (skip + trim > total)
		return -1;
	bytes = total - skip - trim;
	req->niov = 0;
	off = 0;
	for (i = 0; i < n && off < skip + bytes; i++) {
		uint64_t s = off, e = off + segs[i].len;

		off = e;
		if (e <= skip)
			continue;
		if (s < skip)
			s = skip;
		if (e > skip + bytes)
			e = skip + bytes;
		len = e - s;
		if (!len)
			continue;
		req->iov[req->niov].iov_base = segs[i].p + (s - (off - segs[i].len));
		req->iov[req->niov].iov_len = len;
		req->niov++;
	}
	return bytes;
}

static struct io_uring_sqe *uvblk_sqe(struct uvblk_q *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {
		/* Never with SQ entries >= ring size + 1; be safe anyway. */
		io_uring_submit(&q->ring);
		uvblk_inc(&q->st.enters, 1);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

/* Take the chain at head: answered now or submitted.  -EPROTO: stop. */
static int uvblk_take(struct uvblk_q *q, uint16_t head)
{
	struct uvblk_seg segs[UVBLK_MAX_SEGS];
	struct virtio_blk_outhdr hdr;
	struct uvblk_req *req = &q->reqs[head];
	struct io_uring_sqe *sqe;
	unsigned int n, nout, i;
	uint64_t out_len = 0, in_len = 0, sector, cap = q->u->capacity;
	uint8_t *status;
	int64_t bytes;
	uint32_t type;

	if (req->busy || uvblk_walk(q, head, segs, &n))
		return -EPROTO;
	/* The status byte: the last byte of the last (writable) buffer. */
	if (!segs[n - 1].w || !segs[n - 1].len || !segs[n - 1].p)
		return -EPROTO;
	status = segs[n - 1].p + segs[n - 1].len - 1;

	for (nout = 0; nout < n && !segs[nout].w; nout++)
		out_len += segs[nout].len;
	for (i = nout; i < n; i++) {
		if (!segs[i].w)		/* readable after writable */
			return uvblk_answer(q, head, status,
					    VIRTIO_BLK_S_IOERR, 1), 0;
		in_len += segs[i].len;
	}
	for (i = 0; i < n; i++)
		if (!segs[i].p)
			return uvblk_answer(q, head, status,
					    VIRTIO_BLK_S_IOERR, 1), 0;
	if (!uvblk_copy(segs, nout, &hdr, sizeof(hdr)))
		return uvblk_answer(q, head, status, VIRTIO_BLK_S_IOERR, 1), 0;
	type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		if (out_len != UVBLK_HDR_LEN)
			break;
		bytes = uvblk_iov(req, segs + nout, n - nout, 0, 1);
		req->in = true;
		goto rw;
	case VIRTIO_BLK_T_OUT:
		if (in_len != 1)
			break;
		bytes = uvblk_iov(req, segs, nout, UVBLK_HDR_LEN, 0);
		req->in = false;
		goto rw;
	case VIRTIO_BLK_T_FLUSH:
		if (out_len != UVBLK_HDR_LEN || in_len != 1)
			break;
		sqe = uvblk_sqe(q);
		if (!sqe)
			break;
		io_uring_prep_fsync(sqe, q->u->fd, IORING_FSYNC_DATASYNC);
		sqe->user_data = head;
		req->niov = 0;
		req->bytes = 0;
		req->in = false;
		req->status = status;
		req->busy = true;
		q->inflight++;
		return 0;
	default:
		uvblk_answer(q, head, status, VIRTIO_BLK_S_UNSUPP, 1);
		return 0;
	}
	uvblk_answer(q, head, status, VIRTIO_BLK_S_IOERR, 1);
	return 0;
rw:
	if (bytes <= 0 || bytes > UVBLK_MAX_BYTES || bytes % 512 ||
	    sector > cap || (uint64_t)bytes / 512 > cap - sector) {
		uvblk_answer(q, head, status, VIRTIO_BLK_S_IOERR, 1);
		return 0;
	}
	sqe = uvblk_sqe(q);
	if (!sqe) {
		uvblk_answer(q, head, status, VIRTIO_BLK_S_IOERR, 1);
		return 0;
	}
	if (req->in)
		io_uring_prep_readv(sqe, q->u->fd, req->iov, req->niov,
				    sector * 512);
	else
		io_uring_prep_writev(sqe, q->u->fd, req->iov, req->niov,
				     sector * 512);
	sqe->user_data = head;
	req->bytes = bytes;
	req->status = status;
	req->busy = true;
	q->inflight++;
	return 0;
}

/*
 * Every chain the driver made available, notifications off meanwhile
 * (EVENT_IDX: avail_event stays behind until the end, then the ring is read
 * once more).  At most one ring's worth per call (q->more says whether
 * chains are left).
 */
static int uvblk_pop(struct uvblk_q *q)
{
	unsigned int taken = 0, num = q->r.num;
	uint16_t avail, head;
	int r;

	q->more = false;
	for (;;) {
		avail = le16toh(__atomic_load_n(&q->r.avail->idx,
						__ATOMIC_ACQUIRE));
		if ((uint16_t)(avail - q->last_avail) > num)
			return -EPROTO;
		while (q->last_avail != avail) {
			if (taken++ == num) {
				q->more = true;
				return 0;
			}
			head = le16toh(__atomic_load_n(
				&q->r.avail->ring[q->last_avail % num],
				__ATOMIC_RELAXED));
			q->last_avail++;
			if (head >= num)
				return -EPROTO;
			r = uvblk_take(q, head);
			if (r)
				return r;
		}
		if (!q->u->event_idx)
			return 0;
		/* Kick me at the next entry, then look again. */
		__atomic_store_n((uint16_t *)&q->r.used->ring[num],
				 htole16(q->last_avail), __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (le16toh(__atomic_load_n(&q->r.avail->idx,
					    __ATOMIC_ACQUIRE)) == q->last_avail)
			return 0;
	}
}

static void uvblk_complete(struct uvblk_q *q, uint16_t head, int res)
{
	struct uvblk_req *req;

	if (head >= q->r.num || !q->reqs[head].busy) {
		uvblk_set_err(q, -EPROTO);
		return;
	}
	req = &q->reqs[head];
	req->busy = false;
	q->inflight--;
	/* A read that reached the file may have written any of its bytes. */
	uvblk_answer(q, head, req->status,
		     res >= 0 && (uint32_t)res == req->bytes ?
		     VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR,
		     req->in ? req->bytes + 1 : 1);
}

static int uvblk_arm_kick(struct uvblk_q *q)
{
	struct io_uring_sqe *sqe = uvblk_sqe(q);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, q->r.kick, &q->kick_val, sizeof(q->kick_val),
			   0);
	sqe->user_data = UVBLK_KICK_TAG;
	return 0;
}

static void *uvblk_thread(void *arg)
{
	struct uvblk_q *q = arg;
	struct io_uring_cqe *cqe;
	bool kicked = true, stopping = false, rearm;
	unsigned int seen, cq_head;
	int r;

	__atomic_store_n(&q->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELAXED);
	r = uvblk_arm_kick(q);
	if (r) {
		uvblk_set_err(q, r);
		return NULL;
	}
	for (;;) {
		if (__atomic_load_n(&q->u->stop, __ATOMIC_ACQUIRE))
			stopping = true;
		if (stopping && !q->inflight)
			break;
		if ((kicked || q->more) && !stopping && !q->broken) {
			kicked = false;
			r = uvblk_pop(q);
			if (r) {
				/* Like a VMM's virtio_error(): the ring stops. */
				q->broken = true;
				uvblk_set_err(q, r);
			}
			uvblk_publish(q);
		}
		/* Submit what was prepared and sleep till something ends. */
		if (q->more && !stopping && !q->broken)
			r = io_uring_submit(&q->ring);
		else
			r = io_uring_submit_and_wait(&q->ring, 1);
		uvblk_inc(&q->st.enters, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			uvblk_set_err(q, r);
			break;
		}
		seen = 0;
		rearm = false;
		io_uring_for_each_cqe(&q->ring, cq_head, cqe) {
			if (cqe->user_data == UVBLK_KICK_TAG) {
				if (cqe->res < 0 && cqe->res != -EAGAIN &&
				    cqe->res != -EINTR)
					uvblk_set_err(q, cqe->res);
				uvblk_inc(&q->st.kicks, 1);
				kicked = true;
				rearm = true;
			} else {
				uvblk_complete(q, (uint16_t)cqe->user_data,
					       cqe->res);
			}
			seen++;
		}
		io_uring_cq_advance(&q->ring, seen);
		uvblk_publish(q);
		if (rearm && !stopping) {
			r = uvblk_arm_kick(q);
			if (r) {
				uvblk_set_err(q, r);
				break;
			}
		}
	}
	return NULL;
}

/* ------------------------------------------------------------- API */

struct uvblk *uvblk_start(const struct uvblk_mem *mem,
			  const struct uvblk_ring *rings, unsigned int nq,
			  int fd, uint64_t capacity, bool event_idx)
{
	struct uvblk *u;
	unsigned int i;
	int r;

	if (!nq || nq > UVBLK_MAXQ) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < nq; i++) {
		if (!rings[i].num || rings[i].num > 32768 ||
		    (rings[i].num & (rings[i].num - 1))) {
			errno = EINVAL;
			return NULL;
		}
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->mem = *mem;
	u->fd = fd;
	u->capacity = capacity;
	u->event_idx = event_idx;
	u->nq = nq;
	for (i = 0; i < nq; i++) {
		struct uvblk_q *q = &u->q[i];

		q->u = u;
		q->index = i;
		q->r = rings[i];
		q->reqs = calloc(q->r.num, sizeof(*q->reqs));
		if (!q->reqs) {
			r = -ENOMEM;
			goto err;
		}
		/* Every chain in flight plus the kick read fit the SQ. */
		r = io_uring_queue_init(2 * q->r.num, &q->ring, 0);
		if (r)
			goto err;
		q->ring_ok = true;
	}
	for (i = 0; i < nq; i++) {
		r = -pthread_create(&u->q[i].th, NULL, uvblk_thread, &u->q[i]);
		if (r)
			goto err;
		u->q[i].started = true;
	}
	return u;
err:
	uvblk_stop(u);
	errno = -r;
	return NULL;
}

pid_t uvblk_tid(struct uvblk *u, unsigned int qi)
{
	return qi < u->nq ? __atomic_load_n(&u->q[qi].tid, __ATOMIC_RELAXED) :
			    0;
}

void uvblk_stats(struct uvblk *u, unsigned int qi, struct uvblk_stats *st)
{
	const struct uvblk_stats *s = &u->q[qi].st;

	st->reqs = __atomic_load_n(&s->reqs, __ATOMIC_RELAXED);
	st->kicks = __atomic_load_n(&s->kicks, __ATOMIC_RELAXED);
	st->calls = __atomic_load_n(&s->calls, __ATOMIC_RELAXED);
	st->enters = __atomic_load_n(&s->enters, __ATOMIC_RELAXED);
}

int uvblk_stop(struct uvblk *u)
{
	uint64_t one = 1;
	unsigned int i;
	int err = 0;

	__atomic_store_n(&u->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < u->nq; i++) {
		struct uvblk_q *q = &u->q[i];

		if (q->started) {
			/* Wakes the thread through its kick read. */
			if (write(q->r.kick, &one, sizeof(one)) < 0)
				err = err ? err : -errno;
			pthread_join(q->th, NULL);
		}
		if (q->ring_ok)
			io_uring_queue_exit(&q->ring);
		free(q->reqs);
		if (!err)
			err = q->err;
	}
	free(u);
	return err;
}
