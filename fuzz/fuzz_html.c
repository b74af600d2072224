/* fuzz_html.c: libFuzzer target over the HTML report writer (report/html.c, html_chart.c) and the
 * flame graph library's embedded mode. Input: a profile JSON document, optionally followed by a
 * NUL byte and folded stacks drawn as the on-CPU graph. Oracles beyond the sanitizers: a page
 * written holds exactly one <script> element (no input reaches the page as markup), no '<' of a
 * name from the folded stacks survives unescaped, and an input that is not a JSON object is
 * refused with -EINVAL. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folded.h"
#include "smolder/html_report.h"

static size_t count(const char *s, size_t len, const char *needle)
{
	size_t n = 0, k = strlen(needle);

	for (size_t i = 0; i + k <= len; i++)
		if (!memcmp(s + i, needle, k))
			n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t json_len = nul ? (size_t)(nul - data) : size;
	struct html_report_input in = {.json = (const char *)data, .json_len = json_len};
	struct folded_profile *cpu = NULL;
	char *page = NULL;
	size_t page_len = 0;
	FILE *fp;
	int ret;

	if (nul && size - json_len > 1) {
		FILE *f = fmemopen((void *)(nul + 1), size - json_len - 1, "r");

		cpu = folded_profile_new();
		if (f && cpu)
			folded_profile_parse(cpu, f, NULL);
		if (f)
			fclose(f);
		in.cpu = cpu;
	}
	fp = open_memstream(&page, &page_len);
	if (!fp)
		abort();
	ret = html_report_write(fp, &in);
	fclose(fp);
	if (ret == 0) {
		if (count(page, page_len, "<script") != 1 || count(page, page_len, "</script") != 1)
			abort();
		/* Every '<' before the page's own script starts markup the writer made: a tag
		 * name, "/" or "!" (the script itself compares with '<'). */
		const char *script = strstr(page, "<script");

		for (size_t i = 0; i + 1 < (size_t)(script - page); i++)
			if (page[i] == '<' && !strchr("abcdefghijklmnopqrstuvwxyz/!", page[i + 1]))
				abort();
	} else if (ret != -EINVAL && ret != -ENOMEM) {
		abort();
	}
	free(page);
	folded_profile_free(cpu);
	return 0;
}
