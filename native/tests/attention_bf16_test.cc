// The bf16 attention core (attention/attention_bf16.h) on every bf16 kernel this CPU runs (AMX, AVX512-BF16),
// against a double-precision softmax(Q Kᵀ · scale + mask) V computed on the operands the kernel is specified to
// round: bf16(Q + Q's bias), bf16(K + K's bias), bf16(V), and bf16 probabilities (e = exp(s - max) rounded, the sum
// of the unrounded e), V's bias added to the output. Head sizes 1 to 130, 1 to 300 tokens, right / left / holed
// masks and a batch row with no key, with and without biases, Q, K, V separate and packed. Then com.winnow Attention
// with precision "bf16" in an ONNX Runtime session: the same outputs as the kernel, and its attribute checked.
//
// The bound, per output element (u = 2^-24, float32's unit roundoff; the kernel's float32 sums of exact bf16
// products, in any order, of D terms miss the exact sum by at most (D + 1) u Σ|terms|):
//   - score j: |δs_j| <= ds_j = scale (D + 4) u Σ_d |q_d k_d| + 2u |s_j|  (the sum, the scale, s - max);
//   - e_j = exp(s_j - max): |δe_j| <= de_j = e_j (expm1(ds_j + ds_max) + 8u) + 1e-37  (the kernel's exp within a
//     few ulp, clamped near 1e-38);
//   - its bf16 rounding is monotone: the kernel's P_j lies in [bf16(e_j - de_j), bf16(e_j + de_j)], so it differs
//     from the reference's by at most dP_j, the width of that range (0 unless e_j is near a rounding midpoint);
//   - the sum: |δsum| <= Σ de_j + (n + 2) u Σ e_j;
//   - |δout_c| <= (Σ_j dP_j |v_jc| + (n + 4) u Σ_j P_j |v_jc|) / sum + |Σ_j P_j v_jc| / sum · 1.01 δsum / sum
//                 + 4u (|out_c| + |bias_c|).
// Rounding Q, K or V differently, a lost scale, key, tail or bias, or float32 products instead of bf16 ones all
// miss this bound by orders of magnitude.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "attention/attention.h"
#include "attention/attention_bf16.h"
#include "gemm/matmul_bf16.h"
#include "onnx/writer.h"
#include "ort_library.h"
#include "runtime/custom_ops.h"
#include "runtime/ort_runtime.h"

namespace winnow {
namespace {

using gemm::Bf16Isa;

double Bf(float x) { return gemm::Bf16ToFloat(gemm::RoundToBf16(x)); }

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

struct Case {
  size_t batch = 2, tokens = 1, heads = 2, head = 32;
  MaskKind mask = MaskKind::kNone;
  bool bias = false, packed = false;
  float q_scale = 1.5f;
};

struct Data {
  std::vector<float> qkv, bias;  // [batch, tokens, 3 · H·D] (separate: three [batch, tokens, H·D] one after another)
  std::vector<int64_t> mask;
  attention::Problem p;
};

Data Make(const Case& c, uint32_t seed, float* out) {
  Data d;
  const size_t w = c.heads * c.head, rows = c.batch * c.tokens;
  d.qkv = Random(3 * rows * w, seed, 1.0f);
  if (c.bias) d.bias = Random(3 * w, seed + 1, 0.5f);
  if (c.mask != MaskKind::kNone) d.mask = Mask(c.mask, c.batch, c.tokens, seed + 2);
  attention::Problem& p = d.p;
  if (c.packed) {
    p.q = d.qkv.data();
    p.k = p.q + w;
    p.v = p.q + 2 * w;
    p.q_stride = p.k_stride = p.v_stride = 3 * w;
    for (size_t r = 0; r < rows; ++r)
      for (size_t x = 0; x < w; ++x) d.qkv[r * 3 * w + x] *= c.q_scale;
  } else {
    p.q = d.qkv.data();
    p.k = p.q + rows * w;
    p.v = p.q + 2 * rows * w;
    p.q_stride = p.k_stride = p.v_stride = w;
    for (size_t x = 0; x < rows * w; ++x) d.qkv[x] *= c.q_scale;
  }
  p.mask = d.mask.empty() ? nullptr : d.mask.data();
  p.bias = d.bias.empty() ? nullptr : d.bias.data();
  p.out = out;
  p.out_stride = w;
  p.batch = c.batch;
  p.tokens = c.tokens;
  p.heads = c.heads;
  p.head_size = c.head;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.head));
  return d;
}

