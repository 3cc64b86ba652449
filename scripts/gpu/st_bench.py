"""sentence-transformers CrossEncoder throughput on the GPU, fp16, for the same pairs Winnow scores.
    python3 scripts/gpu/st_bench.py MODEL_DIR PAIRS_JSON OUT_JSON
PAIRS_JSON: {"sets": {"<name>": [[q, d], ...]}, "batch_sizes": [...]}"""
import json
import sys
import time

import torch
from sentence_transformers import CrossEncoder
import sentence_transformers, transformers

model_dir, pairs_path, out_path = sys.argv[1:4]
spec = json.load(open(pairs_path))
ce = CrossEncoder(model_dir, device="cuda", max_length=512, model_kwargs={"torch_dtype": torch.float16})
results = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "sentence_transformers": sentence_transformers.__version__,
                        "gpu": torch.cuda.get_device_name(0)}, "runs": []}
for name, pairs in spec["sets"].items():
    for bs in spec["batch_sizes"]:
        ce.predict(pairs[: bs * 2], batch_size=bs, show_progress_bar=False)  # warm-up
        torch.cuda.synchronize()
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            scores = ce.predict(pairs, batch_size=bs, show_progress_bar=False)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        results["runs"].append({"set": name, "batch_size": bs, "pairs": len(pairs), "seconds": best,
                                "pairs_per_s": len(pairs) / best, "first_scores": [float(s) for s in scores[:8]]})
        print(json.dumps(results["runs"][-1]), flush=True)
json.dump(results, open(out_path, "w"), indent=1)
