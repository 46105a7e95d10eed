/* tests/unit/test.h — the unit tests' tiny harness (header only).
 *
 * Each tests/unit/test_*.c is one binary: define test functions with TEST(name), list
 * them in main() with RUN(name), end with `return test_summary();`. CHECK() records a
 * failure with file:line and continues; the binary exits 1 if any check failed.
 * Output: one "ok"/"FAIL" line per test and a closing "N passed, N failed" line.
 */
#ifndef ARCVMM_TESTS_UNIT_TEST_H
#define ARCVMM_TESTS_UNIT_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_checks;
static int test_passed, test_failed;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			test_failed_checks++;                                                      \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                        \
	do {                                                                                  \
		long long _a = (long long)(a), _b = (long long)(b);                           \
		if (_a != _b) {                                                               \
			test_failed_checks++;                                                 \
			fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
				__LINE__, #a, #b, _a, _b);                                    \
		}                                                                             \
	} while (0)

#define RUN(name)                                    \
	do {                                         \
		int _before = test_failed_checks;    \
		name();                              \
		if (test_failed_checks == _before) { \
			test_passed++;               \
			printf("ok   %s\n", #name);  \
		} else {                             \
			test_failed++;               \
			printf("FAIL %s\n", #name);  \
		}                                    \
	} while (0)

/* snprintf into a fixed buffer for a path, a command or a spec that must not be cut: a
 * cut one would test something else (or remove the wrong directory), so the binary stops
 * (tests/run counts a binary without its summary line as a failure). */
#define test_snprintf(buf, size, ...) test_snprintf_at(__FILE__, __LINE__, buf, size, __VA_ARGS__)
static inline void test_snprintf_at(const char *file, int line, char *buf, size_t size,
				    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline void test_snprintf_at(const char *file, int line, char *buf, size_t size,
				    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "%s:%d: %d bytes do not fit in %zu (path too long?)\n", file, line,
			n, size);
		exit(2);
	}
}

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif
