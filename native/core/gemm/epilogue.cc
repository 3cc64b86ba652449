#include "gemm/epilogue.h"

namespace winnow::gemm {

void ApplyEpilogue(const Epilogue& e, const float* bias, float* c, size_t n, size_t row0, size_t rows, size_t col0,
                   size_t cols) {
  if (e.kind == Epilogue::Kind::kGelu) {
    gelu::Rows r;
    r.bias = bias ? bias + col0 : nullptr;
    r.cols = cols;
    r.form = e.form;
    if (cols == n) {  // whole rows: one call over the block
      r.input = r.output = c + row0 * n;
      gelu::Gelu(r, 0, rows);
    } else {
      for (size_t i = 0; i < rows; ++i) {
        r.input = r.output = c + (row0 + i) * n + col0;
        gelu::Gelu(r, 0, 1);
      }
    }
  } else if (e.kind == Epilogue::Kind::kLayerNorm) {
    layernorm::Rows r = e.norm;
    r.input = r.output = c;
    r.bias = bias;
    r.sum = nullptr;
    r.cols = n;
    layernorm::LayerNorm(r, row0, row0 + rows);
  }
}

}  // namespace winnow::gemm
