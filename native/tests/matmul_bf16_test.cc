// gemm/matmul_bf16.h: the bf16 rounding, and every kernel this CPU has against the scalar reference arithmetic;
// the dtype 'bf16' rewrite (graph_rewrite.h RewriteOptions::bf16) run through ONNX Runtime as com.winnow MatMulBf16.
#include "gemm/matmul_bf16.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "onnx/reader.h"
#include "onnx/writer.h"
#include "ort_library.h"
#include "rewrite/graph_rewrite.h"
#include "runtime/custom_ops.h"
#include "runtime/ort_runtime.h"

namespace winnow::gemm {
namespace {

uint32_t Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}
float FromBits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof(x));
  return x;
}

TEST(RoundToBf16, ExactValuesUnchanged) {
  for (float x : {0.0f, -0.0f, 1.0f, -2.5f, 0.15625f, 65536.0f, -1.0e-30f})
    if ((Bits(x) & 0xffffu) == 0) {
      EXPECT_EQ(RoundToBf16(x), Bits(x) >> 16) << x;
    }
  EXPECT_EQ(RoundToBf16(1.0f), 0x3f80);
  EXPECT_EQ(RoundToBf16(-0.0f), 0x8000);
}

TEST(RoundToBf16, TiesToEven) {
  // 1 + 2^-8 lies halfway between 1 (mantissa even) and 1 + 2^-7: down to 1.
  EXPECT_EQ(RoundToBf16(FromBits(0x3f808000u)), 0x3f80);
  // (1 + 2^-7) + 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
  EXPECT_EQ(RoundToBf16(FromBits(0x3f818000u)), 0x3f82);
  // Just above / below a tie.
  EXPECT_EQ(RoundToBf16(FromBits(0x3f808001u)), 0x3f81);
  EXPECT_EQ(RoundToBf16(FromBits(0x3f807fffu)), 0x3f80);
  EXPECT_EQ(RoundToBf16(FromBits(0xbf818000u)), 0xbf82);  // negative tie, up in magnitude to even
}

