// How far one configuration's scores are from a reference's on the benchmark pairs (queries are runs of `perQuery`
// consecutive pairs, as bench/pairs.mjs makes them): the share of queries whose top 10 is identical (same documents,
// same order), the same as a set, and whose top 1 is the same; and the distribution of |score - reference score|.
export function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))];
}

// Indices of a query's top 10 by score, ties by index.
export function top10(scores, start, n) {
  const idx = Array.from({ length: n }, (_, i) => start + i);
  return idx.sort((a, b) => scores[b] - scores[a] || a - b).slice(0, 10).join(',');
}

export function agreement(ref, got, perQuery) {
  let same = 0, sameSet = 0, sameFirst = 0, queries = 0;
  for (let s = 0; s < ref.length; s += perQuery) {
    const n = Math.min(perQuery, ref.length - s);
    queries++;
    const a = top10(ref, s, n), b = top10(got, s, n);
    if (a === b) same++;
    if (a.split(',').sort().join() === b.split(',').sort().join()) sameSet++;
    if (a.split(',')[0] === b.split(',')[0]) sameFirst++;
  }
  const d = ref.map((x, i) => Math.abs(x - got[i])).sort((a, b) => a - b);
  return {
    top10Identical: same / queries, top10SameSet: sameSet / queries, top1Identical: sameFirst / queries, queries,
    maxAbs: d[d.length - 1], p99Abs: quantile(d, 0.99), medianAbs: quantile(d, 0.5),
  };
}

// Gaps between neighbours' reference scores in each query's top 10, one array per query.
function top10Gaps(ref, perQuery) {
  const out = [];
  for (let s = 0; s < ref.length; s += perQuery) {
    const order = top10(ref, s, Math.min(perQuery, ref.length - s)).split(',').map(Number);
    out.push(order.slice(1).map((j, i) => ref[order[i]] - ref[j]));
  }
  return out;
}

// Median gap between neighbours' reference scores in each query's top 10: how small an error can reorder them.
export function medianTop10Gap(ref, perQuery) {
  return quantile(top10Gaps(ref, perQuery).flat().sort((a, b) => a - b), 0.5);
}

// Each query's smallest gap in its reference top 10, sorted: a configuration whose error exceeds it can swap that
// pair, so the share of queries above an error level bounds the share of top 10s an error that size keeps identical.
export function smallestTop10Gaps(ref, perQuery) {
  return top10Gaps(ref, perQuery).map((g) => Math.min(...g)).sort((a, b) => a - b);
}
