// peft LoRA adapters merged into the base weights at load, as peft's merge_and_unload computes them:
// W += scale * B @ A per targeted module (scale = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora; r and
// alpha per module from rank_pattern / alpha_pattern), and the tensors an adapter saves whole (modules_to_save such
// as a sequence-classification head, biases with bias "all" / "lora_only") put in place of the base's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/weights.h"
#include "common/status.h"

namespace winnow::builder {

struct AdapterOptions {
  // Whether a base weight (full stored name) is stored [in, out], like GPT-2's Conv1D: peft then merges (B A)^T
  // (its fan_in_fan_out follows the module type, not the config). Unset: every weight is nn.Linear's [out, in].
  std::function<bool(std::string_view name)> stored_in_out;
};

struct AdapterSummary {
  int merged = 0;    // LoRA modules merged into a base weight
  int replaced = 0;  // tensors the adapter saves whole, put in place of (or beside) the base's
};

// Merges the adapter in `adapter_dir` (adapter_config.json + adapter_model.safetensors / adapter_model.bin) into
// `w` through Weights::Replace. Errors: codes::kModelUnsupported (a peft type or LoRA setting Winnow does not merge:
// DoRA, AdaLoRA, IA3, ..., LoRA on conv layers, initialisations that change the base weights), codes::kConfigInvalid
// (a bad adapter_config.json value, named), codes::kCheckpointInvalid (an A / B / saved tensor that does not fit
// the base weight, or a target the base lacks, named), codes::kModelNotFound (no adapter weights).
// `summary`, when given, counts what was merged.
Status MergeAdapter(const std::string& adapter_dir, Weights* w, const AdapterOptions& options = {},
                    AdapterSummary* summary = nullptr);

namespace lora {

class Pattern;  // a Python regular expression (PCRE2), compiled once

// adapter_config.json as the merge reads it.
struct Config {
  std::string path;  // the file, for messages
  int64_t r = 8;
  double alpha = 8;
  bool rslora = false;
  bool lora_bias = false;
  std::string bias = "none";
  // target_modules: a list (a module name equal to an entry or ending in "." + entry) or one regular expression
  // (fullmatch); "all-linear" and null take every module the adapter holds weights for.
  bool target_all = false;
  std::vector<std::string> target_list;
  std::shared_ptr<Pattern> target_regex;
  std::vector<std::string> exclude_list;
  std::shared_ptr<Pattern> exclude_regex;
  std::vector<std::shared_ptr<Pattern>> modules_to_save;  // (^|.*\.)<name>($|\..*)
  bool layers_given = false;                              // layers_to_transform
  std::vector<int64_t> layers;
  std::vector<std::shared_ptr<Pattern>> layers_pattern;  // .*?\.<pattern>\.(\d+)\. (or .*?\.[^.]*\.(\d+)\.)
  std::vector<std::pair<std::shared_ptr<Pattern>, int64_t>> rank_pattern;  // (.*\.)?(<key>)$, in file order
  std::vector<std::pair<std::shared_ptr<Pattern>, double>> alpha_pattern;
};

// Reads the config: codes::kModelUnsupported / kConfigInvalid as MergeAdapter describes.
StatusOr<Config> ParseConfig(const nlohmann::ordered_json& j, const std::string& path);
// peft's check_target_module_exists for a module name as the trained model named it
// ("bert.encoder.layer.0.attention.self.query").
StatusOr<bool> Targets(const Config& c, const std::string& module);
// The module's rank and scale (rank_pattern / alpha_pattern: the first key, in file order, matching the name's end).
struct Scaling {
  int64_t r;
  double alpha, scale;
};
StatusOr<Scaling> ScalingOf(const Config& c, const std::string& module);

// w[out, in] += scale * b[out, r] @ a[r, in]; with `transposed`, w is [in, out] and gets (b @ a)^T.
void AddLowRank(const float* b, const float* a, int64_t out, int64_t r, int64_t in, float scale, bool transposed,
                float* w);

}  // namespace lora
}  // namespace winnow::builder
