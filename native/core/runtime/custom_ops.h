// Winnow's own ONNX Runtime operators (CPU), registered in every session's options under kCustomDomain.
//
// com.winnow LayerNorm: inputs (input, skip?, gamma, beta?, bias?), attributes epsilon (float, default 1e-5) and
// exact (int, default 1; 0: the faster two-pass arithmetic of layernorm::Rows::exact, which graphs Winnow builds use);
// outputs (output, sum?). Normalizes the last axis of (input + bias) + skip (skip broadcast down the rows when it
// has fewer, e.g. [1, S, H] under [B, S, H]; without a bias either operand may be the larger), exactly as ONNX
// Runtime 1.29's CPU LayerNormalization kernel would normalize Add(Add(input, bias), skip), bit for bit, but
// vectorized across rows (layernorm/layer_norm.h). `bias` [H] is the preceding linear layer's (graphs Winnow builds
// pass the MatMul's product as input). `sum` is that sum, for pre-norm models that read it again. Float32 only.
//
// com.winnow BiasGelu: inputs (input, bias?), attribute approximate ("none", the default: 0.5·x·(1 + erf(x/√2)); or
// "tanh": 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), as ONNX's Gelu); output gelu(input + bias), input's shape, bias
// [last axis] (gelu/gelu.h). One operator for both forms, with or without a bias; named apart from ONNX's and ONNX
// Runtime's Gelu so that a profile tells them apart. Float32 only.
//
// com.winnow Attention: inputs (query [B, T, H·D], key?, value? (both or neither: without them query is Q, K and V
// packed side by side, [B, T, 3·H·D]), mask? (int64 [B, T]: 1 attend, 0 padding), bias? ([3·H·D]: Q's, K's and V's
// biases, added to the projections as they are read), pos_k?, pos_q?, rel_index? (DeBERTa's relative terms,
// attention::Problem: the position keys and queries float [H, D, n], int32 [T, T] with entries in [0, n): score
// (i, j) gains Q_i · pos_k[:, x] + K_j · pos_q[:, x], x = rel_index[i, j], Q and K with their biases),
// cos?, sin? (rotary tables [T, head size], together and without bias: Q's and K's rows rotated as they are read)),
// attributes num_heads (int), query_mask (int, default 0; 1: a query row whose mask is 0 attends to every key
// alike), scale (float, default
// 1/sqrt(D)), precision ("float32", the default, or "bf16": the two products on bf16 operands with float32 sums,
// attention/attention_bf16.h; refused at load on a CPU without a bf16 kernel), query_tokens (int, default 0: every
// token; else only the first ones, Q then holding all rows or just those), window (int, absent: every key; else
// query token i sees only keys j with |i - j| <= window, a sliding window); output [B, T, H·D] =
// softmax((Q Kᵀ + c2p + p2c terms) · scale + mask) V per head, heads side by side (attention/attention.h). A window,
// the relative terms, rotary tables or query_mask run in float32 whatever precision says. Float32 tensors only.
//
// com.winnow MatMulBf16: runtime/matmul_bf16_op.h.
//
// com.winnow MatMulInt8: runtime/matmul_int8_op.h.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/ort_runtime.h"

namespace winnow::rt {

inline constexpr const char kCustomDomain[] = "com.winnow";
inline constexpr const char kLayerNormOp[] = "LayerNorm";
inline constexpr const char kBiasGeluOp[] = "BiasGelu";
inline constexpr const char kAttentionOp[] = "Attention";

// The process-wide domain holding Winnow's operators (created on first use, never freed: sessions refer to it).
OrtCustomOpDomain* CustomOpDomain();

// Each operator's name and the instructions its kernel runs in this process ("avx512", "avx2", "neon", ...), chosen
// at run time from the CPU (and WINNOW_SIMD): runtimeInfo().kernels.
std::vector<std::pair<std::string, std::string>> OperatorKernels();

// Process-wide counts of com.winnow Attention runs with DeBERTa's relative index: all of them, and those whose index
// was not monotone (each block's key and position ranges searched rather than read at its corners). For tests.
struct RelativeIndexRuns {
  uint64_t runs = 0;
  uint64_t searched = 0;
};
RelativeIndexRuns RelativeIndexRunCounts();

// Each operator's definition (static), for CustomOpDomain.
OrtCustomOp* BiasGeluCustomOp();
OrtCustomOp* AttentionCustomOp();

}  // namespace winnow::rt
