// Process-wide ONNX Runtime: the library is dlopen'ed at run time (never linked), so one binary works
// with any ABI-compatible core (CPU or CUDA build) and a missing library is an error, not a crash.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

#include <onnxruntime_cxx_api.h>

namespace winnow::rt {

class OrtRuntime {
 public:
  // Loads the library at `library_path` once per process; later calls must name the same library
  // (or pass an empty path to take the loaded one). Errors: codes::kOrtLoadFailed.
  static StatusOr<OrtRuntime*> Get(const std::string& library_path);

  Ort::Env& env() { return *env_; }
  const std::string& library_path() const { return library_path_; }
  std::string version() const;

  // Messages of severity >= warning that ONNX Runtime logged since the last call (newest last).
  // Used to give provider-load failures their real cause.
  std::vector<std::string> TakeRecentLog();

  // Names of the execution providers compiled into the loaded library (e.g. CPUExecutionProvider).
  std::vector<std::string> AvailableProviders() const;

 private:
  OrtRuntime() = default;
  static void LogCallback(void* param, OrtLoggingLevel severity, const char* category, const char* logid,
                          const char* code_location, const char* message);

  void* handle_ = nullptr;
  const OrtApiBase* api_base_ = nullptr;
  std::string library_path_;
  std::unique_ptr<Ort::Env> env_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

// Converts an in-flight ONNX Runtime exception into a Status with the given code.
Status FromOrtException(const Ort::Exception& e, const char* code, const std::string& context);

}  // namespace winnow::rt
