// Thin PCRE2 (UTF + UCP) wrapper used by the Replace normalizer and the Split pre-tokenizer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/pre_tokenized.h"

namespace winnow::tok {

class Regex {
 public:
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // `path` is the JSON path used in the error message.
  static StatusOr<std::unique_ptr<Regex>> Compile(const std::string& pattern, const std::string& path);
  // Escapes `literal` so that it matches itself.
  static std::string Escape(std::string_view literal);
  // All non-overlapping matches as HF find_matches reports them (matches and the gaps between).
  Status FindMatches(std::string_view text, std::vector<Match>* out) const;

 private:
  Regex() = default;
  void* code_ = nullptr;  // pcre2_code*
};

// Reads a `{"String": ...}` (literal) / `{"Regex": ...}` pattern object of tokenizer.json.
StatusOr<std::unique_ptr<Regex>> LoadPattern(const nlohmann::json& j, const std::string& path);

}  // namespace winnow::tok
