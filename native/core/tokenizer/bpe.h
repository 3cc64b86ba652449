// Extras of the BPE model beyond the Model contract (model.h declares LoadBpe).
#pragma once

#include "tokenizer/model.h"

namespace winnow::tok {

// Turns the per-piece result cache of a BPE model on or off (benchmarks and tests; on by default).
// No-op for other models. Not thread-safe: call before the model is shared.
void SetBpeCacheEnabledForTesting(Model* model, bool enabled);

}  // namespace winnow::tok
