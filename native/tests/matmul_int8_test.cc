// gemm/matmul_int8.h: the per-row quantization, the AMX kernel against the scalar reference of the same arithmetic
// (bit for bit) on odd shapes with each epilogue; com.winnow MatMulInt8 through ONNX Runtime (results, coded
// errors); the quantize 'int8' rewrite with RewriteOptions::int8_amx (MatMulInt8 nodes, BiasGelu absorbed).
#include "gemm/matmul_int8.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "onnx/reader.h"
#include "onnx/writer.h"
#include "ort_library.h"
#include "rewrite/graph_rewrite.h"
#include "runtime/custom_ops.h"
#include "runtime/ort_runtime.h"

namespace winnow::gemm {
namespace {

bool Amx() { return CpuSupportsInt8(Int8Isa::kAmx); }

// The int8 kernels this CPU runs (AMX, AVX512-VNNI, AVX2); each gives the reference's bits.
std::vector<Int8Isa> Isas() {
  std::vector<Int8Isa> out;
  for (Int8Isa isa : {Int8Isa::kAmx, Int8Isa::kVnni, Int8Isa::kAvx2})
    if (CpuSupportsInt8(isa)) out.push_back(isa);
  return out;
}

uint32_t Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}

// Same float, bit for bit (any NaN matches any NaN).
::testing::AssertionResult Same(float got, float want) {
  if (std::isnan(got) && std::isnan(want)) return ::testing::AssertionSuccess();
  if (Bits(got) == Bits(want) || (got == 0.0f && want == 0.0f)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << got << " != " << want;
}

TEST(QuantizeRowReference, RoundsHalfToEvenAndClamps) {
  // amax 127: inv = 1 exactly, s = 1.
  const float a[6] = {127.0f, 62.5f, -3.5f, 2.5f, 0.4f, -126.6f};
  int8_t q[6];
  EXPECT_EQ(QuantizeRowReference(a, 6, q), 1.0f);
  const int8_t want[6] = {127, 62, -4, 2, 0, -127};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q[i], want[i]) << i;
  // Symmetric: the largest magnitude maps to ±127 whatever its sign.
  const float b[3] = {-2.0f, 1.0f, 0.0f};
  EXPECT_EQ(QuantizeRowReference(b, 3, q), 2.0f / 127.0f);
  EXPECT_EQ(q[0], -127);
  EXPECT_EQ(q[1], 64);  // 63.5 to even
  EXPECT_EQ(q[2], 0);
}

TEST(QuantizeRowReference, ZeroNanAndInfinityRows) {
  int8_t q[4] = {1, 1, 1, 1};
  const float zero[4] = {0.0f, -0.0f, 0.0f, 0.0f};
  EXPECT_EQ(QuantizeRowReference(zero, 4, q), 0.0f);
  for (int8_t v : q) EXPECT_EQ(v, 0);
  const float nan[4] = {1.0f, std::nanf(""), 2.0f, 0.0f};
  EXPECT_TRUE(std::isnan(QuantizeRowReference(nan, 4, q)));
  const float inf[4] = {1.0f, -std::numeric_limits<float>::infinity(), 2.0f, 0.0f};
  EXPECT_TRUE(std::isnan(QuantizeRowReference(inf, 4, q)));
  // A denormal row: 127 / amax overflows; the rule caps it at FLT_MAX (no 0 · inf NaN).
  const float tiny[2] = {1e-40f, 0.0f};
  EXPECT_FALSE(std::isnan(QuantizeRowReference(tiny, 2, q)));
  EXPECT_EQ(q[1], 0);
}

// The quantizers (AVX-512, used by the AMX and VNNI kernels; AVX2) against QuantizeRowReference, row by row: q and
// s_i bit for bit, the padding k..k_pad written as zeros, on row widths around the 8-, 16- and 64-column steps and
// on rows whose |a| · inv lands at the ends of [-127, 127] (amax near FLT_MAX, denormal amax where inv is capped at
// FLT_MAX, values just below amax, halves), and on zero, NaN and infinite rows.
TEST(MatMulInt8, QuantizersMatchTheReferenceRowByRow) {
  std::vector<std::pair<const char*, internal::QuantizeFn>> quantizers;
  if (CpuSupportsInt8(Int8Isa::kAmx) || CpuSupportsInt8(Int8Isa::kVnni))
    quantizers.emplace_back("avx512", internal::AmxInt8Kernels().quantize);
  if (CpuSupportsInt8(Int8Isa::kAvx2)) quantizers.emplace_back("avx2", internal::Avx2Int8Kernels().quantize);
  if (quantizers.empty()) GTEST_SKIP() << "no int8 kernel of Winnow's runs on this CPU";
  for (const auto& [name, quantize] : quantizers) {
  SCOPED_TRACE(name);
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 1.0f);
  const float amaxes[] = {1.0f, 127.0f, 3.0e38f, std::numeric_limits<float>::max(), 1e-30f, 3.0e-37f, 1e-38f, 1e-40f,
                          1.4e-45f};
  for (size_t k : {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 127, 128, 129, 383, 384, 1536}) {
    const size_t k_pad = (k + kInt8BlockK - 1) / kInt8BlockK * kInt8BlockK;
    for (float amax : amaxes) {
      std::vector<float> a(kInt8BlockRows * k);
      for (size_t r = 0; r < kInt8BlockRows; ++r) {
        float* row = a.data() + r * k;
        for (size_t j = 0; j < k; ++j) row[j] = std::clamp(d(rng), -3.0f, 3.0f) / 3.0f * amax;
        // The extreme of the row and its neighbours: exactly ±amax, one ulp below, and the same for half of it.
        row[r % k] = r % 2 ? -amax : amax;
        if (k > 1) row[(r + 1) % k] = std::nextafter(amax, 0.0f) * (r % 3 ? 1.0f : -1.0f);
        if (k > 2) row[(r + 2) % k] = amax * 0.5f;
        if (k > 3) row[(r + 3) % k] = -amax * (63.5f / 127.0f);
      }
      // A zero row, a NaN row and an infinite row (q all 0, the padding too).
      std::fill(a.begin() + 5 * k, a.begin() + 6 * k, 0.0f);
      a[6 * k + k / 2] = std::nanf("");
      a[7 * k] = -std::numeric_limits<float>::infinity();
      CacheLineVector<int8_t> q(kInt8BlockRows * k_pad, 0x55);
      float s[kInt8BlockRows];
      quantize(a.data(), kInt8BlockRows, k, q.data(), k_pad, s);
      std::vector<int8_t> want(k);
      for (size_t r = 0; r < kInt8BlockRows; ++r) {
        const float ws = QuantizeRowReference(a.data() + r * k, k, want.data());
        ASSERT_TRUE(Same(s[r], ws)) << "k=" << k << " amax=" << amax << " row " << r;
        for (size_t j = 0; j < k; ++j)
          ASSERT_EQ(q[r * k_pad + j], want[j]) << "k=" << k << " amax=" << amax << " row " << r << " col " << j;
        for (size_t j = k; j < k_pad; ++j) ASSERT_EQ(q[r * k_pad + j], 0) << "padding, k=" << k << " col " << j;
      }
    }
  }
  }
}