// The reference output and the bound of the header comment, per element.
void Reference(const attention::Problem& p, std::vector<double>* want, std::vector<double>* bound) {
  const size_t T = p.tokens, D = p.head_size, HD = p.heads * D;
  const double u = std::ldexp(1.0, -24);
  want->assign(p.batch * T * HD, 0.0);
  bound->assign(p.batch * T * HD, 0.0);
  std::vector<double> qb(D), s(T), ds(T), e(T), pb(T), dp(T), kb(T * D), vb(T * D), sabs(T);
  std::vector<size_t> keys;
  for (size_t b = 0; b < p.batch; ++b)
    for (size_t h = 0; h < p.heads; ++h) {
      const float* bq = p.bias ? p.bias + h * D : nullptr;
      const float* bk = p.bias ? p.bias + HD + h * D : nullptr;
      const float* bv = p.bias ? p.bias + 2 * HD + h * D : nullptr;
      keys.clear();
      for (size_t j = 0; j < T; ++j)
        if (!p.mask || p.mask[b * T + j] != 0) keys.push_back(j);
      const bool uniform = keys.empty();
      if (uniform)
        for (size_t j = 0; j < T; ++j) keys.push_back(j);
      const size_t n = keys.size();
      for (size_t j = 0; j < n; ++j) {
        const float* k = p.k + (b * T + keys[j]) * p.k_stride + h * D;
        const float* v = p.v + (b * T + keys[j]) * p.v_stride + h * D;
        for (size_t d = 0; d < D; ++d) {
          kb[j * D + d] = Bf(bk ? k[d] + bk[d] : k[d]);
          vb[j * D + d] = Bf(v[d]);
        }
      }
      for (size_t i = 0; i < T; ++i) {
        const float* q = p.q + (b * T + i) * p.q_stride + h * D;
        for (size_t d = 0; d < D; ++d) qb[d] = Bf(bq ? q[d] + bq[d] : q[d]);
        double sum = 0, dsum = 0;
        if (uniform) {
          for (size_t j = 0; j < n; ++j) pb[j] = 1.0, dp[j] = 0.0;
          sum = static_cast<double>(n);
        } else {
          double mx = -1e300;
          size_t arg = 0;
          for (size_t j = 0; j < n; ++j) {
            double dot = 0, abs = 0;
            for (size_t d = 0; d < D; ++d) {
              dot += qb[d] * kb[j * D + d];
              abs += std::abs(qb[d] * kb[j * D + d]);
            }
            s[j] = dot * p.scale;
            ds[j] = p.scale * (D + 4) * u * abs + 2 * u * std::abs(s[j]);
            if (s[j] > mx) mx = s[j], arg = j;
          }
          double esum = 0;
          for (size_t j = 0; j < n; ++j) {
            e[j] = std::exp(s[j] - mx);
            const double de = e[j] * (std::expm1(ds[j] + ds[arg]) + 8 * u) + 1e-37;
            pb[j] = Bf(static_cast<float>(e[j]));
            dp[j] = Bf(static_cast<float>(e[j] + de)) - Bf(static_cast<float>(std::max(0.0, e[j] - de)));
            sum += e[j];
            esum += e[j];
            dsum += de;
          }
          dsum += (n + 2) * u * esum;
        }
        double* o = want->data() + (b * T + i) * HD + h * D;
        double* ob = bound->data() + (b * T + i) * HD + h * D;
        for (size_t c = 0; c < D; ++c) {
          double acc = 0, abs = 0, risk = 0;
          for (size_t j = 0; j < n; ++j) {
            acc += pb[j] * vb[j * D + c];
            abs += pb[j] * std::abs(vb[j * D + c]);
            risk += dp[j] * std::abs(vb[j * D + c]);
          }
          const double bias = bv ? bv[c] : 0.0;
          o[c] = acc / sum + bias;
          ob[c] = (risk + (n + 4) * u * abs) / sum + std::abs(acc) / sum * 1.01 * dsum / sum +
                  4 * u * (std::abs(o[c]) + std::abs(bias));
        }
      }
    }
}

