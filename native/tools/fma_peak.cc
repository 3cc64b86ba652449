// The float32 FMA peak of one core: 12 independent chains of AVX-512 (or AVX2) fused multiply-adds, nothing
// loaded or stored, so the figure is the instruction throughput (the ceiling any fp32 GEMM can reach here).
// Prints GFLOP/s for one thread, fastest of a few runs.
//   fma_peak
#include <chrono>
#include <cstdio>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "common/cpu_features.h"

namespace {

// Each step: 12 vector FMAs on 12 accumulators started apart (so the compiler cannot merge them).
#define WINNOW_FMA_CHAINS(T, FMA, SET1, SUM)                                            \
  T a0 = SET1(0.001f), a1 = SET1(0.002f), a2 = SET1(0.003f), a3 = SET1(0.004f);       \
  T a4 = SET1(0.005f), a5 = SET1(0.006f), a6 = SET1(0.007f), a7 = SET1(0.008f);       \
  T a8 = SET1(0.009f), a9 = SET1(0.010f), a10 = SET1(0.011f), a11 = SET1(0.012f);     \
  const T b = SET1(0.9999f), c = SET1(1e-4f);                                          \
  for (long it = 0; it < iters; ++it) {                                                \
    a0 = FMA(a0, b, c); a1 = FMA(a1, b, c); a2 = FMA(a2, b, c); a3 = FMA(a3, b, c);    \
    a4 = FMA(a4, b, c); a5 = FMA(a5, b, c); a6 = FMA(a6, b, c); a7 = FMA(a7, b, c);    \
    a8 = FMA(a8, b, c); a9 = FMA(a9, b, c); a10 = FMA(a10, b, c); a11 = FMA(a11, b, c); \
  }                                                                                    \
  return SUM(a0) + SUM(a1) + SUM(a2) + SUM(a3) + SUM(a4) + SUM(a5) + SUM(a6) + SUM(a7) + SUM(a8) + SUM(a9) + \
         SUM(a10) + SUM(a11);

__attribute__((target("avx512f"))) float Run512(long iters) {
  WINNOW_FMA_CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_reduce_add_ps)
}

__attribute__((target("avx2,fma"))) float Sum256(__m256 v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
__attribute__((target("avx2,fma"))) float Run256(long iters) {
  WINNOW_FMA_CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps, Sum256)
}

}  // namespace

int main() {
  using namespace winnow;
  const bool avx512 = CpuSupports(SimdLevel::kAvx512);
  if (!avx512 && !CpuSupports(SimdLevel::kAvx2)) {
    std::printf("no AVX2 or AVX-512 on this CPU\n");
    return 0;
  }
  const long iters = 20000000;
  const double flops = 12.0 * (avx512 ? 32 : 16) * static_cast<double>(iters);
  double best = 0;
  float keep = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    keep += avx512 ? Run512(iters) : Run256(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (flops / s / 1e9 > best) best = flops / s / 1e9;
  }
  std::printf("%s FMA peak, one thread: %.1f GFLOP/s (checksum %g)\n", avx512 ? "avx512" : "avx2", best, keep);
  return 0;
}
#else
int main() {
  std::printf("fma_peak measures x86-64 only\n");
  return 0;
}
#endif
