#include "gemm/matmul_bf16.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "common/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace winnow::gemm {

uint16_t RoundToBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN: quiet, sign kept
  u += 0x7fffu + ((u >> 16) & 1u);  // ties to even
  return static_cast<uint16_t>(u >> 16);
}

float Bf16ToFloat(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &u, sizeof(x));
  return x;
}

const char* Bf16IsaName(Bf16Isa isa) {
  switch (isa) {
    case Bf16Isa::kNone: return "none";
    case Bf16Isa::kAvx512Bf16: return "avx512bf16";
    case Bf16Isa::kAmx: return "amx";
  }
  return "unknown";
}

namespace {

struct X86Bf16 {
  bool avx512bf16 = false, amx = false;
};

X86Bf16 DetectBf16() {
  X86Bf16 f;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (!CpuSupports(SimdLevel::kAvx512) || __get_cpuid_max(0, nullptr) < 7) return f;
  unsigned a, b, c, d;
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512bf16 = a & (1u << 5);
  __cpuid_count(7, 0, a, b, c, d);
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24);
  uint32_t xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  const bool tile_state = (xlo & (3u << 17)) == (3u << 17);  // XTILECFG, XTILEDATA
  // The A blocks are rounded with AVX512-BF16's conversion, so AMX needs it too (every AMX CPU has it).
  f.amx = f.avx512bf16 && amx_bf16 && amx_tile && tile_state;
#endif
  return f;
}

const X86Bf16& Features() {
  static const X86Bf16 f = DetectBf16();
  return f;
}

}  // namespace

bool CpuSupportsBf16(Bf16Isa isa) {
  switch (isa) {
    case Bf16Isa::kNone: return false;
    case Bf16Isa::kAvx512Bf16: return Features().avx512bf16 && internal::Avx512Bf16Kernels().block != nullptr;
    case Bf16Isa::kAmx:
      return Features().amx && internal::AmxKernels().block != nullptr && internal::AmxPermitted();
  }
  return false;
}

namespace {
// Nothing for a kernel this CPU cannot run (a tile instruction before Linux's permission would raise SIGILL).
internal::Kernels KernelsFor(Bf16Isa isa) {
  if (!CpuSupportsBf16(isa)) return {};
  return isa == Bf16Isa::kAmx ? internal::AmxKernels() : internal::Avx512Bf16Kernels();
}
}  // namespace

Bf16Isa ActiveBf16Isa() {
  static const Bf16Isa isa = [] {
    Bf16Isa cap = Bf16Isa::kAmx;
    if (const char* env = std::getenv("WINNOW_BF16_KERNEL"); env && *env) {
      const std::string_view v(env);
      if (v == "none") cap = Bf16Isa::kNone;
      else if (v == "avx512bf16") cap = Bf16Isa::kAvx512Bf16;
    }
    for (Bf16Isa i : {Bf16Isa::kAmx, Bf16Isa::kAvx512Bf16})
      if (static_cast<int>(i) <= static_cast<int>(cap) && CpuSupportsBf16(i)) return i;
    return Bf16Isa::kNone;
  }();
  return isa;
}

PackedBf16Weights::PackedBf16Weights(const float* b, size_t k, size_t n)
    : k_(k), n_(n), k_pad_((k + kBlockK - 1) / kBlockK * kBlockK) {
  data_.assign(panels() * k_pad_ * kPanelCols, 0);
  for (size_t kk = 0; kk < k; ++kk) {
    const float* row = b + kk * n;
    for (size_t j = 0; j < n; ++j) {
      const size_t p = j / kPanelCols, col = j % kPanelCols;
      data_[p * k_pad_ * kPanelCols + (kk / 2) * 2 * kPanelCols + col * 2 + (kk & 1)] = RoundToBf16(row[j]);
    }
  }
}

