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

}  // namespace winnow::builder