TEST(RoundToBf16, InfinityNanAndOverflow) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(RoundToBf16(inf), 0x7f80);
  EXPECT_EQ(RoundToBf16(-inf), 0xff80);
  // A NaN whose payload lies only in the low 16 bits must not become infinity.
  const uint16_t nan = RoundToBf16(FromBits(0x7f800001u));
  EXPECT_TRUE(std::isnan(Bf16ToFloat(nan)));
  EXPECT_TRUE(std::isnan(Bf16ToFloat(RoundToBf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(RoundToBf16(FromBits(0xffc00000u)) & 0x8000, 0x8000);  // sign kept
  EXPECT_EQ(RoundToBf16(FromBits(0xff800001u)) & 0x8000, 0x8000);
  // The largest float rounds past the largest bf16 (0x7f7f): infinity, as round to nearest says.
  EXPECT_EQ(RoundToBf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(RoundToBf16(FromBits(0x7f7f7fffu)), 0x7f7f);
}

TEST(RoundToBf16, Denormals) {
  EXPECT_EQ(RoundToBf16(FromBits(0x00000001u)), 0x0000);  // the smallest denormal: down to zero
  EXPECT_EQ(RoundToBf16(FromBits(0x00018000u)), 0x0002);  // a tie among denormals, to even
  EXPECT_EQ(RoundToBf16(FromBits(0x00008000u)), 0x0000);  // tie between 0 and the smallest bf16 denormal: 0
  EXPECT_EQ(RoundToBf16(FromBits(0x00008001u)), 0x0001);
  EXPECT_EQ(RoundToBf16(FromBits(0x007fffffu)), 0x0080);  // the largest denormal rounds up to the smallest normal
  EXPECT_EQ(RoundToBf16(FromBits(0x80010000u)), 0x8001);
}

std::vector<Bf16Isa> Isas() {
  std::vector<Bf16Isa> out;
  for (Bf16Isa i : {Bf16Isa::kAvx512Bf16, Bf16Isa::kAmx})
    if (CpuSupportsBf16(i)) out.push_back(i);
  return out;
}

// Each output against the bf16-rounded operands summed in double: within 1e-6 of sum |a b| (float32 accumulation).
void CheckShape(Bf16Isa isa, size_t m, size_t k, size_t n, bool bias, std::mt19937* rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> a(m * k), b(k * n), bv(n), c(m * n, std::nanf(""));
  for (float& x : a) x = d(*rng);
  for (float& x : b) x = d(*rng) * 0.05f;
  for (float& x : bv) x = d(*rng);
  const PackedBf16Weights packed(b.data(), k, n);
  MatMulBf16(isa, packed, a.data(), bias ? bv.data() : nullptr, c.data(), m);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      double sum = 0, mag = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        const double p = static_cast<double>(Bf16ToFloat(RoundToBf16(a[i * k + kk]))) *
                         Bf16ToFloat(RoundToBf16(b[kk * n + j]));
        sum += p;
        mag += std::fabs(p);
      }
      if (bias) sum += bv[j];
      ASSERT_NEAR(c[i * n + j], sum, 1e-6 * mag + 1e-6 * std::fabs(sum) + 1e-30)
          << Bf16IsaName(isa) << " m=" << m << " k=" << k << " n=" << n << " at " << i << "," << j;
    }
}

TEST(MatMulBf16, EveryKernelOnOddShapes) {
  const auto isas = Isas();
  if (isas.empty()) GTEST_SKIP() << "no bf16 instructions on this CPU";
  std::mt19937 rng(7);
  for (Bf16Isa isa : isas) {
    for (size_t m : {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 67})
      for (size_t k : {1, 2, 3, 31, 32, 33, 63, 64, 65, 100})
        for (size_t n : {1, 5, 16, 17, 31, 32, 33, 50}) CheckShape(isa, m, k, n, (m + k + n) % 2 == 0, &rng);
    for (size_t n : {384, 1536}) {
      CheckShape(isa, 67, 100, n, true, &rng);
      CheckShape(isa, 5, 64, n, false, &rng);
    }
  }
}

TEST(MatMulBf16, ReferenceIsTheSameArithmetic) {
  // The scalar reference rounds its operands: a value that bf16 cannot hold gives the rounded product.
  const float a[2] = {1.0f + 1.0f / 512, 3.0f};  // 1 + 2^-9 rounds to 1
  const float b[2] = {1.0f, 1.0f + 1.0f / 256};  // 1 + 2^-8 (a tie) rounds to 1
  float c = 0;
  MatMulBf16Reference(a, b, nullptr, &c, 1, 2, 1);
  EXPECT_EQ(c, 4.0f);
  const float bias = 0.5f;
  MatMulBf16Reference(a, b, &bias, &c, 1, 2, 1);
  EXPECT_EQ(c, 4.5f);
  for (Bf16Isa isa : Isas()) {
    const PackedBf16Weights packed(b, 2, 1);
    MatMulBf16(isa, packed, a, &bias, &c, 1);
    EXPECT_EQ(c, 4.5f) << Bf16IsaName(isa);
  }
}

TEST(MatMulBf16, NanAndInfinityPropagate) {
  for (Bf16Isa isa : Isas()) {
    std::vector<float> a(3 * 40, 1.0f), b(40 * 3, 0.5f), c(9);
    a[0] = std::nanf("");                               // row 0: NaN everywhere
    b[5 * 3 + 1] = std::numeric_limits<float>::infinity();  // column 1 of rows 1, 2: +inf
    const PackedBf16Weights packed(b.data(), 40, 3);
    MatMulBf16(isa, packed, a.data(), nullptr, c.data(), 3);
    for (int j = 0; j < 3; ++j) EXPECT_TRUE(std::isnan(c[j])) << Bf16IsaName(isa);
    EXPECT_EQ(c[3 + 1], std::numeric_limits<float>::infinity()) << Bf16IsaName(isa);
    EXPECT_EQ(c[3 + 0], 20.0f) << Bf16IsaName(isa);
  }
}

TEST(MatMulBf16, TasksCoverTheProductOnce) {
  const auto isas = Isas();
  if (isas.empty()) GTEST_SKIP() << "no bf16 instructions on this CPU";
  std::vector<float> b(64 * 200, 0.25f), a(70 * 64, 1.0f), c(70 * 200, 0.0f);
  const PackedBf16Weights packed(b.data(), 64, 200);
  for (size_t min_tasks : {1, 4, 16, 64}) {
    const Bf16Gemm g = PlanBf16Gemm(isas[0], packed, a.data(), nullptr, c.data(), 70, min_tasks);
    EXPECT_GE(g.tasks(), std::min<size_t>(min_tasks, 3 * 7));
    std::fill(c.begin(), c.end(), 0.0f);
    for (size_t t = 0; t < g.tasks(); ++t) RunBf16Task(g, t);
    for (float x : c) ASSERT_EQ(x, 16.0f);
  }
}

// A GELU or layer-norm epilogue gives the very bits of the product without its bias followed by that kernel (what
// the graph's separate BiasGelu / LayerNorm node computes), whether the tasks split the columns or not.
TEST(MatMulBf16, EpiloguesGiveTheBitsOfTheSeparateKernels) {
  const auto isas = Isas();
  if (isas.empty()) GTEST_SKIP() << "no bf16 instructions on this CPU";
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 1.0f);
  struct Shape {
    size_t m, k, n, skip_rows;
  };
  for (Bf16Isa isa : isas)
    for (const Shape s : {Shape{67, 100, 50, 67}, Shape{40, 64, 384, 8}}) {
      std::vector<float> a(s.m * s.k), b(s.k * s.n), bias(s.n), skip(s.skip_rows * s.n), gamma(s.n), beta(s.n);
      for (auto* v : {&a, &b, &bias, &skip, &gamma, &beta})
        for (float& x : *v) x = d(rng);
      const PackedBf16Weights packed(b.data(), s.k, s.n);
      auto run = [&](const Epilogue& e, size_t min_tasks, const float* with_bias) {
        std::vector<float> c(s.m * s.n);
        const Bf16Gemm g = PlanBf16Gemm(isa, packed, a.data(), with_bias, c.data(), s.m, min_tasks, e);
        for (size_t t = 0; t < g.tasks(); ++t) RunBf16Task(g, t);
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
              << Bf16IsaName(isa) << " gelu n=" << s.n << " min_tasks=" << min_tasks;
        }
      }
      for (bool exact : {true, false})
        for (const float* be : {static_cast<const float*>(beta.data()), static_cast<const float*>(nullptr)}) {
          Epilogue e;
          e.kind = Epilogue::Kind::kLayerNorm;
          e.norm.skip = skip.data();
          e.norm.skip_rows = s.skip_rows;
          e.norm.gamma = gamma.data();
          e.norm.beta = be;
          e.norm.exact = exact;
          std::vector<float> want = product;
          layernorm::Rows r = e.norm;
          r.input = r.output = want.data();
          r.bias = bias.data();
          r.cols = s.n;
          layernorm::LayerNorm(r, 0, s.m);
          const std::vector<float> got = run(e, 64, bias.data());
          ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
              << Bf16IsaName(isa) << " layernorm n=" << s.n << " exact=" << exact;
        }
    }
}

