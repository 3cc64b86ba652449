// Public face of Winnow's tokenizer: loads a Hugging Face tokenizer.json and encodes exactly as the
// Rust `tokenizers` library does (ids, type ids, special-token mask, offsets).
//
// Contract used by the pipelines (CrossEncoder tokenizes the query once per call with EncodeRaw,
// then joins it with each document through PostProcess):
//   Encode(a, b, opts) == PostProcess(EncodeRaw(a), EncodeRaw(b), opts)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace winnow::tok {

class PreTokenizer;

// One encoded sequence (or a pair joined by the post-processor). All vectors have the same length.
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  std::vector<uint8_t> special_tokens_mask;  // 1 for tokens added by the post-processor / special added tokens
  std::vector<uint8_t> attention_mask;       // 1 for real tokens, 0 for padding
  // Byte offsets [start, end) into the UTF-8 text of the sequence the token came from ((0,0) for
  // added special tokens), as Hugging Face reports them.
  std::vector<std::pair<uint32_t, uint32_t>> offsets;
  // Which input a token came from: 0 (first), 1 (pair), -1 (special added by the post-processor).
  std::vector<int8_t> sequence_ids;
  // Windows cut off by truncation when a stride/overflow was requested.
  std::vector<Encoding> overflowing;
  // Set by EncodeRaw only: token ranges [begin, end) of the splits the model tokenized (added-token
  // splits excluded), in order. PostProcess uses them, when truncating, to stop the sequence after
  // the split that reaches max_length tokens, as tokenizers 0.23 does before truncating (see
  // EarlyStopAtMaxLength in post_processors.h). Empty on encodings built any other way.
  std::vector<std::pair<uint32_t, uint32_t>> model_splits;

  size_t size() const { return ids.size(); }
};

// Largest padding length, pad_to_multiple_of and truncation max_length accepted, from callers
// (INVALID_ARGUMENT) and from tokenizer.json (TOKENIZER_INVALID): well above any model's context,
// and small enough that padding to it allocates a bounded few MB per encoding.
inline constexpr size_t kMaxLengthSetting = size_t{1} << 20;

enum class TruncationStrategy { kLongestFirst, kOnlyFirst, kOnlySecond };
enum class Direction { kRight, kLeft };

struct TruncationOptions {
  size_t max_length = 0;  // 0: no truncation
  TruncationStrategy strategy = TruncationStrategy::kLongestFirst;
  Direction direction = Direction::kRight;
  size_t stride = 0;
  bool keep_overflowing = false;
};

struct PaddingOptions {
  bool enabled = false;
  size_t length = 0;              // 0: pad to the longest in the batch (batch APIs) / no padding (single)
  size_t pad_to_multiple_of = 0;  // 0: off
  Direction direction = Direction::kRight;
  int32_t pad_id = 0;
  int32_t pad_type_id = 0;
};

struct EncodeOptions {
  bool add_special_tokens = true;
  TruncationOptions truncation;
  PaddingOptions padding;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Error codes: kIo (cannot read), kTokenizerInvalid (bad JSON / missing field; message names the
  // JSON path), kTokenizerUnsupported (a component type Winnow does not implement, e.g.
  // `normalizer.normalizers[2].type = "Foo"`).
  static StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);
  static StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view json);
  // For tokenizers built in code from a model's slow files (tokenizer/slow/folder.h): `json` as above, with
  // `leading` (a step no tokenizer.json can name, such as MeCab word segmentation) run before the document's own
  // pre-tokenizer. `leading` may be null.
  static StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view json, std::unique_ptr<PreTokenizer> leading);

  // Added-token splitting + normalizer + pre-tokenizer + model, no post-processor, no truncation.
  // `text` must be valid UTF-8 (the binding converts JS strings, replacing lone surrogates by U+FFFD).
  virtual Status EncodeRaw(std::string_view text, Encoding* out) const = 0;

  // EncodeRaw of as much of `text` as truncation to `max_length` tokens (right side) keeps: after
  // PostProcess with that truncation the result is identical to EncodeRaw(text)'s. Where the
  // pipeline is known to split at an ASCII space after an ASCII letter or digit, a prefix cut at such
  // a space is encoded, growing geometrically until the kept tokens end before its last split;
  // otherwise, and when no such space follows, the whole text. (Not pure: other implementations
  // keep compiling.)
  virtual Status EncodeRawForTruncation(std::string_view text, size_t max_length, Encoding* out) const {
    (void)max_length;
    return EncodeRaw(text, out);
  }

  // Truncation, post-processor (special tokens, type ids), padding. `pair` may be null.
  virtual Status PostProcess(Encoding first, Encoding* pair, const EncodeOptions& opts, Encoding* out) const = 0;

  // EncodeRaw + PostProcess (EncodeRawForTruncation when truncating on the right).
  virtual Status Encode(std::string_view text, const std::string_view* pair, const EncodeOptions& opts,
                        Encoding* out) const = 0;

  // Number of tokens the post-processor adds for a single sequence / a pair.
  virtual size_t NumSpecialTokensToAdd(bool is_pair) const = 0;

  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;
  virtual std::optional<std::string> IdToToken(int32_t id) const = 0;
  virtual size_t VocabSize() const = 0;  // including added tokens
  // Id of the model's unknown token, if it has one.
  virtual std::optional<int32_t> UnkId() const = 0;
  // The padding config from tokenizer.json (`padding` key), if present.
  virtual std::optional<PaddingOptions> DefaultPadding() const = 0;
  // The truncation config from tokenizer.json (`truncation` key), if present. (Added after the
  // original contract; not pure so that other implementations keep compiling.)
  virtual std::optional<TruncationOptions> DefaultTruncation() const { return std::nullopt; }

  virtual Status Decode(const int32_t* ids, size_t n, bool skip_special_tokens, std::string* out) const = 0;
};

// Reads a whole regular file; codes::kIo for a missing or unreadable one and for a FIFO, socket, device or folder
// (refused before any read).
StatusOr<std::string> ReadRegularFile(const std::string& path);

// Converts byte offsets into `text` (valid UTF-8) to UTF-16 code-unit offsets, in place. A byte
// offset inside a char maps to the start of that char (as the reference binding converts them).
void ByteOffsetsToUtf16(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>* offsets);

}  // namespace winnow::tok
