// The graph of each architecture family (one file each), for builder.cc's dispatch.
#pragma once

#include "builder/builder.h"
#include "builder/config_reader.h"
#include "builder/graph_builder.h"

namespace winnow::builder {

// bert, roberta, xlm-roberta, camembert, electra, distilbert.
StatusOr<BuiltModel> BuildBertFamily(const ConfigReader& c, Weights* w, const BuildOptions& o);
// modernbert: ModernBertModel / ModernBertForSequenceClassification (its pruning head reads the last layer's
// output, before final_norm).
StatusOr<BuiltModel> BuildModernBert(const ConfigReader& c, Weights* w, const BuildOptions& o);
// deberta-v2 (DeBERTa v2 and v3).
StatusOr<BuiltModel> BuildDebertaV2(const ConfigReader& c, Weights* w, const BuildOptions& o);

// ---- shared by the families (heads.cc)
// The label count of a classification head whose last Linear is `head` + "weight"; codes::kCheckpointInvalid when
// the checkpoint has no such tensor (not a sequence-classification checkpoint).
StatusOr<int64_t> HeadLabels(const Weights& w, const std::string& head);
// Task::kFeatureExtraction's output: last_hidden_state [batch, sequence, hidden].
void HiddenStateOutput(GraphBuilder& b, std::string_view x, int64_t hidden);
// A classification task's outputs: `logits` [batch, labels] as "logits" (or "ranking_logits" for kPruning), and for
// kPruning "pruning_logits" [batch, sequence, 2], o.pruning_head's Linear over `tokens` [batch, sequence, hidden].
Status TaskOutputs(GraphBuilder& b, const BuildOptions& o, std::string_view logits, int64_t labels,
                   std::string_view tokens, int64_t hidden);
// The ModelProto and its weight counts.
BuiltModel FinishModel(const GraphBuilder& b, std::string architecture, std::string_view graph_name);

}  // namespace winnow::builder
