#include "attention/attention.h"

#include "common/cache_line.h"

#include <algorithm>
#include <vector>

namespace winnow::attention {
namespace {

// Per-thread scratch: the attended keys, K transposed, the block's scores. Grown as needed, kept for the thread;
// 64-byte aligned, so that the kernels' whole-vector loads of kt and scores rows never straddle cache lines.
struct Scratch {
  std::vector<uint32_t> keys;
  CacheLineVector<float> kt, scores, qbk, vrows;
};

void RunWith(internal::Kernel kernel, const Problem& p, size_t task) {
  const size_t query_rows = p.QueryRows(), blocks = (query_rows + kBlockRows - 1) / kBlockRows;
  const size_t bh = task / blocks, block = task % blocks;
  internal::Block blk;
  blk.b = bh / p.heads;
  blk.h = bh % p.heads;
  blk.row0 = block * kBlockRows;
  blk.rows = std::min(kBlockRows, query_rows - blk.row0);
  thread_local Scratch s;
  if (s.keys.size() < p.tokens) s.keys.resize(p.tokens);
  size_t n = 0;
  const int64_t* m = p.mask ? p.mask + blk.b * p.tokens : nullptr;
  for (size_t t = 0; t < p.tokens; ++t)
    if (!m || m[t] != 0) s.keys[n++] = static_cast<uint32_t>(t);
  blk.uniform = n == 0;
  if (blk.uniform) {
    for (size_t t = 0; t < p.tokens; ++t) s.keys[t] = static_cast<uint32_t>(t);
    n = p.tokens;
  }
  blk.keys = s.keys.data();
  blk.n = n;
  const size_t np = (n + internal::kKeyPad - 1) / internal::kKeyPad * internal::kKeyPad;
  if (!blk.uniform && s.kt.size() < p.head_size * np) s.kt.resize(p.head_size * np);
  if (s.scores.size() < internal::kMaxGroupRows * np) s.scores.resize(internal::kMaxGroupRows * np);
  if (p.bias && !blk.uniform && s.qbk.size() < np) s.qbk.resize(np);
  if (s.vrows.size() < n * p.head_size) s.vrows.resize(n * p.head_size);
  blk.qbk = s.qbk.data();
  blk.vrows = s.vrows.data();
  blk.kt = s.kt.data();
  blk.scores = s.scores.data();
  kernel(p, blk);
}

internal::Kernel KernelFor(SimdLevel level) {
  internal::Kernel k = nullptr;
  if (level == SimdLevel::kAvx512 && CpuSupports(level)) k = internal::Avx512Kernel();
  if (level == SimdLevel::kAvx2 && CpuSupports(level)) k = internal::Avx2Kernel();
  return k ? k : internal::Vec128Kernel();
}

}  // namespace

size_t TaskCount(const Problem& p) { return p.batch * p.heads * ((p.QueryRows() + kBlockRows - 1) / kBlockRows); }

void RunTaskAt(SimdLevel level, const Problem& p, size_t task) { RunWith(KernelFor(level), p, task); }

const char* ActiveKernelName() {
  const internal::Kernel k = KernelFor(ActiveSimdLevel());
  if (k == internal::Avx512Kernel()) return "avx512";
  if (k == internal::Avx2Kernel()) return "avx2";
#if defined(__aarch64__)
  return "neon";
#elif defined(__x86_64__)
  return "sse2";
#else
  return "scalar";
#endif
}

void RunTask(const Problem& p, size_t task) {
  static const internal::Kernel kernel = KernelFor(ActiveSimdLevel());
  RunWith(kernel, p, task);
}

}  // namespace winnow::attention
