// Model folders as users download them from the Hugging Face hub.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace winnow::loaders {

bool FileExists(const std::string& path);
bool DirExists(const std::string& path);
std::string JoinPath(const std::string& a, const std::string& b);

// codes::kModelNotFound for a model folder that is not a folder: "does not exist", or, when `dir` is a file, that
// the folder holding it is what to pass (and, for an .onnx file, the file option to name it).
Status MissingModelFolder(const std::string& dir);

// Finds the ONNX file in `dir`. With `file` empty: model.onnx, then onnx/model.onnx. With `file`
// set (e.g. "model_quantized.onnx" or "onnx/model_fp16.onnx"): dir/file, then dir/onnx/file; an absolute `file`
// is taken as it is.
// Error codes::kModelNotFound lists every path tried.
StatusOr<std::string> ResolveOnnxFile(const std::string& dir, const std::string& file);

// Reads and parses a JSON file. Missing file: codes::kModelNotFound (or nullopt when optional);
// unparsable: `invalid_code` with the file path and parser message.
StatusOr<nlohmann::json> ReadJson(const std::string& path, const char* invalid_code);
StatusOr<std::optional<nlohmann::json>> ReadOptionalJson(const std::string& path, const char* invalid_code);

// Reads a whole file. codes::kIo on failure.
StatusOr<std::string> ReadFile(const std::string& path);

// Typed accessors for config.json fields: wrong types give codes::kConfigInvalid naming the key.
StatusOr<std::optional<int64_t>> GetInt(const nlohmann::json& j, const std::string& key, const std::string& file);
StatusOr<std::optional<std::string>> GetString(const nlohmann::json& j, const std::string& key, const std::string& file);

}  // namespace winnow::loaders
