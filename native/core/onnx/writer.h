// Writing ONNX models: attribute, tensor, node and value-info payloads, a graph of them, and the model around it.
// Each function returns the serialized message payload (what a parent field wraps with pb::AppendLen).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "onnx/proto.h"
#include "onnx/wire.h"

namespace winnow::onnx {

// A list of value names, from a braced list or either kind of string vector.
struct Names {
  std::vector<std::string_view> v;
  Names(std::initializer_list<std::string_view> l) : v(l) {}
  Names(const std::vector<std::string_view>& s) : v(s) {}  // NOLINT: implicit on purpose
  Names(const std::vector<std::string>& s) : v(s.begin(), s.end()) {}  // NOLINT
};

// AttributeProto payloads.
std::string FloatAttribute(std::string_view name, float v);
std::string IntAttribute(std::string_view name, int64_t v);
std::string IntsAttribute(std::string_view name, const std::vector<int64_t>& v);
std::string StringAttribute(std::string_view name, std::string_view v);
std::string TensorAttribute(std::string_view name, std::string_view tensor);

// TensorProto payloads: raw_data little-endian, as exporters write them.
std::string RawTensor(std::string_view name, uint64_t data_type, const std::vector<int64_t>& dims, std::string_view raw);
std::string FloatTensor(std::string_view name, const std::vector<int64_t>& dims, const std::vector<float>& values);
std::string Int64Tensor(std::string_view name, const std::vector<int64_t>& dims, const std::vector<int64_t>& values);
// A TensorProto whose data lies outside the model: `length` bytes at `offset` of the external file `location`.
std::string ExternalTensor(std::string_view name, uint64_t data_type, const std::vector<int64_t>& dims,
                           std::string_view location, uint64_t offset, uint64_t length);
// Appends an external_data entry (location, offset, length) to a TensorProto being written (KeyValue's inverse).
void AppendExternalDataEntry(std::string* tensor, std::string_view key, std::string_view value);

// NodeProto payload. Empty input names are kept (optional inputs skipped by position).
std::string NodeProto(std::string_view op, const Names& inputs, const Names& outputs, std::string_view name,
                      const std::vector<std::string>& attributes = {}, std::string_view domain = {});

// ValueInfoProto payload: a tensor of `elem_type` (0: no type written) whose dims are each a fixed size (>= 0) or,
// where `params[i]` is non-empty, a symbolic one.
struct Dim {
  int64_t size = -1;
  std::string param;
};
std::string ValueInfo(std::string_view name, uint64_t elem_type = 0, const std::vector<Dim>& dims = {});

// A GraphProto being written: nodes in topological order, initializers, inputs, outputs.
class GraphWriter {
 public:
  // Appends a node; an empty `name` becomes "<op>_<index>".
  void Node(std::string_view op, const Names& inputs, const Names& outputs,
            const std::vector<std::string>& attributes = {}, std::string_view domain = {}, std::string_view name = {});
  void NodePayload(std::string_view node) { pb::AppendLen(&nodes_, graph_f::kNode, node); ++count_; }
  void Initializer(std::string_view tensor) { pb::AppendLen(&initializers_, graph_f::kInitializer, tensor); }
  void Input(std::string_view value_info) { pb::AppendLen(&inputs_, graph_f::kInput, value_info); }
  void Output(std::string_view value_info) { pb::AppendLen(&outputs_, graph_f::kOutput, value_info); }
  size_t node_count() const { return count_; }
  std::string Graph(std::string_view name) const;  // the GraphProto payload

 private:
  std::string nodes_, initializers_, inputs_, outputs_;
  size_t count_ = 0;
};

struct OpsetImport {
  std::string domain;  // "" for the default domain
  int64_t version = 0;
};
std::string OpsetImportProto(const OpsetImport& opset);
// ModelProto bytes around a GraphProto payload.
std::string ModelProto(std::string_view graph, const std::vector<OpsetImport>& opsets, int64_t ir_version = 8);

}  // namespace winnow::onnx
