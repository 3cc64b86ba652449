// MeCab word segmentation of Winnow's own: the lattice of dictionary words (common-prefix search) and
// unknown-word candidates (char.bin's invoke / group / length rules), best path by connection + word costs,
// with libmecab's tie-breaking, so the words equal `mecab -Owakati` on the same dictionary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "mecab/dictionary.h"

namespace winnow::mecab {

// One word of the best path. Offsets are into the input: bytes, and code points (counted as UTF-8 lead
// bytes, so they are exact for valid UTF-8). Spaces MeCab skips before a word are not part of it.
struct Word {
  size_t byte_begin = 0, byte_end = 0;
  size_t char_begin = 0, char_end = 0;
  bool unknown = false;          // an unknown-word candidate (from unk.dic), not a dictionary word
  std::string_view feature;      // set only when asked for; points into the dictionary's mapped files
};

// Scratch memory one thread reuses across calls; not shared between threads.
struct Lattice {
  struct Node {
    int64_t cost;        // best path cost from BOS through this node
    int32_t prev;        // best left neighbour
    int32_t enext;       // next node ending at the same position
    uint32_t begin;      // surface byte range [begin, end)
    uint32_t end;
    uint32_t token;      // index into the system or unknown-word token table
    uint16_t left_id, right_id;
    int16_t wcost;
    bool unknown;
  };
  struct Left {  // a node ending where new nodes start, copied out of the end list
    int64_t cost;
    int32_t node;
    uint16_t right_id;
  };
  std::vector<Node> nodes;
  std::vector<Left> lefts;
  std::vector<uint16_t> left_ids;  // distinct left ids of the nodes starting at one position
  std::vector<int32_t> end_head;      // [len + 1]: first node ending at each byte position, or -1
  std::vector<int64_t> best_sum;      // [rsize]: per left_id, least left cost + connection at this position
  std::vector<int32_t> best_node;     // [rsize]
  std::vector<uint32_t> best_stamp;   // [rsize]: the position stamp best_sum was computed for
  uint32_t stamp = 0;
};

struct SegmenterOptions {
  size_t max_grouping_size = 24;  // MeCab's -M default: longest grouped unknown word, in characters beyond the first
  bool features = false;          // fill Word::feature
};

class Segmenter {
 public:
  explicit Segmenter(std::shared_ptr<const Dictionary> dict, SegmenterOptions options = {})
      : dict_(std::move(dict)), options_(options) {}

  // Segments `text` (UTF-8, taken as given) into `words` (cleared first). Thread-safe with one Lattice per
  // thread. The only error is a text whose path costs leave MeCab's range (INVALID_ARGUMENT), where libmecab
  // fails with "too long sentence".
  Status Segment(std::string_view text, Lattice* lattice, std::vector<Word>* words) const;
  Status Segment(std::string_view text, std::vector<Word>* words) const {
    Lattice lattice;
    return Segment(text, &lattice, words);
  }

  const Dictionary& dictionary() const { return *dict_; }

 private:
  void Lookup(const uint8_t* text, size_t pos, size_t len, Lattice* lattice) const;
  bool Connect(size_t pos, size_t first, Lattice* lattice) const;

  std::shared_ptr<const Dictionary> dict_;
  SegmenterOptions options_;
};

}  // namespace winnow::mecab
