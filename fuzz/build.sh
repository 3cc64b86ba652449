#!/usr/bin/env bash
# Builds the libFuzzer targets (ASan + UBSan) into build-fuzz/:
#   tokenizer_json_fuzzer    (mode 1: tokenizer.json candidates -> Tokenizer::FromJson + encode)
#   tokenizer_encode_fuzzer  (mode 2: texts encoded by the real tokenizers, invariants checked)
#   graph_rewrite_fuzzer     (ONNX ModelProto bytes -> the layer-norm and attention fusions of rewrite/graph_rewrite.h)
#   torch_checkpoint_fuzzer  (pytorch_model.bin bytes, or a data.pkl alone -> checkpoint/torch_checkpoint.h)
#   mecab_dict_fuzzer        (sys.dic / unk.dic / char.bin / matrix.bin bytes -> mecab::Dictionary::Open + segmentation)
#   sentencepiece_fuzzer     (sentencepiece .model bytes -> tokenizer/slow's conversion, FromJson + encode)
# Needs clang with libFuzzer: apt-get install -y clang-19 libclang-rt-19-dev (CXX=... to override).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${WINNOW_FUZZ_BUILD:-$ROOT/build-fuzz}
CXX=${CXX:-$(command -v clang++-19 || command -v clang++-16 || command -v clang++-14 || command -v clang++)}
JOBS=${JOBS:-2}
mkdir -p "$OUT/obj"
FLAGS=(-std=c++20 -O1 -g -fno-omit-frame-pointer
       -fsanitize=address,undefined -fno-sanitize-recover=undefined -Wno-deprecated-declarations
       -I"$ROOT/native/core" -DPCRE2_CODE_UNIT_WIDTH=8 -DUTF8PROC_STATIC)
# Core sources, instrumented for coverage (fuzzer-no-link) so libFuzzer sees their edges.
objs=()
onnx_objs=()  # the graph rewrite fuzzer's: native/core/onnx and native/core/rewrite
torch_objs=()  # the checkpoint fuzzer's: native/core/checkpoint and what it uses of loaders/ and common/
mecab_objs=()  # the MeCab dictionary fuzzer's: native/core/mecab and common/mmap
pids=()
for src in "$ROOT"/native/core/tokenizer/*.cc "$ROOT"/native/core/tokenizer/slow/sentencepiece.cc "$ROOT"/native/core/onnx/*.cc "$ROOT"/native/core/rewrite/*.cc \
           "$ROOT"/native/core/checkpoint/*.cc "$ROOT"/native/core/loaders/safetensors.cc "$ROOT"/native/core/loaders/model_folder.cc "$ROOT"/native/core/common/mmap.cc \
           "$ROOT"/native/core/mecab/*.cc; do
  obj="$OUT/obj/$(basename "${src%.cc}").o"
  case "$src" in
    */tokenizer/*) objs+=("$obj") ;;
    */onnx/*|*/rewrite/*) objs+=("$obj"); onnx_objs+=("$obj") ;;
    */mecab/*) mecab_objs+=("$obj") ;;
    */common/mmap.cc) torch_objs+=("$obj"); mecab_objs+=("$obj") ;;
    *) torch_objs+=("$obj") ;;
  esac
  if [[ ! -f "$obj" || "$src" -nt "$obj" || "$0" -nt "$obj" ]] || \
     [[ -n "$(find "$ROOT/native/core/tokenizer" "$ROOT/native/core/common" "$ROOT/native/core/onnx" "$ROOT/native/core/rewrite" "$ROOT/native/core/checkpoint" "$ROOT/native/core/loaders" "$ROOT/native/core/mecab" -name '*.h' -newer "$obj" -o -name '*.inc' -newer "$obj" | head -1)" ]]; then
    "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
    pids+=($!)
    if (( ${#pids[@]} >= JOBS )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
LIBS=(/usr/lib/x86_64-linux-gnu/libutf8proc.a /usr/lib/x86_64-linux-gnu/libpcre2-8.a -lpthread)
for mode in 1 2; do
  name=$([[ $mode == 1 ]] && echo tokenizer_json_fuzzer || echo tokenizer_encode_fuzzer)
  "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer -DWINNOW_FUZZ_MODE=$mode "$ROOT/fuzz/tokenizer_fuzzer.cc" "${objs[@]}" "${LIBS[@]}" -o "$OUT/$name"
  echo "built $OUT/$name"
done
"$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "$ROOT/fuzz/graph_rewrite_fuzzer.cc" "${onnx_objs[@]}" -o "$OUT/graph_rewrite_fuzzer"
echo "built $OUT/graph_rewrite_fuzzer"
"$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "$ROOT/fuzz/torch_checkpoint_fuzzer.cc" "${torch_objs[@]}" -o "$OUT/torch_checkpoint_fuzzer"
echo "built $OUT/torch_checkpoint_fuzzer"
"$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "$ROOT/fuzz/mecab_dict_fuzzer.cc" "${mecab_objs[@]}" -o "$OUT/mecab_dict_fuzzer"
echo "built $OUT/mecab_dict_fuzzer"
"$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "$ROOT/fuzz/sentencepiece_fuzz.cc" "${objs[@]}" "${LIBS[@]}" -o "$OUT/sentencepiece_fuzzer"
echo "built $OUT/sentencepiece_fuzzer"
