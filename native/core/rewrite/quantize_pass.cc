#include "rewrite/rewrite_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "gemm/matmul_int8.h"
#include "onnx/writer.h"

namespace winnow::rt::rewrite {

namespace {

bool IsNormOp(const Node& n) {
  return n.op == "LayerNormalization" || n.op == "SkipLayerNormalization" || n.op == "SimplifiedLayerNormalization" ||
         n.op == "SkipSimplifiedLayerNormalization" || (n.domain == "com.winnow" && n.op == "LayerNorm");
}

// The float32 values of a constant, from raw_data or float_data; empty when it has neither in full.
std::vector<float> FloatValues(const Tensor& t, size_t count) {
  std::vector<float> v;
  if (t.raw.size() == count * sizeof(float)) {
    v.resize(count);
    std::memcpy(v.data(), t.raw.data(), t.raw.size());
  } else if (t.floats.size() == count) {
    v = t.floats;
  }
  return v;
}

// Values computed from constants alone (no graph input) by deterministic ONNX operators: ONNX Runtime folds them once
// at load, as long as they stay its own operators (DeBERTa's position projections: a MatMul of the normalized
// relative embeddings). An initializer that is also a graph input can be overridden, so is not constant here.
std::unordered_set<std::string_view> ConstantValues(const ParsedModel& pm) {
  const Graph& g = pm.g;
  std::unordered_set<std::string_view> folded;
  for (const Node& n : g.nodes) {  // topological order
    const bool onnx_op = n.domain.empty() || n.domain == "ai.onnx";
    const bool random = n.op.rfind("Random", 0) == 0 || n.op == "Bernoulli" || n.op == "Multinomial";
    bool constant = onnx_op && !random && !n.inputs.empty();
    for (auto in : n.inputs)
      constant = constant && (in.empty() || (g.IsConstant(in) && !pm.graph_inputs.count(in)) || folded.count(in));
    if (constant)
      for (auto out : n.outputs) folded.insert(out);
  }
  return folded;
}

}  // namespace

std::vector<char> HeadNodes(const Graph& g) {
  // Layer norms: the ops, and every node of a decomposed norm (with its residual Add) as the norm pass matches it.
  std::vector<char> norm(g.nodes.size(), 0);
  {
    std::unordered_map<size_t, std::string> scratch;
    int exact = 0;
    AddNormFusions(g, true, true, &norm, &scratch, &exact);
  }
  // A norm op bounds the head when it normalizes the residual stream (its input a sum, or a fused skip); a norm
  // inside the head (ModernBERT's, after the head's dense + GELU) does not.
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!IsNormOp(n) || n.inputs.empty()) continue;
    size_t p = 0;
    const Node* in = g.Producer(n.inputs[0], &p);
    // com.winnow LayerNorm with a skip: the residual Add inside (a graph built at load writes it so).
    const bool skip = n.domain == "com.winnow" && n.inputs.size() > 1 && !n.inputs[1].empty();
    if (n.op.rfind("Skip", 0) == 0 || skip || (in && IsOp(*in, "Add"))) norm[i] = 1;
  }
  // Backwards over the topologically ordered nodes: a value is free when a graph output is computed from it
  // through nodes none of which is a norm.
  std::unordered_set<std::string_view> free(g.graph_outputs.begin(), g.graph_outputs.end());
  std::vector<char> head(g.nodes.size(), 0);
  for (size_t i = g.nodes.size(); i-- > 0;) {
    if (norm[i]) continue;
    const Node& n = g.nodes[i];
    bool reaches = false;
    for (auto out : n.outputs) reaches = reaches || (!out.empty() && free.count(out));
    if (!reaches) continue;
    head[i] = 1;
    for (auto in : n.inputs) free.insert(in);
  }
  return head;
}

