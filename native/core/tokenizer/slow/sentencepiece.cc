#include "tokenizer/slow/sentencepiece.h"

namespace winnow::tok::slow {

// Placeholder until the sentencepiece reader lands: the class is refused with its code.
StatusOr<std::unique_ptr<Tokenizer>> FromSentencePiece(const std::string&, const std::string& model_path,
                                                       const std::string& tokenizer_class, const nlohmann::json&) {
  return Status(codes::kTokenizerUnsupported,
                tokenizer_class + " from " + model_path + ": sentencepiece model files are not read yet");
}

}  // namespace winnow::tok::slow
