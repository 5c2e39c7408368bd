#!/bin/sh
# install.sh [EXTRAS] [PIP OPTIONS...]: `pip install -e ".[EXTRAS]"` (default: cpu) into the active Python
# environment, CPU-first. PyPI's Linux torch is the CUDA build, which brings about 6 GB of CUDA libraries that a
# machine without an NVIDIA GPU never uses. So where `nvidia-smi` finds no GPU (and the `gpu` extra was not asked
# for) and PyTorch's CPU index answers, torch and torchvision (the versions pinned in pyproject.toml) come from that
# index first; pip then keeps them, since they satisfy the pins. Where the index cannot be reached, or does not
# have them, say so and install the package index's build.
set -eu
extras="${1:-cpu}"
[ $# -gt 0 ] && shift
cpu_index="${BENCH_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
cd "$(dirname "$0")"

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "install.sh: bench needs Python 3.11 or newer, python3 is $(python3 -V 2>&1): activate such an environment" >&2
  exit 1
fi

case ",$extras," in
  *,gpu,*)
    echo "install.sh: the gpu extra: torch from the package index (its CUDA build)"
    ;;
  *)
    if nvidia-smi -L >/dev/null 2>&1; then
      echo "install.sh: NVIDIA GPU found: torch from the package index (its CUDA build)"
    else
      # the torch and torchvision pins, read from pyproject.toml (one place to change them)
      pins=$(python3 -c 'import re, tomllib; d = tomllib.load(open("pyproject.toml", "rb"))
print(" ".join(r.replace(" ", "") for r in d["project"]["dependencies"] if re.match(r"(torch|torchvision)(?![\w.-])", r)))')
      if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/torch/', timeout=10)" \
          "$cpu_index" 2>/dev/null; then
        echo "install.sh: no NVIDIA GPU: $pins, CPU build, from $cpu_index"
        # shellcheck disable=SC2086  # $pins is a list of requirements
        if ! pip install "$@" $pins --index-url "$cpu_index"; then
          echo "install.sh: $cpu_index answers but could not install $pins: torch comes from the package index" \
            "(its CUDA build, ~6 GB)" >&2
        fi
      else
        echo "install.sh: no NVIDIA GPU, but $cpu_index does not answer: torch comes from the package index" \
          "(its CUDA build, ~6 GB)" >&2
      fi
    fi
    ;;
esac
pip install "$@" -e ".[$extras]"
