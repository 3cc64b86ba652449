#!/usr/bin/env bash
# Runs both fuzz targets for [seconds] each (default 300), concurrently (one core each).
# Working corpora: build-fuzz/corpus-{json,encode} (seeded from fuzz/seeds/); crashes, leaks and
# timeouts land in build-fuzz/artifacts/; logs in build-fuzz/{json,encode}.log.
#   fuzz/run.sh 300            # both targets, 5 min each
#   TARGETS=encode fuzz/run.sh 60
#   TARGETS=onnx fuzz/run.sh 300  # the graph rewrite (not in the default set)
#   TARGETS=torch fuzz/run.sh 300 # the pytorch_model.bin reader (not in the default set)
#   TARGETS=mecab fuzz/run.sh 300 # the MeCab dictionary reader (not in the default set)
#   TARGETS=spm fuzz/run.sh 300   # the sentencepiece model reader (not in the default set); seeds also
#                                 # test/fixtures/tokenizers/spm
set -uo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-300}
B=${WINNOW_FUZZ_BUILD:-$PWD/build-fuzz}
TARGETS=${TARGETS:-"json encode"}
mkdir -p "$B/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pids=()
for t in $TARGETS; do
  mkdir -p "$B/corpus-$t"
  if [[ $t == json ]]; then extra=(-max_len=350000 -dict=fuzz/tokenizer.dict)
  elif [[ $t == mecab ]]; then extra=(-max_len=300000)
  else extra=(-max_len=4096); fi
  bin="$B/tokenizer_${t}_fuzzer"
  seeds=("fuzz/seeds/$t")
  [[ $t == onnx ]] && bin="$B/graph_rewrite_fuzzer"
  if [[ $t == torch ]]; then bin="$B/torch_checkpoint_fuzzer"; extra=(-max_len=16384 -dict=fuzz/torch.dict); fi
  [[ $t == mecab ]] && bin="$B/mecab_dict_fuzzer"
  if [[ $t == spm ]]; then
    bin="$B/sentencepiece_fuzzer"
    extra=(-max_len=300000)
    seeds+=(test/fixtures/tokenizers/spm)
  fi
  "$bin" "$B/corpus-$t" "${seeds[@]}" "${extra[@]}" \
      -max_total_time="$SECS" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$B/artifacts/$t-" >"$B/$t.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for t in $TARGETS; do
  echo "== $t: $(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$B/$t.log" | tail -1)"
  grep -E 'stat::|ERROR|INVARIANT|SUMMARY' "$B/$t.log" | head -20
done
ls "$B/artifacts" 2>/dev/null | sed 's/^/artifact: /'
exit $rc
