#include "tokenizer/slow/folder.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "loaders/model_folder.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/json_util.h"
#include "tokenizer/pre_tokenizers.h"
#include "tokenizer/slow/mecab_words.h"
#include "tokenizer/slow/sentencepiece.h"

namespace winnow::tok {
namespace {

using nlohmann::json;
using loaders::JoinPath;

// Whether anything is at `path`: a folder, FIFO or device there is then refused by ReadRegularFile (IO_ERROR)
// instead of being reported missing.
bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

// Lines as Python's text-mode readlines() sees them: "\r\n", "\r" and "\n" all end a line; a last line without
// an ending counts; no empty line after a final ending.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    out.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

StatusOr<std::optional<json>> ReadOptionalJsonFile(const std::string& path) {
  if (!Exists(path)) return std::optional<json>();
  WINNOW_ASSIGN_OR_RETURN(std::string text, ReadRegularFile(path));
  json j;
  Status st = json_util::ParseJson(text, &j);
  if (!st.ok()) return Status(codes::kTokenizerInvalid, path + ": " + st.message());
  if (!j.is_object()) return Status(codes::kTokenizerInvalid, path + ": expected a JSON object at the top level");
  return std::optional<json>(std::move(j));
}

// What a folder's tokenizer files say, read once.
struct Folder {
  std::string dir;
  std::string config_path;  // tokenizer_config.json
  json config = json::object();
  json special_map = json::object();  // special_tokens_map.json
  json added_tokens_file = json::object();  // added_tokens.json (older files: content -> id)

