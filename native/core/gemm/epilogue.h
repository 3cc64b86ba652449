// The node after a linear layer, applied by the GEMM to the rows it has just written (gemm/matmul_bf16.h; the int8 GEMM too).
#pragma once

#include <cstddef>

#include "gelu/gelu.h"
#include "layernorm/layer_norm.h"

namespace winnow::gemm {

// What the task that wrote rows of C applies to them while they are in cache, in place of a node after the product
// (the same code as that node's, so the same bits): the bias then goes in here, not into the sums.
struct Epilogue {
  enum class Kind { kNone, kGelu, kLayerNorm } kind = Kind::kNone;
  gelu::Form form = gelu::Form::kErf;  // kGelu: C = gelu(C + bias), com.winnow BiasGelu's arithmetic
  // kLayerNorm: C = the norm of (C + bias) + skip, com.winnow LayerNorm's; its skip, skip_rows, gamma, beta,
  // epsilon and exact are taken from here (input, output, bias and cols are the product's).
  layernorm::Rows norm;
};

// How a product of `row_blocks` blocks of rows by `panels` panels is split into tasks: when the row blocks are
// fewer than `min_tasks`, the panels too (each group then prepares its rows of A again), unless `e` needs whole
// rows (a layer norm).
struct TaskSplit {
  size_t col_groups = 0, panels_per_group = 0;
};
TaskSplit SplitTasks(size_t row_blocks, size_t panels, size_t min_tasks, const Epilogue& e);

// Applies `e` to rows [row0, row0 + rows), columns [col0, col0 + cols) of c (row stride n); `bias` from column 0.
// kLayerNorm needs col0 = 0 and cols = n.
void ApplyEpilogue(const Epilogue& e, const float* bias, float* c, size_t n, size_t row0, size_t rows, size_t col0,
                   size_t cols);

}  // namespace winnow::gemm