struct Case {
  size_t m, k, n;
  bool bias;
  Activation act;
};

// The kernel's C against MatMulInt8Reference, every element bit for bit.
void CheckShape(Int8Isa isa, const Case& cs, std::mt19937* rng, bool special_rows = false) {
  const size_t m = cs.m, k = cs.k, n = cs.n;
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::uniform_int_distribution<int> wi(-127, 127);
  std::vector<float> a(m * k), scale(n), bias(n), c(m * n, 12345.0f), want(m * n);
  std::vector<int8_t> w(k * n);
  for (float& x : a) x = d(*rng);
  for (int8_t& x : w) x = static_cast<int8_t>(wi(*rng));
  for (float& x : scale) x = std::fabs(d(*rng)) * 0.01f + 1e-4f;
  for (float& x : bias) x = d(*rng);
  if (special_rows && m >= 3) {
    std::fill(a.begin(), a.begin() + k, 0.0f);  // row 0 zero
    a[k + k / 2] = std::nanf("");                // row 1 NaN
    a[2 * k] = std::numeric_limits<float>::infinity();  // row 2 +inf
  }
  const PackedInt8Weights packed(w.data(), scale.data(), k, n, isa);
  MatMulInt8(isa, packed, a.data(), cs.bias ? bias.data() : nullptr, c.data(), m, cs.act);
  MatMulInt8Reference(a.data(), w.data(), scale.data(), cs.bias ? bias.data() : nullptr, want.data(), m, k, n, cs.act);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j)
      ASSERT_TRUE(Same(c[i * n + j], want[i * n + j]))
          << Int8IsaName(isa) << " m=" << m << " k=" << k << " n=" << n << " bias=" << cs.bias << " act=" << static_cast<int>(cs.act)
          << " at " << i << "," << j;
  if (special_rows && m >= 3) {
    for (size_t j = 0; j < n; ++j) {
      EXPECT_TRUE(std::isnan(c[n + j]));
      EXPECT_TRUE(std::isnan(c[2 * n + j]));
    }
    if (cs.act == Activation::kNone) {
      for (size_t j = 0; j < n; ++j) EXPECT_EQ(c[j], cs.bias ? bias[j] : 0.0f);  // a zero row: the bias alone
    }
  }
}

