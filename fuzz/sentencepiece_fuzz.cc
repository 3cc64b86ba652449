// libFuzzer harness for the sentencepiece model reader (native/core/tokenizer/slow, issue 26): input = the bytes of
// a .model file, converted for the class picked by the input's length (XLM-R, CamemBERT, DeBERTa-v2, T5).
// The conversion returns a Status (never crashes, leaks or reads out of bounds); when it succeeds, the document
// must load (only a garbage precompiled charsmap may be refused, with TOKENIZER_INVALID), and a few fixed texts
// encode with ids inside the vocabulary and offsets inside the text, and decode.
// An invariant violation calls abort() with a message, so libFuzzer saves the input as a crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tokenizer/slow/sentencepiece.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s %s\n", what, detail.c_str());
  std::abort();
}
#define CHECK(cond, ...)                     \
  do {                                       \
    if (!(cond)) Fail(#cond, ##__VA_ARGS__); \
  } while (0)

constexpr const char* kClasses[] = {"XLMRobertaTokenizer", "CamembertTokenizer", "DebertaV2Tokenizer", "T5Tokenizer"};
constexpr std::string_view kTexts[] = {
    "Hello world, this is a test.",
    "  leading\tand  trailing \xE3\x80\x80spaces  ",
    "\xE6\x9D\xB1\xE4\xBA\xAC\xE5\xA4\xA7\xE5\xAD\xA6\xE3\x81\xA7 caf\xC3\xA9 \xEF\xAC\x81 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
    "<s> </s> <mask> [CLS] <extra_id_0> <0x41> \xE2\x96\x81",
    "",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string cls = kClasses[size % 4];
  winnow::tok::slow::SentencePieceFolderFiles files;
  auto doc = winnow::tok::slow::SentencePieceToTokenizerJson(bytes, "fuzz.model", cls, files);
  if (!doc.ok()) {
    const std::string& c = doc.status().code();
    CHECK(c == winnow::codes::kTokenizerInvalid || c == winnow::codes::kTokenizerUnsupported, doc.status().ToString());
    return 0;
  }
  auto tok = winnow::tok::Tokenizer::FromJson(doc->dump());
  if (!tok.ok()) {
    CHECK(tok.status().code() == winnow::codes::kTokenizerInvalid &&
              tok.status().message().find("precompiled_charsmap") != std::string::npos,
          tok.status().ToString());
    return 0;
  }
  const auto& t = **tok;
  winnow::tok::Encoding e;
  for (std::string_view a : kTexts) {
    for (const std::string_view* pair : {static_cast<const std::string_view*>(nullptr), &kTexts[0]}) {
      winnow::Status st = t.Encode(a, pair, winnow::tok::EncodeOptions{}, &e);
      CHECK(st.ok(), st.ToString());
      for (size_t i = 0; i < e.size(); ++i) {
        CHECK(e.ids[i] >= 0 && static_cast<size_t>(e.ids[i]) < t.VocabSize(), std::to_string(e.ids[i]));
        const size_t len = e.sequence_ids[i] == 1 ? pair->size() : a.size();
        CHECK(e.offsets[i].first <= e.offsets[i].second && e.offsets[i].second <= len);
      }
      std::string text;
      st = t.Decode(e.ids.data(), e.ids.size(), false, &text);
      CHECK(st.ok(), st.ToString());
    }
  }
  return 0;
}
