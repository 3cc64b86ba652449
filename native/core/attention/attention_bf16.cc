#include "attention/attention_bf16.h"

namespace winnow::attention {
namespace {

// Nothing for a kernel this CPU cannot run (a tile instruction before Linux's permission would raise SIGILL).
internal::Bf16Products ProductsFor(gemm::Bf16Isa isa) {
  if (!internal::Bf16Task() || !gemm::CpuSupportsBf16(isa)) return {};
  if (isa == gemm::Bf16Isa::kAmx) return internal::AmxProducts();
  if (isa == gemm::Bf16Isa::kAvx512Bf16) return internal::Avx512Bf16Products();
  return {};
}

const internal::Bf16Products& Active() {
  static const internal::Bf16Products products = ProductsFor(gemm::ActiveBf16Isa());
  return products;
}

}  // namespace

void RunTaskBf16At(gemm::Bf16Isa isa, const Problem& p, size_t task) {
  if (p.Windowed() || p.rel_index || p.query_mask || p.rot_cos) return RunTask(p, task);
  const internal::Bf16Products k = ProductsFor(isa);
  if (k.scores && k.pv && task < TaskCount(p)) internal::Bf16Task()(k, p, task);
}

void RunTaskBf16(const Problem& p, size_t task) {
  if (p.Windowed() || p.rel_index || p.query_mask || p.rot_cos) return RunTask(p, task);
  const internal::Bf16Products& k = Active();
  if (k.scores && k.pv && task < TaskCount(p)) internal::Bf16Task()(k, p, task);
}

const char* ActiveBf16KernelName() { return Active().scores ? gemm::Bf16IsaName(gemm::ActiveBf16Isa()) : "none"; }

}  // namespace winnow::attention
