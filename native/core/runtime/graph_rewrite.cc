#include "runtime/graph_rewrite.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/half.h"
#include "runtime/protobuf_wire.h"

namespace winnow::rt {

namespace {

// Field numbers from onnx.proto.
namespace model_f { constexpr uint32_t kGraph = 7, kOpsetImport = 8; }
namespace opset_f { constexpr uint32_t kDomain = 1, kVersion = 2; }
namespace graph_f { constexpr uint32_t kNode = 1, kInitializer = 5, kInput = 11, kOutput = 12; }
namespace node_f { constexpr uint32_t kInput = 1, kOutput = 2, kName = 3, kOpType = 4, kAttribute = 5, kDomain = 7; }
namespace attr_f { constexpr uint32_t kName = 1, kF = 2, kI = 3, kT = 5, kG = 6, kInts = 8, kGraphs = 11, kType = 20; }
namespace tensor_f {
constexpr uint32_t kDims = 1, kDataType = 2, kFloatData = 4, kInt32Data = 5, kInt64Data = 7, kName = 8, kRawData = 9,
                   kDoubleData = 10, kExternalData = 13, kDataLocation = 14;
}
namespace dtype { constexpr uint64_t kFloat = 1, kInt32 = 6, kInt64 = 7, kFloat16 = 10, kDouble = 11; }
constexpr uint64_t kAttrFloat = 1, kAttrInt = 2, kAttrTensor = 4, kAttrInts = 7;

struct Node {
  std::string_view raw;  // the whole NodeProto field, to copy through unchanged
  std::vector<std::string_view> inputs, outputs;
  std::string_view name, op, domain;
  std::vector<std::string_view> attributes;  // AttributeProto payloads
  bool has_subgraph = false;
};

Status Malformed(const std::string& what) { return Status(codes::kOnnxInvalid, "malformed ONNX protobuf: " + what); }

bool ParseNode(std::string_view bytes, Node* n) {
  pb::Reader r(bytes);
  pb::Field f;
  while (r.Next(&f)) {
    if (f.wire != pb::kLen) continue;
    switch (f.number) {
      case node_f::kInput: n->inputs.push_back(f.bytes); break;
      case node_f::kOutput: n->outputs.push_back(f.bytes); break;
      case node_f::kName: n->name = f.bytes; break;
      case node_f::kOpType: n->op = f.bytes; break;
      case node_f::kDomain: n->domain = f.bytes; break;
      case node_f::kAttribute: {
        n->attributes.push_back(f.bytes);
        pb::Reader ar(f.bytes);
        pb::Field af;
        while (ar.Next(&af))
          if (af.number == attr_f::kG || af.number == attr_f::kGraphs) n->has_subgraph = true;
        if (!ar.ok()) return false;
        break;
      }
      default: break;
    }
  }
  return r.ok();
}

// One attribute, decoded as far as the rewrites need.
struct Attr {
  bool found = false;
  std::optional<float> f;
  std::optional<int64_t> i;
  std::optional<std::string_view> t;  // TensorProto payload
  std::vector<int64_t> ints;
};

Attr FindAttr(const Node& n, std::string_view name) {
  Attr a;
  for (std::string_view payload : n.attributes) {
    pb::Reader r(payload);
    pb::Field f;
    Attr cur;
    bool match = false;
    while (r.Next(&f)) {
      if (f.number == attr_f::kName && f.wire == pb::kLen) match = f.bytes == name;
      else if (f.number == attr_f::kF && f.wire == pb::kFixed32) cur.f = BitsToFloat(static_cast<uint32_t>(f.varint));
      else if (f.number == attr_f::kI && f.wire == pb::kVarint) cur.i = static_cast<int64_t>(f.varint);
      else if (f.number == attr_f::kT && f.wire == pb::kLen) cur.t = f.bytes;
      else if (f.number == attr_f::kInts && f.wire == pb::kVarint) cur.ints.push_back(static_cast<int64_t>(f.varint));
      else if (f.number == attr_f::kInts && f.wire == pb::kLen) pb::ReadPackedVarints(f.bytes, &cur.ints);
    }
    if (match && r.ok()) {
      cur.found = true;
      return cur;
    }
  }
  return a;
}

// A constant tensor (initializer or Constant node), decoded as far as the rewrites need.
struct Tensor {
  uint64_t data_type = 0;
  std::vector<int64_t> dims;
  std::string_view raw;
  std::vector<float> floats;
  std::vector<double> doubles;
  std::vector<int64_t> ints;
  bool external = false;  // data_location EXTERNAL: `raw` is empty unless the file was handed in (resolved)
  bool resolved = false;
};

// An external_data entry (StringStringEntryProto: key 1, value 2).
std::pair<std::string_view, std::string_view> KeyValue(std::string_view entry) {
  pb::Reader r(entry);
  pb::Field f;
  std::string_view key, value;
  while (r.Next(&f)) {
    if (f.number == 1 && f.wire == pb::kLen) key = f.bytes;
    else if (f.number == 2 && f.wire == pb::kLen) value = f.bytes;
  }
  return {key, value};
}

// Appends an external_data entry to a TensorProto being written (KeyValue's inverse).
void AppendExternalDataEntry(std::string* tensor, std::string_view key, std::string_view value) {
  std::string e;
  pb::AppendLen(&e, 1, key);
  pb::AppendLen(&e, 2, value);
  pb::AppendLen(tensor, tensor_f::kExternalData, e);
}

std::optional<uint64_t> Decimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// `files`: the model's external data files (RewriteOptions::external_files), from which an external tensor's bytes
// are read (`resolved`); null: external tensors stay unresolved.
std::optional<Tensor> ParseTensor(std::string_view bytes, const ExternalFiles* files) {
  Tensor t;
  pb::Reader r(bytes);
  pb::Field f;
  std::string_view location;
  std::optional<uint64_t> offset = 0, length;
  while (r.Next(&f)) {
    switch (f.number) {
      case tensor_f::kExternalData:
        if (f.wire == pb::kLen) {
          auto [key, value] = KeyValue(f.bytes);
          if (key == "location") location = value;
          else if (key == "offset") offset = Decimal(value);
          else if (key == "length") length = Decimal(value);
        }
        break;
      case tensor_f::kDims:
        if (f.wire == pb::kVarint) t.dims.push_back(static_cast<int64_t>(f.varint));
        else if (f.wire == pb::kLen && !pb::ReadPackedVarints(f.bytes, &t.dims)) return std::nullopt;
        break;
      case tensor_f::kDataType: t.data_type = f.varint; break;
      case tensor_f::kRawData: t.raw = f.bytes; break;
      case tensor_f::kDataLocation: t.external = f.varint == 1; break;
      case tensor_f::kFloatData:
        if (f.wire == pb::kFixed32) t.floats.push_back(BitsToFloat(static_cast<uint32_t>(f.varint)));
        else if (f.wire == pb::kLen) {
          if (f.bytes.size() % 4) return std::nullopt;
          for (size_t i = 0; i < f.bytes.size(); i += 4) {
            uint32_t b;
            std::memcpy(&b, f.bytes.data() + i, 4);
            t.floats.push_back(BitsToFloat(b));
          }
        }
        break;
      case tensor_f::kDoubleData:
        if (f.wire == pb::kFixed64) {
          double d;
          std::memcpy(&d, &f.varint, 8);
          t.doubles.push_back(d);
        } else if (f.wire == pb::kLen) {
          if (f.bytes.size() % 8) return std::nullopt;
          for (size_t i = 0; i < f.bytes.size(); i += 8) {
            double d;
            std::memcpy(&d, f.bytes.data() + i, 8);
            t.doubles.push_back(d);
          }
        }
        break;
      case tensor_f::kInt32Data:
      case tensor_f::kInt64Data:
        if (f.wire == pb::kVarint) t.ints.push_back(static_cast<int64_t>(f.varint));
        else if (f.wire == pb::kLen && !pb::ReadPackedVarints(f.bytes, &t.ints)) return std::nullopt;
        break;
      default: break;
    }
  }
  if (!r.ok()) return std::nullopt;
  if (t.external && files && offset) {
    auto file = files->find(location);
    if (file != files->end() && *offset <= file->second.size()) {
      const uint64_t n = length ? *length : file->second.size() - *offset;
      if (n <= file->second.size() - *offset) {
        t.raw = file->second.substr(*offset, n);
        t.resolved = true;
      }
    }
  }
  return t;
}

size_t NumElements(const Tensor& t) {
  size_t n = 1;
  for (int64_t d : t.dims) {
    if (d < 0 || d > (int64_t{1} << 40)) return 0;
    n *= static_cast<size_t>(d);
  }
  return n;
}

std::optional<double> ScalarValue(const Tensor& t) {
  if ((t.external && !t.resolved) || NumElements(t) != 1) return std::nullopt;
  switch (t.data_type) {
    case dtype::kFloat:
      if (t.raw.size() == 4) {
        uint32_t b;
        std::memcpy(&b, t.raw.data(), 4);
        return BitsToFloat(b);
      }
      if (t.raw.empty() && t.floats.size() == 1) return t.floats[0];
      return std::nullopt;
    case dtype::kDouble:
      if (t.raw.size() == 8) {
        double d;
        std::memcpy(&d, t.raw.data(), 8);
        return d;
      }
      if (t.raw.empty() && t.doubles.size() == 1) return t.doubles[0];
      return std::nullopt;
    case dtype::kFloat16:
      if (t.raw.size() == 2) {
        uint16_t h;
        std::memcpy(&h, t.raw.data(), 2);
        return HalfToFloat(h);
      }
      if (t.raw.empty() && t.ints.size() == 1) return HalfToFloat(static_cast<uint16_t>(t.ints[0]));
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::optional<std::vector<int64_t>> IntValues(const Tensor& t) {
  if (t.external && !t.resolved) return std::nullopt;
  const size_t n = NumElements(t);
  if (t.data_type == dtype::kInt64 && !t.raw.empty()) {
    if (t.raw.size() != n * 8) return std::nullopt;
    std::vector<int64_t> v(n);
    std::memcpy(v.data(), t.raw.data(), t.raw.size());
    return v;
  }
  if (t.data_type == dtype::kInt32 && !t.raw.empty()) {
    if (t.raw.size() != n * 4) return std::nullopt;
    std::vector<int64_t> v(n);
    for (size_t i = 0; i < n; ++i) {
      int32_t x;
      std::memcpy(&x, t.raw.data() + 4 * i, 4);
      v[i] = x;
    }
    return v;
  }
  if ((t.data_type == dtype::kInt64 || t.data_type == dtype::kInt32) && t.ints.size() == n) return t.ints;
  return std::nullopt;
}

class Graph {
 public:
  std::vector<Node> nodes;
  std::unordered_map<std::string_view, std::string_view> constants;  // name -> TensorProto payload
  std::unordered_map<std::string_view, std::vector<size_t>> consumers;  // value -> consuming nodes (with repeats)
  std::unordered_map<std::string_view, size_t> producer;
  std::unordered_set<std::string_view> graph_outputs;
  const ExternalFiles* external_files = nullptr;  // where external constants' bytes are read from

  // False when a value is produced by two nodes: not a valid ONNX graph, and the matchers' producer
  // lookups would be ambiguous.
  bool Index() {
    for (size_t i = 0; i < nodes.size(); ++i) {
      for (auto in : nodes[i].inputs)
        if (!in.empty()) consumers[in].push_back(i);
      for (auto out : nodes[i].outputs)
        if (!out.empty() && !producer.emplace(out, i).second) return false;
      if (nodes[i].op == "Constant" && nodes[i].domain.empty() && nodes[i].outputs.size() == 1) {
        Attr v = FindAttr(nodes[i], "value");
        if (v.t) constants[nodes[i].outputs[0]] = *v.t;
      }
    }
    return true;
  }

  // The value is read by exactly `n` node inputs and is not a graph output.
  bool UsedExactly(std::string_view value, size_t n) const {
    if (graph_outputs.count(value)) return false;
    auto it = consumers.find(value);
    return (it == consumers.end() ? 0 : it->second.size()) == n;
  }
  // The single node reading `value`, if exactly one input anywhere reads it.
  const Node* SoleConsumer(std::string_view value, size_t* index) const {
    if (!UsedExactly(value, 1)) return nullptr;
    *index = consumers.at(value)[0];
    return &nodes[*index];
  }
  const Node* Producer(std::string_view value, size_t* index) const {
    auto it = producer.find(value);
    if (it == producer.end()) return nullptr;
    *index = it->second;
    return &nodes[*index];
  }
  std::optional<Tensor> Constant(std::string_view name) const {
    auto it = constants.find(name);
    if (it == constants.end()) return std::nullopt;
    return ParseTensor(it->second, external_files);
  }
  std::optional<double> ScalarConstant(std::string_view name) const {
    auto t = Constant(name);
    return t ? ScalarValue(*t) : std::nullopt;
  }
  // An initializer or a Constant node's output (exporters write zero biases of bias-free norms as Constant nodes).
  bool IsConstant(std::string_view name) const { return constants.count(name) > 0; }
};

bool IsOp(const Node& n, std::string_view op) { return n.op == op && (n.domain.empty() || n.domain == "ai.onnx"); }

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

// The operand of a binary node that is not `value`, when the node reads `value` exactly once.
std::optional<std::string_view> OtherOperand(const Node& n, std::string_view value) {
  if (n.inputs.size() != 2) return std::nullopt;
  if (n.inputs[0] == value && n.inputs[1] != value) return n.inputs[1];
  if (n.inputs[1] == value && n.inputs[0] != value) return n.inputs[0];
  return std::nullopt;
}

struct Fusion {
  std::vector<size_t> drop;  // nodes removed
  size_t at = 0;             // node replaced by the fused one (its last node)
  std::string_view input, skip, gamma, beta, output;
  std::string_view sum;  // the residual sum, when something besides the norm reads it (pre-norm models)
  float epsilon = 1e-5f;
};

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

// Serialized AttributeProtos.
std::string FloatAttribute(std::string_view name, float v) {
  std::string a;
  pb::AppendLen(&a, attr_f::kName, name);
  pb::AppendFixed32Field(&a, attr_f::kF, FloatBits(v));
  pb::AppendVarintField(&a, attr_f::kType, kAttrFloat);
  return a;
}
std::string IntAttribute(std::string_view name, int64_t v) {
  std::string a;
  pb::AppendLen(&a, attr_f::kName, name);
  pb::AppendVarintField(&a, attr_f::kI, static_cast<uint64_t>(v));
  pb::AppendVarintField(&a, attr_f::kType, kAttrInt);
  return a;
}

// Marks the nodes of a match as taken, unless one of them already belongs to an earlier match.
bool Claim(const std::vector<size_t>& nodes, std::vector<char>* claimed) {
  for (size_t k : nodes)
    if ((*claimed)[k]) return false;
  for (size_t k : nodes) (*claimed)[k] = 1;
  return true;
}

std::string SkipLayerNormNode(const Fusion& fu, int index) {
  std::string node;
  for (std::string_view in : {fu.input, fu.skip, fu.gamma}) pb::AppendLen(&node, node_f::kInput, in);
  if (!fu.beta.empty()) pb::AppendLen(&node, node_f::kInput, fu.beta);
  pb::AppendLen(&node, node_f::kOutput, fu.output);
  if (!fu.sum.empty()) {  // outputs: output, mean, inv_std_var, input_skip_bias_sum
    pb::AppendLen(&node, node_f::kOutput, "");
    pb::AppendLen(&node, node_f::kOutput, "");
    pb::AppendLen(&node, node_f::kOutput, fu.sum);
  }
  pb::AppendLen(&node, node_f::kName, "winnow/SkipLayerNorm_" + std::to_string(index));
  pb::AppendLen(&node, node_f::kOpType, "SkipLayerNormalization");
  pb::AppendLen(&node, node_f::kAttribute, FloatAttribute("epsilon", fu.epsilon));
  pb::AppendLen(&node, node_f::kDomain, "com.microsoft");
  return node;
}

// com.winnow LayerNorm (runtime/custom_ops.h): the same fusion with ONNX Runtime's LayerNormalization arithmetic,
// bit for bit. Inputs (input, skip, gamma, beta?), outputs (output, sum?).
std::string ExactLayerNormNode(const Fusion& fu, int index) {
  std::string node;
  for (std::string_view in : {fu.input, fu.skip, fu.gamma}) pb::AppendLen(&node, node_f::kInput, in);
  if (!fu.beta.empty()) pb::AppendLen(&node, node_f::kInput, fu.beta);
  pb::AppendLen(&node, node_f::kOutput, fu.output);
  if (!fu.sum.empty()) pb::AppendLen(&node, node_f::kOutput, fu.sum);
  pb::AppendLen(&node, node_f::kName, "winnow/LayerNorm_" + std::to_string(index));
  pb::AppendLen(&node, node_f::kOpType, "LayerNorm");
  pb::AppendLen(&node, node_f::kAttribute, FloatAttribute("epsilon", fu.epsilon));
  pb::AppendLen(&node, node_f::kDomain, "com.winnow");
  return node;
}

// A ModelProto read far enough to rewrite its graph's node list.
struct ParsedModel {
  std::string_view model, graph_bytes;
  bool has_ms_domain = false;
  int64_t onnx_opset = 0;  // version of the default domain
  bool quantizes = false;  // a node quantizes activations (DynamicQuantizeLinear, MatMulInteger, ...)
  std::vector<pb::Field> graph_fields;
  std::unordered_set<std::string_view> graph_inputs;
  Graph g;
};

// ---- attention ---------------------------------------------------------------------------------------

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
  return (*heads > 0 || *heads == -1) && (*head_size > 0 || *head_size == -1) && !(*heads == -1 && *head_size == -1);
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

struct AttentionMatch {
  std::vector<size_t> drop;
  size_t at = 0;  // the final Reshape, replaced by the fused node
  std::string_view q, k, v, output;
  int64_t heads = 0, width = 0;  // width: heads x head size
  float scale = 0;
};

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

// A projection y = x W + b (either operand order in the Add) with W [in, d] and b [d] constants of one float
// type, whose MatMul only the Add reads.
struct Projection {
  std::string_view x, w_name, b_name;
  size_t matmul = 0, add = 0;
  Tensor w, b;
};

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

// Q, K and V projected from one input: the three weights side by side as one [in, 3d] matrix and the biases
// as one [3d] vector, so that com.microsoft Attention runs one GEMM where the graph ran three. The packing is
// written as two Concat nodes over the weights as they are (in place in the model file) rather than as new packed
// initializers: ONNX Runtime folds them at load into the matrix that the Attention kernel then prepacks, so the
// packed copy is made once, by ONNX Runtime, instead of being written into the rewritten model, parsed and copied
// again (bge-reranker-base shape: anonymous peak at load 503 -> 357 MiB, the unfused graph's).
struct PackedQkv {
  std::string_view input;
  std::vector<size_t> drop;          // the three MatMuls and Adds
  std::vector<std::string> nodes;    // the two Concats (serialized NodeProtos, reading constants only)
  std::string weight_name, bias_name;
};

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
    std::string n;
    for (const Projection& q : p) pb::AppendLen(&n, node_f::kInput, weights ? q.w_name : q.b_name);
    pb::AppendLen(&n, node_f::kOutput, weights ? out->weight_name : out->bias_name);
    pb::AppendLen(&n, node_f::kName, (weights ? "winnow/PackQkvWeight" : "winnow/PackQkvBias") + std::to_string(index));
    pb::AppendLen(&n, node_f::kOpType, "Concat");
    // [in, d] x 3 -> [in, 3d]: row r is row r of Wq, then of Wk, then of Wv; the biases one after another.
    pb::AppendLen(&n, node_f::kAttribute, IntAttribute("axis", weights ? 1 : 0));
    out->nodes.push_back(std::move(n));
  }
  out->input = p[0].x;
  out->drop.clear();
  for (const Projection& q : p) out->drop.insert(out->drop.end(), {q.matmul, q.add});
  return true;
}

constexpr std::string_view kKeyLengths = "winnow/attention_key_lengths";

// A com.microsoft attention node (`op`: MultiHeadAttention or Attention) replacing the block `m`.
std::string AttentionNode(std::string_view op, std::initializer_list<std::string_view> inputs, const AttentionMatch& m,
                          int index) {
  std::string node;
  for (std::string_view in : inputs) pb::AppendLen(&node, node_f::kInput, in);
  pb::AppendLen(&node, node_f::kOutput, m.output);
  pb::AppendLen(&node, node_f::kName, "winnow/" + std::string(op) + "_" + std::to_string(index));
  pb::AppendLen(&node, node_f::kOpType, op);
  pb::AppendLen(&node, node_f::kAttribute, IntAttribute("num_heads", m.heads));
  pb::AppendLen(&node, node_f::kAttribute, FloatAttribute("scale", m.scale));
  pb::AppendLen(&node, node_f::kDomain, "com.microsoft");
  return node;
}

// Inputs query, key, value, (no bias), key_padding_mask.
std::string MultiHeadAttentionNode(const AttentionMatch& m, int index) {
  return AttentionNode("MultiHeadAttention", {m.q, m.k, m.v, std::string_view(), kKeyLengths}, m, index);
}

// Inputs input, weights [in, 3D], bias [3D], mask_index ([B] lengths).
std::string PackedAttentionNode(const AttentionMatch& m, const PackedQkv& qkv, int index) {
  return AttentionNode("Attention", {qkv.input, qkv.weight_name, qkv.bias_name, kKeyLengths}, m, index);
}

// int32 [B] valid lengths of the right-padded attention_mask: Cast to int32, ReduceSum over axis 1.
std::vector<std::string> KeyLengthNodes(int64_t opset) {
  std::vector<std::string> nodes;
  const std::string mask32 = "winnow/attention_mask_int32", axes = "winnow/attention_sum_axes";
  {
    std::string n;
    pb::AppendLen(&n, node_f::kInput, "attention_mask");
    pb::AppendLen(&n, node_f::kOutput, mask32);
    pb::AppendLen(&n, node_f::kName, "winnow/CastAttentionMask");
    pb::AppendLen(&n, node_f::kOpType, "Cast");
    pb::AppendLen(&n, node_f::kAttribute, IntAttribute("to", dtype::kInt32));
    nodes.push_back(n);
  }
  std::string axis_attr;
  if (opset >= 13) {  // axes is an input since opset 13
    std::string n, a, t;
    pb::AppendVarintField(&t, tensor_f::kDims, 1);
    pb::AppendVarintField(&t, tensor_f::kDataType, dtype::kInt64);
    pb::AppendVarintField(&t, tensor_f::kInt64Data, 1);
    pb::AppendLen(&t, tensor_f::kName, axes);
    pb::AppendLen(&n, node_f::kOutput, axes);
    pb::AppendLen(&n, node_f::kName, "winnow/AttentionSumAxes");
    pb::AppendLen(&n, node_f::kOpType, "Constant");
    pb::AppendLen(&a, attr_f::kName, "value");
    pb::AppendLen(&a, attr_f::kT, t);
    pb::AppendVarintField(&a, attr_f::kType, kAttrTensor);
    pb::AppendLen(&n, node_f::kAttribute, a);
    nodes.push_back(n);
  } else {
    pb::AppendLen(&axis_attr, attr_f::kName, "axes");
    pb::AppendVarintField(&axis_attr, attr_f::kInts, 1);
    pb::AppendVarintField(&axis_attr, attr_f::kType, kAttrInts);
  }
  std::string n;
  pb::AppendLen(&n, node_f::kInput, mask32);
  if (opset >= 13) pb::AppendLen(&n, node_f::kInput, axes);
  pb::AppendLen(&n, node_f::kOutput, kKeyLengths);
  pb::AppendLen(&n, node_f::kName, "winnow/AttentionKeyLengths");
  pb::AppendLen(&n, node_f::kOpType, "ReduceSum");
  pb::AppendLen(&n, node_f::kAttribute, IntAttribute("keepdims", 0));
  if (!axis_attr.empty()) pb::AppendLen(&n, node_f::kAttribute, axis_attr);
  nodes.push_back(n);
  return nodes;
}

bool QuantizesActivations(const Node& n) {
  return n.op == "DynamicQuantizeLinear" || n.op == "QuantizeLinear" || n.op == "DynamicQuantizeMatMul" ||
         n.op == "MatMulInteger" || n.op == "QLinearMatMul" || n.op == "MatMulIntegerToFloat";
}

// Errors: malformed protobuf. `*skipped` is set (and the rewrite must leave the model alone) for graphs with
// subgraphs, external weights not in `files`, or a value produced twice. `pm->quantizes` says whether the graph
// quantizes activations (the callers decide: there a float 1e-7 off can round to the next int8 step, ~2e-3 on a
// score).
Status ParseModel(std::string_view model, const ExternalFiles* files, ParsedModel* pm, std::string* skipped) {
  pm->model = model;
  pm->g.external_files = files;
  bool has_graph = false;
  {
    pb::Reader r(model);
    pb::Field f;
    while (r.Next(&f)) {
      if (f.number == model_f::kGraph && f.wire == pb::kLen) {
        pm->graph_bytes = f.bytes;
        has_graph = true;
      } else if (f.number == model_f::kOpsetImport && f.wire == pb::kLen) {
        pb::Reader o(f.bytes);
        pb::Field of;
        std::string_view domain;
        int64_t version = 0;
        while (o.Next(&of)) {
          if (of.number == opset_f::kDomain && of.wire == pb::kLen) domain = of.bytes;
          else if (of.number == opset_f::kVersion && of.wire == pb::kVarint) version = static_cast<int64_t>(of.varint);
        }
        if (domain == "com.microsoft") pm->has_ms_domain = true;
        else if (domain.empty() || domain == "ai.onnx") pm->onnx_opset = version;
      }
    }
    if (!r.ok()) return Malformed("model");
    if (!has_graph) return Malformed("no graph");
  }
  Graph& g = pm->g;
  pb::Reader r(pm->graph_bytes);
  pb::Field f;
  while (r.Next(&f)) {
    pm->graph_fields.push_back(f);
    if (f.wire != pb::kLen) continue;
    if (f.number == graph_f::kNode) {
      Node n;
      n.raw = f.raw;
      if (!ParseNode(f.bytes, &n)) return Malformed("node");
      if (n.has_subgraph) {
        *skipped = "the graph has subgraphs";
        return Status::Ok();
      }
      if (QuantizesActivations(n)) pm->quantizes = true;
      g.nodes.push_back(std::move(n));
    } else if (f.number == graph_f::kInitializer) {
      auto t = ParseTensor(f.bytes, files);
      if (!t) return Malformed("initializer");
      if (t->external && !t->resolved) {  // an external data file that was not handed in
        *skipped = "weights are in external data files";
        return Status::Ok();
      }
      pb::Reader tr(f.bytes);
      pb::Field tf;
      while (tr.Next(&tf))
        if (tf.number == tensor_f::kName && tf.wire == pb::kLen) g.constants[tf.bytes] = f.bytes;
    } else if (f.number == graph_f::kOutput || f.number == graph_f::kInput) {
      pb::Reader vr(f.bytes);
      pb::Field vf;
      while (vr.Next(&vf))
        if (vf.number == 1 && vf.wire == pb::kLen)
          (f.number == graph_f::kOutput ? g.graph_outputs : pm->graph_inputs).insert(vf.bytes);
    }
  }
  if (!r.ok()) return Malformed("graph");
  if (!g.Index()) *skipped = "a value is produced by more than one node";
  return Status::Ok();
}

// An initializer field of `model` written with its raw_data as external data at its offset in `model` (location
// `location`), when it has raw_data of `min_bytes` or more and no external data already; false otherwise.
bool AppendExternalized(const pb::Field& initializer, std::string_view model, std::string_view location,
                        size_t min_bytes, std::string* graph) {
  pb::Reader r(initializer.bytes);
  pb::Field f;
  std::string_view raw;
  while (r.Next(&f)) {
    if (f.number == tensor_f::kExternalData || f.number == tensor_f::kDataLocation) return false;
    if (f.number == tensor_f::kRawData && f.wire == pb::kLen) raw = f.bytes;
  }
  if (!r.ok() || raw.empty() || raw.size() < min_bytes || raw.data() < model.data() ||
      raw.data() + raw.size() > model.data() + model.size())
    return false;
  std::string t;
  pb::Reader again(initializer.bytes);
  while (again.Next(&f))
    if (f.number != tensor_f::kRawData) t.append(f.raw);
  AppendExternalDataEntry(&t, "location", location);
  AppendExternalDataEntry(&t, "offset", std::to_string(raw.data() - model.data()));
  AppendExternalDataEntry(&t, "length", std::to_string(raw.size()));
  pb::AppendVarintField(&t, tensor_f::kDataLocation, 1);  // EXTERNAL
  pb::AppendLen(graph, graph_f::kInitializer, t);
  return true;
}

// An initializer field whose external_data location is in `renames`, written with the new location; false (nothing
// written) when it names none of them.
bool AppendRenamed(const pb::Field& initializer, const ExternalRenames& renames, std::string* graph) {
  pb::Reader r(initializer.bytes);
  pb::Field f;
  std::string t;
  bool renamed = false;
  while (r.Next(&f)) {
    if (f.number == tensor_f::kExternalData && f.wire == pb::kLen) {
      auto [key, value] = KeyValue(f.bytes);
      auto to = key == "location" ? renames.find(value) : renames.end();
      if (to != renames.end()) {
        AppendExternalDataEntry(&t, key, to->second);
        renamed = true;
        continue;
      }
    }
    t.append(f.raw);
  }
  if (!r.ok() || !renamed) return false;
  pb::AppendLen(graph, graph_f::kInitializer, t);
  return true;
}

// The model with `claimed` nodes removed, `replacement` nodes written in place of the node at their index and
// `prologue` nodes (serialized NodeProtos reading only graph inputs and constants) first. With
// `drop_dead`, nodes whose outputs nothing reads any more (shape arithmetic of removed reshapes, a mask
// no longer used) go too, and the result is checked: nullopt when a kept node would read a removed value.
std::optional<std::string> EmitModel(const ParsedModel& pm, const std::vector<char>& claimed,
                                     const std::unordered_map<size_t, std::string>& replacement,
                                     const std::vector<std::string>& prologue, bool drop_dead, bool winnow_ops,
                                     const RewriteOptions& o) {
  // Weights kept from `pm.model` go out as external data into it (o.external_weights), and references to the
  // model's own external files under their new names (o.external_renames).
  const std::string_view external_location = o.external_weights;
  const size_t external_min_bytes = o.external_min_bytes;
  const Graph& g = pm.g;
  std::vector<char> live(g.nodes.size(), 1);
  std::unordered_set<std::string_view> needed(g.graph_outputs.begin(), g.graph_outputs.end());
  if (drop_dead) {
    std::unordered_map<size_t, Node> reps;  // replacement nodes, parsed: what they read and write
    for (const auto& [i, bytes] : replacement)
      if (!ParseNode(bytes, &reps[i])) return std::nullopt;
    auto node_at = [&](size_t i) -> const Node& {
      auto it = reps.find(i);
      return it != reps.end() ? it->second : g.nodes[i];
    };
    // Backwards over the (topologically ordered) node list: a node is live when a graph output or a live
    // node reads one of its outputs.
    for (size_t i = g.nodes.size(); i-- > 0;) {
      if (claimed[i] && !reps.count(i)) {
        live[i] = 0;
        continue;
      }
      const Node& n = node_at(i);
      bool used = false;
      for (auto out : n.outputs) used = used || (!out.empty() && needed.count(out));
      live[i] = used;
      if (used)
        for (auto in : n.inputs) needed.insert(in);
    }
    // Every node kept must read only values that still exist: graph inputs, constants, outputs of kept,
    // replacement or prologue nodes. Otherwise a match removed something a node outside it still reads.
    std::unordered_set<std::string_view> available(pm.graph_inputs.begin(), pm.graph_inputs.end());
    for (const auto& [name, payload] : g.constants) available.insert(name);
    std::vector<Node> extra(prologue.size());
    for (size_t k = 0; k < prologue.size(); ++k) {
      if (!ParseNode(prologue[k], &extra[k])) return std::nullopt;
      for (auto out : extra[k].outputs) available.insert(out);
      for (auto in : extra[k].inputs) needed.insert(in);
    }
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (!live[i]) continue;
      for (auto in : node_at(i).inputs)
        if (!in.empty() && !available.count(in)) return std::nullopt;
      for (auto out : node_at(i).outputs) available.insert(out);
    }
  }
  std::string graph;
  if (external_location.empty()) graph.reserve(pm.graph_bytes.size());
  bool prologue_written = false;
  size_t node_index = 0;
  for (const pb::Field& f : pm.graph_fields) {
    if (f.number == graph_f::kNode && f.wire == pb::kLen) {
      if (!prologue_written) {
        for (const auto& n : prologue) pb::AppendLen(&graph, graph_f::kNode, n);
        prologue_written = true;
      }
      const size_t i = node_index++;
      if (!live[i]) continue;
      auto it = replacement.find(i);
      if (it != replacement.end()) pb::AppendLen(&graph, graph_f::kNode, it->second);
      else if (!claimed[i]) graph.append(f.raw);
      continue;
    }
    if (drop_dead && f.number == graph_f::kInitializer && f.wire == pb::kLen) {
      // Weights only removed nodes read (the projections packed into one) go with them, unless the
      // initializer is also declared a graph input (then removing it would make that input required).
      pb::Reader tr(f.bytes);
      pb::Field tf;
      std::string_view name;
      while (tr.Next(&tf))
        if (tf.number == tensor_f::kName && tf.wire == pb::kLen) name = tf.bytes;
      if (!name.empty() && !needed.count(name) && !pm.graph_inputs.count(name)) continue;
    }
    if (!external_location.empty() && f.number == graph_f::kInitializer && f.wire == pb::kLen &&
        AppendExternalized(f, pm.model, external_location, external_min_bytes, &graph))
      continue;
    if (!o.external_renames.empty() && f.number == graph_f::kInitializer && f.wire == pb::kLen &&
        AppendRenamed(f, o.external_renames, &graph))
      continue;
    graph.append(f.raw);
  }
  std::string out;
  out.reserve((external_location.empty() ? pm.model.size() : graph.size() + 4096) + 64);
  pb::Reader r(pm.model);
  pb::Field f;
  while (r.Next(&f)) {
    if (f.number == model_f::kGraph && f.wire == pb::kLen) pb::AppendLen(&out, model_f::kGraph, graph);
    else out.append(f.raw);
  }
  if (!pm.has_ms_domain) {
    std::string opset;
    pb::AppendLen(&opset, opset_f::kDomain, "com.microsoft");
    pb::AppendVarintField(&opset, opset_f::kVersion, 1);
    pb::AppendLen(&out, model_f::kOpsetImport, opset);
  }
  if (winnow_ops) {
    std::string opset;
    pb::AppendLen(&opset, opset_f::kDomain, "com.winnow");
    pb::AppendVarintField(&opset, opset_f::kVersion, 1);
    pb::AppendLen(&out, model_f::kOpsetImport, opset);
  }
  return out;
}

// The attention blocks of a parsed model, each claimed once; empty (with `*skipped` set) when the model cannot be
// rewritten or has no attention_mask input.
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

// The layer norm fusions of graph_rewrite.h, claimed in `claimed`, written into `replacement`. `exact`: float32
// norms become com.winnow LayerNorm; `inexact`: the others (all of them without `exact`) SkipLayerNormalization.
// `*exact_count` counts the former.
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

}  // namespace

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
  if ((o.layer_norms && !norms) || (o.attention && !attention)) result.skipped = "the graph quantizes activations";
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
  if (!matches.empty()) {
    if (o.pack_qkv) forms.push_back(kPacked);
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
    if (fused_norms == 0 && index == 0) return result;
    std::optional<std::string> out =
        form == kNormsOnly ? EmitModel(pm, claimed, replacement, {}, false, exact_norms > 0, o)
                           : EmitModel(pm, claimed, replacement, prologue, true, exact_norms > 0, o);
    if (!out) {
      result.skipped = "a node outside the attention blocks reads a value inside one";
      continue;
    }
    result.model = std::move(*out);
    result.skip_layer_norms = fused_norms;
    result.exact_layer_norms = exact_norms;
    result.attentions = index;
    result.packed_qkv = packed;
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
