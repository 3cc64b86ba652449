// Cross-encoder reranking with sentence-transformers' CrossEncoder semantics.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipelines/transformer_model.h"

namespace winnow::pipelines {

enum class Activation { kSigmoid, kSoftmax, kNone };

// How Score combines the scores of one document's windows (ScoreOptions::chunk).
enum class ChunkAggregate { kMax, kMean, kFirst };

// Per-call settings of Predict and Score.
struct ScoreOptions {
  std::optional<Activation> activation;  // unset: the model's own; kNone gives the raw logits
  // Score only. Off: a document is truncated to what fits beside the query. On: it is cut into windows of the
  // tokens that fit, neighbours sharing `overlap` tokens, all windows of the call scored in the same batches,
  // and each document's window scores (after the activation) combined by `aggregate`.
  bool chunk = false;
  size_t overlap = 0;
  ChunkAggregate aggregate = ChunkAggregate::kMax;
};

// "" = from the model's config (sentence-transformers rules), else "sigmoid" | "softmax" | "none".
struct CrossEncoderOptions : ModelOptions {
  std::string activation;
};

class CrossEncoder : public TransformerModel {
 public:
  static StatusOr<std::unique_ptr<CrossEncoder>> Load(const CrossEncoderOptions& options);

  size_t num_labels() const { return num_labels_; }
  Activation activation() const { return activation_; }

  // Scores pairs; `scores` gets pairs.size() * num_labels values in input order.
  // Only the second text of a pair is truncated to fit max_length; a first text that does not fit
  // alone is codes::kQueryTooLong.
  Status Predict(const std::vector<std::pair<std::string_view, std::string_view>>& pairs, std::vector<float>* scores,
                 const RunControl& control = {}, const ScoreOptions& options = {}) const;

  // Scores one query against many documents: the query is tokenized once.
  // With options.chunk, overlap must leave room: kInvalidArgument when it is not below the document tokens that fit.
  Status Score(std::string_view query, const std::vector<std::string_view>& documents, std::vector<float>* scores,
               const RunControl& control = {}, const ScoreOptions& options = {}) const;

 private:
  Status EncodeQuery(std::string_view query, tok::Encoding* out) const;
  Status ScoreChunked(const tok::Encoding& query, const std::vector<std::string_view>& documents,
                      std::vector<float>* scores, const RunControl& control, const ScoreOptions& options,
                      Activation activation) const;
  // Writes each row's logits, activated by `activation`, to scores[item * num_labels ...].
  ItemConsumer LogitsConsumer(std::vector<float>* scores, Activation activation) const;

  size_t num_labels_ = 1;
  Activation activation_ = Activation::kSigmoid;
  std::string logits_name_;
};

}  // namespace winnow::pipelines
