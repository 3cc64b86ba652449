// The exact layer norm (layernorm/layer_norm.h) and its ONNX Runtime operator (runtime/custom_ops.h):
//   - every SIMD level this CPU runs gives the scalar code's bits, for ragged widths, row counts and offsets;
//   - the scalar code gives ONNX Runtime's own LayerNormalization bits (the real library, run here), on random
//     rows and on rows built so that any other accumulation order would show;
//   - a graph rewritten with RewriteOptions::exact_norms (com.winnow LayerNorm) gives the graph as written's bits
//     through ONNX Runtime, with the residual sum handed on when a later node reads it.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/half.h"
#include "layernorm/layer_norm.h"
#include "runtime/custom_ops.h"
#include "rewrite/graph_rewrite.h"
#include "runtime/ort_runtime.h"
#include "onnx/writer.h"
#include "ort_library.h"

namespace winnow {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float scale = 2.0f, float offset = 0.3f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng) * scale + offset;
  return v;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b, std::string* where) {
  if (a.size() != b.size()) {
    *where = "sizes " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], 4) != 0) {
      char text[96];
      std::snprintf(text, sizeof text, "element %zu: %a vs %a", i, a[i], b[i]);
      *where = text;
      return false;
    }
  return true;
}

// One configuration run at `level` over all rows, in kChunkRows pieces starting at `offset` (then the rest).
struct Case {
  size_t rows, cols, skip_rows;  // skip_rows 0: no skip
  bool beta, sum;
  bool bias = false;  // a linear layer's bias added to input first
};
using Kernel = std::function<void(const layernorm::Rows&, size_t, size_t)>;
void RunCase(const Kernel& kernel, const Case& c, size_t offset, std::vector<float>* out, std::vector<float>* sum,
             bool exact = true) {
  const auto in = Random(c.rows * c.cols, 1), skip = Random(c.skip_rows * c.cols + 1, 2);
  const auto gamma = Random(c.cols, 3, 0.3f, 1.0f), beta = Random(c.cols, 4, 0.1f, 0.0f);
  const auto bias = Random(c.cols, 5, 0.5f, 0.1f);
  out->assign(c.rows * c.cols, -7.0f);
  sum->assign(c.sum ? c.rows * c.cols : 0, -7.0f);
  layernorm::Rows r;
  r.input = in.data();
  r.bias = c.bias ? bias.data() : nullptr;
  r.skip = c.skip_rows ? skip.data() : nullptr;
  r.skip_rows = c.skip_rows;
  r.gamma = gamma.data();
  r.beta = c.beta ? beta.data() : nullptr;
  r.output = out->data();
  r.sum = c.sum ? sum->data() : nullptr;
  r.cols = c.cols;
  r.epsilon = 1e-12f;
  r.exact = exact;
  offset = std::min(offset, c.rows);
  for (size_t b = offset; b < c.rows; b += layernorm::kChunkRows) kernel(r, b, std::min(c.rows, b + layernorm::kChunkRows));
  if (offset) kernel(r, 0, offset);
}

TEST(LayerNorm, EverySimdLevelGivesTheScalarBits) {
  const Case cases[] = {{1, 1, 0, true, false},    {3, 7, 0, true, false},    {16, 16, 16, true, true},
                        {17, 33, 17, false, true}, {64, 384, 64, true, false}, {65, 384, 1, true, true},
                        {130, 100, 10, true, false}, {40, 1000, 8, false, false},
                        {65, 384, 65, true, false, true}, {17, 33, 1, true, true, true}, {70, 37, 0, true, false, true},
                        {3, 7, 3, false, true, true}};
  // Each level this CPU runs, and the generic 4-lane code (NEON's on aarch64), which any CPU runs.
  std::vector<std::pair<std::string, Kernel>> kernels;
  for (SimdLevel level : kAllSimdLevels)
    if (CpuSupports(level))
      kernels.emplace_back(SimdLevelName(level), [level](const layernorm::Rows& r, size_t b, size_t e) {
        layernorm::LayerNormAt(level, r, b, e);
      });
  if (auto vec = layernorm::internal::Vec128Kernel()) kernels.emplace_back("vec128", vec);
  const Kernel scalar = &layernorm::internal::LayerNormScalar;
  int compared = 0;
  for (const auto& [name, kernel] : kernels) {
    for (const Case& c : cases)
      for (size_t offset : {size_t(0), size_t(5)}) {
        std::vector<float> want, want_sum, got, got_sum;
        RunCase(scalar, c, offset, &want, &want_sum);
        RunCase(kernel, c, offset, &got, &got_sum);
        std::string where;
        EXPECT_TRUE(SameBits(want, got, &where)) << name << " rows " << c.rows << " cols " << c.cols
                                                 << " skip " << c.skip_rows << ": " << where;
        EXPECT_TRUE(SameBits(want_sum, got_sum, &where)) << name << " sum: " << where;
        for (float v : got) ASSERT_TRUE(std::isfinite(v));
        ++compared;
      }
  }
  EXPECT_GT(compared, 0);
}

