// Model2Vec static embeddings with model2vec's `StaticModel.encode` semantics: cut each text to
// max_length x median token length characters, tokenize without special tokens, drop the unknown
// token, keep the first max_length ids, average the (mapped, weighted) table rows, L2-normalise when
// the config says so. The table stays in its stored dtype (f32 / f16 / bf16 / i8), memory-mapped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/thread_pool.h"
#include "common/status.h"
#include "loaders/safetensors.h"
#include "pipelines/transformer_model.h"  // RunControl, Cancelled()
#include "pooling/pooling.h"
#include "tokenizer/tokenizer.h"

namespace winnow::pipelines {

struct StaticModelOptions {
  std::string dir;
  std::optional<bool> normalize;  // overrides config.json `normalize` (or the Normalize module)
  int threads = 0;                // native threads per call; 0 = hardware concurrency
};

struct StaticEncodeOptions {
  size_t max_length = 512;  // 0 = no truncation (model2vec's max_length=None)
  size_t batch_size = 1024; // texts per work item (progress / cancellation granularity)
  bool single_thread = false;  // run on the calling thread only (encodeSync)
};


class StaticModel {
 public:
  // Layouts, tried in order: modules.json's StaticEmbedding module folder; `model.safetensors` at the
  // root; `0_StaticEmbedding/model.safetensors`. Tensors: `embeddings` (+ optional `weights`
  // [vocab], `mapping` [vocab]) or `embedding.weight`. Errors: kModelNotFound (lists the paths
  // tried), kSafetensorsInvalid, kConfigInvalid (shape mismatches), tokenizer codes.
  static StatusOr<std::unique_ptr<StaticModel>> Load(const StaticModelOptions& options);
  ~StaticModel();

  size_t dim() const { return table_.dim; }
  size_t vocab_size() const { return vocab_size_; }
  size_t rows() const { return table_.rows; }
  bool normalize() const { return normalize_; }
  size_t median_token_length() const { return median_token_length_; }
  int threads() const { return threads_; }
  const char* dtype_name() const;
  const std::string& safetensors_path() const { return tensors_path_; }
  const std::string& tokenizer_path() const { return tokenizer_path_; }
  bool has_weights() const { return table_.row_weights != nullptr; }
  bool has_mapping() const { return table_.mapping != nullptr; }
  const tok::Tokenizer& tokenizer() const { return *tokenizer_; }

  // model2vec's StaticModel.tokenize for one text: char cut, no special tokens, unknown ids
  // dropped, first max_length ids kept. `enc` is scratch space reused between calls.
  Status Tokenize(std::string_view text, size_t max_length, tok::Encoding* enc, std::vector<int32_t>* ids) const;

  // out: [texts.size(), dim].
  Status Encode(const std::vector<std::string_view>& texts, const StaticEncodeOptions& opts, float* out,
                const RunControl& control = {}) const;
  // Per text, [tokens, dim] rows (mapped and weighted, never normalised); zero rows for no tokens.
  Status EncodeAsSequence(const std::vector<std::string_view>& texts, const StaticEncodeOptions& opts,
                          std::vector<std::vector<float>>* out, const RunControl& control = {}) const;
  // Tokenize only (same path as Encode, without the lookups): tokens kept per text.
  Status CountTokens(const std::vector<std::string_view>& texts, const StaticEncodeOptions& opts,
                     std::vector<uint32_t>* counts, const RunControl& control = {}) const;

 private:
  StaticModel() = default;
  // Runs fn(begin, end, worker_scratch) over contiguous chunks of [0, n), on the pool.
  template <class Fn>
  Status ParallelChunks(size_t n, const StaticEncodeOptions& opts, const RunControl& control, Fn fn) const;

  std::unique_ptr<tok::Tokenizer> tokenizer_;
  SafeTensors tensors_;
  std::string tensors_path_, tokenizer_path_;
  pooling::TableView table_;
  std::vector<float> weights_;    // [vocab] copy (tensors need not be aligned)
  std::vector<int64_t> mapping_;  // [vocab] copy
  std::optional<int32_t> unk_id_;
  size_t vocab_size_ = 0;
  size_t median_token_length_ = 1;
  bool normalize_ = false;
  int threads_ = 1;
  std::unique_ptr<ThreadPool> pool_;
};

// The median length in characters (code points) of the vocabulary strings, as model2vec computes
// it: int(np.median([len(t) for t in tokens])).
size_t MedianTokenLength(const tok::Tokenizer& tokenizer);
// Byte length of the first `max_chars` code points of valid UTF-8 `text` (Python's text[:n]).
size_t Utf8PrefixBytes(std::string_view text, size_t max_chars);

}  // namespace winnow::pipelines
