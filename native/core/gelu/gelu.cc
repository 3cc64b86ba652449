#include "gelu/gelu.h"

namespace winnow::gelu {
namespace {

internal::Kernels KernelsFor(SimdLevel level) {
  internal::Kernels k;
  if (level == SimdLevel::kAvx512 && CpuSupports(level)) k = internal::Avx512Kernels();
  if (level == SimdLevel::kAvx2 && CpuSupports(level)) k = internal::Avx2Kernels();
  return k.gelu ? k : internal::Vec128Kernels();
}

}  // namespace

void GeluAt(SimdLevel level, const Rows& rows, size_t begin, size_t end) { KernelsFor(level).gelu(rows, begin, end); }

const char* ActiveKernelName() {
  const SimdLevel level = ActiveSimdLevel();
  if (KernelsFor(level).gelu == internal::Avx512Kernels().gelu) return "avx512";
  if (KernelsFor(level).gelu == internal::Avx2Kernels().gelu) return "avx2";
#if defined(__aarch64__)
  return "neon";
#elif defined(__x86_64__)
  return "sse2";
#else
  return "scalar";
#endif
}

void Gelu(const Rows& rows, size_t begin, size_t end) {
  static const internal::Kernels kernels = KernelsFor(ActiveSimdLevel());
  kernels.gelu(rows, begin, end);
}

}  // namespace winnow::gelu
