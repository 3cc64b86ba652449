#include "rewrite/rewrite_internal.h"

#include <algorithm>

#include <cmath>

#include "onnx/writer.h"

namespace winnow::rt::rewrite {

// ---- attention ---------------------------------------------------------------------------------------

namespace {

// For a Mul or Div of a tensor by a finite, non-zero scalar constant: the factor it multiplies by (1/c for a
// Div) and, in `*operand`, the tensor. Exporters write the constant on either side of a Mul.
std::optional<double> ConstantFactor(const Graph& g, const Node& n, std::string_view* operand) {
  const bool div = IsOp(n, "Div");
  if (!(div || IsOp(n, "Mul")) || n.inputs.size() != 2) return std::nullopt;
  std::string_view x = n.inputs[0], factor = n.inputs[1];
  if (!div && g.IsConstant(x)) std::swap(x, factor);
  auto c = g.ScalarConstant(factor);
  if (!c || !(*c != 0) || !std::isfinite(*c)) return std::nullopt;
  *operand = x;
  return div ? 1.0 / *c : *c;
}

// `value` is read by exactly one node besides Shape nodes (exporters read shapes to compute reshape targets
// and attention scales; that arithmetic goes with the pattern, and EmitModel checks nothing else still needs
// it). Returns that node's index.
std::optional<size_t> SoleReaderBesidesShape(const Graph& g, std::string_view value) {
  if (g.graph_outputs.count(value)) return std::nullopt;
  auto it = g.consumers.find(value);
  if (it == g.consumers.end()) return std::nullopt;
  std::optional<size_t> reader;
  for (size_t c : it->second) {
    if (IsOp(g.nodes[c], "Shape")) continue;
    if (reader) return std::nullopt;
    reader = c;
  }
  return reader;
}

bool IsTranspose(const Node& n, std::vector<int64_t>* perm) {
  if (!IsOp(n, "Transpose") || n.inputs.size() != 1 || n.outputs.size() != 1) return false;
  *perm = FindAttr(n, "perm").ints;
  return perm->size() == 4;
}

// Heads and head size from the shape operand of a [B, S, D] -> [B, S, H, dh] Reshape: a constant, or a Concat
// whose trailing inputs are constants (exporters compute B and S from Shape). -1 where the shape says -1.
bool ReshapeHeads(const Graph& g, std::string_view shape, int64_t* heads, int64_t* head_size) {
  std::vector<int64_t> tail;
  if (auto t = g.Constant(shape)) {
    auto v = IntValues(*t);
    if (!v || v->size() != 4) return false;
    tail = *v;
  } else {
    size_t ci;
    const Node* concat = g.Producer(shape, &ci);
    if (!concat || !IsOp(*concat, "Concat")) return false;
    for (size_t k = concat->inputs.size(); k-- > 0 && tail.size() < 2;) {
      auto t = g.Constant(concat->inputs[k]);
      auto v = t ? IntValues(*t) : std::nullopt;
      if (!v) return false;
      tail.insert(tail.begin(), v->begin(), v->end());
    }
  }
  if (tail.size() < 2) return false;
  *heads = tail[tail.size() - 2];
  *head_size = tail[tail.size() - 1];
  // Real heads and head sizes are small; a malformed constant's huge ones would overflow heads x head size.
  constexpr int64_t kMaxDim = int64_t{1} << 24;
  auto valid = [](int64_t d) { return (d > 0 && d <= kMaxDim) || d == -1; };
  return valid(*heads) && valid(*head_size) && !(*heads == -1 && *head_size == -1);
}

// Width D of a projection output x = MatMul(h, W) [+ b]: from the bias or the weight's shape.
int64_t ProjectionWidth(const Graph& g, std::string_view x) {
  size_t i;
  const Node* n = g.Producer(x, &i);
  if (n && IsOp(*n, "Add") && n->inputs.size() == 2) {
    for (auto operand : n->inputs)
      if (auto t = g.Constant(operand); t && t->dims.size() == 1) return t->dims[0];
    for (auto operand : n->inputs) {
      size_t mi;
      const Node* m = g.Producer(operand, &mi);
      if (m && IsOp(*m, "MatMul")) n = m;
    }
  }
  if (n && IsOp(*n, "MatMul") && n->inputs.size() == 2)
    if (auto t = g.Constant(n->inputs[1]); t && t->dims.size() == 2) return t->dims[1];
  return -1;
}

struct HeadSplit {
  std::string_view projection;  // the [B, S, D] tensor before the split
  int64_t heads = 0, head_size = 0;
  double scale = 1.0;                 // constant factors met on the way
  std::string_view runtime_factor;    // a computed scalar multiplied in (SDPA exports), if any
};

// Walks from a per-head operand of an attention MatMul back to the projection it was split from:
// Transposes (their permutations composed must equal `want`), Mul / Div by scalars, then one Reshape to
// [B, S, H, dh]. Every value on the way must be read by that chain only.
bool MatchHeadSplit(const Graph& g, std::string_view value, const std::vector<int64_t>& want, bool allow_scale,
                    std::vector<size_t>* drop, HeadSplit* hs) {
  std::vector<int64_t> perm = {0, 1, 2, 3};
  for (int steps = 0; steps < 6; ++steps) {
    if (!SoleReaderBesidesShape(g, value)) return false;
    size_t i;
    const Node* n = g.Producer(value, &i);
    if (!n || n->outputs.size() != 1) return false;
    std::vector<int64_t> p;
    if (IsTranspose(*n, &p)) {
      for (int64_t& c : perm) {
        if (c < 0 || c > 3 || p[c] < 0 || p[c] > 3) return false;
        c = p[c];
      }
      drop->push_back(i);
      value = n->inputs[0];
      continue;
    }
    if (allow_scale && (IsOp(*n, "Mul") || IsOp(*n, "Div")) && n->inputs.size() == 2) {
      if (auto c = ConstantFactor(g, *n, &value)) {
        hs->scale *= *c;
      } else if (IsOp(*n, "Mul") && hs->runtime_factor.empty() && !g.IsConstant(n->inputs[0]) &&
                 !g.IsConstant(n->inputs[1])) {
        hs->runtime_factor = n->inputs[1];  // exporters write Mul(tensor, factor)
        value = n->inputs[0];
      } else {
        return false;
      }
      drop->push_back(i);
      continue;
    }
    if (IsOp(*n, "Reshape") && n->inputs.size() == 2) {
      if (perm != want) return false;
      if (!ReshapeHeads(g, n->inputs[1], &hs->heads, &hs->head_size)) return false;
      hs->projection = n->inputs[0];
      const int64_t width = ProjectionWidth(g, hs->projection);
      if (hs->heads == -1 || hs->head_size == -1) {
        const int64_t known = hs->heads == -1 ? hs->head_size : hs->heads;
        if (width <= 0 || width % known) return false;
        (hs->heads == -1 ? hs->heads : hs->head_size) = width / known;
      }
      if (width > 0 && width != hs->heads * hs->head_size) return false;
      drop->push_back(i);
      return true;
    }
    return false;
  }
  return false;
}

// The graph inputs whose values `value` is computed from (within 256 values), or false past that.
bool InputsOf(const ParsedModel& pm, std::string_view value, std::unordered_set<std::string_view>* inputs) {
  std::vector<std::string_view> todo = {value};
  std::unordered_set<std::string_view> seen;
  while (!todo.empty()) {
    std::string_view v = todo.back();
    todo.pop_back();
    if (v.empty() || !seen.insert(v).second) continue;
    if (seen.size() > 256) return false;
    if (pm.graph_inputs.count(v) && !pm.g.IsConstant(v)) {
      inputs->insert(v);
      continue;
    }
    size_t i;
    const Node* n = pm.g.Producer(v, &i);
    if (n && !IsOp(*n, "Shape") && !IsOp(*n, "Size"))  // a shape is not the values (exporters read Shape(input_ids))
      for (auto in : n->inputs) todo.push_back(in);
  }
  return true;
}


// Self-attention as BERT-family exports write it, anchored at its Softmax:
//   Q = split(q), K = split(k) transposed, V = split(v)          split: Reshape [B,S,H,dh] + Transpose
//   out = merge(Softmax(Q K^T * scale + mask) V)                 merge: Transpose + Reshape [B,S,D]
// where mask is computed from the attention_mask input only (the additive padding mask). The scale is a
// product of constant Mul / Div factors, or, in scaled_dot_product_attention exports, the same computed
// factor on Q and K (then 1/sqrt(dh) is assumed; Session checks the fused graph against the file).
bool MatchAttention(const ParsedModel& pm, size_t si, AttentionMatch* m) {
  const Graph& g = pm.g;
  const Node& sm = g.nodes[si];
  if (!IsOp(sm, "Softmax") || sm.inputs.size() != 1 || sm.outputs.size() != 1) return false;
  Attr axis = FindAttr(sm, "axis");
  if (!axis.i || (*axis.i != -1 && *axis.i != 3)) return false;
  m->drop = {si};
  // The mask Add.
  size_t ai;
  const Node* add = g.Producer(sm.inputs[0], &ai);
  if (!add || !IsOp(*add, "Add") || add->inputs.size() != 2 || !g.UsedExactly(sm.inputs[0], 1)) return false;
  m->drop.push_back(ai);
  // The scores: a MatMul of Q and K, maybe scaled after it.
  HeadSplit qs, ks, vs;
  std::string_view mask;
  size_t qki = 0;
  const Node* qk = nullptr;
  for (int side = 0; side < 2 && !qk; ++side) {
    std::string_view x = add->inputs[side];
    std::vector<size_t> drop;
    double scale = 1.0;
    for (int steps = 0; steps < 2; ++steps) {
      if (!g.UsedExactly(x, 1)) break;
      size_t i;
      const Node* n = g.Producer(x, &i);
      if (!n || n->outputs.size() != 1) break;
      if (IsOp(*n, "MatMul") && n->inputs.size() == 2) {
        qk = n;
        qki = i;
        break;
      }
      auto c = ConstantFactor(g, *n, &x);
      if (!c) break;
      scale *= *c;
      drop.push_back(i);
    }
    if (qk) {
      m->drop.insert(m->drop.end(), drop.begin(), drop.end());
      m->drop.push_back(qki);
      qs.scale = scale;
      mask = add->inputs[1 - side];
    }
  }
  if (!qk || g.IsConstant(mask)) return false;
  std::unordered_set<std::string_view> mask_inputs;
  if (!InputsOf(pm, mask, &mask_inputs) || mask_inputs.size() != 1 || !mask_inputs.count("attention_mask")) return false;
  if (!MatchHeadSplit(g, qk->inputs[0], {0, 2, 1, 3}, true, &m->drop, &qs)) return false;
  if (!MatchHeadSplit(g, qk->inputs[1], {0, 2, 3, 1}, true, &m->drop, &ks)) return false;
  // probs V
  size_t pvi, ti, ri;
  const Node* pv = g.SoleConsumer(sm.outputs[0], &pvi);
  if (!pv || !IsOp(*pv, "MatMul") || pv->inputs.size() != 2 || pv->inputs[0] != sm.outputs[0] || pv->outputs.size() != 1)
    return false;
  if (!MatchHeadSplit(g, pv->inputs[1], {0, 2, 1, 3}, false, &m->drop, &vs)) return false;
  std::vector<int64_t> perm;
  const Node* tr = g.SoleConsumer(pv->outputs[0], &ti);
  if (!tr || !IsTranspose(*tr, &perm) || perm != std::vector<int64_t>{0, 2, 1, 3}) return false;
  // The merge Reshape (exporters also read the merged tensor's Shape to compute its target shape).
  auto merge_index = SoleReaderBesidesShape(g, tr->outputs[0]);
  if (!merge_index) return false;
  ri = *merge_index;
  const Node* merge = &g.nodes[ri];
  if (!IsOp(*merge, "Reshape") || merge->inputs.size() != 2 || merge->inputs[0] != tr->outputs[0] ||
      merge->outputs.size() != 1)
    return false;
  m->drop.insert(m->drop.end(), {pvi, ti, ri});
  if (qs.heads != ks.heads || qs.heads != vs.heads || qs.head_size != ks.head_size || qs.head_size != vs.head_size)
    return false;
  double scale = qs.scale * ks.scale;
  if (!qs.runtime_factor.empty() || !ks.runtime_factor.empty()) {
    // scaled_dot_product_attention exports multiply Q and K each by sqrt(scale), computed from the shape.
    // Each side has its own Sqrt(scale) node in torch's export: the same factor, or Sqrt of the same value.
    auto root = [&](std::string_view f) {
      size_t i;
      const Node* n = g.Producer(f, &i);
      return n && IsOp(*n, "Sqrt") && n->inputs.size() == 1 ? n->inputs[0] : f;
    };
    if (qs.runtime_factor.empty() || ks.runtime_factor.empty() || root(qs.runtime_factor) != root(ks.runtime_factor))
      return false;
    scale /= std::sqrt(static_cast<double>(qs.head_size));
  }
  if (!(scale > 0) || !std::isfinite(scale)) return false;
  m->at = ri;
  m->q = qs.projection;
  m->k = ks.projection;
  m->v = vs.projection;
  m->output = merge->outputs[0];
  m->heads = qs.heads;
  m->width = qs.heads * qs.head_size;
  m->scale = static_cast<float>(scale);
  return true;
}

}  // namespace

bool MatchProjection(const Graph& g, std::string_view y, Projection* p) {
  const Node* add = g.Producer(y, &p->add);
  if (!add || !IsOp(*add, "Add") || add->inputs.size() != 2 || add->outputs.size() != 1) return false;
  for (int side = 0; side < 2; ++side) {
    auto b = g.Constant(add->inputs[side]);
    const Node* mm = g.Producer(add->inputs[1 - side], &p->matmul);
    if (!b || !mm) continue;
    if (!IsOp(*mm, "MatMul") || mm->inputs.size() != 2 || mm->outputs.size() != 1 || !g.UsedExactly(mm->outputs[0], 1))
      return false;
    auto w = g.Constant(mm->inputs[1]);
    if (!w || w->dims.size() != 2 || b->dims.size() != 1 || w->dims[1] != b->dims[0] || w->data_type != b->data_type)
      return false;
    p->x = mm->inputs[0];
    p->w_name = mm->inputs[1];
    p->b_name = add->inputs[side];
    p->w = std::move(*w);
    p->b = std::move(*b);
    return !g.IsConstant(p->x);
  }
  return false;
}


bool PackProjections(const Graph& g, const AttentionMatch& m, int index, PackedQkv* out) {
  Projection p[3];
  const std::string_view values[3] = {m.q, m.k, m.v};
  for (int k = 0; k < 3; ++k) {
    if (!MatchProjection(g, values[k], &p[k])) return false;
    if (p[k].x != p[0].x || p[k].w.data_type != p[0].w.data_type || p[k].w.dims[0] != p[0].w.dims[0] ||
        p[k].w.dims[1] != m.width)
      return false;
  }
  // Attention takes float and float16 weights.
  if (p[0].w.data_type != dtype::kFloat && p[0].w.data_type != dtype::kFloat16) return false;
  if (p[0].matmul == p[1].matmul || p[0].matmul == p[2].matmul || p[1].matmul == p[2].matmul) return false;
  out->weight_name = "winnow/attention_qkv_weight_" + std::to_string(index);
  out->bias_name = "winnow/attention_qkv_bias_" + std::to_string(index);
  if (g.IsConstant(out->weight_name) || g.IsConstant(out->bias_name)) return false;
  out->nodes.clear();
  for (const bool weights : {true, false}) {
    // [in, d] x 3 -> [in, 3d]: row r is row r of Wq, then of Wk, then of Wv; the biases one after another.
    std::vector<std::string_view> in;
    for (const Projection& q : p) in.push_back(weights ? q.w_name : q.b_name);
    out->nodes.push_back(NodeProto("Concat", in, {weights ? out->weight_name : out->bias_name},
                                   (weights ? "winnow/PackQkvWeight" : "winnow/PackQkvBias") + std::to_string(index),
                                   {IntAttribute("axis", weights ? 1 : 0)}));
  }
  out->input = p[0].x;
  out->drop.clear();
  for (const Projection& q : p) out->drop.insert(out->drop.end(), {q.matmul, q.add});
  return true;
}


namespace {

// A com.microsoft attention node (`op`: MultiHeadAttention or Attention) replacing the block `m`.
std::string AttentionNode(std::string_view op, const Names& inputs, const AttentionMatch& m, int index) {
  return NodeProto(op, inputs, {m.output}, "winnow/" + std::string(op) + "_" + std::to_string(index),
                   {IntAttribute("num_heads", m.heads), FloatAttribute("scale", m.scale)}, "com.microsoft");
}

}  // namespace

std::string MultiHeadAttentionNode(const AttentionMatch& m, int index) {
  return AttentionNode("MultiHeadAttention", {m.q, m.k, m.v, std::string_view(), kKeyLengths}, m, index);
}

std::string PackedAttentionNode(const AttentionMatch& m, const PackedQkv& qkv, int index) {
  return AttentionNode("Attention", {qkv.input, qkv.weight_name, qkv.bias_name, kKeyLengths}, m, index);
}

std::vector<std::string> KeyLengthNodes(int64_t opset) {
  const std::string mask32 = "winnow/attention_mask_int32", axes = "winnow/attention_sum_axes";
  std::vector<std::string> nodes = {NodeProto("Cast", {"attention_mask"}, {mask32}, "winnow/CastAttentionMask",
                                              {IntAttribute("to", dtype::kInt32)})};
  if (opset >= 13) {  // axes is an input since opset 13
    nodes.push_back(NodeProto("Constant", {}, {axes}, "winnow/AttentionSumAxes",
                              {TensorAttribute("value", Int64Tensor(axes, {1}, {1}))}));
    nodes.push_back(NodeProto("ReduceSum", {mask32, axes}, {kKeyLengths}, "winnow/AttentionKeyLengths",
                              {IntAttribute("keepdims", 0)}));
  } else {
    nodes.push_back(NodeProto("ReduceSum", {mask32}, {kKeyLengths}, "winnow/AttentionKeyLengths",
                              {IntAttribute("keepdims", 0), IntsAttribute("axes", {1})}));
  }
  return nodes;
}

std::vector<AttentionMatch> FindAttentions(const ParsedModel& pm, std::string* skipped) {
  std::vector<AttentionMatch> matches;
  if (!skipped->empty()) return matches;
  if (!pm.graph_inputs.count("attention_mask") || pm.g.producer.count("attention_mask") ||
      pm.g.producer.count(kKeyLengths)) {
    *skipped = "no attention_mask input";
    return matches;
  }
  std::vector<char> claimed(pm.g.nodes.size(), 0);
  for (size_t i = 0; i < pm.g.nodes.size(); ++i) {
    AttentionMatch m;
    if (MatchAttention(pm, i, &m) && Claim(m.drop, &claimed)) matches.push_back(std::move(m));
  }
  return matches;
}

}  // namespace winnow::rt::rewrite
