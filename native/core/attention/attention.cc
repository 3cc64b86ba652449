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
  CacheLineVector<float> kt, scores, qbk, vrows, krot, qrot, relc, p2c;
  std::vector<int32_t> tile_lo;
  std::vector<size_t> tile_rows, tile_off;
};

// Problem::pos_q: for each tile of kKeyPad keys, the position queries the block's rows reach from its keys (the
// least and greatest index, whatever the index's order), and where its products go in the scratch; their count.
size_t PlanKeyTiles(const Problem& p, const internal::Block& blk, Scratch* s) {
  const size_t tiles = internal::Padded(blk.n) / internal::kKeyPad;
  s->tile_lo.resize(tiles);
  s->tile_rows.resize(tiles);
  s->tile_off.resize(tiles);
  size_t total = 0;
  for (size_t t = 0; t < tiles; ++t) {
    const size_t j0 = t * internal::kKeyPad, j1 = std::min(blk.n, j0 + internal::kKeyPad);
    int32_t lo, hi;
    internal::IndexRange(p, blk, blk.row0, blk.rows, j0, j1, &lo, &hi);
    s->tile_lo[t] = lo;
    s->tile_rows[t] = static_cast<size_t>(hi - lo) + 1;
    s->tile_off[t] = total;
    total += internal::kKeyPad * internal::Padded(s->tile_rows[t]);
  }
  return total;
}

// Rows of the block that attend uniformly to every token though the kernel did not compute them so: every row when
// `all` (the block has no key), else with a window those whose band holds none of its keys and with query_mask
// those whose own mask entry is 0. Their output rows become V's mean over all tokens (plus V's bias), summed once per
// block and only when some row needs it.
void UniformRows(const Problem& p, const internal::Block& blk, bool all) {
  const size_t D = p.head_size;
  const float* v0 = p.v + blk.b * p.tokens * p.v_stride + blk.h * D;
  const float* vb = p.bias ? p.bias + (2 * p.heads + blk.h) * D : nullptr;
  thread_local std::vector<float> mean;
  bool summed = false;
  for (size_t r = 0; r < blk.rows; ++r) {
    const size_t t = blk.row0 + r;
    bool uniform = all || (p.query_mask && p.mask && p.mask[blk.b * p.tokens + t] == 0);
    if (!uniform && p.Windowed()) {
      size_t lo, hi;
      internal::Band(p, blk, t, &lo, &hi);
      uniform = lo == hi;
    }
    if (!uniform) continue;
    if (!summed) {
      mean.assign(D, 0.0f);
      for (size_t j = 0; j < p.tokens; ++j)
        for (size_t d = 0; d < D; ++d) mean[d] += v0[j * p.v_stride + d];
      const float inv = 1.0f / static_cast<float>(p.tokens);
      for (size_t d = 0; d < D; ++d) mean[d] = mean[d] * inv + (vb ? vb[d] : 0.0f);
      summed = true;
    }
    float* out = p.out + (blk.b * p.QueryRows() + t) * p.out_stride + blk.h * D;
    std::copy(mean.begin(), mean.end(), out);
  }
}