TEST(MatMulBf16, ForcedKernelIsNoBetterThanAsked) {
  // WINNOW_BF16_KERNEL is read once per process; this process has whatever the environment set.
  const Bf16Isa active = ActiveBf16Isa();
  if (active != Bf16Isa::kNone) {
    EXPECT_TRUE(CpuSupportsBf16(active));
  }
  const std::string env = std::getenv("WINNOW_BF16_KERNEL") ? std::getenv("WINNOW_BF16_KERNEL") : "";
  if (env == "none") {
    EXPECT_EQ(active, Bf16Isa::kNone);
  } else if (env == "avx512bf16") {
    EXPECT_NE(active, Bf16Isa::kAmx);
  } else if (env.empty() && CpuSupportsBf16(Bf16Isa::kAmx)) {
    EXPECT_EQ(active, Bf16Isa::kAmx);
  }
}

// Z = LayerNormalization(X W + b): the linear layer is the encoder's (a norm follows), the norm is the head.
std::string OneLinearModel(int64_t k, int64_t n, const std::vector<float>& w, const std::vector<float>& b) {
  onnx::GraphWriter g;
  g.Node("MatMul", {"X", "W"}, {"P"});
  g.Node("Add", {"P", "b"}, {"Y"});
  g.Node("LayerNormalization", {"Y", "gamma", "beta"}, {"Z"}, {onnx::FloatAttribute("epsilon", 1e-5f)});
  g.Initializer(onnx::FloatTensor("W", {k, n}, w));
  g.Initializer(onnx::FloatTensor("b", {n}, b));
  g.Initializer(onnx::FloatTensor("gamma", {n}, std::vector<float>(n, 1.0f)));
  g.Initializer(onnx::FloatTensor("beta", {n}, std::vector<float>(n, 0.0f)));
  g.Input(onnx::ValueInfo("X", onnx::dtype::kFloat, {{-1, "batch"}, {-1, "seq"}, {k, ""}}));
  g.Output(onnx::ValueInfo("Z", onnx::dtype::kFloat, {{-1, "batch"}, {-1, "seq"}, {n, ""}}));
  return onnx::ModelProto(g.Graph("g"), {{"", 17}});
}

std::vector<float> RunOrt(const std::string& model, const std::vector<float>& x, int64_t batch, int64_t seq,
                          int64_t k) {
  auto rt = rt::OrtRuntime::Get(test_support::OrtLibrary());
  if (!rt.ok()) return {};
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(2);  // the kernel's tasks through ONNX Runtime's pool
  so.Add(rt::CustomOpDomain());
  Ort::Session s((*rt)->env(), model.data(), model.size(), so);
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const int64_t shape[3] = {batch, seq, k};
  Ort::Value in = Ort::Value::CreateTensor<float>(mem, const_cast<float*>(x.data()), x.size(), shape, 3);
  const char* in_names[] = {"X"};
  const char* out_names[] = {"Z"};
  auto out = s.Run(Ort::RunOptions{nullptr}, in_names, &in, 1, out_names, 1);
  const auto info = out[0].GetTensorTypeAndShapeInfo();
  const float* p = out[0].GetTensorData<float>();
  return std::vector<float>(p, p + info.GetElementCount());
}

