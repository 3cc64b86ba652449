#include "loaders/model_folder.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

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

Status MissingModelFolder(const std::string& dir) {
  if (!FileExists(dir)) return Status(codes::kModelNotFound, "model folder " + dir + " does not exist");
  const size_t slash = dir.find_last_of('/');
  std::string folder = slash == std::string::npos ? "." : dir.substr(0, slash == 0 ? 1 : slash);
  const std::string name = dir.substr(slash == std::string::npos ? 0 : slash + 1);
  // A file in onnx/ belongs to the folder above it, where the file option also looks in onnx/.
  if (folder == "onnx") folder = ".";
  else if (folder.size() > 5 && folder.ends_with("/onnx")) folder.resize(folder.size() - 5);
  std::string msg = dir + " is a file, not a model folder: pass the folder that holds config.json and tokenizer.json (" +
                    folder + ")";
  if (name == "model.onnx") {
    msg += ", where model.onnx is found by itself";
  } else if (name.size() > 5 && name.ends_with(".onnx")) {
    msg += ", and name the ONNX file with the file option: { file: '" + name + "' }";
  }
  return Status(codes::kModelNotFound, msg);
}

// The .onnx files directly in `dir` (not its subfolders), sorted; empty when there are none or it cannot be read.
static std::vector<std::string> OnnxFilesIn(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 5 && name.ends_with(".onnx") && FileExists(JoinPath(dir, name)))
      out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

StatusOr<std::string> ResolveOnnxFile(const std::string& dir, const std::string& file) {
  if (!DirExists(dir)) return MissingModelFolder(dir);
  std::vector<std::string> tried;
  if (file.empty()) {
    tried = {JoinPath(dir, "model.onnx"), JoinPath(dir, "onnx/model.onnx")};
  } else if (file.front() == '/') {
    tried = {file};
  } else {
    tried = {JoinPath(dir, file)};
    if (file.rfind("onnx/", 0) != 0) tried.push_back(JoinPath(dir, "onnx/" + file));
  }
  for (const auto& p : tried)
    if (FileExists(p)) return p;
  std::string msg = "no ONNX model in " + dir + "; tried:";
  for (const auto& p : tried) msg += " " + p;
  // Hub repositories often hold several exports (onnx/model_quantized.onnx, model_qint8_avx512.onnx, model_O4.onnx,
  // ...) and a download may have taken only some: name the ones that are there.
  std::vector<std::string> present = OnnxFilesIn(dir);
  for (const std::string& f : OnnxFilesIn(JoinPath(dir, "onnx"))) present.push_back("onnx/" + f);
  if (!present.empty()) {
    msg += ". The folder has";
    for (size_t i = 0; i < present.size(); ++i) msg += (i ? ", " : " ") + present[i];
    msg += ": name one with the file option (e.g. { file: '" + present.front().substr(present.front().rfind('/') + 1) + "' })";
  } else {
    msg += ". The folder has no .onnx file: download the repository's onnx/ folder, or export the model to ONNX "
           "(e.g. with optimum: optimum-cli export onnx --model <model> <folder>)";
  }
  return Status(codes::kModelNotFound, msg);
}

namespace {

std::optional<std::string> RealPath(const std::string& path) {
  if (path.find('\0') != std::string::npos) return std::nullopt;
  char* real = realpath(path.c_str(), nullptr);
  if (!real) return std::nullopt;
  std::string out = real;
  std::free(real);
  return out;
}

// Whether `real` lies inside `real_folder` (both real paths): below it, or directly in it when `direct`.
bool Inside(const std::string& real_folder, const std::string& real, bool direct) {
  const std::string prefix = real_folder.ends_with('/') ? real_folder : real_folder + "/";
  if (real.size() <= prefix.size() || real.compare(0, prefix.size(), prefix) != 0) return false;
  return !direct || real.find('/', prefix.size()) == std::string::npos;
}

}  // namespace

std::optional<std::string> RealPathInside(const std::string& real_folder, const std::string& path, bool direct) {
  std::optional<std::string> real = RealPath(path);
  if (!real || !Inside(real_folder, *real, direct)) return std::nullopt;
  return real;
}

StatusOr<std::string> ConfigPath(const std::string& dir, const std::string& name, const std::string& what) {
  auto refuse = [&](const std::string& why) {
    return Status(codes::kConfigInvalid, what + " names '" + name + "', " + why +
                                             ": a path a model folder's config names must stay inside the folder");
  };
  if (name.find('\0') != std::string::npos) return refuse("which holds a NUL character");
  if (!name.empty() && name.front() == '/') return refuse("an absolute path");
  // Lexically first (so that a name climbing out is refused whether or not its target exists), then the real path.
  int depth = 0;
  for (size_t begin = 0; begin <= name.size();) {
    const size_t end = std::min(name.find('/', begin), name.size());
    const std::string_view part(name.data() + begin, end - begin);
    if (part == "..") {
      if (--depth < 0) return refuse("which leads outside the model folder");
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    begin = end + 1;
  }
  const std::string joined = JoinPath(dir, name);
  std::optional<std::string> real = RealPath(joined);
  if (!real) return joined;
  const std::optional<std::string> real_dir = RealPath(dir);
  if (!real_dir) return Status(codes::kModelNotFound, "model folder " + dir + " does not exist");
  if (*real == *real_dir || Inside(*real_dir, *real, false)) return joined;
  // A Hugging Face cache snapshot: <repo>/snapshots/<rev>/..., whose files link into <repo>/blobs/.
  const size_t rev = real_dir->find_last_of('/');
  if (rev != std::string::npos && rev > 0) {
    const std::string snapshots = real_dir->substr(0, rev);
    if (snapshots.ends_with("/snapshots")) {
      const std::string blobs = snapshots.substr(0, snapshots.size() - 9) + "blobs";
      if (Inside(blobs, *real, true) && FileExists(*real)) return joined;
    }
  }
  return refuse("which leads to " + *real + ", outside the model folder");
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

std::string JsonText(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return text;
}

StatusOr<std::optional<int64_t>> GetInt(const nlohmann::json& j, const std::string& key, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<int64_t>();
  // An unsigned value past int64's range would wrap to a negative one.
  if (!it->is_number_integer() || (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX}))
    return Status(codes::kConfigInvalid, file + ": " + key + " must be an integer, not " + JsonText(*it));
  return std::optional<int64_t>(it->get<int64_t>());
}

StatusOr<std::optional<int64_t>> GetIntInRange(const nlohmann::json& j, const std::string& key, const std::string& file,
                                               int64_t min, int64_t max) {
  WINNOW_ASSIGN_OR_RETURN(auto v, GetInt(j, key, file));
  if (v && (*v < min || *v > max))
    return Status(codes::kConfigInvalid, file + ": " + key + " must be an integer from " + std::to_string(min) +
                                             " to " + std::to_string(max) + ", not " + std::to_string(*v));
  return v;
}

StatusOr<std::optional<std::string>> GetString(const nlohmann::json& j, const std::string& key, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Status(codes::kConfigInvalid, file + ": " + key + " must be a string, not " + JsonText(*it));
  return std::optional<std::string>(it->get<std::string>());
}

}  // namespace winnow::loaders
