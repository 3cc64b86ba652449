import os from 'node:os';
// Renders the cross-encoder section of docs/benchmark.md from a results object, and swaps it into the
// file while keeping every other section (one `## ` section per benchmark).
export const TITLE = '## Cross-encoder reranking (issue #2)';

const HEADER = `# Benchmarks

Each benchmark is data (\`bench/cross-encoder/trials.mjs\`) plus one driver per library (\`bench/cross-encoder/drivers/\`); every
(driver, trial) runs in a fresh \`node\` process. Raw results go to \`bench/results/<date>.json\`
(git-ignored); the tables below are written by \`bench/cross-encoder/run.mjs\`. One section per benchmark.

\`\`\`sh
sudo apt-get install python3-torch python3-onnx   # only to generate the benchmark models
cd bench && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install && npm run bench   # needs the addon built at the root (npm run build); the skips keep both onnxruntime-node versions from downloading CUDA files
\`\`\`
`;

const f = (x, d = 1) => (x === undefined ? '–' : x.toFixed(d));

export function renderSection(r) {
  const { env, pairs, flops, roof, roofEstimate: est } = r;
  const rows = [];
  for (const t of r.trials) {
    const kind = t.file.includes('quantized') ? 'int8' : 'fp32';
    for (const run of r.runs.filter((x) => x.trial === t.name)) {
      if (!run.pairsPerS) {
        rows.push(`| ${kind} | ${run.driver} | ${run.skipped ? 'not run: ' + run.skipped : 'failed: ' + run.failed} | | | | | |`);
        continue;
      }
      const diff = run.maxAbsDiffVsRef === undefined ? 'reference' : run.maxAbsDiffVsRef.toExponential(1);
      rows.push(`| ${kind} | ${run.name} | ${f(run.pairsPerS)} | ${f(run.rankMedianMs, 0)} | ${f(run.rankP90Ms, 0)} | ${f(run.loadMs, 0)} | ${f(run.rssMB, 0)} | ${diff} |`);
    }
    rows.push(`| ${kind} | *compute roof* (${f(roof.mix[kind], 0)} ${kind === 'int8' ? 'GOP' : 'GFLOP'}/s × unpadded FLOPs) | ${f(est[kind].pairsPerS)} | ${f(est[kind].rankMs, 0)} | | | | |`);
  }
  // Each library's fp32 / int8 pairs/s as a share of that roof.
  const shares = r.trials.map((t) => {
    const kind = t.file.includes('quantized') ? 'int8' : 'fp32';
    const parts = r.runs.filter((x) => x.trial === t.name && x.pairsPerS).map((x) => `${x.name} ${f((100 * x.pairsPerS) / est[kind].pairsPerS, 0)} %`);
    return `${kind}: ${parts.join(', ')}`;
  }).join('; ');
  const versions = Object.entries(env.versions).map(([k, v]) => `${k} ${v}`).join(', ');
  const p = pairs.padding;
  const loads = r.runs.filter((x) => x.loadavg).map((x) => x.loadavg[0]);
  const cores = os.cpus().length;
  // Measured before, between and after the model runs; the best counts (older results files have one measurement).
  const ms = roof.measurements ?? [];
  const roofSpread = ms.length > 1
    ? `, the best of ${ms.length} measurements taken before, between and after the model runs (both row counts; fp32 ${f(Math.min(...ms.map((m) => m.fp32)), 0)}–${f(Math.max(...ms.map((m) => m.fp32)), 0)} GFLOP/s, int8 ${f(Math.min(...ms.map((m) => m.int8)), 0)}–${f(Math.max(...ms.map((m) => m.int8)), 0)} GOP/s)`
    : '';
  const shapes = roof.shapes.map((s) => `${s.kind} ${s.shape} ${f(s.gflops, 0)}`).join('; ');
  const reused = [...new Set(r.runs.filter((x) => x.reused).map((x) => x.name))];
  const note = reused.length ? `Rows for ${reused.join(', ')} come from an earlier invocation the same day (\`run.mjs --only\` merges them); the roof is from the latest one.\n` : '';
  return `${TITLE}

Scoring (query, document) pairs with a MiniLM-L6-H384 cross-encoder (\`bench/models/minilm-ce\`: the real
architecture and tokenizer with random weights, see [fixtures.md](fixtures.md); the speed is that of the real
model, the scores mean nothing). Same model file, same pairs, batch size ${env.batch} and ${env.threads} intra-op threads
in every library.

- **Date** ${env.date}; **machine** ${env.machine}; **Node** ${env.node}.
- **Versions** ${versions}. Winnow loads its own ONNX Runtime (1.29.0); transformers.js 4.3.1 pins and loads
  onnxruntime-node 1.30.0.
- **Pairs** ${pairs.n} from DBpedia-Entity (queries with their first 16 judged documents, qrels order; document
  text \`title. text\`): mean ${f(p.pairs.meanTokens)} tokens, max ${p.pairs.maxTokens}. \`rank\`: query \`${pairs.rankQuery}\`
  with its first 100 judged documents (mean ${f(p.rank.meanTokens)} tokens, max ${p.rank.maxTokens}).
- **Peers**: transformers.js = \`AutoTokenizer\` with \`text_pair\`, \`padding: true, truncation: true\` +
  \`AutoModelForSequenceClassification\` (\`dtype\` fp32 / q8, \`session_options.intraOpNumThreads\`); onnxruntime-node +
  tokenizers = \`encode(query, doc)\` then an \`InferenceSession\` per batch. Both batch in input order, pad to the
  longest pair of each batch and apply the sigmoid; their \`rank\` scores the 100 pairs and sorts.
  Winnow: \`CrossEncoder.load(dir, { threads, batchSize })\`, \`predict\`, \`rank\` (defaults: length-sorted batches of at
  most 1024 padded tokens; at load, residual Add + layer norm fused into Winnow's exact \`com.winnow\` \`LayerNorm\`, \`fuseLayerNorm\` (fp32 and
  int8 files), and each attention block of the fp32 file into ONNX Runtime's Attention op with Q, K and V packed,
  \`fuseAttention\`).
- **Timing**: one untimed pass over all pairs (parity scores, warm-up) and one untimed \`rank\`, then
  ${r.trials[0].pairReps} timed passes over the ${pairs.n} pairs (pairs/s from the median) and ${r.trials[0].rankReps} timed \`rank\` calls
  (median and p90, linear interpolation). Load (ms) and RSS (MiB, after the runs) are per process.
- **Parity**: max |Δ sigmoid score| over all ${pairs.n} pairs against onnxruntime-node + tokenizers. fp32 must agree to
  ~1e-6; int8 graphs quantize activations per tensor over the whole batch (padding included), so an
  implementation that batches differently legitimately gets slightly different int8 scores.

| file | library | pairs/s (${pairs.n} pairs) | rank 100 docs median (ms) | p90 (ms) | load (ms) | RSS (MiB) | max \\|Δscore\\| |
|---|---|---:|---:|---:|---:|---:|---|
${rows.join('\n')}

**Compute roof.** The pairs need ${f(flops.pairs / 1e9, 0)} GFLOP without padding (${f(100 * flops.linearShare, 1)} % in the linear layers:
per token per layer 2·(4h² + 2h·ffn) = ${f((2 * (4 * roof.h * roof.h + 2 * roof.h * roof.ffn)) / 1e6, 2)} MFLOP, plus 4·T·h for attention, plus pooler
and classifier); the 100 \`rank\` documents need ${f(flops.rank / 1e9, 0)} GFLOP. ONNX Runtime's GEMM on this machine with
${roof.threads} threads (a one-node MatMul / MatMulInteger graph, constant B, ${roof.Ms ? `M = ${roof.Ms.join(' and ')} rows (Winnow's CPU padded-token budget, and batch × mean padded length); best at M = ${roof.Mint8 === undefined || roof.Mint8 === roof.M ? roof.M : `${roof.M} for fp32 and ${roof.Mint8} for int8`}` : `M = ${roof.M} rows ≈ batch × mean padded length`},
onnxruntime-node ${roof.onnxruntimeNode}, \`bench/roof.mjs\`; Q, K and V as one packed GEMM): ${shapes} GFLOP/s (int8: GOP/s, MatMulInteger u8×s8 only,
without the activation quantization); FLOP-weighted over one layer's linear shapes: **${f(roof.mix.fp32)} GFLOP/s fp32, ${f(roof.mix.int8)} GOP/s int8**${roofSpread}.
Roof = needed FLOPs / that rate: a run at the roof spends nothing on padding, tokenization, attention
softmax, layer norms, GELU or glue. Pairs/s as a share of the roof: ${shares}.

**Padding.** Mean padded length per batch of ${env.batch}: ${f(p.pairs.inputOrder.meanPaddedLength)} tokens in input order vs
${f(p.pairs.lengthSorted.meanPaddedLength)} length-sorted (${pairs.n} pairs; mean real length ${f(p.pairs.meanTokens)}): ${f(p.pairs.inputOrder.paddedTokens / p.pairs.realTokens, 2)}× vs
${f(p.pairs.lengthSorted.paddedTokens / p.pairs.realTokens, 2)}× the real tokens. For the 100 \`rank\` documents: ${f(p.rank.inputOrder.meanPaddedLength)} vs ${f(p.rank.lengthSorted.meanPaddedLength)} tokens
(${f(p.rank.inputOrder.paddedTokens / p.rank.realTokens, 2)}× vs ${f(p.rank.lengthSorted.paddedTokens / p.rank.realTokens, 2)}×).

${note}${loads.length ? `**Load.** 1-minute load average ${f(Math.min(...loads))}–${f(Math.max(...loads))} at the start of the measurement processes, on ${cores} cores. The
processes run back to back and each keeps every core busy, so a value up to about ${cores} is the benchmark itself${Math.max(...loads) > cores + 0.5 ? `;
**caveat**: higher values mean other work shared the machine: absolute numbers are low and noisy, ratios between rows run back to back are more telling` : ''}.\n\n` : ''}`;
}

/** percentile with linear interpolation between order statistics (numpy's default) */
export function pct(a, p) {
  const s = [...a].sort((x, y) => x - y);
  const r = (p / 100) * (s.length - 1);
  const lo = Math.floor(r);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (r - lo);
}

/** Swaps the section that starts with `title` (default: the cross-encoder one) for `section`, or appends it. */
export function replaceSection(doc, section, title = TITLE) {
  if (!doc.trim()) return `${HEADER}\n${section}`;
  const start = doc.indexOf(title);
  if (start < 0) return `${doc.trimEnd()}\n\n${section}`;
  const next = doc.indexOf('\n## ', start + title.length);
  return doc.slice(0, start) + (next < 0 ? section : `${section.trimEnd()}\n\n${doc.slice(next + 1)}`);
}
