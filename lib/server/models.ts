// The models a server or a job serves: each loaded once through the public API, with what the routes need to know
// about it (its task, labels, tokenizer) read from its folder.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CrossEncoder, PruningEncoder, SentenceEncoder, StaticModel, Tokenizer } from '../index';
import { resolveModelDir } from '../hub-cache';
import { invalidArgumentText, winnowError } from '../errors';

/** What a model is served for: reranking (one label), classification (several), embeddings, or pruning. */
export type Task = 'rerank' | 'classify' | 'embed' | 'prune';
export const TASKS: readonly Task[] = ['rerank', 'classify', 'embed', 'prune'];

export type AnyModel = CrossEncoder | SentenceEncoder | StaticModel | PruningEncoder;

export interface ServedModel {
  /** The name clients select it by (`model` in Cohere, OpenAI and Jina bodies). */
  name: string;
  /** The folder or hub id as given. */
  id: string;
  /** The folder it was read from (a hub id resolved in the local cache). */
  dir: string;
  task: Task;
  model: AnyModel;
  tokenizer: Tokenizer;
  /** Longest input in tokens, special tokens included. */
  maxLength: number;
  /** config.json id2label in label order ('LABEL_0' for a one-label reranker). */
  labels: string[];
  /** What `info` prints: the class, the ONNX file or checkpoint, architecture. */
  describe(): Record<string, unknown>;
}

export interface ModelSpec {
  name: string;
  id: string;
  task?: Task;
}

export interface LoadSettings {
  threads?: number;
  device?: 'cpu' | 'cuda' | 'auto';
  /** Native calls allowed at once per model (the library's `concurrency`). */
  concurrency?: number;
  /** Concurrent calls on a transformer model share batches (the library's `batchAcrossCalls`, default true). */
  batchAcrossCalls?: boolean;
  revision?: string;
}

/** `name=dir` or a bare dir (named by its last path part); an optional `:task` suffix after a name picks the task. */
export function parseModelSpec(text: string): ModelSpec {
  let name: string | undefined;
  let id = text;
  let task: Task | undefined;
  const eq = text.indexOf('=');
  if (eq > 0) {
    name = text.slice(0, eq);
    id = text.slice(eq + 1);
    const colon = name.indexOf(':');
    if (colon > 0) {
      const t = name.slice(colon + 1);
      if (!(TASKS as readonly string[]).includes(t)) {
        throw invalidArgumentText(`Expected one of ${TASKS.join(', ')} for the task in model "${text}" but received "${t}"`);
      }
      task = t as Task;
      name = name.slice(0, colon);
    }
  }
  if (id.length === 0) throw invalidArgumentText(`Expected a model folder or hub id in "${text}"`);
  return { name: name ?? (path.basename(path.resolve(id)) || id), id, task };
}

function readJson(file: string): Record<string, any> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw winnowError('CONFIG_INVALID', `${file}: ${(e as Error).message}`);
  }
}

/** The task a folder is for: winnow_pruning.json → prune; a model2vec / StaticEmbedding folder or a sentence-transformers one → embed; a sequence classifier → rerank (classify with several labels). */
export function detectTask(dir: string): Task | 'static' {
  if (existsSync(path.join(dir, 'winnow_pruning.json'))) return 'prune';
  const config = readJson(path.join(dir, 'config.json'));
  const modules = readJson(path.join(dir, 'modules.json'));
  const isStatic = config?.model_type === 'model2vec' ||
    (Array.isArray(modules) && modules.some((m) => typeof m?.type === 'string' && m.type.endsWith('StaticEmbedding')));
  if (isStatic) return 'static';
  const arch: unknown[] = Array.isArray(config?.architectures) ? config!.architectures : [];
  if (arch.some((a) => typeof a === 'string' && a.endsWith('ForSequenceClassification'))) {
    const labels = config?.num_labels ?? (config?.id2label ? Object.keys(config.id2label).length : 1);
    return labels > 1 ? 'classify' : 'rerank';
  }
  return 'embed';
}

