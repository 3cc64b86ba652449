// libFuzzer target for the load-time graph rewrite (native/core/runtime/graph_rewrite.h): arbitrary bytes
// as an ONNX ModelProto. FuseSkipLayerNorm must return a Status, never crash or read out of bounds; when it
// rewrites, its output must parse again and hold nothing more to fuse (the rewrite is idempotent).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "runtime/graph_rewrite.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view model(reinterpret_cast<const char*>(data), size);
  auto r = winnow::rt::FuseSkipLayerNorm(model);
  if (!r.ok() || r->skip_layer_norms == 0) return 0;
  auto again = winnow::rt::FuseSkipLayerNorm(r->model);
  if (!again.ok() || again->skip_layer_norms != 0) {
    std::fprintf(stderr, "INVARIANT: rewritten model %s (%d more fused)\n", again.ok() ? "fused again" : "unreadable",
                 again.ok() ? again->skip_layer_norms : -1);
    std::abort();
  }
  return 0;
}
