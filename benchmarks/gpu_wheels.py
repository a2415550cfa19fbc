"""Wheels for a GPU machine without network: metarl's requirements that its image lacks.

    python benchmarks/gpu_wheels.py                 # fill .whl/ (bash benchmarks/gpu_suite.sh
                                                    # --download-wheels runs this)
    python benchmarks/gpu_wheels.py --all --max-mb 200

Downloads pyproject.toml's dependencies except torch (the machine brings its own CUDA build) with
everything they need, as wheels for the machine's Python (3.12 by default) on manylinux x86_64,
and keeps those the image does not ship (IMAGE_PROVIDES). It then checks that the wheels and the
working tree together fit in what a run can carry (`--max-mb`). On the machine,
benchmarks/gpu_suite.py installs from them with pip, which takes from the wheels only what the
machine's own packages do not already satisfy.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The Python packages the GPU machine's image ships (its package list, besides torch and the
# CUDA libraries): their wheels are left out of .whl/ to stay inside the 64 MiB a run can carry
# (scipy and mujoco 3's single wheel alone are 59 MiB). The install step checks on the machine that
# every requirement is met there and names whatever is missing.
IMAGE_PROVIDES = frozenset(
    shlex.split(
        "absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs "
        "botorch build certifi charset-normalizer chex click cloudpickle cmake colorama contourpy "
        "coverage cuda-bindings cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython "
        "diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools formulaic "
        "frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub "
        "humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt "
        "jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning "
        "lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py "
        "markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict "
        "multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy "
        "numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime "
        "nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver "
        "nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink "
        "nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript "
        "opencv-python-headless opt-einsum opt-einsum-fx optax optimistix orbax-checkpoint "
        "packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client "
        "propcache protobuf psutil py-cpuinfo pyarrow pybind11 pygments pyparsing pyproject-hooks "
        "pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout "
        "pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu "
        "safetensors scikit-build-core scikit-image scikit-learn scipy seaborn "
        "sentence-transformers sentencepiece setuptools shellingham simplejson six "
        "sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server "
        "tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torch-geometric "
        "torchaudio torchdiffeq torchmetrics torchvision tqdm transformers treescope triton typer "
        "typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt "
        "xarray xxhash yarl zipp"
    )
)


def manylinux_tags(max_glibc_minor: int) -> list[str]:
    """Every manylinux x86_64 tag a machine with glibc 2.<max_glibc_minor> runs, newest first:
    pip matches platform tags exactly, so each level is named."""
    levels = [f"manylinux_2_{n}_x86_64" for n in range(max_glibc_minor, 4, -1)]
    return [*levels, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


def project_requirements() -> list[str]:
    """pyproject.toml's dependencies without torch (the GPU machine brings its own build)."""
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
    if block is None:
        raise ValueError("pyproject.toml has no `dependencies = [...]` list")
    reqs = re.findall(r'^\s*"([^"]+)"', block.group(1), re.M)
    return [r for r in reqs if re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0] != "torch"]


def download_wheels(args: argparse.Namespace) -> int:
    """Fills .whl/ with the wheels the GPU machine lacks, for its Python and platform."""
    dest: Path = args.wheels
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    requirements = project_requirements()
    staging = Path(tempfile.mkdtemp(prefix="metarl-wheels-"))
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--python-version",
        args.python_version,
        "--implementation",
        "cp",
        *[f"--platform={p}" for p in manylinux_tags(args.glibc_minor)],
        "--dest",
        str(staging),
        "--disable-pip-version-check",
        *requirements,
    ]
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    try:
        if subprocess.call(cmd) != 0:
            print(
                "error: pip download failed (above). It needs an index (PyPI or a mirror) with "
                f"wheels for CPython {args.python_version} on manylinux x86_64 (glibc <= "
                f"2.{args.glibc_minor}); if a package has none, try a higher --glibc-minor.",
                file=sys.stderr,
            )
            return 2
        kept, left = [], []
        for wheel in sorted(staging.glob("*.whl")):
            name = _dist_name(wheel.name)
            if args.all or name not in IMAGE_PROVIDES:
                shutil.move(wheel, dest / wheel.name)
                kept.append(dest / wheel.name)
            else:
                left.append(name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    wheels_mb = sum(w.stat().st_size for w in kept) / 2**20
    tree_mb = _tree_mb()
    for w in kept:
        print(f"  {w.stat().st_size / 2**20:7.2f} MiB  {w.name}")
    if left:
        print(f"Left out (the GPU image ships them): {', '.join(left)}")
    total = wheels_mb + tree_mb
    print(
        f"{len(kept)} wheels, {wheels_mb:.1f} MiB, in {dest}; with the working tree "
        f"({tree_mb:.1f} MiB) {total:.1f} MiB of the {args.max_mb:.0f} MiB a run can carry."
    )
    if total > args.max_mb:
        print(
            f"error: the wheels and the working tree take {total:.1f} MiB, more than the "
            f"{args.max_mb:.0f} MiB a run can carry. Download without --all, or move large "
            "untracked files out of the working tree.",
            file=sys.stderr,
        )
        return 2
    return 0


def _dist_name(filename: str) -> str:
    """The normalised project name of a wheel file name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", filename.split("-")[0]).lower()


def _tree_mb() -> float:
    """What travels besides the wheels: tracked files, and untracked files git does not ignore."""
    listed = _git("ls-files", "--cached", "--others", "--exclude-standard", "-z")
    if listed is None:
        return 0.0
    sizes = [(ROOT / f).stat().st_size for f in listed.split("\0") if f and (ROOT / f).is_file()]
    return sum(sizes) / 2**20


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bash benchmarks/gpu_suite.sh --download-wheels",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("--wheels", type=Path, default=ROOT / ".whl", help="(default: .whl/)")
    parser.add_argument("--python-version", default="3.12", help="the GPU machine's Python")
    parser.add_argument(
        "--all", action="store_true", help="also the wheels the GPU image ships (numpy, ...)"
    )
    parser.add_argument(
        "--glibc-minor",
        type=int,
        default=28,
        help="the newest manylinux level to accept, 2.N (default: 28, what the image runs)",
    )
    parser.add_argument("--max-mb", type=float, default=64.0, help="what a run can carry, MiB")
    return download_wheels(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