  Status Invalid(const std::string& file, const std::string& what) const {
    return Status(codes::kTokenizerInvalid, JoinPath(dir, file) + ": " + what);
  }
  Status WrongType(const char* key, const char* expected) const {
    return Status(codes::kTokenizerInvalid, config_path + ": " + key + " must be " + expected + ", not " +
                                                loaders::JsonText(config[key]));
  }
  // A boolean key of tokenizer_config.json; absent or null gives `def`.
  StatusOr<bool> Bool(const char* key, bool def) const {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return def;
    if (!it->is_boolean()) return WrongType(key, "true or false");
    return it->get<bool>();
  }
  StatusOr<std::optional<bool>> OptBool(const char* key) const {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return std::optional<bool>();
    if (!it->is_boolean()) return WrongType(key, "true, false or null");
    return std::optional<bool>(it->get<bool>());
  }
  StatusOr<std::string> Str(const char* key, const std::string& def) const {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return def;
    if (!it->is_string()) return WrongType(key, "a string");
    return it->get<std::string>();
  }
};

// A special token as transformers reads it: a string, or an AddedToken object ({"content": ..., "lstrip": ...}).
// nullopt when the value is null (a class without that token).
StatusOr<std::optional<AddedToken>> TokenFromJson(const json& v, const std::string& where) {
  if (v.is_null()) return std::optional<AddedToken>();
  AddedToken t;
  t.special = true;
  t.normalized = false;
  if (v.is_string()) {
    t.content = v.get<std::string>();
    return std::optional<AddedToken>(t);
  }
  if (!v.is_object()) return Status(codes::kTokenizerInvalid, where + ": expected a token string or object");
  auto str = v.find("content");
  if (str == v.end() || !str->is_string())
    return Status(codes::kTokenizerInvalid, where + ".content: expected a string");
  t.content = str->get<std::string>();
  for (auto [key, field] : {std::pair{"lstrip", &t.lstrip}, std::pair{"rstrip", &t.rstrip},
                            std::pair{"single_word", &t.single_word}, std::pair{"normalized", &t.normalized},
                            std::pair{"special", &t.special}}) {
    auto f = v.find(key);
    if (f == v.end() || f->is_null()) continue;
    if (!f->is_boolean()) return Status(codes::kTokenizerInvalid, where + "." + key + ": expected true or false");
    *field = f->get<bool>();
  }
  return std::optional<AddedToken>(t);
}

// The special tokens of a class: `attrs` lists (attribute, default) in transformers' order. special_tokens_map.json
// overrides tokenizer_config.json, which overrides the default; `lstrip_default` names attributes whose default
// token strips spaces on its left (RoBERTa's mask).
struct SpecialTokens {
  std::map<std::string, AddedToken> by_attr;
  std::vector<AddedToken> in_order;  // attrs order, then additional_special_tokens
  const AddedToken* Get(const std::string& attr) const {
    auto it = by_attr.find(attr);
    return it == by_attr.end() ? nullptr : &it->second;
  }
};

StatusOr<SpecialTokens> ReadSpecialTokens(const Folder& f, const std::vector<std::pair<std::string, std::string>>& attrs,
                                          const std::set<std::string>& lstrip_default = {}) {
  SpecialTokens out;
  for (const auto& [attr, def] : attrs) {
    std::optional<AddedToken> t;
    if (auto it = f.special_map.find(attr); it != f.special_map.end()) {
      WINNOW_ASSIGN_OR_RETURN(t, TokenFromJson(*it, JoinPath(f.dir, "special_tokens_map.json") + ": " + attr));
    } else if (auto c = f.config.find(attr); c != f.config.end()) {
      WINNOW_ASSIGN_OR_RETURN(t, TokenFromJson(*c, f.config_path + ": " + attr));
      if (t && c->is_string() && lstrip_default.count(attr)) t->lstrip = true;
    } else if (!def.empty()) {
      t = AddedToken{def, false, lstrip_default.count(attr) > 0, false, false, true};
    }
    if (!t) continue;
    out.by_attr[attr] = *t;
    out.in_order.push_back(*t);
  }
  const json* extra = nullptr;
  std::string where;
  if (auto it = f.special_map.find("additional_special_tokens"); it != f.special_map.end()) {
    extra = &*it;
    where = JoinPath(f.dir, "special_tokens_map.json") + ": additional_special_tokens";
  } else if (auto c = f.config.find("additional_special_tokens"); c != f.config.end()) {
    extra = &*c;
    where = f.config_path + ": additional_special_tokens";
  }
  if (extra && !extra->is_null()) {
    if (!extra->is_array()) return Status(codes::kTokenizerInvalid, where + ": expected an array");
    for (size_t i = 0; i < extra->size(); ++i) {
      WINNOW_ASSIGN_OR_RETURN(auto t, TokenFromJson((*extra)[i], where + "[" + std::to_string(i) + "]"));
      if (t) out.in_order.push_back(*t);
    }
  }
  return out;
}

// An added token of the built tokenizer and the id the folder's files give it, if they do.
struct AddedSpec {
  AddedToken token;
  std::optional<int64_t> id;
  std::string source;  // the file that names the id
};

// The added tokens the fast conversion ends up with: tokenizer_config.json's added_tokens_decoder (by id), then the
// special tokens not among them, then added_tokens.json's (by id).
StatusOr<std::vector<AddedSpec>> CollectAddedTokens(const Folder& f, const SpecialTokens& specials) {
  std::vector<AddedSpec> out;
  std::set<std::string> seen;
  if (auto it = f.config.find("added_tokens_decoder"); it != f.config.end() && !it->is_null()) {
    if (!it->is_object()) return Status(codes::kTokenizerInvalid, f.config_path + ": added_tokens_decoder must be an object");
    std::vector<std::pair<int64_t, AddedToken>> byid;
    for (const auto& [key, v] : it->items()) {
      const std::string where = f.config_path + ": added_tokens_decoder[\"" + key + "\"]";
      char* end = nullptr;
      const long long id = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || id < 0 || id > INT32_MAX)
        return Status(codes::kTokenizerInvalid, where + ": the key must be a token id");
      WINNOW_ASSIGN_OR_RETURN(auto t, TokenFromJson(v, where));
      if (!t) continue;
      if (!v.contains("special")) t->special = false;
      byid.emplace_back(id, *t);
    }
    std::sort(byid.begin(), byid.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [id, t] : byid) {
      if (!seen.insert(t.content).second) continue;
      out.push_back(AddedSpec{t, id, f.config_path + " added_tokens_decoder"});
    }
  }
  for (const AddedToken& t : specials.in_order) {
    if (seen.insert(t.content).second) out.push_back(AddedSpec{t, std::nullopt, ""});
  }
  std::vector<std::pair<int64_t, std::string>> legacy;
  for (const auto& [content, v] : f.added_tokens_file.items()) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
      return f.Invalid("added_tokens.json", "\"" + content + "\" must map to a token id");
    legacy.emplace_back(v.get<int64_t>(), content);
  }
  std::sort(legacy.begin(), legacy.end());
  for (const auto& [id, content] : legacy) {
    if (!seen.insert(content).second) continue;
    AddedToken t;
    t.content = content;
    out.push_back(AddedSpec{t, id, JoinPath(f.dir, "added_tokens.json")});
  }
  return out;
}

