// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: the ISA devices.  COM1, a 16550A whose output is our stdout
 * and input our stdin; an i8042 stub that is there for its reset line; a
 * CMOS/RTC that tells the host's time.
 *
 * The UART behaves as QEMU's does, which Linux's 8250 driver knows well:
 * the transmitter is done the moment THR is written, so LSR always shows
 * THRE|TEMT and a THR-empty interrupt is pending again right after each
 * write; reading IIR while it reports THR empty acknowledges that, and
 * enabling IER.THRI with THR empty raises it (the driver's THRE test at
 * port start-up needs exactly this to keep interrupt-driven output).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "platform.h"

/* Register offsets and bits (Linux's include/uapi/linux/serial_reg.h). */
#define UART_RX		0	/* in: receive buffer (DLAB=0) */
#define UART_TX		0	/* out: transmit holding (DLAB=0) */
#define UART_DLL	0	/* divisor latch low (DLAB=1) */
#define UART_IER	1
#define UART_DLM	1	/* divisor latch high (DLAB=1) */
#define UART_IIR	2	/* in */
#define UART_FCR	2	/* out */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7

#define UART_IER_RDI	0x01
#define UART_IER_THRI	0x02
#define UART_IER_RLSI	0x04
#define UART_IER_MSI	0x08

#define UART_IIR_NO_INT	0x01
#define UART_IIR_MSI	0x00
#define UART_IIR_THRI	0x02
#define UART_IIR_RDI	0x04
#define UART_IIR_RLSI	0x06
#define UART_IIR_ID	0x0e
#define UART_IIR_FIFO	0xc0	/* FIFOs enabled (16550A) */

#define UART_FCR_ENABLE	0x01
#define UART_FCR_CLR_RCVR 0x02
#define UART_FCR_CLR_XMIT 0x04

#define UART_LCR_DLAB	0x80

#define UART_MCR_DTR	0x01
#define UART_MCR_RTS	0x02
#define UART_MCR_OUT1	0x04
#define UART_MCR_OUT2	0x08
#define UART_MCR_LOOP	0x10

#define UART_LSR_DR	0x01
#define UART_LSR_OE	0x02
#define UART_LSR_BI	0x10
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40
#define UART_LSR_INT_ANY 0x1e	/* OE, PE, FE, BI */

#define UART_MSR_DCTS	0x01
#define UART_MSR_DDSR	0x02
#define UART_MSR_TERI	0x04
#define UART_MSR_DDCD	0x08
#define UART_MSR_ANY_DELTA 0x0f
#define UART_MSR_CTS	0x10
#define UART_MSR_DSR	0x20
#define UART_MSR_RI	0x40
#define UART_MSR_DCD	0x80

#define UART_FIFO_SIZE	16

struct uart {
	struct vmm *vm;
	pthread_mutex_t lock;
	pthread_cond_t space;		/* the RX FIFO drained */
	struct vmm_region *region;
	int irq_level;

	uint8_t ier, iir, fcr, lcr, mcr, lsr, msr, scr;
	uint8_t dll, dlm;
	bool thr_ipending;

	uint8_t rx[UART_FIFO_SIZE];
	unsigned int rx_head, rx_count;

	/* stdin reader */
	pthread_t in_thread;
	bool in_started;
	int stop_fd;			/* eventfd: the reader ends */
	bool stopping;
};

static struct uart com1 = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.space = PTHREAD_COND_INITIALIZER,
	.stop_fd = -1,
};

/* Called with the lock held: IIR from the pending causes, then the line. */
static void uart_update_irq(struct uart *u)
{
	uint8_t iir = UART_IIR_NO_INT;
	int level;

	if ((u->ier & UART_IER_RLSI) && (u->lsr & UART_LSR_INT_ANY))
		iir = UART_IIR_RLSI;
	else if ((u->ier & UART_IER_RDI) && (u->lsr & UART_LSR_DR))
		iir = UART_IIR_RDI;
	else if ((u->ier & UART_IER_THRI) && u->thr_ipending)
		iir = UART_IIR_THRI;
	else if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_ANY_DELTA))
		iir = UART_IIR_MSI;
	u->iir = iir | (u->fcr & UART_FCR_ENABLE ? UART_IIR_FIFO : 0);

	level = iir != UART_IIR_NO_INT;
	if (level != u->irq_level) {
		u->irq_level = level;
		vmm_irq_line(u->vm, VMM_IRQ_COM1, level);
	}
}

