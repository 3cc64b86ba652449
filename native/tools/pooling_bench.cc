// EmbeddingBag micro-benchmark: a 29528 x 256 table (potion-base-8M sized), random ids, bags of 20
// tokens, every dtype at every SIMD level this CPU runs. Single thread. Prints tokens/s.
//   pooling_bench [seconds_per_case=0.5]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "common/cpu_features.h"
#include "common/half.h"
#include "pooling/pooling.h"

using namespace winnow;
using namespace winnow::pooling;

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  constexpr size_t kRows = 29528, kDim = 256, kBag = 20, kIds = 1 << 20;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::vector<float> f32(kRows * kDim);
  for (auto& v : f32) v = normal(rng);
  std::vector<uint16_t> f16(f32.size()), bf16(f32.size());
  std::vector<int8_t> i8(f32.size());
  for (size_t i = 0; i < f32.size(); ++i) {
    f16[i] = FloatToHalf(f32[i]);
    bf16[i] = FloatToBf16(f32[i]);
    i8[i] = static_cast<int8_t>(std::max(-127.0f, std::min(127.0f, f32[i] * 300.0f)));
  }
  std::vector<int32_t> ids(kIds);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % kRows);

  struct Case {
    const char* name;
    const void* data;
    TableDType dtype;
  } cases[] = {{"f32", f32.data(), TableDType::kF32},
               {"f16", f16.data(), TableDType::kF16},
               {"bf16", bf16.data(), TableDType::kBF16},
               {"i8", i8.data(), TableDType::kI8}};

  std::printf("EmbeddingBag %zux%zu, bags of %zu, random ids, 1 thread (active level: %s)\n", kRows, kDim, kBag,
              ActiveSimdLevelName());
  std::printf("%-6s %-7s %14s %10s\n", "dtype", "level", "Mtokens/s", "ns/bag");
  std::vector<float> out(kDim);
  for (const Case& c : cases) {
    for (SimdLevel level : kAllSimdLevels) {
      if (!KernelLevelAvailable(level)) continue;
      TableView t;
      t.data = c.data;
      t.dtype = c.dtype;
      t.rows = kRows;
      t.dim = kDim;
      t.i8_scale = 1.0f / 300.0f;
      float sink = 0;
      size_t bags = 0, pos = 0;
      // warm-up, then timed batches of 1000 bags until `seconds` elapse
      for (int i = 0; i < 2000; ++i, pos = (pos + kBag) % (kIds - kBag)) {
        (void)EmbeddingBag(level, t, ids.data() + pos, kBag, out.data(), true);
      }
      const auto start = std::chrono::steady_clock::now();
      double elapsed = 0;
      while (elapsed < seconds) {
        for (int i = 0; i < 1000; ++i, pos = (pos + kBag) % (kIds - kBag)) {
          (void)EmbeddingBag(level, t, ids.data() + pos, kBag, out.data(), true);
          sink += out[0];
        }
        bags += 1000;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      std::printf("%-6s %-7s %14.1f %10.1f%s\n", c.name, SimdLevelName(level), bags * kBag / elapsed / 1e6,
                  elapsed / bags * 1e9, sink == 12345.0f ? "!" : "");
    }
  }
  return 0;
}
