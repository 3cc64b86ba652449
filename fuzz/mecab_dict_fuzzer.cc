// libFuzzer target: the compiled MeCab dictionary reader (native/core/mecab) on hostile files.
// Input: four little-endian uint32 sizes, then that many bytes of sys.dic, unk.dic, char.bin and matrix.bin, then
// a text (a missing or short file is written as what is there). The files go to a scratch folder and
// Dictionary::Open reads them: it must return a Status, never read out of bounds; when it loads, the text and a
// few fixed strings are segmented and every word must lie inside its text, in order, without overlap.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "mecab/dictionary.h"
#include "mecab/segmenter.h"

namespace {

const std::string& Scratch() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/winnow-mecab-fuzz-XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (!d) std::abort();
    return std::string(d);
  }();
  return dir;
}

void Write(const std::string& path, const uint8_t* data, size_t n) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (n && std::fwrite(data, 1, n, f) != n) std::abort();
  std::fclose(f);
}

void CheckWords(const winnow::mecab::Segmenter& s, std::string_view text, winnow::mecab::Lattice* lattice) {
  std::vector<winnow::mecab::Word> words;
  if (!s.Segment(text, lattice, &words).ok()) return;  // a path cost out of MeCab's range
  size_t last = 0;
  for (const winnow::mecab::Word& w : words) {
    if (w.byte_begin < last || w.byte_end < w.byte_begin || w.byte_end > text.size() || w.char_end < w.char_begin) {
      std::fprintf(stderr, "INVARIANT: word [%zu, %zu) after %zu in a %zu-byte text\n", w.byte_begin, w.byte_end, last,
                   text.size());
      std::abort();
    }
    last = w.byte_end;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* kFiles[] = {"sys.dic", "unk.dic", "char.bin", "matrix.bin"};
  if (size < 16) return 0;
  uint32_t sizes[4];
  std::memcpy(sizes, data, 16);
  size_t at = 16;
  for (int i = 0; i < 4; ++i) {
    const size_t n = std::min<size_t>(sizes[i], size - at);
    Write(Scratch() + "/" + kFiles[i], data + at, n);
    at += n;
  }
  const std::string_view text(reinterpret_cast<const char*>(data + at), size - at);
  auto dict = winnow::mecab::Dictionary::Open(Scratch());
  if (!dict.ok()) return 0;
  winnow::mecab::SegmenterOptions options;
  options.features = true;
  const winnow::mecab::Segmenter segmenter(*dict, options);
  winnow::mecab::Lattice lattice;
  CheckWords(segmenter, text, &lattice);
  for (const char* s : {"すもももももももものうち", "東京に行く ｶﾀｶﾅ abc 123", "😀\xff\xfe\xe3\x81", ""})
    CheckWords(segmenter, s, &lattice);
  return 0;
}
