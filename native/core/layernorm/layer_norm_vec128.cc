// layer_norm.h on 4-lane vectors written with the compiler's generic vector extension, no intrinsics: NEON on
// aarch64 (the neon level), SSE2 on x86-64 (tests only there: AVX2 and AVX-512 have their own files). Built with
// -ffp-contract=off (no FMA may replace a mul + add).
#include "layernorm/layer_norm.h"

#if defined(__GNUC__) || defined(__clang__)
#include <cmath>
#include <cstring>
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#define WINNOW_LN_TARGET

namespace winnow::layernorm::internal {
namespace {

struct V128 {
  typedef float T __attribute__((vector_size(16)));
  static constexpr size_t kLanes = 4;
  static T Zero() { return T{0.0f, 0.0f, 0.0f, 0.0f}; }
  static T Set1(float v) { return T{v, v, v, v}; }
  static T Load(const float* p, size_t left) {
    T v = Zero();
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
#if defined(__aarch64__)
  // Only the aarch64 build fuses (kOrtFusesMulAdd); elsewhere Welford never names Fma, as with AVX2 / AVX-512.
  static T Fma(T a, T b, T c) { return reinterpret_cast<T>(vfmaq_f32(reinterpret_cast<float32x4_t>(c),
                                                                      reinterpret_cast<float32x4_t>(a),
                                                                      reinterpret_cast<float32x4_t>(b))); }
#endif
  static T Sqrt(T a) { return T{std::sqrt(a[0]), std::sqrt(a[1]), std::sqrt(a[2]), std::sqrt(a[3])}; }
  static void Transpose(T r[4]) {
    const T a = r[0], b = r[1], c = r[2], d = r[3];
    for (int j = 0; j < 4; ++j) r[j] = T{a[j], b[j], c[j], d[j]};
  }
};

#include "layernorm/layer_norm_simd.inc"

void Run128(const Rows& r, size_t begin, size_t end) { Welford<V128>::Run(r, begin, end); }

}  // namespace

Kernel Vec128Kernel() { return &Run128; }

}  // namespace winnow::layernorm::internal

#else

namespace winnow::layernorm::internal {
Kernel Vec128Kernel() { return nullptr; }
}  // namespace winnow::layernorm::internal

#endif