TEST(MatMulInt8, KernelsMatchTheReferenceOnOddShapes) {
  if (Isas().empty()) GTEST_SKIP() << "no int8 kernel of Winnow's runs on this CPU";
  for (Int8Isa isa : Isas()) {
    std::mt19937 rng(5);
    const Activation acts[3] = {Activation::kNone, Activation::kGelu, Activation::kGeluTanh};
    int i = 0;
    for (size_t m : {1, 2, 15, 16, 17, 31, 32, 33, 67})
      for (size_t k : {1, 3, 63, 64, 65, 100, 130})
        for (size_t n : {1, 5, 17, 31, 32, 33, 50}) {
          CheckShape(isa, {m, k, n, i % 2 == 0, acts[i % 3]}, &rng);
          ++i;
        }
    // The MiniLM shapes' widths.
    CheckShape(isa, {45, 384, 1536, true, Activation::kGelu}, &rng);
    CheckShape(isa, {40, 1536, 384, true, Activation::kNone}, &rng);
    CheckShape(isa, {33, 384, 384, false, Activation::kGeluTanh}, &rng);
  }
}

// The VNNI kernel's shifted sums wrap around int32 at the longest K with the largest products; the difference is
// still exact.
TEST(MatMulInt8, VnniIsExactAtTheLongestK) {
  if (!CpuSupportsInt8(Int8Isa::kVnni)) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  const size_t m = 3, k = kInt8MaxK, n = 33;
  std::vector<float> a(m * k, -1.0f), scale(n, 1.0f), c(m * n), want(m * n);
  for (size_t j = 0; j < k; ++j) a[k + j] = j % 2 ? 1.0f : -1.0f;  // row 1 alternates
  std::vector<int8_t> w(k * n, -127);
  for (size_t i = 0; i < k * n; i += 3) w[i] = 127;
  const PackedInt8Weights packed(w.data(), scale.data(), k, n, Int8Isa::kVnni);
  MatMulInt8(Int8Isa::kVnni, packed, a.data(), nullptr, c.data(), m, Activation::kNone);
  MatMulInt8Reference(a.data(), w.data(), scale.data(), nullptr, want.data(), m, k, n, Activation::kNone);
  for (size_t i = 0; i < m * n; ++i) ASSERT_TRUE(Same(c[i], want[i])) << i;
  // Row 0: every q is -127 and column 1's weights are all -127 but every third: far past what a wrong shift keeps.
  EXPECT_GT(c[1], 1e9f / 127.0f);
}

