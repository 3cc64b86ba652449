#include "gemm/matmul_int8.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

#include "common/cpu_features.h"
#include "gemm/matmul_bf16.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace winnow::gemm {

const char* Int8IsaName(Int8Isa isa) {
  switch (isa) {
    case Int8Isa::kNone: return "none";
    case Int8Isa::kAmx: return "amx";
    case Int8Isa::kVnni: return "vnni";
    case Int8Isa::kAvx2: return "avx2";
  }
  return "unknown";
}

namespace {

// What the CPU and OS offer the int8 kernels, from CPUID leaf 7 (sub-leaves 0 and 1).
struct Int8Features {
  bool amx = false;       // AMX-TILE and AMX-INT8, with the OS's tile state
  bool vnni = false;      // AVX512-VNNI
  bool avx_vnni = false;  // AVX-VNNI (the VEX form: Intel Alder Lake and later)
};

Int8Features DetectInt8() {
  Int8Features f;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (!CpuSupports(SimdLevel::kAvx2) || __get_cpuid_max(0, nullptr) < 7) return f;
  unsigned a, b, c, d;
  __cpuid_count(7, 1, a, b, c, d);
  f.avx_vnni = a & (1u << 4);
  if (!CpuSupports(SimdLevel::kAvx512)) return f;
  __cpuid_count(7, 0, a, b, c, d);
  uint32_t xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  const bool tile_state = (xlo & (3u << 17)) == (3u << 17);  // XTILECFG, XTILEDATA
  f.amx = (d & (1u << 25)) && (d & (1u << 24)) && tile_state;  // AMX-INT8, AMX-TILE
  f.vnni = c & (1u << 11);
#endif
  return f;
}

internal::Int8Kernels KernelsOf(Int8Isa isa) {
  if (isa == Int8Isa::kAmx) return internal::AmxInt8Kernels();
  if (isa == Int8Isa::kVnni) return internal::VnniInt8Kernels();
  if (isa == Int8Isa::kAvx2) return internal::Avx2Int8Kernels();
  return {};
}

const Int8Features& Features() {
  static const Int8Features cpu = DetectInt8();
  return cpu;
}

}  // namespace

bool CpuSupportsInt8(Int8Isa isa) {
  const Int8Features& cpu = Features();
  const internal::Int8Kernels k = KernelsOf(isa);
  switch (isa) {
    case Int8Isa::kNone: return false;
    case Int8Isa::kAmx: return cpu.amx && k.block != nullptr && internal::AmxPermitted();
    case Int8Isa::kVnni: return cpu.vnni && k.block != nullptr && k.quantize != nullptr;
    case Int8Isa::kAvx2: return CpuSupports(SimdLevel::kAvx2) && k.block != nullptr;
  }
  return false;
}

bool OnnxRuntimeInt8Saturates() {
  const Int8Features& f = Features();
  return CpuSupports(SimdLevel::kAvx2) && !f.amx && !f.vnni && !f.avx_vnni;
}

Int8Isa ActiveInt8Isa() {
  static const Int8Isa isa = [] {
    const char* env = std::getenv("WINNOW_INT8_KERNEL");
    const std::string_view want = env ? env : "";
    if (want == "onnxruntime") return Int8Isa::kNone;
    if (want == "vnni") return CpuSupportsInt8(Int8Isa::kVnni) ? Int8Isa::kVnni : Int8Isa::kNone;
    if (want == "avx2") return CpuSupportsInt8(Int8Isa::kAvx2) ? Int8Isa::kAvx2 : Int8Isa::kNone;
    if (CpuSupportsInt8(Int8Isa::kAmx)) return Int8Isa::kAmx;
    // Measured on Zen 4: as fast as DynamicQuantizeMatMul, with per-row activation scales (docs/benchmark.md).
    if (CpuSupportsInt8(Int8Isa::kVnni)) return Int8Isa::kVnni;
    // Without any VNNI, ONNX Runtime's u8 x s8 kernel adds products in int16 and can saturate; the AVX2 kernel cannot.
    if (OnnxRuntimeInt8Saturates() && CpuSupportsInt8(Int8Isa::kAvx2)) return Int8Isa::kAvx2;
    return Int8Isa::kNone;
  }();
  return isa;
}

