// spm_cli: a tokenizer from a sentencepiece model (native/core/tokenizer/slow), for scripts/spm-parity.mjs.
//
//   spm_cli <file.model> <TokenizerClass> [--dir DIR] [--config tokenizer_config.json] [--dump] [--no-special]
//
// --dump prints the converted tokenizer.json document and exits. Otherwise reads JSON lines {"a": "...", "b":
// "..."|null} on stdin and writes one JSON line per input: {"ids":[..],"type_ids":[..],"offsets":[[s,e],..],
// "special":[..]}, offsets in UTF-16 code units of the sequence each token came from. A load error is printed
// as "CODE: message" on stderr with exit status 1.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/slow/sentencepiece.h"
#include "tokenizer/tokenizer.h"

using winnow::tok::Encoding;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " <file.model> <TokenizerClass> [--dir DIR] [--config FILE] [--dump] [--no-special]\n";
    return 2;
  }
  const std::string model = argv[1], cls = argv[2];
  std::string dir = ".", config_path;
  bool dump = false, add_special = true;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (a == "--dump") dump = true;
    else if (a == "--no-special") add_special = false;
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  nlohmann::json config = nlohmann::json::object();
  if (!config_path.empty()) {
    std::ifstream f(config_path);
    std::stringstream ss;
    ss << f.rdbuf();
    try {
      config = nlohmann::json::parse(ss.str());
    } catch (const std::exception& e) {
      std::cerr << "bad --config: " << e.what() << "\n";
      return 2;
    }
  }
  if (dump) {
    auto doc = winnow::tok::slow::SentencePieceFolderToTokenizerJson(dir, model, cls, config);
    if (!doc.ok()) {
      std::cerr << doc.status().ToString() << "\n";
      return 1;
    }
    std::cout << doc->dump() << "\n";
    return 0;
  }
  auto tok = winnow::tok::slow::FromSentencePiece(dir, model, cls, config);
  if (!tok.ok()) {
    std::cerr << tok.status().ToString() << "\n";
    return 1;
  }
  winnow::tok::EncodeOptions opts;
  opts.add_special_tokens = add_special;
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
    out = "{\"ids\":[";
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