function labelsOf(dir: string, count: number): string[] {
  const id2label = readJson(path.join(dir, 'config.json'))?.id2label ?? {};
  return Array.from({ length: count }, (_, i) => (typeof id2label[i] === 'string' ? id2label[i] : `LABEL_${i}`));
}

/** Loads one model for its task (detected from the folder unless the spec names one). */
export async function loadModel(spec: ModelSpec, settings: LoadSettings = {}): Promise<ServedModel> {
  const dir = resolveModelDir(spec.id, settings.revision);
  const detected = detectTask(dir);
  const task: Task = spec.task ?? (detected === 'static' ? 'embed' : detected);
  const common = { threads: settings.threads, concurrency: settings.concurrency, revision: settings.revision };
  const transformer = { ...common, device: settings.device, batchAcrossCalls: settings.batchAcrossCalls };
  const tokenizerFile = [path.join(dir, 'tokenizer.json'), path.join(dir, '0_StaticEmbedding', 'tokenizer.json')].find((f) => existsSync(f));
  const tokenizer = tokenizerFile ? await Tokenizer.fromFile(tokenizerFile) : await Tokenizer.fromPretrained(dir);
  const config = readJson(path.join(dir, 'config.json')) ?? {};
  const base = { name: spec.name, id: spec.id, dir, task, tokenizer };
  const sessionInfo = (m: CrossEncoder | SentenceEncoder | PruningEncoder) => ({
    source: m.source, file: m.file, device: m.device, maxLength: m.maxLength,
    fusedLayerNorms: m.fusedLayerNorms, fusedAttentions: m.fusedAttentions,
  });
  const architecture = { modelType: config.model_type ?? null, architectures: config.architectures ?? null };
  if (detected === 'static' && task === 'embed') {
    const model = await StaticModel.load(dir, { threads: settings.threads, concurrency: settings.concurrency });
    return { ...base, model, maxLength: 512, labels: [],
      describe: () => ({ class: 'StaticModel', file: model.file, dim: model.dim, dtype: model.dtype, normalize: model.normalize, device: 'cpu', ...architecture }) };
  }
  if (task === 'prune') {
    const model = await PruningEncoder.load(dir, transformer);
    return { ...base, model, maxLength: model.maxLength, labels: labelsOf(dir, 1),
      describe: () => ({ class: 'PruningEncoder', ...sessionInfo(model), threshold: model.threshold, ...architecture }) };
  }
  if (task === 'embed') {
    const model = await SentenceEncoder.load(dir, transformer);
    return { ...base, model, maxLength: model.maxLength, labels: [],
      describe: () => ({ class: 'SentenceEncoder', ...sessionInfo(model), dim: model.dim, pooling: model.pooling, normalize: model.normalize,
        prompts: model.prompts, defaultPromptName: model.defaultPromptName, ...architecture }) };
  }
  const model = await CrossEncoder.load(dir, transformer);
  if (task === 'rerank' && model.numLabels !== 1) {
    model.dispose();
    throw invalidArgumentText(`model ${spec.id} has ${model.numLabels} labels: it can classify (task "classify"), not rerank`, 'range');
  }
  // raw_scores are the same model's logits, asked per call (`rawScores`): no second copy.
  return { ...base, model, maxLength: model.maxLength, labels: labelsOf(dir, model.numLabels),
    describe: () => ({ class: 'CrossEncoder', ...sessionInfo(model), numLabels: model.numLabels, activation: model.activation, ...architecture }) };
}

/** Loads several models; their names must differ. */
export async function loadModels(specs: ModelSpec[], settings: LoadSettings = {}): Promise<ServedModel[]> {
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw invalidArgumentText(`two models are named "${s.name}": name them with name=dir`);
    seen.add(s.name);
  }
  const out: ServedModel[] = [];
  try {
    for (const s of specs) out.push(await loadModel(s, settings));
  } catch (e) {
    await disposeModels(out);
    throw e;
  }
  return out;
}

/** Frees the models and their tokenizers. */
export async function disposeModels(models: ServedModel[]): Promise<void> {
  for (const m of models) {
    m.model.dispose();
    m.tokenizer.dispose();
  }
}
