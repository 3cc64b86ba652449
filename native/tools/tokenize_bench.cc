// tokenize_bench: EncodeRaw throughput of Winnow's C++ tokenizer, without N-API overhead.
//
//   tokenize_bench <tokenizer.json> <corpus.jsonl> [n_texts=20000] [reps=5]
//
// Texts are `${title}. ${text}` per corpus line (cycled to n_texts). Prints load time, tokens,
// best-of-reps time and tokens/s for EncodeRaw (no special tokens) and, for reference, Encode.
// Use under `perf record -g` / `valgrind --tool=callgrind` for a per-function breakdown.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

using winnow::tok::Encoding;
using winnow::tok::Tokenizer;
using Clock = std::chrono::steady_clock;

static double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <tokenizer.json> <corpus.jsonl> [n_texts=20000] [reps=5]\n", argv[0]);
    return 2;
  }
  const size_t n = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 20000;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 5;

  std::vector<std::string> base;
  {
    std::ifstream in(argv[2]);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      base.push_back(j.value("title", "") + ". " + j.value("text", ""));
    }
  }
  if (base.empty()) {
    std::fprintf(stderr, "no texts in %s\n", argv[2]);
    return 1;
  }
  std::vector<std::string> texts(n);
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) bytes += (texts[i] = base[i % base.size()]).size();

  auto t0 = Clock::now();
  auto tok = Tokenizer::FromFile(argv[1]);
  auto t1 = Clock::now();
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
    return 1;
  }
  std::printf("load: %.1f ms\n", Ms(t0, t1));

  Encoding enc;
  size_t tokens = 0;
  for (const auto& t : texts) {  // warm-up (caches) + token count
    if (!(*tok)->EncodeRaw(t, &enc).ok()) return 1;
    tokens += enc.size();
  }
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    auto a = Clock::now();
    for (const auto& t : texts) (void)(*tok)->EncodeRaw(t, &enc);
    best = std::min(best, Ms(a, Clock::now()));
  }
  std::printf("EncodeRaw: %zu texts, %.1f MB, %zu tokens, best %.1f ms, %.2f M tokens/s, %.1f MB/s\n", n, bytes / 1e6, tokens,
              best, tokens / best / 1e3, bytes / best / 1e3);
  winnow::tok::EncodeOptions opts;
  opts.add_special_tokens = false;
  double best2 = 1e300;
  for (int r = 0; r < std::max(1, reps / 2); ++r) {
    auto a = Clock::now();
    for (const auto& t : texts) (void)(*tok)->Encode(t, nullptr, opts, &enc);
    best2 = std::min(best2, Ms(a, Clock::now()));
  }
  std::printf("Encode:    best %.1f ms, %.2f M tokens/s\n", best2, tokens / best2 / 1e3);
  return 0;
}
