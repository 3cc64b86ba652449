// Tokenizers from a sentencepiece model file (the slow tokenizers XLMRobertaTokenizer, CamembertTokenizer,
// DebertaV2Tokenizer, T5Tokenizer): the model protobuf read in C++ and turned into the tokenizer transformers'
// fast-tokenizer conversion makes of it, with the class's id conventions.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/tokenizer.h"

namespace winnow::tok::slow {

// Largest .model file read (real ones are a few MB); a larger one is TOKENIZER_INVALID before it is read.
inline constexpr size_t kMaxSentencePieceModelBytes = size_t{256} << 20;

// The JSON files of a model folder besides the .model (null where the folder has none).
struct SentencePieceFolderFiles {
  nlohmann::json tokenizer_config = nlohmann::json::object();
  nlohmann::json special_tokens_map;  // special_tokens_map.json
  nlohmann::json added_tokens;        // added_tokens.json
};

// The tokenizer.json document transformers' converter builds for `tokenizer_class` from the model bytes
// `model` (named `model_name` in errors). Errors: kTokenizerInvalid (malformed model or JSON file),
// kTokenizerUnsupported (a class or model type it does not build).
StatusOr<nlohmann::json> SentencePieceToTokenizerJson(std::string_view model, const std::string& model_name,
                                                      const std::string& tokenizer_class,
                                                      const SentencePieceFolderFiles& files);

// `model_path`: the .model file; `tokenizer_class`: tokenizer_config.json's class ("XLMRobertaTokenizer", ...);
// `tokenizer_config`: that file's contents (special tokens, do_lower_case, extra_ids, ...); `dir`: the folder, for
// special_tokens_map.json / added_tokens.json. Errors: codes::kTokenizerInvalid (malformed model file),
// codes::kTokenizerUnsupported (a class or model type it does not build), codes::kIo (unreadable file).
StatusOr<std::unique_ptr<Tokenizer>> FromSentencePiece(const std::string& dir, const std::string& model_path,
                                                       const std::string& tokenizer_class,
                                                       const nlohmann::json& tokenizer_config);

// The same, returning the tokenizer.json document instead of the tokenizer.
StatusOr<nlohmann::json> SentencePieceFolderToTokenizerJson(const std::string& dir, const std::string& model_path,
                                                            const std::string& tokenizer_class,
                                                            const nlohmann::json& tokenizer_config);

}  // namespace winnow::tok::slow
