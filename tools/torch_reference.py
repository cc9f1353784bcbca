#!/usr/bin/env python
"""PyTorch build of IdCycleGAN's training iteration: the speed reference, nothing more.

Benchmark-only, outside the package's dependencies (it imports neither TensorFlow nor
idcg_tf): run from its own venv, see docs/performance.md. `tools/benchmark.py train
--torch-peer PYTHON` starts it with the resolved config and compares the two in one run.

Same layers, widths, kernels, strides, norms and activations as idcg_tf.models (paper Fig. 2,
Sec. 3.1), the same losses (WGAN-GP critics with gradient penalty lambda, cycle L1 gamma,
Model2 pixel identity) and the same step structure: n_critic critic updates, each on a fresh
batch with its own penalty (a second derivative through the critic), then one update of both
translators. Model3's FaceNet term is not built (the speed comparison is on Model1/Model2).
Parameter counts per network are printed so the caller can check the two builds match.

    python tools/torch_reference.py --spec SPEC.json --batch 1 [--iterations 3] [--warmup 1]
    python tools/torch_reference.py --spec SPEC.json --batch 1 --serve

--serve (what `benchmark.py --torch-peer` uses): build once, print {"param_counts": ...}, then
run one iteration per "run" line on stdin and print {"seconds": ..., "peak_rss_bytes": ...}, so
the caller can alternate its iterations with ours and compare each pair under the same machine
load. An "infer GENERATOR BATCH REPEATS" line times that translator's eval forward
(`torch.inference_mode`, BatchNorm in eval mode) on a random batch after one untimed call and
prints {"p50_ms": ..., "p90_ms": ...}.

SPEC.json: {"model": {...}, "loss": {...}, "optimizer": {...}, "train": {...}} as in
config.yaml. JSON on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def time_strides(frames: int, num_strided: int) -> int:
    k = 0
    while k < num_strided and frames % 2 == 0:
        frames //= 2
        k += 1
    return k


class SameConv3d(nn.Conv3d):
    """Conv3d with TF's "same" padding (the odd pixel after: k=4, stride 1 pads 1 before,
    2 after), as idcg_tf's VideoConv."""

    def __init__(self, cin, cout, k, stride):
        super().__init__(cin, cout, k, stride=stride, padding=0)
        pads = []
        for s in reversed(stride):  # F.pad lists the last dim first
            total = max(k - s, 0)
            pads += [total // 2, total - total // 2]
        self.pads = pads

    def forward(self, x):
        return super().forward(F.pad(x, self.pads))


class SameConvTranspose3d(nn.ConvTranspose3d):
    """ConvTranspose3d whose output is input * stride, as TF's "same" Conv3DTranspose: the
    adjoint of the "same" conv, i.e. full transposed conv cropped by that conv's padding."""

    def __init__(self, cin, cout, k, stride):
        super().__init__(cin, cout, k, stride=stride, padding=0)
        self.k, self.s = k, stride

    def forward(self, x):
        y = super().forward(x)
        crops = []
        for dim, s in enumerate(self.s):
            n = x.shape[2 + dim] * s
            before = max(self.k - s, 0) // 2
            crops.append(slice(before, before + n))
        return y[:, :, crops[0], crops[1], crops[2]]


def bn(rank, c):
    return nn.BatchNorm2d(c) if rank == 2 else nn.BatchNorm3d(c)


class Residual(nn.Module):
    """BN-ReLU-Conv3x3-BN-ReLU-Conv3x3 + identity."""

    def __init__(self, rank, c):
        super().__init__()
        conv = (
            (lambda: nn.Conv2d(c, c, 3, padding=1))
            if rank == 2
            else (lambda: SameConv3d(c, c, 3, (1, 1, 1)))
        )
        self.body = nn.Sequential(bn(rank, c), nn.ReLU(), conv(), bn(rank, c), nn.ReLU(), conv())

    def forward(self, x):
        return x + self.body(x)


def encoder(rank, cin, widths, residual_blocks, k, t_strides=0):
    layers, n = [], len(widths)
    for i, w in enumerate(widths):
        if i >= n - 2:
            layers += [Residual(rank, cin) for _ in range(residual_blocks)]
        if rank == 2:
            layers.append(nn.Conv2d(cin, w, k, stride=2, padding=(k - 2) // 2))
        else:
            layers.append(SameConv3d(cin, w, k, (2 if i < t_strides else 1, 2, 2)))
        layers += [bn(rank, w), nn.ReLU()]
        cin = w
    return nn.Sequential(*layers)


def decoder(rank, cin, widths, channels, k, t_strides=0):
    outs, layers = list(widths) + [channels], []
    n = len(outs)
    for i, w in enumerate(outs):
        if rank == 2:
            layers.append(nn.ConvTranspose2d(cin, w, k, stride=2, padding=(k - 2) // 2))
        else:
            layers.append(SameConvTranspose3d(cin, w, k, (2 if i >= n - t_strides else 1, 2, 2)))
        if i < n - 1:
            layers += [bn(rank, w), nn.ReLU()]
        cin = w
    layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class ImageToVideo(nn.Module):
    def __init__(self, m):
        super().__init__()
        k = time_strides(m["frames"], len(m["image_encoder_widths"]))
        self.t0 = m["frames"] // 2**k
        self.enc = encoder(
            2, m["channels"], m["image_encoder_widths"], m["residual_blocks"], m["kernel_size"]
        )
        self.dec = decoder(
            3,
            m["image_encoder_widths"][-1] // self.t0,
            m["video_decoder_widths"],
            m["channels"],
            m["kernel_size"],
            k,
        )

    def forward(self, x):  # (N, C, H, W) -> (N, C, T, H, W)
        z = self.enc(x)
        n, c, s, _ = z.shape
        # Channels (t0, c / t0) -> time, as VideoDecoder._unfold.
        z = z.reshape(n, self.t0, c // self.t0, s, s).transpose(1, 2)
        return self.dec(z)


class VideoToImage(nn.Module):
    def __init__(self, m):
        super().__init__()
        k = time_strides(m["frames"], len(m["video_encoder_widths"]))
        t0 = m["frames"] // 2**k
        self.enc = encoder(
            3, m["channels"], m["video_encoder_widths"], m["residual_blocks"], m["kernel_size"], k
        )
        self.dec = decoder(
            2,
            t0 * m["video_encoder_widths"][-1],
            m["image_decoder_widths"],
            m["channels"],
            m["kernel_size"],
        )

    def forward(self, x):  # (N, C, T, H, W) -> (N, C, H, W)
        z = self.enc(x)
        n, c, t, s, _ = z.shape
        return self.dec(z.transpose(1, 2).reshape(n, t * c, s, s))


class Critic(nn.Module):
    """Strided convs, LayerNorm over all of a sample's features, LeakyReLU(0.2), linear to one
    score. The video critic follows `task.model.video_critic_form` (idcg_tf.models.critics): "paper"
    and "ivgan" add a fifth conv to one channel; "ivgan" also normalises the first conv and
    activates the fifth; the image critic is the "four_conv" pattern in 2D."""

    def __init__(self, rank, m, widths, size, frames=None):
        super().__init__()
        k = m["kernel_size"]
        form = m.get("video_critic_form", "four_conv") if rank == 3 else "four_conv"
        conv_widths = tuple(widths) + (() if form == "four_conv" else (1,))
        normalized = range(len(widths)) if form == "ivgan" else range(1, len(widths))
        last = len(conv_widths) - 1
        activated = range(last) if form == "paper" else range(last + 1)
        t_strides = time_strides(frames, len(conv_widths)) if rank == 3 else 0
        layers, cin, t = [], m["channels"], frames
        for i, w in enumerate(conv_widths):
            size //= 2
            if rank == 2:
                layers.append(nn.Conv2d(cin, w, k, stride=2, padding=(k - 2) // 2))
                shape = (w, size, size)
            else:
                st = 2 if i < t_strides else 1
                t //= st
                layers.append(SameConv3d(cin, w, k, (st, 2, 2)))
                shape = (w, t, size, size)
            if i in normalized:
                layers.append(nn.LayerNorm(shape))
            if i in activated:
                layers.append(nn.LeakyReLU(0.2))
            cin = w
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.linear = nn.Linear(int(torch.tensor(shape).prod()), 1)

    def forward(self, x):
        return self.linear(self.body(x))


def gradient_penalty(critic, real, fake):
    eps = torch.rand([real.shape[0]] + [1] * (real.dim() - 1))
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grads,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grads.flatten(1).square().sum(1).add(1e-12).sqrt() - 1).square()


@contextlib.contextmanager
def frozen(*nets):
    """The nets' parameters need no gradient inside (their inputs' gradients still flow)."""
    params = [p for net in nets for p in net.parameters()]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class Iteration:
    def __init__(self, spec, batch):
        task, t, opt = spec["task"], spec["trainer"], spec["optimizer"]
        m, self.lo = task["model"], task["loss"]
        self.variant, self.n_critic, self.batch = task["variant"], t["n_critic"], batch
        r, c, f = m["resolution"], m["channels"], m["frames"]
        self.g_y, self.g_x = ImageToVideo(m), VideoToImage(m)
        self.c_x = Critic(2, m, m["image_critic_widths"], r)
        self.c_y = Critic(3, m, m["video_critic_widths"], r, f)
        adam = dict(lr=opt["learning_rate"], betas=(opt["beta_1"], opt["beta_2"]))
        self.opt_g = torch.optim.Adam([*self.g_y.parameters(), *self.g_x.parameters()], **adam)
        self.opt_c = torch.optim.Adam([*self.c_x.parameters(), *self.c_y.parameters()], **adam)
        # One random batch, repeated, as the TF benchmark's synthetic input.
        self.images = torch.rand(batch, c, r, r) * 2 - 1
        self.clips = torch.rand(batch, c, f, r, r) * 2 - 1

    def param_counts(self):
        count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
        return {
            "image_to_video": count(self.g_y),
            "video_to_image": count(self.g_x),
            "image_critic": count(self.c_x),
            "video_critic": count(self.c_y),
        }

    def critic_step(self):
        x, y = self.images, self.clips
        with torch.no_grad():
            fake_y, fake_x = self.g_y(x), self.g_x(y)
        loss = (self.c_x(fake_x) - self.c_x(x)).mean() + (self.c_y(fake_y) - self.c_y(y)).mean()
        gp = gradient_penalty(self.c_x, x, fake_x) + gradient_penalty(self.c_y, y, fake_y)
        loss = loss + self.lo["gradient_penalty_weight"] * gp.mean()
        self.opt_c.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_c.step()
        return loss.item()

    def generator_step(self):
        # Only the translators step: no weight gradients for the critics (as TF's tape, which
        # differentiates the generator loss with respect to the translators' variables only).
        with frozen(self.c_x, self.c_y):
            return self._generator_step()

    def _generator_step(self):
        x, y = self.images, self.clips
        fake_y, fake_x = self.g_y(x), self.g_x(y)
        rec_x, rec_y = self.g_x(fake_y), self.g_y(fake_x)
        loss = (
            -self.c_y(fake_y).mean()
            - self.c_x(fake_x).mean()
            + self.lo["cycle_weight"] * ((rec_x - x).abs().mean() + (rec_y - y).abs().mean())
        )
        if self.variant == "model2":
            loss = loss + self.lo["pixel_identity_weight"] * (
                (fake_y - x[:, :, None]).square().mean() + (y - fake_x[:, :, None]).square().mean()
            )
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.item()

    def run(self):
        for _ in range(self.n_critic):
            critic = self.critic_step()
        return critic, self.generator_step()


def current_rss_bytes() -> int | None:
    """Resident memory now (Linux: VmRSS of /proc/self/status). The same reading as
    idcg_tf.benchmark.timing.rss_bytes, repeated here: this script imports nothing of idcg_tf."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def infer_latency(it: Iteration, generator: str, batch: int, repeats: int) -> dict:
    """p50/p90 milliseconds of one translator's eval forward at `batch`."""
    net = {"image_to_video": it.g_y, "video_to_image": it.g_x}[generator]
    source = it.images if generator == "image_to_video" else it.clips
    x = torch.rand(batch, *source.shape[1:]) * 2 - 1
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            net(x)  # untimed: first-call allocation and kernel choice
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                net(x)
                times.append((time.perf_counter() - start) * 1e3)
    finally:
        net.train(was_training)
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))],
    }


def serve(it: Iteration) -> None:
    """The --serve loop: one reply line per command line on stdin."""
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["infer"]:
            generator, batch, repeats = words[1], int(words[2]), int(words[3])
            print(json.dumps(infer_latency(it, generator, batch, repeats)), flush=True)
            continue
        if words != ["run"]:
            break
        start = time.perf_counter()
        losses = it.run()
        print(
            json.dumps(
                {
                    "seconds": time.perf_counter() - start,
                    "finite": all(v == v and abs(v) != float("inf") for v in losses),
                    "peak_rss_bytes": peak_rss_bytes(),
                }
            ),
            flush=True,
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--spec", required=True, help="JSON file: the config's task/trainer/optimizer sections"
    )
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="one iteration per 'run' line on stdin (see the docstring)",
    )
    args = parser.parse_args(argv)
    with open(args.spec) as f:
        spec = json.load(f)
    if spec["task"]["variant"] == "model3":
        print(
            f"{args.spec}: model3 (FaceNet identity term) is not built by the PyTorch "
            "reference; compare with model1 or model2",
            file=sys.stderr,
        )
        return 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rss_runtime = current_rss_bytes()
    it = Iteration(spec, args.batch)
    rss_stages = {"runtime": rss_runtime, "networks_and_optimizer": current_rss_bytes()}
    if args.serve:
        print(
            json.dumps(
                {
                    "framework": f"torch {torch.__version__}",
                    "threads": torch.get_num_threads(),
                    "mkldnn": torch.backends.mkldnn.is_available(),
                    "param_counts": it.param_counts(),
                    # Adam's slots appear at its first step here (Keras makes them up front).
                    "rss_stages_bytes": rss_stages,
                }
            ),
            flush=True,
        )
        serve(it)
        return 0
    for i in range(args.warmup):
        start = time.perf_counter()
        it.run()
        print(
            f"torch warmup {i + 1}/{args.warmup}: {time.perf_counter() - start:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    seconds, losses = [], None
    for i in range(args.iterations):
        start = time.perf_counter()
        losses = it.run()
        seconds.append(time.perf_counter() - start)
        print(
            f"torch iteration {i + 1}/{args.iterations}: {seconds[-1]:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    print(
        json.dumps(
            {
                "framework": f"torch {torch.__version__}",
                "threads": torch.get_num_threads(),
                "mkldnn": torch.backends.mkldnn.is_available(),
                "batch": args.batch,
                "iteration_seconds_all": seconds,
                "iteration_seconds": statistics.median(seconds),
                "param_counts": it.param_counts(),
                "finite_losses": all(v == v and abs(v) != float("inf") for v in losses),
                "peak_rss_bytes": peak_rss_bytes(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
