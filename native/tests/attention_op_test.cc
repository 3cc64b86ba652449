// Winnow's attention (attention/attention.h) and its ONNX Runtime operator (com.winnow Attention,
// runtime/custom_ops.h), against a plain double-precision softmax(Q Kᵀ · scale + mask) V written here:
//   - every SIMD level this CPU runs, head sizes 32, 64, 128 and odd ones, 1 to 300 tokens, masks with right and
//     left padding, holes, and rows with no key at all, Q / K / V separate and packed, with and without biases;
//   - the operator in an ONNX Runtime session (one node), on two threads, packed and separate, and its errors.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/attention_bf16.h"
#include "onnx/writer.h"
#include "ort_library.h"
#include "runtime/custom_ops.h"
#include "runtime/ort_runtime.h"

namespace winnow {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng) * scale;
  return v;
}

enum class MaskKind { kNone, kAll, kRight, kLeft, kHoles, kEmptyRow };

// [batch, tokens]: row b's pattern varies with b (lengths differ), kEmptyRow makes row 0 all zeros.
std::vector<int64_t> Mask(MaskKind kind, size_t batch, size_t tokens, uint32_t seed) {
  std::vector<int64_t> m(batch * tokens, 1);
  std::mt19937 rng(seed);
  for (size_t b = 0; b < batch; ++b) {
    const size_t len = tokens - (b * 7) % tokens;  // b = 0: all tokens
    for (size_t t = 0; t < tokens; ++t) {
      int64_t& x = m[b * tokens + t];
      if (kind == MaskKind::kRight) x = t < len ? 1 : 0;
      if (kind == MaskKind::kLeft) x = t >= tokens - len ? 1 : 0;
      if (kind == MaskKind::kHoles) x = rng() % 3 == 0 ? 0 : 1;
      if (kind == MaskKind::kEmptyRow) x = b == 0 ? 0 : (t < len ? 1 : 0);
    }
  }
  return m;
}

// The plain form: every score, float32 lowest added for a masked key (so a row with no key weights all alike).
std::vector<double> Reference(const attention::Problem& p) {
  const size_t T = p.tokens, D = p.head_size;
  std::vector<double> out(p.batch * T * p.heads * D), s(T);
  for (size_t b = 0; b < p.batch; ++b)
    for (size_t h = 0; h < p.heads; ++h)
      for (size_t i = 0; i < T; ++i) {
        const float* q = p.q + (b * T + i) * p.q_stride + h * D;
        // The projections' biases, as the operator's bias input adds them (none: zeros).
        auto bias = [&](size_t part, size_t d) { return p.bias ? static_cast<double>(p.bias[(part * p.heads + h) * D + d]) : 0.0; };
        // A key is masked by the mask, or (a window) by its distance from the query; with query_mask every key of a
        // masked query row.
        auto masked_key = [&](size_t j) {
          const size_t distance = i > j ? i - j : j - i;
          return (p.mask && p.mask[b * T + j] == 0) || (p.Windowed() && distance > p.window) ||
                 (p.query_mask && p.mask && p.mask[b * T + i] == 0);
        };
        bool any = false;
        for (size_t j = 0; j < T; ++j) any |= !masked_key(j);
        // Rotary (Problem::rot_cos): x at token t as x·cos[t] + rotate_half(x)·sin[t], in double.
        auto rotated = [&](const float* x, size_t t, size_t part, size_t d) {
          const double v = x[d] + bias(part, d);
          if (!p.rot_cos) return v;
          const size_t half = D / 2, o = d < half ? d + half : d - half;
          const double partner = (x[o] + bias(part, o)) * (d < half ? -1.0 : 1.0);
          return v * p.rot_cos[t * D + d] + partner * p.rot_sin[t * D + d];
        };
        double mx = -1e300;
        for (size_t j = 0; j < T; ++j) {
          const float* k = p.k + (b * T + j) * p.k_stride + h * D;
          double dot = 0;
          for (size_t d = 0; d < D; ++d) dot += rotated(q, i, 0, d) * rotated(k, j, 1, d);
          if (p.rel_index) {  // DeBERTa's c2p and p2c terms: Q's row times position key x, K's times position query x
            const size_t x = static_cast<size_t>(p.rel_index[i * T + j]), m = p.rel_size;
            for (size_t d = 0; d < D; ++d) {
              if (p.pos_k) dot += rotated(q, i, 0, d) * p.pos_k[(h * D + d) * m + x];
              if (p.pos_q) dot += rotated(k, j, 1, d) * p.pos_q[(h * D + d) * m + x];
            }
          }
          const bool masked = masked_key(j);
          s[j] = !any ? 0.0 : masked ? -1e300 : dot * p.scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (size_t j = 0; j < T; ++j) sum += s[j] = s[j] <= -1e299 ? 0.0 : std::exp(s[j] - mx);
        double* o = out.data() + (b * T + i) * p.heads * D + h * D;
        for (size_t j = 0; j < T; ++j) {
          const float* v = p.v + (b * T + j) * p.v_stride + h * D;
          for (size_t d = 0; d < D; ++d) o[d] += s[j] / sum * (v[d] + bias(2, d));
        }
      }
  return out;
}

// Largest |got - want| / max(1, |want|). Outputs are averages of V's entries (normal, standard deviation 1), so
// this is float32 rounding of scores of a few units (a float32 kernel misses the double result by about 1e-6);
// a key missed, a wrong scale or an exp off by 1e-4 shows far above the bound.
double WorstError(const std::vector<float>& got, const std::vector<double>& want, std::string* where) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::isfinite(got[i]) ? std::abs(got[i] - want[i]) / std::max(1.0, std::abs(want[i])) : 1e9;
    if (e > worst) {
      worst = e;
      char text[96];
      std::snprintf(text, sizeof text, "element %zu: %.9g vs %.9g", i, got[i], want[i]);
      *where = text;
    }
  }
  return worst;
}

// The first `kept` of each `outer` group of `tokens` rows of `row` floats (a Q holding just the rows computed).
std::vector<float> FirstRows(const std::vector<float>& full, size_t outer, size_t tokens, size_t kept, size_t row) {
  std::vector<float> out;
  for (size_t o = 0; o < outer; ++o)
    out.insert(out.end(), full.begin() + o * tokens * row, full.begin() + (o * tokens + kept) * row);
  return out;
}

