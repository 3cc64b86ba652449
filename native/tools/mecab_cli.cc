// mecab_cli: Winnow's MeCab segmenter over stdin, line by line, printing what the `mecab` command prints:
//   -Owakati (default)  the words of each line separated by spaces (each followed by one), as `mecab -Owakati`
//   -Ofeatures          "surface\tfeature" per word, then "EOS", as `mecab` with no node-format set
// Lines are read the way `mecab` reads them: at most SIZE - 1 bytes at a time (a longer line is cut into
// pieces), each up to its first NUL. Used by scripts/mecab-parity.mjs and bench/tokenizer/mecab.mjs.
//
//   mecab_cli -d DICDIR [-Owakati|-Ofeatures] [-b SIZE]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "mecab/dictionary.h"
#include "mecab/segmenter.h"

namespace {

int Usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s -d DICDIR [-Owakati|-Ofeatures] [-b SIZE]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dicdir;
  bool features = false;
  size_t buffer_size = 8192;  // mecab's default input-buffer-size
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (a.size() > std::strlen(flag)) return a.substr(std::strlen(flag));
      if (i + 1 < argc) return argv[++i];
      return "";
    };
    if (a.rfind("-d", 0) == 0) {
      dicdir = value("-d");
    } else if (a.rfind("-O", 0) == 0) {
      const std::string o = value("-O");
      if (o == "wakati") features = false;
      else if (o == "features") features = true;
      else return Usage(argv[0]);
    } else if (a.rfind("-b", 0) == 0) {
      // mecab clamps -b to [8192, 8192 * 640].
      const long n = std::atol(value("-b").c_str());
      buffer_size = static_cast<size_t>(n < 8192 ? 8192 : n > 8192 * 640 ? 8192 * 640 : n);
    } else {
      return Usage(argv[0]);
    }
  }
  if (dicdir.empty()) return Usage(argv[0]);

  auto dict = winnow::mecab::Dictionary::Open(dicdir);
  if (!dict.ok()) {
    std::fprintf(stderr, "%s\n", dict.status().ToString().c_str());
    return 1;
  }
  winnow::mecab::SegmenterOptions options;
  options.features = features;
  const winnow::mecab::Segmenter segmenter(*dict, options);

  std::string input;
  {
    std::vector<char> buf(1 << 20);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), stdin)) > 0) input.append(buf.data(), n);
  }
  winnow::mecab::Lattice lattice;
  std::vector<winnow::mecab::Word> words;
  std::string out;
  auto segment = [&](std::string_view piece) -> bool {
    piece = piece.substr(0, piece.find('\0'));
    const winnow::Status st = segmenter.Segment(piece, &lattice, &words);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.ToString().c_str());
      return false;
    }
    for (const auto& w : words) {
      out.append(piece.substr(w.byte_begin, w.byte_end - w.byte_begin));
      if (features) {
        out += '\t';
        out.append(w.feature);
        out += '\n';
      } else {
        out += ' ';
      }
    }
    out += features ? "EOS\n" : "\n";
    if (out.size() > (1 << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
    return true;
  };
  const size_t piece_max = buffer_size - 1;
  std::string_view rest(input);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    const bool last = nl == std::string_view::npos;
    std::string_view line = rest.substr(0, last ? rest.size() : nl);
    rest.remove_prefix(last ? rest.size() : nl + 1);
    do {  // a line longer than the buffer goes through in pieces, as mecab's istream::getline gives them
      const std::string_view piece = line.substr(0, piece_max);
      line.remove_prefix(piece.size());
      if (!segment(piece)) return 1;
    } while (!line.empty());
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
