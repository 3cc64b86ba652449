// libFuzzer target for the load-time graph rewrites (native/core/rewrite/graph_rewrite.h): arbitrary bytes
// as an ONNX ModelProto. FuseSkipLayerNorm, FuseAttention, both in one pass (RewriteGraph), int8 and bf16 at load and
// CountAttentionBlocks must return a Status, never crash or read out of bounds; when one rewrites, its output must
// parse again and hold nothing more for it to fuse (each rewrite is idempotent), and the other rewrite must still
// read it; FuseAttention fuses either every block CountAttentionBlocks counts or none; the graph as written with its
// weights in place (WeightsInPlace) fuses as the input does when the input is handed in as its weights' file.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rewrite/graph_rewrite.h"

namespace {

template <typename Rewrite, typename Count>
void CheckIdempotent(const char* what, std::string_view model, Rewrite rewrite, Count count) {
  auto r = rewrite(model);
  if (!r.ok() || count(*r) == 0) return;
  auto again = rewrite(r->model);
  if (!again.ok() || count(*again) != 0) {
    std::fprintf(stderr, "INVARIANT: %s: rewritten model %s (%d more fused)\n", what,
                 again.ok() ? "fused again" : "unreadable", again.ok() ? count(*again) : -1);
    std::abort();
  }
  // The other rewrite reads the result (a Status either way, never a crash).
  (void)winnow::rt::FuseSkipLayerNorm(r->model);
  (void)winnow::rt::FuseAttention(r->model);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view model(reinterpret_cast<const char*>(data), size);
  CheckIdempotent("layer norm", model, [](std::string_view m) { return winnow::rt::FuseSkipLayerNorm(m); },
                  [](const winnow::rt::GraphRewrite& g) { return g.skip_layer_norms; });
  CheckIdempotent("attention", model, [](std::string_view m) { return winnow::rt::FuseAttention(m); },
                  [](const winnow::rt::GraphRewrite& g) { return g.attentions; });
  winnow::rt::RewriteOptions both;
  both.layer_norms = both.attention = true;
  CheckIdempotent("both", model, [&](std::string_view m) { return winnow::rt::RewriteGraph(m, both); },
                  [](const winnow::rt::GraphRewrite& g) { return g.skip_layer_norms + g.attentions; });
  // int8 at load (with both fusions): the rewritten graph quantizes activations, so it is left alone the second time.
  {
    winnow::rt::RewriteOptions int8 = both;
    int8.quantize_int8 = true;
    CheckIdempotent("int8", model, [&](std::string_view m) { return winnow::rt::RewriteGraph(m, int8); },
                    [](const winnow::rt::GraphRewrite& g) { return g.quantized_matmuls; });
  }
  // int8 as com.winnow MatMulInt8 (AMX-INT8 CPUs), BiasGelu absorbed: the same, MatMulInt8 quantizes activations.
  {
    winnow::rt::RewriteOptions int8 = both;
    int8.quantize_int8 = int8.int8_amx = true;
    CheckIdempotent("int8 amx", model, [&](std::string_view m) { return winnow::rt::RewriteGraph(m, int8); },
                    [](const winnow::rt::GraphRewrite& g) { return g.quantized_matmuls; });
  }
  // bf16 at load (with both fusions): MatMulBf16 nodes are no MatMul, so nothing is left to rewrite the second time.
  {
    winnow::rt::RewriteOptions bf16 = both;
    bf16.bf16 = true;
    CheckIdempotent("bf16", model, [&](std::string_view m) { return winnow::rt::RewriteGraph(m, bf16); },
                    [](const winnow::rt::GraphRewrite& g) { return g.bf16_matmuls; });
  }
  // Exact norms (com.winnow LayerNorm for float32 ones): idempotent too, and the same matches as the
  // SkipLayerNormalization form, only written differently.
  {
    winnow::rt::RewriteOptions exact, inexact;
    exact.layer_norms = inexact.layer_norms = true;
    exact.quantized_norms = inexact.quantized_norms = true;
    exact.exact_norms = true;
    CheckIdempotent("exact norms", model, [&](std::string_view m) { return winnow::rt::RewriteGraph(m, exact); },
                    [](const winnow::rt::GraphRewrite& g) { return g.skip_layer_norms; });
    auto e = winnow::rt::RewriteGraph(model, exact);
    auto i = winnow::rt::RewriteGraph(model, inexact);
    if (e.ok() != i.ok() || (e.ok() && (e->skip_layer_norms != i->skip_layer_norms ||
                                         e->exact_layer_norms > e->skip_layer_norms || i->exact_layer_norms != 0))) {
      std::fprintf(stderr, "INVARIANT: exact norms %d (%d exact), SkipLayerNormalization %d\n",
                   e.ok() ? e->skip_layer_norms : -1, e.ok() ? e->exact_layer_norms : -1,
                   i.ok() ? i->skip_layer_norms : -1);
      std::abort();
    }
  }
  // Weights left in place (external data pointing into `model`), down to tiny initializers so the inputs here
  // (at most 4 KiB) reach that code.
  both.external_weights = "weights";
  both.external_min_bytes = 8;
  CheckIdempotent("both, weights in place", model, [&](std::string_view m) { return winnow::rt::RewriteGraph(m, both); },
                  [](const winnow::rt::GraphRewrite& g) { return g.skip_layer_norms + g.attentions; });
  // The graph as written with its weights in place: read back with the input handed in as that file, it fuses as
  // the input does (the same values behind every initializer).
  auto in_place = winnow::rt::WeightsInPlace(model, both);
  if (in_place.ok() && !in_place->model.empty()) {
    winnow::rt::ExternalFiles self{{"weights", model}};
    winnow::rt::RewriteOptions as_written = both;  // fused into an inline model, no weights named in place
    as_written.external_weights.clear();
    winnow::rt::RewriteOptions read_back = as_written;
    read_back.external_files = &self;
    auto direct = winnow::rt::RewriteGraph(model, as_written);
    auto via = winnow::rt::RewriteGraph(in_place->model, read_back);
    if (direct.ok() && (!via.ok() || via->skip_layer_norms != direct->skip_layer_norms ||
                        via->attentions != direct->attentions || via->packed_qkv != direct->packed_qkv)) {
      std::fprintf(stderr, "INVARIANT: weights in place fuse %d/%d/%d, as written %d/%d/%d (%s)\n",
                   via.ok() ? via->skip_layer_norms : -1, via.ok() ? via->attentions : -1, via.ok() ? via->packed_qkv : -1,
                   direct->skip_layer_norms, direct->attentions, direct->packed_qkv, via.ok() ? via->skipped.c_str() : "");
      std::abort();
    }
  }
  // External weights read from handed-in files: every location the model names maps to the input itself, so
  // offsets and lengths taken from the fuzzed model land anywhere in (or past) it.
  auto locations = winnow::rt::ExternalDataLocations(model);
  if (locations.ok() && !locations->empty()) {
    winnow::rt::ExternalFiles files;
    winnow::rt::RewriteOptions with_files = both;
    for (const std::string& l : *locations) {
      files[l] = model;
      if (l.size() % 2) with_files.external_renames[l] = "renamed-" + l;  // some, as links' real names are
    }
    with_files.external_files = &files;
    CheckIdempotent("both, external files", model,
                    [&](std::string_view m) { return winnow::rt::RewriteGraph(m, with_files); },
                    [](const winnow::rt::GraphRewrite& g) { return g.skip_layer_norms + g.attentions; });
    (void)winnow::rt::CountAttentionBlocks(model, false, &files);
  }
  int64_t width = -1;
  bool float16 = true;
  auto count = winnow::rt::CountAttentionBlocks(model, false, nullptr, &width, &float16);
  auto fused = winnow::rt::FuseAttention(model);
  // No block: no width and nothing in float16.
  if (count.ok() && *count == 0 && (width != 0 || float16)) {
    std::fprintf(stderr, "INVARIANT: no attention block, but width %lld, float16 %d\n", static_cast<long long>(width),
                 float16);
    std::abort();
  }
  if (count.ok() != fused.ok() || (fused.ok() && fused->attentions != 0 && fused->attentions != *count)) {
    std::fprintf(stderr, "INVARIANT: CountAttentionBlocks %d, FuseAttention fused %d\n", count.ok() ? *count : -1,
                 fused.ok() ? fused->attentions : -1);
    std::abort();
  }
  return 0;
}
