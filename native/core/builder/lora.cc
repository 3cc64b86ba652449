#include "builder/lora.h"

#include <pcre2.h>

#include <cmath>
#include <map>
#include <optional>

#include "checkpoint/checkpoint.h"
#include "loaders/model_folder.h"

namespace winnow::builder {
namespace {

using Json = nlohmann::ordered_json;

std::string Text(const Json& v) {
  std::string t = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  return t.size() > 60 ? t.substr(0, 60) + "..." : t;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

}  // namespace

namespace lora {

// A Python `re` pattern run with PCRE2 (the syntax peft's configs use is common to both), anchored at the start as
// re.match is; `full` also anchors the end (re.fullmatch).
class Pattern {
 public:
  ~Pattern() {
    if (code_) pcre2_code_free(code_);
  }
  static StatusOr<std::shared_ptr<Pattern>> Compile(const std::string& regex, bool full, const std::string& where) {
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(),
                                     PCRE2_ANCHORED | (full ? PCRE2_ENDANCHORED : 0u), &err, &off, nullptr);
    if (!code) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(err, buf, sizeof(buf));
      return Status(codes::kConfigInvalid, where + " is not a regular expression Winnow can run (" +
                                               reinterpret_cast<const char*>(buf) + " at offset " +
                                               std::to_string(off) + ")");
    }
    auto p = std::shared_ptr<Pattern>(new Pattern());
    p->code_ = code;
    p->where_ = where;
    return p;
  }
  // Whether the pattern matches `s`; group 1's text in *group when asked and matched.
  StatusOr<bool> Match(std::string_view s, std::string* group = nullptr) const {
    std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(
        pcre2_match_data_create_from_pattern(code_, nullptr), pcre2_match_data_free);
    std::unique_ptr<pcre2_match_context, void (*)(pcre2_match_context*)> ctx(pcre2_match_context_create(nullptr),
                                                                            pcre2_match_context_free);
    if (!md || !ctx) return Status(codes::kInternal, "out of memory matching " + where_);
    // Module names are short: a pattern needing more steps than this backtracks without end.
    pcre2_set_match_limit(ctx.get(), 1'000'000);
    pcre2_set_depth_limit(ctx.get(), 10'000);
    const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, md.get(), ctx.get());
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(rc, buf, sizeof(buf));
      return Status(codes::kConfigInvalid,
                    where_ + " fails on \"" + std::string(s) + "\": " + reinterpret_cast<const char*>(buf));
    }
    if (group) {
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
      if (rc >= 2 && ov[2] != PCRE2_UNSET) *group = std::string(s.substr(ov[2], ov[3] - ov[2]));
    }
    return true;
  }

 private:
  Pattern() = default;
  pcre2_code* code_ = nullptr;
  std::string where_;
};

namespace {

// Set: present and neither null, false, 0, "" nor empty.
bool Set(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number()) return it->get<double>() != 0;
  if (it->is_string() || it->is_array() || it->is_object()) return !it->empty();
  return true;
}

StatusOr<std::vector<std::string>> Strings(const Json& v, const std::string& what) {
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      return Status(codes::kConfigInvalid, what + "[" + std::to_string(i) + "] must be a string, not " + Text(v[i]));
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

}  // namespace

