#include "tokenizer/post_processors.h"

#include <algorithm>
#include <map>

#include "tokenizer/json_util.h"
#include "tokenizer/unicode.h"

namespace winnow::tok {
namespace {

using json_util::json;

void Append(Encoding* e, int32_t id, int32_t type_id, uint8_t special, int8_t seq) {
  e->ids.push_back(id);
  e->type_ids.push_back(type_id);
  e->special_tokens_mask.push_back(special);
  e->attention_mask.push_back(1);
  e->offsets.emplace_back(0, 0);
  e->sequence_ids.push_back(seq);
}

void AppendAll(Encoding* e, const Encoding& o) {
  e->ids.insert(e->ids.end(), o.ids.begin(), o.ids.end());
  e->type_ids.insert(e->type_ids.end(), o.type_ids.begin(), o.type_ids.end());
  e->special_tokens_mask.insert(e->special_tokens_mask.end(), o.special_tokens_mask.begin(), o.special_tokens_mask.end());
  e->attention_mask.insert(e->attention_mask.end(), o.attention_mask.begin(), o.attention_mask.end());
  e->offsets.insert(e->offsets.end(), o.offsets.begin(), o.offsets.end());
  e->sequence_ids.insert(e->sequence_ids.end(), o.sequence_ids.begin(), o.sequence_ids.end());
}

struct SpecialToken {
  std::vector<int32_t> ids;
};

struct Piece {
  bool is_sequence;
  int seq;             // 0 = A, 1 = B (sequence pieces)
  std::string token;   // special token id (special pieces)
  int32_t type_id;
};

class TemplateProcessing final : public PostProcessor {
 public:
  std::vector<Piece> single_, pair_;
  std::map<std::string, SpecialToken> specials_;

  size_t AddedTokens(bool is_pair) const override {
    size_t n = 0;
    for (const Piece& p : is_pair ? pair_ : single_)
      if (!p.is_sequence) n += specials_.at(p.token).ids.size();
    return n;
  }

  // HF TemplateProcessing::process_encodings + Encoding::merge: one encoding per piece (a sequence
  // piece is the sequence itself, whose main window takes the piece's type id while its overflowing
  // windows keep their own type ids, as in the reference), merged left to right, so the overflowing
  // windows are every combination Encoding::merge_with produces, in its order.
  Status ProcessEncodings(std::vector<Encoding>* encodings, bool add_special) const override {
    const std::vector<Piece>& tmpl = encodings->size() == 2 ? pair_ : single_;
    std::vector<Encoding> pieces;
    pieces.reserve(tmpl.size());
    std::vector<bool> taken(encodings->size(), false);
    for (const Piece& p : tmpl) {
      if (p.is_sequence) {
        if (static_cast<size_t>(p.seq) >= encodings->size())
          return Status(codes::kInvalidArgument, "post_processor template refers to $B but no pair was given");
        Encoding e;
        if (!taken[p.seq]) {
          e = std::move((*encodings)[p.seq]);
          taken[p.seq] = true;
        }
        std::fill(e.type_ids.begin(), e.type_ids.end(), p.type_id);
        std::fill(e.sequence_ids.begin(), e.sequence_ids.end(), static_cast<int8_t>(p.seq));
        pieces.push_back(std::move(e));
      } else if (add_special) {
        Encoding e;
        for (int32_t id : specials_.at(p.token).ids) Append(&e, id, p.type_id, 1, -1);
        pieces.push_back(std::move(e));
      }
    }
    encodings->clear();
    encodings->push_back(MergeEncodings(std::move(pieces)));
    return Status::Ok();
  }
};

class BertProcessing final : public PostProcessor {
 public:
  int32_t sep_ = 0, cls_ = 0;
  size_t AddedTokens(bool is_pair) const override { return is_pair ? 3 : 2; }

  void Wrap(Encoding* e, size_t i) const {
    Encoding out;
    if (i == 0) Append(&out, cls_, 0, 1, -1);
    AppendAll(&out, *e);
    std::fill(out.special_tokens_mask.begin() + (i == 0 ? 1 : 0), out.special_tokens_mask.end(), 0);
    std::fill(out.attention_mask.begin(), out.attention_mask.end(), 1);
    Append(&out, sep_, i == 0 ? 0 : 1, 1, -1);
    for (Encoding& o : e->overflowing) Wrap(&o, i);
    out.overflowing = std::move(e->overflowing);
    *e = std::move(out);
  }