// The AVX2 kernel adds pairs of products in int16 (vpmaddubsw): at the extremes (every q and w ±127, in every sign
// combination) a pair is 2 · 127 · 127, and nothing saturates; at the longest K the int32 sums are still exact.
TEST(MatMulInt8, Avx2DoesNotSaturate) {
  if (!CpuSupportsInt8(Int8Isa::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  for (size_t k : {size_t{64}, size_t{1536}, kInt8MaxK}) {
    const size_t m = 4, n = 40;
    std::vector<float> a(m * k), scale(n, 1.0f), c(m * n), want(m * n);
    for (size_t j = 0; j < k; ++j) {
      a[j] = 1.0f;                             // row 0: q = 127
      a[k + j] = -1.0f;                        // row 1: q = -127
      a[2 * k + j] = j % 2 ? 1.0f : -1.0f;     // row 2 alternates
      a[3 * k + j] = j % 3 ? -1.0f : 1.0f;     // row 3: two in three negative
    }
    std::vector<int8_t> w(k * n);
    for (size_t kk = 0; kk < k; ++kk)
      for (size_t j = 0; j < n; ++j) w[kk * n + j] = j % 4 == 0 ? 127 : j % 4 == 1 ? -127 : (kk + j) % 2 ? 127 : -127;
    const PackedInt8Weights packed(w.data(), scale.data(), k, n, Int8Isa::kAvx2);
    MatMulInt8(Int8Isa::kAvx2, packed, a.data(), nullptr, c.data(), m, Activation::kNone);
    MatMulInt8Reference(a.data(), w.data(), scale.data(), nullptr, want.data(), m, k, n, Activation::kNone);
    for (size_t i = 0; i < m * n; ++i) ASSERT_TRUE(Same(c[i], want[i])) << "k=" << k << " " << i;
    // Row 0 by column 0: k products of 127 · 127 (times the row scale 1/127), where a saturated pair would lose some.
    EXPECT_EQ(c[0], std::fma(static_cast<float>(127 * 127 * static_cast<int64_t>(k)), 1.0f / 127.0f, 0.0f)) << k;
    EXPECT_EQ(c[n + 1], c[0]) << k;  // (-127) · (-127)
  }
}

TEST(MatMulInt8, ZeroNanAndInfinityRows) {
  if (Isas().empty()) GTEST_SKIP() << "no int8 kernel of Winnow's runs on this CPU";
  for (Int8Isa isa : Isas()) {
    std::mt19937 rng(9);
    for (Activation act : {Activation::kNone, Activation::kGelu, Activation::kGeluTanh})
      for (bool bias : {false, true}) CheckShape(isa, {37, 70, 45, bias, act}, &rng, true);
  }
}

TEST(MatMulInt8, EachRowIsItsOwn) {
  // Per-row quantization: a row's outputs do not depend on the other rows (a batch-mate with a large value would
  // change a per-tensor scale).
  if (Isas().empty()) GTEST_SKIP() << "no int8 kernel of Winnow's runs on this CPU";
  const size_t m = 40, k = 96, n = 40;
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> a(m * k), scale(n, 0.01f), c(m * n), one(n);
  std::vector<int8_t> w(k * n);
  for (float& x : a) x = d(rng);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
  a[5 * k] = 1000.0f;  // row 5 much larger than the others
  for (Int8Isa isa : Isas()) {
    const PackedInt8Weights packed(w.data(), scale.data(), k, n, isa);
    MatMulInt8(isa, packed, a.data(), nullptr, c.data(), m, Activation::kNone);
    for (size_t i = 0; i < m; ++i) {
      MatMulInt8(isa, packed, a.data() + i * k, nullptr, one.data(), 1, Activation::kNone);
      for (size_t j = 0; j < n; ++j) ASSERT_TRUE(Same(c[i * n + j], one[j])) << Int8IsaName(isa) << " " << i << "," << j;
    }
  }
}

// A GELU or layer-norm epilogue gives the very bits of the product without its bias followed by that kernel with
// the bias (what a separate BiasGelu / LayerNorm node computes), whether the tasks split the columns or not.
TEST(MatMulInt8, EpiloguesGiveTheBitsOfTheSeparateKernels) {
  if (Isas().empty()) GTEST_SKIP() << "no int8 kernel of Winnow's runs on this CPU";
  const Int8Isa isa = Isas().front();
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::uniform_int_distribution<int> wi(-127, 127);
  struct Shape {
    size_t m, k, n, skip_rows;
  };
  for (const Shape s : {Shape{67, 100, 50, 67}, Shape{40, 64, 384, 8}}) {
    std::vector<float> a(s.m * s.k), scale(s.n), bias(s.n), skip(s.skip_rows * s.n), gamma(s.n), beta(s.n);
    std::vector<int8_t> w(s.k * s.n);
    for (auto* v : {&a, &bias, &skip, &gamma, &beta})
      for (float& x : *v) x = d(rng);
    for (float& x : scale) x = 0.01f * (1.0f + std::fabs(d(rng)));
    for (int8_t& x : w) x = static_cast<int8_t>(wi(rng));
    const PackedInt8Weights packed(w.data(), scale.data(), s.k, s.n, isa);
    auto run = [&](const Epilogue& e, size_t min_tasks, const float* with_bias) {
      std::vector<float> c(s.m * s.n);
      const Int8Gemm g = PlanInt8Gemm(isa, packed, a.data(), with_bias, c.data(), s.m, e, min_tasks);
      for (size_t t = 0; t < g.tasks(); ++t) RunInt8Task(g, t);
      return c;
    };
    const std::vector<float> product = run({}, 1, nullptr);
    for (gelu::Form form : {gelu::Form::kErf, gelu::Form::kTanh}) {
      std::vector<float> want = product;
      gelu::Rows r;
      r.input = r.output = want.data();
      r.bias = bias.data();
      r.cols = s.n;
      r.form = form;
      gelu::Gelu(r, 0, s.m);
      Epilogue e;
      e.kind = Epilogue::Kind::kGelu;
      e.form = form;
      for (size_t min_tasks : {1, 64}) {
        const std::vector<float> got = run(e, min_tasks, bias.data());
        ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
            << "gelu n=" << s.n << " min_tasks=" << min_tasks;
      }
    }
    for (bool exact : {true, false}) {
      Epilogue e;
      e.kind = Epilogue::Kind::kLayerNorm;
      e.norm.skip = skip.data();
      e.norm.skip_rows = s.skip_rows;
      e.norm.gamma = gamma.data();
      e.norm.beta = beta.data();
      e.norm.exact = exact;
      std::vector<float> want = product;
      layernorm::Rows r = e.norm;
      r.input = r.output = want.data();
      r.bias = bias.data();
      r.cols = s.n;
      layernorm::LayerNorm(r, 0, s.m);
      const std::vector<float> got = run(e, 64, bias.data());
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
          << "layernorm n=" << s.n << " exact=" << exact;
    }
  }
}

TEST(MatMulInt8, TasksCoverTheProductOnce) {
  if (Isas().empty()) GTEST_SKIP() << "no int8 kernel of Winnow's runs on this CPU";
  std::vector<int8_t> w(64 * 200, 2);
  std::vector<float> scale(200, 0.5f), a(70 * 64, 1.0f), c(70 * 200, 0.0f);
  for (Int8Isa isa : Isas())
  for (size_t min_tasks : {1, 4, 16, 64}) {
    const PackedInt8Weights packed(w.data(), scale.data(), 64, 200, isa);
    const Int8Gemm g = PlanInt8Gemm(isa, packed, a.data(), nullptr, c.data(), 70, Activation::kNone, min_tasks);
    EXPECT_GE(g.tasks(), std::min<size_t>(min_tasks, 3 * 7));
    std::fill(c.begin(), c.end(), 0.0f);
    for (size_t t = 0; t < g.tasks(); ++t) RunInt8Task(g, t);
    // a quantizes to 127 with s = 1/127: 64 · 127 · 2 · (1/127 · 0.5) = 64.
    for (float x : c) ASSERT_NEAR(x, 64.0f, 1e-4f);
  }
}

// Tile rows are 64 bytes: the packed panels and the quantized block of A start on cache lines (a tileloadd of rows
// that straddle two lines runs far slower).
TEST(MatMulInt8, PanelsAndQuantizedRowsAreCacheLineAligned) {
  for (size_t k : {1, 64, 100, 384, 1536})
    for (size_t n : {1, 33, 384, 1536}) {
      std::vector<int8_t> w(k * n, 1);
      std::vector<float> scale(n, 1.0f);
      for (Int8Isa isa : {Int8Isa::kAmx, Int8Isa::kAvx2}) {
        const PackedInt8Weights packed(w.data(), scale.data(), k, n, isa);
        for (size_t p = 0; p < packed.panels(); ++p)
          ASSERT_EQ(reinterpret_cast<uintptr_t>(packed.panel(p)) % 64, 0u) << "k=" << k << " n=" << n << " panel " << p;
      }
    }
  for (size_t k_pad : {64, 128, 384, 1536, 8192})
    ASSERT_EQ(reinterpret_cast<uintptr_t>(internal::QuantizeScratch(k_pad)) % 64, 0u) << "k_pad=" << k_pad;
}

TEST(MatMulInt8, ForcedOnnxRuntimeKernelMeansNone) {
  // WINNOW_INT8_KERNEL is read once per process; this process has whatever the environment set.
  const char* env = std::getenv("WINNOW_INT8_KERNEL");
  const bool vnni = CpuSupportsInt8(Int8Isa::kVnni);
  if (env && std::string(env) == "onnxruntime") {
    EXPECT_EQ(ActiveInt8Isa(), Int8Isa::kNone);
  } else if (env && std::string(env) == "vnni") {
    EXPECT_EQ(ActiveInt8Isa(), vnni ? Int8Isa::kVnni : Int8Isa::kNone);
  } else if (env && std::string(env) == "avx2") {
    EXPECT_EQ(ActiveInt8Isa(), CpuSupportsInt8(Int8Isa::kAvx2) ? Int8Isa::kAvx2 : Int8Isa::kNone);
  } else if (Amx()) {
    EXPECT_EQ(ActiveInt8Isa(), Int8Isa::kAmx);
  } else if (vnni) {
    EXPECT_EQ(ActiveInt8Isa(), Int8Isa::kVnni);
  } else {
    // AVX2 where no VNNI of either form is there; AVX-VNNI CPUs keep ONNX Runtime's kernel.
    EXPECT_TRUE(ActiveInt8Isa() == Int8Isa::kNone || ActiveInt8Isa() == Int8Isa::kAvx2);
  }
}

// ---- the operator through ONNX Runtime ---------------------------------------------------------------------
// Y = MatMulInt8(X, W, W_scale, bias) with `activation`; W and W_scale initializers unless `w_input`.
std::string OneNodeModel(int64_t k, int64_t n, const std::vector<int8_t>& w, const std::vector<float>& scale,
                         const std::vector<float>& bias, const std::string& activation, bool w_input = false) {
  onnx::GraphWriter g;
  std::vector<std::string> attrs;
  if (!activation.empty()) attrs.push_back(onnx::StringAttribute("epilogue", activation));
  g.Node("MatMulInt8", {"X", "W", "S", "b"}, {"Y"}, attrs, "com.winnow");
  const std::string raw(reinterpret_cast<const char*>(w.data()), w.size());
  if (w_input) g.Input(onnx::ValueInfo("W", onnx::dtype::kInt8, {{k, ""}, {n, ""}}));
  else g.Initializer(onnx::RawTensor("W", onnx::dtype::kInt8, {k, n}, raw));
  g.Initializer(onnx::FloatTensor("S", {static_cast<int64_t>(scale.size())}, scale));
  g.Initializer(onnx::FloatTensor("b", {n}, bias));
  g.Input(onnx::ValueInfo("X", onnx::dtype::kFloat, {{-1, "batch"}, {-1, "seq"}, {-1, "k"}}));
  g.Output(onnx::ValueInfo("Y", onnx::dtype::kFloat, {{-1, "batch"}, {-1, "seq"}, {n, ""}}));
  return onnx::ModelProto(g.Graph("g"), {{"", 17}, {"com.winnow", 1}});
}

Ort::Session MakeSession(const std::string& model) {
  auto rt = rt::OrtRuntime::Get(test_support::OrtLibrary());
  if (!rt.ok()) throw std::runtime_error(rt.status().ToString());
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(2);  // the kernel's tasks through ONNX Runtime's pool
  so.Add(rt::CustomOpDomain());
  return Ort::Session((*rt)->env(), model.data(), model.size(), so);
}

std::vector<float> RunModel(Ort::Session& s, const std::vector<float>& x, int64_t batch, int64_t seq, int64_t k,
                       const char* out_name = "Y") {
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const int64_t shape[3] = {batch, seq, k};
  Ort::Value in = Ort::Value::CreateTensor<float>(mem, const_cast<float*>(x.data()), x.size(), shape, 3);
  const char* in_names[] = {"X"};
  const char* out_names[] = {out_name};
  auto out = s.Run(Ort::RunOptions{nullptr}, in_names, &in, 1, out_names, 1);
  const float* p = out[0].GetTensorData<float>();
  return std::vector<float>(p, p + out[0].GetTensorTypeAndShapeInfo().GetElementCount());
}

class MatMulInt8Op : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat sb;
    ASSERT_EQ(stat(test_support::OrtLibrary().c_str(), &sb), 0) << "no ONNX Runtime library";
  }
};

