/* junit.c: JUnit XML for CI systems (Jenkins, GitLab, GitHub Actions reporters): the structure
 * they share is <testsuites> holding <testsuite name tests failures errors skipped time
 * timestamp hostname> holding <testcase classname name time>, a failed case carrying
 * <failure message type>. Each metric `check` evaluated is one test case. */
#include "smolder/junit.h"
#include "smolder/check.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void junit_write_escaped(const char *s, FILE *fp)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", fp);
			break;
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		case '\'':
			fputs("&apos;", fp);
			break;
		case '\n':
			fputs("&#10;", fp);
			break;
		case '\t':
			fputs("&#9;", fp);
			break;
		default:
			/* Control characters are not allowed in XML 1.0 at all. */
			fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, fp);
		}
	}
}

int junit_write_check(const struct check_result *results, size_t n, const char *suite,
		      double seconds, FILE *fp)
{
	char stamp[32], host[256] = "localhost", cur[48], base[48], lim[48];
	size_t failures = 0;
	time_t now = time(NULL);
	struct tm tm;

	for (size_t i = 0; i < n; i++)
		failures += !results[i].passed;
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", gmtime_r(&now, &tm));
	gethostname(host, sizeof(host) - 1);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", fp);
	fprintf(fp, "<testsuites name=\"");
	junit_write_escaped(suite, fp);
	fprintf(fp, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n", n, failures,
		seconds);
	fprintf(fp, "  <testsuite name=\"");
	junit_write_escaped(suite, fp);
	fprintf(fp,
		"\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" time=\"%.3f\" "
		"timestamp=\"%s\" hostname=\"",
		n, failures, seconds, stamp);
	junit_write_escaped(host, fp);
	fputs("\">\n", fp);
	for (size_t i = 0; i < n; i++) {
		const struct check_result *r = &results[i];
		enum check_metric m = r->spec->metric;

		fputs("    <testcase classname=\"smolder.check\" name=\"", fp);
		junit_write_escaped(r->name, fp);
		fputs("\" time=\"0\">\n", fp);
		if (!r->passed) {
			fputs("      <failure type=\"", fp);
			fputs(isfinite(r->spec->max) && r->current > r->spec->max ? "budget"
										  : "regression",
			      fp);
			fputs("\" message=\"", fp);
			junit_write_escaped(r->message, fp);
			fputs("\">", fp);
			junit_write_escaped(r->message, fp);
			fputs("</failure>\n", fp);
		}
		fprintf(fp, "      <system-out>");
		snprintf(cur, sizeof(cur), "%s", "");
		check_format_value(m, r->current, cur, sizeof(cur));
		check_format_value(m, r->baseline, base, sizeof(base));
		check_format_value(m, r->limit, lim, sizeof(lim));
		fprintf(fp, "current=%.17g baseline=%.17g limit=%.17g (", r->current, r->baseline,
			r->limit);
		junit_write_escaped(cur, fp);
		fputs(" / ", fp);
		junit_write_escaped(base, fp);
		fputs(" / ", fp);
		junit_write_escaped(lim, fp);
		fputs(")</system-out>\n", fp);
		fputs("    </testcase>\n", fp);
	}
	fputs("  </testsuite>\n</testsuites>\n", fp);
	return ferror(fp) ? -EIO : 0;
}
