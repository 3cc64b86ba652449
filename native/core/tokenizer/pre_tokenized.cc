#include "tokenizer/pre_tokenized.h"

#include <algorithm>

namespace winnow::tok {

void SplitByMatches(const NormalizedString& ns, std::vector<Match>& matches, SplitBehavior behavior, bool invert,
                    std::vector<Split>* out) {
  if (invert) {
    for (Match& m : matches) m.is_match = !m.is_match;
  }
  // Each entry: (start, end, remove)
  struct Piece {
    uint32_t start, end;
    bool remove;
  };
  std::vector<Piece> pieces;
  pieces.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Match& m : matches) pieces.push_back({m.start, m.end, false});
      break;
    case SplitBehavior::kRemoved:
      for (const Match& m : matches) pieces.push_back({m.start, m.end, m.is_match});
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const Match& m : matches) {
        if (m.is_match && !prev_match && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        prev_match = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev_match = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !prev_match && !pieces.empty()) {
          pieces.back().start = it->start;
        } else {
          pieces.push_back({it->start, it->end, false});
        }
        prev_match = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool prev_match = false;
      for (const Match& m : matches) {
        if (m.is_match == prev_match && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        prev_match = m.is_match;
      }
      break;
    }
  }
  for (const Piece& p : pieces) {
    if (p.remove || p.start >= p.end) continue;
    out->push_back(Split{ns.Slice(p.start, p.end), false, {}});
  }
}

}  // namespace winnow::tok
