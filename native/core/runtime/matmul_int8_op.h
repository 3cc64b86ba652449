// com.winnow MatMulInt8: inputs (A float32 [..., K], W int8 [K, N] constant initializer, W_scale float32 [N] constant
// initializer, bias float32 [N]?, then the layernorm epilogue's skip?, gamma?, beta?), attribute epilogue
// (runtime/epilogue_op.h: "none", the default; "gelu"; "gelu_tanh"; "layernorm" with epsilon, exact); output
// float32 [..., N] = epilogue(A W + bias) with A quantized per row to int8 as the product runs and W dequantized
// per column by W_scale (the arithmetic: gemm/matmul_int8.h). W and W_scale are read once, when the kernel is
// created, and packed for the process's kernel. Written by the load-time rewrite for quantize 'int8' on CPUs where
// Winnow's int8 kernel runs (AMX-INT8, AVX512-VNNI or AVX2; graph_rewrite.h RewriteOptions::int8_amx); creating it
// on another CPU fails.
#pragma once

#include "runtime/ort_runtime.h"

namespace winnow::rt {

inline constexpr const char kMatMulInt8Op[] = "MatMulInt8";

// The operator, for the com.winnow domain (one instance for the process).
const OrtCustomOp* MatMulInt8Op();

}  // namespace winnow::rt
