/*
 * swift_demangle.c	Test-only LD_PRELOAD shim: a swift_demangle() that
 *			knows no names, so that ASan's start-up leaves glibc's
 *			gettext lock alone.  (DEVELOPERS.md, "The module inside
 *			Debian's radiusd".)
 *
 *	Preloaded into Debian's radiusd, ASan's shared runtime starts on the
 *	first malloc().  That is in libgpg-error's constructor (radiusd ->
 *	libsystemd -> libgcrypt -> libgpg-error), inside bindtextdomain(),
 *	which holds glibc's _nl_state_lock for writing.  ASan's start-up
 *	looks for a Swift demangler, dlsym(RTLD_DEFAULT, "swift_demangle"),
 *	and clears the miss with dlerror(), which translates the message:
 *	dcgettext() takes the same lock for reading (EDEADLK, ignored) and
 *	then releases it, the writer's lock; bindtextdomain's own unlock then
 *	takes the reader count below zero.  The next bindtextdomain() waits
 *	for the readers forever: gnutls's constructor (libcurl -> librtmp ->
 *	gnutls) when radiusd loads the module.
 *
 *	With this symbol found, the dlsym() succeeds, dlerror() has nothing
 *	to translate, and the lock stays balanced.  ASan tries Swift first
 *	when it demangles a name: NULL sends it on to its C++ demangler.
 */
#include <stddef.h>
#include <stdint.h>

char *swift_demangle(char const *mangled, size_t mangled_len, char *out, size_t *out_len, uint32_t flags);

char *swift_demangle(char const *mangled, size_t mangled_len, char *out, size_t *out_len, uint32_t flags)
{
	(void) mangled; (void) mangled_len; (void) out; (void) out_len; (void) flags;
	return NULL;
}