TEST_F(MatMulInt8Op, RunsTheKernelsArithmeticThroughOnnxRuntime) {
  if (ActiveInt8Isa() == Int8Isa::kNone) GTEST_SKIP() << "no int8 kernel of Winnow's in this process";
  const int64_t batch = 3, seq = 37, k = 100, n = 70;
  std::mt19937 rng(13);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(batch * seq * k), scale(n), bias(n);
  std::vector<int8_t> w(k * n);
  for (float& v : x) v = d(rng);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  for (float& v : scale) v = 0.001f + 0.01f * std::fabs(d(rng));
  for (float& v : bias) v = d(rng);
  for (const char* act : {"", "none", "gelu", "gelu_tanh"}) {
    Ort::Session s = MakeSession(OneNodeModel(k, n, w, scale, bias, act));
    const auto got = RunModel(s, x, batch, seq, k);
    const std::string a = act;
    const Activation activation = a == "gelu" ? Activation::kGelu : a == "gelu_tanh" ? Activation::kGeluTanh
                                                                                      : Activation::kNone;
    std::vector<float> want(batch * seq * n);
    MatMulInt8Reference(x.data(), w.data(), scale.data(), bias.data(), want.data(), batch * seq, k, n, activation);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_TRUE(Same(got[i], want[i])) << act << " at " << i;
  }
}

