// Run-time CPU feature detection and the process-wide SIMD level used by the pooling kernels.
//
// The level is chosen once: the best level this CPU (and OS, for AVX / AVX-512 register state)
// supports, or a lower one forced with WINNOW_SIMD=scalar|neon|avx2|avx512. A forced level the
// CPU cannot run falls back downwards (avx512 -> avx2 -> scalar, neon -> scalar).
#pragma once

#include <optional>
#include <string_view>

namespace winnow {

enum class SimdLevel : int { kScalar = 0, kNeon = 1, kAvx2 = 2, kAvx512 = 3 };

inline constexpr SimdLevel kAllSimdLevels[] = {SimdLevel::kScalar, SimdLevel::kNeon, SimdLevel::kAvx2,
                                               SimdLevel::kAvx512};

// "scalar", "neon", "avx2", "avx512".
const char* SimdLevelName(SimdLevel level);
std::optional<SimdLevel> ParseSimdLevel(std::string_view name);

// True when this binary has kernels for `level` and this CPU + OS can run them.
//   avx2:   AVX2 + FMA + F16C, OS saves YMM state (XCR0 bits 1,2).
//   avx512: the above + AVX-512 F/BW/VL/DQ, OS saves opmask + ZMM state (XCR0 bits 5,6,7).
//   neon:   any aarch64.
bool CpuSupports(SimdLevel level);
SimdLevel BestSupportedSimdLevel();

// The level in force for this process (WINNOW_SIMD read once, then cached).
SimdLevel ActiveSimdLevel();

// Resolves a requested level to one this CPU can run (downward fallback described above).
SimdLevel ClampToSupported(SimdLevel requested);

}  // namespace winnow