struct Inputs {
  std::vector<float> q, k, v, qkv, bias;  // bias [3 · width]: Q's, K's, V's
  std::vector<int64_t> mask;
};

// Q, K, V for `batch` x `tokens` x `heads` x `head`: separate, and the same values packed side by side.
Inputs MakeInputs(size_t batch, size_t tokens, size_t heads, size_t head, MaskKind kind, uint32_t seed) {
  Inputs in;
  const size_t w = heads * head, n = batch * tokens * w;
  in.q = Random(n, seed, 1.5f);
  in.k = Random(n, seed + 1, 1.5f);
  in.v = Random(n, seed + 2, 1.0f);
  in.qkv.resize(3 * n);
  for (size_t r = 0; r < batch * tokens; ++r)
    for (size_t c = 0; c < w; ++c) {
      in.qkv[r * 3 * w + c] = in.q[r * w + c];
      in.qkv[r * 3 * w + w + c] = in.k[r * w + c];
      in.qkv[r * 3 * w + 2 * w + c] = in.v[r * w + c];
    }
  if (kind != MaskKind::kNone) in.mask = Mask(kind, batch, tokens, seed + 3);
  in.bias = Random(3 * w, seed + 4, 0.7f);
  return in;
}

attention::Problem MakeProblem(const Inputs& in, bool packed, size_t batch, size_t tokens, size_t heads, size_t head,
                               float* out, bool bias = false) {
  attention::Problem p;
  const size_t w = heads * head;
  p.q = packed ? in.qkv.data() : in.q.data();
  p.k = packed ? in.qkv.data() + w : in.k.data();
  p.v = packed ? in.qkv.data() + 2 * w : in.v.data();
  p.q_stride = p.k_stride = p.v_stride = packed ? 3 * w : w;
  p.mask = in.mask.empty() ? nullptr : in.mask.data();
  p.bias = bias ? in.bias.data() : nullptr;
  p.out = out;
  p.out_stride = w;
  p.batch = batch;
  p.tokens = tokens;
  p.heads = heads;
  p.head_size = head;
  p.scale = 1.0f / std::sqrt(static_cast<float>(head));
  return p;
}

constexpr double kBound = 1e-5;

TEST(Attention, EverySimdLevelMatchesTheReference) {
  struct Shape {
    size_t batch, tokens, heads, head;
  };
  const Shape shapes[] = {{2, 1, 2, 32},  {3, 5, 2, 64},  {2, 17, 3, 24}, {2, 64, 2, 128}, {2, 65, 2, 32},
                          {3, 130, 1, 64}, {2, 300, 2, 32}, {1, 77, 2, 5},  {2, 40, 1, 200}, {1, 3, 1, 1},
                          {4, 91, 2, 32}};  // MiniLM's batches: 8-row groups and a 3-row tail, 48-key score blocks
  const MaskKind kinds[] = {MaskKind::kNone, MaskKind::kAll, MaskKind::kRight, MaskKind::kLeft, MaskKind::kHoles,
                            MaskKind::kEmptyRow};
  int levels = 0;
  for (SimdLevel level : kAllSimdLevels) {
    if (!CpuSupports(level)) continue;
    ++levels;
    uint32_t seed = 10;
    for (const Shape& s : shapes)
      for (MaskKind kind : kinds)
        for (bool packed : {false, true}) {
          const Inputs in = MakeInputs(s.batch, s.tokens, s.heads, s.head, kind, seed += 4);
          const bool bias = (seed / 8) % 2 == 1;  // half the shape x mask pairs, both layouts
          std::vector<float> out(s.batch * s.tokens * s.heads * s.head, std::nanf(""));
          const attention::Problem p = MakeProblem(in, packed, s.batch, s.tokens, s.heads, s.head, out.data(), bias);
          const size_t tasks = attention::TaskCount(p);
          for (size_t t = tasks; t-- > 0;) attention::RunTaskAt(level, p, t);  // any order
          std::string where;
          const double e = WorstError(out, Reference(p), &where);
          EXPECT_LT(e, kBound) << SimdLevelName(level) << " batch " << s.batch << " tokens " << s.tokens << " heads "
                               << s.heads << " head " << s.head << " mask " << static_cast<int>(kind) << " packed "
                               << packed << " bias " << bias << ": " << where;
        }
  }
  EXPECT_GE(levels, 1);
}

// Peaked scores (Q and K large): the max-subtracted exp must stay exact over a wide range of arguments.
TEST(Attention, PeakedSoftmaxMatchesTheReference) {
  for (SimdLevel level : kAllSimdLevels) {
    if (!CpuSupports(level)) continue;
    Inputs in = MakeInputs(2, 90, 2, 64, MaskKind::kHoles, 99);
    for (float& x : in.q) x *= 4.0f;
    std::vector<float> out(2 * 90 * 2 * 64, std::nanf(""));
    const attention::Problem p = MakeProblem(in, false, 2, 90, 2, 64, out.data());
    for (size_t t = 0; t < attention::TaskCount(p); ++t) attention::RunTaskAt(level, p, t);
    std::string where;
    EXPECT_LT(WorstError(out, Reference(p), &where), kBound) << SimdLevelName(level) << ": " << where;
  }
}

// Every score far below 0 (about -112), with keys that do not fill whole vectors: e^score underflows in float32, so
// a kernel whose row max or sum saw the padding keys' zero scores gives 0 / 0 or infinity instead of the softmax.
// Q and K are short binary fractions (exact dot products) and the scores lie within a unit or so of each other: at
// this magnitude float32 rounding of the scores alone would come near the bound.
TEST(Attention, FarNegativeScoresWithPaddedKeys) {
  for (SimdLevel level : kAllSimdLevels) {
    if (!CpuSupports(level)) continue;
    for (MaskKind kind : {MaskKind::kNone, MaskKind::kHoles}) {
      Inputs in = MakeInputs(2, 91, 2, 32, kind, 123);
      for (float& x : in.q) x = 1.0f + std::round(x * 2.0f) / 64.0f;
      for (float& x : in.k) x = -1.0f + std::round(x * 16.0f) / 1024.0f;
      std::vector<float> out(2 * 91 * 2 * 32, std::nanf(""));
      attention::Problem p = MakeProblem(in, false, 2, 91, 2, 32, out.data());
      p.scale = 3.5f;
      for (size_t t = 0; t < attention::TaskCount(p); ++t) attention::RunTaskAt(level, p, t);
      std::string where;
      EXPECT_LT(WorstError(out, Reference(p), &where), kBound) << SimdLevelName(level) << ": " << where;
    }
  }
}

