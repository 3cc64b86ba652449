#include "layernorm/layer_norm.h"

#include <cmath>
#include <string_view>

namespace winnow::layernorm {
namespace internal {

// One row at a time, in ONNX Runtime's order. x = (input + bias) + skip is written to `sum` (or to `output`, which
// the normalized row then overwrites in place) before its statistics are taken.
void LayerNormScalar(const Rows& r, size_t begin, size_t end) {
  const size_t cols = r.cols;
  const float n = static_cast<float>(cols);
  for (size_t row = begin; row < end; ++row) {
    if (!r.exact) {  // Rows::exact false: the two-pass form
      const float* in = r.input + row * cols;
      const float* x = in;
      float sum = 0.0f;
      if (r.skip || r.bias || r.sum) {
        float* dst = r.sum ? r.sum + row * cols : r.output + row * cols;
        const float* s = r.skip ? r.skip + (row % r.skip_rows) * cols : nullptr;
        for (size_t k = 0; k < cols; ++k) {
          const float v = r.bias ? in[k] + r.bias[k] : in[k];
          sum += dst[k] = s ? v + s[k] : v;
        }
        x = dst;
      } else {
        for (size_t k = 0; k < cols; ++k) sum += x[k];
      }
      const float mean = sum / n;
      float m2 = 0.0f;
      for (size_t k = 0; k < cols; ++k) m2 += (x[k] - mean) * (x[k] - mean);
      const float rs = 1.0f / std::sqrt(m2 / n + r.epsilon);
      float* y = r.output + row * cols;
      for (size_t k = 0; k < cols; ++k) y[k] = (x[k] - mean) * rs * r.gamma[k] + (r.beta ? r.beta[k] : 0.0f);
      continue;
    }
    const float* in = r.input + row * cols;
    const float* x = in;
    if (r.skip || r.bias || r.sum) {
      float* dst = r.sum ? r.sum + row * cols : r.output + row * cols;
      const float* s = r.skip ? r.skip + (row % r.skip_rows) * cols : nullptr;
      for (size_t k = 0; k < cols; ++k) {
        const float v = r.bias ? in[k] + r.bias[k] : in[k];
        dst[k] = s ? v + s[k] : v;
      }
      x = dst;
    }
    float mean = 0.0f, m2 = 0.0f;
    for (size_t k = 0; k < cols; ++k) {
      const float d = x[k] - mean;
      mean = mean + d / static_cast<float>(k + 1);
      m2 = kOrtFusesMulAdd ? std::fma(d, x[k] - mean, m2) : m2 + d * (x[k] - mean);
    }
    const float sd = std::sqrt(m2 / n + r.epsilon);
    float* y = r.output + row * cols;
    for (size_t k = 0; k < cols; ++k) {
      const float z = (x[k] - mean) / sd;
      if (!r.beta) y[k] = z * r.gamma[k];
      else y[k] = kOrtFusesMulAdd ? std::fma(z, r.gamma[k], r.beta[k]) : z * r.gamma[k] + r.beta[k];
    }
  }
}

}  // namespace internal

namespace {
internal::Kernel KernelFor(SimdLevel level) {
  internal::Kernel k = nullptr;
  if (level == SimdLevel::kAvx512 && CpuSupports(level)) k = internal::Avx512Kernel();
  if (level == SimdLevel::kAvx2 && CpuSupports(level)) k = internal::Avx2Kernel();
  if (level == SimdLevel::kNeon && CpuSupports(level)) k = internal::Vec128Kernel();
#if defined(__x86_64__) || defined(_M_X64)
  // x86-64 without AVX2 (or WINNOW_SIMD=scalar): SSE2 is part of the architecture, and the 4-lane code gives
  // the scalar code's bits, faster (layer_norm_test checks the bits).
  if (level == SimdLevel::kScalar) k = internal::Vec128Kernel();
#endif
  return k ? k : &internal::LayerNormScalar;
}
}  // namespace

void LayerNormAt(SimdLevel level, const Rows& rows, size_t begin, size_t end) {
  KernelFor(level)(rows, begin, end);
}

const char* ActiveKernelName() {
  const internal::Kernel k = KernelFor(ActiveSimdLevel());
  if (k == internal::Avx512Kernel()) return "avx512";
  if (k == internal::Avx2Kernel()) return "avx2";
  if (k == internal::Vec128Kernel()) return SimdLevelName(ActiveSimdLevel()) == std::string_view("neon") ? "neon" : "sse2";
  return "scalar";
}

void LayerNorm(const Rows& rows, size_t begin, size_t end) {
  static const internal::Kernel kernel = KernelFor(ActiveSimdLevel());
  kernel(rows, begin, end);
}

}  // namespace winnow::layernorm