json AddedTokensJson(const std::vector<AddedSpec>& specs) {
  json a = json::array();
  for (const AddedSpec& s : specs) {
    a.push_back({{"content", s.token.content},
                 {"single_word", s.token.single_word},
                 {"lstrip", s.token.lstrip},
                 {"rstrip", s.token.rstrip},
                 {"normalized", s.token.normalized},
                 {"special", s.token.special}});
  }
  return a;
}

// BERT's template: [CLS] A [SEP] (B [SEP]), the pair's second half with type id 1.
StatusOr<json> BertTemplate(const Folder& f, const SpecialTokens& sp, const std::map<std::string, int32_t>& ids) {
  const AddedToken* cls = sp.Get("cls_token");
  const AddedToken* sep = sp.Get("sep_token");
  if (!cls || !sep) return Status(codes::kTokenizerInvalid, f.config_path + ": cls_token and sep_token are needed");
  json special = json::object();
  for (const AddedToken* t : {cls, sep}) {
    auto it = ids.find(t->content);
    if (it == ids.end())
      return Status(codes::kTokenizerInvalid, JoinPath(f.dir, "vocab.txt") + ": has no token \"" + t->content +
                                                  "\" (the special token the template adds)");
    special[t->content] = {{"id", t->content}, {"ids", {it->second}}, {"tokens", {t->content}}};
  }
  auto tok = [](const std::string& id, int type) { return json{{"SpecialToken", {{"id", id}, {"type_id", type}}}}; };
  auto seq = [](const char* id, int type) { return json{{"Sequence", {{"id", id}, {"type_id", type}}}}; };
  return json{{"type", "TemplateProcessing"},
              {"single", {tok(cls->content, 0), seq("A", 0), tok(sep->content, 0)}},
              {"pair", {tok(cls->content, 0), seq("A", 0), tok(sep->content, 0), seq("B", 1), tok(sep->content, 1)}},
              {"special_tokens", special}};
}

// vocab.txt as transformers' load_vocab reads it: one token per line, its line number its id (a repeated token
// keeps its last line).
StatusOr<json> ReadVocabTxt(const Folder& f, std::map<std::string, int32_t>* ids) {
  const std::string path = JoinPath(f.dir, "vocab.txt");
  if (!Exists(path)) return Status(codes::kModelNotFound, "missing " + path);
  WINNOW_ASSIGN_OR_RETURN(std::string text, ReadRegularFile(path));
  const std::vector<std::string_view> lines = Lines(text);
  if (lines.size() > static_cast<size_t>(INT32_MAX)) return f.Invalid("vocab.txt", "more than 2^31 lines");
  json vocab = json::object();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!ValidUtf8(lines[i])) return f.Invalid("vocab.txt", "line " + std::to_string(i + 1) + " is not valid UTF-8");
    std::string token(lines[i]);
    (*ids)[token] = static_cast<int32_t>(i);
    vocab[token] = static_cast<int32_t>(i);
  }
  if (lines.empty()) return f.Invalid("vocab.txt", "the file is empty");
  return vocab;
}

// The WordPiece model over vocab.txt (BertConverter): unk_token must be in the vocabulary.
StatusOr<json> WordPieceModel(const Folder& f, json vocab, const SpecialTokens& sp,
                              const std::map<std::string, int32_t>& ids) {
  const AddedToken* unk = sp.Get("unk_token");
  if (!unk) return Status(codes::kTokenizerInvalid, f.config_path + ": unk_token is needed");
  if (!ids.count(unk->content))
    return f.Invalid("vocab.txt", "has no unknown token \"" + unk->content + "\" (unk_token)");
  return json{{"type", "WordPiece"},
              {"unk_token", unk->content},
              {"continuing_subword_prefix", "##"},
              {"max_input_chars_per_word", 100},
              {"vocab", std::move(vocab)}};
}