static void rx_push(struct uart *u, uint8_t c)
{
	if (u->rx_count == UART_FIFO_SIZE) {
		u->lsr |= UART_LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = c;
	u->rx_count++;
	u->lsr |= UART_LSR_DR;
}

static uint8_t rx_pop(struct uart *u)
{
	uint8_t c = 0;

	if (u->rx_count) {
		c = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
		u->rx_count--;
		pthread_cond_signal(&u->space);
	}
	if (!u->rx_count)
		u->lsr &= ~UART_LSR_DR;
	return c;
}

static void rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
	u->lsr &= ~UART_LSR_DR;
	pthread_cond_signal(&u->space);
}

/* Loopback feeds the modem outputs back to the inputs (8250 datasheet). */
static uint8_t uart_msr(struct uart *u)
{
	uint8_t m = u->mcr, v = u->msr & UART_MSR_ANY_DELTA;

	if (!(m & UART_MCR_LOOP))
		return u->msr;
	if (m & UART_MCR_RTS)
		v |= UART_MSR_CTS;
	if (m & UART_MCR_DTR)
		v |= UART_MSR_DSR;
	if (m & UART_MCR_OUT1)
		v |= UART_MSR_RI;
	if (m & UART_MCR_OUT2)
		v |= UART_MSR_DCD;
	return v;
}

static void uart_tx(struct uart *u, uint8_t c)
{
	ssize_t n;

	if (u->mcr & UART_MCR_LOOP) {
		rx_push(u, c);
	} else {
		/*
		 * Unbuffered: the console is how the guest is watched.  A
		 * reader that stops reading blocks this vCPU; the signal that
		 * stops the vCPUs interrupts the write, which then gives up.
		 */
		do {
			n = write(STDOUT_FILENO, &c, 1);
		} while (n < 0 && errno == EINTR && !vmm_ended(u->vm));
	}
	u->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
	u->thr_ipending = true;
}

static void uart_write(struct uart *u, unsigned int reg, uint8_t v)
{
	uint8_t changed;

	switch (reg) {
	case UART_TX:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = v;
			return;
		}
		u->thr_ipending = false;
		uart_tx(u, v);
		break;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = v;
			return;
		}
		changed = (u->ier ^ v) & 0x0f;
		u->ier = v & 0x0f;
		/* THRI turned on with THR empty raises it again. */
		if (changed & UART_IER_THRI)
			u->thr_ipending = (u->ier & UART_IER_THRI) &&
					  (u->lsr & UART_LSR_THRE);
		break;
	case UART_FCR:
		if ((v ^ u->fcr) & UART_FCR_ENABLE)
			rx_clear(u);
		if (v & UART_FCR_CLR_RCVR)
			rx_clear(u);
		/* Nothing waits to be sent: the XMIT clear has nothing to do. */
		u->fcr = v & 0xc9;	/* trigger level, DMA mode, enable */
		break;
	case UART_LCR:
		u->lcr = v;
		return;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_LSR:
	case UART_MSR:
		return;			/* read-only (factory test only) */
	case UART_SCR:
		u->scr = v;
		return;
	}
	uart_update_irq(u);
}

static uint8_t uart_read(struct uart *u, unsigned int reg)
{
	uint8_t v = 0xff;

	switch (reg) {
	case UART_RX:
		if (u->lcr & UART_LCR_DLAB)
			return u->dll;
		v = rx_pop(u);
		break;
	case UART_IER:
		return u->lcr & UART_LCR_DLAB ? u->dlm : u->ier;
	case UART_IIR:
		v = u->iir;
		/* Reading IIR acknowledges a THR-empty interrupt it shows. */
		if ((v & UART_IIR_ID) == UART_IIR_THRI)
			u->thr_ipending = false;
		break;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = u->lsr;
		u->lsr &= ~(UART_LSR_OE | UART_LSR_BI);
		break;
	case UART_MSR:
		v = uart_msr(u);
		u->msr &= ~UART_MSR_ANY_DELTA;
		break;
	case UART_SCR:
		return u->scr;
	}
	uart_update_irq(u);
	return v;
}

