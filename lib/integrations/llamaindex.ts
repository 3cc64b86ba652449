/**
 * LlamaIndex.TS adapters (`winnow-native/llamaindex`, peer dependency @llamaindex/core, which `llamaindex`
 * re-exports): node postprocessors that rerank and prune, and a BaseEmbedding over SentenceEncoder and StaticModel.
 * Thin callers of the public API; the models are loaded by the caller and never disposed here.
 */
import { BaseEmbedding } from '@llamaindex/core/embeddings';
import type { MessageContent } from '@llamaindex/core/llms';
import type { BaseNodePostprocessor } from '@llamaindex/core/postprocessor';
import { MetadataMode, TextNode, type NodeWithScore } from '@llamaindex/core/schema';
import { extractSingleText, extractText } from '@llamaindex/core/utils';
import type { ChunkOptions, CrossEncoder, PruneOptions, PruningEncoder, SentenceEncoder, StaticModel } from '../index';
import { invalidArgument } from '../errors';
import { modelField, optionalInt, optionalNumber } from './common';

function queryText(query: MessageContent | undefined, className: string): string {
  if (query === undefined) throw invalidArgument('a query (postprocessNodes(nodes, query))', `${className} query`, query);
  return extractText(query);
}

export interface WinnowRerankFields {
  /** A loaded CrossEncoder with one output label. */
  model: CrossEncoder;
  /** Nodes kept, best first. Default 3. */
  topN?: number;
  /** Long documents: score them in windows instead of truncating (CrossEncoder rank's `chunk`). */
  chunk?: boolean | ChunkOptions;
}

/**
 * A reranking node postprocessor: the nodes ordered by the cross-encoder's score of their content (MetadataMode.NONE)
 * against the query, the best `topN` kept; each result is { node, score } with the node as given.
 */
export class WinnowRerank implements BaseNodePostprocessor {
  readonly model: CrossEncoder;
  readonly topN: number;
  readonly chunk: boolean | ChunkOptions | undefined;

  constructor(fields: WinnowRerankFields) {
    this.model = modelField(fields, 'WinnowRerank', 'rank');
    this.topN = optionalInt(fields.topN, 'topN') ?? 3;
    this.chunk = fields.chunk;
  }

  async postprocessNodes(nodes: NodeWithScore[], query?: MessageContent): Promise<NodeWithScore[]> {
    const q = queryText(query, 'WinnowRerank');
    const texts = nodes.map((n) => n.node.getContent(MetadataMode.NONE));
    const ranked = await this.model.rank(q, texts, { topK: this.topN, chunk: this.chunk });
    return ranked.map((r) => ({ node: nodes[r.index].node, score: r.score }));
  }
}

export interface WinnowPruneFields {
  /** A loaded PruningEncoder. */
  model: PruningEncoder;
  /** Sentence keep threshold. Default: the model's. */
  threshold?: number;
  /** Drop nodes whose ranking score is below this. Default: keep every node. */
  minScore?: number;
  /** Other prune options (granularity, language, zeroScoreWhenEmpty). */
  pruneOptions?: Omit<PruneOptions, 'threshold' | 'returnSentences' | 'signal' | 'onProgress'>;
}

/**
 * A pruning node postprocessor: each node becomes a TextNode (same id and metadata, plus `compressionRatio` and
 * `keptSpans`) holding what the PruningEncoder keeps of its content for the query, scored with the ranking
 * score, in input order; with `minScore`, nodes below it are dropped. The input nodes are left unmodified.
 */
export class WinnowPrune implements BaseNodePostprocessor {
  readonly model: PruningEncoder;
  readonly threshold: number | undefined;
  readonly minScore: number | undefined;
  readonly pruneOptions: WinnowPruneFields['pruneOptions'];

  constructor(fields: WinnowPruneFields) {
    this.model = modelField(fields, 'WinnowPrune', 'prune');
    this.threshold = optionalNumber(fields.threshold, 'threshold');
    this.minScore = optionalNumber(fields.minScore, 'minScore');
    this.pruneOptions = fields.pruneOptions;
  }

  async postprocessNodes(nodes: NodeWithScore[], query?: MessageContent): Promise<NodeWithScore[]> {
    const q = queryText(query, 'WinnowPrune');
    const texts = nodes.map((n) => n.node.getContent(MetadataMode.NONE));
    const results = await this.model.prune(q, texts, { ...this.pruneOptions, threshold: this.threshold });
    const out: NodeWithScore[] = [];
    results.forEach((r, i) => {
      if (this.minScore !== undefined && r.rankingScore < this.minScore) return;
      const node = nodes[i].node;
      const pruned = new TextNode({
        id_: node.id_,
        text: r.prunedDocument,
        metadata: { ...node.metadata, compressionRatio: r.compressionRatio, keptSpans: r.keptSpans },
        excludedEmbedMetadataKeys: [...node.excludedEmbedMetadataKeys, 'compressionRatio', 'keptSpans'],
        excludedLlmMetadataKeys: [...node.excludedLlmMetadataKeys, 'compressionRatio', 'keptSpans'],
        relationships: node.relationships,
      });
      out.push({ node: pruned, score: r.rankingScore });
    });
    return out;
  }
}

export interface WinnowEmbeddingFields {
  /** A loaded SentenceEncoder (queries and documents get their prompts) or StaticModel. */
  model: SentenceEncoder | StaticModel;
  /** Texts per encode call when LlamaIndex embeds nodes. Default LlamaIndex's (10). */
  embedBatchSize?: number;
}

/**
 * A LlamaIndex BaseEmbedding over a SentenceEncoder (getQueryEmbedding uses encodeQuery, text embeddings
 * encodeDocument, so the model's prompts apply) or a StaticModel (encode for both).
 */
export class WinnowEmbedding extends BaseEmbedding {
  readonly model: SentenceEncoder | StaticModel;

  constructor(fields: WinnowEmbeddingFields) {
    super();
    this.model = modelField(fields, 'WinnowEmbedding', 'encode');
    const size = optionalInt(fields.embedBatchSize, 'embedBatchSize');
    if (size !== undefined) this.embedBatchSize = size;
    // A property in BaseEmbedding (not a method): replaced here so that a batch is one encode call.
    this.getTextEmbeddings = async (texts: string[]) => {
      const m = this.model;
      const e = 'encodeDocument' in m ? await m.encodeDocument(texts) : await m.encode(texts);
      return e.toArrays();
    };
  }

  async getTextEmbedding(text: string): Promise<number[]> {
    const m = this.model;
    return Array.from('encodeDocument' in m ? await m.encodeDocument(text) : await m.encode(text));
  }

  override async getQueryEmbedding(query: Parameters<BaseEmbedding['getQueryEmbedding']>[0]): Promise<number[] | null> {
    // LlamaIndex passes { type: 'text', text }; a plain string is taken as the text.
    const text = typeof query === 'string' ? query : extractSingleText(query);
    if (!text) return null; // an image: not embedded here
    const m = this.model;
    return Array.from('encodeQuery' in m ? await m.encodeQuery(text) : await m.encode(text));
  }
}
