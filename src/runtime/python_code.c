/* python_code.c: code objects of a CPython target turned into named frames "qualname
 * (file.py:LINE)": strings and line tables read with process_vm_readv, paths shortened, and the
 * validated cache (code objects are freed and their addresses reused). */
#include "python_internal.h"

#include "smolder/python_lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PY_MAX_STRING	  1024	    /* characters of a name or path read */
#define PY_MAX_LINE_TABLE (1 << 20) /* bytes of a line table read */

/* One cached code object: what was read, and the fields its checksum covers. */
struct python_code_entry {
	uint64_t code;
	uint64_t checksum;
	char *function; /* co_qualname (3.11+) or co_name */
	char *file;	/* shortened co_filename */
	uint8_t *table; /* line table */
	uint32_t table_len;
	int firstlineno;
	uint64_t last_instr, last_frame; /* the last lookup, most frames repeat */
	uint64_t validated_ns;		 /* when the checksum last matched (CLOCK_MONOTONIC) */
};

/* A code object's header is read again (one process_vm_readv) when its entry was last checked
 * longer ago than this. Why not at every lookup: record names ~30 frames per sample, 30000
 * lookups per second at 999 Hz, and a check proves only that the address holds the same code
 * object when it is made, not when the sample was taken (the ring buffer adds milliseconds
 * anyway); 10 ms adds little to that window and saves most reads of hot code objects. */
#define PY_REVALIDATE_NS (10 * 1000 * 1000ULL)

static uint64_t python_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
/* ---- code objects ---- */

static void python_utf8_put(char *out, size_t *n, size_t cap, uint32_t c)
{
	char tmp[4];
	size_t k;

	if (c < 0x80) {
		tmp[0] = (char)c;
		k = 1;
	} else if (c < 0x800) {
		tmp[0] = (char)(0xc0 | (c >> 6));
		tmp[1] = (char)(0x80 | (c & 63));
		k = 2;
	} else if (c < 0x10000) {
		tmp[0] = (char)(0xe0 | (c >> 12));
		tmp[1] = (char)(0x80 | ((c >> 6) & 63));
		tmp[2] = (char)(0x80 | (c & 63));
		k = 3;
	} else {
		tmp[0] = (char)(0xf0 | (c >> 18));
		tmp[1] = (char)(0x80 | ((c >> 12) & 63));
		tmp[2] = (char)(0x80 | ((c >> 6) & 63));
		tmp[3] = (char)(0x80 | (c & 63));
		k = 4;
	}
	if (*n + k < cap) {
		memcpy(out + *n, tmp, k);
		*n += k;
	}
}

/* Reads a str object as UTF-8 (malloc'd). Compact strings only (all that code objects hold):
 * PyASCIIObject.state bits kind (2-4), compact (5), ascii (6), the same in 3.8-3.13. */
int python_read_str(struct python_runtime *rt, uint64_t addr, char **out)
{
	struct {
		uint64_t refcnt, type;
		int64_t length;
		uint64_t hash;
		uint32_t state;
	} hdr;
	uint32_t kind;
	size_t n = 0, chars, cap;
	uint8_t *raw;
	char *s;
	int rc;

	if ((rc = python_read(rt, addr, &hdr, sizeof(hdr))))
		return rc;
	kind = (hdr.state >> 2) & 7;
	if (hdr.length < 0 || !(hdr.state & 32) || (kind != 1 && kind != 2 && kind != 4))
		return -EFAULT;
	chars = hdr.length > PY_MAX_STRING ? PY_MAX_STRING : (size_t)hdr.length;
	raw = malloc(chars * kind + 1);
	cap = chars * 4 + 1;
	s = malloc(cap);
	if (!raw || !s) {
		free(raw);
		free(s);
		return -ENOMEM;
	}
	rc = chars ? python_read(rt,
				 addr + ((hdr.state & 64) ? rt->off.unicode_ascii_data
							  : rt->off.unicode_compact_data),
				 raw, chars * kind)
		   : 0;
	if (rc) {
		free(raw);
		free(s);
		return rc;
	}
	for (size_t i = 0; i < chars; i++) {
		uint32_t c = kind == 1	 ? raw[i]
			     : kind == 2 ? ((uint16_t *)raw)[i]
					 : ((uint32_t *)raw)[i];

		python_utf8_put(s, &n, cap, c > 0x10ffff ? 0xfffd : c);
	}
	s[n] = '\0';
	free(raw);
	*out = s;
	return 0;
}