// Rows::exact false (the two-pass form of built graphs): at every level and in the scalar code, the sum output is
// the exact form's (the same float additions), and the normalized rows are within float rounding of a
// double-precision normalization of that sum. Dividing by cols - 1 instead of cols, or dropping epsilon on a
// constant row, misses by far more.
TEST(LayerNorm, TwoPassFormIsWithinRoundingOfTheNormalization) {
  const Case cases[] = {{1, 1, 0, true, false},     {3, 7, 0, true, false},      {16, 16, 16, true, true},
                        {17, 33, 17, false, true},  {64, 384, 64, true, false},  {65, 384, 1, true, true},
                        {130, 100, 10, true, false}, {40, 1000, 8, false, false}, {65, 384, 65, true, false, true},
                        {17, 33, 1, true, true, true}, {70, 37, 0, true, false, true}, {3, 7, 3, false, true, true}};
  std::vector<std::pair<std::string, Kernel>> kernels = {{"scalar code", &layernorm::internal::LayerNormScalar}};
  for (SimdLevel level : kAllSimdLevels)
    if (CpuSupports(level))
      kernels.emplace_back(SimdLevelName(level), [level](const layernorm::Rows& r, size_t b, size_t e) {
        layernorm::LayerNormAt(level, r, b, e);
      });
  if (auto vec = layernorm::internal::Vec128Kernel()) kernels.emplace_back("vec128", vec);
  double worst = 0;
  for (const auto& [name, kernel] : kernels)
    for (const Case& c : cases) {
      std::vector<float> exact, exact_sum, got, got_sum;
      RunCase(&layernorm::internal::LayerNormScalar, c, 0, &exact, &exact_sum);
      RunCase(kernel, c, 5, &got, &got_sum, /*exact=*/false);
      std::string where;
      EXPECT_TRUE(SameBits(exact_sum, got_sum, &where)) << name << " sum: " << where;
      // The normalized rows from the same sums (x below), in double.
      const auto in = Random(c.rows * c.cols, 1), skip = Random(c.skip_rows * c.cols + 1, 2);
      const auto gamma = Random(c.cols, 3, 0.3f, 1.0f), beta = Random(c.cols, 4, 0.1f, 0.0f);
      const auto bias = Random(c.cols, 5, 0.5f, 0.1f);
      for (size_t i = 0; i < c.rows; ++i) {
        std::vector<double> x(c.cols);
        double mean = 0, var = 0;
        for (size_t k = 0; k < c.cols; ++k) {
          float v = in[i * c.cols + k];
          if (c.bias) v = v + bias[k];
          if (c.skip_rows) v = v + skip[(i % c.skip_rows) * c.cols + k];
          mean += x[k] = v;
        }
        mean /= static_cast<double>(c.cols);
        for (double v : x) var += (v - mean) * (v - mean);
        const double sd = std::sqrt(var / static_cast<double>(c.cols) + 1e-12);
        for (size_t k = 0; k < c.cols; ++k) {
          const double want = (x[k] - mean) / sd * gamma[k] + (c.beta ? beta[k] : 0.0);
          const double e = std::abs(got[i * c.cols + k] - want) / std::max(1.0, std::abs(want));
          worst = std::max(worst, e);
          ASSERT_LT(e, 2e-6) << name << " rows " << c.rows << " cols " << c.cols << " row " << i << " col " << k
                             << ": " << got[i * c.cols + k] << " vs " << want;
        }
      }
    }
  std::printf("two-pass layer norm: worst relative error %.3g\n", worst);
}