static void uart_io(void *opaque, uint64_t offset, uint8_t *data,
		    uint32_t len, bool is_write)
{
	struct uart *u = opaque;
	uint32_t i;

	/*
	 * A wider access is that many byte accesses to consecutive ports; the
	 * bus only passes accesses that end inside the 8 ports.
	 */
	pthread_mutex_lock(&u->lock);
	for (i = 0; i < len && offset + i < 8; i++) {
		if (is_write)
			uart_write(u, offset + i, data[i]);
		else
			data[i] = uart_read(u, offset + i);
	}
	pthread_mutex_unlock(&u->lock);
}

/*
 * stdin to the RX FIFO.  The guest's reads pace us: we take no more than
 * the FIFO has room for.  EOF or an error only ends the input, never the
 * guest (tests run us with stdin at /dev/null).
 */
static void *uart_input(void *arg)
{
	struct uart *u = arg;
	struct pollfd pfd[2] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = u->stop_fd, .events = POLLIN },
	};
	uint8_t buf[UART_FIFO_SIZE];
	unsigned int room;
	ssize_t n, i;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&u->lock);
		while (u->rx_count == UART_FIFO_SIZE && !u->stopping)
			pthread_cond_wait(&u->space, &u->lock);
		room = UART_FIFO_SIZE - u->rx_count;
		stop = u->stopping;
		pthread_mutex_unlock(&u->lock);
		if (stop)
			break;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		n = read(STDIN_FILENO, buf, room);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;

		pthread_mutex_lock(&u->lock);
		for (i = 0; i < n; i++)
			rx_push(u, buf[i]);
		uart_update_irq(u);
		pthread_mutex_unlock(&u->lock);
	}
	return NULL;
}

int vmm_serial_init(struct vmm *vm)
{
	struct uart *u = &com1;
	int err;

	u->vm = vm;
	u->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	u->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	u->iir = UART_IIR_NO_INT;
	u->mcr = UART_MCR_OUT2;
	u->region = vmm_bus_register(vm, VMM_BUS_PIO, VMM_PORT_COM1, 8,
				     uart_io, u);
	if (!u->region) {
		fprintf(stderr, "kvio-vmm: COM1 ports taken\n");
		return -1;
	}
	u->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (u->stop_fd < 0) {
		fprintf(stderr, "kvio-vmm: eventfd: %s\n", strerror(errno));
		return -1;
	}
	err = pthread_create(&u->in_thread, NULL, uart_input, u);
	if (err) {
		fprintf(stderr, "kvio-vmm: serial input thread: %s\n",
			strerror(err));
		return -1;
	}
	u->in_started = true;
	return 0;
}

