"""sentence-transformers' util.semantic_search, as its documentation describes it, on torch: the reference for
bench/semantic-search.mjs. Reads float32 queries and corpus from files, then answers one line of JSON per "run"
on stdin (the call's time in ms); "hits" prints the last call's hits.

  python3 semantic_search_torch.py QUERIES.f32 CORPUS.f32 DIM TOP_K THREADS
"""
import heapq
import json
import sys
import time

import numpy as np
import torch


def cos_sim(a, b):
    return torch.mm(torch.nn.functional.normalize(a, p=2, dim=1), torch.nn.functional.normalize(b, p=2, dim=1).T)


def semantic_search(queries, corpus, top_k=10, query_chunk_size=100, corpus_chunk_size=500000):
    # Scores a block of queries against a block of the corpus at a time, keeps each block's top k with
    # torch.topk, and merges the blocks per query in a heap; hits best first.
    heaps = [[] for _ in range(len(queries))]
    for q0 in range(0, len(queries), query_chunk_size):
        for c0 in range(0, len(corpus), corpus_chunk_size):
            scores = cos_sim(queries[q0:q0 + query_chunk_size], corpus[c0:c0 + corpus_chunk_size])
            values, indices = torch.topk(scores, min(top_k, scores.shape[1]), dim=1, largest=True, sorted=False)
            values, indices = values.tolist(), indices.tolist()
            for i in range(len(values)):
                heap = heaps[q0 + i]
                for v, j in zip(values[i], indices[i]):
                    if len(heap) < top_k:
                        heapq.heappush(heap, (v, c0 + j))
                    else:
                        heapq.heappushpop(heap, (v, c0 + j))
    return [[{'corpus_id': j, 'score': v} for v, j in sorted(h, key=lambda x: x[0], reverse=True)] for h in heaps]


def main():
    qpath, cpath, dim, top_k, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    q = torch.from_numpy(np.fromfile(qpath, dtype=np.float32).reshape(-1, dim))
    c = torch.from_numpy(np.fromfile(cpath, dtype=np.float32).reshape(-1, dim))
    hits = None
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == 'run':
            with torch.inference_mode():
                t = time.perf_counter()
                hits = semantic_search(q, c, top_k)
                ms = (time.perf_counter() - t) * 1000
            print(json.dumps({'ms': ms}), flush=True)
        elif cmd == 'hits':
            print(json.dumps({'hits': [[[h['corpus_id'], h['score']] for h in row] for row in hits]}), flush=True)
        else:
            break


if __name__ == '__main__':
    main()