const std::vector<std::pair<std::string, std::string>> kBertSpecials = {
    {"unk_token", "[UNK]"}, {"sep_token", "[SEP]"}, {"pad_token", "[PAD]"}, {"cls_token", "[CLS]"},
    {"mask_token", "[MASK]"}};

// Loads the assembled document; a file's added token that does not get the id the file gives it is refused.
StatusOr<std::unique_ptr<Tokenizer>> Finish(const Folder& f, const json& doc, const std::vector<AddedSpec>& added,
                                            std::unique_ptr<PreTokenizer> leading, const std::string& from) {
  std::string text;
  try {
    text = doc.dump(-1, ' ', false, json::error_handler_t::strict);
  } catch (const std::exception& e) {
    return Status(codes::kTokenizerInvalid, "tokenizer built from " + from + ": " + e.what());
  }
  StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(text, std::move(leading));
  if (!t.ok()) return Status(t.status().code(), "tokenizer built from " + from + ": " + t.status().message());
  for (const AddedSpec& s : added) {
    if (!s.id) continue;
    const std::optional<int32_t> got = (*t)->TokenToId(s.token.content);
    if (!got || *got != *s.id)
      return Status(codes::kTokenizerUnsupported,
                    s.source + ": token \"" + s.token.content + "\" has id " + std::to_string(*s.id) +
                        ", which differs from the id the vocabulary gives it (" +
                        (got ? std::to_string(*got) : std::string("none")) + ")");
  }
  (void)f;
  return t;
}

