#include "builder/builder.h"

#include "builder/architectures.h"
#include "builder/provence.h"

namespace winnow::builder {

StatusOr<BuiltModel> Build(const nlohmann::json& config, const std::string& config_path, Weights* weights,
                           const BuildOptions& options) {
  if (IsProvenceConfig(config)) {
    // OpenProvence: the ranker's own config is inside config.json; its weights sit under ranking_model.
    WINNOW_ASSIGN_OR_RETURN(nlohmann::json ranker, ProvenceRankerConfig(config, config_path));
    if (IsProvenceConfig(ranker))
      return Status(codes::kConfigInvalid, config_path + ": the ranker's config is an OpenProvence config again");
    return Build(ranker, config_path + " (the ranker's config)", weights, options);
  }
  ConfigReader c(config, config_path);
  WINNOW_ASSIGN_OR_RETURN(std::string type, c.String("model_type", ""));
  if (type == "bert" || type == "roberta" || type == "xlm-roberta" || type == "camembert" || type == "electra" ||
      type == "distilbert")
    return BuildBertFamily(c, weights, options);
  if (type == "modernbert") return BuildModernBert(c, weights, options);
  if (type == "deberta-v2") return BuildDebertaV2(c, weights, options);
  return Status(codes::kModelUnsupported,
                config_path + ": model_type " + (type.empty() ? std::string("(none)") : "\"" + type + "\"") +
                    " has no ONNX file and is not an architecture Winnow builds from weights (bert, roberta, "
                    "xlm-roberta, camembert, electra, distilbert, modernbert, deberta-v2); export it to ONNX");
}

}  // namespace winnow::builder