StatusOr<Config> ParseConfig(const Json& j, const std::string& path) {
  Config c;
  c.path = path;
  const auto bad = [&](const std::string& key, const std::string& want) {
    auto it = j.find(key);
    return Status(codes::kConfigInvalid,
                  path + ": " + key + " must be " + want + ", not " + (it == j.end() ? "absent" : Text(*it)));
  };
  const auto unsupported = [&](const std::string& why) {
    return Status(codes::kModelUnsupported, path + ": " + why + "; Winnow merges plain LoRA adapters only");
  };
  auto type = j.find("peft_type");
  if (type == j.end() || !type->is_string()) return bad("peft_type", "a peft type such as \"LORA\"");
  if (type->get<std::string>() != "LORA")
    return unsupported("peft_type " + Text(*type) + " is not LoRA (merge it with peft's merge_and_unload and save "
                       "the merged model instead)");
  if (Set(j, "use_dora")) return unsupported("use_dora: DoRA rescales each merged weight by a learned magnitude");
  struct Refused {
    const char* key;
    const char* why;
  };
  for (const Refused& r : {Refused{"layer_replication", "layer_replication repeats base layers"},
                           Refused{"target_parameters", "target_parameters puts LoRA on bare parameters"},
                           Refused{"trainable_token_indices", "trainable_token_indices trains single token embeddings"},
                           Refused{"use_qalora", "use_qalora pools the adapter's input"},
                           Refused{"alora_invocation_tokens", "activated LoRA applies only after its invocation tokens"},
                           Refused{"arrow_config", "arrow_config routes between several adapters"},
                           Refused{"use_bdlora", "use_bdlora is a variant of LoRA"},
                           Refused{"kasa_config", "kasa_config is a variant of LoRA"},
                           Refused{"velora_config", "velora_config is a variant of LoRA"},
                           Refused{"monteclora_config", "monteclora_config is a variant of LoRA"}})
    if (Set(j, r.key)) return unsupported(r.why);
  if (auto init = j.find("init_lora_weights"); init != j.end() && !init->is_null() && !init->is_boolean()) {
    const std::string v = init->is_string() ? init->get<std::string>() : Text(*init);
    // These initialisations leave the base weights as they are; pissa, olora, corda, loftq and lora_ga subtract
    // the initial adapter from them (or quantize them), so the adapter only fits the changed base.
    if (v != "gaussian" && v != "eva" && v != "orthogonal")
      return unsupported("init_lora_weights " + Text(*init) +
                         " trains against changed base weights (convert the adapter to plain LoRA with peft's "
                         "path_initial_model_for_weight_conversion first)");
  }

  if (auto r = j.find("r"); r != j.end() && !r->is_null()) {
    if (!r->is_number_integer() || r->get<int64_t>() < 1 || r->get<int64_t>() > (int64_t{1} << 20))
      return bad("r", "a positive integer");
    c.r = r->get<int64_t>();
  }
  if (auto a = j.find("lora_alpha"); a != j.end() && !a->is_null()) {
    if (!a->is_number() || !std::isfinite(a->get<double>())) return bad("lora_alpha", "a number");
    c.alpha = a->get<double>();
  }
  for (auto [key, out] : {std::pair<const char*, bool*>{"use_rslora", &c.rslora}, {"lora_bias", &c.lora_bias}}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_boolean()) return bad(key, "true or false");
    *out = it->get<bool>();
  }
  if (auto b = j.find("bias"); b != j.end() && !b->is_null()) {
    if (!b->is_string() || (*b != "none" && *b != "all" && *b != "lora_only"))
      return bad("bias", "\"none\", \"all\" or \"lora_only\"");
    c.bias = b->get<std::string>();
  }

  // target_modules / exclude_modules: a list of names or one regular expression.
  if (auto t = j.find("target_modules"); t == j.end() || t->is_null() || *t == "all-linear") {
    c.target_all = true;
  } else if (t->is_string()) {
    WINNOW_ASSIGN_OR_RETURN(c.target_regex,
                            Pattern::Compile(t->get<std::string>(), true, path + ": target_modules " + Text(*t)));
  } else if (t->is_array()) {
    WINNOW_ASSIGN_OR_RETURN(c.target_list, Strings(*t, path + ": target_modules"));
  } else {
    return bad("target_modules", "a list of module names or a regular expression");
  }
  if (auto e = j.find("exclude_modules"); e != j.end() && !e->is_null()) {
    if (e->is_string()) {
      WINNOW_ASSIGN_OR_RETURN(c.exclude_regex,
                              Pattern::Compile(e->get<std::string>(), true, path + ": exclude_modules " + Text(*e)));
    } else if (e->is_array()) {
      WINNOW_ASSIGN_OR_RETURN(c.exclude_list, Strings(*e, path + ": exclude_modules"));
    } else {
      return bad("exclude_modules", "a list of module names or a regular expression");
    }
  }
  if (auto m = j.find("modules_to_save"); m != j.end() && !m->is_null()) {
    if (!m->is_array()) return bad("modules_to_save", "a list of module names");
    WINNOW_ASSIGN_OR_RETURN(auto names, Strings(*m, path + ": modules_to_save"));
    // peft puts these names into its regular expressions unescaped; so does Winnow.
    for (const std::string& n : names) {
      WINNOW_ASSIGN_OR_RETURN(auto p, Pattern::Compile("(^|.*\\.)" + n + "($|\\..*)", false,
                                                       path + ": modules_to_save \"" + n + "\""));
      c.modules_to_save.push_back(std::move(p));
    }
  }

  // layers_to_transform (an index or a list) and layers_pattern (the name before the index).
  if (auto l = j.find("layers_to_transform"); l != j.end() && !l->is_null()) {
    if (l->is_number_integer()) {
      c.layers_given = true;
      c.layers.push_back(l->get<int64_t>());
    } else if (l->is_array()) {
      c.layers_given = !l->empty();
      for (const Json& v : *l) {
        if (!v.is_number_integer()) return bad("layers_to_transform", "a layer index or a list of them");
        c.layers.push_back(v.get<int64_t>());
      }
    } else {
      return bad("layers_to_transform", "a layer index or a list of them");
    }
  }
  std::vector<std::string> layer_names;
  if (auto p = j.find("layers_pattern"); p != j.end() && !p->is_null()) {
    if (p->is_string()) {
      if (!p->get<std::string>().empty()) layer_names.push_back(p->get<std::string>());
    } else if (p->is_array()) {
      WINNOW_ASSIGN_OR_RETURN(layer_names, Strings(*p, path + ": layers_pattern"));
    } else {
      return bad("layers_pattern", "a name or a list of names");
    }
  }
  if (layer_names.empty()) {
    WINNOW_ASSIGN_OR_RETURN(auto p, Pattern::Compile(R"(.*?\.[^.]*\.(\d+)\.)", false, path + ": layer index"));
    c.layers_pattern.push_back(std::move(p));
  }
  for (const std::string& n : layer_names) {
    WINNOW_ASSIGN_OR_RETURN(auto p, Pattern::Compile(".*?\\." + n + "\\.(\\d+)\\.", false,
                                                     path + ": layers_pattern \"" + n + "\""));
    c.layers_pattern.push_back(std::move(p));
  }

  // rank_pattern / alpha_pattern: the first key in file order whose pattern ends the module name.
  for (const char* key : {"rank_pattern", "alpha_pattern"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_object()) return bad(key, "an object of module patterns");
    const bool rank = std::string_view(key) == "rank_pattern";
    for (auto e = it->begin(); e != it->end(); ++e) {
      const std::string where = path + ": " + key + "[\"" + e.key() + "\"]";
      WINNOW_ASSIGN_OR_RETURN(auto p, Pattern::Compile("(.*\\.)?(" + e.key() + ")$", false, where));
      if (rank) {
        if (!e->is_number_integer() || e->get<int64_t>() < 1 || e->get<int64_t>() > (int64_t{1} << 20))
          return Status(codes::kConfigInvalid, where + " must be a positive integer, not " + Text(*e));
        c.rank_pattern.emplace_back(std::move(p), e->get<int64_t>());
      } else {
        if (!e->is_number() || !std::isfinite(e->get<double>()))
          return Status(codes::kConfigInvalid, where + " must be a number, not " + Text(*e));
        c.alpha_pattern.emplace_back(std::move(p), e->get<double>());
      }
    }
  }
  return c;
}