// The reference's first QueryRows() rows of each batch row: the rows a problem with query_rows computes.
std::vector<double> KeptReference(const attention::Problem& p) {
  const size_t kept = p.QueryRows(), w = p.heads * p.head_size;
  const std::vector<double> all = Reference(p);
  std::vector<double> want;
  for (size_t b = 0; b < p.batch; ++b)
    want.insert(want.end(), all.begin() + b * p.tokens * w, all.begin() + (b * p.tokens + kept) * w);
  return want;
}

// p's tasks run by `run` (last first) into p.out, NaN beforehand; the worst error against `want`.
double RunAndCompare(const attention::Problem& p, const std::function<void(size_t)>& run,
                     const std::vector<double>& want, std::string* where) {
  const size_t n = p.batch * p.QueryRows() * p.heads * p.head_size;
  std::fill(p.out, p.out + n, std::nanf(""));
  for (size_t t = attention::TaskCount(p); t-- > 0;) run(t);
  return WorstError(std::vector<float>(p.out, p.out + n), want, where);
}

// Problem::window: the sliding window of ModernBERT's local layers, against the reference with the band added to the
// mask, at every SIMD level: windows of 0 to more than the tokens, blocks whose rows' bands differ, right padding
// past a window (rows whose band holds only padding attend to every token alike), holes, a row with no key, the first
// rows alone, with and without biases. The bf16 kernels run a windowed problem in float32: the same bound.
TEST(Attention, SlidingWindowMatchesTheReference) {
  struct Shape {
    size_t batch, tokens, heads, head, window, rows;
  };
  const Shape shapes[] = {{2, 300, 2, 32, 64, 0}, {3, 91, 2, 64, 5, 0},  {2, 200, 1, 32, 1, 0},  {2, 40, 2, 24, 100, 0},
                          {2, 130, 2, 32, 16, 1}, {2, 150, 2, 32, 20, 45}, {1, 70, 3, 16, 33, 0}, {2, 50, 2, 32, 0, 0}};
  // kHoles's place in this list also runs a short text in a long batch row (below): whole 32-row blocks past the
  // text's bands, with no key at all.
  const MaskKind kinds[] = {MaskKind::kNone, MaskKind::kRight, MaskKind::kLeft, MaskKind::kHoles, MaskKind::kEmptyRow};
  uint32_t seed = 900;
  for (const Shape& s : shapes)
    for (MaskKind kind : kinds)
      for (bool packed : {false, true}) {
        Inputs in = MakeInputs(s.batch, s.tokens, s.heads, s.head, kind, seed += 3);
        if (kind == MaskKind::kHoles && packed && s.batch > 1)  // batch row 1: its first 10 tokens alone
          for (size_t t = 0; t < s.tokens; ++t) in.mask[s.tokens + t] = t < 10 ? 1 : 0;
        const bool bias = (seed / 3) % 2 == 1;
        std::vector<float> out(s.batch * s.tokens * s.heads * s.head, std::nanf(""));
        attention::Problem p = MakeProblem(in, packed, s.batch, s.tokens, s.heads, s.head, out.data(), bias);
        p.window = s.window;
        p.query_rows = s.rows;
        const size_t kept = p.QueryRows();
        const std::vector<double> want = KeptReference(p);
        auto check = [&](const std::string& name, const std::function<void(size_t)>& run) {
          std::string where;
          EXPECT_LT(RunAndCompare(p, run, want, &where), kBound)
              << name << " tokens " << s.tokens << " window " << s.window << " rows " << s.rows << " mask "
              << static_cast<int>(kind) << " packed " << packed << " bias " << bias << ": " << where;
        };
        EXPECT_EQ(attention::TaskCount(p),
                  s.batch * s.heads * ((kept + attention::kBandBlockRows - 1) / attention::kBandBlockRows));
        for (SimdLevel level : kAllSimdLevels)
          if (CpuSupports(level)) check(SimdLevelName(level), [&](size_t t) { attention::RunTaskAt(level, p, t); });
        if (std::string(attention::ActiveBf16KernelName()) != "none")
          check("bf16", [&](size_t t) { attention::RunTaskBf16(p, t); });
      }
}

// Rotary tables (Problem::rot_cos / rot_sin) as ModernBERT's: Q's and K's rows rotated by their own token's angles, at
// every SIMD level, with and without a window, masks, the first rows alone (position 0's angles), head sizes whose
// halves fill whole vectors or not.
std::vector<float> RotaryTable(size_t tokens, size_t head, double theta, bool sine) {
  std::vector<float> t(tokens * head);
  for (size_t i = 0; i < tokens; ++i)
    for (size_t d = 0; d < head; ++d) {
      const double angle = static_cast<double>(i) * std::pow(theta, -2.0 * static_cast<double>(d % (head / 2)) / head);
      t[i * head + d] = static_cast<float>(sine ? std::sin(angle) : std::cos(angle));
    }
  return t;
}