void RunWith(internal::Kernel kernel, const Problem& p, size_t task) {
  const size_t block_rows = p.BlockRows();
  const size_t query_rows = p.QueryRows(), blocks = (query_rows + block_rows - 1) / block_rows;
  const size_t bh = task / blocks, block = task % blocks;
  internal::Block blk;
  blk.b = bh / p.heads;
  blk.h = bh % p.heads;
  blk.row0 = block * block_rows;
  blk.rows = std::min(block_rows, query_rows - blk.row0);
  thread_local Scratch s;
  if (s.keys.size() < p.tokens) s.keys.resize(p.tokens);
  // The keys: those the mask keeps, within the block's rows' bands when there is a window.
  size_t lo = 0, hi = p.tokens, n = 0;
  if (p.Windowed()) {
    lo = blk.row0 > p.window ? blk.row0 - p.window : 0;
    hi = std::min(p.tokens, blk.row0 + blk.rows + p.window);
  }
  const int64_t* m = p.mask ? p.mask + blk.b * p.tokens : nullptr;
  for (size_t t = lo; t < hi; ++t)
    if (!m || m[t] != 0) s.keys[n++] = static_cast<uint32_t>(t);
  blk.uniform = n == 0;  // then no row's band holds a key either
  // With a window or query_mask every row is then V's mean: summed once here, where the kernel would weigh every
  // token for each row (with a window a block past a short text's band would cost a full attention row per row).
  if (blk.uniform && (p.Windowed() || p.query_mask)) {
    blk.keys = s.keys.data();
    blk.n = 0;
    UniformRows(p, blk, true);
    return;
  }
  if (blk.uniform) {
    for (size_t t = 0; t < p.tokens; ++t) s.keys[t] = static_cast<uint32_t>(t);
    n = p.tokens;
  }
  blk.keys = s.keys.data();
  blk.n = n;
  const size_t np = internal::Padded(n);
  if (!blk.uniform && s.kt.size() < p.head_size * np) s.kt.resize(p.head_size * np);
  if (s.scores.size() < internal::kMaxGroupRows * np) s.scores.resize(internal::kMaxGroupRows * np);
  if (p.bias && !blk.uniform && s.qbk.size() < np) s.qbk.resize(np);
  if (s.vrows.size() < n * p.head_size) s.vrows.resize(n * p.head_size);
  if (p.rot_cos && s.krot.size() < n * p.head_size) s.krot.resize(n * p.head_size);
  if ((p.rot_cos || (p.pos_k && p.bias)) && s.qrot.size() < internal::kMaxGroupRows * p.head_size)
    s.qrot.resize(internal::kMaxGroupRows * p.head_size);
  const bool relative = p.rel_index && !blk.uniform;
  if (relative && p.pos_k && s.relc.size() < internal::kMaxGroupRows * internal::Padded(p.rel_size))
    s.relc.resize(internal::kMaxGroupRows * internal::Padded(p.rel_size));
  if (relative && p.pos_q) {
    const size_t total = PlanKeyTiles(p, blk, &s);
    if (s.p2c.size() < total) s.p2c.resize(total);
  }
  blk.relc = s.relc.data();
  blk.p2c = s.p2c.data();
  blk.tile_lo = s.tile_lo.data();
  blk.tile_rows = s.tile_rows.data();
  blk.tile_off = s.tile_off.data();
  blk.krot = s.krot.data();
  blk.qrot = s.qrot.data();
  blk.qbk = s.qbk.data();
  blk.vrows = s.vrows.data();
  blk.kt = s.kt.data();
  blk.scores = s.scores.data();
  kernel(p, blk);
  if ((p.Windowed() || p.query_mask) && !blk.uniform) UniformRows(p, blk, false);
}

internal::Kernel KernelFor(SimdLevel level) {
  internal::Kernel k = nullptr;
  if (level == SimdLevel::kAvx512 && CpuSupports(level)) k = internal::Avx512Kernel();
  if (level == SimdLevel::kAvx2 && CpuSupports(level)) k = internal::Avx2Kernel();
  return k ? k : internal::Vec128Kernel();
}

}  // namespace

void internal::IndexRange(const Problem& p, const Block& blk, size_t row0, size_t rows, size_t j0, size_t j1,
                          int32_t* lo, int32_t* hi) {
  const int32_t* x = p.rel_index + row0 * p.tokens;
  if (p.rel_monotone) {  // the first row's last key, the last row's first key
    *lo = x[blk.keys[j1 - 1]];
    *hi = x[(rows - 1) * p.tokens + blk.keys[j0]];
    return;
  }
  *lo = *hi = x[blk.keys[j0]];
  const bool run = blk.keys[j1 - 1] - blk.keys[j0] == j1 - 1 - j0;  // keys in one run: a contiguous span of a row
  for (size_t r = 0; r < rows; ++r, x += p.tokens) {
    if (run) {
      for (const int32_t* e = x + blk.keys[j0]; e < x + blk.keys[j0] + (j1 - j0); ++e) {
        *lo = std::min(*lo, *e);
        *hi = std::max(*hi, *e);
      }
      continue;
    }
    for (size_t j = j0; j < j1; ++j) {
      *lo = std::min(*lo, x[blk.keys[j]]);
      *hi = std::max(*hi, x[blk.keys[j]]);
    }
  }
}

void internal::Band(const Problem& p, const Block& blk, size_t t, size_t* lo, size_t* hi) {
  const uint32_t* end = blk.keys + blk.n;
  const uint32_t* first = std::lower_bound(blk.keys, end, static_cast<uint32_t>(t > p.window ? t - p.window : 0));
  *lo = static_cast<size_t>(first - blk.keys);
  *hi = static_cast<size_t>(std::upper_bound(first, end, static_cast<uint32_t>(t + p.window)) - blk.keys);
}

size_t TaskCount(const Problem& p) {
  return p.batch * p.heads * ((p.QueryRows() + p.BlockRows() - 1) / p.BlockRows());
}

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