TEST(LayerNorm, NormalizesAndAddsTheSkip) {
  // Independent of ONNX Runtime: the scalar code normalizes (mean 0, variance 1 before gamma / beta, within
  // float rounding), adds a broadcast skip row, and writes the sum when asked.
  const size_t rows = 6, cols = 50;
  const auto in = Random(rows * cols, 9), skip = Random(2 * cols, 10);
  std::vector<float> gamma(cols, 1.0f), out(rows * cols), sum(rows * cols);
  layernorm::Rows r;
  r.input = in.data();
  r.skip = skip.data();
  r.skip_rows = 2;
  r.gamma = gamma.data();
  r.output = out.data();
  r.sum = sum.data();
  r.cols = cols;
  r.epsilon = 0.0f;
  layernorm::internal::LayerNormScalar(r, 0, rows);
  for (size_t i = 0; i < rows; ++i) {
    double m = 0, v = 0;
    for (size_t k = 0; k < cols; ++k) {
      EXPECT_EQ(sum[i * cols + k], in[i * cols + k] + skip[(i % 2) * cols + k]);
      m += out[i * cols + k];
      v += double(out[i * cols + k]) * out[i * cols + k];
    }
    EXPECT_NEAR(m / cols, 0.0, 1e-6);
    EXPECT_NEAR(v / cols, 1.0, 1e-5);
  }
}

// ---- against ONNX Runtime ---------------------------------------------------------------------------------

using winnow::test_support::OrtLibrary;

// ValueInfoProto of a float tensor [rows, cols] (rows symbolic unless fixed_rows).
std::string FloatValue(const std::string& name, size_t cols, size_t fixed_rows = 0) {
  onnx::Dim rows = fixed_rows ? onnx::Dim{static_cast<int64_t>(fixed_rows), ""} : onnx::Dim{-1, "rows"};
  return onnx::ValueInfo(name, onnx::dtype::kFloat, {rows, {static_cast<int64_t>(cols), ""}});
}

// Y = LayerNormalization(A + B) (opset 17); with `pre_norm`, also Z = S + Y, so the sum is read after the norm.
// `b_rows`: B is [b_rows, cols] (broadcast down A's rows) instead of A's shape; `swap`: Add(B, A).
std::string NormModel(size_t cols, const std::vector<float>& gamma, const std::vector<float>& beta, bool pre_norm,
                      size_t b_rows = 0, bool swap = false) {
  onnx::GraphWriter g;
  g.Node("Add", swap ? onnx::Names{"B", "A"} : onnx::Names{"A", "B"}, {"S"});
  g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"}, {onnx::FloatAttribute("epsilon", 1e-12f)});
  if (pre_norm) g.Node("Add", {"S", "Y"}, {"Z"});
  g.Initializer(onnx::FloatTensor("gamma", {static_cast<int64_t>(gamma.size())}, gamma));
  g.Initializer(onnx::FloatTensor("beta", {static_cast<int64_t>(beta.size())}, beta));
  g.Input(FloatValue("A", cols));
  g.Input(FloatValue("B", cols, b_rows));
  g.Output(FloatValue(pre_norm ? "Z" : "Y", cols));
  return onnx::ModelProto(g.Graph("g"), {{"", 17}});
}

// Y = LayerNormalization((A + bias) + B): a linear layer's output A, its bias, the residual B (Winnow's BERT graphs
// before the bias moved into the norm); with `pre_norm` also Z = S + Y. `fused`: the same as one com.winnow
// LayerNorm(A, B, gamma, beta, bias) with the sum output when pre_norm.
std::string BiasNormModel(size_t cols, const std::vector<float>& gamma, const std::vector<float>& beta,
                          const std::vector<float>& bias, bool pre_norm, bool fused) {
  onnx::GraphWriter g;
  if (fused) {
    g.Node("LayerNorm", {"A", "B", "gamma", "beta", "bias"}, pre_norm ? onnx::Names{"Y", "S"} : onnx::Names{"Y"},
           {onnx::FloatAttribute("epsilon", 1e-12f)}, "com.winnow");
  } else {
    g.Node("Add", {"A", "bias"}, {"P"});
    g.Node("Add", {"P", "B"}, {"S"});
    g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"}, {onnx::FloatAttribute("epsilon", 1e-12f)});
  }
  if (pre_norm) g.Node("Add", {"S", "Y"}, {"Z"});
  g.Initializer(onnx::FloatTensor("gamma", {static_cast<int64_t>(gamma.size())}, gamma));
  g.Initializer(onnx::FloatTensor("beta", {static_cast<int64_t>(beta.size())}, beta));
  g.Initializer(onnx::FloatTensor("bias", {static_cast<int64_t>(bias.size())}, bias));
  g.Input(FloatValue("A", cols));
  g.Input(FloatValue("B", cols));
  g.Output(FloatValue(pre_norm ? "Z" : "Y", cols));
  return onnx::ModelProto(g.Graph("g"), {{"", 17}, {"com.winnow", 1}});
}

