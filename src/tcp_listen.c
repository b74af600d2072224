/* tcp_listen.c: which TCP port a process tree listens on (see tcp_listen.h). The socket inode is
 * the join key: /proc/PID/fd links name it, /proc/PID/net/tcp{,6} lists it with its state and
 * local port, so a port is attributed to the tree only when one of its processes holds the
 * listening socket (not merely because something on the host listens). */
#include "smolder/tcp_listen.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smolder/target.h"

#define TCP_STATE_LISTEN 0x0A

int tcp_listen_socket_inodes(pid_t pid, uint64_t *inodes, size_t max, size_t *n)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && *n < max) {
		char fd_path[64 + 256];
		ssize_t len;
		unsigned long long ino;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fd_path, sizeof(fd_path), "%s/%s", path, de->d_name);
		len = readlink(fd_path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) == 1)
			inodes[(*n)++] = ino;
	}
	closedir(dir);
	return 0;
}

uint16_t tcp_listen_parse(FILE *fp, const uint64_t *inodes, size_t n)
{
	char line[512];
	unsigned best = 0;

	/* "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout
	 * inode ...": addresses are HEX_IP:HEX_PORT (IPv6: 32 hex digits). */
	while (fgets(line, sizeof(line), fp)) {
		char local[64];
		unsigned port, state;
		unsigned long long ino;
		const char *colon;

		if (sscanf(line, " %*u: %63s %*s %x %*s %*s %*s %*u %*u %llu", local, &state,
			   &ino) != 3)
			continue; /* the header, or a line of another shape */
		if (state != TCP_STATE_LISTEN || !(colon = strrchr(local, ':')) ||
		    sscanf(colon + 1, "%x", &port) != 1 || port == 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (inodes[i] == ino) {
				if (!best || port < best)
					best = port;
				break;
			}
		}
	}
	return (uint16_t)best;
}

int tcp_listen_port(pid_t root)
{
	uint64_t *inodes = malloc(TCP_LISTEN_MAX_INODES * sizeof(*inodes));
	pid_t *tree = NULL;
	size_t n = 0, n_tree = 0;
	unsigned best = 0;
	int err;

	if (!inodes)
		return -ENOMEM;
	err = tcp_listen_socket_inodes(root, inodes, TCP_LISTEN_MAX_INODES, &n);
	if (err)
		goto out;
	/* Services that fork their listener (pre-fork servers, a shell wrapper) count too. */
	if (target_descendants(&root, 1, &tree, &n_tree) == 0)
		for (size_t i = 0; i < n_tree; i++)
			tcp_listen_socket_inodes(tree[i], inodes, TCP_LISTEN_MAX_INODES, &n);
	for (int v6 = 0; n && v6 < 2; v6++) {
		char path[64];
		FILE *fp;
		uint16_t port;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)root, v6 ? "tcp6" : "tcp");
		fp = fopen(path, "re");
		if (!fp)
			continue;
		port = tcp_listen_parse(fp, inodes, n);
		fclose(fp);
		if (port && (!best || port < best))
			best = port;
	}
	err = (int)best;
out:
	free(tree);
	free(inodes);
	return err;
}
