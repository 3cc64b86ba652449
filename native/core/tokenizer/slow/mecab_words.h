// MeCab word segmentation as a pre-tokenizer step (BertJapaneseTokenizer's word_tokenizer_type "mecab"), and the
// choice of the compiled dictionary it reads. Built in code only: no tokenizer.json names it, so no file from
// anywhere can make Winnow open a dictionary path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "mecab/dictionary.h"
#include "tokenizer/pre_tokenizers.h"

namespace winnow::tok::slow {

struct MecabWordOptions {
  bool lowercase = false;   // each word lowercased after segmentation (do_lower_case, special tokens aside)
  bool nfkc = false;        // each word NFKC-normalized after segmentation (CharacterTokenizer does this)
  bool characters = false;  // each word split into its characters (subword_tokenizer_type "character")
};

// Splits every piece into the words of MeCab's best path over it (spaces MeCab skips are dropped). Offsets keep
// pointing into the original text through whatever normalization ran before. A text whose path costs leave
// MeCab's range is codes::kInvalidArgument (libmecab fails it too).
std::unique_ptr<PreTokenizer> MakeMecabPreTokenizer(std::shared_ptr<const mecab::Dictionary> dict,
                                                    MecabWordOptions options);

// Where to look for a compiled dictionary when neither the caller nor WINNOW_MECAB_DICDIR names one.
struct DictionaryPlaces {
  std::vector<std::string> python_dirs;  // site-packages / dist-packages folders holding unidic_lite/, ipadic/ ...
  std::vector<std::string> system_dirs;  // folders holding dictionary folders (/var/lib/mecab/dic, ...)
  // The usual places on this machine: $VIRTUAL_ENV, $CONDA_PREFIX, ~/.local, /usr/local, /usr (lib/python3*/
  // {site,dist}-packages, /usr/lib/python3/dist-packages), then /var/lib/mecab/dic, /usr/lib/<triplet>/mecab/dic,
  // /usr/lib/mecab/dic, /usr/local/lib/mecab/dic, /opt/homebrew/lib/mecab/dic.
  static DictionaryPlaces Usual();
};

// The dictionary folder to use: `option_dir` (the mecabDictionary option) when set, then `env_dir`
// (WINNOW_MECAB_DICDIR), then, for `mecab_dic` ("unidic_lite", "unidic" or "ipadic", as mecab_kwargs names it),
// the Python package's dicdir in each python dir, then the matching system folder (unidic_lite and unidic:
// "unidic"; ipadic: "ipadic-utf8", "ipadic"). A folder counts when it holds sys.dic. None found:
// codes::kModelNotFound listing every folder tried and how to install one; a mecab_dic it does not know (or none):
// codes::kTokenizerUnsupported unless a folder was named.
StatusOr<std::string> FindMecabDictionary(const std::string& option_dir, const std::string& env_dir,
                                          const std::string& mecab_dic, const DictionaryPlaces& places);

// Dictionary::Open, shared: a folder already open in this process (same real path) is not read again.
StatusOr<std::shared_ptr<const mecab::Dictionary>> OpenMecabDictionary(const std::string& dir);

}  // namespace winnow::tok::slow
