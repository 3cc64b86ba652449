// peft LoRA adapters merged into a checkpoint's weights at load.
#pragma once

#include <string>

#include "builder/weights.h"
#include "common/status.h"

namespace winnow::builder {

// Reads `adapter_dir` (adapter_config.json + adapter_model.safetensors / .bin) and replaces the weights it changes.
Status MergeAdapter(const std::string& adapter_dir, Weights* weights);

}  // namespace winnow::builder
