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

// Gaps between neighbours' reference scores in each query's top 10, one array per query; `boundary` adds the gap
// between its 10th and 11th documents where the query has an 11th.
function top10Gaps(ref, perQuery, boundary = false) {
  const out = [];
  for (let s = 0; s < ref.length; s += perQuery) {
    const n = Math.min(perQuery, ref.length - s);
    const order = Array.from({ length: n }, (_, i) => s + i).sort((a, b) => ref[b] - ref[a] || a - b);
    const upto = Math.min(n, boundary ? 11 : 10);
    out.push(order.slice(1, upto).map((j, i) => ref[order[i]] - ref[j]));
  }
  return out;
}

// Median gap between neighbours' reference scores in each query's top 10: how small an error can reorder them.
export function medianTop10Gap(ref, perQuery) {
  return quantile(top10Gaps(ref, perQuery).flat().sort((a, b) => a - b), 0.5);
}

// Each query's smallest gap between neighbours in its reference top 10 or between its 10th and 11th documents
// (queries with at least 2 documents), sorted: errors that differ by more than a query's smallest gap can change its
// top 10 (they need not: neighbouring documents' errors are alike in part).
export function smallestTop10Gaps(ref, perQuery) {
  return top10Gaps(ref, perQuery, true).filter((g) => g.length).map((g) => Math.min(...g)).sort((a, b) => a - b);
}
