// A tokenization model turns one pre-tokenized piece (UTF-8, already normalized) into tokens.
// Implementations: WordPiece, WordLevel, BPE, Unigram. Tokenize() is const and thread-safe
// (caches must be guarded or per-thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace winnow::tok {

struct Token {
  int32_t id;
  uint32_t start;  // byte offsets within the piece handed to Tokenize
  uint32_t end;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the tokens of `piece` to `out`.
  virtual Status Tokenize(std::string_view piece, std::vector<Token>* out) const = 0;
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;
  virtual std::optional<std::string_view> IdToToken(int32_t id) const = 0;
  virtual size_t VocabSize() const = 0;
  virtual std::optional<int32_t> UnkId() const { return std::nullopt; }
};

// Errors in tokenizer.json are reported as codes::kTokenizerInvalid with a message that starts with
// the JSON path of the problem, e.g. `model.merges[3]: expected "a b" or ["a", "b"]`.
inline Status InvalidAt(const std::string& json_path, const std::string& what) {
  return Status(codes::kTokenizerInvalid, json_path + ": " + what);
}
inline Status UnsupportedAt(const std::string& json_path, const std::string& what) {
  return Status(codes::kTokenizerUnsupported, json_path + " = " + what);
}

// Loaders for each model family. `j` is the `model` object of tokenizer.json, `path` its JSON path
// ("model"). Implemented in wordpiece.cc / wordlevel.cc / bpe.cc / unigram.cc.
StatusOr<std::unique_ptr<Model>> LoadWordPiece(const nlohmann::json& j, const std::string& path);
StatusOr<std::unique_ptr<Model>> LoadWordLevel(const nlohmann::json& j, const std::string& path);
StatusOr<std::unique_ptr<Model>> LoadBpe(const nlohmann::json& j, const std::string& path);
StatusOr<std::unique_ptr<Model>> LoadUnigram(const nlohmann::json& j, const std::string& path);

}  // namespace winnow::tok
