#include "rewrite/rewrite_internal.h"

#include <algorithm>

#include "onnx/writer.h"

namespace winnow::rt::rewrite {

namespace {

// ReduceMean over the last axis only, keeping it (attribute axes before opset 18, an input since).
bool ReducesLastAxis(const Graph& g, const Node& n) {
  if (!IsOp(n, "ReduceMean")) return false;
  Attr keep = FindAttr(n, "keepdims");
  if (keep.i && *keep.i != 1) return false;
  std::vector<int64_t> axes;
  Attr a = FindAttr(n, "axes");
  if (a.found) {
    axes = a.ints;
  } else if (n.inputs.size() >= 2) {
    auto t = g.Constant(n.inputs[1]);
    if (!t) return false;
    auto v = IntValues(*t);
    if (!v) return false;
    axes = *v;
  }
  return axes.size() == 1 && axes[0] == -1;
}

// The residual Add feeding a layer norm. `x` (the sum) is read `uses` times by the norm's own nodes; when
// later nodes read it too (pre-norm transformers such as ModernBERT feed it to the next residual Add),
// SkipLayerNormalization hands it on as its fourth output, input_skip_bias_sum. Those readers must come
// after the norm in the node list, where the fused node is placed, so the list stays in topological order.
bool MatchResidualAdd(const Graph& g, std::string_view x, size_t uses, Fusion* fu) {
  size_t ai;
  const Node* add = g.Producer(x, &ai);
  if (!add || !IsOp(*add, "Add") || add->inputs.size() != 2 || add->outputs.size() != 1) return false;
  if (g.graph_outputs.count(x)) return false;
  if (!g.UsedExactly(x, uses)) {
    size_t own = 0;
    for (size_t c : g.consumers.at(x)) {
      if (std::find(fu->drop.begin(), fu->drop.end(), c) != fu->drop.end()) ++own;
      else if (c <= fu->at) return false;
    }
    if (own != uses) return false;
    fu->sum = x;
  }
  // Both operands computed (a residual sum), not a constant bias: SkipLayerNormalization takes a skip of
  // shape [B, S, H], [1, S, H] or [S, H] only.
  for (std::string_view operand : add->inputs)
    if (g.constants.count(operand)) return false;
  fu->drop.push_back(ai);
  fu->input = add->inputs[0];
  fu->skip = add->inputs[1];
  return true;
}

// LayerNormalization(Add(a, b), gamma, beta), axis -1, only the first output used.
bool MatchLayerNormOp(const Graph& g, size_t i, Fusion* fu) {
  const Node& n = g.nodes[i];
  if (!IsOp(n, "LayerNormalization") || n.inputs.size() < 2 || n.outputs.empty()) return false;
  Attr axis = FindAttr(n, "axis");
  if (axis.i && *axis.i != -1) return false;
  for (size_t k = 1; k < n.outputs.size(); ++k)
    if (!n.outputs[k].empty() && !g.UsedExactly(n.outputs[k], 0)) return false;
  if (!g.IsConstant(n.inputs[1]) || (n.inputs.size() >= 3 && !n.inputs[2].empty() && !g.IsConstant(n.inputs[2])))
    return false;
  Attr eps = FindAttr(n, "epsilon");
  fu->epsilon = eps.f ? *eps.f : 1e-5f;
  fu->gamma = n.inputs[1];
  fu->beta = n.inputs.size() >= 3 ? n.inputs[2] : std::string_view();
  fu->output = n.outputs[0];
  fu->at = i;
  fu->drop.push_back(i);
  return MatchResidualAdd(g, n.inputs[0], 1, fu);
}

// The decomposed layer norm of opset < 17 exports, anchored at its first ReduceMean:
//   d = x - ReduceMean(x); y = d / Sqrt(ReduceMean(Pow(d, 2)) + eps) * gamma + beta
bool MatchDecomposedLayerNorm(const Graph& g, size_t i, Fusion* fu) {
  const Node& mean = g.nodes[i];
  if (!ReducesLastAxis(g, mean) || mean.inputs.empty() || mean.outputs.size() != 1) return false;
  const std::string_view x = mean.inputs[0];
  size_t si, pi = 0, ri, ei, qi, di = 0, mi, bi;
  const Node* sub = g.SoleConsumer(mean.outputs[0], &si);
  if (!sub || !IsOp(*sub, "Sub") || sub->inputs.size() != 2 || sub->inputs[0] != x || sub->inputs[1] != mean.outputs[0])
    return false;
  const std::string_view d = sub->outputs.size() == 1 ? sub->outputs[0] : std::string_view();
  if (d.empty() || !g.UsedExactly(d, 2)) return false;
  const auto& dc = g.consumers.at(d);
  const Node* pow = nullptr;
  const Node* div = nullptr;
  for (size_t k : dc) {
    if (IsOp(g.nodes[k], "Pow")) pow = &g.nodes[pi = k];
    else if (IsOp(g.nodes[k], "Div")) div = &g.nodes[di = k];
  }
  if (!pow || !div || pow->inputs.size() != 2 || pow->inputs[0] != d || pow->outputs.size() != 1) return false;
  auto two = g.ScalarConstant(pow->inputs[1]);
  if (!two || *two != 2.0) return false;
  const Node* var = g.SoleConsumer(pow->outputs[0], &ri);
  if (!var || !ReducesLastAxis(g, *var) || var->outputs.size() != 1) return false;
  const Node* add_eps = g.SoleConsumer(var->outputs[0], &ei);
  if (!add_eps || !IsOp(*add_eps, "Add") || add_eps->outputs.size() != 1) return false;
  auto eps_name = OtherOperand(*add_eps, var->outputs[0]);
  auto eps = eps_name ? g.ScalarConstant(*eps_name) : std::nullopt;
  if (!eps || !(*eps > 0) || *eps > 1) return false;
  const Node* sqrt = g.SoleConsumer(add_eps->outputs[0], &qi);
  if (!sqrt || !IsOp(*sqrt, "Sqrt") || sqrt->outputs.size() != 1) return false;
  size_t di2;
  if (g.SoleConsumer(sqrt->outputs[0], &di2) != div || div->inputs.size() != 2 || div->inputs[0] != d ||
      div->inputs[1] != sqrt->outputs[0] || div->outputs.size() != 1)
    return false;
  const Node* mul = g.SoleConsumer(div->outputs[0], &mi);
  if (!mul || !IsOp(*mul, "Mul") || mul->outputs.size() != 1) return false;
  auto gamma = OtherOperand(*mul, div->outputs[0]);
  if (!gamma || !g.IsConstant(*gamma)) return false;
  const Node* add_beta = g.SoleConsumer(mul->outputs[0], &bi);
  if (!add_beta || !IsOp(*add_beta, "Add") || add_beta->outputs.size() != 1) return false;
  auto beta = OtherOperand(*add_beta, mul->outputs[0]);
  if (!beta || !g.IsConstant(*beta)) return false;
  fu->drop = {i, si, pi, ri, ei, qi, di, mi, bi};
  fu->at = bi;
  fu->gamma = *gamma;
  fu->beta = *beta;
  fu->output = add_beta->outputs[0];
  fu->epsilon = static_cast<float>(*eps);
  return MatchResidualAdd(g, x, 2, fu);  // x is read by the first ReduceMean and the Sub
}

// Inputs (input, skip, gamma, beta?); outputs: output, then (mean, inv_std_var, input_skip_bias_sum) when the sum is
// read elsewhere.
std::string SkipLayerNormNode(const Fusion& fu, int index) {
  std::vector<std::string_view> in = {fu.input, fu.skip, fu.gamma};
  if (!fu.beta.empty()) in.push_back(fu.beta);
  std::vector<std::string_view> out = {fu.output};
  if (!fu.sum.empty()) out.insert(out.end(), {std::string_view(), std::string_view(), fu.sum});
  return NodeProto("SkipLayerNormalization", in, out, "winnow/SkipLayerNorm_" + std::to_string(index),
                   {FloatAttribute("epsilon", fu.epsilon)}, "com.microsoft");
}

// com.winnow LayerNorm (runtime/custom_ops.h): the same fusion with ONNX Runtime's LayerNormalization arithmetic,
// bit for bit. Inputs (input, skip, gamma, beta?), outputs (output, sum?).
std::string ExactLayerNormNode(const Fusion& fu, int index) {
  std::vector<std::string_view> in = {fu.input, fu.skip, fu.gamma};
  if (!fu.beta.empty()) in.push_back(fu.beta);
  std::vector<std::string_view> out = {fu.output};
  if (!fu.sum.empty()) out.push_back(fu.sum);
  return NodeProto("LayerNorm", in, out, "winnow/LayerNorm_" + std::to_string(index),
                   {FloatAttribute("epsilon", fu.epsilon)}, "com.winnow");
}

}  // namespace

int AddNormFusions(const Graph& g, bool exact, bool inexact, std::vector<char>* claimed,
                   std::unordered_map<size_t, std::string>* replacement, int* exact_count) {
  int n = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Fusion fu;
    if (!MatchLayerNormOp(g, i, &fu)) {
      fu = Fusion();
      if (!MatchDecomposedLayerNorm(g, i, &fu)) continue;
    }
    bool float32 = false;
    if (exact) {
      auto gamma = g.Constant(fu.gamma);
      auto beta = fu.beta.empty() ? std::optional<Tensor>() : g.Constant(fu.beta);
      float32 = gamma && gamma->data_type == dtype::kFloat && (fu.beta.empty() || (beta && beta->data_type == dtype::kFloat));
    }
    if (!float32 && !inexact) continue;
    if (!Claim(fu.drop, claimed)) continue;
    (*replacement)[fu.at] = float32 ? ExactLayerNormNode(fu, n) : SkipLayerNormNode(fu, n);
    ++n;
    if (float32) ++*exact_count;
  }
  return n;
}

}  // namespace winnow::rt::rewrite
