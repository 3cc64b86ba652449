// Multi-head scaled dot-product attention on the CPU, fused: softmax(Q Kᵀ · scale + key mask) V per head, with no
// [batch, heads, T, T] tensor. One task is one (batch, head, block of query rows): K of that head is copied
// transposed into a per-thread scratch [head_size, keys] and its V rows side by side into another [keys, head_size],
// the block's scores [rows, keys] are computed there (several query rows x a few vectors of keys accumulated in
// registers), softmaxed in place with a vectorized exp (in base 2 with AVX-512), and multiplied by the V rows
// straight into the output.
//
// Keys whose mask is 0 are skipped: in the additive-mask form they add float32's lowest value to their score,
// whose exp underflows to exactly 0. A row with no key at all attends uniformly to every key (every score is then
// the same lowest value), as that form does.
//
// A sliding window (Problem::window, ModernBERT's local layers) masks the keys farther than it from the query the
// same way: a block of query rows gathers only the keys its rows' bands cover, and each row's scores outside its
// own band are dropped before the softmax.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/cpu_features.h"

namespace winnow::attention {

// Token t of batch b, head h of Q, K, V or the output starts at base + (b * tokens + t) * stride + h * head_size
// (strides in floats: H·D for separate tensors, 3·H·D for Q, K and V packed side by side).
struct Problem {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  size_t q_stride = 0, k_stride = 0, v_stride = 0;
  const int64_t* mask = nullptr;  // [batch, tokens]: nonzero = attend; nullptr: every key
  // The projections' biases, [3 · heads · head_size]: Q's, then K's, then V's, added to Q, K and V as they are read
  // (V's to the output: each output row's weights sum to 1); nullptr: none.
  const float* bias = nullptr;
  float* out = nullptr;
  size_t out_stride = 0;
  size_t batch = 0, tokens = 0, heads = 0, head_size = 0;
  float scale = 1.0f;
  // Only the first `query_rows` query tokens of each batch row are computed (0: all tokens); the output then holds
  // that many rows per batch row (a classifier reading the first token needs nothing else from the last layer).
  size_t query_rows = 0;
  size_t QueryRows() const { return query_rows && query_rows < tokens ? query_rows : tokens; }
  // Rows per batch row in Q (0: tokens): Q may hold only the rows computed, at least QueryRows() of them.
  size_t q_tokens = 0;
  size_t QTokens() const { return q_tokens ? q_tokens : tokens; }
  // Sliding window (kNoWindow: none): query token i attends only to keys j with |i - j| <= window (0: itself alone);
  // a row whose band holds no key the mask keeps attends uniformly to every key, as the additive form (float32 lowest
  // outside the band) does. Less than tokens (a wider band is every key: pass kNoWindow).
  static constexpr size_t kNoWindow = static_cast<size_t>(-1);
  size_t window = kNoWindow;
  bool Windowed() const { return window != kNoWindow; }
  size_t BlockRows() const;
  // DeBERTa's disentangled attention (rel_index nullptr: none): score(i, j) gains c2p + p2c before the scale, with
  // x = rel_index[i, j]: c2p = q_i · pos_k[h][:, x] and p2c = k_j · pos_q[h][:, x], q_i and k_j Q's and K's rows as
  // the scores read them (with their biases). pos_k and pos_q [heads, head_size, rel_size]: the position keys and
  // queries, transposed per head; either may be nullptr. rel_index [tokens, tokens], every entry in [0, rel_size)
  // (the caller checks). The kernel computes only the products the block's indices reach: a group's query rows
  // times the position keys between their least and greatest index, and each tile of kKeyPad keys times the
  // position queries the block's rows reach from it.
  const int32_t* rel_index = nullptr;
  const float* pos_k = nullptr;
  const float* pos_q = nullptr;
  size_t rel_size = 0;
  // Every row of rel_index non-increasing along j and every column non-decreasing along i (DeBERTa's index(i - j); the
  // caller checks): a block's least and greatest index are then at its corners, not searched for.
  bool rel_monotone = false;
  // Rotary position embeddings (nullptr: none; no bias then): Q's and K's rows of token t are rotated as they are
  // read, x·cos[t] + rotate_half(x)·sin[t] with rotate_half(x) = [-x2, x1] over the head's halves (ModernBERT,
  // transformers' form). [tokens, head_size] each; the head size even.
  const float* rot_cos = nullptr;
  const float* rot_sin = nullptr;
  // A query row whose own mask entry is 0 attends uniformly to every key (DeBERTa masks score [i, j] where mask_i or
  // mask_j is 0); otherwise only keys are masked.
  bool query_mask = false;
};

// Query rows per task.
inline constexpr size_t kBlockRows = 128;
// With a window: fewer, so that the keys a block gathers (its rows' bands together) stay near one band's.
inline constexpr size_t kBandBlockRows = 32;
inline size_t Problem::BlockRows() const { return Windowed() ? kBandBlockRows : kBlockRows; }
// batch x heads x ceil(QueryRows() / BlockRows()).
size_t TaskCount(const Problem& p);
// Task `task` (0 .. TaskCount - 1) at the process's SIMD level (cpu_features.h); tasks may run concurrently.
void RunTask(const Problem& p, size_t task);
// The same at a given level (tests); a level this CPU or build lacks runs the portable 4-lane code.
void RunTaskAt(SimdLevel level, const Problem& p, size_t task);
// The instructions RunTask uses in this process: "avx512", "avx2", or the portable 4-lane code's "neon" (aarch64),
// "sse2" (x86-64) or "scalar".
const char* ActiveKernelName();

namespace internal {
// One task's rows [row0, row0 + rows) of head h of batch b. `keys`: the n attended keys' indices (all tokens when
// `uniform`, which then weights them equally). Scratch is the caller's (per thread).
struct Block {
  size_t b, h, row0, rows;
  const uint32_t* keys;  // ascending
  size_t n;
  bool uniform;
  float* kt;      // [head_size, padded n]
  float* scores;  // [kMaxGroupRows, padded n]: one group's rows at a time
  float* qbk;     // [padded n]: Q's bias times each K row (plus K's bias), the padding 0; with a bias only
  float* vrows;   // [n, head_size]: V's rows of the attended keys
  float* krot;    // rotary: [n, head_size], the attended keys' K rows rotated
  float* qrot;    // rotary, or pos_k with a bias: [kMaxGroupRows, head_size], a group's Q rows rotated or biased
  float* relc;    // pos_k: [kMaxGroupRows, padded rel_size], a group's rows' products with the position keys
  // pos_q: key tile t (keys [t·kKeyPad, +kKeyPad) of `keys`) times the position queries [tile_lo[t], +tile_rows[t]),
  // at p2c + tile_off[t]: [kKeyPad, Padded(tile_rows[t])], keys past n 0.
  float* p2c;
  const int32_t* tile_lo;
  const size_t* tile_rows;
  const size_t* tile_off;
};
using Kernel = void (*)(const Problem& p, const Block& blk);
// With Problem::window: query token t's band as indices [*lo, *hi) of blk.keys (empty: none of its keys).
void Band(const Problem& p, const Block& blk, size_t t, size_t* lo, size_t* hi);
// Query rows a kernel handles at once (at most).
inline constexpr size_t kMaxGroupRows = 8;
// Keys are padded to a multiple of this in the scratch (every kernel's vector width divides it).
inline constexpr size_t kKeyPad = 16;
// n rounded up to whole kKeyPad: the padded keys, a key tile's row of p2c products, a group row of c2p products.
inline constexpr size_t Padded(size_t n) { return (n + kKeyPad - 1) / kKeyPad * kKeyPad; }
// Problem::rel_index: its least and greatest entry over query rows [row0, row0 + rows) and keys [j0, j1) of blk.keys,
// read at the corners when the index is monotone (Problem::rel_monotone), else searched.
void IndexRange(const Problem& p, const Block& blk, size_t row0, size_t rows, size_t j0, size_t j1, int32_t* lo,
                int32_t* hi);
Kernel Avx2Kernel();    // nullptr when not compiled in (non-x86)
Kernel Avx512Kernel();  // nullptr when not compiled in (non-x86)
Kernel Vec128Kernel();  // 4 lanes of the compiler's generic vectors: any CPU (NEON on aarch64, SSE2 on x86-64)
}  // namespace internal

}  // namespace winnow::attention
