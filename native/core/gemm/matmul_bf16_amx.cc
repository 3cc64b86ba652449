// matmul_bf16.h on AMX: tdpbf16ps into 2 x 2 tiles of 16 x 16 floats (32 rows x 32 columns) per step, A as two
// 16 x 32 bf16 tiles, B as two 16-pair x 16-column tiles of the packed panel.
#include "gemm/matmul_bf16.h"
#include "gemm/amx_tiles.h"

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#define WINNOW_AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace winnow::gemm::internal {

void ConvertRowsAvx512Bf16(const float* a, size_t rows, size_t k, uint16_t* out, size_t k_pad);

bool AmxPermitted() {
  // Linux hands out the tile data state only on request (else the first tile instruction raises SIGILL).
  static const bool permitted = [] {
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return permitted;
}

namespace {

WINNOW_AMX_TARGET void Block(const uint16_t* a, size_t rows, size_t k_pad, const uint16_t* first, size_t panel_stride,
                             size_t count, const BlockOut& out) {
  // Configured on every call: another library on this thread (ONNX Runtime's int8 kernels) may have loaded its own.
  const TileConfig cfg = FullTiles();
  _tile_loadconfig(&cfg);
  alignas(64) float block[kBlockRows * kPanelCols];
  const size_t a_stride = k_pad * sizeof(uint16_t), b_stride = 2 * kPanelCols * sizeof(uint16_t);
  const bool two = rows > 16;
  const uint16_t* a1 = a + 16 * k_pad;
  for (size_t p = 0; p < count; ++p) {
    const uint16_t* panel = first + p * panel_stride;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t kb = 0; kb < k_pad; kb += kBlockK) {
      const uint16_t* b = panel + kb * kPanelCols;  // kb / 2 pair rows of 2 * kPanelCols
      _tile_loadd(4, a + kb, a_stride);
      _tile_loadd(6, b, b_stride);
      _tile_loadd(7, b + 16 * 2, b_stride);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      if (two) {
        _tile_loadd(5, a1 + kb, a_stride);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
    }
    if (rows == kBlockRows && out.cols >= (p + 1) * kPanelCols) {
      // A whole block: the tiles straight into C, then the bias added to its rows while they are in cache.
      float* c = out.c + p * kPanelCols;
      const size_t ldc = out.ldc, c_stride = ldc * sizeof(float);
      _tile_stored(0, c, c_stride);
      _tile_stored(1, c + 16, c_stride);
      _tile_stored(2, c + 16 * ldc, c_stride);
      _tile_stored(3, c + 16 * ldc + 16, c_stride);
      if (out.bias) {
        const __m512 b0 = _mm512_loadu_ps(out.bias + p * kPanelCols), b1 = _mm512_loadu_ps(out.bias + p * kPanelCols + 16);
        for (size_t r = 0; r < kBlockRows; ++r) {
          float* row = c + r * ldc;
          _mm512_storeu_ps(row, _mm512_add_ps(_mm512_loadu_ps(row), b0));
          _mm512_storeu_ps(row + 16, _mm512_add_ps(_mm512_loadu_ps(row + 16), b1));
        }
      }
      continue;
    }
    const size_t c_stride = kPanelCols * sizeof(float);
    _tile_stored(0, block, c_stride);
    _tile_stored(1, block + 16, c_stride);
    if (two) {
      _tile_stored(2, block + 16 * kPanelCols, c_stride);
      _tile_stored(3, block + 16 * kPanelCols + 16, c_stride);
    }
    out.store(out.ctx, p, block);
  }
  _tile_release();
}

}  // namespace

Kernels AmxKernels() { return {&ConvertRowsAvx512Bf16, &Block}; }

}  // namespace winnow::gemm::internal

#else

namespace winnow::gemm::internal {
bool AmxPermitted() { return false; }
Kernels AmxKernels() { return {}; }
}  // namespace winnow::gemm::internal

#endif
