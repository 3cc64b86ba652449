// com.winnow MatMulBf16: inputs (A float32 [..., K], B float32 [K, N] constant initializer, bias float32 [N]?);
// output float32 [..., N] = A B + bias, with A and B rounded to bfloat16 and the products summed in float32
// (gemm/matmul_bf16.h). B is read once, when the kernel is created, rounded and packed; the session's float32 copy
// is not read again. Written by the load-time rewrite for dtype 'bf16' (graph_rewrite.h RewriteOptions::bf16).
// Attribute `epilogue` takes in the node that followed the product (gemm::Epilogue, the same arithmetic): "none"
// (the default); "gelu" / "gelu_tanh": gelu(A B + bias), com.winnow BiasGelu's two forms; "layernorm": the norm of
// (A B + bias) + skip with inputs (skip?, gamma, beta?) after the bias and attributes epsilon (default 1e-5) and
// exact (default 1), com.winnow LayerNorm's.
#pragma once

#include "runtime/ort_runtime.h"

namespace winnow::rt {

inline constexpr const char kMatMulBf16Op[] = "MatMulBf16";

// The operator, for the com.winnow domain (one instance for the process).
const OrtCustomOp* MatMulBf16Op();

}  // namespace winnow::rt
