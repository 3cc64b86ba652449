// attention.h on 4-lane vectors of the compiler's generic vector extension, no intrinsics: any CPU (NEON on
// aarch64; on x86-64, CPUs without AVX2 and WINNOW_SIMD=scalar).
#include "attention/attention.h"

#include <algorithm>

#include <cmath>
#include <cstring>

#define WINNOW_ATTN_TARGET

namespace winnow::attention::internal {
namespace {

struct V128 {
  typedef float T __attribute__((vector_size(16)));
  static constexpr size_t kLanes = 4;
  static constexpr size_t kScoreVecs = 2;
  static constexpr size_t kPvVecs = 2;
  static constexpr size_t kGroupRows = 4;
  static constexpr bool kBlockTranspose = false;
  static T Zero() { return T{0.0f, 0.0f, 0.0f, 0.0f}; }
  static T Set1(float v) { return T{v, v, v, v}; }
  static T Load(const float* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static T LoadN(const float* p, size_t n) {
    if (n >= 4) return Load(p);
    float a[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (size_t i = 0; i < 3; ++i)
      if (i < n) a[i] = p[i];
    return Load(a);
  }
  static void Store(float* p, T v) { std::memcpy(p, &v, sizeof v); }
  static void StoreN(float* p, T v, size_t n) {
    if (n >= 4) return Store(p, v);
    float a[4];
    Store(a, v);
    for (size_t i = 0; i < 3; ++i)
      if (i < n) p[i] = a[i];
  }
  static T Add(T a, T b) { return a + b; }
  static T Sub(T a, T b) { return a - b; }
  static T Mul(T a, T b) { return a * b; }
  static T Fma(T a, T b, T c) { return a * b + c; }
  static T Max(T a, T b) { return T{std::fmax(a[0], b[0]), std::fmax(a[1], b[1]), std::fmax(a[2], b[2]), std::fmax(a[3], b[3])}; }
  static T Min(T a, T b) { return T{std::fmin(a[0], b[0]), std::fmin(a[1], b[1]), std::fmin(a[2], b[2]), std::fmin(a[3], b[3])}; }
  static T Floor(T a) { return T{std::floor(a[0]), std::floor(a[1]), std::floor(a[2]), std::floor(a[3])}; }
  static T Pow2(T f) {
    T r;
    for (int i = 0; i < 4; ++i) r[i] = std::ldexp(1.0f, static_cast<int>(f[i]));
    return r;
  }
  static float ReduceAdd(T a) { return (a[0] + a[1]) + (a[2] + a[3]); }
  static float ReduceMax(T a) { return std::fmax(std::fmax(a[0], a[1]), std::fmax(a[2], a[3])); }
};

#include "attention/attention_simd.inc"

void Run128(const Problem& p, const Block& blk) { Attn<V128>::Run(p, blk); }

}  // namespace

Kernel Vec128Kernel() { return &Run128; }

}  // namespace winnow::attention::internal
