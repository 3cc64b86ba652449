#include "builder/architectures.h"

namespace winnow::builder {

// Placeholder until the DeBERTa-v2 graph lands.
StatusOr<BuiltModel> BuildDebertaV2(const ConfigReader& c, Weights*, const BuildOptions&) {
  return Status(codes::kModelUnsupported, c.path() + ": DeBERTa-v2 is not built from weights yet");
}

}  // namespace winnow::builder
