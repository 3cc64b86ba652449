#include "builder/lora.h"

namespace winnow::builder {

// Placeholder until the merge lands.
Status MergeAdapter(const std::string& adapter_dir, Weights*) {
  return Status(codes::kModelUnsupported, adapter_dir + ": LoRA adapters are not merged yet");
}

}  // namespace winnow::builder