TEST(Attention, RotaryMatchesTheReference) {
  struct Shape {
    size_t batch, tokens, heads, head, window, rows;
  };
  const Shape shapes[] = {{2, 91, 2, 64, 0, 0}, {2, 150, 2, 32, 16, 0}, {3, 40, 3, 24, 0, 1}, {2, 70, 2, 64, 8, 1},
                          {1, 33, 1, 6, 0, 0}};
  uint32_t seed = 1700;
  for (const Shape& s : shapes)
    for (MaskKind kind : {MaskKind::kNone, MaskKind::kRight, MaskKind::kHoles, MaskKind::kEmptyRow})
      for (bool packed : {false, true}) {
        const Inputs in = MakeInputs(s.batch, s.tokens, s.heads, s.head, kind, seed += 3);
        const std::vector<float> cosines = RotaryTable(s.tokens, s.head, 10000.0, false);
        const std::vector<float> sines = RotaryTable(s.tokens, s.head, 10000.0, true);
        std::vector<float> out(s.batch * s.tokens * s.heads * s.head, std::nanf(""));
        attention::Problem p = MakeProblem(in, packed, s.batch, s.tokens, s.heads, s.head, out.data(), false);
        p.rot_cos = cosines.data();
        p.rot_sin = sines.data();
        p.window = s.window ? s.window : attention::Problem::kNoWindow;
        p.query_rows = s.rows;
        const size_t kept = p.QueryRows(), w = s.heads * s.head;
        const std::vector<double> want = KeptReference(p);
        // Every SIMD level; then (first rows alone) Q holding just those rows (Problem::q_tokens), position 0's first.
        const std::vector<float> short_q = FirstRows(in.q, s.batch, s.tokens, kept, w);
        attention::Problem ps = p;
        ps.q = short_q.data();
        ps.q_tokens = kept;
        for (SimdLevel level : kAllSimdLevels) {
          if (!CpuSupports(level)) continue;
          std::string where;
          EXPECT_LT(RunAndCompare(p, [&](size_t t) { attention::RunTaskAt(level, p, t); }, want, &where), kBound)
              << SimdLevelName(level) << " tokens " << s.tokens << " head " << s.head << " window " << s.window
              << " rows " << s.rows << " mask " << static_cast<int>(kind) << " packed " << packed << ": " << where;
          if (s.rows == 0 || packed) continue;
          EXPECT_LT(RunAndCompare(ps, [&](size_t t) { attention::RunTaskAt(level, ps, t); }, want, &where), kBound)
              << SimdLevelName(level) << " short Q, tokens " << s.tokens << " rows " << s.rows << ": " << where;
        }
      }
}

// DeBERTa's disentangled terms (Problem::rel_index, pos_k, pos_q) and query_mask, at every SIMD level: both terms or
// one, index tables of DeBERTa's shape (a clipped distance) and scattered ones, over a few position rows or as many as
// distances, masks with padding, holes and a row with no key, with and without the projections' biases, the first
// rows alone. A padding query row attends to every key alike.
TEST(Attention, RelativeTermsAndQueryMaskMatchTheReference) {
  struct Shape {
    size_t batch, tokens, heads, head, rows;
  };
  const Shape shapes[] = {{2, 91, 2, 32, 0}, {3, 20, 3, 24, 0}, {2, 150, 2, 64, 1}, {1, 9, 1, 16, 0}, {2, 40, 2, 32, 3}};
  uint32_t seed = 1300;
  for (const Shape& s : shapes)
    for (MaskKind kind : {MaskKind::kNone, MaskKind::kRight, MaskKind::kHoles, MaskKind::kEmptyRow})
      for (int terms = 1; terms <= 3; ++terms) {  // 1: c2p, 2: p2c, 3: both
        const Inputs in = MakeInputs(s.batch, s.tokens, s.heads, s.head, kind, seed += 3);
        const size_t m = (seed / 6) % 2 ? 2 * s.tokens : 2 * std::min<size_t>(s.tokens, 12);
        std::vector<int32_t> index(s.tokens * s.tokens);
        std::mt19937 rng(seed);
        for (size_t i = 0; i < s.tokens; ++i)
          for (size_t j = 0; j < s.tokens; ++j) {
            const long dist = static_cast<long>(i) - static_cast<long>(j), half = static_cast<long>(m / 2);
            index[i * s.tokens + j] = seed % 2 ? static_cast<int32_t>(std::clamp(dist, -half, half - 1) + half)
                                               : static_cast<int32_t>(rng() % m);
          }
        // Terms of a few units: entries of 0.3 times Q's and K's (standard normal) over head dimensions.
        const std::vector<float> pos_k = Random(s.heads * s.head * m, seed + 7, 0.3f);
        const std::vector<float> pos_q = Random(s.heads * s.head * m, seed + 8, 0.3f);
        std::vector<float> out(s.batch * s.tokens * s.heads * s.head, std::nanf(""));
        attention::Problem p =
            MakeProblem(in, (seed / 3) % 3 == 0, s.batch, s.tokens, s.heads, s.head, out.data(), seed % 5 < 2);
        p.rel_index = index.data();
        p.pos_k = terms & 1 ? pos_k.data() : nullptr;
        p.pos_q = terms & 2 ? pos_q.data() : nullptr;
        p.rel_size = m;
        p.rel_monotone = seed % 2 == 1;  // the clamped distance
        p.query_mask = true;
        p.query_rows = s.rows;
        const size_t kept = p.QueryRows(), w = s.heads * s.head;
        const std::vector<double> want = KeptReference(p);
        // Every SIMD level; then (first rows alone, separate Q) a Q holding just those rows (Problem::q_tokens).
        const std::vector<float> short_q = FirstRows(in.q, s.batch, s.tokens, kept, w);
        attention::Problem ps = p;
        ps.q = short_q.data();
        ps.q_tokens = kept;
        for (SimdLevel level : kAllSimdLevels) {
          if (!CpuSupports(level)) continue;
          std::string where;
          EXPECT_LT(RunAndCompare(p, [&](size_t t) { attention::RunTaskAt(level, p, t); }, want, &where), kBound)
              << SimdLevelName(level) << " tokens " << s.tokens << " rows " << s.rows << " mask "
              << static_cast<int>(kind) << " terms " << terms << " n " << m << " bias " << (p.bias != nullptr)
              << ": " << where;
          if (s.rows == 0 || p.q_stride != w) continue;
          EXPECT_LT(RunAndCompare(ps, [&](size_t t) { attention::RunTaskAt(level, ps, t); }, want, &where), kBound)
              << SimdLevelName(level) << " short Q, tokens " << s.tokens << " rows " << s.rows << " terms " << terms
              << ": " << where;
        }
      }
}

