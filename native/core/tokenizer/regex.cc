#include "tokenizer/regex.h"

#include <pcre2.h>

#include <cstdio>

namespace winnow::tok {

Regex::~Regex() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

StatusOr<std::unique_ptr<Regex>> Regex::Compile(const std::string& pattern, const std::string& path) {
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    return InvalidAt(path, "invalid regular expression at offset " + std::to_string(off) + ": " +
                               reinterpret_cast<const char*>(buf));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort; falls back to the interpreter
  std::unique_ptr<Regex> r(new Regex());
  r->code_ = code;
  return r;
}

std::string Regex::Escape(std::string_view literal) {
  std::string out;
  out.reserve(literal.size() * 2);
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-/#&~").find(c) != std::string_view::npos ||
        static_cast<unsigned char>(c) < 0x20) {
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
        out += buf;
        continue;
      }
      out += '\\';
    }
    out += c;
  }
  return out;
}

Status Regex::FindMatches(std::string_view text, std::vector<Match>* out) const {
  out->clear();
  if (text.empty()) {
    out->push_back({0, 0, false});
    return Status::Ok();
  }
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  if (!md) return Status(codes::kInternal, "pcre2: out of memory");
  size_t pos = 0, prev = 0;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  Status st;
  while (pos <= text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      st = Status(codes::kInternal, "pcre2 match error " + std::to_string(rc));
      break;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t s = ov[0], e = ov[1];
    if (prev != s) out->push_back({static_cast<uint32_t>(prev), static_cast<uint32_t>(s), false});
    out->push_back({static_cast<uint32_t>(s), static_cast<uint32_t>(e), true});
    prev = e;
    if (e == s) {
      // Empty match: step over one char.
      if (e >= text.size()) break;
      pos = e + unicode::Utf8Len(static_cast<unsigned char>(text[e]));
    } else {
      pos = e;
    }
  }
  pcre2_match_data_free(md);
  if (prev != text.size()) out->push_back({static_cast<uint32_t>(prev), static_cast<uint32_t>(text.size()), false});
  return st;
}

}  // namespace winnow::tok
