// gelu.h on 4-lane vectors written with the compiler's generic vector extension, no intrinsics: NEON on aarch64,
// SSE2 on x86-64 (where a CPU lacks AVX2, or WINNOW_SIMD=scalar). Without FMA hardware Fma is a multiply and an add
// (two roundings); gelu_test checks the error bound at this level too.
#include "gelu/gelu.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#define WINNOW_GELU_TARGET

namespace winnow::gelu::internal {
namespace {

#if defined(__GNUC__) || defined(__clang__)
struct V128 {
  typedef float T __attribute__((vector_size(16)));
  typedef int32_t M __attribute__((vector_size(16)));
  static constexpr size_t kLanes = 4;
  static T Set1(float v) { return T{v, v, v, v}; }
  static T Load(const float* p, size_t left) {
    T v = Set1(0.0f);
    if (left >= 4) std::memcpy(&v, p, sizeof v);
    else
      for (size_t i = 0; i < left; ++i) v[i] = p[i];
    return v;
  }
  static void Store(float* p, T v, size_t left) {
    if (left >= 4) std::memcpy(p, &v, sizeof v);
    else
      for (size_t i = 0; i < left; ++i) p[i] = v[i];
  }
  static T Add(T a, T b) { return a + b; }
  static T Sub(T a, T b) { return a - b; }
  static T Mul(T a, T b) { return a * b; }
  static T Div(T a, T b) { return a / b; }
  static T Quot(T a, T b) { return a / b; }
#if defined(__aarch64__)
  static T Fma(T a, T b, T c) {
    return reinterpret_cast<T>(vfmaq_f32(reinterpret_cast<float32x4_t>(c), reinterpret_cast<float32x4_t>(a),
                                         reinterpret_cast<float32x4_t>(b)));
  }
#else
  static T Fma(T a, T b, T c) { return a * b + c; }
#endif
  static T Select(M m, T a, T b) { return reinterpret_cast<T>((m & reinterpret_cast<M>(a)) | (~m & reinterpret_cast<M>(b))); }
  static T Min(T a, T b) { return Select(a < b, a, b); }
  static T Max(T a, T b) { return Select(a > b, a, b); }
  static T Pow2(T k) { return reinterpret_cast<T>((reinterpret_cast<M>(k) - (0x4B400000 - 127)) << 23); }
};
#else
// Compilers without vector extensions: one float at a time, the same code.
struct V128 {
  using T = float;
  static constexpr size_t kLanes = 1;
  static T Set1(float v) { return v; }
  static T Load(const float* p, size_t) { return *p; }
  static void Store(float* p, T v, size_t) { *p = v; }
  static T Add(T a, T b) { return a + b; }
  static T Sub(T a, T b) { return a - b; }
  static T Mul(T a, T b) { return a * b; }
  static T Div(T a, T b) { return a / b; }
  static T Quot(T a, T b) { return a / b; }
  static T Fma(T a, T b, T c) { return std::fma(a, b, c); }
  static T Min(T a, T b) { return a < b ? a : b; }
  static T Max(T a, T b) { return a > b ? a : b; }
  static T Pow2(T k) {
    uint32_t u;
    std::memcpy(&u, &k, 4);
    u = (u - (0x4B400000u - 127u)) << 23;
    std::memcpy(&k, &u, 4);
    return k;
  }
};
#endif

#include "gelu/gelu_simd.inc"

void Run128(const Rows& r, size_t begin, size_t end) { GeluMath<V128>::Run(r, begin, end); }

}  // namespace

Kernels Vec128Kernels() { return {&Run128}; }

}  // namespace winnow::gelu::internal
