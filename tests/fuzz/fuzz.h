/*
 * fuzz.h	Shared by the libFuzzer harnesses in tests/fuzz/ (tools/fuzz).
 *
 *		A harness is one file, fuzz_NAME.c, defining
 *		LLVMFuzzerTestOneInput, with two lines in its header comment
 *		that tools/fuzz reads:
 *
 *		  sources: the project files it links (paths from the top)
 *		  max_len: the longest input worth trying
 *
 *		and a seed corpus in tests/fuzz/corpus/NAME/.  Besides crashes
 *		and leaks (ASan, UBSan, LSan), a harness checks what the parser
 *		promises with FUZZ_CHECK: a broken promise aborts like a crash.
 */
#ifndef TWOFA_FUZZ_H
#define TWOFA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Not assert(): it must hold whatever NDEBUG says. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size);

#endif