/* Reads a bytes object (line tables). */
static int python_read_bytes(struct python_runtime *rt, uint64_t addr, uint8_t **out, uint32_t *len)
{
	int64_t size;
	uint8_t *buf;
	int rc;

	/* PyBytesObject: ob_size at 16, ob_sval at 32 */
	if ((rc = python_read(rt, addr + 16, &size, sizeof(size))))
		return rc;
	if (size < 0 || size > PY_MAX_LINE_TABLE)
		return -EFAULT;
	buf = malloc(size ? (size_t)size : 1);
	if (!buf)
		return -ENOMEM;
	if (size && (rc = python_read(rt, addr + 32, buf, (size_t)size))) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = (uint32_t)size;
	return 0;
}

/* Paths as users read them: below site-packages/dist-packages, below the standard library's
 * lib/python3.X/, below the target's working directory (in that order: a venv or an interpreter
 * kept under the working directory still gives "requests/api.py" and "threading.py"); anything
 * else in full. */
static char *python_short_path(const struct python_runtime *rt, const char *path)
{
	const char *p, *best = NULL;
	size_t cwd_len = strlen(rt->cwd);

	for (p = path; (p = strstr(p, "-packages/")); p++)
		if (p - path >= 5 && (!strncmp(p - 4, "site", 4) || !strncmp(p - 4, "dist", 4)))
			best = p + strlen("-packages/");
	if (best)
		return strdup(best);
	p = strstr(path, "/lib/python3.");
	if (p) {
		const char *slash = strchr(p + strlen("/lib/python3."), '/');

		if (slash && slash[1])
			return strdup(slash + 1);
	}
	if (cwd_len > 1 && !strncmp(path, rt->cwd, cwd_len) && path[cwd_len] == '/')
		return strdup(path + cwd_len + 1);
	return strdup(path);
}

static uint64_t python_checksum(const uint64_t *words, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= words[i];
		h *= 1099511628211ULL;
		h ^= h >> 29;
	}
	return h;
}

static uint64_t python_field(const uint8_t *hdr, uint32_t off)
{
	uint64_t v = 0;

	if (off != PY_NO_OFFSET)
		memcpy(&v, hdr + off, sizeof(v));
	return v;
}

/* Reads what a code entry holds. */
static int python_code_load(struct python_runtime *rt, struct python_code_entry *e,
			    const uint8_t *hdr)
{
	const struct python_offsets *o = &rt->off;
	char *filename = NULL;
	int rc;

	rc = python_read_str(rt,
			     python_field(hdr, o->minor >= 11 ? o->code_qualname : o->code_name),
			     &e->function);
	if (rc)
		return rc;
	rc = python_read_str(rt, python_field(hdr, o->code_filename), &filename);
	if (rc)
		return rc;
	e->file = python_short_path(rt, filename);
	free(filename);
	if (!e->file)
		return -ENOMEM;
	rc = python_read_bytes(rt, python_field(hdr, o->code_linetable), &e->table, &e->table_len);
	if (rc)
		return rc;
	e->firstlineno = (int32_t)python_field(hdr, o->code_firstlineno);
	return 0;
}

static void python_code_clear(struct python_code_entry *e)
{
	free(e->function);
	free(e->file);
	free(e->table);
	memset(e, 0, sizeof(*e));
}

