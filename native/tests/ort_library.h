// The ONNX Runtime library the native tests load: WINNOW_ORT_LIBRARY, else the copy `npm run build` puts beside
// the addon.
#pragma once

#include <cstdlib>
#include <string>

namespace winnow::test_support {

inline std::string OrtLibrary() {
  if (const char* env = std::getenv("WINNOW_ORT_LIBRARY"); env && *env) return env;
  return std::string(WINNOW_SOURCE_DIR) + "/build/Release/libwinnow_onnxruntime.so.1";
}

}  // namespace winnow::test_support