std::vector<Linear> FindLinears(const ParsedModel& pm, std::vector<char>* claimed, int* head_kept) {
  const Graph& g = pm.g;
  const std::vector<char> head = HeadNodes(g);
  const auto folded = ConstantValues(pm);
  std::vector<Linear> out;
  *head_kept = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& mm = g.nodes[i];
    // x · Wᵀ as a FusedMatMul: transB and nothing else (no transA, batch transposes or alpha).
    const bool trans_b = mm.op == "FusedMatMul" && mm.domain == "com.microsoft" &&
                         FindAttr(mm, "transB").i.value_or(0) == 1 && FindAttr(mm, "transA").i.value_or(0) == 0 &&
                         FindAttr(mm, "transBatchA").i.value_or(0) == 0 &&
                         FindAttr(mm, "transBatchB").i.value_or(0) == 0 && FindAttr(mm, "alpha").f.value_or(1.0f) == 1.0f;
    if ((!IsOp(mm, "MatMul") && !trans_b) || mm.inputs.size() != 2 || mm.outputs.size() != 1 ||
        g.IsConstant(mm.inputs[0]) || folded.count(mm.inputs[0]))
      continue;
    auto w = g.Constant(mm.inputs[1]);
    if (!w || w->data_type != dtype::kFloat || w->dims.size() != 2 || w->dims[0] <= 0 || w->dims[1] <= 0) continue;
    Linear l;
    l.trans_b = trans_b;
    l.k = w->dims[trans_b ? 1 : 0];
    l.n = w->dims[trans_b ? 0 : 1];
    if (head[i]) {
      ++*head_kept;
      continue;
    }
    // The bias of a following Add of a constant float32 [N], folded in when only that Add reads the product.
    std::optional<size_t> add_index;
    l.output = mm.outputs[0];
    size_t ai = 0;
    if (const Node* add = g.SoleConsumer(mm.outputs[0], &ai); add && IsOp(*add, "Add") && add->inputs.size() == 2 &&
                                                              add->outputs.size() == 1) {
      auto other = OtherOperand(*add, mm.outputs[0]);
      auto b = other ? g.Constant(*other) : std::nullopt;
      if (b && b->data_type == dtype::kFloat && b->dims.size() == 1 && b->dims[0] == l.n) {
        add_index = ai;
        l.bias = *other;
        l.output = add->outputs[0];
      }
    }
    l.nodes = {i};
    if (add_index) l.nodes.push_back(*add_index);
    if (!Claim(l.nodes, claimed)) {
      if (!add_index || !Claim({i}, claimed)) continue;  // the Add belongs to another fusion: the product alone
      l.nodes = {i};
      l.bias = {};
      l.output = mm.outputs[0];
    }
    l.a = mm.inputs[0];
    l.w = mm.inputs[1];
    out.push_back(std::move(l));
  }
  return out;
}


int AddQuantizedLinears(const ParsedModel& pm, bool amx, std::vector<char>* claimed,
                        std::unordered_map<size_t, std::string>* replacement, std::vector<NewInitializer>* initializers,
                        int* head_kept, int* amx_count) {
  const Graph& g = pm.g;
  int count = 0;
  *amx_count = 0;
  for (const Linear& l : FindLinears(pm, claimed, head_kept)) {
    const int64_t k_dim = l.k, n_dim = l.n;
    // One layer's values at a time (not every layer's at once: a second copy of the model at load).
    const std::vector<float> wv = FloatValues(*g.Constant(l.w), static_cast<size_t>(k_dim * n_dim));
    if (wv.empty()) {  // values not readable here: left float
      for (size_t k : l.nodes) (*claimed)[k] = 0;
      continue;
    }
    // The weight as a MatMul's [k, n], stored so or (trans_b) as [n, k].
    auto w = [&](int64_t k, int64_t n) { return l.trans_b ? wv[n * k_dim + k] : wv[k * n_dim + n]; };
    // Per output column: symmetric int8, scale max|w[:, n]| / 127 (an all-zero column gets scale 1).
    std::vector<float> scale(static_cast<size_t>(n_dim), 0.0f);
    for (int64_t k = 0; k < k_dim; ++k)
      for (int64_t n = 0; n < n_dim; ++n) scale[n] = std::max(scale[n], std::fabs(w(k, n)));
    for (float& s : scale) s = s > 0 && std::isfinite(s) ? s / 127.0f : 1.0f;
    std::string q(static_cast<size_t>(k_dim * n_dim), '\0');
    for (int64_t k = 0; k < k_dim; ++k)
      for (int64_t n = 0; n < n_dim; ++n) {
        const float r = std::nearbyint(w(k, n) / scale[n]);
        // A NaN weight becomes 0 (casting NaN to an integer is undefined).
        q[k * n_dim + n] = r == r ? static_cast<char>(static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f))) : 0;
      }
    const std::string prefix = "winnow/int8_" + std::to_string(count);
    std::string q_name = prefix + "_weight", s_name = prefix + "_scale";
    if (g.IsConstant(q_name) || g.IsConstant(s_name)) {
      for (size_t k : l.nodes) (*claimed)[k] = 0;
      continue;
    }
    initializers->push_back({q_name, RawTensor(q_name, dtype::kInt8, {k_dim, n_dim}, q)});
    initializers->push_back({s_name, FloatTensor(s_name, {n_dim}, scale)});
    if (amx && static_cast<uint64_t>(k_dim) <= gemm::kInt8MaxK) {  // longer K: DynamicQuantizeMatMul
      // Inputs A, W, W_scale, bias; the GELU after it, when there is one to absorb, as its epilogue.
      std::vector<std::string_view> in = {l.a, q_name, s_name, l.bias};
      std::string_view output = l.output;
      std::vector<std::string> attrs;
      size_t at = l.nodes.back();
      // The BiasGelu or LayerNorm after it, as its epilogue (written where that node was).
      if (auto f = EpilogueFusion() ? ClaimEpilogue(g, l, claimed) : std::nullopt) {
        in.back() = f->bias;
        if (f->epilogue == "layernorm") in.insert(in.end(), {f->skip, f->gamma, f->beta});
        output = f->node->outputs[0];
        attrs = EpilogueAttributes(*f);
        at = f->index;
      }
      while (in.size() > 3 && in.back().empty()) in.pop_back();
      (*replacement)[at] = NodeProto("MatMulInt8", in, {output}, prefix + "_MatMulInt8", attrs, "com.winnow");
      ++count;
      ++*amx_count;
      continue;
    }
    // Inputs A, B, b_scale, (b_zero_point: 0), bias.
    std::vector<std::string_view> in = {l.a, q_name, s_name};
    if (!l.bias.empty()) in.insert(in.end(), {std::string_view(), l.bias});
    (*replacement)[l.nodes.back()] =
        NodeProto("DynamicQuantizeMatMul", in, {l.output}, prefix + "_DynamicQuantizeMatMul", {}, "com.microsoft");
    ++count;
  }
  return count;
}

