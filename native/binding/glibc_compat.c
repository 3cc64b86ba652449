// Keeps the prebuilt addon loadable on glibc 2.28 (Node 18 and 20's own floor: Debian 10+, Ubuntu 20.04+,
// RHEL 8+, Amazon Linux 2023) although it is built on a newer one. Built into the addon only (CMakeLists.txt).
//
// Linked against a new glibc, the addon (and the libstdc++ linked into it) would name the newest versions
// of these symbols: pthread_* and dl* at GLIBC_2.34 (when they moved into libc.so.6), stat / fstat at 2.33,
// arc4random at 2.36, __libc_single_threaded at 2.32; a glibc older than any of those refuses to load it.
//  - The linker is told to send every reference to the pthread and dl functions to __wrap_<name> (-Wl,--wrap,
//    static libraries included), and each wrapper calls the function's first version (GLIBC_2.2.5 on x86-64,
//    GLIBC_2.17 on aarch64), which every glibc since then still exports.
//  - stat and fstat (before 2.33 macros over __xstat / __fxstat) and arc4random (new in 2.36) are defined
//    here on the system calls; __libc_single_threaded is defined as 0 (libstdc++ then always uses atomics).
//  - _dl_find_object (2.35) is the unwinder's: the addon uses the system's libgcc_s instead of a static copy.
// CMakeLists.txt passes -Wl,--wrap=<name> for each line here that starts `WINNOW_HIDDEN ... __wrap_<name>`: a
// wrapper added here is wrapped there with no second list to edit. scripts/glibc-floor.mjs checks the result (no
// symbol version above 2.28, no unresolved __wrap_), and the packaging test loads it on glibc 2.31.
#define _GNU_SOURCE
#include <features.h>  // defines __GLIBC__

#if defined(__linux__) && defined(__GLIBC__)
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define WINNOW_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define WINNOW_GLIBC_BASE "GLIBC_2.17"
#else
#error "glibc_compat.c: the base glibc version of this architecture is not known"
#endif

#define WINNOW_HIDDEN __attribute__((visibility("hidden")))

// old_<name> is <name> at the base version; __wrap_<name> forwards to it.
#define WINNOW_OLD(name) __asm__(".symver old_" #name "," #name "@" WINNOW_GLIBC_BASE)

WINNOW_OLD(pthread_create);
WINNOW_OLD(pthread_join);
WINNOW_OLD(pthread_detach);
WINNOW_OLD(pthread_once);
WINNOW_OLD(pthread_key_create);
WINNOW_OLD(pthread_key_delete);
WINNOW_OLD(pthread_getspecific);
WINNOW_OLD(pthread_setspecific);
WINNOW_OLD(pthread_mutex_trylock);
WINNOW_OLD(dlopen);
WINNOW_OLD(dlsym);
WINNOW_OLD(dlclose);
WINNOW_OLD(dlerror);

int old_pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int old_pthread_join(pthread_t, void**);
int old_pthread_detach(pthread_t);
int old_pthread_once(pthread_once_t*, void (*)(void));
int old_pthread_key_create(pthread_key_t*, void (*)(void*));
int old_pthread_key_delete(pthread_key_t);
void* old_pthread_getspecific(pthread_key_t);
int old_pthread_setspecific(pthread_key_t, const void*);
int old_pthread_mutex_trylock(pthread_mutex_t*);
void* old_dlopen(const char*, int);
void* old_dlsym(void*, const char*);
int old_dlclose(void*);
char* old_dlerror(void);

WINNOW_HIDDEN int __wrap_pthread_create(pthread_t* t, const pthread_attr_t* a, void* (*f)(void*), void* arg) {
  return old_pthread_create(t, a, f, arg);
}
WINNOW_HIDDEN int __wrap_pthread_join(pthread_t t, void** r) { return old_pthread_join(t, r); }
WINNOW_HIDDEN int __wrap_pthread_detach(pthread_t t) { return old_pthread_detach(t); }
WINNOW_HIDDEN int __wrap_pthread_once(pthread_once_t* o, void (*f)(void)) { return old_pthread_once(o, f); }
WINNOW_HIDDEN int __wrap_pthread_key_create(pthread_key_t* k, void (*d)(void*)) { return old_pthread_key_create(k, d); }
// libstdc++'s gthreads test this one's address to tell whether threads are linked in.
WINNOW_HIDDEN int __wrap___pthread_key_create(pthread_key_t* k, void (*d)(void*)) { return old_pthread_key_create(k, d); }
WINNOW_HIDDEN int __wrap_pthread_key_delete(pthread_key_t k) { return old_pthread_key_delete(k); }
WINNOW_HIDDEN void* __wrap_pthread_getspecific(pthread_key_t k) { return old_pthread_getspecific(k); }
WINNOW_HIDDEN int __wrap_pthread_setspecific(pthread_key_t k, const void* v) { return old_pthread_setspecific(k, v); }
WINNOW_HIDDEN int __wrap_pthread_mutex_trylock(pthread_mutex_t* m) { return old_pthread_mutex_trylock(m); }
WINNOW_HIDDEN void* __wrap_dlopen(const char* f, int flags) { return old_dlopen(f, flags); }
WINNOW_HIDDEN void* __wrap_dlsym(void* h, const char* s) { return old_dlsym(h, s); }
WINNOW_HIDDEN int __wrap_dlclose(void* h) { return old_dlclose(h); }
WINNOW_HIDDEN char* __wrap_dlerror(void) { return old_dlerror(); }

// struct stat is the kernel's on x86-64 and aarch64, so the system calls fill it directly.
WINNOW_HIDDEN int __wrap_fstat(int fd, struct stat* st) { return (int)syscall(SYS_fstat, fd, st); }
WINNOW_HIDDEN int __wrap_fstat64(int fd, struct stat* st) { return (int)syscall(SYS_fstat, fd, st); }
WINNOW_HIDDEN int __wrap_stat(const char* path, struct stat* st) {
  return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}
WINNOW_HIDDEN int __wrap_stat64(const char* path, struct stat* st) {
  return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}
WINNOW_HIDDEN int __wrap_lstat(const char* path, struct stat* st) {
  return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

WINNOW_HIDDEN uint32_t __wrap_arc4random(void) {
  uint32_t v = 0;
  size_t got = 0;
  while (got < sizeof v) {
    const long n = syscall(SYS_getrandom, (char*)&v + got, sizeof v - got, 0);
    if (n > 0) got += (size_t)n;
    else if (n < 0 && errno != EINTR) break;  // no getrandom (Linux < 3.17): whatever was read
  }
  return v;
}

WINNOW_HIDDEN char __wrap___libc_single_threaded = 0;
#endif