  Status ProcessEncodings(std::vector<Encoding>* encodings, bool add_special) const override {
    if (!add_special) return Status::Ok();
    for (size_t i = 0; i < encodings->size(); ++i) Wrap(&(*encodings)[i], i);
    return Status::Ok();
  }
};

class SequenceProcessor final : public PostProcessor {
 public:
  std::vector<std::unique_ptr<PostProcessor>> seq_;
  size_t AddedTokens(bool is_pair) const override {
    size_t n = 0;
    for (const auto& p : seq_) n += p->AddedTokens(is_pair);
    return n;
  }
  Status ProcessEncodings(std::vector<Encoding>* encodings, bool add_special) const override {
    for (const auto& p : seq_) WINNOW_RETURN_IF_ERROR(p->ProcessEncodings(encodings, add_special));
    return Status::Ok();
  }
};

// HF byte_level::process_offsets: trims offsets of tokens that start / end with byte-level spaces
// ('Ġ') or whitespace. Offsets are bytes of the original text, as HF's are internally.
void TrimByteLevelOffsets(Encoding* e, bool add_prefix_space, const IdToTokenFn& id_to_token) {
  auto is_space = [](uint32_t c) { return c == 0x120 || unicode::IsWhitespace(c); };
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < e->ids.size(); ++i) {
    std::optional<std::string> tok = id_to_token ? id_to_token(e->ids[i]) : std::nullopt;
    if (!tok) continue;
    cps.clear();
    for (size_t k = 0; k < tok->size();) {
      int len;
      cps.push_back(unicode::Decode(*tok, k, &len));
      k += len;
    }
    size_t leading = 0, trailing = 0;
    while (leading < cps.size() && is_space(cps[leading])) ++leading;
    while (trailing < cps.size() && is_space(cps[cps.size() - 1 - trailing])) ++trailing;
    auto& off = e->offsets[i];
    if (leading > 0) {
      const bool is_first = i == 0 || off.first == 0;
      if (is_first && add_prefix_space && leading == 1) leading = 0;
      off.first = static_cast<uint32_t>(std::min<size_t>(off.first + leading, off.second));
    }
    if (trailing > 0 && off.second >= trailing) off.second = static_cast<uint32_t>(std::max<size_t>(off.second - trailing, off.first));
  }
}

class ByteLevelProcessor final : public PostProcessor {
 public:
  bool add_prefix_space_ = true, trim_offsets_ = true;
  IdToTokenFn id_to_token_;
  size_t AddedTokens(bool) const override { return 0; }
  Status ProcessEncodings(std::vector<Encoding>* encodings, bool) const override {
    if (trim_offsets_) {
      for (Encoding& e : *encodings) {
        TrimByteLevelOffsets(&e, add_prefix_space_, id_to_token_);
        for (Encoding& o : e.overflowing) TrimByteLevelOffsets(&o, add_prefix_space_, id_to_token_);
      }
    }
    for (size_t i = 0; i < encodings->size(); ++i) {
      Encoding& e = (*encodings)[i];
      std::fill(e.sequence_ids.begin(), e.sequence_ids.end(), static_cast<int8_t>(i));
      for (Encoding& o : e.overflowing) std::fill(o.sequence_ids.begin(), o.sequence_ids.end(), static_cast<int8_t>(i));
    }
    return Status::Ok();
  }
};

class RobertaProcessing final : public PostProcessor {
 public:
  int32_t sep_ = 0, cls_ = 0;
  bool add_prefix_space_ = true, trim_offsets_ = true;
  IdToTokenFn id_to_token_;
  size_t AddedTokens(bool is_pair) const override { return is_pair ? 4 : 2; }

