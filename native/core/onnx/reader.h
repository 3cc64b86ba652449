// Reading ONNX models: nodes, attributes and constant tensors decoded from the wire format as far as Winnow's
// passes need, and a Graph index (producers, consumers, constants) over a node list. Views into the model bytes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "onnx/proto.h"
#include "onnx/wire.h"

namespace winnow::onnx {

// External data files of a model, by location, mapped in memory by the caller.
using ExternalFiles = std::map<std::string, std::string_view, std::less<>>;

struct Node {
  std::string_view raw;  // the whole NodeProto field, to copy through unchanged
  std::vector<std::string_view> inputs, outputs;
  std::string_view name, op, domain;
  std::vector<std::string_view> attributes;  // AttributeProto payloads
  bool has_subgraph = false;
};

Status Malformed(const std::string& what);  // codes::kOnnxInvalid, "malformed ONNX protobuf: <what>"
bool ParseNode(std::string_view bytes, Node* n);

// One attribute, decoded as far as the rewrites need.
struct Attr {
  bool found = false;
  std::optional<float> f;
  std::optional<int64_t> i;
  std::optional<std::string_view> t;  // TensorProto payload
  std::optional<std::string_view> s;  // a string attribute's bytes
  std::vector<int64_t> ints;
};
Attr FindAttr(const Node& n, std::string_view name);

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
std::pair<std::string_view, std::string_view> KeyValue(std::string_view entry);
std::optional<uint64_t> Decimal(std::string_view s);
// `files`: the model's external data files, from which an external tensor's bytes are read (`resolved`); null:
// external tensors stay unresolved.
std::optional<Tensor> ParseTensor(std::string_view bytes, const ExternalFiles* files);
size_t NumElements(const Tensor& t);
std::optional<double> ScalarValue(const Tensor& t);
std::optional<std::vector<int64_t>> IntValues(const Tensor& t);

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

bool IsOp(const Node& n, std::string_view op);  // op in the default domain
// The operand of a binary node that is not `value`, when the node reads `value` exactly once.
std::optional<std::string_view> OtherOperand(const Node& n, std::string_view value);

}  // namespace winnow::onnx
