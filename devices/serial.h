/* devices/serial.h — 16550A UART (COM1) for the guest console.
 *
 * Register accesses come from vCPU threads (port I/O exits); output bytes go into a buffer
 * that the control thread drains to the host fd (the vCPU never blocks on the terminal),
 * woken through wake_fd. Input comes from the control thread. Everything is under one mutex.
 */
#ifndef ARCVMM_DEVICES_SERIAL_H
#define ARCVMM_DEVICES_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct serial;

/* set_irq(ctx, level) drives the UART's interrupt line. Returns NULL with errno. */
struct serial *serial_create(void (*set_irq)(void *ctx, bool level), void *ctx);
void serial_destroy(struct serial *s);
/* An eventfd that becomes readable when output is waiting (or input space freed). */
int serial_wake_fd(struct serial *s);
/* Port access at offset 0..7 from the base port; data is size bytes (only 1 is meaningful). */
void serial_pio(struct serial *s, unsigned offset, uint8_t *data, bool is_write);
/* True if output is buffered (in the UART or waiting for the host fd). The wake fd fires
 * on the first byte into an empty buffer and per line or per 1 KiB; a caller that sees this true polls again within a few
 * milliseconds to pick up a partial line (or to retry a host fd that was full). */
bool serial_has_output(struct serial *s);
/* Writes buffered output to fd without ever blocking (serial.c: a 64 KiB host buffer; fd's
 * flags are left alone). Control thread only. Returns bytes fd took now, or -EPIPE once
 * the reader is gone (output is then dropped and counted). */
/* True if a whole line (or a burst) is buffered: write it out now. */
bool serial_has_line(struct serial *s);
/* Clears the wake fd without writing anything out. */
void serial_ack_wake(struct serial *s);
long serial_flush(struct serial *s, int fd);
/* Output bytes dropped for a stuck or gone reader. */
uint64_t serial_get_dropped(struct serial *s);
/* Queues host input for the guest; returns how many bytes were taken (the rest: later). */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
/* The control thread stops draining: vCPUs waiting for buffer space go on (output is
 * dropped from then on). Called before stopping the vCPUs. */
void serial_close(struct serial *s);
/* If the guest printed a "Kernel panic - not syncing" line, copies it into buf. */
bool serial_saw_panic(struct serial *s, char *buf, size_t len);

/* Snapshot: the registers and the input the guest has not read (output is the owner's to
 * flush before). save writes at most cap bytes and returns how many, or -ENOSPC; restore
 * checks the blob like guest input (it comes from a file), sets the registers and drives
 * the interrupt line to match them. 0 or -EINVAL. */
#define SERIAL_STATE_MAX 4200
long serial_save(struct serial *s, void *buf, size_t cap);
int serial_restore(struct serial *s, const void *buf, size_t len);

#endif
