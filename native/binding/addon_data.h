// Per-environment state (constructors), so the addon also works in worker_threads.
#pragma once

#include <napi.h>

namespace winnow::binding {

struct AddonData {
  Napi::FunctionReference cross_encoder;
  Napi::FunctionReference tokenizer;
  Napi::FunctionReference sentence_encoder;
  Napi::FunctionReference static_model;
  Napi::FunctionReference pruning_encoder;
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace winnow::binding
