// Cross-encoder reranking with sentence-transformers' CrossEncoder semantics.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipelines/transformer_model.h"

namespace winnow::pipelines {

enum class Activation { kSigmoid, kSoftmax, kNone };

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
                 const RunControl& control = {}) const;

  // Scores one query against many documents: the query is tokenized once.
  Status Score(std::string_view query, const std::vector<std::string_view>& documents, std::vector<float>* scores,
               const RunControl& control = {}) const;

 private:
  Status EncodeQuery(std::string_view query, tok::Encoding* out) const;
  // Writes each row's activated logits to scores[item * num_labels ...].
  ItemConsumer LogitsConsumer(std::vector<float>* scores) const;

  size_t num_labels_ = 1;
  Activation activation_ = Activation::kSigmoid;
  std::string logits_name_;
};

}  // namespace winnow::pipelines
