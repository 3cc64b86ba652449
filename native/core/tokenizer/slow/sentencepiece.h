// Tokenizers from a sentencepiece model file (the slow tokenizers XLMRobertaTokenizer, CamembertTokenizer,
// DebertaV2Tokenizer, T5Tokenizer): the model protobuf read in C++ and turned into the tokenizer transformers'
// fast-tokenizer conversion makes of it, with the class's id conventions.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/tokenizer.h"

namespace winnow::tok::slow {

// `model_path`: the .model file; `tokenizer_class`: tokenizer_config.json's class ("XLMRobertaTokenizer", ...);
// `tokenizer_config`: that file's contents (special tokens, do_lower_case, extra_ids, ...); `dir`: the folder, for
// special_tokens_map.json / added_tokens.json. Errors: codes::kTokenizerInvalid (malformed model file),
// codes::kTokenizerUnsupported (a class or model type it does not build).
StatusOr<std::unique_ptr<Tokenizer>> FromSentencePiece(const std::string& dir, const std::string& model_path,
                                                       const std::string& tokenizer_class,
                                                       const nlohmann::json& tokenizer_config);

}  // namespace winnow::tok::slow