StatusOr<bool> Targets(const Config& c, const std::string& module) {
  if (c.exclude_regex) {
    WINNOW_ASSIGN_OR_RETURN(bool hit, c.exclude_regex->Match(module));
    if (hit) return false;
  }
  for (const std::string& e : c.exclude_list)
    if (module == e || EndsWith(module, "." + e)) return false;
  // A module saved whole is never adapted as well.
  for (const auto& m : c.modules_to_save) {
    WINNOW_ASSIGN_OR_RETURN(bool hit, m->Match(module));
    if (hit) return false;
  }
  if (c.target_all) return true;
  if (c.target_regex) return c.target_regex->Match(module);
  for (const std::string& t : c.target_list)
    if (module == t) return true;
  bool found = false;
  for (const std::string& t : c.target_list) found = found || EndsWith(module, "." + t);
  if (!found || !c.layers_given) return found;
  // layers_to_transform: the index after the first layers_pattern that matches (peft's lazy .*?).
  for (const auto& p : c.layers_pattern) {
    std::string index;
    WINNOW_ASSIGN_OR_RETURN(bool hit, p->Match(module, &index));
    if (!hit) continue;
    int64_t n = 0;
    for (char ch : index) n = n > (int64_t{1} << 40) ? n : n * 10 + (ch - '0');
    for (int64_t l : c.layers)
      if (l == n) return true;
    return false;
  }
  return false;
}

