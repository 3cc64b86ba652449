// tokenize_cli: reads JSON lines {"a": "...", "b": "..."|null} on stdin and writes one JSON line per
// input: {"ids":[..],"type_ids":[..],"offsets":[[s,e],..],"special":[..]}. Used by
// scripts/tokenizer-parity.mjs to compare against the Rust `tokenizers` library.
//
//   tokenize_cli <tokenizer.json> [--no-special] [--offsets=utf16|bytes]
//
// Offsets default to UTF-16 code units (JS string indices). The tokenizer.json `truncation` and
// `padding` settings apply, as they do in the reference.
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

using winnow::tok::Encoding;
using winnow::tok::Tokenizer;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <tokenizer.json> [--no-special] [--offsets=utf16|bytes]\n", argv[0]);
    return 2;
  }
  bool add_special = true, utf16 = true;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-special") add_special = false;
    else if (a == "--offsets=bytes") utf16 = false;
    else if (a == "--offsets=utf16") utf16 = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  auto tok = Tokenizer::FromFile(argv[1]);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
    return 1;
  }
  winnow::tok::EncodeOptions opts;
  opts.add_special_tokens = add_special;
  if (auto t = (*tok)->DefaultTruncation()) opts.truncation = *t;
  if (auto p = (*tok)->DefaultPadding()) opts.padding = *p;

  std::ios::sync_with_stdio(false);
  std::string line, out;
  Encoding enc;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    nlohmann::json in;
    try {
      in = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      std::cout << nlohmann::json{{"error", std::string("bad input line: ") + e.what()}}.dump() << '\n';
      continue;
    }
    const std::string a = in.value("a", "");
    const bool has_b = in.contains("b") && in["b"].is_string();
    const std::string b = has_b ? in["b"].get<std::string>() : std::string();
    const std::string_view bv(b);
    winnow::Status st = (*tok)->Encode(a, has_b ? &bv : nullptr, opts, &enc);
    if (!st.ok()) {
      std::cout << nlohmann::json{{"error", st.ToString()}}.dump() << '\n';
      continue;
    }
    auto offsets = enc.offsets;
    if (utf16) {
      // Offsets are relative to the sequence each token came from.
      for (int seq = 0; seq < 2; ++seq) {
        std::vector<std::pair<uint32_t, uint32_t>> sub;
        std::vector<size_t> idx;
        for (size_t i = 0; i < offsets.size(); ++i) {
          if (enc.sequence_ids[i] == seq) {
            sub.push_back(offsets[i]);
            idx.push_back(i);
          }
        }
        winnow::tok::ByteOffsetsToUtf16(seq == 0 ? std::string_view(a) : bv, &sub);
        for (size_t k = 0; k < idx.size(); ++k) offsets[idx[k]] = sub[k];
      }
    }
    out.clear();
    out += "{\"ids\":[";
    for (size_t i = 0; i < enc.ids.size(); ++i) out += (i ? "," : "") + std::to_string(enc.ids[i]);
    out += "],\"type_ids\":[";
    for (size_t i = 0; i < enc.type_ids.size(); ++i) out += (i ? "," : "") + std::to_string(enc.type_ids[i]);
    out += "],\"offsets\":[";
    for (size_t i = 0; i < offsets.size(); ++i)
      out += (i ? ",[" : "[") + std::to_string(offsets[i].first) + "," + std::to_string(offsets[i].second) + "]";
    out += "],\"special\":[";
    for (size_t i = 0; i < enc.special_tokens_mask.size(); ++i)
      out += (i ? "," : "") + std::to_string(enc.special_tokens_mask[i]);
    out += "]}\n";
    std::cout << out;
  }
  return 0;
}
