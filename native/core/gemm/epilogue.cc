#include "gemm/epilogue.h"

#include <algorithm>

namespace winnow::gemm {

TaskSplit SplitTasks(size_t row_blocks, size_t panels, size_t min_tasks, const Epilogue& e) {
  TaskSplit t;
  if (row_blocks == 0 || panels == 0) return t;
  if (e.kind == Epilogue::Kind::kLayerNorm) min_tasks = 1;
  const size_t want = std::max<size_t>(1, (min_tasks + row_blocks - 1) / row_blocks);
  t.panels_per_group = std::max<size_t>(1, panels / want);
  t.col_groups = (panels + t.panels_per_group - 1) / t.panels_per_group;
  return t;
}

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