  void Wrap(Encoding* e, size_t i) const {
    Encoding out;
    Append(&out, i == 0 ? cls_ : sep_, 0, 1, -1);
    AppendAll(&out, *e);
    std::fill(out.type_ids.begin(), out.type_ids.end(), 0);
    std::fill(out.special_tokens_mask.begin() + 1, out.special_tokens_mask.end(), 0);
    std::fill(out.attention_mask.begin(), out.attention_mask.end(), 1);
    Append(&out, sep_, 0, 1, -1);
    for (Encoding& o : e->overflowing) Wrap(&o, i);
    out.overflowing = std::move(e->overflowing);
    *e = std::move(out);
  }

  Status ProcessEncodings(std::vector<Encoding>* encodings, bool add_special) const override {
    for (Encoding& e : *encodings) {
      if (trim_offsets_) {
        TrimByteLevelOffsets(&e, add_prefix_space_, id_to_token_);
        for (Encoding& o : e.overflowing) TrimByteLevelOffsets(&o, add_prefix_space_, id_to_token_);
      }
      std::fill(e.type_ids.begin(), e.type_ids.end(), 0);
      for (Encoding& o : e.overflowing) std::fill(o.type_ids.begin(), o.type_ids.end(), 0);
    }
    if (!add_special) return Status::Ok();
    for (size_t i = 0; i < encodings->size(); ++i) Wrap(&(*encodings)[i], i);
    return Status::Ok();
  }
};

Status ParseTemplate(const json& j, const std::string& path, std::vector<Piece>* out) {
  using namespace json_util;
  out->clear();
  if (j.is_string()) {
    // "[CLS]:0 $A:0 [SEP]:0" form.
    std::string s = j.get<std::string>();
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && s[i] == ' ') ++i;
      size_t e = s.find(' ', i);
      if (e == std::string::npos) e = s.size();
      if (e == i) break;
      std::string tok = s.substr(i, e - i);
      i = e;
      int32_t type_id = 0;
      size_t colon = tok.rfind(':');
      if (colon != std::string::npos && colon + 1 < tok.size() &&
          tok.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
        type_id = std::stoi(tok.substr(colon + 1));
        tok = tok.substr(0, colon);
      }
      if (tok == "$A" || tok == "$") out->push_back({true, 0, "", type_id});
      else if (tok == "$B") out->push_back({true, 1, "", type_id});
      else if (tok.size() > 1 && tok[0] == '$' && tok.find_first_not_of("0123456789", 1) == std::string::npos)
        out->push_back({true, 0, "", std::stoi(tok.substr(1))});
      else out->push_back({false, 0, tok, type_id});
    }
    return Status::Ok();
  }
  if (!j.is_array()) return InvalidAt(path, "expected an array of template pieces");
  for (size_t k = 0; k < j.size(); ++k) {
    const json& p = j[k];
    const std::string ppath = Index(path, k);
    if (!p.is_object() || p.size() != 1) return InvalidAt(ppath, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    const std::string kind = p.begin().key();
    const json& body = p.begin().value();
    const std::string bpath = ppath + "." + kind;
    if (!body.is_object()) return InvalidAt(bpath, "expected an object");
    uint64_t type_id = 0;
    WINNOW_RETURN_IF_ERROR(GetUint(body, "type_id", bpath, &type_id, false, INT32_MAX));
    std::string id;
    WINNOW_RETURN_IF_ERROR(GetString(body, "id", bpath, &id, /*required=*/true));
    if (kind == "Sequence") {
      if (id != "A" && id != "B") return InvalidAt(Key(bpath, "id"), "expected \"A\" or \"B\", got \"" + id + "\"");
      out->push_back({true, id == "A" ? 0 : 1, "", static_cast<int32_t>(type_id)});
    } else if (kind == "SpecialToken") {
      out->push_back({false, 0, id, static_cast<int32_t>(type_id)});
    } else {
      return InvalidAt(ppath, "unknown template piece \"" + kind + "\"");
    }
  }
  return Status::Ok();
}

Status ParseTokenIdPair(const json& j, const std::string& path, int32_t* id) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_string()) return InvalidAt(path, "expected [\"token\", id]");
  return json_util::ToId(j[1], path + "[1]", id);
}

}  // namespace

