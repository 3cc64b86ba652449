#include "tokenizer/regex.h"

#include <pcre2.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>

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
  r->pattern_ = pattern;
  r->path_ = path;
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

namespace {

struct MatchContextFree {
  void operator()(pcre2_match_context* c) const { pcre2_match_context_free(c); }
};
struct JitStackFree {
  void operator()(pcre2_jit_stack* s) const { pcre2_jit_stack_free(s); }
};
struct MatchDataFree {
  void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
};

bool IsLimit(int rc) {
  return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
         rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_NOMEMORY;
}

}  // namespace

Status Regex::LimitError(int rc, size_t text_size) const {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(rc, buf, sizeof(buf));
  std::string shown = pattern_.size() > 200 ? pattern_.substr(0, 200) + "..." : pattern_;
  return InvalidAt(path_, "the regular expression " + nlohmann::json(shown).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                              " backtracks past Winnow's limits on a text of " + std::to_string(text_size) +
                              " bytes (" + reinterpret_cast<const char*>(buf) + ")");
}

Status Regex::FindMatches(std::string_view text, std::vector<Match>* out) const {
  out->clear();
  if (text.empty()) {
    out->push_back({0, 0, false});
    return Status::Ok();
  }
  auto* code = static_cast<pcre2_code*>(code_);
  std::unique_ptr<pcre2_match_data, MatchDataFree> md(pcre2_match_data_create_from_pattern(code, nullptr));
  std::unique_ptr<pcre2_match_context, MatchContextFree> ctx(pcre2_match_context_create(nullptr));
  if (!md || !ctx) return Status(codes::kInternal, "pcre2: out of memory");
  const uint64_t match_limit = std::min<uint64_t>(kMatchLimitBase + kMatchLimitPerByte * text.size(), UINT32_MAX);
  pcre2_set_match_limit(ctx.get(), static_cast<uint32_t>(match_limit));
  pcre2_set_heap_limit(ctx.get(), static_cast<uint32_t>(kMaxHeapBytes >> 10));  // in KiB
  std::unique_ptr<pcre2_jit_stack, JitStackFree> jit_stack;  // null: the JIT's 32 KiB on the machine stack
  size_t jit_stack_bytes = 0;
  size_t pos = 0, prev = 0;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (pos <= text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md.get(), ctx.get());
    while (rc == PCRE2_ERROR_JIT_STACKLIMIT && jit_stack_bytes < kMaxJitStackBytes) {
      // Retry on a bigger JIT stack (8x each time, so the retries cost less than the final attempt).
      jit_stack_bytes = jit_stack_bytes == 0 ? size_t{1} << 20 : std::min(jit_stack_bytes * 8, kMaxJitStackBytes);
      jit_stack.reset(pcre2_jit_stack_create(32 * 1024, jit_stack_bytes, nullptr));
      if (!jit_stack) return Status(codes::kInternal, "pcre2: out of memory");
      pcre2_jit_stack_assign(ctx.get(), nullptr, jit_stack.get());
      rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md.get(), ctx.get());
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (IsLimit(rc)) return LimitError(rc, text.size());
    if (rc < 0) return Status(codes::kInternal, path_ + ": pcre2 match error " + std::to_string(rc));
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
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
  if (prev != text.size()) out->push_back({static_cast<uint32_t>(prev), static_cast<uint32_t>(text.size()), false});
  return Status::Ok();
}

}  // namespace winnow::tok
