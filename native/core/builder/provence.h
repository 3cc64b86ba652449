// The source layouts Provence-style pruning rerankers ship in, read without Python:
//  - OpenProvence: config.json with model_type "open_provence" (the ranker's config embedded in it) and one
//    model.safetensors holding ranking_model.* and pruning_head.*;
//  - sentence-transformers PruningEncoder: pruning_encoder_config.json, ranking_model/ (a Hugging Face folder:
//    config.json + weights) and pruning_head/ (pytorch_model.bin or model.safetensors, its Linear(hidden, 2)).
// Ported from scripts/pruning/export_pruning_onnx.py, which reads the same layouts for the ONNX export.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "builder/weights.h"
#include "checkpoint/checkpoint.h"
#include "common/status.h"

namespace winnow::builder {

// OpenProvence's threshold when its config names none (its DEFAULT_PROCESS_THRESHOLD).
inline constexpr double kProvenceDefaultThreshold = 0.1;

// Whether config.json is an OpenProvence one (model_type "open_provence", or the older spellings).
bool IsProvenceConfig(const nlohmann::json& config);

// The ranker's config inside an OpenProvence config.json: a dict with its own model_type under
// base_model_config / ranking_model_config / backbone_config / encoder_config / model_config, or the ranker's
// fields at top level with base_model_type (backbone_model_type, encoder_model_type) or an architectures entry
// *ForSequenceClassification naming it. Errors: codes::kConfigInvalid naming the file and what was looked for.
StatusOr<nlohmann::json> ProvenceRankerConfig(const nlohmann::json& config, const std::string& config_path);

// The pruning threshold a layout's configs name: the first of default_threadshold (OpenProvence's spelling),
// default_threshold, default_pruning_threshold, pruning_threshold, threshold in `configs` order (nullptr entries
// skipped); -1 when none does. A value outside [0, 1] is codes::kConfigInvalid naming `paths[i]`.
StatusOr<double> PruningThreshold(const std::vector<const nlohmann::json*>& configs,
                                  const std::vector<std::string>& paths);

// A sentence-transformers PruningEncoder folder: pruning_encoder_config.json, or ranking_model/ beside
// pruning_head/.
bool IsSentenceTransformersPruningFolder(const std::string& dir);

// The pruning head's Linear among the tensors of `ckpt` whose names start with `under` ("pruning_head." in an
// OpenProvence checkpoint, "" in pruning_head/'s own): `under` + [prefix.]"classifier.", else the one 2-D weight
// with `labels` rows. Returns the Linear's full prefix (its names are prefix + "weight" / "bias"). Errors:
// codes::kCheckpointInvalid naming the file: no such Linear, more than one, other tensors beside it (weighted
// pooling heads are not built).
StatusOr<std::string> FindPruningHead(const checkpoint::Checkpoint& ckpt, const std::string& under, int64_t labels);

// Finds the pruning head under `under` in `from` (FindPruningHead) and puts it into `weights` as float32 under
// `name` + "weight" / "bias" (BuildOptions::pruning_head), with a zero bias when it has none.
Status AddPruningHead(const checkpoint::Checkpoint& from, const std::string& under, int64_t labels,
                      const std::string& name, Weights* weights);

}  // namespace winnow::builder