std::vector<Bf16Isa> Isas() {
  std::vector<Bf16Isa> out;
  for (Bf16Isa i : {Bf16Isa::kAmx, Bf16Isa::kAvx512Bf16})
    if (gemm::CpuSupportsBf16(i)) out.push_back(i);
  return out;
}

// Runs `c` on `isa` (tasks in reverse order); returns the worst |got - want| / bound and where.
double Check(Bf16Isa isa, const Case& c, uint32_t seed, std::string* where, double* worst_abs = nullptr) {
  std::vector<float> out(c.batch * c.tokens * c.heads * c.head, std::nanf(""));
  const Data d = Make(c, seed, out.data());
  for (size_t t = attention::TaskCount(d.p); t-- > 0;) attention::RunTaskBf16At(isa, d.p, t);
  std::vector<double> want, bound;
  Reference(d.p, &want, &bound);
  double worst = 0;
  if (worst_abs) *worst_abs = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::abs(out[i] - want[i]);
    const double r = std::isfinite(out[i]) ? err / bound[i] : 1e30;
    if (worst_abs && std::isfinite(out[i])) *worst_abs = std::max(*worst_abs, err);
    if (r > worst) {
      worst = r;
      char text[160];
      std::snprintf(text, sizeof text, "element %zu: %.9g vs %.9g (bound %.3g)", i, out[i], want[i], bound[i]);
      *where = text;
    }
  }
  return worst;
}

std::string Describe(Bf16Isa isa, const Case& c) {
  char text[160];
  std::snprintf(text, sizeof text, "%s batch %zu tokens %zu heads %zu head %zu mask %d bias %d packed %d",
                gemm::Bf16IsaName(isa), c.batch, c.tokens, c.heads, c.head, static_cast<int>(c.mask), c.bias,
                c.packed);
  return text;
}

TEST(AttentionBf16, EveryKernelWithinTheBoundOverShapes) {
  const std::vector<Bf16Isa> isas = Isas();
  if (isas.empty()) GTEST_SKIP() << "no bf16 instructions on this CPU";
  const size_t heads[] = {1, 2, 7, 16, 31, 32, 33, 48, 64, 65, 100, 128, 130};
  const size_t tokens[] = {1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 129, 300};
  double worst = 0;
  for (Bf16Isa isa : isas) {
    uint32_t seed = 7;
    size_t i = 0;
    for (size_t d : heads)
      for (size_t t : tokens) {
        Case c;
        c.head = d;
        c.tokens = t;
        c.heads = d > 64 && t > 100 ? 1 : 2;
        c.mask = static_cast<MaskKind>(i % 6);
        c.bias = i % 2 == 1;
        c.packed = i % 3 == 0;
        ++i;
        std::string where;
        const double r = Check(isa, c, seed += 3, &where);
        EXPECT_LE(r, 1.0) << Describe(isa, c) << ": " << where;
        worst = std::max(worst, r);
      }
  }
  std::printf("worst error / bound: %.3g\n", worst);
}

// Every mask with and without biases at the head sizes of MiniLM / e5-small (32) and bge / XLM-R (64).
TEST(AttentionBf16, EveryMaskAndBiasAtHead32And64) {
  const std::vector<Bf16Isa> isas = Isas();
  if (isas.empty()) GTEST_SKIP() << "no bf16 instructions on this CPU";
  double worst = 0;
  for (Bf16Isa isa : isas) {
    uint32_t seed = 1000;
    for (size_t d : {32, 64})
      for (size_t t : {77, 300})
        for (int m = 0; m < 6; ++m)
          for (bool bias : {false, true}) {
            Case c;
            c.batch = 3;
            c.head = d;
            c.tokens = t;
            c.heads = 2;
            c.mask = static_cast<MaskKind>(m);
            c.bias = bias;
            c.packed = m % 2 == 0;
            std::string where;
            const double r = Check(isa, c, seed += 3, &where);
            EXPECT_LE(r, 1.0) << Describe(isa, c) << ": " << where;
            worst = std::max(worst, r);
          }
  }
  std::printf("worst error / bound: %.3g\n", worst);
}