// Problem::query_rows: only the first rows of each batch row are computed, into an output of that many rows per batch
// row, and they are the full computation's rows bit for bit (float32 at every SIMD level, and the bf16 kernel); also
// from a Q that holds just those rows (Problem::q_tokens).
TEST(Attention, FirstQueryRowsAloneAreTheFullRows) {
  struct Shape {
    size_t batch, tokens, heads, head, rows;
  };
  const Shape shapes[] = {{3, 91, 2, 32, 1}, {2, 17, 3, 24, 5}, {2, 200, 2, 64, 130}, {2, 40, 1, 32, 40}, {2, 9, 2, 32, 50}};
  uint32_t seed = 500;
  for (const Shape& s : shapes)
    for (MaskKind kind : {MaskKind::kNone, MaskKind::kRight, MaskKind::kEmptyRow})
      for (bool packed : {false, true}) {
        const Inputs in = MakeInputs(s.batch, s.tokens, s.heads, s.head, kind, seed += 5);
        const size_t w = s.heads * s.head, kept = std::min(s.rows, s.tokens);
        std::vector<float> full(s.batch * s.tokens * w, std::nanf(""));
        std::vector<float> first(s.batch * kept * w, std::nanf(""));
        attention::Problem pf = MakeProblem(in, packed, s.batch, s.tokens, s.heads, s.head, full.data(), true);
        attention::Problem pq = pf;
        pq.out = first.data();
        pq.query_rows = s.rows;
        // Q's first `kept` rows of each batch row alone (separate layout only).
        std::vector<float> short_q;
        for (size_t b = 0; b < s.batch && !packed; ++b)
          short_q.insert(short_q.end(), in.q.begin() + b * s.tokens * w, in.q.begin() + (b * s.tokens + kept) * w);
        attention::Problem ps = pq;
        ps.q = short_q.data();
        ps.q_tokens = kept;
        EXPECT_EQ(pq.QueryRows(), kept);
        EXPECT_EQ(attention::TaskCount(pq), s.batch * s.heads * ((kept + attention::kBlockRows - 1) / attention::kBlockRows));
        auto check = [&](const std::string& name) {
          for (size_t b = 0; b < s.batch; ++b)
            for (size_t r = 0; r < kept; ++r)
              for (size_t c = 0; c < w; ++c)
                ASSERT_EQ(first[(b * kept + r) * w + c], full[(b * s.tokens + r) * w + c])
                    << name << " batch " << s.batch << " tokens " << s.tokens << " rows " << s.rows << " at " << b
                    << ", " << r << ", " << c;
        };
        for (SimdLevel level : kAllSimdLevels) {
          if (!CpuSupports(level)) continue;
          for (size_t t = 0; t < attention::TaskCount(pf); ++t) attention::RunTaskAt(level, pf, t);
          for (size_t t = attention::TaskCount(pq); t-- > 0;) attention::RunTaskAt(level, pq, t);
          check(SimdLevelName(level));
          if (packed) continue;
          std::fill(first.begin(), first.end(), std::nanf(""));
          for (size_t t = 0; t < attention::TaskCount(ps); ++t) attention::RunTaskAt(level, ps, t);
          check(std::string(SimdLevelName(level)) + " short Q");
        }
        if (std::string(attention::ActiveBf16KernelName()) != "none") {
          for (size_t t = 0; t < attention::TaskCount(pf); ++t) attention::RunTaskBf16(pf, t);
          for (size_t t = attention::TaskCount(pq); t-- > 0;) attention::RunTaskBf16(pq, t);
          check(std::string("bf16 ") + attention::ActiveBf16KernelName());
          if (!packed) {
            std::fill(first.begin(), first.end(), std::nanf(""));
            for (size_t t = 0; t < attention::TaskCount(ps); ++t) attention::RunTaskBf16(ps, t);
            check(std::string("bf16 short Q ") + attention::ActiveBf16KernelName());
          }
        }
      }
}

// ---- the operator in ONNX Runtime

using winnow::test_support::OrtLibrary;

std::string FloatValue(const std::string& name, int64_t width) {
  return onnx::ValueInfo(name, onnx::dtype::kFloat, {{-1, "batch"}, {-1, "tokens"}, {width, ""}});
}

// One com.winnow Attention node: (Q, K, V, mask) or packed (QKV, "", "", mask), then the bias [bias_size] when
// bias_size > 0 (an initializer of the values given).
std::string AttentionModel(bool packed, int64_t heads, int64_t width, const std::vector<float>& bias = {},
                           int64_t bias_size = 0, int64_t window = 0) {
  onnx::GraphWriter g;
  std::vector<std::string> inputs = packed ? std::vector<std::string>{"QKV", "", "", "mask"}
                                           : std::vector<std::string>{"Q", "K", "V", "mask"};
  if (bias_size > 0) {
    inputs.push_back("B");
    g.Initializer(onnx::FloatTensor("B", {bias_size}, std::vector<float>(bias.begin(), bias.begin() + bias_size)));
  }
  std::vector<std::string> attrs = {onnx::IntAttribute("num_heads", heads)};
  if (window != 0) attrs.push_back(onnx::IntAttribute("window", window));
  g.Node(rt::kAttentionOp, inputs, {"Y"}, attrs, rt::kCustomDomain);
  if (packed) {
    g.Input(FloatValue("QKV", 3 * width));
  } else {
    for (const char* n : {"Q", "K", "V"}) g.Input(FloatValue(n, width));
  }
  g.Input(onnx::ValueInfo("mask", onnx::dtype::kInt64, {{-1, "batch"}, {-1, "tokens"}}));
  g.Output(FloatValue("Y", width));
  return onnx::ModelProto(g.Graph("g"), {{"", 17}, {rt::kCustomDomain, 1}});
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += "\n" + l;
  return s;
}

