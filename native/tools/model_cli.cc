// model_cli: runs only the `model` section of a tokenizer.json (BPE or Unigram) on pieces.
//
//   model_cli TOKENIZER_JSON [--bench REPEATS] [--no-cache]
//
// stdin: one JSON string per line (a pre-tokenized piece). stdout: one JSON line per piece,
// [[id,start,end],...] with byte offsets inside the piece, or {"error": "..."}.
// With --bench, nothing is printed per piece; the pieces are tokenized REPEATS times and the
// throughput (pieces/s) goes to stdout as JSON.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/bpe.h"
#include "tokenizer/model.h"

int main(int argc, char** argv) {
  using namespace winnow::tok;
  if (argc < 2) {
    std::fprintf(stderr, "usage: model_cli TOKENIZER_JSON [--bench N] [--no-cache]\n");
    return 2;
  }
  int bench = 0;
  bool no_cache = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--bench" && i + 1 < argc) bench = std::stoi(argv[++i]);
    else if (a == "--no-cache") no_cache = true;
  }
  std::ifstream f(argv[1]);
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 2;
  }
  nlohmann::json root = nlohmann::json::parse(f);
  const nlohmann::json& mj = root.contains("model") ? root["model"] : root;
  std::string type = mj.value("type", "");
  if (type.empty()) type = mj.contains("merges") ? "BPE" : (mj.contains("vocab") && mj["vocab"].is_array() ? "Unigram" : "");
  auto loaded = type == "BPE" ? LoadBpe(mj, "model") : type == "Unigram" ? LoadUnigram(mj, "model")
                                                                         : winnow::StatusOr<std::unique_ptr<Model>>(
                                                                               InvalidAt("model.type", "unsupported"));
  if (!loaded.ok()) {
    std::printf("%s\n", nlohmann::json({{"load_error", loaded.status().ToString()}}).dump().c_str());
    return 1;
  }
  std::unique_ptr<Model> model = std::move(loaded).value();
  if (no_cache) SetBpeCacheEnabledForTesting(model.get(), false);

  std::vector<std::string> pieces;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    pieces.push_back(nlohmann::json::parse(line).get<std::string>());
  }

  std::vector<Token> toks;
  if (bench > 0) {
    size_t ntok = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < bench; ++r) {
      for (const auto& p : pieces) {
        toks.clear();
        (void)model->Tokenize(p, &toks);
        ntok += toks.size();
      }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s\n", nlohmann::json({{"pieces", pieces.size() * bench},
                                        {"tokens", ntok},
                                        {"seconds", s},
                                        {"pieces_per_s", pieces.size() * bench / s}})
                            .dump()
                            .c_str());
    return 0;
  }
  std::string outbuf;
  for (const auto& p : pieces) {
    toks.clear();
    winnow::Status st = model->Tokenize(p, &toks);
    if (!st.ok()) {
      outbuf += nlohmann::json({{"error", st.ToString()}}).dump();
    } else {
      outbuf += '[';
      for (size_t i = 0; i < toks.size(); ++i) {
        if (i) outbuf += ',';
        outbuf += '[' + std::to_string(toks[i].id) + ',' + std::to_string(toks[i].start) + ',' +
                  std::to_string(toks[i].end) + ']';
      }
      outbuf += ']';
    }
    outbuf += '\n';
  }
  std::fwrite(outbuf.data(), 1, outbuf.size(), stdout);
  return 0;
}
