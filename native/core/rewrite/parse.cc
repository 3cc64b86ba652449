#include "rewrite/rewrite_internal.h"

#include <algorithm>


namespace winnow::rt::rewrite {

bool Claim(const std::vector<size_t>& nodes, std::vector<char>* claimed) {
  for (size_t k : nodes)
    if ((*claimed)[k]) return false;
  for (size_t k : nodes) (*claimed)[k] = 1;
  return true;
}

namespace {

bool QuantizesActivations(const Node& n) {
  return n.op == "DynamicQuantizeLinear" || n.op == "QuantizeLinear" || n.op == "DynamicQuantizeMatMul" ||
         n.op == "MatMulInteger" || n.op == "QLinearMatMul" || n.op == "MatMulIntegerToFloat" ||
         (n.domain == "com.winnow" && n.op == "MatMulInt8");
}

}  // namespace

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
        else if (domain == "com.winnow") pm->has_winnow_domain = true;
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

}  // namespace winnow::rt::rewrite
