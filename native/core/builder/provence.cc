#include "builder/provence.h"

#include <array>
#include <string_view>

#include "loaders/model_folder.h"

namespace winnow::builder {

namespace {

constexpr std::array<const char*, 5> kRankerConfigKeys = {"base_model_config", "ranking_model_config",
                                                          "backbone_config", "encoder_config", "model_config"};
// OpenProvence's own keys: not the ranker's when its fields sit at top level.
constexpr std::array<const char*, 17> kProvenceKeys = {
    "model_type", "auto_map", "architectures", "mode", "base_model_name_or_path", "tokenizer_name_or_path",
    "pruning_config", "max_length", "num_pruning_labels", "encoder_architecture", "default_threadshold",
    "default_threshold", "base_model_type", "backbone_model_type", "encoder_model_type", "splitter_default_language",
    "standalone_process_default_language"};
constexpr std::array<std::pair<const char*, const char*>, 11> kArchitectureTypes = {{
    {"ModernBert", "modernbert"}, {"Bert", "bert"}, {"XLMRoberta", "xlm-roberta"}, {"Roberta", "roberta"},
    {"DebertaV2", "deberta-v2"}, {"Deberta", "deberta"}, {"Electra", "electra"}, {"DistilBert", "distilbert"},
    {"Camembert", "camembert"}, {"NewModel", "new"}, {"EuroBert", "eurobert"},
}};

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

}  // namespace

bool IsProvenceConfig(const nlohmann::json& config) {
  auto it = config.find("model_type");
  return it != config.end() && it->is_string() &&
         (*it == "open_provence" || *it == "provence" || *it == "openprovence");
}

StatusOr<nlohmann::json> ProvenceRankerConfig(const nlohmann::json& config, const std::string& config_path) {
  for (const char* key : kRankerConfigKeys) {
    auto it = config.find(key);
    if (it == config.end() || !it->is_object() || it->empty()) continue;
    auto type = it->find("model_type");
    if (type == it->end() || !type->is_string() || type->get<std::string>().empty())
      return Status(codes::kConfigInvalid,
                    config_path + ": " + key + " has no model_type; cannot tell which ranker to build");
    return *it;
  }
  std::string type;
  for (const char* key : {"base_model_type", "backbone_model_type", "encoder_model_type"}) {
    auto it = config.find(key);
    if (it != config.end() && it->is_string() && !it->get<std::string>().empty()) {
      type = it->get<std::string>();
      break;
    }
  }
  std::string architecture;
  if (auto it = config.find("architectures"); it != config.end() && it->is_array()) {
    constexpr std::string_view kSuffix = "ForSequenceClassification";
    for (const auto& a : *it)
      if (a.is_string() && a.get<std::string>().ends_with(kSuffix)) {
        architecture = a.get<std::string>();
        break;
      }
    if (type.empty() && !architecture.empty()) {
      const std::string base = architecture.substr(0, architecture.size() - kSuffix.size());
      for (const auto& [name, t] : kArchitectureTypes)
        if (base == name) type = t;
      if (type.empty())
        return Status(codes::kConfigInvalid, config_path + ": cannot tell the ranker's model_type from architecture " +
                                                 architecture + "; add base_model_type");
    }
  }
  if (type.empty())
    return Status(codes::kConfigInvalid,
                  config_path + ": an OpenProvence config with no ranker config: expected one of base_model_config, "
                                "ranking_model_config, backbone_config, encoder_config, model_config (an object with "
                                "model_type), or the ranker's fields at top level with base_model_type or "
                                "architectures [*ForSequenceClassification]");
  nlohmann::json flat = nlohmann::json::object();
  for (const auto& [k, v] : config.items()) {
    bool own = false;
    for (const char* key : kProvenceKeys) own = own || k == key;
    if (!own) flat[k] = v;
  }
  flat["model_type"] = type;
  if (!architecture.empty()) flat["architectures"] = nlohmann::json::array({architecture});
  if (!flat.contains("hidden_size"))
    return Status(codes::kConfigInvalid, config_path + ": the ranker's fields were expected at top level (model_type " +
                                             type + ") but there is no hidden_size");
  return flat;
}

StatusOr<double> PruningThreshold(const std::vector<const nlohmann::json*>& configs,
                                  const std::vector<std::string>& paths) {
  for (size_t i = 0; i < configs.size(); ++i) {
    const nlohmann::json* c = configs[i];
    if (!c || !c->is_object()) continue;
    for (const char* key :
         {"default_threadshold", "default_threshold", "default_pruning_threshold", "pruning_threshold", "threshold"}) {
      auto it = c->find(key);
      if (it == c->end() || it->is_null()) continue;
      if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1)
        return Status(codes::kConfigInvalid, paths[i] + ": " + key + " must be a number between 0 and 1, not " +
                                                 loaders::JsonText(*it));
      return it->get<double>();
    }
  }
  return -1.0;
}

