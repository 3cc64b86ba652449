#include "rewrite/graph_rewrite.h"

#include <algorithm>

#include "rewrite/rewrite_internal.h"

namespace winnow::rt {

using namespace rewrite;  // NOLINT

StatusOr<GraphRewrite> RewriteGraph(std::string_view model, const RewriteOptions& o) {
  GraphRewrite result;
  ParsedModel pm;
  WINNOW_RETURN_IF_ERROR(ParseModel(model, o.external_files, &pm, &result.skipped));
  if (!result.skipped.empty()) return result;
  // Graphs that quantize activations only where asked: a float 1e-7 off can round to the next int8 step.
  // Exact norms (com.winnow LayerNorm) compute what the graph computes, quantized or not.
  const bool inexact_norms = o.layer_norms && (!pm.quantizes || o.quantized_norms);
  const bool norms = inexact_norms || (o.layer_norms && o.exact_norms);
  const bool attention = o.attention && (!pm.quantizes || o.quantized_attention);
  if ((o.layer_norms && !norms) || (o.attention && !attention) || ((o.quantize_int8 || o.bf16) && pm.quantizes))
    result.skipped = "the graph quantizes activations";
  std::vector<AttentionMatch> matches;
  if (attention) {
    matches = FindAttentions(pm, &result.skipped);
    for (AttentionMatch& m : matches) m.scale *= o.test_scale;
  }
  const Graph& g = pm.g;
  // Attention blocks with Q, K and V packed where the projections allow it (com.microsoft Attention); if that
  // leaves a node reading a removed value (a projection read elsewhere), every block as MultiHeadAttention; if
  // that fails too, the norms alone. Everything is written in one pass: one copy of the weights.
  enum Form { kPacked, kMultiHead, kNormsOnly };
  std::vector<Form> forms;
  // With int8 or bf16 projections attention packs nothing: MultiHeadAttention reads them as they are.
  const bool quantize = o.quantize_int8 && !pm.quantizes;
  const bool bf16 = o.bf16 && !quantize && !pm.quantizes;
  if (!matches.empty()) {
    if (o.pack_qkv && !quantize && !bf16) forms.push_back(kPacked);
    forms.push_back(kMultiHead);
  }
  forms.push_back(kNormsOnly);
  for (Form form : forms) {
    std::vector<char> claimed(g.nodes.size(), 0);
    std::unordered_map<size_t, std::string> replacement;
    std::vector<std::string> prologue = KeyLengthNodes(pm.onnx_opset);  // and the packing Concats
    int exact_norms = 0;
    const int fused_norms =
        norms ? AddNormFusions(g, o.exact_norms, inexact_norms, &claimed, &replacement, &exact_norms) : 0;
    int index = 0, packed = 0;
    if (form != kNormsOnly) {
      for (const AttentionMatch& m : matches) {
        if (!Claim(m.drop, &claimed)) continue;  // disjoint from each other; a norm fusion's node: left alone
        PackedQkv qkv;
        if (form == kPacked && PackProjections(g, m, index, &qkv) && Claim(qkv.drop, &claimed)) {
          replacement[m.at] = PackedAttentionNode(m, qkv, index);
          for (auto& n : qkv.nodes) prologue.push_back(std::move(n));
          ++packed;
        } else {
          replacement[m.at] = MultiHeadAttentionNode(m, index);
        }
        ++index;
      }
    }
    std::vector<NewInitializer> initializers;
    int head_kept = 0;
    int int8_amx = 0;
    const int quantized =
        quantize ? AddQuantizedLinears(pm, o.int8_amx, &claimed, &replacement, &initializers, &head_kept, &int8_amx)
                 : 0;
    int bf16_head_kept = 0;
    const int bf16_count = bf16 ? AddBf16Linears(pm, &claimed, &replacement, &bf16_head_kept) : 0;
    if (bf16) head_kept = bf16_head_kept;
    if (fused_norms == 0 && index == 0 && quantized == 0 && bf16_count == 0) return result;
    // Float weights only the quantized products read are dropped with them (drop_dead).
    const bool winnow_ops = exact_norms > 0 || bf16_count > 0 || int8_amx > 0;
    std::optional<std::string> out =
        form == kNormsOnly ? EmitModel(pm, claimed, replacement, {}, quantized > 0, winnow_ops, o, initializers)
                           : EmitModel(pm, claimed, replacement, prologue, true, winnow_ops, o, initializers);
    if (!out) {
      result.skipped = "a node outside the attention blocks reads a value inside one";
      continue;
    }
    result.model = std::move(*out);
    // Residual norms a graph built at load wrote as com.winnow LayerNorm already count as fused.
    int built_norms = 0;
    for (const Node& n : g.nodes)
      if (n.domain == "com.winnow" && n.op == "LayerNorm" && n.inputs.size() > 1 && !n.inputs[1].empty()) ++built_norms;
    result.skip_layer_norms = fused_norms + built_norms;
    result.exact_layer_norms = exact_norms + built_norms;
    result.attentions = index;
    result.packed_qkv = packed;
    result.quantized_matmuls = quantized;
    result.int8_amx_matmuls = int8_amx;
    result.head_matmuls = head_kept;
    result.bf16_matmuls = bf16_count;
    return result;
  }
  return result;
}

StatusOr<GraphRewrite> WeightsInPlace(std::string_view model, const RewriteOptions& o) {
  GraphRewrite result;
  ParsedModel pm;
  WINNOW_RETURN_IF_ERROR(ParseModel(model, o.external_files, &pm, &result.skipped));
  if (!result.skipped.empty()) return result;
  if (o.external_weights.empty() && o.external_renames.empty()) {
    result.skipped = "no external location to write the weights under";
    return result;
  }
  std::vector<char> claimed(pm.g.nodes.size(), 0);
  std::optional<std::string> out = EmitModel(pm, claimed, {}, {}, false, false, o);
  if (out) result.model = std::move(*out);
  return result;
}

StatusOr<GraphRewrite> FuseSkipLayerNorm(std::string_view model, bool quantized) {
  RewriteOptions o;
  o.layer_norms = true;
  o.quantized_norms = quantized;
  return RewriteGraph(model, o);
}

StatusOr<GraphRewrite> FuseAttention(std::string_view model, bool quantized, float test_scale, bool pack_qkv) {
  RewriteOptions o;
  o.attention = true;
  o.quantized_attention = quantized;
  o.test_scale = test_scale;
  o.pack_qkv = pack_qkv;
  return RewriteGraph(model, o);
}

StatusOr<int> CountAttentionBlocks(std::string_view model, bool quantized, const ExternalFiles* external_files,
                                   int64_t* width, bool* float16, bool* quantizes) {
  if (width) *width = 0;
  if (float16) *float16 = false;
  if (quantizes) *quantizes = false;
  ParsedModel pm;
  std::string skipped;
  // Parsed as RewriteGraph parses (the whole graph, quantized or not), so that both find the same malformations.
  WINNOW_RETURN_IF_ERROR(ParseModel(model, external_files, &pm, &skipped));
  if (quantizes) *quantizes = pm.quantizes;
  if (!skipped.empty() || (pm.quantizes && !quantized)) return 0;
  const std::vector<AttentionMatch> matches = FindAttentions(pm, &skipped);
  for (const AttentionMatch& m : matches) {
    if (width) *width = std::max(*width, m.width);
    Projection q;
    if (float16 && MatchProjection(pm.g, m.q, &q) && q.w.data_type == dtype::kFloat16) *float16 = true;
  }
  return static_cast<int>(matches.size());
}

StatusOr<std::vector<std::string>> ExternalDataLocations(std::string_view model) {
  std::vector<std::string> out;
  std::string_view graph;
  pb::Reader r(model);
  pb::Field f;
  while (r.Next(&f))
    if (f.number == model_f::kGraph && f.wire == pb::kLen) graph = f.bytes;
  if (!r.ok()) return Malformed("model");
  pb::Reader g(graph);
  while (g.Next(&f)) {
    if (f.number != graph_f::kInitializer || f.wire != pb::kLen) continue;
    pb::Reader t(f.bytes);
    pb::Field tf;
    while (t.Next(&tf)) {
      if (tf.number != tensor_f::kExternalData || tf.wire != pb::kLen) continue;
      auto [key, value] = KeyValue(tf.bytes);
      if (key == "location" && std::find(out.begin(), out.end(), value) == out.end()) out.emplace_back(value);
    }
    if (!t.ok()) return Malformed("initializer");
  }
  if (!g.ok()) return Malformed("graph");
  return out;
}

}  // namespace winnow::rt
