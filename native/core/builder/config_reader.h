// Typed reads of config.json for the builder: a missing key takes the transformers default given, a wrong type or
// a value out of range is codes::kConfigInvalid naming the file and key.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace winnow::builder {

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& config, std::string path) : j_(config), path_(std::move(path)) {}
  StatusOr<int64_t> Int(const std::string& key, int64_t fallback, int64_t min = 1, int64_t max = 1 << 20) const;
  // A key that must be there.
  StatusOr<int64_t> RequiredInt(const std::string& key, int64_t min = 1, int64_t max = 1 << 20) const;
  StatusOr<double> Number(const std::string& key, double fallback) const;
  StatusOr<std::string> String(const std::string& key, const std::string& fallback) const;
  StatusOr<bool> Bool(const std::string& key, bool fallback) const;
  const nlohmann::json& json() const { return j_; }
  const std::string& path() const { return path_; }
  Status Invalid(const std::string& key, const std::string& why) const;

 private:
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace winnow::builder
