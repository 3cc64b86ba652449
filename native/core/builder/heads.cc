// What every architecture writes after its encoder: the task's graph outputs, and the finished model.
#include "builder/architectures.h"

namespace winnow::builder {

StatusOr<int64_t> HeadLabels(const Weights& w, const std::string& head) {
  const std::vector<int64_t> shape = w.Shape(head + "weight");
  if (shape.size() != 2)
    return Status(codes::kCheckpointInvalid, w.checkpoint().dir() + "/" + w.checkpoint().source() +
                                                 " has no classification head (" + head +
                                                 "weight): it is not a sequence-classification checkpoint");
  return shape[0];
}

void HiddenStateOutput(GraphBuilder& b, std::string_view x, int64_t hidden) {
  b.Named("Identity", {x}, "last_hidden_state");
  b.FloatOutput("last_hidden_state", {{-1, "batch"}, {-1, "sequence"}, {hidden, ""}});
}

Status TaskOutputs(GraphBuilder& b, const BuildOptions& o, std::string_view logits, int64_t labels,
                   std::string_view tokens, int64_t hidden) {
  const char* name = o.task == Task::kPruning ? "ranking_logits" : "logits";
  b.Named("Identity", {logits}, name);
  b.FloatOutput(name, {{-1, "batch"}, {labels, ""}});
  if (o.task != Task::kPruning) return Status::Ok();
  WINNOW_ASSIGN_OR_RETURN(std::string keep, b.Linear(tokens, o.pruning_head, hidden, 2));
  b.Named("Identity", {keep}, "pruning_logits");
  b.FloatOutput("pruning_logits", {{-1, "batch"}, {-1, "sequence"}, {2, ""}});
  return Status::Ok();
}

BuiltModel FinishModel(const GraphBuilder& b, std::string architecture, std::string_view graph_name) {
  BuiltModel out;
  out.architecture = std::move(architecture);
  out.onnx = b.Finish(graph_name);
  out.inline_bytes = b.inline_bytes();
  out.external_bytes = b.external_bytes();
  return out;
}

}  // namespace winnow::builder
