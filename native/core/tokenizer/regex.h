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
  // A text on which the pattern backtracks past the limits below is TOKENIZER_INVALID, naming the
  // pattern and its JSON path.
  Status FindMatches(std::string_view text, std::vector<Match>* out) const;

  // Backtracking limits per match attempt. The JIT's stack starts on the machine stack and is
  // retried on a heap stack growing up to kMaxJitStackBytes (patterns such as `(?:a|b)*` need about
  // 32 bytes per byte they consume); the interpreter (no JIT on the platform) may use kMaxHeapBytes.
  // The match limit grows with the text, so a pattern linear in its input works on any length while
  // one that backtracks exponentially still stops.
  static constexpr size_t kMaxJitStackBytes = size_t{256} << 20;
  static constexpr size_t kMaxHeapBytes = size_t{256} << 20;
  static constexpr uint64_t kMatchLimitBase = 10'000'000;
  static constexpr uint64_t kMatchLimitPerByte = 100;

 private:
  Regex() = default;
  Status LimitError(int rc, size_t text_size) const;

  void* code_ = nullptr;  // pcre2_code*
  std::string pattern_, path_;
};

// Reads a `{"String": ...}` (literal) / `{"Regex": ...}` pattern object of tokenizer.json.
StatusOr<std::unique_ptr<Regex>> LoadPattern(const nlohmann::json& j, const std::string& path);

}  // namespace winnow::tok
