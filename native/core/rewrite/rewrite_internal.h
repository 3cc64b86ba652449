// What the passes of RewriteGraph (graph_rewrite.h) share: the parsed model, the match structs and the steps
// each pass file provides. Parse (parse.cc), layer norm (layer_norm_pass.cc), attention (attention_pass.cc), emit
// (emit.cc); graph_rewrite.cc runs them.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "onnx/reader.h"
#include "rewrite/graph_rewrite.h"

namespace winnow::rt::rewrite {

using namespace winnow::onnx;  // NOLINT: the passes are written in ONNX's terms

// A ModelProto read far enough to rewrite its graph's node list.
struct ParsedModel {
  std::string_view model, graph_bytes;
  bool has_ms_domain = false;
  bool has_winnow_domain = false;  // imports com.winnow already (a graph built with Winnow's operators)
  int64_t onnx_opset = 0;  // version of the default domain
  bool quantizes = false;  // a node quantizes activations (DynamicQuantizeLinear, MatMulInteger, ...)
  std::vector<pb::Field> graph_fields;
  std::unordered_set<std::string_view> graph_inputs;
  Graph g;
};

// Errors: malformed protobuf. `*skipped` is set (and the rewrite must leave the model alone) for graphs with
// subgraphs, external weights not in `files`, or a value produced twice. `pm->quantizes` says whether the graph
// quantizes activations (the callers decide: there a float 1e-7 off can round to the next int8 step, ~2e-3 on a
// score).
Status ParseModel(std::string_view model, const ExternalFiles* files, ParsedModel* pm, std::string* skipped);

// Marks the nodes of a match as taken, unless one of them already belongs to an earlier match.
bool Claim(const std::vector<size_t>& nodes, std::vector<char>* claimed);

// ---- layer norm (layer_norm_pass.cc) -----------------------------------------------------------------------
struct Fusion {
  std::vector<size_t> drop;  // nodes removed
  size_t at = 0;             // node replaced by the fused one (its last node)
  std::string_view input, skip, gamma, beta, output;
  std::string_view sum;  // the residual sum, when something besides the norm reads it (pre-norm models)
  float epsilon = 1e-5f;
};

// The layer norm fusions of graph_rewrite.h, claimed in `claimed`, written into `replacement`. `exact`: float32
// norms become com.winnow LayerNorm; `inexact`: the others (all of them without `exact`) SkipLayerNormalization.
// `*exact_count` counts the former.
int AddNormFusions(const Graph& g, bool exact, bool inexact, std::vector<char>* claimed,
                   std::unordered_map<size_t, std::string>* replacement, int* exact_count);

// ---- attention (attention_pass.cc) -------------------------------------------------------------------------
struct AttentionMatch {
  std::vector<size_t> drop;
  size_t at = 0;  // the final Reshape, replaced by the fused node
  std::string_view q, k, v, output;
  int64_t heads = 0, width = 0;  // width: heads x head size
  float scale = 0;
};

// A projection y = x W + b (either operand order in the Add) with W [in, d] and b [d] constants of one float
// type, whose MatMul only the Add reads.
struct Projection {
  std::string_view x, w_name, b_name;
  size_t matmul = 0, add = 0;
  Tensor w, b;
};
bool MatchProjection(const Graph& g, std::string_view y, Projection* p);

// Q, K and V projected from one input: the three weights side by side as one [in, 3d] matrix and the biases
// as one [3d] vector, so that com.microsoft Attention runs one GEMM where the graph ran three. The packing is
// written as two Concat nodes over the weights as they are (in place in the model file) rather than as new packed
// initializers: ONNX Runtime folds them at load into the matrix that the Attention kernel then prepacks, so the
// packed copy is made once, by ONNX Runtime, instead of being written into the rewritten model, parsed and copied
// again (load-time peak: docs/benchmark.md).
struct PackedQkv {
  std::string_view input;
  std::vector<size_t> drop;          // the three MatMuls and Adds
  std::vector<std::string> nodes;    // the two Concats (serialized NodeProtos, reading constants only)
  std::string weight_name, bias_name;
};
bool PackProjections(const Graph& g, const AttentionMatch& m, int index, PackedQkv* out);

constexpr std::string_view kKeyLengths = "winnow/attention_key_lengths";

// Inputs query, key, value, (no bias), key_padding_mask.
std::string MultiHeadAttentionNode(const AttentionMatch& m, int index);
// Inputs input, weights [in, 3D], bias [3D], mask_index ([B] lengths).
std::string PackedAttentionNode(const AttentionMatch& m, const PackedQkv& qkv, int index);
// int32 [B] valid lengths of the right-padded attention_mask: Cast to int32, ReduceSum over axis 1.
std::vector<std::string> KeyLengthNodes(int64_t opset);
// The attention blocks of a parsed model, each claimed once; empty (with `*skipped` set) when the model cannot be
// rewritten or has no attention_mask input.
std::vector<AttentionMatch> FindAttentions(const ParsedModel& pm, std::string* skipped);

// ---- int8 linear layers (quantize_pass.cc) -------------------------------------------------------------------
// An initializer a pass adds: its name and TensorProto payload.
struct NewInitializer {
  std::string name, tensor;
};

// The task head: nodes from which a graph output is computed through no norm of the residual stream (a
// LayerNormalization or fused form whose input is an Add, or a decomposed norm as the norm pass matches it). A
// classifier, a pooler, a pruning head, a head with a norm of its own (ModernBERT's); none in a model whose output is
// the encoder's last hidden state.
std::vector<char> HeadNodes(const Graph& g);

// A linear layer outside the head: a MatMul of a non-constant A by a constant float32 B [K, N], with the bias of a
// following Add of a constant float32 [N] when only that Add reads the product (and no earlier fusion took the Add).
struct Linear {
  std::vector<size_t> nodes;  // the MatMul (and the Add)
  std::string_view a, w, bias, output;
  int64_t k = 0, n = 0;
  // com.microsoft FusedMatMul with transB alone (a weight read in place as stored, [n, k]: graphs Winnow builds);
  // otherwise a MatMul by w [k, n].
  bool trans_b = false;
};
// The linear layers of the graph, claimed in `claimed`; `*head_kept`: MatMuls of the same kind in the head.
std::vector<Linear> FindLinears(const ParsedModel& pm, std::vector<char>* claimed, int* head_kept);

// The com.winnow BiasGelu or LayerNorm (with a skip) that alone reads a bias-less linear's product, as graphs Winnow
// builds write them, for the GEMM to apply to its finished rows (gemm::Epilogue): the node, its index, the epilogue
// attribute ("gelu", "gelu_tanh", "layernorm"), and the inputs that follow the product (bias, then the norm's skip,
// gamma, beta). Claimed in `claimed` when found.
struct FollowingNode {
  size_t index = 0;
  const Node* node = nullptr;
  std::string_view epilogue;
  std::string_view bias, skip, gamma, beta;
};
std::optional<FollowingNode> ClaimEpilogue(const Graph& g, const Linear& l, std::vector<char>* claimed);
// False when WINNOW_GEMM_EPILOGUE=0 (for comparisons): the nodes after the products stay apart.
bool EpilogueFusion();
// The attributes of a node that takes `f` in (epilogue, and the norm's epsilon and exact).
std::vector<std::string> EpilogueAttributes(const FollowingNode& f);

// Each linear layer (FindLinears) becomes one com.microsoft DynamicQuantizeMatMul (A quantized per tensor to uint8
// at run time) over B as int8 per output column (symmetric: zero point 0, scale max|B[:, n]| / 127), bias folded in.
// A layer whose weight values cannot be read here is left float (unclaimed). The new weights are appended to
// `initializers`. Returns how many were rewritten. With `amx` each becomes com.winnow MatMulInt8 instead
// (runtime/matmul_int8_op.h, A quantized per row) over the same initializers, absorbing a com.winnow BiasGelu that
// alone reads a bias-less product (its constant [N] bias and its form as the node's bias and activation);
// `*amx_count` counts those.
int AddQuantizedLinears(const ParsedModel& pm, bool amx, std::vector<char>* claimed,
                        std::unordered_map<size_t, std::string>* replacement, std::vector<NewInitializer>* initializers,
                        int* head_kept, int* amx_count);

// Each linear layer (FindLinears) becomes one com.winnow MatMulBf16 (runtime/matmul_bf16_op.h) reading B as it is
// (the kernel rounds and packs it when created), bias folded in. Returns how many were rewritten.
int AddBf16Linears(const ParsedModel& pm, std::vector<char>* claimed,
                   std::unordered_map<size_t, std::string>* replacement, int* head_kept);

// ---- emit (emit.cc) ----------------------------------------------------------------------------------------
// The model with `claimed` nodes removed, `replacement` nodes written in place of the node at their index and
// `prologue` nodes (serialized NodeProtos reading only graph inputs and constants) first. With
// `drop_dead`, nodes whose outputs nothing reads any more (shape arithmetic of removed reshapes, a mask
// no longer used) go too, and the result is checked: nullopt when a kept node would read a removed value.
// `initializers` are written after the graph's own.
std::optional<std::string> EmitModel(const ParsedModel& pm, const std::vector<char>& claimed,
                                     const std::unordered_map<size_t, std::string>& replacement,
                                     const std::vector<std::string>& prologue, bool drop_dead, bool winnow_ops,
                                     const RewriteOptions& o, const std::vector<NewInitializer>& initializers = {});

}  // namespace winnow::rt::rewrite