void vmm_serial_exit(struct vmm *vm)
{
	struct uart *u = &com1;
	uint64_t one = 1;

	if (u->in_started) {
		pthread_mutex_lock(&u->lock);
		u->stopping = true;
		pthread_cond_signal(&u->space);
		pthread_mutex_unlock(&u->lock);
		if (write(u->stop_fd, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(u->in_thread);
		pthread_join(u->in_thread, NULL);
		u->in_started = false;
	}
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	u->stop_fd = -1;
	if (u->region)
		vmm_bus_unregister(vm, u->region);
	u->region = NULL;
}

/*
 * The i8042.  The FADT says there is none, so Linux does not probe it, but
 * its reset line (command 0xfe) is one of Linux's reboot methods.  A few
 * commands answer so that a guest that probes anyway gives up cleanly: the
 * self-test passes, the configuration byte reads back, the rest is
 * swallowed.
 */
#define I8042_STS_OBF		0x01	/* output buffer full */
#define I8042_STS_SYS		0x04	/* system flag: self-test passed */
#define I8042_CMD_READ_CTR	0x20
#define I8042_CMD_WRITE_CTR	0x60
#define I8042_CMD_SELF_TEST	0xaa
#define I8042_CMD_RESET		0xfe

static struct {
	pthread_mutex_t lock;
	struct vmm *vm;
	uint8_t ctr, out, cmd;
	bool out_full;
} kbc = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.ctr = 0x30,		/* both ports disabled, no interrupts */
};

static void kbc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write)
{
	bool cmd_port = (uintptr_t)opaque;
	uint8_t v = data[0];

	memset(data + 1, 0xff, is_write ? 0 : len - 1);
	pthread_mutex_lock(&kbc.lock);
	if (offset) {
		if (!is_write)
			data[0] = 0xff;
	} else if (!is_write) {
		if (cmd_port) {
			data[0] = I8042_STS_SYS |
				  (kbc.out_full ? I8042_STS_OBF : 0);
		} else {
			data[0] = kbc.out;
			kbc.out_full = false;
		}
	} else if (cmd_port) {
		kbc.cmd = 0;
		switch (v) {
		case I8042_CMD_READ_CTR:
			kbc.out = kbc.ctr;
			kbc.out_full = true;
			break;
		case I8042_CMD_WRITE_CTR:
			kbc.cmd = v;
			break;
		case I8042_CMD_SELF_TEST:
			kbc.out = 0x55;
			kbc.out_full = true;
			break;
		case I8042_CMD_RESET:
			vmm_request_exit(kbc.vm, VMM_EXIT_RESET);
			break;
		}
	} else if (kbc.cmd == I8042_CMD_WRITE_CTR) {
		kbc.ctr = v;
		kbc.cmd = 0;
	}
	pthread_mutex_unlock(&kbc.lock);
}

/*
 * The CMOS RTC: the host's UTC time in BCD, 24-hour mode, never mid-update;
 * other CMOS bytes read 0 and writes are dropped.  Linux reads it when it
 * has no better wall clock; kvmclock usually is one.
 */
static struct {
	pthread_mutex_t lock;
	uint8_t index;
} cmos = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static uint8_t bcd(int v)
{
	return (v / 10) << 4 | v % 10;
}

static uint8_t cmos_reg(uint8_t index)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (index) {
	case 0x00: return bcd(tm.tm_sec);
	case 0x02: return bcd(tm.tm_min);
	case 0x04: return bcd(tm.tm_hour);
	case 0x06: return bcd(tm.tm_wday + 1);
	case 0x07: return bcd(tm.tm_mday);
	case 0x08: return bcd(tm.tm_mon + 1);
	case 0x09: return bcd(tm.tm_year % 100);
	case 0x0a: return 0x26;		/* 32.768 kHz, 1024 Hz, UIP clear */
	case 0x0b: return 0x02;		/* 24-hour, BCD, no interrupts */
	case 0x0d: return 0x80;		/* battery good */
	case 0x32: return bcd(tm.tm_year / 100 + 19);	/* century */
	default: return 0;
	}
}

static void cmos_io(void *opaque, uint64_t offset, uint8_t *data,
		    uint32_t len, bool is_write)
{
	(void)opaque;
	memset(data + 1, 0xff, is_write ? 0 : len - 1);
	pthread_mutex_lock(&cmos.lock);
	if (offset == 0) {
		if (is_write)
			cmos.index = data[0] & 0x7f;	/* bit 7: NMI mask */
		else
			data[0] = 0xff;
	} else if (!is_write) {
		data[0] = cmos_reg(cmos.index);
	}
	pthread_mutex_unlock(&cmos.lock);
}

int vmm_legacy_init(struct vmm *vm)
{
	kbc.vm = vm;
	if (!vmm_bus_register(vm, VMM_BUS_PIO, VMM_PORT_I8042_DATA, 1, kbc_io,
			      (void *)0) ||
	    !vmm_bus_register(vm, VMM_BUS_PIO, VMM_PORT_I8042_CMD, 1, kbc_io,
			      (void *)1) ||
	    !vmm_bus_register(vm, VMM_BUS_PIO, VMM_PORT_CMOS, 2, cmos_io,
			      NULL)) {
		fprintf(stderr, "kvio-vmm: legacy ports taken\n");
		return -1;
	}
	return 0;
}