class AttentionOrt : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat sb;
    ASSERT_EQ(stat(OrtLibrary().c_str(), &sb), 0)
        << "no ONNX Runtime library at " << OrtLibrary() << ": run `npm run build` first (or set WINNOW_ORT_LIBRARY)";
    auto rt = rt::OrtRuntime::Get(OrtLibrary());
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    rt_ = *rt;
    ASSERT_NE(rt::CustomOpDomain(), nullptr);
  }
  // Runs the model; mask_tokens: the mask's second axis (tokens unless testing a bad shape).
  std::vector<float> Run(const std::string& model, const Inputs& in, bool packed, size_t batch, size_t tokens,
                         size_t width, size_t mask_tokens) {
    Ort::SessionOptions so;
    so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    so.SetIntraOpNumThreads(2);
    so.Add(rt::CustomOpDomain());
    Ort::Session s(rt_->env(), model.data(), model.size(), so);
    auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    const int64_t shape[3] = {static_cast<int64_t>(batch), static_cast<int64_t>(tokens), static_cast<int64_t>(width)};
    const int64_t packed_shape[3] = {shape[0], shape[1], 3 * shape[2]};
    const int64_t mask_shape[2] = {shape[0], static_cast<int64_t>(mask_tokens)};
    std::vector<Ort::Value> values;
    std::vector<const char*> names;
    auto add = [&](const char* name, const std::vector<float>& v, const int64_t* dims) {
      values.push_back(Ort::Value::CreateTensor<float>(mem, const_cast<float*>(v.data()), v.size(), dims, 3));
      names.push_back(name);
    };
    if (packed) {
      add("QKV", in.qkv, packed_shape);
    } else {
      add("Q", in.q, shape);
      add("K", in.k, shape);
      add("V", in.v, shape);
    }
    std::vector<int64_t> mask = in.mask;
    mask.resize(batch * mask_tokens, 1);
    values.push_back(Ort::Value::CreateTensor<int64_t>(mem, mask.data(), mask.size(), mask_shape, 2));
    names.push_back("mask");
    const char* out_names[] = {"Y"};
    auto out = s.Run(Ort::RunOptions{nullptr}, names.data(), values.data(), values.size(), out_names, 1);
    EXPECT_EQ(out[0].GetTensorTypeAndShapeInfo().GetShape(), std::vector<int64_t>(shape, shape + 3));
    const float* p = out[0].GetTensorData<float>();
    return std::vector<float>(p, p + batch * tokens * width);
  }
  rt::OrtRuntime* rt_ = nullptr;
};

TEST_F(AttentionOrt, OperatorMatchesTheReference) {
  struct Case {
    size_t batch, tokens, heads, head;
    MaskKind kind;
  };
  const Case cases[] = {{3, 37, 12, 32, MaskKind::kRight},  {2, 129, 6, 64, MaskKind::kHoles},
                        {2, 20, 2, 128, MaskKind::kEmptyRow}, {1, 1, 4, 24, MaskKind::kAll},
                        {4, 70, 3, 24, MaskKind::kLeft}};
  uint32_t seed = 500;
  for (const Case& c : cases)
    for (bool packed : {false, true})
      for (bool bias : {false, true}) {
        const size_t width = c.heads * c.head;
        const Inputs in = MakeInputs(c.batch, c.tokens, c.heads, c.head, c.kind, seed += 4);
        const int64_t w = static_cast<int64_t>(width);
        const auto got = Run(AttentionModel(packed, static_cast<int64_t>(c.heads), w, in.bias, bias ? 3 * w : 0), in,
                             packed, c.batch, c.tokens, width, c.tokens);
        std::vector<float> unused(width);
        const auto want = Reference(MakeProblem(in, packed, c.batch, c.tokens, c.heads, c.head, unused.data(), bias));
        std::string where;
        EXPECT_LT(WorstError(got, want, &where), kBound)
            << "tokens " << c.tokens << " head " << c.head << " packed " << packed << " bias " << bias << ": " << where;
      }
}

// The window attribute: a sliding window, as Problem::window; a negative one is refused at load.
TEST_F(AttentionOrt, WindowAttributeMatchesTheReference) {
  uint32_t seed = 700;
  for (bool packed : {false, true})
    for (int64_t window : {int64_t{1}, int64_t{7}, int64_t{64}}) {
      const size_t batch = 3, tokens = 150, heads = 2, head = 32, width = heads * head;
      const Inputs in = MakeInputs(batch, tokens, heads, head, MaskKind::kRight, seed += 4);
      const int64_t w = static_cast<int64_t>(width);
      const auto got = Run(AttentionModel(packed, static_cast<int64_t>(heads), w, in.bias, 3 * w, window), in, packed,
                           batch, tokens, width, tokens);
      std::vector<float> unused(width);
      attention::Problem p = MakeProblem(in, packed, batch, tokens, heads, head, unused.data(), true);
      p.window = static_cast<size_t>(window);
      std::string where;
      EXPECT_LT(WorstError(got, Reference(p), &where), kBound) << "window " << window << " packed " << packed << ": " << where;
    }
  const Inputs in = MakeInputs(2, 8, 2, 16, MaskKind::kAll, 7);
  try {
    Run(AttentionModel(false, 2, 32, {}, 0, -2), in, false, 2, 8, 32, 8);
    ADD_FAILURE() << "a window of -2 ran";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("window must not be negative"), std::string::npos) << e.what();
  }
}