StatusOr<std::unique_ptr<PostProcessor>> LoadPostProcessor(const nlohmann::json& j, const std::string& path,
                                                           IdToTokenFn id_to_token, int depth) {
  using namespace json_util;
  std::string type;
  WINNOW_RETURN_IF_ERROR(GetType(j, path, &type));
  if (type == "TemplateProcessing") {
    auto t = std::make_unique<TemplateProcessing>();
    const json* single = Find(j, "single");
    const json* pair = Find(j, "pair");
    if (!single) return InvalidAt(Key(path, "single"), "missing required template");
    WINNOW_RETURN_IF_ERROR(ParseTemplate(*single, Key(path, "single"), &t->single_));
    if (pair) {
      WINNOW_RETURN_IF_ERROR(ParseTemplate(*pair, Key(path, "pair"), &t->pair_));
    } else {
      return InvalidAt(Key(path, "pair"), "missing required template");
    }
    if (const json* st = Find(j, "special_tokens")) {
      const std::string spath = Key(path, "special_tokens");
      if (!st->is_object()) return InvalidAt(spath, std::string("expected an object, got ") + st->type_name());
      for (auto it = st->begin(); it != st->end(); ++it) {
        const std::string epath = spath + "[\"" + it.key() + "\"]";
        const json& e = it.value();
        if (!e.is_object()) return InvalidAt(epath, "expected an object");
        const json* ids = Find(e, "ids");
        if (!ids || !ids->is_array()) return InvalidAt(Key(epath, "ids"), "expected an array of token ids");
        SpecialToken sp;
        for (size_t k = 0; k < ids->size(); ++k) {
          int32_t id;
          WINNOW_RETURN_IF_ERROR(ToId((*ids)[k], Index(Key(epath, "ids"), k), &id));
          sp.ids.push_back(id);
        }
        const json* toks = Find(e, "tokens");
        if (toks && (!toks->is_array() || toks->size() != ids->size()))
          return InvalidAt(Key(epath, "tokens"), "expected as many tokens as ids");
        std::string key = it.key();
        if (const json* idv = Find(e, "id"); idv && idv->is_string()) key = idv->get<std::string>();
        t->specials_[key] = std::move(sp);
      }
    }
    for (const auto* tmpl : {&t->single_, &t->pair_}) {
      for (const Piece& p : *tmpl) {
        if (!p.is_sequence && !t->specials_.count(p.token))
          return InvalidAt(Key(path, "special_tokens"), "missing special token \"" + p.token + "\" used in a template");
      }
    }
    return std::unique_ptr<PostProcessor>(std::move(t));
  }
  if (type == "BertProcessing") {
    auto b = std::make_unique<BertProcessing>();
    const json* sep = Find(j, "sep");
    const json* cls = Find(j, "cls");
    if (!sep) return InvalidAt(Key(path, "sep"), "missing required [\"token\", id]");
    if (!cls) return InvalidAt(Key(path, "cls"), "missing required [\"token\", id]");
    WINNOW_RETURN_IF_ERROR(ParseTokenIdPair(*sep, Key(path, "sep"), &b->sep_));
    WINNOW_RETURN_IF_ERROR(ParseTokenIdPair(*cls, Key(path, "cls"), &b->cls_));
    return std::unique_ptr<PostProcessor>(std::move(b));
  }
  if (type == "Sequence") {
    WINNOW_RETURN_IF_ERROR(CheckSequenceDepth(depth, path));
    const json* arr = Find(j, "processors");
    const std::string apath = Key(path, "processors");
    if (!arr || !arr->is_array()) return InvalidAt(apath, "expected an array");
    auto s = std::make_unique<SequenceProcessor>();
    for (size_t i = 0; i < arr->size(); ++i) {
      WINNOW_ASSIGN_OR_RETURN(std::unique_ptr<PostProcessor> p, LoadPostProcessor((*arr)[i], Index(apath, i), id_to_token, depth + 1));
      s->seq_.push_back(std::move(p));
    }
    return std::unique_ptr<PostProcessor>(std::move(s));
  }
  if (type == "RobertaProcessing") {
    auto r = std::make_unique<RobertaProcessing>();
    const json* sep = Find(j, "sep");
    const json* cls = Find(j, "cls");
    if (!sep) return InvalidAt(Key(path, "sep"), "missing required [\"token\", id]");
    if (!cls) return InvalidAt(Key(path, "cls"), "missing required [\"token\", id]");
    WINNOW_RETURN_IF_ERROR(ParseTokenIdPair(*sep, Key(path, "sep"), &r->sep_));
    WINNOW_RETURN_IF_ERROR(ParseTokenIdPair(*cls, Key(path, "cls"), &r->cls_));
    WINNOW_RETURN_IF_ERROR(GetBool(j, "trim_offsets", path, &r->trim_offsets_));
    WINNOW_RETURN_IF_ERROR(GetBool(j, "add_prefix_space", path, &r->add_prefix_space_));
    r->id_to_token_ = id_to_token;
    return std::unique_ptr<PostProcessor>(std::move(r));
  }
  if (type == "ByteLevel") {
    auto b = std::make_unique<ByteLevelProcessor>();
    WINNOW_RETURN_IF_ERROR(GetBool(j, "trim_offsets", path, &b->trim_offsets_));
    WINNOW_RETURN_IF_ERROR(GetBool(j, "add_prefix_space", path, &b->add_prefix_space_));
    b->id_to_token_ = id_to_token;
    return std::unique_ptr<PostProcessor>(std::move(b));
  }
  if (type.empty()) return InvalidAt(Key(path, "type"), "missing post-processor type");
  return Unsupported(path, type);
}

