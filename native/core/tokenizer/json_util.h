// Path-aware readers for tokenizer.json: every error names the JSON path of the offending value.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/model.h"

namespace winnow::tok::json_util {

using json = nlohmann::json;

inline std::string Key(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }
inline std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// Sequence normalizers / pre-tokenizers / decoders / post-processors nest at most this deep (real files
// nest one level). The loaders recurse per level and each level carries its JSON path, so the bound
// keeps both the stack and the path strings small.
inline constexpr int kMaxSequenceDepth = 64;

inline Status CheckSequenceDepth(int depth, const std::string& path) {
  if (depth < kMaxSequenceDepth) return Status::Ok();
  return InvalidAt(path, "Sequence nested more than " + std::to_string(kMaxSequenceDepth) + " levels deep");
}

inline const char* TypeName(const json& v) { return v.type_name(); }

// Fetches j[key] if present and not null; returns nullptr otherwise.
inline const json* Find(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

inline Status ExpectObject(const json& j, const std::string& path) {
  if (!j.is_object()) return InvalidAt(path, std::string("expected an object, got ") + TypeName(j));
  return Status::Ok();
}

inline Status GetBool(const json& j, const char* key, const std::string& path, bool* out) {
  const json* v = Find(j, key);
  if (!v) return Status::Ok();
  if (!v->is_boolean()) return InvalidAt(Key(path, key), std::string("expected a boolean, got ") + TypeName(*v));
  *out = v->get<bool>();
  return Status::Ok();
}

inline Status GetString(const json& j, const char* key, const std::string& path, std::string* out, bool required = false) {
  const json* v = Find(j, key);
  if (!v) return required ? InvalidAt(Key(path, key), "missing required string") : Status::Ok();
  if (!v->is_string()) return InvalidAt(Key(path, key), std::string("expected a string, got ") + TypeName(*v));
  *out = v->get<std::string>();
  return Status::Ok();
}

inline Status GetUint(const json& j, const char* key, const std::string& path, uint64_t* out, bool required = false,
                      uint64_t max = std::numeric_limits<uint32_t>::max()) {
  const json* v = Find(j, key);
  if (!v) return required ? InvalidAt(Key(path, key), "missing required integer") : Status::Ok();
  if (!v->is_number_integer() || (v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() < 0))
    return InvalidAt(Key(path, key), std::string("expected a non-negative integer, got ") + v->dump());
  uint64_t x = v->get<uint64_t>();
  if (x > max) return InvalidAt(Key(path, key), "value " + std::to_string(x) + " is out of range (at most " + std::to_string(max) + ")");
  *out = x;
  return Status::Ok();
}

inline Status ToId(const json& v, const std::string& path, int32_t* out) {
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0) ||
      v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
    return InvalidAt(path, std::string("expected a token id (non-negative integer), got ") + v.dump());
  *out = static_cast<int32_t>(v.get<uint64_t>());
  return Status::Ok();
}

// Reads j["type"] as a string; `*type` is empty when the key is absent.
inline Status GetType(const json& j, const std::string& path, std::string* type) {
  WINNOW_RETURN_IF_ERROR(ExpectObject(j, path));
  return GetString(j, "type", path, type);
}

inline Status Unsupported(const std::string& path, const std::string& type) {
  return UnsupportedAt(Key(path, "type"), "\"" + type + "\"");
}

// json::parse with the nesting bounded (tokenizer.cc): codes::kTokenizerInvalid naming the JSON path of the first
// container nested too deep, or the parser's message.
Status ParseJson(std::string_view text, json* root);

}  // namespace winnow::tok::json_util
