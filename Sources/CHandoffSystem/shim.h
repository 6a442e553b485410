// Linux calls that Swift's Glibc module leaves out (they need _GNU_SOURCE or
// a header it does not include). `static inline` keeps them out of the
// library's exported symbols.
#ifndef HANDOFF_SYSTEM_SHIM_H
#define HANDOFF_SYSTEM_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sys/eventfd.h>

/* A non-blocking, close-on-exec eventfd, or -1 with errno. */
static inline int handoff_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

/* Names a thread (Linux keeps 15 bytes), for ps, top and gdb. */
static inline int handoff_name_thread(pthread_t thread, const char *name) { return pthread_setname_np(thread, name); }

#endif
