/* tcp_listen.h: the TCP ports a process tree listens on, from /proc: the socket inodes among the
 * processes' fds matched against LISTEN entries of /proc/PID/net/tcp and tcp6 (the target's
 * network namespace). Used by `profile --during` to give a launched service's port as $PORT. */
#ifndef SMOLDER_TCP_LISTEN_H
#define SMOLDER_TCP_LISTEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define TCP_LISTEN_MAX_INODES 4096

/* Socket inodes of pid's open fds ("socket:[N]" links), appended to inodes (up to max; *n
 * counts them). 0 or -errno (-ESRCH/-ENOENT: gone, -EACCES). */
int tcp_listen_socket_inodes(pid_t pid, uint64_t *inodes, size_t max, size_t *n);
/* Parses a /proc/net/tcp or tcp6 table from fp: the lowest local port of a LISTEN (st 0A) entry
 * whose inode is among inodes[0..n). 0 when none. */
uint16_t tcp_listen_parse(FILE *fp, const uint64_t *inodes, size_t n);
/* The lowest TCP port root or any of its descendants listens on (IPv4 or IPv6), or 0 when none
 * yet. -errno when root cannot be read (-ESRCH: gone). */
int tcp_listen_port(pid_t root);

#endif