// Peaked scores (large Q): probabilities spread over many binades, most far below 1.
TEST(AttentionBf16, PeakedSoftmaxWithinTheBound) {
  const std::vector<Bf16Isa> isas = Isas();
  if (isas.empty()) GTEST_SKIP() << "no bf16 instructions on this CPU";
  for (Bf16Isa isa : isas) {
    Case c;
    c.tokens = 90;
    c.head = 64;
    c.mask = MaskKind::kHoles;
    c.bias = true;
    c.q_scale = 6.0f;
    std::string where;
    EXPECT_LE(Check(isa, c, 99, &where), 1.0) << Describe(isa, c) << ": " << where;
  }
}

// The bound is tight enough to tell bf16 from float32 operands: the float32 kernel misses the bf16 reference by
// far more than it allows, and the bf16 kernel's outputs move from the float32 kernel's.
TEST(AttentionBf16, Float32OperandsMissTheBound) {
  const std::vector<Bf16Isa> isas = Isas();
  if (isas.empty()) GTEST_SKIP() << "no bf16 instructions on this CPU";
  Case c;
  c.tokens = 70;
  c.head = 32;
  c.mask = MaskKind::kRight;
  std::vector<float> out(c.batch * c.tokens * c.heads * c.head);
  const Data d = Make(c, 5, out.data());
  for (size_t t = 0; t < attention::TaskCount(d.p); ++t) attention::RunTask(d.p, t);
  std::vector<double> want, bound;
  Reference(d.p, &want, &bound);
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(out[i] - want[i]) / bound[i]);
  EXPECT_GT(worst, 10.0);
  std::printf("float32 kernel: worst error / bound %.3g\n", worst);
}

TEST(AttentionBf16, ActiveKernelIsTheGemmsKernel) {
  const std::string name = attention::ActiveBf16KernelName();
  EXPECT_EQ(name, gemm::Bf16IsaName(gemm::ActiveBf16Isa()));
  if (name == "none") GTEST_SKIP() << "no bf16 instructions on this CPU";
  Case c;
  c.tokens = 40;
  c.mask = MaskKind::kHoles;
  c.bias = true;
  std::vector<float> a(c.batch * c.tokens * c.heads * c.head), b(a.size());
  const Data da = Make(c, 3, a.data()), db = Make(c, 3, b.data());
  for (size_t t = 0; t < attention::TaskCount(da.p); ++t) {
    attention::RunTaskBf16(da.p, t);
    attention::RunTaskBf16At(gemm::ActiveBf16Isa(), db.p, t);
  }
  EXPECT_EQ(a, b);
}

// A kernel this CPU or build lacks writes nothing (rather than raising SIGILL).
TEST(AttentionBf16, NoKernelWritesNothing) {
  Case c;
  c.tokens = 5;
  std::vector<float> out(c.batch * c.tokens * c.heads * c.head, 7.0f);
  const Data d = Make(c, 4, out.data());
  for (size_t t = 0; t < attention::TaskCount(d.p); ++t) attention::RunTaskBf16At(Bf16Isa::kNone, d.p, t);
  for (float x : out) EXPECT_EQ(x, 7.0f);
}


// ---- the operator's precision attribute in ONNX Runtime

// One com.winnow Attention node over packed Q, K, V [batch, tokens, 3 · width], a mask and the biases [3 · width].
std::string PackedModel(int64_t heads, int64_t width, const std::string& precision) {
  onnx::GraphWriter g;
  std::vector<std::string> attrs = {onnx::IntAttribute("num_heads", heads)};
  if (!precision.empty()) attrs.push_back(onnx::StringAttribute("precision", precision));
  g.Node(rt::kAttentionOp, {"QKV", "", "", "mask", "bias"}, {"Y"}, attrs, rt::kCustomDomain);
  g.Input(onnx::ValueInfo("QKV", onnx::dtype::kFloat, {{-1, "batch"}, {-1, "tokens"}, {3 * width, ""}}));
  g.Input(onnx::ValueInfo("mask", onnx::dtype::kInt64, {{-1, "batch"}, {-1, "tokens"}}));
  g.Input(onnx::ValueInfo("bias", onnx::dtype::kFloat, {{3 * width, ""}}));
  g.Output(onnx::ValueInfo("Y", onnx::dtype::kFloat, {{-1, "batch"}, {-1, "tokens"}, {width, ""}}));
  return onnx::ModelProto(g.Graph("g"), {{"", 17}, {rt::kCustomDomain, 1}});
}