void MergeInto(Encoding* self, const Encoding& pair) {
  std::vector<Encoding> overflowings;
  for (const Encoding& so : self->overflowing) {
    Encoding n = so;
    MergeInto(&n, pair);
    overflowings.push_back(std::move(n));
    for (const Encoding& po : pair.overflowing) {
      Encoding m = so;
      MergeInto(&m, po);
      overflowings.push_back(std::move(m));
    }
  }
  for (const Encoding& po : pair.overflowing) {
    Encoding n = *self;
    n.overflowing.clear();
    MergeInto(&n, po);
    overflowings.push_back(std::move(n));
  }
  AppendAll(self, pair);
  self->overflowing = std::move(overflowings);
}

Encoding MergeEncodings(std::vector<Encoding> encodings) {
  Encoding out;
  for (Encoding& e : encodings) MergeInto(&out, e);
  return out;
}

Status TruncateEncoding(Encoding* e, size_t max_len, size_t stride, Direction dir) {
  const size_t n = e->ids.size();
  if (max_len >= n) return Status::Ok();
  if (max_len == 0) {
    Encoding o = std::move(*e);
    *e = Encoding();
    e->overflowing.push_back(std::move(o));
    return Status::Ok();
  }
  if (stride >= max_len)
    return Status(codes::kInvalidArgument, "truncation stride (" + std::to_string(stride) +
                                               ") must be strictly less than the maximum length per sequence (" +
                                               std::to_string(max_len) + ", special tokens excluded)");
  const size_t step = max_len - stride;
  std::vector<std::pair<size_t, size_t>> parts;
  if (dir == Direction::kRight) {
    for (size_t start = 0; start < n; start += step) {
      size_t stop = std::min(start + max_len, n);
      parts.emplace_back(start, stop);
      if (stop == n) break;
    }
  } else {
    // (0..n).rev().step_by(step): stop candidates n-1, n-1-step, ...
    for (size_t k = 0;; ++k) {
      if (k * step > n - 1) break;
      size_t stop = n - 1 - k * step + 1;
      size_t start = stop > max_len ? stop - max_len : 0;
      if (start < stop) {
        parts.emplace_back(start, stop);
        if (start == 0) break;
      }
    }
  }
  auto slice = [&](size_t a, size_t b) {
    Encoding s;
    s.ids.assign(e->ids.begin() + a, e->ids.begin() + b);
    s.type_ids.assign(e->type_ids.begin() + a, e->type_ids.begin() + b);
    s.special_tokens_mask.assign(e->special_tokens_mask.begin() + a, e->special_tokens_mask.begin() + b);
    s.attention_mask.assign(e->attention_mask.begin() + a, e->attention_mask.begin() + b);
    s.offsets.assign(e->offsets.begin() + a, e->offsets.begin() + b);
    s.sequence_ids.assign(e->sequence_ids.begin() + a, e->sequence_ids.begin() + b);
    return s;
  };
  Encoding first = slice(parts[0].first, parts[0].second);
  for (size_t i = 1; i < parts.size(); ++i) first.overflowing.push_back(slice(parts[i].first, parts[i].second));
  *e = std::move(first);
  return Status::Ok();
}