bool EpilogueFusion() {
  // WINNOW_GEMM_EPILOGUE=0: the BiasGelu / LayerNorm after a product stay nodes of their own (comparisons).
  const char* env = std::getenv("WINNOW_GEMM_EPILOGUE");
  return !(env && std::string_view(env) == "0");
}

std::optional<FollowingNode> ClaimEpilogue(const Graph& g, const Linear& l, std::vector<char>* claimed) {
  if (!l.bias.empty() || l.nodes.size() != 1) return std::nullopt;
  size_t index = 0;
  const Node* n = g.SoleConsumer(l.output, &index);
  if (!n || (*claimed)[index] || n->domain != "com.winnow" || n->inputs.empty() || n->inputs[0] != l.output ||
      n->outputs.empty() || n->outputs[0].empty())
    return std::nullopt;
  for (size_t i = 1; i < n->outputs.size(); ++i)
    if (!n->outputs[i].empty()) return std::nullopt;  // LayerNorm's sum read too: left as it is
  auto input = [&](size_t i) { return i < n->inputs.size() ? n->inputs[i] : std::string_view(); };
  // A constant float32 [N], or absent when optional.
  auto vector_n = [&](std::string_view name, bool optional) {
    if (name.empty()) return optional;
    auto t = g.Constant(name);
    return t && t->data_type == dtype::kFloat && t->dims.size() == 1 && t->dims[0] == l.n;
  };
  FollowingNode f;
  f.index = index;
  f.node = n;
  if (n->op == "BiasGelu" && n->inputs.size() <= 2 && vector_n(input(1), true)) {
    const Attr approximate = FindAttr(*n, "approximate");
    const std::string_view form = approximate.s ? *approximate.s : std::string_view("none");
    if (form != "none" && form != "tanh") return std::nullopt;
    f.epilogue = form == "tanh" ? "gelu_tanh" : "gelu";
    f.bias = input(1);
  } else if (n->op == "LayerNorm" && !input(1).empty() && vector_n(input(2), false) && vector_n(input(3), true) &&
             vector_n(input(4), true)) {
    // com.winnow LayerNorm (input, skip, gamma, beta?, bias?): the product as input, the residual as skip.
    f.epilogue = "layernorm";
    f.skip = input(1);
    f.gamma = input(2);
    f.beta = input(3);
    f.bias = input(4);
  } else {
    return std::nullopt;
  }
  if (!Claim({index}, claimed)) return std::nullopt;
  return f;
}

std::vector<std::string> EpilogueAttributes(const FollowingNode& f) {
  std::vector<std::string> attrs = {onnx::StringAttribute("epilogue", f.epilogue)};
  if (f.epilogue == "layernorm") {
    if (const Attr eps = FindAttr(*f.node, "epsilon"); eps.f) attrs.push_back(onnx::FloatAttribute("epsilon", *eps.f));
    if (const Attr exact = FindAttr(*f.node, "exact"); exact.i) attrs.push_back(onnx::IntAttribute("exact", *exact.i));
  }
  return attrs;
}

int AddBf16Linears(const ParsedModel& pm, std::vector<char>* claimed,
                   std::unordered_map<size_t, std::string>* replacement, int* head_kept) {
  int count = 0;
  const bool fuse = EpilogueFusion();
  for (const Linear& l : FindLinears(pm, claimed, head_kept)) {
    if (l.trans_b) {  // MatMulBf16 reads [k, n] weights: a weight read in place stays float32
      for (size_t k : l.nodes) (*claimed)[k] = 0;
      continue;
    }
    const std::string name = "winnow/bf16_" + std::to_string(count) + "_MatMulBf16";
    if (auto f = fuse ? ClaimEpilogue(pm.g, l, claimed) : std::nullopt) {
      // The product and the node after it as one: written where that node was (its inputs all exist there).
      std::vector<std::string_view> in = {l.a, l.w, f->bias};
      if (f->epilogue == "layernorm") in.insert(in.end(), {f->skip, f->gamma, f->beta});
      while (!in.empty() && in.back().empty()) in.pop_back();
      (*replacement)[f->index] =
          NodeProto("MatMulBf16", in, {f->node->outputs[0]}, name, EpilogueAttributes(*f), "com.winnow");
    } else {
      std::vector<std::string_view> in = {l.a, l.w};
      if (!l.bias.empty()) in.push_back(l.bias);
      (*replacement)[l.nodes.back()] = NodeProto("MatMulBf16", in, {l.output}, name, {}, "com.winnow");
    }
    ++count;
  }
  return count;
}

}  // namespace winnow::rt::rewrite
