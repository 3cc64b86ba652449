#include "rewrite/rewrite_internal.h"

#include <algorithm>

#include "onnx/writer.h"

namespace winnow::rt::rewrite {

namespace {

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

}  // namespace

std::optional<std::string> EmitModel(const ParsedModel& pm, const std::vector<char>& claimed,
                                     const std::unordered_map<size_t, std::string>& replacement,
                                     const std::vector<std::string>& prologue, bool drop_dead, bool winnow_ops,
                                     const RewriteOptions& o, const std::vector<NewInitializer>& initializers) {
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
    for (const NewInitializer& t : initializers) available.insert(t.name);
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
  for (const NewInitializer& t : initializers) pb::AppendLen(&graph, graph_f::kInitializer, t.tensor);
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
  if (winnow_ops && !pm.has_winnow_domain) {
    std::string opset;
    pb::AppendLen(&opset, opset_f::kDomain, "com.winnow");
    pb::AppendVarintField(&opset, opset_f::kVersion, 1);
    pb::AppendLen(&out, model_f::kOpsetImport, opset);
  }
  return out;
}

}  // namespace winnow::rt::rewrite
