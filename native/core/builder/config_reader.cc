#include "builder/config_reader.h"

#include "loaders/model_folder.h"

namespace winnow::builder {

Status ConfigReader::Invalid(const std::string& key, const std::string& why) const {
  return Status(codes::kConfigInvalid, path_ + ": " + key + " " + why);
}

StatusOr<int64_t> ConfigReader::Int(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
  WINNOW_ASSIGN_OR_RETURN(auto v, loaders::GetIntInRange(j_, key, path_, min, max));
  return v ? *v : fallback;
}

StatusOr<int64_t> ConfigReader::RequiredInt(const std::string& key, int64_t min, int64_t max) const {
  WINNOW_ASSIGN_OR_RETURN(auto v, loaders::GetIntInRange(j_, key, path_, min, max));
  if (!v) return Invalid(key, "is missing (the graph needs it)");
  return *v;
}

StatusOr<double> ConfigReader::Number(const std::string& key, double fallback) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return fallback;
  if (!it->is_number()) return Invalid(key, "must be a number, not " + loaders::JsonText(*it));
  return it->get<double>();
}

StatusOr<std::string> ConfigReader::String(const std::string& key, const std::string& fallback) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return fallback;
  if (!it->is_string()) return Invalid(key, "must be a string, not " + loaders::JsonText(*it));
  return it->get<std::string>();
}

StatusOr<bool> ConfigReader::Bool(const std::string& key, bool fallback) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return Invalid(key, "must be true or false, not " + loaders::JsonText(*it));
  return it->get<bool>();
}

}  // namespace winnow::builder
