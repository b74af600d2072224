/* test_tcp_listen.c: LISTEN entries of /proc/net/tcp and tcp6 text matched to a process's socket
 * inodes (lowest port wins, other states and other processes' sockets ignored), and the real
 * thing: a socket this test listens on is found through /proc/self. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smolder/tcp_listen.h"

static const char tcp4[] =
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	"timeout inode\n"
	"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
	"0 1111 1 0000000000000000 100 0 0 10 0\n"
	"   1: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
	"0 2222 1 0000000000000000 100 0 0 10 0\n"
	"   2: 0100007F:0016 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        "
	"0 3333 1 0000000000000000 100 0 0 10 0\n";

static const char tcp6[] =
	"  sl  local_address                         remote_address                        st "
	"tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	"   0: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A "
	"00000000:00000000 00:00000000 00000000   100        0 4444 1 0000000000000000 100 0 0 "
	"10 0\n";

static uint16_t parse(const char *text, const uint64_t *inodes, size_t n)
{
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	uint16_t port;

	assert_non_null(fp);
	port = tcp_listen_parse(fp, inodes, n);
	fclose(fp);
	return port;
}

static void test_parse(void **state)
{
	uint64_t mine[] = {1111, 3333};
	uint64_t both[] = {2222, 1111};
	uint64_t other[] = {9999};
	uint64_t v6[] = {4444};

	(void)state;
	assert_int_equal(parse(tcp4, mine, 2), 8080); /* 3333 is established, not listening */
	assert_int_equal(parse(tcp4, both, 2), 80);   /* the lowest of two */
	assert_int_equal(parse(tcp4, other, 1), 0);
	assert_int_equal(parse(tcp4, NULL, 0), 0);
	assert_int_equal(parse(tcp6, v6, 1), 6379);
	assert_int_equal(parse("garbage\n\n", mine, 2), 0);
}

static void test_real_socket(void **state)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	(void)state;
	assert_true(fd >= 0);
	/* Not listening yet: nothing. */
	assert_int_equal(tcp_listen_port(getpid()), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	port = tcp_listen_port(getpid());
	assert_int_equal(port, ntohs(addr.sin_port));
	close(fd);
	assert_int_equal(tcp_listen_port(getpid()), 0);
	assert_true(tcp_listen_port(0x7ffffff0) < 0); /* no such process */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_real_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
