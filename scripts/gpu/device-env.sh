# Sourced on the GPU machine, in the repository root, after `node scripts/gpu/stage.mjs` here and a device
# call that carries .device and dist (see docs/cuda.md, "Running the GPU checks"):
#   source scripts/gpu/device-env.sh && node scripts/gpu/winnow_gpu.mjs ...
# Unpacks the staged ONNX Runtime core and CUDA provider into one folder (ONNX Runtime loads its providers
# from the folder of its core), points Winnow at it, and puts the CUDA 13 / cuDNN 9 libraries of the
# machine's PyTorch wheels on LD_LIBRARY_PATH.
WINNOW_CUDA_DIR=${WINNOW_CUDA_DIR:-/tmp/winnow-cuda}
mkdir -p "$WINNOW_CUDA_DIR"
python3 - "$WINNOW_CUDA_DIR" <<'PY' || return 1 2>/dev/null || exit 1
import lzma, os, shutil, sys
dst = sys.argv[1]
os.makedirs("build/Release", exist_ok=True)
for name, target in (("libwinnow_onnxruntime.so.1", os.path.join(dst, "libwinnow_onnxruntime.so.1")),
                     ("libonnxruntime_providers_cuda.so", os.path.join(dst, "libonnxruntime_providers_cuda.so")),
                     ("winnow.node", "build/Release/winnow.node"),
                     ("pairs.json", ".device/pairs.json"), ("t5-tokenizer.json", ".device/t5-tokenizer.json")):
    if not os.path.exists(target):
        with lzma.open(os.path.join(".device", name + ".xz")) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 24)
        os.chmod(target, 0o755)
shutil.copy(".device/libonnxruntime_providers_shared.so", dst)
print("unpacked into", dst, sorted(os.listdir(dst)), "and build/Release/winnow.node")
PY
export WINNOW_ORT_LIBRARY="$WINNOW_CUDA_DIR/libwinnow_onnxruntime.so.1"
SITE=$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null)
if [ -n "$SITE" ]; then
  export LD_LIBRARY_PATH="$SITE/nvidia/cu13/lib:$SITE/nvidia/cudnn/lib:${LD_LIBRARY_PATH:-}"
fi
command -v node >/dev/null || echo "device-env: no node on this machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
