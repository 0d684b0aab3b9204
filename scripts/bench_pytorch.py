"""CompressAI (PyTorch) side of scripts/bench-vs-pytorch.sh.

Runs the same cases as `nic bench` on CompressAI's FactorizedPrior with nic's architecture
(N=96, M=128, entropy bottleneck filters (3, 3, 3)) and nic's trained weights, exported by
`nic export`, so both sides run the same network and code about the same
number of bits. Each case runs in a fresh process, so its peak memory is its own. With
--nic, prints the ratio table against `nic bench --json`.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

# CompressAI 1.2.8 uses torch.jit.script, which PyTorch 2.15 warns about on import.
warnings.filterwarnings("ignore", category=FutureWarning)


def load_net(weights):
    import numpy as np
    import torch
    from compressai.entropy_models import EntropyBottleneck
    from compressai.models import FactorizedPrior

    with open(os.path.join(weights, "model.json")) as f:
        info = json.load(f)
    n = info["architecture"]["channels"]
    m = info["architecture"]["latent_channels"]
    net = FactorizedPrior(N=n, M=m)
    net.entropy_bottleneck = EntropyBottleneck(m, filters=(3, 3, 3))
    state = net.state_dict()
    loaded = {}
    for name in os.listdir(weights):
        if not name.endswith(".npy"):
            continue
        parts = name[: -len(".npy")].split(".")
        value = torch.from_numpy(np.load(os.path.join(weights, name)))
        loaded[torch_name(parts)] = value
    for key, value in loaded.items():
        if key not in state or state[key].shape != value.shape:
            sys.exit(f"weight {key}: shape {tuple(value.shape)} does not fit CompressAI's model")
        state[key] = value
    missing = [k for k, _ in net.named_parameters() if k not in loaded and not k.endswith("quantiles")]
    if missing:
        sys.exit(f"no nic weights for {missing}")
    net.load_state_dict(state)
    net.update(force=True, update_quantiles=True)
    return net


def torch_name(parts):
    """nic's parameter path → CompressAI's state_dict key."""
    block, kind, index, field = (parts + [None])[:4]
    if block == "prior":  # prior.matrices.0 → entropy_bottleneck.matrices.0
        return f"entropy_bottleneck.{kind}.{index}"
    seq = {"analysis": "g_a", "synthesis": "g_s"}[block]
    i = int(index)
    position = 2 * i if kind in ("convs", "deconvs") else 2 * i + 1
    return f"{seq}.{position}.{field}"


def peak_rss_mib():
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 1024.0 / 1024.0


def mosaic(img, width, height):
    """The picture repeated to fill width × height, every other copy mirrored (as nic bench)."""
    import numpy as np

    h, w, _ = img.shape
    ys = np.arange(height)
    xs = np.arange(width)
    sy = np.where((ys // h) % 2 == 0, ys % h, h - 1 - ys % h)
    sx = np.where((xs // w) % 2 == 0, xs % w, w - 1 - xs % w)
    return img[sy][:, sx]


def run_case(case, args):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    net = load_net(args.weights)
    seconds = []
    result = {"case": case, "threads": torch.get_num_threads(), "torch": torch.__version__}
    if case.startswith("train-"):
        batch, crop = (int(v) for v in case[len("train-"):].split("x"))
        net.train()
        params = [p for n, p in net.named_parameters() if not n.endswith("quantiles")]
        opt = torch.optim.Adam(params, lr=1e-4)
        x = torch.rand(batch, 3, crop, crop)
        lam = 0.0067
        for i in range(args.warmup + args.runs):
            t = time.perf_counter()
            out = net(x)
            pixels = batch * crop * crop
            bpp = torch.log(out["likelihoods"]["y"]).sum() / (-math.log(2) * pixels)
            mse = F.mse_loss(out["x_hat"], x)
            loss = lam * 255**2 * mse + bpp
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            loss.item()
            if i >= args.warmup:
                seconds.append(time.perf_counter() - t)
        result["images_per_second"] = batch / statistics.median(seconds)
    else:
        net.eval()
        img = np.array(Image.open(args.image).convert("RGB"))
        if case.endswith("3072x2048"):
            img = mosaic(img, 3072, 2048)
        h, w, _ = img.shape

        def encode():
            x = torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).float() / 255.0
            ph, pw = (-h) % 16, (-w) % 16
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
            return net.compress(x)

        def decode(enc):
            x_hat = net.decompress(enc["strings"], enc["shape"])["x_hat"]
            x_hat = x_hat[:, :, :h, :w].clamp(0, 1)
            return (x_hat * 255).round().to(torch.uint8).squeeze(0).permute(1, 2, 0).numpy()

        with torch.no_grad():
            enc = encode()
            result["bpp"] = sum(len(s[0]) for s in enc["strings"]) * 8 / (h * w)
            for i in range(args.warmup + args.runs):
                t = time.perf_counter()
                if case.startswith("encode"):
                    encode()
                else:
                    decode(enc)
                if i >= args.warmup:
                    seconds.append(time.perf_counter() - t)
    result["seconds"] = seconds
    result["median_seconds"] = statistics.median(seconds)
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def ratio_table(nic, torch_results):
    """Speed ratio = PyTorch time / nic time (above 1: nic is faster); memory = nic / PyTorch."""
    by_case = {r["case"]: r for r in torch_results}
    lines = [
        f"{'case':<18} {'nic s':>9} {'PyTorch s':>10} {'speed nic/PyTorch':>18} "
        f"{'nic MiB':>8} {'PyTorch MiB':>12} {'memory nic/PyTorch':>19} {'bpp nic':>8} {'bpp PyTorch':>12}"
    ]
    for r in nic:
        p = by_case.get(r["case"])
        if p is None:
            continue
        speed = p["median_seconds"] / r["median_seconds"]
        memory = r["peak_rss_mib"] / p["peak_rss_mib"]
        bpp_n = f"{r['bpp']:.4f}" if r.get("bpp") is not None else "-"
        bpp_p = f"{p['bpp']:.4f}" if p.get("bpp") is not None else "-"
        lines.append(
            f"{r['case']:<18} {r['median_seconds']:>9.4f} {p['median_seconds']:>10.4f} "
            f"{speed:>17.2f}× {r['peak_rss_mib']:>8.0f} {p['peak_rss_mib']:>12.0f} "
            f"{memory:>18.2f}× {bpp_n:>8} {bpp_p:>12}"
        )
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weights", required=True, help="folder written by nic export")
    ap.add_argument("--image", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--cases", required=True,
                    help="comma-separated, as nic bench names them (train-64x32, encode, ...)")
    ap.add_argument("--json", help="write PyTorch's results here")
    ap.add_argument("--nic", help="nic bench --json output: print the ratio table")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print(json.dumps(run_case(args.child, args)))
        return
    results = []
    for case in args.cases.split(","):
        cmd = [sys.executable, __file__, "--child", case, "--cases", case, "--weights", args.weights,
               "--image", args.image, "--threads", str(args.threads),
               "--runs", str(args.runs), "--warmup", str(args.warmup)]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"PyTorch {case}: median {r['median_seconds']:.4f} s, peak {r['peak_rss_mib']:.0f} MiB",
              flush=True)
        results.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.nic:
        with open(args.nic) as f:
            nic = json.load(f)
        print()
        print(ratio_table(nic, results))


if __name__ == "__main__":
    main()