class AttentionBf16Ort : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat sb;
    const std::string lib = test_support::OrtLibrary();
    ASSERT_EQ(stat(lib.c_str(), &sb), 0) << "no ONNX Runtime library at " << lib << ": run `npm run build` first";
    auto rt = rt::OrtRuntime::Get(lib);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    rt_ = *rt;
    ASSERT_NE(rt::CustomOpDomain(), nullptr);
  }
  // Runs the packed model on two threads.
  std::vector<float> Run(const std::string& model, const Data& d, const Case& c) {
    Ort::SessionOptions so;
    so.SetIntraOpNumThreads(2);
    so.Add(rt::CustomOpDomain());
    Ort::Session s(rt_->env(), model.data(), model.size(), so);
    auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    const int64_t w = static_cast<int64_t>(c.heads * c.head);
    const int64_t qkv_shape[3] = {static_cast<int64_t>(c.batch), static_cast<int64_t>(c.tokens), 3 * w};
    const int64_t mask_shape[2] = {qkv_shape[0], qkv_shape[1]};
    const int64_t bias_shape[1] = {3 * w};
    std::vector<int64_t> mask = d.mask;
    mask.resize(c.batch * c.tokens, 1);
    std::vector<float> bias = d.bias;
    bias.resize(3 * w, 0.0f);
    Ort::Value values[3] = {
        Ort::Value::CreateTensor<float>(mem, const_cast<float*>(d.qkv.data()), d.qkv.size(), qkv_shape, 3),
        Ort::Value::CreateTensor<int64_t>(mem, mask.data(), mask.size(), mask_shape, 2),
        Ort::Value::CreateTensor<float>(mem, bias.data(), bias.size(), bias_shape, 1)};
    const char* in_names[] = {"QKV", "mask", "bias"};
    const char* out_names[] = {"Y"};
    auto out = s.Run(Ort::RunOptions{nullptr}, in_names, values, 3, out_names, 1);
    const float* y = out[0].GetTensorData<float>();
    return std::vector<float>(y, y + c.batch * c.tokens * c.heads * c.head);
  }
  rt::OrtRuntime* rt_ = nullptr;
};

// precision "bf16" runs RunTaskBf16 (the outputs are the kernel's, bit for bit); absent or "float32", RunTask.
TEST_F(AttentionBf16Ort, PrecisionChoosesTheKernel) {
  Case c;
  c.batch = 3;
  c.tokens = 70;
  c.heads = 4;
  c.head = 32;
  c.mask = MaskKind::kHoles;
  c.packed = true;
  c.bias = true;
  std::vector<float> bf16(c.batch * c.tokens * c.heads * c.head), fp32(bf16.size());
  const Data d = Make(c, 77, bf16.data());
  attention::Problem p = d.p;
  for (size_t t = 0; t < attention::TaskCount(p); ++t) attention::RunTaskBf16(p, t);
  p.out = fp32.data();
  for (size_t t = 0; t < attention::TaskCount(p); ++t) attention::RunTask(p, t);
  const int64_t w = static_cast<int64_t>(c.heads * c.head);
  EXPECT_EQ(Run(PackedModel(4, w, ""), d, c), fp32);
  EXPECT_EQ(Run(PackedModel(4, w, "float32"), d, c), fp32);
  if (std::string(attention::ActiveBf16KernelName()) == "none") {
    try {
      Run(PackedModel(4, w, "bf16"), d, c);
      ADD_FAILURE() << "precision bf16 loaded on a CPU without a bf16 kernel";
    } catch (const Ort::Exception& e) {
      EXPECT_NE(std::string(e.what()).find("precision bf16 needs AMX-BF16 or AVX512-BF16"), std::string::npos)
          << e.what();
    }
    return;
  }
  const std::vector<float> got = Run(PackedModel(4, w, "bf16"), d, c);
  EXPECT_EQ(got, bf16);
  EXPECT_NE(got, fp32);
}

TEST_F(AttentionBf16Ort, UnknownPrecisionIsAnError) {
  try {
    Case c;
    c.tokens = 4;
    std::vector<float> out(c.batch * c.tokens * c.heads * c.head);
    const Data d = Make(c, 1, out.data());
    Run(PackedModel(2, 64, "fp16"), d, c);
    ADD_FAILURE() << "precision fp16 loaded";
  } catch (const Ort::Exception& e) {
    EXPECT_NE(std::string(e.what()).find(R"(precision must be "float32" or "bf16", not "fp16")"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace winnow
