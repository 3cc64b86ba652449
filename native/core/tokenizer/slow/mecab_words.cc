#include "tokenizer/slow/mecab_words.h"

#include <glob.h>
#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>

#include "loaders/model_folder.h"
#include "mecab/segmenter.h"
#include "tokenizer/unicode.h"

namespace winnow::tok::slow {
namespace {

// A lattice that grew past this many nodes for one long text is released after it, so an idle thread does not
// keep that memory.
constexpr size_t kKeepLatticeNodes = size_t{1} << 20;

class MecabPreTokenizer final : public PreTokenizer {
 public:
  MecabPreTokenizer(std::shared_ptr<const mecab::Dictionary> dict, MecabWordOptions options)
      : segmenter_(std::move(dict)), options_(options) {}

  Status PreTokenize(PreTokenizedString* p) const override {
    thread_local mecab::Lattice lattice;
    thread_local std::vector<mecab::Word> words;
    Status status = p->SplitWith([&](const NormalizedString& ns, std::vector<Split>* out) {
      WINNOW_RETURN_IF_ERROR(segmenter_.Segment(ns.get(), &lattice, &words));
      for (const mecab::Word& w : words) {
        if (w.byte_end <= w.byte_begin) continue;
        NormalizedString word = ns.Slice(w.byte_begin, w.byte_end);
        if (options_.lowercase) word.Lowercase();
        if (options_.nfkc) word.Nfkc();
        if (!options_.characters) {
          out->push_back(Split{std::move(word), false, {}});
          continue;
        }
        const std::string& s = word.get();
        for (size_t i = 0; i < s.size();) {
          const size_t len = std::min<size_t>(unicode::Utf8Len(static_cast<unsigned char>(s[i])), s.size() - i);
          out->push_back(Split{word.Slice(i, i + len), false, {}});
          i += len;
        }
      }
      return Status::Ok();
    });
    if (lattice.nodes.capacity() > kKeepLatticeNodes) lattice = mecab::Lattice();
    return status;
  }

 private:
  mecab::Segmenter segmenter_;
  MecabWordOptions options_;
};

bool HasSysDic(const std::string& dir) { return loaders::FileExists(loaders::JoinPath(dir, "sys.dic")); }

// Paths matching a glob pattern, sorted (glob's order).
std::vector<std::string> Glob(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  return out;
}

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

std::unique_ptr<PreTokenizer> MakeMecabPreTokenizer(std::shared_ptr<const mecab::Dictionary> dict,
                                                    MecabWordOptions options) {
  return std::unique_ptr<PreTokenizer>(new MecabPreTokenizer(std::move(dict), options));
}

DictionaryPlaces DictionaryPlaces::Usual() {
  DictionaryPlaces p;
  std::vector<std::string> prefixes;
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    const std::string v = EnvOr(var);
    if (!v.empty()) prefixes.push_back(v);
  }
  const std::string home = EnvOr("HOME");
  if (!home.empty()) prefixes.push_back(home + "/.local");
  prefixes.push_back("/usr/local");
  prefixes.push_back("/usr");
  for (const std::string& prefix : prefixes) {
    for (const char* kind : {"site-packages", "dist-packages"}) {
      for (std::string& d : Glob(prefix + "/lib/python3*/" + kind)) p.python_dirs.push_back(std::move(d));
    }
  }
  p.python_dirs.push_back("/usr/lib/python3/dist-packages");
  p.system_dirs = {"/var/lib/mecab/dic",         "/usr/lib/x86_64-linux-gnu/mecab/dic",
                   "/usr/lib/aarch64-linux-gnu/mecab/dic", "/usr/lib/mecab/dic",
                   "/usr/local/lib/mecab/dic",   "/opt/homebrew/lib/mecab/dic"};
  return p;
}

StatusOr<std::string> FindMecabDictionary(const std::string& option_dir, const std::string& env_dir,
                                          const std::string& mecab_dic, const DictionaryPlaces& places) {
  auto named = [](const std::string& dir, const char* by) -> StatusOr<std::string> {
    if (HasSysDic(dir)) return dir;
    return Status(codes::kModelNotFound, std::string(by) + " names " + dir +
                                             ", which holds no compiled MeCab dictionary (no sys.dic there)");
  };
  if (!option_dir.empty()) return named(option_dir, "the mecabDictionary option");
  if (!env_dir.empty()) return named(env_dir, "WINNOW_MECAB_DICDIR");

  const char* package = nullptr;
  std::vector<const char*> system_names;
  if (mecab_dic == "unidic_lite") {
    package = "unidic_lite";
    system_names = {"unidic"};
  } else if (mecab_dic == "unidic") {
    package = "unidic";
    system_names = {"unidic"};
  } else if (mecab_dic == "ipadic") {
    package = "ipadic";
    system_names = {"ipadic-utf8", "ipadic"};
  } else {
    return Status(codes::kTokenizerUnsupported,
                  "tokenizer_config.json mecab_kwargs.mecab_dic " +
                      (mecab_dic.empty() ? std::string("is not set") : "\"" + mecab_dic + "\" is not one Winnow knows") +
                      " (unidic_lite, unidic, ipadic): name a compiled MeCab dictionary folder with the mecabDictionary "
                      "option or WINNOW_MECAB_DICDIR");
  }
  std::vector<std::string> tried;
  for (const std::string& d : places.python_dirs) {
    const std::string dir = loaders::JoinPath(loaders::JoinPath(d, package), "dicdir");
    if (HasSysDic(dir)) return dir;
    tried.push_back(dir);
  }
  for (const std::string& d : places.system_dirs) {
    for (const char* name : system_names) {
      const std::string dir = loaders::JoinPath(d, name);
      if (HasSysDic(dir)) return dir;
      tried.push_back(dir);
    }
  }
  std::string list;
  for (const std::string& t : tried) list += "\n  " + t;
  return Status(codes::kModelNotFound,
                "no MeCab dictionary for mecab_dic \"" + mecab_dic +
                    "\" (the model was trained with it; another dictionary segments some words differently). "
                    "Install one (Python: pip install " +
                    (mecab_dic == "unidic_lite" ? std::string("unidic-lite") : mecab_dic) +
                    "; Debian: apt-get install unidic-mecab or mecab-ipadic-utf8), or name a compiled dictionary "
                    "folder with the mecabDictionary option or WINNOW_MECAB_DICDIR. Looked in:" +
                    list);
}

StatusOr<std::shared_ptr<const mecab::Dictionary>> OpenMecabDictionary(const std::string& dir) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const mecab::Dictionary>> open;
  char buf[PATH_MAX];
  const std::string key = ::realpath(dir.c_str(), buf) ? std::string(buf) : dir;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = open.find(key); it != open.end()) {
    if (auto d = it->second.lock()) return d;
  }
  WINNOW_ASSIGN_OR_RETURN(std::shared_ptr<const mecab::Dictionary> d, mecab::Dictionary::Open(dir));
  open[key] = d;
  return d;
}

}  // namespace winnow::tok::slow
