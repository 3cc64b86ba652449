// Transformer sentence embeddings with sentence-transformers' SentenceTransformer.encode semantics:
// prompts, truncation to max_seq_length, Pooling (cls / mean / max / mean_sqrt_len / weightedmean /
// lasttoken, include_prompt), Normalize, Matryoshka truncation and quantize_embeddings precisions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipelines/transformer_model.h"
#include "pooling/pooling.h"

namespace winnow::pipelines {

struct SentenceEncoderOptions : ModelOptions {};

// Output precisions of sentence-transformers' quantize_embeddings (float16 is not offered).
enum class Precision { kFloat32, kInt8, kUint8, kBinary, kUbinary };

struct EncodeParams {
  // nullopt: the config's default_prompt_name (if any). Otherwise a prompt name from
  // config_sentence_transformers.json `prompts` when it is one, else a literal prefix ("" = none).
  std::optional<std::string> prompt;
  std::optional<bool> normalize;  // nullopt: true when modules.json has a Normalize module
  size_t dimensions = 0;          // 0: all; else keep the first `dimensions` values (before normalising)
  Precision precision = Precision::kFloat32;
  std::vector<float> ranges;      // int8 / uint8 calibration [2, dimensions] (mins, then maxes); empty: the call's own rows
};

// One matrix, row-major. Exactly one of f32 / i8 / u8 is filled, per precision.
struct EncodeResult {
  size_t rows = 0;
  size_t dim = 0;  // values per row (bytes per row for binary / ubinary)
  std::vector<float> f32;
  std::vector<int8_t> i8;
  std::vector<uint8_t> u8;
};

class SentenceEncoder : public TransformerModel {
 public:
  static StatusOr<std::unique_ptr<SentenceEncoder>> Load(const SentenceEncoderOptions& options);

  // Full embedding size (before `dimensions`).
  size_t dim() const { return dim_; }
  const std::map<std::string, std::string>& prompts() const { return prompts_; }
  const std::string& default_prompt_name() const { return default_prompt_name_; }
  // "cosine" (the default), "dot", "euclidean" or "manhattan", from config_sentence_transformers.json.
  const std::string& similarity_fn_name() const { return similarity_fn_name_; }
  bool normalize_default() const { return normalize_; }
  // "cls", "mean", ... joined by '+' in sentence-transformers' order; "graph" when the ONNX file
  // outputs sentence_embedding itself.
  std::string pooling_name() const;
  bool pooling_from_config() const { return pooling_from_config_; }
  bool include_prompt() const { return include_prompt_; }
  bool lower_case() const { return lower_case_; }
  const std::string& output_name() const { return output_name_; }

  // Embeds `texts` in input order. Texts longer than max_length tokens (prompt and special tokens
  // included) are cut on the right, as sentence-transformers does.
  Status Encode(const std::vector<std::string_view>& texts, const EncodeParams& params, EncodeResult* out,
                const RunControl& control = {}) const;

 private:
  enum class Mode { kCls, kMax, kMean, kMeanSqrtLen, kWeightedMean, kLastToken };
  Status LoadModules();
  Status ProbeDim();
  StatusOr<std::string> ResolvePrompt(const std::optional<std::string>& prompt) const;
  std::string Prepare(std::string_view prompt, std::string_view text) const;
  // Pools (or copies, for graphs with sentence_embedding) one batch's output into out[rows, dim_].
  Status PoolBatch(const BatchTensors& t, std::vector<Ort::Value>& results, size_t prompt_length,
                   float* out /*[rows, dim_]*/) const;

  std::vector<Mode> modes_;      // empty when the graph outputs sentence_embedding
  bool pooling_from_config_ = false;
  bool include_prompt_ = true;
  bool normalize_ = false;
  bool lower_case_ = false;
  std::map<std::string, std::string> prompts_;
  std::string default_prompt_name_;
  std::string similarity_fn_name_ = "cosine";
  std::string output_name_;      // "sentence_embedding" or the token-level output
  size_t dim_ = 0;
  size_t hidden_ = 0;
};

}  // namespace winnow::pipelines
