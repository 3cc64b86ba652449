// Preloaded into arm64 test processes run under qemu-user (scripts/arm64.mjs): qemu shows the guest the host's
// x86 /proc/cpuinfo, which ONNX Runtime's CPU detection (cpuinfo) cannot parse on ARM and then crashes on. Opening
// /proc/cpuinfo gives the file named by WINNOW_FAKE_CPUINFO instead. Test scaffolding only: never shipped.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// dlsym's base version, so the shim also preloads into a process on an older glibc (scripts/old-glibc.mjs runs the
// arm64 Node on Debian 11's glibc 2.31; built here, dlsym would bind to GLIBC_2.34).
#if defined(__GLIBC__) && defined(__aarch64__)
__asm__(".symver dlsym,dlsym@GLIBC_2.17");
#endif

static const char* Redirect(const char* path) {
  if (path && strcmp(path, "/proc/cpuinfo") == 0) {
    const char* fake = getenv("WINNOW_FAKE_CPUINFO");
    if (fake && *fake) return fake;
  }
  return path;
}

#define WINNOW_OPEN_SHIM(name, ...)                                      \
  int name(const char* path, int flags, ...) {                           \
    static int (*real)(const char*, int, ...);                           \
    if (!real) real = (int (*)(const char*, int, ...))dlsym(RTLD_NEXT, #name); \
    mode_t mode = 0;                                                     \
    if (flags & (O_CREAT | O_TMPFILE)) {                                 \
      va_list ap;                                                        \
      va_start(ap, flags);                                               \
      mode = va_arg(ap, mode_t);                                         \
      va_end(ap);                                                        \
    }                                                                    \
    return real(Redirect(path), flags, mode);                            \
  }
WINNOW_OPEN_SHIM(open)
WINNOW_OPEN_SHIM(open64)

int openat(int dir, const char* path, int flags, ...) {
  static int (*real)(int, const char*, int, ...);
  if (!real) real = (int (*)(int, const char*, int, ...))dlsym(RTLD_NEXT, "openat");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  return real(dir, Redirect(path), flags, mode);
}

FILE* fopen(const char* path, const char* mode) {
  static FILE* (*real)(const char*, const char*);
  if (!real) real = (FILE * (*)(const char*, const char*)) dlsym(RTLD_NEXT, "fopen");
  return real(Redirect(path), mode);
}
