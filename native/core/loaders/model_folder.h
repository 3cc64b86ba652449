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

// The real path of `path` (symbolic links and .. resolved) when it exists and lies inside `real_folder` (itself a
// real path, as realpath gives it); nullopt otherwise. `direct`: only entries directly in the folder count, not
// ones in its subfolders.
std::optional<std::string> RealPathInside(const std::string& real_folder, const std::string& path, bool direct = false);

// A path that a model folder's own config names (`name`, relative to `dir`; `what` names the file and key, e.g.
// "winnow_pruning.json model"), joined to `dir`. A model folder may come from anywhere, so it must not make Winnow
// open files outside it: an absolute name, one that climbs out with .., or one that leads outside through a
// symbolic link once resolved is codes::kConfigInvalid. The one exception is the Hugging Face cache's layout, where
// every file of a snapshot (models--org--name/snapshots/<rev>/) links into the same repository's blobs/ folder.
// A name that does not exist (yet) is returned joined, for the caller to report as missing.
StatusOr<std::string> ConfigPath(const std::string& dir, const std::string& name, const std::string& what);

// Reads and parses a JSON file. Missing file: codes::kModelNotFound (or nullopt when optional);
// unparsable: `invalid_code` with the file path and parser message.
StatusOr<nlohmann::json> ReadJson(const std::string& path, const char* invalid_code);
StatusOr<std::optional<nlohmann::json>> ReadOptionalJson(const std::string& path, const char* invalid_code);

// Reads a whole file. codes::kIo on failure.
StatusOr<std::string> ReadFile(const std::string& path);

// Typed accessors for config.json fields: wrong types give codes::kConfigInvalid naming the file, the key and the
// value found.
StatusOr<std::optional<int64_t>> GetInt(const nlohmann::json& j, const std::string& key, const std::string& file);
// An integer field that must lie in [min, max] (sizes, lengths, counts): a value outside is codes::kConfigInvalid
// too, naming the value as written (not as it would wrap in a size_t).
StatusOr<std::optional<int64_t>> GetIntInRange(const nlohmann::json& j, const std::string& key, const std::string& file,
                                               int64_t min, int64_t max);
// A JSON value as written, cut to about 40 characters, for messages.
std::string JsonText(const nlohmann::json& value);
StatusOr<std::optional<std::string>> GetString(const nlohmann::json& j, const std::string& key, const std::string& file);

}  // namespace winnow::loaders
