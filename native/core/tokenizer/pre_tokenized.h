// PreTokenizedString: the input cut into splits, each a NormalizedString, some already holding their
// tokens (added tokens). Mirrors HF's PreTokenizedString, including its split behaviours.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "tokenizer/model.h"
#include "tokenizer/normalized_string.h"

namespace winnow::tok {

struct Split {
  NormalizedString normalized;
  bool has_tokens = false;
  std::vector<Token> tokens;  // byte offsets within normalized.get()
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A piece of a string: [start, end) and whether it is a match of the pattern.
struct Match {
  uint32_t start;
  uint32_t end;
  bool is_match;
};

class PreTokenizedString {
 public:
  explicit PreTokenizedString(std::string_view text) {
    if (!text.empty()) splits_.push_back(Split{NormalizedString(text, 0), false, {}});
  }
  std::vector<Split>& splits() { return splits_; }
  const std::vector<Split>& splits() const { return splits_; }

  // Replaces every split without tokens by the pieces `f(NormalizedString&, std::vector<Split>*)`
  // appends; empty pieces are dropped (HF semantics).
  template <class F>
  Status SplitWith(F&& f) {
    std::vector<Split> next;
    next.reserve(splits_.size() * 2);
    std::vector<Split> tmp;
    for (Split& s : splits_) {
      if (s.has_tokens) {
        next.push_back(std::move(s));
        continue;
      }
      tmp.clear();
      WINNOW_RETURN_IF_ERROR(f(s.normalized, &tmp));
      for (Split& t : tmp) {
        if (!t.normalized.empty()) next.push_back(std::move(t));
      }
    }
    splits_ = std::move(next);
    return Status::Ok();
  }

 private:
  std::vector<Split> splits_;
};

// Matches for a char predicate: every matching char is its own match (HF Pattern for Fn(char)).
template <class P>
void FindCharMatches(std::string_view s, P&& pred, std::vector<Match>* out) {
  out->clear();
  if (s.empty()) {
    out->push_back({0, 0, false});
    return;
  }
  uint32_t last = 0;
  for (size_t i = 0; i < s.size();) {
    int len;
    uint32_t cp = unicode::Decode(s, i, &len);
    if (pred(cp)) {
      if (last < i) out->push_back({last, static_cast<uint32_t>(i), false});
      out->push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(i + len), true});
      last = static_cast<uint32_t>(i + len);
    }
    i += len;
  }
  if (last < s.size()) out->push_back({last, static_cast<uint32_t>(s.size()), false});
}

// Applies a split behaviour to the matches of `ns` and appends the resulting pieces.
void SplitByMatches(const NormalizedString& ns, std::vector<Match>& matches, SplitBehavior behavior, bool invert,
                    std::vector<Split>* out);

}  // namespace winnow::tok
