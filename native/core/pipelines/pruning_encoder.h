// Provence-style context pruning (issue #6): a reranker with a per-token keep head. Scores a
// (query, document) pair and keeps the document's sentences whose mean keep probability exceeds
// a threshold, as OpenProvence's process() does. Folders: an ONNX export with winnow_pruning.json
// (docs/pruning-export.md), or the layouts the models ship in (builder/provence.h), their graph built at load.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipelines/sentence_splitter.h"
#include "pipelines/transformer_model.h"

namespace winnow::pipelines {

struct PruningEncoderOptions : ModelOptions {
  double threshold = -1;  // < 0: the folder's threshold (winnow_pruning.json, or the source layout's config), else 0.1
};

enum class Granularity { kSentence, kToken };

struct PruneOptions {
  double threshold = -1;  // < 0: the model's threshold (sentence) / 0.5 (token)
  Granularity granularity = Granularity::kSentence;
  Language language = Language::kAuto;
  bool zero_score_when_empty = true;
};

// One document. `sentences` (byte ranges into text, contiguous) replaces the splitter when given.
struct PruneInput {
  size_t query = 0;  // index into the queries vector
  std::string_view text;
  const std::vector<std::pair<size_t, size_t>>* sentences = nullptr;
};

struct SentenceResult {
  size_t begin = 0, end = 0;  // bytes into the document
  float probability = 0;      // mean over fragments of the mean token keep probability
  bool kept = false;
};

struct PruneResult {
  float score = 0;                                  // sigmoid(ranking logit), max over blocks
  std::vector<std::pair<size_t, size_t>> kept;      // kept byte ranges, merged, in order
  size_t tokens_total = 0, tokens_kept = 0;         // document tokens (without special tokens)
  std::vector<SentenceResult> sentences;            // sentence granularity only
};

class PruningEncoder : public TransformerModel {
 public:
  static StatusOr<std::unique_ptr<PruningEncoder>> Load(const PruningEncoderOptions& options);

  double threshold() const { return threshold_; }

  // Prunes every input against queries[input.query]; results in input order. Each distinct query is
  // tokenized once; a query that leaves no room for document tokens is codes::kQueryTooLong.
  Status Process(const std::vector<std::string_view>& queries, const std::vector<PruneInput>& inputs,
                 const PruneOptions& options, std::vector<PruneResult>* results, const RunControl& control = {}) const;

  // Ranking only, CrossEncoder semantics: one block per pair, the document truncated to fit.
  Status Predict(const std::vector<std::pair<std::string_view, std::string_view>>& pairs, std::vector<float>* scores,
                 const RunControl& control = {}) const;

 private:
  Status EncodeQuery(std::string_view query, tok::Encoding* out) const;
  // Reads a batch of blocks (post-processed pairs): one ranking score per block into `scores` and, when
  // `keep` is non-null, the keep probability of every position of every block (`blocks` gives their sizes).
  ItemConsumer BlockConsumer(const std::vector<tok::Encoding>* blocks, std::vector<float>* scores,
                             std::vector<std::vector<float>>* keep) const;

  // A folder without winnow_pruning.json: an OpenProvence or sentence-transformers PruningEncoder layout. Points
  // `common` at the ranker's folder and reads the threshold and max_length its configs name (-1 / nullopt: none).
  Status ReadSourceLayout(const std::string& dir, ModelOptions* common, double* threshold,
                          std::optional<int64_t>* max_length, std::string* max_length_from);
  // The pruning head of a source layout, under BuildOptions::pruning_head's name.
  Status AddWeights(builder::Weights* weights) override;

  double threshold_ = 0.1;
  bool provence_ = false;  // an OpenProvence folder: the head is in the checkpoint, under pruning_head.
  std::string head_dir_;   // a sentence-transformers folder's pruning_head/
};

}  // namespace winnow::pipelines
