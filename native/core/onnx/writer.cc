#include "onnx/writer.h"

#include <cstring>

#include "common/half.h"

namespace winnow::onnx {

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

std::string StringAttribute(std::string_view name, std::string_view v) {
  std::string a;
  pb::AppendLen(&a, attr_f::kName, name);
  pb::AppendLen(&a, attr_f::kS, v);
  pb::AppendVarintField(&a, attr_f::kType, kAttrString);
  return a;
}

std::string IntsAttribute(std::string_view name, const std::vector<int64_t>& v) {
  std::string a;
  pb::AppendLen(&a, attr_f::kName, name);
  for (int64_t x : v) pb::AppendVarintField(&a, attr_f::kInts, static_cast<uint64_t>(x));
  pb::AppendVarintField(&a, attr_f::kType, kAttrInts);
  return a;
}

std::string TensorAttribute(std::string_view name, std::string_view tensor) {
  std::string a;
  pb::AppendLen(&a, attr_f::kName, name);
  pb::AppendLen(&a, attr_f::kT, tensor);
  pb::AppendVarintField(&a, attr_f::kType, kAttrTensor);
  return a;
}

std::string RawTensor(std::string_view name, uint64_t data_type, const std::vector<int64_t>& dims, std::string_view raw) {
  std::string t;
  for (int64_t d : dims) pb::AppendVarintField(&t, tensor_f::kDims, static_cast<uint64_t>(d));
  pb::AppendVarintField(&t, tensor_f::kDataType, data_type);
  pb::AppendLen(&t, tensor_f::kName, name);
  pb::AppendLen(&t, tensor_f::kRawData, raw);
  return t;
}

std::string FloatTensor(std::string_view name, const std::vector<int64_t>& dims, const std::vector<float>& values) {
  return RawTensor(name, dtype::kFloat, dims,
                   std::string_view(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
}

std::string Int64Tensor(std::string_view name, const std::vector<int64_t>& dims, const std::vector<int64_t>& values) {
  return RawTensor(name, dtype::kInt64, dims,
                   std::string_view(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t)));
}

std::string ExternalTensor(std::string_view name, uint64_t data_type, const std::vector<int64_t>& dims,
                           std::string_view location, uint64_t offset, uint64_t length) {
  std::string t;
  for (int64_t d : dims) pb::AppendVarintField(&t, tensor_f::kDims, static_cast<uint64_t>(d));
  pb::AppendVarintField(&t, tensor_f::kDataType, data_type);
  pb::AppendLen(&t, tensor_f::kName, name);
  AppendExternalDataEntry(&t, "location", location);
  AppendExternalDataEntry(&t, "offset", std::to_string(offset));
  AppendExternalDataEntry(&t, "length", std::to_string(length));
  pb::AppendVarintField(&t, tensor_f::kDataLocation, 1);  // EXTERNAL
  return t;
}

void AppendExternalDataEntry(std::string* tensor, std::string_view key, std::string_view value) {
  std::string e;
  pb::AppendLen(&e, 1, key);
  pb::AppendLen(&e, 2, value);
  pb::AppendLen(tensor, tensor_f::kExternalData, e);
}

std::string NodeProto(std::string_view op, const Names& inputs, const Names& outputs, std::string_view name,
                      const std::vector<std::string>& attributes, std::string_view domain) {
  std::string n;
  for (std::string_view in : inputs.v) pb::AppendLen(&n, node_f::kInput, in);
  for (std::string_view out : outputs.v) pb::AppendLen(&n, node_f::kOutput, out);
  pb::AppendLen(&n, node_f::kName, name);
  pb::AppendLen(&n, node_f::kOpType, op);
  for (const std::string& a : attributes) pb::AppendLen(&n, node_f::kAttribute, a);
  if (!domain.empty()) pb::AppendLen(&n, node_f::kDomain, domain);
  return n;
}

std::string ValueInfo(std::string_view name, uint64_t elem_type, const std::vector<Dim>& dims) {
  std::string vi;
  pb::AppendLen(&vi, value_f::kName, name);
  if (elem_type == 0) return vi;
  std::string shape, tensor, type;
  for (const Dim& d : dims) {
    std::string dim;
    if (!d.param.empty()) pb::AppendLen(&dim, dim_f::kParam, d.param);
    else pb::AppendVarintField(&dim, dim_f::kValue, static_cast<uint64_t>(d.size));
    pb::AppendLen(&shape, shape_f::kDim, dim);
  }
  pb::AppendVarintField(&tensor, tensor_type_f::kElemType, elem_type);
  pb::AppendLen(&tensor, tensor_type_f::kShape, shape);
  pb::AppendLen(&type, type_f::kTensorType, tensor);
  pb::AppendLen(&vi, value_f::kType, type);
  return vi;
}

void GraphWriter::Node(std::string_view op, const Names& inputs, const Names& outputs,
                       const std::vector<std::string>& attributes, std::string_view domain, std::string_view name) {
  const std::string auto_name = name.empty() ? std::string(op) + "_" + std::to_string(count_) : std::string();
  NodePayload(NodeProto(op, inputs, outputs, name.empty() ? std::string_view(auto_name) : name, attributes, domain));
}

std::string GraphWriter::Graph(std::string_view name) const {
  std::string g = nodes_;
  pb::AppendLen(&g, graph_f::kName, name);
  g += initializers_;
  g += inputs_;
  g += outputs_;
  return g;
}

std::string OpsetImportProto(const OpsetImport& opset) {
  std::string o;
  pb::AppendLen(&o, opset_f::kDomain, opset.domain);
  pb::AppendVarintField(&o, opset_f::kVersion, static_cast<uint64_t>(opset.version));
  return o;
}

std::string ModelProto(std::string_view graph, const std::vector<OpsetImport>& opsets, int64_t ir_version) {
  std::string m;
  pb::AppendVarintField(&m, model_f::kIrVersion, static_cast<uint64_t>(ir_version));
  pb::AppendLen(&m, model_f::kGraph, graph);
  for (const OpsetImport& o : opsets) pb::AppendLen(&m, model_f::kOpsetImport, OpsetImportProto(o));
  return m;
}

}  // namespace winnow::onnx