class LayerNormOrt : public ::testing::Test {
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
  std::vector<float> Run(const std::string& model, const std::vector<float>& a, const std::vector<float>& b,
                         size_t cols, int threads) {
    Ort::SessionOptions so;
    so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    so.SetIntraOpNumThreads(threads);
    so.Add(rt::CustomOpDomain());
    Ort::Session s(rt_->env(), model.data(), model.size(), so);
    auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    const int64_t shape[2] = {static_cast<int64_t>(a.size() / cols), static_cast<int64_t>(cols)};
    const int64_t b_shape[2] = {static_cast<int64_t>(b.size() / cols), static_cast<int64_t>(cols)};
    std::vector<Ort::Value> in;
    in.push_back(Ort::Value::CreateTensor<float>(mem, const_cast<float*>(a.data()), a.size(), shape, 2));
    in.push_back(Ort::Value::CreateTensor<float>(mem, const_cast<float*>(b.data()), b.size(), b_shape, 2));
    const char* in_names[] = {"A", "B"};
    Ort::AllocatorWithDefaultOptions alloc;
    const std::string out_name = s.GetOutputNameAllocated(0, alloc).get();
    const char* out_names[] = {out_name.c_str()};
    auto out = s.Run(Ort::RunOptions{nullptr}, in_names, in.data(), 2, out_names, 1);
    const float* p = out[0].GetTensorData<float>();
    return std::vector<float>(p, p + a.size());
  }
  rt::OrtRuntime* rt_ = nullptr;
};

// Rows whose sum is 2^25 plus 1s: a running float sum absorbs every 1 after the large value, a pairwise or
// multi-lane sum absorbs some, Welford's mean none of them in the same way. Then random rows.
std::vector<float> ProbeRows(size_t cols, size_t random_rows) {
  std::vector<float> a;
  for (size_t at = 0; at < cols; ++at)
    for (size_t k = 0; k < cols; ++k) a.push_back(k == at ? 33554432.0f : 1.0f);
  auto r = Random(random_rows * cols, 21);
  a.insert(a.end(), r.begin(), r.end());
  return a;
}

TEST_F(LayerNormOrt, ScalarCodeGivesOnnxRuntimesLayerNormalizationBits) {
  for (size_t cols : {size_t(384), size_t(37)}) {
    const auto a = ProbeRows(cols, 300);
    const std::vector<float> b(a.size(), 0.0f);
    const auto gamma = Random(cols, 3, 0.3f, 1.0f), beta = Random(cols, 4, 0.1f, 0.0f);
    const auto ort = Run(NormModel(cols, gamma, beta, false), a, b, cols, 1);
    std::vector<float> ours(a.size());
    layernorm::Rows r;
    r.input = a.data();
    r.gamma = gamma.data();
    r.beta = beta.data();
    r.output = ours.data();
    r.cols = cols;
    r.epsilon = 1e-12f;
    layernorm::internal::LayerNormScalar(r, 0, a.size() / cols);
    std::string where;
    EXPECT_TRUE(SameBits(ort, ours, &where)) << "cols " << cols << ": " << where;
    // The rows tell accumulation orders apart: running sums of x and x^2 (the textbook kernel) miss.
    std::vector<float> naive(a.size());
    for (size_t row = 0; row < a.size() / cols; ++row) {
      const float* x = &a[row * cols];
      float s = 0, s2 = 0;
      for (size_t k = 0; k < cols; ++k) {
        s += x[k];
        s2 += x[k] * x[k];
      }
      const float mean = s / cols, sd = std::sqrt(s2 / cols - mean * mean + 1e-12f);
      for (size_t k = 0; k < cols; ++k) naive[row * cols + k] = (x[k] - mean) / sd * gamma[k] + beta[k];
    }
    EXPECT_FALSE(SameBits(ort, naive, &where));
  }
}