int python_runtime_frame(struct python_runtime *rt, uint64_t code, uint64_t instr, uint64_t *frame)
{
	const struct python_offsets *o = &rt->off;
	uint8_t hdr[PY_CODE_HEADER_MAX];
	size_t hdr_len = o->minor >= 11 ? o->code_adaptive : 176;
	struct python_code_entry *e = NULL;
	uint64_t words[6], checksum = 0, index, type;
	int64_t offset;
	uint64_t now;
	int rc, line;

	if (u64_map_get(&rt->code_index, code, &index))
		e = &rt->codes[index];
	now = python_now_ns();
	if (e && e->function && now - e->validated_ns < PY_REVALIDATE_NS) {
		rt->stats.code_cache_hits++;
		goto named;
	}
	rc = rt->target_gone ? -ESRCH : python_read(rt, code, hdr, hdr_len);
	if (rc == -ESRCH && e && e->function) {
		/* The target exited: the entry was validated while it ran. */
		rt->stats.code_unverified++;
		goto named;
	}
	if (rc) {
		rt->stats.code_unreadable++;
		return -EFAULT;
	}
	memcpy(&type, hdr + 8, sizeof(type));
	if (type != rt->code_type_addr) {
		rt->stats.code_stale++;
		return -ESTALE;
	}
	words[0] = type;
	words[1] = python_field(hdr, o->code_filename);
	words[2] = python_field(hdr, o->code_name);
	words[3] = python_field(hdr, o->code_qualname);
	words[4] = python_field(hdr, o->code_linetable);
	words[5] = python_field(hdr, o->code_firstlineno) & 0xffffffff;
	checksum = python_checksum(words, 6);
	if (e && e->function && e->checksum == checksum) {
		rt->stats.code_cache_hits++;
		e->validated_ns = now;
		goto named;
	}
	if (!e) {
		if (rt->n_codes == rt->cap_codes) {
			size_t cap = rt->cap_codes ? 2 * rt->cap_codes : 256;
			struct python_code_entry *grown = realloc(rt->codes, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			rt->codes = grown;
			rt->cap_codes = cap;
		}
		if (u64_map_put(&rt->code_index, code, rt->n_codes))
			return -ENOMEM;
		e = &rt->codes[rt->n_codes++];
		memset(e, 0, sizeof(*e));
	} else {
		/* The address now holds another code object (the old one was freed). */
		python_code_clear(e);
	}
	e->code = code;
	rc = python_code_load(rt, e, hdr);
	if (rc) {
		python_code_clear(e);
		e->code = code;
		if (rc == -ENOMEM)
			return rc;
		rt->stats.code_unreadable++;
		return -EFAULT;
	}
	e->checksum = checksum;
	e->validated_ns = now;
	e->last_frame = 0;
named:
	if (e->last_frame && e->last_instr == instr) {
		*frame = e->last_frame;
		rt->stats.frames_named++;
		return 0;
	}
	if (o->minor >= 11)
		offset = instr ? (int64_t)(instr - (code + o->code_adaptive)) : -1;
	else if (o->minor == 10)
		offset = (int64_t)(int32_t)instr * 2;
	else
		offset = (int32_t)instr;
	line = python_lines_lookup(python_lines_format(o->minor), e->table, e->table_len,
				   e->firstlineno, offset);
	rc = frame_names_intern(rt->names, FRAME_KIND_PYTHON, e->function, e->file,
				line > 0 ? (uint32_t)line : 0, frame);
	if (rc)
		return rc;
	e->last_instr = instr;
	e->last_frame = *frame;
	rt->stats.frames_named++;
	return 0;
}

void python_code_cache_free(struct python_runtime *rt)
{
	for (size_t i = 0; i < rt->n_codes; i++)
		python_code_clear(&rt->codes[i]);
	free(rt->codes);
	u64_map_release(&rt->code_index);
}