PackedInt8Weights::PackedInt8Weights(const int8_t* b, const float* scale, size_t k, size_t n, Int8Isa isa)
    : k_(k), n_(n), k_pad_((k + kInt8BlockK - 1) / kInt8BlockK * kInt8BlockK), wide_(isa == Int8Isa::kAvx2) {
  data_.assign(panels() * panel_bytes(), 0);
  scale_.assign(panels() * kInt8PanelCols, 0.0f);
  col_sum_.assign(panels() * kInt8PanelCols, 0);
  std::memcpy(scale_.data(), scale, n * sizeof(float));
  for (size_t kk = 0; kk < k; ++kk) {
    const int8_t* row = b + kk * n;
    for (size_t j = 0; j < n; ++j) {
      const size_t p = j / kInt8PanelCols, col = j % kInt8PanelCols;
      if (wide_) {
        int16_t* panel = reinterpret_cast<int16_t*>(data_.data() + p * panel_bytes());
        panel[(kk / 2) * 2 * kInt8PanelCols + col * 2 + (kk & 1)] = row[j];
      } else {
        data_[p * panel_bytes() + (kk / 4) * 4 * kInt8PanelCols + col * 4 + (kk & 3)] = row[j];
      }
      col_sum_[j] += row[j];
    }
  }
}

Epilogue GeluEpilogue(Activation activation) {
  Epilogue e;
  if (activation == Activation::kNone) return e;
  e.kind = Epilogue::Kind::kGelu;
  e.form = activation == Activation::kGeluTanh ? gelu::Form::kTanh : gelu::Form::kErf;
  return e;
}

Int8Gemm PlanInt8Gemm(Int8Isa isa, const PackedInt8Weights& b, const float* a, const float* bias, float* c, size_t m,
                      Activation activation, size_t min_tasks) {
  return PlanInt8Gemm(isa, b, a, bias, c, m, GeluEpilogue(activation), min_tasks);
}

Int8Gemm PlanInt8Gemm(Int8Isa isa, const PackedInt8Weights& b, const float* a, const float* bias, float* c, size_t m,
                      const Epilogue& epilogue, size_t min_tasks) {
  Int8Gemm g;
  g.isa = isa;
  g.b = &b;
  g.a = a;
  g.bias = bias;
  g.c = c;
  g.m = m;
  g.epilogue = epilogue;
  g.row_blocks = (m + kInt8BlockRows - 1) / kInt8BlockRows;
  const TaskSplit t = SplitTasks(g.row_blocks, b.panels(), min_tasks, epilogue);
  g.col_groups = t.col_groups;
  g.panels_per_group = t.panels_per_group;
  return g;
}

namespace internal {
int8_t* QuantizeScratch(size_t k_pad) {
  thread_local CacheLineVector<int8_t> scratch;  // [kInt8BlockRows, k_pad]
  if (scratch.size() < kInt8BlockRows * k_pad) scratch.assign(kInt8BlockRows * k_pad, 0);
  return scratch.data();
}
}  // namespace internal

