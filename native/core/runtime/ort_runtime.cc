#include "runtime/ort_runtime.h"

#include <dlfcn.h>

namespace winnow::rt {

namespace {
std::mutex g_mu;
OrtRuntime* g_runtime = nullptr;  // lives for the process: ONNX Runtime must not be unloaded
constexpr size_t kMaxLog = 64;
}  // namespace

StatusOr<OrtRuntime*> OrtRuntime::Get(const std::string& library_path) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_runtime) {
    if (!library_path.empty() && library_path != g_runtime->library_path_) {
      return Status(codes::kOrtLoadFailed, "ONNX Runtime is already loaded from " + g_runtime->library_path_ +
                                               "; a process can use only one ONNX Runtime library (asked for " +
                                               library_path + ")");
    }
    return g_runtime;
  }
  if (library_path.empty()) return Status(codes::kOrtLoadFailed, "no ONNX Runtime library path given");

  dlerror();
  void* handle = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    return Status(codes::kOrtLoadFailed, "could not load ONNX Runtime from " + library_path + ": " +
                                             (err ? err : "unknown dlopen error"));
  }
  using GetApiBaseFn = const OrtApiBase* (*)();
  auto get_api_base = reinterpret_cast<GetApiBaseFn>(dlsym(handle, "OrtGetApiBase"));
  if (!get_api_base) {
    dlclose(handle);
    return Status(codes::kOrtLoadFailed, library_path + " does not export OrtGetApiBase; is it an ONNX Runtime library?");
  }
  const OrtApiBase* base = get_api_base();
  const OrtApi* api = base ? base->GetApi(ORT_API_VERSION) : nullptr;
  if (!api) {
    std::string have = base ? base->GetVersionString() : "?";
    dlclose(handle);
    return Status(codes::kOrtLoadFailed, "ONNX Runtime at " + library_path + " (version " + have +
                                             ") does not provide API version " + std::to_string(ORT_API_VERSION) +
                                             "; Winnow needs ONNX Runtime >= 1." + std::to_string(ORT_API_VERSION));
  }
  Ort::InitApi(api);

  auto* rt = new OrtRuntime();
  rt->handle_ = handle;
  rt->api_base_ = base;
  rt->library_path_ = library_path;
  try {
    rt->env_ = std::make_unique<Ort::Env>(ORT_LOGGING_LEVEL_WARNING, "winnow", &OrtRuntime::LogCallback, rt);
  } catch (const Ort::Exception& e) {
    delete rt;
    return FromOrtException(e, codes::kOrtLoadFailed, "creating the ONNX Runtime environment");
  }
  g_runtime = rt;
  return rt;
}

// Through the loaded base, never Ort::GetVersionString(): that calls OrtGetApiBase directly, a symbol this addon never
// links (ONNX Runtime is dlopen'ed RTLD_LOCAL), so it only resolved when another addon had exported it.
std::string OrtRuntime::version() const { return api_base_->GetVersionString(); }

void OrtRuntime::LogCallback(void* param, OrtLoggingLevel severity, const char* category, const char* logid,
                             const char* code_location, const char* message) {
  auto* self = static_cast<OrtRuntime*>(param);
  if (severity < ORT_LOGGING_LEVEL_WARNING || !message) return;
  std::lock_guard<std::mutex> lock(self->log_mu_);
  if (self->log_.size() >= kMaxLog) self->log_.erase(self->log_.begin());
  self->log_.emplace_back(message);
}

std::vector<std::string> OrtRuntime::TakeRecentLog() {
  std::lock_guard<std::mutex> lock(log_mu_);
  std::vector<std::string> out;
  out.swap(log_);
  return out;
}

std::vector<std::string> OrtRuntime::AvailableProviders() const {
  try {
    return Ort::GetAvailableProviders();
  } catch (const Ort::Exception&) {
    return {};
  }
}

Status FromOrtException(const Ort::Exception& e, const char* code, const std::string& context) {
  return Status(code, context + ": " + e.what());
}

}  // namespace winnow::rt