StatusOr<Scaling> ScalingOf(const Config& c, const std::string& module) {
  Scaling s{c.r, c.alpha, 0};
  for (const auto& [p, r] : c.rank_pattern) {
    WINNOW_ASSIGN_OR_RETURN(bool hit, p->Match(module));
    if (hit) {
      s.r = r;
      break;
    }
  }
  for (const auto& [p, a] : c.alpha_pattern) {
    WINNOW_ASSIGN_OR_RETURN(bool hit, p->Match(module));
    if (hit) {
      s.alpha = a;
      break;
    }
  }
  s.scale = c.rslora ? s.alpha / std::sqrt(static_cast<double>(s.r)) : s.alpha / static_cast<double>(s.r);
  return s;
}

void AddLowRank(const float* b, const float* a, int64_t out, int64_t r, int64_t in, float scale, bool transposed,
                float* w) {
  std::vector<float> row(static_cast<size_t>(in));
  for (int64_t o = 0; o < out; ++o) {
    std::fill(row.begin(), row.end(), 0.0f);
    for (int64_t k = 0; k < r; ++k) {
      const float bk = b[o * r + k];
      const float* ak = a + k * in;
      for (int64_t i = 0; i < in; ++i) row[static_cast<size_t>(i)] += bk * ak[i];
    }
    // peft: W + (B @ A) * scaling, the product rounded to float32 before it is scaled.
    if (transposed) {
      for (int64_t i = 0; i < in; ++i) w[i * out + o] += row[static_cast<size_t>(i)] * scale;
    } else {
      float* wo = w + o * in;
      for (int64_t i = 0; i < in; ++i) wo[i] += row[static_cast<size_t>(i)] * scale;
    }
  }
}

}  // namespace lora

namespace {

using lora::Config;

StatusOr<Json> ReadAdapterConfig(const std::string& dir) {
  const std::string path = loaders::JoinPath(dir, "adapter_config.json");
  if (!loaders::FileExists(path)) return Status(codes::kModelNotFound, "missing " + path + " (not a peft adapter folder)");
  WINNOW_ASSIGN_OR_RETURN(std::string text, loaders::ReadFile(path));
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status(codes::kConfigInvalid, path + " is not valid JSON");
  if (!j.is_object()) return Status(codes::kConfigInvalid, path + ": expected a JSON object at the top level");
  return j;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t dot; (dot = s.find('.', start)) != std::string::npos; start = dot + 1) out.push_back(s.substr(start, dot - start));
  out.push_back(s.substr(start));
  return out;
}

std::string Join(const std::vector<std::string>& parts, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to; ++i) s += (i > from ? "." : "") + parts[i];
  return s;
}

// The base checkpoint's name for `name` as the trained model called it, whatever prefix each uses: the name itself,
// the name less its first part ("bert." in a task model over a bare BertModel checkpoint), or the one stored name
// ending in "." + name (a bare model's adapter over "bert." / "roberta." / "ranking_model.bert." names).
StatusOr<std::optional<std::string>> BaseName(const Weights& w, const std::string& name) {
  if (w.Has(name)) return std::optional<std::string>(name);
  if (size_t dot = name.find('.'); dot != std::string::npos && w.Has(name.substr(dot + 1)))
    return std::optional<std::string>(name.substr(dot + 1));
  std::optional<std::string> found;
  for (const auto& [stored, t] : w.checkpoint().tensors()) {
    if (!EndsWith(stored, "." + name)) continue;
    if (found)
      return Status(codes::kCheckpointInvalid, "the adapter's " + name + " could be the base's " + *found + " or " +
                                                   stored + " (" + w.checkpoint().source() + ")");
    found = stored;
  }
  return found;
}