StatusOr<std::unique_ptr<Tokenizer>> BuildBert(const Folder& f) {
  std::map<std::string, int32_t> ids;
  WINNOW_ASSIGN_OR_RETURN(json vocab, ReadVocabTxt(f, &ids));
  WINNOW_ASSIGN_OR_RETURN(const bool lower, f.Bool("do_lower_case", true));
  WINNOW_ASSIGN_OR_RETURN(const bool chinese, f.Bool("tokenize_chinese_chars", true));
  WINNOW_ASSIGN_OR_RETURN(const std::optional<bool> strip, f.OptBool("strip_accents"));
  WINNOW_ASSIGN_OR_RETURN(SpecialTokens sp, ReadSpecialTokens(f, kBertSpecials));
  WINNOW_ASSIGN_OR_RETURN(std::vector<AddedSpec> added, CollectAddedTokens(f, sp));
  json doc;
  doc["version"] = "1.0";
  doc["added_tokens"] = AddedTokensJson(added);
  doc["normalizer"] = {{"type", "BertNormalizer"},
                       {"clean_text", true},
                       {"handle_chinese_chars", chinese},
                       {"strip_accents", strip ? json(*strip) : json(nullptr)},
                       {"lowercase", lower}};
  doc["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  WINNOW_ASSIGN_OR_RETURN(doc["post_processor"], BertTemplate(f, sp, ids));
  doc["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  WINNOW_ASSIGN_OR_RETURN(doc["model"], WordPieceModel(f, std::move(vocab), sp, ids));
  return Finish(f, doc, added, nullptr, JoinPath(f.dir, "vocab.txt"));
}

// BertJapaneseTokenizer: (lowercase) -> NFKC when normalize_text -> MeCab words (lowercased) -> WordPiece over each
// word's whitespace-separated parts, or each word's characters. transformers lowercases the whole text before the
// word tokenizer (PreTrainedTokenizer.tokenize) and each MeCab word again after it.
StatusOr<std::unique_ptr<Tokenizer>> BuildBertJapanese(const Folder& f, const FolderOptions& options) {
  WINNOW_ASSIGN_OR_RETURN(const bool lower, f.Bool("do_lower_case", false));
  WINNOW_ASSIGN_OR_RETURN(const bool word_tokenize, f.Bool("do_word_tokenize", true));
  WINNOW_ASSIGN_OR_RETURN(const bool subword_tokenize, f.Bool("do_subword_tokenize", true));
  WINNOW_ASSIGN_OR_RETURN(std::string word_type, f.Str("word_tokenizer_type", "basic"));
  WINNOW_ASSIGN_OR_RETURN(std::string subword_type, f.Str("subword_tokenizer_type", "wordpiece"));
  if (!word_tokenize) word_type = "none";
  if (!subword_tokenize) subword_type = "none";
  if (word_type == "sudachi" || word_type == "jumanpp")
    return Status(codes::kTokenizerUnsupported,
                  f.config_path + ": word_tokenizer_type \"" + word_type +
                      "\" is not supported (Winnow segments Japanese with MeCab only: word_tokenizer_type \"mecab\")");
  if (word_type != "mecab" && word_type != "basic" && word_type != "none")
    return Status(codes::kTokenizerUnsupported, f.config_path + ": unknown word_tokenizer_type \"" + word_type + "\"");
  if (subword_type != "wordpiece" && subword_type != "character" && subword_type != "none")
    return Status(codes::kTokenizerUnsupported, f.config_path + ": subword_tokenizer_type \"" + subword_type +
                                                    "\" is not supported (wordpiece and character are)");
  if (subword_type == "character" && word_type != "mecab")
    return Status(codes::kTokenizerUnsupported, f.config_path + ": subword_tokenizer_type \"character\" is supported "
                                                                "after MeCab words only");

  std::map<std::string, int32_t> ids;
  WINNOW_ASSIGN_OR_RETURN(json vocab, ReadVocabTxt(f, &ids));
  WINNOW_ASSIGN_OR_RETURN(SpecialTokens sp, ReadSpecialTokens(f, kBertSpecials));
  WINNOW_ASSIGN_OR_RETURN(std::vector<AddedSpec> added, CollectAddedTokens(f, sp));

  json doc;
  doc["version"] = "1.0";
  doc["added_tokens"] = AddedTokensJson(added);
  std::unique_ptr<PreTokenizer> mecab;
  json pre = json::array();
  if (word_type == "mecab") {
    json kwargs = json::object();
    if (auto it = f.config.find("mecab_kwargs"); it != f.config.end() && !it->is_null()) {
      if (!it->is_object()) return f.WrongType("mecab_kwargs", "an object");
      kwargs = *it;
    }
    std::string dic = "ipadic";  // MecabTokenizer's default
    if (auto it = kwargs.find("mecab_dic"); it != kwargs.end()) {
      if (it->is_null()) dic.clear();
      else if (it->is_string()) dic = it->get<std::string>();
      else return Status(codes::kTokenizerInvalid, f.config_path + ": mecab_kwargs.mecab_dic must be a string or null");
    }
    bool normalize = true;
    if (auto it = kwargs.find("normalize_text"); it != kwargs.end() && !it->is_null()) {
      if (!it->is_boolean())
        return Status(codes::kTokenizerInvalid, f.config_path + ": mecab_kwargs.normalize_text must be true or false");
      normalize = it->get<bool>();
    }
    const char* env = std::getenv("WINNOW_MECAB_DICDIR");
    const std::string env_dir = env ? env : "";
    if (auto it = kwargs.find("mecab_option"); it != kwargs.end() && it->is_string() &&
        it->get<std::string>().find_first_not_of(" \t") != std::string::npos && options.mecab_dictionary.empty() &&
        env_dir.empty())
      return Status(codes::kTokenizerUnsupported,
                    f.config_path + ": mecab_kwargs.mecab_option \"" + it->get<std::string>() +
                        "\" is not read (Winnow takes no MeCab command-line options): name the compiled dictionary "
                        "folder with the mecabDictionary option or WINNOW_MECAB_DICDIR");
    WINNOW_ASSIGN_OR_RETURN(std::string dic_dir, slow::FindMecabDictionary(options.mecab_dictionary, env_dir, dic,
                                                                          slow::DictionaryPlaces::Usual()));
    WINNOW_ASSIGN_OR_RETURN(auto dict, slow::OpenMecabDictionary(dic_dir));
    json norm = json::array();
    if (lower) norm.push_back({{"type", "Lowercase"}});
    if (normalize) norm.push_back({{"type", "NFKC"}});
    if (!norm.empty()) doc["normalizer"] = {{"type", "Sequence"}, {"normalizers", norm}};
    slow::MecabWordOptions wo;
    wo.lowercase = lower;
    wo.nfkc = subword_type == "character";
    wo.characters = subword_type == "character";
    mecab = slow::MakeMecabPreTokenizer(std::move(dict), wo);
  } else if (word_type == "basic") {
    // BasicTokenizer(tokenize_chinese_chars=False), as the BERT conversion builds it.
    doc["normalizer"] = {{"type", "BertNormalizer"},
                         {"clean_text", true},
                         {"handle_chinese_chars", false},
                         {"strip_accents", nullptr},
                         {"lowercase", lower}};
    pre.push_back({{"type", "BertPreTokenizer"}});
  } else if (lower) {
    doc["normalizer"] = {{"type", "Lowercase"}};
  }
  if (subword_type == "wordpiece") {
    pre.push_back({{"type", "WhitespaceSplit"}});
    WINNOW_ASSIGN_OR_RETURN(doc["model"], WordPieceModel(f, std::move(vocab), sp, ids));
  } else {
    const AddedToken* unk = sp.Get("unk_token");
    if (!unk || !ids.count(unk->content))
      return f.Invalid("vocab.txt", "has no unknown token \"" + (unk ? unk->content : std::string()) + "\" (unk_token)");
    doc["model"] = {{"type", "WordLevel"}, {"unk_token", unk->content}, {"vocab", std::move(vocab)}};
  }
  if (pre.size() == 1) doc["pre_tokenizer"] = pre[0];
  else if (pre.size() > 1) doc["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", pre}};
  WINNOW_ASSIGN_OR_RETURN(doc["post_processor"], BertTemplate(f, sp, ids));
  doc["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  return Finish(f, doc, added, std::move(mecab), JoinPath(f.dir, "vocab.txt"));
}

// vocab.json + merges.txt as RobertaTokenizer / GPT2Tokenizer read them: merges.txt's first line (the #version
// header) and the last piece after the final newline are skipped, each other line holds two whitespace-separated
// tokens, and a repeated merge keeps its first rank.
StatusOr<json> ByteLevelBpeModel(const Folder& f) {
  const std::string vocab_path = JoinPath(f.dir, "vocab.json");
  const std::string merges_path = JoinPath(f.dir, "merges.txt");
  for (const std::string& p : {vocab_path, merges_path})
    if (!Exists(p)) return Status(codes::kModelNotFound, "missing " + p);
  WINNOW_ASSIGN_OR_RETURN(std::optional<json> read, ReadOptionalJsonFile(vocab_path));
  if (!read) return Status(codes::kModelNotFound, "missing " + vocab_path);
  json vocab = std::move(*read);
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      return f.Invalid("vocab.json", "\"" + token + "\" must map to a token id, not " + loaders::JsonText(id));
  }
  WINNOW_ASSIGN_OR_RETURN(std::string text, ReadRegularFile(merges_path));
  if (!ValidUtf8(text)) return f.Invalid("merges.txt", "not valid UTF-8");
  // Python's text mode turns "\r\n" and "\r" into "\n" before read().split("\n").
  std::vector<std::string_view> lines;
  {
    size_t start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
      if (i < text.size() && text[i] != '\n' && text[i] != '\r') continue;
      lines.push_back(std::string_view(text).substr(start, i - start));
      if (i < text.size() && text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  json merges = json::array();
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    std::vector<std::string> parts;
    std::string_view l = lines[i];
    size_t p = 0;
    while (p < l.size()) {
      while (p < l.size() && (l[p] == ' ' || l[p] == '\t' || l[p] == '\f' || l[p] == '\v')) ++p;
      size_t q = p;
      while (q < l.size() && !(l[q] == ' ' || l[q] == '\t' || l[q] == '\f' || l[q] == '\v')) ++q;
      if (q > p) parts.emplace_back(l.substr(p, q - p));
      p = q;
    }
    if (parts.size() != 2)
      return f.Invalid("merges.txt", "line " + std::to_string(i + 1) + " must hold two tokens separated by a space");
    for (const std::string& part : parts)
      if (!vocab.contains(part))
        return f.Invalid("merges.txt", "line " + std::to_string(i + 1) + ": \"" + part + "\" is not in vocab.json");
    if (!seen.insert({parts[0], parts[1]}).second) continue;
    merges.push_back({parts[0], parts[1]});
  }
  return json{{"type", "BPE"},           {"dropout", nullptr},
              {"unk_token", nullptr},    {"continuing_subword_prefix", ""},
              {"end_of_word_suffix", ""}, {"fuse_unk", false},
              {"byte_fallback", false},  {"vocab", std::move(vocab)},
              {"merges", std::move(merges)}};
}

StatusOr<std::unique_ptr<Tokenizer>> BuildByteLevel(const Folder& f, bool roberta) {
  WINNOW_ASSIGN_OR_RETURN(json model, ByteLevelBpeModel(f));
  WINNOW_ASSIGN_OR_RETURN(const bool prefix_space, f.Bool("add_prefix_space", false));
  WINNOW_ASSIGN_OR_RETURN(const bool trim_offsets, f.Bool("trim_offsets", true));
  WINNOW_ASSIGN_OR_RETURN(const bool add_bos, f.Bool("add_bos_token", false));
  SpecialTokens sp;
  if (roberta) {
    WINNOW_ASSIGN_OR_RETURN(sp, ReadSpecialTokens(f, {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"},
                                                      {"sep_token", "</s>"}, {"pad_token", "<pad>"}, {"cls_token", "<s>"},
                                                      {"mask_token", "<mask>"}},
                                                  {"mask_token"}));
  } else {
    WINNOW_ASSIGN_OR_RETURN(sp, ReadSpecialTokens(f, {{"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"},
                                                      {"unk_token", "<|endoftext|>"}, {"pad_token", ""}}));
  }
  WINNOW_ASSIGN_OR_RETURN(std::vector<AddedSpec> added, CollectAddedTokens(f, sp));
  auto id_of = [&](const char* attr, int32_t* id) -> Status {
    const AddedToken* t = sp.Get(attr);
    if (!t) return Status(codes::kTokenizerInvalid, f.config_path + ": " + attr + " is needed");
    auto it = model["vocab"].find(t->content);
    if (it == model["vocab"].end())
      return f.Invalid("vocab.json", "has no token \"" + t->content + "\" (" + attr + ")");
    *id = it->get<int32_t>();
    return Status::Ok();
  };
  json doc;
  doc["version"] = "1.0";
  doc["added_tokens"] = AddedTokensJson(added);
  doc["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", prefix_space}, {"trim_offsets", true},
                          {"use_regex", true}};
  if (roberta) {
    int32_t cls = 0, sep = 0;
    WINNOW_RETURN_IF_ERROR(id_of("cls_token", &cls));
    WINNOW_RETURN_IF_ERROR(id_of("sep_token", &sep));
    doc["post_processor"] = {{"type", "RobertaProcessing"},
                             {"sep", {sp.Get("sep_token")->content, sep}},
                             {"cls", {sp.Get("cls_token")->content, cls}},
                             {"trim_offsets", trim_offsets},
                             {"add_prefix_space", prefix_space}};
  } else if (add_bos) {
    int32_t bos = 0;
    WINNOW_RETURN_IF_ERROR(id_of("bos_token", &bos));
    const std::string& b = sp.Get("bos_token")->content;
    auto tok = [&](int type) { return json{{"SpecialToken", {{"id", b}, {"type_id", type}}}}; };
    auto seq = [](const char* id, int type) { return json{{"Sequence", {{"id", id}, {"type_id", type}}}}; };
    doc["post_processor"] = {{"type", "TemplateProcessing"},
                             {"single", {tok(0), seq("A", 0)}},
                             {"pair", {tok(0), seq("A", 0), seq("B", 1)}},
                             {"special_tokens", {{b, {{"id", b}, {"ids", {bos}}, {"tokens", {b}}}}}}};
  } else {
    doc["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", prefix_space}, {"trim_offsets", false},
                             {"use_regex", true}};
  }
  doc["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  doc["model"] = std::move(model);
  return Finish(f, doc, added, nullptr, JoinPath(f.dir, "vocab.json") + " + merges.txt");
}

// The class transformers' AutoTokenizer would pick from config.json's model_type when tokenizer_config.json names
// none.
std::string ClassForModelType(const std::string& t) {
  static const std::map<std::string, std::string> m = {
      {"bert", "BertTokenizer"},          {"distilbert", "DistilBertTokenizer"}, {"electra", "ElectraTokenizer"},
      {"roberta", "RobertaTokenizer"},    {"gpt2", "GPT2Tokenizer"},            {"xlm-roberta", "XLMRobertaTokenizer"},
      {"camembert", "CamembertTokenizer"}, {"deberta-v2", "DebertaV2Tokenizer"}, {"t5", "T5Tokenizer"}};
  auto it = m.find(t);
  return it == m.end() ? std::string() : it->second;
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFolder(const std::string& dir, const FolderOptions& options) {
  if (!loaders::DirExists(dir)) return loaders::MissingModelFolder(dir);
  const std::string fast = JoinPath(dir, "tokenizer.json");
  if (Exists(fast)) return Tokenizer::FromFile(fast);

  Folder f;
  f.dir = dir;
  f.config_path = JoinPath(dir, "tokenizer_config.json");
  WINNOW_ASSIGN_OR_RETURN(std::optional<json> config, ReadOptionalJsonFile(f.config_path));
  if (config) f.config = std::move(*config);
  WINNOW_ASSIGN_OR_RETURN(std::optional<json> special_map, ReadOptionalJsonFile(JoinPath(dir, "special_tokens_map.json")));
  if (special_map) f.special_map = std::move(*special_map);
  WINNOW_ASSIGN_OR_RETURN(std::optional<json> added, ReadOptionalJsonFile(JoinPath(dir, "added_tokens.json")));
  if (added) f.added_tokens_file = std::move(*added);

  WINNOW_ASSIGN_OR_RETURN(std::string cls, f.Str("tokenizer_class", ""));
  std::string how = f.config_path + " tokenizer_class";
  if (cls.empty()) {
    WINNOW_ASSIGN_OR_RETURN(std::optional<json> model_config, ReadOptionalJsonFile(JoinPath(dir, "config.json")));
    std::string model_type;
    if (model_config) {
      auto it = model_config->find("model_type");
      if (it != model_config->end() && it->is_string()) model_type = it->get<std::string>();
    }
    cls = ClassForModelType(model_type);
    how = JoinPath(dir, "config.json") + " model_type \"" + model_type + "\"";
    if (cls.empty())
      return Status(codes::kModelNotFound,
                    "missing " + fast + " (and no tokenizer_class in " + f.config_path + " or known model_type in " +
                        JoinPath(dir, "config.json") + " to build the tokenizer from the model's other files)");
  }
  if (cls.size() > 4 && cls.compare(cls.size() - 4, 4, "Fast") == 0) cls.resize(cls.size() - 4);

  if (cls == "BertTokenizer" || cls == "DistilBertTokenizer" || cls == "ElectraTokenizer") return BuildBert(f);
  if (cls == "BertJapaneseTokenizer") return BuildBertJapanese(f, options);
  if (cls == "RobertaTokenizer") return BuildByteLevel(f, /*roberta=*/true);
  if (cls == "GPT2Tokenizer") return BuildByteLevel(f, /*roberta=*/false);
  const std::map<std::string, const char*> spm_files = {{"XLMRobertaTokenizer", "sentencepiece.bpe.model"},
                                                        {"CamembertTokenizer", "sentencepiece.bpe.model"},
                                                        {"DebertaV2Tokenizer", "spm.model"},
                                                        {"T5Tokenizer", "spiece.model"}};
  if (auto it = spm_files.find(cls); it != spm_files.end()) {
    const std::string model = JoinPath(dir, it->second);
    if (!Exists(model))
      return Status(codes::kModelNotFound, "missing " + fast + " and " + model + " (" + cls + "'s sentencepiece model)");
    return slow::FromSentencePiece(dir, model, cls, f.config);
  }
  return Status(codes::kTokenizerUnsupported,
                "missing " + fast + ", and " + how + " \"" + cls +
                    "\" is not a class Winnow builds from slow files (BertTokenizer, BertJapaneseTokenizer, "
                    "RobertaTokenizer, GPT2Tokenizer, XLMRobertaTokenizer, CamembertTokenizer, DebertaV2Tokenizer, "
                    "T5Tokenizer)");
}

}  // namespace winnow::tok