// DeBERTa's inputs (pos_k, pos_q, rel_index) and query_mask through the operator; an index outside [0, n) or position
// tables of another shape are the session's errors, not a read out of bounds.
TEST_F(AttentionOrt, RelativeInputsMatchTheReference) {
  const size_t batch = 2, tokens = 37, heads = 3, head = 32, width = heads * head, m = 16;
  const Inputs in = MakeInputs(batch, tokens, heads, head, MaskKind::kRight, 77);
  std::vector<float> pos_k = Random(heads * head * m, 78, 0.3f), pos_q = Random(heads * head * m, 79, 0.3f);
  std::vector<int32_t> index(tokens * tokens);
  for (size_t i = 0; i < tokens; ++i)
    for (size_t j = 0; j < tokens; ++j)
      index[i * tokens + j] = static_cast<int32_t>(std::clamp<long>(static_cast<long>(i) - static_cast<long>(j), -8, 7) + 8);
  onnx::GraphWriter g;
  g.Node(rt::kAttentionOp, {"Q", "K", "V", "mask", "", "PK", "PQ", "IDX"}, {"Y"},
         {onnx::IntAttribute("num_heads", heads), onnx::IntAttribute("query_mask", 1)}, rt::kCustomDomain);
  for (const char* n : {"Q", "K", "V"}) g.Input(FloatValue(n, static_cast<int64_t>(width)));
  g.Input(onnx::ValueInfo("mask", onnx::dtype::kInt64, {{-1, "batch"}, {-1, "tokens"}}));
  g.Input(onnx::ValueInfo("PK", onnx::dtype::kFloat, {{-1, "h"}, {-1, "d"}, {-1, "n"}}));
  g.Input(onnx::ValueInfo("PQ", onnx::dtype::kFloat, {{-1, "h2"}, {-1, "d2"}, {-1, "n2"}}));
  g.Input(onnx::ValueInfo("IDX", onnx::dtype::kInt32, {{-1, "tokens"}, {-1, "tokens2"}}));
  g.Output(FloatValue("Y", static_cast<int64_t>(width)));
  const std::string model = onnx::ModelProto(g.Graph("g"), {{"", 17}, {rt::kCustomDomain, 1}});
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(2);
  so.Add(rt::CustomOpDomain());
  Ort::Session session(rt_->env(), model.data(), model.size(), so);
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  // rel_rows: the position tables' rows; index_rows: the index's first axis; k_head: pos_k's second axis (the head
  // size unless testing a bad shape).
  auto run = [&](size_t rel_rows, std::vector<int32_t> idx, size_t index_rows = 0, size_t k_head = 0) {
    if (index_rows == 0) index_rows = tokens;
    if (k_head == 0) k_head = head;
    const int64_t x[3] = {static_cast<int64_t>(batch), static_cast<int64_t>(tokens), static_cast<int64_t>(width)};
    const int64_t ms[2] = {x[0], x[1]};
    const int64_t ks[3] = {static_cast<int64_t>(heads), static_cast<int64_t>(k_head), static_cast<int64_t>(rel_rows)};
    const int64_t qs[3] = {static_cast<int64_t>(heads), static_cast<int64_t>(head), static_cast<int64_t>(rel_rows)};
    const int64_t is[2] = {static_cast<int64_t>(index_rows), x[1]};
    std::vector<Ort::Value> v;
    for (const auto* t : {&in.q, &in.k, &in.v}) v.push_back(Ort::Value::CreateTensor<float>(mem, const_cast<float*>(t->data()), t->size(), x, 3));
    std::vector<int64_t> mask = in.mask;
    v.push_back(Ort::Value::CreateTensor<int64_t>(mem, mask.data(), mask.size(), ms, 2));
    v.push_back(Ort::Value::CreateTensor<float>(mem, pos_k.data(), heads * k_head * rel_rows, ks, 3));
    v.push_back(Ort::Value::CreateTensor<float>(mem, pos_q.data(), heads * head * rel_rows, qs, 3));
    v.push_back(Ort::Value::CreateTensor<int32_t>(mem, idx.data(), idx.size(), is, 2));
    const char* names[] = {"Q", "K", "V", "mask", "PK", "PQ", "IDX"};
    const char* outs[] = {"Y"};
    auto y = session.Run(Ort::RunOptions{nullptr}, names, v.data(), v.size(), outs, 1);
    const float* f = y[0].GetTensorData<float>();
    return std::vector<float>(f, f + batch * tokens * width);
  };
  std::vector<float> unused(width);
  attention::Problem p = MakeProblem(in, false, batch, tokens, heads, head, unused.data());
  p.rel_index = index.data();
  p.pos_k = pos_k.data();
  p.pos_q = pos_q.data();
  p.rel_size = m;
  p.query_mask = true;
  std::string where;
  EXPECT_LT(WorstError(run(m, index), Reference(p), &where), kBound) << where;
  // Indices that are not monotone (attention::Problem::rel_monotone: the operator finds out): one entry above its left
  // neighbour, past the range the corners of its key tile (keys 32 to 36) would give, 12; rows in reverse order
  // (each row still non-increasing, the columns not non-decreasing); i + j (the columns non-decreasing, the rows
  // not non-increasing); and a scattered table.
  std::vector<int32_t> off = index, reversed(tokens * tokens), sum(tokens * tokens), scattered(tokens * tokens);
  off[5 * tokens + 33] = static_cast<int32_t>(m - 1);
  for (size_t i = 0; i < tokens; ++i)
    for (size_t j = 0; j < tokens; ++j) {
      reversed[i * tokens + j] = index[(tokens - 1 - i) * tokens + j];
      sum[i * tokens + j] = static_cast<int32_t>(std::clamp<long>(static_cast<long>(i + j), -8, 7) + 8);
    }
  std::mt19937 rng(80);
  for (int32_t& e : scattered) e = static_cast<int32_t>(rng() % m);
  const std::pair<const char*, const std::vector<int32_t>*> others[] = {
      {"one entry off", &off}, {"rows reversed", &reversed}, {"i + j", &sum}, {"scattered", &scattered}};
  for (const auto& [name, idx] : others) {
    attention::Problem other = p;
    other.rel_index = idx->data();
    EXPECT_LT(WorstError(run(m, *idx), Reference(other), &where), kBound) << name << ": " << where;
  }
  std::vector<int32_t> bad = index;
  bad[5 * tokens + 3] = static_cast<int32_t>(m);
  try {
    run(m, bad);
    ADD_FAILURE() << "an index of n ran";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("rel_index holds 16, outside [0, 16)"), std::string::npos) << e.what();
  }
  bad[5 * tokens + 3] = -1;
  try {
    run(m, bad);
    ADD_FAILURE() << "an index of -1 ran";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("rel_index holds -1"), std::string::npos) << e.what();
  }
  // Tables of 8 rows while the index reaches 15: refused on the index; [tokens - 1] rows of an index: its shape.
  try {
    run(m / 2, index);
    ADD_FAILURE() << "an index past n ran";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("outside [0, 8)"), std::string::npos) << e.what();
  }
  try {
    run(m, std::vector<int32_t>(index.begin(), index.end() - tokens), tokens - 1);
    ADD_FAILURE() << "a [36, 37] index ran";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("rel_index must be [tokens, tokens] = [37, 37]"), std::string::npos) << e.what();
  }
  try {
    run(m, index, tokens, head / 2);
    ADD_FAILURE() << "a pos_k of half the head size ran";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("pos_k must be [heads, head size, n] = [3, 32, 16]"), std::string::npos)
        << e.what();
  }
}

