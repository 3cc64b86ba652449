// Winnow's own ONNX Runtime operators (CPU), registered in every session's options under kCustomDomain.
//
// com.winnow LayerNorm: inputs (input, skip?, gamma, beta?), attribute epsilon (float, default 1e-5);
// outputs (output, sum?). Normalizes the last axis of input + skip (skip broadcast down the rows when it has
// fewer, e.g. [1, S, H] under [B, S, H]; either operand may be the larger), exactly as ONNX Runtime 1.29's CPU
// LayerNormalization kernel would normalize Add(input, skip), bit for bit, but vectorized across rows
// (layernorm/layer_norm.h). `sum` is input + skip, for pre-norm models that read it again. Float32 only.
//
// com.winnow Attention: inputs (query [B, T, H·D], key?, value? (both or neither: without them query is Q, K and V
// packed side by side, [B, T, 3·H·D]), mask? (int64 [B, T]: 1 attend, 0 padding)), attributes num_heads (int),
// scale (float, default 1/sqrt(D)); output [B, T, H·D] = softmax(Q Kᵀ · scale + key mask) V per head, heads side by
// side (attention/attention.h). Float32 only.
#pragma once

#include "runtime/ort_runtime.h"

namespace winnow::rt {

inline constexpr const char kCustomDomain[] = "com.winnow";
inline constexpr const char kLayerNormOp[] = "LayerNorm";
inline constexpr const char kAttentionOp[] = "Attention";

// The process-wide domain holding Winnow's operators (created on first use, never freed: sessions refer to it).
OrtCustomOpDomain* CustomOpDomain();

// Each operator's definition (static), for CustomOpDomain.
OrtCustomOp* AttentionCustomOp();

}  // namespace winnow::rt
