// Load-time graph rewrites that ONNX Runtime's own optimizer does not do on the CPU.
//
// FuseSkipLayerNorm: a residual Add followed by a layer norm over the last axis — either the
// LayerNormalization op (opset >= 17) or the decomposed form older exporters write
// (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta) — becomes one
// com.microsoft SkipLayerNormalization node. Post-norm models (BERT, XLM-R) read the sum only in the
// norm; pre-norm ones (ModernBERT) read it again in the next residual Add and get it from the fused
// node's input_skip_bias_sum output. Close arithmetic, not the same: ONNX Runtime's CPU LayerNormalization
// kernel (what the graph as written runs) takes Welford's per-row update, slower than SkipLayerNormalization's
// running sums (docs/benchmark.md). With RewriteOptions::exact_norms,
// float32 norms become com.winnow LayerNorm instead (runtime/custom_ops.h): LayerNormalization's own
// arithmetic, vectorized, so the same bits, faster than either.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "onnx/reader.h"

namespace winnow::rt {

struct GraphRewrite {
  std::string model;         // the rewritten ModelProto; empty when nothing was rewritten
  int skip_layer_norms = 0;  // patterns fused (exact ones included), and residual com.winnow LayerNorms as built
  int exact_layer_norms = 0;  // ... of those, as com.winnow LayerNorm (RewriteOptions::exact_norms)
  int attentions = 0;        // FuseAttention: self-attention blocks fused
  int packed_qkv = 0;        // ... of those, with the Q, K, V projections packed into one (Attention op)
  int quantized_matmuls = 0;  // RewriteOptions::quantize_int8: MatMuls made DynamicQuantizeMatMul (or MatMulInt8)
  int int8_amx_matmuls = 0;   // ... of them com.winnow MatMulInt8 (RewriteOptions::int8_amx)
  int bf16_matmuls = 0;       // RewriteOptions::bf16: MatMuls made com.winnow MatMulBf16
  int head_matmuls = 0;       // ... and those (int8 or bf16) kept float32 as the task head
  std::string skipped;       // why the model was left as it is (external data, subgraphs), if it was
};

// Graphs that quantize activations (DynamicQuantizeLinear, MatMulInteger, ...) are left alone unless
// `quantized` is set: there a norm output 1e-7 off can round to the next int8 step (scores move ~2e-3).
// Errors: codes::kOnnxInvalid when `model` is not a well-formed ModelProto.
StatusOr<GraphRewrite> FuseSkipLayerNorm(std::string_view model, bool quantized = false);

// FuseAttention: each BERT-style self-attention block (Q/K/V split into heads by Reshape + Transpose,
// Softmax(Q K^T * scale + padding mask) V, heads merged back) becomes one com.microsoft MultiHeadAttention
// node reading the three projections, with a key_padding_mask of valid lengths ([B] int32, the sum of
// attention_mask) — so the mask is exact only for right-padded batches, which is how Winnow pads. On CUDA
// that form runs fused attention kernels (TensorRT fused MHA in fp16, no [B, H, S, S] score tensor); the
// caller must compare the fused graph with the original, since scaled_dot_product_attention exports compute
// their scale at run time and the rewrite assumes 1/sqrt(head size) there. Nodes left unread (the shape
// arithmetic of removed reshapes, the additive mask) are removed. Same `quantized` rule as above.
// With `pack_qkv`, a block whose Q, K and V are projections x W + b of one input with constant weights
// becomes com.microsoft Attention instead: the three weights packed side by side into one [in, 3D] matrix
// (one GEMM instead of three; ONNX Runtime's standard BERT path on CPU and CUDA). The packing is two Concat
// nodes over the weights as they are, which ONNX Runtime folds into one constant at load.
// `test_scale` multiplies every fused scale: tests use it to check that a wrong fusion is caught at load.
StatusOr<GraphRewrite> FuseAttention(std::string_view model, bool quantized = false, float test_scale = 1.0f,
                                     bool pack_qkv = true);

// External data files of a model (its initializers' external_data locations, e.g. "model.onnx_data"), by
// location, mapped in memory by the caller. With them, the rewrites read external weights where they need values
// (packing Q, K, V) and keep their references unchanged in the rewritten model; the caller hands ONNX Runtime the
// same buffers under the same names. Without them, a model with external weights is left alone.
using ExternalFiles = onnx::ExternalFiles;
// New names for those files in the rewritten model (external_data locations rewritten), e.g. the real names of
// links, when ONNX Runtime is to find them in another folder.
using ExternalRenames = std::map<std::string, std::string, std::less<>>;

// Both rewrites in one pass (one rewritten model in memory), each as its function below describes;
// `quantized_*`: that rewrite applies to graphs that quantize activations too.
struct RewriteOptions {
  bool layer_norms = false, quantized_norms = false;
  // Float32 norms become com.winnow LayerNorm (runtime/custom_ops.h: ONNX Runtime's LayerNormalization arithmetic
  // bit for bit, vectorized), in graphs that quantize activations too; other norms as `quantized_norms` says.
  // Only for sessions that register Winnow's operators (CPU).
  bool exact_norms = false;
  bool attention = false, quantized_attention = false;
  float test_scale = 1.0f;  // FuseAttention's
  // Linear layers to int8 (quantize: 'int8'): each MatMul of activations by a constant float32 [K, N] weight outside
  // the task head becomes com.microsoft DynamicQuantizeMatMul (weights int8 per output column, symmetric; the
  // activation quantized per tensor at run time; a following bias Add folded in). The head (nodes from which a graph
  // output is computed through no layer norm: pooler, classifier, pruning head) stays float, and so do the
  // embeddings (Gather). Attention blocks then fuse as MultiHeadAttention over the quantized projections, never
  // packed. Graphs that quantize activations already are left as they are.
  bool quantize_int8 = false;
  // With quantize_int8: the linear layers become com.winnow MatMulInt8 (runtime/matmul_int8_op.h: the activation
  // quantized per row, AMX-INT8, AVX512-VNNI or AVX2) instead, over the same int8 weights and scales, and a com.winnow BiasGelu that alone
  // reads a bias-less product is absorbed into it. Only for sessions that register Winnow's operators, on a CPU
  // that runs the kernel (gemm::ActiveInt8Isa()).
  bool int8_amx = false;
  // Linear layers to bf16 (dtype: 'bf16'): the same MatMuls as quantize_int8 (not with it) become com.winnow
  // MatMulBf16 (runtime/matmul_bf16_op.h) over their float32 weights as they are, the bias Add folded in; the head and
  // the embeddings stay float32, attention blocks fuse unpacked. Only for sessions that register Winnow's operators
  // (CPU). Graphs that quantize activations are left as they are.
  bool bf16 = false;
  bool pack_qkv = true;     // FuseAttention's
  // Non-empty: initializers of external_min_bytes or more kept unchanged from `model` are written as external data at
  // their offset in `model`, under this location name, so the rewritten model holds the graph and not a second copy
  // of the weights. The caller names the model file itself here (its real name) and tells ONNX Runtime its folder
  // (session.model_external_initializers_file_folder_path), which then maps the file and uses the weights in place.
  std::string external_weights;
  size_t external_min_bytes = 4096;  // smaller initializers stay inline (the fuzzer lowers it)
  const ExternalFiles* external_files = nullptr;  // the model's own external data files, if it has any
  ExternalRenames external_renames;               // ... and the names to give them in the rewritten model
};
StatusOr<GraphRewrite> RewriteGraph(std::string_view model, const RewriteOptions& options);

// The model as written, its weights referring to where they lie: what RewriteGraph writes when it fuses nothing.
// Initializers of o.external_min_bytes or more go out as external data at their offset in `model` under
// o.external_weights, references to the model's own external files are renamed by o.external_renames; the fusion
// options are not read. `model` is empty (and `skipped` says why) when the graph is one the rewrites leave alone
// (subgraphs, external files not handed in). Errors as above.
StatusOr<GraphRewrite> WeightsInPlace(std::string_view model, const RewriteOptions& options);

// How many blocks FuseAttention would fuse (0 when it would leave the model alone), without writing the rewritten
// model: a cheap look before deciding to load the file to check a rewrite against. `width`, when given, receives
// the widest block's width (heads x head size; 0 when there is none); `float16`, whether a block's Q projection
// has float16 weights (ONNX Runtime's CPU Attention and MultiHeadAttention kernels are float32 only); `quantizes`,
// whether the graph quantizes activations (set even when it returns 0 for that reason). Errors as above.
StatusOr<int> CountAttentionBlocks(std::string_view model, bool quantized = false,
                                   const ExternalFiles* external_files = nullptr, int64_t* width = nullptr,
                                   bool* float16 = nullptr, bool* quantizes = nullptr);

// The distinct external_data locations the model's initializers name, in order of appearance (empty when its
// weights are all inline). Errors: codes::kOnnxInvalid for a malformed ModelProto.
StatusOr<std::vector<std::string>> ExternalDataLocations(std::string_view model);

}  // namespace winnow::rt
