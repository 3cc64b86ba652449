/**
 * LangChain.js adapters (`winnow-native/langchain`, peer dependency @langchain/core): a reranking and a pruning
 * document compressor for ContextualCompressionRetriever, and Embeddings over SentenceEncoder and StaticModel.
 * Thin callers of the public API; the models are loaded by the caller and never disposed here.
 */
import { Document, type DocumentInterface } from '@langchain/core/documents';
import { Embeddings, type EmbeddingsParams } from '@langchain/core/embeddings';
import { BaseDocumentCompressor } from '@langchain/core/retrievers/document_compressors';
import type { ChunkOptions, CrossEncoder, PruneOptions, PruningEncoder, SentenceEncoder, StaticModel } from '../index';
import { modelField, optionalInt, optionalNumber } from './common';

/** The metadata key of the score, as LangChain's CohereRerank names it. */
export const SCORE_KEY = 'relevanceScore';

export interface WinnowRerankerFields {
  /** A loaded CrossEncoder with one output label. */
  model: CrossEncoder;
  /** Documents kept, best first. Default 3 (CohereRerank's default). */
  topN?: number;
  /** Long documents: score them in windows instead of truncating (CrossEncoder rank's `chunk`). */
  chunk?: boolean | ChunkOptions;
}

/**
 * A reranking document compressor: the documents ordered by the cross-encoder's score, the best `topN` kept, each
 * a new Document with the score in metadata under `relevanceScore`. The input documents are left unmodified.
 */
export class WinnowReranker extends BaseDocumentCompressor {
  readonly model: CrossEncoder;
  readonly topN: number;
  readonly chunk: boolean | ChunkOptions | undefined;

  constructor(fields: WinnowRerankerFields) {
    super();
    this.model = modelField(fields, 'WinnowReranker', 'rank');
    this.topN = optionalInt(fields.topN, 'topN') ?? 3;
    this.chunk = fields.chunk;
  }

  override async compressDocuments(documents: DocumentInterface[], query: string): Promise<DocumentInterface[]> {
    const ranked = await this.rerank(documents, query);
    return ranked.map(({ index, relevanceScore }) => {
      const d = documents[index];
      return new Document({ pageContent: d.pageContent, metadata: { ...d.metadata, [SCORE_KEY]: relevanceScore }, id: d.id });
    });
  }

  /** The best `topN` documents (or texts) as { index, relevanceScore }, best first (CohereRerank's rerank). */
  async rerank(documents: ReadonlyArray<DocumentInterface | string>, query: string): Promise<Array<{ index: number; relevanceScore: number }>> {
    const texts = documents.map((d) => (typeof d === 'string' ? d : d?.pageContent));
    const ranked = await this.model.rank(query, texts as string[], { topK: this.topN, chunk: this.chunk });
    return ranked.map((r) => ({ index: r.index, relevanceScore: r.score }));
  }
}

export interface WinnowPrunerFields {
  /** A loaded PruningEncoder. */
  model: PruningEncoder;
  /** Sentence keep threshold. Default: the model's. */
  threshold?: number;
  /** Drop documents whose score (the pruner's ranking score) is below this. Default: keep every document. */
  minScore?: number;
  /** Other prune options (granularity, language, zeroScoreWhenEmpty). */
  pruneOptions?: Omit<PruneOptions, 'threshold' | 'returnSentences' | 'signal' | 'onProgress'>;
}

/**
 * A pruning document compressor: each document's page content becomes what the PruningEncoder keeps of it for the
 * query, in input order, with `relevanceScore` (the ranking score), `compressionRatio` (percent of characters
 * removed) and `keptSpans` ([start, end) in the original page content) in metadata. With `minScore`, documents
 * scoring below it are dropped. The input documents are left unmodified.
 */
export class WinnowPruner extends BaseDocumentCompressor {
  readonly model: PruningEncoder;
  readonly threshold: number | undefined;
  readonly minScore: number | undefined;
  readonly pruneOptions: WinnowPrunerFields['pruneOptions'];

  constructor(fields: WinnowPrunerFields) {
    super();
    this.model = modelField(fields, 'WinnowPruner', 'prune');
    this.threshold = optionalNumber(fields.threshold, 'threshold');
    this.minScore = optionalNumber(fields.minScore, 'minScore');
    this.pruneOptions = fields.pruneOptions;
  }

  override async compressDocuments(documents: DocumentInterface[], query: string): Promise<DocumentInterface[]> {
    const texts = documents.map((d) => d?.pageContent);
    const results = await this.model.prune(query, texts as string[], { ...this.pruneOptions, threshold: this.threshold });
    const out: DocumentInterface[] = [];
    results.forEach((r, i) => {
      if (this.minScore !== undefined && r.rankingScore < this.minScore) return;
      const d = documents[i];
      const metadata = { ...d.metadata, [SCORE_KEY]: r.rankingScore, compressionRatio: r.compressionRatio, keptSpans: r.keptSpans };
      out.push(new Document({ pageContent: r.prunedDocument, metadata, id: d.id }));
    });
    return out;
  }
}

export interface WinnowEmbeddingsFields extends EmbeddingsParams {
  /** A loaded SentenceEncoder (queries and documents get their prompts) or StaticModel. */
  model: SentenceEncoder | StaticModel;
}

/**
 * LangChain Embeddings over a SentenceEncoder (embedQuery uses encodeQuery and embedDocuments encodeDocument, so
 * the model's query and document prompts apply) or a StaticModel (encode for both). Vectors are number[].
 */
export class WinnowEmbeddings extends Embeddings {
  readonly model: SentenceEncoder | StaticModel;

  constructor(fields: WinnowEmbeddingsFields) {
    const { model, ...params } = fields ?? ({} as WinnowEmbeddingsFields);
    super(params);
    this.model = modelField(fields, 'WinnowEmbeddings', 'encode');
  }

  override async embedDocuments(documents: string[]): Promise<number[][]> {
    const m = this.model;
    const e = 'encodeDocument' in m ? await m.encodeDocument(documents) : await m.encode(documents);
    return e.toArrays();
  }

  override async embedQuery(document: string): Promise<number[]> {
    const m = this.model;
    const e = 'encodeQuery' in m ? await m.encodeQuery(document) : await m.encode(document);
    return Array.from(e);
  }
}
