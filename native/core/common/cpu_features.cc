#include "common/cpu_features.h"

#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace winnow {
namespace {

#if defined(__x86_64__) || defined(__i386__)
struct X86Features {
  bool avx2 = false;    // AVX2 + FMA + F16C with YMM state enabled by the OS
  bool avx512 = false;  // AVX-512 F/BW/VL/DQ with opmask/ZMM state enabled by the OS
};

uint64_t ReadXcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

X86Features DetectX86() {
  X86Features f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12), f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = ReadXcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31);
  f.avx2 = ymm_state && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_state && avx512f && avx512dq && avx512bw && avx512vl;
  return f;
}

const X86Features& X86() {
  static const X86Features f = DetectX86();
  return f;
}
#endif

}  // namespace

const char* SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kNeon: return "neon";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "unknown";
}

std::optional<SimdLevel> ParseSimdLevel(std::string_view name) {
  for (SimdLevel l : kAllSimdLevels) {
    if (name == SimdLevelName(l)) return l;
  }
  return std::nullopt;
}

bool CpuSupports(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return true;
    case SimdLevel::kNeon:
#if defined(__aarch64__)
      return true;
#else
      return false;
#endif
    case SimdLevel::kAvx2:
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
      return X86().avx2;
#else
      return false;
#endif
    case SimdLevel::kAvx512:
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
      return X86().avx512;
#else
      return false;
#endif
  }
  return false;
}

SimdLevel BestSupportedSimdLevel() {
  for (SimdLevel l : {SimdLevel::kAvx512, SimdLevel::kAvx2, SimdLevel::kNeon}) {
    if (CpuSupports(l)) return l;
  }
  return SimdLevel::kScalar;
}

SimdLevel ClampToSupported(SimdLevel requested) {
  if (CpuSupports(requested)) return requested;
  if (requested == SimdLevel::kAvx512 && CpuSupports(SimdLevel::kAvx2)) return SimdLevel::kAvx2;
  return SimdLevel::kScalar;
}

SimdLevel ActiveSimdLevel() {
  static const SimdLevel level = [] {
    const char* env = std::getenv("WINNOW_SIMD");
    if (env != nullptr && *env != '\0') {
      if (std::optional<SimdLevel> forced = ParseSimdLevel(env)) return ClampToSupported(*forced);
    }
    return BestSupportedSimdLevel();
  }();
  return level;
}

}  // namespace winnow