void RunInt8Task(const Int8Gemm& g, size_t task) {
  if (!CpuSupportsInt8(g.isa) || task >= g.tasks() || g.b->wide() != (g.isa == Int8Isa::kAvx2)) return;
  const internal::Int8Kernels kern = KernelsOf(g.isa);
  const size_t rb = task / g.col_groups, cg = task % g.col_groups;
  const size_t row0 = rb * kInt8BlockRows, rows = std::min(kInt8BlockRows, g.m - row0);
  const size_t first = cg * g.panels_per_group;
  const size_t count = std::min(g.panels_per_group, g.b->panels() - first);
  const size_t k = g.b->k(), k_pad = g.b->k_pad(), n = g.b->n();
  int8_t* scratch = internal::QuantizeScratch(k_pad);
  float row_scale[kInt8BlockRows];
  kern.quantize(g.a + row0 * k, rows, k, scratch, k_pad, row_scale);
  internal::Int8BlockArgs args;
  args.a = scratch;
  args.rows = rows;
  args.k_pad = k_pad;
  args.row_scale = row_scale;
  args.first = g.b->panel(first);
  args.panel_stride = g.b->panel_bytes();
  args.count = count;
  args.col_scale = g.b->scale() + first * kInt8PanelCols;
  args.col_sum = g.b->col_sum() + first * kInt8PanelCols;
  args.bias = g.bias ? g.bias + first * kInt8PanelCols : nullptr;
  args.n_left = n - first * kInt8PanelCols;
  args.c = g.c + row0 * n + first * kInt8PanelCols;
  args.ldc = n;
  // With an epilogue, the bias is its (added as the separate BiasGelu or LayerNorm adds it: the same bits).
  const bool epilogue = g.epilogue.kind != Epilogue::Kind::kNone;
  if (epilogue) args.bias = nullptr;
  kern.block(args);
  // The epilogue over the finished rows while they are in cache.
  if (epilogue)
    ApplyEpilogue(g.epilogue, g.bias, g.c, n, row0, rows, first * kInt8PanelCols,
                  std::min(count * kInt8PanelCols, args.n_left));
}

void MatMulInt8(Int8Isa isa, const PackedInt8Weights& b, const float* a, const float* bias, float* c, size_t m,
                Activation activation) {
  const Int8Gemm g = PlanInt8Gemm(isa, b, a, bias, c, m, activation);
  for (size_t t = 0; t < g.tasks(); ++t) RunInt8Task(g, t);
}

float QuantizeRowReference(const float* a, size_t k, int8_t* q) {
  float amax = 0.0f;
  bool finite = true;
  for (size_t kk = 0; kk < k; ++kk) {
    if (!std::isfinite(a[kk])) finite = false;
    amax = std::max(amax, std::fabs(a[kk]));
  }
  std::memset(q, 0, k);
  if (!finite) return std::numeric_limits<float>::quiet_NaN();
  if (amax == 0.0f) return 0.0f;
  const float inv = std::min(127.0f / amax, FLT_MAX);
  for (size_t kk = 0; kk < k; ++kk) {
    const float r = std::nearbyint(a[kk] * inv);
    q[kk] = static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
  }
  return amax / 127.0f;
}

void MatMulInt8Reference(const float* a, const int8_t* b, const float* scale, const float* bias, float* c, size_t m,
                         size_t k, size_t n, Activation activation) {
  std::vector<int8_t> q(k);
  for (size_t i = 0; i < m; ++i) {
    const float s = QuantizeRowReference(a + i * k, k, q.data());
    for (size_t j = 0; j < n; ++j) {
      int32_t acc = 0;
      for (size_t kk = 0; kk < k; ++kk) acc += static_cast<int32_t>(q[kk]) * static_cast<int32_t>(b[kk * n + j]);
      // With an activation the bias goes to the GELU (BiasGelu's x + bias), not into the fma.
      const float b0 = bias && activation == Activation::kNone ? bias[j] : 0.0f;
      c[i * n + j] = std::fma(static_cast<float>(acc), s * scale[j], b0);
    }
  }
  if (activation != Activation::kNone && m > 0) {
    gelu::Rows r;
    r.input = c;
    r.output = c;
    r.bias = bias;
    r.cols = n;
    r.form = activation == Activation::kGeluTanh ? gelu::Form::kTanh : gelu::Form::kErf;
    gelu::Gelu(r, 0, m);
  }
}

}  // namespace winnow::gemm