TEST(MatMulBf16Op, RewrittenLinearRunsAsBf16ThroughOnnxRuntime) {
  struct stat sb;
  ASSERT_EQ(stat(test_support::OrtLibrary().c_str(), &sb), 0) << "no ONNX Runtime library";
  if (ActiveBf16Isa() == Bf16Isa::kNone) GTEST_SKIP() << "no bf16 instructions on this CPU";
  const int64_t batch = 3, seq = 101, k = 100, n = 70;
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(batch * seq * k), w(k * n), b(n), x16(x.size()), w16(w.size());
  for (float& v : x) v = d(rng);
  for (float& v : w) v = d(rng) * 0.1f;
  for (float& v : b) v = d(rng);
  for (size_t i = 0; i < x.size(); ++i) x16[i] = Bf16ToFloat(RoundToBf16(x[i]));
  for (size_t i = 0; i < w.size(); ++i) w16[i] = Bf16ToFloat(RoundToBf16(w[i]));
  const std::string written = OneLinearModel(k, n, w, b);
  rt::RewriteOptions o;
  o.bf16 = true;
  auto rw = rt::RewriteGraph(written, o);
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  ASSERT_EQ(rw->bf16_matmuls, 1) << rw->skipped;
  EXPECT_EQ(rw->head_matmuls, 0);
  EXPECT_EQ(rw->quantized_matmuls, 0);
  const auto got = RunOrt(rw->model, x, batch, seq, k);
  // The float graph over operands already rounded to bf16: the same products, summed in another order.
  const auto rounded = RunOrt(OneLinearModel(k, n, w16, b), x16, batch, seq, k);
  const auto as_written = RunOrt(written, x, batch, seq, k);
  ASSERT_EQ(got.size(), static_cast<size_t>(batch * seq * n));
  ASSERT_EQ(rounded.size(), got.size());
  double worst = 0, from_float = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::fabs(double(got[i]) - rounded[i]));
    from_float = std::max(from_float, std::fabs(double(as_written[i]) - got[i]));
  }
  EXPECT_LT(worst, 2e-5);
  EXPECT_GT(from_float, 1e-3);  // the rewrite really rounded to bf16
}

TEST(MatMulBf16Op, AnUnknownEpilogueIsASessionError) {
  struct stat sb;
  ASSERT_EQ(stat(test_support::OrtLibrary().c_str(), &sb), 0) << "no ONNX Runtime library";
  if (ActiveBf16Isa() == Bf16Isa::kNone) GTEST_SKIP() << "no bf16 instructions on this CPU";
  auto rt = rt::OrtRuntime::Get(test_support::OrtLibrary());
  ASSERT_TRUE(rt.ok());
  onnx::GraphWriter g;
  g.Node("MatMulBf16", {"X", "W"}, {"Z"}, {onnx::StringAttribute("epilogue", "relu")}, "com.winnow");
  g.Initializer(onnx::FloatTensor("W", {4, 4}, std::vector<float>(16, 1.0f)));
  g.Input(onnx::ValueInfo("X", onnx::dtype::kFloat, {{-1, "rows"}, {4, ""}}));
  g.Output(onnx::ValueInfo("Z", onnx::dtype::kFloat, {{-1, "rows"}, {4, ""}}));
  const std::string model = onnx::ModelProto(g.Graph("g"), {{"", 17}, {"com.winnow", 1}});
  Ort::SessionOptions so;
  so.Add(rt::CustomOpDomain());
  try {
    Ort::Session s((*rt)->env(), model.data(), model.size(), so);
    FAIL() << "the session was created";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("epilogue must be"), std::string::npos) << e.what();
  }
}

TEST(MatMulBf16Op, WithInt8AskedTooTheInt8RewriteTakesTheLayers) {
  std::vector<float> w(16 * 8, 0.1f), b(8, 0.0f);
  rt::RewriteOptions o;
  o.bf16 = true;
  o.quantize_int8 = true;  // the int8 rewrite takes the layers; bf16 none
  auto rw = rt::RewriteGraph(OneLinearModel(16, 8, w, b), o);
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->quantized_matmuls, 1);
  EXPECT_EQ(rw->bf16_matmuls, 0);
}

}  // namespace
}  // namespace winnow::gemm
