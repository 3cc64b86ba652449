// com.winnow Attention's kernel alone on one thread, at each SIMD level and bf16 kernel this CPU has: packed Q, K, V of a batch
// (default MiniLM-shaped: 32 x 91 tokens, 12 heads of 32, every fourth item 20 % padding, the Q, K, V biases).
// Prints the fastest and median milliseconds per batch and GFLOP/s of the two products (4·T²·D per head).
//   attention_bench [batch=32] [tokens=91] [heads=12] [head_size=32] [runs=50] [bias=1] [only] [window]
// `only`: time just the kernel of that name (e.g. avx512; "" for all). `window`: ModernBERT's sliding band (keys within
// window of the row; e.g. 64), FLOPs still counted as 4·T²·D.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <string>

#include "attention/attention.h"
#include "attention/attention_bf16.h"

using namespace winnow;

int main(int argc, char** argv) {
  auto arg = [&](int i, size_t fallback) { return argc > i ? static_cast<size_t>(std::atol(argv[i])) : fallback; };
  const size_t batch = arg(1, 32), tokens = arg(2, 91), heads = arg(3, 12), d = arg(4, 32), runs = arg(5, 50);
  const bool with_bias = arg(6, 1) != 0;
  const std::string only = argc > 7 ? argv[7] : "";
  const size_t window = arg(8, 0);
  const size_t width = heads * d;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> qkv(batch * tokens * 3 * width), bias(3 * width), out(batch * tokens * width);
  for (float& x : qkv) x = nd(rng);
  for (float& x : bias) x = 0.1f * nd(rng);
  std::vector<int64_t> mask(batch * tokens, 1);
  for (size_t b = 0; b < batch; b += 4)
    for (size_t t = tokens - tokens / 5; t < tokens; ++t) mask[b * tokens + t] = 0;
  attention::Problem p;
  p.q = qkv.data();
  p.k = qkv.data() + width;
  p.v = qkv.data() + 2 * width;
  p.q_stride = p.k_stride = p.v_stride = 3 * width;
  p.mask = mask.data();
  p.bias = with_bias ? bias.data() : nullptr;
  p.out = out.data();
  p.out_stride = width;
  p.batch = batch;
  p.tokens = tokens;
  p.heads = heads;
  p.head_size = d;
  p.scale = 0.17f;
  if (window > 0 && window < tokens - 1) p.window = window;
  const double flops = 4.0 * static_cast<double>(batch * heads) * static_cast<double>(tokens * tokens * d);
  auto time = [&](const char* name, auto&& run_task) {
    if (!only.empty() && only != name) return;
    std::vector<double> ms;
    for (size_t r = 0; r < runs; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (size_t task = 0; task < attention::TaskCount(p); ++task) run_task(task);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    double sum = 0;
    for (float x : out) sum += x;
    std::printf("%-11s fastest %8.3f ms  median %8.3f ms  %6.1f GFLOP/s  (checksum %.6g)\n", name, ms.front(),
                ms[ms.size() / 2], flops / ms.front() / 1e6, sum);
  };
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512})
    if (CpuSupports(level)) time(SimdLevelName(level), [&](size_t t) { attention::RunTaskAt(level, p, t); });
  // The bf16 products (attention_bf16.h) on each kernel this CPU runs.
  for (gemm::Bf16Isa isa : {gemm::Bf16Isa::kAvx512Bf16, gemm::Bf16Isa::kAmx})
    if (gemm::CpuSupportsBf16(isa))
      time((std::string("bf16-") + gemm::Bf16IsaName(isa)).c_str(),
           [&](size_t t) { attention::RunTaskBf16At(isa, p, t); });
  return 0;
}
