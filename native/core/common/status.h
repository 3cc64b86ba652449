// Status / StatusOr: the only way errors leave the core. Exceptions never cross threads.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace winnow {

// Stable error codes. JS sees them as `err.code`; tests assert them.
namespace codes {
inline constexpr const char* kInvalidArgument = "INVALID_ARGUMENT";
inline constexpr const char* kModelNotFound = "MODEL_NOT_FOUND";
inline constexpr const char* kConfigInvalid = "CONFIG_INVALID";
inline constexpr const char* kTokenizerInvalid = "TOKENIZER_INVALID";
inline constexpr const char* kTokenizerUnsupported = "TOKENIZER_UNSUPPORTED";
inline constexpr const char* kOnnxInvalid = "ONNX_INVALID";
inline constexpr const char* kOrtLoadFailed = "ORT_LOAD_FAILED";
inline constexpr const char* kInferenceFailed = "INFERENCE_FAILED";
inline constexpr const char* kQueryTooLong = "QUERY_TOO_LONG";
inline constexpr const char* kSafetensorsInvalid = "SAFETENSORS_INVALID";
// A pytorch_model.bin (zip + pickle) or a weights index that Winnow refuses to read, or weights that do not fit the
// architecture (a missing tensor, a wrong shape).
inline constexpr const char* kCheckpointInvalid = "CHECKPOINT_INVALID";
// A model or adapter Winnow cannot build: an architecture it has no graph for, an adapter type peft has that it
// does not merge.
inline constexpr const char* kModelUnsupported = "MODEL_UNSUPPORTED";
inline constexpr const char* kCudaUnavailable = "CUDA_UNAVAILABLE";
inline constexpr const char* kBf16Unavailable = "BF16_UNAVAILABLE";  // dtype 'bf16' on a CPU without bf16 instructions
inline constexpr const char* kIo = "IO_ERROR";
inline constexpr const char* kAborted = "ABORTED";
inline constexpr const char* kInternal = "INTERNAL";
}  // namespace codes

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(std::string code, std::string message) : code_(std::move(code)), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_.empty(); }
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const { return ok() ? std::string("OK") : code_ + ": " + message_; }

 private:
  std::string code_;
  std::string message_;
};

template <class T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status s) : v_(std::move(s)) {}  // NOLINT: implicit by design
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<Status, T> v_;
};

#define WINNOW_CONCAT_INNER(a, b) a##b
#define WINNOW_CONCAT(a, b) WINNOW_CONCAT_INNER(a, b)

#define WINNOW_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::winnow::Status _winnow_st = (expr);       \
    if (!_winnow_st.ok()) return _winnow_st;    \
  } while (0)

#define WINNOW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#define WINNOW_ASSIGN_OR_RETURN(lhs, expr) \
  WINNOW_ASSIGN_OR_RETURN_IMPL(WINNOW_CONCAT(_winnow_so_, __LINE__), lhs, expr)

}  // namespace winnow
