#include "tokenizer/added_vocabulary.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/unicode.h"

namespace winnow::tok {

void AddedVocabulary::Matcher::Build(std::vector<Pattern> patterns) {
  for (auto& b : by_first_byte) b.clear();
  any = false;
  for (Pattern& p : patterns) {
    if (p.text.empty()) continue;
    by_first_byte[static_cast<unsigned char>(p.text[0])].push_back(std::move(p));
    any = true;
  }
  for (auto& b : by_first_byte) {
    std::stable_sort(b.begin(), b.end(), [](const Pattern& a, const Pattern& c) { return a.text.size() > c.text.size(); });
  }
}

bool AddedVocabulary::Matcher::FindNext(std::string_view s, size_t from, size_t* start, size_t* end, int32_t* id) const {
  if (!any) return false;
  for (size_t p = from; p < s.size(); ++p) {
    const auto& bucket = by_first_byte[static_cast<unsigned char>(s[p])];
    for (const Pattern& pat : bucket) {
      if (pat.text.size() <= s.size() - p && std::memcmp(s.data() + p, pat.text.data(), pat.text.size()) == 0) {
        *start = p;
        *end = p + pat.text.size();
        *id = pat.id;
        return true;
      }
    }
  }
  return false;
}

Status AddedVocabulary::AddTokens(const std::vector<AddedToken>& tokens, const Model& model, const Normalizer* normalizer) {
  for (const AddedToken& t : tokens) {
    if (t.special && !t.content.empty() && !special_set_.count(t.content)) {
      special_.push_back(t);
      special_set_.insert(t.content);
    }
  }
  for (const AddedToken& t : tokens) {
    if (t.content.empty()) continue;
    bool dup = false;
    for (const auto& [id, v] : map_r_) {
      if (v.content == t.content) { dup = true; break; }
    }
    if (dup) continue;
    int32_t new_id;
    if (auto known = TokenToId(t.content)) {
      new_id = *known;
    } else if (auto mid = model.TokenToId(t.content)) {
      new_id = *mid;
    } else {
      const int32_t vs = static_cast<int32_t>(model.VocabSize());
      if (map_.empty()) {
        new_id = vs;
      } else {
        int32_t mx = -1;
        for (const auto& [k, v] : map_) mx = std::max(mx, v);
        new_id = (mx >= vs || vs == 0) ? mx + 1 : vs;
      }
    }
    map_[t.content] = new_id;
    map_r_[new_id] = t;
    if (!special_set_.count(t.content)) added_.push_back(t);
  }
  Refresh(model, normalizer);
  return Status::Ok();
}

void AddedVocabulary::Refresh(const Model& model, const Normalizer* normalizer) {
  std::vector<Matcher::Pattern> raw, norm;
  auto add = [&](const AddedToken& t) {
    auto id = TokenToId(t.content);
    if (!id) id = model.TokenToId(t.content);
    if (!id) return;
    if (!t.normalized) {
      raw.push_back({t.content, *id});
    } else {
      NormalizedString ns(t.content, 0);
      if (normalizer) (void)normalizer->Normalize(&ns);
      norm.push_back({ns.get(), *id});
    }
  };
  for (const AddedToken& t : special_) add(t);
  for (const AddedToken& t : added_) add(t);
  raw_.Build(std::move(raw));
  normalized_.Build(std::move(norm));
}

std::optional<int32_t> AddedVocabulary::TokenToId(std::string_view token) const {
  auto it = map_.find(std::string(token));
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string_view> AddedVocabulary::IdToToken(int32_t id) const {
  auto it = map_r_.find(id);
  if (it == map_r_.end()) return std::nullopt;
  return std::string_view(it->second.content);
}

bool AddedVocabulary::IsSpecialId(int32_t id) const {
  auto it = map_r_.find(id);
  return it != map_r_.end() && special_set_.count(it->second.content) > 0;
}

size_t AddedVocabulary::NumNotInModel(const Model& model) const {
  size_t n = 0;
  for (const auto& [content, id] : map_) n += !model.TokenToId(content).has_value();
  return n;
}

namespace {
bool EndsWithWord(std::string_view s) {
  if (s.empty()) return false;
  size_t p = s.size() - 1;
  while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
  int len;
  return unicode::IsWordChar(unicode::Decode(s, p, &len));
}
bool StartsWithWord(std::string_view s) {
  if (s.empty()) return false;
  int len;
  return unicode::IsWordChar(unicode::Decode(s, 0, &len));
}
}  // namespace

Status AddedVocabulary::SplitWithMatcher(NormalizedString& ns, const Matcher& m, std::vector<Split>* out) const {
  const std::string_view s(ns.get());
  if (!m.any || s.empty()) {
    out->push_back(Split{std::move(ns), false, {}});
    return Status::Ok();
  }
  size_t start_offset = 0, from = 0, ms, me;
  int32_t id;
  bool found_any = false;
  while (m.FindNext(s, from, &ms, &me, &id)) {
    from = me;
    const AddedToken& tok = map_r_.at(id);
    size_t start = ms, stop = me;
    if (tok.single_word) {
      const bool start_space = start == 0 || !EndsWithWord(s.substr(0, start));
      const bool stop_space = stop == s.size() || !StartsWithWord(s.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t ns_start = start;
      while (ns_start > 0) {
        size_t p = ns_start - 1;
        while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
        int len;
        if (!unicode::IsWhitespace(unicode::Decode(s, p, &len))) break;
        ns_start = p;
      }
      start = std::max(ns_start, start_offset);
    }
    if (tok.rstrip) {
      while (stop < s.size()) {
        int len;
        if (!unicode::IsWhitespace(unicode::Decode(s, stop, &len))) break;
        stop += len;
      }
    }
    if (start_offset < start) out->push_back(Split{ns.Slice(start_offset, start), false, {}});
    Split t{ns.Slice(start, stop), true, {}};
    t.tokens.push_back(Token{id, 0, static_cast<uint32_t>(stop - start)});
    out->push_back(std::move(t));
    start_offset = stop;
    found_any = true;
  }
  if (!found_any) {
    out->push_back(Split{std::move(ns), false, {}});
    return Status::Ok();
  }
  if (start_offset != s.size()) out->push_back(Split{ns.Slice(start_offset, s.size()), false, {}});
  return Status::Ok();
}

Status AddedVocabulary::ExtractAndNormalize(const Normalizer* normalizer, std::string_view text,
                                            PreTokenizedString* out) const {
  *out = PreTokenizedString(text);
  if (raw_.any) {
    WINNOW_RETURN_IF_ERROR(out->SplitWith(
        [this](NormalizedString& ns, std::vector<Split>* o) { return SplitWithMatcher(ns, raw_, o); }));
  }
  return out->SplitWith([this, normalizer](NormalizedString& ns, std::vector<Split>* o) {
    if (normalizer) WINNOW_RETURN_IF_ERROR(normalizer->Normalize(&ns));
    return SplitWithMatcher(ns, normalized_, o);
  });
}

bool AddedVocabulary::AnyTokenSpansSpace() const {
  for (const auto& [content, id] : map_) {
    bool after_non_space = false;
    for (size_t i = 0; i < content.size();) {
      int len = 0;
      const bool ws = unicode::IsWhitespace(unicode::Decode(content, i, &len));
      if (ws && after_non_space) return true;
      after_non_space = !ws;
      i += static_cast<size_t>(len > 0 ? len : 1);
    }
  }
  return false;
}

}  // namespace winnow::tok
