// attention_bf16.h's products on AMX: tdpbf16ps into 2 x 2 tiles of 16 x 16 floats (32 rows x 32 keys or head
// columns) per step, the left operand as two 16 x 32 bf16 tiles, the right one as two 16-pair x 16-column tiles.
#include "attention/attention_bf16.h"

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "gemm/amx_tiles.h"

#define WINNOW_AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace winnow::attention::internal {
namespace {

// c [rows16, n] (row stride c_ld floats) = a [rows16, k] (row stride a_ld bf16) times b, whose pair row i
// (k / 2 of them, b_ld pairs apart) holds n columns; k a multiple of 32, n of 16.
WINNOW_AMX_TARGET void Product(const uint16_t* a, size_t a_ld, size_t rows16, size_t k, const uint32_t* b, size_t b_ld,
                               size_t n, float* c, size_t c_ld) {
  // Configured on every call: another library on this thread (ONNX Runtime's int8 kernels) may have loaded its own.
  const gemm::internal::TileConfig cfg = gemm::internal::FullTiles();
  _tile_loadconfig(&cfg);
  const size_t as = a_ld * sizeof(uint16_t), bs = b_ld * sizeof(uint32_t), cs = c_ld * sizeof(float);
  for (size_t j0 = 0; j0 < n; j0 += 32) {
    const bool two_cols = j0 + 16 < n;
    for (size_t r0 = 0; r0 < rows16; r0 += 32) {
      const bool two_rows = r0 + 16 < rows16;
      const uint16_t* a0 = a + r0 * a_ld;
      const uint16_t* a1 = a0 + 16 * a_ld;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (size_t kb = 0; kb < k; kb += 32) {
        const uint32_t* bk = b + kb / 2 * b_ld + j0;
        _tile_loadd(4, a0 + kb, as);
        _tile_loadd(6, bk, bs);
        _tile_dpbf16ps(0, 4, 6);
        if (two_cols) {
          _tile_loadd(7, bk + 16, bs);
          _tile_dpbf16ps(1, 4, 7);
        }
        if (two_rows) {
          _tile_loadd(5, a1 + kb, as);
          _tile_dpbf16ps(2, 5, 6);
          if (two_cols) _tile_dpbf16ps(3, 5, 7);
        }
      }
      float* c0 = c + r0 * c_ld + j0;
      _tile_stored(0, c0, cs);
      if (two_cols) _tile_stored(1, c0 + 16, cs);
      if (two_rows) {
        _tile_stored(2, c0 + 16 * c_ld, cs);
        if (two_cols) _tile_stored(3, c0 + 16 * c_ld + 16, cs);
      }
    }
  }
  _tile_release();
}

WINNOW_AMX_TARGET void Scores(const uint16_t* q, size_t rows16, size_t dp, const uint32_t* kt, size_t np, float* s) {
  Product(q, dp, rows16, dp, kt, np, np, s, np);
}

WINNOW_AMX_TARGET void Pv(const uint16_t* p, size_t rows16, size_t np, const uint32_t* vt, size_t dv, float* out) {
  Product(p, np, rows16, np, vt, dv, dv, out, dv);
}

}  // namespace

Bf16Products AmxProducts() { return {&Scores, &Pv}; }

}  // namespace winnow::attention::internal

#else

namespace winnow::attention::internal {
Bf16Products AmxProducts() { return {}; }
}  // namespace winnow::attention::internal

#endif
