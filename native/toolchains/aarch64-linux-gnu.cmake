# Cross-compiling for 64-bit ARM Linux from x86-64 Debian/Ubuntu (scripts/arm64.mjs):
#   apt-get install g++-aarch64-linux-gnu, and the arm64 builds of libutf8proc-dev and libpcre2-dev
#   (dpkg --add-architecture arm64). Libraries are looked up in the multiarch folders only.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# ctest runs the tests under qemu-user; the library path is the multiarch one (libc6:arm64), so the dynamic loader
# and libc come from the same package (the cross toolchain's own libc is a different build: mixing the two hangs).
# qemu's `max` CPU (SVE, i8mm, bf16, dotprod) without SME: with SME on, ONNX Runtime's int8 matmuls came out wrong
# under qemu 7.2 (scripts/arm64.mjs explains).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -cpu max,sme=off)
