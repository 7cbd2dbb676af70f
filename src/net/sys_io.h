/* recv and send for the tunnel's hot path, without glibc's cancellation-point bookkeeping.
 *
 * In a process with more than one thread, glibc's recv() and send() switch the calling thread
 * to asynchronous cancellation before the syscall and back after it: two atomic
 * compare-and-swaps around every call. A profile at 64 connections × 64 B (four calls per
 * message) put the calls with their wrappers at 0.48 µs per message, 0.26 through syscall().
 * wssgate never cancels a thread (workers stop by their own loop's exit), so it has no use for
 * them: syscall() makes the same calls with the same errno convention and nothing around them. */
#ifndef WSSGATE_NET_SYS_IO_H
#define WSSGATE_NET_SYS_IO_H

#include <stddef.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline ssize_t sys_recv(int fd, void *p, size_t n, int flags)
{
    return syscall(SYS_recvfrom, fd, p, n, flags, NULL, NULL);
}

static inline ssize_t sys_send(int fd, const void *p, size_t n, int flags)
{
    return syscall(SYS_sendto, fd, p, n, flags, NULL, 0);
}

#endif
