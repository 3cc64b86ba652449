// The `score` job: {"query", "document"} lines -> {"score"} (or {"scores"} for a several-label model). Shared by
// `winnow score` and the queue workers, so a queued job's output is the same bytes as a local one's.
import type { ServedModel } from '../server/models';
import { scorePairs } from '../server/ops';
import type { JobSpec } from './jobs';

export type ScorePair = readonly [string, string];

export const str = (v: unknown, field: string): string => {
  if (typeof v !== 'string') throw new Error(`expected a string for "${field}" but received ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
};

/** Reads a score line's pair (throws naming the field it lacks). */
export function parseScoreLine(v: Record<string, unknown>): ScorePair {
  return [str(v.query, 'query'), str(v.document, 'document')] as const;
}

export function scoreSpec(m: ServedModel, rawScores: boolean): JobSpec<ScorePair> {
  return {
    name: 'score',
    parse: parseScoreLine,
    run: async (pairs, signal) => {
      const s = await scorePairs(m, pairs, rawScores, signal);
      const k = s.length / Math.max(1, pairs.length);
      return pairs.map((_, i) => (k === 1 ? { score: s[i] } : { scores: Array.from(s.subarray(i * k, (i + 1) * k)) }));
    },
  };
}