void EarlyStopAtMaxLength(Encoding* e, size_t max_length, Direction dir) {
  std::vector<std::pair<uint32_t, uint32_t>> splits = std::move(e->model_splits);
  e->model_splits.clear();
  const size_t n = e->ids.size();
  if (max_length == 0 || n <= max_length) return;
  size_t begin = 0, end = n;
  if (dir == Direction::kRight) {
    for (const auto& s : splits) {
      if (s.second >= max_length) {
        end = s.second;
        break;
      }
    }
  } else {
    for (auto it = splits.rbegin(); it != splits.rend(); ++it) {
      if (n - it->first >= max_length) {
        begin = it->first;
        break;
      }
    }
  }
  if (begin == 0 && end == n) return;
  auto cut = [&](auto& v) {
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(end), v.end());
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(begin));
  };
  cut(e->ids);
  cut(e->type_ids);
  cut(e->special_tokens_mask);
  cut(e->attention_mask);
  cut(e->offsets);
  cut(e->sequence_ids);
}

Status TruncateEncodings(Encoding* first, Encoding* pair, const TruncationOptions& p) {
  const size_t total = first->ids.size() + (pair ? pair->ids.size() : 0);
  if (total <= p.max_length) return Status::Ok();
  const size_t to_remove = total - p.max_length;
  switch (p.strategy) {
    case TruncationStrategy::kLongestFirst: {
      if (pair) {
        size_t n1 = first->ids.size(), n2 = pair->ids.size();
        bool swap = false;
        if (n1 > n2) {
          swap = true;
          std::swap(n1, n2);
        }
        if (n1 > p.max_length) {
          n2 = n1;
        } else {
          n2 = std::max(n1, p.max_length - n1);
        }
        if (n1 + n2 > p.max_length) {
          n1 = p.max_length / 2;
          n2 = n1 + p.max_length % 2;
        }
        if (swap) std::swap(n1, n2);
        WINNOW_RETURN_IF_ERROR(TruncateEncoding(first, n1, p.stride, p.direction));
        WINNOW_RETURN_IF_ERROR(TruncateEncoding(pair, n2, p.stride, p.direction));
      } else {
        WINNOW_RETURN_IF_ERROR(TruncateEncoding(first, total - to_remove, p.stride, p.direction));
      }
      break;
    }
    case TruncationStrategy::kOnlyFirst:
    case TruncationStrategy::kOnlySecond: {
      Encoding* target = p.strategy == TruncationStrategy::kOnlyFirst ? first : pair;
      if (!target) return Status(codes::kInvalidArgument, "truncation strategy only_second needs a pair of sequences");
      const size_t len = target->ids.size();
      if (len > to_remove) {
        WINNOW_RETURN_IF_ERROR(TruncateEncoding(target, len - to_remove, p.stride, p.direction));
      } else {
        return Status(codes::kInvalidArgument,
                      "truncation error: the sequence to truncate is too short to respect the maximum length");
      }
      break;
    }
  }
  return Status::Ok();
}

void PadEncoding(Encoding* e, size_t target, int32_t pad_id, int32_t pad_type_id, Direction dir) {
  for (Encoding& o : e->overflowing) PadEncoding(&o, target, pad_id, pad_type_id, dir);
  if (e->ids.size() >= target) return;
  const size_t k = target - e->ids.size();
  auto pad = [&](auto& v, auto value) {
    if (dir == Direction::kRight) v.insert(v.end(), k, value);
    else v.insert(v.begin(), k, value);
  };
  pad(e->ids, pad_id);
  pad(e->type_ids, pad_type_id);
  pad(e->special_tokens_mask, uint8_t{1});
  pad(e->attention_mask, uint8_t{0});
  pad(e->offsets, std::pair<uint32_t, uint32_t>(0, 0));
  pad(e->sequence_ids, int8_t{-1});
}

}  // namespace winnow::tok