// One module's LoRA factors, by the keys they are stored under.
struct LoraModule {
  const checkpoint::Tensor* a = nullptr;
  const checkpoint::Tensor* b = nullptr;
  const checkpoint::Tensor* b_bias = nullptr;
  bool embedding = false;
  std::string a_key, b_key, bias_key;
};

// A tensor the adapter saves whole, under the name the module has in the trained model.
struct Whole {
  const checkpoint::Tensor* t;
  std::string key;
  int rank;  // 0: its own name; 1: under modules_to_save (bias "all" saves both)
};

class Merger {
 public:
  Merger(const Config& cfg, std::string file, const AdapterOptions& options, Weights* w)
      : cfg_(cfg), file_(std::move(file)), options_(options), w_(w) {}

  // Sorts the adapter's tensors: LoRA factors by module, the rest saved whole. Keys are
  // base_model.model.<module>.lora_A[.default].weight as peft writes them (without base_model.model. when
  // transformers' own integration saved the adapter).
  Status Sort(const checkpoint::Checkpoint& adapter) {
    for (const auto& [key, t] : adapter.tensors()) {
      std::string k = key;
      if (k.rfind("base_model.model.", 0) == 0) k = k.substr(17);
      const std::vector<std::string> parts = Split(k);
      size_t i = 0;
      while (i < parts.size() && parts[i].rfind("lora_", 0) != 0) ++i;
      WINNOW_RETURN_IF_ERROR(i < parts.size() ? AddFactor(key, t, parts, i) : AddWhole(key, t, parts));
    }
    if (modules_.empty() && whole_.empty()) return Invalid("holds no LoRA weights");
    return Status::Ok();
  }

  // Saved whole first: a LoRA merge then applies to what the adapter saved (peft loads both, then merges).
  Status PutWhole(AdapterSummary* summary) {
    for (const auto& [name, s] : whole_) {
      WINNOW_ASSIGN_OR_RETURN(auto base, BaseName(*w_, name));
      if (base && w_->Shape(*base) != s.t->shape)
        return Invalid(s.key + " has shape " + ShapeText(s.t->shape) + " but the base's " + *base + " has shape " +
                       ShapeText(w_->Shape(*base)));
      WINNOW_ASSIGN_OR_RETURN(std::vector<float> v, checkpoint::ToFloat(*s.t, s.key));
      // A module the base lacks (a classification head over a bare encoder checkpoint) is added under its name.
      w_->Replace(base.value_or(name), OwnedTensor{s.t->shape, std::move(v)});
      ++summary->replaced;
    }
    return Status::Ok();
  }

  Status MergeAll(AdapterSummary* summary) {
    std::string skipped;
    for (const auto& [module, m] : modules_) {
      if (!m.a || !m.b)
        return Invalid("module " + module + " has " + (m.a ? m.a_key + " but no lora_B" : m.b_key + " but no lora_A"));
      // peft puts LoRA layers only where the config targets; weights for other modules are not loaded.
      WINNOW_ASSIGN_OR_RETURN(bool targeted, lora::Targets(cfg_, module));
      if (!targeted) {
        if (skipped.empty()) skipped = module;
        continue;
      }
      WINNOW_RETURN_IF_ERROR(Merge(module, m));
      ++summary->merged;
    }
    if (!modules_.empty() && summary->merged == 0)
      return Invalid("holds LoRA weights for " + std::to_string(modules_.size()) + " modules (" + skipped +
                     ", ...) but target_modules in adapter_config.json selects none of them");
    return Status::Ok();
  }

 private:
  Status Invalid(const std::string& why) const { return Status(codes::kCheckpointInvalid, file_ + ": " + why); }