TEST_F(MatMulInt8Op, BadShapesAndInputsAreSessionErrors) {
  if (ActiveInt8Isa() == Int8Isa::kNone) GTEST_SKIP() << "no int8 kernel of Winnow's in this process";
  const int64_t k = 16, n = 8;
  std::vector<int8_t> w(k * n, 1);
  std::vector<float> scale(n, 0.1f), bias(n, 0.0f), x(2 * 3 * (k + 1), 1.0f);
  Ort::Session s = MakeSession(OneNodeModel(k, n, w, scale, bias, "gelu"));
  try {
    RunModel(s, x, 2, 3, k + 1);  // A's last axis is not K
    FAIL() << "a bad shape ran";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("com.winnow MatMulInt8: A's last axis must be 16"), std::string::npos)
        << e.what();
  }
  // A scale of the wrong length, an unknown activation, a weight that is not constant: refused at load.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {OneNodeModel(k, n, w, std::vector<float>(n + 1, 0.1f), bias, ""), "W_scale must be float32 with 8"},
      {OneNodeModel(k, n, w, scale, bias, "relu"), "epilogue must be"},
      {OneNodeModel(k, n, w, scale, bias, "", true), "W and W_scale must be constant initializers"},
      // K past the int32 sums' range.
      {OneNodeModel(kInt8MaxK + 1, 1, std::vector<int8_t>(kInt8MaxK + 1, 1), {0.1f}, {0.0f}, ""),
       "W's K must be at most 133144 (int32 sums), not 133145"}};
  for (const auto& [model, message] : bad) {
    try {
      MakeSession(model);
      FAIL() << "loaded; expected " << message;
    } catch (const Ort::Exception& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

TEST_F(MatMulInt8Op, WithoutTheKernelCreatingItFails) {
  if (ActiveInt8Isa() != Int8Isa::kNone) GTEST_SKIP() << "this process runs an int8 kernel of Winnow's (ctest matmul_int8_test_forced_off runs this)";
  std::vector<int8_t> w(16 * 8, 1);
  try {
    MakeSession(OneNodeModel(16, 8, w, std::vector<float>(8, 0.1f), std::vector<float>(8, 0.0f), ""));
    FAIL() << "loaded without the kernel";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("no int8 kernel of Winnow's"), std::string::npos) << e.what();
  }
}

// ---- the rewrite -------------------------------------------------------------------------------------------
std::vector<std::string> Ops(const std::string& model) {
  std::vector<std::string> ops;
  onnx::pb::Reader r(model);
  onnx::pb::Field f;
  std::string_view graph;
  while (r.Next(&f))
    if (f.number == onnx::model_f::kGraph) graph = f.bytes;
  onnx::pb::Reader g(graph);
  while (g.Next(&f)) {
    if (f.number != onnx::graph_f::kNode) continue;
    onnx::Node nd;
    if (onnx::ParseNode(f.bytes, &nd)) ops.emplace_back(nd.op);
  }
  return ops;
}

// Z = LayerNormalization(Y) with Y = X W1 (+ b1) -> (BiasGelu(., b2) | nothing) -> (. W2 + b3): an FFN-like pair of
// linears, the norm making them the encoder's, not the head.
std::string FfnModel(int64_t k, int64_t h, const std::string& gelu, bool bias_on_up, std::mt19937* rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  auto rnd = [&](size_t count, float sc) {
    std::vector<float> v(count);
    for (float& x : v) x = d(*rng) * sc;
    return v;
  };
  onnx::GraphWriter g;
  g.Node("MatMul", {"X", "W1"}, {"P"});
  std::string up = "P";
  if (bias_on_up) {
    g.Node("Add", {"P", "b1"}, {"Pb"});
    up = "Pb";
  }
  std::string act = up;
  if (!gelu.empty()) {
    std::vector<std::string> attrs;
    if (gelu != "default") attrs.push_back(onnx::StringAttribute("approximate", gelu));
    g.Node("BiasGelu", {up, "b2"}, {"G"}, attrs, "com.winnow");
    act = "G";
  }
  g.Node("MatMul", {act, "W2"}, {"Q"});
  g.Node("Add", {"Q", "b3"}, {"Y"});
  g.Node("LayerNormalization", {"Y", "gamma", "beta"}, {"Z"}, {onnx::FloatAttribute("epsilon", 1e-5f)});
  g.Initializer(onnx::FloatTensor("W1", {k, h}, rnd(k * h, 0.1f)));
  g.Initializer(onnx::FloatTensor("b1", {h}, rnd(h, 1.0f)));
  g.Initializer(onnx::FloatTensor("b2", {h}, rnd(h, 1.0f)));
  g.Initializer(onnx::FloatTensor("W2", {h, k}, rnd(h * k, 0.1f)));
  g.Initializer(onnx::FloatTensor("b3", {k}, rnd(k, 1.0f)));
  g.Initializer(onnx::FloatTensor("gamma", {k}, std::vector<float>(k, 1.0f)));
  g.Initializer(onnx::FloatTensor("beta", {k}, std::vector<float>(k, 0.0f)));
  g.Input(onnx::ValueInfo("X", onnx::dtype::kFloat, {{-1, "batch"}, {-1, "seq"}, {k, ""}}));
  g.Output(onnx::ValueInfo("Z", onnx::dtype::kFloat, {{-1, "batch"}, {-1, "seq"}, {k, ""}}));
  return onnx::ModelProto(g.Graph("g"), {{"", 17}, {"com.winnow", 1}});
}

int Count(const std::vector<std::string>& ops, const std::string& op) {
  int c = 0;
  for (const auto& o : ops) c += o == op;
  return c;
}

TEST(MatMulInt8Rewrite, AmxEmitsMatMulInt8AndAbsorbsBiasGelu) {
  std::mt19937 rng(17);
  for (const std::string gelu : {"default", "none", "tanh"}) {
    const std::string model = FfnModel(48, 96, gelu, false, &rng);
    rt::RewriteOptions o;
    o.quantize_int8 = true;
    o.int8_amx = true;
    auto rw = rt::RewriteGraph(model, o);
    ASSERT_TRUE(rw.ok()) << rw.status().ToString();
    EXPECT_EQ(rw->quantized_matmuls, 2) << rw->skipped;
    EXPECT_EQ(rw->int8_amx_matmuls, 2);
    const auto ops = Ops(rw->model);
    EXPECT_EQ(Count(ops, "MatMulInt8"), 2) << gelu;
    EXPECT_EQ(Count(ops, "BiasGelu"), 0) << gelu;  // absorbed into the first
    EXPECT_EQ(Count(ops, "DynamicQuantizeMatMul"), 0);
    EXPECT_EQ(Count(ops, "MatMul"), 0);
    const std::string want = gelu == "tanh" ? "gelu_tanh" : "gelu";
    EXPECT_NE(rw->model.find(onnx::StringAttribute("epilogue", want)), std::string::npos) << gelu;
    if (gelu != "tanh") EXPECT_EQ(rw->model.find(onnx::StringAttribute("epilogue", "gelu_tanh")), std::string::npos);
  }
}

TEST(MatMulInt8Rewrite, ARewrittenGraphIsLeftAlone) {
  // MatMulInt8 quantizes activations: a second rewrite (norms, attention, int8) leaves the graph as it is.
  std::mt19937 rng(31);
  rt::RewriteOptions o;
  o.quantize_int8 = o.int8_amx = true;
  auto rw = rt::RewriteGraph(FfnModel(48, 96, "default", false, &rng), o);
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  ASSERT_EQ(rw->int8_amx_matmuls, 2);
  o.layer_norms = true;
  auto again = rt::RewriteGraph(rw->model, o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->quantized_matmuls, 0);
  EXPECT_EQ(again->skip_layer_norms, 0);
  EXPECT_EQ(again->skipped, "the graph quantizes activations");
}

TEST(MatMulInt8Rewrite, KPastTheInt32RangeStaysDynamicQuantizeMatMul) {
  EXPECT_LT(127.0 * 127.0 * kInt8MaxK, 2147483648.0);
  EXPECT_GE(127.0 * 127.0 * (kInt8MaxK + 1), 2147483648.0);
  for (int64_t k : {static_cast<int64_t>(kInt8MaxK), static_cast<int64_t>(kInt8MaxK) + 1}) {
    onnx::GraphWriter g;
    g.Node("MatMul", {"X", "W"}, {"P"});
    g.Node("Add", {"P", "b"}, {"Y"});  // a norm of a sum: the linear is the encoder's, not the head
    g.Node("LayerNormalization", {"Y", "gamma"}, {"Z"});
    g.Initializer(onnx::FloatTensor("W", {k, 1}, std::vector<float>(k, 0.5f)));
    g.Initializer(onnx::FloatTensor("b", {1}, {0.0f}));
    g.Initializer(onnx::FloatTensor("gamma", {1}, {1.0f}));
    g.Input(onnx::ValueInfo("X", onnx::dtype::kFloat, {{-1, "rows"}, {k, ""}}));
    g.Output(onnx::ValueInfo("Z", onnx::dtype::kFloat, {{-1, "rows"}, {1, ""}}));
    rt::RewriteOptions o;
    o.quantize_int8 = o.int8_amx = true;
    auto rw = rt::RewriteGraph(onnx::ModelProto(g.Graph("g"), {{"", 17}}), o);
    ASSERT_TRUE(rw.ok()) << rw.status().ToString();
    EXPECT_EQ(rw->quantized_matmuls, 1) << rw->skipped;
    EXPECT_EQ(rw->int8_amx_matmuls, k <= static_cast<int64_t>(kInt8MaxK) ? 1 : 0) << k;
  }
}

TEST(MatMulInt8Rewrite, BiasGeluStaysWhenTheLinearHasABias) {
  std::mt19937 rng(19);
  rt::RewriteOptions o;
  o.quantize_int8 = true;
  o.int8_amx = true;
  auto rw = rt::RewriteGraph(FfnModel(48, 96, "default", true, &rng), o);
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->int8_amx_matmuls, 2) << rw->skipped;
  const auto ops = Ops(rw->model);
  EXPECT_EQ(Count(ops, "MatMulInt8"), 2);
  EXPECT_EQ(Count(ops, "BiasGelu"), 1);
}

