// Hub ids in `load`: a repository the user has already downloaded with huggingface_hub (`hf download`,
// sentence-transformers, transformers) is found in the local Hugging Face cache, so
// `CrossEncoder.load('cross-encoder/ms-marco-MiniLM-L-6-v2')` works as it does in Python. Winnow never downloads.
//
// The cache layout huggingface_hub writes: <cache>/models--<org>--<name>/
//   refs/<branch or tag>      a file holding the commit hash it points to
//   snapshots/<commit hash>/  the repository's files at that commit (links into blobs/)
//   blobs/<etag>              the file contents
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { invalidArgument, invalidArgumentText, winnowError } from './errors';

/** The hub cache folder, as huggingface_hub finds it: HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE; // the older name, still honoured by huggingface_hub
  if (env.HF_HOME) return path.join(env.HF_HOME, 'hub');
  return path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'huggingface', 'hub');
}

// A repository name part as the hub allows it: letters, digits, '-', '_', '.', not starting or ending with '-' or
// '.', no '--' or '..' (so an id never climbs out of the cache folder).
const PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;

/** `org/name` or a bare `name`, as the hub spells repository ids; null for anything else. */
export function parseHubId(id: string): string[] | null {
  const parts = id.split('/');
  if (parts.length > 2 || !parts.every((p) => PART.test(p) && !p.includes('--') && !p.includes('..'))) return null;
  return parts;
}

const COMMIT = /^[0-9a-f]{40}$/;

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

// The files under `dir`, relative to it and sorted (refs may nest: refs/pr/1); 'none' when there are none.
function listing(dir: string): string {
  const names: string[] = [];
  const walk = (sub: string) => {
    let entries;
    try {
      entries = readdirSync(path.join(dir, sub), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(path.join(sub, e.name));
      else names.push(path.join(sub, e.name));
    }
  };
  walk('');
  return names.length ? names.sort().join(', ') : 'none';
}

/**
 * The folder to load: `dir` itself when it exists (or does not look like a hub id), else the snapshot of hub id
 * `dir` at `revision` (a branch, a tag or a commit hash; default 'main') in the local Hugging Face cache.
 * Errors: MODEL_NOT_FOUND naming the cache folder and what it holds; INVALID_ARGUMENT for a revision given with a
 * local folder.
 */
export function resolveModelDir(dir: string, revision: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (revision === '') throw invalidArgument('a branch, tag or commit hash', 'revision', revision);
  const parts = existsSync(dir) ? null : parseHubId(dir);
  if (!parts) {
    if (revision !== undefined) {
      throw invalidArgumentText(`revision ${JSON.stringify(revision)} applies to hub ids in the local Hugging Face cache, but ${dir} is ${existsSync(dir) ? 'a local path' : 'not a hub id'}`, 'range');
    }
    return dir; // a local path: the native loader reports what is missing in it
  }
  const cache = hubCacheDir(env);
  const repo = path.join(cache, `models--${parts.join('--')}`);
  const rev = revision ?? 'main';
  const fetch = `Winnow does not download models: fetch it with huggingface_hub (\`hf download ${dir}${revision ? ` --revision ${revision}` : ''}\`) or pass the folder's path`;
  if (!isDirectory(repo)) {
    throw winnowError(
      'MODEL_NOT_FOUND',
      `model folder ${dir} does not exist, and hub id ${dir} is not in the local Hugging Face cache (no ${repo}). ${fetch}`,
    );
  }
  let commit = rev;
  if (!COMMIT.test(rev)) {
    const ref = path.join(repo, 'refs', ...rev.split('/'));
    if (rev.split('/').some((p) => p === '..' || p === '.' || p === '') || !existsSync(ref)) {
      throw winnowError(
        'MODEL_NOT_FOUND',
        `hub id ${dir} has no revision ${rev} in the local Hugging Face cache (${path.join(repo, 'refs')} holds: ${listing(path.join(repo, 'refs'))}). ${fetch}`,
      );
    }
    commit = readFileSync(ref, 'utf8').trim();
  }
  if (!COMMIT.test(commit)) {
    throw winnowError(
      'MODEL_NOT_FOUND',
      `hub id ${dir}: ${path.join(repo, 'refs', ...rev.split('/'))} names ${JSON.stringify(commit.slice(0, 80))}, not a 40-character commit hash (huggingface_hub writes one; is the cache damaged?). ${fetch}`,
    );
  }
  const snapshot = path.join(repo, 'snapshots', commit);
  if (!isDirectory(snapshot)) {
    let snapshots = 'none';
    try {
      snapshots = readdirSync(path.join(repo, 'snapshots')).sort().join(', ') || 'none';
    } catch {
      // no snapshots folder yet
    }
    throw winnowError(
      'MODEL_NOT_FOUND',
      `hub id ${dir} at revision ${rev} (commit ${commit}) has no snapshot in the local Hugging Face cache (snapshots: ${snapshots}). ${fetch}`,
    );
  }
  return snapshot;
}
