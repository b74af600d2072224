/* python.c: CPython runtime discovery and frame naming (include/smolder/python.h). First landing:
 * the interface only; python_runtime_open reports ENOSYS until the implementation lands, so
 * callers already take their native-only path. */
#include "smolder/python.h"

#include <errno.h>
#include <string.h>

struct python_runtime *python_runtime_open(pid_t pid, struct frame_names *names)
{
	(void)pid;
	(void)names;
	errno = ENOSYS;
	return NULL;
}

void python_runtime_free(struct python_runtime *rt)
{
	(void)rt;
}

const char *python_runtime_version(const struct python_runtime *rt)
{
	return "";
}

const char *python_runtime_object(const struct python_runtime *rt)
{
	return "";
}

int python_runtime_bpf_config(const struct python_runtime *rt, struct smolder_python_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	return -ENOSYS;
}

int python_runtime_frame(struct python_runtime *rt, uint64_t code, uint64_t instr, uint64_t *frame)
{
	return -ENOSYS;
}

bool python_runtime_is_eval_frame(const struct python_runtime *rt, uint64_t addr)
{
	return false;
}

bool python_runtime_is_internal(const struct python_runtime *rt, uint64_t addr)
{
	return false;
}

int python_runtime_read_threads(struct python_runtime *rt, struct python_thread **threads,
				size_t *n)
{
	*threads = NULL;
	*n = 0;
	return -ENOSYS;
}

int python_runtime_thread_name(struct python_runtime *rt, uint64_t pthread_id, char *buf,
			       size_t len)
{
	return -ENOSYS;
}

size_t python_runtime_merge(const struct python_runtime *rt, const uint64_t *native,
			    size_t n_native, const uint64_t *py, const uint32_t *py_flags,
			    size_t n_py, bool keep_native, uint64_t *out, size_t cap)
{
	size_t n = n_native < cap ? n_native : cap;

	memcpy(out, native, n * sizeof(*out));
	return n;
}

void python_runtime_stats(const struct python_runtime *rt, struct python_runtime_stats *out)
{
	memset(out, 0, sizeof(*out));
}
