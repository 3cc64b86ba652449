#include "mecab/segmenter.h"

#include <algorithm>
#include <climits>
#include <string>

namespace winnow::mecab {
namespace {

// MeCab looks no further than this many bytes past a word's start (spaces before it included).
constexpr size_t kMaxLookahead = 65535;
// libmecab starts each best-cost search at INT_MAX and fails the sentence when no path is cheaper.
constexpr int64_t kCostLimit = INT32_MAX;

// The UCS-2 value and byte length MeCab's utf8_to_ucs2 gives the bytes at text[p, end): no validation of
// continuation bytes; 4- to 6-byte sequences and stray bytes read as U+0000.
inline uint32_t DecodeLikeMecab(const uint8_t* text, size_t p, size_t end, size_t* mblen) {
  const uint8_t c = text[p];
  const size_t len = end - p;
  if (c < 0x80) {
    *mblen = 1;
    return c;
  }
  if (len >= 2 && (c & 0xE0) == 0xC0) {
    *mblen = 2;
    return ((c & 0x1Fu) << 6) | (text[p + 1] & 0x3Fu);
  }
  if (len >= 3 && (c & 0xF0) == 0xE0) {
    *mblen = 3;
    return ((c & 0x0Fu) << 12) | ((text[p + 1] & 0x3Fu) << 6) | (text[p + 2] & 0x3Fu);
  }
  if (len >= 4 && (c & 0xF8) == 0xF0) {
    *mblen = 4;
  } else if (len >= 5 && (c & 0xFC) == 0xF8) {
    *mblen = 5;
  } else if (len >= 6 && (c & 0xFE) == 0xFC) {
    *mblen = 6;
  } else {
    *mblen = 1;
  }
  return 0;
}

}  // namespace

void Segmenter::Lookup(const uint8_t* text, size_t pos, size_t len, Lattice* lattice) const {
  const Dictionary& dict = *dict_;
  std::vector<Lattice::Node>& nodes = lattice->nodes;
  const size_t end = std::min(len, pos + kMaxLookahead);
  auto char_at = [&](size_t p, size_t* mblen) { return dict.char_info(DecodeLikeMecab(text, p, end, mblen)); };

  // Skip the run of characters chained to SPACE by a shared category (each one to the one before it).
  CharInfo prev = dict.space_info(), cinfo;
  size_t mblen = 0, begin2 = pos;
  while (begin2 != end) {
    cinfo = char_at(begin2, &mblen);
    if (!prev.IsKindOf(cinfo)) break;
    begin2 += mblen;
    prev = cinfo;
  }
  // Only spaces are left: libmecab's candidates here end past the text and never join the best path. (After
  // 65535 bytes of spaces libmecab instead searches its dictionary past the look-ahead; that is not followed.)
  if (begin2 == end) return;

  const size_t first = nodes.size();
  auto push = [&](size_t b, size_t e, const Token& t, uint32_t index, bool unknown) {
    nodes.push_back(Lattice::Node{0, -1, -1, static_cast<uint32_t>(b), static_cast<uint32_t>(e), index, t.left_id,
                                  t.right_id, t.cost, unknown});
  };
  const LexiconFile& sys = dict.system();
  sys.CommonPrefixSearch(text + begin2, end - begin2, [&](uint32_t value, size_t length) {
    if (length == 0) return;  // an empty key (only in a hostile file) would be a word of no characters
    const uint32_t first_token = value >> 8, count = value & 0xFF;
    for (uint32_t j = first_token; j < first_token + count; ++j) push(begin2, begin2 + length, sys.token(j), j, false);
  });
  if (nodes.size() > first && !cinfo.invoke) return;

  const LexiconFile& unk = dict.unknown();
  const auto [unk_first, unk_count] = dict.unknown_tokens(cinfo.default_type);
  auto add_unknown = [&](size_t e) {
    for (uint32_t k = 0; k < unk_count; ++k) push(begin2, e, unk.token(unk_first + k), unk_first + k, true);
  };

  size_t begin3 = begin2 + mblen;
  size_t group_end = SIZE_MAX;
  if (cinfo.group) {
    // The whole run of characters chained to the first by a shared category, if not too long.
    CharInfo c = cinfo;
    size_t q = begin3, clen = 0, mb = 0;
    while (q != end) {
      const CharInfo f = char_at(q, &mb);
      if (!c.IsKindOf(f)) break;
      q += mb;
      ++clen;
      c = f;
    }
    if (clen <= options_.max_grouping_size) add_unknown(q);
    group_end = q;
  }
  // Words of 1..length characters of the first character's kind; none again at the group's own end.
  for (uint32_t i = 1; i <= cinfo.length; ++i) {
    if (begin3 == group_end) break;
    add_unknown(begin3);
    if (begin3 == end) break;
    size_t mb = 0;
    if (!cinfo.IsKindOf(char_at(begin3, &mb))) break;
    begin3 += mb;
  }
  if (nodes.size() == first) add_unknown(begin3);
}

bool Segmenter::Connect(size_t pos, size_t first, Lattice* lattice) const {
  const Dictionary& dict = *dict_;
  std::vector<Lattice::Node>& nodes = lattice->nodes;
  if (++lattice->stamp == 0) {
    std::fill(lattice->best_stamp.begin(), lattice->best_stamp.end(), 0);
    lattice->stamp = 1;
  }
  const uint32_t stamp = lattice->stamp;
  // The left candidates in end-list order, and the distinct left ids of the new nodes; every matrix cell
  // needed is prefetched before any is read (on a large matrix each read is a cache and TLB miss).
  std::vector<Lattice::Left>& lefts = lattice->lefts;
  lefts.clear();
  for (int32_t l = lattice->end_head[pos]; l >= 0; l = nodes[l].enext) {
    lefts.push_back(Lattice::Left{nodes[l].cost, l, nodes[l].right_id});
  }
  std::vector<uint16_t>& lcs = lattice->left_ids;
  lcs.clear();
  for (size_t i = first; i < nodes.size(); ++i) {
    const uint16_t lc = nodes[i].left_id;
    if (lattice->best_stamp[lc] == stamp) continue;
    lattice->best_stamp[lc] = stamp;
    lcs.push_back(lc);
    const uint8_t* row = dict.matrix_row(lc);
    for (const Lattice::Left& l : lefts) __builtin_prefetch(row + size_t{l.right_id} * 2);
  }
  // Per left id, the first left candidate in end-list order with the least cost, as libmecab picks it.
  for (const uint16_t lc : lcs) {
    const uint8_t* row = dict.matrix_row(lc);
    int64_t best = INT64_MAX;
    int32_t best_node = -1;
    for (const Lattice::Left& l : lefts) {
      int16_t c;
      std::memcpy(&c, row + size_t{l.right_id} * 2, 2);
      const int64_t sum = l.cost + c;
      if (sum < best) {
        best = sum;
        best_node = l.node;
      }
    }
    lattice->best_sum[lc] = best;
    lattice->best_node[lc] = best_node;
  }
  // libmecab connects the new nodes newest first and puts each at the head of its end list.
  for (size_t i = nodes.size(); i-- > first;) {
    Lattice::Node& r = nodes[i];
    const int32_t best_node = lattice->best_node[r.left_id];
    const int64_t best = lattice->best_sum[r.left_id];
    if (best_node < 0 || best + r.wcost >= kCostLimit) return false;
    r.cost = best + r.wcost;
    r.prev = best_node;
    r.enext = lattice->end_head[r.end];
    lattice->end_head[r.end] = static_cast<int32_t>(i);
  }
  return true;
}

Status Segmenter::Segment(std::string_view text, Lattice* lattice, std::vector<Word>* words) const {
  words->clear();
  const size_t len = text.size();
  if (len >= UINT32_MAX) {
    return Status(codes::kInvalidArgument, "MeCab segmentation: text of " + std::to_string(len) +
                                               " bytes is longer than the 4 GiB - 1 bytes supported");
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const Dictionary& dict = *dict_;
  std::vector<Lattice::Node>& nodes = lattice->nodes;
  nodes.clear();
  lattice->end_head.assign(len + 1, -1);
  if (lattice->best_sum.size() != dict.rsize()) {
    lattice->best_sum.assign(dict.rsize(), 0);
    lattice->best_node.assign(dict.rsize(), -1);
    lattice->best_stamp.assign(dict.rsize(), 0);
    lattice->stamp = 0;
  }
  const Status too_long(codes::kInvalidArgument,
                        "MeCab segmentation: the path costs of this " + std::to_string(len) +
                            "-byte text leave MeCab's cost range (libmecab fails it as 'too long sentence')");

  nodes.push_back(Lattice::Node{0, -1, -1, 0, 0, 0, 0, 0, 0, false});  // BOS: context ids 0, cost 0
  lattice->end_head[0] = 0;
  for (size_t pos = 0; pos < len; ++pos) {
    if (lattice->end_head[pos] < 0) continue;
    const size_t first = nodes.size();
    Lookup(bytes, pos, len, lattice);
    if (nodes.size() > size_t{INT32_MAX}) {
      return Status(codes::kInvalidArgument, "MeCab segmentation: the lattice of this " + std::to_string(len) +
                                                 "-byte text has more than 2^31 candidates");
    }
    if (!Connect(pos, first, lattice)) return too_long;
  }

  // EOS (context id 0, cost 0) joins the last position where a word ends.
  int32_t last = -1;
  for (size_t pos = len + 1; pos-- > 0;) {
    if (lattice->end_head[pos] < 0) continue;
    const uint8_t* row = dict.matrix_row(0);
    int64_t best = INT64_MAX;
    for (int32_t l = lattice->end_head[pos]; l >= 0; l = nodes[l].enext) {
      int16_t c;
      std::memcpy(&c, row + size_t{nodes[l].right_id} * 2, 2);
      const int64_t sum = nodes[l].cost + c;
      if (sum < best) {
        best = sum;
        last = l;
      }
    }
    if (best >= kCostLimit) return too_long;
    break;
  }

  for (int32_t n = last; n > 0; n = nodes[n].prev) {
    const Lattice::Node& node = nodes[n];
    Word w;
    w.byte_begin = node.begin;
    w.byte_end = node.end;
    w.unknown = node.unknown;
    if (options_.features) {
      const LexiconFile& lex = node.unknown ? dict.unknown() : dict.system();
      w.feature = node.unknown && !dict.unknown_feature().empty() ? std::string_view(dict.unknown_feature())
                                                                  : lex.feature(lex.token(node.token));
    }
    words->push_back(w);
  }
  std::reverse(words->begin(), words->end());
  size_t byte = 0, chars = 0;
  auto advance = [&](size_t to) {
    for (; byte < to; ++byte) chars += (bytes[byte] & 0xC0) != 0x80;
  };
  for (Word& w : *words) {
    advance(w.byte_begin);
    w.char_begin = chars;
    advance(w.byte_end);
    w.char_end = chars;
  }
  return Status::Ok();
}

}  // namespace winnow::mecab
