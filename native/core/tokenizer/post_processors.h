// Post-processors (tokenizer.json `post_processor`), truncation and padding, with HF semantics.
// To add a type (RobertaProcessing, ByteLevel): implement PostProcessor and add a branch to
// LoadPostProcessor in post_processors.cc.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/tokenizer.h"

namespace winnow::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Number of special tokens added for a single sequence / a pair.
  virtual size_t AddedTokens(bool is_pair) const = 0;
  // HF process_encodings: 1 or 2 encodings in (sequence ids set), any number out; the caller merges.
  virtual Status ProcessEncodings(std::vector<Encoding>* encodings, bool add_special_tokens) const = 0;
};

// Maps a token id to its string (added tokens first, then the model); the byte-level offset
// trimming of ByteLevel / RobertaProcessing reads the token strings through it.
using IdToTokenFn = std::function<std::optional<std::string>(int32_t)>;

// `depth`: how many Sequence processors enclose `j` (refused beyond json_util::kMaxSequenceDepth).
StatusOr<std::unique_ptr<PostProcessor>> LoadPostProcessor(const nlohmann::json& j, const std::string& path,
                                                           IdToTokenFn id_to_token = nullptr, int depth = 0);

// HF Encoding::merge_with(pair, growing_offsets = false), overflowing combinations included.
void MergeInto(Encoding* self, const Encoding& pair);
Encoding MergeEncodings(std::vector<Encoding> encodings);

// What tokenizers 0.23 does to each sequence before truncate_encodings when truncation is on: the
// model stops tokenizing once the sequence holds at least `max_length` tokens (the full max_length,
// special tokens and stride not deducted), checked after each model-tokenized split (added tokens
// count but are no stopping point), from the end with Direction::kLeft. Everything past that split
// is dropped, so the overflowing windows only cover the kept part. Uses e->model_splits (no-op
// without them); clears them.
void EarlyStopAtMaxLength(Encoding* e, size_t max_length, Direction dir);
// HF truncate_encodings. `pair` may be null.
Status TruncateEncodings(Encoding* first, Encoding* pair, const TruncationOptions& opts);
// HF Encoding::truncate (one sequence; windows beyond the first go to `overflowing`).
Status TruncateEncoding(Encoding* e, size_t max_len, size_t stride, Direction dir);
// HF Encoding::pad, overflowing included. `target` is the final length.
void PadEncoding(Encoding* e, size_t target, int32_t pad_id, int32_t pad_type_id, Direction dir);

}  // namespace winnow::tok