// Rotary tables through the operator (inputs 8 and 9, with a window); one table alone, tables of another shape, or
// tables with a bias are the session's errors.
TEST_F(AttentionOrt, RotaryInputsMatchTheReference) {
  const size_t batch = 2, tokens = 41, heads = 2, head = 32, width = heads * head;
  const Inputs in = MakeInputs(batch, tokens, heads, head, MaskKind::kRight, 91);
  const std::vector<float> cosines = RotaryTable(tokens, head, 160000.0, false), sines = RotaryTable(tokens, head, 160000.0, true);
  auto model = [&](bool both, bool with_bias) {
    onnx::GraphWriter g;
    std::vector<std::string> inputs = {"Q", "K", "V", "mask", with_bias ? "B" : "", "", "", "", "COS", both ? "SIN" : ""};
    if (with_bias) g.Initializer(onnx::FloatTensor("B", {static_cast<int64_t>(3 * width)}, in.bias));
    g.Node(rt::kAttentionOp, inputs, {"Y"}, {onnx::IntAttribute("num_heads", heads), onnx::IntAttribute("window", 5)},
           rt::kCustomDomain);
    for (const char* n : {"Q", "K", "V"}) g.Input(FloatValue(n, static_cast<int64_t>(width)));
    g.Input(onnx::ValueInfo("mask", onnx::dtype::kInt64, {{-1, "batch"}, {-1, "tokens"}}));
    g.Input(onnx::ValueInfo("COS", onnx::dtype::kFloat, {{-1, "tokens"}, {-1, "head"}}));
    if (both) g.Input(onnx::ValueInfo("SIN", onnx::dtype::kFloat, {{-1, "tokens"}, {-1, "head"}}));
    g.Output(FloatValue("Y", static_cast<int64_t>(width)));
    return onnx::ModelProto(g.Graph("g"), {{"", 17}, {rt::kCustomDomain, 1}});
  };
  auto run = [&](const std::string& m, bool both, size_t table_tokens) {
    Ort::SessionOptions so;
    so.SetIntraOpNumThreads(2);
    so.Add(rt::CustomOpDomain());
    Ort::Session session(rt_->env(), m.data(), m.size(), so);
    auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    const int64_t x[3] = {static_cast<int64_t>(batch), static_cast<int64_t>(tokens), static_cast<int64_t>(width)};
    const int64_t ms[2] = {x[0], x[1]}, ts[2] = {static_cast<int64_t>(table_tokens), static_cast<int64_t>(head)};
    std::vector<Ort::Value> v;
    for (const auto* t : {&in.q, &in.k, &in.v}) v.push_back(Ort::Value::CreateTensor<float>(mem, const_cast<float*>(t->data()), t->size(), x, 3));
    std::vector<int64_t> mask = in.mask;
    v.push_back(Ort::Value::CreateTensor<int64_t>(mem, mask.data(), mask.size(), ms, 2));
    std::vector<float> c = cosines, sn = sines;
    c.resize(table_tokens * head, 0.5f);
    sn.resize(table_tokens * head, 0.5f);
    v.push_back(Ort::Value::CreateTensor<float>(mem, c.data(), c.size(), ts, 2));
    if (both) v.push_back(Ort::Value::CreateTensor<float>(mem, sn.data(), sn.size(), ts, 2));
    std::vector<const char*> names = {"Q", "K", "V", "mask", "COS"};
    if (both) names.push_back("SIN");
    const char* outs[] = {"Y"};
    auto y = session.Run(Ort::RunOptions{nullptr}, names.data(), v.data(), v.size(), outs, 1);
    const float* f = y[0].GetTensorData<float>();
    return std::vector<float>(f, f + batch * tokens * width);
  };
  std::vector<float> unused(width);
  attention::Problem p = MakeProblem(in, false, batch, tokens, heads, head, unused.data());
  p.rot_cos = cosines.data();
  p.rot_sin = sines.data();
  p.window = 5;
  std::string where;
  EXPECT_LT(WorstError(run(model(true, false), true, tokens), Reference(p), &where), kBound) << where;
  const std::pair<std::function<std::vector<float>()>, std::string> bad[] = {
      {[&] { return run(model(false, false), false, tokens); }, "cos and sin come together"},
      {[&] { return run(model(true, false), true, tokens + 1); }, "cos and sin must be [tokens, head size] = [41, 32]"},
      {[&] { return run(model(true, true), true, tokens); }, "rotary tables and a bias input do not go together"}};
  for (const auto& [call, message] : bad) {
    try {
      call();
      ADD_FAILURE() << "ran: " << message;
    } catch (const Ort::Exception& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

// A mask of another shape, or a width the heads do not divide, is the session's error, not a crash.
TEST_F(AttentionOrt, BadShapesAreErrors) {
  const Inputs in = MakeInputs(2, 8, 2, 16, MaskKind::kAll, 7);
  try {
    Run(AttentionModel(false, 2, 32), in, false, 2, 8, 32, 9);
    ADD_FAILURE() << "a [2, 9] mask for 8 tokens ran";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("mask must be [batch, tokens]"), std::string::npos) << e.what() << Joined(rt_->TakeRecentLog());
  }
  try {
    Run(AttentionModel(false, 3, 32), in, false, 2, 8, 32, 8);
    ADD_FAILURE() << "32 columns split into 3 heads";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("does not split into 3 heads"), std::string::npos) << e.what();
  }
  try {
    Run(AttentionModel(false, 2, 32, in.bias, 64), in, false, 2, 8, 32, 8);
    ADD_FAILURE() << "a bias of 64 for a width of 32 ran";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("bias must be [3 * width] = [96]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace winnow
