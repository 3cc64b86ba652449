// AMX tile configuration shared by the bf16 GEMM (matmul_bf16_amx.cc) and the bf16 attention
// (attention/attention_bf16_amx.cc). Linux's permission for tile data: matmul_bf16.h internal::AmxPermitted.
#pragma once

#include <cstdint>

namespace winnow::gemm::internal {

// The 64-byte operand of ldtilecfg, palette 1.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles 0..7 all 16 rows x 64 bytes (16 x 16 floats, 16 x 32 bf16, or 16 pair rows x 16 bf16 pairs).
inline TileConfig FullTiles() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  return cfg;
}

}  // namespace winnow::gemm::internal