  // parts[i] is lora_A / lora_B / lora_embedding_A / lora_embedding_B (or another lora_* name peft has).
  Status AddFactor(const std::string& key, const checkpoint::Tensor& t, const std::vector<std::string>& parts,
                   size_t i) {
    const std::string& kind = parts[i];
    std::vector<std::string> rest(parts.begin() + static_cast<std::ptrdiff_t>(i) + 1, parts.end());
    if (!rest.empty() && rest[0] == "default") rest.erase(rest.begin());
    const std::string module = Join(parts, 0, i);
    if (kind == "lora_magnitude_vector")
      return Status(codes::kModelUnsupported,
                    file_ + ": " + key + " is DoRA's magnitude vector; Winnow merges plain LoRA adapters only");
    const bool linear = kind == "lora_A" || kind == "lora_B";
    const bool embedding = kind == "lora_embedding_A" || kind == "lora_embedding_B";
    const bool weight = linear ? rest.size() == 1 && rest[0] == "weight" : rest.empty();
    const bool bias = kind == "lora_B" && rest.size() == 1 && rest[0] == "bias";
    if (module.empty() || (!linear && !embedding) || (!weight && !bias))
      return Invalid("tensor " + key + " is not a LoRA weight peft writes (<module>.lora_A.weight, "
                     "<module>.lora_B.weight, <module>.lora_embedding_A, ...)");
    LoraModule& m = modules_[module];
    if ((linear && m.embedding) || (embedding && (m.a || m.b) && !m.embedding))
      return Invalid(module + " has both lora_A / lora_B and lora_embedding_A / lora_embedding_B");
    m.embedding = embedding;
    const checkpoint::Tensor** slot = bias ? &m.b_bias : (kind.back() == 'A' ? &m.a : &m.b);
    std::string& slot_key = bias ? m.bias_key : (kind.back() == 'A' ? m.a_key : m.b_key);
    if (*slot) return Invalid("tensors " + slot_key + " and " + key + " are the same LoRA weight");
    *slot = &t;
    slot_key = key;
    return Status::Ok();
  }

  // <module>.<param> with peft's wrappers in the name: a LoRA layer's own parameters under base_layer, a
  // module_to_save's under modules_to_save[.default] beside original_module (the untrained copy, not used).
  Status AddWhole(const std::string& key, const checkpoint::Tensor& t, const std::vector<std::string>& parts) {
    int rank = 0;
    std::vector<std::string> kept;
    for (size_t p = 0; p < parts.size(); ++p) {
      if (parts[p] == "original_module") return Status::Ok();
      if (parts[p] == "base_layer") continue;
      if (parts[p] == "modules_to_save") {
        rank = 1;
        if (p + 1 < parts.size() - 1 && parts[p + 1] == "default") ++p;
        continue;
      }
      if (parts[p] == "token_adapter" || parts[p].rfind("trainable_tokens_", 0) == 0)
        return Status(codes::kModelUnsupported,
                      file_ + ": " + key + " holds trainable tokens; Winnow merges plain LoRA adapters only");
      kept.push_back(parts[p]);
    }
    const std::string name = Join(kept, 0, kept.size());
    auto [it, added] = whole_.try_emplace(name, Whole{&t, key, rank});
    if (added || rank > it->second.rank) return Status::Ok();
    if (rank == it->second.rank) return Invalid("tensors " + it->second.key + " and " + key + " are the same weight");
    it->second = Whole{&t, key, rank};
    return Status::Ok();
  }