TEST_F(LayerNormOrt, RewrittenGraphGivesTheGraphAsWrittensBits) {
  const size_t cols = 96;
  const auto gamma = Random(cols, 3, 0.3f, 1.0f), beta = Random(cols, 4, 0.1f, 0.0f);
  const auto a = ProbeRows(cols, 500), b = Random(a.size(), 22, 0.5f, 0.0f);
  for (bool pre_norm : {false, true}) {
    const std::string written = NormModel(cols, gamma, beta, pre_norm);
    rt::RewriteOptions o;
    o.layer_norms = true;
    o.exact_norms = true;
    auto rw = rt::RewriteGraph(written, o);
    ASSERT_TRUE(rw.ok()) << rw.status().ToString();
    ASSERT_EQ(rw->exact_layer_norms, 1);
    for (int threads : {1, 2}) {
      const auto want = Run(written, a, b, cols, threads);
      const auto got = Run(rw->model, a, b, cols, threads);
      std::string where;
      EXPECT_TRUE(SameBits(want, got, &where)) << "pre_norm " << pre_norm << " threads " << threads << ": " << where;
    }
  }
  // A one-row skip ([1, cols]) broadcast down the rows, on either side of the Add.
  const auto row = Random(cols, 23, 0.5f, 0.0f);
  for (bool swap : {false, true}) {
    const std::string written = NormModel(cols, gamma, beta, false, 1, swap);
    rt::RewriteOptions o;
    o.layer_norms = true;
    o.exact_norms = true;
    auto rw = rt::RewriteGraph(written, o);
    ASSERT_TRUE(rw.ok() && rw->exact_layer_norms == 1);
    const auto want = Run(written, a, row, cols, 2);
    const auto got = Run(rw->model, a, row, cols, 2);
    std::string where;
    EXPECT_TRUE(SameBits(want, got, &where)) << "broadcast skip, swap " << swap << ": " << where;
  }
}

TEST_F(LayerNormOrt, BiasInTheNormGivesAddAddLayerNormalizationBits) {
  // At this process's SIMD level through the operator; the scalar code directly too (every level gives its bits:
  // EverySimdLevelGivesTheScalarBits).
  for (size_t cols : {size_t(384), size_t(37)}) {
    const auto gamma = Random(cols, 3, 0.3f, 1.0f), beta = Random(cols, 4, 0.1f, 0.0f);
    const auto bias = Random(cols, 6, 0.7f, 0.2f);
    const auto a = ProbeRows(cols, 300), b = Random(a.size(), 24, 0.5f, 0.0f);
    for (bool pre_norm : {false, true})
      for (int threads : {1, 2}) {
        const auto want = Run(BiasNormModel(cols, gamma, beta, bias, pre_norm, false), a, b, cols, threads);
        const auto got = Run(BiasNormModel(cols, gamma, beta, bias, pre_norm, true), a, b, cols, threads);
        std::string where;
        EXPECT_TRUE(SameBits(want, got, &where))
            << "cols " << cols << " pre_norm " << pre_norm << " threads " << threads << ": " << where;
        if (pre_norm) continue;
        std::vector<float> scalar(a.size());
        layernorm::Rows r;
        r.input = a.data();
        r.bias = bias.data();
        r.skip = b.data();
        r.skip_rows = a.size() / cols;
        r.gamma = gamma.data();
        r.beta = beta.data();
        r.output = scalar.data();
        r.cols = cols;
        r.epsilon = 1e-12f;
        layernorm::internal::LayerNormScalar(r, 0, a.size() / cols);
        EXPECT_TRUE(SameBits(want, scalar, &where)) << "scalar, cols " << cols << ": " << where;
        // The order shows: input + (bias + skip) misses somewhere on these rows.
        std::vector<float> other(a.size());
        std::vector<float> bias_skip(b.size());
        for (size_t i = 0; i < b.size(); ++i) bias_skip[i] = bias[i % cols] + b[i];
        r.bias = nullptr;
        r.skip = bias_skip.data();
        r.output = other.data();
        layernorm::internal::LayerNormScalar(r, 0, a.size() / cols);
        EXPECT_FALSE(SameBits(want, other, &where)) << "cols " << cols;
      }
  }
}

TEST_F(LayerNormOrt, BiasOfTheWrongLengthIsAnError) {
  const size_t cols = 16;
  const auto gamma = Random(cols, 3, 0.3f, 1.0f), beta = Random(cols, 4, 0.1f, 0.0f);
  const auto bias = Random(cols + 1, 6);
  const auto a = Random(4 * cols, 7), b = Random(4 * cols, 8);
  try {
    Run(BiasNormModel(cols, gamma, beta, bias, false, true), a, b, cols, 1);
    ADD_FAILURE() << "a bias of 17 elements ran on rows of 16";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("bias must have 16 elements"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace winnow
