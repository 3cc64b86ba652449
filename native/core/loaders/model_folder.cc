#include "loaders/model_folder.h"

#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace winnow::loaders {

bool FileExists(const std::string& path) {
  struct stat sb;
  return stat(path.c_str(), &sb) == 0 && S_ISREG(sb.st_mode);
}

bool DirExists(const std::string& path) {
  struct stat sb;
  return stat(path.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode);
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

StatusOr<std::string> ResolveOnnxFile(const std::string& dir, const std::string& file) {
  if (!DirExists(dir)) return Status(codes::kModelNotFound, "model folder " + dir + " does not exist");
  std::vector<std::string> tried;
  if (file.empty()) {
    tried = {JoinPath(dir, "model.onnx"), JoinPath(dir, "onnx/model.onnx")};
  } else {
    tried = {JoinPath(dir, file)};
    if (file.rfind("onnx/", 0) != 0) tried.push_back(JoinPath(dir, "onnx/" + file));
  }
  for (const auto& p : tried)
    if (FileExists(p)) return p;
  std::string msg = "no ONNX model in " + dir + "; tried:";
  for (const auto& p : tried) msg += " " + p;
  return Status(codes::kModelNotFound, msg);
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(codes::kIo, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status(codes::kIo, "error while reading " + path);
  return ss.str();
}

StatusOr<std::optional<nlohmann::json>> ReadOptionalJson(const std::string& path, const char* invalid_code) {
  if (!FileExists(path)) return std::optional<nlohmann::json>();
  WINNOW_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status(invalid_code, path + " is not valid JSON");
  if (!j.is_object()) return Status(invalid_code, path + ": expected a JSON object at the top level");
  return std::optional<nlohmann::json>(std::move(j));
}

StatusOr<nlohmann::json> ReadJson(const std::string& path, const char* invalid_code) {
  WINNOW_ASSIGN_OR_RETURN(auto j, ReadOptionalJson(path, invalid_code));
  if (!j) return Status(codes::kModelNotFound, "missing " + path);
  return std::move(*j);
}

StatusOr<std::optional<int64_t>> GetInt(const nlohmann::json& j, const std::string& key, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return Status(codes::kConfigInvalid, file + ": " + key + " must be an integer");
  return std::optional<int64_t>(it->get<int64_t>());
}

StatusOr<std::optional<std::string>> GetString(const nlohmann::json& j, const std::string& key, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Status(codes::kConfigInvalid, file + ": " + key + " must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

}  // namespace winnow::loaders
