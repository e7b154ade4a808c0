/*
 * deepbind_off.c	Test-only LD_PRELOAD shim: dlopen() without RTLD_DEEPBIND.
 *
 *	Debian's radiusd loads modules with RTLD_DEEPBIND (src/main/modules.c
 *	adds it unless radiusd itself was built with ASan), and the ASan
 *	runtime refuses such a dlopen and exits.  tools/test --sanitize runs
 *	Debian's radiusd with LD_PRELOAD="deepbind_off.so libasan.so" so that
 *	an ASan-built rlm_twofa loads and runs instrumented inside it.
 *
 *	This library comes first, so radiusd's dlopen() calls land here; the
 *	next dlopen (ASan's interceptor, then glibc's) gets the flags without
 *	RTLD_DEEPBIND.  ASan is then not first in the library list, so its
 *	link-order check must be off (ASAN_OPTIONS=verify_asan_link_order=0).
 *	Never for production: DEEPBIND keeps a module's libraries' symbols
 *	from clashing with radiusd's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

void *dlopen(char const *file, int mode)
{
	static void *(*next_dlopen)(char const *, int);

	if (!next_dlopen) next_dlopen = (void *(*)(char const *, int)) dlsym(RTLD_NEXT, "dlopen");
	if (!next_dlopen) return NULL;

	return next_dlopen(file, mode & ~RTLD_DEEPBIND);
}
