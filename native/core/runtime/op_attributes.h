// Small helpers shared by Winnow's custom operators (com.winnow): their errors and their optional attributes.
#pragma once

#include <optional>
#include <string>

#include "runtime/ort_runtime.h"

namespace winnow::rt {

// An INVALID_ARGUMENT status naming the operator: "com.winnow <op>: <message>".
inline OrtStatusPtr OpError(const char* op, const std::string& message) {
  return Ort::GetApi().CreateStatus(ORT_INVALID_ARGUMENT, (std::string("com.winnow ") + op + ": " + message).c_str());
}

// An attribute the node may leave out: its value, or nullopt when absent.
template <typename T>
std::optional<T> OptionalAttribute(const Ort::ConstKernelInfo& info, const char* name) {
  try {
    return info.GetAttribute<T>(name);
  } catch (const Ort::Exception&) {
    return std::nullopt;
  }
}

}  // namespace winnow::rt