bool IsSentenceTransformersPruningFolder(const std::string& dir) {
  return loaders::FileExists(loaders::JoinPath(dir, "pruning_encoder_config.json")) ||
         (loaders::DirExists(loaders::JoinPath(dir, "ranking_model")) &&
          loaders::DirExists(loaders::JoinPath(dir, "pruning_head")));
}

StatusOr<std::string> FindPruningHead(const checkpoint::Checkpoint& ckpt, const std::string& under, int64_t labels) {
  const std::string file = ckpt.dir() + "/" + ckpt.source();
  std::vector<std::string> weights, all;
  for (const auto& [name, t] : ckpt.tensors()) {
    if (!name.starts_with(under)) continue;
    all.push_back(name);
    if (name.ends_with("classifier.weight")) weights.push_back(name);
  }
  if (weights.size() != 1) {
    weights.clear();
    for (const std::string& name : all) {
      const checkpoint::Tensor* t = ckpt.Get(name);
      if (name.ends_with("weight") && t->shape.size() == 2 && t->shape[0] == labels) weights.push_back(name);
    }
  }
  if (weights.size() != 1) {
    std::string names;
    for (const std::string& n : weights.empty() ? all : weights) names += (names.empty() ? "" : ", ") + n;
    return Status(codes::kCheckpointInvalid,
                  file + ": cannot tell the pruning head's Linear(hidden, " + std::to_string(labels) + ") (" +
                      (weights.empty() ? "tensors under \"" + under + "\": " : "candidates: ") +
                      (names.empty() ? std::string("none") : names) + ")");
  }
  const std::string prefix = weights[0].substr(0, weights[0].size() - std::string_view("weight").size());
  for (const std::string& n : all)
    if (n != prefix + "weight" && n != prefix + "bias")
      return Status(codes::kCheckpointInvalid, file + ": tensor " + n + " beside the pruning head's Linear (" + prefix +
                                                   "weight): heads with more than one Linear are not built");
  const checkpoint::Tensor* w = ckpt.Get(weights[0]);
  if (w->shape.size() != 2 || w->shape[0] != labels)
    return Status(codes::kCheckpointInvalid, file + ": the pruning head " + weights[0] + " has shape " +
                                                 ShapeText(w->shape) + "; expected [" + std::to_string(labels) +
                                                 ", hidden] (prune, keep)");
  if (const checkpoint::Tensor* b = ckpt.Get(prefix + "bias"); b && b->shape != std::vector<int64_t>{labels})
    return Status(codes::kCheckpointInvalid, file + ": the pruning head's bias " + prefix + "bias has shape " +
                                                 ShapeText(b->shape) + "; expected [" + std::to_string(labels) + "]");
  return prefix;
}

Status AddPruningHead(const checkpoint::Checkpoint& from, const std::string& under, int64_t labels,
                      const std::string& name, Weights* weights) {
  WINNOW_ASSIGN_OR_RETURN(std::string prefix, FindPruningHead(from, under, labels));
  const checkpoint::Tensor* w = from.Get(prefix + "weight");
  WINNOW_ASSIGN_OR_RETURN(std::vector<float> values, checkpoint::ToFloat(*w, prefix + "weight"));
  std::vector<float> bias(static_cast<size_t>(labels), 0.0f);
  if (const checkpoint::Tensor* b = from.Get(prefix + "bias")) {
    WINNOW_ASSIGN_OR_RETURN(bias, checkpoint::ToFloat(*b, prefix + "bias"));
  }
  weights->Replace(name + "weight", OwnedTensor{w->shape, std::move(values)});
  weights->Replace(name + "bias", OwnedTensor{{labels}, std::move(bias)});
  return Status::Ok();
}

}  // namespace winnow::builder