  // W += scale * B A into the base weight the module names (and lora_B's bias into its bias with lora_bias).
  Status Merge(const std::string& module, const LoraModule& m) {
    WINNOW_ASSIGN_OR_RETURN(lora::Scaling s, lora::ScalingOf(cfg_, module));
    const std::vector<int64_t>& as = m.a->shape;
    const std::vector<int64_t>& bs = m.b->shape;
    if (!m.embedding && (as.size() > 2 || bs.size() > 2))
      return Status(codes::kModelUnsupported, file_ + ": " + m.a_key + " has shape " + ShapeText(as) +
                                                  ": LoRA on a convolution is not merged by Winnow");
    if (as.size() != 2 || bs.size() != 2 || as[0] != bs[1])
      return Invalid(m.a_key + " " + ShapeText(as) + " and " + m.b_key + " " + ShapeText(bs) +
                     " are not [r, in] and [out, r] of one rank");
    if (as[0] != s.r)
      return Invalid(m.a_key + " has rank " + std::to_string(as[0]) + " but adapter_config.json gives " + module +
                     " r = " + std::to_string(s.r) + " (r / rank_pattern)");
    const std::string weight = module + ".weight";
    WINNOW_ASSIGN_OR_RETURN(auto base, BaseName(*w_, weight));
    if (!base)
      return Invalid("the adapter changes " + module + ", but the base checkpoint (" + w_->checkpoint().source() +
                     ") has no " + weight);
    const int64_t r = as[0], in = as[1], out = bs[0];
    // nn.Linear [out, in]; Conv1D stores [in, out]; an embedding [num, dim] takes (B A)^T with A [r, num].
    const bool transposed = m.embedding || (options_.stored_in_out && options_.stored_in_out(*base));
    const std::vector<int64_t> want = transposed ? std::vector<int64_t>{in, out} : std::vector<int64_t>{out, in};
    if (w_->Shape(*base) != want)
      return Invalid(m.a_key + " " + ShapeText(as) + " and " + m.b_key + " " + ShapeText(bs) + " do not fit " +
                     *base + " " + ShapeText(w_->Shape(*base)) + " (needs " + ShapeText(want) + ")");
    WINNOW_ASSIGN_OR_RETURN(std::vector<float> wv, w_->Floats(*base));
    WINNOW_ASSIGN_OR_RETURN(std::vector<float> av, checkpoint::ToFloat(*m.a, m.a_key));
    WINNOW_ASSIGN_OR_RETURN(std::vector<float> bv, checkpoint::ToFloat(*m.b, m.b_key));
    const float scale = static_cast<float>(s.scale);
    lora::AddLowRank(bv.data(), av.data(), out, r, in, scale, transposed, wv.data());
    w_->Replace(*base, OwnedTensor{want, std::move(wv)});
    // lora_bias: lora_B's bias, scaled, is added to the layer's bias (peft's lora_B has none otherwise).
    if (!m.b_bias || !cfg_.lora_bias || m.embedding) return Status::Ok();
    if (m.b_bias->shape != std::vector<int64_t>{out})
      return Invalid(m.bias_key + " has shape " + ShapeText(m.b_bias->shape) + ", not [" + std::to_string(out) + "]");
    WINNOW_ASSIGN_OR_RETURN(auto bias, BaseName(*w_, module + ".bias"));
    if (!bias) return Invalid(m.bias_key + " (lora_bias) needs a bias in " + module + ", which the base lacks");
    if (w_->Shape(*bias) != std::vector<int64_t>{out})
      return Invalid(*bias + " has shape " + ShapeText(w_->Shape(*bias)) + ", not [" + std::to_string(out) + "]");
    WINNOW_ASSIGN_OR_RETURN(std::vector<float> bias_v, w_->Floats(*bias));
    WINNOW_ASSIGN_OR_RETURN(std::vector<float> lb, checkpoint::ToFloat(*m.b_bias, m.bias_key));
    for (int64_t o = 0; o < out; ++o) bias_v[static_cast<size_t>(o)] += lb[static_cast<size_t>(o)] * scale;
    w_->Replace(*bias, OwnedTensor{{out}, std::move(bias_v)});
    return Status::Ok();
  }

  const Config& cfg_;
  std::string file_;
  const AdapterOptions& options_;
  Weights* w_;
  std::map<std::string, LoraModule> modules_;
  std::map<std::string, Whole> whole_;
};

}  // namespace

Status MergeAdapter(const std::string& adapter_dir, Weights* w, const AdapterOptions& options,
                    AdapterSummary* summary) {
  WINNOW_ASSIGN_OR_RETURN(Json j, ReadAdapterConfig(adapter_dir));
  WINNOW_ASSIGN_OR_RETURN(Config cfg, lora::ParseConfig(j, loaders::JoinPath(adapter_dir, "adapter_config.json")));
  WINNOW_ASSIGN_OR_RETURN(auto adapter, checkpoint::Checkpoint::Open(adapter_dir, checkpoint::Kind::kAdapter));
  Merger merger(cfg, loaders::JoinPath(adapter_dir, adapter->source()), options, w);
  WINNOW_RETURN_IF_ERROR(merger.Sort(*adapter));
  AdapterSummary local;
  if (!summary) summary = &local;
  *summary = AdapterSummary{};
  WINNOW_RETURN_IF_ERROR(merger.PutWhole(summary));
  return merger.MergeAll(summary);
}

}  // namespace winnow::builder