TEST(MatMulInt8Rewrite, WithoutAmxTheRewriteIsDynamicQuantizeMatMul) {
  std::mt19937 rng(23);
  rt::RewriteOptions o;
  o.quantize_int8 = true;
  auto rw = rt::RewriteGraph(FfnModel(48, 96, "default", false, &rng), o);
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->quantized_matmuls, 2) << rw->skipped;
  EXPECT_EQ(rw->int8_amx_matmuls, 0);
  const auto ops = Ops(rw->model);
  EXPECT_EQ(Count(ops, "DynamicQuantizeMatMul"), 2);
  EXPECT_EQ(Count(ops, "BiasGelu"), 1);
  EXPECT_EQ(Count(ops, "MatMulInt8"), 0);
}

TEST_F(MatMulInt8Op, RewrittenFfnRunsCloseToFloat) {
  if (ActiveInt8Isa() == Int8Isa::kNone) GTEST_SKIP() << "no int8 kernel of Winnow's in this process";
  std::mt19937 rng(29);
  const int64_t k = 64, h = 128, batch = 2, seq = 21;
  for (const std::string gelu : {"default", "tanh"}) {
    const std::string model = FfnModel(k, h, gelu, false, &rng);
    rt::RewriteOptions o;
    o.quantize_int8 = true;
    o.int8_amx = true;
    auto rw = rt::RewriteGraph(model, o);
    ASSERT_TRUE(rw.ok()) << rw.status().ToString();
    ASSERT_EQ(rw->int8_amx_matmuls, 2) << rw->skipped;
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(batch * seq * k);
    for (float& v : x) v = d(rng);
    Ort::Session fs = MakeSession(model), qs = MakeSession(rw->model);
    const auto want = RunModel(fs, x, batch, seq, k, "Z");
    const auto got = RunModel(qs, x, batch, seq, k, "Z");
    ASSERT_EQ(got.size(), want.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
    EXPECT_LT(worst, 0.1) << gelu;  // normalized outputs, int8 error
    EXPECT_GT(worst, 1e-6) << gelu;  // really quantized
  }
}

}  // namespace
}  // namespace winnow::gemm
