// A model folder's tokenizer: tokenizer.json when the folder has one, otherwise the slow files that
// tokenizer_config.json's tokenizer_class names, turned into the tokenizer transformers' fast conversion
// (convert_slow_tokenizer.py) makes of them and loaded through the tokenizer.json path, so ids and offsets follow
// the same code. BertJapaneseTokenizer's MeCab step is the one piece built in code (tokenizer/slow/mecab_words.h).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "tokenizer/tokenizer.h"

namespace winnow::tok {

struct FolderOptions {
  // A compiled MeCab dictionary folder for BertJapaneseTokenizer; "" = WINNOW_MECAB_DICDIR, then the usual places
  // (slow::FindMecabDictionary).
  std::string mecab_dictionary;
};

// Classes built from slow files: BertTokenizer (also DistilBertTokenizer, ElectraTokenizer: vocab.txt),
// RobertaTokenizer and GPT2Tokenizer (vocab.json + merges.txt), XLMRobertaTokenizer, CamembertTokenizer,
// DebertaV2Tokenizer, T5Tokenizer (sentencepiece models, slow::FromSentencePiece), BertJapaneseTokenizer (vocab.txt,
// MeCab or basic words, then WordPiece or characters). A "...Fast" class name counts as its slow class; with no
// tokenizer_class, config.json's model_type picks it.
// Errors: codes::kModelNotFound (no tokenizer.json and no file to build one from, or no MeCab dictionary: the
// message lists where it looked), codes::kTokenizerUnsupported (a class, word tokenizer or option Winnow does not
// build), codes::kTokenizerInvalid (a malformed file, named with the line or key), codes::kIo.
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFolder(const std::string& dir, const FolderOptions& options = {});

}  // namespace winnow::tok
