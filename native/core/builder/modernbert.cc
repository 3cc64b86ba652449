#include "builder/architectures.h"

namespace winnow::builder {

// Placeholder until the ModernBERT graph lands.
StatusOr<BuiltModel> BuildModernBert(const ConfigReader& c, Weights*, const BuildOptions&) {
  return Status(codes::kModelUnsupported, c.path() + ": ModernBERT is not built from weights yet");
}

}  // namespace winnow::builder
