/* launch_objects.c: the objects a program will map, before it runs. The program's PT_INTERP loader
 * is asked (`--list`, glibc's ld.so; the same resolution ldd shows, without running the program);
 * whatever it cannot answer falls back to the C library smolder itself maps, which is the one
 * nearly every program on the machine uses. */
#include "smolder/launch_objects.h"
#include "smolder/target.h"
#include "smolder/log.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIST_MAX_BYTES (1 << 20)

void launch_objects_release(struct launch_objects *objects)
{
	if (!objects)
		return;
	for (size_t i = 0; i < objects->n; i++)
		free(objects->paths[i]);
	free(objects->paths);
	objects->paths = NULL;
	objects->n = 0;
}

static int objects_add(struct launch_objects *objects, const char *path, size_t len)
{
	char **grown;
	char *copy;

	for (size_t i = 0; i < objects->n; i++) {
		if (strlen(objects->paths[i]) == len && memcmp(objects->paths[i], path, len) == 0)
			return 0;
	}
	copy = strndup(path, len);
	grown = realloc(objects->paths, (objects->n + 1) * sizeof(*grown));
	if (!copy || !grown) {
		free(copy);
		if (grown)
			objects->paths = grown;
		return -ENOMEM;
	}
	objects->paths = grown;
	objects->paths[objects->n++] = copy;
	return 0;
}

int launch_objects_parse_list(const char *text, struct launch_objects *objects)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n'), *p, *arrow, *stop;
		size_t len = end ? (size_t)(end - line) : strlen(line);
		int err;

		/* "\tname => /path (0xaddr)", "\t/path (0xaddr)", "\tname => not found" */
		p = line;
		while (p < line + len && (*p == ' ' || *p == '\t'))
			p++;
		arrow = memmem(p, len - (size_t)(p - line), "=> ", 3);
		if (arrow)
			p = arrow + 3;
		stop = memmem(p, len - (size_t)(p - line), " (", 2);
		if (!stop)
			stop = line + len;
		if (p < stop && *p == '/') {
			err = objects_add(objects, p, (size_t)(stop - p));
			if (err)
				return err;
		}
		line = end ? end + 1 : NULL;
	}
	return 0;
}

/* The PT_INTERP of an ELF program into interp. -ENOENT for an ELF file without one (static),
 * -ENOEXEC for anything else (a script). */
static int program_interpreter(const char *program, char *interp, size_t len)
{
	int fd = open(program, O_RDONLY | O_CLOEXEC), err = -ENOEXEC;
	Elf *elf;
	size_t nph;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &nph) == 0) {
		err = -ENOENT;
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;
			size_t n;
			char *raw;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_INTERP)
				continue;
			raw = elf_rawfile(elf, &n);
			if (raw && ph.p_offset < n && ph.p_filesz > 1 && ph.p_filesz < len &&
			    ph.p_offset + ph.p_filesz <= n) {
				memcpy(interp, raw + ph.p_offset, ph.p_filesz);
				interp[ph.p_filesz - 1] = '\0';
				err = 0;
			}
			break;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

#define LIST_TIMEOUT_MS 10000

/* Runs `interp --list program` and returns its stdout (malloc'd), or NULL (also when it gives no
 * answer within LIST_TIMEOUT_MS: it is killed). */
static char *run_list(const char *interp, const char *program)
{
	int pipefd[2], status = -1;
	size_t used = 0, cap = 4096;
	char *buf = malloc(cap);
	pid_t pid;

	if (!buf || pipe2(pipefd, O_CLOEXEC) != 0) {
		free(buf);
		return NULL;
	}
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		free(buf);
		return NULL;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(pipefd[1], STDOUT_FILENO);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		execl(interp, interp, "--list", program, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (int waited_ms = 0;;) {
		struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
		ssize_t n;
		int ready;

		/* Bounded: PT_INTERP names whatever the program says, and a loader that never
		 * answers must not hold the launch forever. */
		ready = poll(&pfd, 1, 100);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0) {
			waited_ms += 100;
			if (waited_ms < LIST_TIMEOUT_MS)
				continue;
			log_warn("%s --list %s: no answer in %d s; probing the system C library "
				 "only",
				 interp, program, LIST_TIMEOUT_MS / 1000);
			kill(pid, SIGKILL);
			used = 0;
			break;
		}
		if (used + 1 == cap) {
			char *grown = cap < LIST_MAX_BYTES ? realloc(buf, cap * 2) : NULL;

			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		n = read(pipefd[0], buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(pipefd[0]);
	/* A loader that closed its output but lingers is killed after 2 s more. */
	for (int i = 0; waitpid(pid, &status, WNOHANG) == 0; i++) {
		if (i == 200)
			kill(pid, SIGKILL);
		usleep(10000);
	}
	buf[used] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The C library mapped by this process: what a program with an unlistable loader most likely
 * uses too. */
static int add_own_libc(struct launch_objects *objects)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128];
	int err = 0;

	if (!maps)
		return 0;
	while (fgets(line, sizeof(line), maps)) {
		char *path = strchr(line, '/');

		if (path && strstr(path, "/libc.so")) {
			path[strcspn(path, "\n")] = '\0';
			err = objects_add(objects, path, strlen(path));
			break;
		}
	}
	fclose(maps);
	return err;
}

int launch_objects_resolve(const char *command, struct launch_objects *objects)
{
	char program[PATH_MAX], interp[PATH_MAX];
	char *list = NULL;
	int err;

	objects->paths = NULL;
	objects->n = 0;
	err = target_find_program(command, program);
	if (err)
		return err;
	err = objects_add(objects, program, strlen(program));
	if (err)
		return err;
	err = program_interpreter(program, interp, sizeof(interp));
	if (err == -ENOENT)
		return 0; /* static: the program is the only object */
	if (err == 0)
		list = run_list(interp, program);
	if (list) {
		err = launch_objects_parse_list(list, objects);
		free(list);
	} else {
		log_debug("leaks: cannot list the libraries of %s; probing the system C library",
			  program);
		err = add_own_libc(objects);
	}
	if (err)
		launch_objects_release(objects);
	return err;
}
