// Similarity / semantic-search micro-benchmark on one thread, at the SIMD level this CPU runs (WINNOW_SIMD picks
// another). Seeded normal vectors of 384 values; prints each call's time and an FNV-1a hash of the output bits, so
// a kernel change that must not change results can be checked bit for bit against the build before it.
//   similarity_bench [queries=100] [rows=100000] [mode: cosine | dot | search] [calls=5]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "pooling/pooling.h"

using namespace winnow;
using namespace winnow::pooling;

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100;
  const size_t m = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 100000;
  const std::string mode = argc > 3 ? argv[3] : "cosine";
  const int calls = argc > 4 ? std::atoi(argv[4]) : 5;
  constexpr size_t kDim = 384;
  if (mode != "cosine" && mode != "dot" && mode != "search") {
    std::fprintf(stderr, "mode must be cosine, dot or search\n");
    return 2;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> a(n * kDim), b(m * kDim);
  for (auto& v : a) v = normal(rng);
  for (auto& v : b) v = normal(rng);
  std::printf("%zu x %zu x %zu %s, SIMD %s, one thread\n", n, m, kDim, mode.c_str(), ActiveSimdLevelName());
  for (int call = 0; call < calls; ++call) {
    std::vector<float> out;
    std::vector<int32_t> index;
    const auto t0 = std::chrono::steady_clock::now();
    if (mode == "search") {
      const Status st = SemanticSearch(a.data(), n, b.data(), m, kDim, Similarity::kCosine, 10, 100000, 1, nullptr,
                                       nullptr, &index, &out);
      if (!st.ok()) {
        std::fprintf(stderr, "%s\n", st.message().c_str());
        return 1;
      }
    } else {
      out.resize(n * m);
      SimilarityMatrix(a.data(), n, b.data(), m, kDim, mode == "dot" ? Similarity::kDot : Similarity::kCosine, false,
                       out.data(), 1);
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    uint64_t hash = 1469598103934665603ull;
    auto mix = [&](uint32_t u) { hash = (hash ^ u) * 1099511628211ull; };
    for (float f : out) {
      uint32_t u;
      std::memcpy(&u, &f, 4);
      mix(u);
    }
    for (int32_t i : index) mix(static_cast<uint32_t>(i));
    std::printf("%8.1f ms  hash %016llx\n", ms, static_cast<unsigned long long>(hash));
  }
  return 0;
}