Bf16Gemm PlanBf16Gemm(Bf16Isa isa, const PackedBf16Weights& b, const float* a, const float* bias, float* c, size_t m,
                      size_t min_tasks, const Epilogue& epilogue) {
  Bf16Gemm g;
  g.epilogue = epilogue;
  g.isa = isa;
  g.b = &b;
  g.a = a;
  g.bias = bias;
  g.c = c;
  g.m = m;
  g.row_blocks = (m + kBlockRows - 1) / kBlockRows;
  const TaskSplit t = SplitTasks(g.row_blocks, b.panels(), min_tasks, epilogue);
  g.col_groups = t.col_groups;
  g.panels_per_group = t.panels_per_group;
  return g;
}

namespace {

struct StoreCtx {
  const Bf16Gemm* g;
  size_t row0, rows, first_panel;
  const float* bias;  // added to the sums, or nullptr (none, or the epilogue's)
};

// A block's valid rows and columns, plus the bias, into C.
void StoreBlock(const void* ctx, size_t i, const float* block) {
  const StoreCtx& s = *static_cast<const StoreCtx*>(ctx);
  const size_t n = s.g->b->n();
  const size_t col0 = (s.first_panel + i) * kPanelCols;
  const size_t cols = std::min(kPanelCols, n - col0);
  const float* bias = s.bias ? s.bias + col0 : nullptr;
  for (size_t r = 0; r < s.rows; ++r) {
    float* dst = s.g->c + (s.row0 + r) * n + col0;
    const float* src = block + r * kPanelCols;
    if (bias) {
      for (size_t j = 0; j < cols; ++j) dst[j] = src[j] + bias[j];
    } else {
      std::memcpy(dst, src, cols * sizeof(float));
    }
  }
}

}  // namespace

void RunBf16Task(const Bf16Gemm& g, size_t task) {
  const internal::Kernels kern = KernelsFor(g.isa);
  if (!kern.block || task >= g.tasks()) return;
  const size_t rb = task / g.col_groups, cg = task % g.col_groups;
  const size_t row0 = rb * kBlockRows, rows = std::min(kBlockRows, g.m - row0);
  const size_t first = cg * g.panels_per_group;
  const size_t count = std::min(g.panels_per_group, g.b->panels() - first);
  const size_t k = g.b->k(), k_pad = g.b->k_pad();
  thread_local CacheLineVector<uint16_t> scratch;  // [kBlockRows, k_pad] bf16, 64-byte aligned
  if (scratch.size() < kBlockRows * k_pad) scratch.assign(kBlockRows * k_pad, 0);
  kern.convert(g.a + row0 * k, rows, k, scratch.data(), k_pad);
  const bool epilogue = g.epilogue.kind != Epilogue::Kind::kNone;
  const float* sum_bias = epilogue ? nullptr : g.bias;
  StoreCtx ctx{&g, row0, rows, first, sum_bias};
  const size_t n = g.b->n(), col0 = first * kPanelCols;
  const internal::BlockOut out{g.c + row0 * n + col0, n, sum_bias ? sum_bias + col0 : nullptr, n - col0, &StoreBlock,
                               &ctx};
  kern.block(scratch.data(), rows, k_pad, g.b->panel(first), k_pad * kPanelCols, count, out);
  if (epilogue) ApplyEpilogue(g.epilogue, g.bias, g.c, n, row0, rows, col0, std::min(count * kPanelCols, n - col0));
}

void MatMulBf16(Bf16Isa isa, const PackedBf16Weights& b, const float* a, const float* bias, float* c, size_t m,
                const Epilogue& epilogue) {
  const Bf16Gemm g = PlanBf16Gemm(isa, b, a, bias, c, m, 16, epilogue);
  for (size_t t = 0; t < g.tasks(); ++t) RunBf16Task(g, t);
}

void MatMulBf16Reference(const float* a, const float* b, const float* bias, float* c, size_t m, size_t k, size_t n) {
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (size_t kk = 0; kk < k; ++kk) sum += Bf16ToFloat(RoundToBf16(a[i * k + kk])) * Bf16ToFloat(RoundToBf16(b[kk * n + j]));
      c[i * n + j] = bias ? sum + bias[j] : sum;
    }
}

}  // namespace winnow::gemm
